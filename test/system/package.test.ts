import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { readdir, rm, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  makeTempDir,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  type TestEngines,
} from "@swarm/test-harness";

/** Every package of the installation: core, its optional upload relay, the cluster view, the command, and each built-in plugin. */
const PACKAGES = ["core", "relay", "ui", "cli", ...readdirSync("plugins").map((name) => `plugins/${name}`)];

function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 240_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/**
 * The package an operator installs: `npm pack` of every package, installed from the tarballs in a
 * directory outside this checkout, then that installation's `swarm` runs a manager in front of a
 * real engine.
 */
describe("the installable swarm package", () => {
  let dir: string;
  let bin: string;
  let cluster: TestEngines | undefined;

  beforeAll(async () => {
    dir = await makeTempDir("swt-package-");
    const tarballs = path.join(dir, "tarballs");
    await mkdir(tarballs);
    await run("npm", ["pack", "--silent", "--pack-destination", tarballs, ...PACKAGES.map((p) => path.resolve(p))], process.cwd());
    const app = path.join(dir, "app");
    await mkdir(app);
    await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "try-swarm", private: true }));
    const files = (await readdir(tarballs)).filter((file) => file.endsWith(".tgz")).map((file) => path.join(tarballs, file));
    expect(files).toHaveLength(PACKAGES.length);
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...files], app);
    bin = path.join(app, "node_modules", "swarm", "bin", "swarm.js");
  });

  afterAll(async () => {
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs from its own installation: version, plugins, a manager in front of a real engine, and the cluster view", async () => {
    const version = (await run(process.execPath, [bin, "--version"], dir)).trim();
    expect(version).toMatch(/^swarm version 0\.1\.0 \(([0-9a-f]{12}(-dirty)?|unknown)\)$/);
    expect(version).not.toContain("unknown");
    const plugins = JSON.parse(await run(process.execPath, [bin, "plugins", "--json"], dir)) as Array<{ kind: string; name: string; package: string }>;
    expect(plugins.map((p) => `${p.kind}/${p.name}`)).toEqual(expect.arrayContaining(["backend/swarm", "backend/mesos", "discovery/etcd", "filter/constraint", "strategy/spread"]));

    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    const manager = await startManagerProcess({ bin, discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--ui"], cwd: dir });
    try {
      await waitForHealthyNodes(manager, 1);
      const id = (await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "sleep", "60"])).stdout.trim();
      expect((await docker(manager.dockerHost, ["inspect", "-f", "{{.Node.Name}}", id])).stdout.trim()).toBe("node-1");
      const page = await request(`${manager.url}/ui/`);
      expect(page.statusCode).toBe(200);
      expect(await page.body.text()).toContain("<html");
      const versionAnswer = (await (await request(`${manager.url}/version`)).body.json()) as { Version: string; GitCommit: string };
      expect(versionAnswer.Version).toBe("swarm/0.1.0");
      expect(versionAnswer.GitCommit).toBe(version.slice(version.indexOf("(") + 1, -1));
      await docker(manager.dockerHost, ["rm", "-f", id]);
    } finally {
      await manager.stop();
    }
  });
});
