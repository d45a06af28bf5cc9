import { existsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { cleanEnv, freePort, makeTempDir, ownedDir, RestartableProcess } from "./processes.js";

export interface StartZookeeperOptions {
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Default /usr/bin/java. */
  readonly java?: string;
}

/** A standalone ZooKeeper 3.8 (Debian's jars) on 127.0.0.1 with its own data dir. */
export interface TestZookeeper {
  /** "127.0.0.1:PORT" (client port). */
  readonly endpoint: string;
  /** "zk://127.0.0.1:PORT". */
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Graceful stop; data and port are kept for start(). */
  stop(): Promise<void>;
  /** Start again on the same port and data dir; resolves once it answers ruok with imok. */
  start(): Promise<void>;
  kill(): Promise<void>;
  /** Stop and delete the data dir. Safe to call twice. */
  dispose(): Promise<void>;
}

const JAVA_DIR = "/usr/share/java";
/**
 * zookeeper.jar's manifest Class-Path already names its runtime dependencies (netty, jute, slf4j-api, jackson,
 * jetty, …), as Debian's zkEnv.sh relies on. We add only an slf4j binding, so its log reaches our log file.
 */
const EXTRA_JARS = ["slf4j-log4j12.jar", "log4j-1.2.jar"];

const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
`;

export async function startZookeeper(options: StartZookeeperOptions = {}): Promise<TestZookeeper> {
  const zookeeperJar = path.join(JAVA_DIR, "zookeeper.jar");
  if (!existsSync(zookeeperJar)) throw new Error(`${zookeeperJar} is missing; install Debian's zookeeper package`);
  const dir = await makeTempDir("swt-zk-");
  const port = await freePort();
  const endpoint = `127.0.0.1:${port}`;
  const confDir = path.join(dir, "conf");
  const dataDir = path.join(dir, "data");
  const logFile = path.join(dir, "zookeeper.log");
  await fsp.mkdir(confDir);
  await fsp.mkdir(dataDir);
  const zooCfg = path.join(confDir, "zoo.cfg");
  await fsp.writeFile(
    zooCfg,
    [
      "tickTime=500",
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "4lw.commands.whitelist=ruok,stat",
      "",
    ].join("\n"),
  );
  await fsp.writeFile(path.join(confDir, "log4j.properties"), LOG4J_PROPERTIES);
  const classPath = [confDir, zookeeperJar, ...EXTRA_JARS.map((jar) => path.join(JAVA_DIR, jar)).filter((jar) => existsSync(jar))];

  const daemon = new RestartableProcess({
    name: `zookeeper on ${endpoint}`,
    command: options.java ?? "/usr/bin/java",
    args: [
      "-Xms32m",
      "-Xmx256m",
      "-XX:+UseSerialGC",
      // Keep the JVM from writing hsperfdata into the shared /tmp.
      "-XX:-UsePerfData",
      `-Dzookeeper.log.dir=${dir}`,
      "-Dzookeeper.jmx.log4j.disable=true",
      "-cp",
      classPath.join(":"),
      "org.apache.zookeeper.server.quorum.QuorumPeerMain",
      zooCfg,
    ],
    // JVMFLAGS/JAVA_TOOL_OPTIONS/CLASSPATH from the environment would change what runs.
    env: cleanEnv(["JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "JVMFLAGS", "ZOO"]),
    logFile,
    notReady: `zookeeper did not answer "ruok" with "imok" on ${endpoint}`,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    ready: async (signal) => (await fourLetterWord(endpoint, "ruok", signal)) === "imok",
  });
  const owner = ownedDir(dir, `zookeeper in ${dir}`, () => daemon.stop());
  try {
    await daemon.start();
  } catch (err) {
    await owner.dispose().catch(() => undefined);
    throw err;
  }
  return {
    endpoint,
    url: `zk://${endpoint}`,
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

/**
 * Send a ZooKeeper four-letter command ("ruok", "stat", …) and return the whole reply.
 * The server closes the connection after answering, which marks the end of the reply.
 */
export function fourLetterWord(endpoint: string, word: string, signal?: AbortSignal): Promise<string> {
  const sep = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, sep);
  const port = Number(endpoint.slice(sep + 1));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    const onAbort = (): void => {
      socket.destroy();
      reject(new Error(`no reply to "${word}" from zookeeper on ${endpoint} in time`));
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("connect", () => socket.end(word));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    socket.on("close", () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}
