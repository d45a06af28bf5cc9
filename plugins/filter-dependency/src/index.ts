import { PASS, defineFilter, findContainer, reject } from "@swarm/core";
import type { ContainerConfig, ContainerLike, FilterVerdict, NodeView, ScheduleRequest } from "@swarm/core";

export const REASON_MISSING_DEPENDENCY = "dependency.missing";

export interface Dependency {
  /** The container reference to resolve on the node (`b1`, `/b1`, `node-1/b1`, an ID). */
  readonly ref: string;
  /** As classic Swarm lists it: `--volumes-from=/b1:ro`, `--link=/b1:foo`, `--net=container:b1`. */
  readonly condition: string;
}

const CONTAINER_NET = "container:";

const beforeColon = (entry: string): string => entry.split(":", 1)[0] ?? "";

/** The containers a request must sit next to, in classic Swarm's order. */
export function dependencies(config: Readonly<ContainerConfig>): Dependency[] {
  const hostConfig = config.HostConfig ?? {};
  const result: Dependency[] = [];
  for (const entry of hostConfig.VolumesFrom ?? []) {
    result.push({ ref: beforeColon(entry), condition: `--volumes-from=${entry}` });
  }
  for (const entry of hostConfig.Links ?? []) {
    result.push({ ref: beforeColon(entry), condition: `--link=${entry}` });
  }
  const netMode = hostConfig.NetworkMode ?? "";
  if (netMode.startsWith(CONTAINER_NET)) {
    result.push({ ref: netMode.slice(CONTAINER_NET.length), condition: `--net=${netMode}` });
  }
  return result;
}

interface NodeContainers {
  readonly containers: readonly ContainerLike[];
  /** Lookup results by reference; the node snapshot never changes, so neither do they. */
  readonly resolved: Map<string, boolean>;
}

const MEMO_LIMIT = 1024;
const perNode = new WeakMap<NodeView, NodeContainers>();

export function resolvesOn(node: NodeView, ref: string): boolean {
  let entry = perNode.get(node);
  if (entry === undefined) {
    // Naming the node lets `node-1/b1` resolve, as in classic Swarm's lookup.
    const containers = node.containers.map((c) => ({ id: c.id, names: c.names, labels: c.labels, nodeName: node.name, nodeId: node.id }));
    entry = { containers, resolved: new Map() };
    perNode.set(node, entry);
  }
  let found = entry.resolved.get(ref);
  if (found === undefined) {
    found = findContainer(entry.containers, ref) !== undefined;
    if (entry.resolved.size >= MEMO_LIMIT) entry.resolved.clear();
    entry.resolved.set(ref, found);
  }
  return found;
}

export default defineFilter({
  name: "dependency",
  apiVersion: "^1",
  description: "Keeps nodes holding every container the request depends on (--volumes-from, --link, --net=container:).",
  create() {
    return {
      prepare(request) {
        const checks = dependencies(request.config).map((dependency) => ({
          ref: dependency.ref,
          verdict: reject(REASON_MISSING_DEPENDENCY, `node(s) lack dependency ${dependency.condition}`),
        }));
        if (checks.length === 0) return undefined;
        return {
          judge(node): FilterVerdict {
            for (const { ref, verdict } of checks) if (!resolvesOn(node, ref)) return verdict;
            return PASS;
          },
        };
      },
      conditions: (request: ScheduleRequest) => dependencies(request.config).map((d) => d.condition),
    };
  },
});
