import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { resolveManagerSettings } from "./settings.js";
import type { SwarmConfig } from "./schema.js";

const base: SwarmConfig = { discovery: "nodes://127.0.0.1:2375" };
const resolve = (config: SwarmConfig) => resolveManagerSettings({ ...base, ...config }, "/tmp");

describe("swarm manage settings", () => {
  it("applies classic defaults", () => {
    const settings = resolve({});
    expect(settings.strategy).toBe("spread");
    expect(settings.filters).toEqual(["health", "port", "containerslots", "dependency", "affinity", "constraint", "whitelist"]);
    expect(settings.hosts).toEqual(["tcp://127.0.0.1:2375"]);
    expect(settings.heartbeat).toBe(60_000);
    expect(settings.engine).toEqual({ refreshMin: 30_000, refreshMax: 60_000, failureRetry: 3 });
    expect(settings.cluster).toEqual({ driver: "swarm", options: {}, overcommit: 0.05, createRetry: 0 });
  });

  it.each<[SwarmConfig, string]>([
    [{ tls: true }, "--tlscert and --tlskey must be provided when using --tls"],
    [{ tlsVerify: true, tlsCert: "c", tlsKey: "k" }, "--tlscacert must be provided when using --tlsverify"],
    [{ tlsCert: "c" }, "--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify"],
    [{ tls: true, tlsCert: "/nonexistent/c", tlsKey: "/nonexistent/k" }, "Couldn't load X509 key pair (/nonexistent/c, /nonexistent/k)"],
    [{ engineRefreshMinInterval: "0s" }, "min refresh interval should be a positive number"],
    [{ engineRefreshMinInterval: "bogus" }, "min refresh interval should be a positive number"],
    [{ engineRefreshMinInterval: "30s", engineRefreshMaxInterval: "20s" }, "max refresh interval cannot be less than min refresh interval"],
    [{ engineRefreshMaxInterval: "-30s" }, "max refresh interval cannot be less than min refresh interval"],
    [{ engineRefreshRetry: 5 }, "--engine-refresh-retry is deprecated. Use --engine-failure-retry"],
    [{ engineFailureRetry: 0 }, "invalid failure retry count"],
    [{ discovery: "" }, "discovery required to manage a cluster. See 'swarm manage --help'."],
    [{ heartbeat: "60" }, 'invalid --heartbeat: time: missing unit in duration "60"'],
    [{ heartbeat: "500ms" }, "--heartbeat should be at least one second"],
    [{ clusterOptions: { "swarm.overcommit": "-2" } }, "swarm.overcommit should be larger than -1, -2.000000 is invalid"],
    [{ clusterOptions: { "swarm.createretry": "-1" } }, "swarm.createretry can not be negative, -1 is invalid"],
    [{ monitorContainers: "500ms" }, "--monitor-containers should be at least one second"],
    [{ monitorConcurrency: 4 }, "--monitor-concurrency needs --monitor-containers <interval>"],
    [{ monitorContainers: "30s", monitorConcurrency: 0 }, "--monitor-concurrency should be at least 1"],
    [{ replication: true }, "--advertise address must be provided when using --leader-election"],
    [{ replication: true, advertise: "127.0.0.1ac:sh25" }, "--advertise should be of the form ip:port or hostname:port"],
    [{ replication: true, advertise: "127.0.0.1:4000", replicationTtl: "0s" }, "--replication-ttl should be a positive number"],
  ])("refuses %j with classic Swarm's message", (config, message) => {
    expect(() => resolve(config)).toThrow(message);
  });

  it("bounds the heap's growth at 35% unless told otherwise, and refuses a growth that is not a whole percentage", () => {
    expect(resolveManagerSettings({ discovery: "nodes://a:1" }, "/").heapGrowthPercent).toBe(35);
    expect(resolveManagerSettings({ discovery: "nodes://a:1", heapGrowth: 0 }, "/").heapGrowthPercent).toBe(0);
    expect(() => resolveManagerSettings({ discovery: "nodes://a:1", heapGrowth: -5 }, "/")).toThrow(
      "invalid --heap-growth -5: give a whole percentage from 0 (V8's own policy) to 1000",
    );
  });

  it("warns about a negative overcommit above -1 and reads createretry with Go's base prefixes", () => {
    const settings = resolve({ clusterOptions: { "swarm.overcommit": "-0.5", "swarm.createretry": "0x2" } });
    expect(settings.warnings).toEqual(["-1 < swarm.overcommit < 0 will make swarm take less resource than docker engine offers"]);
    expect(settings.cluster.createRetry).toBe(2);
  });
});

describe("config file", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is found from a subdirectory of the project and validated as a whole", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swarm-config-"));
    await writeFile(path.join(dir, "package.json"), "{}");
    await writeFile(path.join(dir, "swarm.config.json"), JSON.stringify({ strategy: "binpack", filters: ["health"] }));
    const { mkdir } = await import("node:fs/promises");
    await mkdir(path.join(dir, "sub"));
    const loaded = await loadConfig({ cwd: path.join(dir, "sub") });
    expect(loaded.config).toEqual({ strategy: "binpack", filters: ["health"] });
    expect(loaded.baseDir).toBe(dir);
  });

  it("names every invalid key", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swarm-config-"));
    const file = path.join(dir, ".swarmrc.json");
    await writeFile(file, JSON.stringify({ strategy: 3, colour: "red", engineFailureRetry: "x" }));
    const error = await loadConfig({ explicitFile: file }).catch((err: Error) => err);
    expect((error as Error).message).toContain(`config file ${file} is invalid:`);
    expect((error as Error).message).toContain("/strategy: must be string");
    expect((error as Error).message).toContain("/engineFailureRetry: must be integer");
    expect((error as Error).message).toContain("colour");
  });

  it("accepts a typed JS config", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swarm-config-"));
    await writeFile(path.join(dir, "swarm.config.mjs"), "export default { strategy: 'random', pluginOptions: { random: { seed: 7 } } };");
    const loaded = await loadConfig({ cwd: dir });
    expect(loaded.config).toEqual({ strategy: "random", pluginOptions: { random: { seed: 7 } } });
  });
});
