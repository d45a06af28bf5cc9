import { describe, expect, it } from "vitest";
import type { ContainerConfig, ContainerView, FilterVerdict, NodeView, PortBinding } from "@swarm/core";
import { makeContainer, makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import port, { REASON_HOST_PORT_IN_USE, REASON_PORT_IN_USE, bindsAllInterfaces } from "../src/index.js";

const filter = await port.create(makePluginContext("port", {}));

function bridgeRequest(bindings: Record<string, PortBinding[]>, extra: ContainerConfig = {}) {
  return makeRequest({ config: { ...extra, HostConfig: { PortBindings: bindings } } });
}

function hostRequest(...exposed: string[]) {
  return makeRequest({
    config: { ExposedPorts: Object.fromEntries(exposed.map((p) => [p, {}])), HostConfig: { NetworkMode: "host" } },
  });
}

/** A container created with `-p <ip>:<hostPort>:<containerPort>`. */
function bound(hostPort: string, hostIp = "", key = "80/tcp", extra: Partial<ContainerView> = {}): ContainerView {
  return makeContainer({ id: "c".repeat(64), name: "web", hostConfig: { PortBindings: { [key]: [{ HostIp: hostIp, HostPort: hostPort }] } }, ...extra });
}

/** The verdict for one node; a filter that skips judging (`undefined`) passes every node. */
function judge(request: ReturnType<typeof makeRequest>, node: NodeView): FilterVerdict {
  return filter.prepare(request, { enforceSoft: true, nodes: [node] })?.judge(node) ?? { ok: true };
}

const inUse = (shown: string): FilterVerdict => ({ ok: false, code: REASON_PORT_IN_USE, reason: `node(s) have port ${shown} in use` });

describe("port filter, bridge mode", () => {
  it.each<{ name: string; request: Record<string, PortBinding[]>; containers: ContainerView[]; verdict: FilterVerdict }>([
    { name: "same host port", request: { "80/tcp": [{ HostPort: "80" }] }, containers: [bound("80")], verdict: inUse("80") },
    { name: "other host port", request: { "80/tcp": [{ HostPort: "81" }] }, containers: [bound("80")], verdict: { ok: true } },
    { name: "protocol is not compared", request: { "80/udp": [{ HostPort: "80" }] }, containers: [bound("80")], verdict: inUse("80") },
    { name: "container port is not compared", request: { "8080/tcp": [{ HostPort: "80" }] }, containers: [bound("80")], verdict: inUse("80") },
    { name: "existing empty HostPort is ignored", request: { "80/tcp": [{ HostPort: "80" }] }, containers: [bound("")], verdict: { ok: true } },
    { name: "same IP", request: { "80/tcp": [{ HostIp: "10.0.0.1", HostPort: "80" }] }, containers: [bound("80", "10.0.0.1")], verdict: inUse("10.0.0.1:80") },
    { name: "different IPs", request: { "80/tcp": [{ HostIp: "10.0.0.1", HostPort: "80" }] }, containers: [bound("80", "10.0.0.2")], verdict: { ok: true } },
    { name: "existing binds all (empty)", request: { "80/tcp": [{ HostIp: "10.0.0.1", HostPort: "80" }] }, containers: [bound("80", "")], verdict: inUse("10.0.0.1:80") },
    { name: "existing binds all (0.0.0.0)", request: { "80/tcp": [{ HostIp: "10.0.0.1", HostPort: "80" }] }, containers: [bound("80", "0.0.0.0")], verdict: inUse("10.0.0.1:80") },
    { name: "existing binds all (::)", request: { "80/tcp": [{ HostIp: "10.0.0.1", HostPort: "80" }] }, containers: [bound("80", "::")], verdict: inUse("10.0.0.1:80") },
    { name: "request binds all (0.0.0.0)", request: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "80" }] }, containers: [bound("80", "10.0.0.2")], verdict: inUse("80") },
    { name: "request binds all (::)", request: { "80/tcp": [{ HostIp: "::", HostPort: "80" }] }, containers: [bound("80", "10.0.0.2")], verdict: inUse("80") },
    { name: "request binds all (no HostIp)", request: { "80/tcp": [{ HostPort: "80" }] }, containers: [bound("80", "10.0.0.2")], verdict: inUse("80") },
    {
      name: "stopped containers keep their ports",
      request: { "80/tcp": [{ HostPort: "80" }] },
      containers: [bound("80", "", "80/tcp", { state: "exited" })],
      verdict: inUse("80"),
    },
    {
      name: "dynamically allocated ports count (NetworkSettings.Ports)",
      request: { "80/tcp": [{ HostPort: "32768" }] },
      containers: [bound("", "", "80/tcp", { ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "32768" }] } })],
      verdict: inUse("32768"),
    },
    {
      name: "pending containers' requested bindings count",
      request: { "80/tcp": [{ HostPort: "80" }] },
      containers: [bound("80", "", "80/tcp", { id: "", pending: true })],
      verdict: inUse("80"),
    },
    {
      name: "a host-network container does not hold bridge ports",
      request: { "80/tcp": [{ HostPort: "80" }] },
      containers: [makeContainer({ id: "h".repeat(64), exposedPorts: { "80/tcp": {} }, hostConfig: { NetworkMode: "host" } })],
      verdict: { ok: true },
    },
    {
      name: "the first conflicting binding is reported",
      request: { "80/tcp": [{ HostPort: "80" }], "443/tcp": [{ HostPort: "443" }] },
      containers: [bound("443", "", "443/tcp")],
      verdict: inUse("443"),
    },
    {
      name: "every binding of a port is checked",
      request: { "80/tcp": [{ HostPort: "8080" }, { HostPort: "8081" }] },
      containers: [bound("8081")],
      verdict: inUse("8081"),
    },
    { name: "no containers", request: { "80/tcp": [{ HostPort: "80" }] }, containers: [], verdict: { ok: true } },
  ])("$name", ({ request, containers, verdict }) => {
    expect(judge(bridgeRequest(request), makeNode({ containers }))).toEqual(verdict);
  });

  it("asks nothing of a request without host ports (`-p 80` included)", () => {
    const node = makeNode({ containers: [bound("80")] });
    expect(filter.prepare(makeRequest(), { enforceSoft: true, nodes: [node] })).toBeUndefined();
    expect(filter.prepare(bridgeRequest({ "80/tcp": [{ HostPort: "" }] }), { enforceSoft: true, nodes: [node] })).toBeUndefined();
    expect(filter.prepare(bridgeRequest({ "80/tcp": [{}] }), { enforceSoft: true, nodes: [node] })).toBeUndefined();
  });

  it("ignores exposed ports outside host mode", () => {
    const request = makeRequest({ config: { ExposedPorts: { "80/tcp": {} } } });
    expect(filter.prepare(request, { enforceSoft: true, nodes: [] })).toBeUndefined();
  });

  it("skips judging when no candidate holds a requested port", () => {
    const request = bridgeRequest({ "80/tcp": [{ HostPort: "18080" }] });
    const nodes = [makeNode({ name: "a", containers: [bound("80")] }), makeNode({ name: "b" })];
    expect(filter.prepare(request, { enforceSoft: true, nodes })).toBeUndefined();
    // A snapshot seen for the first time is indexed before deciding.
    const holder = makeNode({ name: "c", containers: [bound("18080")] });
    expect(filter.prepare(request, { enforceSoft: true, nodes: [...nodes, holder] })?.judge(holder).ok).toBe(false);
    // Holding the port in an older snapshot does not matter once that node's view is rebuilt.
    expect(filter.prepare(request, { enforceSoft: true, nodes: [makeNode({ name: "c" })] })).toBeUndefined();
  });

  it("judges each node on its own", () => {
    const busy = makeNode({ name: "busy", containers: [bound("80")] });
    const free = makeNode({ name: "free", containers: [bound("81")] });
    const prepared = filter.prepare(bridgeRequest({ "80/tcp": [{ HostPort: "80" }] }), { enforceSoft: true, nodes: [busy, free] });
    expect([busy, free, busy].map((n) => prepared?.judge(n).ok)).toEqual([false, true, false]);
  });

  it("lists bindings as classic Swarm does, empty host ports included", () => {
    const request = bridgeRequest({ "80/tcp": [{ HostPort: "80" }], "53/udp": [{ HostPort: "" }, { HostIp: "10.0.0.1", HostPort: "5353" }] });
    expect(filter.conditions(request)).toEqual(["port 80 (Bridge mode)", "port  (Bridge mode)", "port 5353 (Bridge mode)"]);
    expect(filter.conditions(makeRequest())).toEqual([]);
  });
});

describe("port filter, host mode", () => {
  const hostContainer = (exposed: string, extra: Partial<ContainerView> = {}) =>
    makeContainer({ id: "h".repeat(64), exposedPorts: { [exposed]: {} }, hostConfig: { NetworkMode: "host" }, ...extra });

  it.each<{ name: string; exposed: string[]; containers: ContainerView[]; ok: boolean }>([
    { name: "same exposed port on a host container", exposed: ["80/tcp"], containers: [hostContainer("80/tcp")], ok: false },
    { name: "stopped host container", exposed: ["80/tcp"], containers: [hostContainer("80/tcp", { state: "exited" })], ok: false },
    { name: "protocol differs (keys must be identical)", exposed: ["80/tcp"], containers: [hostContainer("80/udp")], ok: true },
    { name: "bridge container exposing the port", exposed: ["80/tcp"], containers: [makeContainer({ exposedPorts: { "80/tcp": {} } })], ok: true },
    { name: "bridge container publishing the port", exposed: ["80/tcp"], containers: [bound("80")], ok: true },
    { name: "pending host containers are not considered", exposed: ["80/tcp"], containers: [hostContainer("80/tcp", { id: "", pending: true })], ok: true },
    { name: "second exposed port conflicts", exposed: ["81/tcp", "80/tcp"], containers: [hostContainer("80/tcp")], ok: false },
  ])("$name → ok=$ok", ({ exposed, containers, ok }) => {
    const verdict = judge(hostRequest(...exposed), makeNode({ containers }));
    expect(verdict).toEqual(ok ? { ok: true } : { ok: false, code: REASON_HOST_PORT_IN_USE, reason: "node(s) have port 80/tcp in use (Host mode)" });
  });

  it("skips judging when no candidate exposes a requested port in host mode", () => {
    const nodes = [makeNode({ containers: [hostContainer("80/tcp")] })];
    expect(filter.prepare(hostRequest("19090/tcp"), { enforceSoft: true, nodes })).toBeUndefined();
    expect(filter.prepare(hostRequest(), { enforceSoft: true, nodes })).toBeUndefined();
    expect(filter.prepare(hostRequest("80/tcp"), { enforceSoft: true, nodes })).toBeDefined();
  });

  it("ignores PortBindings in host mode", () => {
    const request = makeRequest({ config: { HostConfig: { NetworkMode: "host", PortBindings: { "80/tcp": [{ HostPort: "80" }] } } } });
    expect(filter.prepare(request, { enforceSoft: true, nodes: [] })).toBeUndefined();
    expect(filter.conditions(request)).toEqual([]);
  });

  it("lists exposed ports as classic Swarm does", () => {
    expect(filter.conditions(hostRequest("80/tcp", "53/udp"))).toEqual(["port 80/tcp (Host mode)", "port 53/udp (Host mode)"]);
  });
});

describe("bindsAllInterfaces", () => {
  it.each([
    ["", true],
    ["0.0.0.0", true],
    ["::", true],
    ["::0", true],
    ["0:0:0:0:0:0:0:0", true],
    ["127.0.0.1", false],
    ["10.0.0.0", false],
    ["::1", false],
    ["fe80::", false],
  ])("%j → %s", (ip, expected) => {
    expect(bindsAllInterfaces(ip)).toBe(expected);
  });
});
