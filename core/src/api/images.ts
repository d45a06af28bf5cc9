import { PassThrough, Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { text } from "node:stream/consumers";
import { RE2JS } from "re2js";
import split2 from "split2";
import type { Node } from "../cluster/node.js";
import type { EngineResponse } from "../engines/engine.js";
import { engineMessage } from "../engines/engine.js";
import type { ImageSummary } from "../engines/docker-types.js";
import { SwarmError, errorMessage } from "../errors/catalog.js";
import { labelMatches, parseFilters, query, queryBool, type ApiContext } from "./context.js";
import { forwardableHeaders, proxyToEngine, rawQuery, versionPrefixOf } from "./proxy.js";

type Wildcard = { "*": string };

export function imageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/images/json", async (request) => listImages(ctx.cluster.nodes(), query(request)));

  app.get("/images/viz", async () => {
    throw new SwarmError("NotImplemented", "Not supported in clustering mode.");
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
    if (!node) throw new SwarmError("NotFound", `Unable to find a healthy engine containing all images: [${names.join(" ")}]`);
    await proxyToEngine(node.engine, request, reply, { path: "/images/get" });
  });

  app.post("/images/create", async (request, reply) => {
    const q = query(request);
    if (q.fromImage !== undefined && q.fromImage !== "") return pullImage(ctx, request, reply);
    if (q.fromSrc !== undefined && q.fromSrc !== "") return importImage(ctx, request, reply);
    throw new SwarmError("BadRequest", "fromImage or fromSrc is required");
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
    if (action === undefined) throw new SwarmError("NotFound", "page not found");
    const node = nodeHolding(ctx, name);
    if (!node) throw new SwarmError("NotFound", `No such image: ${name}`);
    await proxyToEngine(node.engine, request, reply, { path: `/images/${name}/${action}` });
  });

  app.post<{ Params: Wildcard }>("/images/*", async (request, reply) => {
    const { name, action } = splitAction(request.params["*"], ["push", "tag"]);
    if (action === "push") {
      const tag = query(request).tag ?? "";
      // Without a tag the engine pushes every tag of the repository.
      const node = tag === "" ? nodeHolding(ctx, name, { anyTag: true }) : nodeHolding(ctx, `${name}:${tag}`);
      if (!node) throw new SwarmError("NotFound", `No such image: ${name}`);
      await proxyToEngine(node.engine, request, reply, { path: `/images/${name}/push` });
      return;
    }
    if (action === "tag") return tagImage(ctx, request, reply, name);
    throw new SwarmError("NotFound", "page not found");
  });

  app.delete<{ Params: Wildcard }>("/images/*", async (request) => {
    const name = request.params["*"];
    const nodes = nodesResolving(ctx.cluster.nodes(), name);
    // Classic Swarm's rmi message has no colon; scripts match on it.
    if (nodes.length === 0) throw new SwarmError("NotFound", `No such image ${name}`);
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
  if (!node) throw new SwarmError("Scheduling", "No nodes available in the cluster");
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
    throw new SwarmError("BadRequest", `invalid reference filter '${pattern}': ${errorMessage(err)}`);
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
      throw new SwarmError("BadRequest", "Invalid filter: 'type'='dangling'");
    }
  }
  const anchor = (kind: "before" | "since"): number | undefined => {
    const ref = filters[kind]?.[0];
    if (ref === undefined) return undefined;
    for (const node of nodes) {
      const image = node.images.find((i) => imageMatches(i, ref));
      if (image) return image.Created;
    }
    throw new SwarmError("BadRequest", `Invalid filter: 'type'='${kind}': no such image found: '${ref}'`);
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
  if (nodes.length === 0) throw new SwarmError("NotFound", `No such image: ${name}`);
  const results = await eachNode(nodes, (node) =>
    node.engine.send("POST", `/images/${name}/tag`, { query: rawQuery(request.raw.url ?? ""), versionPrefix: versionPrefixOf(request) }),
  );
  await refreshAll(nodes, (e) => e.sync.refreshImages());
  throwFailures(results);
  await reply.code(201).send();
}

// ---- Fan-out helpers -----------------------------------------------------------------------

export type NodeResult<T> = { node: Node; ok: true; value: T } | { node: Node; ok: false; error: unknown };

/** Runs `fn` on every engine in parallel; never rejects. */
export async function eachNode<T>(nodes: readonly Node[], fn: (node: Node) => Promise<T>): Promise<Array<NodeResult<T>>> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeResult<T>> => {
      try {
        return { node, ok: true, value: await fn(node) };
      } catch (error) {
        return { node, ok: false, error };
      }
    }),
  );
}

/**
 * Per-engine failures as one error: `<engine>: <err>` lines (§4.7). A lone failure keeps its
 * engine's status (404, 409 …) so the client sees dockerd's code.
 */
export function throwFailures<T>(results: ReadonlyArray<NodeResult<T>>): void {
  const failures = results.filter((r): r is Extract<NodeResult<T>, { ok: false }> => !r.ok);
  if (failures.length === 0) return;
  const message = failures.map((f) => `${f.node.name}: ${errorMessage(f.error)}`).join("\n");
  const first = failures[0]!.error;
  const status = failures.length === 1 && first instanceof SwarmError ? first.status : 500;
  throw new SwarmError("Engine", message, { status });
}

/** Mirror refreshes after a change; a failed refresh is caught up by the periodic one. */
export async function refreshAll(nodes: readonly Node[], refresh: (node: Node) => Promise<void>): Promise<void> {
  await Promise.all(nodes.map((node) => refresh(node).catch(() => undefined)));
}

export interface JsonMessage {
  id?: string;
  status?: string;
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  progress?: string;
  progressDetail?: unknown;
  aux?: unknown;
  [key: string]: unknown;
}

/** A JSON message stream answered with 200 at once, as dockerd streams pulls and loads. */
export interface JsonStream {
  write(message: JsonMessage): void;
  end(): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export function openJsonStream(reply: FastifyReply): JsonStream {
  const abort = new AbortController();
  const headers: Record<string, string | number | string[]> = {};
  for (const [key, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[key] = value;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...headers, "content-type": "application/json" });
  raw.flushHeaders();
  raw.once("close", () => abort.abort());
  return {
    signal: abort.signal,
    write(message) {
      if (!raw.writableEnded && !raw.destroyed) raw.write(`${JSON.stringify(message)}\r\n`);
    },
    end() {
      if (!raw.writableEnded) raw.end();
    },
  };
}

/** The JSON messages of an engine's streamed answer; a line that is not JSON becomes a status. */
export async function* engineMessages(response: EngineResponse): AsyncGenerator<JsonMessage> {
  for await (const line of response.body.pipe(split2()) as AsyncIterable<string>) {
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line) as JsonMessage;
    } catch {
      yield { status: line };
    }
  }
}

/**
 * One request body sent to several engines at once without buffering it: the slowest engine sets
 * the pace. `drop(i)` detaches a branch whose engine gave up, so it cannot stall the others.
 */
export function teeBody(source: Readable | undefined, count: number): { branches: Array<Readable | undefined>; drop(index: number): void } {
  if (!source) return { branches: Array.from({ length: count }, () => undefined), drop: () => undefined };
  const branches = Array.from({ length: count }, () => {
    const branch = new PassThrough();
    branch.on("error", () => undefined);
    source.pipe(branch);
    return branch;
  });
  source.once("close", () => {
    if (source.readableEnded) return;
    for (const branch of branches) branch.destroy(new Error("the client closed the request body"));
  });
  return {
    branches,
    drop(index) {
      const branch = branches[index];
      if (!branch) return;
      source.unpipe(branch);
      branch.resume();
    },
  };
}

export interface FanOutOptions {
  readonly nodes: readonly Node[];
  readonly stream: JsonStream;
  /** Starts the engine's request; `body` is that engine's branch of the client's body, if any. */
  readonly call: (node: Node, body: Readable | undefined, signal: AbortSignal) => Promise<EngineResponse>;
  /** Each engine message's status as the client sees it. `status` undefined = the start/finish line. */
  readonly label: (status: string | undefined) => string | undefined;
  /** A line before the engine is called and after it succeeded (classic's pull did both). */
  readonly announce?: boolean;
  readonly body?: Readable | undefined;
  /** Errors that count as a skip rather than a failure (another OS's image): the status to show. */
  readonly skipped?: (node: Node, message: string) => string | undefined;
}

export interface FanOutResult {
  readonly succeeded: Node[];
  readonly failures: Array<{ node: Node; message: string }>;
}

/**
 * Runs one streamed operation on several engines in parallel and merges their messages, each
 * tagged with its engine's name (`id`), the layout classic Swarm used and the docker CLI renders
 * one line per node. An engine's error never ends the merged stream: it becomes that node's status
 * line, and the caller decides on the final error object.
 */
export async function fanOutStream(options: FanOutOptions): Promise<FanOutResult> {
  const { nodes, stream, label } = options;
  const tee = teeBody(options.body, nodes.length);
  const succeeded: Node[] = [];
  const failures: Array<{ node: Node; message: string }> = [];
  await Promise.all(
    nodes.map(async (node, index) => {
      const id = node.name;
      if (options.announce) stream.write({ status: label(undefined), id });
      let failure: string | undefined;
      try {
        const response = await options.call(node, tee.branches[index], stream.signal);
        if (response.statusCode >= 400) {
          failure = engineMessage(await text(response.body));
        } else {
          for await (const message of engineMessages(response)) {
            const error = message.error ?? message.errorDetail?.message;
            if (error !== undefined) {
              failure = error;
              break;
            }
            const status = message.status ?? (typeof message.stream === "string" ? message.stream.trim() : undefined);
            stream.write({ ...message, id, status: label(status ?? "") });
          }
        }
      } catch (err) {
        if (stream.signal.aborted) return;
        failure = errorMessage(err);
      } finally {
        tee.drop(index);
      }
      if (failure === undefined) {
        succeeded.push(node);
        if (options.announce) stream.write({ status: label(undefined), id });
        return;
      }
      const skip = options.skipped?.(node, failure);
      if (skip !== undefined) {
        stream.write({ status: skip, id });
        succeeded.push(node);
        return;
      }
      failures.push({ node, message: failure });
      stream.write({ status: label(failure), id });
    }),
  );
  return { succeeded, failures };
}

/** The final error object of a merged stream: which nodes failed and why. */
export function writeFailures(stream: JsonStream, failures: FanOutResult["failures"]): void {
  if (failures.length === 0) return;
  const message = failures.map((f) => `${f.node.name}: ${f.message}`).join("\n");
  stream.write({ errorDetail: { code: 1, message }, error: message });
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
  if (nodes.length === 0) throw new SwarmError("Scheduling", "No nodes available in the cluster");
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
  if (nodes.length === 0) throw new SwarmError("Scheduling", "No nodes available in the cluster");
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

/** The client's raw body (the content-type parser leaves non-JSON bodies as the request stream). */
export function bodyStream(request: FastifyRequest): Readable | undefined {
  const body = request.body;
  if (body instanceof Readable) return body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || Buffer.isBuffer(body)) return Readable.from([body]);
  return Readable.from([JSON.stringify(body)]);
}
