import { execFile } from "node:child_process";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startRegistry,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
  type TestRegistry,
} from "@swarm/test-harness";

/**
 * Networks, volumes, disk usage and managed plugins across two real engines through the manager,
 * with the docker CLI (28.2). The engines run with `--bridge=none`: there is no default `bridge`
 * network, but user-defined bridge networks work (iptables is off, so they are not routed).
 */
describe("networks, volumes, system df and plugins across nodes", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let registry: TestRegistry;
  let workDir: string;
  let node1: TestEngine;
  let node2: TestEngine;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const failure = (...args: string[]) =>
    swarm(...args).then(
      () => {
        throw new Error(`docker ${args.join(" ")} succeeded`);
      },
      (err: Error) => err.message,
    );
  const lines = (text: string) => text.trim().split("\n").filter((l) => l !== "");
  const networksOn = async (engine: TestEngine) => lines((await docker(engine, ["network", "ls", "--format", "{{.Name}}"])).stdout);
  const volumesOn = async (engine: TestEngine) => lines((await docker(engine, ["volume", "ls", "--format", "{{.Name}}"])).stdout);

  beforeAll(async () => {
    [cluster, registry] = await Promise.all([startEngines(2), startRegistry()]);
    [node1, node2] = [cluster.engines[0]!, cluster.engines[1]!];
    await ensureBusyboxImage(cluster.engines);
    workDir = await fsp.mkdtemp(path.join(os.tmpdir(), "swt-netvol-"));
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s"],
    });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    await manager?.stop();
    // Bridge interfaces live in the host's network namespace and outlive a stopped dockerd.
    if (cluster) {
      await Promise.all(
        cluster.engines.map(async (engine) => {
          const ids = lines((await docker(engine, ["ps", "-aq"]).catch(() => ({ stdout: "" }))).stdout);
          if (ids.length > 0) await docker(engine, ["rm", "-f", ...ids]).catch(() => undefined);
          await docker(engine, ["network", "prune", "-f"]).catch(() => undefined);
        }),
      );
    }
    await Promise.all([cluster?.stopAll(), registry?.stop()]);
    if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
  });

  describe("networks", () => {
    it("lists every node's networks as <node>/<name>, with node and type filters", async () => {
      const names = lines((await swarm("network", "ls", "--format", "{{.Name}}")).stdout);
      expect(names).toEqual(["node-1/host", "node-1/none", "node-2/host", "node-2/none"]);
      const onNode2 = lines((await swarm("network", "ls", "--filter", "node=node-2", "--format", "{{.Name}}")).stdout);
      expect(onNode2).toEqual(["node-2/host", "node-2/none"]);
      expect(lines((await swarm("network", "ls", "-q", "--filter", "type=custom")).stdout)).toEqual([]);
      expect(await failure("network", "ls", "--filter", "type=other")).toContain("Invalid filter: 'type'='other'");
    });

    it("inspects a node's network by <node>/<name>, and refuses an ambiguous plain name", async () => {
      const inspected = await swarm("network", "inspect", "-f", "{{.Name}} {{.Driver}}", "node-1/host");
      expect(inspected.stdout.trim()).toBe("host host");
      expect(await failure("network", "inspect", "host")).toContain(
        "No such network: host (2 networks have that name: node-1/host, node-2/host; name one as <node>/<name>)",
      );
    });

    it("answers dockerd's 400 for an ID prefix several networks share, and removes none of them", async () => {
      // Seventeen IDs over sixteen hex digits: at least two share their first character.
      const created: string[] = [];
      for (let i = 0; i < 17; i++) {
        created.push((await docker(i % 2 === 0 ? node1 : node2, ["network", "create", `twin-${i}`])).stdout.trim());
      }
      try {
        const everyId = [
          ...lines((await docker(node1, ["network", "ls", "-q", "--no-trunc"])).stdout),
          ...lines((await docker(node2, ["network", "ls", "-q", "--no-trunc"])).stdout),
        ];
        const shared = [...new Set(created.map((id) => id[0]!))].find((c) => created.filter((id) => id.startsWith(c)).length > 1)!;
        const count = everyId.filter((id) => id.startsWith(shared)).length;
        await waitFor({
          what: "the manager did not learn of the networks created on the engines",
          timeoutMs: 10_000,
          probe: async () => (lines((await swarm("network", "ls", "-q")).stdout).length >= everyId.length ? true : undefined),
        });

        const inspected = await request(`${manager.url}/v1.41/networks/${shared}`);
        expect(inspected.statusCode).toBe(400);
        expect(await inspected.body.json()).toEqual({ message: `${count} matches found based on ID prefix: network ${shared} is ambiguous` });
        expect(await failure("network", "rm", shared)).toContain(`network ${shared} is ambiguous (${count} matches found based on ID prefix)`);
        expect(lines((await swarm("network", "ls", "-q", "--no-trunc", "--filter", "name=twin-")).stdout)).toHaveLength(17);
        // A prefix only one of them has still names it.
        const unique = created.find((id) => everyId.filter((other) => other.startsWith(id.slice(0, 12))).length === 1)!;
        expect((await swarm("network", "inspect", "-f", "{{.Id}}", unique.slice(0, 12))).stdout.trim()).toBe(unique);
      } finally {
        await docker(node1, ["network", "rm", ...created.filter((_, i) => i % 2 === 0)]);
        await docker(node2, ["network", "rm", ...created.filter((_, i) => i % 2 === 1)]);
      }
    });

    it("creates on the named node or the best one, defaulting to the engine's bridge driver", async () => {
      await swarm("network", "create", "node-2/front");
      expect(await networksOn(node2)).toContain("front");
      expect(await networksOn(node1)).not.toContain("front");
      const driver = await swarm("network", "inspect", "-f", "{{.Driver}} {{.Scope}}", "front");
      expect(driver.stdout.trim()).toBe("bridge local");

      await swarm("network", "create", "--label", "team=blue", "anywhere");
      const listed = lines((await swarm("network", "ls", "--filter", "label=team=blue", "--format", "{{.Name}}")).stdout);
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatch(/^node-[12]\/anywhere$/);
      const bad = await failure("network", "create", "mars/red");
      expect(bad).toContain("Unable to find a node that satisfies the following conditions");
    });

    it("connects and disconnects a container on its own node, resolving a plain name there", async () => {
      await swarm("network", "create", "node-2/extra");
      await swarm("run", "-d", "--name", "web", "-e", "constraint:node==node-2", "--network", "front", "busybox", "sleep", "300");
      await swarm("network", "connect", "extra", "web");
      const attached = await swarm("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "web");
      expect(attached.stdout.trim().split(" ").sort()).toEqual(["extra", "front"]);
      const members = await swarm("network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "node-2/extra");
      expect(members.stdout.trim()).toBe("web");

      await swarm("network", "disconnect", "extra", "web");
      const after = await swarm("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "web");
      expect(after.stdout.trim()).toBe("front");

      await swarm("network", "create", "node-1/far");
      expect(await failure("network", "connect", "far", "web")).toContain("No such network: far (it is local to node-1; container web runs on node-2)");
      expect(await failure("network", "connect", "extra", "ghost")).toContain("No such container: ghost");
    });

    it("removes by <node>/<name>, refuses networks in use and unknown ones, and prunes every node", async () => {
      await swarm("network", "rm", "node-2/extra");
      expect(await networksOn(node2)).not.toContain("extra");
      expect(await failure("network", "rm", "node-2/front")).toContain("has active endpoints");
      expect(await failure("network", "rm", "nowhere")).toContain("No such network nowhere");

      const pruned = await swarm("network", "prune", "-f");
      expect(pruned.stdout).toContain("node-1/far");
      expect(pruned.stdout).not.toContain("front");
      expect(await networksOn(node1)).not.toContain("far");
      await swarm("rm", "-f", "web");
    });
  });

  describe("volumes", () => {
    it("creates everywhere, or on one node, and lists them as <node>/<name>", async () => {
      await swarm("volume", "create", "shared");
      await swarm("volume", "create", "node-1/only-one");
      expect(await volumesOn(node1)).toEqual(expect.arrayContaining(["shared", "only-one"]));
      expect(await volumesOn(node2)).toEqual(["shared"]);
      const listed = lines((await swarm("volume", "ls", "--format", "{{.Name}}")).stdout).sort();
      expect(listed).toEqual(["node-1/only-one", "node-1/shared", "node-2/shared"]);
      const onNode2 = lines((await swarm("volume", "ls", "-q", "--filter", "node=node-2")).stdout);
      expect(onNode2).toEqual(["node-2/shared"]);
      const byName = lines((await swarm("volume", "ls", "-q", "--filter", "name=only")).stdout);
      expect(byName).toEqual(["node-1/only-one"]);
    });

    it("inspects by <node>/<name> and refuses a plain name held by several nodes", async () => {
      const inspected = await swarm("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "node-1/only-one");
      expect(inspected.stdout.trim()).toBe("only-one local");
      expect((await swarm("volume", "inspect", "-f", "{{.Name}}", "only-one")).stdout.trim()).toBe("only-one");
      expect(await failure("volume", "inspect", "shared")).toContain(
        "No such volume: shared (2 volumes have that name: node-1/shared, node-2/shared; name one as <node>/<name>)",
      );
    });

    it("removes from every node holding it, refuses one in use, and prunes", async () => {
      await swarm("volume", "rm", "shared");
      expect(await volumesOn(node1)).not.toContain("shared");
      expect(await volumesOn(node2)).not.toContain("shared");
      expect(await failure("volume", "rm", "shared")).toContain("No such volume shared");

      await swarm("run", "-d", "--name", "holder", "--network", "none", "-e", "constraint:node==node-1", "-v", "only-one:/data", "busybox", "sleep", "300");
      expect(await failure("volume", "rm", "only-one")).toContain("volume is in use");
      await swarm("rm", "-f", "holder");

      await swarm("volume", "create", "node-2/spare");
      const pruned = await swarm("volume", "prune", "-f");
      expect(pruned.stdout).toContain("node-2/spare");
      expect(pruned.stdout).toContain("node-1/only-one");
      expect(await volumesOn(node2)).not.toContain("spare");
    });
  });

  it("adds up disk usage of every node in docker system df", async () => {
    const total = async (target: string | TestEngine) => {
      const rows = lines((await docker(target, ["system", "df", "--format", "{{.Type}}={{.TotalCount}}"])).stdout);
      return Object.fromEntries(rows.map((row) => row.split("=") as [string, string]).map(([k, v]) => [k, Number(v)]));
    };
    await swarm("run", "-d", "--name", "df-1", "--network", "none", "-e", "constraint:node==node-1", "busybox", "sleep", "300");
    // One at a time: dockerd refuses a second disk usage operation while one runs.
    const cluster1 = await total(manager.dockerHost);
    const one = await total(node1);
    const two = await total(node2);
    expect(cluster1.Images).toBe((one.Images ?? 0) + (two.Images ?? 0));
    expect(cluster1.Containers).toBe((one.Containers ?? 0) + (two.Containers ?? 0));
    expect(cluster1.Containers).toBeGreaterThanOrEqual(1);
    const verbose = await swarm("system", "df", "-v");
    expect(verbose.stdout).toContain("node-1/df-1");
    await swarm("rm", "-f", "df-1");
  });

  describe("managed plugins", () => {
    const plugin = () => `${registry.address}/swarm-test-plugin:1`;

    it("lists none and answers dockerd's 404 for an unknown plugin", async () => {
      expect(lines((await swarm("plugin", "ls", "-q")).stdout)).toEqual([]);
      expect(await failure("plugin", "inspect", "nope")).toContain('plugin "nope" not found');
    });

    it("creates on every node, sets on every node, pushes from one, removes and installs from the registry everywhere", async () => {
      // A plugin is a root filesystem plus config.json; busybox's will do, as it is never enabled.
      const dir = path.join(workDir, "plugin");
      const archive = path.join(workDir, "rootfs.tar");
      await docker(node1, ["create", "--name", "plugin-rootfs", "busybox"]);
      await docker(node1, ["export", "-o", archive, "plugin-rootfs"]);
      await docker(node1, ["rm", "plugin-rootfs"]);
      await fsp.mkdir(path.join(dir, "rootfs"), { recursive: true });
      await promisify(execFile)("tar", ["-xf", archive, "-C", path.join(dir, "rootfs")]);
      await fsp.writeFile(
        path.join(dir, "config.json"),
        JSON.stringify({
          description: "swarm test plugin",
          documentation: "https://example.invalid",
          entrypoint: ["/bin/sleep", "1000"],
          interface: { types: ["docker.volumedriver/1.0"], socket: "test.sock" },
          network: { type: "host" },
          env: [{ name: "DEBUG", settable: ["value"], value: "0" }],
        }),
      );

      await swarm("plugin", "create", plugin(), dir);
      const listed = lines((await swarm("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}")).stdout).sort();
      expect(listed).toEqual([`node-1/${plugin()} false`, `node-2/${plugin()} false`]);

      await swarm("plugin", "set", plugin(), "DEBUG=1");
      for (const engine of [node1, node2]) {
        expect((await docker(engine, ["plugin", "inspect", "-f", "{{.Settings.Env}}", plugin()])).stdout.trim()).toBe("[DEBUG=1]");
      }
      const onNode2 = await swarm("plugin", "inspect", "-f", "{{.Name}}", `node-2/${plugin()}`);
      expect(onNode2.stdout.trim()).toBe(plugin());

      await swarm("plugin", "push", plugin());
      await swarm("plugin", "rm", plugin());
      expect(lines((await swarm("plugin", "ls", "-q")).stdout)).toEqual([]);

      const installed = await swarm("plugin", "install", "--disable", "--grant-all-permissions", plugin());
      expect(installed.stdout).toContain(`Installed plugin ${plugin()}`);
      for (const engine of [node1, node2]) {
        expect(installed.stdout).toContain(`${engine.name}: `);
        expect((await docker(engine, ["plugin", "ls", "--format", "{{.Name}}"])).stdout.trim()).toBe(plugin());
      }
      // A second version in the registry, then every node's copy upgraded to it.
      const next = plugin().replace(/:1$/, ":2");
      // Other content than version 1's: dockerd refuses to ingest a blob it already holds.
      const dir2 = path.join(workDir, "plugin-2");
      await fsp.cp(dir, dir2, { recursive: true, verbatimSymlinks: true });
      await fsp.writeFile(path.join(dir2, "rootfs", "VERSION"), "2\n");
      await swarm("plugin", "create", next, dir2);
      await swarm("plugin", "push", next);
      await swarm("plugin", "rm", next);
      // --skip-remote-check: the CLI would otherwise ask whether to upgrade to another repository tag.
      const upgraded = await swarm("plugin", "upgrade", "--grant-all-permissions", "--skip-remote-check", plugin(), next);
      expect(upgraded.stdout).toContain("node-1: ");
      expect(upgraded.stdout).toContain("node-2: ");
      for (const engine of [node1, node2]) {
        expect((await docker(engine, ["plugin", "inspect", "-f", "{{.PluginReference}}", plugin()])).stdout.trim()).toBe(next);
      }

      // Disabling a disabled plugin fails on each node: the error names both.
      const disabled = await failure("plugin", "disable", plugin());
      expect(disabled).toContain("node-1: ");
      expect(disabled).toContain("node-2: ");
      expect(disabled).toContain("already disabled");
      await swarm("plugin", "rm", "-f", plugin());
      for (const engine of [node1, node2]) expect((await docker(engine, ["plugin", "ls", "-q"])).stdout.trim()).toBe("");
    });

    it("answers dockerd's 400 for an ID prefix that means different plugins, and removes none of them", async () => {
      // Never enabled: a root filesystem of one file is enough.
      const dir = path.join(workDir, "plugin-twins");
      await fsp.mkdir(path.join(dir, "rootfs"), { recursive: true });
      await fsp.writeFile(
        path.join(dir, "config.json"),
        JSON.stringify({
          description: "swarm test plugin twin",
          documentation: "https://example.invalid",
          entrypoint: ["/marker"],
          interface: { types: ["docker.swarmtest/1.0"], socket: "twin.sock" },
          network: { type: "none" },
        }),
      );
      const created: Array<{ engine: TestEngine; name: string; id: string }> = [];
      // Plugin IDs are random: create on alternate nodes until one first character is on both.
      const sharedAcrossNodes = () =>
        created.find((a) => created.some((b) => b.engine !== a.engine && b.id[0] === a.id[0]))?.id[0];
      try {
        while (sharedAcrossNodes() === undefined && created.length < 48) {
          const engine = created.length % 2 === 0 ? node1 : node2;
          const name = `swarm-twin-${created.length}:1`;
          // dockerd refuses to ingest a root filesystem blob it already holds.
          await fsp.writeFile(path.join(dir, "rootfs", "marker"), `${name}\n`);
          await docker(engine, ["plugin", "create", name, dir]);
          created.push({ engine, name, id: (await docker(engine, ["plugin", "inspect", "-f", "{{.Id}}", name])).stdout.trim() });
        }
        const shared = sharedAcrossNodes()!;
        expect(shared).toBeDefined();

        expect(await failure("plugin", "rm", shared)).toContain(`multiple plugins found for "${shared}"`);
        expect(await failure("plugin", "inspect", shared)).toContain(`multiple plugins found for "${shared}"`);
        expect(lines((await swarm("plugin", "ls", "-q")).stdout)).toHaveLength(created.length);
        // Node-qualified, the prefix means one plugin again.
        const one = created.find((p) => p.id[0] === shared && created.filter((q) => q.engine === p.engine && q.id[0] === shared).length === 1);
        if (one) {
          const named = await swarm("plugin", "inspect", "-f", "{{.Name}}", `${one.engine.name}/${shared}`);
          expect(named.stdout.trim()).toBe(one.name);
        }
      } finally {
        for (const { engine, name } of created) await docker(engine, ["plugin", "rm", name]).catch(() => undefined);
      }
    });

    it("enables and disables a plugin on every node, and refuses to remove an enabled one", async () => {
      // dockerd enables a plugin once something accepts connections on its socket: a static
      // listener is the whole root filesystem. Its interface type is one dockerd never calls.
      const dir = path.join(workDir, "plugin-enable");
      await fsp.mkdir(path.join(dir, "rootfs", "run", "docker", "plugins"), { recursive: true });
      const source = fileURLToPath(new URL("../fixtures/plugin-listener.c", import.meta.url));
      await promisify(execFile)("cc", ["-static", "-O2", "-o", path.join(dir, "rootfs", "plugin-listener"), source]).catch((err: Error) => {
        throw new Error(`compiling ${source} needs a C compiler and static libc (Debian: gcc, libc6-dev): ${err.message}`);
      });
      await fsp.writeFile(
        path.join(dir, "config.json"),
        JSON.stringify({
          description: "swarm test plugin that listens",
          documentation: "https://example.invalid",
          entrypoint: ["/plugin-listener", "/run/docker/plugins/swarm.sock"],
          interface: { types: ["docker.swarmtest/1.0"], socket: "swarm.sock" },
          network: { type: "none" },
        }),
      );
      const name = "swarm-listener:1";
      const states = async () => lines((await swarm("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}")).stdout).sort();
      await swarm("plugin", "create", name, dir);
      expect(await states()).toEqual([`node-1/${name} false`, `node-2/${name} false`]);

      await swarm("plugin", "enable", name);
      expect(await states()).toEqual([`node-1/${name} true`, `node-2/${name} true`]);
      for (const engine of [node1, node2]) {
        expect((await docker(engine, ["plugin", "inspect", "-f", "{{.Enabled}}", name])).stdout.trim()).toBe("true");
      }
      const removal = await failure("plugin", "rm", name);
      expect(removal).toContain("is enabled");

      await swarm("plugin", "disable", name);
      expect(await states()).toEqual([`node-1/${name} false`, `node-2/${name} false`]);
      await swarm("plugin", "rm", name);
      expect(lines((await swarm("plugin", "ls", "-q")).stdout)).toEqual([]);
    });
  });
});
