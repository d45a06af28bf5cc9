import { createRequire } from "node:module";
import type * as net from "node:net";
import { errors, type SwarmError } from "../errors/catalog.js";

/** How a body relay ended (see relay/native/splice-relay.c). */
export type RelayOutcome = "done" | "truncated" | "bad-chunk" | "client-error" | "engine-error" | "cancelled" | "idle";

export interface RelayResult {
  readonly outcome: RelayOutcome;
  /** The errno behind a client or engine error, else 0. */
  readonly errno: number;
  /** Bytes written to the engine, framing included. */
  readonly forwarded: number;
}

interface NativeRelay {
  /** The arguments `start` takes; an addon built from other sources is not used. */
  readonly abi: number;
  start(inFd: number, outFd: number, chunked: boolean, length: number, head: Buffer, idleMs: number): [Promise<RelayResult>, object];
  signal(handle: object, kind: typeof SIGNAL_CANCEL | typeof SIGNAL_DROP): void;
}

const RELAY_ABI = 2;
const SIGNAL_CANCEL = 1;
const SIGNAL_DROP = 2;

export type BodyFraming = { readonly chunked: true } | { readonly chunked: false; readonly length: number };

let native: { relay: NativeRelay | null; why: string } | undefined;
let disabled = false;

/** `--no-upload-relay`: uploads take the portable path even where the relay is installed. */
export function disableSpliceRelay(): void {
  disabled = true;
}

/**
 * The kernel-side relay: the optional package @swarm/splice-relay, compiled when it is installed.
 * Without it (no compiler at install time, another OS, or turned off) uploads take the portable
 * path through the HTTP server.
 */
export function spliceRelay(): NativeRelay | null {
  return disabled ? null : loadRelay().relay;
}

/** Which path uploads take here, and why, for the manager's start-up log. */
export function uploadPath(): string {
  if (disabled) return "through the HTTP server (--no-upload-relay)";
  const { relay, why } = loadRelay();
  return relay ? "socket to socket in the kernel (@swarm/splice-relay)" : `through the HTTP server (${why})`;
}

function loadRelay(): { relay: NativeRelay | null; why: string } {
  if (native === undefined) {
    try {
      const loaded = createRequire(import.meta.url)("@swarm/splice-relay") as Partial<NativeRelay>;
      if (typeof loaded.start !== "function") native = { relay: null, why: "@swarm/splice-relay has no start()" };
      else if (loaded.abi !== RELAY_ABI) native = { relay: null, why: `@swarm/splice-relay was built for another version of core (ABI ${String(loaded.abi)}, this core needs ${RELAY_ABI})` };
      else native = { relay: loaded as NativeRelay, why: "" };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      native = { relay: null, why: code === "MODULE_NOT_FOUND" ? "@swarm/splice-relay is not installed or did not build" : `@swarm/splice-relay did not load: ${(err as Error).message}` };
    }
  }
  return native;
}

/** The file descriptor behind a plain TCP socket, if Node exposes it. */
export function socketFd(socket: net.Socket): number | undefined {
  const fd = (socket as net.Socket & { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** What a request body broken mid-way tells the client, in the HTTP server's own words. */
const CLIENT_FAULTS: Partial<Record<RelayOutcome, () => SwarmError>> = {
  truncated: errors.TruncatedBody,
  "bad-chunk": errors.BadChunkSize,
  "client-error": errors.ClientConnectionFailed,
};

/** How long an upload's client may send nothing while the engine would take more. */
export const UPLOAD_IDLE_MS = 60_000;

/**
 * A request body still unread on the client's socket, taken from the HTTP server before it parsed
 * any of it (see api/raw-upload.ts). It is relayed to an engine once (`relayTo`) or, when no engine
 * wants it, read and dropped (`drain`) so that the client can read the answer.
 */
export class RawRequestBody {
  private relay: { readonly done: Promise<RelayResult>; readonly handle: object } | undefined;

  constructor(
    private readonly clientFd: number,
    private readonly framing: BodyFraming,
    /** Body bytes the HTTP server had read along with the head. */
    private readonly head: Buffer,
    /** A client that sends nothing for this long (while the engine takes what comes) is given up; 0: never. */
    readonly idleMs: number = UPLOAD_IDLE_MS,
  ) {}

  /**
   * Moves the body to `engine`, the socket of a request whose head has been written. Chunk framing
   * is kept but for the last chunk, which the caller writes by ending its request.
   */
  relayTo(engine: net.Socket): Promise<RelayResult> {
    if (this.relay) return Promise.reject(errors.UploadReadTwice());
    // An encrypted connection's descriptor carries TLS records, not the body.
    const fd = (engine as net.Socket & { encrypted?: boolean }).encrypted ? undefined : socketFd(engine);
    if (fd === undefined) return Promise.reject(errors.UploadWithoutDescriptor());
    const done = this.begin(fd);
    // The relay holds the socket open through its own descriptor: once Node has closed it, the
    // engine must get no more, while the client's rest is still read.
    engine.once("close", () => this.signal(SIGNAL_DROP));
    return done;
  }

  /** Settles once the body has been read to its end: by the relay under way, or by reading it and dropping it. */
  drain(): Promise<RelayResult> {
    return this.relay?.done ?? this.begin(-1);
  }

  /** Stops a relay at its next wait for data; it settles as "cancelled". */
  cancel(): void {
    this.signal(SIGNAL_CANCEL);
  }

  private signal(kind: typeof SIGNAL_CANCEL | typeof SIGNAL_DROP): void {
    if (this.relay) spliceRelay()?.signal(this.relay.handle, kind);
  }

  private begin(outFd: number): Promise<RelayResult> {
    const relay = spliceRelay();
    if (!relay) return Promise.reject(errors.UploadRelayUnavailable());
    const [done, handle] = relay.start(this.clientFd, outFd, this.framing.chunked, this.framing.chunked ? 0 : this.framing.length, this.head, this.idleMs);
    this.relay = { done, handle };
    return done;
  }
}

/** The client's fault in a relay that did not finish, as a 400 for the client; undefined if it was not the client's. */
export function clientFault(result: RelayResult, idleMs = UPLOAD_IDLE_MS): SwarmError | undefined {
  if (result.outcome === "idle") return errors.BodyIdleTimeout({ seconds: idleMs / 1000 });
  return CLIENT_FAULTS[result.outcome]?.();
}
