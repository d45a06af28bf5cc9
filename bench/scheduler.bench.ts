/**
 * Placement decisions per second, in process, on a synthetic cluster: every built-in filter on,
 * each strategy in turn, with p50/p99 per decision. Each decision adds a container to the chosen
 * node (a new node view, as the cluster builds one when a pending container appears), so
 * per-node caches are invalidated as they would be in a busy manager.
 *
 *   npm run bench:scheduler [-- --nodes 1000 --containers 30 --decisions 20000]
 */
import "reflect-metadata";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { ContainerConfig, NodeView, ScheduleRequest } from "@swarm/core";
import { makeContainer, makeImage, makeNode, makeRequest } from "@swarm/core/testing";
import { BUILTIN_PLUGINS, DEFAULT_FILTERS, PluginHost, Scheduler, silentLogger } from "@swarm/core/host";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    containers: { type: "string", default: "30" },
    decisions: { type: "string", default: "20000" },
  },
});
const NODES = Number(values.nodes);
const CONTAINERS = Number(values.containers);
const DECISIONS = Number(values.decisions);

function buildCluster(nodes: number, containersPerNode: number): NodeView[] {
  const cluster: NodeView[] = [];
  for (let n = 0; n < nodes; n++) {
    const name = `node-${n + 1}`;
    const containers = [];
    for (let c = 0; c < containersPerNode; c++) {
      containers.push(
        makeContainer({
          id: `${n.toString(16).padStart(6, "0")}${c.toString(16).padStart(58, "0")}`,
          name: `app-${n}-${c}`,
          labels: { tier: c % 3 === 0 ? "db" : "web", "com.docker.swarm.id": `${n}-${c}` },
          hostConfig: c % 10 === 0 ? { PortBindings: { "80/tcp": [{ HostPort: String(8000 + c) }] } } : {},
          memory: 64 * 1024 ** 2,
          cpus: 0,
        }),
      );
    }
    cluster.push(
      makeNode({
        name,
        id: `ID${n}|10.0.${n >> 8}.${n & 255}:2375`,
        labels: { region: n % 2 === 0 ? "eu" : "us", disk: n % 5 === 0 ? "hdd" : "ssd", storagedriver: "overlay2" },
        images: [makeImage(["busybox:latest"]), makeImage([`app:${n % 7}`])],
        containers,
        totalCpus: 16,
        totalMemory: 64 * 1024 ** 3,
      }),
    );
  }
  return cluster;
}

/**
 * A mix of what users ask: plain runs, constraints (glob, regex, soft), affinities, host ports.
 * Every request reserves memory (128 MiB, one kind 256 MiB), as binpack users do: without
 * reservations binpack would stack all decisions on one node without end.
 */
function requests(): ScheduleRequest[] {
  const memory = (Memory: number, config: ContainerConfig = {}): ContainerConfig => ({ ...config, HostConfig: { ...config.HostConfig, Memory } });
  const MiB = 1024 ** 2;
  return [
    makeRequest({ config: memory(128 * MiB) }),
    makeRequest({ env: ["constraint:region==eu"], config: memory(128 * MiB) }),
    makeRequest({ env: ["constraint:disk!=hdd", "constraint:storagedriver==overlay*"], config: memory(128 * MiB) }),
    makeRequest({ env: ["constraint:node==/node-1[0-9]+/"], config: memory(128 * MiB) }),
    makeRequest({ env: ["affinity:tier!=~db"], config: memory(128 * MiB) }),
    makeRequest({ env: ["affinity:image==app:3"], config: memory(128 * MiB) }),
    makeRequest({ config: memory(128 * MiB, { HostConfig: { PortBindings: { "9090/tcp": [{ HostPort: "9090" }] } } }) }),
    makeRequest({ config: memory(256 * MiB) }),
  ];
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(strategyName: string, nodes: number, containers: number, decisions: number) {
  const host = new PluginHost(silentLogger);
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  await host.load(BUILTIN_PLUGINS.filter((p) => p.includes("filter-") || p.includes("strategy-")), repoRoot);
  const filters = [];
  for (const name of DEFAULT_FILTERS) {
    const plugin = host.registry.get("filter", name)!;
    filters.push({ name, filter: (await host.create("filter", plugin, host.validateOptions(plugin, {}))).instance });
  }
  const strategyPlugin = host.registry.get("strategy", strategyName)!;
  const strategy = (await host.create("strategy", strategyPlugin, host.validateOptions(strategyPlugin, strategyName === "random" ? { seed: 1 } : {}))).instance;
  const scheduler = new Scheduler(filters, { name: strategyName, strategy });

  const cluster = buildCluster(nodes, containers);
  const index = new Map(cluster.map((node, i) => [node.id, i]));
  const mix = requests();
  const timings = new Float64Array(decisions);
  let failures = 0;
  // Warm up the JIT and the caches so the figures describe steady state.
  for (let i = 0; i < 500; i++) scheduler.pick(mix[i % mix.length]!, cluster);
  for (let i = 0; i < decisions; i++) {
    const request = mix[i % mix.length]!;
    const t0 = process.hrtime.bigint();
    try {
      const chosen = scheduler.pick(request, cluster);
      timings[i] = Number(process.hrtime.bigint() - t0) / 1e6;
      // The cluster's bookkeeping (a new view of the chosen node) is not part of the decision.
      const at = index.get(chosen.id)!;
      const added = makeContainer({ name: `new-${i}`, memory: request.memory, pending: true });
      cluster[at] = { ...chosen, containers: [...chosen.containers, added], usedMemory: chosen.usedMemory + request.memory };
    } catch {
      failures++;
      timings[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }
  const decidingMs = timings.reduce((sum, t) => sum + t, 0);
  timings.sort();
  return { perSecond: (decisions / decidingMs) * 1000, p50: percentile(timings, 50), p99: percentile(timings, 99), failures };
}

console.log(`scheduler benchmark — Node ${process.version}, one core, ${DEFAULT_FILTERS.length} filters (${DEFAULT_FILTERS.join(", ")})`);
console.log(`cluster: ${NODES} nodes × ${CONTAINERS} containers (16 CPUs, 64 GiB each), ${DECISIONS} decisions per strategy, request mix of 8 kinds reserving 128-256 MiB each\n`);
console.log("strategy   decisions/s   p50 ms   p99 ms   failed");
for (const strategy of ["spread", "binpack", "random"]) {
  const r = await run(strategy, NODES, CONTAINERS, DECISIONS);
  console.log(`${strategy.padEnd(9)} ${r.perSecond.toFixed(0).padStart(12)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)} ${String(r.failures).padStart(8)}`);
}

console.log("\nscaling (spread, 5000 decisions each):");
console.log("nodes  containers/node   decisions/s   p50 ms   p99 ms");
for (const [nodes, containers] of [[100, 30], [1000, 30], [3000, 30], [1000, 3], [1000, 100]] as const) {
  const r = await run("spread", nodes, containers, 5000);
  console.log(`${String(nodes).padStart(5)} ${String(containers).padStart(17)} ${r.perSecond.toFixed(0).padStart(13)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`);
}
