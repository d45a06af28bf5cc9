import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { untilAborted, withDeadline } from "./deadline.js";

describe("a signal with a deadline", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("aborts once the deadline passes, saying how long it waited", () => {
    const parent = new AbortController();
    const { signal } = withDeadline(parent.signal, 250);
    vi.advanceTimersByTime(249);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe("no answer within 250ms");
    expect(parent.signal.aborted).toBe(false);
  });

  it("aborts with the parent, for the parent's reason, also when the parent was aborted already", () => {
    const parent = new AbortController();
    const { signal } = withDeadline(parent.signal, 1_000);
    parent.abort(new Error("stopping"));
    expect((signal.reason as Error).message).toBe("stopping");
    expect((withDeadline(parent.signal, 1_000).signal.reason as Error).message).toBe("stopping");
  });

  it("works without a parent", () => {
    const { signal } = withDeadline(undefined, 10);
    vi.advanceTimersByTime(10);
    expect(signal.aborted).toBe(true);
  });

  it("lets go of the timer and the parent once done", () => {
    const parent = new AbortController();
    const { signal, done } = withDeadline(parent.signal, 100);
    done();
    vi.advanceTimersByTime(1_000);
    parent.abort();
    expect(signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("a call bounded by a signal", () => {
  it("settles as the call does while the signal is live", async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve(42), signal, "asking")).resolves.toBe(42);
    await expect(untilAborted(Promise.reject(new Error("refused")), signal, "asking")).rejects.toThrow("refused");
    await expect(untilAborted(Promise.reject("plain"), signal, "asking")).rejects.toThrow("plain");
  });

  it("gives up on a call that does not answer once the signal aborts, naming the call and why", async () => {
    const abort = new AbortController();
    const pending = untilAborted(new Promise<never>(() => {}), abort.signal, "writing k at the store");
    abort.abort("deadline");
    await expect(pending).rejects.toThrow("writing k at the store: no answer in time (deadline)");
  });

  it("does not wait at all on a signal aborted already", async () => {
    await expect(untilAborted(new Promise<never>(() => {}), AbortSignal.abort("stopping"), "listing")).rejects.toThrow(
      "listing: aborted (stopping)",
    );
  });
});
