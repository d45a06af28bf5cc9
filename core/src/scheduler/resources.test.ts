import { describe, expect, it } from "vitest";
import { makeNode, makeRequest } from "../testing/builders.js";
import { formatBytes, weighResources } from "./resources.js";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe("classic resource weighing", () => {
  it("adds CPU and memory scores and the health term with integer division", () => {
    const request = makeRequest({ config: { HostConfig: { CpuShares: 2, Memory: GiB } } });
    const node = makeNode({ totalCpus: 8, usedCpus: 1, totalMemory: 4 * GiB, usedMemory: GiB, healthIndicator: 70 });
    expect(weighResources(request, node, -10)).toEqual({ fits: true, weight: 37 + 50 - 700 });
    expect(weighResources(request, node, 10)).toEqual({ fits: true, weight: 37 + 50 + 700 });
  });

  it("scores 100 for a resource the request does not ask for", () => {
    expect(weighResources(makeRequest(), makeNode({ healthIndicator: 100 }), -10)).toEqual({ fits: true, weight: 200 - 1000 });
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [512, "512 B"],
    [1024, "1 KiB"],
    [20 * MiB, "20 MiB"],
    [1.5 * GiB, "1.5 GiB"],
    [2.1 * GiB, "2.1 GiB"],
    [2.0532 * GiB, "2.053 GiB"],
    [1000 * GiB, "1000 GiB"],
    [2048 * GiB, "2 TiB"],
    [-5, "0 B"],
  ])("%d → %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
