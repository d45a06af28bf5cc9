import { describe, expect, it } from "vitest";
import type { Offer } from "../src/protocol.js";
import { taskInfo } from "../src/task-info.js";

const offer: Offer = {
  id: { value: "o1" },
  agent_id: { value: "a1" },
  hostname: "127.0.0.1",
  resources: [
    { name: "cpus", type: "SCALAR", scalar: { value: 2 } },
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31001 }] } },
  ],
};

describe("the LAUNCH's TaskInfo", () => {
  it("carries the command, resources, labels, environment, hostname and published ports of the create", () => {
    const info = taskInfo(
      "web.abc",
      "web",
      "a1",
      {
        Image: "busybox",
        Cmd: ["sleep", "600"],
        Env: ["A=1"],
        Labels: { tier: "front" },
        Hostname: "box",
        Domainname: "example.org",
        HostConfig: { Memory: 32 * 1024 * 1024, CpuShares: 1, PortBindings: { "80/tcp": [{ HostPort: "" }], "53/udp": [{ HostPort: "5353" }] } },
      },
      [offer],
    );
    expect(info).toMatchObject({
      name: "web",
      task_id: { value: "web.abc" },
      agent_id: { value: "a1" },
      command: { shell: false, value: "sleep", arguments: ["600"] },
      container: {
        type: "DOCKER",
        hostname: "box.example.org",
        docker: {
          image: "busybox",
          network: "BRIDGE",
          port_mappings: [
            { host_port: 31000, container_port: 80, protocol: "tcp" },
            { host_port: 5353, container_port: 53, protocol: "udp" },
          ],
        },
      },
      labels: { labels: [{ key: "SWARM_CONTAINER_NAME", value: "web" }] },
    });
    const resources = info.resources as Array<{ name: string }>;
    expect(resources.map((r) => r.name)).toEqual(["cpus", "mem", "ports"]);
    const parameters = (info.container as { docker: { parameters: Array<{ key: string; value: string }> } }).docker.parameters;
    expect(parameters).toContainEqual({ key: "label", value: "tier=front" });
    expect(parameters).toContainEqual({ key: "env", value: "A=1" });
    expect(parameters).toContainEqual({ key: "label", value: "com.docker.swarm.mesos.detach=true" });
  });

  it("runs the image's own command, without the network, when the create names none", () => {
    const info = taskInfo("t", "", "a1", { Image: "busybox", HostConfig: { NetworkMode: "none", Memory: 1 << 20 } }, [offer]);
    expect(info.command).toEqual({ shell: false });
    expect(info.name).toBe("t");
    expect((info.container as { docker: { network: string } }).docker.network).toBe("NONE");
  });
});
