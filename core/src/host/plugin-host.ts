import "reflect-metadata";
import { container as rootContainer, type DependencyContainer, type InjectionToken } from "tsyringe";
import type { TSchema } from "typebox";
import { Value } from "typebox/value";
import type { ClusterBackend } from "../extension-points/cluster-backend.js";
import type { Discovery } from "../extension-points/discovery.js";
import type { Filter } from "../extension-points/filter.js";
import type { LeaderElector } from "../extension-points/leader-elector.js";
import type { Clock, Lifecycle, Logger, PluginContext, PluginKind } from "../extension-points/plugin.js";
import type { Strategy } from "../extension-points/strategy.js";
import {
  ClockToken,
  ClusterBackendToken,
  DiscoveryToken,
  EngineStateToken,
  FilterToken,
  LeaderElectorToken,
  LoggerToken,
  PlacementToken,
  StrategyToken,
} from "../extension-points/tokens.js";
import { errors, errorMessage } from "../errors/catalog.js";
import { blameCallsOn } from "./blame.js";
import { loadPlugin, type LoadedPlugin } from "./loader.js";
import { PluginRegistry } from "./registry.js";

interface InstanceByKind {
  discovery: Discovery;
  filter: Filter;
  strategy: Strategy;
  leader: LeaderElector;
  backend: ClusterBackend;
}

/** A plugin's context, registered in its own container; host-private, plugins receive it as `create`'s argument. */
const PluginContextToken: InjectionToken<PluginContext<unknown>> = Symbol("swarm.PluginContext");

const TOKENS: { [K in PluginKind]: InjectionToken<InstanceByKind[K]> } = {
  discovery: DiscoveryToken,
  filter: FilterToken,
  strategy: StrategyToken,
  leader: LeaderElectorToken,
  backend: ClusterBackendToken,
};

export interface StartedPlugin<K extends PluginKind> {
  readonly name: string;
  readonly kind: K;
  readonly instance: InstanceByKind[K];
}

/** Context fields a plugin of one kind gets beyond the common ones: what it serves (a URL, a TTL). */
export type ContextExtras = Readonly<Record<string, unknown>>;

/**
 * Loads plugins, validates their options, creates each in a child container of its own and
 * drives their lifecycle. The host's container holds what plugins are given (logger, clock, and
 * from the assembly the engine state and placement); a plugin's child container holds its context
 * and its instance, and the scope it was created in resolves the extension point to it. Every
 * failure names the plugin (`filter/constraint`) and what to fix, and so does every error thrown
 * from a call into a plugin.
 */
export class PluginHost {
  readonly registry = new PluginRegistry();
  private readonly container: DependencyContainer = rootContainer.createChildContainer();
  private readonly names = new WeakMap<object, string>();
  private readonly started: Array<{ label: string; instance: Lifecycle }> = [];
  private readonly abort = new AbortController();

  constructor(logger: Logger, clock: Clock = { now: () => Date.now() }) {
    this.container.register(LoggerToken, { useValue: logger });
    this.container.register(ClockToken, { useValue: clock });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private get logger(): Logger {
    return this.container.resolve(LoggerToken);
  }

  /** Registers a service plugins are given, e.g. the engine state a backend reads. */
  provide<T>(token: InjectionToken<T>, value: T): void {
    this.container.register(token, { useValue: value });
  }

  /**
   * A scope of its own for plugins that are replaced together (the filters and strategy of one
   * config generation): what is created in it resolves from it, and dropping it forgets them.
   */
  scope(): DependencyContainer {
    return this.container.createChildContainer();
  }

  /** Loads every specifier; all load errors are collected so one run reports them all. */
  async load(specifiers: readonly string[], baseDir: string): Promise<LoadedPlugin[]> {
    const results = await Promise.allSettled(specifiers.map((s) => loadPlugin(s, baseDir)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [errorMessage(r.reason)] : []));
    if (failures.length > 0) throw errors.PluginsFailedToLoad({ failures: failures.join("\n") });
    const loaded = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    for (const plugin of loaded) this.registry.add(plugin);
    return loaded;
  }

  /** Validates options against the plugin's schema, filling defaults. */
  validateOptions(plugin: LoadedPlugin, raw: Readonly<Record<string, unknown>> | undefined): unknown {
    const schema = plugin.definition.options as TSchema | undefined;
    const label = `${plugin.definition.kind}/${plugin.definition.name}`;
    if (!schema) {
      if (raw && Object.keys(raw).length > 0) {
        throw errors.PluginTakesNoOptions({ plugin: plugin.definition.name, label });
      }
      return {};
    }
    const value = applyTopLevelDefaults(schema, Value.Default(schema, structuredClone(raw ?? {})));
    if (Value.Check(schema, value)) return value;
    const problems = [...Value.Errors(schema, value)]
      .filter((e) => e.keyword !== "boolean")
      .map((e) => `pluginOptions.${plugin.definition.name}${e.instancePath.replaceAll("/", ".")}: ${e.message}`);
    throw errors.InvalidPluginOptions({ label, problems: [...new Set(problems)].join("\n  ") });
  }

  /**
   * Creates one plugin instance in a child container of `scope` (the host's own by default) and
   * registers it there under its extension point's token.
   */
  async create<K extends PluginKind>(
    kind: K,
    plugin: LoadedPlugin,
    options: unknown,
    extras: ContextExtras = {},
    scope: DependencyContainer = this.container,
  ): Promise<StartedPlugin<K>> {
    const { name } = plugin.definition;
    const label = `${kind}/${name}`;
    const own = scope.createChildContainer();
    own.register(PluginContextToken, { useFactory: (c) => this.contextFor(kind, label, name, options, extras, c) });
    let instance: InstanceByKind[K];
    try {
      instance = (await plugin.definition.create(own.resolve(PluginContextToken) as never)) as InstanceByKind[K];
    } catch (err) {
      throw errors.PluginCreateFailed({ label, reason: errorMessage(err) }, { cause: err });
    }
    if (typeof instance !== "object" || instance === null) {
      throw errors.PluginCreateReturnedNothing({ label, value: String(instance), kind });
    }
    checkInstance(kind, instance, label);
    // A strategy's score runs once per node per create: the scheduler blames it around its loop instead.
    blameCallsOn(instance, label, kind === "strategy" ? ["score"] : []);
    own.register(TOKENS[kind], { useValue: instance });
    scope.register(TOKENS[kind], { useFactory: () => own.resolve(TOKENS[kind]) });
    this.names.set(instance, name);
    return { name, kind, instance };
  }

  /** The one instance of an extension point in `scope`, or undefined when none was created there. */
  resolve<K extends PluginKind>(kind: K, scope: DependencyContainer = this.container): InstanceByKind[K] | undefined {
    return scope.isRegistered(TOKENS[kind]) ? scope.resolve(TOKENS[kind]) : undefined;
  }

  /** Every instance of an extension point in `scope`, in creation order, with the name each was created under. */
  resolveAll<K extends PluginKind>(kind: K, scope: DependencyContainer = this.container): Array<StartedPlugin<K>> {
    if (!scope.isRegistered(TOKENS[kind])) return [];
    return scope.resolveAll(TOKENS[kind]).map((instance) => ({ name: this.names.get(instance) ?? "", kind, instance }));
  }

  private contextFor(
    kind: PluginKind,
    label: string,
    name: string,
    options: unknown,
    extras: ContextExtras,
    own: DependencyContainer,
  ): PluginContext<unknown> & ContextExtras {
    const common = {
      name,
      options,
      logger: own.resolve(LoggerToken).child({ plugin: label }),
      signal: this.abort.signal,
      clock: own.resolve(ClockToken),
      ...extras,
    };
    if (kind !== "backend") return common;
    const needed: Array<[InjectionToken<unknown>, string]> = [[EngineStateToken, "engine state"], [PlacementToken, "placement"]];
    for (const [token, what] of needed) {
      if (!own.isRegistered(token, true)) {
        throw errors.BackendDependencyMissing({ label, what });
      }
    }
    return { ...common, state: own.resolve(EngineStateToken), placement: own.resolve(PlacementToken) };
  }

  /** Starts an instance (if it has `start`), remembering it for reverse-order shutdown. */
  async start(label: string, instance: Lifecycle, timeoutMs = 60_000): Promise<void> {
    this.started.push({ label, instance });
    if (!instance.start) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        instance.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not start within ${timeoutMs / 1000}s`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      throw errors.PluginStartFailed({ label, reason: errorMessage(err) }, { cause: err });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Stops one started instance (replaced by a reload) and forgets it. */
  async stopOne(instance: Lifecycle): Promise<void> {
    const index = this.started.findIndex((entry) => entry.instance === instance);
    if (index < 0) return;
    const [{ label }] = this.started.splice(index, 1) as [{ label: string; instance: Lifecycle }];
    try {
      await instance.stop?.();
    } catch (err) {
      this.logger.warn(`${label}: stop failed: ${errorMessage(err)}`);
    }
  }

  /** Stops everything started, newest first; safe to call twice. */
  async stopAll(): Promise<void> {
    this.abort.abort();
    while (this.started.length > 0) {
      const { label, instance } = this.started.pop()!;
      try {
        await instance.stop?.();
      } catch (err) {
        this.logger.warn(`${label}: stop failed: ${errorMessage(err)}`);
      }
    }
  }
}

/**
 * TypeBox fills defaults only for schemas it built; a plain-JavaScript plugin writes a plain JSON
 * Schema object, so its top-level `default`s are applied here.
 */
function applyTopLevelDefaults(schema: TSchema, value: unknown): unknown {
  const properties = (schema as { properties?: Record<string, { default?: unknown }> }).properties;
  if (!properties || typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const filled: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, property] of Object.entries(properties)) {
    if (filled[key] === undefined && property.default !== undefined) filled[key] = structuredClone(property.default);
  }
  return filled;
}

const REQUIRED_METHODS: { [K in PluginKind]: readonly string[] } = {
  discovery: ["watch", "register"],
  filter: ["prepare", "conditions"],
  strategy: ["score"],
  leader: ["campaign", "resign"],
  backend: ["nodeViews", "createContainer", "statusLines"],
};

function checkInstance(kind: PluginKind, instance: object, label: string): void {
  const missing = REQUIRED_METHODS[kind].filter((m) => typeof (instance as Record<string, unknown>)[m] !== "function");
  if (missing.length > 0) throw errors.PluginInstanceIncomplete({ label, missing: missing.join(", ") });
  if (kind === "strategy") {
    const tieBreak = (instance as { tieBreak?: unknown }).tieBreak;
    if (tieBreak !== "fewer-containers" && tieBreak !== "more-containers" && tieBreak !== "none") {
      throw errors.InvalidTieBreak({ label });
    }
  }
}
