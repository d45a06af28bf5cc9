import type { Static, TSchema } from "typebox";
import type { ContainerConfig, NodeView } from "./model.js";
import type { Lifecycle, PluginContext, PluginDefinitionBase } from "./plugin.js";

/**
 * ClusterBackend: what differs between clustering drivers (`--cluster-driver`). The native
 * backend (`swarm`, in core) places containers on engines found by discovery; another backend
 * (e.g. Mesos) may place them through its own resource offers.
 *
 * The host calls `start()` once discovery runs, `nodeViews()` for the nodes as the scheduler sees
 * them, `createContainer()` for each `POST /containers/create` (placement plus
 * create; it resolves with the new container's full ID and the node that holds it), and
 * `statusLines()` for the backend's lines in `docker info`. Everything else (inspect, logs,
 * exec, images…) is routed by core to the engine that owns the object.
 */
export interface ClusterBackend extends Lifecycle {
  nodeViews(): readonly NodeView[];
  createContainer(request: CreateContainerRequest): Promise<CreatedContainer>;
  statusLines(): Array<[string, string]>;
}

export interface CreateContainerRequest {
  readonly config: ContainerConfig;
  readonly name: string | undefined;
  /** The client's `X-Registry-Auth` header, for a pull the create may need. */
  readonly registryAuth: string | undefined;
}

export interface CreatedContainer {
  readonly id: string;
  readonly node: NodeView;
}

export interface ClusterBackendDefinition<Schema extends TSchema>
  extends Omit<PluginDefinitionBase<"backend", Schema, ClusterBackend>, "create"> {
  create(ctx: PluginContext<Static<Schema>>): ClusterBackend | Promise<ClusterBackend>;
}

export function defineClusterBackend<Schema extends TSchema>(
  definition: Omit<ClusterBackendDefinition<Schema>, "kind">,
): ClusterBackendDefinition<Schema> {
  return { ...definition, kind: "backend" };
}
