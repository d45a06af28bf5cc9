import { afterEach, describe, expect, it } from "vitest";
import { defineFilter, reject, PASS } from "../extension-points/filter.js";
import { startTestManager, type TestManager } from "./test-manager.js";

const quarantine = defineFilter({
  name: "acme/quarantine",
  apiVersion: "^1",
  create: () => ({
    prepare: () => ({ judge: (node) => (node.labels.quarantine === "true" ? reject("acme.quarantine", "node(s) are in quarantine") : PASS) }),
    conditions: () => ["quarantine!=true"],
  }),
});

describe("startTestManager", () => {
  let manager: TestManager | undefined;
  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
  });

  it("runs a whole manager in front of simulated engines, with a given plugin among the built-ins", async () => {
    manager = await startTestManager({
      engines: { engines: 3, labels: (i) => (i === 0 ? { region: "eu", quarantine: "true" } : { region: i === 1 ? "eu" : "us" }) },
      config: { filters: ["health", "constraint", "acme/quarantine"], strategy: "spread" },
      plugins: [quarantine],
    });
    const placed = await manager.run({ env: ["constraint:region==eu"] });
    expect(placed.node).toBe("sim-0002");
    await expect(manager.run({ env: ["constraint:region==ap"] })).rejects.toThrow(/Unable to find a node that satisfies the following conditions/);
    const info = await manager.call<{ Containers: number; Driver?: string }>("GET", "/info");
    expect(info.status).toBe(200);
    expect(info.body.Containers).toBe(1);
  });

  it("refuses a config naming a filter no plugin provides", async () => {
    await expect(startTestManager({ config: { filters: ["acme/missing"] } })).rejects.toThrow("filter not supported: acme/missing");
  });
});
