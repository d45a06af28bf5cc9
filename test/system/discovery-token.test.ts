import { execFile } from "node:child_process";
import * as path from "node:path";
import { expect, it } from "vitest";
import { request } from "undici";
import { freePort, spawnManaged, waitFor, type ManagedProcess } from "@swarm/test-harness";
import { SWARM_BIN, describeStoreDiscovery } from "../helpers/discovery.js";

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

  /** The service keeps nothing on disk: a clean stop is all there is to undo. */
  dispose(): Promise<void> {
    return this.stop();
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

const envOf = (service: TokenService): NodeJS.ProcessEnv => ({ SWARM_TOKEN_DISCOVERY_URL: service.url });

let token: string;

/**
 * token:// end to end: real dockerd engines, the project's token service, and the built CLI. Both
 * URL forms are used: `token://<token>` (the service from SWARM_TOKEN_DISCOVERY_URL) and the host
 * form `token://127.0.0.1:PORT/v1/<token>` (http because the env opts that host in).
 */
describeStoreDiscovery({
  title: "token discovery with real engines",
  storeName: "the token service",
  logPrefix: "swt-disc-token-",
  startStore: async (logs) => {
    const service = new TokenService(await freePort(), logs);
    await service.start();
    return service;
  },
  env: envOf,
  urls: (service, cluster) => {
    const short = `token://${token}`;
    const host = `token://127.0.0.1:${service.port}/v1/${token}`;
    // Each form serves the manager once. The late cluster keeps the token: the restarted service
    // forgot it, and knows it again once an engine registers under it.
    return { joins: [short, host], manage: cluster === "e2e" ? host : short, list: [short, host] };
  },
  firstTests: (service) => {
    it("creates a cluster with swarm create, printing the deprecation notice on stderr", async () => {
      const { stdout, stderr } = await swarmCreate(envOf(service()));
      expect(stdout).toMatch(/^[0-9a-f]{32}\n$/);
      expect(stderr).toBe(
        "Token based discovery is now deprecated and might be removed in the future.\n" +
          "It will be replaced by a default discovery backed by Docker Swarm Mode.\n" +
          "Other mechanisms such as consul and etcd will continue to work as expected.\n",
      );
      token = stdout.trim();
    });
  },
  titles: {
    list: "lists both joined addresses with swarm list, in either URL form",
    restart: "loses no engine for longer than the TTL while the token service restarts (and forgets everything)",
  },
});
