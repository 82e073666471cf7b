/*
 * cli.h - what the files of the `spate` command share.
 *
 * The command is a table of subcommands (main.c); each one is a function taking
 * the arguments after its name and returning the process exit status, so a new
 * command (`run`, `sql`) is one function and one table row. Messages for the user
 * go through cli_fail / cli_usage_error so every error line starts with "spate: "
 * and every usage error ends with the same one-line hint.
 */
#ifndef SPATE_CLI_H
#define SPATE_CLI_H

#include <spate.h>

#include <stdio.h>

/* Exit statuses of the command. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef struct cli_cmd {
    const char *name;
    const char *args;    /* synopsis after the name, e.g. "[--list | NAME [OPTIONS]]" */
    const char *summary; /* one line for the command list */
    const char *help;    /* the body of `spate help NAME` */
    /* Appends help computed at run time (e.g. the list of examples). Optional. */
    void (*more_help)(FILE *out);
    int (*run)(int argc, char **argv); /* argv[0] is the first argument after the name */
} cli_cmd;

/* Every subcommand, terminated by an entry with name NULL. */
extern const cli_cmd cli_commands[];
const cli_cmd *cli_find(const char *name);

/* 1 for "--help" and "-h". */
int cli_is_help(const char *arg);
/* "spate: MESSAGE" on stderr; returns CLI_FAILED. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "spate: MESSAGE" and "Run 'spate HINT --help' for usage." on stderr (hint_cmd
 * NULL: 'spate --help'); returns CLI_USAGE. */
int cli_usage_error(const char *hint_cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void cli_print_general_help(FILE *out);
void cli_print_command_help(const cli_cmd *cmd, FILE *out);
/* `spate help connectors`. */
void cli_print_connectors(FILE *out);

/* Blocks SIGINT and SIGTERM in the calling thread. Call before spate_ctx_new so the
 * engine's threads inherit the mask and only the main thread takes the signals. */
void cli_block_stop_signals(void);
/* Starts the job on ctx and waits for its end: the first SIGINT/SIGTERM stops it
 * gracefully, a second one kills the process. Returns CLI_OK or CLI_FAILED (after
 * printing the job's error). */
int cli_run_job(spate_ctx *ctx);

int cli_cmd_help(int argc, char **argv);
int cli_cmd_version(int argc, char **argv);
int cli_cmd_example(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_sql(int argc, char **argv);
/* --format NAME of SQL results (auto, table, jsonl, csv) as sq_result_format; -1 if unknown. */
int cli_result_format(const char *name, int *fmt);
void cli_example_more_help(FILE *out);

#endif
