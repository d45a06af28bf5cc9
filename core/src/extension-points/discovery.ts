import type { Static, TSchema } from "typebox";
import type { Lifecycle, PluginContext, PluginDefinitionBase } from "./plugin.js";

/**
 * Discovery: where engine addresses come from (`nodes://`, `file://`, `token://`, `etcd://` …).
 *
 * The host picks the plugin whose `schemes` contain the URL's scheme (no `://` means `nodes`).
 * `watch(signal)` yields the full current list of `host:port` entries whenever it changes, and
 * `{ error }` updates for store failures (the host logs them once per change and keeps the last
 * list); it ends when `signal` aborts. `register(addr)` is one registration made by `swarm join`
 * every heartbeat, with the context's `ttl`; backends that cannot register throw
 * `DiscoveryNotSupportedError`.
 */
export interface Discovery extends Lifecycle {
  watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate>;
  register(addr: string, signal: AbortSignal): Promise<void>;
}

export type DiscoveryUpdate =
  | { readonly entries: readonly string[] }
  | { readonly error: Error };

export interface DiscoveryContext<Options> extends PluginContext<Options> {
  /** The URL as given, split at the first `://`. */
  readonly uri: { readonly scheme: string; readonly path: string; readonly raw: string };
  /** Polling period / retry delay in milliseconds (`--heartbeat`). */
  readonly heartbeat: number;
  /** Registration expiry in milliseconds (`--ttl`). */
  readonly ttl: number;
  /** `--discovery-opt key=value` pairs (`kv.path`, `kv.cacertfile`, …). */
  readonly discoveryOptions: Readonly<Record<string, string>>;
}

export interface DiscoveryDefinition<Schema extends TSchema>
  extends Omit<PluginDefinitionBase<"discovery", Schema, Discovery>, "create"> {
  readonly schemes: readonly string[];
  create(ctx: DiscoveryContext<Static<Schema>>): Discovery | Promise<Discovery>;
}

export function defineDiscovery<Schema extends TSchema>(
  definition: Omit<DiscoveryDefinition<Schema>, "kind">,
): DiscoveryDefinition<Schema> {
  return { ...definition, kind: "discovery" };
}

export class DiscoveryNotSupportedError extends Error {
  readonly code = "SWARM_ERR_DISCOVERY_NOT_SUPPORTED";
  constructor(operation: string) {
    super(`${operation} not implemented in this discovery service`);
  }
}
