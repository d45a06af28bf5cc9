import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createPino, defaultLogFormat, wrapPino } from "./logger.js";

function capture(format: "text" | "json", tty = false) {
  const stream = new PassThrough();
  if (tty) Object.assign(stream, { isTTY: true });
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const logger = wrapPino(createPino("debug", stream, format));
  return { logger, output: () => text };
}

describe("logs", () => {
  it("are JSON lines with ISO times and level names for machines", () => {
    const { logger, output } = capture("json");
    logger.child({ component: "cluster" }).warn("Engine is slow", { addr: "127.0.0.1:2375" });
    const line = JSON.parse(output().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "warn", component: "cluster", addr: "127.0.0.1:2375", msg: "Engine is slow" });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("are one readable line each for people, coloured only on a terminal", () => {
    const plain = capture("text");
    plain.logger.info("Listening for HTTP", { addr: "tcp://127.0.0.1:4000" });
    expect(plain.output()).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: Listening for HTTP \{"addr":"tcp:\/\/127\.0\.0\.1:4000"\}\n$/);
    const coloured = capture("text", true);
    coloured.logger.error("Engine gone");
    // eslint-disable-next-line no-control-regex
    expect(coloured.output()).toMatch(/\u001b\[\d+m/);
  });

  it("are text on a terminal and JSON elsewhere unless told", () => {
    expect(defaultLogFormat(Object.assign(new PassThrough(), { isTTY: true }))).toBe("text");
    expect(defaultLogFormat(new PassThrough())).toBe("json");
  });
});
