import { spawnSync, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, rmdirSync, unlinkSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client, request } from "undici";
import {
  errorMessage,
  freePorts,
  isErrno,
  makeTempDir,
  pidAlive,
  registerCleanup,
  RestartableProcess,
  tailFile,
  sleep,
  waitSync,
} from "./processes.js";

const execFileAsync = promisify(execFile);

export interface StartEnginesOptions {
  /** Engine labels (`dockerd --label k=v`) for the engine at 0-based `index` (named node-<index+1>). */
  readonly labels?: (index: number) => Record<string, string>;
  /** Per-engine readiness budget for /_ping. Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Path to dockerd. Default: /usr/sbin/dockerd or /usr/bin/dockerd, whichever exists. */
  readonly dockerd?: string;
  /**
   * Serve TCP with mutual TLS (`--tlsverify`): clients need a certificate `caCert` signed. The
   * engines' `url` is then `https://…`; reach them from tests through `socketPath`.
   */
  readonly tls?: EngineTlsFiles;
}

/** PEM file paths for a TLS engine. */
export interface EngineTlsFiles {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** One real dockerd, in its own UTS namespace so that its host name (and /info Name) is its node name. */
export interface TestEngine {
  /** node-1, node-2, … — also the host name dockerd reports. */
  readonly name: string;
  /** "127.0.0.1:PORT", the TCP address Swarm nodes are registered with. */
  readonly host: string;
  /** "http://127.0.0.1:PORT" ("https://…" with `tls`). */
  readonly url: string;
  readonly port: number;
  readonly socketPath: string;
  readonly dataRoot: string;
  readonly logFile: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The dockerd pid while it runs, undefined while it is stopped. */
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Graceful stop (SIGTERM; SIGKILL after 30 s). Containers are stopped by dockerd itself. */
  stop(): Promise<void>;
  /** Start again on the same port and data root; resolves once /_ping answers OK. */
  start(): Promise<void>;
  /** SIGKILL, like a crashed host. Its containerd dies with it; container shims survive until start() or stopAll(). */
  kill(): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

export interface TestEngines {
  readonly engines: readonly TestEngine[];
  /** The temp dir holding every engine's data, exec root, socket and log. */
  readonly baseDir: string;
  /** Stop every engine, unmount and delete everything under baseDir. Safe to call twice. */
  stopAll(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;

/** Start `n` dockerd engines on 127.0.0.1, all in parallel. On failure everything already started is torn down. */
export async function startEngines(n: number, options: StartEnginesOptions = {}): Promise<TestEngines> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`startEngines(${n}): the engine count must be a positive integer`);
  const dockerd = options.dockerd ?? findDockerd();
  const baseDir = await makeTempDir("swt-");
  const engines: Engine[] = [];
  const teardown = new Teardown(baseDir, engines, n);
  try {
    const ports = await freePorts(n);
    for (let index = 0; index < n; index++) {
      const port = ports[index];
      if (port === undefined) throw new Error(`no port reserved for engine ${index + 1}`);
      const labels = options.labels?.(index) ?? {};
      engines.push(
        await Engine.create(engineLayout(baseDir, index), port, labels, dockerd, options.readyTimeoutMs ?? READY_TIMEOUT_MS, options.tls),
      );
    }
    const results = await Promise.allSettled(engines.map((engine) => engine.start()));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [errorMessage(r.reason)] : []));
    if (failures.length > 0) throw new Error(failures.join("\n\n"));
  } catch (err) {
    try {
      await teardown.run();
    } catch (cleanupErr) {
      throw new Error(`${errorMessage(err)}\n\nand cleaning up afterwards failed too: ${errorMessage(cleanupErr)}`, {
        cause: cleanupErr,
      });
    }
    throw err;
  }
  return { engines, baseDir, stopAll: () => teardown.run() };
}

function findDockerd(): string {
  for (const candidate of ["/usr/sbin/dockerd", "/usr/bin/dockerd"]) {
    if (existsSync(candidate)) return candidate;
  }
  return "dockerd";
}

interface EngineLayout {
  readonly index: number;
  readonly name: string;
  readonly dir: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  /** The socket of the containerd this dockerd manages; shim socket names are derived from it. */
  readonly containerdAddress: string;
  readonly socketPath: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly configFile: string;
  readonly tmpDir: string;
}

/** Fixed paths, so the reaper can be told where every engine's leftovers would be before any engine exists. */
function engineLayout(baseDir: string, index: number): EngineLayout {
  const dir = path.join(baseDir, `n${index + 1}`);
  const execRoot = path.join(dir, "x");
  return {
    index,
    name: `node-${index + 1}`,
    dir,
    dataRoot: path.join(dir, "data"),
    execRoot,
    containerdAddress: path.join(execRoot, "containerd", "containerd.sock"),
    socketPath: path.join(dir, "docker.sock"),
    pidFile: path.join(dir, "docker.pid"),
    logFile: path.join(dir, "dockerd.log"),
    configFile: path.join(dir, "daemon.json"),
    tmpDir: path.join(dir, "tmp"),
  };
}

class Engine implements TestEngine {
  readonly name: string;
  readonly host: string;
  readonly url: string;
  readonly socketPath: string;
  readonly dataRoot: string;
  readonly logFile: string;
  readonly containerdAddress: string;
  private readonly daemon: RestartableProcess;

  private constructor(
    layout: EngineLayout,
    readonly port: number,
    readonly labels: Readonly<Record<string, string>>,
    dockerd: string,
    readyTimeoutMs: number,
    tls: EngineTlsFiles | undefined,
  ) {
    this.name = layout.name;
    this.host = `127.0.0.1:${port}`;
    this.url = `${tls ? "https" : "http"}://${this.host}`;
    this.socketPath = layout.socketPath;
    this.dataRoot = layout.dataRoot;
    this.logFile = layout.logFile;
    this.containerdAddress = layout.containerdAddress;
    const dockerdArgs = [
      // Our own config file, so /etc/docker/daemon.json cannot change the engine under test.
      `--config-file=${layout.configFile}`,
      "--iptables=false",
      "--ip-masq=false",
      "--bridge=none",
      "--storage-driver=vfs",
      `--data-root=${layout.dataRoot}`,
      `--exec-root=${layout.execRoot}`,
      `--pidfile=${layout.pidFile}`,
      `-H=unix://${layout.socketPath}`,
      `-H=tcp://${this.host}`,
      ...(tls ? ["--tlsverify", `--tlscacert=${tls.caCert}`, `--tlscert=${tls.cert}`, `--tlskey=${tls.key}`] : []),
      ...Object.entries(labels).map(([k, v]) => `--label=${k}=${v}`),
    ];
    // A TLS engine's TCP side wants a client certificate: ask the same daemon on its socket.
    const pingUrl = tls ? "http://localhost/_ping" : `${this.url}/_ping`;
    const pingDispatcher = tls ? new Client("http://localhost", { socketPath: layout.socketPath }) : undefined;
    this.daemon = new RestartableProcess({
      name: `dockerd for ${this.name}`,
      // No --fork: unshare and sh both exec, so the pid we track is dockerd's own.
      command: "unshare",
      args: ["--uts", "sh", "-c", 'hostname "$0" && exec "$@"', this.name, dockerd, ...dockerdArgs],
      // dockerd makes containerd dump its stacks to a file in the temp dir before killing it when it
      // will not stop; in the engine's own dir, that file goes with the engine.
      env: { ...process.env, TMPDIR: layout.tmpDir },
      logFile: this.logFile,
      graceMs: STOP_GRACE_MS,
      notReady: `dockerd for ${this.name} did not answer /_ping on ${this.host}`,
      readyTimeoutMs,
      ready: async (signal) => {
        const res = await request(pingUrl, { signal, reset: true, ...(pingDispatcher ? { dispatcher: pingDispatcher } : {}) });
        const body = await res.body.text();
        return res.statusCode === 200 && body === "OK";
      },
      beforeStart: async () => {
        // After kill() the pidfile names a dead pid that may since have been reused, which dockerd would refuse.
        await fsp.rm(layout.pidFile, { force: true });
        await forgetDeadContainerd(path.join(layout.execRoot, "containerd", "containerd.pid"));
      },
    });
  }

  static async create(
    layout: EngineLayout,
    port: number,
    labels: Record<string, string>,
    dockerd: string,
    readyTimeoutMs: number,
    tls: EngineTlsFiles | undefined,
  ): Promise<Engine> {
    for (const key of Object.keys(labels)) {
      if (key === "" || key.includes("=")) {
        throw new Error(`label key ${JSON.stringify(key)} for ${layout.name} is invalid; use a non-empty key without "="`);
      }
    }
    await fsp.mkdir(layout.tmpDir, { recursive: true });
    // The one setting: each engine needs its own trust key, because /info ID is derived from it and the
    // default (/etc/docker/key.json) would give every engine the same ID. It exists only as a config-file key.
    await fsp.writeFile(layout.configFile, `${JSON.stringify({ "deprecated-key-path": path.join(layout.dir, "key.json") })}\n`);
    return new Engine(layout, port, { ...labels }, dockerd, readyTimeoutMs, tls);
  }

  get pid(): number | undefined {
    return this.daemon.pid;
  }

  isRunning(): boolean {
    return this.daemon.isRunning();
  }

  start(): Promise<void> {
    return this.daemon.start();
  }

  stop(): Promise<void> {
    return this.daemon.stop();
  }

  kill(): Promise<void> {
    return this.daemon.kill();
  }

  logTail(lines = 30): Promise<string> {
    return tailFile(this.logFile, lines);
  }
}

/**
 * A SIGKILLed dockerd takes its containerd with it (parent-death signal), but that containerd can linger as a
 * zombie until init reaps it. dockerd's liveness check (kill -0) counts a zombie as running, so it would wait
 * for a socket nobody serves and fail with "timeout waiting for containerd to start". Dropping the pidfile
 * of a dead containerd makes dockerd start a fresh one; a genuinely live one is left for dockerd to adopt.
 */
async function forgetDeadContainerd(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await fsp.readFile(pidFile, "utf8")).trim());
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (!pidAlive(pid)) await fsp.rm(pidFile, { force: true });
}

/**
 * Tears down one startEngines() call. Runs at most once (later calls share the result), and copes with
 * engines that never started, were killed, or are still starting.
 */
class Teardown {
  private done: Promise<void> | undefined;
  private readonly untrack: () => void;

  constructor(
    private readonly baseDir: string,
    private readonly engines: readonly Engine[],
    count: number,
  ) {
    const layouts = Array.from({ length: count }, (_, index) => engineLayout(baseDir, index));
    this.untrack = registerCleanup({
      name: `test engines in ${baseDir}`,
      dispose: () => this.run(),
      disposeSync: () => this.runSync(),
      reaper: {
        kind: "dir",
        name: `test engines in ${baseDir}`,
        path: baseDir,
        engines: layouts.map(({ dataRoot, containerdAddress }) => ({ dataRoot, containerdAddress })),
      },
    });
  }

  run(): Promise<void> {
    this.done ??= this.teardown();
    return this.done;
  }

  private async teardown(): Promise<void> {
    const problems: string[] = [];
    const stops = await Promise.allSettled(this.engines.map((engine) => engine.stop()));
    for (const r of stops) if (r.status === "rejected") problems.push(errorMessage(r.reason));
    // Leftovers exist only if an engine died without shutting down (kill(), or a crash).
    const leftovers = leftoverPids(this.baseDir, this.engines);
    for (const pid of leftovers) signalQuietly(pid, "SIGKILL");
    const stillAlive = await waitUntilGone(leftovers, 10_000);
    if (stillAlive.length > 0) problems.push(`processes ${stillAlive.join(", ")} left by the engines in ${this.baseDir} survived SIGKILL`);
    removeContainerCgroups(this.engines);
    removeShimSockets(this.engines);
    try {
      await unmountUnder(this.baseDir);
      await fsp.rm(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      problems.push(errorMessage(err));
    }
    this.untrack();
    if (problems.length > 0) {
      throw new Error(`tearing down the test engines in ${this.baseDir} was incomplete:\n${problems.join("\n")}`);
    }
  }

  /**
   * The exit-handler fallback (used only when the reaper could not start): same steps, synchronously, errors
   * swallowed. The dockerd processes are stopped by their own, newer, registrations before this runs.
   */
  private runSync(): void {
    const leftovers = leftoverPids(this.baseDir, this.engines);
    for (const pid of leftovers) signalQuietly(pid, "SIGKILL");
    waitSync(() => leftovers.every((pid) => !pidAlive(pid)), 5_000);
    removeContainerCgroups(this.engines);
    removeShimSockets(this.engines);
    for (let round = 0; round < 5; round++) {
      const mounts = mountsUnder(this.baseDir);
      if (mounts.length === 0) break;
      for (const mountPoint of mounts) {
        if (spawnSync("umount", [mountPoint]).status !== 0) spawnSync("umount", ["-l", mountPoint]);
      }
    }
    if (mountsUnder(this.baseDir).length === 0) rmSync(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Processes our engines left behind after dying abruptly. Only two kinds qualify, both provably ours:
 * processes in the cgroups of containers recorded in our data roots, and processes whose command line
 * names our own mkdtemp directory (the engines' containerd and containerd-shims).
 */
function leftoverPids(baseDir: string, engines: readonly Engine[]): number[] {
  const pids = new Set<number>();
  for (const cgroupDir of containerCgroupDirs(engines)) {
    try {
      for (const line of readFileSync(path.join(cgroupDir, "cgroup.procs"), "utf8").split("\n")) {
        const pid = Number(line);
        if (Number.isInteger(pid) && pid > 0) pids.add(pid);
      }
    } catch {
      // The cgroup is already gone, which is the normal case.
    }
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [...pids];
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmdline.split("\0").some((arg) => arg === baseDir || arg.includes(`${baseDir}/`))) pids.add(pid);
    } catch {
      // Exited while we looked.
    }
  }
  return [...pids].filter(pidAlive);
}

function containerIds(engine: Engine): string[] {
  try {
    return readdirSync(path.join(engine.dataRoot, "containers")).filter((id) => /^[0-9a-f]{64}$/.test(id));
  } catch {
    return [];
  }
}

/** cgroup directories (v1 per controller, or v2) of every container our engines ever created. */
function containerCgroupDirs(engines: readonly Engine[]): string[] {
  const ids = engines.flatMap(containerIds);
  if (ids.length === 0) return [];
  const roots = ["/sys/fs/cgroup"];
  try {
    for (const entry of readdirSync("/sys/fs/cgroup")) roots.push(path.join("/sys/fs/cgroup", entry));
  } catch {
    return [];
  }
  return roots.flatMap((root) => ids.map((id) => path.join(root, "docker", id))).filter((dir) => existsSync(dir));
}

function removeContainerCgroups(engines: readonly Engine[]): void {
  for (const dir of containerCgroupDirs(engines)) {
    try {
      rmdirSync(dir);
    } catch {
      // Still populated or already removed by runc; either way nothing more we can safely do.
    }
  }
}

/**
 * containerd 1.6 puts each shim's socket in the shared /run/containerd/s, named sha256(<containerd address>/<namespace>/<id>).
 * A shim that shuts down normally removes it; one we had to SIGKILL leaves it behind, so remove exactly those names.
 */
function removeShimSockets(engines: readonly Engine[]): void {
  for (const engine of engines) {
    for (const id of containerIds(engine)) {
      const name = createHash("sha256").update(`${engine.containerdAddress}/moby/${id}`).digest("hex");
      const socket = path.join("/run/containerd/s", name);
      try {
        if (lstatSync(socket).isSocket()) unlinkSync(socket);
      } catch {
        // Not there: the shim cleaned up after itself.
      }
    }
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (!isErrno(err, "ESRCH")) throw err;
  }
}

async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(pidAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(100);
    alive = alive.filter(pidAlive);
  }
  return alive;
}

/** Mount points at or under dir, deepest (and most recently stacked) first. */
export function mountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const mountPoint = unescapeMountPath(field);
    if (mountPoint === dir || mountPoint.startsWith(`${dir}/`)) found.push(mountPoint);
  }
  // mountinfo lists mounts in mount order; reversing first keeps stacked mounts on one path top-first.
  return found.reverse().sort((a, b) => b.split("/").length - a.split("/").length);
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Unmount everything under dir, deepest first; lazily if a plain umount is refused (still busy). */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const mountPoint of mounts) {
      try {
        await execFileAsync("umount", [mountPoint]);
      } catch {
        await execFileAsync("umount", ["-l", mountPoint]).catch(() => undefined);
      }
    }
  }
  const remaining = mountsUnder(dir);
  if (remaining.length > 0) {
    throw new Error(`mounts under ${dir} could not be removed: ${remaining.join(", ")}; run umount -l on them by hand`);
  }
}
