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
 * What a proxy changes of the engine it stands for, for faults no real engine here can show (an
 * engine on another OS, a clock that is off). Everything else passes as the engine sent it.
 */
export interface EngineAlterations {
  /** Replaces the JSON answer to a route (`GET /info`) with what it returns. */
  readonly answers?: Readonly<Record<string, (body: Record<string, unknown>) => Record<string, unknown>>>;
  /** Answers a request itself, with this status and `{"message"}`, instead of passing it on. */
  readonly refuse?: (route: string) => { status: number; message: string } | undefined;
}

/**
 * A plain HTTP proxy in front of one real engine that counts the manager's requests by route.
 * Streams (events, logs) are piped as they come; upgrades (attach, exec) are spliced.
 */
export async function startCountingProxy(target: { host: string; port: number }, alterations: EngineAlterations = {}): Promise<CountingProxy> {
  let counts: Record<string, number> = {};
  const sockets = new Set<net.Socket>();
  const server = http.createServer((request, response) => {
    const route = routeOf(request.method ?? "GET", request.url ?? "/");
    counts[route] = (counts[route] ?? 0) + 1;
    const refusal = alterations.refuse?.(route);
    if (refusal) {
      request.resume();
      response.writeHead(refusal.status, { "content-type": "application/json" }).end(`${JSON.stringify({ message: refusal.message })}\n`);
      return;
    }
    const alter = alterations.answers?.[route];
    const upstream = http.request(
      { host: target.host, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        if (alter && (answer.statusCode ?? 500) < 300) {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.on("end", () => {
            const body = Buffer.from(JSON.stringify(alter(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>)));
            const headers = { ...answer.headers, "content-length": String(body.length) };
            delete headers["transfer-encoding"];
            response.writeHead(answer.statusCode ?? 200, headers).end(body);
          });
          return;
        }
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
