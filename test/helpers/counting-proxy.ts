import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";

/** The route of an Engine API path, IDs and names replaced: `GET /containers/{id}/json`. */
export function routeOf(method: string, url: string): string {
  const path = (url.split("?")[0] ?? "").replace(/^\/v\d+\.\d+/, "");
  const segments = path.split("/");
  const [, kind, ref, ...rest] = segments;
  if ((kind === "containers" || kind === "exec" || kind === "networks" || kind === "volumes") && ref && !["json", "create", "prune"].includes(ref)) {
    return `${method} /${kind}/{id}${rest.length ? `/${rest.join("/")}` : ""}`;
  }
  return `${method} ${path}`;
}

export interface CountingProxy {
  /** `127.0.0.1:PORT`: register this with the manager instead of the engine. */
  readonly addr: string;
  /** Requests seen since the last `reset`, by route. */
  counts(): Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of one real engine that counts the manager's requests by route.
 * Streams (events, logs) are piped as they come; upgrades (attach, exec) are spliced.
 */
export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  let counts: Record<string, number> = {};
  const sockets = new Set<net.Socket>();
  const server = http.createServer((request, response) => {
    const route = routeOf(request.method ?? "GET", request.url ?? "/");
    counts[route] = (counts[route] ?? 0) + 1;
    const upstream = http.request(
      { host: target.host, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        response.flushHeaders();
        answer.pipe(response);
      },
    );
    upstream.on("error", () => response.destroy());
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  });
  server.on("upgrade", (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const route = routeOf(request.method ?? "GET", request.url ?? "/");
    counts[route] = (counts[route] ?? 0) + 1;
    const upstream = net.connect(target.port, target.host, () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
