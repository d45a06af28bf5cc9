import { PASS, defineFilter, formatExpression, parseExpressions, reject } from "@swarm/core";
import type { FilterVerdict, ScheduleRequest } from "@swarm/core";

export const REASON_NOT_WHITELISTED = "whitelist.not-listed";

/** The node names a whitelist value allows: `node-1|node-2` → both, compared exactly (no globs). */
export function whitelistedNames(value: string): Set<string> {
  return new Set(value.split("|"));
}

export default defineFilter({
  name: "whitelist",
  apiVersion: "^1",
  description: "Keeps nodes named in the request's whitelists (`node==node-1|node-2`).",
  create() {
    return {
      prepare(request, { enforceSoft }) {
        // Classic Swarm ignores the key and the operator: only the listed names count.
        const checks = parseExpressions(request.whitelists)
          .filter((expression) => enforceSoft || !expression.soft)
          .map((expression) => ({
            names: whitelistedNames(expression.value),
            verdict: reject(REASON_NOT_WHITELISTED, `node(s) are not in the whitelist ${expression.value}`),
          }));
        if (checks.length === 0) return undefined;
        return {
          judge(node): FilterVerdict {
            for (const { names, verdict } of checks) if (!names.has(node.name)) return verdict;
            return PASS;
          },
        };
      },
      conditions: (request: ScheduleRequest) =>
        parseExpressions(request.whitelists).map((e) => `${formatExpression(e)} (soft=${e.soft})`),
    };
  },
});
