import type { Command } from "commander";
import { loadConfig } from "../config/load.js";
import { resolveManagerSettings } from "../config/settings.js";
import { errorMessage } from "../errors/catalog.js";
import { DEFAULT_FILTERS, DEFAULT_STRATEGY, NATIVE_BACKEND } from "../constants.js";
import { describePlugins } from "./plugins.js";
import { fatal } from "./common.js";

/** One problem of a config, at the path of the key that has it (`filters[1]`, `pluginOptions.random.seed`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Everything `swarm manage` would refuse in a config, found without starting anything: the file's
 * shape, classic Swarm's checks of the settings, and every plugin it names with its options.
 */
export async function checkConfig(file: string | undefined): Promise<{ file: string | undefined; problems: ConfigProblem[] }> {
  let loaded;
  try {
    loaded = await loadConfig(file === undefined ? {} : { explicitFile: file });
  } catch (err) {
    // The schema's problems come one per line, `  /path: message`.
    const [first = "", ...rest] = errorMessage(err).split("\n");
    const problems = rest.length > 0 ? rest.map((line) => splitProblem(line.trim())) : [{ path: "(file)", message: first }];
    return { file, problems };
  }
  const config = loaded.config;
  const problems: ConfigProblem[] = [];
  try {
    // The manage argument may name the discovery instead of the file: its absence is no problem here.
    resolveManagerSettings({ ...config, discovery: config.discovery ?? "nodes://" }, loaded.baseDir);
  } catch (err) {
    problems.push({ path: "(settings)", message: errorMessage(err) });
  }
  try {
    const rows = await describePlugins(config, loaded.baseDir);
    const named = (kind: string, name: string) => rows.some((row) => row.kind === kind && (row.name === name || row.aliases.includes(name)));
    const strategy = config.strategy ?? DEFAULT_STRATEGY;
    if (!named("strategy", strategy)) problems.push({ path: "strategy", message: `no strategy named ${strategy} is loaded (${names(rows, "strategy")})` });
    (config.filters ?? [...DEFAULT_FILTERS]).forEach((filter, index) => {
      if (!named("filter", filter)) problems.push({ path: `filters[${index}]`, message: `no filter named ${filter} is loaded (${names(rows, "filter")})` });
    });
    const driver = config.clusterDriver ?? config.backend ?? NATIVE_BACKEND;
    if (!named("backend", driver)) {
      problems.push({ path: config.clusterDriver ? "clusterDriver" : "backend", message: `no cluster backend named ${driver} is loaded (${names(rows, "backend")})` });
    }
    if (config.discovery && driver === NATIVE_BACKEND && !rows.some((row) => row.kind === "discovery" && row.inUse)) {
      const scheme = config.discovery.includes("://") ? config.discovery.slice(0, config.discovery.indexOf("://")) : "nodes";
      problems.push({ path: "discovery", message: `discovery service not supported: ${scheme}://` });
    }
    for (const row of rows) {
      // What manage would use, and any other plugin's options the file sets: both must be right.
      const given = row.kind !== "backend" && config.pluginOptions?.[row.name] !== undefined;
      if (!(row.inUse || given) || !("invalid" in row.options)) continue;
      problems.push({ path: row.kind === "backend" ? "clusterOptions" : `pluginOptions.${row.name}`, message: String(row.options.invalid) });
    }
    for (const name of Object.keys(config.pluginOptions ?? {})) {
      if (!rows.some((row) => row.name === name)) problems.push({ path: `pluginOptions.${name}`, message: `no plugin named ${name} is loaded` });
    }
  } catch (err) {
    problems.push({ path: "plugins", message: errorMessage(err) });
  }
  return { file: loaded.file, problems };
}

function splitProblem(line: string): ConfigProblem {
  const colon = line.indexOf(": ");
  return colon < 0 ? { path: "(file)", message: line } : { path: line.slice(0, colon), message: line.slice(colon + 2) };
}

function names(rows: Awaited<ReturnType<typeof describePlugins>>, kind: string): string {
  const found = rows.filter((row) => row.kind === kind).map((row) => row.name).sort();
  return found.length > 0 ? `loaded: ${found.join(", ")}` : "none is loaded";
}

export function configCommand(program: Command): Command {
  const config = program.command("config").description("Check swarm's configuration");
  config
    .command("check")
    .argument("[file]", "the config file (default: searched from the working directory, as manage does)")
    .description("Validate a config file and the plugins it names, without starting anything; exits 1 listing every problem")
    .action(async (file: string | undefined) => {
      try {
        const result = await checkConfig(file);
        const name = result.file ?? file ?? "(no config file: defaults)";
        if (result.problems.length === 0) {
          process.stdout.write(`${name}: OK\n`);
          return;
        }
        process.stdout.write(`${name}: ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}\n`);
        for (const problem of result.problems) process.stdout.write(`  ${problem.path}: ${problem.message.replaceAll("\n", "\n    ")}\n`);
        process.exitCode = 1;
      } catch (err) {
        fatal(err);
      }
    });
  return config;
}
