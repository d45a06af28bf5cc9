import type { Command } from "commander";
import { request } from "undici";
import { errors } from "../errors/catalog.js";
import { fatal } from "./common.js";

/** Docker Hub's hosted service (retired 2019-06-19); `SWARM_TOKEN_DISCOVERY_URL` points elsewhere. */
const DEFAULT_TOKEN_DISCOVERY_URL = "https://discovery.hub.docker.com/v1";

const DEPRECATION_NOTICE =
  "Token based discovery is now deprecated and might be removed in the future.\n" +
  "It will be replaced by a default discovery backed by Docker Swarm Mode.\n" +
  "Other mechanisms such as consul and etcd will continue to work as expected.\n";

function tokenServiceUrl(): string {
  const configured = process.env.SWARM_TOKEN_DISCOVERY_URL?.trim();
  return (configured ? configured : DEFAULT_TOKEN_DISCOVERY_URL).replace(/\/+$/, "");
}

/** `POST <base>/clusters`; the body is the new token. */
async function createCluster(baseUrl: string): Promise<string> {
  const url = `${baseUrl}/clusters`;
  let response;
  try {
    response = await request(url, { method: "POST", signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    throw errors.TokenServiceUnreachable({ url, reason: `${(err as Error).message}${cause}` });
  }
  const body = await response.body.text();
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw errors.TokenServiceRefused({ status: response.statusCode });
  }
  return body.trim();
}

export function createCommand(program: Command): Command {
  return program
    .command("create")
    .alias("c")
    .summary("Create a cluster")
    .description("Create a cluster (a token of the token discovery service, at $SWARM_TOKEN_DISCOVERY_URL)")
    .argument("[args...]")
    .action(async (args: string[]) => {
      try {
        if (args.length > 0) {
          throw errors.CreateTakesNoArguments();
        }
        const token = await createCluster(tokenServiceUrl());
        process.stderr.write(DEPRECATION_NOTICE);
        process.stdout.write(`${token}\n`);
      } catch (err) {
        fatal(err);
      }
    });
}
