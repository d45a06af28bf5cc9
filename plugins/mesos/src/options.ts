import { isIP } from "node:net";
import { Type, parseGoDuration, type Static } from "@swarm/core";
import { mesosErrors } from "./errors.js";

/** `--cluster-opt mesos.*`, as classic Swarm's Mesos driver read them (each also from its variable). */
export const mesosOptionsSchema = Type.Object(
  {
    "mesos.address": Type.Optional(Type.String({ description: "callback IP of the old libprocess driver; checked, not needed by the v1 API" })),
    "mesos.port": Type.Optional(Type.String({ description: "callback port of the old libprocess driver; checked, not needed by the v1 API" })),
    "mesos.user": Type.Optional(Type.String({ description: "the framework's user (default: the manager's user)" })),
    "mesos.checkpointfailover": Type.Optional(Type.String({ default: "false", description: "checkpoint the framework's tasks on agents" })),
    "mesos.offertimeout": Type.Optional(Type.String({ default: "30s", description: "decline an unused offer after this long" })),
    "mesos.offerrefusetimeout": Type.Optional(Type.String({ default: "5s", description: "how long Mesos keeps declined resources from us" })),
    "mesos.tasktimeout": Type.Optional(Type.String({ default: "5s", description: "fail a create whose task has no agent after this long" })),
    "mesos.failovertimeout": Type.Optional(Type.String({ default: "1m", description: "how long the master keeps our tasks while we are away" })),
  },
  { additionalProperties: false },
);

export type RawMesosOptions = Static<typeof mesosOptionsSchema>;

export const MESOS_ENV: Readonly<Record<keyof RawMesosOptions, string>> = {
  "mesos.address": "SWARM_MESOS_ADDRESS",
  "mesos.port": "SWARM_MESOS_PORT",
  "mesos.user": "SWARM_MESOS_USER",
  "mesos.checkpointfailover": "SWARM_MESOS_CHECKPOINT_FAILOVER",
  "mesos.offertimeout": "SWARM_MESOS_OFFER_TIMEOUT",
  "mesos.offerrefusetimeout": "SWARM_MESOS_OFFER_REFUSE_TIMEOUT",
  "mesos.tasktimeout": "SWARM_MESOS_TASK_TIMEOUT",
  "mesos.failovertimeout": "SWARM_MESOS_FAILOVER_TIMEOUT",
};

export interface MesosOptions {
  readonly user: string | undefined;
  readonly checkpoint: boolean;
  /** All in ms. */
  readonly offerTimeout: number;
  readonly offerRefuseTimeout: number;
  readonly taskTimeout: number;
  readonly failoverTimeout: number;
}

function duration(raw: RawMesosOptions, key: keyof RawMesosOptions, fallback: string): number {
  const text = raw[key] ?? fallback;
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw mesosErrors.InvalidDuration({ option: key, value: JSON.stringify(text), reason: (err as Error).message });
  }
}

/** Classic Swarm's checks and defaults (§8.2); a bad value stops the manager before it starts. */
export function readMesosOptions(raw: RawMesosOptions): MesosOptions {
  const address = raw["mesos.address"];
  if (address !== undefined && isIP(address) === 0) throw mesosErrors.InvalidAddress({ address });
  const port = raw["mesos.port"];
  if (port !== undefined && !(/^\d+$/.test(port) && Number(port) <= 65535)) {
    throw mesosErrors.InvalidPort({ port });
  }
  const checkpoint = raw["mesos.checkpointfailover"];
  if (checkpoint !== undefined && !/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(checkpoint)) {
    throw mesosErrors.InvalidCheckpointFailover({ value: checkpoint });
  }
  return {
    user: raw["mesos.user"] === "" ? undefined : raw["mesos.user"],
    checkpoint: checkpoint !== undefined && /^(1|t|T|TRUE|true|True)$/.test(checkpoint),
    offerTimeout: duration(raw, "mesos.offertimeout", "30s"),
    offerRefuseTimeout: duration(raw, "mesos.offerrefusetimeout", "5s"),
    taskTimeout: duration(raw, "mesos.tasktimeout", "5s"),
    failoverTimeout: duration(raw, "mesos.failovertimeout", "1m"),
  };
}
