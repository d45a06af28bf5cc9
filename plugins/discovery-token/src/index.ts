import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { defineDiscovery, parseHostPort, withDeadline, type Discovery, type DiscoveryUpdate } from "@swarm/core";

/**
 * Token discovery: a token service (classic Swarm's Docker Hub service, or the one this project
 * ships as `swarm discovery serve`) keeps, per cluster token, the `ip:port` of every engine that
 * registered within its TTL. `swarm join` posts its address every heartbeat; managers poll the list.
 */

/** Where Docker Hub's hosted service lived; it was shut down on 2019-06-19. */
export const DEFAULT_TOKEN_DISCOVERY_URL = "https://discovery.hub.docker.com/v1";

export interface TokenEndpoint {
  /** e.g. `https://discovery.hub.docker.com/v1`, without a trailing slash. */
  readonly baseUrl: string;
  readonly token: string;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/**
 * `token://<token>` → the base URL from `SWARM_TOKEN_DISCOVERY_URL` (default Docker Hub's);
 * `token://<host:port>[/path]/<token>` → `https://<host:port>[/path]`, as classic Swarm did. Plain
 * HTTP is only used for the second form when `SWARM_TOKEN_DISCOVERY_URL` names that same host and
 * path with `http://`: an explicit opt-in, so a typo cannot silently downgrade to cleartext.
 */
export function parseTokenUrl(path: string, envUrl: string | undefined = process.env.SWARM_TOKEN_DISCOVERY_URL): TokenEndpoint {
  const configured = envUrl === undefined || envUrl.trim() === "" ? undefined : trimSlash(envUrl.trim());
  const slash = path.lastIndexOf("/");
  let baseUrl: string;
  let token: string;
  if (slash >= 0) {
    const hostPart = trimSlash(path.slice(0, slash));
    token = path.slice(slash + 1);
    baseUrl = configured !== undefined && configured === `http://${hostPart}` ? configured : `https://${hostPart}`;
  } else {
    token = path;
    baseUrl = configured ?? DEFAULT_TOKEN_DISCOVERY_URL;
  }
  if (token === "") throw new Error("token is empty");
  return { baseUrl, token };
}

/** Splits what the service listed into valid `host:port` entries and the ones it could not parse. */
export function parseEntries(values: readonly unknown[]): { entries: string[]; invalid: string[] } {
  const entries: string[] = [];
  const invalid: string[] = [];
  for (const value of values) {
    if (value === "") continue;
    if (typeof value !== "string") {
      invalid.push(`${JSON.stringify(value)}: not a string`);
      continue;
    }
    try {
      parseHostPort(value);
      entries.push(value);
    } catch (err) {
      invalid.push((err as Error).message);
    }
  }
  return { entries, invalid };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** `GET <base>/clusters/<token>`: the engines registered in the cluster right now. */
export async function fetchEntries(endpoint: TokenEndpoint, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ entries: string[]; invalid: string[] }> {
  const url = `${endpoint.baseUrl}/clusters/${encodeURIComponent(endpoint.token)}`;
  const budget = withDeadline(options.signal, options.timeoutMs ?? 10_000);
  let response;
  let text: string;
  try {
    response = await request(url, { method: "GET", signal: budget.signal });
    text = await response.body.text();
  } catch (err) {
    throw new Error(`Failed to fetch entries from ${url}: ${describe(err)}`, { cause: err });
  } finally {
    budget.done();
  }
  if (response.statusCode !== 200) {
    throw new Error(`Failed to fetch entries, Discovery service returned ${response.statusCode} HTTP status code`);
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (err) {
    throw new Error(`Failed to decode response: ${describe(err)}`, { cause: err });
  }
  if (decoded === null) return { entries: [], invalid: [] };
  if (!Array.isArray(decoded)) throw new Error(`Failed to decode response: expected a JSON array of "ip:port" strings, got ${text.slice(0, 80)}`);
  return parseEntries(decoded);
}

/** `POST <base>/clusters/<token>?ttl=<seconds>` with the raw `ip:port` as body (not JSON-quoted). */
export async function registerEntry(
  endpoint: TokenEndpoint,
  addr: string,
  ttlMs: number,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const url = `${endpoint.baseUrl}/clusters/${encodeURIComponent(endpoint.token)}?ttl=${Math.floor(ttlMs / 1000)}`;
  const budget = withDeadline(options.signal, options.timeoutMs ?? 10_000);
  let response;
  let text: string;
  try {
    response = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: addr,
      signal: budget.signal,
    });
    text = await response.body.text();
  } catch (err) {
    throw new Error(`Failed to register ${addr} at ${url}: ${describe(err)}`, { cause: err });
  } finally {
    budget.done();
  }
  // Classic Swarm ignored the answer; a refusal is worth telling the operator.
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new Error(`Failed to register ${addr}, Discovery service returned ${response.statusCode} HTTP status code${text.trim() ? `: ${text.trim()}` : ""}`);
  }
}

/** `POST <base>/clusters` (empty body): a new cluster's token, as `swarm create` prints it. */
export async function createCluster(baseUrl: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
  const url = `${trimSlash(baseUrl)}/clusters`;
  const budget = withDeadline(options.signal, options.timeoutMs ?? 30_000);
  let response;
  let text: string;
  try {
    response = await request(url, { method: "POST", signal: budget.signal });
    text = await response.body.text();
  } catch (err) {
    throw new Error(`Failed to create a cluster at ${url}: ${describe(err)}`, { cause: err });
  } finally {
    budget.done();
  }
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new Error(`Failed to create a cluster, Discovery service returned ${response.statusCode} HTTP status code`);
  }
  return text.trim();
}

export default defineDiscovery({
  name: "token",
  apiVersion: "^1",
  description: "engines registered with a token discovery service (token://<token>)",
  schemes: ["token"],
  create(ctx): Discovery {
    const endpoint = parseTokenUrl(ctx.uri.path);
    // A poll must finish before the next one is due, but a slow service deserves a few seconds.
    const requestBudget = Math.max(ctx.heartbeat, 5_000);
    ctx.logger.debug("Initializing token discovery", { url: endpoint.baseUrl });
    return {
      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        let last: string[] | undefined;
        // After a store error the list is announced again even if unchanged: that is how the host
        // learns the store is back (and will log the next outage).
        let recovering = false;
        while (!signal.aborted) {
          try {
            const { entries, invalid } = await fetchEntries(endpoint, { signal, timeoutMs: requestBudget });
            if (invalid.length > 0) {
              yield { error: new Error(`the token service listed invalid entries, ignored: ${invalid.join("; ")}`) };
            }
            if (recovering || last === undefined || !sameList(last, entries)) {
              recovering = false;
              last = entries;
              yield { entries };
            }
          } catch (err) {
            if (signal.aborted) return;
            recovering = true;
            yield { error: err instanceof Error ? err : new Error(String(err)) };
          }
          await sleep(ctx.heartbeat, undefined, { signal }).catch(() => undefined);
        }
      },
      register(addr: string, signal: AbortSignal): Promise<void> {
        return registerEntry(endpoint, addr, ctx.ttl, { signal, timeoutMs: requestBudget });
      },
    };
  },
});
