/**
 * What the manager's errors are made of: tables of entries (code, HTTP status, message template,
 * when it is answered) and, for each entry, a builder that fills the template in. The compiler
 * reads each template, so a builder asks for exactly the values its `{name}` placeholders name.
 */

/** One error the manager can answer. */
export interface ErrorEntry {
  /** What code matches the error by (`SWARM_ERR_…`); a client never sees it. */
  readonly code: string;
  /** The HTTP status a client gets. */
  readonly status: number;
  /** The client's `{"message": …}`, with `{name}` where a value goes. */
  readonly message: string;
  /** When the manager answers it, in one plain sentence (published in docs/errors.md). */
  readonly when: string;
}

/** A plugin's entry: its code is made from the plugin's name and the entry's key. */
export type PluginErrorEntry = Omit<ErrorEntry, "code">;

type CharsOf<Text extends string, Found extends string = never> = Text extends `${infer First}${infer Rest}` ? CharsOf<Rest, Found | First> : Found;
type NameChar = CharsOf<"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_">;
type OnlyNameChars<Text extends string> = Text extends `${infer First}${infer Rest}` ? (First extends NameChar ? OnlyNameChars<Rest> : false) : true;
// Braces around anything but a name stay text: `{"Name":"web"}` in a message is an example body.
type IsName<Text extends string> = Text extends "" ? false : OnlyNameChars<Text>;

/** The names of a template's `{name}` placeholders. */
export type Placeholders<Template extends string> = Template extends `${string}{${infer Name}}${infer Rest}`
  ? (IsName<Name> extends true ? Name : never) | Placeholders<Rest>
  : never;

/** A value for each placeholder of a template. */
export type ErrorParams<Template extends string> = { readonly [Name in Placeholders<Template>]: string | number };

/** The placeholder rule of `Placeholders`, at run time. */
const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

export interface ErrorOptions {
  /** The error this one reports, kept for the log. */
  readonly cause?: unknown;
  /** Lines for people (a per-reason node count): appended to the message, and kept apart for the log. */
  readonly detail?: string;
  /** Replaces the entry's status where another party's status is passed on (an engine's 404 or 409). */
  readonly status?: number;
}

type NoParams = Readonly<Record<string, never>>;

type BuilderArguments<Template extends string> = [Placeholders<Template>] extends [never]
  ? [params?: NoParams, options?: ErrorOptions]
  : [params: ErrorParams<Template>, options?: ErrorOptions];

/** Builds the error of one entry; carries the entry so that code can match by it and docs can list it. */
export interface ErrorBuilder<Template extends string = string> {
  (...args: BuilderArguments<Template>): SwarmError;
  readonly code: string;
  readonly status: number;
  readonly template: Template;
  readonly when: string;
}

/** One builder per entry of a table, under the entry's key. */
export type ErrorBuilders<Table extends Readonly<Record<string, PluginErrorEntry>>> = {
  readonly [Key in keyof Table]: ErrorBuilder<Table[Key]["message"]>;
};

/** An entry with its template filled in: what a SwarmError is made from. */
export interface FilledEntry {
  readonly code: string;
  readonly status: number;
  readonly template: string;
  readonly message: string;
}

/** The template with each `{name}` replaced by its value; a value is never read as a template itself. */
export function fillTemplate(template: string, params: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/** The names a template asks for, in order of first appearance. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

export class SwarmError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra lines for humans (e.g. the per-reason node count); logged, and appended to the message. */
  readonly detail: string | undefined;
  /** The entry's template: the same for every occurrence, so logs and metrics can group by it. */
  readonly template: string;

  /** The plugin (`filter/constraint`) whose call threw it, when plugin code did; set by the host, for the log. */
  plugin: string | undefined;

  /** Made by a builder (`errors.NoSuchContainer({ ref })`) or by a subclass from a filled entry. */
  constructor(filled: FilledEntry, options: ErrorOptions = {}) {
    super(options.detail ? `${filled.message}\n${options.detail}` : filled.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwarmError";
    this.code = filled.code;
    this.status = options.status ?? filled.status;
    this.detail = options.detail;
    this.template = filled.template;
    this.plugin = undefined;
  }
}

/** Anything shaped like a SwarmError, made by this copy of core or by another one a plugin bundles. */
export function hasSwarmErrorShape(err: unknown): err is SwarmError {
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

/** `TaskFailed` → `TASK_FAILED`, `filter-health` → `FILTER_HEALTH`. */
export function screamingSnake(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
}

function builderOf(code: string, entry: PluginErrorEntry): ErrorBuilder {
  const build = (params: Readonly<Record<string, unknown>> = {}, options: ErrorOptions = {}): SwarmError => {
    const error = new SwarmError({ code, status: entry.status, template: entry.message, message: fillTemplate(entry.message, params) }, options);
    // The stack starts where the error was thrown, not in here.
    Error.captureStackTrace(error, build);
    return error;
  };
  return Object.freeze(Object.assign(build, { code, status: entry.status, template: entry.message, when: entry.when })) as unknown as ErrorBuilder;
}

/** A frozen builder for each entry of a table whose entries spell their own codes (core's). */
export function buildersOf<const Table extends Readonly<Record<string, ErrorEntry>>>(table: Table): ErrorBuilders<Table> {
  const builders = Object.fromEntries(Object.entries(table).map(([key, entry]) => [key, builderOf(entry.code, entry)]));
  return Object.freeze(builders) as ErrorBuilders<Table>;
}

/**
 * A plugin's own errors: one builder per entry, with the code `SWARM_ERR_<PLUGIN>_<KEY>`
 * (`SWARM_ERR_MESOS_TASK_FAILED` for the mesos plugin's `TaskFailed`), so two plugins never share
 * a code. Templates are checked as core's are.
 */
export function definePluginErrors<const Table extends Readonly<Record<string, PluginErrorEntry>>>(plugin: string, table: Table): ErrorBuilders<Table> {
  const prefix = `SWARM_ERR_${screamingSnake(plugin)}_`;
  const builders = Object.fromEntries(Object.entries(table).map(([key, entry]) => [key, builderOf(`${prefix}${screamingSnake(key)}`, entry)]));
  return Object.freeze(builders) as ErrorBuilders<Table>;
}

/** Is this a table of builders (core's `errors` or a plugin's)? What the docs generator looks for in a module. */
export function isErrorBuilders(value: unknown): value is Readonly<Record<string, ErrorBuilder>> {
  if (typeof value !== "object" || value === null) return false;
  const members = Object.values(value);
  return members.length > 0 && members.every((member) => typeof member === "function" && typeof (member as { code?: unknown }).code === "string");
}
