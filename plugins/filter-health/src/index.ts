import { PASS, defineFilter, reject } from "@swarm/core";
import type { NodeView, PreparedFilter } from "@swarm/core";

export const REASON_UNHEALTHY = "health.unhealthy";

export const NO_HEALTHY_NODE = "No healthy node available in the cluster";

export function isHealthy(node: NodeView): boolean {
  return node.health === "healthy" && node.healthIndicator > 0;
}

const UNHEALTHY = reject(REASON_UNHEALTHY, "node(s) are unhealthy");

const judgeHealth: PreparedFilter = {
  judge: (node) => (isHealthy(node) ? PASS : UNHEALTHY),
};

export default defineFilter({
  name: "health",
  apiVersion: "^1",
  description: "Keeps only healthy engines (healthy state, health indicator above 0).",
  create() {
    return {
      classicMessage: NO_HEALTHY_NODE,
      prepare(_request, { nodes }) {
        // When every candidate is healthy the host can skip the per-node calls entirely.
        return nodes.every(isHealthy) ? undefined : judgeHealth;
      },
      conditions: () => [],
    };
  },
});
