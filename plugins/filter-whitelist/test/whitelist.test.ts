import { describe, expect, it } from "vitest";
import { ExpressionError } from "@swarm/core";
import { makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import whitelist, { REASON_NOT_WHITELISTED, whitelistedNames } from "../src/index.js";

const filter = await whitelist.create(makePluginContext("whitelist", {}));

const nodes = ["node-1", "node-2", "node-3", "node-10"].map((name) => makeNode({ name }));

function kept(env: string[], enforceSoft = true): string[] | undefined {
  const prepared = filter.prepare(makeRequest({ env }), { enforceSoft, nodes });
  return prepared === undefined ? undefined : nodes.filter((node) => prepared.judge(node).ok).map((node) => node.name);
}

describe("whitelist filter", () => {
  it.each<[string, string[]]>([
    ["node==node-1|node-2", ["node-1", "node-2"]],
    ["node==node-3", ["node-3"]],
    // Key and operator are ignored: only the listed names count.
    ["node!=node-1", ["node-1"]],
    ["anything==node-2|node-10", ["node-2", "node-10"]],
    // Names are compared exactly: no globs, no regexes, no ID.
    ["node==node-*", []],
    ["node==node.1", []],
    ["node==/node-1/", []],
    ["node==NODE-1", []],
    [`node==${nodes[0]?.id.split("|")[0] ?? ""}`, []],
    ["node==node-1|", ["node-1"]],
  ])("%s keeps %j", (expression, expected) => {
    expect(kept([`whitelist:${expression}`])).toEqual(expected);
  });

  it("intersects several whitelists and reports the first one a node misses", () => {
    const prepared = filter.prepare(makeRequest({ env: ["whitelist:node==node-1|node-2", "whitelist:node==node-2|node-3"] }), { enforceSoft: true, nodes });
    expect(nodes.map((n) => prepared?.judge(n))).toEqual([
      { ok: false, code: REASON_NOT_WHITELISTED, reason: "node(s) are not in the whitelist node-2|node-3" },
      { ok: true },
      { ok: false, code: REASON_NOT_WHITELISTED, reason: "node(s) are not in the whitelist node-1|node-2" },
      { ok: false, code: REASON_NOT_WHITELISTED, reason: "node(s) are not in the whitelist node-1|node-2" },
    ]);
  });

  it("enforces soft whitelists only in the first pass", () => {
    expect(kept(["whitelist:node==~node-1"], true)).toEqual(["node-1"]);
    expect(kept(["whitelist:node==~node-1"], false)).toBeUndefined();
  });

  it("reads the label form used by volume creation", () => {
    const request = makeRequest({ labels: { "com.docker.swarm.whitelists": '["node==node-1|node-2"]' } });
    const prepared = filter.prepare(request, { enforceSoft: true, nodes });
    expect(nodes.map((n) => prepared?.judge(n).ok)).toEqual([true, true, false, false]);
    expect(filter.conditions(request)).toEqual(["node==node-1|node-2 (soft=false)"]);
  });

  it("asks nothing of a request without whitelists", () => {
    expect(kept([])).toBeUndefined();
  });

  it("lists whitelists with their soft marker", () => {
    const request = makeRequest({ env: ["whitelist:node==a|b", "whitelist:node!=~c"] });
    expect(filter.conditions(request)).toEqual(["node==a|b (soft=false)", "node!=c (soft=true)"]);
  });

  it("fails on a bad expression", () => {
    const request = makeRequest({ env: ["whitelist:node-1"] });
    expect(() => filter.prepare(request, { enforceSoft: true, nodes })).toThrow(ExpressionError);
    expect(() => filter.conditions(request)).toThrow("One of operator ==, != is expected in 'node-1'");
  });

  it("splits values on |", () => {
    expect([...whitelistedNames("a|b|a")]).toEqual(["a", "b"]);
    expect([...whitelistedNames("a")]).toEqual(["a"]);
  });
});
