import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, spawnManaged, waitFor, type ManagedProcess } from "@swarm/core/testing";

/**
 * `--tlsverify`: the manager serves the Engine API over mutual TLS, as dockerd does, so
 * `docker --tlsverify` works and a client without a certificate from the CA is refused.
 */
describe("swarm manage --tlsverify", () => {
  let dir: string;
  let manager: ManagedProcess | undefined;
  let host: string;

  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swt-tls-"));
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=swarm test CA");
    await writeFile(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    await writeFile(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const [name, subject] of [["server", "/CN=127.0.0.1"], ["client", "/CN=client"]] as const) {
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject);
      openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "1", "-extfile", `${name}.ext`);
    }
    // A second CA the manager does not trust, for the refused client.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=stranger");

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
