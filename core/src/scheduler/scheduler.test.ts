import { describe, expect, it } from "vitest";
import type { Filter, FilterPass } from "../extension-points/filter.js";
import type { NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { Strategy } from "../extension-points/strategy.js";
import { ExpressionError, formatExpression, parseExpressions } from "./expressions.js";
import { makeContainer, makeNode, makeRequest } from "../testing/builders.js";
import { NO_RESOURCES, Scheduler, SchedulingError } from "./scheduler.js";

/** A fake filter: rejects nodes whose label `zone` differs from the request's `zone` constraint. */
function zoneFilter(): Filter {
  return {
    prepare(request: ScheduleRequest, pass: FilterPass) {
      const wanted = parseExpressions(request.constraints).filter((e) => e.key === "zone" && (pass.enforceSoft || !e.soft));
      if (wanted.length === 0) return undefined;
      return {
        judge: (node: NodeView) =>
          wanted.every((e) => node.labels.zone === e.value) ? { ok: true } : { ok: false, code: "zone", reason: `node(s) failed zone==${wanted[0]!.value}` },
      };
    },
    conditions: (request) => parseExpressions(request.constraints).map((e) => formatExpression(e)),
  };
}

const healthy: Filter = {
  classicMessage: "No healthy node available in the cluster",
  prepare: () => ({ judge: (node) => (node.health === "healthy" ? { ok: true } : { ok: false, code: "health", reason: "node(s) are unhealthy" }) }),
  conditions: () => [],
};

const fewestContainers: Strategy = { tieBreak: "fewer-containers", score: () => ({ fits: true, score: 0 }) };

const nodes = [
  makeNode({ name: "node-1", labels: { zone: "a" } }),
  makeNode({ name: "node-2", labels: { zone: "b" }, containers: [makeContainer({ id: "x" })] }),
  makeNode({ name: "node-3", labels: { zone: "b" } }),
  makeNode({ name: "node-4", labels: { zone: "c" }, health: "unhealthy", healthIndicator: 0 }),
];

const scheduler = new Scheduler(
  [
    { name: "health", filter: healthy },
    { name: "zone", filter: zoneFilter() },
  ],
  { name: "fake", strategy: fewestContainers },
);

describe("scheduler host", () => {
  it("filters in order and breaks strategy ties by container count, then name", () => {
    const ranked = scheduler.rank(makeRequest({ env: ["constraint:zone==b"] }), nodes);
    expect(ranked.map((n) => n.name)).toEqual(["node-3", "node-2"]);
    expect(scheduler.rank(makeRequest(), nodes).map((n) => n.name)).toEqual(["node-1", "node-3", "node-2"]);
  });

  it("picks the node rank puts first", () => {
    for (const env of [[], ["constraint:zone==b"], ["constraint:zone==~z"]]) {
      const request = makeRequest({ env });
      expect(scheduler.pick(request, nodes)).toBe(scheduler.rank(request, nodes)[0]);
    }
    expect(() => scheduler.pick(makeRequest({ env: ["constraint:zone==z"] }), nodes)).toThrow(SchedulingError);
  });

  it("falls back to a second pass without soft expressions", () => {
    const ranked = scheduler.rank(makeRequest({ env: ["constraint:zone==~z"] }), nodes);
    expect(ranked.map((n) => n.name)).toEqual(["node-1", "node-3", "node-2"]);
  });

  it("renders classic Swarm's message plus the per-reason node count", () => {
    const error = (() => {
      try {
        scheduler.rank(makeRequest({ env: ["constraint:zone==z"] }), nodes);
      } catch (err) {
        return err as SchedulingError;
      }
      throw new Error("expected a failure");
    })();
    expect(error).toBeInstanceOf(SchedulingError);
    expect(error.message).toBe(
      "Unable to find a node that satisfies the following conditions \n[zone==z]\n0/4 nodes available: 3 node(s) failed zone==z, 1 node(s) are unhealthy",
    );
    expect(error.status).toBe(500);
    expect(error.reasons.get("node(s) are unhealthy")).toBe(1);
  });

  it("uses a filter's own classic message when it empties the list", () => {
    expect(() => scheduler.rank(makeRequest(), [nodes[3]!])).toThrow(/^No healthy node available in the cluster\n0\/1 nodes available: 1 node\(s\) are unhealthy$/);
  });

  it("writes `error from <filter> filter` for a bad expression", () => {
    expect(() => scheduler.rank(makeRequest({ env: ["constraint:zone=b"] }), nodes)).toThrow(
      "Unable to find a node that satisfies the following conditions \nerror from zone filter: One of operator ==, != is expected in 'zone=b'",
    );
  });

  it("answers `no resources` when the strategy fits no node", () => {
    const full = new Scheduler([], {
      name: "full",
      strategy: { tieBreak: "none", score: () => ({ fits: false, code: "mem", reason: "node(s) lack memory" }) },
    });
    expect(() => full.rank(makeRequest(), nodes.slice(0, 2))).toThrow(`${NO_RESOURCES}\n0/2 nodes available: 2 node(s) lack memory`);
  });

  it("names the plugin when it throws something unexpected", () => {
    const broken = new Scheduler([{ name: "acme/broken", filter: { prepare: () => ({ judge: () => { throw new TypeError("oops"); } }), conditions: () => [] } }], {
      name: "fake",
      strategy: fewestContainers,
    });
    expect(() => broken.rank(makeRequest(), nodes)).toThrow("filter/acme/broken failed in judge: oops");
    expect(new ExpressionError("x").code).toBe("SWARM_ERR_INVALID_EXPRESSION");
  });
});
