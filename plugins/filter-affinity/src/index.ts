import { PASS, defineFilter, describeExpression, formatExpression, matchesAny, parseExpressions, reject } from "@swarm/core";
import type { Expression, FilterVerdict, NodeView, ScheduleRequest } from "@swarm/core";

export const REASON_AFFINITY_FAILED = "affinity.failed";

/**
 * The repository part of a RepoTag, as classic Swarm's `ParseRepositoryTag`: `busybox:latest` →
 * `busybox`, `localhost:5000/test:1` → `localhost:5000/test`, `localhost:5000/test` unchanged
 * (a last `:` followed by a `/` separates a registry port, not a tag).
 */
export function repositoryOf(repoTag: string): string {
  const at = repoTag.indexOf("@");
  if (at >= 0) return repoTag.slice(0, at);
  const colon = repoTag.lastIndexOf(":");
  if (colon < 0 || repoTag.slice(colon + 1).includes("/")) return repoTag;
  return repoTag.slice(0, colon);
}

/** `container` candidates: ID and first name of every named container (pending ones included). */
export function containerCandidates(node: NodeView): string[] {
  const result: string[] = [];
  for (const container of node.containers) {
    const first = container.names[0];
    if (first === undefined) continue;
    result.push(container.id, first.startsWith("/") ? first.slice(1) : first);
  }
  return result;
}

/** `image` candidates: every image's ID, RepoTags and the repository part of each RepoTag. */
export function imageCandidates(node: NodeView): string[] {
  const result: string[] = [];
  for (const image of node.images) {
    result.push(image.id, ...image.repoTags);
    for (const tag of image.repoTags) result.push(repositoryOf(tag));
  }
  return result;
}

/** Any other key: the container label of that name on every container, `""` when missing. */
export function labelCandidates(node: NodeView, key: string): string[] {
  return node.containers.map((container) => container.labels[key] ?? "");
}

interface Candidates {
  readonly list: readonly string[];
  readonly set: ReadonlySet<string>;
}

/** What a node snapshot answered so far; the snapshot never changes, so neither do the answers. */
interface NodeMemo {
  readonly candidates: Map<string, Candidates>;
  /** Match results by `key\nvalue`, shared by every request that asks the same thing. */
  readonly matches: Map<string, boolean>;
}

const MEMO_LIMIT = 1024;
const memos = new WeakMap<NodeView, NodeMemo>();
/**
 * Index of the first failing check (-1: none) by request signature, then by node snapshot:
 * repeated requests (`compose scale`, retries) cost one lookup per node.
 */
const outcomesBySignature = new Map<string, WeakMap<NodeView, number>>();

function outcomesFor(signature: string): WeakMap<NodeView, number> {
  let outcomes = outcomesBySignature.get(signature);
  if (outcomes === undefined) {
    if (outcomesBySignature.size >= MEMO_LIMIT) outcomesBySignature.clear();
    outcomesBySignature.set(signature, (outcomes = new WeakMap()));
  }
  return outcomes;
}

function candidatesOf(node: NodeView, key: string): Candidates {
  const list = key === "container" ? containerCandidates(node) : key === "image" ? imageCandidates(node) : labelCandidates(node, key);
  return { list, set: new Set(list) };
}

/**
 * A glob without regex metacharacters matches exactly itself, so a set lookup answers it without
 * running the regex engine over every container of every node.
 */
export function isLiteral(value: string): boolean {
  const regex = value.length >= 2 && value.startsWith("/") && value.endsWith("/");
  return !regex && !/[.*()?+[\]{}\\^$|]/.test(value);
}

/** An expression's key and value, with its memo key built once per create rather than per node. */
export interface AffinityMatcher {
  readonly key: string;
  readonly value: string;
  readonly id: string;
}

export function affinityMatcher({ key, value }: Pick<Expression, "key" | "value">): AffinityMatcher {
  return { key, value, id: `${key}\n${value}` };
}

function memoOf(node: NodeView): NodeMemo {
  let memo = memos.get(node);
  if (memo === undefined) memos.set(node, (memo = { candidates: new Map(), matches: new Map() }));
  return memo;
}

function matchesMemo(matcher: AffinityMatcher, node: NodeView, memo: NodeMemo): boolean {
  let matched = memo.matches.get(matcher.id);
  if (matched === undefined) {
    let candidates = memo.candidates.get(matcher.key);
    if (candidates === undefined) {
      if (memo.candidates.size >= MEMO_LIMIT) memo.candidates.clear();
      memo.candidates.set(matcher.key, (candidates = candidatesOf(node, matcher.key)));
    }
    matched = isLiteral(matcher.value) ? candidates.set.has(matcher.value) : matchesAny(matcher, candidates.list);
    if (memo.matches.size >= MEMO_LIMIT) memo.matches.clear();
    memo.matches.set(matcher.id, matched);
  }
  return matched;
}

/** Does any candidate of `node` match? Literal globs are a set lookup, the rest the shared matcher. */
export function matchesNode(matcher: AffinityMatcher, node: NodeView): boolean {
  return matchesMemo(matcher, node, memoOf(node));
}

export default defineFilter({
  name: "affinity",
  apiVersion: "^1",
  description: "Places containers next to (or away from) containers, images or container labels.",
  create() {
    return {
      prepare(request, { enforceSoft }) {
        const checks = parseExpressions(request.affinities)
          .filter((expression) => enforceSoft || !expression.soft)
          .map((expression) => ({
            matcher: affinityMatcher(expression),
            wanted: expression.operator === "==",
            verdict: reject(REASON_AFFINITY_FAILED, `node(s) failed affinity ${describeExpression(expression)}`),
          }));
        if (checks.length === 0) return undefined;
        const outcomes = outcomesFor(checks.map(({ matcher, wanted }) => `${wanted ? "==" : "!="}${matcher.id}`).join("\0"));
        return {
          judge(node): FilterVerdict {
            let failed = outcomes.get(node);
            if (failed === undefined) {
              const memo = memoOf(node);
              failed = checks.findIndex(({ matcher, wanted }) => matchesMemo(matcher, node, memo) !== wanted);
              outcomes.set(node, failed);
            }
            return checks[failed]?.verdict ?? PASS;
          },
        };
      },
      conditions: (request: ScheduleRequest) =>
        parseExpressions(request.affinities).map((e) => `${formatExpression(e)} (soft=${e.soft})`),
    };
  },
});
