import { Type, type Static } from "typebox";

/**
 * The config file (found by cosmiconfig under the module name `swarm`). Keys mirror classic
 * `swarm manage` flags; flags given on the command line win over the file. Durations are Go
 * duration strings (`30s`, `1m30s`) as on the command line.
 */
export const SwarmConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: "the JSON Schema of this file, for editors: @swarm/core/config.schema.json" })),
    plugins: Type.Optional(Type.Array(Type.String(), { description: "extra plugin packages or files to load" })),
    builtins: Type.Optional(Type.Boolean({ description: "load the built-in plugins (default true)" })),
    discovery: Type.Optional(Type.String()),
    discoveryOptions: Type.Optional(Type.Record(Type.String(), Type.String())),
    strategy: Type.Optional(Type.String()),
    filters: Type.Optional(Type.Array(Type.String())),
    hosts: Type.Optional(Type.Array(Type.String())),
    advertise: Type.Optional(Type.String()),
    heartbeat: Type.Optional(Type.String()),
    replication: Type.Optional(Type.Boolean()),
    replicationTtl: Type.Optional(Type.String()),
    tls: Type.Optional(Type.Boolean()),
    tlsVerify: Type.Optional(Type.Boolean()),
    tlsCaCert: Type.Optional(Type.String()),
    tlsCert: Type.Optional(Type.String()),
    tlsKey: Type.Optional(Type.String()),
    engineRefreshMinInterval: Type.Optional(Type.String()),
    engineRefreshMaxInterval: Type.Optional(Type.String()),
    engineFailureRetry: Type.Optional(Type.Integer()),
    engineRefreshRetry: Type.Optional(Type.Integer()),
    cors: Type.Optional(Type.Boolean()),
    /** `--ui`: serve the cluster view at /ui/. */
    ui: Type.Optional(Type.Boolean()),
    /** `--metrics-addr`: a listener of its own for /metrics (plain HTTP, as dockerd's). */
    metricsAddr: Type.Optional(Type.String()),
    /** `--monitor-containers`: sample every running container's stats once per this interval (off by default). */
    monitorContainers: Type.Optional(Type.String()),
    /** `--monitor-concurrency`: stats calls in flight per engine at most. */
    monitorConcurrency: Type.Optional(Type.Integer()),
    /** `--upload-idle-timeout`: an upload whose client sends nothing this long (a Go duration) is ended with 408. */
    uploadIdleTimeout: Type.Optional(Type.String()),
    /** `--heap-growth`: how far, in percent, the JavaScript heap may grow past what was live after a full collection; 0 leaves V8's own policy. */
    heapGrowth: Type.Optional(Type.Integer()),
    /** `--no-upload-relay` sets it false: uploads through the HTTP server even where the kernel relay is installed. */
    uploadRelay: Type.Optional(Type.Boolean()),
    clusterDriver: Type.Optional(Type.String()),
    /** The config file's name for `clusterDriver` (`--cluster-driver`): the cluster backend plugin. */
    backend: Type.Optional(Type.String()),
    clusterOptions: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]))),
    refreshOnNodeFilter: Type.Optional(Type.Boolean()),
    containerNameRefreshFilter: Type.Optional(Type.String()),
    logLevel: Type.Optional(
      Type.Union([
        Type.Literal("debug"),
        Type.Literal("info"),
        Type.Literal("warn"),
        Type.Literal("error"),
        Type.Literal("fatal"),
        Type.Literal("panic"),
      ]),
    ),
    /** `--log-format`: text or json; by default text on a terminal, json otherwise. */
    logFormat: Type.Optional(Type.Union([Type.Literal("text"), Type.Literal("json")])),
    debug: Type.Optional(Type.Boolean()),
    experimental: Type.Optional(Type.Boolean()),
    pluginOptions: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
  },
  { additionalProperties: false, title: "swarm manage configuration", $id: "https://swarm.invalid/swarm.config.schema.json" },
);

export type SwarmConfig = Static<typeof SwarmConfigSchema>;

/** Typed helper for `swarm.config.ts` / `.mjs` files. */
export function defineConfig(config: SwarmConfig): SwarmConfig {
  return config;
}
