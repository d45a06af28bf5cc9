import { readFile } from "node:fs/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  type ManagedProcess,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";
import { MANAGER_ARGS, logDir, startJoin, waitForNodes, type DiscoveryStore } from "./discovery.js";

/** The leader lock's TTL in these tests: long enough to tell a resignation from an expiry. */
const REPLICATION_TTL = "6s";
const TTL_MS = 6_000;

export interface ReplicationSuite<Store extends DiscoveryStore> {
  readonly title: string;
  /** Prefix of the temp dir that keeps the join's log. */
  readonly logPrefix: string;
  startStore(logs: string): Promise<Store>;
  /** The discovery URL every manager and the join use. */
  url(store: Store): string;
  /** Environment for every CLI process (join, manage). */
  env?(store: Store): NodeJS.ProcessEnv;
}

type Role = { readonly role: "primary" } | { readonly role: "replica"; readonly primary: string };

/** The manager's own view of its role, from `/info` (which every manager answers itself). */
async function roleOf(manager: ManagerProcess, signal?: AbortSignal): Promise<Role | undefined> {
  const res = await request(`${manager.url}/info`, signal ? { signal } : {});
  const info = (await res.body.json()) as { SystemStatus?: Array<[string, string]> | null };
  const lines = new Map(info.SystemStatus ?? []);
  const role = lines.get("Role");
  if (role === "primary") return { role };
  if (role === "replica") return { role, primary: lines.get("Primary") ?? "" };
  return undefined;
}

async function waitForRole(manager: ManagerProcess, wanted: Role, timeoutMs = 30_000): Promise<void> {
  let last: Role | undefined;
  try {
    await waitFor({
      what: `${manager.host} did not become ${JSON.stringify(wanted)}`,
      timeoutMs,
      intervalMs: 100,
      process: manager.process,
      probe: async (signal) => {
        last = await roleOf(manager, signal);
        return JSON.stringify(last) === JSON.stringify(wanted) ? true : undefined;
      },
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}\nmanager log:\n${await manager.logTail(20)}`, { cause: err });
  }
}

/**
 * How long one primary and its replica must stay so before the pair counts as settled: right after
 * the store restarts, the managers still show the roles they had before it for as long as they take
 * to notice the cut connections (tens of ms, more on a loaded machine).
 */
const SETTLED_MS = 2_000;

/** Waits until one of two managers is primary and the other its replica, for SETTLED_MS; resolves with them in that order. */
async function onePrimary(pair: readonly [ManagerProcess, ManagerProcess], timeoutMs: number): Promise<[ManagerProcess, ManagerProcess]> {
  let last: Array<Role | undefined> = [];
  let seen: { readonly primary: ManagerProcess; readonly since: number } | undefined;
  try {
    return await waitFor({
      what: `the managers did not settle on one primary and its replica for ${SETTLED_MS} ms`,
      timeoutMs,
      intervalMs: 200,
      probe: async (signal) => {
        last = await Promise.all(pair.map((manager) => roleOf(manager, signal).catch(() => undefined)));
        const settled = ([pair, [pair[1], pair[0]]] as const).find(([primary]) => {
          const [p, r] = primary === pair[0] ? last : [last[1], last[0]];
          return p?.role === "primary" && r?.role === "replica" && r.primary === primary.host;
        });
        if (settled === undefined) {
          seen = undefined;
          return undefined;
        }
        if (seen?.primary !== settled[0]) seen = { primary: settled[0], since: Date.now() };
        return Date.now() - seen.since >= SETTLED_MS ? ([settled[0], settled[1]] as [ManagerProcess, ManagerProcess]) : undefined;
      },
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}`, { cause: err });
  }
}

/**
 * Runs `docker create` through `manager` over and over while `fault` runs, and a little after: every
 * create must be answered, with an ID or with the daemon's error, and none may hang.
 */
async function createsDuring(manager: ManagerProcess, fault: () => Promise<void>): Promise<string[]> {
  const answers: string[] = [];
  let creating = true;
  const creator = (async () => {
    while (creating) {
      const answer = await docker(manager.dockerHost, ["create", "--network", "none", "busybox", "true"], { timeoutMs: 60_000 }).then(
        (result) => (/^[0-9a-f]{64}$/.test(result.stdout.trim()) ? "created" : `unexpected output: ${result.stdout}`),
        (err: Error) => err.message,
      );
      answers.push(answer);
    }
  })();
  try {
    await fault();
  } finally {
    creating = false;
    await creator;
  }
  return answers;
}

/** Every container on the engine is one the manager lists, and the other way round. */
async function expectViewMatchesEngine(manager: ManagerProcess, engine: TestEngine): Promise<void> {
  const ids = async (host: string | TestEngine) => new Set((await docker(host, ["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter((line) => line !== ""));
  let last = "";
  await waitFor({
    what: "the manager's containers did not match the engine's",
    timeoutMs: 30_000,
    probe: async () => {
      const [managed, held] = await Promise.all([ids(manager.dockerHost), ids(engine)]);
      last = `manager ${managed.size}, engine ${held.size}`;
      return managed.size === held.size && [...held].every((id) => managed.has(id)) ? true : undefined;
    },
  }).catch((err: Error) => {
    throw new Error(`${err.message} (${last})`, { cause: err });
  });
}

async function logOf(process: ManagedProcess): Promise<string> {
  return readFile(process.logFile, "utf8");
}

/**
 * Replicated managers (`--replication`) over one store, with a real engine and `swarm join`:
 * who is primary, what a replica passes on, how they settle after the store restarts, and how the
 * lead moves when the primary dies or stops.
 * The scenarios run in order and build on each other.
 */
export function describeReplication<Store extends DiscoveryStore>(suite: ReplicationSuite<Store>): void {
  describe(suite.title, () => {
    let cluster: TestEngines;
    let store: Store;
    let env: NodeJS.ProcessEnv = {};
    let engine: TestEngine;
    let join: ManagedProcess | undefined;
    const managers: ManagerProcess[] = [];

    const startManager = async (): Promise<ManagerProcess> => {
      const manager = await startManagerProcess({ discovery: suite.url(store), args: [...MANAGER_ARGS], env, replication: { ttl: REPLICATION_TTL } });
      managers.push(manager);
      return manager;
    };
    const cli = (manager: ManagerProcess, ...args: string[]) => docker(manager.dockerHost, args);

    beforeAll(async () => {
      const logs = logDir(suite.logPrefix);
      [cluster, store] = await Promise.all([startEngines(1), suite.startStore(logs)]);
      engine = cluster.engines[0]!;
      env = suite.env?.(store) ?? {};
      await ensureBusyboxImage(engine);
      join = await startJoin(suite.url(store), engine.host, logs, env);
    });

    afterAll(async () => {
      for (const manager of managers) await manager.stop();
      await join?.stop();
      await store?.dispose();
      await cluster?.stopAll();
    });

    it("elects the first manager; the second is its replica and passes every request on to it", async () => {
      const first = await startManager();
      await waitForRole(first, { role: "primary" });
      await waitForNodes(first, [engine.host], "the primary's engine");
      const second = await startManager();
      await waitForRole(second, { role: "replica", primary: first.host });

      // `docker info` is the replica's own: its role and the primary it follows.
      const info = (await cli(second, "info")).stdout;
      expect(info).toContain("Role: replica");
      expect(info).toContain(`Primary: ${first.host}`);
      expect((await cli(first, "info")).stdout).toContain("Role: primary");
      // Both are ready (the replica knows its primary), and each says in its metrics which it is.
      for (const [manager, leader] of [[first, 1], [second, 0]] as const) {
        const ready = await request(`${manager.url}/readyz`);
        expect(ready.statusCode).toBe(200);
        await ready.body.dump();
        expect(await (await request(`${manager.url}/metrics`)).body.text()).toContain(`\nswarm_leader ${leader}\n`);
      }

      // Plain, streamed and hijacked requests through the replica reach the primary.
      await cli(second, "run", "-d", "--name", "via-replica", "--network", "none", "busybox", "sh", "-c", "echo from-the-container; sleep 600");
      expect((await cli(first, "ps", "--format", "{{.Names}}")).stdout).toContain("via-replica");
      expect((await cli(second, "logs", "via-replica")).stdout.trim()).toBe("from-the-container");
      expect((await cli(second, "exec", "via-replica", "echo", "exec-through-the-replica")).stdout.trim()).toBe("exec-through-the-replica");
      const attached = await cli(second, "run", "--rm", "--network", "none", "busybox", "echo", "attached-through-the-replica");
      expect(attached.stdout.trim()).toBe("attached-through-the-replica");
      // The primary's errors come back as it sent them.
      const missing = await cli(second, "logs", "ghost").then(
        () => "succeeded",
        (err: Error) => err.message,
      );
      expect(missing).toContain("No such container: ghost");

      expect(await logOf(first.process)).toContain("Leader Election: Cluster leadership acquired");
      expect(await logOf(second.process)).toContain(`New leader elected: ${first.host}`);
    });

    it("settles on one primary and its replica again after the store restarts, answering every create meanwhile", async () => {
      let settled: [ManagerProcess, ManagerProcess] | undefined;
      const answers = await createsDuring(managers[0]!, async () => {
        await store.stop();
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await store.start();
        // A campaign the outage broke starts again 10 s later; a lock from before may run out its TTL first.
        settled = await onePrimary(managers as [ManagerProcess, ManagerProcess], 10_000 + 4 * TTL_MS);
      });
      for (const answer of answers) expect(answer).toMatch(/^created$|Error response from daemon: \S/);
      const [primary, replica] = settled!;
      await expectViewMatchesEngine(primary, engine);
      await expectViewMatchesEngine(replica, engine);
      expect((await cli(replica, "ps", "--format", "{{.Names}}")).stdout).toContain("via-replica");
      // Put in the order the next scenario expects: the primary first.
      managers.splice(0, 2, primary, replica);
    });

    it("gives the lead to the replica once a killed primary's lock expires, answering every create meanwhile", async () => {
      const [first, second] = managers as [ManagerProcess, ManagerProcess];
      let killedAt = 0;
      const answers = await createsDuring(second, async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        killedAt = Date.now();
        await first.process.kill();
        await waitForRole(second, { role: "primary" }, 4 * TTL_MS);
      });
      // Through the replica while its primary lives, refused with the reason while there is none,
      // then its own as the new primary: never a hang or a socket error.
      for (const answer of answers) expect(answer).toMatch(/^created$|Error response from daemon: \S/);
      expect(answers).toContain("created");
      await expectViewMatchesEngine(second, engine);
      // Nobody takes a lock that has not expired. Stores count the TTL from the last refresh, which
      // the primary sends every third of it (or more often): the lock outlives the kill by 2/3 TTL at least.
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS / 2);
      expect(await logOf(second.process)).toContain("Leader Election: Cluster leadership acquired");

      const third = await startManager();
      await waitForRole(third, { role: "replica", primary: second.host });
      expect((await cli(third, "ps", "--format", "{{.Names}}")).stdout).toContain("via-replica");
    });

    it("hands the lead on at once when the primary stops, without waiting for its lock to expire", async () => {
      const [, second, third] = managers as [ManagerProcess, ManagerProcess, ManagerProcess];
      const stoppedAt = Date.now();
      await second.stop();
      await waitForRole(third, { role: "primary" }, 4 * TTL_MS);
      // Far sooner than an expiry, which could come 2/3 TTL after the last refresh at the earliest.
      expect(Date.now() - stoppedAt).toBeLessThan(TTL_MS / 3);
      await cli(third, "rm", "-f", "via-replica");
    });
  });
}
