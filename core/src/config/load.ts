import path from "node:path";
import { cosmiconfig, getDefaultSearchPlaces } from "cosmiconfig";
import { Value } from "typebox/value";
import { errorMessage, errors } from "../errors/catalog.js";
import { SwarmConfigSchema, type SwarmConfig } from "./schema.js";

export interface LoadedConfig {
  readonly config: SwarmConfig;
  /** The file it came from, or undefined for the embedded default. */
  readonly file: string | undefined;
  /** Plugin paths in the file resolve from here. */
  readonly baseDir: string;
}

/**
 * Finds and validates the config file: an explicit `--config` path, or cosmiconfig's search for
 * `swarm.config.{js,mjs,ts,json,yaml}`, `.swarmrc*` or a `"swarm"` key in package.json from `cwd`
 * up to the project root. No file at all is fine: flags and defaults then decide everything.
 */
export async function loadConfig(options: { explicitFile?: string; cwd?: string } = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const explorer = cosmiconfig("swarm", {
    searchStrategy: "project",
    // cosmiconfig's defaults lack the data formats for `swarm.config.*`.
    searchPlaces: [...getDefaultSearchPlaces("swarm"), "swarm.config.json", "swarm.config.yaml", "swarm.config.yml"],
  });
  let result: { config: unknown; filepath: string; isEmpty?: boolean } | null;
  try {
    result = options.explicitFile ? await explorer.load(path.resolve(cwd, options.explicitFile)) : await explorer.search(cwd);
  } catch (err) {
    const reason = errorMessage(err);
    throw options.explicitFile
      ? errors.ConfigFileUnreadable({ file: options.explicitFile, reason }, { cause: err })
      : errors.ConfigSearchFailed({ reason }, { cause: err });
  }
  if (!result || result.isEmpty) return { config: {}, file: result?.filepath, baseDir: result ? path.dirname(result.filepath) : cwd };
  return { config: validateConfig(result.config, result.filepath), file: result.filepath, baseDir: path.dirname(result.filepath) };
}

export function validateConfig(raw: unknown, source: string): SwarmConfig {
  if (Value.Check(SwarmConfigSchema, raw)) return raw;
  const problems = [...Value.Errors(SwarmConfigSchema, raw)]
    .filter((e) => e.keyword !== "boolean")
    .map((e) => {
      const extra = e.keyword === "additionalProperties" ? ` (${JSON.stringify(e.params)})` : "";
      return `  ${e.instancePath || "/"}: ${e.message}${extra}`;
    });
  throw errors.ConfigFileInvalid({ file: source, problems: [...new Set(problems)].join("\n") });
}
