import { readdir, readFile, readlink } from "node:fs/promises";
import * as net from "node:net";
import fc from "fast-check";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * Random input against a real manager in front of a real engine (fast-check): every request gets
 * an answer, success or Docker's `{"message"}` error, never a hang and never JavaScript's own
 * error text; every malformed, truncated, slow or half-closed exchange gets a Docker-shaped answer;
 * and afterwards the manager holds no more descriptors than before.
 */
const FUZZ_REQUESTS = 400;
const FUZZ_EXCHANGES = 150;

/** Texts only JavaScript itself writes: a client must never see one. */
const INTERNAL = /is not a function|Cannot read propert|of undefined|of null|is not iterable|Converting circular|Unexpected token|Symbol\(|\[object Object\]|at .*\.js:\d+/;

const ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ["GET", "/_ping"],
  ["HEAD", "/_ping"],
  ["GET", "/version"],
  ["GET", "/info"],
  ["GET", "/containers/json"],
  ["POST", "/containers/create"],
  ["GET", "/containers/{x}/json"],
  ["GET", "/containers/{x}/top"],
  ["GET", "/containers/{x}/changes"],
  ["GET", "/containers/{x}/logs?stdout=1&stderr=1"],
  ["GET", "/containers/{x}/stats?stream=0"],
  ["POST", "/containers/{x}/start"],
  ["POST", "/containers/{x}/stop?t=0"],
  ["POST", "/containers/{x}/kill"],
  ["POST", "/containers/{x}/pause"],
  ["POST", "/containers/{x}/unpause"],
  ["POST", "/containers/{x}/update"],
  ["POST", "/containers/{x}/rename?name={y}"],
  ["POST", "/containers/{x}/exec"],
  ["POST", "/containers/{x}/resize?h=10&w=10"],
  ["DELETE", "/containers/{x}?force=1"],
  ["HEAD", "/containers/{x}/archive?path=/"],
  ["GET", "/exec/{x}/json"],
  ["GET", "/images/json"],
  ["GET", "/images/{x}/json"],
  ["GET", "/images/{x}/history"],
  ["POST", "/images/{x}/tag?repo={y}"],
  ["DELETE", "/images/{x}"],
  ["GET", "/networks"],
  ["GET", "/networks/{x}"],
  ["POST", "/networks/create"],
  ["POST", "/networks/{x}/connect"],
  ["DELETE", "/networks/{x}"],
  ["GET", "/volumes"],
  ["GET", "/volumes/{x}"],
  ["POST", "/volumes/create"],
  ["DELETE", "/volumes/{x}"],
  ["GET", "/events?since=0&until=1"],
  ["GET", "/system/df"],
  ["GET", "/plugins"],
  ["POST", "/containers/prune"],
  ["GET", "/nowhere/{x}"],
];

const segment = fc.oneof(
  fc.constant("fuzzbox"),
  fc.constant("node-1/fuzzbox"),
  fc.constant("busybox"),
  fc.constant("none"),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: "grapheme", maxLength: 12 }).map(encodeURIComponent),
  fc.stringMatching(/^[%./a-zA-Z0-9*?\\[\]-]{0,30}$/),
  fc.integer({ min: 1, max: 6000 }).map((n) => "x".repeat(n)),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc
    .record(
      {
        Image: fc.oneof(fc.constant("busybox"), fc.anything({ maxDepth: 1 })),
        Cmd: fc.oneof(fc.constant(["true"]), fc.anything({ maxDepth: 1 })),
        Env: fc.anything({ maxDepth: 2 }),
        Labels: fc.anything({ maxDepth: 2 }),
        HostConfig: fc.oneof(fc.constant({ NetworkMode: "none" }), fc.anything({ maxDepth: 2 })),
        Name: fc.anything({ maxDepth: 1 }),
        Container: fc.anything({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
);

const filters = fc.oneof(
  fc.constant(""),
  fc.jsonValue({ maxDepth: 2 }).map((value) => `filters=${encodeURIComponent(JSON.stringify(value))}`),
  fc
    .dictionary(fc.constantFrom("label", "name", "id", "reference", "status", "dangling", "node", "before", "exited"), fc.array(fc.string({ maxLength: 24 }), { maxLength: 3 }))
    .map((value) => `filters=${encodeURIComponent(JSON.stringify(value))}`),
  fc.string({ maxLength: 40 }).map((value) => `filters=${encodeURIComponent(value)}`),
  fc.webQueryParameters(),
);

const randomRequest = fc.record({
  route: fc.constantFrom(...ROUTES),
  method: fc.option(fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD"), { freq: 4 }),
  version: fc.constantFrom("", "", "/v1.41", "/v1.24", "/v1.99", "/v1.5", "/vx"),
  x: segment,
  y: segment,
  query: filters,
  contentType: fc.constantFrom(undefined, "application/json", "application/json; charset=utf-8", "text/plain", "application/x-tar", ""),
  auth: fc.option(fc.string({ maxLength: 40 })),
  body,
});

type Exchange = { kind: string; bytes: Buffer[]; pauseMs: number; halfClose: boolean };

const head = (method: string, path: string, headers: string[]) => `${method} ${path} HTTP/1.1\r\nHost: swarm\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;

const exchange: fc.Arbitrary<Exchange> = fc.oneof(
  // A body announced longer than what comes, then the client's end.
  fc.record({ path: fc.constantFrom("/v1.41/containers/create", "/v1.41/networks/create", "/v1.41/build", "/v1.41/containers/fuzzbox/exec"), sent: fc.string({ maxLength: 50 }) }).map(({ path, sent }) => ({
    kind: "truncated",
    bytes: [Buffer.from(head("POST", path, ["Content-Type: application/json", `Content-Length: ${Buffer.byteLength(sent) + 100}`]) + sent)],
    pauseMs: 0,
    halfClose: true,
  })),
  // A whole body that comes slowly, in pieces.
  fc.record({ pieces: fc.integer({ min: 2, max: 5 }), pauseMs: fc.integer({ min: 20, max: 150 }) }).map(({ pieces, pauseMs }) => {
    const document = JSON.stringify({ Name: "fuzz-slow" });
    const size = Math.ceil(document.length / pieces);
    const chunks = Array.from({ length: pieces }, (_, i) => Buffer.from(document.slice(i * size, (i + 1) * size)));
    return {
      kind: "slow",
      bytes: [Buffer.from(head("POST", "/v1.41/volumes/create", ["Content-Type: application/json", `Content-Length: ${document.length}`])), ...chunks],
      pauseMs,
      halfClose: false,
    };
  }),
  // Headers that announce a body, then the client's end.
  fc.constantFrom("/v1.41/containers/create", "/v1.41/containers/fuzzbox/attach?stream=1", "/v1.41/images/load").map((path) => ({
    kind: "half-closed",
    bytes: [Buffer.from(head("POST", path, ["Content-Type: application/json", "Content-Length: 64"]))],
    pauseMs: 0,
    halfClose: true,
  })),
  // Upgrades the manager does not serve, or with bodies it cannot read.
  fc
    .record({ method: fc.constantFrom("GET", "POST", "PUT"), path: fc.constantFrom("/v1.41/info", "/v1.41/containers/fuzzbox/attach", "/v1.41/exec/nope/start", "/v1.99/containers/fuzzbox/attach", "/x"), proto: fc.constantFrom("tcp", "websocket", "h2c", ""), chunked: fc.boolean() })
    .map(({ method, path, proto, chunked }) => ({
      kind: "upgrade",
      bytes: [Buffer.from(head(method, path, ["Connection: Upgrade", `Upgrade: ${proto}`, chunked ? "Transfer-Encoding: chunked" : "Content-Length: 2"]) + (chunked ? "2\r\n{}\r\n0\r\n\r\n" : "{}"))],
      pauseMs: 0,
      halfClose: false,
    })),
  // Not HTTP at all, or HTTP the parser refuses.
  fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => Buffer.concat([Buffer.from(bytes), Buffer.from("\r\n\r\n")])),
    fc.constant(Buffer.from(head("GET", "/v1.41/info", [`X-Big: ${"a".repeat(20_000)}`]))),
    fc.constant(Buffer.from(`${head("POST", "/v1.41/build", ["Transfer-Encoding: chunked"])}zz\r\n`)),
    fc.constant(Buffer.from(head("POST", "/v1.41/containers/create", ["Content-Length: 5", "Content-Length: 7"]))),
  ).map((bytes) => ({ kind: "garbage", bytes: [bytes], pauseMs: 0, halfClose: true })),
);

async function descriptors(pid: number): Promise<{ sockets: number; pipes: number; other: number }> {
  const counts = { sockets: 0, pipes: 0, other: 0 };
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (target.startsWith("socket:")) counts.sockets++;
    else if (target.startsWith("pipe:")) counts.pipes++;
    else counts.other++;
  }
  return counts;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

describe("the API under random input", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let before: { sockets: number; pipes: number; other: number };
  let rssBefore = 0;
  const agent = new Agent({ connections: 8, headersTimeout: 20_000, bodyTimeout: 20_000 });

  beforeAll(async () => {
    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}` });
    await waitForHealthyNodes(manager, 1);
    await docker(manager.dockerHost, ["run", "-d", "--network", "none", "--name", "fuzzbox", "busybox", "sleep", "3600"]);
    // A first round of calls, so the baseline counts the manager's usual connections to its engine.
    for (let i = 0; i < 20; i++) await (await request(`${manager.url}/v1.41/containers/fuzzbox/json`, { dispatcher: agent })).body.text();
    before = await descriptors(manager.process.pid);
    rssBefore = await rssMiB(manager.process.pid);
  });

  afterAll(async () => {
    await agent.close().catch(() => undefined);
    await manager?.stop();
    await cluster?.stopAll();
  });

  it(`answers ${FUZZ_REQUESTS} random requests with success or a Docker {"message"}, never a hang or JavaScript's own words`, async () => {
    await fc.assert(
      fc.asyncProperty(randomRequest, async (r) => {
        const method = r.method ?? r.route[0];
        let path = `${r.version}${r.route[1].replace("{x}", r.x).replace("{y}", r.y)}`;
        if (r.query !== "") path += `${path.includes("?") ? "&" : "?"}${r.query}`;
        const headers: Record<string, string> = {};
        if (r.contentType !== undefined) headers["content-type"] = r.contentType;
        if (r.auth !== null) headers["x-registry-auth"] = r.auth;
        const hasBody = r.body !== undefined && method !== "GET" && method !== "HEAD";
        const response = await request(`${manager.url}${path}`, {
          method: method as "GET",
          headers,
          body: hasBody ? r.body : undefined,
          dispatcher: agent,
          signal: AbortSignal.timeout(25_000),
        });
        const text = await response.body.text();
        expect(response.statusCode).toBeGreaterThanOrEqual(100);
        expect(response.statusCode).toBeLessThan(600);
        if (response.statusCode >= 400 && method !== "HEAD") {
          expect(String(response.headers["content-type"])).toMatch(/^application\/json/);
          const parsed = JSON.parse(text) as Record<string, unknown>;
          expect(Object.keys(parsed)).toEqual(["message"]);
          expect(typeof parsed.message).toBe("string");
          expect(parsed.message).not.toMatch(INTERNAL);
        }
      }),
      { numRuns: FUZZ_REQUESTS, interruptAfterTimeLimit: 240_000 },
    );
  }, 300_000);

  it(`answers ${FUZZ_EXCHANGES} malformed, truncated, slow, half-closed and upgrade exchanges in Docker's shape`, async () => {
    const port = Number(manager.host.split(":")[1]);
    await fc.assert(
      fc.asyncProperty(exchange, async (x) => {
        const socket = net.connect({ port, host: "127.0.0.1" });
        socket.on("error", () => undefined);
        const received: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => received.push(chunk));
        const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        await new Promise((resolve) => socket.once("connect", resolve));
        for (const [index, bytes] of x.bytes.entries()) {
          if (index > 0 && x.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, x.pauseMs));
          if (!socket.writable) break;
          socket.write(bytes);
        }
        if (x.halfClose) socket.end();
        // An answer's head is what every exchange waits for (an upgrade's 101 included), or the end
        // of the connection, after which the answer is all there is.
        const deadline = new Promise<"hang">((resolve) => setTimeout(() => resolve("hang"), 20_000));
        const answered = new Promise<void>((resolve) => {
          const check = () => (Buffer.concat(received).includes("\r\n\r\n") ? resolve() : undefined);
          socket.on("data", check);
          check();
        });
        const outcome = await Promise.race([answered, closed, deadline]);
        // An error's body follows its head at once.
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 50))]);
        socket.destroy();
        expect(outcome, `${x.kind} exchange got no answer`).not.toBe("hang");
        const text = Buffer.concat(received).toString("latin1");
        expect(text, `${x.kind} exchange got no answer`).toMatch(/^HTTP\/1\.1 \d{3} /);
        const status = Number(text.split(" ")[1]);
        if (status >= 400) {
          const answerBody = text.slice(text.indexOf("\r\n\r\n") + 4);
          const parsed = JSON.parse(answerBody) as Record<string, unknown>;
          expect(Object.keys(parsed)).toEqual(["message"]);
          expect(parsed.message).not.toMatch(INTERNAL);
        }
      }),
      { numRuns: FUZZ_EXCHANGES, interruptAfterTimeLimit: 240_000 },
    );
  }, 300_000);

  it("holds no more sockets, pipes or other descriptors afterwards than before, and little more memory", async () => {
    await agent.close().catch(() => undefined);
    const pid = manager.process.pid;
    // Idle connections to the engine close after their keep-alive; give them that long.
    const after = await waitFor({
      what: "the manager's descriptors did not come back to where they were",
      timeoutMs: 45_000,
      probe: async () => {
        const now = await descriptors(pid);
        return now.sockets <= before.sockets && now.pipes <= before.pipes && now.other <= before.other ? now : undefined;
      },
    });
    expect(after.pipes).toBeLessThanOrEqual(before.pipes);
    expect((await rssMiB(pid)) - rssBefore).toBeLessThan(96);
  }, 60_000);
});
