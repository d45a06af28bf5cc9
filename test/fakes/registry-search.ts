/**
 * registry-search-fake: a FAKE of the search side of a Docker registry's v1 HTTP API, written from
 * the Docker Registry v1 API documentation and the fields of the engine's `registry.SearchResults`.
 * dockerd answers `GET /images/search` by asking the registry the search term names; Docker Hub is
 * out of reach where the tests run, and Debian's docker-registry (distribution v2) has no search,
 * so `docker search 127.0.0.1:<port>/<term>` goes to this instead. It is not a registry.
 *
 * What it implements:
 *   - GET /v1/_ping: 200, `true`, with X-Docker-Registry-Version and X-Docker-Registry-Standalone.
 *     dockerd first tries https on a loopback registry and falls back to http, as for any
 *     insecure registry; the https attempt reaches this plain-HTTP server and fails its handshake.
 *   - GET /v1/search?q=<term>&n=<limit>: the catalogue's repositories whose name or description
 *     contains the term, at most n (default 25, 1-100 as the engine enforces), as
 *     {query, num_results, results: [{name, description, star_count, is_official, is_automated}]}.
 *   - Every request is recorded (method, path with query), so tests can see what the engine asked.
 *
 * Limits (not implemented): authentication and tokens (X-Docker-Token is ignored), paging
 * (`page`, `num_pages`), every other v1 endpoint (images, tags, repositories) and all of v2.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface SearchableRepository {
  readonly name: string;
  readonly description: string;
  readonly star_count: number;
  readonly is_official: boolean;
  readonly is_automated: boolean;
}

export interface RegistrySearchFake {
  /** `127.0.0.1:<port>`, the registry part of a search term. */
  readonly address: string;
  /** Requests received, as `GET /v1/search?q=…`. */
  readonly requests: readonly string[];
  dispose(): Promise<void>;
}

const DEFAULT_LIMIT = 25;

export async function startRegistrySearchFake(catalogue: readonly SearchableRepository[]): Promise<RegistrySearchFake> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? "?"} ${req.url ?? "/"}`);
    const url = new URL(req.url ?? "/", "http://registry");
    const json = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    };
    if (req.method !== "GET") return json(405, { error: `${req.method ?? "?"} not allowed` });
    if (url.pathname === "/v1/_ping") {
      return json(200, true, { "x-docker-registry-version": "0.6.0", "x-docker-registry-standalone": "true" });
    }
    if (url.pathname === "/v1/search") {
      const term = url.searchParams.get("q") ?? "";
      const limit = Number(url.searchParams.get("n") ?? DEFAULT_LIMIT);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return json(400, { error: `invalid n ${String(limit)}` });
      const results = catalogue.filter((repo) => repo.name.includes(term) || repo.description.includes(term)).slice(0, limit);
      return json(200, { query: term, num_results: results.length, results });
    }
    return json(404, { error: `${url.pathname} is not part of this fake` });
  });
  // The engine's https attempt sends a TLS handshake to this plain server: drop it, and the engine
  // falls back to http at once.
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    dispose: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
