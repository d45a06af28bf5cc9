import type { ContainerConfig } from "../extension-points/model.js";
import { errors } from "../errors/catalog.js";

/** The JSON a field takes, and the Go type dockerd names in its error. */
type Kind = "string" | "strings" | "labels" | "object" | "integer" | "bool" | "portBindings";

/**
 * The fields of a create body the manager reads itself (the rest goes to the engine as sent), with
 * the Go types dockerd decodes them into: a value of another JSON type is refused as dockerd's
 * decoder refuses it, a 400 naming the field, instead of failing somewhere in placement.
 */
const FIELDS: ReadonlyArray<readonly [path: readonly string[], kind: Kind, goType: string]> = [
  [["Image"], "string", "string"],
  [["Env"], "strings", "[]string"],
  [["Labels"], "labels", "map[string]string"],
  [["ExposedPorts"], "object", "nat.PortSet"],
  [["Memory"], "integer", "int64"],
  [["MemorySwap"], "integer", "int64"],
  [["CpuShares"], "integer", "int64"],
  [["HostConfig"], "object", "container.HostConfig"],
  [["HostConfig", "NetworkMode"], "string", "container.NetworkMode"],
  [["HostConfig", "PortBindings"], "portBindings", "nat.PortMap"],
  [["HostConfig", "VolumesFrom"], "strings", "[]string"],
  [["HostConfig", "Links"], "strings", "[]string"],
  [["HostConfig", "Memory"], "integer", "int64"],
  [["HostConfig", "CpuShares"], "integer", "int64"],
  [["HostConfig", "AutoRemove"], "bool", "bool"],
  [["NetworkingConfig"], "object", "network.NetworkingConfig"],
  [["NetworkingConfig", "EndpointsConfig"], "object", "map[string]*network.EndpointSettings"],
];

/** A create body checked for the types of the fields the manager reads. */
export function createBody(body: unknown): ContainerConfig {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw errors.EmptyCreateConfig();
  }
  for (const [path, kind, goType] of FIELDS) {
    let value: unknown = body;
    for (const key of path) value = isObject(value) ? value[key] : undefined;
    // JSON null leaves a Go field at its zero value, as an absent one does.
    if (value === undefined || value === null || fits(value, kind)) continue;
    throw errors.CreateFieldType({ jsonType: jsonType(value), field: path.join("."), goType });
  }
  return body as ContainerConfig;
}

function fits(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "bool":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "strings":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "object":
      return isObject(value);
    case "labels":
      return isObject(value) && Object.values(value).every((item) => typeof item === "string");
    case "portBindings":
      return isObject(value) && Object.values(value).every((item) => item === null || (Array.isArray(item) && item.every((b) => b === null || isObject(b))));
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** How Go's decoder names a JSON value's type in its errors. */
function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number" && !Number.isInteger(value)) return "number " + String(value);
  return typeof value === "object" ? "object" : typeof value;
}
