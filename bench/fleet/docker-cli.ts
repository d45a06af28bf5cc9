/**
 * What the docker CLI sends for `docker run`: captured by pointing the real CLI at a tiny HTTP
 * server that plays just enough of an engine (ping, create, wait, start), so benchmarks and tests
 * create containers with the very body the CLI of this machine produces.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";

export interface CapturedCreate {
  /** The CLI's version string (`Docker-Client/28.2.2 (linux)`), or where the body came from. */
  readonly userAgent: string;
  /** `/v1.41/containers/create` with its query (`?name=…` when `--name` was given). */
  readonly url: string;
  readonly body: string;
}

/**
 * `docker run -d busybox sleep 600` as docker CLI 28.2.2 sent it (API 1.41), for machines without
 * a docker CLI. `captureDockerRun` gives the current CLI's.
 */
export const RECORDED_RUN_BODY = JSON.stringify({
  Hostname: "",
  Domainname: "",
  User: "",
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: ["sleep", "600"],
  Image: "busybox",
  Volumes: {},
  WorkingDir: "",
  Entrypoint: null,
  OnBuild: null,
  Labels: {},
  HostConfig: {
    Binds: null,
    ContainerIDFile: "",
    LogConfig: { Type: "", Config: {} },
    NetworkMode: "default",
    PortBindings: {},
    RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: "",
    VolumesFrom: null,
    ConsoleSize: [0, 0],
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: "",
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: "",
    Cgroup: "",
    Links: null,
    OomScoreAdj: 0,
    PidMode: "",
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: "",
    UsernsMode: "",
    ShmSize: 0,
    Isolation: "",
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: "",
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: "",
    CpusetMems: "",
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: -1,
    OomKillDisable: false,
    PidsLimit: 0,
    Ulimits: [],
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: null,
    ReadonlyPaths: null,
  },
  NetworkingConfig: {
    EndpointsConfig: {
      default: {
        IPAMConfig: null,
        Links: null,
        Aliases: null,
        MacAddress: "",
        DriverOpts: null,
        GwPriority: 0,
        NetworkID: "",
        EndpointID: "",
        Gateway: "",
        IPAddress: "",
        IPPrefixLen: 0,
        IPv6Gateway: "",
        GlobalIPv6Address: "",
        GlobalIPv6PrefixLen: 0,
        DNSNames: null,
      },
    },
  },
});

/**
 * Runs `docker run <args>` (e.g. `["-d", "busybox", "sleep", "600"]`) against a throw-away server
 * and returns the create request it sent. Rejects if the CLI is missing or sends no create.
 */
export async function captureDockerRun(args: readonly string[], dockerBin = "docker"): Promise<CapturedCreate> {
  let captured: CapturedCreate | undefined;
  const id = randomBytes(32).toString("hex");
  const headers = { "Api-Version": "1.41", "Docker-Experimental": "false", Ostype: "linux", Server: "Docker/20.10.24 (linux)" };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = req.url ?? "/";
      const route = url.split("?")[0]!.replace(/^\/v[0-9.]+/, "");
      if (route === "/_ping") {
        res.writeHead(200, { ...headers, "Content-Type": "text/plain; charset=utf-8" });
        res.end(req.method === "HEAD" ? undefined : "OK");
      } else if (req.method === "POST" && route === "/containers/create") {
        captured = { userAgent: String(req.headers["user-agent"] ?? ""), url, body: Buffer.concat(chunks).toString("utf8") };
        res.writeHead(201, { ...headers, "Content-Type": "application/json" });
        res.end(`${JSON.stringify({ Id: id, Warnings: [] })}\n`);
      } else if (req.method === "POST" && route === `/containers/${id}/wait`) {
        // Held open, as for a container that keeps running; the CLI stops waiting once it detaches.
        res.writeHead(200, { ...headers, "Content-Type": "application/json" });
        res.flushHeaders();
      } else if (req.method === "POST" && route === `/containers/${id}/start`) {
        res.writeHead(204, headers);
        res.end();
      } else {
        res.writeHead(404, { ...headers, "Content-Type": "application/json" });
        res.end(`${JSON.stringify({ message: "page not found" })}\n`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as { port: number }).port;
  const config = mkdtempSync(path.join(os.tmpdir(), "docker-cli-capture-"));
  try {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: "false" };
    await new Promise<void>((resolve, reject) => {
      execFile(dockerBin, ["-H", `tcp://127.0.0.1:${port}`, "run", ...args], { env, timeout: 30_000, killSignal: "SIGKILL" }, (err, _stdout, stderr) => {
        if (err && captured === undefined) reject(new Error(`docker run ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(config, { recursive: true, force: true });
  }
  if (!captured) throw new Error(`docker run ${args.join(" ")} sent no create request`);
  return captured;
}
