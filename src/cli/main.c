/*
 * main.c - the `spate` command: dispatch to subcommands.
 *
 * Subcommands live in one table so that dispatch, `spate --help` and
 * `spate help COMMAND` can never disagree, and so that adding a command (`run`
 * with the SQL work, later `sql`) is one row plus one function. Exit statuses are
 * fixed for scripts: 0 success, 1 the job failed, 2 the command line was wrong.
 * Each subcommand handles its own `--help`, so `spate X --help` and
 * `spate help X` print the same text.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

const cli_cmd cli_commands[] = {
    {"help", "[COMMAND | connectors]", "show help for a command or a topic",
     "Without an argument, lists the commands. With a command name, shows that\n"
     "command's usage and options. Topics:\n"
     "  connectors   every source and sink with its options\n",
     NULL, cli_cmd_help},
    {"version", "", "print the version of spate", "Prints \"spate VERSION\" and exits.\n", NULL,
     cli_cmd_version},
    {"example", "[--list | NAME [OPTIONS]]", "run a built-in example job",
     "Runs one of the example jobs built into spate until its input ends (--once) or\n"
     "it is stopped with Ctrl-C (SIGINT) or SIGTERM: the first signal stops it\n"
     "gracefully (in-flight data is processed, outputs flushed), a second one kills it.\n"
     "  --list          list the examples\n"
     "  NAME --help     show an example's own options\n",
     cli_example_more_help, cli_cmd_example},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const cli_cmd *cli_find(const char *name)
{
    for (const cli_cmd *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static void print_error(const char *fmt, va_list ap)
{
    fputs("spate: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(fmt, ap);
    va_end(ap);
    return CLI_FAILED;
}

int cli_usage_error(const char *hint_cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Run 'spate %s%s--help' for usage.\n", hint_cmd ? hint_cmd : "",
            hint_cmd ? " " : "");
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_general_help(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) {
        cli_print_general_help(stdout);
        return CLI_OK;
    }
    const cli_cmd *cmd = cli_find(argv[1]);
    if (!cmd) return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    int status = cmd->run(argc - 2, argv + 2);
    /* A failed write to stdout (a full disk, a closed pipe) must not pass as success. */
    if (fflush(stdout) != 0 && status == CLI_OK) return cli_fail("cannot write the output");
    return status;
}
