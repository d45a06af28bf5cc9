import { readFileSync } from "node:fs";
import { errorMessage, errors, type SwarmError } from "../errors/catalog.js";
import { DEFAULT_FILTERS, DEFAULT_HEAP_GROWTH_PERCENT, DEFAULT_HOST, DEFAULT_STRATEGY, NATIVE_BACKEND } from "../constants.js";
import { defaultLogFormat, type LogFormat, type LogLevel } from "../logging/logger.js";
import { parseHostPort } from "../util/address.js";
import { parseGoDuration } from "../util/duration.js";
import type { SwarmConfig } from "./schema.js";

export interface TlsSettings {
  readonly verify: boolean;
  readonly ca: Buffer | undefined;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The manager's settings after file and flags are merged and checked. Durations in ms. */
export interface ManagerSettings {
  readonly discovery: string;
  readonly discoveryOptions: Readonly<Record<string, string>>;
  readonly strategy: string;
  readonly filters: readonly string[];
  readonly hosts: readonly string[];
  readonly heartbeat: number;
  readonly advertise: string | undefined;
  readonly replication: { readonly enabled: boolean; readonly ttl: number };
  readonly tls: TlsSettings | undefined;
  readonly engine: { readonly refreshMin: number; readonly refreshMax: number; readonly failureRetry: number };
  readonly cluster: {
    readonly driver: string;
    /** `--cluster-opt` as given, for the backend plugin to validate. */
    readonly options: Readonly<Record<string, string>>;
    readonly overcommit: number;
    readonly createRetry: number;
  };
  readonly cors: boolean;
  readonly refreshOnNodeFilter: boolean;
  readonly containerNameRefreshFilter: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly debug: boolean;
  readonly experimental: boolean;
  /** Serve the cluster view at /ui/. */
  readonly ui: boolean;
  /** `host:port` of a plain-HTTP listener serving only /metrics, besides the API's own /metrics. */
  readonly metricsAddr: string | undefined;
  /** Container monitoring: a round over every running container per `intervalMs`, `perEngine` calls at a time. */
  readonly monitoring: { readonly intervalMs: number; readonly perEngine: number } | undefined;
  /** An upload's client silent this long (while the engine would take more) is answered 408. */
  readonly uploadIdleMs: number;
  /** Use the kernel upload relay (@swarm/splice-relay) when it is installed. */
  readonly uploadRelay: boolean;
  /** The JavaScript heap's growth past what was live after a full collection, in percent; 0 leaves V8's own policy. */
  readonly heapGrowthPercent: number;
  readonly plugins: readonly string[];
  readonly builtins: boolean;
  readonly pluginOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly baseDir: string;
  /** Non-fatal remarks to log at start (e.g. a negative overcommit). */
  readonly warnings: readonly string[];
}

export function durationOption(value: string, flag: string): number {
  try {
    return parseGoDuration(value);
  } catch (err) {
    throw errors.InvalidDuration({ flag, reason: errorMessage(err) });
  }
}

export function checkAdvertise(advertise: string): void {
  try {
    const { port } = parseHostPort(advertise);
    if (port < 1 || port > 65535) throw new Error("port out of range");
  } catch {
    throw errors.InvalidAdvertise();
  }
}

function readFile(file: string, unreadable: (reason: string) => SwarmError): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw unreadable(errorMessage(err));
  }
}

/**
 * Applies classic `swarm manage`'s validation, in its order and with its messages (§1.6), to the
 * merged config. Plugin names (strategy, filters, discovery scheme) are checked later, against
 * what was actually loaded.
 */
export function resolveManagerSettings(config: SwarmConfig, baseDir: string): ManagerSettings {
  const warnings: string[] = [];

  // 1. TLS
  let tls: TlsSettings | undefined;
  const wantsTls = config.tls === true || config.tlsVerify === true;
  if (wantsTls) {
    if (!config.tlsCert || !config.tlsKey) throw errors.TlsCertAndKeyRequired();
    if (config.tlsVerify && !config.tlsCaCert) throw errors.TlsCaRequired();
    const pair = { cert: config.tlsCert, key: config.tlsKey };
    const cert = readFile(config.tlsCert, (reason) => errors.TlsKeyPairUnreadable({ ...pair, reason }));
    const key = readFile(config.tlsKey, (reason) => errors.TlsKeyPairUnreadable({ ...pair, reason }));
    const ca = config.tlsCaCert ? readFile(config.tlsCaCert, (reason) => errors.TlsCaUnreadable({ reason })) : undefined;
    tls = { verify: config.tlsVerify === true, ca, cert, key };
  } else if (config.tlsCert || config.tlsKey || config.tlsCaCert) {
    throw errors.TlsFilesWithoutTls();
  }

  // 2. Engine refresh
  let refreshMin: number;
  try {
    refreshMin = parseGoDuration(config.engineRefreshMinInterval ?? "30s");
  } catch {
    refreshMin = 0;
  }
  if (refreshMin <= 0) throw errors.RefreshMinNotPositive();
  let refreshMax: number;
  try {
    refreshMax = parseGoDuration(config.engineRefreshMaxInterval ?? "60s");
  } catch {
    refreshMax = 0;
  }
  if (refreshMax < refreshMin) throw errors.RefreshMaxBelowMin();
  if (config.engineRefreshRetry !== undefined && config.engineRefreshRetry !== 3) {
    throw errors.RefreshRetryDeprecated();
  }
  const failureRetry = config.engineFailureRetry ?? 3;
  if (failureRetry <= 0) throw errors.InvalidFailureRetry();

  // 3. Discovery and heartbeat
  if (!config.discovery) throw errors.DiscoveryRequired({ command: "manage" });
  const heartbeat = durationOption(config.heartbeat ?? "60s", "--heartbeat");
  if (heartbeat < 1000) throw errors.HeartbeatTooShort();

  // 4. Cluster driver and its options
  // The driver's name and its options' keys are checked against the loaded backend plugins later;
  // the native backend's two options are read here, as the engines use them.
  const driver = config.clusterDriver ?? config.backend ?? NATIVE_BACKEND;
  const clusterOptions: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.clusterOptions ?? {})) clusterOptions[key] = String(value);
  const options = driver === NATIVE_BACKEND ? clusterOptions : {};
  const overcommitRaw = options["swarm.overcommit"];
  let overcommit = overcommitRaw === undefined ? 0.05 : Number(overcommitRaw);
  if (Number.isNaN(overcommit)) overcommit = 0;
  if (overcommit <= -1) throw errors.OvercommitTooLow({ value: overcommit.toFixed(6) });
  if (overcommit < 0) warnings.push("-1 < swarm.overcommit < 0 will make swarm take less resource than docker engine offers");
  const createRetryRaw = options["swarm.createretry"];
  const createRetry = createRetryRaw === undefined ? 0 : parseGoInt(String(createRetryRaw));
  if (createRetry < 0) throw errors.NegativeCreateRetry({ value: createRetry });

  // 5. Replication
  const replication = config.replication === true;
  let replicationTtl = 20_000;
  if (replication) {
    if (!config.advertise) throw errors.AdvertiseRequired();
    checkAdvertise(config.advertise);
    replicationTtl = durationOption(config.replicationTtl ?? "20s", "--replication-ttl");
    if (replicationTtl <= 0) throw errors.ReplicationTtlNotPositive();
  }

  if (config.metricsAddr !== undefined) {
    try {
      parseHostPort(config.metricsAddr);
    } catch {
      throw errors.InvalidMetricsAddr({ value: JSON.stringify(config.metricsAddr) });
    }
  }

  let monitoring: ManagerSettings["monitoring"];
  if (config.monitorContainers !== undefined) {
    const intervalMs = durationOption(config.monitorContainers, "--monitor-containers");
    if (intervalMs < 1000) throw errors.MonitorIntervalTooShort();
    const perEngine = config.monitorConcurrency ?? 2;
    if (!(perEngine >= 1)) throw errors.MonitorConcurrencyTooLow();
    monitoring = { intervalMs, perEngine };
  } else if (config.monitorConcurrency !== undefined) {
    throw errors.MonitorConcurrencyWithoutInterval();
  }

  const uploadIdleMs = durationOption(config.uploadIdleTimeout ?? "60s", "--upload-idle-timeout");
  if (uploadIdleMs < 1000) throw errors.UploadIdleTimeoutTooShort();

  const heapGrowthPercent = config.heapGrowth ?? DEFAULT_HEAP_GROWTH_PERCENT;
  if (!Number.isInteger(heapGrowthPercent) || heapGrowthPercent < 0 || heapGrowthPercent > 1000) {
    throw errors.InvalidHeapGrowth({ value: String(config.heapGrowth) });
  }

  const hosts = config.hosts && config.hosts.length > 0 ? config.hosts : [DEFAULT_HOST];
  return {
    discovery: config.discovery,
    discoveryOptions: config.discoveryOptions ?? {},
    strategy: config.strategy ?? DEFAULT_STRATEGY,
    filters: config.filters && config.filters.length > 0 ? config.filters : DEFAULT_FILTERS,
    hosts,
    heartbeat,
    advertise: config.advertise,
    replication: { enabled: replication, ttl: replicationTtl },
    tls,
    engine: { refreshMin, refreshMax, failureRetry },
    cluster: { driver, options: clusterOptions, overcommit, createRetry },
    cors: config.cors === true,
    refreshOnNodeFilter: config.refreshOnNodeFilter === true,
    containerNameRefreshFilter: config.containerNameRefreshFilter ?? "",
    logLevel: config.logLevel ?? (config.debug ? "debug" : "info"),
    logFormat: config.logFormat ?? defaultLogFormat(),
    debug: config.debug === true,
    experimental: config.experimental === true,
    ui: config.ui === true,
    metricsAddr: config.metricsAddr,
    monitoring,
    uploadIdleMs,
    uploadRelay: config.uploadRelay !== false,
    heapGrowthPercent,
    plugins: config.plugins ?? [],
    builtins: config.builtins !== false,
    pluginOptions: config.pluginOptions ?? {},
    baseDir,
    warnings,
  };
}

/** Go's strconv.ParseInt(s, 0, 64): base prefixes 0x, 0o, 0b and a leading 0 for octal. */
function parseGoInt(text: string): number {
  const match = /^([-+]?)(0x[0-9a-f]+|0o?[0-7]+|0b[01]+|\d+)$/i.exec(text.trim());
  if (!match) throw errors.InvalidCreateRetry({ value: JSON.stringify(text) });
  const [, sign = "", digits = ""] = match;
  let value: number;
  if (/^0x/i.test(digits)) value = Number.parseInt(digits.slice(2), 16);
  else if (/^0b/i.test(digits)) value = Number.parseInt(digits.slice(2), 2);
  else if (/^0o/i.test(digits)) value = Number.parseInt(digits.slice(2), 8);
  else if (digits.length > 1 && digits.startsWith("0")) value = Number.parseInt(digits.slice(1), 8);
  else value = Number.parseInt(digits, 10);
  return sign === "-" ? -value : value;
}
