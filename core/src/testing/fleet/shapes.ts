/**
 * dockerd 20.10's JSON documents (API 1.41), built from a simulated engine's lean records.
 *
 * Key sets and key order follow what a real dockerd 20.10.24 answered (captured with the test kit's
 * engines, see bench/README.md): Go marshals struct fields in declaration order and map keys sorted,
 * `omitempty` fields are left out when empty, nil slices and maps are `null`. Values are plausible
 * rather than real (paths, PIDs, sizes), since nothing runs.
 */
import type {
  ContainerRecord,
  EngineIdentity,
  ExecRecord,
  ImageRecord,
  JsonObject,
  NetworkAttachment,
  NetworkRecord,
  VolumeRecord,
} from "./model.js";

export const API_VERSION = "1.41";
export const MIN_API_VERSION = "1.12";
export const SERVER_VERSION = "20.10.24";
export const STORAGE_DRIVER = "overlay2";

// ---- time ---------------------------------------------------------------------------------------

/** Nanoseconds since the epoch, monotonic within the process (event order must follow time order). */
const clockAnchor = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
export function nowNs(): bigint {
  return clockAnchor + process.hrtime.bigint();
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Go's RFC3339Nano: nine fraction digits with trailing zeros dropped. */
export function formatTime(ns: bigint): string {
  if (ns === 0n) return ZERO_TIME;
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${iso.slice(0, 19)}${fraction === "" ? "" : `.${fraction}`}Z`;
}

/** RFC3339 to the second, as volumes report CreatedAt. */
export function formatSeconds(ns: bigint): string {
  return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}Z`;
}

export function unixSeconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n);
}

/** The docker/go-units wording `docker ps` shows in STATUS. */
export function humanDuration(seconds: number): string {
  if (seconds < 1) return "Less than a second";
  if (seconds < 2) return "1 second";
  if (seconds < 60) return `${Math.floor(seconds)} seconds`;
  // Go's int() truncates: 119 seconds are "About a minute".
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

// ---- shared constants ---------------------------------------------------------------------------

/** Shared by every record whose value is empty, so 30,000 containers do not hold 30,000 empty arrays. */
export const EMPTY_ARRAY: readonly never[] = Object.freeze([]);
export const EMPTY_OBJECT: Readonly<JsonObject> = Object.freeze({});
export const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});

const MASKED_PATHS = Object.freeze([
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
]);
const READONLY_PATHS = Object.freeze(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);

/**
 * An inspect's HostConfig for a create body that set nothing, in dockerd's key order. A stored
 * container keeps only the keys whose value differs from this.
 */
export const HOST_CONFIG_DEFAULTS: Readonly<JsonObject> = Object.freeze({
  Binds: null,
  ContainerIDFile: "",
  LogConfig: Object.freeze({ Type: "json-file", Config: EMPTY_OBJECT }),
  NetworkMode: "default",
  PortBindings: null,
  RestartPolicy: Object.freeze({ Name: "", MaximumRetryCount: 0 }),
  AutoRemove: false,
  VolumeDriver: "",
  VolumesFrom: null,
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: "host",
  Dns: null,
  DnsOptions: null,
  DnsSearch: null,
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: "private",
  Cgroup: "",
  Links: null,
  OomScoreAdj: 0,
  PidMode: "",
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  StorageOpt: undefined,
  Tmpfs: undefined,
  UTSMode: "",
  UsernsMode: "",
  ShmSize: 67108864,
  Sysctls: undefined,
  Runtime: "runc",
  ConsoleSize: Object.freeze([0, 0]),
  Isolation: "",
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: "",
  BlkioWeight: 0,
  BlkioWeightDevice: null,
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: "",
  CpusetMems: "",
  Devices: null,
  DeviceCgroupRules: null,
  DeviceRequests: null,
  KernelMemory: 0,
  KernelMemoryTCP: 0,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: null,
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  Mounts: undefined,
  MaskedPaths: MASKED_PATHS,
  ReadonlyPaths: READONLY_PATHS,
  Init: undefined,
});

/** Go `omitempty` fields: absent from the document unless set. */
const HOST_CONFIG_OMITEMPTY = new Set(["StorageOpt", "Tmpfs", "Sysctls", "Mounts", "Init"]);

/** The Config keys a create body may set, in dockerd's order; `undefined` marks `omitempty` fields. */
export const CONFIG_DEFAULTS: Readonly<JsonObject> = Object.freeze({
  Hostname: "",
  Domainname: "",
  User: "",
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  ExposedPorts: undefined,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Healthcheck: undefined,
  ArgsEscaped: undefined,
  Image: "",
  Volumes: null,
  WorkingDir: "",
  Entrypoint: null,
  NetworkDisabled: undefined,
  MacAddress: undefined,
  OnBuild: null,
  Labels: EMPTY_OBJECT,
  StopSignal: undefined,
  StopTimeout: undefined,
  Shell: undefined,
});

/** Replaces empty arrays and objects with the shared frozen ones. */
export function intern(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? EMPTY_ARRAY : value;
  if (value !== null && typeof value === "object" && Object.keys(value).length === 0) return EMPTY_OBJECT;
  return value;
}

export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** dockerd's fill-ins for a create body's HostConfig values left empty. */
export function normalizeHostConfigValue(key: string, value: unknown): unknown {
  switch (key) {
    case "LogConfig": {
      const given = (value ?? {}) as { Type?: unknown; Config?: unknown };
      const type = typeof given.Type === "string" && given.Type !== "" ? given.Type : "json-file";
      return { Type: type, Config: intern(given.Config ?? {}) };
    }
    case "NetworkMode":
      return value === "" || value === null || value === undefined ? "default" : value;
    case "CgroupnsMode":
      return value === "" || value === null ? "host" : value;
    case "IpcMode":
      return value === "" || value === null ? "private" : value;
    case "ShmSize":
      return value === 0 || value === null ? 67108864 : value;
    case "MemorySwappiness":
      return value === -1 ? null : value;
    case "PidsLimit":
      return value === 0 ? null : value;
    case "Runtime":
      return value === "" || value === null ? "runc" : value;
    case "ConsoleSize":
      return value ?? [0, 0];
    case "MaskedPaths":
      return value ?? MASKED_PATHS;
    case "ReadonlyPaths":
      return value ?? READONLY_PATHS;
    case "RestartPolicy":
      return value ?? HOST_CONFIG_DEFAULTS.RestartPolicy;
    default: {
      const interned = intern(value);
      return HOST_CONFIG_DEFAULTS[key] === undefined && isEmpty(interned) ? undefined : interned;
    }
  }
}

/** What Go's `omitempty` leaves out. */
export function isEmpty(value: unknown): boolean {
  return value === EMPTY_OBJECT || value === EMPTY_ARRAY || value === null || value === "" || value === false || value === 0 || value === undefined;
}

/** The differences from `defaults` of the known keys of `given`, after `normalize`. */
export function diffFromDefaults(
  given: JsonObject | undefined,
  defaults: Readonly<JsonObject>,
  normalize: (key: string, value: unknown) => unknown = (_key, value) => intern(value),
): JsonObject {
  const diff: JsonObject = {};
  if (!given) return diff;
  for (const key of Object.keys(defaults)) {
    if (!Object.hasOwn(given, key)) continue;
    const value = normalize(key, given[key]);
    if (value === undefined) continue;
    if (!sameJson(value, defaults[key])) diff[key] = value;
  }
  return diff;
}

function overlay(defaults: Readonly<JsonObject>, diff: Readonly<JsonObject>, omitEmpty: ReadonlySet<string>): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(defaults)) {
    if (Object.hasOwn(diff, key)) out[key] = diff[key];
    else if (!omitEmpty.has(key) && defaults[key] !== undefined) out[key] = defaults[key];
  }
  return out;
}

// ---- containers ---------------------------------------------------------------------------------

/** What the builders need to know beyond the record itself. */
export interface ShapeContext {
  readonly identity: EngineIdentity;
  network(id: string): NetworkRecord | undefined;
  image(id: string): ImageRecord | undefined;
}

const CONFIG_OMITEMPTY = new Set(
  Object.entries(CONFIG_DEFAULTS)
    .filter(([, value]) => value === undefined)
    .map(([key]) => key),
);

export function hostConfigOf(container: ContainerRecord): JsonObject {
  return overlay(HOST_CONFIG_DEFAULTS, container.hostConfig, HOST_CONFIG_OMITEMPTY);
}

/** Serialised HostConfigs by difference object: containers made from one body share both. */
const hostConfigJson = new WeakMap<object, string>();

function hostConfigJsonOf(container: ContainerRecord): string {
  let json = hostConfigJson.get(container.hostConfig);
  if (json === undefined) {
    json = JSON.stringify(hostConfigOf(container));
    hostConfigJson.set(container.hostConfig, json);
  }
  return json;
}

export function configOf(container: ContainerRecord): JsonObject {
  const config = overlay(CONFIG_DEFAULTS, container.config, CONFIG_OMITEMPTY);
  if (config.Hostname === "") config.Hostname = container.id.slice(0, 12);
  config.Image = container.imageRef;
  config.Labels = container.labels;
  return config;
}

export function networkModeOf(container: Pick<ContainerRecord, "hostConfig">): string {
  const mode = container.hostConfig.NetworkMode;
  return typeof mode === "string" ? mode : "default";
}

export function shortId(id: string): string {
  return (id.startsWith("sha256:") ? id.slice(7) : id).slice(0, 12);
}

function ipOf(network: NetworkRecord, host: number): string {
  return `${network.subnetPrefix ?? "0.0"}.${host >> 8}.${host & 255}`;
}

function macOf(network: NetworkRecord, host: number): string {
  const octets = ipOf(network, host).split(".").map((o) => Number(o).toString(16).padStart(2, "0"));
  return `02:42:${octets.join(":")}`;
}

interface EndpointView {
  readonly name: string;
  readonly network: NetworkRecord | undefined;
  readonly attachment: NetworkAttachment;
  /** Whether the endpoint currently has an address (running, on an address-assigning network). */
  readonly addressed: boolean;
}

function endpoints(ctx: ShapeContext, container: ContainerRecord): EndpointView[] {
  const running = container.status === "running" || container.status === "paused";
  return container.networks.map((attachment) => {
    const network = attachment.networkId === "" ? undefined : ctx.network(attachment.networkId);
    const name = network?.name ?? attachmentName(container, attachment);
    return {
      name,
      network,
      attachment,
      addressed: running && network?.subnetPrefix !== undefined && attachment.host > 0,
    };
  });
}

/** The name a dangling attachment (a network that was never there) is shown under. */
function attachmentName(container: ContainerRecord, attachment: NetworkAttachment): string {
  if (attachment.networkId !== "") return attachment.networkId.slice(0, 12);
  const mode = networkModeOf(container);
  return mode === "default" ? "bridge" : mode;
}

function endpointSettings(view: EndpointView, container: ContainerRecord, withAliases: boolean): JsonObject {
  const running = container.status === "running" || container.status === "paused";
  const { network, attachment } = view;
  const addressed = view.addressed && network !== undefined;
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: withAliases ? (attachment.aliases ?? null) : null,
    NetworkID: container.everStarted && network ? network.id : "",
    EndpointID: running ? attachment.endpointId : "",
    Gateway: addressed ? `${network.subnetPrefix}.0.1` : "",
    IPAddress: addressed ? ipOf(network, attachment.host) : "",
    IPPrefixLen: addressed ? 16 : 0,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    MacAddress: addressed ? macOf(network, attachment.host) : "",
    DriverOpts: null,
  };
}

function portMap(container: ContainerRecord, config: JsonObject, hostConfig: Readonly<JsonObject>, addressed: boolean): JsonObject {
  if (!addressed) return EMPTY_OBJECT as JsonObject;
  const ports: JsonObject = {};
  for (const port of Object.keys((config.ExposedPorts as JsonObject | undefined) ?? {})) ports[port] = null;
  for (const port of Object.keys((hostConfig.PortBindings as JsonObject | null) ?? {})) ports[port] = null;
  for (const published of container.ports) {
    const list = (ports[published.containerPort] as JsonObject[] | null) ?? [];
    list.push({ HostIp: published.hostIp === "" ? "0.0.0.0" : published.hostIp, HostPort: String(published.hostPort) });
    ports[published.containerPort] = list;
  }
  return ports;
}

function mountDocuments(ctx: ShapeContext, container: ContainerRecord): JsonObject[] {
  return container.mounts.map((mount) =>
    mount.type === "volume"
      ? {
          Type: "volume",
          Name: mount.source,
          Source: `${ctx.identity.rootDir}/volumes/${mount.source}/_data`,
          Destination: mount.destination,
          Driver: "local",
          Mode: mount.mode,
          RW: mount.rw,
          Propagation: "",
        }
      : { Type: "bind", Source: mount.source, Destination: mount.destination, Mode: mount.mode, RW: mount.rw, Propagation: "rprivate" },
  );
}

function stateDocument(container: ContainerRecord): JsonObject {
  const running = container.status === "running" || container.status === "paused";
  const state: JsonObject = {
    Status: container.status,
    Running: running,
    Paused: container.status === "paused",
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: running ? container.pid : 0,
    ExitCode: container.exitCode,
    Error: "",
    StartedAt: formatTime(container.startedNs),
    FinishedAt: formatTime(container.finishedNs),
  };
  if (container.health !== undefined) state.Health = { Status: container.health, FailingStreak: 0, Log: [] };
  return state;
}

/**
 * The inspect document as JSON. The HostConfig, the largest part and the same for every container
 * created from the same body, is serialised once per body and spliced in.
 */
export function inspectContainerJson(ctx: ShapeContext, container: ContainerRecord, withSize: boolean): string {
  const json = JSON.stringify(inspectContainer(ctx, container, withSize, HOST_CONFIG_SLOT));
  const at = json.indexOf(HOST_CONFIG_SLOT_JSON);
  return `${json.slice(0, at)}${hostConfigJsonOf(container)}${json.slice(at + HOST_CONFIG_SLOT_JSON.length)}`;
}

const HOST_CONFIG_SLOT = "\u0000host-config\u0000";
const HOST_CONFIG_SLOT_JSON = JSON.stringify(HOST_CONFIG_SLOT);

export function inspectContainer(ctx: ShapeContext, container: ContainerRecord, withSize: boolean, hostConfigSlot?: string): JsonObject {
  const config = configOf(container);
  const views = endpoints(ctx, container);
  const networks: JsonObject = {};
  for (const view of views) networks[view.name] = endpointSettings(view, container, true);
  // The legacy top-level fields describe the default bridge endpoint only.
  const bridge = views.find((v) => v.network?.name === "bridge" && v.addressed);
  const bridgeSettings = bridge ? endpointSettings(bridge, container, false) : undefined;
  const addressed = views.some((v) => v.addressed);
  const dir = `${ctx.identity.rootDir}/containers/${container.id}`;
  const layer = `${ctx.identity.rootDir}/${STORAGE_DRIVER}/${container.id.slice(0, 40)}`;
  const document: JsonObject = {
    Id: container.id,
    Created: formatTime(container.createdNs),
    Path: container.path,
    Args: container.args,
    State: stateDocument(container),
    Image: container.imageId,
    ResolvConfPath: container.everStarted ? `${dir}/resolv.conf` : "",
    HostnamePath: container.everStarted ? `${dir}/hostname` : "",
    HostsPath: container.everStarted ? `${dir}/hosts` : "",
    LogPath: container.everStarted ? `${dir}/${container.id}-json.log` : "",
    Name: `/${container.name}`,
    RestartCount: 0,
    Driver: STORAGE_DRIVER,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: container.pendingExecs && container.pendingExecs.length > 0 ? container.pendingExecs : null,
    HostConfig: hostConfigSlot ?? hostConfigOf(container),
    GraphDriver: {
      Data: {
        LowerDir: `${layer}-init/diff`,
        MergedDir: `${layer}/merged`,
        UpperDir: `${layer}/diff`,
        WorkDir: `${layer}/work`,
      },
      Name: STORAGE_DRIVER,
    },
  };
  if (withSize) {
    document.SizeRw = 0;
    document.SizeRootFs = ctx.image(container.imageId)?.size ?? 0;
  }
  document.Mounts = mountDocuments(ctx, container);
  document.Config = config;
  document.NetworkSettings = {
    Bridge: "",
    SandboxID: container.sandboxId,
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    Ports: portMap(container, config, container.hostConfig, addressed),
    SandboxKey: container.sandboxId === "" ? "" : `/var/run/docker/netns/${container.sandboxId.slice(0, 12)}`,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridgeSettings?.EndpointID ?? "",
    Gateway: bridgeSettings?.Gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridgeSettings?.IPAddress ?? "",
    IPPrefixLen: bridgeSettings?.IPPrefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: bridgeSettings?.MacAddress ?? "",
    Networks: networks,
  };
  return document;
}

export function commandLine(container: ContainerRecord): string {
  return [container.path, ...container.args].join(" ");
}

export function statusText(container: ContainerRecord, now: bigint): string {
  switch (container.status) {
    case "created":
      return "Created";
    case "exited":
      return `Exited (${container.exitCode}) ${humanDuration(Number(now - container.finishedNs) / 1e9)} ago`;
    case "paused":
      return `Up ${humanDuration(Number(now - container.startedNs) / 1e9)} (Paused)`;
    case "running": {
      const up = `Up ${humanDuration(Number(now - container.startedNs) / 1e9)}`;
      if (container.health === "starting") return `${up} (health: starting)`;
      if (container.health === "healthy") return `${up} (healthy)`;
      return up;
    }
  }
}

export function containerSummary(ctx: ShapeContext, container: ContainerRecord, withSize: boolean, now: bigint): JsonObject {
  const views = endpoints(ctx, container);
  const networks: JsonObject = {};
  for (const view of views) networks[view.name] = endpointSettings(view, container, false);
  const ports: JsonObject[] = [];
  if (views.some((v) => v.addressed)) {
    const config = configOf(container);
    const published = new Set(container.ports.map((p) => p.containerPort));
    for (const p of container.ports) {
      const [number, type] = p.containerPort.split("/");
      ports.push({ IP: p.hostIp === "" ? "0.0.0.0" : p.hostIp, PrivatePort: Number(number), PublicPort: p.hostPort, Type: type ?? "tcp" });
    }
    for (const exposed of Object.keys((config.ExposedPorts as JsonObject | undefined) ?? {})) {
      if (published.has(exposed)) continue;
      const [number, type] = exposed.split("/");
      ports.push({ PrivatePort: Number(number), Type: type ?? "tcp" });
    }
  }
  const summary: JsonObject = {
    Id: container.id,
    Names: [`/${container.name}`],
    Image: container.imageRef,
    ImageID: container.imageId,
    Command: commandLine(container),
    Created: unixSeconds(container.createdNs),
    Ports: ports,
  };
  if (withSize) summary.SizeRootFs = ctx.image(container.imageId)?.size ?? 0;
  summary.Labels = container.labels;
  summary.State = container.status;
  summary.Status = statusText(container, now);
  summary.HostConfig = { NetworkMode: networkModeOf(container) };
  summary.NetworkSettings = { Networks: networks };
  summary.Mounts = mountDocuments(ctx, container);
  return summary;
}

/** A network's `Containers` entry for a running container attached to it. */
export function networkEndpoint(ctx: ShapeContext, container: ContainerRecord, attachment: NetworkAttachment): JsonObject {
  const network = ctx.network(attachment.networkId);
  const addressed = network?.subnetPrefix !== undefined && attachment.host > 0;
  return {
    Name: container.name,
    EndpointID: attachment.endpointId,
    MacAddress: addressed && network ? macOf(network, attachment.host) : "",
    IPv4Address: addressed && network ? `${ipOf(network, attachment.host)}/16` : "",
    IPv6Address: "",
  };
}

export function execInspect(exec: ExecRecord): JsonObject {
  const processConfig: JsonObject = {
    tty: exec.tty,
    entrypoint: exec.cmd[0] ?? "",
    arguments: exec.cmd.slice(1),
    privileged: exec.privileged,
  };
  if (exec.user !== "") processConfig.user = exec.user;
  return {
    ID: exec.id,
    Running: exec.running,
    ExitCode: exec.exitCode,
    ProcessConfig: processConfig,
    OpenStdin: exec.openStdin,
    OpenStderr: exec.openStderr,
    OpenStdout: exec.openStdout,
    CanRemove: false,
    ContainerID: exec.containerId,
    DetachKeys: exec.detachKeys,
    Pid: exec.pid,
  };
}

// ---- images -------------------------------------------------------------------------------------

export function imageSummary(image: ImageRecord): JsonObject {
  return {
    Containers: -1,
    Created: unixSeconds(image.createdNs),
    Id: image.id,
    Labels: image.labels,
    ParentId: "",
    RepoDigests: image.repoDigests.length > 0 ? image.repoDigests : null,
    RepoTags: image.repoTags.length > 0 ? image.repoTags : ["<none>:<none>"],
    SharedSize: -1,
    Size: image.size,
    VirtualSize: image.size,
  };
}

function imageConfig(image: ImageRecord | undefined): JsonObject {
  return {
    Hostname: "",
    Domainname: "",
    User: "",
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: image ? image.env : null,
    Cmd: image ? image.cmd : null,
    Image: "",
    Volumes: null,
    WorkingDir: image ? image.workingDir : "",
    Entrypoint: image ? image.entrypoint : null,
    OnBuild: null,
    Labels: image ? image.labels : null,
  };
}

export function imageInspect(image: ImageRecord): JsonObject {
  return {
    Id: image.id,
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Parent: "",
    Comment: "",
    Created: formatTime(image.createdNs),
    Container: "",
    ContainerConfig: imageConfig(undefined),
    DockerVersion: SERVER_VERSION,
    Author: "",
    Config: imageConfig(image),
    Architecture: "amd64",
    Os: "linux",
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: {
      Data: { MergedDir: "", UpperDir: "", WorkDir: "" },
      Name: STORAGE_DRIVER,
    },
    RootFS: { Type: "layers", Layers: [image.layer] },
    Metadata: { LastTagTime: formatTime(image.lastTagNs) },
  };
}

export function distributionInspect(image: ImageRecord): JsonObject {
  return {
    Descriptor: { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: image.digest, size: 527 },
    Platforms: [{ architecture: "amd64", os: "linux" }],
  };
}

// ---- networks and volumes -----------------------------------------------------------------------

export function networkDocument(network: NetworkRecord, containers: Readonly<JsonObject>): JsonObject {
  return {
    Name: network.name,
    Id: network.id,
    Created: formatTime(network.createdNs),
    Scope: "local",
    Driver: network.driver,
    EnableIPv6: network.enableIPv6,
    IPAM: {
      Driver: "default",
      Options: network.ipamOptions,
      Config: network.subnetPrefix === undefined ? [] : [{ Subnet: `${network.subnetPrefix}.0.0/16`, Gateway: `${network.subnetPrefix}.0.1` }],
    },
    Internal: network.internal,
    Attachable: network.attachable,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    Options: network.options,
    Labels: network.labels,
  };
}

export function volumeDocument(identity: EngineIdentity, volume: VolumeRecord): JsonObject {
  return {
    CreatedAt: volume.createdAt,
    Driver: volume.driver,
    Labels: volume.labels,
    Mountpoint: `${identity.rootDir}/volumes/${volume.name}/_data`,
    Name: volume.name,
    Options: volume.options,
    Scope: "local",
  };
}

// ---- system -------------------------------------------------------------------------------------

export interface EngineCounts {
  readonly containers: number;
  readonly running: number;
  readonly paused: number;
  readonly stopped: number;
  readonly images: number;
  readonly eventListeners: number;
}

export function infoDocument(identity: EngineIdentity, counts: EngineCounts): JsonObject {
  return {
    ID: identity.id,
    Containers: counts.containers,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    Images: counts.images,
    Driver: STORAGE_DRIVER,
    DriverStatus: [
      ["Backing Filesystem", "extfs"],
      ["Supports d_type", "true"],
      ["Native Overlay Diff", "true"],
      ["userxattr", "false"],
    ],
    Plugins: {
      Volume: ["local"],
      Network: ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
      Authorization: null,
      Log: ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local", "logentries", "splunk", "syslog"],
    },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: true,
    KernelMemoryTCP: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: false,
    NFd: 24 + counts.eventListeners,
    OomKillDisable: true,
    NGoroutines: 34 + counts.eventListeners * 2,
    SystemTime: formatTime(nowNs()),
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: "1",
    NEventsListener: counts.eventListeners,
    KernelVersion: identity.kernelVersion,
    OperatingSystem: identity.operatingSystem,
    OSVersion: "",
    OSType: "linux",
    Architecture: "x86_64",
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ["127.0.0.0/8"],
      IndexConfigs: { "docker.io": { Name: "docker.io", Mirrors: [], Secure: true, Official: true } },
      Mirrors: [],
    },
    NCPU: identity.cpus,
    MemTotal: identity.memory,
    GenericResources: null,
    DockerRootDir: identity.rootDir,
    HttpProxy: "",
    HttpsProxy: "",
    NoProxy: "",
    Name: identity.name,
    Labels: Object.entries(identity.labels).map(([key, value]) => `${key}=${value}`),
    ExperimentalBuild: false,
    ServerVersion: identity.serverVersion,
    Runtimes: {
      "io.containerd.runc.v2": { path: "runc" },
      "io.containerd.runtime.v1.linux": { path: "runc" },
      runc: { path: "runc" },
    },
    DefaultRuntime: "runc",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: "",
    InitBinary: "docker-init",
    ContainerdCommit: { ID: "sim", Expected: "sim" },
    RuncCommit: { ID: "sim", Expected: "sim" },
    InitCommit: { ID: "sim", Expected: "sim" },
    SecurityOptions: ["name=seccomp,profile=default"],
    Warnings: null,
  };
}

export function versionDocument(identity: EngineIdentity): JsonObject {
  const buildTime = "2023-04-04T00:00:00.000000000+00:00";
  return {
    Platform: { Name: "" },
    Components: [
      {
        Name: "Engine",
        Version: identity.serverVersion,
        Details: {
          ApiVersion: API_VERSION,
          Arch: "amd64",
          BuildTime: buildTime,
          Experimental: "false",
          GitCommit: "5d6db84",
          GoVersion: "go1.19.8",
          KernelVersion: identity.kernelVersion,
          MinAPIVersion: MIN_API_VERSION,
          Os: "linux",
        },
      },
      { Name: "containerd", Version: "1.6.20", Details: { GitCommit: "sim" } },
      { Name: "runc", Version: "1.1.5", Details: { GitCommit: "sim" } },
      { Name: "docker-init", Version: "0.19.0", Details: { GitCommit: "" } },
    ],
    Version: identity.serverVersion,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "5d6db84",
    GoVersion: "go1.19.8",
    Os: "linux",
    Arch: "amd64",
    KernelVersion: identity.kernelVersion,
    BuildTime: buildTime,
  };
}

// ---- events -------------------------------------------------------------------------------------

export type EventType = "container" | "image" | "network" | "volume" | "daemon";

export interface EngineEvent {
  readonly type: EventType;
  readonly action: string;
  readonly actorId: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** `from` of container events: the image as the client named it. */
  readonly from?: string | undefined;
  readonly timeNs: bigint;
}

/**
 * One `/events` line. Only container and image events carry the legacy `status`/`id`/`from`
 * fields (empty ones left out), attributes are sorted as Go sorts map keys, and `timeNano` is
 * written from the exact integer, which a double cannot hold.
 */
export function eventJson(event: EngineEvent): string {
  const attributes: Record<string, string> = {};
  for (const key of Object.keys(event.attributes).sort()) attributes[key] = event.attributes[key]!;
  const document: JsonObject = {};
  if (event.type === "container" || event.type === "image") {
    document.status = event.action;
    if (event.actorId !== "") document.id = event.actorId;
    if (event.from) document.from = event.from;
  }
  document.Type = event.type;
  document.Action = event.action;
  document.Actor = { ID: event.actorId, Attributes: attributes };
  document.scope = "local";
  document.time = unixSeconds(event.timeNs);
  const json = JSON.stringify(document);
  return `${json.slice(0, -1)},"timeNano":${event.timeNs}}`;
}
