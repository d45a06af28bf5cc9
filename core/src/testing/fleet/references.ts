/**
 * Image references as dockerd reads them: `busybox` is `docker.io/library/busybox:latest`, shown in
 * its familiar form `busybox:latest`; a first component with a dot or a colon (or `localhost`) is a
 * registry host.
 */

export interface ImageReference {
  /** `busybox`, `acme/app`, `127.0.0.1:5000/app` */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
  /** `busybox:latest`, `127.0.0.1:5000/app@sha256:…` */
  readonly familiar: string;
  /** Registry host, undefined for Docker Hub. */
  readonly domain: string | undefined;
  /** The repository path on its registry (`library/busybox`), as pull progress names it. */
  readonly remotePath: string;
}

const HUB_DOMAINS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
const REPOSITORY_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export class ReferenceError extends Error {}

/** Parses `raw`; `defaultTag` is added when neither a tag nor a digest is given. */
export function parseReference(raw: string, defaultTag: string | undefined = "latest"): ImageReference {
  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError("invalid reference format");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError("invalid reference format");
  }
  let domain: string | undefined;
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      domain = first;
      rest = rest.slice(slash + 1);
    }
  }
  if (domain !== undefined && HUB_DOMAINS.has(domain)) domain = undefined;
  if (rest === "" || rest !== rest.toLowerCase()) {
    throw new ReferenceError(rest === "" ? "invalid reference format" : "invalid reference format: repository name must be lowercase");
  }
  if (!REPOSITORY_PATH.test(rest)) throw new ReferenceError("invalid reference format");
  if (domain === undefined && rest.startsWith("library/") && rest.split("/").length === 2) rest = rest.slice("library/".length);
  if (tag === undefined && digest === undefined) tag = defaultTag;
  const repository = domain === undefined ? rest : `${domain}/${rest}`;
  const remotePath = domain === undefined && !rest.includes("/") ? `library/${rest}` : rest;
  const familiar = digest !== undefined ? `${repository}@${digest}` : tag !== undefined ? `${repository}:${tag}` : repository;
  return { repository, tag, digest, familiar, domain, remotePath };
}

/** An image ID or a prefix of one, as dockerd accepts wherever a reference is expected. */
export function looksLikeId(raw: string): boolean {
  return /^(sha256:)?[0-9a-f]{6,64}$/.test(raw);
}
