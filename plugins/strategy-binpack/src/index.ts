import { ResourceReasons, defineStrategy, formatBytes, weighResources, type StrategyScore } from "@swarm/core";

export const REASON_MEMORY_TOO_SMALL = ResourceReasons.memoryTooSmall;
export const REASON_CPUS_TOO_FEW = ResourceReasons.cpusTooFew;
export const REASON_NOT_ENOUGH_MEMORY = ResourceReasons.notEnoughMemory;
export const REASON_NOT_ENOUGH_CPUS = ResourceReasons.notEnoughCpus;

/** Classic Swarm favours binpack placements on nodes without recent connection failures. */
export const HEALTH_FACTOR = 10;

export { weighResources as weigh, formatBytes };

export default defineStrategy({
  name: "binpack",
  aliases: ["binpacking"],
  description: "Packs containers onto the fullest node that still fits (highest weight, then most containers).",
  apiVersion: "^1",
  create() {
    return {
      tieBreak: "more-containers",
      score(request, node): StrategyScore {
        const result = weighResources(request, node, HEALTH_FACTOR);
        return result.fits ? { fits: true, score: result.weight } : result;
      },
    };
  },
});
