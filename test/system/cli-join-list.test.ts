import { execFile } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from "vitest";
import { freePort, spawnManaged, waitFor } from "@swarm/test-harness";
import { SWARM_BIN, logDir } from "../helpers/discovery.js";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI with a clean discovery environment, so the developer's variables cannot leak in. */
function swarm(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base = { ...process.env };
  delete base.SWARM_DISCOVERY;
  delete base.SWARM_ADVERTISE;
  delete base.SWARM_TOKEN_DISCOVERY_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [SWARM_BIN, ...args], { env: { ...base, ...env }, timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Concurrent tests pass their own `expect`, so each failure is reported against the right case. */
const fails = (run: Run, message: string, check: ExpectStatic = expect): void => {
  check(run.code, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(1);
  check(run.stderr.trim()).toBe(message);
};

const ETCD = "etcd://127.0.0.1:1/x";

// Each case is a short-lived process that fails before touching any store: run them side by side.
describe("swarm join flag validation (classic order and messages)", () => {
  it.concurrent.for<[string[], NodeJS.ProcessEnv, string]>([
    [[], {}, "discovery required to join a cluster. See 'swarm join --help'."],
    [[ETCD], {}, "missing mandatory --advertise flag"],
    [["--advertise", "127.0.0.1ac:sh25", ETCD], {}, "--advertise should be of the form ip:port or hostname:port"],
    [["--advertise", ":0", ETCD], {}, "--advertise should be of the form ip:port or hostname:port"],
    [["--advertise", "127.0.0.1:65536", ETCD], {}, "--advertise should be of the form ip:port or hostname:port"],
    [["--addr", "nohost", ETCD], {}, "--advertise should be of the form ip:port or hostname:port"],
    [[ETCD], { SWARM_ADVERTISE: "bad" }, "--advertise should be of the form ip:port or hostname:port"],
    [["--advertise", "127.0.0.1:2375", "--delay", "10", ETCD], {}, 'invalid --delay: time: missing unit in duration "10"'],
    [["--advertise", "127.0.0.1:2375", "--delay", "-5s", ETCD], {}, "--delay should not be a negative number"],
    [["--advertise", "127.0.0.1:2375", "--heartbeat", "x", ETCD], {}, 'invalid --heartbeat: time: invalid duration "x"'],
    [["--advertise", "127.0.0.1:2375", "--heartbeat", "-1s", ETCD], {}, "--heartbeat should be at least one second"],
    [["--advertise", "127.0.0.1:2375", "--heartbeat", "500ms", ETCD], {}, "--heartbeat should be at least one second"],
    [["--advertise", "127.0.0.1:2375", "--ttl", "2x", ETCD], {}, 'invalid --ttl: time: unknown unit "x" in duration "2x"'],
    [["--advertise", "127.0.0.1:2375", "--heartbeat", "10s", "--ttl", "10s", ETCD], {}, "--ttl must be strictly superior to the heartbeat value"],
    [["--advertise", "127.0.0.1:2375", "--discovery-opt", "kv.path", ETCD], {}, "--discovery-opt must contain key=value strings"],
    // Classic order: advertise before delay before heartbeat before ttl before the backend.
    [["--advertise", "bad", "--delay", "-1s", ETCD], {}, "--advertise should be of the form ip:port or hostname:port"],
    [["--advertise", "127.0.0.1:2375", "--delay", "-1s", "--heartbeat", "0s", ETCD], {}, "--delay should not be a negative number"],
    [["--advertise", "127.0.0.1:2375", "--heartbeat", "0s", "--ttl", "0s", ETCD], {}, "--heartbeat should be at least one second"],
    [["--advertise", "127.0.0.1:2375", "--ttl", "1s", "bogus://x"], {}, "--ttl must be strictly superior to the heartbeat value"],
  ])("join %j (env %j)", async ([args, env, message], { expect }) => {
    fails(await swarm(["join", ...args], env), message, expect);
  });

  it("names the supported schemes for an unknown one", async () => {
    const run = await swarm(["join", "--advertise", "127.0.0.1:2375", "bogus://x"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("discovery service not supported");
    for (const scheme of ["consul://", "etcd://", "file://", "nodes://", "token://", "zk://"]) expect(run.stderr).toContain(scheme);
  });

  it("reports an empty token", async () => {
    const run = await swarm(["join", "--advertise", "127.0.0.1:2375", "token://"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("token is empty");
  });
});

describe("swarm join at run time", () => {
  let logs: string;
  beforeAll(() => {
    logs = logDir("swt-cli-join-");
  });

  it("logs every heartbeat, logs (not dies of) register errors, and exits 0 on SIGTERM", async () => {
    const proc = await spawnManaged({
      name: "swarm join on nodes://",
      command: process.execPath,
      args: [SWARM_BIN, "join", "--advertise", "[::1]:2375", "--heartbeat", "1s", "--ttl", "2s", "nodes://127.0.0.1:1"],
      logFile: path.join(logs, "join.log"),
    });
    const lines = await waitFor({
      what: "swarm join did not log two heartbeats",
      timeoutMs: 10_000,
      process: proc,
      probe: async () => {
        const log = await proc.logTail(20);
        const beats = log.split("\n").filter((l) => l.includes("Registering on the discovery service every 1s..."));
        return beats.length >= 2 ? log : undefined;
      },
    });
    expect(lines).toContain("register not implemented in this discovery service");
    expect(lines).toContain('"addr":"[::1]:2375"');
    expect(await proc.stop()).toEqual({ code: 0, signal: null });
  });

  it("logs the random delay it waits before the first registration", async () => {
    const proc = await spawnManaged({
      name: "swarm join with --delay",
      command: process.execPath,
      args: [SWARM_BIN, "join", "--advertise", "127.0.0.1:2375", "--delay", "1s", "--heartbeat", "1s", "--ttl", "2s", "nodes://127.0.0.1:1"],
      logFile: path.join(logs, "join-delay.log"),
    });
    await waitFor({
      what: "swarm join did not log its random delay",
      timeoutMs: 10_000,
      process: proc,
      probe: async () => (/Add a random delay [\d.]+m?s to avoid synchronized registration/.test(await proc.logTail(20)) ? true : undefined),
    });
    expect(await proc.stop()).toEqual({ code: 0, signal: null });
  });
});

describe("swarm list", () => {
  let silentServer: net.Server;
  let silentPort: number;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    // Accepts connections and never answers: a discovery service that hangs.
    silentServer = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silentServer.listen(0, "127.0.0.1", resolve));
    silentPort = (silentServer.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silentServer.close(() => resolve()));
  });

  it.concurrent.for<[string[], string]>([
    [["list"], "discovery required to list a cluster. See 'swarm list --help'."],
    [["list", "--timeout", "-10s", ETCD], "--timeout should be a positive number"],
    [["list", "--timeout", "0s", ETCD], "--timeout should be a positive number"],
    [["list", "--timeout", "ten", ETCD], 'invalid --timeout: time: invalid duration "ten"'],
    [["list", "--discovery-opt", "nope", ETCD], "--discovery-opt must contain key=value strings"],
  ])("%j", async ([args, message], { expect }) => {
    fails(await swarm(args), message, expect);
  });

  it("prints the first batch one per line, IPv6 bracketed, from the argument or $SWARM_DISCOVERY", async () => {
    const run = await swarm(["list", "nodes://10.0.0.[1:2]:2375,[::1]:2376"]);
    expect(run).toEqual({ code: 0, stdout: "10.0.0.1:2375\n10.0.0.2:2375\n[::1]:2376\n", stderr: "" });
    const viaEnv = await swarm(["list"], { SWARM_DISCOVERY: "10.0.0.9:2375" });
    expect(viaEnv.stdout).toBe("10.0.0.9:2375\n");
  });

  it("fails with the watch's error when the store is unreachable", async () => {
    const closed = await freePort();
    const run = await swarm(["list", "--timeout", "5s", `etcd://127.0.0.1:${closed}/x`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`etcd at 127.0.0.1:${closed}`);
  });

  it("fails with Timed out when nothing answers within --timeout", async () => {
    const started = Date.now();
    const run = await swarm(["list", "--timeout", "1s", "token://abc"], { SWARM_TOKEN_DISCOVERY_URL: `http://127.0.0.1:${silentPort}/v1` });
    fails(run, "Timed out");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("swarm create", () => {
  it("takes no arguments", async () => {
    fails(await swarm(["create", "extra"]), "the `create` command takes no arguments. See 'swarm create --help'.");
  });

  it("names the service it could not reach", async () => {
    const closed = await freePort();
    const run = await swarm(["create"], { SWARM_TOKEN_DISCOVERY_URL: `http://127.0.0.1:${closed}/v1` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Failed to create a cluster at http://127.0.0.1:${closed}/v1/clusters`);
    expect(run.stdout).toBe("");
  });
});
