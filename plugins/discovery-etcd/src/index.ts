import type { Etcd3, IOptions, Lease, Watcher } from "etcd3";
import { defineDiscovery, KvBackoff, Notifications, parseKvDiscoveryUrl, parseKvEntries, readKvTls, untilAborted, type Discovery, type DiscoveryUpdate, type KvDiscoveryUrl } from "@swarm/core";

/**
 * etcd discovery over the v3 API. `swarm join` puts `<dir>/<ip:port>` = `<ip:port>` under a lease of
 * `--ttl` seconds and refreshes that lease every heartbeat; managers read the directory once and
 * then follow it with a prefix watch, announcing the full list on every change.
 */

/** `etcd://<host:port>[,<host:port>…][/<prefix>]`; the node directory is a key prefix without a leading `/`. */
export function parseKvUrl(path: string, options: Readonly<Record<string, string>>): KvDiscoveryUrl {
  return parseKvDiscoveryUrl("etcd", path, options);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

function toError(err: unknown, context: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${context}: ${message}`, { cause: err });
}

/** Per-call deadline for unary etcd calls, so a black-holed member cannot stall a watch or a heartbeat. */
const CALL_TIMEOUT_MS = 5_000;

export default defineDiscovery({
  name: "etcd",
  apiVersion: "^1",
  description: "engines registered in etcd (v3 API) under leases (etcd://<host:port>[,…]/<prefix>)",
  schemes: ["etcd"],
  async create(ctx): Promise<Discovery> {
    const layout = parseKvUrl(ctx.uri.path, ctx.discoveryOptions);
    const tls = readKvTls(ctx.discoveryOptions, ctx.logger);
    // Loaded here, not at module scope: `swarm manage nodes://…` should never pay for gRPC.
    const etcd = await import("etcd3");
    // etcd3's default per-host circuit breaker refuses every call for 5 s after three failures,
    // which outlasts a short TTL once the store is back; retries and back-off are ours instead.
    const passThrough: ReturnType<NonNullable<NonNullable<IOptions["faultHandling"]>["host"]>> = {
      _altReturn: undefined as never,
      onSuccess: () => ({ dispose() {} }),
      onFailure: () => ({ dispose() {} }),
      execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
    };
    const options: IOptions = {
      hosts: layout.endpoints.map((endpoint) => `${tls ? "https" : "http"}://${endpoint}`),
      ...(tls ? { credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } } : {}),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      faultHandling: { host: () => passThrough },
    };
    const client: Etcd3 = new etcd.Etcd3(options);
    const where = `etcd at ${layout.endpoints.join(",")}`;
    const keyOf = (addr: string): string => (layout.dir === "" ? addr : `${layout.dir}/${addr}`);
    const watchPrefix = layout.dir === "" ? "" : `${layout.dir}/`;
    const leaseTtl = Math.max(1, Math.ceil(ctx.ttl / 1000));
    let lease: Lease | undefined;

    /** One lease per process, kept until etcd says it is gone; a fresh one is granted then. */
    const currentLease = (): { lease: Lease; fresh: boolean } => {
      if (lease && !lease.revoked()) return { lease, fresh: false };
      const granted = client.lease(leaseTtl, { autoKeepAlive: false });
      // A lost lease is noticed by the next heartbeat; the listener only keeps the event from being unhandled noise.
      granted.on("lost", (err) => ctx.logger.debug(`etcd lease lost: ${err.message}`));
      lease = granted;
      return { lease: granted, fresh: true };
    };

    return {
      async register(addr: string, signal: AbortSignal): Promise<void> {
        const key = keyOf(addr);
        let lastError: unknown;
        // Twice at most: the second attempt runs only with a lease granted just now.
        for (let attempt = 0; attempt < 2; attempt++) {
          const { lease: held, fresh } = currentLease();
          try {
            // A put does not extend a lease; the keepalive is what refreshes the TTL.
            if (!fresh) await untilAborted(held.keepaliveOnce(), signal, `refreshing the lease of ${key} at ${where}`);
            await untilAborted(held.put(key).value(addr).exec(), signal, `writing ${key} at ${where}`);
            return;
          } catch (err) {
            lastError = err;
            if (err instanceof etcd.EtcdLeaseInvalidError || held.revoked()) {
              lease = undefined;
              if (!fresh) continue;
            }
            break;
          }
        }
        throw toError(lastError, `registering ${addr} at ${where}`);
      },

      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        let last: string[] | undefined;
        // After a store error the list is announced again even if unchanged: that is how the host
        // learns the store is back (and will log the next outage).
        let recovering = false;
        const backoff = new KvBackoff(ctx.heartbeat);
        while (!signal.aborted) {
          let watcher: Watcher | undefined;
          try {
            const snapshot = await client.getAll().prefix(watchPrefix).exec();
            const values = new Map<string, string>(snapshot.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
            const announce = function* (): Generator<DiscoveryUpdate> {
              const { entries, invalid } = parseKvEntries(values.values());
              if (invalid.length > 0) yield { error: new Error(`ignored invalid entries under ${layout.dir}/ at ${where}: ${invalid.join("; ")}`) };
              if (recovering || last === undefined || !sameList(last, entries)) {
                recovering = false;
                last = entries;
                yield { entries };
              }
            };
            yield* announce();
            backoff.reset();

            const events = new Notifications<Error | "changed">();
            // Starting right after the snapshot's revision: nothing between the two is missed.
            watcher = client.watch().prefix(watchPrefix).startRevision((BigInt(snapshot.header.revision) + 1n).toString()).watcher();
            watcher.on("put", (kv) => {
              values.set(kv.key.toString(), kv.value.toString());
              events.push("changed");
            });
            watcher.on("delete", (kv) => {
              values.delete(kv.key.toString());
              events.push("changed");
            });
            watcher.on("disconnected", (err: unknown) => events.push(toError(err, `lost the watch on ${layout.dir}/ at ${where}`)));
            watcher.on("error", (err: unknown) => events.push(toError(err, `the watch on ${layout.dir}/ at ${where} failed`)));
            for (;;) {
              const batch = await events.drain(signal);
              if (batch === undefined) return;
              const failure = batch.find((item): item is Error => item instanceof Error);
              if (failure) throw failure;
              yield* announce();
            }
          } catch (err) {
            if (signal.aborted) return;
            recovering = true;
            yield { error: err instanceof Error && err.message.includes(where) ? err : toError(err, where) };
            await backoff.wait(signal);
          } finally {
            // Detaching from a dead stream resolves at once; from a live one it waits for etcd's ack.
            void watcher?.cancel().catch(() => undefined);
          }
        }
      },

      stop(): void {
        // The lease is left to expire rather than revoked: a restarted `swarm join` must not make its
        // engine blink out of every manager. Kill the join and the engine leaves after --ttl.
        lease?.release();
        lease = undefined;
        client.close();
      },
    };
  },
});
