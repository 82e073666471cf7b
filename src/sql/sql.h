/*
 * sql.h - spate's SQL front end: a session holds the catalog (sources, tables,
 * sinks, views), the job options set with SET, and the queries of the job being
 * assembled; the planner turns each query into the same dataflow the C API
 * builds (spate_source_open, spate_map_batch, spate_key_by,
 * spate_window_aggregate, ...) on one spate_ctx.
 *
 * How a script runs (`spate run job.sql`, like a Flink SQL client file with a
 * STATEMENT SET): statements execute in order; DDL and SET change the session;
 * SHOW, DESCRIBE and EXPLAIN print at once; every INSERT INTO and bare SELECT of
 * the script joins one job, which starts after the last statement and runs until
 * its inputs end (--once) or it is stopped.
 */
#ifndef SP_SQL_SQL_H
#define SP_SQL_SQL_H

#include "sql/ast.h"

#include <spate.h>
#include <stdio.h>

typedef struct sq_session sq_session;

/* How bare SELECT results are printed. */
typedef enum sq_result_format {
    SQ_FMT_AUTO = 0, /* table on a terminal, jsonl otherwise */
    SQ_FMT_TABLE,
    SQ_FMT_JSONL,
    SQ_FMT_CSV
} sq_result_format;

typedef struct sq_session_opts {
    int once;                   /* read what is available, fire everything, end */
    const char *checkpoint_dir; /* resume from / write checkpoints here (NULL: none) */
    sq_result_format format;
    FILE *out;               /* results and SHOW/DESCRIBE/EXPLAIN (stdout) */
    FILE *err;               /* errors (stderr) */
    const char *source_name; /* file name for error messages */
    int live;                /* bare SELECT results as a table redrawn in place on a
                                terminal, applying the changelog (the shell) */
} sq_session_opts;

int sq_session_new(const sq_session_opts *o, sq_session **out);
void sq_session_free(sq_session *s);

/* Executes every statement of a script. DDL, SET, SHOW, DESCRIBE and EXPLAIN take
 * effect at once; INSERT and SELECT are added to the pending job. On an error the
 * message (with line, column and caret) is printed to the session's err stream
 * and the statement's code returned; statements before it stay executed. */
int sq_session_exec(sq_session *s, const char *text, size_t len);

/* 1 when INSERT or SELECT statements wait in the pending job. */
int sq_session_has_job(const sq_session *s);
/* Builds the pending job on a new context (restoring from the checkpoint
 * directory when it holds one) and returns it unstarted; the session keeps
 * ownership of what the job's callbacks use, so it must outlive the context.
 * The pending queries are cleared. */
int sq_session_build_job(sq_session *s, spate_ctx **out);
/* Called after the job ended: prints what bare SELECTs kept for the end (the
 * table format of a bounded run) and releases the job's resources. */
void sq_session_job_done(sq_session *s);

/* How the results of later bare SELECTs are printed (the shell's \format); format
 * and live as in sq_session_opts. */
void sq_session_set_format(sq_session *s, sq_result_format format, int live);

/* Options set with SET, as "key = value" lines (SET with no key). */
void sq_session_print_options(const sq_session *s, FILE *out);

#endif
