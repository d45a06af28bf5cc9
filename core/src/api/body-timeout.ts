import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { errors, type SwarmError } from "../errors/catalog.js";
import type { Logger } from "../extension-points/plugin.js";
import { isTakenOverUpload } from "./raw-upload.js";
import { UPLOAD_IDLE_MS } from "../engines/raw-body.js";

export interface BodyTimeouts {
  /** A JSON document of which nothing arrives for this long is given up. */
  readonly idleMs: number;
  /** A JSON document (create, exec, network…) must have arrived whole within this long. */
  readonly jsonMs: number;
  /**
   * An upload (`docker cp`, `load`, `import`, a build context) whose client sends nothing for this
   * long while the engine would take more is given up. No limit on its whole: it may be large.
   */
  readonly uploadIdleMs: number;
}

export const DEFAULT_BODY_TIMEOUTS: BodyTimeouts = { idleMs: 30_000, jsonMs: 60_000, uploadIdleMs: UPLOAD_IDLE_MS };

/**
 * Bounds the time a client may take to send a JSON request body, and that time only: the answer
 * that follows (logs -f, events, a pull, attach) may last as long as it must. A document that
 * stalls or trickles in gets a 408 and its connection closed, instead of holding the connection
 * and what was read of it for ever.
 */
export function limitBodyTime(app: FastifyInstance, timeouts: BodyTimeouts, logger: Logger): void {
  app.addHook("onRequest", async (request, reply) => {
    const raw = request.raw;
    if (!hasBody(raw) || isTakenOverUpload(raw) || raw.complete) return;
    const socket = raw.socket as IncomingMessage["socket"] | null;
    // Requests injected without a socket (tests through app.inject) have nothing to time out.
    if (typeof socket?.setTimeout !== "function") return;
    const giveUp = (why: SwarmError) => {
      logger.debug(`HTTP error: ${why.message}`, { status: why.status, url: raw.url });
      refuse(reply.raw, why);
    };
    if (!(raw.headers["content-type"] ?? "").startsWith("application/json")) {
      limitUploadIdleTime(raw, timeouts.uploadIdleMs, giveUp);
      return;
    }
    const onIdle = () => giveUp(errors.BodyIdleTimeout({ seconds: timeouts.idleMs / 1000 }));
    // On the request, not the socket: Node's server destroys a socket whose request does not
    // handle its timeout, before an answer could be written.
    raw.setTimeout(timeouts.idleMs, onIdle);
    const total = setTimeout(() => giveUp(errors.BodyTimeout({ seconds: timeouts.jsonMs / 1000 })), timeouts.jsonMs);
    total.unref();
    const done = () => {
      socket.setTimeout(0);
      raw.off("timeout", onIdle);
      clearTimeout(total);
    };
    raw.once("end", done);
    raw.once("close", done);
  });
}

/**
 * A streamed upload: the manager passes it on as it comes, pausing it while the engine pushes
 * back. Silence while paused is the engine's doing and is waited out; silence while the manager
 * would read is the client's, and ends the upload.
 */
function limitUploadIdleTime(raw: IncomingMessage, idleMs: number, giveUp: (why: SwarmError) => void): void {
  if (idleMs <= 0) return;
  const onIdle = () => {
    if (raw.complete || raw.destroyed) return;
    if (raw.isPaused() || raw.readableLength >= raw.readableHighWaterMark) {
      // Armed again; the listener is already there.
      raw.setTimeout(idleMs);
      return;
    }
    giveUp(errors.BodyIdleTimeout({ seconds: idleMs / 1000 }));
  };
  raw.setTimeout(idleMs, onIdle);
  const done = () => {
    raw.socket?.setTimeout(0);
    raw.off("timeout", onIdle);
  };
  raw.once("end", done);
  raw.once("close", done);
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers["content-length"];
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined;
}

/** A 408 in Docker's shape, then the connection closed: what was sent of the body can no longer be told from what follows. */
function refuse(response: ServerResponse, why: SwarmError): void {
  const socket = response.socket;
  if (!response.headersSent && socket?.writable) {
    const body = JSON.stringify({ message: why.message });
    response.writeHead(why.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), Connection: "close" });
    response.end(body, () => socket.destroy());
    setTimeout(() => socket.destroy(), 1_000).unref();
    return;
  }
  socket?.destroy();
}
