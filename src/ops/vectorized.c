/*
 * vectorized.c - batch-at-a-time callbacks: spate_filter_batch, spate_map_batch
 * and the spate_cols column accessors.
 *
 * A row callback costs an indirect call per row plus a checked getter per value;
 * for a cheap predicate that is most of the work (bench: filter+map through row
 * callbacks runs ~2.8x slower than a hand loop). Here the callback gets whole
 * column arrays once per batch and loops itself, so the compiler sees a plain
 * loop over arrays.
 *
 * A spate_cols is a batch seen from the API. The input is compacted first when a
 * filter left a selection vector, so row i is index i of every array: the
 * contract stays "arrays of count rows" and the common case (no selection) costs
 * nothing. The filter turns keep[] into a selection vector without a branch per
 * row; the map fills a fresh batch of the same row count.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

static const sp_vec *col_of(const spate_cols *c, int col, int type_a, int type_b)
{
    const sp_batch *b = (const sp_batch *)c;
    if (!b || col < 0 || col >= b->ncols) return NULL;
    const sp_vec *v = &b->cols[col];
    return (int)v->type == type_a || (int)v->type == type_b ? v : NULL;
}

size_t spate_cols_count(const spate_cols *c)
{
    return c ? ((const sp_batch *)c)->n : 0;
}

const int64_t *spate_cols_int64(const spate_cols *c, int col)
{
    const sp_vec *v = col_of(c, col, SPATE_INT64, SPATE_TIMESTAMP);
    return v ? SP_I64(v) : NULL;
}

const int32_t *spate_cols_int32(const spate_cols *c, int col)
{
    const sp_vec *v = col_of(c, col, SPATE_INT32, SPATE_INT32);
    return v ? SP_I32(v) : NULL;
}

const double *spate_cols_double(const spate_cols *c, int col)
{
    const sp_vec *v = col_of(c, col, SPATE_FLOAT64, SPATE_FLOAT64);
    return v ? SP_F64(v) : NULL;
}

const uint8_t *spate_cols_bool(const spate_cols *c, int col)
{
    const sp_vec *v = col_of(c, col, SPATE_BOOL, SPATE_BOOL);
    return v ? SP_BOOL(v) : NULL;
}

const spate_str *spate_cols_str(const spate_cols *c, int col)
{
    const sp_vec *v = col_of(c, col, SPATE_STRING, SPATE_BYTES);
    return v ? SP_STR(v) : NULL;
}

int spate_cols_is_null(const spate_cols *c, int col, size_t row)
{
    const sp_batch *b = (const sp_batch *)c;
    if (!b || col < 0 || col >= b->ncols || row >= b->n) return 1;
    return sp_vec_is_null(&b->cols[col], (uint32_t)row);
}

int64_t *spate_cols_out_int64(spate_cols *c, int col)
{
    return (int64_t *)spate_cols_int64(c, col);
}

int32_t *spate_cols_out_int32(spate_cols *c, int col)
{
    return (int32_t *)spate_cols_int32(c, col);
}

double *spate_cols_out_double(spate_cols *c, int col)
{
    return (double *)spate_cols_double(c, col);
}

uint8_t *spate_cols_out_bool(spate_cols *c, int col)
{
    return (uint8_t *)spate_cols_bool(c, col);
}

int spate_cols_set_null(spate_cols *c, int col, size_t row)
{
    sp_batch *b = (sp_batch *)c;
    if (!b || col < 0 || col >= b->ncols || row >= b->n)
        return sp_err(SPATE_EINVAL, "spate_cols_set_null: column %d row %zu out of range", col,
                      row);
    sp_ops_set_null(&b->cols[col], (uint32_t)row);
    return 0;
}

int spate_cols_set_str(spate_cols *c, int col, size_t row, const char *p, size_t len)
{
    sp_batch *b = (sp_batch *)c;
    if (!col_of(c, col, SPATE_STRING, SPATE_BYTES) || row >= b->n)
        return sp_err(SPATE_EINVAL, "spate_cols_set_str: column %d row %zu is not a string cell",
                      col, row);
    char *d = sp_arena_dup(&b->arena, p, len);
    if (!d) return sp_err(SPATE_ENOMEM, "out of memory");
    SP_STR(&b->cols[col])[row] = (spate_str){d, len};
    return 0;
}

/* ------------------------------------------------------------- operators */

typedef struct vec_cfg {
    spate_filter_batch_fn filter;
    spate_map_batch_fn map;
    void *ud;
} vec_cfg;

typedef struct vec_st {
    uint8_t *keep; /* batch.rows flags for the filter */
} vec_st;

static int vec_open(sp_op *op)
{
    vec_st *st = calloc(1, sizeof *st);
    if (st) st->keep = malloc(sp_ctx_batch_rows(op->node->ctx));
    if (!st || !st->keep) {
        free(st);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    op->st = st;
    return 0;
}

static void vec_close(sp_op *op)
{
    vec_st *st = op->st;
    if (st) free(st->keep);
    free(st);
}

static int user_failed(sp_op *op, sp_batch *b, int rc)
{
    sp_op_release(op, b);
    return sp_op_fail(op, SPATE_EUSER, "%s: callback returned %d", op->cls->name, rc);
}

static int filter_batch_push(sp_op *op, int port, sp_batch *b)
{
    const vec_cfg *cfg = op->node->cfg;
    vec_st *st = op->st;
    sp_batch_compact(b);
    memset(st->keep, 0, b->n);
    int rc = cfg->filter((const spate_cols *)b, st->keep, cfg->ud);
    if (rc < 0) return user_failed(op, b, rc);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        b->sel[kept] = i;
        kept += st->keep[i] != 0;
    }
    b->has_sel = 1;
    b->nsel = kept;
    return sp_op_emit(op, b);
}

static int map_batch_push(sp_op *op, int port, sp_batch *b)
{
    const vec_cfg *cfg = op->node->cfg;
    sp_batch_compact(b);
    sp_batch *out = sp_op_batch(op, NULL);
    if (!out) {
        sp_op_release(op, b);
        return sp_op_fail(op, SPATE_ENOMEM, "map_batch: out of memory");
    }
    out->n = b->n;
    out->time_ms = b->time_ms;
    int rc = cfg->map((const spate_cols *)b, (spate_cols *)out, cfg->ud);
    sp_op_release(op, b);
    if (rc < 0) return user_failed(op, out, rc);
    return sp_op_emit(op, out);
}

static const sp_op_class filter_batch_class = {.stateless = 1,
                                               .name = "filter_batch",
                                               .open = vec_open,
                                               .push = filter_batch_push,
                                               .close = vec_close,
                                               .cfg_free = free};

static const sp_op_class map_batch_class = {
    .stateless = 1, .name = "map_batch", .push = map_batch_push, .cfg_free = free};

static vec_cfg *vec_cfg_new(spate_filter_batch_fn filter, spate_map_batch_fn map, void *ud)
{
    vec_cfg *c = malloc(sizeof *c);
    if (c) *c = (vec_cfg){filter, map, ud};
    return c;
}

int spate_filter_batch(spate_stream *in, spate_filter_batch_fn fn, void *ud, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, "filter_batch");
    if (rc) return rc;
    rc = sp_ops_add_node(in, &filter_batch_class, vec_cfg_new(fn, NULL, ud),
                         sp_schema_copy(in->schema), in->nkeys, SP_EX_FORWARD, 0, out);
    if (rc == 0) {
        (*out)->partitioned = in->partitioned;
        (*out)->time_col = in->time_col;
    }
    return rc;
}

int spate_map_batch(spate_stream *in, const spate_schema *out_schema, spate_map_batch_fn fn,
                    void *ud, spate_stream **out)
{
    int rc = sp_ops_check_input(in, fn != NULL, out, "map_batch");
    if (rc) return rc;
    if (!out_schema || out_schema->n == 0)
        return sp_err(SPATE_EINVAL, "map_batch: an output schema with columns is required");
    return sp_ops_add_node(in, &map_batch_class, vec_cfg_new(NULL, fn, ud),
                           sp_schema_copy(out_schema), 0, SP_EX_FORWARD, 0, out);
}
