import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig, resolveManagerSettings } from "@swarm/core/host";

const configs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/configs");

describe("example configs", () => {
  it.each(["third-party.config.mjs", "etcd.swarm.config.yaml", "static.swarm.config.json"])("%s is valid", async (file) => {
    const loaded = await loadConfig({ explicitFile: path.join(configs, file) });
    const settings = resolveManagerSettings(loaded.config, loaded.baseDir);
    expect(settings.discovery).toBe(loaded.config.discovery);
  });
});
