import { fileURLToPath } from "node:url";
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { Agent, request, type Dispatcher } from "undici";
import { freePort, makeTempDir, registerCleanup, spawnManaged, waitFor, type ManagedProcess } from "./processes.js";
import { rmSync } from "node:fs";
import * as fsp from "node:fs/promises";

export interface ManagerProcessOptions {
  /** The discovery URL, e.g. `nodes://127.0.0.1:1,127.0.0.1:2`. Omit to take it from the config file. */
  readonly discovery?: string;
  /** Extra `swarm manage` flags. */
  readonly args?: readonly string[];
  /** Global flags placed before `manage` (e.g. `--debug`). */
  readonly globalArgs?: readonly string[];
  /** The swarm CLI to run with node: this checkout's by default, or an installed package's `bin/swarm.js`. */
  readonly bin?: string;
  /** Working directory (where the config file is searched for). */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs?: number;
  /**
   * The manager serves TLS (`args` carry `--tlsverify …`): the harness's own requests (readiness,
   * `waitForHealthyNodes`) present this client certificate (PEM file paths).
   */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** `--replication --replication-ttl <ttl> --advertise <this manager's address>`. */
  readonly replication?: { readonly ttl: string };
}

export interface ManagerProcess {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `tcp://127.0.0.1:PORT`, for `docker -H`. */
  readonly dockerHost: string;
  /** `http://…`, or `https://…` with `tls`. */
  readonly url: string;
  /** What the harness's requests to the manager go through (a client certificate with `tls`). */
  readonly dispatcher: Dispatcher | undefined;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

const SWARM_BIN = fileURLToPath(new URL("../../core/bin/swarm.js", import.meta.url));

/**
 * Starts `swarm manage` from the built CLI (run `npm run build` first) on a free loopback port
 * and waits until it answers `/_ping`. Stopped by pid in `stop()` or when the test process ends.
 */
export async function startManagerProcess(options: ManagerProcessOptions = {}): Promise<ManagerProcess> {
  const port = await freePort();
  const dir = await makeTempDir("swt-mgr-");
  const logFile = path.join(dir, "manager.log");
  const args = [
    options.bin ?? SWARM_BIN,
    ...(options.globalArgs ?? []),
    "manage",
    "-H",
    `tcp://127.0.0.1:${port}`,
    ...(options.replication ? ["--replication", "--replication-ttl", options.replication.ttl, "--advertise", `127.0.0.1:${port}`] : []),
    ...(options.args ?? []),
    ...(options.discovery === undefined ? [] : [options.discovery]),
  ];
  const proc = await spawnManaged({
    name: `swarm manage on 127.0.0.1:${port}`,
    command: process.execPath,
    args,
    logFile,
    cwd: options.cwd ?? dir,
    env: { ...process.env, ...options.env },
    graceMs: 10_000,
  });
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const dispatcher = options.tls
    ? new Agent({
        connect: {
          ca: readFileSync(options.tls.ca),
          cert: readFileSync(options.tls.cert),
          key: readFileSync(options.tls.key),
        },
      })
    : undefined;
  const release = registerCleanup({
    name: `swarm manage pid ${proc.pid}`,
    dispose: async () => {
      await proc.stop();
      await fsp.rm(dir, { recursive: true, force: true });
    },
    disposeSync: () => {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
    // The process itself is reaped by spawnManaged's own entry; this one removes its directory.
    reaper: { kind: "dir", name: `swarm manage dir ${dir}`, path: dir },
  });
  try {
    await waitFor({
      what: `swarm manage did not answer /_ping on 127.0.0.1:${port}`,
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      process: proc,
      probe: async (signal) => {
        const response = await request(`${url}/_ping`, { signal, dispatcher });
        const text = await response.body.text();
        return text === "OK" ? true : undefined;
      },
    });
  } catch (err) {
    release();
    await proc.stop();
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: `127.0.0.1:${port}`,
    dockerHost: `tcp://127.0.0.1:${port}`,
    url,
    dispatcher,
    process: proc,
    logTail: (lines) => proc.logTail(lines),
    async stop() {
      release();
      await proc.stop();
      await dispatcher?.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the manager's `docker info` lists `count` healthy nodes (read from `/info`'s
 * SystemStatus, as the docker CLI prints it).
 */
export async function waitForHealthyNodes(manager: ManagerProcess, count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor({
    what: `the manager did not list ${count} healthy nodes`,
    timeoutMs,
    probe: async (signal) => {
      const response = await request(`${manager.url}/info`, { signal, dispatcher: manager.dispatcher });
      const info = (await response.body.json()) as { SystemStatus?: Array<[string, string]> | null };
      const healthy = (info.SystemStatus ?? []).filter(([key, value]) => key === "  └ Status" && value === "Healthy").length;
      return healthy === count ? true : undefined;
    },
  });
}
