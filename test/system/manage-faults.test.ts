import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  freePort,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  waitFor,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/** What happens when engines are missing, die mid-stream, or come and go in a discovery file. */
describe("swarm manage when engines fail", () => {
  let cluster: TestEngines;
  const managers: ManagerProcess[] = [];
  let dir: string;

  beforeAll(async () => {
    cluster = await startEngines(2, { labels: (i) => ({ slot: String(i + 1) }) });
    await ensureBusyboxImage(cluster.engines);
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-faults-"));
  });

  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const start = async (discovery: string) => {
    const manager = await startManagerProcess({
      discovery,
      args: ["--heartbeat", "1s", "--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s", "--engine-failure-retry", "2"],
    });
    managers.push(manager);
    return manager;
  };

  it("lists an unreachable engine as Pending with its error and serves the rest", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const manager = await start(`nodes://${cluster.engines[0]!.host},${dead}`);
    const info = await waitFor({
      what: "info did not show the live engine healthy and the dead one pending",
      timeoutMs: 20_000,
      probe: async () => {
        const text = (await docker(manager.dockerHost, ["info"])).stdout;
        return /Status: Healthy/.test(text) && /Status: Pending/.test(text) ? text : undefined;
      },
    });
    expect(info).toContain("Nodes: 2");
    expect(info).toContain(`(unknown): ${dead}`);
    expect(info).toMatch(new RegExp(`└ Error: .*${dead.replace(".", "\\.")}`));
    const id = (await docker(manager.dockerHost, ["run", "-d", "--network", "none", "busybox", "true"])).stdout.trim();
    expect((await docker(manager.dockerHost, ["inspect", "-f", "{{.Node.Name}}", id])).stdout.trim()).toBe("node-1");
  });

  it("ends a client's follow stream cleanly when the engine dies mid-way", async () => {
    const engine = cluster.engines[1]!;
    const manager = await start(`nodes://${engine.host}`);
    await waitFor({
      what: "the engine did not become healthy",
      timeoutMs: 20_000,
      probe: async () => (/Status: Healthy/.test((await docker(manager.dockerHost, ["info"])).stdout) ? true : undefined),
    });
    await docker(manager.dockerHost, ["run", "-d", "--network", "none", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done"]);
    const follower = spawn("docker", ["-H", manager.dockerHost, "logs", "-f", "ticker"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    follower.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => follower.once("exit", (code) => resolve(code)));
    try {
      await waitFor({ what: "no log line arrived", timeoutMs: 10_000, probe: async () => (output.includes("tick") ? true : undefined) });
      await engine.kill();
      const code = await Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 15_000))]);
      expect(code).not.toBe("hung");
    } finally {
      if (follower.exitCode === null) follower.kill("SIGKILL");
      await engine.start();
    }
  });

  it("follows a discovery file: waits for it, adds its engines, drops removed lines", async () => {
    const file = path.join(dir, "cluster");
    const manager = await start(`file://${file}`);
    expect((await docker(manager.dockerHost, ["info"])).stdout).toContain("Nodes: 0");
    await writeFile(file, `# two engines\n${cluster.engines[0]!.host}\n${cluster.engines[1]!.host} # second\n`);
    await waitForHealthyNodes(manager, 2);
    await writeFile(file, `${cluster.engines[1]!.host}\n`);
    await waitFor({
      what: "the engine removed from the file was still listed",
      timeoutMs: 30_000,
      probe: async () => {
        const text = (await docker(manager.dockerHost, ["info"])).stdout;
        return text.includes("Nodes: 1") && !text.includes(cluster.engines[0]!.host) ? true : undefined;
      },
    });
  });

  /** `swarm manage -H 127.0.0.1:0 <args…>` expected to refuse to start: its exit code and stderr. */
  const refusedManage = (...args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.resolve("core/bin/swarm.js"), "manage", "-H", "127.0.0.1:0", ...args], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("exit", (code) => resolve({ code, stderr }));
    });

  it("keeps answering creates while an engine dies, shows its containers as Host Down, and agrees with it again once it is back", async () => {
    const manager = await start(`nodes://${cluster.engines.map((e) => e.host).join(",")}`);
    await waitForHealthyNodes(manager, 2);
    const swarm = (...args: string[]) => docker(manager.dockerHost, args);
    const victim = cluster.engines[1]!;
    for (let i = 0; i < 2; i++) {
      await swarm("run", "-d", "--network", "none", "--name", `doomed-${i}`, "-e", `constraint:node==${victim.name}`, "busybox", "sleep", "600");
    }
    // Creates keep coming while the engine dies: each is answered, placed or refused with a reason.
    const answers: string[] = [];
    let creating = true;
    const creator = (async () => {
      for (let i = 0; creating; i++) {
        const result = await swarm("create", "--network", "none", "busybox", "true").catch((err: unknown) => ({ stdout: "", stderr: String(err), code: 1 }));
        answers.push(result.stdout.trim() !== "" ? "created" : (result.stderr.trim().split("\n").pop() ?? ""));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await victim.kill();
    const downRows = await waitFor({
      what: `the containers of ${victim.name} were not shown as Host Down`,
      timeoutMs: 30_000,
      probe: async () => {
        const rows = (await swarm("ps", "-a", "--filter", "name=doomed", "--format", "{{.Names}} {{.Status}}")).stdout.trim().split("\n");
        return rows.length === 2 && rows.every((row) => row.endsWith("Host Down")) ? rows : undefined;
      },
    });
    expect(downRows.map((row) => row.split(" ")[0]).sort()).toEqual([`${victim.name}/doomed-0`, `${victim.name}/doomed-1`]);
    creating = false;
    await creator;
    expect(answers.length).toBeGreaterThan(0);
    for (const answer of answers) expect(answer === "created" || /Error response from daemon: ./.test(answer)).toBe(true);
    // Once the engine is known to be down, creates go to the engine that is left.
    const placed = (await swarm("run", "-d", "--network", "none", "busybox", "true")).stdout.trim();
    expect((await swarm("inspect", "-f", "{{.Node.Name}}", placed)).stdout.trim()).toBe(cluster.engines[0]!.name);
    // Back: the manager's view of every container is the engines' own again.
    await victim.start();
    await waitForHealthyNodes(manager, 2, 60_000);
    await waitFor({
      what: "the manager's containers did not match the engines' after the engine came back",
      timeoutMs: 30_000,
      probe: async () => {
        const managed = new Set((await swarm("ps", "-aq", "--no-trunc")).stdout.split("\n").filter((line) => line !== ""));
        const held = new Set<string>();
        for (const engine of cluster.engines) {
          for (const id of (await docker(engine, ["ps", "-aq", "--no-trunc"])).stdout.split("\n")) if (id !== "") held.add(id);
        }
        return managed.size === held.size && [...held].every((id) => managed.has(id)) ? true : undefined;
      },
    });
    await swarm("rm", "-f", "doomed-0", "doomed-1");
  });

  it("refuses an unknown discovery scheme with the supported ones", async () => {
    const result = await refusedManage("foo://bar");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("discovery service not supported: foo://");
    expect(result.stderr).toMatch(/supported: .*etcd:\/\/.*nodes:\/\//);
  });

  it("refuses replication over a discovery without a store to elect a primary in", async () => {
    const result = await refusedManage("--replication", "--advertise", "127.0.0.1:4000", "nodes://127.0.0.1:2375");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Leader election is only supported with consul, etcd and zookeeper discovery.");
  });
});
