import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { request } from "undici";
import { cleanEnv, freePort, makeTempDir, ownedDir, RestartableProcess } from "./processes.js";

export interface StartRegistryOptions {
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Default /usr/bin/docker-registry. */
  readonly registry?: string;
}

/**
 * A Docker registry v2 on 127.0.0.1 with filesystem storage. Engines push and pull to it without TLS,
 * because dockerd treats 127.0.0.0/8 registries as insecure-allowed by default.
 */
export interface TestRegistry {
  /** "127.0.0.1:PORT", the prefix for image references: `${address}/busybox:latest`. */
  readonly address: string;
  /** "http://127.0.0.1:PORT". */
  readonly url: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  /** Stop the registry and delete its storage. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await makeTempDir("swt-reg-");
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const storage = path.join(dir, "storage");
  const config = path.join(dir, "config.yml");
  const logFile = path.join(dir, "registry.log");
  await fsp.mkdir(storage);
  // JSON is valid YAML, and spares us quoting rules for paths.
  await fsp.writeFile(
    config,
    JSON.stringify(
      {
        version: 0.1,
        log: { level: "info", accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
        http: { addr: address },
      },
      null,
      2,
    ),
  );
  const daemon = new RestartableProcess({
    name: `docker-registry on ${address}`,
    command: options.registry ?? "/usr/bin/docker-registry",
    args: ["serve", config],
    // REGISTRY_* variables override config.yml entries one by one; an inherited one would change the storage or port.
    env: cleanEnv(["REGISTRY_"]),
    logFile,
    notReady: `docker-registry did not answer GET ${url}/v2/ with 200`,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    ready: async (signal) => {
      const res = await request(`${url}/v2/`, { signal, reset: true });
      await res.body.dump();
      return res.statusCode === 200;
    },
  });
  const owner = ownedDir(dir, `docker-registry in ${dir}`, () => daemon.stop());
  try {
    await daemon.start();
  } catch (err) {
    await owner.dispose().catch(() => undefined);
    throw err;
  }
  return {
    address,
    url,
    logFile,
    get pid() {
      return daemon.pid;
    },
    stop: owner.dispose,
  };
}
