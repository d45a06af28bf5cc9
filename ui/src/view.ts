/** What the node list shows for a search, a state filter and a grouping: pure, so cheap to reason about. */
import { naturalCompare, type ContainerRow, type NodeStatus } from "./api";

export interface Query {
  /** Matched against the node's name and address, else its containers' names. */
  readonly words: readonly string[];
  /** `k=v`: the label k equals v; `k=`: the node has label k. */
  readonly labels: readonly (readonly [string, string])[];
}

export function parseQuery(text: string): Query {
  const words: string[] = [];
  const labels: [string, string][] = [];
  for (const token of text.trim().toLowerCase().split(/\s+/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    if (eq > 0) labels.push([token.slice(0, eq), token.slice(eq + 1)]);
    else words.push(token);
  }
  return { words, labels };
}

export interface ShownNode {
  readonly node: NodeStatus;
  readonly containers: readonly ContainerRow[];
  /** The containers the search found on this node, when a word matched containers and not the node. */
  readonly matched: readonly ContainerRow[] | null;
}

export interface Group {
  /** The label's value, or null for nodes without the label (and for the single group when not grouping). */
  readonly value: string | null;
  readonly nodes: readonly ShownNode[];
}

const NO_CONTAINERS: readonly ContainerRow[] = [];

export function selectNodes(
  nodes: readonly NodeStatus[],
  containers: ReadonlyMap<string, readonly ContainerRow[]>,
  query: Query,
  state: string,
): ShownNode[] {
  const shown: ShownNode[] = [];
  for (const node of nodes) {
    if (state !== "" && node.state !== state) continue;
    if (!labelsMatch(node, query)) continue;
    const list = containers.get(node.name) ?? NO_CONTAINERS;
    let matched: ContainerRow[] | null = null;
    let ok = true;
    for (const word of query.words) {
      if (node.name.toLowerCase().includes(word) || node.addr.toLowerCase().includes(word)) continue;
      const hits = list.filter((c) => c.name.toLowerCase().includes(word));
      if (hits.length === 0) {
        ok = false;
        break;
      }
      matched = matched === null ? hits : union(matched, hits);
    }
    if (ok) shown.push({ node, containers: list, matched });
  }
  return shown.sort((a, b) => naturalCompare(a.node.name, b.node.name));
}

function labelsMatch(node: NodeStatus, query: Query): boolean {
  for (const [key, value] of query.labels) {
    const entry = Object.entries(node.labels).find(([k]) => k.toLowerCase() === key);
    if (entry === undefined) return false;
    if (value !== "" && entry[1].toLowerCase() !== value) return false;
  }
  return true;
}

function union(a: readonly ContainerRow[], b: readonly ContainerRow[]): ContainerRow[] {
  const seen = new Set(a.map((c) => c.id));
  return [...a, ...b.filter((c) => !seen.has(c.id))];
}

export function groupNodes(shown: readonly ShownNode[], key: string): Group[] {
  if (key === "") return [{ value: null, nodes: shown }];
  const byValue = new Map<string | null, ShownNode[]>();
  for (const entry of shown) {
    const value = entry.node.labels[key] ?? null;
    const list = byValue.get(value);
    if (list) list.push(entry);
    else byValue.set(value, [entry]);
  }
  return [...byValue.entries()]
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : naturalCompare(a, b)))
    .map(([value, nodes]) => ({ value, nodes }));
}

/** Every label key any node has, for the group-by choice. */
export function labelKeys(nodes: readonly NodeStatus[]): string[] {
  const keys = new Set<string>();
  for (const node of nodes) for (const key of Object.keys(node.labels)) keys.add(key);
  return [...keys].sort(naturalCompare);
}

export function countStates(nodes: readonly NodeStatus[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of nodes) counts[node.state] = (counts[node.state] ?? 0) + 1;
  return counts;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${UNITS[unit]}`;
}

export function formatCpus(n: number): string {
  return String(Number(n.toFixed(2)));
}

export function percent(usage: { reserved: number; total: number }): number {
  if (usage.total <= 0) return 0;
  return Math.min(100, Math.max(0, (usage.reserved / usage.total) * 100));
}

export function ago(then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}
