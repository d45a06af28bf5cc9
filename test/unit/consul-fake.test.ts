import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import Consul from "consul";
import { startConsulFake, type ConsulFake } from "../fakes/consul.js";

let fake: ConsulFake;

async function call(method: "GET" | "PUT" | "DELETE", path: string, body?: string) {
  const res = await request(`${fake.url}${path}`, { method, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  const index = res.headers["x-consul-index"];
  const isJson = String(res.headers["content-type"]).startsWith("application/json") && text !== "";
  return { status: res.statusCode, text, json: isJson ? (JSON.parse(text) as unknown) : undefined, index: index === undefined ? undefined : Number(index) };
}

async function createSession(body: Record<string, unknown>): Promise<string> {
  const res = await call("PUT", "/v1/session/create", JSON.stringify(body));
  expect(res.status).toBe(200);
  return (res.json as { ID: string }).ID;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  fake = await startConsulFake({ sessionTtlMinMs: 100 });
});
afterAll(async () => {
  await fake?.dispose();
});

describe("consul-fake KV", () => {
  it("stores values and answers with base64 Values and X-Consul-Index", async () => {
    expect((await call("PUT", "/v1/kv/kv1/a", "hello")).json).toBe(true);
    expect((await call("PUT", "/v1/kv/kv1/empty", "")).json).toBe(true);
    const a = await call("GET", "/v1/kv/kv1/a");
    expect(a.status).toBe(200);
    expect(a.json).toEqual([{ LockIndex: 0, Key: "kv1/a", Flags: 0, Value: Buffer.from("hello").toString("base64"), CreateIndex: expect.any(Number), ModifyIndex: a.index }]);
    expect((await call("GET", "/v1/kv/kv1/empty")).json).toMatchObject([{ Value: null }]);
    expect((await call("GET", "/v1/kv/kv1/a?raw")).text).toBe("hello");
    const miss = await call("GET", "/v1/kv/kv1/missing");
    expect(miss.status).toBe(404);
    expect(miss.text).toBe("");
    expect(miss.index).toBeGreaterThan(0);
  });

  it("lists with ?recurse and ?keys (with a separator), deletes with ?recurse", async () => {
    await call("PUT", "/v1/kv/kv2/x/1", "1");
    await call("PUT", "/v1/kv/kv2/x/2", "2");
    await call("PUT", "/v1/kv/kv2/y", "3");
    expect(((await call("GET", "/v1/kv/kv2/?recurse")).json as Array<{ Key: string }>).map((e) => e.Key)).toEqual(["kv2/x/1", "kv2/x/2", "kv2/y"]);
    expect((await call("GET", "/v1/kv/kv2/?keys")).json).toEqual(["kv2/x/1", "kv2/x/2", "kv2/y"]);
    expect((await call("GET", "/v1/kv/kv2/?keys&separator=/")).json).toEqual(["kv2/x/", "kv2/y"]);
    expect((await call("DELETE", "/v1/kv/kv2/x/?recurse")).json).toBe(true);
    expect((await call("GET", "/v1/kv/kv2/?keys")).json).toEqual(["kv2/y"]);
    expect((await call("GET", "/v1/kv/nothing-here/?recurse")).status).toBe(404);
  });

  it("honours ?cas on put and delete", async () => {
    expect((await call("PUT", "/v1/kv/kv3?cas=0", "first")).json).toBe(true);
    expect((await call("PUT", "/v1/kv/kv3?cas=0", "again")).json).toBe(false);
    const { index } = await call("GET", "/v1/kv/kv3");
    expect((await call("PUT", `/v1/kv/kv3?cas=${index! + 100}`, "stale")).json).toBe(false);
    expect((await call("PUT", `/v1/kv/kv3?cas=${index}`, "second")).json).toBe(true);
    expect((await call("DELETE", `/v1/kv/kv3?cas=${index}`)).json).toBe(false);
  });

  it("holds a blocking query until the index passes, or until wait elapses", async () => {
    await call("PUT", "/v1/kv/kv4/a", "1");
    const first = await call("GET", "/v1/kv/kv4/?recurse");
    const started = Date.now();
    const blocked = call("GET", `/v1/kv/kv4/?recurse&index=${first.index}&wait=5s`);
    await sleep(150);
    await call("PUT", "/v1/kv/other-prefix", "unrelated");
    await call("PUT", "/v1/kv/kv4/b", "2");
    const answer = await blocked;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(answer.index).toBeGreaterThan(first.index!);
    expect((answer.json as unknown[]).length).toBe(2);

    const timedStart = Date.now();
    const unchanged = await call("GET", `/v1/kv/kv4/?recurse&index=${answer.index}&wait=200ms`);
    const took = Date.now() - timedStart;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(200 + 200 / 16 + 300);
    expect(unchanged.index).toBe(answer.index);
  });

  it("rejects a bad wait", async () => {
    expect((await call("GET", "/v1/kv/kv4/?index=1&wait=soon")).status).toBe(400);
  });
});

describe("consul-fake sessions and locks", () => {
  it("enforces the TTL bounds like session_ttl_min", async () => {
    const strict = await startConsulFake();
    try {
      const res = await request(`${strict.url}/v1/session/create`, { method: "PUT", body: JSON.stringify({ TTL: "1.5s" }) });
      expect(res.statusCode).toBe(400);
      expect(await res.body.text()).toBe("Session TTL '1.5s' must be between [10s=24h0m0s]");
    } finally {
      await strict.dispose();
    }
  });

  it("creates, lists, renews and destroys sessions", async () => {
    const id = await createSession({ TTL: "10s", Behavior: "delete", LockDelay: "1ms", Name: "x" });
    const info = await call("GET", `/v1/session/info/${id}`);
    expect(info.json).toEqual([
      expect.objectContaining({ ID: id, Name: "x", Behavior: "delete", TTL: "10s", LockDelay: 1_000_000, Node: "consul-fake" }),
    ]);
    expect(info.index).toBeGreaterThan(0);
    expect(((await call("GET", "/v1/session/list")).json as Array<{ ID: string }>).map((s) => s.ID)).toContain(id);
    expect((await call("PUT", `/v1/session/renew/${id}`)).json).toEqual([expect.objectContaining({ ID: id })]);
    expect((await call("PUT", `/v1/session/destroy/${id}`)).json).toBe(true);
    const renew = await call("PUT", `/v1/session/renew/${id}`);
    expect(renew.status).toBe(404);
    expect(renew.text).toBe(`Session id '${id}' not found`);
    expect((await call("GET", `/v1/session/info/${id}`)).json).toEqual([]);
    expect((await call("PUT", "/v1/session/create", JSON.stringify({ Behavior: "explode" }))).status).toBe(400);
  });

  it("acquires and releases locks", async () => {
    const a = await createSession({ LockDelay: "0s" });
    const b = await createSession({ LockDelay: "0s" });
    expect((await call("PUT", `/v1/kv/lock1?acquire=${a}`, "a")).json).toBe(true);
    expect((await call("GET", "/v1/kv/lock1")).json).toMatchObject([{ Session: a, LockIndex: 1 }]);
    expect((await call("PUT", `/v1/kv/lock1?acquire=${a}`, "a2")).json).toBe(true);
    expect((await call("GET", "/v1/kv/lock1")).json).toMatchObject([{ Session: a, LockIndex: 1, Value: Buffer.from("a2").toString("base64") }]);
    expect((await call("PUT", `/v1/kv/lock1?acquire=${b}`, "b")).json).toBe(false);
    expect((await call("PUT", `/v1/kv/lock1?release=${b}`, "b")).json).toBe(false);
    expect((await call("PUT", `/v1/kv/lock1?release=${a}`, "free")).json).toBe(true);
    expect(((await call("GET", "/v1/kv/lock1")).json as Array<Record<string, unknown>>)[0]).not.toHaveProperty("Session");
    expect((await call("PUT", `/v1/kv/lock1?acquire=${b}`, "b")).json).toBe(true);
    expect((await call("PUT", "/v1/kv/lock1?acquire=no-such-session", "x")).status).toBe(500);
    expect((await call("PUT", `/v1/kv/lock1?acquire=${a}&release=${a}`, "x")).status).toBe(400);
  });

  it("deletes a Behavior=delete session's keys once it has gone 2×TTL without renewal", async () => {
    const kept = await createSession({ TTL: "150ms", Behavior: "delete", LockDelay: "1ms" });
    const dropped = await createSession({ TTL: "150ms", Behavior: "delete", LockDelay: "1ms" });
    await call("PUT", `/v1/kv/ttl/kept?acquire=${kept}`, "k");
    await call("PUT", `/v1/kv/ttl/dropped?acquire=${dropped}`, "d");
    const { index } = await call("GET", "/v1/kv/ttl/?recurse");
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      await call("PUT", `/v1/session/renew/${kept}`);
    }
    // A blocking query wakes when the expiry deletes the key.
    const after = await call("GET", `/v1/kv/ttl/?recurse&index=${index}&wait=2s`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect((after.json as Array<{ Key: string }>).map((e) => e.Key)).toEqual(["ttl/kept"]);
    expect(fake.sessionIds()).toContain(kept);
    expect(fake.sessionIds()).not.toContain(dropped);
  });

  it("releases a Behavior=release session's keys and blocks re-acquiring them for the lock-delay", async () => {
    const holder = await createSession({ Behavior: "release", LockDelay: "400ms" });
    const next = await createSession({ LockDelay: "0s" });
    await call("PUT", `/v1/kv/delay?acquire=${holder}`, "h");
    await call("PUT", `/v1/session/destroy/${holder}`);
    const released = await call("GET", "/v1/kv/delay");
    expect(released.json).toMatchObject([{ Key: "delay", Value: Buffer.from("h").toString("base64") }]);
    expect((released.json as Array<Record<string, unknown>>)[0]).not.toHaveProperty("Session");
    expect((await call("PUT", `/v1/kv/delay?acquire=${next}`, "n")).json).toBe(false);
    // A plain write is not an acquisition and is allowed.
    expect((await call("PUT", "/v1/kv/delay", "plain")).json).toBe(true);
    await sleep(450);
    expect((await call("PUT", `/v1/kv/delay?acquire=${next}`, "n")).json).toBe(true);
  });
});

describe("consul-fake restarts and the consul npm client", () => {
  it("keeps its data across stop/start and cuts blocking queries when it stops", async () => {
    await call("PUT", "/v1/kv/restart/a", "1");
    const { index } = await call("GET", "/v1/kv/restart/?recurse");
    const blocked = call("GET", `/v1/kv/restart/?recurse&index=${index}&wait=30s`).then(
      () => "answered",
      () => "cut",
    );
    await sleep(50);
    await fake.stop();
    expect(await blocked).toBe("cut");
    expect(fake.isRunning()).toBe(false);
    await fake.start();
    expect((await call("GET", "/v1/kv/restart/a?raw")).text).toBe("1");
  });

  it("serves the consul 2.x client's session, kv.set acquire and recurse get", async () => {
    const client = new Consul({ host: "127.0.0.1", port: fake.port });
    try {
      const { ID } = await client.session.create({ ttl: "10s", behavior: "delete", lockdelay: "1ms" });
      await client.session.renew(ID);
      expect(await client.kv.set({ key: "client/node", value: "10.0.0.1:2375", acquire: ID })).toBe(true);
      const got = await client.kv.get({ key: "client/", recurse: true });
      expect(got).toEqual([expect.objectContaining({ Key: "client/node", Value: "10.0.0.1:2375", Session: ID })]);
      expect(await client.kv.keys("client/")).toEqual(["client/node"]);
    } finally {
      client.destroy();
    }
  });
});
