import { execFile } from "node:child_process";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  waitFor,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

const COMPOSE = "/usr/bin/docker-compose";

/**
 * Both services use `network_mode: none`: the engines run with `--bridge=none`, and with no
 * network mode compose would create a `<project>_default` bridge network on one node, which would
 * tie every container of the project to that node. `none` keeps compose to containers only.
 */
const COMPOSE_FILE = `version: "2.4"
services:
  web:
    image: busybox
    command: sh -c "echo web-up; sleep 600"
    network_mode: none
  worker:
    image: busybox
    command: sh -c "echo worker-up; sleep 600"
    network_mode: none
`;

/**
 * Compose's default: a `<project>_default` bridge network. The manager creates it on one node and
 * pins every container attached to it there, so the services reach each other by name.
 */
const NETWORKED_FILE = `version: "2.4"
services:
  api:
    image: busybox
    command: sh -c "sleep 600"
  db:
    image: busybox
    command: sh -c "sleep 600"
`;

/** docker-compose 1.29 (Python, docker-py) against the manager, as a classic Swarm user ran it. */
describe("docker-compose through the manager", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let dir: string;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const compose = (...args: string[]) => runCompose(["-p", "demo", ...args]);
  const composeNetworked = (...args: string[]) => runCompose(["-p", "netdemo", "-f", "networked.yml", ...args]);
  const runCompose = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {};
      // No inherited DOCKER_*/COMPOSE_* setting may point compose elsewhere.
      for (const [key, value] of Object.entries(process.env)) if (!/^(DOCKER_|COMPOSE_)/.test(key)) env[key] = value;
      execFile(
        COMPOSE,
        args,
        {
          cwd: dir,
          env: { ...env, DOCKER_HOST: manager.dockerHost, DOCKER_CONFIG: path.join(dir, ".docker"), HOME: dir },
          timeout: 60_000,
          killSignal: "SIGKILL",
          encoding: "utf8",
        },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`docker-compose ${args.join(" ")} failed: ${err.message}\n${stderr}`));
          else resolve({ stdout, stderr });
        },
      );
    });
  /** `node/name` of the project's running containers. */
  const running = async () =>
    (await swarm("ps", "--filter", "label=com.docker.compose.project=demo", "--format", "{{.Names}}")).stdout
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .sort();

  beforeAll(async () => {
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "swt-compose-"));
    await fsp.writeFile(path.join(dir, "docker-compose.yml"), COMPOSE_FILE);
    await fsp.writeFile(path.join(dir, "networked.yml"), NETWORKED_FILE);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s"],
    });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    if (manager) {
      await compose("down", "-t", "1").catch(() => undefined);
      await composeNetworked("down", "-t", "1").catch(() => undefined);
    }
    await manager?.stop();
    await cluster?.stopAll();
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it("brings a two-service project up, spread over the nodes, and shows it in ps", async () => {
    const up = await compose("up", "-d");
    expect(up.stderr).toContain("Creating demo_web_1");
    expect(up.stderr).toContain("Creating demo_worker_1");
    const names = await running();
    expect(names).toHaveLength(2);
    // Spread puts the second container on the other node.
    expect(new Set(names.map((n) => n.split("/")[0])).size).toBe(2);
    const ps = await compose("ps");
    expect(ps.stdout).toMatch(/demo_web_1 .* Up/);
    expect(ps.stdout).toMatch(/demo_worker_1 .* Up/);
  });

  it("scales a service up with up --scale and down with scale", async () => {
    await compose("up", "-d", "--scale", "web=3");
    expect((await running()).filter((n) => n.includes("demo_web_"))).toHaveLength(3);
    const ps = await compose("ps", "-q", "web");
    expect(ps.stdout.trim().split("\n")).toHaveLength(3);

    await compose("scale", "-t", "1", "web=1");
    await waitFor({
      what: "compose scale web=1 did not leave one web container",
      timeoutMs: 20_000,
      probe: async () => ((await running()).filter((n) => n.includes("demo_web_")).length === 1 ? true : undefined),
    });
  });

  it("shows every service's logs", async () => {
    const logs = await compose("logs", "--no-color");
    expect(logs.stdout).toMatch(/web_1\s+\| web-up/);
    expect(logs.stdout).toMatch(/worker_1\s+\| worker-up/);
  });

  it("puts a project on its default network on that network's node, where services reach each other by name", async () => {
    const up = await composeNetworked("up", "-d", "--scale", "api=2");
    expect(up.stderr).toContain('Creating network "netdemo_default" with the default driver');
    const networks = (await swarm("network", "ls", "--filter", "name=netdemo_default", "--format", "{{.Name}}")).stdout.trim().split("\n");
    expect(networks).toHaveLength(1);
    const node = networks[0]!.split("/")[0];
    const containers = (await swarm("ps", "--filter", "label=com.docker.compose.project=netdemo", "--format", "{{.Names}}")).stdout.trim().split("\n");
    expect(containers.sort()).toEqual([`${node}/netdemo_api_1`, `${node}/netdemo_api_2`, `${node}/netdemo_db_1`]);
    // The engine's embedded DNS answers service names on the project's network.
    const lookup = await swarm("exec", "netdemo_api_1", "nslookup", "db");
    expect(lookup.stdout).toMatch(/Address: \d+\.\d+\.\d+\.\d+/);

    const down = await composeNetworked("down", "-t", "1");
    expect(down.stderr).toContain("Removing network netdemo_default");
    expect((await swarm("network", "ls", "-q", "--filter", "name=netdemo_default")).stdout.trim()).toBe("");
  });

  it("takes the project down", async () => {
    const down = await compose("down", "-t", "1");
    expect(down.stderr).toContain("Removing demo_web_1");
    expect(down.stderr).toContain("Removing demo_worker_1");
    expect(await running()).toEqual([]);
    const all = await swarm("ps", "-a", "-q", "--filter", "label=com.docker.compose.project=demo");
    expect(all.stdout.trim()).toBe("");
  });
});
