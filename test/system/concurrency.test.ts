import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pool } from "undici";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * Many clients creating, starting, inspecting and removing containers at once against real
 * engines, while the manager refreshes every second: every container a create answered for must
 * stay known to the manager until it is removed, and none may be left behind.
 */
describe("concurrent create/start/inspect/rm through the manager", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;

  beforeAll(async () => {
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "1s"],
    });
    await waitForHealthyNodes(manager, 2);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("loses no container it created, and leaves none behind", async () => {
    const pool = new Pool(manager.url, { connections: 32 });
    const failures: string[] = [];
    const call = async (method: "GET" | "POST" | "DELETE", path: string, body?: object) => {
      const response = await pool.request({
        method,
        path,
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.body.text();
      return { status: response.statusCode, text };
    };
    const loop = async (client: number) => {
      for (let round = 0; round < 4; round++) {
        const created = await call("POST", "/v1.41/containers/create", {
          Image: "busybox",
          Cmd: ["sleep", "300"],
          HostConfig: { NetworkMode: "none" },
        });
        if (created.status !== 201) {
          failures.push(`client ${client} create: ${created.status} ${created.text}`);
          continue;
        }
        const id = (JSON.parse(created.text) as { Id: string }).Id;
        for (const [method, path, expected] of [
          ["POST", `/v1.41/containers/${id}/start`, 204],
          ["GET", `/v1.41/containers/${id}/json`, 200],
          ["DELETE", `/v1.41/containers/${id}?force=1`, 204],
        ] as const) {
          const answer = await call(method, path);
          if (answer.status !== expected) failures.push(`client ${client} ${method} ${path}: ${answer.status} ${answer.text}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 30 }, (_, client) => loop(client)));
    await pool.close();
    expect(failures).toEqual([]);
    // Nothing listed by the manager, nothing left on any engine.
    const listed = await docker(manager.dockerHost, ["ps", "-aq"]);
    expect(listed.stdout.trim()).toBe("");
    for (const engine of cluster.engines) {
      const left = await docker(engine, ["ps", "-aq"]);
      expect(left.stdout.trim()).toBe("");
    }
  });
});
