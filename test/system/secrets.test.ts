import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { ensureBusyboxImage, startEngines, startManagerProcess, waitForHealthyNodes, type TestEngines, type ManagerProcess } from "@swarm/test-harness";

/**
 * Credentials clients send (X-Registry-Auth on pulls, pushes and creates, Authorization, the
 * X-Registry-Config of builds) must never reach the manager's log, at any level.
 */
describe("secrets in requests stay out of the log", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  const secret = "s3cr3t-registry-password-4711";
  const auth = Buffer.from(JSON.stringify({ username: "alice", password: secret, serveraddress: "127.0.0.1:1" })).toString("base64url");

  beforeAll(async () => {
    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, globalArgs: ["--debug"] });
    await waitForHealthyNodes(manager, 1);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("logs neither X-Registry-Auth, Authorization nor X-Registry-Config, whatever the request does", async () => {
    const headers = { "x-registry-auth": auth, authorization: `Basic ${Buffer.from(`alice:${secret}`).toString("base64")}`, "x-registry-config": auth };
    const calls: Array<[string, string, string | undefined]> = [
      ["POST", "/v1.41/images/create?fromImage=127.0.0.1:1/private/app&tag=1", undefined],
      ["POST", "/v1.41/images/127.0.0.1:1/private/app/push", undefined],
      ["POST", "/v1.41/containers/create", JSON.stringify({ Image: "127.0.0.1:1/private/app:1" })],
      ["POST", "/v1.41/auth", JSON.stringify({ username: "alice", password: secret, serveraddress: "127.0.0.1:1" })],
      ["GET", "/v1.41/distribution/127.0.0.1:1/private/app:1/json", undefined],
      ["POST", "/v1.41/build", undefined],
    ];
    for (const [method, path, body] of calls) {
      const response = await request(`${manager.url}${path}`, {
        method: method as "GET" | "POST",
        headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
        body,
      });
      await response.body.text();
    }
    const log = await readFile(manager.process.logFile, "utf8");
    expect(log.length).toBeGreaterThan(0);
    for (const leak of [secret, auth, Buffer.from(`alice:${secret}`).toString("base64")]) expect(log).not.toContain(leak);
  });
});
