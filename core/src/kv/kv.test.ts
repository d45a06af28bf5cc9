import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../extension-points/plugin.js";
import { silentLogger } from "../testing/builders.js";
import { DEFAULT_KV_PATH, KvBackoff, parseKvDiscoveryUrl, parseKvEntries, readKvTls } from "./kv.js";

describe("key/value discovery URLs", () => {
  it.each([
    ["127.0.0.1:2379", {}, ["127.0.0.1:2379"], "docker/swarm/nodes"],
    ["a:1,b:2/prod", {}, ["a:1", "b:2"], "prod/docker/swarm/nodes"],
    ["a:1, b:2 ,/prod", {}, ["a:1", "b:2"], "prod/docker/swarm/nodes"],
    ["a:1/prod/", { "kv.path": "nodes" }, ["a:1"], "prod/nodes"],
    ["a:1/prod", { "kv.path": "custom/nodes/" }, ["a:1"], "prod/custom/nodes"],
    ["a:1//x//", { "kv.path": "/custom/" }, ["a:1"], "x/custom"],
    ["a:1/prod", { "kv.path": "" }, ["a:1"], "prod"],
    ["a:1", { "kv.path": "/" }, ["a:1"], ""],
    ["[::1]:2379/p", {}, ["[::1]:2379"], "p/docker/swarm/nodes"],
  ])("%s %j", (urlPath, options, endpoints, dir) => {
    expect(parseKvDiscoveryUrl("etcd", urlPath, options)).toEqual({ endpoints, dir });
  });

  it("defaults the node directory to classic Swarm's", () => {
    expect(DEFAULT_KV_PATH).toBe("docker/swarm/nodes");
  });

  it("names the scheme and the store's members in its errors", () => {
    expect(() => parseKvDiscoveryUrl("etcd", "/prefix", {})).toThrow(
      "etcd:// needs at least one store address: etcd://<host:port>[,<host:port>]/<prefix>",
    );
    expect(() => parseKvDiscoveryUrl("consul", "", {}, { member: "agent" })).toThrow(
      "consul:// needs at least one agent address: consul://<host:port>[,<host:port>]/<prefix>",
    );
    expect(() => parseKvDiscoveryUrl("zk", "a:1,zkhost/x", {}, { member: "server" })).toThrow(
      "zk:// server address zkhost: address zkhost: missing port in address; write it as host:port",
    );
    expect(() => parseKvDiscoveryUrl("etcd", "a:x", {})).toThrow("etcd:// store address a:x: address a:x: invalid port; write it as host:port");
  });
});

describe("TLS to the store", () => {
  let dir: string;
  const files = { ca: "", cert: "", key: "" };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swarm-kv-tls-"));
    for (const name of ["ca", "cert", "key"] as const) {
      files[name] = path.join(dir, `${name}.pem`);
      await writeFile(files[name], `${name} bytes`);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const recording = (): { logger: Logger; lines: string[] } => {
    const lines: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      debug: (message: string) => lines.push(`debug ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
    };
    return { logger, lines };
  };

  it("is off without any kv.*file option", () => {
    const { logger, lines } = recording();
    expect(readKvTls({ "kv.path": "x", "kv.cacertfile": "" }, logger)).toBeUndefined();
    expect(lines).toEqual(["debug Initializing discovery without TLS"]);
  });

  it("is off, with a warning, when only some of the three files are given", () => {
    const { logger, lines } = recording();
    expect(readKvTls({ "kv.cacertfile": files.ca, "kv.certfile": files.cert }, logger)).toBeUndefined();
    expect(lines).toEqual([
      "warn Initializing discovery without TLS: TLS to the store needs all of kv.cacertfile, kv.certfile and kv.keyfile",
    ]);
  });

  it("reads all three files when all three are given", () => {
    const { logger, lines } = recording();
    const tls = readKvTls({ "kv.cacertfile": files.ca, "kv.certfile": files.cert, "kv.keyfile": files.key }, logger);
    expect(tls && { ca: tls.ca.toString(), cert: tls.cert.toString(), key: tls.key.toString() }).toEqual({
      ca: "ca bytes",
      cert: "cert bytes",
      key: "key bytes",
    });
    expect(lines).toEqual(["debug Initializing discovery with TLS"]);
  });

  it("names the option whose file cannot be read", () => {
    expect(() => readKvTls({ "kv.cacertfile": files.ca, "kv.certfile": "/nonexistent/cert", "kv.keyfile": files.key }, silentLogger)).toThrow(
      "--discovery-opt kv.certfile=/nonexistent/cert: ENOENT",
    );
  });
});

describe("entries read from the store", () => {
  it.each([
    [["b:2", "", "junk", "a:1"], { entries: ["a:1", "b:2"], invalid: ["address junk: missing port in address"] }],
    [["b:2", "nope", "a:1"], { entries: ["a:1", "b:2"], invalid: ["address nope: missing port in address"] }],
    [["b:2", "bad"], { entries: ["b:2"], invalid: ["address bad: missing port in address"] }],
    [[], { entries: [], invalid: [] }],
  ])("%j", (values, expected) => {
    expect(parseKvEntries(values)).toEqual(expected);
  });

  it("takes any iterable, such as a map's values", () => {
    expect(parseKvEntries(new Map([["k2", "10.0.0.2:2375"], ["k1", "10.0.0.1:2375"]]).values())).toEqual({
      entries: ["10.0.0.1:2375", "10.0.0.2:2375"],
      invalid: [],
    });
  });
});

describe("retry back-off after a store error", () => {
  const aborted = AbortSignal.abort(new Error("test"));

  it("doubles from 100 ms up to one heartbeat, and starts over after reset()", async () => {
    const backoff = new KvBackoff(1_000);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(backoff.nextDelayMs);
      await backoff.wait(aborted);
    }
    expect(seen).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    backoff.reset();
    expect(backoff.nextDelayMs).toBe(100);
  });

  it("never waits less than 100 ms, even with a shorter heartbeat", async () => {
    const backoff = new KvBackoff(20);
    await backoff.wait(aborted);
    expect(backoff.nextDelayMs).toBe(100);
  });

  it("sleeps the delay, and returns early when the signal aborts", async () => {
    const backoff = new KvBackoff(60_000);
    let started = Date.now();
    await backoff.wait(new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);

    const abort = new AbortController();
    for (let i = 0; i < 8; i++) await backoff.wait(aborted);
    expect(backoff.nextDelayMs).toBeGreaterThan(10_000);
    started = Date.now();
    setTimeout(() => abort.abort(), 50);
    await backoff.wait(abort.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
