import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PluginHost, Scheduler, silentLogger } from "@swarm/core/host";
import { makeNode, makeRequest } from "@swarm/core/testing";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Loads the example package's plugins by path, through the loader swarm uses for built-ins. */
async function load() {
  const host = new PluginHost(silentLogger);
  await host.load(["../src/maintenance.ts", "../src/free-memory.ts"], here);
  const filterPlugin = host.registry.get("filter", "acme/maintenance")!;
  const strategyPlugin = host.registry.get("strategy", "acme/free-memory")!;
  const filter = await host.create("filter", filterPlugin, host.validateOptions(filterPlugin, {}));
  const strategy = await host.create("strategy", strategyPlugin, host.validateOptions(strategyPlugin, { reserveMiB: 512 }));
  return new Scheduler([{ name: filter.name, filter: filter.instance }], { name: strategy.name, strategy: strategy.instance });
}

const GiB = 1024 ** 3;
const nodes = [
  makeNode({ name: "node-1", totalMemory: 8 * GiB, usedMemory: 1 * GiB }),
  makeNode({ name: "node-2", totalMemory: 8 * GiB, usedMemory: 0, labels: { maintenance: "true" } }),
  makeNode({ name: "node-3", totalMemory: 4 * GiB, usedMemory: 0 }),
];

describe("example third-party plugins", () => {
  it("avoid engines in maintenance and prefer free memory", async () => {
    const scheduler = await load();
    expect(scheduler.rank(makeRequest(), nodes).map((n) => n.name)).toEqual(["node-1", "node-3"]);
  });

  it("let a request opt in to maintenance engines", async () => {
    const scheduler = await load();
    expect(scheduler.rank(makeRequest({ env: ["maintenance:ok"] }), nodes)[0]!.name).toBe("node-2");
  });

  it("explain a refusal with their own reasons", async () => {
    const scheduler = await load();
    const request = makeRequest({ config: { HostConfig: { Memory: 7 * GiB } } });
    expect(() => scheduler.rank(request, nodes)).toThrow(
      "no resources available to schedule container\n0/3 nodes available: 2 node(s) would keep less than 512 MiB free, 1 node(s) are in maintenance",
    );
  });
});
