import type { DockerEvent } from "../engines/docker-types.js";

export interface NodeStamp {
  readonly Name: string;
  readonly Id: string;
  readonly Addr: string;
  readonly Ip: string;
}

export type ClusterEvent = DockerEvent & { node: NodeStamp };

type Listener = (event: ClusterEvent) => void;

/**
 * An event as it came: its line of JSON when there is one (a few hundred bytes, where the parsed
 * object takes several times that for as long as the history holds it), decorated for clients
 * only when a replay asks for it.
 */
interface Recorded {
  readonly event: DockerEvent | string;
  readonly node: NodeStamp;
}

/**
 * Fans engine events out to `/events` clients and internal listeners. Events are decorated as
 * classic Swarm did (`from` gets ` node:<name>`, Actor attributes get `node.*`, a top-level
 * `node` object), and a bounded history lets `/events?since=` replay what already happened.
 * An event nobody listens to is kept as it came and decorated if a replay asks for it.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  /** The last `historyLimit` events, oldest at `next` once it has wrapped around. */
  private readonly history: Recorded[] = [];
  private next = 0;

  constructor(private readonly historyLimit = 10_000) {}

  /** `line` is the event as the engine sent it, kept instead of the parsed object. */
  publish(event: DockerEvent, node: NodeStamp, line?: string): void {
    const recorded: Recorded = { event: line ?? event, node };
    if (this.history.length < this.historyLimit) this.history.push(recorded);
    else this.history[this.next] = recorded;
    this.next = (this.next + 1) % this.historyLimit;
    if (this.listeners.size === 0) return;
    const decorated = decorate(event, node);
    for (const listener of this.listeners) listener(decorated);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Events already seen with `timeNano` in [sinceNano, untilNano). */
  replay(sinceNano: bigint, untilNano: bigint | undefined): ClusterEvent[] {
    const ordered = this.history.length < this.historyLimit ? this.history : [...this.history.slice(this.next), ...this.history.slice(0, this.next)];
    const replayed: ClusterEvent[] = [];
    for (const recorded of ordered) {
      const event = typeof recorded.event === "string" ? (JSON.parse(recorded.event) as DockerEvent) : recorded.event;
      const t = eventTimeNano(event);
      if (t >= sinceNano && (untilNano === undefined || t < untilNano)) replayed.push(decorate(event, recorded.node));
    }
    return replayed;
  }
}

function decorate(event: DockerEvent, node: NodeStamp): ClusterEvent {
  const attributes = { ...(event.Actor?.Attributes ?? {}) };
  attributes["node.name"] = node.Name;
  attributes["node.id"] = node.Id;
  attributes["node.addr"] = node.Addr;
  attributes["node.ip"] = node.Ip;
  const decorated: ClusterEvent = {
    ...event,
    Actor: { ID: event.Actor?.ID ?? event.id ?? "", Attributes: attributes },
    node,
  };
  if (event.Type !== "swarm" || event.from !== undefined) decorated.from = `${event.from ?? ""} node:${node.Name}`;
  else decorated.from = `swarm node:${node.Name}`;
  return decorated;
}

export function eventTimeNano(event: DockerEvent): bigint {
  if (typeof event.timeNano === "number") return BigInt(Math.trunc(event.timeNano));
  return BigInt(Math.trunc(event.time ?? 0)) * 1_000_000_000n;
}
