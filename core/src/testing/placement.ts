import type { AnyPluginDefinition } from "../extension-points/plugin.js";
import type { NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { Strategy } from "../extension-points/strategy.js";
import { checkDefinition } from "../host/loader.js";
import { PluginHost } from "../host/plugin-host.js";
import { Scheduler, SchedulingError, type NamedFilter, type NamedStrategy } from "../scheduler/scheduler.js";
import { silentLogger } from "./builders.js";

/** A plugin definition (what a plugin module exports by default) and the options a config would give it. */
export type PluginUnderTest = readonly [definition: AnyPluginDefinition | { readonly kind: string }, options?: Readonly<Record<string, unknown>>];

/** The real scheduler over the plugins under test, as `swarm manage` would run them. */
export interface PlacementUnderTest {
  /** The names of the nodes that fit the request, best first; throws the manager's error when none does. */
  rank(request: ScheduleRequest, nodes: readonly NodeView[]): string[];
  /** The manager's message when no node fits (with its per-reason counts), or undefined when one does. */
  refusal(request: ScheduleRequest, nodes: readonly NodeView[]): string | undefined;
  /** Nodes rejected by reason code when no node fits, else an empty object. */
  reasons(request: ScheduleRequest, nodes: readonly NodeView[]): Record<string, number>;
  /** Stops the plugins (their `stop` hooks), as the manager does on shutdown. */
  stop(): Promise<void>;
}

/** Every node fits and scores alike: the order is the host's (by name), so a filter's test sees only its filter. */
const NEUTRAL_STRATEGY: NamedStrategy = {
  name: "neutral",
  strategy: { tieBreak: "none", score: () => ({ fits: true, score: 0 }) } satisfies Strategy,
};

/**
 * Loads plugin definitions as the host does (shape and API range checked, options validated
 * against their schema with defaults applied, created and started in their own context) and
 * places requests with the real scheduler. Errors name the plugin as the manager's would.
 */
export async function testPlacement(plugins: { filters?: readonly PluginUnderTest[]; strategy?: PluginUnderTest }): Promise<PlacementUnderTest> {
  const host = new PluginHost(silentLogger);
  const started = async <K extends "filter" | "strategy">(kind: K, [definition, options]: PluginUnderTest) => {
    const checked = checkDefinition(definition, "the plugin under test");
    if (checked.kind !== kind) throw new Error(`expected a ${kind} plugin, got a ${checked.kind} plugin (${checked.name})`);
    const plugin = { definition: checked, specifier: checked.name, file: "(under test)" };
    const created = await host.create(kind, plugin, host.validateOptions(plugin, options));
    await host.start(`${kind}/${created.name}`, created.instance);
    return created;
  };
  const filters: NamedFilter[] = [];
  for (const entry of plugins.filters ?? []) {
    const filter = await started("filter", entry);
    filters.push({ name: filter.name, filter: filter.instance });
  }
  let strategy = NEUTRAL_STRATEGY;
  if (plugins.strategy) {
    const created = await started("strategy", plugins.strategy);
    strategy = { name: created.name, strategy: created.instance };
  }
  const scheduler = new Scheduler(filters, strategy);
  const attempt = (request: ScheduleRequest, nodes: readonly NodeView[]): { ranked: string[] } | { error: SchedulingError } => {
    try {
      return { ranked: scheduler.rank(request, nodes).map((node) => node.name) };
    } catch (err) {
      if (err instanceof SchedulingError) return { error: err };
      throw err;
    }
  };
  return {
    rank(request, nodes) {
      const result = attempt(request, nodes);
      if ("error" in result) throw result.error;
      return result.ranked;
    },
    refusal: (request, nodes) => {
      const result = attempt(request, nodes);
      return "error" in result ? result.error.message : undefined;
    },
    reasons: (request, nodes) => {
      const result = attempt(request, nodes);
      return "error" in result ? Object.fromEntries(result.error.codes) : {};
    },
    stop: () => host.stopAll(),
  };
}

/** One filter under the real scheduler, its options applied as the host applies them. */
export function testFilter(definition: PluginUnderTest[0], options?: PluginUnderTest[1]): Promise<PlacementUnderTest> {
  return testPlacement({ filters: [[definition, options]] });
}

/** One strategy under the real scheduler, its options applied as the host applies them. */
export function testStrategy(definition: PluginUnderTest[0], options?: PluginUnderTest[1]): Promise<PlacementUnderTest> {
  return testPlacement({ strategy: [definition, options] });
}
