import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  startZookeeper,
  waitFor,
  type TestEngines,
  type ManagerProcess,
  type TestZookeeper,
} from "@swarm/test-harness";
import { registerMasterInZookeeper, startFakeMesosMaster, type FakeMesosMaster } from "../fakes/mesos-master.js";

const TASK_LABEL = "com.docker.swarm.mesos.task";

/**
 * `swarm manage -c mesos-experimental` against the FAKE Mesos master of test/fakes (no Mesos can be
 * installed here), whose two agents run their tasks as real containers on two real engines:
 * everything after a launch is real. Through the docker CLI, as classic Swarm's Mesos tests did.
 * The scenarios run in order and build on each other.
 */
describe("the mesos backend", () => {
  let cluster: TestEngines;
  let master: FakeMesosMaster;
  let zookeeper: TestZookeeper;
  const managers: ManagerProcess[] = [];
  let manager: ManagerProcess;
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => "succeeded",
      (err: Error) => err.message,
    );
  const agentOf = (engineIndex: number) => `agent-${engineIndex + 1}`;

  const startManager = async (target: string, extra: string[] = []) => {
    const started = await startManagerProcess({
      discovery: target,
      args: ["-c", "mesos-experimental", "--cluster-opt", "mesos.address=127.0.0.1", "--cluster-opt", "mesos.tasktimeout=4s", "--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s", ...extra],
      env: { SWARM_MESOS_USER: "root" },
    });
    managers.push(started);
    return started;
  };

  const waitForOffers = (target: ManagerProcess, count: number) =>
    waitFor({
      what: `docker info did not show ${count} offers`,
      timeoutMs: 30_000,
      probe: async () => {
        const text = (await docker(target.dockerHost, ["info"])).stdout;
        return text.includes(`Offers: ${count}`) ? text : undefined;
      },
    });

  beforeAll(async () => {
    [cluster, zookeeper] = await Promise.all([startEngines(2), startZookeeper()]);
    await ensureBusyboxImage(cluster.engines);
    master = await startFakeMesosMaster({
      heartbeatIntervalSeconds: 1,
      offerIntervalMs: 200,
      agents: cluster.engines.map((engine, index) => ({
        id: agentOf(index),
        hostname: "127.0.0.1",
        engine: { host: "127.0.0.1", port: engine.port },
        cpus: 2,
        memMiB: 1024,
        attributes: { docker_port: engine.port },
      })),
    });
    manager = await startManager(master.address);
  });

  afterAll(async () => {
    for (const started of managers) await started.stop();
    await master?.close();
    await Promise.all([cluster?.stopAll(), zookeeper?.dispose()]);
  });

  it("subscribes as a framework and shows each agent's offer in docker info", async () => {
    const info = await waitForOffers(manager, 2);
    expect(info).toContain("Backend: mesos");
    expect(info).toMatch(/ {3}Offer: \S+\n {4}└ cpus: 2\n {4}└ mem: 1 GiB\n {4}└ disk: 10 GiB\n {4}└ ports: 31000-32000\n/);
    const log = await readFile(manager.process.logFile, "utf8");
    expect(log).toContain("WARNING: the mesos driver is currently experimental, use at your own risks");
    const [framework] = master.frameworks();
    expect(framework).toMatchObject({ name: "swarm", user: "root", connected: true, failoverTimeout: 60 });
  });

  it("runs a container as a task on an agent's engine, lists only tasks' containers, and serves it like any other", async () => {
    const id = (await swarm("run", "-d", "-m", "32m", "--network", "none", "--name", "web", "busybox", "sh", "-c", "echo from-a-task; sleep 600")).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const task = master.tasks().find((t) => t.containerId === id);
    expect(task).toMatchObject({ state: "TASK_RUNNING" });
    expect(task!.id).toMatch(/^web\.[0-9a-f]{12}$/);
    const node = (await swarm("inspect", "-f", "{{.Node.Name}}", id)).stdout.trim();
    const engine = cluster.engines.find((e) => e.name === node)!;
    // The container is the engine's own, labelled with its task.
    expect((await docker(engine, ["inspect", "-f", `{{index .Config.Labels "${TASK_LABEL}"}} {{.HostConfig.Memory}}`, id])).stdout.trim()).toBe(
      `${task!.id} ${32 * 1024 * 1024}`,
    );
    expect((await swarm("logs", "web")).stdout.trim()).toBe("from-a-task");
    expect((await swarm("exec", "web", "echo", "exec-in-a-task")).stdout.trim()).toBe("exec-in-a-task");
    expect((await swarm("top", "web")).stdout).toContain("sleep 600");
    expect((await swarm("stats", "--no-stream", "--format", "{{.ID}}", "web")).stdout.trim()).toBe(id.slice(0, 12));
    // Started directly on an engine, not through Mesos: not the cluster's.
    await docker(cluster.engines[0]!, ["run", "-d", "--network", "none", "--name", "outsider", "busybox", "sleep", "600"]);
    await waitFor({
      what: "the manager did not see the outsider on its engine",
      timeoutMs: 10_000,
      probe: async () => ((await swarm("inspect", "outsider").catch(() => undefined)) ? true : undefined),
    });
    const names = (await swarm("ps", "-a", "--format", "{{.Names}}")).stdout.trim().split("\n");
    expect(names).toEqual([`${node}/web`]);
  });

  it("refuses creates without resources and with a name in use, with classic Swarm's messages", async () => {
    expect(await refusal(swarm("run", "-d", "--network", "none", "busybox", "true"))).toContain(
      "resources constraints (-c and/or -m) are required by mesos",
    );
    expect(await refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "--name", "web", "busybox", "true"))).toContain(
      "Conflict: The name web is already assigned or in pending tasks. You have to delete (or rename) that container to be able to assign web to a container again.",
    );
  });

  it("places by the filters over the offers, and fails a task no agent can take after the task timeout", async () => {
    const id = (await swarm("run", "-d", "-m", "32m", "--network", "none", "-e", "constraint:node==node-2", "busybox", "sleep", "600")).stdout.trim();
    expect((await swarm("inspect", "-f", "{{.Node.Name}}", id)).stdout.trim()).toBe("node-2");
    const startedAt = Date.now();
    expect(await refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "-e", "constraint:node==node-9", "busybox", "true"))).toContain(
      "container failed to start after 4s",
    );
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(4_000);
  });

  it("passes on why Mesos failed a task", async () => {
    master.failNextLaunch("Abnormal executor termination");
    expect(await refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "busybox", "true"))).toContain(
      "Abnormal executor termination : please verify your SWARM_MESOS_USER is correctly set",
    );
    const missing = await refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "127.0.0.1:9/nowhere:1", "true"));
    expect(missing).toContain("Failed to launch container");
  });

  it("kills the task on docker rm -f, and the container is gone", async () => {
    const id = (await swarm("inspect", "-f", "{{.Id}}", "web")).stdout.trim();
    const taskId = (await swarm("inspect", "-f", `{{index .Config.Labels "${TASK_LABEL}"}}`, "web")).stdout.trim();
    await swarm("rm", "-f", "web");
    expect(master.calls.some((call) => call.type === "KILL" && JSON.stringify(call.body).includes(taskId))).toBe(true);
    expect(master.tasks().find((t) => t.id === taskId)?.state).toBe("TASK_KILLED");
    for (const engine of cluster.engines) expect((await docker(engine, ["ps", "-aq", "--no-trunc"])).stdout).not.toContain(id);
    expect((await swarm("ps", "-a", "--format", "{{.Names}}")).stdout).not.toContain("web");
  });

  it("subscribes again with its framework ID after the master restarts, and keeps its running tasks listed", async () => {
    const frameworkId = master.frameworks()[0]!.id;
    const before = (await swarm("ps", "-q")).stdout.trim().split("\n").sort();
    expect(before.length).toBeGreaterThan(0);
    await master.stop();
    await master.start();
    await waitFor({
      what: "the manager did not subscribe again",
      timeoutMs: 30_000,
      probe: async () => (master.frameworks().some((f) => f.id === frameworkId && f.connected) ? true : undefined),
    });
    expect(master.frameworks()).toHaveLength(1);
    await waitForOffers(manager, 2);
    expect((await swarm("ps", "-q")).stdout.trim().split("\n").sort()).toEqual(before);
    expect(master.calls.some((call) => call.type === "RECONCILE")).toBe(true);
    // Creates work again.
    await swarm("run", "-d", "-m", "32m", "--network", "none", "busybox", "sleep", "600");
  });

  it("subscribes again when the master's heartbeats stop", async () => {
    const subscriptions = () => master.calls.filter((call) => call.type === "SUBSCRIBE").length;
    const seen = subscriptions();
    const frameworkId = master.frameworks()[0]!.id;
    const startedAt = Date.now();
    master.pauseHeartbeats(true);
    try {
      await waitFor({ what: "no new SUBSCRIBE after heartbeats stopped", timeoutMs: 20_000, probe: async () => (subscriptions() > seen ? true : undefined) });
    } finally {
      master.pauseHeartbeats(false);
    }
    // Three heartbeats of a second each, then the first retry.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    await waitForOffers(manager, 2);
    expect(master.frameworks().map((f) => [f.id, f.connected])).toEqual([[frameworkId, true]]);
  });

  /** Holds the master's events (not its handling of calls) while `during` runs: what it says then arrives late, in order. */
  const withEventsHeld = async (during: () => Promise<void>) => {
    master.pauseHeartbeats(true);
    try {
      await during();
    } finally {
      master.pauseHeartbeats(false);
    }
  };
  const accepts = () => master.calls.filter((call) => call.type === "ACCEPT").length;

  it("launches again when Mesos refuses a launch because its offer was rescinded meanwhile", async () => {
    await waitForOffers(manager, 2);
    let create: Promise<string> | undefined;
    const seen = accepts();
    await withEventsHeld(async () => {
      // The manager has not heard of the rescinds when it launches on node-1's offer.
      for (const offer of master.outstandingOffers().filter((o) => o.agentId === agentOf(0))) master.rescind(offer.id);
      create = swarm("run", "-d", "-m", "32m", "--network", "none", "-e", "constraint:node==node-1", "busybox", "sleep", "600").then((r) => r.stdout.trim());
      await waitFor({ what: "no ACCEPT", timeoutMs: 2_000, intervalMs: 50, probe: async () => (accepts() > seen ? true : undefined) });
    });
    const id = await create!;
    expect((await swarm("inspect", "-f", "{{.Node.Name}}", id)).stdout.trim()).toBe("node-1");
    expect(accepts()).toBeGreaterThanOrEqual(seen + 2);
    expect(master.tasks().some((t) => t.state === "TASK_LOST")).toBe(true);
  });

  it("drops a lost agent's containers from the cluster and fails its creates in flight with Mesos's message", async () => {
    const onAgent2 = (await swarm("ps", "-q", "--no-trunc", "--filter", "node=node-2")).stdout.trim();
    expect(onAgent2).not.toBe("");
    await waitForOffers(manager, 2);
    let inFlight: Promise<string> | undefined;
    const seen = accepts();
    await withEventsHeld(async () => {
      inFlight = refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "-e", "constraint:node==node-2", "busybox", "sleep", "600"));
      await waitFor({ what: "no ACCEPT", timeoutMs: 2_000, intervalMs: 50, probe: async () => (accepts() > seen ? true : undefined) });
      master.loseAgent(agentOf(1));
    });
    expect(await inFlight!).toContain(`Agent ${agentOf(1)} removed`);
    await waitFor({
      what: "node-2's containers were still listed after its agent was lost",
      timeoutMs: 20_000,
      probe: async () => ((await swarm("ps", "-a", "--filter", "node=node-2", "-q")).stdout.trim() === "" ? true : undefined),
    });
    expect(await refusal(swarm("run", "-d", "-m", "32m", "--network", "none", "-e", "constraint:node==node-2", "busybox", "true"))).toContain(
      "container failed to start after 4s",
    );
    const elsewhere = (await swarm("run", "-d", "-m", "32m", "--network", "none", "busybox", "sleep", "600")).stdout.trim();
    expect((await swarm("inspect", "-f", "{{.Node.Name}}", elsewhere)).stdout.trim()).toBe("node-1");
  });

  it("finds the leading master through ZooKeeper, and follows a master that redirects to the leader", async () => {
    const registration = await registerMasterInZookeeper({ connectString: zookeeper.endpoint }, "/mesos", master);
    const follower = await startFakeMesosMaster({ agents: [], redirectTo: () => master.address });
    try {
      const viaZk = await startManager(`zk://${zookeeper.endpoint}/mesos`);
      await waitForOffers(viaZk, 1);
      await viaZk.stop();
      const viaFollower = await startManager(follower.address);
      await waitForOffers(viaFollower, 1);
      await viaFollower.stop();
    } finally {
      await follower.close();
      await registration.close();
    }
  });

  it("declines an offer it has not used within mesos.offertimeout, asking Mesos to keep it away for mesos.offerrefusetimeout", async () => {
    // A master of its own, so that no other framework holds the offer.
    const quiet = await startFakeMesosMaster({
      heartbeatIntervalSeconds: 1,
      agents: [{ id: "agent-q", hostname: "127.0.0.1", engine: { host: "127.0.0.1", port: cluster.engines[0]!.port }, cpus: 1, memMiB: 512, attributes: { docker_port: cluster.engines[0]!.port } }],
    });
    const declines = () => quiet.calls.filter((call) => call.type === "DECLINE");
    try {
      const declining = await startManager(quiet.address, ["--cluster-opt", "mesos.offertimeout=1s", "--cluster-opt", "mesos.offerrefusetimeout=7s"]);
      try {
        await waitFor({ what: "no DECLINE", timeoutMs: 15_000, probe: async () => (declines().length > 0 ? true : undefined) });
        expect(JSON.stringify(declines()[0]!.body)).toContain('"refuse_seconds":7');
      } finally {
        await declining.stop();
      }
    } finally {
      await quiet.close();
    }
  });

  it("ends the framework on a clean stop", async () => {
    const frameworkId = master.frameworks().find((f) => f.connected)!.id;
    await manager.stop();
    expect(master.calls.some((call) => call.type === "TEARDOWN")).toBe(true);
    expect(master.frameworks().find((f) => f.id === frameworkId)).toBeUndefined();
  });
});
