import type { Static, TSchema } from "typebox";
import type { Lifecycle, PluginContext, PluginDefinitionBase } from "./plugin.js";

/**
 * LeaderElector: decides which of several `swarm manage --replication` processes is primary.
 *
 * `campaign(candidate, signal)` yields this manager's role as the store tells it: first its current
 * role, then whenever the store says something new (the host reports only actual changes, so an
 * elector may repeat itself). An error ends the campaign; the host campaigns again 10 s later. It holds a lock with the context's `ttl` in the store, so a
 * dead primary is replaced after at most that long. `resign()` gives the lock up at once (on
 * shutdown); it must be safe to call when not primary.
 */
export interface LeaderElector extends Lifecycle {
  campaign(candidate: string, signal: AbortSignal): AsyncIterable<LeadershipChange>;
  resign(): Promise<void>;
}

export type LeadershipChange =
  | { readonly role: "primary" }
  | { readonly role: "replica"; readonly primary: string | undefined };

export interface LeaderElectorContext<Options> extends PluginContext<Options> {
  readonly uri: { readonly scheme: string; readonly path: string; readonly raw: string };
  /** Lock TTL in milliseconds (`--replication-ttl`). */
  readonly ttl: number;
  readonly discoveryOptions: Readonly<Record<string, string>>;
}

export interface LeaderElectorDefinition<Schema extends TSchema>
  extends Omit<PluginDefinitionBase<"leader", Schema, LeaderElector>, "create"> {
  readonly schemes: readonly string[];
  create(ctx: LeaderElectorContext<Static<Schema>>): LeaderElector | Promise<LeaderElector>;
}

export function defineLeaderElector<Schema extends TSchema>(
  definition: Omit<LeaderElectorDefinition<Schema>, "kind">,
): LeaderElectorDefinition<Schema> {
  return { ...definition, kind: "leader" };
}
