// The part of `npm run cluster` that runs once everything is installed: start the engines and a
// manager on the embedded default config, print how to reach it, stop everything on Ctrl-C.
// With --simulated N the engines are N simulated ones (bench/fleet) in a child process: no root,
// no dockerd, and containers only pretend to run.
import "reflect-metadata";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { clearTimeout, setTimeout as later } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startManager, resolveManagerSettings, wrapPino, createPino } from "@swarm/core/host";

const { values } = parseArgs({
  options: {
    engines: { type: "string", default: "3" },
    port: { type: "string", default: "4000" },
    simulated: { type: "string" },
  },
});

const regions = ["eu", "us", "ap"];
const cluster = values.simulated === undefined ? await startRealEngines() : await startSimulatedFleet(values.simulated);

/** The embedded default config: every built-in filter, spread, the engines just started. */
const config = {
  discovery: `nodes://${cluster.addresses.join(",")}`,
  hosts: [`tcp://127.0.0.1:${values.port}`],
  engineRefreshMinInterval: "5s",
  engineRefreshMaxInterval: "10s",
};
// A simulated fleet's thousand "Registered Engine" lines would bury the lines printed below.
const logger = wrapPino(createPino(values.simulated === undefined ? "info" : "warn", process.stderr));
let manager;
try {
  manager = await startManager(resolveManagerSettings(config, process.cwd()), logger);
} catch (err) {
  await cluster.stop();
  throw err;
}

console.log(`\n${cluster.description}`);
console.log(`${cluster.hint}\n`);
console.log(`export DOCKER_HOST=tcp://127.0.0.1:${values.port}\n`);
console.log(`then, for example:  docker info   docker run -d ${cluster.runFlags}-e constraint:region==us busybox sleep 600   docker ps`);
console.log(`Ctrl-C stops the manager and the ${values.simulated === undefined ? "engines" : "simulated fleet"}.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await manager.stop();
  await cluster.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

async function startRealEngines() {
  const { ensureBusyboxImage, startEngines } = await import("@swarm/test-harness");
  const engines = await startEngines(Number(values.engines), {
    labels: (i) => ({ region: regions[i % regions.length], rack: `r${i + 1}` }),
  });
  await ensureBusyboxImage(engines.engines);
  return {
    addresses: engines.engines.map((e) => e.host),
    description: `${engines.engines.length} engines: ${engines.engines.map((e) => `${e.name} (${e.host}, region=${e.labels.region})`).join(", ")}`,
    hint: "image busybox:latest is on every engine; the engines have no network bridge, so run containers with --network none",
    runFlags: "--network none ",
    stop: () => engines.stopAll(),
  };
}

/** The fleet runs as its own process, so the manager's event loop is not shared with a thousand engines'. */
async function startSimulatedFleet(raw) {
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) {
    console.error(`--simulated needs a number of engines, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const cli = path.join(root, "bench", "dist", "fleet", "cli.js");
  if (!existsSync(cli)) {
    console.error(`${cli} is missing: build it with npx tsc -p bench/fleet`);
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "swarm-fleet-"));
  const addressesFile = path.join(dir, "addresses");
  const child = spawn(process.execPath, [cli, "--engines", String(count), "--label", `region=${regions.join("|")}`, "--addresses-file", addressesFile], {
    // stderr stays ours: the fleet prints the calls it could not answer when it stops.
    stdio: ["ignore", "ignore", "inherit"],
    // Its own process group, so that Ctrl-C reaches it through us, after the manager has stopped.
    detached: true,
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = later(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  for (let waited = 0; !existsSync(addressesFile); waited += 100) {
    if (child.exitCode !== null || waited > 120_000) {
      await stop();
      console.error("the simulated fleet did not start");
      process.exit(1);
    }
    await sleep(100);
  }
  const addresses = readFileSync(addressesFile, "utf8").trim().split("\n");
  const last = String(count).padStart(4, "0");
  return {
    addresses,
    description: `${count} simulated engines sim-0001…sim-${last} (region=eu|us|ap in turn) on 127.0.0.1, in process ${child.pid}`,
    hint:
      "only images the fleet has work (busybox:latest): any other image name fails as a pull from a registry without it would. " +
      "Containers run nothing; they stay running until stopped. The manager lists the engines in docker info as it connects to them.",
    runFlags: "",
    stop,
  };
}
