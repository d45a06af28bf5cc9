import type { ContainerConfig, ContainerView, ImageView, NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { DiscoveryContext } from "../extension-points/discovery.js";
import type { PluginContext } from "../extension-points/plugin.js";
import { silentLogger } from "../logging/logger.js";
import { normalizeConfig, toScheduleRequest } from "../scheduler/request.js";

/** A logger that drops everything. */
export { silentLogger };

/** The context the host would give a plugin, with the options given (defaults are not applied). */
export function makePluginContext<Options>(name: string, options: Options): PluginContext<Options> {
  return { name, options, logger: silentLogger, signal: new AbortController().signal, clock: { now: () => Date.now() } };
}

/** The context the host would create a discovery backend with for `<scheme>://<path>` (`join`, `list`, `manage`). */
export function makeDiscoveryContext<Options = Record<string, never>>(
  scheme: string,
  path: string,
  settings: { readonly ttl: number; readonly heartbeat?: number; readonly discoveryOptions?: Readonly<Record<string, string>>; readonly options?: Options },
): DiscoveryContext<Options> {
  return {
    ...makePluginContext<Options>(scheme, settings.options ?? ({} as Options)),
    uri: { scheme, path, raw: `${scheme}://${path}` },
    // Short by default, so that a test's retries and polls come quickly.
    heartbeat: settings.heartbeat ?? 200,
    ttl: settings.ttl,
    discoveryOptions: settings.discoveryOptions ?? {},
  };
}

/**
 * Builders for plugin tests: a node, a container on it, a request as the manager would build it
 * from a `docker run`. Every field has a plain default so a test states only what it is about.
 */
export function makeContainer(overrides: Partial<ContainerView> & { name?: string } = {}): ContainerView {
  const { name, ...rest } = overrides;
  return {
    id: rest.id ?? "",
    names: rest.names ?? (name === undefined ? [] : [`/${name}`]),
    image: "busybox",
    labels: {},
    state: "running",
    exposedPorts: {},
    hostConfig: {},
    ports: {},
    pending: false,
    cpus: 0,
    memory: 0,
    ...rest,
  };
}

export function makeImage(repoTags: string[], id = `sha256:${repoTags.join("-") || "none"}`): ImageView {
  return { id, repoTags, repoDigests: [] };
}

export function makeNode(overrides: Partial<NodeView> & { name?: string } = {}): NodeView {
  const name = overrides.name ?? "node-1";
  const containers = overrides.containers ?? [];
  return {
    id: `ID-${name}|127.0.0.1:2375`,
    addr: "127.0.0.1:2375",
    ip: "127.0.0.1",
    labels: {},
    images: [],
    totalCpus: 4,
    totalMemory: 8 * 1024 ** 3,
    usedCpus: containers.reduce((sum, c) => sum + c.cpus, 0),
    usedMemory: containers.reduce((sum, c) => sum + c.memory, 0),
    health: "healthy",
    healthIndicator: 100,
    ...overrides,
    name,
    containers,
  };
}

/**
 * A request as `docker run` would make it: `env` entries such as `constraint:region==eu` are
 * normalised into labels exactly as the manager does.
 */
export function makeRequest(options: { env?: string[]; labels?: Record<string, string>; name?: string; config?: ContainerConfig } = {}): ScheduleRequest {
  const config = normalizeConfig({
    Image: "busybox",
    ...options.config,
    Env: [...(options.env ?? []), ...(options.config?.Env ?? [])],
    Labels: { ...(options.config?.Labels ?? {}), ...(options.labels ?? {}) },
  });
  return toScheduleRequest(config, options.name);
}
