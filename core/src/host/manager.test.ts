import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Logger } from "../extension-points/plugin.js";
import { resolveManagerSettings } from "../config/settings.js";
import { isLoopback, startManager, type Manager } from "./manager.js";

function capturingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => void lines.push(message),
    error: () => undefined,
    child: () => logger,
  };
  return logger;
}

describe("the manager's listeners", () => {
  let manager: Manager | undefined;
  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["10.0.0.5", false],
    ["::", false],
  ])("%s is loopback: %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it("warns when it listens beyond this machine without --tlsverify, and not on loopback", async () => {
    const warnings: string[] = [];
    const settings = resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", hosts: ["tcp://0.0.0.0:0", "tcp://127.0.0.1:0"] }, process.cwd());
    manager = await startManager(settings, capturingLogger(warnings));
    const open = warnings.filter((w) => w.includes("without --tlsverify"));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatch(/^Listening on tcp:\/\/0\.0\.0\.0:\d+ without --tlsverify: anyone who can reach this address controls every engine/);
  });

  it("serves the API on every address it is given", async () => {
    const settings = resolveManagerSettings({ discovery: "nodes://127.0.0.1:9", hosts: ["tcp://127.0.0.1:0", "tcp://127.0.0.1:0"] }, process.cwd());
    manager = await startManager(settings, capturingLogger([]));
    expect(manager.addresses).toHaveLength(2);
    for (const address of manager.addresses) {
      const response = await request(`${address.replace("tcp://", "http://")}/_ping`);
      expect(await response.body.text()).toBe("OK");
    }
  });
});
