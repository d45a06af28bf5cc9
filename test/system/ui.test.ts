import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  docker,
  ensureBusyboxImage,
  startEngines,
  startManagerProcess,
  waitFor,
  waitForHealthyNodes,
  type TestEngines,
  type ManagerProcess,
} from "@swarm/test-harness";

/**
 * `swarm manage --ui` in a real headless browser against real engines: the page shows the nodes,
 * follows the cluster live (no reload) through /events, lists scheduling failures, narrows with
 * its search box, and shows an engine that dies.
 */

const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/ui/", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

interface StatusNode {
  name: string;
  state: string;
  cpus: { reserved: number; total: number };
  memory: { reserved: number; total: number };
}
interface Status {
  nodes: StatusNode[];
  scheduling: { byReason: Record<string, number>; recent: { reasons: { code: string; count: number }[] }[] };
}

describe("the cluster view (swarm manage --ui)", () => {
  let cluster: TestEngines | undefined;
  let manager: ManagerProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  /** Uncaught errors in the page: any is a bug in the view. */
  const pageErrors: string[] = [];
  /** Page loads after the first: the view must keep itself current without one. */
  let reloads = -1;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    cluster = await startEngines(2, { labels: (i) => ({ region: i === 0 ? "eu" : "us" }) });
    await ensureBusyboxImage(cluster.engines);
    manager = await startManagerProcess({
      discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}`,
      args: [
        "--ui",
        "--monitor-containers",
        "1s",
        "--engine-refresh-min-interval",
        "1s",
        "--engine-refresh-max-interval",
        "2s",
        "--heartbeat",
        "1s",
        "--engine-failure-retry",
        "1",
      ],
    });
    await waitForHealthyNodes(manager, 2);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("load", () => reloads++);
    await page.goto(`${manager.url}/ui/`);
  });

  afterAll(async () => {
    // Each step on its own, so that one failing does not leave the others running.
    await browser?.close().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    await cluster?.stopAll();
  });

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const card = (name: string): Locator => page.locator(`[data-testid="node"][data-node="${name}"]`);
  const status = async (): Promise<Status> => {
    const response = await fetch(`${manager!.url}/swarm/status`);
    return (await response.json()) as Status;
  };
  const noReloadNorError = () => {
    expect(reloads).toBe(0);
    expect(pageErrors).toEqual([]);
  };

  it("lists both nodes, healthy, with their CPU and memory", async ({ onTestFailed }) => {
    onTestFailed(() => shot("failed-nodes"));
    const nodes = page.getByTestId("node");
    await expect.poll(() => nodes.count(), { timeout: 20_000 }).toBe(2);
    const known = await status();
    for (const engine of cluster!.engines) {
      const node = known.nodes.find((n) => n.name === engine.name);
      expect(node, `${engine.name} in /swarm/status`).toBeDefined();
      await expect.poll(() => card(engine.name).getAttribute("data-state")).toBe("healthy");
      const cpu = card(engine.name).getByTestId("node-cpu");
      const memory = card(engine.name).getByTestId("node-memory");
      expect(Number(await cpu.getAttribute("data-total"))).toBe(node!.cpus.total);
      expect(Number(await memory.getAttribute("data-total"))).toBe(node!.memory.total);
      expect(node!.cpus.total).toBeGreaterThan(0);
      expect(node!.memory.total).toBeGreaterThan(0);
      expect(await cpu.textContent()).toContain(`/ ${node!.cpus.total}`);
      expect(await memory.textContent()).toMatch(/\/ [\d.]+ [KMGT]iB/);
      expect(await card(engine.name).getByTestId("node-labels").textContent()).toContain(`region=${engine.labels.region}`);
    }
    expect(await page.getByTestId("role").textContent()).toBe("primary");
    await shot("1-nodes");
    noReloadNorError();
  });

  it("shows a container started during the test without a reload", async ({ onTestFailed }) => {
    onTestFailed(() => shot("failed-live-container"));
    // Open every node's container list first: the row must arrive in an already-open list.
    for (const toggle of await page.getByTestId("node-containers-toggle").all()) await toggle.click();
    await docker(manager!.dockerHost, ["run", "-d", "--network", "none", "--name", "seen-live", "busybox", "sleep", "600"]);
    const host = (await docker(manager!.dockerHost, ["inspect", "-f", "{{.Node.Name}}", "seen-live"])).stdout.trim();
    const row = card(host).locator('[data-testid="container"][data-container="seen-live"]');
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 15_000 }).toBe("running");
    expect(await row.textContent()).toContain("busybox");
    // Container monitoring's sample of it shows on its node.
    const usage = card(host).getByTestId("node-usage");
    await expect.poll(async () => Number(await usage.getAttribute("data-memory-bytes").catch(() => "0")), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await usage.textContent()).toMatch(/in use: \d+\.\d\d CPUs/);
    await shot("2-live-container");
    noReloadNorError();
  });

  it("lists a scheduling failure with its reason count", async ({ onTestFailed }) => {
    onTestFailed(() => shot("failed-scheduling"));
    await expect(
      docker(manager!.dockerHost, ["run", "-d", "--network", "none", "-e", "constraint:region==mars", "busybox", "true"]),
    ).rejects.toThrow(/region==mars|constraint/);
    const known = await waitFor({
      what: "/swarm/status did not list the failure",
      timeoutMs: 10_000,
      probe: async () => {
        const s = await status();
        return s.scheduling.recent.length > 0 ? s : undefined;
      },
    });
    const reason = known.scheduling.recent[0]!.reasons[0]!;
    // Both engines are in another region: both refused for the same reason.
    expect(reason.count).toBe(2);
    const recent = page.getByTestId("recent-failure").first().locator(`[data-testid="recent-failure-reason"][data-reason="${reason.code}"]`);
    await expect.poll(() => recent.getAttribute("data-count"), { timeout: 15_000 }).toBe("2");
    expect(await recent.textContent()).toContain("region==mars");
    const total = page.locator(`[data-testid="failure-reason"][data-reason="${reason.code}"] [data-testid="failure-reason-count"]`);
    expect(await total.textContent()).toBe(String(known.scheduling.byReason[reason.code]));
    expect(Number(await page.getByTestId("failure-total").textContent())).toBeGreaterThanOrEqual(1);
    await shot("3-scheduling-failure");
    noReloadNorError();
  });

  it("narrows the node list with the search box", async ({ onTestFailed }) => {
    onTestFailed(() => shot("failed-search"));
    const search = page.getByTestId("search");
    const shownNames = () => page.getByTestId("node").evaluateAll((els) => els.map((el) => el.getAttribute("data-node")));

    await search.fill("region=us");
    await expect.poll(shownNames).toEqual(["node-2"]);
    await search.fill("node-1");
    await expect.poll(shownNames).toEqual(["node-1"]);
    await shot("4-search");
    // A container's name finds the node it runs on.
    const host = (await docker(manager!.dockerHost, ["inspect", "-f", "{{.Node.Name}}", "seen-live"])).stdout.trim();
    await search.fill("seen-live");
    await expect.poll(shownNames).toEqual([host]);
    await search.fill("no-such-node-anywhere");
    await expect.poll(shownNames).toEqual([]);
    await expect.poll(() => page.getByTestId("no-match").count()).toBe(1);
    await search.fill("");
    await expect.poll(shownNames).toEqual(["node-1", "node-2"]);

    await page.getByTestId("group-by").selectOption("region");
    const groups = () => page.getByTestId("group").evaluateAll((els) => els.map((el) => el.getAttribute("data-group")));
    await expect.poll(groups).toEqual(["eu", "us"]);
    await page.getByTestId("group-by").selectOption("");
    noReloadNorError();
  });

  it("turns a killed engine unhealthy", async ({ onTestFailed }) => {
    onTestFailed(() => shot("failed-unhealthy"));
    const engine = cluster!.engines[1]!;
    await engine.kill();
    try {
      await expect.poll(() => card(engine.name).getAttribute("data-state"), { timeout: 30_000, interval: 250 }).toBe("unhealthy");
      expect(await card(engine.name).getByTestId("node-state").textContent()).toBe("unhealthy");
      expect(await card(cluster!.engines[0]!.name).getAttribute("data-state")).toBe("healthy");
      await expect.poll(() => page.getByTestId("summary-unhealthy").textContent()).toContain("1");
      await shot("5-unhealthy");
      noReloadNorError();
    } finally {
      await engine.start();
    }
  });
});
