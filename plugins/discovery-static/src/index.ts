import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DiscoveryNotSupportedError,
  defineDiscovery,
  expandRange,
  parseHostPort,
  type Discovery,
  type DiscoveryUpdate,
} from "@swarm/core";

/**
 * Static discovery: `nodes://a:2375,b:2375` (or the bare list) is read once; `file://<path>` is
 * re-read every heartbeat and announced when it changes. Both expand one `[from:to]` range per
 * entry. Neither can register an engine: `swarm join` needs a store.
 */

/** Entries of a `nodes://` list, checked at start-up with classic Swarm's hint. */
export function parseNodeList(list: string): string[] {
  const entries: string[] = [];
  for (const item of list.split(",")) {
    if (item.trim() === "") continue;
    for (const entry of expandRange(item.trim())) {
      try {
        parseHostPort(entry);
      } catch (err) {
        throw new Error(`${(err as Error).message}, please check you are using the correct discovery (missing token:// ?)`, {
          cause: err,
        });
      }
      entries.push(entry);
    }
  }
  return entries;
}

/** Lines of a discovery file: `#` comments (whole-line and inline) and blank lines are skipped. */
export function parseNodeFile(content: string): string[] {
  const entries: string[] = [];
  for (const rawLine of content.trim().split("\n")) {
    const line = rawLine.split("#")[0]!.trim();
    if (line === "") continue;
    entries.push(...expandRange(line));
  }
  return entries;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

export default defineDiscovery({
  name: "static",
  apiVersion: "^1",
  description: "engines listed in the URL (nodes://) or in a file re-read every heartbeat (file://)",
  schemes: ["nodes", "file"],
  create(ctx): Discovery {
    const { scheme, path } = ctx.uri;
    if (scheme === "nodes") {
      const entries = parseNodeList(path);
      return {
        async *watch(): AsyncIterable<DiscoveryUpdate> {
          yield { entries };
        },
        register() {
          return Promise.reject(new DiscoveryNotSupportedError("register"));
        },
      };
    }
    return {
      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        let last: string[] | undefined;
        while (!signal.aborted) {
          try {
            const entries = parseNodeFile(await readFile(path, "utf8"));
            if (last === undefined || !sameList(last, entries)) {
              last = entries;
              yield { entries };
            }
          } catch (err) {
            yield { error: new Error(`failed to read '${path}': ${(err as Error).message}`) };
          }
          await sleep(ctx.heartbeat, undefined, { signal }).catch(() => undefined);
        }
      },
      register() {
        return Promise.reject(new DiscoveryNotSupportedError("register"));
      },
    };
  },
});
