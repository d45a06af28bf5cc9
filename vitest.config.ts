import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const alias = {
  "@swarm/test-harness": fileURLToPath(new URL("./harness/src/index.ts", import.meta.url)),
  "@swarm/core/testing/fleet": fileURLToPath(new URL("./core/src/testing/fleet/fleet.ts", import.meta.url)),
  "@swarm/core/testing": fileURLToPath(new URL("./core/src/testing/index.ts", import.meta.url)),
  "@swarm/core/host": fileURLToPath(new URL("./core/src/embedding.ts", import.meta.url)),
  "@swarm/core": fileURLToPath(new URL("./core/src/index.ts", import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    setupFiles: ["./test/setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 240_000,
    teardownTimeout: 120_000,
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          setupFiles: ["./test/setup.ts"],
          // Some plugin tests talk to a real etcd or ZooKeeper started by the test harness.
          testTimeout: 30_000,
          include: ["core/src/**/*.test.ts", "plugins/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts", "test/unit/**/*.test.ts"],
          exclude: ["harness/src/harness.test.ts", "**/node_modules/**"],
        },
      },
      {
        resolve: { alias },
        test: {
          name: "system",
          setupFiles: ["./test/setup.ts"],
          include: ["test/system/**/*.test.ts", "harness/src/harness.test.ts"],
          // System tests start real dockerd, etcd and ZooKeeper processes: one file at a time on 2 cores.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
