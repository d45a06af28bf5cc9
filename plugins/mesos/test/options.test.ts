import { describe, expect, it } from "vitest";
import { readMesosOptions } from "../src/options.js";

describe("mesos options", () => {
  it("has classic Swarm's defaults", () => {
    expect(readMesosOptions({})).toEqual({
      user: undefined,
      checkpoint: false,
      offerTimeout: 30_000,
      offerRefuseTimeout: 5_000,
      taskTimeout: 5_000,
      failoverTimeout: 60_000,
    });
  });

  it("reads Go durations and booleans", () => {
    const options = readMesosOptions({ "mesos.tasktimeout": "1m30s", "mesos.checkpointfailover": "true", "mesos.user": "root" });
    expect(options).toMatchObject({ taskTimeout: 90_000, checkpoint: true, user: "root" });
  });

  it.each([
    [{ "mesos.address": "example.com" }, 'invalid IP address for cluster-opt mesos.address: "example.com"'],
    [{ "mesos.port": "http" }, 'invalid port for cluster-opt mesos.port: "http"'],
    [{ "mesos.offertimeout": "30" }, 'invalid mesos.offertimeout "30": time: missing unit in duration "30"'],
    [{ "mesos.checkpointfailover": "yes" }, 'invalid value for cluster-opt mesos.checkpointfailover: "yes" (true or false)'],
  ])("refuses %j", (raw, message) => {
    expect(() => readMesosOptions(raw)).toThrow(message);
  });
});
