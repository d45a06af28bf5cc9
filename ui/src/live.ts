/**
 * Keeps the page current: the manager's /events stream says *that* something changed, and a
 * throttled re-fetch of the whole picture says *what*. Re-fetching rather than applying events
 * keeps the page right whatever the event vocabulary (engine health changes, for one, are not
 * guaranteed to come as events), at the price of one status + one container list per second.
 */

export type StreamState = "connecting" | "live" | "down";

/** The parts of a Docker event (plus Swarm's node) that the page names. */
export interface ClusterEvent {
  readonly Type?: string;
  readonly Action?: string;
  readonly status?: string;
  readonly id?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
  readonly node?: { readonly Name?: string };
}

export interface LiveOptions {
  readonly eventsUrl: string;
  /** Fetch and store everything; rejections are the caller's to show, the loop goes on. */
  readonly refresh: (signal: AbortSignal) => Promise<void>;
  readonly onStream: (state: StreamState) => void;
  readonly onEvent: (event: ClusterEvent) => void;
  /** At most one refresh per this many ms, however many events arrive. */
  readonly minIntervalMs?: number;
  /** A refresh at least this often, for changes that send no event or a stream that silently died. */
  readonly pollMs?: number;
  /** A refresh that has not answered by then is abandoned, so one hung request cannot stop the page. */
  readonly refreshTimeoutMs?: number;
}

export interface Live {
  /** Ask for a refresh; it runs now, or once the minimum interval since the last one has passed. */
  request(): void;
  stop(): void;
}

export function startLive(options: LiveOptions): Live {
  const minInterval = options.minIntervalMs ?? 1_000;
  const pollMs = options.pollMs ?? 5_000;
  const refreshTimeout = options.refreshTimeoutMs ?? 15_000;
  const stopper = new AbortController();
  let lastStart = 0;
  let lastDuration = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;

  const run = async () => {
    timer = undefined;
    running = true;
    lastStart = Date.now();
    try {
      await options.refresh(AbortSignal.any([stopper.signal, AbortSignal.timeout(refreshTimeout)]));
    } catch {
      // the caller has already shown it; the next event or poll tries again
    } finally {
      lastDuration = Date.now() - lastStart;
      running = false;
      // Events that came in while a refresh was on the wire may not be in its answer.
      if (again && !stopper.signal.aborted) {
        again = false;
        request();
      }
    }
  };

  const request = () => {
    if (stopper.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    if (timer !== undefined) return;
    // On a big cluster one refresh (thousands of containers) can take a good part of a second:
    // spacing them by a multiple of the last one's time keeps a busy event stream from making the
    // page, and the manager answering it, do nothing but refresh.
    const spacing = Math.max(minInterval, lastDuration * 4);
    timer = setTimeout(() => void run(), Math.max(0, lastStart + spacing - Date.now()));
  };

  const poll = setInterval(request, pollMs);
  void followEvents(options, request, stopper.signal);
  request();

  return {
    request,
    stop() {
      stopper.abort();
      clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** Reads the stream for as long as the page lives, reconnecting with a growing pause. */
async function followEvents(options: LiveOptions, request: () => void, stop: AbortSignal): Promise<void> {
  let pause = 1_000;
  while (!stop.aborted) {
    options.onStream("connecting");
    let sawData = false;
    try {
      await readStream(options.eventsUrl, stop, () => {
        options.onStream("live");
        // Whatever happened while we were not listening is only seen by asking again.
        request();
      }, (line) => {
        sawData = true;
        let event: ClusterEvent = {};
        try {
          event = JSON.parse(line) as ClusterEvent;
        } catch {
          // a line we cannot read still says that something changed
        }
        options.onEvent(event);
        request();
      });
    } catch {
      // refused, reset or aborted: all handled alike by the pause below
    }
    if (stop.aborted) return;
    options.onStream("down");
    // A stream that carried events was healthy; only back off while connecting keeps failing.
    pause = sawData ? 1_000 : Math.min(pause * 2, 15_000);
    await delay(pause, stop);
  }
}

async function readStream(url: string, stop: AbortSignal, onOpen: () => void, onLine: (line: string) => void): Promise<void> {
  const response = await fetch(url, { signal: stop, cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new Error(`${url}: ${response.status}`);
  }
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line !== "") onLine(line);
        newline = buffer.indexOf("\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function delay(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    stop.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      stop.removeEventListener("abort", done);
      resolve();
    }
  });
}

export function describeEvent(event: ClusterEvent): string {
  const what = [event.Type, event.Action ?? event.status].filter(Boolean).join(" ");
  const subject = event.Actor?.Attributes?.name ?? (event.Actor?.ID ?? event.id ?? "").slice(0, 12);
  const where = event.node?.Name ? ` on ${event.node.Name}` : "";
  return `${what || "event"}${subject ? ` ${subject}` : ""}${where}`;
}
