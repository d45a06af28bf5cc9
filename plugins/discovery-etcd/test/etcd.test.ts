import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Etcd3 } from "etcd3";
import type { Discovery } from "@swarm/core";
import { silentLogger } from "@swarm/core/testing";
import { startEtcd, waitFor, type TestEtcd } from "@swarm/test-harness";
import { followWatch, makeDiscoveryContext, openDiscoveries } from "../../../test/helpers/discovery-plugin.js";
import plugin, { parseKvUrl } from "../src/index.js";

const context = (path: string, discoveryOptions: Record<string, string> = {}, ttl = 2_000) =>
  makeDiscoveryContext("etcd", path, { ttl, discoveryOptions });
const follow = (discovery: Discovery) => followWatch(discovery, 15_000);

describe("etcd:// URLs", () => {
  it.each([
    ["127.0.0.1:2379", {}, ["127.0.0.1:2379"], "docker/swarm/nodes"],
    ["a:1,b:2/prod", {}, ["a:1", "b:2"], "prod/docker/swarm/nodes"],
    ["a:1/prod/", { "kv.path": "nodes" }, ["a:1"], "prod/nodes"],
    ["a:1//x//", { "kv.path": "/custom/" }, ["a:1"], "x/custom"],
  ])("%s %j", (path, options, endpoints, dir) => {
    expect(parseKvUrl(path, options)).toEqual({ endpoints, dir });
  });

  it("needs a store address", () => {
    expect(() => parseKvUrl("/prefix", {})).toThrow("etcd:// needs at least one store address");
    expect(() => parseKvUrl("nohostport/prefix", {})).toThrow("store address nohostport: address nohostport: missing port in address");
  });

  it("needs all three TLS files before it uses TLS", async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const discovery = await plugin.create({ ...context("127.0.0.1:1"), logger, discoveryOptions: { "kv.cacertfile": "/nonexistent" } });
    expect(warnings.join()).toContain("needs all of kv.cacertfile, kv.certfile and kv.keyfile");
    await discovery.stop?.();
    await expect(
      plugin.create(context("127.0.0.1:1", { "kv.cacertfile": "/nonexistent/ca", "kv.certfile": "/x", "kv.keyfile": "/y" })),
    ).rejects.toThrow("--discovery-opt kv.cacertfile=/nonexistent/ca: ENOENT");
  });
});

// Real servers restart within these tests: give them more than the unit project's default 5 s.
describe.skipIf(!existsSync("/usr/bin/etcd"))("etcd discovery against a real etcd", { timeout: 30_000 }, () => {
  let store: TestEtcd;
  const { open, stopAll } = openDiscoveries((path, ttl) => plugin.create(context(path, {}, ttl)));

  beforeAll(async () => {
    store = await startEtcd();
  });
  afterAll(async () => {
    await stopAll();
    await store?.dispose();
  });

  it("lists registrations under <prefix>/docker/swarm/nodes and follows them until their lease expires", async () => {
    const joinA = await open(`${store.endpoint}/t1`);
    const joinB = await open(`${store.endpoint}/t1`);
    const manager = follow(await open(`${store.endpoint}/t1`));
    await manager.until([], "empty directory");
    await joinA.register("10.0.0.1:2375", AbortSignal.timeout(5_000));
    await joinB.register("10.0.0.2:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.1:2375", "10.0.0.2:2375"], "two joins");

    const raw = new Etcd3({ hosts: store.url });
    try {
      expect(await raw.get("t1/docker/swarm/nodes/10.0.0.1:2375").string()).toBe("10.0.0.1:2375");
    } finally {
      raw.close();
    }

    // A refreshed lease outlives its TTL; an abandoned one does not.
    const started = Date.now();
    await joinB.stop?.();
    for (let i = 0; i < 6; i++) {
      await joinA.register("10.0.0.1:2375", AbortSignal.timeout(5_000));
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (JSON.stringify(manager.lastEntries()) === JSON.stringify(["10.0.0.1:2375"])) break;
    }
    await manager.until(["10.0.0.1:2375"], "after joinB stopped refreshing");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    await manager.stop();
  });

  it("grants a new lease when etcd has dropped the old one", async () => {
    const join = await open(`${store.endpoint}/t2`);
    const manager = follow(await open(`${store.endpoint}/t2`));
    await join.register("10.0.0.3:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.3:2375"], "registered");
    const raw = new Etcd3({ hosts: store.url });
    try {
      const { leases } = await raw.leaseClient.leaseLeases({});
      for (const { ID } of leases) await raw.leaseClient.leaseRevoke({ ID });
    } finally {
      raw.close();
    }
    await manager.until([], "lease revoked");
    await join.register("10.0.0.3:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.3:2375"], "re-registered with a new lease");
    await manager.stop();
  });

  it("reports a store that is down, keeps retrying, and resumes with the full list", async () => {
    const join = await open(`${store.endpoint}/t3`, 10_000);
    const manager = follow(await open(`${store.endpoint}/t3`));
    await join.register("10.0.0.4:2375", AbortSignal.timeout(5_000));
    await manager.until(["10.0.0.4:2375"], "before the restart");
    await store.stop();
    await waitFor({
      what: "the watch did not report the store outage",
      timeoutMs: 15_000,
      probe: async () => (manager.updates.some((u) => "error" in u && u.error.message.includes(`etcd at ${store.endpoint}`)) ? true : undefined),
    });
    await expect(join.register("10.0.0.5:2375", AbortSignal.timeout(3_000))).rejects.toThrow(`registering 10.0.0.5:2375 at etcd at ${store.endpoint}`);
    await store.start();
    await join.register("10.0.0.5:2375", AbortSignal.timeout(10_000));
    await manager.until(["10.0.0.4:2375", "10.0.0.5:2375"], "after the restart");
    await manager.stop();
  });
});
