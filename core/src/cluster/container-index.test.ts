import { describe, expect, it } from "vitest";
import type { ContainerInspect } from "../engines/docker-types.js";
import { ContainerIndex, type NodeMatcher } from "./container-index.js";
import { ContainerRecord, type RecordNode } from "./container-record.js";

const node1: RecordNode = { id: "AAAA|10.0.0.1:2375", name: "node-1", ip: "10.0.0.1", rawCpus: 4 };
const node2: RecordNode = { id: "BBBB|10.0.0.2:2375", name: "node-2", ip: "10.0.0.2", rawCpus: 4 };

function inspect(id: string, name: string, overrides: { labels?: Record<string, string>; running?: boolean; paused?: boolean } = {}): ContainerInspect {
  const running = overrides.running ?? true;
  return {
    Id: id,
    Name: `/${name}`,
    Created: "2026-12-01T10:00:00.000000000Z",
    Image: "sha256:busybox",
    Path: "sleep",
    Args: ["600"],
    State: {
      Status: overrides.paused ? "paused" : running ? "running" : "exited",
      Running: running,
      Paused: overrides.paused ?? false,
      Restarting: false,
      ExitCode: running ? 0 : 1,
      StartedAt: "2026-12-01T10:00:01.000000000Z",
      FinishedAt: "0001-01-01T00:00:00Z",
    },
    Config: { Image: "busybox", Labels: overrides.labels ?? {} },
    HostConfig: { NetworkMode: "none", PortBindings: {} },
    NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] }, Networks: { none: { NetworkID: "n0ne" } } },
    Mounts: [],
  };
}

function record(id: string, name: string, node = node1, overrides: Parameters<typeof inspect>[2] = {}): ContainerRecord {
  return ContainerRecord.read(inspect(id, name, overrides), node).record;
}

const nodes: NodeMatcher = (ref) => {
  if (ref === "node-1" || ref === node1.id) return new Set([node1.id]);
  if (ref === "node-2" || ref === node2.id) return new Set([node2.id]);
  return undefined;
};

const hex = (prefix: string) => prefix.padEnd(64, "0");

describe("ContainerIndex", () => {
  it("resolves full IDs, 12-character IDs, names, <node>/<name> and Swarm IDs", () => {
    const index = new ContainerIndex();
    const web = record(hex("abc123"), "web", node1, { labels: { "com.docker.swarm.id": hex("5a1") } });
    index.put(web);
    index.put(record(hex("def456"), "db", node2));
    for (const ref of [web.id, web.id.slice(0, 12), "web", "/web", "node-1/web", `${node1.id}/web`, hex("5a1"), hex("5a1").slice(0, 12)]) {
      expect(index.resolve(ref, nodes), ref).toEqual({ found: web });
    }
    expect(index.resolve("node-2/web", nodes)).toBeUndefined();
    expect(index.resolve("nowhere/web", nodes)).toBeUndefined();
    expect(index.resolve("", nodes)).toBeUndefined();
  });

  it("resolves a unique ID or Swarm ID prefix of any length, and says when a prefix or a name is shared", () => {
    const index = new ContainerIndex();
    const a = record(hex("aa11"), "twin", node1);
    const b = record(hex("aa22"), "twin", node2);
    const c = record(hex("bb33"), "solo", node1, { labels: { "com.docker.swarm.id": hex("cc") } });
    for (const r of [a, b, c]) index.put(r);
    expect(index.resolve("aa1", nodes)).toEqual({ found: a });
    expect(index.resolve("b", nodes)).toEqual({ found: c });
    expect(index.resolve("c", nodes)).toEqual({ found: c });
    expect(index.resolve("aa", nodes)).toMatchObject({ ambiguous: "prefix" });
    const twin = index.resolve("twin", nodes);
    expect(twin).toMatchObject({ ambiguous: "name" });
    expect(twin && "candidates" in twin ? twin.candidates.map((r) => r.id).sort() : []).toEqual([a.id, b.id].sort());
    expect(index.resolve("node-2/twin", nodes)).toEqual({ found: b });
    expect(index.resolve("f", nodes)).toBeUndefined();
  });

  it("prefers an exact name to a prefix, as classic Swarm does", () => {
    const index = new ContainerIndex();
    const named = record(hex("1234"), "abc", node1);
    const prefixed = record(hex("abc9"), "other", node1);
    index.put(named);
    index.put(prefixed);
    expect(index.resolve("abc", nodes)).toEqual({ found: named });
  });

  it("keeps names, Swarm IDs, exec IDs and state counts right as records change and go", () => {
    const index = new ContainerIndex();
    const id = hex("77");
    index.put(record(id, "before", node1, { labels: { "com.docker.swarm.id": hex("99") } }));
    index.addExec(id, "exec-1");
    expect(index.counts()).toEqual({ running: 1, paused: 0, stopped: 0 });
    index.put(record(id, "after", node1, { running: false, labels: { "com.docker.swarm.id": hex("99") } }));
    expect(index.hasName("before")).toBe(false);
    expect(index.hasName("/after")).toBe(true);
    expect(index.findExec("exec-1")?.name).toBe("after");
    expect(index.counts()).toEqual({ running: 0, paused: 0, stopped: 1 });
    index.put(record(hex("78"), "paused", node2, { paused: true }));
    expect(index.counts()).toEqual({ running: 0, paused: 1, stopped: 1 });
    index.remove(id);
    expect(index.size).toBe(1);
    expect(index.hasName("after")).toBe(false);
    expect(index.withSwarmId(hex("99"))).toEqual([]);
    expect(index.findExec("exec-1")).toBeUndefined();
    expect(index.resolve(hex("99").slice(0, 12), nodes)).toBeUndefined();
    expect(index.counts()).toEqual({ running: 0, paused: 1, stopped: 0 });
  });
});

describe("ContainerRecord", () => {
  it("answers docker ps with the engine's row, the node in the name and the port on the node's address", () => {
    const row = JSON.parse(record(hex("ab"), "web").psRow("node-1", true, Date.parse("2026-12-01T10:00:31Z"))) as Record<string, unknown>;
    expect(row).toMatchObject({
      Id: hex("ab"),
      Names: ["/node-1/web"],
      Image: "busybox",
      Command: "sleep 600",
      State: "running",
      Status: "Up 30 seconds",
      Ports: [{ IP: "10.0.0.1", PrivatePort: 80, PublicPort: 8080, Type: "tcp" }],
      HostConfig: { NetworkMode: "none" },
      NetworkSettings: { Networks: { none: { NetworkID: "n0ne" } } },
    });
    expect(JSON.parse(record(hex("ab"), "web").psRow("node-1", false, Date.now())).Status).toBe("Host Down");
  });

  it("gives the inspect document as the API answers it, with published ports on the node's address", () => {
    const { document } = ContainerRecord.read(inspect(hex("ab"), "web"), node1);
    const json = JSON.parse(`${document}}`) as ContainerInspect;
    expect(json.NetworkSettings?.Ports?.["80/tcp"]).toEqual([{ HostIp: "10.0.0.1", HostPort: "8080" }]);
  });

  it("keeps the engine's text when nothing in it is rewritten, and holds it only for a container that may be rescheduled", () => {
    const plain = inspect(hex("ab"), "web");
    plain.NetworkSettings = { Ports: {}, Networks: {} };
    const text = `${JSON.stringify(plain, null, 1)}\n`;
    const read = ContainerRecord.read(JSON.parse(text) as ContainerInspect, node1, text);
    expect(`${read.document}}`).toBe(text.trimEnd());
    expect(read.record.document).toBeUndefined();
    const movable = inspect(hex("cd"), "db", { labels: { "com.docker.swarm.reschedule-policies": '["on-node-failure"]' } });
    expect(ContainerRecord.read(movable, node1).record.document).toContain('"Name":"/db"');
  });

  it("is provisional when made from the manager's own create, named once the engine says how", () => {
    const provisional = ContainerRecord.provisional(hex("cd"), "", { Image: "busybox", Labels: { a: "b" }, HostConfig: { Memory: 64 } }, node1, 0);
    expect(provisional.provisional).toBe(true);
    expect(provisional.view).toMatchObject({ labels: { a: "b" }, memory: 64, state: "created", names: [] });
    expect(provisional.withName("quirky_hopper").view.names).toEqual(["/quirky_hopper"]);
  });
});
