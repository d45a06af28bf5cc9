import { Option, type Command } from "commander";
import { loadConfig } from "../config/load.js";
import type { SwarmConfig } from "../config/schema.js";
import { resolveManagerSettings } from "../config/settings.js";
import { DEFAULT_FILTERS } from "../constants.js";
import { startManager } from "../manager/manager.js";
import { DISCOVERY_FORMS_HELP } from "./join.js";
import { errors, errorMessage } from "../errors/catalog.js";
import type { Logger } from "../extension-points/plugin.js";
import { watch } from "node:fs";
import { setFlagsFromString } from "node:v8";
import path from "node:path";
import { advertiseOf, collect, collectAddresses, discoveryArgument, fatal, integerOption, keyValuePairs, logFormatOf, logLevelOf, makeLogger, type GlobalOptions } from "./common.js";

interface ManageFlags {
  config?: string;
  strategy?: string;
  filter?: string[];
  host?: string[];
  replication?: boolean;
  replicationTtl?: string;
  advertise?: string;
  addr?: string;
  tls?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  tlsverify?: boolean;
  engineRefreshMinInterval?: string;
  engineRefreshMaxInterval?: string;
  engineFailureRetry?: number;
  engineRefreshRetry?: number;
  heartbeat?: string;
  apiEnableCors?: boolean;
  cors?: boolean;
  clusterDriver?: string;
  clusterOpt?: string[];
  discoveryOpt?: string[];
  refreshOnNodeFilter?: boolean;
  containerNameRefreshFilter?: string;
  ui?: boolean;
  metricsAddr?: string;
  monitorContainers?: string;
  monitorConcurrency?: number;
  watchConfig?: boolean;
  uploadIdleTimeout?: string;
  uploadRelay?: boolean;
  heapGrowth?: number;
}

/** Flags map onto the config file's keys; only flags actually given appear, so they win over the file. */
export function flagsToConfig(flags: ManageFlags, global: GlobalOptions): SwarmConfig {
  const config: SwarmConfig = {};
  const set = <K extends keyof SwarmConfig>(key: K, value: SwarmConfig[K] | undefined): void => {
    if (value !== undefined) Object.assign(config, { [key]: value });
  };
  set("strategy", flags.strategy);
  set("filters", flags.filter);
  set("hosts", flags.host && flags.host.length > 0 ? flags.host : undefined);
  set("replication", flags.replication);
  set("replicationTtl", flags.replicationTtl);
  set("advertise", flags.advertise ?? flags.addr);
  set("tls", flags.tls);
  set("tlsVerify", flags.tlsverify);
  set("tlsCaCert", flags.tlscacert);
  set("tlsCert", flags.tlscert);
  set("tlsKey", flags.tlskey);
  set("engineRefreshMinInterval", flags.engineRefreshMinInterval);
  set("engineRefreshMaxInterval", flags.engineRefreshMaxInterval);
  set("engineFailureRetry", flags.engineFailureRetry);
  set("engineRefreshRetry", flags.engineRefreshRetry);
  set("heartbeat", flags.heartbeat);
  set("cors", flags.apiEnableCors ?? flags.cors);
  set("clusterDriver", flags.clusterDriver);
  if (flags.clusterOpt) config.clusterOptions = keyValuePairs(flags.clusterOpt, "--cluster-opt");
  if (flags.discoveryOpt) config.discoveryOptions = keyValuePairs(flags.discoveryOpt, "--discovery-opt");
  set("refreshOnNodeFilter", flags.refreshOnNodeFilter);
  set("containerNameRefreshFilter", flags.containerNameRefreshFilter);
  set("ui", flags.ui);
  set("metricsAddr", flags.metricsAddr);
  set("monitorContainers", flags.monitorContainers);
  set("monitorConcurrency", flags.monitorConcurrency);
  set("uploadIdleTimeout", flags.uploadIdleTimeout);
  if (flags.uploadRelay === false) set("uploadRelay", false);
  set("heapGrowth", flags.heapGrowth);
  set("debug", global.debug);
  set("experimental", global.experimental);
  if (global.logLevel !== undefined || global.debug) set("logLevel", logLevelOf(global));
  if (global.logFormat !== undefined) set("logFormat", logFormatOf(global));
  return config;
}

export function manageCommand(program: Command): Command {
  return program
    .command("manage")
    .alias("m")
    .summary("Manage a docker cluster")
    .description("Manage a docker cluster")
    .usage("[OPTIONS] <discovery>")
    .argument("[discovery...]", "discovery service to use [$SWARM_DISCOVERY]")
    .option("--config <file>", "config file (default: searched for as swarm.config.*, .swarmrc*, package.json \"swarm\")")
    .option("--strategy <strategy>", 'placement strategy to use [spread, binpack, random] (default: "spread")')
    .option("-f, --filter <filter>", `filter to use, repeatable (default: ${DEFAULT_FILTERS.join(", ")})`, collect)
    .addOption(new Option("-H, --host <address>", 'ip/socket to listen on, repeatable (default: "tcp://127.0.0.1:2375")').env("SWARM_HOST").argParser(collectAddresses))
    .option("--replication", "Enable Swarm manager replication")
    .option("--replication-ttl <duration>", 'Leader lock release time on failure (default: "20s")')
    .addOption(
      new Option("--advertise <address>", "Address of the swarm manager joining the cluster. Other swarm manager(s) MUST be able to reach the swarm manager at this address.").env(
        "SWARM_ADVERTISE",
      ),
    )
    .addOption(new Option("--addr <address>").hideHelp())
    .option("--tls", "use TLS; implied by --tlsverify=true")
    .option("--tlscacert <file>", "trust only remotes providing a certificate signed by the CA given here")
    .option("--tlscert <file>", "path to TLS certificate file")
    .option("--tlskey <file>", "path to TLS key file")
    .option("--tlsverify", "use TLS and verify the remote")
    .option("--engine-refresh-min-interval <duration>", 'set engine refresh minimum interval (default: "30s")')
    .option("--engine-refresh-max-interval <duration>", 'set engine refresh maximum interval (default: "60s")')
    .option("--engine-failure-retry <n>", "set engine failure retry count (default: 3)", integerOption("--engine-failure-retry"))
    .addOption(new Option("--engine-refresh-retry <n>", "deprecated; use --engine-failure-retry").argParser(integerOption("--engine-refresh-retry")))
    .option("--heartbeat <duration>", 'period between each heartbeat (default: "60s")')
    .option("--api-enable-cors, --cors", "enable CORS headers in the remote API")
    .option("-c, --cluster-driver <driver>", 'cluster driver to use [swarm, mesos-experimental] (default: "swarm")')
    .option(
      "--cluster-opt <key=value>",
      "cluster driver options, repeatable:\n  * swarm.overcommit=0.05  overcommit to apply on resources\n  * swarm.createretry=0  container create retry count after initial failure\n  * mesos.address=  * mesos.port=  (checked; the v1 API needs no callback)\n  * mesos.checkpointfailover=false\n  * mesos.offertimeout=30s\n  * mesos.offerrefusetimeout=5s\n  * mesos.tasktimeout=5s\n  * mesos.user=\n  * mesos.failovertimeout=1m",
      collect,
    )
    .option("--discovery-opt <key=value>", "discovery options, repeatable (kv.path, kv.cacertfile, kv.certfile, kv.keyfile)", collect)
    .option("--refresh-on-node-filter", "refresh the named nodes' containers before listing with a node filter")
    .option("--metrics-addr <host:port>", "also serve /metrics on this address, plain HTTP (it is always served on the API's listeners)")
    .option("--monitor-containers <interval>", "sample every running container's CPU, memory and network once per interval (e.g. 30s) for /metrics and the cluster view")
    .option("--monitor-concurrency <n>", "stats calls in flight per engine at most (default: 2)", integerOption("--monitor-concurrency"))
    .option("--upload-idle-timeout <duration>", "end an upload (cp, load, import, build context) whose client sends nothing this long with 408 (default: 60s)")
    .option(
      "--heap-growth <percent>",
      "let the JavaScript heap grow this far past what was live after a full collection before the next one; 0 leaves V8's own policy (default: 35)",
      integerOption("--heap-growth"),
    )
    .option("--no-upload-relay", "upload through the HTTP server even where the kernel relay (@swarm/splice-relay) is installed")
    .option("--watch-config", "reload the filters, the strategy and their options when the config file changes (SIGHUP always does)")
    .option("--ui", "serve the live cluster view at /ui/ (on the API's listeners, behind the same TLS)")
    .option("--container-name-refresh-filter <name>", "refresh every engine's containers before a listing filtered on exactly this name")
    .addHelpText("after", `${DISCOVERY_FORMS_HELP}\n\nWith -c mesos (mesos-experimental), <discovery> is the Mesos master:\n  * <ip>:<port>[,<ip>:<port>]\n  * zk://<ip1>,<ip2>/<path>`)
    .action(async (args: string[], flags: ManageFlags, command: Command) => {
      const global = command.optsWithGlobals<GlobalOptions>();
      try {
        // The file as it is now, under the flags given at start: at start, and again at each reload.
        const readSettings = async () => {
          const loaded = await loadConfig(flags.config === undefined ? {} : { explicitFile: flags.config });
          const merged: SwarmConfig = { ...loaded.config, ...flagsToConfig({ ...flags, advertise: advertiseOf(flags, command) }, global) };
          merged.discovery = discoveryArgument(args, "manage", loaded.config.discovery);
          return { settings: resolveManagerSettings(merged, loaded.baseDir), file: loaded.file };
        };
        const { settings, file } = await readSettings();
        const { logger } = makeLogger(settings.logLevel, settings.logFormat);
        if (file) logger.info(`Using config file ${file}`);
        applyHeapGrowth(settings.heapGrowthPercent, logger);
        const manager = await startManager(settings, logger);
        const reload = (why: string) => {
          logger.info(`${why}: reloading the configuration`);
          void readSettings()
            .then((next) => manager.reload(next.settings))
            .catch((err: unknown) => logger.error(`Reload refused, the current configuration stays: ${errorMessage(err)}`));
        };
        process.on("SIGHUP", () => reload("Received SIGHUP"));
        if (flags.watchConfig) {
          if (!file) throw errors.WatchConfigWithoutFile();
          watchFile(file, () => reload(`${file} changed`), logger);
        }
        const shutdown = (signal: string) => {
          logger.info(`Received ${signal}, shutting down`);
          void manager.stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once("SIGTERM", () => shutdown("SIGTERM"));
        process.once("SIGINT", () => shutdown("SIGINT"));
      } catch (err) {
        fatal(err);
      }
    });
}

/**
 * The heap policy of this process (it is the manager's): V8 reads the growing factor at each full
 * collection, so setting it now applies from the next one. Logged, since it trades some CPU (more
 * frequent full collections) for memory.
 */
function applyHeapGrowth(percent: number, logger: Logger): void {
  if (percent === 0) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  logger.info(`The JavaScript heap grows at most ${percent}% past its live size between full collections (--heap-growth)`);
}

/**
 * Calls `changed` once an edit of `file` has settled: editors write in several steps (truncate,
 * write, rename), each of which the watch reports.
 */
function watchFile(file: string, changed: () => void, logger: Logger): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(changed, 300);
  };
  // The directory, not the file: an editor that saves by renaming replaces the file watched.
  const dir = path.dirname(file);
  const name = path.basename(file);
  const watcher = watch(dir, (_event, changedName) => {
    if (changedName === null || changedName === name) arm();
  });
  watcher.on("error", (err) => logger.warn(`--watch-config: watching ${dir} failed: ${errorMessage(err)}`));
  watcher.unref();
}
