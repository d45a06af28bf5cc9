import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { docker, registerCleanup, spawnManaged, waitFor, type ManagedProcess, type TestManager } from "@swarm/core/testing";

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
export async function managerNodes(manager: TestManager, signal?: AbortSignal): Promise<NodeRow[]> {
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
export async function waitForNodes(manager: TestManager, addrs: readonly string[], what: string, timeoutMs = 30_000): Promise<void> {
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
export async function dockerInfoNodes(manager: TestManager): Promise<number | undefined> {
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
export async function recordEvents(manager: TestManager): Promise<EventRecorder> {
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
  manager: TestManager,
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
export async function restartStoreSeenByManager(manager: TestManager, store: { stop(): Promise<void>; start(): Promise<void> }): Promise<void> {
  const before = await countInLog(manager.process, "Discovery error");
  await store.stop();
  await waitFor({
    what: "the manager did not log a Discovery error while the store was down",
    timeoutMs: 15_000,
    probe: async () => ((await countInLog(manager.process, "Discovery error")) > before ? true : undefined),
  });
  await store.start();
}
