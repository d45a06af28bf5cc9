import { startZookeeper } from "@swarm/test-harness";
import { describeReplication } from "../helpers/replication.js";

/** Replicated managers electing their primary through a real ZooKeeper 3.8 (`@swarm/leader-zk`). */
describeReplication({
  title: "replicated managers over ZooKeeper",
  logPrefix: "swt-repl-zk-",
  startStore: () => startZookeeper(),
  url: (store) => `zk://${store.endpoint}/replicated`,
});
