import { defineStrategy } from "@swarm/core";

/**
 * Places each container on the engine that received one least recently, which spreads bursts of
 * creates across engines whatever their size. An engine "receives" a container when its count of
 * containers (pending ones included) grows; one never seen is treated as never having received any.
 */
export default defineStrategy({
  name: "acme/least-recent",
  apiVersion: "^1",
  description: "the engine that received a container least recently first",
  create(ctx) {
    const seen = new Map<string, { count: number; receivedAt: number }>();
    // Two engines that grew at the same instant still rank apart: a counter, not only the clock.
    let sequence = 0;
    return {
      // Engines that never received one tie: the emptier first, then by name.
      tieBreak: "fewer-containers",
      score(_request, node) {
        const count = node.containers.length;
        const known = seen.get(node.id);
        if (known === undefined) {
          seen.set(node.id, { count, receivedAt: 0 });
        } else if (count > known.count) {
          seen.set(node.id, { count, receivedAt: ctx.clock.now() * 1_000 + (sequence++ % 1_000) });
        } else if (count < known.count) {
          seen.set(node.id, { count, receivedAt: known.receivedAt });
        }
        return { fits: true, score: -(seen.get(node.id)?.receivedAt ?? 0) };
      },
    };
  },
});
