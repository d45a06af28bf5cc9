import type { ContainerConfig, ScheduleRequest } from "../extension-points/model.js";
import { errors } from "../errors/catalog.js";

/**
 * Classic Swarm keeps scheduling expressions in container labels so they persist on the engine.
 * Env entries `constraint:…`, `affinity:…`, `whitelist:…`, `reschedule:…` are moved into those
 * labels (§3.1) before scheduling.
 */
export const SwarmLabels = {
  constraints: "com.docker.swarm.constraints",
  affinities: "com.docker.swarm.affinities",
  whitelists: "com.docker.swarm.whitelists",
  reschedulePolicies: "com.docker.swarm.reschedule-policies",
  id: "com.docker.swarm.id",
} as const;

const ENV_KEYS = {
  constraint: "constraints",
  affinity: "affinities",
  whitelist: "whitelists",
  reschedule: "reschedulePolicies",
} as const satisfies Record<string, keyof typeof SwarmLabels>;

type ListKey = (typeof ENV_KEYS)[keyof typeof ENV_KEYS];

export function readLabelList(labels: Readonly<Record<string, string>>, label: string): string[] {
  const raw = labels[label];
  if (raw === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    // Invalid JSON or a non-array counts as empty, as in classic Swarm.
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** Returns a copy of `config` with swarm env entries moved into labels. */
export function normalizeConfig(config: ContainerConfig): ContainerConfig {
  const labels: Record<string, string> = { ...(config.Labels ?? {}) };
  const lists: Record<ListKey, string[]> = {
    constraints: readLabelList(labels, SwarmLabels.constraints),
    affinities: readLabelList(labels, SwarmLabels.affinities),
    whitelists: readLabelList(labels, SwarmLabels.whitelists),
    reschedulePolicies: readLabelList(labels, SwarmLabels.reschedulePolicies),
  };
  const extended = new Set<ListKey>();
  const env: string[] = [];
  for (const entry of config.Env ?? []) {
    const colon = entry.indexOf(":");
    const key = colon > 0 ? entry.slice(0, colon) : "";
    const list = Object.hasOwn(ENV_KEYS, key) ? ENV_KEYS[key as keyof typeof ENV_KEYS] : undefined;
    if (list === undefined) {
      env.push(entry);
      continue;
    }
    lists[list].push(entry.slice(colon + 1));
    extended.add(list);
  }
  for (const list of extended) labels[SwarmLabels[list]] = JSON.stringify(lists[list]);
  const result: ContainerConfig = { ...config, Labels: labels };
  if (config.Env !== undefined && config.Env !== null) result.Env = env;
  return result;
}

export function validateReschedulePolicies(config: ContainerConfig): void {
  const policies = readLabelList(config.Labels ?? {}, SwarmLabels.reschedulePolicies);
  if (policies.length > 1) throw errors.TooManyReschedulePolicies();
  const policy = policies[0];
  if (policy !== undefined && policy !== "off" && policy !== "on-node-failure") {
    throw errors.InvalidReschedulePolicy({ policy });
  }
}

/** Builds the scheduler's view of a normalised config. */
export function toScheduleRequest(config: ContainerConfig, name: string | undefined): ScheduleRequest {
  const labels = config.Labels ?? {};
  const hostConfig = config.HostConfig ?? {};
  return {
    config,
    name,
    constraints: readLabelList(labels, SwarmLabels.constraints),
    affinities: readLabelList(labels, SwarmLabels.affinities),
    whitelists: readLabelList(labels, SwarmLabels.whitelists),
    cpus: typeof hostConfig.CpuShares === "number" ? hostConfig.CpuShares : 0,
    memory: typeof hostConfig.Memory === "number" ? hostConfig.Memory : 0,
  };
}
