import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SWARM = path.resolve("core/bin/swarm.js");

function swarm(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SWARM, ...args], { cwd, encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

interface Row {
  kind: string;
  name: string;
  package: string;
  version: string;
  inUse: boolean;
  options: Record<string, unknown>;
}

/** `swarm plugins`: what a config would load, read without starting anything. */
describe("swarm plugins", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-plugins-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the built-ins and a third party's plugins with their options, defaults applied, and what is in use", async () => {
    await writeFile(
      path.join(dir, "swarm.config.json"),
      JSON.stringify({
        plugins: [path.resolve("examples/acme-plugins/dist/maintenance.js")],
        filters: ["health", "acme/maintenance"],
        strategy: "binpacking",
        backend: "mesos-experimental",
        clusterOptions: { "mesos.tasktimeout": "10s" },
      }),
    );
    const result = await swarm(["plugins", "--json"], dir);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Row[];
    const row = (kind: string, name: string) => rows.find((r) => r.kind === kind && r.name === name);
    expect(row("backend", "mesos")).toMatchObject({
      package: "@swarm/mesos",
      version: "0.1.0",
      inUse: true,
      options: { "mesos.tasktimeout": "10s", "mesos.offertimeout": "30s", "mesos.checkpointfailover": "false" },
    });
    expect(row("backend", "swarm")).toMatchObject({ inUse: false, options: { "swarm.overcommit": "0.05", "swarm.createretry": "0" } });
    expect(row("strategy", "binpack")?.inUse).toBe(true);
    expect(row("strategy", "spread")?.inUse).toBe(false);
    expect(row("filter", "acme/maintenance")).toMatchObject({ inUse: true, version: "0.1.0" });
    expect(row("filter", "port")?.inUse).toBe(false);
  });

  it("prints a table, and exits 1 when a plugin in use has invalid options", async () => {
    await writeFile(path.join(dir, "swarm.config.json"), JSON.stringify({ clusterOptions: { "mesos.user": "root" } }));
    const result = await swarm(["plugins"], dir);
    expect(result.code).toBe(1);
    expect(result.stdout.split("\n")[0]).toMatch(/^KIND +NAME +PACKAGE +VERSION +IN USE +OPTIONS$/);
    expect(result.stdout).toMatch(/backend +swarm +@swarm\/core\/native-backend +0\.1\.0 +yes +invalid: --cluster-opt mesos\.user: not an option of the swarm cluster driver/);
  });
});
