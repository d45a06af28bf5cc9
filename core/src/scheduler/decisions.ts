import type { ScheduleRequest } from "../extension-points/model.js";
import type { SchedulingError } from "./scheduler.js";

/** One failed placement, as the cluster view lists it. */
export interface FailedDecision {
  /** ISO time. */
  readonly at: string;
  readonly image: string;
  readonly name: string | undefined;
  /** The first line of the error: classic Swarm's message. */
  readonly message: string;
  readonly reasons: ReadonlyArray<{ readonly code: string; readonly count: number; readonly text: string }>;
}

export interface Decision {
  readonly seconds: number;
  readonly error: SchedulingError | undefined;
}

/** How many failures the log keeps for the cluster view. */
const RECENT_FAILURES = 50;

/**
 * What placement has decided: counts, failures by reason code, the latest failures with their
 * reasons, and a listener for each decision (metrics). Bounded whatever the traffic.
 */
export class DecisionLog {
  decisions = 0;
  failures = 0;
  readonly failuresByCode = new Map<string, number>();
  private readonly recentFailures: FailedDecision[] = [];
  private readonly listeners = new Set<(decision: Decision) => void>();

  record(request: ScheduleRequest, seconds: number, error: SchedulingError | undefined): void {
    this.decisions++;
    if (error) {
      this.failures++;
      for (const [code, count] of error.codes) this.failuresByCode.set(code, (this.failuresByCode.get(code) ?? 0) + count);
      this.recentFailures.push({
        at: new Date().toISOString(),
        image: request.config.Image ?? "",
        name: request.name,
        message: error.message.split("\n")[0] ?? "",
        reasons: error.rejections,
      });
      if (this.recentFailures.length > RECENT_FAILURES) this.recentFailures.shift();
    }
    for (const listener of this.listeners) listener({ seconds, error });
  }

  /** Newest first. */
  recent(): readonly FailedDecision[] {
    return [...this.recentFailures].reverse();
  }

  onDecision(listener: (decision: Decision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
