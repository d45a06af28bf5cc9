import path from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Logger } from "../extension-points/plugin.js";
import { resolveManagerSettings } from "../config/settings.js";
import { isLoopback, startManager, type Manager } from "./manager.js";

function capturingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => void lines.push(message),
    error: () => undefined,
    child: () => logger,
  };
  return logger;
}

describe("the manager's listeners", () => {
  let manager: Manager | undefined;
  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["10.0.0.5", false],
    ["::", false],
  ])("%s is loopback: %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it("warns when it listens beyond this machine without --tlsverify, and not on loopback", async () => {
    const warnings: string[] = [];
    const settings = resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", hosts: ["tcp://0.0.0.0:0", "tcp://127.0.0.1:0"] }, process.cwd());
    manager = await startManager(settings, capturingLogger(warnings));
    const open = warnings.filter((w) => w.includes("without --tlsverify"));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatch(/^Listening on tcp:\/\/0\.0\.0\.0:\d+ without --tlsverify: anyone who can reach this address controls every engine/);
  });

  it("serves the API on every address it is given", async () => {
    const settings = resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", hosts: ["tcp://127.0.0.1:0", "tcp://127.0.0.1:0"] }, process.cwd());
    manager = await startManager(settings, capturingLogger([]));
    expect(manager.addresses).toHaveLength(2);
    for (const address of manager.addresses) {
      const response = await request(`${address.replace("tcp://", "http://")}/_ping`);
      expect(await response.body.text()).toBe("OK");
    }
  });
});

describe("the cluster backend", () => {
  const start = (config: Parameters<typeof resolveManagerSettings>[0]) =>
    startManager(resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", hosts: ["tcp://127.0.0.1:0"], ...config }, path.dirname(fileURLToPath(import.meta.url))), capturingLogger([]));

  it("refuses a driver no plugin provides, naming the ones loaded", async () => {
    await expect(start({ clusterDriver: "kubernetes" })).rejects.toThrow('unsupported cluster "kubernetes" (valid: mesos, swarm)');
  });

  it("refuses a --cluster-opt the driver does not declare, listing the ones it does", async () => {
    await expect(start({ clusterOptions: { "mesos.user": "root" } })).rejects.toThrow(
      "--cluster-opt mesos.user: not an option of the swarm cluster driver (its options are swarm.overcommit, swarm.createretry)",
    );
  });

  it("is chosen by the config file's backend key, under an alias, with options from the environment", async () => {
    process.env.SWARM_MESOS_TASK_TIMEOUT = "soon";
    try {
      await expect(start({ backend: "mesos-experimental", discovery: "127.0.0.1:9" })).rejects.toThrow(
        /backend\/mesos: create failed: invalid mesos.tasktimeout "soon"/,
      );
    } finally {
      delete process.env.SWARM_MESOS_TASK_TIMEOUT;
    }
  });

  it("loads a third party's backend from a config's plugins, with its options from --cluster-opt or its variable", async () => {
    process.env.ACME_FIXED_ENGINES = "127.0.0.1:9";
    const manager = await start({ plugins: ["./fixtures/fixed-backend.mjs"], clusterDriver: "acme/fixed", discovery: "anything" });
    try {
      const address = manager.addresses[0]!.replace("tcp://", "http://");
      const info = (await (await request(`${address}/info`)).body.json()) as { SystemStatus: Array<[string, string]> };
      expect(info.SystemStatus).toEqual(
        expect.arrayContaining([
          ["Backend", "acme/fixed"],
          ["Fixed engines", "127.0.0.1:9"],
          ["Creates", "0"],
          ["Target", "anything"],
        ]),
      );
      // Its engines are the state's: the unreachable one is listed, pending.
      expect(manager.cluster.allNodes().map((node) => node.addr)).toEqual(["127.0.0.1:9"]);
    } finally {
      delete process.env.ACME_FIXED_ENGINES;
      await manager.stop();
    }
  });

  it("names itself in docker info", async () => {
    const manager = await start({});
    try {
      const address = manager.addresses[0]!.replace("tcp://", "http://");
      const info = (await (await request(`${address}/info`)).body.json()) as { SystemStatus: Array<[string, string]> };
      expect(info.SystemStatus).toContainEqual(["Backend", "swarm"]);
    } finally {
      await manager.stop();
    }
  });
});
