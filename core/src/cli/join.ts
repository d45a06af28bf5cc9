import { setTimeout as sleep } from "node:timers/promises";
import { Option, type Command } from "commander";
import { checkAdvertise, durationOption } from "../config/settings.js";
import { errors, errorMessage } from "../errors/catalog.js";
import type { Discovery } from "../extension-points/discovery.js";
import type { Logger } from "../extension-points/plugin.js";
import { createDiscovery, splitDiscoveryUrl } from "../manager/manager.js";
import { BUILTIN_DISCOVERY_PLUGINS } from "../host/builtins.js";
import { loadConfig } from "../config/load.js";
import { withDeadline } from "../util/deadline.js";
import { PluginHost } from "../host/plugin-host.js";
import { formatGoDuration } from "../util/duration.js";
import { advertiseOf, collect, discoveryArgument, fatal, keyValuePairs, logFormatOf, logLevelOf, makeLogger, type GlobalOptions } from "./common.js";

interface JoinFlags {
  advertise?: string;
  addr?: string;
  heartbeat: string;
  ttl: string;
  delay: string;
  discoveryOpt?: string[];
  config?: string;
}

export const DISCOVERY_FORMS_HELP = `
<discovery> forms:
  * token://<token>
  * consul://<ip>/<path>
  * etcd://<ip1>,<ip2>/<path>
  * file://path/to/file
  * zk://<ip1>,<ip2>/<path>
  * [nodes://]<ip1>,<ip2>`;

export interface OpenedDiscovery {
  readonly discovery: Discovery;
  readonly host: PluginHost;
}

/** The built-in plugins in a host of their own, and the backend for `url` created and started in it. */
export async function openDiscovery(
  url: string,
  logger: Logger,
  options: { heartbeat: number; ttl: number; discoveryOptions: Readonly<Record<string, string>> },
  configFile?: string,
): Promise<OpenedDiscovery> {
  const host = new PluginHost(logger);
  // The config file may name third-party discovery plugins; filters and strategies are not needed here.
  const { config, baseDir } = await loadConfig(configFile === undefined ? {} : { explicitFile: configFile });
  await host.load([...(config.builtins === false ? [] : BUILTIN_DISCOVERY_PLUGINS), ...(config.plugins ?? [])], baseDir);
  const discovery = await createDiscovery(host, url, options);
  await host.start(`discovery/${splitDiscoveryUrl(url).scheme}`, discovery);
  return { discovery, host };
}

/** Stops the host, but never lets a hung store client keep the process from exiting. */
export async function closeDiscovery(opened: OpenedDiscovery | undefined, budgetMs = 5_000): Promise<void> {
  if (!opened) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    opened.host.stopAll().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, budgetMs);
    }),
  ]);
  clearTimeout(timer);
}

async function runJoin(args: readonly string[], flags: JoinFlags, global: GlobalOptions): Promise<void> {
  // Classic Swarm's validation order (§1.4): discovery, advertise, delay, heartbeat, ttl, backend.
  const url = discoveryArgument(args, "join");
  const advertise = flags.advertise ?? flags.addr ?? "";
  if (advertise === "") throw errors.AdvertiseMissing();
  checkAdvertise(advertise);
  const delay = durationOption(flags.delay, "--delay");
  if (delay < 0) throw errors.NegativeJoinDelay();
  const heartbeat = durationOption(flags.heartbeat, "--heartbeat");
  if (heartbeat < 1000) throw errors.HeartbeatTooShort();
  const ttl = durationOption(flags.ttl, "--ttl");
  if (ttl <= heartbeat) throw errors.TtlNotAboveHeartbeat();
  const discoveryOptions = keyValuePairs(flags.discoveryOpt ?? [], "--discovery-opt");

  const { logger } = makeLogger(logLevelOf(global), logFormatOf(global));
  const stop = new AbortController();
  // Filled in once the backend exists; a signal before that has nothing to close.
  const state: { opened?: OpenedDiscovery } = {};
  const shutdown = (signal: string): void => {
    logger.info(`Received ${signal}, shutting down`);
    stop.abort();
    void closeDiscovery(state.opened).then(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));

  state.opened = await openDiscovery(url, logger, { heartbeat, ttl, discoveryOptions }, flags.config);
  const { discovery } = state.opened;
  if (stop.signal.aborted) return;

  if (delay > 0) {
    const wait = Math.random() * delay;
    logger.info(`Add a random delay ${formatGoDuration(wait)} to avoid synchronized registration`);
    await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
  }

  // One registration may not outlive the TTL it is meant to refresh, nor block the next heartbeat for long.
  const attemptBudget = Math.min(ttl, Math.max(heartbeat, 5_000));
  while (!stop.signal.aborted) {
    logger.info(`Registering on the discovery service every ${formatGoDuration(heartbeat)}...`, { addr: advertise, discovery: url });
    const attempt = withDeadline(stop.signal, attemptBudget);
    try {
      await discovery.register(advertise, attempt.signal);
    } catch (err) {
      if (stop.signal.aborted) break;
      logger.error(errorMessage(err), { addr: advertise, discovery: url });
    } finally {
      attempt.done();
    }
    await sleep(heartbeat, undefined, { signal: stop.signal }).catch(() => undefined);
  }
}

export function joinCommand(program: Command): Command {
  return program
    .command("join")
    .alias("j")
    .summary("Join a docker cluster")
    .description("Join a docker cluster")
    .usage("[OPTIONS] <discovery>")
    .argument("[discovery...]", "discovery service to use [$SWARM_DISCOVERY]")
    .addOption(
      new Option(
        "--advertise <address>",
        "Address of the Docker Engine joining the cluster. Swarm manager(s) MUST be able to reach the Docker Engine at this address.",
      ).env("SWARM_ADVERTISE"),
    )
    .addOption(new Option("--addr <address>").hideHelp())
    .option("--heartbeat <duration>", "period between each heartbeat", "60s")
    .option("--ttl <duration>", "set the expiration of an ephemeral node", "180s")
    .option("--delay <duration>", "add a random delay in [0s,delay[ to avoid synchronized registration", "0s")
    .option("--discovery-opt <key=value>", "discovery options, repeatable (kv.path, kv.cacertfile, kv.certfile, kv.keyfile)", collect)
    .option("--config <file>", "config file naming third-party discovery plugins (default: searched from the working directory)")
    .addHelpText("after", DISCOVERY_FORMS_HELP)
    .action(async (args: string[], flags: JoinFlags, command: Command) => {
      try {
        await runJoin(args, { ...flags, advertise: advertiseOf(flags, command) }, command.optsWithGlobals<GlobalOptions>());
      } catch (err) {
        fatal(err);
      }
    });
}
