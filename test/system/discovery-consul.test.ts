import { startConsulFake } from "../fakes/consul.js";
import { describeStoreDiscovery, sameUrl } from "../helpers/discovery.js";

/**
 * consul:// end to end: real dockerd engines and `swarm join`/`manage`/`list` from the built CLI,
 * against consul-fake (no Consul server can be installed here), whose session_ttl_min is lowered
 * so that --ttl 3s (session TTL 1.5s) is accepted. A killed join's key goes when its session
 * (TTL 1.5s, invalidated at 2×), renewed every heartbeat, runs out.
 */
describeStoreDiscovery({
  title: "Consul discovery with real engines",
  storeName: "the Consul agent",
  logPrefix: "swt-disc-consul-",
  startStore: () => startConsulFake({ sessionTtlMinMs: 1_000 }),
  urls: (store, cluster) => sameUrl(`consul://${store.endpoint}/${cluster}`),
});
