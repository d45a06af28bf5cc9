/**
 * One catalog of the manager's own errors. Every error that reaches a Docker client carries a
 * `code` from here and an HTTP status; the API layer turns it into Docker's `{"message": …}` body.
 * Code is matched by string, never by `instanceof`, so two copies of core (a plugin bundling its
 * own) still agree.
 */
export const ErrorCodes = {
  BadRequest: { code: "SWARM_ERR_BAD_REQUEST", status: 400, when: "the request itself is wrong: a bad body, filter, parameter or content type" },
  NotFound: { code: "SWARM_ERR_NOT_FOUND", status: 404, when: "no container, image, network, volume, exec or node answers to the reference" },
  Conflict: { code: "SWARM_ERR_CONFLICT", status: 409, when: "a name is taken, or a reference matches more than one object" },
  RequestTimeout: { code: "SWARM_ERR_REQUEST_TIMEOUT", status: 408, when: "a request body stalled or trickled past its limit" },
  NotModified: { code: "SWARM_ERR_NOT_MODIFIED", status: 304, when: "the engine had nothing to change (start of a running container)" },
  Scheduling: { code: "SWARM_ERR_SCHEDULING", status: 500, when: "no node fits a create, with classic Swarm's message and the per-reason node count" },
  Engine: { code: "SWARM_ERR_ENGINE", status: 500, when: "an engine failed or could not be reached" },
  EngineBusy: { code: "SWARM_ERR_ENGINE_BUSY", status: 503, when: "an engine's queue of waiting calls is full" },
  EngineTimeout: { code: "SWARM_ERR_ENGINE_TIMEOUT", status: 504, when: "an engine did not answer a call in time; it may still be doing it" },
  UnhealthyNode: { code: "SWARM_ERR_UNHEALTHY_NODE", status: 500, when: "the object lives on a node that is not healthy" },
  Internal: { code: "SWARM_ERR_INTERNAL", status: 500, when: "the manager itself failed (a replica without a primary, a relay that broke)" },
  NotImplemented: { code: "SWARM_ERR_NOT_IMPLEMENTED", status: 501, when: "a route classic Swarm does not serve either" },
  Config: { code: "SWARM_ERR_CONFIG", status: 500, when: "a flag, config file key or option is invalid; the manager does not start" },
  Plugin: { code: "SWARM_ERR_PLUGIN", status: 500, when: "a plugin failed to load, start or run; the message names it (kind/name)" },
  Expression: { code: "SWARM_ERR_EXPRESSION", status: 500, when: "a constraint or affinity expression cannot be parsed" },
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

/** The catalog as a Markdown table (docs/errors.md is this, kept in step by a test). */
export function renderErrorCatalog(): string {
  const rows = Object.entries(ErrorCodes).map(([kind, entry]) => `| \`${entry.code}\` | ${entry.status} | ${kind} | ${entry.when} |`);
  return [
    "# Errors",
    "",
    "Every error the manager answers is `{\"message\": \"…\"}` with the HTTP status below, and carries one of these",
    "codes (matched by code, never by message). Generated from `core/src/errors/catalog.ts` by",
    "`npm run docs:errors`; a test fails when the two differ.",
    "",
    "| code | status | kind | when |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
