import { PassThrough, Readable } from "node:stream";
import { text } from "node:stream/consumers";
import type { FastifyReply, FastifyRequest } from "fastify";
import split2 from "split2";
import type { Node } from "../cluster/node.js";
import { engineMessage, type EngineResponse } from "../engines/engine.js";
import { errorMessage, errors, isSwarmError } from "../errors/catalog.js";

/*
 * One operation on several engines at once: run it everywhere, merge streamed answers tagged with
 * each engine's name, and turn per-engine failures into one Docker-shaped error.
 */

export type NodeResult<T> = { node: Node; ok: true; value: T } | { node: Node; ok: false; error: unknown };

/** Runs `fn` on every engine in parallel; never rejects. */
export async function eachNode<T>(nodes: readonly Node[], fn: (node: Node) => Promise<T>): Promise<Array<NodeResult<T>>> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeResult<T>> => {
      try {
        return { node, ok: true, value: await fn(node) };
      } catch (error) {
        return { node, ok: false, error };
      }
    }),
  );
}

/**
 * Per-engine failures as one error: `<engine>: <err>` lines (§4.7). A lone failure keeps its
 * engine's status (404, 409 …) so the client sees dockerd's code.
 */
export function throwFailures<T>(results: ReadonlyArray<NodeResult<T>>): void {
  const failures = results.filter((r): r is Extract<NodeResult<T>, { ok: false }> => !r.ok);
  if (failures.length === 0) return;
  const message = failures.map((f) => `${f.node.name}: ${errorMessage(f.error)}`).join("\n");
  const first = failures[0]!.error;
  const status = failures.length === 1 && isSwarmError(first) ? first.status : 500;
  throw errors.FailedOnEngines({ failures: message }, { status });
}

/** Mirror refreshes after a change; a failed refresh is caught up by the periodic one. */
export async function refreshAll(nodes: readonly Node[], refresh: (node: Node) => Promise<void>): Promise<void> {
  await Promise.all(nodes.map((node) => refresh(node).catch(() => undefined)));
}

export interface JsonMessage {
  id?: string;
  status?: string;
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  progress?: string;
  progressDetail?: unknown;
  aux?: unknown;
  [key: string]: unknown;
}

/** A JSON message stream answered with 200 at once, as dockerd streams pulls and loads. */
export interface JsonStream {
  write(message: JsonMessage): void;
  end(): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export function openJsonStream(reply: FastifyReply): JsonStream {
  const abort = new AbortController();
  const headers: Record<string, string | number | string[]> = {};
  for (const [key, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[key] = value;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...headers, "content-type": "application/json" });
  raw.flushHeaders();
  raw.once("close", () => abort.abort());
  return {
    signal: abort.signal,
    write(message) {
      if (!raw.writableEnded && !raw.destroyed) raw.write(`${JSON.stringify(message)}\r\n`);
    },
    end() {
      if (!raw.writableEnded) raw.end();
    },
  };
}

/** The JSON messages of an engine's streamed answer; a line that is not JSON becomes a status. */
export async function* engineMessages(response: EngineResponse): AsyncGenerator<JsonMessage> {
  for await (const line of response.body.pipe(split2()) as AsyncIterable<string>) {
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line) as JsonMessage;
    } catch {
      yield { status: line };
    }
  }
}

/**
 * One request body sent to several engines at once without buffering it: the slowest engine sets
 * the pace. `drop(i)` detaches a branch whose engine gave up, so it cannot stall the others.
 */
export function teeBody(source: Readable | undefined, count: number): { branches: Array<Readable | undefined>; drop(index: number): void } {
  if (!source) return { branches: Array.from({ length: count }, () => undefined), drop: () => undefined };
  const branches = Array.from({ length: count }, () => {
    const branch = new PassThrough();
    branch.on("error", () => undefined);
    source.pipe(branch);
    return branch;
  });
  source.once("close", () => {
    if (source.readableEnded) return;
    for (const branch of branches) branch.destroy(new Error("the client closed the request body"));
  });
  return {
    branches,
    drop(index) {
      const branch = branches[index];
      if (!branch) return;
      source.unpipe(branch);
      branch.resume();
    },
  };
}

export interface FanOutOptions {
  readonly nodes: readonly Node[];
  readonly stream: JsonStream;
  /** Starts the engine's request; `body` is that engine's branch of the client's body, if any. */
  readonly call: (node: Node, body: Readable | undefined, signal: AbortSignal) => Promise<EngineResponse>;
  /** Each engine message's status as the client sees it. `status` undefined = the start/finish line. */
  readonly label: (status: string | undefined) => string | undefined;
  /** A line before the engine is called and after it succeeded (classic's pull did both). */
  readonly announce?: boolean;
  readonly body?: Readable | undefined;
  /** Errors that count as a skip rather than a failure (another OS's image): the status to show. */
  readonly skipped?: (node: Node, message: string) => string | undefined;
}

export interface FanOutResult {
  readonly succeeded: Node[];
  readonly failures: Array<{ node: Node; message: string }>;
}

/**
 * Runs one streamed operation on several engines in parallel and merges their messages, each
 * tagged with its engine's name (`id`), the layout classic Swarm used and the docker CLI renders
 * one line per node. An engine's error never ends the merged stream: it becomes that node's status
 * line, and the caller decides on the final error object.
 */
export async function fanOutStream(options: FanOutOptions): Promise<FanOutResult> {
  const { nodes, stream, label } = options;
  const tee = teeBody(options.body, nodes.length);
  const succeeded: Node[] = [];
  const failures: Array<{ node: Node; message: string }> = [];
  await Promise.all(
    nodes.map(async (node, index) => {
      const id = node.name;
      if (options.announce) stream.write({ status: label(undefined), id });
      let failure: string | undefined;
      try {
        const response = await options.call(node, tee.branches[index], stream.signal);
        if (response.statusCode >= 400) {
          failure = engineMessage(await text(response.body));
        } else {
          for await (const message of engineMessages(response)) {
            const error = message.error ?? message.errorDetail?.message;
            if (error !== undefined) {
              failure = error;
              break;
            }
            const status = message.status ?? (typeof message.stream === "string" ? message.stream.trim() : undefined);
            stream.write({ ...message, id, status: label(status ?? "") });
          }
        }
      } catch (err) {
        if (stream.signal.aborted) return;
        failure = errorMessage(err);
      } finally {
        tee.drop(index);
      }
      if (failure === undefined) {
        succeeded.push(node);
        if (options.announce) stream.write({ status: label(undefined), id });
        return;
      }
      const skip = options.skipped?.(node, failure);
      if (skip !== undefined) {
        stream.write({ status: skip, id });
        succeeded.push(node);
        return;
      }
      failures.push({ node, message: failure });
      stream.write({ status: label(failure), id });
    }),
  );
  return { succeeded, failures };
}

/** The final error object of a merged stream: which nodes failed and why. */
export function writeFailures(stream: JsonStream, failures: FanOutResult["failures"]): void {
  if (failures.length === 0) return;
  const message = failures.map((f) => `${f.node.name}: ${f.message}`).join("\n");
  stream.write({ errorDetail: { code: 1, message }, error: message });
}

/** The client's raw body (the content-type parser leaves non-JSON bodies as the request stream). */
export function bodyStream(request: FastifyRequest): Readable | undefined {
  const body = request.body;
  if (body instanceof Readable) return body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || Buffer.isBuffer(body)) return Readable.from([body]);
  return Readable.from([JSON.stringify(body)]);
}
