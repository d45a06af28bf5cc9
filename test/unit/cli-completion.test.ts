import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SWARM = path.resolve("core/bin/swarm.js");

/** What bash offers after the words typed, with the script `swarm completion bash` prints sourced. */
function complete(words: readonly string[]): Promise<string[]> {
  const script = `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(SWARM)} completion bash)
COMP_WORDS=(${words.map((word) => JSON.stringify(word)).join(" ")}); COMP_CWORD=${words.length - 1}; _swarm; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", script], { encoding: "utf8" }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.split("\n").filter((line) => line !== "")),
    );
  });
}

describe("bash completion", () => {
  it("completes commands, their aliases and their flags, and global flags", async () => {
    expect(await complete(["swarm", "ma"])).toEqual(["manage"]);
    expect(await complete(["swarm", "--debug", "pl"])).toEqual(["plugins"]);
    expect(await complete(["swarm", "manage", "--str"])).toEqual(["--strategy"]);
    expect(await complete(["swarm", "m", "--tlsv"])).toEqual(["--tlsverify"]);
    expect(await complete(["swarm", "config", "ch"])).toEqual(["check"]);
    expect(await complete(["swarm", "join", "--log-f"])).toEqual(["--log-format"]);
  });

  it("refuses a shell it has no script for", async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [SWARM, "completion", "fish"], { encoding: "utf8" }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr })),
    );
    expect(result).toEqual({ code: 1, stderr: "completion for fish is not available; only bash is\n" });
  });
});
