import { Readable } from "node:stream";
import { text as readText } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RE2JS } from "re2js";
import type { ContainerRecord } from "../cluster/container-record.js";
import type { Node } from "../cluster/node.js";
import type { ContainerAction, Expectation } from "../cluster/node-sync.js";
import type { ContainerInspect } from "../engines/docker-types.js";
import type { ContainerConfig } from "../extension-points/model.js";
import { errorMessage, errors, type SwarmError } from "../errors/catalog.js";
import { jsonBody, labelMatches, noSuch, parseFilters, query, queryBool, queryInt, type ApiContext } from "./context.js";
import { createBody } from "./create-body.js";
import { proxyToEngine, rawQuery } from "./proxy.js";

type NameParams = { name: string };

/** A container the API found, with the node that holds it. */
export interface LocatedContainer {
  readonly node: Node;
  readonly record: ContainerRecord;
}

/** Finds a container or answers Docker's 404; refuses containers on unhealthy nodes (§7.1). */
export function locateContainer(ctx: ApiContext, ref: string, options: { allowUnhealthy?: boolean } = {}): LocatedContainer {
  const resolution = ctx.cluster.resolveContainer(ref);
  if (!resolution) throw errors.NoSuchContainer({ ref });
  if ("ambiguous" in resolution) {
    // dockerd's own answer to an ID prefix it cannot resolve (a 500, as in dockerd 20.10).
    if (resolution.ambiguous === "prefix") throw errors.AmbiguousContainerPrefix({ ref });
    const names = resolution.candidates.map((c) => `${ctx.cluster.nodeOf(c)?.name ?? "?"}/${c.name}`);
    throw noSuch("container", ref, names);
  }
  const record = resolution.found;
  const node = ctx.cluster.nodeOf(record);
  if (!node) throw errors.NoSuchContainer({ ref });
  if (!options.allowUnhealthy && !node.isHealthy()) {
    throw errors.ContainerOnUnhealthyNode({ ref, node: node.name });
  }
  return { node, record };
}

/** `/containers/<user ref>/rest` → `/containers/<full id>/rest`. */
function containerPath(found: LocatedContainer, rest: string): string {
  return `/containers/${found.record.id}${rest}`;
}

/**
 * Container actions the manager performs and then re-reads, so `docker ps` right after agrees;
 * the events they cause are expected, not re-read again.
 */
const TRACKED_ACTIONS: ReadonlyMap<string, ContainerAction> = new Map([
  ["/kill", "kill"],
  ["/stop", "stop"],
  ["/restart", "restart"],
  ["/start", "start"],
  ["/rename", "rename"],
  ["/update", "update"],
  ["/pause", "pause"],
  ["/unpause", "unpause"],
]);

/**
 * Runs one of the manager's own actions on a container: announces the events it will cause,
 * and once the engine said yes, re-reads the container before the client gets its answer.
 * A container that removed itself (`--rm`) is gone by then, which is no error.
 */
export async function trackAction<T extends { statusCode: number }>(
  found: LocatedContainer,
  action: ContainerAction,
  run: () => Promise<T>,
): Promise<T> {
  const expectation = found.node.sync.expect(found.record.id, action);
  let answer: T;
  try {
    answer = await run();
  } catch (err) {
    expectation.cancel();
    throw err;
  }
  if (answer.statusCode >= 400) expectation.cancel();
  else await settle(found, expectation);
  return answer;
}

/** After the engine said yes: the container re-read, then its events known for what they are. */
async function settle(found: LocatedContainer, expectation: Expectation): Promise<void> {
  try {
    await found.node.sync.reread(found.record.id);
  } catch (err) {
    if (!found.record.autoRemove) throw err;
  } finally {
    expectation.settle();
  }
}

export function containerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const list = async (request: FastifyRequest, reply: FastifyReply) => {
    await refreshBeforeListing(ctx, request);
    return reply.type("application/json").send(await listContainers(ctx, request));
  };
  app.get("/containers/json", list);
  app.get("/containers/ps", list);

  app.post("/containers/create", async (request, reply) => {
    const config = createBody(jsonBody(request));
    applyLegacyResourceFields(config);
    const name = query(request).name;
    if (name !== undefined && name !== "" && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw errors.InvalidContainerName({ name });
    }
    const authHeader = request.headers["x-registry-auth"];
    const created = await ctx.backend.createContainer({
      config,
      name: name === "" ? undefined : name,
      registryAuth: typeof authHeader === "string" ? authHeader : undefined,
    });
    return reply.code(201).send({ Id: created.id });
  });

  app.get<{ Params: NameParams }>("/containers/:name/json", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    // A container is re-read on every event, so a document the manager holds is the engine's answer
    // except for what changes without an event: sizes (?size=1) and health-check results. Those go
    // to the engine, and so does a container whose document is no longer held (or not read yet).
    const record = found.record;
    const sized = queryBool(query(request).size);
    const held = sized || record.state.health !== undefined ? undefined : ctx.cluster.inspectDocument(record);
    if (held !== undefined) return reply.type("application/json").send(`${held},"Node":${inspectNodeJson(found.node)}}`);
    const inspect = await found.node.engine.json<ContainerInspect>("GET", containerPath(found, "/json"), { query: rawQuery(request.url) });
    if (!sized) found.node.sync.ingest(structuredClone(inspect));
    return decorateInspect(found.node, inspect);
  });

  app.post<{ Params: NameParams }>("/containers/:name/start", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    if (ctx.backend.startedAlready?.(found.record)) return reply.code(204).send();
    const response = await trackAction(found, "start", async () => {
      const answer = await found.node.engine.call("POST", containerPath(found, "/start"), { query: rawQuery(request.url) });
      return { statusCode: answer.statusCode, text: await readText(answer.body) };
    });
    if (response.statusCode >= 400) throw engineFailure(response.statusCode, response.text);
    return reply.code(response.statusCode).send();
  });

  app.delete<{ Params: NameParams }>("/containers/:name", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name, { allowUnhealthy: true });
    const expectation = found.node.sync.expect(found.record.id, "remove");
    try {
      const removedByBackend = (await ctx.backend.removeContainer?.(found.record, queryBool(query(request).force))) === true;
      if (!removedByBackend) await found.node.engine.send("DELETE", `/containers/${found.record.id}`, { query: rawQuery(request.url) });
    } catch (err) {
      expectation.cancel();
      throw err;
    }
    found.node.sync.forget(found.record.id);
    expectation.settle();
    return reply.code(204).send();
  });

  app.post<{ Params: NameParams }>("/containers/:name/rename", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    const newName = query(request).name ?? "";
    const clash = ctx.cluster.findContainer(newName);
    if (newName !== "" && clash && clash.name === newName.replace(/^\//, "")) {
      throw errors.NameInUse({ name: newName });
    }
    await trackAction(found, "rename", async () => {
      await found.node.engine.send("POST", containerPath(found, "/rename"), { query: rawQuery(request.url) });
      return { statusCode: 204 };
    });
    return reply.code(204).send();
  });

  // Everything else under a container is forwarded to its engine; the manager's own state changes are re-read.
  const forward = async (request: FastifyRequest<{ Params: NameParams & { "*": string } }>, reply: FastifyReply) => {
    const found = locateContainer(ctx, request.params.name);
    const rest = `/${request.params["*"]}`;
    const action = request.method === "POST" ? TRACKED_ACTIONS.get(rest) : undefined;
    const expectation = action && found.node.sync.expect(found.record.id, action);
    await proxyToEngine(found.node.engine, request, reply, {
      path: containerPath(found, rest),
      onResponse: expectation && ((statusCode) => (statusCode >= 400 ? expectation.cancel() : settle(found, expectation))),
      onFailure: expectation && (() => expectation.cancel()),
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
  return errors.EngineAnswered({ message }, { status });
}

/** Inspect as the engine answers it, plus the `Node` object and host IPs made reachable. */
export function decorateInspect(node: Node, inspect: ContainerInspect): ContainerInspect & { Node: object } {
  const ports = inspect.NetworkSettings?.Ports;
  for (const bindings of Object.values(ports ?? {})) {
    for (const binding of bindings ?? []) {
      if (!binding.HostIp || binding.HostIp === "0.0.0.0" || binding.HostIp === "::") binding.HostIp = node.ip;
    }
  }
  return { ...inspect, Node: inspectNode(node) };
}

function inspectNode(node: Node): object {
  return {
    ID: node.id,
    IP: node.ip,
    Addr: node.addr,
    Name: node.name,
    Cpus: node.cpus,
    Memory: node.memory,
    Labels: node.labels,
  };
}

/** The `Node` object of an inspect answer, serialised once per node state. */
const nodeJson = new WeakMap<Node, { readonly key: string; readonly json: string }>();

function inspectNodeJson(node: Node): string {
  const key = `${node.id}|${node.ip}|${node.name}|${node.cpus}|${node.memory}`;
  let cached = nodeJson.get(node);
  if (cached?.key !== key) {
    cached = { key, json: JSON.stringify(inspectNode(node)) };
    nodeJson.set(node, cached);
  }
  return cached.json;
}

// ---- Listing (§7.3) ------------------------------------------------------------------------

/**
 * `--refresh-on-node-filter` and `--container-name-refresh-filter`: re-list containers from the
 * engines before answering, for callers that cannot wait for the event stream.
 */
async function refreshBeforeListing(ctx: ApiContext, request: FastifyRequest): Promise<void> {
  const filters = parseFilters(query(request).filters);
  const nodes = ctx.cluster.healthyNodes();
  let targets: readonly Node[] = [];
  if (ctx.containerNameRefreshFilter !== "" && (filters.name ?? []).includes(ctx.containerNameRefreshFilter)) {
    targets = nodes;
  } else if (ctx.refreshOnNodeFilter && filters.node) {
    targets = nodes.filter((n) => filters.node!.some((ref) => ref === n.name || ref === n.id));
  }
  await Promise.allSettled(targets.map((node) => node.sync.refreshContainers(true)));
}

const STATUS_VALUES = new Set(["created", "running", "paused", "restarting", "removing", "exited", "dead"]);

/** The JSON array of `docker ps` rows, built from each container's cached row. */
async function listContainers(ctx: ApiContext, request: FastifyRequest): Promise<string | Readable> {
  const q = query(request);
  const filters = parseFilters(q.filters);
  let all = queryBool(q.all);
  const limit = queryInt(q.limit, -1);
  const before = q.before;
  for (const status of filters.status ?? []) {
    if (!STATUS_VALUES.has(status)) throw errors.InvalidStatusFilter({ status });
    if (status !== "running") all = true;
  }
  const exited = (filters.exited ?? []).map((v) => {
    const n = Number.parseInt(v, 10);
    if (Number.isNaN(n)) throw errors.InvalidExitedFilter({ value: v });
    return n;
  });
  if (exited.length > 0) all = true;

  const regex = (pattern: string) => {
    try {
      return RE2JS.compile(pattern);
    } catch (err) {
      throw errors.InvalidFilterRegexp({ pattern, reason: errorMessage(err) });
    }
  };
  const nameRes = (filters.name ?? []).map(regex);
  const idRes = (filters.id ?? []).map(regex);
  const nodeRes = (filters.node ?? []).map(regex);

  // A container just created through this manager is described by its engine first, so its row is the engine's.
  await ctx.cluster.completeProvisional();
  const rows: Array<{ record: ContainerRecord; node: Node }> = [];
  const backend = ctx.backend;
  for (const record of ctx.cluster.containers()) {
    const node = ctx.cluster.nodeOf(record);
    if (!node) continue;
    if (backend.listsContainer && !backend.listsContainer(record)) continue;
    const state = record.state;
    const healthy = node.isHealthy();
    if (!all && before === undefined && limit <= 0 && (!state.running || !healthy)) continue;
    const image = record.image;
    if (!all && image.split(":")[0] === "swarm") continue;
    const labels = record.labels;
    if (nameRes.length && !nameRes.some((re) => re.matcher(record.name).find())) continue;
    if (idRes.length && !idRes.some((re) => re.matcher(record.id).find())) continue;
    if (nodeRes.length && !nodeRes.some((re) => re.matcher(node.name).find())) continue;
    if (filters.label && !filters.label.every((l) => labelMatches(labels, l))) continue;
    if (filters.status && !filters.status.includes(state.status)) continue;
    if (exited.length && (state.running || !exited.includes(state.exitCode))) continue;
    if (filters.health && !filters.health.includes(state.health ?? "none")) continue;
    if (filters["is-task"]) {
      const isTask = Object.hasOwn(labels, "com.docker.swarm.task");
      if (!filters["is-task"].includes(String(isTask))) continue;
    }
    if (filters.ancestor && !filters.ancestor.some((a) => image === a || image.split(":")[0] === a || record.imageId === a)) continue;
    if (filters.volume && !filters.volume.some((v) => record.mounts.some((m) => m.name === v || m.destination === v))) continue;
    if (filters.network && !filters.network.some((n) => record.networks.some((net) => net.name === n || net.id.startsWith(n)))) continue;
    rows.push({ record, node });
  }
  rows.sort((a, b) => b.record.created - a.record.created);
  let result = rows;
  if (before !== undefined) {
    const target = ctx.cluster.findContainer(before);
    if (!target) throw errors.NoSuchContainer({ ref: before });
    const index = rows.findIndex((r) => r.record.id === target.id);
    result = index < 0 ? rows : rows.slice(index + 1);
  }
  if (limit > 0) result = result.slice(0, limit);
  const now = Date.now();
  const rowsOf = (part: ReadonlyArray<{ record: ContainerRecord; node: Node }>) =>
    part.map(({ record, node }) => record.psRow(node.name, node.isHealthy(), now)).join(",");
  if (result.length <= ROWS_PER_CHUNK) return `[${rowsOf(result)}]`;
  return Readable.from(listingChunks(result, rowsOf), { objectMode: false });
}

/**
 * A long listing goes out a few hundred rows at a time: at 30,000 containers the whole answer is
 * some 30 MB, and built as one string each `ps -a` left that much (and its copy for the socket) to
 * the garbage collector.
 */
const ROWS_PER_CHUNK = 256;

function* listingChunks<T>(rows: readonly T[], rowsOf: (part: readonly T[]) => string): Generator<string> {
  for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
    const part = rowsOf(rows.slice(start, start + ROWS_PER_CHUNK));
    yield start === 0 ? `[${part}` : `,${part}`;
  }
  yield "]";
}
