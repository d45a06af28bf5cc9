/**
 * The Engine API over HTTP for one simulated engine: dockerd's paths (with or without a `/v1.xx`
 * prefix), headers and status codes. Every request is counted under its route template; anything
 * the simulation does not model gets a 501 and is counted as unanswered, so a benchmark can never
 * mistake a missing call for a fast one.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import type { EventFilters } from "./events.js";
import { ApiError, isTrue, Unanswerable, type SimulatedEngine, type WaitCondition } from "./engine.js";
import { API_VERSION, MIN_API_VERSION, nowNs } from "./shapes.js";

export interface RequestCounter {
  /** One request to engine `index` matched `route` (`GET /containers/{id}/json`). */
  count(index: number, route: string): void;
  /** One request the simulation could not answer. */
  unanswered(index: number, method: string, route: string): void;
}

type Query = URLSearchParams;

interface Call {
  readonly engine: SimulatedEngine;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly query: Query;
  readonly params: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
}

type Handler = (call: Call) => void | Promise<void>;

interface Match {
  readonly template: string;
  readonly handler: Handler;
  readonly params: readonly string[];
}

const VERSIONED = /^\/v([0-9]+(?:\.[0-9]+)?)(\/.*)$/;
const EMPTY_QUERY = new URLSearchParams();
const MAX_BODY = 64 * 1024 * 1024;

export function createEngineServer(engine: SimulatedEngine, counter: RequestCounter): http.Server {
  const headers = Object.freeze({
    "Api-Version": API_VERSION,
    "Docker-Experimental": "false",
    Ostype: "linux",
    Server: `Docker/${engine.identity.serverVersion} (linux)`,
  });
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    void serve(engine, counter, headers, req, res);
  });
  // dockerd keeps idle connections open; Node's 5 s default would make keep-alive clients race a close.
  server.keepAliveTimeout = 10 * 60_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    void serveUpgrade(engine, counter, headers, req, socket, head);
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  return server;
}

// ---- answers ------------------------------------------------------------------------------------

function sendJson(call: Pick<Call, "res" | "headers">, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  call.res.writeHead(status, { ...call.headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  call.res.end(text);
}

function sendText(call: Pick<Call, "res" | "headers">, status: number, json: string): void {
  const text = `${json}\n`;
  call.res.writeHead(status, { ...call.headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  call.res.end(text);
}

function sendStatus(call: Pick<Call, "res" | "headers">, status: number, contentLength = false): void {
  call.res.writeHead(status, contentLength ? { ...call.headers, "Content-Length": "0" } : call.headers);
  call.res.end();
}

function sendError(call: Pick<Call, "res" | "headers">, err: ApiError): void {
  if (err.plainText) {
    const text = `${err.message}\n`;
    call.res.writeHead(err.status, { ...call.headers, "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
    call.res.end(text);
    return;
  }
  sendJson(call, err.status, { message: err.message });
}

function unansweredMessage(method: string, path: string): { message: string } {
  return { message: `the simulated engine cannot answer ${method} ${path}` };
}

/** Route of a request nothing matched: long hex runs (IDs) folded, so they aggregate. */
function fallbackTemplate(path: string): string {
  return path.replace(/\/[0-9a-f]{12,64}(?=\/|$)/g, "/{id}");
}

// ---- request plumbing ---------------------------------------------------------------------------

function splitUrl(url: string): { path: string; query: Query } {
  const q = url.indexOf("?");
  return q < 0 ? { path: url, query: EMPTY_QUERY } : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

/** Verdicts by version string: clients send the same one on every request. */
const versionVerdicts = new Map<string, ApiError | null>();

/** Strips `/v1.xx`; dockerd's refusal for versions it does not speak. */
function unversioned(path: string): string {
  const match = VERSIONED.exec(path);
  if (!match) return path;
  const version = match[1]!;
  let verdict = versionVerdicts.get(version);
  if (verdict === undefined) {
    verdict = versionVerdict(version);
    if (versionVerdicts.size < 100) versionVerdicts.set(version, verdict);
  }
  if (verdict !== null) throw verdict;
  return match[2]!;
}

function versionVerdict(version: string): ApiError | null {
  if (compareVersions(version, API_VERSION) > 0) {
    return new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    return new ApiError(
      400,
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      true,
    );
  }
  return null;
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

function segmentsOf(path: string): string[] {
  return path
    .split("/")
    .slice(1)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Unanswerable("a request body over 64 MiB"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    req.once("error", reject);
  });
}

async function jsonBody(call: Call): Promise<unknown> {
  const text = await readBody(call.req);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Unanswerable("a request body that is not JSON");
  }
}

/** `filters` in either of dockerd's forms: `{"k":["v"]}` or the older `{"k":{"v":true}}`. */
export function parseFilters(raw: string | null): EventFilters | undefined {
  if (raw === null || raw === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Unanswerable("a filters parameter that is not JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Unanswerable("a filters parameter that is not an object");
  const filters = new Map<string, string[]>();
  for (const [key, value] of Object.entries(parsed)) {
    if (Array.isArray(value)) filters.set(key, value.map(String));
    else if (value !== null && typeof value === "object") filters.set(key, Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] === true));
    else throw new Unanswerable("a filters parameter of an unknown form");
  }
  return filters.size === 0 ? undefined : filters;
}

/** `since`/`until` of /events: Unix seconds with an optional fraction, or an RFC 3339 date. */
function parseTimestamp(raw: string | null): bigint | undefined {
  if (raw === null || raw === "") return undefined;
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(raw);
  if (match) return BigInt(match[1]!) * 1_000_000_000n + BigInt((match[2] ?? "").padEnd(9, "0") || "0");
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new ApiError(400, `failed to parse value ${raw} as a timestamp`);
  return BigInt(ms) * 1_000_000n;
}

// ---- routes -------------------------------------------------------------------------------------

function route(method: string, segments: readonly string[]): Match | undefined {
  const [first = "", second, third] = segments;
  const n = segments.length;
  const m = (template: string, handler: Handler, params: readonly string[] = []): Match => ({ template: `${method} ${template}`, handler, params });
  switch (first) {
    case "_ping":
      if (n === 1 && (method === "GET" || method === "HEAD")) return m("/_ping", ping);
      return undefined;
    case "version":
      return n === 1 && method === "GET" ? m("/version", (c) => sendJson(c, 200, c.engine.version())) : undefined;
    case "info":
      return n === 1 && method === "GET" ? m("/info", (c) => sendJson(c, 200, c.engine.info())) : undefined;
    case "events":
      return n === 1 && method === "GET" ? m("/events", events) : undefined;
    case "containers":
      return containerRoute(method, segments, m);
    case "exec":
      if (n !== 3 || second === undefined) return undefined;
      if (method === "POST" && third === "start") return m("/exec/{id}/start", execStart, [second]);
      if (method === "GET" && third === "json") return m("/exec/{id}/json", (c) => sendJson(c, 200, c.engine.inspectExec(c.params[0]!)), [second]);
      return undefined;
    case "images":
      return imageRoute(method, segments, m);
    case "distribution":
      if (method === "GET" && n >= 3 && segments[n - 1] === "json") {
        return m("/distribution/{name}/json", (c) => sendJson(c, 200, c.engine.distribution(c.params[0]!)), [segments.slice(1, -1).join("/")]);
      }
      return undefined;
    case "networks":
      if (n === 1 || (n === 2 && second === "")) return method === "GET" ? m("/networks", (c) => sendJson(c, 200, c.engine.listNetworks(parseFilters(c.query.get("filters"))))) : undefined;
      if (second === undefined) return undefined;
      if (n === 2 && method === "POST" && second === "create") {
        return m("/networks/create", async (c) => sendJson(c, 201, c.engine.createNetwork(await jsonBody(c))));
      }
      if (n === 2 && method === "POST" && second === "prune") return m("/networks/prune", (c) => sendJson(c, 200, c.engine.pruneNetworks()));
      if (n === 2 && method === "GET") return m("/networks/{id}", (c) => sendJson(c, 200, c.engine.inspectNetwork(c.params[0]!)), [second]);
      if (n === 2 && method === "DELETE") {
        return m("/networks/{id}", (c) => {
          c.engine.removeNetwork(c.params[0]!);
          sendStatus(c, 204);
        }, [second]);
      }
      if (n === 3 && method === "POST" && (third === "connect" || third === "disconnect")) {
        return m(`/networks/{id}/${third}`, async (c) => {
          const body = await jsonBody(c);
          if (third === "connect") c.engine.connectNetwork(c.params[0]!, body);
          else c.engine.disconnectNetwork(c.params[0]!, body);
          sendStatus(c, 200, true);
        }, [second]);
      }
      return undefined;
    case "volumes":
      if (n === 1 || (n === 2 && second === "")) return method === "GET" ? m("/volumes", (c) => sendJson(c, 200, c.engine.listVolumes(parseFilters(c.query.get("filters"))))) : undefined;
      if (second === undefined || n !== 2) return undefined;
      if (method === "POST" && second === "create") return m("/volumes/create", async (c) => sendJson(c, 201, c.engine.createVolume(await jsonBody(c))));
      if (method === "POST" && second === "prune") return m("/volumes/prune", (c) => sendJson(c, 200, c.engine.pruneVolumes(parseFilters(c.query.get("filters")))));
      if (method === "GET") return m("/volumes/{name}", (c) => sendJson(c, 200, c.engine.inspectVolume(c.params[0]!)), [second]);
      if (method === "DELETE") {
        return m("/volumes/{name}", (c) => {
          c.engine.removeVolume(c.params[0]!, isTrue(c.query.get("force")));
          sendStatus(c, 204);
        }, [second]);
      }
      return undefined;
    default:
      return undefined;
  }
}

type RouteMaker = (template: string, handler: Handler, params?: readonly string[]) => Match;

function containerRoute(method: string, segments: readonly string[], m: RouteMaker): Match | undefined {
  const n = segments.length;
  const second = segments[1];
  const action = segments[2];
  if (second === undefined) return undefined;
  if (n === 2) {
    if (method === "GET" && second === "json") {
      return m("/containers/json", (c) => sendJson(c, 200, c.engine.listContainers(c.query, parseFilters(c.query.get("filters")))));
    }
    if (method === "POST" && second === "create") {
      return m("/containers/create", async (c) => {
        const body = await jsonBody(c);
        sendJson(c, 201, c.engine.createContainer(c.query.get("name") ?? undefined, body));
      });
    }
    if (method === "POST" && second === "prune") {
      return m("/containers/prune", (c) => sendJson(c, 200, c.engine.pruneContainers(parseFilters(c.query.get("filters")))));
    }
    if (method === "DELETE") {
      return m("/containers/{id}", (c) => {
        c.engine.removeContainer(c.params[0]!, isTrue(c.query.get("force")), isTrue(c.query.get("v")));
        sendStatus(c, 204);
      }, [second]);
    }
    return undefined;
  }
  if (n !== 3 || action === undefined) return undefined;
  const id = [second];
  if (method === "GET") {
    switch (action) {
      case "json":
        return m("/containers/{id}/json", (c) => sendText(c, 200, c.engine.inspectContainer(c.params[0]!, isTrue(c.query.get("size")))), id);
      case "top":
        return m("/containers/{id}/top", (c) => sendJson(c, 200, c.engine.topContainer(c.params[0]!)), id);
      case "logs":
        return m("/containers/{id}/logs", logs, id);
      default:
        return undefined;
    }
  }
  if (method !== "POST") return undefined;
  switch (action) {
    case "start":
      return m("/containers/{id}/start", (c) => sendStatus(c, c.engine.startContainer(c.params[0]!) ? 204 : 304), id);
    case "stop":
      return m("/containers/{id}/stop", (c) => sendStatus(c, c.engine.stopContainer(c.params[0]!) ? 204 : 304), id);
    case "kill":
      return m("/containers/{id}/kill", (c) => {
        c.engine.killContainer(c.params[0]!, c.query.get("signal"));
        sendStatus(c, 204);
      }, id);
    case "restart":
      return m("/containers/{id}/restart", (c) => {
        c.engine.restartContainer(c.params[0]!);
        sendStatus(c, 204);
      }, id);
    case "pause":
      return m("/containers/{id}/pause", (c) => {
        c.engine.pauseContainer(c.params[0]!);
        sendStatus(c, 204);
      }, id);
    case "unpause":
      return m("/containers/{id}/unpause", (c) => {
        c.engine.unpauseContainer(c.params[0]!);
        sendStatus(c, 204);
      }, id);
    case "rename":
      return m("/containers/{id}/rename", (c) => {
        c.engine.renameContainer(c.params[0]!, c.query.get("name"));
        sendStatus(c, 204);
      }, id);
    case "wait":
      return m("/containers/{id}/wait", wait, id);
    case "exec":
      return m("/containers/{id}/exec", async (c) => sendJson(c, 201, c.engine.createExec(c.params[0]!, await jsonBody(c))), id);
    default:
      return undefined;
  }
}

function imageRoute(method: string, segments: readonly string[], m: RouteMaker): Match | undefined {
  const n = segments.length;
  const second = segments[1];
  if (second === undefined) return undefined;
  if (n === 2 && method === "GET" && second === "json") {
    return m("/images/json", (c) => sendJson(c, 200, c.engine.listImages(parseFilters(c.query.get("filters")))));
  }
  if (n === 2 && method === "POST" && second === "create") return m("/images/create", pull);
  if (n === 2 && method === "POST" && second === "prune") return m("/images/prune", (c) => sendJson(c, 200, c.engine.pruneImages()));
  // Names hold slashes (`127.0.0.1:5000/app`), so the action is the last segment.
  const last = segments[n - 1];
  const name = segments.slice(1, -1).join("/");
  if (method === "GET" && last === "json" && n >= 3) return m("/images/{name}/json", (c) => sendJson(c, 200, c.engine.inspectImage(c.params[0]!)), [name]);
  if (method === "POST" && last === "tag" && n >= 3) {
    return m("/images/{name}/tag", (c) => {
      c.engine.tagImage(c.params[0]!, c.query.get("repo"), c.query.get("tag"));
      sendStatus(c, 201, true);
    }, [name]);
  }
  if (method === "DELETE") {
    return m("/images/{name}", (c) => sendJson(c, 200, c.engine.removeImage(c.params[0]!, isTrue(c.query.get("force")))), [segments.slice(1).join("/")]);
  }
  return undefined;
}

// ---- handlers with streams ----------------------------------------------------------------------

function ping(call: Call): void {
  const head = call.req.method === "HEAD";
  call.res.writeHead(200, {
    ...call.headers,
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Content-Type": "text/plain; charset=utf-8",
    Pragma: "no-cache",
    "Content-Length": head ? "0" : "2",
  });
  call.res.end(head ? undefined : "OK");
}

/** Headers go out at once: the docker CLI waits for them before it starts a container. */
function openStream(call: Call, contentType: string | undefined): void {
  call.res.writeHead(200, contentType ? { ...call.headers, "Content-Type": contentType } : call.headers);
  call.res.flushHeaders();
}

function wait(call: Call): void {
  const raw = call.query.get("condition") ?? "";
  const condition: WaitCondition | undefined = raw === "" || raw === "not-running" ? "not-running" : raw === "next-exit" || raw === "removed" ? raw : undefined;
  if (condition === undefined) throw new Unanswerable(`wait condition ${raw}`);
  call.engine.findContainer(call.params[0]!);
  openStream(call, "application/json");
  const cancel = call.engine.waitContainer(call.params[0]!, condition, (exitCode) => {
    if (exitCode === undefined) call.res.destroy();
    else call.res.end(`${JSON.stringify({ Error: null, StatusCode: exitCode })}\n`);
  });
  call.res.once("close", cancel);
}

function logs(call: Call): void {
  call.engine.findContainer(call.params[0]!);
  openStream(call, undefined);
  if (!isTrue(call.query.get("follow"))) {
    call.res.end();
    return;
  }
  const cancel = call.engine.followContainer(call.params[0]!, () => call.res.end());
  if (cancel === undefined) call.res.end();
  else call.res.once("close", cancel);
}

function events(call: Call): void {
  const filters = parseFilters(call.query.get("filters"));
  const since = parseTimestamp(call.query.get("since"));
  const until = parseTimestamp(call.query.get("until"));
  openStream(call, "application/json");
  const now = nowNs();
  if (since !== undefined || until !== undefined) {
    for (const line of call.engine.events.replay(since, until, filters)) call.res.write(line);
  }
  if (until !== undefined && until <= now) {
    call.res.end();
    return;
  }
  // Events of one call (a stop is five) leave in one write rather than one syscall each.
  let corked = false;
  const uncork = () => {
    corked = false;
    call.res.uncork();
  };
  const subscriber = {
    filters,
    write: (line: string) => {
      if (!corked) {
        corked = true;
        call.res.cork();
        process.nextTick(uncork);
      }
      call.res.write(line);
    },
  };
  const unsubscribe = call.engine.events.subscribe(subscriber);
  const timer = until === undefined ? undefined : setTimeout(() => call.res.end(), Number((until - now) / 1_000_000n));
  call.res.once("close", () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  });
}

function pull(call: Call): void {
  const fromImage = call.query.get("fromImage");
  if (call.query.get("fromSrc") !== null || fromImage === null || fromImage === "") throw new Unanswerable("image imports (fromSrc)");
  const progress = call.engine.pullImage(fromImage, call.query.get("tag"));
  openStream(call, "application/json");
  call.res.end(`${progress.lines.join("\r\n")}\r\n`);
}

async function execStart(call: Call): Promise<void> {
  const body = (await jsonBody(call)) as { Detach?: unknown } | undefined;
  call.engine.checkExecStart(call.params[0]!);
  if (body?.Detach === true) {
    call.engine.runExec(call.params[0]!);
    sendStatus(call, 200, true);
    return;
  }
  openStream(call, "application/vnd.docker.raw-stream");
  call.engine.runExec(call.params[0]!);
  call.res.end();
}

// ---- dispatch -----------------------------------------------------------------------------------

async function serve(
  engine: SimulatedEngine,
  counter: RequestCounter,
  headers: Readonly<Record<string, string>>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const method = req.method ?? "GET";
  const { path, query } = splitUrl(req.url ?? "/");
  const index = engine.identity.index;
  const reply = { res, headers };
  let template = `${method} ${fallbackTemplate(path)}`;
  let counted = false;
  try {
    const bare = unversioned(path);
    template = `${method} ${fallbackTemplate(bare)}`;
    const match = route(method, segmentsOf(bare));
    if (!match) throw new Unanswerable(`${method} ${path}`);
    template = match.template;
    counter.count(index, template);
    counted = true;
    await match.handler({ engine, req, res, query, params: match.params, headers });
  } catch (err) {
    if (!counted) counter.count(index, template);
    if (err instanceof ApiError) {
      if (!res.headersSent) sendError(reply, err);
      else res.destroy();
      return;
    }
    if (!(err instanceof Unanswerable)) {
      // A bug in the simulation: reported like an unanswered call so that it cannot go unnoticed.
      console.error(`simulated engine ${engine.identity.name}: ${method} ${path} failed:`, err);
    }
    counter.unanswered(index, method, template.slice(method.length + 1));
    if (!res.headersSent) sendJson(reply, 501, unansweredMessage(method, path));
    else res.destroy();
  }
}

function rawResponse(socket: Duplex, status: number, headers: Readonly<Record<string, string>>, body: string): void {
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}`];
  for (const [key, value] of Object.entries({ ...headers, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) })) {
    lines.push(`${key}: ${value}`);
  }
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

function readUpgradeBody(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<string> {
  const length = Number(req.headers["content-length"] ?? "0");
  if (!(length > 0) || head.length >= length) return Promise.resolve(head.subarray(0, Math.max(length, 0)).toString("utf8"));
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let size = head.length;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= length) {
        socket.off("data", onData);
        resolve(Buffer.concat(chunks).subarray(0, length).toString("utf8"));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("end", () => reject(new Error("connection closed before the request body arrived")));
  });
}

/**
 * Hijacked calls (`exec start` and `attach` with `Upgrade: tcp`): a `101 UPGRADED` and a raw
 * stream that carries no output, closed when the exec ends (at once) or the container stops.
 */
async function serveUpgrade(
  engine: SimulatedEngine,
  counter: RequestCounter,
  headers: Readonly<Record<string, string>>,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => undefined);
  const method = req.method ?? "GET";
  const { path, query } = splitUrl(req.url ?? "/");
  const index = engine.identity.index;
  let template = `${method} ${fallbackTemplate(path)}`;
  let counted = false;
  const upgraded = () => {
    const lines = ["HTTP/1.1 101 UPGRADED", "Content-Type: application/vnd.docker.raw-stream", "Connection: Upgrade", "Upgrade: tcp"];
    for (const [key, value] of Object.entries(headers)) lines.push(`${key}: ${value}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  };
  try {
    const bare = unversioned(path);
    const segments = segmentsOf(bare);
    template = `${method} ${fallbackTemplate(bare)}`;
    const [first, id, action] = segments;
    if (method === "POST" && segments.length === 3 && first === "exec" && action === "start" && id !== undefined) {
      template = "POST /exec/{id}/start";
      counter.count(index, template);
      counted = true;
      await readUpgradeBody(req, socket, head);
      engine.checkExecStart(id);
      upgraded();
      engine.runExec(id);
      socket.end();
      return;
    }
    if (method === "POST" && segments.length === 3 && first === "containers" && action === "attach" && id !== undefined) {
      template = "POST /containers/{id}/attach";
      counter.count(index, template);
      counted = true;
      engine.findContainer(id);
      upgraded();
      engine.attachEvent(id);
      if (!isTrue(query.get("stream"))) {
        socket.end();
        return;
      }
      const cancel = engine.waitContainer(id, "next-exit", () => socket.end());
      socket.once("close", cancel);
      return;
    }
    throw new Unanswerable(`${method} ${path}`);
  } catch (err) {
    if (!counted) counter.count(index, template);
    if (err instanceof ApiError) {
      rawResponse(socket, err.status, headers, `${JSON.stringify({ message: err.message })}\n`);
      return;
    }
    if (!(err instanceof Unanswerable)) console.error(`simulated engine ${engine.identity.name}: upgrade ${method} ${path} failed:`, err);
    counter.unanswered(index, method, template.slice(method.length + 1));
    rawResponse(socket, 501, headers, `${JSON.stringify(unansweredMessage(method, path))}\n`);
  }
}
