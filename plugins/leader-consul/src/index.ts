import { EventEmitter } from "node:events";
import { Agent as HttpsAgent } from "node:https";
import type ConsulClient from "consul";
import {
  defineLeaderElector,
  formatGoDuration,
  LEADER_KV_PATH,
  parseHostPort,
  parseKvDiscoveryUrl,
  readKvTls,
  untilAborted,
  type LeaderElector,
  type LeadershipChange,
} from "@swarm/core";

/**
 * Leader election through a Consul lock, as classic Swarm did it: the primary holds
 * `<prefix>/docker/swarm/leader` (value: its `--advertise` address) with a session of Behavior
 * "release", TTL `--replication-ttl`/2 (Consul lets a session live up to twice its TTL) and
 * lock-delay 1 ms. The others follow the key with blocking queries and try to acquire it as soon
 * as no session holds it.
 */

type Consul = InstanceType<typeof ConsulClient>;

/** Blocking-query wait, as for discovery. */
const WAIT = "15s";
const WAIT_MS = 15_000;
const CALL_TIMEOUT_MS = 5_000;

interface LockItem {
  readonly Value: string | null;
  readonly Session?: string;
}

/** consul 2.x's kv.get with the options its typings leave out: a blocking query, and the response for its index. */
interface BlockingKv {
  get(options: {
    key: string;
    index?: string;
    wait?: string;
    timeout: number;
    ctx: EventEmitter & { includeResponse: true };
  }): Promise<[{ readonly headers: Readonly<Record<string, string | string[] | undefined>> }, LockItem | undefined]>;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export default defineLeaderElector({
  name: "leader-consul",
  apiVersion: "^1",
  description: "primary election through a Consul KV lock held by a TTL session (consul://<host:port>/<prefix>)",
  schemes: ["consul"],
  async create(ctx): Promise<LeaderElector> {
    const { endpoints, dir: key } = parseKvDiscoveryUrl("consul", ctx.uri.path, { "kv.path": LEADER_KV_PATH }, { member: "agent" });
    const tls = readKvTls(ctx.discoveryOptions, ctx.logger);
    const { default: ConsulConstructor } = await import("consul");
    const agent = tls ? new HttpsAgent({ ca: tls.ca, cert: tls.cert, key: tls.key, keepAlive: true }) : undefined;
    // The first agent named in the URL: an election needs one consistent view, not a round robin.
    const { host, port } = parseHostPort(endpoints[0]!);
    const clientOptions: ConstructorParameters<typeof ConsulConstructor>[0] & { timeout: number } = {
      host,
      port,
      secure: tls !== undefined,
      timeout: CALL_TIMEOUT_MS,
      ...(agent ? { agent } : {}),
    };
    const client: Consul = new ConsulConstructor(clientOptions);
    const where = `consul at ${endpoints[0]!}`;
    const sessionTtl = formatGoDuration(ctx.ttl / 2);
    // Renewed every quarter of the TTL, so one late renewal still lands well inside it.
    const renewEveryMs = Math.max(250, ctx.ttl / 4);
    /** The session of the current round, while it lives. */
    let session: string | undefined;

    const release = async (id: string): Promise<void> => {
      if (session === id) session = undefined;
      // Destroying the session releases the lock at once; if Consul is unreachable the session expires.
      await client.session.destroy(id).catch(() => undefined);
    };

    return {
      async *campaign(candidate: string, signal: AbortSignal): AsyncIterable<LeadershipChange> {
        while (!signal.aborted) {
          const round = new AbortController();
          const onStop = () => round.abort(new Error("stopping"));
          signal.addEventListener("abort", onStop, { once: true });
          let renewer: NodeJS.Timeout | undefined;
          let id: string | undefined;
          let primary = false;
          try {
            const created = await untilAborted(
              client.session.create({ ttl: sessionTtl, behavior: "release", lockdelay: "1ms", name: `swarm manager ${candidate}` }),
              round.signal,
              `creating a session at ${where}`,
            );
            id = created.ID;
            session = id;
            const held = id;
            renewer = setInterval(() => {
              client.session.renew(held).catch((err: unknown) => {
                // Consul forgot the session: the lock is gone with it.
                if (statusOf(err) === 404) round.abort(new Error(`session ${held} at ${where} expired`));
              });
            }, renewEveryMs);

            let index = 0;
            while (!round.signal.aborted) {
              const requestCtx = Object.assign(new EventEmitter(), { includeResponse: true as const });
              const cancel = () => requestCtx.emit("cancel");
              round.signal.addEventListener("abort", cancel, { once: true });
              let item: LockItem | undefined;
              try {
                const [response, answer] = await (client.kv as unknown as BlockingKv).get({
                  key,
                  ...(index > 0 ? { index: String(index), wait: WAIT } : {}),
                  timeout: index > 0 ? WAIT_MS + WAIT_MS / 16 + CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
                  ctx: requestCtx,
                });
                item = answer;
                const header = response.headers["x-consul-index"];
                const next = Number(Array.isArray(header) ? header[0] : header);
                index = !Number.isFinite(next) || next < index ? 0 : Math.max(1, next);
              } finally {
                round.signal.removeEventListener("abort", cancel);
              }

              if (!item?.Session) {
                // Free: acquiring either works (the next read shows this session) or loses to another manager.
                await untilAborted(client.kv.set({ key, value: candidate, acquire: held }), round.signal, `acquiring ${key} at ${where}`);
                index = 0;
                continue;
              }
              primary = item.Session === held;
              const change: LeadershipChange = primary ? { role: "primary" } : { role: "replica", primary: item.Value ?? undefined };
              yield change;
            }
          } catch (err) {
            if (signal.aborted) return;
            if (!round.signal.aborted) throw new Error(`${where}: ${messageOf(err)}`, { cause: err });
          } finally {
            clearInterval(renewer);
            signal.removeEventListener("abort", onStop);
            // Stopping keeps the lock for resign(); a lost or failed round gives its session up.
            if (id !== undefined && !(signal.aborted && primary)) await release(id);
          }
          if (signal.aborted) return;
          // The session expired under this manager.
          const lost: LeadershipChange = { role: "replica", primary: undefined };
          yield lost;
        }
      },

      async resign(): Promise<void> {
        if (session !== undefined) await release(session);
      },

      stop(): void {
        client.destroy();
        agent?.destroy();
      },
    };
  },
});
