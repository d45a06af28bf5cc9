/**
 * One simulated Docker engine's state and operations, without HTTP: what dockerd 20.10 does to its
 * containers, images, networks and volumes for each Engine API call, which errors it answers with,
 * and which events it emits in which order (see bench/README.md for the sequences observed on a real
 * dockerd). Nothing runs: a container is "running" from start until it is stopped or killed.
 */
import { createHash, randomBytes } from "node:crypto";
import { EventLog, type EventFilters } from "./events.js";
import type {
  ContainerRecord,
  EngineIdentity,
  ExecRecord,
  ImageRecord,
  JsonObject,
  MountRecord,
  NetworkAttachment,
  NetworkRecord,
  PortRecord,
  VolumeRecord,
} from "./model.js";
import { generateName } from "./names.js";
import { looksLikeId, parseReference, ReferenceError, type ImageReference } from "./references.js";
import {
  CONFIG_DEFAULTS,
  EMPTY_ARRAY,
  EMPTY_LABELS,
  EMPTY_OBJECT,
  isEmpty,
  HOST_CONFIG_DEFAULTS,
  containerSummary,
  diffFromDefaults,
  distributionInspect,
  execInspect,
  formatSeconds,
  imageInspect,
  imageSummary,
  infoDocument,
  inspectContainerJson,
  intern,
  networkDocument,
  networkEndpoint,
  networkModeOf,
  normalizeHostConfigValue,
  nowNs,
  shortId,
  versionDocument,
  volumeDocument,
  type EngineCounts,
  type EventType,
  type ShapeContext,
} from "./shapes.js";

/** An error answer with dockerd's status and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** dockerd answers a few errors as plain text rather than `{"message"}`. */
    readonly plainText = false,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A request the simulation does not model: answered 501 and counted, never guessed at. */
export class Unanswerable extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "Unanswerable";
  }
}

/** An image an engine starts with, or that its pretend registry can serve. */
export interface ImageSpec {
  /** `busybox:latest`, `127.0.0.1:5000/app:1` */
  readonly ref: string;
  readonly cmd?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly env?: readonly string[];
  readonly size?: number;
}

export interface EngineOptions {
  readonly identity: EngineIdentity;
  /** Images present at start and after `clear()`. */
  readonly images: readonly ImageSpec[];
  /** Images `POST /images/create` can pull; others fail as a registry without them would. */
  readonly registry: readonly ImageSpec[];
  /** Whether the predefined `bridge` network exists (a dockerd started with `--bridge=none` has none). */
  readonly bridge: boolean;
  readonly eventHistory: number;
}

export type WaitCondition = "not-running" | "next-exit" | "removed";

interface Waiter {
  readonly condition: WaitCondition | "stream";
  /** Called once with the exit code, or with undefined when the engine is cleared or stopped. */
  readonly done: (exitCode: number | undefined) => void;
}

export interface PullProgress {
  /** Progress lines, without their `\r\n`. */
  readonly lines: readonly string[];
}

const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VOLUME_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const CONTAINER_STATUSES = new Set(["created", "restarting", "running", "removing", "paused", "exited", "dead"]);
const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22,
  URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};
/** What `docker stop` of busybox's `sleep` (PID 1, which ignores SIGTERM) ends with: SIGKILL after the timeout. */
const KILLED_EXIT_CODE = 137;
const FIRST_EPHEMERAL_PORT = 49153;

/** Random bytes drawn in batches: a `randomBytes` call per ID was a visible share of the fleet's CPU. */
const RANDOM_BATCH = 64 * 1024;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

function hex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_BATCH);
    randomOffset = 0;
  }
  const text = randomPool.toString("hex", randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return text;
}

/**
 * Containers created from the same body share one HostConfig difference object (and so one cached
 * JSON of their HostConfig): 30,000 `docker run -d` containers hold one, not 30,000.
 */
const sharedHostConfigs = new Map<string, JsonObject>();
const MAX_SHARED_HOST_CONFIGS = 10_000;

function shareHostConfig(diff: JsonObject): JsonObject {
  const key = JSON.stringify(diff);
  const shared = sharedHostConfigs.get(key);
  if (shared) return shared;
  if (sharedHostConfigs.size < MAX_SHARED_HOST_CONFIGS) sharedHostConfigs.set(key, diff);
  return diff;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

function stringArray(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
  return undefined;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  const object = asObject(value);
  if (!object) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(object)) if (typeof v === "string") out[key] = v;
  return out;
}

/** Request-level Env entries replace the image's entries of the same name. */
function mergeEnv(imageEnv: readonly string[], requested: readonly string[] | undefined): readonly string[] {
  if (!requested || requested.length === 0) return imageEnv;
  const names = new Set(requested.map((entry) => entry.split("=")[0]));
  return [...imageEnv.filter((entry) => !names.has(entry.split("=")[0])), ...requested];
}

export class SimulatedEngine implements ShapeContext {
  readonly events: EventLog;
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly names = new Map<string, string>();
  private readonly execs = new Map<string, ExecRecord>();
  private images: ImageRecord[] = [];
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly volumes = new Map<string, VolumeRecord>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly startNs = nowNs();
  private nextPid = 1000;
  private running = 0;
  private boundAddress = "";
  private boundPort = 0;

  constructor(private readonly options: EngineOptions) {
    this.events = new EventLog(options.eventHistory);
    this.reset();
  }

  get identity(): EngineIdentity {
    return this.options.identity;
  }

  /** `127.0.0.1:PORT`, once its server listens. */
  get address(): string {
    return this.boundAddress;
  }

  get port(): number {
    return this.boundPort;
  }

  get name(): string {
    return this.options.identity.name;
  }

  get index(): number {
    return this.options.identity.index;
  }

  /** Records where its server listens (the fleet binds it). */
  bind(host: string, port: number): void {
    this.boundAddress = `${host}:${port}`;
    this.boundPort = port;
  }

  get containerCount(): number {
    return this.containers.size;
  }

  get runningCount(): number {
    return this.running;
  }

  /** Every container's ID and name, for checks against what a manager reports. */
  containerNames(): Array<{ readonly id: string; readonly name: string }> {
    return [...this.containers.values()].map((container) => ({ id: container.id, name: container.name }));
  }

  // ---- ShapeContext ---------------------------------------------------------------------------

  network(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  image(id: string): ImageRecord | undefined {
    return this.images.find((image) => image.id === id);
  }

  // ---- lifecycle of the whole engine ------------------------------------------------------------

  /** Back to the state it started in: no containers, execs, added networks, volumes or images. */
  reset(): void {
    for (const container of this.containers.values()) if (container.healthTimer) clearTimeout(container.healthTimer);
    for (const list of this.waiters.values()) for (const waiter of list) waiter.done(undefined);
    this.waiters.clear();
    this.containers.clear();
    this.names.clear();
    this.execs.clear();
    this.volumes.clear();
    this.networks.clear();
    this.running = 0;
    this.images = this.options.images.map((spec) => this.imageFromSpec(spec, this.startNs));
    const predefined: Array<[string, string, string | undefined, Record<string, string>]> = [
      ["none", "null", undefined, {}],
      ["host", "host", undefined, {}],
    ];
    if (this.options.bridge) {
      predefined.unshift([
        "bridge",
        "bridge",
        "172.17",
        {
          "com.docker.network.bridge.default_bridge": "true",
          "com.docker.network.bridge.enable_icc": "true",
          "com.docker.network.bridge.enable_ip_masquerade": "true",
          "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
          "com.docker.network.bridge.name": "docker0",
          "com.docker.network.driver.mtu": "1500",
        },
      ]);
    }
    for (const [name, driver, subnetPrefix, options] of predefined) {
      const id = sha256(`${this.identity.id}/network/${name}`);
      this.networks.set(id, {
        id,
        name,
        driver,
        createdNs: this.startNs,
        predefined: true,
        internal: false,
        attachable: false,
        enableIPv6: false,
        labels: EMPTY_LABELS,
        options,
        ipamOptions: null,
        subnetPrefix,
        nextHost: 2,
      });
    }
    this.events.clearHistory();
  }

  /** Ends whatever is waiting on this engine (wait, logs -f, attach): it is going away. */
  shutdown(): void {
    for (const list of this.waiters.values()) for (const waiter of list) waiter.done(undefined);
    this.waiters.clear();
    for (const container of this.containers.values()) if (container.healthTimer) clearTimeout(container.healthTimer);
  }

  private imageFromSpec(spec: ImageSpec, createdNs: bigint): ImageRecord {
    const ref = parseReference(spec.ref);
    const seed = `${ref.familiar}|${(spec.cmd ?? []).join(" ")}|${(spec.entrypoint ?? []).join(" ")}`;
    return {
      id: `sha256:${sha256(`image|${seed}`)}`,
      repoTags: [ref.familiar],
      repoDigests: [],
      createdNs,
      lastTagNs: createdNs,
      size: spec.size ?? 1_236_000,
      cmd: spec.cmd ?? ["sh"],
      entrypoint: spec.entrypoint ?? null,
      env: spec.env ?? [DEFAULT_PATH_ENV],
      workingDir: "",
      labels: null,
      layer: `sha256:${sha256(`layer|${seed}`)}`,
      digest: `sha256:${sha256(`manifest|${seed}`)}`,
    };
  }

  // ---- events -----------------------------------------------------------------------------------

  private emit(type: EventType, action: string, actorId: string, attributes: Record<string, string>, from?: string): void {
    this.events.emit({ type, action, actorId, attributes, from, timeNs: nowNs() });
  }

  /** Container events carry the container's labels, its image and its name, as dockerd's do. */
  private emitContainer(container: ContainerRecord, action: string, extra?: Record<string, string>): void {
    const attributes: Record<string, string> = { ...container.labels, image: container.imageRef, name: container.name, ...extra };
    this.emit("container", action, container.id, attributes, container.imageRef);
  }

  // ---- system -----------------------------------------------------------------------------------

  counts(): EngineCounts {
    let paused = 0;
    for (const container of this.containers.values()) if (container.status === "paused") paused++;
    return {
      containers: this.containers.size,
      running: this.running - paused,
      paused,
      stopped: this.containers.size - this.running,
      images: this.images.length,
      eventListeners: this.events.listeners,
    };
  }

  info(): JsonObject {
    return infoDocument(this.identity, this.counts());
  }

  version(): JsonObject {
    return versionDocument(this.identity);
  }

  // ---- container lookup -------------------------------------------------------------------------

  /** By full ID, then exact name, then unique ID prefix, as dockerd resolves a reference. */
  findContainer(ref: string): ContainerRecord {
    const byId = this.containers.get(ref);
    if (byId) return byId;
    const name = ref.startsWith("/") ? ref.slice(1) : ref;
    const id = this.names.get(name);
    if (id !== undefined) return this.containers.get(id)!;
    if (/^[0-9a-f]+$/.test(ref)) {
      let found: ContainerRecord | undefined;
      for (const container of this.containers.values()) {
        if (!container.id.startsWith(ref)) continue;
        if (found) throw new ApiError(404, `Multiple IDs found with provided prefix: ${ref}`);
        found = container;
      }
      if (found) return found;
    }
    throw new ApiError(404, `No such container: ${ref}`);
  }

  /** The inspect document, serialised. */
  inspectContainer(ref: string, withSize: boolean): string {
    return inspectContainerJson(this, this.findContainer(ref), withSize);
  }

  listContainers(query: URLSearchParams, filters: EventFilters | undefined): JsonObject[] {
    const limit = Number(query.get("limit") ?? "-1");
    const all = isTrue(query.get("all")) || limit > 0;
    const withSize = isTrue(query.get("size"));
    for (const [key, values] of filters ?? []) {
      if (!["id", "name", "label", "status", "ancestor", "exited", "network", "volume", "before", "since"].includes(key)) {
        throw new ApiError(400, `Invalid filter '${key}'`);
      }
      if (key === "status") {
        for (const value of values) if (!CONTAINER_STATUSES.has(value)) throw new ApiError(400, `Invalid filter 'status=${value}'`);
      }
    }
    const now = nowNs();
    const selected: ContainerRecord[] = [];
    for (const container of this.containers.values()) {
      if (!all && container.status !== "running" && container.status !== "paused") continue;
      if (filters && !this.containerMatches(container, filters)) continue;
      selected.push(container);
    }
    // Newest first, as dockerd lists them.
    selected.sort((a, b) => (a.createdNs < b.createdNs ? 1 : a.createdNs > b.createdNs ? -1 : 0));
    const limited = limit > 0 ? selected.slice(0, limit) : selected;
    return limited.map((container) => containerSummary(this, container, withSize, now));
  }

  private containerMatches(container: ContainerRecord, filters: EventFilters): boolean {
    for (const [key, values] of filters) {
      if (values.length === 0) continue;
      const ok = values.some((value) => {
        switch (key) {
          case "id":
            return container.id.startsWith(value);
          case "name":
            return nameMatches(`/${container.name}`, value);
          case "label": {
            const eq = value.indexOf("=");
            return eq < 0 ? Object.hasOwn(container.labels, value) : container.labels[value.slice(0, eq)] === value.slice(eq + 1);
          }
          case "status":
            return container.status === value;
          case "exited":
            return container.status === "exited" && String(container.exitCode) === value;
          case "ancestor":
            return this.imageMatchesRef(container.imageId, value) || container.imageRef === value;
          case "network":
            return container.networks.some((a) => a.networkId.startsWith(value) || this.networks.get(a.networkId)?.name === value);
          case "volume":
            return container.mounts.some((m) => m.source === value || m.destination === value);
          case "before":
          case "since": {
            const other = this.containers.get(value) ?? this.containers.get(this.names.get(value) ?? "");
            if (!other) return false;
            return key === "before" ? container.createdNs < other.createdNs : container.createdNs > other.createdNs;
          }
          default:
            return false;
        }
      });
      if (!ok) return false;
    }
    return true;
  }

  // ---- container create -------------------------------------------------------------------------

  createContainer(requestedName: string | undefined, body: unknown): { Id: string; Warnings: string[] } {
    const config = asObject(body);
    if (config === undefined) throw new Unanswerable("a create body that is not a JSON object");
    const imageRef = config.Image;
    if (typeof imageRef !== "string" || imageRef === "") {
      throw new ApiError(400, "Config cannot be empty in order to create a container");
    }
    let name = requestedName;
    if (name !== undefined && name !== "") {
      if (!NAME_PATTERN.test(name)) throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      if (name.startsWith("/")) name = name.slice(1);
      const holder = this.names.get(name);
      if (holder !== undefined) {
        throw new ApiError(
          409,
          `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    } else {
      name = generateName((candidate) => this.names.has(candidate));
    }
    const image = this.resolveImageForUse(imageRef);
    const hostConfigBody = asObject(config.HostConfig);

    const requestedEntrypoint = stringArray(config.Entrypoint);
    const requestedCmd = stringArray(config.Cmd);
    const entrypoint = requestedEntrypoint && requestedEntrypoint.length > 0 ? requestedEntrypoint : image.entrypoint;
    const cmd =
      requestedCmd && requestedCmd.length > 0 ? requestedCmd : requestedEntrypoint && requestedEntrypoint.length > 0 ? null : image.cmd;
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (argv.length === 0) throw new ApiError(400, "No command specified");

    const configDiff = diffFromDefaults(config, CONFIG_DEFAULTS, normalizeConfigValue);
    delete configDiff.Image;
    delete configDiff.Labels;
    const env = mergeEnv(image.env, stringArray(config.Env));
    if (env.length > 0) configDiff.Env = env;
    if (cmd) configDiff.Cmd = cmd;
    else delete configDiff.Cmd;
    if (entrypoint) configDiff.Entrypoint = entrypoint;
    else delete configDiff.Entrypoint;
    const workingDir = typeof config.WorkingDir === "string" && config.WorkingDir !== "" ? config.WorkingDir : image.workingDir;
    if (workingDir !== "") configDiff.WorkingDir = workingDir;
    const requestedLabels = stringRecord(config.Labels) ?? {};
    const labels =
      image.labels === null && Object.keys(requestedLabels).length === 0
        ? EMPTY_LABELS
        : { ...(image.labels ?? {}), ...requestedLabels };

    const hostConfig = shareHostConfig(diffFromDefaults(hostConfigBody, HOST_CONFIG_DEFAULTS, normalizeHostConfigValue));
    const id = hex(32);
    const networks = this.initialAttachments(id, networkModeOf({ hostConfig }), asObject(config.NetworkingConfig));
    const mounts = this.mountsFor(config, hostConfigBody);

    const container: ContainerRecord = {
      id,
      name,
      imageRef,
      imageId: image.id,
      createdNs: nowNs(),
      config: configDiff,
      hostConfig,
      labels,
      path: argv[0]!,
      args: argv.length > 1 ? argv.slice(1) : EMPTY_ARRAY,
      status: "created",
      pid: 0,
      exitCode: 0,
      startedNs: 0n,
      finishedNs: 0n,
      everStarted: false,
      sandboxId: "",
      networks,
      mounts,
      ports: EMPTY_ARRAY,
      pendingExecs: null,
      health: undefined,
      healthTimer: undefined,
    };
    for (const mount of mounts) {
      if (mount.type !== "volume") continue;
      if (!this.volumes.has(mount.source)) this.addVolume(mount.source, "local", null, null, mount.anonymous);
      this.emit("volume", "create", mount.source, { driver: "local" });
    }
    this.containers.set(id, container);
    this.names.set(name, id);
    this.emitContainer(container, "create");
    return { Id: id, Warnings: [] };
  }

  private initialAttachments(id: string, mode: string, networking: JsonObject | undefined): NetworkAttachment[] {
    if (mode.startsWith("container:")) return [];
    const networkName = mode === "default" ? "bridge" : mode;
    const network = this.findNetworkOrUndefined(networkName);
    const endpoint = asObject(asObject(networking?.EndpointsConfig)?.[mode]);
    const aliases = stringArray(endpoint?.Aliases) ?? [];
    return [
      {
        networkId: network?.id ?? "",
        aliases: network && !network.predefined ? [id.slice(0, 12), ...aliases] : null,
        endpointId: "",
        host: 0,
      },
    ];
  }

  private mountsFor(config: JsonObject, hostConfig: JsonObject | undefined): readonly MountRecord[] {
    const mounts: MountRecord[] = [];
    for (const bind of stringArray(hostConfig?.Binds) ?? []) {
      const [source = "", destination = "", options = ""] = bind.split(":");
      const flags = options.split(",").filter((o) => o !== "");
      const rw = !flags.includes("ro");
      if (source.startsWith("/")) {
        mounts.push({ type: "bind", source, destination, rw, mode: flags.filter((f) => f !== "ro" && f !== "rw").join(","), anonymous: false });
      } else {
        if (!VOLUME_NAME_PATTERN.test(source)) throw new ApiError(400, invalidVolumeName(source));
        mounts.push({ type: "volume", source, destination, rw, mode: flags.filter((f) => f !== "rw").join(",") || "z", anonymous: false });
      }
    }
    for (const entry of Array.isArray(hostConfig?.Mounts) ? hostConfig.Mounts : []) {
      const mount = asObject(entry);
      const type = mount?.Type;
      const target = mount?.Target;
      if (typeof target !== "string" || (type !== "volume" && type !== "bind")) throw new Unanswerable("a HostConfig.Mounts entry other than volume or bind");
      const source = typeof mount?.Source === "string" ? mount.Source : "";
      const rw = mount?.ReadOnly !== true;
      if (type === "bind") mounts.push({ type, source, destination: target, rw, mode: "", anonymous: false });
      else mounts.push({ type, source: source === "" ? hex(32) : source, destination: target, rw, mode: "", anonymous: source === "" });
    }
    for (const destination of Object.keys(asObject(config.Volumes) ?? {})) {
      if (mounts.some((m) => m.destination === destination)) continue;
      mounts.push({ type: "volume", source: hex(32), destination, rw: true, mode: "", anonymous: true });
    }
    return mounts.length === 0 ? (EMPTY_ARRAY) : mounts;
  }

  // ---- container lifecycle ----------------------------------------------------------------------

  /** Returns false when the container already runs (304). */
  startContainer(ref: string): boolean {
    const container = this.findContainer(ref);
    if (container.status === "paused") throw new ApiError(409, "cannot start a paused container, try unpause instead");
    if (container.status === "running") return false;
    this.bringUp(container);
    return true;
  }

  private bringUp(container: ContainerRecord): void {
    const mode = networkModeOf(container);
    for (const attachment of container.networks) {
      if (attachment.networkId !== "" && this.networks.has(attachment.networkId)) continue;
      // A default-bridge container on an engine without a bridge starts unattached, as dockerd's does.
      if (attachment.networkId === "" && (mode === "default" || mode === "bridge")) continue;
      throw new ApiError(404, `network ${attachment.networkId === "" ? mode : attachment.networkId} not found`);
    }
    container.ports = this.publishPorts(container);
    container.sandboxId = hex(32);
    for (const attachment of container.networks) {
      const network = this.networks.get(attachment.networkId);
      if (!network) continue;
      attachment.endpointId = hex(32);
      attachment.host = network.subnetPrefix === undefined ? 0 : this.allocateHost(network);
    }
    container.status = "running";
    container.pid = this.nextPid++;
    container.exitCode = 0;
    container.startedNs = nowNs();
    container.everStarted = true;
    this.running++;
    for (const attachment of container.networks) {
      const network = this.networks.get(attachment.networkId);
      if (network) this.emit("network", "connect", network.id, { container: container.id, name: network.name, type: network.driver });
    }
    for (const mount of container.mounts) {
      if (mount.type !== "volume") continue;
      this.emit("volume", "mount", mount.source, {
        container: container.id,
        destination: mount.destination,
        driver: "local",
        propagation: "",
        "read/write": String(mount.rw),
      });
    }
    this.emitContainer(container, "start");
    this.startHealthcheck(container);
  }

  private startHealthcheck(container: ContainerRecord): void {
    const check = asObject(container.config.Healthcheck);
    const test = stringArray(check?.Test);
    if (!check || !test || test.length === 0 || test[0] === "NONE") return;
    container.health = "starting";
    const intervalNs = typeof check.Interval === "number" && check.Interval > 0 ? check.Interval : 30e9;
    const timer = setTimeout(() => {
      container.healthTimer = undefined;
      if (container.status !== "running" || container.health !== "starting") return;
      container.health = "healthy";
      this.emitContainer(container, "health_status: healthy");
    }, intervalNs / 1e6);
    timer.unref();
    container.healthTimer = timer;
  }

  private allocateHost(network: NetworkRecord): number {
    if (network.nextHost > 65534) {
      const used = new Set<number>();
      for (const c of this.containers.values()) for (const a of c.networks) if (a.networkId === network.id) used.add(a.host);
      let host = 2;
      while (used.has(host)) host++;
      return host;
    }
    return network.nextHost++;
  }

  private publishPorts(container: ContainerRecord): readonly PortRecord[] {
    const addressed = container.networks.some((a) => this.networks.get(a.networkId)?.subnetPrefix !== undefined);
    const bindings = asObject(container.hostConfig.PortBindings) ?? {};
    const publishAll = container.hostConfig.PublishAllPorts === true;
    if (!addressed || (Object.keys(bindings).length === 0 && !publishAll)) return EMPTY_ARRAY;
    const inUse = new Set<string>();
    for (const other of this.containers.values()) for (const p of other.ports) inUse.add(`${p.hostIp}|${p.hostPort}|${p.containerPort.split("/")[1]}`);
    const taken = (ip: string, port: number, proto: string) =>
      inUse.has(`${ip}|${port}|${proto}`) || (ip === "" ? [...inUse].some((k) => k.endsWith(`|${port}|${proto}`)) : inUse.has(`|${port}|${proto}`));
    const ports: PortRecord[] = [];
    const requests: Array<[string, string, string]> = [];
    for (const [port, list] of Object.entries(bindings)) {
      for (const binding of Array.isArray(list) && list.length > 0 ? list : [{}]) {
        const b = asObject(binding) ?? {};
        requests.push([port, typeof b.HostIp === "string" ? b.HostIp : "", typeof b.HostPort === "string" ? b.HostPort : ""]);
      }
    }
    if (publishAll) {
      for (const port of Object.keys(asObject(container.config.ExposedPorts) ?? {})) if (!(port in bindings)) requests.push([port, "", ""]);
    }
    for (const [containerPort, hostIp, hostPort] of requests) {
      const proto = containerPort.split("/")[1] ?? "tcp";
      let port = Number(hostPort.split("-")[0]);
      if (hostPort === "" || !Number.isInteger(port) || port === 0) {
        port = FIRST_EPHEMERAL_PORT;
        while (taken(hostIp, port, proto) || ports.some((p) => p.hostPort === port)) port++;
      } else if (taken(hostIp, port, proto)) {
        throw new ApiError(
          500,
          `driver failed programming external connectivity on endpoint ${container.name} (${hex(32)}): Bind for ${hostIp === "" ? "0.0.0.0" : hostIp}:${port} failed: port is already allocated`,
        );
      }
      ports.push({ containerPort: containerPort.includes("/") ? containerPort : `${containerPort}/tcp`, hostIp, hostPort: port });
    }
    return ports;
  }

  /** The process is gone: `die`, then the networks and volumes it leaves, newest first. */
  private bringDown(container: ContainerRecord, exitCode: number): void {
    container.status = "exited";
    container.exitCode = exitCode;
    container.finishedNs = nowNs();
    container.pid = 0;
    container.health = undefined;
    if (container.healthTimer) {
      clearTimeout(container.healthTimer);
      container.healthTimer = undefined;
    }
    this.running--;
    this.emitContainer(container, "die", { exitCode: String(exitCode) });
    for (let i = container.networks.length - 1; i >= 0; i--) {
      const attachment = container.networks[i]!;
      attachment.endpointId = "";
      attachment.host = 0;
      const network = this.networks.get(attachment.networkId);
      if (network) this.emit("network", "disconnect", network.id, { container: container.id, name: network.name, type: network.driver });
    }
    for (const mount of container.mounts) {
      if (mount.type === "volume") this.emit("volume", "unmount", mount.source, { container: container.id, driver: "local" });
    }
    container.ports = EMPTY_ARRAY;
    this.settleWaiters(container.id, exitCode, false);
  }

  /** `docker stop`: SIGTERM, which `sleep` as PID 1 ignores, then SIGKILL. */
  private stopSequence(container: ContainerRecord): void {
    this.emitContainer(container, "kill", { signal: "15" });
    if (container.status === "paused") {
      container.status = "running";
      this.emitContainer(container, "unpause");
    }
    this.emitContainer(container, "kill", { signal: "9" });
    this.bringDown(container, KILLED_EXIT_CODE);
    this.emitContainer(container, "stop");
  }

  /** Returns false when it was not running (304). */
  stopContainer(ref: string): boolean {
    const container = this.findContainer(ref);
    if (container.status !== "running" && container.status !== "paused") return false;
    this.stopSequence(container);
    this.autoRemove(container);
    return true;
  }

  killContainer(ref: string, signal: string | null): void {
    const container = this.findContainer(ref);
    const number = parseSignal(signal);
    if (container.status !== "running" && container.status !== "paused") {
      throw new ApiError(409, `Cannot kill container: ${ref}: Container ${container.id} is not running`);
    }
    this.emitContainer(container, "kill", { signal: String(number) });
    // Anything but SIGKILL is ignored, like busybox `sleep` running as PID 1 does.
    if (number !== 9) return;
    this.bringDown(container, KILLED_EXIT_CODE);
    this.autoRemove(container);
  }

  restartContainer(ref: string): void {
    const container = this.findContainer(ref);
    if (container.status === "running" || container.status === "paused") this.stopSequence(container);
    this.bringUp(container);
    this.emitContainer(container, "restart");
  }

  pauseContainer(ref: string): void {
    const container = this.findContainer(ref);
    if (container.status === "paused") throw new ApiError(409, `Container ${container.id} is already paused`);
    if (container.status !== "running") throw new ApiError(409, `Container ${container.id} is not running`);
    container.status = "paused";
    this.emitContainer(container, "pause");
  }

  unpauseContainer(ref: string): void {
    const container = this.findContainer(ref);
    if (container.status !== "paused") throw new ApiError(500, `Container ${container.id} is not paused`);
    container.status = "running";
    this.emitContainer(container, "unpause");
  }

  private autoRemove(container: ContainerRecord): void {
    if (container.hostConfig.AutoRemove === true && this.containers.has(container.id)) this.removeRecord(container, true);
  }

  removeContainer(ref: string, force: boolean, removeVolumes: boolean): void {
    const container = this.findContainer(ref);
    if (container.status === "paused" && !force) {
      throw new ApiError(
        409,
        `You cannot remove a paused container ${container.id}. Unpause and then stop the container before attempting removal or force remove`,
      );
    }
    if (container.status === "running" && !force) {
      throw new ApiError(
        409,
        `You cannot remove a running container ${container.id}. Stop the container before attempting removal or force remove`,
      );
    }
    if (container.status === "running" || container.status === "paused") {
      this.emitContainer(container, "kill", { signal: "9" });
      this.bringDown(container, KILLED_EXIT_CODE);
    }
    this.removeRecord(container, removeVolumes);
  }

  private removeRecord(container: ContainerRecord, removeVolumes: boolean): void {
    if (removeVolumes) {
      for (const mount of container.mounts) {
        if (mount.type !== "volume" || !mount.anonymous || !this.volumes.has(mount.source)) continue;
        this.volumes.delete(mount.source);
        this.emit("volume", "destroy", mount.source, { driver: "local" });
      }
    }
    this.containers.delete(container.id);
    this.names.delete(container.name);
    for (const [id, exec] of this.execs) if (exec.containerId === container.id) this.execs.delete(id);
    this.emitContainer(container, "destroy");
    this.settleWaiters(container.id, container.exitCode, true);
  }

  renameContainer(ref: string, newName: string | null): void {
    const container = this.findContainer(ref);
    if (newName === null || newName === "" || !NAME_PATTERN.test(newName)) {
      throw new ApiError(400, `Invalid container name (${newName ?? ""}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const name = newName.startsWith("/") ? newName.slice(1) : newName;
    if (name === container.name) throw new ApiError(400, "Renaming a container with the same name as its current name");
    const holder = this.names.get(name);
    if (holder !== undefined) {
      throw new ApiError(
        409,
        `Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    const oldName = container.name;
    this.names.delete(oldName);
    container.name = name;
    this.names.set(name, container.id);
    this.emitContainer(container, "rename", { oldName: `/${oldName}` });
  }

  topContainer(ref: string): JsonObject {
    const container = this.findContainer(ref);
    if (container.status !== "running" && container.status !== "paused") throw new ApiError(409, `Container ${container.id} is not running`);
    this.emitContainer(container, "top");
    const started = new Date(Number(container.startedNs / 1_000_000n)).toISOString().slice(11, 16);
    return {
      Processes: [["root", String(container.pid), String(container.pid - 21), "0", started, "?", "00:00:00", [container.path, ...container.args].join(" ")]],
      Titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
    };
  }

  /**
   * `POST /containers/{id}/wait`: `done` gets the exit code when the condition is met (at once
   * for a container that is not running and `not-running`).
   */
  waitContainer(ref: string, condition: WaitCondition, done: (exitCode: number | undefined) => void): () => void {
    const container = this.findContainer(ref);
    if (condition === "not-running" && container.status !== "running" && container.status !== "paused") {
      done(container.exitCode);
      return () => undefined;
    }
    return this.addWaiter(container.id, { condition, done });
  }

  /**
   * Streams that last while the container runs (`logs -f`, `attach`): `done` is called when it stops
   * or goes away. Returns undefined when the container does not run, so the stream ends at once.
   */
  followContainer(ref: string, done: () => void): (() => void) | undefined {
    const container = this.findContainer(ref);
    if (container.status !== "running" && container.status !== "paused") return undefined;
    return this.addWaiter(container.id, { condition: "stream", done: () => done() });
  }

  attachEvent(ref: string): void {
    this.emitContainer(this.findContainer(ref), "attach");
  }

  private addWaiter(id: string, waiter: Waiter): () => void {
    const list = this.waiters.get(id) ?? [];
    list.push(waiter);
    this.waiters.set(id, list);
    return () => {
      const current = this.waiters.get(id);
      if (!current) return;
      const index = current.indexOf(waiter);
      if (index >= 0) current.splice(index, 1);
      if (current.length === 0) this.waiters.delete(id);
    };
  }

  private settleWaiters(id: string, exitCode: number, removed: boolean): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const waiter of list) {
      if (waiter.condition === "removed" && !removed) keep.push(waiter);
      else waiter.done(exitCode);
    }
    if (keep.length > 0) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  pruneContainers(filters: EventFilters | undefined): JsonObject {
    const deleted: string[] = [];
    for (const container of [...this.containers.values()]) {
      if (container.status === "running" || container.status === "paused") continue;
      if (filters && !this.containerMatches(container, new Map([...filters].filter(([k]) => k === "label")))) continue;
      this.removeRecord(container, false);
      deleted.push(container.id);
    }
    this.emit("container", "prune", "", { reclaimed: "0" });
    return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: 0 };
  }

  // ---- exec -------------------------------------------------------------------------------------

  createExec(ref: string, body: unknown): { Id: string } {
    const container = this.findContainer(ref);
    const config = asObject(body);
    if (!config) throw new Unanswerable("an exec body that is not a JSON object");
    if (container.status === "paused") throw new ApiError(409, `Container ${container.id} is paused, unpause the container before exec`);
    if (container.status !== "running") throw new ApiError(409, `Container ${container.id} is not running`);
    const cmd = stringArray(config.Cmd);
    if (!cmd || cmd.length === 0) throw new ApiError(400, "No exec command specified");
    const exec: ExecRecord = {
      id: hex(32),
      containerId: container.id,
      cmd,
      tty: config.Tty === true,
      openStdin: config.AttachStdin === true,
      openStdout: config.AttachStdout === true,
      openStderr: config.AttachStderr === true,
      privileged: config.Privileged === true,
      user: typeof config.User === "string" ? config.User : "",
      detachKeys: typeof config.DetachKeys === "string" ? config.DetachKeys : "",
      running: false,
      exitCode: null,
      pid: 0,
    };
    this.execs.set(exec.id, exec);
    container.pendingExecs = [...(container.pendingExecs ?? []), exec.id];
    this.emitContainer(container, `exec_create: ${execCommand(exec)}`, { execID: exec.id });
    return { Id: exec.id };
  }

  private findExec(id: string): ExecRecord {
    const exec = this.execs.get(id);
    if (!exec) throw new ApiError(404, `No such exec instance: ${id}`);
    return exec;
  }

  /** Validates an exec start before its answer goes out (the hijacked answer cannot carry an error after). */
  checkExecStart(id: string): void {
    const exec = this.findExec(id);
    if (exec.exitCode !== null || exec.running) throw new ApiError(409, `Error: Exec command ${id} has already run`);
    const container = this.containers.get(exec.containerId);
    if (!container || (container.status !== "running" && container.status !== "paused")) {
      throw new ApiError(409, `Container ${exec.containerId} is not running`);
    }
  }

  /** Runs the exec to completion at once: it has no process to wait for. */
  runExec(id: string): void {
    this.checkExecStart(id);
    const exec = this.findExec(id);
    const container = this.containers.get(exec.containerId)!;
    exec.running = true;
    exec.pid = this.nextPid++;
    this.emitContainer(container, `exec_start: ${execCommand(exec)}`, { execID: exec.id });
    exec.running = false;
    exec.exitCode = 0;
    if (container.pendingExecs) {
      const rest = container.pendingExecs.filter((e) => e !== exec.id);
      container.pendingExecs = rest.length > 0 ? rest : null;
    }
    this.emitContainer(container, "exec_die", { execID: exec.id, exitCode: "0" });
  }

  inspectExec(id: string): JsonObject {
    return execInspect(this.findExec(id));
  }

  // ---- images -----------------------------------------------------------------------------------

  private reference(raw: string): ImageReference {
    try {
      return parseReference(raw);
    } catch (err) {
      if (err instanceof ReferenceError) throw new ApiError(400, err.message);
      throw err;
    }
  }

  private findImageOrUndefined(raw: string): ImageRecord | undefined {
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(raw);
    } catch {
      ref = undefined;
    }
    if (ref) {
      const found = ref.digest
        ? this.images.find((image) => image.repoDigests.includes(ref.familiar))
        : this.images.find((image) => image.repoTags.includes(ref.familiar));
      if (found) return found;
    }
    if (looksLikeId(raw)) {
      const wanted = raw.startsWith("sha256:") ? raw : `sha256:${raw}`;
      const matches = this.images.filter((image) => image.id.startsWith(wanted));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  /** The image a create names; dockerd's 404 when it is not here. */
  private resolveImageForUse(raw: string): ImageRecord {
    const image = this.findImageOrUndefined(raw);
    if (image) return image;
    throw new ApiError(404, `No such image: ${this.displayRef(raw)}`);
  }

  private displayRef(raw: string): string {
    if (looksLikeId(raw)) return raw;
    try {
      return parseReference(raw).familiar;
    } catch {
      return raw;
    }
  }

  private imageMatchesRef(imageId: string, raw: string): boolean {
    return this.findImageOrUndefined(raw)?.id === imageId;
  }

  listImages(filters: EventFilters | undefined): JsonObject[] {
    let images = this.images;
    for (const [key, values] of filters ?? []) {
      if (!["reference", "dangling", "label", "before", "since"].includes(key)) throw new ApiError(400, `Invalid filter '${key}'`);
      images = images.filter((image) =>
        values.some((value) => {
          switch (key) {
            case "dangling":
              return (image.repoTags.length === 0) === (value === "true" || value === "1");
            case "reference":
              return image.repoTags.some((tag) => referenceMatches(tag, value));
            case "label": {
              const eq = value.indexOf("=");
              const labels = image.labels ?? {};
              return eq < 0 ? Object.hasOwn(labels, value) : labels[value.slice(0, eq)] === value.slice(eq + 1);
            }
            default:
              return true;
          }
        }),
      );
    }
    return [...images].sort((a, b) => (a.createdNs < b.createdNs ? 1 : -1)).map(imageSummary);
  }

  private imageInUse(image: ImageRecord): boolean {
    for (const container of this.containers.values()) if (container.imageId === image.id) return true;
    return false;
  }

  inspectImage(raw: string): JsonObject {
    const image = this.findImageOrUndefined(raw);
    if (!image) throw new ApiError(404, `no such image: ${raw}: No such image: ${this.displayRef(raw)}`);
    return imageInspect(image);
  }

  tagImage(raw: string, repo: string | null, tag: string | null): void {
    const image = this.findImageOrUndefined(raw);
    if (!image) throw new ApiError(404, `No such image: ${this.displayRef(raw)}`);
    if (repo === null || repo === "") throw new ApiError(400, "repository name must have at least one component");
    const target = this.reference(tag ? `${repo}:${tag}` : repo);
    if (target.digest) throw new ApiError(400, "refusing to create a tag with a digest reference");
    for (const other of this.images) {
      if (other !== image) other.repoTags = other.repoTags.filter((t) => t !== target.familiar);
    }
    if (!image.repoTags.includes(target.familiar)) image.repoTags.push(target.familiar);
    image.lastTagNs = nowNs();
    this.emit("image", "tag", image.id, { name: target.familiar });
  }

  removeImage(raw: string, force: boolean): JsonObject[] {
    const image = this.findImageOrUndefined(raw);
    if (!image) throw new ApiError(404, `No such image: ${this.displayRef(raw)}`);
    const byTag = !looksLikeId(raw) || image.repoTags.includes(this.displayRef(raw));
    const answer: JsonObject[] = [];
    const users = [...this.containers.values()].filter((c) => c.imageId === image.id);
    const runningUser = users.find((c) => c.status === "running" || c.status === "paused");

    if (byTag) {
      const ref = this.reference(raw);
      if (image.repoTags.length > 1 || (users.length > 0 && force)) {
        this.untag(image, ref.familiar, answer);
        return answer;
      }
      if (users.length > 0) {
        throw new ApiError(
          409,
          `conflict: unable to remove repository reference "${ref.familiar}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(image.id)}`,
        );
      }
      this.untag(image, ref.familiar, answer);
    } else {
      if (runningUser) {
        throw new ApiError(
          409,
          `conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by running container ${shortId(runningUser.id)}`,
        );
      }
      if (image.repoTags.length > 1 && !force) {
        throw new ApiError(409, `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
      }
      if (users.length > 0 && !force) {
        throw new ApiError(
          409,
          `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`,
        );
      }
      for (const tag of [...image.repoTags]) this.untag(image, tag, answer);
      if (users.length > 0) return answer;
    }
    this.images = this.images.filter((i) => i !== image);
    answer.push({ Deleted: image.id }, { Deleted: image.layer });
    this.emit("image", "delete", image.id, { name: image.id });
    return answer;
  }

  /** Untags one reference; the repository's digests go with its last tag. */
  private untag(image: ImageRecord, familiar: string, answer: JsonObject[]): void {
    image.repoTags = image.repoTags.filter((t) => t !== familiar);
    answer.push({ Untagged: familiar });
    const repository = parseReference(familiar).repository;
    if (!image.repoTags.some((t) => parseReference(t).repository === repository)) {
      const gone = image.repoDigests.filter((d) => d.startsWith(`${repository}@`));
      image.repoDigests = image.repoDigests.filter((d) => !gone.includes(d));
      for (const digest of gone) answer.push({ Untagged: digest });
    }
    this.emit("image", "untag", image.id, { name: image.id });
  }

  pruneImages(): JsonObject {
    const deleted: JsonObject[] = [];
    for (const image of [...this.images]) {
      if (image.repoTags.length > 0 || this.imageInUse(image)) continue;
      this.images = this.images.filter((i) => i !== image);
      deleted.push({ Deleted: image.id });
      this.emit("image", "delete", image.id, { name: image.id });
    }
    this.emit("image", "prune", "", { reclaimed: "0" });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: 0 };
  }

  /**
   * `POST /images/create?fromImage=…&tag=…`: the progress lines of a pull from the pretend
   * registry, or dockerd's error for an image that registry does not have.
   */
  pullImage(fromImage: string, tag: string | null): PullProgress {
    const ref = this.reference(tag && !fromImage.includes("@") ? `${fromImage}:${tag}` : fromImage);
    const spec = this.options.registry.find((s) => parseReference(s.ref).familiar === ref.familiar);
    if (!spec) {
      throw new ApiError(
        404,
        ref.domain === undefined
          ? `pull access denied for ${ref.repository}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`
          : `manifest for ${ref.familiar} not found: manifest unknown: manifest unknown`,
      );
    }
    const lines: string[] = [JSON.stringify({ status: `Pulling from ${ref.remotePath}`, id: ref.tag ?? ref.digest ?? "latest" })];
    const pulled = this.imageFromSpec(spec, nowNs());
    let image = this.images.find((i) => i.id === pulled.id);
    const upToDate = image !== undefined && image.repoTags.includes(ref.familiar);
    if (!image) {
      const layer = shortId(pulled.layer);
      lines.push(
        JSON.stringify({ status: "Pulling fs layer", progressDetail: {}, id: layer }),
        JSON.stringify({ status: "Downloading", progressDetail: { current: pulled.size, total: pulled.size }, id: layer }),
        JSON.stringify({ status: "Download complete", progressDetail: {}, id: layer }),
        JSON.stringify({ status: "Extracting", progressDetail: { current: pulled.size, total: pulled.size }, id: layer }),
        JSON.stringify({ status: "Pull complete", progressDetail: {}, id: layer }),
      );
      image = { ...pulled, repoTags: [] };
      this.images.push(image);
    }
    if (!image.repoTags.includes(ref.familiar)) image.repoTags.push(ref.familiar);
    const digestRef = `${ref.repository}@${image.digest}`;
    if (!image.repoDigests.includes(digestRef)) image.repoDigests.push(digestRef);
    lines.push(JSON.stringify({ status: `Digest: ${image.digest}` }));
    lines.push(JSON.stringify({ status: `Status: ${upToDate ? "Image is up to date" : "Downloaded newer image"} for ${ref.familiar}` }));
    this.emit("image", "pull", ref.familiar, { name: ref.repository });
    return { lines };
  }

  distribution(raw: string): JsonObject {
    const ref = this.reference(raw);
    const spec = this.options.registry.find((s) => parseReference(s.ref).familiar === ref.familiar);
    if (!spec) {
      throw new ApiError(
        ref.domain === undefined ? 401 : 404,
        ref.domain === undefined
          ? "errors:\ndenied: requested access to the resource is denied\nunauthorized: authentication required\n"
          : `manifest unknown: manifest unknown`,
      );
    }
    return distributionInspect(this.imageFromSpec(spec, this.startNs));
  }

  // ---- networks ---------------------------------------------------------------------------------

  private findNetworkOrUndefined(ref: string): NetworkRecord | undefined {
    const byId = this.networks.get(ref);
    if (byId) return byId;
    for (const network of this.networks.values()) if (network.name === ref) return network;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = [...this.networks.values()].filter((n) => n.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  private findNetwork(ref: string): NetworkRecord {
    const network = this.findNetworkOrUndefined(ref);
    if (!network) throw new ApiError(404, `network ${ref} not found`);
    return network;
  }

  private networkContainers(network: NetworkRecord): JsonObject {
    const out: JsonObject = {};
    for (const container of this.containers.values()) {
      if (container.status !== "running" && container.status !== "paused") continue;
      const attachment = container.networks.find((a) => a.networkId === network.id);
      if (attachment) out[container.id] = networkEndpoint(this, container, attachment);
    }
    return out;
  }

  listNetworks(filters: EventFilters | undefined): JsonObject[] {
    const out: JsonObject[] = [];
    for (const [key] of filters ?? []) {
      if (!["name", "id", "driver", "label", "type", "scope", "dangling"].includes(key)) throw new ApiError(400, `Invalid filter '${key}'`);
    }
    for (const network of this.networks.values()) {
      if (filters && !networkMatches(network, filters)) continue;
      // dockerd's list leaves out the endpoints; only an inspect has them.
      out.push(networkDocument(network, EMPTY_OBJECT));
    }
    return out;
  }

  inspectNetwork(ref: string): JsonObject {
    const network = this.findNetwork(ref);
    return networkDocument(network, this.networkContainers(network));
  }

  createNetwork(body: unknown): { Id: string; Warning: string } {
    const config = asObject(body);
    if (!config || typeof config.Name !== "string" || config.Name === "") throw new Unanswerable("a network create body without a Name");
    const name = config.Name;
    const driver = typeof config.Driver === "string" && config.Driver !== "" ? config.Driver : "bridge";
    if (!["bridge", "macvlan", "ipvlan"].includes(driver)) throw new Unanswerable(`networks with the ${driver} driver`);
    if (config.CheckDuplicate === true && [...this.networks.values()].some((n) => n.name === name)) {
      throw new ApiError(409, `network with name ${name} already exists`);
    }
    const used = new Set([...this.networks.values()].map((n) => n.subnetPrefix));
    let octet = 17;
    while (used.has(`172.${octet}`) && octet < 31) octet++;
    const subnetPrefix = used.has(`172.${octet}`) ? `10.${(this.networks.size * 7) % 250}` : `172.${octet}`;
    const network: NetworkRecord = {
      id: hex(32),
      name,
      driver,
      createdNs: nowNs(),
      predefined: false,
      internal: config.Internal === true,
      attachable: config.Attachable === true,
      enableIPv6: config.EnableIPv6 === true,
      labels: stringRecord(config.Labels) ?? {},
      options: stringRecord(config.Options) ?? {},
      ipamOptions: stringRecord(asObject(config.IPAM)?.Options) ?? {},
      subnetPrefix,
      nextHost: 2,
    };
    this.networks.set(network.id, network);
    this.emit("network", "create", network.id, { name, type: driver });
    return { Id: network.id, Warning: "" };
  }

  removeNetwork(ref: string): void {
    const network = this.findNetwork(ref);
    if (network.predefined) throw new ApiError(403, `${network.name} is a pre-defined network and cannot be removed`);
    if (Object.keys(this.networkContainers(network)).length > 0) {
      throw new ApiError(403, `error while removing network: network ${network.name} id ${network.id} has active endpoints`);
    }
    this.networks.delete(network.id);
    this.emit("network", "destroy", network.id, { name: network.name, type: network.driver });
  }

  connectNetwork(ref: string, body: unknown): void {
    const network = this.findNetwork(ref);
    const config = asObject(body);
    if (!config || typeof config.Container !== "string") throw new Unanswerable("a network connect body without a Container");
    const container = this.findContainer(config.Container);
    const mode = networkModeOf(container);
    if (mode === "none" || network.name === "none") {
      throw new ApiError(400, "container cannot be connected to multiple networks with one of the networks in private (none) mode");
    }
    if (mode === "host" || network.name === "host" || mode.startsWith("container:")) {
      throw new ApiError(400, "container cannot be disconnected from host network or connected to host network");
    }
    if (container.networks.some((a) => a.networkId === network.id)) {
      throw new ApiError(403, `endpoint with name ${container.name} already exists in network ${network.name}`);
    }
    const aliases = stringArray(asObject(config.EndpointConfig)?.Aliases) ?? [];
    const attachment: NetworkAttachment = {
      networkId: network.id,
      aliases: network.predefined ? null : [container.id.slice(0, 12), ...aliases],
      endpointId: "",
      host: 0,
    };
    container.networks = [...container.networks, attachment];
    if (container.status === "running" || container.status === "paused") {
      attachment.endpointId = hex(32);
      attachment.host = network.subnetPrefix === undefined ? 0 : this.allocateHost(network);
      this.emit("network", "connect", network.id, { container: container.id, name: network.name, type: network.driver });
    }
  }

  disconnectNetwork(ref: string, body: unknown): void {
    const network = this.findNetwork(ref);
    const config = asObject(body);
    if (!config || typeof config.Container !== "string") throw new Unanswerable("a network disconnect body without a Container");
    const container = this.findContainer(config.Container);
    if (!container.networks.some((a) => a.networkId === network.id)) {
      throw new ApiError(500, `container ${container.id} is not connected to network ${network.name}`);
    }
    container.networks = container.networks.filter((a) => a.networkId !== network.id);
    if (container.status === "running" || container.status === "paused") {
      // dockerd 20.10 reports an explicit disconnect of a running container twice.
      for (let i = 0; i < 2; i++) {
        this.emit("network", "disconnect", network.id, { container: container.id, name: network.name, type: network.driver });
      }
    }
  }

  pruneNetworks(): JsonObject {
    const deleted: string[] = [];
    for (const network of [...this.networks.values()]) {
      if (network.predefined || Object.keys(this.networkContainers(network)).length > 0) continue;
      this.networks.delete(network.id);
      deleted.push(network.name);
      this.emit("network", "destroy", network.id, { name: network.name, type: network.driver });
    }
    this.emit("network", "prune", "", { reclaimed: "0" });
    return { NetworksDeleted: deleted.length > 0 ? deleted : null };
  }

  // ---- volumes ----------------------------------------------------------------------------------

  private addVolume(
    name: string,
    driver: string,
    labels: Record<string, string> | null,
    options: Record<string, string> | null,
    anonymous: boolean,
  ): VolumeRecord {
    const volume: VolumeRecord = { name, driver, labels, options, createdAt: formatSeconds(nowNs()), anonymous };
    this.volumes.set(name, volume);
    return volume;
  }

  private findVolume(name: string): VolumeRecord {
    const volume = this.volumes.get(name);
    if (!volume) throw new ApiError(404, `get ${name}: no such volume`);
    return volume;
  }

  private volumeUsers(name: string): string[] {
    const users: string[] = [];
    for (const container of this.containers.values()) {
      if (container.mounts.some((m) => m.type === "volume" && m.source === name)) users.push(container.id);
    }
    return users;
  }

  listVolumes(filters: EventFilters | undefined): JsonObject {
    const volumes: JsonObject[] = [];
    for (const [key] of filters ?? []) {
      if (!["name", "label", "dangling", "driver"].includes(key)) throw new ApiError(400, `Invalid filter '${key}'`);
    }
    for (const volume of this.volumes.values()) {
      if (filters && !this.volumeMatches(volume, filters)) continue;
      volumes.push(volumeDocument(this.identity, volume));
    }
    return { Volumes: volumes, Warnings: null };
  }

  private volumeMatches(volume: VolumeRecord, filters: EventFilters): boolean {
    for (const [key, values] of filters) {
      if (values.length === 0) continue;
      const ok = values.some((value) => {
        switch (key) {
          case "name":
            return volume.name.includes(value);
          case "driver":
            return volume.driver === value;
          case "dangling":
            return (this.volumeUsers(volume.name).length === 0) === (value === "true" || value === "1");
          case "label": {
            const labels = volume.labels ?? {};
            const eq = value.indexOf("=");
            return eq < 0 ? Object.hasOwn(labels, value) : labels[value.slice(0, eq)] === value.slice(eq + 1);
          }
          default:
            return false;
        }
      });
      if (!ok) return false;
    }
    return true;
  }

  inspectVolume(name: string): JsonObject {
    return volumeDocument(this.identity, this.findVolume(name));
  }

  createVolume(body: unknown): JsonObject {
    const config = asObject(body) ?? {};
    const requested = typeof config.Name === "string" ? config.Name : "";
    const driver = typeof config.Driver === "string" && config.Driver !== "" ? config.Driver : "local";
    if (driver !== "local") throw new ApiError(404, `error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    if (requested !== "" && !VOLUME_NAME_PATTERN.test(requested)) throw new ApiError(400, `create ${requested}: ${invalidVolumeName(requested)}`);
    const labels = stringRecord(config.Labels);
    const options = stringRecord(config.DriverOpts);
    const existing = requested === "" ? undefined : this.volumes.get(requested);
    const volume =
      existing ??
      this.addVolume(
        requested === "" ? hex(32) : requested,
        driver,
        labels && Object.keys(labels).length > 0 ? labels : null,
        options && Object.keys(options).length > 0 ? options : null,
        requested === "",
      );
    this.emit("volume", "create", volume.name, { driver: volume.driver });
    return volumeDocument(this.identity, volume);
  }

  removeVolume(name: string, force: boolean): void {
    const volume = this.volumes.get(name);
    if (!volume) {
      if (force) return;
      throw new ApiError(404, `get ${name}: no such volume`);
    }
    const users = this.volumeUsers(name);
    if (users.length > 0) throw new ApiError(409, `remove ${name}: volume is in use - [${users.join(", ")}]`);
    this.volumes.delete(name);
    this.emit("volume", "destroy", name, { driver: volume.driver });
  }

  pruneVolumes(filters: EventFilters | undefined): JsonObject {
    const deleted: string[] = [];
    const labelFilters = filters ? new Map([...filters].filter(([key]) => key === "label")) : undefined;
    for (const volume of [...this.volumes.values()]) {
      if (this.volumeUsers(volume.name).length > 0) continue;
      if (labelFilters && !this.volumeMatches(volume, labelFilters)) continue;
      this.volumes.delete(volume.name);
      deleted.push(volume.name);
    }
    // dockerd 20.10 reports a volume prune as one event, without a destroy per volume.
    this.emit("volume", "prune", "", { reclaimed: "0" });
    return { VolumesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: 0 };
  }
}

function normalizeConfigValue(key: string, value: unknown): unknown {
  const interned = intern(value);
  if (key === "Volumes" && interned === EMPTY_OBJECT) return null;
  // `omitempty` fields set to their empty value are left out, as Go leaves them out.
  return CONFIG_DEFAULTS[key] === undefined && isEmpty(interned) ? undefined : interned;
}

function execCommand(exec: ExecRecord): string {
  return `${exec.cmd[0] ?? ""} ${exec.cmd.slice(1).join(" ")}`;
}

function parseSignal(raw: string | null): number {
  if (raw === null || raw === "") return 9;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = raw.toUpperCase().replace(/^SIG/, "");
    const n = SIGNALS[name];
    if (n !== undefined) return n;
  }
  throw new ApiError(400, `Invalid signal: ${raw}`);
}

function invalidVolumeName(name: string): string {
  return `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`;
}

export function isTrue(value: string | null): boolean {
  return value !== null && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/** dockerd's name filter is a regular expression over `/name`. */
function nameMatches(name: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

function referenceMatches(tag: string, pattern: string): boolean {
  if (!pattern.includes("*")) return tag === pattern || tag.split(":")[0] === pattern;
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
  return regex.test(tag) || regex.test(tag.split(":")[0] ?? "");
}

function networkMatches(network: NetworkRecord, filters: EventFilters): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const ok = values.some((value) => {
      switch (key) {
        case "name":
          return network.name.includes(value);
        case "id":
          return network.id.startsWith(value);
        case "driver":
          return network.driver === value;
        case "type":
          return value === (network.predefined ? "builtin" : "custom");
        case "scope":
          return value === "local";
        case "label": {
          const eq = value.indexOf("=");
          return eq < 0 ? Object.hasOwn(network.labels, value) : network.labels[value.slice(0, eq)] === value.slice(eq + 1);
        }
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}
