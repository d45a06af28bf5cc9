import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { Cluster } from "../cluster/cluster.js";
import { EventHub } from "../cluster/events.js";
import { nativeBackend } from "../cluster/native-backend.js";
import { silentLogger } from "../logging/logger.js";
import { Scheduler } from "../scheduler/scheduler.js";
import type { ApiContext } from "./context.js";
import { DecisionLog } from "../scheduler/decisions.js";
import { createApiServer, joinNodeQualifiedContainer, jsonProblem, type ApiServerOptions } from "./server.js";

function build(overrides: Partial<ApiContext> = {}, options: ApiServerOptions = {}) {
  const events = new EventHub();
  const cluster = new Cluster({
    engine: { failureRetry: 3, refreshMin: 30_000, refreshMax: 60_000, overcommit: 0.05, tls: undefined },
    createRetry: 0,
    logger: silentLogger,
    events,
    scheduler: new Scheduler([], { name: "spread", strategy: { tieBreak: "fewer-containers", score: () => ({ fits: true, score: 0 }) } }),
  });
  return createApiServer({
    cluster,
    backend: nativeBackend(cluster),
    backendName: "swarm",
    events,
    logger: silentLogger,
    strategyName: "spread",
    filterNames: ["health"],
    experimental: false,
    cors: false,
    refreshOnNodeFilter: false,
    containerNameRefreshFilter: "",
    roleLines: () => [["Role", "primary"]],
    decisions: new DecisionLog(),
    ...overrides,
  }, options);
}

const app = build();
afterAll(() => app.close());

describe("API basics (no engines)", () => {
  it("answers /_ping on GET and HEAD, versioned or not, with negotiation headers", async () => {
    for (const url of ["/_ping", "/v1.41/_ping", "/v1.24/_ping"]) {
      const get = await app.inject({ url });
      expect(get.statusCode).toBe(200);
      expect(get.body).toBe("OK");
      expect(get.headers["api-version"]).toBe("1.41");
      expect(get.headers["ostype"]).toBe("linux");
      const head = await app.inject({ url, method: "HEAD" });
      expect(head.statusCode).toBe(200);
    }
  });

  it("reports version and the swarm layout of /info", async () => {
    const version = (await app.inject({ url: "/version" })).json();
    expect(version).toMatchObject({ ApiVersion: "1.41", MinAPIVersion: "1.12" });
    const info = (await app.inject({ url: "/v1.41/info" })).json();
    expect(info.SystemStatus).toEqual([
      ["Role", "primary"],
      ["Strategy", "spread"],
      ["Filters", "health"],
      ["Backend", "swarm"],
      ["Nodes", "0"],
    ]);
  });

  it.each([
    ["/v1.99/info", 400, "client version 1.99 is too new. Maximum supported API version is 1.41"],
    ["/v1.5/info", 400, "client version 1.5 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version"],
    ["/v1.41/containers/nope/json", 404, "No such container: nope"],
    ["/v1.41/nowhere", 404, "page not found"],
    ['/v1.41/containers/json?filters={"label":', 400, `invalid filter '{"label":': filters must be JSON such as {"label":["a=b"]}`],
  ])("GET %s → %d %s", async (url, status, message) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(status);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.json()).toEqual({ message });
  });

  it.each([
    [{ "content-type": "text/plain" }, "hello", "Content-Type specified (text/plain) must be 'application/json'"],
    [{}, "hello", "Content-Type specified () must be 'application/json'"],
    [{ "content-type": "application/json" }, '{"Image":"busybox","Env":5}', "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type []string"],
    [{ "content-type": "application/json" }, '{"Labels":{"a":1}}', "json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Labels of type map[string]string"],
    [{ "content-type": "application/json" }, '{"HostConfig":[1]}', "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig"],
    [{ "content-type": "application/json" }, '{"HostConfig":{"Memory":"1g"}}', "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig.Memory of type int64"],
    [{ "content-type": "application/json" }, '{"Image":7}', "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string"],
  ])("refuses a create body dockerd would not decode (%j %s) with its 400", async (headers, payload, message) => {
    const response = await app.inject({ method: "POST", url: "/v1.41/containers/create", headers, payload });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message });
  });

  it("answers what the router refuses in Docker's shape, and takes long path parameters", async () => {
    const bad = await app.inject({ url: "/v1.41/containers/%E0%A4%A/json" });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers["content-type"]).toBe("application/json");
    expect(bad.json()).toEqual({ message: "invalid URL: '/containers/%E0%A4%A/json' is not a valid url component" });
    const long = `${"n".repeat(120)}/web`;
    const named = await app.inject({ url: `/v1.41/containers/${encodeURIComponent(long)}/json` });
    expect(named.json()).toEqual({ message: `No such container: ${long}` });
    const tooLong = await app.inject({ url: `/v1.41/containers/${"x".repeat(5000)}/json` });
    expect(tooLong.statusCode).toBe(414);
    expect(Object.keys(tooLong.json())).toEqual(["message"]);
  });

  it("answers a malformed or missing create body with 400", async () => {
    const bad = await app.inject({ method: "POST", url: "/v1.41/containers/create", headers: { "content-type": "application/json" }, payload: "{oops" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe("invalid JSON: invalid character 'o' at offset 2");
    const empty = await app.inject({ method: "POST", url: "/v1.41/containers/create", headers: { "content-type": "application/json" }, payload: "" });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toEqual({ message: "config cannot be empty in order to create a container" });
  });

  it("refuses to schedule on an empty cluster with the classic message", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/v1.41/containers/create",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ Image: "busybox" }),
    });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ message: "No nodes available in the cluster" });
  });

  it("adds CORS headers and answers OPTIONS when enabled", async () => {
    const cors = build({ cors: true });
    const response = await cors.inject({ method: "OPTIONS", url: "/v1.41/containers/json" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe("*");
    expect(response.headers["access-control-allow-methods"]).toBe("GET, POST, DELETE, PUT, OPTIONS, HEAD");
    await cors.close();
  });
});

describe("requests the HTTP layer refuses, on a real socket", () => {
  const wire = build();
  let port = 0;
  afterAll(() => wire.close());

  /** Sends raw bytes (half-closing after them if asked) and returns the status and body of the answer. */
  async function exchange(data: string, halfClose: boolean): Promise<{ status: number; body: string }> {
    if (port === 0) {
      await wire.listen({ port: 0, host: "127.0.0.1" });
      port = (wire.server.address() as AddressInfo).port;
    }
    const socket = net.connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => socket.once("connect", resolve));
    if (halfClose) socket.end(data);
    else socket.write(data);
    await new Promise((resolve) => socket.once("close", resolve));
    const text = Buffer.concat(chunks).toString("utf8");
    const [head = "", body = ""] = text.split("\r\n\r\n");
    return { status: Number(head.split(" ")[1]), body };
  }

  const create = (length: number, body: string) =>
    `POST /v1.41/containers/create HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`;

  it.each([
    [
      "a body cut short of its Content-Length",
      create(100, '{"Image":"busybox"'),
      true,
      400,
      "request ended before its body was complete (fewer bytes than its Content-Length, or a chunked body without its last chunk)",
    ],
    [
      "a chunked body without its last chunk",
      'POST /v1.41/containers/create HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"Ima',
      true,
      400,
      "request ended before its body was complete (fewer bytes than its Content-Length, or a chunked body without its last chunk)",
    ],
    ["a body over the JSON limit", create(70_000_000, '{"Image":"busybox"}'), false, 400, "request body too large: JSON documents are limited to 64 MiB"],
    ["a request line that is not HTTP", "HELLO THERE\r\n\r\n", true, 400, "malformed HTTP request: Invalid method encountered"],
    ["an invalid chunk size", "POST /v1.41/build HTTP/1.1\r\nHost: swarm\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, 400, "invalid chunk size in a chunked request body"],
  ])("answers %s with a Docker-style %d", async (_what, data, halfClose, status, message) => {
    const answer = await exchange(data, halfClose);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toEqual({ message });
  });
});

describe("request bodies that never finish, on a real socket", () => {
  const app = build({}, { bodyTimeouts: { idleMs: 300, jsonMs: 600, uploadIdleMs: 300 } });
  afterAll(() => app.close());

  async function send(head: string, chunks: string[], everyMs: number): Promise<{ status: number; body: string; ms: number }> {
    if (!app.server.listening) await app.listen({ port: 0, host: "127.0.0.1" });
    const socket = net.connect({ port: (app.server.address() as AddressInfo).port, host: "127.0.0.1" });
    socket.on("error", () => undefined);
    const answer: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => answer.push(chunk));
    await new Promise((resolve) => socket.once("connect", resolve));
    const started = Date.now();
    socket.write(head);
    const trickle = setInterval(() => {
      const next = chunks.shift();
      if (next !== undefined && socket.writable) socket.write(next);
    }, everyMs);
    await new Promise((resolve) => socket.once("close", resolve));
    clearInterval(trickle);
    const [top = "", body = ""] = Buffer.concat(answer).toString("utf8").split("\r\n\r\n");
    return { status: Number(top.split(" ")[1]), body, ms: Date.now() - started };
  }

  it("answers 408 and closes when nothing of the body arrives for the idle limit", async () => {
    const answer = await send("POST /v1.41/containers/create HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", [], 1_000);
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toEqual({ message: "request body timed out: nothing arrived for 0.3 s" });
  });

  it("answers 408 to a JSON document that trickles in past its limit", async () => {
    const answer = await send(
      "POST /v1.41/containers/create HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
      Array.from({ length: 50 }, () => " "),
      100,
    );
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toEqual({ message: "request body timed out: not complete after 0.6 s" });
  });

  const attach = "POST /v1.41/containers/web/attach?stream=1 HTTP/1.1\r\nHost: swarm\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";

  it("answers 408 to a hijacked request whose body is not whole in time", async () => {
    const answer = await send(attach, [], 1_000);
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toEqual({ message: "request body timed out: not complete after 0.6 s" });
  });

  it("closes its side of a hijacked request whose client left before its body was whole", async () => {
    if (!app.server.listening) await app.listen({ port: 0, host: "127.0.0.1" });
    const socket = net.connect({ port: (app.server.address() as AddressInfo).port, host: "127.0.0.1" });
    socket.on("error", () => undefined);
    socket.resume();
    await new Promise((resolve) => socket.once("connect", resolve));
    // Half-closed: it sent what it will send, and waits for the manager to close (it stayed in CLOSE-WAIT).
    socket.end(attach);
    const closed = await Promise.race([
      new Promise((resolve) => socket.once("close", () => resolve(true))),
      new Promise((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    socket.destroy();
    expect(closed).toBe(true);
  });

  it("leaves a request without a body alone, however long its answer takes", async () => {
    await app.listen({ port: 0, host: "127.0.0.1" }).catch(() => undefined);
    // An event stream with nothing to say for longer than the idle limit, then its end.
    const response = await request(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1.41/events?until=${(Date.now() + 900) / 1000}`);
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).resolves.toBe("");
  });
});

describe("/events subscribers, on a real socket", () => {
  const events = new EventHub();
  const app = build({ events });
  afterAll(() => app.close());

  const stamp = { Name: "node-1", Id: "N|127.0.0.1:1", Addr: "127.0.0.1:1", Ip: "127.0.0.1" };
  /** A container event with about 4 KiB of labels, as a busy engine sends them. */
  const publish = (count: number) => {
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`label.${i}`, "x".repeat(48)]));
    for (let i = 0; i < count; i++) {
      events.publish({ Type: "container", Action: "start", id: `c${i}`, Actor: { ID: `c${i}`, Attributes: labels }, time: 1 }, stamp);
    }
  };

  async function subscribe(): Promise<net.Socket> {
    if (!app.server.listening) await app.listen({ port: 0, host: "127.0.0.1" });
    const before = events.subscriberCount;
    const socket = net.connect({ port: (app.server.address() as AddressInfo).port, host: "127.0.0.1" });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /v1.41/events HTTP/1.1\r\nHost: swarm\r\n\r\n");
    await new Promise<void>((resolve) => {
      const check = () => (events.subscriberCount > before ? resolve() : setTimeout(check, 5));
      check();
    });
    return socket;
  }

  it("drops a subscriber that reads nothing once it is far behind, and keeps one that reads", async () => {
    const reader = await subscribe();
    let received = 0;
    reader.on("data", (chunk: Buffer) => (received += chunk.length));
    const idle = await subscribe();
    idle.pause();
    const closed = new Promise((resolve) => idle.once("close", resolve));
    expect(events.subscriberCount).toBe(2);
    for (let round = 0; round < 12 && events.subscriberCount > 1; round++) {
      publish(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(events.subscriberCount).toBe(1);
    idle.resume();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toBeGreaterThan(10 * 1024 * 1024);
    reader.destroy();
    await new Promise<void>((resolve) => {
      const check = () => (events.subscriberCount === 0 ? resolve() : setTimeout(check, 5));
      check();
    });
  });
});

describe("<node>/<name> container references in paths", () => {
  const isNode = (segment: string) => segment === "node-1";
  it.each([
    ["GET", "/containers/node-1/web/json", "/containers/node-1%2Fweb/json"],
    ["POST", "/containers/node-1/web/stop?t=1", "/containers/node-1%2Fweb/stop?t=1"],
    ["PUT", "/containers/node-1/web/archive?path=/tmp", "/containers/node-1%2Fweb/archive?path=/tmp"],
    ["DELETE", "/containers/node-1/web?force=1", "/containers/node-1%2Fweb?force=1"],
    // A container named like the node, with an action: left alone.
    ["GET", "/containers/node-1/json", "/containers/node-1/json"],
    ["POST", "/containers/node-1/logs", "/containers/node-1/logs"],
    // Not a node: left alone for the router to refuse or route.
    ["GET", "/containers/node-9/web/json", "/containers/node-9/web/json"],
    ["GET", "/containers/json", "/containers/json"],
    ["GET", "/networks/node-1/front", "/networks/node-1/front"],
  ])("%s %s → %s", (method, url, expected) => {
    expect(joinNodeQualifiedContainer(url, method, isNode)).toBe(expected);
  });
});

describe("invalid JSON bodies, in the decoder's words", () => {
  it.each([
    ["{oops", "invalid character 'o' at offset 2"],
    ["\u0000", "invalid character '\\x00' at offset 1"],
    ['{"a":', "unexpected end of JSON input"],
    ["[1,]", "invalid character ']' at offset 4"],
    ['{"a" 1}', "invalid character '1' at offset 6"],
  ])("%j: %s", (text, problem) => {
    let error: unknown;
    try {
      JSON.parse(text);
    } catch (err) {
      error = err;
    }
    expect(jsonProblem(text, error)).toBe(problem);
  });
});
