import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ClusterReader } from "../cluster/reader.js";
import type { Node } from "../cluster/node.js";
import type { VolumeResource } from "../engines/docker-types.js";
import { errors } from "../errors/catalog.js";
import { SwarmLabels } from "../scheduler/request.js";
import { jsonBody, labelMatches, noSuch, parseFilters, query, type ApiContext } from "./context.js";
import { eachNode, refreshAll, throwFailures } from "./fan-out.js";
import { proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };

export function volumeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/volumes", async (request) => ({ Volumes: listVolumes(ctx.cluster, query(request)), Warnings: null }));

  app.post("/volumes/create", async (request, reply) => createVolume(ctx, request, reply));

  app.post("/volumes/prune", async (request) => {
    const nodes = ctx.cluster.healthyNodes();
    const results = await eachNode(nodes, (node) =>
      node.engine.json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>("POST", "/volumes/prune", {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
      }),
    );
    await refreshAll(nodes, (e) => e.sync.refreshVolumes());
    throwFailures(results);
    return {
      VolumesDeleted: results.flatMap((r) => (r.ok ? (r.value.VolumesDeleted ?? []).map((name) => `${r.node.name}/${name}`) : [])),
      SpaceReclaimed: results.reduce((sum, r) => sum + (r.ok ? (r.value.SpaceReclaimed ?? 0) : 0), 0),
    };
  });

  // `node-1/data` reaches the route unescaped, as two path segments.
  app.get<{ Params: Wildcard }>("/volumes/*", async (request, reply) => {
    const ref = request.params["*"];
    const found = findVolume(ctx.cluster, ref);
    if (!found) {
      const sameName = ctx.cluster.nodes().flatMap((node) => {
        const volume = volumeOnEngine(node, ref);
        return volume ? [`${node.name}/${volume.Name}`] : [];
      });
      throw noSuch("volume", ref, sameName);
    }
    await proxyToEngine(found.node.engine, request, reply, { path: `/volumes/${found.volume.Name}` });
  });

  app.delete<{ Params: Wildcard }>("/volumes/*", async (request, reply) => {
    const ref = request.params["*"];
    const targets: Array<{ node: Node; name: string }> = [];
    for (const node of ctx.cluster.nodes()) {
      const volume = volumeOnEngine(node, ref);
      if (volume) targets.push({ node, name: volume.Name });
    }
    if (targets.length === 0) throw errors.NoSuchVolumeToRemove({ ref });
    const names = new Map(targets.map((t) => [t.node, t.name]));
    const nodes = targets.map((t) => t.node);
    const results = await eachNode(nodes, (node) =>
      node.engine.send("DELETE", `/volumes/${names.get(node) ?? ref}`, {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
      }),
    );
    await refreshAll(nodes, (e) => e.sync.refreshVolumes());
    throwFailures(results);
    await reply.code(204).send();
  });
}

// ---- Lookup (§4.4) -------------------------------------------------------------------------

function isLocal(volume: VolumeResource): boolean {
  return (volume.Driver ?? "local") === "local";
}

/**
 * An engine's mirrored volumes that are volumes: an engine event without an ID (dockerd's
 * `prune` event) can leave a stray entry in the mirror until its next full refresh.
 */
function volumesOf(node: Node): VolumeResource[] {
  return [...node.volumes.values()].filter((v) => typeof v.Name === "string" && v.Name !== "");
}

/** One engine's volume by `name`, `<node name>/name` or `<node id>/name`. */
function volumeOnEngine(node: Node, ref: string): VolumeResource | undefined {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  for (const volume of volumesOf(node)) {
    if (volume.Name === bare || `${node.name}/${volume.Name}` === bare || `${node.id}/${volume.Name}` === bare) return volume;
  }
  return undefined;
}

/**
 * A volume across the cluster. A plain name held by several nodes is ambiguous (each node's
 * `local` volume is a different volume) unless one of them is a shared, non-local one.
 */
export function findVolume(cluster: ClusterReader, ref: string): { node: Node; volume: VolumeResource } | undefined {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  const matches: Array<{ node: Node; volume: VolumeResource }> = [];
  for (const node of cluster.nodes()) {
    const volume = volumeOnEngine(node, bare);
    if (volume) matches.push({ node, volume });
  }
  if (matches.length === 1) return matches[0];
  return matches.find((m) => !isLocal(m.volume) && m.volume.Name === bare);
}

// ---- Listing (§4.9) ------------------------------------------------------------------------

export function listVolumes(cluster: ClusterReader, q: Record<string, string | undefined>): VolumeResource[] {
  const filters = parseFilters(q.filters);
  for (const value of filters.dangling ?? []) {
    if (!["true", "false", "1", "0"].includes(value)) throw errors.InvalidDanglingFilter({ value });
  }
  const used = volumesInUse(cluster);
  const seenShared = new Set<string>();
  const rows: VolumeResource[] = [];
  for (const node of cluster.nodes()) {
    for (const volume of volumesOf(node)) {
      const local = isLocal(volume);
      if (!local) {
        // A shared driver's volume is one volume, whichever nodes see it.
        if (seenShared.has(volume.Name)) continue;
        seenShared.add(volume.Name);
      }
      const shown = local ? `${node.name}/${volume.Name}` : volume.Name;
      if (filters.name && !filters.name.some((n) => volume.Name.includes(n) || shown === n)) continue;
      if (filters.label && !filters.label.every((l) => labelMatches(volume.Labels ?? {}, l))) continue;
      if (filters.driver && !filters.driver.includes(volume.Driver ?? "local")) continue;
      if (local && filters.node && !filters.node.some((n) => n === node.name || n === node.id)) continue;
      if (filters.dangling) {
        const wanted = filters.dangling.some((v) => v === "true" || v === "1");
        if (wanted === used.has(`${node.id}\n${volume.Name}`)) continue;
      }
      rows.push({ ...volume, Name: shown });
    }
  }
  return rows;
}

/** `<engine id>\n<volume name>` of every volume mounted by a container of the cluster. */
function volumesInUse(cluster: ClusterReader): Set<string> {
  const used = new Set<string>();
  for (const record of cluster.containers()) {
    for (const mount of record.mounts) if (mount.name) used.add(`${record.nodeId}\n${mount.name}`);
  }
  return used;
}

// ---- Create --------------------------------------------------------------------------------

interface VolumeCreateBody {
  Name?: unknown;
  Labels?: Record<string, string> | null;
  [key: string]: unknown;
}

/**
 * `<node>/<name>` is created on that node; a `com.docker.swarm.whitelists` label picks the nodes
 * that pass it; otherwise the volume is created on every node, so a container lands anywhere
 * and finds it (§4.9). One name on every node, hence a generated name when none is given.
 */
async function createVolume(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const raw = jsonBody(request) ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw errors.VolumeCreateBodyRequired();
  const body: VolumeCreateBody = { ...(raw as VolumeCreateBody) };
  let name = typeof body.Name === "string" ? body.Name : "";
  if (name === "") name = randomBytes(32).toString("hex");
  let nodes: readonly Node[];
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const nodeName = name.slice(0, slash);
    name = name.slice(slash + 1);
    nodes = ctx.cluster.rankNodes({ Labels: { [SwarmLabels.constraints]: JSON.stringify([`node==${nodeName}`]) } }).slice(0, 1);
  } else if (body.Labels && Object.hasOwn(body.Labels, SwarmLabels.whitelists)) {
    nodes = ctx.cluster.rankNodes({ Labels: { ...body.Labels } });
  } else {
    nodes = ctx.cluster.nodes();
  }
  if (nodes.length === 0) throw errors.NoNodesAvailable();
  body.Name = name;
  const payload = JSON.stringify(body);
  const results = await eachNode(nodes, (node) =>
    node.engine.json<VolumeResource>("POST", "/volumes/create", {
      headers: { "content-type": "application/json" },
      body: payload,
      versionPrefix: versionPrefixOf(request),
    }),
  );
  await refreshAll(nodes, (e) => e.sync.refreshVolumes());
  throwFailures(results);
  const first = results.find((r) => r.ok);
  await reply.code(201).send(first?.ok ? first.value : {});
}

