import { afterAll, describe, expect, it } from "vitest";
import type { NodeView, ScheduleRequest, StrategyScore } from "@swarm/core";
import { makeContainer, makeNode, makePluginContext, makeRequest, testStrategy } from "@swarm/core/testing";
import binpack, { HEALTH_FACTOR, REASON_CPUS_TOO_FEW, REASON_MEMORY_TOO_SMALL, REASON_NOT_ENOUGH_CPUS, REASON_NOT_ENOUGH_MEMORY, weigh } from "../src/index.js";

const strategy = await binpack.create(makePluginContext("binpack", {}));

const GiB = 1024 ** 3;

function request(cpus: number, memory: number): ScheduleRequest {
  return makeRequest({ config: { HostConfig: { CpuShares: cpus, Memory: memory } } });
}

const containers = (count: number, cpus = 0, memory = 0) =>
  Array.from({ length: count }, (_, i) => makeContainer({ id: `${i}`.repeat(64), name: `c${i}`, cpus, memory }));

/** The strategy under the real scheduler: the host's ordering (score, then the tie-break, then name). */
const placement = await testStrategy(binpack);
afterAll(() => placement.stop());

describe("binpack strategy", () => {
  it("is classic Swarm's binpack, also known as binpacking", () => {
    expect(binpack.name).toBe("binpack");
    expect(binpack.aliases).toEqual(["binpacking"]);
    expect(binpack.kind).toBe("strategy");
    expect(strategy.tieBreak).toBe("more-containers");
    expect(HEALTH_FACTOR).toBe(10);
  });

  it.each<{ name: string; node: NodeView; cpus: number; memory: number; score: number }>([
    // score = weight = cpuScore + memScore + 10 * healthIndicator.
    { name: "no request", node: makeNode(), cpus: 0, memory: 0, score: 100 + 100 + 1000 },
    { name: "degraded health", node: makeNode({ healthIndicator: 50 }), cpus: 0, memory: 0, score: 200 + 500 },
    { name: "integer division", node: makeNode({ totalCpus: 3, usedCpus: 1 }), cpus: 1, memory: 0, score: 66 + 100 + 1000 },
    { name: "memory", node: makeNode({ totalMemory: 8 * GiB, usedMemory: 2 * GiB }), cpus: 0, memory: 2 * GiB, score: 100 + 50 + 1000 },
  ])("$name", ({ node, cpus, memory, score }) => {
    expect(strategy.score(request(cpus, memory), node)).toEqual({ fits: true, score });
  });

  it.each<{ name: string; node: NodeView; cpus: number; memory: number; result: StrategyScore }>([
    {
      name: "-m 1000G",
      node: makeNode(),
      cpus: 0,
      memory: 1000 * GiB,
      result: { fits: false, code: REASON_MEMORY_TOO_SMALL, reason: "node(s) have too little memory (need 1000 GiB, 8 GiB total)" },
    },
    {
      name: "--cpu-shares 10240",
      node: makeNode(),
      cpus: 10240,
      memory: 0,
      result: { fits: false, code: REASON_CPUS_TOO_FEW, reason: "node(s) have too few CPUs (need 10240, 4 total)" },
    },
    {
      name: "full memory",
      node: makeNode({ totalMemory: 2 * GiB, usedMemory: 1.5 * GiB }),
      cpus: 0,
      memory: GiB,
      result: { fits: false, code: REASON_NOT_ENOUGH_MEMORY, reason: "node(s) lack memory (need 1 GiB, 512 MiB free)" },
    },
    {
      name: "full CPUs",
      node: makeNode({ totalCpus: 4, usedCpus: 4 }),
      cpus: 1,
      memory: 0,
      result: { fits: false, code: REASON_NOT_ENOUGH_CPUS, reason: "node(s) lack CPUs (need 1, 0 free)" },
    },
  ])("$name does not fit", ({ node, cpus, memory, result }) => {
    expect(strategy.score(request(cpus, memory), node)).toEqual(result);
  });

  it("puts a 1 GB container next to two 1 GB containers rather than one 2 GB container", () => {
    const nodes = [
      makeNode({ name: "node-1", totalMemory: 4 * GiB, containers: [makeContainer({ id: "a".repeat(64), name: "big", memory: 2 * GiB })] }),
      makeNode({ name: "node-2", totalMemory: 4 * GiB, containers: containers(2, 0, GiB) }),
    ];
    expect(placement.rank(request(0, GiB), nodes)).toEqual(["node-2", "node-1"]);
  });

  it("prefers the fuller node, then the one with more containers", () => {
    const nodes = [
      makeNode({ name: "empty" }),
      makeNode({ name: "loaded", containers: containers(1, 2) }),
      makeNode({ name: "many", containers: containers(4) }),
    ];
    expect(placement.rank(request(1, 0), nodes)).toEqual(["loaded", "many", "empty"]);
  });

  it("packs two one-CPU containers onto one node", () => {
    let nodes = [makeNode({ name: "node-0" }), makeNode({ name: "node-1" })];
    for (let i = 0; i < 2; i++) {
      const first = placement.rank(request(1, 0), nodes)[0];
      nodes = nodes.map((n) => (n.name === first ? makeNode({ name: n.name, containers: [...n.containers, ...containers(1, 1)] }) : n));
    }
    expect(nodes.map((n) => n.usedCpus).sort()).toEqual([0, 2]);
  });

  it("prefers a healthy node over a fuller one with recent failures", () => {
    const nodes = [makeNode({ name: "full-flaky", healthIndicator: 90, containers: containers(1, 3) }), makeNode({ name: "empty-healthy" })];
    expect(placement.rank(request(1, 0), nodes)).toEqual(["empty-healthy", "full-flaky"]);
  });

  it("weighs exactly as classic Swarm", () => {
    expect(weigh(request(2, GiB), makeNode({ totalCpus: 8, usedCpus: 1, totalMemory: 4 * GiB, usedMemory: GiB, healthIndicator: 70 }), 10)).toEqual({
      fits: true,
      weight: 37 + 50 + 700,
    });
  });
});
