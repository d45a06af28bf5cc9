import type { FastifyInstance } from "fastify";
import { errors } from "../errors/catalog.js";
import type { ApiContext } from "./context.js";

/** The manager's role as `/swarm/status` and readiness report it. */
function role(ctx: ApiContext): { role: "primary" | "replica"; primary: string | null } {
  const lines = new Map(ctx.roleLines());
  if (lines.get("Role") === "replica") return { role: "replica", primary: lines.get("Primary") || null };
  return { role: "primary", primary: null };
}

/** Why this manager cannot serve the cluster yet, or undefined when it can. */
export function notReadyBecause(ctx: ApiContext): string | undefined {
  const { role: current, primary } = role(ctx);
  if (current === "replica" && primary === null) return "this manager is a replica that knows no primary yet";
  if (ctx.cluster.healthyNodes().length === 0) return "no engine of the cluster is healthy";
  return undefined;
}

/**
 * What orchestrators and operators ask of the manager itself (a replica answers these too):
 * liveness, readiness, and the cluster's state as the cluster view shows it.
 */
export function operationsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Alive: the event loop answers. Nothing else, so that a restart is never the answer to an outage elsewhere.
  app.get("/livez", async (_request, reply) => reply.type("application/json").send({ status: "alive" }));

  app.get("/readyz", async (_request, reply) => {
    const why = notReadyBecause(ctx);
    if (why !== undefined) {
      const notReady = errors.NotReady({ reason: why });
      return reply.code(notReady.status).type("application/json").send({ message: notReady.message });
    }
    return reply.type("application/json").send({ status: "ready", healthyNodes: ctx.cluster.healthyNodes().length });
  });

  const metrics = ctx.metrics;
  if (metrics) {
    app.get("/metrics", async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  }

  app.get("/swarm/status", async (_request, reply) => {
    const nodes = ctx.cluster.allNodes().map((node) => {
      const view = node.view();
      // A paused container is still running, as the engine's State.Running says.
      const { running, paused } = node.stateCounts();
      return {
        id: node.id,
        name: node.name || "(unknown)",
        addr: node.addr,
        state: view.health,
        error: node.engine.lastError || null,
        labels: view.labels,
        cpus: { reserved: view.usedCpus, total: view.totalCpus },
        memory: { reserved: view.usedMemory, total: view.totalMemory },
        containers: { total: node.containers.size, running: running + paused },
        usage: ctx.containerUsage?.(node.id) ?? null,
      };
    });
    const log = ctx.decisions;
    return reply.type("application/json").send({
      ...role(ctx),
      backend: ctx.backendName,
      strategy: ctx.strategyName,
      filters: ctx.filterNames,
      nodes,
      scheduling: {
        decisions: log.decisions,
        failures: log.failures,
        byReason: Object.fromEntries(log.failuresByCode),
        recent: log.recent(),
      },
    });
  });
}
