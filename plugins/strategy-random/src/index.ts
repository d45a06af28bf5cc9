import { randomFillSync } from "node:crypto";
import { Type, defineStrategy } from "@swarm/core";
import type { StrategyScore } from "@swarm/core";

/** A source of uniformly distributed numbers in [0, 1). */
export type RandomSource = () => number;

/** mulberry32: tiny, fast and good enough to shuffle nodes; the same seed gives the same sequence. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Crypto randomness, drawn in batches: one syscall per 1,024 scores rather than one each. */
export function cryptoRandom(): RandomSource {
  const buffer = new Uint32Array(1024);
  let next = buffer.length;
  return () => {
    if (next === buffer.length) {
      randomFillSync(buffer);
      next = 0;
    }
    return (buffer[next++] ?? 0) / 2 ** 32;
  };
}

const options = Type.Object(
  {
    seed: Type.Optional(
      Type.Integer({ description: "Seed for a reproducible order (tests, demos); unseeded uses crypto randomness." }),
    ),
  },
  { additionalProperties: false },
);

export default defineStrategy({
  name: "random",
  apiVersion: "^1",
  description: "Places containers on a random node; no resource check.",
  options,
  create({ options: { seed } }) {
    const random = seed === undefined ? cryptoRandom() : seededRandom(seed);
    return {
      // Random scores sorted by the host amount to a shuffle; ties need no further order.
      tieBreak: "none",
      score: (): StrategyScore => ({ fits: true, score: random() }),
    };
  },
});
