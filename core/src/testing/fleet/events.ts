/**
 * One engine's event history and live `/events` subscribers. Events are serialised once, when they
 * happen; the history keeps dockerd's last 256 of them (as lines) for `since`/`until` replays.
 */
import { eventJson, type EngineEvent } from "./shapes.js";

/** `filters` of GET /events: keys ANDed, values of one key ORed, as dockerd does. */
export type EventFilters = ReadonlyMap<string, readonly string[]>;

export interface EventSubscriber {
  readonly filters: EventFilters | undefined;
  write(line: string): void;
}

/** The fields a filter looks at, from a live event or a replayed line. */
interface EventFields {
  readonly type: string;
  readonly action: string;
  readonly actorId: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export class EventLog {
  private readonly lines: string[] = [];
  private readonly micros: number[] = [];
  private head = 0;
  private readonly subscribers = new Set<EventSubscriber>();
  emitted = 0;

  constructor(private readonly capacity: number) {}

  get listeners(): number {
    return this.subscribers.size;
  }

  emit(event: EngineEvent): void {
    const line = `${eventJson(event)}\n`;
    const micros = Number(event.timeNs / 1000n);
    if (this.capacity > 0) {
      if (this.lines.length < this.capacity) {
        this.lines.push(line);
        this.micros.push(micros);
      } else {
        this.lines[this.head] = line;
        this.micros[this.head] = micros;
        this.head = (this.head + 1) % this.capacity;
      }
    }
    this.emitted++;
    for (const subscriber of this.subscribers) {
      if (subscriber.filters === undefined || matches(subscriber.filters, event)) subscriber.write(line);
    }
  }

  subscribe(subscriber: EventSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /** Stored lines with `sinceNs <= time <= untilNs` that pass the filters, oldest first. */
  replay(sinceNs: bigint | undefined, untilNs: bigint | undefined, filters: EventFilters | undefined): string[] {
    const since = sinceNs === undefined ? -Infinity : Number(sinceNs / 1000n);
    const until = untilNs === undefined ? Infinity : Number(untilNs / 1000n);
    const out: string[] = [];
    const n = this.lines.length;
    for (let i = 0; i < n; i++) {
      const slot = (this.head + i) % n;
      const at = this.micros[slot]!;
      if (at < since || at > until) continue;
      const line = this.lines[slot]!;
      if (filters !== undefined && !matches(filters, fieldsOfLine(line))) continue;
      out.push(line);
    }
    return out;
  }

  /** Forgets the history; live subscribers stay. */
  clearHistory(): void {
    this.lines.length = 0;
    this.micros.length = 0;
    this.head = 0;
  }
}

function fieldsOfLine(line: string): EventFields {
  const parsed = JSON.parse(line) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
  return { type: parsed.Type, action: parsed.Action, actorId: parsed.Actor.ID, attributes: parsed.Actor.Attributes };
}

function matches(filters: EventFilters, event: EventFields): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    if (!values.some((value) => matchOne(key, value, event))) return false;
  }
  return true;
}

function matchOne(key: string, value: string, event: EventFields): boolean {
  const name = event.attributes.name;
  switch (key) {
    case "type":
      return event.type === value;
    case "event":
      return event.action === value || event.action.split(":")[0] === value;
    case "container":
      return event.type === "container" && (name === value || event.actorId.startsWith(value));
    case "network":
      return event.type === "network" && (name === value || event.actorId.startsWith(value));
    case "volume":
      return event.type === "volume" && event.actorId === value;
    case "image": {
      const ref = event.type === "image" ? name : event.attributes.image;
      return event.actorId === value || ref === value || (ref !== undefined && ref.split(":")[0] === value);
    }
    case "label": {
      const eq = value.indexOf("=");
      if (eq < 0) return Object.hasOwn(event.attributes, value);
      return event.attributes[value.slice(0, eq)] === value.slice(eq + 1);
    }
    case "scope":
      return value === "local";
    case "daemon":
      return event.type === "daemon";
    default:
      // dockerd accepts filter keys it has no objects for (node, service…): nothing local matches them.
      return false;
  }
}
