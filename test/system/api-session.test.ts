import { execFile } from "node:child_process";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { ensureBusyboxImage, startEngines, startManagerProcess, waitFor, type TestEngines, type ManagerProcess } from "@swarm/test-harness";

/** A minimal tar archive holding one file, enough for a build context. */
function tarWith(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, "0")}\0`, 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

/**
 * `POST /session` (BuildKit's session): hijacked, and spliced to the engine that the build naming
 * the session was scheduled on, even though the client opens the session first.
 */
describe("build sessions", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;

  beforeAll(async () => {
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      // No refresh during the test: the only new connections to an engine are the ones it causes.
      args: ["--engine-refresh-min-interval", "300s", "--engine-refresh-max-interval", "400s"],
    });
    await waitFor({
      what: "the manager did not validate both engines",
      timeoutMs: 30_000,
      probe: async () => {
        const info = (await (await request(`${manager.url}/v1.41/info`)).body.json()) as { SystemStatus: string[][] };
        return info.SystemStatus.filter(([key, value]) => key === "  └ Status" && value === "Healthy").length === 2 ? true : undefined;
      },
    });
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
  });

  const openSession = (headers: Record<string, string>) => {
    const socket = net.connect({ host: "127.0.0.1", port: Number(manager.host.split(":")[1]) });
    socket.on("error", () => undefined);
    const head = new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        if (text.includes("\r\n\r\n")) resolve(text);
      });
      socket.once("close", () => resolve(text));
    });
    const lines = ["POST /v1.41/session HTTP/1.1", `Host: ${manager.host}`, "Connection: Upgrade", "Upgrade: h2c", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    return { socket, head };
  };

  /** Local ports of the manager's established connections to one engine port. */
  const connectionsTo = (port: number) =>
    new Promise<Set<string>>((resolve, reject) =>
      execFile("ss", ["-tnpH", "state", "established", "dst", `127.0.0.1:${port}`], (err, stdout) => {
        if (err) return reject(err);
        resolve(new Set(stdout.split("\n").filter((line) => line.includes(`pid=${manager.process.pid},`)).map((line) => line.split(/\s+/)[2] ?? "")));
      }),
    );

  it("splices a session opened before its build to the build's engine", async () => {
    const [node1, node2] = cluster.engines;
    const before1 = await connectionsTo(node1!.port);
    const session = openSession({ "X-Docker-Expose-Session-Uuid": "sess-1", "X-Docker-Expose-Session-Name": "test" });
    const buildargs = encodeURIComponent(JSON.stringify({ "constraint:node": "=node-2" }));
    const build = await request(`${manager.url}/v1.41/build?session=sess-1&t=session-built&buildargs=${buildargs}`, {
      method: "POST",
      headers: { "content-type": "application/x-tar" },
      body: tarWith("Dockerfile", "FROM busybox\nLABEL built=with-session\n"),
    });
    expect(build.statusCode).toBe(200);
    await build.body.text();
    const head = await session.head;
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    const after1 = await connectionsTo(node1!.port);
    expect([...after1].filter((port) => !before1.has(port))).toEqual([]);
    expect((await connectionsTo(node2!.port)).size).toBeGreaterThan(0);
    session.socket.destroy();
    const images = (await (await request(`${node2!.url}/images/json`)).body.json()) as Array<{ RepoTags: string[] | null }>;
    expect(images.some((i) => i.RepoTags?.includes("session-built:latest"))).toBe(true);
  });

  it("refuses a session without an ID, and one whose build never comes", async () => {
    const anonymous = openSession({});
    expect(await anonymous.head).toMatch(/^HTTP\/1\.1 400 [\s\S]*no session ID provided/);
    const orphan = openSession({ "X-Docker-Expose-Session-Uuid": "sess-orphan" });
    expect(await orphan.head).toMatch(/^HTTP\/1\.1 500 [\s\S]*timeout waiting for build to start/);
  });
});
