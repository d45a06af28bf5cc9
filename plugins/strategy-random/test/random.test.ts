import { describe, expect, it } from "vitest";
import type { Logger, NodeView, Strategy } from "@swarm/core";
import { makeNode, makeRequest } from "@swarm/core/testing";
import random, { cryptoRandom, seededRandom } from "../src/index.js";

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const create = (options: { seed?: number }) =>
  random.create({ name: "random", options, logger, signal: new AbortController().signal, clock: { now: () => 0 } });

const nodes = Array.from({ length: 8 }, (_, i) => makeNode({ name: `node-${i}` }));

function order(strategy: Strategy, candidates: NodeView[] = nodes): string[] {
  const request = makeRequest();
  return candidates
    .map((node) => {
      const result = strategy.score(request, node);
      if (!result.fits) throw new Error("random never rejects");
      return { name: node.name, score: result.score };
    })
    .sort((a, b) => b.score - a.score)
    .map(({ name }) => name);
}

describe("random strategy", () => {
  it("is classic Swarm's random with an optional integer seed", () => {
    expect(random.name).toBe("random");
    expect(random.kind).toBe("strategy");
    expect(random.options?.properties.seed.type).toBe("integer");
    expect(random.options?.required ?? []).toEqual([]);
  });

  it("gives the same orders for the same seed", async () => {
    const a = await create({ seed: 42 });
    const b = await create({ seed: 42 });
    expect(a.tieBreak).toBe("none");
    const first = [order(a), order(a), order(a)];
    expect([order(b), order(b), order(b)]).toEqual(first);
    // Successive decisions do not repeat one order.
    expect(new Set(first.map((o) => o.join())).size).toBeGreaterThan(1);
  });

  it("gives different orders for different seeds", async () => {
    const a = await create({ seed: 1 });
    const b = await create({ seed: 2 });
    expect(order(a)).not.toEqual(order(b));
  });

  it("does not check resources", async () => {
    const strategy = await create({});
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
