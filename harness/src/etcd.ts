import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { request } from "undici";
import { cleanEnv, freePorts, makeTempDir, ownedDir, RestartableProcess } from "./processes.js";

export interface StartEtcdOptions {
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Default /usr/bin/etcd. */
  readonly etcd?: string;
}

/** A single-member etcd 3.4 on 127.0.0.1 with its own data dir. */
export interface TestEtcd {
  /** "127.0.0.1:PORT" (client port). */
  readonly endpoint: string;
  /** "http://127.0.0.1:PORT"; the v3 JSON gateway lives under /v3/. */
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Graceful stop; data and ports are kept for start(). */
  stop(): Promise<void>;
  /** Start again on the same ports and data dir; resolves once GET /health reports healthy. */
  start(): Promise<void>;
  kill(): Promise<void>;
  /** Stop and delete the data dir. Safe to call twice. */
  dispose(): Promise<void>;
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<TestEtcd> {
  const dir = await makeTempDir("swt-etcd-");
  const [clientPort, peerPort] = await freePorts(2);
  if (clientPort === undefined || peerPort === undefined) throw new Error("could not reserve ports for etcd");
  const endpoint = `127.0.0.1:${clientPort}`;
  const url = `http://${endpoint}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = path.join(dir, "data");
  const logFile = path.join(dir, "etcd.log");
  await fsp.mkdir(dataDir, { mode: 0o700 });

  const daemon = new RestartableProcess({
    name: `etcd on ${endpoint}`,
    command: options.etcd ?? "/usr/bin/etcd",
    args: [
      "--name=n",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=n=${peerUrl}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-outputs=stderr",
    ],
    // etcd reads every flag from ETCD_* too; an inherited one would silently override ours.
    env: cleanEnv(["ETCD_", "ETCDCTL_"]),
    logFile,
    notReady: `etcd did not report healthy on GET ${url}/health`,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    ready: async (signal) => {
      const res = await request(`${url}/health`, { signal, reset: true });
      const body: unknown = await res.body.json();
      return res.statusCode === 200 && typeof body === "object" && body !== null && "health" in body && body.health === "true";
    },
  });
  const owner = ownedDir(dir, `etcd in ${dir}`, () => daemon.stop());
  try {
    await daemon.start();
  } catch (err) {
    await owner.dispose().catch(() => undefined);
    throw err;
  }
  return {
    endpoint,
    url,
    dataDir,
    logFile,
    get pid() {
      return daemon.pid;
    },
    isRunning: () => daemon.isRunning(),
    stop: () => daemon.stop(),
    start: () => daemon.start(),
    kill: () => daemon.kill(),
    dispose: owner.dispose,
  };
}
