import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../testing/builders.js";
import { Engine, engineMessage, isConnectionError, withOvercommit, type EngineLimits } from "./engine.js";

describe("engine helpers", () => {
  it.each([
    [4, 0.05, 4],
    [20, 0.05, 21],
    [2 * 1024 ** 3, 0.05, 2254857830],
    [8, 0.5, 12],
    [8, -0.5, 4],
    [8, 0.009, 8],
  ])("withOvercommit(%d, %d) = %d, with classic Swarm's integer percent", (raw, overcommit, total) => {
    expect(withOvercommit(raw, overcommit)).toBe(total);
  });

  it("counts only connection failures towards unhealthy", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(new Error("fetch failed", { cause: refused }))).toBe(true);
    expect(isConnectionError(new Error("Cannot connect to the Docker daemon at tcp://x. Is the docker daemon running?"))).toBe(true);
    expect(isConnectionError(new Error("No such container: x"))).toBe(false);
    expect(isConnectionError(Object.assign(new Error("headers timeout"), { code: "UND_ERR_HEADERS_TIMEOUT" }))).toBe(false);
  });

  it("reads an engine's error text from JSON or plain bodies", () => {
    expect(engineMessage('{"message":"No such image: x"}')).toBe("No such image: x");
    expect(engineMessage("page not found\n")).toBe("page not found");
  });
});

describe("an engine that does not answer", () => {
  let server: http.Server;
  let addr = "";
  beforeAll(async () => {
    // Takes every request and answers none.
    server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const engine = (limits: Partial<EngineLimits>) =>
    new Engine(addr, { failureRetry: 3, overcommit: 0, tls: undefined, logger: silentLogger, onHealthChange: () => undefined, limits });

  it("is asked a bounded number of things at once, and what would wait beyond its queue is refused with a 503", async () => {
    const slow = engine({ calls: 1, queued: 1 });
    const settled: unknown[] = [];
    const running = slow.json("GET", "/info", { timeout: 60_000 }).catch((err: unknown) => settled.push(err));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiting = slow.json("GET", "/info", { timeout: 60_000 }).catch((err: unknown) => settled.push(err));
    const refused = await slow.json("GET", "/info").catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: "SWARM_ERR_ENGINE_BUSY", status: 503 });
    expect((refused as Error).message).toMatch(/^engine 127\.0\.0\.1:\d+ is busy: 1 request is already waiting for it; try again later$/);
    // Calls without a time limit (streams) have a pool of their own: they are not held up or refused.
    const stream = slow.call("GET", "/events", { timeout: 0 }).catch((err: unknown) => settled.push(err));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toEqual([]);
    await slow.disconnect();
    await Promise.all([running, waiting, stream]);
    expect(settled).toHaveLength(3);
  });

  it("is given up after its time limit with a 504 that says the work may still be done", async () => {
    const late = engine({});
    const failure = await late.json("POST", "/containers/create", { timeout: 200 }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: "SWARM_ERR_ENGINE_TIMEOUT", status: 504 });
    expect((failure as Error).message).toMatch(/did not answer POST \/containers\/create within 0\.2 s; it may still be doing it$/);
    expect(late.failureCount).toBe(0);
    await late.disconnect();
  });
});
