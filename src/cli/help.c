/*
 * help.c - `spate help`, `spate --help`, `spate COMMAND --help` and `spate version`.
 *
 * All help text comes from the command table (main.c) plus each command's
 * more_help hook for what is only known at run time, so the general help and the
 * per-command help are generated from the same rows that dispatch uses.
 */
#include "cli.h"

#include <string.h>

void cli_print_general_help(FILE *out)
{
    fprintf(out, "spate %s - a stream-processing engine\n\n", spate_version());
    fputs("Usage: spate COMMAND [ARGS...]\n\nCommands:\n", out);
    for (const cli_cmd *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fputs("\nTopics (spate help TOPIC):\n"
          "  connectors sources and sinks with their options\n\n"
          "Exit status: 0 success, 1 the job failed, 2 usage error.\n"
          "Run 'spate COMMAND --help' for a command's options.\n",
          out);
}

void cli_print_command_help(const cli_cmd *cmd, FILE *out)
{
    fprintf(out, "Usage: spate %s%s%s\n\n%s", cmd->name, cmd->args[0] ? " " : "", cmd->args,
            cmd->help);
    if (cmd->more_help) cmd->more_help(out);
}

int cli_cmd_help(int argc, char **argv)
{
    if (argc == 0) {
        cli_print_general_help(stdout);
        return CLI_OK;
    }
    if (argc > 1) return cli_usage_error("help", "help takes at most one argument");
    if (cli_is_help(argv[0])) {
        cli_print_command_help(cli_find("help"), stdout);
        return CLI_OK;
    }
    if (strcmp(argv[0], "connectors") == 0) {
        cli_print_connectors(stdout);
        return CLI_OK;
    }
    const cli_cmd *cmd = cli_find(argv[0]);
    if (!cmd) return cli_usage_error(NULL, "no help for '%s': not a command or topic", argv[0]);
    cli_print_command_help(cmd, stdout);
    return CLI_OK;
}

int cli_cmd_version(int argc, char **argv)
{
    if (argc == 1 && cli_is_help(argv[0])) {
        cli_print_command_help(cli_find("version"), stdout);
        return CLI_OK;
    }
    if (argc > 0) return cli_usage_error("version", "version takes no arguments");
    printf("spate %s\n", spate_version());
    return CLI_OK;
}
