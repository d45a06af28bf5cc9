import { startEtcd } from "@swarm/test-harness";
import { describeReplication } from "../helpers/replication.js";

/** Replicated managers electing their primary through a real etcd 3.4 (`@swarm/leader-etcd`). */
describeReplication({
  title: "replicated managers over etcd",
  logPrefix: "swt-repl-etcd-",
  startStore: () => startEtcd(),
  url: (store) => `etcd://${store.endpoint}/replicated`,
});
