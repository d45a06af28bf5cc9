import { startEtcd } from "@swarm/test-harness";
import { describeStoreDiscovery, sameUrl } from "../helpers/discovery.js";

/**
 * etcd:// end to end: real dockerd engines, a real etcd 3.4, `swarm join`/`manage`/`list` from the built CLI.
 * A killed join's key goes when its lease, refreshed every heartbeat, runs out.
 */
describeStoreDiscovery({
  title: "etcd discovery with real engines",
  storeName: "etcd",
  logPrefix: "swt-disc-etcd-",
  startStore: () => startEtcd(),
  urls: (store, cluster) => sameUrl(`etcd://${store.endpoint}/${cluster}`),
});
