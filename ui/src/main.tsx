import { batch } from "@preact/signals";
import { render } from "preact";
import { apiBase, fetchContainers, fetchStatus } from "./api";
import { App } from "./app";
import { describeEvent, startLive } from "./live";
import { containers, eventCount, lastEvent, loadError, now, status, stream, syncWithHash, updatedAt } from "./state";
import "./style.css";

const base = apiBase(location.pathname);

async function refresh(signal: AbortSignal): Promise<void> {
  const [nextStatus, nextContainers] = await Promise.allSettled([fetchStatus(base, signal), fetchContainers(base, signal)]);
  const errors = [nextStatus, nextContainers].flatMap((r) => (r.status === "rejected" ? [message(r.reason)] : []));
  // One answer is still worth showing when the other failed; the banner says which part is stale.
  batch(() => {
    if (nextStatus.status === "fulfilled") status.value = nextStatus.value;
    if (nextContainers.status === "fulfilled") containers.value = nextContainers.value;
    loadError.value = errors.length > 0 ? `Could not refresh: ${errors.join("; ")}` : null;
    if (errors.length === 0) updatedAt.value = Date.now();
  });
  if (errors.length > 0) throw new Error(errors.join("; "));
}

function message(err: unknown): string {
  if (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError")) return "the manager did not answer in time";
  return err instanceof Error ? err.message : String(err);
}

syncWithHash();
setInterval(() => (now.value = Date.now()), 1_000);
startLive({
  eventsUrl: `${base}/events`,
  refresh,
  onStream: (state) => (stream.value = state),
  onEvent: (event) =>
    batch(() => {
      eventCount.value++;
      lastEvent.value = { text: describeEvent(event), at: Date.now() };
    }),
});

const root = document.getElementById("app");
if (root) render(<App />, root);
