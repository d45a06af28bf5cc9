import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { cleanEnv, errorMessage, formatDuration, makeTempDir, registerCleanup } from "./processes.js";

/**
 * Where to reach an engine: a TestEngine (anything with a url), "http://127.0.0.1:PORT",
 * "tcp://127.0.0.1:PORT", "127.0.0.1:PORT", "unix:///path/docker.sock" or "/path/docker.sock".
 */
export type EngineTarget = string | { readonly url: string };

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface DockerOptions {
  /** Default 120 s; the CLI (our child, by pid) is killed when it runs over. */
  readonly timeoutMs?: number;
}

const BUSYBOX = "/bin/busybox";
const DOCKER_CLI = "docker";

/** The value for `docker -H`. */
export function dockerHost(target: EngineTarget): string {
  const raw = typeof target === "string" ? target : target.url;
  if (raw.startsWith("unix://") || raw.startsWith("tcp://")) return raw;
  if (raw.startsWith("/")) return `unix://${raw}`;
  if (raw.startsWith("http://")) return `tcp://${raw.slice("http://".length).replace(/\/$/, "")}`;
  if (raw.startsWith("https://")) {
    throw new Error(`engine address ${raw} uses TLS, which the test harness does not configure; use its plain tcp:// address`);
  }
  return `tcp://${raw}`;
}

let cacheDir: Promise<string> | undefined;

/** One private DOCKER_CONFIG and tarball cache per test process, removed when the process ends. */
function workDir(): Promise<string> {
  cacheDir ??= (async () => {
    const dir = await makeTempDir("swt-bb-");
    registerCleanup({
      name: `busybox cache in ${dir}`,
      dispose: () => fsp.rm(dir, { recursive: true, force: true }),
      disposeSync: () => rmSync(dir, { recursive: true, force: true }),
      reaper: { kind: "dir", name: `busybox cache in ${dir}`, path: dir },
    });
    return dir;
  })();
  return cacheDir;
}

/** Run the docker CLI against one engine; rejects with the CLI's stderr when it exits non-zero. */
export async function docker(target: EngineTarget, args: readonly string[], options: DockerOptions = {}): Promise<DockerResult> {
  const host = dockerHost(target);
  const dir = await workDir();
  // Our own DOCKER_CONFIG keeps $HOME/.docker (contexts, credential helpers) out of the test.
  const env = cleanEnv(["DOCKER_"], { DOCKER_CONFIG: path.join(dir, "docker-config"), DOCKER_CLI_HINTS: "false" });
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise<DockerResult>((resolve, reject) => {
    execFile(
      DOCKER_CLI,
      ["-H", host, ...args],
      { env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const why = err.killed ? `was killed after ${formatDuration(timeoutMs)}` : `failed (${err.message.split("\n")[0] ?? ""})`;
        reject(new Error(`docker -H ${host} ${args.join(" ")} ${why}; stderr: ${stderr.trim() || "(empty)"}`));
      },
    );
  });
}

let tarball: Promise<string> | undefined;

/** rootfs = static busybox + one symlink per applet + minimal /etc, tarred once per test process. */
function busyboxTarball(): Promise<string> {
  tarball ??= buildTarball().catch((err: unknown) => {
    tarball = undefined;
    throw err;
  });
  return tarball;
}

async function buildTarball(): Promise<string> {
  const dir = await workDir();
  const rootfs = path.join(dir, "rootfs");
  const out = path.join(dir, "busybox.tar");
  await fsp.rm(rootfs, { recursive: true, force: true });
  for (const sub of ["bin", "etc", "root", "tmp"]) await fsp.mkdir(path.join(rootfs, sub), { recursive: true });
  await fsp.chmod(path.join(rootfs, "tmp"), 0o1777);
  try {
    await fsp.copyFile(BUSYBOX, path.join(rootfs, "bin", "busybox"));
  } catch (err) {
    throw new Error(`cannot read ${BUSYBOX} (${errorMessage(err)}); install the busybox-static package`, { cause: err });
  }
  await fsp.chmod(path.join(rootfs, "bin", "busybox"), 0o755);
  const applets = (await run(BUSYBOX, ["--list"])).split("\n").map((s) => s.trim());
  for (const applet of applets) {
    if (applet === "" || applet === "busybox" || applet.includes("/")) continue;
    await fsp.symlink("busybox", path.join(rootfs, "bin", applet));
  }
  await fsp.writeFile(
    path.join(rootfs, "etc", "passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  await fsp.writeFile(path.join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", rootfs, "-cf", out, "."]);
  return out;
}

/**
 * Make `tag` (a busybox image: CMD ["sh"], PATH=/bin) exist on every target, importing it in parallel
 * where it is missing. No registry or network access is needed.
 */
export async function ensureBusyboxImage(
  targets: EngineTarget | readonly EngineTarget[],
  tag = "busybox:latest",
): Promise<void> {
  const list = isTargetList(targets) ? targets : [targets];
  const results = await Promise.allSettled(
    list.map(async (target) => {
      if (await hasImage(target, tag)) return;
      const tar = await busyboxTarball();
      try {
        await docker(target, ["import", "-c", 'CMD ["sh"]', "-c", "ENV PATH=/bin", tar, tag]);
      } catch (err) {
        throw new Error(`importing ${tag} into ${dockerHost(target)} failed: ${errorMessage(err)}`, { cause: err });
      }
    }),
  );
  const failures = results.flatMap((r) => (r.status === "rejected" ? [errorMessage(r.reason)] : []));
  if (failures.length > 0) throw new Error(failures.join("\n"));
}

function isTargetList(targets: EngineTarget | readonly EngineTarget[]): targets is readonly EngineTarget[] {
  return Array.isArray(targets);
}

async function hasImage(target: EngineTarget, tag: string): Promise<boolean> {
  try {
    await docker(target, ["image", "inspect", "--format", "{{.Id}}", tag], { timeoutMs: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
    });
  });
}
