import type { IncomingHttpHeaders } from "node:http";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import type { Engine } from "../engines/engine.js";
import { RawRequestBody } from "../engines/raw-body.js";
import { errorMessage, errors, isSwarmError } from "../errors/catalog.js";
import { noteRelayedBytes } from "../util/reclaim.js";

/** Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "content-length",
]);

export function forwardableHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key)) continue;
    out[key] = value;
  }
  return out;
}

export interface ProxyOptions {
  /** Path after the version prefix, e.g. `/containers/<full id>/logs`. */
  readonly path: string;
  /** Query string without `?`; defaults to the client's. */
  readonly query?: string;
  /** A replacement body (a re-serialised JSON body); defaults to the client's raw body. */
  readonly body?: string | Buffer | undefined;
  /**
   * Called after the engine answered, before the answer is passed on: a promise delays the answer,
   * so a client never sees its own change missing from the mirror.
   */
  readonly onResponse?: ((statusCode: number) => void | Promise<void>) | undefined;
  /** Called when the engine could not be asked or did not answer. */
  readonly onFailure?: (() => void) | undefined;
}

/**
 * The request body as the engine should get it: the parsed JSON re-serialised, the raw stream, or
 * an upload still unread on the client's socket.
 */
export function requestBody(request: FastifyRequest): string | Readable | RawRequestBody | undefined {
  const body = request.body;
  if (body === undefined || body === null) return undefined;
  if (body instanceof Readable || body instanceof RawRequestBody) return body;
  if (Buffer.isBuffer(body) || typeof body === "string") return body as string;
  return JSON.stringify(body);
}

/**
 * Forwards one request to an engine and streams the answer back without buffering. Headers are
 * flushed at once: `docker run` waits for the headers of `wait` before it sends `start`.
 * A client that goes away aborts the engine request.
 */
export async function proxyToEngine(
  engine: Engine,
  request: FastifyRequest,
  reply: FastifyReply,
  options: ProxyOptions,
): Promise<void> {
  const abort = new AbortController();
  const onClose = () => abort.abort();
  reply.raw.once("close", onClose);
  const query = options.query ?? rawQuery(request.raw.url ?? "");
  const body = options.body ?? requestBody(request);
  const headers = forwardableHeaders(request.headers);
  if (typeof body === "string" || Buffer.isBuffer(body)) headers["content-length"] = String(Buffer.byteLength(body));
  // A streamed upload of known length goes out with that length, not re-chunked.
  else if (body !== undefined && request.headers["content-length"] !== undefined) headers["content-length"] = request.headers["content-length"];
  let response: Awaited<ReturnType<Engine["call"]>>;
  try {
    response = await engine.call(request.method as Dispatcher.HttpMethod, options.path, {
      query,
      body,
      headers,
      versionPrefix: versionPrefixOf(request),
      timeout: 0,
      signal: abort.signal,
    });
  } catch (err) {
    reply.raw.off("close", onClose);
    options.onFailure?.();
    if (abort.signal.aborted) return;
    if (isSwarmError(err)) throw err;
    throw errors.EngineCallFailed({ message: errorMessage(err) }, { cause: err });
  }
  try {
    await options.onResponse?.(response.statusCode);
  } catch {
    // The mirror catches up from the event stream; the engine's answer still goes back.
  }
  reply.hijack();
  const raw = reply.raw;
  const outHeaders: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(response.headers)) {
    if (value === undefined || (HOP_BY_HOP.has(key) && key !== "content-length")) continue;
    outHeaders[key] = value;
  }
  raw.writeHead(response.statusCode, outHeaders);
  raw.flushHeaders();
  try {
    await pipeline(response.body, coalesce(), raw);
  } catch {
    // Either side went away mid-stream: the pipeline has destroyed both ends; nothing to add.
  } finally {
    reply.raw.off("close", onClose);
  }
}

/**
 * Joins the chunks that arrive within one turn of the event loop into one write. dockerd sends
 * every log line as its own HTTP chunk (10,240 of them for 10 MiB of 1 KiB lines); writing them
 * one by one costs a syscall and a chunk header each. Nothing waits longer than that turn, so
 * follow streams (logs -f, events, stats) stay live.
 */
function coalesce(): Transform {
  let pending: Buffer[] = [];
  let scheduled = false;
  const flush = (stream: Transform) => {
    scheduled = false;
    if (pending.length === 0) return;
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    stream.push(batch);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      noteRelayedBytes(chunk.length);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => flush(this));
      }
      callback();
    },
    flush(callback) {
      flush(this);
      callback();
    },
  });
}

export function rawQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? "" : url.slice(q + 1);
}

/** The `/v1.41` prefix the client used (kept when proxying, as classic Swarm did), or ``. */
export function versionPrefixOf(request: FastifyRequest): string {
  const version = (request.raw as { apiVersion?: string }).apiVersion;
  return version ? `/v${version}` : "";
}
