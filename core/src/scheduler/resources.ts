import type { NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { StrategyScore } from "../extension-points/strategy.js";

/** Reasons a node cannot hold a request's resources, shared by every resource-aware strategy. */
export const ResourceReasons = {
  memoryTooSmall: "resources.memory-too-small",
  cpusTooFew: "resources.cpus-too-few",
  notEnoughMemory: "resources.memory",
  notEnoughCpus: "resources.cpus",
} as const;

export type ResourceWeight = { readonly fits: true; readonly weight: number } | Extract<StrategyScore, { fits: false }>;

/**
 * Classic Swarm's weighing (§3.6), integer arithmetic included: CPU and memory scores (percent of
 * the node used once the request is placed) plus `healthFactor × healthIndicator`. Spread uses a
 * negative factor and prefers low weights; binpack a positive one and prefers high weights.
 * Totals already include overcommit.
 */
export function weighResources(request: ScheduleRequest, node: NodeView, healthFactor: number): ResourceWeight {
  const { cpus, memory } = request;
  if (node.totalMemory < memory) {
    return {
      fits: false,
      code: ResourceReasons.memoryTooSmall,
      reason: `node(s) have too little memory (need ${formatBytes(memory)}, ${formatBytes(node.totalMemory)} total)`,
    };
  }
  if (node.totalCpus < cpus) {
    return { fits: false, code: ResourceReasons.cpusTooFew, reason: `node(s) have too few CPUs (need ${cpus}, ${node.totalCpus} total)` };
  }
  const cpuScore = cpus > 0 ? Math.trunc(((node.usedCpus + cpus) * 100) / node.totalCpus) : 100;
  const memScore = memory > 0 ? Math.trunc(((node.usedMemory + memory) * 100) / node.totalMemory) : 100;
  if (memScore > 100) {
    return {
      fits: false,
      code: ResourceReasons.notEnoughMemory,
      reason: `node(s) lack memory (need ${formatBytes(memory)}, ${formatBytes(node.totalMemory - node.usedMemory)} free)`,
    };
  }
  if (cpuScore > 100) {
    return {
      fits: false,
      code: ResourceReasons.notEnoughCpus,
      reason: `node(s) lack CPUs (need ${cpus}, ${Math.max(0, node.totalCpus - node.usedCpus)} free)`,
    };
  }
  return { fits: true, weight: cpuScore + memScore + healthFactor * node.healthIndicator };
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** Binary units as classic Swarm printed them (`%.4g <unit>`): `0 B`, `20 MiB`, `2.053 GiB`. */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toPrecision(4))} ${UNITS[unit]}`;
}
