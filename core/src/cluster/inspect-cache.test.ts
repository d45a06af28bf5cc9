import { describe, expect, it } from "vitest";
import type { ContainerInspect } from "../engines/docker-types.js";
import { ContainerRecord } from "./container-record.js";
import { EventHub } from "./events.js";
import { InspectCache } from "./inspect-cache.js";

const node = { id: "N|10.0.0.1:2375", name: "node-1", ip: "10.0.0.1", rawCpus: 2 };

function record(id: string, status = "running"): ContainerRecord {
  const inspect: ContainerInspect = {
    Id: id,
    Name: `/c-${id}`,
    Created: "2026-12-01T10:00:00Z",
    Image: "sha256:x",
    State: { Status: status, Running: status === "running", Paused: false, Restarting: false, ExitCode: 0, StartedAt: "", FinishedAt: "" },
    Config: { Image: "busybox", Labels: {} },
    HostConfig: {},
  };
  return ContainerRecord.read(inspect, node).record;
}

describe("InspectCache", () => {
  it("holds the documents of the most recently read containers, a bounded number of them", () => {
    const cache = new InspectCache(2);
    const [a, b, c] = [record("a"), record("b"), record("c")];
    cache.put(a, "{a");
    cache.put(b, "{b");
    expect(cache.get(a)).toBe("{a");
    cache.put(c, "{c");
    // b was used least recently once a was read again.
    expect(cache.get(b)).toBeUndefined();
    expect(cache.get(a)).toBe("{a");
    expect(cache.get(c)).toBe("{c");
  });

  it("answers only for the version of the record it was read with", () => {
    const cache = new InspectCache(4);
    const running = record("a");
    cache.put(running, "{running");
    expect(cache.get(record("a", "exited"))).toBeUndefined();
    cache.delete("a");
    expect(cache.get(running)).toBeUndefined();
  });
});

describe("EventHub", () => {
  const stamp = { Name: "node-1", Id: "N|x", Addr: "x", Ip: "10.0.0.1" };

  it("replays the last events in order, decorated as classic Swarm did, from their lines of JSON", () => {
    const hub = new EventHub(3);
    for (let i = 1; i <= 5; i++) {
      const event = { Type: "container", Action: "start", id: `c${i}`, from: "busybox", Actor: { ID: `c${i}`, Attributes: {} }, time: i, timeNano: i * 1e9 };
      hub.publish(event, stamp, JSON.stringify(event));
    }
    const replayed = hub.replay(0n, undefined);
    expect(replayed.map((e) => e.id)).toEqual(["c3", "c4", "c5"]);
    expect(replayed[0]).toMatchObject({ from: "busybox node:node-1", node: stamp, Actor: { Attributes: { "node.name": "node-1", "node.ip": "10.0.0.1" } } });
    expect(hub.replay(4n * 1_000_000_000n, 5n * 1_000_000_000n).map((e) => e.id)).toEqual(["c4"]);
  });

  it("hands listeners the decorated event as it comes", () => {
    const hub = new EventHub();
    const seen: string[] = [];
    const unsubscribe = hub.subscribe((event) => seen.push(`${event.Action} ${event.from}`));
    hub.publish({ Type: "swarm", Action: "engine_connect", Actor: { ID: "", Attributes: {} }, time: 1 }, stamp);
    unsubscribe();
    hub.publish({ Type: "swarm", Action: "engine_disconnect", Actor: { ID: "", Attributes: {} }, time: 2 }, stamp);
    expect(seen).toEqual(["engine_connect swarm node:node-1"]);
  });
});
