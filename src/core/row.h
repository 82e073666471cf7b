/*
 * row.h - the row accessor API that user callbacks see (spate_row, spate_out,
 * spate_rows), bridging one row at a time to the columnar batches.
 */
#ifndef SP_ROW_H
#define SP_ROW_H

#include "core/batch.h"

struct spate_out {
    sp_batch *b;       /* batch being filled */
    int first_col;     /* user column 0 is batch column first_col */
    int ncols;         /* user-visible columns */
    /* Key columns copied into each new row (mapValues, flatMapValues). */
    const sp_batch *key_src;
    uint32_t key_row;
    int nkeys;
    /* Called when b is full: must hand b on and install a fresh batch in o->b. */
    int (*flush)(struct spate_out *o, void *arg);
    void *flush_arg;
    int err;           /* first setter error, checked by the operator after the callback */
    /* Batch columns (< 64) written in the row being built. The others become NULL
     * when the row ends; columns from 64 on are made NULL when it begins. Deferring
     * keeps a fully written row free of null-bitmap work, and its batch free of
     * has_nulls, which the vectorized paths (key hashing) rely on. */
    uint64_t written;
};

/* Prepares o to build rows into b (which must have room). */
void sp_out_init(spate_out *o, sp_batch *b, int first_col, int ncols,
                 int (*flush)(spate_out *, void *), void *arg);
/* Starts a new row: all columns NULL, key columns copied from key_src if set. */
int sp_out_begin(spate_out *o);
/* Makes the columns the row being built did not set NULL, without committing it:
 * for code that reads the row in place. */
void sp_out_end_row(spate_out *o);
/* Ends the row being built (spate_out_emit without starting the next one). */
int sp_out_commit(spate_out *o);

/* A row set: the live rows of several batches of one schema. */
struct spate_rows {
    const spate_schema *schema;
    sp_batch **batches;
    size_t *starts;    /* starts[i] = rows before batch i */
    int nb, capb;
    size_t count;
    int64_t time_ms;
    int owns_batches;  /* slice results own deep copies */
};

void sp_rows_init(spate_rows *rs, const spate_schema *schema, int64_t time_ms);
int sp_rows_add(spate_rows *rs, sp_batch *b);
/* Frees the arrays (and the batches when owned); rs itself is not freed. */
void sp_rows_clear(spate_rows *rs);

static inline void sp_row_set(spate_row *r, const sp_batch *b, uint32_t phys, int first_col,
                              int ncols)
{
    r->batch = b;
    r->index = phys;
    r->first_col = first_col;
    r->ncols = ncols;
}

#endif
