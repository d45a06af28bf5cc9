import { createRequire } from "node:module";
import type SortedBTree from "sorted-btree";
import type { ContainerRecord } from "./container-record.js";

// sorted-btree is CommonJS with its class on `exports.default`, which Node's ESM loader and
// Vite's interop present differently; `require` reads it the same way under both.
const BTree = (createRequire(import.meta.url)("sorted-btree") as typeof SortedBTree).default;

/** How a reference resolved: one container, several (by name or by ID prefix), or none (undefined). */
export type Resolution =
  | { readonly found: ContainerRecord }
  | { readonly ambiguous: "name" | "prefix"; readonly candidates: readonly ContainerRecord[] }
  | undefined;

/** Finds nodes by name or ID, for `<node>/<name>` references. */
export type NodeMatcher = (nodeRef: string) => ReadonlySet<string> | undefined;

export interface ContainerCounts {
  readonly running: number;
  readonly paused: number;
  readonly stopped: number;
}

const SHORT_ID = 12;

/**
 * Every container of the cluster, indexed for each way a request names one: full ID, ID prefix,
 * name, `<node>/<name>`, Swarm ID (and its prefix) and exec ID. Each lookup costs O(1) or
 * O(log n) in the number of containers; a name several nodes share costs the number of them.
 * Running/paused/stopped counts are kept as records come and go, for `docker info`.
 */
export class ContainerIndex {
  private readonly byId = new Map<string, ContainerRecord>();
  /** IDs in order, for prefix lookups. */
  private readonly ids = new BTree<string, true>();
  private readonly bySwarmId = new Map<string, OneOrMany>();
  /** Swarm IDs in order, for prefix lookups; the containers of each are in `bySwarmId`. Keyed by the label's own string, so it costs no copy. */
  private readonly swarmIds = new BTree<string, true>();
  private readonly byName = new Map<string, OneOrMany>();
  private readonly execs = new Map<string, string>();
  private readonly execsOf = new Map<string, OneOrMany>();
  private running = 0;
  private paused = 0;
  private stopped = 0;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<ContainerRecord> {
    return this.byId.values();
  }

  counts(): ContainerCounts {
    return { running: this.running, paused: this.paused, stopped: this.stopped };
  }

  /** Adds a record, or replaces the record with its ID (most often with the same names and IDs). */
  put(record: ContainerRecord): void {
    const previous = this.byId.get(record.id);
    this.byId.set(record.id, record);
    if (previous) this.count(previous, -1);
    else this.ids.set(record.id, true);
    this.count(record, 1);
    const swarmId = record.swarmId;
    if (previous?.swarmId !== swarmId) {
      if (previous?.swarmId !== undefined) this.unindexSwarmId(previous.swarmId, record.id);
      if (swarmId !== undefined) {
        addTo(this.bySwarmId, swarmId, record.id);
        this.swarmIds.set(swarmId, true);
      }
    }
    if (previous?.name !== record.name) {
      if (previous !== undefined && previous.name !== "") removeFrom(this.byName, previous.name, record.id);
      if (record.name !== "") addTo(this.byName, record.name, record.id);
    }
  }

  remove(id: string): ContainerRecord | undefined {
    const record = this.byId.get(id);
    if (!record) return undefined;
    if (record.swarmId !== undefined) this.unindexSwarmId(record.swarmId, id);
    if (record.name !== "") removeFrom(this.byName, record.name, id);
    this.count(record, -1);
    this.byId.delete(id);
    this.ids.delete(id);
    for (const execId of each(this.execsOf.get(id))) this.execs.delete(execId);
    this.execsOf.delete(id);
    return record;
  }

  private unindexSwarmId(swarmId: string, id: string): void {
    removeFrom(this.bySwarmId, swarmId, id);
    if (!this.bySwarmId.has(swarmId)) this.swarmIds.delete(swarmId);
  }

  private count(record: ContainerRecord, delta: number): void {
    if (record.state.paused) this.paused += delta;
    else if (record.state.running) this.running += delta;
    else this.stopped += delta;
  }

  addExec(containerId: string, execId: string): void {
    if (!this.byId.has(containerId)) return;
    this.execs.set(execId, containerId);
    addTo(this.execsOf, containerId, execId);
  }

  findExec(execId: string): ContainerRecord | undefined {
    const id = this.execs.get(execId);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Whether a name is taken by a container of the cluster. */
  hasName(name: string): boolean {
    return this.byName.has(stripSlash(name));
  }

  /** Containers with this name, on any node. */
  named(name: string): ContainerRecord[] {
    return this.records(this.byName.get(stripSlash(name)));
  }

  withSwarmId(swarmId: string): ContainerRecord[] {
    return this.records(this.bySwarmId.get(swarmId));
  }

  /**
   * Resolves a reference with classic Swarm's rules (§4.4), in its order: full or 12-character
   * ID; full or 12-character Swarm ID; a name (`x`, `/x`, `<node>/x`); then a unique prefix of
   * an ID or a Swarm ID. A name or prefix several containers share resolves to them all (a prefix
   * stops at the first two: that is enough to refuse it).
   */
  resolve(ref: string, nodes: NodeMatcher): Resolution {
    if (ref === "") return undefined;
    const exact = this.byId.get(ref);
    if (exact) return { found: exact };
    if (ref.length === SHORT_ID) {
      const short = this.idsWithPrefix(ref, 1)[0];
      if (short) return { found: short };
    }
    const bySwarm = this.bySwarmId.get(ref);
    if (bySwarm !== undefined) return { found: this.byId.get(first(bySwarm))! };
    if (ref.length === SHORT_ID) {
      const short = this.swarmIdsWithPrefix(ref, 1)[0];
      if (short) return { found: short };
    }
    const byName = this.resolveName(stripSlash(ref), nodes);
    if (byName.length === 1) return { found: byName[0]! };
    if (byName.length > 1) return { ambiguous: "name", candidates: byName };
    const prefixed = new Map<string, ContainerRecord>();
    for (const record of this.idsWithPrefix(ref, 2)) prefixed.set(record.id, record);
    for (const record of this.swarmIdsWithPrefix(ref, 2)) prefixed.set(record.id, record);
    const candidates = [...prefixed.values()];
    if (candidates.length === 1) return { found: candidates[0]! };
    return candidates.length > 1 ? { ambiguous: "prefix", candidates } : undefined;
  }

  private resolveName(bare: string, nodes: NodeMatcher): ContainerRecord[] {
    const plain = this.byName.get(bare);
    if (plain) return this.records(plain);
    // `<node>/<name>`: container names cannot hold a slash, node names and IDs do not either.
    const slash = bare.lastIndexOf("/");
    if (slash <= 0) return [];
    const nodeIds = nodes(bare.slice(0, slash));
    if (!nodeIds) return [];
    return this.records(this.byName.get(bare.slice(slash + 1))).filter((record) => nodeIds.has(record.nodeId));
  }

  private idsWithPrefix(prefix: string, limit: number): ContainerRecord[] {
    const found: ContainerRecord[] = [];
    for (const [id] of this.ids.entries(prefix)) {
      if (!id.startsWith(prefix) || found.length === limit) break;
      found.push(this.byId.get(id)!);
    }
    return found;
  }

  private swarmIdsWithPrefix(prefix: string, limit: number): ContainerRecord[] {
    const found: ContainerRecord[] = [];
    for (const [swarmId] of this.swarmIds.entries(prefix)) {
      if (!swarmId.startsWith(prefix)) break;
      for (const id of each(this.bySwarmId.get(swarmId))) {
        if (found.length === limit) return found;
        found.push(this.byId.get(id)!);
      }
    }
    return found;
  }

  private records(ids: OneOrMany | undefined): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of each(ids)) out.push(this.byId.get(id)!);
    return out;
  }
}

function stripSlash(name: string): string {
  return name.startsWith("/") ? name.slice(1) : name;
}

/**
 * The IDs one key maps to. Nearly every name and Swarm ID belongs to one container, so a lone ID is
 * held as itself and a Set is made only for a key several containers share.
 */
type OneOrMany = string | Set<string>;

function* each(ids: OneOrMany | undefined): Generator<string> {
  if (typeof ids === "string") yield ids;
  else if (ids) yield* ids;
}

function first(ids: OneOrMany): string {
  return typeof ids === "string" ? ids : (ids.values().next().value as string);
}

function addTo(map: Map<string, OneOrMany>, key: string, value: string): void {
  const ids = map.get(key);
  if (ids === undefined) map.set(key, value);
  else if (typeof ids === "string") {
    if (ids !== value) map.set(key, new Set([ids, value]));
  } else ids.add(value);
}

function removeFrom(map: Map<string, OneOrMany>, key: string, value: string): void {
  const ids = map.get(key);
  if (ids === undefined) return;
  if (typeof ids === "string") {
    if (ids === value) map.delete(key);
    return;
  }
  ids.delete(value);
  if (ids.size === 1) map.set(key, first(ids));
}
