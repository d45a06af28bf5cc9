/**
 * The public API of swarm's core: everything a plugin (built-in or third-party) may import.
 * Plugins never import `@swarm/core/dist/*` or another plugin.
 */
export { Type } from "typebox";
export type { Static, TSchema } from "typebox";

export * from "./extension-points/plugin.js";
export * from "./extension-points/model.js";
export * from "./extension-points/filter.js";
export * from "./extension-points/strategy.js";
export * from "./extension-points/discovery.js";
export * from "./extension-points/leader-elector.js";
export * from "./extension-points/cluster-backend.js";
export * from "./extension-points/tokens.js";

export {
  ExpressionError,
  parseExpression,
  parseExpressions,
  formatExpression,
  describeExpression,
  matchesAny,
  evaluateExpression,
} from "./scheduler/expressions.js";
export { findContainer, containerHasName, SWARM_ID_LABEL } from "./scheduler/lookup.js";
export type { ContainerLike } from "./scheduler/lookup.js";
export { SwarmLabels, normalizeConfig, toScheduleRequest } from "./scheduler/request.js";
export { SwarmError, errors, isSwarmError, errorMessage, definePluginErrors } from "./errors/catalog.js";
export type {
  ErrorBuilder,
  ErrorBuilders,
  ErrorCode,
  ErrorEntry,
  ErrorKey,
  ErrorMatch,
  ErrorOptions,
  ErrorParams,
  PluginErrorEntry,
  Placeholders,
} from "./errors/catalog.js";
export { parseGoDuration, formatGoDuration } from "./util/duration.js";
export { expandRange, parseHostPort } from "./util/address.js";
export { formatHostPort } from "./util/address.js";
export { defineConfig } from "./config/schema.js";
export type { SwarmConfig } from "./config/schema.js";
export { weighResources, formatBytes, ResourceReasons } from "./scheduler/resources.js";
export type { ResourceWeight } from "./scheduler/resources.js";
export { DEFAULT_KV_PATH, LEADER_KV_PATH, KvBackoff, parseKvDiscoveryUrl, parseKvEntries, readKvTls } from "./kv/kv.js";
export type { KvDiscoveryUrl, KvDiscoveryUrlOptions, KvTls } from "./kv/kv.js";
export { untilAborted, withDeadline } from "./util/deadline.js";
export { Notifications } from "./kv/notifications.js";
