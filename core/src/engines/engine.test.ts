import { describe, expect, it } from "vitest";
import { engineMessage, isConnectionError, withOvercommit } from "./engine.js";

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
