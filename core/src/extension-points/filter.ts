import type { TSchema } from "typebox";
import type { NodeView, ScheduleRequest } from "./model.js";
import type { Lifecycle, PluginDefinitionBase } from "./plugin.js";

/**
 * Filter: decides, for one request, which nodes may run it.
 *
 * The host owns the loop. For each create it runs the enabled filters in the configured order,
 * first with soft expressions enforced, then (if anything failed) again without them. For each
 * filter it calls `prepare(request, pass)` once; `undefined` means "this request asks nothing of
 * me" and every node passes. Otherwise `judge(node)` is called for each node still in the list
 * and must be pure and fast (it runs for every node on every create). A rejection carries a
 * `reason` (human text, counted per node in the error) and a stable `code` (an exported constant
 * of the plugin).
 *
 * `conditions(request)` lists what the filter asked, in classic Swarm's words, for the classic
 * error message (`[region==eu node!=node-1]`). It may throw an `ExpressionError`; the host then
 * writes `error from <filter> filter: <message>`.
 *
 * `classicMessage`, when set, replaces classic Swarm's "Unable to find a node…" text when this
 * filter is the one that emptied the list (the health filter says "No healthy node available").
 */
export interface Filter extends Lifecycle {
  prepare(request: ScheduleRequest, pass: FilterPass): PreparedFilter | undefined;
  conditions(request: ScheduleRequest): string[];
  readonly classicMessage?: string;
}

export interface FilterPass {
  /** True in the first pass, where soft (`~`) expressions count as hard ones. */
  readonly enforceSoft: boolean;
  /** Every candidate node, for filters that look across the cluster. */
  readonly nodes: readonly NodeView[];
}

export interface PreparedFilter {
  judge(node: NodeView): FilterVerdict;
}

export type FilterVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: string; readonly reason: string };

export const PASS: FilterVerdict = Object.freeze({ ok: true });

export function reject(code: string, reason: string): FilterVerdict {
  return { ok: false, code, reason };
}

export type FilterDefinition<Schema extends TSchema> = PluginDefinitionBase<"filter", Schema, Filter>;

export function defineFilter<Schema extends TSchema>(
  definition: Omit<FilterDefinition<Schema>, "kind">,
): FilterDefinition<Schema> {
  return { ...definition, kind: "filter" };
}
