/**
 * Address helpers with classic Swarm's rules: one `[from:to]` range per pattern (greedy, inclusive,
 * left as-is when the bounds are not integers) and `host:port` entries with bracketed IPv6 hosts.
 */
const RANGE = /\[(.+):(.+)\]/;

export function expandRange(pattern: string): string[] {
  const match = RANGE.exec(pattern);
  if (!match) return [pattern];
  const [whole, fromText = "", toText = ""] = match;
  if (!/^[-+]?\d+$/.test(fromText) || !/^[-+]?\d+$/.test(toText)) return [pattern];
  const from = Number.parseInt(fromText, 10);
  const to = Number.parseInt(toText, 10);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(pattern.replace(whole, String(i)));
  return out;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Splits `host:port`; throws Go's `net.SplitHostPort`-style messages. */
export function parseHostPort(entry: string): HostPort {
  let host: string;
  let portText: string;
  if (entry.startsWith("[")) {
    const end = entry.indexOf("]");
    if (end < 0) throw new Error(`address ${entry}: missing ']' in address`);
    host = entry.slice(1, end);
    if (entry[end + 1] !== ":") throw new Error(`address ${entry}: missing port in address`);
    portText = entry.slice(end + 2);
  } else {
    const colon = entry.lastIndexOf(":");
    if (colon < 0) throw new Error(`address ${entry}: missing port in address`);
    host = entry.slice(0, colon);
    if (host.includes(":")) throw new Error(`address ${entry}: too many colons in address`);
    portText = entry.slice(colon + 1);
  }
  if (!/^\d+$/.test(portText)) throw new Error(`address ${entry}: invalid port`);
  return { host, port: Number.parseInt(portText, 10) };
}

/** `host:port` with IPv6 hosts bracketed, as `swarm list` prints entries. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
