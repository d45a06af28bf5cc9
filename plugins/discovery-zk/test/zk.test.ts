import { existsSync } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zookeeper from "node-zookeeper-client";
import type { Discovery } from "@swarm/core";
import { startZookeeper, waitFor, type TestZookeeper } from "@swarm/test-harness";
import { followWatch, makeDiscoveryContext, openDiscoveries } from "../../../test/helpers/discovery-plugin.js";
import plugin, { parseZkUrl } from "../src/index.js";

const context = (path: string, ttl = 2_000) => makeDiscoveryContext("zk", path, { ttl });
const follow = (discovery: Discovery) => followWatch(discovery, 20_000);

/** Reads a znode with a client of our own, to check what the plugin wrote. */
async function readZnode(endpoint: string, path: string): Promise<{ data: string; ephemeral: boolean }> {
  const client = zookeeper.createClient(endpoint);
  client.connect();
  try {
    return await new Promise((resolve, reject) => {
      client.getData(path, (err, data, stat) => {
        if (err) reject(err instanceof Error ? err : new Error(err.toString()));
        else resolve({ data: data.toString(), ephemeral: !stat.ephemeralOwner.equals(Buffer.alloc(8)) });
      });
    });
  } finally {
    client.close();
  }
}

describe("zk:// URLs", () => {
  it.each([
    ["127.0.0.1:2181", {}, ["127.0.0.1:2181"], "/docker/swarm/nodes"],
    ["a:1,b:2/prod", {}, ["a:1", "b:2"], "/prod/docker/swarm/nodes"],
    ["a:1/prod/", { "kv.path": "nodes/" }, ["a:1"], "/prod/nodes"],
  ])("%s %j", (path, options, endpoints, dir) => {
    expect(parseZkUrl(path, options)).toEqual({ endpoints, dir });
  });

  it("rejects a missing or malformed server address, and the root as directory", () => {
    expect(() => parseZkUrl("/x", {})).toThrow("zk:// needs at least one server address");
    expect(() => parseZkUrl("zkhost/x", {})).toThrow("zk:// server address zkhost: address zkhost: missing port in address");
    expect(() => parseZkUrl("a:1", { "kv.path": "/" })).toThrow("cannot be the root znode");
  });
});

// Real servers restart within these tests: give them more than the unit project's default 5 s.
describe.skipIf(!existsSync("/usr/share/java/zookeeper.jar"))("zk discovery against a real ZooKeeper", { timeout: 30_000 }, () => {
  let store: TestZookeeper;
  const { open, stopAll } = openDiscoveries((path, ttl) => plugin.create(context(path, ttl)));

  beforeAll(async () => {
    store = await startZookeeper();
  });
  afterAll(async () => {
    await stopAll();
    await store?.dispose();
  });

  it("registers ephemeral nodes, follows the directory, and drops a closed session's node", async () => {
    const joinA = await open(`${store.endpoint}/t1`);
    const joinB = await open(`${store.endpoint}/t1`);
    const manager = follow(await open(`${store.endpoint}/t1`));
    await manager.until([], "empty directory");
    await joinA.register("10.0.0.1:2375", AbortSignal.timeout(10_000));
    await joinB.register("10.0.0.2:2375", AbortSignal.timeout(10_000));
    // A second heartbeat on the same session is a no-op, not an error.
    await joinB.register("10.0.0.2:2375", AbortSignal.timeout(10_000));
    await manager.until(["10.0.0.1:2375", "10.0.0.2:2375"], "two joins");
    expect(await readZnode(store.endpoint, "/t1/docker/swarm/nodes/10.0.0.1:2375")).toEqual({ data: "10.0.0.1:2375", ephemeral: true });
    await joinB.stop?.();
    await manager.until(["10.0.0.1:2375"], "joinB closed its session");
    await manager.stop();
  });

  it("reports a server that is down and converges once it is back", async () => {
    await store.stop();
    const join = await open(`${store.endpoint}/t2`, 4_000);
    const manager = follow(await open(`${store.endpoint}/t2`));
    await waitFor({
      what: "the watch did not report the missing server",
      timeoutMs: 15_000,
      probe: async () => (manager.updates.some((u) => "error" in u && u.error.message.includes(`ZooKeeper at ${store.endpoint}`)) ? true : undefined),
    });
    await expect(join.register("10.0.0.3:2375", AbortSignal.timeout(1_000))).rejects.toThrow(`no connection to ZooKeeper at ${store.endpoint}`);
    await store.start();
    await join.register("10.0.0.3:2375", AbortSignal.timeout(15_000));
    await manager.until(["10.0.0.3:2375"], "after the server started");
    await manager.stop();
  });

  it("keeps the registration through a short server restart", async () => {
    const join = await open(`${store.endpoint}/t3`, 6_000);
    const manager = follow(await open(`${store.endpoint}/t3`));
    await join.register("10.0.0.4:2375", AbortSignal.timeout(10_000));
    await manager.until(["10.0.0.4:2375"], "before the restart");
    await store.stop();
    await store.start();
    await waitFor({
      what: "join could not register again after the restart",
      timeoutMs: 20_000,
      probe: async () => {
        await join.register("10.0.0.4:2375", AbortSignal.timeout(2_000));
        return true;
      },
    });
    await manager.until(["10.0.0.4:2375"], "after the restart");
    await manager.stop();
  });

  it("gives up on a server that accepts the connection but never answers the handshake", async () => {
    // A ZooKeeper that is still starting can leave an accepted connection unread: the first
    // connection here is held silently, later ones are passed through to the real server.
    let connections = 0;
    const held: net.Socket[] = [];
    const proxy = net.createServer((socket) => {
      connections += 1;
      if (connections === 1) {
        held.push(socket);
        return;
      }
      const [host, port] = store.endpoint.split(":");
      const upstream = net.connect({ host, port: Number(port) });
      socket.pipe(upstream).pipe(socket);
      const close = (): void => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on("error", close).on("close", close);
      upstream.on("error", close).on("close", close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const endpoint = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    try {
      const join = await open(`${endpoint}/t4`);
      const started = Date.now();
      await waitFor({
        what: "join never registered through the proxy",
        timeoutMs: 15_000,
        probe: async () => {
          await join.register("10.0.0.9:2375", AbortSignal.timeout(2_000));
          return true;
        },
      });
      expect(connections).toBeGreaterThanOrEqual(2);
      expect(Date.now() - started).toBeLessThan(10_000);
      await join.stop?.();
    } finally {
      for (const socket of held) socket.destroy();
      proxy.close();
    }
  });
});
