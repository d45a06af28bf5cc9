import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  registerCleanup,
  spawnManaged,
  startEngines,
  startManagerProcess,
  waitFor,
  type ManagedProcess,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * What the discovery system tests share: `swarm join` and `swarm list` run from the built CLI, and
 * the manager's view of its nodes read from `/info` (fast to poll) and `docker info` (what users see).
 */

export const SWARM_BIN = fileURLToPath(new URL("../../core/bin/swarm.js", import.meta.url));
/** The join flags every discovery test uses: a TTL of 3 s refreshed every second. */
export const HEARTBEAT = "1s";
export const TTL_MS = 3_000;
export const MANAGER_ARGS = ["--heartbeat", "1s", "--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s"] as const;

/** A temp dir for logs, removed when the test process ends. */
export function logDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  registerCleanup({
    name: `discovery test logs in ${dir}`,
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
    disposeSync: () => rmSync(dir, { recursive: true, force: true }),
    // Vitest may end a worker with SIGKILL, which no exit handler survives: the reaper removes it then.
    reaper: { kind: "dir", name: `discovery test logs in ${dir}`, path: dir },
  });
  return dir;
}

let joinCount = 0;

/** `swarm join --advertise <engine> --heartbeat 1s --ttl 3s <url>` as a process of its own. */
export async function startJoin(url: string, advertise: string, dir: string, env: NodeJS.ProcessEnv = {}): Promise<ManagedProcess> {
  joinCount += 1;
  return spawnManaged({
    name: `swarm join --advertise ${advertise} ${url}`,
    command: process.execPath,
    args: [SWARM_BIN, "join", "--advertise", advertise, "--heartbeat", HEARTBEAT, "--ttl", `${TTL_MS / 1000}s`, url],
    logFile: path.join(dir, `join-${joinCount}-${advertise.replace(/[^\w.-]/g, "_")}.log`),
    env: { ...process.env, ...env },
    graceMs: 5_000,
  });
}

/** `swarm list`: the printed lines, or the failure with its stderr. */
export function swarmList(url: string, env: NodeJS.ProcessEnv = {}, timeout = "5s"): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SWARM_BIN, "list", "--timeout", timeout, url],
      { env: { ...process.env, ...env }, timeout: 30_000, killSignal: "SIGKILL", encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`swarm list ${url} failed (${err.message.split("\n")[0] ?? ""}); stderr: ${stderr.trim()}`));
        else resolve(stdout.split("\n").filter((line) => line !== ""));
      },
    );
  });
}

export interface NodeRow {
  readonly name: string;
  readonly addr: string;
  readonly status: string;
}

/** The nodes in the manager's `/info` SystemStatus (`Nodes`, then ` <name>`/`<addr>` and `└ Status` rows). */
export async function managerNodes(manager: ManagerProcess, signal?: AbortSignal): Promise<NodeRow[]> {
  const res = await request(`${manager.url}/info`, signal ? { signal } : {});
  const info = (await res.body.json()) as { SystemStatus?: Array<[string, string]> | null };
  const rows: NodeRow[] = [];
  let current: { name: string; addr: string; status: string } | undefined;
  for (const [key, value] of info.SystemStatus ?? []) {
    if (/^ \S/.test(key)) {
      current = { name: key.trim(), addr: value, status: "" };
      rows.push(current);
    } else if (current && key.trim() === "└ Status") {
      current.status = value;
    }
  }
  return rows;
}

const sorted = (values: readonly string[]): string[] => [...values].sort();

/** Waits until the manager lists exactly these engine addresses, all Healthy. */
export async function waitForNodes(manager: ManagerProcess, addrs: readonly string[], what: string, timeoutMs = 30_000): Promise<void> {
  let last: NodeRow[] = [];
  try {
    await waitFor({
      what: `${what}: the manager did not list exactly ${JSON.stringify(sorted(addrs))} as healthy nodes`,
      timeoutMs,
      intervalMs: 200,
      process: manager.process,
      probe: async (signal) => {
        last = await managerNodes(manager, signal);
        const ok =
          JSON.stringify(sorted(last.map((n) => n.addr))) === JSON.stringify(sorted(addrs)) && last.every((n) => n.status === "Healthy");
        return ok ? true : undefined;
      },
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast nodes: ${JSON.stringify(last)}\nmanager log:\n${await manager.logTail(20)}`, { cause: err });
  }
}

/** `docker -H <manager> info`'s `Nodes: N` line. */
export async function dockerInfoNodes(manager: ManagerProcess): Promise<number | undefined> {
  const { stdout } = await docker(manager.dockerHost, ["info"]);
  const match = /Nodes: (\d+)/.exec(stdout);
  return match ? Number(match[1]) : undefined;
}

export interface EventRecorder {
  readonly events: Array<Record<string, unknown>>;
  /** Waits for an event with this Action that mentions the engine (name or address). */
  waitFor(action: string, engine: { name: string; host: string }, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): void;
}

/** Follows the manager's `/events` stream from now on. */
export async function recordEvents(manager: ManagerProcess): Promise<EventRecorder> {
  const abort = new AbortController();
  const events: Array<Record<string, unknown>> = [];
  const res = await request(`${manager.url}/events`, { signal: abort.signal, bodyTimeout: 0, headersTimeout: 10_000 });
  if (res.statusCode !== 200) throw new Error(`GET /events answered ${res.statusCode}: ${await res.body.text()}`);
  void (async () => {
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString("utf8");
        // Docker streams one JSON object per line.
        let newline = buffer.indexOf("\n");
        while (newline >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line !== "") events.push(JSON.parse(line) as Record<string, unknown>);
          newline = buffer.indexOf("\n");
        }
      }
    } catch {
      // Aborted by stop(), or the manager went away: the recorded events stay readable.
    }
  })();
  return {
    events,
    async waitFor(action, engine, timeoutMs = 15_000) {
      return waitFor({
        what: `no ${action} event for ${engine.name} (${engine.host}) on ${manager.url}/events (seen: ${events.map((e) => String(e.Action)).join(", ")})`,
        timeoutMs,
        probe: async () =>
          events.find((e) => e.Action === action && (JSON.stringify(e).includes(engine.host) || JSON.stringify(e).includes(`"${engine.name}"`))),
      });
    },
    stop: () => abort.abort(),
  };
}

/**
 * Samples the manager's node list every ~100 ms while `during` runs and for `settleMs` after it,
 * and returns the longest stretch (ms) in which some expected engine was missing or not Healthy.
 */
export async function longestOutage(
  manager: ManagerProcess,
  expected: readonly string[],
  during: () => Promise<void>,
  settleMs: number,
): Promise<{ longestMs: number; samples: number }> {
  let done = false;
  let longest = 0;
  let missingSince: number | undefined;
  let samples = 0;
  const sampler = (async () => {
    while (!done) {
      const at = Date.now();
      const complete = await managerNodes(manager, AbortSignal.timeout(2_000)).then(
        (nodes) => expected.every((addr) => nodes.some((n) => n.addr === addr && n.status === "Healthy")),
        () => false,
      );
      samples += 1;
      if (complete) {
        if (missingSince !== undefined) longest = Math.max(longest, at - missingSince);
        missingSince = undefined;
      } else missingSince ??= at;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (missingSince !== undefined) longest = Math.max(longest, Date.now() - missingSince);
  })();
  try {
    await during();
    // A registration lost during the outage expires at most one TTL later: watch that long.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  } finally {
    done = true;
    await sampler;
  }
  return { longestMs: longest, samples };
}

/** How often `needle` appears in a managed process's whole log so far. */
export async function countInLog(proc: ManagedProcess, needle: string): Promise<number> {
  const text = await readFile(proc.logFile, "utf8").catch(() => "");
  return text.split(needle).length - 1;
}

/**
 * Stops the store, waits until the manager has reported the outage (so the outage really happened
 * from its point of view, however fast the store comes back), then starts the store again.
 */
export async function restartStoreSeenByManager(manager: ManagerProcess, store: { stop(): Promise<void>; start(): Promise<void> }): Promise<void> {
  const before = await countInLog(manager.process, "Discovery error");
  await store.stop();
  await waitFor({
    what: "the manager did not log a Discovery error while the store was down",
    timeoutMs: 15_000,
    probe: async () => ((await countInLog(manager.process, "Discovery error")) > before ? true : undefined),
  });
  await store.start();
}

/** A store the discovery tests take down and bring back: etcd, ZooKeeper, consul-fake, the token service. */
export interface DiscoveryStore {
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** The URLs one cluster is reached by; a backend with two URL forms spreads them over the roles. */
export interface ClusterUrls {
  /** What `swarm join` is given for the first and for the second engine. */
  readonly joins: readonly [string, string];
  readonly manage: string;
  /** Every form `swarm list` must find the cluster by; the first is also the one polled while joining. */
  readonly list: readonly [string, ...string[]];
}

/** One URL for every role, as the key/value stores have. */
export function sameUrl(url: string): ClusterUrls {
  return { joins: [url, url], manage: url, list: [url] };
}

export interface StoreDiscoverySuite<Store extends DiscoveryStore> {
  readonly title: string;
  /** The store as the test names say it: `etcd`, `the Consul agent`, … */
  readonly storeName: string;
  /** Prefix of the temp dir that keeps the joins' logs. */
  readonly logPrefix: string;
  startStore(logs: string): Promise<Store>;
  /**
   * The URLs of a cluster: `e2e` for the scenarios run with the store up, `late` for the one in
   * which the manager and the joins start before the store.
   */
  urls(store: Store, cluster: "e2e" | "late"): ClusterUrls;
  /** Environment for every CLI process (join, list, manage). */
  env?(store: Store): NodeJS.ProcessEnv;
  /** Registers the backend's own tests, which run before the shared scenarios. */
  firstTests?(store: () => Store): void;
  /** Test names that say more than the shared ones. */
  readonly titles?: { readonly list?: string; readonly restart?: string };
  /** What the store logged, shown when the cluster does not converge after the store came up. */
  storeLogTail?(store: Store): Promise<string>;
}

/**
 * The end-to-end scenarios every discovery backend with a store must pass, with two real engines
 * and `swarm join`/`manage`/`list` from the built CLI. They run in order and build on each other:
 * the manager and the joins of one scenario are the starting point of the next.
 */
export function describeStoreDiscovery<Store extends DiscoveryStore>(suite: StoreDiscoverySuite<Store>): void {
  describe(suite.title, () => {
    let cluster: TestEngines;
    let store: Store;
    let env: NodeJS.ProcessEnv = {};
    let logs: string;
    let manager: ManagerProcess | undefined;
    const joins = new Map<string, ManagedProcess>();
    let e1: TestEngine;
    let e2: TestEngine;

    const join = async (engine: TestEngine, url: string): Promise<void> => {
      await joins.get(engine.host)?.stop();
      joins.set(engine.host, await startJoin(url, engine.host, logs, env));
    };

    beforeAll(async () => {
      logs = logDir(suite.logPrefix);
      [cluster, store] = await Promise.all([startEngines(2), suite.startStore(logs)]);
      [e1, e2] = cluster.engines as [TestEngine, TestEngine];
      env = suite.env?.(store) ?? {};
    });

    afterAll(async () => {
      await Promise.all([...joins.values()].map((p) => p.stop()));
      await manager?.stop();
      await store?.dispose();
      await cluster?.stopAll();
    });

    suite.firstTests?.(() => store);

    it("finds an engine that joined before the manager started, and one that joins later", async () => {
      const { joins: [first, second], manage, list: [listed] } = suite.urls(store, "e2e");
      await join(e1, first);
      await waitFor({
        what: "swarm list did not show the first join",
        timeoutMs: 15_000,
        probe: async () => ((await swarmList(listed, env)).includes(e1.host) ? true : undefined),
      });
      manager = await startManagerProcess({ discovery: manage, args: [...MANAGER_ARGS], env });
      await waitForNodes(manager, [e1.host], "engine joined before the manager");
      await join(e2, second);
      await waitForNodes(manager, [e1.host, e2.host], "engine joined after the manager");
      expect(await dockerInfoNodes(manager)).toBe(2);
    });

    it(suite.titles?.list ?? "lists both joined addresses with swarm list", async () => {
      for (const url of suite.urls(store, "e2e").list) {
        expect((await swarmList(url, env)).sort()).toEqual([e1.host, e2.host].sort());
      }
    });

    it("drops a killed join's engine once its TTL expires, with engine_disconnect, and takes it back when it joins again", async () => {
      const events = await recordEvents(manager!);
      try {
        const killedAt = Date.now();
        await joins.get(e2.host)!.kill();
        await waitForNodes(manager!, [e1.host], "after killing the second join");
        // The registration was refreshed at most one heartbeat before the kill.
        expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS - 1_000 - 200);
        await events.waitFor("engine_disconnect", e2);
        expect(await dockerInfoNodes(manager!)).toBe(1);
        await join(e2, suite.urls(store, "e2e").joins[1]);
        await waitForNodes(manager!, [e1.host, e2.host], "after joining again");
        await events.waitFor("engine_connect", e2);
      } finally {
        events.stop();
      }
    });

    it(suite.titles?.restart ?? `loses no engine for longer than the TTL while ${suite.storeName} restarts`, async () => {
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

    it(`converges when the manager and the joins start before ${suite.storeName}`, async () => {
      await Promise.all([...joins.values()].map((p) => p.stop()));
      joins.clear();
      await manager?.stop();
      manager = undefined;
      await store.stop();

      const late = suite.urls(store, "late");
      await join(e1, late.joins[0]);
      await join(e2, late.joins[1]);
      manager = await startManagerProcess({ discovery: late.manage, args: [...MANAGER_ARGS], env });
      const early = manager;
      await waitFor({
        what: "the manager did not report the missing store",
        timeoutMs: 15_000,
        probe: async () => ((await early.logTail(50)).includes("Discovery error") ? true : undefined),
      });
      await store.start();
      try {
        await waitForNodes(manager, [e1.host, e2.host], `after ${suite.storeName} came up`, 30_000);
      } catch (err) {
        // Whether the joins, the manager or the store went astray is in their logs.
        const tails = await Promise.all([...joins.values()].map(async (p) => `${p.name}:\n${await p.logTail(10)}`));
        const storeLog = suite.storeLogTail ? `\n${suite.storeName} log:\n${await suite.storeLogTail(store)}` : "";
        throw new Error(`${(err as Error).message}\n${tails.join("\n")}${storeLog}`, { cause: err });
      }
      expect(await dockerInfoNodes(manager)).toBe(2);
    });
  });
}
