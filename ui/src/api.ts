/** The manager's answers that the page reads, and how to ask for them. */

export type NodeState = "healthy" | "unhealthy" | "pending" | "disconnected";

export interface Usage {
  readonly reserved: number;
  readonly total: number;
}

export interface NodeStatus {
  readonly id: string;
  readonly name: string;
  readonly addr: string;
  readonly state: NodeState;
  readonly error: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpus: Usage;
  readonly memory: Usage;
  readonly containers: { readonly total: number; readonly running: number };
  /** What the running containers use, with container monitoring on (`--monitor-containers`); null otherwise. */
  readonly usage?: NodeUsage | null;
}

export interface NodeUsage {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly networkReceiveBytesPerSecond: number;
  readonly networkTransmitBytesPerSecond: number;
  readonly sampled: number;
}

export interface FailureReason {
  readonly code: string;
  readonly count: number;
  readonly text: string;
}

export interface SchedulingFailure {
  readonly at: string;
  readonly image: string;
  /** Absent when the create asked for no name. */
  readonly name?: string | null;
  readonly message: string;
  readonly reasons: readonly FailureReason[];
}

export interface SwarmStatus {
  readonly role: "primary" | "replica";
  readonly primary: string | null;
  readonly backend: string;
  readonly strategy: string;
  readonly filters: readonly string[];
  readonly nodes: readonly NodeStatus[];
  readonly scheduling: {
    readonly decisions: number;
    readonly failures: number;
    readonly byReason: Readonly<Record<string, number>>;
    readonly recent: readonly SchedulingFailure[];
  };
}

export interface ContainerRow {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly state: string;
  readonly status: string;
}

/** Docker's /containers/json row, only the fields the page uses. */
interface DockerContainer {
  readonly Id: string;
  readonly Names?: readonly string[] | null;
  readonly Image?: string;
  readonly State?: string;
  readonly Status?: string;
}

/**
 * The manager's API sits at the root the page was served under: `/ui/` means the root, while
 * `/prefix/ui/` (a reverse proxy mounting the manager under a path) means `/prefix`.
 */
export function apiBase(pathname: string): string {
  const at = pathname.lastIndexOf("/ui/");
  return at > 0 ? pathname.slice(0, at) : "";
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text itself is the best explanation there is
    }
    throw new Error(`${url}: ${response.status} ${response.statusText}${message ? ` — ${message.trim()}` : ""}`);
  }
  return (await response.json()) as T;
}

export function fetchStatus(base: string, signal?: AbortSignal): Promise<SwarmStatus> {
  return getJson<SwarmStatus>(`${base}/swarm/status`, signal);
}

/** Every container, keyed by the node it runs on (the first segment of Swarm's `/node/name`). */
export async function fetchContainers(base: string, signal?: AbortSignal): Promise<Map<string, ContainerRow[]>> {
  const rows = await getJson<DockerContainer[]>(`${base}/containers/json?all=1`, signal);
  return groupByNode(rows);
}

export function groupByNode(rows: readonly DockerContainer[]): Map<string, ContainerRow[]> {
  const byNode = new Map<string, ContainerRow[]>();
  for (const row of rows) {
    const { node, name } = splitName(row.Names?.[0] ?? "", row.Id);
    const list = byNode.get(node);
    const entry: ContainerRow = {
      id: row.Id,
      name,
      image: row.Image ?? "",
      state: row.State ?? "",
      status: row.Status ?? "",
    };
    if (list) list.push(entry);
    else byNode.set(node, [entry]);
  }
  for (const list of byNode.values()) list.sort((a, b) => naturalCompare(a.name, b.name));
  return byNode;
}

/** `/node-1/web` → node-1, web. A name without a node part is kept under the empty node name. */
export function splitName(full: string, id: string): { node: string; name: string } {
  const trimmed = full.startsWith("/") ? full.slice(1) : full;
  const slash = trimmed.indexOf("/");
  if (slash < 0) return { node: "", name: trimmed || id.slice(0, 12) };
  return { node: trimmed.slice(0, slash), name: trimmed.slice(slash + 1) };
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** node-2 before node-10. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
