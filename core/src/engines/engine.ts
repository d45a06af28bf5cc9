import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { text } from "node:stream/consumers";
import { Client, Pool, type Dispatcher } from "undici";
import type { NodeHealth } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import { SwarmError, errors, fillEntry } from "../errors/catalog.js";
import { parseHostPort } from "../util/address.js";
import type { EngineTls } from "./connect.js";
import { RawRequestBody } from "./raw-body.js";
import { sendUpload } from "./upload.js";
import type { DockerEvent, DockerInfo, DockerVersion } from "./docker-types.js";

/** The manager's own events about an engine's health, published like the engine's. */
export type HealthEvent = "engine_connect" | "engine_disconnect" | "engine_reconnect";

export interface EngineOptions {
  readonly failureRetry: number;
  readonly overcommit: number;
  readonly tls: EngineTls | undefined;
  readonly logger: Logger;
  /** Health changes: flagged unhealthy after `failureRetry` failed calls, back on the next success. */
  readonly onHealthChange: (engine: Engine, change: HealthEvent) => void;
  /** The count of recent failures moved (so did the health indicator placement reads). */
  readonly onFailureCount?: (engine: Engine) => void;
  readonly limits?: Partial<EngineLimits>;
  readonly now?: () => number;
  /** Told of every call when its answer's headers arrive (or it fails): for metrics. */
  readonly observe?: EngineCallObserver;
}

/** `status` is the engine's HTTP status, or 0 when no answer came (refused, busy, timed out). */
export type EngineCallObserver = (engine: Engine, method: string, path: string, status: number, seconds: number) => void;

export interface EngineResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The answer as it streams in; read it whole with `node:stream/consumers`. */
  readonly body: Readable;
}

export interface CallOptions {
  readonly query?: Record<string, string | number | boolean | undefined> | string | undefined;
  /** A stream or an unread upload is sent as it arrives, with no timeout once connected (see `sendUpload`). */
  readonly body?: string | Buffer | Readable | RawRequestBody | undefined;
  readonly headers?: Record<string, string | string[] | undefined> | undefined;
  /** `/v1.41`-style prefix; defaults to the version negotiated with this engine. */
  readonly versionPrefix?: string | undefined;
  /** 0 disables the body/headers timeouts (streams: logs -f, events, wait, pull). */
  readonly timeout?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A smaller difference between the engine's clock and the manager's is taken for the time /info took to arrive. */
const CLOCK_SKEW_TOLERANCE_MS = 2_000;

/** A connection failure in classic Swarm's sense: only these count towards unhealthy. */
const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/** undici's own time limits (its headers and body timeouts). */
function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_ERROR_CODES.has(code)) return true;
    if (/onnection refused|annot connect to the docker engine endpoint|annot connect to the Docker daemon|no route to host/.test(e.message)) {
      return true;
    }
  }
  return false;
}

/** An error answer from an engine: its status and its `{"message"}` text. */
export class EngineError extends SwarmError {
  constructor(
    readonly engineStatus: number,
    message: string,
  ) {
    super(fillEntry("EngineAnswered", { message }), { status: engineStatus >= 400 && engineStatus < 600 ? engineStatus : 500 });
    this.name = "EngineError";
  }
}

const CONNECT_TIMEOUT_MS = 30_000;
/** How long a call with a time limit may wait for the engine's answer to begin, and between its parts. */
const CALL_TIMEOUT_MS = 30_000;

/** How much one engine is asked at once, and how much may wait. */
export interface EngineLimits {
  /** Calls with a time limit in flight at once. */
  readonly calls: number;
  /** Calls with a time limit waiting for one of those; beyond, a 503. */
  readonly queued: number;
  /** Open calls without a time limit (streams). */
  readonly streams: number;
  readonly queuedStreams: number;
}

export const DEFAULT_LIMITS: EngineLimits = { calls: 32, queued: 512, streams: 512, queuedStreams: 512 };

/**
 * One Docker engine as the manager talks to it: its connection pool, its identity and resources
 * (`/info`, `/version`), its event stream, and its health (§4.1). Every call the manager makes
 * through it counts towards its health. What the engine holds is mirrored in `cluster/`.
 */
export class Engine {
  state: NodeHealth = "pending";
  failureCount = 0;
  lastError = "";
  updatedAt: number;
  /** `<docker ID>|<addr>` once validated. */
  id = "";
  dockerId = "";
  name = "";
  ip = "";
  rawCpus = 0;
  rawMemory = 0;
  labels: Record<string, string> = {};
  serverVersion = "";
  /** Highest API version this engine speaks; the manager's own calls use it. */
  apiVersion = "1.41";
  /** From `/info`: the engine's OS (`linux`, `windows`) and its cluster store, if it has one. */
  osType = "";
  clusterStore = "";
  /**
   * How far the engine's clock is behind the manager's, in ms, when it is 2 s or more (0 below):
   * the times its containers report are shifted by this much so that `docker ps` agrees across engines.
   */
  clockSkewMs = 0;
  /** When `/info` and `/version` were last read. */
  specsUpdatedAt = 0;

  /** Calls with a time limit: bounded in number, with a bounded queue in front. */
  private readonly pool: Pool;
  /**
   * Calls without one (logs -f, wait, pulls): a pool of their own, so that however many of them
   * are open, a short call still finds a connection. Made on the first such call: most engines
   * never get one, and an undici pool costs some 16 KB before its first request.
   */
  private streamsPool: Pool | undefined;
  /** The event stream, always open: a connection of its own rather than a pool's. */
  private readonly eventsClient: Client;
  private readonly newPool: (connections: number) => Pool;
  /** Aborts the streamed uploads in flight (they bypass the pool) when the engine goes away. */
  private readonly uploadsAbort = new AbortController();
  private readonly now: () => number;
  private stopped = false;

  constructor(
    readonly addr: string,
    private readonly options: EngineOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.updatedAt = this.now();
    const tls = options.tls;
    const origin = `${tls ? "https" : "http"}://${addr}`;
    const connection = {
      pipelining: 1,
      connectTimeout: CONNECT_TIMEOUT_MS,
      keepAliveTimeout: 30_000,
      ...(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify } } : {}),
    };
    this.newPool = (connections) => new Pool(origin, { ...connection, connections });
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.pool = this.newPool(this.limits.calls);
    this.eventsClient = new Client(origin, connection);
  }

  private readonly limits: EngineLimits;

  get logger(): Logger {
    return this.options.logger;
  }

  /** The client certificate for a TLS engine: hijacked streams open sockets of their own. */
  get tls(): EngineOptions["tls"] {
    return this.options.tls;
  }

  get cpus(): number {
    return withOvercommit(this.rawCpus, this.options.overcommit);
  }

  get memory(): number {
    return withOvercommit(this.rawMemory, this.options.overcommit);
  }

  get healthIndicator(): number {
    if (this.state !== "healthy" || this.failureCount >= this.options.failureRetry) return 0;
    return 100 - Math.trunc((this.failureCount * 100) / this.options.failureRetry);
  }

  isHealthy(): boolean {
    return this.state === "healthy";
  }

  get disconnected(): boolean {
    return this.stopped;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /**
   * One call to the engine. Connection failures count towards unhealthy; any answer (even an
   * error status) proves the engine alive.
   */
  call(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<EngineResponse> {
    return this.callThrough(undefined, method, path, options);
  }

  /** `call`, through the given connection rather than the pool that fits the call. */
  private async callThrough(
    through: Dispatcher | undefined,
    method: Dispatcher.HttpMethod,
    path: string,
    options: CallOptions,
  ): Promise<EngineResponse> {
    if (this.stopped) throw errors.EngineGone();
    const prefix = options.versionPrefix ?? `/v${this.apiVersion}`;
    const query = typeof options.query === "string" ? options.query : encodeQuery(options.query);
    const fullPath = `${prefix}${path}${query ? `?${query}` : ""}`;
    const body = options.body;
    const observe = this.options.observe;
    const started = observe ? performance.now() : 0;
    try {
      const response =
        body instanceof Readable || body instanceof RawRequestBody
          ? await sendUpload(
              { addr: this.addr, tls: this.options.tls, connectTimeoutMs: CONNECT_TIMEOUT_MS },
              {
                method,
                path: fullPath,
                headers: options.headers,
                body,
                signal: options.signal ? AbortSignal.any([options.signal, this.uploadsAbort.signal]) : this.uploadsAbort.signal,
              },
            )
          : await this.dispatch(method, fullPath, options, through);
      this.recordSuccess();
      observe?.(this, method, path, response.statusCode, (performance.now() - started) / 1000);
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      observe?.(this, method, path, 0, (performance.now() - started) / 1000);
      if (options.signal?.aborted) throw err;
      if (isConnectionError(err)) {
        const unreachable = errors.EngineUnreachable({ addr: this.addr }, { cause: err });
        this.recordFailure(unreachable.message);
        throw unreachable;
      }
      if (isTimeout(err)) {
        const limit = options.timeout ?? CALL_TIMEOUT_MS;
        throw errors.EngineTimeout({ engine: this.name || this.addr, method, path, seconds: limit / 1000 }, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Through the pool that fits the call. A short call finds at most `limits.queued` others waiting
   * for this engine, or is refused at once with a 503: one slow engine or one greedy client fills
   * that engine's queue, not the manager's memory, and every other engine is served meanwhile.
   */
  private dispatch(method: Dispatcher.HttpMethod, path: string, options: CallOptions, through: Dispatcher | undefined): Promise<Dispatcher.ResponseData> {
    let dispatcher = through;
    if (dispatcher === undefined) {
      const unbounded = options.timeout === 0;
      const pool = unbounded ? (this.streamsPool ??= this.newPool(this.limits.streams)) : this.pool;
      const limit = unbounded ? this.limits.queuedStreams : this.limits.queued;
      if (pool.stats.pending >= limit) {
        const waiting = pool.stats.pending === 1 ? "1 request is" : `${pool.stats.pending} requests are`;
        throw errors.EngineBusy({ engine: this.name || this.addr, waiting });
      }
      dispatcher = pool;
    }
    return dispatcher.request({
      method,
      path,
      headers: options.headers,
      body: options.body as string | Buffer | undefined,
      signal: options.signal,
      headersTimeout: options.timeout ?? CALL_TIMEOUT_MS,
      bodyTimeout: options.timeout ?? CALL_TIMEOUT_MS,
    });
  }

  /** A call whose answer is JSON; engine error statuses become EngineError with the engine's message. */
  async json<T>(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.call(method, path, options);
    const answer = await answerText(response);
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
    return (answer === "" ? undefined : JSON.parse(answer)) as T;
  }

  /** A call whose answer body does not matter, only success. */
  async send(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<void> {
    const response = await this.call(method, path, options);
    const answer = await answerText(response);
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
  }

  private recordSuccess(): void {
    const wasUnhealthy = this.state === "unhealthy";
    const retries = this.failureCount;
    this.lastError = "";
    this.failureCount = 0;
    this.updatedAt = this.now();
    if (retries > 0) this.options.onFailureCount?.(this);
    if (wasUnhealthy) {
      this.state = "healthy";
      this.logger.info(`Engine came back to life after ${retries} retries. Hooray!`, { name: this.name, addr: this.addr });
      this.options.onHealthChange(this, "engine_reconnect");
    }
  }

  private recordFailure(message: string): void {
    this.failureCount++;
    this.lastError = message.trim();
    this.updatedAt = this.now();
    this.options.onFailureCount?.(this);
    if (this.state === "healthy" && this.failureCount >= this.options.failureRetry) {
      this.state = "unhealthy";
      this.logger.error(`Flagging engine as unhealthy. Connect failed ${this.failureCount} times`, {
        name: this.name,
        addr: this.addr,
      });
      this.options.onHealthChange(this, "engine_disconnect");
    }
  }

  /** A failed validation: counted like a failed call, but a pending engine has no health to lose. */
  recordValidationFailure(message: string): void {
    this.failureCount++;
    this.lastError = message;
    this.updatedAt = this.now();
  }

  /** Called once the engine is committed to the cluster's validated table. */
  activate(): void {
    this.state = "healthy";
    this.failureCount = 0;
    this.lastError = "";
    this.options.onHealthChange(this, "engine_connect");
  }

  // ---- Identity and resources -----------------------------------------------------------------

  async resolveIp(): Promise<void> {
    const { host } = parseHostPort(this.addr);
    this.ip = isIP(host) ? host : (await lookup(host)).address;
  }

  async updateSpecs(): Promise<void> {
    // Asked unversioned so that any engine answers before negotiation. dockerd names its API
    // version in a header of every answer; only an engine that does not is asked for /version.
    const response = await this.call("GET", "/info", { versionPrefix: "" });
    const answer = await answerText(response);
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
    const info = JSON.parse(answer) as DockerInfo;
    const header = response.headers["api-version"];
    const version =
      typeof header === "string" && /^\d+\.\d+$/.test(header)
        ? { ApiVersion: header, Version: info.ServerVersion ?? "" }
        : await this.json<DockerVersion>("GET", "/version", { versionPrefix: "" });
    if (!(info.NCPU > 0) || !(info.MemTotal > 0)) {
      throw errors.NotAnEngine({ addr: this.addr });
    }
    if (this.dockerId !== "" && info.ID !== this.dockerId) {
      const changed = errors.EngineIdChanged({ id: this.dockerId, addr: this.addr, newId: info.ID });
      this.state = "pending";
      this.lastError = changed.message;
      throw changed;
    }
    this.dockerId = info.ID;
    this.id = `${info.ID}|${this.addr}`;
    this.name = info.Name;
    this.rawCpus = info.NCPU;
    this.rawMemory = info.MemTotal;
    this.serverVersion = info.ServerVersion ?? version.Version;
    this.apiVersion = version.ApiVersion;
    this.osType = info.OSType ?? "";
    this.clusterStore = typeof info.ClusterStore === "string" ? info.ClusterStore : "";
    this.labels = this.buildLabels(info);
    this.clockSkewMs = this.measureSkew(info);
    this.specsUpdatedAt = this.now();
  }

  private measureSkew(info: DockerInfo): number {
    const engineTime = Date.parse(info.SystemTime ?? "");
    if (Number.isNaN(engineTime)) return 0;
    const skew = this.now() - engineTime;
    if (Math.abs(skew) < CLOCK_SKEW_TOLERANCE_MS) return 0;
    this.logger.warn(`Engine (ID: ${info.ID}, Addr: ${this.addr}) has unsynchronized systime with swarm, please synchronize it.`, {
      skew: `${(skew / 1000).toFixed(1)}s`,
    });
    return skew;
  }

  private buildLabels(info: DockerInfo): Record<string, string> {
    const labels: Record<string, string> = {};
    const standard: Array<[string, string | undefined]> = [
      ["storagedriver", info.Driver],
      ["executiondriver", info.ExecutionDriver],
      ["kernelversion", info.KernelVersion],
      ["operatingsystem", info.OperatingSystem],
      ["ostype", info.OSType],
    ];
    for (const [key, value] of standard) if (value) labels[key] = value;
    for (const label of info.Labels ?? []) {
      const eq = label.indexOf("=");
      if (eq < 0) {
        throw errors.InvalidEngineLabel({ id: info.ID, addr: this.addr, label });
      }
      const key = label.slice(0, eq);
      if (key === "node") {
        this.logger.warn(`Engine (ID: ${info.ID}, Addr: ${this.addr}) label "node" is ignored: it would shadow the node constraint`);
        continue;
      }
      if (Object.hasOwn(labels, key) && standard.some(([k]) => k === key)) {
        this.logger.warn(`Engine (ID: ${info.ID}, Addr: ${this.addr}) already contains a label ${key}, cannot override it.`);
        continue;
      }
      labels[key] = label.slice(eq + 1);
    }
    return labels;
  }

  // ---- Events ------------------------------------------------------------------------------

  /**
   * Reads the engine's event stream until it ends or `signal` aborts, handing each event over as
   * it is parsed, with its line of JSON. Resolves when the stream ends for any reason; the caller
   * decides when to retry.
   */
  async streamEvents(onEvent: (event: DockerEvent, line: string) => void, signal: AbortSignal): Promise<void> {
    const response = await this.callThrough(this.eventsClient, "GET", "/events", { timeout: 0, signal });
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(await answerText(response)));
    // Lines are cut from the chunks as they come, with no stream or iterator per line: a thousand
    // engines send thousands of events a second while containers are being created.
    const body = response.body;
    const decoder = new StringDecoder("utf8");
    let partial = "";
    await new Promise<void>((resolve, reject) => {
      body.on("data", (data: Buffer) => {
        const chunk = partial + decoder.write(data);
        let start = 0;
        try {
          for (let end = chunk.indexOf("\n"); end >= 0; end = chunk.indexOf("\n", start)) {
            const line = chunk.slice(start, end);
            start = end + 1;
            if (line.trim() === "") continue;
            let event: DockerEvent;
            try {
              event = JSON.parse(line) as DockerEvent;
            } catch {
              continue;
            }
            onEvent(event, line);
          }
        } catch (err) {
          body.destroy(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        partial = chunk.slice(start);
      });
      body.once("end", resolve);
      body.once("error", reject);
      body.once("close", resolve);
    });
  }

  // ---- Shutdown ----------------------------------------------------------------------------

  /** Disconnects for good: no more calls. Idempotent; says whether this call did it. */
  async disconnect(): Promise<boolean> {
    if (this.stopped) return false;
    this.stopped = true;
    this.uploadsAbort.abort();
    this.state = "disconnected";
    await Promise.all(
      [this.pool, this.streamsPool, this.eventsClient].map((dispatcher) => dispatcher?.destroy().catch(() => undefined)),
    );
    return true;
  }
}

export function withOvercommit(raw: number, overcommit: number): number {
  const percent = Math.trunc(overcommit * 100);
  return raw + Math.trunc((raw * percent) / 100);
}

/**
 * An engine's whole answer as text. undici's own body reader takes it in one go; a stream from a
 * connection of the manager's own (uploads) is read chunk by chunk.
 */
export function answerText(response: EngineResponse): Promise<string> {
  const body = response.body as Readable & { text?: () => Promise<string> };
  return typeof body.text === "function" ? body.text() : text(body);
}

export function engineMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // Not JSON: old engines answer plain text.
  }
  return text.trim();
}

function encodeQuery(query: CallOptions["query"]): string {
  if (!query || typeof query === "string") return query ?? "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.toString();
}
