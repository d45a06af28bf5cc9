/**
 * Runs a simulated fleet as a process of its own, for a manager to discover:
 *
 *   node bench/dist/fleet/cli.js --engines 1000 --label 'region=eu|us|ap' --addresses-file /tmp/fleet \
 *     --control 127.0.0.1:7070
 *   swarm manage -H :4000 file:///tmp/fleet
 *
 * Addresses go to stdout one per line (or to --addresses-file, the format of swarm's file://
 * discovery). A label value with `|` alternatives is handed out round-robin (engine 1 eu, 2 us, 3 ap,
 * 4 eu…). The control API: GET /stats (request counts by route and engine, unanswered calls),
 * POST /stats/reset, POST /clear (remove every container, exec, added network, volume and image),
 * POST /stop, GET /addresses. The unanswered calls are printed when the fleet stops.
 */
import { writeFileSync, renameSync } from "node:fs";
import * as http from "node:http";
import { parseArgs } from "node:util";
import { startFleet, type Fleet, type FleetStats } from "@swarm/core/testing/fleet";

const USAGE = `usage: node bench/dist/fleet/cli.js [--engines N] [--host 127.0.0.1] [--label k=v1|v2…]… [--cpus N]
       [--memory BYTES|8g] [--no-bridge] [--image REF]… [--addresses-file FILE] [--control HOST:PORT] [--quiet]`;

interface CliOptions {
  readonly engines: number;
  readonly host: string;
  readonly labels: ReadonlyArray<readonly [string, readonly string[]]>;
  readonly cpus: number;
  readonly memory: number;
  readonly bridge: boolean;
  readonly images: readonly string[];
  readonly addressesFile: string | undefined;
  readonly control: { host: string; port: number } | undefined;
  readonly quiet: boolean;
}

function parseSize(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(raw.trim());
  if (!match) throw new Error(`--memory: cannot read ${JSON.stringify(raw)} as a size`);
  const power = { "": 0, k: 1, m: 2, g: 3, t: 4 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Math.round(Number(match[1]) * 1024 ** power);
}

function parseHostPort(raw: string, flag: string): { host: string; port: number } {
  const colon = raw.lastIndexOf(":");
  const port = Number(raw.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: expected HOST:PORT, got ${JSON.stringify(raw)}`);
  return { host: raw.slice(0, colon) || "127.0.0.1", port };
}

function parseCli(argv: readonly string[]): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      engines: { type: "string", default: "100" },
      host: { type: "string", default: "127.0.0.1" },
      label: { type: "string", multiple: true, default: [] },
      cpus: { type: "string", default: "4" },
      memory: { type: "string", default: "8g" },
      "no-bridge": { type: "boolean", default: false },
      image: { type: "string", multiple: true, default: [] },
      "addresses-file": { type: "string" },
      control: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const engines = Number(values.engines);
  if (!Number.isInteger(engines) || engines < 1) throw new Error(`--engines must be a positive integer, got ${values.engines}`);
  const cpus = Number(values.cpus);
  if (!Number.isInteger(cpus) || cpus < 1) throw new Error(`--cpus must be a positive integer, got ${values.cpus}`);
  const labels = values.label.map((raw) => {
    const eq = raw.indexOf("=");
    if (eq <= 0) throw new Error(`--label: expected key=value, got ${JSON.stringify(raw)}`);
    return [raw.slice(0, eq), raw.slice(eq + 1).split("|")] as const;
  });
  return {
    engines,
    host: values.host,
    labels,
    cpus,
    memory: parseSize(values.memory),
    bridge: !values["no-bridge"],
    images: values.image.length > 0 ? values.image : ["busybox:latest"],
    addressesFile: values["addresses-file"],
    control: values.control === undefined ? undefined : parseHostPort(values.control, "--control"),
    quiet: values.quiet,
  };
}

export function formatUnanswered(stats: FleetStats): string {
  if (stats.unanswered.length === 0) return "unanswered calls: none";
  return ["unanswered calls (method route: count):", ...stats.unanswered.map((u) => `  ${u.method} ${u.route}: ${u.count}`)].join("\n");
}

/**
 * The control API listens before the engines do: a port picked for it by whoever started the
 * fleet could otherwise be handed to one of the engines first. Until the fleet is up it answers 503.
 */
function serveControl(fleet: () => Fleet | undefined, options: NonNullable<CliOptions["control"]>, stop: () => void): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body?: unknown) => {
      const text = body === undefined ? "" : `${JSON.stringify(body)}\n`;
      res.writeHead(status, body === undefined ? {} : { "Content-Type": "application/json" });
      res.end(text);
    };
    const key = `${req.method ?? "GET"} ${(req.url ?? "/").split("?")[0]}`;
    req.resume();
    const current = fleet();
    if (!current) {
      send(503, { message: "the fleet is starting" });
      return;
    }
    switch (key) {
      case "GET /stats":
        send(200, current.stats());
        return;
      case "GET /addresses":
        send(200, current.addresses);
        return;
      case "POST /stats/reset":
        current.resetStats();
        send(204);
        return;
      case "POST /clear":
        void current.clear().then(() => send(204));
        return;
      case "POST /stop":
        send(204);
        stop();
        return;
      default:
        send(404, { message: `no control route ${key}` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`fleet: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
  const up: { fleet?: Fleet } = {};
  // The control API's /stop is only served once the fleet is up, after `stop` below exists.
  const control = options.control ? await serveControl(() => up.fleet, options.control, () => stop()) : undefined;
  const fleet = await startFleet({
    engines: options.engines,
    host: options.host,
    labels: (index) => Object.fromEntries(options.labels.map(([key, values]) => [key, values[index % values.length]!])),
    cpus: () => options.cpus,
    memory: () => options.memory,
    bridge: options.bridge,
    images: options.images,
  });
  up.fleet = fleet;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const stats = fleet.stats();
    control?.close();
    control?.closeAllConnections();
    void fleet.stop().then(() => {
      console.error(formatUnanswered(stats));
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (options.addressesFile) {
    // Written whole and renamed, so a manager re-reading it never sees half a list.
    const tmp = `${options.addressesFile}.tmp-${process.pid}`;
    writeFileSync(tmp, `${fleet.addresses.join("\n")}\n`);
    renameSync(tmp, options.addressesFile);
  } else {
    process.stdout.write(`${fleet.addresses.join("\n")}\n`);
  }
  if (!options.quiet) {
    const ports = fleet.engines.map((e) => e.port);
    const where = control ? `, control on http://${options.control!.host}:${(control.address() as { port: number }).port}` : "";
    console.error(
      `simulated fleet: ${fleet.engines.length} engines on ${options.host} (ports ${Math.min(...ports)}–${Math.max(...ports)})${where}; Ctrl-C stops it`,
    );
  }
}

await main();
