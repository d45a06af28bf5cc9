// Third-party plugins next to the built-ins: loaded by the same loader, options checked at start.
export default {
  discovery: "nodes://127.0.0.1:2375,127.0.0.1:2376",
  hosts: ["tcp://127.0.0.1:4000"],
  plugins: ["@acme/swarm-plugins/maintenance", "@acme/swarm-plugins/free-memory"],
  filters: ["health", "port", "acme/maintenance", "constraint"],
  strategy: "acme/free-memory",
  pluginOptions: { "acme/free-memory": { reserveMiB: 512 } },
};
