import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { silentLogger } from "../testing/builders.js";
import { destinationOf, relayToPrimary, servedByEveryManager, type ReplicaRouting } from "./replica.js";

const servers: http.Server[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A replica of `primary` that relays every request it does not serve itself. */
async function replicaOf(primary: string | (() => Promise<string>)): Promise<string> {
  const routing: ReplicaRouting = {
    isPrimary: () => false,
    primary: typeof primary === "string" ? async () => primary : primary,
    advertise: "127.0.0.1:4000",
    tls: undefined,
  };
  return listen((req, res) => {
    void destinationOf(routing, req.url ?? "/", res).then((where) => {
      if (where === "here") res.end("served by the replica");
      else if ("error" in where) res.writeHead(where.error.status).end(where.error.message);
      else relayToPrimary(routing, where.primary, req, res, req.url ?? "/", silentLogger);
    });
  });
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe("replica routing", () => {
  it.each([
    ["/_ping", true],
    ["/v1.41/_ping", true],
    ["/v1.41/info?x=1", true],
    ["/debug", true],
    ["/debug/pprof/heap", true],
    ["/v1.41/containers/json", false],
    ["/v1.41/containers/info/json", false],
  ])("%s is served by every manager: %s", (url, local) => {
    expect(servedByEveryManager(url)).toBe(local);
  });

  it("passes a request on as the client sent it, body and all, and the primary's answer back", async () => {
    const primary = await listen((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json", "api-version": "1.41" });
        res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, label: req.headers["x-label"], body }));
      });
    });
    const replica = await replicaOf(primary);
    const res = await request(`http://${replica}/v1.41/containers/create?name=web`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-label": "kept" },
      // A streamed body: chunked on the way in, framed again on the way out.
      body: Readable.from(['{"Image":', '"busybox"}']),
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers["api-version"]).toBe("1.41");
    expect(await res.body.json()).toEqual({
      method: "POST",
      url: "/v1.41/containers/create?name=web",
      host: replica,
      label: "kept",
      body: '{"Image":"busybox"}',
    });
  });

  it("streams the primary's answer as it comes", async () => {
    let finish: (() => void) | undefined;
    const primary = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"status":"first"}\n');
      finish = () => res.end('{"status":"last"}\n');
    });
    const replica = await replicaOf(primary);
    const res = await request(`http://${replica}/v1.41/events`);
    const chunks = res.body[Symbol.asyncIterator]();
    expect(String((await chunks.next()).value)).toBe('{"status":"first"}\n');
    finish?.();
    expect(String((await chunks.next()).value)).toBe('{"status":"last"}\n');
  });

  it("answers Docker's 500 naming the primary it cannot reach", async () => {
    const replica = await replicaOf("127.0.0.1:1");
    const res = await request(`http://${replica}/v1.41/containers/json`);
    expect(res.statusCode).toBe(500);
    const { message } = (await res.body.json()) as { message: string };
    expect(message).toMatch(/^Unable to reach primary cluster manager \(connect ECONNREFUSED 127\.0\.0\.1:1\): 127\.0\.0\.1:1$/);
  });

  it("serves _ping itself, without asking for a primary", async () => {
    const replica = await replicaOf(() => new Promise<string>(() => undefined));
    const res = await request(`http://${replica}/_ping`);
    expect(await res.body.text()).toBe("served by the replica");
  });
});
