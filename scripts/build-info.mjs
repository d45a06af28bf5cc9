// Writes core/dist/build-info.json: the commit the compiled code comes from, for `swarm --version`
// and the API's /version. Outside a git checkout (a source tarball) the commit is "unknown".
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { URL, fileURLToPath } from "node:url";

let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  if (dirty !== "") commit += "-dirty";
} catch {
  // Not a checkout, or no git: the version alone names the build.
}
writeFileSync(fileURLToPath(new URL("../core/dist/build-info.json", import.meta.url)), `${JSON.stringify({ commit })}\n`);
