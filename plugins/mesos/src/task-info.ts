import { toScheduleRequest, type ContainerConfig } from "@swarm/core";
import type { Offer, Resource } from "./protocol.js";

const MIB = 1024 * 1024;

interface PortMapping {
  host_port: number;
  container_port: number;
  protocol: string;
}

/**
 * The LAUNCH's TaskInfo for a container create (§8.5 step 5): the Docker containerizer runs the
 * image with the command, hostname, network, ports, labels and environment of the create body,
 * within the CPUs and memory it asks for.
 */
export function taskInfo(taskId: string, name: string, agentId: string, config: ContainerConfig, offers: readonly Offer[]): Record<string, unknown> {
  const request = toScheduleRequest(config, name === "" ? undefined : name);
  const hostConfig = config.HostConfig ?? {};
  const network = dockerNetwork(hostConfig.NetworkMode);
  const ports = network === "BRIDGE" ? portMappings(hostConfig.PortBindings ?? {}, offers) : [];
  const resources: Array<Record<string, unknown>> = [];
  if (request.cpus > 0) resources.push({ name: "cpus", type: "SCALAR", scalar: { value: request.cpus } });
  if (request.memory > 0) resources.push({ name: "mem", type: "SCALAR", scalar: { value: request.memory / MIB } });
  if (ports.length > 0) {
    resources.push({ name: "ports", type: "RANGES", ranges: { range: ports.map((p) => ({ begin: p.host_port, end: p.host_port })) } });
  }
  const parameters = [
    ...Object.entries(config.Labels ?? {}).map(([key, value]) => ({ key: "label", value: `${key}=${value}` })),
    ...(config.Env ?? []).map((entry) => ({ key: "env", value: entry })),
  ];
  if (!config.AttachStdin && !config.AttachStdout && !config.AttachStderr) parameters.push({ key: "label", value: "com.docker.swarm.mesos.detach=true" });
  const cmd = Array.isArray(config.Cmd) ? (config.Cmd as unknown[]).map(String) : [];
  const hostname = typeof config.Hostname === "string" && config.Hostname !== "" ? config.Hostname : undefined;
  const domain = typeof config.Domainname === "string" && config.Domainname !== "" ? config.Domainname : undefined;
  return {
    name: name === "" ? taskId : name,
    task_id: { value: taskId },
    agent_id: { value: agentId },
    resources,
    command: cmd.length > 0 ? { shell: false, value: cmd[0], arguments: cmd.slice(1) } : { shell: false },
    container: {
      type: "DOCKER",
      ...(hostname ? { hostname: domain ? `${hostname}.${domain}` : hostname } : {}),
      docker: { image: config.Image ?? "", network, port_mappings: ports, parameters },
    },
    labels: { labels: [{ key: "SWARM_CONTAINER_NAME", value: name }] },
  };
}

function dockerNetwork(mode: string | undefined): "NONE" | "HOST" | "BRIDGE" {
  if (mode === "none") return "NONE";
  if (mode === "host") return "HOST";
  return "BRIDGE";
}

/** Published ports; a binding without a host port takes the next one the offers hold. */
function portMappings(bindings: Readonly<Record<string, ReadonlyArray<{ HostPort?: string }> | null>>, offers: readonly Offer[]): PortMapping[] {
  const free = offers.flatMap((offer) => (offer.resources ?? []).filter((r: Resource) => r.name === "ports" && r.ranges)).flatMap((r) => r.ranges?.range ?? []);
  const taken = new Set<number>();
  const nextFree = (): number | undefined => {
    for (const range of free) for (let port = range.begin; port <= range.end; port++) if (!taken.has(port)) return port;
    return undefined;
  };
  const mappings: PortMapping[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const [portText, protocol = "tcp"] = key.split("/");
    const containerPort = Number(portText);
    for (const binding of list ?? []) {
      const hostPort = binding.HostPort ? Number(binding.HostPort) : nextFree();
      if (hostPort === undefined || !Number.isInteger(containerPort)) continue;
      taken.add(hostPort);
      mappings.push({ host_port: hostPort, container_port: containerPort, protocol });
    }
  }
  return mappings;
}
