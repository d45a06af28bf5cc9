import { setTimeout as wait } from "node:timers/promises";
import { request } from "undici";
import { errorMessage, type Logger } from "@swarm/core";
import type { MasterLocator } from "./master.js";
import { RecordIoDecoder } from "./recordio.js";
import type { MesosEvent } from "./protocol.js";

export interface FrameworkInfo {
  readonly user: string;
  readonly name: string;
  readonly hostname: string;
  readonly checkpoint: boolean;
  readonly failover_timeout: number;
  readonly id?: { readonly value: string };
}

const CONNECT_TIMEOUT_MS = 10_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** Missing this many heartbeats in a row means the master is gone, even if the connection looks open. */
const HEARTBEATS_MISSED = 3;

/**
 * The framework's side of the Mesos v1 scheduler HTTP API: one SUBSCRIBE connection that carries
 * the events (RecordIO) for as long as the master keeps it, and calls on other connections that
 * name that subscription by its `Mesos-Stream-Id`. A cut stream, a silent one, or a master that
 * says another one leads (307) leads to a new subscription, with the framework ID the first one
 * was given so that the master keeps our tasks.
 */
export class SchedulerClient {
  frameworkId: string | undefined;
  private streamId: string | undefined;
  private master: string | undefined;
  private subscribed = false;

  constructor(
    private readonly locator: MasterLocator,
    private readonly framework: () => FrameworkInfo,
    private readonly onEvent: (event: MesosEvent) => void,
    private readonly onDisconnect: () => void,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.subscribed;
  }

  /** Subscribes, and subscribes again whenever the stream ends, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!signal.aborted) {
      try {
        const masters = this.master ? [this.master] : await this.locator.candidates(signal);
        if (masters.length === 0) throw new Error(`no Mesos master found at ${this.locator.description}`);
        let lastError: unknown;
        for (const master of masters) {
          try {
            await this.subscribe(master, signal);
            lastError = undefined;
            break;
          } catch (err) {
            lastError = err;
          }
        }
        if (lastError) throw lastError;
      } catch (err) {
        if (signal.aborted) break;
        // A subscription that had been working starts the back-off afresh.
        if (this.subscribed) delay = RETRY_MIN_MS;
        this.logger.warn(`Mesos master connection: ${errorMessage(err)}; retrying in ${delay / 1000}s`);
        // The leader may have moved: ask the locator again next time.
        this.master = undefined;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      } finally {
        if (this.subscribed) {
          this.subscribed = false;
          this.onDisconnect();
        }
      }
    }
  }

  private async subscribe(master: string, outer: AbortSignal): Promise<void> {
    const framework = this.framework();
    const body = {
      type: "SUBSCRIBE",
      ...(this.frameworkId ? { framework_id: { value: this.frameworkId } } : {}),
      subscribe: { framework_info: this.frameworkId ? { ...framework, id: { value: this.frameworkId } } : framework },
    };
    const stream = new AbortController();
    const abort = () => stream.abort();
    outer.addEventListener("abort", abort, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const response = await request(`http://${master}/api/v1/scheduler`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
        headersTimeout: CONNECT_TIMEOUT_MS,
        bodyTimeout: 0,
        signal: stream.signal,
      });
      if (response.statusCode === 307) {
        await response.body.dump();
        const leader = leaderFromLocation(response.headers.location);
        if (!leader || leader === master) throw new Error(`${master} redirected the subscription to ${String(response.headers.location)}`);
        this.logger.info(`Mesos master ${master} is not the leader; subscribing at ${leader}`);
        this.master = leader;
        return await this.subscribe(leader, outer);
      }
      if (response.statusCode !== 200) {
        const text = (await response.body.text()).trim();
        throw new Error(`${master} refused the subscription: ${response.statusCode} ${text}`);
      }
      const streamId = response.headers["mesos-stream-id"];
      this.streamId = typeof streamId === "string" ? streamId : undefined;
      this.master = master;
      let silenceLimit = 0;
      const arm = () => {
        if (silenceLimit === 0) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          this.logger.warn(`Mesos master ${master} sent no heartbeat for ${silenceLimit / 1000}s; subscribing again`);
          stream.abort();
        }, silenceLimit);
      };
      const decoder = new RecordIoDecoder();
      for await (const chunk of response.body) {
        for (const record of decoder.push(chunk as Buffer)) {
          const event = JSON.parse(record) as MesosEvent;
          if (event.type === "SUBSCRIBED" && event.subscribed) {
            this.frameworkId = event.subscribed.framework_id.value;
            this.subscribed = true;
            silenceLimit = (event.subscribed.heartbeat_interval_seconds ?? 15) * 1000 * HEARTBEATS_MISSED;
            this.logger.info(`Subscribed to Mesos master ${master} as framework ${this.frameworkId}`);
          } else if (event.type === "ERROR") {
            // The master has removed the framework: a new subscription starts a new one.
            this.frameworkId = undefined;
          }
          arm();
          this.onEvent(event);
        }
      }
      throw new Error(`${master} ended the event stream`);
    } finally {
      clearTimeout(watchdog);
      outer.removeEventListener("abort", abort);
      stream.abort();
    }
  }

  /** One call on the current subscription; the master answers 202 once it has taken it. */
  async call(body: Record<string, unknown>): Promise<void> {
    const master = this.master;
    if (!master || !this.subscribed || !this.frameworkId) throw new Error("not subscribed to a Mesos master");
    const response = await request(`http://${master}/api/v1/scheduler`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...(this.streamId ? { "mesos-stream-id": this.streamId } : {}) },
      body: JSON.stringify({ framework_id: { value: this.frameworkId }, ...body }),
      headersTimeout: CONNECT_TIMEOUT_MS,
      bodyTimeout: CONNECT_TIMEOUT_MS,
    });
    const text = (await response.body.text()).trim();
    if (response.statusCode !== 202 && response.statusCode !== 200) {
      throw new Error(`Mesos master ${master} refused ${String(body.type)}: ${response.statusCode} ${text}`);
    }
  }
}

/** `//host:port/api/v1/scheduler` (or a full URL) → `host:port`. */
function leaderFromLocation(location: string | string[] | undefined): string | undefined {
  const value = Array.isArray(location) ? location[0] : location;
  if (!value) return undefined;
  try {
    return new URL(value.startsWith("//") ? `http:${value}` : value).host || undefined;
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or less when the signal aborts first; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => undefined);
}
