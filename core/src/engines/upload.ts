import * as http from "node:http";
import type * as net from "node:net";
import type { Readable } from "node:stream";
import { getSystemErrorName } from "node:util";
import { errors, type SwarmError } from "../errors/catalog.js";
import { noteRelayedBytes } from "../util/reclaim.js";
import { connectToEngine, type EngineTls } from "./connect.js";
import { RawRequestBody, clientFault, type RelayResult } from "./raw-body.js";

export interface UploadTarget {
  /** `host:port` of the engine. */
  readonly addr: string;
  readonly tls: EngineTls | undefined;
  readonly connectTimeoutMs: number;
}

export interface UploadRequest {
  readonly method: string;
  /** Path with version prefix and query string. */
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined> | undefined;
  /** A stream read through Node, or an upload the kernel moves from the client's socket. */
  readonly body: Readable | RawRequestBody;
  readonly signal?: AbortSignal | undefined;
}

export interface UploadAnswer {
  readonly statusCode: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
}

/**
 * Unsent bytes the engine connection may hold before the client's body is paused: a turn of the
 * event loop reads at most 2 MiB from one client (32 reads of 64 KiB), and what the kernel does not
 * take at once waits here. Kept small so that no chunk lives long enough to be promoted to the
 * old generation between two of `noteRelayedBytes`' collections.
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Sends a request body (`docker cp` into a container, a build context, an image to load) to an
 * engine as it arrives and resolves with the engine's answer once its headers arrive.
 *
 * The request gets a connection of its own, closed after the answer: an upload is long enough that
 * a handshake is noise, and nothing needs pooling.
 */
export function sendUpload(target: UploadTarget, request: UploadRequest): Promise<UploadAnswer> {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(request.headers ?? {})) if (value !== undefined) headers[key] = value;
  headers.host = target.addr;
  if (headers["content-length"] === undefined) headers["transfer-encoding"] = "chunked";

  return new Promise((resolve, reject) => {
    const out = http.request({
      method: request.method,
      path: request.path,
      headers,
      signal: request.signal,
      timeout: target.connectTimeoutMs,
      createConnection: () => connectToEngine(target.addr, target.tls),
    });
    let answered = false;
    // The connect timeout only: once connected, an upload and the engine's work on it take as long as they take.
    out.once("socket", (socket: net.Socket) => socket.once("connect", () => out.setTimeout(0)));
    out.on("timeout", () => out.destroy(Object.assign(new Error(`connect ETIMEDOUT ${target.addr}`), { code: "ETIMEDOUT" })));
    out.once("response", (response: http.IncomingMessage) => {
      answered = true;
      resolve({ statusCode: response.statusCode ?? 500, headers: response.headers, body: response });
    });
    out.on("error", (err) => {
      // After the answer, a broken upload is the engine refusing the rest (it answered early): the
      // answer stands and the rest of the client's body is drained.
      if (!answered) reject(err);
    });
    if (request.body instanceof RawRequestBody) spliceBody(out, request.body, request.signal);
    else streamBody(out, request.body);
  });
}

/**
 * Writes the head, then has the kernel move the body from the client's socket to the engine's
 * (see RawRequestBody); ending the request writes the last chunk.
 */
function spliceBody(out: http.ClientRequest, body: RawRequestBody, signal: AbortSignal | undefined): void {
  signal?.addEventListener("abort", () => body.cancel(), { once: true });
  out.once("socket", (socket: net.Socket) => {
    const relay = () => {
      body.relayTo(socket).then(
        (result) => {
          if (result.outcome === "done") out.end();
          else out.destroy(clientFault(result, body.idleMs) ?? engineFault(result));
        },
        (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    };
    const start = () => {
      out.flushHeaders();
      // Once the head has left, the socket is the relay's to write until the request ends.
      socket.write("", relay);
    };
    if (socket.connecting) socket.once("connect", start);
    else start();
  });
}

function engineFault(result: RelayResult): SwarmError {
  const reason = result.errno > 0 ? `the connection failed (${getSystemErrorName(-result.errno)})` : "the upload was cancelled";
  return errors.UploadIncomplete({ reason });
}

/**
 * Feeds a body stream to the request, paused while the engine connection holds more than
 * MAX_UNSENT_BYTES unsent.
 *
 * undici writes each chunk of a streamed body the moment it arrives: one write, and one wake-up of
 * dockerd, per 32 KiB HTTP chunk the docker CLI sent. Here the connection is corked for the rest of
 * the event-loop turn in which a chunk arrived, so everything read from the client in that turn
 * leaves in one writev. On a small machine that is the difference between an upload through the
 * manager costing the engine ~40% more CPU than a direct one and costing it about the same.
 */
function streamBody(out: http.ClientRequest, body: Readable): void {
  let corked = false;
  const flush = () => {
    if (!corked) return;
    corked = false;
    out.uncork();
    if (out.writableLength > MAX_UNSENT_BYTES && !body.isPaused()) {
      body.pause();
      out.once("drain", () => body.resume());
    }
  };
  const onData = (chunk: Buffer) => {
    if (!corked) {
      corked = true;
      out.cork();
      setImmediate(flush);
    }
    out.write(chunk);
    noteRelayedBytes(chunk.length);
    // A body fed synchronously (a fast local stream) can offer any amount within one turn.
    if (out.writableLength > MAX_UNSENT_BYTES) flush();
  };
  const onEnd = () => {
    flush();
    out.end();
  };
  const onBodyError = (err: Error) => out.destroy(err);
  out.once("close", () => {
    if (body.readableEnded) return;
    body.off("data", onData);
    body.off("end", onEnd);
    body.off("error", onBodyError);
    body.resume();
  });
  body.on("data", onData);
  body.once("end", onEnd);
  body.once("error", onBodyError);
}
