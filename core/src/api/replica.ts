import * as http from "node:http";
import * as https from "node:https";
import type { Duplex } from "node:stream";
import { connectToEngine, type EngineTls } from "../engines/connect.js";
import { errorMessage, errors, type SwarmError } from "../errors/catalog.js";
import type { Logger } from "../extension-points/plugin.js";
import { parseHostPort } from "../util/address.js";

/** What the API needs to know of replication: where requests go while this manager is a replica. */
export interface ReplicaRouting {
  isPrimary(): boolean;
  /** The primary's `host:port`, waiting until one is elected; rejects once `signal` aborts. */
  primary(signal: AbortSignal): Promise<string>;
  /** This manager's own `--advertise` address. */
  readonly advertise: string;
  /** The manager's own certificate, presented to the primary when the managers speak TLS. */
  /** The manager's own certificate, presented to the primary; its certificate checked with `--tlsverify`. */
  readonly tls: EngineTls | undefined;
}

/** The manager's own endpoints: health for orchestrators, metrics, the cluster view. */
const MANAGER_OWN_PATHS = new Set(["/livez", "/readyz", "/metrics", "/swarm/status", "/ui"]);

/**
 * Requests a replica answers itself (classic Swarm's rule): `_ping`, and `info` and `debug`, so
 * `docker info` on a replica shows its own view and the primary it follows. Everything under
 * `/debug/` too: a profile asked of a replica is the replica's.
 */
export function servedByEveryManager(url: string): boolean {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  return (
    path.endsWith("/_ping") ||
    path.endsWith("/info") ||
    path.endsWith("/debug") ||
    path.startsWith("/debug/") ||
    MANAGER_OWN_PATHS.has(path) ||
    path.startsWith("/ui/")
  );
}

/** Where a request goes: served here, passed to the primary, or refused while none is known. */
export type Destination = "here" | { readonly primary: string } | { readonly error: SwarmError };

/**
 * Where a request goes: `here` when this manager serves it, else the primary's address, waited
 * for while no primary is elected and the client stays connected.
 */
export async function destinationOf(routing: ReplicaRouting, url: string, client: NodeJS.EventEmitter): Promise<Destination> {
  if (routing.isPrimary() || servedByEveryManager(url)) return "here";
  const gone = new AbortController();
  const onClose = () => gone.abort();
  client.once("close", onClose);
  try {
    const primary = await routing.primary(gone.signal);
    return primary === routing.advertise ? "here" : { primary };
  } catch (err) {
    return { error: errors.NoElectedPrimary({ reason: errorMessage(err) }, { cause: err }) };
  } finally {
    client.off("close", onClose);
  }
}

/**
 * Headers of one connection only. Unlike the engine proxy's list, Host and Content-Length stay:
 * the request reaches the primary as the client sent it, and Node frames the body again.
 */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

function rawHeaderPairs(raw: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!CONNECTION_HEADERS.has(raw[i]!.toLowerCase())) kept.push(raw[i]!, raw[i + 1]!);
  return kept;
}

function answer(res: http.ServerResponse, error: SwarmError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(error.status, { "content-type": "application/json" }).end(JSON.stringify({ message: error.message }));
}

/**
 * Passes a plain request to the primary and its answer back, streaming both ways (a long
 * `docker events`, `logs -f` or upload included). The request leaves as the client sent it: same
 * method, path with its `/vX.Y`, headers and body.
 */
export function relayToPrimary(
  routing: ReplicaRouting,
  primary: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: string,
  logger: Logger,
): void {
  const { host, port } = parseHostPort(primary);
  const options: https.RequestOptions = { host, port, method: req.method, path: url, headers: rawHeaderPairs(req.rawHeaders), setHost: false };
  const upstream = routing.tls
    ? https.request({ ...options, ca: routing.tls.ca, cert: routing.tls.cert, key: routing.tls.key, rejectUnauthorized: routing.tls.verify, agent: false })
    : http.request({ ...options, agent: false });
  upstream.once("response", (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.statusMessage, rawHeaderPairs(reply.rawHeaders));
    // Streams such as `docker events` must reach the client as they come.
    res.flushHeaders();
    reply.pipe(res);
    reply.once("error", () => res.destroy());
  });
  upstream.once("error", (err) => {
    logger.debug(`relaying ${req.method ?? "?"} ${url} to the primary ${primary} failed: ${err.message}`);
    answer(res, errors.PrimaryUnreachable({ reason: err.message, primary }));
  });
  res.once("close", () => upstream.destroy());
  req.pipe(upstream);
}

/**
 * Passes a hijacked request (attach, exec start) to the primary: its head as received, then
 * every byte both ways until either side closes.
 */
export function relayUpgradeToPrimary(
  routing: ReplicaRouting,
  primary: string,
  req: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  refuse: (error: SwarmError) => void,
): void {
  const url = req.url ?? "/";
  // The same kind of connection the manager opens to an engine for a hijack, with its own certificate.
  const upstream = connectToEngine(primary, routing.tls);
  const both = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.once("error", (err) => {
    if (upstream.bytesRead === 0 && client.writable) refuse(errors.PrimaryUnreachable({ reason: err.message, primary }));
    else both();
  });
  client.on("error", both);
  upstream.once("close", () => client.end());
  client.once("close", () => upstream.destroy());
  const lines = [`${req.method ?? "GET"} ${url} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]!}: ${req.rawHeaders[i + 1]!}`);
  upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
}
