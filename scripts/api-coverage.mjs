#!/usr/bin/env node
// Which endpoints of the Docker Engine API v1.41 the manager serves, and which system tests
// exercise them. Served = a fastify route in core/src/api/*.ts matches the endpoint; tested = a
// file in test/system/ names the path or runs a CLI command that calls it.
// Usage: node scripts/api-coverage.mjs [--json]
// The API description is read from $DOCKER_API_SPEC, ../shared/docker-api/engine-api-v1.41.yaml, or
// Debian's golang-github-docker-docker-dev package.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SPEC_CANDIDATES = [
  process.env.DOCKER_API_SPEC,
  path.join(root, "..", "shared", "docker-api", "engine-api-v1.41.yaml"),
  // Debian's golang-github-docker-docker-dev ships the same v1.41 description.
  "/usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml",
].filter(Boolean);
const specFile = SPEC_CANDIDATES.find((candidate) => existsSync(candidate));
if (!specFile) {
  console.error(`engine-api-v1.41.yaml not found (tried ${SPEC_CANDIDATES.join(", ")}); set DOCKER_API_SPEC`);
  process.exit(2);
}

/** Swarm mode's API, which classic Swarm never served and this project does not either. */
const SWARM_MODE = /^\/(swarm|nodes|services|tasks|secrets|configs)(\/|$)/;
const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch"]);

/**
 * The YAML's `paths:` map, read line by line: a path key is indented two spaces, its methods
 * four. No YAML library is needed for that much structure.
 */
function specEndpoints(text) {
  const endpoints = [];
  let inPaths = false;
  let current;
  for (const line of text.split("\n")) {
    if (/^\S/.test(line)) {
      inPaths = line.startsWith("paths:");
      continue;
    }
    if (!inPaths) continue;
    const pathKey = /^ {2}(\/\S*):\s*$/.exec(line);
    if (pathKey) {
      current = pathKey[1];
      continue;
    }
    const method = /^ {4}([a-z]+):\s*$/.exec(line);
    if (method && current && METHODS.has(method[1])) endpoints.push({ method: method[1].toUpperCase(), path: current });
  }
  return endpoints.filter((e) => !SWARM_MODE.test(e.path));
}

/** Every `app.<method>("/path")` and `app.route({ method, url })` in the API sources. */
function registeredRoutes() {
  const dir = path.join(root, "core", "src", "api");
  const routes = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
    const text = readFileSync(path.join(dir, file), "utf8");
    for (const m of text.matchAll(/\bapp\.(get|post|put|delete|head|patch)\s*(?:<.*?>)?\s*\(\s*"(\/[^"]*)"/g)) {
      routes.push({ methods: [m[1].toUpperCase()], url: m[2], file });
    }
    // Hijacked endpoints registered on the upgrade handler: `registerHijackRoute(app, { method, pattern: /^\/(session)$/ })`.
    for (const m of text.matchAll(/registerHijackRoute\(\s*app,\s*\{\s*method:\s*"([A-Z]+)",\s*pattern:\s*\/\^(.*?)\$\//g)) {
      const url = m[2].replaceAll("\\/", "/").replace(/\(([^)]*)\)/g, (_all, inner) => (/^[a-z]+$/.test(inner) ? inner : ":ref"));
      routes.push({ methods: [m[1]], url, file });
    }
    for (const m of text.matchAll(/\bapp\.route\(\s*\{([\s\S]*?)\}\s*\)/g)) {
      const url = /url:\s*"(\/[^"]*)"/.exec(m[1]);
      const method = /method:\s*(\[[^\]]*\]|"[A-Z]+")/.exec(m[1]);
      if (!url || !method) continue;
      routes.push({ methods: [...method[1].matchAll(/"([A-Z]+)"/g)].map((x) => x[1]), url: url[1], file });
    }
  }
  return routes;
}

/** A fastify route as a regex: `:param` is one segment, `*` anything. */
function routeRegex(url) {
  const pattern = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${pattern}$`);
}

function servedBy(endpoint, routes) {
  const sample = endpoint.path.replace(/\{[^}]+\}/g, "x1");
  // fastify answers HEAD for every GET route.
  const methods = endpoint.method === "HEAD" ? ["HEAD", "GET"] : [endpoint.method];
  const matching = routes.filter((r) => r.methods.some((m) => methods.includes(m)) && routeRegex(r.url).test(sample));
  // A static route beats a parametric one, as in fastify's router.
  const exact = matching.find((r) => r.url === endpoint.path);
  return exact ?? matching[0];
}

/**
 * The docker CLI (and docker-compose) commands that call each endpoint. A usage is the command's
 * words as the tests write them (`swarm("network", "create", …)`); `compose:` marks docker-compose.
 */
const CLI = {
  "GET /containers/json": ["ps", "compose:ps", "compose:down"],
  "POST /containers/create": ["run", "create", "compose:up"],
  "GET /containers/{id}/json": ["inspect", "container inspect", "compose:up"],
  "GET /containers/{id}/top": ["top"],
  "GET /containers/{id}/logs": ["logs", "compose:logs"],
  "GET /containers/{id}/changes": ["diff"],
  "GET /containers/{id}/export": ["export"],
  "GET /containers/{id}/stats": ["stats"],
  "POST /containers/{id}/resize": ["attach", "exec -it", "run -it"],
  "POST /containers/{id}/start": ["start", "run", "compose:up"],
  "POST /containers/{id}/stop": ["stop", "compose:down", "compose:stop"],
  "POST /containers/{id}/restart": ["restart"],
  "POST /containers/{id}/kill": ["kill"],
  "POST /containers/{id}/update": ["update"],
  "POST /containers/{id}/rename": ["rename"],
  "POST /containers/{id}/pause": ["pause"],
  "POST /containers/{id}/unpause": ["unpause"],
  "POST /containers/{id}/attach": ["attach", "start -a", "run --rm", "run -i", "run -it"],
  "POST /containers/{id}/wait": ["wait", "run --rm", "run -i", "run -it"],
  "DELETE /containers/{id}": ["rm", "run --rm", "compose:down", "compose:scale"],
  "HEAD /containers/{id}/archive": ["cp"],
  "GET /containers/{id}/archive": ["cp"],
  "PUT /containers/{id}/archive": ["cp"],
  "POST /containers/prune": ["container prune", "system prune"],
  "GET /images/json": ["images", "image ls"],
  "POST /build": ["build"],
  "POST /build/prune": ["builder prune", "system prune"],
  "POST /images/create": ["pull", "import", "compose:pull"],
  "GET /images/{name}/json": ["image inspect", "inspect", "compose:up"],
  "GET /images/{name}/history": ["history"],
  "POST /images/{name}/push": ["push"],
  "POST /images/{name}/tag": ["tag"],
  "DELETE /images/{name}": ["rmi", "image rm"],
  "GET /images/search": ["search"],
  "POST /images/prune": ["image prune", "system prune"],
  "POST /auth": ["login"],
  "GET /info": ["info"],
  "GET /version": ["version"],
  "GET /_ping": ["info", "ps"],
  "POST /commit": ["commit"],
  "GET /events": ["events"],
  "GET /system/df": ["system df"],
  "GET /images/{name}/get": ["save"],
  "GET /images/get": ["save"],
  "POST /images/load": ["load"],
  "POST /containers/{id}/exec": ["exec"],
  "POST /exec/{id}/start": ["exec"],
  "POST /exec/{id}/resize": ["exec -it"],
  "GET /exec/{id}/json": ["exec"],
  "GET /volumes": ["volume ls"],
  "POST /volumes/create": ["volume create"],
  "GET /volumes/{name}": ["volume inspect"],
  "DELETE /volumes/{name}": ["volume rm"],
  "POST /volumes/prune": ["volume prune", "system prune"],
  "GET /networks": ["network ls"],
  "GET /networks/{id}": ["network inspect"],
  "DELETE /networks/{id}": ["network rm"],
  "POST /networks/create": ["network create"],
  "POST /networks/{id}/connect": ["network connect"],
  "POST /networks/{id}/disconnect": ["network disconnect"],
  "POST /networks/prune": ["network prune", "system prune"],
  "GET /plugins": ["plugin ls"],
  "GET /plugins/privileges": ["plugin install"],
  "POST /plugins/pull": ["plugin install"],
  "GET /plugins/{name}/json": ["plugin inspect"],
  "DELETE /plugins/{name}": ["plugin rm"],
  "POST /plugins/{name}/enable": ["plugin enable"],
  "POST /plugins/{name}/disable": ["plugin disable"],
  "POST /plugins/{name}/upgrade": ["plugin upgrade"],
  "POST /plugins/create": ["plugin create"],
  "POST /plugins/{name}/push": ["plugin push"],
  "POST /plugins/{name}/set": ["plugin set"],
  "GET /distribution/{name}/json": [],
};

/** Why an endpoint is left out, printed with it. */
const NOT_SERVED_WHY = {};

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `network create` → `("network", "create"` or `["network", "create"`, as the tests spell calls. */
function usageRegex(usage) {
  if (usage.startsWith("compose:")) return new RegExp(`\\bcompose\\(\\s*"${escape(usage.slice("compose:".length))}"`);
  const words = usage.split(" ").map((w) => `"${escape(w)}"`);
  // Either an argument list (`swarm("network", "create", …)`) or a shell line (`shell("docker export x | tar t")`).
  const shellLine = `\\bshell\\([\`"'][^\`"']*\\bdocker ${escape(usage)}\\b`;
  return new RegExp(`[([]\\s*${words.join("\\s*,\\s*")}\\s*[,)\\]]|${shellLine}`);
}

/** A raw HTTP request in a test: the path with each `{param}` filled by anything. */
function pathRegex(endpointPath) {
  const parts = endpointPath.split(/\{[^}]+\}/).map(escape);
  // Ends at a quote, a query, or the space before `HTTP/1.1` in a raw request line.
  return new RegExp(`${parts.join("[^\"'\\s]+")}(?:[?"'\`]| HTTP\\/1|$)`);
}

/** A call straight to an engine (`docker(engine, …)`) does not exercise the manager. */
const DIRECT_TO_ENGINE = /\bdocker\(\s*(?!manager\b)[A-Za-z_$][\w$.]*\s*,/;

function testFiles() {
  const dir = path.join(root, "test", "system");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => ({ name: `test/system/${f}`, lines: readFileSync(path.join(dir, f), "utf8").split("\n") }));
}

function testsFor(endpoint, files) {
  const key = `${endpoint.method} ${endpoint.path}`;
  const usages = (CLI[key] ?? []).map(usageRegex);
  const raw = pathRegex(endpoint.path);
  const hits = [];
  for (const file of files) {
    const used = file.lines.some((line) => {
      if (DIRECT_TO_ENGINE.test(line)) return false;
      return usages.some((u) => u.test(line)) || (raw.test(line) && /url|request|fetch|hijack\(|\$\{manager|HTTP\/1\.1/.test(line));
    });
    if (used) hits.push(file.name);
  }
  return hits;
}

const endpoints = specEndpoints(readFileSync(specFile, "utf8"));
const routes = registeredRoutes();
const files = testFiles();
const rows = endpoints.map((endpoint) => {
  const route = servedBy(endpoint, routes);
  return {
    endpoint: `${endpoint.method} ${endpoint.path}`,
    served: route !== undefined,
    route: route ? `${route.file}: ${route.url}` : "",
    tests: testsFor(endpoint, files),
  };
});

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const width = Math.max(...rows.map((r) => r.endpoint.length));
  console.log(`${"ENDPOINT".padEnd(width)}  ${"STATUS".padEnd(10)}  TESTED BY`);
  for (const row of rows) {
    const tests = row.tests.map((t) => path.basename(t, ".test.ts")).join(", ") || "-";
    console.log(`${row.endpoint.padEnd(width)}  ${(row.served ? "served" : "not served").padEnd(10)}  ${tests}`);
  }
  const served = rows.filter((r) => r.served).length;
  const tested = rows.filter((r) => r.tests.length > 0).length;
  const servedUntested = rows.filter((r) => r.served && r.tests.length === 0).map((r) => r.endpoint);
  console.log("");
  console.log(`Docker Engine API v1.41 without swarm mode: ${rows.length} endpoints (${path.relative(root, specFile) || specFile})`);
  console.log(`served: ${served}/${rows.length}   not served: ${rows.length - served}   exercised by system tests: ${tested}/${rows.length}`);
  if (servedUntested.length > 0) console.log(`served but not exercised: ${servedUntested.join(", ")}`);
  const notServed = rows.filter((r) => !r.served).map((r) => `${r.endpoint}${NOT_SERVED_WHY[r.endpoint] ? ` (${NOT_SERVED_WHY[r.endpoint]})` : ""}`);
  if (notServed.length > 0) console.log(`not served: ${notServed.join(", ")}`);
}
