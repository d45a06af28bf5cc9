import type { DiscoveryDefinition, DiscoveryUpdate } from "../extension-points/discovery.js";
import { defineDiscovery } from "../extension-points/discovery.js";
import type { FilterDefinition } from "../extension-points/filter.js";
import { defineFilter, PASS, reject } from "../extension-points/filter.js";
import type { NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { StrategyDefinition } from "../extension-points/strategy.js";
import { defineStrategy } from "../extension-points/strategy.js";
import type { TSchema } from "typebox";

/*
 * Plugins that do one predictable thing, for testing what runs them: the host, a config, a
 * backend's placement, or another plugin's interplay with a filter or strategy.
 */

/** A filter named `name` that refuses the nodes `refuses` picks, under reason code `fake.refused`. */
export function fakeFilter(name: string, refuses: (node: NodeView, request: ScheduleRequest) => boolean): FilterDefinition<TSchema> {
  return defineFilter({
    name,
    apiVersion: "^1",
    description: "refuses the nodes a test picks",
    create: () => ({
      prepare: (request) => ({ judge: (node) => (refuses(node, request) ? reject("fake.refused", `node(s) refused by ${name}`) : PASS) }),
      conditions: () => [],
    }),
  });
}

/** A strategy named `name` whose score for a node is `score(node)`; higher wins. */
export function fakeStrategy(name: string, score: (node: NodeView, request: ScheduleRequest) => number): StrategyDefinition<TSchema> {
  return defineStrategy({
    name,
    apiVersion: "^1",
    description: "scores nodes as a test says",
    create: () => ({ tieBreak: "none", score: (request, node) => ({ fits: true, score: score(node, request) }) }),
  });
}

export interface FakeDiscovery {
  /** Serves `<scheme>://anything`: its watch yields the current entries, and again after each `set`. */
  readonly definition: DiscoveryDefinition<TSchema>;
  /** Replaces the engine addresses every watch sees. */
  set(entries: readonly string[]): void;
  /** Addresses `register` (`swarm join`) was called with, in order. */
  readonly registered: readonly string[];
}

/** A discovery backend whose engine list a test sets: for testing a manager, `join` or a backend against changing membership. */
export function fakeDiscovery(scheme: string, initial: readonly string[] = []): FakeDiscovery {
  let entries = [...initial];
  const registered: string[] = [];
  const listeners = new Set<() => void>();
  const definition = defineDiscovery({
    name: scheme,
    apiVersion: "^1",
    schemes: [scheme],
    description: "engine addresses a test sets",
    create: () => ({
      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        while (!signal.aborted) {
          yield { entries: [...entries] };
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              listeners.delete(wake);
              signal.removeEventListener("abort", wake);
              resolve();
            };
            listeners.add(wake);
            signal.addEventListener("abort", wake, { once: true });
          });
        }
      },
      register: (addr: string) => {
        registered.push(addr);
        return Promise.resolve();
      },
    }),
  });
  return {
    definition,
    registered,
    set(next) {
      entries = [...next];
      for (const wake of [...listeners]) wake();
    },
  };
}
