import * as http from "node:http";
import type * as net from "node:net";
import type { Readable } from "node:stream";
import { noteRelayedBytes } from "../util/reclaim.js";
import { connectToEngine, type EngineTls } from "./connect.js";

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
  readonly body: Readable;
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
 * Sends a streamed request body (`docker cp` into a container, a build context, an image to load)
 * to an engine and resolves with its answer once the headers arrive.
 *
 * undici writes each chunk of a streamed body the moment it arrives: one write, and one wake-up of
 * dockerd, per 32 KiB HTTP chunk the docker CLI sent. Here the connection is corked for the rest of
 * the event-loop turn in which a chunk arrived, so everything read from the client in that turn
 * leaves in one writev. On a small machine that is the difference between an upload through the
 * manager costing the engine ~40% more CPU than a direct one and costing it about the same.
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
    const body = request.body;
    let answered = false;
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
    const detach = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onBodyError);
    };

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
    out.once("close", () => {
      if (body.readableEnded) return;
      detach();
      body.resume();
    });

    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", onBodyError);
  });
}
