/*
 * row.c - spate_row getters, spate_out setters and spate_rows.
 *
 * Getters forgive: an out-of-range column or a type with no sensible conversion
 * reads as NULL/0, because a getter has no error channel. Setters do not: a type
 * mismatch is recorded in spate_out.err and the operator fails the job with a
 * message naming the column, since silently writing NULL would lose data.
 */
#include "core/row.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const sp_vec *row_vec(const spate_row *r, int col)
{
    if (!r || !r->batch || col < 0 || col >= r->ncols) return NULL;
    return &r->batch->cols[r->first_col + col];
}

int spate_row_ncols(const spate_row *r)
{
    return r ? r->ncols : 0;
}

int spate_row_is_null(const spate_row *r, int col)
{
    const sp_vec *v = row_vec(r, col);
    return !v || sp_vec_is_null(v, r->index);
}

int64_t spate_row_int(const spate_row *r, int col)
{
    const sp_vec *v = row_vec(r, col);
    if (!v || sp_vec_is_null(v, r->index)) return 0;
    if (v->type == SPATE_FLOAT64) return (int64_t)SP_F64(v)[r->index];
    if (sp_type_is_str(v->type)) return 0;
    return sp_vec_get_int(v, r->index);
}

double spate_row_double(const spate_row *r, int col)
{
    const sp_vec *v = row_vec(r, col);
    if (!v || sp_vec_is_null(v, r->index)) return 0;
    if (v->type == SPATE_FLOAT64) return SP_F64(v)[r->index];
    if (sp_type_is_str(v->type)) return 0;
    return (double)sp_vec_get_int(v, r->index);
}

spate_str spate_row_str(const spate_row *r, int col)
{
    const sp_vec *v = row_vec(r, col);
    if (!v || !sp_type_is_str(v->type) || sp_vec_is_null(v, r->index))
        return (spate_str){"", 0};
    return SP_STR(v)[r->index];
}

void sp_out_init(spate_out *o, sp_batch *b, int first_col, int ncols,
                 int (*flush)(spate_out *, void *), void *arg)
{
    memset(o, 0, sizeof *o);
    o->b = b;
    o->first_col = first_col;
    o->ncols = ncols;
    o->flush = flush;
    o->flush_arg = arg;
}

static void mark_written(spate_out *o, int batch_col)
{
    if (batch_col < 64) o->written |= (uint64_t)1 << batch_col;
}

int sp_out_begin(spate_out *o)
{
    sp_batch *b = o->b;
    uint32_t r = b->n;
    o->written = 0;
    for (int c = 64; c < b->ncols; c++) sp_vec_set_null(&b->cols[c], r);
    for (int k = 0; k < o->nkeys && o->key_src; k++) {
        int rc = sp_batch_copy_cell(b, k, r, o->key_src, k, o->key_row);
        if (rc) return o->err = rc;
        mark_written(o, k);
    }
    return 0;
}

void sp_out_end_row(spate_out *o)
{
    sp_batch *b = o->b;
    uint64_t all = b->ncols >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << b->ncols) - 1;
    for (uint64_t missing = all & ~o->written; missing; missing &= missing - 1)
        sp_vec_set_null(&b->cols[__builtin_ctzll(missing)], b->n);
    o->written = all;
}

int sp_out_commit(spate_out *o)
{
    if (o->err) return o->err;
    sp_out_end_row(o);
    o->b->n++;
    if (o->b->n == o->b->cap) {
        int rc = o->flush(o, o->flush_arg);
        if (rc) return o->err = rc;
    }
    return 0;
}

int spate_out_emit(spate_out *o)
{
    int rc = sp_out_commit(o);
    return rc ? rc : sp_out_begin(o);
}

static sp_vec *out_vec(spate_out *o, int col, int want_str, int want_double)
{
    if (o->err) return NULL;
    if (col < 0 || col >= o->ncols) {
        o->err = sp_err(SPATE_EINVAL, "output column %d out of range (%d columns)", col,
                        o->ncols);
        return NULL;
    }
    int bc = o->first_col + col;
    sp_vec *v = &o->b->cols[bc];
    int is_str = sp_type_is_str(v->type), is_dbl = v->type == SPATE_FLOAT64;
    if (is_str != want_str || (want_double && !is_dbl && !is_str)) {
        o->err = sp_err(SPATE_ETYPE, "output column '%s' is %s",
                        o->b->schema->f[o->first_col + col].name, spate_type_name(v->type));
        return NULL;
    }
    if (v->has_nulls) sp_vec_clear_null(v, o->b->n);
    mark_written(o, bc);
    return v;
}

int spate_out_set_null(spate_out *o, int col)
{
    if (col < 0 || col >= o->ncols) return SPATE_EINVAL;
    sp_vec_set_null(&o->b->cols[o->first_col + col], o->b->n);
    mark_written(o, o->first_col + col);
    return 0;
}

int spate_out_set_int(spate_out *o, int col, int64_t x)
{
    sp_vec *v = out_vec(o, col, 0, 0);
    if (!v) return o->err;
    if (v->type == SPATE_FLOAT64) SP_F64(v)[o->b->n] = (double)x;
    else sp_vec_put_int(v, o->b->n, x);
    return 0;
}

int spate_out_set_double(spate_out *o, int col, double x)
{
    sp_vec *v = out_vec(o, col, 0, 1);
    if (!v) return o->err;
    SP_F64(v)[o->b->n] = x;
    return 0;
}

int spate_out_set_str(spate_out *o, int col, const char *p, size_t len)
{
    sp_vec *v = out_vec(o, col, 1, 0);
    if (!v) return o->err;
    char *d = sp_arena_dup(&o->b->arena, p, len);
    if (!d) return o->err = SPATE_ENOMEM;
    SP_STR(v)[o->b->n] = (spate_str){d, len};
    return 0;
}

int spate_out_set_from(spate_out *o, int col, const spate_row *r, int src_col)
{
    if (col < 0 || col >= o->ncols || src_col < 0 || src_col >= r->ncols)
        return o->err = sp_err(SPATE_EINVAL, "column out of range in spate_out_set_from");
    int dc = o->first_col + col, sc = r->first_col + src_col;
    if (o->b->cols[dc].type != r->batch->cols[sc].type)
        return o->err = sp_err(SPATE_ETYPE, "spate_out_set_from: column '%s' is %s, source is %s",
                               o->b->schema->f[dc].name, spate_type_name(o->b->cols[dc].type),
                               spate_type_name(r->batch->cols[sc].type));
    int rc = sp_batch_copy_cell(o->b, dc, o->b->n, r->batch, sc, r->index);
    if (rc) return o->err = rc;
    mark_written(o, dc);
    return 0;
}

void sp_rows_init(spate_rows *rs, const spate_schema *schema, int64_t time_ms)
{
    memset(rs, 0, sizeof *rs);
    rs->schema = schema;
    rs->time_ms = time_ms;
}

int sp_rows_add(spate_rows *rs, sp_batch *b)
{
    if (rs->nb == rs->capb) {
        int cap = rs->capb ? rs->capb * 2 : 8;
        sp_batch **nb = realloc(rs->batches, (size_t)cap * sizeof *nb);
        if (!nb) return SPATE_ENOMEM;
        rs->batches = nb;
        size_t *ns = realloc(rs->starts, (size_t)cap * sizeof *ns);
        if (!ns) return SPATE_ENOMEM;
        rs->starts = ns;
        rs->capb = cap;
    }
    rs->batches[rs->nb] = b;
    rs->starts[rs->nb] = rs->count;
    rs->nb++;
    rs->count += sp_batch_count(b);
    return 0;
}

void sp_rows_clear(spate_rows *rs)
{
    if (rs->owns_batches)
        for (int i = 0; i < rs->nb; i++) sp_batch_free(rs->batches[i]);
    free(rs->batches);
    free(rs->starts);
    rs->batches = NULL;
    rs->starts = NULL;
    rs->nb = rs->capb = 0;
    rs->count = 0;
}

size_t spate_rows_count(const spate_rows *rs)
{
    return rs ? rs->count : 0;
}

int spate_rows_get(const spate_rows *rs, size_t i, spate_row *row)
{
    if (!rs || i >= rs->count) return sp_err(SPATE_EINVAL, "row %zu out of range", i);
    int lo = 0, hi = rs->nb - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (rs->starts[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    const sp_batch *b = rs->batches[lo];
    sp_row_set(row, b, sp_batch_phys(b, (uint32_t)(i - rs->starts[lo])), 0, b->ncols);
    return 0;
}

const spate_schema *spate_rows_schema(const spate_rows *rs)
{
    return rs ? rs->schema : NULL;
}

int64_t spate_rows_time(const spate_rows *rs)
{
    return rs ? rs->time_ms : 0;
}

void spate_rows_free(spate_rows *rs)
{
    if (!rs) return;
    sp_rows_clear(rs);
    free(rs);
}
