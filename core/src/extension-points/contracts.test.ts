import { Type } from "typebox";
import { describe, expect, expectTypeOf, it } from "vitest";
import { PASS, defineClusterBackend, defineFilter, defineStrategy, reject, type FilterVerdict, type StrategyScore } from "../index.js";
import { checkDefinition } from "../host/loader.js";

/*
 * The plugin contracts as the compiler checks them: `npm test` type-checks this file, and every
 * `@ts-expect-error` below fails the build if the mistake it marks ever compiles.
 */
describe("plugin contracts, checked by the compiler", () => {
  it("types a plugin's options from its schema", () => {
    const filter = defineFilter({
      name: "acme/typed",
      apiVersion: "^1",
      options: Type.Object({ label: Type.String(), minimum: Type.Integer(), tags: Type.Optional(Type.Array(Type.String())) }),
      create(ctx) {
        expectTypeOf(ctx.options.label).toEqualTypeOf<string>();
        expectTypeOf(ctx.options.minimum).toEqualTypeOf<number>();
        expectTypeOf(ctx.options.tags).toEqualTypeOf<string[] | undefined>();
        // @ts-expect-error: an option the schema does not declare
        void ctx.options.colour;
        return {
          prepare: () => ({ judge: (node): FilterVerdict => (node.labels[ctx.options.label] ? PASS : reject("acme.unlabelled", "node(s) lack the label")) }),
          conditions: () => [],
        };
      },
    });
    expect(filter.kind).toBe("filter");
  });

  it("refuses hooks with the wrong signature", () => {
    defineFilter({
      name: "acme/wrong-prepare",
      apiVersion: "^1",
      create: () => ({
        // @ts-expect-error: prepare answers a judge or undefined, not a verdict
        prepare: () => PASS,
        conditions: () => [],
      }),
    });
    defineFilter({
      name: "acme/wrong-judge",
      apiVersion: "^1",
      create: () => ({
        // @ts-expect-error: a verdict is PASS or reject(code, reason), not a boolean
        prepare: () => ({ judge: () => true }),
        conditions: () => [],
      }),
    });
    defineStrategy({
      name: "acme/wrong-score",
      apiVersion: "^1",
      create: () => ({
        tieBreak: "none",
        // @ts-expect-error: a score says whether the node fits
        score: () => 42,
      }),
    });
    defineStrategy({
      name: "acme/wrong-tie-break",
      apiVersion: "^1",
      create: () => ({
        // @ts-expect-error: ties are broken by container count or not at all
        tieBreak: "alphabetical",
        score: (): StrategyScore => ({ fits: true, score: 0 }),
      }),
    });
    defineClusterBackend({
      name: "acme/wrong-backend",
      apiVersion: "^1",
      // @ts-expect-error: a backend creates containers
      create: () => ({ nodeViews: () => [], statusLines: () => [] }),
    });
  });

  it("refuses, at load, a plugin built for another plugin API, naming both versions", () => {
    expect(() => checkDefinition({ kind: "filter", name: "acme/old", apiVersion: "^2", create: () => ({}) }, "acme-old")).toThrow(
      "filter plugin acme/old (acme-old) targets plugin API ^2, this core implements 1.0.0; upgrade the plugin or core",
    );
  });
});
