import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import { errors } from "../errors/catalog.js";
import type { ApiContext } from "./context.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** Where the built cluster view is: the `@swarm/ui` package's `dist`, installed next to core. */
export function locateUi(): string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve("@swarm/ui/package.json");
  } catch {
    throw errors.UiNotInstalled();
  }
  const root = path.join(path.dirname(manifest), "dist");
  if (!existsSync(path.join(root, "index.html"))) {
    throw errors.UiNotBuilt({ root });
  }
  return root;
}

/**
 * Serves the built cluster view under `/ui/`: its files as they are, `index.html` for the page
 * itself. Names with a content hash (what the bundler emits) are cached for good; the page is not,
 * so a new version is seen at the next load.
 */
export function uiRoutes(root: string): (app: FastifyInstance, ctx: ApiContext) => void {
  return (app) => {
    // The router takes `/ui` and `/ui/` for one route: only the bare one is sent to the other, so
    // that the page's relative asset paths resolve under /ui/.
    app.get("/ui", async (request, reply) => (request.url.split("?")[0]!.endsWith("/") ? serve(reply, "index.html") : reply.redirect("/ui/")));
    app.get<{ Params: { "*": string } }>("/ui/*", async (request, reply) => serve(reply, request.params["*"] === "" ? "index.html" : request.params["*"]));

    async function serve(reply: FastifyReply, wanted: string): Promise<FastifyReply> {
      const file = path.resolve(root, wanted);
      // Nothing outside the bundle: `..` and absolute paths are not files of the view.
      if (!file.startsWith(`${root}${path.sep}`)) throw errors.UiPageNotFound({ path: wanted });
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw errors.UiPageNotFound({ path: wanted });
      const hashed = /[-.][A-Za-z0-9_-]{8,}\.(js|css)$/.test(file);
      return reply
        .type(CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream")
        .header("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache")
        .header("content-length", info.size)
        .send(createReadStream(file));
    }
  };
}
