import { Type, defineStrategy } from "@swarm/core";

export const REASON_TOO_LITTLE_MEMORY = "acme.free-memory";

/**
 * Places each container on the engine with the most unreserved memory, and refuses engines that
 * would keep less than `reserveMiB` free.
 */
export default defineStrategy({
  name: "acme/free-memory",
  apiVersion: "^1",
  description: "most free memory first, keeping a reserve",
  options: Type.Object({ reserveMiB: Type.Integer({ minimum: 0, default: 0 }) }, { additionalProperties: false }),
  create(ctx) {
    const reserve = ctx.options.reserveMiB * 1024 * 1024;
    return {
      tieBreak: "fewer-containers",
      score(request, node) {
        const free = node.totalMemory - node.usedMemory - request.memory;
        if (free < reserve) return { fits: false, code: REASON_TOO_LITTLE_MEMORY, reason: `node(s) would keep less than ${ctx.options.reserveMiB} MiB free` };
        return { fits: true, score: free };
      },
    };
  },
});
