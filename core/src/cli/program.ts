import { Command } from "commander";
import { VERSION, GIT_COMMIT } from "../version.js";
import { manageCommand } from "./manage.js";
import { createCommand } from "./create.js";
import { listCommand } from "./list.js";
import { joinCommand } from "./join.js";
import { discoveryCommand } from "./discovery.js";
import { pluginsCommand } from "./plugins.js";
import { configCommand } from "./config.js";
import { completionCommand } from "./completion.js";
import { fatal, logFormatOf, logLevelOf, type GlobalOptions } from "./common.js";

/** `swarm [OPTIONS] COMMAND [arg...]`: classic Swarm's commands and global flags. */
export function buildProgram(): Command {
  const program = new Command("swarm")
    .usage("[OPTIONS] COMMAND [arg...]")
    .description(`A Docker-native clustering system\n\nVersion: ${VERSION} (${GIT_COMMIT})`)
    .version(`swarm version ${VERSION} (${GIT_COMMIT})`, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    // Not commander's .env(): it turns a flag on whenever the variable is set, and classic reads DEBUG=0 as off.
    .option("--debug", "debug mode [$DEBUG]", process.env.DEBUG !== undefined && process.env.DEBUG !== "" && process.env.DEBUG !== "0")
    .option("-l, --log-level <level>", 'Log level (options: debug, info, warn, error, fatal, panic) (default: "info")')
    .option("--log-format <format>", "log format: text (coloured on a terminal) or json (default: text on a terminal, json otherwise)")
    .option("--experimental", "enable experimental features")
    .addHelpCommand("help [command]", "Shows a list of commands or help for one command")
    .showHelpAfterError("Run 'swarm COMMAND --help' for more information on a command.")
    .hook("preAction", (thisCommand) => {
      try {
        logLevelOf(thisCommand.opts<GlobalOptions>());
        logFormatOf(thisCommand.opts<GlobalOptions>());
      } catch (err) {
        fatal(err);
      }
    });
  createCommand(program);
  listCommand(program);
  manageCommand(program);
  joinCommand(program);
  discoveryCommand(program);
  pluginsCommand(program);
  configCommand(program);
  completionCommand(program);
  program.addHelpText("after", "\nRun 'swarm COMMAND --help' for more information on a command.");
  return program;
}
