import type { FastifyInstance } from "fastify";
import type { Engine } from "../engines/engine.js";
import type { ImageSummary } from "../engines/docker-types.js";
import { SwarmError } from "../errors/catalog.js";
import { labelMatches, parseFilters, query, queryBool, type ApiContext } from "./context.js";

export function imageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/images/json", async (request) => listImages(ctx.cluster.validatedEngines(), query(request)));
}

/** The repository part of a reference: `localhost:5000/foo:1` → `localhost:5000/foo`. */
export function repositoryOf(reference: string): string {
  const at = reference.indexOf("@");
  if (at >= 0) return reference.slice(0, at);
  const colon = reference.lastIndexOf(":");
  if (colon < 0 || reference.slice(colon + 1).includes("/")) return reference;
  return reference.slice(0, colon);
}

/** Does `image` answer to `name` (§4.4): an ID or ID prefix, or a repository with equal or no tag. */
export function imageMatches(image: ImageSummary, name: string): boolean {
  const bareId = image.Id.replace(/^sha256:/, "");
  const bareName = name.replace(/^sha256:/, "");
  if (bareName.length > 2 && bareId.startsWith(bareName)) return true;
  const repository = repositoryOf(name);
  const tag = name.length > repository.length ? name.slice(repository.length + 1) : undefined;
  for (const repoTag of image.RepoTags ?? []) {
    const repo = repositoryOf(repoTag);
    if (repo === repository && (tag === undefined || repoTag.slice(repo.length + 1) === tag)) return true;
  }
  for (const digest of image.RepoDigests ?? []) {
    const repo = repositoryOf(digest);
    if (repo === repository && (tag === undefined || digest.slice(repo.length + 1) === tag)) return true;
  }
  return false;
}

/** A glob on familiar names (`busy*`, `library/*`), as dockerd's `reference` filter. */
function referenceMatches(image: ImageSummary, pattern: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*").replaceAll("?", "[^/]")}$`);
  return (image.RepoTags ?? []).some((tag) => {
    const familiar = tag.replace(/^docker\.io\/(library\/)?/, "");
    return regex.test(familiar) || regex.test(repositoryOf(familiar));
  });
}

/**
 * The union of every engine's images, grouped by ID with tags and digests merged, newest first
 * (§4.7). Filters: dangling, label, reference, before, since, node.
 */
export function listImages(engines: readonly Engine[], q: Record<string, string | undefined>): ImageSummary[] {
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
    for (const engine of engines) {
      const image = engine.images.find((i) => imageMatches(i, ref));
      if (image) return image.Created;
    }
    throw new SwarmError("BadRequest", `Invalid filter: 'type'='${kind}': no such image found: '${ref}'`);
  };
  const before = anchor("before");
  const since = anchor("since");

  const grouped = new Map<string, ImageSummary>();
  for (const engine of engines) {
    if (filters.node && !filters.node.some((n) => n === engine.name || n === engine.id)) continue;
    for (const image of engine.images) {
      const tags = image.RepoTags ?? [];
      const dangling = tags.length === 0 || tags.every((t) => t === "<none>:<none>");
      if (!all && !filters.dangling && image.ParentId && dangling) continue;
      if (filters.dangling) {
        const wanted = filters.dangling.some((v) => v === "true" || v === "1");
        if (wanted !== dangling) continue;
      }
      if (filters.label && !filters.label.every((l) => labelMatches(image.Labels ?? {}, l))) continue;
      if (filters.reference && !filters.reference.some((r) => referenceMatches(image, r))) continue;
      if (before !== undefined && image.Created >= before) continue;
      if (since !== undefined && image.Created <= since) continue;
      const existing = grouped.get(image.Id);
      if (!existing) {
        grouped.set(image.Id, { ...image, RepoTags: [...tags], RepoDigests: [...(image.RepoDigests ?? [])] });
        continue;
      }
      existing.RepoTags = [...new Set([...(existing.RepoTags ?? []), ...tags])];
      existing.RepoDigests = [...new Set([...(existing.RepoDigests ?? []), ...(image.RepoDigests ?? [])])];
    }
  }
  return [...grouped.values()].sort((a, b) => b.Created - a.Created);
}
