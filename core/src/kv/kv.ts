import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../extension-points/plugin.js";
import { DEFAULT_KV_PATH, LEADER_KV_PATH } from "../constants.js";
import { parseHostPort } from "../util/address.js";

/**
 * Classic Swarm's contract for the key/value store backends (`consul://`, `etcd://`, `zk://`):
 * the URL form, the node directory, the `kv.*` discovery options and how stored values become
 * entries. Each store's plugin adds only how it talks to its store.
 */

export { DEFAULT_KV_PATH, LEADER_KV_PATH };

export interface KvDiscoveryUrl {
  /** `host:port` of every store member named in the URL. */
  readonly endpoints: readonly string[];
  /** The node directory, `<prefix>/<kv.path>` without leading or trailing `/` (may be empty). */
  readonly dir: string;
}

export interface KvDiscoveryUrlOptions {
  /** What the store calls its members, for error messages: `store` (default), `agent`, `server`. */
  readonly member?: string;
}

/**
 * `<scheme>://<host:port>[,<host:port>…][/<prefix>]` plus `--discovery-opt kv.path` (default
 * `docker/swarm/nodes`): the part before the first `/` lists the store's members, the rest is the
 * prefix the node directory is joined under.
 */
export function parseKvDiscoveryUrl(
  scheme: string,
  path: string,
  discoveryOptions: Readonly<Record<string, string>>,
  { member = "store" }: KvDiscoveryUrlOptions = {},
): KvDiscoveryUrl {
  const slash = path.indexOf("/");
  const hosts = slash < 0 ? path : path.slice(0, slash);
  const prefix = slash < 0 ? "" : path.slice(slash + 1);
  const endpoints = hosts.split(",").map((h) => h.trim()).filter((h) => h !== "");
  if (endpoints.length === 0) {
    throw new Error(`${scheme}:// needs at least one ${member} address: ${scheme}://<host:port>[,<host:port>]/<prefix>`);
  }
  for (const endpoint of endpoints) {
    try {
      parseHostPort(endpoint);
    } catch (err) {
      throw new Error(`${scheme}:// ${member} address ${endpoint}: ${(err as Error).message}; write it as host:port`, { cause: err });
    }
  }
  const joined = posix.join("/", prefix, discoveryOptions["kv.path"] ?? DEFAULT_KV_PATH);
  return { endpoints, dir: joined.replace(/^\/+|\/+$/g, "") };
}

export interface KvTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * The files named by `kv.cacertfile`, `kv.certfile` and `kv.keyfile`, or undefined for a plain
 * connection. As in classic Swarm, TLS needs all three; with only some of them the store is still
 * reached without TLS, but with a warning, since that is rarely what the operator meant.
 */
export function readKvTls(discoveryOptions: Readonly<Record<string, string>>, logger: Logger): KvTls | undefined {
  const files = { ca: discoveryOptions["kv.cacertfile"], cert: discoveryOptions["kv.certfile"], key: discoveryOptions["kv.keyfile"] };
  const given = Object.values(files).filter((f) => f !== undefined && f !== "").length;
  if (given === 0) {
    logger.debug("Initializing discovery without TLS");
    return undefined;
  }
  if (given < 3) {
    logger.warn("Initializing discovery without TLS: TLS to the store needs all of kv.cacertfile, kv.certfile and kv.keyfile");
    return undefined;
  }
  const read = (option: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`--discovery-opt ${option}=${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  logger.debug("Initializing discovery with TLS");
  return {
    ca: read("kv.cacertfile", files.ca ?? ""),
    cert: read("kv.certfile", files.cert ?? ""),
    key: read("kv.keyfile", files.key ?? ""),
  };
}

/**
 * The values found under the node directory as entries, sorted so that an unchanged directory
 * gives an identical list. Empty values are skipped; values that are not `host:port` are returned
 * in `invalid`, for the plugin to report rather than announce.
 */
export function parseKvEntries(values: Iterable<string>): { entries: string[]; invalid: string[] } {
  const entries: string[] = [];
  const invalid: string[] = [];
  for (const value of values) {
    if (value === "") continue;
    try {
      parseHostPort(value);
      entries.push(value);
    } catch (err) {
      invalid.push((err as Error).message);
    }
  }
  return { entries: entries.sort(), invalid };
}

const KV_FIRST_RETRY_MS = 100;

/**
 * The delay before a watch retries after a store error: from 100 ms, doubling, up to one heartbeat.
 * A store that blinks is back in a fraction of a heartbeat, and one that stays down is asked no
 * more than once a heartbeat, as classic Swarm did.
 */
export class KvBackoff {
  private delay = KV_FIRST_RETRY_MS;
  private readonly cap: number;

  constructor(heartbeatMs: number) {
    this.cap = Math.max(KV_FIRST_RETRY_MS, heartbeatMs);
  }

  /** The delay the next wait() sleeps. */
  get nextDelayMs(): number {
    return this.delay;
  }

  /** After an answer from the store: the next error is retried quickly again. */
  reset(): void {
    this.delay = KV_FIRST_RETRY_MS;
  }

  /** Sleeps the current delay (less if the signal aborts first) and doubles the next one. */
  async wait(signal: AbortSignal): Promise<void> {
    // An abort ends the sleep early; the caller's loop sees the aborted signal and stops.
    await sleep(this.delay, undefined, { signal }).catch(() => undefined);
    this.delay = Math.min(this.delay * 2, this.cap);
  }
}
