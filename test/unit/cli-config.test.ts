import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Value } from "typebox/value";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SwarmConfigSchema } from "@swarm/core/host";

const SWARM = path.resolve("core/bin/swarm.js");

function swarm(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SWARM, ...args], { cwd, encoding: "utf8" }, (err, stdout) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout }));
  });
}

/** `swarm config check` and the config's JSON Schema. */
describe("swarm config check", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts a valid config", async () => {
    const result = await swarm(["config", "check", path.resolve("examples/configs/static.swarm.config.json")], dir);
    expect(result).toMatchObject({ code: 0, stdout: `${path.resolve("examples/configs/static.swarm.config.json")}: OK\n` });
  });

  it("lists every problem of the file's shape with its path", async () => {
    const file = path.join(dir, "shape.json");
    await writeFile(file, JSON.stringify({ strategy: 3, filters: "health", colour: "blue" }));
    const result = await swarm(["config", "check", file], dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/: 3 problems\n/);
    expect(result.stdout).toMatch(/\n {2}\/strategy: /);
    expect(result.stdout).toMatch(/\n {2}\/filters: /);
    expect(result.stdout).toMatch(/\n {2}\/: .*colour/);
  });

  it("lists every plugin, name and option problem with its path", async () => {
    const file = path.join(dir, "plugins.json");
    await writeFile(
      file,
      JSON.stringify({
        discovery: "foo://bar",
        strategy: "fastest",
        filters: ["health", "gpu"],
        pluginOptions: { random: { seed: "x" }, nobody: {} },
        clusterOptions: { "swarm.createretry": "-1" },
      }),
    );
    const result = await swarm(["config", "check", file], dir);
    expect(result.code).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toBe(`${file}: 6 problems`);
    expect(result.stdout).toMatch(/\n {2}pluginOptions\.random: strategy\/random options are invalid:\n {4}.*seed/);
    expect(result.stdout).toContain("  (settings): swarm.createretry can not be negative, -1 is invalid");
    expect(result.stdout).toContain("  strategy: no strategy named fastest is loaded (loaded: binpack, random, spread)");
    expect(result.stdout).toContain("  filters[1]: no filter named gpu is loaded (loaded: ");
    expect(result.stdout).toContain("  discovery: discovery service not supported: foo://");
    expect(result.stdout).toContain("  pluginOptions.nobody: no plugin named nobody is loaded");
  });

  it("publishes the config's JSON Schema, which a config names in $schema", async () => {
    const published = JSON.parse(await readFile("core/dist/swarm.config.schema.json", "utf8")) as Record<string, unknown>;
    expect(published.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(published).toMatchObject({ type: "object", additionalProperties: false });
    expect(Object.keys(published.properties as object).sort()).toEqual(Object.keys(SwarmConfigSchema.properties).sort());
    expect(Value.Check(SwarmConfigSchema, { $schema: "./node_modules/@swarm/core/dist/swarm.config.schema.json", strategy: "binpack" })).toBe(true);
  });
});
