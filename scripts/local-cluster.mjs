// The part of `npm run cluster` that runs once everything is installed: start the engines and a
// manager on the embedded default config, print how to reach it, stop everything on Ctrl-C.
import "reflect-metadata";
import { parseArgs } from "node:util";
import { startManager, resolveManagerSettings, wrapPino, createPino } from "@swarm/core/host";
import { ensureBusyboxImage, startEngines } from "@swarm/core/testing";

const { values } = parseArgs({
  options: {
    engines: { type: "string", default: "3" },
    port: { type: "string", default: "4000" },
  },
});

const regions = ["eu", "us", "ap"];
const cluster = await startEngines(Number(values.engines), {
  labels: (i) => ({ region: regions[i % regions.length], rack: `r${i + 1}` }),
});
await ensureBusyboxImage(cluster.engines);

/** The embedded default config: every built-in filter, spread, the engines just started. */
const config = {
  discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
  hosts: [`tcp://127.0.0.1:${values.port}`],
  engineRefreshMinInterval: "5s",
  engineRefreshMaxInterval: "10s",
};
const logger = wrapPino(createPino("info", process.stderr));
const manager = await startManager(resolveManagerSettings(config, process.cwd()), logger);

console.log(`\n${cluster.engines.length} engines: ${cluster.engines.map((e) => `${e.name} (${e.host}, region=${e.labels.region})`).join(", ")}`);
console.log("image busybox:latest is on every engine; the engines have no network bridge, so run containers with --network none\n");
console.log(`export DOCKER_HOST=tcp://127.0.0.1:${values.port}\n`);
console.log("then, for example:  docker info   docker run -d --network none -e constraint:region==us busybox sleep 600   docker ps");
console.log("Ctrl-C stops the manager and the engines.");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await manager.stop();
  await cluster.stopAll();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
