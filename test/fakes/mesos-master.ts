/**
 * mesos-master fake: a FAKE Mesos master, with FAKE agents, serving the v1 Scheduler HTTP API in JSON.
 * Written from Apache Mesos's documentation ("Scheduler HTTP API", "RecordIO format") and the JSON
 * field names of include/mesos/v1/scheduler/scheduler.proto and include/mesos/v1/mesos.proto. No
 * Mesos can be installed on this machine, so tests of the Mesos driver run against this. It is not
 * Mesos: there is no allocator, registrar, agent process or executor. An "agent" is a record here
 * plus a REAL dockerd that the test kit started, and every task is a REAL container on that engine,
 * so everything after a launch (the container, its labels, its exit) is real.
 *
 * What it implements (one HTTP server on 127.0.0.1, same port across stop()/start()):
 *   - POST /api/v1/scheduler, Content-Type application/json, Accept application/json (or absent/any).
 *     Other paths 404, other methods 405, other content types 415, a protobuf-only Accept 406.
 *   - SUBSCRIBE: 200 with a chunked RecordIO stream (`<byte length>\n<json>` per event) and a
 *     `Mesos-Stream-Id` header; the first event is SUBSCRIBED {framework_id, heartbeat_interval_seconds,
 *     master_info}, then a HEARTBEAT right away and every heartbeat interval. A framework ID (in
 *     framework_info.id or the call's framework_id) that the master knows keeps its tasks (failover); one
 *     it has never seen is adopted as is (as after a master failover); a torn-down one gets an ERROR
 *     event "Framework has been removed" and the stream ends. A new subscription of a subscribed
 *     framework sends ERROR "Framework failed over" on the old stream and ends it.
 *   - Other calls need `framework_id` and the subscription's `Mesos-Stream-Id`: 202 Accepted with an
 *     empty body once taken. As the Mesos docs say: a framework the master does not know or that is not
 *     subscribed → 403 Forbidden; a missing or different stream ID, malformed JSON or a call missing its
 *     required fields → 400 Bad Request; both with a plain-text reason.
 *   - ACCEPT with LAUNCH operations: an offer that is unknown, rescinded, used, another framework's, or
 *     offers on several agents → every task gets TASK_LOST (SOURCE_MASTER, REASON_INVALID_OFFERS). A task
 *     asking for more than the offers hold, a duplicate task ID, a wrong agent or a container this fake
 *     cannot run → TASK_ERROR (REASON_TASK_INVALID). Resources the tasks leave unused are declined with
 *     the call's filters (refuse_seconds, default 5 s as in mesos.proto).
 *   - The agent side of a launch: pull the image when the engine lacks it (or force_pull_image), create
 *     `mesos-<agent id>.<task id>` (sanitised to docker's name charset; a suffix if that name is taken)
 *     with Image, Cmd, Hostname, Labels (parameters `label=k=v`), Env (parameters `env=K=V` and the
 *     command's environment), NetworkMode, Memory (mem MiB), CpuShares (cpus × 1024) and port bindings,
 *     then TASK_STARTING, start, TASK_RUNNING whose `data` is base64 of the `docker inspect` JSON array
 *     (as the Docker containerizer sends since Mesos 0.23). Launch errors → TASK_FAILED "Failed to launch
 *     container: <dockerd's message>" (SOURCE_AGENT, REASON_CONTAINER_LAUNCH_FAILED before TASK_STARTING;
 *     SOURCE_EXECUTOR, REASON_EXECUTOR_TERMINATED after it). A container that exits on its own
 *     → TASK_FINISHED (status 0) or TASK_FAILED "Container exited with status N".
 *   - Status updates as agents send them: each has its own uuid (base64 of 16 bytes) and is resent every
 *     `statusUpdateRetryMs` until ACKNOWLEDGEd; as the agent's status update manager does, a task's next
 *     update is only forwarded once the one before it is acknowledged. A task stays among the master's
 *     active tasks (and its terminal state is reconciled) until its terminal update is acknowledged; its
 *     resources are freed as soon as it is terminal. Master-generated updates carry no uuid and are sent
 *     once.
 *   - DECLINE (filters.refuse_seconds, default 5, capped at 365 days), REVIVE (clears filters and
 *     suppression), SUPPRESS, KILL (stop with t=1 → TASK_KILLED; TASK_KILLING first for frameworks with
 *     the TASK_KILLING_STATE capability; an unknown task → TASK_LOST, REASON_RECONCILIATION), ACKNOWLEDGE,
 *     RECONCILE (explicit and implicit; SOURCE_MASTER, REASON_RECONCILIATION, no uuid; unknown tasks →
 *     TASK_LOST), TEARDOWN (stops the framework's containers, forgets it, ends its stream).
 *   - Offers: one per agent holding all its unused, unoffered resources (cpus, mem, disk, ports; role
 *     "*") plus attributes (docker_port = the engine's port, then the spec's: numbers SCALAR, strings
 *     TEXT), at most one per agent every `offerIntervalMs`. A filter set by DECLINE or ACCEPT only holds
 *     back resources it covers, so resources freed later are offered at once, as in Mesos's allocator.
 *     Offers outstanding for `offerTimeoutMs` are rescinded. A framework whose stream breaks loses its
 *     offers and, after its failover_timeout (default 0, as in mesos.proto), is torn down.
 *   - stop()/start(): the master goes away (every connection cut) and comes back on the same port with
 *     its frameworks and tasks but without offers, filters or subscriptions, as a new leader recovering
 *     from the replicated log; agents keep running their containers meanwhile and resend their unacked
 *     updates once the framework re-subscribes. No failover timeout runs for frameworks that have not
 *     re-subscribed to a restarted master (neither does Mesos's).
 *   - `redirectTo`: a non-leading master; every call gets 307 with Location `//<leader>/api/v1/scheduler`.
 *   - registerMasterInZookeeper(): MasterInfo JSON in an EPHEMERAL_SEQUENTIAL `json.info_` znode, as
 *     Mesos masters announce themselves (the lowest sequence leads).
 *
 * Limits (not implemented): protobuf encoding; authentication and authorization; roles, reservations,
 * quotas, weights and allocation_info (every offer is for role "*"); LAUNCH_GROUP (its tasks get
 * TASK_ERROR) and every other offer operation (ignored); custom executors and containers other than
 * DOCKER (TASK_ERROR); docker parameters other than label, env, user, workdir, volume, add-host,
 * hostname and entrypoint (TASK_FAILED); MESSAGE, REQUEST and SHUTDOWN are taken and ignored;
 * UPDATE_FRAMEWORK, operation feedback and inverse offers answer 501; SUBSCRIBE's `force`,
 * suppressed_roles and offer_constraints; health checks, kill policies and grace periods (KILL always
 * stops with t=1); partition awareness (TASK_UNREACHABLE/TASK_GONE are never sent); sandboxes and
 * MESOS_SANDBOX; checkpointing (the `checkpoint` flag is ignored; agents never restart). Offers go to
 * the connected framework offered to least recently, not by DRF. Status updates are retried at a fixed
 * interval, not with the agent's backoff. An agent removed with loseAgent() leaves its containers
 * running on its engine (the fake can no longer reach them) and never re-registers. While heartbeats are
 * paused every stream is silent: HEARTBEATs are skipped and other events are held back, then delivered
 * in order when resumed. Redirecting applies to new calls only; open streams are left alone.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import zookeeper from "node-zookeeper-client";
import { Agent as UndiciAgent, request } from "undici";

export interface FakeAgentSpec {
  /** Default `<master id>-S<index>`, as Mesos names agents. */
  readonly id?: string;
  readonly hostname: string;
  /** The agent's dockerd, reached over plain TCP. */
  readonly engine: { readonly host: string; readonly port: number };
  readonly cpus: number;
  readonly memMiB: number;
  /** Default 10240. */
  readonly diskMiB?: number;
  /** Inclusive port range; default [31000, 32000], Mesos's default agent ports. */
  readonly ports?: readonly [number, number];
  readonly attributes?: Readonly<Record<string, string | number>>;
}

export interface FakeMesosCall {
  /** The call's `type`, "" when it had none. */
  readonly type: string;
  readonly body: unknown;
}

export interface FakeMesosTask {
  readonly id: string;
  readonly agentId: string;
  /** The latest state the agent reported (or the master decided), e.g. TASK_RUNNING. */
  readonly state: string;
  readonly containerId?: string;
  readonly frameworkId: string;
}

export interface FakeMesosFramework {
  readonly id: string;
  readonly connected: boolean;
  readonly failoverTimeout?: number;
  readonly name: string;
  readonly user: string;
}

export interface FakeMesosOffer {
  readonly id: string;
  readonly agentId: string;
}

export interface FakeMesosMaster {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly address: string;
  /** Every call this master took as leader (JSON bodies only; redirected calls are not), in order. */
  readonly calls: ReadonlyArray<FakeMesosCall>;
  /** Active tasks, then completed ones (and tasks refused at ACCEPT), for assertions. */
  tasks(): ReadonlyArray<FakeMesosTask>;
  frameworks(): ReadonlyArray<FakeMesosFramework>;
  outstandingOffers(): ReadonlyArray<FakeMesosOffer>;
  /** RESCIND an outstanding offer now (as --offer_timeout or a lost agent would). */
  rescind(offerId: string): void;
  /** Master goes away: every stream cut, port closed; frameworks and tasks kept (as a master with a replicated log), agents re-register on start. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Every stream stays open but goes silent (a hung master); held events flow again on false. */
  pauseHeartbeats(paused: boolean): void;
  /**
   * The agent is removed: its outstanding offers are RESCINDed, each of its active tasks gets TASK_LOST
   * (SOURCE_MASTER, REASON_AGENT_REMOVED, "Agent <id> removed"), then FAILURE {agent_id}. Its containers
   * are left running on its engine: the fake can no longer reach them, as a master cannot.
   */
  loseAgent(agentId: string): void;
  /** The next launch answers TASK_FAILED with this message without touching docker. */
  failNextLaunch(message: string): void;
  /** An ERROR event on every subscribed stream. */
  sendError(message: string): void;
  /** Stops for good: timers and sockets cleared. Containers are left on the engines. Safe to call twice. */
  close(): Promise<void>;
}

export interface FakeMesosMasterOptions {
  readonly agents: readonly FakeAgentSpec[];
  /** Default 15, Mesos's default. */
  readonly heartbeatIntervalSeconds?: number;
  /** The least time between two offers of one agent's resources. Default 500. */
  readonly offerIntervalMs?: number;
  /** Outstanding offers are rescinded after this long. Default: never (Mesos's --offer_timeout default). */
  readonly offerTimeoutMs?: number;
  /** When it returns an address, this master is not the leader and redirects every call there. */
  readonly redirectTo?: () => string | undefined;
  /** Default 0: a free port. */
  readonly port?: number;
  /** How often an agent resends an unacknowledged status update. Default 3000. */
  readonly statusUpdateRetryMs?: number;
}

const MESOS_VERSION = "1.11.0";
const SCHEDULER_PATH = "/api/v1/scheduler";
const DOCKER_API = "/v1.41";
const MIB = 1024 * 1024;
const DEFAULT_REFUSE_SECONDS = 5;
const MAX_REFUSE_SECONDS = 31_536_000;
/** setTimeout fires at once for longer delays: such failover timeouts never expire in a test. */
const MAX_TIMER_MS = 2_147_483_647;
const TERMINAL = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);
const isTerminal = (state: string): boolean => TERMINAL.has(state);

/** The fake's MasterInfo per master object, for registerMasterInZookeeper. */
const masterInfos = new WeakMap<FakeMesosMaster, () => JsonObject>();

export async function startFakeMesosMaster(options: FakeMesosMasterOptions): Promise<FakeMesosMaster> {
  const master = new MesosMasterFake(options);
  await master.listen();
  const api: FakeMesosMaster = {
    get url() {
      return `http://${master.address}`;
    },
    get address() {
      return master.address;
    },
    calls: master.callLog,
    tasks: () => master.taskList(),
    frameworks: () => master.frameworkList(),
    outstandingOffers: () => [...master.offers.values()].map((o) => ({ id: o.id, agentId: o.agentId })),
    rescind: (offerId) => master.rescindOffer(offerId),
    stop: () => master.stop(),
    start: () => master.start(),
    pauseHeartbeats: (paused) => master.pause(paused),
    loseAgent: (agentId) => master.loseAgent(agentId),
    failNextLaunch: (message) => {
      master.failNext = message;
    },
    sendError: (message) => master.sendError(message),
    close: () => master.close(),
  };
  masterInfos.set(api, () => master.masterInfo());
  return api;
}

// ---- JSON helpers -------------------------------------------------------------------------------

type JsonObject = { [key: string]: unknown };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const field = (v: unknown, key: string): unknown => (isObject(v) ? v[key] : undefined);
const asString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Mesos's JSON writes 64-bit numbers as numbers, but proto3 JSON as strings: take both. */
const asNumber = (v: unknown): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
/** The `value` of an ID message ({"value": "…"}). */
const idOf = (v: unknown): string | undefined => {
  const value = asString(field(v, "value"));
  return value === undefined || value === "" ? undefined : value;
};
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---- Resources ----------------------------------------------------------------------------------

interface Range {
  readonly begin: number;
  readonly end: number;
}

interface Res {
  readonly cpus: number;
  readonly mem: number;
  readonly disk: number;
  readonly ports: readonly Range[];
}

const NO_RES: Res = { cpus: 0, mem: 0, disk: 0, ports: [] };
/** Mesos keeps scalars in fixed point with three decimals; so do we, or 0.1 + 0.2 would not fit in 0.3. */
const fixed = (n: number): number => Math.round(n * 1000) / 1000;

function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].filter((r) => r.end >= r.begin).sort((a, b) => a.begin - b.begin);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.begin <= last.end + 1) out[out.length - 1] = { begin: last.begin, end: Math.max(last.end, r.end) };
    else out.push(r);
  }
  return out;
}

function subtractRanges(from: readonly Range[], take: readonly Range[]): Range[] {
  let left = mergeRanges(from);
  for (const t of take) {
    left = left.flatMap((r) => {
      if (t.end < r.begin || t.begin > r.end) return [r];
      const parts: Range[] = [];
      if (t.begin > r.begin) parts.push({ begin: r.begin, end: t.begin - 1 });
      if (t.end < r.end) parts.push({ begin: t.end + 1, end: r.end });
      return parts;
    });
  }
  return left;
}

const addRes = (a: Res, b: Res): Res => ({
  cpus: fixed(a.cpus + b.cpus),
  mem: fixed(a.mem + b.mem),
  disk: fixed(a.disk + b.disk),
  ports: mergeRanges([...a.ports, ...b.ports]),
});

const subRes = (a: Res, b: Res): Res => ({
  cpus: Math.max(0, fixed(a.cpus - b.cpus)),
  mem: Math.max(0, fixed(a.mem - b.mem)),
  disk: Math.max(0, fixed(a.disk - b.disk)),
  ports: subtractRanges(a.ports, b.ports),
});

/** Whether `inner` fits in `outer`. */
function containsRes(outer: Res, inner: Res): boolean {
  if (inner.cpus > outer.cpus || inner.mem > outer.mem || inner.disk > outer.disk) return false;
  const merged = mergeRanges(outer.ports);
  return inner.ports.every((r) => merged.some((o) => o.begin <= r.begin && r.end <= o.end));
}

const isEmptyRes = (r: Res): boolean => r.cpus <= 0 && r.mem <= 0 && r.disk <= 0 && r.ports.length === 0;

function resourcesJson(r: Res): JsonObject[] {
  const out: JsonObject[] = [];
  const scalar = (name: string, value: number) => out.push({ name, type: "SCALAR", scalar: { value }, role: "*" });
  if (r.cpus > 0) scalar("cpus", r.cpus);
  if (r.mem > 0) scalar("mem", r.mem);
  if (r.disk > 0) scalar("disk", r.disk);
  if (r.ports.length > 0) out.push({ name: "ports", type: "RANGES", ranges: { range: r.ports.map((p) => ({ begin: p.begin, end: p.end })) }, role: "*" });
  return out;
}

const describeRes = (r: Res): string =>
  isEmptyRes(r)
    ? "{}"
    : [
        r.cpus > 0 ? `cpus:${r.cpus}` : "",
        r.mem > 0 ? `mem:${r.mem}` : "",
        r.disk > 0 ? `disk:${r.disk}` : "",
        r.ports.length > 0 ? `ports:[${r.ports.map((p) => `${p.begin}-${p.end}`).join(", ")}]` : "",
      ]
        .filter((s) => s !== "")
        .join("; ");

/** A TaskInfo's resources; names this fake's agents do not have are returned apart (no offer holds them). */
function parseResources(list: unknown): { res: Res; foreign: string[] } {
  let res = NO_RES;
  const foreign: string[] = [];
  for (const entry of asList(list)) {
    const name = asString(field(entry, "name"));
    const value = asNumber(field(field(entry, "scalar"), "value")) ?? 0;
    if (name === "cpus") res = addRes(res, { ...NO_RES, cpus: value });
    else if (name === "mem") res = addRes(res, { ...NO_RES, mem: value });
    else if (name === "disk") res = addRes(res, { ...NO_RES, disk: value });
    else if (name === "ports") {
      const ranges = asList(field(field(entry, "ranges"), "range")).flatMap((r) => {
        const begin = asNumber(field(r, "begin"));
        const end = asNumber(field(r, "end"));
        return begin === undefined || end === undefined ? [] : [{ begin, end }];
      });
      res = addRes(res, { ...NO_RES, ports: ranges });
    } else foreign.push(name ?? "(unnamed)");
  }
  return { res, foreign };
}

/** refuse_seconds of a Filters message, with mesos.proto's default and the master's cap. */
function refuseSeconds(filters: unknown): number {
  const value = asNumber(field(filters, "refuse_seconds"));
  if (value === undefined || value < 0) return DEFAULT_REFUSE_SECONDS;
  return Math.min(value, MAX_REFUSE_SECONDS);
}

// ---- State --------------------------------------------------------------------------------------

interface Stream {
  readonly id: string;
  readonly res: http.ServerResponse;
  heartbeat: NodeJS.Timeout | undefined;
  /** Records written while heartbeats are paused. */
  held: string[];
}

interface Filter {
  readonly agentId: string;
  readonly res: Res;
  readonly until: number;
}

interface Framework {
  readonly id: string;
  name: string;
  user: string;
  failoverTimeout: number | undefined;
  capabilities: Set<string>;
  stream: Stream | undefined;
  suppressed: boolean;
  filters: Filter[];
  failoverTimer: NodeJS.Timeout | undefined;
  lastOfferedAt: number;
}

interface Offer {
  readonly id: string;
  readonly frameworkId: string;
  readonly agentId: string;
  readonly res: Res;
  timer: NodeJS.Timeout | undefined;
}

interface AgentState {
  readonly id: string;
  readonly spec: FakeAgentSpec;
  readonly engineUrl: string;
  readonly total: Res;
  lost: boolean;
  lastOfferedAt: number;
  /** Cancels the agent's docker calls (waits included) when it is lost or the fake closes. */
  readonly abort: AbortController;
}

interface Task {
  readonly id: string;
  readonly frameworkId: string;
  readonly agentId: string;
  readonly info: JsonObject;
  readonly res: Res;
  state: string;
  containerId: string | undefined;
  /** The agent's unacknowledged updates, oldest (the one being forwarded) first. */
  pending: JsonObject[];
  retry: NodeJS.Timeout | undefined;
  killRequested: boolean;
  /** The container started and is being watched: a kill now stops it. */
  running: boolean;
  /** Among the master's active tasks (until its terminal update is acknowledged). */
  active: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What the agent could not do; its message goes into TASK_FAILED. */
class LaunchError extends Error {}

const taskKey = (frameworkId: string, taskId: string): string => `${frameworkId}\u0000${taskId}`;

class MesosMasterFake {
  readonly callLog: FakeMesosCall[] = [];
  readonly offers = new Map<string, Offer>();
  failNext: string | undefined;
  private readonly masterId = randomUUID();
  private readonly agents = new Map<string, AgentState>();
  private readonly frameworks = new Map<string, Framework>();
  private readonly removedFrameworks = new Set<string>();
  private readonly activeTasks = new Map<string, Task>();
  private readonly completedTasks: Task[] = [];
  private readonly dispatcher = new UndiciAgent({ keepAliveTimeout: 2_000 });
  private readonly heartbeatMs: number;
  private readonly offerIntervalMs: number;
  private readonly retryMs: number;
  private server: http.Server | undefined;
  private port: number;
  private running = false;
  private closed = false;
  private paused = false;
  private frameworkSeq = 0;
  private offerSeq = 0;
  private allocationTimer: NodeJS.Timeout | undefined;
  private allocationSoon: NodeJS.Immediate | undefined;

  constructor(private readonly options: FakeMesosMasterOptions) {
    this.port = options.port ?? 0;
    this.heartbeatMs = Math.max(0.05, options.heartbeatIntervalSeconds ?? 15) * 1000;
    this.offerIntervalMs = Math.max(10, options.offerIntervalMs ?? 500);
    this.retryMs = Math.max(50, options.statusUpdateRetryMs ?? 3_000);
    options.agents.forEach((spec, index) => {
      const id = spec.id ?? `${this.masterId}-S${index}`;
      if (this.agents.has(id)) throw new Error(`mesos-master fake: two agents have the ID ${id}`);
      const [low, high] = spec.ports ?? [31000, 32000];
      this.agents.set(id, {
        id,
        spec,
        // Tolerate the test kit's "127.0.0.1:PORT" form of an engine's host.
        engineUrl: `http://${/^[^:]+:\d+$/.test(spec.engine.host) ? spec.engine.host.replace(/:\d+$/, "") : spec.engine.host}:${spec.engine.port}`,
        total: { cpus: fixed(spec.cpus), mem: fixed(spec.memMiB), disk: fixed(spec.diskMiB ?? 10240), ports: mergeRanges([{ begin: low, end: high }]) },
        lost: false,
        lastOfferedAt: 0,
        abort: new AbortController(),
      });
    });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  masterInfo(): JsonObject {
    return {
      id: this.masterId,
      // Mesos stores the IPv4 address as the in_addr's uint32: network byte order read on a little-endian host.
      ip: Buffer.from([127, 0, 0, 1]).readUInt32LE(0),
      port: this.port,
      pid: `master@127.0.0.1:${this.port}`,
      hostname: "127.0.0.1",
      version: MESOS_VERSION,
      address: { hostname: "127.0.0.1", ip: "127.0.0.1", port: this.port },
    };
  }

  // ---- Lifecycle --------------------------------------------------------------------------------

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        const status = err instanceof HttpError ? err.status : 500;
        res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
        res.end(errorText(err));
      });
    });
    // A subscription is one request whose answer lasts for hours: no server-side timeout may end it.
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: this.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.running = true;
    // Agents (re-)register with the new master: every agent's resources can be offered at once.
    for (const agent of this.agents.values()) agent.lastOfferedAt = 0;
    this.allocationTimer = setInterval(() => this.allocate(), this.offerIntervalMs);
    this.allocationTimer.unref();
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error("mesos-master fake was closed; start a new one with startFakeMesosMaster()");
    if (!this.server) await this.listen();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.running = false;
    clearInterval(this.allocationTimer);
    if (this.allocationSoon) clearImmediate(this.allocationSoon);
    this.allocationSoon = undefined;
    // A new leader starts without offers, filters or subscriptions; frameworks and tasks it recovers.
    for (const offer of this.offers.values()) clearTimeout(offer.timer);
    this.offers.clear();
    for (const fw of this.frameworks.values()) {
      fw.filters = [];
      fw.suppressed = false;
      clearTimeout(fw.failoverTimer);
      fw.failoverTimer = undefined;
      if (fw.stream) {
        clearInterval(fw.stream.heartbeat);
        fw.stream = undefined;
      }
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
    for (const task of [...this.activeTasks.values(), ...this.completedTasks]) {
      clearTimeout(task.retry);
      task.retry = undefined;
    }
    for (const agent of this.agents.values()) agent.abort.abort();
    await this.dispatcher.destroy().catch(() => undefined);
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://fake").pathname;
    if (path !== SCHEDULER_PATH) {
      req.resume();
      throw new HttpError(404, `the mesos-master fake serves only ${SCHEDULER_PATH}`);
    }
    if (req.method !== "POST") {
      req.resume();
      res.setHeader("allow", "POST");
      throw new HttpError(405, `Expecting 'POST', received '${req.method ?? ""}'`);
    }
    const leader = this.options.redirectTo?.();
    if (leader !== undefined) {
      req.resume();
      res.writeHead(307, { location: `//${leader}${SCHEDULER_PATH}` });
      res.end();
      return;
    }
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (contentType !== "application/json") {
      req.resume();
      throw new HttpError(415, `Expecting 'Content-Type' of application/json (the fake speaks no protobuf), received '${contentType}'`);
    }
    const accept = req.headers.accept;
    if (accept !== undefined && !/application\/json|\*\/\*|application\/\*/i.test(accept)) {
      req.resume();
      throw new HttpError(406, `Expecting 'Accept' to allow application/json (the fake speaks no protobuf), received '${accept}'`);
    }
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (err) {
      throw new HttpError(400, `Failed to parse body into JSON: ${errorText(err)}`);
    }
    if (!isObject(body)) throw new HttpError(400, "Failed to validate scheduler::Call: expecting a JSON object");
    const type = asString(body.type) ?? "";
    this.callLog.push({ type, body });
    if (type === "") throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'type' to be present");
    if (type === "SUBSCRIBE") {
      this.subscribe(req, res, body);
      return;
    }
    const frameworkId = idOf(body.framework_id);
    if (frameworkId === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present");
    const fw = this.frameworks.get(frameworkId);
    if (!fw) throw new HttpError(403, "Framework cannot be found");
    if (!fw.stream) throw new HttpError(403, "Framework is not subscribed");
    const streamId = req.headers["mesos-stream-id"];
    if (streamId === undefined || streamId === "") throw new HttpError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    if (streamId !== fw.stream.id) {
      throw new HttpError(
        400,
        `The stream ID '${String(streamId)}' included in this request didn't match the stream ID currently associated with framework ID ${frameworkId}`,
      );
    }
    this.dispatch(fw, type, body);
    res.writeHead(202);
    res.end();
  }

  private dispatch(fw: Framework, type: string, body: JsonObject): void {
    switch (type) {
      case "TEARDOWN":
        return this.teardown(fw);
      case "ACCEPT":
        return this.accept(fw, required(body, "accept"));
      case "DECLINE":
        return this.decline(fw, required(body, "decline"));
      case "REVIVE":
        fw.suppressed = false;
        fw.filters = [];
        return this.allocateSoon();
      case "SUPPRESS":
        fw.suppressed = true;
        return;
      case "KILL":
        return this.kill(fw, required(body, "kill"));
      case "ACKNOWLEDGE":
        return this.acknowledge(fw, required(body, "acknowledge"));
      case "RECONCILE":
        return this.reconcile(fw, required(body, "reconcile"));
      case "MESSAGE":
      case "REQUEST":
      case "SHUTDOWN":
        // No executors to message or shut down; Mesos's own allocator ignores REQUEST.
        return;
      case "UPDATE_FRAMEWORK":
      case "ACCEPT_INVERSE_OFFERS":
      case "DECLINE_INVERSE_OFFERS":
      case "ACKNOWLEDGE_OPERATION_STATUS":
      case "RECONCILE_OPERATIONS":
        throw new HttpError(501, `the mesos-master fake does not implement ${type}`);
      default:
        throw new HttpError(400, `Failed to validate scheduler::Call: unknown call type '${type}'`);
    }
  }

  // ---- Subscriptions ----------------------------------------------------------------------------

  private subscribe(req: http.IncomingMessage, res: http.ServerResponse, body: JsonObject): void {
    if (req.headers["mesos-stream-id"] !== undefined) throw new HttpError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
    const info = required(required(body, "subscribe"), "framework_info");
    const user = asString(info.user);
    const name = asString(info.name);
    if (user === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'framework_info.user' to be present");
    if (name === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'framework_info.name' to be present");
    const infoId = idOf(info.id);
    const callId = idOf(body.framework_id);
    if (infoId !== undefined && callId !== undefined && infoId !== callId) {
      throw new HttpError(400, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'");
    }
    const requested = infoId ?? callId;
    const stream: Stream = { id: randomUUID(), res, heartbeat: undefined, held: [] };
    res.writeHead(200, { "content-type": "application/json", "mesos-stream-id": stream.id, "cache-control": "no-cache" });
    res.socket?.setNoDelay(true);
    if (requested !== undefined && this.removedFrameworks.has(requested)) {
      this.write(stream, { type: "ERROR", error: { message: "Framework has been removed" } });
      res.end();
      return;
    }
    let fw = requested === undefined ? undefined : this.frameworks.get(requested);
    if (!fw) {
      fw = {
        id: requested ?? `${this.masterId}-${String(this.frameworkSeq++).padStart(4, "0")}`,
        name,
        user,
        failoverTimeout: undefined,
        capabilities: new Set(),
        stream: undefined,
        suppressed: false,
        filters: [],
        failoverTimer: undefined,
        lastOfferedAt: 0,
      };
      this.frameworks.set(fw.id, fw);
    }
    fw.name = name;
    fw.user = user;
    fw.failoverTimeout = asNumber(info.failover_timeout);
    fw.capabilities = new Set(asList(info.capabilities).flatMap((c) => asString(field(c, "type")) ?? []));
    clearTimeout(fw.failoverTimer);
    fw.failoverTimer = undefined;
    const old = fw.stream;
    if (old) {
      fw.stream = undefined;
      clearInterval(old.heartbeat);
      this.write(old, { type: "ERROR", error: { message: "Framework failed over" } });
      old.res.end();
    }
    // Offers made to the instance that failed over are gone; the new one gets fresh ones.
    this.dropOffersOf(fw);
    fw.stream = stream;
    const subscribed = fw;
    res.on("close", () => this.streamClosed(subscribed, stream));
    this.write(stream, {
      type: "SUBSCRIBED",
      subscribed: { framework_id: { value: fw.id }, heartbeat_interval_seconds: this.heartbeatMs / 1000, master_info: this.masterInfo() },
    });
    const beat = () => {
      if (!this.paused) this.write(stream, { type: "HEARTBEAT" });
    };
    beat();
    stream.heartbeat = setInterval(beat, this.heartbeatMs);
    stream.heartbeat.unref();
    // Agents would resend on their own schedule; resending now spares tests a retry interval.
    for (const task of this.activeTasks.values()) if (task.frameworkId === fw.id && task.pending.length > 0) this.forward(task);
    this.allocate();
  }

  private streamClosed(fw: Framework, stream: Stream): void {
    clearInterval(stream.heartbeat);
    if (fw.stream !== stream) return;
    fw.stream = undefined;
    this.dropOffersOf(fw);
    this.allocateSoon();
    if (!this.running) return;
    const ms = (fw.failoverTimeout ?? 0) * 1000;
    if (ms > MAX_TIMER_MS) return;
    fw.failoverTimer = setTimeout(() => {
      if (this.frameworks.get(fw.id) === fw && !fw.stream) this.teardown(fw);
    }, ms);
    fw.failoverTimer.unref();
  }

  private write(stream: Stream, event: JsonObject): void {
    const json = JSON.stringify(event);
    const record = `${Buffer.byteLength(json)}\n${json}`;
    if (this.paused) stream.held.push(record);
    else if (!stream.res.destroyed && !stream.res.writableEnded) stream.res.write(record);
  }

  private emit(fw: Framework, event: JsonObject): void {
    if (fw.stream && this.running) this.write(fw.stream, event);
  }

  pause(paused: boolean): void {
    this.paused = paused;
    if (paused) return;
    for (const fw of this.frameworks.values()) {
      const stream = fw.stream;
      if (!stream) continue;
      const held = stream.held;
      stream.held = [];
      for (const record of held) if (!stream.res.destroyed && !stream.res.writableEnded) stream.res.write(record);
    }
  }

  sendError(message: string): void {
    for (const fw of this.frameworks.values()) this.emit(fw, { type: "ERROR", error: { message } });
  }

  private teardown(fw: Framework): void {
    clearTimeout(fw.failoverTimer);
    this.dropOffersOf(fw);
    for (const task of [...this.activeTasks.values()]) {
      if (task.frameworkId !== fw.id) continue;
      const wasRunning = task.running;
      task.killRequested = true;
      if (!isTerminal(task.state)) task.state = "TASK_KILLED";
      this.complete(task);
      // A launch still under way stops its own container when it sees killRequested.
      if (wasRunning) void this.stopContainer(task).catch(() => undefined);
    }
    this.frameworks.delete(fw.id);
    this.removedFrameworks.add(fw.id);
    const stream = fw.stream;
    fw.stream = undefined;
    if (stream) {
      clearInterval(stream.heartbeat);
      stream.res.end();
    }
    this.allocateSoon();
  }

  // ---- Offers -----------------------------------------------------------------------------------

  private available(agent: AgentState): Res {
    let used = NO_RES;
    for (const task of this.activeTasks.values()) if (task.agentId === agent.id && !isTerminal(task.state)) used = addRes(used, task.res);
    for (const offer of this.offers.values()) if (offer.agentId === agent.id) used = addRes(used, offer.res);
    return subRes(agent.total, used);
  }

  private allocateSoon(): void {
    if (this.allocationSoon || !this.running) return;
    this.allocationSoon = setImmediate(() => {
      this.allocationSoon = undefined;
      this.allocate();
    });
  }

  private allocate(): void {
    if (!this.running) return;
    const now = Date.now();
    for (const fw of this.frameworks.values()) fw.filters = fw.filters.filter((f) => f.until > now);
    const batches = new Map<Framework, JsonObject[]>();
    for (const agent of this.agents.values()) {
      if (agent.lost || now - agent.lastOfferedAt < this.offerIntervalMs) continue;
      const free = this.available(agent);
      if (isEmptyRes(free)) continue;
      const candidates = [...this.frameworks.values()]
        .filter((fw) => fw.stream && !fw.suppressed && !fw.filters.some((f) => f.agentId === agent.id && containsRes(f.res, free)))
        .sort((a, b) => a.lastOfferedAt - b.lastOfferedAt);
      const fw = candidates[0];
      if (!fw) continue;
      const offer: Offer = { id: `${this.masterId}-O${this.offerSeq++}`, frameworkId: fw.id, agentId: agent.id, res: free, timer: undefined };
      this.offers.set(offer.id, offer);
      if (this.options.offerTimeoutMs !== undefined) {
        offer.timer = setTimeout(() => this.rescindOffer(offer.id), this.options.offerTimeoutMs);
        offer.timer.unref();
      }
      agent.lastOfferedAt = now;
      fw.lastOfferedAt = now;
      const batch = batches.get(fw) ?? [];
      batch.push(this.offerJson(offer, agent));
      batches.set(fw, batch);
    }
    for (const [fw, offers] of batches) this.emit(fw, { type: "OFFERS", offers: { offers } });
  }

  private offerJson(offer: Offer, agent: AgentState): JsonObject {
    const attributes: JsonObject[] = [{ name: "docker_port", type: "SCALAR", scalar: { value: agent.spec.engine.port } }];
    for (const [name, value] of Object.entries(agent.spec.attributes ?? {})) {
      attributes.push(typeof value === "number" ? { name, type: "SCALAR", scalar: { value } } : { name, type: "TEXT", text: { value } });
    }
    return {
      id: { value: offer.id },
      framework_id: { value: offer.frameworkId },
      agent_id: { value: agent.id },
      hostname: agent.spec.hostname,
      resources: resourcesJson(offer.res),
      attributes,
      executor_ids: [],
    };
  }

  private removeOffer(offer: Offer): void {
    clearTimeout(offer.timer);
    this.offers.delete(offer.id);
  }

  private dropOffersOf(fw: Framework): void {
    for (const offer of [...this.offers.values()]) if (offer.frameworkId === fw.id) this.removeOffer(offer);
  }

  rescindOffer(offerId: string): void {
    const offer = this.offers.get(offerId);
    if (!offer) return;
    this.removeOffer(offer);
    const fw = this.frameworks.get(offer.frameworkId);
    if (fw) this.emit(fw, { type: "RESCIND", rescind: { offer_id: { value: offer.id } } });
    this.allocateSoon();
  }

  private decline(fw: Framework, decline: JsonObject): void {
    const refuse = refuseSeconds(decline.filters);
    for (const entry of asList(decline.offer_ids)) {
      const offer = this.offers.get(idOf(entry) ?? "");
      // Mesos ignores offers that are gone or not this framework's.
      if (!offer || offer.frameworkId !== fw.id) continue;
      this.removeOffer(offer);
      if (refuse > 0) fw.filters.push({ agentId: offer.agentId, res: offer.res, until: Date.now() + refuse * 1000 });
    }
    this.allocateSoon();
  }

  // ---- ACCEPT and LAUNCH ------------------------------------------------------------------------

  private accept(fw: Framework, accept: JsonObject): void {
    const ids = asList(accept.offer_ids).map(idOf);
    const taskInfos: JsonObject[] = [];
    for (const op of asList(accept.operations)) {
      const opType = asString(field(op, "type"));
      if (opType === "LAUNCH") taskInfos.push(...asList(field(field(op, "launch"), "task_infos")).filter(isObject));
      else if (opType === "LAUNCH_GROUP") {
        for (const info of asList(field(field(field(op, "launch_group"), "task_group"), "tasks")).filter(isObject)) {
          this.refuseTask(fw, info, "TASK_ERROR", "REASON_TASK_GROUP_INVALID", "the mesos-master fake does not implement LAUNCH_GROUP");
        }
      }
    }
    let invalid: string | undefined;
    const offers: Offer[] = [];
    if (ids.length === 0 && taskInfos.length > 0) invalid = "No offers specified";
    for (const id of ids) {
      const offer = id === undefined ? undefined : this.offers.get(id);
      if (!offer) invalid ??= `Offer ${id ?? "(without an ID)"} is no longer valid`;
      else if (offer.frameworkId !== fw.id) invalid ??= `Offer ${offer.id} has invalid framework ${fw.id} while expecting ${offer.frameworkId}`;
      else if (offers.includes(offer)) invalid ??= `Duplicate offer ${offer.id} in the offer list`;
      else offers.push(offer);
    }
    if (new Set(offers.map((o) => o.agentId)).size > 1) invalid ??= "Aggregated offers must belong to one single agent";
    // An ACCEPT uses up every offer it names, even when some other offer in it was invalid.
    for (const offer of offers) this.removeOffer(offer);
    const first = offers[0];
    if (invalid !== undefined || !first) {
      const why = invalid ?? "No offers specified";
      for (const info of taskInfos) this.refuseTask(fw, info, "TASK_LOST", "REASON_INVALID_OFFERS", `Task launched with invalid offers: ${why}`);
      this.allocateSoon();
      return;
    }
    const agent = this.agents.get(first.agentId);
    let left = offers.reduce((sum, o) => addRes(sum, o.res), NO_RES);
    for (const info of taskInfos) {
      if (!agent || agent.lost) {
        this.refuseTask(fw, info, "TASK_LOST", "REASON_INVALID_OFFERS", `Task launched with invalid offers: Agent ${first.agentId} is not available`);
        continue;
      }
      const checked = this.checkTask(fw, agent, info, left);
      if (typeof checked === "string") {
        this.refuseTask(fw, info, "TASK_ERROR", "REASON_TASK_INVALID", checked);
        continue;
      }
      left = subRes(left, checked.res);
      this.activeTasks.set(taskKey(fw.id, checked.id), checked);
      void this.launch(checked, agent);
    }
    const refuse = refuseSeconds(accept.filters);
    if (!isEmptyRes(left) && refuse > 0) fw.filters.push({ agentId: first.agentId, res: left, until: Date.now() + refuse * 1000 });
    this.allocateSoon();
  }

  /** The master's validation of one TaskInfo: the task, or why it is invalid. */
  private checkTask(fw: Framework, agent: AgentState, info: JsonObject, left: Res): Task | string {
    const id = idOf(info.task_id);
    if (id === undefined) return "Task ID is missing";
    if (!/^[^/\s]+$/.test(id) || id === "." || id === "..") return `Task ID '${id}' contains invalid characters`;
    const agentId = idOf(info.agent_id);
    if (agentId !== agent.id) return `Task uses invalid agent: ${agentId ?? "(none)"}`;
    if (this.activeTasks.has(taskKey(fw.id, id))) return `Task has duplicate ID: ${id}`;
    if (info.executor !== undefined) return "the mesos-master fake runs no custom executors: give the task a command and a DOCKER container";
    const container = field(info, "container");
    if (asString(field(container, "type")) !== "DOCKER") return "the mesos-master fake runs only DOCKER containers (container.type DOCKER)";
    const image = asString(field(field(container, "docker"), "image"));
    if (image === undefined || image === "") return "DockerInfo 'docker' with an 'image' is required for a DOCKER ContainerInfo";
    const { res, foreign } = parseResources(info.resources);
    if (foreign.length > 0 || !containsRes(left, res)) {
      const asked = foreign.length > 0 ? `${describeRes(res)}; ${foreign.join(", ")}` : describeRes(res);
      return `Task uses more resources ${asked} than available ${describeRes(left)}`;
    }
    return {
      id,
      frameworkId: fw.id,
      agentId: agent.id,
      info,
      res,
      state: "TASK_STAGING",
      containerId: undefined,
      pending: [],
      retry: undefined,
      killRequested: false,
      running: false,
      active: true,
    };
  }

  /** A task the master does not launch: one update without uuid, kept among the completed tasks. */
  private refuseTask(fw: Framework, info: JsonObject, state: string, reason: string, message: string): void {
    const id = idOf(info.task_id) ?? "";
    const agentId = idOf(info.agent_id) ?? "";
    this.completedTasks.push({
      id,
      frameworkId: fw.id,
      agentId,
      info,
      res: NO_RES,
      state,
      containerId: undefined,
      pending: [],
      retry: undefined,
      killRequested: false,
      running: false,
      active: false,
    });
    this.emit(fw, { type: "UPDATE", update: { status: this.masterStatus(id, agentId, state, reason, message) } });
  }

  private masterStatus(taskId: string, agentId: string | undefined, state: string, reason: string, message: string): JsonObject {
    return {
      task_id: { value: taskId },
      state,
      source: "SOURCE_MASTER",
      reason,
      message,
      ...(agentId ? { agent_id: { value: agentId } } : {}),
      timestamp: Date.now() / 1000,
    };
  }

  /** The agent's side: image, container, start, watch. */
  private async launch(task: Task, agent: AgentState): Promise<void> {
    let source = "SOURCE_AGENT";
    try {
      const failure = this.failNext;
      if (failure !== undefined) {
        this.failNext = undefined;
        this.agentUpdate(task, "TASK_FAILED", { source, reason: "REASON_CONTAINER_LAUNCH_FAILED", message: failure });
        return;
      }
      const plan = containerPlan(agent.id, task);
      await this.ensureImage(agent, plan.image, plan.forcePull);
      if (task.killRequested) return await this.finishKill(task, agent);
      task.containerId = await this.createContainer(agent, plan);
      if (task.killRequested) return await this.finishKill(task, agent);
      this.agentUpdate(task, "TASK_STARTING", { source: "SOURCE_EXECUTOR" });
      source = "SOURCE_EXECUTOR";
      const started = await this.docker(agent, "POST", `/containers/${task.containerId}/start`);
      if (started.status !== 204 && started.status !== 304) throw new LaunchError(dockerMessage(started));
      if (task.killRequested) return await this.finishKill(task, agent);
      const inspected = await this.docker(agent, "GET", `/containers/${task.containerId}/json`);
      if (inspected.status !== 200) throw new LaunchError(dockerMessage(inspected));
      if (task.killRequested) return await this.finishKill(task, agent);
      const inspect: unknown = JSON.parse(inspected.text);
      task.running = true;
      const ip = containerIp(inspect);
      this.agentUpdate(task, "TASK_RUNNING", {
        source,
        data: Buffer.from(JSON.stringify([inspect])).toString("base64"),
        ...(ip ? { container_status: { network_infos: [{ ip_addresses: [{ ip_address: ip }] }] } } : {}),
      });
      void this.watch(task, agent);
    } catch (err) {
      if (this.closed || agent.lost) return;
      this.agentUpdate(task, "TASK_FAILED", {
        source,
        reason: source === "SOURCE_AGENT" ? "REASON_CONTAINER_LAUNCH_FAILED" : "REASON_EXECUTOR_TERMINATED",
        message: `Failed to launch container: ${errorText(err)}`,
      });
    }
  }

  private async ensureImage(agent: AgentState, image: string, forcePull: boolean): Promise<void> {
    if (!forcePull) {
      const found = await this.docker(agent, "GET", `/images/${encodeURI(image)}/json`);
      if (found.status === 200) return;
      if (found.status !== 404) throw new LaunchError(dockerMessage(found));
    }
    const { name, tag } = splitImage(image);
    const pulled = await this.docker(agent, "POST", `/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`);
    if (pulled.status !== 200) throw new LaunchError(dockerMessage(pulled));
    // A failed pull can still answer 200: the error is then the last line of the progress stream.
    for (const line of pulled.text.split("\n")) {
      if (line.trim() === "") continue;
      let progress: unknown;
      try {
        progress = JSON.parse(line);
      } catch {
        continue;
      }
      const error = asString(field(progress, "error")) ?? asString(field(field(progress, "errorDetail"), "message"));
      if (error !== undefined) throw new LaunchError(error);
    }
  }

  private async createContainer(agent: AgentState, plan: ContainerPlan): Promise<string> {
    let name = plan.name;
    for (let attempt = 0; ; attempt++) {
      const created = await this.docker(agent, "POST", `/containers/create?name=${encodeURIComponent(name)}`, plan.body);
      if (created.status === 201) {
        const id = asString(field(JSON.parse(created.text) as unknown, "Id"));
        if (id === undefined) throw new LaunchError(`dockerd answered the create without an Id: ${created.text}`);
        return id;
      }
      // Mesos names containers by a fresh UUID; ours derive from the task ID, which a framework may reuse.
      if (created.status === 409 && attempt < 3) {
        name = `${plan.name}-${randomBytes(3).toString("hex")}`;
        continue;
      }
      throw new LaunchError(dockerMessage(created));
    }
  }

  private async watch(task: Task, agent: AgentState): Promise<void> {
    const id = task.containerId;
    if (id === undefined) return;
    while (!this.closed && !agent.lost && task.active && !isTerminal(task.state)) {
      try {
        const waited = await this.docker(agent, "POST", `/containers/${id}/wait`, undefined, true);
        if (task.killRequested) return;
        if (waited.status === 404) {
          this.agentUpdate(task, "TASK_FAILED", { source: "SOURCE_EXECUTOR", reason: "REASON_EXECUTOR_TERMINATED", message: `Container ${id} is gone` });
          return;
        }
        if (waited.status !== 200) throw new Error(dockerMessage(waited));
        const code = asNumber(field(JSON.parse(waited.text) as unknown, "StatusCode")) ?? -1;
        const message = `Container exited with status ${code}`;
        if (code === 0) this.agentUpdate(task, "TASK_FINISHED", { source: "SOURCE_EXECUTOR", message });
        else this.agentUpdate(task, "TASK_FAILED", { source: "SOURCE_EXECUTOR", reason: "REASON_COMMAND_EXECUTOR_FAILED", message });
        return;
      } catch {
        // The engine is unreachable (restarting?): ask again; its answer then tells how the container ended.
        if (this.closed || agent.lost) return;
        await sleep(1_000, agent.abort.signal);
      }
    }
  }

  private async stopContainer(task: Task): Promise<void> {
    const agent = this.agents.get(task.agentId);
    if (!agent || task.containerId === undefined) return;
    const stopped = await this.docker(agent, "POST", `/containers/${task.containerId}/stop?t=1`, undefined, true);
    if (stopped.status !== 204 && stopped.status !== 304 && stopped.status !== 404) throw new Error(dockerMessage(stopped));
  }

  private async finishKill(task: Task, agent: AgentState): Promise<void> {
    try {
      await this.stopContainer(task);
      this.agentUpdate(task, "TASK_KILLED", { source: "SOURCE_EXECUTOR", message: "Container killed" });
    } catch (err) {
      if (this.closed || agent.lost) return;
      this.agentUpdate(task, "TASK_FAILED", { source: "SOURCE_EXECUTOR", reason: "REASON_EXECUTOR_TERMINATED", message: `Failed to kill container: ${errorText(err)}` });
    }
  }

  private async docker(
    agent: AgentState,
    method: "GET" | "POST",
    path: string,
    body?: JsonObject,
    longPoll = false,
  ): Promise<{ status: number; text: string }> {
    const response = await request(`${agent.engineUrl}${DOCKER_API}${path}`, {
      method,
      dispatcher: this.dispatcher,
      signal: agent.abort.signal,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(longPoll ? { headersTimeout: 0, bodyTimeout: 0 } : {}),
    });
    return { status: response.statusCode, text: await response.body.text() };
  }

  // ---- Status updates ---------------------------------------------------------------------------

  private agentUpdate(task: Task, state: string, extra: { source: string; reason?: string; message?: string; data?: string; container_status?: JsonObject }): void {
    const agent = this.agents.get(task.agentId);
    if (!task.active || isTerminal(task.state) || !agent || agent.lost) return;
    const status: JsonObject = {
      task_id: { value: task.id },
      state,
      source: extra.source,
      ...(extra.reason ? { reason: extra.reason } : {}),
      ...(extra.message !== undefined ? { message: extra.message } : {}),
      agent_id: { value: task.agentId },
      ...(extra.source === "SOURCE_EXECUTOR" ? { executor_id: { value: task.id } } : {}),
      timestamp: Date.now() / 1000,
      uuid: randomBytes(16).toString("base64"),
      ...(extra.data !== undefined ? { data: extra.data } : {}),
      ...(extra.container_status ? { container_status: extra.container_status } : {}),
    };
    task.state = state;
    task.pending.push(status);
    if (task.pending.length === 1) this.forward(task);
    // Mesos frees a task's resources when its terminal state reaches the master, acknowledged or not.
    if (isTerminal(state)) this.allocateSoon();
  }

  private forward(task: Task): void {
    clearTimeout(task.retry);
    task.retry = undefined;
    const front = task.pending[0];
    if (!front || this.closed) return;
    const fw = this.frameworks.get(task.frameworkId);
    if (fw) this.emit(fw, { type: "UPDATE", update: { status: front } });
    task.retry = setTimeout(() => this.forward(task), this.retryMs);
    task.retry.unref();
  }

  private acknowledge(fw: Framework, ack: JsonObject): void {
    const agentId = idOf(ack.agent_id);
    const taskId = idOf(ack.task_id);
    const uuid = asString(ack.uuid);
    if (agentId === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'acknowledge.agent_id' to be present");
    if (taskId === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'acknowledge.task_id' to be present");
    if (uuid === undefined || Buffer.from(uuid, "base64").length !== 16) throw new HttpError(400, "Failed to validate scheduler::Call: 'acknowledge.uuid' is not a valid UUID");
    const task = this.activeTasks.get(taskKey(fw.id, taskId));
    // An acknowledgement of anything but the update being forwarded is dropped, as the agent does.
    if (!task || task.agentId !== agentId || task.pending[0]?.uuid !== uuid) return;
    task.pending.shift();
    clearTimeout(task.retry);
    task.retry = undefined;
    if (task.pending.length > 0) this.forward(task);
    else if (isTerminal(task.state)) this.complete(task);
  }

  private complete(task: Task): void {
    clearTimeout(task.retry);
    task.retry = undefined;
    task.pending = [];
    task.active = false;
    task.running = false;
    if (this.activeTasks.get(taskKey(task.frameworkId, task.id)) === task) this.activeTasks.delete(taskKey(task.frameworkId, task.id));
    this.completedTasks.push(task);
  }

  private kill(fw: Framework, kill: JsonObject): void {
    const taskId = idOf(kill.task_id);
    if (taskId === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'kill.task_id' to be present");
    const task = this.activeTasks.get(taskKey(fw.id, taskId));
    if (!task) {
      this.emit(fw, { type: "UPDATE", update: { status: this.masterStatus(taskId, idOf(kill.agent_id), "TASK_LOST", "REASON_RECONCILIATION", "Attempted to kill an unknown task") } });
      return;
    }
    // A terminal task waiting for its acknowledgement has nothing left to kill.
    if (isTerminal(task.state) || task.killRequested) return;
    task.killRequested = true;
    if (fw.capabilities.has("TASK_KILLING_STATE") && (task.state === "TASK_STARTING" || task.state === "TASK_RUNNING")) {
      this.agentUpdate(task, "TASK_KILLING", { source: "SOURCE_EXECUTOR" });
    }
    const agent = this.agents.get(task.agentId);
    if (task.running && agent) void this.finishKill(task, agent);
  }

  private reconcile(fw: Framework, reconcile: JsonObject): void {
    const asked = asList(reconcile.tasks);
    const status = (task: Task): JsonObject =>
      this.masterStatus(task.id, task.agentId, task.state, "REASON_RECONCILIATION", "Reconciliation: Latest task state");
    if (asked.length === 0) {
      for (const task of this.activeTasks.values()) if (task.frameworkId === fw.id) this.emit(fw, { type: "UPDATE", update: { status: status(task) } });
      return;
    }
    for (const entry of asked) {
      const taskId = idOf(field(entry, "task_id"));
      if (taskId === undefined) throw new HttpError(400, "Failed to validate scheduler::Call: Expecting 'reconcile.tasks[].task_id' to be present");
      const task = this.activeTasks.get(taskKey(fw.id, taskId));
      const update = task
        ? status(task)
        : this.masterStatus(taskId, idOf(field(entry, "agent_id")), "TASK_LOST", "REASON_RECONCILIATION", "Reconciliation: Task is unknown");
      this.emit(fw, { type: "UPDATE", update: { status: update } });
    }
  }

  // ---- Test controls ----------------------------------------------------------------------------

  loseAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) throw new Error(`mesos-master fake: no agent ${agentId}`);
    if (agent.lost) return;
    agent.lost = true;
    agent.abort.abort();
    for (const offer of [...this.offers.values()]) if (offer.agentId === agentId) this.rescindOffer(offer.id);
    for (const task of [...this.activeTasks.values()]) {
      if (task.agentId !== agentId) continue;
      const fw = this.frameworks.get(task.frameworkId);
      task.state = "TASK_LOST";
      this.complete(task);
      if (fw) this.emit(fw, { type: "UPDATE", update: { status: this.masterStatus(task.id, agentId, "TASK_LOST", "REASON_AGENT_REMOVED", `Agent ${agentId} removed`) } });
    }
    for (const fw of this.frameworks.values()) this.emit(fw, { type: "FAILURE", failure: { agent_id: { value: agentId } } });
  }

  taskList(): FakeMesosTask[] {
    return [...this.activeTasks.values(), ...this.completedTasks].map((t) => ({
      id: t.id,
      agentId: t.agentId,
      state: t.state,
      ...(t.containerId !== undefined ? { containerId: t.containerId } : {}),
      frameworkId: t.frameworkId,
    }));
  }

  frameworkList(): FakeMesosFramework[] {
    return [...this.frameworks.values()].map((fw) => ({
      id: fw.id,
      connected: fw.stream !== undefined,
      ...(fw.failoverTimeout !== undefined ? { failoverTimeout: fw.failoverTimeout } : {}),
      name: fw.name,
      user: fw.user,
    }));
  }
}

// ---- Docker containerizer -----------------------------------------------------------------------

interface ContainerPlan {
  readonly name: string;
  readonly image: string;
  readonly forcePull: boolean;
  readonly body: JsonObject;
}

/** The create body the Docker containerizer's `docker run` would amount to, from a TaskInfo. */
function containerPlan(agentId: string, task: Task): ContainerPlan {
  const container = field(task.info, "container");
  const dockerInfo = field(container, "docker");
  const image = asString(field(dockerInfo, "image")) ?? "";
  const name = `mesos-${agentId}.${task.id}`.replace(/[^a-zA-Z0-9_.-]/g, "_");
  const labels: Record<string, string> = {};
  const env: string[] = [`MESOS_TASK_ID=${task.id}`, `MESOS_CONTAINER_NAME=${name}`];
  const binds: string[] = [];
  const extraHosts: string[] = [];
  const body: JsonObject = { Image: image };
  for (const variable of asList(field(field(field(task.info, "command"), "environment"), "variables"))) {
    const key = asString(field(variable, "name"));
    if (key !== undefined) env.push(`${key}=${asString(field(variable, "value")) ?? ""}`);
  }
  for (const volume of asList(field(container, "volumes"))) {
    const hostPath = asString(field(volume, "host_path"));
    const containerPath = asString(field(volume, "container_path"));
    if (hostPath === undefined || containerPath === undefined) continue;
    binds.push(`${hostPath}:${containerPath}:${asString(field(volume, "mode")) === "RO" ? "ro" : "rw"}`);
  }
  for (const parameter of asList(field(dockerInfo, "parameters"))) {
    const key = asString(field(parameter, "key")) ?? "";
    const value = asString(field(parameter, "value")) ?? "";
    switch (key) {
      case "label": {
        const eq = value.indexOf("=");
        labels[eq < 0 ? value : value.slice(0, eq)] = eq < 0 ? "" : value.slice(eq + 1);
        break;
      }
      case "env":
        env.push(value);
        break;
      case "user":
        body.User = value;
        break;
      case "workdir":
        body.WorkingDir = value;
        break;
      case "volume":
        binds.push(value);
        break;
      case "add-host":
        extraHosts.push(value);
        break;
      case "hostname":
        body.Hostname = value;
        break;
      case "entrypoint":
        body.Entrypoint = [value];
        break;
      default:
        throw new LaunchError(`docker parameter '${key}' is not supported by the mesos-master fake`);
    }
  }
  const hostname = asString(field(container, "hostname"));
  if (hostname !== undefined && hostname !== "") body.Hostname = hostname;
  const command = field(task.info, "command");
  if (command !== undefined) {
    const shell = field(command, "shell") !== false;
    const value = asString(field(command, "value"));
    const args = asList(field(command, "arguments")).map((a) => String(a));
    if (shell) {
      // As Mesos does for a shell command: the image's entrypoint gives way to /bin/sh -c.
      if (value === undefined || value === "") throw new LaunchError("Shell specified but no command value provided");
      body.Entrypoint = ["/bin/sh"];
      body.Cmd = ["-c", value];
    } else {
      const cmd = [...(value !== undefined && value !== "" ? [value] : []), ...args];
      if (cmd.length > 0) body.Cmd = cmd;
    }
  }
  const network = asString(field(dockerInfo, "network")) ?? "HOST";
  const networkMode =
    network === "NONE"
      ? "none"
      : network === "BRIDGE"
        ? "bridge"
        : network === "USER"
          ? (asString(field(asList(field(container, "network_infos"))[0], "name")) ?? "")
          : "host";
  if (networkMode === "") throw new LaunchError("USER network without a network_infos[0].name");
  const exposed: JsonObject = {};
  const bindings: JsonObject = {};
  for (const mapping of asList(field(dockerInfo, "port_mappings"))) {
    const hostPort = asNumber(field(mapping, "host_port"));
    const containerPort = asNumber(field(mapping, "container_port"));
    if (hostPort === undefined || containerPort === undefined) continue;
    const key = `${containerPort}/${(asString(field(mapping, "protocol")) ?? "tcp").toLowerCase()}`;
    exposed[key] = {};
    const list = asList(bindings[key]);
    list.push({ HostIp: "", HostPort: String(hostPort) });
    bindings[key] = list;
  }
  body.Labels = labels;
  body.Env = env;
  if (Object.keys(exposed).length > 0) body.ExposedPorts = exposed;
  body.HostConfig = {
    NetworkMode: networkMode,
    ...(task.res.mem > 0 ? { Memory: Math.round(task.res.mem * MIB) } : {}),
    // Mesos's floor of 2 shares, the kernel's minimum.
    ...(task.res.cpus > 0 ? { CpuShares: Math.max(2, Math.round(task.res.cpus * 1024)) } : {}),
    ...(Object.keys(bindings).length > 0 ? { PortBindings: bindings } : {}),
    ...(binds.length > 0 ? { Binds: binds } : {}),
    ...(extraHosts.length > 0 ? { ExtraHosts: extraHosts } : {}),
  };
  return { name, image, forcePull: field(dockerInfo, "force_pull_image") === true, body };
}

/** `repo[:tag]` or `repo@digest` → what /images/create wants. */
function splitImage(ref: string): { name: string; tag: string } {
  const at = ref.indexOf("@");
  if (at >= 0) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(":");
  if (colon > ref.lastIndexOf("/")) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: "latest" };
}

function containerIp(inspect: unknown): string | undefined {
  const settings = field(inspect, "NetworkSettings");
  const direct = asString(field(settings, "IPAddress"));
  if (direct) return direct;
  const networks = field(settings, "Networks");
  if (!isObject(networks)) return undefined;
  for (const network of Object.values(networks)) {
    const ip = asString(field(network, "IPAddress"));
    if (ip) return ip;
  }
  return undefined;
}

function dockerMessage(answer: { status: number; text: string }): string {
  try {
    const message = asString(field(JSON.parse(answer.text) as unknown, "message"));
    if (message !== undefined) return message;
  } catch {
    // Not JSON: the text itself says what went wrong.
  }
  return answer.text.trim() || `dockerd answered HTTP ${answer.status}`;
}

// ---- Small helpers ------------------------------------------------------------------------------

function required(body: JsonObject, key: string): JsonObject {
  const value = body[key];
  if (!isObject(value)) throw new HttpError(400, `Failed to validate scheduler::Call: Expecting '${key}' to be present`);
  return value;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

// ---- ZooKeeper ----------------------------------------------------------------------------------

/**
 * Announce `master` under `path` in ZooKeeper as a Mesos master does: an EPHEMERAL_SEQUENTIAL child
 * `json.info_<seq>` holding its MasterInfo as JSON (the lowest sequence is the leader). close() removes
 * the znode and ends the session.
 */
export async function registerMasterInZookeeper(
  zk: { connectString: string },
  path: string,
  master: FakeMesosMaster,
): Promise<{ close(): Promise<void> }> {
  const info = masterInfos.get(master)?.() ?? fallbackMasterInfo(master.address);
  const dir = path === "/" ? "" : path.replace(/\/+$/, "");
  const client = zookeeper.createClient(zk.connectString, { sessionTimeout: 10_000, spinDelay: 200, retries: 2 });
  // The client hands back either an Error or its own Exception: both print their reason.
  const call = <T>(what: string, start: (done: (err: unknown, value: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) =>
      start((err, value) => (err ? reject(new Error(`${what} in ZooKeeper at ${zk.connectString}: ${errorText(err)}`)) : resolve(value))),
    );
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not connect to ZooKeeper at ${zk.connectString} in 15 s`)), 15_000);
      client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    if (dir !== "") await call<string>(`creating ${dir}`, (done) => client.mkdirp(dir, (err, made) => done(err, made)));
    const node = await call<string>(`creating ${dir}/json.info_`, (done) =>
      client.create(`${dir}/json.info_`, Buffer.from(JSON.stringify(info)), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, (err, made) => done(err, made)),
    );
    let closed = false;
    return {
      async close() {
        if (closed) return;
        closed = true;
        // Removing it first spares watchers the session's expiry; NO_NODE just means it is gone already.
        await call<void>(`removing ${node}`, (done) => client.remove(node, -1, (err) => done(err, undefined))).catch(() => undefined);
        client.close();
      },
    };
  } catch (err) {
    client.close();
    throw err;
  }
}

function fallbackMasterInfo(address: string): JsonObject {
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  return {
    id: randomUUID(),
    ip: Buffer.from([127, 0, 0, 1]).readUInt32LE(0),
    port,
    pid: `master@127.0.0.1:${port}`,
    hostname: "127.0.0.1",
    version: MESOS_VERSION,
    address: { hostname: "127.0.0.1", ip: "127.0.0.1", port },
  };
}
