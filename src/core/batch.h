/*
 * batch.h - columnar batches, the unit of data everywhere in the engine.
 *
 * A batch holds up to `cap` rows of one schema as one vector per column:
 * fixed-width values in a flat array, strings as spate_str pointing into the
 * batch's arena (or into memory the arena owns, such as a copied input block),
 * a null bitmap per vector (bit set = NULL, meaningful only when has_nulls).
 *
 * A filter does not copy: it sets a selection vector (sel[0..nsel) lists the
 * physical rows that are live). Code that walks rows uses sp_batch_count and
 * sp_batch_phys so it works with and without a selection.
 *
 * Batches are pooled per worker (sp_pool) and keep their buffers between uses:
 * once warm, the hot path allocates nothing. A batch moves between workers by
 * pointer through the exchange queues; released on another worker, it goes back
 * to its home pool through that pool's lock-free return stack, so a worker that
 * produces batches for another one does not end up allocating new ones.
 */
#ifndef SP_BATCH_H
#define SP_BATCH_H

#include "core/arena.h"
#include "core/schema.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct sp_vec {
    spate_type type;
    int has_nulls;
    void *data;      /* cap elements of sp_type_size(type) */
    uint64_t *nulls; /* cap bits */
    size_t data_bytes; /* allocated bytes of data (kept across resets) */
} sp_vec;

typedef struct sp_batch {
    const spate_schema *schema;
    uint32_t n;        /* physical rows */
    uint32_t cap;      /* row capacity */
    int has_sel;
    uint32_t nsel;
    uint32_t *sel;     /* cap entries */
    int has_hashes;
    uint64_t *hashes;  /* cap entries: key hash per physical row, set by the exchange */
    int ncols, cap_cols;
    sp_vec *cols;
    sp_arena arena;
    int64_t time_ms;   /* processing time the batch was created (ingestion) */
    struct sp_batch *next; /* free list / queue link */
    struct sp_pool *home;  /* pool the batch came from (NULL: not pooled yet) */
} sp_batch;

sp_batch *sp_batch_new(uint32_t cap);
void sp_batch_free(sp_batch *b);
/* Empties b and shapes it for schema; 0 or SPATE_ENOMEM. */
int sp_batch_reset(sp_batch *b, const spate_schema *schema);

static inline uint32_t sp_batch_count(const sp_batch *b)
{
    return b->has_sel ? b->nsel : b->n;
}
static inline uint32_t sp_batch_phys(const sp_batch *b, uint32_t i)
{
    return b->has_sel ? b->sel[i] : i;
}
static inline int sp_vec_is_null(const sp_vec *v, uint32_t r)
{
    return v->has_nulls && ((v->nulls[r >> 6] >> (r & 63)) & 1);
}
static inline void sp_vec_set_null(sp_vec *v, uint32_t r)
{
    v->has_nulls = 1;
    v->nulls[r >> 6] |= (uint64_t)1 << (r & 63);
}
static inline void sp_vec_clear_null(sp_vec *v, uint32_t r)
{
    v->nulls[r >> 6] &= ~((uint64_t)1 << (r & 63));
}
#define SP_I64(v) ((int64_t *)(v)->data)
#define SP_I32(v) ((int32_t *)(v)->data)
#define SP_F64(v) ((double *)(v)->data)
#define SP_BOOL(v) ((uint8_t *)(v)->data)
#define SP_STR(v) ((spate_str *)(v)->data)

/* Reads any integer-like column (BOOL, INT32, INT64, TIMESTAMP) at physical row r. */
static inline int64_t sp_vec_get_int(const sp_vec *v, uint32_t r)
{
    switch (v->type) {
    case SPATE_BOOL: return SP_BOOL(v)[r];
    case SPATE_INT32: return SP_I32(v)[r];
    default: return SP_I64(v)[r];
    }
}
static inline void sp_vec_put_int(sp_vec *v, uint32_t r, int64_t x)
{
    switch (v->type) {
    case SPATE_BOOL: SP_BOOL(v)[r] = x != 0; break;
    case SPATE_INT32: SP_I32(v)[r] = (int32_t)x; break;
    default: SP_I64(v)[r] = x; break;
    }
}

/* Relabels b with schema, which extends b's schema by trailing columns; their
 * cells start non-NULL and unset. 0 or SPATE_ENOMEM. */
int sp_batch_widen(sp_batch *b, const spate_schema *schema);
/* Appends a NULL row (every column NULL) and returns its physical index. The caller
 * must have checked b->n < b->cap. */
uint32_t sp_batch_add_null_row(sp_batch *b);
/* Copies column sc of physical row sr of src into column dc of physical row dr of
 * dst (same type); strings are copied into dst's arena. 0 or SPATE_ENOMEM. */
int sp_batch_copy_cell(sp_batch *dst, int dc, uint32_t dr, const sp_batch *src, int sc,
                       uint32_t sr);
/* Appends physical row sr of src (same column types) to dst. */
int sp_batch_append_row(sp_batch *dst, const sp_batch *src, uint32_t sr);
/* Moves the live rows to the front and drops the selection vector. The selection
 * must be in ascending row order, as filters produce it. */
void sp_batch_compact(sp_batch *b);
/* Deep copy of b's live rows into a new batch (own arena). NULL when out of memory. */
sp_batch *sp_batch_clone(const sp_batch *b);

/* Per-worker pool of batches of one row capacity. Only its worker gets and puts;
 * other workers hand its batches back through `returned` (push with CAS, taken
 * all at once with an exchange, so there is no ABA problem). */
typedef struct sp_pool {
    sp_batch *free;
    uint32_t cap;     /* rows per batch */
    int count, max;   /* batches in the free list, and the most it keeps */
    _Atomic(sp_batch *) returned;
} sp_pool;

void sp_pool_init(sp_pool *p, uint32_t rows, int max);
/* A batch shaped for schema, from the pool or new; NULL when out of memory. */
sp_batch *sp_pool_get(sp_pool *p, const spate_schema *schema);
/* Releases b on the worker owning p: into p, or back to b's home pool. */
void sp_pool_put(sp_pool *p, sp_batch *b);
void sp_pool_destroy(sp_pool *p);

#endif
