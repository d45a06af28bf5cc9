import * as http from "node:http";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { RawRequestBody, socketFd, spliceRelay, type BodyFraming } from "../engines/raw-body.js";

/** `docker cp` into a container: the one upload big and frequent enough to earn its own path. */
const ARCHIVE_UPLOAD = /^(?:\/v\d+\.\d+)?\/containers\/[^?]+\/archive(?:\?.*)?$/;

const RAW_BODY = Symbol("swarm.rawBody");

type TakenRequest = http.IncomingMessage & { [RAW_BODY]?: RawRequestBody | "pending" };

/** The unread body of a request taken over by `takeOverUploads`, if this is one. */
export function rawBodyOf(request: http.IncomingMessage): RawRequestBody | undefined {
  const body = (request as TakenRequest)[RAW_BODY];
  return body instanceof RawRequestBody ? body : undefined;
}

/** Whether the `upgrade` event for this request is a taken-over upload, not a protocol upgrade. */
export function isTakenOverUpload(request: http.IncomingMessage): boolean {
  return (request as TakenRequest)[RAW_BODY] !== undefined;
}

/**
 * Lets the body of `PUT /containers/{id}/archive` bypass Node's HTTP parser, so that the engine
 * relay can splice it from socket to socket in the kernel (@swarm/splice-relay).
 *
 * Node parses every body as it arrives; by the time a route runs, part of it has been consumed
 * and there is no public way to take the rest raw. Node does hand over a socket unparsed for one
 * kind of request, a protocol upgrade, and it asks the server whether a request is one at the end
 * of its head (the connection's `onIncoming`). Answering "upgrade" for these uploads stops the
 * parser before the body; the `upgrade` event then yields the socket and the body bytes read with
 * the head, and the request is passed to fastify like any other, with a response of its own that
 * closes the connection once the body has been read to its end.
 *
 * Plain TCP clients only: a TLS socket's bytes are encrypted, and Node gives no descriptor for it.
 * Without the native relay, or where Node's internals differ from what this expects, nothing is
 * taken over and uploads stream through the parser as before.
 */
export function takeOverUploads(app: FastifyInstance, idleMs: number): void {
  if (!spliceRelay()) return;
  const server = app.server;
  const live = new Set<{ socket: net.Socket; body: RawRequestBody }>();

  server.on("connection", (socket: net.Socket) => {
    const parser = (socket as net.Socket & { parser?: { onIncoming?: unknown } | null }).parser;
    const onIncoming = parser?.onIncoming;
    if (!parser || typeof onIncoming !== "function" || socketFd(socket) === undefined || readHandle(socket) === undefined) return;
    parser.onIncoming = function (this: unknown, request: http.IncomingMessage, keepAlive: boolean): unknown {
      if (isUploadToTakeOver(request)) {
        (request as TakenRequest)[RAW_BODY] = "pending";
        (request as http.IncomingMessage & { upgrade: boolean }).upgrade = true;
      }
      return (onIncoming as (request: http.IncomingMessage, keepAlive: boolean) => unknown).call(this, request, keepAlive);
    };
  });

  server.prependListener("upgrade", (request: http.IncomingMessage, duplex: Duplex, head: Buffer) => {
    if ((request as TakenRequest)[RAW_BODY] !== "pending") return;
    const socket = duplex as net.Socket;
    socket.on("error", () => socket.destroy());
    // Node resumes reading a socket it hands over; from here on only the relay reads it. Its parser
    // read the socket itself, not through the stream, so the stream holds nothing yet.
    const handle = readHandle(socket)!;
    handle.reading = false;
    handle.readStop();
    const body = new RawRequestBody(socketFd(socket)!, framingOf(request), head, idleMs);
    (request as TakenRequest)[RAW_BODY] = body;
    const entry = { socket, body };
    live.add(entry);
    socket.once("close", () => {
      live.delete(entry);
      body.cancel();
    });

    // Nothing reads the request stream itself: it ends empty, and the body is `rawBodyOf`'s.
    request.push(null);
    const response = new http.ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    // What Node does for a request it parses itself: a client waiting for the go-ahead gets it.
    if (wantsContinue(request)) response.writeContinue();
    response.once("finish", () => {
      response.detachSocket(socket);
      // Closing with body bytes unread would reset the connection under a client still sending
      // them, before it has read the answer.
      void body.drain().finally(() => {
        socket.once("finish", () => socket.destroy());
        socket.end();
      });
    });
    response.once("close", () => {
      if (!response.writableFinished) socket.destroy();
    });
    server.emit("request", request, response);
  });

  app.addHook("preClose", async () => {
    for (const { socket, body } of live) {
      body.cancel();
      socket.destroy();
    }
  });
}

function isUploadToTakeOver(request: http.IncomingMessage): boolean {
  if (request.method !== "PUT" || !ARCHIVE_UPLOAD.test(request.url ?? "")) return false;
  // Any other expectation is Node's to refuse (417).
  if (request.headers.expect !== undefined && !wantsContinue(request)) return false;
  // A JSON body is read by fastify's JSON parser, which needs the stream.
  if ((request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) return false;
  return isChunked(request) || request.headers["content-length"] !== undefined;
}

function wantsContinue(request: http.IncomingMessage): boolean {
  return request.httpVersion === "1.1" && /(?:^|\W)100-continue(?:$|\W)/i.test(request.headers.expect ?? "");
}

function isChunked(request: http.IncomingMessage): boolean {
  return /(?:^|,)\s*chunked\s*$/i.test(request.headers["transfer-encoding"] ?? "");
}

function framingOf(request: http.IncomingMessage): BodyFraming {
  if (isChunked(request)) return { chunked: true };
  // Node's parser has already refused a missing or malformed length for a body it would read.
  return { chunked: false, length: Number(request.headers["content-length"]) };
}

interface ReadHandle {
  reading: boolean;
  readStop(): number;
}

function readHandle(socket: net.Socket): ReadHandle | undefined {
  const handle = (socket as net.Socket & { _handle?: Partial<ReadHandle> | null })._handle;
  return handle && typeof handle.readStop === "function" ? (handle as ReadHandle) : undefined;
}
