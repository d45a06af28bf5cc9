import type { TSchema } from "typebox";
import type { NodeView, ScheduleRequest } from "./model.js";
import type { Lifecycle, PluginDefinitionBase } from "./plugin.js";

/**
 * Strategy: ranks the nodes that passed every filter.
 *
 * The host calls `score(request, node)` once per remaining node and sorts by score, highest
 * first. Equal scores are broken by `tieBreak` (container counts include pending containers),
 * then by node name, so placement is deterministic unless the strategy itself is random. A node
 * that cannot hold the request returns `{ fits: false, reason }`; if no node fits, the host
 * answers classic Swarm's `no resources available to schedule container` plus the reasons.
 */
export interface Strategy extends Lifecycle {
  readonly tieBreak: "fewer-containers" | "more-containers" | "none";
  score(request: ScheduleRequest, node: NodeView): StrategyScore;
}

export type StrategyScore =
  | { readonly fits: true; readonly score: number }
  | { readonly fits: false; readonly code: string; readonly reason: string };

export interface StrategyDefinition<Schema extends TSchema> extends PluginDefinitionBase<"strategy", Schema, Strategy> {
  /** Other names accepted by `--strategy` (classic accepted `binpacking` for `binpack`). */
  readonly aliases?: readonly string[];
}

export function defineStrategy<Schema extends TSchema>(
  definition: Omit<StrategyDefinition<Schema>, "kind">,
): StrategyDefinition<Schema> {
  return { ...definition, kind: "strategy" };
}
