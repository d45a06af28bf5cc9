import type { IOptions, Lease, Watcher } from "etcd3";
import {
  defineLeaderElector,
  LEADER_KV_PATH,
  Notifications,
  parseKvDiscoveryUrl,
  readKvTls,
  type LeaderElector,
  type LeadershipChange,
} from "@swarm/core";

/**
 * Leader election over etcd's v3 API, as classic Swarm did it: the primary is whoever created
 * `<prefix>/docker/swarm/leader` (value: its `--advertise` address) under a lease of
 * `--replication-ttl`, kept alive every third of the TTL. The others watch that key, follow its
 * value as the primary, and try to create it again once it is deleted or its lease runs out.
 */

/** Per-call deadline for unary etcd calls, so a black-holed member cannot stall the election. */
const CALL_TIMEOUT_MS = 5_000;

type KeyEvent = "lease lost" | "deleted" | { readonly value: string } | Error;

function toError(err: unknown, context: string): Error {
  return new Error(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export default defineLeaderElector({
  name: "leader-etcd",
  apiVersion: "^1",
  description: "primary election through a leased etcd key (etcd://<host:port>[,…]/<prefix>)",
  schemes: ["etcd"],
  async create(ctx): Promise<LeaderElector> {
    const { endpoints, dir: key } = parseKvDiscoveryUrl("etcd", ctx.uri.path, { "kv.path": LEADER_KV_PATH });
    const tls = readKvTls(ctx.discoveryOptions, ctx.logger);
    const etcd = await import("etcd3");
    // etcd3's circuit breaker would refuse every call for 5 s after three failures, longer than a
    // short TTL; the manager's own retry (10 s after a failed campaign) is the back-off.
    const passThrough: ReturnType<NonNullable<NonNullable<IOptions["faultHandling"]>["host"]>> = {
      _altReturn: undefined as never,
      onSuccess: () => ({ dispose() {} }),
      onFailure: () => ({ dispose() {} }),
      execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
    };
    const client = new etcd.Etcd3({
      hosts: endpoints.map((endpoint) => `${tls ? "https" : "http"}://${endpoint}`),
      ...(tls ? { credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } } : {}),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      faultHandling: { host: () => passThrough },
    });
    const where = `etcd at ${endpoints.join(",")}`;
    const ttlSeconds = Math.max(1, Math.ceil(ctx.ttl / 1000));
    /** The lease under which this manager holds the key, while it does. */
    let held: Lease | undefined;

    const release = async (lease: Lease): Promise<void> => {
      if (held === lease) held = undefined;
      // Revoking deletes the key with the lease; if etcd is unreachable the lease simply expires.
      await lease.revoke().catch(() => lease.release());
    };

    return {
      async *campaign(candidate: string, signal: AbortSignal): AsyncIterable<LeadershipChange> {
        while (!signal.aborted) {
          const events = new Notifications<KeyEvent>();
          const lease = client.lease(ttlSeconds);
          lease.on("lost", () => events.push("lease lost"));
          let watcher: Watcher | undefined;
          try {
            const leaseId = await lease.grant();
            const attempt = await client
              .if(key, "Create", "==", 0)
              .then(client.put(key).value(candidate).lease(leaseId))
              .else(client.get(key))
              .commit();
            // Watching from the revision right after the attempt: no change in between is missed.
            watcher = await client
              .watch()
              .key(key)
              .startRevision((BigInt(attempt.header.revision) + 1n).toString())
              .create();
            watcher.on("put", (kv) => events.push({ value: kv.value.toString() }));
            watcher.on("delete", () => events.push("deleted"));
            watcher.on("disconnected", (err: unknown) => events.push(toError(err, `lost the watch on ${key} at ${where}`)));
            watcher.on("error", (err: unknown) => events.push(toError(err, `the watch on ${key} at ${where} failed`)));

            let change: LeadershipChange;
            if (attempt.succeeded) {
              held = lease;
              change = { role: "primary" };
            } else {
              void release(lease);
              change = { role: "replica", primary: attempt.responses[0]?.response_range.kvs[0]?.value.toString() };
            }
            yield change;

            // Until the key is free again (deleted, or this manager's lease gone), follow its value.
            let free = false;
            while (!free) {
              const batch = await events.drain(signal);
              if (batch === undefined) return;
              for (const event of batch) {
                if (event instanceof Error) throw event;
                if (event === "deleted" || (event === "lease lost" && held === lease)) free = true;
                else if (typeof event === "object" && held !== lease) {
                  const followed: LeadershipChange = { role: "replica", primary: event.value };
                  yield followed;
                }
              }
            }
            if (held === lease) {
              await release(lease);
              const lost: LeadershipChange = { role: "replica", primary: undefined };
              yield lost;
            }
          } catch (err) {
            throw err instanceof Error && err.message.includes(where) ? err : toError(err, where);
          } finally {
            void watcher?.cancel().catch(() => undefined);
            // Stopping keeps the lock for resign(); a failure gives it up, as the next campaign starts afresh.
            if (held === lease && !signal.aborted) await release(lease);
            if (held !== lease) lease.release();
          }
        }
      },

      async resign(): Promise<void> {
        if (held) await release(held);
      },

      stop(): void {
        held?.release();
        held = undefined;
        client.close();
      },
    };
  },
});
