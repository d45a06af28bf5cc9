/**
 * The embedding API: what a program that hosts swarm (the CLI, benchmarks, an integration) uses.
 * Plugins never import this; they see only `@swarm/core`.
 */
export { PluginHost } from "./host/plugin-host.js";
export type { StartedPlugin } from "./host/plugin-host.js";
export { loadPlugin, resolvePlugin, checkDefinition } from "./host/loader.js";
export type { LoadedPlugin } from "./host/loader.js";
export { BUILTIN_PLUGINS } from "./host/builtins.js";
export { DEFAULT_FILTERS, DEFAULT_STRATEGY } from "./constants.js";
export { VERSION, GIT_COMMIT } from "./version.js";
export { silentLogger, createPino, wrapPino } from "./logging/logger.js";
export { startManager, createDiscovery, loadPlugins, splitDiscoveryUrl, parseListenAddress } from "./manager/manager.js";
export type { Manager } from "./manager/manager.js";
export { Scheduler, SchedulingError, renderReasons } from "./scheduler/scheduler.js";
export type { NamedFilter, NamedStrategy } from "./scheduler/scheduler.js";
export { loadConfig, validateConfig } from "./config/load.js";
export { resolveManagerSettings } from "./config/settings.js";
export type { ManagerSettings } from "./config/settings.js";
export { SwarmConfigSchema, defineConfig } from "./config/schema.js";
export type { SwarmConfig } from "./config/schema.js";
export { createTokenService } from "./token-service/server.js";
export type { TokenServiceOptions } from "./token-service/server.js";
