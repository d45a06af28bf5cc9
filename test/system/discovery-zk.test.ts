import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startEngines,
  startZookeeper,
  startTestManager,
  waitFor,
  type ManagedProcess,
  type TestEngine,
  type TestEngines,
  type TestZookeeper,
  type TestManager,
} from "@swarm/core/testing";
import {
  MANAGER_ARGS,
  TTL_MS,
  dockerInfoNodes,
  logDir,
  longestOutage,
  recordEvents,
  restartStoreSeenByManager,
  startJoin,
  swarmList,
  waitForNodes,
} from "../helpers/discovery.js";

/** zk:// end to end: real dockerd engines, a real ZooKeeper 3.8, `swarm join`/`manage`/`list` from the built CLI. */
describe("ZooKeeper discovery with real engines", () => {
  let cluster: TestEngines;
  let store: TestZookeeper;
  let logs: string;
  let manager: TestManager | undefined;
  const joins = new Map<string, ManagedProcess>();
  let e1: TestEngine;
  let e2: TestEngine;
  let url: string;

  const join = async (engine: TestEngine, at = url): Promise<void> => {
    await joins.get(engine.host)?.stop();
    joins.set(engine.host, await startJoin(at, engine.host, logs));
  };

  beforeAll(async () => {
    logs = logDir("swt-disc-zk-");
    [cluster, store] = await Promise.all([startEngines(2), startZookeeper()]);
    [e1, e2] = cluster.engines as [TestEngine, TestEngine];
    url = `zk://${store.endpoint}/e2e`;
  });

  afterAll(async () => {
    await Promise.all([...joins.values()].map((p) => p.stop()));
    await manager?.stop();
    await store?.dispose();
    await cluster?.stopAll();
  });

  it("finds an engine that joined before the manager started, and one that joins later", async () => {
    await join(e1);
    await waitFor({
      what: "swarm list did not show the first join",
      timeoutMs: 15_000,
      probe: async () => ((await swarmList(url)).includes(e1.host) ? true : undefined),
    });
    manager = await startTestManager({ discovery: url, args: [...MANAGER_ARGS] });
    await waitForNodes(manager, [e1.host], "engine joined before the manager");
    await join(e2);
    await waitForNodes(manager, [e1.host, e2.host], "engine joined after the manager");
    expect(await dockerInfoNodes(manager)).toBe(2);
  });

  it("lists both joined addresses with swarm list", async () => {
    expect((await swarmList(url)).sort()).toEqual([e1.host, e2.host].sort());
  });

  it("drops a killed join's engine once its TTL expires, with engine_disconnect, and takes it back when it joins again", async () => {
    const events = await recordEvents(manager!);
    try {
      const killedAt = Date.now();
      await joins.get(e2.host)!.kill();
      await waitForNodes(manager!, [e1.host], "after killing the second join");
      // The session timeout (= --ttl) runs from the kill; ZooKeeper checks it once per tick.
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS - 1_000 - 200);
      await events.waitFor("engine_disconnect", e2);
      expect(await dockerInfoNodes(manager!)).toBe(1);
      await join(e2);
      await waitForNodes(manager!, [e1.host, e2.host], "after joining again");
      await events.waitFor("engine_connect", e2);
    } finally {
      events.stop();
    }
  });

  it("loses no engine for longer than the TTL while ZooKeeper restarts", async () => {
    const { longestMs, samples } = await longestOutage(
      manager!,
      [e1.host, e2.host],
      () => restartStoreSeenByManager(manager!, store),
      TTL_MS + 2_000,
    );
    expect(samples).toBeGreaterThan(10);
    console.info(`longest outage seen by the manager: ${longestMs} ms`);
    expect(longestMs).toBeLessThanOrEqual(TTL_MS);
    await waitForNodes(manager!, [e1.host, e2.host], "after the restart");
  });

  it("converges when the manager and the joins start before ZooKeeper", async () => {
    await Promise.all([...joins.values()].map((p) => p.stop()));
    joins.clear();
    await manager?.stop();
    manager = undefined;
    await store.stop();

    const late = `zk://${store.endpoint}/late`;
    await join(e1, late);
    await join(e2, late);
    manager = await startTestManager({ discovery: late, args: [...MANAGER_ARGS] });
    const early = manager;
    await waitFor({
      what: "the manager did not report the missing store",
      timeoutMs: 15_000,
      probe: async () => ((await early.logTail(50)).includes("Discovery error") ? true : undefined),
    });
    await store.start();
    try {
      await waitForNodes(manager, [e1.host, e2.host], "after ZooKeeper came up", 30_000);
    } catch (err) {
      // Starting clients against a starting ZooKeeper is where handshakes went astray: show both sides.
      const tails = await Promise.all([...joins.values()].map(async (p) => `${p.name}:\n${await p.logTail(10)}`));
      const zk = (await readFile(store.logFile, "utf8")).split("\n").slice(-40).join("\n");
      throw new Error(`${(err as Error).message}\n${tails.join("\n")}\nzookeeper log:\n${zk}`, { cause: err });
    }
    expect(await dockerInfoNodes(manager)).toBe(2);
  });
});
