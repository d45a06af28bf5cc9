/**
 * The last-resort cleaner. Test runners do not give a dying test process time to clean up (vitest sends a
 * fork worker SIGTERM and SIGKILL 500 ms later; dockerd alone needs longer to stop), so the cleanup that must
 * survive our death runs in a separate, detached process.
 *
 * The reaper holds the read end of a pipe from us; the kernel closes the write end however we die, and then it
 * works through a manifest directory: one JSON file per live resource, written synchronously by
 * registerCleanup() and deleted when the resource is released normally. Newest entries are handled first, so
 * daemons stop before the directories they live in are removed.
 *
 * It only touches what the manifest names: processes by pid, checked against the start time recorded when we
 * spawned them (so a recycled pid is left alone), and for engine directories, the leftovers of those engines
 * (processes in their containers' cgroups or whose command line names the directory, their shim sockets, mounts).
 *
 * Plain JavaScript in a string because it runs as `node -e` and must not depend on a TypeScript loader.
 */

export type ReaperEntry =
  | {
      readonly kind: "process";
      readonly name: string;
      readonly pid: number;
      /** Field 22 of /proc/<pid>/stat when we spawned it. */
      readonly startTime: string;
      readonly graceMs: number;
    }
  | {
      readonly kind: "dir";
      readonly name: string;
      readonly path: string;
      /** For dockerd directories: where each engine keeps its containers, and its containerd socket. */
      readonly engines?: readonly { readonly dataRoot: string; readonly containerdAddress: string }[];
    };

export const REAPER_SOURCE = String.raw`
"use strict";
const fs = require("fs");
const path = require("path");
const cp = require("child_process");
const crypto = require("crypto");

const manifestDir = process.argv[1];
const parentPid = Number(process.argv[2]);
const cell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(cell, 0, 0, ms);
let reaping = false;

function procStat(pid) {
  try {
    const text = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0], startTime: rest[19] };
  } catch (err) {
    return null;
  }
}

function alive(pid, startTime) {
  const stat = procStat(pid);
  if (stat === null || stat.state === "Z" || stat.state === "X") return false;
  return startTime === undefined || stat.startTime === startTime;
}

function signal(pid, sig) {
  try { process.kill(pid, sig); } catch (err) { /* already gone */ }
}

function waitGone(targets, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (targets.every((t) => !alive(t.pid, t.startTime))) return true;
    if (Date.now() >= deadline) return false;
    sleep(50);
  }
}

function stopProcess(entry) {
  if (!alive(entry.pid, entry.startTime)) return;
  signal(entry.pid, "SIGTERM");
  if (waitGone([entry], entry.graceMs)) return;
  if (alive(entry.pid, entry.startTime)) signal(entry.pid, "SIGKILL");
  waitGone([entry], 5000);
}

function containerIds(dataRoot) {
  try {
    return fs.readdirSync(path.join(dataRoot, "containers")).filter((id) => /^[0-9a-f]{64}$/.test(id));
  } catch (err) {
    return [];
  }
}

function cgroupDirs(ids) {
  if (ids.length === 0) return [];
  const roots = ["/sys/fs/cgroup"];
  try {
    for (const name of fs.readdirSync("/sys/fs/cgroup")) roots.push(path.join("/sys/fs/cgroup", name));
  } catch (err) {
    return [];
  }
  const dirs = [];
  for (const root of roots) for (const id of ids) {
    const dir = path.join(root, "docker", id);
    if (fs.existsSync(dir)) dirs.push(dir);
  }
  return dirs;
}

function sweepEngines(entry) {
  const ids = [];
  for (const engine of entry.engines || []) ids.push(...containerIds(engine.dataRoot));
  const pids = new Set();
  for (const dir of cgroupDirs(ids)) {
    try {
      for (const line of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) {
        const pid = Number(line);
        if (Number.isInteger(pid) && pid > 0) pids.add(pid);
      }
    } catch (err) { /* cgroup already gone */ }
  }
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const args = fs.readFileSync("/proc/" + pid + "/cmdline", "utf8").split("\0");
      if (args.some((a) => a === entry.path || a.includes(entry.path + "/"))) pids.add(pid);
    } catch (err) { /* exited meanwhile */ }
  }
  const targets = [...pids].filter((pid) => alive(pid)).map((pid) => ({ pid }));
  for (const t of targets) signal(t.pid, "SIGKILL");
  waitGone(targets, 5000);
  for (const dir of cgroupDirs(ids)) {
    try { fs.rmdirSync(dir); } catch (err) { /* still busy or gone */ }
  }
  for (const engine of entry.engines || []) {
    for (const id of containerIds(engine.dataRoot)) {
      const name = crypto.createHash("sha256").update(engine.containerdAddress + "/moby/" + id).digest("hex");
      const socket = path.join("/run/containerd/s", name);
      try { if (fs.lstatSync(socket).isSocket()) fs.unlinkSync(socket); } catch (err) { /* not there */ }
    }
  }
}

function mountsUnder(dir) {
  let text = "";
  try { text = fs.readFileSync("/proc/self/mountinfo", "utf8"); } catch (err) { return []; }
  const found = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + "/")) found.push(mp);
  }
  return found.reverse().sort((a, b) => b.split("/").length - a.split("/").length);
}

function removeDir(dir) {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) break;
    for (const mp of mounts) {
      if (cp.spawnSync("umount", [mp]).status !== 0) cp.spawnSync("umount", ["-l", mp]);
    }
  }
  if (mountsUnder(dir).length === 0) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

function reap() {
  if (reaping) return;
  reaping = true;
  let files = [];
  try { files = fs.readdirSync(manifestDir).filter((f) => f.endsWith(".json")).sort().reverse(); } catch (err) { files = []; }
  for (const file of files) {
    try {
      const entry = JSON.parse(fs.readFileSync(path.join(manifestDir, file), "utf8"));
      if (entry.kind === "process") stopProcess(entry);
      else if (entry.kind === "dir") {
        if (entry.engines) sweepEngines(entry);
        removeDir(entry.path);
      }
    } catch (err) {
      process.stderr.write("swarm test reaper: " + file + ": " + (err && err.message) + "\n");
    }
  }
  fs.rmSync(manifestDir, { recursive: true, force: true });
  process.exit(0);
}

process.stdin.on("end", reap);
process.stdin.on("close", reap);
process.stdin.on("error", reap);
process.stdin.resume();
// Belt and braces: if the pipe somehow stays open, a changed parent still means ours is gone.
setInterval(() => { if (process.ppid !== parentPid) reap(); }, 1000);
`;
