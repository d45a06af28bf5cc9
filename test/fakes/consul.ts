/**
 * consul-fake: a FAKE of the Consul agent HTTP API, written from Consul's official HTTP API docs
 * (kv, session, blocking queries). No Consul server exists for this machine (Debian ships none, npm
 * only clients), so discovery tests run against this. It is not Consul.
 *
 * What it implements:
 *   - KV: GET/PUT/DELETE /v1/kv/<key> with ?recurse, ?keys (+ ?separator), ?raw, ?cas, ?flags,
 *     ?acquire=<session>, ?release=<session>. GET answers are JSON arrays of
 *     {LockIndex, Key, Flags, Value (base64, null when empty), CreateIndex, ModifyIndex, Session?};
 *     a miss is 404 with an empty body. PUT/DELETE answer `true`/`false`.
 *   - X-Consul-Index on every KV and session read, plus X-Consul-KnownLeader/LastContact.
 *   - Blocking queries on KV reads: ?index=N&wait=<go duration> holds the answer until the result's
 *     index passes N or the wait (default 5m, capped at 10m, plus up to wait/16 of jitter as Consul
 *     adds) elapses.
 *   - Sessions: PUT /v1/session/create (TTL, Behavior release|delete, LockDelay as a duration string
 *     or nanoseconds, Name, Node), PUT /v1/session/renew/<id>, PUT /v1/session/destroy/<id>,
 *     GET /v1/session/info/<id>, GET /v1/session/list. Unknown sessions: renew → 404, info → [].
 *   - TTL expiry: Consul only promises to invalidate a session *within* 2×TTL; this fake invalidates
 *     it at exactly 2×TTL after the last create/renew, which is the latest a real agent would.
 *     Invalidation (expiry or destroy) releases (Behavior release) or deletes (Behavior delete) every
 *     key the session holds, and blocks re-acquiring those keys for the session's LockDelay.
 *   - TTL bounds: like Consul's `session_ttl_min` (default 10s) and its 24h maximum; tests lower the
 *     minimum with `sessionTtlMinMs`, as one would in an agent's config for short test TTLs.
 *   - stop()/start(): the agent goes away and comes back on the same port with its data, and, as
 *     after a Consul leader election, every session's TTL timer restarts in full.
 *
 * Limits (not implemented): ACLs and tokens, datacenters (?dc is ignored), namespaces and
 * partitions, consistency modes, health checks attached to sessions (only TTLs invalidate),
 * transactions (/v1/txn), every endpoint outside /v1/kv, /v1/session and /v1/status/leader,
 * tombstone garbage collection (deleted keys keep their index forever), and blocking on session
 * endpoints. The X-Consul-Index of a KV read is the highest ModifyIndex (or deletion index) among
 * the keys it covers, falling back to the KV table's index, a close approximation of Consul's.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { formatGoDuration, parseGoDuration } from "@swarm/core";

export interface ConsulFakeOptions {
  /** Consul's `session_ttl_min`; default 10 s as in Consul. */
  readonly sessionTtlMinMs?: number;
  /** Default 0: a free port. */
  readonly port?: number;
}

export interface ConsulKvEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly flags: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
  readonly lockIndex: number;
  readonly session: string | undefined;
}

export interface ConsulFake {
  /** "127.0.0.1:PORT" */
  readonly endpoint: string;
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  readonly port: number;
  isRunning(): boolean;
  /** Stops answering (open connections are cut); data is kept for start(). */
  stop(): Promise<void>;
  /** Listens again on the same port; session TTL timers restart in full. */
  start(): Promise<void>;
  /** Stops for good. Safe to call twice. */
  dispose(): Promise<void>;
  /** What the store holds, for assertions. */
  entries(): ConsulKvEntry[];
  sessionIds(): string[];
}

interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  session: string | undefined;
}

interface Session {
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly behavior: "release" | "delete";
  readonly ttl: string;
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  readonly createIndex: number;
  modifyIndex: number;
  timer: NodeJS.Timeout | undefined;
}

const SESSION_TTL_MAX_MS = 86_400_000;
const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;
const MAX_VALUE_BYTES = 512 * 1024;
const NODE_NAME = "consul-fake";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class Store {
  index = 1;
  kvIndex = 1;
  sessionIndex = 1;
  readonly kv = new Map<string, KvEntry>();
  readonly tombstones = new Map<string, number>();
  readonly sessions = new Map<string, Session>();
  /** Key → time (ms) before which it cannot be acquired, set when a holding session is invalidated. */
  readonly lockDelays = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  timersRunning = true;

  constructor(readonly sessionTtlMinMs: number) {}

  private bump(): number {
    this.index += 1;
    return this.index;
  }

  private kvChanged(index: number): void {
    this.kvIndex = index;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when the KV table changes (or the agent stops), or after ms; the waiter is always removed. */
  waitForKvChange(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** The index a KV read reports: the newest change among the keys it covers. */
  kvReadIndex(matches: (key: string) => boolean): number {
    let max = 0;
    for (const entry of this.kv.values()) if (matches(entry.key)) max = Math.max(max, entry.modifyIndex);
    for (const [key, index] of this.tombstones) if (matches(key)) max = Math.max(max, index);
    return Math.max(1, max === 0 ? this.kvIndex : max);
  }

  put(key: string, value: Buffer, query: URLSearchParams): boolean {
    const acquire = query.get("acquire");
    const release = query.get("release");
    if (acquire !== null && release !== null) throw new HttpError(400, `Conflicting flags: acquire=${acquire}&release=${release}`);
    const existing = this.kv.get(key);
    const casText = query.get("cas");
    if (casText !== null) {
      if (!/^\d+$/.test(casText)) throw new HttpError(400, `Invalid CAS index: ${casText}`);
      const cas = Number(casText);
      if (cas === 0 ? existing !== undefined : existing?.modifyIndex !== cas) return false;
    }
    const flagsText = query.get("flags");
    if (flagsText !== null && !/^\d+$/.test(flagsText)) throw new HttpError(400, `Invalid flags: ${flagsText}`);
    const flags = flagsText === null ? (existing?.flags ?? 0) : Number(flagsText);

    if (acquire !== null) {
      if (!this.sessions.has(acquire)) throw new HttpError(500, `invalid session "${acquire}"`);
      if (existing?.session !== undefined && existing.session !== acquire) return false;
      if (existing?.session !== acquire && (this.lockDelays.get(key) ?? 0) > Date.now()) return false;
    }
    if (release !== null && existing?.session !== release) return false;

    const index = this.bump();
    const entry: KvEntry = existing ?? { key, value, flags, createIndex: index, modifyIndex: index, lockIndex: 0, session: undefined };
    entry.value = value;
    entry.flags = flags;
    entry.modifyIndex = index;
    if (acquire !== null && entry.session !== acquire) {
      entry.session = acquire;
      entry.lockIndex += 1;
    }
    if (release !== null) entry.session = undefined;
    this.kv.set(key, entry);
    this.tombstones.delete(key);
    this.kvChanged(index);
    return true;
  }

  delete(key: string, recurse: boolean, casText: string | null): boolean {
    if (casText !== null) {
      if (!/^\d+$/.test(casText)) throw new HttpError(400, `Invalid CAS index: ${casText}`);
      if (this.kv.get(key)?.modifyIndex !== Number(casText)) return false;
    }
    const doomed = recurse ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : this.kv.has(key) ? [key] : [];
    if (doomed.length === 0) return true;
    const index = this.bump();
    for (const k of doomed) {
      this.kv.delete(k);
      this.tombstones.set(k, index);
    }
    this.kvChanged(index);
    return true;
  }

  createSession(body: Record<string, unknown>): Session {
    const behavior = body.Behavior ?? "release";
    if (behavior !== "release" && behavior !== "delete") throw new HttpError(400, `Invalid Behavior setting '${String(behavior)}'`);
    const ttl = typeof body.TTL === "string" ? body.TTL : "";
    let ttlMs = 0;
    if (ttl !== "") {
      try {
        ttlMs = parseGoDuration(ttl);
      } catch (err) {
        throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
      }
      if (ttlMs !== 0 && (ttlMs < this.sessionTtlMinMs || ttlMs > SESSION_TTL_MAX_MS)) {
        throw new HttpError(
          400,
          `Session TTL '${ttl}' must be between [${formatGoDuration(this.sessionTtlMinMs)}=${formatGoDuration(SESSION_TTL_MAX_MS)}]`,
        );
      }
    }
    let lockDelayMs = 15_000;
    if (typeof body.LockDelay === "number") lockDelayMs = body.LockDelay / 1e6;
    else if (typeof body.LockDelay === "string" && body.LockDelay !== "") {
      try {
        lockDelayMs = parseGoDuration(body.LockDelay);
      } catch (err) {
        throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
      }
    }
    if (lockDelayMs > 60_000) lockDelayMs = 60_000;
    const index = this.bump();
    const session: Session = {
      id: randomUUID(),
      name: typeof body.Name === "string" ? body.Name : "",
      node: typeof body.Node === "string" && body.Node !== "" ? body.Node : NODE_NAME,
      behavior,
      ttl,
      ttlMs,
      lockDelayMs,
      createIndex: index,
      modifyIndex: index,
      timer: undefined,
    };
    this.sessions.set(session.id, session);
    this.sessionIndex = index;
    this.arm(session);
    return session;
  }

  /** Consul invalidates a TTL session at the latest 2×TTL after its last renewal. */
  arm(session: Session): void {
    clearTimeout(session.timer);
    session.timer = undefined;
    if (session.ttlMs === 0 || !this.timersRunning) return;
    session.timer = setTimeout(() => this.invalidate(session.id), 2 * session.ttlMs);
  }

  renew(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session) this.arm(session);
    return session;
  }

  invalidate(id: string): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    clearTimeout(session.timer);
    this.sessions.delete(id);
    const index = this.bump();
    this.sessionIndex = index;
    let touched = false;
    const until = Date.now() + session.lockDelayMs;
    for (const entry of [...this.kv.values()]) {
      if (entry.session !== id) continue;
      touched = true;
      if (session.lockDelayMs > 0) this.lockDelays.set(entry.key, until);
      if (session.behavior === "delete") {
        this.kv.delete(entry.key);
        this.tombstones.set(entry.key, index);
      } else {
        entry.session = undefined;
        entry.modifyIndex = index;
      }
    }
    if (touched) this.kvChanged(index);
    return true;
  }

  pauseTimers(): void {
    this.timersRunning = false;
    for (const session of this.sessions.values()) {
      clearTimeout(session.timer);
      session.timer = undefined;
    }
  }

  resumeTimers(): void {
    this.timersRunning = true;
    for (const session of this.sessions.values()) this.arm(session);
  }
}

function kvJson(entry: KvEntry): Record<string, unknown> {
  return {
    LockIndex: entry.lockIndex,
    Key: entry.key,
    Flags: entry.flags,
    Value: entry.value.length === 0 ? null : entry.value.toString("base64"),
    ...(entry.session !== undefined ? { Session: entry.session } : {}),
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}

function sessionJson(session: Session): Record<string, unknown> {
  return {
    ID: session.id,
    Name: session.name,
    Node: session.node,
    LockDelay: Math.round(session.lockDelayMs * 1e6),
    Behavior: session.behavior,
    TTL: session.ttl,
    NodeChecks: [],
    ServiceChecks: null,
    CreateIndex: session.createIndex,
    ModifyIndex: session.modifyIndex,
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_VALUE_BYTES) {
        reject(new HttpError(413, `Request body(${size} bytes) too large, max size: ${MAX_VALUE_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseWait(text: string | null): number {
  if (text === null || text === "") return DEFAULT_WAIT_MS;
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch {
    throw new HttpError(400, `Invalid wait time`);
  }
  return Math.min(Math.max(ms, 0), MAX_WAIT_MS);
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const type = typeof body === "string" ? "text/plain; charset=utf-8" : "application/json";
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function queryHeaders(index: number): Record<string, string> {
  return { "X-Consul-Index": String(index), "X-Consul-KnownLeader": "true", "X-Consul-LastContact": "0" };
}

export async function startConsulFake(options: ConsulFakeOptions = {}): Promise<ConsulFake> {
  const store = new Store(options.sessionTtlMinMs ?? 10_000);
  let server: http.Server | undefined;
  let port = options.port ?? 0;
  let disposed = false;

  const kvGet = async (key: string, query: URLSearchParams, res: http.ServerResponse): Promise<void> => {
    const recurse = query.has("recurse");
    const keysOnly = query.has("keys");
    const matches = recurse || keysOnly ? (k: string) => k.startsWith(key) : (k: string) => k === key;
    const indexText = query.get("index");
    if (indexText !== null && !/^\d+$/.test(indexText)) throw new HttpError(400, `Invalid index: ${indexText}`);
    const minIndex = indexText === null ? 0 : Number(indexText);
    if (minIndex > 0) {
      const wait = parseWait(query.get("wait"));
      const deadline = Date.now() + wait + Math.random() * (wait / 16);
      while (store.kvReadIndex(matches) <= minIndex && Date.now() < deadline && !res.destroyed) {
        await store.waitForKvChange(deadline - Date.now());
      }
      // A stopped agent cut the connection: nobody is left to answer.
      if (res.destroyed) return;
    }
    const index = store.kvReadIndex(matches);
    const headers = queryHeaders(index);
    const found = [...store.kv.values()].filter((e) => matches(e.key)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (keysOnly) {
      const separator = query.get("separator") ?? "";
      const keys = new Set<string>();
      for (const entry of found) {
        const at = separator === "" ? -1 : entry.key.indexOf(separator, key.length);
        keys.add(at < 0 ? entry.key : entry.key.slice(0, at + separator.length));
      }
      if (keys.size === 0) return send(res, 404, undefined, headers);
      return send(res, 200, [...keys], headers);
    }
    if (found.length === 0) return send(res, 404, undefined, headers);
    if (query.has("raw") && !recurse) {
      const value = found[0]!.value;
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": value.length, ...headers });
      res.end(value);
      return;
    }
    send(res, 200, found.map(kvJson), headers);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://consul-fake");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const query = url.searchParams;

    if (path.startsWith("/v1/kv/") || path === "/v1/kv") {
      const key = decodeURIComponent(path.slice("/v1/kv/".length));
      if (method === "GET") return kvGet(key, query, res);
      if (method === "PUT") {
        if (key === "") throw new HttpError(400, "Missing key name");
        const body = await readBody(req);
        return send(res, 200, store.put(key, body, query));
      }
      if (method === "DELETE") {
        if (key === "" && !query.has("recurse")) throw new HttpError(400, "Missing key name");
        return send(res, 200, store.delete(key, query.has("recurse"), query.get("cas")));
      }
      throw new HttpError(405, `method ${method} not allowed`);
    }

    if (path === "/v1/session/create") {
      if (method !== "PUT") throw new HttpError(405, `method ${method} not allowed`);
      const text = (await readBody(req)).toString("utf8").trim();
      let body: unknown = {};
      if (text !== "") {
        try {
          body = JSON.parse(text);
        } catch (err) {
          throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
        }
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "Request decode failed: expected a JSON object");
      const session = store.createSession(body as Record<string, unknown>);
      return send(res, 200, { ID: session.id });
    }
    const sessionOp = /^\/v1\/session\/(renew|destroy|info)\/(.+)$/.exec(path);
    if (sessionOp) {
      const [, op, rawId = ""] = sessionOp;
      const id = decodeURIComponent(rawId);
      if (op === "renew") {
        if (method !== "PUT") throw new HttpError(405, `method ${method} not allowed`);
        const session = store.renew(id);
        if (!session) throw new HttpError(404, `Session id '${id}' not found`);
        return send(res, 200, [sessionJson(session)]);
      }
      if (op === "destroy") {
        if (method !== "PUT") throw new HttpError(405, `method ${method} not allowed`);
        store.invalidate(id);
        return send(res, 200, true);
      }
      if (method !== "GET") throw new HttpError(405, `method ${method} not allowed`);
      const session = store.sessions.get(id);
      return send(res, 200, session ? [sessionJson(session)] : [], queryHeaders(store.sessionIndex));
    }
    if (path === "/v1/session/list") {
      if (method !== "GET") throw new HttpError(405, `method ${method} not allowed`);
      return send(res, 200, [...store.sessions.values()].map(sessionJson), queryHeaders(store.sessionIndex));
    }
    if (path === "/v1/status/leader") return send(res, 200, JSON.stringify("127.0.0.1:8300"));
    throw new HttpError(404, `consul-fake does not implement ${method} ${path}`);
  };

  const listen = async (): Promise<void> => {
    const instance = http.createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        if (err instanceof HttpError) send(res, err.status, err.message);
        else send(res, 500, err instanceof Error ? err.message : String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      instance.once("error", reject);
      instance.listen({ host: "127.0.0.1", port }, () => {
        instance.off("error", reject);
        resolve();
      });
    });
    port = (instance.address() as AddressInfo).port;
    server = instance;
    store.resumeTimers();
  };

  const close = async (): Promise<void> => {
    const instance = server;
    if (!instance) return;
    server = undefined;
    store.pauseTimers();
    instance.closeAllConnections();
    store.wakeAll();
    await new Promise<void>((resolve) => instance.close(() => resolve()));
  };

  await listen();
  return {
    get endpoint() {
      return `127.0.0.1:${port}`;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    isRunning: () => server !== undefined,
    stop: close,
    async start() {
      if (disposed) throw new Error("consul-fake was disposed; start a new one with startConsulFake()");
      if (!server) await listen();
    },
    async dispose() {
      disposed = true;
      await close();
    },
    entries: () => [...store.kv.values()].map((e) => ({ ...e })),
    sessionIds: () => [...store.sessions.keys()],
  };
}
