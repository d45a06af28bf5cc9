import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { makeNode, makeRequest } from "../testing/builders.js";
import { silentLogger } from "../logging/logger.js";
import { PluginHost } from "./plugin-host.js";

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
    expect(host.resolveAll("filter")).toContain(created.instance);
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
