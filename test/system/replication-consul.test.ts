import { startConsulFake } from "../fakes/consul.js";
import { describeReplication } from "../helpers/replication.js";

/**
 * Replicated managers electing their primary through a Consul lock (`@swarm/leader-consul`),
 * against consul-fake (no Consul server can be installed here): sessions with Behavior release,
 * acquire/release and blocking queries. Its session_ttl_min is lowered to accept a 3 s session
 * (--replication-ttl 6s).
 */
describeReplication({
  title: "replicated managers over Consul",
  logPrefix: "swt-repl-consul-",
  startStore: () => startConsulFake({ sessionTtlMinMs: 1_000 }),
  url: (store) => `consul://${store.endpoint}/replicated`,
});
