import { setTimeout as sleep } from "node:timers/promises";
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

/** Reads one sample's value from Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** `--monitor-containers`: what running containers use, sampled from a real engine. */
describe("container monitoring", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  const metrics = async () => (await request(`${manager.url}/metrics`)).body.text();

  beforeAll(async () => {
    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--monitor-containers", "1s", "--monitor-concurrency", "1"] });
    await waitForHealthyNodes(manager, 1);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("sums the CPU and memory of each node's running containers into /metrics and /swarm/status, at one stats call per container per interval", async () => {
    const swarm = (...args: string[]) => docker(manager.dockerHost, args);
    await swarm("run", "-d", "--network", "none", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done");
    // A 20 MiB string held by the shell (ten bytes doubled 21 times), which outlives the sleep.
    await swarm("run", "-d", "--network", "none", "--name", "holder", "busybox", "sh", "-c", 'x=aaaaaaaaaa; i=0; while [ $i -lt 21 ]; do x="$x$x"; i=$((i+1)); done; sleep 600; echo ${#x}');
    const text = await waitFor({
      what: "no CPU use was reported for node-1",
      timeoutMs: 20_000,
      probe: async () => {
        const current = await metrics();
        return (sample(current, 'swarm_node_container_cpu_cores{node="node-1"}') ?? 0) > 0.3 &&
          (sample(current, 'swarm_node_container_memory_bytes{node="node-1"}') ?? 0) > 15_000_000
          ? current
          : undefined;
      },
    });
    expect(sample(text, 'swarm_container_stats_samples_total{result="ok"}')).toBeGreaterThan(0);
    // The containers here have no network: their rates are there, and zero.
    expect(sample(text, 'swarm_node_container_network_receive_bytes_per_second{node="node-1"}')).toBe(0);

    const status = (await (await request(`${manager.url}/swarm/status`)).body.json()) as { nodes: Array<{ name: string; usage: { cpuCores: number; memoryBytes: number; sampled: number } | null }> };
    const usage = status.nodes.find((node) => node.name === "node-1")?.usage;
    expect(usage?.sampled).toBe(2);
    expect(usage?.cpuCores).toBeGreaterThan(0.3);

    // What it costs the engine: one call per running container per interval.
    const calls = async () => sample(await metrics(), 'swarm_engine_requests_total{engine="' + cluster.engines[0]!.host + '",route="GET /containers/{id}/stats",status="200"}') ?? 0;
    const before = await calls();
    await sleep(4_000);
    const made = (await calls()) - before;
    expect(made).toBeGreaterThanOrEqual(4);
    expect(made).toBeLessThanOrEqual(12);
    await swarm("rm", "-f", "busy", "holder");
  });
});
