import { defineClusterBackend } from "@swarm/core";
import { MesosBackend } from "./backend.js";
import { MESOS_ENV, mesosOptionsSchema, readMesosOptions } from "./options.js";

/** `swarm manage -c mesos <master>`: containers run as tasks of a Mesos framework (classic Swarm §8). */
export default defineClusterBackend({
  name: "mesos",
  aliases: ["mesos-experimental"],
  apiVersion: "^1",
  description: "containers as tasks of a Mesos framework, placed on the agents' offers (v1 scheduler HTTP API)",
  options: mesosOptionsSchema,
  env: MESOS_ENV,
  create(ctx) {
    return new MesosBackend(ctx, readMesosOptions(ctx.options));
  },
});
