import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, ensureBusyboxImage, startEngines, startManagerProcess, waitForHealthyNodes, type TestEngines, type ManagerProcess } from "@swarm/test-harness";

/**
 * The example third-party package (examples/acme-plugins) named in a config file, loaded by the
 * loader the built-ins go through, scheduling `docker run` on real engines.
 */
describe("a third party's plugins from a config file", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let dir: string;
  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const nodeOf = async (id: string) => (await swarm("inspect", "-f", "{{.Node.Name}}", id)).stdout.trim();

  beforeAll(async () => {
    cluster = await startEngines(3, { labels: (i): Record<string, string> => (i === 1 ? { maintenance: "true" } : {}) });
    await ensureBusyboxImage(cluster.engines);
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-third-party-"));
    await writeFile(
      path.join(dir, "swarm.config.json"),
      JSON.stringify({
        plugins: ["@acme/swarm-plugins/maintenance", "@acme/swarm-plugins/least-recent"],
        filters: ["health", "acme/maintenance", "constraint"],
        strategy: "acme/least-recent",
      }),
    );
    manager = await startManagerProcess({ cwd: dir, discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}` });
    await waitForHealthyNodes(manager, 3);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps containers off the engine in maintenance and sends each to the engine that received one least recently", async () => {
    expect((await swarm("info")).stdout).toMatch(/Strategy: acme\/least-recent\n[\s\S]*Filters: health, acme\/maintenance, constraint\n/);
    const placed: string[] = [];
    for (let i = 0; i < 4; i++) placed.push(await nodeOf((await swarm("run", "-d", "--network", "none", "busybox", "sleep", "600")).stdout.trim()));
    expect(placed).toEqual(["node-1", "node-3", "node-1", "node-3"]);
    // Opting in: the engine in maintenance has received nothing yet, so it is first.
    const optedIn = (await swarm("run", "-d", "--network", "none", "-e", "maintenance:ok", "busybox", "sleep", "600")).stdout.trim();
    expect(await nodeOf(optedIn)).toBe("node-2");
    const refused = await swarm("run", "-d", "--network", "none", "-e", "constraint:node==node-2", "busybox", "true").then(
      () => "placed",
      (err: Error) => err.message,
    );
    expect(refused).toContain("1 node(s) are in maintenance");
  });
});
