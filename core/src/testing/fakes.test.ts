import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { resolveManagerSettings } from "../config/settings.js";
import { startManager, type Manager } from "../manager/manager.js";
import { makeNode, makeRequest, silentLogger } from "./builders.js";
import { fakeDiscovery, fakeFilter, fakeStrategy } from "./fakes.js";
import { startFleet, type Fleet } from "./fleet/fleet.js";
import { testPlacement } from "./placement.js";

async function until(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 10_000) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe("the kit's fake plugins", () => {
  let manager: Manager | undefined;
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await manager?.stop();
    await fleet?.stop();
    manager = undefined;
    fleet = undefined;
  });

  it("a fake filter refuses what the test picks and a fake strategy scores as it says", async () => {
    const placement = await testPlacement({
      filters: [[fakeFilter("test/no-odd", (node) => node.name.endsWith("1") || node.name.endsWith("3"))]],
      strategy: [fakeStrategy("test/by-memory", (node) => node.totalMemory)],
    });
    const nodes = [1, 2, 3, 4].map((i) => makeNode({ name: `node-${i}`, totalMemory: i * 1024 }));
    expect(placement.rank(makeRequest(), nodes)).toEqual(["node-4", "node-2"]);
    expect(placement.reasons(makeRequest(), [nodes[0]!])).toEqual({ "fake.refused": 1 });
    await placement.stop();
  });

  it("a fake discovery drives a manager's membership as the test sets it", async () => {
    fleet = await startFleet({ engines: 3 });
    const discovery = fakeDiscovery("fake", fleet.addresses.slice(0, 2));
    const settings = resolveManagerSettings({ discovery: "fake://cluster", hosts: ["tcp://127.0.0.1:0"] }, process.cwd());
    manager = await startManager(settings, silentLogger, { plugins: [discovery.definition] });
    const healthy = (): string[] => manager!.cluster.nodeViews().filter((n) => n.health === "healthy").map((n) => n.name).sort();
    await until("two engines are healthy", () => healthy().length === 2);
    expect(healthy()).toEqual(["sim-0001", "sim-0002"]);
    discovery.set(fleet.addresses.slice(1));
    await until("the set changed", () => healthy().join() === "sim-0002,sim-0003");
  });
});
