import { execFile } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";

/** The README's "Writing a plugin" walk-through, followed step by step in an empty directory by scripts/plugin-guide.mjs. */
describe("the plugin authoring guide", () => {
  it("goes from an empty directory to a packed plugin with passing tests, as written", async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = execFile(process.execPath, ["scripts/plugin-guide.mjs"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: stripVTControlCharacters(`${stdout}${stderr}`) }),
      );
      child.stdin?.end();
    });
    expect(output).toMatch(/Tests\s+.*3 passed/);
    expect(output).toContain("filter     acme/maintenance");
    expect(output).toMatch(/plugin guide: all \d+ steps passed/);
    expect(code).toBe(0);
  }, 320_000);
});
