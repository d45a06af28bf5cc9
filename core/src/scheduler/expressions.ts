import { RE2JS } from "re2js";
import type { Expression } from "../extension-points/model.js";
import { SwarmError, fillEntry, type ErrorKey, type FilledEntry } from "../errors/catalog.js";

/**
 * The expression grammar shared by constraints, affinities and whitelists, with classic Swarm's
 * exact rules and messages: `==` wins over `!=`, keys of at least two characters, a restricted
 * value alphabet, `~` for soft, `/…/` for an unanchored Go (RE2) regex, and globs compiled as
 * anchored regexes in which only `*` is rewritten.
 */

const KEY_PATTERN = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE_PATTERN = /^[=!/]?(~)?[a-z0-9:\-_\t\n\f\r .*/()?+[\]\\^$|]+$/i;

/** What is wrong with an expression: one of core's entries, or a plugin's own words (`InvalidExpression`). */
export class ExpressionError extends SwarmError {
  constructor(problem: string | FilledEntry) {
    super(typeof problem === "string" ? fillEntry("InvalidExpression", { message: problem }) : problem);
    this.name = "ExpressionError";
  }
}

/** The entries an ExpressionError carries: what the scheduler turns into classic Swarm's filter error. */
export const EXPRESSION_ERRORS: readonly ErrorKey[] = ["ExpressionWithoutOperator", "InvalidExpressionKey", "InvalidExpressionValue", "InvalidExpression"];

export function parseExpression(text: string): Expression {
  let operator: Expression["operator"];
  let index = text.indexOf("==");
  if (index >= 0) {
    operator = "==";
  } else {
    index = text.indexOf("!=");
    if (index < 0) throw new ExpressionError(fillEntry("ExpressionWithoutOperator", { expression: text }));
    operator = "!=";
  }
  // No trimming: classic Swarm rejects `region == eu` (`Key 'region ' is invalid`).
  const key = text.slice(0, index);
  const rawValue = text.slice(index + 2);
  if (!KEY_PATTERN.test(key)) throw new ExpressionError(fillEntry("InvalidExpressionKey", { key }));
  if (!VALUE_PATTERN.test(rawValue)) throw new ExpressionError(fillEntry("InvalidExpressionValue", { value: rawValue }));
  const soft = rawValue.startsWith("~");
  return { key, operator, value: soft ? rawValue.slice(1) : rawValue, soft };
}

export function parseExpressions(texts: readonly string[]): Expression[] {
  return texts.map(parseExpression);
}

export function formatExpression(expression: Expression, withSoftMarker = false): string {
  return `${expression.key}${expression.operator}${withSoftMarker && expression.soft ? "~" : ""}${expression.value}`;
}

interface CompiledPattern {
  readonly matches: (candidate: string) => boolean;
  /** Go's parse error for a value that does not compile, which then matches nothing. */
  readonly error?: string;
}

const patternCache = new Map<string, CompiledPattern>();
const PATTERN_CACHE_LIMIT = 10_000;

function compilePattern(value: string): CompiledPattern {
  const cached = patternCache.get(value);
  if (cached) return cached;
  let source: string;
  if (value.length >= 2 && value.startsWith("/") && value.endsWith("/")) {
    source = value.slice(1, -1);
  } else {
    // Classic Swarm does not escape the rest of a glob: `.` matches any character there too.
    source = `^${value.replaceAll("*", ".*")}$`;
  }
  let compiled: CompiledPattern;
  try {
    const regex = RE2JS.compile(source);
    compiled = { matches: (candidate) => regex.matcher(candidate).find() };
  } catch (err) {
    // A value that does not compile matches nothing, as in classic Swarm.
    compiled = { matches: () => false, error: err instanceof Error ? err.message : String(err) };
  }
  if (patternCache.size >= PATTERN_CACHE_LIMIT) patternCache.clear();
  patternCache.set(value, compiled);
  return compiled;
}

/** Does the value of `expression` match any of `candidates`? (Operator not applied.) */
export function matchesAny(expression: Pick<Expression, "value">, candidates: Iterable<string>): boolean {
  const { matches } = compilePattern(expression.value);
  for (const candidate of candidates) if (matches(candidate)) return true;
  return false;
}

/**
 * The expression as a scheduling failure names it. A value that does not compile matches no node,
 * as in classic Swarm, so the name carries Go's parse error: "region==/[/ (error parsing regexp:
 * missing closing ]: `[`)" says what to fix where "region==/[/" alone reads as a node problem.
 */
export function describeExpression(expression: Expression): string {
  const { error } = compilePattern(expression.value);
  const text = formatExpression(expression);
  return error === undefined ? text : `${text} (${error})`;
}

/** Applies the operator: `==` needs one matching candidate, `!=` needs none. */
export function evaluateExpression(expression: Expression, candidates: Iterable<string>): boolean {
  const matched = matchesAny(expression, candidates);
  return expression.operator === "==" ? matched : !matched;
}
