/**
 * A soak: many clients at once, for a while, against a manager in front of real engines, each
 * client creating, starting, inspecting, reading the logs of, executing in and removing
 * containers, again and again. Afterwards:
 *
 *   - every answer is counted by operation and status; a 5xx must say why (the manager's own
 *     refusals: an engine busy, an engine too slow), and no request may go unanswered;
 *   - the manager's view and the engines' must agree: no container on an engine that the manager
 *     does not list, none listed that the engines lack;
 *   - the manager's descriptors must come back to what they were before, its RSS close to it.
 *
 * Needs root, dockerd and busybox-static, like the system tests; the manager runs from core/dist.
 *
 *   npm run soak [-- --engines 3 --clients 200 --seconds 60]
 */
import { readdir, readFile, readlink } from "node:fs/promises";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { docker, ensureBusyboxImage, startEngines, startManagerProcess, waitForHealthyNodes } from "@swarm/test-harness";

const { values } = parseArgs({
  options: {
    engines: { type: "string", default: "3" },
    clients: { type: "string", default: "200" },
    seconds: { type: "string", default: "60" },
  },
});
const ENGINES = Number(values.engines);
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);

type Outcome = { status: number; text: string; message: string };

const outcomes = new Map<string, Map<number, number>>();
const serverErrors = new Map<string, number>();
let unanswered = 0;

function record(operation: string, outcome: Outcome | undefined): void {
  if (!outcome) {
    unanswered++;
    return;
  }
  const byStatus = outcomes.get(operation) ?? new Map<number, number>();
  byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1);
  outcomes.set(operation, byStatus);
  if (outcome.status >= 500) {
    const key = `${operation} ${outcome.status}: ${outcome.message.replace(/[0-9a-f]{12,}/g, "<id>").slice(0, 160)}`;
    serverErrors.set(key, (serverErrors.get(key) ?? 0) + 1);
  }
}

async function descriptors(pid: number): Promise<{ sockets: number; pipes: number; other: number }> {
  const counts = { sockets: 0, pipes: 0, other: 0 };
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (target.startsWith("socket:")) counts.sockets++;
    else if (target.startsWith("pipe:")) counts.pipes++;
    else counts.other++;
  }
  return counts;
}

async function rssMiB(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

const cluster = await startEngines(ENGINES);
let manager: Awaited<ReturnType<typeof startManagerProcess>> | undefined;
try {
  await ensureBusyboxImage(cluster.engines);
  manager = await startManagerProcess({ discovery: `nodes://${cluster.engines.map((e) => e.host).join(",")}` });
  await waitForHealthyNodes(manager, ENGINES);
  const url = manager.url;
  const pid = manager.process.pid;
  const before = await descriptors(pid);
  const rssBefore = await rssMiB(pid);
  const agent = new Agent({ connections: CLIENTS, headersTimeout: 300_000, bodyTimeout: 300_000 });

  const call = async (operation: string, method: "GET" | "POST" | "DELETE", path: string, body?: object): Promise<Outcome | undefined> => {
    try {
      const response = await request(`${url}${path}`, {
        method,
        dispatcher: agent,
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.body.text();
      let message = "";
      if (response.statusCode >= 400) {
        try {
          message = String((JSON.parse(text) as { message?: unknown }).message ?? text);
        } catch {
          message = `not JSON: ${text.slice(0, 80)}`;
        }
      }
      const outcome = { status: response.statusCode, text, message };
      record(operation, outcome);
      return outcome;
    } catch (err) {
      record(operation, undefined);
      console.error(`${operation}: no answer: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };

  const deadline = Date.now() + SECONDS * 1000;
  let cycles = 0;
  const client = async () => {
    while (Date.now() < deadline) {
      const created = await call("create", "POST", "/v1.41/containers/create", {
        Image: "busybox",
        Cmd: ["sh", "-c", "echo soak; sleep 300"],
        HostConfig: { NetworkMode: "none" },
      });
      if (!created || created.status !== 201) continue;
      const id = (JSON.parse(created.text) as { Id: string }).Id;
      await call("start", "POST", `/v1.41/containers/${id}/start`);
      await call("inspect", "GET", `/v1.41/containers/${id}/json`);
      await call("logs", "GET", `/v1.41/containers/${id}/logs?stdout=1&stderr=1`);
      const exec = await call("exec create", "POST", `/v1.41/containers/${id}/exec`, { Cmd: ["true"], AttachStdout: true });
      if (exec?.status === 201) {
        const execId = (JSON.parse(exec.text) as { Id: string }).Id;
        await call("exec start", "POST", `/v1.41/exec/${execId}/start`, { Detach: true });
      }
      await call("rm", "DELETE", `/v1.41/containers/${id}?force=1`);
      cycles++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const elapsed = (Date.now() - started) / 1000;
  await agent.close();

  // The two views of the cluster, once the last removals have been seen.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const listed = new Set((await docker(manager.dockerHost, ["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter((l) => l !== ""));
  const onEngines = new Set<string>();
  for (const engine of cluster.engines) {
    for (const id of (await docker(engine, ["ps", "-aq", "--no-trunc"])).stdout.split("\n")) if (id !== "") onEngines.add(id);
  }
  const unlisted = [...onEngines].filter((id) => !listed.has(id));
  const phantom = [...listed].filter((id) => !onEngines.has(id));

  // Descriptors: idle connections to the engines close after their keep-alive.
  let after = await descriptors(pid);
  for (let waited = 0; waited < 45 && (after.sockets > before.sockets || after.pipes > before.pipes || after.other > before.other); waited++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    after = await descriptors(pid);
  }
  const rssAfter = await rssMiB(pid);

  console.log(`soak, ${new Date().toISOString()}: ${ENGINES} real engines, ${CLIENTS} clients, ${SECONDS} s`);
  console.log(`  ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}; Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`  ${cycles} create/start/inspect/logs/exec/rm cycles in ${elapsed.toFixed(1)} s (${(cycles / elapsed).toFixed(1)}/s)`);
  console.log("  answers by operation and status:");
  for (const [operation, byStatus] of outcomes) {
    console.log(`    ${operation.padEnd(12)} ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([status, count]) => `${status}×${count}`).join("  ")}`);
  }
  console.log(`  requests without an answer: ${unanswered}`);
  console.log(`  5xx answers: ${serverErrors.size === 0 ? "none" : ""}`);
  for (const [key, count] of serverErrors) console.log(`    ${count}× ${key}`);
  console.log(`  containers on the engines the manager does not list: ${unlisted.length}; listed but on no engine: ${phantom.length}`);
  console.log(`  manager descriptors before → after: sockets ${before.sockets} → ${after.sockets}, pipes ${before.pipes} → ${after.pipes}, other ${before.other} → ${after.other}`);
  console.log(`  manager RSS before → after: ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB`);
  const refusalsOnly = [...serverErrors.keys()].every((key) => / (503|504): engine /.test(key));
  const clean = unanswered === 0 && refusalsOnly && unlisted.length === 0 && phantom.length === 0 && after.pipes <= before.pipes && after.sockets <= before.sockets;
  console.log(clean ? "  OK" : "  FAILED");
  process.exitCode = clean ? 0 : 1;
} finally {
  await manager?.stop();
  await cluster.stopAll();
}
