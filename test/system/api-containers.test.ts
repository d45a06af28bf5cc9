import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  establishedPorts,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * Container operations through the manager with the real docker CLI: the ones forwarded as-is
 * (top, stats, diff, export, cp, logs, wait, resize) and the ones the manager handles itself
 * (rename, update, pause/unpause, prune, commit).
 */
describe("container operations through the manager", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let workDir: string;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const out = async (...args: string[]) => (await swarm(...args)).stdout.trim();
  const run = (...args: string[]) => swarm("run", "-d", "--network", "none", ...args);
  /** A shell pipeline around the docker CLI (the kit's helper has no pipes). */
  const shell = (script: string) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        "sh",
        ["-c", script],
        {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DOCKER_HOST: manager.dockerHost, DOCKER_CONFIG: path.join(workDir, "cfg") },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 60_000,
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${script}: ${stderr || err.message}`)) : resolve(stdout)),
      ),
    );
  const reservedMemory = async () => [...(await out("info")).matchAll(/Reserved Memory: (\S+ \S+) \//g)].map((m) => m[1]);

  beforeAll(async () => {
    workDir = await fsp.mkdtemp(path.join(os.tmpdir(), "swt-ops-"));
    cluster = await startEngines(2);
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({ discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}` });
    await waitForHealthyNodes(manager, 2);
    await run("--name", "ops", "busybox", "sh", "-c", "echo log-line; echo err-line >&2; while true; do sleep 1; done");
  });

  afterAll(async () => {
    await manager?.stop();
    await cluster?.stopAll();
    if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
  });

  it("docker logs, top and diff", async () => {
    const logs = await swarm("logs", "ops");
    expect(logs.stdout).toBe("log-line\n");
    expect(logs.stderr).toBe("err-line\n");
    expect(await out("top", "ops")).toMatch(/while true; do sleep 1; done/);
    await swarm("exec", "ops", "touch", "/tmp/newfile");
    expect((await out("diff", "ops")).split("\n")).toContain("A /tmp/newfile");
    await expect(swarm("top", "nope")).rejects.toThrow(/No such container: nope/);
  });

  it("docker stats --no-stream, and the stats stream arrives unbuffered", async () => {
    expect(await out("stats", "--no-stream", "--format", "{{.Name}}", "ops")).toBe("ops");
    const oneShot = await request(`${manager.url}/v1.41/containers/ops/stats?stream=false`);
    expect(oneShot.statusCode).toBe(200);
    expect(await oneShot.body.json()).toHaveProperty("memory_stats");

    const abort = new AbortController();
    const streaming = await request(`${manager.url}/v1.41/containers/ops/stats`, { signal: abort.signal });
    expect(streaming.statusCode).toBe(200);
    let text = "";
    for await (const chunk of streaming.body) {
      text += String(chunk);
      // Two samples (a second apart) came through while the stream is still open.
      if (text.split("\n").filter((l) => l.trim() !== "").length >= 2) break;
    }
    abort.abort();
    expect(JSON.parse(text.split("\n")[0]!)).toHaveProperty("cpu_stats");
  });

  it("docker export streams the filesystem as a tar", async () => {
    const listing = (await shell("docker export ops | tar t")).split("\n");
    expect(listing).toContain("bin/busybox");
    expect(listing).toContain("tmp/newfile");
  });

  it("docker cp both ways keeps a multi-megabyte file intact; HEAD archive carries the path stat", async () => {
    const local = path.join(workDir, "big.bin");
    const data = randomBytes(6 * 1024 * 1024);
    await fsp.writeFile(local, data);
    const sum = createHash("sha256").update(data).digest("hex");
    await swarm("cp", local, "ops:/tmp/big.bin");
    expect((await out("exec", "ops", "sha256sum", "/tmp/big.bin")).split(" ")[0]).toBe(sum);

    const head = await request(`${manager.url}/v1.41/containers/ops/archive?path=/tmp/big.bin`, { method: "HEAD" });
    expect(head.statusCode).toBe(200);
    const stat = head.headers["x-docker-container-path-stat"];
    expect(typeof stat).toBe("string");
    expect(JSON.parse(Buffer.from(String(stat), "base64").toString())).toMatchObject({ name: "big.bin", size: data.length });
    await head.body.dump();

    const back = path.join(workDir, "back.bin");
    await swarm("cp", "ops:/tmp/big.bin", back);
    expect(createHash("sha256").update(await fsp.readFile(back)).digest("hex")).toBe(sum);
  });

  it("four docker cp uploads at once, each relayed on its own, all arrive intact", async () => {
    const files = await Promise.all(
      [1, 2, 3, 4].map(async (n) => {
        const data = randomBytes(4 * 1024 * 1024 + n * 4099);
        const local = path.join(workDir, `many-${n}.bin`);
        await fsp.writeFile(local, data);
        return { n, local, sum: createHash("sha256").update(data).digest("hex") };
      }),
    );
    await Promise.all(files.map((file) => swarm("cp", file.local, `ops:/tmp/many-${file.n}.bin`)));
    const sums = (await out("exec", "ops", "sh", "-c", "sha256sum /tmp/many-*.bin")).split("\n").map((line) => line.split(/\s+/));
    expect(sums.map(([sum, name]) => [name, sum])).toEqual(files.map((file) => [`/tmp/many-${file.n}.bin`, file.sum]));
  });

  it("docker cp uploads leave no pipe open in the manager, succeeded or refused", async () => {
    const pipes = async () => {
      const fds = await fsp.readdir(`/proc/${manager.process.pid}/fd`);
      const targets = await Promise.all(fds.map((fd) => fsp.readlink(`/proc/${manager.process.pid}/fd/${fd}`).catch(() => "")));
      return targets.filter((target) => target.startsWith("pipe:")).length;
    };
    const before = await pipes();
    const local = path.join(workDir, "pipes.bin");
    await fsp.writeFile(local, randomBytes(256 * 1024));
    for (let i = 0; i < 6; i++) await swarm("cp", local, `ops:/tmp/pipes-${i}.bin`);
    // Refused by the engine: the directory does not exist.
    for (let i = 0; i < 3; i++) await swarm("cp", local, `ops:/nowhere/${i}/x.bin`).catch(() => undefined);
    expect(await pipes()).toBe(before);
  });

  it("an upload of known length (not chunked) arrives intact, spliced by the kernel relay", async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const tar = Buffer.concat([tarHeader("sized.bin", content.length), content, Buffer.alloc(tarPadding(content.length)), Buffer.alloc(1024)]);
    const res = await request(`${manager.url}/v1.41/containers/ops/archive?path=/tmp`, {
      method: "PUT",
      headers: { "content-type": "application/x-tar" },
      body: tar,
    });
    expect(res.statusCode).toBe(200);
    // The kernel relay took the body off Node's parser, which leaves the connection unusable after.
    expect(res.headers.connection).toBe("close");
    await res.body.dump();
    const sum = createHash("sha256").update(content).digest("hex");
    expect((await out("exec", "ops", "sha256sum", "/tmp/sized.bin")).split(" ")[0]).toBe(sum);
  });

  it("an upload that expects 100-continue gets the go-ahead before it sends its body", async () => {
    const content = randomBytes(256 * 1024);
    const tar = Buffer.concat([tarHeader("continued.bin", content.length), content, Buffer.alloc(tarPadding(content.length)), Buffer.alloc(1024)]);
    const client = net.connect({ host: "127.0.0.1", port: Number(manager.host.split(":")[1]) });
    let answer = "";
    client.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    await new Promise((resolve) => client.once("connect", resolve));
    client.write(
      "PUT /v1.41/containers/ops/archive?path=/tmp HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\n" +
        `Content-Length: ${tar.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await waitFor({
      what: `no 100 Continue came (got ${JSON.stringify(answer)})`,
      timeoutMs: 5_000,
      probe: async () => (answer.startsWith("HTTP/1.1 100 Continue\r\n\r\n") ? true : undefined),
    });
    client.end(tar);
    await new Promise((resolve) => client.once("close", resolve));
    expect(answer.split("\r\n\r\n")[1]?.split(" ")[1]).toBe("200");
    const sum = createHash("sha256").update(content).digest("hex");
    expect((await out("exec", "ops", "sha256sum", "/tmp/continued.bin")).split(" ")[0]).toBe(sum);
  });

  it("an engine's refusal reaches a client that is still sending its upload", async () => {
    // dockerd checks the destination before it reads the archive, so it answers mid-upload.
    const chunk = randomBytes(256 * 1024);
    async function* endless() {
      for (let i = 0; i < 400; i++) yield chunk;
    }
    const res = await request(`${manager.url}/v1.41/containers/ops/archive?path=/no/such/dir`, {
      method: "PUT",
      headers: { "content-type": "application/x-tar" },
      body: Readable.from(endless()),
    }).catch((err: unknown) => err as Error);
    if (res instanceof Error) throw res;
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toBe("application/json");
    // The engine names the container by the full ID the manager addressed it with.
    expect(JSON.parse(await res.body.text())).toEqual({ message: expect.stringMatching(/^Could not find the file \/no\/such\/dir in container [0-9a-f]{64}$/) });
  });

  it.each([
    [
      "cut short",
      (data: Buffer) => Buffer.concat([Buffer.from(`${(data.length + 100).toString(16)}\r\n`), data]),
      "request ended before its body was complete (fewer bytes than its Content-Length, or a chunked body without its last chunk)",
    ],
    ["with a chunk size that is not hex", (data: Buffer) => Buffer.concat([Buffer.from("zz\r\n"), data]), "invalid chunk size in a chunked request body"],
  ])("an upload %s gets a 400 that says so", async (_what, frame, message) => {
    const content = randomBytes(64 * 1024);
    const tar = Buffer.concat([tarHeader("broken.bin", content.length), content]);
    const client = net.connect({ host: "127.0.0.1", port: Number(manager.host.split(":")[1]) });
    const answer: Buffer[] = [];
    client.on("data", (chunk: Buffer) => answer.push(chunk));
    await new Promise((resolve) => client.once("connect", resolve));
    client.write("PUT /v1.41/containers/ops/archive?path=/tmp HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n");
    client.end(frame(tar));
    await new Promise((resolve) => client.once("close", resolve));
    const [head = "", body = ""] = Buffer.concat(answer).toString("utf8").split("\r\n\r\n");
    expect(head.split(" ")[1]).toBe("400");
    expect(JSON.parse(body)).toEqual({ message });
    expect(await out("exec", "ops", "true")).toBe("");
  });

  it("an upload the client abandons mid-way frees the manager's connection to the engine", async () => {
    const enginePort = Number((await out("inspect", "-f", "{{.Node.Addr}}", "ops")).split(":")[1]);
    const before = await establishedPorts(manager.process.pid, enginePort);
    const client = net.connect({ host: "127.0.0.1", port: Number(manager.host.split(":")[1]) });
    client.on("error", () => undefined);
    await new Promise((resolve) => client.once("connect", resolve));
    client.write(
      "PUT /v1.41/containers/ops/archive?path=/tmp HTTP/1.1\r\nHost: swarm\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    // A tar whose one file announces 1 GiB, then 4 MiB of it: the engine is busy extracting.
    // Every part is written whatever write() returns: false only means "buffered", and skipping the
    // rest when the manager reads slowly would send a malformed body.
    const sendChunk = (data: Buffer) => {
      client.write(`${data.length.toString(16)}\r\n`);
      client.write(data);
      client.write("\r\n");
    };
    sendChunk(tarHeader("abandoned.bin", 1024 ** 3));
    for (let i = 0; i < 16; i++) sendChunk(randomBytes(256 * 1024));
    let opened: number[] = [];
    await waitFor({
      what: "the manager opened no connection of its own to the engine for the upload",
      timeoutMs: 10_000,
      probe: async () => {
        opened = [...(await establishedPorts(manager.process.pid, enginePort))].filter((p) => !before.has(p));
        return opened.length > 0 ? true : undefined;
      },
    });
    client.destroy();
    await waitFor({
      what: `the manager kept its engine connection(s) ${opened.join(",")} after the client left`,
      timeoutMs: 10_000,
      probe: async () => {
        const now = await establishedPorts(manager.process.pid, enginePort);
        return opened.every((p) => !now.has(p)) ? true : undefined;
      },
    });
    // The engine took no harm: the next call through the manager works.
    expect(await out("exec", "ops", "true")).toBe("");
  });

  it("says which containers a shared name or ID prefix could mean", async () => {
    const [node1, node2] = cluster.engines;
    // The same name on both nodes: each engine allows it, the cluster cannot tell them apart.
    await docker(node1!, ["create", "--network", "none", "--name", "twin", "busybox", "true"]);
    await docker(node2!, ["create", "--network", "none", "--name", "twin", "busybox", "true"]);
    // Seventeen IDs over sixteen hex digits: at least two share their first character.
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push((await docker(cluster.engines[i % 2]!, ["create", "--network", "none", "busybox", "true"])).stdout.trim());
    const shared = [...new Set(ids.map((id) => id[0]!))].find((c) => ids.filter((id) => id.startsWith(c)).length > 1)!;
    await waitFor({
      what: "the manager did not learn of the containers created on the engines",
      timeoutMs: 10_000,
      probe: async () => ((await out("ps", "-aq", "--no-trunc")).split("\n").length >= ids.length + 2 ? true : undefined),
    });
    try {
      const byName = await swarm("stop", "twin").then(() => "stopped", (err: Error) => err.message);
      expect(byName).toContain("No such container: twin (2 containers have that name: node-1/twin, node-2/twin; name one as <node>/<name>)");
      expect(await out("inspect", "-f", "{{.Name}}", "node-2/twin")).toBe("/twin");

      const res = await request(`${manager.url}/v1.41/containers/${shared}/json`);
      expect(res.statusCode).toBe(500);
      expect(await res.body.json()).toEqual({ message: `Multiple IDs found with provided prefix: ${shared}` });
    } finally {
      await swarm("rm", "node-1/twin", "node-2/twin", ...ids);
    }
  });

  it("addresses a container as <node>/<name> in every container command", async () => {
    const node2 = cluster.engines[1]!.name;
    await run("--name", "qualified", "-e", `constraint:node==${node2}`, "busybox", "sh", "-c", "echo hello-from-qualified; sleep 600");
    const ref = `${node2}/qualified`;
    expect(await out("inspect", "-f", "{{.Name}} {{.Node.Name}}", ref)).toBe(`/qualified ${node2}`);
    expect(await out("logs", ref)).toBe("hello-from-qualified");
    expect(await out("exec", ref, "cat", "/etc/hostname")).not.toBe("");
    await fsp.writeFile(path.join(workDir, "note.txt"), "qualified\n");
    await swarm("cp", path.join(workDir, "note.txt"), `${ref}:/tmp/note.txt`);
    expect(await out("exec", ref, "cat", "/tmp/note.txt")).toBe("qualified");
    await swarm("stop", "-t", "1", ref);
    expect(await out("inspect", "-f", "{{.State.Running}}", ref)).toBe("false");
    await swarm("rm", ref);
    expect(await out("ps", "-a", "--filter", "name=qualified", "-q")).toBe("");
  });

  it("docker rename", async () => {
    await run("--name", "before-rename", "busybox", "sleep", "600");
    await swarm("rename", "before-rename", "after-rename");
    expect(await out("inspect", "-f", "{{.Name}}", "after-rename")).toBe("/after-rename");
    expect(await out("ps", "--filter", "name=after-rename", "--format", "{{.Names}}")).toMatch(/\/after-rename$/);
  });

  it("docker update -m shows up in docker info's Reserved Memory at once", async () => {
    await run("--name", "upd", "busybox", "sleep", "600");
    expect(await reservedMemory()).toEqual(["0 B", "0 B"]);
    await swarm("update", "-m", "64m", "--memory-swap", "128m", "upd");
    expect((await reservedMemory()).sort()).toEqual(["0 B", "64 MiB"]);
    expect(await out("inspect", "-f", "{{.HostConfig.Memory}}", "upd")).toBe(String(64 * 1024 * 1024));
  });

  it("docker pause and unpause are visible in docker ps and docker inspect at once", async () => {
    const pausedState = () => out("inspect", "-f", "{{.State.Paused}} {{.State.Status}}", "ops");
    expect(await pausedState()).toBe("false running");
    await swarm("pause", "ops");
    expect(await out("ps", "--filter", "name=ops", "--format", "{{.Status}}")).toMatch(/\(Paused\)$/);
    expect(await pausedState()).toBe("true paused");
    await swarm("unpause", "ops");
    expect(await out("ps", "--filter", "name=ops", "--format", "{{.Status}}")).toMatch(/^Up [^()]*$/);
    expect(await pausedState()).toBe("false running");
    // Back to back over the API (no CLI start-up time to hide a late refresh).
    const paused = encodeURIComponent(JSON.stringify({ status: ["paused"] }));
    for (let i = 0; i < 3; i++) {
      const pause = await request(`${manager.url}/v1.41/containers/ops/pause`, { method: "POST" });
      expect(pause.statusCode).toBe(204);
      await pause.body.dump();
      const listed = await request(`${manager.url}/v1.41/containers/json?filters=${paused}`);
      expect(((await listed.body.json()) as Array<{ Names: string[] }>).map((c) => c.Names[0])).toEqual([expect.stringMatching(/\/ops$/)]);
      const unpause = await request(`${manager.url}/v1.41/containers/ops/unpause`, { method: "POST" });
      expect(unpause.statusCode).toBe(204);
      await unpause.body.dump();
      const after = await request(`${manager.url}/v1.41/containers/json?filters=${paused}`);
      expect(await after.body.json()).toEqual([]);
    }
  });

  it("docker wait returns the exit code; POST resize reaches the engine", async () => {
    await run("--name", "waiter", "busybox", "sh", "-c", "sleep 1; exit 7");
    expect(await out("wait", "waiter")).toBe("7");
    await run("-t", "--name", "tty", "busybox", "sleep", "600");
    const resize = await request(`${manager.url}/v1.41/containers/tty/resize?h=40&w=100`, { method: "POST" });
    expect(resize.statusCode).toBe(200);
    await resize.body.dump();
  });

  it("docker container prune -f on every node, honouring filters", async () => {
    const nodes = cluster.engines.map((e) => e.name);
    for (const [i, node] of nodes.entries()) {
      await swarm("run", "--network", "none", "--name", `prune-${i}`, "--label", "prune=yes", "-e", `constraint:node==${node}`, "busybox", "true");
    }
    await swarm("run", "--network", "none", "--name", "keep-me", "busybox", "true");
    const ids = await Promise.all(nodes.map((_, i) => out("inspect", "-f", "{{.Id}}", `prune-${i}`)));
    const result = await out("container", "prune", "-f", "--filter", "label=prune=yes");
    expect(result).toContain("Deleted Containers:");
    for (const id of ids) expect(result).toContain(id);
    const left = await out("ps", "-a", "--format", "{{.Names}}");
    expect(left).not.toMatch(/prune-/);
    expect(left).toMatch(/\/keep-me/);
    // The engine answers 400 for a bad filter; the manager passes it on.
    await expect(swarm("container", "prune", "-f", "--filter", "bogus=1")).rejects.toThrow(/nvalid filter/);
  });

  it("docker commit makes the image usable at once", async () => {
    const node = await out("inspect", "-f", "{{.Node.Name}}", "ops");
    const id = await out("commit", "ops", "committed:v1");
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await out("images", "--format", "{{.Repository}}:{{.Tag}}")).toContain("committed:v1");
    const result = await swarm("run", "--rm", "--network", "none", "committed:v1", "ls", "/tmp/newfile");
    expect(result.stdout.trim()).toBe("/tmp/newfile");
    expect(node).not.toBe("");
    await expect(swarm("commit", "nope", "x:y")).rejects.toThrow(/No such container: nope/);
  });
});

/** A ustar header for one regular file (what dockerd's archive extraction reads first). */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value.padEnd(length, "\0").slice(0, length), offset, "latin1");
  const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\0`;
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(Math.floor(Date.now() / 1000), 12));
  field(148, 8, " ".repeat(8));
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** Zero bytes that complete a file's last 512-byte block. */
function tarPadding(size: number): number {
  return (512 - (size % 512)) % 512;
}
