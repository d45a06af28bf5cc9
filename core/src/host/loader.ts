import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import semver from "semver";
import type { AnyPluginDefinition, PluginKind } from "../extension-points/plugin.js";
import { PLUGIN_API_VERSION } from "../extension-points/plugin.js";
import { errors, errorMessage } from "../errors/catalog.js";

const KINDS: readonly PluginKind[] = ["discovery", "filter", "strategy", "leader", "backend"];

export interface LoadedPlugin {
  readonly definition: AnyPluginDefinition & {
    readonly schemes?: readonly string[];
    readonly aliases?: readonly string[];
  };
  /** Where it came from: the specifier as written and the file it resolved to. */
  readonly specifier: string;
  readonly file: string;
}

/**
 * Resolves a plugin specifier the way a third party's would be: a path (`./gpu-filter.js`,
 * `/opt/x.mjs`) relative to `baseDir`, or a package name resolved from `baseDir` and then from
 * core's own location (so built-ins resolve however the project is laid out).
 */
export function resolvePlugin(specifier: string, baseDir: string): string {
  if (specifier.startsWith(".") || path.isAbsolute(specifier)) return path.resolve(baseDir, specifier);
  const attempts = [path.join(baseDir, "noop.js"), import.meta.url];
  let lastError: unknown;
  for (const from of attempts) {
    try {
      return createRequire(from).resolve(specifier);
    } catch (err) {
      lastError = err;
    }
  }
  throw errors.PluginNotFound({ specifier, baseDir }, { cause: lastError });
}

/** Imports one plugin module and checks its default export before anything is created. */
export async function loadPlugin(specifier: string, baseDir: string): Promise<LoadedPlugin> {
  const file = resolvePlugin(specifier, baseDir);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw errors.PluginImportFailed({ specifier, file, reason: errorMessage(err) }, { cause: err });
  }
  return { definition: checkDefinition(module.default, specifier), specifier, file };
}

export function checkDefinition(value: unknown, specifier: string): LoadedPlugin["definition"] {
  const blame = (problem: string) => errors.InvalidPluginDefinition({ specifier, problem });
  if (typeof value !== "object" || value === null) throw blame("has no default export of a plugin definition");
  const candidate = value as Record<string, unknown>;
  const kind = candidate.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind as PluginKind)) {
    throw blame(`has kind ${JSON.stringify(kind)}; expected one of ${KINDS.join(", ")}`);
  }
  const name = candidate.name;
  if (typeof name !== "string" || !/^(@?[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) {
    throw blame(`has an invalid name ${JSON.stringify(name)}`);
  }
  const label = `${kind} plugin ${name} (${specifier})`;
  const range = candidate.apiVersion;
  if (typeof range !== "string" || semver.validRange(range) === null) {
    throw errors.InvalidPluginApiVersion({ label, range: JSON.stringify(range) });
  }
  if (!semver.satisfies(PLUGIN_API_VERSION, range)) {
    throw errors.PluginApiMismatch({ label, range, implemented: PLUGIN_API_VERSION });
  }
  if (typeof candidate.create !== "function") throw errors.PluginCreateNotFunction({ label });
  if (kind === "discovery" || kind === "leader") {
    const schemes = candidate.schemes;
    if (!Array.isArray(schemes) || schemes.length === 0 || !schemes.every((s) => typeof s === "string")) {
      throw errors.PluginSchemesInvalid({ label });
    }
  }
  if (candidate.options !== undefined && (typeof candidate.options !== "object" || candidate.options === null)) {
    throw errors.PluginOptionsSchemaInvalid({ label });
  }
  return value as LoadedPlugin["definition"];
}
