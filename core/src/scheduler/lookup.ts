export const SWARM_ID_LABEL = "com.docker.swarm.id";

/**
 * Finds a container by reference with classic Swarm's rules (§4.4): exact or 12-character ID;
 * exact Swarm ID or its 12-character prefix; a unique name (`x`, `/x`, `<node>/x`); then a
 * unique ID or Swarm ID prefix. Ambiguity means "not found", as in classic Swarm.
 */
export function findContainer<C extends ContainerLike>(
  containers: Iterable<C>,
  ref: string,
): C | undefined {
  if (ref === "") return undefined;
  const all = [...containers];
  for (const c of all) if (c.id !== "" && (c.id === ref || (ref.length === 12 && c.id.startsWith(ref)))) return c;
  for (const c of all) {
    const swarmId = c.labels[SWARM_ID_LABEL];
    if (swarmId && (swarmId === ref || (ref.length === 12 && swarmId.startsWith(ref)))) return c;
  }
  const byName = all.filter((c) => containerHasName(c, ref));
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) return undefined;
  const byPrefix = all.filter(
    (c) => (c.id !== "" && c.id.startsWith(ref)) || (c.labels[SWARM_ID_LABEL] ?? "").startsWith(ref),
  );
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
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
