import { ResourceReasons, defineStrategy, formatBytes, weighResources, type StrategyScore } from "@swarm/core";

export const REASON_MEMORY_TOO_SMALL = ResourceReasons.memoryTooSmall;
export const REASON_CPUS_TOO_FEW = ResourceReasons.cpusTooFew;
export const REASON_NOT_ENOUGH_MEMORY = ResourceReasons.notEnoughMemory;
export const REASON_NOT_ENOUGH_CPUS = ResourceReasons.notEnoughCpus;

/** Classic Swarm penalises spread placements on nodes with recent connection failures. */
export const HEALTH_FACTOR = -10;

export { weighResources as weigh, formatBytes };

export default defineStrategy({
  name: "spread",
  description: "Places containers on the least loaded node (lowest weight, then fewest containers).",
  apiVersion: "^1",
  create() {
    return {
      tieBreak: "fewer-containers",
      score(request, node): StrategyScore {
        const result = weighResources(request, node, HEALTH_FACTOR);
        // The host ranks highest first; classic spread prefers the lowest weight.
        return result.fits ? { fits: true, score: -result.weight } : result;
      },
    };
  },
});
