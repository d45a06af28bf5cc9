import { PASS, Type, defineFilter, reject } from "@swarm/core";

/** Reason code, exported so tests and dashboards can match on it. */
export const REASON_IN_MAINTENANCE = "acme.maintenance";

/**
 * Keeps new containers off engines labelled `maintenance=true` (`dockerd --label maintenance=true`),
 * unless the request opts in with `-e maintenance:ok`.
 */
export default defineFilter({
  name: "acme/maintenance",
  apiVersion: "^1",
  description: "keeps containers off engines in maintenance",
  options: Type.Object({ label: Type.String({ default: "maintenance" }) }, { additionalProperties: false }),
  create(ctx) {
    return {
      prepare(request) {
        if (request.config.Env?.includes("maintenance:ok")) return undefined;
        return {
          judge: (node) =>
            node.labels[ctx.options.label] === "true" ? reject(REASON_IN_MAINTENANCE, "node(s) are in maintenance") : PASS,
        };
      },
      conditions: () => [`${ctx.options.label}!=true`],
    };
  },
});
