import type { PluginKind } from "../extension-points/plugin.js";
import { SwarmError } from "../errors/catalog.js";
import type { LoadedPlugin } from "./loader.js";

/**
 * Every loaded plugin by kind and name. Unknown names list what is available; two plugins with
 * one name (or a strategy alias, or a discovery scheme) name both sources.
 */
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, LoadedPlugin>>();
  private readonly schemes = new Map<string, LoadedPlugin>();

  add(plugin: LoadedPlugin): void {
    const { kind, name } = plugin.definition;
    const table = this.byKind.get(kind) ?? new Map<string, LoadedPlugin>();
    this.byKind.set(kind, table);
    for (const key of [name, ...(plugin.definition.aliases ?? [])]) {
      const existing = table.get(key);
      if (existing) {
        throw new SwarmError(
          "Plugin",
          `two ${kind} plugins are named ${key}: ${existing.specifier} (${existing.file}) and ${plugin.specifier} (${plugin.file}); remove one from "plugins"`,
        );
      }
      table.set(key, plugin);
    }
    if (kind === "discovery") {
      for (const scheme of plugin.definition.schemes ?? []) {
        const existing = this.schemes.get(scheme);
        if (existing) {
          throw new SwarmError(
            "Plugin",
            `discovery scheme ${scheme}:// is claimed by ${existing.definition.name} (${existing.specifier}) and ${plugin.definition.name} (${plugin.specifier})`,
          );
        }
        this.schemes.set(scheme, plugin);
      }
    }
  }

  get(kind: PluginKind, name: string): LoadedPlugin | undefined {
    return this.byKind.get(kind)?.get(name);
  }

  /** Primary names (no aliases), sorted, for "valid choices" lists. */
  names(kind: PluginKind): string[] {
    return [...new Set([...(this.byKind.get(kind)?.values() ?? [])].map((p) => p.definition.name))].sort();
  }

  discoveryFor(scheme: string): LoadedPlugin | undefined {
    return this.schemes.get(scheme);
  }

  leaderFor(scheme: string): LoadedPlugin | undefined {
    return [...(this.byKind.get("leader")?.values() ?? [])].find((p) => p.definition.schemes?.includes(scheme));
  }

  discoverySchemes(): string[] {
    return [...this.schemes.keys()].sort();
  }
}
