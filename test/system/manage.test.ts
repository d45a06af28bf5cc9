import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  waitFor,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * `swarm manage` on three real engines, driven by the real docker CLI: the skeleton every other
 * feature hangs on.
 */
describe("swarm manage on 3 engines", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  const regions = ["eu", "us", "eu"];

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const nodeOf = async (container: string) => (await swarm("inspect", "-f", "{{.Node.Name}}", container)).stdout.trim();
  const info = async () => (await swarm("info")).stdout;

  beforeAll(async () => {
    cluster = await startEngines(3, { labels: (i) => ({ region: regions[i]!, rack: `r${i + 1}` }) });
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s", "--engine-failure-retry", "2"],
    });
    await waitForHealthyNodes(manager, 3);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("bounds the heap's growth at 35% by default and says so at start; --heap-growth 0 leaves V8's policy", async () => {
    expect(await manager.logTail(200)).toContain("The JavaScript heap grows at most 35% past its live size between full collections (--heap-growth)");
    const own = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--heap-growth", "0"] });
    try {
      expect(await own.logTail(200)).not.toContain("The JavaScript heap grows");
    } finally {
      await own.stop();
    }
  });

  it("answers /_ping (GET and HEAD) with the negotiation headers", async () => {
    for (const method of ["GET", "HEAD"] as const) {
      const response = await request(`${manager.url}/_ping`, { method });
      expect(response.statusCode).toBe(200);
      expect(response.headers["api-version"]).toBe("1.41");
      expect(response.headers["ostype"]).toBe("linux");
      expect(response.headers["docker-experimental"]).toBe("false");
      const body = await response.body.text();
      expect(body).toBe(method === "GET" ? "OK" : "");
    }
  });

  it("refuses a client version newer than every engine, as dockerd does", async () => {
    const response = await request(`${manager.url}/v1.99/version`);
    expect(response.statusCode).toBe(400);
    expect(await response.body.json()).toEqual({
      message: "client version 1.99 is too new. Maximum supported API version is 1.41",
    });
  });

  it("shows 3 healthy nodes with their labels in docker info", async () => {
    const text = await info();
    expect(text).toContain("Role: primary");
    expect(text).toContain("Strategy: spread");
    expect(text).toContain("Filters: health, port, containerslots, dependency, affinity, constraint, whitelist");
    expect(text).toContain("Nodes: 3");
    for (const [index, engine] of cluster.engines.entries()) {
      expect(text).toContain(`${engine.name}: ${engine.host}`);
      expect(text).toMatch(new RegExp(`└ Labels: .*rack=r${index + 1}`));
    }
    expect(text.match(/└ Labels: .*region=eu/g)).toHaveLength(2);
  });

  it("spreads 6 containers 2/2/2 and lists them as node/name", async () => {
    for (let i = 1; i <= 6; i++) await swarm("run", "-d", "--network", "none", "--name", `spread-${i}`, "busybox", "sleep", "600");
    const counts = new Map<string, number>();
    for (let i = 1; i <= 6; i++) {
      const node = await nodeOf(`spread-${i}`);
      counts.set(node, (counts.get(node) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([2, 2, 2]);
    const names = (await swarm("ps", "--format", "{{.Names}}")).stdout.trim().split("\n");
    for (let i = 1; i <= 6; i++) expect(names).toContain(`${await nodeOf(`spread-${i}`)}/spread-${i}`);
  });

  it("refuses a name already taken anywhere in the cluster with 409", async () => {
    const response = await request(`${manager.url}/v1.41/containers/create?name=spread-1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Image: "busybox" }),
    });
    expect(response.statusCode).toBe(409);
    expect(((await response.body.json()) as { message: string }).message).toBe(
      "Conflict: The name spread-1 is already assigned. You have to delete (or rename) that container to be able to assign spread-1 to a container again.",
    );
  });

  it("places by constraint and explains a constraint nobody meets", async () => {
    await swarm("run", "-d", "--network", "none", "--name", "in-us", "-e", "constraint:region==us", "busybox", "true");
    expect(await nodeOf("in-us")).toBe("node-2");
    const failure = await swarm("run", "-d", "--network", "none", "-e", "constraint:region==mars", "busybox", "true").catch(
      (err: Error) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain("Unable to find a node that satisfies the following conditions \n[available container slots]\n[region==mars]");
    expect(message).toContain("0/3 nodes available: 3 node(s) failed region==mars");
  });

  it("streams logs, follows them to the end, stops, starts and removes", async () => {
    await swarm("run", "-d", "--network", "none", "--name", "talker", "busybox", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done");
    const followed = await swarm("logs", "-f", "talker");
    expect(followed.stdout).toBe("line1\nline2\nline3\n");
    expect((await swarm("logs", "talker")).stdout).toBe("line1\nline2\nline3\n");

    await swarm("stop", "-t", "1", "spread-1");
    expect((await swarm("inspect", "-f", "{{.State.Running}}", "spread-1")).stdout.trim()).toBe("false");
    expect((await swarm("ps", "--format", "{{.Names}}")).stdout).not.toContain("/spread-1\n");
    await swarm("start", "spread-1");
    expect((await swarm("inspect", "-f", "{{.State.Running}}", "spread-1")).stdout.trim()).toBe("true");
    await swarm("restart", "-t", "1", "spread-1");
    await swarm("kill", "spread-1");
    expect((await swarm("wait", "spread-1")).stdout.trim()).toBe("137");
    await swarm("rm", "-f", "spread-1", "talker");
    const all = (await swarm("ps", "-a", "--format", "{{.Names}}")).stdout;
    expect(all).not.toMatch(/\/spread-1$|\/talker$/m);
    const missing = await swarm("inspect", "spread-1").catch((err: Error) => err.message);
    expect(missing).toContain("No such object: spread-1");
  });

  it("answers bad input Docker-style", async () => {
    const malformed = await request(`${manager.url}/v1.41/containers/create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers["content-type"]).toBe("application/json");
    expect(((await malformed.body.json()) as { message: string }).message).toMatch(/^invalid JSON/);
    const unknown = await request(`${manager.url}/v1.41/containers/nope/json`);
    expect(unknown.statusCode).toBe(404);
    expect(await unknown.body.json()).toEqual({ message: "No such container: nope" });
  });

  it("streams /events with node fields", async () => {
    const abort = new AbortController();
    const response = await request(`${manager.url}/v1.41/events?filters=${encodeURIComponent('{"type":["container"]}')}`, {
      signal: abort.signal,
    });
    expect(response.statusCode).toBe(200);
    const seen: Array<{ Action: string; from: string; node: { Name: string }; Actor: { Attributes: Record<string, string> } }> = [];
    const reading = (async () => {
      let buffer = "";
      for await (const chunk of response.body) {
        buffer += String(chunk);
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          seen.push(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
        }
        if (seen.some((e) => e.Action === "die")) break;
      }
    })().catch(() => undefined);
    await swarm("run", "-d", "--network", "none", "--name", "evented", "-e", "constraint:node==node-3", "busybox", "true");
    await waitFor({ what: "no die event arrived", timeoutMs: 15_000, probe: async () => (seen.some((e) => e.Action === "die") ? true : undefined) });
    abort.abort();
    await reading;
    const start = seen.find((e) => e.Action === "start")!;
    expect(start.node.Name).toBe("node-3");
    expect(start.from).toBe("busybox node:node-3");
    expect(start.Actor.Attributes["node.name"]).toBe("node-3");
    expect(start.Actor.Attributes["node.addr"]).toBe(cluster.engines[2]!.host);
  });

  it("lists the images of every node, one row per image ID", async () => {
    const direct = new Set<string>();
    for (const engine of cluster.engines) {
      const images = (await (await request(`${engine.url}/images/json`)).body.json()) as Array<{ Id: string }>;
      for (const image of images) direct.add(image.Id);
    }
    const response = await request(`${manager.url}/v1.41/images/json`);
    const images = (await response.body.json()) as Array<{ Id: string; RepoTags: string[] }>;
    expect(new Set(images.map((i) => i.Id))).toEqual(direct);
    expect(images).toHaveLength(direct.size);
    expect(images.every((i) => i.RepoTags.includes("busybox:latest"))).toBe(true);
  });

  it("marks a killed engine Unhealthy, schedules around it, and takes it back after it restarts", async () => {
    const victim = cluster.engines[0]!;
    await victim.kill();
    await waitFor({
      what: `${victim.name} was not marked Unhealthy`,
      timeoutMs: 30_000,
      probe: async () => (new RegExp(`${victim.name}: [^\\n]*\\n[^\\n]*\\n\\s*└ Status: Unhealthy`).test(await info()) ? true : undefined),
    });
    for (let i = 0; i < 4; i++) {
      await swarm("run", "-d", "--network", "none", "--name", `while-down-${i}`, "busybox", "sleep", "600");
      expect(await nodeOf(`while-down-${i}`)).not.toBe(victim.name);
    }
    await victim.start();
    await waitForHealthyNodes(manager, 3, 60_000);
    await swarm("run", "-d", "--network", "none", "--name", "after-return", "-e", `constraint:node==${victim.name}`, "busybox", "true");
    expect(await nodeOf("after-return")).toBe(victim.name);
  });

  it("exits 0 on SIGTERM after closing its listener", async () => {
    const exit = manager.process.exited;
    process.kill(manager.process.pid, "SIGTERM");
    const info = await exit;
    expect(info.code).toBe(0);
    const refused = await request(`${manager.url}/_ping`).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
  });
});
