import { Type } from "typebox";
import { defineClusterBackend, type ClusterBackend, type EngineState } from "../extension-points/cluster-backend.js";
import { NATIVE_BACKEND } from "../constants.js";

/** The native backend's view of a state: its engines are the cluster, placed onto by the filters and strategy. */
export function nativeBackend(state: EngineState): ClusterBackend {
  return {
    nodeViews: () => state.nodeViews(),
    createContainer: (request) => state.placeAndCreate(request),
    statusLines: () => state.statusLines(),
  };
}

/**
 * `--cluster-driver swarm`, registered by core like any backend plugin. Its two options are read
 * where the engines are configured (overcommit is part of every engine's capacity); declaring them
 * here lets `--cluster-opt` be checked against them as against any backend's.
 */
export default defineClusterBackend({
  name: NATIVE_BACKEND,
  apiVersion: "^1",
  description: "engines found by discovery, placed by the enabled filters and strategy",
  usesDiscovery: true,
  options: Type.Object(
    {
      "swarm.overcommit": Type.Optional(Type.String({ default: "0.05", description: "overcommit to apply on resources" })),
      "swarm.createretry": Type.Optional(Type.String({ default: "0", description: "container create retry count after initial failure" })),
    },
    { additionalProperties: false },
  ),
  create: (ctx) => nativeBackend(ctx.state),
});
