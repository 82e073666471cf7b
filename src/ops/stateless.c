/*
 * stateless.c - the operators that keep no state across micro-batches: map,
 * flatMap, filter, union, repartition, transform, glom, key_by, mapValues and
 * flatMapValues.
 *
 * Design choices and trade-offs:
 *  - Placement. Row-at-a-time operators take their input over a FORWARD edge, so
 *    they fuse into the upstream pipeline and run on every worker the upstream
 *    runs on; keyed streams stay on the worker owning their keys. transform sees a
 *    whole micro-batch, so it GATHERs into one instance (the price is a single
 *    thread for that step, as Spark's driver-side transform pays too).
 *  - Zero copy where the output is the input. filter only writes the batch's
 *    selection vector; union and repartition pass batches through; key_by permutes
 *    the sp_vec structs of the batch (the batch owns every buffer, so swapping the
 *    structs moves whole columns without touching data).
 *  - Row building. map-like operators open one row builder (spate_out) per input
 *    batch and close it at the end of the batch, so an output batch never waits
 *    for later input: latency stays that of the input in the continuous style,
 *    and builders come from the worker's pool, so nothing is allocated per record.
 *  - Callback failures. A negative return, or an error recorded by a spate_out
 *    setter (type mismatch, out of range column), fails the whole job through
 *    sp_op_fail with the operator's name; the setter's message wins because it
 *    names the column.
 *  - Micro-batch vs continuous. transform and glom act at each micro-batch end
 *    (epoch) in the micro-batch style and per arriving batch in the continuous
 *    one; the bookkeeping (sp_epoch_track, ops.h) loses no micro-batch and reports
 *    none twice. transform is a collecting operator (sp_ops_collect_*, ops.h),
 *    like foreach_batch.
 *  - repartition(n): spate has one partition per worker, so n is advisory; rows
 *    are spread round-robin over the workers whatever n is.
 */
#include "core/buf.h"
#include "core/error.h"
#include "core/row.h"
#include "ops/ops.h"
#include "runtime/runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ shared helpers */

/* Writes "name TYPE, ..." of s into buf, or "name, ..." without types (truncated
 * to n bytes). */
static void describe_schema(const spate_schema *s, int types, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s%s%s", i ? ", " : "", s->f[i].name,
                         types ? " " : "", types ? spate_type_name(s->f[i].type) : "");
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* Stamps the batch being built with the time of the input it comes from. The
 * builder has no batch after a failed flush. */
static void out_stamp(spate_out *o, int64_t time_ms)
{
    if (o->b) o->b->time_ms = time_ms;
}

/* Fails the job after a user callback returned rc (< 0) or a setter recorded o->err.
 * The setter's code and message take precedence: they name the offending column. */
static int fail_callback(sp_op *op, int rc, const spate_out *o)
{
    if (o && o->err) return sp_op_fail(op, o->err, "%s: %s", op->cls->name, spate_last_error());
    return sp_op_fail(op, SPATE_EUSER, "%s: callback returned %d", op->cls->name, rc);
}

/* ----------------------------------------------- map, flatMap, mapValues, ... */

typedef struct map_cfg {
    spate_map_fn fn;
    void *ud;
    int flat;   /* rows are committed by spate_out_emit, not after each call */
    int values; /* mapValues: the callback sees and writes the value part only */
} map_cfg;

/* Runs the callback over the live rows of b, building rows into o. */
static int map_rows(sp_op *op, const map_cfg *cfg, sp_batch *b, spate_out *o, int nkeys)
{
    uint32_t n = sp_batch_count(b);
    spate_row row;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t phys = sp_batch_phys(b, i);
        sp_row_set(&row, b, phys, nkeys, b->ncols - nkeys);
        o->key_row = phys;
        if (sp_out_begin(o)) return fail_callback(op, 0, o);
        out_stamp(o, b->time_ms);
        int rc = cfg->fn(&row, o, cfg->ud);
        if (rc < 0 || o->err) return fail_callback(op, rc, o);
        if (!cfg->flat && sp_out_commit(o)) return fail_callback(op, 0, o);
    }
    return 0;
}

static int map_push(sp_op *op, int port, sp_batch *b)
{
    const map_cfg *cfg = op->node->cfg;
    int nkeys = cfg->values ? op->node->nkeys : 0;
    spate_out o;
    int rc = sp_op_out_open(op, &o, NULL, nkeys, op->node->schema->n - nkeys);
    if (rc) {
        sp_op_release(op, b);
        return sp_op_fail(op, rc, "%s: cannot open the output", op->cls->name);
    }
    if (cfg->values) {
        o.key_src = b;
        o.nkeys = nkeys;
    }
    rc = map_rows(op, cfg, b, &o, nkeys);
    out_stamp(&o, b->time_ms);
    int rc_close = sp_op_out_close(op, &o);
    sp_op_release(op, b);
    return rc ? rc : rc_close;
}

static const sp_op_class map_class = {
    .stateless = 1, .name = "map", .push = map_push, .cfg_free = free};
static const sp_op_class flat_map_class = {
    .stateless = 1, .name = "flat_map", .push = map_push, .cfg_free = free};
static const sp_op_class map_values_class = {
    .stateless = 1, .name = "map_values", .push = map_push, .cfg_free = free};
static const sp_op_class flat_map_values_class = {
    .stateless = 1, .name = "flat_map_values", .push = map_push, .cfg_free = free};

static map_cfg *map_cfg_new(spate_map_fn fn, void *ud, int flat, int values)
{
    map_cfg *c = malloc(sizeof *c);
    if (c) *c = (map_cfg){fn, ud, flat, values};
    return c;
}

static int add_map(spate_stream *in, const spate_schema *out_schema, spate_map_fn fn, void *ud,
                   const sp_op_class *cls, int flat, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, cls->name);
    if (rc) return rc;
    if (!out_schema || out_schema->n == 0)
        return sp_err(SPATE_EINVAL, "%s: the output schema needs at least one column", cls->name);
    return sp_ops_add_node(in, cls, map_cfg_new(fn, ud, flat, 0), sp_schema_copy(out_schema), 0,
                           SP_EX_FORWARD, 0, out);
}

int spate_map(spate_stream *in, const spate_schema *out_schema, spate_map_fn fn, void *ud,
              spate_stream **out)
{
    return add_map(in, out_schema, fn, ud, &map_class, 0, out);
}

int spate_flat_map(spate_stream *in, const spate_schema *out_schema, spate_map_fn fn, void *ud,
                   spate_stream **out)
{
    return add_map(in, out_schema, fn, ud, &flat_map_class, 1, out);
}

/* Builds into *out the key columns of in followed by the columns of value_schema.
 * Returns 0, SPATE_EINVAL when a value column is named like a key column, or
 * SPATE_ENOMEM. */
static int keyed_schema(const spate_stream *in, const spate_schema *value_schema, const char *what,
                        spate_schema **out)
{
    spate_schema *s = spate_schema_new();
    int rc = s ? 0 : sp_err(SPATE_ENOMEM, "%s: out of memory", what);
    for (int i = 0; i < in->nkeys && rc == 0; i++)
        rc = spate_schema_add(s, in->schema->f[i].name, in->schema->f[i].type);
    for (int i = 0; i < value_schema->n && rc == 0; i++) {
        const sp_field *f = &value_schema->f[i];
        if (spate_schema_find(s, f->name) >= 0)
            rc = sp_err(SPATE_EINVAL, "%s: value column '%s' has the name of a key column", what,
                        f->name);
        else
            rc = spate_schema_add(s, f->name, f->type);
    }
    if (rc) {
        spate_schema_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static int add_map_values(spate_stream *in, const spate_schema *value_schema, spate_map_fn fn,
                          void *ud, const sp_op_class *cls, int flat, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, cls->name);
    if (rc) return rc;
    if (in->nkeys <= 0)
        return sp_err(SPATE_EINVAL, "%s: the input is not keyed (use spate_key_by first)",
                      cls->name);
    if (!value_schema || value_schema->n == 0)
        return sp_err(SPATE_EINVAL, "%s: the value schema needs at least one column", cls->name);
    spate_schema *schema;
    rc = keyed_schema(in, value_schema, cls->name, &schema);
    if (rc) return rc;
    rc = sp_ops_add_node(in, cls, map_cfg_new(fn, ud, flat, 1), schema, in->nkeys, SP_EX_FORWARD, 0,
                         out);
    if (rc == 0) (*out)->partitioned = in->partitioned;
    return rc;
}

int spate_map_values(spate_stream *in, const spate_schema *value_schema, spate_map_fn fn, void *ud,
                     spate_stream **out)
{
    return add_map_values(in, value_schema, fn, ud, &map_values_class, 0, out);
}

int spate_flat_map_values(spate_stream *in, const spate_schema *value_schema, spate_map_fn fn,
                          void *ud, spate_stream **out)
{
    return add_map_values(in, value_schema, fn, ud, &flat_map_values_class, 1, out);
}

/* ------------------------------------------------------------------- filter */

typedef struct filter_cfg {
    spate_filter_fn fn;
    void *ud;
} filter_cfg;

/* Narrows the selection of b to the rows the callback keeps. Writing sel[kept]
 * while reading sel[i] is safe because kept <= i. */
static int filter_push(sp_op *op, int port, sp_batch *b)
{
    const filter_cfg *cfg = op->node->cfg;
    uint32_t n = sp_batch_count(b), kept = 0;
    spate_row row;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t phys = sp_batch_phys(b, i);
        sp_row_set(&row, b, phys, 0, b->ncols);
        int rc = cfg->fn(&row, cfg->ud);
        if (rc < 0) {
            sp_op_release(op, b);
            return fail_callback(op, rc, NULL);
        }
        /* Branch-free: a kept/dropped branch mispredicts on half the rows of a
         * selective filter; writing the slot always costs less. */
        b->sel[kept] = phys;
        kept += rc != 0;
    }
    b->has_sel = 1;
    b->nsel = kept;
    return sp_op_emit(op, b);
}

static const sp_op_class filter_class = {
    .stateless = 1, .name = "filter", .push = filter_push, .cfg_free = free};

int spate_filter(spate_stream *in, spate_filter_fn fn, void *ud, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, "filter");
    if (rc) return rc;
    filter_cfg *cfg = malloc(sizeof *cfg);
    if (cfg) *cfg = (filter_cfg){fn, ud};
    rc = sp_ops_add_node(in, &filter_class, cfg, sp_schema_copy(in->schema), in->nkeys,
                         SP_EX_FORWARD, 0, out);
    if (rc == 0) {
        (*out)->partitioned = in->partitioned;
        (*out)->time_col = in->time_col;
    }
    return rc;
}

/* ------------------------------------------------------ union, repartition */

/* Both pass batches through; the batch is relabelled with this node's schema
 * (union inputs may differ in column names). */
static int pass_push(sp_op *op, int port, sp_batch *b)
{
    b->schema = op->node->schema;
    return sp_op_emit(op, b);
}

static const sp_op_class union_class = {.stateless = 1, .name = "union", .push = pass_push};
static const sp_op_class repartition_class = {
    .stateless = 1, .name = "repartition", .push = pass_push};

int spate_union(spate_stream *a, spate_stream *b, spate_stream **out)
{
    if (out) *out = NULL;
    if (!a || !b || !out) return sp_err(SPATE_EINVAL, "union: streams and out must not be NULL");
    if (a->ctx != b->ctx)
        return sp_err(SPATE_EINVAL, "union: the streams belong to different contexts");
    if (!a->schema || !b->schema)
        return sp_err(SPATE_EINVAL, "union: an input is an output or a sink, not a stream");
    if (!sp_schema_types_equal(a->schema, b->schema)) {
        char da[256], db[256];
        describe_schema(a->schema, 1, da, sizeof da);
        describe_schema(b->schema, 1, db, sizeof db);
        return sp_err(SPATE_ETYPE, "union: schemas differ: (%s) vs (%s)", da, db);
    }
    spate_schema *schema = sp_schema_copy(a->schema);
    if (!schema) return sp_err(SPATE_ENOMEM, "union: out of memory");
    spate_stream *ins[2] = {a, b};
    sp_exchange ex[2] = {SP_EX_FORWARD, SP_EX_FORWARD};
    int rc = sp_node_add(a->ctx, &union_class, NULL, schema, 0, 2, ins, ex, 0, out);
    if (rc == 0 && a->time_col == b->time_col) (*out)->time_col = a->time_col;
    return rc;
}

int spate_repartition(spate_stream *in, int n, spate_stream **out)
{
    int rc = sp_ops_check_input(in, 1, out, "repartition");
    if (rc) return rc;
    spate_schema *schema = sp_schema_copy(in->schema);
    if (!schema) return sp_err(SPATE_ENOMEM, "repartition: out of memory");
    sp_exchange ex = SP_EX_ROUND_ROBIN;
    rc = sp_node_add(in->ctx, &repartition_class, NULL, schema, in->nkeys, 1, &in, &ex, 0, out);
    if (rc == 0) (*out)->time_col = in->time_col;
    return rc;
}

/* ------------------------------------------------------------------- key_by */

typedef struct key_by_cfg {
    int ncols;
    int perm[]; /* output column j is input column perm[j] */
} key_by_cfg;

static int key_by_open(sp_op *op)
{
    const key_by_cfg *cfg = op->node->cfg;
    op->st = malloc((size_t)cfg->ncols * sizeof(sp_vec));
    return op->st ? 0 : sp_op_fail(op, SPATE_ENOMEM, "key_by: out of memory");
}

static void key_by_close(sp_op *op)
{
    free(op->st);
    op->st = NULL;
}

/* Reorders the columns by moving sp_vec structs through the instance's scratch
 * array; the old key hashes no longer describe the new key, so they are dropped. */
static int key_by_push(sp_op *op, int port, sp_batch *b)
{
    const key_by_cfg *cfg = op->node->cfg;
    sp_vec *tmp = op->st;
    for (int j = 0; j < cfg->ncols; j++)
        tmp[j] = b->cols[cfg->perm[j]];
    memcpy(b->cols, tmp, (size_t)cfg->ncols * sizeof *tmp);
    b->schema = op->node->schema;
    b->has_hashes = 0;
    return sp_op_emit(op, b);
}

static const sp_op_class key_by_class = {.stateless = 1,
                                         .name = "key_by",
                                         .open = key_by_open,
                                         .push = key_by_push,
                                         .close = key_by_close,
                                         .cfg_free = free};

/* Error for a key column name that s lacks, listing the names it has. */
static int unknown_column(const spate_schema *s, const char *name)
{
    char cols[256];
    describe_schema(s, 0, cols, sizeof cols);
    return sp_err(SPATE_ENOTFOUND, "key_by: unknown column '%s' (columns: %s)", name, cols);
}

/* Fills perm: the key columns in the order given, then the others in theirs. */
static int key_by_perm(const spate_schema *s, int nkeys, const char *const *key_cols, int *perm)
{
    char *used = calloc((size_t)s->n, 1);
    if (!used) return sp_err(SPATE_ENOMEM, "key_by: out of memory");
    int rc = 0, k = 0;
    for (; k < nkeys && rc == 0; k++) {
        int c = key_cols[k] ? spate_schema_find(s, key_cols[k]) : SPATE_EINVAL;
        if (!key_cols[k])
            rc = sp_err(SPATE_EINVAL, "key_by: key column %d is NULL", k);
        else if (c < 0)
            rc = unknown_column(s, key_cols[k]);
        else if (used[c])
            rc = sp_err(SPATE_EINVAL, "key_by: column '%s' given twice", key_cols[k]);
        else {
            used[c] = 1;
            perm[k] = c;
        }
    }
    for (int c = 0; c < s->n && rc == 0; c++)
        if (!used[c]) perm[k++] = c;
    free(used);
    return rc;
}

static spate_schema *permuted_schema(const spate_schema *s, const int *perm)
{
    spate_schema *p = spate_schema_new();
    for (int j = 0; p && j < s->n; j++)
        if (spate_schema_add(p, s->f[perm[j]].name, s->f[perm[j]].type)) {
            spate_schema_free(p);
            return NULL;
        }
    return p;
}

int spate_key_by(spate_stream *in, int nkeys, const char *const *key_cols, spate_stream **out)
{
    int rc = sp_ops_check_input(in, 1, out, "key_by");
    if (rc) return rc;
    if (nkeys <= 0 || !key_cols)
        return sp_err(SPATE_EINVAL, "key_by: needs at least one key column (nkeys = %d)", nkeys);
    if (nkeys > in->schema->n)
        return sp_err(SPATE_EINVAL, "key_by: %d key columns but the stream has %d columns", nkeys,
                      in->schema->n);
    key_by_cfg *cfg = malloc(sizeof *cfg + (size_t)in->schema->n * sizeof(int));
    if (!cfg) return sp_err(SPATE_ENOMEM, "key_by: out of memory");
    cfg->ncols = in->schema->n;
    rc = key_by_perm(in->schema, nkeys, key_cols, cfg->perm);
    if (rc) {
        free(cfg);
        return rc;
    }
    int time_col = -1;
    for (int j = 0; j < cfg->ncols; j++)
        if (in->time_col >= 0 && cfg->perm[j] == in->time_col) time_col = j;
    rc = sp_ops_add_node(in, &key_by_class, cfg, permuted_schema(in->schema, cfg->perm), nkeys,
                         SP_EX_FORWARD, 0, out);
    if (rc == 0) (*out)->time_col = time_col;
    return rc;
}

/* ---------------------------------------------------------------- transform */

typedef struct transform_cfg {
    spate_transform_fn fn;
    void *ud;
} transform_cfg;

/* Calls the user function once over rows and emits what it built. */
static int transform_run(sp_op *op, const spate_rows *rows)
{
    const transform_cfg *cfg = op->node->cfg;
    spate_out o;
    int rc = sp_op_out_open(op, &o, NULL, 0, op->node->schema->n);
    if (rc) return sp_op_fail(op, rc, "transform: cannot open the output");
    out_stamp(&o, rows->time_ms);
    if (sp_out_begin(&o)) rc = fail_callback(op, 0, &o);
    int urc = rc ? 0 : cfg->fn(rows, &o, cfg->ud);
    if (!rc && (urc < 0 || o.err)) rc = fail_callback(op, urc, &o);
    out_stamp(&o, rows->time_ms);
    int rc_close = sp_op_out_close(op, &o);
    return rc ? rc : rc_close;
}

static int transform_open(sp_op *op)
{
    return sp_ops_collect_open(op, transform_run);
}

static const sp_op_class transform_class = {.stateless = 1,
                                            .name = "transform",
                                            .open = transform_open,
                                            .push = sp_ops_collect_push,
                                            .epoch = sp_ops_track_epoch,
                                            .finish = sp_ops_track_finish,
                                            .close = sp_ops_collect_close,
                                            .cfg_free = free};

int spate_transform(spate_stream *in, const spate_schema *out_schema, spate_transform_fn fn,
                    void *ud, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, "transform");
    if (rc) return rc;
    if (!out_schema || out_schema->n == 0)
        return sp_err(SPATE_EINVAL, "transform: the output schema needs at least one column");
    transform_cfg *cfg = malloc(sizeof *cfg);
    if (cfg) *cfg = (transform_cfg){fn, ud};
    return sp_ops_add_node(in, &transform_class, cfg, sp_schema_copy(out_schema), 0, SP_EX_GATHER,
                           1, out);
}

/* --------------------------------------------------------------------- glom */

typedef struct glom_st {
    sp_epoch_track track; /* first: see sp_epoch_track */
    sp_buf elements;      /* "[" then the rows so far, comma separated */
    int64_t n;
} glom_st;

/* Appends the live rows of b to the element array, each as a JSON array. */
static int glom_add(glom_st *st, const sp_batch *b)
{
    uint32_t n = sp_batch_count(b);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint32_t r = sp_batch_phys(b, i);
        rc = st->n++ ? sp_buf_put(&st->elements, ",[", 2) : sp_buf_putc(&st->elements, '[');
        if (!rc) rc = sp_ops_put_values(&st->elements, b, r, 1);
        if (!rc) rc = sp_buf_putc(&st->elements, ']');
    }
    return rc;
}

static int glom_reset(glom_st *st)
{
    st->elements.len = 0;
    st->n = 0;
    return sp_buf_putc(&st->elements, '[');
}

/* Emits this partition's row (partition, n, elements) and starts a new array. */
static int glom_emit(sp_op *op, int64_t time_ms)
{
    glom_st *st = op->st;
    spate_out o;
    int rc = sp_buf_putc(&st->elements, ']');
    if (!rc) rc = sp_op_out_open(op, &o, NULL, 0, 3);
    if (rc) return sp_op_fail(op, rc, "glom: out of memory");
    rc = sp_out_begin(&o);
    if (!rc) rc = spate_out_set_int(&o, 0, op->instance);
    if (!rc) rc = spate_out_set_int(&o, 1, st->n);
    if (!rc) rc = spate_out_set_str(&o, 2, st->elements.p, st->elements.len);
    out_stamp(&o, time_ms);
    if (!rc) rc = sp_out_commit(&o);
    int rc_close = sp_op_out_close(op, &o);
    sp_ops_track_done(&st->track, time_ms);
    if (rc || rc_close) return sp_op_fail(op, rc ? rc : rc_close, "glom: cannot emit");
    return glom_reset(st) ? sp_op_fail(op, SPATE_ENOMEM, "glom: out of memory") : 0;
}

static int glom_open(sp_op *op)
{
    glom_st *st = sp_ops_track_open(op, sizeof *st, glom_emit);
    if (!st) return SPATE_ENOMEM;
    return glom_reset(st) ? sp_op_fail(op, SPATE_ENOMEM, "glom: out of memory") : 0;
}

static int glom_push(sp_op *op, int port, sp_batch *b)
{
    glom_st *st = op->st;
    int64_t time_ms = b->time_ms;
    int rc = glom_add(st, b);
    sp_op_release(op, b);
    if (rc) return sp_op_fail(op, rc, "glom: out of memory");
    return sp_ops_track_arrived(op, &st->track, time_ms);
}

static void glom_close(sp_op *op)
{
    glom_st *st = op->st;
    if (!st) return;
    sp_buf_free(&st->elements);
    free(st);
    op->st = NULL;
}

static const sp_op_class glom_class = {.stateless = 1,
                                       .name = "glom",
                                       .open = glom_open,
                                       .push = glom_push,
                                       .epoch = sp_ops_track_epoch,
                                       .finish = sp_ops_track_finish,
                                       .close = glom_close};

int spate_glom(spate_stream *in, spate_stream **out)
{
    int rc = sp_ops_check_input(in, 1, out, "glom");
    if (rc) return rc;
    spate_schema *schema = NULL;
    rc = spate_schema_parse("partition INT32, n BIGINT, elements STRING", &schema);
    if (rc) return rc;
    sp_exchange ex = SP_EX_FORWARD;
    return sp_node_add(in->ctx, &glom_class, NULL, schema, 0, 1, &in, &ex, 0, out);
}

/* ------------------------------------------------------------------- schema */

const spate_schema *spate_stream_schema(const spate_stream *s)
{
    return s ? s->schema : NULL;
}
