import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { resolveManagerSettings } from "../config/settings.js";
import { silentLogger } from "../logging/logger.js";
import { startManager, type Manager } from "../manager/manager.js";
import { engineRoute } from "./metrics.js";

describe("engine routes as metric labels", () => {
  it.each([
    ["POST", "/containers/3f2a/start", "POST /containers/{id}/start"],
    ["GET", "/containers/json", "GET /containers/json"],
    ["POST", "/containers/create", "POST /containers/create"],
    ["GET", "/images/127.0.0.1:5000/team/app:1/json", "GET /images/{name}/json"],
    ["DELETE", "/images/busybox", "DELETE /images/{name}"],
    ["GET", "/distribution/docker.io/library/busybox/json", "GET /distribution/{name}/json"],
    ["POST", "/exec/abc/start", "POST /exec/{id}/start"],
    ["GET", "/info?x=1", "GET /info"],
  ])("%s %s is %s", (method, path, route) => {
    expect(engineRoute(method, path)).toBe(route);
  });
});

describe("the manager's own endpoints", () => {
  let manager: Manager | undefined;
  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
  });
  const get = async (url: string) => {
    const response = await request(url);
    return { status: response.statusCode, type: String(response.headers["content-type"]), text: await response.body.text() };
  };

  it("is alive, says why it is not ready, and shows its metrics on the API and on --metrics-addr", async () => {
    const settings = resolveManagerSettings(
      { discovery: "nodes://127.0.0.1:9", hosts: ["tcp://127.0.0.1:0"], metricsAddr: "127.0.0.1:0" },
      process.cwd(),
    );
    manager = await startManager(settings, silentLogger);
    const base = manager.addresses[0]!.replace("tcp://", "http://");
    expect(await get(`${base}/livez`)).toMatchObject({ status: 200, text: '{"status":"alive"}' });
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, text: '{"message":"not ready: no engine of the cluster is healthy"}' });

    // A failed placement, by reason code.
    const created = await request(`${base}/containers/create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Image: "busybox" }),
    });
    expect(created.statusCode).toBe(500);
    await created.body.dump();

    const metrics = await get(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain("text/plain");
    expect(metrics.text).toContain('swarm_nodes{state="pending"} 1');
    expect(metrics.text).toContain('swarm_scheduling_decisions_total{result="failed"} 1');
    expect(metrics.text).toMatch(/swarm_api_requests_total\{route="\/containers\/create",method="POST",status="500"\} 1/);
    expect(metrics.text).toMatch(/swarm_api_request_duration_seconds_bucket\{le="[^"]+",route="\/readyz",method="GET"\} 1/);
    expect(metrics.text).toContain("swarm_leader 1");
    expect(metrics.text).toMatch(/swarm_process_resident_memory_bytes \d+/);
    // No container ID or query string ever becomes a label.
    expect(metrics.text).not.toMatch(/[0-9a-f]{64}/);

    const separate = await get(manager.metricsUrl!);
    expect(separate.status).toBe(200);
    expect(separate.text).toContain("swarm_nodes{");
    expect((await get(manager.metricsUrl!.replace("/metrics", "/info"))).status).toBe(404);

    const status = JSON.parse((await get(`${base}/swarm/status`)).text) as Record<string, unknown>;
    expect(status).toMatchObject({
      role: "primary",
      primary: null,
      backend: "swarm",
      strategy: "spread",
      nodes: [{ addr: "127.0.0.1:9", state: "pending", containers: { total: 0, running: 0 } }],
      scheduling: { decisions: 1, failures: 1 },
    });
  });

  it("refuses a --metrics-addr that is not host:port", () => {
    expect(() => resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", metricsAddr: "9323" }, process.cwd())).toThrow(
      'invalid --metrics-addr "9323": expected host:port, e.g. 127.0.0.1:9323',
    );
  });
});
