import { Session } from "node:inspector/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { getHeapSnapshot } from "node:v8";
import type { FastifyInstance } from "fastify";
import { errors } from "../errors/catalog.js";
import { query } from "./context.js";

/** Go's pprof default for a CPU profile's length, and a ceiling so a typo cannot hold a profiler for hours. */
const DEFAULT_PROFILE_SECONDS = 30;
const MAX_PROFILE_SECONDS = 600;

const INDEX = `Profiles of this manager (Node ${process.version}):
/debug/pprof/profile?seconds=N  CPU profile over N seconds (default ${DEFAULT_PROFILE_SECONDS}), a .cpuprofile for Chrome DevTools or speedscope
/debug/pprof/heap               heap snapshot, a .heapsnapshot for Chrome DevTools
/debug/pprof/cmdline            the command line, NUL-separated
`;

/**
 * With the global `--debug`, what classic Swarm's Go pprof handlers gave under `/debug/pprof/`,
 * in V8's formats: a CPU profile over a given time and a heap snapshot, both opened by Chrome
 * DevTools. One CPU profile at a time, as Go allows.
 */
export function debugRoutes(app: FastifyInstance): void {
  let profiling = false;

  app.get("/debug/pprof", async (_request, reply) => reply.type("text/plain; charset=utf-8").send(INDEX));

  app.get("/debug/pprof/cmdline", async (_request, reply) => reply.type("text/plain; charset=utf-8").send(process.argv.join("\0")));

  app.get("/debug/pprof/profile", async (request, reply) => {
    const raw = query(request).seconds;
    const seconds = raw === undefined ? DEFAULT_PROFILE_SECONDS : Number(raw);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PROFILE_SECONDS) {
      throw errors.InvalidProfileSeconds({ maximum: MAX_PROFILE_SECONDS, given: String(JSON.stringify(raw)) });
    }
    if (profiling) throw errors.ProfileInProgress();
    profiling = true;
    const session = new Session();
    try {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      await sleep(seconds * 1000);
      const { profile } = await session.post("Profiler.stop");
      return await reply
        .type("application/json")
        .header("content-disposition", 'attachment; filename="swarm.cpuprofile"')
        .send(JSON.stringify(profile));
    } finally {
      session.disconnect();
      profiling = false;
    }
  });

  app.get("/debug/pprof/heap", async (_request, reply) =>
    reply.type("application/json").header("content-disposition", 'attachment; filename="swarm.heapsnapshot"').send(getHeapSnapshot()),
  );
}
