import { errors } from "../errors/catalog.js";
import type { ManagerSettings } from "../config/settings.js";
import type { NamedFilter, NamedStrategy } from "../scheduler/scheduler.js";
import type { Lifecycle } from "../extension-points/plugin.js";
import type { LoadedPlugin } from "../host/loader.js";
import type { PluginHost } from "../host/plugin-host.js";

/** The strategy and filters a config names, found among the loaded plugins, with their options validated. */
export interface PlacementChoice {
  readonly strategy: { readonly plugin: LoadedPlugin; readonly options: unknown };
  readonly filters: ReadonlyArray<{ readonly plugin: LoadedPlugin; readonly options: unknown }>;
}

/** Throws what `swarm manage` says of an unknown, repeated or misconfigured strategy or filter. */
export function choosePlacement(host: PluginHost, settings: Pick<ManagerSettings, "strategy" | "filters" | "pluginOptions">): PlacementChoice {
  const strategyPlugin = host.registry.get("strategy", settings.strategy);
  if (!strategyPlugin) {
    throw errors.StrategyNotSupported({ strategy: settings.strategy, valid: host.registry.names("strategy").join(", ") });
  }
  const filterPlugins = settings.filters.map((name) => {
    const plugin = host.registry.get("filter", name);
    if (!plugin) throw errors.FilterNotSupported({ filter: name, valid: host.registry.names("filter").join(", ") });
    return plugin;
  });
  const seen = new Set<string>();
  for (const plugin of filterPlugins) {
    if (seen.has(plugin.definition.name)) throw errors.FilterListedTwice({ filter: plugin.definition.name });
    seen.add(plugin.definition.name);
  }
  return {
    strategy: { plugin: strategyPlugin, options: host.validateOptions(strategyPlugin, settings.pluginOptions[strategyPlugin.definition.name]) },
    filters: filterPlugins.map((plugin) => ({ plugin, options: host.validateOptions(plugin, settings.pluginOptions[plugin.definition.name]) })),
  };
}

/**
 * Creates the chosen strategy and filters in a scope of their own (one per config generation, so a
 * reload's set replaces this one whole), starts them, and resolves what the scheduler runs from
 * that scope. If one fails, those already started are stopped.
 */
export async function startPlacement(host: PluginHost, choice: PlacementChoice): Promise<{ filters: NamedFilter[]; strategy: NamedStrategy }> {
  const scope = host.scope();
  const started: Lifecycle[] = [];
  try {
    for (const { plugin, options } of choice.filters) {
      const filter = await host.create("filter", plugin, options, {}, scope);
      await host.start(`filter/${filter.name}`, filter.instance);
      started.push(filter.instance);
    }
    const created = await host.create("strategy", choice.strategy.plugin, choice.strategy.options, {}, scope);
    await host.start(`strategy/${created.name}`, created.instance);
    started.push(created.instance);
    const filters = host.resolveAll("filter", scope).map(({ name, instance }) => ({ name, filter: instance }));
    const [strategy] = host.resolveAll("strategy", scope);
    return { filters, strategy: { name: strategy!.name, strategy: strategy!.instance } };
  } catch (err) {
    for (const instance of started.reverse()) await host.stopOne(instance);
    throw err;
  }
}
