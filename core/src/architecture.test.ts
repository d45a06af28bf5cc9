import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The layers of core, lowest first. A module may import from its own folder and from lower layers
 * only, so each folder can be read knowing nothing of what sits above it. Files at the top of
 * `core/src` are entry points (the public API, the embedding API) or leaves (constants, version).
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ["util", "errors", "constants", "version"],
  ["extension-points"],
  ["logging"],
  ["config", "kv", "token-service", "engines", "host"],
  ["scheduler"],
  ["cluster"],
  ["monitoring"],
  ["metrics"],
  ["api"],
  ["manager"],
  ["cli", "testing", "index", "embedding"],
];

const root = dirname(fileURLToPath(import.meta.url));

function rankOf(unit: string): number {
  const rank = LAYERS.findIndex((layer) => layer.includes(unit));
  if (rank < 0) throw new Error(`core/src/${unit} is in no layer of architecture.test.ts; add it where it belongs`);
  return rank;
}

/** `cluster` for core/src/cluster/node.ts, `constants` for core/src/constants.ts. */
function unitOf(file: string): string {
  const [first] = relative(root, file).split(sep);
  return first!.replace(/\.(ts|js)$/, "");
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => resolve(dirname(file), m[1]!));
}

describe("core's layers", () => {
  it("no module imports from a layer above its own", () => {
    const upward: string[] = [];
    for (const file of sources(root)) {
      const from = unitOf(file);
      for (const target of relativeImports(file)) {
        const to = unitOf(target);
        if (to !== from && rankOf(to) >= rankOf(from)) upward.push(`${relative(root, file)} imports ${relative(root, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("knows every folder of core/src", () => {
    const units = readdirSync(root).map((name) => name.replace(/\.ts$/, "")).filter((name) => !name.endsWith(".test"));
    for (const unit of units) expect(() => rankOf(unit)).not.toThrow();
  });
});
