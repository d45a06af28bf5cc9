import { pipeline } from "node:stream/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Node } from "../cluster/node.js";
import type { EngineResponse } from "../engines/engine.js";
import type { BuildSessions } from "./sessions.js";
import { errorMessage, errors, isSwarmError } from "../errors/catalog.js";
import { normalizeConfig } from "../scheduler/request.js";
import { queryInt, type ApiContext } from "./context.js";
import { bodyStream, eachNode, throwFailures } from "./fan-out.js";
import { forwardableHeaders, rawQuery, versionPrefixOf } from "./proxy.js";

/** Build args that are scheduling expressions, as `docker run -e` entries are (§3.1). */
const SWARM_ARG = /^(constraint|affinity|whitelist|reschedule):/;

export function buildRoutes(app: FastifyInstance, ctx: ApiContext, sessions: BuildSessions): void {
  app.post("/build", async (request, reply) => build(ctx, sessions, request, reply));

  app.post("/build/prune", async (request) => {
    const results = await eachNode(ctx.cluster.healthyNodes(), (node) =>
      node.engine.json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>("POST", "/build/prune", {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
      }),
    );
    throwFailures(results);
    const deleted = results.flatMap((r) => (r.ok ? (r.value.CachesDeleted ?? []) : []));
    return {
      CachesDeleted: deleted.length > 0 ? deleted : null,
      SpaceReclaimed: results.reduce((sum, r) => sum + (r.ok ? (r.value.SpaceReclaimed ?? 0) : 0), 0),
    };
  });
}

export interface BuildPlacement {
  /** Expressions as env entries (`constraint:node==node-2`). */
  readonly expressions: string[];
  /** The build args left for the engine, or undefined when unchanged. */
  readonly buildargs: string | undefined;
}

/**
 * `--build-arg constraint:node==node-2` arrives as `{"constraint:node":"=node-2"}`: re-joined into
 * `constraint:node==node-2` and kept from the engine. Unparsable build args are left for the
 * engine to refuse with its own message.
 */
export function splitBuildArgs(raw: string | null): BuildPlacement {
  if (raw === null || raw === "") return { expressions: [], buildargs: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { expressions: [], buildargs: undefined };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { expressions: [], buildargs: undefined };
  const expressions: string[] = [];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (SWARM_ARG.test(key)) expressions.push(typeof value === "string" ? `${key}=${value}` : key);
    else rest[key] = value;
  }
  return { expressions, buildargs: expressions.length > 0 ? JSON.stringify(rest) : undefined };
}

/** The engine the scheduler picks for a build with these expressions and resources. */
function placeBuild(ctx: ApiContext, expressions: string[], params: URLSearchParams): Node {
  const config = normalizeConfig({
    Env: expressions,
    HostConfig: { Memory: queryInt(params.get("memory") ?? undefined), CpuShares: queryInt(params.get("cpushares") ?? undefined) },
  });
  const node = ctx.cluster.rankNodes(config)[0];
  if (!node) throw errors.NoNodesAvailable();
  return node;
}

/**
 * `POST /build` on one scheduled node: the context is streamed there untouched and the engine's
 * progress passed through as it comes (the docker CLI's `-q` and `--iidfile` read it). The node's
 * image mirror is refreshed before the stream ends, so a `docker run` right after finds the image.
 */
async function build(ctx: ApiContext, sessions: BuildSessions, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const params = new URLSearchParams(rawQuery(request.raw.url ?? ""));
  const placement = splitBuildArgs(params.get("buildargs"));
  const node = placeBuild(ctx, placement.expressions, params);
  const session = params.get("session");
  if (session) sessions.assign(session, node.engine);
  if (placement.buildargs !== undefined) params.set("buildargs", placement.buildargs);
  ctx.logger.debug("Building on", { NodeName: node.name, NodeID: node.id });

  const abort = new AbortController();
  const onClose = () => abort.abort();
  reply.raw.once("close", onClose);
  let response: EngineResponse;
  try {
    response = await node.engine.call("POST", "/build", {
      query: params.toString(),
      headers: forwardableHeaders(request.headers),
      body: bodyStream(request),
      versionPrefix: versionPrefixOf(request),
      timeout: 0,
      signal: abort.signal,
    });
  } catch (err) {
    reply.raw.off("close", onClose);
    if (abort.signal.aborted) return;
    throw isSwarmError(err) ? err : errors.EngineCallFailed({ message: errorMessage(err) }, { cause: err });
  }
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(response.headers)) {
    if (value !== undefined && key !== "transfer-encoding" && key !== "connection" && key !== "keep-alive") headers[key] = value;
  }
  raw.writeHead(response.statusCode, headers);
  raw.flushHeaders();
  try {
    await pipeline(response.body, raw, { end: false });
    await node.sync.refreshImages().catch(() => undefined);
  } catch {
    // Either side went away mid-build: the pipeline destroyed both ends.
  } finally {
    reply.raw.off("close", onClose);
    if (!raw.writableEnded) raw.end();
  }
}
