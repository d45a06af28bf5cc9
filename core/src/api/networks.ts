import { text as readText } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RE2JS } from "re2js";
import type { ClusterReader } from "../cluster/reader.js";
import type { Node } from "../cluster/node.js";
import { EngineError, engineMessage, isConnectionError } from "../engines/engine.js";
import type { NetworkResource } from "../engines/docker-types.js";
import { errorMessage, errors, type SwarmError } from "../errors/catalog.js";
import { SwarmLabels } from "../scheduler/request.js";
import { jsonBody, labelMatches, noSuch, parseFilters, query, type ApiContext } from "./context.js";
import { eachNode, refreshAll, throwFailures } from "./fan-out.js";
import { topNode } from "./images.js";
import { proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };
interface Located {
  readonly node: Node;
  readonly network: NetworkResource;
}

const BUILTIN = new Set(["bridge", "host", "none"]);

export function networkRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/networks", async (request) => listNetworks(ctx.cluster, query(request)));

  app.post("/networks/create", async (request, reply) => createNetwork(ctx, request, reply));

  app.post("/networks/prune", async (request) => {
    const nodes = ctx.cluster.healthyNodes();
    const results = await eachNode(nodes, (node) =>
      node.engine.json<{ NetworksDeleted?: string[] | null }>("POST", "/networks/prune", {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
      }),
    );
    await refreshAll(nodes, (e) => e.sync.refreshNetworks());
    throwFailures(results);
    // Pruned networks are local to their node: named as the listing names them.
    const deleted = results.flatMap((r) => (r.ok ? (r.value.NetworksDeleted ?? []).map((name) => `${r.node.name}/${name}`) : []));
    return { NetworksDeleted: deleted.length > 0 ? deleted : null };
  });

  // Network references may carry a node prefix (`node-1/web`), which the docker CLI does not escape.
  app.get<{ Params: Wildcard }>("/networks/*", async (request, reply) => {
    const ref = request.params["*"];
    const found = ctx.cluster.findNetwork(ref);
    if (!found) throw networkNotFound(ctx, ref, "inspect");
    await proxyToEngine(found.node.engine, request, reply, { path: `/networks/${found.network.Id}` });
  });

  app.delete<{ Params: Wildcard }>("/networks/*", async (request, reply) => removeNetwork(ctx, request, reply, request.params["*"]));

  app.post<{ Params: Wildcard }>("/networks/*", async (request, reply) => {
    const path = request.params["*"];
    const slash = path.lastIndexOf("/");
    const action = path.slice(slash + 1);
    if (slash <= 0 || (action !== "connect" && action !== "disconnect")) throw errors.PageNotFound();
    await connectOrDisconnect(ctx, request, reply, path.slice(0, slash), action);
  });
}

// ---- Listing (§4.8) ------------------------------------------------------------------------

function isLocal(network: NetworkResource): boolean {
  return (network.Scope ?? "local") === "local";
}

function regex(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw errors.InvalidFilterRegexp({ pattern, reason: errorMessage(err) });
  }
}

/**
 * Every engine's networks, a global network once (endpoint maps merged). Local networks are
 * named `<node>/<name>`, so `bridge` on three nodes is three rows that say where they live.
 */
export function listNetworks(cluster: ClusterReader, q: Record<string, string | undefined>): NetworkResource[] {
  const filters = parseFilters(q.filters);
  for (const type of filters.type ?? []) {
    if (type !== "custom" && type !== "builtin") throw errors.InvalidNetworkTypeFilter({ type });
  }
  for (const value of filters.dangling ?? []) {
    if (!["true", "false", "1", "0"].includes(value)) throw errors.InvalidDanglingFilter({ value });
  }
  const nameRes = (filters.name ?? []).map(regex);
  const idRes = (filters.id ?? []).map(regex);

  const merged = new Map<string, { network: NetworkResource; nodes: Node[] }>();
  for (const node of cluster.nodes()) {
    for (const network of networksOf(node)) {
      const entry = merged.get(network.Id);
      if (!entry) {
        merged.set(network.Id, { network: { ...network, Containers: { ...(network.Containers ?? {}) } }, nodes: [node] });
        continue;
      }
      entry.nodes.push(node);
      entry.network.Containers = { ...entry.network.Containers, ...(network.Containers ?? {}) };
    }
  }

  const inUse = networksInUse(cluster);
  const rows: NetworkResource[] = [];
  for (const { network, nodes } of merged.values()) {
    const plain = network.Name;
    const shown = isLocal(network) && nodes[0] ? `${nodes[0].name}/${plain}` : plain;
    if (filters.type) {
      const type = BUILTIN.has(plain) ? "builtin" : "custom";
      if (!filters.type.includes(type)) continue;
    }
    if (filters.label && !filters.label.every((l) => labelMatches(network.Labels ?? {}, l))) continue;
    if (filters.driver && !filters.driver.includes(network.Driver ?? "")) continue;
    if (filters.scope && !filters.scope.includes(network.Scope ?? "local")) continue;
    if (filters.node && !nodes.some((e) => filters.node!.some((n) => n === e.name || n === e.id))) continue;
    if (nameRes.length && !nameRes.some((re, i) => plain === filters.name![i] || shown === filters.name![i] || re.matcher(plain).find())) {
      continue;
    }
    if (idRes.length && !idRes.some((re) => re.matcher(network.Id).find())) continue;
    if (filters.dangling) {
      const wanted = filters.dangling.some((v) => v === "true" || v === "1");
      const dangling = !BUILTIN.has(plain) && !inUse.has(network.Id);
      if (wanted !== dangling) continue;
    }
    rows.push({ ...network, Name: shown });
  }
  return rows.sort((a, b) => a.Name.localeCompare(b.Name));
}

/**
 * An engine's mirrored networks that are networks: an engine event without an ID (dockerd's
 * `prune` event) can leave a stray entry in the mirror until its next full refresh.
 */
function networksOf(node: Node): NetworkResource[] {
  return [...node.networks.values()].filter((n) => typeof n.Id === "string" && n.Id !== "" && typeof n.Name === "string");
}

/** IDs of networks some container of the cluster is attached to. */
function networksInUse(cluster: ClusterReader): Set<string> {
  const ids = new Set<string>();
  for (const record of cluster.containers()) {
    for (const network of record.networks) if (network.id !== "") ids.add(network.id);
  }
  return ids;
}

// ---- Create --------------------------------------------------------------------------------

interface NetworkCreateBody {
  Name?: unknown;
  Driver?: unknown;
  [key: string]: unknown;
}

/**
 * `<node>/<name>` is created on that node only (a hard `node==` constraint, so an unknown node
 * fails like a `docker run` would); any other name on the best node for an empty request.
 */
async function createNetwork(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const raw = jsonBody(request);
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw errors.NetworkCreateBodyRequired();
  }
  const body: NetworkCreateBody = { ...(raw as NetworkCreateBody) };
  const name = typeof body.Name === "string" ? body.Name : "";
  let node: Node;
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const nodeName = name.slice(0, slash);
    body.Name = name.slice(slash + 1);
    const chosen = ctx.cluster.rankNodes({ Labels: { [SwarmLabels.constraints]: JSON.stringify([`node==${nodeName}`]) } })[0];
    if (!chosen) throw errors.NoNodesAvailable();
    node = chosen;
  } else {
    node = topNode(ctx);
  }
  // Classic Swarm defaulted to overlay, which works only on engines sharing a cluster store
  // (`--cluster-store`); elsewhere it fails, so the engine's own default (bridge) is kept.
  if (body.Driver === undefined || body.Driver === "") {
    const nodes = ctx.cluster.nodes();
    if (nodes.length > 0 && nodes.every((node) => node.engine.clusterStore !== "")) {
      body.Driver = "overlay";
    }
  }
  const created = await node.engine.json<{ Id: string; Warning?: string }>("POST", "/networks/create", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    versionPrefix: versionPrefixOf(request),
  });
  await node.sync.refreshNetworks().catch(() => undefined);
  const network = node.networks.get(created.Id);
  if (network && !isLocal(network)) {
    await refreshAll(
      ctx.cluster.nodes().filter((e) => e !== node),
      (e) => e.sync.refreshNetworks(),
    );
  }
  ctx.logger.debug(`Created network ${String(body.Name)}`, { NodeName: node.name });
  await reply.code(201).send(created);
}

// ---- Remove --------------------------------------------------------------------------------

async function removeNetwork(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, ref: string): Promise<void> {
  const found = ctx.cluster.findNetwork(ref);
  if (!found) throw networkNotFound(ctx, ref, "remove");
  const { network } = found;
  const global = !isLocal(network);
  // A global network can be removed through any engine that sees it if its owner is down.
  const candidates = global
    ? [found.node, ...ctx.cluster.healthyNodes().filter((e) => e !== found.node && e.networks.has(network.Id))]
    : [found.node];
  let lastError: unknown;
  for (const node of candidates) {
    try {
      await node.engine.send("DELETE", `/networks/${network.Id}`, { versionPrefix: versionPrefixOf(request) });
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err;
      if (!global || !isConnectionError(err)) break;
    }
  }
  await refreshAll(global ? ctx.cluster.nodes() : [found.node], (e) => e.sync.refreshNetworks());
  if (lastError !== undefined) throw lastError;
  await reply.code(204).send();
}

// ---- Connect / disconnect ------------------------------------------------------------------

/** A network by reference among one engine's networks: ID, unique ID prefix, name or `<node>/<name>`. */
function networkOnEngine(node: Node, ref: string): NetworkResource | undefined {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  const networks = networksOf(node);
  const exact = networks.find(
    (n) => n.Id === bare || n.Name === bare || `${node.name}/${n.Name}` === bare || `${node.id}/${n.Name}` === bare,
  );
  if (exact) return exact;
  const byPrefix = networks.filter((n) => n.Id.startsWith(bare));
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
}

/**
 * Connect and disconnect run on the container's engine. A plain network name is resolved there
 * first, so `docker network connect web c` works although every node has its own `web`.
 */
async function connectOrDisconnect(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ref: string,
  action: "connect" | "disconnect",
): Promise<void> {
  const anywhere: Located | undefined = ctx.cluster.findNetwork(ref);
  const body = jsonBody(request) as { Container?: unknown; [key: string]: unknown } | undefined;
  const containerRef = body && typeof body === "object" && typeof body.Container === "string" ? body.Container : "";
  const container = containerRef === "" ? undefined : ctx.cluster.findContainer(containerRef);
  const containerNode = container && ctx.cluster.nodeOf(container);
  const onContainerEngine = containerNode ? networkOnEngine(containerNode, ref) : undefined;
  if (!anywhere && !onContainerEngine) throw networkNotFound(ctx, ref, "connect");
  if (containerRef === "") throw errors.ContainerNotSpecified();
  if (!container || !containerNode) throw errors.NoSuchContainer({ ref: containerRef });
  const node = containerNode;
  const network = onContainerEngine ?? (anywhere && node.networks.get(anywhere.network.Id));
  if (!network) {
    const where = anywhere ? anywhere.node.name : "another node";
    throw errors.NetworkOnAnotherNode({ ref, where, container: containerRef, node: node.name });
  }
  const containerId = container.id;
  const response = await node.engine.call("POST", `/networks/${network.Id}/${action}`, {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, Container: containerId }),
    versionPrefix: versionPrefixOf(request),
  });
  const text = await readText(response.body);
  await Promise.all([node.sync.refreshNetworks(), node.sync.reread(containerId)].map((p) => p.catch(() => undefined)));
  if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(text));
  if (text === "") await reply.code(response.statusCode).send();
  else await reply.code(response.statusCode).header("content-type", "application/json").send(text);
}

/**
 * Why `ref` names no network: dockerd's 400 for an ID prefix several networks share (worded as
 * dockerd words it for inspect and for the other routes), else the 404 with what a plain name
 * held by several nodes could have meant. A global network seen by many nodes counts once.
 */
function networkNotFound(ctx: ApiContext, ref: string, route: "inspect" | "remove" | "connect"): SwarmError {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  const sameName = networksNamed(ctx, ref);
  const prefixed = new Set(ctx.cluster.nodes().flatMap((node) => [...node.networks.keys()].filter((id) => id.startsWith(bare))));
  if (sameName.length < 2 && bare !== "" && prefixed.size > 1) {
    const ambiguous = route === "inspect" ? errors.AmbiguousNetworkPrefixInspect : errors.AmbiguousNetworkPrefix;
    return ambiguous({ ref, count: prefixed.size });
  }
  return noSuch(route === "remove" ? "network to remove" : "network", ref, sameName);
}

/** `<node>/<name>` of every node-local network called `ref`: what a plain name could have meant. */
function networksNamed(ctx: ApiContext, ref: string): string[] {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  return ctx.cluster.nodes().flatMap((node) =>
    [...node.networks.values()].filter((n) => n.Name === bare && isLocal(n)).map((n) => `${node.name}/${n.Name}`),
  );
}
