/**
 * A simulated fleet: many Docker engines in one Node process, each on its own loopback port with
 * its own engine ID, host name, resources and labels (the idea of Kubernetes' kubemark hollow
 * nodes). The manager talks to them exactly as it talks to dockerd; they answer at once.
 *
 *   const fleet = await startFleet({ engines: 200, labels: (i) => ({ region: ["eu", "us", "ap"][i % 3]! }) });
 *   // nodes://${fleet.addresses.join(",")}
 *   fleet.stats(); await fleet.clear(); await fleet.stop();
 */
import { randomBytes } from "node:crypto";
import type * as http from "node:http";
import * as os from "node:os";
import { SimulatedEngine, type ImageSpec } from "./engine.js";
import { createEngineServer, type RequestCounter } from "./http.js";
import { SERVER_VERSION } from "./shapes.js";

export { SimulatedEngine } from "./engine.js";
export type { ImageSpec } from "./engine.js";

export interface FleetOptions {
  readonly engines: number;
  /** Where every engine listens; default 127.0.0.1. Ports are ephemeral. */
  readonly host?: string;
  /** Engine labels by index; a label whose value is undefined is left out, so `i === 0 ? { x: "1" } : {}` reads as it should. */
  readonly labels?: (index: number) => Readonly<Record<string, string | undefined>>;
  /** Default 4. */
  readonly cpus?: (index: number) => number;
  /** Bytes; default 8 GiB. */
  readonly memory?: (index: number) => number;
  /** Whether engines have the default `bridge` network (false: like dockerd `--bridge=none`). Default true. */
  readonly bridge?: boolean;
  /** Images every engine starts with; default `busybox:latest`. */
  readonly images?: readonly (string | ImageSpec)[];
  /** Images a pull can fetch; default the starting images. */
  readonly registry?: readonly (string | ImageSpec)[];
  /** Events kept per engine for `since` replays; default 256, as dockerd. */
  readonly eventHistory?: number;
  /** Host names are `<prefix>-0001`…; default `sim`. */
  readonly namePrefix?: string;
}

export interface EngineStats {
  readonly name: string;
  readonly address: string;
  readonly requests: number;
  readonly containers: number;
  readonly running: number;
  readonly byRoute: Readonly<Record<string, number>>;
}

export interface UnansweredCall {
  readonly method: string;
  /** The path with IDs folded to `{id}`, without the version prefix. */
  readonly route: string;
  readonly count: number;
}

export interface FleetStats {
  readonly engines: number;
  /** Requests since the last reset, every engine together. */
  readonly requests: number;
  /** By route template: `POST /containers/create`, `GET /containers/{id}/json`… */
  readonly byRoute: Readonly<Record<string, number>>;
  readonly byEngine: readonly EngineStats[];
  /** Calls answered 501 because the simulation does not model them. */
  readonly unanswered: readonly UnansweredCall[];
  readonly containers: number;
  readonly running: number;
  /** Open `/events` streams. */
  readonly eventStreams: number;
  readonly eventsEmitted: number;
}

export interface Fleet {
  readonly engines: readonly SimulatedEngine[];
  /** `127.0.0.1:PORT` of each engine, in engine order. */
  readonly addresses: readonly string[];
  stats(): FleetStats;
  resetStats(): void;
  /** Every engine back to its starting state (no containers, execs, added networks, volumes or images), without events. */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MAX_UNANSWERED_ROUTES = 500;

/** dockerd's engine ID format: 12 colon-separated groups of 4 base32 characters. */
export function engineId(): string {
  const bytes = randomBytes(48);
  const chars = [...bytes].map((b) => BASE32[b & 31]!);
  const groups: string[] = [];
  for (let i = 0; i < 48; i += 4) groups.push(chars.slice(i, i + 4).join(""));
  return groups.join(":");
}

class Counter implements RequestCounter {
  total = 0;
  readonly byRoute = new Map<string, number>();
  readonly perEngine: Array<Map<string, number>>;
  readonly perEngineTotal: number[];
  readonly unansweredCalls = new Map<string, { method: string; route: string; count: number }>();

  constructor(engines: number) {
    this.perEngine = Array.from({ length: engines }, () => new Map<string, number>());
    this.perEngineTotal = new Array<number>(engines).fill(0);
  }

  count(index: number, route: string): void {
    this.total++;
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    const mine = this.perEngine[index];
    if (mine) mine.set(route, (mine.get(route) ?? 0) + 1);
    this.perEngineTotal[index] = (this.perEngineTotal[index] ?? 0) + 1;
  }

  unanswered(_index: number, method: string, route: string): void {
    let key = `${method} ${route}`;
    if (!this.unansweredCalls.has(key) && this.unansweredCalls.size >= MAX_UNANSWERED_ROUTES) key = `${method} (other routes)`;
    const entry = this.unansweredCalls.get(key) ?? { method, route: key.slice(method.length + 1), count: 0 };
    entry.count++;
    this.unansweredCalls.set(key, entry);
  }

  reset(): void {
    this.total = 0;
    this.byRoute.clear();
    for (const map of this.perEngine) map.clear();
    this.perEngineTotal.fill(0);
    this.unansweredCalls.clear();
  }
}

function toSpec(image: string | ImageSpec): ImageSpec {
  return typeof image === "string" ? { ref: image } : image;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (!Number.isInteger(options.engines) || options.engines < 1) throw new Error(`startFleet: engines must be a positive integer, got ${options.engines}`);
  const host = options.host ?? "127.0.0.1";
  const width = Math.max(4, String(options.engines).length);
  const prefix = options.namePrefix ?? "sim";
  const images = (options.images ?? ["busybox:latest"]).map(toSpec);
  const registry = options.registry?.map(toSpec) ?? images;
  const counter = new Counter(options.engines);
  const engines: SimulatedEngine[] = [];
  const servers: http.Server[] = [];
  const kernel = os.release();
  for (let index = 0; index < options.engines; index++) {
    const engine = new SimulatedEngine({
      identity: {
        index,
        id: engineId(),
        name: `${prefix}-${String(index + 1).padStart(width, "0")}`,
        cpus: options.cpus?.(index) ?? 4,
        memory: options.memory?.(index) ?? 8 * 1024 ** 3,
        labels: definedOnly(options.labels?.(index) ?? {}),
        serverVersion: SERVER_VERSION,
        kernelVersion: kernel,
        operatingSystem: "Simulated Docker Engine",
        rootDir: "/var/lib/docker",
      },
      images,
      registry,
      bridge: options.bridge ?? true,
      eventHistory: options.eventHistory ?? 256,
    });
    engines.push(engine);
    servers.push(createEngineServer(engine, counter));
  }
  const closeAll = async () => {
    for (const engine of engines) engine.shutdown();
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) {
              resolve();
              return;
            }
            server.close(() => resolve());
            // Event streams and keep-alive connections would hold close() open for ever.
            server.closeAllConnections();
          }),
      ),
    );
  };
  try {
    await Promise.all(
      servers.map(
        (server, index) =>
          new Promise<void>((resolve, reject) => {
            // Linux may hand out a port that an outgoing connection already uses as its local
            // port; listen() then fails with EADDRINUSE, and asking again gets another port.
            let attempts = 0;
            const onError = (err: NodeJS.ErrnoException) => {
              if (err.code === "EADDRINUSE" && ++attempts < 20) server.listen(0, host);
              else reject(err);
            };
            server.on("error", onError);
            server.once("listening", () => {
              server.off("error", onError);
              const address = server.address();
              if (address === null || typeof address === "string") {
                reject(new Error("a simulated engine's server has no TCP address"));
                return;
              }
              engines[index]!.bind(host, address.port);
              resolve();
            });
            server.listen(0, host);
          }),
      ),
    );
  } catch (err) {
    await closeAll();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    engines,
    addresses: engines.map((engine) => engine.address),
    stats: () => {
      let containers = 0;
      let running = 0;
      let eventStreams = 0;
      let eventsEmitted = 0;
      const byEngine = engines.map((engine, index) => {
        containers += engine.containerCount;
        running += engine.runningCount;
        eventStreams += engine.events.listeners;
        eventsEmitted += engine.events.emitted;
        return {
          name: engine.name,
          address: engine.address,
          requests: counter.perEngineTotal[index] ?? 0,
          containers: engine.containerCount,
          running: engine.runningCount,
          byRoute: Object.fromEntries(counter.perEngine[index] ?? []),
        };
      });
      return {
        engines: engines.length,
        requests: counter.total,
        byRoute: Object.fromEntries([...counter.byRoute].sort((a, b) => b[1] - a[1])),
        byEngine,
        unanswered: [...counter.unansweredCalls.values()].map((u) => ({ ...u })).sort((a, b) => b.count - a.count),
        containers,
        running,
        eventStreams,
        eventsEmitted,
      };
    },
    resetStats: () => counter.reset(),
    clear: async () => {
      for (const engine of engines) engine.reset();
    },
    stop: () => {
      stopped ??= closeAll();
      return stopped;
    },
  };
}

function definedOnly(labels: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
