import type { ContainerView, ImageView, NodeView } from "../extension-points/model.js";
import type { Engine } from "../engines/engine.js";
import type { ImageSummary, NetworkResource, VolumeResource } from "../engines/docker-types.js";
import { formatBytes } from "../scheduler/resources.js";
import type { ContainerIndex } from "./container-index.js";
import type { ContainerRecord, RecordNode } from "./container-record.js";
import type { NodeStamp } from "./events.js";
import type { NodeSync } from "./node-sync.js";

/**
 * One engine as a member of the cluster: the engine itself (calls, health, identity) and the
 * manager's mirror of what it holds: its containers (also in the cluster-wide index), images,
 * networks and volumes, and the containers being created on it. The views built from the mirror
 * (the scheduler's node view, the `docker info` lines) are rebuilt only when it changed.
 * `NodeSync` keeps the mirror true to the engine.
 */
export class Node implements RecordNode {
  readonly containers = new Map<string, ContainerRecord>();
  images: readonly ImageSummary[] = [];
  readonly networks = new Map<string, NetworkResource>();
  readonly volumes = new Map<string, VolumeResource>();
  /** Containers being created here, by Swarm ID: they count for names, ports, slots and resources. */
  readonly pending = new Map<string, ContainerView>();
  /** When the manager first learned of each container, so a refresh never drops what it did not list yet. */
  readonly learnedAt = new Map<string, number>();
  /** Keeps this mirror true to the engine; set once, right after the node is made. */
  sync!: NodeSync;

  private version = 0;
  private cachedStamp: NodeStamp | undefined;
  /** Only a validated node's containers are the cluster's (in the index, listed, found). */
  private attached = false;
  private cachedView: { version: number; view: NodeView } | undefined;
  private cachedStatus: { key: string; lines: Array<[string, string]> } | undefined;

  constructor(
    readonly engine: Engine,
    private readonly index: ContainerIndex,
    private readonly onChange: (node: Node) => void,
    private readonly naming: { readonly label: string | undefined } = { label: undefined },
  ) {}

  get nameLabel(): string | undefined {
    return this.naming.label;
  }

  get id(): string {
    return this.engine.id;
  }

  get name(): string {
    return this.engine.name;
  }

  get addr(): string {
    return this.engine.addr;
  }

  get ip(): string {
    return this.engine.ip;
  }

  get rawCpus(): number {
    return this.engine.rawCpus;
  }

  get clockSkewMs(): number {
    return this.engine.clockSkewMs;
  }

  get labels(): Readonly<Record<string, string>> {
    return this.engine.labels;
  }

  get cpus(): number {
    return this.engine.cpus;
  }

  get memory(): number {
    return this.engine.memory;
  }

  isHealthy(): boolean {
    return this.engine.isHealthy();
  }

  /** Who this node is, as its events carry it to clients. */
  stamp(): NodeStamp {
    const stamp = this.cachedStamp;
    if (stamp?.Name === this.name && stamp.Id === this.id && stamp.Ip === this.ip) return stamp;
    this.cachedStamp = { Name: this.name, Id: this.id, Addr: this.addr, Ip: this.ip };
    return this.cachedStamp;
  }

  /** Marks the mirror or the engine's state as changed, so views are rebuilt on next use. */
  touch(): void {
    this.version++;
    this.onChange(this);
  }

  // ---- Containers --------------------------------------------------------------------------

  putContainer(record: ContainerRecord, now: number): void {
    this.containers.set(record.id, record);
    if (!this.learnedAt.has(record.id)) this.learnedAt.set(record.id, now);
    if (this.attached) this.index.put(record);
    this.touch();
  }

  dropContainer(id: string): ContainerRecord | undefined {
    const record = this.containers.get(id);
    if (!record) return undefined;
    this.containers.delete(id);
    this.learnedAt.delete(id);
    if (this.attached) this.index.remove(id);
    this.touch();
    return record;
  }

  /** The node joined the cluster: its containers become the cluster's. */
  attach(): void {
    if (this.attached) return;
    this.attached = true;
    for (const record of this.containers.values()) this.index.put(record);
    this.touch();
  }

  /**
   * The node left the cluster (or never joined): its containers are no longer the cluster's. It
   * keeps its own records, so whoever moves them elsewhere can still read them.
   */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    for (const id of this.containers.keys()) this.index.remove(id);
    this.touch();
  }

  addExec(containerId: string, execId: string): void {
    if (this.attached) this.index.addExec(containerId, execId);
  }

  // ---- Other collections -------------------------------------------------------------------

  // A periodic refresh mostly finds what the events already told: nothing changes then, and views stay cached.

  setImages(images: readonly ImageSummary[]): void {
    if (sameJson(this.images, images)) return;
    this.images = images;
    this.touch();
  }

  setNetworks(networks: readonly NetworkResource[]): void {
    if (sameJson([...this.networks.values()], networks)) return;
    this.networks.clear();
    for (const network of networks) this.networks.set(network.Id, network);
    this.touch();
  }

  setVolumes(volumes: readonly VolumeResource[]): void {
    if (sameJson([...this.volumes.values()], volumes)) return;
    this.volumes.clear();
    for (const volume of volumes) this.volumes.set(volume.Name, volume);
    this.touch();
  }

  // ---- Views -------------------------------------------------------------------------------

  /** The scheduler's view; rebuilt only when something changed, so plugins may memoize per view. */
  view(): NodeView {
    if (this.cachedView?.version === this.version) return this.cachedView.view;
    const containers: ContainerView[] = [];
    let usedCpus = 0;
    let usedMemory = 0;
    for (const record of this.containers.values()) containers.push(record.view);
    for (const pending of this.pending.values()) containers.push(pending);
    for (const container of containers) {
      usedCpus += container.cpus;
      usedMemory += container.memory;
    }
    const images: ImageView[] = this.images.map((image) => ({
      id: image.Id,
      repoTags: image.RepoTags ?? [],
      repoDigests: image.RepoDigests ?? [],
    }));
    const engine = this.engine;
    const view: NodeView = {
      id: engine.id,
      name: engine.name,
      addr: engine.addr,
      ip: engine.ip,
      labels: { ...engine.labels },
      containers,
      images,
      totalCpus: engine.cpus,
      totalMemory: engine.memory,
      usedCpus,
      usedMemory,
      health: engine.state,
      healthIndicator: engine.healthIndicator,
    };
    this.cachedView = { version: this.version, view };
    return view;
  }

  /** This node's lines in `docker info`'s SystemStatus, rebuilt only when something in them changed. */
  statusLines(): Array<[string, string]> {
    const engine = this.engine;
    const key = `${this.version}|${engine.state}|${engine.updatedAt}|${engine.lastError}|${engine.name}|${engine.serverVersion}`;
    if (this.cachedStatus?.key === key) return this.cachedStatus.lines;
    this.cachedStatus = { key, lines: this.buildStatusLines() };
    return this.cachedStatus.lines;
  }

  /** Its containers by state, as `docker info`, `/metrics` and the cluster view count them. */
  stateCounts(): { running: number; paused: number; stopped: number } {
    let running = 0;
    let paused = 0;
    for (const record of this.containers.values()) {
      if (record.state.paused) paused++;
      else if (record.state.running) running++;
    }
    return { running, paused, stopped: this.containers.size - running - paused };
  }

  private buildStatusLines(): Array<[string, string]> {
    const engine = this.engine;
    const { running, paused } = this.stateCounts();
    let usedCpus = 0;
    let usedMemory = 0;
    for (const record of this.containers.values()) {
      usedCpus += record.view.cpus;
      usedMemory += record.view.memory;
    }
    const total = this.containers.size;
    const name = engine.name || "(unknown)";
    const lines: Array<[string, string]> = [
      [` ${name}`, engine.addr],
      ["  └ ID", engine.id],
      ["  └ Status", displayState(engine.state)],
      ["  └ Containers", engine.isHealthy() ? `${total} (${running} Running, ${paused} Paused, ${total - running - paused} Stopped)` : String(total)],
      ["  └ Reserved CPUs", `${usedCpus} / ${engine.cpus}`],
      ["  └ Reserved Memory", `${formatBytes(usedMemory)} / ${formatBytes(engine.memory)}`],
      [
        "  └ Labels",
        Object.entries(engine.labels)
          .map(([k, v]) => `${k}=${v}`)
          .sort()
          .join(", "),
      ],
    ];
    if (engine.lastError) lines.push(["  └ Error", engine.lastError]);
    lines.push(["  └ UpdatedAt", new Date(engine.updatedAt).toISOString().replace(/\.\d{3}Z$/, "Z")]);
    lines.push(["  └ ServerVersion", engine.serverVersion]);
    return lines;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function displayState(state: Engine["state"]): string {
  return state.charAt(0).toUpperCase() + state.slice(1);
}
