import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/** Live reload: SIGHUP, or a change of the config file with --watch-config. */
describe("reloading the configuration", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let dir: string;
  let config: string;
  const events: Array<Record<string, unknown>> = [];
  let eventsOpen = true;
  const abort = new AbortController();
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const info = async () => (await swarm("info")).stdout;
  const waitForInfo = (pattern: RegExp) =>
    waitFor({ what: `docker info never matched ${String(pattern)}`, timeoutMs: 15_000, probe: async () => (pattern.test(await info()) ? true : undefined) });

  beforeAll(async () => {
    cluster = await startEngines(2, { labels: (i) => ({ region: i === 0 ? "eu" : "us" }) });
    await ensureBusyboxImage(cluster.engines);
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-reload-"));
    config = path.join(dir, "swarm.config.json");
    await writeFile(config, JSON.stringify({ strategy: "spread", filters: ["health", "constraint"] }));
    manager = await startManagerProcess({ cwd: dir, discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`, args: ["--watch-config"] });
    await waitForHealthyNodes(manager, 2);
    // One client follows the events all along: a reload must not cut it.
    const response = await request(`${manager.url}/events`, { signal: abort.signal, bodyTimeout: 0 });
    let buffered = "";
    response.body.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") events.push(JSON.parse(line) as Record<string, unknown>);
    });
    response.body.on("close", () => (eventsOpen = false));
    response.body.on("error", () => undefined);
  });

  afterAll(async () => {
    abort.abort();
    await manager?.stop();
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("applies new filters and a new strategy on SIGHUP, without cutting a client, and says so on /events", async () => {
    expect(await refusal(swarm("run", "-d", "--network", "none", "-e", "constraint:region==mars", "busybox", "true"))).toContain("region==mars");
    // A request in flight across the reload: an attached run that outlives it.
    const attached = spawn("docker", ["-H", manager.dockerHost, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 3; echo survived"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    attached.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => attached.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    await writeFile(config, JSON.stringify({ strategy: "binpack", filters: ["health"] }));
    process.kill(manager.process.pid, "SIGHUP");
    await waitForInfo(/Strategy: binpack\n[\s\S]*Filters: health\n/);

    expect(await exited).toBe(0);
    expect(output.trim()).toBe("survived");
    // Without the constraint filter, the constraint no longer keeps the container off every node.
    const id = (await swarm("run", "-d", "--network", "none", "-e", "constraint:region==mars", "busybox", "true")).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await waitFor({
      what: "no reload event",
      timeoutMs: 5_000,
      probe: async () => (events.some((e) => e.Type === "daemon" && e.Action === "reload") ? true : undefined),
    });
    const reloaded = events.find((e) => e.Type === "daemon" && e.Action === "reload")!;
    expect((reloaded.Actor as { Attributes: Record<string, string> }).Attributes).toMatchObject({ strategy: "binpack", filters: "health" });
    expect(eventsOpen).toBe(true);
  });

  it("refuses an invalid new config with its reasons and keeps the current one, then follows the file when it is fixed", async () => {
    await writeFile(config, JSON.stringify({ strategy: "fastest", filters: ["health"] }));
    await waitFor({
      what: "the refused reload was not logged",
      timeoutMs: 10_000,
      probe: async () => {
        const log = await readFile(manager.process.logFile, "utf8");
        return log.includes("Reload refused, the current configuration stays: strategy not supported: fastest (valid: binpack, random, spread)") ? true : undefined;
      },
    });
    expect(await info()).toContain("Strategy: binpack");
    expect((await swarm("run", "-d", "--network", "none", "busybox", "true")).stdout.trim()).toMatch(/^[0-9a-f]{64}$/);

    await writeFile(config, JSON.stringify({ strategy: "random", filters: ["health", "constraint"], pluginOptions: { random: { seed: 7 } } }));
    await waitForInfo(/Strategy: random\n[\s\S]*Filters: health, constraint\n/);
    expect(await refusal(swarm("run", "-d", "--network", "none", "-e", "constraint:region==mars", "busybox", "true"))).toContain("region==mars");
    expect(eventsOpen).toBe(true);
  });
});

function refusal(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "succeeded",
    (err: Error) => err.message,
  );
}
