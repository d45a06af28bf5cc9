import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@swarm/core/host";

const run = (command: string, args: readonly string[]) =>
  new Promise<{ code: number; output: string }>((resolve) => {
    execFile(command, args, { encoding: "utf8" }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}${stderr}` }));
  });

/** What an operator installs: the systemd unit and the example config in deploy/. */
describe("deploy/", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-deploy-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("has a systemd unit that systemd-analyze verify accepts", async () => {
    expect(existsSync("/usr/bin/systemd-analyze")).toBe(true);
    // The unit runs the installed CLI (/usr/local/bin/swarm), which is not installed here: verify
    // a copy that runs this checkout's CLI instead; everything else is checked as shipped.
    const unit = await readFile("deploy/swarm.service", "utf8");
    expect(unit).toContain("ExecStart=/usr/local/bin/swarm --log-format json manage --config /etc/swarm/swarm.config.json");
    const copy = path.join(dir, "swarm.service");
    await writeFile(copy, unit.replaceAll("/usr/local/bin/swarm", path.resolve("core/bin/swarm.js")));
    const verified = await run("systemd-analyze", ["verify", "--man=no", copy]);
    expect(verified.output).toBe("");
    expect(verified.code).toBe(0);
  });

  it("has an example config that the manager accepts", async () => {
    const loaded = await loadConfig({ explicitFile: "deploy/swarm.config.json" });
    expect(loaded.config).toMatchObject({ metricsAddr: "127.0.0.1:9323", logFormat: "json", tlsVerify: true });
    const plugins = await run(process.execPath, ["core/bin/swarm.js", "plugins", "--config", "deploy/swarm.config.json", "--json"]);
    expect(plugins.code).toBe(0);
    const inUse = (JSON.parse(plugins.output) as Array<{ kind: string; name: string; inUse: boolean }>).filter((p) => p.inUse).map((p) => `${p.kind}/${p.name}`);
    expect(inUse).toEqual(expect.arrayContaining(["backend/swarm", "discovery/etcd", "strategy/spread"]));
  });
});
