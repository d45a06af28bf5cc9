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
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms);
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
