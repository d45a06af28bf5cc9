import os from "node:os";
import type { FastifyInstance } from "fastify";
import { eventTimeNano, type ClusterEvent } from "../cluster/events.js";
import { errors } from "../errors/catalog.js";
import { GIT_COMMIT, VERSION } from "../version.js";
import { MIN_API_VERSION, labelMatches, parseFilters, query, type ApiContext, type Filters } from "./context.js";

/** How far an `/events` subscriber may fall behind before it is dropped (classic Swarm: 10,000 events, 10 s). */
const SUBSCRIBER_BACKLOG = { events: 10_000, bytes: 16 * 1024 * 1024 };
const SUBSCRIBER_STALL_MS = 10_000;

/** Stands for SystemStatus in `/info`'s body until the cached lines are put in its place. */
const STATUS_PLACEHOLDER = "\u0000SystemStatus";

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/_ping", async (_request, reply) => {
    void reply.header("Cache-Control", "no-cache, no-store, must-revalidate").header("Pragma", "no-cache");
    return reply.type("text/plain; charset=utf-8").send("OK");
  });

  app.get("/version", async () => ({
    Platform: { Name: "swarm" },
    Version: `swarm/${VERSION}`,
    ApiVersion: ctx.cluster.apiVersion(),
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: GIT_COMMIT,
    GoVersion: process.version,
    Os: process.platform,
    Arch: os.arch() === "x64" ? "amd64" : os.arch(),
    KernelVersion: os.release() || "<unknown>",
    Experimental: ctx.experimental,
    BuildTime: "<unknown>",
    Components: [{ Name: "Swarm", Version: VERSION, Details: { ApiVersion: ctx.cluster.apiVersion() } }],
  }));

  // SystemStatus holds some ten lines per node: serialised again only when the cluster changed.
  let status = { key: "", json: "" };
  app.get("/info", async (_request, reply) => {
    const cluster = ctx.cluster;
    const roleLines = ctx.roleLines();
    const key = `${cluster.version}\n${JSON.stringify(roleLines)}\n${ctx.strategyName}\n${ctx.filterNames.join(",")}\n${ctx.backend.statusVersion?.() ?? ""}`;
    if (status.key !== key) {
      const lines = [...roleLines, ["Strategy", ctx.strategyName], ["Filters", ctx.filterNames.join(", ")], ["Backend", ctx.backendName], ...ctx.backend.statusLines()];
      status = { key, json: JSON.stringify(lines) };
    }
    const { running, paused, stopped } = cluster.containerCounts();
    const nodes = cluster.nodes();
    let images = 0;
    let cpus = 0;
    let memory = 0;
    for (const node of nodes) {
      images += node.images.length;
      cpus += node.cpus;
      memory += node.memory;
    }
    const body = JSON.stringify({
      ID: "",
      Containers: running + paused + stopped,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: stopped,
      Images: images,
      Driver: "",
      DriverStatus: null,
      SystemStatus: STATUS_PLACEHOLDER,
      Plugins: { Volume: null, Network: null, Authorization: null, Log: null },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      IPv4Forwarding: true,
      BridgeNfIptables: true,
      BridgeNfIp6tables: true,
      OomKillDisable: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: "",
      CgroupDriver: "",
      NEventsListener: ctx.events.subscriberCount,
      KernelVersion: os.release() || "<unknown>",
      OperatingSystem: os.platform(),
      OSType: "linux",
      Architecture: os.arch() === "x64" ? "x86_64" : os.arch(),
      IndexServerAddress: "https://index.docker.io/v1/",
      NCPU: cpus,
      MemTotal: memory,
      DockerRootDir: "",
      HttpProxy: process.env.http_proxy ?? "",
      HttpsProxy: process.env.https_proxy ?? "",
      NoProxy: process.env.no_proxy ?? "",
      Name: os.hostname() || "<unknown>",
      Labels: [],
      ExperimentalBuild: ctx.experimental,
      ServerVersion: `swarm/${VERSION}`,
      Runtimes: {},
      DefaultRuntime: "",
      Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
      LiveRestoreEnabled: false,
      Isolation: "",
      InitBinary: "",
      SecurityOptions: [],
      Warnings: null,
    });
    return reply.type("application/json").send(body.replace(`"SystemStatus":${JSON.stringify(STATUS_PLACEHOLDER)}`, `"SystemStatus":${status.json}`));
  });

  app.get("/events", async (request, reply) => {
    const q = query(request);
    const now = BigInt(Date.now()) * 1_000_000n;
    const since = q.since ? parseEventTime(q.since, "since") : undefined;
    const until = q.until ? parseEventTime(q.until, "until") : undefined;
    const filters = parseFilters(q.filters);
    const matches = (event: ClusterEvent) => eventMatches(event, filters);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), "Content-Type": "application/json" });
    raw.flushHeaders();
    if (since !== undefined) {
      for (const event of ctx.events.replay(since, until)) if (matches(event)) raw.write(`${JSON.stringify(event)}\n`);
    }
    if (until !== undefined && until <= now) {
      raw.end();
      return;
    }
    // A subscriber that does not read is dropped, as classic Swarm dropped one, rather than held
    // in memory without end: once it is SUBSCRIBER_BACKLOG events or bytes behind, or has not
    // taken any for SUBSCRIBER_STALL_MS.
    let behind = 0;
    let stalled: NodeJS.Timeout | undefined;
    const drop = (why: string) => {
      ctx.logger.warn(`Dropping an /events subscriber: ${why}`);
      finish();
      raw.destroy();
    };
    const unsubscribe = ctx.events.subscribe((event) => {
      if (until !== undefined && eventTimeNano(event) >= until) return;
      if (!matches(event)) return;
      if (raw.write(`${JSON.stringify(event)}\n`)) return;
      behind++;
      stalled ??= setTimeout(() => drop(`it read nothing for ${SUBSCRIBER_STALL_MS / 1000} s`), SUBSCRIBER_STALL_MS);
      if (behind > SUBSCRIBER_BACKLOG.events || raw.writableLength > SUBSCRIBER_BACKLOG.bytes) {
        drop(`it is more than ${SUBSCRIBER_BACKLOG.events} events or ${SUBSCRIBER_BACKLOG.bytes / 1024 / 1024} MiB behind`);
      }
    });
    raw.on("drain", () => {
      behind = 0;
      if (stalled) clearTimeout(stalled);
      stalled = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    function finish(): void {
      unsubscribe();
      if (timer) clearTimeout(timer);
      if (stalled) clearTimeout(stalled);
      if (!raw.writableEnded) raw.end();
    }
    if (until !== undefined) timer = setTimeout(finish, Number((until - now) / 1_000_000n));
    raw.once("close", finish);
  });
}

/** Unix seconds with optional fraction (`1700000000.5`), or an RFC 3339 date, as dockerd accepts. */
function parseEventTime(value: string, name: string): bigint {
  if (/^\d+(\.\d+)?$/.test(value)) {
    const [seconds = "0", fraction = ""] = value.split(".");
    return BigInt(seconds) * 1_000_000_000n + BigInt((fraction + "000000000").slice(0, 9));
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw errors.InvalidEventTime({ name, value });
  return BigInt(ms) * 1_000_000n;
}

function eventMatches(event: ClusterEvent, filters: Filters): boolean {
  const attributes = event.Actor?.Attributes ?? {};
  const type = event.Type ?? "";
  const action = event.Action ?? event.status ?? "";
  const id = event.Actor?.ID ?? event.id ?? "";
  const checks: Record<string, (value: string) => boolean> = {
    type: (v) => type === v,
    event: (v) => action === v || action.split(":")[0] === v,
    container: (v) => type === "container" && (id === v || id.startsWith(v) || attributes.name === v),
    image: (v) => attributes.image === v || (type === "image" && (id === v || attributes.name === v)),
    network: (v) => type === "network" && (id === v || attributes.name === v),
    volume: (v) => type === "volume" && id === v,
    label: (v) => labelMatches(attributes, v),
    node: (v) => event.node.Name === v || event.node.Id === v,
    daemon: (v) => event.node.Name === v || event.node.Id === v,
    scope: (v) => (event.scope ?? "local") === v,
  };
  for (const [key, values] of Object.entries(filters)) {
    const check = checks[key];
    if (!check) continue;
    if (!values.some(check)) return false;
  }
  return true;
}
