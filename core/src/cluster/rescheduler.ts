import type { ContainerConfig } from "../extension-points/model.js";
import type { Logger } from "../extension-points/plugin.js";
import type { ContainerInspect, DockerEvent } from "../engines/docker-types.js";
import type { Engine } from "../engines/engine.js";
import { errorMessage } from "../errors/catalog.js";
import { SwarmLabels, readLabelList } from "../scheduler/request.js";
import type { Cluster } from "./cluster.js";

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
  ) {}

  start(): void {
    this.unsubscribe ??= this.cluster.onEngineEvent((engine, event) => this.onEvent(engine, event));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.queue;
  }

  private onEvent(engine: Engine, event: DockerEvent): void {
    if (event.Type !== "swarm" || !this.isPrimary()) return;
    if (event.Action === "engine_disconnect") this.enqueue(() => this.moveContainersOff(engine));
    // A connect follows a full load of the engine's containers; a reconnect follows an outage, so
    // what changed meanwhile is read first.
    else if (event.Action === "engine_connect") this.enqueue(() => this.removeDuplicates(engine));
    else if (event.Action === "engine_reconnect") this.enqueue(() => engine.refreshContainers(false).then(() => this.removeDuplicates(engine)));
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => this.logger.error(`Rescheduling failed: ${errorMessage(err)}`));
  }

  private async moveContainersOff(engine: Engine): Promise<void> {
    for (const record of [...engine.containers.values()]) {
      const { inspect } = record;
      const policies = readLabelList(inspect.Config.Labels ?? {}, SwarmLabels.reschedulePolicies);
      if (!policies.includes("on-node-failure")) {
        this.logger.debug(`Skipping rescheduling of container ${inspect.Id}: its policy is not on-node-failure`);
        continue;
      }
      // Off the lost engine first: its name is free again and it is not listed twice.
      engine.dropContainer(inspect.Id);
      const name = inspect.Name.replace(/^\//, "");
      try {
        const created = await this.cluster.createContainer({ config: recreatedConfig(inspect), name, registryAuth: undefined });
        this.logger.info(`Rescheduled container ${inspect.Id} from ${engine.name} to ${created.node.name} as ${created.id}`);
        if (inspect.State.Running) await this.startMoved(inspect.Id, created.id, created.node.id);
      } catch (err) {
        this.logger.error(`Failed to reschedule container ${inspect.Id}: ${errorMessage(err)}`);
        engine.restoreContainer(record);
      }
    }
  }

  private async startMoved(oldId: string, newId: string, nodeId: string): Promise<void> {
    this.logger.info(`Container ${oldId} was running, starting container ${newId}`);
    const target = this.cluster.engineById(nodeId);
    try {
      if (!target) throw new Error(`node ${nodeId} left the cluster`);
      await target.send("POST", `/containers/${newId}/start`);
      await target.inspectContainer(newId);
    } catch (err) {
      this.logger.error(`Failed to start rescheduled container ${newId}: ${errorMessage(err)}`);
    }
  }

  private async removeDuplicates(engine: Engine): Promise<void> {
    const elsewhere = new Set<string>();
    for (const other of this.cluster.validatedEngines()) {
      if (other === engine) continue;
      for (const { inspect } of other.containers.values()) {
        const swarmId = inspect.Config.Labels?.[SwarmLabels.id];
        if (swarmId) elsewhere.add(swarmId);
      }
    }
    for (const { inspect } of [...engine.containers.values()]) {
      const swarmId = inspect.Config.Labels?.[SwarmLabels.id];
      if (!swarmId || !elsewhere.has(swarmId)) continue;
      try {
        await engine.send("DELETE", `/containers/${inspect.Id}`, { query: { force: 1, v: 1 } });
        engine.dropContainer(inspect.Id);
      } catch (err) {
        this.logger.error(`Failed to remove duplicate container ${inspect.Id} on node ${engine.name}: ${errorMessage(err)}`);
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
