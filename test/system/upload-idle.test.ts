import { rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  establishedPorts,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/** Sends a request head and the start of its body, then nothing: what the manager answers, and when. */
async function stall(manager: ManagerProcess, head: string, start: Buffer): Promise<{ status: number; message: string; ms: number }> {
  const socket = net.connect({ port: Number(manager.host.split(":")[1]), host: "127.0.0.1" });
  socket.on("error", () => undefined);
  const answer: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => answer.push(chunk));
  await new Promise((resolve) => socket.once("connect", resolve));
  const started = Date.now();
  socket.write(head);
  socket.write(start);
  await new Promise((resolve) => socket.once("close", resolve));
  const [top = "", body = ""] = Buffer.concat(answer).toString("utf8").split("\r\n\r\n");
  const json = body.slice(body.indexOf("{"), body.lastIndexOf("}") + 1);
  return { status: Number(top.split(" ")[1]), message: (JSON.parse(json) as { message: string }).message, ms: Date.now() - started };
}

/** `--upload-idle-timeout`: an upload whose client goes silent is ended, on both upload paths. */
describe("uploads whose client goes silent", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;

  beforeAll(async () => {
    cluster = await startEngines(1);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--upload-idle-timeout", "1s"] });
    await waitForHealthyNodes(manager, 1);
    await docker(manager.dockerHost, ["run", "-d", "--network", "none", "--name", "target", "busybox", "sleep", "600"]);
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  it("answers 408 to a docker cp upload (relayed socket to socket) that stops, and lets go of both connections", async () => {
    const engineConnections = () => establishedPorts(manager.process.pid, cluster.engines[0]!.port);
    const before = await engineConnections();
    const answer = await stall(
      manager,
      "PUT /v1.41/containers/target/archive?path=/tmp HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\nContent-Length: 1048576\r\n\r\n",
      Buffer.alloc(512),
    );
    expect(answer).toMatchObject({ status: 408, message: "request body timed out: nothing arrived for 1 s" });
    expect(answer.ms).toBeGreaterThanOrEqual(900);
    expect(answer.ms).toBeLessThan(10_000);
    // The engine connection the upload used is gone too.
    expect((await engineConnections()).size).toBeLessThanOrEqual(before.size);
  });

  it("answers 408 to a build context (streamed through the HTTP server) that stops", async () => {
    const answer = await stall(
      manager,
      "POST /v1.41/build?t=stalled HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\nContent-Length: 1048576\r\n\r\n",
      Buffer.alloc(512),
    );
    expect(answer).toMatchObject({ status: 408, message: "request body timed out: nothing arrived for 1 s" });
    expect(answer.ms).toBeLessThan(10_000);
  });

  it("uploads through the HTTP server with --no-upload-relay, says so at start, and times out a silent one there too", async () => {
    const portable = await startManagerProcess({ discovery: `nodes://${cluster.engines[0]!.host}`, args: ["--upload-idle-timeout", "1s", "--no-upload-relay"] });
    try {
      await waitForHealthyNodes(portable, 1);
      expect(await portable.logTail(50)).toContain("Uploads (docker cp into containers) go through the HTTP server (--no-upload-relay)");
      expect(await manager.logTail(200)).toContain("Uploads (docker cp into containers) go socket to socket in the kernel (@swarm/splice-relay)");
      const answer = await stall(
        portable,
        "PUT /v1.41/containers/target/archive?path=/tmp HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\nContent-Length: 1048576\r\n\r\n",
        Buffer.alloc(512),
      );
      expect(answer).toMatchObject({ status: 408, message: "request body timed out: nothing arrived for 1 s" });
      const file = "/tmp/swt-upload-portable";
      await writeFile(file, "through the server\n");
      try {
        await docker(portable.dockerHost, ["cp", file, "target:/tmp/portable"]);
      } finally {
        await rm(file, { force: true });
      }
      expect((await docker(portable.dockerHost, ["exec", "target", "cat", "/tmp/portable"])).stdout).toBe("through the server\n");
    } finally {
      await portable.stop();
    }
  });

  it("still takes a large upload that keeps coming", async () => {
    const { stdout } = await docker(manager.dockerHost, ["exec", "target", "sh", "-c", "head -c 20000000 /dev/urandom > /tmp/big && md5sum /tmp/big"]);
    expect(stdout).toMatch(/^[0-9a-f]{32} /);
    await docker(manager.dockerHost, ["cp", "target:/tmp/big", "/tmp/swt-upload-idle-big"]);
    await docker(manager.dockerHost, ["cp", "/tmp/swt-upload-idle-big", "target:/tmp/copy"]).finally(() => rm("/tmp/swt-upload-idle-big", { force: true }));
    const copied = await docker(manager.dockerHost, ["exec", "target", "md5sum", "/tmp/copy"]);
    expect(copied.stdout.split(" ")[0]).toBe(stdout.split(" ")[0]);
  });
});
