import type { Discovery, DiscoveryUpdate } from "@swarm/core";
import { waitFor } from "@swarm/test-harness";

/**
 * What the discovery plugins' own tests share: the context the host would create a backend with,
 * and a watch followed in the background.
 */

/** The kit's, so that the discovery plugins' tests import one module. */
export { makeDiscoveryContext } from "@swarm/core/testing";

export interface FollowedWatch {
  /** Everything the watch yielded so far. */
  readonly updates: DiscoveryUpdate[];
  lastEntries(): readonly string[] | undefined;
  /** Waits until the last announced list is exactly `expected`. */
  until(expected: readonly string[], what: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Collects a watch's updates in the background; tests wait on what they expect to see.
 * `timeoutMs` is per until(): how long the store may take to show a change.
 */
export function followWatch(discovery: Discovery, timeoutMs: number): FollowedWatch {
  const abort = new AbortController();
  const updates: DiscoveryUpdate[] = [];
  const done = (async () => {
    for await (const update of discovery.watch(abort.signal)) updates.push(update);
  })();
  const lastEntries = (): readonly string[] | undefined =>
    updates.findLast((u): u is { entries: readonly string[] } => "entries" in u)?.entries;
  return {
    updates,
    lastEntries,
    async until(expected, what) {
      await waitFor({
        what: `${what}: the watch did not announce ${JSON.stringify(expected)} (last: ${JSON.stringify(lastEntries())})`,
        timeoutMs,
        probe: async () => (JSON.stringify(lastEntries()) === JSON.stringify(expected) ? true : undefined),
      });
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/**
 * Backends a test file creates against one store: open() creates one, stopAll() stops every one
 * created so far. Call stopAll() before the store goes, so that no client is left retrying a store
 * that will not come back.
 */
export function openDiscoveries(create: (path: string, ttl?: number) => Discovery | Promise<Discovery>): {
  open(path: string, ttl?: number): Promise<Discovery>;
  stopAll(): Promise<void>;
} {
  const opened: Discovery[] = [];
  return {
    async open(path, ttl) {
      const discovery = await create(path, ttl);
      opened.push(discovery);
      return discovery;
    },
    async stopAll() {
      for (const d of opened) await d.stop?.();
    },
  };
}
