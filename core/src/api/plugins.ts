import { text } from "node:stream/consumers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Node } from "../cluster/node.js";
import { EngineError, engineMessage } from "../engines/engine.js";
import { errors } from "../errors/catalog.js";
import { query, type ApiContext } from "./context.js";
import { bodyStream, eachNode, fanOutStream, openJsonStream, teeBody, throwFailures, writeFailures } from "./fan-out.js";
import { forwardableHeaders, proxyToEngine, rawQuery, requestBody, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };

interface PluginObject {
  Id?: string;
  Name: string;
  [key: string]: unknown;
}

/**
 * Managed plugins live on each engine. The manager keeps no mirror of them: every call asks the
 * engines. Listings name each plugin `<node>/<name>` (as local networks and volumes are), and
 * any operation on a plugin runs on every node holding it, or only on the node a prefix names.
 */
export function pluginRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/plugins", async (request) => {
    const results = await eachNode(ctx.cluster.healthyNodes(), (node) =>
      node.engine.json<PluginObject[] | null>("GET", "/plugins", { query: rawQuery(request.raw.url ?? ""), versionPrefix: versionPrefixOf(request) }),
    );
    throwFailures(results);
    return results.flatMap((r) => (r.ok ? (r.value ?? []).map((plugin) => ({ ...plugin, Name: `${r.node.name}/${plugin.Name}` })) : []));
  });

  // Privileges come from the registry, which every node reaches alike: one node answers.
  app.get("/plugins/privileges", async (request, reply) => {
    const node = ctx.cluster.healthyNodes()[0];
    if (!node) throw errors.NoHealthyNode();
    await proxyToEngine(node.engine, request, reply, { path: "/plugins/privileges" });
  });

  app.post("/plugins/pull", async (request, reply) => {
    const params = new URLSearchParams(rawQuery(request.raw.url ?? ""));
    const target = nodePrefixed(ctx, params.get("name") ?? "");
    if (target) params.set("name", target.rest);
    const nodes = target ? [target.node] : ctx.cluster.healthyNodes();
    await streamToEngines(ctx, request, reply, nodes, "/plugins/pull", params.toString());
  });

  app.post("/plugins/create", async (request, reply) => {
    const params = new URLSearchParams(rawQuery(request.raw.url ?? ""));
    const target = nodePrefixed(ctx, params.get("name") ?? "");
    if (target) params.set("name", target.rest);
    const nodes = target ? [target.node] : ctx.cluster.healthyNodes();
    if (nodes.length === 0) throw errors.NoHealthyNode();
    const tee = teeBody(bodyStream(request), nodes.length);
    const headers = forwardableHeaders(request.headers);
    const results = await eachNode(nodes, async (node) => {
      const index = nodes.indexOf(node);
      try {
        await node.engine.send("POST", "/plugins/create", {
          query: params.toString(),
          headers,
          body: tee.branches[index] ?? "",
          versionPrefix: versionPrefixOf(request),
          timeout: 0,
        });
      } finally {
        tee.drop(index);
      }
    });
    throwFailures(results);
    await reply.code(204).send();
  });

  app.get<{ Params: Wildcard }>("/plugins/*", async (request, reply) => {
    const { name, action } = splitAction(request.params["*"]);
    if (action !== "json") throw errors.PageNotFound();
    const holder = (await holders(ctx, request, name))[0]!;
    await proxyToEngine(holder.node.engine, request, reply, { path: `/plugins/${holder.name}/json` });
  });

  app.delete<{ Params: Wildcard }>("/plugins/*", async (request) => {
    const found = await holders(ctx, request, request.params["*"]);
    const results = await eachNode(
      found.map((h) => h.node),
      (node) =>
        node.engine.json<PluginObject | undefined>("DELETE", `/plugins/${nameOn(found, node)}`, {
          query: rawQuery(request.raw.url ?? ""),
          versionPrefix: versionPrefixOf(request),
        }),
    );
    throwFailures(results);
    const first = results.find((r) => r.ok);
    return first?.ok ? (first.value ?? {}) : {};
  });

  app.post<{ Params: Wildcard }>("/plugins/*", async (request, reply) => {
    const { name, action } = splitAction(request.params["*"]);
    const found = await holders(ctx, request, name);
    switch (action) {
      case "enable":
      case "disable":
      case "set": {
        const body = requestBody(request);
        const results = await eachNode(
          found.map((h) => h.node),
          (node) =>
            node.engine.send("POST", `/plugins/${nameOn(found, node)}/${action}`, {
              query: rawQuery(request.raw.url ?? ""),
              headers: typeof body === "string" ? { "content-type": "application/json" } : undefined,
              body: typeof body === "string" ? body : undefined,
              versionPrefix: versionPrefixOf(request),
              timeout: 0,
            }),
        );
        throwFailures(results);
        await reply.code(action === "set" ? 204 : 200).send();
        return;
      }
      case "push": {
        const holder = found[0]!;
        await proxyToEngine(holder.node.engine, request, reply, { path: `/plugins/${holder.name}/push` });
        return;
      }
      case "upgrade": {
        // Each holder upgrades its own copy.
        const nodes = found.map((h) => h.node);
        await streamToEngines(ctx, request, reply, nodes, `/plugins/${found[0]!.name}/upgrade`, rawQuery(request.raw.url ?? ""));
        return;
      }
      default:
        throw errors.PageNotFound();
    }
  });
}

/** `vieux/sshfs:latest/enable` → name `vieux/sshfs:latest`, action `enable`. */
function splitAction(path: string): { name: string; action: string } {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? { name: path, action: "" } : { name: path.slice(0, slash), action: path.slice(slash + 1) };
}

/** `node-1/vieux/sshfs` names node-1's copy, when node-1 is a node of the cluster. */
function nodePrefixed(ctx: ApiContext, ref: string): { node: Node; rest: string } | undefined {
  const slash = ref.indexOf("/");
  if (slash <= 0) return undefined;
  const node = ctx.cluster.nodes().find((e) => e.name === ref.slice(0, slash));
  return node ? { node, rest: ref.slice(slash + 1) } : undefined;
}

function nameOn(found: ReadonlyArray<{ node: Node; name: string }>, node: Node): string {
  return found.find((h) => h.node === node)?.name ?? "";
}

/**
 * The nodes holding plugin `ref`, asked live. None → dockerd's own 404 (`plugin "x" not found`).
 * A reference that means different plugins (an ID prefix shared on one node, or naming one plugin
 * here and another there) gets dockerd's 400 for an ambiguous one, rather than acting on some.
 */
async function holders(ctx: ApiContext, request: FastifyRequest, ref: string): Promise<Array<{ node: Node; name: string }>> {
  const target = nodePrefixed(ctx, ref);
  const candidates = target ? [{ node: target.node, name: target.rest }] : ctx.cluster.healthyNodes().map((node) => ({ node, name: ref }));
  const results = await eachNode(
    candidates.map((c) => c.node),
    (node) =>
      node.engine.json<PluginObject>("GET", `/plugins/${nameOn(candidates, node)}/json`, { versionPrefix: versionPrefixOf(request) }),
  );
  const ambiguousOnANode = results.find((r) => !r.ok && r.error instanceof EngineError && r.error.engineStatus === 400);
  if (ambiguousOnANode && !ambiguousOnANode.ok) throw ambiguousOnANode.error;
  const found = results.flatMap((r) => (r.ok ? [{ node: r.node, name: nameOn(candidates, r.node), plugin: r.value.Name }] : []));
  if (new Set(found.map((h) => h.plugin)).size > 1) throw errors.AmbiguousPlugin({ ref });
  if (found.length > 0) return found;
  const notFound = results.find((r) => !r.ok && r.error instanceof EngineError && r.error.engineStatus === 404);
  if (notFound && !notFound.ok) throw notFound.error;
  const other = results.find((r) => !r.ok);
  if (other && !other.ok) throw other.error;
  throw errors.NoSuchPlugin({ ref });
}

/** Pull and upgrade: the same privileges body to each node, progress merged per node. */
async function streamToEngines(
  _ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  nodes: readonly Node[],
  path: string,
  queryString: string,
): Promise<void> {
  if (nodes.length === 0) throw errors.NoHealthyNode();
  const body = requestBody(request);
  const payload = typeof body === "string" ? body : "[]";
  const headers = { ...forwardableHeaders(request.headers), "content-type": "application/json" };
  const remote = query(request).remote ?? "";
  const stream = openJsonStream(reply);
  const result = await fanOutStream({
    nodes,
    stream,
    label: (status) => (status === undefined || status === "" ? `Pulling ${remote}...` : status),
    call: async (node, _branch, signal) => {
      const response = await node.engine.call("POST", path, {
        query: queryString,
        headers,
        body: payload,
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
        signal,
      });
      if (response.statusCode >= 400) throw new EngineError(response.statusCode, engineMessage(await text(response.body)));
      return response;
    },
  });
  writeFailures(stream, result.failures);
  stream.end();
}
