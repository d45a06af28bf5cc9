import { afterEach, describe, expect, it } from "vitest";
import { makeContainer, makeNode, makeRequest, startTestManager, testFilter, testPlacement, testStrategy, type PlacementUnderTest } from "@swarm/core/testing";
import maintenance, { REASON_IN_MAINTENANCE } from "../src/maintenance.js";
import freeMemory from "../src/free-memory.js";
import leastRecent from "../src/least-recent.js";

const GiB = 1024 ** 3;
const nodes = [
  makeNode({ name: "node-1", totalMemory: 8 * GiB, usedMemory: 1 * GiB }),
  makeNode({ name: "node-2", totalMemory: 8 * GiB, usedMemory: 0, labels: { maintenance: "true" } }),
  makeNode({ name: "node-3", totalMemory: 4 * GiB, usedMemory: 0 }),
];

/** The example package's plugins, tested with swarm's public test kit only. */
describe("example third-party plugins", () => {
  let placement: PlacementUnderTest | undefined;
  afterEach(async () => {
    await placement?.stop();
    placement = undefined;
  });

  it("keeps containers off engines in maintenance, unless a request opts in", async () => {
    placement = await testFilter(maintenance);
    expect(placement.rank(makeRequest(), nodes)).toEqual(["node-1", "node-3"]);
    expect(placement.rank(makeRequest({ env: ["maintenance:ok"] }), nodes)).toEqual(["node-1", "node-2", "node-3"]);
    expect(placement.reasons(makeRequest(), [nodes[1]!])).toEqual({ [REASON_IN_MAINTENANCE]: 1 });
  });

  it("prefers free memory, keeping the reserve its options ask for", async () => {
    placement = await testStrategy(freeMemory, { reserveMiB: 512 });
    expect(placement.rank(makeRequest(), nodes)).toEqual(["node-2", "node-1", "node-3"]);
  });

  it("sends each container to the engine that received one least recently", async () => {
    placement = await testStrategy(leastRecent);
    let current = nodes.map((node) => ({ ...node }));
    const placed: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [first] = placement.rank(makeRequest(), current);
      placed.push(first!);
      // The chosen engine now holds one more container, as the manager's view would show it.
      current = current.map((node) => (node.name === first ? { ...node, containers: [...node.containers, makeContainer()] } : node));
    }
    expect(placed).toEqual(["node-1", "node-2", "node-3", "node-1", "node-2", "node-3"]);
  });

  it("explain a refusal together with their own reasons", async () => {
    placement = await testPlacement({ filters: [[maintenance]], strategy: [freeMemory, { reserveMiB: 512 }] });
    const request = makeRequest({ config: { HostConfig: { Memory: 7 * GiB } } });
    expect(placement.refusal(request, nodes)).toBe(
      "no resources available to schedule container\n0/3 nodes available: 2 node(s) would keep less than 512 MiB free, 1 node(s) are in maintenance",
    );
  });

  it("are refused options their schema does not allow, as the manager refuses them", async () => {
    await expect(testStrategy(freeMemory, { reserveMiB: "lots" })).rejects.toThrow(/strategy\/acme\/free-memory options are invalid:\n {2}pluginOptions\.acme\/free-memory\.reserveMiB/);
  });
});

/** The same plugins in a whole manager, in this process, in front of simulated engines: no root, no dockerd. */
describe("example plugins behind a manager", () => {
  it("a burst of docker runs goes round the engines least recently given one, none in maintenance", async () => {
    const manager = await startTestManager({
      engines: { engines: 4, labels: (i) => (i === 3 ? { maintenance: "true" } : {}) },
      config: { filters: ["health", "acme/maintenance"], strategy: "acme/least-recent" },
      plugins: [maintenance, leastRecent],
    });
    try {
      const placed: string[] = [];
      for (let i = 0; i < 6; i++) placed.push((await manager.run()).node);
      expect(placed).not.toContain("sim-0004");
      expect(new Set(placed.slice(0, 3)).size).toBe(3);
      expect(placed.slice(3)).toEqual(placed.slice(0, 3));
    } finally {
      await manager.stop();
    }
  });
});
