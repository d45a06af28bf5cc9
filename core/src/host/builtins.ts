/**
 * Names are spelled once: the built-in plugin packages, classic Swarm's default filter order and
 * strategy. Core keeps only these specifiers; it loads the built-ins through the same loader as a
 * third party's package.
 */
export const BUILTIN_PLUGINS: readonly string[] = [
  "@swarm/core/native-backend",
  "@swarm/mesos",
  "@swarm/discovery-static",
  "@swarm/discovery-token",
  "@swarm/discovery-etcd",
  "@swarm/discovery-zk",
  "@swarm/discovery-consul",
  "@swarm/leader-consul",
  "@swarm/leader-etcd",
  "@swarm/leader-zk",
  "@swarm/filter-health",
  "@swarm/filter-port",
  "@swarm/filter-containerslots",
  "@swarm/filter-dependency",
  "@swarm/filter-affinity",
  "@swarm/filter-constraint",
  "@swarm/filter-whitelist",
  "@swarm/strategy-spread",
  "@swarm/strategy-binpack",
  "@swarm/strategy-random",
];

/** The discovery backends alone: what `swarm join` and `swarm list` need. */
export const BUILTIN_DISCOVERY_PLUGINS: readonly string[] = BUILTIN_PLUGINS.filter((p) => p.startsWith("@swarm/discovery-"));
