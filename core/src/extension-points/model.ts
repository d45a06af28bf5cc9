/**
 * The data the scheduler and the plugins see. These are read-only views built by the cluster
 * backend from its mirror of each engine; plugins never reach an engine directly.
 */

/** A port binding as Docker writes it in `HostConfig.PortBindings` and `NetworkSettings.Ports`. */
export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

/** The subset of Docker's `HostConfig` that placement decisions read. */
export interface HostConfigView {
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  VolumesFrom?: string[] | null;
  Links?: string[] | null;
  Memory?: number;
  CpuShares?: number;
  [key: string]: unknown;
}

/** A container create body (`POST /containers/create`), as the Docker API defines it. */
export interface ContainerConfig {
  Image?: string;
  Env?: string[] | null;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  HostConfig?: HostConfigView | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> | null } | null;
  [key: string]: unknown;
}

/** A container on a node: a real one from the engine, or a pending one being created there. */
export interface ContainerView {
  /** Empty for a pending container: the engine has not answered yet. */
  readonly id: string;
  /** Names as the engine reports them, each with a leading `/`. */
  readonly names: readonly string[];
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
  readonly exposedPorts: Readonly<Record<string, object>>;
  readonly hostConfig: Readonly<HostConfigView>;
  /** Actual bindings from `NetworkSettings.Ports` (covers dynamically allocated ports). */
  readonly ports: Readonly<Record<string, PortBinding[] | null>>;
  readonly pending: boolean;
  /** CPUs this container reserves (classic Swarm's unit for `CpuShares` on create). */
  readonly cpus: number;
  readonly memory: number;
}

export interface ImageView {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
}

export type NodeHealth = "pending" | "healthy" | "unhealthy" | "disconnected";

export interface NodeView {
  /** `<docker engine ID>|<address>`, unique even for engines cloned from one disk image. */
  readonly id: string;
  readonly name: string;
  readonly addr: string;
  readonly ip: string;
  /** Standard labels (storagedriver, kernelversion, operatingsystem, ostype) plus engine labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerView[];
  readonly images: readonly ImageView[];
  /** Totals include overcommit. */
  readonly totalCpus: number;
  readonly totalMemory: number;
  readonly usedCpus: number;
  readonly usedMemory: number;
  readonly health: NodeHealth;
  /** 0..100: 0 when not healthy, lowered by recent connection failures. */
  readonly healthIndicator: number;
}

/** An expression such as `region==eu`, `node!=~node-1` or `image==/(?i)redis/`. */
export interface Expression {
  readonly key: string;
  readonly operator: "==" | "!=";
  /** The value without the soft marker `~`. */
  readonly value: string;
  readonly soft: boolean;
}

/**
 * What to place: the normalised create config plus the expressions and resources read from it.
 * Expressions are kept as the raw strings of `com.docker.swarm.*` labels; plugins parse the ones
 * they own with `parseExpressions`, so a bad expression is reported by the filter that reads it.
 */
export interface ScheduleRequest {
  readonly config: Readonly<ContainerConfig>;
  readonly name: string | undefined;
  readonly constraints: readonly string[];
  readonly affinities: readonly string[];
  readonly whitelists: readonly string[];
  /** Requested CPUs (the swarm API reads `HostConfig.CpuShares` as a number of CPUs). */
  readonly cpus: number;
  readonly memory: number;
}
