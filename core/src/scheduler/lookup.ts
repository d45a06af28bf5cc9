export const SWARM_ID_LABEL = "com.docker.swarm.id";

/** How a reference resolved: one container, several (by name or by ID prefix), or none (undefined). */
export type ContainerResolution<C> =
  | { readonly found: C }
  | { readonly ambiguous: "name" | "prefix"; readonly candidates: readonly C[] }
  | undefined;

/**
 * Resolves a container reference with classic Swarm's rules (§4.4): exact or 12-character ID;
 * exact Swarm ID or its 12-character prefix; a unique name (`x`, `/x`, `<node>/x`); then a
 * unique ID or Swarm ID prefix. A name or prefix several containers share resolves to all of
 * them, so the caller can say which.
 */
export function resolveContainer<C extends ContainerLike>(containers: Iterable<C>, ref: string): ContainerResolution<C> {
  if (ref === "") return undefined;
  const all = [...containers];
  for (const c of all) if (c.id !== "" && (c.id === ref || (ref.length === 12 && c.id.startsWith(ref)))) return { found: c };
  for (const c of all) {
    const swarmId = c.labels[SWARM_ID_LABEL];
    if (swarmId && (swarmId === ref || (ref.length === 12 && swarmId.startsWith(ref)))) return { found: c };
  }
  const byName = all.filter((c) => containerHasName(c, ref));
  if (byName.length === 1) return { found: byName[0]! };
  if (byName.length > 1) return { ambiguous: "name", candidates: byName };
  const byPrefix = all.filter(
    (c) => (c.id !== "" && c.id.startsWith(ref)) || (c.labels[SWARM_ID_LABEL] ?? "").startsWith(ref),
  );
  if (byPrefix.length === 1) return { found: byPrefix[0]! };
  return byPrefix.length > 1 ? { ambiguous: "prefix", candidates: byPrefix } : undefined;
}

/** `resolveContainer`'s single match; ambiguity means "not found", as in classic Swarm. */
export function findContainer<C extends ContainerLike>(containers: Iterable<C>, ref: string): C | undefined {
  const resolution = resolveContainer(containers, ref);
  return resolution && "found" in resolution ? resolution.found : undefined;
}

export interface ContainerLike {
  readonly id: string;
  readonly names: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Name and ID of the node holding it, so `<node>/<name>` references resolve. */
  readonly nodeName?: string;
  readonly nodeId?: string;
}

export function containerHasName(c: ContainerLike, ref: string): boolean {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  for (const name of c.names) {
    const own = name.startsWith("/") ? name.slice(1) : name;
    if (own === bare) return true;
    if (c.nodeName !== undefined && `${c.nodeName}/${own}` === bare) return true;
    if (c.nodeId !== undefined && `${c.nodeId}/${own}` === bare) return true;
  }
  return false;
}
