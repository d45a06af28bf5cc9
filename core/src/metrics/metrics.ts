import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ClusterReader } from "../cluster/reader.js";
import type { Engine } from "../engines/engine.js";
import type { DecisionLog } from "../scheduler/decisions.js";
import type { NodeView } from "../extension-points/model.js";
import type { NodeUsage, StatsSampler } from "../monitoring/container-stats.js";

/** What the manager's metrics are read from at scrape time, not on every change. */
export interface MetricSources {
  readonly cluster: ClusterReader;
  /** 1 when this manager is the primary (or runs without replication). */
  readonly isPrimary: () => boolean;
  /** New primaries this manager has seen elected. */
  readonly elections: () => number;
}

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The manager's Prometheus metrics (prom-client), in a registry of its own. Label values are
 * bounded: node names and addresses, route templates, status codes, reason codes; never a
 * container ID. Gauges about the cluster are computed when scraped, from the state the API already
 * keeps; counters are bumped where things happen (engine calls, API requests, decisions).
 */
export class ManagerMetrics {
  readonly registry = new Registry();
  private readonly engineRequests: Counter<"engine" | "route" | "status">;
  private readonly engineDuration: Histogram<"route">;
  private readonly apiRequests: Counter<"route" | "method" | "status">;
  private readonly apiDuration: Histogram<"route" | "method">;
  private readonly discoveryUpdates: Counter;
  private readonly discoveryErrors: Counter;

  /**
   * `sources` is called at scrape time only, so the metrics can exist (and count engine calls)
   * before the cluster they describe is built.
   */
  constructor(decisions: DecisionLog, sources: () => MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "swarm_" });
    const cluster: Pick<ClusterReader, "allNodes" | "nodes"> = {
      allNodes: () => sources().cluster.allNodes(),
      nodes: () => sources().cluster.nodes(),
    };

    new Gauge({
      name: "swarm_nodes",
      help: "Nodes of the cluster by state",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>([["healthy", 0], ["unhealthy", 0], ["pending", 0], ["disconnected", 0]]);
        for (const node of cluster.allNodes()) counts.set(node.engine.state, (counts.get(node.engine.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    new Gauge({
      name: "swarm_containers",
      help: "Containers by node and state (running, paused, stopped)",
      labelNames: ["node", "state"],
      registers,
      collect() {
        this.reset();
        for (const node of cluster.nodes()) {
          for (const [state, count] of Object.entries(node.stateCounts())) this.set({ node: node.name, state }, count);
        }
      },
    });
    const reservedAndTotal = (name: string, help: string, read: (view: NodeView) => readonly [number, number]) =>
      new Gauge({
        name,
        help,
        labelNames: ["node", "kind"],
        registers,
        collect() {
          this.reset();
          for (const node of cluster.nodes()) {
            const [reserved, total] = read(node.view());
            this.set({ node: node.name, kind: "reserved" }, reserved);
            this.set({ node: node.name, kind: "total" }, total);
          }
        },
      });
    reservedAndTotal("swarm_node_cpus", "CPUs of each node: reserved by its containers, and total (with overcommit)", (v) => [v.usedCpus, v.totalCpus]);
    reservedAndTotal("swarm_node_memory_bytes", "Memory of each node: reserved by its containers, and total (with overcommit)", (v) => [v.usedMemory, v.totalMemory]);

    const placed = new Counter({ name: "swarm_scheduling_decisions_total", help: "Placement decisions by result", labelNames: ["result"], registers });
    const failedBy = new Counter({
      name: "swarm_scheduling_failures_total",
      help: "Failed placements by the reason code that rejected nodes (one failure counts under each code it shows)",
      labelNames: ["reason"],
      registers,
    });
    const decisionSeconds = new Histogram({
      name: "swarm_scheduling_duration_seconds",
      help: "Time the filters and strategy took to decide",
      buckets: SECONDS_BUCKETS,
      registers,
    });
    decisions.onDecision(({ seconds, error }) => {
      decisionSeconds.observe(seconds);
      placed.inc({ result: error ? "failed" : "placed" });
      if (error) for (const code of error.codes.keys()) failedBy.inc({ reason: code });
    });

    this.engineRequests = new Counter({
      name: "swarm_engine_requests_total",
      help: "Calls to engines by engine, route and status (0: no answer)",
      labelNames: ["engine", "route", "status"],
      registers,
    });
    this.engineDuration = new Histogram({
      name: "swarm_engine_request_duration_seconds",
      help: "Time until an engine's answer began, by route",
      labelNames: ["route"],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.apiRequests = new Counter({
      name: "swarm_api_requests_total",
      help: "Requests answered by the manager's API, by route, method and status",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.apiDuration = new Histogram({
      name: "swarm_api_request_duration_seconds",
      help: "Time to answer an API request (to its end: streams count whole)",
      labelNames: ["route", "method"],
      buckets: SECONDS_BUCKETS,
      registers,
    });

    const reconnectsSeen = new Map<string, number>();
    new Counter({
      name: "swarm_engine_event_stream_reconnects_total",
      help: "Times an engine's event stream was opened again after it ended",
      labelNames: ["engine"],
      registers,
      collect() {
        for (const node of cluster.allNodes()) {
          const now = node.sync.eventStreamReconnects;
          const before = reconnectsSeen.get(node.addr) ?? 0;
          if (now > before) this.inc({ engine: node.addr }, now - before);
          reconnectsSeen.set(node.addr, now);
        }
      },
    });
    new Gauge({
      name: "swarm_leader",
      help: "1 when this manager is the primary",
      registers,
      collect() {
        this.set(sources().isPrimary() ? 1 : 0);
      },
    });
    let electionsSeen = 0;
    new Counter({
      name: "swarm_leader_elections_total",
      help: "New primaries this manager has seen elected",
      registers,
      collect() {
        const now = sources().elections();
        if (now > electionsSeen) this.inc(now - electionsSeen);
        electionsSeen = now;
      },
    });
    this.discoveryUpdates = new Counter({ name: "swarm_discovery_refreshes_total", help: "Entry lists received from discovery", registers });
    this.discoveryErrors = new Counter({ name: "swarm_discovery_errors_total", help: "Errors reported by discovery", registers });
  }

  /** Container monitoring's figures, per node, from its latest samples. */
  monitor(sampler: StatsSampler, cluster: () => ClusterReader): void {
    const registers = [this.registry];
    const perNode = (name: string, help: string, read: (usage: NodeUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["node"],
        registers,
        collect() {
          this.reset();
          for (const node of cluster().nodes()) {
            const usage = sampler.nodeUsage(node.id);
            if (usage) this.set({ node: node.name }, read(usage));
          }
        },
      });
    perNode("swarm_node_container_cpu_cores", "CPU used by the node's running containers, in cores", (u) => u.cpuCores);
    perNode("swarm_node_container_memory_bytes", "Memory used by the node's running containers, page cache excluded", (u) => u.memoryBytes);
    perNode("swarm_node_container_network_receive_bytes_per_second", "Bytes the node's running containers receive per second", (u) => u.networkReceiveBytesPerSecond);
    perNode("swarm_node_container_network_transmit_bytes_per_second", "Bytes the node's running containers send per second", (u) => u.networkTransmitBytesPerSecond);
    const samples = new Counter({ name: "swarm_container_stats_samples_total", help: "One-shot stats calls made by container monitoring, by result", labelNames: ["result"], registers });
    const seconds = new Histogram({ name: "swarm_container_stats_sample_duration_seconds", help: "Time an engine took to answer one stats call", buckets: SECONDS_BUCKETS, registers });
    sampler.onSample = (took, ok) => {
      samples.inc({ result: ok ? "ok" : "failed" });
      seconds.observe(took);
    };
  }

  /** An engine call's answer began (status) or never came (0). */
  readonly engineCall = (engine: Engine, method: string, path: string, status: number, seconds: number): void => {
    const route = engineRoute(method, path);
    this.engineRequests.inc({ engine: engine.addr, route, status: String(status) });
    this.engineDuration.observe({ route }, seconds);
  };

  apiRequest(route: string, method: string, status: number, seconds: number): void {
    this.apiRequests.inc({ route, method, status: String(status) });
    this.apiDuration.observe({ route, method }, seconds);
  }

  discoveryRefreshed(): void {
    this.discoveryUpdates.inc();
  }

  discoveryFailed(): void {
    this.discoveryErrors.inc();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Object kinds whose next path segment is an ID or a name. */
const BY_ID = new Set(["containers", "exec", "networks", "volumes", "plugins", "secrets", "configs", "services", "tasks", "nodes"]);
/** Image and distribution names have slashes of their own: these end their path when present. */
const IMAGE_ACTIONS = new Set(["json", "history", "push", "tag", "get"]);

/**
 * An engine path as a bounded route label: `POST /containers/{id}/start`, `GET /images/{name}/json`.
 * IDs and names never become label values.
 */
export function engineRoute(method: string, path: string): string {
  const segments = (path.split("?")[0] ?? "").split("/").filter((segment) => segment !== "");
  const [kind, second] = segments;
  if (kind === undefined) return `${method} /`;
  if (BY_ID.has(kind) && second !== undefined && !["json", "create", "prune"].includes(second)) {
    return `${method} /${kind}/{id}${segments.length > 2 ? `/${segments.slice(2).join("/")}` : ""}`;
  }
  if ((kind === "images" || kind === "distribution") && second !== undefined && !["json", "create", "load", "prune", "search", "get"].includes(second)) {
    const last = segments.at(-1)!;
    return `${method} /${kind}/{name}${segments.length > 2 && IMAGE_ACTIONS.has(last) ? `/${last}` : ""}`;
  }
  return `${method} /${segments.join("/")}`;
}
