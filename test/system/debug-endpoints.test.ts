import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startManagerProcess, type ManagerProcess } from "@swarm/test-harness";

/** `swarm --debug manage`: V8's CPU profile and heap snapshot where classic Swarm served Go's pprof. */
describe("debug endpoints", () => {
  let debugging: ManagerProcess;
  let plain: ManagerProcess;

  beforeAll(async () => {
    [debugging, plain] = await Promise.all([startManagerProcess({ discovery: "nodes://", globalArgs: ["--debug"] }), startManagerProcess({ discovery: "nodes://" })]);
  });

  afterAll(async () => {
    await Promise.all([debugging?.stop(), plain?.stop()]);
  });

  it("takes a CPU profile over the seconds asked for, one at a time", async () => {
    const startedAt = Date.now();
    const [first, second] = await Promise.all([
      request(`${debugging.url}/debug/pprof/profile?seconds=1`),
      new Promise((resolve) => setTimeout(resolve, 200)).then(() => request(`${debugging.url}/debug/pprof/profile?seconds=1`)),
    ]);
    expect(first.statusCode).toBe(200);
    expect(first.headers["content-disposition"]).toBe('attachment; filename="swarm.cpuprofile"');
    const profile = (await first.body.json()) as { nodes: Array<{ callFrame: { functionName: string } }>; startTime: number; endTime: number };
    expect(profile.nodes.length).toBeGreaterThan(1);
    // V8 counts microseconds.
    expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(1_000_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(second.statusCode).toBe(409);
    expect(await second.body.json()).toEqual({ message: "Could not enable CPU profiling: a CPU profile is already being taken" });
  });

  it("refuses a profile length it cannot use, saying what it takes", async () => {
    const res = await request(`${debugging.url}/debug/pprof/profile?seconds=forever`);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ message: 'seconds must be a whole number from 1 to 600, got "forever"' });
  });

  it("writes a heap snapshot, and lists what it serves", async () => {
    const heap = await request(`${debugging.url}/debug/pprof/heap`);
    expect(heap.statusCode).toBe(200);
    const snapshot = JSON.parse(await heap.body.text()) as { snapshot: { node_count: number } };
    expect(snapshot.snapshot.node_count).toBeGreaterThan(1000);
    const index = await request(`${debugging.url}/debug/pprof`);
    expect(await index.body.text()).toContain("/debug/pprof/profile?seconds=N");
    const cmdline = await request(`${debugging.url}/debug/pprof/cmdline`);
    expect((await cmdline.body.text()).split("\0")).toContain("manage");
  });

  it("serves none of it without --debug", async () => {
    const res = await request(`${plain.url}/debug/pprof/heap`);
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toEqual({ message: "page not found" });
  });
});
