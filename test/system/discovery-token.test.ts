import { execFile } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import {
  freePort,
  spawnManaged,
  startEngines,
  startTestManager,
  waitFor,
  type ManagedProcess,
  type TestEngine,
  type TestEngines,
  type TestManager,
} from "@swarm/core/testing";
import {
  MANAGER_ARGS,
  SWARM_BIN,
  TTL_MS,
  dockerInfoNodes,
  logDir,
  longestOutage,
  recordEvents,
  restartStoreSeenByManager,
  startJoin,
  swarmList,
  waitForNodes,
} from "../helpers/discovery.js";

/** The token service as users run it: `swarm discovery serve`, stopped and restarted on one port. */
class TokenService {
  private proc: ManagedProcess | undefined;
  private starts = 0;
  constructor(
    readonly port: number,
    private readonly logs: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<void> {
    this.starts += 1;
    const proc = await spawnManaged({
      name: `swarm discovery serve on 127.0.0.1:${this.port}`,
      command: process.execPath,
      args: [SWARM_BIN, "discovery", "serve", "--addr", `127.0.0.1:${this.port}`],
      logFile: path.join(this.logs, `token-service-${this.starts}.log`),
      graceMs: 5_000,
    });
    this.proc = proc;
    await waitFor({
      what: `the token service did not answer on ${this.url}`,
      timeoutMs: 15_000,
      process: proc,
      probe: async (signal) => {
        const res = await request(`${this.url}/clusters/readiness-probe`, { signal });
        await res.body.text();
        return res.statusCode === 404 ? true : undefined;
      },
    });
    expect((await proc.logTail(5)).split("\n")[0]).toBe(this.url);
  }

  async stop(): Promise<void> {
    const info = await this.proc?.stop();
    if (info) expect(info).toEqual({ code: 0, signal: null });
  }
}

function swarmCreate(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SWARM_BIN, "create"], { env: { ...process.env, ...env }, timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`swarm create failed: ${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** token:// end to end: real dockerd engines, the project's token service, and the built CLI. */
describe("token discovery with real engines", () => {
  let cluster: TestEngines;
  let service: TokenService;
  let logs: string;
  let manager: TestManager | undefined;
  const joins = new Map<string, ManagedProcess>();
  let e1: TestEngine;
  let e2: TestEngine;
  let token: string;
  let env: NodeJS.ProcessEnv;
  /** The host form: `token://127.0.0.1:PORT/v1/<token>` (http because the env opts that host in). */
  let hostUrl: string;

  const join = async (engine: TestEngine, url: string): Promise<void> => {
    await joins.get(engine.host)?.stop();
    joins.set(engine.host, await startJoin(url, engine.host, logs, env));
  };

  beforeAll(async () => {
    logs = logDir("swt-disc-token-");
    service = new TokenService(await freePort(), logs);
    [cluster] = await Promise.all([startEngines(2), service.start()]);
    [e1, e2] = cluster.engines as [TestEngine, TestEngine];
    env = { SWARM_TOKEN_DISCOVERY_URL: service.url };
  });

  afterAll(async () => {
    await Promise.all([...joins.values()].map((p) => p.stop()));
    await manager?.stop();
    await service?.stop();
    await cluster?.stopAll();
  });

  it("creates a cluster with swarm create, printing the deprecation notice on stderr", async () => {
    const { stdout, stderr } = await swarmCreate(env);
    expect(stdout).toMatch(/^[0-9a-f]{32}\n$/);
    expect(stderr).toBe(
      "Token based discovery is now deprecated and might be removed in the future.\n" +
        "It will be replaced by a default discovery backed by Docker Swarm Mode.\n" +
        "Other mechanisms such as consul and etcd will continue to work as expected.\n",
    );
    token = stdout.trim();
    hostUrl = `token://127.0.0.1:${service.port}/v1/${token}`;
  });

  it("finds an engine that joined before the manager started, and one that joins later", async () => {
    await join(e1, `token://${token}`);
    await waitFor({
      what: "swarm list did not show the first join",
      timeoutMs: 15_000,
      probe: async () => ((await swarmList(`token://${token}`, env)).includes(e1.host) ? true : undefined),
    });
    manager = await startTestManager({ discovery: hostUrl, args: [...MANAGER_ARGS], env });
    await waitForNodes(manager, [e1.host], "engine joined before the manager");
    await join(e2, hostUrl);
    await waitForNodes(manager, [e1.host, e2.host], "engine joined after the manager");
    expect(await dockerInfoNodes(manager)).toBe(2);
  });

  it("lists both joined addresses with swarm list, in either URL form", async () => {
    expect((await swarmList(`token://${token}`, env)).sort()).toEqual([e1.host, e2.host].sort());
    expect((await swarmList(hostUrl, env)).sort()).toEqual([e1.host, e2.host].sort());
  });

  it("drops a killed join's engine once its TTL expires, with engine_disconnect, and takes it back when it joins again", async () => {
    const events = await recordEvents(manager!);
    try {
      const killedAt = Date.now();
      await joins.get(e2.host)!.kill();
      await waitForNodes(manager!, [e1.host], "after killing the second join");
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS - 1_000 - 200);
      await events.waitFor("engine_disconnect", e2);
      expect(await dockerInfoNodes(manager!)).toBe(1);
      await join(e2, hostUrl);
      await waitForNodes(manager!, [e1.host, e2.host], "after joining again");
    } finally {
      events.stop();
    }
  });

  it("loses no engine for longer than the TTL while the token service restarts (and forgets everything)", async () => {
    const { longestMs, samples } = await longestOutage(manager!, [e1.host, e2.host], () => restartStoreSeenByManager(manager!, service), TTL_MS + 2_000);
    console.info(`longest outage seen by the manager: ${longestMs} ms`);
    expect(samples).toBeGreaterThan(10);
    expect(longestMs).toBeLessThanOrEqual(TTL_MS);
    await waitForNodes(manager!, [e1.host, e2.host], "after the restart");
  });

  it("converges when the manager and the joins start before the token service", async () => {
    await Promise.all([...joins.values()].map((p) => p.stop()));
    joins.clear();
    await manager?.stop();
    manager = undefined;
    await service.stop();

    await join(e1, `token://${token}`);
    await join(e2, hostUrl);
    manager = await startTestManager({ discovery: `token://${token}`, args: [...MANAGER_ARGS], env });
    const early = manager;
    await waitFor({
      what: "the manager did not report the missing token service",
      timeoutMs: 15_000,
      probe: async () => ((await early.logTail(50)).includes("Discovery error") ? true : undefined),
    });
    await service.start();
    await waitForNodes(manager, [e1.host, e2.host], "after the token service came up", 30_000);
  });
});
