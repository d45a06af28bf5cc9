#!/usr/bin/env node
// Follows the README's "Writing a plugin" walk-through in a fresh directory outside this checkout:
// every ```sh block is run and every block marked `file=<path>` is written, in the README's order.
// The one substitution: `npm install` gets this checkout's packages (`@swarm/core`, `swarm`, the
// built-in plugins they bring) from `npm pack` instead of a registry. Exits non-zero at the first step that fails.
//
//   node scripts/plugin-guide.mjs [--keep]     (run `npm run build` first)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const keep = process.argv.includes("--keep");

/** The section's fenced blocks, in order: `{ lang, file?, body }`. */
function guideSteps(readme) {
  const start = readme.indexOf("\n## Writing a plugin\n");
  if (start < 0) throw new Error('README.md has no "## Writing a plugin" section');
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps = [];
  for (const match of section.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const [, lang, info, body] = match;
    const file = /\bfile=(\S+)/.exec(info)?.[1];
    if (file) steps.push({ lang, file, body });
    else if (lang === "sh") steps.push({ lang, body });
  }
  return steps;
}

/** Every publishable package of this checkout, packed: core, its relay, the cluster view, `swarm` and the built-in plugins. */
function packAll(into) {
  mkdirSync(into);
  const packages = ["core", "relay", "ui", "cli", ...readdirSync(path.join(repo, "plugins")).map((name) => `plugins/${name}`)];
  execFileSync("npm", ["pack", "--silent", "--pack-destination", into, ...packages.map((p) => path.join(repo, p))], {
    cwd: repo,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const names = packages.map((p) => JSON.parse(readFileSync(path.join(repo, p, "package.json"), "utf8")).name);
  return { names, tarballs: readdirSync(into).map((file) => path.join(into, file)) };
}

/** An `npm install` line with this checkout's packages named: those names become the tarballs, all of them (they depend on each other). */
function fromTarballs(script, { names, tarballs }) {
  return script.replace(/^npm install\b.*$/gm, (line) => {
    const words = line.split(/\s+/);
    const kept = words.filter((word) => !names.includes(word));
    return kept.length === words.length ? line : [...kept, ...tarballs].join(" ");
  });
}

const readme = readFileSync(path.join(repo, "README.md"), "utf8");
const steps = guideSteps(readme);
if (!steps.some((s) => s.lang === "sh") || !steps.some((s) => s.file)) throw new Error("the guide has no commands or no files to follow");

const work = mkdtempSync(path.join(tmpdir(), "swarm-plugin-guide-"));
let failed = false;
try {
  const packed = packAll(path.join(work, "tarballs"));
  const home = path.join(work, "home");
  mkdirSync(home);
  let cwd = home;
  for (const [index, step] of steps.entries()) {
    const label = `step ${index + 1}/${steps.length}`;
    if (step.file) {
      const target = path.join(cwd, step.file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, step.body);
      console.log(`${label}: wrote ${step.file}`);
      continue;
    }
    const script = fromTarballs(step.body, packed);
    console.log(`${label}: ${step.body.trim().split("\n").join("\n    ")}`);
    // Each block runs in the directory the previous one ended in, as a reader's shell would.
    const result = spawnSync("bash", ["-euo", "pipefail", "-c", `${script}\npwd > "${path.join(work, "cwd")}"`], {
      cwd,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" },
    });
    if (result.status !== 0) throw new Error(`${label} exited with ${result.status ?? result.signal}`);
    cwd = readFileSync(path.join(work, "cwd"), "utf8").trim();
  }
  console.log(`plugin guide: all ${steps.length} steps passed in ${work}`);
} catch (err) {
  failed = true;
  console.error(`plugin guide: ${err instanceof Error ? err.message : String(err)} (in ${work})`);
} finally {
  if (!keep && !failed) rmSync(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
