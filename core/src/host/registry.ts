import type { PluginKind } from "../extension-points/plugin.js";
import { errors } from "../errors/catalog.js";
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
        throw errors.DuplicatePluginName({
          kind,
          name: key,
          first: existing.specifier,
          firstFile: existing.file,
          second: plugin.specifier,
          secondFile: plugin.file,
        });
      }
      table.set(key, plugin);
    }
    if (kind === "discovery") {
      for (const scheme of plugin.definition.schemes ?? []) {
        const existing = this.schemes.get(scheme);
        if (existing) {
          throw errors.DiscoverySchemeClaimedTwice({
            scheme,
            first: existing.definition.name,
            firstSpecifier: existing.specifier,
            second: plugin.definition.name,
            secondSpecifier: plugin.specifier,
          });
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
