/*
 * plan.h - what the session (session.c), the planner (plan.c) and the result
 * printer (result.c) share: catalog objects, job resources and the planning
 * entry point.
 */
#ifndef SP_SQL_PLAN_H
#define SP_SQL_PLAN_H

#include "sql/expr.h"
#include "sql/sql.h"

typedef enum sq_obj_kind { SQ_OBJ_SOURCE = 1, SQ_OBJ_TABLE, SQ_OBJ_SINK, SQ_OBJ_VIEW } sq_obj_kind;

/* A catalog entry. Sources and tables: physical columns in schema (computed
 * columns and the watermark stay in stmt); sinks: the declared columns or NULL. */
typedef struct sq_obj {
    sq_obj_kind kind;
    char *name;
    const sq_stmt *stmt; /* the defining statement; its script lives as long as the session */
    spate_schema *schema;
    char *connector;
    char **kv; /* options but connector: key, value, ..., NULL */
    int nkv;
    struct sq_obj *next;
} sq_obj;

/* Session-level options that are not engine configuration keys. */
typedef struct sq_sql_opts {
    char time_zone[64];  /* table.local-time-zone */
    int64_t early_ms;    /* emit.early.interval: early firings of windows (0 = none) */
    int64_t lateness_ms; /* emit.allowed-lateness: late firings within it (0 = none) */
} sq_sql_opts;

/* Something a job's callbacks use, freed after the context. */
typedef struct sq_res {
    void *p;
    void (*free)(void *p);
    struct sq_res *next;
} sq_res;

/* Text of a non-NULL value as every result format writes it (result.c): numbers,
 * true/false, ISO-8601 UTC timestamps; strings as they are (no copy). buf holds
 * the text of non-strings (cap >= 40). */
spate_str sq_value_text(const spate_row *r, int col, spate_type t, char *buf, size_t cap);

/* The printer of one bare SELECT (result.c). */
typedef struct sq_printer sq_printer;
int sq_printer_new(sq_session_opts *o, const spate_schema *schema, int changelog, sq_printer **out);
spate_batch_fn sq_printer_fn(void);
/* LIMIT n: after n rows the printer ignores the rest and asks ctx to stop. */
void sq_printer_set_limit(sq_printer *p, int64_t limit);
void sq_printer_set_ctx(sq_printer *p, spate_ctx *ctx);
/* At the end of a bounded run: prints what the table format kept. */
void sq_printer_finish(sq_printer *p);
void sq_printer_free(void *p);

/* A live view (live.c): the result as a table redrawn in place with ANSI escapes
 * after each batch; a changelog is applied (+I/+U add a row, -U/-D remove the
 * equal row), so the screen shows the current result of an updating query. */
typedef struct sq_live sq_live;
int sq_live_new(FILE *out, const spate_schema *schema, int changelog, sq_live **out_live);
/* spate_batch_fn: ud is the sq_live. */
int sq_live_write(const spate_rows *rows, int64_t time_ms, void *ud);
/* The job ended: leaves the final table on the screen. */
void sq_live_finish(sq_live *l);
void sq_live_free(sq_live *l);

/* A source already opened by a plan (one sq_plan_env per context): later
 * references to it in the same job read the same stream instead of opening it again. */
typedef struct sq_src_use {
    const sq_obj *obj;
    int bounded;
    spate_stream *s; /* after computed columns and the watermark */
    int time_col, proc_col;
} sq_src_use;

/* What planning needs from the session. */
typedef struct sq_plan_env {
    sq_session_opts *opts;
    const sq_sql_opts *sql;
    sq_env env;
    sq_obj *objs;
    sq_res **res;          /* resources of the job, pushed here */
    FILE *explain;         /* plan description (NULL: none) */
    sq_printer **printers; /* bare SELECT printers, in statement order */
    int nprinters, capprinters;
    sq_src_use *srcs; /* sources opened so far (free() after planning) */
    int nsrcs, capsrcs;
} sq_plan_env;

/* Adds the dataflow of one INSERT or SELECT statement to ctx. Errors fill err. */
int sq_plan_statement(sq_plan_env *pe, spate_ctx *ctx, const sq_stmt *st, sq_error *err);

sq_obj *sq_catalog_find(sq_obj *objs, const char *name);
/* The closest catalog name to name (for hints), or NULL. */
const char *sq_catalog_suggest(sq_obj *objs, const char *name);

/* Pushes a resource; frees p at once and returns SPATE_ENOMEM when that fails. */
int sq_res_push(sq_res **list, void *p, void (*free_fn)(void *));

/* Case-insensitive name equality. */
int sq_name_eq(const char *a, const char *b);

/* Durations as SQL options write them: "10 s", "1 min", "500ms", "2h", a bare
 * number of milliseconds. */
int sq_parse_duration_ms(const char *text, int64_t *ms);

/* Text of an expression, for EXPLAIN (malloc'd; NULL when out of memory). */
char *sq_expr_text(const sq_expr *e);

#endif
