import type { ContainerConfig } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import type { ContainerInspect, DockerEvent } from "../engines/docker-types.js";
import { errorMessage } from "../errors/catalog.js";
import { SwarmLabels, readLabelList } from "../scheduler/request.js";
import type { Cluster } from "./cluster.js";
import type { CreateContainerRequest, CreatedContainer } from "../extension-points/cluster-backend.js";
import type { Node } from "./node.js";

/**
 * Classic Swarm's rescheduling watchdog (§6): when an engine is lost (flagged unhealthy, or gone
 * from discovery), each of its containers created with `reschedule:on-node-failure` is created
 * again, same config and name, through the normal placement, and started if it was running. When
 * an engine comes back, its copies of containers that now live elsewhere (same Swarm ID) are
 * removed. Only the primary does this; work is done one event at a time, in order.
 */
export class Rescheduler {
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly logger: Logger,
    private readonly isPrimary: () => boolean,
    /** The backend's create: a container is created again where and as its backend creates containers. */
    private readonly create: (request: CreateContainerRequest) => Promise<CreatedContainer>,
  ) {}

  start(): void {
    this.unsubscribe ??= this.cluster.onEngineEvent((node, event) => this.onEvent(node, event));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.queue;
  }

  private onEvent(node: Node, event: DockerEvent): void {
    if (event.Type !== "swarm" || !this.isPrimary()) return;
    if (event.Action === "engine_disconnect") this.enqueue(() => this.moveContainersOff(node));
    // A connect follows a full load of the engine's containers; a reconnect follows an outage, so
    // what changed meanwhile is read first.
    else if (event.Action === "engine_connect") this.enqueue(() => this.removeDuplicates(node));
    else if (event.Action === "engine_reconnect") this.enqueue(() => node.sync.refreshContainers(false).then(() => this.removeDuplicates(node)));
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => this.logger.error(`Rescheduling failed: ${errorMessage(err)}`));
  }

  private async moveContainersOff(node: Node): Promise<void> {
    for (const record of [...node.containers.values()]) {
      const policies = readLabelList(record.labels, SwarmLabels.reschedulePolicies);
      if (!policies.includes("on-node-failure")) {
        this.logger.debug(`Skipping rescheduling of container ${record.id}: its policy is not on-node-failure`);
        continue;
      }
      if (record.document === undefined) {
        this.logger.error(`Failed to reschedule container ${record.id}: its engine was lost before it could be read`);
        continue;
      }
      const inspect = JSON.parse(`${record.document}}`) as ContainerInspect;
      // Off the lost engine first: its name is free again and it is not listed twice.
      node.dropContainer(record.id);
      try {
        const created = await this.create({ config: recreatedConfig(inspect), name: record.name, registryAuth: undefined });
        this.logger.info(`Rescheduled container ${record.id} from ${node.name} to ${created.node.name} as ${created.id}`);
        if (record.state.running) await this.startMoved(record.id, created.id, created.node.id);
      } catch (err) {
        this.logger.error(`Failed to reschedule container ${record.id}: ${errorMessage(err)}`);
        node.sync.restore(record);
      }
    }
  }

  private async startMoved(oldId: string, newId: string, nodeId: string): Promise<void> {
    this.logger.info(`Container ${oldId} was running, starting container ${newId}`);
    const target = this.cluster.node(nodeId);
    try {
      if (!target) throw new Error(`node ${nodeId} left the cluster`);
      const expectation = target.sync.expect(newId, "start");
      try {
        await target.engine.send("POST", `/containers/${newId}/start`);
        await target.sync.reread(newId);
      } finally {
        expectation.settle();
      }
    } catch (err) {
      this.logger.error(`Failed to start rescheduled container ${newId}: ${errorMessage(err)}`);
    }
  }

  private async removeDuplicates(node: Node): Promise<void> {
    for (const record of [...node.containers.values()]) {
      const swarmId = record.swarmId;
      if (!swarmId || !this.cluster.containersWithSwarmId(swarmId).some((other) => other.nodeId !== node.id)) continue;
      try {
        await node.engine.send("DELETE", `/containers/${record.id}`, { query: { force: 1, v: 1 } });
        node.sync.forget(record.id);
      } catch (err) {
        this.logger.error(`Failed to remove duplicate container ${record.id} on node ${node.name}: ${errorMessage(err)}`);
      }
    }
  }
}

/**
 * The create request a container came from, as far as its inspect tells: its config (labels, so
 * its Swarm ID, constraints and policy, included) and host config. A host name dockerd derived
 * from the old container's ID is left for the new container to derive again.
 */
function recreatedConfig(inspect: ContainerInspect): ContainerConfig {
  const config: ContainerConfig = { ...inspect.Config, HostConfig: inspect.HostConfig };
  if (config.Hostname === inspect.Id.slice(0, 12)) delete config.Hostname;
  return config;
}
