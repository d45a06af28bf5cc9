import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RE2JS } from "re2js";
import type { Node } from "../cluster/node.js";
import type { ImageSummary } from "../engines/docker-types.js";
import { errorMessage, errors } from "../errors/catalog.js";
import { labelMatches, parseFilters, query, queryBool, type ApiContext } from "./context.js";
import { forwardableHeaders, proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";
import { bodyStream, eachNode, fanOutStream, openJsonStream, refreshAll, throwFailures, writeFailures, type FanOutOptions } from "./fan-out.js";

type Wildcard = { "*": string };

export function imageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/images/json", async (request) => listImages(ctx.cluster.nodes(), query(request)));

  app.get("/images/viz", async () => {
    throw errors.ImageVizNotSupported();
  });

  app.get("/images/search", async (request, reply) => {
    await proxyToEngine(topNode(ctx).engine, request, reply, { path: "/images/search" });
  });

  // `docker save a b`: one healthy engine must hold every image, or the archive would be partial.
  app.get("/images/get", async (request, reply) => {
    const names = new URLSearchParams(rawQuery(request.raw.url ?? "")).getAll("names");
    const node = ctx.cluster
      .healthyNodes()
      .find((e) => names.every((name) => e.images.some((image) => imageMatches(image, name))));
    if (!node) throw errors.NoEngineWithImages({ names: names.join(" ") });
    await proxyToEngine(node.engine, request, reply, { path: "/images/get" });
  });

  app.post("/images/create", async (request, reply) => {
    const q = query(request);
    if (q.fromImage !== undefined && q.fromImage !== "") return pullImage(ctx, request, reply);
    if (q.fromSrc !== undefined && q.fromSrc !== "") return importImage(ctx, request, reply);
    throw errors.PullSourceRequired();
  });

  app.post("/images/load", async (request, reply) => loadImages(ctx, request, reply));

  app.post("/images/prune", async (request) => {
    const results = await eachNode(ctx.cluster.healthyNodes(), (node) =>
      node.engine.json<{ ImagesDeleted?: unknown[] | null; SpaceReclaimed?: number }>("POST", "/images/prune", {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
      }),
    );
    await refreshAll(results.map((r) => r.node), (e) => e.sync.refreshImages());
    throwFailures(results);
    const deleted = results.flatMap((r) => (r.ok ? (r.value.ImagesDeleted ?? []) : []));
    return {
      ImagesDeleted: deleted.length > 0 ? deleted : null,
      SpaceReclaimed: results.reduce((sum, r) => sum + (r.ok ? (r.value.SpaceReclaimed ?? 0) : 0), 0),
    };
  });

  // Image names hold slashes (`127.0.0.1:5000/team/app`) and the docker CLI does not escape them.
  app.get<{ Params: Wildcard }>("/images/*", async (request, reply) => {
    const { name, action } = splitAction(request.params["*"], ["json", "history", "get"]);
    if (action === undefined) throw errors.PageNotFound();
    const node = nodeHolding(ctx, name);
    if (!node) throw errors.NoSuchImage({ ref: name });
    await proxyToEngine(node.engine, request, reply, { path: `/images/${name}/${action}` });
  });

  app.post<{ Params: Wildcard }>("/images/*", async (request, reply) => {
    const { name, action } = splitAction(request.params["*"], ["push", "tag"]);
    if (action === "push") {
      const tag = query(request).tag ?? "";
      // Without a tag the engine pushes every tag of the repository.
      const node = tag === "" ? nodeHolding(ctx, name, { anyTag: true }) : nodeHolding(ctx, `${name}:${tag}`);
      if (!node) throw errors.NoSuchImage({ ref: name });
      await proxyToEngine(node.engine, request, reply, { path: `/images/${name}/push` });
      return;
    }
    if (action === "tag") return tagImage(ctx, request, reply, name);
    throw errors.PageNotFound();
  });

  app.delete<{ Params: Wildcard }>("/images/*", async (request) => {
    const name = request.params["*"];
    const nodes = nodesResolving(ctx.cluster.nodes(), name);
    if (nodes.length === 0) throw errors.NoSuchImageToRemove({ ref: name });
    const results = await eachNode(nodes, (node) =>
      node.engine.json<unknown[] | null>("DELETE", `/images/${name}`, {
        query: rawQuery(request.raw.url ?? ""),
        versionPrefix: versionPrefixOf(request),
      }),
    );
    await refreshAll(nodes, (e) => e.sync.refreshImages());
    throwFailures(results);
    return results.flatMap((r) => (r.ok ? (r.value ?? []) : []));
  });
}

// ---- Lookups -------------------------------------------------------------------------------

/** `a/b/json` → name `a/b`, action `json` when the last segment is one of `actions`. */
function splitAction(path: string, actions: readonly string[]): { name: string; action: string | undefined } {
  const slash = path.lastIndexOf("/");
  const last = slash < 0 ? "" : path.slice(slash + 1);
  if (slash > 0 && actions.includes(last)) return { name: path.slice(0, slash), action: last };
  return { name: path, action: undefined };
}

/**
 * The first engine (healthy ones first) on which dockerd itself would resolve `name`; with
 * `anyTag`, the first holding any tag of the repository (§4.4's looser rule).
 */
function nodeHolding(ctx: ApiContext, name: string, options: { anyTag?: boolean } = {}): Node | undefined {
  const nodes = [...ctx.cluster.nodes()].sort((a, b) => Number(b.isHealthy()) - Number(a.isHealthy()));
  return nodesResolving(nodes, name, options.anyTag ? referenceMatches : referenceResolves)[0];
}

/**
 * The engines on which `name` means one and the same image. A tag or digest wins over an ID
 * prefix, as in dockerd; an ID prefix that different images share means none of them, as a single
 * dockerd answers "No such image", rather than tagging, pushing or removing unrelated images.
 */
function nodesResolving(
  nodes: readonly Node[],
  name: string,
  byReference: (image: ImageSummary, name: string) => boolean = referenceResolves,
): Node[] {
  const byName = nodes.filter((e) => e.images.some((image) => byReference(image, name)));
  if (byName.length > 0) return byName;
  const ids = new Set<string>();
  const holders = nodes.filter((e) => {
    const matching = e.images.filter((image) => idMatches(image, name));
    for (const image of matching) ids.add(image.Id);
    return matching.length > 0;
  });
  return ids.size === 1 ? holders : [];
}

/** The best node for an empty request: where classic Swarm sent search, auth and network creation. */
export function topNode(ctx: ApiContext): Node {
  const node = ctx.cluster.rankNodes({})[0];
  if (!node) throw errors.NoNodesAvailable();
  return node;
}

/** `docker.io/library/busybox` and `busybox` are one repository. */
function familiar(reference: string): string {
  return reference.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
}

/** The repository part of a reference: `localhost:5000/foo:1` → `localhost:5000/foo`. */
export function repositoryOf(reference: string): string {
  const at = reference.indexOf("@");
  if (at >= 0) return reference.slice(0, at);
  const colon = reference.lastIndexOf(":");
  if (colon < 0 || reference.slice(colon + 1).includes("/")) return reference;
  return reference.slice(0, colon);
}

function idMatches(image: ImageSummary, name: string): boolean {
  const bareId = image.Id.replace(/^sha256:/, "");
  const bareName = name.replace(/^sha256:/, "");
  return bareName.length > 2 && bareId.startsWith(bareName);
}

/** Does `image` answer to `name` (§4.4): an ID or ID prefix, or a repository with equal or no tag. */
export function imageMatches(image: ImageSummary, name: string): boolean {
  return idMatches(image, name) || referenceMatches(image, name);
}

function referenceMatches(image: ImageSummary, name: string): boolean {
  const wanted = familiar(name);
  const repository = repositoryOf(wanted);
  const tag = wanted.length > repository.length ? wanted.slice(repository.length + 1) : undefined;
  for (const reference of [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])]) {
    const own = familiar(reference);
    const repo = repositoryOf(own);
    if (repo === repository && (tag === undefined || own.slice(repo.length + 1) === tag)) return true;
  }
  return false;
}

/**
 * Would dockerd resolve `name` to `image` by reference: `repo@digest`, or `repo:tag` with the tag
 * defaulting to `latest`. Stricter than referenceMatches, so an operation forwarded by name cannot
 * fail on an engine that only holds another tag of the repository.
 */
function referenceResolves(image: ImageSummary, name: string): boolean {
  const wanted = familiar(name);
  const repository = repositoryOf(wanted);
  const full = wanted.length > repository.length ? wanted : `${wanted}:latest`;
  const references = wanted.includes("@") ? (image.RepoDigests ?? []) : (image.RepoTags ?? []);
  return references.some((reference) => familiar(reference) === full);
}

/**
 * A glob on familiar names (`busy*`, `library/*`), as dockerd's `reference` filter. Matched by
 * RE2, in time linear in the name: a backtracking engine takes exponential time on a pattern of
 * many stars that does not match, and holds every other request meanwhile.
 */
export function referenceMatcher(pattern: string): (reference: string) => boolean {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*").replaceAll("?", "[^/]"));
  } catch (err) {
    throw errors.InvalidReferenceFilter({ pattern, reason: errorMessage(err) });
  }
  return (reference) => {
    const own = familiar(reference);
    return regex.matches(own) || regex.matches(repositoryOf(own));
  };
}

// ---- Listing -------------------------------------------------------------------------------

/**
 * The union of every engine's images, grouped by ID with tags and digests merged, newest first
 * (§4.7). Filters: dangling, label, reference, before, since, node.
 */
export function listImages(nodes: readonly Node[], q: Record<string, string | undefined>): ImageSummary[] {
  const filters = parseFilters(q.filters);
  if (q.filter) filters.reference = [...(filters.reference ?? []), q.filter];
  const all = queryBool(q.all);
  for (const value of filters.dangling ?? []) {
    if (value !== "true" && value !== "false" && value !== "1" && value !== "0") {
      throw errors.InvalidDanglingImageFilter();
    }
  }
  const anchor = (kind: "before" | "since"): number | undefined => {
    const ref = filters[kind]?.[0];
    if (ref === undefined) return undefined;
    for (const node of nodes) {
      const image = node.images.find((i) => imageMatches(i, ref));
      if (image) return image.Created;
    }
    throw errors.NoSuchImageForFilter({ kind, ref });
  };
  const before = anchor("before");
  const since = anchor("since");
  const references = filters.reference?.map(referenceMatcher);

  const grouped = new Map<string, ImageSummary>();
  for (const node of nodes) {
    if (filters.node && !filters.node.some((n) => n === node.name || n === node.id)) continue;
    for (const image of node.images) {
      const tags = image.RepoTags ?? [];
      const dangling = tags.length === 0 || tags.every((t) => t === "<none>:<none>");
      if (!all && !filters.dangling && image.ParentId && dangling) continue;
      if (filters.dangling) {
        const wanted = filters.dangling.some((v) => v === "true" || v === "1");
        if (wanted !== dangling) continue;
      }
      if (filters.label && !filters.label.every((l) => labelMatches(image.Labels ?? {}, l))) continue;
      let shownTags = tags;
      let shownDigests = image.RepoDigests ?? [];
      if (references) {
        // dockerd lists only the references that matched, so `docker images a:1` shows no `b:2` row.
        shownTags = tags.filter((t) => references.some((matches) => matches(t)));
        if (shownTags.length === 0) continue;
        shownDigests = shownDigests.filter((d) => shownTags.some((t) => repositoryOf(t) === repositoryOf(d)));
      }
      if (before !== undefined && image.Created >= before) continue;
      if (since !== undefined && image.Created <= since) continue;
      const existing = grouped.get(image.Id);
      if (!existing) {
        grouped.set(image.Id, { ...image, RepoTags: [...shownTags], RepoDigests: [...shownDigests] });
        continue;
      }
      existing.RepoTags = [...new Set([...(existing.RepoTags ?? []), ...shownTags])];
      existing.RepoDigests = [...new Set([...(existing.RepoDigests ?? []), ...shownDigests])];
    }
  }
  return [...grouped.values()].sort((a, b) => b.Created - a.Created);
}

// ---- Tag -----------------------------------------------------------------------------------

async function tagImage(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, name: string): Promise<void> {
  const nodes = nodesResolving(ctx.cluster.nodes(), name);
  if (nodes.length === 0) throw errors.NoSuchImage({ ref: name });
  const results = await eachNode(nodes, (node) =>
    node.engine.send("POST", `/images/${name}/tag`, { query: rawQuery(request.raw.url ?? ""), versionPrefix: versionPrefixOf(request) }),
  );
  await refreshAll(nodes, (e) => e.sync.refreshImages());
  throwFailures(results);
  await reply.code(201).send();
}

function streamHeaders(request: FastifyRequest): Record<string, string | string[]> {
  return forwardableHeaders(request.headers);
}

// ---- Pull, import, load (§4.7) -------------------------------------------------------------

/** `fromImage` + `tag` as classic Swarm printed it: `:tag`, or `@digest` when the tag is one. */
function pullReference(q: Record<string, string | undefined>): string {
  const image = q.fromImage ?? "";
  const tag = q.tag ?? "";
  if (tag === "") return image;
  return tag.includes(":") ? `${image}@${tag}` : `${image}:${tag}`;
}

async function pullImage(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const nodes = ctx.cluster.nodes();
  if (nodes.length === 0) throw errors.NoNodesAvailable();
  const ref = pullReference(query(request));
  const stream = openJsonStream(reply);
  const headers = streamHeaders(request);
  const result = await fanOutStream({
    nodes,
    stream,
    announce: true,
    label: (status) => (status === undefined || status === "" ? `Pulling ${ref}...` : `Pulling ${ref}... : ${status}`),
    call: (node, _body, signal) =>
      node.engine.call("POST", "/images/create", {
        query: rawQuery(request.raw.url ?? ""),
        headers,
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
        signal,
      }),
  });
  await refreshAll(result.succeeded, (e) => e.sync.refreshImages());
  // A mixed Linux/Windows cluster pulls what each node can run: OS mismatches alone are no failure.
  const onlyOsMismatch = result.succeeded.length > 0 && result.failures.every((f) => f.message.includes("image operating system"));
  if (!onlyOsMismatch) writeFailures(stream, result.failures);
  stream.end();
}

async function importImage(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fromStdin = query(request).fromSrc === "-";
  await sendToEveryNode(ctx, request, reply, {
    path: "/images/create",
    body: fromStdin ? bodyStream(request) : undefined,
    label: (status) => status,
    skipped: (node, message) => osSkip("Import", node, message),
  });
}

async function loadImages(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await sendToEveryNode(ctx, request, reply, {
    path: "/images/load",
    body: bodyStream(request),
    label: (status) => (status === undefined || status === "" ? "Loading Image..." : `Loading Image... : ${status}`),
    skipped: (node, message) => osSkip("Load", node, message),
  });
}

/**
 * Import and load: the client's body is teed to every validated engine at once, their progress
 * merged into one stream tagged by node, their image mirrors refreshed, failures appended last.
 */
async function sendToEveryNode(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { path: string } & Pick<FanOutOptions, "body" | "label" | "skipped">,
): Promise<void> {
  const nodes = ctx.cluster.nodes();
  if (nodes.length === 0) throw errors.NoNodesAvailable();
  const stream = openJsonStream(reply);
  const headers = streamHeaders(request);
  const result = await fanOutStream({
    nodes,
    stream,
    body: options.body,
    label: options.label,
    skipped: options.skipped,
    call: (node, branch, signal) =>
      node.engine.call("POST", options.path, {
        query: rawQuery(request.raw.url ?? ""),
        headers,
        body: branch,
        versionPrefix: versionPrefixOf(request),
        timeout: 0,
        signal,
      }),
  });
  await refreshAll(result.succeeded, (e) => e.sync.refreshImages());
  writeFailures(stream, result.failures);
  stream.end();
}

/** dockerd's refusals of another OS's image (load, then import), which classic Swarm let a node skip. */
const OS_MISMATCH = [/cannot load (\w+) image on (\w+)/, /image operating system "(\w+)" cannot be used on this platform/];

function osSkip(what: "Import" | "Load", node: Node, message: string): string | undefined {
  for (const pattern of OS_MISMATCH) {
    const match = pattern.exec(message);
    if (!match) continue;
    const engineOs = match[2] ?? (node.engine.osType || "linux");
    return `${what} skipped because image is for ${match[1] ?? ""} and engine is running ${engineOs}`;
  }
  return undefined;
}
