import type { Command } from "commander";
import { durationOption } from "../config/settings.js";
import { errors } from "../errors/catalog.js";
import { createPino, wrapPino } from "../logging/logger.js";
import { formatHostPort, parseHostPort } from "../util/address.js";
import { collect, discoveryArgument, fatal, keyValuePairs, logLevelOf, type GlobalOptions } from "./common.js";
import { DISCOVERY_FORMS_HELP, closeDiscovery, openDiscovery, type OpenedDiscovery } from "./join.js";

interface ListFlags {
  timeout: string;
  discoveryOpt?: string[];
  config?: string;
}

/** Classic `list` reads no registration TTL; this only has to satisfy backends that check it. */
const UNUSED_TTL_MS = 180_000;

type FirstAnswer = { entries: readonly string[] } | { error: Error } | { timedOut: true };

async function firstAnswer(opened: OpenedDiscovery, timeoutMs: number): Promise<FirstAnswer> {
  const watchAbort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<FirstAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
  });
  const first = (async (): Promise<FirstAnswer> => {
    for await (const update of opened.discovery.watch(watchAbort.signal)) return update;
    return { error: new Error("the discovery watch ended without listing any node") };
  })();
  // The race below reports a failure that comes first; a later one (after the timeout) is moot.
  first.catch(() => undefined);
  try {
    return await Promise.race([first, timeout]);
  } finally {
    clearTimeout(timer);
    watchAbort.abort();
  }
}

async function runList(args: readonly string[], flags: ListFlags, global: GlobalOptions): Promise<never> {
  const url = discoveryArgument(args, "list");
  const timeout = durationOption(flags.timeout, "--timeout");
  if (timeout <= 0) throw errors.ListTimeoutNotPositive();
  const discoveryOptions = keyValuePairs(flags.discoveryOpt ?? [], "--discovery-opt");
  // stdout carries the list alone (scripts count its lines); logs go to stderr.
  const logger = wrapPino(createPino(logLevelOf({ ...global, logLevel: global.logLevel ?? (global.debug ? "debug" : "warn") }), process.stderr));
  let opened: OpenedDiscovery | undefined;
  try {
    opened = await openDiscovery(url, logger, { heartbeat: timeout, ttl: UNUSED_TTL_MS, discoveryOptions }, flags.config);
    const answer = await firstAnswer(opened, timeout);
    if ("timedOut" in answer) throw errors.ListTimedOut();
    if ("error" in answer) throw answer.error;
    const lines = answer.entries.map((entry) => {
      try {
        return formatHostPort(parseHostPort(entry));
      } catch {
        return entry;
      }
    });
    process.stdout.write(lines.map((line) => `${line}\n`).join(""));
  } finally {
    await closeDiscovery(opened);
  }
  process.exit(0);
}

export function listCommand(program: Command): Command {
  return program
    .command("list")
    .alias("l")
    .summary("List nodes in a cluster")
    .description("List nodes in a cluster")
    .usage("[OPTIONS] <discovery>")
    .argument("[discovery...]", "discovery service to use [$SWARM_DISCOVERY]")
    .option("--timeout <duration>", "timeout period", "10s")
    .option("--discovery-opt <key=value>", "discovery options, repeatable (kv.path, kv.cacertfile, kv.certfile, kv.keyfile)", collect)
    .option("--config <file>", "config file naming third-party discovery plugins (default: searched from the working directory)")
    .addHelpText("after", DISCOVERY_FORMS_HELP)
    .action(async (args: string[], flags: ListFlags, command: Command) => {
      try {
        await runList(args, flags, command.optsWithGlobals<GlobalOptions>());
      } catch (err) {
        fatal(err);
      }
    });
}
