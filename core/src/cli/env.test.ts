import type { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { advertiseOf } from "./common.js";
import { buildProgram } from "./program.js";
import { flagsToConfig } from "./manage.js";

/** Parses a command line with the real program, capturing what the named command's action would get. */
async function parsed(argv: string[], command: "manage" | "join"): Promise<{ flags: Record<string, unknown>; command: Command }> {
  const program = buildProgram().exitOverride();
  const target = program.commands.find((c) => c.name() === command)!;
  let captured: { flags: Record<string, unknown>; command: Command } | undefined;
  target.action((_args: string[], flags: Record<string, unknown>, cmd: Command) => {
    captured = { flags, command: cmd };
  });
  await program.parseAsync(["node", "swarm", command, ...argv]);
  return captured!;
}

describe("environment fallbacks", () => {
  afterEach(() => {
    delete process.env.SWARM_HOST;
    delete process.env.SWARM_ADVERTISE;
  });

  it("$SWARM_HOST gives manage's listen addresses, comma-separated, when -H is not given", async () => {
    process.env.SWARM_HOST = "tcp://127.0.0.1:4000,unix:///tmp/swarm.sock";
    const { flags } = await parsed(["nodes://10.0.0.1:2375"], "manage");
    expect(flagsToConfig(flags, {}).hosts).toEqual(["tcp://127.0.0.1:4000", "unix:///tmp/swarm.sock"]);
    const given = await parsed(["-H", "tcp://127.0.0.1:5000", "nodes://10.0.0.1:2375"], "manage");
    expect(flagsToConfig(given.flags, {}).hosts).toEqual(["tcp://127.0.0.1:5000"]);
  });

  it("$SWARM_ADVERTISE fills --advertise, and --addr on the command line still wins over it", async () => {
    process.env.SWARM_ADVERTISE = "10.0.0.9:2375";
    const fromEnv = await parsed(["nodes://10.0.0.1:2375"], "join");
    expect(advertiseOf(fromEnv.flags, fromEnv.command)).toBe("10.0.0.9:2375");
    const addr = await parsed(["--addr", "10.0.0.7:2375", "nodes://10.0.0.1:2375"], "join");
    expect(advertiseOf(addr.flags, addr.command)).toBe("10.0.0.7:2375");
    const flag = await parsed(["--advertise", "10.0.0.8:4000", "nodes://10.0.0.1:2375"], "manage");
    expect(flagsToConfig({ ...flag.flags, advertise: advertiseOf(flag.flags, flag.command) }, {}).advertise).toBe("10.0.0.8:4000");
  });

  it("names the variable in --help", () => {
    const manage = buildProgram().commands.find((c) => c.name() === "manage")!;
    const help = manage.helpInformation();
    expect(help).toMatch(/--host <address>[\s\S]*\(env: SWARM_HOST\)/);
    expect(help).toMatch(/--advertise <address>[\s\S]*\(env: SWARM_ADVERTISE\)/);
  });
});
