import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zookeeper from "node-zookeeper-client";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startZookeeper,
  waitFor,
  type TestEngine,
  type TestEngines,
  type TestZookeeper,
} from "@swarm/test-harness";
import { registerMasterInZookeeper, startFakeMesosMaster, type FakeMesosMaster } from "../fakes/mesos-master.js";

/**
 * The FAKE Mesos master against one real dockerd: a scheduler written here (RecordIO over a chunked
 * SUBSCRIBE response, calls on other connections) drives it through the v1 scheduler API.
 */

interface IdValue {
  readonly value: string;
}

interface Resource {
  readonly name: string;
  readonly scalar?: { readonly value: number };
  readonly ranges?: { readonly range: ReadonlyArray<{ readonly begin: number; readonly end: number }> };
}

interface Offer {
  readonly id: IdValue;
  readonly agent_id: IdValue;
  readonly framework_id: IdValue;
  readonly hostname: string;
  readonly resources: readonly Resource[];
  readonly attributes: ReadonlyArray<{ readonly name: string; readonly scalar?: { readonly value: number }; readonly text?: { readonly value: string } }>;
}

interface Status {
  readonly task_id: IdValue;
  readonly agent_id?: IdValue;
  readonly state: string;
  readonly source?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly uuid?: string;
  readonly data?: string;
}

interface MesosEvent {
  readonly type: string;
  readonly subscribed?: { readonly framework_id: IdValue; readonly heartbeat_interval_seconds: number };
  readonly offers?: { readonly offers: readonly Offer[] };
  readonly update?: { readonly status: Status };
  readonly error?: { readonly message: string };
}

/** One SUBSCRIBE stream, decoded from RecordIO as it arrives. */
class Subscription {
  readonly events: MesosEvent[] = [];
  ended = false;
  private buffer = Buffer.alloc(0);
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly streamId: string,
    private readonly body: NodeJS.ReadableStream & { destroy(): void },
  ) {
    body.on("data", (chunk: Buffer) => this.push(chunk));
    body.on("end", () => this.finish());
    body.on("error", () => this.finish());
    body.on("close", () => this.finish());
  }

  get frameworkId(): string {
    const first = this.events[0];
    if (first?.type !== "SUBSCRIBED" || !first.subscribed) throw new Error(`the stream did not start with SUBSCRIBED: ${JSON.stringify(first)}`);
    return first.subscribed.framework_id.value;
  }

  /** Where the next event will land: find(…, mark) looks only at events after it. */
  mark(): number {
    return this.events.length;
  }

  async find(what: string, match: (event: MesosEvent) => boolean, from = 0, timeoutMs = 10_000): Promise<MesosEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (this.ended) throw new Error(`the stream ended before ${what}; events: ${this.describe(from)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; events: ${this.describe(from)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.wakers.add(wake);
      });
    }
  }

  update(taskId: string, state: string, from = 0, timeoutMs = 15_000): Promise<Status> {
    return this.find(
      `UPDATE ${taskId} ${state}`,
      (e) => e.type === "UPDATE" && e.update?.status.task_id.value === taskId && e.update.status.state === state,
      from,
      timeoutMs,
    ).then((e) => e.update!.status);
  }

  close(): void {
    this.body.destroy();
    this.finish();
  }

  private describe(from: number): string {
    return JSON.stringify(this.events.slice(from).map((e) => (e.type === "UPDATE" ? `UPDATE ${e.update?.status.task_id.value} ${e.update?.status.state}` : e.type)));
  }

  private push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const newline = this.buffer.indexOf(0x0a);
      if (newline < 0) break;
      const length = Number(this.buffer.subarray(0, newline).toString("ascii"));
      if (this.buffer.length < newline + 1 + length) break;
      this.events.push(JSON.parse(this.buffer.subarray(newline + 1, newline + 1 + length).toString("utf8")) as MesosEvent);
      this.buffer = this.buffer.subarray(newline + 1 + length);
    }
    this.wakeAll();
  }

  private finish(): void {
    this.ended = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }
}

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };

async function post(master: { url: string }, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; location?: string }> {
  const response = await request(`${master.url}/api/v1/scheduler`, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const location = response.headers.location;
  return { status: response.statusCode, text: await response.body.text(), ...(typeof location === "string" ? { location } : {}) };
}

const subscriptions: Subscription[] = [];

async function subscribe(master: { url: string }, frameworkInfo: Record<string, unknown>): Promise<Subscription> {
  const response = await request(`${master.url}/api/v1/scheduler`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo } }),
    bodyTimeout: 0,
  });
  if (response.statusCode !== 200) throw new Error(`SUBSCRIBE answered ${response.statusCode}: ${await response.body.text()}`);
  expect(response.headers["content-type"]).toBe("application/json");
  const streamId = response.headers["mesos-stream-id"];
  if (typeof streamId !== "string") throw new Error("SUBSCRIBE answered without a Mesos-Stream-Id");
  const subscription = new Subscription(streamId, response.body);
  subscriptions.push(subscription);
  await subscription.find("SUBSCRIBED", (e) => e.type === "SUBSCRIBED");
  return subscription;
}

/** A non-SUBSCRIBE call on `sub`'s subscription; expects 202. */
async function call(master: { url: string }, sub: Subscription, body: Record<string, unknown>): Promise<void> {
  const answer = await post(master, { framework_id: { value: sub.frameworkId }, ...body }, { "mesos-stream-id": sub.streamId });
  expect(answer, `${String(body.type)} was refused`).toMatchObject({ status: 202, text: "" });
}

async function acknowledge(master: { url: string }, sub: Subscription, status: Status): Promise<void> {
  expect(status.uuid).toBeDefined();
  await call(master, sub, { type: "ACKNOWLEDGE", acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
}

function scalar(offer: Offer, name: string): number | undefined {
  return offer.resources.find((r) => r.name === name)?.scalar?.value;
}

function taskInfo(
  taskId: string,
  agentId: string,
  image: string,
  extra: { cpus?: number; mem?: number; command?: string; args?: string[]; parameters?: Array<{ key: string; value: string }> } = {},
) {
  const args = extra.args ?? ["600"];
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: agentId },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: extra.cpus ?? 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: extra.mem ?? 32 } },
    ],
    command: { shell: false, value: extra.command ?? "sleep", arguments: args },
    container: { type: "DOCKER", docker: { image, network: "NONE", parameters: extra.parameters ?? [] } },
  };
}

describe("fake Mesos master with a real engine", { timeout: 40_000 }, () => {
  let cluster: TestEngines | undefined;
  let zk: TestZookeeper | undefined;
  let engine: TestEngine;
  let master: FakeMesosMaster | undefined;
  let follower: FakeMesosMaster | undefined;
  let other: FakeMesosMaster | undefined;
  let sub: Subscription;
  const AGENT = "agent-1";

  const m = (): FakeMesosMaster => {
    if (!master) throw new Error("the fake master did not start");
    return master;
  };

  /** The newest offer of the agent at or after `from`. */
  const nextOffer = async (from: number): Promise<Offer> => {
    const event = await sub.find("an OFFERS event for the agent", (e) => e.type === "OFFERS" && (e.offers?.offers ?? []).some((o) => o.agent_id.value === AGENT), from);
    return event.offers!.offers.find((o) => o.agent_id.value === AGENT)!;
  };

  /** An offer of the agent that is still outstanding (received before or after now). */
  const freshOffer = async (): Promise<Offer> => {
    const event = await sub.find("an outstanding offer of the agent", (e) =>
      (e.offers?.offers ?? []).some((o) => o.agent_id.value === AGENT && m().outstandingOffers().some((out) => out.id === o.id.value)),
    );
    return event.offers!.offers.find((o) => o.agent_id.value === AGENT)!;
  };

  const launch = async (offer: Offer, task: ReturnType<typeof taskInfo>): Promise<void> => {
    await call(m(), sub, {
      type: "ACCEPT",
      accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }], filters: { refuse_seconds: 0 } },
    });
  };

  /** Launch a sleeper and follow it to TASK_RUNNING, acknowledging as a scheduler must. */
  const launchRunning = async (taskId: string, parameters: Array<{ key: string; value: string }> = []): Promise<Status> => {
    const from = sub.mark();
    await launch(await freshOffer(), taskInfo(taskId, AGENT, "busybox:latest", { parameters }));
    const starting = await sub.update(taskId, "TASK_STARTING", from);
    expect(starting.source).toBe("SOURCE_EXECUTOR");
    await acknowledge(m(), sub, starting);
    const running = await sub.update(taskId, "TASK_RUNNING", from);
    await acknowledge(m(), sub, running);
    return running;
  };

  beforeAll(async () => {
    const [engines, store] = await Promise.allSettled([startEngines(1), startZookeeper()]);
    if (engines.status === "fulfilled") cluster = engines.value;
    if (store.status === "fulfilled") zk = store.value;
    if (engines.status === "rejected") throw engines.reason;
    if (store.status === "rejected") throw store.reason;
    engine = cluster!.engines[0]!;
    await ensureBusyboxImage(engine);
    master = await startFakeMesosMaster({
      agents: [{ id: AGENT, hostname: "127.0.0.1", engine: { host: "127.0.0.1", port: engine.port }, cpus: 2, memMiB: 512, ports: [31000, 31009], attributes: { rack: "r1" } }],
      heartbeatIntervalSeconds: 1,
      offerIntervalMs: 100,
      statusUpdateRetryMs: 1_000,
    });
  });

  afterAll(async () => {
    for (const subscription of subscriptions) subscription.close();
    await master?.close().catch(() => undefined);
    await follower?.close().catch(() => undefined);
    await other?.close().catch(() => undefined);
    await zk?.dispose().catch(() => undefined);
    await cluster?.stopAll();
  });

  it("answers SUBSCRIBE with a RecordIO stream: SUBSCRIBED, then the agent's offer, then heartbeats", async () => {
    sub = await subscribe(m(), { user: "root", name: "fake-mesos-test", failover_timeout: 60 });
    expect(sub.events[0]?.subscribed?.heartbeat_interval_seconds).toBe(1);
    const offer = await nextOffer(0);
    expect(offer.framework_id.value).toBe(sub.frameworkId);
    expect(offer.hostname).toBe("127.0.0.1");
    expect(scalar(offer, "cpus")).toBe(2);
    expect(scalar(offer, "mem")).toBe(512);
    expect(offer.resources.find((r) => r.name === "ports")?.ranges?.range).toEqual([{ begin: 31000, end: 31009 }]);
    expect(offer.attributes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "docker_port", scalar: { value: engine.port } }),
        expect.objectContaining({ name: "rack", text: { value: "r1" } }),
      ]),
    );
    expect(m().outstandingOffers()).toEqual([{ id: offer.id.value, agentId: AGENT }]);
    await sub.find("a HEARTBEAT", (e) => e.type === "HEARTBEAT", 1);
    expect(m().frameworks()).toEqual([{ id: sub.frameworkId, connected: true, failoverTimeout: 60, name: "fake-mesos-test", user: "root" }]);
    expect(m().calls[0]?.type).toBe("SUBSCRIBE");
  });

  it("refuses calls without the subscription's stream ID, malformed JSON and unknown frameworks", async () => {
    const revive = { type: "REVIVE", framework_id: { value: sub.frameworkId } };
    expect((await post(m(), revive)).status).toBe(400);
    expect(await post(m(), revive, { "mesos-stream-id": "not-the-stream" })).toMatchObject({ status: 400, text: expect.stringContaining("didn't match") });
    expect((await post(m(), "{not json", { "mesos-stream-id": sub.streamId })).status).toBe(400);
    expect((await post(m(), { ...revive, framework_id: { value: "nobody" } }, { "mesos-stream-id": sub.streamId })).status).toBe(403);
  });

  it("launches a task as a container: STARTING, then RUNNING with the docker inspect array", async () => {
    const running = await launchRunning("t1", [{ key: "label", value: "swarm.test=fake-mesos" }]);
    expect(running.source).toBe("SOURCE_EXECUTOR");
    const inspect = JSON.parse(Buffer.from(running.data ?? "", "base64").toString("utf8")) as Array<{ Id: string; Name: string }>;
    expect(inspect).toHaveLength(1);
    const id = inspect[0]!.Id;
    expect(inspect[0]!.Name).toBe(`/mesos-${AGENT}.t1`);
    const [onEngine] = JSON.parse((await docker(engine, ["inspect", id])).stdout) as Array<{
      Config: { Labels: Record<string, string>; Cmd: string[] };
      HostConfig: { Memory: number; CpuShares: number; NetworkMode: string };
      State: { Running: boolean };
    }>;
    expect(onEngine?.Config.Labels["swarm.test"]).toBe("fake-mesos");
    expect(onEngine?.Config.Cmd).toEqual(["sleep", "600"]);
    expect(onEngine?.HostConfig).toMatchObject({ Memory: 32 * 1024 * 1024, CpuShares: 102, NetworkMode: "none" });
    expect(onEngine?.State.Running).toBe(true);
    expect(m().tasks()).toEqual([{ id: "t1", agentId: AGENT, state: "TASK_RUNNING", containerId: id, frameworkId: sub.frameworkId }]);
  });

  it("reconciles: the latest state with REASON_RECONCILIATION and no uuid; TASK_LOST for unknown tasks", async () => {
    let from = sub.mark();
    await call(m(), sub, { type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "t1" } }, { task_id: { value: "ghost" } }] } });
    const t1 = await sub.update("t1", "TASK_RUNNING", from);
    expect(t1).toMatchObject({ source: "SOURCE_MASTER", reason: "REASON_RECONCILIATION" });
    expect(t1.uuid).toBeUndefined();
    expect(await sub.update("ghost", "TASK_LOST", from)).toMatchObject({ reason: "REASON_RECONCILIATION" });
    from = sub.mark();
    await call(m(), sub, { type: "RECONCILE", reconcile: { tasks: [] } });
    expect(await sub.update("t1", "TASK_RUNNING", from)).toMatchObject({ reason: "REASON_RECONCILIATION" });
  });

  it("kills: TASK_KILLED and the container stopped; an unknown task gets TASK_LOST", async () => {
    const from = sub.mark();
    await call(m(), sub, { type: "KILL", kill: { task_id: { value: "t1" }, agent_id: { value: AGENT } } });
    await call(m(), sub, { type: "KILL", kill: { task_id: { value: "nope" } } });
    expect(await sub.update("nope", "TASK_LOST", from)).toMatchObject({ source: "SOURCE_MASTER", reason: "REASON_RECONCILIATION" });
    const killed = await sub.update("t1", "TASK_KILLED", from);
    await acknowledge(m(), sub, killed);
    const id = m().tasks().find((t) => t.id === "t1")?.containerId ?? "";
    expect((await docker(engine, ["inspect", "-f", "{{.State.Running}}", id])).stdout.trim()).toBe("false");
    expect(m().tasks().find((t) => t.id === "t1")?.state).toBe("TASK_KILLED");
  });

  it("answers TASK_LOST for a used offer, TASK_ERROR for a task larger than the offer, TASK_FAILED when a launch fails", async () => {
    const usedOffer = (m().calls.find((c) => c.type === "ACCEPT")?.body as { accept: { offer_ids: IdValue[] } }).accept.offer_ids[0]!;
    let from = sub.mark();
    await call(m(), sub, {
      type: "ACCEPT",
      accept: { offer_ids: [usedOffer], operations: [{ type: "LAUNCH", launch: { task_infos: [taskInfo("stale", AGENT, "busybox:latest")] } }] },
    });
    const lost = await sub.update("stale", "TASK_LOST", from);
    expect(lost).toMatchObject({ source: "SOURCE_MASTER", reason: "REASON_INVALID_OFFERS" });
    expect(lost.uuid).toBeUndefined();

    from = sub.mark();
    await launch(await freshOffer(), taskInfo("huge", AGENT, "busybox:latest", { cpus: 100 }));
    expect(await sub.update("huge", "TASK_ERROR", from)).toMatchObject({ reason: "REASON_TASK_INVALID" });

    // dockerd is refused at once by a registry on port 9, so this pull fails fast.
    from = sub.mark();
    await launch(await freshOffer(), taskInfo("nopull", AGENT, "127.0.0.1:9/nowhere/nothing:1"));
    const failed = await sub.update("nopull", "TASK_FAILED", from, 30_000);
    expect(failed.message).toMatch(/^Failed to launch container: \S/);
    await acknowledge(m(), sub, failed);

    m().failNextLaunch("no luck today");
    from = sub.mark();
    await launch(await freshOffer(), taskInfo("unlucky", AGENT, "busybox:latest"));
    const unlucky = await sub.update("unlucky", "TASK_FAILED", from);
    expect(unlucky.message).toBe("no luck today");
    await acknowledge(m(), sub, unlucky);
  });

  it("holds a declined agent back for refuse_seconds", async () => {
    const offer = await freshOffer();
    const from = sub.mark();
    await call(m(), sub, { type: "DECLINE", decline: { offer_ids: [offer.id], filters: { refuse_seconds: 2 } } });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sub.events.slice(from).filter((e) => e.type === "OFFERS")).toEqual([]);
    const again = await nextOffer(from);
    expect(again.id.value).not.toBe(offer.id.value);
  });

  it("reports containers that end on their own: TASK_FINISHED for status 0, TASK_FAILED with the status otherwise", async () => {
    let from = sub.mark();
    await launch(await freshOffer(), taskInfo("done", AGENT, "busybox:latest", { command: "true", args: [] }));
    for (const state of ["TASK_STARTING", "TASK_RUNNING"]) await acknowledge(m(), sub, await sub.update("done", state, from));
    const finished = await sub.update("done", "TASK_FINISHED", from);
    expect(finished.message).toBe("Container exited with status 0");
    await acknowledge(m(), sub, finished);
    from = sub.mark();
    await launch(await freshOffer(), taskInfo("exit3", AGENT, "busybox:latest", { command: "sh", args: ["-c", "exit 3"] }));
    for (const state of ["TASK_STARTING", "TASK_RUNNING"]) await acknowledge(m(), sub, await sub.update("exit3", state, from));
    const failed = await sub.update("exit3", "TASK_FAILED", from);
    expect(failed.message).toBe("Container exited with status 3");
    await acknowledge(m(), sub, failed);
  });

  it("rescinds offers after offerTimeoutMs, goes silent while paused, reports a lost agent, and tears down a framework past its failover timeout", async () => {
    other = await startFakeMesosMaster({
      agents: [{ id: "agent-x", hostname: "127.0.0.1", engine: { host: engine.host, port: engine.port }, cpus: 1, memMiB: 256 }],
      heartbeatIntervalSeconds: 0.2,
      offerIntervalMs: 100,
      offerTimeoutMs: 800,
    });
    const lone = await subscribe(other, { user: "root", name: "no-failover" });
    const first = (await lone.find("an offer", (e) => e.type === "OFFERS")).offers!.offers[0]!;
    await lone.find("RESCIND of the first offer", (e) => e.type === "RESCIND" && JSON.stringify(e).includes(first.id.value));
    let from = lone.mark();
    const offer = (await lone.find("a new offer", (e) => e.type === "OFFERS", from)).offers!.offers[0]!;
    await call(other, lone, {
      type: "ACCEPT",
      accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: [taskInfo("x1", "agent-x", "busybox:latest")] } }] },
    });
    await acknowledge(other, lone, await lone.update("x1", "TASK_STARTING", from));
    await acknowledge(other, lone, await lone.update("x1", "TASK_RUNNING", from));
    const containerId = other.tasks()[0]?.containerId ?? "";

    other.pauseHeartbeats(true);
    from = lone.mark();
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(lone.events.slice(from)).toEqual([]);
    other.pauseHeartbeats(false);
    await lone.find("a HEARTBEAT after resuming", (e) => e.type === "HEARTBEAT", from);

    from = lone.mark();
    other.loseAgent("agent-x");
    expect(await lone.update("x1", "TASK_LOST", from)).toMatchObject({ source: "SOURCE_MASTER", reason: "REASON_AGENT_REMOVED", message: "Agent agent-x removed" });
    await lone.find("FAILURE of the agent", (e) => e.type === "FAILURE" && JSON.stringify(e).includes("agent-x"), from);
    // The fake cannot reach a removed agent, so its container is left running.
    expect((await docker(engine, ["inspect", "-f", "{{.State.Running}}", containerId])).stdout.trim()).toBe("true");
    await docker(engine, ["rm", "-f", containerId]);

    // failover_timeout defaults to 0: the framework goes as soon as its stream does.
    lone.close();
    await waitFor({ what: "the framework outlived its failover timeout", timeoutMs: 5_000, probe: async () => (other!.frameworks().length === 0 ? true : undefined) });
  });

  it("redirects every call with 307 when another master leads", async () => {
    follower = await startFakeMesosMaster({ agents: [], redirectTo: () => m().address });
    const answer = await post(follower, { type: "SUBSCRIBE", subscribe: { framework_info: { user: "root", name: "x" } } });
    expect(answer).toMatchObject({ status: 307, location: `//${m().address}/api/v1/scheduler` });
  });

  it("keeps frameworks and tasks across stop()/start(); a re-SUBSCRIBE with the framework ID gets them back", async () => {
    await launchRunning("t2");
    const before = m().tasks();
    const frameworkId = sub.frameworkId;
    const address = m().address;
    await m().stop();
    await sub.find("the end of the stream", () => false, 0, 5_000).catch(() => undefined);
    expect(sub.ended).toBe(true);
    expect(m().frameworks()).toEqual([expect.objectContaining({ id: frameworkId, connected: false })]);
    await m().start();
    expect(m().address).toBe(address);
    const old = sub;
    sub = await subscribe(m(), { user: "root", name: "fake-mesos-test", failover_timeout: 60, id: { value: frameworkId } });
    expect(sub.frameworkId).toBe(frameworkId);
    expect(sub.streamId).not.toBe(old.streamId);
    expect(m().tasks()).toEqual(before);
    const from = sub.mark();
    await call(m(), sub, { type: "RECONCILE", reconcile: { tasks: [] } });
    await sub.update("t2", "TASK_RUNNING", from);
    await nextOffer(0);
  });

  it("announces itself in ZooKeeper as an ephemeral sequential json.info_ znode holding its MasterInfo", async () => {
    if (!zk) throw new Error("ZooKeeper did not start");
    const registration = await registerMasterInZookeeper({ connectString: zk.endpoint }, "/mesos", m());
    const client = zookeeper.createClient(zk.endpoint);
    const connected = new Promise<void>((resolve) => client.once("connected", resolve));
    client.connect();
    try {
      await connected;
      const children = (): Promise<string[]> =>
        new Promise((resolve, reject) => client.getChildren("/mesos", (err, names) => (err ? reject(new Error(String(err))) : resolve(names))));
      const names = await children();
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(/^json\.info_\d{10}$/);
      const data = await new Promise<string>((resolve, reject) =>
        client.getData(`/mesos/${names[0]!}`, (err, buffer) => (err ? reject(new Error(String(err))) : resolve(buffer.toString("utf8")))),
      );
      const port = Number(m().address.split(":")[1]);
      expect(JSON.parse(data)).toMatchObject({
        ip: 16777343,
        port,
        pid: `master@127.0.0.1:${port}`,
        hostname: "127.0.0.1",
        address: { hostname: "127.0.0.1", ip: "127.0.0.1", port },
      });
      await registration.close();
      expect(await children()).toEqual([]);
    } finally {
      client.close();
    }
  });

  it("TEARDOWN ends the stream, forgets the framework and stops its containers", async () => {
    const id = m().tasks().find((t) => t.id === "t2")?.containerId ?? "";
    await call(m(), sub, { type: "TEARDOWN" });
    await sub.find("the end of the stream", () => false, 0, 5_000).catch(() => undefined);
    expect(sub.ended).toBe(true);
    expect(m().frameworks()).toEqual([]);
    await waitFor({
      what: "the torn-down framework's container still ran",
      timeoutMs: 10_000,
      probe: async () => ((await docker(engine, ["inspect", "-f", "{{.State.Running}}", id])).stdout.trim() === "false" ? true : undefined),
    });
  });
});
