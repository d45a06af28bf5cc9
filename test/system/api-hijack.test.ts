import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  establishedPorts,
  startEngines,
  startManagerProcess,
  waitForHealthyNodes,
  waitFor,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One raw HTTP exchange on a socket the test keeps (for hijacks). */
interface RawExchange {
  readonly socket: net.Socket;
  /** Status line and headers, once they arrived. */
  readonly head: Promise<{ status: number; headers: string }>;
  /** Everything after the head received so far. */
  payload(): Buffer;
  /** Resolves when the manager closed (or half-closed) the socket towards us. */
  readonly ended: Promise<void>;
}

/**
 * Attach and exec through the manager's hijack handler, with the real docker CLI (28.2) and with raw
 * sockets where the CLI cannot show what matters (status codes, who closes which socket).
 */
describe("hijacked streams: run, attach, exec", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let configDir: string;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);

  /** The docker CLI with its exit code and optional stdin (the kit's helper rejects non-zero exits). */
  const cli = (args: readonly string[], stdin?: string | Buffer, timeoutMs = 30_000): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn("docker", ["-H", manager.dockerHost, ...args], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: configDir, DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: "false" },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
        reject(new Error(`docker ${args.join(" ")} did not finish within ${timeoutMs} ms; stdout ${stdout}; stderr ${stderr}`));
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(stdin ?? "");
    });

  const hijack = (method: string, target: string, body = "", extraHeaders: Record<string, string> = {}): RawExchange => {
    const socket = net.connect({ host: "127.0.0.1", port: Number(manager.host.split(":")[1]) });
    socket.on("error", () => undefined);
    const chunks: Buffer[] = [];
    let resolveHead: (h: { status: number; headers: string }) => void = () => undefined;
    const head = new Promise<{ status: number; headers: string }>((resolve) => (resolveHead = resolve));
    let headDone = false;
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (headDone) return;
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return;
      headDone = true;
      chunks.length = 0;
      chunks.push(all.subarray(end + 4));
      const text = all.subarray(0, end).toString("latin1");
      resolveHead({ status: Number(text.split(" ")[1]), headers: text });
    });
    const ended = new Promise<void>((resolve) => {
      socket.once("end", resolve);
      socket.once("close", resolve);
    });
    const headers = {
      Host: manager.host,
      Connection: "Upgrade",
      Upgrade: "tcp",
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(body)),
      ...extraHeaders,
    };
    const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    // Headers and body in two writes: the manager must also read a body that arrives after `head`.
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (body !== "") setTimeout(() => socket.write(body), 50);
    return { socket, head, ended, payload: () => Buffer.concat(chunks) };
  };

  /** Local ports of the manager's ESTABLISHED connections to one engine. */
  const upstreamPorts = (enginePort: number): Promise<Set<number>> => establishedPorts(manager.process.pid, enginePort);

  const enginePortOf = async (container: string): Promise<number> => {
    const addr = (await swarm("inspect", "-f", "{{.Node.Addr}}", container)).stdout.trim();
    return Number(addr.split(":")[1]);
  };

  beforeAll(async () => {
    configDir = await fsp.mkdtemp(path.join(os.tmpdir(), "swt-hijack-cli-"));
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      // No periodic refresh during the file: the socket-count tests must see only the hijack's sockets.
      args: ["--engine-refresh-min-interval", "300s", "--engine-refresh-max-interval", "400s"],
    });
    await waitForHealthyNodes(manager, 2);
    await swarm("run", "-d", "--network", "none", "--name", "ex", "busybox", "sleep", "600");
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
    if (configDir) await fsp.rm(configDir, { recursive: true, force: true });
  });

  it("docker run without -d prints the output and returns the container's exit code", async () => {
    const result = await cli(["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo hi; echo err >&2; exit 3"]);
    expect(result.stdout).toBe("hi\n");
    expect(result.stderr).toContain("err");
    expect(result.code).toBe(3);
  });

  it("docker run -i passes stdin through and ends when it ends", async () => {
    const result = await cli(["run", "-i", "--rm", "--network", "none", "busybox", "cat"], "hello\nworld\n");
    expect(result).toMatchObject({ code: 0, stdout: "hello\nworld\n" });
  });

  it("docker run -t gets a TTY stream (no stdin needed)", async () => {
    const result = await cli(["run", "-t", "--rm", "--network", "none", "busybox", "sh", "-c", "test -t 1 && echo tty"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("tty\r\n");
  });

  it("docker exec: plain output, -i with stdin, exit codes, -d", async () => {
    expect(await cli(["exec", "ex", "echo", "plain"])).toMatchObject({ code: 0, stdout: "plain\n" });
    expect(await cli(["exec", "-i", "ex", "sh", "-c", "tr a-z A-Z"], "shout\n")).toMatchObject({ code: 0, stdout: "SHOUT\n" });
    expect((await cli(["exec", "ex", "sh", "-c", "exit 4"])).code).toBe(4);
    // Megabytes of stdin through both hops, with back-pressure, then the half-close.
    const big = randomBytes(4 * 1024 * 1024);
    const digest = createHash("sha256").update(big).digest("hex");
    expect(await cli(["exec", "-i", "ex", "sha256sum"], big)).toMatchObject({ code: 0, stdout: `${digest}  -\n` });
    expect((await cli(["exec", "-d", "ex", "touch", "/tmp/detached"])).code).toBe(0);
    await waitFor({
      what: "the detached exec did not create its file",
      timeoutMs: 10_000,
      probe: async () => ((await cli(["exec", "ex", "ls", "/tmp/detached"])).code === 0 ? true : undefined),
    });
  });

  it("docker exec -it works under a pseudo-terminal", async () => {
    const command = `docker -H ${manager.dockerHost} exec -it ex sh -c 'test -t 0 && echo interactive-tty'`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        "script",
        ["-qec", command, "/dev/null"],
        { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DOCKER_CONFIG: configDir, HOME: configDir }, timeout: 30_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    expect(out).toContain("interactive-tty");
  });

  it("docker attach streams stdin in and output out and returns the exit code", async () => {
    await swarm("run", "-di", "--network", "none", "--name", "att", "busybox", "sh", "-c", "read x; echo got $x; sleep 1; exit 5");
    // stdin stays open until the answer is seen: dockerd ends a non-StdinOnce attach when its stdin ends.
    const child = spawn("docker", ["-H", manager.dockerHost, "attach", "att"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: configDir, DOCKER_CONFIG: configDir },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      child.stdin.write("hello\n");
      await waitFor({
        what: "docker attach did not print the container's answer",
        timeoutMs: 15_000,
        probe: async () => (stdout.includes("got hello") ? true : undefined),
      });
      child.stdin.end();
      expect(await exited).toBe(5);
      expect(stdout).toBe("got hello\n");
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    }
  });

  it("answers Docker-style errors on the upgrade path", async () => {
    const noContainer = hijack("POST", "/v1.41/containers/nope/attach?stream=1&stdout=1");
    expect((await noContainer.head).status).toBe(404);
    await noContainer.ended;
    expect(JSON.parse(noContainer.payload().toString())).toEqual({ message: "No such container: nope" });

    const noExec = hijack("POST", "/v1.41/exec/0123456789abcdef/start", JSON.stringify({ Detach: false, Tty: false }));
    expect((await noExec.head).status).toBe(404);
    await noExec.ended;
    expect(JSON.parse(noExec.payload().toString())).toEqual({ message: "No such exec instance: 0123456789abcdef" });

    const tooNew = hijack("POST", "/v9.99/containers/ex/attach?stream=1&stdout=1");
    expect((await tooNew.head).status).toBe(400);
    await tooNew.ended;
    expect(JSON.parse(tooNew.payload().toString()).message).toMatch(/^client version 9.99 is too new/);

    const other = hijack("GET", "/v1.41/containers/json", "", { Upgrade: "websocket" });
    expect((await other.head).status).toBe(400);
    await other.ended;
  });

  it("creates execs with dockerd's rules and finds execs created directly on an engine", async () => {
    const empty = await request(`${manager.url}/v1.41/containers/ex/exec`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Cmd: [] }),
    });
    expect(empty.statusCode).toBe(400);
    expect(await empty.body.json()).toEqual({ message: "No exec command specified" });

    const id = (await swarm("inspect", "-f", "{{.Id}}", "ex")).stdout.trim();
    const engineAddr = (await swarm("inspect", "-f", "{{.Node.Addr}}", "ex")).stdout.trim();
    const direct = await request(`http://${engineAddr}/v1.41/containers/${id}/exec`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Cmd: ["echo", "direct"], AttachStdout: true }),
    });
    expect(direct.statusCode).toBe(201);
    const execId = ((await direct.body.json()) as { Id: string }).Id;
    const inspect = await request(`${manager.url}/v1.41/exec/${execId}/json`);
    expect(inspect.statusCode).toBe(200);
    expect(((await inspect.body.json()) as { ContainerID: string }).ContainerID).toBe(id);

    const started = hijack("POST", `/v1.41/exec/${execId}/start`, JSON.stringify({ Detach: false, Tty: false }));
    const head = await started.head;
    expect(head.status).toBe(101);
    expect(head.headers).toContain("Content-Type: application/vnd.docker.raw-stream");
    expect(head.headers).toContain("Upgrade: tcp");
    await started.ended;
    expect(started.payload().toString()).toContain("direct");

    const resize = await request(`${manager.url}/v1.41/exec/nope/resize?h=10&w=10`, { method: "POST" });
    expect(resize.statusCode).toBe(404);
    expect(await resize.body.json()).toEqual({ message: "No such exec instance: nope" });
  });

  it("closes the engine socket when the client goes away mid-stream (FIN or RST)", async () => {
    await swarm("run", "-d", "--network", "none", "--name", "chatty", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done");
    const enginePort = await enginePortOf("chatty");
    for (const leave of ["end", "reset"] as const) {
      const before = await upstreamPorts(enginePort);
      const attach = hijack("POST", "/v1.41/containers/chatty/attach?stream=1&stdout=1&stderr=1");
      expect((await attach.head).status).toBe(101);
      const opened = [...(await upstreamPorts(enginePort))].filter((p) => !before.has(p));
      expect(opened.length).toBeGreaterThan(0);
      await waitFor({
        what: "no output came through the attach",
        timeoutMs: 5_000,
        probe: async () => (attach.payload().toString().includes("tick") ? true : undefined),
      });
      if (leave === "end") attach.socket.destroy();
      else attach.socket.resetAndDestroy();
      await waitFor({
        what: `the manager kept its engine socket(s) ${opened.join(",")} after the client left (${leave})`,
        timeoutMs: 10_000,
        probe: async () => {
          const now = await upstreamPorts(enginePort);
          return opened.every((p) => !now.has(p)) ? true : undefined;
        },
      });
    }
  });

  it("relays the WebSocket attach handshake and frames", async () => {
    const ws = hijack("GET", "/v1.41/containers/chatty/attach/ws?stream=1&stdout=1", "", {
      Upgrade: "websocket",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      Origin: `http://${manager.host}`,
    });
    const head = await ws.head;
    expect(head.status).toBe(101);
    expect(head.headers).toMatch(/Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    await waitFor({
      what: "no WebSocket frame came through",
      timeoutMs: 5_000,
      probe: async () => (ws.payload().toString("latin1").includes("tick") ? true : undefined),
    });
    ws.socket.destroy();
  });

  it("closes the client socket when the engine side ends", async () => {
    const id = (await swarm("inspect", "-f", "{{.Id}}", "ex")).stdout.trim();
    const enginePort = await enginePortOf("ex");
    const created = await request(`${manager.url}/v1.41/containers/ex/exec`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Cmd: ["sh", "-c", "echo started; sleep 1; echo finished"], AttachStdout: true, AttachStderr: true }),
    });
    expect(created.statusCode).toBe(201);
    const execId = ((await created.body.json()) as { Id: string }).Id;
    expect(id).not.toBe("");
    const before = await upstreamPorts(enginePort);
    const started = hijack("POST", `/exec/${execId}/start`, JSON.stringify({ Detach: false, Tty: false }));
    expect((await started.head).status).toBe(101);
    const opened = [...(await upstreamPorts(enginePort))].filter((p) => !before.has(p));
    await started.ended;
    const text = started.payload().toString();
    expect(text).toContain("started");
    expect(text).toContain("finished");
    await waitFor({
      what: `the manager kept its engine socket(s) ${opened.join(",")} after the exec ended`,
      timeoutMs: 10_000,
      probe: async () => {
        const now = await upstreamPorts(enginePort);
        return opened.every((p) => !now.has(p)) ? true : undefined;
      },
    });
    started.socket.destroy();
  });

  // Last: it stops the manager.
  it("shuts down promptly while a hijacked stream is open", async () => {
    const attach = hijack("POST", "/v1.41/containers/chatty/attach?stream=1&stdout=1");
    expect((await attach.head).status).toBe(101);
    const started = Date.now();
    const exit = await manager.process.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(exit.signal).toBeNull();
    await attach.ended;
  });
});
