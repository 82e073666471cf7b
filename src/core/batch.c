/*
 * batch.c - batch buffers, row copies and the per-worker batch pool.
 *
 * Column buffers are sized for the largest element (16 bytes, a spate_str) the
 * first time a column slot is used, so a pooled batch can be reshaped for any
 * schema of the same or fewer columns without reallocating.
 */
#include "core/batch.h"

#include <stdlib.h>
#include <string.h>

sp_batch *sp_batch_new(uint32_t cap)
{
    sp_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cap = cap;
    b->sel = malloc(cap * sizeof *b->sel);
    b->hashes = malloc(cap * sizeof *b->hashes);
    if (!b->sel || !b->hashes) {
        sp_batch_free(b);
        return NULL;
    }
    return b;
}

void sp_batch_free(sp_batch *b)
{
    if (!b) return;
    for (int i = 0; i < b->cap_cols; i++) {
        free(b->cols[i].data);
        free(b->cols[i].nulls);
    }
    free(b->cols);
    free(b->sel);
    free(b->hashes);
    sp_arena_free(&b->arena);
    free(b);
}

/* Gives column slot i buffers for the batch's capacity and an all-clear null map.
 * Each buffer on its own: after a failed allocation a later call retries the
 * missing one instead of keeping a column with data but no null bitmap. */
static int vec_prepare(sp_batch *b, int i, spate_type type)
{
    sp_vec *v = &b->cols[i];
    size_t null_words = (b->cap + 63) / 64;
    if (!v->data) {
        v->data_bytes = (size_t)b->cap * sizeof(spate_str);
        v->data = malloc(v->data_bytes);
    }
    if (!v->nulls) v->nulls = calloc(null_words, sizeof(uint64_t));
    if (!v->data || !v->nulls) return SPATE_ENOMEM;
    if (v->has_nulls) memset(v->nulls, 0, null_words * sizeof(uint64_t));
    v->type = type;
    v->has_nulls = 0;
    return 0;
}

static int ensure_col_slots(sp_batch *b, int ncols)
{
    if (ncols <= b->cap_cols) return 0;
    sp_vec *cols = realloc(b->cols, (size_t)ncols * sizeof *cols);
    if (!cols) return SPATE_ENOMEM;
    memset(cols + b->cap_cols, 0, (size_t)(ncols - b->cap_cols) * sizeof *cols);
    b->cols = cols;
    b->cap_cols = ncols;
    return 0;
}

int sp_batch_reset(sp_batch *b, const spate_schema *schema)
{
    int ncols = schema ? schema->n : 0;
    if (ensure_col_slots(b, ncols)) return SPATE_ENOMEM;
    for (int i = 0; i < ncols; i++)
        if (vec_prepare(b, i, schema->f[i].type)) return SPATE_ENOMEM;
    b->schema = schema;
    b->ncols = ncols;
    b->n = 0;
    b->has_sel = 0;
    b->nsel = 0;
    b->has_hashes = 0;
    b->time_ms = 0;
    b->next = NULL;
    sp_arena_reset(&b->arena);
    return 0;
}

int sp_batch_widen(sp_batch *b, const spate_schema *schema)
{
    if (ensure_col_slots(b, schema->n)) return SPATE_ENOMEM;
    for (int i = b->ncols; i < schema->n; i++)
        if (vec_prepare(b, i, schema->f[i].type)) return SPATE_ENOMEM;
    b->ncols = schema->n;
    b->schema = schema;
    return 0;
}

uint32_t sp_batch_add_null_row(sp_batch *b)
{
    uint32_t r = b->n++;
    for (int c = 0; c < b->ncols; c++) sp_vec_set_null(&b->cols[c], r);
    return r;
}

int sp_batch_copy_cell(sp_batch *dst, int dc, uint32_t dr, const sp_batch *src, int sc,
                       uint32_t sr)
{
    sp_vec *d = &dst->cols[dc];
    const sp_vec *s = &src->cols[sc];
    if (sp_vec_is_null(s, sr)) {
        sp_vec_set_null(d, dr);
        return 0;
    }
    if (d->has_nulls) sp_vec_clear_null(d, dr);
    switch (d->type) {
    case SPATE_STRING:
    case SPATE_BYTES: {
        spate_str v = SP_STR(s)[sr];
        char *p = sp_arena_dup(&dst->arena, v.ptr, v.len);
        if (!p) return SPATE_ENOMEM;
        SP_STR(d)[dr] = (spate_str){p, v.len};
        break;
    }
    case SPATE_FLOAT64: SP_F64(d)[dr] = SP_F64(s)[sr]; break;
    default: sp_vec_put_int(d, dr, sp_vec_get_int(s, sr)); break;
    }
    return 0;
}

int sp_batch_append_row(sp_batch *dst, const sp_batch *src, uint32_t sr)
{
    uint32_t dr = dst->n;
    for (int c = 0; c < dst->ncols; c++) {
        if (dst->cols[c].has_nulls) sp_vec_clear_null(&dst->cols[c], dr);
        int rc = sp_batch_copy_cell(dst, c, dr, src, c, sr);
        if (rc) return rc;
    }
    if (src->has_hashes) dst->hashes[dr] = src->hashes[sr];
    dst->n++;
    return 0;
}

/* Moves the rows sel[0..n) of v to the front: one typed loop per element width, so
 * the compiler emits plain loads and stores instead of a memcpy call per cell. */
static void compact_vec(sp_vec *v, const uint32_t *sel, uint32_t n)
{
    switch (sp_type_size(v->type)) {
    case 1:
        for (uint32_t i = 0; i < n; i++) SP_BOOL(v)[i] = SP_BOOL(v)[sel[i]];
        break;
    case 4:
        for (uint32_t i = 0; i < n; i++) SP_I32(v)[i] = SP_I32(v)[sel[i]];
        break;
    case 8:
        for (uint32_t i = 0; i < n; i++) SP_I64(v)[i] = SP_I64(v)[sel[i]];
        break;
    default:
        for (uint32_t i = 0; i < n; i++) SP_STR(v)[i] = SP_STR(v)[sel[i]];
        break;
    }
    if (!v->has_nulls) return;
    for (uint32_t i = 0; i < n; i++) {
        if (sp_vec_is_null(v, sel[i])) sp_vec_set_null(v, i);
        else sp_vec_clear_null(v, i);
    }
}

void sp_batch_compact(sp_batch *b)
{
    if (!b->has_sel) return;
    for (int c = 0; c < b->ncols; c++) compact_vec(&b->cols[c], b->sel, b->nsel);
    if (b->has_hashes)
        for (uint32_t i = 0; i < b->nsel; i++) b->hashes[i] = b->hashes[b->sel[i]];
    b->n = b->nsel;
    b->has_sel = 0;
}

sp_batch *sp_batch_clone(const sp_batch *b)
{
    sp_batch *c = sp_batch_new(b->cap);
    if (!c || sp_batch_reset(c, b->schema)) {
        sp_batch_free(c);
        return NULL;
    }
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++)
        if (sp_batch_append_row(c, b, sp_batch_phys(b, i))) {
            sp_batch_free(c);
            return NULL;
        }
    c->has_hashes = b->has_hashes;
    c->time_ms = b->time_ms;
    return c;
}

void sp_pool_init(sp_pool *p, uint32_t rows, int max)
{
    p->free = NULL;
    p->cap = rows;
    p->count = 0;
    p->max = max;
    atomic_init(&p->returned, NULL);
}

/* Moves the batches other workers handed back into the free list. */
static void take_returned(sp_pool *p)
{
    sp_batch *b = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
    while (b) {
        sp_batch *next = b->next;
        if (p->count < p->max) {
            b->next = p->free;
            p->free = b;
            p->count++;
        } else {
            sp_batch_free(b);
        }
        b = next;
    }
}

sp_batch *sp_pool_get(sp_pool *p, const spate_schema *schema)
{
    if (!p->free) take_returned(p);
    sp_batch *b = p->free;
    if (b) {
        p->free = b->next;
        p->count--;
    } else {
        b = sp_batch_new(p->cap);
        if (!b) return NULL;
        b->home = p;
    }
    if (sp_batch_reset(b, schema)) {
        sp_batch_free(b);
        return NULL;
    }
    return b;
}

void sp_pool_put(sp_pool *p, sp_batch *b)
{
    if (!b) return;
    if (b->cap != p->cap) {
        sp_batch_free(b);
        return;
    }
    if (b->home && b->home != p) {
        sp_pool *home = b->home;
        b->next = atomic_load_explicit(&home->returned, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&home->returned, &b->next, b,
                                                      memory_order_release,
                                                      memory_order_relaxed))
            ;
        return;
    }
    if (p->count >= p->max) {
        sp_batch_free(b);
        return;
    }
    b->home = p;
    b->next = p->free;
    p->free = b;
    p->count++;
}

void sp_pool_destroy(sp_pool *p)
{
    sp_batch *lists[2] = {p->free, atomic_exchange(&p->returned, NULL)};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            sp_batch *b = lists[i];
            lists[i] = b->next;
            sp_batch_free(b);
        }
    p->free = NULL;
    p->count = 0;
}
