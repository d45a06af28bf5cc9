import type { Command } from "commander";

/** Every option spelling of a command, long and short. */
function flagsOf(command: Command): string[] {
  return command.options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => typeof flag === "string"));
}

/**
 * A bash completion script for the program as it is built, so it never lags behind a new command or
 * flag: the commands (and their aliases) after `swarm`, each command's flags after it, a config
 * file's names after `--config`, and the global flags everywhere.
 */
export function bashCompletion(program: Command): string {
  const commands = program.commands.filter((command) => command.name() !== "help");
  const names = commands.flatMap((command) => [command.name(), ...command.aliases()]);
  const cases = commands
    .map((command) => {
      const subcommands = command.commands.map((sub) => sub.name());
      const words = [...subcommands, ...flagsOf(command), "--help"].join(" ");
      return `    ${[command.name(), ...command.aliases()].join("|")}) words="${words}" ;;`;
    })
    .join("\n");
  return `# bash completion for swarm: source <(swarm completion bash), or install it as
# /etc/bash_completion.d/swarm
_swarm() {
  local current="\${COMP_WORDS[COMP_CWORD]}" previous="\${COMP_WORDS[COMP_CWORD-1]}"
  local global="${[...flagsOf(program), "--help"].join(" ")}"
  if [ "$previous" = "--config" ]; then
    COMPREPLY=($(compgen -f -- "$current"))
    return
  fi
  local command="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) command="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [ -z "$command" ]; then
    COMPREPLY=($(compgen -W "${names.join(" ")} help $global" -- "$current"))
    return
  fi
  local words=""
  case "$command" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words $global" -- "$current"))
}
complete -F _swarm swarm
`;
}

export function completionCommand(program: Command): Command {
  return program
    .command("completion")
    .argument("<shell>", "the shell: bash")
    .description("Print a shell completion script (source <(swarm completion bash))")
    .action((shell: string) => {
      if (shell !== "bash") {
        process.stderr.write(`completion for ${shell} is not available; only bash is\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(bashCompletion(program));
    });
}
