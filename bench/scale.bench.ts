/**
 * The manager at scale, through the Docker API over HTTP, in front of a simulated fleet (many
 * dockerd look-alikes in one child process, see bench/fleet). For each manager build measured:
 *
 *   - startup: when `swarm manage` first answers /_ping, and when /info lists all N engines Healthy;
 *   - fill: M containers created and started C at a time, as `docker run -d busybox sleep 600` does
 *     it (the docker CLI's own create body, then start): latency of create+start (p50/p90/p99/max),
 *     errors, throughput overall and per tenth of the fill;
 *   - `docker ps -a` (GET /containers/json?all=1) and `docker info` after the fill, several reps;
 *   - a /metrics scrape before and after the fill (its cost must not grow with the containers);
 *   - the manager's memory (VmRSS, and the peak VmHWM) and CPU (utime+stime) during the fill;
 *   - what the fill cost the engines: requests per container created, overall and by route, and
 *     any call the fleet could not answer; how evenly the containers were spread;
 *   - optionally a low-concurrency latency run and a burst of concurrent clients.
 *
 * Two builds can run interleaved on the same fleet: the working tree's and a git ref's
 * (`--baseline REF`, built once in a cached worktree under node_modules/.cache/swarm-bench). The fleet is cleared
 * between runs.
 *
 *   npm run bench:scale [-- --engines 1000 --containers 10000 --concurrency 32 --rounds 1
 *     --baseline REF [--skip-current] --latency-concurrency 4 --burst 256 --out FILE
 *     --manager-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { Agent, request } from "undici";
import { captureDockerRun, RECORDED_RUN_BODY } from "./fleet/docker-cli.js";
import type { FleetStats } from "@swarm/core/testing/fleet";

const execFileAsync = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
/**
 * The routes only a periodic refresh asks during a fill: what it costs is per engine and per
 * period, not per container created, so the table shows it apart.
 */
const REFRESH_ROUTES = new Set(["GET /containers/json", "GET /images/json", "GET /networks", "GET /volumes"]);

function refreshShare(byRoute: Readonly<Record<string, number>>): number {
  let share = 0;
  for (const [route, perContainer] of Object.entries(byRoute)) if (REFRESH_ROUTES.has(route)) share += perContainer;
  return share;
}

/** bench/dist/scale.bench.js → the repository root. */
const REPO = path.resolve(HERE, "..", "..");
const FLEET_CLI = path.join(HERE, "fleet", "cli.js");
/**
 * Baseline worktrees live under node_modules (ignored by git, ESLint, tsc and vitest alike): a
 * checkout anywhere else in the tree would be linted and type-checked as part of the project.
 */
const CACHE = path.join(REPO, "node_modules", ".cache", "swarm-bench");
const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");

// ---- options ------------------------------------------------------------------------------------

interface Options {
  readonly engines: number;
  readonly containers: number;
  readonly concurrency: number;
  readonly rounds: number;
  readonly baseline: string | undefined;
  readonly skipCurrent: boolean;
  readonly out: string;
  readonly latencyConcurrency: number | undefined;
  readonly latencyContainers: number;
  readonly burst: number | undefined;
  readonly discovery: "nodes" | "file";
  readonly managerNodeArgs: readonly string[];
  readonly managerArgs: readonly string[];
  readonly reps: number;
  readonly healthyTimeoutMs: number;
}

const USAGE = `usage: npm run bench:scale -- [--engines N] [--containers M] [--concurrency C] [--rounds R]
  [--baseline GIT_REF] [--skip-current] [--latency-concurrency K [--latency-containers L]] [--burst B]
  [--discovery nodes|file] [--manager-node-args="ARGS"] [--manager-args="ARGS"] [--reps 5]
  [--healthy-timeout SECONDS] [--out FILE]`;

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      engines: { type: "string", default: "1000" },
      containers: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "32" },
      rounds: { type: "string", default: "1" },
      baseline: { type: "string" },
      "skip-current": { type: "boolean", default: false },
      out: { type: "string" },
      "latency-concurrency": { type: "string" },
      "latency-containers": { type: "string", default: "500" },
      burst: { type: "string" },
      discovery: { type: "string", default: "nodes" },
      "manager-node-args": { type: "string", default: "" },
      "manager-args": { type: "string", default: "" },
      reps: { type: "string", default: "5" },
      "healthy-timeout": { type: "string", default: "600" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values["skip-current"] && values.baseline === undefined) throw new Error("--skip-current needs --baseline: there would be nothing to measure");
  if (values.discovery !== "nodes" && values.discovery !== "file") throw new Error(`--discovery must be nodes or file, got ${values.discovery}`);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return {
    engines: positiveInt("--engines", values.engines),
    containers: positiveInt("--containers", values.containers),
    concurrency: positiveInt("--concurrency", values.concurrency),
    rounds: positiveInt("--rounds", values.rounds),
    baseline: values.baseline,
    skipCurrent: values["skip-current"],
    out: path.resolve(values.out ?? path.join(REPO, "bench", "results", `scale-${stamp}.json`)),
    latencyConcurrency: values["latency-concurrency"] === undefined ? undefined : positiveInt("--latency-concurrency", values["latency-concurrency"]),
    latencyContainers: positiveInt("--latency-containers", values["latency-containers"]),
    burst: values.burst === undefined ? undefined : positiveInt("--burst", values.burst),
    discovery: values.discovery,
    managerNodeArgs: values["manager-node-args"].split(/\s+/).filter((a) => a !== ""),
    managerArgs: values["manager-args"].split(/\s+/).filter((a) => a !== ""),
    reps: positiveInt("--reps", values.reps),
    healthyTimeoutMs: positiveInt("--healthy-timeout", values["healthy-timeout"]) * 1000,
  };
}

// ---- small helpers ------------------------------------------------------------------------------

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime+stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS and VmHWM (the peak) of a process, in MiB. */
function memoryMiB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

// ---- child processes, always stopped ------------------------------------------------------------

const children = new Set<ChildProcess>();
/** Removed on any exit, Ctrl-C included, where the finally blocks do not get to run. */
const tempDirs = new Set<string>();

async function tempDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; by pid, only our own children. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

let interrupted = false;
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = true;
  console.error(`\n${signal}: stopping the manager and the fleet …`);
  void Promise.all([...children].map((child) => stopChild(child, 5_000))).finally(() => process.exit(130));
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---- builds -------------------------------------------------------------------------------------

interface Build {
  readonly label: string;
  readonly ref: string;
  readonly commit: string;
  /** A checkout with core/bin/swarm.js and a built core/dist. */
  readonly root: string;
}

async function git(args: readonly string[], cwd = REPO): Promise<string> {
  const { stdout } = await execFileAsync("git", [...args], { cwd, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

async function tscBuild(root: string): Promise<void> {
  try {
    await execFileAsync(process.execPath, [TSC, "-b", "tsconfig.build.json"], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const output = (err as { stdout?: string }).stdout ?? "";
    throw new Error(`building ${root} failed:\n${output.split("\n").slice(0, 30).join("\n") || errorMessage(err)}`, { cause: err });
  }
}

async function currentBuild(skipBuild: boolean): Promise<Build> {
  const commit = await git(["rev-parse", "HEAD"]);
  const dirty = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";
  if (!skipBuild) {
    console.error("building the working tree (tsc -b tsconfig.build.json) …");
    await tscBuild(REPO);
  }
  return { label: "working tree", ref: dirty ? "HEAD + uncommitted changes" : "HEAD", commit, root: REPO };
}

/**
 * The worktree sees the root's installed packages through symlinks, except the workspace packages
 * (`@swarm/*`, `@acme/*`), which must resolve to the worktree's own sources and builds.
 */
function linkNodeModules(worktree: string): void {
  const source = path.join(REPO, "node_modules");
  const target = path.join(worktree, "node_modules");
  mkdirSync(target, { recursive: true });
  const isWorkspaceLink = (entry: string): string | undefined => {
    try {
      if (!lstatSync(entry).isSymbolicLink()) return undefined;
    } catch {
      return undefined;
    }
    const resolved = path.resolve(path.dirname(entry), readlinkSync(entry));
    const relative = path.relative(REPO, resolved);
    return relative.startsWith("..") || relative.startsWith("node_modules") ? undefined : relative;
  };
  const link = (from: string, to: string) => {
    if (existsSync(to) || isSymlink(to)) return;
    const workspace = isWorkspaceLink(from);
    symlinkSync(workspace === undefined ? from : path.relative(path.dirname(to), path.join(worktree, workspace)), to);
  };
  for (const entry of readdirSync(source)) {
    if (entry.startsWith(".") && entry !== ".bin") continue;
    const from = path.join(source, entry);
    const to = path.join(target, entry);
    if (entry.startsWith("@") && readdirSync(from).some((child) => isWorkspaceLink(path.join(from, child)) !== undefined)) {
      mkdirSync(to, { recursive: true });
      for (const child of readdirSync(from)) link(path.join(from, child), path.join(to, child));
    } else {
      link(from, to);
    }
  }
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

async function baselineBuild(ref: string): Promise<Build> {
  const commit = await git(["rev-parse", "--verify", `${ref}^{commit}`]);
  const dir = path.join(CACHE, "worktrees", commit.slice(0, 12));
  const marker = path.join(dir, ".bench-built");
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === commit) {
    console.error(`baseline ${ref} (${commit.slice(0, 12)}): cached build in ${path.relative(REPO, dir)}`);
    return { label: `baseline ${ref}`, ref, commit, root: dir };
  }
  console.error(`baseline ${ref} (${commit.slice(0, 12)}): checking out and building in ${path.relative(REPO, dir)} …`);
  if (existsSync(dir)) {
    await git(["worktree", "remove", "--force", dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  await git(["worktree", "prune"]);
  mkdirSync(path.dirname(dir), { recursive: true });
  await git(["worktree", "add", "--detach", dir, commit]);
  linkNodeModules(dir);
  await tscBuild(dir);
  writeFileSync(marker, `${commit}\n`);
  return { label: `baseline ${ref}`, ref, commit, root: dir };
}

// ---- the fleet ----------------------------------------------------------------------------------

interface FleetProcess {
  readonly child: ChildProcess;
  readonly control: string;
  readonly addresses: readonly string[];
  readonly addressesFile: string;
  call<T>(method: "GET" | "POST", route: string): Promise<T>;
}

async function startFleetProcess(engines: number, workDir: string): Promise<FleetProcess> {
  if (!existsSync(FLEET_CLI)) throw new Error(`${FLEET_CLI} is missing: build the bench first (tsc -p bench/fleet)`);
  const port = await freePort();
  const control = `http://127.0.0.1:${port}`;
  const addressesFile = path.join(workDir, "fleet-addresses");
  const log = openSync(path.join(workDir, "fleet.log"), "a");
  const child = track(
    spawn(
      process.execPath,
      [FLEET_CLI, "--engines", String(engines), "--label", "region=eu|us|ap", "--addresses-file", addressesFile, "--control", `127.0.0.1:${port}`],
      { stdio: ["ignore", log, log] },
    ),
  );
  closeSync(log);
  const call = async <T>(method: "GET" | "POST", route: string): Promise<T> => {
    const response = await request(`${control}${route}`, { method, headersTimeout: 60_000, bodyTimeout: 60_000 });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`fleet ${method} ${route}: ${response.statusCode} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the fleet exited (${child.exitCode}); see ${path.join(workDir, "fleet.log")}`);
    try {
      const addresses = await call<string[]>("GET", "/addresses");
      return { child, control, addresses, addressesFile, call };
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the fleet's control API did not answer: ${errorMessage(err)}`, { cause: err });
      await sleep(100);
    }
  }
}

// ---- one measured run ---------------------------------------------------------------------------

interface LatencySummary {
  readonly ok: number;
  readonly errors: number;
  readonly firstErrors: readonly string[];
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface FillSummary extends LatencySummary {
  /** Containers per second in each tenth of the fill, by completion order. */
  readonly perTenth: readonly number[];
}

interface Timing {
  readonly medianMs: number;
  readonly maxMs: number;
  readonly detail: string;
}

interface RunResult {
  readonly build: string;
  readonly commit: string;
  readonly round: number;
  readonly pingSeconds: number;
  readonly healthySeconds: number;
  readonly startupEngineRequests: number;
  readonly fill: FillSummary;
  readonly ps: Timing;
  readonly info: Timing;
  /** GET /metrics with the engines healthy and no container, then after the fill; undefined for a build without /metrics. */
  readonly scrape: { readonly empty: Timing; readonly full: Timing } | undefined;
  readonly memory: { readonly afterStartupMiB: number; readonly afterFillMiB: number; readonly peakMiB: number };
  readonly cpu: { readonly startupSeconds: number; readonly fillSeconds: number; readonly perContainerMs: number };
  readonly fleetCpuShareDuringFill: number;
  readonly engineRequestsPerContainer: number;
  readonly engineRequestsPerContainerByRoute: Readonly<Record<string, number>>;
  readonly unanswered: FleetStats["unanswered"];
  readonly spread: { readonly min: number; readonly max: number };
  readonly latencyRun: LatencySummary | undefined;
  readonly burst: LatencySummary | undefined;
  readonly managerLog: string;
  /** The fill, on the machine's monotonic clock in µs (the one V8 stamps profile samples with). */
  readonly fillWindowUs: readonly [number, number];
  /** With `--cpu-prof` in --manager-node-args: the profile written by this run and its top self-time functions. */
  readonly profile: ProfileSummary | undefined;
}

interface ProfileEntry {
  readonly fn: string;
  readonly ms: number;
  /** Share of the samples in which the manager was busy (idle time left out). */
  readonly busyPercent: number;
}

interface ProfileSummary {
  readonly file: string;
  /** Only the samples taken during the fill are counted. */
  readonly window: "fill" | "whole run";
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: readonly ProfileEntry[];
}

interface CpuProfile {
  readonly startTime: number;
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number } }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where `--cpu-prof-dir` sends profiles, if --manager-node-args asks for one. */
function profileDir(nodeArgs: readonly string[]): string | undefined {
  if (!nodeArgs.includes("--cpu-prof")) return undefined;
  for (let i = 0; i < nodeArgs.length; i++) {
    const arg = nodeArgs[i]!;
    if (arg.startsWith("--cpu-prof-dir=")) return path.resolve(arg.slice("--cpu-prof-dir=".length));
    if (arg === "--cpu-prof-dir" && nodeArgs[i + 1] !== undefined) return path.resolve(nodeArgs[i + 1]!);
  }
  return undefined;
}

/**
 * Self time by function (name, file, line) in a V8 CPU profile, counting only the samples taken
 * within `window` (µs on the monotonic clock, which V8's sample times and `process.hrtime` share).
 */
function summarizeProfile(file: string, count: number, window?: readonly [number, number]): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]!)?.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const ms = delta / 1000;
    if (!frame || (window !== undefined && (at < window[0] || at > window[1]))) continue;
    if (frame.functionName === "(idle)") {
      idle += ms;
      continue;
    }
    busy += ms;
    const where = frame.url === "" ? "" : ` ${shortSource(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || "(anonymous)"}${where}`;
    self.set(key, (self.get(key) ?? 0) + ms);
  }
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([fn, ms]) => ({ fn, ms, busyPercent: (100 * ms) / Math.max(busy, 1e-9) }));
  return { file, window: window === undefined ? "whole run" : "fill", busyMs: busy, idleMs: idle, top };
}

/** `node_modules/undici/…`, `core/dist/…`, `plugins/…/dist/…`, or Node's own `node:…`. */
function shortSource(url: string): string {
  // A baseline build lives under node_modules/.cache itself: first cut the worktree off.
  const file = url.replace(/^file:\/\//, "").replace(/^.*\/swarm-bench\/worktrees\/[0-9a-f]+\//, "");
  const rooted = `/${file}`;
  const dependency = rooted.lastIndexOf("/node_modules/");
  if (dependency >= 0) return rooted.slice(dependency + 1);
  for (const marker of ["/core/dist/", "/plugins/"]) {
    const at = rooted.lastIndexOf(marker);
    if (at >= 0) return rooted.slice(at + 1);
  }
  return file;
}

function newestProfile(dir: string, since: number): string | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(dir, f))
    .filter((f) => lstatSync(f).mtimeMs >= since)
    .sort((a, b) => lstatSync(b).mtimeMs - lstatSync(a).mtimeMs);
  return files[0];
}

class Client {
  readonly agent: Agent;

  constructor(
    readonly url: string,
    connections: number,
  ) {
    this.agent = new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000, connectTimeout: 30_000 });
  }

  async call(method: "GET" | "POST", route: string, body?: string): Promise<{ status: number; text: string }> {
    const response = await request(`${this.url}${route}`, {
      method,
      dispatcher: this.agent,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
    return { status: response.statusCode, text: await response.body.text() };
  }

  /** `docker run -d`: create, then start. Resolves with an error message, or undefined. */
  async run(createBody: string): Promise<string | undefined> {
    try {
      const created = await this.call("POST", "/v1.41/containers/create", createBody);
      if (created.status !== 201) return `create: ${created.status} ${created.text.trim()}`;
      const id = (JSON.parse(created.text) as { Id: string }).Id;
      const started = await this.call("POST", `/v1.41/containers/${id}/start`);
      if (started.status !== 204) return `start: ${started.status} ${started.text.trim()}`;
      return undefined;
    } catch (err) {
      return `request failed: ${errorMessage(err)}`;
    }
  }
}

/** `count` docker-run-style creations, `concurrency` at a time. */
async function runMany(client: Client, createBody: string, count: number, concurrency: number): Promise<FillSummary> {
  const latencies: number[] = [];
  const completions: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && !interrupted) {
      next++;
      const start = performance.now();
      const error = await client.run(createBody);
      const end = performance.now();
      if (error === undefined) {
        latencies.push(end - start);
        completions.push(end - t0);
      } else {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const perTenth: number[] = [];
  let previous = 0;
  for (let k = 0; k < 10 && completions.length > 0; k++) {
    const from = Math.floor((k * completions.length) / 10);
    const to = Math.floor(((k + 1) * completions.length) / 10);
    if (to <= from) continue;
    const end = completions[to - 1]!;
    perTenth.push((to - from) / Math.max((end - previous) / 1000, 1e-6));
    previous = end;
  }
  return {
    ok: latencies.length,
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 5),
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
    perTenth,
  };
}

/** `clients` create+start at once, each on its own connection, as many `docker run -d` started together. */
async function burst(url: string, createBody: string, clients: number): Promise<LatencySummary> {
  const agent = new Client(url, clients + 8);
  try {
    const summary = await runMany(agent, createBody, clients, clients);
    const { perTenth: _perTenth, ...rest } = summary;
    return rest;
  } finally {
    await agent.agent.close();
  }
}

/** A scrape of /metrics, timed like the other reads; undefined when the build serves none. */
async function scrapeTiming(client: Client, reps: number): Promise<Timing | undefined> {
  if ((await client.call("GET", "/metrics")).status === 404) return undefined;
  return timed(client, "/metrics", reps, (text) => `${(text.length / 1024).toFixed(0)} KiB, ${text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length} series`);
}

async function timed(client: Client, route: string, reps: number, check: (text: string) => string): Promise<Timing> {
  const times: number[] = [];
  let detail = "";
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const answer = await client.call("GET", route);
    times.push(performance.now() - t);
    if (answer.status !== 200) throw new Error(`GET ${route}: ${answer.status} ${answer.text.slice(0, 300)}`);
    detail = check(answer.text);
  }
  return { medianMs: median(times), maxMs: Math.max(...times), detail };
}

function healthyCount(infoText: string): { healthy: number; containers: number } {
  const info = JSON.parse(infoText) as { SystemStatus?: Array<[string, string]> | null; Containers?: number };
  const healthy = (info.SystemStatus ?? []).filter(([key, value]) => key === "  └ Status" && value === "Healthy").length;
  return { healthy, containers: info.Containers ?? 0 };
}

async function measure(build: Build, round: number, options: Options, fleet: FleetProcess, createBody: string, logBase: string): Promise<RunResult> {
  await fleet.call("POST", "/clear");
  await fleet.call("POST", "/stats/reset");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const discovery = options.discovery === "file" ? `file://${fleet.addressesFile}` : `nodes://${fleet.addresses.join(",")}`;
  const logFile = `${logBase}.${build.label.replace(/[^a-z0-9]+/gi, "-")}.r${round}.log`;
  const cwd = await tempDir("swarm-scale-");
  const log = openSync(logFile, "w");
  const t0 = performance.now();
  const manager = track(
    spawn(
      process.execPath,
      [...options.managerNodeArgs, path.join(build.root, "core", "bin", "swarm.js"), "manage", "-H", `tcp://127.0.0.1:${port}`, ...options.managerArgs, discovery],
      { cwd, stdio: ["ignore", log, log] },
    ),
  );
  closeSync(log);
  const pid = manager.pid;
  if (pid === undefined) throw new Error("swarm manage did not start");
  const client = new Client(url, Math.max(options.concurrency, options.latencyConcurrency ?? 0) + 8);
  try {
    const alive = () => {
      if (manager.exitCode !== null || manager.signalCode !== null) {
        throw new Error(`swarm manage exited (${manager.exitCode ?? manager.signalCode}); see ${logFile}`);
      }
    };
    let pingSeconds = Number.NaN;
    for (;;) {
      alive();
      try {
        const answer = await client.call("GET", "/_ping");
        if (answer.status === 200 && answer.text === "OK") {
          pingSeconds = (performance.now() - t0) / 1000;
          break;
        }
      } catch {
        // not listening yet
      }
      if (performance.now() - t0 > 60_000) throw new Error(`swarm manage did not answer /_ping within 60 s; see ${logFile}`);
      await sleep(50);
    }
    let healthySeconds = Number.NaN;
    let lastHealthy = 0;
    for (;;) {
      alive();
      const answer = await client.call("GET", "/info");
      lastHealthy = healthyCount(answer.text).healthy;
      if (lastHealthy === options.engines) {
        healthySeconds = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() - t0 > options.healthyTimeoutMs) {
        throw new Error(`only ${lastHealthy} of ${options.engines} engines were healthy after ${options.healthyTimeoutMs / 1000} s; see ${logFile}`);
      }
      // /info at 1,000 engines is large: asking often would slow the start being measured.
      await sleep(performance.now() - t0 < 5_000 ? 200 : 500);
    }
    const startupStats = await fleet.call<FleetStats>("GET", "/stats");
    const afterStartup = memoryMiB(pid);
    const startupCpu = cpuSeconds(pid);
    const scrapeEmpty = await scrapeTiming(client, options.reps);
    console.error(`  ${build.label} r${round}: /_ping after ${pingSeconds.toFixed(2)} s, ${options.engines} engines healthy after ${healthySeconds.toFixed(2)} s; filling …`);

    await fleet.call("POST", "/stats/reset");
    const fleetCpu0 = cpuSeconds(fleet.child.pid ?? -1);
    const cpu0 = cpuSeconds(pid);
    const fillStartUs = Number(process.hrtime.bigint() / 1000n);
    const fill = await runMany(client, createBody, options.containers, options.concurrency);
    const fillEndUs = Number(process.hrtime.bigint() / 1000n);
    const cpu1 = cpuSeconds(pid);
    const fleetCpu1 = cpuSeconds(fleet.child.pid ?? -1);
    const fillStats = await fleet.call<FleetStats>("GET", "/stats");
    const afterFill = memoryMiB(pid);
    alive();
    console.error(
      `  ${build.label} r${round}: ${fill.ok} containers in ${fill.seconds.toFixed(1)} s (${fill.perSecond.toFixed(1)}/s), ${fill.errors} errors; ps and info …`,
    );

    const expected = fill.ok;
    const ps = await timed(client, "/v1.41/containers/json?all=1", options.reps, (text) => {
      const listed = (JSON.parse(text) as unknown[]).length;
      return listed === expected ? `${listed} listed` : `${listed} listed, ${expected} expected`;
    });
    const info = await timed(client, "/v1.41/info", options.reps, (text) => {
      const { healthy, containers } = healthyCount(text);
      return `${healthy} healthy, ${containers} containers`;
    });
    const scrapeFull = scrapeEmpty && (await scrapeTiming(client, options.reps));

    let latencyRun: LatencySummary | undefined;
    if (options.latencyConcurrency !== undefined) {
      const { perTenth: _perTenth, ...rest } = await runMany(client, createBody, options.latencyContainers, options.latencyConcurrency);
      latencyRun = rest;
    }
    const burstResult = options.burst === undefined ? undefined : await burst(url, createBody, options.burst);
    const end = memoryMiB(pid);

    const perContainer: Record<string, number> = {};
    for (const [route, count] of Object.entries(fillStats.byRoute)) perContainer[route] = count / Math.max(fill.ok, 1);
    const finalStats = await fleet.call<FleetStats>("GET", "/stats");
    const counts = finalStats.byEngine.map((e) => e.containers);
    const fillCpu = cpu1 - cpu0;
    return {
      build: build.label,
      commit: build.commit,
      round,
      pingSeconds,
      healthySeconds,
      startupEngineRequests: startupStats.requests,
      fill,
      ps,
      info,
      scrape: scrapeEmpty && scrapeFull ? { empty: scrapeEmpty, full: scrapeFull } : undefined,
      memory: { afterStartupMiB: afterStartup.rss, afterFillMiB: afterFill.rss, peakMiB: end.peak },
      cpu: { startupSeconds: startupCpu, fillSeconds: fillCpu, perContainerMs: (fillCpu * 1000) / Math.max(fill.ok, 1) },
      fleetCpuShareDuringFill: (fleetCpu1 - fleetCpu0) / fill.seconds,
      engineRequestsPerContainer: fillStats.requests / Math.max(fill.ok, 1),
      engineRequestsPerContainerByRoute: perContainer,
      unanswered: finalStats.unanswered,
      spread: { min: Math.min(...counts), max: Math.max(...counts) },
      latencyRun,
      burst: burstResult,
      managerLog: logFile,
      fillWindowUs: [fillStartUs, fillEndUs],
      profile: undefined,
    };
  } finally {
    await client.agent.close().catch(() => undefined);
    // --cpu-prof writes its profile as the manager exits, which takes a while for a long run.
    await stopChild(manager, 30_000);
    await removeTempDir(cwd);
  }
}

/** A run, then the summary of the profile its manager wrote on exit (with --cpu-prof). */
async function measureWithProfile(build: Build, round: number, options: Options, fleet: FleetProcess, createBody: string, logBase: string): Promise<RunResult> {
  const started = Date.now();
  const result = await measure(build, round, options, fleet, createBody, logBase);
  const dir = profileDir(options.managerNodeArgs);
  const file = dir === undefined ? undefined : newestProfile(dir, started);
  return file === undefined ? result : { ...result, profile: summarizeProfile(file, 10, result.fillWindowUs) };
}

// ---- report -------------------------------------------------------------------------------------

function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length)));
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  ")).join("\n");
}

function report(runs: readonly RunResult[], options: Options, conditions: Record<string, unknown>): string {
  const header = ["", ...runs.map((r) => `${r.build} r${r.round}`)];
  const row = (label: string, value: (r: RunResult) => string) => [label, ...runs.map(value)];
  const summary = (s: LatencySummary | undefined) =>
    s === undefined ? "–" : `${fmt(s.p50Ms)}/${fmt(s.p99Ms)}/${fmt(s.maxMs)} ms${s.errors > 0 ? `, ${s.errors} ERRORS` : ", 0 errors"}`;
  const rows: string[][] = [
    header,
    row("API answers /_ping (s)", (r) => fmt(r.pingSeconds, 2)),
    row(`${options.engines} engines healthy (s)`, (r) => fmt(r.healthySeconds, 2)),
    row("engine requests during startup", (r) => String(r.startupEngineRequests)),
    row(`fill: containers ok / errors`, (r) => `${r.fill.ok} / ${r.fill.errors}`),
    row("fill duration (s)", (r) => fmt(r.fill.seconds)),
    row("fill throughput (containers/s)", (r) => fmt(r.fill.perSecond)),
    row("  by tenth of the fill", (r) => r.fill.perTenth.map((x) => x.toFixed(0)).join(" ")),
    row(`create+start p50 / p90 (ms)`, (r) => `${fmt(r.fill.p50Ms)} / ${fmt(r.fill.p90Ms)}`),
    row(`create+start p99 / max (ms)`, (r) => `${fmt(r.fill.p99Ms)} / ${fmt(r.fill.maxMs)}`),
    row(`ps -a median / max (ms)`, (r) => `${fmt(r.ps.medianMs)} / ${fmt(r.ps.maxMs)} (${r.ps.detail})`),
    row(`info median / max (ms)`, (r) => `${fmt(r.info.medianMs)} / ${fmt(r.info.maxMs)} (${r.info.detail})`),
    row(`/metrics scrape, no containers (ms)`, (r) => (r.scrape ? `${fmt(r.scrape.empty.medianMs)} / ${fmt(r.scrape.empty.maxMs)} (${r.scrape.empty.detail})` : "not served")),
    row(`/metrics scrape after the fill (ms)`, (r) => (r.scrape ? `${fmt(r.scrape.full.medianMs)} / ${fmt(r.scrape.full.maxMs)} (${r.scrape.full.detail})` : "not served")),
    row("manager RSS after startup / fill (MiB)", (r) => `${fmt(r.memory.afterStartupMiB, 0)} / ${fmt(r.memory.afterFillMiB, 0)}`),
    row("manager peak RSS, VmHWM (MiB)", (r) => fmt(r.memory.peakMiB, 0)),
    row("manager CPU: startup / fill (s)", (r) => `${fmt(r.cpu.startupSeconds)} / ${fmt(r.cpu.fillSeconds)}`),
    row("manager CPU per container (ms)", (r) => fmt(r.cpu.perContainerMs, 2)),
    row("fleet CPU during fill (share of a core)", (r) => fmt(r.fleetCpuShareDuringFill, 2)),
    row("engine requests per container", (r) => fmt(r.engineRequestsPerContainer, 2)),
    row("  of which the periodic refresh's listings", (r) => fmt(refreshShare(r.engineRequestsPerContainerByRoute), 2)),
    row("unanswered engine calls", (r) => String(r.unanswered.reduce((s, u) => s + u.count, 0))),
    row("containers per engine min / max", (r) => `${r.spread.min} / ${r.spread.max}`),
  ];
  if (options.latencyConcurrency !== undefined) {
    rows.push(row(`latency run (${options.latencyContainers} at C=${options.latencyConcurrency}) p50/p99/max`, (r) => summary(r.latencyRun)));
  }
  if (options.burst !== undefined) rows.push(row(`burst of ${options.burst} clients p50/p99/max`, (r) => summary(r.burst)));
  const lines = [
    `scale benchmark, ${String(conditions.date)}`,
    `  ${options.engines} simulated engines (one child process), ${options.containers} containers at concurrency ${options.concurrency}, ${options.rounds} round(s), ${options.discovery}:// discovery`,
    `  ${String(conditions.cpu)}; Node ${process.version}; load average before ${String(conditions.loadBefore)}, after ${String(conditions.loadAfter)}`,
    `  create body: ${String(conditions.createBody)}`,
    ...runs.map((r) => `  ${r.build} r${r.round}: commit ${r.commit.slice(0, 12)}, log ${path.relative(REPO, r.managerLog)}`),
    "",
    table(rows),
    "",
    "engine requests per container created during the fill, by route:",
  ];
  const routes = [...new Set(runs.flatMap((r) => Object.keys(r.engineRequestsPerContainerByRoute)))];
  routes.sort((a, b) => (runs[0]!.engineRequestsPerContainerByRoute[b] ?? 0) - (runs[0]!.engineRequestsPerContainerByRoute[a] ?? 0));
  lines.push(table([header, ...routes.map((route) => row(`  ${route}`, (r) => fmt(r.engineRequestsPerContainerByRoute[route] ?? 0, 3)))]));
  for (const r of runs) {
    if (r.profile) {
      lines.push(
        "",
        `${r.build} r${r.round}: CPU profile ${r.profile.file}, ${r.profile.window === "fill" ? "samples taken during the fill" : "the whole run"} (${fmt(r.profile.busyMs / 1000)} s busy, ${fmt(r.profile.idleMs / 1000)} s idle), top self time:`,
        ...r.profile.top.map((e) => `  ${fmt(e.busyPercent).padStart(5)} %  ${fmt(e.ms, 0).padStart(7)} ms  ${e.fn}`),
      );
    }
    for (const u of r.unanswered) lines.push(`  ${r.build} r${r.round}: UNANSWERED ${u.method} ${u.route}: ${u.count}`);
    for (const e of r.fill.firstErrors) lines.push(`  ${r.build} r${r.round}: fill error: ${e}`);
    for (const e of r.burst?.firstErrors ?? []) lines.push(`  ${r.build} r${r.round}: burst error: ${e}`);
    for (const e of r.latencyRun?.firstErrors ?? []) lines.push(`  ${r.build} r${r.round}: latency-run error: ${e}`);
  }
  return lines.join("\n");
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions();
  } catch (err) {
    console.error(`scale benchmark: ${errorMessage(err)}\n${USAGE}`);
    process.exit(2);
  }
  await fsp.mkdir(path.dirname(options.out), { recursive: true });
  const builds: Build[] = [];
  if (!options.skipCurrent) builds.push(await currentBuild(false));
  if (options.baseline !== undefined) builds.push(await baselineBuild(options.baseline));

  let createBody = RECORDED_RUN_BODY;
  let createBodySource = "recorded from docker CLI 28.2.2 (no docker CLI here)";
  try {
    const captured = await captureDockerRun(["-d", "busybox", "sleep", "600"]);
    createBody = captured.body;
    createBodySource = `captured from ${captured.userAgent} (docker run -d busybox sleep 600)`;
  } catch (err) {
    console.error(`could not capture the docker CLI's create body (${errorMessage(err)}); using the recorded one`);
  }

  const cpus = os.cpus();
  const conditions: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}`,
    loadBefore: os.loadavg().map((l) => l.toFixed(2)).join(" "),
    createBody: createBodySource,
  };
  const workDir = await tempDir("swarm-scale-fleet-");
  const logBase = options.out.replace(/\.json$/, "");
  console.error(`starting ${options.engines} simulated engines …`);
  const fleet = await startFleetProcess(options.engines, workDir);
  const runs: RunResult[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? builds : [...builds].reverse();
      for (const build of order) {
        if (interrupted) return;
        runs.push(await measureWithProfile(build, round, options, fleet, createBody, logBase));
      }
    }
  } finally {
    await fleet.call("POST", "/stop").catch(() => undefined);
    await stopChild(fleet.child, 10_000);
    await removeTempDir(workDir);
  }
  conditions.loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  const text = report(runs, options, conditions);
  console.log(text);
  await fsp.writeFile(options.out, `${JSON.stringify({ conditions, options, builds, runs }, null, 2)}\n`);
  console.log(`\nwritten to ${path.relative(process.cwd(), options.out)}`);
  if (runs.some((r) => r.fill.errors > 0 || (r.burst?.errors ?? 0) > 0 || r.unanswered.length > 0)) process.exitCode = 1;
}

await main().catch((err: unknown) => {
  console.error(`scale benchmark failed: ${errorMessage(err)}`);
  process.exitCode = 1;
});
