/** The page's state as signals: the live loop writes them, components read them. */
import { effect, signal } from "@preact/signals";
import type { ContainerRow, SwarmStatus } from "./api";
import type { StreamState } from "./live";

export const status = signal<SwarmStatus | null>(null);
export const containers = signal<ReadonlyMap<string, readonly ContainerRow[]>>(new Map());
/** Why the last refresh failed, cleared by the next one that works. */
export const loadError = signal<string | null>(null);
export const updatedAt = signal<number | null>(null);
export const stream = signal<StreamState>("connecting");
export const lastEvent = signal<{ text: string; at: number } | null>(null);
export const eventCount = signal(0);
/** Ticks each second so that "updated 3 s ago" moves without a refresh. */
export const now = signal(Date.now());

export const query = signal("");
export const groupBy = signal("");
export const stateFilter = signal("");
/** Node ids whose container list is open. */
export const expanded = signal<ReadonlySet<string>>(new Set());
/** How many nodes the list renders before a "show more": the DOM stays small at a thousand nodes. */
export const PAGE = 100;
export const limit = signal(PAGE);
/** The same for groups, when grouping by a label with many values. */
export const GROUP_PAGE = 30;
export const groupLimit = signal(GROUP_PAGE);

export function toggleExpanded(id: string): void {
  const next = new Set(expanded.value);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  expanded.value = next;
}

/** The view's choices live in the URL's fragment, so an operator can share or reload a view. */
export function syncWithHash(): void {
  const read = () => {
    const params = new URLSearchParams(location.hash.slice(1));
    query.value = params.get("q") ?? "";
    groupBy.value = params.get("group") ?? "";
    stateFilter.value = params.get("state") ?? "";
  };
  read();
  window.addEventListener("hashchange", read);
  effect(() => {
    const params = new URLSearchParams();
    if (query.value) params.set("q", query.value);
    if (groupBy.value) params.set("group", groupBy.value);
    if (stateFilter.value) params.set("state", stateFilter.value);
    const hash = params.toString();
    if (hash !== location.hash.slice(1)) history.replaceState(null, "", hash ? `#${hash}` : location.pathname + location.search);
  });
  // A new search starts from the top of the list again.
  effect(() => {
    void query.value;
    void groupBy.value;
    void stateFilter.value;
    limit.value = PAGE;
    groupLimit.value = GROUP_PAGE;
  });
}
