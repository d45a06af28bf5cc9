import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withDeadline } from "./deadline.js";

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
    expect((signal.reason as Error).message).toBe("no answer within 250 ms");
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
