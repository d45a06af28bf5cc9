import { afterAll, describe, expect, it } from "vitest";
import { makeNode, makePluginContext, makeRequest, testStrategy, type PlacementUnderTest } from "@swarm/core/testing";
import random, { cryptoRandom, seededRandom } from "../src/index.js";

const nodes = Array.from({ length: 8 }, (_, i) => makeNode({ name: `node-${i}` }));

/** The strategy under the real scheduler, its options validated as the host validates them. */
const placements: PlacementUnderTest[] = [];
async function place(options: { seed?: number }): Promise<PlacementUnderTest> {
  const placement = await testStrategy(random, options);
  placements.push(placement);
  return placement;
}
afterAll(async () => {
  for (const placement of placements) await placement.stop();
});

/** One decision: every node fits, so the order is the strategy's scores alone. */
const order = (placement: PlacementUnderTest): string[] => placement.rank(makeRequest(), nodes);

describe("random strategy", () => {
  it("is classic Swarm's random with an optional integer seed", () => {
    expect(random.name).toBe("random");
    expect(random.kind).toBe("strategy");
    expect(random.options?.properties.seed.type).toBe("integer");
    expect(random.options?.required ?? []).toEqual([]);
  });

  it("gives the same orders for the same seed", async () => {
    const a = await place({ seed: 42 });
    const b = await place({ seed: 42 });
    const first = [order(a), order(a), order(a)];
    expect([order(b), order(b), order(b)]).toEqual(first);
    // Successive decisions do not repeat one order.
    expect(new Set(first.map((o) => o.join())).size).toBeGreaterThan(1);
  });

  it("gives different orders for different seeds", async () => {
    const a = await place({ seed: 1 });
    const b = await place({ seed: 2 });
    expect(order(a)).not.toEqual(order(b));
  });

  it("refuses a seed that is not an integer, as the manager does", async () => {
    await expect(testStrategy(random, { seed: 1.5 })).rejects.toThrow(/seed/);
  });

  it("does not check resources and breaks no ties", async () => {
    const strategy = await random.create(makePluginContext("random", {}));
    expect(strategy.tieBreak).toBe("none");
    const huge = makeRequest({ config: { HostConfig: { Memory: 1000 * 1024 ** 4, CpuShares: 10240 } } });
    const result = strategy.score(huge, makeNode({ health: "unhealthy", healthIndicator: 0 }));
    expect(result.fits).toBe(true);
  });

  it.each([
    ["seeded", seededRandom(7)],
    ["crypto", cryptoRandom()],
  ])("%s numbers are in [0, 1) and spread evenly enough to shuffle", (_name, next) => {
    const firsts = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const scores = [next(), next(), next()];
      for (const s of scores) expect(s >= 0 && s < 1).toBe(true);
      const winner = scores.indexOf(Math.max(...scores));
      firsts.set(winner, (firsts.get(winner) ?? 0) + 1);
    }
    for (const index of [0, 1, 2]) expect(firsts.get(index) ?? 0).toBeGreaterThan(850);
  });

  it("accepts any integer seed, negative and large ones included", () => {
    expect(seededRandom(-1)()).toBe(seededRandom(2 ** 32 - 1)());
    expect(seededRandom(0)()).not.toBe(seededRandom(1)());
  });
});
