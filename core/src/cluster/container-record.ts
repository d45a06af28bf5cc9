import type { ContainerConfig, ContainerView, HostConfigView, PortBinding } from "../extension-points/model.js";
import type { ContainerInspect } from "../engines/docker-types.js";

/** What `docker ps`, `docker info` and the scheduler read of a container's state. */
export interface ContainerState {
  readonly status: string;
  readonly running: boolean;
  readonly paused: boolean;
  readonly restarting: boolean;
  readonly exitCode: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `starting`, `healthy`, `unhealthy`; undefined for a container without a health check. */
  readonly health: string | undefined;
}

export interface NetworkAttachment {
  readonly name: string;
  readonly id: string;
}

export interface MountRef {
  readonly name: string | undefined;
  readonly destination: string | undefined;
}

/** Where a container lives, as the record needs it: the node's name for `ps`, its IP for published ports. */
export interface RecordNode {
  readonly id: string;
  readonly name: string;
  readonly ip: string;
  readonly rawCpus: number;
  /** A label whose value, when a container has it, is the container's name (`EngineState.nameContainersBy`). */
  readonly nameLabel?: string | undefined;
  /** See `Engine.clockSkewMs`: added to the times the engine reports. */
  readonly clockSkewMs?: number;
}

/**
 * One container as the manager holds it. Records are immutable: a change (a re-read, a rename)
 * makes a new record, so anything derived from one (a node view, a serialised answer) can be
 * cached on the record itself.
 *
 * A record holds only what lookups, listings, counters and placement read: a few parsed fields
 * and the end of its `docker ps` row. The engine's whole inspect document (4–5 KB) stays in the
 * record only for a container that may have to be created again elsewhere (a reschedule policy);
 * other documents live in a bounded cache of recent ones (`InspectCache`). A record made from the
 * manager's own create request, before the engine has been read, is provisional.
 */
export class ContainerRecord {
  /** The start of the `docker ps` row, which names the node, serialised on first use (see `psRow`). */
  private rowHead: { readonly nodeName: string; readonly json: string } | undefined;

  private constructor(
    readonly id: string,
    readonly nodeId: string,
    /** Without the leading `/`; empty while a provisional record does not know its generated name. */
    readonly name: string,
    readonly labels: Readonly<Record<string, string>>,
    readonly image: string,
    readonly imageId: string,
    /** Creation time in ms, for `ps` ordering. */
    readonly created: number,
    readonly state: ContainerState,
    readonly autoRemove: boolean,
    readonly networks: readonly NetworkAttachment[],
    readonly mounts: readonly MountRef[],
    /** The scheduler's view of it (placement reads names, ports, resources, labels). */
    readonly view: ContainerView,
    /**
     * The engine's inspect document (host IPs made reachable) without its closing brace, kept for
     * a container with a reschedule policy: its engine may be gone when it has to be created again.
     */
    readonly document: string | undefined,
    /** What the `ps` row needs beyond the fields above; undefined while provisional. */
    private readonly rowSource: RowSource | undefined,
  ) {}

  /** `created` under the name backends read it by (`BackendContainer`). */
  get createdAt(): number {
    return this.created;
  }

  get provisional(): boolean {
    return this.rowSource === undefined;
  }

  get swarmId(): string | undefined {
    return this.labels[SWARM_ID_LABEL];
  }

  /**
   * A record read from the engine's inspect document, and that document as the API answers it
   * (without its closing brace). `text` is the document as the engine sent it, used as it is
   * unless a published port's address has to be rewritten.
   */
  static read(
    inspect: ContainerInspect,
    node: RecordNode,
    text?: string,
    previous?: ContainerRecord,
  ): { record: ContainerRecord; document: string } {
    const ip = node.ip;
    const rewritten = reachableHostIps(inspect.NetworkSettings?.Ports, ip);
    // A re-read keeps the strings and labels the state already holds (the indexes are keyed by them).
    const id = previous?.id === inspect.Id ? previous.id : inspect.Id;
    const labels = previous && sameLabels(previous.labels, inspect.Config.Labels ?? {}) ? previous.labels : (inspect.Config.Labels ?? {});
    const state = inspect.State;
    const networks = Object.entries(inspect.NetworkSettings?.Networks ?? {}).map(([name, endpoint]) => ({
      name: shared(name),
      id: shared(endpoint.NetworkID ?? ""),
    }));
    const mounts = inspect.Mounts?.length ? inspect.Mounts.map((m) => ({ name: m.Name, destination: m.Destination })) : NONE;
    const ports = orNone(inspect.NetworkSettings?.Ports);
    const hostConfig = placementHostConfig(inspect.HostConfig);
    const image = shared(inspect.Config.Image ?? inspect.Image);
    const view: ContainerView = {
      id,
      names: [inspect.Name],
      image,
      labels,
      state: state.Status,
      exposedPorts: orNone(inspect.Config.ExposedPorts),
      hostConfig,
      ports,
      pending: false,
      cpus: cpusOf(inspect.HostConfig.CpuShares ?? 0, node.rawCpus),
      memory: inspect.HostConfig.Memory ?? 0,
    };
    const document = (text !== undefined && !rewritten ? text.trimEnd() : JSON.stringify(inspect)).slice(0, -1);
    const path = typeof inspect.Path === "string" ? inspect.Path : "";
    const args = Array.isArray(inspect.Args) ? (inspect.Args as unknown[]).map(String) : [];
    // The listing's times are in the manager's clock; the inspect document stays the engine's own.
    const skew = node.clockSkewMs ?? 0;
    const created = Date.parse(inspect.Created) + skew;
    const record = new ContainerRecord(
      id,
      node.id,
      (node.nameLabel !== undefined ? labels[node.nameLabel] : undefined) || stripSlash(inspect.Name),
      labels,
      image,
      shared(inspect.Image),
      created,
      {
        status: shared(state.Status),
        running: state.Running,
        paused: state.Paused,
        restarting: state.Restarting,
        exitCode: state.ExitCode,
        startedAt: shifted(state.StartedAt, skew),
        finishedAt: state.FinishedAt === NEVER ? NEVER : shifted(state.FinishedAt, skew),
        health: state.Health?.Status,
      },
      inspect.HostConfig.AutoRemove === true,
      networks,
      mounts,
      view,
      labels[RESCHEDULE_LABEL] === undefined ? undefined : document,
      {
        command: shared([path, ...args].join(" ").trim()),
        createdSeconds: Math.floor(created / 1000),
        ports: ports === NOTHING ? NONE : listPorts(ports, ip),
        tail: JSON.stringify({
          HostConfig: { NetworkMode: inspect.HostConfig.NetworkMode ?? "default" },
          NetworkSettings: { Networks: inspect.NetworkSettings?.Networks ?? {} },
          Mounts: inspect.Mounts ?? [],
        }).slice(1),
      },
    );
    return { record, document };
  }

  /**
   * A record for a container the manager has just created, from its own request: enough for
   * names, Swarm IDs, lookups and placement until the engine is read. `name` is the requested
   * name, or empty when the engine generates one.
   */
  static provisional(id: string, name: string, config: ContainerConfig, node: RecordNode, now: number): ContainerRecord {
    const labels = config.Labels ?? {};
    const hostConfig = config.HostConfig ?? {};
    const image = config.Image ?? "";
    const view: ContainerView = {
      id,
      names: name === "" ? [] : [`/${name}`],
      image,
      labels,
      state: "created",
      exposedPorts: config.ExposedPorts ?? {},
      hostConfig: placementHostConfig(hostConfig),
      ports: {},
      pending: false,
      cpus: cpusOf(hostConfig.CpuShares ?? 0, node.rawCpus),
      memory: hostConfig.Memory ?? 0,
    };
    return new ContainerRecord(
      id,
      node.id,
      name,
      labels,
      image,
      "",
      now,
      CREATED,
      hostConfig.AutoRemove === true,
      [],
      [],
      view,
      undefined,
      undefined,
    );
  }

  /** A provisional record under the name the engine generated for it (its `create` event says which). */
  withName(name: string): ContainerRecord {
    return new ContainerRecord(
      this.id, this.nodeId, name, this.labels, this.image, this.imageId, this.created, this.state, this.autoRemove,
      this.networks, this.mounts, { ...this.view, names: [`/${name}`] }, this.document, this.rowSource,
    );
  }

  /** The same container with what an engine event says of its health check. */
  withHealth(health: string): ContainerRecord {
    return new ContainerRecord(
      this.id, this.nodeId, this.name, this.labels, this.image, this.imageId, this.created,
      { ...this.state, health }, this.autoRemove, this.networks, this.mounts, this.view, this.document, this.rowSource,
    );
  }

  /**
   * The `docker ps` row: the engine's listing row rebuilt from the inspect document, with the
   * name qualified by its node. Its time-dependent `Status` is written at each call.
   */
  psRow(nodeName: string, healthy: boolean, now: number): string {
    const source = this.rowSource;
    let head = this.rowHead;
    if (head?.nodeName !== nodeName) {
      const json = JSON.stringify({
        Id: this.id,
        Names: [`/${nodeName}/${this.name}`],
        Image: this.image,
        ImageID: this.imageId,
        Command: source?.command ?? "",
        Created: source?.createdSeconds ?? Math.floor(this.created / 1000),
        Ports: source?.ports ?? [],
        Labels: this.labels,
        State: this.state.status,
      }).slice(0, -1);
      head = { nodeName, json };
      this.rowHead = head;
    }
    const status = healthy ? statusText(this.state, now) : "Host Down";
    return `${head.json},"Status":${JSON.stringify(status)},${source?.tail ?? EMPTY_ROW_TAIL}`;
  }
}

interface RowSource {
  readonly command: string;
  readonly createdSeconds: number;
  readonly ports: readonly ListedPort[];
  /** `"HostConfig":…,"NetworkSettings":…,"Mounts":…}`: the end of the row, serialised once. */
  readonly tail: string;
}

const EMPTY_ROW_TAIL = JSON.stringify({ HostConfig: { NetworkMode: "default" }, NetworkSettings: { Networks: {} }, Mounts: [] }).slice(1);

interface ListedPort {
  readonly IP?: string;
  readonly PrivatePort: number;
  readonly PublicPort?: number;
  readonly Type: string;
}

/** An engine's RFC 3339 time moved by `skew` ms; Go's zero time (never started, never finished) stays as it is. */
function shifted(time: string, skew: number): string {
  if (skew === 0 || time.startsWith("0001-")) return time;
  const at = Date.parse(time);
  return Number.isNaN(at) ? time : new Date(at + skew).toISOString();
}

export const SWARM_ID_LABEL = "com.docker.swarm.id";
const RESCHEDULE_LABEL = "com.docker.swarm.reschedule-policies";
const CPU_SHARES_PER_CPU = 1024;

const CREATED: ContainerState = {
  status: "created",
  running: false,
  paused: false,
  restarting: false,
  exitCode: 0,
  startedAt: "0001-01-01T00:00:00Z",
  finishedAt: "0001-01-01T00:00:00Z",
  health: undefined,
};

function stripSlash(name: string): string {
  return name.startsWith("/") ? name.slice(1) : name;
}

/** CPUs a container reserves: classic Swarm's reading of `CpuShares` against the node's CPUs. */
export function cpusOf(shares: number, rawCpus: number): number {
  return Math.trunc((shares * rawCpus) / CPU_SHARES_PER_CPU);
}

/** CPUs requested through the swarm API become real shares on the engine (§3.5). */
export function sharesFor(cpus: number, rawCpus: number): number {
  if (cpus <= 0 || rawCpus <= 0) return 0;
  return Math.ceil((cpus * CPU_SHARES_PER_CPU) / rawCpus);
}

/** The host config fields placement reads; the rest of a container's host config stays in its inspect document. */
/**
 * One copy of a string many containers hold alike (an image ID, a command, a network): tens of
 * thousands of records otherwise each keep their own.
 * Bounded; once full it starts again, which costs a few copies, never a wrong value.
 */
const SHARED_LIMIT = 20_000;
/** dockerd's time for "not yet": the FinishedAt of every container that has not stopped. */
const NEVER = "0001-01-01T00:00:00Z";
const sharedStrings = new Map<string, string>();
function shared(value: string): string {
  const known = sharedStrings.get(value);
  if (known !== undefined) return known;
  if (sharedStrings.size >= SHARED_LIMIT) sharedStrings.clear();
  sharedStrings.set(value, value);
  return value;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

/*
 * Most containers publish nothing, expose nothing and mount nothing: they share one frozen empty
 * value rather than each holding its own.
 */
const NONE: readonly never[] = Object.freeze([]);
const NOTHING: Readonly<Record<string, never>> = Object.freeze({});
function orNone<T extends object>(value: T | null | undefined): T {
  return value && Object.keys(value).length > 0 ? value : (NOTHING as T);
}

function placementHostConfig(hostConfig: Readonly<HostConfigView>): HostConfigView {
  const view: HostConfigView = {};
  if (hostConfig.NetworkMode !== undefined) view.NetworkMode = hostConfig.NetworkMode;
  if (hostConfig.PortBindings) view.PortBindings = hostConfig.PortBindings;
  if (hostConfig.VolumesFrom) view.VolumesFrom = hostConfig.VolumesFrom;
  if (hostConfig.Links) view.Links = hostConfig.Links;
  if (hostConfig.Memory !== undefined) view.Memory = hostConfig.Memory;
  if (hostConfig.CpuShares !== undefined) view.CpuShares = hostConfig.CpuShares;
  return view;
}

/** Ports bound to every interface are reported on the engine's own address, where clients reach them; says whether any was. */
function reachableHostIps(ports: Record<string, PortBinding[] | null> | null | undefined, ip: string): boolean {
  let rewritten = false;
  for (const bindings of Object.values(ports ?? {})) {
    for (const binding of bindings ?? []) {
      if (!binding.HostIp || binding.HostIp === "0.0.0.0" || binding.HostIp === "::") {
        binding.HostIp = ip;
        rewritten = true;
      }
    }
  }
  return rewritten;
}

function listPorts(ports: Record<string, PortBinding[] | null>, ip: string): ListedPort[] {
  const listed: ListedPort[] = [];
  for (const [key, bindings] of Object.entries(ports)) {
    const [port = "0", type = "tcp"] = key.split("/");
    const privatePort = Number.parseInt(port, 10);
    if (!bindings || bindings.length === 0) listed.push({ PrivatePort: privatePort, Type: type });
    for (const binding of bindings ?? []) {
      listed.push({ IP: binding.HostIp ?? ip, PrivatePort: privatePort, PublicPort: Number.parseInt(binding.HostPort ?? "0", 10), Type: type });
    }
  }
  return listed;
}

/** Docker's status column, from the container's state. */
export function statusText(state: ContainerState, now: number): string {
  switch (state.status) {
    case "running":
    case "paused": {
      const health = state.health;
      const healthText = health === "starting" ? " (health: starting)" : health ? ` (${health})` : "";
      return `Up ${humanDuration(state.startedAt, now)}${state.paused ? " (Paused)" : healthText}`;
    }
    case "restarting":
      return `Restarting (${state.exitCode}) ${humanDuration(state.finishedAt, now)} ago`;
    case "exited":
      return `Exited (${state.exitCode}) ${humanDuration(state.finishedAt, now)} ago`;
    case "created":
      return "Created";
    case "dead":
      return "Dead";
    case "removing":
      return "Removal In Progress";
    default:
      return state.status;
  }
}

/** go-units' HumanDuration, which the docker CLI's status column uses. */
function humanDuration(timestamp: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
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
