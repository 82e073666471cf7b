/*
 * state_ops.c - Spark's stateful DStream operators: updateStateByKey and
 * mapWithState (with stateSnapshots), state timeouts, state TTL, and their
 * checkpoint hooks.
 *
 * Placement. Both take a keyed stream through a HASH exchange (FORWARD when it is
 * already partitioned), so each instance owns whole keys - the keys of the key
 * groups its worker owns - and needs no locks.
 *
 * The state store. A key's state lives in an sp_keytable entry (its metadata:
 * last-touched time, live flag) and in row e of a chunked row store, batches of
 * STATE_ROWS rows whose columns are the key columns then the state columns. Keeping
 * the key beside the state means a callback's key and state are plain spate_row
 * views of one row, updateStateByKey's output and the snapshots stream copy that
 * row whole, and a checkpoint writes it with one sp_w_row. The keytable never
 * removes an entry, so a removed state is a dead entry (live = 0) that the same key
 * revives; dead entries, and state strings left behind in chunk arenas by updates,
 * are reclaimed by compaction - rebuilding table and chunks from the live keys, in
 * their order - once the garbage outgrows the live keys (amortized O(1) per
 * update, done only at batch ends so entry numbers are stable inside a batch).
 *
 * updateStateByKey keeps the micro-batch's values filed per key (sp_keyrows, as
 * groupByKey) and, at the epoch, walks every entry of the store: keys with state or
 * values get the callback (Spark calls idle keys too), which writes the new state
 * into a one-row scratch batch that is copied back. Its cost per batch is the
 * number of keys, as in Spark - mapWithState is the operator whose cost follows
 * the input. There is no continuous form: idle keys need a batch end to be called.
 *
 * mapWithState calls its function per record, at push; a state update is built in
 * the scratch row and applied when the function returns. Timeouts and TTL are
 * checked at batch ends (continuous style: from tick(), every second) against
 * processing time: the batch time in the micro-batch style, so that idleness is
 * counted in whole batches and tests do not depend on scheduling; the wall clock
 * in the continuous style. As in Spark, a key's time is refreshed by every record
 * it receives while it has state. A timing-out key is called once (value NULL),
 * may emit, and is removed whatever it does; updating or removing it is refused
 * (SPATE_ESTATE). TTL drops keys without a call; when both have passed, TTL wins.
 * Snapshots, when asked for, go to the node's side output after each epoch.
 *
 * C state (spec.c_size > 0): the state column is a single BYTES column "state"
 * that stays NULL in the store; the key's object hangs off its entry's metadata,
 * owned by the store (freed, through c_free, when the key loses its state, on
 * restore and at close; compaction moves the pointers). The object is serialized
 * only for checkpoints and the snapshots stream, where it fills that column.
 *
 * The initial state (Spark's initialState) is a CSV file read by every instance in
 * open(), keeping the rows whose key group its worker owns: each worker parses the
 * whole file, a cost paid once at start, in exchange for needing no exchange
 * before the job runs. Restoring from a checkpoint replaces it.
 *
 * Checkpoints: snapshot writes each live key into the buffer of its key group as
 * (key + state row, last-touched time[, serialized C object]); restore clears the
 * store - a checkpoint's state supersedes the initial state - and re-inserts every
 * row of the key groups the instance now owns, hashing the key again (the hash is
 * not stored, so a checkpoint does not depend on it being stable across builds).
 */
#include "checkpoint/serde.h"
#include "core/clock.h"
#include "core/row.h"
#include "formats/format.h"
#include "ops/ops.h"
#include "runtime/context.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    STATE_ROWS = 1024,       /* rows per chunk of the store */
    COMPACT_MIN = 1024,      /* garbage rows tolerated before compaction is considered */
    TIMEOUT_CHECK_MS = 1000, /* continuous style: timeout and TTL scan period */
};

/* ------------------------------------------------------------ state store */

/* Value area of a keytable entry. */
typedef struct st_meta {
    int64_t touched; /* processing time (ms) of the key's last values */
    uint32_t live;   /* the key has state */
    uint32_t round;  /* updateStateByKey: the micro-batch that `group` belongs to */
    uint32_t group;  /* updateStateByKey: the key's entry in that batch's values */
    void *obj;       /* mapWithState's C state (c_size > 0), owned; NULL without state
                        except during a call that created it */
} st_meta;

/* How the store handles C state objects (size 0: row state only). */
typedef struct st_objs {
    size_t size;
    void (*release)(void *obj, void *ud); /* the spec's c_free, or NULL */
    void *ud;
} st_objs;

typedef struct st_store {
    sp_keytable t;
    st_objs objs;
    const spate_schema *rows; /* key columns then state columns */
    int nkeys, nstate;
    int has_strings;   /* state strings: updates leave garbage in the arenas */
    sp_batch **chunks; /* row e is row e % STATE_ROWS of chunk e / STATE_ROWS */
    uint32_t nchunks, cap_chunks;
    uint32_t nlive;
    uint64_t garbage; /* string states replaced since compaction (arena bytes lost) */
} st_store;

static int store_init(st_store *s, const spate_schema *rows, int nkeys, const st_objs *objs)
{
    memset(s, 0, sizeof *s);
    s->objs = *objs;
    s->rows = rows;
    s->nkeys = nkeys;
    s->nstate = rows->n - nkeys;
    for (int c = nkeys; c < rows->n; c++)
        s->has_strings |= sp_type_is_str(rows->f[c].type);
    return sp_keytable_init(&s->t, sizeof(st_meta));
}

static inline st_meta *store_meta(const st_store *s, uint32_t e)
{
    return sp_keytable_value(&s->t, e);
}

static inline sp_batch *store_chunk(const st_store *s, uint32_t e)
{
    return s->chunks[e / STATE_ROWS];
}

/* Frees entry e's C object, if any. */
static void store_obj_free(st_store *s, uint32_t e)
{
    st_meta *m = store_meta(s, e);
    if (!m->obj) return;
    if (s->objs.release) s->objs.release(m->obj, s->objs.ud);
    free(m->obj);
    m->obj = NULL;
}

/* Frees every C object of the store (for_good = 0: only forgets them, when their
 * ownership moved to another store). */
static void store_objs_drop(st_store *s, int for_good)
{
    if (!s->objs.size) return;
    for (uint32_t e = 0; e < sp_keytable_count(&s->t); e++) {
        if (for_good)
            store_obj_free(s, e);
        else
            store_meta(s, e)->obj = NULL;
    }
}

static void store_free(st_store *s)
{
    store_objs_drop(s, 1);
    sp_keytable_free(&s->t);
    for (uint32_t c = 0; c < s->nchunks; c++)
        sp_batch_free(s->chunks[c]);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* Views of entry e's key and state columns. */
static void store_key_row(const st_store *s, uint32_t e, spate_row *r)
{
    sp_row_set(r, store_chunk(s, e), e % STATE_ROWS, 0, s->nkeys);
}

static void store_state_row(const st_store *s, uint32_t e, spate_row *r)
{
    sp_row_set(r, store_chunk(s, e), e % STATE_ROWS, s->nkeys, s->nstate);
}

/* Makes sure entry e has a row. 0 or SPATE_ENOMEM. */
static int store_reserve(st_store *s, uint32_t e)
{
    if (e / STATE_ROWS < s->nchunks) return 0;
    if (s->nchunks == s->cap_chunks) {
        uint32_t cap = s->cap_chunks ? s->cap_chunks * 2 : 8;
        sp_batch **p = realloc(s->chunks, (size_t)cap * sizeof *p);
        if (!p) return SPATE_ENOMEM;
        s->chunks = p;
        s->cap_chunks = cap;
    }
    sp_batch *b = sp_batch_new(STATE_ROWS);
    if (!b || sp_batch_reset(b, s->rows)) {
        sp_batch_free(b);
        return SPATE_ENOMEM;
    }
    b->n = STATE_ROWS;
    s->chunks[s->nchunks++] = b;
    return 0;
}

/* The entry of the key in the leading columns of row r of b (hash: its key hash),
 * added without state when new. 0 or SPATE_ENOMEM. */
static int store_find_or_add(st_store *s, uint64_t hash, const sp_batch *b, uint32_t r, uint32_t *e)
{
    int inserted;
    st_meta *m = sp_keytable_find_or_insert(&s->t, hash, b, r, s->nkeys, &inserted);
    if (!m) return SPATE_ENOMEM;
    *e = sp_keytable_index(&s->t, m);
    if (!inserted) return 0;
    if (store_reserve(s, *e)) return SPATE_ENOMEM;
    sp_batch *chunk = store_chunk(s, *e);
    for (int c = 0; c < s->nkeys; c++)
        if (sp_batch_copy_cell(chunk, c, *e % STATE_ROWS, b, c, r)) return SPATE_ENOMEM;
    if (s->objs.size) sp_vec_set_null(&chunk->cols[s->nkeys], *e % STATE_ROWS); /* never set */
    return 0;
}

/* Marks entry e as having state. */
static void store_make_live(st_store *s, uint32_t e)
{
    st_meta *m = store_meta(s, e);
    if (m->live) return;
    m->live = 1;
    s->nlive++;
}

/* Sets entry e's state to the columns [first, first + nstate) of row r of src. */
static int store_set(st_store *s, uint32_t e, const sp_batch *src, uint32_t r, int first)
{
    sp_batch *chunk = store_chunk(s, e);
    s->garbage += (uint64_t)(s->has_strings && store_meta(s, e)->live);
    store_make_live(s, e);
    for (int c = 0; c < s->nstate; c++)
        if (sp_batch_copy_cell(chunk, s->nkeys + c, e % STATE_ROWS, src, first + c, r))
            return SPATE_ENOMEM;
    return 0;
}

/* Removes entry e's state, freeing its C object (also one created by a call that
 * then removed it). */
static void store_drop(st_store *s, uint32_t e)
{
    st_meta *m = store_meta(s, e);
    store_obj_free(s, e);
    if (!m->live) return;
    m->live = 0;
    s->nlive--;
}

/* Copies the live entries of s into the empty store n, keeping their order; their
 * C objects are then shared (store_objs_drop(.., 0) on one side). */
static int store_copy_live(const st_store *s, st_store *n)
{
    for (uint32_t e = 0; e < sp_keytable_count(&s->t); e++) {
        const st_meta *m = store_meta(s, e);
        if (!m->live) continue;
        uint32_t ne;
        const sp_batch *chunk = store_chunk(s, e);
        if (store_find_or_add(n, sp_keytable_entry(&s->t, e)->hash, chunk, e % STATE_ROWS, &ne) ||
            store_set(n, ne, chunk, e % STATE_ROWS, s->nkeys))
            return SPATE_ENOMEM;
        store_meta(n, ne)->touched = m->touched;
        store_meta(n, ne)->obj = m->obj;
    }
    return 0;
}

/* Rebuilds the store without garbage - dead entries (removed keys, and keys that
 * got values but never state) and replaced string states - once there is more of
 * it than live keys. Out of memory leaves the store as it was: compaction is only
 * an optimization. */
static void store_maybe_compact(st_store *s)
{
    uint64_t waste = s->garbage + (sp_keytable_count(&s->t) - s->nlive);
    if (waste < COMPACT_MIN || waste < s->nlive) return;
    st_store n;
    if (store_init(&n, s->rows, s->nkeys, &s->objs) || store_copy_live(s, &n)) {
        store_objs_drop(&n, 0);
        store_free(&n);
        return;
    }
    store_objs_drop(s, 0);
    store_free(s);
    *s = n;
}

/* Forgets every key (restore). */
static void store_clear(st_store *s)
{
    store_objs_drop(s, 1);
    sp_keytable_clear(&s->t);
    for (uint32_t c = 0; c < s->nchunks; c++)
        sp_arena_reset(&s->chunks[c]->arena);
    s->nlive = 0;
    s->garbage = 0;
}

/* ----------------------------------------------------- configuration, state */

typedef struct state_cfg {
    const char *what; /* API name for messages */
    int nkeys;
    spate_schema *rows;     /* key + state columns: the store, updateStateByKey's
                               output, the snapshots */
    spate_schema *state;    /* state columns: the scratch row */
    spate_update_fn update; /* updateStateByKey */
    spate_mapping_fn map;   /* mapWithState */
    void *ud;
    char *initial_csv;
    int64_t timeout_ms, ttl_ms;
    spate_stream *snapshots; /* mapWithState's side output, once asked for */
    size_t c_size;           /* mapWithState's C state (0: state rows), see spate.h */
    int (*c_serialize)(const void *obj, void *out_ctx, void *ud);
    int (*c_deserialize)(const void *data, size_t len, void *obj, void *ud);
    void (*c_free)(void *obj, void *ud);
} state_cfg;

struct spate_state {
    st_store *store;
    uint32_t entry;
    int timing_out, updated, removed;
    int err;            /* SPATE_ESTATE after a misuse, for the operator */
    const char *misuse; /* what the misuse was */
    spate_out *builder; /* the scratch row's builder */
    sp_batch *scratch;
};

typedef struct state_op {
    st_store store;
    sp_keyrows kr;     /* updateStateByKey: the micro-batch's values */
    uint32_t round;    /* updateStateByKey: micro-batches so far, from 1 */
    sp_batch *scratch; /* one row of cfg->state: what a callback writes */
    spate_out sout;    /* builder over scratch */
    sp_batch *out;     /* output batch being filled (updateStateByKey) */
    int continuous;
    int pending;           /* input arrived since the last batch end */
    int64_t next_check_ms; /* continuous style: next timeout and TTL scan */
    int64_t last_epoch_ms; /* time of the last epoch, INT64_MIN before the first */
    sp_wbuf ser;           /* C state: one object's serialized form */
} state_op;

static int fail_nomem(sp_op *op)
{
    const state_cfg *cfg = op->node->cfg;
    return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory in keyed state", cfg->what);
}

/* Processing time of the records being pushed: the wall clock, or the time of
 * their micro-batch - the one after the last epoch this instance ran (the runtime
 * holds back records of batch k + 1 until epoch k has run; the worker's own batch
 * counter may already be ahead). */
static int64_t op_now(const state_op *st, const sp_op *op)
{
    if (st->continuous) return sp_now_ms();
    if (st->last_epoch_ms == INT64_MIN) return sp_op_epoch_end_ms(op);
    return st->last_epoch_ms + op->node->ctx->interval_ms;
}

static int scratch_full(spate_out *o, void *arg)
{
    return sp_err(SPATE_EINVAL, "a new state is one row: do not call spate_out_emit on it");
}

/* Starts a fresh state row in the scratch batch and returns its builder. */
static spate_out *scratch_begin(state_op *st, const state_cfg *cfg)
{
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    sp_out_init(&st->sout, st->scratch, 0, cfg->state->n, scratch_full, NULL);
    sp_out_begin(&st->sout);
    return &st->sout;
}

/* Fails the job for a callback's return code or a setter error on out. */
static int check_call(sp_op *op, int urc, const spate_out *o, const char *name)
{
    const state_cfg *cfg = op->node->cfg;
    if (urc < 0) return sp_op_fail(op, SPATE_EUSER, "%s %s returned %d", cfg->what, name, urc);
    if (o && o->err)
        return sp_op_fail(op, o->err, "%s %s: %s", cfg->what, name, spate_last_error());
    return 0;
}

static int state_open_common(sp_op *op, state_op **out)
{
    const state_cfg *cfg = op->node->cfg;
    state_op *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    st->round = 1;
    st->last_epoch_ms = INT64_MIN;
    st->continuous = !sp_ctx_microbatch(op->node->ctx);
    st->scratch = sp_batch_new(1);
    st_objs objs = {cfg->c_size, cfg->c_free, cfg->ud};
    if (!st->scratch || sp_batch_reset(st->scratch, cfg->state) ||
        store_init(&st->store, cfg->rows, cfg->nkeys, &objs) ||
        sp_keyrows_init(&st->kr, cfg->nkeys))
        return fail_nomem(op);
    *out = st;
    return 0;
}

static void state_close(sp_op *op)
{
    state_op *st = op->st;
    if (!st) return;
    store_free(&st->store);
    sp_keyrows_free(&st->kr, sp_ops_release_to, op);
    sp_batch_free(st->scratch);
    sp_wbuf_free(&st->ser);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

static void state_cfg_free(void *p)
{
    state_cfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->rows);
    spate_schema_free(cfg->state);
    free(cfg->initial_csv);
    free(cfg);
}

/* ------------------------------------------------------------ checkpoints */

/* Serializes entry e's C object into st->ser: by c_serialize, or its raw bytes. */
static int obj_serialize(sp_op *op, state_op *st, uint32_t e)
{
    const state_cfg *cfg = op->node->cfg;
    const void *obj = store_meta(&st->store, e)->obj;
    st->ser.len = 0;
    if (!cfg->c_serialize) {
        sp_w_raw(&st->ser, obj, cfg->c_size);
    } else {
        int urc = cfg->c_serialize(obj, &st->ser, cfg->ud);
        if (urc < 0)
            return sp_op_fail(op, SPATE_EUSER, "%s c_serialize returned %d", cfg->what, urc);
    }
    return st->ser.err ? fail_nomem(op) : 0;
}

/* Writes every live key into its key group's buffer: key + state row, then its
 * last-touched time, then (C state) the object's serialized form as bytes. */
static int state_snapshot_store(sp_op *op, state_op *st, sp_state_out *so)
{
    const st_store *s = &st->store;
    int kgs = sp_ctx_key_groups(op->node->ctx);
    for (uint32_t e = 0; e < sp_keytable_count(&s->t); e++) {
        const st_meta *m = store_meta(s, e);
        if (!m->live) continue;
        sp_wbuf *w = sp_state_group(so, sp_keytable_key_group(&s->t, e, kgs));
        if (!w) return fail_nomem(op);
        sp_w_row(w, store_chunk(s, e), e % STATE_ROWS);
        sp_w_i64(w, m->touched);
        int rc = s->objs.size ? obj_serialize(op, st, e) : 0;
        if (rc) return rc;
        if (s->objs.size) sp_w_bytes(w, st->ser.p, st->ser.len);
        if (w->err) return fail_nomem(op);
    }
    return 0;
}

static int state_snapshot(sp_op *op, int64_t id, sp_state_out *so)
{
    state_op *st = op->st;
    const state_cfg *cfg = op->node->cfg;
    /* Barriers ride on epoch markers, after epoch(): values of an unfinished
     * micro-batch here would be lost by the checkpoint, so refuse loudly. */
    if (st->kr.nbatches)
        return sp_op_fail(op, SPATE_ESTATE, "%s: checkpoint %lld taken inside a micro-batch",
                          cfg->what, (long long)id);
    return state_snapshot_store(op, st, so);
}

/* Rebuilds entry e's C object from its serialized form: by c_deserialize, or as
 * raw bytes, which must be c_size long. */
static int obj_restore(sp_op *op, st_store *s, uint32_t e, const void *data, size_t len)
{
    const state_cfg *cfg = op->node->cfg;
    st_meta *m = store_meta(s, e);
    if (!(m->obj = calloc(1, cfg->c_size))) return fail_nomem(op);
    if (cfg->c_deserialize) {
        int urc = cfg->c_deserialize(data, len, m->obj, cfg->ud);
        if (urc < 0)
            return sp_op_fail(op, SPATE_EUSER,
                              "%s: c_deserialize returned %d for a key's state in the checkpoint",
                              cfg->what, urc);
        return 0;
    }
    if (len != cfg->c_size)
        return sp_op_fail(op, SPATE_EPARSE,
                          "%s: a key's state in the checkpoint is %zu bytes but c_size is %zu "
                          "(a changed state type needs c_serialize/c_deserialize)",
                          cfg->what, len, cfg->c_size);
    memcpy(m->obj, data, len);
    return 0;
}

/* Re-inserts the rows of one key group's buffer, read through the one-row batch b. */
static int restore_group(sp_op *op, st_store *s, sp_rbuf *r, sp_batch *b)
{
    while (r->pos < r->len) {
        if (sp_batch_reset(b, s->rows)) return fail_nomem(op);
        int rc = sp_r_row(r, b);
        int64_t touched = sp_r_i64(r);
        size_t len = 0;
        const void *data = s->objs.size ? sp_r_bytes(r, &len) : NULL;
        if (rc || r->err) break;
        uint32_t e;
        if (store_find_or_add(s, sp_row_key_hash(b, 0, s->nkeys), b, 0, &e) ||
            store_set(s, e, b, 0, s->nkeys))
            return fail_nomem(op);
        store_meta(s, e)->touched = touched;
        if (s->objs.size && (rc = obj_restore(op, s, e, data, len))) return rc;
    }
    if (r->err || r->pos != r->len) {
        const state_cfg *cfg = op->node->cfg;
        return sp_op_fail(op, SPATE_EPARSE, "%s: corrupt keyed state in the checkpoint", cfg->what);
    }
    return 0;
}

static int state_restore(sp_op *op, sp_state_in *si)
{
    state_op *st = op->st;
    store_clear(&st->store);
    sp_batch *b = sp_batch_new(1);
    if (!b) return fail_nomem(op);
    int g, rc = 0;
    sp_rbuf r;
    while (!rc && sp_state_next_group(si, &g, &r))
        rc = restore_group(op, &st->store, &r, b);
    sp_batch_free(b);
    return rc;
}

/* ------------------------------------------------------ updateStateByKey */

static int update_push(sp_op *op, int port, sp_batch *b)
{
    state_op *st = op->st;
    st->pending = 1;
    if (sp_batch_count(b) == 0) {
        sp_op_release(op, b);
        return 0;
    }
    if (!b->has_hashes) sp_batch_hash_keys(b, st->kr.nkeys);
    if (sp_keyrows_add(&st->kr, 0, b)) {
        sp_op_release(op, b);
        return fail_nomem(op);
    }
    return 0;
}

/* Files every key of the batch's values in the store, touched at now, with its
 * group entry for this round. */
static int update_collect(sp_op *op, state_op *st, int64_t now)
{
    if (st->kr.nbatches == 0) return 0;
    if (sp_keyrows_seal(&st->kr)) return fail_nomem(op);
    for (uint32_t g = 0; g < sp_keytable_count(&st->kr.keys); g++) {
        const sp_rowref *ref = sp_keyrows_row(&st->kr, g, 0, 0);
        const sp_batch *b = st->kr.batches[ref->batch];
        uint32_t e;
        if (store_find_or_add(&st->store, b->hashes[ref->row], b, ref->row, &e))
            return fail_nomem(op);
        st_meta *m = store_meta(&st->store, e);
        m->touched = now;
        m->round = st->round;
        m->group = g;
    }
    return 0;
}

/* Calls the function for entry e and applies its verdict. */
static int update_key(sp_op *op, state_op *st, const state_cfg *cfg, uint32_t e, int has_values)
{
    st_meta *m = store_meta(&st->store, e);
    spate_group values = {&st->kr, has_values ? m->group : 0, has_values ? 1 : 0};
    spate_row key, prev;
    store_key_row(&st->store, e, &key);
    store_state_row(&st->store, e, &prev);
    spate_out *o = scratch_begin(st, cfg);
    int urc = cfg->update(&key, &values, m->live ? &prev : NULL, o, cfg->ud);
    int rc = check_call(op, urc, o, "function");
    if (rc) return rc;
    if (urc == 0) {
        store_drop(&st->store, e);
        return 0;
    }
    sp_out_end_row(o);
    return store_set(&st->store, e, st->scratch, 0, 0) ? fail_nomem(op) : 0;
}

/* Appends entry e's key and state to the output. */
static int emit_entry(sp_op *op, sp_batch **cur, const st_store *s, uint32_t e)
{
    int rc = sp_ops_out_room(op, cur);
    if (rc) return rc;
    return sp_batch_append_row(*cur, store_chunk(s, e), e % STATE_ROWS) ? fail_nomem(op) : 0;
}

/* The end of a micro-batch: every key with state or values is called (keys past
 * the TTL without values are dropped first), then every key with state goes out. */
static int update_round(sp_op *op, int64_t time_ms)
{
    state_op *st = op->st;
    const state_cfg *cfg = op->node->cfg;
    int rc = update_collect(op, st, time_ms);
    for (uint32_t e = 0; !rc && e < sp_keytable_count(&st->store.t); e++) {
        st_meta *m = store_meta(&st->store, e);
        int has_values = m->round == st->round;
        if (!m->live && !has_values) continue;
        if (!has_values && cfg->ttl_ms > 0 && time_ms - m->touched > cfg->ttl_ms) {
            store_drop(&st->store, e);
            continue;
        }
        rc = update_key(op, st, cfg, e, has_values);
        if (!rc && store_meta(&st->store, e)->live) rc = emit_entry(op, &st->out, &st->store, e);
    }
    if (!rc) rc = sp_ops_out_flush(op, &st->out);
    sp_keyrows_clear(&st->kr, sp_ops_release_to, op);
    st->round++;
    st->pending = 0;
    if (!rc) store_maybe_compact(&st->store);
    return rc;
}

static int update_open(sp_op *op)
{
    state_op *st;
    return state_open_common(op, &st);
}

/* A last round for input that arrived after the last epoch (ops.h's rule). */
static int update_finish(sp_op *op)
{
    state_op *st = op->st;
    return st->pending ? update_round(op, sp_op_epoch_end_ms(op)) : 0;
}

static const sp_op_class update_class = {
    .name = "update_state_by_key",
    .open = update_open,
    .push = update_push,
    .epoch = update_round,
    .finish = update_finish,
    .snapshot = state_snapshot,
    .restore = state_restore,
    .close = state_close,
    .cfg_free = state_cfg_free,
};

/* --------------------------------------------------------- spate_state API */

/* Records the first error of a call for the operator (it fails the job). */
static int state_fail(spate_state *s, int code, const char *what)
{
    if (!s->err) {
        s->err = code;
        s->misuse = what;
    }
    return sp_err(code, "%s", what);
}

static int misuse(spate_state *s, const char *what)
{
    return state_fail(s, SPATE_ESTATE, what);
}

static const char c_state_misuse[] = "the state is a C object (c_size): use spate_state_object";

int spate_state_exists(const spate_state *s)
{
    if (!s || s->removed) return 0;
    return s->updated || store_meta(s->store, s->entry)->live;
}

int spate_state_is_timing_out(const spate_state *s)
{
    return s && s->timing_out;
}

int spate_state_get(const spate_state *s, spate_row *state)
{
    if (!s || !state) return sp_err(SPATE_EINVAL, "spate_state_get: NULL argument");
    if (s->store->objs.size) return sp_err(SPATE_ESTATE, "spate_state_get: %s", c_state_misuse);
    if (!spate_state_exists(s)) return sp_err(SPATE_ENOTFOUND, "spate_state_get: no state");
    if (!s->updated) {
        store_state_row(s->store, s->entry, state);
        return 0;
    }
    sp_out_end_row(s->builder); /* unset columns read as NULL, as they will be kept */
    sp_row_set(state, s->scratch, 0, 0, s->scratch->ncols);
    return 0;
}

int spate_state_update(spate_state *s, spate_out **new_state)
{
    if (!s || !new_state) return sp_err(SPATE_EINVAL, "spate_state_update: NULL argument");
    *new_state = NULL;
    if (s->store->objs.size) return misuse(s, c_state_misuse);
    if (s->timing_out) return misuse(s, "cannot update the state of a key that is timing out");
    if (s->removed) return misuse(s, "cannot update a state after removing it");
    s->updated = 1;
    *new_state = s->builder;
    return 0;
}

int spate_state_remove(spate_state *s)
{
    if (!s) return sp_err(SPATE_EINVAL, "spate_state_remove: NULL state");
    if (s->timing_out) return misuse(s, "cannot remove the state of a key that is timing out");
    s->removed = 1;
    s->updated = 0;
    return 0;
}

/* The key's C object, created zeroed when it has none; see spate.h. */
void *spate_state_object(spate_state *s)
{
    if (!s) {
        sp_err(SPATE_EINVAL, "spate_state_object: NULL state");
        return NULL;
    }
    if (!s->store->objs.size) {
        misuse(s, "spate_state_object needs a spec with c_size (the state is a row)");
        return NULL;
    }
    if (s->removed) {
        misuse(s, "cannot use the state object after removing the state");
        return NULL;
    }
    st_meta *m = store_meta(s->store, s->entry);
    if (!m->obj && !(m->obj = calloc(1, s->store->objs.size))) {
        state_fail(s, SPATE_ENOMEM, "out of memory creating a state object");
        return NULL;
    }
    s->updated |= !s->timing_out;
    return m->obj;
}

/* For c_serialize: out_ctx is the operator's serialization buffer. */
int spate_state_write(void *out_ctx, const void *p, size_t n)
{
    sp_wbuf *w = out_ctx;
    if (!w || (!p && n)) return sp_err(SPATE_EINVAL, "spate_state_write: NULL argument");
    sp_w_raw(w, p, n);
    return w->err ? sp_err(SPATE_ENOMEM, "out of memory serializing a state object") : 0;
}

/* --------------------------------------------------------- mapWithState */

/* Calls the mapping function for entry e (value NULL: the key is timing out) and
 * applies what it did to the state. */
static int map_call(sp_op *op, state_op *st, uint32_t e, const spate_row *value, spate_out *o,
                    int64_t now)
{
    const state_cfg *cfg = op->node->cfg;
    spate_state s = {&st->store, e, value == NULL, 0, 0, 0, NULL, NULL, st->scratch};
    s.builder = scratch_begin(st, cfg);
    spate_row key;
    store_key_row(&st->store, e, &key);
    if (sp_out_begin(o)) return fail_nomem(op);
    int urc = cfg->map(&key, value, &s, o, cfg->ud);
    int rc = check_call(op, urc, o, "function");
    if (!rc) rc = check_call(op, 0, s.builder, "new state");
    if (!rc && s.err) rc = sp_op_fail(op, s.err, "%s: %s", cfg->what, s.misuse);
    if (rc) return rc;
    if (s.removed || s.timing_out) {
        store_drop(&st->store, e);
    } else if (s.updated && st->store.objs.size) {
        store_make_live(&st->store, e);
    } else if (s.updated) {
        sp_out_end_row(s.builder);
        if (store_set(&st->store, e, st->scratch, 0, 0)) return fail_nomem(op);
    }
    store_meta(&st->store, e)->touched = now;
    return 0;
}

static int map_rows(sp_op *op, state_op *st, const sp_batch *b, spate_out *o)
{
    const state_cfg *cfg = op->node->cfg;
    int64_t now = op_now(st, op);
    int nvals = b->ncols - cfg->nkeys;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i), e;
        if (store_find_or_add(&st->store, b->hashes[r], b, r, &e)) return fail_nomem(op);
        spate_row value;
        sp_row_set(&value, b, r, cfg->nkeys, nvals);
        int rc = map_call(op, st, e, &value, o, now);
        if (rc) return rc;
    }
    return 0;
}

static int map_push(sp_op *op, int port, sp_batch *b)
{
    state_op *st = op->st;
    const state_cfg *cfg = op->node->cfg;
    st->pending = 1;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    spate_out o;
    int rc = sp_op_out_open(op, &o, NULL, 0, op->node->schema->n);
    if (rc) {
        sp_op_release(op, b);
        return fail_nomem(op);
    }
    rc = map_rows(op, st, b, &o);
    sp_op_release(op, b);
    int crc = sp_op_out_close(op, &o);
    return rc ? rc : crc;
}

/* Drops keys past the TTL and calls, then drops, keys past the timeout. */
static int map_expire(sp_op *op, state_op *st, int64_t now)
{
    const state_cfg *cfg = op->node->cfg;
    if (cfg->ttl_ms <= 0 && cfg->timeout_ms <= 0) return 0;
    spate_out o;
    if (sp_op_out_open(op, &o, NULL, 0, op->node->schema->n)) return fail_nomem(op);
    int rc = 0;
    for (uint32_t e = 0; !rc && e < sp_keytable_count(&st->store.t); e++) {
        const st_meta *m = store_meta(&st->store, e);
        if (!m->live) continue;
        int64_t idle = now - m->touched;
        if (cfg->ttl_ms > 0 && idle > cfg->ttl_ms)
            store_drop(&st->store, e);
        else if (cfg->timeout_ms > 0 && idle > cfg->timeout_ms)
            rc = map_call(op, st, e, NULL, &o, now);
    }
    int crc = sp_op_out_close(op, &o);
    return rc ? rc : crc;
}

/* Sets the state cell of b's last row (C state) to entry e's serialized object. */
static int snapshot_obj(sp_op *op, state_op *st, sp_batch *b, uint32_t e)
{
    int rc = obj_serialize(op, st, e);
    if (rc) return rc;
    uint32_t r = b->n - 1;
    sp_vec *v = &b->cols[st->store.nkeys];
    char *p = sp_arena_dup(&b->arena, (const char *)st->ser.p, st->ser.len);
    if (!p) return fail_nomem(op);
    SP_STR(v)[r] = (spate_str){p, st->ser.len};
    sp_vec_clear_null(v, r);
    return 0;
}

/* Emits every key with state to the snapshots side output. */
static int map_snapshots(sp_op *op, state_op *st)
{
    const state_cfg *cfg = op->node->cfg;
    sp_batch *cur = NULL;
    int rc = 0;
    for (uint32_t e = 0; !rc && e < sp_keytable_count(&st->store.t); e++) {
        if (!store_meta(&st->store, e)->live) continue;
        if (cur && cur->n == cur->cap) {
            rc = sp_op_emit_side(op, cur);
            cur = NULL;
        }
        if (!rc && !cur && !(cur = sp_op_batch(op, cfg->rows))) rc = fail_nomem(op);
        if (!rc && sp_batch_append_row(cur, store_chunk(&st->store, e), e % STATE_ROWS))
            rc = fail_nomem(op);
        if (!rc && st->store.objs.size) rc = snapshot_obj(op, st, cur, e);
    }
    if (cur && rc)
        sp_op_release(op, cur);
    else if (cur)
        rc = sp_op_emit_side(op, cur);
    return rc;
}

static int map_epoch(sp_op *op, int64_t time_ms)
{
    state_op *st = op->st;
    const state_cfg *cfg = op->node->cfg;
    st->pending = 0;
    st->last_epoch_ms = time_ms;
    int rc = map_expire(op, st, time_ms);
    if (!rc && cfg->snapshots) rc = map_snapshots(op, st);
    if (!rc) store_maybe_compact(&st->store);
    return rc;
}

static int map_finish(sp_op *op)
{
    state_op *st = op->st;
    return st->pending && !st->continuous ? map_epoch(op, sp_op_epoch_end_ms(op)) : 0;
}

/* Continuous style: the batch-end work of timeouts and TTL, every second. */
static int map_tick(sp_op *op, int64_t now_ms)
{
    state_op *st = op->st;
    if (!st->continuous || now_ms < st->next_check_ms) return 0;
    st->next_check_ms = now_ms + TIMEOUT_CHECK_MS;
    int rc = map_expire(op, st, now_ms);
    if (!rc) store_maybe_compact(&st->store);
    return rc;
}

/* Reads the initial state file whole into *buf (NUL-free length *len). */
static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sp_err(SPATE_EIO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 64 * 1024, n = 0, got;
    char *p = malloc(cap);
    while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *q = realloc(p, cap *= 2);
            if (!q) free(p);
            p = q;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!p) return sp_err(SPATE_ENOMEM, "out of memory reading '%s'", path);
    if (bad) {
        free(p);
        return sp_err(SPATE_EIO, "cannot read '%s'", path);
    }
    *buf = p;
    *len = n;
    return 0;
}

/* Keeps row 0 of b, a parsed initial-state line, when its key is this worker's. */
static int initial_keep(sp_op *op, state_op *st, const sp_batch *b, int64_t now)
{
    const spate_ctx *ctx = op->node->ctx;
    uint64_t h = sp_row_key_hash(b, 0, st->store.nkeys);
    if (ctx->kg_owner[sp_key_group(h, ctx->key_groups)] != op->instance) return 0;
    uint32_t e;
    if (store_find_or_add(&st->store, h, b, 0, &e) ||
        store_set(&st->store, e, b, 0, st->store.nkeys))
        return SPATE_ENOMEM;
    store_meta(&st->store, e)->touched = now;
    return 0;
}

/* Parses the initial state text line by line into the one-row batch b. */
static int initial_parse(sp_op *op, state_op *st, sp_parser *p, const sp_format *f,
                         const char *text, size_t len, sp_batch *b)
{
    const state_cfg *cfg = op->node->cfg;
    int64_t now = sp_now_ms();
    char pos[4096];
    size_t off = 0, used, rl;
    for (long line = 1; (used = sp_format_next_record(f, text + off, len - off, 1, &rl)); line++) {
        if (sp_batch_reset(b, cfg->rows)) return SPATE_ENOMEM;
        snprintf(pos, sizeof pos, "%s:%ld", cfg->initial_csv, line);
        int rc = sp_parser_parse(p, b, text + off, rl, sp_op_deadletter(op), "initial_state", pos);
        if (rc < 0) return rc;
        if (rc == 1 && initial_keep(op, st, b, now)) return SPATE_ENOMEM;
        off += used;
    }
    return 0;
}

/* Loads the keys of the initial state file that this worker owns. */
static int initial_load(sp_op *op, state_op *st)
{
    const state_cfg *cfg = op->node->cfg;
    char *text = NULL;
    size_t len = 0;
    sp_format f;
    sp_parser *p = NULL;
    sp_batch *b = sp_batch_new(1);
    int rc = read_file(cfg->initial_csv, &text, &len);
    if (!rc) rc = sp_format_init(&f, "csv", cfg->rows);
    f.header = 1;
    if (!rc) rc = sp_parser_new(&f, &p);
    if (!rc && !b) rc = SPATE_ENOMEM;
    if (!rc) {
        sp_parser_reset(p);
        rc = initial_parse(op, st, p, &f, text, len, b);
    }
    sp_parser_free(p);
    sp_batch_free(b);
    free(text);
    if (rc)
        return sp_op_fail(op, rc, "%s: initial state '%s': %s", cfg->what, cfg->initial_csv,
                          rc == SPATE_ENOMEM ? "out of memory" : spate_last_error());
    return 0;
}

static int map_open(sp_op *op)
{
    const state_cfg *cfg = op->node->cfg;
    state_op *st;
    int rc = state_open_common(op, &st);
    if (rc) return rc;
    st->next_check_ms = sp_now_ms() + TIMEOUT_CHECK_MS;
    return cfg->initial_csv ? initial_load(op, st) : 0;
}

static const sp_op_class map_class = {
    .name = "map_with_state",
    .open = map_open,
    .push = map_push,
    .epoch = map_epoch,
    .finish = map_finish,
    .tick = map_tick,
    .snapshot = state_snapshot,
    .restore = state_restore,
    .close = state_close,
    .cfg_free = state_cfg_free,
};

/* ------------------------------------------------------------ constructors */

/* Checks the input and state schema and builds the configuration shared by both
 * operators; NULL with the code in *rc. */
static state_cfg *cfg_new(spate_stream *in, const spate_schema *state_schema, spate_stream **out,
                          const char *what, int *rc)
{
    *rc = sp_ops_check_input(in, 1, out, what);
    if (*rc) return NULL;
    if (in->nkeys <= 0) {
        *rc = sp_err(SPATE_EINVAL, "%s needs a keyed stream: use spate_key_by first", what);
        return NULL;
    }
    if (!state_schema || state_schema->n == 0) {
        *rc = sp_err(SPATE_EINVAL, "%s needs a state schema with at least one column", what);
        return NULL;
    }
    state_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        *rc = sp_err(SPATE_ENOMEM, "out of memory");
        return NULL;
    }
    cfg->what = what;
    cfg->nkeys = in->nkeys;
    if ((cfg->rows = sp_ops_key_value_schema(in, state_schema, rc)) &&
        !(cfg->state = sp_schema_copy(state_schema)))
        *rc = sp_err(SPATE_ENOMEM, "out of memory");
    if (*rc) {
        if (*rc != SPATE_ENOMEM)
            *rc = sp_err(SPATE_EINVAL, "%s: a state column is named like a key column", what);
        state_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Adds the keyed node; output keyed by the key columns when nkeys > 0. */
static int add_state_node(spate_stream *in, const sp_op_class *cls, state_cfg *cfg,
                          spate_schema *schema, int nkeys, spate_stream **out)
{
    sp_exchange ex = in->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    int rc = sp_ops_add_node(in, cls, cfg, schema, nkeys, ex, 0, out);
    if (!rc && nkeys > 0) (*out)->partitioned = 1;
    return rc;
}

/* updateStateByKey with an optional TTL; see spate.h. */
int spate_update_state_by_key_ttl(spate_stream *keyed, const spate_schema *state_schema,
                                  spate_update_fn fn, void *ud, int64_t ttl_ms, spate_stream **out)
{
    const char *what = "update_state_by_key";
    int rc = sp_ops_check_input(keyed, fn != NULL, out, what);
    if (rc) return rc;
    if (ttl_ms < 0) return sp_err(SPATE_EINVAL, "%s: ttl_ms must not be negative", what);
    if (!sp_ctx_microbatch(keyed->ctx))
        return sp_err(SPATE_EUNSUPPORTED,
                      "%s needs the micro-batch style (set "
                      "batch.interval.ms): it calls every key at batch ends; "
                      "use map_with_state in the continuous style",
                      what);
    state_cfg *cfg = cfg_new(keyed, state_schema, out, what, &rc);
    if (!cfg) return rc;
    cfg->update = fn;
    cfg->ud = ud;
    cfg->ttl_ms = ttl_ms;
    return add_state_node(keyed, &update_class, cfg, sp_schema_copy(cfg->rows), cfg->nkeys, out);
}

/* updateStateByKey; see spate.h. */
int spate_update_state_by_key(spate_stream *keyed, const spate_schema *state_schema,
                              spate_update_fn fn, void *ud, spate_stream **out)
{
    return spate_update_state_by_key_ttl(keyed, state_schema, fn, ud, 0, out);
}

/* Checks what a StateSpec asks beyond the state schema. */
static int check_spec(const spate_stream *in, const spate_state_spec *spec, const char *what)
{
    if (!spec->fn || !spec->out_schema || spec->out_schema->n == 0)
        return sp_err(SPATE_EINVAL, "%s needs a function and an out_schema with columns", what);
    if (spec->timeout_ms < 0 || spec->ttl_ms < 0)
        return sp_err(SPATE_EINVAL, "%s: timeout_ms and ttl_ms must not be negative", what);
    int kgs = sp_ctx_key_groups(in->ctx);
    if (spec->num_partitions != 0 && spec->num_partitions != kgs)
        return sp_err(SPATE_EINVAL,
                      "%s: num_partitions %d differs from key_groups %d (state is "
                      "partitioned by the job's key groups; use 0)",
                      what, spec->num_partitions, kgs);
    if (spec->c_size && (spec->state_schema || spec->initial_state_csv))
        return sp_err(SPATE_EINVAL,
                      "%s: a C state (c_size) takes no state_schema and no initial_state_csv",
                      what);
    if (!spec->c_size && (spec->c_serialize || spec->c_deserialize || spec->c_free))
        return sp_err(SPATE_EINVAL, "%s: c_serialize, c_deserialize and c_free need c_size", what);
    if (spec->initial_state_csv) {
        FILE *f = fopen(spec->initial_state_csv, "rb");
        if (!f)
            return sp_err(SPATE_EIO, "%s: cannot open initial state '%s': %s", what,
                          spec->initial_state_csv, strerror(errno));
        fclose(f);
    }
    return 0;
}

/* mapWithState; see spate.h. */
int spate_map_with_state(spate_stream *keyed, const spate_state_spec *spec, spate_stream **out)
{
    const char *what = "map_with_state";
    int rc = sp_ops_check_input(keyed, spec != NULL, out, what);
    if (rc) return rc;
    if ((rc = check_spec(keyed, spec, what))) return rc;
    spate_schema *c_state = NULL;
    if (spec->c_size && spate_schema_parse("state BYTES", &c_state))
        return sp_err(SPATE_ENOMEM, "out of memory");
    state_cfg *cfg = cfg_new(keyed, c_state ? c_state : spec->state_schema, out, what, &rc);
    spate_schema_free(c_state);
    if (!cfg) return rc;
    cfg->c_size = spec->c_size;
    cfg->c_serialize = spec->c_serialize;
    cfg->c_deserialize = spec->c_deserialize;
    cfg->c_free = spec->c_free;
    cfg->map = spec->fn;
    cfg->ud = spec->ud;
    cfg->timeout_ms = spec->timeout_ms;
    cfg->ttl_ms = spec->ttl_ms;
    if (spec->initial_state_csv && !(cfg->initial_csv = strdup(spec->initial_state_csv))) {
        state_cfg_free(cfg);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    return add_state_node(keyed, &map_class, cfg, sp_schema_copy(spec->out_schema), 0, out);
}

/* stateSnapshots; see spate.h. */
int spate_state_snapshots(spate_stream *mapped, spate_stream **out)
{
    if (!out) return sp_err(SPATE_EINVAL, "state_snapshots: out must not be NULL");
    *out = NULL;
    if (!mapped || mapped->cls != &map_class)
        return sp_err(SPATE_EINVAL, "state_snapshots: not a map_with_state stream");
    if (!sp_ctx_microbatch(mapped->ctx))
        return sp_err(SPATE_EUNSUPPORTED, "state_snapshots needs the micro-batch style (set "
                                          "batch.interval.ms): snapshots are taken at batch ends");
    state_cfg *cfg = mapped->cfg;
    if (cfg->snapshots) {
        *out = cfg->snapshots;
        return 0;
    }
    spate_schema *s = sp_schema_copy(cfg->rows);
    if (!s) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = sp_node_add_side(mapped, s, out);
    if (rc) return rc;
    (*out)->nkeys = cfg->nkeys;
    (*out)->partitioned = 1;
    cfg->snapshots = *out;
    return 0;
}
