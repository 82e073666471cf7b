/*
 * main.c - the `spate` command: dispatch to subcommands.
 *
 * Subcommands live in one table so that dispatch, `spate --help` and
 * `spate help COMMAND` can never disagree, and so that adding a command is one
 * row plus one function. Exit statuses are
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
    {"run", "[--once] [--checkpoint-dir DIR] [--format FMT] SCRIPT.sql",
     "run a SQL script as one streaming job",
     "Runs the statements of SCRIPT.sql ('-' reads stdin) in order: CREATE SOURCE/TABLE/\n"
     "SINK/VIEW and SET shape the session, then every INSERT INTO and bare SELECT of\n"
     "the script run together as one job until the sources end or it is stopped with\n"
     "Ctrl-C (SIGINT) or SIGTERM (graceful: in-flight data is processed, a final\n"
     "checkpoint is taken); a second signal kills it. docs/sql.md describes the dialect.\n"
     "  --once                read the input available now, fire every window, commit\n"
     "                        and exit 0 (Spark's availableNow trigger)\n"
     "  --checkpoint-dir DIR  checkpoint here; resume from the newest checkpoint\n"
     "  --format FMT          bare SELECT results: table | jsonl | csv (default: table\n"
     "                        on a terminal, jsonl otherwise); updating results show\n"
     "                        the changelog op (+I, -U, +U) first\n"
     "Errors name the line and column, with a caret under the spot.\n",
     NULL, cli_cmd_run},
    {"sql", "[--format FMT] [--once]", "the interactive SQL shell",
     "An interactive shell: statements end with ';' and run as they are entered\n"
     "(CREATE, SET, SHOW, DESCRIBE, EXPLAIN at once; a SELECT runs until its input\n"
     "ends or Ctrl-C stops it - on a terminal as a table redrawn in place, an\n"
     "updating result applied; an INSERT INTO runs until its input ends or Ctrl-C).\n"
     "Ctrl-C at the prompt drops the statement being typed. Line editing and history\n"
     "(~/.spate_history) come from libedit. \\help lists the commands, \\format\n"
     "switches the result format, \\q quits. When stdin is not a terminal the\n"
     "statements are read from it without prompts; errors name <stdin>:LINE:COL and\n"
     "the exit status is 1 if any statement failed.\n"
     "  --format FMT   SELECT results: table | jsonl | csv\n"
     "  --once         SELECTs read the input available now and end\n",
     NULL, cli_cmd_sql},
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
