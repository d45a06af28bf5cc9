import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, createHash } from "node:crypto";
import { Etcd3 } from "etcd3";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  freePort,
  spawnManaged,
  startEngines,
  startEtcd,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type ManagedProcess,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA (`ca.pem`) in `dir`, and for each name `<name>-cert.pem` and `<name>-key.pem` it signed with those extensions. */
async function issueCertificates(dir: string, certificates: ReadonlyArray<readonly [name: string, extensions: string]>): Promise<void> {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=swarm test CA");
  for (const [name, extensions] of certificates) {
    await writeFile(path.join(dir, `${name}.ext`), `${extensions}\n`);
    openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "1", "-extfile", `${name}.ext`);
  }
}

/**
 * `--tlsverify`: the manager serves the Engine API over mutual TLS, as dockerd does, so
 * `docker --tlsverify` works and a client without a certificate from the CA is refused.
 */
describe("swarm manage --tlsverify", () => {
  let dir: string;
  let manager: ManagedProcess | undefined;
  let host: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-tls-"));
    await issueCertificates(dir, [
      ["server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
      ["client", "extendedKeyUsage=clientAuth"],
    ]);
    // A second CA the manager does not trust, for the refused client.
    openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=stranger");

    const port = await freePort();
    host = `127.0.0.1:${port}`;
    manager = await spawnManaged({
      name: "swarm manage --tlsverify",
      command: process.execPath,
      args: [
        path.resolve("core/bin/swarm.js"),
        "manage",
        "-H",
        `tcp://${host}`,
        "--tlsverify",
        "--tlscacert",
        path.join(dir, "ca.pem"),
        "--tlscert",
        path.join(dir, "server-cert.pem"),
        "--tlskey",
        path.join(dir, "server-key.pem"),
        "nodes://",
      ],
      logFile: path.join(dir, "manager.log"),
    });
    await waitFor({
      what: `the TLS manager did not answer on ${host}`,
      timeoutMs: 30_000,
      process: manager,
      probe: async () => (dockerWith(["--tlscacert", "ca.pem", "--tlscert", "client-cert.pem", "--tlskey", "client-key.pem"]).status === 0 ? true : undefined),
    });
  });

  afterAll(async () => {
    await manager?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dockerWith(tlsArgs: string[]) {
    return spawnSync("docker", ["-H", `tcp://${host}`, "--tlsverify", ...tlsArgs, "version", "--format", "{{.Server.Version}}"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, DOCKER_CONFIG: dir },
    });
  }

  it("serves a client holding a certificate from its CA", () => {
    const result = dockerWith(["--tlscacert", "ca.pem", "--tlscert", "client-cert.pem", "--tlskey", "client-key.pem"]);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^swarm\/\d+\.\d+\.\d+$/);
  });

  it("refuses a client whose certificate another CA signed", () => {
    const result = dockerWith(["--tlscacert", "ca.pem", "--tlscert", "cert.pem", "--tlskey", "key.pem"]);
    expect(result.status).not.toBe(0);
  });

  it("refuses --tlsverify without a CA, with classic Swarm's message", () => {
    const result = spawnSync(process.execPath, [path.resolve("core/bin/swarm.js"), "manage", "--tlsverify", "--tlscert", "c", "--tlskey", "k", "nodes://"], {
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("--tlscacert must be provided when using --tlsverify");
  });
});

/**
 * Engines that serve only mutual TLS (`dockerd --tlsverify`): the manager reaches them with its own
 * certificate (classic Swarm used the `--tlscert` it serves with), on every path it has to an
 * engine: its pool (info, create, logs), streamed uploads (cp) and hijacked streams (exec).
 */
describe("swarm manage --tlsverify in front of TLS engines", () => {
  let dir: string;
  let cluster: TestEngines;
  let manager: ManagerProcess;

  const swarmOn = (target: ManagerProcess, ...args: string[]) => {
    const result = spawnSync(
      "docker",
      ["-H", target.dockerHost, "--tlsverify", "--tlscacert", "ca.pem", "--tlscert", "client-cert.pem", "--tlskey", "client-key.pem", ...args],
      { cwd: dir, encoding: "utf8", env: { ...process.env, DOCKER_CONFIG: dir }, timeout: 60_000 },
    );
    if (result.status !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout.trim();
  };
  const swarm = (...args: string[]) => swarmOn(manager, ...args);
  const managerTls = () => ["--tlsverify", "--tlscacert", path.join(dir, "ca.pem"), "--tlscert", path.join(dir, "manager-cert.pem"), "--tlskey", path.join(dir, "manager-key.pem")];
  const clientTls = () => ({ ca: path.join(dir, "ca.pem"), cert: path.join(dir, "client-cert.pem"), key: path.join(dir, "client-key.pem") });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-tls-engines-"));
    await issueCertificates(dir, [
      // The manager's certificate serves the CLI and identifies the manager to the engines.
      ["manager", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"],
      ["engine", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
      ["client", "extendedKeyUsage=clientAuth"],
    ]);
    cluster = await startEngines(2, {
      tls: { caCert: path.join(dir, "ca.pem"), cert: path.join(dir, "engine-cert.pem"), key: path.join(dir, "engine-key.pem") },
    });
    await ensureBusyboxImage(cluster.engines.map((engine) => engine.socketPath));
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: managerTls(),
      tls: clientTls(),
      // At the most talkative level: the key must not reach the log even then.
      globalArgs: ["--log-level", "debug"],
    });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("schedules, streams logs, copies both ways, execs and attaches over TLS on both sides", async () => {
    expect(swarm("info", "--format", "{{.Containers}}")).toBe("0");
    swarm("run", "-d", "--network", "none", "--name", "secure", "busybox", "sh", "-c", "echo over-tls; sleep 600");
    expect(swarm("logs", "secure")).toBe("over-tls");
    const data = randomBytes(2 * 1024 * 1024);
    await writeFile(path.join(dir, "payload.bin"), data);
    swarm("cp", path.join(dir, "payload.bin"), "secure:/tmp/payload.bin");
    expect(swarm("exec", "secure", "sha256sum", "/tmp/payload.bin").split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    const node = swarm("inspect", "-f", "{{.Node.Name}}", "secure");
    const direct = await docker(cluster.engines.find((e) => e.name === node)!.socketPath, ["inspect", "-f", "{{.Name}}", "secure"]);
    expect(direct.stdout.trim()).toBe("/secure");
    swarm("cp", "secure:/tmp/payload.bin", path.join(dir, "back.bin"));
    expect(createHash("sha256").update(await readFile(path.join(dir, "back.bin"))).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    // Attached output over both TLS hops, after the CLI half-closes its side.
    expect(swarm("run", "--rm", "--network", "none", "busybox", "echo", "attached")).toBe("attached");
    swarm("rm", "-f", "secure");
    // Whatever was logged at debug level on the way, no line of the manager's TLS key is in it.
    const log = await readFile(manager.process.logFile, "utf8");
    expect(log).toContain('"level":"debug"');
    const keyLines = (await readFile(path.join(dir, "manager-key.pem"), "utf8")).split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"));
    expect(keyLines.length).toBeGreaterThan(3);
    for (const line of keyLines) expect(log).not.toContain(line);
    expect(log).not.toContain("PRIVATE KEY");
  });

  it("relays a replica's requests to a TLS primary with the manager's own certificate", async () => {
    const store = await startEtcd();
    const replicated: ManagerProcess[] = [];
    try {
      // The engines registered as `swarm join` would have: keys under the prefix's node directory.
      const etcd = new Etcd3({ hosts: store.url });
      for (const engine of cluster.engines) await etcd.put(`tls/docker/swarm/nodes/${engine.host}`).value(engine.host);
      etcd.close();
      const role = async (target: ManagerProcess) => {
        const res = await request(`${target.url}/info`, { dispatcher: target.dispatcher });
        const status = ((await res.body.json()) as { SystemStatus?: Array<[string, string]> }).SystemStatus ?? [];
        return status.filter(([key]) => key === "Role" || key === "Primary").map(([key, value]) => `${key}: ${value}`).join(", ");
      };
      for (const expected of ["Role: primary", "Role: replica, Primary: "]) {
        const started = await startManagerProcess({ discovery: `etcd://${store.endpoint}/tls`, args: managerTls(), tls: clientTls(), replication: { ttl: "6s" } });
        replicated.push(started);
        const wanted = expected.endsWith(": ") ? `${expected}${replicated[0]!.host}` : expected;
        await waitFor({
          what: `${started.host} did not report "${wanted}"`,
          timeoutMs: 30_000,
          process: started.process,
          probe: async () => ((await role(started)) === wanted ? true : undefined),
        });
      }
      const [primary, replica] = replicated as [ManagerProcess, ManagerProcess];
      await waitForHealthyNodes(primary, 2);
      // Plain requests (create, start, wait) and the hijacked attach, both over TLS to the primary.
      expect(swarmOn(replica, "run", "--rm", "--network", "none", "busybox", "echo", "through-the-tls-replica")).toBe("through-the-tls-replica");
      expect(swarmOn(replica, "info", "--format", "{{range .SystemStatus}}{{index . 0}}={{index . 1}};{{end}}")).toContain(`Primary=${primary.host}`);
    } finally {
      for (const started of replicated) await started.stop();
      await store.dispose();
    }
  });
});

/**
 * `--tls` without `--tlsverify`, as classic Swarm had it towards engines: the connection is
 * encrypted and the manager presents its certificate, but an engine's own certificate is not
 * checked, so engines with self-signed certificates join. `--tlsverify` checks it.
 */
describe("swarm manage --tls in front of engines with self-signed certificates", () => {
  let dir: string;
  let cluster: TestEngines;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-tls-selfsigned-"));
    // The CA signs the manager's certificate, which the engines require of their clients.
    await issueCertificates(dir, [["manager", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"]]);
    // The engine's own certificate: signed by nobody the manager knows.
    openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "engine-key.pem", "-out", "engine-cert.pem", "-days", "1", "-subj", "/CN=engine", "-addext", "subjectAltName=IP:127.0.0.1");
    cluster = await startEngines(1, {
      tls: { caCert: path.join(dir, "ca.pem"), cert: path.join(dir, "engine-cert.pem"), key: path.join(dir, "engine-key.pem") },
    });
  });

  afterAll(async () => {
    await cluster?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const statusOf = async (manager: ManagerProcess) => {
    const response = await request(`${manager.url}/info`, { dispatcher: manager.dispatcher });
    const lines = ((await response.body.json()) as { SystemStatus?: Array<[string, string]> }).SystemStatus ?? [];
    return Object.fromEntries(lines.filter(([key]) => key === "  └ Status" || key === "  └ Error"));
  };

  it("joins them over TLS with --tls, and refuses them with --tlsverify", async () => {
    const cert = ["--tlscert", path.join(dir, "manager-cert.pem"), "--tlskey", path.join(dir, "manager-key.pem")];
    const kit = { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "manager-cert.pem"), key: path.join(dir, "manager-key.pem") };
    const lenient = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--tls", ...cert], tls: kit });
    try {
      await waitForHealthyNodes(lenient, 1);
    } finally {
      await lenient.stop();
    }
    const strict = await startManagerProcess({
      discovery: `nodes://${cluster.engines[0]!.host}`,
      args: ["--tlsverify", "--tlscacert", path.join(dir, "ca.pem"), ...cert],
      tls: kit,
    });
    try {
      const status = await waitFor({
        what: "the manager did not report the engine's certificate",
        timeoutMs: 30_000,
        probe: async () => {
          const now = await statusOf(strict);
          return now["  └ Error"] ? now : undefined;
        },
      });
      expect(status["  └ Status"]).toBe("Pending");
      expect(status["  └ Error"]).toMatch(/certificate/i);
    } finally {
      await strict.stop();
    }
  });
});
