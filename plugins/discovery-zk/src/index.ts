import type * as ZooKeeperModule from "node-zookeeper-client";
import type { Client, Exception, Stat, State } from "node-zookeeper-client";
import { defineDiscovery, KvBackoff, parseKvDiscoveryUrl, parseKvEntries, withDeadline, type Discovery, type DiscoveryUpdate, type Logger } from "@swarm/core";

/**
 * ZooKeeper discovery. `swarm join` keeps an EPHEMERAL node `<dir>/<ip:port>` (data `<ip:port>`)
 * alive through its session, re-creating it whenever it has to start a new session; managers read
 * the directory's children with a watch, re-armed after every change, and announce the full list.
 */

type ZooKeeper = typeof ZooKeeperModule;

export interface ZkLayout {
  /** `host:port` of every server named in the URL. */
  readonly endpoints: readonly string[];
  /** Absolute znode path of the node directory, `/<prefix>/<kv.path>`. */
  readonly dir: string;
}

/** `zk://<host:port>[,<host:port>…][/<prefix>]`; znode paths are absolute, so the directory starts with `/`. */
export function parseZkUrl(path: string, options: Readonly<Record<string, string>>): ZkLayout {
  const { endpoints, dir } = parseKvDiscoveryUrl("zk", path, options, { member: "server" });
  if (dir === "") throw new Error("zk:// the node directory cannot be the root znode: give a prefix or --discovery-opt kv.path=<dir>");
  return { endpoints, dir: `/${dir}` };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

function codeOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : undefined;
}

/** Adapts one callback-style client call to a promise that also gives up when the signal aborts. */
function call<T>(what: string, signal: AbortSignal, start: (done: (err: Error | Exception | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error(`${what}: no answer in time`));
      return;
    }
    const onAbort = (): void => reject(new Error(`${what}: no answer in time`));
    signal.addEventListener("abort", onAbort, { once: true });
    start((err, value) => {
      signal.removeEventListener("abort", onAbort);
      if (err) {
        const wrapped = new Error(`${what}: ${err instanceof Error ? err.message : err.toString()}`, { cause: err });
        Object.assign(wrapped, { code: codeOf(err) });
        reject(wrapped);
      } else resolve(value);
    });
  });
}

/** How long one connection attempt may take to become a session (TCP connect plus handshake). */
const HANDSHAKE_TIMEOUT_MS = 3_000;

/** The one piece of node-zookeeper-client's internals the handshake watchdog needs. */
interface ClientInternals {
  readonly connectionManager?: { readonly socket?: { readonly readyState?: string; destroy(): void } };
}

/**
 * One client and its session. node-zookeeper-client only reports `expired` once it reaches a server
 * again (issue #20): while the servers are unreachable it just says `disconnected`. After a whole
 * negotiated session timeout without a server the session is dead for ZooKeeper too, so it is
 * abandoned here and the next call starts a new one (whose ephemeral nodes the caller re-creates).
 */
class ZkSession {
  private client: Client | undefined;
  private connected = false;
  private hadSession = false;
  private lostTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attempt: { readonly socket: object; readonly since: number } | undefined;
  private readonly waiters = new Set<() => void>();
  /** Bumped on every state change, so a waiter can tell whether anything happened since it looked. */
  version = 0;

  constructor(
    private readonly zk: ZooKeeper,
    private readonly connectionString: string,
    private readonly sessionTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  private open(): Client {
    const client = this.zk.createClient(this.connectionString, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 250, retries: 0 });
    client.on("state", (state: State) => this.onState(client, state));
    this.client = client;
    this.connected = false;
    this.hadSession = false;
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkHandshake(client), 500);
    this.watchdog.unref();
    client.connect();
    return client;
  }

  /**
   * node-zookeeper-client stops timing an attempt once TCP connects; a server that accepted the
   * connection while starting up but never reads the handshake (seen with ZooKeeper 3.8 restarts:
   * the request sits unread in the socket) would then hold the client forever. Such a socket is
   * destroyed here, which makes the library try again (with its session, if it had one).
   */
  private checkHandshake(client: Client): void {
    if (client !== this.client || this.connected) {
      this.attempt = undefined;
      return;
    }
    const socket = (client as unknown as ClientInternals).connectionManager?.socket;
    if (socket === undefined || typeof socket.destroy !== "function" || socket.readyState === "closed") return;
    if (this.attempt?.socket !== socket) {
      this.attempt = { socket, since: Date.now() };
      return;
    }
    if (Date.now() - this.attempt.since < HANDSHAKE_TIMEOUT_MS) return;
    this.logger.debug(`ZooKeeper at ${this.connectionString} did not complete the handshake within ${HANDSHAKE_TIMEOUT_MS} ms; reconnecting`);
    this.attempt = undefined;
    socket.destroy();
  }

  private onState(client: Client, state: State): void {
    if (client !== this.client) return;
    this.logger.debug(`ZooKeeper connection to ${this.connectionString}: ${state.name}`);
    const { State: States } = this.zk;
    if (state.code === States.SYNC_CONNECTED.code || state.code === States.CONNECTED_READ_ONLY.code) {
      clearTimeout(this.lostTimer);
      this.lostTimer = undefined;
      this.connected = true;
      this.hadSession = true;
    } else if (state.code === States.DISCONNECTED.code) {
      this.connected = false;
      if (this.hadSession && this.lostTimer === undefined) {
        const timeout = client.getSessionTimeout() || this.sessionTimeoutMs;
        this.lostTimer = setTimeout(() => this.abandon(client, `no server reachable for a whole session timeout (${timeout} ms)`), timeout);
      }
    } else if (state.code === States.EXPIRED.code) {
      this.abandon(client, "the session expired");
    } else if (state.code === States.AUTH_FAILED.code) {
      this.abandon(client, "authentication failed");
    }
    this.notify();
  }

  private abandon(client: Client, why: string): void {
    if (client !== this.client) return;
    this.logger.warn(`ZooKeeper session at ${this.connectionString} lost: ${why}; starting a new one`);
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    this.client = undefined;
    this.connected = false;
    client.close();
    this.notify();
  }

  private notify(): void {
    this.version++;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves at the next state change (or when the signal aborts). */
  changed(signal: AbortSignal, since = this.version): Promise<void> {
    if (this.version !== since || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** A connected client, opening one if needed. */
  async ready(signal: AbortSignal): Promise<Client> {
    for (;;) {
      const client = this.client ?? this.open();
      if (this.connected) return client;
      if (signal.aborted) throw new Error(`no connection to ZooKeeper at ${this.connectionString}`);
      await this.changed(signal);
    }
  }

  sessionId(): Buffer | undefined {
    return this.connected ? this.client?.getSessionId() : undefined;
  }

  close(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    // Closing ends the session, and ZooKeeper drops the session's ephemeral nodes with it.
    client?.close();
    this.notify();
  }
}

const CALL_TIMEOUT_MS = 5_000;

export default defineDiscovery({
  name: "zk",
  apiVersion: "^1",
  description: "engines registered as ephemeral znodes in ZooKeeper (zk://<host:port>[,…]/<prefix>)",
  schemes: ["zk"],
  async create(ctx): Promise<Discovery> {
    const layout = parseZkUrl(ctx.uri.path, ctx.discoveryOptions);
    if (ctx.discoveryOptions["kv.cacertfile"] ?? ctx.discoveryOptions["kv.certfile"] ?? ctx.discoveryOptions["kv.keyfile"]) {
      ctx.logger.warn("kv.cacertfile, kv.certfile and kv.keyfile are ignored by zk://: TLS to ZooKeeper is not supported");
    }
    // Loaded here, not at module scope, so other schemes never load the ZooKeeper client.
    const zk = await import("node-zookeeper-client");
    const connectionString = layout.endpoints.join(",");
    // The ephemeral node outlives a crashed join by one session timeout: make that the --ttl (the
    // server clamps it to its [2, 20] × tickTime bounds).
    const session = new ZkSession(zk, connectionString, ctx.ttl, ctx.logger);
    const where = `ZooKeeper at ${connectionString}`;
    const connectBudget = Math.min(Math.max(ctx.heartbeat, 1_000), CALL_TIMEOUT_MS);

    const mkdirp = (client: Client, signal: AbortSignal): Promise<string> =>
      call<string>(`creating ${layout.dir} in ${where}`, signal, (done) => client.mkdirp(layout.dir, done));

    const readEntries = async (client: Client, signal: AbortSignal, onChange: () => void): Promise<string[]> => {
      const children = await call<string[]>(`listing ${layout.dir} in ${where}`, signal, (done) =>
        client.getChildren(layout.dir, () => onChange(), (err, names) => done(err, names)),
      );
      const values: string[] = [];
      for (const child of children.sort()) {
        try {
          const data = await call<Buffer | undefined>(`reading ${layout.dir}/${child} in ${where}`, signal, (done) =>
            client.getData(`${layout.dir}/${child}`, (err, buffer) => done(err, buffer)),
          );
          values.push(data ? data.toString("utf8") : "");
        } catch (err) {
          // Gone between the listing and the read: its deletion fires the watch anyway.
          if (codeOf(err) !== zk.Exception.NO_NODE) throw err;
        }
      }
      return values;
    };

    return {
      async register(addr: string, signal: AbortSignal): Promise<void> {
        const path = `${layout.dir}/${addr}`;
        const client = await session.ready(signal);
        await mkdirp(client, signal);
        try {
          await call<string>(`creating ${path} in ${where}`, signal, (done) =>
            client.create(path, Buffer.from(addr), zk.CreateMode.EPHEMERAL, done),
          );
          ctx.logger.debug(`Registered ${path} in ${where}`);
          return;
        } catch (err) {
          if (codeOf(err) !== zk.Exception.NODE_EXISTS) throw err;
        }
        // Already there: ours (a heartbeat of this session) or an earlier join's whose session has not
        // expired yet. The latter vanishes with that session; the next heartbeat then creates ours.
        const stat = await call<Stat>(`reading ${path} in ${where}`, signal, (done) =>
          client.getData(path, (err, _data, nodeStat) => done(err, nodeStat)),
        );
        const mine = session.sessionId();
        if (mine && !stat.ephemeralOwner.equals(mine)) {
          ctx.logger.debug(`${path} in ${where} belongs to another session; it is re-created once that session ends`);
        }
      },

      async *watch(signal: AbortSignal): AsyncIterable<DiscoveryUpdate> {
        let last: string[] | undefined;
        // After a store error the list is announced again even if unchanged: that is how the host
        // learns the store is back (and will log the next outage).
        let recovering = false;
        const backoff = new KvBackoff(ctx.heartbeat);
        while (!signal.aborted) {
          const connecting = withDeadline(signal, connectBudget);
          const calls = withDeadline(signal, CALL_TIMEOUT_MS);
          try {
            const client = await session.ready(connecting.signal);
            connecting.done();
            const budget = calls.signal;
            await mkdirp(client, budget);
            const stateSeen = session.version;
            let fired = false;
            let wakeWatch: (() => void) | undefined;
            const watchFired = new Promise<void>((resolve) => {
              wakeWatch = resolve;
            });
            const values = await readEntries(client, budget, () => {
              fired = true;
              wakeWatch?.();
            });
            calls.done();
            const { entries, invalid } = parseKvEntries(values);
            ctx.logger.debug(`Listed ${layout.dir} in ${where}`, { entries });
            if (invalid.length > 0) yield { error: new Error(`ignored invalid entries under ${layout.dir} in ${where}: ${invalid.join("; ")}`) };
            if (recovering || last === undefined || !sameList(last, entries)) {
              recovering = false;
              last = entries;
              yield { entries };
            }
            backoff.reset();
            // Watches are one-shot and die with their session: wait for the watch, or for any
            // connection change, then list again with a fresh watch.
            if (!fired) await Promise.race([watchFired, session.changed(signal, stateSeen)]);
          } catch (err) {
            if (signal.aborted) return;
            recovering = true;
            yield { error: err instanceof Error ? err : new Error(String(err)) };
            await backoff.wait(signal);
          } finally {
            connecting.done();
            calls.done();
          }
        }
      },

      stop(): void {
        session.close();
      },
    };
  },
});
