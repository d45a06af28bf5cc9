import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ErrorCodes, SwarmError, isSwarmError, renderErrorCatalog } from "./catalog.js";

describe("the error catalog", () => {
  it("is what docs/errors.md says (npm run docs:errors writes it)", () => {
    expect(readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8")).toBe(renderErrorCatalog());
  });

  it("gives every kind its own code and an HTTP status", () => {
    const codes = Object.values(ErrorCodes).map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const entry of Object.values(ErrorCodes)) {
      expect(entry.code).toMatch(/^SWARM_ERR_[A-Z_]+$/);
      expect(entry.status).toBeGreaterThanOrEqual(300);
      expect(entry.status).toBeLessThan(600);
      expect(entry.when.length).toBeGreaterThan(10);
    }
  });

  it("is matched by code, so a copy of core bundled by a plugin agrees", () => {
    const error = new SwarmError("Conflict", "Conflict: The name web is already assigned.");
    expect(error).toMatchObject({ code: "SWARM_ERR_CONFLICT", status: 409 });
    expect(isSwarmError({ code: "SWARM_ERR_CONFLICT", status: 409, message: "from another copy" })).toBe(true);
    expect(isSwarmError(new Error("plain"))).toBe(false);
  });
});
