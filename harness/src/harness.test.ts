import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountsUnder } from "./engines.js";
import {
  docker,
  ensureBusyboxImage,
  fourLetterWord,
  startEngines,
  startEtcd,
  startRegistry,
  startZookeeper,
  type TestEngine,
  type TestEngines,
  type TestEtcd,
  type TestZookeeper,
} from "./index.js";
import { pidAlive } from "./processes.js";

interface EngineInfo {
  ID: string;
  Name: string;
  Labels: string[] | null;
}

async function info(engine: TestEngine): Promise<EngineInfo> {
  const res = await request(`${engine.url}/info`, { reset: true });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as EngineInfo;
}

async function ping(url: string): Promise<string> {
  const res = await request(`${url}/_ping`, { reset: true });
  return res.body.text();
}

function engineAt(cluster: TestEngines | undefined, index: number): TestEngine {
  const engine = cluster?.engines[index];
  if (engine === undefined) throw new Error(`engine ${index + 1} was not started; see the beforeAll error`);
  return engine;
}

function processesMentioning(dir: string): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir) && pidAlive(pid);
      } catch {
        return false;
      }
    });
}

describe("test engines", () => {
  let cluster: TestEngines | undefined;
  // Every dockerd and container pid we ever saw, so afterAll can prove none survived.
  const pids = new Set<number>();
  // Files outside baseDir that the engines create and teardown must remove.
  const files = new Set<string>();
  const remember = (): void => {
    for (const engine of cluster?.engines ?? []) if (engine.pid !== undefined) pids.add(engine.pid);
  };

  beforeAll(async () => {
    cluster = await startEngines(2, { labels: (i) => ({ region: i === 0 ? "eu" : "us" }) });
    remember();
  }, 180_000);

  afterAll(async () => {
    if (cluster === undefined) return;
    remember();
    await cluster.stopAll();
    await cluster.stopAll();
    expect([...pids].filter(pidAlive)).toEqual([]);
    expect(mountsUnder(cluster.baseDir)).toEqual([]);
    expect(processesMentioning(cluster.baseDir)).toEqual([]);
    expect(existsSync(cluster.baseDir)).toBe(false);
    expect([...files].filter((file) => existsSync(file))).toEqual([]);
  }, 180_000);

  it("gives each engine its node name, its labels and its own ID", async () => {
    const [one, two] = [await info(engineAt(cluster, 0)), await info(engineAt(cluster, 1))];
    expect(one.Name).toBe("node-1");
    expect(two.Name).toBe("node-2");
    expect(one.Labels).toEqual(["region=eu"]);
    expect(two.Labels).toEqual(["region=us"]);
    expect(one.ID).not.toBe(two.ID);
    expect(engineAt(cluster, 0).host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("imports busybox into every engine and runs a container", async () => {
    const engines = cluster?.engines ?? [];
    await ensureBusyboxImage(engines);
    // A second call finds the image and does nothing.
    await ensureBusyboxImage(engines);
    const { stdout } = await docker(engineAt(cluster, 0), ["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    expect(stdout.trim()).toBe("hi");
    const { stdout: hostname } = await docker(engineAt(cluster, 1), ["run", "--rm", "--network", "none", "busybox", "hostname"]);
    expect(hostname.trim()).toMatch(/^[0-9a-f]{12}$/);
  });

  it("pushes to and pulls from a local registry without TLS", async () => {
    const registry = await startRegistry();
    try {
      const image = `${registry.address}/busybox:latest`;
      await ensureBusyboxImage(engineAt(cluster, 0));
      await docker(engineAt(cluster, 0), ["tag", "busybox:latest", image]);
      await docker(engineAt(cluster, 0), ["push", image]);
      await docker(engineAt(cluster, 1), ["pull", image]);
      const { stdout } = await docker(engineAt(cluster, 1), ["run", "--rm", "--network", "none", image, "echo", "pulled"]);
      expect(stdout.trim()).toBe("pulled");
    } finally {
      await registry.stop();
    }
  });

  it("restarts an engine after SIGKILL on the same port, with its containers and images", async () => {
    const engine = engineAt(cluster, 0);
    await ensureBusyboxImage(engine);
    // sleep ignores SIGTERM as pid 1; a short stop timeout keeps dockerd's restore from waiting the default 10 s.
    const { stdout: id } = await docker(engine, ["run", "-d", "--stop-timeout=1", "--network", "none", "busybox", "sleep", "600"]);
    const { stdout: containerPid } = await docker(engine, ["inspect", "--format", "{{.State.Pid}}", id.trim()]);
    pids.add(Number(containerPid.trim()));
    const before = engine.pid;
    await engine.kill();
    expect(engine.pid).toBeUndefined();
    expect(engine.isRunning()).toBe(false);
    await expect(ping(engine.url)).rejects.toThrow();
    await engine.start();
    remember();
    expect(engine.pid).not.toBe(before);
    expect(await ping(engine.url)).toBe("OK");
    expect((await info(engine)).Name).toBe("node-1");
    const { stdout: images } = await docker(engine, ["images", "--format", "{{.Repository}}"]);
    expect(images.split("\n")).toContain("busybox");
  });

  it("leaves nothing behind when an engine is killed with a running container and never restarted", async () => {
    const engine = engineAt(cluster, 1);
    await ensureBusyboxImage(engine);
    const { stdout: id } = await docker(engine, ["run", "-d", "--network", "none", "busybox", "sleep", "600"]);
    const { stdout: containerPid } = await docker(engine, ["inspect", "--format", "{{.State.Pid}}", id.trim()]);
    pids.add(Number(containerPid.trim()));
    remember();
    await engine.kill();
    // Cleanup is verified in afterAll.
    expect(pidAlive(Number(containerPid.trim()))).toBe(true);
    const containerd = `${cluster?.baseDir ?? ""}/n2/x/containerd/containerd.sock`;
    const shimSocket = `/run/containerd/s/${createHash("sha256").update(`${containerd}/moby/${id.trim()}`).digest("hex")}`;
    expect(existsSync(shimSocket)).toBe(true);
    files.add(shimSocket);
  });
});

describe("etcd", () => {
  let etcd: TestEtcd | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
  }, 120_000);
  afterAll(async () => {
    const pid = etcd?.pid;
    await etcd?.dispose();
    await etcd?.dispose();
    if (pid !== undefined) expect(pidAlive(pid)).toBe(false);
  }, 120_000);

  const b64 = (s: string): string => Buffer.from(s).toString("base64");

  async function get(key: string): Promise<string | undefined> {
    if (etcd === undefined) throw new Error("etcd was not started");
    const res = await request(`${etcd.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: b64(key) }), reset: true });
    const body = (await res.body.json()) as { kvs?: { value: string }[] };
    const value = body.kvs?.[0]?.value;
    return value === undefined ? undefined : Buffer.from(value, "base64").toString();
  }

  it("stores a key through the v3 JSON gateway and keeps it across a restart", async () => {
    if (etcd === undefined) throw new Error("etcd was not started");
    const put = await request(`${etcd.url}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: b64("swarm/test"), value: b64("hello") }),
      reset: true,
    });
    expect(put.statusCode).toBe(200);
    await put.body.dump();
    expect(await get("swarm/test")).toBe("hello");
    await etcd.stop();
    expect(etcd.isRunning()).toBe(false);
    await etcd.start();
    expect(await get("swarm/test")).toBe("hello");
  });
});

describe("zookeeper", () => {
  let zk: TestZookeeper | undefined;
  beforeAll(async () => {
    zk = await startZookeeper();
  }, 120_000);
  afterAll(async () => {
    const pid = zk?.pid;
    await zk?.dispose();
    if (pid !== undefined) expect(pidAlive(pid)).toBe(false);
  }, 120_000);

  it("answers ruok, also after being killed and restarted", async () => {
    if (zk === undefined) throw new Error("zookeeper was not started");
    expect(await fourLetterWord(zk.endpoint, "ruok")).toBe("imok");
    await zk.kill();
    await expect(fourLetterWord(zk.endpoint, "ruok")).rejects.toThrow();
    await zk.start();
    expect(await fourLetterWord(zk.endpoint, "ruok")).toBe("imok");
  });
});

describe("registry", () => {
  it("serves GET /v2/ and is gone after stop()", async () => {
    const registry = await startRegistry();
    const pid = registry.pid;
    try {
      const res = await request(`${registry.url}/v2/`, { reset: true });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    } finally {
      await registry.stop();
      await registry.stop();
    }
    if (pid !== undefined) expect(pidAlive(pid)).toBe(false);
  }, 120_000);
});
