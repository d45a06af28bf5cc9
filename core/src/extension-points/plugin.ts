import type { Static, TSchema } from "typebox";

/**
 * What every plugin shares. A plugin is a default-exported definition made with one of the
 * `define*` helpers; the host (never the plugin) registers it in tsyringe, checks its shape and
 * API range at load, validates its options against `options` before anything starts, and wraps
 * every call into it so errors carry the plugin's name.
 *
 * Lifecycle, host-driven: `create(ctx)` (no side effects) → `start()` → `stop()`. `stop()` must be
 * idempotent and safe after a failed `start()`; the host stops plugins in reverse start order.
 */

/** The plugin API this core implements. Plugins declare a semver range of it in `apiVersion`. */
export const PLUGIN_API_VERSION = "1.0.0";

export type PluginKind = "discovery" | "filter" | "strategy" | "leader" | "backend";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface Clock {
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
}

export interface PluginContext<Options> {
  /** The name the plugin is registered under, e.g. `constraint` or `acme/gpu`. */
  readonly name: string;
  /** The plugin's options from the config, validated against its schema, defaults applied. */
  readonly options: Options;
  /** A child logger bound to `{ plugin: "<kind>/<name>" }`. */
  readonly logger: Logger;
  /** Aborted when the manager shuts down. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
}

/** Optional lifecycle hooks an instance may have; the host calls them when present. */
export interface Lifecycle {
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

export interface PluginDefinitionBase<Kind extends PluginKind, Schema extends TSchema, Instance> {
  readonly kind: Kind;
  /** Built-ins use classic names (`constraint`); third parties use a scope (`acme/gpu`). */
  readonly name: string;
  /** Semver range of {@link PLUGIN_API_VERSION} the plugin was written against, e.g. `^1`. */
  readonly apiVersion: string;
  readonly description?: string;
  /** A TypeBox (JSON Schema) object describing the plugin's options. */
  readonly options?: Schema;
  create(ctx: PluginContext<Static<Schema>>): Instance | Promise<Instance>;
}

export type AnyPluginDefinition = PluginDefinitionBase<PluginKind, TSchema, unknown>;
