import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Discovery, DiscoveryUpdate } from "@swarm/core";
import { createTokenService } from "@swarm/core/host";
import { makeDiscoveryContext } from "../../../test/helpers/discovery-plugin.js";
import plugin, { DEFAULT_TOKEN_DISCOVERY_URL, createCluster, fetchEntries, parseTokenUrl } from "../src/index.js";

const context = (path: string, ttl = 3_500, heartbeat = 50) => makeDiscoveryContext("token", path, { ttl, heartbeat });

describe("token:// URLs", () => {
  it.each([
    ["abc123", undefined, { baseUrl: DEFAULT_TOKEN_DISCOVERY_URL, token: "abc123" }],
    ["abc123", "http://127.0.0.1:8080/v1/", { baseUrl: "http://127.0.0.1:8080/v1", token: "abc123" }],
    ["abc123", "", { baseUrl: DEFAULT_TOKEN_DISCOVERY_URL, token: "abc123" }],
    ["disco.example:8080/v1/abc123", undefined, { baseUrl: "https://disco.example:8080/v1", token: "abc123" }],
    // The host form keeps https unless SWARM_TOKEN_DISCOVERY_URL opts that very address into http.
    ["127.0.0.1:8080/v1/abc123", "http://127.0.0.1:8080/v1", { baseUrl: "http://127.0.0.1:8080/v1", token: "abc123" }],
    ["127.0.0.1:8080/v1/abc123", "http://127.0.0.1:9999/v1", { baseUrl: "https://127.0.0.1:8080/v1", token: "abc123" }],
  ])("%s with SWARM_TOKEN_DISCOVERY_URL=%s", (path, env, expected) => {
    expect(parseTokenUrl(path, env)).toEqual(expected);
  });

  it("rejects an empty token", async () => {
    expect(() => parseTokenUrl("", undefined)).toThrow("token is empty");
    expect(() => parseTokenUrl("host:1/", undefined)).toThrow("token is empty");
    await expect(Promise.resolve().then(() => plugin.create(context("")))).rejects.toThrow("token is empty");
  });
});

/** A stand-in service that records requests and answers what each test asks for. */
function scriptedService() {
  const seen: Array<{ method: string; url: string; contentType: string | undefined; body: string }> = [];
  let answer: { status: number; body: string } = { status: 200, body: "[]" };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", contentType: req.headers["content-type"], body: Buffer.concat(chunks).toString() });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(answer.body);
    });
  });
  return {
    seen,
    answer(status: number, body: string) {
      answer = { status, body };
    },
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("talking to a token service", () => {
  const scripted = scriptedService();
  let scriptedUrl: string;
  const real = createTokenService();
  let realUrl: string;

  beforeAll(async () => {
    scriptedUrl = await scripted.listen();
    await real.listen({ host: "127.0.0.1", port: 0 });
    realUrl = `http://127.0.0.1:${(real.server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await scripted.close();
    await real.close();
  });

  it("registers with the raw address as body and the TTL in whole seconds", async () => {
    const discovery = await plugin.create(context(`${scriptedUrl.slice("http://".length)}/tok1`, 3_999));
    // The host form is https unless the env opts in; use the env form to stay on plain http.
    process.env.SWARM_TOKEN_DISCOVERY_URL = scriptedUrl;
    try {
      const viaEnv = await plugin.create(context("tok1", 3_999));
      scripted.answer(200, "OK");
      await viaEnv.register("10.0.0.1:2375", AbortSignal.timeout(5_000));
      expect(scripted.seen.at(-1)).toEqual({ method: "POST", url: "/v1/clusters/tok1?ttl=3", contentType: "application/json", body: "10.0.0.1:2375" });
      const viaHost = await plugin.create(context(`${scriptedUrl.slice("http://".length)}/tok2`));
      await viaHost.register("10.0.0.2:2375", AbortSignal.timeout(5_000));
      expect(scripted.seen.at(-1)?.url).toBe("/v1/clusters/tok2?ttl=3");
    } finally {
      delete process.env.SWARM_TOKEN_DISCOVERY_URL;
    }
    // Without the opt-in the host form speaks TLS to a plain-HTTP server, and fails.
    await expect(discovery.register("10.0.0.1:2375", AbortSignal.timeout(5_000))).rejects.toThrow(/Failed to register 10\.0\.0\.1:2375 at https:/);
  });

  it("reports non-200 lists and undecodable bodies with classic Swarm's messages", async () => {
    const endpoint = { baseUrl: scriptedUrl, token: "tok3" };
    scripted.answer(500, "oops");
    await expect(fetchEntries(endpoint)).rejects.toThrow("Failed to fetch entries, Discovery service returned 500 HTTP status code");
    scripted.answer(200, "not json");
    await expect(fetchEntries(endpoint)).rejects.toThrow(/^Failed to decode response: /);
    scripted.answer(200, '["1.1.1.1:1", "", "bad"]');
    expect(await fetchEntries(endpoint)).toEqual({ entries: ["1.1.1.1:1"], invalid: ["address bad: missing port in address"] });
    expect(scripted.seen.at(-1)).toMatchObject({ method: "GET", url: "/v1/clusters/tok3" });
  });

  it("creates clusters, then watches: the first list, then only changes, and errors as updates", async () => {
    const token = await createCluster(realUrl);
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    process.env.SWARM_TOKEN_DISCOVERY_URL = realUrl;
    let join: Discovery;
    let manager: Discovery;
    try {
      join = await plugin.create(context(token, 60_000));
      manager = await plugin.create(context(token, 60_000));
    } finally {
      delete process.env.SWARM_TOKEN_DISCOVERY_URL;
    }
    const abort = new AbortController();
    const updates: DiscoveryUpdate[] = [];
    const watching = (async () => {
      for await (const update of manager.watch(abort.signal)) {
        updates.push(update);
        if (updates.length === 1) await join.register("10.0.0.1:2375", AbortSignal.timeout(5_000));
        if (updates.length === 2) await new Promise((resolve) => setTimeout(resolve, 300)).then(() => join.register("10.0.0.2:2375", AbortSignal.timeout(5_000)));
        if (updates.length === 3) {
          await real.inject({ method: "DELETE", url: `/v1/clusters/${token}` });
        }
        if (updates.length === 4) abort.abort();
      }
    })();
    await watching;
    expect(updates).toEqual([
      { entries: [] },
      { entries: ["10.0.0.1:2375"] },
      { entries: ["10.0.0.1:2375", "10.0.0.2:2375"] },
      { error: expect.objectContaining({ message: "Failed to fetch entries, Discovery service returned 404 HTTP status code" }) },
    ]);
  });

  it("announces the unchanged list again once the service is back, so the manager knows it recovered", async () => {
    process.env.SWARM_TOKEN_DISCOVERY_URL = scriptedUrl;
    let manager: Discovery;
    try {
      manager = await plugin.create(context("tok4"));
    } finally {
      delete process.env.SWARM_TOKEN_DISCOVERY_URL;
    }
    scripted.answer(200, '["1.1.1.1:1"]');
    const abort = new AbortController();
    const updates: DiscoveryUpdate[] = [];
    for await (const update of manager.watch(abort.signal)) {
      updates.push(update);
      if (updates.length === 1) scripted.answer(503, "");
      if (updates.length === 2) scripted.answer(200, '["1.1.1.1:1"]');
      if (updates.length === 3) abort.abort();
    }
    expect(updates).toEqual([
      { entries: ["1.1.1.1:1"] },
      { error: expect.objectContaining({ message: "Failed to fetch entries, Discovery service returned 503 HTTP status code" }) },
      { entries: ["1.1.1.1:1"] },
    ]);
  });
});
