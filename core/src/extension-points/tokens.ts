import type { InjectionToken } from "tsyringe";
import type { ClusterBackend } from "./cluster-backend.js";
import type { Discovery } from "./discovery.js";
import type { Filter } from "./filter.js";
import type { LeaderElector } from "./leader-elector.js";
import type { Strategy } from "./strategy.js";

/**
 * The tsyringe tokens of the five extension points. `Symbol.for` makes two copies of core (one
 * bundled by a plugin, say) agree on them. Only the host registers and resolves these.
 */
export const DiscoveryToken: InjectionToken<Discovery> = Symbol.for("swarm.Discovery");
export const FilterToken: InjectionToken<Filter> = Symbol.for("swarm.Filter");
export const StrategyToken: InjectionToken<Strategy> = Symbol.for("swarm.Strategy");
export const LeaderElectorToken: InjectionToken<LeaderElector> = Symbol.for("swarm.LeaderElector");
export const ClusterBackendToken: InjectionToken<ClusterBackend> = Symbol.for("swarm.ClusterBackend");
