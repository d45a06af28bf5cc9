/**
 * What the manager's proxy hop costs: the same operations against one real dockerd, once directly
 * and once through a `swarm manage` (nodes:// discovery) in front of that same engine, in one run.
 *
 *   - `docker logs` of a container that wrote LOGS_MB MiB to stdout: undici straight to
 *     GET /containers/{id}/logs?stdout=1, and the docker CLI (`docker -H … logs`);
 *   - `docker cp` of a CP_MB MiB random file into the container and back out (CLI), checksums verified once;
 *     uploads also through a bare TCP relay (a Node socket pipe, no HTTP) run by this process: the
 *     cheapest hop Node offers, as a baseline for what the manager's own HTTP handling adds;
 *   - GET /containers/{id}/json latency over one keep-alive connection, sequential requests.
 *
 * Direct and through-manager runs alternate, and throughput ratios are taken per rep (both endpoints
 * back to back), so drift hits both alike. Single reps still scatter widely on a small machine shared
 * with other work (the load average is printed with the figures, the per-rep ratios' interquartile
 * range with each ratio): with 7 reps the median of a 100 MiB upload's ratio moved by ±8 points from
 * run to run, hence 15 by default.
 * Needs root, dockerd, the docker CLI and busybox-static, like the system tests; the manager runs from
 * core/dist, hence the build first.
 *
 *   npx tsc -b tsconfig.build.json && npm run bench:proxy [-- --reps 15 --requests 2000 --logs-mb 10 --cp-mb 100]
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import * as net from "node:net";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Client, request } from "undici";
import {
  dockerHost,
  ensureBusyboxImage,
  registerCleanup,
  startEngines,
  startManagerProcess,
  waitFor,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

const { REPS, REQUESTS, LOGS_MB, CP_MB } = (() => {
  try {
    const { values } = parseArgs({
      options: {
        reps: { type: "string", default: "15" },
        requests: { type: "string", default: "2000" },
        "logs-mb": { type: "string", default: "10" },
        "cp-mb": { type: "string", default: "100" },
      },
    });
    return {
      REPS: positiveInt("--reps", values.reps),
      REQUESTS: positiveInt("--requests", values.requests),
      LOGS_MB: positiveInt("--logs-mb", values["logs-mb"]),
      CP_MB: positiveInt("--cp-mb", values["cp-mb"]),
    };
  } catch (err) {
    console.error(`proxy benchmark: ${errorMessage(err)}\nusage: node bench/dist/proxy.bench.js [--reps N] [--requests K] [--logs-mb M] [--cp-mb M]`);
    process.exit(2);
  }
})();
const MiB = 1024 * 1024;
const LOGS_BYTES = LOGS_MB * MiB;
const CP_BYTES = CP_MB * MiB;
/** Log lines of 1 KiB (1023 characters and a newline), so the engine's json-file driver sees ordinary lines. */
const LOG_LINE = 1024;
const WARMUP_REQUESTS = 200;
/** Inspect requests are sent in alternating blocks of this many per endpoint. */
const BLOCK = 500;
const CLI_TIMEOUT_MS = 120_000;
const MANAGER_ARGS = ["--engine-refresh-min-interval", "30s", "--engine-refresh-max-interval", "60s"] as const;

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs one step; a failure names the step. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${what} failed: ${errorMessage(err)}`, { cause: err });
  }
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// ---- the docker CLI -------------------------------------------------------------------------

interface Endpoint {
  readonly label: "direct" | "manager";
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** tcp://127.0.0.1:PORT, for docker -H */
  readonly dockerHost: string;
  /** One keep-alive connection for the undici measurements. */
  readonly client: Client;
}

let cliEnv: NodeJS.ProcessEnv = {};

/**
 * `docker -H <host> args…`; stdout is counted and discarded (or handed to `onStdout`), stderr kept for
 * the error. Resolves with the number of stdout bytes.
 */
function cli(host: string, args: readonly string[], onStdout?: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", ["-H", host, ...args], { env: cliEnv, stdio: ["ignore", "pipe", "pipe"] });
    let bytes = 0;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      onStdout?.(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`docker -H ${host} ${args.join(" ")} could not run: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(bytes);
      else {
        const why = signal === "SIGKILL" ? `was killed after ${CLI_TIMEOUT_MS / 1000}s` : `exited with ${signal ?? `code ${code}`}`;
        reject(new Error(`docker -H ${host} ${args.join(" ")} ${why}; stderr: ${stderr.trim() || "(empty)"}`));
      }
    });
  });
}

/** `docker -H <host> args…` and its stdout as trimmed text. */
async function cliText(host: string, args: readonly string[]): Promise<string> {
  let text = "";
  await cli(host, args, (chunk) => (text += chunk.toString("utf8")));
  return text.trim();
}

// ---- HTTP helpers ---------------------------------------------------------------------------

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text.trim()}`);
  return JSON.parse(text) as T;
}

async function postJson<T>(url: string, body?: unknown): Promise<T> {
  const res = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`POST ${url} answered ${res.statusCode}: ${text.trim()}`);
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/** Creates and starts a busybox container on the engine itself (not through the manager). */
async function runContainer(engine: TestEngine, cmd: string[]): Promise<string> {
  const { Id } = await postJson<{ Id: string }>(`${engine.url}/containers/create`, {
    Image: "busybox:latest",
    Cmd: cmd,
    Labels: { "swarm.bench": "proxy" },
    HostConfig: { NetworkMode: "none" },
  });
  await postJson(`${engine.url}/containers/${Id}/start`);
  return Id;
}

/** The manager learns of engine-side containers from the event stream; wait until it can route to one. */
async function waitUntilManagerSees(manager: ManagerProcess, id: string): Promise<void> {
  await waitFor({
    what: `the manager did not route GET /containers/${id.slice(0, 12)}/json`,
    timeoutMs: 30_000,
    probe: async (signal) => {
      const res = await request(`${manager.url}/containers/${id}/json`, { signal });
      await res.body.dump();
      return res.statusCode === 200 ? true : undefined;
    },
  });
}

/** GET the logs over the endpoint's keep-alive connection, reading and discarding the body; resolves with its size. */
async function fetchLogs(endpoint: Endpoint, id: string): Promise<number> {
  const res = await endpoint.client.request({ method: "GET", path: `/containers/${id}/logs?stdout=1` });
  if (res.statusCode !== 200) throw new Error(`GET ${endpoint.url}/containers/${id}/logs answered ${res.statusCode}: ${await res.body.text()}`);
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
  }
  return bytes;
}

/** Demultiplexes a non-TTY log stream (8-byte frame headers) and returns the stdout payload size. */
function stdoutPayload(raw: Buffer): number {
  let at = 0;
  let payload = 0;
  while (at + 8 <= raw.length) {
    const stream = raw[at]!;
    const size = raw.readUInt32BE(at + 4);
    if (stream !== 1) throw new Error(`log frame at byte ${at} is for stream ${stream}, not stdout`);
    payload += size;
    at += 8 + size;
  }
  if (at !== raw.length) throw new Error(`log stream ends mid-frame (${raw.length - at} stray bytes)`);
  return payload;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

// ---- the run --------------------------------------------------------------------------------

interface Row {
  readonly measure: string;
  readonly direct: number;
  readonly manager: number;
  readonly unit: string;
  /** manager / direct. */
  readonly ratio: number;
  /** Throughput rows: the interquartile range of the per-rep ratios, which shows how far one run's median can be trusted. */
  readonly ratioQuartiles?: readonly [number, number];
  /** "min": manager/direct must be at least `target`; "max": at most. */
  readonly kind: "min" | "max" | "info";
  readonly target: number;
}

const rows: Row[] = [];
const details: string[] = [];
let engines: TestEngines | undefined;
let manager: ManagerProcess | undefined;
let workDir: string | undefined;
let untrackWorkDir: (() => void) | undefined;
const endpoints: Endpoint[] = [];
const containers: string[] = [];
let failed = false;
const startedAt = Date.now();

try {
  workDir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "swarm-bench-proxy-")));
  const dir = workDir;
  // If this process is killed, the test kit's reaper removes the directory (and the 100 MiB in it).
  untrackWorkDir = registerCleanup({
    name: `proxy benchmark files in ${dir}`,
    dispose: () => fsp.rm(dir, { recursive: true, force: true }),
    disposeSync: () => rmSync(dir, { recursive: true, force: true }),
    reaper: { kind: "dir", name: `proxy benchmark files in ${dir}`, path: dir },
  });
  cliEnv = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: workDir,
    DOCKER_CONFIG: path.join(workDir, "docker-config"),
    DOCKER_CLI_HINTS: "false",
  };
  const workDirNow = workDir;

  engines = await step("starting one dockerd", () => startEngines(1));
  const engine = engines.engines[0]!;
  await step(`importing busybox into ${engine.host}`, () => ensureBusyboxImage(engine));
  manager = await step(`starting swarm manage in front of ${engine.host}`, () =>
    startManagerProcess({ discovery: `nodes://${engine.host}`, args: [...MANAGER_ARGS] }),
  );
  const managerNow = manager;
  await step("waiting for the manager to validate the engine", () =>
    waitFor({
      what: `the manager did not report ${engine.host} healthy`,
      timeoutMs: 30_000,
      probe: async (signal) => {
        const res = await request(`${managerNow.url}/info`, { signal });
        return (await res.body.text()).includes("Healthy") ? true : undefined;
      },
    }),
  );
  const direct: Endpoint = {
    label: "direct",
    url: engine.url,
    dockerHost: dockerHost(engine),
    client: new Client(engine.url, { pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 60_000 }),
  };
  endpoints.push(direct);
  const proxied: Endpoint = {
    label: "manager",
    url: manager.url,
    dockerHost: manager.dockerHost,
    client: new Client(manager.url, { pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 60_000 }),
  };
  endpoints.push(proxied);
  /** Both endpoints in turn, the first one alternating with `rep`, so neither always goes first. */
  const inTurn = (rep: number): Endpoint[] => (rep % 2 === 0 ? [direct, proxied] : [proxied, direct]);

  const version = await step("GET /version from the engine", () =>
    getJson<{ Version: string; ApiVersion: string }>(`${engine.url}/version`),
  );
  const info = await step("GET /info from the engine", () =>
    getJson<{ Driver?: string; LoggingDriver?: string }>(`${engine.url}/info`),
  );
  const cliVersion = await step("docker version", () => cliText(direct.dockerHost, ["version", "--format", "{{.Client.Version}}"]));
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";

  console.log(`proxy benchmark — one dockerd directly vs through swarm manage in front of it (nodes://${engine.host})`);
  console.log(
    `Node ${process.version}, ${os.cpus().length} CPUs (${cpu}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}, ` +
      `load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} at start`,
  );
  console.log(`engine: dockerd ${version.Version} (API ${version.ApiVersion}), storage driver ${info.Driver ?? "?"}, loopback TCP; docker CLI ${cliVersion}`);
  console.log(`manager: swarm manage ${MANAGER_ARGS.join(" ")}; same host, separate process`);
  console.log(
    `sizes: logs ${LOGS_MB} MiB (${LOG_LINE}-byte lines, ${info.LoggingDriver ?? "?"} log driver), cp ${CP_MB} MiB random data each way; ` +
      `${REPS} timed reps per measure after one untimed warm-up rep, direct/manager alternating`,
  );
  console.log(
    `inspect: ${REQUESTS} sequential requests per endpoint after ${WARMUP_REQUESTS} warm-up, one keep-alive connection each, ` +
      `alternating blocks of ${BLOCK}`,
  );
  console.log("MiB/s: median over the reps of payload bytes / wall time (CLI times include the CLI's own start-up);");
  console.log(
    "throughput ratio: median of the per-rep manager/direct ratios (each rep runs both back to back), with their interquartile range; " +
      "latency ratio: p50/p50.\n",
  );

  // ---- 1. docker logs ----------------------------------------------------------------------
  const logsId = await step(`creating the ${LOGS_MB} MiB log container`, async () => {
    const line = "x".repeat(LOG_LINE - 1);
    const id = await runContainer(engine, ["sh", "-c", `yes ${line} | head -c ${LOGS_BYTES}`]);
    containers.push(id);
    const { StatusCode } = await postJson<{ StatusCode: number }>(`${engine.url}/containers/${id}/wait`);
    if (StatusCode !== 0) throw new Error(`the log writer exited with ${StatusCode}`);
    await waitUntilManagerSees(managerNow, id);
    return id;
  });

  await step("verifying the logs (both endpoints, undici)", async () => {
    const sums: string[] = [];
    for (const endpoint of [direct, proxied]) {
      const chunks: Buffer[] = [];
      const res = await endpoint.client.request({ method: "GET", path: `/containers/${logsId}/logs?stdout=1` });
      if (res.statusCode !== 200) throw new Error(`${endpoint.label} answered ${res.statusCode}`);
      for await (const chunk of res.body as AsyncIterable<Buffer>) chunks.push(chunk);
      const raw = Buffer.concat(chunks);
      const payload = stdoutPayload(raw);
      if (payload !== LOGS_BYTES) throw new Error(`${endpoint.label}: ${payload} bytes of stdout, expected ${LOGS_BYTES}`);
      sums.push(createHash("sha256").update(raw).digest("hex"));
    }
    if (sums[0] !== sums[1]) throw new Error("the manager's log stream differs from the engine's");
  });

  const logsHttp: Samples = { direct: [], manager: [] };
  const logsCli: Samples = { direct: [], manager: [] };
  for (let rep = -1; rep < REPS; rep++) {
    for (const endpoint of inTurn(rep)) {
      let t0 = process.hrtime.bigint();
      await step(`GET logs from ${endpoint.label} (rep ${rep + 1})`, () => fetchLogs(endpoint, logsId));
      const httpSeconds = seconds(t0);
      t0 = process.hrtime.bigint();
      const bytes = await step(`docker logs via ${endpoint.label} (rep ${rep + 1})`, () => cli(endpoint.dockerHost, ["logs", logsId]));
      const cliSeconds = seconds(t0);
      if (bytes !== LOGS_BYTES) throw new Error(`docker logs via ${endpoint.label} printed ${bytes} bytes, expected ${LOGS_BYTES}`);
      if (rep < 0) continue;
      logsHttp[endpoint.label].push(LOGS_BYTES / MiB / httpSeconds);
      logsCli[endpoint.label].push(LOGS_BYTES / MiB / cliSeconds);
    }
  }
  rows.push(throughputRow(`logs ${LOGS_MB} MiB, undici`, logsHttp));
  rows.push(throughputRow(`logs ${LOGS_MB} MiB, docker CLI`, logsCli));
  details.push(`logs undici  MiB/s direct ${fmtList(logsHttp.direct)} | manager ${fmtList(logsHttp.manager)}`);
  details.push(`logs CLI     MiB/s direct ${fmtList(logsCli.direct)} | manager ${fmtList(logsCli.manager)}`);

  // ---- 2. docker cp ------------------------------------------------------------------------
  const cpId = await step("creating the cp container", async () => {
    const id = await runContainer(engine, ["sleep", "3600"]);
    containers.push(id);
    await waitUntilManagerSees(managerNow, id);
    return id;
  });
  const source = path.join(workDirNow, "payload.bin");
  const sourceSum = await step(`writing ${CP_MB} MiB of random data to ${source}`, async () => {
    const hash = createHash("sha256");
    const handle = await fsp.open(source, "w");
    try {
      for (let written = 0; written < CP_BYTES; written += MiB) {
        const chunk = randomBytes(Math.min(MiB, CP_BYTES - written));
        hash.update(chunk);
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    return hash.digest("hex");
  });

  const relayHost = await step("starting the bare TCP relay", () => startRelay(engine.host));
  const cpIn: Samples = { direct: [], manager: [] };
  const cpInRelay: number[] = [];
  const cpOut: Samples = { direct: [], manager: [] };
  for (let rep = -1; rep < REPS; rep++) {
    if (rep >= 0) {
      // The baseline right after this rep's direct upload would land; paired with it for the ratio.
      const t0 = process.hrtime.bigint();
      await step(`docker cp ${source} → container via the bare relay (rep ${rep + 1})`, () =>
        cli(relayHost, ["cp", source, `${cpId}:/tmp/payload-relay.bin`]),
      );
      cpInRelay.push(CP_BYTES / MiB / seconds(t0));
    }
    for (const endpoint of inTurn(rep)) {
      const inside = `/tmp/payload-${endpoint.label}.bin`;
      const back = path.join(workDirNow, `back-${endpoint.label}.bin`);
      let t0 = process.hrtime.bigint();
      await step(`docker cp ${source} → container via ${endpoint.label} (rep ${rep + 1})`, () =>
        cli(endpoint.dockerHost, ["cp", source, `${cpId}:${inside}`]),
      );
      const inSeconds = seconds(t0);
      t0 = process.hrtime.bigint();
      await step(`docker cp container → ${back} via ${endpoint.label} (rep ${rep + 1})`, () =>
        cli(endpoint.dockerHost, ["cp", `${cpId}:${inside}`, back]),
      );
      const outSeconds = seconds(t0);
      if (rep < 0) {
        // The warm-up rep checks the transfer both ways, so the timed reps measure a correct copy.
        await step(`checking the checksums of the copies via ${endpoint.label}`, async () => {
          const insideSum = (await cliText(direct.dockerHost, ["exec", cpId, "sha256sum", inside])).split(" ")[0];
          if (insideSum !== sourceSum) throw new Error(`in the container: sha256 ${insideSum}, expected ${sourceSum}`);
          const backSum = await fileSha256(back);
          if (backSum !== sourceSum) throw new Error(`copied back: sha256 ${backSum}, expected ${sourceSum}`);
        });
      } else {
        cpIn[endpoint.label].push(CP_BYTES / MiB / inSeconds);
        cpOut[endpoint.label].push(CP_BYTES / MiB / outSeconds);
      }
      await fsp.rm(back, { force: true });
    }
  }
  rows.push(throughputRow(`cp ${CP_MB} MiB into container`, cpIn));
  rows.push({ ...throughputRow("  same, bare TCP relay (baseline)", { direct: cpIn.direct, manager: cpInRelay }), kind: "info", target: 0 });
  rows.push(throughputRow(`cp ${CP_MB} MiB out of container`, cpOut));
  details.push(`cp in       MiB/s direct ${fmtList(cpIn.direct)} | manager ${fmtList(cpIn.manager)} | bare relay ${fmtList(cpInRelay)}`);
  details.push(`cp out      MiB/s direct ${fmtList(cpOut.direct)} | manager ${fmtList(cpOut.manager)}`);
  await fsp.rm(source, { force: true });

  // ---- 3. inspect latency ------------------------------------------------------------------
  // Blocks of BLOCK requests per endpoint, alternating, so each endpoint is measured in steady state
  // (one request after another on a warm connection) while slow drift still hits both alike.
  const timedGet = async (endpoint: Endpoint, urlPath: string): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const res = await endpoint.client.request({ method: "GET", path: urlPath });
    const text = await res.body.text();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.statusCode !== 200) throw new Error(`GET ${endpoint.url}${urlPath} answered ${res.statusCode}: ${text.trim()}`);
    return ms;
  };
  const latencies = async (urlPath: string, count: number) => {
    const out = { direct: new Float64Array(count), manager: new Float64Array(count) };
    for (const endpoint of [direct, proxied]) for (let i = 0; i < WARMUP_REQUESTS; i++) await timedGet(endpoint, urlPath);
    for (let start = 0, block = 0; start < count; start += BLOCK, block++) {
      for (const endpoint of inTurn(block)) {
        for (let i = start; i < Math.min(count, start + BLOCK); i++) out[endpoint.label][i] = await timedGet(endpoint, urlPath);
      }
    }
    out.direct.sort();
    out.manager.sort();
    return out;
  };
  const inspect = await step("measuring inspect latency", () => latencies(`/containers/${cpId}/json`, REQUESTS));
  rows.push(latencyRow("inspect p50 (keep-alive)", inspect, 50, "max", 1.5));
  rows.push(latencyRow("inspect p99 (keep-alive)", inspect, 99, "info", 0));
  // The manager answers /_ping itself: the cost of its HTTP server alone, without the hop to the engine.
  const ping = await step("measuring _ping latency", () => latencies("/_ping", Math.min(REQUESTS, 1000)));
  rows.push(latencyRow("_ping p50 (no hop: baseline)", ping, 50, "info", 0));

  printTable();
  console.log("\nnote: the manager answers inspect from its event-fed mirror (no engine hop) unless ?size=1 or a health check");
  console.log("      asks for a live read; _ping is answered by the manager itself and shows its HTTP server alone.");
  console.log("      Uploads through any hop pay its CPU per byte on the same cores as the CLI and dockerd; the bare relay");
  console.log("      row is that cost alone, with no HTTP.");
  console.log("\nper rep:");
  for (const line of details) console.log(`  ${line}`);
  console.log(`\nload average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} at the end; ${((Date.now() - startedAt) / 1000).toFixed(0)} s in all`);
} catch (err) {
  failed = true;
  console.error(`\nproxy benchmark failed: ${errorMessage(err)}`);
  if (manager) console.error(`last manager log lines:\n${await manager.logTail(20).catch(() => "(none)")}`);
} finally {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${errorMessage(err)}`);
    }
  };
  for (const endpoint of endpoints) await attempt(`closing the ${endpoint.label} client`, () => endpoint.client.close());
  const engineUrl = engines?.engines[0]?.url;
  for (const id of containers) {
    await attempt(`removing container ${id.slice(0, 12)}`, async () => {
      const res = await request(`${engineUrl}/containers/${id}?force=1&v=1`, { method: "DELETE" });
      const text = await res.body.text();
      if (res.statusCode >= 300 && res.statusCode !== 404) throw new Error(`answered ${res.statusCode}: ${text.trim()}`);
    });
  }
  if (manager) await attempt("stopping the manager", () => manager!.stop());
  if (engines) await attempt("stopping the engine", () => engines!.stopAll());
  if (workDir) {
    await attempt(`removing ${workDir}`, () => fsp.rm(workDir!, { recursive: true, force: true }));
    untrackWorkDir?.();
  }
  if (problems.length > 0) {
    failed = true;
    console.error(`cleanup was incomplete:\n  ${problems.join("\n  ")}`);
  }
  if (failed) process.exitCode = 1;
}

/** A plain socket pipe to the engine, both ways: a hop with no HTTP in it. Closed with the process. */
async function startRelay(engineHost: string): Promise<string> {
  const [host, port] = [engineHost.slice(0, engineHost.lastIndexOf(":")), Number(engineHost.slice(engineHost.lastIndexOf(":") + 1))];
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    const both = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", both).on("close", both);
    upstream.on("error", both).on("close", both);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.unref();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

interface Samples {
  readonly direct: number[];
  readonly manager: number[];
}

/**
 * A throughput row: both medians, and as ratio the median of the per-rep ratios. Each rep ran the two
 * endpoints back to back, so a paired ratio cancels most of the drift a shared machine adds.
 */
function throughputRow(measure: string, samples: Samples): Row {
  const paired = samples.direct.map((d, i) => samples.manager[i]! / d);
  const sorted = Float64Array.from(paired).sort();
  return {
    measure,
    direct: median(samples.direct),
    manager: median(samples.manager),
    unit: "MiB/s",
    ratio: median(paired),
    ratioQuartiles: [percentile(sorted, 25), percentile(sorted, 75)],
    kind: "min",
    target: 0.8,
  };
}

function latencyRow(measure: string, ms: { direct: Float64Array; manager: Float64Array }, p: number, kind: Row["kind"], target: number): Row {
  const direct = percentile(ms.direct, p);
  const manager = percentile(ms.manager, p);
  return { measure, direct, manager, unit: "ms", ratio: manager / direct, kind, target };
}

function fmtList(xs: readonly number[]): string {
  return xs.map((x) => x.toFixed(0)).join(" ");
}

function printTable(): void {
  const header = ["measure", "direct", "through manager", "ratio", "per-rep IQR", "target", "result"];
  const body = rows.map((row) => {
    const ratio = row.ratio;
    const digits = row.unit === "ms" ? 3 : 1;
    const target = row.kind === "min" ? `≥ ${(row.target * 100).toFixed(0)}%` : row.kind === "max" ? `≤ ${row.target.toFixed(1)}×` : "—";
    const ratioText = row.unit === "MiB/s" ? `${(ratio * 100).toFixed(0)}%` : `${ratio.toFixed(2)}×`;
    const quartiles = row.ratioQuartiles?.map((q) => (q * 100).toFixed(0));
    const spread = quartiles === undefined ? "—" : `${quartiles[0]}–${quartiles[1]}%`;
    const pass = row.kind === "min" ? ratio >= row.target : row.kind === "max" ? ratio <= row.target : undefined;
    return [
      row.measure,
      `${row.direct.toFixed(digits)} ${row.unit}`,
      `${row.manager.toFixed(digits)} ${row.unit}`,
      ratioText,
      spread,
      target,
      pass === undefined ? "info" : pass ? "pass" : "FAIL",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("   ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("   "));
  for (const r of body) console.log(line(r));
  const missed = body.filter((r) => r.at(-1) === "FAIL").length;
  console.log(missed === 0 ? "\nall targets met" : `\n${missed} target(s) missed`);
}
