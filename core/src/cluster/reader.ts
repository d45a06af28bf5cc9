import type { ContainerConfig } from "../extension-points/model.js";
import type { NetworkResource } from "../engines/docker-types.js";
import type { ContainerCounts, Resolution } from "./container-index.js";
import type { ContainerRecord } from "./container-record.js";
import type { Node } from "./node.js";

/**
 * What the API reads of the cluster: its nodes and the containers, images, networks and volumes
 * mirrored from them. Writes go through the `ClusterBackend`; a node's engine is called through
 * `node.engine`, and what such a call changed is read back through `node.sync`.
 *
 * Every lookup here costs O(1) or O(log n) in containers; listings cost what they list.
 */
export interface ClusterReader {
  /** Changes whenever anything any view shows changes, so answers built from the state can be cached. */
  readonly version: number;
  /** Validated nodes, ordered by address. */
  nodes(): readonly Node[];
  healthyNodes(): readonly Node[];
  /** Validated and pending nodes, in `docker info`'s order. */
  allNodes(): readonly Node[];
  /** A validated node by ID or name. */
  node(ref: string): Node | undefined;
  /** The node a container lives on. */
  nodeOf(record: ContainerRecord): Node | undefined;
  /** The highest API version every validated engine supports. */
  apiVersion(): string;
  container(id: string): ContainerRecord | undefined;
  /** A container by any reference a client may use (§4.4), or why it is ambiguous. */
  resolveContainer(ref: string): Resolution;
  /** `resolveContainer`'s single match; ambiguity means "not found", as in classic Swarm. */
  findContainer(ref: string): ContainerRecord | undefined;
  findExec(execId: string): ContainerRecord | undefined;
  /**
   * The engine's inspect document of this version of the container (without its closing brace),
   * if the manager still holds it; otherwise the engine is asked.
   */
  inspectDocument(record: ContainerRecord): string | undefined;
  containers(): Iterable<ContainerRecord>;
  containerCounts(): ContainerCounts;
  /** Reads the containers the manager created but has not described from their engines yet. */
  completeProvisional(): Promise<void>;
  findNetwork(ref: string): { readonly node: Node; readonly network: NetworkResource } | undefined;
  /** Where a container with this config would go, best first (networks, volumes and builds are placed this way). */
  rankNodes(config: ContainerConfig): Node[];
}
