/**
 * The lean state a simulated engine keeps per object. Documents are built from these on demand
 * (see shapes.ts), so a container costs a few hundred bytes rather than a stored inspect document:
 * its create body is kept only as the differences from dockerd's defaults.
 */

export type JsonObject = { [key: string]: unknown };

export type ContainerStatus = "created" | "running" | "paused" | "exited";

export interface ImageRecord {
  /** `sha256:<64 hex>` */
  readonly id: string;
  /** Familiar references (`busybox:latest`, `127.0.0.1:5000/app:1`), in the order they were added. */
  repoTags: string[];
  /** `<repository>@sha256:<hex>` */
  repoDigests: string[];
  readonly createdNs: bigint;
  lastTagNs: bigint;
  readonly size: number;
  readonly cmd: readonly string[] | null;
  readonly entrypoint: readonly string[] | null;
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly labels: Readonly<Record<string, string>> | null;
  readonly layer: string;
  /** The manifest digest a registry would serve for it. */
  readonly digest: string;
}

export interface NetworkRecord {
  /** 64 hex */
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly createdNs: bigint;
  readonly predefined: boolean;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly enableIPv6: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string>>;
  readonly ipamOptions: Readonly<Record<string, string>> | null;
  /** `172.N` for an address-assigning network, undefined for null/host networks. */
  readonly subnetPrefix: string | undefined;
  /** Next host number to hand out (.2 upwards; .1 is the gateway). */
  nextHost: number;
}

export interface NetworkAttachment {
  readonly networkId: string;
  readonly aliases: readonly string[] | null;
  /** Set while the container runs. */
  endpointId: string;
  /** Host number in the network's /16, 0 when none. */
  host: number;
}

export interface MountRecord {
  readonly type: "volume" | "bind";
  /** Volume name, or the host path of a bind. */
  readonly source: string;
  readonly destination: string;
  readonly rw: boolean;
  readonly mode: string;
  /** An anonymous volume, removed with the container by `rm -v` and AutoRemove. */
  readonly anonymous: boolean;
}

export interface PortRecord {
  readonly containerPort: string;
  readonly hostIp: string;
  readonly hostPort: number;
}

export interface ContainerRecord {
  readonly id: string;
  name: string;
  /** `Config.Image` as the client gave it. */
  readonly imageRef: string;
  readonly imageId: string;
  readonly createdNs: bigint;
  /** `Config` keys whose value differs from the defaults (the image's, then dockerd's). */
  readonly config: Readonly<JsonObject>;
  /** `HostConfig` keys whose value differs from dockerd's defaults. */
  readonly hostConfig: Readonly<JsonObject>;
  /** `Config.Labels` after merging the image's: event attributes and label filters read these. */
  readonly labels: Readonly<Record<string, string>>;
  readonly path: string;
  readonly args: readonly string[];
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  startedNs: bigint;
  finishedNs: bigint;
  everStarted: boolean;
  sandboxId: string;
  networks: NetworkAttachment[];
  readonly mounts: readonly MountRecord[];
  /** Published ports while running. */
  ports: readonly PortRecord[];
  /** Execs created and not yet started. */
  pendingExecs: string[] | null;
  health: "starting" | "healthy" | undefined;
  healthTimer: NodeJS.Timeout | undefined;
}

export interface VolumeRecord {
  readonly name: string;
  readonly driver: string;
  readonly labels: Readonly<Record<string, string>> | null;
  readonly options: Readonly<Record<string, string>> | null;
  readonly createdAt: string;
  readonly anonymous: boolean;
}

export interface ExecRecord {
  readonly id: string;
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly openStdin: boolean;
  readonly openStdout: boolean;
  readonly openStderr: boolean;
  readonly privileged: boolean;
  readonly user: string;
  readonly detachKeys: string;
  running: boolean;
  exitCode: number | null;
  pid: number;
}

/** What every simulated engine reports about itself. */
export interface EngineIdentity {
  readonly index: number;
  /** dockerd's format: 12 colon-separated groups of 4 base32 characters. */
  readonly id: string;
  /** Host name, `sim-0001`… */
  readonly name: string;
  readonly cpus: number;
  readonly memory: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly serverVersion: string;
  readonly kernelVersion: string;
  readonly operatingSystem: string;
  readonly rootDir: string;
}
