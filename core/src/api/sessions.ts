import type { FastifyInstance } from "fastify";
import type { Engine } from "../engines/engine.js";
import { errors } from "../errors/catalog.js";
import { registerHijackRoute } from "./hijack.js";

const WAIT_MS = 5_000;
/** A session outlives its build a while: BuildKit may reuse it for the build's follow-up calls. */
const KEEP_MS = 60 * 60_000;

/**
 * BuildKit sessions: the client opens `POST /session` (hijacked) before it sends the `/build` that
 * names the session, and both must reach the same engine. The session waits (up to 5 s, as
 * classic Swarm did) for the build to be scheduled, then is spliced to that build's engine.
 */
export class BuildSessions {
  private readonly engines = new Map<string, { engine: Engine; expires: number }>();
  private readonly waiting = new Map<string, (engine: Engine) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Called when a build naming `sessionId` has been placed on `engine`. */
  assign(sessionId: string, engine: Engine): void {
    this.prune();
    this.engines.set(sessionId, { engine, expires: this.now() + KEEP_MS });
    this.waiting.get(sessionId)?.(engine);
  }

  async engineFor(sessionId: string, waitMs = WAIT_MS): Promise<Engine> {
    const known = this.engines.get(sessionId);
    if (known) return known.engine;
    if (this.waiting.has(sessionId)) throw errors.SessionAlreadyAwaited({ session: sessionId });
    return new Promise<Engine>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(sessionId);
        reject(errors.BuildSessionTimeout());
      }, waitMs);
      this.waiting.set(sessionId, (engine) => {
        clearTimeout(timer);
        this.waiting.delete(sessionId);
        resolve(engine);
      });
    });
  }

  private prune(): void {
    const now = this.now();
    for (const [id, entry] of this.engines) if (entry.expires < now) this.engines.delete(id);
  }
}

export function sessionRoutes(app: FastifyInstance, sessions: BuildSessions): void {
  registerHijackRoute(app, {
    method: "POST",
    pattern: /^\/(session)$/,
    resolve: async (_ref, request) => {
      const header = request.headers["x-docker-expose-session-uuid"];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (!sessionId) throw errors.NoSessionId();
      return { engine: await sessions.engineFor(sessionId), path: "/session" };
    },
  });
}
