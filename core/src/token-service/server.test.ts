import { describe, expect, it } from "vitest";
import { createTokenService } from "./server.js";

function service() {
  let now = 1_000_000;
  const app = createTokenService({ clock: { now: () => now } });
  return {
    app,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("token discovery service", () => {
  it("creates clusters with 32-hex tokens", async () => {
    const { app } = service();
    const res = await app.inject({ method: "POST", url: "/v1/clusters" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^[0-9a-f]{32}$/);
    const other = await app.inject({ method: "POST", url: "/v1/clusters" });
    expect(other.body).not.toBe(res.body);
    const listed = await app.inject({ method: "GET", url: `/v1/clusters/${res.body}` });
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual([]);
  });

  it("takes the raw ip:port body classic clients send as application/json, and lists it until the TTL passes", async () => {
    const { app, advance } = service();
    const token = (await app.inject({ method: "POST", url: "/v1/clusters" })).body;
    const register = (addr: string, ttl: number, headers: Record<string, string> = { "content-type": "application/json" }) =>
      app.inject({ method: "POST", url: `/v1/clusters/${token}?ttl=${ttl}`, headers, payload: addr });
    expect((await register("10.0.0.1:2375", 3)).statusCode).toBe(200);
    expect((await register("[::1]:2376", 10, {})).body).toBe("OK");
    expect((await register("10.0.0.3:2375", 10, { "content-type": "text/plain" })).statusCode).toBe(200);
    const list = async () => (await app.inject({ method: "GET", url: `/v1/clusters/${token}` })).json<string[]>();
    expect(await list()).toEqual(["10.0.0.1:2375", "[::1]:2376", "10.0.0.3:2375"]);
    advance(2_000);
    // Re-registering refreshes the TTL and keeps the entry's place in the list.
    await register("10.0.0.1:2375", 3);
    advance(2_500);
    expect(await list()).toEqual(["10.0.0.1:2375", "[::1]:2376", "10.0.0.3:2375"]);
    advance(600);
    expect(await list()).toEqual(["[::1]:2376", "10.0.0.3:2375"]);
    advance(10_000);
    expect(await list()).toEqual([]);
  });

  it("answers 404 for unknown tokens, and learns a token from its first registration", async () => {
    const { app } = service();
    const unknown = await app.inject({ method: "GET", url: "/v1/clusters/0123456789abcdef0123456789abcdef" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain("unknown cluster token");
    await app.inject({ method: "POST", url: "/v1/clusters/mytoken?ttl=60", payload: "1.2.3.4:2375" });
    expect((await app.inject({ method: "GET", url: "/v1/clusters/mytoken" })).json()).toEqual(["1.2.3.4:2375"]);
    expect((await app.inject({ method: "DELETE", url: "/v1/clusters/mytoken" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/v1/clusters/mytoken" })).statusCode).toBe(404);
    expect((await app.inject({ method: "DELETE", url: "/v1/clusters/mytoken" })).statusCode).toBe(404);
  });

  it.each([
    ["ttl=abc", "1.2.3.4:2375", "invalid ttl \"abc\""],
    ["ttl=0", "1.2.3.4:2375", "invalid ttl \"0\""],
    ["ttl=10", "nonsense", "invalid address \"nonsense\""],
    ["ttl=10", "1.2.3.4:0", "port 0 is out of range"],
    ["ttl=10", "", "invalid address \"\""],
  ])("rejects ?%s with body %j", async (query, payload, message) => {
    const { app } = service();
    const res = await app.inject({ method: "POST", url: `/v1/clusters/tok?${query}`, headers: { "content-type": "application/json" }, payload });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain(message);
  });

  it("answers unknown routes with a 404 naming the API", async () => {
    const { app } = service();
    const res = await app.inject({ method: "GET", url: "/v2/whatever" });
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain("/v1/clusters");
  });
});
