import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

function read<T>(file: string): T | undefined {
  try {
    return load(file) as T;
  } catch {
    return undefined;
  }
}

/** The version of the installed `@swarm/core` package: one place to change it, its package.json. */
export const VERSION: string = read<{ version?: string }>("../package.json")?.version ?? "0.0.0";

/**
 * The commit this copy was built from, written next to the compiled code by the build
 * (scripts/build-info.mjs); `unknown` when it was built outside a git checkout, or not at all.
 */
export const GIT_COMMIT: string = read<{ commit?: string }>("./build-info.json")?.commit ?? "unknown";
