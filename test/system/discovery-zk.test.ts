import { readFile } from "node:fs/promises";
import { startZookeeper } from "@swarm/test-harness";
import { describeStoreDiscovery, sameUrl } from "../helpers/discovery.js";

/**
 * zk:// end to end: real dockerd engines, a real ZooKeeper 3.8, `swarm join`/`manage`/`list` from the built CLI.
 * A killed join's node goes when its session times out (= --ttl, from the kill; checked once per tick).
 */
describeStoreDiscovery({
  title: "ZooKeeper discovery with real engines",
  storeName: "ZooKeeper",
  logPrefix: "swt-disc-zk-",
  startStore: () => startZookeeper(),
  urls: (store, cluster) => sameUrl(`zk://${store.endpoint}/${cluster}`),
  // Starting clients against a starting ZooKeeper is where handshakes went astray.
  storeLogTail: async (store) => (await readFile(store.logFile, "utf8")).split("\n").slice(-40).join("\n"),
});
