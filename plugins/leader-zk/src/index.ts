import type { Client, Event, Exception, Stat, State } from "node-zookeeper-client";
import { defineLeaderElector, LEADER_KV_PATH, Notifications, parseKvDiscoveryUrl, type LeaderElector, type LeadershipChange } from "@swarm/core";

/**
 * Leader election through ZooKeeper: the primary is the manager whose session holds the EPHEMERAL
 * node `/<prefix>/docker/swarm/leader` (data: its `--advertise` address). The session timeout is
 * `--replication-ttl`, so a dead primary's node goes once its session expires, and a stopped one's
 * at once, when it closes its session. The others watch the node and try to create it when it goes.
 */

/** How long a campaign waits for a session before it gives up and lets the manager retry. */
const CONNECT_TIMEOUT_MS = 10_000;

type NodeEvent = "deleted" | "changed" | "session lost" | Error;

function codeOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : undefined;
}

/** One callback-style client call as a promise; its error names what was being done. */
function call<T>(what: string, start: (done: (err: Error | Exception | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => {
      if (!err) return resolve(value);
      const wrapped = new Error(`${what}: ${err instanceof Error ? err.message : err.toString()}`, { cause: err });
      reject(Object.assign(wrapped, { code: codeOf(err) }));
    });
  });
}

export default defineLeaderElector({
  name: "leader-zk",
  apiVersion: "^1",
  description: "primary election through an ephemeral ZooKeeper node (zk://<host:port>[,…]/<prefix>)",
  schemes: ["zk"],
  async create(ctx): Promise<LeaderElector> {
    const { endpoints, dir } = parseKvDiscoveryUrl("zk", ctx.uri.path, { "kv.path": LEADER_KV_PATH }, { member: "server" });
    const path = `/${dir}`;
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    const connectionString = endpoints.join(",");
    const where = `ZooKeeper at ${connectionString}`;
    // Loaded here, not at module scope: a manager on another store never loads the client.
    const zk = (await import("node-zookeeper-client")).default;
    /** The session of the current campaign round; closing it drops the node if this manager holds it. */
    let session: Client | undefined;

    const connect = async (events: Notifications<NodeEvent>): Promise<Client> => {
      const client = zk.createClient(connectionString, { sessionTimeout: ctx.ttl, spinDelay: 250, retries: 0 });
      session = client;
      const connected = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no session with ${where} within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
        client.once("connected", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      client.on("state", (state: State) => {
        // A primary cut off from ZooKeeper cannot know whether its node outlives the cut: it steps down.
        if (state.code === zk.State.DISCONNECTED.code || state.code === zk.State.EXPIRED.code) events.push("session lost");
      });
      client.connect();
      await connected;
      return client;
    };

    const watchNode = (client: Client, events: Notifications<NodeEvent>) => (event: Event) => {
      if (session !== client) return;
      events.push(event.getType() === zk.Event.NODE_DELETED ? "deleted" : "changed");
    };

    return {
      async *campaign(candidate: string, signal: AbortSignal): AsyncIterable<LeadershipChange> {
        while (!signal.aborted) {
          const events = new Notifications<NodeEvent>();
          let client: Client | undefined;
          let primary = false;
          try {
            client = await connect(events);
            const own = client;
            await call(`creating ${parent} at ${where}`, (done) => own.mkdirp(parent, (err, created) => done(err, created)));
            try {
              await call(`creating ${path} at ${where}`, (done) =>
                own.create(path, Buffer.from(candidate), zk.CreateMode.EPHEMERAL, (err, created) => done(err, created)),
              );
              primary = true;
            } catch (err) {
              if (codeOf(err) !== zk.Exception.NODE_EXISTS) throw err;
            }

            // Until the node is gone (or this manager's session), follow what it says.
            for (let free = false; !free; ) {
              const [data, stat] = await call<[Buffer | undefined, Stat]>(`reading ${path} at ${where}`, (done) =>
                own.getData(path, watchNode(own, events), (err, value, nodeStat) => done(err, [value, nodeStat])),
              ).catch((err: unknown) => {
                if (codeOf(err) === zk.Exception.NO_NODE) return [undefined, undefined] as const;
                throw err;
              });
              if (stat === undefined) break;
              primary = stat.ephemeralOwner.equals(own.getSessionId());
              const change: LeadershipChange = primary ? { role: "primary" } : { role: "replica", primary: data?.toString() };
              yield change;
              const batch = await events.drain(signal);
              if (batch === undefined) return;
              const failure = batch.find((event): event is Error => event instanceof Error);
              if (failure) throw failure;
              free = batch.includes("deleted") || batch.includes("session lost");
            }
            if (primary) {
              const lost: LeadershipChange = { role: "replica", primary: undefined };
              yield lost;
            }
          } catch (err) {
            throw err instanceof Error && err.message.includes(where) ? err : new Error(`${where}: ${String(err)}`, { cause: err });
          } finally {
            // Stopping keeps the session (and the node) for resign(); otherwise a round ends with its session.
            if (!(signal.aborted && primary) && session === client) {
              session = undefined;
              client?.close();
            }
          }
        }
      },

      async resign(): Promise<void> {
        // Closing the session deletes its ephemeral node at once.
        session?.close();
        session = undefined;
      },

      stop(): void {
        session?.close();
        session = undefined;
      },
    };
  },
});
