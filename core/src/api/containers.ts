import { text as readText } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RE2JS } from "re2js";
import type { LocatedContainer } from "../cluster/cluster.js";
import type { Engine } from "../engines/engine.js";
import type { ContainerInspect, ContainerSummary, DockerPort } from "../engines/docker-types.js";
import type { ContainerConfig } from "../extension-points/model.js";
import { SwarmError, errorMessage } from "../errors/catalog.js";
import { labelMatches, noSuch, parseFilters, query, queryBool, queryInt, type ApiContext } from "./context.js";
import { proxyToEngine, rawQuery } from "./proxy.js";

type NameParams = { name: string };

/** Finds a container or answers Docker's 404; refuses containers on unhealthy nodes (§7.1). */
export function locateContainer(ctx: ApiContext, ref: string, options: { allowUnhealthy?: boolean } = {}): LocatedContainer {
  const resolution = ctx.cluster.resolveContainer(ref);
  if (!resolution) throw new SwarmError("NotFound", `No such container: ${ref}`);
  if ("ambiguous" in resolution) {
    // dockerd's own answer to an ID prefix it cannot resolve (a 500, as in dockerd 20.10).
    if (resolution.ambiguous === "prefix") throw new SwarmError("Internal", `Multiple IDs found with provided prefix: ${ref}`);
    const names = resolution.candidates.map((c) => `${c.engine.name}/${c.record.inspect.Name.replace(/^\//, "")}`);
    throw new SwarmError("NotFound", noSuch("container", ref, names));
  }
  const found = resolution.found;
  if (!options.allowUnhealthy && !found.engine.isHealthy()) {
    throw new SwarmError("UnhealthyNode", `Container ${ref} running on unhealthy node ${found.engine.name}`);
  }
  return found;
}

/** `/containers/<user ref>/rest` → `/containers/<full id>/rest`. */
function containerPath(found: LocatedContainer, rest: string): string {
  return `/containers/${found.record.inspect.Id}${rest}`;
}

/** Quick state changes: the answer waits for the mirror so `docker ps` right after agrees. */
const AWAITED_ACTIONS = new Set(["/kill", "/stop", "/restart", "/start", "/rename", "/update", "/pause", "/unpause"]);

function refreshAfter(found: LocatedContainer, rest: string): (statusCode: number) => void | Promise<void> {
  return async (statusCode) => {
    if (statusCode >= 400) return;
    const refresh = found.engine.inspectContainer(found.record.inspect.Id).then(() => undefined);
    // Long calls (wait, attach, exec) stream on; their end shows up through the event stream.
    if (AWAITED_ACTIONS.has(rest)) await refresh;
    else void refresh.catch(() => undefined);
  };
}

export function containerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const list = async (request: FastifyRequest) => {
    await refreshBeforeListing(ctx, request);
    return listContainers(ctx, request);
  };
  app.get("/containers/json", list);
  app.get("/containers/ps", list);

  app.post("/containers/create", async (request, reply) => {
    const body = request.body;
    if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new SwarmError("BadRequest", "config cannot be empty in order to create a container");
    }
    const config = body as ContainerConfig;
    applyLegacyResourceFields(config);
    const name = query(request).name;
    if (name !== undefined && name !== "" && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw new SwarmError("BadRequest", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const authHeader = request.headers["x-registry-auth"];
    const created = await ctx.cluster.createContainer({
      config,
      name: name === "" ? undefined : name,
      registryAuth: typeof authHeader === "string" ? authHeader : undefined,
    });
    return reply.code(201).send({ Id: created.id });
  });

  app.get<{ Params: NameParams }>("/containers/:name/json", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    // The mirror is re-read on every container event, so it is the engine's answer except for what
    // changes without an event: sizes (?size=1) and health-check results. Only those go to the engine.
    const mirrored = found.record.inspect;
    if (!queryBool(query(request).size) && mirrored.State.Health === undefined) {
      return reply.type("application/json").send(mirroredInspectJson(found.engine, mirrored));
    }
    const inspect = await found.engine.json<ContainerInspect>("GET", containerPath(found, "/json"), { query: rawQuery(request.url) });
    return decorateInspect(found.engine, inspect);
  });

  app.post<{ Params: NameParams }>("/containers/:name/start", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    const response = await found.engine.call("POST", containerPath(found, "/start"), { query: rawQuery(request.url) });
    const text = await readText(response.body);
    if (response.statusCode >= 400) throw engineFailure(response.statusCode, text);
    const autoRemove = found.record.inspect.HostConfig.AutoRemove === true;
    await found.engine.inspectContainer(found.record.inspect.Id).catch((err: unknown) => {
      if (!autoRemove) throw err;
    });
    return reply.code(response.statusCode).send();
  });

  app.delete<{ Params: NameParams }>("/containers/:name", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name, { allowUnhealthy: true });
    await found.engine.send("DELETE", `/containers/${found.record.inspect.Id}`, { query: rawQuery(request.url) });
    found.engine.dropContainer(found.record.inspect.Id);
    return reply.code(204).send();
  });

  app.post<{ Params: NameParams }>("/containers/:name/rename", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    const newName = query(request).name ?? "";
    const clash = ctx.cluster.findContainer(newName);
    if (newName !== "" && clash && clash.record.inspect.Name.replace(/^\//, "") === newName.replace(/^\//, "")) {
      throw new SwarmError(
        "Conflict",
        `Conflict: The name ${newName} is already assigned. You have to delete (or rename) that container to be able to assign ${newName} to a container again.`,
      );
    }
    await found.engine.send("POST", containerPath(found, "/rename"), { query: rawQuery(request.url) });
    await found.engine.inspectContainer(found.record.inspect.Id);
    return reply.code(204).send();
  });

  // Everything else under a container is forwarded to its engine; state changes are re-read.
  const forward = async (request: FastifyRequest<{ Params: NameParams & { "*": string } }>, reply: FastifyReply) => {
    const found = locateContainer(ctx, request.params.name);
    const rest = `/${request.params["*"]}`;
    await proxyToEngine(found.engine, request, reply, {
      path: containerPath(found, rest),
      onResponse: request.method === "GET" || request.method === "HEAD" ? undefined : refreshAfter(found, rest),
    });
  };
  app.route({ method: ["GET", "POST", "PUT", "HEAD", "DELETE"], url: "/containers/:name/*", handler: forward });
}

/** Pre-1.7 clients sent resources at the top level; they win when non-zero (§3.7). */
function applyLegacyResourceFields(config: ContainerConfig): void {
  const host: Record<string, unknown> = { ...(config.HostConfig ?? {}) };
  for (const field of ["Memory", "MemorySwap", "CpuShares", "Cpuset"] as const) {
    const value = config[field];
    if (value !== undefined && value !== null && value !== 0 && value !== "") host[field] = value;
  }
  config.HostConfig = host;
}

function engineFailure(status: number, text: string): SwarmError {
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) message = parsed.message;
  } catch {
    // plain text answer
  }
  return new SwarmError("Engine", message, { status });
}

/** Inspect as the engine answers it, plus the `Node` object and host IPs made reachable. */
export function decorateInspect(engine: Engine, inspect: ContainerInspect): ContainerInspect & { Node: object } {
  return { ...withEngineHostIps(engine.ip, inspect), Node: inspectNode(engine) };
}

/** Published ports bound to all interfaces are reported on the engine's own address (in place). */
function withEngineHostIps(ip: string, inspect: ContainerInspect): ContainerInspect {
  const ports = inspect.NetworkSettings?.Ports;
  if (ports) {
    for (const bindings of Object.values(ports)) {
      for (const binding of bindings ?? []) {
        if (!binding.HostIp || binding.HostIp === "0.0.0.0" || binding.HostIp === "::") binding.HostIp = ip;
      }
    }
  }
  return inspect;
}

function inspectNode(engine: Engine): object {
  return {
    ID: engine.id,
    IP: engine.ip,
    Addr: engine.addr,
    Name: engine.name,
    Cpus: engine.cpus,
    Memory: engine.memory,
    Labels: engine.labels,
  };
}

/**
 * A mirrored inspect serialised once per version: the mirror replaces a container's inspect object
 * whenever it re-reads it and never changes one in place, so the object itself is the cache key.
 * Kept without its closing brace, so the node (whose resources may change) is appended fresh.
 */
const serialisedInspects = new WeakMap<ContainerInspect, { readonly ip: string; readonly open: string }>();

function mirroredInspectJson(engine: Engine, inspect: ContainerInspect): string {
  let cached = serialisedInspects.get(inspect);
  if (cached?.ip !== engine.ip) {
    const json = JSON.stringify(withEngineHostIps(engine.ip, structuredClone(inspect)));
    cached = { ip: engine.ip, open: json.slice(0, -1) };
    serialisedInspects.set(inspect, cached);
  }
  return `${cached.open},"Node":${JSON.stringify(inspectNode(engine))}}`;
}

// ---- Listing (§7.3) ------------------------------------------------------------------------

/**
 * `--refresh-on-node-filter` and `--container-name-refresh-filter`: re-list containers from the
 * engines before answering, for callers that cannot wait for the event stream.
 */
async function refreshBeforeListing(ctx: ApiContext, request: FastifyRequest): Promise<void> {
  const filters = parseFilters(query(request).filters);
  const engines = ctx.cluster.healthyEngines();
  let targets: Engine[] = [];
  if (ctx.containerNameRefreshFilter !== "" && (filters.name ?? []).includes(ctx.containerNameRefreshFilter)) {
    targets = engines;
  } else if (ctx.refreshOnNodeFilter && filters.node) {
    targets = engines.filter((e) => filters.node!.some((n) => n === e.name || n === e.id));
  }
  await Promise.allSettled(targets.map((engine) => engine.refreshContainers(true)));
}

const STATUS_VALUES = new Set(["created", "running", "paused", "restarting", "removing", "exited", "dead"]);

function listContainers(ctx: ApiContext, request: FastifyRequest): ContainerSummary[] {
  const q = query(request);
  const filters = parseFilters(q.filters);
  let all = queryBool(q.all);
  const limit = queryInt(q.limit, -1);
  const before = q.before;
  for (const status of filters.status ?? []) {
    if (!STATUS_VALUES.has(status)) throw new SwarmError("BadRequest", `Invalid filter 'status=${status}'`);
    if (status !== "running") all = true;
  }
  const exited = (filters.exited ?? []).map((v) => {
    const n = Number.parseInt(v, 10);
    if (Number.isNaN(n)) throw new SwarmError("BadRequest", `invalid filter 'exited=${v}'`);
    return n;
  });
  if (exited.length > 0) all = true;

  const regex = (pattern: string) => {
    try {
      return RE2JS.compile(pattern);
    } catch (err) {
      throw new SwarmError("BadRequest", `invalid filter regexp '${pattern}': ${errorMessage(err)}`);
    }
  };
  const nameRes = (filters.name ?? []).map(regex);
  const idRes = (filters.id ?? []).map(regex);
  const nodeRes = (filters.node ?? []).map(regex);

  const rows: Array<{ created: number; summary: ContainerSummary; found: LocatedContainer }> = [];
  for (const found of ctx.cluster.containers()) {
    const { engine, record } = found;
    const inspect = record.inspect;
    const healthy = engine.isHealthy();
    if (!all && before === undefined && limit <= 0 && (!inspect.State.Running || !healthy)) continue;
    const image = inspect.Config.Image ?? "";
    if (!all && image.split(":")[0] === "swarm") continue;
    const name = inspect.Name.replace(/^\//, "");
    const labels = inspect.Config.Labels ?? {};
    const status = inspect.State.Status;
    if (nameRes.length && !nameRes.some((re) => re.matcher(name).find())) continue;
    if (idRes.length && !idRes.some((re) => re.matcher(inspect.Id).find())) continue;
    if (nodeRes.length && !nodeRes.some((re) => re.matcher(engine.name).find())) continue;
    if (filters.label && !filters.label.every((l) => labelMatches(labels, l))) continue;
    if (filters.status && !filters.status.includes(status)) continue;
    if (exited.length && (inspect.State.Running || !exited.includes(inspect.State.ExitCode))) continue;
    if (filters.health) {
      const health = inspect.State.Health?.Status ?? "none";
      if (!filters.health.includes(health)) continue;
    }
    if (filters["is-task"]) {
      const isTask = Object.hasOwn(labels, "com.docker.swarm.task");
      if (!filters["is-task"].includes(String(isTask))) continue;
    }
    if (filters.ancestor && !filters.ancestor.some((a) => image === a || image.split(":")[0] === a || inspect.Image === a)) continue;
    if (filters.volume) {
      const mounts = inspect.Mounts ?? [];
      if (!filters.volume.some((v) => mounts.some((m) => m.Name === v || m.Destination === v))) continue;
    }
    if (filters.network) {
      const networks = inspect.NetworkSettings?.Networks ?? {};
      const match = filters.network.some((n) =>
        Object.entries(networks).some(([netName, net]) => netName === n || (net.NetworkID ?? "").startsWith(n)),
      );
      if (!match) continue;
    }
    rows.push({ created: Date.parse(inspect.Created), summary: summarize(engine, record.summary, inspect), found });
  }
  rows.sort((a, b) => b.created - a.created);
  let result = rows;
  if (before !== undefined) {
    const target = ctx.cluster.findContainer(before);
    if (!target) throw new SwarmError("NotFound", `No such container: ${before}`);
    const index = rows.findIndex((r) => r.found.record.inspect.Id === target.record.inspect.Id);
    result = index < 0 ? rows : rows.slice(index + 1);
  }
  if (limit > 0) result = result.slice(0, limit);
  return result.map((r) => r.summary);
}

/** A listing row built from the mirror's inspect data, so it is never staler than the last event. */
function summarize(engine: Engine, listed: ContainerSummary | undefined, inspect: ContainerInspect): ContainerSummary {
  const ports: DockerPort[] = [];
  for (const [key, bindings] of Object.entries(inspect.NetworkSettings?.Ports ?? {})) {
    const [port = "0", type = "tcp"] = key.split("/");
    const privatePort = Number.parseInt(port, 10);
    if (!bindings || bindings.length === 0) ports.push({ PrivatePort: privatePort, Type: type });
    for (const binding of bindings ?? []) {
      const ip = !binding.HostIp || binding.HostIp === "0.0.0.0" || binding.HostIp === "::" ? engine.ip : binding.HostIp;
      ports.push({ IP: ip, PrivatePort: privatePort, PublicPort: Number.parseInt(binding.HostPort ?? "0", 10), Type: type });
    }
  }
  const path = typeof inspect.Path === "string" ? inspect.Path : "";
  const args = Array.isArray(inspect.Args) ? (inspect.Args as string[]) : [];
  return {
    ...(listed ?? {}),
    Id: inspect.Id,
    Names: [`/${engine.name}${inspect.Name.startsWith("/") ? inspect.Name : `/${inspect.Name}`}`],
    Image: inspect.Config.Image ?? inspect.Image,
    ImageID: inspect.Image,
    Command: listed?.Command ?? [path, ...args].join(" ").trim(),
    Created: Math.floor(Date.parse(inspect.Created) / 1000),
    Ports: ports,
    Labels: inspect.Config.Labels ?? {},
    State: inspect.State.Status,
    Status: engine.isHealthy() ? statusText(inspect) : "Host Down",
    HostConfig: { NetworkMode: inspect.HostConfig.NetworkMode ?? "default" },
    NetworkSettings: { Networks: inspect.NetworkSettings?.Networks ?? {} },
    Mounts: inspect.Mounts ?? [],
  };
}

/** Docker's status column, from the container's state. */
function statusText(inspect: ContainerInspect): string {
  const state = inspect.State;
  switch (state.Status) {
    case "running":
    case "paused": {
      const health = state.Health?.Status;
      const healthText = health === "starting" ? " (health: starting)" : health ? ` (${health})` : "";
      return `Up ${humanDuration(state.StartedAt)}${state.Paused ? " (Paused)" : healthText}`;
    }
    case "restarting":
      return `Restarting (${state.ExitCode}) ${humanDuration(state.FinishedAt)} ago`;
    case "exited":
      return `Exited (${state.ExitCode}) ${humanDuration(state.FinishedAt)} ago`;
    case "created":
      return "Created";
    case "dead":
      return "Dead";
    case "removing":
      return "Removal In Progress";
    default:
      return state.Status;
  }
}

/** go-units' HumanDuration, which the docker CLI's status column uses. */
function humanDuration(timestamp: string): string {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}
