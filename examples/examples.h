/*
 * examples.h - the example jobs built into the `spate` command.
 *
 * Each example is a builder that wires a dataflow on a fresh context using only
 * the public API (spate.h), so every example doubles as sample code for library
 * users. The engine-wide settings (workers, batch interval, bad-record policy)
 * are applied by the CLI through spate_conf before the builder runs; a builder
 * only sees its own options, declared in its entry of ex_table (examples.c).
 * One table feeds the option parser, `spate example --list` and the help text.
 */
#ifndef SPATE_EXAMPLES_H
#define SPATE_EXAMPLES_H

#include <spate.h>

#include <stdint.h>

/* Most options one example may declare (the parser's fixed-size value array). */
#define EX_MAX_OPTS 8

/* One example option, written `--name VALUE` (or `--name` alone for a flag). */
typedef struct ex_opt {
    const char *name;    /* without the leading "--" */
    const char *metavar; /* placeholder in help, e.g. "DIR"; NULL marks a flag */
    const char *def;     /* default value; NULL = unset unless given */
    const char *help;
} ex_opt;

struct ex_def;

/* The options of one run: values given on the command line, indexed like the
 * example's option table (NULL = not given; flags read "true" when given). */
typedef struct ex_args {
    const struct ex_def *def;
    const char *given[EX_MAX_OPTS];
} ex_args;

typedef int (*ex_build_fn)(spate_ctx *ctx, const ex_args *args);

typedef struct ex_def {
    const char *name;
    const char *summary;     /* one line for --list */
    const char *description; /* a paragraph for --help */
    ex_build_fn build;
    int64_t interval_ms; /* default batch interval */
    const ex_opt *opts;  /* terminated by {NULL} */
} ex_def;

/* Every example, terminated by an entry with name NULL. */
extern const ex_def ex_table[];

/* The example called name, or NULL. */
const ex_def *ex_find(const char *name);
/* Index of option name in def's table, or -1. */
int ex_opt_index(const ex_def *def, const char *name);
/* The value of option name: as given, else its default (NULL for an unset
 * option without default, or an absent flag). */
const char *ex_arg(const ex_args *args, const char *name);
/* 1 when flag name was given. */
int ex_flag(const ex_args *args, const char *name);

/* Errors a builder detects itself (not through a spate call): records a message
 * for ex_last_error and returns code. */
int ex_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last ex_error, or "" (ex_clear_error resets it). */
const char *ex_last_error(void);
void ex_clear_error(void);

/* mkdir -p: creates path and its missing parents (reports through ex_error). */
int ex_make_dirs(const char *path);
/* Writes "dir/name" into buf (reports through ex_error when it does not fit). */
int ex_join_path(char *buf, size_t size, const char *dir, const char *name);
/* The files source over a directory of CSV files with a header line, of the schema
 * "name TYPE, ..."; bounded (read what is there, then end) when once. */
int ex_open_csv_dir(spate_ctx *ctx, const char *schema_decl, const char *input, int once,
                    spate_stream **out);

/* The word-count dataflow shared by the wordcount examples: lines (one STRING
 * column) -> words -> per-word COUNT (running or per batch) -> print, and when
 * output_dir is not NULL also saved as CSV files output_dir/counts-TIME.csv. */
int ex_wordcount_pipeline(spate_stream *lines, int running, const char *output_dir);

/* Reports spate_metrics.late_records of ctx on stderr as "late records: N" at the
 * first micro-batch of s and whenever the count has grown since the last report,
 * through a foreachBatch output on s (the last line is the run's total). One
 * report per process: the state it keeps is static. */
int ex_report_late(spate_ctx *ctx, spate_stream *s);

int ex_telemetry(spate_ctx *ctx, const ex_args *args);
int ex_wordcount_socket(spate_ctx *ctx, const ex_args *args);
int ex_wordcount_dir(spate_ctx *ctx, const ex_args *args);
int ex_device_counts(spate_ctx *ctx, const ex_args *args);
int ex_ecommerce(spate_ctx *ctx, const ex_args *args);
int ex_fraud(spate_ctx *ctx, const ex_args *args);
int ex_fraud_state(spate_ctx *ctx, const ex_args *args);

#endif
