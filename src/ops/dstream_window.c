/*
 * dstream_window.c - Spark's windowed DStream operations in the micro-batch style:
 * window, countByWindow, reduceByWindow, reduceByKeyAndWindow (with or without
 * an inverse function) and countByValueAndWindow.
 *
 * Time. Micro-batch k (k = 1, 2, ...) has time start + k * interval. A window of
 * L = length / interval batches is computed at the batches whose index is a
 * multiple of S = slide / interval (Spark: batch times that are multiples of the
 * slide since the start) and covers batches k-L+1 .. k. Batches before the first
 * one are empty. Length and slide must be positive multiples of the interval; the
 * continuous style has no batches and is refused (SPATE_EUNSUPPORTED).
 *
 * Panes. Each operator keeps one pane per micro-batch in a ring of L panes plus
 * the pane being filled; at every epoch the filled pane takes the ring slot of
 * the pane that leaves (batch k-L). The runtime starts every micro-batch, so
 * epochs are consecutive; a skipped index would simply be closed as empty.
 *  - window() keeps the input batches themselves (no copy) and, at a window
 *    boundary, copies the rows of the L panes, oldest batch first.
 *  - The reducing operators keep per pane one partial value per key: a key table
 *    shared by all panes maps a key to a stable entry, and a pane is the list of
 *    entries it touched with their values in a chunked value store (rows of the
 *    value schema), so callbacks see ordinary spate_row views. Without an inverse
 *    function each window folds its L panes, oldest first, into a scratch store;
 *    with one the window value per key is kept and updated at every batch as
 *    Spark's reduceByKeyAndWindow(func, invFunc) does: first inv(window, leaving
 *    pane), then func(result, entering pane). Both give the same rows.
 *
 * Keys whose window becomes empty. A key counts the ring panes holding it; when
 * the last one leaves, the key drops out of the window (Spark keeps such keys
 * with their "zero" value unless filterFunc removes them; dropping is what the
 * recomputing path does anyway, so both paths agree). inv_fn is therefore never
 * asked to produce an empty value: it runs only while the key stays in some pane.
 * Dead entries stay in the key table (it cannot delete one by one) until they
 * outnumber the live ones; then the table is rebuilt and the panes renumbered, an
 * O(keys) step amortized over the deaths that caused it. The rebuild also
 * reclaims the strings of replaced window values; between rebuilds they
 * accumulate in the store's arenas, as in keyed.c's running mode.
 *
 * Output order: entry order, i.e. the order keys were first seen on their worker
 * among those still alive, the same with and without inverse function.
 * countByWindow emits 0 for an empty window (as spate_count does for an empty
 * batch); reduceByWindow and the keyed operators emit nothing for it.
 *
 * End of input. When the last batch is not on a slide boundary, the operator
 * closes empty batches up to the next boundary and computes that window, as Spark
 * would had the job run until then, so no batch goes unreported. Every instance
 * sees the same epochs, so all of them compute that window (a per-instance "did I
 * have data" test would give a window holding only some workers' keys). Rows that
 * arrive after the last epoch (flushed by upstream operators at their finish)
 * count as one more batch, on the instances that got them. Rows computed at the
 * end of input reach outputs with the time of the last micro-batch. Trailing
 * windows after that boundary, which would only lose data, are not computed.
 * Placement: window() follows its input (FORWARD, per worker, keeping key and
 * partitioning); countByWindow and reduceByWindow GATHER into one instance;
 * reduceByKeyAndWindow and countByValueAndWindow are keyed (HASH, or FORWARD
 * when the input is partitioned).
 */
#include "checkpoint/serde.h"
#include "core/row.h"
#include "ops/ops.h"
#include "runtime/context.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <stdlib.h>
#include <string.h>

enum {
    STORE_ROWS = 256,          /* rows per value-store chunk */
    MAX_PANES = 1 << 20,       /* longest window, in batches */
    COMPACT_MIN_DEAD = 1024    /* dead keys tolerated before a rebuild is considered */
};

#define NO_BATCH INT64_MIN

/* ------------------------------------------------------------ batch clock */

/* Closes micro-batch k (its pane is complete); boundary: compute the window. */
typedef int (*dsw_close_fn)(sp_op *op, int64_t k, int boundary);

typedef struct dsw_cfg {
    int64_t interval_ms;
    int64_t panes;            /* L: batches per window */
    int64_t slide;            /* S: batches per slide */
} dsw_cfg;

/* First member of every operator state here: the batch bookkeeping shared by the
 * class epoch and finish. */
typedef struct dsw_clock {
    int64_t last_k;           /* last closed batch, NO_BATCH before the first */
    int pending;              /* the filling pane holds data */
    dsw_close_fn close;
    int64_t shift;            /* added to the runtime's batch index (restored runs) */
    int rebase;               /* restored: the next epoch is batch last_k + 1 */
} dsw_clock;

static int64_t batch_index(const sp_op *op, const dsw_cfg *cfg, int64_t time_ms)
{
    return (time_ms - op->node->ctx->start_ms) / cfg->interval_ms;
}

/* Closes batch k, computing the window when k is on a slide boundary. */
static int clock_close(sp_op *op, dsw_clock *c, const dsw_cfg *cfg, int64_t k)
{
    int rc = c->close(op, k, k % cfg->slide == 0);
    c->pending = 0;
    c->last_k = k;
    return rc;
}

/* Class epoch: closes every batch up to the one of time_ms. */
static int dsw_epoch(sp_op *op, int64_t time_ms)
{
    dsw_clock *c = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    int64_t k = batch_index(op, cfg, time_ms);
    if (c->rebase) {
        c->shift = c->last_k + 1 - k;
        c->rebase = 0;
    }
    k += c->shift;
    if (c->last_k == NO_BATCH) c->last_k = k - 1;
    int rc = 0;
    do rc = clock_close(op, c, cfg, c->last_k + 1);
    while (!rc && c->last_k < k);
    return rc;
}

/* Class finish: late rows make one more batch, then batches are closed up to the
 * next slide boundary (see the file comment). */
static int dsw_finish(sp_op *op)
{
    dsw_clock *c = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    if (c->last_k == NO_BATCH) {
        if (!c->pending) return 0;
        c->last_k = batch_index(op, cfg, sp_op_epoch_end_ms(op)) - 1;
    }
    if (!c->pending && c->last_k % cfg->slide == 0) return 0;
    int rc = 0;
    do rc = clock_close(op, c, cfg, c->last_k + 1);
    while (!rc && c->last_k % cfg->slide != 0);
    return rc;
}

static size_t ring_slot(const dsw_cfg *cfg, int64_t k)
{
    int64_t s = k % cfg->panes;
    return (size_t)(s < 0 ? s + cfg->panes : s);
}

static int fail_nomem(sp_op *op)
{
    return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory", op->node->cls->name);
}

/* ------------------------------------------------- checkpoints: the clock
 *
 * Every section (the instance's, and each key group's of the keyed operators)
 * starts with the same header: a format version byte, the window's L and S (the
 * job fingerprint does not cover durations, so a changed window is caught here),
 * and whether a batch was closed. The runtime's batch counter starts over in a
 * restored run, so nothing stores absolute batch indices: the header keeps only
 * last_k mod S (the slide phase) and panes are stored by age (0 = the last closed
 * batch). Restore sets last_k to that phase and lets the first epoch map the
 * runtime's index onto last_k + 1 (shift): the restored run continues the old
 * batch sequence, slide boundaries included. An instance that restores no section
 * (more workers than before, no state for it) keeps the new run's own phase.
 */

enum { DSW_FORMAT = 1 };

static int64_t slide_phase(const dsw_clock *c, const dsw_cfg *cfg)
{
    int64_t p = c->last_k % cfg->slide;
    return p < 0 ? p + cfg->slide : p;
}

static void clock_out(sp_wbuf *w, const dsw_clock *c, const dsw_cfg *cfg)
{
    sp_w_u8(w, DSW_FORMAT);
    sp_w_varint(w, (uint64_t)cfg->panes);
    sp_w_varint(w, (uint64_t)cfg->slide);
    sp_w_u8(w, c->last_k != NO_BATCH);
    if (c->last_k != NO_BATCH) sp_w_varint(w, (uint64_t)slide_phase(c, cfg));
}

static int fail_corrupt(sp_op *op)
{
    return sp_op_fail(op, SPATE_EPARSE, "%s: the window state in the checkpoint is truncated or "
                      "corrupt", op->node->cls->name);
}

/* Reads a section header into c (see above). */
static int clock_in(sp_op *op, dsw_clock *c, const dsw_cfg *cfg, sp_rbuf *r)
{
    uint8_t version = sp_r_u8(r);
    if (!r->err && version != DSW_FORMAT)
        return sp_op_fail(op, SPATE_EPARSE, "%s: window state format %u in the checkpoint is "
                          "not supported (expected %d)", op->node->cls->name, version, DSW_FORMAT);
    int64_t panes = (int64_t)sp_r_varint(r), slide = (int64_t)sp_r_varint(r);
    int started = sp_r_u8(r);
    int64_t phase = started ? (int64_t)sp_r_varint(r) : 0;
    if (r->err || started > 1 || phase >= slide) return fail_corrupt(op);
    if (panes != cfg->panes || slide != cfg->slide)
        return sp_op_fail(op, SPATE_ESTATE, "%s: the checkpoint has a window of %lld batches "
                          "sliding by %lld, the job %lld by %lld: use checkpoint.reset",
                          op->node->cls->name, (long long)panes, (long long)slide,
                          (long long)cfg->panes, (long long)cfg->slide);
    if (started) {
        c->last_k = phase;
        c->rebase = 1;
    }
    return 0;
}

/* Barriers ride on epochs, after the close: a filled pane here would be lost. */
static int clock_quiet(sp_op *op, const dsw_clock *c, int64_t id)
{
    if (!c->pending) return 0;
    return sp_op_fail(op, SPATE_ESTATE, "%s: checkpoint %lld taken inside a micro-batch",
                      op->node->cls->name, (long long)id);
}

/* Ring slot of the pane of the given age, from the last closed batch. */
static size_t age_slot(const dsw_clock *c, const dsw_cfg *cfg, int64_t age)
{
    return ring_slot(cfg, c->last_k - age);
}

/* ------------------------------------------------------ window(): the rows */

typedef struct row_pane {
    sp_batch **b;
    uint32_t n, cap;
} row_pane;

typedef struct rows_state {
    dsw_clock clock;          /* first: see dsw_clock */
    row_pane fill;
    row_pane *ring;           /* [panes] */
    sp_batch *out;
} rows_state;

static void row_pane_drop(sp_op *op, row_pane *p, int to_pool)
{
    for (uint32_t i = 0; i < p->n; i++) {
        if (to_pool) sp_op_release(op, p->b[i]);
        else sp_batch_free(p->b[i]);
    }
    p->n = 0;
}

/* Copies every live row of the ring, oldest batch first, to the output. */
static int rows_emit(sp_op *op, rows_state *st, const dsw_cfg *cfg, int64_t k)
{
    for (int64_t j = k - cfg->panes + 1; j <= k; j++) {
        const row_pane *p = &st->ring[ring_slot(cfg, j)];
        for (uint32_t i = 0; i < p->n; i++) {
            const sp_batch *b = p->b[i];
            uint32_t n = sp_batch_count(b);
            for (uint32_t r = 0; r < n; r++) {
                int rc = sp_ops_out_room(op, &st->out);
                if (rc) return rc;
                if (sp_batch_append_row(st->out, b, sp_batch_phys(b, r))) return fail_nomem(op);
            }
        }
    }
    return sp_ops_out_flush(op, &st->out);
}

static int rows_close(sp_op *op, int64_t k, int boundary)
{
    rows_state *st = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    row_pane *slot = &st->ring[ring_slot(cfg, k)];
    row_pane leaving = *slot;
    row_pane_drop(op, &leaving, 1);
    *slot = st->fill;
    st->fill = leaving;
    return boundary ? rows_emit(op, st, cfg, k) : 0;
}

static int rows_open(sp_op *op)
{
    const dsw_cfg *cfg = op->node->cfg;
    rows_state *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    st->clock = (dsw_clock){.last_k = NO_BATCH, .close = rows_close};
    st->ring = calloc((size_t)cfg->panes, sizeof *st->ring);
    return st->ring ? 0 : fail_nomem(op);
}

/* Keeps b in the filling pane until it leaves the window. */
static int rows_push(sp_op *op, int port, sp_batch *b)
{
    rows_state *st = op->st;
    row_pane *p = &st->fill;
    if (sp_batch_count(b) == 0) {
        sp_op_release(op, b);
        return 0;
    }
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 8;
        sp_batch **nb = realloc(p->b, (size_t)cap * sizeof *nb);
        if (!nb) {
            sp_op_release(op, b);
            return fail_nomem(op);
        }
        p->b = nb;
        p->cap = cap;
    }
    p->b[p->n++] = b;
    st->clock.pending = 1;
    return 0;
}

/* After a failure the pools may be gone: kept batches are freed, not released. */
static void rows_close_state(sp_op *op)
{
    rows_state *st = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    if (!st) return;
    row_pane_drop(op, &st->fill, 0);
    free(st->fill.b);
    for (int64_t i = 0; st->ring && i < cfg->panes; i++) {
        row_pane_drop(op, &st->ring[i], 0);
        free(st->ring[i].b);
    }
    free(st->ring);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

/* window() keeps whole rows per worker, not per key (its input need not be
 * keyed), so they go into the instance section: after the header, per non-empty
 * pane its age, its row count and the rows. A restore with fewer workers drops
 * the sections of the instances that no longer exist. */
static int rows_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    rows_state *st = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    if (clock_quiet(op, &st->clock, id)) return SPATE_ESTATE;
    sp_wbuf *w = sp_state_instance(s);
    clock_out(w, &st->clock, cfg);
    for (int64_t a = 0; st->clock.last_k != NO_BATCH && a < cfg->panes; a++) {
        const row_pane *p = &st->ring[age_slot(&st->clock, cfg, a)];
        uint64_t rows = 0;
        for (uint32_t i = 0; i < p->n; i++) rows += sp_batch_count(p->b[i]);
        if (rows == 0) continue;
        sp_w_varint(w, (uint64_t)a);
        sp_w_varint(w, rows);
        for (uint32_t i = 0; i < p->n; i++)
            for (uint32_t r = 0; r < sp_batch_count(p->b[i]); r++)
                sp_w_row(w, p->b[i], sp_batch_phys(p->b[i], r));
    }
    return w->err ? fail_nomem(op) : 0;
}

/* Reads n rows into the filling pane, in batches of the node's schema. */
static int rows_restore_pane(sp_op *op, sp_rbuf *r, uint64_t n)
{
    for (uint64_t i = 0; i < n;) {
        sp_batch *b = sp_op_batch(op, NULL);
        if (!b) return fail_nomem(op);
        int rc = 0;
        for (; !rc && i < n && b->n < b->cap; i++) rc = sp_r_row(r, b);
        if (rc) {
            sp_op_release(op, b);
            return rc == SPATE_EPARSE ? fail_corrupt(op) : fail_nomem(op);
        }
        if (rows_push(op, 0, b)) return SPATE_ENOMEM; /* rows_push reported it */
    }
    return 0;
}

/* rows_push files batches into the filling pane: each restored pane is built
 * there and then moved to its ring slot. */
static int rows_restore(sp_op *op, sp_state_in *s)
{
    rows_state *st = op->st;
    const dsw_cfg *cfg = op->node->cfg;
    sp_rbuf r;
    if (!sp_state_instance_in(s, &r)) return 0;
    int rc = clock_in(op, &st->clock, cfg, &r);
    while (!rc && r.pos < r.len) {
        int64_t age = (int64_t)sp_r_varint(&r);
        uint64_t n = sp_r_varint(&r);
        if (r.err || st->clock.last_k == NO_BATCH || age >= cfg->panes || n == 0)
            return fail_corrupt(op);
        row_pane *slot = &st->ring[age_slot(&st->clock, cfg, age)];
        if (slot->n) return fail_corrupt(op);
        rc = rows_restore_pane(op, &r, n);
        row_pane filled = st->fill;
        st->fill = *slot;
        *slot = filled;
    }
    st->clock.pending = 0;
    return rc;
}

static const sp_op_class rows_class = {
    .name = "window", .open = rows_open, .push = rows_push, .epoch = dsw_epoch,
    .finish = dsw_finish, .snapshot = rows_snapshot, .restore = rows_restore,
    .close = rows_close_state, .cfg_free = free,
};

/* ------------------------------------------------- chunked value stores */

/* Rows of the value schema, STORE_ROWS per chunk; row i is row i % STORE_ROWS of
 * chunk i / STORE_ROWS. Chunks are kept when the store is emptied. */
typedef struct vstore {
    sp_batch **chunks;
    uint32_t n, cap;
} vstore;

/* The chunk holding row i, allocated on first use; NULL when out of memory. */
static sp_batch *vstore_chunk(vstore *s, const spate_schema *schema, uint32_t i)
{
    uint32_t c = i / STORE_ROWS;
    while (c >= s->n) {
        if (s->n == s->cap) {
            uint32_t cap = s->cap ? s->cap * 2 : 4;
            sp_batch **p = realloc(s->chunks, (size_t)cap * sizeof *p);
            if (!p) return NULL;
            s->chunks = p;
            s->cap = cap;
        }
        sp_batch *b = sp_batch_new(STORE_ROWS);
        if (!b || sp_batch_reset(b, schema)) {
            sp_batch_free(b);
            return NULL;
        }
        b->n = STORE_ROWS;
        s->chunks[s->n++] = b;
    }
    return s->chunks[c];
}

/* Forgets the strings of every row (the rows themselves are overwritten later). */
static void vstore_clear(vstore *s)
{
    for (uint32_t c = 0; c < s->n; c++) sp_arena_reset(&s->chunks[c]->arena);
}

static void vstore_free(vstore *s)
{
    for (uint32_t c = 0; c < s->n; c++) sp_batch_free(s->chunks[c]);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* -------------------------------------------------- the reducing operators */

typedef enum { RED_FN, RED_COUNT } red_mode;

typedef struct red_cfg {
    dsw_cfg w;                /* first: dsw_epoch/dsw_finish read op->node->cfg as dsw_cfg */
    red_mode mode;
    int nkeys;                /* key columns of the input; 0 = stream-wide */
    spate_schema *vals;       /* value schema: input columns past the keys, or (count) */
    spate_schema *key_schema; /* the key columns, for rebuilding the key table */
    spate_reduce_fn fn, inv;  /* RED_FN */
    void *ud;
    int zero_if_empty;        /* countByWindow: an empty window emits 0 */
} red_cfg;

/* Value area of a key in the shared key table. */
typedef struct red_slot {
    uint32_t npanes;          /* ring panes holding the key */
    uint32_t fill_round;      /* == state round: the filling pane holds the key */
    uint32_t fill_row;        /* its row in the filling pane */
    uint32_t win_round;       /* recomputing path: the window being folded holds it */
} red_slot;

typedef struct red_pane {
    uint32_t *ent;            /* key entries in first-touch order; row i holds ent[i] */
    uint32_t n, cap;
    vstore vals;
} red_pane;

typedef struct red_state {
    dsw_clock clock;          /* first: see dsw_clock */
    sp_keytable keys;         /* red_slot per key */
    uint32_t nlive;           /* keys with npanes > 0 */
    red_pane fill;
    red_pane *ring;           /* [panes] */
    vstore win;               /* window value of entry e at row e */
    uint32_t round, win_round;
    sp_batch *scratch;        /* one value row built by a callback */
    sp_batch *keybuf;         /* one key row, for rebuilding the table */
    spate_out o;
    sp_batch *out;
} red_state;

static inline red_slot *slot_of(const red_state *st, uint32_t e)
{
    return sp_keytable_value(&st->keys, e);
}

static int scratch_full(spate_out *o, void *arg)
{
    return sp_err(SPATE_EINVAL, "a reduce callback builds exactly one row: "
                                "do not call spate_out_emit there");
}

/* dst = fn(dst, src) (sign > 0) or inv(dst, src) (sign < 0), rows of the value
 * schema. Counting adds natively; callbacks write a scratch row copied back. */
static int red_combine(sp_op *op, red_state *st, const red_cfg *cfg, sp_batch *dst,
                       uint32_t dr, const sp_batch *src, uint32_t sr, int vcol, int sign)
{
    if (cfg->mode == RED_COUNT) {
        SP_I64(&dst->cols[0])[dr] += sign * SP_I64(&src->cols[vcol])[sr];
        return 0;
    }
    spate_row a, b;
    sp_row_set(&a, dst, dr, 0, cfg->vals->n);
    sp_row_set(&b, src, sr, vcol, cfg->vals->n);
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    sp_out_init(&st->o, st->scratch, 0, cfg->vals->n, scratch_full, NULL);
    sp_out_begin(&st->o);
    int urc = (sign > 0 ? cfg->fn : cfg->inv)(&a, &b, &st->o, cfg->ud);
    const char *which = sign > 0 ? "" : " (inverse)";
    if (urc < 0)
        return sp_op_fail(op, SPATE_EUSER, "%s callback%s returned %d", op->node->cls->name,
                          which, urc);
    if (st->o.err)
        return sp_op_fail(op, st->o.err, "%s callback%s: %s", op->node->cls->name, which,
                          spate_last_error());
    sp_out_end_row(&st->o);
    for (int c = 0; c < cfg->vals->n; c++)
        if (sp_batch_copy_cell(dst, c, dr, st->scratch, c, 0)) return fail_nomem(op);
    return 0;
}

/* Writes the value columns of src row sr (from column vcol on) into dst row dr. */
static int red_copy(const red_cfg *cfg, sp_batch *dst, uint32_t dr, const sp_batch *src,
                    uint32_t sr, int vcol)
{
    for (int c = 0; c < cfg->vals->n; c++)
        if (sp_batch_copy_cell(dst, c, dr, src, vcol + c, sr)) return SPATE_ENOMEM;
    return 0;
}

/* Adds a row of the filling pane for entry e; its value is set by the caller. */
static int pane_add(red_pane *p, uint32_t e)
{
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 64;
        uint32_t *n = realloc(p->ent, (size_t)cap * sizeof *n);
        if (!n) return SPATE_ENOMEM;
        p->ent = n;
        p->cap = cap;
    }
    p->ent[p->n++] = e;
    return 0;
}

/* Folds input row r of b into the filling pane. */
static int red_record(sp_op *op, red_state *st, const red_cfg *cfg, const sp_batch *b,
                      uint32_t r)
{
    int ins;
    uint64_t h = cfg->nkeys > 0 ? b->hashes[r] : 0;
    red_slot *s = sp_keytable_find_or_insert(&st->keys, h, b, r, cfg->nkeys, &ins);
    if (!s) return fail_nomem(op);
    red_pane *p = &st->fill;
    if (s->fill_round == st->round) {
        sp_batch *chunk = st->fill.vals.chunks[s->fill_row / STORE_ROWS];
        uint32_t row = s->fill_row % STORE_ROWS;
        if (cfg->mode == RED_COUNT) {
            SP_I64(&chunk->cols[0])[row]++;
            return 0;
        }
        return red_combine(op, st, cfg, chunk, row, b, r, cfg->nkeys, 1);
    }
    uint32_t e = sp_keytable_index(&st->keys, s), i = p->n;
    sp_batch *chunk = vstore_chunk(&p->vals, cfg->vals, i);
    if (!chunk || pane_add(p, e)) return fail_nomem(op);
    s->fill_round = st->round;
    s->fill_row = i;
    uint32_t row = i % STORE_ROWS;
    if (cfg->mode == RED_COUNT) {
        sp_vec_clear_null(&chunk->cols[0], row);
        SP_I64(&chunk->cols[0])[row] = 1;
        return 0;
    }
    return red_copy(cfg, chunk, row, b, r, cfg->nkeys) ? fail_nomem(op) : 0;
}

static int red_push(sp_op *op, int port, sp_batch *b)
{
    red_state *st = op->st;
    const red_cfg *cfg = op->node->cfg;
    if (cfg->nkeys > 0 && !b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    uint32_t n = sp_batch_count(b);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) rc = red_record(op, st, cfg, b, sp_batch_phys(b, i));
    if (n) st->clock.pending = 1;
    sp_op_release(op, b);
    return rc;
}

/* Row e of the window store: the chunk and its row. */
static sp_batch *win_row(red_state *st, const red_cfg *cfg, uint32_t e, uint32_t *row)
{
    *row = e % STORE_ROWS;
    return vstore_chunk(&st->win, cfg->vals, e);
}

/* Inverse path: the leaving pane p is taken out of the window values. */
static int red_leave(sp_op *op, red_state *st, const red_cfg *cfg, const red_pane *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        red_slot *s = slot_of(st, p->ent[i]);
        if (--s->npanes == 0) {
            st->nlive--;
            continue;
        }
        if (!cfg->inv) continue;
        uint32_t wr;
        sp_batch *w = win_row(st, cfg, p->ent[i], &wr);
        int rc = w ? red_combine(op, st, cfg, w, wr, p->vals.chunks[i / STORE_ROWS],
                                 i % STORE_ROWS, 0, -1)
                   : fail_nomem(op);
        if (rc) return rc;
    }
    return 0;
}

/* The entering pane p joins the window: its keys count it, and with the inverse
 * path their window values take it in. */
static int red_enter(sp_op *op, red_state *st, const red_cfg *cfg, const red_pane *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        red_slot *s = slot_of(st, p->ent[i]);
        int fresh = s->npanes++ == 0;
        if (fresh) st->nlive++;
        if (!cfg->inv) continue;
        uint32_t wr;
        sp_batch *w = win_row(st, cfg, p->ent[i], &wr);
        const sp_batch *src = p->vals.chunks[i / STORE_ROWS];
        if (!w) return fail_nomem(op);
        int rc = fresh ? (red_copy(cfg, w, wr, src, i % STORE_ROWS, 0) ? fail_nomem(op) : 0)
                       : red_combine(op, st, cfg, w, wr, src, i % STORE_ROWS, 0, 1);
        if (rc) return rc;
    }
    return 0;
}

/* Recomputing path: folds the L ring panes, oldest first, into the window store. */
static int red_recompute(sp_op *op, red_state *st, const red_cfg *cfg, int64_t k)
{
    vstore_clear(&st->win);
    st->win_round++;
    for (int64_t j = k - cfg->w.panes + 1; j <= k; j++) {
        const red_pane *p = &st->ring[ring_slot(&cfg->w, j)];
        for (uint32_t i = 0; i < p->n; i++) {
            red_slot *s = slot_of(st, p->ent[i]);
            uint32_t wr;
            sp_batch *w = win_row(st, cfg, p->ent[i], &wr);
            const sp_batch *src = p->vals.chunks[i / STORE_ROWS];
            if (!w) return fail_nomem(op);
            int fresh = s->win_round != st->win_round;
            s->win_round = st->win_round;
            int rc = fresh ? (red_copy(cfg, w, wr, src, i % STORE_ROWS, 0) ? fail_nomem(op) : 0)
                           : red_combine(op, st, cfg, w, wr, src, i % STORE_ROWS, 0, 1);
            if (rc) return rc;
        }
    }
    return 0;
}

/* One output row: the key of entry e and its window value (NULL e: the count 0). */
static int red_emit_row(sp_op *op, red_state *st, const red_cfg *cfg, const uint32_t *e)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t r = out->n;
    if (!e) {
        sp_vec_clear_null(&out->cols[0], r);
        SP_I64(&out->cols[0])[r] = 0;
        out->n++;
        return 0;
    }
    uint32_t wr;
    const sp_batch *w = win_row(st, cfg, *e, &wr);
    if (!w || (cfg->nkeys > 0 && sp_keytable_write_key(&st->keys, *e, out, r)))
        return fail_nomem(op);
    for (int c = 0; c < cfg->vals->n; c++)
        if (sp_batch_copy_cell(out, cfg->nkeys + c, r, w, c, wr)) return fail_nomem(op);
    out->n++;
    return 0;
}

/* Emits the window ending at batch k, keys in entry order. */
static int red_emit(sp_op *op, red_state *st, const red_cfg *cfg, int64_t k)
{
    int rc = cfg->inv ? 0 : red_recompute(op, st, cfg, k);
    uint32_t emitted = 0;
    for (uint32_t e = 0; e < sp_keytable_count(&st->keys) && !rc; e++) {
        const red_slot *s = slot_of(st, e);
        if (cfg->inv ? s->npanes == 0 : s->win_round != st->win_round) continue;
        rc = red_emit_row(op, st, cfg, &e);
        emitted++;
    }
    if (!rc && emitted == 0 && cfg->zero_if_empty) rc = red_emit_row(op, st, cfg, NULL);
    if (!rc) rc = sp_ops_out_flush(op, &st->out);
    if (!cfg->inv) vstore_clear(&st->win);
    return rc;
}

/* Builds into nt the live keys of st->keys, filling remap (old entry -> new). */
static int red_rebuild_keys(red_state *st, const red_cfg *cfg, sp_keytable *nt, uint32_t *remap)
{
    for (uint32_t e = 0; e < sp_keytable_count(&st->keys); e++) {
        red_slot *s = slot_of(st, e);
        remap[e] = UINT32_MAX;
        if (s->npanes == 0) continue;
        sp_arena_reset(&st->keybuf->arena);
        if (sp_keytable_write_key(&st->keys, e, st->keybuf, 0)) return SPATE_ENOMEM;
        int ins;
        uint64_t h = sp_keytable_entry(&st->keys, e)->hash;
        red_slot *ns = sp_keytable_find_or_insert(nt, h, st->keybuf, 0, cfg->nkeys, &ins);
        if (!ns) return SPATE_ENOMEM;
        *ns = (red_slot){.npanes = slot_of(st, e)->npanes};
        remap[e] = sp_keytable_index(nt, ns);
    }
    return 0;
}

/* Moves the kept window values to their new rows (inverse path only). */
static int red_rebuild_win(red_state *st, const red_cfg *cfg, const uint32_t *remap,
                           uint32_t count)
{
    vstore nw = {0};
    for (uint32_t e = 0; e < count; e++) {
        if (remap[e] == UINT32_MAX) continue;
        sp_batch *dst = vstore_chunk(&nw, cfg->vals, remap[e]);
        uint32_t sr;
        const sp_batch *src = win_row(st, cfg, e, &sr);
        if (!dst || !src || red_copy(cfg, dst, remap[e] % STORE_ROWS, src, sr, 0)) {
            vstore_free(&nw);
            return SPATE_ENOMEM;
        }
    }
    vstore_free(&st->win);
    st->win = nw;
    return 0;
}

/* Rebuilds the key table without its dead keys once they outnumber the live ones.
 * Runs right after a close, when the filling pane is empty. */
static int red_maybe_compact(sp_op *op, red_state *st, const red_cfg *cfg)
{
    uint32_t count = sp_keytable_count(&st->keys), dead = count - st->nlive;
    if (dead < COMPACT_MIN_DEAD || dead <= st->nlive) return 0;
    uint32_t *remap = malloc((size_t)count * sizeof *remap);
    sp_keytable nt;
    if (!remap || sp_keytable_init(&nt, sizeof(red_slot))) {
        free(remap);
        return fail_nomem(op);
    }
    int rc = red_rebuild_keys(st, cfg, &nt, remap);
    if (!rc && cfg->inv) rc = red_rebuild_win(st, cfg, remap, count);
    if (rc) {
        sp_keytable_free(&nt);
        free(remap);
        return fail_nomem(op);
    }
    for (int64_t j = 0; j < cfg->w.panes; j++)
        for (uint32_t i = 0; i < st->ring[j].n; i++)
            st->ring[j].ent[i] = remap[st->ring[j].ent[i]];
    sp_keytable_free(&st->keys);
    st->keys = nt;
    free(remap);
    return 0;
}

static int red_close(sp_op *op, int64_t k, int boundary)
{
    red_state *st = op->st;
    const red_cfg *cfg = op->node->cfg;
    red_pane *slot = &st->ring[ring_slot(&cfg->w, k)];
    int rc = red_leave(op, st, cfg, slot);
    if (!rc) rc = red_enter(op, st, cfg, &st->fill);
    red_pane leaving = *slot;
    *slot = st->fill;
    st->fill = leaving;
    st->fill.n = 0;
    vstore_clear(&st->fill.vals);
    st->round++;
    if (!rc && boundary) rc = red_emit(op, st, cfg, k);
    if (!rc) rc = red_maybe_compact(op, st, cfg);
    return rc;
}

static int red_open(sp_op *op)
{
    const red_cfg *cfg = op->node->cfg;
    red_state *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    st->clock = (dsw_clock){.last_k = NO_BATCH, .close = red_close};
    st->round = 1;
    if (sp_keytable_init(&st->keys, sizeof(red_slot))) return fail_nomem(op);
    st->ring = calloc((size_t)cfg->w.panes, sizeof *st->ring);
    st->scratch = sp_batch_new(1);
    st->keybuf = sp_batch_new(1);
    if (!st->ring || !st->scratch || !st->keybuf || sp_batch_reset(st->scratch, cfg->vals) ||
        sp_batch_reset(st->keybuf, cfg->key_schema))
        return fail_nomem(op);
    return 0;
}

static void red_pane_free(red_pane *p)
{
    free(p->ent);
    vstore_free(&p->vals);
}

static void red_close_state(sp_op *op)
{
    red_state *st = op->st;
    const red_cfg *cfg = op->node->cfg;
    if (!st) return;
    sp_keytable_free(&st->keys);
    red_pane_free(&st->fill);
    for (int64_t j = 0; st->ring && j < cfg->w.panes; j++) red_pane_free(&st->ring[j]);
    free(st->ring);
    vstore_free(&st->win);
    sp_batch_free(st->scratch);
    sp_batch_free(st->keybuf);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

static void red_cfg_free(void *p)
{
    red_cfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->vals);
    spate_schema_free(cfg->key_schema);
    free(cfg);
}

/* Reducing operators. A record is one key's value in one pane (kind REC_PANE,
 * with the pane's age) or, with an inverse function, its kept window value
 * (REC_WINDOW): the key columns as a row, the kind, the age for a pane, the value
 * row. Keyed operators file a record under the key's group (each group section
 * starts with the header), stream-wide ones in the instance section after the
 * header; the keyed ones' instance section holds the header alone, for an instance
 * that owns no key. Without an inverse function the window store is scratch
 * (cleared after each emission), so the panes are all there is. */
enum { REC_PANE = 0, REC_WINDOW = 1 };

/* Writes the start of entry e's record into its section: the key and the kind. */
static sp_wbuf *red_record_out(red_state *st, const red_cfg *cfg, sp_state_out *s, int kgs,
                               uint32_t e, int kind)
{
    sp_wbuf *w = sp_state_instance(s);
    if (cfg->nkeys > 0) {
        w = sp_state_group(s, sp_keytable_key_group(&st->keys, e, kgs));
        if (w->len == 0) clock_out(w, &st->clock, &cfg->w);
        sp_arena_reset(&st->keybuf->arena);
        if (sp_keytable_write_key(&st->keys, e, st->keybuf, 0)) w->err = SPATE_ENOMEM;
        sp_w_row(w, st->keybuf, 0);
    }
    sp_w_u8(w, (uint8_t)kind);
    return w;
}

/* The records of every ring pane and, with an inverse function, of the window. */
static int red_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    red_state *st = op->st;
    const red_cfg *cfg = op->node->cfg;
    if (clock_quiet(op, &st->clock, id)) return SPATE_ESTATE;
    int kgs = sp_ctx_key_groups(op->node->ctx);
    clock_out(sp_state_instance(s), &st->clock, &cfg->w);
    int err = 0;
    for (int64_t a = 0; st->clock.last_k != NO_BATCH && a < cfg->w.panes; a++) {
        const red_pane *p = &st->ring[age_slot(&st->clock, &cfg->w, a)];
        for (uint32_t i = 0; i < p->n; i++) {
            sp_wbuf *w = red_record_out(st, cfg, s, kgs, p->ent[i], REC_PANE);
            sp_w_varint(w, (uint64_t)a);
            sp_w_row(w, p->vals.chunks[i / STORE_ROWS], i % STORE_ROWS);
            err |= w->err;
        }
    }
    for (uint32_t e = 0; cfg->inv && e < sp_keytable_count(&st->keys); e++) {
        if (slot_of(st, e)->npanes == 0) continue;
        uint32_t wr;
        const sp_batch *win = win_row(st, cfg, e, &wr);
        sp_wbuf *w = red_record_out(st, cfg, s, kgs, e, REC_WINDOW);
        if (win) sp_w_row(w, win, wr);
        err |= w->err | !win;
    }
    return err || sp_state_instance(s)->err ? fail_nomem(op) : 0;
}

/* Reads one record: files the value under its key, in its pane or the window. */
static int red_restore_record(sp_op *op, red_state *st, const red_cfg *cfg, sp_rbuf *r)
{
    st->keybuf->n = 0;
    sp_arena_reset(&st->keybuf->arena);
    int rc = cfg->nkeys > 0 ? sp_r_row(r, st->keybuf) : 0;
    int kind = sp_r_u8(r);
    int64_t age = kind == REC_PANE ? (int64_t)sp_r_varint(r) : 0;
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    if (!rc) rc = sp_r_row(r, st->scratch);
    if (rc == SPATE_ENOMEM) return fail_nomem(op);
    if (rc || r->err || kind > REC_WINDOW || age < 0 || age >= cfg->w.panes ||
        st->clock.last_k == NO_BATCH)
        return fail_corrupt(op);
    uint64_t h = cfg->nkeys > 0 ? sp_row_key_hash(st->keybuf, 0, cfg->nkeys) : 0;
    int ins;
    red_slot *slot = sp_keytable_find_or_insert(&st->keys, h, st->keybuf, 0, cfg->nkeys, &ins);
    if (!slot) return fail_nomem(op);
    uint32_t e = sp_keytable_index(&st->keys, slot), row;
    sp_batch *dst;
    if (kind == REC_WINDOW) {
        dst = win_row(st, cfg, e, &row);
    } else {
        red_pane *p = &st->ring[age_slot(&st->clock, &cfg->w, age)];
        row = p->n % STORE_ROWS;
        dst = vstore_chunk(&p->vals, cfg->vals, p->n);
        if (dst && pane_add(p, e)) dst = NULL;
        if (dst && slot->npanes++ == 0) st->nlive++;
    }
    return dst && !red_copy(cfg, dst, row, st->scratch, 0, 0) ? 0 : fail_nomem(op);
}

/* One section: the header, then records up to its end. */
static int red_restore_section(sp_op *op, red_state *st, const red_cfg *cfg, sp_rbuf *r)
{
    int rc = clock_in(op, &st->clock, &cfg->w, r);
    while (!rc && r->pos < r->len) rc = red_restore_record(op, st, cfg, r);
    return rc;
}

static int red_restore(sp_op *op, sp_state_in *s)
{
    red_state *st = op->st;
    const red_cfg *cfg = op->node->cfg;
    sp_rbuf r;
    int g, rc = 0;
    if (sp_state_instance_in(s, &r)) rc = red_restore_section(op, st, cfg, &r);
    while (!rc && sp_state_next_group(s, &g, &r)) rc = red_restore_section(op, st, cfg, &r);
    return rc;
}

static const sp_op_class red_class = {
    .name = "reduce_by_key_and_window", .open = red_open, .push = red_push,
    .epoch = dsw_epoch, .finish = dsw_finish, .snapshot = red_snapshot,
    .restore = red_restore, .close = red_close_state,
    .cfg_free = red_cfg_free,
};
static const sp_op_class red_stream_class = {
    .name = "reduce_by_window", .open = red_open, .push = red_push,
    .epoch = dsw_epoch, .finish = dsw_finish, .snapshot = red_snapshot,
    .restore = red_restore, .close = red_close_state,
    .cfg_free = red_cfg_free,
};
static const sp_op_class count_window_class = {
    .name = "count_by_window", .open = red_open, .push = red_push,
    .epoch = dsw_epoch, .finish = dsw_finish, .snapshot = red_snapshot,
    .restore = red_restore, .close = red_close_state,
    .cfg_free = red_cfg_free,
};
static const sp_op_class count_value_window_class = {
    .name = "count_by_value_and_window", .open = red_open, .push = red_push,
    .epoch = dsw_epoch, .finish = dsw_finish, .snapshot = red_snapshot,
    .restore = red_restore, .close = red_close_state,
    .cfg_free = red_cfg_free,
};

/* ------------------------------------------------------------- building */

/* A window or slide duration: positive and a multiple of the batch interval. */
static int check_duration(const char *what, const char *name, int64_t ms, int64_t iv)
{
    if (ms <= 0)
        return sp_err(SPATE_EINVAL, "%s: %s duration %lld ms must be positive", what, name,
                      (long long)ms);
    if (ms % iv)
        return sp_err(SPATE_EINVAL, "%s: %s duration %lld ms must be a multiple of the batch "
                      "interval %lld ms", what, name, (long long)ms, (long long)iv);
    return 0;
}

/* Checks the stream, the style and the durations; fills w. */
static int check_window(const spate_stream *in, int64_t length_ms, int64_t slide_ms,
                        const char *what, dsw_cfg *w, spate_stream **out)
{
    if (out) *out = NULL;
    if (!in || !out) return sp_err(SPATE_EINVAL, "%s: stream and out must not be NULL", what);
    if (!in->schema) return sp_err(SPATE_EINVAL, "%s: the input is an output, not a stream", what);
    int64_t iv = in->ctx->interval_ms;
    if (!sp_ctx_microbatch(in->ctx))
        return sp_err(SPATE_EUNSUPPORTED, "%s needs the micro-batch style (batch.interval.ms > 0)",
                      what);
    int rc = check_duration(what, "window", length_ms, iv);
    if (!rc) rc = check_duration(what, "slide", slide_ms, iv);
    if (rc) return rc;
    if (length_ms / iv > MAX_PANES)
        return sp_err(SPATE_EINVAL, "%s: a window of %lld batches is too long (at most %d)",
                      what, (long long)(length_ms / iv), MAX_PANES);
    *w = (dsw_cfg){iv, length_ms / iv, slide_ms / iv};
    return 0;
}

/* Window of the batches' rows; output: the input's schema, keys and partitioning. */
int spate_window(spate_stream *in, int64_t length_ms, int64_t slide_ms, spate_stream **out)
{
    dsw_cfg w;
    int rc = check_window(in, length_ms, slide_ms, "window", &w, out);
    if (rc) return rc;
    dsw_cfg *cfg = malloc(sizeof *cfg);
    spate_schema *schema = sp_schema_copy(in->schema);
    if (!cfg || !schema) {
        free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    *cfg = w;
    sp_exchange ex = SP_EX_FORWARD;
    rc = sp_node_add(in->ctx, &rows_class, cfg, schema, in->nkeys, 1, &in, &ex, 0, out);
    if (!rc) (*out)->partitioned = in->partitioned;
    return rc;
}

/* Schema of columns [from, to) of s; NULL when out of memory. */
static spate_schema *schema_slice(const spate_schema *s, int from, int to)
{
    spate_schema *r = spate_schema_new();
    for (int c = from; r && c < to; c++)
        if (spate_schema_add(r, s->f[c].name, s->f[c].type)) {
            spate_schema_free(r);
            return NULL;
        }
    return r;
}

/* A reducing configuration over in keyed by its first nkeys columns; counting
 * replaces the values by (count BIGINT). NULL when out of memory. */
static red_cfg *red_cfg_new(const spate_stream *in, const dsw_cfg *w, int nkeys, red_mode mode)
{
    red_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    cfg->w = *w;
    cfg->mode = mode;
    cfg->nkeys = nkeys;
    cfg->key_schema = schema_slice(in->schema, 0, nkeys);
    if (mode == RED_COUNT) {
        cfg->vals = spate_schema_new();
        if (cfg->vals && spate_schema_add(cfg->vals, "count", SPATE_INT64)) {
            spate_schema_free(cfg->vals);
            cfg->vals = NULL;
        }
    } else {
        cfg->vals = schema_slice(in->schema, nkeys, in->schema->n);
    }
    if (!cfg->vals || !cfg->key_schema) {
        red_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Adds the reducing node (cfg and schema taken over; NULL means out of memory):
 * keyed when cfg is, else gathering into one instance. */
static int add_red_node(spate_stream *in, const sp_op_class *cls, red_cfg *cfg,
                        spate_schema *schema, spate_stream **out)
{
    if (!cfg || !schema) {
        red_cfg_free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    int keyed = cfg->nkeys > 0;
    sp_exchange ex = !keyed ? SP_EX_GATHER : in->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    int rc = sp_node_add(in->ctx, cls, cfg, schema, cfg->nkeys, 1, &in, &ex, !keyed, out);
    if (!rc && keyed) (*out)->partitioned = 1;
    return rc;
}

/* Row count of each window: (count BIGINT), 0 for an empty window. */
int spate_count_by_window(spate_stream *in, int64_t length_ms, int64_t slide_ms,
                          spate_stream **out)
{
    dsw_cfg w;
    int rc = check_window(in, length_ms, slide_ms, "count_by_window", &w, out);
    if (rc) return rc;
    red_cfg *cfg = red_cfg_new(in, &w, 0, RED_COUNT);
    if (cfg) cfg->zero_if_empty = 1;
    return add_red_node(in, &count_window_class, cfg, cfg ? sp_schema_copy(cfg->vals) : NULL,
                        out);
}

/* Shared by reduce_by_window (nkeys 0) and reduce_by_key_and_window. */
static int add_reduce_window(spate_stream *in, const sp_op_class *cls, const dsw_cfg *w,
                             int nkeys, spate_reduce_fn fn, spate_reduce_fn inv, void *ud,
                             spate_stream **out)
{
    red_cfg *cfg = red_cfg_new(in, w, nkeys, RED_FN);
    if (cfg) {
        cfg->fn = fn;
        cfg->inv = inv;
        cfg->ud = ud;
    }
    return add_red_node(in, cls, cfg, sp_schema_copy(in->schema), out);
}

/* fn over every row of each window, stream-wide; output: the input schema, one
 * instance on worker 0, no row for an empty window. */
int spate_reduce_by_window(spate_stream *in, spate_reduce_fn fn, spate_reduce_fn inv_fn,
                           void *ud, int64_t length_ms, int64_t slide_ms, spate_stream **out)
{
    dsw_cfg w;
    int rc = check_window(in, length_ms, slide_ms, "reduce_by_window", &w, out);
    if (rc) return rc;
    if (!fn) return sp_err(SPATE_EINVAL, "reduce_by_window needs a function");
    return add_reduce_window(in, &red_stream_class, &w, 0, fn, inv_fn, ud, out);
}

/* fn over the values of each key in each window; output: the input schema, keyed
 * and partitioned. EINVAL for an unkeyed input or one without value columns. */
int spate_reduce_by_key_and_window(spate_stream *in, spate_reduce_fn fn, spate_reduce_fn inv_fn,
                                   void *ud, int64_t length_ms, int64_t slide_ms,
                                   spate_stream **out)
{
    dsw_cfg w;
    const char *what = "reduce_by_key_and_window";
    int rc = check_window(in, length_ms, slide_ms, what, &w, out);
    if (rc) return rc;
    if (!fn) return sp_err(SPATE_EINVAL, "%s needs a function", what);
    if (in->nkeys <= 0)
        return sp_err(SPATE_EINVAL, "%s needs a keyed stream: use spate_key_by first", what);
    if (in->schema->n == in->nkeys)
        return sp_err(SPATE_EINVAL, "%s needs value columns besides the key", what);
    return add_reduce_window(in, &red_class, &w, in->nkeys, fn, inv_fn, ud, out);
}

/* Occurrences of each distinct row in each window: (row..., count BIGINT), keyed by
 * all the input's columns. */
int spate_count_by_value_and_window(spate_stream *in, int64_t length_ms, int64_t slide_ms,
                                    spate_stream **out)
{
    dsw_cfg w;
    int rc = check_window(in, length_ms, slide_ms, "count_by_value_and_window", &w, out);
    if (rc) return rc;
    int n = in->schema->n;
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < n; c++) names[c] = in->schema->f[c].name;
    spate_stream *keyed_in;
    rc = spate_key_by(in, n, names, &keyed_in);
    free(names);
    if (rc) return rc;
    red_cfg *cfg = red_cfg_new(keyed_in, &w, n, RED_COUNT);
    spate_schema *schema = cfg ? sp_ops_key_value_schema(keyed_in, cfg->vals, &rc) : NULL;
    if (cfg && !schema) {
        red_cfg_free(cfg);
        return rc;
    }
    return add_red_node(keyed_in, &count_value_window_class, cfg, schema, out);
}
