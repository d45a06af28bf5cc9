/** The parts of the Docker Engine API's JSON the manager reads. Unlisted fields pass through untouched. */

export interface DockerInfo {
  ID: string;
  Name: string;
  NCPU: number;
  MemTotal: number;
  Driver?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  ExecutionDriver?: string;
  Labels?: string[] | null;
  ServerVersion?: string;
  SystemTime?: string;
  [key: string]: unknown;
}

export interface DockerVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  [key: string]: unknown;
}

export interface DockerPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID?: string;
  Command?: string;
  Created: number;
  State: string;
  Status: string;
  Ports?: DockerPort[];
  Labels?: Record<string, string> | null;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, { NetworkID?: string }> } | null;
  Mounts?: Array<{ Name?: string; Destination?: string; Source?: string }>;
  [key: string]: unknown;
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: string };
    [key: string]: unknown;
  };
  Config: {
    Image?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, object> | null;
    [key: string]: unknown;
  };
  HostConfig: {
    NetworkMode?: string;
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    Memory?: number;
    CpuShares?: number;
    AutoRemove?: boolean;
    [key: string]: unknown;
  };
  NetworkSettings?: {
    Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    Networks?: Record<string, { NetworkID?: string; EndpointID?: string; [key: string]: unknown }> | null;
    [key: string]: unknown;
  };
  ExecIDs?: string[] | null;
  Mounts?: Array<{ Name?: string; Destination?: string; Source?: string }>;
  [key: string]: unknown;
}

export interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size?: number;
  Labels?: Record<string, string> | null;
  ParentId?: string;
  [key: string]: unknown;
}

export interface NetworkResource {
  Id: string;
  Name: string;
  Scope?: string;
  Driver?: string;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface VolumeResource {
  Name: string;
  Driver?: string;
  Labels?: Record<string, string> | null;
  Mountpoint?: string;
  [key: string]: unknown;
}

export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  from?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  scope?: string;
  time?: number;
  timeNano?: number;
  [key: string]: unknown;
}
