import { formatGoDuration } from "./duration.js";

/**
 * The caller's signal plus a deadline, for one call to a store or service that must not stall a
 * heartbeat or a watch. Not AbortSignal.any(AbortSignal.timeout()): on Node 20 a timeout signal
 * inside a composite can be garbage-collected before it fires (nodejs/node#57736), and each
 * composite stays attached to a long-lived parent until that aborts. Call done() when the work is
 * over, so that neither the timer nor the parent's listener outlives it.
 */
export function withDeadline(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(parent?.reason);
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${formatGoDuration(ms)}`)), ms);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}

/**
 * The promise's outcome, or a rejection as soon as the signal aborts: for store clients whose calls
 * take no signal, so that a heartbeat or a watch is not held by a call that will never answer. The
 * call itself is abandoned, not cancelled; what it settles to later is ignored.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error(`${what}: aborted (${String(signal.reason)})`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what}: no answer in time (${String(signal.reason)})`));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
