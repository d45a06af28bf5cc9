import * as net from "node:net";
import * as tls from "node:tls";
import { parseHostPort } from "../util/address.js";

/** The client certificate a TLS engine wants (the manager's own `--tlscert`). */
export interface EngineTls {
  readonly ca?: Buffer | undefined;
  readonly cert: Buffer;
  readonly key: Buffer;
  /**
   * Whether the engine's own certificate is checked (`--tlsverify`). With `--tls` alone it is not,
   * as classic Swarm did: the connection is encrypted, the engine not authenticated.
   */
  readonly verify: boolean;
}

const KEEPALIVE_MS = 30_000;

/**
 * A connection of its own to an engine, outside the engine's undici pool: hijacked streams
 * (attach, exec) and streamed uploads need the socket itself. TLS engines get the manager's
 * certificate, and their certificate is checked against `ca`.
 */
export function connectToEngine(addr: string, engineTls: EngineTls | undefined): net.Socket {
  const { host, port } = parseHostPort(addr);
  const socket = engineTls
    ? tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ca: engineTls.ca,
        cert: engineTls.cert,
        key: engineTls.key,
        rejectUnauthorized: engineTls.verify,
      })
    : net.connect({ host, port });
  socket.setKeepAlive(true, KEEPALIVE_MS);
  socket.setNoDelay(true);
  return socket;
}
