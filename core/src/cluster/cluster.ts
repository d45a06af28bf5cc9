import { randomFillSync } from "node:crypto";
import { text as readText } from "node:stream/consumers";
import type { BackendContainer, CreateContainerRequest, CreatedContainer, EngineState } from "../extension-points/cluster-backend.js";
import type { ContainerConfig, ContainerView, NodeView } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import { errorMessage, errors, isSwarmError } from "../errors/catalog.js";
import { Engine, EngineError, type EngineOptions, type HealthEvent } from "../engines/engine.js";
import type { DockerEvent, NetworkResource } from "../engines/docker-types.js";
import { SwarmLabels, normalizeConfig, readLabelList, toScheduleRequest, validateReschedulePolicies } from "../scheduler/request.js";
import { PLACEMENT_FAILURES, type Scheduler } from "../scheduler/scheduler.js";
import { parseExpressions } from "../scheduler/expressions.js";
import { compareApiVersions, DEFAULT_API_VERSION } from "./api-version.js";
import { ContainerIndex, type ContainerCounts, type Resolution } from "./container-index.js";
import { InspectCache } from "./inspect-cache.js";
import { sharesFor, type ContainerRecord } from "./container-record.js";
import type { EventHub } from "./events.js";
import { Node } from "./node.js";
import { NodeSync } from "./node-sync.js";
import type { ClusterReader } from "./reader.js";

export interface ClusterOptions {
  readonly engine: Omit<EngineOptions, "onHealthChange" | "logger"> & { readonly refreshMin: number; readonly refreshMax: number };
  readonly createRetry: number;
  readonly logger: Logger;
  readonly events: EventHub;
  readonly scheduler: Scheduler;
  readonly now?: () => number;
}

const PENDING_SCAN_MS = 1000;
/** Inspect documents kept for answers without a call (about 5 KB each). */
const INSPECT_CACHE_SIZE = 256;

/**
 * The cluster's state, whatever its backend: engines (found by discovery, or named by a backend),
 * validated, mirrored, and scheduled onto by the native placement (`placeAndCreate`).
 * Nodes live in a pending table (by address) until validated, then in the validated table (by
 * ID). What depends on every node (the order they are listed in, who is called what, the API
 * version they share) is worked out when a node joins, leaves or changes, not per request.
 */
export class Cluster implements EngineState, ClusterReader {
  private readonly index = new ContainerIndex();
  private readonly documents = new InspectCache(INSPECT_CACHE_SIZE);
  private readonly pendingNodes = new Map<string, Node>();
  private readonly validated = new Map<string, Node>();
  private readonly retryAt = new Map<Node, number>();
  private readonly validating = new Set<Node>();
  private readonly engineEventListeners = new Set<(node: Node, event: DockerEvent) => void>();
  /** Names the manager's creates in flight have claimed. */
  private readonly reservedNames = new Map<string, number>();
  private pendingTimer: NodeJS.Timeout | undefined;
  private currentEntries = new Set<string>();
  private changes = 0;
  /** The scheduler's views, in `nodes()` order; the views of nodes changed since are replaced on next use. */
  private views: { readonly order: readonly Node[]; readonly at: Map<Node, number>; readonly views: NodeView[] } | undefined;
  private readonly staleViews = new Set<Node>();
  /** What the derived tables below were built from; a change of a node's name or API version rebuilds them. */
  private readonly identities = new Map<Node, string>();
  private derived:
    | {
        readonly ordered: readonly Node[];
        readonly byName: ReadonlyMap<string, readonly Node[]>;
        readonly apiVersion: string;
        readonly infoOrder: readonly Node[];
      }
    | undefined;
  private readonly now: () => number;
  /** Shared with every node: where a backend says containers' names come from. */
  private readonly naming: { label: string | undefined } = { label: undefined };

  constructor(private readonly options: ClusterOptions) {
    this.now = options.now ?? Date.now;
  }

  get scheduler(): Scheduler {
    return this.options.scheduler;
  }

  get version(): number {
    return this.changes;
  }

  start(): void {
    this.pendingTimer = setInterval(() => this.revalidatePending(), PENDING_SCAN_MS);
    this.pendingTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pendingTimer) clearInterval(this.pendingTimer);
    const all = [...this.pendingNodes.values(), ...this.validated.values()];
    this.pendingNodes.clear();
    this.validated.clear();
    this.changed(true);
    await Promise.all(all.map((node) => this.disconnect(node)));
  }

  // ---- Discovery -----------------------------------------------------------------------------

  /** Applies a full entry list from discovery: removals first, then additions (§2.6). */
  async setEntries(entries: readonly string[]): Promise<void> {
    await this.applyEntries(entries);
  }

  /** A backend's engines: like discovery's entries, and resolves once the new ones are validated or have failed. */
  async setEngines(addrs: readonly string[]): Promise<void> {
    await Promise.allSettled(await this.applyEntries(addrs));
  }

  /** Applies a full entry list; resolves with the validations it started. */
  private async applyEntries(entries: readonly string[]): Promise<Array<Promise<void>>> {
    const next = new Set(entries.filter((e) => e !== ""));
    const removed = [...this.currentEntries].filter((e) => !next.has(e));
    const added = [...next].filter((e) => !this.currentEntries.has(e));
    this.currentEntries = next;
    for (const addr of removed) await this.removeEngine(addr);
    const validations: Array<Promise<void>> = [];
    for (const addr of added) {
      const validation = this.addEngine(addr);
      if (validation) validations.push(validation);
    }
    return validations;
  }

  private addEngine(addr: string): Promise<void> | undefined {
    if (this.pendingNodes.has(addr) || this.validatedAt(addr)) return undefined;
    const logger = this.options.logger.child({ engine: addr });
    const engine = new Engine(addr, {
      ...this.options.engine,
      logger,
      // Only called once the engine answers calls, long after `node` is made.
      onHealthChange: (_engine, change) => this.onHealthChange(node, change),
      onFailureCount: () => node.touch(),
    });
    const node: Node = new Node(engine, this.index, (changed) => this.onNodeChange(changed), this.naming);
    node.sync = new NodeSync(node, {
      refreshMin: this.options.engine.refreshMin,
      refreshMax: this.options.engine.refreshMax,
      failureRetry: this.options.engine.failureRetry,
      documents: this.documents,
      logger,
      publish: (source, event, line) => this.relayEngineEvent(source, event, line),
      now: this.now,
    });
    this.pendingNodes.set(addr, node);
    this.changed(true);
    return this.validate(node);
  }

  private validatedAt(addr: string): Node | undefined {
    for (const node of this.validated.values()) if (node.addr === addr) return node;
    return undefined;
  }

  private async removeEngine(addr: string): Promise<void> {
    const pending = this.pendingNodes.get(addr);
    if (pending) {
      this.pendingNodes.delete(addr);
      this.changed(true);
      await this.disconnect(pending);
    }
    const node = this.validatedAt(addr);
    if (node) {
      this.validated.delete(node.id);
      this.changed(true);
      await this.disconnect(node);
      this.options.logger.info(`Removed Engine ${node.name}`, { addr });
    }
  }

  /** Takes a node out for good; one that was serving says so with `engine_disconnect`. */
  private async disconnect(node: Node): Promise<void> {
    const wasServing = node.engine.state === "healthy";
    node.sync.stop();
    node.detach();
    this.identities.delete(node);
    if (await node.engine.disconnect()) {
      if (wasServing) this.relayEngineEvent(node, swarmEvent("engine_disconnect", this.now()));
    }
  }

  private async validate(node: Node): Promise<void> {
    if (this.validating.has(node)) return;
    this.validating.add(node);
    const engine = node.engine;
    try {
      await engine.resolveIp();
      await engine.updateSpecs();
      await node.sync.load();
    } catch (err) {
      node.sync.halt();
      engine.recordValidationFailure(errorMessage(err));
      node.touch();
      // Back off 1 s, 2 s, 4 s … capped at the refresh interval: classic waited 30 s more.
      const delay = Math.min(2 ** Math.min(engine.failureCount - 1, 16) * 1000, this.options.engine.refreshMax);
      this.retryAt.set(node, this.now() + delay);
      this.options.logger.debug(`Failed to validate pending node: ${engine.lastError}`, { addr: engine.addr });
      return;
    } finally {
      this.validating.delete(node);
    }
    if (this.pendingNodes.get(engine.addr) !== node) {
      await this.disconnect(node);
      return;
    }
    const duplicate = this.validated.get(node.id);
    if (duplicate) {
      if (duplicate.addr !== node.addr) {
        engine.lastError = `ID duplicated. ${node.id} shared by this node ${node.addr} and another node ${duplicate.addr}`;
        this.options.logger.error(`ID duplicated. ${node.id} shared by ${node.addr} and ${duplicate.addr}`);
        this.retryAt.set(node, this.now() + this.options.engine.refreshMax);
        node.sync.halt();
        return;
      }
      this.pendingNodes.delete(node.addr);
      await this.disconnect(node);
      return;
    }
    this.pendingNodes.delete(node.addr);
    this.retryAt.delete(node);
    this.validated.set(node.id, node);
    node.attach();
    this.changed(true);
    engine.activate();
    node.sync.start();
    this.options.logger.info(`Registered Engine ${node.name} at ${node.addr}`);
  }

  private revalidatePending(): void {
    const now = this.now();
    for (const node of this.pendingNodes.values()) {
      if ((this.retryAt.get(node) ?? 0) <= now) void this.validate(node);
    }
  }

  private onHealthChange(node: Node, change: HealthEvent): void {
    node.touch();
    if (change === "engine_reconnect") node.sync.wake();
    this.relayEngineEvent(node, swarmEvent(change, this.now()));
  }

  private onNodeChange(node: Node): void {
    this.changes++;
    this.staleViews.add(node);
    const identity = `${node.name}\n${node.engine.apiVersion}`;
    if (this.identities.get(node) !== identity) {
      this.identities.set(node, identity);
      this.derived = undefined;
    }
  }

  private changed(membership: boolean): void {
    this.changes++;
    if (membership) this.derived = undefined;
  }

  private relayEngineEvent(node: Node, event: DockerEvent, line?: string): void {
    this.options.events.publish(event, node.stamp(), line);
    for (const listener of this.engineEventListeners) listener(node, event);
  }

  /**
   * Every engine's events with the node they came from, one just removed from discovery included
   * (its `engine_disconnect` comes after it left the cluster). Returns the unsubscriber.
   */
  onEngineEvent(listener: (node: Node, event: DockerEvent) => void): () => void {
    this.engineEventListeners.add(listener);
    return () => this.engineEventListeners.delete(listener);
  }

  // ---- Reading -----------------------------------------------------------------------------

  private tables(): NonNullable<Cluster["derived"]> {
    if (this.derived) return this.derived;
    // Ordered by address, not by which engine answered first: placement (a seeded random
    // strategy, tie-breaks) must not depend on the order engines happened to connect in.
    const ordered = [...this.validated.values()].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    const byName = new Map<string, Node[]>();
    let apiVersion: string | undefined;
    for (const node of ordered) {
      for (const key of [node.name, node.id]) {
        const list = byName.get(key);
        if (list) list.push(node);
        else byName.set(key, [node]);
      }
      if (apiVersion === undefined || compareApiVersions(node.engine.apiVersion, apiVersion) < 0) apiVersion = node.engine.apiVersion;
    }
    const infoOrder = [...this.validated.values(), ...this.pendingNodes.values()].sort((a, b) =>
      naturalCompare(a.name || "(unknown)", b.name || "(unknown)"),
    );
    for (const node of [...this.validated.values(), ...this.pendingNodes.values()]) this.identities.set(node, `${node.name}\n${node.engine.apiVersion}`);
    this.derived = { ordered, byName, apiVersion: apiVersion ?? DEFAULT_API_VERSION, infoOrder };
    return this.derived;
  }

  nodes(): readonly Node[] {
    return this.tables().ordered;
  }

  healthyNodes(): readonly Node[] {
    return this.tables().ordered.filter((node) => node.isHealthy());
  }

  allNodes(): readonly Node[] {
    return this.tables().infoOrder;
  }

  node(ref: string): Node | undefined {
    return this.validated.get(ref) ?? this.tables().byName.get(ref)?.[0];
  }

  nodeOf(record: ContainerRecord): Node | undefined {
    return this.validated.get(record.nodeId);
  }

  apiVersion(): string {
    return this.tables().apiVersion;
  }

  container(id: string): ContainerRecord | undefined {
    return this.index.get(id);
  }

  resolveContainer(ref: string): Resolution {
    return this.index.resolve(ref, (nodeRef) => {
      const nodes = this.tables().byName.get(nodeRef);
      return nodes && new Set(nodes.map((node) => node.id));
    });
  }

  findContainer(ref: string): ContainerRecord | undefined {
    const resolution = this.resolveContainer(ref);
    return resolution && "found" in resolution ? resolution.found : undefined;
  }

  findExec(execId: string): ContainerRecord | undefined {
    return this.index.findExec(execId);
  }

  inspectDocument(record: ContainerRecord): string | undefined {
    return record.document ?? this.documents.get(record);
  }

  containersWithSwarmId(swarmId: string): ContainerRecord[] {
    return this.index.withSwarmId(swarmId);
  }

  containers(): Iterable<ContainerRecord> {
    return this.index.values();
  }

  containerCounts(): ContainerCounts {
    return this.index.counts();
  }

  async completeProvisional(): Promise<void> {
    await Promise.all(this.nodes().map((node) => node.sync.completeProvisional()));
  }

  /** The scheduler's views of the validated nodes. */
  nodeViews(): readonly NodeView[] {
    return [...this.currentViews()];
  }

  /** Kept up to date node by node: a create changes one node, so one view is rebuilt, not a thousand. */
  private currentViews(): readonly NodeView[] {
    const order = this.nodes();
    if (this.views?.order !== order) {
      this.views = { order, at: new Map(order.map((node, index) => [node, index])), views: order.map((node) => node.view()) };
    } else {
      for (const node of this.staleViews) {
        const index = this.views.at.get(node);
        if (index !== undefined) this.views.views[index] = node.view();
      }
    }
    this.staleViews.clear();
    return this.views.views;
  }

  rankNodes(config: ContainerConfig): Node[] {
    const ranked = this.scheduler.rank(toScheduleRequest(normalizeConfig(config), undefined), this.currentViews());
    return ranked.map((view) => this.validated.get(view.id)).filter((node): node is Node => node !== undefined);
  }

  findNetwork(ref: string): { node: Node; network: NetworkResource } | undefined {
    const matches: Array<{ node: Node; network: NetworkResource }> = [];
    const bare = ref.startsWith("/") ? ref.slice(1) : ref;
    for (const node of this.nodes()) {
      for (const network of node.networks.values()) {
        if (
          network.Id === bare ||
          (bare.length === 12 && network.Id.startsWith(bare)) ||
          network.Name === bare ||
          `${node.name}/${network.Name}` === bare ||
          `${node.id}/${network.Name}` === bare
        ) {
          matches.push({ node, network });
        }
      }
    }
    const ids = new Set(matches.map((m) => m.network.Id));
    if (ids.size === 1) return matches[0];
    if (ids.size > 1) return undefined;
    const byPrefix: typeof matches = [];
    for (const node of this.nodes()) {
      for (const network of node.networks.values()) if (network.Id.startsWith(bare)) byPrefix.push({ node, network });
    }
    return new Set(byPrefix.map((m) => m.network.Id)).size === 1 ? byPrefix[0] : undefined;
  }

  // ---- What a backend builds on ---------------------------------------------------------------

  nodeAt(addr: string): NodeView | undefined {
    return this.validatedAt(addr)?.view();
  }

  nameContainersBy(label: string): void {
    this.naming.label = label;
  }

  nameTaken(name: string): boolean {
    return this.index.hasName(name) || this.reservedNames.has(name);
  }

  containerById(id: string): BackendContainer | undefined {
    const record = this.index.get(id);
    return record;
  }

  async readContainer(nodeId: string, id: string): Promise<BackendContainer | undefined> {
    const record = await this.validated.get(nodeId)?.sync.reread(id);
    return record;
  }

  async findLabelled(nodeId: string, key: string, value: string): Promise<BackendContainer[]> {
    const node = this.validated.get(nodeId);
    if (!node) return [];
    await node.sync.refreshContainers(true);
    const found: BackendContainer[] = [];
    for (const record of this.index.values()) if (record.nodeId === nodeId && record.labels[key] === value) found.push(record);
    return found;
  }

  // ---- Container creation (§3.7) -----------------------------------------------------------

  async placeAndCreate(request: CreateContainerRequest): Promise<CreatedContainer> {
    const config = normalizeConfig(request.config);
    validateReschedulePolicies(config);
    this.stripNodePrefixes(config);
    await this.constrainToImageOs(config, request.registryAuth);
    let retries = 0;
    let withImageAffinity = false;
    let withOsType = false;
    for (;;) {
      try {
        return await this.createOnce(config, request, withImageAffinity);
      } catch (err) {
        // Another attempt would fail the same way.
        if (isSwarmError(err, ["NameInUse", ...PLACEMENT_FAILURES])) throw err;
        const refusedOs = OS_MISMATCH.exec(errorMessage(err))?.[1];
        if (!withOsType && refusedOs !== undefined) {
          // The engine cannot run the image's OS: go where the image's own OS runs.
          addConstraint(config, `ostype==${refusedOs}`);
          withOsType = true;
          retries++;
          continue;
        }
        if (!withImageAffinity && isImageNotFound(err) && !hasHardNodeConstraint(config) && this.someNodeHasImage(config.Image)) {
          withImageAffinity = true;
          retries++;
          continue;
        }
        if (retries < this.options.createRetry) {
          retries++;
          this.options.logger.warn(`Create failed, retrying (${retries}/${this.options.createRetry}): ${errorMessage(err)}`);
          continue;
        }
        this.options.logger.error("Failed to create container", { error: errorMessage(err) });
        throw err;
      }
    }
  }

  private async createOnce(
    config: ContainerConfig,
    request: CreateContainerRequest,
    withImageAffinity: boolean,
  ): Promise<CreatedContainer> {
    // Up to the engine call this runs synchronously, so no other create can interleave: the
    // reserved name and the pending record are the locks.
    const name = request.name !== undefined && request.name !== "" ? stripSlash(request.name) : undefined;
    if (name !== undefined) this.checkNameFree(name);
    const labels: Record<string, string> = { ...(config.Labels ?? {}) };
    if (!labels[SwarmLabels.id]) labels[SwarmLabels.id] = this.newSwarmId();
    const swarmId = labels[SwarmLabels.id]!;
    const placed: ContainerConfig = { ...config, Labels: labels };
    this.pinToLocalNetwork(placed);

    // From the placed config: pinToLocalNetwork may have added a soft node constraint.
    const scheduleLabels = { ...(placed.Labels ?? {}) };
    if (withImageAffinity && config.Image) {
      const affinities = JSON.parse(scheduleLabels[SwarmLabels.affinities] ?? "[]") as string[];
      scheduleLabels[SwarmLabels.affinities] = JSON.stringify([...affinities, `image==${config.Image}`]);
    }
    const scheduleRequest = toScheduleRequest({ ...placed, Labels: scheduleLabels }, name);
    const chosen = this.scheduler.pick(scheduleRequest, this.currentViews());
    const node = this.validated.get(chosen.id);
    if (!node) throw errors.NoNodesAvailable();
    this.options.logger.debug(`Scheduling container ${name ?? swarmId.slice(0, 12)} to `, { NodeName: node.name, NodeID: node.id });

    const pending: ContainerView = {
      id: "",
      names: name ? [`/${name}`] : [],
      image: placed.Image ?? "",
      labels,
      state: "created",
      exposedPorts: placed.ExposedPorts ?? {},
      hostConfig: placed.HostConfig ?? {},
      ports: {},
      pending: true,
      cpus: scheduleRequest.cpus,
      memory: scheduleRequest.memory,
    };
    node.pending.set(swarmId, pending);
    node.touch();
    if (name !== undefined) this.reservedNames.set(name, (this.reservedNames.get(name) ?? 0) + 1);
    node.sync.beginCreate();
    let created: { id: string; name: string; config: ContainerConfig } | undefined;
    try {
      const body: ContainerConfig = {
        ...placed,
        HostConfig: { ...(placed.HostConfig ?? {}), CpuShares: sharesFor(scheduleRequest.cpus, node.rawCpus) },
      };
      const id = await this.engineCreate(node, body, name, request.registryAuth);
      created = { id, name: name ?? "", config: body };
      return { id, node: chosen };
    } finally {
      node.pending.delete(swarmId);
      if (name !== undefined) {
        const left = (this.reservedNames.get(name) ?? 1) - 1;
        if (left > 0) this.reservedNames.set(name, left);
        else this.reservedNames.delete(name);
      }
      node.sync.settleCreate(created);
      node.touch();
    }
  }

  private async engineCreate(node: Node, body: ContainerConfig, name: string | undefined, auth: string | undefined): Promise<string> {
    const create = () =>
      node.engine.json<{ Id: string }>("POST", "/containers/create", {
        query: name ? { name } : undefined,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    try {
      return (await create()).Id;
    } catch (err) {
      if (!(err instanceof EngineError && err.engineStatus === 404 && body.Image)) throw err;
      // The engine lacks the image: pull it there with the client's credentials, then retry once.
      try {
        await pullImage(node, body.Image, auth);
      } catch {
        throw err;
      }
      return (await create()).Id;
    }
  }

  /**
   * §3.7 step 3: in a cluster whose healthy engines run more than one OS, asks one engine which OS
   * the image is built for and keeps the container to engines of that OS. A cluster of one OS skips
   * the registry round trip: the answer could not change where the container goes.
   */
  private async constrainToImageOs(config: ContainerConfig, auth: string | undefined): Promise<void> {
    const image = config.Image;
    if (!image) return;
    if (readLabelList(config.Labels ?? {}, SwarmLabels.constraints).some((expression) => expression.includes("ostype"))) return;
    const osTypes = new Set<string>();
    for (const node of this.nodes()) if (node.isHealthy() && node.engine.osType !== "") osTypes.add(node.engine.osType);
    if (osTypes.size < 2) return;
    const [asked] = this.rankNodes({});
    if (!asked) return;
    let oses: string[];
    try {
      const answer = await asked.engine.json<DistributionInspect>("GET", `/distribution/${encodeURI(image)}/json`, {
        headers: auth ? { "x-registry-auth": auth } : undefined,
      });
      oses = [...new Set((answer.Platforms ?? []).map((platform) => platform.os ?? platform.OS ?? "").filter((os) => os !== ""))];
    } catch (err) {
      this.options.logger.debug(`No OS for image ${image} from the registry: ${errorMessage(err)}`, { NodeName: asked.name });
      return;
    }
    if (oses.length === 1) addConstraint(config, `ostype==${oses[0]!}`);
    else if (oses.length > 1) addConstraint(config, `ostype==/${oses.map((os) => `(${os})`).join("|")}/`);
  }

  private checkNameFree(name: string): void {
    if (this.index.hasName(name) || this.reservedNames.has(name)) {
      throw errors.NameInUse({ name });
    }
  }

  private newSwarmId(): string {
    for (;;) {
      const id = randomHex32();
      if (this.index.withSwarmId(id).length === 0 && !this.index.get(id)) return id;
    }
  }

  private stripNodePrefixes(config: ContainerConfig): void {
    const endpoints = config.NetworkingConfig?.EndpointsConfig;
    if (!endpoints) return;
    const rewritten: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(endpoints)) {
      const slash = key.indexOf("/");
      const node = slash > 0 ? key.slice(0, slash) : "";
      rewritten[node && this.node(node) ? key.slice(slash + 1) : key] = value;
    }
    config.NetworkingConfig = { ...config.NetworkingConfig, EndpointsConfig: rewritten };
  }

  /** A container on a local network must run where that network lives (§3.7 c). */
  private pinToLocalNetwork(config: ContainerConfig): void {
    const mode = config.HostConfig?.NetworkMode;
    if (!mode || ["bridge", "host", "none", "default"].includes(mode) || mode.startsWith("container:")) return;
    const found = this.findNetwork(mode);
    if (!found || found.network.Scope !== "local") return;
    const labels = { ...(config.Labels ?? {}) };
    const constraints = JSON.parse(labels[SwarmLabels.constraints] ?? "[]") as string[];
    if (!hasHardNodeConstraint(config)) {
      constraints.push(`node==~${found.node.name}`);
      labels[SwarmLabels.constraints] = JSON.stringify(constraints);
    }
    config.Labels = labels;
    config.HostConfig = { ...config.HostConfig, NetworkMode: found.network.Name };
  }

  private someNodeHasImage(image: string | undefined): boolean {
    if (!image) return false;
    const wanted = image.includes(":") || image.includes("@") ? image : `${image}:latest`;
    return this.nodes().some((node) =>
      node.images.some((i) => i.Id === image || (i.RepoTags ?? []).includes(wanted) || (i.RepoDigests ?? []).includes(image)),
    );
  }

  // ---- Info --------------------------------------------------------------------------------

  statusLines(): Array<[string, string]> {
    const nodes = this.allNodes();
    const lines: Array<[string, string]> = [["Nodes", String(nodes.length)]];
    for (const node of nodes) lines.push(...node.statusLines());
    return lines;
  }

}

export async function pullImage(node: Node, image: string, auth: string | undefined): Promise<void> {
  const at = image.lastIndexOf("@");
  const colon = image.lastIndexOf(":");
  const hasTag = at < 0 && colon > image.lastIndexOf("/");
  const fromImage = at >= 0 ? image : hasTag ? image.slice(0, colon) : image;
  const tag = at >= 0 ? undefined : hasTag ? image.slice(colon + 1) : "latest";
  const response = await node.engine.call("POST", "/images/create", {
    query: { fromImage, tag },
    headers: auth ? { "x-registry-auth": auth } : undefined,
    timeout: 0,
  });
  const text = await readText(response.body);
  if (response.statusCode >= 400) throw new EngineError(response.statusCode, text);
  const failure = text
    .split("\n")
    .map((line) => {
      try {
        return JSON.parse(line) as { error?: string };
      } catch {
        return {};
      }
    })
    .find((message) => typeof message.error === "string");
  if (failure?.error) throw new EngineError(500, failure.error);
  await node.sync.refreshImages();
}

/** Random bytes drawn 8 KiB at a time: a create needs 32, and each draw from the system costs the same. */
const entropy = { pool: Buffer.alloc(8192), used: 8192 };

function randomHex32(): string {
  if (entropy.used + 32 > entropy.pool.length) {
    randomFillSync(entropy.pool);
    entropy.used = 0;
  }
  const id = entropy.pool.toString("hex", entropy.used, entropy.used + 32);
  entropy.used += 32;
  return id;
}

function swarmEvent(action: HealthEvent, nowMs: number): DockerEvent {
  return {
    Type: "swarm",
    Action: action,
    status: action,
    id: "",
    from: "swarm",
    Actor: { ID: "", Attributes: {} },
    time: Math.floor(nowMs / 1000),
    timeNano: nowMs * 1_000_000,
  };
}

/** What an engine answers when asked to create a container from an image built for another OS. */
const OS_MISMATCH = /image operating system "([^"]+)" cannot be used on this platform/;

interface DistributionInspect {
  readonly Platforms?: ReadonlyArray<{ readonly os?: string; readonly OS?: string }>;
}

/** Adds a constraint to the ones the container's label carries, where they are kept with it. */
function addConstraint(config: ContainerConfig, expression: string): void {
  const labels = { ...(config.Labels ?? {}) };
  labels[SwarmLabels.constraints] = JSON.stringify([...readLabelList(labels, SwarmLabels.constraints), expression]);
  config.Labels = labels;
}

function isImageNotFound(err: unknown): boolean {
  const message = errorMessage(err);
  return (
    (err instanceof EngineError && err.engineStatus === 404) ||
    /image \S* not found|repository \S* not found|repository does not exist|No such image/i.test(message)
  );
}

function hasHardNodeConstraint(config: ContainerConfig): boolean {
  const raw = config.Labels?.[SwarmLabels.constraints];
  if (!raw) return false;
  try {
    return parseExpressions(JSON.parse(raw) as string[]).some((e) => e.key === "node" && !e.soft);
  } catch {
    return false;
  }
}

function stripSlash(name: string): string {
  return name.startsWith("/") ? name.slice(1) : name;
}

/** Node names as people sort them: node-2 before node-10. */
export const naturalCompare = new Intl.Collator(undefined, { numeric: true }).compare;
