import { EventEmitter } from "node:events";
import { Agent as HttpsAgent } from "node:https";
import type ConsulClient from "consul";
import { defineDiscovery, formatGoDuration, KvBackoff, parseHostPort, parseKvDiscoveryUrl, parseKvEntries, readKvTls, untilAborted, type Discovery, type DiscoveryUpdate, type KvDiscoveryUrl } from "@swarm/core";

/**
 * Consul discovery. `swarm join` holds `<dir>/<ip:port>` = `<ip:port>` with a session (Behavior
 * delete, TTL = --ttl/2 because Consul lets a session live up to twice its TTL, lock-delay 1 ms)
 * that it renews every heartbeat; managers follow `<dir>/` with blocking queries.
 */

type Consul = InstanceType<typeof ConsulClient>;

/** Classic Swarm's retry count for creating or renewing the session of a registration. */
export const SESSION_ATTEMPTS = 5;
/** Classic Swarm's blocking-query wait. */
const WAIT = "15s";
const WAIT_MS = 15_000;
const CALL_TIMEOUT_MS = 5_000;

/** `consul://<host:port>[,<host:port>…][/<prefix>]`; the node directory is a key prefix without a leading `/`. */
export function parseKvUrl(path: string, options: Readonly<Record<string, string>>): KvDiscoveryUrl {
  return parseKvDiscoveryUrl("consul", path, options, { member: "agent" });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

interface KvItem {
  readonly Key: string;
  readonly Value: string | null;
}

interface ResponseMeta {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * The consul 2.x calls used here, typed with the options its typings leave out but its code
 * supports: `index`/`wait` (blocking queries), `timeout`, and `ctx` (an EventEmitter: `cancel`
 * aborts the request, `includeResponse` returns `[response, body]` for the X-Consul-Index header).
 */
interface BlockingKv {
  get(options: {
    key: string;
    recurse: true;
    index?: string;
    wait?: string;
    timeout: number;
    ctx: EventEmitter & { includeResponse: true };
  }): Promise<[ResponseMeta, KvItem[] | undefined] | [ResponseMeta]>;
}

/** A papi request context tied to an AbortSignal. */
function requestContext(signal: AbortSignal): { ctx: EventEmitter & { includeResponse: true }; release: () => void } {
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true as const });
  const cancel = (): void => {
    ctx.emit("cancel");
  };
  signal.addEventListener("abort", cancel, { once: true });
  return { ctx, release: () => signal.removeEventListener("abort", cancel) };
}

export default defineDiscovery({
  name: "consul",
  apiVersion: "^1",
  description: "engines registered in Consul's KV store under TTL sessions (consul://<host:port>/<prefix>)",
  schemes: ["consul"],
  async create(ctx): Promise<Discovery> {
    const layout = parseKvUrl(ctx.uri.path, ctx.discoveryOptions);
    const tls = readKvTls(ctx.discoveryOptions, ctx.logger);
    // Loaded here, not at module scope, so other schemes never load the Consul client.
    const { default: Consul } = await import("consul");
    const agent = tls ? new HttpsAgent({ ca: tls.ca, cert: tls.cert, key: tls.key, keepAlive: true }) : undefined;
    const clients: Consul[] = layout.endpoints.map((endpoint) => {
      const { host, port } = parseHostPort(endpoint);
      // `timeout` is papi's per-request default, which the consul typings do not list.
      const options: ConstructorParameters<typeof Consul>[0] & { timeout: number } = {
        host,
        port,
        secure: tls !== undefined,
        timeout: CALL_TIMEOUT_MS,
        ...(agent ? { agent } : {}),
      };
      return new Consul(options);
    });
    // Agents are tried in turn: the next one after a failure.
    let current = 0;
    const client = (): Consul => clients[current % clients.length]!;
    const failedOver = (): void => {
      current = (current + 1) % clients.length;
    };
    const where = (): string => `consul at ${layout.endpoints[current % layout.endpoints.length]}`;
    const sessionTtl = formatGoDuration(ctx.ttl / 2);
    let session: string | undefined;

    /** Creates the process's session once and renews it; a session Consul forgot is replaced. */
    const renewSession = async (signal: AbortSignal): Promise<string> => {
      let lastError: unknown;
      for (let attempt = 1; attempt <= SESSION_ATTEMPTS; attempt++) {
        if (signal.aborted) break;
        try {
          if (session === undefined) {
            const created = await untilAborted(
              client().session.create({ ttl: sessionTtl, behavior: "delete", lockdelay: "1ms" }),
              signal,
              `creating a session at ${where()}`,
            );
            session = created.ID;
          }
          await untilAborted(client().session.renew(session), signal, `renewing session ${session} at ${where()}`);
          return session;
        } catch (err) {
          lastError = err;
          if (statusOf(err) === 404) session = undefined;
          else if (statusOf(err) === undefined) failedOver();
        }
      }
      throw new Error(`cannot set or renew session for ttl, unable to operate on sessions: ${messageOf(lastError)}`, { cause: lastError });
    };

    return {
      async register(addr: string, signal: AbortSignal): Promise<void> {
        const key = layout.dir === "" ? addr : `${layout.dir}/${addr}`;
        const held = await renewSession(signal);
        let acquired: boolean;
        try {
          acquired = await untilAborted(client().kv.set({ key, value: addr, acquire: held }), signal, `writing ${key} at ${where()}`);
        } catch (err) {
          if (statusOf(err) === undefined) failedOver();
          // Consul refuses to acquire with a session it no longer has; start afresh next heartbeat.
          if (statusOf(err) === 500) session = undefined;
          throw new Error(`registering ${addr} at ${where()}: ${messageOf(err)}`, { cause: err });
        }
        if (!acquired) {
          throw new Error(
            `registering ${addr} at ${where()}: ${key} is held by another session (an earlier swarm join for ${addr}?) ` +
              "or is in its lock-delay; it is taken over once that session expires",
          );
        }
      },

      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        const prefix = layout.dir === "" ? "" : `${layout.dir}/`;
        let last: string[] | undefined;
        // After a store error the list is announced again even if unchanged: that is how the host
        // learns the store is back (and will log the next outage).
        let recovering = false;
        let index = 0;
        const backoff = new KvBackoff(ctx.heartbeat);
        while (!signal.aborted) {
          const { ctx: requestCtx, release } = requestContext(signal);
          try {
            const kv = client().kv as unknown as BlockingKv;
            const answer = await kv.get({
              key: prefix,
              recurse: true,
              ...(index > 0 ? { index: String(index), wait: WAIT } : {}),
              // Consul may hold a blocking query for wait + wait/16.
              timeout: index > 0 ? WAIT_MS + WAIT_MS / 16 + CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
              ctx: requestCtx,
            });
            const [response, items = []] = answer;
            const header = response.headers["x-consul-index"];
            const next = Number(Array.isArray(header) ? header[0] : header);
            // Consul's rules for blocking clients: restart from 0 if the index goes backwards, never use 0.
            index = !Number.isFinite(next) || next < index ? 0 : Math.max(1, next);
            const values = items.filter((item) => item.Key !== prefix).map((item) => item.Value ?? "");
            const { entries, invalid } = parseKvEntries(values);
            if (invalid.length > 0) yield { error: new Error(`ignored invalid entries under ${prefix} at ${where()}: ${invalid.join("; ")}`) };
            if (recovering || last === undefined || !sameList(last, entries)) {
              recovering = false;
              last = entries;
              yield { entries };
            }
            backoff.reset();
          } catch (err) {
            if (signal.aborted) return;
            const at = where();
            if (statusOf(err) === undefined) failedOver();
            recovering = true;
            yield { error: new Error(`watching ${prefix} at ${at}: ${messageOf(err)}`, { cause: err }) };
            await backoff.wait(signal);
          } finally {
            release();
          }
        }
      },

      stop(): void {
        // The session is left to expire rather than destroyed: a restarted `swarm join` must not
        // make its engine blink out of every manager. Kill the join and the key goes after --ttl.
        for (const c of clients) c.destroy();
        agent?.destroy();
      },
    };
  },
});
