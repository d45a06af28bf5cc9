import { defineStrategy } from "@swarm/core";
import type { NodeView, ScheduleRequest, StrategyScore } from "@swarm/core";

export const REASON_MEMORY_TOO_SMALL = "resources.memory-too-small";
export const REASON_CPUS_TOO_FEW = "resources.cpus-too-few";
export const REASON_NOT_ENOUGH_MEMORY = "resources.memory";
export const REASON_NOT_ENOUGH_CPUS = "resources.cpus";

/** Classic Swarm penalises spread placements on nodes with recent connection failures. */
export const HEALTH_FACTOR = -10;

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(2))} ${UNITS[unit]}`;
}

/**
 * Classic Swarm's weighing (§3.6), integer arithmetic included: the lower the weight, the
 * emptier the node. Totals already include overcommit. (Shared with binpack by copy: plugins
 * never import each other.)
 */
export type Weighing = { readonly fits: true; readonly weight: number } | Extract<StrategyScore, { fits: false }>;

export function weigh(request: ScheduleRequest, node: NodeView, healthFactor: number): Weighing {
  const { cpus, memory } = request;
  if (node.totalMemory < memory) {
    return {
      fits: false,
      code: REASON_MEMORY_TOO_SMALL,
      reason: `node(s) have too little memory (need ${formatBytes(memory)}, ${formatBytes(node.totalMemory)} total)`,
    };
  }
  if (node.totalCpus < cpus) {
    return { fits: false, code: REASON_CPUS_TOO_FEW, reason: `node(s) have too few CPUs (need ${cpus}, ${node.totalCpus} total)` };
  }
  const cpuScore = cpus > 0 ? Math.trunc(((node.usedCpus + cpus) * 100) / node.totalCpus) : 100;
  const memScore = memory > 0 ? Math.trunc(((node.usedMemory + memory) * 100) / node.totalMemory) : 100;
  if (memScore > 100) {
    return {
      fits: false,
      code: REASON_NOT_ENOUGH_MEMORY,
      reason: `node(s) lack memory (need ${formatBytes(memory)}, ${formatBytes(node.totalMemory - node.usedMemory)} free)`,
    };
  }
  if (cpuScore > 100) {
    return {
      fits: false,
      code: REASON_NOT_ENOUGH_CPUS,
      reason: `node(s) lack CPUs (need ${cpus}, ${Math.max(0, node.totalCpus - node.usedCpus)} free)`,
    };
  }
  return { fits: true, weight: cpuScore + memScore + healthFactor * node.healthIndicator };
}

export default defineStrategy({
  name: "spread",
  apiVersion: "^1",
  description: "Places containers on the least loaded node (lowest weight, then fewest containers).",
  create() {
    return {
      tieBreak: "fewer-containers",
      score(request, node): StrategyScore {
        const result = weigh(request, node, HEALTH_FACTOR);
        // The host ranks highest first; classic spread prefers the lowest weight.
        return result.fits ? { fits: true, score: -result.weight } : result;
      },
    };
  },
});
