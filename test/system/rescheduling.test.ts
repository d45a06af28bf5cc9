import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * Rescheduling on node failure (§6) with two real engines: one is killed like a crashed host and
 * started again, and the manager moves what asked to be moved, leaves the rest, and removes the
 * old copies when the node returns.
 */
describe("rescheduling on node failure", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let node1: TestEngine;
  let node2: TestEngine;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const out = async (...args: string[]) => (await swarm(...args)).stdout.trim();
  const failure = (...args: string[]) =>
    swarm(...args).then(
      () => "succeeded",
      (err: Error) => err.message,
    );

  beforeAll(async () => {
    cluster = await startEngines(2);
    [node1, node2] = [cluster.engines[0]!, cluster.engines[1]!];
    await ensureBusyboxImage(cluster.engines);
    // One failed refresh flags an engine: the watchdog starts within a couple of seconds.
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s", "--engine-failure-retry", "1"],
    });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("moves on-node-failure containers off a dead node and starts them, leaves the others, and removes old copies when it returns", async () => {
    const run = (name: string, ...env: string[]) =>
      swarm("run", "-d", "--name", name, "--network", "none", ...env.flatMap((e) => ["-e", e]), "busybox", "sleep", "600");
    await run("mover", "reschedule:on-node-failure", `constraint:node==~${node1.name}`);
    await run("stayer", `constraint:node==~${node1.name}`);
    await run("pinned", "reschedule:on-node-failure", `constraint:node==${node1.name}`);
    expect(await out("inspect", "-f", "{{.Node.Name}}", "mover")).toBe(node1.name);
    const swarmId = await out("inspect", "-f", '{{index .Config.Labels "com.docker.swarm.id"}}', "mover");

    await node1.kill();
    await waitFor({
      what: "the manager did not move mover to the other node and start it",
      timeoutMs: 30_000,
      process: manager.process,
      probe: async () => ((await out("inspect", "-f", "{{.Node.Name}} {{.State.Running}}", "mover").catch(() => "")) === `${node2.name} true` ? true : undefined),
    });
    // Same Swarm ID, so the ID clients kept still names it.
    expect(await out("inspect", "-f", '{{index .Config.Labels "com.docker.swarm.id"}}', "mover")).toBe(swarmId);
    // Without the policy it stays; with a hard constraint on the dead node it cannot be placed.
    expect(await failure("inspect", "stayer")).toContain(`running on unhealthy node ${node1.name}`);
    expect(await failure("inspect", "pinned")).toContain(`running on unhealthy node ${node1.name}`);
    const log = await readFile(manager.process.logFile, "utf8");
    expect(log).toMatch(new RegExp(`Rescheduled container [0-9a-f]{64} from ${node1.name} to ${node2.name} as [0-9a-f]{64}`));
    expect(log).toMatch(/Failed to reschedule container [0-9a-f]{64}: Unable to find a node that satisfies the following conditions/);

    await node1.start();
    await waitFor({
      what: "the manager did not remove the old mover from the returned node",
      timeoutMs: 30_000,
      process: manager.process,
      probe: async () => ((await docker(node1, ["ps", "-aq", "--filter", "name=mover"])).stdout.trim() === "" ? true : undefined),
    });
    expect(await out("ps", "-a", "--filter", "name=mover", "--format", "{{.Names}}")).toBe(`${node2.name}/mover`);
    expect((await docker(node1, ["ps", "-a", "--format", "{{.Names}}"])).stdout.trim().split("\n").sort()).toEqual(["pinned", "stayer"]);
    await swarm("rm", "-f", "mover", "stayer", "pinned");
  });
});
