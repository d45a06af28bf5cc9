import { afterAll, describe, expect, it } from "vitest";
import type { NodeView, ScheduleRequest, StrategyScore } from "@swarm/core";
import { makeContainer, makeNode, makePluginContext, makeRequest, testStrategy } from "@swarm/core/testing";
import spread, {
  HEALTH_FACTOR,
  REASON_CPUS_TOO_FEW,
  REASON_MEMORY_TOO_SMALL,
  REASON_NOT_ENOUGH_CPUS,
  REASON_NOT_ENOUGH_MEMORY,
  weigh,
} from "../src/index.js";

const strategy = await spread.create(makePluginContext("spread", {}));

const GiB = 1024 ** 3;

function request(cpus: number, memory: number): ScheduleRequest {
  return makeRequest({ config: { HostConfig: { CpuShares: cpus, Memory: memory } } });
}

const containers = (count: number, cpus = 0, memory = 0) =>
  Array.from({ length: count }, (_, i) => makeContainer({ id: `${i}`.repeat(64), name: `c${i}`, cpus, memory }));

/** The strategy under the real scheduler: the host's ordering (score, then the tie-break, then name). */
const placement = await testStrategy(spread);
afterAll(() => placement.stop());

describe("spread strategy", () => {
  it("is classic Swarm's spread", () => {
    expect(spread.name).toBe("spread");
    expect(spread.kind).toBe("strategy");
    expect(strategy.tieBreak).toBe("fewer-containers");
    expect(HEALTH_FACTOR).toBe(-10);
  });

  it.each<{ name: string; node: NodeView; cpus: number; memory: number; score: number }>([
    // weight = cpuScore + memScore - 10 * healthIndicator; score = -weight.
    { name: "no request", node: makeNode(), cpus: 0, memory: 0, score: -(100 + 100 - 1000) },
    { name: "no request, degraded health", node: makeNode({ healthIndicator: 50 }), cpus: 0, memory: 0, score: -(200 - 500) },
    { name: "half the CPUs", node: makeNode({ totalCpus: 4, usedCpus: 1 }), cpus: 1, memory: 0, score: -(50 + 100 - 1000) },
    { name: "integer division", node: makeNode({ totalCpus: 3, usedCpus: 1 }), cpus: 1, memory: 0, score: -(66 + 100 - 1000) },
    { name: "memory", node: makeNode({ totalMemory: 8 * GiB, usedMemory: 2 * GiB }), cpus: 0, memory: 2 * GiB, score: -(100 + 50 - 1000) },
    { name: "exactly full", node: makeNode({ totalCpus: 4, usedCpus: 3 }), cpus: 1, memory: 0, score: -(100 + 100 - 1000) },
    // (1005 * 100) / 1000 truncates to 100: classic Swarm lets this through.
    { name: "truncation lets a slight overcommit fit", node: makeNode({ totalMemory: 1000, usedMemory: 5 }), cpus: 0, memory: 1000, score: -(100 + 100 - 1000) },
    { name: "unhealthy node still scores", node: makeNode({ health: "unhealthy", healthIndicator: 0 }), cpus: 0, memory: 0, score: -200 },
  ])("$name", ({ node, cpus, memory, score }) => {
    expect(strategy.score(request(cpus, memory), node)).toEqual({ fits: true, score });
  });

  it.each<{ name: string; node: NodeView; cpus: number; memory: number; result: StrategyScore }>([
    {
      name: "node smaller than the memory request",
      node: makeNode({ totalMemory: 8 * GiB }),
      cpus: 0,
      memory: 1000 * GiB,
      result: { fits: false, code: REASON_MEMORY_TOO_SMALL, reason: "node(s) have too little memory (need 1000 GiB, 8 GiB total)" },
    },
    {
      name: "node smaller than the CPU request",
      node: makeNode({ totalCpus: 4 }),
      cpus: 10240,
      memory: 0,
      result: { fits: false, code: REASON_CPUS_TOO_FEW, reason: "node(s) have too few CPUs (need 10240, 4 total)" },
    },
    {
      name: "not enough free memory",
      node: makeNode({ totalMemory: 2 * GiB, usedMemory: 1.5 * GiB }),
      cpus: 0,
      memory: GiB,
      result: { fits: false, code: REASON_NOT_ENOUGH_MEMORY, reason: "node(s) lack memory (need 1 GiB, 512 MiB free)" },
    },
    {
      name: "not enough free CPUs",
      node: makeNode({ totalCpus: 4, usedCpus: 3 }),
      cpus: 2,
      memory: 0,
      result: { fits: false, code: REASON_NOT_ENOUGH_CPUS, reason: "node(s) lack CPUs (need 2, 1 free)" },
    },
    {
      name: "101% does not fit",
      node: makeNode({ totalMemory: 1000, usedMemory: 10 }),
      cpus: 0,
      memory: 1000,
      result: { fits: false, code: REASON_NOT_ENOUGH_MEMORY, reason: "node(s) lack memory (need 1000 B, 990 B free)" },
    },
  ])("$name", ({ node, cpus, memory, result }) => {
    expect(strategy.score(request(cpus, memory), node)).toEqual(result);
  });

  it("places on the node with fewer containers when weights are equal (stopped ones count)", () => {
    const nodes = [
      makeNode({ name: "a", containers: containers(2) }),
      makeNode({ name: "b", containers: [makeContainer({ id: "e".repeat(64), name: "old", state: "exited" })] }),
      makeNode({ name: "c", containers: containers(3) }),
    ];
    expect(placement.rank(makeRequest(), nodes)).toEqual(["b", "a", "c"]);
  });

  it("prefers the emptier node, then the healthier one", () => {
    const nodes = [
      makeNode({ name: "busy", containers: containers(1, 2) }),
      makeNode({ name: "idle", containers: containers(3, 0) }),
      makeNode({ name: "flaky", healthIndicator: 90 }),
    ];
    expect(placement.rank(request(1, 0), nodes)).toEqual(["idle", "busy", "flaky"]);
  });

  it("spreads two one-CPU containers over two nodes", () => {
    let nodes = [makeNode({ name: "node-0" }), makeNode({ name: "node-1" })];
    for (let i = 0; i < 2; i++) {
      const first = placement.rank(request(1, 0), nodes)[0];
      nodes = nodes.map((n) => (n.name === first ? makeNode({ name: n.name, containers: [...n.containers, ...containers(1, 1)] }) : n));
    }
    expect(nodes.map((n) => n.usedCpus)).toEqual([1, 1]);
  });

  it("weighs exactly as classic Swarm", () => {
    expect(weigh(request(2, GiB), makeNode({ totalCpus: 8, usedCpus: 1, totalMemory: 4 * GiB, usedMemory: GiB, healthIndicator: 70 }), -10)).toEqual({
      fits: true,
      weight: 37 + 50 - 700,
    });
  });
});
