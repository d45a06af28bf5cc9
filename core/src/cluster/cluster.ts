import { randomBytes } from "node:crypto";
import { text as readText } from "node:stream/consumers";
import type { ClusterBackend, CreateContainerRequest, CreatedContainer } from "../extension-points/cluster-backend.js";
import type { ContainerConfig, ContainerView, NodeView } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import { SwarmError, errorMessage } from "../errors/catalog.js";
import { Engine, EngineError, type ContainerRecord, type EngineOptions } from "../engines/engine.js";
import type { DockerEvent, NetworkResource } from "../engines/docker-types.js";
import { resolveContainer, type ContainerLike, type ContainerResolution } from "../scheduler/lookup.js";
import { SwarmLabels, normalizeConfig, toScheduleRequest, validateReschedulePolicies } from "../scheduler/request.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import { parseExpressions } from "../scheduler/expressions.js";
import { formatBytes } from "../scheduler/resources.js";
import type { EventHub } from "./events.js";

export interface ClusterOptions {
  readonly engine: Omit<EngineOptions, "onEvent" | "logger">;
  readonly createRetry: number;
  readonly logger: Logger;
  readonly events: EventHub;
  readonly scheduler: Scheduler;
  readonly now?: () => number;
}

export interface LocatedContainer {
  readonly engine: Engine;
  readonly record: ContainerRecord;
}

interface ContainerEntry extends ContainerLike {
  readonly engine: Engine;
  readonly record: ContainerRecord;
}

const PENDING_SCAN_MS = 1000;

/**
 * The native cluster backend: engines found by discovery, validated, mirrored, scheduled onto.
 * Engines live in a pending table (by address) until validated, then in the engines table.
 */
export class Cluster implements ClusterBackend {
  private readonly pendingEngines = new Map<string, Engine>();
  private readonly engines = new Map<string, Engine>();
  private readonly retryAt = new Map<Engine, number>();
  private readonly validating = new Set<Engine>();
  private readonly engineEventListeners = new Set<(engine: Engine, event: DockerEvent) => void>();
  private pendingTimer: NodeJS.Timeout | undefined;
  private currentEntries: string[] = [];
  private ordered: Engine[] | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ClusterOptions) {
    this.now = options.now ?? Date.now;
  }

  get scheduler(): Scheduler {
    return this.options.scheduler;
  }

  start(): void {
    this.pendingTimer = setInterval(() => this.revalidatePending(), PENDING_SCAN_MS);
    this.pendingTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pendingTimer) clearInterval(this.pendingTimer);
    const all = [...this.pendingEngines.values(), ...this.engines.values()];
    this.pendingEngines.clear();
    this.engines.clear();
    this.ordered = undefined;
    await Promise.all(all.map((engine) => engine.disconnect()));
  }

  // ---- Discovery -----------------------------------------------------------------------------

  /** Applies a full entry list from discovery: removals first, then additions (§2.6). */
  async setEntries(entries: readonly string[]): Promise<void> {
    const next = [...new Set(entries.filter((e) => e !== ""))];
    const removed = this.currentEntries.filter((e) => !next.includes(e));
    const added = next.filter((e) => !this.currentEntries.includes(e));
    this.currentEntries = next;
    for (const addr of removed) await this.removeEngine(addr);
    for (const addr of added) this.addEngine(addr);
  }

  private addEngine(addr: string): void {
    if (this.pendingEngines.has(addr) || [...this.engines.values()].some((e) => e.addr === addr)) return;
    const engine = new Engine(addr, {
      ...this.options.engine,
      logger: this.options.logger.child({ engine: addr }),
      onEvent: (source, event) => this.relayEngineEvent(source, event),
    });
    this.pendingEngines.set(addr, engine);
    void this.validate(engine);
  }

  private async removeEngine(addr: string): Promise<void> {
    const pending = this.pendingEngines.get(addr);
    if (pending) {
      this.pendingEngines.delete(addr);
      await pending.disconnect();
    }
    for (const [id, engine] of this.engines) {
      if (engine.addr !== addr) continue;
      this.engines.delete(id);
      this.ordered = undefined;
      await engine.disconnect();
      this.options.logger.info(`Removed Engine ${engine.name}`, { addr });
    }
  }

  private async validate(engine: Engine): Promise<void> {
    if (this.validating.has(engine)) return;
    this.validating.add(engine);
    try {
      await engine.connect();
    } catch (err) {
      engine.failureCount++;
      engine.lastError = errorMessage(err);
      engine.updatedAt = this.now();
      // Back off 1 s, 2 s, 4 s … capped at the refresh interval: classic waited 30 s more.
      const delay = Math.min(2 ** Math.min(engine.failureCount - 1, 16) * 1000, this.options.engine.refreshMax);
      this.retryAt.set(engine, this.now() + delay);
      this.options.logger.debug(`Failed to validate pending node: ${engine.lastError}`, { addr: engine.addr });
      return;
    } finally {
      this.validating.delete(engine);
    }
    if (this.pendingEngines.get(engine.addr) !== engine) {
      await engine.disconnect();
      return;
    }
    const duplicate = this.engines.get(engine.id);
    if (duplicate) {
      if (duplicate.addr !== engine.addr) {
        engine.lastError = `ID duplicated. ${engine.id} shared by this node ${engine.addr} and another node ${duplicate.addr}`;
        this.options.logger.error(`ID duplicated. ${engine.id} shared by ${engine.addr} and ${duplicate.addr}`);
        this.retryAt.set(engine, this.now() + this.options.engine.refreshMax);
        return;
      }
      this.pendingEngines.delete(engine.addr);
      await engine.disconnect();
      return;
    }
    this.pendingEngines.delete(engine.addr);
    this.retryAt.delete(engine);
    this.engines.set(engine.id, engine);
    this.ordered = undefined;
    engine.activate();
    this.options.logger.info(`Registered Engine ${engine.name} at ${engine.addr}`);
  }

  private revalidatePending(): void {
    const now = this.now();
    for (const engine of this.pendingEngines.values()) {
      if ((this.retryAt.get(engine) ?? 0) <= now) void this.validate(engine);
    }
  }

  private relayEngineEvent(engine: Engine, event: DockerEvent): void {
    this.options.events.publish(event, { Name: engine.name, Id: engine.id, Addr: engine.addr, Ip: engine.ip });
    for (const listener of this.engineEventListeners) listener(engine, event);
  }

  /**
   * Every engine's events with the engine they came from, one just removed from discovery
   * included (its `engine_disconnect` comes after it left the cluster). Returns the unsubscriber.
   */
  onEngineEvent(listener: (engine: Engine, event: DockerEvent) => void): () => void {
    this.engineEventListeners.add(listener);
    return () => this.engineEventListeners.delete(listener);
  }

  // ---- Views -------------------------------------------------------------------------------

  /** Validated engines, in a stable order. */
  /**
   * Validated engines ordered by address, not by which one answered first: placement (a seeded
   * random strategy, tie-breaks) must not depend on the order engines happened to connect in.
   */
  validatedEngines(): Engine[] {
    this.ordered ??= [...this.engines.values()].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    return [...this.ordered];
  }

  healthyEngines(): Engine[] {
    return this.validatedEngines().filter((e) => e.isHealthy());
  }

  /** Validated and pending engines, for `docker info`. */
  allEngines(): Engine[] {
    return [...this.engines.values(), ...this.pendingEngines.values()];
  }

  nodes(): readonly NodeView[] {
    return this.validatedEngines().map((engine) => engine.schedulingView());
  }

  engineById(id: string): Engine | undefined {
    return this.engines.get(id);
  }

  engineByName(nameOrId: string): Engine | undefined {
    return this.engines.get(nameOrId) ?? this.validatedEngines().find((e) => e.name === nameOrId);
  }

  private containerEntries(): ContainerEntry[] {
    const entries: ContainerEntry[] = [];
    for (const engine of this.engines.values()) {
      for (const record of engine.containers.values()) {
        entries.push({
          id: record.inspect.Id,
          names: [record.inspect.Name],
          labels: record.inspect.Config.Labels ?? {},
          nodeName: engine.name,
          nodeId: engine.id,
          engine,
          record,
        });
      }
    }
    return entries;
  }

  /** Container lookup across the cluster with classic Swarm's rules (§4.4). */
  findContainer(ref: string): LocatedContainer | undefined {
    const resolution = this.resolveContainer(ref);
    return resolution && "found" in resolution ? resolution.found : undefined;
  }

  /** Like `findContainer`, but a name or ID prefix several containers share says which they are. */
  resolveContainer(ref: string): ContainerResolution<LocatedContainer> {
    // Clients mostly use the full ID the create returned: a map hit, not a scan of the cluster.
    for (const engine of this.engines.values()) {
      const record = engine.containers.get(ref);
      if (record) return { found: { engine, record } };
    }
    const resolution = resolveContainer(this.containerEntries(), ref);
    if (!resolution) return undefined;
    const located = ({ engine, record }: ContainerEntry): LocatedContainer => ({ engine, record });
    return "found" in resolution
      ? { found: located(resolution.found) }
      : { ambiguous: resolution.ambiguous, candidates: resolution.candidates.map(located) };
  }

  /** Every container in the mirror with its engine. */
  containers(): LocatedContainer[] {
    return this.containerEntries().map(({ engine, record }) => ({ engine, record }));
  }

  findExec(execId: string): LocatedContainer | undefined {
    for (const { engine, record } of this.containerEntries()) {
      if (record.execIds.has(execId)) return { engine, record };
    }
    return undefined;
  }

  // ---- Container creation (§3.7) -----------------------------------------------------------

  async createContainer(request: CreateContainerRequest): Promise<CreatedContainer> {
    const config = normalizeConfig(request.config);
    validateReschedulePolicies(config);
    this.stripNodePrefixes(config);
    let retries = 0;
    let withImageAffinity = false;
    for (;;) {
      try {
        return await this.createOnce(config, request, withImageAffinity);
      } catch (err) {
        if (err instanceof SwarmError && (err.code === "SWARM_ERR_CONFLICT" || err.code === "SWARM_ERR_SCHEDULING")) throw err;
        if (!withImageAffinity && isImageNotFound(err) && !hasHardNodeConstraint(config) && this.someEngineHasImage(config.Image)) {
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
    // Steps a–f run synchronously, so no other create can interleave: the pending record is the lock.
    const name = request.name;
    if (name !== undefined && name !== "") this.checkNameFree(name);
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
    const chosen = this.scheduler.pick(scheduleRequest, this.nodes());
    const engine = this.engines.get(chosen.id);
    if (!engine) throw new SwarmError("Scheduling", "No nodes available in the cluster");
    this.options.logger.debug(`Scheduling container ${name ?? swarmId.slice(0, 12)} to `, { NodeName: engine.name, NodeID: engine.id });

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
    engine.pending.set(swarmId, pending);
    engine.touch();
    try {
      const body: ContainerConfig = {
        ...placed,
        HostConfig: { ...(placed.HostConfig ?? {}), CpuShares: engine.cpusToShares(scheduleRequest.cpus) },
      };
      const id = await this.engineCreate(engine, body, name, request.registryAuth);
      const record = await engine.inspectContainer(id);
      if (!record) throw new SwarmError("Internal", "Container created but refresh didn't report it back");
      return { id, node: engine.view() };
    } finally {
      engine.pending.delete(swarmId);
      engine.touch();
    }
  }

  private async engineCreate(engine: Engine, body: ContainerConfig, name: string | undefined, auth: string | undefined): Promise<string> {
    const create = () =>
      engine.json<{ Id: string }>("POST", "/containers/create", {
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
        await pullImage(engine, body.Image, auth);
      } catch {
        throw err;
      }
      return (await create()).Id;
    }
  }

  private checkNameFree(name: string): void {
    const bare = name.startsWith("/") ? name.slice(1) : name;
    const taken = (names: readonly string[]) => names.some((n) => n === bare || n === `/${bare}`);
    for (const engine of this.engines.values()) {
      const inUse =
        [...engine.containers.values()].some((r) => taken([r.inspect.Name])) ||
        [...engine.pending.values()].some((p) => taken(p.names));
      if (inUse) {
        throw new SwarmError(
          "Conflict",
          `Conflict: The name ${bare} is already assigned. You have to delete (or rename) that container to be able to assign ${bare} to a container again.`,
        );
      }
    }
  }

  private newSwarmId(): string {
    for (;;) {
      const id = randomBytes(32).toString("hex");
      if (!this.findContainer(id)) return id;
    }
  }

  private stripNodePrefixes(config: ContainerConfig): void {
    const endpoints = config.NetworkingConfig?.EndpointsConfig;
    if (!endpoints) return;
    const rewritten: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(endpoints)) {
      const slash = key.indexOf("/");
      const node = slash > 0 ? key.slice(0, slash) : "";
      rewritten[node && this.engineByName(node) ? key.slice(slash + 1) : key] = value;
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
      constraints.push(`node==~${found.engine.name}`);
      labels[SwarmLabels.constraints] = JSON.stringify(constraints);
    }
    config.Labels = labels;
    config.HostConfig = { ...config.HostConfig, NetworkMode: found.network.Name };
  }

  findNetwork(ref: string): { engine: Engine; network: NetworkResource } | undefined {
    const matches: Array<{ engine: Engine; network: NetworkResource }> = [];
    const bare = ref.startsWith("/") ? ref.slice(1) : ref;
    for (const engine of this.engines.values()) {
      for (const network of engine.networks.values()) {
        if (
          network.Id === bare ||
          (bare.length === 12 && network.Id.startsWith(bare)) ||
          network.Name === bare ||
          `${engine.name}/${network.Name}` === bare ||
          `${engine.id}/${network.Name}` === bare
        ) {
          matches.push({ engine, network });
        }
      }
    }
    const ids = new Set(matches.map((m) => m.network.Id));
    if (ids.size === 1) return matches[0];
    if (ids.size > 1) return undefined;
    const byPrefix: typeof matches = [];
    for (const engine of this.engines.values()) {
      for (const network of engine.networks.values()) if (network.Id.startsWith(bare)) byPrefix.push({ engine, network });
    }
    return new Set(byPrefix.map((m) => m.network.Id)).size === 1 ? byPrefix[0] : undefined;
  }

  private someEngineHasImage(image: string | undefined): boolean {
    if (!image) return false;
    const wanted = image.includes(":") || image.includes("@") ? image : `${image}:latest`;
    return this.validatedEngines().some((engine) =>
      engine.images.some((i) => i.Id === image || (i.RepoTags ?? []).includes(wanted) || (i.RepoDigests ?? []).includes(image)),
    );
  }

  // ---- Info --------------------------------------------------------------------------------

  statusLines(): Array<[string, string]> {
    const lines: Array<[string, string]> = [];
    const engines = this.allEngines().sort((a, b) => naturalCompare(a.name || "(unknown)", b.name || "(unknown)"));
    lines.push(["Nodes", String(engines.length)]);
    for (const engine of engines) {
      const containers = [...engine.containers.values()].map((r) => r.inspect.State);
      const running = containers.filter((s) => s.Running && !s.Paused).length;
      const paused = containers.filter((s) => s.Paused).length;
      const view = engine.view();
      lines.push([` ${engine.name || "(unknown)"}`, engine.addr]);
      lines.push(["  └ ID", engine.id]);
      lines.push(["  └ Status", displayState(engine.state)]);
      lines.push([
        "  └ Containers",
        engine.isHealthy()
          ? `${containers.length} (${running} Running, ${paused} Paused, ${containers.length - running - paused} Stopped)`
          : String(containers.length),
      ]);
      const realContainers = view.containers.filter((c) => !c.pending);
      const usedCpus = realContainers.reduce((s, c) => s + c.cpus, 0);
      const usedMemory = realContainers.reduce((s, c) => s + c.memory, 0);
      lines.push(["  └ Reserved CPUs", `${usedCpus} / ${engine.cpus}`]);
      lines.push(["  └ Reserved Memory", `${formatBytes(usedMemory)} / ${formatBytes(engine.memory)}`]);
      lines.push([
        "  └ Labels",
        Object.entries(engine.labels)
          .map(([k, v]) => `${k}=${v}`)
          .sort()
          .join(", "),
      ]);
      if (engine.lastError) lines.push(["  └ Error", engine.lastError]);
      lines.push(["  └ UpdatedAt", new Date(engine.updatedAt).toISOString().replace(/\.\d{3}Z$/, "Z")]);
      lines.push(["  └ ServerVersion", engine.serverVersion]);
    }
    return lines;
  }
}

export async function pullImage(engine: Engine, image: string, auth: string | undefined): Promise<void> {
  const at = image.lastIndexOf("@");
  const colon = image.lastIndexOf(":");
  const hasTag = at < 0 && colon > image.lastIndexOf("/");
  const fromImage = at >= 0 ? image : hasTag ? image.slice(0, colon) : image;
  const tag = at >= 0 ? undefined : hasTag ? image.slice(colon + 1) : "latest";
  const response = await engine.call("POST", "/images/create", {
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
  await engine.refreshImages();
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

function displayState(state: Engine["state"]): string {
  return state.charAt(0).toUpperCase() + state.slice(1);
}

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}
