import { describe, expect, it } from "vitest";
import { SWARM_ID_LABEL, findContainer, resolveContainer, type ContainerLike } from "./lookup.js";

const container = (id: string, name: string, nodeName: string, swarmId?: string): ContainerLike => ({
  id,
  names: [`/${name}`],
  labels: swarmId ? { [SWARM_ID_LABEL]: swarmId } : {},
  nodeName,
  nodeId: `${nodeName}-id`,
});

const web1 = container("4a1b".padEnd(64, "0"), "web", "node-1", "9f00".padEnd(64, "1"));
const web2 = container("4a2c".padEnd(64, "0"), "web", "node-2");
const db = container("c0ff".padEnd(64, "e"), "db", "node-1");
const all = [web1, web2, db];

describe("container references (§4.4)", () => {
  it.each([
    ["a full ID", web1.id, web1],
    ["a 12-character short ID", web2.id.slice(0, 12), web2],
    ["a Swarm ID", web1.labels[SWARM_ID_LABEL]!, web1],
    ["a unique name", "db", db],
    ["a name with its slash", "/db", db],
    ["<node>/<name>", "node-2/web", web2],
    ["<node ID>/<name>", "node-1-id/web", web1],
    ["a unique ID prefix", "c0", db],
    ["a unique Swarm ID prefix", "9f", web1],
  ])("finds a container by %s", (_what, ref, expected) => {
    expect(resolveContainer(all, ref)).toEqual({ found: expected });
    expect(findContainer(all, ref)).toBe(expected);
  });

  it("says which containers share a name, and which share an ID prefix", () => {
    expect(resolveContainer(all, "web")).toEqual({ ambiguous: "name", candidates: [web1, web2] });
    expect(resolveContainer(all, "4a")).toEqual({ ambiguous: "prefix", candidates: [web1, web2] });
    // For the scheduler's filters, as in classic Swarm, ambiguity is no match.
    expect(findContainer(all, "web")).toBeUndefined();
    expect(findContainer(all, "4a")).toBeUndefined();
  });

  it("finds nothing for an empty or unknown reference", () => {
    expect(resolveContainer(all, "")).toBeUndefined();
    expect(resolveContainer(all, "nope")).toBeUndefined();
  });
});
