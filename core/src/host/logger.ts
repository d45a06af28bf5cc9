import { pino, type Logger as PinoLogger } from "pino";
import type { LogFields, Logger } from "../extension-points/plugin.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal" | "panic";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "fatal", "panic"];

/** pino behind the small Logger interface plugins see; registry credentials are redacted. */
export function createPino(level: LogLevel, destination: NodeJS.WritableStream = process.stdout): PinoLogger {
  return pino(
    {
      level: level === "panic" ? "fatal" : level,
      base: undefined,
      redact: ['req.headers["x-registry-auth"]', "req.headers.authorization"],
    },
    destination as unknown as pino.DestinationStream,
  );
}

export function wrapPino(logger: PinoLogger): Logger {
  const call = (level: "debug" | "info" | "warn" | "error") => (message: string, fields?: LogFields) => {
    if (fields) logger[level](fields, message);
    else logger[level](message);
  };
  return {
    debug: call("debug"),
    info: call("info"),
    warn: call("warn"),
    error: call("error"),
    child: (bindings) => wrapPino(logger.child(bindings)),
  };
}

/** A logger that drops everything, for tests and `swarm list`. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
