import { randomBytes } from "node:crypto";
import os from "node:os";
import {
  errorMessage,
  formatBytes,
  normalizeConfig,
  toScheduleRequest,
  type BackendContainer,
  type BackendContext,
  type ClusterBackend,
  type ContainerConfig,
  type CreateContainerRequest,
  type CreatedContainer,
  type Logger,
  type NodeView,
  type SwarmError,
} from "@swarm/core";
import { mesosErrors } from "./errors.js";
import { masterLocator, type MasterLocator } from "./master.js";
import type { MesosOptions, RawMesosOptions } from "./options.js";
import { TERMINAL_STATES, type MesosEvent, type Offer, type Resource, type TaskStatus } from "./protocol.js";
import { SchedulerClient } from "./scheduler-client.js";
import { taskInfo } from "./task-info.js";

export const TASK_LABEL = "com.docker.swarm.mesos.task";
export const NAME_LABEL = "com.docker.swarm.mesos.name";
export const DETACH_LABEL = "com.docker.swarm.mesos.detach";
const MIB = 1024 * 1024;
/** How long `docker rm -f` waits for Mesos to say a task is killed. */
const KILL_TIMEOUT_MS = 15_000;

interface Agent {
  readonly id: string;
  readonly hostname: string;
  /** `host:port` of the agent's Docker engine. */
  readonly engine: string;
  readonly offers: Map<string, { offer: Offer; timer: NodeJS.Timeout }>;
}

interface Task {
  id: string;
  readonly name: string;
  config: ContainerConfig;
  readonly request: CreateContainerRequest;
  agentId: string | undefined;
  state: string;
  /** Settles the create waiting for this task; undefined once it has. */
  settle: ((outcome: { status: TaskStatus } | { error: Error }) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Launches that Mesos refused because an offer had gone; one more is tried elsewhere. */
  relaunches: number;
  containerId: string | undefined;
  killed: (() => void) | undefined;
}

/**
 * Containers as tasks of a Mesos framework (§8): nodes are the agents that have offers, the
 * filters and strategy choose among them, a create becomes a LAUNCH on the chosen agent's offers,
 * and once Mesos says the task runs, its container is found on the agent's engine and is from then
 * on an ordinary container of the cluster's state.
 */
export class MesosBackend implements ClusterBackend {
  private readonly agents = new Map<string, Agent>();
  private readonly tasks = new Map<string, Task>();
  private readonly queue: Task[] = [];
  private readonly client: SchedulerClient;
  private readonly locator: MasterLocator;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly logger: Logger;
  /** Bumped whenever the offers held change: `docker info` lists them. */
  private offersVersion = 0;

  constructor(
    private readonly ctx: BackendContext<RawMesosOptions>,
    private readonly options: MesosOptions,
  ) {
    this.logger = ctx.logger;
    // Agents name containers after their Mesos container IDs; users know them by the name they asked for.
    ctx.state.nameContainersBy(NAME_LABEL);
    this.locator = masterLocator(ctx.target);
    this.client = new SchedulerClient(
      this.locator,
      () => ({
        user: options.user ?? os.userInfo().username,
        name: "swarm",
        hostname: os.hostname(),
        checkpoint: options.checkpoint,
        failover_timeout: options.failoverTimeout / 1000,
      }),
      (event) => this.onEvent(event),
      () => this.onDisconnect(),
      this.logger,
    );
  }

  start(): void {
    this.logger.warn("WARNING: the mesos driver is currently experimental, use at your own risks");
    this.running = this.client.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    // A clean shutdown ends the framework: Mesos kills its tasks, as classic Swarm's driver did on stop.
    if (this.client.connected) await this.client.call({ type: "TEARDOWN" }).catch(() => undefined);
    this.abort.abort();
    await this.running;
    this.locator.close();
    for (const agent of this.agents.values()) for (const { timer } of agent.offers.values()) clearTimeout(timer);
    for (const task of this.tasks.values()) this.fail(task, mesosErrors.ShuttingDown());
  }

  // ---- Events --------------------------------------------------------------------------------

  private onEvent(event: MesosEvent): void {
    switch (event.type) {
      case "SUBSCRIBED":
        void this.reconcile();
        return;
      case "OFFERS":
        void this.takeOffers(event.offers?.offers ?? []);
        return;
      case "RESCIND":
        if (event.rescind) this.dropOffer(event.rescind.offer_id.value);
        return;
      case "UPDATE":
        if (event.update) void this.onUpdate(event.update.status);
        return;
      case "FAILURE":
        if (event.failure?.agent_id && !event.failure.executor_id) void this.loseAgent(event.failure.agent_id.value);
        return;
      case "ERROR":
        this.logger.error(`Mesos master: ${event.error?.message ?? "error"}`);
        return;
      default:
        return;
    }
  }

  /** Offers do not outlive a subscription: the master rescinds them all when it goes. */
  private onDisconnect(): void {
    for (const agent of this.agents.values()) {
      for (const { timer } of agent.offers.values()) clearTimeout(timer);
      agent.offers.clear();
    }
    this.offersVersion++;
  }

  /** After (re-)subscribing, asks the master where every task we know of stands. */
  private async reconcile(): Promise<void> {
    const known = [...this.tasks.values()].filter((task) => task.agentId !== undefined);
    if (known.length === 0) return;
    await this.client
      .call({
        type: "RECONCILE",
        reconcile: { tasks: known.map((task) => ({ task_id: { value: task.id }, agent_id: { value: task.agentId } })) },
      })
      .catch((err: unknown) => this.logger.warn(`Mesos RECONCILE failed: ${errorMessage(err)}`));
  }

  private async takeOffers(offers: readonly Offer[]): Promise<void> {
    const fresh = new Set<Agent>();
    for (const offer of offers) {
      let agent = this.agents.get(offer.agent_id.value);
      if (!agent) {
        agent = { id: offer.agent_id.value, hostname: offer.hostname, engine: `${offer.hostname}:${dockerPort(offer, this.ctx.tls)}`, offers: new Map() };
        this.agents.set(agent.id, agent);
        fresh.add(agent);
      }
      const timer = setTimeout(() => void this.declineUnused(offer.id.value), this.options.offerTimeout);
      timer.unref();
      agent.offers.set(offer.id.value, { offer, timer });
      this.offersVersion++;
    }
    if (fresh.size > 0) {
      await this.ctx.state.setEngines([...this.agents.values()].map((agent) => agent.engine));
      for (const agent of fresh) {
        if (this.ctx.state.nodeAt(agent.engine)) continue;
        // Classic Swarm: an agent whose engine cannot be reached is dropped with its offers, undeclined.
        this.logger.error(`Mesos agent ${agent.id}: its Docker engine at ${agent.engine} cannot be reached; its offers are not used`);
        this.forgetAgent(agent);
      }
    }
    this.launchQueued();
  }

  private dropOffer(offerId: string): void {
    for (const agent of this.agents.values()) {
      const held = agent.offers.get(offerId);
      if (!held) continue;
      clearTimeout(held.timer);
      agent.offers.delete(offerId);
      this.offersVersion++;
    }
  }

  private async declineUnused(offerId: string): Promise<void> {
    if (![...this.agents.values()].some((agent) => agent.offers.has(offerId))) return;
    this.dropOffer(offerId);
    await this.client
      .call({ type: "DECLINE", decline: { offer_ids: [{ value: offerId }], filters: { refuse_seconds: this.options.offerRefuseTimeout / 1000 } } })
      .catch((err: unknown) => this.logger.debug(`Mesos DECLINE of ${offerId} failed: ${errorMessage(err)}`));
  }

  private async onUpdate(status: TaskStatus): Promise<void> {
    if (status.uuid && status.agent_id) {
      await this.client
        .call({ type: "ACKNOWLEDGE", acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } })
        .catch((err: unknown) => this.logger.debug(`Mesos ACKNOWLEDGE failed: ${errorMessage(err)}`));
    }
    const task = this.tasks.get(status.task_id.value);
    if (!task) return;
    task.state = status.state;
    this.logger.debug(`Mesos task ${task.id}: ${status.state}${status.message ? ` (${status.message})` : ""}`);
    if (status.state === "TASK_RUNNING" || TERMINAL_STATES.has(status.state)) task.settle?.({ status });
    if (TERMINAL_STATES.has(status.state)) {
      task.killed?.();
      this.tasks.delete(task.id);
    }
  }

  /** An agent Mesos has lost: its containers leave the cluster with its engine. */
  private async loseAgent(agentId: string): Promise<void> {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    this.logger.warn(`Mesos agent ${agentId} (${agent.hostname}) is lost`);
    this.forgetAgent(agent);
    await this.ctx.state.setEngines([...this.agents.values()].map((a) => a.engine));
  }

  private forgetAgent(agent: Agent): void {
    for (const { timer } of agent.offers.values()) clearTimeout(timer);
    this.agents.delete(agent.id);
    this.offersVersion++;
  }

  // ---- Nodes ---------------------------------------------------------------------------------

  /** One node per agent with offers: its capacity is what it offers now (classic Swarm's model). */
  nodeViews(): readonly NodeView[] {
    const views: NodeView[] = [];
    for (const agent of this.agents.values()) {
      if (agent.offers.size === 0) continue;
      const engine = this.ctx.state.nodeAt(agent.engine);
      if (!engine) continue;
      const resources = [...agent.offers.values()].flatMap(({ offer }) => offer.resources ?? []);
      views.push({
        ...engine,
        totalCpus: scalar(resources, "cpus"),
        totalMemory: scalar(resources, "mem") * MIB,
        usedCpus: 0,
        usedMemory: 0,
      });
    }
    return views;
  }

  statusVersion(): number {
    return this.offersVersion;
  }

  statusLines(): Array<[string, string]> {
    const offers = [...this.agents.values()].flatMap((agent) => [...agent.offers.values()].map(({ offer }) => offer));
    offers.sort((a, b) => a.id.value.localeCompare(b.id.value));
    const lines: Array<[string, string]> = [["Offers", String(offers.length)]];
    for (const offer of offers) {
      lines.push(["  Offer", offer.id.value]);
      for (const resource of offer.resources ?? []) lines.push([`   └ ${resource.name}`, formatResource(resource)]);
    }
    return lines;
  }

  // ---- Containers ----------------------------------------------------------------------------

  listsContainer(container: BackendContainer): boolean {
    return container.labels[TASK_LABEL] !== undefined;
  }

  startedAlready(container: BackendContainer): boolean {
    const task = this.tasks.get(container.labels[TASK_LABEL] ?? "");
    return task?.state === "TASK_RUNNING" && task.containerId === container.id;
  }

  async removeContainer(container: BackendContainer, force: boolean): Promise<boolean> {
    const task = this.tasks.get(container.labels[TASK_LABEL] ?? "");
    if (!task || !force || task.agentId === undefined) return false;
    const killed = new Promise<void>((resolve) => {
      task.killed = resolve;
      setTimeout(resolve, KILL_TIMEOUT_MS).unref();
    });
    await this.client.call({ type: "KILL", kill: { task_id: { value: task.id }, agent_id: { value: task.agentId } } });
    await killed;
    // The container is stopped now; the engine removes it.
    return false;
  }

  async createContainer(request: CreateContainerRequest): Promise<CreatedContainer> {
    const config = normalizeConfig(request.config);
    const resources = toScheduleRequest(config, request.name);
    if (!(resources.memory > 0) && !(resources.cpus > 0)) {
      throw mesosErrors.ResourcesRequired();
    }
    const name = request.name?.replace(/^\//, "") ?? "";
    if (name !== "" && (this.ctx.state.nameTaken(name) || [...this.tasks.values()].some((task) => task.name === name))) {
      throw mesosErrors.NameInUse({ name });
    }
    const task: Task = {
      id: "",
      name,
      config,
      request,
      agentId: undefined,
      state: "PENDING",
      settle: undefined,
      timer: undefined,
      relaunches: 0,
      containerId: undefined,
      killed: undefined,
    };
    let result = await this.placeTask(task);
    // Mesos refused the launch because the offer had gone (rescinded, or used): once more elsewhere.
    while ("status" in result && result.status.reason === "REASON_INVALID_OFFERS" && task.relaunches < 1) {
      task.relaunches++;
      this.tasks.delete(task.id);
      task.agentId = undefined;
      task.state = "PENDING";
      result = await this.placeTask(task);
    }
    if ("error" in result) {
      this.tasks.delete(task.id);
      throw result.error;
    }
    const status = result.status;
    if (status.state !== "TASK_RUNNING" && status.state !== "TASK_FINISHED") {
      this.tasks.delete(task.id);
      throw taskFailure(status);
    }
    const agent = this.agents.get(task.agentId ?? "");
    const node = agent && this.ctx.state.nodeAt(agent.engine);
    if (!agent || !node) throw mesosErrors.AgentGone({ agent: task.agentId ?? "?" });
    const container = await this.findContainer(task, node, status);
    if (!container) throw mesosErrors.ContainerNotCreated();
    task.containerId = container.id;
    return { id: container.id, node };
  }

  /**
   * Gives the task a fresh ID, launches it on an agent that fits or queues it for the next offers,
   * and settles with its first telling status (running or ended), or with the task timeout's error
   * if no agent took it in time.
   */
  private placeTask(task: Task): Promise<{ status: TaskStatus } | { error: Error }> {
    this.renameTask(task);
    const outcome = new Promise<{ status: TaskStatus } | { error: Error }>((resolve) => {
      task.settle = (result) => {
        task.settle = undefined;
        clearTimeout(task.timer);
        resolve(result);
      };
    });
    this.tasks.set(task.id, task);
    task.timer = setTimeout(() => {
      if (task.agentId === undefined) this.fail(task, mesosErrors.TaskNotStarted({ timeout: formatSeconds(this.options.taskTimeout) }));
    }, this.options.taskTimeout);
    if (!this.launch(task)) this.queue.push(task);
    return outcome;
  }

  /** A fresh task ID (random, after the name when there is one) and the labels that carry it. */
  private renameTask(task: Task): void {
    const random = randomBytes(6).toString("hex");
    task.id = task.name === "" ? random : `${task.name}.${random}`;
    task.config = {
      ...task.config,
      Labels: { ...(task.config.Labels ?? {}), [TASK_LABEL]: task.id, ...(task.name === "" ? {} : { [NAME_LABEL]: task.name }) },
    };
  }

  /** Mesos ≥ 0.23 puts `docker inspect`'s answer in the RUNNING update; otherwise the task label tells. */
  private async findContainer(task: Task, node: NodeView, status: TaskStatus): Promise<BackendContainer | undefined> {
    const fromData = containerIdFromData(status.data);
    if (fromData) {
      const read = await this.ctx.state.readContainer(node.id, fromData);
      if (read) return read;
    }
    const labelled = await this.ctx.state.findLabelled(node.id, TASK_LABEL, task.id);
    return labelled[0];
  }

  private fail(task: Task, error: Error): void {
    this.tasks.delete(task.id);
    const queued = this.queue.indexOf(task);
    if (queued >= 0) this.queue.splice(queued, 1);
    task.settle?.({ error });
  }

  private launchQueued(): void {
    for (const task of [...this.queue]) {
      if (!this.tasks.has(task.id)) continue;
      if (this.launch(task)) this.queue.splice(this.queue.indexOf(task), 1);
    }
  }

  /** Places the task on an agent's offers and sends the LAUNCH; false when no agent fits yet. */
  private launch(task: Task): boolean {
    const nodes = this.nodeViews();
    if (nodes.length === 0) return false;
    let chosen: NodeView | undefined;
    try {
      chosen = this.ctx.placement.rank(toScheduleRequest(task.config, task.name === "" ? undefined : task.name), nodes)[0];
    } catch (err) {
      this.logger.debug(`Mesos task ${task.id} waits for offers: ${errorMessage(err)}`);
      return false;
    }
    const agent = chosen && [...this.agents.values()].find((a) => this.ctx.state.nodeAt(a.engine)?.id === chosen.id);
    if (!agent) return false;
    const offers = [...agent.offers.values()].map(({ offer }) => offer);
    for (const { timer } of agent.offers.values()) clearTimeout(timer);
    agent.offers.clear();
    this.offersVersion++;
    task.agentId = agent.id;
    task.state = "TASK_STAGING";
    clearTimeout(task.timer);
    const info = taskInfo(task.id, task.name, agent.id, task.config, offers);
    this.client
      .call({
        type: "ACCEPT",
        accept: {
          offer_ids: offers.map((offer) => offer.id),
          operations: [{ type: "LAUNCH", launch: { task_infos: [info] } }],
          filters: { refuse_seconds: this.options.offerRefuseTimeout / 1000 },
        },
      })
      .catch((err: unknown) => this.fail(task, mesosErrors.LaunchRefused({ reason: errorMessage(err) }, { cause: err })));
    return true;
  }
}

function dockerPort(offer: Offer, tls: boolean): number {
  const attribute = offer.attributes?.find((a) => a.name === "docker_port");
  const value = attribute?.scalar?.value ?? (attribute?.text ? Number(attribute.text.value) : undefined);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : tls ? 2376 : 2375;
}

function scalar(resources: readonly Resource[], name: string): number {
  return resources.filter((r) => r.name === name && r.scalar).reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
}

function formatResource(resource: Resource): string {
  if (resource.scalar) {
    return resource.name === "mem" || resource.name === "disk" ? formatBytes(resource.scalar.value * MIB) : String(Math.trunc(resource.scalar.value));
  }
  if (resource.ranges) return resource.ranges.range.map((r) => `${r.begin}-${r.end}`).join(", ");
  if (resource.set) return resource.set.item.join(", ");
  return "";
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function taskFailure(status: TaskStatus): SwarmError {
  if (status.message === undefined) return mesosErrors.TaskEnded({ task: status.task_id.value, state: status.state });
  if (status.message.includes("Abnormal executor termination")) return mesosErrors.ExecutorTerminated({ message: status.message });
  return mesosErrors.TaskFailed({ message: status.message });
}

function containerIdFromData(data: string | undefined): string | undefined {
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(data, "base64").toString("utf8")) as unknown;
    const first = Array.isArray(parsed) ? (parsed[0] as { Id?: unknown } | undefined) : undefined;
    return typeof first?.Id === "string" ? first.Id : undefined;
  } catch {
    return undefined;
  }
}
