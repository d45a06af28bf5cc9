import { Readable } from "node:stream";
import type { FastifyRequest } from "fastify";
import { RawRequestBody } from "../engines/raw-body.js";
import type { EventHub } from "../cluster/events.js";
import type { ClusterReader } from "../cluster/reader.js";
import type { ClusterBackend } from "../extension-points/cluster-backend.js";
import type { Logger } from "../extension-points/plugin.js";
import { errors, type SwarmError } from "../errors/catalog.js";
import type { ReplicaRouting } from "./replica.js";
import type { DecisionLog } from "../scheduler/decisions.js";
import type { ManagerMetrics } from "../metrics/metrics.js";
import type { NodeUsage } from "../monitoring/container-stats.js";

/** What route handlers may use. */
export interface ApiContext {
  /** What the API reads: nodes, containers and what else the engines hold. */
  readonly cluster: ClusterReader;
  /** Where containers are created (placement included), and the backend's `docker info` lines. */
  readonly backend: ClusterBackend;
  /** The backend plugin's name (`swarm`, `mesos`), shown by `docker info`. */
  readonly backendName: string;
  readonly events: EventHub;
  readonly logger: Logger;
  readonly strategyName: string;
  readonly filterNames: readonly string[];
  readonly experimental: boolean;
  readonly cors: boolean;
  readonly refreshOnNodeFilter: boolean;
  readonly containerNameRefreshFilter: string;
  /** `[["Role","primary"]]` or the replica's lines. */
  readonly roleLines: () => Array<[string, string]>;
  /** Every placement decision: counts, failures by reason, the latest failures. */
  readonly decisions: DecisionLog;
  /** The manager's Prometheus metrics, served at /metrics, and told of every API request. */
  readonly metrics?: ManagerMetrics | undefined;
  /** With container monitoring: what a node's running containers use. */
  readonly containerUsage?: ((nodeId: string) => NodeUsage | undefined) | undefined;
  /** With `--replication`: where requests go while this manager is a replica. */
  readonly replica?: ReplicaRouting | undefined;
}

export { MIN_API_VERSION, compareApiVersions } from "../cluster/api-version.js";

/**
 * The JSON body of a route that reads one (create, exec, network and volume create, connect), or
 * undefined when there is none. A body of another content type is refused as dockerd refuses it:
 * the content-type parser left it unread, as a stream.
 */
export function jsonBody(request: FastifyRequest): unknown {
  const body = request.body;
  if (body === undefined || body === null) return undefined;
  if (body instanceof Readable || body instanceof RawRequestBody) {
    throw errors.JsonContentTypeRequired({ contentType: request.headers["content-type"] ?? "" });
  }
  return body;
}

/** Docker's boolean query rule: false iff empty, 0, no, false or none. */
export function queryBool(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const v = value.trim().toLowerCase();
  return !(v === "" || v === "0" || v === "no" || v === "false" || v === "none");
}

export function queryInt(value: unknown, fallback = 0): number {
  if (typeof value !== "string") return fallback;
  const n = Number.parseInt(value, 10);
  return Number.isNaN(n) ? fallback : n;
}

export type Query = Record<string, string | undefined>;

export function query(request: FastifyRequest): Query {
  return request.query as Query;
}

export type Filters = Record<string, string[]>;

/** Parses Docker's `filters` JSON (both `{"k":["v"]}` and the legacy `{"k":{"v":true}}` forms). */
export function parseFilters(raw: string | undefined): Filters {
  if (raw === undefined || raw === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw errors.FilterNotJson({ filter: raw });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw errors.InvalidFilter({ filter: raw });
  }
  const out: Filters = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) out[key] = value.map(String);
    else if (typeof value === "object" && value !== null) out[key] = Object.keys(value);
    else throw errors.InvalidFilter({ filter: key });
  }
  return out;
}

/** A `label` filter entry (`key` or `key=value`) against a label map. */
export function labelMatches(labels: Readonly<Record<string, string>>, filter: string): boolean {
  const eq = filter.indexOf("=");
  if (eq < 0) return Object.hasOwn(labels, filter);
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

const NO_SUCH = {
  container: { missing: errors.NoSuchContainer, ambiguous: errors.AmbiguousContainerName },
  network: { missing: errors.NoSuchNetwork, ambiguous: errors.AmbiguousNetworkName },
  volume: { missing: errors.NoSuchVolume, ambiguous: errors.AmbiguousVolumeName },
  // Classic Swarm's delete message has no colon; scripts match on it.
  "network to remove": { missing: errors.NoSuchNetworkToRemove, ambiguous: errors.AmbiguousNetworkNameToRemove },
} as const;

/**
 * `No such <kind>: <ref>`, the text scripts match on, with the node-qualified names a plain name
 * could have meant when several nodes hold one (`node-1/web`, `node-2/web`).
 */
export function noSuch(kind: keyof typeof NO_SUCH, ref: string, sameName: readonly string[] = []): SwarmError {
  const { missing, ambiguous } = NO_SUCH[kind];
  if (sameName.length < 2) return missing({ ref });
  return ambiguous({ ref, count: sameName.length, names: [...sameName].sort().join(", ") });
}
