/*
 * interval_join.c - spate_interval_join: Flink's interval join of two keyed
 * streams in event time (docs/joins.md has the user-facing semantics).
 *
 * Placement as spate_join (join.c): each input is hashed by its keys (FORWARD
 * when already partitioned), so the rows of one key meet in one instance. The
 * instance's watermark wm is the minimum over both inputs (the runtime combines
 * them); it drives everything below, so the operator works the same in both
 * styles and ignores micro-batches.
 *
 * Condition, with lo = lower and hi = upper in µs (lo <= hi, both may be
 * negative): l and r of one key join when l.t + lo <= r.t <= l.t + hi, both
 * bounds inclusive.
 *
 * Late rows (Flink's rule): a row with t < wm is late - its input promised no
 * such row - and is dropped and counted in late_records without being joined,
 * even if rows it could join are still kept. A row without a time is late too.
 *
 * Join on arrival. Each key keeps, per side, its rows (time, flags, a copy of the
 * value columns: sp_jrow) in a list ordered by time. An arriving row finds the
 * other side's rows it joins with two binary searches - [t + lo, t + hi] for a
 * left row, [t - hi, t - lo] for a right one - emits one output row per pair at
 * once, and is kept. So a pair comes out as soon as its second row arrives, in
 * both styles, and exactly once.
 *
 * Expiry. A row that arrives later is not late, so its time is >= wm: a left
 * row l is needed while wm <= l.t + hi, a right row r while wm <= r.t - lo. A row
 * expires when wm passes that (expiry = l.t + hi + 1, r.t - lo + 1, saturated);
 * since the lists are ordered by time, a key drops expired rows from the front.
 * Each key's earliest expiry sits in a min-heap of (time, key); entries are not
 * updated in place but pushed anew when a key's earliest expiry moves earlier,
 * and a popped entry that no longer matches its key's is skipped. Every watermark
 * and every input batch (for rows that expire at the current watermark, such as
 * a right row with lo > 0 arriving at wm) pops what is due. An outer kind emits
 * each expiring row of its preserved side(s) that never joined, NULL-padded: all
 * the rows that could join it arrived before it expired, so that row is final.
 * State is thus bounded by the rows of the last (hi - lo) + the watermark delay
 * of event time, per key, plus keys: a key whose lists are empty is dead, and the
 * key table (which cannot delete one entry) is rebuilt from the live keys, with
 * the heap, when the dead ones outnumber them (sp_jkeys).
 *
 * End of input: the runtime sends watermark MAX, every row expires, the outer
 * kinds emit the unmatched ones. With checkpoints the job's last checkpoint must
 * let a later run continue (as window.c's fire_resumable): the unmatched rows are
 * emitted NULL-padded and flagged, but every row is kept under the watermark the
 * data gave. A later run joins them with its new rows; a flagged row is not
 * padded again when it expires. A flagged row that joins in the later run has
 * then been emitted both padded and joined (append-only output cannot retract).
 *
 * Output: the key columns (named as on the left), the left values, the right
 * values; a right column whose name is taken gets "_right" (join.c's rule).
 *
 * Checkpoints (sp_jkeys_snapshot, sp_jsides_write): per key group a version byte
 * and the watermark, then per live key the key columns (sp_w_row), and per side
 * the row count and each row as its time, flags and value columns (sp_w_row). The
 * instance file holds version and watermark, so an instance that owns no key group
 * after rescaling still knows what is late. Restore recomputes each key's hash with
 * the exchange's function (sp_row_key_hash), so keys reach the instance owning
 * their key group for any worker count, and requeues each key's earliest expiry.
 */
#include "checkpoint/serde.h"
#include "core/row.h"
#include "ops/jrows.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "time/assigners.h"

#include <stdlib.h>
#include <string.h>

enum { IJ_VERSION = 1 };

typedef struct ijcfg {
    sp_jcfg j;                  /* first: sp_jcfg_free frees it */
    int64_t lo, hi;             /* µs */
} ijcfg;

typedef struct ikey {
    sp_jlist side[2];           /* first: sp_jstate_close frees them */
    int64_t due;                /* expiry queued in the heap; INT64_MAX = none */
    int live;
} ikey;

typedef struct ijstate {
    sp_jcount count;            /* first: sp_jrows_held reads it (tests) */
    sp_jkeys keys;              /* value: ikey */
    sp_jheap due;               /* (expiry, key) */
    sp_batch *out, *scratch[2];
    int64_t wm;
    uint64_t nlate;
} ijstate;

static int nomem(sp_op *op)
{
    return sp_jfail(op, SPATE_ENOMEM);
}

static ikey *key_at(const ijstate *st, uint32_t k)
{
    return sp_keytable_value(&st->keys.t, k);
}

/* When a row of side s at time t can no longer join a row arriving later. */
static int64_t expiry(const ijcfg *cfg, int s, int64_t t)
{
    return sp_sat_add(sp_sat_add(t, s == 0 ? cfg->hi : -cfg->lo), 1);
}

/* Queues key k's earliest expiry when it moved earlier than the one queued. */
static int schedule(const ijcfg *cfg, ijstate *st, uint32_t k)
{
    ikey *v = key_at(st, k);
    int64_t due = INT64_MAX;
    for (int s = 0; s < 2; s++)
        if (sp_jlist_count(&v->side[s])) {
            int64_t e = expiry(cfg, s, sp_jlist_at(&v->side[s], 0)->t);
            if (e < due) due = e;
        }
    if (due >= v->due) return 0;
    v->due = due;
    return sp_jheap_push(&st->due, due, k);
}

/* ---------------------------------------------------------------- emission */

/* The pair of arriving row r of b (side s) and kept row x of the other side: the
 * key and side s's values straight from b. */
static int emit_pair(sp_op *op, ijstate *st, const ijcfg *cfg, int s, const sp_batch *b,
                     uint32_t r, const sp_jrow *x)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t row = out->n;
    int nk = cfg->j.nkeys, dc[2] = {nk, nk + cfg->j.nv[0]};
    for (int c = 0; c < nk; c++)
        if (sp_batch_copy_cell(out, c, row, b, c, r)) return nomem(op);
    for (int c = 0; c < cfg->j.nv[s]; c++)
        if (sp_batch_copy_cell(out, dc[s] + c, row, b, nk + c, r)) return nomem(op);
    if (sp_jrow_put(x, cfg->j.nv[1 - s], out, row, dc[1 - s])) return nomem(op);
    out->n++;
    return 0;
}

/* Kept row x of side s of key k, NULL-padded. */
static int emit_padded(sp_op *op, ijstate *st, const ijcfg *cfg, int s, uint32_t k,
                       const sp_jrow *x)
{
    return sp_jemit(op, &st->out, &st->keys, k, NULL, 0, cfg->j.nv, s ? NULL : x, s ? x : NULL);
}

/* ------------------------------------------------------------------ expiry */

/* Drops the rows of key k expired at wm, padding the unmatched ones of a
 * preserved side, and requeues the key or declares it dead. */
static int expire_key(sp_op *op, ijstate *st, const ijcfg *cfg, uint32_t k, int64_t wm)
{
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        sp_jlist *l = &key_at(st, k)->side[s];
        while (!rc && sp_jlist_count(l) && expiry(cfg, s, sp_jlist_at(l, 0)->t) <= wm) {
            sp_jrow *x = sp_jlist_pop(l);
            if (sp_jkind_keeps(cfg->j.kind, s) && !(x->flags & (SP_JROW_MATCHED | SP_JROW_PADDED)))
                rc = emit_padded(op, st, cfg, s, k, x);
            free(x);
            st->count.held--;
        }
    }
    if (rc) return rc;
    ikey *v = key_at(st, k);
    v->due = INT64_MAX;
    if (sp_jlist_count(&v->side[0]) || sp_jlist_count(&v->side[1]))
        return schedule(cfg, st, k) ? nomem(op) : 0;
    sp_jlist_free(&v->side[0]);
    sp_jlist_free(&v->side[1]);
    v->live = 0;
    st->keys.dead++;
    return 0;
}

static int key_live(const void *v)
{
    return ((const ikey *)v)->live;
}

/* Rebuilds the key table from the live keys, and the heap from their expiries. */
static int compact(sp_op *op, ijstate *st, const ijcfg *cfg)
{
    if (sp_jkeys_compact(&st->keys, key_live, NULL)) return nomem(op);
    st->due.n = 0;
    for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t); k++) {
        key_at(st, k)->due = INT64_MAX;
        if (schedule(cfg, st, k)) return nomem(op);
    }
    return 0;
}

/* Expires what is due at wm. */
static int advance(sp_op *op, ijstate *st, const ijcfg *cfg, int64_t wm)
{
    int rc = 0;
    while (!rc && st->due.n && st->due.h[0].t <= wm) {
        sp_jdue d = sp_jheap_pop(&st->due);
        const ikey *v = key_at(st, (uint32_t)d.id);
        if (v->live && v->due == d.t) rc = expire_key(op, st, cfg, (uint32_t)d.id, wm);
    }
    if (!rc && sp_jkeys_should_compact(&st->keys)) rc = compact(op, st, cfg);
    return rc;
}

/* The end of input with checkpoints: pads what an expiry would, keeps the rows. */
static int pad_resumable(sp_op *op, ijstate *st, const ijcfg *cfg)
{
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        if (!sp_jkind_keeps(cfg->j.kind, s)) continue;
        for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t) && !rc; k++) {
            const sp_jlist *l = &key_at(st, k)->side[s];
            for (uint32_t i = 0; i < sp_jlist_count(l) && !rc; i++) {
                sp_jrow *x = sp_jlist_at(l, i);
                if (x->flags & (SP_JROW_MATCHED | SP_JROW_PADDED)) continue;
                x->flags |= SP_JROW_PADDED;
                rc = emit_padded(op, st, cfg, s, k, x);
            }
        }
    }
    return rc;
}

/* ----------------------------------------------------------------- arrival */

/* Joins row r of b (side s, time t) with the kept rows of the other side of
 * key k; sets *matched when it joined any. */
static int probe(sp_op *op, ijstate *st, const ijcfg *cfg, int s, uint32_t k, const sp_batch *b,
                 uint32_t r, int64_t t, int *matched)
{
    int64_t from = sp_sat_add(t, s == 0 ? cfg->lo : -cfg->hi);
    int64_t to = sp_sat_add(t, s == 0 ? cfg->hi : -cfg->lo);
    const sp_jlist *o = &key_at(st, k)->side[1 - s];
    for (uint32_t i = sp_jlist_lower(o, from); i < sp_jlist_count(o); i++) {
        sp_jrow *x = sp_jlist_at(o, i);
        if (x->t > to) break;
        x->flags |= SP_JROW_MATCHED;
        *matched = 1;
        int rc = emit_pair(op, st, cfg, s, b, r, x);
        if (rc) return rc;
    }
    return 0;
}

/* Row r of b arriving on side s: joined with what is kept, then kept. */
static int arrive(sp_op *op, ijstate *st, const ijcfg *cfg, int s, const sp_batch *b, uint32_t r)
{
    const sp_vec *tv = &b->cols[cfg->j.tcol[s]];
    if (sp_vec_is_null(tv, r) || SP_I64(tv)[r] < st->wm) {
        st->nlate++;
        return 0;
    }
    int64_t t = SP_I64(tv)[r];
    int ins;
    ikey *v = sp_keytable_find_or_insert(&st->keys.t, b->hashes[r], b, r, cfg->j.nkeys, &ins);
    if (!v) return nomem(op);
    if (ins) {
        v->due = INT64_MAX;
        sp_jcount_keys(&st->count, &st->keys);
    }
    if (!v->live) {
        v->live = 1;
        if (!ins) st->keys.dead--;
    }
    uint32_t k = sp_keytable_index(&st->keys.t, v);
    int matched = 0;
    int rc = probe(op, st, cfg, s, k, b, r, t, &matched);
    if (rc) return rc;
    sp_jrow *x = sp_jrow_new(b, r, cfg->j.nkeys, cfg->j.nv[s], t);
    if (!x || sp_jlist_insert(&key_at(st, k)->side[s], x)) {
        free(x);
        return nomem(op);
    }
    if (matched) x->flags |= SP_JROW_MATCHED;
    sp_jcount_add(&st->count);
    return schedule(cfg, st, k) ? nomem(op) : 0;
}

static int ij_push(sp_op *op, int port, sp_batch *b)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->j.nkeys);
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) rc = arrive(op, st, cfg, port, b, sp_batch_phys(b, i));
    sp_op_release(op, b);
    if (!rc) rc = advance(op, st, cfg, st->wm); /* rows that expire at the current wm */
    return sp_jcall_done(op, &st->out, &st->nlate, rc);
}

static int ij_watermark(sp_op *op, int64_t wm_us)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    if (wm_us == SPATE_WATERMARK_MAX && sp_ctx_checkpointing(op->node->ctx))
        return sp_jcall_done(op, &st->out, &st->nlate, pad_resumable(op, st, cfg));
    if (wm_us > st->wm) st->wm = wm_us;
    return sp_jcall_done(op, &st->out, &st->nlate, advance(op, st, cfg, st->wm));
}

static int ij_open(sp_op *op)
{
    const ijcfg *cfg = op->node->cfg;
    ijstate *st = calloc(1, sizeof *st);
    if (!st) return nomem(op);
    op->st = st;
    st->wm = SPATE_WATERMARK_MIN;
    return sp_jstate_open(&cfg->j, &st->keys, sizeof(ikey), st->scratch) ? nomem(op) : 0;
}

static void ij_close(sp_op *op)
{
    ijstate *st = op->st;
    if (!st) return;
    sp_jstate_close(&st->keys, st->scratch);
    free(st->due.h);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

/* ------------------------------------------------------------- checkpoints */

static int key_out(sp_wbuf *w, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    return sp_jsides_write(w, key_at(st, k)->side, cfg->j.nv, st->scratch);
}

static int ij_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    ijstate *st = op->st;
    int rc = sp_jkeys_snapshot(&st->keys, s, sp_ctx_key_groups(op->node->ctx), IJ_VERSION, st->wm,
                               key_live, key_out, op);
    return rc ? sp_jfail(op, rc) : 0;
}

/* Row x of side s of key k, restored. */
static int keep(void *arg, uint32_t k, int s, sp_jrow *x)
{
    ijstate *st = arg;
    if (sp_jlist_insert(&key_at(st, k)->side[s], x)) return SPATE_ENOMEM;
    sp_jcount_add(&st->count);
    return 0;
}

/* The rows of key k, as key_out wrote them. */
static int key_in(sp_rbuf *r, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    ikey *v = key_at(st, k);
    if (!v->live) *v = (ikey){.due = INT64_MAX, .live = 1};
    int rc = sp_jsides_read(r, k, cfg->j.nv, st->scratch, SP_JROW_MATCHED | SP_JROW_PADDED, keep,
                            st);
    return rc ? rc : schedule(cfg, st, k);
}

static int ij_restore(sp_op *op, sp_state_in *s)
{
    ijstate *st = op->st;
    int rc = sp_jkeys_restore(&st->keys, s, IJ_VERSION, &st->wm, key_in, op);
    return rc ? sp_jfail(op, rc) : 0;
}

static const sp_op_class interval_join_class = {
    .name = "interval_join", .open = ij_open, .push = ij_push, .watermark = ij_watermark,
    .snapshot = ij_snapshot, .restore = ij_restore, .close = ij_close, .cfg_free = sp_jcfg_free,
};

/* ---------------------------------------------------------------- building */

int spate_interval_join(spate_stream *left, spate_stream *right, spate_join_kind kind,
                        const char *left_time, const char *right_time, int64_t lower_ms,
                        int64_t upper_ms, spate_stream **out)
{
    const char *what = "interval_join";
    int rc = sp_jcheck_inputs(left, right, out, what);
    if (rc) return rc;
    if (kind < SPATE_JOIN_INNER || kind > SPATE_JOIN_FULL)
        return sp_err(SPATE_EINVAL, "%s: unknown join kind %d", what, (int)kind);
    if (lower_ms > upper_ms)
        return sp_err(SPATE_EINVAL, "%s: lower_ms (%lld) must not exceed upper_ms (%lld)", what,
                      (long long)lower_ms, (long long)upper_ms);
    if (lower_ms < -INT64_MAX / 1000 || upper_ms > INT64_MAX / 1000)
        return sp_err(SPATE_EINVAL, "%s: the bounds do not fit in microseconds", what);
    int tl = sp_jtime_column(left, left_time, what, "left");
    if (tl < 0) return tl;
    int tr = sp_jtime_column(right, right_time, what, "right");
    if (tr < 0) return tr;
    spate_schema *schema = sp_jschema_out(left, right, NULL, 0, &rc);
    if (!schema) return rc;
    ijcfg *cfg = sp_jcfg_new(sizeof *cfg, left, right, kind, tl, tr);
    if (!cfg) {
        spate_schema_free(schema);
        return SPATE_ENOMEM;
    }
    cfg->lo = lower_ms * 1000;
    cfg->hi = upper_ms * 1000;
    return sp_jnode_add(left, right, &interval_join_class, cfg, schema, out);
}
