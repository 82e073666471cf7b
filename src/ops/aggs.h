/*
 * aggs.h - the built-in aggregates (spate_agg_kind), shared by the keyed
 * aggregates (keyed.c: aggregate_by_key, aggregate_changelog, count) and the
 * window aggregates (window.c), internal to src/ops.
 *
 * An aggregate is a spec (what to compute over which column) and, for every key
 * (and window, or pane), an accumulator cell. The operators decide where cells
 * live - value areas of a key table, a window slot store - and this module does
 * everything else with them: fold rows in (a whole batch through a row -> cell
 * map, vectorized, or one row), merge two cells (panes, sessions), compare them,
 * write the result into an output row, release what they own, and write or read
 * them in checkpoints. A zeroed cell is an empty accumulator, and a cell must be
 * released (sp_ag_release) before the operator drops or zeroes it: string
 * extremes, FIRST/LAST strings, distinct sets, HyperLogLog registers and
 * percentile sketches are heap memory the cell owns. aggs.c describes each
 * kind's state, cost and error bound.
 */
#ifndef SP_AGGS_H
#define SP_AGGS_H

#include "checkpoint/serde.h"
#include "core/batch.h"

#include <stdint.h>

typedef enum sp_ag_op {
    SP_AG_COUNT,     /* rows */
    SP_AG_COUNT_COL, /* non-NULL values */
    SP_AG_SUM_I,
    SP_AG_SUM_D,
    SP_AG_AVG, /* sums into a double, integer columns too */
    SP_AG_MIN_I,
    SP_AG_MAX_I,
    SP_AG_MIN_D,
    SP_AG_MAX_D,
    SP_AG_MIN_S,
    SP_AG_MAX_S,
    SP_AG_FIRST, /* of any column type */
    SP_AG_LAST,
    SP_AG_DISTINCT, /* exact COUNT DISTINCT */
    SP_AG_HLL,      /* APPROX_COUNT_DISTINCT */
    SP_AG_PCTL      /* APPROX_PERCENTILE */
} sp_ag_op;

typedef struct sp_ag_spec {
    sp_ag_op op;
    int col;         /* input column; -1 for COUNT */
    spate_type type; /* the input column's type (COUNT: BIGINT) */
    spate_type out;  /* the output column's type */
    int owns;        /* cells can own memory (strings, sets, sketches) */
    double param;    /* APPROX_PERCENTILE: the quantile */
    int retract;     /* aggregate_retract's cells (sp_ag_make_retract) */
} sp_ag_spec;

/* One accumulator (or, for the changelog, one kept result: n = 0 for NULL). */
typedef struct sp_ag_cell {
    union {
        int64_t i;
        double d;
        spate_str s;
        void *p;
    } v;
    int64_t n; /* rows folded in: all for COUNT, non-NULL ones otherwise */
} sp_ag_cell;

/* Resolves agg against the input schema in and appends its output column to out
 * (named agg->as, else "count" or "<kind>_<column>"). Failures name the operator
 * `what`, the aggregate and the column: SPATE_EINVAL (unknown kind, quantile
 * outside [0, 1]), SPATE_ENOTFOUND (no such column), SPATE_ETYPE (a column type
 * the aggregate does not take). */
int sp_ag_resolve(const spate_schema *in, const spate_agg *agg, sp_ag_spec *spec, spate_schema *out,
                  const char *what);

/* Where the cells of a batch's rows are: live row i's cell of aggregate a is
 * ((sp_ag_cell *)(base + ent[i] * stride))[a] - the value areas of a key table. */
typedef struct sp_ag_rows {
    uint8_t *base;
    size_t stride;
    const uint32_t *ent;
} sp_ag_rows;

/* Folds every live row of b into its cell of aggregate a: one loop over the
 * column (the simple kinds are vectorized, the others fold row by row).
 * 0 or SPATE_ENOMEM. */
int sp_ag_fold_batch(const sp_ag_spec *s, int a, const sp_ag_rows *m, const sp_batch *b);
/* Makes dst (released first) an exact copy of src. 0 or SPATE_ENOMEM. */
int sp_ag_copy(const sp_ag_spec *s, sp_ag_cell *dst, const sp_ag_cell *src);
/* Same row count and same result. */
int sp_ag_equal(const sp_ag_spec *s, sp_ag_cell *a, sp_ag_cell *b);

/* The per-row paths (window folds, pane merges, slots given back) inline the
 * simple kinds below and call these for the others. */
int sp_ag_fold_value(const sp_ag_spec *s, sp_ag_cell *c, const sp_vec *v, uint32_t r);
int sp_ag_merge_value(const sp_ag_spec *s, sp_ag_cell *dst, const sp_ag_cell *src, int src_first);
void sp_ag_free(const sp_ag_spec *s, sp_ag_cell *c);

/* Folds physical row r of b into c. 0 or SPATE_ENOMEM. */
static inline int sp_ag_fold_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_batch *b, uint32_t r)
{
    if (s->op == SP_AG_COUNT) {
        c->n++;
        return 0;
    }
    const sp_vec *v = &b->cols[s->col];
    if (sp_vec_is_null(v, r)) return 0;
    switch (s->op) {
    case SP_AG_COUNT_COL:
        break;
    case SP_AG_SUM_I:
        c->v.i = (int64_t)((uint64_t)c->v.i + (uint64_t)sp_vec_get_int(v, r));
        break;
    case SP_AG_SUM_D:
        c->v.d += SP_F64(v)[r];
        break;
    case SP_AG_AVG:
        c->v.d += v->type == SPATE_FLOAT64 ? SP_F64(v)[r] : (double)sp_vec_get_int(v, r);
        break;
    case SP_AG_MIN_I:
    case SP_AG_MAX_I: {
        int64_t x = sp_vec_get_int(v, r);
        if (c->n == 0 || (s->op == SP_AG_MIN_I ? x < c->v.i : x > c->v.i)) c->v.i = x;
        break;
    }
    case SP_AG_MIN_D:
    case SP_AG_MAX_D: {
        double x = SP_F64(v)[r];
        if (c->n == 0 || (s->op == SP_AG_MIN_D ? x < c->v.d : x > c->v.d)) c->v.d = x;
        break;
    }
    default:
        return sp_ag_fold_value(s, c, v, r);
    }
    c->n++;
    return 0;
}

/* Merges src into dst. For FIRST/LAST the order matters: src's rows came after
 * dst's unless src_first. 0 or SPATE_ENOMEM. */
static inline int sp_ag_merge(const sp_ag_spec *s, sp_ag_cell *dst, const sp_ag_cell *src,
                              int src_first)
{
    if (src->n == 0) return 0;
    switch (s->op) {
    case SP_AG_COUNT:
    case SP_AG_COUNT_COL:
        break;
    case SP_AG_SUM_I:
        dst->v.i = (int64_t)((uint64_t)dst->v.i + (uint64_t)src->v.i);
        break;
    case SP_AG_SUM_D:
    case SP_AG_AVG:
        dst->v.d += src->v.d;
        break;
    default:
        return sp_ag_merge_value(s, dst, src, src_first);
    }
    dst->n += src->n;
    return 0;
}

/* Frees what c owns and zeroes it (an empty accumulator again). */
static inline void sp_ag_release(const sp_ag_spec *s, sp_ag_cell *c)
{
    if (s->owns) sp_ag_free(s, c);
    *c = (sp_ag_cell){.n = 0};
}

/* The result of c (n = 0: NULL), borrowing c's strings. Not const: computing a
 * percentile sorts the sketch's buffers in place (its contents do not change). */
void sp_ag_result(const sp_ag_spec *s, sp_ag_cell *c, sp_ag_cell *res);
/* Writes the result of c into column col of row r of out. 0 or SPATE_ENOMEM. */
int sp_ag_write(const sp_ag_spec *s, sp_ag_cell *c, sp_batch *out, int col, uint32_t r);

/* Results kept by the changelog (what a key emitted last). */
int sp_ag_value_write(const sp_ag_spec *s, const sp_ag_cell *res, sp_batch *out, int col,
                      uint32_t r);
int sp_ag_value_equal(const sp_ag_spec *s, const sp_ag_cell *a, const sp_ag_cell *b);
/* Stores res into kept, copying a string into memory kept owns. 0 or SPATE_ENOMEM. */
int sp_ag_value_keep(const sp_ag_spec *s, sp_ag_cell *kept, const sp_ag_cell *res);
void sp_ag_value_release(const sp_ag_spec *s, sp_ag_cell *kept);

/* Retractions (aggregate_retract). sp_ag_make_retract turns a resolved spec into
 * one whose cells also take retractions: COUNT, COUNT_COLUMN, SUM and AVG keep
 * their usual cells and subtract; MIN, MAX, FIRST_VALUE, LAST_VALUE and
 * COUNT_DISTINCT keep the multiset of their live values instead (aggs.c), which
 * the cell owns. SPATE_EUNSUPPORTED, naming `what` and agg, for the sketches
 * (APPROX_COUNT_DISTINCT, APPROX_PERCENTILE), which cannot forget a value.
 * Such cells are built only by sp_ag_add_row and sp_ag_retract_row (never the
 * fold, merge or copy functions above); sp_ag_result, sp_ag_release and the
 * checkpoint functions below take them. */
int sp_ag_make_retract(const spate_agg *agg, sp_ag_spec *s, const char *what);
/* Adds physical row r of b to c. 0 or SPATE_ENOMEM. */
int sp_ag_add_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_batch *b, uint32_t r);
/* Whether c can retract row r: its value is NULL (nothing to retract), or c
 * holds it - a live value of the multiset kinds; for the others, as far as they
 * can tell, a row (COUNT) or a non-NULL value (the rest) at all. */
int sp_ag_holds_row(const sp_ag_spec *s, const sp_ag_cell *c, const sp_batch *b, uint32_t r);
/* Retracts row r from c, which holds it (sp_ag_holds_row): the value's oldest
 * live instance goes. Never fails. */
void sp_ag_retract_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_batch *b, uint32_t r);

/* Checkpoints: a cell, or a kept result. The readers replace what the cell held;
 * a read error is left sticky in r for the caller. 0 or SPATE_ENOMEM. */
void sp_ag_out(sp_wbuf *w, const sp_ag_spec *s, const sp_ag_cell *c);
int sp_ag_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *c);
void sp_ag_value_out(sp_wbuf *w, const sp_ag_spec *s, const sp_ag_cell *kept);
int sp_ag_value_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *kept);

#endif
