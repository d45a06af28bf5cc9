import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { REAPER_SOURCE, type ReaperEntry } from "./reaper.js";

/** How a managed process ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnManagedOptions {
  /** Human name used in every error, e.g. "dockerd for node-2". */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  /** stdout and stderr are appended here; the tail is quoted when the process misbehaves. */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Time between SIGTERM and SIGKILL in stop(), and for the reaper. Default 10 s. */
  readonly graceMs?: number;
}

/** A child process started by this harness; every signal goes to its own pid, never to a name or group. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited and been reaped. */
  readonly exited: Promise<ExitInfo>;
  isRunning(): boolean;
  exitInfo(): ExitInfo | undefined;
  /** SIGTERM, then SIGKILL after the grace period. Safe to call repeatedly. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ExitInfo>;
  /** Last lines of the log file, for error messages. */
  logTail(lines?: number): Promise<string>;
}

/** Something that must be released when the test process ends, even if the test forgot to. */
export interface Cleanup {
  readonly name: string;
  dispose(): Promise<void>;
  /** Best-effort synchronous variant, run from process.on("exit") where nothing async can happen. */
  disposeSync(): void;
  /** What the out-of-process reaper does instead if this process dies first. */
  readonly reaper?: ReaperEntry;
}

const KILL_WAIT_MS = 10_000;

/**
 * Start a long-running process whose output goes to a log file.
 * Resolves once the kernel has given it a pid; readiness is the caller's job (see waitFor).
 */
export async function spawnManaged(options: SpawnManagedOptions): Promise<ManagedProcess> {
  await fsp.mkdir(path.dirname(options.logFile), { recursive: true });
  const log = await fsp.open(options.logFile, "a");
  try {
    const child = spawn(options.command, [...(options.args ?? [])], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      // A file rather than a pipe: the daemon must not die of SIGPIPE or block when we stop reading.
      stdio: ["ignore", log.fd, log.fd],
      // Own session: a Ctrl-C meant for the test runner must not reach the daemons directly (a second
      // SIGINT/SIGTERM makes dockerd quit without cleaning up); they are stopped by us or by the reaper.
      detached: true,
    });
    // Listen before any await, so an instant crash is not missed.
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    const started = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    // Registered before any await too: from here on the reaper knows about it, whatever happens to us.
    const managed = child.pid === undefined ? undefined : new ManagedChild(options, child, exited);
    await started;
    if (managed === undefined) throw new Error("no pid was assigned");
    // Later errors (a failed kill) are reported through stop()/kill(); without a listener they would crash us.
    child.on("error", () => undefined);
    return managed;
  } catch (err) {
    throw new Error(
      `could not start ${options.name}: ${errorMessage(err)}; check that ${options.command} is installed and executable`,
      { cause: err },
    );
  } finally {
    await log.close();
  }
}

class ManagedChild implements ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitInfo>;
  private info: ExitInfo | undefined;
  private stopping: Promise<ExitInfo> | undefined;
  private readonly graceMs: number;
  private readonly untrack: () => void;

  constructor(options: SpawnManagedOptions, child: ChildProcess, exited: Promise<ExitInfo>) {
    if (child.pid === undefined) throw new Error(`${options.name} was spawned without a pid`);
    this.name = options.name;
    this.pid = child.pid;
    this.logFile = options.logFile;
    this.graceMs = options.graceMs ?? 10_000;
    // stop(), the reaper and the exit handler keep the lifetime in check; a forgotten daemon must not hang the test runner.
    child.unref();
    const startTime = procStartTime(this.pid);
    this.untrack = registerCleanup({
      name: this.name,
      dispose: async () => {
        await this.stop();
      },
      disposeSync: () => {
        this.stopSync();
      },
      ...(startTime === undefined
        ? {}
        : { reaper: { kind: "process", name: this.name, pid: this.pid, startTime, graceMs: this.graceMs } }),
    });
    this.exited = exited.then((info) => {
      this.info = info;
      this.untrack();
      return info;
    });
  }

  isRunning(): boolean {
    return this.info === undefined;
  }

  exitInfo(): ExitInfo | undefined {
    return this.info;
  }

  stop(graceMs: number = this.graceMs): Promise<ExitInfo> {
    if (this.info !== undefined) return Promise.resolve(this.info);
    this.stopping ??= this.terminate(graceMs);
    return this.stopping;
  }

  async kill(): Promise<ExitInfo> {
    if (this.info !== undefined) return this.info;
    this.signal("SIGKILL");
    return this.waitExit(KILL_WAIT_MS, "SIGKILL");
  }

  logTail(lines = 30): Promise<string> {
    return tailFile(this.logFile, lines);
  }

  private async terminate(graceMs: number): Promise<ExitInfo> {
    this.signal("SIGTERM");
    const graceful = await within(this.exited, graceMs);
    if (graceful !== undefined) return graceful;
    this.signal("SIGKILL");
    return this.waitExit(KILL_WAIT_MS, `SIGTERM and, after ${formatDuration(graceMs)}, SIGKILL`);
  }

  private async waitExit(timeoutMs: number, sent: string): Promise<ExitInfo> {
    const info = await within(this.exited, timeoutMs);
    if (info !== undefined) return info;
    throw new Error(
      `${this.name} (pid ${this.pid}) is still alive ${formatDuration(timeoutMs)} after ${sent}; ` +
        `it is probably stuck in uninterruptible I/O — inspect /proc/${this.pid}/stack and kill it by hand`,
    );
  }

  /** Only while we have not seen the exit: after that the pid may belong to someone else. */
  private signal(sig: NodeJS.Signals): void {
    if (this.info !== undefined) return;
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      if (!isErrno(err, "ESRCH")) throw err;
    }
  }

  /**
   * Used from the exit handler, where libuv no longer reaps children: the pid stays a zombie
   * (and so cannot be reused) until we are gone, which makes /proc polling safe.
   */
  private stopSync(): void {
    if (this.info !== undefined || !pidAlive(this.pid)) return;
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      return;
    }
    if (waitSync(() => !pidAlive(this.pid), this.graceMs)) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      return;
    }
    waitSync(() => !pidAlive(this.pid), 2_000);
  }
}

/** Field 22 of /proc/<pid>/stat: with the pid, it identifies one process for good. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** True if the pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state letter follows the parenthesised command name, which may itself contain ") ".
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

export interface WaitForOptions<T> {
  /** Completes "X did not become ready": e.g. "dockerd for node-2 did not answer /_ping on 127.0.0.1:41234". */
  readonly what: string;
  /** Return a value when ready, undefined (or throw) when not yet. */
  readonly probe: (signal: AbortSignal) => Promise<T | undefined>;
  readonly timeoutMs: number;
  /** Upper bound of the poll interval; polling starts at 50 ms and backs off to this. Default 500 ms. */
  readonly intervalMs?: number;
  /** Per-attempt budget, so a hung connection cannot eat the whole timeout. Default 2 s. */
  readonly attemptTimeoutMs?: number;
  /** If given, fail fast when it exits, and quote its log on failure. */
  readonly process?: ManagedProcess;
}

/** Poll until a probe succeeds. No fixed sleeps: the caller returns as soon as the thing is ready. */
export async function waitFor<T>(options: WaitForOptions<T>): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const maxInterval = options.intervalMs ?? 500;
  const attemptTimeout = options.attemptTimeoutMs ?? 2_000;
  let interval = 50;
  let lastError: string;
  for (;;) {
    const proc = options.process;
    if (proc !== undefined && !proc.isRunning()) {
      const info = proc.exitInfo();
      throw new Error(
        `${options.what}: ${proc.name} (pid ${proc.pid}) exited with ${describeExit(info)} before it was ready; ` +
          `last log lines from ${proc.logFile}:\n${await proc.logTail()}`,
      );
    }
    const budget = Math.max(1, Math.min(attemptTimeout, deadline - Date.now()));
    try {
      const value = await options.probe(AbortSignal.timeout(budget));
      if (value !== undefined) return value;
      lastError = "it answered, but not ready yet";
    } catch (err) {
      lastError = errorMessage(err);
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
    interval = Math.min(maxInterval, interval * 2);
  }
  const last = ` (last attempt: ${lastError})`;
  const logs =
    options.process === undefined
      ? ""
      : `; last log lines from ${options.process.logFile}:\n${await options.process.logTail()}`;
  throw new Error(`${options.what} within ${formatDuration(options.timeoutMs)}${last}${logs}`);
}

/** Ask the kernel for a port that is free right now. Another process may still take it before you bind it. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error(`no free port found on ${host}`);
  return port;
}

/** Several distinct free ports: all listeners stay open until every port is chosen, so none repeats. */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port: 0, host, exclusive: true }, resolve);
      });
      const address = server.address();
      if (address === null || typeof address === "string") {
        throw new Error(`listening on ${host}:0 did not yield a TCP port`);
      }
      ports.push(address.port);
    }
    return ports;
  } catch (err) {
    throw new Error(`could not reserve ${count} free port(s) on ${host}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Last lines of a text file; an explanatory placeholder if it cannot be read. */
export async function tailFile(file: string, lines = 30): Promise<string> {
  try {
    const handle = await fsp.open(file, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const all = buffer.toString("utf8").split("\n");
      if (all.at(-1) === "") all.pop();
      return all.slice(-lines).join("\n");
    } finally {
      await handle.close();
    }
  } catch (err) {
    return `(no log: ${errorMessage(err)})`;
  }
}

/** A fresh directory under os.tmpdir(); kept short because unix socket paths are limited to ~100 bytes. */
export async function makeTempDir(prefix: string): Promise<string> {
  return fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
}

// ---------------------------------------------------------------------------------------------
// Last-resort cleanup: whatever is still registered when this process ends is released.
//
// Normally by the reaper (see reaper.ts), a detached process that takes over when we die, however we die.
// Only if it cannot be started do we fall back to in-process exit/SIGINT/SIGTERM handlers, which a test
// runner's SIGKILL can cut short.

const live = new Set<Cleanup>();
const manifestFiles = new Map<Cleanup, string>();
let shuttingDown = false;
let manifestSeq = 0;
const SIGNAL_CLEANUP_LIMIT_MS = 90_000;

interface Reaper {
  readonly manifestDir: string;
  readonly child: ChildProcess;
}
/** undefined: not started yet; null: could not be started, so the in-process handlers are used. */
let reaper: Reaper | null | undefined;

function startReaper(): Reaper | null {
  if (reaper !== undefined) return reaper;
  try {
    const manifestDir = mkdtempSync(path.join(os.tmpdir(), "swt-reap-"));
    const child = spawn(process.execPath, ["-e", REAPER_SOURCE, manifestDir, String(process.pid)], {
      // Own session: a Ctrl-C aimed at the test runner must not take the reaper down with it.
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      // No NODE_OPTIONS or loaders from the test runner: the reaper is plain JavaScript.
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    child.on("error", () => undefined);
    // Neither the reaper nor its pipe may keep the test process alive; the pipe only has to close when we die.
    child.unref();
    if (child.stdin instanceof net.Socket) child.stdin.unref();
    if (child.pid === undefined) throw new Error("no pid");
    reaper = { manifestDir, child };
  } catch {
    reaper = null;
    installHandlers();
  }
  return reaper;
}

/** Register a cleanup to run if this process ends first; call the returned function once it has been done normally. */
export function registerCleanup(cleanup: Cleanup): () => void {
  live.add(cleanup);
  const r = startReaper();
  if (r !== null && cleanup.reaper !== undefined) {
    // Synchronous, so the entry is on disk before anything can go wrong; the rename makes it appear whole.
    const file = path.join(r.manifestDir, `${String(++manifestSeq).padStart(9, "0")}.json`);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(cleanup.reaper));
      renameSync(`${file}.tmp`, file);
      manifestFiles.set(cleanup, file);
    } catch {
      // The in-process exit handler still covers it.
    }
  }
  return () => {
    live.delete(cleanup);
    const file = manifestFiles.get(cleanup);
    if (file !== undefined) {
      manifestFiles.delete(cleanup);
      rmSync(file, { force: true });
    }
  };
}

let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** Newest first, so a process is stopped before the directory it lives in is removed. */
function liveNewestFirst(): Cleanup[] {
  return [...live].reverse();
}

function onExit(): void {
  for (const cleanup of liveNewestFirst()) {
    try {
      cleanup.disposeSync();
    } catch {
      // Nothing can be reported from an exit handler; carry on with the rest.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) return;
  shuttingDown = true;
  const code = 128 + (os.constants.signals[signal] ?? 15);
  // Our listener replaced the default "terminate", so we must exit ourselves once cleaned up.
  const hardStop = setTimeout(() => process.exit(code), SIGNAL_CLEANUP_LIMIT_MS);
  void (async () => {
    for (const cleanup of liveNewestFirst()) {
      try {
        await cleanup.dispose();
      } catch {
        // Keep going: the remaining resources still deserve a chance.
      }
    }
    clearTimeout(hardStop);
    process.exit(code);
  })();
}

// ---------------------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The promise's value, or undefined if it takes longer than ms; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Busy-free synchronous wait for exit handlers, where timers no longer fire. */
export function waitSync(done: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    Atomics.wait(sleepCell, 0, 0, 50);
  }
  return true;
}

/** "150ms", "60s": for messages. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`;
}

export function describeExit(info: ExitInfo | undefined): string {
  if (info === undefined) return "an unknown status";
  return info.signal !== null ? `signal ${info.signal}` : `code ${String(info.code)}`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(errorMessage).join("; ");
  // Our own errors already quote their cause in the message; appending it again would only repeat it.
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && "code" in err && (err as { code: unknown }).code === code;
}

// ---------------------------------------------------------------------------------------------
// A daemon that can be stopped and started again with the same arguments (same ports, same data).

export interface RestartableSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly graceMs?: number;
  /** Completes "… within Ns", e.g. "etcd did not answer GET /health on 127.0.0.1:2379". */
  readonly notReady: string;
  readonly readyTimeoutMs: number;
  readonly ready: (signal: AbortSignal) => Promise<boolean>;
  /** Runs before every start, e.g. to remove a stale pidfile left by kill(). */
  readonly beforeStart?: () => Promise<void>;
}

export class RestartableProcess {
  private proc: ManagedProcess | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly spec: RestartableSpec) {}

  get pid(): number | undefined {
    return this.proc?.isRunning() === true ? this.proc.pid : undefined;
  }

  get process(): ManagedProcess | undefined {
    return this.proc;
  }

  isRunning(): boolean {
    return this.proc?.isRunning() === true;
  }

  /** No-op if already running; concurrent callers share one start. */
  start(): Promise<void> {
    if (this.starting !== undefined) return this.starting;
    if (this.isRunning()) return Promise.resolve();
    this.starting = this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.proc?.stop();
  }

  async kill(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.proc?.kill();
  }

  private async doStart(): Promise<void> {
    await this.spec.beforeStart?.();
    const proc = await spawnManaged({
      name: this.spec.name,
      command: this.spec.command,
      args: this.spec.args,
      logFile: this.spec.logFile,
      ...(this.spec.env === undefined ? {} : { env: this.spec.env }),
      ...(this.spec.cwd === undefined ? {} : { cwd: this.spec.cwd }),
      ...(this.spec.graceMs === undefined ? {} : { graceMs: this.spec.graceMs }),
    });
    this.proc = proc;
    try {
      await waitFor({
        what: this.spec.notReady,
        timeoutMs: this.spec.readyTimeoutMs,
        process: proc,
        probe: async (signal) => ((await this.spec.ready(signal)) ? true : undefined),
      });
    } catch (err) {
      // A half-started daemon is useless and would hold its port; stop it before reporting.
      await proc.kill().catch(() => undefined);
      throw err;
    }
  }
}

/** Environment for our children without variables that would silently reconfigure them. */
export function cleanEnv(dropPrefixes: readonly string[], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!dropPrefixes.some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Ties a temp dir to the daemon(s) living in it: dispose() stops them and removes the dir, once,
 * and the same happens at process exit if the test never called it.
 */
export function ownedDir(dir: string, name: string, stop: () => Promise<void>): { dispose(): Promise<void> } {
  let done: Promise<void> | undefined;
  const untrack = registerCleanup({
    name,
    dispose: () => dispose(),
    // Registered before the daemons, so at exit they are stopped (newest first) before this runs.
    disposeSync: () => rmSync(dir, { recursive: true, force: true }),
    reaper: { kind: "dir", name, path: dir },
  });
  const dispose = (): Promise<void> => {
    done ??= (async () => {
      await stop();
      await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
      untrack();
    })();
    return done;
  };
  return { dispose };
}
