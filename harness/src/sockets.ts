import { execFile } from "node:child_process";

/**
 * Local ports of one process's ESTABLISHED TCP connections to `127.0.0.1:<remotePort>`, read with
 * `ss` (iproute2). Tests use it to prove that a stream torn down on one side frees its socket on
 * the other.
 */
export async function establishedPorts(pid: number, remotePort: number): Promise<Set<number>> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile("ss", ["-tnpH", "state", "established", "dst", `127.0.0.1:${remotePort}`], (err, stdout) =>
      err ? reject(new Error(`ss failed: ${err.message}`)) : resolve(stdout),
    ),
  );
  const ports = new Set<number>();
  for (const line of out.split("\n")) {
    if (!line.includes(`pid=${pid},`)) continue;
    const match = /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+/.exec(line);
    if (match) ports.add(Number(match[1]));
  }
  return ports;
}
