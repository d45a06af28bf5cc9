import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
 * Every filter and strategy through the real docker CLI on real engines with distinct labels:
 * node-1 region=eu rack=r1, node-2 region=us rack=r2, node-3 region=eu rack=x3.
 */

const fast = ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s", "--engine-failure-retry", "2"];


describe("filters", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const run = (...args: string[]) => swarm("run", "-d", "--network", "none", ...args);
  const nodeOf = async (ref: string) => (await swarm("inspect", "-f", "{{.Node.Name}}", ref)).stdout.trim();
  const failure = async (...args: string[]) => {
    const result = await run(...args).catch((err: Error) => err);
    expect(result, `docker run ${args.join(" ")} should fail`).toBeInstanceOf(Error);
    return (result as Error).message;
  };

  beforeAll(async () => {
    const racks = ["r1", "r2", "x3"];
    cluster = await startEngines(3, { labels: (i) => ({ region: i === 1 ? "us" : "eu", rack: racks[i]! }) });
    await ensureBusyboxImage(cluster.engines);
    // An image only node-3 has, for image affinity.
    await docker(cluster.engines[2]!, ["tag", "busybox:latest", "only-on-three:1"]);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`, args: fast });
    await waitForHealthyNodes(manager, 3);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it.each<[string, string[], string[]]>([
    ["node name", ["constraint:node==node-2"], ["node-2"]],
    ["engine label", ["constraint:region==us"], ["node-2"]],
    ["!=", ["constraint:region!=eu"], ["node-2"]],
    ["glob", ["constraint:rack==x*"], ["node-3"]],
    ["regex", ["constraint:node==/node-[13]/"], ["node-1", "node-3"]],
    ["case-insensitive regex", ["constraint:region==/(?i)US/"], ["node-2"]],
    ["two constraints", ["constraint:region==eu", "constraint:rack!=r1"], ["node-3"]],
    ["standard label", ["constraint:storagedriver==vfs", "constraint:node==node-1"], ["node-1"]],
    ["soft constraint nobody meets, next to a hard one", ["constraint:storagedriver==~nope", "constraint:node==node-1"], ["node-1"]],
    ["soft constraint someone meets", ["constraint:rack==~r2"], ["node-2"]],
  ])("constraint: %s", async (_title, env, expected) => {
    const id = (await run(...env.flatMap((e) => ["-e", e]), "busybox", "true")).stdout.trim();
    expect(expected).toContain(await nodeOf(id));
  });

  it("constraint from the label form", async () => {
    const id = (await run("--label", 'com.docker.swarm.constraints=["node==node-3"]', "busybox", "true")).stdout.trim();
    expect(await nodeOf(id)).toBe("node-3");
  });

  it("constraint nobody meets: the classic message and the per-node reasons", async () => {
    const message = await failure("-e", "constraint:region==mars", "busybox", "true");
    expect(message).toContain("Unable to find a node that satisfies the following conditions \n[available container slots]\n[region==mars]");
    expect(message).toContain("0/3 nodes available: 3 node(s) failed region==mars");
  });

  it("a bad expression is named", async () => {
    const message = await failure("-e", "constraint:region=eu", "busybox", "true");
    expect(message).toContain("error from constraint filter: One of operator ==, != is expected in 'region=eu'");
  });

  it("a value that cannot match because it does not compile is named with Go's parse error", async () => {
    const message = await failure("-e", "constraint:region==/eu[/", "busybox", "true");
    expect(message).toContain("[region==/eu[/]");
    expect(message).toContain("0/3 nodes available: 3 node(s) failed region==/eu[/ (error parsing regexp: missing closing ]: `[`)");
  });

  it("affinity to a container, away from it, and soft", async () => {
    await run("--name", "anchor", "-e", "constraint:node==node-2", "busybox", "sleep", "600");
    const near = (await run("-e", "affinity:container==anchor", "busybox", "true")).stdout.trim();
    expect(await nodeOf(near)).toBe("node-2");
    const labelled = (await run("--label", 'com.docker.swarm.affinities=["container==anchor"]', "busybox", "true")).stdout.trim();
    expect(await nodeOf(labelled)).toBe("node-2");
    for (let i = 0; i < 3; i++) {
      const away = (await run("-e", "affinity:container!=anchor", "busybox", "true")).stdout.trim();
      expect(await nodeOf(away)).not.toBe("node-2");
    }
    const soft = (await run("-e", "affinity:container==~missing", "busybox", "true")).stdout.trim();
    expect(["node-1", "node-2", "node-3"]).toContain(await nodeOf(soft));
    const message = await failure("-e", "affinity:container==missing", "busybox", "true");
    expect(message).toContain("[container==missing (soft=false)]");
  });

  it("affinity to an image only one node has", async () => {
    const id = (await run("-e", "affinity:image==only-on-three:1", "busybox", "true")).stdout.trim();
    expect(await nodeOf(id)).toBe("node-3");
  });

  it("affinity to a container label, and anti-affinity refusing the last node", async () => {
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = (await run("--label", "role=solo", "-e", "affinity:role!=solo", "busybox", "sleep", "600")).stdout.trim();
      placed.push(await nodeOf(id));
    }
    expect(new Set(placed).size).toBe(3);
    const message = await failure("--label", "role=solo", "-e", "affinity:role!=solo", "busybox", "true");
    expect(message).toContain("[role!=solo (soft=false)]");
    const beside = (await run("-e", "affinity:role==solo", "-e", "constraint:node==node-1", "busybox", "true")).stdout.trim();
    expect(await nodeOf(beside)).toBe("node-1");
  });

  it("dependencies: --volumes-from and --net=container: follow their container", async () => {
    await run("--name", "data", "-v", "/data", "-e", "constraint:node==node-3", "busybox", "sleep", "600");
    const user = (await run("--volumes-from", "data", "busybox", "true")).stdout.trim();
    expect(await nodeOf(user)).toBe("node-3");
    const shared = (await swarm("run", "-d", "--net", "container:data", "busybox", "true")).stdout.trim();
    expect(await nodeOf(shared)).toBe("node-3");
    const message = await failure("--volumes-from", "nowhere", "busybox", "true");
    expect(message).toContain("[--volumes-from=nowhere]");
  });

  it("dependencies: --link is scheduled next to its target (the engine then judges the link)", async () => {
    const message = await failure("--link", "nowhere:alias", "busybox", "true");
    expect(message).toContain("[--link=nowhere:alias]");
    // With the target present the scheduler lets it through: whatever the engine answers, it is
    // not a placement failure.
    const answer = await run("--link", "data:alias", "busybox", "true").then(
      (r) => r.stdout,
      (err: Error) => err.message,
    );
    expect(answer).not.toContain("Unable to find a node");
  });

  it("-p 80:80 run 4 times at once on 3 engines: one per engine, the fourth refused", async () => {
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        run("--name", `web-${i}`, "-p", "80:80", "busybox", "sleep", "600").then(
          () => ({ ok: true as const, name: `web-${i}` }),
          (err: Error) => ({ ok: false as const, message: err.message }),
        ),
      ),
    );
    const placed = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(placed).toHaveLength(3);
    expect(refused).toHaveLength(1);
    const nodes = await Promise.all(placed.map((r) => nodeOf((r as { name: string }).name)));
    expect(new Set(nodes).size).toBe(3);
    const message = (refused[0] as { message: string }).message;
    expect(message).toContain("[port 80 (Bridge mode)]");
    expect(message).toContain("3 node(s) have port 80 in use");
  });

  it("--net=host --expose takes the port on that node only", async () => {
    await swarm("run", "-d", "--net", "host", "--expose", "8080", "-e", "constraint:node==node-1", "busybox", "sleep", "600");
    const refused = await swarm("run", "-d", "--net", "host", "--expose", "8080", "-e", "constraint:node==node-1", "busybox", "true").catch(
      (err: Error) => err.message,
    );
    expect(refused).toContain("[port 8080/tcp (Host mode)]");
    const elsewhere = (await swarm("run", "-d", "--net", "host", "--expose", "8080", "busybox", "true")).stdout.trim();
    expect(await nodeOf(elsewhere)).not.toBe("node-1");
    // Host-mode and bridge-mode ports are booked separately.
    const bridged = (await run("-p", "8080:80", "-e", "constraint:node==node-1", "busybox", "true")).stdout.trim();
    expect(await nodeOf(bridged)).toBe("node-1");
  });

  it("whitelist keeps placement to the named nodes", async () => {
    for (let i = 0; i < 3; i++) {
      const id = (await run("-e", "whitelist:node==node-1|node-3", "busybox", "true")).stdout.trim();
      expect(["node-1", "node-3"]).toContain(await nodeOf(id));
    }
  });

  it("a stopped engine is left out by the health filter", async () => {
    const engine = cluster.engines[1]!;
    await engine.stop();
    try {
      await waitFor({
        what: "node-2 was not marked unhealthy",
        timeoutMs: 30_000,
        probe: async () => (/node-2: [^\n]*\n[^\n]*\n\s*└ Status: Unhealthy/.test((await swarm("info")).stdout) ? true : undefined),
      });
      const message = await failure("-e", "constraint:node==node-2", "busybox", "true");
      expect(message).toContain("node(s) are unhealthy");
      expect(message).toContain("[node==node-2]");
    } finally {
      await engine.start();
      await waitForHealthyNodes(manager, 3);
    }
  });
});

describe("container slots and strategies", () => {
  let cluster: TestEngines;
  const managers: ManagerProcess[] = [];

  beforeAll(async () => {
    cluster = await startEngines(2, { labels: () => ({ containerslots: "3" }) });
    await ensureBusyboxImage(cluster.engines);
  });

  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    await cluster?.stopAll();
  });

  const manage = async (strategy: string) => {
    const manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: [...fast, "--strategy", strategy],
    });
    managers.push(manager);
    await waitForHealthyNodes(manager, 2);
    return manager;
  };
  const clean = async (manager: ManagerProcess) => {
    const ids = (await docker(manager.dockerHost, ["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
    if (ids.length > 0) await docker(manager.dockerHost, ["rm", "-f", ...ids]);
  };
  const reservedCpus = async (manager: ManagerProcess) =>
    [...(await docker(manager.dockerHost, ["info"])).stdout.matchAll(/└ Reserved CPUs: (\d+) \//g)].map((m) => Number(m[1])).sort();

  it("spread puts two one-CPU containers on two nodes", async () => {
    const spread = await manage("spread");
    try {
      await docker(spread.dockerHost, ["run", "-d", "--network", "none", "-c", "1", "busybox", "sleep", "600"]);
      await docker(spread.dockerHost, ["run", "-d", "--network", "none", "-c", "1", "busybox", "sleep", "600"]);
      expect(await reservedCpus(spread)).toEqual([1, 1]);
    } finally {
      await clean(spread);
    }
  });

  it("binpack puts them on one node, and memory joins them there", async () => {
    const binpack = await manage("binpack");
    try {
      await docker(binpack.dockerHost, ["run", "-d", "--network", "none", "-c", "1", "busybox", "sleep", "600"]);
      await docker(binpack.dockerHost, ["run", "-d", "--network", "none", "-c", "1", "busybox", "sleep", "600"]);
      expect(await reservedCpus(binpack)).toEqual([0, 2]);
      await docker(binpack.dockerHost, ["run", "-d", "--network", "none", "-m", "20m", "busybox", "true"]);
      const info = (await docker(binpack.dockerHost, ["info"])).stdout;
      expect(info).toMatch(/Reserved CPUs: 2 \/ \d+\n\s+└ Reserved Memory: 20 MiB/);
    } finally {
      await clean(binpack);
    }
  });

  it("refuses what no node can hold", async () => {
    const manager = managers[0]!;
    const message = await docker(manager.dockerHost, ["run", "-d", "--network", "none", "-m", "1000G", "busybox", "true"]).catch((err: Error) => err.message);
    expect(message).toContain("no resources available to schedule container");
    expect(message).toMatch(/0\/2 nodes available: 2 node\(s\)/);
  });

  it("containerslots=3 on both nodes: the seventh container is refused", async () => {
    const manager = managers[0]!;
    try {
      for (let i = 0; i < 6; i++) await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "sleep", "600"]);
      const message = await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "true"]).catch((err: Error) => err.message);
      expect(message).toContain("Unable to find a node that satisfies the following conditions \n[available container slots]");
      expect(message).toContain("2 node(s) have no container slots left");
    } finally {
      await clean(manager);
    }
  });

  it("random with a seed from the config file: a repeatable placement over both nodes", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "swt-random-"));
    try {
      await writeFile(path.join(dir, "swarm.config.json"), JSON.stringify({ strategy: "random", pluginOptions: { random: { seed: 7 } } }));
      const placements: string[][] = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        const manager = await startManagerProcess({ discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`, args: fast, cwd: dir });
        managers.push(manager);
        await waitForHealthyNodes(manager, 2);
        expect((await docker(manager.dockerHost, ["info"])).stdout).toContain("Strategy: random");
        const nodes: string[] = [];
        for (let i = 0; i < 6; i++) {
          const id = (await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "true"])).stdout.trim();
          nodes.push((await docker(manager.dockerHost, ["inspect", "-f", "{{.Node.Name}}", id])).stdout.trim());
          await docker(manager.dockerHost, ["rm", "-f", id]);
        }
        placements.push(nodes);
        await manager.stop();
      }
      expect(new Set(placements[0]).size).toBe(2);
      expect(placements[1]).toEqual(placements[0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the create flow", () => {
  let cluster: TestEngines;
  const managers: ManagerProcess[] = [];

  beforeAll(async () => {
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    await docker(cluster.engines[1]!, ["tag", "busybox:latest", "only-on-two:1"]);
  });

  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    await cluster?.stopAll();
  });

  const manage = async (...args: string[]) => {
    const manager = await startManagerProcess({ discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`, args });
    managers.push(manager);
    await waitForHealthyNodes(manager, 2);
    return manager;
  };

  it("concurrent creates of one name: exactly one wins, the others get 409", async () => {
    const manager = await manage(...fast);
    const results = await Promise.all(
      [0, 1, 2, 3].map(() =>
        docker(manager.dockerHost, ["create", "--network", "none", "--name", "only-one", "busybox", "true"]).then(
          () => "created",
          (err: Error) => err.message,
        ),
      ),
    );
    expect(results.filter((r) => r === "created")).toHaveLength(1);
    for (const refused of results.filter((r) => r !== "created")) expect(refused).toContain("Conflict: The name only-one is already assigned");
    await docker(manager.dockerHost, ["rm", "-f", "only-one"]);
  });

  it("retries with image affinity when the chosen node lacks the image", async () => {
    const manager = managers[0]!;
    const id = (await docker(manager.dockerHost, ["run", "-d", "--network", "none", "-e", "constraint:node==~node-1", "only-on-two:1", "true"])).stdout.trim();
    expect((await docker(manager.dockerHost, ["inspect", "-f", "{{.Node.Name}}", id])).stdout.trim()).toBe("node-2");
    const labels = (await docker(manager.dockerHost, ["inspect", "-f", "{{json .Config.Labels}}", id])).stdout;
    expect(labels).not.toContain("image==");
    // A hard node constraint forbids the retry: the engine's own not-found answer comes back.
    const refused = await docker(manager.dockerHost, ["run", "-d", "--network", "none", "-e", "constraint:node==node-1", "only-on-two:1", "true"]).catch(
      (err: Error) => err.message,
    );
    expect(refused).not.toContain("Unable to find a node");
    expect(refused).toMatch(/only-on-two/);
  });

  it("swarm.createretry=1 retries on another node when the first choice is down", async () => {
    const manager = await manage(...fast.slice(0, 4), "--engine-failure-retry", "1", "--cluster-opt", "swarm.createretry=1");
    await docker(manager.dockerHost, ["run", "-d", "--network", "none", "-e", "constraint:node==node-2", "busybox", "sleep", "600"]);
    const down = cluster.engines[0]!;
    // node-1 has fewer containers, so spread tries it first, unless the manager already saw it go
    // (its event stream retries after 1 s): then try again from a healthy start.
    let retried = false;
    for (let attempt = 0; attempt < 3 && !retried; attempt++) {
      await down.stop();
      try {
        const id = (await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "true"])).stdout.trim();
        expect((await docker(manager.dockerHost, ["inspect", "-f", "{{.Node.Name}}", id])).stdout.trim()).toBe("node-2");
        retried = (await manager.logTail(50)).includes("Create failed, retrying (1/1): Cannot connect to the Docker daemon");
      } finally {
        await down.start();
        await waitForHealthyNodes(manager, 2);
      }
    }
    expect(retried).toBe(true);
  });
});
