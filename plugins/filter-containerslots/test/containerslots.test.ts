import { describe, expect, it } from "vitest";
import type { ContainerView } from "@swarm/core";
import { makeContainer, makeNode, makePluginContext, makeRequest } from "@swarm/core/testing";
import containerslots, { REASON_NO_SLOTS, slotLimit } from "../src/index.js";

const filter = await containerslots.create(makePluginContext("containerslots", {}));

const containers = (count: number, extra: Partial<ContainerView> = {}) =>
  Array.from({ length: count }, (_, i) => makeContainer({ id: `${i}`.repeat(64).slice(0, 64), name: `c${i}`, ...extra }));

describe("containerslots filter", () => {
  it.each<{ label: string | undefined; count: number; ok: boolean }>([
    { label: undefined, count: 50, ok: true },
    { label: "2", count: 0, ok: true },
    { label: "2", count: 1, ok: true },
    { label: "2", count: 2, ok: false },
    { label: "2", count: 3, ok: false },
    { label: "+2", count: 2, ok: false },
    { label: "002", count: 1, ok: true },
    { label: "0", count: 0, ok: false },
    { label: "-1", count: 0, ok: false },
    // Anything Go's strconv.Atoi rejects means "no limit".
    { label: "foo", count: 50, ok: true },
    { label: "", count: 50, ok: true },
    { label: "2.5", count: 50, ok: true },
    { label: " 2", count: 50, ok: true },
    { label: "2 ", count: 50, ok: true },
    { label: "0x2", count: 50, ok: true },
    { label: "1e1", count: 50, ok: true },
    { label: "99999999999999999999", count: 50, ok: true },
  ])("containerslots=$label with $count containers → ok=$ok", ({ label, count, ok }) => {
    const node = makeNode({ labels: label === undefined ? {} : { containerslots: label }, containers: containers(count) });
    const verdict = filter.prepare(makeRequest(), { enforceSoft: true, nodes: [node] })?.judge(node) ?? { ok: true };
    expect(verdict.ok).toBe(ok);
  });

  it("counts pending and stopped containers", () => {
    const node = makeNode({
      labels: { containerslots: "2" },
      containers: [makeContainer({ id: "a".repeat(64), name: "old", state: "exited" }), makeContainer({ name: "new", pending: true })],
    });
    const verdict = filter.prepare(makeRequest(), { enforceSoft: true, nodes: [node] })?.judge(node);
    expect(verdict).toEqual({ ok: false, code: REASON_NO_SLOTS, reason: "node(s) have no container slots left (2/2)" });
  });

  it("asks nothing when no candidate has a limit", () => {
    const nodes = [makeNode({ name: "a", containers: containers(3) }), makeNode({ name: "b" })];
    expect(filter.prepare(makeRequest(), { enforceSoft: true, nodes })).toBeUndefined();
  });

  it("judges every node once any candidate has a limit", () => {
    const full = makeNode({ name: "full", labels: { containerslots: "1" }, containers: containers(1) });
    const free = makeNode({ name: "free", containers: containers(5) });
    const prepared = filter.prepare(makeRequest(), { enforceSoft: false, nodes: [full, free] });
    expect([full, free].map((n) => prepared?.judge(n).ok)).toEqual([false, true]);
  });

  it("reads the limit the way Atoi does", () => {
    expect(slotLimit(makeNode({ labels: { containerslots: "-3" } }))).toBe(-3);
    expect(slotLimit(makeNode({ labels: { containerslots: "x" } }))).toBeUndefined();
    expect(slotLimit(makeNode())).toBeUndefined();
  });

  it("always lists its condition, as classic Swarm does", () => {
    expect(filter.conditions(makeRequest())).toEqual(["available container slots"]);
    expect(filter.conditions(makeRequest({ env: ["constraint:node==node-9"] }))).toEqual(["available container slots"]);
    expect(filter.classicMessage).toBeUndefined();
  });
});
