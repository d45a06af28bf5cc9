import { randomBytes } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { Clock, Logger } from "../extension-points/plugin.js";
import { silentLogger } from "../logging/logger.js";
import { parseHostPort } from "../util/address.js";

/**
 * The token discovery service `token://` talks to, with the HTTP API of Docker Hub's retired one:
 *
 *   POST   /v1/clusters                   → 200, a new 32-hex token (text/plain)
 *   POST   /v1/clusters/<token>?ttl=<s>   body `ip:port` (raw, even under application/json) → 200 `OK`
 *   GET    /v1/clusters/<token>           → 200, JSON array of the `ip:port` registered within their TTL
 *   DELETE /v1/clusters/<token>           → 200 `OK`, forgets the cluster
 *
 * A token is known once `POST /v1/clusters` made it or an engine registered under it; an unknown
 * token answers 404 to GET and DELETE, which classic clients report as
 * `Failed to fetch entries, Discovery service returned 404 HTTP status code` — a mistyped token shows
 * up in the manager's log instead of looking like an empty cluster. State lives in memory only.
 */

export interface TokenServiceOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** TTL used when a registration omits `?ttl=`; classic `swarm join` always sends it. Default 180 s. */
  readonly defaultTtlSeconds?: number;
  /** Upper bound on `?ttl=`, so one client cannot pin an entry forever. Default 24 h. */
  readonly maxTtlSeconds?: number;
}

interface Cluster {
  /** Address → expiry (ms since the epoch). Insertion order is kept, so lists stay stable across refreshes. */
  readonly entries: Map<string, number>;
}

const TOKEN = /^[A-Za-z0-9_.-]{1,128}$/;

function textReply(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type("text/plain; charset=utf-8").send(message);
}

export function createTokenService(options: TokenServiceOptions = {}): FastifyInstance {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? { now: () => Date.now() };
  const defaultTtl = options.defaultTtlSeconds ?? 180;
  const maxTtl = options.maxTtlSeconds ?? 86_400;
  const clusters = new Map<string, Cluster>();

  const app = Fastify({ logger: false, bodyLimit: 4096 });

  // Classic clients send `Content-Type: application/json` with an unquoted `ip:port` body, which a
  // JSON parser would reject; every body is therefore taken as raw text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) logger.error(`token service: ${error.message}`);
    return textReply(reply, status, error.message);
  });
  app.setNotFoundHandler((request, reply) => textReply(reply, 404, `${request.method} ${request.url}: no such route in the token discovery service API (/v1/clusters)`));

  const live = (cluster: Cluster): string[] => {
    const now = clock.now();
    for (const [addr, expiresAt] of cluster.entries) if (expiresAt <= now) cluster.entries.delete(addr);
    return [...cluster.entries.keys()];
  };

  app.post("/v1/clusters", (_request, reply) => {
    let token = randomBytes(16).toString("hex");
    while (clusters.has(token)) token = randomBytes(16).toString("hex");
    clusters.set(token, { entries: new Map() });
    logger.info("Created cluster", { token });
    return textReply(reply, 200, token);
  });

  app.post<{ Params: { token: string }; Querystring: { ttl?: string } }>("/v1/clusters/:token", (request, reply) => {
    const { token } = request.params;
    if (!TOKEN.test(token)) return textReply(reply, 400, `invalid token ${JSON.stringify(token)}: use the token printed by swarm create`);
    const ttlText = request.query.ttl;
    let ttl = defaultTtl;
    if (ttlText !== undefined) {
      if (!/^\d+$/.test(ttlText) || Number(ttlText) < 1) {
        return textReply(reply, 400, `invalid ttl ${JSON.stringify(ttlText)}: give a whole number of seconds, at least 1`);
      }
      ttl = Math.min(Number(ttlText), maxTtl);
    }
    const body = typeof request.body === "string" ? request.body.trim() : "";
    try {
      const { port } = parseHostPort(body);
      if (port < 1 || port > 65535) throw new Error(`port ${port} is out of range 1-65535`);
    } catch (err) {
      return textReply(reply, 400, `invalid address ${JSON.stringify(body)}: ${(err as Error).message}; send ip:port as the request body`);
    }
    let cluster = clusters.get(token);
    if (!cluster) {
      cluster = { entries: new Map() };
      clusters.set(token, cluster);
    }
    cluster.entries.set(body, clock.now() + ttl * 1000);
    logger.debug("Registered engine", { token, addr: body, ttl });
    return textReply(reply, 200, "OK");
  });

  app.get<{ Params: { token: string } }>("/v1/clusters/:token", (request, reply) => {
    const cluster = clusters.get(request.params.token);
    if (!cluster) return textReply(reply, 404, `unknown cluster token ${request.params.token}: create one with swarm create`);
    return reply.code(200).type("application/json").send(JSON.stringify(live(cluster)));
  });

  app.delete<{ Params: { token: string } }>("/v1/clusters/:token", (request, reply) => {
    if (!clusters.delete(request.params.token)) {
      return textReply(reply, 404, `unknown cluster token ${request.params.token}: nothing to delete`);
    }
    logger.info("Deleted cluster", { token: request.params.token });
    return textReply(reply, 200, "OK");
  });

  return app;
}
