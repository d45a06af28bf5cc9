import { InvalidArgumentError, type Command } from "commander";
import { errors, errorMessage, isSwarmError } from "../errors/catalog.js";
import { createPino, defaultLogFormat, wrapPino, type LogFormat, type LogLevel, LOG_FORMATS, LOG_LEVELS } from "../logging/logger.js";
import type { Logger } from "../extension-points/plugin.js";

export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function integerOption(flag: string) {
  return (value: string): number => {
    if (!/^[-+]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`invalid value for ${flag}: ${value} is not an integer`);
    return Number.parseInt(value, 10);
  };
}

/** `-H a -H b`, or `$SWARM_HOST=a,b`: one list of listen addresses (no address holds a comma). */
export const collectAddresses = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value.split(",").filter((address) => address !== ""),
];

/**
 * `--addr` is classic's hidden spelling of `--advertise`. Commander puts `$SWARM_ADVERTISE` in
 * `advertise`, so an `--addr` given on the command line must still win over the variable.
 */
export function advertiseOf(flags: { advertise?: string; addr?: string }, command: Command): string | undefined {
  if (command.getOptionValueSource("advertise") === "env") return flags.addr ?? flags.advertise;
  return flags.advertise ?? flags.addr;
}

/** `key=value` pairs of repeated `--discovery-opt` / `--cluster-opt` flags. */
export function keyValuePairs(values: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq < 0) throw errors.KeyValueFlagInvalid({ flag });
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

/** Discovery argument resolution shared by manage, join and list (§1.2). */
export function discoveryArgument(args: readonly string[], command: string, fromConfig?: string): string {
  if (args.length === 1 && args[0]) return args[0];
  // Commander reads variables for options only, not for arguments.
  const env = process.env.SWARM_DISCOVERY;
  if (env) return env;
  if (fromConfig) return fromConfig;
  throw errors.DiscoveryRequired({ command });
}

export interface GlobalOptions {
  debug?: boolean;
  logLevel?: string;
  logFormat?: string;
  experimental?: boolean;
}

export function logLevelOf(global: GlobalOptions): LogLevel {
  if (global.logLevel !== undefined) {
    if (!LOG_LEVELS.includes(global.logLevel as LogLevel)) {
      throw errors.InvalidLogLevel({ level: global.logLevel, options: LOG_LEVELS.join(", ") });
    }
    return global.logLevel as LogLevel;
  }
  return global.debug ? "debug" : "info";
}

export function logFormatOf(global: GlobalOptions): LogFormat {
  if (global.logFormat === undefined) return defaultLogFormat();
  if (!LOG_FORMATS.includes(global.logFormat as LogFormat)) {
    throw errors.InvalidLogFormat({ format: global.logFormat, options: LOG_FORMATS.join(", ") });
  }
  return global.logFormat as LogFormat;
}

export function makeLogger(level: LogLevel, format: LogFormat = defaultLogFormat()): { logger: Logger; pino: ReturnType<typeof createPino> } {
  const pino = createPino(level, process.stderr, format);
  return { logger: wrapPino(pino), pino };
}

/** Classic Swarm logged fatal errors and exited 1; the message goes to stderr for humans and scripts. */
export function fatal(err: unknown): never {
  const message = isSwarmError(err) || err instanceof Error ? errorMessage(err) : String(err);
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
