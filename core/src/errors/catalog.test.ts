import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CATALOG,
  SwarmError,
  definePluginErrors,
  errors,
  fillEntry,
  isErrorBuilders,
  isSwarmError,
  placeholdersOf,
  renderErrorCatalog,
  screamingSnake,
  type ErrorBuilder,
  type ErrorTableSection,
} from "./catalog.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));

/** Each built-in plugin's table (`plugins/<name>/src/errors.ts`), as `npm run docs:errors` finds them in dist. */
async function pluginSections(): Promise<ErrorTableSection[]> {
  const sections: ErrorTableSection[] = [];
  for (const dir of readdirSync(join(repo, "plugins")).sort()) {
    const file = join(repo, "plugins", dir, "src", "errors.ts");
    if (!existsSync(file)) continue;
    const { name } = JSON.parse(readFileSync(join(repo, "plugins", dir, "package.json"), "utf8")) as { name: string };
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const tables = Object.values(module).filter(isErrorBuilders);
    sections.push({ title: name, source: `plugins/${dir}/src/errors.ts`, errors: Object.assign({}, ...tables) as Record<string, ErrorBuilder> });
  }
  return sections;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** A SwarmError made outside a builder: the constructor called directly. */
const BYPASS = /new SwarmError\(/g;

describe("the error catalog", () => {
  it("is what docs/errors.md says (npm run docs:errors writes it)", async () => {
    const written = readFileSync(join(repo, "docs", "errors.md"), "utf8");
    expect(written, "docs/errors.md is out of date: run npm run docs:errors").toBe(renderErrorCatalog(await pluginSections()));
  });

  it("is the only way errors are made: no source builds a SwarmError but through a builder", () => {
    const found: Record<string, number> = {};
    for (const file of [...sources(join(repo, "core", "src")), ...readdirSync(join(repo, "plugins")).flatMap((dir) => sources(join(repo, "plugins", dir, "src")))]) {
      const path = relative(repo, file).split("\\").join("/");
      if (path.startsWith("core/src/errors/")) continue;
      const count = readFileSync(file, "utf8").match(BYPASS)?.length ?? 0;
      if (count > 0) found[path] = count;
    }
    expect(found, "throw through a builder of `errors` (or the plugin's own table) instead").toEqual({});
  });

  it("gives every entry, core's and each plugin's, a code of its own that follows its key", async () => {
    const tables: Array<[string, Readonly<Record<string, ErrorBuilder>>]> = [
      ["", errors],
      ...(await pluginSections()).map((section): [string, Readonly<Record<string, ErrorBuilder>>] => [section.title.replace(/^@swarm\//, ""), section.errors]),
    ];
    const codes = tables.flatMap(([, table]) => Object.values(table).map((builder) => builder.code));
    expect(new Set(codes).size).toBe(codes.length);
    for (const [plugin, table] of tables) {
      for (const [key, builder] of Object.entries(table)) {
        const prefix = plugin === "" ? "SWARM_ERR_" : `SWARM_ERR_${screamingSnake(plugin)}_`;
        expect(builder.code).toBe(`${prefix}${screamingSnake(key)}`);
        expect(builder.status).toBeGreaterThanOrEqual(300);
        expect(builder.status).toBeLessThan(600);
        expect(builder.when.length, `${key} says when it is answered`).toBeGreaterThan(10);
        expect(builder.when, `${key}'s when is one line`).not.toContain("\n");
      }
    }
  });

  it("spells core's codes as the builders carry them", () => {
    for (const [key, entry] of Object.entries(CATALOG)) expect(errors[key as keyof typeof errors].code).toBe(entry.code);
  });

  it("fills every placeholder of every template, and only those", async () => {
    const builders = [errors, ...(await pluginSections()).map((section) => section.errors)].flatMap((table) => Object.values(table));
    for (const builder of builders) {
      const names = placeholdersOf(builder.template);
      const params = Object.fromEntries(names.map((name) => [name, `<${name}>`]));
      const error = (builder as unknown as (params: Record<string, string>) => SwarmError)(params);
      let expected: string = builder.template;
      for (const name of names) expected = expected.replaceAll(`{${name}}`, `<${name}>`);
      expect(error.message).toBe(expected);
      for (const name of names) expect(error.message).not.toContain(`{${name}}`);
      expect(error).toMatchObject({ code: builder.code, status: builder.status, template: builder.template });
    }
  });

  it("builds the message from the template with the values in it, and nothing else", () => {
    const error = errors.NameInUse({ name: "web" });
    expect(error.message).toBe(
      "Conflict: The name web is already assigned. You have to delete (or rename) that container to be able to assign web to a container again.",
    );
    expect(error).toMatchObject({ code: "SWARM_ERR_NAME_IN_USE", status: 409, template: CATALOG.NameInUse.message });
    expect(error).toBeInstanceOf(SwarmError);
    // A value that looks like a placeholder is text, not another template.
    expect(errors.NoSuchContainer({ ref: "{ref}" }).message).toBe("No such container: {ref}");
    // Braces around anything but a name are the message's own text.
    expect(errors.FilterNotJson({ filter: "x" }).message).toBe(`invalid filter 'x': filters must be JSON such as {"label":["a=b"]}`);
    expect(errors.PageNotFound().message).toBe("page not found");
  });

  it("checks a builder's values at compile time", () => {
    // @ts-expect-error a template's placeholder needs its value
    expect(errors.NoSuchContainer({}).message).toBe("No such container: {ref}");
    // @ts-expect-error and a value needs a placeholder
    expect(errors.NoSuchContainer({ ref: "a", extra: 1 }).message).toBe("No such container: a");
    const plugin = definePluginErrors("acme-gpu", { NoGpu: { status: 503, message: "no GPU on {node}", when: "the node has no GPU left" } });
    // @ts-expect-error plugin templates are read the same way
    expect(plugin.NoGpu().message).toBe("no GPU on {node}");
  });

  it("takes the cause, a status passed on, and lines for people", () => {
    const cause = new Error("ECONNRESET");
    const error = errors.EngineAnswered({ message: "conflict" }, { cause, status: 409, detail: "on node-1" });
    expect(error).toMatchObject({ status: 409, message: "conflict\non node-1", detail: "on node-1", cause });
    expect(fillEntry("NoNodesAvailable")).toEqual({
      code: "SWARM_ERR_NO_NODES_AVAILABLE",
      status: 500,
      template: "No nodes available in the cluster",
      message: "No nodes available in the cluster",
    });
  });

  it("gives a plugin's errors codes under its own name", () => {
    const plugin = definePluginErrors("acme-gpu", { NoGpu: { status: 503, message: "no GPU on {node}", when: "the node has no GPU left" } });
    expect(plugin.NoGpu({ node: "n1" })).toMatchObject({ code: "SWARM_ERR_ACME_GPU_NO_GPU", status: 503, message: "no GPU on n1" });
    expect(isSwarmError(plugin.NoGpu({ node: "n1" }), plugin.NoGpu)).toBe(true);
    expect(Object.isFrozen(plugin)).toBe(true);
  });

  it("is matched by code, so a copy of core bundled by a plugin agrees", () => {
    const fromAnotherCopy = { code: "SWARM_ERR_NAME_IN_USE", status: 409, message: "from another copy" };
    expect(isSwarmError(fromAnotherCopy)).toBe(true);
    expect(isSwarmError(fromAnotherCopy, "NameInUse")).toBe(true);
    expect(isSwarmError(fromAnotherCopy, ["NoNodesAvailable", errors.NameInUse])).toBe(true);
    expect(isSwarmError(fromAnotherCopy, "NoSuchContainer")).toBe(false);
    expect(isSwarmError(new Error("plain"))).toBe(false);
  });
});
