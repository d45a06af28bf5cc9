/** The parts of the Mesos v1 scheduler API's JSON this backend reads and writes (names as in scheduler.proto). */

export interface Value {
  readonly value: string;
}

export interface Resource {
  readonly name: string;
  readonly type: "SCALAR" | "RANGES" | "SET" | "TEXT";
  readonly role?: string;
  readonly scalar?: { readonly value: number };
  readonly ranges?: { readonly range: ReadonlyArray<{ readonly begin: number; readonly end: number }> };
  readonly set?: { readonly item: readonly string[] };
}

export interface Attribute {
  readonly name: string;
  readonly type: "SCALAR" | "RANGES" | "SET" | "TEXT";
  readonly scalar?: { readonly value: number };
  readonly text?: { readonly value: string };
}

export interface Offer {
  readonly id: Value;
  readonly agent_id: Value;
  readonly hostname: string;
  readonly resources?: readonly Resource[];
  readonly attributes?: readonly Attribute[];
}

export interface TaskStatus {
  readonly task_id: Value;
  readonly state: string;
  readonly message?: string;
  readonly reason?: string;
  readonly source?: string;
  readonly agent_id?: Value;
  readonly uuid?: string;
  readonly data?: string;
}

export interface MesosEvent {
  readonly type: string;
  readonly subscribed?: { readonly framework_id: Value; readonly heartbeat_interval_seconds?: number };
  readonly offers?: { readonly offers?: readonly Offer[] };
  readonly rescind?: { readonly offer_id: Value };
  readonly update?: { readonly status: TaskStatus };
  readonly error?: { readonly message: string };
  readonly failure?: { readonly agent_id?: Value; readonly executor_id?: Value; readonly status?: number };
}

/** Task states after which the task runs no more. */
export const TERMINAL_STATES = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);
