/**
 * A one-consumer queue of store notifications (watch events, lock losses), so events that arrive
 * while the consumer is busy yielding are not lost.
 */
export class Notifications<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  /** Everything queued, waiting for at least one item; undefined once the signal aborts. */
  async drain(signal: AbortSignal): Promise<T[] | undefined> {
    while (this.items.length === 0) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
    return this.items.splice(0);
  }
}
