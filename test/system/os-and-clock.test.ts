import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startRegistry,
  startManagerProcess,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
  type TestRegistry,
} from "@swarm/test-harness";
import { startCountingProxy, type CountingProxy } from "../helpers/counting-proxy.js";

/** A minute: far beyond the 2 s the manager takes for the time /info took to arrive. */
const ENGINE_CLOCK_AHEAD_MS = 65_000;

/**
 * Classic Swarm's answers to mixed clusters (§3.7) and to engines whose clock is off (§4.2).
 * No Windows engine or skewed clock can run here, so node-2 is a real engine behind a proxy that
 * says, in its `/info`, that it runs Windows and that its clock is a minute ahead; when told to,
 * the proxy also refuses creates as a Windows engine refuses a Linux image. Everything else,
 * registry lookups included, is the real engine's and the real registry's.
 */
describe("images kept to engines of their OS, and engines with a clock that is off", () => {
  let cluster: TestEngines;
  let registry: TestRegistry;
  let proxy: CountingProxy;
  let manager: ManagerProcess;
  let refuseCreates = false;
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const nodeOf = async (id: string) => (await swarm("inspect", "-f", "{{.Node.Name}}", id)).stdout.trim();
  const constraintsOf = async (id: string) =>
    JSON.parse((await swarm("inspect", "-f", '{{index .Config.Labels "com.docker.swarm.constraints"}}', id)).stdout.trim() || "[]") as string[];

  beforeAll(async () => {
    [cluster, registry] = await Promise.all([startEngines(2), startRegistry()]);
    await ensureBusyboxImage(cluster.engines);
    proxy = await startCountingProxy(
      { host: "127.0.0.1", port: cluster.engines[1]!.port },
      {
        answers: {
          "GET /info": (info) => ({
            ...info,
            OSType: "windows",
            SystemTime: new Date(Date.now() + ENGINE_CLOCK_AHEAD_MS).toISOString(),
          }),
        },
        refuse: (route) =>
          refuseCreates && route === "POST /containers/create"
            ? { status: 400, message: 'image operating system "linux" cannot be used on this platform' }
            : undefined,
      },
    );
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host},${proxy.addr}` });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    await manager?.stop();
    await proxy?.close();
    await Promise.all([cluster?.stopAll(), registry?.stop()]);
  });

  it("asks the registry which OS an image is for and keeps its containers to engines of that OS", async () => {
    const ref = `${registry.address}/os/busybox:1`;
    await docker(cluster.engines[0]!, ["tag", "busybox", ref]);
    await docker(cluster.engines[0]!, ["push", ref]);
    // The spread strategy alternates between two empty nodes: only the OS keeps them all on node-1.
    for (let i = 0; i < 3; i++) {
      const id = (await swarm("run", "-d", "--network", "none", ref, "sleep", "600")).stdout.trim();
      expect(await nodeOf(id)).toBe("node-1");
      expect(await constraintsOf(id)).toEqual(["ostype==linux"]);
    }
    const refused = await swarm("run", "-d", "--network", "none", "-e", "constraint:node==node-2", ref, "true").then(
      () => "created",
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/Unable to find a node that satisfies the following conditions[\s\S]*ostype==linux/);
    // A constraint on the OS already given is the user's: no lookup overrides it.
    const chosen = (await swarm("create", "--network", "none", "-e", "constraint:ostype==windows", ref, "true")).stdout.trim();
    expect(await nodeOf(chosen)).toBe("node-2");
    expect(await constraintsOf(chosen)).toEqual(["ostype==windows"]);
  });

  it("creates again on an engine of the image's OS when an engine refuses the image for its OS", async () => {
    refuseCreates = true;
    try {
      // No registry knows the local busybox, so nothing says its OS before node-2 refuses it.
      const id = (await swarm("run", "-d", "--network", "none", "-e", "constraint:node==~node-2", "busybox", "true")).stdout.trim();
      expect(await nodeOf(id)).toBe("node-1");
      expect(await constraintsOf(id)).toEqual(["node==~node-2", "ostype==linux"]);
      expect(proxy.counts()["POST /containers/create"]).toBeGreaterThanOrEqual(1);
    } finally {
      refuseCreates = false;
    }
  });

  it("shows the times of an engine whose clock is ahead in the manager's clock, and warns", async () => {
    await swarm("run", "-d", "--network", "none", "--name", "on-fast-clock", "-e", "constraint:node==node-2", "busybox", "sleep", "600");
    await swarm("run", "-d", "--network", "none", "--name", "on-right-clock", "-e", "constraint:node==node-1", "busybox", "sleep", "600");
    const row = async (target: string | (typeof cluster.engines)[number], name: string) =>
      (await docker(target, ["ps", "--filter", `name=${name}`, "--format", "{{.RunningFor}} | {{.Status}}"])).stdout.trim();
    // The engine's own clock says the container has just started; shifted into the manager's,
    // its times are a minute earlier, as the engine's clock is a minute ahead.
    expect(await row(cluster.engines[1]!, "on-fast-clock")).toMatch(/second.* ago \| Up .*second/);
    expect(await row(manager.dockerHost, "on-fast-clock")).toBe("About a minute ago | Up About a minute");
    expect(await row(manager.dockerHost, "on-right-clock")).toMatch(/second.* ago \| Up .*second/);
    // Inspect is the engine's document, with the engine's own times.
    const direct = (await docker(cluster.engines[1]!, ["inspect", "-f", "{{.Created}} {{.State.StartedAt}}", "on-fast-clock"])).stdout.trim();
    expect((await swarm("inspect", "-f", "{{.Created}} {{.State.StartedAt}}", "on-fast-clock")).stdout.trim()).toBe(direct);
    const log = await readFile(manager.process.logFile, "utf8");
    expect(log).toMatch(new RegExp(`Engine \\(ID: [^,]+, Addr: ${proxy.addr.replaceAll(".", "\\.")}\\) has unsynchronized systime with swarm, please synchronize it\\.`));
    expect(log).not.toContain(`Addr: ${cluster.engines[0]!.host}) has unsynchronized systime`);
  });
});
