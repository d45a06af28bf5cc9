import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { startManagerProcess, waitFor, waitForHealthyNodes, type ManagerProcess } from "@swarm/test-harness";
import { captureDockerRun, RECORDED_RUN_BODY } from "../../bench/fleet/docker-cli.js";
import { startFleet, type Fleet } from "@swarm/core/testing/fleet";

/**
 * A real `swarm manage` (the built CLI) in front of 200 simulated engines: 2,000 containers created
 * and started through its API the way `docker run -d busybox sleep 600` does it, 32 at a time.
 * Correctness only (no errors, an even spread, every container listed and counted); timing is the
 * scale benchmark's business (npm run bench:scale).
 */

const ENGINES = 200;
const CONTAINERS = 2_000;
const CONCURRENCY = 32;

interface InfoAnswer {
  readonly Containers: number;
  readonly ContainersRunning: number;
  readonly SystemStatus: Array<[string, string]> | null;
}

describe("a manager in front of 200 simulated engines", () => {
  let fleet: Fleet | undefined;
  let manager: ManagerProcess | undefined;
  let agent: Agent | undefined;
  let createBody = RECORDED_RUN_BODY;

  const info = async (): Promise<InfoAnswer> => (await (await request(`${manager!.url}/v1.41/info`, { dispatcher: agent })).body.json()) as InfoAnswer;

  beforeAll(async () => {
    fleet = await startFleet({ engines: ENGINES, labels: (i) => ({ region: ["eu", "us", "ap"][i % 3]! }) });
    manager = await startManagerProcess({ discovery: `nodes://${fleet.addresses.join(",")}` });
    agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
    await waitForHealthyNodes(manager, ENGINES, 60_000);
    try {
      createBody = (await captureDockerRun(["-d", "busybox", "sleep", "600"])).body;
    } catch {
      // No docker CLI here: the body CLI 28.2.2 sent will do.
    }
  });

  afterAll(async () => {
    await agent?.close();
    await manager?.stop();
    await fleet?.stop();
  });

  it("creates and starts 2,000 containers without an error, spread evenly, all listed with their node", async () => {
    const errors: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < CONTAINERS) {
        next++;
        const created = await request(`${manager!.url}/v1.41/containers/create`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: createBody,
          dispatcher: agent,
        });
        const answer = await created.body.text();
        if (created.statusCode !== 201) {
          errors.push(`create: ${created.statusCode} ${answer}`);
          continue;
        }
        const id = (JSON.parse(answer) as { Id: string }).Id;
        const started = await request(`${manager!.url}/v1.41/containers/${id}/start`, { method: "POST", dispatcher: agent });
        const startAnswer = await started.body.text();
        if (started.statusCode !== 204) errors.push(`start: ${started.statusCode} ${startAnswer}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(errors.slice(0, 5)).toEqual([]);

    const stats = fleet!.stats();
    const perEngine = stats.byEngine.map((e) => e.containers);
    expect(stats.containers).toBe(CONTAINERS);
    expect(Math.max(...perEngine) - Math.min(...perEngine)).toBeLessThanOrEqual(2);

    const listed = (await (await request(`${manager!.url}/v1.41/containers/json?all=1`, { dispatcher: agent })).body.json()) as Array<{ Id: string; Names: string[] }>;
    expect(listed).toHaveLength(CONTAINERS);
    const expectedNames = new Map<string, string>();
    for (const engine of fleet!.engines) for (const { id, name } of engine.containerNames()) expectedNames.set(id, `/${engine.name}/${name}`);
    const wrong = listed.filter((c) => !c.Names.includes(expectedNames.get(c.Id) ?? "(not on any engine)"));
    expect(wrong.slice(0, 3)).toEqual([]);

    const healthy = (await info()).SystemStatus?.filter(([key, value]) => key === "  └ Status" && value === "Healthy").length;
    expect(healthy).toBe(ENGINES);
    expect((await info()).Containers).toBe(CONTAINERS);
    // The running state reaches the manager through each engine's event stream.
    await waitFor({ what: "the manager did not count 2,000 running containers", timeoutMs: 20_000, probe: async () => ((await info()).ContainersRunning === CONTAINERS ? true : undefined) });

    expect(fleet!.stats().unanswered).toEqual([]);
  });
});
