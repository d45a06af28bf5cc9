import { setTimeout as wait } from "node:timers/promises";
import type { ClusterReader } from "../cluster/reader.js";
import type { Node } from "../cluster/node.js";
import { errorMessage } from "../errors/catalog.js";
import type { Logger } from "../extension-points/plugin.js";

/** What a node's running containers use, summed, from their latest samples. */
export interface NodeUsage {
  /** CPU time per second of wall time, over the last two samples of each container. */
  readonly cpuCores: number;
  /** Memory in use, page cache excluded (as `docker stats` counts it). */
  readonly memoryBytes: number;
  readonly networkReceiveBytesPerSecond: number;
  readonly networkTransmitBytesPerSecond: number;
  /** Containers whose latest sample is counted. */
  readonly sampled: number;
}

export interface StatsSamplerOptions {
  /** A full round over every running container takes this long, in ms; each is sampled once per round. */
  readonly intervalMs: number;
  /** Stats calls in flight per engine at most. */
  readonly perEngine: number;
}

/** The parts of an engine's one-shot `GET /containers/{id}/stats` answer that are read. */
interface StatsAnswer {
  readonly read?: string;
  readonly cpu_stats?: { readonly cpu_usage?: { readonly total_usage?: number } };
  readonly memory_stats?: { readonly usage?: number; readonly stats?: Readonly<Record<string, number>> };
  readonly networks?: Readonly<Record<string, { readonly rx_bytes?: number; readonly tx_bytes?: number }>>;
}

interface Sample {
  readonly at: number;
  readonly cpuNanos: number;
  readonly memory: number;
  readonly rx: number;
  readonly tx: number;
}

interface ContainerUsage {
  readonly latest: Sample;
  readonly cpuCores: number;
  readonly rxPerSecond: number;
  readonly txPerSecond: number;
}

/**
 * Container monitoring, off unless asked for: every running container is sampled once per round
 * with a one-shot stats call (`stream=false&one-shot=true`: the engine reads its cgroup once and
 * answers at once), the calls of each engine spread evenly over the round and at most `perEngine`
 * at a time, so an engine with N running containers answers N calls per interval and never more
 * than `perEngine` at once. Rates come from two consecutive samples of the same container.
 */
export class StatsSampler {
  /** Per node ID, per container ID. */
  private readonly usage = new Map<string, Map<string, ContainerUsage>>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  samples = 0;
  failures = 0;
  /** Seconds each sample took, for the metrics' histogram. */
  onSample: ((seconds: number, ok: boolean) => void) | undefined;

  constructor(
    private readonly cluster: ClusterReader,
    private readonly options: StatsSamplerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.rounds();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** The summed usage of a node's running containers, or undefined before its first samples. */
  nodeUsage(nodeId: string): NodeUsage | undefined {
    const containers = this.usage.get(nodeId);
    if (!containers || containers.size === 0) return undefined;
    let cpuCores = 0;
    let memoryBytes = 0;
    let rx = 0;
    let tx = 0;
    for (const usage of containers.values()) {
      cpuCores += usage.cpuCores;
      memoryBytes += usage.latest.memory;
      rx += usage.rxPerSecond;
      tx += usage.txPerSecond;
    }
    return { cpuCores, memoryBytes, networkReceiveBytesPerSecond: rx, networkTransmitBytesPerSecond: tx, sampled: containers.size };
  }

  private async rounds(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const started = Date.now();
      const nodes = this.cluster.healthyNodes();
      this.forgetGone(nodes);
      await Promise.all(nodes.map((node) => this.sampleNode(node, signal)));
      await sleep(Math.max(0, this.options.intervalMs - (Date.now() - started)), signal);
    }
  }

  /** One round on one engine: its running containers, spread over the interval, `perEngine` at a time. */
  private async sampleNode(node: Node, signal: AbortSignal): Promise<void> {
    const ids = [...node.containers.values()].filter((record) => record.state.running && !record.provisional).map((record) => record.id);
    const known = this.usage.get(node.id) ?? new Map<string, ContainerUsage>();
    this.usage.set(node.id, known);
    const running = new Set(ids);
    for (const id of known.keys()) if (!running.has(id)) known.delete(id);
    if (ids.length === 0) return;
    const spacing = this.options.intervalMs / ids.length;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!signal.aborted && next < ids.length) {
        const index = next++;
        const due = index * spacing;
        await sleep(Math.max(0, due - (Date.now() - roundStart)), signal);
        if (signal.aborted) return;
        await this.sampleOne(node, ids[index]!, known);
      }
    };
    const roundStart = Date.now();
    await Promise.all(Array.from({ length: Math.min(this.options.perEngine, ids.length) }, worker));
  }

  private async sampleOne(node: Node, id: string, known: Map<string, ContainerUsage>): Promise<void> {
    const started = performance.now();
    try {
      const answer = await node.engine.json<StatsAnswer>("GET", `/containers/${id}/stats`, { query: { stream: "false", "one-shot": "true" } });
      const sample = toSample(answer);
      const before = known.get(id)?.latest;
      const seconds = before ? (sample.at - before.at) / 1000 : 0;
      known.set(id, {
        latest: sample,
        cpuCores: seconds > 0 ? Math.max(0, (sample.cpuNanos - before!.cpuNanos) / 1e9 / seconds) : 0,
        rxPerSecond: seconds > 0 ? Math.max(0, (sample.rx - before!.rx) / seconds) : 0,
        txPerSecond: seconds > 0 ? Math.max(0, (sample.tx - before!.tx) / seconds) : 0,
      });
      this.samples++;
      this.onSample?.((performance.now() - started) / 1000, true);
    } catch (err) {
      // Gone between the listing and the call, or the engine is away: the next round tells.
      known.delete(id);
      this.failures++;
      this.onSample?.((performance.now() - started) / 1000, false);
      this.logger.debug(`Container stats of ${id.slice(0, 12)} failed: ${errorMessage(err)}`, { NodeName: node.name });
    }
  }

  private forgetGone(nodes: readonly Node[]): void {
    const live = new Set(nodes.map((node) => node.id));
    for (const id of this.usage.keys()) if (!live.has(id)) this.usage.delete(id);
  }
}

function toSample(answer: StatsAnswer): Sample {
  const stats = answer.memory_stats?.stats ?? {};
  // cgroup v1 counts page cache as `cache`, v2 as `inactive_file`: neither is the container's own.
  const cache = stats.inactive_file ?? stats.total_inactive_file ?? stats.cache ?? 0;
  let rx = 0;
  let tx = 0;
  for (const network of Object.values(answer.networks ?? {})) {
    rx += network.rx_bytes ?? 0;
    tx += network.tx_bytes ?? 0;
  }
  const read = Date.parse(answer.read ?? "");
  return {
    at: Number.isNaN(read) ? Date.now() : read,
    cpuNanos: answer.cpu_stats?.cpu_usage?.total_usage ?? 0,
    memory: Math.max(0, (answer.memory_stats?.usage ?? 0) - cache),
    rx,
    tx,
  };
}

/** Waits `ms`, or less when the signal aborts first; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => undefined);
}
