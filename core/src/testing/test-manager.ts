import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { SwarmConfig } from "../config/schema.js";
import { resolveManagerSettings } from "../config/settings.js";
import type { AnyPluginDefinition } from "../extension-points/plugin.js";
import { startManager, type Manager } from "../manager/manager.js";
import { silentLogger } from "./builders.js";
import { startFleet, type Fleet, type FleetOptions } from "./fleet/fleet.js";

export interface TestManagerOptions {
  /** What a `swarm.config.json` would say: `plugins`, `filters`, `strategy`, `pluginOptions`… (not `discovery` or `hosts`). */
  readonly config?: Omit<SwarmConfig, "discovery" | "hosts">;
  /** Where the config's relative plugin paths are resolved from; default the working directory. */
  readonly baseDir?: string;
  /** Plugin definitions used as if a config named their files: for a plugin's own source under test. */
  readonly plugins?: readonly AnyPluginDefinition[];
  /** How many simulated engines, or the fleet's full options (labels, CPUs, memory per engine); default 3. */
  readonly engines?: number | FleetOptions;
  /** How long the engines have to become healthy; default 10 s. */
  readonly readyTimeoutMs?: number;
}

export interface TestResponse<T> {
  readonly status: number;
  readonly body: T;
}

export interface RunOptions {
  readonly name?: string;
  readonly image?: string;
  /** `-e` values, where classic's `constraint:`, `affinity:` and `whitelist:` expressions go. */
  readonly env?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** `-m`, in bytes. */
  readonly memory?: number;
  /** `-c`, CPU shares (1024 per CPU). */
  readonly cpuShares?: number;
}

export interface TestManager {
  /** `http://127.0.0.1:PORT`: the Docker Engine API, as `docker -H tcp://127.0.0.1:PORT` would use it. */
  readonly url: string;
  /** The simulated engines behind the manager. */
  readonly fleet: Fleet;
  /** One Engine API call; the body is parsed JSON when the answer is JSON. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<TestResponse<T>>;
  /** `docker run -d`: create and start; resolves with the container's ID and the node it landed on, or rejects with the manager's message. */
  run(options?: RunOptions): Promise<{ id: string; node: string }>;
  stop(): Promise<void>;
}

/**
 * A whole manager in this process, in front of simulated engines (no root, no dockerd): the
 * plugins a config names are loaded by the same loader, and requests take the same path as the
 * docker CLI's, so a test sees what a user would.
 */
export async function startTestManager(options: TestManagerOptions = {}): Promise<TestManager> {
  const fleetOptions: FleetOptions = typeof options.engines === "object" ? options.engines : { engines: options.engines ?? 3 };
  const fleet = await startFleet(fleetOptions);
  let manager: Manager | undefined;
  try {
    const settings = resolveManagerSettings(
      { ...options.config, discovery: `nodes://${fleet.addresses.join(",")}`, hosts: ["tcp://127.0.0.1:0"] },
      options.baseDir ?? process.cwd(),
    );
    manager = await startManager(settings, silentLogger, { plugins: options.plugins ?? [] });
    await untilHealthy(manager, fleet.addresses.length, options.readyTimeoutMs ?? 10_000);
  } catch (err) {
    await manager?.stop();
    await fleet.stop();
    throw err;
  }
  const running = manager;
  const url = running.addresses[0]!.replace("tcp://", "http://");
  const call = async <T>(method: string, path: string, body?: unknown): Promise<TestResponse<T>> => {
    const response = await request(`${url}${path}`, {
      method: method as "GET",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    const json = (response.headers["content-type"] ?? "").toString().includes("json") && text !== "";
    return { status: response.statusCode, body: (json ? JSON.parse(text) : text) as T };
  };
  return {
    url,
    fleet,
    call,
    async run(run = {}) {
      const query = run.name === undefined ? "" : `?name=${encodeURIComponent(run.name)}`;
      const created = await call<{ Id?: string; message?: string }>("POST", `/containers/create${query}`, {
        Image: run.image ?? "busybox",
        Env: run.env ?? [],
        Labels: run.labels ?? {},
        HostConfig: { Memory: run.memory ?? 0, CpuShares: run.cpuShares ?? 0 },
      });
      if (created.status !== 201 || !created.body.Id) throw new Error(created.body.message ?? `create answered ${created.status}`);
      const started = await call<{ message?: string }>("POST", `/containers/${created.body.Id}/start`);
      if (started.status !== 204) throw new Error(started.body.message ?? `start answered ${started.status}`);
      const inspected = await call<{ Node?: { Name?: string } }>("GET", `/containers/${created.body.Id}/json`);
      return { id: created.body.Id, node: inspected.body.Node?.Name ?? "" };
    },
    async stop() {
      await running.stop();
      await fleet.stop();
    },
  };
}

async function untilHealthy(manager: Manager, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const healthy = manager.cluster.nodeViews().filter((node) => node.health === "healthy").length;
    if (healthy === count) return;
    if (Date.now() > deadline) throw new Error(`startTestManager: ${healthy} of ${count} simulated engines healthy after ${timeoutMs} ms`);
    await sleep(20);
  }
}
