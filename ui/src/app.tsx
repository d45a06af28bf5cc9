import { useComputed } from "@preact/signals";
import { Component } from "preact";
import { useState } from "preact/hooks";
import type { ContainerRow, NodeStatus, SchedulingFailure, SwarmStatus, Usage } from "./api";
import {
  containers,
  eventCount,
  expanded,
  GROUP_PAGE,
  groupBy,
  groupLimit,
  lastEvent,
  limit,
  loadError,
  now,
  PAGE,
  query,
  stateFilter,
  status,
  stream,
  toggleExpanded,
  updatedAt,
} from "./state";
import {
  ago,
  countStates,
  formatBytes,
  formatCpus,
  groupNodes,
  labelKeys,
  parseQuery,
  percent,
  selectNodes,
  type Group,
  type ShownNode,
} from "./view";

const STATES = ["healthy", "unhealthy", "pending", "disconnected"] as const;

export function App() {
  const current = status.value;
  return (
    <div class="page">
      <Header />
      {loadError.value !== null && (
        <div class="banner" role="alert" data-testid="error-banner">
          {loadError.value}
        </div>
      )}
      {current === null ? (
        <p class="loading" data-testid="loading">
          {loadError.value === null ? "Loading the cluster…" : "Waiting for the manager…"}
        </p>
      ) : (
        <div class="columns">
          <main>
            <Summary status={current} />
            <Toolbar status={current} />
            <NodeList status={current} />
          </main>
          <aside>
            <Failures scheduling={current.scheduling} />
          </aside>
        </div>
      )}
    </div>
  );
}

function Header() {
  const current = status.value;
  const at = updatedAt.value;
  const event = lastEvent.value;
  return (
    <header class="header">
      <h1>Swarm cluster</h1>
      {current !== null && (
        <div class="meta">
          <span class={`role role-${current.role}`} data-testid="role">
            {current.role}
          </span>
          {current.role === "replica" && (
            <span data-testid="primary">
              following <code>{current.primary ?? "no primary yet"}</code>
            </span>
          )}
          <span title="cluster backend">backend {current.backend}</span>
          <span title="placement strategy">strategy {current.strategy}</span>
          <span title="filters">filters {current.filters.join(", ") || "none"}</span>
        </div>
      )}
      <div class="live">
        <span class={`dot dot-${stream.value}`} data-testid="stream" data-state={stream.value}>
          {stream.value === "live" ? "live" : stream.value === "connecting" ? "connecting…" : "events down, polling"}
        </span>
        {at !== null && <span data-testid="updated">updated {ago(at, now.value)}</span>}
        {event !== null && (
          <span class="last-event" title={`${eventCount.value} events since the page opened`}>
            last event: {event.text}
          </span>
        )}
      </div>
    </header>
  );
}

function Summary({ status: current }: { status: SwarmStatus }) {
  const counts = countStates(current.nodes);
  let running = 0;
  let total = 0;
  const cpus = { reserved: 0, total: 0 };
  const memory = { reserved: 0, total: 0 };
  for (const node of current.nodes) {
    running += node.containers.running;
    total += node.containers.total;
    cpus.reserved += node.cpus.reserved;
    cpus.total += node.cpus.total;
    memory.reserved += node.memory.reserved;
    memory.total += node.memory.total;
  }
  return (
    <section class="summary" aria-label="cluster summary">
      <button
        type="button"
        class={`stat ${stateFilter.value === "" ? "active" : ""}`}
        onClick={() => (stateFilter.value = "")}
        data-testid="summary-nodes"
      >
        <strong>{current.nodes.length}</strong> nodes
      </button>
      {STATES.map((state) =>
        (counts[state] ?? 0) > 0 ? (
          <button
            key={state}
            type="button"
            class={`stat state-${state} ${stateFilter.value === state ? "active" : ""}`}
            onClick={() => (stateFilter.value = stateFilter.value === state ? "" : state)}
            data-testid={`summary-${state}`}
            title={`show only ${state} nodes`}
          >
            <strong>{counts[state]}</strong> {state}
          </button>
        ) : null,
      )}
      <span class="stat" data-testid="summary-containers">
        <strong>{running}</strong> running of {plural(total, "container")}
      </span>
      <span class="stat wide">
        <Bar label="CPUs" usage={cpus} format={formatCpus} />
      </span>
      <span class="stat wide">
        <Bar label="memory" usage={memory} format={formatBytes} />
      </span>
    </section>
  );
}

function Toolbar({ status: current }: { status: SwarmStatus }) {
  const keys = labelKeys(current.nodes);
  return (
    <div class="toolbar">
      <input
        type="search"
        placeholder="Search: node, container, or label k=v"
        aria-label="search nodes"
        value={query.value}
        onInput={(e) => (query.value = e.currentTarget.value)}
        data-testid="search"
      />
      <label>
        group by{" "}
        <select value={groupBy.value} onChange={(e) => (groupBy.value = e.currentTarget.value)} data-testid="group-by">
          <option value="">nothing</option>
          {keys.map((key) => (
            <option key={key} value={key}>
              {key}
            </option>
          ))}
          {groupBy.value !== "" && !keys.includes(groupBy.value) && <option value={groupBy.value}>{groupBy.value}</option>}
        </select>
      </label>
      <label>
        state{" "}
        <select value={stateFilter.value} onChange={(e) => (stateFilter.value = e.currentTarget.value)} data-testid="state-filter">
          <option value="">any</option>
          {STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

function NodeList({ status: current }: { status: SwarmStatus }) {
  const shown = useComputed(() =>
    selectNodes(status.value?.nodes ?? [], containers.value, parseQuery(query.value), stateFilter.value),
  );
  const groups = useComputed(() => groupNodes(shown.value, groupBy.value));
  const count = shown.value.length;
  const summary = count === current.nodes.length ? plural(count, "node") : `${count} of ${plural(current.nodes.length, "node")} match`;
  if (groupBy.value === "") {
    const visible = Math.min(count, limit.value);
    return (
      <section class="nodes" aria-label="nodes">
        <p class="count" data-testid="shown-count">
          {summary}
          {visible < count && `, showing the first ${visible}`}
        </p>
        <Cards nodes={shown.value.slice(0, visible)} />
        {count === 0 && <NoMatch />}
        {visible < count && (
          <button type="button" class="more" onClick={() => (limit.value += PAGE)} data-testid="show-more">
            Show {Math.min(PAGE, count - visible)} more of {count - visible}
          </button>
        )}
      </section>
    );
  }
  const all = groups.value;
  const visibleGroups = all.slice(0, groupLimit.value);
  return (
    <section class="nodes" aria-label="nodes">
      <p class="count" data-testid="shown-count">
        {summary} in {all.length} groups
        {visibleGroups.length < all.length && `, showing the first ${visibleGroups.length} groups`}
      </p>
      {visibleGroups.map((group) => (
        <GroupSection key={`g:${group.value ?? ""}`} group={group} keyName={groupBy.value} />
      ))}
      {count === 0 && <NoMatch />}
      {visibleGroups.length < all.length && (
        <button type="button" class="more" onClick={() => (groupLimit.value += GROUP_PAGE)} data-testid="show-more-groups">
          Show {Math.min(GROUP_PAGE, all.length - visibleGroups.length)} more groups of {all.length - visibleGroups.length}
        </button>
      )}
    </section>
  );
}

function NoMatch() {
  return (
    <p class="empty" data-testid="no-match">
      No node matches.
    </p>
  );
}

/** Nodes shown per group before its own "show more": every group stays visible at a glance. */
const IN_GROUP = 24;

function GroupSection({ group, keyName }: { group: Group; keyName: string }) {
  const [open, setOpen] = useState(true);
  const [max, setMax] = useState(IN_GROUP);
  const counts = countStates(group.nodes.map((n) => n.node));
  const title = group.value === null ? `no ${keyName} label` : `${keyName}=${group.value}`;
  const nodes = group.nodes.slice(0, max);
  const rest = group.nodes.length - nodes.length;
  return (
    <section class="group" data-testid="group" data-group={group.value ?? ""}>
      <h2>
        <button type="button" class="group-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
          <span class="caret">{open ? "▾" : "▸"}</span> <span data-testid="group-title">{title}</span>
        </button>
        <span class="group-counts">
          {plural(group.nodes.length, "node")}
          {STATES.map((state) =>
            state !== "healthy" && (counts[state] ?? 0) > 0 ? (
              <span key={state} class={`pill state-${state}`}>
                {counts[state]} {state}
              </span>
            ) : null,
          )}
        </span>
      </h2>
      {open && <Cards nodes={nodes} />}
      {open && rest > 0 && (
        <button type="button" class="more" onClick={() => setMax(max + PAGE)}>
          Show {Math.min(PAGE, rest)} more of {rest} in {title}
        </button>
      )}
    </section>
  );
}

function Cards({ nodes }: { nodes: readonly ShownNode[] }) {
  const open = expanded.value;
  return (
    <ul class="cards">
      {nodes.map((entry) => (
        <NodeCard
          key={entry.node.id}
          node={entry.node}
          containers={entry.containers}
          matched={entry.matched}
          open={open.has(entry.node.id)}
        />
      ))}
    </ul>
  );
}

interface CardProps {
  node: NodeStatus;
  containers: readonly ContainerRow[];
  matched: readonly ContainerRow[] | null;
  open: boolean;
}

// A refresh swaps every object, but most cards look the same afterwards: compare what they show
// so that a thousand-node list re-renders only the cards that changed.
class NodeCard extends Component<CardProps> {
  override shouldComponentUpdate(next: CardProps): boolean {
    const a = this.props;
    return !(
      a.open === next.open &&
      sameContainers(a.matched ?? [], next.matched ?? []) &&
      (a.matched === null) === (next.matched === null) &&
      sameNode(a.node, next.node) &&
      (!a.open || sameContainers(a.containers, next.containers))
    );
  }

  override render({ node, containers: list, matched, open }: CardProps) {
    const labels = Object.entries(node.labels);
    const rows = open ? list : matched;
    return (
      <li class={`card state-${node.state}`} data-testid="node" data-node={node.name} data-state={node.state}>
        <div class="card-head">
          <span class="name" data-testid="node-name">
            {node.name}
          </span>
          <span class={`badge state-${node.state}`} data-testid="node-state">
            {node.state}
          </span>
          <span class="addr">{node.addr}</span>
        </div>
        {node.error && (
          <div class="node-error" data-testid="node-error">
            {node.error}
          </div>
        )}
        {labels.length > 0 && (
          <ul class="labels" data-testid="node-labels">
            {labels.map(([k, v]) => (
              <li key={k}>
                <button type="button" title={`search ${k}=${v}`} onClick={() => (query.value = `${k}=${v}`)}>
                  {k}={v}
                </button>
              </li>
            ))}
          </ul>
        )}
        <div class="bars">
          <Bar label="CPUs" usage={node.cpus} format={formatCpus} testid="node-cpu" />
          <Bar label="memory" usage={node.memory} format={formatBytes} testid="node-memory" />
        </div>
        {node.usage && (
          <div class="node-usage" data-testid="node-usage" data-cpu-cores={node.usage.cpuCores} data-memory-bytes={node.usage.memoryBytes}>
            in use: {node.usage.cpuCores.toFixed(2)} CPUs, {formatBytes(node.usage.memoryBytes)}, network {formatBytes(node.usage.networkReceiveBytesPerSecond)}/s in,{" "}
            {formatBytes(node.usage.networkTransmitBytesPerSecond)}/s out
          </div>
        )}
        <button
          type="button"
          class="toggle"
          aria-expanded={open}
          onClick={() => toggleExpanded(node.id)}
          data-testid="node-containers-toggle"
          data-total={node.containers.total}
        >
          <span class="caret">{open ? "▾" : "▸"}</span> {plural(node.containers.total, "container")}, {node.containers.running} running
        </button>
        {rows !== null && rows.length > 0 && <ContainerList rows={rows} note={open ? null : `${rows.length} matching`} />}
      </li>
    );
  }
}

function sameNode(a: NodeStatus, b: NodeStatus): boolean {
  return (
    a === b ||
    (a.id === b.id &&
      a.name === b.name &&
      a.addr === b.addr &&
      a.state === b.state &&
      a.error === b.error &&
      a.cpus.reserved === b.cpus.reserved &&
      a.cpus.total === b.cpus.total &&
      a.memory.reserved === b.memory.reserved &&
      a.memory.total === b.memory.total &&
      a.containers.total === b.containers.total &&
      a.containers.running === b.containers.running &&
      JSON.stringify(a.usage ?? null) === JSON.stringify(b.usage ?? null) &&
      JSON.stringify(a.labels) === JSON.stringify(b.labels))
  );
}

function sameContainers(a: readonly ContainerRow[], b: readonly ContainerRow[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((c, i) => {
    const d = b[i];
    return d !== undefined && c.id === d.id && c.name === d.name && c.state === d.state && c.status === d.status && c.image === d.image;
  });
}

const ROWS = 50;

function ContainerList({ rows, note }: { rows: readonly ContainerRow[]; note: string | null }) {
  const [all, setAll] = useState(false);
  const visible = all ? rows : rows.slice(0, ROWS);
  return (
    <div class="containers">
      {note && <div class="note">{note}</div>}
      <table>
        <tbody>
          {visible.map((c) => (
            <tr key={c.id} data-testid="container" data-container={c.name} data-state={c.state}>
              <td class="cname">{c.name}</td>
              <td class="image">{c.image}</td>
              <td>
                <span class={`cstate cstate-${c.state}`} title={c.status}>
                  {c.state}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {visible.length < rows.length && (
        <button type="button" class="more" onClick={() => setAll(true)}>
          show all {rows.length}
        </button>
      )}
    </div>
  );
}

function Bar({ label, usage, format, testid }: { label: string; usage: Usage; format: (n: number) => string; testid?: string }) {
  const pct = percent(usage);
  const level = pct >= 90 ? "high" : pct >= 70 ? "mid" : "low";
  return (
    <div class="bar" data-testid={testid} data-reserved={usage.reserved} data-total={usage.total} title={`${pct.toFixed(0)}% reserved`}>
      <div class="bar-text">
        <span>{label}</span>
        <span>
          {format(usage.reserved)} / {format(usage.total)}
        </span>
      </div>
      <div class="track">
        <div class={`fill fill-${level}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

function Failures({ scheduling }: { scheduling: SwarmStatus["scheduling"] }) {
  const reasons = Object.entries(scheduling.byReason).sort(([, a], [, b]) => b - a);
  return (
    <section class="failures" aria-label="scheduling failures" data-testid="failures">
      <h2>Scheduling</h2>
      <p class="muted">
        <span data-testid="decisions">{scheduling.decisions}</span> decisions,{" "}
        <span data-testid="failure-total">{scheduling.failures}</span> failed
      </p>
      {reasons.length > 0 && (
        <ul class="reasons">
          {reasons.map(([code, count]) => (
            <li key={code} data-testid="failure-reason" data-reason={code}>
              <span class="code">{code}</span>
              <span class="count" data-testid="failure-reason-count">
                {count}
              </span>
            </li>
          ))}
        </ul>
      )}
      <h3>Recent failures</h3>
      {scheduling.recent.length === 0 ? (
        <p class="muted" data-testid="no-failures">
          None.
        </p>
      ) : (
        <ol class="recent">
          {newestFirst(scheduling.recent).map((f, i) => (
            <li key={`${f.at}:${i}`} data-testid="recent-failure" title={f.message}>
              <div class="recent-head">
                <time dateTime={f.at} title={f.at}>
                  {new Date(f.at).toLocaleTimeString()}
                </time>{" "}
                <code>{f.image}</code>
                {f.name && <span> as {f.name}</span>}
              </div>
              <ul class="recent-reasons">
                {f.reasons.map((r) => (
                  <li key={r.code} data-testid="recent-failure-reason" data-reason={r.code} data-count={r.count}>
                    <span class="count">{r.count}</span> {r.text}
                  </li>
                ))}
              </ul>
              {f.reasons.length === 0 && <div class="message">{f.message}</div>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function newestFirst(list: readonly SchedulingFailure[]): SchedulingFailure[] {
  return [...list].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
