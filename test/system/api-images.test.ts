import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promisify } from "node:util";
import { request } from "undici";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startRegistry,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngine,
  type TestEngines,
  type ManagerProcess,
  type TestRegistry,
} from "@swarm/test-harness";
import { startRegistrySearchFake, type RegistrySearchFake } from "../fakes/registry-search.js";

const execFileAsync = promisify(execFile);

interface TwinImage {
  readonly archive: string;
  readonly id: string;
  readonly tag: string;
}

/**
 * Two loadable image archives whose IDs share their first three hex digits. An image ID is the
 * SHA-256 of the config the archive carries, so label values are tried until two digests collide.
 */
async function twinImages(dir: string): Promise<{ prefix: string; images: [TwinImage, TwinImage] }> {
  const layerDir = path.join(dir, "twin-layer");
  await fsp.mkdir(layerDir, { recursive: true });
  await fsp.writeFile(path.join(layerDir, "twin.txt"), "twin\n");
  const layer = path.join(dir, "twin-layer.tar");
  await execFileAsync("tar", ["-cf", layer, "-C", layerDir, "twin.txt"]);
  const diffId = createHash("sha256").update(await fsp.readFile(layer)).digest("hex");
  const architecture = os.arch() === "x64" ? "amd64" : os.arch();
  const configOf = (n: number) =>
    JSON.stringify({ architecture, os: "linux", config: { Labels: { twin: String(n) } }, rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] } });
  const idOf = (n: number) => createHash("sha256").update(configOf(n)).digest("hex");

  const archive = async (n: number): Promise<TwinImage> => {
    const id = idOf(n);
    const tag = `twin-${n}:1`;
    const imageDir = path.join(dir, `twin-${n}`);
    await fsp.mkdir(path.join(imageDir, "layer"), { recursive: true });
    await fsp.copyFile(layer, path.join(imageDir, "layer", "layer.tar"));
    await fsp.writeFile(path.join(imageDir, `${id}.json`), configOf(n));
    await fsp.writeFile(path.join(imageDir, "manifest.json"), JSON.stringify([{ Config: `${id}.json`, RepoTags: [tag], Layers: ["layer/layer.tar"] }]));
    const file = path.join(dir, `twin-${n}.tar`);
    await execFileAsync("tar", ["-cf", file, "-C", imageDir, "manifest.json", `${id}.json`, "layer/layer.tar"]);
    return { archive: file, id: `sha256:${id}`, tag };
  };

  const seen = new Map<string, number>();
  for (let n = 0; ; n++) {
    const prefix = idOf(n).slice(0, 3);
    const earlier = seen.get(prefix);
    if (earlier !== undefined) return { prefix, images: [await archive(earlier), await archive(n)] };
    seen.set(prefix, n);
  }
}

/**
 * Images across three real engines through the manager, driven by the docker CLI (28.2): what
 * lands on every node (pull, load, import, tag, rmi, prune), what runs on one (build, push,
 * inspect, save), and the per-node progress lines classic Swarm printed.
 */
describe("images across nodes", () => {
  let cluster: TestEngines;
  let manager: ManagerProcess;
  let registry: TestRegistry;
  let searchable: RegistrySearchFake;
  let workDir: string;

  const swarm = (...args: string[]) => docker(manager.dockerHost, args);
  const failure = (...args: string[]) =>
    swarm(...args).then(
      () => {
        throw new Error(`docker ${args.join(" ")} succeeded`);
      },
      (err: Error) => err.message,
    );
  /** Image IDs (full) for `ref` on one engine, asked directly. */
  const idOn = async (engine: TestEngine, ref: string) =>
    (await docker(engine, ["images", "--no-trunc", "-q", ref])).stdout.trim();
  const engines = () => cluster.engines;

  beforeAll(async () => {
    [cluster, registry, searchable] = await Promise.all([
      startEngines(3),
      startRegistry(),
      startRegistrySearchFake([
        { name: "team/busybox", description: "tiny userland", star_count: 12, is_official: false, is_automated: false },
        { name: "busybox", description: "the official one", star_count: 3000, is_official: true, is_automated: false },
        { name: "team/builder", description: "builds busybox images", star_count: 1, is_official: false, is_automated: true },
        { name: "team/redis", description: "a cache", star_count: 40, is_official: false, is_automated: false },
      ]),
    ]);
    await ensureBusyboxImage(cluster.engines);
    workDir = await fsp.mkdtemp(path.join(os.tmpdir(), "swt-img-"));
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: ["--engine-refresh-min-interval", "1s", "--engine-refresh-max-interval", "2s"],
    });
    await waitForHealthyNodes(manager, 3);
  });

  afterAll(async () => {
    await manager?.stop();
    await Promise.all([cluster?.stopAll(), registry?.stop(), searchable?.dispose()]);
    if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
  });

  it("tags on every node, pushes from one, removes everywhere and pulls onto every node with per-node progress", async () => {
    const ref = `${registry.address}/team/busybox:1`;
    await swarm("tag", "busybox", ref);
    for (const engine of engines()) expect(await idOn(engine, ref)).toMatch(/^sha256:/);

    const pushed = await swarm("push", ref);
    expect(pushed.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64}/);

    const removed = await swarm("rmi", ref);
    expect(removed.stdout.match(new RegExp(`Untagged: ${ref.replaceAll(".", "\\.")}`, "g"))).toHaveLength(3);
    for (const engine of engines()) expect(await idOn(engine, ref)).toBe("");

    const pulled = await swarm("pull", ref);
    for (const engine of engines()) {
      expect(pulled.stdout).toContain(`${engine.name}: Pulling ${ref}...\n`);
      expect(pulled.stdout).toContain(`${engine.name}: Pulling ${ref}... : Status: Downloaded newer image for ${ref}`);
      expect(await idOn(engine, ref)).toMatch(/^sha256:/);
    }
    // The manager's mirror is refreshed before the stream ends: the image is listed at once.
    expect((await swarm("images", "--format", "{{.Repository}}:{{.Tag}}", ref)).stdout.trim()).toBe(ref);
  });

  it("fails a pull of a missing image with every node's reason, after streaming them", async () => {
    const ref = `${registry.address}/missing:1`;
    const message = await failure("pull", ref);
    for (const engine of engines()) expect(message).toContain(`${engine.name}: manifest for ${ref} not found`);
  });

  it("logs in and inspects a distribution through an engine", async () => {
    expect((await swarm("login", "-u", "tester", "-p", "secret", registry.address)).stdout).toContain("Login Succeeded");
    const response = await request(`${manager.url}/v1.41/distribution/${registry.address}/team/busybox:1/json`);
    expect(response.statusCode).toBe(200);
    const body = (await response.body.json()) as { Descriptor: { digest: string } };
    expect(body.Descriptor.digest).toMatch(/^sha256:/);
  });

  it("lists images merged across nodes, with reference and node filters", async () => {
    const refs = (await swarm("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=busy*")).stdout.trim().split("\n");
    // The kit imports busybox on each node separately: three image IDs, one row each.
    expect(refs).toEqual(["busybox:latest", "busybox:latest", "busybox:latest"]);
    const onOne = (await swarm("images", "-q", "--filter", `node=${engines()[0]!.name}`, "busybox")).stdout.trim();
    expect(onOne).toHaveLength(12);
    const bad = await failure("images", "--filter", "dangling=maybe");
    expect(bad).toContain("Invalid filter: 'type'='dangling'");
  });

  it("searches a registry through one engine, with its limit and filters", async () => {
    const found = await swarm("search", "--format", "{{.Name}} {{.StarCount}} {{.IsOfficial}}", `${searchable.address}/busybox`);
    // IsOfficial prints "[OK]" or nothing.
    expect(found.stdout.split("\n").map((line) => line.trim()).filter(Boolean).sort()).toEqual(["busybox 3000 [OK]", "team/builder 1", "team/busybox 12"]);
    expect(searchable.requests).toContain("GET /v1/search?q=busybox&n=25");
    // The limit goes to the registry; the filters are applied by the engine.
    const limited = await swarm("search", "--limit", "1", "--format", "{{.Name}}", `${searchable.address}/team`);
    expect(limited.stdout.trim()).toBe("team/busybox");
    const starred = await swarm("search", "--filter", "stars=10", "--filter", "is-official=false", "--format", "{{.Name}}", `${searchable.address}/team`);
    expect(starred.stdout.trim().split("\n").sort()).toEqual(["team/busybox", "team/redis"]);
    expect(await failure("search", "--filter", "stars=many", `${searchable.address}/team`)).toContain("Error response from daemon: Invalid filter 'stars=many'");
  });

  it("inspects, shows history and refuses unknown names with Docker's messages", async () => {
    const id = (await swarm("image", "inspect", "-f", "{{.Id}}", "busybox")).stdout.trim();
    const ids = await Promise.all(engines().map((engine) => idOn(engine, "busybox")));
    expect(ids).toContain(id);
    expect((await swarm("history", "-q", "busybox")).stdout.trim()).not.toBe("");
    expect(await failure("image", "inspect", "nope:1")).toContain("No such image: nope:1");
    // `bus` is not busybox (§4.4): the prefix of a repository is no match.
    expect(await failure("rmi", "bus")).toContain("No such image bus");
    const viz = await request(`${manager.url}/images/viz`);
    expect(viz.statusCode).toBe(501);
    expect(await viz.body.json()).toEqual({ message: "Not supported in clustering mode." });
  });

  it("refuses an ID prefix two different images share instead of acting on both", async () => {
    const { prefix, images } = await twinImages(workDir);
    const [first, second] = engines();
    await docker(first!, ["load", "-i", images[0].archive]);
    await docker(second!, ["load", "-i", images[1].archive]);
    try {
      await waitFor({
        what: "the manager did not learn of the images loaded on the engines",
        timeoutMs: 10_000,
        probe: async () => {
          const ids = (await swarm("images", "-q", "--no-trunc")).stdout;
          return images.every((image) => ids.includes(image.id)) ? true : undefined;
        },
      });
      expect(await failure("image", "inspect", prefix)).toContain(`No such image: ${prefix}`);
      expect(await failure("tag", prefix, "twin:copy")).toContain(`No such image: ${prefix}`);
      expect(await failure("rmi", prefix)).toContain(`No such image ${prefix}`);
      expect(await idOn(first!, images[0].tag)).toBe(images[0].id);
      expect(await idOn(second!, images[1].tag)).toBe(images[1].id);
      // A prefix only one of them has still names it.
      const longer = images[1].id.slice("sha256:".length, "sha256:".length + 12);
      expect((await swarm("image", "inspect", "-f", "{{.Id}}", longer)).stdout.trim()).toBe(images[1].id);
    } finally {
      await docker(first!, ["rmi", images[0].tag]).catch(() => undefined);
      await docker(second!, ["rmi", images[1].tag]).catch(() => undefined);
    }
  });

  it("saves from one node and loads onto every node", async () => {
    await swarm("tag", "busybox", "saved:1");
    const archive = path.join(workDir, "saved.tar");
    await swarm("save", "-o", archive, "saved:1");
    expect((await fsp.stat(archive)).size).toBeGreaterThan(100_000);
    await swarm("rmi", "saved:1");
    for (const engine of engines()) expect(await idOn(engine, "saved:1")).toBe("");

    const loaded = await swarm("load", "-i", archive);
    for (const engine of engines()) {
      expect(loaded.stdout).toContain(`${engine.name}: Loaded image: saved:1`);
      expect(await idOn(engine, "saved:1")).toMatch(/^sha256:/);
    }
    const missing = await failure("save", "-o", path.join(workDir, "none.tar"), "saved:1", "nope");
    expect(missing).toContain("Unable to find a healthy engine containing all images: [saved:1 nope]");
  });

  it("imports a root filesystem onto every node", async () => {
    const archive = path.join(workDir, "saved.tar");
    // Any tar is a root filesystem to import; the saved image archive will do.
    const imported = await swarm("import", "-m", "from the test", archive, "imported:1");
    for (const engine of engines()) {
      expect(imported.stdout).toMatch(new RegExp(`${engine.name}: sha256:[0-9a-f]{64}`));
      expect(await idOn(engine, "imported:1")).toMatch(/^sha256:/);
    }
  });

  it("builds on the node a constraint build arg names, and keeps that arg from the engine", async () => {
    const context = path.join(workDir, "context");
    await fsp.mkdir(context, { recursive: true });
    await fsp.writeFile(path.join(context, "Dockerfile"), "FROM busybox\nARG GREETING=none\nRUN echo hi-$GREETING > /x\n");
    const target = engines()[1]!;
    const built = await swarm(
      "build",
      "--network",
      "none",
      "--build-arg",
      `constraint:node==${target.name}`,
      "--build-arg",
      "GREETING=there",
      "-t",
      "built:1",
      context,
    );
    expect(built.stdout).toContain("Successfully tagged built:1");
    // Only build args the Dockerfile consumes reach the engine: no "not consumed" warning.
    expect(built.stdout + built.stderr).not.toContain("were not consumed");
    for (const engine of engines()) expect(await idOn(engine, "built:1")).toEqual(engine === target ? expect.stringMatching(/^sha256:/) : "");
    const ran = await swarm("run", "--rm", "--network", "none", "-e", `constraint:node==${target.name}`, "built:1", "cat", "/x");
    expect(ran.stdout).toBe("hi-there\n");

    const refused = await failure("build", "-q", "--network", "none", "--build-arg", "constraint:node==mars", context);
    expect(refused).toContain("Unable to find a node that satisfies the following conditions");
    expect(refused).toContain("[node==mars]");
  });

  it("prunes the build cache of every node", async () => {
    expect((await swarm("builder", "prune", "-f")).stdout).toContain("Total reclaimed space:");
  });

  it("prunes dangling images on every node", async () => {
    const archive = path.join(workDir, "saved.tar");
    // Importing the same tag twice leaves the first import dangling on every node.
    await swarm("import", archive, "twice:1");
    await swarm("import", archive, "twice:1");
    for (const engine of engines()) {
      expect((await docker(engine, ["images", "-q", "--filter", "dangling=true"])).stdout.trim()).not.toBe("");
    }
    const pruned = await swarm("image", "prune", "-f");
    expect(pruned.stdout).toContain("Deleted Images:");
    expect(pruned.stdout).toContain("Total reclaimed space:");
    for (const engine of engines()) {
      expect((await docker(engine, ["images", "-q", "--filter", "dangling=true"])).stdout.trim()).toBe("");
    }
  });

  // Last: it stops an engine for good.
  it("pulls onto the nodes that answer and reports the one that does not", async () => {
    const ref = `${registry.address}/team/busybox:1`;
    const down = engines()[2]!;
    await docker(down, ["rmi", ref]);
    await down.stop();
    const message = await failure("pull", ref);
    expect(message).toContain(`${down.name}: Cannot connect to the Docker daemon at tcp://${down.host}`);
    expect(message).not.toContain(`${engines()[0]!.name}:`);
    for (const engine of engines().slice(0, 2)) expect(await idOn(engine, ref)).toMatch(/^sha256:/);
  });
});
