import type { ContainerConfig } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import { EngineError, answerText, engineMessage } from "../engines/engine.js";
import type { ContainerInspect, ContainerSummary, DockerEvent, ImageSummary, NetworkResource, VolumeResource } from "../engines/docker-types.js";
import { errorMessage } from "../errors/catalog.js";
import { ContainerRecord } from "./container-record.js";
import type { InspectCache } from "./inspect-cache.js";
import type { Node } from "./node.js";

export interface NodeSyncOptions {
  readonly refreshMin: number;
  readonly refreshMax: number;
  /** Failed calls before an engine is unhealthy (`--engine-failure-retry`); beyond it refreshes back off. */
  readonly failureRetry: number;
  /** Where the inspect documents read are kept while they are recent. */
  readonly documents: InspectCache;
  readonly logger: Logger;
  /** Every engine event (and its line of JSON), in the engine's order, once the mirror reflects it. */
  readonly publish: (node: Node, event: DockerEvent, line: string) => void;
  readonly now?: () => number;
}

/** Container actions the manager performs itself, and the engine events each one causes. */
export type ContainerAction = "start" | "stop" | "kill" | "restart" | "pause" | "unpause" | "rename" | "update" | "remove";

const MANY = Number.POSITIVE_INFINITY;
/**
 * What dockerd emits for each action (network connects and disconnects once per network; a stop
 * that times out kills twice). The manager re-reads the container after its own action, so
 * these events tell it nothing new.
 */
const EVENTS_OF: Record<ContainerAction, Readonly<Record<string, number>>> = {
  start: { start: 1, connect: MANY },
  stop: { kill: 2, die: 1, stop: 1, disconnect: MANY },
  kill: { kill: 1, die: 1, disconnect: MANY },
  restart: { kill: 2, die: 1, stop: 1, disconnect: MANY, connect: MANY, start: 1, restart: 1 },
  pause: { pause: 1 },
  unpause: { unpause: 1 },
  rename: { rename: 1 },
  update: { update: 1 },
  // A forced removal of a running container kills it first.
  remove: { kill: 1, die: 1, disconnect: MANY, destroy: 1 },
};

/** Container events that change nothing the manager holds. */
const IGNORED_ACTIONS = new Set([
  "top", "resize", "export", "exec_start", "exec_detach", "attach", "detach", "extract-to-dir", "copy", "archive-path",
]);
const EXEC_ACTIONS = new Set(["exec_create", "exec_die"]);

/** Events that arrive this long after the manager's own action and its re-read are taken as news. */
const EXPECTATION_GRACE_MS = 2_000;
/** How long an event's re-read waits for the rest of its burst. */
const EVENT_READ_DELAY_MS = 10;
/** An expected event is published once its action's re-read is done, or after this long with a read of its own. */
const EXPECTED_WAIT_MS = 1_000;
/** A `create` event waits this long at most for the manager's own create to claim it. */
const PARKED_CREATE_MS = 2_000;
/** A container the manager created and nobody started yet is read from its engine after this long. */
const PROVISIONAL_READ_MS = 500;
/** Removed containers whose late events are ignored, and for how long. */
const TOMBSTONE_MS = 60_000;
/** While the event stream holds, one periodic refresh in this many also lists images, networks and volumes. */
const FULL_REFRESH_EVERY = 5;
/** Container reads a full listing may have in flight on one engine. */
const READS_AT_ONCE = 4;
/** `/info` and `/version` are re-read at least this often. */
const SPECS_MAX_AGE_MS = 5 * 60_000;

/** The events a manager action will cause, until it settles. */
export interface Expectation {
  /** The action failed: whatever it causes is news. */
  cancel(): void;
  /** The action's effect is in the mirror: its events, already here or still coming, are not news. */
  settle(): void;
}

interface PendingExpectation {
  readonly remaining: Record<string, number>;
  expires: number;
  /** True once settled, false if cancelled. */
  readonly done: Promise<boolean>;
  resolve(settled: boolean): void;
  /** What the events it absorbs wait for before they are published (see `expected`). */
  absorbed?: Promise<unknown>;
}

interface QueuedEvent {
  readonly event: DockerEvent;
  readonly line: string;
  done: boolean;
}

/**
 * Keeps one node's mirror true to its engine, with as few calls as that takes: a full load when
 * the engine joins; its event stream, applied as it comes (a container is re-read once however
 * many events arrive while it is being read, and not at all for what the manager's own requests
 * already told it); and a periodic refresh, spread over `[refreshMin, refreshMax]`, that lists
 * containers and re-reads only those whose state differs.
 *
 * Events are published in the engine's order, each once the mirror reflects it, so a client that
 * sees an event and then asks finds the change.
 */
export class NodeSync {
  private readonly now: () => number;
  private stopped = false;
  private eventsAbort: AbortController | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private provisionalTimer: NodeJS.Timeout | undefined;
  private readonly rereads = new Map<string, { again: boolean; readonly done: Promise<ContainerRecord | undefined> }>();
  private readonly soon = new Map<string, Promise<ContainerRecord | undefined>>();
  private readonly expectations = new Map<string, PendingExpectation>();
  private readonly tombstones = new Map<string, number>();
  /** Containers this manager created and has not read from the engine yet, with their creation time. */
  private readonly provisional = new Map<string, number>();
  /** Creates the manager has in flight here: a `create` event for a container it does not know yet may be one of them. */
  private creating = 0;
  private readonly parkedCreates = new Map<string, () => void>();
  private readonly queue: QueuedEvent[] = [];
  private imagesRefresh: { again: boolean; readonly done: Promise<void> } | undefined;
  /** Counts the event streams opened; a refresh that finds the same stream still open knows no event was lost. */
  private streams = 0;
  private streamsAtRefresh = -1;

  /** Times the engine's event stream was opened again after it ended. */
  get eventStreamReconnects(): number {
    return Math.max(0, this.streams - 1);
  }
  private refreshes = 0;

  constructor(
    private readonly node: Node,
    private readonly options: NodeSyncOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private get engine() {
    return this.node.engine;
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  // ---- Lifecycle ---------------------------------------------------------------------------

  /**
   * Reads everything the engine holds, with its event stream already open so nothing is missed
   * between. One read at a time: engines join by the hundred, and each read in parallel would be
   * a connection more per engine.
   */
  async load(): Promise<void> {
    this.startEvents();
    await this.refreshContainers(true);
    await this.refreshImages();
    await this.refreshNetworks();
    await this.refreshVolumes();
  }

  /** Starts the periodic refresh (the engine is now part of the cluster, fully read). */
  start(): void {
    this.streamsAtRefresh = this.streams;
    this.scheduleRefresh();
  }

  /** Stops for good: no more events, refreshes or reads. */
  stop(): void {
    this.stopped = true;
    this.halt();
  }

  /** Closes the event stream and the timers of a load that failed; a later `load` starts again. */
  halt(): void {
    this.eventsAbort?.abort();
    this.eventsAbort = undefined;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.provisionalTimer) clearTimeout(this.provisionalTimer);
    this.refreshTimer = undefined;
    this.provisionalTimer = undefined;
  }

  /** The engine answered again after an outage: what changed meanwhile is read now, not at the next refresh. */
  wake(): void {
    if (this.stopped) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    void this.refreshOnce();
  }

  // ---- Containers --------------------------------------------------------------------------

  /**
   * Re-reads one container from the engine (dropping it if the engine no longer has it). While a
   * read is in flight, further calls share one more read after it: the answer reflects everything
   * that happened up to the call.
   */
  reread(id: string): Promise<ContainerRecord | undefined> {
    const inFlight = this.rereads.get(id);
    if (inFlight) {
      inFlight.again = true;
      return inFlight.done;
    }
    const entry: { again: boolean; done: Promise<ContainerRecord | undefined> } = { again: false, done: Promise.resolve(undefined) };
    entry.done = (async () => {
      try {
        let record: ContainerRecord | undefined;
        do {
          entry.again = false;
          record = await this.inspect(id);
        } while (entry.again && !this.stopped);
        return record;
      } finally {
        this.rereads.delete(id);
      }
    })();
    this.rereads.set(id, entry);
    return entry.done;
  }

  /**
   * A re-read for an engine event, a moment later: a change comes as a burst of events (a kill
   * from outside: kill, die, disconnect, stop, within milliseconds), and one read covers them all.
   */
  private rereadSoon(id: string): Promise<ContainerRecord | undefined> {
    let scheduled = this.soon.get(id);
    if (!scheduled) {
      scheduled = new Promise<void>((resolve) => setTimeout(resolve, EVENT_READ_DELAY_MS)).then(() => {
        this.soon.delete(id);
        return this.reread(id);
      });
      this.soon.set(id, scheduled);
    }
    return scheduled;
  }

  private async inspect(id: string): Promise<ContainerRecord | undefined> {
    const response = await this.engine.call("GET", `/containers/${encodeURIComponent(id)}/json`);
    const answer = await answerText(response);
    if (response.statusCode === 404) {
      this.forget(id);
      return undefined;
    }
    if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(answer));
    return this.ingest(JSON.parse(answer) as ContainerInspect, answer);
  }

  /** Takes an inspect document (one the API fetched live, too) into the mirror; `answer` is its text. */
  ingest(inspect: ContainerInspect, answer?: string): ContainerRecord | undefined {
    if (this.tombstones.has(inspect.Id) || this.stopped) return undefined;
    const { record, document } = ContainerRecord.read(inspect, this.node, answer, this.node.containers.get(inspect.Id));
    this.provisional.delete(record.id);
    this.node.putContainer(record, this.now());
    this.options.documents.put(record, document);
    for (const execId of inspect.ExecIDs ?? []) this.node.addExec(record.id, execId);
    return record;
  }

  /** A container that is gone: out of the mirror, and its late events ignored. */
  forget(id: string): void {
    this.pruneTombstones();
    this.tombstones.set(id, this.now() + TOMBSTONE_MS);
    this.provisional.delete(id);
    this.options.documents.delete(id);
    this.node.dropContainer(id);
  }

  /** Puts back a record taken out of the mirror (a container that could not be rescheduled). */
  restore(record: ContainerRecord): void {
    this.tombstones.delete(record.id);
    this.node.putContainer(record, this.now());
  }

  /** The manager is about to create a container here; `settleCreate` must follow. */
  beginCreate(): void {
    this.creating++;
  }

  /**
   * The manager's create on this engine answered (`id`, or undefined when it failed). A created
   * container is recorded from the request at once and read from the engine by its start or,
   * if none comes, shortly after.
   */
  settleCreate(created: { id: string; name: string; config: ContainerConfig } | undefined): ContainerRecord | undefined {
    this.creating--;
    let record: ContainerRecord | undefined;
    if (created && !this.tombstones.has(created.id) && !this.node.containers.has(created.id)) {
      record = ContainerRecord.provisional(created.id, created.name, created.config, this.node, this.now());
      this.node.putContainer(record, this.now());
      this.provisional.set(created.id, this.now());
      this.scheduleProvisionalRead();
    }
    if (created) this.parkedCreates.get(created.id)?.();
    if (this.creating === 0) for (const release of [...this.parkedCreates.values()]) release();
    return record;
  }

  private scheduleProvisionalRead(): void {
    if (this.provisionalTimer || this.stopped) return;
    this.provisionalTimer = setTimeout(() => {
      this.provisionalTimer = undefined;
      const due = this.now() - PROVISIONAL_READ_MS;
      for (const [id, since] of this.provisional) {
        if (since <= due && !this.rereads.has(id)) void this.reread(id).catch(() => undefined);
      }
      if (this.provisional.size > 0) this.scheduleProvisionalRead();
    }, PROVISIONAL_READ_MS);
    this.provisionalTimer.unref();
  }

  /** Reads now the containers this manager created and the engine has not described yet. */
  async completeProvisional(): Promise<void> {
    await Promise.all([...this.provisional.keys()].map((id) => this.reread(id).catch(() => undefined)));
  }

  /**
   * Announces an action the manager is about to take on a container: the events it causes are
   * expected until the caller settles it (after re-reading the container) or cancels it.
   */
  expect(containerId: string, action: ContainerAction): Expectation {
    this.pruneExpectations();
    this.expectations.get(containerId)?.resolve(false);
    this.expectations.delete(containerId);
    let resolve!: (settled: boolean) => void;
    const done = new Promise<boolean>((r) => (resolve = r));
    const pending: PendingExpectation = {
      remaining: { ...EVENTS_OF[action] },
      expires: Number.POSITIVE_INFINITY,
      done,
      resolve,
    };
    this.expectations.set(containerId, pending);
    return {
      cancel: () => {
        if (this.expectations.get(containerId) === pending) this.expectations.delete(containerId);
        resolve(false);
      },
      settle: () => {
        pending.expires = this.now() + EXPECTATION_GRACE_MS;
        resolve(true);
      },
    };
  }

  /**
   * If this event is one the manager's own action causes, what it waits for before it is
   * published: that action's re-read, so a client that sees the event finds its effect. An action
   * that takes long (a stop waiting for its container to exit) does not hold its events back: after
   * `EXPECTED_WAIT_MS` the container is read for them.
   */
  private expected(containerId: string, action: string): Promise<unknown> | undefined {
    const pending = this.expectations.get(containerId);
    if (!pending) return undefined;
    if (pending.expires < this.now()) {
      this.expectations.delete(containerId);
      return undefined;
    }
    const left = Object.hasOwn(pending.remaining, action) ? pending.remaining[action]! : 0;
    if (left <= 0) return undefined;
    pending.remaining[action] = left - 1;
    if (pending.expires !== Number.POSITIVE_INFINITY) return pending.done;
    pending.absorbed ??= new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), EXPECTED_WAIT_MS);
      timer.unref();
      void pending.done.then((settled) => {
        clearTimeout(timer);
        resolve(settled);
      });
    }).then((settled) => (settled ? undefined : this.reread(containerId)));
    return pending.absorbed;
  }

  /**
   * Lists the engine's containers and brings the mirror in line: new and changed ones are read,
   * vanished ones dropped. `full` reads every container.
   */
  async refreshContainers(full: boolean): Promise<void> {
    const listedAt = this.now();
    const list = await this.engine.json<ContainerSummary[]>("GET", "/containers/json", { query: { all: 1 } });
    const listed = new Set<string>();
    const changed: string[] = [];
    for (const summary of list) {
      listed.add(summary.Id);
      if (this.tombstones.has(summary.Id)) continue;
      const record = this.node.containers.get(summary.Id);
      if (full || !record || record.provisional || record.state.status !== summary.State || summary.State === "restarting") {
        changed.push(summary.Id);
      }
    }
    // Only what the manager knew before the list was taken can be missing from it.
    for (const id of [...this.node.containers.keys()]) {
      if (!listed.has(id) && (this.node.learnedAt.get(id) ?? 0) < listedAt && !this.rereads.has(id)) this.forget(id);
    }
    // A few reads at a time: an engine with hundreds of containers must not get hundreds of connections.
    let next = 0;
    const reader = async () => {
      while (next < changed.length) await this.reread(changed[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(READS_AT_ONCE, changed.length) }, reader));
    this.pruneTombstones();
  }

  // Both maps are in the order entries were made, so the expired ones are at the front.

  private pruneTombstones(): void {
    const now = this.now();
    for (const [id, until] of this.tombstones) {
      if (until >= now) break;
      this.tombstones.delete(id);
    }
  }

  private pruneExpectations(): void {
    const now = this.now();
    for (const [id, pending] of this.expectations) {
      if (pending.expires === Number.POSITIVE_INFINITY) continue;
      if (pending.expires >= now) break;
      this.expectations.delete(id);
    }
  }

  // ---- Images, networks, volumes -----------------------------------------------------------

  /** Re-lists images; calls while a listing is in flight share one more listing after it. */
  refreshImages(): Promise<void> {
    if (this.imagesRefresh) {
      this.imagesRefresh.again = true;
      return this.imagesRefresh.done;
    }
    const entry: { again: boolean; done: Promise<void> } = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          this.node.setImages(await this.engine.json<ImageSummary[]>("GET", "/images/json", { query: { all: 1 } }));
        } while (entry.again && !this.stopped);
      } finally {
        this.imagesRefresh = undefined;
      }
    })();
    this.imagesRefresh = entry;
    return entry.done;
  }

  async refreshNetworks(): Promise<void> {
    this.node.setNetworks(await this.engine.json<NetworkResource[]>("GET", "/networks"));
  }

  async refreshVolumes(): Promise<void> {
    const answer = await this.engine.json<{ Volumes: VolumeResource[] | null }>("GET", "/volumes");
    this.node.setVolumes(answer.Volumes ?? []);
  }

  private async refreshNetwork(id: string): Promise<void> {
    try {
      const network = await this.engine.json<NetworkResource>("GET", `/networks/${encodeURIComponent(id)}`);
      this.node.networks.set(network.Id, network);
    } catch (err) {
      if (!(err instanceof EngineError && err.engineStatus === 404)) throw err;
      this.node.networks.delete(id);
    }
    this.node.touch();
  }

  private async refreshVolume(name: string): Promise<void> {
    try {
      const volume = await this.engine.json<VolumeResource>("GET", `/volumes/${encodeURIComponent(name)}`);
      this.node.volumes.set(volume.Name, volume);
    } catch (err) {
      if (!(err instanceof EngineError && err.engineStatus === 404)) throw err;
      this.node.volumes.delete(name);
    }
    this.node.touch();
  }

  // ---- Periodic refresh --------------------------------------------------------------------

  /**
   * Each refresh, the first one included, comes at a random point between the min and max
   * intervals after the last, as in classic Swarm: engines that joined together refresh apart.
   * An engine failing calls waits one more min interval per failure beyond the retry count.
   */
  private scheduleRefresh(): void {
    if (this.stopped) return;
    const { refreshMin, refreshMax, failureRetry } = this.options;
    const backoff = Math.min(Math.max(this.engine.failureCount - failureRetry, 0), 1000);
    const delay = refreshMin * (1 + backoff) + Math.random() * (refreshMax - refreshMin);
    this.refreshTimer = setTimeout(() => void this.refreshOnce(), delay);
    this.refreshTimer.unref();
  }

  private async refreshOnce(): Promise<void> {
    try {
      const engine = this.engine;
      if (!engine.isHealthy() || this.now() - engine.specsUpdatedAt > SPECS_MAX_AGE_MS) {
        try {
          await engine.updateSpecs();
          this.node.touch();
        } catch (err) {
          this.logger.debug(`Update engine specs failed: ${errorMessage(err)}`, { name: engine.name, addr: engine.addr });
          return;
        }
      }
      // While one event stream has stayed open since the last refresh, images, networks and
      // volumes are known from it: they are listed only every few refreshes, containers every time.
      const streamHeld = this.eventsAbort !== undefined && this.streams === this.streamsAtRefresh;
      this.streamsAtRefresh = this.streams;
      await this.refreshContainers(false);
      if (!streamHeld || ++this.refreshes % FULL_REFRESH_EVERY === 0) {
        await this.refreshImages().catch(() => undefined);
        await this.refreshNetworks().catch(() => undefined);
        await this.refreshVolumes().catch(() => undefined);
      }
      if (!this.eventsAbort) this.startEvents();
    } catch (err) {
      this.logger.debug(`Engine refresh failed: ${errorMessage(err)}`, { name: this.engine.name, addr: this.engine.addr });
    } finally {
      this.scheduleRefresh();
    }
  }

  // ---- Events ------------------------------------------------------------------------------

  private startEvents(): void {
    if (this.stopped) return;
    const abort = new AbortController();
    this.eventsAbort = abort;
    this.streams++;
    void this.followEvents(abort);
  }

  private async followEvents(abort: AbortController): Promise<void> {
    try {
      await this.engine.streamEvents((event, line) => this.onEvent(event, line), abort.signal);
    } catch (err) {
      if (abort.signal.aborted || this.stopped) return;
      this.logger.debug(`error monitoring events, will restart: ${errorMessage(err)}`, { name: this.engine.name, addr: this.engine.addr });
    }
    if (abort.signal.aborted || this.stopped) return;
    // The stream ended: the engine may have stopped. Retry with classic's capped back-off (the
    // retry's connection failures count towards unhealthy), then read what was missed meanwhile.
    this.eventsAbort = undefined;
    const delay = Math.min(this.engine.failureCount + 1, 10) * 1000;
    setTimeout(() => {
      if (this.stopped || this.eventsAbort !== undefined) return;
      this.startEvents();
      void this.refreshContainers(false).catch(() => undefined);
    }, delay).unref();
  }

  private onEvent(event: DockerEvent, line: string): void {
    const queued: QueuedEvent = { event, line, done: false };
    this.queue.push(queued);
    let work: Promise<unknown> | undefined;
    try {
      work = this.apply(event);
    } catch (err) {
      this.logger.debug(`cache update after ${event.Type ?? "?"} ${event.Action ?? ""} failed: ${errorMessage(err)}`, { name: this.engine.name });
    }
    if (!work) {
      queued.done = true;
      this.publishReady();
      return;
    }
    work
      .catch((err: unknown) => {
        this.logger.debug(`cache update after ${event.Type ?? "?"} ${event.Action ?? ""} failed: ${errorMessage(err)}`, { name: this.engine.name });
      })
      .finally(() => {
        queued.done = true;
        this.publishReady();
      });
  }

  private publishReady(): void {
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const { event, line } = this.queue.shift()!;
      this.options.publish(this.node, event, line);
    }
  }

  /** What an event changes in the mirror; a promise when that takes a call to the engine. */
  private apply(event: DockerEvent): Promise<unknown> | undefined {
    const action = event.Action ?? event.status ?? "";
    const id = event.Actor?.ID ?? event.id ?? "";
    // Prune events name no object: re-read the whole collection they touched.
    if (action === "prune") {
      if (event.Type === "network") return this.refreshNetworks();
      if (event.Type === "volume") return this.refreshVolumes();
      if (event.Type === "image") return this.refreshImages();
      if (event.Type === "container") return this.refreshContainers(false);
      return undefined;
    }
    if (id === "" && event.Type !== "daemon") return undefined;
    switch (event.Type) {
      case "container":
        return this.applyContainerEvent(id, action, event.Actor?.Attributes ?? {});
      case "network": {
        if (action === "connect" || action === "disconnect") {
          // A network's own record (as listed) does not change when a container joins it.
          const container = event.Actor?.Attributes?.container;
          return container ? this.containerChanged(container, action) : undefined;
        }
        return this.refreshNetwork(id);
      }
      case "volume":
        // Mounting changes nothing a volume's record holds.
        return action === "mount" || action === "unmount" ? undefined : this.refreshVolume(id);
      case "image":
        return this.refreshImages();
      case "daemon":
        return action === "reload" ? this.engine.updateSpecs().then(() => this.node.touch()) : undefined;
      default:
        return undefined;
    }
  }

  private applyContainerEvent(id: string, action: string, attributes: Readonly<Record<string, string>>): Promise<unknown> | undefined {
    const colon = action.indexOf(":");
    const base = colon < 0 ? action : action.slice(0, colon);
    if (IGNORED_ACTIONS.has(base) || this.tombstones.has(id)) return undefined;
    switch (base) {
      case "destroy":
        this.forget(id);
        return undefined;
      case "commit":
        return this.refreshImages();
      case "health_status": {
        const record = this.node.containers.get(id);
        const health = action.slice(colon + 1).trim();
        if (!record || record.provisional || health === "") return this.reread(id);
        this.node.putContainer(record.withHealth(health), this.now());
        return undefined;
      }
      case "create":
        return this.applyCreate(id, attributes);
      default:
        if (EXEC_ACTIONS.has(base) && attributes.execID) {
          this.node.addExec(id, attributes.execID);
          return undefined;
        }
        return this.containerChanged(id, base);
    }
  }

  /** A container changed: re-read it, unless the manager's own action already accounts for it. */
  private containerChanged(id: string, action: string): Promise<unknown> | undefined {
    if (this.tombstones.has(id)) return undefined;
    return this.expected(id, action) ?? this.rereadSoon(id);
  }

  private applyCreate(id: string, attributes: Readonly<Record<string, string>>): Promise<unknown> | undefined {
    if (this.adoptCreate(id, attributes)) return undefined;
    if (this.creating === 0) return this.rereadSoon(id);
    // Perhaps one of the manager's creates, whose answer is still on its way.
    return new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.parkedCreates.delete(id);
        resolve(this.adoptCreate(id, attributes) ? undefined : this.reread(id).then(() => undefined));
      };
      const timer = setTimeout(release, PARKED_CREATE_MS);
      timer.unref();
      this.parkedCreates.set(id, release);
    });
  }

  /** A `create` event of a container the manager knows: it only tells the name the engine generated. */
  private adoptCreate(id: string, attributes: Readonly<Record<string, string>>): boolean {
    const record = this.node.containers.get(id);
    if (!record) return false;
    if (record.provisional && record.name === "" && attributes.name) this.node.putContainer(record.withName(attributes.name), this.now());
    return true;
  }
}
