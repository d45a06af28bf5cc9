import type { Client } from "node-zookeeper-client";
import { parseHostPort, untilAborted } from "@swarm/core";
import { mesosErrors } from "./errors.js";

/**
 * Where the leading Mesos master is. `host:port` or a list of them (the client tries each in turn
 * and follows a non-leader's 307), or `zk://host:port[,…]/path`, where masters register themselves
 * as sequential `json.info_*` znodes and the lowest one leads.
 */
export interface MasterLocator {
  /** Candidate masters, the likely leader first. */
  candidates(signal: AbortSignal): Promise<string[]>;
  readonly description: string;
  close(): void;
}

export function masterLocator(target: string): MasterLocator {
  if (target.startsWith("zk://")) return zookeeperLocator(target);
  const masters = target.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (masters.length === 0) throw mesosErrors.MasterMissing();
  for (const master of masters) {
    try {
      parseHostPort(master);
    } catch {
      throw mesosErrors.InvalidMaster({ master: JSON.stringify(master) });
    }
  }
  return { candidates: async () => [...masters], description: masters.join(","), close: () => undefined };
}

interface MasterInfo {
  readonly hostname?: string;
  readonly port?: number;
  readonly address?: { readonly hostname?: string; readonly ip?: string; readonly port?: number };
}

function zookeeperLocator(target: string): MasterLocator {
  const rest = target.slice("zk://".length);
  const slash = rest.indexOf("/");
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "/mesos" : rest.slice(slash).replace(/\/+$/, "") || "/mesos";
  if (hosts === "") throw mesosErrors.InvalidZookeeperMaster({ master: JSON.stringify(target) });
  let client: Client | undefined;
  let connected: Promise<Client> | undefined;

  const connect = async (signal: AbortSignal): Promise<Client> => {
    const zk = await import("node-zookeeper-client");
    connected ??= new Promise<Client>((resolve) => {
      const made = zk.createClient(hosts, { sessionTimeout: 10_000, retries: 0 });
      client = made;
      made.once("connected", () => resolve(made));
      made.connect();
    });
    return untilAborted(connected, signal, `connecting to ZooKeeper at ${hosts}`);
  };

  const call = <T>(what: string, signal: AbortSignal, start: (done: (err: unknown, value: T) => void) => void): Promise<T> =>
    untilAborted(
      new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(new Error(`${what}: ${String(err)}`)) : resolve(value)))),
      signal,
      what,
    );

  return {
    description: `${path} in ZooKeeper at ${hosts}`,
    async candidates(signal) {
      const zk = await connect(signal);
      const children = await call<string[]>(`listing ${path}`, signal, (done) => zk.getChildren(path, (err, names) => done(err, names)));
      const masters: string[] = [];
      for (const child of children.filter((name) => name.startsWith("json.info_")).sort()) {
        const data = await call<Buffer | undefined>(`reading ${path}/${child}`, signal, (done) =>
          zk.getData(`${path}/${child}`, (err, buffer) => done(err, buffer)),
        ).catch(() => undefined);
        if (!data) continue;
        const info = JSON.parse(data.toString("utf8")) as MasterInfo;
        const host = info.address?.ip ?? info.address?.hostname ?? info.hostname;
        const port = info.address?.port ?? info.port;
        if (host && port) masters.push(`${host}:${port}`);
      }
      return masters;
    },
    close() {
      client?.close();
      client = undefined;
      connected = undefined;
    },
  };
}

