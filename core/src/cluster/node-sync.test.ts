import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { DockerEvent } from "../engines/docker-types.js";
import type { Engine, EngineResponse } from "../engines/engine.js";
import { silentLogger } from "../testing/builders.js";
import { ContainerIndex } from "./container-index.js";
import { InspectCache } from "./inspect-cache.js";
import { Node } from "./node.js";
import { NodeSync } from "./node-sync.js";

/**
 * NodeSync's bookkeeping against a scripted engine: which calls an event or an action costs, and
 * what a refresh may drop. (What real engines do is tested in test/system/engine-calls.test.ts.)
 */
class ScriptedEngine {
  readonly calls: string[] = [];
  /** Container IDs the engine holds, and what their inspect says of their state. */
  readonly containers = new Map<string, string>();
  /** Holds the answer to the next container listing until released. */
  listGate: Promise<void> | undefined;
  private emit: ((event: DockerEvent, line: string) => void) | undefined;
  readonly id = "E|127.0.0.1:1";
  readonly name = "node-1";
  readonly addr = "127.0.0.1:1";
  readonly ip = "127.0.0.1";
  readonly rawCpus = 2;
  readonly labels = {};
  readonly failureCount = 0;
  readonly specsUpdatedAt = Date.now();
  isHealthy(): boolean {
    return true;
  }

  async json<T>(method: string, path: string): Promise<T> {
    this.calls.push(`${method} ${path}`);
    if (path === "/containers/json") {
      const listed = [...this.containers].map(([Id, State]) => ({ Id, State }));
      await this.listGate;
      return listed as T;
    }
    if (path === "/volumes") return { Volumes: [] } as T;
    return [] as T;
  }

  async call(method: string, path: string): Promise<EngineResponse> {
    this.calls.push(`${method} ${path}`);
    const id = decodeURIComponent(path.split("/")[2] ?? "");
    const state = this.containers.get(id);
    const body =
      state === undefined
        ? JSON.stringify({ message: `No such container: ${id}` })
        : JSON.stringify({
            Id: id,
            Name: `/c-${id.slice(0, 4)}`,
            Created: new Date().toISOString(),
            Image: "sha256:busybox",
            State: { Status: state, Running: state === "running", Paused: false, Restarting: false, ExitCode: 0, StartedAt: "", FinishedAt: "" },
            Config: { Image: "busybox", Labels: {} },
            HostConfig: {},
          });
    return { statusCode: state === undefined ? 404 : 200, headers: {}, body: Readable.from([body]) };
  }

  async streamEvents(onEvent: (event: DockerEvent, line: string) => void, signal: AbortSignal): Promise<void> {
    this.emit = onEvent;
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  }

  event(id: string, action: string, type = "container", attributes: Record<string, string> = {}): void {
    const event = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, time: Math.floor(Date.now() / 1000) };
    this.emit?.(event, JSON.stringify(event));
  }

  inspects(): number {
    return this.calls.filter((c) => c.startsWith("GET /containers/") && c.endsWith("/json") && c !== "GET /containers/json").length;
  }
}

async function setUp() {
  const engine = new ScriptedEngine();
  const index = new ContainerIndex();
  const node = new Node(engine as unknown as Engine, index, () => undefined);
  const published: string[] = [];
  // Every reading of the clock is a millisecond later: what happened first is always earlier.
  let clock = Date.now();
  const sync = new NodeSync(node, {
    now: () => ++clock,
    refreshMin: 3_600_000,
    refreshMax: 3_600_000,
    failureRetry: 3,
    documents: new InspectCache(16),
    logger: silentLogger,
    publish: (_node, event) => published.push(`${event.Action}`),
  });
  node.sync = sync;
  await sync.load();
  node.attach();
  return { engine, node, sync, published };
}

const id = (n: number) => String(n).repeat(64).slice(0, 64);
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("NodeSync", () => {
  it("keeps a container created while a refresh was listing, though the listing lacks it", async () => {
    const { engine, node, sync } = await setUp();
    let release!: () => void;
    engine.listGate = new Promise((resolve) => (release = resolve));
    const refreshing = sync.refreshContainers(false);
    // Created through the manager after the engine answered the listing.
    engine.containers.set(id(1), "created");
    sync.beginCreate();
    sync.settleCreate({ id: id(1), name: "late", config: { Image: "busybox" } });
    release();
    await refreshing;
    expect(node.containers.has(id(1))).toBe(true);
    sync.stop();
  });

  it("drops a container the listing lacks that it knew before the listing", async () => {
    const { engine, node, sync } = await setUp();
    engine.containers.set(id(2), "running");
    await sync.reread(id(2));
    engine.containers.delete(id(2));
    await sync.refreshContainers(false);
    expect(node.containers.has(id(2))).toBe(false);
    sync.stop();
  });

  it("reads a container once for a burst of events, and publishes them in order once read", async () => {
    const { engine, sync, published } = await setUp();
    engine.containers.set(id(3), "running");
    await sync.reread(id(3));
    engine.calls.length = 0;
    engine.containers.set(id(3), "exited");
    engine.event(id(3), "kill");
    engine.event(id(3), "die");
    engine.event(id(3), "disconnect", "network", { container: id(3) });
    engine.event(id(3), "stop");
    expect(published).toEqual([]);
    await settle();
    expect(engine.inspects()).toBe(1);
    expect(published).toEqual(["kill", "die", "disconnect", "stop"]);
    sync.stop();
  });

  it("reads nothing more for the events of the manager's own start", async () => {
    const { engine, sync, published } = await setUp();
    engine.containers.set(id(4), "created");
    await sync.reread(id(4));
    engine.calls.length = 0;
    const expectation = sync.expect(id(4), "start");
    engine.containers.set(id(4), "running");
    engine.event(id(4), "connect", "network", { container: id(4) });
    engine.event(id(4), "start");
    await sync.reread(id(4));
    expectation.settle();
    await settle();
    expect(engine.inspects()).toBe(1);
    expect(published).toEqual(["connect", "start"]);
    sync.stop();
  });

  it("takes a create event that comes before its create's answer as the manager's own, and its generated name", async () => {
    const { engine, node, sync, published } = await setUp();
    engine.calls.length = 0;
    sync.beginCreate();
    engine.containers.set(id(5), "created");
    engine.event(id(5), "create", "container", { name: "quirky_hopper" });
    sync.settleCreate({ id: id(5), name: "", config: { Image: "busybox" } });
    await settle();
    expect(engine.inspects()).toBe(0);
    expect(node.containers.get(id(5))?.name).toBe("quirky_hopper");
    expect(published).toEqual(["create"]);
    sync.stop();
  });

  it("ignores the late events of a container it was told is gone", async () => {
    const { engine, node, sync } = await setUp();
    engine.containers.set(id(6), "running");
    await sync.reread(id(6));
    engine.calls.length = 0;
    engine.containers.delete(id(6));
    engine.event(id(6), "destroy");
    engine.event(id(6), "die");
    await settle();
    expect(engine.inspects()).toBe(0);
    expect(node.containers.has(id(6))).toBe(false);
    sync.stop();
  });
});
