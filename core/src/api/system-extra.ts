import type { FastifyInstance } from "fastify";
import { errors } from "../errors/catalog.js";
import type { ApiContext } from "./context.js";
import { eachNode, throwFailures } from "./fan-out.js";
import { topNode } from "./images.js";
import { proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };

interface DiskUsage {
  LayersSize?: number;
  Images?: unknown[] | null;
  Containers?: Array<{ Names?: string[] | null; [key: string]: unknown }> | null;
  Volumes?: Array<{ Name: string; Driver?: string; [key: string]: unknown }> | null;
  BuildCache?: unknown[] | null;
  BuilderSize?: number;
}

/** System routes beyond classic Swarm's: disk usage, registry login, distribution inspect. */
export function systemExtraRoutes(app: FastifyInstance, ctx: ApiContext): void {
  /**
   * Disk usage adds up per node: an image pulled on three nodes takes its size three times, so
   * rows are not merged. Containers and local volumes carry their node as listings show them.
   */
  app.get("/system/df", async (request) => {
    const results = await eachNode(ctx.cluster.healthyNodes(), (node) =>
      node.engine.json<DiskUsage>("GET", "/system/df", { query: rawQuery(request.raw.url ?? ""), versionPrefix: versionPrefixOf(request), timeout: 0 }),
    );
    throwFailures(results);
    const merged = {
      LayersSize: 0,
      Images: [] as unknown[],
      Containers: [] as unknown[],
      Volumes: [] as unknown[],
      BuildCache: [] as unknown[],
      BuilderSize: 0,
    };
    for (const result of results) {
      if (!result.ok) continue;
      const { node, value } = result;
      merged.LayersSize += value.LayersSize ?? 0;
      merged.BuilderSize += value.BuilderSize ?? 0;
      merged.Images.push(...(value.Images ?? []));
      merged.BuildCache.push(...(value.BuildCache ?? []));
      for (const container of value.Containers ?? []) {
        merged.Containers.push({ ...container, Names: (container.Names ?? []).map((n) => `/${node.name}${n.startsWith("/") ? n : `/${n}`}`) });
      }
      for (const volume of value.Volumes ?? []) {
        merged.Volumes.push((volume.Driver ?? "local") === "local" ? { ...volume, Name: `${node.name}/${volume.Name}` } : volume);
      }
    }
    return merged;
  });

  // Credentials are checked against the registry, which every node reaches alike (§7.2).
  app.post("/auth", async (request, reply) => {
    await proxyToEngine(topNode(ctx).engine, request, reply, { path: "/auth" });
  });

  // `GET /distribution/127.0.0.1:5000/team/app:1/json`: the name keeps its slashes.
  app.get<{ Params: Wildcard }>("/distribution/*", async (request, reply) => {
    const path = request.params["*"];
    if (!path.endsWith("/json")) throw errors.PageNotFound();
    const node = ctx.cluster.healthyNodes()[0];
    if (!node) throw errors.NoHealthyNode();
    await proxyToEngine(node.engine, request, reply, { path: `/distribution/${path}` });
  });
}
