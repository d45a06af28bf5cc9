import { PASS, defineFilter, reject } from "@swarm/core";
import type { NodeView, PreparedFilter } from "@swarm/core";

export const REASON_NO_SLOTS = "containerslots.full";

export const SLOTS_LABEL = "containerslots";

const GO_INT = /^[+-]?[0-9]+$/;

/**
 * A `containerslots` label's limit, or undefined for "unlimited". Classic Swarm used Go's
 * `strconv.Atoi`, so anything but a plain (signed) decimal integer leaves the node unlimited.
 */
export function parseSlots(label: string): number | undefined {
  if (!GO_INT.test(label)) return undefined;
  const limit = Number(label);
  // Atoi fails beyond int64; such a limit could never be reached anyway.
  return Number.isSafeInteger(limit) ? limit : undefined;
}

/** Clusters use a handful of distinct label values: parse each once, not once per node and create. */
const parsed = new Map<string, number | undefined>();

export function slotLimit(node: NodeView): number | undefined {
  const label = node.labels[SLOTS_LABEL];
  if (label === undefined) return undefined;
  if (parsed.has(label)) return parsed.get(label);
  if (parsed.size >= 1024) parsed.clear();
  const limit = parseSlots(label);
  parsed.set(label, limit);
  return limit;
}

const judgeSlots: PreparedFilter = {
  judge(node) {
    const limit = slotLimit(node);
    // `containers` already includes the pending containers being created on the node.
    const used = node.containers.length;
    if (limit === undefined || used < limit) return PASS;
    return reject(REASON_NO_SLOTS, `node(s) have no container slots left (${used}/${limit})`);
  },
};

export default defineFilter({
  name: "containerslots",
  apiVersion: "^1",
  description: "Keeps nodes whose container count is below their `containerslots` label.",
  create() {
    return {
      prepare(_request, { nodes }) {
        // Without any limited node there is nothing to judge.
        return nodes.some((node) => node.labels[SLOTS_LABEL] !== undefined) ? judgeSlots : undefined;
      },
      // Classic Swarm lists this condition for every request once the filter has been reached.
      conditions: () => ["available container slots"],
    };
  },
});
