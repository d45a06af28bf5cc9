import { setTimeout as sleep } from "node:timers/promises";
import type { LeaderElector, LeadershipChange } from "../extension-points/leader-elector.js";
import type { Logger } from "../extension-points/plugin.js";
import { errorMessage, errors } from "../errors/catalog.js";

/** How long a failed election waits before campaigning again (classic Swarm's 10 s). */
export const ELECTION_RETRY_MS = 10_000;

/**
 * This manager's place among `swarm manage --replication` peers: it campaigns through the leader
 * elector for as long as it runs, and tells the API whether to serve a request itself or pass it
 * to the primary. It starts as a replica that knows no primary, so nothing is served as primary
 * before the store has said so.
 */
export class Replication {
  private current: LeadershipChange = { role: "replica", primary: undefined };
  /** How many times this manager has seen a new primary elected (itself included). */
  elections = 0;
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly elector: LeaderElector,
    /** `--advertise`: how the other managers reach this one. */
    readonly advertise: string,
    private readonly logger: Logger,
    private readonly retryMs = ELECTION_RETRY_MS,
  ) {}

  start(): void {
    this.running ??= this.campaign();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    // A successor need not wait for the lock's TTL.
    await this.elector.resign().catch((err: unknown) => this.logger.warn(`Leader Election: resigning failed: ${errorMessage(err)}`));
  }

  isPrimary(): boolean {
    return this.current.role === "primary";
  }

  /** The primary's address once known: this manager's own when it is the primary. */
  async primary(signal: AbortSignal): Promise<string> {
    for (;;) {
      const known = this.knownPrimary();
      if (known !== undefined) return known;
      if (signal.aborted) throw errors.ClientLeftWithoutPrimary();
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /** `docker info`'s role lines: `Role: primary`, or `Role: replica` and `Primary: <addr>`. */
  roleLines(): Array<[string, string]> {
    if (this.current.role === "primary") return [["Role", "primary"]];
    return [
      ["Role", "replica"],
      ["Primary", this.current.primary ?? ""],
    ];
  }

  private knownPrimary(state: LeadershipChange = this.current): string | undefined {
    return state.role === "primary" ? this.advertise : state.primary;
  }

  private apply(change: LeadershipChange): void {
    const before = this.current;
    const was = this.knownPrimary(before);
    this.current = change;
    if (change.role === "primary" && before.role !== "primary") this.logger.info("Leader Election: Cluster leadership acquired");
    if (change.role === "replica" && before.role === "primary") this.logger.info("Leader Election: Cluster leadership lost");
    const now = this.knownPrimary();
    if (now !== undefined && now !== "" && now !== was) {
      this.elections++;
      this.logger.info(`New leader elected: ${now}`);
    }
    for (const wake of [...this.waiters]) wake();
  }

  private async campaign(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        for await (const change of this.elector.campaign(this.advertise, signal)) this.apply(change);
        if (!signal.aborted) throw new Error("the elector stopped reporting");
      } catch (err) {
        if (signal.aborted) return;
        // The lock may be gone with the store: stop serving as primary until the store says so again.
        this.apply({ role: "replica", primary: undefined });
        this.logger.error(`Leader Election: ${errorMessage(err)}; campaigning again in ${this.retryMs / 1000}s`);
        await sleep(this.retryMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }
}
