import { STATUS_CODES } from "node:http";
import type { Duplex, Readable } from "node:stream";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import { errorMessage, errors, isSwarmError, type SwarmError } from "../errors/catalog.js";
import { VERSION } from "../version.js";
import { MIN_API_VERSION, compareApiVersions, type ApiContext } from "./context.js";
import { DEFAULT_BODY_TIMEOUTS, limitBodyTime, type BodyTimeouts } from "./body-timeout.js";
import { containerOpsRoutes } from "./container-ops.js";
import { containerRoutes } from "./containers.js";
import { BuildSessions, sessionRoutes } from "./sessions.js";
import { execRoutes } from "./exec.js";
import { hijackRoutes } from "./hijack.js";
import { imageRoutes } from "./images.js";
import { buildRoutes } from "./build.js";
import { networkRoutes } from "./networks.js";
import { pluginRoutes } from "./plugins.js";
import { rawBodyOf, takeOverUploads } from "./raw-upload.js";
import { destinationOf, relayToPrimary } from "./replica.js";
import { systemExtraRoutes } from "./system-extra.js";
import { volumeRoutes } from "./volumes.js";
import { systemRoutes } from "./system.js";
import { operationsRoutes } from "./operations.js";

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)?$/;
/** The longest path parameter served: a reference to an image on a registry, or to a container by node and name. */
const MAX_PATH_PARAMETER = 4096;
/** JSON documents (create, update, …) are parsed whole; anything bigger is a mistake or abuse. */
const JSON_BODY_LIMIT = 64 * 1024 * 1024;

export interface ApiServerOptions {
  readonly https?: { key: Buffer; cert: Buffer; ca?: Buffer | undefined; requestCert: boolean; rejectUnauthorized: boolean };
  /** Extra route groups (hijacked streams, later API groups) registered after the core ones. */
  readonly extraRoutes?: ReadonlyArray<(app: FastifyInstance, ctx: ApiContext) => void>;
  /** A debug line per request answered (id, method, route, status, ms): only when the log level is debug. */
  readonly accessLog?: boolean;
  /** How long a client may take over a request body (tests shorten it). */
  readonly bodyTimeouts?: BodyTimeouts;
}

/**
 * The Docker Engine API served by the manager. `/vX.Y/` prefixes are stripped before routing and
 * kept on the raw request so proxied calls carry the client's version to the engine, as classic
 * Swarm did. Every error leaves as Docker's `{"message": "…"}` with its status.
 */
export function createApiServer(ctx: ApiContext, options: ApiServerOptions = {}): FastifyInstance {
  const app = Fastify({
    // Half-open, as Node's plain HTTP server is: `docker exec` and `attach` close their side when
    // stdin is done and still read the output. A TLS server would otherwise end its side too.
    ...(options.https ? { https: { ...options.https, allowHalfOpen: true } } : {}),
    // Requests are not logged per line: the manager logs what matters (errors, placements).
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    // Docker clients hold long streams (events, logs -f, attach): never time them out here.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    // A `<node ID>/<name>` reference alone is over a hundred characters, find-my-way's default.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PATH_PARAMETER },
    // What the router refuses (a bad percent-encoding, a path parameter over the limit) is answered
    // in Docker's shape like every other error.
    frameworkErrors: (error: FastifyError, _request: unknown, reply: FastifyReply) => {
      const status = typeof error.statusCode === "number" ? error.statusCode : 400;
      const { message } =
        error.code === "FST_ERR_BAD_URL" ? errors.InvalidUrl({ reason: error.message }, { status }) : errors.RouterRefused({ message: error.message }, { status });
      // A Buffer: the onSend hook that strips fastify's charset does not run for these.
      void reply.code(status).header("content-type", "application/json").send(Buffer.from(JSON.stringify({ message })));
    },
    clientErrorHandler: (err: Error & { code?: string }, socket: Duplex) => answerClientError(ctx, err, socket),
    rewriteUrl(request) {
      let url = request.url ?? "/";
      const match = VERSION_PREFIX.exec(url.split("?")[0] ?? "");
      if (match) {
        (request as { apiVersion?: string }).apiVersion = match[1];
        url = url.slice(match[1]!.length + 2) || "/";
      }
      return joinNodeQualifiedContainer(url, request.method ?? "GET", (segment) => isNodeName(ctx, segment));
    },
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  // An empty body with a JSON content type is normal for Docker clients (`start`, `stop`).
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.InvalidJson({ problem: jsonProblem(text, err) }), undefined);
    }
  });
  // Everything else (tar archives, images, raw stdin) is streamed through untouched.
  app.addContentTypeParser("*", (request, payload: Readable, done) => done(null, rawBodyOf(request.raw) ?? payload));

  const replica = ctx.replica;
  if (replica) {
    // A replica passes what it does not serve itself to the primary, before any check of its own:
    // the primary's answer (its API version included) is the one the client gets.
    app.addHook("onRequest", async (request, reply) => {
      const where = await destinationOf(replica, request.originalUrl, reply.raw);
      if (where === "here") return;
      if ("error" in where) throw where.error;
      reply.hijack();
      relayToPrimary(replica, where.primary, request.raw, reply.raw, request.originalUrl, ctx.logger);
    });
  } else {
    // Not with replication: a replica relays a request to the primary from Node's parsed stream.
    takeOverUploads(app, (options.bodyTimeouts ?? DEFAULT_BODY_TIMEOUTS).uploadIdleMs);
  }
  limitBodyTime(app, options.bodyTimeouts ?? DEFAULT_BODY_TIMEOUTS, ctx.logger);

  app.addHook("onRequest", async (request, reply) => {
    const apiVersion = ctx.cluster.apiVersion();
    void reply.header("API-Version", apiVersion);
    void reply.header("Docker-Experimental", String(ctx.experimental));
    void reply.header("Ostype", "linux");
    void reply.header("Server", `Swarm/${VERSION} (linux)`);
    if (ctx.cors) {
      void reply.header("Access-Control-Allow-Origin", "*");
      void reply.header("Access-Control-Allow-Headers", "Origin, X-Requested-With, Content-Type, Accept");
      void reply.header("Access-Control-Allow-Methods", "GET, POST, DELETE, PUT, OPTIONS, HEAD");
    }
    const requested = (request.raw as { apiVersion?: string }).apiVersion;
    if (requested === undefined) return;
    if (compareApiVersions(requested, apiVersion) > 0) {
      throw errors.ClientVersionTooNew({ requested, maximum: apiVersion });
    }
    if (compareApiVersions(requested, MIN_API_VERSION) < 0) {
      throw errors.ClientVersionTooOld({ requested, minimum: MIN_API_VERSION });
    }
  });

  // Metrics and the access log (debug level), by route template: never a container ID or a query.
  const metrics = ctx.metrics;
  const accessLog = options.accessLog === true;
  if (metrics || accessLog) {
    app.addHook("onResponse", async (request, reply) => {
      const route = request.routeOptions.url ?? "unmatched";
      metrics?.apiRequest(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
      if (accessLog) ctx.logger.debug("request", { id: request.id, method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) });
    });
  }

  // dockerd answers `application/json` without a charset, and the docker CLI parses error bodies
  // only when the header is exactly that.
  app.addHook("onSend", async (_request, reply, payload) => {
    const type = reply.getHeader("content-type");
    if (typeof type === "string" && type.startsWith("application/json;")) void reply.header("content-type", "application/json");
    return payload;
  });

  app.setErrorHandler((thrown: FastifyError | SwarmError, _request, reply) => {
    const error = isSwarmError(thrown) ? thrown : (bodyError(thrown) ?? thrown);
    const status = isSwarmError(error) ? error.status : typeof error.statusCode === "number" ? error.statusCode : 500;
    const fields = isSwarmError(error) ? { status, code: error.code, ...(error.plugin ? { plugin: error.plugin } : {}) } : { status };
    if (status >= 500) ctx.logger.error(`HTTP error: ${error.message}`, fields);
    else ctx.logger.debug(`HTTP error: ${error.message}`, fields);
    void reply.code(status).header("content-type", "application/json").send(JSON.stringify({ message: error.message }));
  });
  app.setNotFoundHandler((request, reply) => {
    if (ctx.cors && request.method === "OPTIONS") return reply.code(200).send();
    const notFound = errors.PageNotFound();
    return reply.code(notFound.status).header("content-type", "application/json").send(JSON.stringify({ message: notFound.message }));
  });

  systemRoutes(app, ctx);
  containerRoutes(app, ctx);
  containerOpsRoutes(app, ctx);
  execRoutes(app, ctx);
  // Attach and exec start arrive as Upgrade requests on app.server, never through fastify.
  hijackRoutes(app, ctx, (options.bodyTimeouts ?? DEFAULT_BODY_TIMEOUTS).jsonMs);
  imageRoutes(app, ctx);
  const sessions = new BuildSessions();
  buildRoutes(app, ctx, sessions);
  sessionRoutes(app, sessions);
  networkRoutes(app, ctx);
  volumeRoutes(app, ctx);
  pluginRoutes(app, ctx);
  systemExtraRoutes(app, ctx);
  operationsRoutes(app, ctx);
  for (const register of options.extraRoutes ?? []) register(app, ctx);
  return app;
}

/**
 * What is wrong with a body that is not JSON, in the words of Go's decoder as dockerd answers it
 * (`invalid character 'x' looking for beginning of value`), not in JavaScript's.
 */
export function jsonProblem(text: string, err: unknown): string {
  const message = errorMessage(err);
  if (/Unexpected end of JSON input|Unterminated string/.test(message)) return "unexpected end of JSON input";
  const at = /position (\d+)/.exec(message);
  const token = /Unexpected token '(.)'/su.exec(message);
  let offset = at ? Number(at[1]) : token ? text.indexOf(token[1]!) : -1;
  if (offset < 0) offset = text.search(/[^\s]/);
  const character = text.charAt(offset);
  const shown = /^[\x20-\x7e]$/.test(character) ? `'${character}'` : `'\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}'`;
  return `invalid character ${shown} at offset ${offset + 1}`;
}

/** Fastify's refusals of a request body, in Docker's words: a 400 that says what was wrong. */
function bodyError(error: FastifyError): SwarmError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return errors.JsonBodyTooLarge({ limitMiB: JSON_BODY_LIMIT / 1024 / 1024 });
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return errors.BodyLengthMismatch();
    default:
      return undefined;
  }
}

/**
 * A request Node's HTTP parser refused, answered as dockerd's Go server would (a 400 and a closed
 * connection), with a Docker-style body that says what was wrong instead of fastify's generic one.
 */
function answerClientError(ctx: ApiContext, err: Error & { code?: string; reason?: string }, socket: Duplex): void {
  // A response already under way (an engine's answer to an upload whose body then broke) cannot
  // be followed by another one; Node's own handler makes the same check.
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (err.code === "ECONNRESET" || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  const { status, message } = describeClientError(err);
  ctx.logger.debug(`HTTP error: ${message}`, { status, code: err.code });
  const body = JSON.stringify({ message });
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

function describeClientError(err: Error & { code?: string; reason?: string }): SwarmError {
  switch (err.code) {
    case "HPE_INVALID_EOF_STATE":
      return errors.TruncatedBody();
    case "HPE_HEADER_OVERFLOW":
      return errors.HeadersTooLarge();
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return errors.InvalidContentLengthHeader();
    case "HPE_INVALID_CHUNK_SIZE":
      return errors.BadChunkSize();
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return errors.RequestTimedOut();
    default:
      return errors.MalformedRequest({ reason: err.reason ?? err.message });
  }
}

function isNodeName(ctx: ApiContext, segment: string): boolean {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return false;
  }
  return ctx.cluster.node(name) !== undefined;
}

/**
 * `<node>/<name>` names a container in every route (§4.4), but its slash would split the route's
 * `:name` parameter (classic Swarm's router matched `{name:.*}`). When the segment after
 * `/containers/` is a node of the cluster and a container name follows it (then an action, or
 * nothing for DELETE), that slash is encoded so the router sees one parameter.
 */
export function joinNodeQualifiedContainer(url: string, method: string, isNode: (segment: string) => boolean): string {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const segments = path.split("/");
  // ["", "containers", <node>, <name>, <action>…]
  if (segments[1] !== "containers" || segments.length < 4 || segments[3] === "") return url;
  if (segments.length === 4 && method !== "DELETE") return url;
  if (!isNode(segments[2]!)) return url;
  return `/containers/${segments[2]!}%2F${segments.slice(3).join("/")}${q < 0 ? "" : url.slice(q)}`;
}
