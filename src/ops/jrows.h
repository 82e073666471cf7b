/*
 * jrows.h - rows kept by the event-time joins (interval_join.c, window_join.c)
 * and Window Top-N (topn.c), internal to src/ops.
 *
 *   sp_jrow    one kept row: its event time, flags, and a copy of a run of its
 *              columns in one allocation of its own, so that it can be freed alone
 *              (an arena would only shrink when every row in it had gone)
 *   sp_jlist   one key's rows of one side, ordered by event time (arrival order
 *              among equal times), dropped from the front as time passes
 *   sp_jheap   a min-heap of (time, id): what is due when the watermark passes
 *   sp_jkeys   a key table whose keys can die: the table cannot delete one entry,
 *              so it is rebuilt from the live entries once the dead ones outnumber
 *              them, which keeps it proportional to the live keys
 *   state I/O  a row in a checkpoint, a one-row batch shaped like the key; the
 *              snapshot and restore of a key table, and of a key's two side lists
 *   checks     two keyed inputs, their time columns, the join output schema (the
 *              per-micro-batch join.c uses these, and sp_jnode_add, too)
 *   building   the configuration the two event-time joins share, the parts of
 *              their state it shapes, their node
 *   output     a join output row from a key and a kept row per side; the end of
 *              a call (late rows counted, output emitted); the operators' errors
 *
 * A row copy is laid out as a null bitmap of ceil(n / 8) bytes, one 8-byte cell
 * per column (the integer, the double's bits, or a string's offset and length as
 * two uint32) and the string bytes; checkpoints do not see this layout (rows go
 * through sp_w_row / sp_r_row).
 */
#ifndef SP_JROWS_H
#define SP_JROWS_H

#include "checkpoint/serde.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <stdint.h>

/* ------------------------------------------------------------- row copies */

enum {
    SP_JROW_MATCHED = 1, /* joined at least once */
    SP_JROW_PADDED = 2,  /* emitted NULL-padded already (end of input, checkpointed) */
    SP_JROW_OLD = 4      /* seen by a firing at the end of input (window join) */
};

typedef struct sp_jrow {
    int64_t t;          /* event time, µs */
    uint32_t flags;     /* SP_JROW_* */
    uint32_t size;      /* bytes of data */
    unsigned char data[];
} sp_jrow;

/* A copy of columns [first, first + n) of physical row r of b, at time t. NULL
 * when out of memory. Free with free(). */
sp_jrow *sp_jrow_new(const sp_batch *b, uint32_t r, int first, int n, int64_t t);
/* Writes the n columns of x into columns [dc, dc + n) of row r of out (same types);
 * strings are copied into out's arena. 0 or SPATE_ENOMEM. */
int sp_jrow_put(const sp_jrow *x, int n, sp_batch *out, uint32_t r, int dc);
/* Column c of x (n columns): 1 when NULL; else 0 with its 8-byte cell in *bits
 * (integers, or a double's bits) or, for STRING and BYTES, its bytes in *s. */
int sp_jrow_get(const sp_jrow *x, int n, int c, spate_type type, int64_t *bits, spate_str *s);

/* --------------------------------------------------- rows of a key, by time */

typedef struct sp_jlist {
    sp_jrow **r;        /* live rows are r[head, n) */
    uint32_t head, n, cap;
} sp_jlist;

static inline uint32_t sp_jlist_count(const sp_jlist *l)
{
    return l->n - l->head;
}
static inline sp_jrow *sp_jlist_at(const sp_jlist *l, uint32_t i)
{
    return l->r[l->head + i];
}
/* Inserts x after the rows with a time <= its own. 0 or SPATE_ENOMEM. */
int sp_jlist_insert(sp_jlist *l, sp_jrow *x);
/* Index (0 = first live row) of the first row with time >= t. */
uint32_t sp_jlist_lower(const sp_jlist *l, int64_t t);
/* Takes the first row off the list (the caller frees it). */
sp_jrow *sp_jlist_pop(sp_jlist *l);
/* Frees every row and the array. */
void sp_jlist_free(sp_jlist *l);

/* ------------------------------------------------------------ a time heap */

/* A min-heap of (time, id): when keys expire or groups and windows fire. */
typedef struct sp_jdue {
    int64_t t;
    int64_t id;
} sp_jdue;

typedef struct sp_jheap {
    sp_jdue *h;
    uint32_t n, cap;
} sp_jheap;

/* 0 or SPATE_ENOMEM. */
int sp_jheap_push(sp_jheap *q, int64_t t, int64_t id);
/* Takes the entry with the least time off the heap (which must not be empty). */
sp_jdue sp_jheap_pop(sp_jheap *q);

/* ------------------------------------------------------ keys that can die */

typedef struct sp_jkeys {
    sp_keytable t;
    uint32_t dead;      /* entries whose state is gone (counted by the caller) */
    int nkeys;
    spate_schema *key_schema;
    sp_batch *key;      /* one row shaped like the key (compaction, checkpoints) */
} sp_jkeys;

/* An empty table of keys of key_schema (copied) with value_size bytes of value.
 * 0 or SPATE_ENOMEM. */
int sp_jkeys_init(sp_jkeys *k, const spate_schema *key_schema, size_t value_size);
void sp_jkeys_free(sp_jkeys *k);
/* Worth compacting: more dead entries than live ones, and not a handful. */
int sp_jkeys_should_compact(const sp_jkeys *k);
/* Rebuilds the table from the entries live() accepts, in their order, moving
 * their value areas. With remap, *remap gets a malloc'd array: old entry ->
 * new entry, or UINT32_MAX for a dropped one. 0 or SPATE_ENOMEM (the table is
 * then unchanged). */
int sp_jkeys_compact(sp_jkeys *k, int (*live)(const void *value), uint32_t **remap);

/* ------------------------------------------------------------ rows in state */

/* Writes row x (n columns) as sp_w_row does, through the one-row batch scratch
 * shaped like its columns. 0 or SPATE_ENOMEM. */
int sp_jrow_write(sp_wbuf *w, const sp_jrow *x, int n, sp_batch *scratch);
/* Reads a row written by sp_jrow_write into a new copy at time t; NULL with *rc
 * SPATE_EPARSE or SPATE_ENOMEM. */
sp_jrow *sp_jrow_read(sp_rbuf *r, int n, sp_batch *scratch, int64_t t, int *rc);
/* A one-row batch of schema (which must outlive it); NULL when out of memory. */
sp_batch *sp_jrow_scratch(const spate_schema *schema);

/* The state of each operator here, per key group: a version byte and the watermark,
 * then per live key its key columns (sp_w_row) and what the operator writes of it.
 * The instance file holds the version and the watermark alone, so an instance that
 * owns no key group after rescaling still knows what is late. */

/* Writes that state: the instance file, then each entry that live() accepts, into
 * its key group's buffer (the header first when the buffer is new): its key, then
 * what body(w, e, arg) writes (0 or SPATE_ENOMEM). 0 or SPATE_ENOMEM. */
int sp_jkeys_snapshot(sp_jkeys *k, sp_state_out *s, int key_groups, uint8_t version, int64_t wm,
                      int (*live)(const void *value),
                      int (*body)(sp_wbuf *w, uint32_t e, void *arg), void *arg);
/* Reads state written by sp_jkeys_snapshot: checks each header's version and raises
 * *wm to its watermark; finds or inserts each key with the exchange's hash (so keys
 * reach the instance owning their key group for any worker count), and key_in(r, e,
 * arg) reads the rest of entry e. 0, SPATE_EPARSE, SPATE_ENOMEM or key_in's error. */
int sp_jkeys_restore(sp_jkeys *k, sp_state_in *s, uint8_t version, int64_t *wm,
                     int (*key_in)(sp_rbuf *r, uint32_t e, void *arg), void *arg);

/* A key's rows of the two sides of a join (nv[s] value columns each, written
 * through the one-row batches scratch[s]): per side the row count, then each row as
 * its time, its flags (a byte) and its values (sp_jrow_write). 0 or SPATE_ENOMEM. */
int sp_jsides_write(sp_wbuf *w, const sp_jlist side[2], const int nv[2],
                    sp_batch *const scratch[2]);
/* Reads the rows sp_jsides_write wrote for entry e: each becomes a new copy with
 * its flags that are in mask, handed to keep(arg, e, s, x) for side s, which takes
 * it over when it returns 0 (else it is freed). 0, SPATE_EPARSE, SPATE_ENOMEM or
 * keep's error. */
int sp_jsides_read(sp_rbuf *r, uint32_t e, const int nv[2], sp_batch *const scratch[2],
                   uint32_t mask, int (*keep)(void *arg, uint32_t e, int s, sp_jrow *x),
                   void *arg);

/* ------------------------------------------------------------------ checks */

/* Does a join of this kind emit side s's rows (0 left, 1 right) without a partner? */
static inline int sp_jkind_keeps(spate_join_kind kind, int s)
{
    return kind == SPATE_JOIN_FULL || kind == (s == 0 ? SPATE_JOIN_LEFT : SPATE_JOIN_RIGHT);
}

/* Checks that left and right can be joined (keyed, same context, equal key
 * types) and clears *out: 0, or an error naming `what`. */
int sp_jcheck_inputs(const spate_stream *l, const spate_stream *r, spate_stream **out,
                     const char *what);
/* The event-time column of s: the named TIMESTAMP column, or the stream's event
 * time when name is NULL. Its index, or an error naming `what` and `side`. */
int sp_jtime_column(const spate_stream *s, const char *name, const char *what, const char *side);
/* Columns [from, n) of s as a new schema; NULL when out of memory. */
spate_schema *sp_jschema_slice(const spate_stream *s, int from, int n);
/* Adds name, or name_right (repeatedly) while the name is taken. */
int sp_jschema_add_unique(spate_schema *s, const char *name, spate_type t);
/* The output schema of a join of l and r: the key columns (named as on the left),
 * a TIMESTAMP column per name of extra[0, nextra), the left values, the right
 * values; a name taken gets "_right" (sp_jschema_add_unique). NULL with *rc set. */
spate_schema *sp_jschema_out(const spate_stream *l, const spate_stream *r,
                             const char *const *extra, int nextra, int *rc);

/* ---------------------------------------------------------------- building */

/* What both event-time joins are configured with: each one's configuration
 * begins with it. */
typedef struct sp_jcfg {
    spate_join_kind kind;
    int nkeys, nv[2];           /* value columns per side (after the keys) */
    int tcol[2];                /* time column per side */
    spate_schema *key_schema, *vals[2];
} sp_jcfg;

/* A zeroed configuration of size bytes that begins with an sp_jcfg, that one
 * filled for a join of l and r of this kind, with time columns tl and tr. NULL when
 * out of memory (the error set). Freed by sp_jcfg_free. */
void *sp_jcfg_new(size_t size, const spate_stream *l, const spate_stream *r,
                  spate_join_kind kind, int tl, int tr);
/* Frees a configuration made by sp_jcfg_new (the joins' cfg_free). */
void sp_jcfg_free(void *cfg);
/* Opens the parts of a join's state that j shapes: keys (value_size bytes of value
 * each, beginning with the key's side lists: sp_jlist side[2]) and a one-row batch
 * per side shaped like its values. 0 or SPATE_ENOMEM (sp_jstate_close frees what
 * was made). */
int sp_jstate_open(const sp_jcfg *j, sp_jkeys *keys, size_t value_size, sp_batch *scratch[2]);
/* Frees the side lists of every key, the keys and the batches. */
void sp_jstate_close(sp_jkeys *keys, sp_batch *scratch[2]);
/* Adds the node of a join of l and r (class cls; cfg and schema taken over, as
 * sp_node_add does): each side hashed by its keys, or forwarded when already
 * partitioned; the output is partitioned. */
int sp_jnode_add(spate_stream *l, spate_stream *r, const sp_op_class *cls, void *cfg,
                 spate_schema *schema, spate_stream **out);

/* ------------------------------------------------------------------ output */

/* Fails op with a message naming it: SPATE_ENOMEM, out of memory; any other rc
 * (restoring), SPATE_EPARSE: a truncated or corrupt checkpoint. Returns the code. */
int sp_jfail(sp_op *op, int rc);
/* Ends a push or a watermark that returns rc: the *nlate late rows counted (and
 * *nlate cleared), *out emitted. rc, or the error of emitting. */
int sp_jcall_done(sp_op *op, sp_batch **out, uint64_t *nlate, int rc);

/* Appends a join output row to *out, made room for as sp_ops_out_room does, in the
 * layout of sp_jschema_out: the key of entry e of k, the nextra values of extra
 * (TIMESTAMPs), then the values of the left row l (nv[0] columns) and of the right
 * row r (nv[1]), a NULL row as NULLs. 0, or an error op has failed with. Inline: it
 * runs once per output row. */
static inline int sp_jemit(sp_op *op, sp_batch **out, const sp_jkeys *k, uint32_t e,
                           const int64_t *extra, int nextra, const int nv[2], const sp_jrow *l,
                           const sp_jrow *r)
{
    int rc = sp_ops_out_room(op, out);
    if (rc) return rc;
    sp_batch *b = *out;
    uint32_t row = b->n;
    if (sp_keytable_write_key(&k->t, e, b, row)) return sp_jfail(op, SPATE_ENOMEM);
    int dc = k->nkeys;
    for (int i = 0; i < nextra; i++, dc++) {
        if (b->cols[dc].has_nulls) sp_vec_clear_null(&b->cols[dc], row);
        SP_I64(&b->cols[dc])[row] = extra[i];
    }
    const sp_jrow *side[2] = {l, r};
    for (int s = 0; s < 2; dc += nv[s], s++) {
        if (side[s]) {
            if (sp_jrow_put(side[s], nv[s], b, row, dc)) return sp_jfail(op, SPATE_ENOMEM);
        } else {
            for (int c = 0; c < nv[s]; c++) sp_ops_set_null(&b->cols[dc + c], row);
        }
    }
    b->n++;
    return 0;
}

/* ------------------------------------------------------------------ counts */

/* Per-instance counts for tests: rows (interval and window join) or kept Top-N
 * rows held now, the most ever held, and the largest key table. Each operator's
 * state begins with this struct. */
typedef struct sp_jcount {
    uint64_t held, peak, peak_keys;
} sp_jcount;

static inline void sp_jcount_add(sp_jcount *c)
{
    if (++c->held > c->peak) c->peak = c->held;
}

static inline void sp_jcount_keys(sp_jcount *c, const sp_jkeys *k)
{
    if (sp_keytable_count(&k->t) > c->peak_keys) c->peak_keys = sp_keytable_count(&k->t);
}

/* For tests: the counts of the instances of s, summed. Only after the job ended
 * (spate_ctx_await_termination returned), before spate_ctx_free. */
int sp_jrows_held(const spate_stream *s, sp_jcount *sum);

#endif
