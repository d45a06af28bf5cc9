import { text as readText } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Node } from "../cluster/node.js";
import { errors } from "../errors/catalog.js";
import { jsonBody, type ApiContext } from "./context.js";
import { locateContainer } from "./containers.js";
import { proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

export interface LocatedExec {
  readonly node: Node;
  readonly execId: string;
}

interface ExecInspect {
  readonly ID?: string;
  readonly ContainerID?: string;
}

/**
 * The engine running an exec instance. IDs are remembered at exec-create and from inspect's
 * `ExecIDs`; an exec created directly on an engine (or one the mirror has not re-inspected yet) is
 * looked for on every healthy engine before answering dockerd's 404.
 */
export async function locateExec(ctx: ApiContext, execId: string): Promise<LocatedExec> {
  const known = ctx.cluster.findExec(execId);
  const knownNode = known && ctx.cluster.nodeOf(known);
  if (known && knownNode) {
    if (!knownNode.isHealthy()) {
      throw errors.ContainerOnUnhealthyNode({ ref: known.id, node: knownNode.name });
    }
    return { node: knownNode, execId };
  }
  if (execId !== "") {
    const answers = await Promise.all(
      ctx.cluster.healthyNodes().map(async (node) => {
        try {
          const inspect = await node.engine.json<ExecInspect>("GET", `/exec/${encodeURIComponent(execId)}/json`);
          return { node, inspect };
        } catch {
          // Not on this engine (404) or the engine failed: either way it cannot serve this exec.
          return undefined;
        }
      }),
    );
    const hit = answers.find((a) => a !== undefined);
    if (hit) {
      const containerId = hit.inspect.ContainerID;
      if (containerId) hit.node.addExec(containerId, hit.inspect.ID ?? execId);
      return { node: hit.node, execId: hit.inspect.ID ?? execId };
    }
  }
  throw errors.NoSuchExec({ id: execId });
}

type ExecParams = { id: string };

export function execRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { name: string } }>("/containers/:name/exec", async (request, reply) => {
    const found = locateContainer(ctx, request.params.name);
    const body = jsonBody(request);
    if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body) || !hasCommand(body)) {
      throw errors.NoExecCommand();
    }
    const response = await found.node.engine.call("POST", `/containers/${found.record.id}/exec`, {
      query: rawQuery(request.raw.url ?? ""),
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      versionPrefix: versionPrefixOf(request),
    });
    const text = await readText(response.body);
    if (response.statusCode === 201) {
      const id = parseId(text);
      // Remembered so that /exec/<id>/* finds its engine without asking every engine.
      if (id) found.node.addExec(found.record.id, id);
    }
    return reply
      .code(response.statusCode)
      .header("content-type", contentTypeOf(response.headers["content-type"]))
      .send(text);
  });

  const forward = (suffix: string) => async (request: FastifyRequest<{ Params: ExecParams }>, reply: FastifyReply) => {
    const exec = await locateExec(ctx, request.params.id);
    await proxyToEngine(exec.node.engine, request, reply, { path: `/exec/${encodeURIComponent(exec.execId)}${suffix}` });
  };
  app.get<{ Params: ExecParams }>("/exec/:id/json", forward("/json"));
  app.post<{ Params: ExecParams }>("/exec/:id/resize", forward("/resize"));
  // Hijacked starts (Connection: Upgrade) never reach fastify (hijack.ts); these are `Detach`
  // starts and clients that read the output without an upgrade.
  app.post<{ Params: ExecParams }>("/exec/:id/start", forward("/start"));
}

/** dockerd's rule: `Cmd` (a string or a list, as Go's strslice accepts) must not be empty. */
function hasCommand(body: object): boolean {
  const cmd = (body as { Cmd?: unknown }).Cmd;
  if (typeof cmd === "string") return cmd !== "";
  return Array.isArray(cmd) && cmd.length > 0;
}

function parseId(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { Id?: unknown };
    return typeof parsed.Id === "string" ? parsed.Id : undefined;
  } catch {
    return undefined;
  }
}

function contentTypeOf(value: string | string[] | undefined): string {
  const type = Array.isArray(value) ? value[0] : value;
  return type ?? "application/json";
}
