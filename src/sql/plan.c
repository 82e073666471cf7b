/*
 * plan.c - the SQL planner: a query's syntax tree -> calls of the C API on a
 * context, so a SQL job runs on exactly the dataflow a C program would build.
 *
 * A query is planned bottom-up into a relation (rel): a stream plus the scope
 * of columns SQL sees in it (qualifier, name, type, index in the stream), the
 * index of its changelog `op` column (-1 for append-only results), and its time
 * attributes. The translation, clause by clause:
 *   FROM source    spate_source_open (+ spate_map_batch for computed columns,
 *                  + spate_with_event_time for the WATERMARK)
 *   FROM table     bounded reference data: read once with the files source; in
 *                  a join it is loaded into memory and joined by lookup
 *                  (spate_flat_map over a read-only hash table)
 *   WHERE/HAVING   spate_filter_batch running a compiled predicate (expr.h)
 *   SELECT list    spate_map_batch running the compiled expressions
 *   GROUP BY       spate_map_batch (keys and aggregate arguments) + spate_key_by
 *                  + spate_aggregate_changelog (unbounded: +I/-U/+U rows) or
 *                  spate_window_aggregate (window TVFs TUMBLE/HOP/CUMULATE/SESSION
 *                  or the GROUP BY TUMBLE(ts, ...) shorthand: final rows, append)
 *   JOIN           lookup join (a CREATE TABLE side), spate_interval_join (a time
 *                  bound in ON), spate_window_join (both sides windowed)
 *   ROW_NUMBER     spate_window_top_n (PARTITION BY window_start, window_end) or
 *                  deduplication (ORDER BY a time attribute, rownum = 1) with
 *                  spate_map_with_state
 *   INSERT INTO    spate_sink_open; a bare SELECT: spate_sink_callback printing
 * Aggregates in the SELECT list and HAVING are collected (structurally equal
 * calls share one), group keys likewise, and the clauses are rewritten to refer
 * to the aggregation's output columns before binding; a column that is neither a
 * key nor inside an aggregate gets the SQL error it deserves.
 *
 * EXPLAIN prints one line per node added, in creation order: its id, operator,
 * inputs and what it computes.
 */
#include "sql/plan.h"

#include "connectors/connector.h"
#include "core/arena.h"
#include "core/error.h"
#include "runtime/runtime.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 64 };

typedef struct rel {
    spate_stream *s;
    sq_scope_col *cols;
    int ncols;
    int op_col;   /* changelog op column in s, -1: append-only */
    int time_col; /* event-time attribute (with a watermark) in s, -1: none */
    int proc_col; /* processing-time attribute, -1: none */
    /* A window table function not applied yet: s is its input, the last three
     * scope columns (window_start, window_end, window_time) have index -1. */
    int tvf;
    spate_window_spec w;
    int tvf_time;        /* the DESCRIPTOR column in s */
    const sq_obj *table; /* a CREATE TABLE not yet read (s NULL) */
    const char *qual;
} rel;

typedef struct planner {
    sq_plan_env *pe;
    spate_ctx *ctx;
    sq_error *err;
    sp_arena arena;
    int depth;
    int nsynth; /* synthetic names */
} planner;

/* ------------------------------------------------------------ utilities */

static void *palloc(planner *p, size_t n)
{
    void *m = sp_arena_alloc(&p->arena, n);
    if (m) memset(m, 0, n);
    return m;
}

static char *pstrdup(planner *p, const char *s)
{
    size_t n = strlen(s);
    char *d = sp_arena_dup(&p->arena, s, n + 1);
    return d;
}

static char *pfmt(planner *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *pfmt(planner *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return pstrdup(p, buf);
}

static int nomem(planner *p)
{
    return sq_fail(p->err, (sq_pos){0, 0, 0}, SPATE_ENOMEM, "out of memory");
}

/* An error from the engine (spate_last_error) at pos. */
static int engine_fail(planner *p, sq_pos pos, int rc)
{
    if (p->err->msg[0]) return rc;
    return sq_fail(p->err, pos, rc, "%s", spate_last_error());
}

static void hint(planner *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hint(planner *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->hint, sizeof p->err->hint, fmt, ap);
    va_end(ap);
}

static void explain(planner *p, const spate_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void explain(planner *p, const spate_stream *s, const char *fmt, ...)
{
    FILE *f = p->pe->explain;
    if (!f) return;
    if (s) fprintf(f, "#%d ", s->id);
    if (s)
        for (int i = 0; i < s->ninputs; i++)
            fprintf(f, "%s#%d", i ? ", " : "<- ", s->in[i]->id);
    fputs(s && s->ninputs ? "  " : "", f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

static char *text_of(planner *p, const sq_expr *e)
{
    char *t = sq_expr_text(e);
    char *r = pstrdup(p, t ? t : "?");
    free(t);
    return r;
}

/* Joins the scope's names for EXPLAIN. */
static char *names_text(planner *p, const spate_schema *s)
{
    char buf[512];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < spate_schema_count(s) && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                spate_schema_name(s, i));
    return pstrdup(p, buf);
}

static sq_expr *mk_expr(planner *p, sq_expr_kind k, sq_pos pos)
{
    sq_expr *e = palloc(p, sizeof *e);
    if (e) {
        e->kind = k;
        e->pos = pos;
    }
    return e;
}

static sq_expr *mk_col(planner *p, const char *qual, const char *name, sq_pos pos)
{
    sq_expr *e = mk_expr(p, SQ_COLUMN, pos);
    if (e) {
        e->qual = qual;
        e->name = name;
    }
    return e;
}

/* Structural equality of two expressions (names case-insensitive). */
static int expr_eq(const sq_expr *a, const sq_expr *b)
{
    if (!a || !b) return a == b;
    if (a->kind != b->kind || a->op != b->op || a->negated != b->negated || a->ival != b->ival ||
        a->dval != b->dval || a->distinct != b->distinct || a->star_arg != b->star_arg ||
        a->nargs != b->nargs || a->nwhens != b->nwhens || a->try_cast != b->try_cast)
        return 0;
    if ((a->str || b->str) && (!a->str || !b->str || strcmp(a->str, b->str) != 0)) return 0;
    if ((a->name || b->name) && (!a->name || !b->name || !sq_name_eq(a->name, b->name))) return 0;
    if (a->kind == SQ_COLUMN && a->qual && b->qual && !sq_name_eq(a->qual, b->qual)) return 0;
    if ((a->type_name || b->type_name) &&
        (!a->type_name || !b->type_name || strcmp(a->type_name, b->type_name) != 0))
        return 0;
    for (int i = 0; i < a->nargs; i++)
        if (!expr_eq(a->args[i], b->args[i])) return 0;
    for (int i = 0; i < a->nwhens; i++)
        if (!expr_eq(a->whens[i], b->whens[i]) || !expr_eq(a->thens[i], b->thens[i])) return 0;
    return expr_eq(a->operand, b->operand) && expr_eq(a->else_, b->else_) && !a->over && !b->over;
}

static sq_scope scope_of(const rel *r)
{
    /* Virtual window columns of a TVF (index -1) are not visible to expressions. */
    int n = r->ncols;
    if (r->tvf) n -= 3;
    return (sq_scope){r->cols, n};
}

static int bind(planner *p, const rel *r, const sq_expr *e, sq_bexpr **out)
{
    sq_scope sc = scope_of(r);
    int rc = sq_bind(e, &sc, &p->pe->env, out, p->err);
    if (rc && !p->err->msg[0]) return engine_fail(p, e->pos, rc);
    return rc;
}

/* Binds a reference to r's changelog op column, which the scope does not show. */
static int bind_op(planner *p, const rel *r, sq_pos pos, sq_bexpr **out)
{
    rel with_op = *r;
    sq_scope_col *cols = palloc(p, (size_t)(r->ncols + 1) * sizeof *cols);
    if (!cols) return nomem(p);
    memcpy(cols, r->cols, (size_t)r->ncols * sizeof *cols);
    cols[r->ncols] = (sq_scope_col){NULL, "$op", SPATE_STRING, r->op_col};
    with_op.cols = cols;
    with_op.ncols++;
    return bind(p, &with_op, mk_col(p, NULL, "$op", pos), out);
}

static int rel_alloc(planner *p, rel *r, int ncols)
{
    r->cols = palloc(p, (size_t)(ncols > 0 ? ncols : 1) * sizeof *r->cols);
    r->ncols = ncols;
    r->op_col = r->time_col = r->proc_col = -1;
    return r->cols ? 0 : nomem(p);
}

/* A scope over every column of stream s, qualified by qual. */
static int rel_from_stream(planner *p, spate_stream *s, const char *qual, rel *r)
{
    const spate_schema *sc = spate_stream_schema(s);
    *r = (rel){0};
    if (rel_alloc(p, r, spate_schema_count(sc))) return SPATE_ENOMEM;
    r->s = s;
    r->qual = qual;
    for (int i = 0; i < r->ncols; i++)
        r->cols[i] = (sq_scope_col){qual, spate_schema_name(sc, i), spate_schema_type(sc, i), i};
    return 0;
}

static int scope_find(const rel *r, const char *name)
{
    for (int i = 0; i < r->ncols; i++)
        if (r->cols[i].index >= 0 && sq_name_eq(r->cols[i].name, name)) return i;
    return -1;
}

/* ------------------------------------------------------------ programs */

/* Adds spate_map_batch over r->s computing exprs (n, bound) named names. */
static int add_map(planner *p, rel *r, sq_bexpr **exprs, const char **names, int n,
                   spate_stream **out, const char *what)
{
    sq_program *prog;
    int rc = sq_program_new(exprs, names, n, &p->pe->env, &prog);
    if (rc) return engine_fail(p, (sq_pos){0, 0, 0}, rc);
    rc = sq_res_push(p->pe->res, prog, (void (*)(void *))sq_program_free);
    if (rc) return nomem(p);
    rc = spate_map_batch(r->s, sq_program_schema(prog), sq_program_map, prog, out);
    if (rc) return engine_fail(p, (sq_pos){0, 0, 0}, rc);
    explain(p, *out, "Map %s: %s", what, names_text(p, sq_program_schema(prog)));
    return 0;
}

/* Keeps the rows of r where e is TRUE. */
static int add_filter(planner *p, rel *r, const sq_expr *e, const char *what)
{
    sq_bexpr *b;
    int rc = bind(p, r, e, &b);
    if (rc) return rc;
    if (sq_bexpr_type(b) != SPATE_BOOL) {
        sq_bexpr_free(b);
        return sq_fail(p->err, e->pos, SPATE_ETYPE, "%s needs a BOOLEAN condition, got %s", what,
                       spate_type_name(sq_bexpr_type(b)));
    }
    const char *name = "keep";
    sq_program *prog;
    rc = sq_program_new(&b, &name, 1, &p->pe->env, &prog);
    if (rc) return engine_fail(p, e->pos, rc);
    if (sq_res_push(p->pe->res, prog, (void (*)(void *))sq_program_free)) return nomem(p);
    spate_stream *out;
    rc = spate_filter_batch(r->s, sq_program_filter, prog, &out);
    if (rc) return engine_fail(p, e->pos, rc);
    explain(p, out, "Filter %s: %s", what, text_of(p, e));
    r->s = out;
    return 0;
}

/* ------------------------------------------------------------ sources */

static int kv_get(const sq_obj *o, const char *key, const char **val)
{
    for (int i = 0; i < o->nkv; i++)
        if (strcmp(o->kv[2 * i], key) == 0) {
            *val = o->kv[2 * i + 1];
            return 1;
        }
    return 0;
}

/* The options of o as given to the connector: `once` for a bounded read (a table,
 * or spate run --once), and a files path naming one file split into directory
 * and pattern. */
static const char **source_options(planner *p, const sq_obj *o, int bounded, sq_pos pos)
{
    const char **kv = palloc(p, (size_t)(2 * o->nkv + 7) * sizeof *kv);
    if (!kv) return NULL;
    int n = 0;
    const char *path = NULL;
    int files = strcmp(o->connector, "files") == 0;
    struct stat sb;
    int one_file = files && kv_get(o, "path", &path) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    for (int i = 0; i < o->nkv; i++) {
        const char *k = o->kv[2 * i];
        if (one_file && strcmp(k, "path") == 0) continue;
        if (bounded && files && strcmp(k, "once") == 0) continue;
        kv[n++] = k;
        kv[n++] = o->kv[2 * i + 1];
    }
    if (one_file) {
        char *d = pstrdup(p, path), *b = pstrdup(p, path);
        if (!d || !b) return NULL;
        kv[n++] = "path";
        kv[n++] = pstrdup(p, dirname(d));
        kv[n++] = "pattern";
        kv[n++] = pstrdup(p, basename(b));
    }
    if (bounded && files) {
        kv[n++] = "once";
        kv[n++] = "true";
    }
    if (bounded && strcmp(o->connector, "socket") == 0) {
        const char *v;
        if (!kv_get(o, "reconnect", &v)) {
            kv[n++] = "reconnect";
            kv[n++] = "false";
        }
    }
    (void)pos;
    kv[n] = NULL;
    return kv;
}

/* Computed columns of a CREATE SOURCE/TABLE: physical and computed columns in
 * declaration order (a fixed-schema connector's columns first, undeclared). */
static int add_computed(planner *p, const sq_obj *o, rel *r)
{
    const sq_stmt *st = o->stmt;
    int ncomp = 0;
    for (int i = 0; i < st->ncolumns; i++)
        ncomp += st->columns[i].computed != NULL;
    if (!ncomp) return 0;
    int declared = st->ncolumns - ncomp; /* 0 for a fixed schema */
    int n = (declared ? 0 : r->ncols) + st->ncolumns, k = 0, rc = 0, proc = -1;
    sq_bexpr **ex = palloc(p, (size_t)n * sizeof *ex);
    const char **names = palloc(p, (size_t)n * sizeof *names);
    if (!ex || !names) return nomem(p);
    for (int i = 0; !declared && i < r->ncols && !rc; i++) {
        rc = bind(p, r, mk_col(p, NULL, r->cols[i].name, st->pos), &ex[k]);
        names[k] = r->cols[i].name;
        k += !rc;
    }
    for (int i = 0; i < st->ncolumns && !rc; i++) {
        const sq_column_def *c = &st->columns[i];
        const sq_expr *e = c->computed ? c->computed : mk_col(p, NULL, c->name, c->pos);
        if (!e) return nomem(p);
        if (e->kind == SQ_FUNC && sq_name_eq(e->name, "PROCTIME") && e->nargs == 0) {
            sq_expr *now = mk_expr(p, SQ_FUNC, e->pos);
            if (!now) return nomem(p);
            now->name = "CURRENT_TIMESTAMP";
            e = now;
            proc = k;
        }
        rc = bind(p, r, e, &ex[k]);
        names[k] = c->name;
        k += !rc;
    }
    if (rc) {
        for (int i = 0; i < k; i++)
            sq_bexpr_free(ex[i]);
        return rc;
    }
    spate_stream *out;
    rc = add_map(p, r, ex, names, k, &out, "computed columns");
    if (rc) return rc;
    rc = rel_from_stream(p, out, r->qual, r);
    r->proc_col = proc;
    return rc;
}

/* The WATERMARK clause: `col` or `col - INTERVAL ...`. */
static int add_watermark(planner *p, const sq_obj *o, rel *r)
{
    const sq_stmt *st = o->stmt;
    if (!st->wm_column) return 0;
    int c = scope_find(r, st->wm_column);
    if (c < 0)
        return sq_fail(p->err, st->wm_pos, SPATE_ENOTFOUND,
                       "WATERMARK FOR '%s': no such column in '%s'", st->wm_column, o->name);
    spate_type t = r->cols[c].type;
    if (t != SPATE_TIMESTAMP && t != SPATE_INT64)
        return sq_fail(p->err, st->wm_pos, SPATE_ETYPE,
                       "WATERMARK FOR '%s': the column must be a TIMESTAMP (or BIGINT epoch "
                       "milliseconds), not %s",
                       st->wm_column, spate_type_name(t));
    const sq_expr *e = st->wm_expr;
    int64_t delay_us = 0;
    int ok = 0;
    if (e->kind == SQ_COLUMN && sq_name_eq(e->name, st->wm_column)) ok = 1;
    if (e->kind == SQ_BINARY && e->op == SQ_OP_SUB && e->args[0]->kind == SQ_COLUMN &&
        sq_name_eq(e->args[0]->name, st->wm_column) && e->args[1]->kind == SQ_LIT_INTERVAL &&
        e->args[1]->ival >= 0) {
        delay_us = e->args[1]->ival;
        ok = 1;
    }
    if (!ok) {
        sq_fail(p->err, e->pos, SPATE_EINVAL,
                "the watermark must be the column or the column minus an interval");
        hint(p, "WATERMARK FOR %s AS %s - INTERVAL '5' SECOND", st->wm_column, st->wm_column);
        return SPATE_EINVAL;
    }
    spate_event_time et = {.column = r->cols[c].name, .max_delay_ms = delay_us / 1000};
    spate_stream *out;
    int rc = spate_with_event_time(r->s, &et, &out);
    if (rc) return engine_fail(p, st->wm_pos, rc);
    explain(p, out, "WithEventTime %s, watermark %s", r->cols[c].name, text_of(p, e));
    int proc = r->proc_col;
    rc = rel_from_stream(p, out, r->qual, r);
    r->time_col = c;
    r->proc_col = proc;
    return rc;
}

/* Remembers that o is open in this plan as the stream of r. */
static int remember_source(planner *p, const sq_obj *o, int bounded, const rel *r)
{
    sq_plan_env *pe = p->pe;
    if (pe->nsrcs == pe->capsrcs) {
        int cap = pe->capsrcs ? 2 * pe->capsrcs : 8;
        sq_src_use *n = realloc(pe->srcs, (size_t)cap * sizeof *n);
        if (!n) return nomem(p);
        pe->srcs = n;
        pe->capsrcs = cap;
    }
    pe->srcs[pe->nsrcs++] = (sq_src_use){o, bounded, r->s, r->time_col, r->proc_col};
    return 0;
}

/* Every reference to a source in one job reads one source node: the stream fans
 * out to each query using it (two INSERTs from one source read it once). */
static int open_source(planner *p, const sq_obj *o, const char *qual, sq_pos pos, int bounded,
                       rel *r)
{
    for (int i = 0; i < p->pe->nsrcs; i++) {
        const sq_src_use *u = &p->pe->srcs[i];
        if (u->obj != o || u->bounded != bounded) continue;
        int rc = rel_from_stream(p, u->s, qual, r);
        r->time_col = u->time_col;
        r->proc_col = u->proc_col;
        return rc;
    }
    const char **kv = source_options(p, o, bounded || p->pe->opts->once, pos);
    if (!kv) return nomem(p);
    if (p->pe->opts->once && strcmp(o->connector, "generator") == 0) {
        const char *count = NULL;
        if (!kv_get(o, "count", &count) || strcmp(count, "-1") == 0)
            return sq_fail(p->err, pos, SPATE_EINVAL,
                           "source '%s' is an unbounded generator: --once needs count = 'N'",
                           o->name);
    }
    spate_stream *s;
    int rc = spate_source_open(p->ctx, o->connector, o->schema, kv, &s);
    if (rc) return engine_fail(p, pos, rc);
    char opts[256];
    size_t len = 0;
    opts[0] = 0;
    for (int i = 0; kv[i] && len < sizeof opts; i += 2)
        len += (size_t)snprintf(opts + len, sizeof opts - len, "%s%s=%s", i ? ", " : "", kv[i],
                                kv[i + 1]);
    explain(p, s, "Source %s: %s(%s)", o->name, o->connector, opts);
    rc = rel_from_stream(p, s, qual, r);
    if (!rc) rc = add_computed(p, o, r);
    if (!rc) rc = add_watermark(p, o, r);
    return rc ? rc : remember_source(p, o, bounded, r);
}

/* ------------------------------------------------------------ FROM */

static int plan_query(planner *p, const sq_select *q, rel *out);
static int plan_from(planner *p, const sq_from *f, rel *out);

static int requalify(planner *p, rel *r, const char *qual)
{
    if (!qual) return 0;
    r->qual = qual;
    for (int i = 0; i < r->ncols; i++)
        r->cols[i].qual = qual;
    (void)p;
    return 0;
}

static int from_name(planner *p, const sq_from *f, rel *out)
{
    const sq_obj *o = sq_catalog_find(p->pe->objs, f->name);
    const char *qual = f->alias ? f->alias : f->name;
    if (!o) {
        sq_fail(p->err, f->pos, SPATE_ENOTFOUND, "no source, table or view named '%s'", f->name);
        const char *h = sq_catalog_suggest(p->pe->objs, f->name);
        if (h)
            hint(p, "did you mean '%s'?", h);
        else
            hint(p, "create it first: CREATE SOURCE %s (...) WITH (...)", f->name);
        return SPATE_ENOTFOUND;
    }
    switch (o->kind) {
    case SQ_OBJ_SINK:
        return sq_fail(p->err, f->pos, SPATE_EINVAL,
                       "'%s' is a sink: it can be written (INSERT INTO), not read", f->name);
    case SQ_OBJ_VIEW: {
        int rc = plan_query(p, o->stmt->query, out);
        if (rc) return rc;
        return requalify(p, out, qual);
    }
    case SQ_OBJ_TABLE:
        /* Read lazily: a join loads it for lookups, anything else streams it. */
        *out = (rel){0};
        out->table = o;
        out->qual = qual;
        out->op_col = out->time_col = out->proc_col = -1;
        if (!o->schema)
            return sq_fail(p->err, f->pos, SPATE_EINVAL, "table '%s' has no columns", o->name);
        out->ncols = spate_schema_count(o->schema);
        out->cols = palloc(p, (size_t)out->ncols * sizeof *out->cols);
        if (!out->cols) return nomem(p);
        for (int i = 0; i < out->ncols; i++)
            out->cols[i] = (sq_scope_col){qual, spate_schema_name(o->schema, i),
                                          spate_schema_type(o->schema, i), i};
        return 0;
    case SQ_OBJ_SOURCE:
        return open_source(p, o, qual, f->pos, 0, out);
    }
    return SPATE_EINVAL;
}

/* A CREATE TABLE used as a stream: read once. */
static int materialize(planner *p, rel *r, sq_pos pos)
{
    if (!r->table) return 0;
    const sq_obj *o = r->table;
    return open_source(p, o, r->qual, pos, 1, r);
}

static int interval_arg(planner *p, const sq_expr *e, const char *fn, const char *what, int64_t *ms)
{
    if (!e || e->kind != SQ_LIT_INTERVAL || e->ival <= 0 || e->ival % 1000) {
        sq_fail(p->err, e ? e->pos : (sq_pos){0, 0, 0}, SPATE_EINVAL,
                "%s: the %s must be a positive INTERVAL of whole milliseconds", fn, what);
        hint(p, "e.g. INTERVAL '10' MINUTES");
        return SPATE_EINVAL;
    }
    *ms = e->ival / 1000;
    return 0;
}

/* TUMBLE/HOP/CUMULATE/SESSION arguments after the time column, into w. */
static int window_spec(planner *p, const sq_expr *call, int first, spate_window_spec *w)
{
    const char *fn = call->name;
    const sq_expr *const *a = (const sq_expr *const *)call->args + first;
    int n = call->nargs - first, rc;
    *w = (spate_window_spec){0};
    if (sq_name_eq(fn, "TUMBLE")) {
        if (n < 1 || n > 2) goto arity;
        w->kind = SPATE_WINDOW_TUMBLING;
        rc = interval_arg(p, a[0], fn, "size", &w->size_ms);
        if (!rc && n == 2) rc = interval_arg(p, a[1], fn, "offset", &w->offset_ms);
        return rc;
    }
    if (sq_name_eq(fn, "HOP") || sq_name_eq(fn, "CUMULATE")) {
        if (n < 2 || n > 3) goto arity;
        int hop = sq_name_eq(fn, "HOP");
        w->kind = hop ? SPATE_WINDOW_SLIDING : SPATE_WINDOW_CUMULATE;
        rc = interval_arg(p, a[0], fn, hop ? "slide" : "step", &w->slide_ms);
        if (!rc) rc = interval_arg(p, a[1], fn, "size", &w->size_ms);
        if (!rc && n == 3) rc = interval_arg(p, a[2], fn, "offset", &w->offset_ms);
        if (!rc && w->size_ms % w->slide_ms)
            return sq_fail(p->err, a[1]->pos, SPATE_EINVAL,
                           "%s: the size must be a multiple of the %s", fn, hop ? "slide" : "step");
        return rc;
    }
    if (sq_name_eq(fn, "SESSION")) {
        if (n != 1) goto arity;
        w->kind = SPATE_WINDOW_SESSION;
        return interval_arg(p, a[0], fn, "gap", &w->gap_ms);
    }
    return sq_fail(p->err, call->pos, SPATE_ENOTFOUND,
                   "unknown window function '%s': TUMBLE, HOP, CUMULATE or SESSION", fn);
arity:
    sq_fail(p->err, call->pos, SPATE_EINVAL, "%s: wrong number of arguments", fn);
    hint(p, "TUMBLE(t, DESCRIPTOR(ts), size), HOP(t, DESCRIPTOR(ts), slide, size), "
            "CUMULATE(t, DESCRIPTOR(ts), step, size), SESSION(t, DESCRIPTOR(ts), gap)");
    return SPATE_EINVAL;
}

/* The time attribute column c of r may drive windows. */
static int check_time_attr(planner *p, const rel *r, int c, sq_pos pos, spate_window_spec *w)
{
    if (c == r->time_col) return 0;
    if (c == r->proc_col) {
        w->processing_time = 1;
        return 0;
    }
    sq_fail(p->err, pos, SPATE_EINVAL, "window on '%s' without a watermark", r->cols[c].name);
    if (r->cols[c].type == SPATE_TIMESTAMP)
        hint(p,
             "declare WATERMARK FOR %s AS %s - INTERVAL '5' SECOND in the source, or use a "
             "PROCTIME() column",
             r->cols[c].name, r->cols[c].name);
    else
        hint(p, "windows need a TIMESTAMP time attribute with a WATERMARK");
    return SPATE_EINVAL;
}

static int from_tvf(planner *p, const sq_from *f, rel *out)
{
    const sq_expr *call = f->tvf;
    if (call->kind != SQ_FUNC || call->nargs < 3 || call->args[0]->kind != SQ_TABLE_ARG ||
        call->args[1]->kind != SQ_DESCRIPTOR) {
        sq_fail(p->err, call->pos, SPATE_EINVAL,
                "a window table function takes TABLE name, DESCRIPTOR(time column) and intervals");
        hint(p, "TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' MINUTES))");
        return SPATE_EINVAL;
    }
    sq_from inner = {.kind = SQ_FROM_TABLE, .pos = call->args[0]->pos, .name = call->args[0]->name};
    int rc = from_name(p, &inner, out);
    if (!rc) rc = materialize(p, out, inner.pos);
    if (rc) return rc;
    if (out->tvf || out->op_col >= 0)
        return sq_fail(p->err, call->args[0]->pos, SPATE_EINVAL,
                       "%s: the table must be an append-only stream", call->name);
    int c = scope_find(out, call->args[1]->name);
    if (c < 0) {
        sq_fail(p->err, call->args[1]->pos, SPATE_ENOTFOUND, "DESCRIPTOR(%s): no such column",
                call->args[1]->name);
        return SPATE_ENOTFOUND;
    }
    spate_window_spec w;
    rc = window_spec(p, call, 2, &w);
    if (!rc) rc = check_time_attr(p, out, c, call->args[1]->pos, &w);
    if (rc) return rc;
    const char *qual = f->alias ? f->alias : out->qual;
    sq_scope_col *cols = palloc(p, (size_t)(out->ncols + 3) * sizeof *cols);
    if (!cols) return nomem(p);
    memcpy(cols, out->cols, (size_t)out->ncols * sizeof *cols);
    static const char *const wnames[] = {"window_start", "window_end", "window_time"};
    for (int i = 0; i < 3; i++)
        cols[out->ncols + i] = (sq_scope_col){qual, wnames[i], SPATE_TIMESTAMP, -1};
    out->cols = cols;
    out->ncols += 3;
    out->tvf = 1;
    out->w = w;
    out->tvf_time = c;
    requalify(p, out, qual);
    return 0;
}

static int plan_join(planner *p, const sq_from *f, rel *out);

static int plan_from(planner *p, const sq_from *f, rel *out)
{
    if (++p->depth > MAX_DEPTH)
        return sq_fail(p->err, f->pos, SPATE_EINVAL, "query nested too deeply");
    int rc;
    switch (f->kind) {
    case SQ_FROM_TABLE:
        rc = from_name(p, f, out);
        break;
    case SQ_FROM_SUBQUERY:
        rc = plan_query(p, f->subquery, out);
        if (!rc) rc = requalify(p, out, f->alias);
        break;
    case SQ_FROM_TVF:
        rc = from_tvf(p, f, out);
        break;
    case SQ_FROM_JOIN:
        rc = plan_join(p, f, out);
        break;
    default:
        rc = sq_fail(p->err, f->pos, SPATE_EINVAL, "unsupported FROM item");
    }
    p->depth--;
    return rc;
}

/* ------------------------------------------------------------ joins */

/* Conjuncts of an AND tree. */
static int conjuncts(planner *p, const sq_expr *e, const sq_expr ***list, int *n)
{
    if (!e) return 0;
    if (e->kind == SQ_BINARY && e->op == SQ_OP_AND)
        return conjuncts(p, e->args[0], list, n) || conjuncts(p, e->args[1], list, n);
    const sq_expr **l = palloc(p, (size_t)(*n + 1) * sizeof *l);
    if (!l) return nomem(p);
    if (*n) memcpy(l, *list, (size_t)*n * sizeof *l);
    l[(*n)++] = e;
    *list = l;
    return 0;
}

/* Which side a column reference resolves to: 0 left, 1 right, -1 neither or both. */
static int col_side(const rel *l, const rel *r, const sq_expr *e, int *col)
{
    if (e->kind != SQ_COLUMN) return -1;
    int found = -1;
    const rel *sides[2] = {l, r};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sides[s]->ncols; i++) {
            const sq_scope_col *c = &sides[s]->cols[i];
            if (!sq_name_eq(c->name, e->name)) continue;
            if (e->qual && (!c->qual || !sq_name_eq(c->qual, e->qual))) continue;
            if (found >= 0) return -1;
            found = s;
            *col = i;
        }
    return found;
}

/* t or t +/- INTERVAL: side, column and offset in microseconds. */
static int time_term(const rel *l, const rel *r, const sq_expr *e, int *side, int *col,
                     int64_t *off)
{
    *off = 0;
    if (e->kind == SQ_BINARY && (e->op == SQ_OP_ADD || e->op == SQ_OP_SUB) &&
        e->args[1]->kind == SQ_LIT_INTERVAL) {
        *off = e->op == SQ_OP_ADD ? e->args[1]->ival : -e->args[1]->ival;
        e = e->args[0];
    }
    *side = col_side(l, r, e, col);
    return *side >= 0;
}

typedef struct join_info {
    int nkeys;
    int lkey[16], rkey[16];
    int has_bound;
    int64_t lower_us, upper_us; /* r.t - l.t in [lower, upper] */
    int ltime, rtime;
    int win_start, win_end; /* window equalities seen */
    const sq_expr **rest;
    int nrest;
} join_info;

/* One conjunct `a op b` between times of both sides: tightens the bounds. */
static int time_bound(const rel *l, const rel *r, const sq_expr *a, sq_op op, const sq_expr *b,
                      join_info *ji)
{
    int sa, ca, sb, cb;
    int64_t oa, ob;
    if (!time_term(l, r, a, &sa, &ca, &oa) || !time_term(l, r, b, &sb, &cb, &ob) || sa == sb)
        return 0;
    if (sa == 1) { /* flip so that a is the left side */
        const sq_expr *t = a;
        a = b, b = t;
        int ts = sa;
        sa = sb, sb = ts;
        int tc = ca;
        ca = cb, cb = tc;
        int64_t to = oa;
        oa = ob, ob = to;
        op = op == SQ_OP_LT   ? SQ_OP_GT
             : op == SQ_OP_LE ? SQ_OP_GE
             : op == SQ_OP_GT ? SQ_OP_LT
             : op == SQ_OP_GE ? SQ_OP_LE
                              : op;
    }
    const sq_scope_col *lc = &l->cols[ca], *rc = &r->cols[cb];
    if (lc->type != SPATE_TIMESTAMP || rc->type != SPATE_TIMESTAMP) return 0;
    if (ji->has_bound && (ji->ltime != ca || ji->rtime != cb)) return 0;
    /* l + oa OP r + ob  <=>  r - l  OP'  oa - ob */
    int64_t d = oa - ob;
    switch (op) {
    case SQ_OP_GE:
        ji->upper_us = ji->has_bound ? (d < ji->upper_us ? d : ji->upper_us) : d;
        break;
    case SQ_OP_GT:
        d -= 1000;
        ji->upper_us = ji->has_bound ? (d < ji->upper_us ? d : ji->upper_us) : d;
        break;
    case SQ_OP_LE:
        ji->lower_us = d > ji->lower_us || !ji->has_bound ? d : ji->lower_us;
        break;
    case SQ_OP_LT:
        d += 1000;
        ji->lower_us = d > ji->lower_us || !ji->has_bound ? d : ji->lower_us;
        break;
    default:
        return 0;
    }
    if (!ji->has_bound) {
        /* the other bound is open until a second conjunct closes it */
        if (op == SQ_OP_GE || op == SQ_OP_GT)
            ji->lower_us = INT64_MIN;
        else
            ji->upper_us = INT64_MAX;
    }
    ji->has_bound = 1;
    ji->ltime = ca;
    ji->rtime = cb;
    return 1;
}

static int analyze_on(planner *p, const rel *l, const rel *r, const sq_expr *on, join_info *ji)
{
    const sq_expr **cs = NULL;
    int n = 0;
    if (conjuncts(p, on, &cs, &n)) return SPATE_ENOMEM;
    *ji = (join_info){.ltime = -1, .rtime = -1, .win_start = 0, .win_end = 0};
    ji->rest = palloc(p, (size_t)(n + 1) * sizeof *ji->rest);
    if (!ji->rest) return nomem(p);
    for (int i = 0; i < n; i++) {
        const sq_expr *e = cs[i];
        int ca, cb;
        if (e->kind == SQ_BINARY && e->op == SQ_OP_EQ) {
            int sa = col_side(l, r, e->args[0], &ca), sb = col_side(l, r, e->args[1], &cb);
            if (sa >= 0 && sb >= 0 && sa != sb) {
                if (sa == 1) {
                    int t = ca;
                    ca = cb, cb = t;
                }
                const sq_scope_col *lc = &l->cols[ca], *rc = &r->cols[cb];
                if (lc->index < 0 && rc->index < 0 && sq_name_eq(lc->name, rc->name)) {
                    if (sq_name_eq(lc->name, "window_start"))
                        ji->win_start = 1;
                    else if (sq_name_eq(lc->name, "window_end"))
                        ji->win_end = 1;
                    else
                        ji->rest[ji->nrest++] = e;
                    continue;
                }
                if (lc->index >= 0 && rc->index >= 0 && ji->nkeys < 16) {
                    ji->lkey[ji->nkeys] = ca;
                    ji->rkey[ji->nkeys++] = cb;
                    continue;
                }
            }
        }
        if (e->kind == SQ_BETWEEN && !e->negated &&
            time_bound(l, r, e->args[0], SQ_OP_GE, e->args[1], ji) &&
            time_bound(l, r, e->args[0], SQ_OP_LE, e->args[2], ji))
            continue;
        if (e->kind == SQ_BINARY && e->op >= SQ_OP_LT && e->op <= SQ_OP_GE &&
            time_bound(l, r, e->args[0], e->op, e->args[1], ji))
            continue;
        ji->rest[ji->nrest++] = e;
    }
    return 0;
}

/* ---- lookup join against a bounded table, loaded into memory */

typedef struct lk_val {
    int64_t i;
    double d;
    char *s;
    size_t len;
    int null;
} lk_val;

typedef struct lookup {
    int ncols;
    spate_type *types;
    size_t nrows, caprows;
    lk_val *vals; /* nrows * ncols */
    int nkeys;
    int tkey[16];           /* table key columns */
    int skey[16];           /* stream key columns (in the stream's schema) */
    int stream_cols;        /* columns of the stream, copied first */
    spate_join_kind kind;   /* INNER or LEFT */
    uint32_t *heads, *next; /* hash chains: heads[h] = row + 1 */
    uint32_t nbuckets;
} lookup;

static void lookup_free(void *arg)
{
    lookup *lk = arg;
    if (!lk) return;
    for (size_t i = 0; i < lk->nrows * (size_t)lk->ncols; i++)
        free(lk->vals[i].s);
    free(lk->vals);
    free(lk->types);
    free(lk->heads);
    free(lk->next);
    free(lk);
}

static int is_intlike(spate_type t)
{
    return t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_TIMESTAMP || t == SPATE_BOOL;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t lk_hash_val(spate_type t, const lk_val *v)
{
    if (v->null) return 0x51ed;
    if (is_intlike(t)) return (uint64_t)v->i * 0x9e3779b97f4a7c15ULL;
    if (t == SPATE_FLOAT64) {
        uint64_t b;
        double d = v->d == 0 ? 0 : v->d;
        memcpy(&b, &d, sizeof b);
        return b * 0x9e3779b97f4a7c15ULL;
    }
    return hash_bytes(v->s ? v->s : "", v->len);
}

static int lk_val_eq(spate_type t, const lk_val *a, const lk_val *b)
{
    if (a->null || b->null) return 0; /* NULL never joins */
    if (is_intlike(t)) return a->i == b->i;
    if (t == SPATE_FLOAT64) return a->d == b->d;
    return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

static int lk_build_index(lookup *lk)
{
    uint32_t nb = 16;
    while (nb < 2 * lk->nrows + 1 && nb < (1u << 30))
        nb <<= 1;
    lk->nbuckets = nb;
    lk->heads = calloc(nb, sizeof *lk->heads);
    lk->next = calloc(lk->nrows + 1, sizeof *lk->next);
    if (!lk->heads || !lk->next) return SPATE_ENOMEM;
    for (size_t r = 0; r < lk->nrows; r++) {
        uint64_t h = 0;
        for (int k = 0; k < lk->nkeys; k++) {
            int c = lk->tkey[k];
            h = mix(h, lk_hash_val(lk->types[c], &lk->vals[r * (size_t)lk->ncols + (size_t)c]));
        }
        uint32_t b = (uint32_t)(h & (nb - 1));
        lk->next[r] = lk->heads[b];
        lk->heads[b] = (uint32_t)r + 1;
    }
    return 0;
}

/* The callback sink of the loading job: copies every row. */
static int lk_collect(const spate_rows *rows, int64_t time_ms, void *ud)
{
    lookup *lk = ud;
    size_t n = spate_rows_count(rows);
    if (lk->nrows + n > lk->caprows) {
        size_t cap = lk->caprows ? lk->caprows : 256;
        while (cap < lk->nrows + n)
            cap *= 2;
        lk_val *v = realloc(lk->vals, cap * (size_t)lk->ncols * sizeof *v);
        if (!v) return SPATE_ENOMEM;
        lk->vals = v;
        lk->caprows = cap;
    }
    for (size_t i = 0; i < n; i++) {
        spate_row row;
        spate_rows_get(rows, i, &row);
        lk_val *dst = &lk->vals[lk->nrows * (size_t)lk->ncols];
        for (int c = 0; c < lk->ncols; c++) {
            lk_val *v = &dst[c];
            *v = (lk_val){0};
            v->null = spate_row_is_null(&row, c);
            if (v->null) continue;
            spate_type t = lk->types[c];
            if (t == SPATE_FLOAT64)
                v->d = spate_row_double(&row, c);
            else if (t == SPATE_STRING || t == SPATE_BYTES) {
                spate_str s = spate_row_str(&row, c);
                v->s = malloc(s.len + 1);
                if (!v->s) {
                    for (int k = 0; k < c; k++)
                        free(dst[k].s);
                    return SPATE_ENOMEM;
                }
                if (s.len) memcpy(v->s, s.ptr, s.len);
                v->s[s.len] = 0;
                v->len = s.len;
            } else
                v->i = spate_row_int(&row, c);
        }
        lk->nrows++;
    }
    (void)time_ms;
    return 0;
}

/* Reads table o completely with a one-worker job of its own. */
static int load_table(planner *p, const sq_obj *o, sq_pos pos, lookup *lk)
{
    spate_conf *conf = spate_conf_new();
    spate_ctx *ctx = NULL;
    if (!conf) return nomem(p);
    int rc = spate_conf_set(conf, "workers", "1");
    if (!rc) rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    if (rc) return engine_fail(p, pos, rc);
    /* The loading job is a plan of its own: its own context, list of opened
     * sources and no EXPLAIN; resources still go to the job's list. */
    sq_plan_env lpe = *p->pe;
    lpe.explain = NULL;
    lpe.srcs = NULL;
    lpe.nsrcs = lpe.capsrcs = 0;
    planner lp = {.pe = &lpe, .ctx = ctx, .err = p->err};
    rel r;
    rc = open_source(&lp, o, o->name, pos, 1, &r);
    free(lpe.srcs);
    sp_arena_free(&lp.arena);
    if (!rc) rc = spate_sink_callback(r.s, lk_collect, lk);
    if (!rc) rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, -1);
    if (rc) {
        if (!p->err->msg[0])
            sq_fail(p->err, pos, rc, "cannot read table '%s': %s", o->name,
                    spate_ctx_error(ctx)[0] ? spate_ctx_error(ctx) : spate_last_error());
    }
    spate_ctx_free(ctx);
    return rc;
}

static void lk_key_of_row(const lookup *lk, const spate_row *in, lk_val *key)
{
    for (int k = 0; k < lk->nkeys; k++) {
        int c = lk->skey[k];
        spate_type t = lk->types[lk->tkey[k]];
        lk_val *v = &key[k];
        *v = (lk_val){0};
        v->null = spate_row_is_null(in, c);
        if (v->null) continue;
        if (t == SPATE_FLOAT64)
            v->d = spate_row_double(in, c);
        else if (t == SPATE_STRING || t == SPATE_BYTES) {
            spate_str s = spate_row_str(in, c);
            v->s = (char *)s.ptr;
            v->len = s.len;
        } else
            v->i = spate_row_int(in, c);
    }
}

static int lk_emit(const lookup *lk, const spate_row *in, spate_out *out, const lk_val *row)
{
    int rc = 0;
    for (int c = 0; c < lk->stream_cols && !rc; c++)
        rc = spate_out_set_from(out, c, in, c);
    for (int c = 0; c < lk->ncols && !rc; c++) {
        int oc = lk->stream_cols + c;
        const lk_val *v = row ? &row[c] : NULL;
        spate_type t = lk->types[c];
        if (!v || v->null)
            rc = spate_out_set_null(out, oc);
        else if (t == SPATE_FLOAT64)
            rc = spate_out_set_double(out, oc, v->d);
        else if (t == SPATE_STRING || t == SPATE_BYTES)
            rc = spate_out_set_str(out, oc, v->s, v->len);
        else
            rc = spate_out_set_int(out, oc, v->i);
    }
    return rc ? rc : spate_out_emit(out);
}

static int lk_join_row(const spate_row *in, spate_out *out, void *ud)
{
    const lookup *lk = ud;
    lk_val key[16];
    lk_key_of_row(lk, in, key);
    uint64_t h = 0;
    for (int k = 0; k < lk->nkeys; k++)
        h = mix(h, lk_hash_val(lk->types[lk->tkey[k]], &key[k]));
    int matched = 0;
    for (uint32_t r = lk->heads[h & (lk->nbuckets - 1)]; r; r = lk->next[r - 1]) {
        const lk_val *row = &lk->vals[(size_t)(r - 1) * (size_t)lk->ncols];
        int eq = 1;
        for (int k = 0; k < lk->nkeys && eq; k++)
            eq = lk_val_eq(lk->types[lk->tkey[k]], &key[k], &row[lk->tkey[k]]);
        if (!eq) continue;
        int rc = lk_emit(lk, in, out, row);
        if (rc) return rc;
        matched = 1;
    }
    if (!matched && lk->kind == SPATE_JOIN_LEFT) return lk_emit(lk, in, out, NULL);
    return 0;
}

static int key_types_match(spate_type a, spate_type b)
{
    if (is_intlike(a) && is_intlike(b)) return 1;
    if ((a == SPATE_STRING || a == SPATE_BYTES) && (b == SPATE_STRING || b == SPATE_BYTES))
        return 1;
    return a == b;
}

/* stream JOIN table: the table side is t (0 = left, 1 = right). */
static int lookup_join(planner *p, const sq_from *f, rel *sides, int t, const join_info *ji,
                       rel *out)
{
    rel *st = &sides[1 - t], *tb = &sides[t];
    spate_join_kind kind = f->join == SQ_JOIN_INNER ? SPATE_JOIN_INNER : SPATE_JOIN_LEFT;
    if ((f->join == SQ_JOIN_LEFT && t == 0) || (f->join == SQ_JOIN_RIGHT && t == 1) ||
        f->join == SQ_JOIN_FULL || f->join == SQ_JOIN_CROSS)
        return sq_fail(p->err, f->pos, SPATE_EUNSUPPORTED,
                       "a join with table '%s' keeps every row of the stream: use an inner join or "
                       "an outer join on the stream's side",
                       tb->table->name);
    if (!ji->nkeys) {
        sq_fail(p->err, f->pos, SPATE_EINVAL, "a join with table '%s' needs an equality in ON",
                tb->table->name);
        hint(p, "ON stream.id = %s.id", tb->qual);
        return SPATE_EINVAL;
    }
    if (ji->nrest && kind == SPATE_JOIN_LEFT)
        return sq_fail(p->err, ji->rest[0]->pos, SPATE_EUNSUPPORTED,
                       "an outer lookup join takes only equalities in ON");
    lookup *lk = calloc(1, sizeof *lk);
    if (!lk) return nomem(p);
    lk->ncols = tb->ncols;
    lk->types = calloc((size_t)lk->ncols, sizeof *lk->types);
    if (!lk->types || sq_res_push(p->pe->res, lk, lookup_free)) {
        if (!lk->types) lookup_free(lk);
        return nomem(p);
    }
    for (int c = 0; c < lk->ncols; c++)
        lk->types[c] = tb->cols[c].type;
    lk->kind = kind;
    lk->nkeys = ji->nkeys;
    for (int k = 0; k < ji->nkeys; k++) {
        int sc = t ? ji->lkey[k] : ji->rkey[k], tc = t ? ji->rkey[k] : ji->lkey[k];
        lk->skey[k] = st->cols[sc].index;
        lk->tkey[k] = tb->cols[tc].index;
        if (!key_types_match(st->cols[sc].type, tb->cols[tc].type))
            return sq_fail(p->err, f->on->pos, SPATE_ETYPE,
                           "join key types differ: %s is %s, %s is %s", st->cols[sc].name,
                           spate_type_name(st->cols[sc].type), tb->cols[tc].name,
                           spate_type_name(tb->cols[tc].type));
    }
    int rc = load_table(p, tb->table, f->pos, lk);
    if (!rc && lk_build_index(lk)) rc = nomem(p);
    if (rc) return rc;
    const spate_schema *ss = spate_stream_schema(st->s);
    lk->stream_cols = spate_schema_count(ss);
    spate_schema *os = spate_schema_new();
    if (!os) return nomem(p);
    for (int c = 0; c < lk->stream_cols && !rc; c++)
        rc = spate_schema_add(os, spate_schema_name(ss, c), spate_schema_type(ss, c));
    for (int c = 0; c < lk->ncols && !rc; c++)
        rc = spate_schema_add(os, pfmt(p, "$t%d_%s", c, tb->cols[c].name), lk->types[c]);
    spate_stream *js = NULL;
    if (!rc) rc = spate_flat_map(st->s, os, lk_join_row, lk, &js);
    spate_schema_free(os);
    if (rc) return engine_fail(p, f->pos, rc);
    explain(p, js, "LookupJoin %s table %s (%zu rows, %d key%s)",
            kind == SPATE_JOIN_INNER ? "inner" : "left", tb->table->name, lk->nrows, lk->nkeys,
            lk->nkeys > 1 ? "s" : "");
    /* scope: left then right, pointing into the joined stream */
    *out = (rel){0};
    if (rel_alloc(p, out, st->ncols + tb->ncols)) return SPATE_ENOMEM;
    out->s = js;
    int k = 0;
    for (int s = 0; s < 2; s++) {
        rel *side = &sides[s];
        for (int c = 0; c < side->ncols; c++) {
            out->cols[k] = side->cols[c];
            out->cols[k].index = side == tb ? lk->stream_cols + c : side->cols[c].index;
            k++;
        }
    }
    out->time_col = st->time_col;
    out->proc_col = st->proc_col;
    rel tmp = *out;
    for (int i = 0; i < ji->nrest && !rc; i++)
        rc = add_filter(p, &tmp, ji->rest[i], "ON");
    out->s = tmp.s;
    return rc;
}

/* key_by the join columns of one side; the scope moves to the keyed layout. */
static int key_side(planner *p, rel *r, const int *keys, int nkeys, sq_pos pos)
{
    const char *names[16];
    for (int k = 0; k < nkeys; k++)
        names[k] = spate_schema_name(spate_stream_schema(r->s), r->cols[keys[k]].index);
    spate_stream *ks;
    int rc = spate_key_by(r->s, nkeys, names, &ks);
    if (rc) return engine_fail(p, pos, rc);
    explain(p, ks, "KeyBy %s%s", names[0], nkeys > 1 ? ", ..." : "");
    r->s = ks;
    return 0;
}

/* Where column `phys` of a side lands in a join's output: keys first (key k at
 * position k), then the side's other columns in order, after `base`. */
static int join_out_index(int phys, const int *keyphys, int nkeys, int base)
{
    for (int k = 0; k < nkeys; k++)
        if (keyphys[k] == phys) return k;
    int before = 0;
    for (int k = 0; k < nkeys; k++)
        before += keyphys[k] < phys;
    return base + phys - before;
}

static int stream_join(planner *p, const sq_from *f, rel *sides, const join_info *ji, rel *out)
{
    rel *l = &sides[0], *r = &sides[1];
    spate_join_kind kind = f->join == SQ_JOIN_LEFT    ? SPATE_JOIN_LEFT
                           : f->join == SQ_JOIN_RIGHT ? SPATE_JOIN_RIGHT
                           : f->join == SQ_JOIN_FULL  ? SPATE_JOIN_FULL
                                                      : SPATE_JOIN_INNER;
    int window = l->tvf && r->tvf;
    if (!ji->nkeys) {
        sq_fail(p->err, f->pos, SPATE_EINVAL, "a join of two streams needs an equality in ON");
        hint(p, "ON a.id = b.id AND a.ts BETWEEN b.ts - INTERVAL '1' HOUR AND b.ts");
        return SPATE_EINVAL;
    }
    if (window && !(ji->win_start && ji->win_end))
        return sq_fail(p->err, f->on->pos, SPATE_EINVAL,
                       "a window join needs l.window_start = r.window_start AND "
                       "l.window_end = r.window_end in ON");
    if (!window && !ji->has_bound) {
        sq_fail(p->err, f->pos, SPATE_EUNSUPPORTED,
                "a join of two streams needs a time bound (interval join) or windows on both "
                "sides (window join): an unbounded join would keep all of both streams");
        hint(p, "add AND l.ts BETWEEN r.ts - INTERVAL '1' HOUR AND r.ts to ON");
        return SPATE_EUNSUPPORTED;
    }
    if (!window && (ji->lower_us == INT64_MIN || ji->upper_us == INT64_MAX))
        return sq_fail(p->err, f->on->pos, SPATE_EINVAL,
                       "an interval join needs a lower and an upper time bound");
    if (!window && (l->time_col != ji->ltime || r->time_col != ji->rtime))
        return sq_fail(p->err, f->on->pos, SPATE_EINVAL,
                       "an interval join compares the event-time attributes (the WATERMARK "
                       "columns) of both sides");
    if (window && memcmp(&l->w, &r->w, sizeof l->w) != 0)
        return sq_fail(p->err, f->pos, SPATE_EINVAL,
                       "a window join needs the same window on "
                       "both sides");
    if (l->op_col >= 0 || r->op_col >= 0)
        return sq_fail(p->err, f->pos, SPATE_EUNSUPPORTED,
                       "a join of updating (changelog) results is not supported");
    for (int k = 0; k < ji->nkeys; k++) {
        const sq_scope_col *a = &l->cols[ji->lkey[k]], *b = &r->cols[ji->rkey[k]];
        if (a->type != b->type)
            return sq_fail(p->err, f->on->pos, SPATE_ETYPE,
                           "join key types differ: %s is %s, %s is %s (CAST one side)", a->name,
                           spate_type_name(a->type), b->name, spate_type_name(b->type));
    }
    int lphys[16], rphys[16];
    for (int k = 0; k < ji->nkeys; k++) {
        lphys[k] = l->cols[ji->lkey[k]].index;
        rphys[k] = r->cols[ji->rkey[k]].index;
    }
    int ltime = window ? l->tvf_time : l->cols[ji->ltime].index;
    int rtime = window ? r->tvf_time : r->cols[ji->rtime].index;
    const char *ltname = spate_schema_name(spate_stream_schema(l->s), ltime);
    const char *rtname = spate_schema_name(spate_stream_schema(r->s), rtime);
    int lcount = spate_schema_count(spate_stream_schema(l->s));
    int rc = key_side(p, l, ji->lkey, ji->nkeys, f->pos);
    if (!rc) rc = key_side(p, r, ji->rkey, ji->nkeys, f->pos);
    if (rc) return rc;
    spate_stream *js;
    if (window) {
        rc = spate_window_join(l->s, r->s, kind, &l->w, ltname, rtname, &js);
        if (rc) return engine_fail(p, f->pos, rc);
        explain(p, js, "WindowJoin (%d key%s)", ji->nkeys, ji->nkeys > 1 ? "s" : "");
    } else {
        int64_t lo = ji->lower_us / 1000, hi = ji->upper_us / 1000;
        rc = spate_interval_join(l->s, r->s, kind, ltname, rtname, lo, hi, &js);
        if (rc) return engine_fail(p, f->pos, rc);
        explain(p, js, "IntervalJoin r.%s - l.%s in [%lld ms, %lld ms]", rtname, ltname,
                (long long)lo, (long long)hi);
    }
    int nk = ji->nkeys, wcols = window ? 2 : 0;
    int lbase = nk + wcols, rbase = lbase + lcount - nk;
    *out = (rel){0};
    if (rel_alloc(p, out, l->ncols + r->ncols)) return SPATE_ENOMEM;
    out->s = js;
    int k = 0;
    for (int s = 0; s < 2; s++) {
        rel *side = &sides[s];
        const int *phys = s ? rphys : lphys;
        for (int c = 0; c < side->ncols; c++) {
            sq_scope_col col = side->cols[c];
            if (col.index >= 0)
                col.index = join_out_index(col.index, phys, nk, s ? rbase : lbase);
            else if (sq_name_eq(col.name, "window_start"))
                col.index = nk;
            else if (sq_name_eq(col.name, "window_end"))
                col.index = nk + 1;
            else
                continue; /* window_time: not kept by the join */
            out->cols[k++] = col;
        }
    }
    out->ncols = k;
    out->time_col = window ? -1 : join_out_index(ltime, lphys, nk, lbase);
    rel tmp = *out;
    for (int i = 0; i < ji->nrest && !rc; i++)
        rc = add_filter(p, &tmp, ji->rest[i], "ON");
    out->s = tmp.s;
    return rc;
}

static int plan_join(planner *p, const sq_from *f, rel *out)
{
    rel sides[2];
    int rc = plan_from(p, f->left, &sides[0]);
    if (!rc) rc = plan_from(p, f->right, &sides[1]);
    if (rc) return rc;
    if (sides[0].table && sides[1].table)
        return sq_fail(p->err, f->pos, SPATE_EUNSUPPORTED,
                       "a join of two tables is not a streaming query: join a source with a table");
    join_info ji;
    rc = analyze_on(p, &sides[0], &sides[1], f->on, &ji);
    if (rc) return rc;
    if (sides[0].table || sides[1].table) {
        int t = sides[1].table ? 1 : 0;
        if (sides[1 - t].tvf)
            return sq_fail(p->err, f->pos, SPATE_EUNSUPPORTED,
                           "join the table before the window function, not after");
        return lookup_join(p, f, sides, t, &ji, out);
    }
    if (sides[0].tvf != sides[1].tvf)
        return sq_fail(p->err, f->pos, SPATE_EINVAL,
                       "a window join needs a window table function on both sides");
    return stream_join(p, f, sides, &ji, out);
}

/* ------------------------------------------------------------ aggregation */

typedef struct agg_item {
    const sq_expr *call;
    spate_agg_kind kind;
    double param;
    const char *name; /* output column */
} agg_item;

typedef struct group_info {
    const sq_expr **keys;
    int nkeys;
    agg_item *aggs;
    int naggs, capaggs;
    int windowed;
    spate_window_spec w;
    int time_col;             /* scope index of the window's time attribute */
    const sq_expr *shorthand; /* GROUP BY TUMBLE(ts, ...) call */
} group_info;

static int agg_kind(planner *p, const sq_expr *e, agg_item *a)
{
    const char *n = e->name;
    a->param = 0;
    if (sq_name_eq(n, "COUNT")) {
        a->kind = e->star_arg || e->nargs == 0 ? SPATE_AGG_COUNT
                  : e->distinct                ? SPATE_AGG_COUNT_DISTINCT
                                               : SPATE_AGG_COUNT_COLUMN;
        return 0;
    }
    if (e->distinct)
        return sq_fail(p->err, e->pos, SPATE_EUNSUPPORTED, "DISTINCT is supported in COUNT only");
    if (e->star_arg) return sq_fail(p->err, e->pos, SPATE_EINVAL, "%s(*) is not valid", n);
    int want = 1;
    if (sq_name_eq(n, "SUM"))
        a->kind = SPATE_AGG_SUM;
    else if (sq_name_eq(n, "AVG"))
        a->kind = SPATE_AGG_AVG;
    else if (sq_name_eq(n, "MIN"))
        a->kind = SPATE_AGG_MIN;
    else if (sq_name_eq(n, "MAX"))
        a->kind = SPATE_AGG_MAX;
    else if (sq_name_eq(n, "FIRST_VALUE"))
        a->kind = SPATE_AGG_FIRST_VALUE;
    else if (sq_name_eq(n, "LAST_VALUE"))
        a->kind = SPATE_AGG_LAST_VALUE;
    else if (sq_name_eq(n, "APPROX_COUNT_DISTINCT"))
        a->kind = SPATE_AGG_APPROX_COUNT_DISTINCT;
    else if (sq_name_eq(n, "APPROX_PERCENTILE")) {
        a->kind = SPATE_AGG_APPROX_PERCENTILE;
        want = 2;
        const sq_expr *q = e->nargs == 2 ? e->args[1] : NULL;
        if (!q || (q->kind != SQ_LIT_DOUBLE && q->kind != SQ_LIT_INT))
            return sq_fail(p->err, e->pos, SPATE_EINVAL,
                           "APPROX_PERCENTILE(column, fraction): the fraction is a constant "
                           "between 0 and 1");
        a->param = q->kind == SQ_LIT_DOUBLE ? q->dval : (double)q->ival;
        if (a->param < 0 || a->param > 1)
            return sq_fail(p->err, q->pos, SPATE_EINVAL, "the fraction must be between 0 and 1");
    } else
        return sq_fail(p->err, e->pos, SPATE_ENOTFOUND, "unknown aggregate %s", n);
    if (e->nargs != want)
        return sq_fail(p->err, e->pos, SPATE_EINVAL, "%s takes %d argument%s", n, want,
                       want > 1 ? "s" : "");
    return 0;
}

/* Collects the aggregate calls of e into g (nested aggregates are errors). */
static int collect_aggs(planner *p, const sq_expr *e, group_info *g, int inside)
{
    if (!e) return 0;
    if (e->kind == SQ_FUNC && e->over)
        return sq_fail(p->err, e->pos, SPATE_EUNSUPPORTED,
                       "%s() OVER is supported as ROW_NUMBER() in a subquery filtered on its "
                       "rank (Top-N, deduplication)",
                       e->name);
    if (e->kind == SQ_FUNC && sq_is_aggregate(e->name)) {
        if (inside)
            return sq_fail(p->err, e->pos, SPATE_EINVAL, "aggregate %s inside another aggregate",
                           e->name);
        for (int i = 0; i < g->naggs; i++)
            if (expr_eq(g->aggs[i].call, e)) return 0;
        agg_item a = {.call = e};
        int rc = agg_kind(p, e, &a);
        if (rc) return rc;
        for (int i = 0; i < e->nargs; i++) {
            rc = collect_aggs(p, e->args[i], g, 1);
            if (rc) return rc;
        }
        if (g->naggs == g->capaggs) {
            int cap = g->capaggs ? 2 * g->capaggs : 8;
            agg_item *n = palloc(p, (size_t)cap * sizeof *n);
            if (!n) return nomem(p);
            if (g->naggs) memcpy(n, g->aggs, (size_t)g->naggs * sizeof *n);
            g->aggs = n;
            g->capaggs = cap;
        }
        a.name = pfmt(p, "$a%d", g->naggs);
        g->aggs[g->naggs++] = a;
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < e->nargs && !rc; i++)
        rc = collect_aggs(p, e->args[i], g, inside);
    for (int i = 0; i < e->nwhens && !rc; i++) {
        rc = collect_aggs(p, e->whens[i], g, inside);
        if (!rc) rc = collect_aggs(p, e->thens[i], g, inside);
    }
    if (!rc) rc = collect_aggs(p, e->operand, g, inside);
    if (!rc) rc = collect_aggs(p, e->else_, g, inside);
    return rc;
}

static int has_agg(const sq_expr *e)
{
    if (!e) return 0;
    if (e->kind == SQ_FUNC && sq_is_aggregate(e->name)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (has_agg(e->args[i])) return 1;
    for (int i = 0; i < e->nwhens; i++)
        if (has_agg(e->whens[i]) || has_agg(e->thens[i])) return 1;
    return has_agg(e->operand) || has_agg(e->else_);
}

static int is_window_col(const sq_expr *e, const char *name)
{
    return e->kind == SQ_COLUMN && sq_name_eq(e->name, name);
}

static int shorthand_kind(const sq_expr *e)
{
    return e->kind == SQ_FUNC && e->nargs >= 2 && e->args[0]->kind == SQ_COLUMN &&
           (sq_name_eq(e->name, "TUMBLE") || sq_name_eq(e->name, "HOP") ||
            sq_name_eq(e->name, "SESSION") || sq_name_eq(e->name, "CUMULATE") ||
            sq_name_eq(e->name, "WINDOW"));
}

/* Spark's window(ts, '10 minutes'[, '5 minutes']) as the engine's spec. */
static int spark_window(planner *p, const sq_expr *e, spate_window_spec *w)
{
    int64_t ms[2] = {0, 0};
    for (int i = 1; i < e->nargs && i < 3; i++) {
        const sq_expr *a = e->args[i];
        int ok =
            a->kind == SQ_LIT_STRING && !sq_parse_duration_ms(a->str, &ms[i - 1]) && ms[i - 1] > 0;
        if (a->kind == SQ_LIT_INTERVAL && a->ival > 0) ms[i - 1] = a->ival / 1000, ok = 1;
        if (!ok)
            return sq_fail(p->err, a->pos, SPATE_EINVAL,
                           "window(): durations such as '10 minutes' or INTERVAL '10' MINUTES");
    }
    if (e->nargs > 3) return sq_fail(p->err, e->pos, SPATE_EINVAL, "window(time, size[, slide])");
    *w = (spate_window_spec){.kind = e->nargs == 3 ? SPATE_WINDOW_SLIDING : SPATE_WINDOW_TUMBLING,
                             .size_ms = ms[0],
                             .slide_ms = e->nargs == 3 ? ms[1] : 0};
    if (w->kind == SPATE_WINDOW_SLIDING && w->size_ms % w->slide_ms)
        return sq_fail(p->err, e->pos, SPATE_EINVAL, "window(): size must be a multiple of slide");
    return 0;
}

/* Resolves GROUP BY into keys and the window. */
static int analyze_group(planner *p, const sq_select *q, const rel *in, group_info *g)
{
    g->keys = palloc(p, (size_t)(q->ngroup + 1) * sizeof *g->keys);
    if (!g->keys) return nomem(p);
    int ws = 0, we = 0;
    for (int i = 0; i < q->ngroup; i++) {
        const sq_expr *e = q->group_by[i];
        if (in->tvf && is_window_col(e, "window_start")) {
            ws = 1;
            continue;
        }
        if (in->tvf && is_window_col(e, "window_end")) {
            we = 1;
            continue;
        }
        if (in->tvf && is_window_col(e, "window_time")) continue;
        if (shorthand_kind(e)) {
            if (g->shorthand || in->tvf)
                return sq_fail(p->err, e->pos, SPATE_EINVAL, "only one window per GROUP BY");
            int c = scope_find(in, e->args[0]->name);
            if (c < 0)
                return sq_fail(p->err, e->args[0]->pos, SPATE_ENOTFOUND, "no column '%s'",
                               e->args[0]->name);
            int rc = sq_name_eq(e->name, "WINDOW") ? spark_window(p, e, &g->w)
                                                   : window_spec(p, e, 1, &g->w);
            if (!rc) rc = check_time_attr(p, in, c, e->args[0]->pos, &g->w);
            if (rc) return rc;
            g->shorthand = e;
            g->windowed = 1;
            g->time_col = c;
            continue;
        }
        /* GROUP BY an alias of the SELECT list (as Spark allows) */
        if (e->kind == SQ_COLUMN && !e->qual && scope_find(in, e->name) < 0)
            for (int k = 0; k < q->nitems; k++)
                if (q->items[k].alias && sq_name_eq(q->items[k].alias, e->name))
                    e = q->items[k].expr;
        if (has_agg(e))
            return sq_fail(p->err, e->pos, SPATE_EINVAL, "GROUP BY cannot contain an aggregate");
        g->keys[g->nkeys++] = e;
    }
    if (in->tvf) {
        if (!ws || !we) {
            sq_fail(p->err, q->pos, SPATE_EINVAL,
                    "an aggregation over a window table function groups by window_start and "
                    "window_end");
            hint(p, "GROUP BY key, window_start, window_end");
            return SPATE_EINVAL;
        }
        g->windowed = 1;
        g->w = in->w;
        g->time_col = in->tvf_time;
    }
    return 0;
}

/* Copy of e where group keys, aggregate calls and window columns are replaced by
 * references to the aggregation's output columns. */
static sq_expr *rewrite(planner *p, const sq_expr *e, const group_info *g)
{
    if (!e) return NULL;
    for (int i = 0; i < g->naggs; i++)
        if (expr_eq(g->aggs[i].call, e)) return mk_col(p, NULL, g->aggs[i].name, e->pos);
    for (int i = 0; i < g->nkeys; i++)
        if (expr_eq(g->keys[i], e) && e->kind != SQ_LIT_INT && e->kind != SQ_LIT_STRING)
            return mk_col(p, NULL, pfmt(p, "$k%d", i), e->pos);
    if (g->windowed && e->kind == SQ_FUNC && e->nargs >= 1) {
        const char *n = e->name;
        size_t len = strlen(n);
        if (len > 6 && (strcasecmp(n + len - 6, "_START") == 0))
            return mk_col(p, NULL, "window_start", e->pos);
        if (len > 4 && strcasecmp(n + len - 4, "_END") == 0)
            return mk_col(p, NULL, "window_end", e->pos);
        if (len > 8 && strcasecmp(n + len - 8, "_ROWTIME") == 0) goto window_time;
    }
    if (g->windowed && is_window_col(e, "window_time")) {
    window_time:;
        sq_expr *sub = mk_expr(p, SQ_BINARY, e->pos);
        sq_expr *iv = mk_expr(p, SQ_LIT_INTERVAL, e->pos);
        sq_expr **args = palloc(p, 2 * sizeof *args);
        if (!sub || !iv || !args) return NULL;
        iv->ival = 1000;
        args[0] = mk_col(p, NULL, "window_end", e->pos);
        args[1] = iv;
        sub->op = SQ_OP_SUB;
        sub->args = args;
        sub->nargs = 2;
        return sub;
    }
    sq_expr *c = palloc(p, sizeof *c);
    if (!c) return NULL;
    *c = *e;
    if (e->nargs) {
        c->args = palloc(p, (size_t)e->nargs * sizeof *c->args);
        if (!c->args) return NULL;
        for (int i = 0; i < e->nargs; i++)
            if (!(c->args[i] = rewrite(p, e->args[i], g))) return NULL;
    }
    if (e->nwhens) {
        c->whens = palloc(p, (size_t)e->nwhens * sizeof *c->whens);
        c->thens = palloc(p, (size_t)e->nwhens * sizeof *c->thens);
        if (!c->whens || !c->thens) return NULL;
        for (int i = 0; i < e->nwhens; i++) {
            c->whens[i] = rewrite(p, e->whens[i], g);
            c->thens[i] = rewrite(p, e->thens[i], g);
            if (!c->whens[i] || !c->thens[i]) return NULL;
        }
    }
    if (e->operand && !(c->operand = rewrite(p, e->operand, g))) return NULL;
    if (e->else_ && !(c->else_ = rewrite(p, e->else_, g))) return NULL;
    return c;
}

/* Binding over an aggregation's output failed on a column of the input: say why. */
static int explain_ungrouped(planner *p, const rel *in, int rc)
{
    if (rc != SPATE_ENOTFOUND) return rc;
    const char *m = strstr(p->err->msg, "unknown column '");
    if (!m) return rc;
    char name[128];
    const char *s = m + strlen("unknown column '");
    size_t n = strcspn(s, "'");
    if (n >= sizeof name) return rc;
    memcpy(name, s, n);
    name[n] = 0;
    const char *dot = strrchr(name, '.');
    if (scope_find(in, dot ? dot + 1 : name) < 0) return rc;
    snprintf(p->err->msg, sizeof p->err->msg, "column '%s' is neither grouped nor aggregated",
             name);
    snprintf(p->err->hint, sizeof p->err->hint,
             "add it to GROUP BY or use it in an aggregate, "
             "e.g. MAX(%.60s)",
             name);
    return rc;
}

static int add_dedup(planner *p, spate_stream *keyed, int keep_last, sq_pos pos,
                     spate_stream **out);

static int plan_aggregate(planner *p, const sq_select *q, rel *in, rel *out)
{
    group_info g = {0};
    int rc = analyze_group(p, q, in, &g);
    for (int i = 0; i < q->nitems && !rc; i++)
        rc = collect_aggs(p, q->items[i].expr, &g, 0);
    if (!rc) rc = collect_aggs(p, q->having, &g, 0);
    if (rc) return rc;
    /* An updating input (a changelog) is aggregated with retractions. */
    int retract = in->op_col >= 0;
    int nengine = g.naggs; /* aggregates given to the engine */
    if (retract && g.windowed)
        return sq_fail(p->err, q->pos, SPATE_EUNSUPPORTED,
                       "windows over an updating (changelog) result are not supported");
    if (q->distinct && !g.naggs && !q->ngroup) {
        /* SELECT DISTINCT a, b: GROUP BY every selected expression */
        g.keys = palloc(p, (size_t)q->nitems * sizeof *g.keys);
        if (!g.keys) return nomem(p);
        for (int i = 0; i < q->nitems; i++) {
            if (q->items[i].expr->kind == SQ_STAR)
                return sq_fail(p->err, q->items[i].pos, SPATE_EUNSUPPORTED,
                               "SELECT DISTINCT * is not supported: name the columns");
            g.keys[g.nkeys++] = q->items[i].expr;
        }
    }
    /* Pre-projection: keys, aggregate arguments, and the window's time column. */
    int n = g.nkeys + g.naggs + 3, k = 0;
    sq_bexpr **ex = palloc(p, (size_t)n * sizeof *ex);
    const char **names = palloc(p, (size_t)n * sizeof *names);
    const char **keynames = palloc(p, (size_t)(g.nkeys + 1) * sizeof *keynames);
    spate_agg *aggs = palloc(p, (size_t)(g.naggs + 1) * sizeof *aggs);
    if (!ex || !names || !keynames || !aggs) return nomem(p);
    int constant_key = g.nkeys == 0;
    if (rel_alloc(p, out, 0)) return SPATE_ENOMEM;
    for (int i = 0; i < g.nkeys && !rc; i++) {
        rc = bind(p, in, g.keys[i], &ex[k]);
        names[k] = keynames[i] = pfmt(p, "$k%d", i);
        k += !rc;
    }
    if (constant_key && !rc) {
        sq_expr *t = mk_expr(p, SQ_LIT_BOOL, q->pos);
        if (!t) return nomem(p);
        t->ival = 1;
        rc = bind(p, in, t, &ex[k]);
        names[k] = keynames[0] = "$all";
        k += !rc;
    }
    for (int i = 0; i < g.naggs && !rc; i++) {
        agg_item *a = &g.aggs[i];
        aggs[i] = (spate_agg){a->kind, NULL, a->name, a->param};
        if (a->kind == SPATE_AGG_COUNT) continue;
        const sq_expr *arg = a->call->args[0];
        rc = bind(p, in, arg, &ex[k]);
        if (rc) break;
        spate_type t = sq_bexpr_type(ex[k]);
        int numeric = t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_FLOAT64;
        if ((a->kind == SPATE_AGG_SUM || a->kind == SPATE_AGG_AVG ||
             a->kind == SPATE_AGG_APPROX_PERCENTILE) &&
            !numeric) {
            sq_bexpr_free(ex[k]);
            return sq_fail(p->err, arg->pos, SPATE_ETYPE, "%s needs a number, got %s",
                           a->call->name, spate_type_name(t));
        }
        names[k] = pfmt(p, "$v%d", i);
        aggs[i].column = names[k];
        k++;
    }
    /* No aggregate and no window (SELECT DISTINCT, GROUP BY alone): each key once,
     * by deduplication; the value is a constant column. */
    int distinct_only = !g.naggs && !g.windowed && !retract;
    if (distinct_only && !rc) {
        sq_expr *t = mk_expr(p, SQ_LIT_BOOL, q->pos);
        if (!t) return nomem(p);
        t->ival = 1;
        rc = bind(p, in, t, &ex[k]);
        names[k] = "$one";
        k += !rc;
    }
    if (retract && !rc) {
        rc = bind_op(p, in, q->pos, &ex[k]);
        names[k] = "$op_in";
        k += !rc;
        if (!g.naggs) /* GROUP BY / DISTINCT alone: a key lives while it has rows */
            aggs[nengine++] = (spate_agg){SPATE_AGG_COUNT, NULL, "$rows", 0};
    }
    const char *tname = NULL;
    if (g.windowed && !rc && !g.w.processing_time) {
        rc = bind(p, in, mk_col(p, NULL, in->cols[g.time_col].name, q->pos), &ex[k]);
        names[k] = tname = "$time";
        k += !rc;
    }
    if (rc) {
        for (int i = 0; i < k; i++)
            sq_bexpr_free(ex[i]);
        return rc;
    }
    spate_stream *pre, *keyed, *agg;
    rc = add_map(p, in, ex, names, k, &pre, "group keys and aggregate arguments");
    if (rc) return rc;
    int nk = constant_key ? 1 : g.nkeys;
    rc = spate_key_by(pre, nk, keynames, &keyed);
    if (rc) return engine_fail(p, q->pos, rc);
    explain(p, keyed, "KeyBy %s", names_text(p, spate_stream_schema(pre)));
    char aggtext[512];
    size_t alen = 0;
    aggtext[0] = 0;
    for (int i = 0; i < g.naggs && alen < sizeof aggtext; i++)
        alen += (size_t)snprintf(aggtext + alen, sizeof aggtext - alen, "%s%s", i ? ", " : "",
                                 text_of(p, g.aggs[i].call));
    int changelog;
    if (g.windowed) {
        spate_window_spec w = g.w;
        w.time_column = tname;
        w.output = SPATE_OUTPUT_APPEND;
        if (p->pe->sql->early_ms > 0 || p->pe->sql->lateness_ms > 0) {
            w.output = SPATE_OUTPUT_DEFAULT;
            w.accumulation = SPATE_ACC_RETRACTING;
            w.trigger.early_period_ms = p->pe->sql->early_ms;
            w.allowed_lateness_ms = p->pe->sql->lateness_ms;
        }
        changelog = w.output != SPATE_OUTPUT_APPEND;
        rc = spate_window_aggregate(keyed, &w, g.naggs, aggs, &agg);
        if (rc) return engine_fail(p, q->pos, rc);
        static const char *const kinds[] = {"?",      "TUMBLE", "HOP",     "SESSION",
                                            "GLOBAL", "COUNT",  "CUMULATE"};
        explain(p, agg, "WindowAggregate %s size=%lld ms slide=%lld ms gap=%lld ms%s: %s",
                kinds[w.kind], (long long)w.size_ms, (long long)w.slide_ms, (long long)w.gap_ms,
                changelog ? " (updating)" : "", aggtext);
    } else if (retract) {
        changelog = 1;
        rc = spate_aggregate_retract(keyed, "$op_in", nengine, aggs, &agg);
        if (rc) return engine_fail(p, q->pos, rc);
        explain(p, agg, "RetractAggregate (updating input): %s", aggtext);
    } else if (distinct_only) {
        changelog = 0;
        rc = add_dedup(p, keyed, 0, q->pos, &agg);
        if (rc) return rc;
        explain(p, agg, "Deduplicate keep first row per key (DISTINCT)");
    } else {
        changelog = 1;
        rc = spate_aggregate_changelog(keyed, g.naggs, aggs, &agg);
        if (rc) return engine_fail(p, q->pos, rc);
        explain(p, agg, "ChangelogAggregate: %s", aggtext[0] ? aggtext : "(distinct keys)");
    }
    /* Scope of the aggregation's output: keys, [window_start, window_end], aggs, op. */
    const spate_schema *as = spate_stream_schema(agg);
    int nas = spate_schema_count(as);
    rel r = {0};
    if (rel_alloc(p, &r, 2 * nk + nas + 2)) return SPATE_ENOMEM;
    r.s = agg;
    int c = 0;
    for (int i = 0; i < g.nkeys; i++) {
        r.cols[c++] = (sq_scope_col){NULL, keynames[i], spate_schema_type(as, i), i};
        const sq_expr *e = g.keys[i];
        if (e->kind == SQ_COLUMN)
            r.cols[c++] = (sq_scope_col){e->qual, e->name, spate_schema_type(as, i), i};
    }
    int at = nk;
    if (g.windowed) {
        const char *wq = in->tvf ? in->qual : NULL;
        r.cols[c++] = (sq_scope_col){wq, "window_start", SPATE_TIMESTAMP, at};
        r.cols[c++] = (sq_scope_col){wq, "window_end", SPATE_TIMESTAMP, at + 1};
        at += 2;
    }
    for (int i = 0; i < g.naggs; i++)
        r.cols[c++] = (sq_scope_col){NULL, g.aggs[i].name, spate_schema_type(as, at + i), at + i};
    r.op_col = changelog ? nas - 1 : -1;
    if (changelog) r.cols[c++] = (sq_scope_col){NULL, "$op", SPATE_STRING, r.op_col};
    r.ncols = c;
    /* HAVING, then the SELECT list, over the aggregation's output */
    if (q->having) {
        sq_expr *h = rewrite(p, q->having, &g);
        if (!h) return nomem(p);
        rc = add_filter(p, &r, h, "HAVING");
        if (rc) return explain_ungrouped(p, in, rc);
    }
    int nitems = q->nitems;
    sq_bexpr **px = palloc(p, (size_t)(nitems + 1) * sizeof *px);
    const char **pn = palloc(p, (size_t)(nitems + 1) * sizeof *pn);
    if (!px || !pn) return nomem(p);
    k = 0;
    if (changelog) {
        rc = bind(p, &r, mk_col(p, NULL, "$op", q->pos), &px[0]);
        pn[k] = "op";
        k += !rc;
    }
    for (int i = 0; i < nitems && !rc; i++) {
        const sq_select_item *it = &q->items[i];
        if (it->expr->kind == SQ_STAR) {
            rc = sq_fail(p->err, it->pos, SPATE_EINVAL, "SELECT * with GROUP BY: name the columns");
            break;
        }
        sq_expr *e = rewrite(p, it->expr, &g);
        if (!e) return nomem(p);
        rc = bind(p, &r, e, &px[k]);
        if (rc) {
            rc = explain_ungrouped(p, in, rc);
            break;
        }
        pn[k++] = it->alias                                   ? it->alias
                  : it->expr->kind == SQ_COLUMN               ? it->expr->name
                  : e->kind == SQ_COLUMN && e->name[0] != '$' ? e->name
                                                              : pfmt(p, "EXPR$%d", i);
    }
    if (rc) {
        for (int i = 0; i < k; i++)
            sq_bexpr_free(px[i]);
        return rc;
    }
    spate_stream *proj;
    rc = add_map(p, &r, px, pn, k, &proj, "select list");
    if (rc) return rc;
    rc = rel_from_stream(p, proj, NULL, out);
    out->op_col = changelog ? 0 : -1;
    return rc;
}

/* ------------------------------------------------------------ Top-N, dedup */

/* The ROW_NUMBER() item of q, or -1. */
static int rank_item(const sq_select *q)
{
    for (int i = 0; q && i < q->nitems; i++) {
        const sq_expr *e = q->items[i].expr;
        if (e->kind == SQ_FUNC && e->over && sq_name_eq(e->name, "ROW_NUMBER")) return i;
    }
    return -1;
}

typedef struct dedup {
    int keep_last;
    int ncols; /* columns of the keyed input (key columns first) */
} dedup;

static void dedup_free(void *p)
{
    free(p);
}

/* keep first: the first row of a key goes out, later ones are dropped. keep last:
 * each row replaces the previous one (+I, then -U old / +U new). */
static int dedup_fn(const spate_row *key, const spate_row *value, spate_state *state,
                    spate_out *out, void *ud)
{
    const dedup *d = ud;
    if (!value) return 0;
    int nk = spate_row_ncols(key);
    int exists = spate_state_exists(state);
    if (!d->keep_last) {
        if (exists) return 0;
        spate_out *ns;
        int rc = spate_state_update(state, &ns);
        if (!rc) rc = spate_out_set_int(ns, 0, 1);
        for (int c = 0; c < nk && !rc; c++)
            rc = spate_out_set_from(out, c, key, c);
        for (int c = 0; c < spate_row_ncols(value) && !rc; c++)
            rc = spate_out_set_from(out, nk + c, value, c);
        if (!rc) rc = spate_out_set_int(out, d->ncols, 1);
        return rc ? rc : spate_out_emit(out);
    }
    int rc = 0;
    int base = 1;
    if (exists) {
        spate_row old;
        rc = spate_state_get(state, &old);
        if (!rc) rc = spate_out_set_str(out, 0, "-U", 2);
        for (int c = 0; c < nk && !rc; c++)
            rc = spate_out_set_from(out, base + c, key, c);
        for (int c = 0; c < spate_row_ncols(&old) && !rc; c++)
            rc = spate_out_set_from(out, base + nk + c, &old, c);
        if (!rc) rc = spate_out_set_int(out, base + d->ncols, 1);
        if (!rc) rc = spate_out_emit(out);
    }
    if (!rc) rc = spate_out_set_str(out, 0, exists ? "+U" : "+I", 2);
    for (int c = 0; c < nk && !rc; c++)
        rc = spate_out_set_from(out, base + c, key, c);
    for (int c = 0; c < spate_row_ncols(value) && !rc; c++)
        rc = spate_out_set_from(out, base + nk + c, value, c);
    if (!rc) rc = spate_out_set_int(out, base + d->ncols, 1);
    if (!rc) rc = spate_out_emit(out);
    spate_out *ns;
    if (!rc) rc = spate_state_update(state, &ns);
    for (int c = 0; c < spate_row_ncols(value) && !rc; c++)
        rc = spate_out_set_from(ns, c, value, c);
    return rc;
}

/* Deduplication of a keyed stream (spate_map_with_state): keep_last = 0 emits the
 * first row of each key (append-only), 1 each new row replacing the previous one
 * as a changelog (op first). Output: [op,] key and value columns, row_num = 1. */
static int add_dedup(planner *p, spate_stream *keyed, int keep_last, sq_pos pos, spate_stream **out)
{
    dedup *d = calloc(1, sizeof *d);
    if (!d || sq_res_push(p->pe->res, d, dedup_free)) return nomem(p);
    const spate_schema *ks = spate_stream_schema(keyed);
    d->keep_last = keep_last;
    d->ncols = spate_schema_count(ks);
    spate_schema *os = spate_schema_new(), *state = spate_schema_new();
    int rc = os && state ? 0 : SPATE_ENOMEM;
    if (!rc && keep_last) rc = spate_schema_add(os, "op", SPATE_STRING);
    for (int c = 0; c < d->ncols && !rc; c++)
        rc = spate_schema_add(os, spate_schema_name(ks, c), spate_schema_type(ks, c));
    if (!rc) rc = spate_schema_add(os, "row_num", SPATE_INT64);
    if (keep_last)
        for (int c = keyed->nkeys; c < d->ncols && !rc; c++)
            rc = spate_schema_add(state, spate_schema_name(ks, c), spate_schema_type(ks, c));
    else if (!rc)
        rc = spate_schema_add(state, "seen", SPATE_BOOL);
    spate_state_spec spec = {.state_schema = state, .out_schema = os, .fn = dedup_fn, .ud = d};
    if (!rc) rc = spate_map_with_state(keyed, &spec, out);
    spate_schema_free(os);
    spate_schema_free(state);
    return rc ? engine_fail(p, pos, rc) : 0;
}

/* Finds `rn <= N`, `rn < N` or `rn = N` in the outer WHERE; the other conjuncts
 * stay in *rest. */
static int rank_limit(planner *p, const sq_expr *where, const char *rn, int64_t *n,
                      const sq_expr ***rest, int *nrest)
{
    const sq_expr **cs = NULL;
    int nc = 0;
    if (conjuncts(p, where, &cs, &nc)) return SPATE_ENOMEM;
    *n = -1;
    *rest = palloc(p, (size_t)(nc + 1) * sizeof **rest);
    if (!*rest) return nomem(p);
    *nrest = 0;
    for (int i = 0; i < nc; i++) {
        const sq_expr *e = cs[i];
        if (*n < 0 && e->kind == SQ_BINARY && e->args[0]->kind == SQ_COLUMN &&
            sq_name_eq(e->args[0]->name, rn) && e->args[1]->kind == SQ_LIT_INT &&
            (e->op == SQ_OP_LE || e->op == SQ_OP_LT ||
             (e->op == SQ_OP_EQ && e->args[1]->ival == 1))) {
            *n = e->args[1]->ival - (e->op == SQ_OP_LT);
            continue;
        }
        (*rest)[(*nrest)++] = e;
    }
    return 0;
}

/* FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) AS rn FROM x)
 * WHERE rn <= N: plans the subquery's FROM and the ranking; the outer select
 * goes on from *out with the other WHERE conjuncts in *rest. */
static int plan_rank(planner *p, const sq_select *q, rel *out, const sq_expr ***rest, int *nrest)
{
    const sq_select *sub = q->from->subquery;
    int ri = rank_item(sub);
    const sq_expr *rk = sub->items[ri].expr;
    const char *rn = sub->items[ri].alias ? sub->items[ri].alias : "row_num";
    if (sub->group_by || sub->having || sub->from == NULL)
        return sq_fail(p->err, rk->pos, SPATE_EUNSUPPORTED,
                       "ROW_NUMBER() goes in a SELECT over a FROM without GROUP BY (aggregate "
                       "in a further subquery)");
    for (int i = 0; i < sub->nitems; i++)
        if (i != ri && sub->items[i].expr->kind != SQ_STAR && sub->items[i].expr->kind != SQ_COLUMN)
            return sq_fail(p->err, sub->items[i].pos, SPATE_EUNSUPPORTED,
                           "next to ROW_NUMBER() select * or plain columns");
    int64_t n;
    int rc = rank_limit(p, q->where, rn, &n, rest, nrest);
    if (rc) return rc;
    if (n < 1) {
        sq_fail(p->err, q->pos, SPATE_EUNSUPPORTED,
                "ROW_NUMBER() needs a filter on the rank in the outer query");
        hint(p, "WHERE %s <= 3", rn);
        return SPATE_EUNSUPPORTED;
    }
    rel in;
    rc = plan_from(p, sub->from, &in);
    if (!rc) rc = materialize(p, &in, sub->from->pos);
    if (!rc && sub->where) rc = add_filter(p, &in, sub->where, "WHERE");
    if (rc) return rc;
    const sq_over *ov = rk->over;
    if (ov->norder != 1 || ov->order[0].expr->kind != SQ_COLUMN)
        return sq_fail(p->err, rk->pos, SPATE_EUNSUPPORTED,
                       "ROW_NUMBER() OVER needs ORDER BY one column");
    int oc = scope_find(&in, ov->order[0].expr->name);
    if (oc < 0)
        return sq_fail(p->err, ov->order[0].expr->pos, SPATE_ENOTFOUND, "no column '%s'",
                       ov->order[0].expr->name);
    const char *pnames[16];
    int np = 0, has_ws = 0, has_we = 0;
    for (int i = 0; i < ov->npartition; i++) {
        const sq_expr *e = ov->partition[i];
        int c = e->kind == SQ_COLUMN ? scope_find(&in, e->name) : -1;
        if (c < 0 || np >= 16)
            return sq_fail(p->err, e->pos, SPATE_EINVAL, "PARTITION BY takes columns of the input");
        has_ws |= sq_name_eq(in.cols[c].name, "window_start");
        has_we |= sq_name_eq(in.cols[c].name, "window_end");
        pnames[np++] = spate_schema_name(spate_stream_schema(in.s), in.cols[c].index);
    }
    if (in.op_col >= 0)
        return sq_fail(p->err, rk->pos, SPATE_EUNSUPPORTED,
                       "ROW_NUMBER() over an updating (changelog) result is not supported");
    if (!np) return sq_fail(p->err, rk->pos, SPATE_EUNSUPPORTED, "ROW_NUMBER() needs PARTITION BY");
    spate_stream *keyed, *ranked;
    rc = spate_key_by(in.s, np, pnames, &keyed);
    if (rc) return engine_fail(p, rk->pos, rc);
    explain(p, keyed, "KeyBy %s", names_text(p, spate_stream_schema(keyed)));
    const char *ocname = spate_schema_name(spate_stream_schema(in.s), in.cols[oc].index);
    int desc = ov->order[0].desc;
    int changelog = 0;
    if (has_ws && has_we) {
        rc = spate_window_top_n(keyed, ocname, desc, n, &ranked);
        if (rc) return engine_fail(p, rk->pos, rc);
        explain(p, ranked, "WindowTopN %lld by %s %s", (long long)n, ocname, desc ? "DESC" : "ASC");
    } else if (n == 1 && (oc == in.time_col || oc == in.proc_col)) {
        rc = add_dedup(p, keyed, desc, rk->pos, &ranked);
        if (rc) return rc;
        explain(p, ranked, "Deduplicate keep %s row per key (by %s)", desc ? "last" : "first",
                ocname);
        changelog = desc;
    } else {
        sq_fail(p->err, rk->pos, SPATE_EUNSUPPORTED,
                "ROW_NUMBER() is supported for window Top-N (PARTITION BY window_start, "
                "window_end, ...) and for deduplication (ORDER BY a time attribute, rank = 1)");
        return SPATE_EUNSUPPORTED;
    }
    /* scope: the input's columns by name in the ranked schema, then the rank */
    const spate_schema *rs = spate_stream_schema(ranked);
    *out = (rel){0};
    if (rel_alloc(p, out, in.ncols + 2)) return SPATE_ENOMEM;
    out->s = ranked;
    int k = 0;
    for (int c = 0; c < in.ncols; c++) {
        if (in.cols[c].index < 0) continue;
        const char *pname = spate_schema_name(spate_stream_schema(in.s), in.cols[c].index);
        out->cols[k] = in.cols[c];
        out->cols[k].index = spate_schema_find(rs, pname);
        if (out->cols[k].index < 0) continue;
        if (c == in.time_col) out->time_col = out->cols[k].index;
        k++;
    }
    out->cols[k++] = (sq_scope_col){NULL, rn, SPATE_INT64, spate_schema_find(rs, "row_num")};
    out->ncols = k;
    out->op_col = changelog ? 0 : -1;
    requalify(p, out, q->from->alias);
    return 0;
}

/* ------------------------------------------------------------ SELECT */

static int query_has_agg(const sq_select *q)
{
    if (q->ngroup || q->having) return 1;
    for (int i = 0; i < q->nitems; i++)
        if (has_agg(q->items[i].expr)) return 1;
    return 0;
}

static int plan_projection(planner *p, const sq_select *q, rel *in, rel *out)
{
    int n = 0;
    for (int i = 0; i < q->nitems; i++) {
        const sq_expr *e = q->items[i].expr;
        if (e->kind != SQ_STAR) {
            n++;
            continue;
        }
        for (int c = 0; c < in->ncols; c++)
            n += in->cols[c].index >= 0 &&
                 (!e->qual || (in->cols[c].qual && sq_name_eq(in->cols[c].qual, e->qual)));
    }
    int changelog = in->op_col >= 0;
    sq_bexpr **ex = palloc(p, (size_t)(n + 1) * sizeof *ex);
    const char **names = palloc(p, (size_t)(n + 1) * sizeof *names);
    int *src = palloc(p, (size_t)(n + 1) * sizeof *src);
    if (!ex || !names || !src) return nomem(p);
    int k = 0, rc = 0;
    if (changelog) {
        rc = bind_op(p, in, q->pos, &ex[k]);
        src[k] = -1;
        names[k++] = "op";
    }
    int star_seen = 0;
    for (int i = 0; i < q->nitems && !rc; i++) {
        const sq_select_item *it = &q->items[i];
        const sq_expr *e = it->expr;
        if (e->kind == SQ_STAR) {
            int any = 0;
            for (int c = 0; c < in->ncols && !rc; c++) {
                const sq_scope_col *col = &in->cols[c];
                if (col->index < 0 || (changelog && col->index == in->op_col)) continue;
                if (e->qual && (!col->qual || !sq_name_eq(col->qual, e->qual))) continue;
                rc = bind(p, in, mk_col(p, col->qual, col->name, it->pos), &ex[k]);
                src[k] = c;
                names[k++] = col->name;
                any = 1;
            }
            if (!any && !rc && e->qual)
                rc = sq_fail(p->err, it->pos, SPATE_ENOTFOUND, "no table or alias '%s' in FROM",
                             e->qual);
            star_seen = 1;
            continue;
        }
        rc = bind(p, in, e, &ex[k]);
        if (rc) break;
        int c = e->kind == SQ_COLUMN ? sq_bexpr_column(ex[k]) : -1;
        src[k] = -1;
        for (int s = 0; c >= 0 && s < in->ncols; s++)
            if (in->cols[s].index == c) src[k] = s;
        names[k++] = it->alias ? it->alias : e->kind == SQ_COLUMN ? e->name : pfmt(p, "EXPR$%d", i);
    }
    (void)star_seen;
    if (rc) {
        for (int i = 0; i < k; i++)
            sq_bexpr_free(ex[i]);
        return rc;
    }
    /* Output names must be unique: a second `id` (from a join) becomes id0, ... */
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++)
            if (sq_name_eq(names[i], names[j])) {
                names[i] = pfmt(p, "%s%d", names[i], i);
                j = -1;
            }
    spate_stream *s;
    rc = add_map(p, in, ex, names, k, &s, "select list");
    if (rc) return rc;
    rc = rel_from_stream(p, s, NULL, out);
    out->op_col = changelog ? 0 : -1;
    for (int i = 0; i < k; i++) {
        if (src[i] < 0) continue;
        if (in->cols[src[i]].index == in->time_col && in->time_col >= 0) out->time_col = i;
        if (in->cols[src[i]].index == in->proc_col && in->proc_col >= 0) out->proc_col = i;
    }
    return 0;
}

static int plan_select(planner *p, const sq_select *q, rel *out)
{
    if (q->limit >= 0 && p->depth > 1)
        return sq_fail(p->err, q->pos, SPATE_EUNSUPPORTED,
                       "LIMIT is supported on the outermost query of a bare SELECT only");
    if (!q->from)
        return sq_fail(p->err, q->pos, SPATE_EUNSUPPORTED,
                       "a streaming query reads a source: SELECT ... FROM name");
    if (q->norder)
        return sq_fail(p->err, q->order[0].expr->pos, SPATE_EUNSUPPORTED,
                       "ORDER BY on an unbounded stream is not supported (use ROW_NUMBER() for "
                       "Top-N per window)");
    rel in;
    int rc;
    const sq_expr **rest = NULL;
    int nrest = 0;
    if (q->from->kind == SQ_FROM_SUBQUERY && rank_item(q->from->subquery) >= 0)
        rc = plan_rank(p, q, &in, &rest, &nrest);
    else {
        rc = plan_from(p, q->from, &in);
        if (!rc && q->where) {
            if (conjuncts(p, q->where, &rest, &nrest)) return SPATE_ENOMEM;
        }
    }
    if (!rc && in.table) rc = materialize(p, &in, q->from->pos);
    if (rc) return rc;
    int agg = query_has_agg(q) || q->distinct;
    if (in.tvf && !agg) {
        /* SELECT * FROM TABLE(TUMBLE(...)) stays a window relation (for window joins) */
        int only_star = q->nitems == 1 && q->items[0].expr->kind == SQ_STAR && !q->where;
        if (only_star) {
            *out = in;
            return 0;
        }
        sq_fail(p->err, q->pos, SPATE_EUNSUPPORTED,
                "a window table function is used with GROUP BY window_start, window_end (or in a "
                "window join)");
        return SPATE_EUNSUPPORTED;
    }
    for (int i = 0; i < nrest && !rc; i++)
        rc = add_filter(p, &in, rest[i], "WHERE");
    if (rc) return rc;
    if (agg) return plan_aggregate(p, q, &in, out);
    return plan_projection(p, q, &in, out);
}

static int plan_query(planner *p, const sq_select *q, rel *out)
{
    if (++p->depth > MAX_DEPTH)
        return sq_fail(p->err, q->pos, SPATE_EINVAL, "query nested too deeply");
    int rc = plan_select(p, q, out);
    for (const sq_select *u = q->union_all; u && !rc; u = u->union_all) {
        rel r;
        rc = plan_select(p, u, &r);
        if (rc) break;
        const spate_schema *a = spate_stream_schema(out->s), *b = spate_stream_schema(r.s);
        int same =
            spate_schema_count(a) == spate_schema_count(b) && (out->op_col < 0) == (r.op_col < 0);
        for (int i = 0; same && i < spate_schema_count(a); i++)
            same = spate_schema_type(a, i) == spate_schema_type(b, i);
        if (!same) {
            rc = sq_fail(p->err, u->pos, SPATE_ETYPE,
                         "UNION ALL needs the same number and types of columns on both sides");
            break;
        }
        spate_stream *s = r.s;
        if (strcmp(names_text(p, a), names_text(p, b)) != 0) {
            /* rename the right side to the left's names */
            sq_bexpr **ex = palloc(p, (size_t)spate_schema_count(a) * sizeof *ex);
            const char **nm = palloc(p, (size_t)spate_schema_count(a) * sizeof *nm);
            if (!ex || !nm) return nomem(p);
            for (int i = 0; i < spate_schema_count(a) && !rc; i++) {
                nm[i] = spate_schema_name(a, i);
                rc = bind(p, &r, mk_col(p, NULL, spate_schema_name(b, i), u->pos), &ex[i]);
            }
            if (!rc) rc = add_map(p, &r, ex, nm, spate_schema_count(a), &s, "UNION ALL names");
            if (rc) break;
        }
        spate_stream *un;
        rc = spate_union(out->s, s, &un);
        if (rc) {
            rc = engine_fail(p, u->pos, rc);
            break;
        }
        explain(p, un, "UnionAll");
        int op = out->op_col, tc = out->time_col;
        rc = rel_from_stream(p, un, NULL, out);
        out->op_col = op;
        out->time_col = tc;
    }
    p->depth--;
    return rc;
}

/* ------------------------------------------------------------ statements */

static int printer_push(sq_plan_env *pe, sq_printer *pr)
{
    if (pe->nprinters == pe->capprinters) {
        int cap = pe->capprinters ? 2 * pe->capprinters : 4;
        sq_printer **n = realloc(pe->printers, (size_t)cap * sizeof *n);
        if (!n) {
            sq_printer_free(pr);
            return SPATE_ENOMEM;
        }
        pe->printers = n;
        pe->capprinters = cap;
    }
    pe->printers[pe->nprinters++] = pr;
    return 0;
}

/* INSERT INTO sink: the result is cast to the sink's declared columns. */
static int plan_insert(planner *p, const sq_stmt *st, rel *r)
{
    const sq_obj *o = sq_catalog_find(p->pe->objs, st->name);
    if (!o || o->kind != SQ_OBJ_SINK) {
        sq_fail(p->err, st->name_pos, SPATE_ENOTFOUND, "no sink named '%s'", st->name);
        const char *h = sq_catalog_suggest(p->pe->objs, st->name);
        if (o)
            hint(p, "'%s' is a %s; INSERT INTO writes a sink", st->name,
                 o->kind == SQ_OBJ_SOURCE  ? "source"
                 : o->kind == SQ_OBJ_TABLE ? "table"
                                           : "view");
        else if (h)
            hint(p, "did you mean '%s'?", h);
        else
            hint(p, "CREATE SINK %s WITH (connector = 'console')", st->name);
        return SPATE_ENOTFOUND;
    }
    spate_stream *s = r->s;
    if (o->schema) {
        int changelog = r->op_col >= 0;
        int have = spate_schema_count(spate_stream_schema(r->s)) - changelog;
        int want = spate_schema_count(o->schema);
        if (have != want)
            return sq_fail(p->err, st->query->pos, SPATE_ETYPE,
                           "sink '%s' has %d columns but the query gives %d", o->name, want, have);
        sq_bexpr **ex = palloc(p, (size_t)(want + 1) * sizeof *ex);
        const char **nm = palloc(p, (size_t)(want + 1) * sizeof *nm);
        if (!ex || !nm) return nomem(p);
        int k = 0, rc = 0;
        const spate_schema *rs = spate_stream_schema(r->s);
        if (changelog) {
            rc = bind(p, r, mk_col(p, NULL, spate_schema_name(rs, 0), st->pos), &ex[k]);
            nm[k++] = "op";
        }
        for (int i = 0; i < want && !rc; i++) {
            sq_bexpr *b;
            int col = i + changelog;
            rc = bind(p, r, mk_col(p, NULL, spate_schema_name(rs, col), st->pos), &b);
            if (rc) break;
            spate_type t = spate_schema_type(o->schema, i);
            if (sq_bexpr_type(b) != t) {
                rc = sq_bind_cast(b, t, &ex[k]);
                if (rc) {
                    sq_fail(p->err, st->query->pos, SPATE_ETYPE,
                            "column %d of the query (%s) cannot become sink column '%s' (%s)",
                            i + 1, spate_type_name(spate_schema_type(rs, col)),
                            spate_schema_name(o->schema, i), spate_type_name(t));
                    break;
                }
            } else
                ex[k] = b;
            nm[k++] = spate_schema_name(o->schema, i);
        }
        if (rc) {
            for (int i = 0; i < k; i++)
                sq_bexpr_free(ex[i]);
            return rc;
        }
        rc = add_map(p, r, ex, nm, k, &s, "sink columns");
        if (rc) return rc;
    }
    const char **kv = palloc(p, (size_t)(2 * o->nkv + 1) * sizeof *kv);
    if (!kv) return nomem(p);
    for (int i = 0; i < 2 * o->nkv; i++)
        kv[i] = o->kv[i];
    int rc = spate_sink_open(s, o->connector, kv);
    if (rc) return engine_fail(p, st->name_pos, rc);
    explain(p, NULL, "Sink %s: %s <- #%d%s", o->name, o->connector, s->id,
            r->op_col >= 0 ? " (changelog: op column first)" : "");
    return 0;
}

int sq_plan_statement(sq_plan_env *pe, spate_ctx *ctx, const sq_stmt *st, sq_error *err)
{
    planner p = {.pe = pe, .ctx = ctx, .err = err};
    const sq_select *q = st->query;
    if (!q) return sq_fail(err, st->pos, SPATE_EINVAL, "EXPLAIN takes a SELECT or an INSERT");
    rel r;
    int rc = plan_query(&p, q, &r);
    if (!rc && r.tvf)
        rc = sq_fail(err, q->pos, SPATE_EUNSUPPORTED,
                     "a window table function is used with GROUP BY window_start, window_end");
    if (!rc && st->kind == SQ_INSERT && q->limit >= 0)
        rc = sq_fail(err, q->pos, SPATE_EUNSUPPORTED, "LIMIT is for a bare SELECT, not INSERT");
    if (!rc && st->kind == SQ_INSERT)
        rc = plan_insert(&p, st, &r);
    else if (!rc) {
        sq_printer *pr;
        rc = sq_printer_new(pe->opts, spate_stream_schema(r.s), r.op_col >= 0, &pr);
        if (!rc) sq_printer_set_limit(pr, q->limit);
        if (!rc) rc = printer_push(pe, pr);
        if (!rc) rc = spate_sink_callback(r.s, sq_printer_fn(), pr);
        if (rc)
            rc = engine_fail(&p, st->pos, rc);
        else
            explain(&p, NULL, "Print <- #%d%s", r.s->id, r.op_col >= 0 ? " (changelog)" : "");
    }
    sp_arena_free(&p.arena);
    return rc;
}

/* ------------------------------------------------------------ text of expressions */

static void put_expr(FILE *f, const sq_expr *e);

static const char *op_text(sq_op op)
{
    static const char *const t[] = {"?", "+",  "-", "*",  "/",   "%",  "||",  "=", "<>",
                                    "<", "<=", ">", ">=", "AND", "OR", "NOT", "-", "+"};
    return (size_t)op < sizeof t / sizeof t[0] ? t[op] : "?";
}

static void put_args(FILE *f, const sq_expr *e, int from)
{
    for (int i = from; i < e->nargs; i++) {
        if (i > from) fputs(", ", f);
        put_expr(f, e->args[i]);
    }
}

static void put_expr(FILE *f, const sq_expr *e)
{
    if (!e) return;
    switch (e->kind) {
    case SQ_LIT_NULL:
        fputs("NULL", f);
        break;
    case SQ_LIT_BOOL:
        fputs(e->ival ? "TRUE" : "FALSE", f);
        break;
    case SQ_LIT_INT:
        fprintf(f, "%lld", (long long)e->ival);
        break;
    case SQ_LIT_DOUBLE:
        fprintf(f, "%.17g", e->dval);
        break;
    case SQ_LIT_STRING:
        fprintf(f, "'%s'", e->str);
        break;
    case SQ_LIT_INTERVAL:
        if (e->ival % 3600000000LL == 0)
            fprintf(f, "INTERVAL '%lld' HOUR", (long long)(e->ival / 3600000000LL));
        else if (e->ival % 60000000LL == 0)
            fprintf(f, "INTERVAL '%lld' MINUTE", (long long)(e->ival / 60000000LL));
        else if (e->ival % 1000000LL == 0)
            fprintf(f, "INTERVAL '%lld' SECOND", (long long)(e->ival / 1000000LL));
        else
            fprintf(f, "INTERVAL '%lld' MICROSECOND", (long long)e->ival);
        break;
    case SQ_LIT_TIMESTAMP:
        fprintf(f, "TIMESTAMP '%s'", e->str);
        break;
    case SQ_LIT_DATE:
        fprintf(f, "DATE '%s'", e->str);
        break;
    case SQ_COLUMN:
        if (e->qual) fprintf(f, "%s.", e->qual);
        fputs(e->name, f);
        break;
    case SQ_STAR:
        if (e->qual) fprintf(f, "%s.", e->qual);
        fputc('*', f);
        break;
    case SQ_UNARY:
        fputs(e->op == SQ_OP_NOT ? "NOT " : op_text(e->op), f);
        put_expr(f, e->args[0]);
        break;
    case SQ_BINARY:
        fputc('(', f);
        put_expr(f, e->args[0]);
        fprintf(f, " %s ", op_text(e->op));
        put_expr(f, e->args[1]);
        fputc(')', f);
        break;
    case SQ_FUNC:
        fprintf(f, "%s(%s", e->name, e->distinct ? "DISTINCT " : "");
        if (e->star_arg) fputc('*', f);
        put_args(f, e, 0);
        fputc(')', f);
        if (e->over) fputs(" OVER (...)", f);
        break;
    case SQ_CASE:
        fputs("CASE", f);
        if (e->operand) {
            fputc(' ', f);
            put_expr(f, e->operand);
        }
        for (int i = 0; i < e->nwhens; i++) {
            fputs(" WHEN ", f);
            put_expr(f, e->whens[i]);
            fputs(" THEN ", f);
            put_expr(f, e->thens[i]);
        }
        if (e->else_) {
            fputs(" ELSE ", f);
            put_expr(f, e->else_);
        }
        fputs(" END", f);
        break;
    case SQ_CAST:
        fprintf(f, "%s(", e->try_cast ? "TRY_CAST" : "CAST");
        put_expr(f, e->args[0]);
        fprintf(f, " AS %s)", e->type_name);
        break;
    case SQ_IN:
        put_expr(f, e->args[0]);
        fputs(e->negated ? " NOT IN (" : " IN (", f);
        put_args(f, e, 1);
        fputc(')', f);
        break;
    case SQ_BETWEEN:
        put_expr(f, e->args[0]);
        fputs(e->negated ? " NOT BETWEEN " : " BETWEEN ", f);
        put_expr(f, e->args[1]);
        fputs(" AND ", f);
        put_expr(f, e->args[2]);
        break;
    case SQ_LIKE:
        put_expr(f, e->args[0]);
        fputs(e->negated ? " NOT LIKE " : " LIKE ", f);
        put_expr(f, e->args[1]);
        break;
    case SQ_IS_NULL:
        put_expr(f, e->args[0]);
        fputs(e->negated ? " IS NOT NULL" : " IS NULL", f);
        break;
    case SQ_IS_BOOL:
        put_expr(f, e->args[0]);
        fprintf(f, " IS %s%s", e->negated ? "NOT " : "", e->ival ? "TRUE" : "FALSE");
        break;
    case SQ_TABLE_ARG:
        fprintf(f, "TABLE %s", e->name);
        break;
    case SQ_DESCRIPTOR:
        fprintf(f, "DESCRIPTOR(%s)", e->name);
        break;
    }
}

char *sq_expr_text(const sq_expr *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    put_expr(f, e);
    fclose(f);
    return text;
}
