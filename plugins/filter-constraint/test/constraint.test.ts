import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExpressionError, evaluateExpression, parseExpression } from "@swarm/core";
import type { FilterVerdict } from "@swarm/core";
import { makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import constraint, { REASON_CONSTRAINT_FAILED, compileConstraint, constraintCandidates } from "../src/index.js";

const filter = await constraint.create(makePluginContext("constraint", {}));

const nodes = [
  makeNode({ name: "node-0", id: "AAAA:BBBB|10.0.0.1:2375", labels: { region: "eu", storagedriver: "overlay2", group: "A" } }),
  makeNode({ name: "node-1", id: "CCCC:DDDD|10.0.0.2:2375", labels: { region: "us-east", storagedriver: "aufs" } }),
  makeNode({ name: "node-10", id: "EEEE:FFFF|10.0.0.3:2375", labels: { foo: "b" } }),
];

function kept(env: string[], enforceSoft = true): string[] | undefined {
  const prepared = filter.prepare(makeRequest({ env }), { enforceSoft, nodes });
  return prepared === undefined ? undefined : nodes.filter((node) => prepared.judge(node).ok).map((node) => node.name);
}

describe("constraint filter", () => {
  it.each<[string, string[]]>([
    ["node==node-0", ["node-0"]],
    ["node!=node-0", ["node-1", "node-10"]],
    ["node==CCCC:DDDD|10.0.0.2:2375", ["node-1"]],
    ["node==/10\\.0\\.0\\.3/", ["node-10"]],
    ["node==node-*", ["node-0", "node-1", "node-10"]],
    // `?` keeps its regex meaning too: `^node-?$` matches only "node" and "node-".
    ["node==node-?", []],
    ["node==node-.", ["node-0", "node-1"]],
    // A glob is a regex with only `*` rewritten: `.` matches any character.
    ["node==node.1", ["node-1"]],
    ["node==node-1", ["node-1"]],
    // Regexes are unanchored.
    ["node==/node-1/", ["node-1", "node-10"]],
    ["node==/^node-1$/", ["node-1"]],
    ["node==/(?i)NODE-0/", ["node-0"]],
    ["node==NODE-0", []],
    // A regex that does not compile matches nothing (and RE2 has no backreferences).
    ["node==/node-(/", []],
    ["node!=/node-(/", ["node-0", "node-1", "node-10"]],
    ["node==/(node)-\\1/", []],
    ["node==/(node)-1/", ["node-1", "node-10"]],
    ["region==eu", ["node-0"]],
    ["region==us-*", ["node-1"]],
    ["region!=eu", ["node-1", "node-10"]],
    // A missing label is the candidate "".
    ["region==*", ["node-0", "node-1", "node-10"]],
    ["region==/^$/", ["node-10"]],
    ["foo==a", []],
    ["foo==b", ["node-10"]],
    ["foo!=bar", ["node-0", "node-1", "node-10"]],
    ["group==A", ["node-0"]],
    ["storagedriver==/aufs|overlay2/", ["node-0", "node-1"]],
    // The glob `^eu|us-east$` is an alternation of `^eu` and `us-east$`.
    ["region==eu|us-east", ["node-0", "node-1"]],
    ["region==(eu|us-east)", ["node-0", "node-1"]],
  ])("%s keeps %j", (expression, expected) => {
    expect(kept([`constraint:${expression}`])).toEqual(expected);
  });

  it("applies every constraint and reports the first one a node fails", () => {
    const prepared = filter.prepare(makeRequest({ env: ["constraint:region==eu", "constraint:node==node-0"] }), { enforceSoft: true, nodes });
    const verdicts: Array<FilterVerdict | undefined> = nodes.map((n) => prepared?.judge(n));
    expect(verdicts).toEqual([
      { ok: true },
      { ok: false, code: REASON_CONSTRAINT_FAILED, reason: "node(s) failed region==eu" },
      { ok: false, code: REASON_CONSTRAINT_FAILED, reason: "node(s) failed region==eu" },
    ]);
  });

  it("names the parse error of a value that matches nothing because it does not compile", () => {
    const prepared = filter.prepare(makeRequest({ env: ["constraint:region==/eu[/"] }), { enforceSoft: true, nodes });
    expect(nodes.map((n) => prepared?.judge(n))).toEqual(
      nodes.map(() => ({ ok: false, code: REASON_CONSTRAINT_FAILED, reason: "node(s) failed region==/eu[/ (error parsing regexp: missing closing ]: `[`)" })),
    );
  });

  it("enforces soft constraints only in the first pass", () => {
    const env = ["constraint:storagedriver==~not_exist", "constraint:node==node-0"];
    expect(kept(env, true)).toEqual([]);
    expect(kept(env, false)).toEqual(["node-0"]);
    expect(kept(["constraint:node==~node-1"], true)).toEqual(["node-1"]);
    expect(kept(["constraint:node==~node-1"], false)).toBeUndefined();
  });

  it("reads constraints from the label as from env, label first", () => {
    const request = makeRequest({ env: ["constraint:region==eu"], labels: { "com.docker.swarm.constraints": '["node==node-1"]' } });
    expect(filter.conditions(request)).toEqual(["node==node-1", "region==eu"]);
    const prepared = filter.prepare(request, { enforceSoft: true, nodes });
    expect(nodes.map((n) => prepared?.judge(n).ok)).toEqual([false, false, false]);
  });

  it("asks nothing of a request without constraints", () => {
    expect(kept([])).toBeUndefined();
    expect(kept(["affinity:container==c1"])).toBeUndefined();
  });

  it("lists constraints without the soft marker", () => {
    const request = makeRequest({ env: ["constraint:node==node-9", "constraint:storagedriver==~not_exist", "constraint:region!=/e.*/"] });
    expect(filter.conditions(request)).toEqual(["node==node-9", "storagedriver==not_exist", "region!=/e.*/"]);
  });

  it.each([
    ["region", "One of operator ==, != is expected in 'region'"],
    ["r==eu", "Key 'r' is invalid"],
    ["region==e,u", "Value 'e,u' is invalid"],
  ])("rejects %j with %j in prepare and in conditions", (expression, message) => {
    const request = makeRequest({ env: [`constraint:${expression}`] });
    expect(() => filter.prepare(request, { enforceSoft: true, nodes })).toThrow(ExpressionError);
    expect(() => filter.prepare(request, { enforceSoft: false, nodes })).toThrow(message);
    expect(() => filter.conditions(request)).toThrow(message);
  });

  it("matches the node ID and name, or the label value", () => {
    const node = makeNode({ name: "n1", id: "X|a:1", labels: { zone: "z1" } });
    expect(constraintCandidates(node, "node")).toEqual(["X|a:1", "n1"]);
    expect(constraintCandidates(node, "zone")).toEqual(["z1"]);
    expect(constraintCandidates(node, "missing")).toEqual([""]);
  });

  it("agrees with the shared matcher on every value and node (memo and fast path included)", () => {
    const word = fc.stringMatching(/^[a-c0-1.*|/-]{1,5}$/);
    fc.assert(
      fc.property(word, fc.option(word, { nil: undefined }), fc.constantFrom("node", "zone"), fc.constantFrom("==", "!="), word, (name, label, key, op, value) => {
        let expression;
        try {
          expression = parseExpression(`${key}${op}${value}`);
        } catch {
          return;
        }
        const node = makeNode({ name, labels: label === undefined ? {} : { zone: label } });
        const expected = evaluateExpression(expression, constraintCandidates(node, key));
        expect(compileConstraint(expression)(node)).toBe(expected);
        expect(compileConstraint(expression)(node)).toBe(expected);
      }),
    );
  });
});
