import { buffer } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EngineError, type Engine } from "../engines/engine.js";
import { errorMessage } from "../errors/catalog.js";
import type { ApiContext } from "./context.js";
import { locateContainer, trackAction } from "./containers.js";
import { forwardableHeaders, rawQuery, requestBody, versionPrefixOf } from "./proxy.js";

type NameParams = { name: string };

interface PruneAnswer {
  ContainersDeleted?: string[] | null;
  SpaceReclaimed?: number;
}

/**
 * Container operations the generic `/containers/:name/*` forward gets wrong: state changes whose
 * answer must wait for the mirror to be re-read (so `docker info` and `docker ps` right after them
 * agree), the cluster-wide prune, and commit, whose container is a query parameter. Everything else
 * (top, stats, changes, export, archive, resize, logs, wait) streams through that forward.
 */
export function containerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const refreshing = (action: "pause" | "unpause" | "update") => async (request: FastifyRequest<{ Params: NameParams }>, reply: FastifyReply) => {
    const found = locateContainer(ctx, request.params.name);
    const path = `/containers/${found.record.id}/${action}`;
    const answer = await trackAction(found, action, () => callEngine(found.node.engine, request, path, rawQuery(request.raw.url ?? "")));
    return relay(reply, answer);
  };
  app.post<{ Params: NameParams }>("/containers/:name/pause", refreshing("pause"));
  app.post<{ Params: NameParams }>("/containers/:name/unpause", refreshing("unpause"));
  app.post<{ Params: NameParams }>("/containers/:name/update", refreshing("update"));

  app.post("/containers/prune", async (request) => pruneContainers(ctx, request));

  app.post("/commit", async (request, reply) => {
    const params = new URLSearchParams(rawQuery(request.raw.url ?? ""));
    const found = locateContainer(ctx, params.get("container") ?? "");
    params.set("container", found.record.id);
    const answer = await callEngine(found.node.engine, request, "/commit", params.toString());
    if (answer.statusCode < 400) {
      // The new image must be schedulable (and listed) as soon as the client has its ID.
      await found.node.sync.refreshImages().catch((err: unknown) => {
        ctx.logger.warn(`image refresh after commit failed: ${errorMessage(err)}`, { name: found.node.name });
      });
    }
    return relay(reply, answer);
  });
}

interface EngineAnswer {
  readonly statusCode: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** A short call (its answer is a status or a small JSON document) with the client's version and body. */
async function callEngine(engine: Engine, request: FastifyRequest, path: string, query: string): Promise<EngineAnswer> {
  const body = requestBody(request);
  const headers = forwardableHeaders(request.headers);
  if (typeof body === "string") headers["content-length"] = String(Buffer.byteLength(body));
  // `stop`-like waits and commits of big containers outlast any fixed timeout.
  const response = await engine.call("POST", path, { query, body, headers, versionPrefix: versionPrefixOf(request), timeout: 0 });
  const data = await buffer(response.body);
  const type = response.headers["content-type"];
  return { statusCode: response.statusCode, contentType: Array.isArray(type) ? type[0] : type, body: data };
}

function relay(reply: FastifyReply, answer: EngineAnswer): FastifyReply {
  void reply.code(answer.statusCode);
  if (answer.contentType) void reply.header("content-type", answer.contentType);
  return reply.send(answer.body.length > 0 ? answer.body : undefined);
}

/**
 * `docker container prune` on every healthy engine at once, `filters` passed on. An engine that
 * refuses the request (a bad filter) fails it; one that cannot be reached is left out.
 */
async function pruneContainers(ctx: ApiContext, request: FastifyRequest): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
  const query = rawQuery(request.raw.url ?? "");
  const versionPrefix = versionPrefixOf(request);
  const nodes = ctx.cluster.healthyNodes();
  const results = await Promise.allSettled(
    nodes.map(async (node) => {
      const answer = await node.engine.json<PruneAnswer>("POST", "/containers/prune", { query, versionPrefix, timeout: 0 });
      const deleted = answer.ContainersDeleted ?? [];
      for (const id of deleted) node.sync.forget(id);
      return { deleted, space: answer.SpaceReclaimed ?? 0 };
    }),
  );
  const merged = { ContainersDeleted: [] as string[], SpaceReclaimed: 0 };
  for (const [index, result] of results.entries()) {
    if (result.status === "fulfilled") {
      merged.ContainersDeleted.push(...result.value.deleted);
      merged.SpaceReclaimed += result.value.space;
      continue;
    }
    const err: unknown = result.reason;
    if (err instanceof EngineError) throw err;
    const node = nodes[index];
    ctx.logger.warn(`container prune failed on ${node?.name ?? "an engine"}: ${errorMessage(err)}`);
  }
  return merged;
}
