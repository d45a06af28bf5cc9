import type { Static, TSchema } from "typebox";
import type { ContainerConfig, NodeView, ScheduleRequest } from "./model.js";
import type { Lifecycle, PluginContext, PluginDefinitionBase } from "./plugin.js";

/**
 * ClusterBackend: what differs between clustering drivers (`--cluster-driver`). The native
 * backend (`swarm`) places containers on engines found by discovery; another backend (Mesos) takes
 * its engines and places its containers through its own resource offers.
 *
 * Whatever the backend, core holds the engines' state (containers, images, networks, volumes,
 * mirrored from each engine and read by the API) and routes every call about an existing object
 * to the engine that holds it. A backend decides which engines there are (`ctx.state.setEngines`),
 * where a new container goes and how it is started (`createContainer`), and what `docker info`
 * adds (`statusLines`).
 */
export interface ClusterBackend extends Lifecycle {
  /** The nodes as the scheduler sees them (the native backend: the engines; Mesos: the offers). */
  nodeViews(): readonly NodeView[];
  /** Places and creates one container; resolves with its full ID and the node that holds it. */
  createContainer(request: CreateContainerRequest): Promise<CreatedContainer>;
  /** The backend's lines in `docker info`'s SystemStatus. */
  statusLines(): Array<[string, string]>;
  /**
   * Changes whenever `statusLines` would answer differently for a reason other than the engines'
   * state (which core tracks itself): Mesos's offers. Absent, the lines depend on the engines alone.
   */
  statusVersion?(): number;
  /**
   * Whether `docker ps` lists this container. A backend that runs only some of its engines'
   * containers hides the others; absent, every container is listed.
   */
  listsContainer?(container: BackendContainer): boolean;
  /**
   * `docker rm` of a container: a backend that started it its own way may end it its own way.
   * Resolves true once it has done so, false to have the engine remove it as usual.
   */
  removeContainer?(container: BackendContainer, force: boolean): Promise<boolean>;
  /** `docker start` of a container: true when the backend has started it already (the engine is not asked). */
  startedAlready?(container: BackendContainer): boolean;
}

export interface CreateContainerRequest {
  readonly config: ContainerConfig;
  readonly name: string | undefined;
  /** The client's `X-Registry-Auth` header, for a pull the create may need. */
  readonly registryAuth: string | undefined;
}

export interface CreatedContainer {
  readonly id: string;
  readonly node: NodeView;
}

/** A container as a backend sees it. */
export interface BackendContainer {
  readonly id: string;
  /** Without the leading `/`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeId: string;
  /** When the manager learned of it, in ms since the epoch. */
  readonly createdAt: number;
}

/**
 * The cluster's engines as core holds them. A backend says which engines there are; core connects
 * to them, validates them, mirrors their objects and follows their events.
 */
export interface EngineState {
  /**
   * The engines the cluster is made of, by `host:port`: new ones are connected and validated,
   * missing ones forgotten. Resolves once the new ones are validated or have failed.
   */
  setEngines(addrs: readonly string[]): Promise<void>;
  /** The validated engine at an address, as the scheduler sees it. */
  nodeAt(addr: string): NodeView | undefined;
  /** Every validated engine as the scheduler sees it. */
  nodeViews(): readonly NodeView[];
  /**
   * Containers carrying this label are known by its value rather than by the name their engine
   * gave them (a backend whose agents name containers themselves). Call it before any are read.
   */
  nameContainersBy(label: string): void;
  /** Whether a container (or a create in flight) already has this name. */
  nameTaken(name: string): boolean;
  /** A container by full ID. */
  containerById(id: string): BackendContainer | undefined;
  /** Reads one container from its engine into the state; resolves with it, or undefined if the engine does not have it. */
  readContainer(nodeId: string, id: string): Promise<BackendContainer | undefined>;
  /** Lists the engine's containers again (labels included) and returns those whose `key` label is `value`. */
  findLabelled(nodeId: string, key: string, value: string): Promise<BackendContainer[]>;
  /** Placement by the enabled filters and strategy, then the engine's create, with classic Swarm's retries (§3.7). */
  placeAndCreate(request: CreateContainerRequest): Promise<CreatedContainer>;
  /** The engines' lines in `docker info` (`Nodes: N` and one block per engine). */
  statusLines(): Array<[string, string]>;
}

/** The enabled filters and strategy, over any nodes. */
export interface Placement {
  /** The nodes that fit, best first; throws the scheduler's error (with each node's reasons) when none does. */
  rank(request: ScheduleRequest, nodes: readonly NodeView[]): NodeView[];
}

export interface BackendContext<Options> extends PluginContext<Options> {
  /** The argument of `swarm manage` after its flags: the discovery URL, or for Mesos the master. */
  readonly target: string;
  /** Whether the manager speaks TLS to engines (their conventional port is then 2376, not 2375). */
  readonly tls: boolean;
  readonly state: EngineState;
  readonly placement: Placement;
}

export interface ClusterBackendDefinition<Schema extends TSchema>
  extends Omit<PluginDefinitionBase<"backend", Schema, ClusterBackend>, "create"> {
  /** Other names `--cluster-driver` accepts (Mesos: `mesos-experimental`). */
  readonly aliases?: readonly string[];
  /**
   * Whether the manage argument is a discovery URL whose engines make the cluster. A backend that
   * finds its engines itself (Mesos, from its offers) leaves it false and reads `ctx.target`.
   */
  readonly usesDiscovery?: boolean;
  /** An environment variable for each option, read when `--cluster-opt` does not give it. */
  readonly env?: Readonly<Partial<Record<keyof Static<Schema> & string, string>>>;
  create(ctx: BackendContext<Static<Schema>>): ClusterBackend | Promise<ClusterBackend>;
}

export function defineClusterBackend<Schema extends TSchema>(
  definition: Omit<ClusterBackendDefinition<Schema>, "kind">,
): ClusterBackendDefinition<Schema> {
  return { ...definition, kind: "backend" };
}
