import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Discovery } from "@swarm/core";
import { waitFor } from "@swarm/test-harness";
import { startConsulFake, type ConsulFake } from "../../../test/fakes/consul.js";
import { followWatch, makeDiscoveryContext, openDiscoveries } from "../../../test/helpers/discovery-plugin.js";
import plugin, { parseKvUrl } from "../src/index.js";

const context = (path: string, ttl = 1_000) => makeDiscoveryContext("consul", path, { ttl });
const follow = (discovery: Discovery) => followWatch(discovery, 10_000);

describe("consul:// URLs", () => {
  it.each([
    ["127.0.0.1:8500", {}, ["127.0.0.1:8500"], "docker/swarm/nodes"],
    ["a:1,b:2/prod", {}, ["a:1", "b:2"], "prod/docker/swarm/nodes"],
    ["a:1/prod", { "kv.path": "custom/nodes/" }, ["a:1"], "prod/custom/nodes"],
  ])("%s %j", (path, options, endpoints, dir) => {
    expect(parseKvUrl(path, options)).toEqual({ endpoints, dir });
  });

  it("rejects missing or malformed agent addresses", () => {
    expect(() => parseKvUrl("/x", {})).toThrow("consul:// needs at least one agent address");
    expect(() => parseKvUrl("consul/x", {})).toThrow("consul:// agent address consul: address consul: missing port in address");
  });
});

// Real servers restart within these tests: give them more than the unit project's default 5 s.
describe("consul discovery against consul-fake", { timeout: 30_000 }, () => {
  let fake: ConsulFake;
  const { open, stopAll } = openDiscoveries((path, ttl) => plugin.create(context(path, ttl)));

  beforeAll(async () => {
    fake = await startConsulFake({ sessionTtlMinMs: 100 });
  });
  afterAll(async () => {
    await stopAll();
    await fake?.dispose();
  });

  it("registers keys held by a TTL/2 delete session and drops them once renewals stop", async () => {
    const joinA = await open(`${fake.endpoint}/t1`);
    const joinB = await open(`${fake.endpoint}/t1`);
    const manager = follow(await open(`${fake.endpoint}/t1`));
    await manager.until([], "empty directory");
    await joinA.register("10.0.0.1:2375", AbortSignal.timeout(5_000));
    await joinB.register("10.0.0.2:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.1:2375", "10.0.0.2:2375"], "two joins");
    const entry = fake.entries().find((e) => e.key === "t1/docker/swarm/nodes/10.0.0.1:2375");
    expect(entry?.value.toString()).toBe("10.0.0.1:2375");
    expect(entry?.session).toBeDefined();

    // joinB stops renewing: its session (TTL 500ms) is invalidated 2×500ms later and its key deleted.
    const stoppedAt = Date.now();
    const keepAlive = setInterval(() => void joinA.register("10.0.0.1:2375", AbortSignal.timeout(1_000)).catch(() => undefined), 200);
    try {
      await manager.until(["10.0.0.1:2375"], "joinB stopped renewing");
    } finally {
      clearInterval(keepAlive);
    }
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(500);
    await manager.stop();
  });

  it("gives classic Swarm's error, with Consul's reason, when sessions cannot be created", async () => {
    const strict = await startConsulFake();
    try {
      const join = await plugin.create(context(`${strict.endpoint}/t2`, 3_000));
      await expect(join.register("10.0.0.3:2375", AbortSignal.timeout(5_000))).rejects.toThrow(
        "cannot set or renew session for ttl, unable to operate on sessions: Session TTL '1.5s' must be between [10s=24h0m0s]",
      );
      await join.stop?.();
    } finally {
      await strict.dispose();
    }
  });

  it("reports an agent that is down, and resumes when it is back", async () => {
    const join = await open(`${fake.endpoint}/t3`, 4_000);
    const manager = follow(await open(`${fake.endpoint}/t3`));
    await join.register("10.0.0.4:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.4:2375"], "before the outage");
    await fake.stop();
    await waitFor({
      what: "the watch did not report the outage",
      timeoutMs: 10_000,
      probe: async () => (manager.updates.some((u) => "error" in u && u.error.message.includes(`consul at ${fake.endpoint}`)) ? true : undefined),
    });
    await expect(join.register("10.0.0.4:2375", AbortSignal.timeout(5_000))).rejects.toThrow("cannot set or renew session for ttl, unable to operate on sessions");
    await fake.start();
    await join.register("10.0.0.4:2375", AbortSignal.timeout(5_000));
    await join.register("10.0.0.5:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.4:2375", "10.0.0.5:2375"], "after the outage");
    await manager.stop();
  });

  it("replaces a session Consul no longer knows", async () => {
    const join = await open(`${fake.endpoint}/t4`, 4_000);
    const manager = follow(await open(`${fake.endpoint}/t4`));
    await join.register("10.0.0.6:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.6:2375"], "registered");
    const { request } = await import("undici");
    for (const id of fake.sessionIds()) {
      const res = await request(`${fake.url}/v1/session/destroy/${id}`, { method: "PUT" });
      await res.body.text();
    }
    await manager.until([], "sessions destroyed");
    await join.register("10.0.0.6:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.6:2375"], "registered with a new session");
    await manager.stop();
  });
});
