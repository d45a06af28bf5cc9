import type { Command } from "commander";
import { errors } from "../errors/catalog.js";
import { createTokenService } from "../token-service/server.js";
import { formatHostPort, parseHostPort } from "../util/address.js";
import { fatal, logFormatOf, logLevelOf, makeLogger, type GlobalOptions } from "./common.js";

interface ServeFlags {
  addr: string;
}

/** `swarm discovery serve`: runs the token service that `token://` and `swarm create` talk to. */
export function discoveryCommand(program: Command): Command {
  const discovery = program
    .command("discovery")
    .summary("Run a discovery service")
    .description("Run a discovery service for token:// clusters");
  discovery
    .command("serve")
    .description(
      "Serve the token discovery API (POST/GET/DELETE /v1/clusters[/<token>]) in memory.\n" +
        "Point clients at it with SWARM_TOKEN_DISCOVERY_URL=<printed URL>.",
    )
    .option("--addr <host:port>", "address to listen on (port 0 picks a free port)", "127.0.0.1:8080")
    .action(async (flags: ServeFlags, command: Command) => {
      try {
        let host: string;
        let port: number;
        try {
          ({ host, port } = parseHostPort(flags.addr));
          if (port > 65535) throw new Error("port out of range");
        } catch {
          throw errors.InvalidTokenServiceAddr({ addr: JSON.stringify(flags.addr) });
        }
        const { logger } = makeLogger(logLevelOf(command.optsWithGlobals<GlobalOptions>()), logFormatOf(command.optsWithGlobals<GlobalOptions>()));
        const app = createTokenService({ logger: logger.child({ component: "token-service" }) });
        await app.listen({ host: host === "" ? "0.0.0.0" : host, port });
        const bound = app.server.address();
        const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
        // The URL alone on the first stdout line, so scripts can capture it.
        process.stdout.write(`http://${formatHostPort({ host: host === "" ? "127.0.0.1" : host, port: boundPort })}/v1\n`);
        const shutdown = (signal: string): void => {
          logger.info(`Received ${signal}, shutting down`);
          const hardStop = setTimeout(() => process.exit(0), 5_000);
          hardStop.unref();
          void app.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once("SIGTERM", () => shutdown("SIGTERM"));
        process.once("SIGINT", () => shutdown("SIGINT"));
      } catch (err) {
        fatal(err);
      }
    });
  return discovery;
}
