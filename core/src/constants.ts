/** Classic Swarm's defaults and the names core spells once: filter order, strategy, backend, listen address, store paths. */
export const DEFAULT_FILTERS: readonly string[] = [
  "health",
  "port",
  "containerslots",
  "dependency",
  "affinity",
  "constraint",
  "whitelist",
];

export const DEFAULT_STRATEGY = "spread";
export const NATIVE_BACKEND = "swarm";
export const DEFAULT_HOST = "tcp://127.0.0.1:2375";
export const DEFAULT_KV_PATH = "docker/swarm/nodes";
/** The leader lock's key under the discovery URL's prefix, whatever `kv.path` says. */
export const LEADER_KV_PATH = "docker/swarm/leader";
/**
 * How far past the live heap V8 may let the manager's heap grow before a full collection, in
 * percent. V8's own policy lets a busy process grow it up to fourfold; at 30,000 containers that is
 * hundreds of megabytes of garbage waiting to be collected (README, Performance).
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 35;
