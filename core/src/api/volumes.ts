import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Cluster } from "../cluster/cluster.js";
import type { Engine } from "../engines/engine.js";
import type { VolumeResource } from "../engines/docker-types.js";
import { SwarmError } from "../errors/catalog.js";
import { SwarmLabels, normalizeConfig, toScheduleRequest } from "../scheduler/request.js";
import { labelMatches, noSuch, parseFilters, query, type ApiContext } from "./context.js";
import { eachEngine, refreshAll, throwFailures } from "./images.js";
import { proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };

export function volumeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/volumes", async (request) => ({ Volumes: listVolumes(ctx.cluster, query(request)), Warnings: null }));

  app.post("/volumes/create", async (request, reply) => createVolume(ctx, request, reply));

  app.post("/volumes/prune", async (request) => {
    const engines = ctx.cluster.healthyEngines();
    const results = await eachEngine(engines, (engine) =>
      engine.json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>("POST", "/volumes/prune", {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
      }),
    );
    await refreshAll(engines, (e) => e.refreshVolumes());
    throwFailures(results);
    return {
      VolumesDeleted: results.flatMap((r) => (r.ok ? (r.value.VolumesDeleted ?? []).map((name) => `${r.engine.name}/${name}`) : [])),
      SpaceReclaimed: results.reduce((sum, r) => sum + (r.ok ? (r.value.SpaceReclaimed ?? 0) : 0), 0),
    };
  });

  // `node-1/data` reaches the route unescaped, as two path segments.
  app.get<{ Params: Wildcard }>("/volumes/*", async (request, reply) => {
    const ref = request.params["*"];
    const found = findVolume(ctx.cluster, ref);
    if (!found) {
      const sameName = ctx.cluster.validatedEngines().flatMap((engine) => {
        const volume = volumeOnEngine(engine, ref);
        return volume ? [`${engine.name}/${volume.Name}`] : [];
      });
      throw new SwarmError("NotFound", noSuch("volume", ref, sameName));
    }
    await proxyToEngine(found.engine, request, reply, { path: `/volumes/${found.volume.Name}` });
  });

  app.delete<{ Params: Wildcard }>("/volumes/*", async (request, reply) => {
    const ref = request.params["*"];
    const targets: Array<{ engine: Engine; name: string }> = [];
    for (const engine of ctx.cluster.validatedEngines()) {
      const volume = volumeOnEngine(engine, ref);
      if (volume) targets.push({ engine, name: volume.Name });
    }
    // Classic Swarm's delete message has no colon; scripts match on it.
    if (targets.length === 0) throw new SwarmError("NotFound", `No such volume ${ref}`);
    const names = new Map(targets.map((t) => [t.engine, t.name]));
    const engines = targets.map((t) => t.engine);
    const results = await eachEngine(engines, (engine) =>
      engine.send("DELETE", `/volumes/${names.get(engine) ?? ref}`, {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
      }),
    );
    await refreshAll(engines, (e) => e.refreshVolumes());
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
function volumesOf(engine: Engine): VolumeResource[] {
  return [...engine.volumes.values()].filter((v) => typeof v.Name === "string" && v.Name !== "");
}

/** One engine's volume by `name`, `<node name>/name` or `<node id>/name`. */
function volumeOnEngine(engine: Engine, ref: string): VolumeResource | undefined {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  for (const volume of volumesOf(engine)) {
    if (volume.Name === bare || `${engine.name}/${volume.Name}` === bare || `${engine.id}/${volume.Name}` === bare) return volume;
  }
  return undefined;
}

/**
 * A volume across the cluster. A plain name held by several nodes is ambiguous (each node's
 * `local` volume is a different volume) unless one of them is a shared, non-local one.
 */
export function findVolume(cluster: Cluster, ref: string): { engine: Engine; volume: VolumeResource } | undefined {
  const bare = ref.startsWith("/") ? ref.slice(1) : ref;
  const matches: Array<{ engine: Engine; volume: VolumeResource }> = [];
  for (const engine of cluster.validatedEngines()) {
    const volume = volumeOnEngine(engine, bare);
    if (volume) matches.push({ engine, volume });
  }
  if (matches.length === 1) return matches[0];
  return matches.find((m) => !isLocal(m.volume) && m.volume.Name === bare);
}

// ---- Listing (§4.9) ------------------------------------------------------------------------

export function listVolumes(cluster: Cluster, q: Record<string, string | undefined>): VolumeResource[] {
  const filters = parseFilters(q.filters);
  for (const value of filters.dangling ?? []) {
    if (!["true", "false", "1", "0"].includes(value)) throw new SwarmError("BadRequest", `Invalid filter 'dangling=${value}'`);
  }
  const used = volumesInUse(cluster);
  const seenShared = new Set<string>();
  const rows: VolumeResource[] = [];
  for (const engine of cluster.validatedEngines()) {
    for (const volume of volumesOf(engine)) {
      const local = isLocal(volume);
      if (!local) {
        // A shared driver's volume is one volume, whichever nodes see it.
        if (seenShared.has(volume.Name)) continue;
        seenShared.add(volume.Name);
      }
      const shown = local ? `${engine.name}/${volume.Name}` : volume.Name;
      if (filters.name && !filters.name.some((n) => volume.Name.includes(n) || shown === n)) continue;
      if (filters.label && !filters.label.every((l) => labelMatches(volume.Labels ?? {}, l))) continue;
      if (filters.driver && !filters.driver.includes(volume.Driver ?? "local")) continue;
      if (local && filters.node && !filters.node.some((n) => n === engine.name || n === engine.id)) continue;
      if (filters.dangling) {
        const wanted = filters.dangling.some((v) => v === "true" || v === "1");
        if (wanted === used.has(`${engine.id}\n${volume.Name}`)) continue;
      }
      rows.push({ ...volume, Name: shown });
    }
  }
  return rows;
}

/** `<engine id>\n<volume name>` of every volume mounted by a container of the cluster. */
function volumesInUse(cluster: Cluster): Set<string> {
  const used = new Set<string>();
  for (const { engine, record } of cluster.containers()) {
    for (const mount of record.inspect.Mounts ?? []) if (mount.Name) used.add(`${engine.id}\n${mount.Name}`);
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
  const raw = request.body ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SwarmError("BadRequest", "volume create needs a JSON object body");
  const body: VolumeCreateBody = { ...(raw as VolumeCreateBody) };
  let name = typeof body.Name === "string" ? body.Name : "";
  if (name === "") name = randomBytes(32).toString("hex");
  let engines: Engine[];
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const node = name.slice(0, slash);
    name = name.slice(slash + 1);
    engines = placed(ctx, normalizeConfig({ Labels: { [SwarmLabels.constraints]: JSON.stringify([`node==${node}`]) } })).slice(0, 1);
  } else if (body.Labels && Object.hasOwn(body.Labels, SwarmLabels.whitelists)) {
    engines = placed(ctx, normalizeConfig({ Labels: { ...body.Labels } }));
  } else {
    engines = ctx.cluster.validatedEngines();
  }
  if (engines.length === 0) throw new SwarmError("Scheduling", "No nodes available in the cluster");
  body.Name = name;
  const payload = JSON.stringify(body);
  const results = await eachEngine(engines, (engine) =>
    engine.json<VolumeResource>("POST", "/volumes/create", {
      headers: { "content-type": "application/json" },
      body: payload,
      versionPrefix: versionPrefixOf(request),
    }),
  );
  await refreshAll(engines, (e) => e.refreshVolumes());
  throwFailures(results);
  const first = results.find((r) => r.ok);
  await reply.code(201).send(first?.ok ? first.value : {});
}

/** Every node the scheduler accepts for these labels, best first. */
function placed(ctx: ApiContext, config: ReturnType<typeof normalizeConfig>): Engine[] {
  return ctx.cluster.scheduler
    .rank(toScheduleRequest(config, undefined), ctx.cluster.nodes())
    .map((node) => ctx.cluster.engineById(node.id))
    .filter((e): e is Engine => e !== undefined);
}
