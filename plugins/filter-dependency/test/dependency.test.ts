import { describe, expect, it } from "vitest";
import type { ContainerView, FilterVerdict, HostConfigView, NodeView } from "@swarm/core";
import { makeContainer, makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import dependency, { REASON_MISSING_DEPENDENCY, dependencies, resolvesOn } from "../src/index.js";

const filter = await dependency.create(makePluginContext("dependency", {}));

const B1_ID = `b1${"0".repeat(62)}`;
const B2_ID = `b2${"0".repeat(62)}`;
const node1 = makeNode({ name: "node-1", containers: [makeContainer({ id: B1_ID, name: "b1", state: "exited" })] });
const node2 = makeNode({ name: "node-2", containers: [makeContainer({ id: B2_ID, name: "b2" })] });
const node3 = makeNode({ name: "node-3" });

function judgeAll(hostConfig: HostConfigView, nodes: NodeView[] = [node1, node2, node3]): Record<string, FilterVerdict> | undefined {
  const request = makeRequest({ config: { HostConfig: hostConfig } });
  const prepared = filter.prepare(request, { enforceSoft: true, nodes });
  if (prepared === undefined) return undefined;
  return Object.fromEntries(nodes.map((node) => [node.name, prepared.judge(node)]));
}

const lacks = (condition: string): FilterVerdict => ({ ok: false, code: REASON_MISSING_DEPENDENCY, reason: `node(s) lack dependency ${condition}` });

describe("dependency filter", () => {
  it.each<{ name: string; hostConfig: HostConfigView; kept: string[]; reason?: string }>([
    { name: "--volumes-from", hostConfig: { VolumesFrom: ["b1"] }, kept: ["node-1"], reason: "--volumes-from=b1" },
    { name: "--volumes-from with mode", hostConfig: { VolumesFrom: ["/b1:ro"] }, kept: ["node-1"], reason: "--volumes-from=/b1:ro" },
    { name: "--link with alias", hostConfig: { Links: ["/b2:foo"] }, kept: ["node-2"], reason: "--link=/b2:foo" },
    { name: "--link without alias", hostConfig: { Links: ["b2"] }, kept: ["node-2"], reason: "--link=b2" },
    { name: "--net=container:", hostConfig: { NetworkMode: "container:b1" }, kept: ["node-1"], reason: "--net=container:b1" },
    { name: "by full ID", hostConfig: { Links: [`${B1_ID}:x`] }, kept: ["node-1"] },
    { name: "by short ID", hostConfig: { VolumesFrom: [B1_ID.slice(0, 12)] }, kept: ["node-1"] },
    { name: "by unique ID prefix", hostConfig: { VolumesFrom: ["b2000"] }, kept: ["node-2"] },
    { name: "by <node>/<name>", hostConfig: { Links: ["node-1/b1:db"] }, kept: ["node-1"] },
    { name: "by <node>/<name> on another node", hostConfig: { Links: ["node-2/b1:db"] }, kept: [] },
    { name: "unknown container", hostConfig: { Links: ["nope:db"] }, kept: [], reason: "--link=nope:db" },
    { name: "dependencies split across nodes", hostConfig: { VolumesFrom: ["b1"], Links: ["b2:b2"] }, kept: [] },
  ])("$name keeps $kept", ({ hostConfig, kept, reason }) => {
    const verdicts = judgeAll(hostConfig);
    expect(verdicts).toBeDefined();
    expect(Object.entries(verdicts ?? {}).flatMap(([name, v]) => (v.ok ? [name] : []))).toEqual(kept);
    if (reason !== undefined) expect(verdicts?.["node-3"]).toEqual(lacks(reason));
  });

  it("needs every dependency on the same node and reports the first missing one", () => {
    const both = makeNode({
      name: "both",
      containers: [makeContainer({ id: B1_ID, name: "b1" }), makeContainer({ id: B2_ID, name: "b2" })],
    });
    const verdicts = judgeAll({ VolumesFrom: ["b1"], Links: ["b2:alias"], NetworkMode: "container:b2" }, [node1, node2, both]);
    expect(verdicts).toEqual({ "node-1": lacks("--link=b2:alias"), "node-2": lacks("--volumes-from=b1"), both: { ok: true } });
  });

  it("resolves pending containers by their requested name and Swarm ID", () => {
    const pending = makeContainer({ names: ["/web"], pending: true, labels: { "com.docker.swarm.id": "f".repeat(64) } });
    const node = makeNode({ name: "node-9", containers: [pending] });
    expect(resolvesOn(node, "web")).toBe(true);
    expect(resolvesOn(node, "/web")).toBe(true);
    expect(resolvesOn(node, "f".repeat(12))).toBe(true);
    expect(resolvesOn(node, "node-9/web")).toBe(true);
    expect(resolvesOn(node, `${node.id}/web`)).toBe(true);
    expect(resolvesOn(node, "")).toBe(false);
  });

  it("treats an ambiguous name as missing", () => {
    const twins: ContainerView[] = [makeContainer({ id: "1".repeat(64), names: ["/db"] }), makeContainer({ id: "2".repeat(64), names: ["/db"] })];
    expect(resolvesOn(makeNode({ name: "twins", containers: twins }), "db")).toBe(false);
  });

  it("asks nothing of a request without dependencies", () => {
    expect(judgeAll({})).toBeUndefined();
    expect(judgeAll({ NetworkMode: "bridge", VolumesFrom: [], Links: null })).toBeUndefined();
  });

  it("lists dependencies as classic Swarm does", () => {
    const request = makeRequest({ config: { HostConfig: { VolumesFrom: ["/b1:ro"], Links: ["/b2:foo"], NetworkMode: "container:b3" } } });
    expect(filter.conditions(request)).toEqual(["--volumes-from=/b1:ro", "--link=/b2:foo", "--net=container:b3"]);
    expect(filter.conditions(makeRequest())).toEqual([]);
    expect(dependencies(request.config).map((d) => d.ref)).toEqual(["/b1", "/b2", "b3"]);
  });
});
