import type { InjectionToken } from "tsyringe";
import type { ClusterBackend, EngineState, Placement } from "./cluster-backend.js";
import type { Discovery } from "./discovery.js";
import type { Filter } from "./filter.js";
import type { LeaderElector } from "./leader-elector.js";
import type { Clock, Logger } from "./plugin.js";
import type { Strategy } from "./strategy.js";

/**
 * The tsyringe tokens of the five extension points. `Symbol.for` makes two copies of core (one
 * bundled by a plugin, say) agree on them. Only the host registers and
 * resolves these: each plugin's instance in a child container of its own, which is also where its
 * context is put together.
 */
export const DiscoveryToken: InjectionToken<Discovery> = Symbol.for("swarm.Discovery");
export const FilterToken: InjectionToken<Filter> = Symbol.for("swarm.Filter");
export const StrategyToken: InjectionToken<Strategy> = Symbol.for("swarm.Strategy");
export const LeaderElectorToken: InjectionToken<LeaderElector> = Symbol.for("swarm.LeaderElector");
export const ClusterBackendToken: InjectionToken<ClusterBackend> = Symbol.for("swarm.ClusterBackend");

/*
 * What the host gives plugins, registered in its container once and resolved into each plugin's
 * own child container when its context is built. A program embedding the host provides the last
 * two before it creates a backend.
 */
export const LoggerToken: InjectionToken<Logger> = Symbol.for("swarm.Logger");
export const ClockToken: InjectionToken<Clock> = Symbol.for("swarm.Clock");
export const EngineStateToken: InjectionToken<EngineState> = Symbol.for("swarm.EngineState");
export const PlacementToken: InjectionToken<Placement> = Symbol.for("swarm.Placement");
