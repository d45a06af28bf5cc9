import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DiscoveryContext, DiscoveryUpdate } from "@swarm/core";
import { makePluginContext } from "@swarm/core/testing";
import plugin, { parseNodeFile, parseNodeList } from "../src/index.js";

function context(raw: string, heartbeat = 20): DiscoveryContext<Record<string, never>> {
  const at = raw.indexOf("://");
  return {
    ...makePluginContext<Record<string, never>>("static", {}),
    uri: at < 0 ? { scheme: "nodes", path: raw, raw } : { scheme: raw.slice(0, at), path: raw.slice(at + 3), raw },
    heartbeat,
    ttl: 180_000,
    discoveryOptions: {},
  };
}

describe("nodes:// lists", () => {
  it.each([
    ["1.1.1.1:2375,2.2.2.2:2375", ["1.1.1.1:2375", "2.2.2.2:2375"]],
    ["10.0.0.[1:3]:2375", ["10.0.0.1:2375", "10.0.0.2:2375", "10.0.0.3:2375"]],
    ["192.168.1.2:[2:4]375", ["192.168.1.2:2375", "192.168.1.2:3375", "192.168.1.2:4375"]],
    ["[::1]:2375,,", ["[::1]:2375"]],
  ])("%s", (list, expected) => {
    expect(parseNodeList(list)).toEqual(expected);
  });

  it("keeps a range with non-integer bounds literally (then fails as an address)", () => {
    expect(parseNodeFile("10.0.0.[a:b]:2375")).toEqual(["10.0.0.[a:b]:2375"]);
    expect(() => parseNodeList("10.0.0.[a:b]:2375")).toThrow(/too many colons/);
  });

  it("rejects an entry without a port with classic Swarm's hint", () => {
    expect(() => parseNodeList("abcdef")).toThrow(/missing port in address, please check you are using the correct discovery \(missing token:\/\/ \?\)/);
  });

  it("announces the list once and cannot register", async () => {
    const discovery = await plugin.create(context("nodes://a:1,b:2"));
    const updates: DiscoveryUpdate[] = [];
    for await (const update of discovery.watch(new AbortController().signal)) updates.push(update);
    expect(updates).toEqual([{ entries: ["a:1", "b:2"] }]);
    await expect(discovery.register("a:1", new AbortController().signal)).rejects.toThrow("not implemented in this discovery service");
  });
});

describe("file://", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("skips comments and blank lines and expands ranges", () => {
    expect(parseNodeFile("# cluster\n1.1.1.1:2375 # first\n\n  2.2.2.[1:2]:2375  \n#3.3.3.3:1\n")).toEqual([
      "1.1.1.1:2375",
      "2.2.2.1:2375",
      "2.2.2.2:2375",
    ]);
  });

  it("reports a missing file, then picks it up, then follows edits", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "swarm-static-"));
    const file = path.join(dir, "cluster");
    const discovery = await plugin.create(context(`file://${file}`));
    const abort = new AbortController();
    const iterator = discovery.watch(abort.signal)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ error: expect.objectContaining({ message: expect.stringContaining(`failed to read '${file}'`) }) });
    await writeFile(file, "1.1.1.1:1\n2.2.2.2:2\n");
    let next = await iterator.next();
    while (next.value && "error" in next.value) next = await iterator.next();
    expect(next.value).toEqual({ entries: ["1.1.1.1:1", "2.2.2.2:2"] });
    await writeFile(file, "2.2.2.2:2\n");
    expect((await iterator.next()).value).toEqual({ entries: ["2.2.2.2:2"] });
    abort.abort();
  });
});
