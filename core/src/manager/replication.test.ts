import { describe, expect, it } from "vitest";
import type { LeaderElector, LeadershipChange } from "../extension-points/leader-elector.js";
import type { Logger } from "../extension-points/plugin.js";
import { Notifications } from "../kv/notifications.js";
import { Replication } from "./replication.js";

/** An elector the test drives: each pushed change is reported; an Error ends the campaign with it. */
function scriptedElector() {
  const script = new Notifications<LeadershipChange | Error>();
  let campaigns = 0;
  let resigned = 0;
  const elector: LeaderElector = {
    async *campaign(_candidate: string, signal: AbortSignal) {
      campaigns++;
      for (;;) {
        const batch = await script.drain(signal);
        if (batch === undefined) return;
        for (const item of batch) {
          if (item instanceof Error) throw item;
          yield item;
        }
      }
    },
    async resign() {
      resigned++;
    },
  };
  return { elector, push: (item: LeadershipChange | Error) => script.push(item), campaigns: () => campaigns, resigned: () => resigned };
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (message: string) => void lines.push(message),
    warn: (message: string) => void lines.push(message),
    error: (message: string) => void lines.push(message),
    child: () => logger,
  };
  return { logger, lines };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("Replication", () => {
  it("starts as a replica that knows no primary, and waits for one before routing", async () => {
    const { elector, push } = scriptedElector();
    const replication = new Replication(elector, "10.0.0.1:4000", recordingLogger().logger);
    replication.start();
    expect(replication.isPrimary()).toBe(false);
    expect(replication.roleLines()).toEqual([
      ["Role", "replica"],
      ["Primary", ""],
    ]);
    const waiting = replication.primary(AbortSignal.timeout(5_000));
    push({ role: "replica", primary: "10.0.0.2:4000" });
    await expect(waiting).resolves.toBe("10.0.0.2:4000");
    await replication.stop();
  });

  it("logs what classic Swarm logged at each change, and answers with its own address as primary", async () => {
    const { elector, push } = scriptedElector();
    const { logger, lines } = recordingLogger();
    const replication = new Replication(elector, "10.0.0.1:4000", logger);
    replication.start();
    push({ role: "replica", primary: "10.0.0.2:4000" });
    push({ role: "primary" });
    await settle();
    expect(replication.isPrimary()).toBe(true);
    expect(replication.roleLines()).toEqual([["Role", "primary"]]);
    await expect(replication.primary(AbortSignal.timeout(1_000))).resolves.toBe("10.0.0.1:4000");
    push({ role: "replica", primary: "10.0.0.3:4000" });
    await settle();
    expect(lines).toEqual([
      "New leader elected: 10.0.0.2:4000",
      "Leader Election: Cluster leadership acquired",
      "New leader elected: 10.0.0.1:4000",
      "Leader Election: Cluster leadership lost",
      "New leader elected: 10.0.0.3:4000",
    ]);
    await replication.stop();
  });

  it("stops serving as primary when the election fails, and campaigns again after the retry delay", async () => {
    const { elector, push, campaigns } = scriptedElector();
    const { logger, lines } = recordingLogger();
    const replication = new Replication(elector, "10.0.0.1:4000", logger, 50);
    replication.start();
    push({ role: "primary" });
    await settle();
    push(new Error("lost the watch on docker/swarm/leader at etcd at 127.0.0.1:1"));
    await settle();
    expect(replication.isPrimary()).toBe(false);
    expect(lines).toContain(
      "Leader Election: lost the watch on docker/swarm/leader at etcd at 127.0.0.1:1; campaigning again in 0.05s",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(campaigns()).toBe(2);
    await replication.stop();
  });

  it("gives the client up when it leaves before a primary is known, and resigns on stop", async () => {
    const { elector, resigned } = scriptedElector();
    const replication = new Replication(elector, "10.0.0.1:4000", recordingLogger().logger);
    replication.start();
    const gone = new AbortController();
    const waiting = replication.primary(gone.signal);
    gone.abort();
    await expect(waiting).rejects.toThrow("No elected primary cluster manager");
    await replication.stop();
    expect(resigned()).toBe(1);
  });
});
