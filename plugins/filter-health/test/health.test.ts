import { describe, expect, it } from "vitest";
import type { NodeView } from "@swarm/core";
import { makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import health, { NO_HEALTHY_NODE, REASON_UNHEALTHY, isHealthy } from "../src/index.js";

const filter = await health.create(makePluginContext("health", {}));

function judge(nodes: NodeView[]) {
  const prepared = filter.prepare(makeRequest(), { enforceSoft: true, nodes });
  return prepared === undefined ? undefined : nodes.map((node) => prepared.judge(node));
}

describe("health filter", () => {
  it("is named as in classic Swarm and targets plugin API 1", () => {
    expect(health.name).toBe("health");
    expect(health.kind).toBe("filter");
    expect(health.apiVersion).toBe("^1");
  });

  it.each([
    { health: "healthy", healthIndicator: 100, ok: true },
    { health: "healthy", healthIndicator: 1, ok: true },
    { health: "healthy", healthIndicator: 0, ok: false },
    { health: "unhealthy", healthIndicator: 0, ok: false },
    { health: "pending", healthIndicator: 0, ok: false },
    { health: "disconnected", healthIndicator: 0, ok: false },
    // A view claiming a positive indicator for a non-healthy engine is still not healthy.
    { health: "unhealthy", healthIndicator: 50, ok: false },
  ] as const)("$health with indicator $healthIndicator → ok=$ok", ({ health: state, healthIndicator, ok }) => {
    const node = makeNode({ health: state, healthIndicator });
    expect(isHealthy(node)).toBe(ok);
    const verdicts = judge([makeNode({ name: "sick", health: "unhealthy", healthIndicator: 0 }), node]);
    expect(verdicts?.[1]).toEqual(ok ? { ok: true } : { ok: false, code: REASON_UNHEALTHY, reason: "node(s) are unhealthy" });
  });

  it("asks nothing when every candidate is healthy", () => {
    expect(judge([makeNode({ name: "a" }), makeNode({ name: "b", healthIndicator: 40 })])).toBeUndefined();
    expect(judge([])).toBeUndefined();
  });

  it("rejects only the unhealthy nodes", () => {
    const verdicts = judge([makeNode({ name: "a" }), makeNode({ name: "b", health: "unhealthy", healthIndicator: 0 })]);
    expect(verdicts?.map((v) => v.ok)).toEqual([true, false]);
  });

  it("replaces the classic message and lists no conditions", () => {
    expect(filter.classicMessage).toBe(NO_HEALTHY_NODE);
    expect(NO_HEALTHY_NODE).toBe("No healthy node available in the cluster");
    expect(filter.conditions(makeRequest({ env: ["constraint:region==eu"] }))).toEqual([]);
  });
});
