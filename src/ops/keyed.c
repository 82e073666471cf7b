/*
 * keyed.c - aggregations: reduce, count, countByValue, reduceByKey, combineByKey,
 * groupByKey and the built-in keyed aggregates (aggregate_by_key, aggregate_changelog,
 * aggregate_retract).
 *
 * Placement. Keyed operators take a keyed input (spate_key_by) through a HASH
 * exchange, or FORWARD when the input already sits on the worker owning each key
 * (`partitioned`); each instance then owns whole keys and needs no locks. Their
 * output is keyed by the same columns and partitioned. Stream-wide reduce and
 * count GATHER everything into one instance on worker 0; countByValue keys the
 * stream by all its columns (spate_key_by) and counts per key.
 *
 * When results come out:
 *  - micro-batch style, per batch (Spark's reduceByKey): the table fills during
 *    the micro-batch; at its end (epoch) one row per key goes out, in first-seen
 *    order, and the table is cleared;
 *  - micro-batch style, running (aggregate_by_key with running != 0, Flink's
 *    rolling aggregate): the table is never cleared; each epoch emits the keys the
 *    micro-batch updated, in the order the micro-batch first touched them;
 *  - continuous style: there is no micro-batch, so every keyed aggregation is a
 *    running aggregation in update mode - after each input batch, the keys that
 *    batch touched go out with their current result;
 *  - finish (all inputs ended) emits what is still pending, as an epoch would.
 * A value area starts with a mark: the emission round that last touched the key
 * and the processing time of that touch. Touching a key whose round is stale
 * appends it to the dirty list, which is what an emission walks, in every mode.
 * With state.ttl.ms, running tables drop keys idle longer than the TTL (see
 * "expiry" below).
 *
 * Built-in aggregates (aggs.c defines them, for windows too) are vectorized: a
 * first pass maps every live row to its entry, then each aggregate runs one
 * loop over its column - tight for the simple kinds, row by row for sets and
 * sketches. Cells that own memory (strings, sets, sketches) are released when
 * their entry is cleared (per batch), expires or the operator closes.
 *
 * aggregate_changelog (Flink SQL's unbounded group aggregate) is the running
 * aggregate whose emissions are a changelog: each key also keeps the results it
 * emitted last, and an emission compares them with the current ones - a key
 * emits "+I" the first time, "-U" (kept results) then "+U" (new ones) when any
 * result changed, nothing when none did. It emits when the running aggregate
 * does (epoch, input batch in the continuous style, finish) and expires with
 * state.ttl.ms the same way: a key that comes back after expiring starts over
 * with "+I". aggregate_retract is the changelog aggregate of an updating input,
 * folding row by row (see its section).
 *
 * reduce, reduceByKey and combineByKey fold user callbacks. The accumulator of
 * entry e is row e of a chunked value store (batches of ACC_ROWS rows of the
 * accumulator schema), so a callback sees accumulator and new value as ordinary
 * spate_row views and writes the combination into a one-row scratch batch that is
 * then copied back. Strings of replaced accumulators stay in the store's arenas:
 * freed at the epoch per batch, kept in the running (continuous) mode - the same
 * growth as string MIN/MAX above. merge_combiners is validated and kept for API
 * parity and future map-side combining: here each key lives on exactly one
 * worker, so two partial combiners of one key never meet.
 *
 * groupByKey keeps the arriving batches whole (sp_keyrows) until the epoch and
 * then walks each key's rows. With a callback, the output is the key columns
 * followed by out_schema: the key is filled in, and the callback emits zero or
 * more rows with spate_out_emit (flatMap style). In the continuous style each
 * input batch is grouped and emitted on its own, because keeping every value of a
 * key forever would grow without bound. That keeping (sp_grouping) and the walk
 * calling a function per key (sp_ops_group_each) serve join and cogroup too
 * (ops.h), as does the spate_group view of a key defined here.

 *
 * Checkpoints: the aggregates and folds write each key with its value into its
 * key group's state (see "checkpoints of a keyed table"). Per batch, a barrier
 * arrives after the epoch cleared the table, so they write nothing; running and
 * continuous, the whole table. groupByKey keeps rows only within a micro-batch
 * (or an input batch), so it has no state across a barrier and is stateless.
 */
#include "checkpoint/serde.h"
#include "core/clock.h"
#include "core/row.h"
#include "formats/format.h"
#include "ops/aggs.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Head of every value area: the emission round that last touched the key and,
 * for state.ttl.ms, the processing time of that touch. */
typedef struct keyed_mark {
    uint32_t round;
    uint32_t pad;
    int64_t touched_ms;
} keyed_mark;

enum { ACC_ROWS = 1024, MARK_BYTES = sizeof(keyed_mark), SWEEP_MS = 1000 };

/* ------------------------------------------------------ shared helpers */

static int check_stream(const spate_stream *in, spate_stream **out, const char *what)
{
    if (out) *out = NULL;
    if (!in || !out) return sp_err(SPATE_EINVAL, "%s: stream and out must not be NULL", what);
    if (!in->schema) return sp_err(SPATE_EINVAL, "%s: the input is an output, not a stream", what);
    return 0;
}

static int check_keyed(const spate_stream *in, spate_stream **out, const char *what)
{
    int rc = check_stream(in, out, what);
    if (rc) return rc;
    if (in->nkeys <= 0)
        return sp_err(SPATE_EINVAL, "%s needs a keyed stream: use spate_key_by first", what);
    return 0;
}

/* Appends columns [from, to) of src to dst; fails on a duplicate name. */
static int schema_append(spate_schema *dst, const spate_schema *src, int from, int to)
{
    for (int c = from; c < to; c++) {
        int rc = spate_schema_add(dst, src->f[c].name, src->f[c].type);
        if (rc) return rc;
    }
    return 0;
}

/* Adds a node fed from a keyed input: one instance per worker, rows hashed to the
 * worker owning their key unless they already are there. Frees cfg on failure. */
static int add_keyed_node(spate_stream *in, const sp_op_class *cls, void *cfg, spate_schema *schema,
                          spate_stream **out)
{
    sp_exchange ex = in->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    int rc = sp_node_add(in->ctx, cls, cfg, schema, in->nkeys, 1, &in, &ex, 0, out);
    if (rc) return rc; /* sp_node_add freed cfg and schema */
    (*out)->partitioned = 1;
    return 0;
}

/* Adds a single-instance node on worker 0 that gathers every row. */
static int add_gather_node(spate_stream *in, const sp_op_class *cls, void *cfg,
                           spate_schema *schema, spate_stream **out)
{
    sp_exchange ex = SP_EX_GATHER;
    return sp_node_add(in->ctx, cls, cfg, schema, 0, 1, &in, &ex, 1, out);
}

/* The exchange hashes keyed rows; rows that came FORWARD may not carry hashes. */
static void ensure_hashes(sp_batch *b, int nkeys)
{
    if (nkeys > 0 && !b->has_hashes) sp_batch_hash_keys(b, nkeys);
}

static inline uint64_t row_hash(const sp_batch *b, uint32_t r, int nkeys)
{
    return nkeys > 0 ? b->hashes[r] : 0;
}

static int fail_nomem(sp_op *op)
{
    return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory in keyed state", op->node->cls->name);
}

/* ------------------------------------------- keyed table with a dirty list */

/* Frees what the value area of entry e owns, before the area is zeroed or the
 * entry dropped (the built-in aggregates' strings, sets and sketches). */
typedef void (*keyed_release)(sp_op *op, uint32_t e);

typedef struct keyed {
    sp_keytable t;
    uint32_t *dirty; /* entries touched since the last emission, first touch first */
    uint32_t ndirty, cap_dirty;
    uint32_t round; /* current emission round (>= 1), compared with the marks */
    int per_batch;  /* clear the table after each emission */
    int continuous; /* emit after every input batch */
    sp_batch *out;  /* output batch being filled */
    /* state.ttl.ms (0 = keys never expire); with it, the processing time of the
     * batch being folded and of the last sweep (continuous style) */
    int64_t ttl_ms, now_ms, swept_ms;
    keyed_release release; /* NULL: value areas own nothing */
    sp_op *op;
} keyed;

/* Moves an operator's state kept outside the value area from entry `from` to
 * entry `to` <= from of the rebuilt table (NULL: everything is in the value area). */
typedef int (*keyed_move)(sp_op *op, uint32_t from, uint32_t to);

static int keyed_init(keyed *k, sp_op *op, size_t value_size, int running)
{
    memset(k, 0, sizeof *k);
    k->round = 1;
    k->continuous = !sp_ctx_microbatch(op->node->ctx);
    k->per_batch = !k->continuous && !running;
    k->ttl_ms = k->per_batch ? 0 : sp_ctx_state_ttl_ms(op->node->ctx);
    k->op = op;
    return sp_keytable_init(&k->t, MARK_BYTES + value_size);
}

/* Releases the value areas of every entry (the table keeps them, released). */
static void keyed_release_all(keyed *k)
{
    for (uint32_t e = 0; k->release && e < sp_keytable_count(&k->t); e++)
        k->release(k->op, e);
}

static void keyed_free(keyed *k, sp_op *op)
{
    keyed_release_all(k);
    sp_keytable_free(&k->t);
    free(k->dirty);
    if (k->out) sp_op_release(op, k->out);
}

/* Reads the processing time that keyed_touch stamps on the keys of the next
 * batch: one clock read per batch, and only with a TTL. */
static void keyed_batch_begins(keyed *k)
{
    if (k->ttl_ms) k->now_ms = sp_now_ms();
}

static inline int keyed_expired(const keyed *k, const keyed_mark *m, int64_t now_ms)
{
    return k->ttl_ms && now_ms - m->touched_ms > k->ttl_ms;
}

/* Entry of the key of row r, marked dirty and stamped with k->now_ms;
 * (uint32_t)-1 when out of memory. A key whose state expired (but was not swept
 * yet) starts over: its value area is zeroed and *inserted = 1, so expired state
 * is never seen. */
static uint32_t keyed_touch(keyed *k, const sp_batch *b, uint32_t r, int nkeys, int *inserted)
{
    keyed_mark *mark =
        sp_keytable_find_or_insert(&k->t, row_hash(b, r, nkeys), b, r, nkeys, inserted);
    if (!mark) return (uint32_t)-1;
    uint32_t e = sp_keytable_index(&k->t, mark);
    if (!*inserted && keyed_expired(k, mark, k->now_ms)) {
        if (k->release) k->release(k->op, e);
        memset(mark + 1, 0, k->t.value_size - MARK_BYTES);
        *inserted = 1;
    }
    mark->touched_ms = k->now_ms;
    if (mark->round == k->round) return e;
    if (k->ndirty == k->cap_dirty) {
        uint32_t cap = k->cap_dirty ? k->cap_dirty * 2 : 256;
        uint32_t *d = realloc(k->dirty, (size_t)cap * sizeof *d);
        if (!d) return (uint32_t)-1;
        k->dirty = d;
        k->cap_dirty = cap;
    }
    mark->round = k->round;
    k->dirty[k->ndirty++] = e;
    return e;
}

/* Value area of entry e past its mark. */
static inline void *keyed_value(const keyed *k, uint32_t e)
{
    return (uint8_t *)sp_keytable_value(&k->t, e) + MARK_BYTES;
}

/* Starts output row *r of k->out, writing the key of entry e when keyed (nkeys >
 * 0); the caller fills the other columns and counts the row (out->n++). */
static int keyed_begin_row(sp_op *op, keyed *k, int nkeys, uint32_t e, uint32_t *r)
{
    int rc = sp_ops_out_room(op, &k->out);
    if (rc) return rc;
    *r = k->out->n;
    if (nkeys > 0 && sp_keytable_write_key(&k->t, e, k->out, *r)) return fail_nomem(op);
    return 0;
}

/* Ends an emission round: forgets the dirty list, and the keys when per batch. */
static void keyed_round_done(keyed *k)
{
    k->ndirty = 0;
    k->round++;
    if (!k->per_batch) return;
    keyed_release_all(k);
    sp_keytable_clear(&k->t);
}

/* ----------------------------------------- checkpoints of a keyed table
 *
 * A key group's buffer holds its entries one after the other: the key columns as
 * a row (sp_w_row, decoded from the table's encoding through a one-row batch), then
 * the operator's value for the entry. Writing decoded rows rather than the table's
 * private key encoding keeps the state readable by any later table layout, and
 * restore recomputes each hash with sp_row_key_hash, the exchange's function, so
 * the entry lands in the same key group as the rows that will arrive for it.
 * Marks and the dirty list are not written: a snapshot runs after an emission (at
 * a micro-batch end, after a continuous push, or after finish), when nothing is
 * dirty; restored entries get round 0, so the first touch makes them dirty again.
 * Nor is the last-touched time (state.ttl.ms): it is processing time of the run
 * that wrote it, so restored entries count as touched at the restore, and a key
 * idle across a restart lives up to one TTL past the restore.
 */

/* Reads or writes one entry's value (after its key). */
typedef int (*keyed_value_out)(sp_op *op, sp_wbuf *w, uint32_t e);
typedef int (*keyed_value_in)(sp_op *op, sp_rbuf *r, uint32_t e);

/* A one-row batch shaped like the key: the first nkeys columns of the output. */
typedef struct key_row {
    spate_schema *schema;
    sp_batch *b;
} key_row;

static int key_row_open(key_row *kr, const spate_stream *node, int nkeys)
{
    kr->b = NULL;
    kr->schema = spate_schema_new();
    if (!kr->schema || schema_append(kr->schema, node->schema, 0, nkeys)) return SPATE_ENOMEM;
    kr->b = sp_batch_new(1);
    return kr->b && !sp_batch_reset(kr->b, kr->schema) ? 0 : SPATE_ENOMEM;
}

static void key_row_free(key_row *kr)
{
    sp_batch_free(kr->b);
    spate_schema_free(kr->schema);
}

/* Whether entry e holds nothing worth keeping (not written, dropped by sweeps). */
typedef int (*keyed_empty)(sp_op *op, uint32_t e);

/* Writes every entry of k but the empty ones (empty: NULL = none is) into the
 * buffer of its key group. */
static int keyed_snapshot_if(sp_op *op, keyed *k, int nkeys, sp_state_out *s, keyed_value_out value,
                             keyed_empty empty)
{
    /* Contract: barriers follow emissions, so no update is pending; one here would
     * be in the state but never emitted after a restore. */
    if (k->ndirty)
        return sp_op_fail(op, SPATE_ESTATE, "%s: checkpoint taken with unemitted updates",
                          op->node->cls->name);
    int kgs = sp_ctx_key_groups(op->node->ctx);
    key_row kr;
    int rc = key_row_open(&kr, op->node, nkeys);
    for (uint32_t e = 0; !rc && e < sp_keytable_count(&k->t); e++) {
        if (empty && empty(op, e)) continue;
        sp_wbuf *w = sp_state_group(s, sp_keytable_key_group(&k->t, e, kgs));
        sp_arena_reset(&kr.b->arena);
        rc = sp_keytable_write_key(&k->t, e, kr.b, 0);
        sp_w_row(w, kr.b, 0);
        if (!rc) rc = value(op, w, e);
        if (!rc) rc = w->err;
    }
    key_row_free(&kr);
    return rc == SPATE_ENOMEM ? fail_nomem(op) : rc;
}

static int keyed_snapshot(sp_op *op, keyed *k, int nkeys, sp_state_out *s, keyed_value_out value)
{
    return keyed_snapshot_if(op, k, nkeys, s, value, NULL);
}

/* Re-inserts the entries of one key group's buffer r (not marked dirty). */
static int keyed_restore_group(sp_op *op, keyed *k, int nkeys, sp_rbuf *r, key_row *kr,
                               keyed_value_in value)
{
    while (r->pos < r->len && !r->err) {
        kr->b->n = 0;
        sp_arena_reset(&kr->b->arena);
        int rc = sp_r_row(r, kr->b), ins;
        if (rc == SPATE_EPARSE) break;
        if (rc) return fail_nomem(op);
        uint64_t hash = nkeys > 0 ? sp_row_key_hash(kr->b, 0, nkeys) : 0;
        keyed_mark *mark = sp_keytable_find_or_insert(&k->t, hash, kr->b, 0, nkeys, &ins);
        if (!mark) return fail_nomem(op);
        mark->touched_ms = k->now_ms;
        if ((rc = value(op, r, sp_keytable_index(&k->t, mark))) != 0) return rc;
    }
    if (!sp_r_done(r))
        return sp_op_fail(op, SPATE_EPARSE, "%s: corrupt keyed state in the checkpoint",
                          op->node->cls->name);
    return 0;
}

/* Reads back the key groups this instance owns into k (empty: just opened). */
static int keyed_restore(sp_op *op, keyed *k, int nkeys, sp_state_in *s, keyed_value_in value)
{
    key_row kr;
    int rc = key_row_open(&kr, op->node, nkeys) ? fail_nomem(op) : 0, g;
    sp_rbuf r;
    keyed_batch_begins(k);
    while (!rc && sp_state_next_group(s, &g, &r))
        rc = keyed_restore_group(op, k, nkeys, &r, &kr, value);
    key_row_free(&kr);
    return rc;
}

/* ----------------------------------------------- expiry (state.ttl.ms)
 *
 * A sweep drops the entries untouched for longer than the TTL. The table cannot
 * delete one entry, so a sweep that finds any expired entry rebuilds it from the
 * live ones, in their insertion order, with their value areas (marks included,
 * and what the areas own moves with them; the expired areas are released);
 * a sweep finding none costs one pass over the marks. Sweeps run only between
 * emissions (nothing dirty, so the dirty list needs no renumbering): at every
 * epoch in the micro-batch style, at most every SWEEP_MS from tick() in the
 * continuous one. Between sweeps keyed_touch resets an expired key it meets.
 */

static uint32_t keyed_count_expired(const keyed *k, int64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t e = 0; e < sp_keytable_count(&k->t); e++)
        n += (uint32_t)keyed_expired(k, sp_keytable_value(&k->t, e), now_ms);
    return n;
}

/* Whether entry e goes in a sweep at now_ms: expired, or empty. */
static int keyed_goes(sp_op *op, const keyed *k, uint32_t e, int64_t now_ms, keyed_empty empty)
{
    return keyed_expired(k, sp_keytable_value(&k->t, e), now_ms) || (empty && empty(op, e));
}

/* Copies the entries of k->t that stay at now_ms into the empty table n. */
static int keyed_copy_live(sp_op *op, keyed *k, int nkeys, int64_t now_ms, sp_keytable *n,
                           keyed_move move, keyed_empty empty)
{
    key_row kr;
    int rc = key_row_open(&kr, op->node, nkeys) ? SPATE_ENOMEM : 0, ins;
    for (uint32_t e = 0; !rc && e < sp_keytable_count(&k->t); e++) {
        const void *old = sp_keytable_value(&k->t, e);
        if (keyed_goes(op, k, e, now_ms, empty)) continue;
        sp_arena_reset(&kr.b->arena);
        kr.b->n = 1;
        void *v = sp_keytable_write_key(&k->t, e, kr.b, 0)
                      ? NULL
                      : sp_keytable_find_or_insert(n, sp_keytable_entry(&k->t, e)->hash, kr.b, 0,
                                                   nkeys, &ins);
        if (!v) {
            rc = SPATE_ENOMEM;
            break;
        }
        memcpy(v, old, k->t.value_size);
        if (move) rc = move(op, e, sp_keytable_index(n, v));
    }
    key_row_free(&kr);
    return rc;
}

/* Rebuilds k->t without the entries expired at now_ms or empty (empty: NULL =
 * none is). Contract: nothing is dirty. */
static int keyed_rebuild(sp_op *op, keyed *k, int nkeys, int64_t now_ms, keyed_move move,
                         keyed_empty empty)
{
    sp_keytable n;
    int rc = sp_keytable_init(&n, k->t.value_size);
    if (!rc) rc = keyed_copy_live(op, k, nkeys, now_ms, &n, move, empty);
    if (rc) {
        sp_keytable_free(&n);
        return rc == SPATE_ENOMEM ? fail_nomem(op) : rc;
    }
    for (uint32_t e = 0; k->release && e < sp_keytable_count(&k->t); e++)
        if (keyed_goes(op, k, e, now_ms, empty)) k->release(op, e);
    sp_keytable_free(&k->t);
    k->t = n;
    return 0;
}

/* Drops the entries of k expired at now_ms. Contract: nothing is dirty. */
static int keyed_sweep(sp_op *op, keyed *k, int nkeys, int64_t now_ms, keyed_move move)
{
    if (!k->ttl_ms || k->ndirty || !keyed_count_expired(k, now_ms)) return 0;
    return keyed_rebuild(op, k, nkeys, now_ms, move, NULL);
}

/* The continuous style's sweep, from tick(): at most every SWEEP_MS. */
static int keyed_tick(sp_op *op, keyed *k, int nkeys, int64_t now_ms, keyed_move move)
{
    if (!k->ttl_ms || !k->continuous || now_ms - k->swept_ms < SWEEP_MS) return 0;
    k->swept_ms = now_ms;
    return keyed_sweep(op, k, nkeys, now_ms, move);
}

/* ------------------------------------------------- built-in aggregates
 *
 * The aggregates are aggs.c's; here their cells live in the key table. The value
 * area of an entry is its naggs cells and, for the changelog, the result of each
 * aggregate it emitted last and whether it emitted at all. A push maps every
 * live row to its entry (ag_map_rows), then folds each aggregate in one loop
 * over its column (sp_ag_fold_batch).
 */

typedef struct ag_cfg {
    int nkeys; /* key columns of the input; 0 = stream-wide */
    int naggs;
    int running;   /* never clear: emit the keys each micro-batch updated */
    int changelog; /* aggregate_changelog: +I, or -U then +U, for changed results */
    int owns;      /* some cell owns memory: entries are released before they go */
    sp_ag_spec *aggs;
    /* aggregate_retract (a changelog too): the input column of the row kinds, and
     * the rendering of a malformed row for its dead letter */
    int retract;
    int opcol;
    sp_format csv;
} ag_cfg;

typedef struct ag_state {
    keyed k;
    uint32_t *ent; /* entry of each live row of the batch being folded */
    uint32_t cap_ent;
    sp_ag_cell *cur; /* changelog: the results of the key being emitted */
    uint32_t ndead;  /* retract: entries left with no live row (at least) */
    sp_buf rec;      /* retract: a malformed row as CSV */
} ag_state;

static inline sp_ag_cell *ag_cells(const ag_state *st, uint32_t e)
{
    return keyed_value(&st->k, e);
}

/* Changelog: the results entry e emitted last, then whether it emitted. */
static inline sp_ag_cell *ag_kept(const ag_state *st, const ag_cfg *cfg, uint32_t e)
{
    return ag_cells(st, e) + cfg->naggs;
}

static inline int64_t *ag_emitted(const ag_state *st, const ag_cfg *cfg, uint32_t e)
{
    return (int64_t *)(ag_kept(st, cfg, e) + cfg->naggs);
}

/* Retract: after the changelog's part, the key's live rows (added and not
 * retracted) and whether the entry counts in ndead. */
typedef struct rt_tail {
    int64_t live;
    int64_t dead;
} rt_tail;

static inline rt_tail *rt_tail_of(const ag_state *st, const ag_cfg *cfg, uint32_t e)
{
    return (rt_tail *)(ag_emitted(st, cfg, e) + 1);
}

static size_t ag_value_size(const ag_cfg *cfg)
{
    size_t cells = (size_t)cfg->naggs * sizeof(sp_ag_cell);
    size_t tail = cfg->retract ? sizeof(rt_tail) : 0;
    return cfg->changelog ? 2 * cells + sizeof(int64_t) + tail : cells;
}

/* keyed_release: the cells of entry e and the results the changelog kept. */
static void ag_release(sp_op *op, uint32_t e)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    for (int a = 0; a < cfg->naggs; a++) {
        sp_ag_release(&cfg->aggs[a], &ag_cells(st, e)[a]);
        if (cfg->changelog) sp_ag_value_release(&cfg->aggs[a], &ag_kept(st, cfg, e)[a]);
    }
}

/* One output row: the key of entry e (when keyed) and its aggregates; cells NULL
 * for a stream-wide aggregate over no rows (COUNT 0, the others NULL). */
static int ag_emit_row(sp_op *op, ag_state *st, const ag_cfg *cfg, sp_ag_cell *cells, uint32_t e)
{
    uint32_t r;
    int rc = keyed_begin_row(op, &st->k, cfg->nkeys, e, &r);
    if (rc) return rc;
    sp_batch *out = st->k.out;
    for (int a = 0; a < cfg->naggs; a++) {
        sp_ag_cell none = {.n = 0};
        if (sp_ag_write(&cfg->aggs[a], cells ? &cells[a] : &none, out, cfg->nkeys + a, r))
            return fail_nomem(op);
    }
    out->n++;
    return 0;
}

/* One changelog row: the key of entry e, the results vals, the row kind. */
static int cl_row(sp_op *op, ag_state *st, const ag_cfg *cfg, uint32_t e, const sp_ag_cell *vals,
                  const char *kind)
{
    uint32_t r;
    int rc = keyed_begin_row(op, &st->k, cfg->nkeys, e, &r);
    if (rc) return rc;
    sp_batch *out = st->k.out;
    for (int a = 0; a < cfg->naggs; a++)
        if (sp_ag_value_write(&cfg->aggs[a], &vals[a], out, cfg->nkeys + a, r))
            return fail_nomem(op);
    char *p = sp_arena_dup(&out->arena, kind, 2);
    if (!p) return fail_nomem(op);
    SP_STR(&out->cols[cfg->nkeys + cfg->naggs])[r] = (spate_str){p, 2};
    out->n++;
    return 0;
}

/* Entry e's changelog rows: none when no result changed since the key last
 * emitted; else "+I" with the results the first time, later "-U" with the kept
 * results then "+U" with the new ones, which are kept. */
static int cl_emit_key(sp_op *op, ag_state *st, const ag_cfg *cfg, uint32_t e)
{
    sp_ag_cell *cells = ag_cells(st, e), *kept = ag_kept(st, cfg, e);
    int64_t *emitted = ag_emitted(st, cfg, e);
    int same = *emitted != 0;
    for (int a = 0; a < cfg->naggs; a++) {
        sp_ag_result(&cfg->aggs[a], &cells[a], &st->cur[a]);
        same = same && sp_ag_value_equal(&cfg->aggs[a], &st->cur[a], &kept[a]);
    }
    if (same) return 0;
    int rc = *emitted ? cl_row(op, st, cfg, e, kept, "-U") : 0;
    if (!rc) rc = cl_row(op, st, cfg, e, st->cur, *emitted ? "+U" : "+I");
    for (int a = 0; a < cfg->naggs && !rc; a++)
        if (sp_ag_value_keep(&cfg->aggs[a], &kept[a], &st->cur[a])) rc = fail_nomem(op);
    *emitted = 1;
    return rc;
}

static int ag_emit(sp_op *op, int at_epoch)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    int rc = 0;
    for (uint32_t i = 0; i < st->k.ndirty && !rc; i++) {
        uint32_t e = st->k.dirty[i];
        rc = cfg->changelog ? cl_emit_key(op, st, cfg, e)
                            : ag_emit_row(op, st, cfg, ag_cells(st, e), e);
    }
    /* A stream-wide count of an empty micro-batch is 0, as in Spark, not absent. */
    if (!rc && at_epoch && cfg->nkeys == 0 && st->k.per_batch && st->k.ndirty == 0)
        rc = ag_emit_row(op, st, cfg, NULL, 0);
    if (!rc) rc = sp_ops_out_flush(op, &st->k.out);
    keyed_round_done(&st->k);
    return rc;
}

static int ag_open(sp_op *op)
{
    const ag_cfg *cfg = op->node->cfg;
    ag_state *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    if (keyed_init(&st->k, op, ag_value_size(cfg), cfg->running)) return fail_nomem(op);
    if (cfg->owns) st->k.release = ag_release;
    if (cfg->changelog && !(st->cur = calloc((size_t)cfg->naggs, sizeof *st->cur)))
        return fail_nomem(op);
    return 0;
}

/* Maps every live row of b to its entry in st->ent. */
static int ag_map_rows(sp_op *op, ag_state *st, const ag_cfg *cfg, const sp_batch *b)
{
    uint32_t n = sp_batch_count(b);
    if (n > st->cap_ent) {
        uint32_t *p = realloc(st->ent, (size_t)n * sizeof *p);
        if (!p) return fail_nomem(op);
        st->ent = p;
        st->cap_ent = n;
    }
    enum { AHEAD = 8 }; /* rows between a slot's prefetch and its lookup */
    for (uint32_t i = 0; i < n; i++) {
        int ins;
        if (i + AHEAD < n)
            sp_keytable_prefetch(&st->k.t, row_hash(b, sp_batch_phys(b, i + AHEAD), cfg->nkeys));
        st->ent[i] = keyed_touch(&st->k, b, sp_batch_phys(b, i), cfg->nkeys, &ins);
        if (st->ent[i] == (uint32_t)-1) return fail_nomem(op);
    }
    return 0;
}

static int ag_push(sp_op *op, int port, sp_batch *b)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    ensure_hashes(b, cfg->nkeys);
    keyed_batch_begins(&st->k);
    int rc = ag_map_rows(op, st, cfg, b);
    if (!rc && sp_batch_count(b) > 0) {
        /* entry e's cells are at base + e * stride: the value areas past the mark */
        sp_ag_rows m = {keyed_value(&st->k, 0), st->k.t.stride, st->ent};
        for (int a = 0; a < cfg->naggs && !rc; a++)
            if (sp_ag_fold_batch(&cfg->aggs[a], a, &m, b)) rc = fail_nomem(op);
    }
    sp_op_release(op, b);
    if (!rc && st->k.continuous) rc = ag_emit(op, 0);
    return rc;
}

static int ag_epoch(sp_op *op, int64_t time_ms)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    int rc = ag_emit(op, 1);
    return rc ? rc : keyed_sweep(op, &st->k, cfg->nkeys, st->k.ttl_ms ? sp_now_ms() : 0, NULL);
}

static int ag_tick(sp_op *op, int64_t now_ms)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    return keyed_tick(op, &st->k, cfg->nkeys, now_ms, NULL);
}

static int ag_finish(sp_op *op)
{
    return ag_emit(op, 0);
}

static void ag_close(sp_op *op)
{
    ag_state *st = op->st;
    if (!st) return;
    keyed_free(&st->k, op);
    free(st->ent);
    free(st->cur);
    sp_buf_free(&st->rec);
    free(st);
    op->st = NULL;
}

/* An entry's value: its cells, then for the changelog whether the key emitted
 * and, if it did, the results it emitted last, then for retract its live rows. */
static int ag_value_out(sp_op *op, sp_wbuf *w, uint32_t e)
{
    const ag_cfg *cfg = op->node->cfg;
    const ag_state *st = op->st;
    for (int a = 0; a < cfg->naggs; a++)
        sp_ag_out(w, &cfg->aggs[a], &ag_cells(st, e)[a]);
    if (!cfg->changelog) return 0;
    int emitted = *ag_emitted(st, cfg, e) != 0;
    sp_w_u8(w, (uint8_t)emitted);
    for (int a = 0; a < cfg->naggs && emitted; a++)
        sp_ag_value_out(w, &cfg->aggs[a], &ag_kept(st, cfg, e)[a]);
    if (cfg->retract) sp_w_varint(w, (uint64_t)rt_tail_of(st, cfg, e)->live);
    return 0;
}

static int ag_value_in(sp_op *op, sp_rbuf *r, uint32_t e)
{
    const ag_cfg *cfg = op->node->cfg;
    ag_state *st = op->st;
    for (int a = 0; a < cfg->naggs && !r->err; a++)
        if (sp_ag_in(r, &cfg->aggs[a], &ag_cells(st, e)[a])) return fail_nomem(op);
    if (!cfg->changelog || r->err) return 0;
    int64_t *emitted = ag_emitted(st, cfg, e);
    *emitted = sp_r_u8(r);
    for (int a = 0; a < cfg->naggs && *emitted && !r->err; a++)
        if (sp_ag_value_in(r, &cfg->aggs[a], &ag_kept(st, cfg, e)[a])) return fail_nomem(op);
    if (cfg->retract) {
        rt_tail *t = rt_tail_of(st, cfg, e);
        t->live = (int64_t)sp_r_varint(r);
        if (t->live < 0) r->err = SPATE_EPARSE;
        if (t->live == 0 && !t->dead) { /* not written so, but harmless */
            t->dead = 1;
            st->ndead++;
        }
    }
    return 0; /* a read error is sticky: keyed_restore_group reports it */
}

static int ag_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    return keyed_snapshot(op, &st->k, cfg->nkeys, s, ag_value_out);
}

static int ag_restore(sp_op *op, sp_state_in *s)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    return keyed_restore(op, &st->k, cfg->nkeys, s, ag_value_in);
}

static void ag_cfg_free(void *p)
{
    ag_cfg *cfg = p;
    if (!cfg) return;
    free(cfg->aggs);
    free(cfg);
}

static const sp_op_class ag_class = {
    .name = "aggregate",
    .open = ag_open,
    .push = ag_push,
    .epoch = ag_epoch,
    .tick = ag_tick,
    .finish = ag_finish,
    .snapshot = ag_snapshot,
    .restore = ag_restore,
    .close = ag_close,
    .cfg_free = ag_cfg_free,
};

static const sp_op_class changelog_class = {
    .name = "aggregate_changelog",
    .open = ag_open,
    .push = ag_push,
    .epoch = ag_epoch,
    .tick = ag_tick,
    .finish = ag_finish,
    .snapshot = ag_snapshot,
    .restore = ag_restore,
    .close = ag_close,
    .cfg_free = ag_cfg_free,
};

/* Builds the configuration and output schema of an aggregate keyed by the first
 * nkeys columns of in (0 = stream-wide); `what` names the API in messages. */
static int ag_build(const spate_stream *in, int nkeys, int naggs, const spate_agg *aggs,
                    const char *what, ag_cfg **cfg_out, spate_schema **schema_out)
{
    ag_cfg *cfg = calloc(1, sizeof *cfg);
    spate_schema *schema = spate_schema_new();
    int rc = cfg && schema ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
    if (!rc && !(cfg->aggs = calloc((size_t)naggs, sizeof *cfg->aggs)))
        rc = sp_err(SPATE_ENOMEM, "out of memory");
    if (!rc) rc = schema_append(schema, in->schema, 0, nkeys);
    for (int a = 0; a < naggs && !rc; a++) {
        rc = sp_ag_resolve(in->schema, &aggs[a], &cfg->aggs[a], schema, what);
        if (!rc && cfg->aggs[a].owns) cfg->owns = 1;
    }
    if (rc) {
        ag_cfg_free(cfg);
        spate_schema_free(schema);
        return rc;
    }
    cfg->nkeys = nkeys;
    cfg->naggs = naggs;
    *cfg_out = cfg;
    *schema_out = schema;
    return 0;
}

/* Built-in aggregates per key; output: key columns, then one column per aggregate
 * named `as` (default "count" or "<kind>_<column>"). EINVAL for an unkeyed input,
 * no aggregates or a quantile outside [0, 1], ENOTFOUND for an unknown column,
 * ETYPE for a column type the aggregate does not take. */
int spate_aggregate_by_key(spate_stream *in, int naggs, const spate_agg *aggs, int running,
                           spate_stream **out)
{
    int rc = check_keyed(in, out, "aggregate_by_key");
    if (rc) return rc;
    if (naggs <= 0 || !aggs)
        return sp_err(SPATE_EINVAL, "aggregate_by_key needs at least one aggregate");
    ag_cfg *cfg;
    spate_schema *schema;
    rc = ag_build(in, in->nkeys, naggs, aggs, "aggregate_by_key", &cfg, &schema);
    if (rc) return rc;
    cfg->running = running != 0;
    return add_keyed_node(in, &ag_class, cfg, schema, out);
}

/* The running aggregate emitting a changelog (cl_emit_key); output: key columns,
 * aggregate columns, op. A non-keyed input aggregates as one key, gathered into
 * one instance on worker 0. Errors as spate_aggregate_by_key's, and the name
 * "op" is taken. */
int spate_aggregate_changelog(spate_stream *in, int naggs, const spate_agg *aggs,
                              spate_stream **out)
{
    int rc = check_stream(in, out, "aggregate_changelog");
    if (rc) return rc;
    if (naggs <= 0 || !aggs)
        return sp_err(SPATE_EINVAL, "aggregate_changelog needs at least one aggregate");
    ag_cfg *cfg;
    spate_schema *schema;
    rc = ag_build(in, in->nkeys, naggs, aggs, "aggregate_changelog", &cfg, &schema);
    if (rc) return rc;
    cfg->running = cfg->changelog = 1;
    if ((rc = spate_schema_add(schema, "op", SPATE_STRING)) != 0) {
        ag_cfg_free(cfg);
        spate_schema_free(schema);
        return rc;
    }
    return in->nkeys > 0 ? add_keyed_node(in, &changelog_class, cfg, schema, out)
                         : add_gather_node(in, &changelog_class, cfg, schema, out);
}

/* ------------------------------------------------ aggregate_retract
 *
 * The changelog aggregate over an updating input: each row's kind (column
 * opcol) adds it ("+I", "+U") or retracts one row added before ("-U", "-D").
 * Rows fold one by one, in order (a retraction must meet the state its earlier
 * rows made), after ag_map_rows found every row's entry. A retraction is checked
 * before it is applied: the key must have live rows and every aggregate must hold
 * the row's value (sp_ag_holds_row), else the row is malformed - dead-lettered
 * with the reason and skipped, so counts never go negative; so is a row whose
 * kind is NULL or another text. A key whose live rows drop to 0 has its cells
 * released at once (it starts over if rows come back before the emission); the
 * emission then sends "-D" with the results it emitted last, if it emitted, and
 * empties the entry. The table cannot delete an entry, so empty entries are
 * counted (ndead) and dropped by a rebuild once they are half the table, and
 * never written to checkpoints.
 */

static const char *const rt_kinds[] = {"+I", "+U", "-U", "-D"};

/* 1 adds, -1 retracts, 0 malformed (NULL or unknown). */
static int rt_kind(const sp_vec *v, uint32_t r)
{
    if (sp_vec_is_null(v, r)) return 0;
    spate_str s = SP_STR(v)[r];
    for (int k = 0; k < 4; k++)
        if (s.len == 2 && !memcmp(s.ptr, rt_kinds[k], 2)) return k < 2 ? 1 : -1;
    return 0;
}

/* Dead-letters row r of b (the input row as CSV), its column `field` at fault. */
static int rt_bad(sp_op *op, ag_state *st, const ag_cfg *cfg, const sp_batch *b, uint32_t r,
                  const char *field, const char *reason)
{
    st->rec.len = 0;
    if (sp_format_write_row(&cfg->csv, b, r, &st->rec)) return fail_nomem(op);
    size_t n = st->rec.len && st->rec.p[st->rec.len - 1] == '\n' ? st->rec.len - 1 : st->rec.len;
    int rc = sp_deadletter_report(sp_op_deadletter(op), op->node->cls->name, "record", field,
                                  reason, st->rec.p ? st->rec.p : "", n);
    return rc ? sp_op_fail(op, rc, "%s", spate_last_error()) : 0;
}

/* Folds row r of b (kind `kind`, entry e) into its key. */
static int rt_row(sp_op *op, ag_state *st, const ag_cfg *cfg, const sp_batch *b, uint32_t r,
                  uint32_t e, int kind)
{
    sp_ag_cell *cells = ag_cells(st, e);
    rt_tail *t = rt_tail_of(st, cfg, e);
    const spate_schema *in = cfg->csv.schema;
    if (kind > 0) {
        for (int a = 0; a < cfg->naggs; a++)
            if (sp_ag_add_row(&cfg->aggs[a], &cells[a], b, r)) return fail_nomem(op);
        t->live++;
        return 0;
    }
    char why[160];
    const char *op_name = in->f[cfg->opcol].name;
    spate_str k = SP_STR(&b->cols[cfg->opcol])[r];
    if (t->live == 0) {
        snprintf(why, sizeof why, "%.2s retracts a row its group does not hold (it has none)",
                 k.ptr);
        return rt_bad(op, st, cfg, b, r, op_name, why);
    }
    for (int a = 0; a < cfg->naggs; a++) {
        const sp_ag_spec *s = &cfg->aggs[a];
        if (sp_ag_holds_row(s, &cells[a], b, r)) continue;
        snprintf(why, sizeof why, "%.2s retracts a value its group does not hold (%s has none)",
                 k.ptr, op->node->schema->f[cfg->nkeys + a].name);
        return rt_bad(op, st, cfg, b, r, s->col >= 0 ? in->f[s->col].name : op_name, why);
    }
    for (int a = 0; a < cfg->naggs; a++)
        sp_ag_retract_row(&cfg->aggs[a], &cells[a], b, r);
    if (--t->live == 0)
        for (int a = 0; a < cfg->naggs; a++)
            sp_ag_release(&cfg->aggs[a], &cells[a]);
    return 0;
}

static int rt_emit(sp_op *op, int at_epoch);

static int rt_push(sp_op *op, int port, sp_batch *b)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    ensure_hashes(b, cfg->nkeys);
    keyed_batch_begins(&st->k);
    int rc = ag_map_rows(op, st, cfg, b);
    const sp_vec *kinds = &b->cols[cfg->opcol];
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) {
        uint32_t r = sp_batch_phys(b, i);
        int kind = rt_kind(kinds, r);
        rc = kind ? rt_row(op, st, cfg, b, r, st->ent[i], kind)
                  : rt_bad(op, st, cfg, b, r, cfg->csv.schema->f[cfg->opcol].name,
                           sp_vec_is_null(kinds, r) ? "the row kind is NULL"
                                                    : "the row kind is not +I, +U, -U or -D");
    }
    sp_op_release(op, b);
    if (!rc && st->k.continuous) rc = rt_emit(op, 0);
    return rc;
}

/* keyed_empty: no live row (after an emission: nothing kept either). */
static int rt_empty(sp_op *op, uint32_t e)
{
    const ag_state *st = op->st;
    return rt_tail_of(st, op->node->cfg, e)->live == 0;
}

/* Entry e's changelog rows (cl_emit_key), or "-D" when it has no live row left. */
static int rt_emit_key(sp_op *op, ag_state *st, const ag_cfg *cfg, uint32_t e)
{
    rt_tail *t = rt_tail_of(st, cfg, e);
    if (t->live > 0) {
        if (t->dead) {
            t->dead = 0;
            st->ndead--;
        }
        return cl_emit_key(op, st, cfg, e);
    }
    int64_t *emitted = ag_emitted(st, cfg, e);
    sp_ag_cell *kept = ag_kept(st, cfg, e);
    int rc = *emitted ? cl_row(op, st, cfg, e, kept, "-D") : 0;
    for (int a = 0; a < cfg->naggs; a++)
        sp_ag_value_release(&cfg->aggs[a], &kept[a]);
    *emitted = 0;
    if (!t->dead) {
        t->dead = 1;
        st->ndead++;
    }
    return rc;
}

/* Drops the empty entries once they are half the table and, with check_ttl and
 * a TTL, the expired ones. Contract: nothing is dirty. */
static int rt_sweep(sp_op *op, ag_state *st, const ag_cfg *cfg, int64_t now_ms, int check_ttl)
{
    uint32_t n = sp_keytable_count(&st->k.t);
    int empties = st->ndead >= 64 && st->ndead >= n / 2;
    if (st->k.ndirty) return 0;
    if (!empties && !(check_ttl && st->k.ttl_ms && keyed_count_expired(&st->k, now_ms))) return 0;
    int rc = keyed_rebuild(op, &st->k, cfg->nkeys, st->k.ttl_ms ? now_ms : 0, NULL, rt_empty);
    if (!rc) st->ndead = 0;
    return rc;
}

static int rt_emit(sp_op *op, int at_epoch)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    int rc = 0;
    for (uint32_t i = 0; i < st->k.ndirty && !rc; i++)
        rc = rt_emit_key(op, st, cfg, st->k.dirty[i]);
    if (!rc) rc = sp_ops_out_flush(op, &st->k.out);
    keyed_round_done(&st->k);
    /* the epoch sweeps expired keys too; elsewhere only when many are empty */
    if (!rc) rc = rt_sweep(op, st, cfg, st->k.ttl_ms ? sp_now_ms() : 0, at_epoch);
    return rc;
}

static int rt_epoch(sp_op *op, int64_t time_ms)
{
    return rt_emit(op, 1);
}

static int rt_tick(sp_op *op, int64_t now_ms)
{
    ag_state *st = op->st;
    keyed *k = &st->k;
    if (!k->ttl_ms || !k->continuous || now_ms - k->swept_ms < SWEEP_MS) return 0;
    k->swept_ms = now_ms;
    return rt_sweep(op, st, op->node->cfg, now_ms, 1);
}

static int rt_finish(sp_op *op)
{
    return rt_emit(op, 0);
}

static int rt_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    ag_state *st = op->st;
    const ag_cfg *cfg = op->node->cfg;
    return keyed_snapshot_if(op, &st->k, cfg->nkeys, s, ag_value_out, rt_empty);
}

static const sp_op_class retract_class = {
    .name = "aggregate_retract",
    .open = ag_open,
    .push = rt_push,
    .epoch = rt_epoch,
    .tick = rt_tick,
    .finish = rt_finish,
    .snapshot = rt_snapshot,
    .restore = ag_restore,
    .close = ag_close,
    .cfg_free = ag_cfg_free,
};

/* The changelog aggregate of an updating input (see above); output as
 * spate_aggregate_changelog's, plus "-D" rows. */
int spate_aggregate_retract(spate_stream *in, const char *op_column, int naggs,
                            const spate_agg *aggs, spate_stream **out)
{
    static const char what[] = "aggregate_retract";
    int rc = check_stream(in, out, what);
    if (rc) return rc;
    if (naggs <= 0 || !aggs) return sp_err(SPATE_EINVAL, "%s needs at least one aggregate", what);
    if (!op_column)
        return sp_err(SPATE_EINVAL, "%s needs op_column: the column of the row kinds", what);
    int opcol = spate_schema_find(in->schema, op_column);
    if (opcol < 0)
        return sp_err(SPATE_ENOTFOUND, "%s: no column '%s' for the row kinds (op_column)", what,
                      op_column);
    if (in->schema->f[opcol].type != SPATE_STRING)
        return sp_err(SPATE_ETYPE,
                      "%s: the row kind column '%s' is %s: it must be STRING (+I, +U, -U, -D)",
                      what, op_column, spate_type_name(in->schema->f[opcol].type));
    if (opcol < in->nkeys)
        return sp_err(SPATE_EINVAL, "%s: the row kind column '%s' cannot be a group key", what,
                      op_column);
    for (int a = 0; a < naggs; a++)
        if (aggs[a].kind != SPATE_AGG_COUNT && aggs[a].column && !strcmp(aggs[a].column, op_column))
            return sp_err(SPATE_EINVAL,
                          "%s: the row kind column '%s' is not an aggregate input (aggregate %d)",
                          what, op_column, a + 1);
    ag_cfg *cfg;
    spate_schema *schema;
    rc = ag_build(in, in->nkeys, naggs, aggs, what, &cfg, &schema);
    if (rc) return rc;
    for (int a = 0; a < naggs && !rc; a++) {
        rc = sp_ag_make_retract(&aggs[a], &cfg->aggs[a], what);
        if (!rc && cfg->aggs[a].owns) cfg->owns = 1;
    }
    if (!rc) rc = spate_schema_add(schema, "op", SPATE_STRING);
    if (!rc) rc = sp_format_init(&cfg->csv, "csv", in->schema);
    if (rc) {
        ag_cfg_free(cfg);
        spate_schema_free(schema);
        return rc;
    }
    cfg->running = cfg->changelog = cfg->retract = 1;
    cfg->opcol = opcol;
    return in->nkeys > 0 ? add_keyed_node(in, &retract_class, cfg, schema, out)
                         : add_gather_node(in, &retract_class, cfg, schema, out);
}

/* Rows per micro-batch (0 for an empty one), or the running count in the
 * continuous style; one instance on worker 0. */
int spate_count(spate_stream *in, spate_stream **out)
{
    int rc = check_stream(in, out, "count");
    if (rc) return rc;
    static const spate_agg count = {SPATE_AGG_COUNT, NULL, "count", 0};
    ag_cfg *cfg;
    spate_schema *schema;
    rc = ag_build(in, 0, 1, &count, "count", &cfg, &schema);
    if (rc) return rc;
    return add_gather_node(in, &ag_class, cfg, schema, out);
}

/* Keys the stream by all its columns (spate_key_by) and counts each distinct row. */
int spate_count_by_value(spate_stream *in, spate_stream **out)
{
    int rc = check_stream(in, out, "count_by_value");
    if (rc) return rc;
    int n = in->schema->n;
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < n; c++)
        names[c] = in->schema->f[c].name;
    spate_stream *keyed_in;
    rc = spate_key_by(in, n, names, &keyed_in);
    free(names);
    if (rc) return rc;
    static const spate_agg count = {SPATE_AGG_COUNT, NULL, "count", 0};
    return spate_aggregate_by_key(keyed_in, 1, &count, 0, out);
}

/* ------------------------------------ reduce, reduceByKey, combineByKey */

typedef struct fold_cfg {
    int nkeys;             /* key columns of the input; 0 = stream-wide */
    int nvals;             /* value columns of the input */
    spate_schema *acc;     /* accumulator schema: the values, or the combiner */
    spate_map_fn create;   /* NULL: a key's first value is its accumulator */
    spate_reduce_fn merge; /* (accumulator, value) -> accumulator */
    spate_reduce_fn merge_combiners;
    void *ud;
    const char *what; /* API name for messages */
} fold_cfg;

typedef struct fold_state {
    keyed k;
    sp_batch **chunks; /* accumulator of entry e: row e % ACC_ROWS of chunk e / ACC_ROWS */
    uint32_t nchunks, cap_chunks;
    sp_batch *scratch; /* one row: what a callback builds */
    spate_out o;
} fold_state;

static sp_batch *fold_chunk(fold_state *st, const fold_cfg *cfg, uint32_t e)
{
    uint32_t c = e / ACC_ROWS;
    if (c < st->nchunks) return st->chunks[c];
    if (st->nchunks == st->cap_chunks) {
        uint32_t cap = st->cap_chunks ? st->cap_chunks * 2 : 8;
        sp_batch **p = realloc(st->chunks, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        st->chunks = p;
        st->cap_chunks = cap;
    }
    sp_batch *b = sp_batch_new(ACC_ROWS);
    if (!b || sp_batch_reset(b, cfg->acc)) {
        sp_batch_free(b);
        return NULL;
    }
    b->n = ACC_ROWS;
    st->chunks[st->nchunks++] = b;
    return b;
}

static int scratch_full(spate_out *o, void *arg)
{
    return sp_err(SPATE_EINVAL, "a reduce or combine callback builds exactly one row: "
                                "do not call spate_out_emit there");
}

/* Starts a fresh one-row output for a callback. */
static spate_out *scratch_begin(fold_state *st, const fold_cfg *cfg)
{
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    sp_out_init(&st->o, st->scratch, 0, cfg->acc->n, scratch_full, NULL);
    sp_out_begin(&st->o);
    return &st->o;
}

/* Checks the callback's outcome and copies the row it built to accumulator e. */
static int scratch_end(sp_op *op, fold_state *st, const fold_cfg *cfg, int urc, sp_batch *chunk,
                       uint32_t row)
{
    if (urc < 0) return sp_op_fail(op, SPATE_EUSER, "%s callback returned %d", cfg->what, urc);
    if (st->o.err)
        return sp_op_fail(op, st->o.err, "%s callback: %s", cfg->what, spate_last_error());
    sp_out_end_row(&st->o);
    for (int c = 0; c < cfg->acc->n; c++)
        if (sp_batch_copy_cell(chunk, c, row, st->scratch, c, 0)) return fail_nomem(op);
    return 0;
}

/* Folds physical row r of b into the accumulator of its key. */
static int fold_row(sp_op *op, fold_state *st, const fold_cfg *cfg, const sp_batch *b, uint32_t r)
{
    int inserted;
    uint32_t e = keyed_touch(&st->k, b, r, cfg->nkeys, &inserted);
    sp_batch *chunk = e == (uint32_t)-1 ? NULL : fold_chunk(st, cfg, e);
    if (!chunk) return fail_nomem(op);
    uint32_t ar = e % ACC_ROWS;
    spate_row val, acc;
    sp_row_set(&val, b, r, cfg->nkeys, cfg->nvals);
    sp_row_set(&acc, chunk, ar, 0, cfg->acc->n);
    if (inserted && !cfg->create) {
        for (int c = 0; c < cfg->nvals; c++)
            if (sp_batch_copy_cell(chunk, c, ar, b, cfg->nkeys + c, r)) return fail_nomem(op);
        return 0;
    }
    spate_out *o = scratch_begin(st, cfg);
    int urc = inserted ? cfg->create(&val, o, cfg->ud) : cfg->merge(&acc, &val, o, cfg->ud);
    return scratch_end(op, st, cfg, urc, chunk, ar);
}

/* One output row: the key of entry e (when keyed) and its accumulator. */
static int fold_emit_row(sp_op *op, fold_state *st, const fold_cfg *cfg, uint32_t e)
{
    uint32_t r;
    int rc = keyed_begin_row(op, &st->k, cfg->nkeys, e, &r);
    if (rc) return rc;
    sp_batch *out = st->k.out, *chunk = st->chunks[e / ACC_ROWS];
    for (int c = 0; c < cfg->acc->n; c++)
        if (sp_batch_copy_cell(out, cfg->nkeys + c, r, chunk, c, e % ACC_ROWS))
            return fail_nomem(op);
    out->n++;
    return 0;
}

static int fold_emit(sp_op *op)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    int rc = 0;
    for (uint32_t i = 0; i < st->k.ndirty && !rc; i++)
        rc = fold_emit_row(op, st, cfg, st->k.dirty[i]);
    if (!rc) rc = sp_ops_out_flush(op, &st->k.out);
    if (st->k.per_batch)
        for (uint32_t c = 0; c < st->nchunks; c++)
            sp_arena_reset(&st->chunks[c]->arena);
    keyed_round_done(&st->k);
    return rc;
}

static int fold_open(sp_op *op)
{
    const fold_cfg *cfg = op->node->cfg;
    fold_state *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    st->scratch = sp_batch_new(1);
    if (!st->scratch || sp_batch_reset(st->scratch, cfg->acc) || keyed_init(&st->k, op, 0, 0))
        return fail_nomem(op);
    return 0;
}

static int fold_push(sp_op *op, int port, sp_batch *b)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    ensure_hashes(b, cfg->nkeys);
    keyed_batch_begins(&st->k);
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = fold_row(op, st, cfg, b, sp_batch_phys(b, i));
    sp_op_release(op, b);
    if (!rc && st->k.continuous) rc = fold_emit(op);
    return rc;
}

/* keyed_move for a sweep: the accumulator row follows its entry. */
static int fold_move(sp_op *op, uint32_t from, uint32_t to)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    sp_batch *src = st->chunks[from / ACC_ROWS], *dst = st->chunks[to / ACC_ROWS];
    for (int c = 0; from != to && c < cfg->acc->n; c++)
        if (sp_batch_copy_cell(dst, c, to % ACC_ROWS, src, c, from % ACC_ROWS)) return SPATE_ENOMEM;
    return 0;
}

static int fold_epoch(sp_op *op, int64_t time_ms)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    int rc = fold_emit(op);
    return rc ? rc : keyed_sweep(op, &st->k, cfg->nkeys, st->k.ttl_ms ? sp_now_ms() : 0, fold_move);
}

static int fold_tick(sp_op *op, int64_t now_ms)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    return keyed_tick(op, &st->k, cfg->nkeys, now_ms, fold_move);
}

static void fold_close(sp_op *op)
{
    fold_state *st = op->st;
    if (!st) return;
    keyed_free(&st->k, op);
    for (uint32_t c = 0; c < st->nchunks; c++)
        sp_batch_free(st->chunks[c]);
    free(st->chunks);
    sp_batch_free(st->scratch);
    free(st);
    op->st = NULL;
}

/* An entry's value: its accumulator row. */
static int fold_value_out(sp_op *op, sp_wbuf *w, uint32_t e)
{
    const fold_state *st = op->st;
    sp_w_row(w, st->chunks[e / ACC_ROWS], e % ACC_ROWS);
    return 0;
}

/* Reads the accumulator row through the one-row scratch batch (free outside a
 * callback) into row e of the value store. */
static int fold_value_in(sp_op *op, sp_rbuf *r, uint32_t e)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    int rc = sp_r_row(r, st->scratch);
    if (rc == SPATE_EPARSE) return 0; /* sticky: keyed_restore_group reports it */
    sp_batch *chunk = rc ? NULL : fold_chunk(st, cfg, e);
    for (int c = 0; chunk && c < cfg->acc->n; c++)
        if (sp_batch_copy_cell(chunk, c, e % ACC_ROWS, st->scratch, c, 0)) chunk = NULL;
    return chunk ? 0 : fail_nomem(op);
}

static int fold_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    return keyed_snapshot(op, &st->k, cfg->nkeys, s, fold_value_out);
}

static int fold_restore(sp_op *op, sp_state_in *s)
{
    fold_state *st = op->st;
    const fold_cfg *cfg = op->node->cfg;
    return keyed_restore(op, &st->k, cfg->nkeys, s, fold_value_in);
}

static void fold_cfg_free(void *p)
{
    fold_cfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->acc);
    free(cfg);
}

static const sp_op_class fold_class = {
    .name = "reduce",
    .open = fold_open,
    .push = fold_push,
    .epoch = fold_epoch,
    .tick = fold_tick,
    .finish = fold_emit,
    .snapshot = fold_snapshot,
    .restore = fold_restore,
    .close = fold_close,
    .cfg_free = fold_cfg_free,
};

/* A fold configuration over in, keyed by its first nkeys columns; acc_schema NULL
 * means the accumulator is the value columns. */
static fold_cfg *fold_cfg_new(const spate_stream *in, int nkeys, const spate_schema *acc_schema,
                              const char *what)
{
    fold_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    cfg->nkeys = nkeys;
    cfg->nvals = in->schema->n - nkeys;
    cfg->what = what;
    if (acc_schema) {
        cfg->acc = sp_schema_copy(acc_schema);
    } else if ((cfg->acc = spate_schema_new()) &&
               schema_append(cfg->acc, in->schema, nkeys, in->schema->n)) {
        spate_schema_free(cfg->acc);
        cfg->acc = NULL;
    }
    if (!cfg->acc) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

/* Adds the fold node: keyed when cfg is, else gathering. cfg and schema (NULL for
 * either means an allocation failed) are taken over. */
static int add_fold_node(spate_stream *in, fold_cfg *cfg, spate_schema *schema, spate_stream **out)
{
    if (!cfg || !schema) {
        fold_cfg_free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    return cfg->nkeys > 0 ? add_keyed_node(in, &fold_class, cfg, schema, out)
                          : add_gather_node(in, &fold_class, cfg, schema, out);
}

/* reduce (nkeys 0) and reduce_by_key: the accumulator is the value columns, the
 * output schema the input's. */
static int add_reduce(spate_stream *in, int nkeys, spate_reduce_fn fn, void *ud, const char *what,
                      spate_stream **out)
{
    fold_cfg *cfg = fold_cfg_new(in, nkeys, NULL, what);
    if (cfg) {
        cfg->merge = fn;
        cfg->ud = ud;
    }
    return add_fold_node(in, cfg, sp_schema_copy(in->schema), out);
}

/* Folds every row of a micro-batch into one with fn; output: the input schema,
 * unkeyed, one instance on worker 0. No row for an empty micro-batch. */
int spate_reduce(spate_stream *in, spate_reduce_fn fn, void *ud, spate_stream **out)
{
    int rc = check_stream(in, out, "reduce");
    if (rc) return rc;
    if (!fn) return sp_err(SPATE_EINVAL, "reduce needs a function");
    return add_reduce(in, 0, fn, ud, "reduce", out);
}

/* Folds the value columns per key with fn; output: the input schema, keyed and
 * partitioned. EINVAL for an unkeyed input or one without value columns. */
int spate_reduce_by_key(spate_stream *in, spate_reduce_fn fn, void *ud, spate_stream **out)
{
    int rc = check_keyed(in, out, "reduce_by_key");
    if (rc) return rc;
    if (!fn) return sp_err(SPATE_EINVAL, "reduce_by_key needs a function");
    if (in->schema->n == in->nkeys)
        return sp_err(SPATE_EINVAL, "reduce_by_key needs value columns besides the key");
    return add_reduce(in, in->nkeys, fn, ud, "reduce_by_key", out);
}

/* Folds values into combiners of comb_schema; output: key columns + combiner
 * columns. EINVAL when an argument is missing or a column name repeats. */
int spate_combine_by_key(spate_stream *in, const spate_schema *comb_schema, spate_map_fn create,
                         spate_reduce_fn merge_value, spate_reduce_fn merge_combiners, void *ud,
                         spate_stream **out)
{
    int rc = check_keyed(in, out, "combine_by_key");
    if (rc) return rc;
    if (!comb_schema || comb_schema->n == 0 || !create || !merge_value || !merge_combiners)
        return sp_err(SPATE_EINVAL, "combine_by_key needs a combiner schema and the create, "
                                    "merge_value and merge_combiners functions");
    spate_schema *schema = sp_ops_key_value_schema(in, comb_schema, &rc);
    if (!schema) return rc;
    fold_cfg *cfg = fold_cfg_new(in, in->nkeys, comb_schema, "combine_by_key");
    if (cfg) {
        cfg->create = create;
        cfg->merge = merge_value;
        cfg->merge_combiners = merge_combiners;
        cfg->ud = ud;
    }
    return add_fold_node(in, cfg, schema, out);
}

/* ------------------------------------------------------------ groupByKey */

typedef struct group_cfg {
    int nkeys;
    int nuser;         /* columns of the callback's out_schema */
    spate_group_fn fn; /* NULL: emit the rows themselves, grouped */
    void *ud;
} group_cfg;

/* Values of the group on side (0; 1 for cogroup's right side); 0 when out of range. */
size_t spate_group_count(const spate_group *g, int side)
{
    if (!g || side < 0 || side >= g->nsides) return 0;
    return sp_keyrows_slot_of(g->kr, g->entry)->count[side];
}

/* A view of value i of side: the value columns of the kept row. */
int spate_group_get(const spate_group *g, int side, size_t i, spate_row *value)
{
    if (!value || i >= spate_group_count(g, side))
        return sp_err(SPATE_EINVAL, "group value %zu of side %d out of range", i, side);
    const sp_rowref *ref = sp_keyrows_row(g->kr, g->entry, side, (uint32_t)i);
    const sp_batch *b = g->kr->batches[ref->batch];
    sp_row_set(value, b, ref->row, g->kr->nkeys, b->ncols - g->kr->nkeys);
    return 0;
}

/* A kept row holding the key of entry e: its first row on either side. */
static const sp_rowref *group_key_ref(const sp_keyrows *kr, uint32_t e, int nsides)
{
    const sp_keyrows_slot *s = sp_keyrows_slot_of(kr, e);
    for (int side = 0; side < nsides; side++)
        if (s->count[side]) return sp_keyrows_row(kr, e, side, 0);
    return NULL;
}

/* A view of the group's key columns. */
int spate_group_key(const spate_group *g, spate_row *key)
{
    const sp_rowref *ref = g && key ? group_key_ref(g->kr, g->entry, g->nsides) : NULL;
    if (!ref) return sp_err(SPATE_EINVAL, "spate_group_key: no group");
    sp_row_set(key, g->kr->batches[ref->batch], ref->row, 0, g->kr->nkeys);
    return 0;
}

int sp_ops_group_each(sp_op *op, const sp_keyrows *kr, int nsides, spate_group_fn fn, void *ud,
                      int nuser)
{
    const char *what = op->node->cls->name;
    spate_out o;
    int rc = sp_op_out_open(op, &o, NULL, kr->nkeys, nuser);
    if (rc) return rc;
    spate_group g = {kr, 0, nsides};
    for (uint32_t e = 0; e < sp_keytable_count(&kr->keys) && !rc; e++) {
        const sp_rowref *ref = group_key_ref(kr, e, nsides);
        if (!ref) continue;
        g.entry = e;
        o.key_src = kr->batches[ref->batch];
        o.key_row = ref->row;
        o.nkeys = kr->nkeys;
        if ((rc = sp_out_begin(&o))) break;
        int urc = fn(&g, &o, ud);
        if (urc < 0)
            rc = sp_op_fail(op, SPATE_EUSER, "%s callback returned %d", what, urc);
        else if (o.err)
            rc = sp_op_fail(op, o.err, "%s callback: %s", what, spate_last_error());
    }
    int crc = sp_op_out_close(op, &o);
    return rc ? rc : crc;
}

int sp_ops_grouping_open(sp_op *op, int nkeys)
{
    sp_grouping *st = calloc(1, sizeof *st);
    if (!st) return SPATE_ENOMEM;
    op->st = st;
    st->continuous = !sp_ctx_microbatch(op->node->ctx);
    return sp_keyrows_init(&st->kr, nkeys);
}

int sp_ops_grouping_add(sp_op *op, int side, sp_batch *b)
{
    sp_grouping *st = op->st;
    if (sp_batch_count(b) == 0) {
        sp_op_release(op, b);
        return 0;
    }
    ensure_hashes(b, st->kr.nkeys);
    if (sp_keyrows_add(&st->kr, side, b)) {
        sp_op_release(op, b);
        return SPATE_ENOMEM;
    }
    return 0;
}

void sp_ops_grouping_close(sp_op *op)
{
    sp_grouping *st = op->st;
    if (!st) return;
    sp_keyrows_free(&st->kr, sp_ops_release_to, op);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

/* Emits the kept rows themselves, each key's rows adjacent. */
static int group_emit_rows(sp_op *op, sp_grouping *st)
{
    const sp_keyrows *kr = &st->kr;
    for (uint32_t e = 0; e < sp_keytable_count(&kr->keys); e++)
        for (uint32_t i = 0; i < sp_keyrows_slot_of(kr, e)->count[0]; i++) {
            const sp_rowref *ref = sp_keyrows_row(kr, e, 0, i);
            int rc = sp_ops_out_room(op, &st->out);
            if (rc) return rc;
            if (sp_batch_append_row(st->out, kr->batches[ref->batch], ref->row))
                return fail_nomem(op);
        }
    return sp_ops_out_flush(op, &st->out);
}

static int group_emit(sp_op *op)
{
    sp_grouping *st = op->st;
    const group_cfg *cfg = op->node->cfg;
    if (st->kr.nbatches == 0) return 0;
    int rc = sp_keyrows_seal(&st->kr) ? fail_nomem(op) : 0;
    if (!rc)
        rc = cfg->fn ? sp_ops_group_each(op, &st->kr, 1, cfg->fn, cfg->ud, cfg->nuser)
                     : group_emit_rows(op, st);
    sp_keyrows_clear(&st->kr, sp_ops_release_to, op);
    return rc;
}

static int group_open(sp_op *op)
{
    const group_cfg *cfg = op->node->cfg;
    return sp_ops_grouping_open(op, cfg->nkeys) ? fail_nomem(op) : 0;
}

static int group_push(sp_op *op, int port, sp_batch *b)
{
    sp_grouping *st = op->st;
    if (sp_ops_grouping_add(op, 0, b)) return fail_nomem(op);
    return st->continuous ? group_emit(op) : 0;
}

static int group_epoch(sp_op *op, int64_t time_ms)
{
    return group_emit(op);
}

static const sp_op_class group_class = {
    .stateless = 1,
    .name = "group_by_key",
    .open = group_open,
    .push = group_push,
    .epoch = group_epoch,
    .finish = group_emit,
    .close = sp_ops_grouping_close,
    .cfg_free = free,
};

/* Groups each micro-batch's rows per key; output: key columns + out_schema with
 * fn, the input schema without. */
int spate_group_by_key(spate_stream *in, const spate_schema *out_schema, spate_group_fn fn,
                       void *ud, spate_stream **out)
{
    int rc = check_keyed(in, out, "group_by_key");
    if (rc) return rc;
    if (fn && !out_schema)
        return sp_err(SPATE_EINVAL, "group_by_key with a function needs its out_schema");
    spate_schema *schema;
    if (fn)
        schema = sp_ops_key_value_schema(in, out_schema, &rc);
    else if (!(schema = sp_schema_copy(in->schema)))
        rc = sp_err(SPATE_ENOMEM, "out of memory");
    if (!schema) return rc;
    group_cfg *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    *cfg = (group_cfg){in->nkeys, fn ? out_schema->n : 0, fn, ud};
    return add_keyed_node(in, &group_class, cfg, schema, out);
}
