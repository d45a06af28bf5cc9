import { pino, type Logger as PinoLogger } from "pino";
import pinoPretty from "pino-pretty";
import type { LogFields, Logger } from "../extension-points/plugin.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal" | "panic";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "fatal", "panic"];

/** `text`: a line per entry for people, coloured on a terminal; `json`: one JSON object per line for machines. */
export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Text for a person at a terminal, JSON for whatever collects the logs otherwise. */
export function defaultLogFormat(stream: NodeJS.WritableStream = process.stderr): LogFormat {
  return (stream as { isTTY?: boolean }).isTTY === true ? "text" : "json";
}

/**
 * pino behind the small Logger interface plugins see, on stderr as classic Swarm logged, with ISO
 * times. Registry credentials are redacted should a request's headers ever be logged.
 */
export function createPino(level: LogLevel, destination: NodeJS.WritableStream = process.stderr, format: LogFormat = "json"): PinoLogger {
  const options: pino.LoggerOptions = {
    level: level === "panic" ? "fatal" : level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // The level's name, not pino's number: what a person reading the JSON, or a log query, expects.
    formatters: { level: (label) => ({ level: label }) },
    redact: ['req.headers["x-registry-auth"]', "req.headers.authorization"],
  };
  if (format === "text") {
    const pretty = pinoPretty({
      destination,
      sync: true,
      colorize: (destination as { isTTY?: boolean }).isTTY === true,
      translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
      singleLine: true,
    });
    return pino(options, pretty);
  }
  return pino(options, destination as unknown as pino.DestinationStream);
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
