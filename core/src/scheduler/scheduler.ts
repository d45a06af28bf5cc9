import type { Filter, FilterPass } from "../extension-points/filter.js";
import type { NodeView, ScheduleRequest } from "../extension-points/model.js";
import type { Strategy } from "../extension-points/strategy.js";
import { CATALOG, SwarmError, errorMessage, fillEntry, isSwarmError, type ErrorKey, type FilledEntry } from "../errors/catalog.js";
import type { DecisionLog } from "./decisions.js";
import { EXPRESSION_ERRORS } from "./expressions.js";
import { blame } from "../errors/blame.js";

export interface NamedFilter {
  readonly name: string;
  readonly filter: Filter;
}

export interface NamedStrategy {
  readonly name: string;
  readonly strategy: Strategy;
}

export const NO_RESOURCES = CATALOG.NoResourcesAvailable.message;
export const NO_NODES = CATALOG.NoNodesAvailable.message;

/** The entries a SchedulingError carries: a create that no node can take. */
export const PLACEMENT_FAILURES: readonly ErrorKey[] = ["NoNodesAvailable", "NoResourcesAvailable", "UnsatisfiedConditions", "FilterMessage"];

/**
 * A failed placement. `message` is classic Swarm's text (scripts match on it); `detail` is the
 * per-reason node count, appended for humans: "0/3 nodes available: 2 node(s) failed region==eu,
 * 1 node(s) are unhealthy".
 */
export class SchedulingError extends SwarmError {
  /** Nodes rejected, by reason text. */
  readonly reasons: ReadonlyMap<string, number>;
  /** Nodes rejected, by the stable code of their reason. */
  readonly codes: ReadonlyMap<string, number>;
  /** Each distinct reason with its code and the number of nodes it rejected. */
  readonly rejections: ReadonlyArray<{ readonly code: string; readonly text: string; readonly count: number }>;
  constructor(classic: FilledEntry, detail: string, tally: Tally) {
    super(classic, { detail });
    this.name = "SchedulingError";
    this.reasons = tally.reasons;
    this.codes = tally.codes;
    this.rejections = [...tally.reasons].map(([text, count]) => ({ code: tally.codeOf.get(text) ?? "", text, count }));
  }
}

/** Why nodes were rejected, counted by text (for people) and by code (for metrics). */
class Tally {
  readonly reasons = new Map<string, number>();
  readonly codes = new Map<string, number>();
  readonly codeOf = new Map<string, string>();

  add(code: string, reason: string): void {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    this.codeOf.set(reason, code);
  }
}

/**
 * Runs the configured filters in order, then the strategy. First pass enforces soft expressions;
 * if it fails for any reason, a second pass ignores them and its outcome is final (§3.2).
 */
export class Scheduler {
  constructor(
    private enabledFilters: readonly NamedFilter[],
    private enabledStrategy: NamedStrategy,
    /** Where each decision is recorded, when something (metrics, the cluster view) reads them. */
    readonly log?: DecisionLog,
  ) {}

  get filters(): readonly NamedFilter[] {
    return this.enabledFilters;
  }

  get strategy(): NamedStrategy {
    return this.enabledStrategy;
  }

  /**
   * A reloaded configuration's filters and strategy. Decisions are synchronous, so one never sees
   * half of each: every decision after this uses the new ones.
   */
  replace(filters: readonly NamedFilter[], strategy: NamedStrategy): void {
    this.enabledFilters = filters;
    this.enabledStrategy = strategy;
  }

  /** Candidate nodes ranked best first; throws SchedulingError when none fits. */
  rank(request: ScheduleRequest, nodes: readonly NodeView[]): NodeView[] {
    return this.recorded(request, () => this.withSoftFallback(request, nodes, (candidates, total, reasons) => this.sort(request, candidates, total, reasons)));
  }

  /** The best node only: what a create needs, in one linear scan instead of a sort. */
  pick(request: ScheduleRequest, nodes: readonly NodeView[]): NodeView {
    return this.recorded(request, () => this.withSoftFallback(request, nodes, (candidates, total, reasons) => this.best(request, candidates, total, reasons)));
  }

  private recorded<T>(request: ScheduleRequest, decide: () => T): T {
    const log = this.log;
    if (!log) return decide();
    const started = performance.now();
    try {
      const decided = decide();
      log.record(request, (performance.now() - started) / 1000, undefined);
      return decided;
    } catch (err) {
      if (err instanceof SchedulingError) log.record(request, (performance.now() - started) / 1000, err);
      throw err;
    }
  }

  private withSoftFallback<T>(
    request: ScheduleRequest,
    nodes: readonly NodeView[],
    choose: (candidates: readonly NodeView[], total: number, reasons: Tally) => T,
  ): T {
    try {
      return choose(...this.filter(request, nodes, true));
    } catch (firstError) {
      if (!(firstError instanceof SchedulingError)) throw firstError;
      return choose(...this.filter(request, nodes, false));
    }
  }

  private filter(
    request: ScheduleRequest,
    nodes: readonly NodeView[],
    enforceSoft: boolean,
  ): [readonly NodeView[], number, Tally] {
    const context: FilterPass = { enforceSoft, nodes };
    let remaining: readonly NodeView[] = nodes;
    const reasons = new Tally();
    for (let index = 0; index < this.filters.length; index++) {
      const { name, filter } = this.filters[index]!;
      let prepared;
      try {
        prepared = callPlugin(`filter/${name}`, "prepare", () => filter.prepare(request, context));
      } catch (err) {
        // A bad expression fails placement with classic Swarm's "error from <filter> filter" line.
        if (isSwarmError(err, EXPRESSION_ERRORS)) {
          throw new SchedulingError(this.classicFilterMessage(request, index), "", new Tally());
        }
        throw err;
      }
      if (prepared === undefined) continue;
      const kept: NodeView[] = [];
      // One try around the loop rather than a closure per node: this runs for every node.
      try {
        for (const node of remaining) {
          const verdict = prepared.judge(node);
          if (verdict.ok) kept.push(node);
          else reasons.add(verdict.code, verdict.reason);
        }
      } catch (err) {
        throw blame(`filter/${name}`, "judge", err);
      }
      if (kept.length === 0 && remaining.length > 0) {
        throw new SchedulingError(this.classicFilterMessage(request, index), renderReasons(nodes.length, reasons.reasons), reasons);
      }
      remaining = kept;
    }
    if (remaining.length === 0) throw new SchedulingError(fillEntry("NoNodesAvailable"), renderReasons(nodes.length, reasons.reasons), reasons);
    return [remaining, nodes.length, reasons];
  }

  private best(request: ScheduleRequest, candidates: readonly NodeView[], total: number, reasons: Tally): NodeView {
    const { name, strategy } = this.strategy;
    const direction = tieDirection(strategy);
    let best: NodeView | undefined;
    let bestScore = 0;
    try {
      for (const node of candidates) {
        const result = strategy.score(request, node);
        if (!result.fits) {
          reasons.add(result.code, result.reason);
          continue;
        }
        if (best === undefined || compareRanked(result.score, node, bestScore, best, direction) < 0) {
          best = node;
          bestScore = result.score;
        }
      }
    } catch (err) {
      throw blame(`strategy/${name}`, "score", err);
    }
    if (best === undefined) throw new SchedulingError(fillEntry("NoResourcesAvailable"), renderReasons(total, reasons.reasons), reasons);
    return best;
  }

  private sort(
    request: ScheduleRequest,
    candidates: readonly NodeView[],
    total: number,
    reasons: Tally,
  ): NodeView[] {
    const { name, strategy } = this.strategy;
    const scored: Array<{ node: NodeView; score: number }> = [];
    try {
      for (const node of candidates) {
        const result = strategy.score(request, node);
        if (result.fits) scored.push({ node, score: result.score });
        else reasons.add(result.code, result.reason);
      }
    } catch (err) {
      throw blame(`strategy/${name}`, "score", err);
    }
    if (scored.length === 0) throw new SchedulingError(fillEntry("NoResourcesAvailable"), renderReasons(total, reasons.reasons), reasons);
    const direction = tieDirection(strategy);
    scored.sort((a, b) => compareRanked(a.score, a.node, b.score, b.node, direction));
    return scored.map((entry) => entry.node);
  }

  /** Classic Swarm lists the conditions of every filter up to and including the failing one. */
  private classicFilterMessage(request: ScheduleRequest, failingIndex: number): FilledEntry {
    const failing = this.filters[failingIndex]!;
    if (failing.filter.classicMessage !== undefined) return fillEntry("FilterMessage", { message: failing.filter.classicMessage });
    let conditions = "";
    for (let index = 0; index <= failingIndex; index++) {
      const { name, filter } = this.filters[index]!;
      let asked: string[];
      try {
        asked = filter.conditions(request);
      } catch (err) {
        conditions += `\nerror from ${name} filter: ${errorMessage(err)}`;
        break;
      }
      if (asked.length > 0) conditions += `\n[${asked.join(" ")}]`;
    }
    return fillEntry("UnsatisfiedConditions", { conditions });
  }
}

function tieDirection(strategy: Strategy): number {
  return strategy.tieBreak === "more-containers" ? -1 : strategy.tieBreak === "fewer-containers" ? 1 : 0;
}

/** Negative when (scoreA, a) ranks before (scoreB, b): higher score, then the tie-break, then name. */
function compareRanked(scoreA: number, a: NodeView, scoreB: number, b: NodeView, direction: number): number {
  if (scoreA !== scoreB) return scoreB - scoreA;
  if (direction === 0) return 0;
  const byContainers = direction * (a.containers.length - b.containers.length);
  if (byContainers !== 0) return byContainers;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function renderReasons(total: number, reasons: ReadonlyMap<string, number>): string {
  if (reasons.size === 0) return "";
  const parts = [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([reason, count]) => `${count} ${reason}`);
  return `0/${total} nodes available: ${parts.join(", ")}`;
}

function callPlugin<T>(plugin: string, operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw blame(plugin, operation, err);
  }
}
