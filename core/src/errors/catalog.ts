/**
 * One catalog of the manager's own errors. Every error that reaches a Docker client carries a
 * `code` from here and an HTTP status; the API layer turns it into Docker's `{"message": …}` body.
 * Code is matched by string, never by `instanceof`, so two copies of core (a plugin bundling its
 * own) still agree.
 */
export const ErrorCodes = {
  BadRequest: { code: "SWARM_ERR_BAD_REQUEST", status: 400 },
  NotFound: { code: "SWARM_ERR_NOT_FOUND", status: 404 },
  Conflict: { code: "SWARM_ERR_CONFLICT", status: 409 },
  RequestTimeout: { code: "SWARM_ERR_REQUEST_TIMEOUT", status: 408 },
  NotModified: { code: "SWARM_ERR_NOT_MODIFIED", status: 304 },
  Scheduling: { code: "SWARM_ERR_SCHEDULING", status: 500 },
  Engine: { code: "SWARM_ERR_ENGINE", status: 500 },
  EngineBusy: { code: "SWARM_ERR_ENGINE_BUSY", status: 503 },
  EngineTimeout: { code: "SWARM_ERR_ENGINE_TIMEOUT", status: 504 },
  UnhealthyNode: { code: "SWARM_ERR_UNHEALTHY_NODE", status: 500 },
  Internal: { code: "SWARM_ERR_INTERNAL", status: 500 },
  NotImplemented: { code: "SWARM_ERR_NOT_IMPLEMENTED", status: 501 },
  Config: { code: "SWARM_ERR_CONFIG", status: 500 },
  Plugin: { code: "SWARM_ERR_PLUGIN", status: 500 },
  Expression: { code: "SWARM_ERR_EXPRESSION", status: 500 },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]["code"];

/** A request body that ended early, in the words of the 400 it gets wherever it is read. */
export const TRUNCATED_BODY_MESSAGE =
  "request ended before its body was complete (fewer bytes than its Content-Length, or a chunked body without its last chunk)";
/** A chunked request body whose chunk-size line is not one. */
export const BAD_CHUNK_SIZE_MESSAGE = "invalid chunk size in a chunked request body";

export class SwarmError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra lines for humans (e.g. the per-reason node count); logged, and appended to the message. */
  readonly detail: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; detail?: string; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwarmError";
    this.code = ErrorCodes[kind].code;
    this.status = options.status ?? ErrorCodes[kind].status;
    this.detail = options.detail;
  }
}

export function isSwarmError(err: unknown): err is SwarmError {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { code?: unknown }).code === "string" &&
    (err as { code: string }).code.startsWith("SWARM_ERR_") &&
    typeof (err as { status?: unknown }).status === "number"
  );
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
