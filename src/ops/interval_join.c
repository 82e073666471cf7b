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
 * Checkpoints: per key group a version byte and the watermark, then per live key
 * the key columns (sp_w_row), and per side the row count and each row as its
 * time, flags and value columns (sp_w_row). The instance file holds version and
 * watermark, so an instance that owns no key group after rescaling still knows
 * what is late. Restore recomputes each key's hash with the exchange's function
 * (sp_row_key_hash), so keys reach the instance owning their key group for any
 * worker count, and requeues each key's earliest expiry.
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
    spate_join_kind kind;
    int nkeys, nv[2];           /* value columns per side (after the keys) */
    int tcol[2];                /* time column per side */
    int64_t lo, hi;             /* µs */
    spate_schema *key_schema, *vals[2];
} ijcfg;

typedef struct ikey {
    sp_jlist side[2];
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
    return sp_op_fail(op, SPATE_ENOMEM, "interval_join: out of memory");
}

static int corrupt(sp_op *op)
{
    return sp_op_fail(op, SPATE_EPARSE,
                      "interval_join: the state in the checkpoint is truncated or corrupt");
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

/* Side s's values into row `row` of out: from row r of batch b, from kept row
 * x, or NULL when both are NULL. */
static int put_side(const ijcfg *cfg, int s, sp_batch *out, uint32_t row, const sp_batch *b,
                    uint32_t r, const sp_jrow *x)
{
    int dc = cfg->nkeys + (s ? cfg->nv[0] : 0);
    if (x) return sp_jrow_put(x, cfg->nv[s], out, row, dc);
    for (int c = 0; c < cfg->nv[s]; c++) {
        if (!b) sp_ops_set_null(&out->cols[dc + c], row);
        else if (sp_batch_copy_cell(out, dc + c, row, b, cfg->nkeys + c, r)) return SPATE_ENOMEM;
    }
    return 0;
}

/* The pair of arriving row r of b (side s) and kept row x of the other side. */
static int emit_pair(sp_op *op, ijstate *st, const ijcfg *cfg, int s, const sp_batch *b,
                     uint32_t r, const sp_jrow *x)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t row = out->n;
    for (int c = 0; c < cfg->nkeys; c++)
        if (sp_batch_copy_cell(out, c, row, b, c, r)) return nomem(op);
    if (put_side(cfg, s, out, row, b, r, NULL) || put_side(cfg, 1 - s, out, row, NULL, 0, x))
        return nomem(op);
    out->n++;
    return 0;
}

/* Kept row x of side s of key k, NULL-padded. */
static int emit_padded(sp_op *op, ijstate *st, const ijcfg *cfg, int s, uint32_t k,
                       const sp_jrow *x)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t row = out->n;
    if (sp_keytable_write_key(&st->keys.t, k, out, row) ||
        put_side(cfg, s, out, row, NULL, 0, x) || put_side(cfg, 1 - s, out, row, NULL, 0, NULL))
        return nomem(op);
    out->n++;
    return 0;
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
            if (sp_jkind_keeps(cfg->kind, s) && !(x->flags & (SP_JROW_MATCHED | SP_JROW_PADDED)))
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
        if (!sp_jkind_keeps(cfg->kind, s)) continue;
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
    const sp_vec *tv = &b->cols[cfg->tcol[s]];
    if (sp_vec_is_null(tv, r) || SP_I64(tv)[r] < st->wm) {
        st->nlate++;
        return 0;
    }
    int64_t t = SP_I64(tv)[r];
    int ins;
    ikey *v = sp_keytable_find_or_insert(&st->keys.t, b->hashes[r], b, r, cfg->nkeys, &ins);
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
    sp_jrow *x = sp_jrow_new(b, r, cfg->nkeys, cfg->nv[s], t);
    if (!x || sp_jlist_insert(&key_at(st, k)->side[s], x)) {
        free(x);
        return nomem(op);
    }
    if (matched) x->flags |= SP_JROW_MATCHED;
    sp_jcount_add(&st->count);
    return schedule(cfg, st, k) ? nomem(op) : 0;
}

/* Ends a call: late rows counted, output flushed. */
static int call_done(sp_op *op, ijstate *st, int rc)
{
    if (st->nlate) sp_op_count_late(op, st->nlate);
    st->nlate = 0;
    int frc = sp_ops_out_flush(op, &st->out);
    return rc ? rc : frc;
}

static int ij_push(sp_op *op, int port, sp_batch *b)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) rc = arrive(op, st, cfg, port, b, sp_batch_phys(b, i));
    sp_op_release(op, b);
    if (!rc) rc = advance(op, st, cfg, st->wm); /* rows that expire at the current wm */
    return call_done(op, st, rc);
}

static int ij_watermark(sp_op *op, int64_t wm_us)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    if (wm_us == SPATE_WATERMARK_MAX && sp_ctx_checkpointing(op->node->ctx))
        return call_done(op, st, pad_resumable(op, st, cfg));
    if (wm_us > st->wm) st->wm = wm_us;
    return call_done(op, st, advance(op, st, cfg, st->wm));
}

static int ij_open(sp_op *op)
{
    const ijcfg *cfg = op->node->cfg;
    ijstate *st = calloc(1, sizeof *st);
    if (!st) return nomem(op);
    op->st = st;
    st->wm = SPATE_WATERMARK_MIN;
    if (sp_jkeys_init(&st->keys, cfg->key_schema, sizeof(ikey))) return nomem(op);
    for (int s = 0; s < 2; s++)
        if (!(st->scratch[s] = sp_jrow_scratch(cfg->vals[s]))) return nomem(op);
    return 0;
}

static void ij_close(sp_op *op)
{
    ijstate *st = op->st;
    if (!st) return;
    for (uint32_t k = 0; st->keys.key && k < sp_keytable_count(&st->keys.t); k++) {
        sp_jlist_free(&key_at(st, k)->side[0]);
        sp_jlist_free(&key_at(st, k)->side[1]);
    }
    sp_jkeys_free(&st->keys);
    free(st->due.h);
    for (int s = 0; s < 2; s++) sp_batch_free(st->scratch[s]);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

static void ijcfg_free(void *p)
{
    ijcfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->key_schema);
    spate_schema_free(cfg->vals[0]);
    spate_schema_free(cfg->vals[1]);
    free(cfg);
}

/* ------------------------------------------------------------- checkpoints */

static void header_out(sp_wbuf *w, const void *arg)
{
    const ijstate *st = arg;
    sp_w_u8(w, IJ_VERSION);
    sp_w_i64(w, st->wm);
}

static int header_in(sp_op *op, ijstate *st, sp_rbuf *r)
{
    if (sp_r_u8(r) != IJ_VERSION) return corrupt(op);
    int64_t wm = sp_r_i64(r);
    if (r->err) return corrupt(op);
    if (wm > st->wm) st->wm = wm;
    return 0;
}

static int ij_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    int kgs = sp_ctx_key_groups(op->node->ctx);
    sp_wbuf *iw = sp_state_instance(s);
    if (!iw) return nomem(op);
    header_out(iw, st);
    for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t); k++) {
        if (!key_at(st, k)->live) continue;
        sp_wbuf *w = sp_jkeys_snap_key(&st->keys, k, s, kgs, header_out, st);
        if (!w) return nomem(op);
        for (int side = 0; side < 2; side++) {
            const sp_jlist *l = &key_at(st, k)->side[side];
            sp_w_varint(w, sp_jlist_count(l));
            for (uint32_t i = 0; i < sp_jlist_count(l); i++) {
                const sp_jrow *x = sp_jlist_at(l, i);
                sp_w_i64(w, x->t);
                sp_w_u8(w, (uint8_t)x->flags);
                if (sp_jrow_write(w, x, cfg->nv[side], st->scratch[side])) return nomem(op);
            }
        }
    }
    return iw->err ? nomem(op) : 0;
}

/* One key and its rows, as ij_snapshot wrote them. */
static int key_in(sp_op *op, ijstate *st, const ijcfg *cfg, sp_rbuf *r)
{
    int rc;
    ikey *v = sp_jkeys_restore_key(&st->keys, r, &rc);
    if (!v) return rc == SPATE_ENOMEM ? nomem(op) : corrupt(op);
    if (!v->live) *v = (ikey){.due = INT64_MAX, .live = 1};
    uint32_t k = sp_keytable_index(&st->keys.t, v);
    for (int s = 0; s < 2; s++) {
        uint64_t n = sp_r_varint(r);
        for (uint64_t i = 0; i < n && !r->err; i++) {
            int64_t t = sp_r_i64(r);
            uint8_t flags = sp_r_u8(r);
            sp_jrow *x = sp_jrow_read(r, cfg->nv[s], st->scratch[s], t, &rc);
            if (!x) return rc == SPATE_ENOMEM ? nomem(op) : corrupt(op);
            x->flags = flags & (SP_JROW_MATCHED | SP_JROW_PADDED);
            if (sp_jlist_insert(&key_at(st, k)->side[s], x)) {
                free(x);
                return nomem(op);
            }
            sp_jcount_add(&st->count);
        }
    }
    if (r->err) return corrupt(op);
    return schedule(cfg, st, k) ? nomem(op) : 0;
}

static int ij_restore(sp_op *op, sp_state_in *s)
{
    ijstate *st = op->st;
    const ijcfg *cfg = op->node->cfg;
    sp_rbuf r;
    int g, rc = sp_state_instance_in(s, &r) ? header_in(op, st, &r) : 0;
    while (!rc && sp_state_next_group(s, &g, &r)) {
        rc = header_in(op, st, &r);
        while (!rc && r.pos < r.len) rc = key_in(op, st, cfg, &r);
    }
    return rc;
}

static const sp_op_class interval_join_class = {
    .name = "interval_join", .open = ij_open, .push = ij_push, .watermark = ij_watermark,
    .snapshot = ij_snapshot, .restore = ij_restore, .close = ij_close, .cfg_free = ijcfg_free,
};

/* ---------------------------------------------------------------- building */

/* key, left values, right values (renamed on a clash). */
static spate_schema *output_schema(const spate_stream *l, const spate_stream *r, int *rc)
{
    spate_schema *s = spate_schema_new();
    *rc = s ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < l->schema->n && !*rc; c++)
        *rc = spate_schema_add(s, l->schema->f[c].name, l->schema->f[c].type);
    for (int c = r->nkeys; c < r->schema->n && !*rc; c++)
        *rc = sp_jschema_add_unique(s, r->schema->f[c].name, r->schema->f[c].type);
    if (*rc) {
        spate_schema_free(s);
        return NULL;
    }
    return s;
}

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
    spate_schema *schema = output_schema(left, right, &rc);
    if (!schema) return rc;
    ijcfg *cfg = calloc(1, sizeof *cfg);
    if (cfg) {
        cfg->kind = kind;
        cfg->nkeys = left->nkeys;
        cfg->nv[0] = left->schema->n - left->nkeys;
        cfg->nv[1] = right->schema->n - right->nkeys;
        cfg->tcol[0] = tl;
        cfg->tcol[1] = tr;
        cfg->lo = lower_ms * 1000;
        cfg->hi = upper_ms * 1000;
        cfg->key_schema = sp_jschema_slice(left, 0, left->nkeys);
        cfg->vals[0] = sp_jschema_slice(left, left->nkeys, left->schema->n);
        cfg->vals[1] = sp_jschema_slice(right, right->nkeys, right->schema->n);
    }
    if (!cfg || !cfg->key_schema || !cfg->vals[0] || !cfg->vals[1]) {
        ijcfg_free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    spate_stream *in[2] = {left, right};
    sp_exchange ex[2] = {left->partitioned ? SP_EX_FORWARD : SP_EX_HASH,
                         right->partitioned ? SP_EX_FORWARD : SP_EX_HASH};
    rc = sp_node_add(left->ctx, &interval_join_class, cfg, schema, left->nkeys, 2, in, ex, 0, out);
    if (!rc) (*out)->partitioned = 1;
    return rc;
}
