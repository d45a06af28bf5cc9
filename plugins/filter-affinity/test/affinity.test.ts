import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExpressionError, evaluateExpression, parseExpression } from "@swarm/core";
import type { FilterVerdict, NodeView } from "@swarm/core";
import { makeContainer, makeImage, makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import affinity, {
  REASON_AFFINITY_FAILED,
  affinityMatcher,
  containerCandidates,
  imageCandidates,
  isLiteral,
  labelCandidates,
  matchesNode,
  repositoryOf,
} from "../src/index.js";

const filter = await affinity.create(makePluginContext("affinity", {}));

const C1_ID = `c1${"a".repeat(62)}`;
const REDIS_ID = `sha256:${"e".repeat(64)}`;
const node1 = makeNode({
  name: "node-1",
  containers: [
    makeContainer({ id: C1_ID, names: ["/c1", "/node-2/alias"], state: "exited", labels: { "test.label": "true" } }),
    makeContainer({ id: "d".repeat(64), names: [] }),
  ],
  images: [makeImage(["redis:latest", "localhost:5000/test:1.0"], REDIS_ID)],
});
const node2 = makeNode({
  name: "node-2",
  containers: [makeContainer({ id: "b".repeat(64), name: "c2" }), makeContainer({ id: "", name: "starting", pending: true })],
  images: [makeImage(["busybox:latest", "localhost:5000/test"])],
});
const node3 = makeNode({ name: "node-3" });
const nodes = [node1, node2, node3];

function kept(env: string[], enforceSoft = true): string[] | undefined {
  const prepared = filter.prepare(makeRequest({ env }), { enforceSoft, nodes });
  return prepared === undefined ? undefined : nodes.filter((node) => prepared.judge(node).ok).map((node) => node.name);
}

describe("affinity filter", () => {
  it.each<[string, string[]]>([
    // container: ID or first name, without the leading `/`.
    ["container==c1", ["node-1"]],
    ["container!=c1", ["node-2", "node-3"]],
    ["container==/c1", []],
    [`container==${C1_ID}`, ["node-1"]],
    ["container==c*", ["node-1", "node-2"]],
    ["container==/^c[2-9]$/", ["node-2"]],
    ["container==/(?i)C1/", ["node-1"]],
    ["container==alias", []],
    ["container==node-2/alias", []],
    ["container==starting", ["node-2"]],
    ["container==d*", []],
    ["container==*", ["node-1", "node-2"]],
    // A pending container's empty ID is a candidate, but matches only patterns that accept "".
    ["container!=c2", ["node-1", "node-3"]],
    // image: ID, every RepoTag and the repository part of each.
    ["image==redis", ["node-1"]],
    ["image==redis:latest", ["node-1"]],
    ["image==redis:*", ["node-1"]],
    ["image!=redis", ["node-2", "node-3"]],
    [`image==${REDIS_ID}`, ["node-1"]],
    ["image==eeeeeeeeeeee", []],
    ["image==/eeeeeeeeeeee/", ["node-1"]],
    ["image==localhost:5000/test", ["node-1", "node-2"]],
    ["image==localhost:5000/test:1.0", ["node-1"]],
    ["image==localhost:5000", []],
    ["image==busybox", ["node-2"]],
    // other keys: container labels, "" when missing.
    ["test.label==true", ["node-1"]],
    ["test.label!=true", ["node-2", "node-3"]],
    ["test.label==*", ["node-1", "node-2"]],
    ["other.label!=x", ["node-1", "node-2", "node-3"]],
  ])("%s keeps %j", (expression, expected) => {
    expect(kept([`affinity:${expression}`])).toEqual(expected);
  });

  it("reports the first failing affinity", () => {
    const prepared = filter.prepare(makeRequest({ env: ["affinity:image==redis", "affinity:container==c2"] }), { enforceSoft: true, nodes });
    const verdicts: Record<string, FilterVerdict | undefined> = Object.fromEntries(nodes.map((n) => [n.name, prepared?.judge(n)]));
    expect(verdicts["node-1"]).toEqual({ ok: false, code: REASON_AFFINITY_FAILED, reason: "node(s) failed affinity container==c2" });
    expect(verdicts["node-2"]).toEqual({ ok: false, code: REASON_AFFINITY_FAILED, reason: "node(s) failed affinity image==redis" });
  });

  it("names the parse error of a value that matches nothing because it does not compile", () => {
    const prepared = filter.prepare(makeRequest({ env: ["affinity:image==red(is"] }), { enforceSoft: true, nodes });
    expect(prepared?.judge(node1)).toEqual({
      ok: false,
      code: REASON_AFFINITY_FAILED,
      reason: "node(s) failed affinity image==red(is (error parsing regexp: missing closing ): `^red(is$`)",
    });
  });

  it("enforces soft affinities only in the first pass", () => {
    expect(kept(["affinity:container==~c1"], true)).toEqual(["node-1"]);
    expect(kept(["affinity:container==~c1"], false)).toBeUndefined();
    expect(kept(["affinity:container==~c1", "affinity:image==busybox"], false)).toEqual(["node-2"]);
  });

  it("reads affinities from the label as from env", () => {
    const request = makeRequest({ labels: { "com.docker.swarm.affinities": '["container==c1"]' } });
    const prepared = filter.prepare(request, { enforceSoft: true, nodes });
    expect(nodes.map((n) => prepared?.judge(n).ok)).toEqual([true, false, false]);
  });

  it("asks nothing of a request without affinities", () => {
    expect(kept([])).toBeUndefined();
    expect(kept(["constraint:node==node-1"])).toBeUndefined();
  });

  it("lists affinities with their soft marker", () => {
    const request = makeRequest({ env: ["affinity:container==c1", "affinity:image==~redis", "affinity:test.label!=true"] });
    expect(filter.conditions(request)).toEqual(["container==c1 (soft=false)", "image==redis (soft=true)", "test.label!=true (soft=false)"]);
  });

  it("fails on a bad expression, in prepare and in conditions", () => {
    const request = makeRequest({ env: ["affinity:container=c1"] });
    expect(() => filter.prepare(request, { enforceSoft: true, nodes })).toThrow(ExpressionError);
    expect(() => filter.conditions(request)).toThrow("One of operator ==, != is expected in 'container=c1'");
  });
});

describe("affinity candidates", () => {
  it.each([
    ["busybox:latest", "busybox"],
    ["busybox", "busybox"],
    ["localhost:5000/test:1.0", "localhost:5000/test"],
    ["localhost:5000/test", "localhost:5000/test"],
    ["registry:5000/a/b:tag", "registry:5000/a/b"],
    ["busybox@sha256:abc", "busybox"],
  ])("repository of %s is %s", (tag, repository) => {
    expect(repositoryOf(tag)).toBe(repository);
  });

  it("lists container, image and label candidates in classic Swarm's order", () => {
    expect(containerCandidates(node1)).toEqual([C1_ID, "c1"]);
    expect(containerCandidates(node2)).toEqual(["b".repeat(64), "c2", "", "starting"]);
    expect(imageCandidates(node1)).toEqual([REDIS_ID, "redis:latest", "localhost:5000/test:1.0", "redis", "localhost:5000/test"]);
    expect(labelCandidates(node1, "test.label")).toEqual(["true", ""]);
    expect(labelCandidates(node3, "test.label")).toEqual([]);
  });

  it.each([
    ["c1", true],
    ["node-1", true],
    ["localhost:5000/test", true],
    ["=c1", true],
    ["/c1", true],
    ["a b", true],
    ["c.1", false],
    ["c*", false],
    ["/c1/", false],
    ["c?", false],
    ["c+", false],
    ["(c)", false],
    ["[c]", false],
    ["^c", false],
    ["c$", false],
    ["a|b", false],
    ["c\\d", false],
  ])("isLiteral(%j) → %s", (value, literal) => {
    expect(isLiteral(value)).toBe(literal);
  });

  it("agrees with the shared matcher on every key, value and node (memo and fast path included)", () => {
    const word = fc.stringMatching(/^[a-c.*:/]{1,4}$/);
    const arbitraryNode = fc.record({
      names: fc.array(fc.option(word, { nil: undefined }), { maxLength: 4 }),
      tags: fc.array(word, { maxLength: 3 }),
      label: fc.option(word, { nil: undefined }),
    });
    fc.assert(
      fc.property(arbitraryNode, fc.constantFrom("container", "image", "xx.label"), fc.constantFrom("==", "!="), word, (shape, key, op, value) => {
        let expression;
        try {
          expression = parseExpression(`${key}${op}${value}`);
        } catch {
          return; // not a valid value: nothing to compare
        }
        const node: NodeView = makeNode({
          containers: shape.names.map((name, i) =>
            makeContainer({ id: `${i}`.repeat(4), names: name === undefined ? [] : [`/${name}`], labels: shape.label === undefined ? {} : { "xx.label": shape.label } }),
          ),
          images: [makeImage(shape.tags)],
        });
        const reference = key === "container" ? containerCandidates(node) : key === "image" ? imageCandidates(node) : labelCandidates(node, key);
        const expected = evaluateExpression(expression, reference);
        const evaluate = () => matchesNode(affinityMatcher(expression), node) === (expression.operator === "==");
        expect(evaluate()).toBe(expected);
        expect(evaluate()).toBe(expected);
      }),
    );
  });
});
