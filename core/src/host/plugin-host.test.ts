import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { makeNode, makeRequest } from "../testing/builders.js";
import { silentLogger } from "../logging/logger.js";
import { defineClusterBackend, type EngineState, type Placement } from "../extension-points/cluster-backend.js";
import { defineDiscovery } from "../extension-points/discovery.js";
import { defineFilter } from "../extension-points/filter.js";
import { EngineStateToken, PlacementToken } from "../extension-points/tokens.js";
import { errors, isSwarmError } from "../errors/catalog.js";
import { blamedPlugin } from "../errors/blame.js";
import type { LoadedPlugin } from "./loader.js";
import { PluginHost } from "./plugin-host.js";

function underTest(definition: LoadedPlugin["definition"]): LoadedPlugin {
  return { definition, specifier: definition.name, file: "(inline)" };
}

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

describe("plugin loader", () => {
  it("loads a third-party filter from a local file, validates its options and creates it", async () => {
    const host = new PluginHost(silentLogger);
    const [plugin] = await host.load(["./good-filter.mjs"], fixtures);
    expect(plugin!.definition.name).toBe("acme/even");
    const options = host.validateOptions(plugin!, {});
    expect(options).toEqual({ label: "even" });
    const created = await host.create("filter", plugin!, options);
    const prepared = created.instance.prepare(makeRequest(), { enforceSoft: true, nodes: [] });
    expect(prepared!.judge(makeNode({ labels: { even: "true" } }))).toEqual({ ok: true });
    expect(prepared!.judge(makeNode())).toMatchObject({ ok: false, code: "acme.odd" });
    expect(host.resolveAll("filter")).toEqual([{ name: "acme/even", kind: "filter", instance: created.instance }]);
  });

  it.each([
    ["./wrong-kind.mjs", /plugin \.\/wrong-kind\.mjs: has kind "sorter"; expected one of discovery, filter, strategy, leader, backend/],
    ["./future-api.mjs", /filter plugin acme\/future \(\.\/future-api\.mjs\) targets plugin API \^2, this core implements 1\.0\.0/],
    ["./no-default.mjs", /plugin \.\/no-default\.mjs: has no default export of a plugin definition/],
    ["./missing.mjs", /plugin \.\/missing\.mjs: failed to load/],
    ["@acme/not-installed", /plugin @acme\/not-installed: cannot be found from .*; install it \(npm install @acme\/not-installed\) or give a path/],
  ])("names the plugin when %s cannot be used", async (specifier, message) => {
    const host = new PluginHost(silentLogger);
    await expect(host.load([specifier], fixtures)).rejects.toThrow(message);
  });

  it("reports every broken plugin of one load at once", async () => {
    const host = new PluginHost(silentLogger);
    const error = await host.load(["./wrong-kind.mjs", "./future-api.mjs"], fixtures).catch((err: Error) => err);
    expect((error as Error).message.split("\n")).toHaveLength(2);
  });

  it("refuses two plugins with one name and names both sources", async () => {
    const host = new PluginHost(silentLogger);
    await expect(host.load(["./good-filter.mjs", "./duplicate-health.mjs"], fixtures)).rejects.toThrow(
      /two filter plugins are named acme\/even: \.\/good-filter\.mjs .* and \.\/duplicate-health\.mjs/,
    );
  });

  it("rejects bad options with their path", async () => {
    const host = new PluginHost(silentLogger);
    const [plugin] = await host.load(["./good-filter.mjs"], fixtures);
    expect(() => host.validateOptions(plugin!, { label: 3 })).toThrow(/filter\/acme\/even options are invalid:\n {2}pluginOptions\.acme\/even\.label: must be string/);
    expect(() => host.validateOptions(plugin!, { colour: "red" })).toThrow(/must not have additional properties/);
  });

  it("stops what it started in reverse order, once, even after a failed start", async () => {
    const host = new PluginHost(silentLogger);
    const order: string[] = [];
    await host.start("a", { stop: () => void order.push("a") });
    await host.start("b", { stop: () => void order.push("b") });
    await expect(
      host.start("c", {
        start: () => Promise.reject(new Error("boom")),
        stop: () => void order.push("c"),
      }),
    ).rejects.toThrow("c: start failed: boom");
    await host.stopAll();
    await host.stopAll();
    expect(order).toEqual(["c", "b", "a"]);
  });
});

describe("plugin containers", () => {
  const backend = defineClusterBackend({
    name: "acme/echo",
    apiVersion: "^1",
    create: (ctx) => ({ nodeViews: () => ctx.placement.rank({} as never, ctx.state.nodeViews()), createContainer: (request) => ctx.state.placeAndCreate(request), statusLines: () => [] }),
  });

  it("gives a backend the engine state and placement the assembly provided, resolved in the plugin's own container", async () => {
    const host = new PluginHost(silentLogger);
    const nodeViews = [makeNode({ name: "n1" }), makeNode({ name: "n2" })];
    host.provide(EngineStateToken, { nodeViews: () => nodeViews } as unknown as EngineState);
    host.provide(PlacementToken, { rank: (_request, nodes) => [...nodes].reverse() } satisfies Placement);
    const created = await host.create("backend", underTest(backend as LoadedPlugin["definition"]), {});
    expect(created.instance.nodeViews().map((node) => node.name)).toEqual(["n2", "n1"]);
    expect(host.resolve("backend")).toBe(created.instance);
  });

  it("refuses to create a backend before the state it needs is provided, naming the plugin", async () => {
    const host = new PluginHost(silentLogger);
    await expect(host.create("backend", underTest(backend as LoadedPlugin["definition"]), {})).rejects.toThrow(
      "backend/acme/echo: the host was given no engine state to create a backend with; provide it first",
    );
  });

  it("resolves what was created in a scope from that scope only, in creation order", async () => {
    const host = new PluginHost(silentLogger);
    const filter = (name: string) => underTest(defineFilter({ name, apiVersion: "^1", create: () => ({ prepare: () => undefined, conditions: () => [] }) }) as LoadedPlugin["definition"]);
    const first = host.scope();
    const second = host.scope();
    await host.create("filter", filter("acme/a"), {}, {}, first);
    await host.create("filter", filter("acme/b"), {}, {}, first);
    await host.create("filter", filter("acme/c"), {}, {}, second);
    expect(host.resolveAll("filter", first).map((p) => p.name)).toEqual(["acme/a", "acme/b"]);
    expect(host.resolveAll("filter", second).map((p) => p.name)).toEqual(["acme/c"]);
    expect(host.resolveAll("filter")).toEqual([]);
  });

  it("blames the plugin for what its calls throw: its own catalog error keeps its text, anything else names it", async () => {
    const host = new PluginHost(silentLogger);
    const broken = defineFilter({
      name: "acme/broken",
      apiVersion: "^1",
      create: () => ({
        prepare: () => {
          throw new TypeError("cannot read properties of undefined");
        },
        conditions: () => {
          throw errors.FilterMessage({ message: "bad constraint" });
        },
        start: () => Promise.reject(new Error("no licence")),
      }),
    });
    const { instance } = await host.create("filter", underTest(broken as LoadedPlugin["definition"]), {});
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const failure = thrown(() => instance.prepare(makeRequest(), { enforceSoft: true, nodes: [] }));
    expect(isSwarmError(failure) && failure.status).toBe(500);
    expect((failure as Error).message).toBe("filter/acme/broken failed in prepare: cannot read properties of undefined");
    const own = thrown(() => instance.conditions(makeRequest()));
    expect((own as Error).message).toBe("bad constraint");
    expect(blamedPlugin(own)).toBe("filter/acme/broken");
    const rejected = await Promise.resolve(instance.start?.()).catch((err: unknown) => err);
    expect((rejected as Error).message).toBe("filter/acme/broken failed in start: no licence");
  });
});


describe("blame while iterating", () => {
  it("a discovery whose watch fails mid-iteration is named in the error", async () => {
    const host = new PluginHost(silentLogger);
    const flaky = defineDiscovery({
      name: "acme/flaky",
      apiVersion: "^1",
      schemes: ["flaky"],
      create: () => ({
        async *watch() {
          yield { entries: ["10.0.0.1:2375"] };
          throw new Error("store went away");
        },
        register: () => Promise.resolve(),
      }),
    });
    const { instance } = await host.create("discovery", underTest(flaky as LoadedPlugin["definition"]), {});
    const seen: unknown[] = [];
    const failure = await (async () => {
      for await (const update of instance.watch(new AbortController().signal)) seen.push(update);
    })().catch((err: unknown) => err);
    expect(seen).toEqual([{ entries: ["10.0.0.1:2375"] }]);
    expect((failure as Error).message).toBe("discovery/acme/flaky failed in watch: store went away");
    expect(blamedPlugin(failure)).toBe("discovery/acme/flaky");
  });
});
