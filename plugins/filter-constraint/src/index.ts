import { PASS, defineFilter, describeExpression, formatExpression, matchesAny, parseExpressions, reject } from "@swarm/core";
import type { Expression, FilterVerdict, NodeView, ScheduleRequest } from "@swarm/core";

export const REASON_CONSTRAINT_FAILED = "constraint.failed";

/** `node` matches the node's ID or name; any other key the node label of that name, `""` when missing. */
export function constraintCandidates(node: NodeView, key: string): string[] {
  return key === "node" ? [node.id, node.name] : [node.labels[key] ?? ""];
}

/**
 * A glob without regex metacharacters matches exactly itself: a string comparison answers it
 * without running the regex engine for every node.
 */
export function isLiteral(value: string): boolean {
  const regex = value.length >= 2 && value.startsWith("/") && value.endsWith("/");
  return !regex && !/[.*()?+[\]{}\\^$|]/.test(value);
}

const MEMO_LIMIT = 1024;
/** Regex and glob results by `key\nvalue`, then by node snapshot (which never changes, so neither do they). */
const matchesByExpression = new Map<string, WeakMap<NodeView, boolean>>();

function memoFor(key: string): WeakMap<NodeView, boolean> {
  let memo = matchesByExpression.get(key);
  if (memo === undefined) {
    // Compiled tests keep their own map, so clearing only drops entries for later requests.
    if (matchesByExpression.size >= MEMO_LIMIT) matchesByExpression.clear();
    matchesByExpression.set(key, (memo = new WeakMap()));
  }
  return memo;
}

/**
 * Turns an expression into a per-node test once per request, so `judge` does no parsing, no
 * string building and (for literal values) no regex work.
 */
export function compileConstraint(expression: Expression): (node: NodeView) => boolean {
  const { key, value } = expression;
  const wanted = expression.operator === "==";
  if (isLiteral(value)) {
    if (key === "node") return (node) => (node.id === value || node.name === value) === wanted;
    return (node) => ((node.labels[key] ?? "") === value) === wanted;
  }
  const memo = memoFor(`${key}\n${value}`);
  return (node) => {
    let matched = memo.get(node);
    if (matched === undefined) memo.set(node, (matched = matchesAny(expression, constraintCandidates(node, key))));
    return matched === wanted;
  };
}

export default defineFilter({
  name: "constraint",
  apiVersion: "^1",
  description: "Keeps nodes whose name, ID or labels satisfy the request's constraints.",
  create() {
    return {
      prepare(request, { enforceSoft }) {
        const checks = parseExpressions(request.constraints)
          .filter((expression) => enforceSoft || !expression.soft)
          .map((expression) => ({
            test: compileConstraint(expression),
            verdict: reject(REASON_CONSTRAINT_FAILED, `node(s) failed ${describeExpression(expression)}`),
          }));
        if (checks.length === 0) return undefined;
        return {
          judge(node): FilterVerdict {
            for (const { test, verdict } of checks) if (!test(node)) return verdict;
            return PASS;
          },
        };
      },
      // Classic Swarm lists constraints without a soft marker.
      conditions: (request: ScheduleRequest) => parseExpressions(request.constraints).map((e) => formatExpression(e)),
    };
  },
});
