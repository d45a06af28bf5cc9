import { errorMessage, errors, isSwarmError, type SwarmError } from "./catalog.js";

/**
 * The error a call into plugin code threw, carrying the plugin's name (`filter/constraint`). A
 * catalog error keeps its message and status, since clients and scripts match classic Swarm's
 * text, and gets the name in `plugin` for the log; anything else is a plugin failure whose message
 * names the plugin and the call.
 */
export function blame(plugin: string, operation: string, err: unknown): SwarmError {
  if (isSwarmError(err)) {
    err.plugin ??= plugin;
    return err;
  }
  const error = errors.PluginCallFailed({ plugin, operation, reason: errorMessage(err) }, { cause: err });
  error.plugin = plugin;
  return error;
}

/** The plugin an error was blamed on, if any. */
export function blamedPlugin(err: unknown): string | undefined {
  const plugin = typeof err === "object" && err !== null ? (err as { plugin?: unknown }).plugin : undefined;
  return typeof plugin === "string" ? plugin : undefined;
}
