import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough, Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { sendUpload, type UploadTarget } from "./upload.js";

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * A stand-in for an engine's HTTP side: it records what arrived and answers with `answer`. The
 * transport is what is under test here; the real engines are in the system tests.
 */
async function engineStub(answer: (req: http.IncomingMessage, res: http.ServerResponse, received: Promise<Received>) => void) {
  const server = http.createServer((req, res) => {
    const hash = createHash("sha256");
    let bytes = 0;
    const received = new Promise<Received>((resolve, reject) => {
      req.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.once("end", () => resolve({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, sha256: hash.digest("hex"), bytes }));
      req.once("error", reject);
    });
    received.catch(() => undefined);
    answer(req, res, received);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { addr, target: { addr, tls: undefined, connectTimeoutMs: 5_000 } satisfies UploadTarget };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A body that arrives in many small chunks over several turns of the event loop, as a client's does. */
function trickle(data: Buffer, chunkSize: number): Readable {
  const body = new PassThrough();
  let at = 0;
  const next = () => {
    for (let n = 0; n < 4 && at < data.length; n++, at += chunkSize) body.write(data.subarray(at, at + chunkSize));
    if (at < data.length) setImmediate(next);
    else body.end();
  };
  setImmediate(next);
  return body;
}

describe("sendUpload", () => {
  it("sends a body of unknown length chunked and intact, with the path, method and headers given", async () => {
    let got: Promise<Received> | undefined;
    const { addr, target } = await engineStub((_req, res, received) => {
      got = received;
      received.then(() => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'), () => undefined);
    });
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const answer = await sendUpload(target, {
      method: "PUT",
      path: "/v1.41/containers/abc/archive?path=%2Ftmp",
      headers: { "content-type": "application/x-tar", "x-extra": "1" },
      body: trickle(data, 32 * 1024),
    });
    expect(answer.statusCode).toBe(200);
    expect(await text(answer.body)).toBe('{"ok":true}');
    const received = await got!;
    expect(received).toMatchObject({ method: "PUT", url: "/v1.41/containers/abc/archive?path=%2Ftmp", bytes: data.length, sha256: sha256(data) });
    expect(received.headers).toMatchObject({ host: addr, "transfer-encoding": "chunked", "content-type": "application/x-tar", "x-extra": "1" });
  });

  it("keeps a known Content-Length instead of re-chunking", async () => {
    let got: Promise<Received> | undefined;
    const { target } = await engineStub((_req, res, received) => {
      got = received;
      received.then(() => res.writeHead(204).end(), () => undefined);
    });
    const data = randomBytes(200_000);
    const answer = await sendUpload(target, {
      method: "POST",
      path: "/images/load",
      headers: { "content-length": String(data.length) },
      body: trickle(data, 10_000),
    });
    expect(answer.statusCode).toBe(204);
    const received = await got!;
    expect(received.headers["content-length"]).toBe(String(data.length));
    expect(received.headers["transfer-encoding"]).toBeUndefined();
    expect(received.sha256).toBe(sha256(data));
  });

  it("passes on an answer the engine gives before the body is sent, and drains the rest of the body", async () => {
    const { target } = await engineStub((_req, res) => {
      res.writeHead(404, { "content-type": "application/json", connection: "close" }).end('{"message":"Could not find the file /nope in container abc"}');
    });
    const body = new PassThrough();
    const chunk = randomBytes(64 * 1024);
    let sent = 0;
    const pump = setInterval(() => {
      if (sent >= 64) {
        clearInterval(pump);
        body.end();
        return;
      }
      body.write(chunk);
      sent++;
    }, 1);
    const answer = await sendUpload(target, { method: "PUT", path: "/containers/abc/archive?path=/nope", headers: {}, body });
    expect(answer.statusCode).toBe(404);
    expect(JSON.parse(await text(answer.body))).toEqual({ message: "Could not find the file /nope in container abc" });
    await new Promise<void>((resolve) => body.once("end", resolve));
    expect(body.readableEnded).toBe(true);
  });

  it("rejects with the connection error when nothing listens, so the engine's health can count it", async () => {
    const { target } = await engineStub(() => undefined);
    const closed = servers.pop()!;
    await new Promise((resolve) => closed.close(resolve));
    const failure = sendUpload(target, { method: "PUT", path: "/x", headers: {}, body: Readable.from([Buffer.from("data")]) });
    await expect(failure).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("destroys the engine request when the signal aborts mid-upload", async () => {
    let engineSawAbort: Promise<boolean> | undefined;
    const { target } = await engineStub((req) => {
      engineSawAbort = new Promise((resolve) => req.once("close", () => resolve(!req.complete)));
    });
    const body = new PassThrough();
    body.write(randomBytes(1024));
    const abort = new AbortController();
    const upload = sendUpload(target, { method: "PUT", path: "/x", headers: {}, body, signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    abort.abort();
    await expect(upload).rejects.toMatchObject({ name: "AbortError" });
    expect(await engineSawAbort).toBe(true);
  });

  it("stops reading the client's body while the engine does not take it, and resumes when it does", async () => {
    let release: (() => void) | undefined;
    let got: Promise<Received> | undefined;
    const { target } = await engineStub((req, res, received) => {
      // The engine stalls: it reads nothing until released.
      req.pause();
      release = () => req.resume();
      got = received;
      received.then(() => res.writeHead(200).end(), () => undefined);
    });
    const body = new PassThrough({ highWaterMark: 64 * 1024 });
    const chunk = randomBytes(256 * 1024);
    // Far more than the kernel's socket buffers and the upload's own allowance hold together.
    const total = 256 * chunk.length;
    let written = 0;
    let blocked = false;
    const writeUntilBlocked = () => {
      while (written < total) {
        written += chunk.length;
        if (!body.write(chunk)) {
          blocked = true;
          body.once("drain", writeUntilBlocked);
          return;
        }
      }
      body.end();
    };
    writeUntilBlocked();
    const upload = sendUpload(target, { method: "PUT", path: "/x", headers: {}, body });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // With the engine stalled, the writer was held back long before the end.
    expect(blocked).toBe(true);
    expect(written).toBeLessThan(total / 2);
    release!();
    const answer = await upload;
    expect(answer.statusCode).toBe(200);
    expect((await got!).bytes).toBe(total);
  });
});
