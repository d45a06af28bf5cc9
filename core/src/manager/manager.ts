import { chmod, rm } from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import os from "node:os";
import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../api/context.js";
import { debugRoutes } from "../api/debug.js";
import { locateUi, uiRoutes } from "../api/ui.js";
import { DecisionLog } from "../scheduler/decisions.js";
import { ManagerMetrics, type MetricSources } from "../metrics/metrics.js";
import { StatsSampler } from "../monitoring/container-stats.js";
import { createApiServer } from "../api/server.js";
import { DEFAULT_BODY_TIMEOUTS } from "../api/body-timeout.js";
import { disableSpliceRelay, uploadPath } from "../engines/raw-body.js";
import { Cluster } from "../cluster/cluster.js";
import { Rescheduler } from "../cluster/rescheduler.js";
import { EventHub } from "../cluster/events.js";
import type { ManagerSettings } from "../config/settings.js";
import type { Discovery } from "../extension-points/discovery.js";
import type { AnyPluginDefinition, Logger } from "../extension-points/plugin.js";
import { EngineStateToken, PlacementToken } from "../extension-points/tokens.js";
import { Replication } from "./replication.js";
import { errorMessage, errors, type SwarmError } from "../errors/catalog.js";
import { parseHostPort } from "../util/address.js";
import { Scheduler } from "../scheduler/scheduler.js";
import { BUILTIN_PLUGINS } from "../host/builtins.js";
import { PluginHost } from "../host/plugin-host.js";
import { choosePlacement, startPlacement } from "./placement.js";
import { checkDefinition, type LoadedPlugin } from "../host/loader.js";

export interface ListenAddress {
  readonly kind: "tcp" | "unix";
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/** `tcp://h:p`, `unix:///path`, or bare `h:p`; `:4000` means every interface (§1.6). */
export function parseListenAddress(value: string): ListenAddress {
  const scheme = value.includes("://") ? value.slice(0, value.indexOf("://")) : "tcp";
  const rest = value.includes("://") ? value.slice(value.indexOf("://") + 3) : value;
  if (scheme === "unix") return { kind: "unix", host: "", port: 0, path: rest };
  if (scheme !== "tcp") throw errors.UnsupportedProtocol({ scheme });
  const colon = rest.lastIndexOf(":");
  const port = Number.parseInt(rest.slice(colon + 1), 10);
  if (colon < 0 || !(port >= 0 && port <= 65535)) throw errors.InvalidListenAddress({ value });
  let host = rest.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { kind: "tcp", host: host === "" ? "0.0.0.0" : host, port, path: "" };
}

export interface Manager {
  readonly cluster: Cluster;
  readonly host: PluginHost;
  readonly app: FastifyInstance;
  /** The addresses actually bound (useful when a port was 0). */
  readonly addresses: readonly string[];
  /** `http://host:port/metrics` with `--metrics-addr`. */
  readonly metricsUrl: string | undefined;
  /**
   * Applies a new configuration's filters, strategy and their options (and loads the plugins it
   * adds) without dropping a connection or a request; throws, keeping the current ones, if the new
   * ones are invalid. Other settings take effect at the next start.
   */
  reload(next: ManagerSettings): Promise<void>;
  stop(): Promise<void>;
}

/** Whether only this machine can reach an address the manager listens on. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Split a discovery URL at the first `://`; without one the whole string is a `nodes` list. */
export function splitDiscoveryUrl(raw: string): { scheme: string; path: string; raw: string } {
  const at = raw.indexOf("://");
  if (at < 0) return { scheme: "nodes", path: raw, raw };
  return { scheme: raw.slice(0, at), path: raw.slice(at + 3), raw };
}

/** Loads the built-ins plus the configured plugins through the one loader. */
export async function loadPlugins(host: PluginHost, settings: Pick<ManagerSettings, "builtins" | "plugins" | "baseDir">): Promise<LoadedPlugin[]> {
  const specifiers = [...(settings.builtins ? BUILTIN_PLUGINS : []), ...settings.plugins];
  return host.load(specifiers, settings.baseDir);
}

export function discoveryPlugin(host: PluginHost, url: string): LoadedPlugin {
  const { scheme } = splitDiscoveryUrl(url);
  const plugin = host.registry.discoveryFor(scheme);
  if (!plugin) {
    throw errors.DiscoverySchemeNotSupported({ scheme, supported: host.registry.discoverySchemes().map((s) => `${s}://`).join(", ") });
  }
  return plugin;
}

/** The leader elector for the discovery store `url` names; classic Swarm's refusal for any other. */
function electorPlugin(host: PluginHost, url: string): LoadedPlugin {
  const plugin = host.registry.leaderFor(splitDiscoveryUrl(url).scheme);
  if (!plugin) throw errors.LeaderElectionNotSupported();
  return plugin;
}

/** Creates the discovery backend for `url` (used by manage, join and list). */
export async function createDiscovery(
  host: PluginHost,
  url: string,
  options: { heartbeat: number; ttl: number; discoveryOptions: Readonly<Record<string, string>>; pluginOptions?: Readonly<Record<string, unknown>> },
): Promise<Discovery> {
  const plugin = discoveryPlugin(host, url);
  const validated = host.validateOptions(plugin, options.pluginOptions as Record<string, unknown> | undefined);
  const started = await host.create("discovery", plugin, validated, {
    uri: splitDiscoveryUrl(url),
    heartbeat: options.heartbeat,
    ttl: options.ttl,
    discoveryOptions: options.discoveryOptions,
  });
  return started.instance;
}

/**
 * Builds and starts a manager: every plugin is loaded, checked and created before anything
 * listens; then discovery feeds the cluster and the API serves.
 */
export async function startManager(settings: ManagerSettings, logger: Logger, given: { plugins?: readonly AnyPluginDefinition[] } = {}): Promise<Manager> {
  for (const warning of settings.warnings) logger.warn(warning);
  const host = new PluginHost(logger);
  await loadPlugins(host, settings);
  for (const definition of given.plugins ?? []) {
    const checked = checkDefinition(definition, `plugin ${(definition as { name?: string }).name ?? "(unnamed)"}`);
    host.registry.add({ definition: checked, specifier: checked.name, file: "(given to startManager)" });
  }

  const placement = choosePlacement(host, settings);
  const backendPlugin = host.registry.get("backend", settings.cluster.driver);
  if (!backendPlugin) {
    throw errors.ClusterDriverNotSupported({ driver: settings.cluster.driver, valid: host.registry.names("backend").join(", ") });
  }
  const usesDiscovery = (backendPlugin.definition as { usesDiscovery?: boolean }).usesDiscovery === true;
  if (usesDiscovery) discoveryPlugin(host, settings.discovery);
  const leaderPlugin = settings.replication.enabled ? electorPlugin(host, settings.discovery) : undefined;
  for (const listen of settings.hosts) parseListenAddress(listen);
  const uiRoot = settings.ui ? locateUi() : undefined;

  // Validate every option block before creating anything.
  const leaderOptions = leaderPlugin && host.validateOptions(leaderPlugin, settings.pluginOptions[leaderPlugin.definition.name]);
  const backendOptions = host.validateOptions(backendPlugin, clusterOptions(backendPlugin, settings.cluster.options));
  for (const name of Object.keys(settings.pluginOptions)) {
    const known = ["filter", "strategy", "discovery", "leader", "backend"].some((k) => host.registry.get(k as never, name));
    if (!known) throw errors.UnknownPluginOptions({ plugin: name });
  }

  const { filters, strategy } = await startPlacement(host, placement);
  const discovery = usesDiscovery
    ? await createDiscovery(host, settings.discovery, {
        heartbeat: settings.heartbeat,
        ttl: 180_000,
        discoveryOptions: settings.discoveryOptions,
        pluginOptions: settings.pluginOptions[discoveryPlugin(host, settings.discovery).definition.name],
      })
    : undefined;

  const decisions = new DecisionLog();
  const scheduler = new Scheduler(filters, strategy, decisions);
  const events = new EventHub();
  let replication: Replication | undefined;
  const metrics: ManagerMetrics = new ManagerMetrics(decisions, (): MetricSources => ({
    cluster,
    isPrimary: () => replication?.isPrimary() ?? true,
    elections: () => replication?.elections ?? 0,
  }));
  const cluster: Cluster = new Cluster({
    engine: {
      observe: metrics.engineCall,
      failureRetry: settings.engine.failureRetry,
      refreshMin: settings.engine.refreshMin,
      refreshMax: settings.engine.refreshMax,
      overcommit: settings.cluster.overcommit,
      tls: settings.tls ? { ca: settings.tls.ca, cert: settings.tls.cert, key: settings.tls.key, verify: settings.tls.verify } : undefined,
    },
    createRetry: settings.cluster.createRetry,
    logger: logger.child({ component: "cluster" }),
    events,
    scheduler,
  });

  host.provide(EngineStateToken, cluster);
  host.provide(PlacementToken, scheduler);
  const backend = await host.create("backend", backendPlugin, backendOptions, { target: settings.discovery, tls: settings.tls !== undefined });


  if (leaderPlugin) {
    const elector = await host.create("leader", leaderPlugin, leaderOptions, {
      uri: splitDiscoveryUrl(settings.discovery),
      ttl: settings.replication.ttl,
      discoveryOptions: settings.discoveryOptions,
    });
    await host.start(`leader/${splitDiscoveryUrl(settings.discovery).scheme}`, elector.instance);
    // resolveManagerSettings refuses --replication without --advertise.
    replication = new Replication(elector.instance, settings.advertise ?? "", logger.child({ component: "replication" }));
  }

  if (discovery) await host.start(`discovery/${splitDiscoveryUrl(settings.discovery).scheme}`, discovery);
  cluster.start();
  await host.start(`backend/${backend.name}`, backend.instance);
  const sampler = settings.monitoring && new StatsSampler(cluster, settings.monitoring, logger.child({ component: "monitoring" }));
  if (sampler) {
    metrics.monitor(sampler, () => cluster);
    sampler.start();
  }
  const rescheduler = new Rescheduler(
    cluster,
    logger.child({ component: "rescheduler" }),
    () => replication?.isPrimary() ?? true,
    (request) => backend.instance.createContainer(request),
  );
  rescheduler.start();

  const ctx: ApiContext = {
    cluster,
    backend: backend.instance,
    backendName: backend.name,
    events,
    logger,
    get strategyName() {
      return scheduler.strategy.name;
    },
    get filterNames() {
      return scheduler.filters.map((f) => f.name);
    },
    experimental: settings.experimental,
    cors: settings.cors,
    refreshOnNodeFilter: settings.refreshOnNodeFilter,
    containerNameRefreshFilter: settings.containerNameRefreshFilter,
    roleLines: () => replication?.roleLines() ?? [["Role", "primary"]],
    decisions,
    metrics,
    containerUsage: sampler && ((nodeId) => sampler.nodeUsage(nodeId)),
    replica: replication && {
      isPrimary: () => replication.isPrimary(),
      primary: (signal) => replication.primary(signal),
      advertise: replication.advertise,
      tls: settings.tls && { ca: settings.tls.ca, cert: settings.tls.cert, key: settings.tls.key, verify: settings.tls.verify },
    },
  };
  const tls = settings.tls;
  if (!settings.uploadRelay) disableSpliceRelay();
  logger.info(`Uploads (docker cp into containers) go ${uploadPath()}`);
  const app = createApiServer(ctx, {
    bodyTimeouts: { ...DEFAULT_BODY_TIMEOUTS, uploadIdleMs: settings.uploadIdleMs },
    accessLog: settings.logLevel === "debug",
    extraRoutes: [...(settings.debug ? [debugRoutes] : []), ...(uiRoot ? [uiRoutes(uiRoot)] : [])],
    ...(tls
      ? { https: { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: tls.verify, rejectUnauthorized: tls.verify } }
      : {}),
  });

  replication?.start();

  const addresses: string[] = [];
  // Fastify listens once; every further -H is a listener of its own that hands its connections to
  // the same server (a TLS server then makes its handshake as for its own).
  const extraListeners: net.Server[] = [];
  // What a failure to listen leaves running, stopped newest first.
  const unwind = async (): Promise<void> => {
    for (const listener of extraListeners) listener.close();
    await app.close().catch(() => undefined);
    await replication?.stop();
    await rescheduler.stop();
    await sampler?.stop();
    await cluster.stop();
    await host.stopAll();
  };
  const listen = async (options: { host: string; port: number } | { path: string }): Promise<net.AddressInfo | string | null> => {
    if (!app.server.listening) {
      await app.listen(options);
      return app.server.address();
    }
    const listener = net.createServer((socket) => app.server.emit("connection", socket));
    extraListeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(options, () => resolve());
    });
    return listener.address();
  };
  try {
    for (const value of settings.hosts) {
      const address = parseListenAddress(value);
      if (address.kind === "unix") {
        await rm(address.path, { force: true });
        await listen({ path: address.path });
        await chmod(address.path, 0o600);
        addresses.push(`unix://${address.path}`);
      } else {
        const bound = await listen({ host: address.host, port: address.port });
        const port = typeof bound === "object" && bound ? bound.port : address.port;
        addresses.push(`tcp://${address.host}:${port}`);
      }
      logger.info("Listening for HTTP", { proto: address.kind, addr: addresses.at(-1) });
      if (address.kind === "tcp" && !isLoopback(address.host) && !settings.tls?.verify) {
        logger.warn(
          `Listening on ${addresses.at(-1)} without --tlsverify: anyone who can reach this address controls every engine of the cluster. Use --tlsverify with --tlscacert, --tlscert and --tlskey, or listen on 127.0.0.1 or a unix socket`,
        );
      }
    }
  } catch (err) {
    await unwind();
    const message = errorMessage(err);
    if (message.includes("EADDRINUSE") && settings.hosts.some((h) => h.includes(":2375"))) {
      throw errors.DockerPortInUse({ reason: message }, { cause: err });
    }
    throw errors.ListenFailed({ message }, { cause: err });
  }

  let metricsListener: http.Server | undefined;
  let metricsUrl: string | undefined;
  const metricsAddr = settings.metricsAddr;
  if (metricsAddr) {
    const served = metrics;
    metricsListener = http.createServer((request, response) => {
      const refuse = (error: SwarmError) => response.writeHead(error.status, { "content-type": "application/json" }).end(JSON.stringify({ message: error.message }));
      if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/metrics") {
        refuse(errors.PageNotFound());
        return;
      }
      served.text().then(
        (text) => response.writeHead(200, { "content-type": served.contentType }).end(text),
        (err: unknown) => refuse(errors.MetricsFailed({ message: errorMessage(err) }, { cause: err })),
      );
    });
    const { host: metricsHost, port: metricsPort } = parseHostPort(metricsAddr);
    await new Promise<void>((resolve, reject) => {
      metricsListener!.once("error", reject);
      metricsListener!.listen(metricsPort, metricsHost, () => resolve());
    }).catch(async (err: unknown) => {
      await unwind();
      throw errors.MetricsListenFailed({ addr: metricsAddr, reason: errorMessage(err) }, { cause: err });
    });
    const bound = metricsListener.address() as net.AddressInfo;
    metricsUrl = `http://${metricsHost}:${bound.port}/metrics`;
    logger.info("Serving metrics", { addr: metricsUrl });
  }

  // Engines are read once the API listens: with a thousand of them, reading first would keep the
  // API from answering (even `_ping`) until most had been read.
  const watchAbort = new AbortController();
  const watching = discovery ? watchDiscovery(discovery, cluster, logger, metrics, watchAbort.signal) : Promise.resolve();

  let stopping: Promise<void> | undefined;
  let current = settings;
  const loadedPlugins = new Set(settings.plugins);
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (next: ManagerSettings): Promise<void> => {
    const added = next.plugins.filter((specifier) => !loadedPlugins.has(specifier));
    if (added.length > 0) {
      await host.load(added, next.baseDir);
      for (const specifier of added) loadedPlugins.add(specifier);
    }
    const choice = choosePlacement(host, next);
    for (const name of Object.keys(next.pluginOptions)) {
      const known = ["filter", "strategy", "discovery", "leader", "backend"].some((kind) => host.registry.get(kind as never, name));
      if (!known) throw errors.UnknownPluginOptions({ plugin: name });
    }
    const started = await startPlacement(host, choice);
    const old = { filters: scheduler.filters, strategy: scheduler.strategy };
    scheduler.replace(started.filters, started.strategy);
    for (const { filter } of old.filters) await host.stopOne(filter);
    await host.stopOne(old.strategy.strategy);
    const atRestart = settingsNeedingRestart(current, next);
    if (atRestart.length > 0) logger.warn(`Reloaded; these settings changed and take effect at the next start: ${atRestart.join(", ")}`);
    current = next;
    const names = { strategy: started.strategy.name, filters: started.filters.map((f) => f.name).join(",") };
    logger.info("Reloaded the configuration", names);
    const nowMs = Date.now();
    events.publish(
      { Type: "daemon", Action: "reload", status: "reload", Actor: { ID: "", Attributes: names }, scope: "local", time: Math.floor(nowMs / 1000), timeNano: nowMs * 1_000_000 },
      { Name: os.hostname(), Id: "", Addr: addresses[0] ?? "", Ip: "" },
    );
  };
  return {
    cluster,
    host,
    app,
    addresses,
    metricsUrl,
    // One reload at a time, in the order asked.
    reload(next) {
      const run = reloading.then(() => reload(next));
      reloading = run.catch(() => undefined);
      return run;
    },
    stop() {
      stopping ??= (async () => {
        watchAbort.abort();
        // Resigning first lets another manager take over at once rather than after the lock's TTL.
        await replication?.stop();
        await rescheduler.stop();
        await sampler?.stop();
        for (const listener of extraListeners) listener.close();
        metricsListener?.close();
        await app.close().catch(() => undefined);
        await cluster.stop();
        await host.stopAll();
        await watching.catch(() => undefined);
      })();
      return stopping;
    },
  };
}

/** The settings a reload cannot apply: the ones that differ between the two, by name. */
function settingsNeedingRestart(before: ManagerSettings, after: ManagerSettings): string[] {
  const reloadable = new Set(["strategy", "filters", "pluginOptions", "plugins", "warnings", "baseDir"]);
  return Object.keys(after).filter(
    (key) => !reloadable.has(key) && JSON.stringify(before[key as keyof ManagerSettings]) !== JSON.stringify(after[key as keyof ManagerSettings]),
  );
}

/**
 * A backend's options from `--cluster-opt`, each missing one taken from its environment variable;
 * a key the backend does not declare is refused with the ones it does.
 */
export function clusterOptions(plugin: LoadedPlugin, given: Readonly<Record<string, string>>): Record<string, string> {
  const definition = plugin.definition as { name: string; options?: { properties?: Record<string, unknown> }; env?: Record<string, string> };
  const declared = Object.keys(definition.options?.properties ?? {});
  const unknown = Object.keys(given).filter((key) => !declared.includes(key));
  if (unknown.length > 0) {
    const choices = declared.length > 0 ? `its options are ${declared.join(", ")}` : "it takes no options";
    throw errors.UnknownClusterOption({ options: unknown.join(", "), driver: definition.name, choices });
  }
  const options: Record<string, string> = { ...given };
  for (const [key, variable] of Object.entries(definition.env ?? {})) {
    const value = process.env[variable];
    if (options[key] === undefined && value !== undefined && value !== "") options[key] = value;
  }
  return options;
}

/** Feeds discovery updates to the cluster; store errors are logged once per distinct error. */
async function watchDiscovery(discovery: Discovery, cluster: Cluster, logger: Logger, metrics: ManagerMetrics, signal: AbortSignal): Promise<void> {
  let lastError = "";
  try {
    for await (const update of discovery.watch(signal)) {
      if ("error" in update) metrics.discoveryFailed();
      else metrics.discoveryRefreshed();
      if ("error" in update) {
        const message = errorMessage(update.error);
        if (message !== lastError) logger.error(`Discovery error: ${message}`);
        lastError = message;
        continue;
      }
      lastError = "";
      await cluster.setEntries(update.entries);
    }
  } catch (err) {
    if (!signal.aborted) logger.error(`Discovery watch stopped: ${errorMessage(err)}`);
  }
}
