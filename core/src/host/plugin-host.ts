import "reflect-metadata";
import { container as rootContainer, type DependencyContainer, type InjectionToken } from "tsyringe";
import type { TSchema } from "typebox";
import { Value } from "typebox/value";
import type { ClusterBackend } from "../extension-points/cluster-backend.js";
import type { Discovery, DiscoveryContext } from "../extension-points/discovery.js";
import type { Filter } from "../extension-points/filter.js";
import type { LeaderElector } from "../extension-points/leader-elector.js";
import type { Clock, Lifecycle, Logger, PluginContext, PluginKind } from "../extension-points/plugin.js";
import type { Strategy } from "../extension-points/strategy.js";
import {
  ClusterBackendToken,
  DiscoveryToken,
  FilterToken,
  LeaderElectorToken,
  StrategyToken,
} from "../extension-points/tokens.js";
import { SwarmError, errorMessage } from "../errors/catalog.js";
import { loadPlugin, type LoadedPlugin } from "./loader.js";
import { PluginRegistry } from "./registry.js";

interface InstanceByKind {
  discovery: Discovery;
  filter: Filter;
  strategy: Strategy;
  leader: LeaderElector;
  backend: ClusterBackend;
}

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

/**
 * Loads plugins, validates their options, creates them in their own child container and drives
 * their lifecycle. Every failure names the plugin (`filter/constraint`) and what to fix.
 */
export class PluginHost {
  readonly registry = new PluginRegistry();
  private readonly container: DependencyContainer = rootContainer.createChildContainer();
  private readonly started: Array<{ label: string; instance: Lifecycle }> = [];
  private readonly abort = new AbortController();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock = { now: () => Date.now() },
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Loads every specifier; all load errors are collected so one run reports them all. */
  async load(specifiers: readonly string[], baseDir: string): Promise<LoadedPlugin[]> {
    const results = await Promise.allSettled(specifiers.map((s) => loadPlugin(s, baseDir)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [errorMessage(r.reason)] : []));
    if (failures.length > 0) throw new SwarmError("Plugin", failures.join("\n"));
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
        throw new SwarmError("Config", `pluginOptions.${plugin.definition.name}: ${label} takes no options; remove them`);
      }
      return {};
    }
    const value = applyTopLevelDefaults(schema, Value.Default(schema, structuredClone(raw ?? {})));
    if (Value.Check(schema, value)) return value;
    const problems = [...Value.Errors(schema, value)]
      .filter((e) => e.keyword !== "boolean")
      .map((e) => `pluginOptions.${plugin.definition.name}${e.instancePath.replaceAll("/", ".")}: ${e.message}`);
    throw new SwarmError("Config", `${label} options are invalid:\n  ${[...new Set(problems)].join("\n  ")}`);
  }

  context<Options>(plugin: LoadedPlugin, options: Options): PluginContext<Options> {
    const { kind, name } = plugin.definition;
    return {
      name,
      options,
      logger: this.logger.child({ plugin: `${kind}/${name}` }),
      signal: this.abort.signal,
      clock: this.clock,
    };
  }

  /** Creates one plugin instance and registers it under its extension point's token. */
  async create<K extends PluginKind>(
    kind: K,
    plugin: LoadedPlugin,
    options: unknown,
    extra: Partial<DiscoveryContext<unknown>> = {},
  ): Promise<StartedPlugin<K>> {
    const { name } = plugin.definition;
    const label = `${kind}/${name}`;
    let instance: InstanceByKind[K];
    try {
      const ctx = { ...this.context(plugin, options), ...extra };
      instance = (await plugin.definition.create(ctx as never)) as InstanceByKind[K];
    } catch (err) {
      throw new SwarmError("Plugin", `${label}: create failed: ${errorMessage(err)}`, { cause: err });
    }
    if (typeof instance !== "object" || instance === null) {
      throw new SwarmError("Plugin", `${label}: create returned ${String(instance)}, expected a ${kind} object`);
    }
    checkInstance(kind, instance, label);
    const child = this.container.createChildContainer();
    child.register(TOKENS[kind], { useValue: instance });
    this.container.register(TOKENS[kind], { useValue: instance });
    return { name, kind, instance };
  }

  /** Every registered instance of one extension point, in registration order. */
  resolveAll<K extends PluginKind>(kind: K): Array<InstanceByKind[K]> {
    return this.container.isRegistered(TOKENS[kind]) ? this.container.resolveAll(TOKENS[kind]) : [];
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
      throw new SwarmError("Plugin", `${label}: start failed: ${errorMessage(err)}`, { cause: err });
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
  if (missing.length > 0) throw new SwarmError("Plugin", `${label}: create returned an object without ${missing.join(", ")}`);
  if (kind === "strategy") {
    const tieBreak = (instance as { tieBreak?: unknown }).tieBreak;
    if (tieBreak !== "fewer-containers" && tieBreak !== "more-containers" && tieBreak !== "none") {
      throw new SwarmError("Plugin", `${label}: tieBreak must be "fewer-containers", "more-containers" or "none"`);
    }
  }
}
