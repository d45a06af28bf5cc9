import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { getSystemErrorName } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { RawRequestBody, socketFd, spliceRelay, type BodyFraming } from "./raw-body.js";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A client connection as the relay meets it: accepted, never read by Node, its descriptor known. */
async function clientConnection(): Promise<{ client: net.Socket; accepted: net.Socket; fd: number }> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  client.on("error", () => undefined);
  const socket = await accepted;
  socket.on("error", () => undefined);
  closers.push(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return { client, accepted: socket, fd: socketFd(socket)! };
}

/** The engine's end: everything that arrives until the manager's side ends its connection. */
async function engineConnection(): Promise<{ socket: net.Socket; received: Promise<Buffer>; peer: Promise<net.Socket> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const peer = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const received = peer.then(
    (engine) =>
      new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        engine.on("error", () => undefined);
        engine.on("data", (chunk: Buffer) => chunks.push(chunk));
        engine.once("close", () => resolve(Buffer.concat(chunks)));
      }),
  );
  const socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  closers.push(() => {
    socket.destroy();
    server.close();
  });
  return { socket, received, peer };
}

/** Writes `data` in pieces of random size with a pause between some, so frames arrive split. */
async function dribble(socket: net.Socket, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const size = 1 + Math.floor(Math.random() * (Math.random() < 0.3 ? 7 : 40_000));
    socket.write(data.subarray(at, at + size));
    at += size;
    if (Math.random() < 0.2) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function chunked(parts: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "latin1") : part)));
}

/** Whatever is left unread on the accepted socket, once the client has closed. */
function leftover(accepted: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    accepted.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    accepted.once("end", () => resolve(text));
    accepted.resume();
  });
}

describe("the kernel upload relay", () => {
  it("is built and loads", () => {
    expect(spliceRelay()).not.toBeNull();
  });

  it("forwards a chunked body verbatim but for its last chunk, whether its bytes were read with the head or arrive split", async () => {
    const a = randomBytes(0x8000);
    const b = randomBytes(17);
    const c = randomBytes(300_000);
    const body = chunked(["8000\r\n", a, "\r\n", "11;name=value\r\n", b, "\r\n", "1\r\nx\r\n", "493E0\r\n", c, "\r\n"]);
    const wire = chunked([body, "0\r\nX-Trailer: 1\r\n\r\n", "NEXT"]);
    for (const headLength of [0, 3, 8, 0x8000 + 7, 0x8000 + 12, body.length + 2]) {
      const { client, accepted, fd } = await clientConnection();
      const engine = await engineConnection();
      const raw = new RawRequestBody(fd, { chunked: true }, wire.subarray(0, headLength));
      const done = raw.relayTo(engine.socket);
      await dribble(client, wire.subarray(headLength));
      const result = await done;
      expect(result).toEqual({ outcome: "done", errno: 0, forwarded: body.length });
      engine.socket.end();
      expect((await engine.received).equals(body)).toBe(true);
      client.end();
      // Nothing past the body was read: the next request on the connection is intact.
      expect(await leftover(accepted)).toBe(headLength > body.length + 2 ? "" : "NEXT");
    }
  });

  it("forwards exactly Content-Length bytes and nothing after them", async () => {
    const data = randomBytes(1_000_003);
    const { client, accepted, fd } = await clientConnection();
    const engine = await engineConnection();
    const raw = new RawRequestBody(fd, { chunked: false, length: data.length }, data.subarray(0, 1000));
    const done = raw.relayTo(engine.socket);
    await dribble(client, Buffer.concat([data.subarray(1000), Buffer.from("NEXT")]));
    expect(await done).toEqual({ outcome: "done", errno: 0, forwarded: data.length });
    engine.socket.end();
    expect((await engine.received).equals(data)).toBe(true);
    client.end();
    expect(await leftover(accepted)).toBe("NEXT");
  });

  it.each<[string, BodyFraming, string, string]>([
    ["a chunked body cut short", { chunked: true }, "5\r\nhel", "truncated"],
    ["a chunked body without its last chunk", { chunked: true }, "5\r\nhello\r\n", "truncated"],
    ["a Content-Length body cut short", { chunked: false, length: 100 }, "only this", "truncated"],
    ["a chunk size that is not hex", { chunked: true }, "zz\r\nhello\r\n", "bad-chunk"],
    ["chunk data not followed by CRLF", { chunked: true }, "2\r\nhello\r\n0\r\n\r\n", "bad-chunk"],
  ])("reports %s", async (_what, framing, sent, outcome) => {
    const { client, fd } = await clientConnection();
    const engine = await engineConnection();
    const done = new RawRequestBody(fd, framing, Buffer.alloc(0)).relayTo(engine.socket);
    client.end(sent);
    expect((await done).outcome).toBe(outcome);
  });

  it("reads a body nobody wants to its end and drops it", async () => {
    const { client, accepted, fd } = await clientConnection();
    const done = new RawRequestBody(fd, { chunked: true }, Buffer.from("4\r\nab")).drain();
    await dribble(client, chunked(["cd\r\n", "A00\r\n", randomBytes(0xa00), "\r\n0\r\n\r\nNEXT"]));
    expect(await done).toEqual({ outcome: "done", errno: 0, forwarded: 0 });
    client.end();
    expect(await leftover(accepted)).toBe("NEXT");
  });

  it("stops a relay waiting for a silent client when cancelled", async () => {
    const { client, fd } = await clientConnection();
    const engine = await engineConnection();
    const raw = new RawRequestBody(fd, { chunked: true }, Buffer.alloc(0));
    const done = raw.relayTo(engine.socket);
    client.write("10\r\nfirst");
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.cancel();
    expect((await done).outcome).toBe("cancelled");
  });

  it("reads the rest of the body and drops it once the engine went away, so the client can finish sending", async () => {
    const total = 16 * 1024 * 1024;
    const { client, accepted, fd } = await clientConnection();
    const engine = await engineConnection();
    const done = new RawRequestBody(fd, { chunked: false, length: total }, Buffer.alloc(0)).relayTo(engine.socket);
    (await engine.peer).destroy();
    let clientFailed = false;
    client.on("error", () => (clientFailed = true));
    const chunk = randomBytes(1024 * 1024);
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!client.write(chunk)) await new Promise((resolve) => client.once("drain", resolve));
    }
    client.write("NEXT");
    const { outcome, errno, forwarded } = await done;
    expect(outcome).toBe("engine-error");
    expect(["EPIPE", "ECONNRESET"]).toContain(getSystemErrorName(-errno));
    expect(forwarded).toBeLessThan(total);
    client.end();
    expect(await leftover(accepted)).toBe("NEXT");
    expect(clientFailed).toBe(false);
  });

  it("drops the rest of the body once the engine's socket is closed on this side", async () => {
    const { client, accepted, fd } = await clientConnection();
    const engine = await engineConnection();
    const done = new RawRequestBody(fd, { chunked: true }, Buffer.alloc(0)).relayTo(engine.socket);
    client.write("5\r\nfirst\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    engine.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.write("6\r\nsecond\r\n0\r\n\r\nNEXT");
    // The CRLF after a chunk's data travels with the next chunk's size line, which came too late.
    expect(await done).toMatchObject({ outcome: "done", forwarded: 8 });
    expect((await engine.received).toString()).toBe("5\r\nfirst");
    client.end();
    expect(await leftover(accepted)).toBe("NEXT");
  });

  it("reads a body once", async () => {
    const { fd } = await clientConnection();
    const raw = new RawRequestBody(fd, { chunked: true }, Buffer.alloc(0));
    const drained = raw.drain();
    expect(raw.drain()).toBe(drained);
    const engine = await engineConnection();
    await expect(raw.relayTo(engine.socket)).rejects.toThrow("an upload body can be read only once");
    raw.cancel();
  });
});

