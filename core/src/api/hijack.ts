import * as http from "node:http";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { connectToEngine } from "../engines/connect.js";
import type { Engine } from "../engines/engine.js";
import { errorMessage, errors, isSwarmError, type SwarmError } from "../errors/catalog.js";
import { HOP_BY_HOP } from "./proxy.js";
import { MIN_API_VERSION, compareApiVersions, type ApiContext } from "./context.js";
import { locateContainer } from "./containers.js";
import { locateExec } from "./exec.js";
import { DEFAULT_BODY_TIMEOUTS } from "./body-timeout.js";
import { isTakenOverUpload } from "./raw-upload.js";
import { destinationOf, relayUpgradeToPrimary } from "./replica.js";

/** Where a hijacked request goes: the engine and the path it knows (full IDs, no version prefix). */
export interface HijackTarget {
  readonly engine: Engine;
  readonly path: string;
}

/**
 * One hijackable endpoint. `pattern` is matched against the path without its `/vX.Y` prefix and
 * without the query; its first capture group, URL-decoded, is passed to `resolve`.
 */
export interface HijackRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly resolve: (ref: string, request: http.IncomingMessage) => Promise<HijackTarget> | HijackTarget;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)?$/;
/** The request body of a hijack is a small JSON document (exec start); anything bigger is abuse. */
const MAX_BODY = 1024 * 1024;

const routesByApp = new WeakMap<FastifyInstance, HijackRoute[]>();

/**
 * Adds a hijackable endpoint (e.g. BuildKit's `POST /session`) to the manager's upgrade handler.
 * Must be called after `hijackRoutes` installed it.
 */
export function registerHijackRoute(app: FastifyInstance, route: HijackRoute): void {
  const routes = routesByApp.get(app);
  if (!routes) throw new Error("registerHijackRoute: hijackRoutes(app, ctx) has not been installed on this server");
  routes.push(route);
}

/**
 * Attach, attach over WebSocket and exec start with `Connection: Upgrade`. Node hands every Upgrade
 * request to the `upgrade` listener (never to fastify), so version prefixes and API-version checks
 * are applied here, and Upgrade requests for other paths are refused here too.
 */
export function hijackRoutes(app: FastifyInstance, ctx: ApiContext, bodyTimeoutMs = DEFAULT_BODY_TIMEOUTS.jsonMs): void {
  const routes: HijackRoute[] = [
    {
      method: "POST",
      pattern: /^\/containers\/(.+)\/attach$/,
      resolve: (ref) => {
        const found = locateContainer(ctx, ref);
        return { engine: found.node.engine, path: `/containers/${found.record.id}/attach` };
      },
    },
    {
      method: "GET",
      pattern: /^\/containers\/(.+)\/attach\/ws$/,
      resolve: (ref) => {
        const found = locateContainer(ctx, ref);
        return { engine: found.node.engine, path: `/containers/${found.record.id}/attach/ws` };
      },
    },
    {
      method: "POST",
      pattern: /^\/exec\/([^/]+)\/start$/,
      resolve: async (ref) => {
        const exec = await locateExec(ctx, ref);
        return { engine: exec.node.engine, path: `/exec/${encodeURIComponent(exec.execId)}/start` };
      },
    },
  ];
  routesByApp.set(app, routes);

  const live = new Set<Duplex>();
  app.server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isTakenOverUpload(request)) return;
    live.add(socket);
    socket.once("close", () => live.delete(socket));
    void routeUpgrade(ctx, routes, request, socket, head, bodyTimeoutMs).catch((err: unknown) => {
      ctx.logger.error(`HTTP error: hijack failed: ${errorMessage(err)}`, { status: 500 });
      socket.destroy();
    });
  });
  // Hijacked sockets are invisible to the HTTP server's connection tracking; without this a
  // running `docker attach` would keep the manager from shutting down.
  app.addHook("preClose", async () => {
    for (const socket of live) socket.destroy();
  });
}

/** A replica passes the upgrade on to the primary (or refuses it while none is known); others serve it. */
async function routeUpgrade(
  ctx: ApiContext,
  routes: readonly HijackRoute[],
  request: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  bodyTimeoutMs: number,
): Promise<void> {
  const where = ctx.replica ? await destinationOf(ctx.replica, request.url ?? "/", client) : "here";
  if (where === "here") return handleUpgrade(ctx, routes, request, client, head, bodyTimeoutMs);
  client.on("error", () => client.destroy());
  if ("error" in where) return respondError(ctx, client, where.error);
  relayUpgradeToPrimary(ctx.replica!, where.primary, request, client, head, (error) => respondError(ctx, client, error));
}

async function handleUpgrade(
  ctx: ApiContext,
  routes: readonly HijackRoute[],
  request: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  bodyTimeoutMs: number,
): Promise<void> {
  // The HTTP server removed its own listeners: an unhandled socket error would kill the manager.
  client.on("error", () => client.destroy());
  if (client instanceof net.Socket) {
    client.setNoDelay(true);
    client.setTimeout(0);
  }

  const url = request.url ?? "/";
  const q = url.indexOf("?");
  const query = q < 0 ? "" : url.slice(q);
  let path = (q < 0 ? url : url.slice(0, q)).replace(/\/{2,}/g, "/");
  let prefix = "";
  const versioned = VERSION_PREFIX.exec(path);
  if (versioned) {
    prefix = `/v${versioned[1]!}`;
    path = versioned[2] ?? "/";
  }
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);

  const versionProblem = versioned ? checkApiVersion(ctx, versioned[1]!) : undefined;
  if (versionProblem) return respondError(ctx, client, versionProblem);

  let route: HijackRoute | undefined;
  let match: RegExpExecArray | null = null;
  for (const candidate of routes) {
    match = candidate.pattern.exec(path);
    if (match && candidate.method === request.method) {
      route = candidate;
      break;
    }
  }
  if (!route || !match) {
    return respondError(ctx, client, errors.UpgradeNotSupported({ method: request.method ?? "?", path }));
  }

  const body = await readBody(request, client, head, bodyTimeoutMs);
  if (isSwarmError(body)) return respondError(ctx, client, body);
  // The client went away before its body was whole: its half-closed socket is closed here too.
  if (body === undefined) {
    client.destroy();
    return;
  }

  let target: HijackTarget;
  try {
    let ref: string;
    try {
      ref = decodeURIComponent(match[1] ?? "");
    } catch {
      ref = match[1] ?? "";
    }
    target = await route.resolve(ref, request);
  } catch (err) {
    return respondError(ctx, client, isSwarmError(err) ? err : errors.UnexpectedFailure({ message: errorMessage(err) }, { cause: err }));
  }
  if (client.destroyed) return;
  await forwardToEngine(ctx, request, client, target, `${prefix}${target.path}${query}`, body);
}

/** The same refusals as the fastify `onRequest` hook in server.ts. */
function checkApiVersion(ctx: ApiContext, requested: string): SwarmError | undefined {
  const apiVersion = ctx.cluster.apiVersion();
  if (compareApiVersions(requested, apiVersion) > 0) return errors.ClientVersionTooNew({ requested, maximum: apiVersion });
  if (compareApiVersions(requested, MIN_API_VERSION) < 0) return errors.ClientVersionTooOld({ requested, minimum: MIN_API_VERSION });
  return undefined;
}

interface RequestBody {
  readonly body: Buffer;
  /** Bytes the client sent after the body (early stdin): written to the engine after its 101. */
  readonly rest: Buffer;
}

/**
 * Reads exactly Content-Length bytes: the body may already be in `head` or still be on its way
 * (both happen with the docker CLI). Undefined when the client left first; a 408 when the body is
 * not whole within `timeoutMs`.
 */
async function readBody(request: http.IncomingMessage, client: Duplex, head: Buffer, timeoutMs: number): Promise<RequestBody | SwarmError | undefined> {
  if (request.headers["transfer-encoding"] !== undefined) {
    return errors.ChunkedUpgradeBody();
  }
  const lengthHeader = request.headers["content-length"];
  const length = lengthHeader === undefined ? 0 : Number(lengthHeader);
  if (!Number.isSafeInteger(length) || length < 0) return errors.InvalidContentLength({ value: lengthHeader ?? "" });
  if (length > MAX_BODY) return errors.UpgradeBodyTooLarge({ length });
  if (head.length >= length) return { body: head.subarray(0, length), rest: head.subarray(length) };
  return new Promise((resolve) => {
    const chunks: Buffer[] = [head];
    let received = head.length;
    const finish = (result: RequestBody | SwarmError | undefined) => {
      clearTimeout(timer);
      client.off("data", onData);
      client.off("close", onClose);
      client.off("end", onClose);
      client.pause();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish(errors.BodyTimeout({ seconds: timeoutMs / 1000 })),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < length) return;
      const all = Buffer.concat(chunks);
      finish({ body: all.subarray(0, length), rest: all.subarray(length) });
    };
    const onClose = () => finish(undefined);
    client.on("data", onData);
    client.once("close", onClose);
    client.once("end", onClose);
  });
}

/** Opens the engine side and either splices (101) or relays the engine's refusal. */
function forwardToEngine(
  ctx: ApiContext,
  request: http.IncomingMessage,
  client: Duplex,
  target: HijackTarget,
  enginePath: string,
  { body, rest }: RequestBody,
): Promise<void> {
  const { engine } = target;
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key)) headers[key] = value;
  }
  headers.host = engine.addr;
  headers.connection = "Upgrade";
  headers.upgrade = request.headers.upgrade ?? "tcp";
  if (body.length > 0 || request.headers["content-length"] !== undefined) headers["content-length"] = String(body.length);

  return new Promise<void>((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      client.off("close", onClientGone);
      resolve();
    };
    const upstreamRequest = http.request({
      method: request.method,
      path: enginePath,
      headers,
      // No agent: a hijacked connection is never returned to a pool.
      createConnection: () => connectToEngine(engine.addr, engine.tls),
    });
    // A client that leaves before the engine answered must not leave the engine request behind.
    const onClientGone = () => {
      upstreamRequest.destroy();
      done();
    };
    client.once("close", onClientGone);

    upstreamRequest.on("upgrade", (response: http.IncomingMessage, upstream: Duplex, upstreamHead: Buffer) => {
      done();
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      client.write(upgradeHead(request, response));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (rest.length > 0) upstream.write(rest);
      splice(client, upstream);
    });

    upstreamRequest.on("response", (response: http.IncomingMessage) => {
      done();
      relayRefusal(client, response);
    });

    upstreamRequest.on("error", (err: Error) => {
      const wasSettled = settled;
      done();
      if (wasSettled || client.destroyed) {
        client.destroy();
        return;
      }
      respondError(
        ctx,
        client,
        isConnectError(err) ? errors.EngineUnreachable({ addr: engine.addr }, { cause: err }) : errors.EngineCallFailed({ message: errorMessage(err) }, { cause: err }),
      );
    });

    upstreamRequest.end(body);
  });
}

/**
 * Both directions with back-pressure. A half-close from the client (stdin done) is passed on and
 * the output keeps flowing; once the engine is done the client gets the rest and an end; once
 * either side is gone, both sockets are destroyed.
 */
function splice(client: Duplex, upstream: Duplex): void {
  upstream.on("error", () => upstream.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  client.once("close", () => upstream.destroy());
  // The engine closes the whole connection when the stream is over: flush what it sent, then close.
  upstream.once("close", () => client.end());
  client.once("finish", () => {
    client.destroy();
    upstream.destroy();
  });
}

/** The 101 the docker CLI expects (it refuses a 200), or the engine's own handshake for WebSockets. */
function upgradeHead(request: http.IncomingMessage, response: http.IncomingMessage): string {
  const protocol = (request.headers.upgrade ?? "tcp").toLowerCase();
  if (protocol === "tcp") {
    const type = response.headers["content-type"] ?? "application/vnd.docker.raw-stream";
    return `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`;
  }
  const lines = [`HTTP/1.1 101 ${response.statusMessage || "Switching Protocols"}`];
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) lines.push(`${response.rawHeaders[i]!}: ${response.rawHeaders[i + 1]!}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** The engine refused to hijack (unknown exec, stopped container, …): its status and body, then close. */
function relayRefusal(client: Duplex, response: http.IncomingMessage): void {
  const status = response.statusCode ?? 500;
  const lines = [`HTTP/1.1 ${status} ${response.statusMessage || http.STATUS_CODES[status] || ""}`];
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    const key = response.rawHeaders[i]!;
    const lower = key.toLowerCase();
    // Node has de-chunked the body: without a Content-Length it is delimited by the close.
    if (HOP_BY_HOP.has(lower) && lower !== "content-length") continue;
    lines.push(`${key}: ${response.rawHeaders[i + 1]!}`);
  }
  lines.push("Connection: close");
  client.write(`${lines.join("\r\n")}\r\n\r\n`);
  response.pipe(client);
  client.once("finish", () => client.destroy());
  response.once("error", () => client.destroy());
}

/** A Docker-style error on a socket that never reached fastify (same headers as its answers). */
function respondError(ctx: ApiContext, client: Duplex, error: SwarmError): void {
  const { status, message } = error;
  if (status >= 500) ctx.logger.error(`HTTP error: ${message}`, { status });
  else ctx.logger.debug(`HTTP error: ${message}`, { status });
  if (client.destroyed) return;
  const body = JSON.stringify({ message });
  client.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\n` +
      `API-Version: ${ctx.cluster.apiVersion()}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
  client.once("finish", () => client.destroy());
}

function isConnectError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ENOTFOUND" || code === "ETIMEDOUT";
}

