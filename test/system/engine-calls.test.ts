import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";
import { startCountingProxy, type CountingProxy } from "../helpers/counting-proxy.js";

/**
 * What the manager asks a real engine for each thing a client does: what the manager's own
 * requests and the engine's events already told it is not read again. A proxy between the
 * manager and dockerd counts the calls by route.
 */
describe("engine calls per operation, against a real dockerd", () => {
  let cluster: TestEngines;
  let proxy: CountingProxy;
  let manager: ManagerProcess;
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);

  /** The calls made since the last reset, once no more arrive for a while (late event reads included). */
  async function settledCounts(): Promise<Record<string, number>> {
    let last = JSON.stringify(proxy.counts());
    await waitFor({
      what: "the manager kept calling the engine",
      timeoutMs: 10_000,
      probe: async () => {
        await sleep(1_500);
        const now = JSON.stringify(proxy.counts());
        const stable = now === last;
        last = now;
        return stable ? true : undefined;
      },
    });
    return proxy.counts();
  }

  beforeAll(async () => {
    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    const engine = cluster.engines[0]!;
    proxy = await startCountingProxy({ host: "127.0.0.1", port: engine.port });
    manager = await startManagerProcess({
      discovery: `nodes://${proxy.addr}`,
      // No periodic refresh within the test: every call counted is one a client's request caused.
      args: ["--engine-refresh-min-interval", "300s", "--engine-refresh-max-interval", "600s"],
    });
    await waitForHealthyNodes(manager, 1);
  });

  afterAll(async () => {
    await manager?.stop();
    await proxy?.close();
    await cluster?.stopAll();
  });

  it("docker run -d: create, start and one inspect per container, named or not (and the CLI's own wait, passed on)", async () => {
    await settledCounts();
    proxy.reset();
    await swarm("run", "-d", "--network", "none", "--name", "counted", "busybox", "sleep", "600");
    await swarm("run", "-d", "--network", "none", "busybox", "sleep", "600");
    await swarm("run", "-d", "--network", "none", "-l", "tier=web", "busybox", "sleep", "600");
    expect(await settledCounts()).toEqual({
      "POST /containers/create": 3,
      "POST /containers/{id}/start": 3,
      "GET /containers/{id}/json": 3,
      // The docker CLI asks for it before it starts the container, even detached.
      "POST /containers/{id}/wait": 3,
    });
    // The manager knows the names the engine made up, and every row is the engine's.
    const rows = (await swarm("ps", "--format", "{{.Names}} {{.Status}} {{.Command}}")).stdout.trim().split("\n");
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/^node-1\/[a-z]+_[a-z]+|^node-1\/counted/);
    for (const row of rows) expect(row).toMatch(/ Up .* "sleep 600"$/);
  });

  it("docker create alone: the container is read once, shortly after", async () => {
    await settledCounts();
    proxy.reset();
    await swarm("create", "--network", "none", "--name", "lone", "busybox", "true");
    expect(await settledCounts()).toEqual({ "POST /containers/create": 1, "GET /containers/{id}/json": 1 });
    expect((await swarm("ps", "-a", "--filter", "name=lone", "--format", "{{.Status}} {{.Command}}")).stdout.trim()).toBe('Created "true"');
  });

  it("docker stop, start, pause, unpause and rename: the call and one inspect each", async () => {
    await settledCounts();
    for (const [args, route] of [
      [["stop", "-t", "0", "counted"], "POST /containers/{id}/stop"],
      [["start", "counted"], "POST /containers/{id}/start"],
      [["pause", "counted"], "POST /containers/{id}/pause"],
      [["unpause", "counted"], "POST /containers/{id}/unpause"],
      [["rename", "counted", "recounted"], "POST /containers/{id}/rename"],
    ] as const) {
      proxy.reset();
      await swarm(...args);
      expect(await settledCounts(), args.join(" ")).toEqual({ [route]: 1, "GET /containers/{id}/json": 1 });
    }
    expect((await swarm("inspect", "-f", "{{.Name}} {{.State.Status}}", "recounted")).stdout.trim()).toBe("/recounted running");
  });

  it("docker rm -f of a running container: the removal alone", async () => {
    await settledCounts();
    proxy.reset();
    await swarm("rm", "-f", "recounted", "lone");
    expect(await settledCounts()).toEqual({ "DELETE /containers/{id}": 2 });
    expect((await swarm("ps", "-a", "--filter", "name=counted", "-q")).stdout.trim()).toBe("");
  });

  it("a container changed behind the manager's back is read once, from its events", async () => {
    const id = (await docker(cluster.engines[0]!, ["run", "-d", "--network", "none", "busybox", "sleep", "600"])).stdout.trim();
    await waitFor({
      what: "the manager did not see the container started on the engine",
      timeoutMs: 10_000,
      probe: async () => ((await swarm("ps", "-q", "--no-trunc")).stdout.includes(id) ? true : undefined),
    });
    await settledCounts();
    proxy.reset();
    await docker(cluster.engines[0]!, ["kill", id]);
    await waitFor({
      what: "the manager did not see the container killed on the engine",
      timeoutMs: 10_000,
      probe: async () => ((await swarm("inspect", "-f", "{{.State.Status}}", id)).stdout.trim() === "exited" ? true : undefined),
    });
    const counts = await settledCounts();
    expect(counts["GET /containers/{id}/json"]).toBeGreaterThanOrEqual(1);
    expect(counts["GET /containers/{id}/json"]).toBeLessThanOrEqual(2);
    expect(Object.keys(counts)).toEqual(["GET /containers/{id}/json"]);
  });
});
