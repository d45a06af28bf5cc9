import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../config/load.js";
import type { SwarmConfig } from "../config/schema.js";
import { errorMessage } from "../errors/catalog.js";
import type { PluginKind } from "../extension-points/plugin.js";
import { DEFAULT_FILTERS, DEFAULT_STRATEGY, NATIVE_BACKEND } from "../constants.js";
import type { LoadedPlugin } from "../host/loader.js";
import { clusterOptions, loadPlugins, splitDiscoveryUrl } from "../manager/manager.js";
import { PluginHost } from "../host/plugin-host.js";
import { silentLogger } from "../logging/logger.js";
import { collect, fatal, keyValuePairs } from "./common.js";

interface PluginsFlags {
  config?: string;
  clusterDriver?: string;
  clusterOpt?: string[];
  strategy?: string;
  filter?: string[];
  json?: boolean;
}

export interface PluginRow {
  readonly kind: PluginKind;
  readonly name: string;
  readonly aliases: readonly string[];
  readonly package: string;
  readonly version: string;
  /** Whether the config (and flags) would use it: the strategy, a filter, the backend, the discovery scheme. */
  readonly inUse: boolean;
  /** Its options with defaults applied, or why they are invalid. */
  readonly options: Readonly<Record<string, unknown>> | { readonly invalid: string };
}

/** What a config would load, without starting anything. */
export async function describePlugins(config: SwarmConfig, baseDir: string): Promise<PluginRow[]> {
  const host = new PluginHost(silentLogger);
  const loaded = await loadPlugins(host, { builtins: config.builtins !== false, plugins: config.plugins ?? [], baseDir });
  const strategy = host.registry.get("strategy", config.strategy ?? DEFAULT_STRATEGY);
  const filters = (config.filters && config.filters.length > 0 ? config.filters : DEFAULT_FILTERS).map((name) => host.registry.get("filter", name));
  const backend = host.registry.get("backend", config.clusterDriver ?? config.backend ?? NATIVE_BACKEND);
  const scheme = config.discovery ? splitDiscoveryUrl(config.discovery).scheme : undefined;
  const discovery = scheme === undefined ? undefined : host.registry.discoveryFor(scheme);
  const leader = scheme === undefined || config.replication !== true ? undefined : host.registry.leaderFor(scheme);
  const used = new Set<LoadedPlugin | undefined>([strategy, ...filters, backend, discovery, leader]);
  const given = Object.fromEntries(Object.entries(config.clusterOptions ?? {}).map(([key, value]) => [key, String(value)]));
  return loaded.map((plugin) => {
    const { kind, name } = plugin.definition;
    let options: PluginRow["options"];
    try {
      const raw = kind === "backend" ? clusterOptions(plugin, plugin === backend ? given : {}) : config.pluginOptions?.[name];
      options = host.validateOptions(plugin, raw) as Record<string, unknown>;
    } catch (err) {
      options = { invalid: errorMessage(err) };
    }
    return { kind, name, aliases: plugin.definition.aliases ?? [], package: plugin.specifier, version: packageVersion(plugin.file), inUse: used.has(plugin), options };
  });
}

/** The version in the package.json nearest above the plugin's file. */
function packageVersion(file: string): string {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const version = (JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version;
    return typeof version === "string" ? version : "";
  }
  return "";
}

export function pluginsCommand(program: Command): Command {
  return program
    .command("plugins")
    .description("List the plugins a config would load, with their options, without starting anything")
    .option("--config <file>", "config file (default: searched from the working directory)")
    .option("-c, --cluster-driver <driver>", "the cluster backend to mark as in use")
    .option("--cluster-opt <key=value>", "the backend's options, repeatable", collect)
    .option("--strategy <strategy>", "the strategy to mark as in use")
    .option("-f, --filter <filter>", "a filter to mark as in use, repeatable", collect)
    .option("--json", "print JSON instead of a table")
    .action(async (flags: PluginsFlags) => {
      try {
        const loaded = await loadConfig(flags.config === undefined ? {} : { explicitFile: flags.config });
        const config: SwarmConfig = { ...loaded.config };
        if (flags.clusterDriver) config.clusterDriver = flags.clusterDriver;
        if (flags.clusterOpt) config.clusterOptions = keyValuePairs(flags.clusterOpt, "--cluster-opt");
        if (flags.strategy) config.strategy = flags.strategy;
        if (flags.filter) config.filters = flags.filter;
        const rows = await describePlugins(config, loaded.baseDir);
        if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else process.stdout.write(formatTable(rows));
        const broken = rows.filter((row) => row.inUse && "invalid" in row.options);
        if (broken.length > 0) process.exitCode = 1;
      } catch (err) {
        fatal(err);
      }
    });
}

function formatTable(rows: readonly PluginRow[]): string {
  const header = ["KIND", "NAME", "PACKAGE", "VERSION", "IN USE", "OPTIONS"];
  const cells = rows.map((row) => [
    row.kind,
    row.aliases.length > 0 ? `${row.name} (${row.aliases.join(", ")})` : row.name,
    row.package,
    row.version,
    row.inUse ? "yes" : "",
    "invalid" in row.options ? `invalid: ${String(row.options.invalid).replaceAll("\n", " ")}` : JSON.stringify(row.options),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: readonly string[]) => `${values.map((value, column) => (column === values.length - 1 ? value : value.padEnd(widths[column]!))).join("  ")}\n`;
  return [header, ...cells].map(line).join("");
}
