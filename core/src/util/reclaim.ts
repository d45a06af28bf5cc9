import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Bytes relayed between two young-generation collections asked for by `noteRelayedBytes`. It must
 * be well below the old generation's headroom (down to about 8 MiB once V8's memory reducer has
 * shrunk an idle heap) and well above what a relay holds in flight (`MAX_UNSENT_BYTES` in
 * upload.ts), or the chunks in flight survive two scavenges, are promoted, and count against the
 * old generation after all. Full collections over nine 100 MiB uploads, with 4 MiB allowed in
 * flight: never, 30; every 2 MiB, 46; every 4 MiB, 2 (both at start-up); every 16 MiB, 17. With
 * 1 MiB in flight, every 3, 4 or 6 MiB: 2.
 */
const RELAYED_BYTES_PER_COLLECTION = 4 * 1024 * 1024;

type Collect = () => void;

let collectYoungGeneration: Collect | null | undefined;
let relayedSinceCollection = 0;

/**
 * Counts bytes that crossed the manager in short-lived Buffers (a streamed upload) and, every
 * `RELAYED_BYTES_PER_COLLECTION`, has V8 collect its young generation.
 *
 * Each body chunk Node's HTTP parser hands over is a fresh Buffer whose bytes V8 counts as
 * external memory until a collection frees it. A relay allocates almost nothing else, so the young
 * generation fills slowly and scavenges are rare; the external bytes pile up, count against the
 * old generation's limit and start full mark-compacts of the whole heap, one per 10 to 25 MiB
 * relayed. Those took about 45% of the manager's CPU during an upload and cut `docker cp` into a
 * container through the manager to 60-75% of direct. A scavenge frees the same dead Buffers in
 * about a millisecond. V8 offers no way to ask for one but its `gc` extension, installed here in a
 * separate context only; where that fails, uploads only lose the optimisation.
 */
export function noteRelayedBytes(bytes: number): void {
  relayedSinceCollection += bytes;
  if (relayedSinceCollection < RELAYED_BYTES_PER_COLLECTION) return;
  relayedSinceCollection = 0;
  if (collectYoungGeneration === undefined) collectYoungGeneration = loadCollector();
  collectYoungGeneration?.();
}

function loadCollector(): Collect | null {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as ((options: { type: "minor" | "major"; execution: "sync" | "async" }) => void) | undefined;
    if (typeof gc !== "function") return null;
    return () => gc({ type: "minor", execution: "sync" });
  } catch {
    return null;
  }
}
