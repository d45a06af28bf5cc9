import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { ensureBusyboxImage, startEngines, waitFor, type TestEngines } from "@swarm/test-harness";
import { captureDockerRun } from "../../bench/fleet/docker-cli.js";
import { startFleet, type Fleet } from "@swarm/core/testing/fleet";

/**
 * The simulated engine against a real dockerd 20.10: the same calls, driven the way the docker CLI
 * makes them, must give the same event sequence, the same document shapes (key sets) and the same
 * error statuses and messages. The real engine runs without a bridge (`--bridge=none`), so the
 * simulated one is started with `bridge: false` and containers use `--network none`.
 */

interface EventSeen {
  readonly Type: string;
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Record<string, string> };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

type Json = Record<string, unknown>;

/** What one engine answered to the scenario. */
interface Observed {
  readonly events: EventSeen[];
  readonly documents: Record<string, Json | Json[]>;
  readonly statuses: Record<string, number>;
  readonly errors: Record<string, { status: number; message: string }>;
  readonly pingHeaders: string[];
}

const ID = /[0-9a-f]{64}/g;
const SHORT_ID = /\b[0-9a-f]{12}\b/g;

class EngineDriver {
  readonly events: EventSeen[] = [];
  private stream: { destroy(): void } | undefined;

  constructor(readonly url: string) {}

  async call(method: string, path: string, body?: unknown): Promise<Answer> {
    const response = await request(`${this.url}${path}`, {
      method: method as "GET",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  }

  async json(method: string, path: string, body?: unknown): Promise<Json & Json[]> {
    const answer = await this.call(method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.text}`);
    return JSON.parse(answer.text) as Json & Json[];
  }

  async watchEvents(): Promise<void> {
    const response = await request(`${this.url}/v1.41/events`, { bodyTimeout: 0, headersTimeout: 30_000 });
    let buffered = "";
    response.body.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== "") this.events.push(JSON.parse(line) as EventSeen);
      }
    });
    response.body.on("error", () => undefined);
    this.stream = response.body;
  }

  /** Waits until an event with this action arrives (exec_die comes after the start call returns). */
  async eventArrives(action: string): Promise<void> {
    await waitFor({ what: `no ${action} event from ${this.url}`, timeoutMs: 15_000, probe: async () => (this.events.some((e) => e.Action === action) ? true : undefined) });
  }

  /** Waits until no event has come for a while: the engine has finished reporting what we did. */
  async quiet(ms = 400): Promise<void> {
    let count = -1;
    await waitFor({
      what: `events from ${this.url} kept coming`,
      timeoutMs: 15_000,
      probe: async () => {
        const now = this.events.length;
        if (now === count) return true;
        count = now;
        await new Promise((resolve) => setTimeout(resolve, ms));
        return undefined;
      },
    });
  }

  close(): void {
    this.stream?.destroy();
  }
}

/** The scenario, identical for both engines; `createBody` is the docker CLI's own `docker run -d --network none …` body. */
async function drive(engine: EngineDriver, createBody: string): Promise<Observed> {
  const documents: Record<string, Json | Json[]> = {};
  const statuses: Record<string, number> = {};
  const errors: Record<string, { status: number; message: string }> = {};
  const step = async (name: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const answer = await engine.call(method, path, body);
    statuses[name] = answer.status;
    return answer;
  };
  const failure = async (name: string, method: string, path: string, body?: unknown) => {
    const answer = await engine.call(method, path, body);
    const message = (JSON.parse(answer.text) as { message: string }).message;
    errors[name] = { status: answer.status, message: message.replace(ID, "<id>").replace(SHORT_ID, "<short-id>") };
  };

  const ping = await engine.call("GET", "/_ping");
  const pingHeaders = Object.keys(ping.headers)
    .map((h) => h.toLowerCase())
    .filter((h) => !["date", "content-length", "connection", "keep-alive", "transfer-encoding"].includes(h))
    .sort();
  documents.info = await engine.json("GET", "/v1.41/info");
  documents.version = await engine.json("GET", "/v1.41/version");
  await engine.watchEvents();

  // docker run -d --network none --label app=web busybox sleep 600
  const created = await step("create", "POST", "/v1.41/containers/create?name=fid-c1", createBody);
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  documents.createdInspect = await engine.json("GET", `/v1.41/containers/${id}/json`);
  await step("start", "POST", `/v1.41/containers/${id}/start`);
  await step("start again", "POST", `/v1.41/containers/${id}/start`);
  documents.inspect = await engine.json("GET", `/v1.41/containers/${id}/json`);
  documents.list = await engine.json("GET", "/v1.41/containers/json?all=1");
  await engine.quiet();
  await step("stop", "POST", `/v1.41/containers/${id}/stop?t=1`);
  await step("stop again", "POST", `/v1.41/containers/${id}/stop?t=1`);
  documents.stoppedInspect = await engine.json("GET", `/v1.41/containers/${id}/json`);
  await step("start after stop", "POST", `/v1.41/containers/${id}/start`);
  await step("rename", "POST", `/v1.41/containers/${id}/rename?name=fid-c2`);
  // docker exec fid-c2 true, detached so that no hijack is involved.
  const exec = await engine.json("POST", "/v1.41/containers/fid-c2/exec", { Cmd: ["true"], AttachStdout: false, AttachStderr: false });
  documents.execInspect = await engine.json("GET", `/v1.41/exec/${String(exec.Id)}/json`);
  await step("exec start", "POST", `/v1.41/exec/${String(exec.Id)}/start`, { Detach: true, Tty: false });
  await engine.eventArrives("exec_die");
  await step("kill", "POST", "/v1.41/containers/fid-c2/kill");
  await failure("kill stopped", "POST", "/v1.41/containers/fid-c2/kill");
  await step("rm", "DELETE", "/v1.41/containers/fid-c2");

  // Errors, on a container of their own.
  await failure("unknown image", "POST", "/v1.41/containers/create", { Image: "fid-nosuch:latest", HostConfig: { NetworkMode: "none" } });
  await step("create e1", "POST", "/v1.41/containers/create?name=fid-e1", createBody);
  await step("start e1", "POST", "/v1.41/containers/fid-e1/start");
  await failure("name conflict", "POST", "/v1.41/containers/create?name=fid-e1", createBody);
  await failure("invalid name", "POST", "/v1.41/containers/create?name=fid%20bad", createBody);
  await failure("remove running", "DELETE", "/v1.41/containers/fid-e1");
  await failure("unknown container", "GET", "/v1.41/containers/fid-nosuch/json");
  await failure("unknown exec", "GET", "/v1.41/exec/fid-nosuch/json");
  await step("rm -f e1", "DELETE", "/v1.41/containers/fid-e1?force=1");

  // docker network create / inspect / ls / rm
  const network = await engine.json("POST", "/v1.41/networks/create", { Name: "fid-n1", CheckDuplicate: true, Driver: "bridge", Labels: { team: "a" } });
  documents.network = await engine.json("GET", `/v1.41/networks/${String(network.Id)}`);
  documents.networks = await engine.json("GET", "/v1.41/networks");
  await failure("network exists", "POST", "/v1.41/networks/create", { Name: "fid-n1", CheckDuplicate: true });
  await step("network rm", "DELETE", "/v1.41/networks/fid-n1");
  await failure("unknown network", "GET", "/v1.41/networks/fid-nosuch");

  // docker volume create / inspect / ls / rm
  documents.volume = await engine.json("POST", "/v1.41/volumes/create", { Name: "fid-v1", Driver: "local", Labels: { k: "v" } });
  documents.volumes = await engine.json("GET", "/v1.41/volumes");
  await step("volume rm", "DELETE", "/v1.41/volumes/fid-v1");
  await failure("unknown volume", "GET", "/v1.41/volumes/fid-nosuch");

  // docker tag busybox fid-bb:1, docker image inspect, docker images, docker rmi fid-bb:1
  await step("tag", "POST", "/v1.41/images/busybox/tag?repo=docker.io%2Flibrary%2Ffid-bb&tag=1");
  documents.image = await engine.json("GET", "/v1.41/images/fid-bb:1/json");
  documents.images = await engine.json("GET", "/v1.41/images/json");
  documents.untagged = await engine.json("DELETE", "/v1.41/images/fid-bb:1");
  await failure("unknown image rmi", "DELETE", "/v1.41/images/fid-nosuch:latest");

  await engine.quiet();
  return { events: engine.events, documents, statuses, errors, pingHeaders };
}

function keys(value: unknown): string[] {
  return value !== null && typeof value === "object" ? Object.keys(value).sort() : [];
}

/** Key sets of a document and of its nested objects along `paths` (`HostConfig`, `NetworkSettings.Networks.none`). */
function shape(document: unknown, paths: readonly string[] = []): Record<string, string[]> {
  const out: Record<string, string[]> = { "": keys(document) };
  for (const path of paths) {
    let value: unknown = document;
    for (const part of path.split(".")) value = value !== null && typeof value === "object" ? (value as Json)[part] : undefined;
    out[path] = keys(value);
  }
  return out;
}

const INSPECT_PATHS = ["Config", "HostConfig", "HostConfig.LogConfig", "HostConfig.RestartPolicy", "State", "NetworkSettings", "NetworkSettings.Networks", "NetworkSettings.Networks.none"];

describe("the simulated engine against a real dockerd 20.10", () => {
  let real: TestEngines | undefined;
  let fleet: Fleet | undefined;
  let observedReal: Observed;
  let observedSim: Observed;

  beforeAll(async () => {
    real = await startEngines(1);
    await ensureBusyboxImage(real.engines);
    fleet = await startFleet({ engines: 1, bridge: false });
    const captured = await captureDockerRun(["-d", "--network", "none", "--label", "app=web", "busybox", "sleep", "600"]);
    const realDriver = new EngineDriver(real.engines[0]!.url);
    const simDriver = new EngineDriver(`http://${fleet.addresses[0]!}`);
    try {
      observedReal = await drive(realDriver, captured.body);
      observedSim = await drive(simDriver, captured.body);
    } finally {
      realDriver.close();
      simDriver.close();
    }
  });

  afterAll(async () => {
    await fleet?.stop();
    await real?.stopAll();
  });

  it("emits the same events in the same order, with the same attribute names", () => {
    const sequence = (o: Observed) => o.events.map((e) => `${e.Type} ${e.Action} [${Object.keys(e.Actor.Attributes).sort().join(",")}]`);
    expect(sequence(observedSim)).toEqual(sequence(observedReal));
    const container = observedSim.events.find((e) => e.Type === "container" && e.Action === "create");
    expect(container?.Actor.Attributes).toMatchObject({ app: "web", image: "busybox", name: "fid-c1" });
  });

  it("emits events with dockerd's top-level fields", () => {
    const fields = (o: Observed, type: string) => keys(o.events.find((e) => e.Type === type));
    for (const type of ["container", "network", "volume", "image"]) expect(fields(observedSim, type), type).toEqual(fields(observedReal, type));
  });

  it("answers with the same status codes", () => {
    expect(observedSim.statuses).toEqual(observedReal.statuses);
  });

  it("answers the error cases with dockerd's status and message", () => {
    expect(observedSim.errors).toEqual(observedReal.errors);
  });

  it("gives container documents the same keys (inspect while created, running and stopped, list rows)", () => {
    for (const name of ["createdInspect", "inspect", "stoppedInspect"]) {
      expect(shape(observedSim.documents[name], INSPECT_PATHS), name).toEqual(shape(observedReal.documents[name], INSPECT_PATHS));
    }
    const values = (o: Observed, name: string) => {
      const d = o.documents[name] as { Name: string; State: Json; Config: Json; HostConfig: Json };
      return [d.Name, d.State.Status, d.State.Running, d.State.ExitCode, d.Config.Cmd, d.Config.Labels, d.HostConfig.NetworkMode, d.HostConfig.ShmSize];
    };
    for (const name of ["createdInspect", "inspect", "stoppedInspect"]) expect(values(observedSim, name), name).toEqual(values(observedReal, name));
    const row = (o: Observed) => (o.documents.list as Json[])[0];
    expect(shape(row(observedSim), ["HostConfig", "NetworkSettings", "NetworkSettings.Networks.none"])).toEqual(
      shape(row(observedReal), ["HostConfig", "NetworkSettings", "NetworkSettings.Networks.none"]),
    );
    expect(shape(observedSim.documents.execInspect, ["ProcessConfig"])).toEqual(shape(observedReal.documents.execInspect, ["ProcessConfig"]));
  });

  it("gives info, version and _ping the same keys", () => {
    expect(shape(observedSim.documents.info, ["Plugins", "RegistryConfig", "Swarm"])).toEqual(shape(observedReal.documents.info, ["Plugins", "RegistryConfig", "Swarm"]));
    expect(shape(observedSim.documents.version, ["Platform"])).toEqual(shape(observedReal.documents.version, ["Platform"]));
    const component = (o: Observed) => ((o.documents.version as Json).Components as Json[])[0];
    expect(shape(component(observedSim), ["Details"])).toEqual(shape(component(observedReal), ["Details"]));
    expect(observedSim.pingHeaders).toEqual(observedReal.pingHeaders);
  });

  it("gives network, volume and image documents the same keys", () => {
    const same = (name: string, paths: readonly string[] = []) =>
      expect(shape(observedSim.documents[name], paths), name).toEqual(shape(observedReal.documents[name], paths));
    same("network", ["IPAM", "ConfigFrom"]);
    expect(shape((observedSim.documents.networks as Json[])[0], ["IPAM"])).toEqual(shape((observedReal.documents.networks as Json[])[0], ["IPAM"]));
    same("volume");
    same("volumes");
    expect(shape(((observedSim.documents.volumes as Json).Volumes as Json[])[0])).toEqual(shape(((observedReal.documents.volumes as Json).Volumes as Json[])[0]));
    same("image", ["Config", "ContainerConfig", "RootFS", "Metadata"]);
    expect(shape((observedSim.documents.images as Json[])[0])).toEqual(shape((observedReal.documents.images as Json[])[0]));
    expect(observedSim.documents.untagged).toEqual(observedReal.documents.untagged);
  });
});
