import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import split2 from "split2";
import { Pool, type Dispatcher } from "undici";
import type { ContainerView, ImageView, NodeHealth, NodeView } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import { SwarmError, errorMessage } from "../errors/catalog.js";
import { parseHostPort } from "../util/address.js";
import type { EngineTls } from "./connect.js";
import { RawRequestBody } from "./raw-body.js";
import { sendUpload } from "./upload.js";
import type {
  ContainerInspect,
  ContainerSummary,
  DockerEvent,
  DockerInfo,
  DockerVersion,
  ImageSummary,
  NetworkResource,
  VolumeResource,
} from "./docker-types.js";

export interface EngineOptions {
  readonly failureRetry: number;
  readonly refreshMin: number;
  readonly refreshMax: number;
  readonly overcommit: number;
  readonly tls: EngineTls | undefined;
  readonly logger: Logger;
  /** Every engine event after the mirror has applied it, and the manager's own swarm events. */
  readonly onEvent: (engine: Engine, event: DockerEvent) => void;
  readonly now?: () => number;
}

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

export interface ContainerRecord {
  readonly summary: ContainerSummary | undefined;
  readonly inspect: ContainerInspect;
  readonly execIds: Set<string>;
}

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
    super("Engine", message, { status: engineStatus >= 400 && engineStatus < 600 ? engineStatus : 500 });
    this.name = "EngineError";
  }
}

const SPECS_MAX_AGE_MS = 5 * 60_000;
const CONNECT_TIMEOUT_MS = 30_000;
const CPU_SHARES_PER_CPU = 1024;
const STATE_CHANGING_ACTIONS = new Set([
  "die", "kill", "oom", "pause", "start", "restart", "stop", "unpause", "rename", "update",
]);
const IGNORED_ACTIONS = new Set([
  // exec_create and exec_die are not here: they change the inspect's ExecIDs.
  "top", "resize", "export", "exec_start", "exec_detach", "attach", "detach",
  "extract-to-dir", "copy", "archive-path",
]);

/**
 * One Docker engine: its connection pool, its health (§4.1), and an in-memory mirror of its
 * containers, images, networks and volumes kept fresh by its `/events` stream and a periodic
 * refresh. Every call the manager makes through it counts towards its health.
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
  minApiVersion = "1.12";
  info: DockerInfo | undefined;

  readonly containers = new Map<string, ContainerRecord>();
  images: ImageSummary[] = [];
  readonly networks = new Map<string, NetworkResource>();
  readonly volumes = new Map<string, VolumeResource>();
  /** Containers being created here, by Swarm ID: they count for names, ports, slots and resources. */
  readonly pending = new Map<string, ContainerView>();

  private readonly pool: Pool;
  /** Aborts the streamed uploads in flight (they bypass the pool) when the engine goes away. */
  private readonly uploadsAbort = new AbortController();
  private readonly now: () => number;
  private stopped = false;
  private specsUpdatedAt = 0;
  private eventsAbort: AbortController | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private wakeRefresh: (() => void) | undefined;
  private mirrorVersion = 0;
  private cachedView: { version: number; view: NodeView } | undefined;

  constructor(
    readonly addr: string,
    private readonly options: EngineOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.updatedAt = this.now();
    const tls = options.tls;
    this.pool = new Pool(`${tls ? "https" : "http"}://${addr}`, {
      connections: 64,
      pipelining: 1,
      connectTimeout: CONNECT_TIMEOUT_MS,
      keepAliveTimeout: 30_000,
      ...(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true } } : {}),
    });
  }

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

  /** Marks the mirror as changed so the next `view()` rebuilds it. */
  touch(): void {
    this.mirrorVersion++;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /**
   * One call to the engine. Connection failures count towards unhealthy; any answer (even an
   * error status) proves the engine alive.
   */
  async call(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<EngineResponse> {
    if (this.stopped) throw new SwarmError("Engine", "Engine no longer exists");
    const prefix = options.versionPrefix ?? `/v${this.apiVersion}`;
    const query = typeof options.query === "string" ? options.query : encodeQuery(options.query);
    const fullPath = `${prefix}${path}${query ? `?${query}` : ""}`;
    const body = options.body;
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
          : await this.pool.request({
              method,
              path: fullPath,
              headers: options.headers,
              body,
              signal: options.signal,
              headersTimeout: options.timeout ?? 30_000,
              bodyTimeout: options.timeout ?? 30_000,
            });
      this.recordSuccess();
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      if (options.signal?.aborted) throw err;
      if (isConnectionError(err)) {
        const message = `Cannot connect to the Docker daemon at tcp://${this.addr}. Is the docker daemon running?`;
        this.recordFailure(message);
        throw new SwarmError("Engine", message, { cause: err });
      }
      throw err;
    }
  }

  /** A call whose answer is JSON; engine error statuses become EngineError with the engine's message. */
  async json<T>(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.call(method, path, options);
    const answer = await text(response.body);
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
    return (answer === "" ? undefined : JSON.parse(answer)) as T;
  }

  /** A call whose answer body does not matter, only success. */
  async send(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<void> {
    const response = await this.call(method, path, options);
    const answer = await text(response.body);
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
  }

  private recordSuccess(): void {
    const wasUnhealthy = this.state === "unhealthy";
    const retries = this.failureCount;
    this.lastError = "";
    this.failureCount = 0;
    this.updatedAt = this.now();
    if (wasUnhealthy) {
      this.state = "healthy";
      this.touch();
      this.logger.info(`Engine came back to life after ${retries} retries. Hooray!`, { name: this.name, addr: this.addr });
      this.emitSwarmEvent("engine_reconnect");
      this.wakeRefresh?.();
    }
  }

  private recordFailure(message: string): void {
    this.failureCount++;
    this.lastError = message.trim();
    this.updatedAt = this.now();
    if (this.state === "healthy" && this.failureCount >= this.options.failureRetry) {
      this.state = "unhealthy";
      this.touch();
      this.logger.error(`Flagging engine as unhealthy. Connect failed ${this.failureCount} times`, {
        name: this.name,
        addr: this.addr,
      });
      this.emitSwarmEvent("engine_disconnect");
    }
  }

  // ---- Validation and specs ----------------------------------------------------------------

  /** Validates a pending engine: specs, event stream, full mirror, then `engine_connect`. */
  async connect(): Promise<void> {
    const { host } = parseHostPort(this.addr);
    this.ip = isIP(host) ? host : (await lookup(host)).address;
    await this.updateSpecs();
    this.startEventMonitor();
    await this.refreshContainers(true);
    await this.refreshImages();
    await Promise.allSettled([this.refreshNetworks(), this.refreshVolumes()]);
  }

  /** Called by the cluster once the engine is committed to the validated table. */
  activate(): void {
    this.state = "healthy";
    this.failureCount = 0;
    this.lastError = "";
    this.touch();
    this.emitSwarmEvent("engine_connect");
    this.scheduleRefresh();
  }

  async updateSpecs(): Promise<void> {
    // /info and /version are asked unversioned so that any engine answers before negotiation.
    const info = await this.json<DockerInfo>("GET", "/info", { versionPrefix: "" });
    const version = await this.json<DockerVersion>("GET", "/version", { versionPrefix: "" });
    if (!(info.NCPU > 0) || !(info.MemTotal > 0)) {
      throw new SwarmError(
        "Engine",
        `cannot get resources for this engine, make sure ${this.addr} is a Docker Engine, not a Swarm manager`,
      );
    }
    if (this.dockerId !== "" && info.ID !== this.dockerId) {
      const message = `Engine (ID: ${this.dockerId}, Addr: ${this.addr}) shows up with another ID:${info.ID}. Please remove it from cluster, it can be added back.`;
      this.state = "pending";
      this.lastError = message;
      this.touch();
      throw new SwarmError("Engine", message);
    }
    this.dockerId = info.ID;
    this.id = `${info.ID}|${this.addr}`;
    this.name = info.Name;
    this.rawCpus = info.NCPU;
    this.rawMemory = info.MemTotal;
    this.serverVersion = info.ServerVersion ?? version.Version;
    this.apiVersion = version.ApiVersion;
    this.minApiVersion = version.MinAPIVersion ?? "1.12";
    this.info = info;
    this.labels = this.buildLabels(info);
    this.specsUpdatedAt = this.now();
    this.touch();
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
        throw new SwarmError(
          "Engine",
          `Engine (ID: ${info.ID}, Addr: ${this.addr}) contains an invalid label (${label}) not formatted as "key=value".`,
        );
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

  // ---- Mirror refresh ----------------------------------------------------------------------

  async refreshContainers(full: boolean): Promise<void> {
    const list = await this.json<ContainerSummary[]>("GET", "/containers/json", { query: { all: 1 } });
    const seen = new Set<string>();
    await Promise.all(
      list.map(async (summary) => {
        seen.add(summary.Id);
        const existing = this.containers.get(summary.Id);
        if (full || !existing || existing.summary?.State !== summary.State || summary.State === "restarting") {
          await this.inspectContainer(summary.Id, summary);
        } else {
          this.containers.set(summary.Id, { ...existing, summary });
        }
      }),
    );
    for (const id of this.containers.keys()) if (!seen.has(id)) this.containers.delete(id);
    this.touch();
  }

  /** Re-reads one container; drops it from the mirror if the engine no longer has it. */
  async inspectContainer(id: string, summary?: ContainerSummary): Promise<ContainerRecord | undefined> {
    try {
      const inspect = await this.json<ContainerInspect>("GET", `/containers/${encodeURIComponent(id)}/json`);
      const existing = this.containers.get(inspect.Id);
      const execIds = existing?.execIds ?? new Set<string>();
      for (const execId of inspect.ExecIDs ?? []) execIds.add(execId);
      const listed = summary ?? existing?.summary ?? (await this.listOne(inspect.Id));
      const record: ContainerRecord = { summary: listed, inspect, execIds };
      this.containers.set(inspect.Id, record);
      this.touch();
      return record;
    } catch (err) {
      if (err instanceof EngineError && err.engineStatus === 404) {
        this.dropContainer(id);
        return undefined;
      }
      throw err;
    }
  }

  private async listOne(id: string): Promise<ContainerSummary | undefined> {
    const list = await this.json<ContainerSummary[]>("GET", "/containers/json", {
      query: { all: 1, filters: JSON.stringify({ id: [id] }) },
    });
    return list.find((c) => c.Id === id);
  }

  /** Puts back a record taken out of the mirror (a container that could not be rescheduled). */
  restoreContainer(record: ContainerRecord): void {
    this.containers.set(record.inspect.Id, record);
    this.touch();
  }

  dropContainer(idOrPrefix: string): void {
    for (const id of this.containers.keys()) {
      if (id === idOrPrefix || id.startsWith(idOrPrefix)) {
        this.containers.delete(id);
        this.touch();
      }
    }
  }

  async refreshImages(): Promise<void> {
    this.images = await this.json<ImageSummary[]>("GET", "/images/json", { query: { all: 1 } });
    this.touch();
  }

  async refreshNetworks(): Promise<void> {
    const networks = await this.json<NetworkResource[]>("GET", "/networks");
    this.networks.clear();
    for (const network of networks) this.networks.set(network.Id, network);
    this.touch();
  }

  async refreshVolumes(): Promise<void> {
    const answer = await this.json<{ Volumes: VolumeResource[] | null }>("GET", "/volumes");
    this.volumes.clear();
    for (const volume of answer.Volumes ?? []) this.volumes.set(volume.Name, volume);
    this.touch();
  }

  private async refreshNetwork(id: string): Promise<void> {
    try {
      const network = await this.json<NetworkResource>("GET", `/networks/${encodeURIComponent(id)}`);
      this.networks.set(network.Id, network);
    } catch (err) {
      if (!(err instanceof EngineError && err.engineStatus === 404)) throw err;
      this.networks.delete(id);
    }
    this.touch();
  }

  private async refreshVolume(name: string): Promise<void> {
    try {
      const volume = await this.json<VolumeResource>("GET", `/volumes/${encodeURIComponent(name)}`);
      this.volumes.set(volume.Name, volume);
    } catch (err) {
      if (!(err instanceof EngineError && err.engineStatus === 404)) throw err;
      this.volumes.delete(name);
    }
    this.touch();
  }

  // ---- Refresh loop ------------------------------------------------------------------------

  private scheduleRefresh(): void {
    if (this.stopped) return;
    const { refreshMin, refreshMax, failureRetry } = this.options;
    const backoff = Math.min(Math.max(this.failureCount - failureRetry, 0), 1000);
    const delay = refreshMin * (1 + backoff) + Math.random() * (refreshMax - refreshMin);
    const timer = setTimeout(() => void this.refreshOnce(), delay);
    timer.unref();
    this.refreshTimer = timer;
    this.wakeRefresh = () => {
      clearTimeout(timer);
      this.wakeRefresh = undefined;
      void this.refreshOnce();
    };
  }

  private async refreshOnce(): Promise<void> {
    this.wakeRefresh = undefined;
    try {
      if (!this.isHealthy() || this.now() - this.specsUpdatedAt > SPECS_MAX_AGE_MS) {
        try {
          await this.updateSpecs();
        } catch (err) {
          this.logger.debug(`Update engine specs failed: ${errorMessage(err)}`, { name: this.name, addr: this.addr });
          return;
        }
      }
      await this.refreshContainers(false);
      await Promise.allSettled([this.refreshVolumes(), this.refreshNetworks(), this.refreshImages()]);
      if (!this.eventsAbort) this.startEventMonitor();
    } catch (err) {
      this.logger.debug(`Engine refresh failed: ${errorMessage(err)}`, { name: this.name, addr: this.addr });
    } finally {
      this.scheduleRefresh();
    }
  }

  // ---- Events ------------------------------------------------------------------------------

  private startEventMonitor(): void {
    if (this.stopped) return;
    const abort = new AbortController();
    this.eventsAbort = abort;
    void this.monitorEvents(abort);
  }

  private async monitorEvents(abort: AbortController): Promise<void> {
    try {
      const response = await this.call("GET", "/events", { timeout: 0, signal: abort.signal });
      if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(await text(response.body)));
      const lines = response.body.pipe(split2());
      for await (const line of lines as AsyncIterable<string>) {
        if (line.trim() === "") continue;
        let event: DockerEvent;
        try {
          event = JSON.parse(line) as DockerEvent;
        } catch {
          continue;
        }
        await this.applyEvent(event);
        this.options.onEvent(this, event);
      }
    } catch (err) {
      if (abort.signal.aborted || this.stopped) return;
      this.logger.debug(`error monitoring events, will restart: ${errorMessage(err)}`, { name: this.name, addr: this.addr });
    }
    if (abort.signal.aborted || this.stopped) return;
    // The stream ended: the engine may have stopped. Retry with classic's capped back-off; the
    // retry's connection failures count towards unhealthy.
    this.eventsAbort = undefined;
    const delay = Math.min(this.failureCount + 1, 10) * 1000;
    setTimeout(() => {
      if (!this.stopped && this.eventsAbort === undefined) this.startEventMonitor();
    }, delay).unref();
  }

  private async applyEvent(event: DockerEvent): Promise<void> {
    const action = event.Action ?? event.status ?? "";
    const id = event.Actor?.ID ?? event.id ?? "";
    try {
      // Prune events name no object: re-read the whole collection they touched.
      if (action === "prune") {
        if (event.Type === "network") await this.refreshNetworks();
        else if (event.Type === "volume") await this.refreshVolumes();
        else if (event.Type === "image") await this.refreshImages();
        else if (event.Type === "container") await this.refreshContainers(false);
        return;
      }
      if (id === "" && event.Type !== "daemon") return;
      switch (event.Type) {
        case "network":
          await this.refreshNetwork(id);
          if (action === "connect" || action === "disconnect") {
            const container = event.Actor?.Attributes?.container;
            if (container) await this.inspectContainer(container);
          }
          return;
        case "volume":
          await this.refreshVolume(id);
          return;
        case "image":
          await this.refreshImages();
          return;
        case "daemon":
          if (action === "reload") await this.updateSpecs();
          return;
        case "container": {
          const baseAction = action.split(":")[0] ?? action;
          if (baseAction === "commit") await this.refreshImages();
          else if (IGNORED_ACTIONS.has(baseAction)) return;
          else if (baseAction === "destroy") this.dropContainer(id);
          else if (STATE_CHANGING_ACTIONS.has(baseAction) || baseAction === "health_status") await this.inspectContainer(id);
          else await this.inspectContainer(id);
          return;
        }
        default:
          return;
      }
    } catch (err) {
      this.logger.debug(`cache update after ${event.Type ?? "?"} ${action} failed: ${errorMessage(err)}`, { name: this.name });
    }
  }

  emitSwarmEvent(action: "engine_connect" | "engine_disconnect" | "engine_reconnect"): void {
    const nowMs = this.now();
    this.options.onEvent(this, {
      Type: "swarm",
      Action: action,
      status: action,
      id: "",
      from: "swarm",
      Actor: { ID: "", Attributes: {} },
      time: Math.floor(nowMs / 1000),
      timeNano: nowMs * 1_000_000,
    });
  }

  // ---- Views -------------------------------------------------------------------------------

  /** The scheduler's view; rebuilt only when the mirror changed, so plugins may memoize per view. */
  view(): NodeView {
    if (this.cachedView?.version === this.mirrorVersion) return this.cachedView.view;
    const containers: ContainerView[] = [];
    for (const record of this.containers.values()) containers.push(this.containerView(record.inspect));
    for (const pending of this.pending.values()) containers.push(pending);
    const images: ImageView[] = this.images.map((image) => ({
      id: image.Id,
      repoTags: image.RepoTags ?? [],
      repoDigests: image.RepoDigests ?? [],
    }));
    const view: NodeView = {
      id: this.id,
      name: this.name,
      addr: this.addr,
      ip: this.ip,
      labels: { ...this.labels },
      containers,
      images,
      totalCpus: this.cpus,
      totalMemory: this.memory,
      usedCpus: containers.reduce((sum, c) => sum + c.cpus, 0),
      usedMemory: containers.reduce((sum, c) => sum + c.memory, 0),
      health: this.state,
      healthIndicator: this.healthIndicator,
    };
    this.cachedView = { version: this.mirrorVersion, view };
    return view;
  }

  /** Health indicator changes with every failure; scheduling reads it fresh. */
  schedulingView(): NodeView {
    const view = this.view();
    if (view.healthIndicator === this.healthIndicator && view.health === this.state) return view;
    this.touch();
    return this.view();
  }

  containerView(inspect: ContainerInspect): ContainerView {
    const shares = inspect.HostConfig.CpuShares ?? 0;
    return {
      id: inspect.Id,
      names: [inspect.Name],
      image: inspect.Config.Image ?? inspect.Image,
      labels: inspect.Config.Labels ?? {},
      state: inspect.State.Status,
      exposedPorts: inspect.Config.ExposedPorts ?? {},
      hostConfig: inspect.HostConfig,
      ports: inspect.NetworkSettings?.Ports ?? {},
      pending: false,
      cpus: Math.trunc((shares * this.rawCpus) / CPU_SHARES_PER_CPU),
      memory: inspect.HostConfig.Memory ?? 0,
    };
  }

  /** CPUs requested through the swarm API become real shares on this engine (§3.5). */
  cpusToShares(cpus: number): number {
    if (cpus <= 0 || this.rawCpus <= 0) return 0;
    return Math.ceil((cpus * CPU_SHARES_PER_CPU) / this.rawCpus);
  }

  // ---- Shutdown ----------------------------------------------------------------------------

  /** Disconnects for good: no more calls, events or refreshes. Idempotent. */
  async disconnect(): Promise<void> {
    if (this.stopped) return;
    const wasConnected = this.state === "healthy" || this.state === "unhealthy";
    this.stopped = true;
    this.eventsAbort?.abort();
    this.uploadsAbort.abort();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (wasConnected && this.state !== "unhealthy") this.emitSwarmEvent("engine_disconnect");
    this.state = "disconnected";
    this.touch();
    await this.pool.destroy().catch(() => undefined);
  }
}

export function withOvercommit(raw: number, overcommit: number): number {
  const percent = Math.trunc(overcommit * 100);
  return raw + Math.trunc((raw * percent) / 100);
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
