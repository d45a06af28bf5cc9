import { PASS, defineFilter, reject } from "@swarm/core";
import type { ContainerConfig, FilterVerdict, NodeView, PortBinding, PreparedFilter, ScheduleRequest } from "@swarm/core";

export const REASON_PORT_IN_USE = "port.in-use";
export const REASON_HOST_PORT_IN_USE = "port.host-mode-in-use";

/** Ports a node already holds, derived once per node snapshot. */
interface PortIndex {
  /** Exposed port keys (`80/tcp`) of host-network containers. */
  readonly hostMode: ReadonlySet<string>;
  /** Host port → the host IPs it is bound on (bridge mode; empty HostPorts left out). */
  readonly bridge: ReadonlyMap<string, readonly string[]>;
}

const indices = new WeakMap<NodeView, PortIndex>();
/**
 * Which node snapshots hold a port, filled as snapshots are indexed (bounded by the port space).
 * `prepare` uses it to see that no candidate holds any requested port and then skips per-node
 * judging, the usual case.
 */
const bridgeHolders = new Map<string, WeakSet<NodeView>>();
const hostModeHolders = new Map<string, WeakSet<NodeView>>();

function addHolder(holders: Map<string, WeakSet<NodeView>>, port: string, node: NodeView): void {
  let set = holders.get(port);
  if (set === undefined) holders.set(port, (set = new WeakSet()));
  set.add(node);
}

function portIndex(node: NodeView): PortIndex {
  let index = indices.get(node);
  if (index !== undefined) return index;
  const hostMode = new Set<string>();
  const bridge = new Map<string, string[]>();
  const addBindings = (map: Readonly<Record<string, readonly PortBinding[] | null>> | null | undefined): void => {
    for (const bindings of Object.values(map ?? {})) {
      for (const binding of bindings ?? []) {
        const hostPort = binding.HostPort ?? "";
        if (hostPort === "") continue;
        const ips = bridge.get(hostPort);
        if (ips === undefined) bridge.set(hostPort, [binding.HostIp ?? ""]);
        else ips.push(binding.HostIp ?? "");
      }
    }
  };
  for (const container of node.containers) {
    // Requested bindings cover stopped containers; actual ones cover `-p 80` dynamic ports.
    addBindings(container.hostConfig.PortBindings);
    if (container.pending) continue;
    addBindings(container.ports);
    if (container.hostConfig.NetworkMode === "host") {
      for (const port of Object.keys(container.exposedPorts)) hostMode.add(port);
    }
  }
  index = { hostMode, bridge };
  indices.set(node, index);
  for (const port of hostMode) addHolder(hostModeHolders, port, node);
  for (const port of bridge.keys()) addHolder(bridgeHolders, port, node);
  return index;
}

export function bindsAllInterfaces(hostIp: string): boolean {
  // No address, 0.0.0.0, or any spelling of the IPv6 unspecified address (`::`, `0:0:…:0`).
  return hostIp === "" || hostIp === "0.0.0.0" || (hostIp.includes(":") && /^[0:]+$/.test(hostIp));
}

/** The bindings of a bridge-mode request, in classic Swarm's order and spelling. */
export function requestedBindings(config: Readonly<ContainerConfig>): PortBinding[] {
  const result: PortBinding[] = [];
  for (const bindings of Object.values(config.HostConfig?.PortBindings ?? {})) result.push(...(bindings ?? []));
  return result;
}

function isHostMode(config: Readonly<ContainerConfig>): boolean {
  return config.HostConfig?.NetworkMode === "host";
}

/** Does one of `nodes` hold one of `ports`? */
function anyHeld(holders: Map<string, WeakSet<NodeView>>, ports: readonly string[], nodes: readonly NodeView[]): boolean {
  if (ports.length === 0) return false;
  for (const node of nodes) if (!indices.has(node)) portIndex(node);
  const sets = ports.flatMap((port) => holders.get(port) ?? []);
  return sets.length > 0 && nodes.some((node) => sets.some((set) => set.has(node)));
}

function prepareHostMode(config: Readonly<ContainerConfig>, nodes: readonly NodeView[]): PreparedFilter | undefined {
  const checks = Object.keys(config.ExposedPorts ?? {}).map((port) => ({
    port,
    verdict: reject(REASON_HOST_PORT_IN_USE, `node(s) have port ${port} in use (Host mode)`),
  }));
  if (!anyHeld(hostModeHolders, checks.map((check) => check.port), nodes)) return undefined;
  return {
    judge(node) {
      const { hostMode } = portIndex(node);
      if (hostMode.size === 0) return PASS;
      for (const { port, verdict } of checks) if (hostMode.has(port)) return verdict;
      return PASS;
    },
  };
}

function prepareBridgeMode(config: Readonly<ContainerConfig>, nodes: readonly NodeView[]): PreparedFilter | undefined {
  const checks = requestedBindings(config)
    // A binding without a host port gets a free one from the engine: it cannot conflict.
    .filter((binding) => (binding.HostPort ?? "") !== "")
    .map((binding) => {
      const hostIp = binding.HostIp ?? "";
      const hostPort = binding.HostPort ?? "";
      const shown = bindsAllInterfaces(hostIp) ? hostPort : `${hostIp}:${hostPort}`;
      return {
        hostPort,
        hostIp,
        all: bindsAllInterfaces(hostIp),
        verdict: reject(REASON_PORT_IN_USE, `node(s) have port ${shown} in use`),
      };
    });
  if (!anyHeld(bridgeHolders, checks.map((check) => check.hostPort), nodes)) return undefined;
  return {
    judge(node): FilterVerdict {
      const { bridge } = portIndex(node);
      if (bridge.size === 0) return PASS;
      for (const check of checks) {
        const ips = bridge.get(check.hostPort);
        if (ips === undefined) continue;
        if (check.all) return check.verdict;
        for (const ip of ips) if (ip === check.hostIp || bindsAllInterfaces(ip)) return check.verdict;
      }
      return PASS;
    },
  };
}

export function portConditions(request: ScheduleRequest): string[] {
  if (isHostMode(request.config)) {
    return Object.keys(request.config.ExposedPorts ?? {}).map((port) => `port ${port} (Host mode)`);
  }
  return requestedBindings(request.config).map((binding) => `port ${binding.HostPort ?? ""} (Bridge mode)`);
}

export default defineFilter({
  name: "port",
  apiVersion: "^1",
  description: "Keeps nodes where the requested host ports (or host-network exposed ports) are free.",
  create() {
    return {
      prepare: (request, { nodes }) =>
        isHostMode(request.config) ? prepareHostMode(request.config, nodes) : prepareBridgeMode(request.config, nodes),
      conditions: portConditions,
    };
  },
});
