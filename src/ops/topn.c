/*
 * topn.c - spate_window_top_n: Flink's Window Top-N over a keyed stream of
 * window results (docs/windows.md, "Window Top-N").
 *
 * Input: a keyed stream whose key columns include window_end (a TIMESTAMP) -
 * normally window_start, window_end and any partition columns, from
 * spate_key_by over a window aggregate's output. Placement as the keyed
 * operators: HASH by the key (FORWARD when partitioned), so a group (one key)
 * lives in one instance.
 *
 * Per group the instance keeps only the n best rows so far, in a binary heap
 * whose root is the worst kept row: a new row enters while the group has fewer
 * than n, else replaces the root when it is better, else is dropped at once. So
 * a group holds at most n rows whatever its input, and a row costs O(log n).
 * Order: order_col ascending, or descending with desc; NULL values last either
 * way; strings by bytes (memcmp); ties by arrival, the earlier first (an arrival
 * sequence number per instance). With several upstream workers the arrival order
 * of rows from different workers is not defined, nor, then, the ranking of ties.
 *
 * Firing: groups sit in a min-heap by window_end; when the instance's watermark
 * reaches a group's window_end (the window operator upstream emits a window's
 * rows before it forwards that watermark), the group's rows are sorted best
 * first (heap sort in place) and emitted with row_num 1, 2 ..., and the group is
 * dropped. A row whose window_end the watermark already passed is late: dropped
 * and counted in late_records (as a row with a NULL window_end). The input is
 * taken as append-only: an "op" column, if any, is an ordinary column.
 *
 * Keys of fired groups are dead; the key table is rebuilt from the live ones when
 * the dead ones outnumber them (sp_jkeys).
 *
 * End of input: watermark MAX fires every group. With checkpoints the job's last
 * checkpoint must let a later run continue (as window.c's fire_resumable): every
 * group fires but stays, flagged as emitted; a later run fires it again only if a
 * row entered its top n since, with its whole new ranking (row_num 1.. again), so
 * the last ranking emitted per group is that of one uninterrupted run.
 *
 * Output: the input's columns, then row_num BIGINT; keyed by the input's keys.
 *
 * Checkpoints (sp_jkeys_snapshot): per key group a version byte and the
 * watermark, then per live group the key columns (sp_w_row), its flags, the count
 * of kept rows and each as its arrival number and value columns (sp_w_row). The
 * instance file holds version and watermark. Restore recomputes key hashes with
 * the exchange's function, so groups follow their key group to any worker count;
 * arrival numbers continue after the largest restored.
 */
#include "checkpoint/serde.h"
#include "core/row.h"
#include "ops/jrows.h"
#include "ops/ops.h"
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

enum { TOPN_VERSION = 1 };
enum { G_FIRED = 1, G_CHANGED = 2 };

typedef struct tncfg {
    int nkeys, nv;              /* key and value columns of the input */
    int ocol;                   /* order column, among the values */
    spate_type otype;
    int desc;
    int64_t n;
    int ecol;                   /* window_end, among the keys */
    spate_schema *key_schema, *vals;
} tncfg;

typedef struct tentry {
    sp_jrow *row;
    uint64_t seq;               /* arrival */
} tentry;

typedef struct tgroup {
    tentry *e;                  /* heap, worst first */
    uint32_t n, cap;
    int64_t end;                /* window_end */
    uint32_t flags;             /* G_* */
    int live;
} tgroup;

typedef struct tnstate {
    sp_jcount count;            /* first: sp_jrows_held reads it (tests) */
    sp_jkeys keys;              /* value: tgroup */
    sp_jheap due;               /* (window_end, key) */
    uint64_t seq;
    sp_batch *out, *scratch;
    int64_t wm;
    uint64_t nlate;
} tnstate;

static int nomem(sp_op *op)
{
    return sp_jfail(op, SPATE_ENOMEM);
}

static tgroup *group_at(const tnstate *st, uint32_t k)
{
    return sp_keytable_value(&st->keys.t, k);
}

/* ------------------------------------------------------------------- order */

static int cmp_values(const tncfg *cfg, const sp_jrow *a, const sp_jrow *b)
{
    int64_t x, y;
    spate_str sx, sy;
    int na = sp_jrow_get(a, cfg->nv, cfg->ocol, cfg->otype, &x, &sx);
    int nb = sp_jrow_get(b, cfg->nv, cfg->ocol, cfg->otype, &y, &sy);
    if (na || nb) return na - nb; /* NULL after any value, whatever the direction */
    int c;
    if (sp_type_is_str(cfg->otype)) {
        c = memcmp(sx.ptr, sy.ptr, sx.len < sy.len ? sx.len : sy.len);
        if (!c) c = (sx.len > sy.len) - (sx.len < sy.len);
    } else if (cfg->otype == SPATE_FLOAT64) {
        double dx, dy;
        memcpy(&dx, &x, 8);
        memcpy(&dy, &y, 8);
        c = (dx > dy) - (dx < dy);
    } else {
        c = (x > y) - (x < y);
    }
    return cfg->desc ? -c : c;
}

/* Does a rank before b? */
static int better(const tncfg *cfg, const tentry *a, const tentry *b)
{
    int c = cmp_values(cfg, a->row, b->row);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

/* Restores the heap (worst at the root) below position i of e[0, n). */
static void sift_down(const tncfg *cfg, tentry *e, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t c = 2 * i + 1, w = i;
        if (c < n && better(cfg, &e[w], &e[c])) w = c;
        if (c + 1 < n && better(cfg, &e[w], &e[c + 1])) w = c + 1;
        if (w == i) return;
        tentry t = e[i];
        e[i] = e[w];
        e[w] = t;
        i = w;
    }
}

static void sift_up(const tncfg *cfg, tentry *e, uint32_t i)
{
    while (i > 0 && better(cfg, &e[(i - 1) / 2], &e[i])) {
        tentry t = e[i];
        e[i] = e[(i - 1) / 2];
        e[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Offers x to group g: kept when it is among the n best. 1 kept, 0 not (x is
 * freed), or SPATE_ENOMEM. */
static int offer(tnstate *st, const tncfg *cfg, tgroup *g, tentry x)
{
    if ((int64_t)g->n < cfg->n) {
        if (g->n == g->cap) {
            uint32_t cap = g->cap ? g->cap * 2 : 4;
            tentry *e = realloc(g->e, (size_t)cap * sizeof *e);
            if (!e) return SPATE_ENOMEM;
            g->e = e;
            g->cap = cap;
        }
        g->e[g->n++] = x;
        sift_up(cfg, g->e, g->n - 1);
        sp_jcount_add(&st->count);
        return 1;
    }
    if (!better(cfg, &x, &g->e[0])) {
        free(x.row);
        return 0;
    }
    free(g->e[0].row);
    g->e[0] = x;
    sift_down(cfg, g->e, g->n, 0);
    return 1;
}

/* ----------------------------------------------------------------- firing */

/* Emits group k's rows best first with their row numbers. Sorting leaves the
 * entries best first; reversed, they are worst first: a valid heap again. */
static int emit_group(sp_op *op, tnstate *st, const tncfg *cfg, uint32_t k)
{
    tgroup *g = group_at(st, k);
    for (uint32_t m = g->n; m > 1; m--) { /* heap sort: the worst goes last */
        tentry t = g->e[0];
        g->e[0] = g->e[m - 1];
        g->e[m - 1] = t;
        sift_down(cfg, g->e, m - 1, 0);
    }
    for (uint32_t i = 0; i < g->n; i++) {
        int rc = sp_ops_out_room(op, &st->out);
        if (rc) return rc;
        sp_batch *out = st->out;
        uint32_t row = out->n;
        const sp_jrow *x = g->e[i].row;
        sp_vec *rn = &out->cols[cfg->nkeys + cfg->nv];
        if (sp_keytable_write_key(&st->keys.t, k, out, row) ||
            sp_jrow_put(x, cfg->nv, out, row, cfg->nkeys))
            return nomem(op);
        if (rn->has_nulls) sp_vec_clear_null(rn, row);
        SP_I64(rn)[row] = (int64_t)i + 1;
        out->n++;
    }
    g->flags = G_FIRED;
    return 0;
}

/* Frees group k, which is then dead. */
static void group_drop(tnstate *st, uint32_t k)
{
    tgroup *g = group_at(st, k);
    for (uint32_t i = 0; i < g->n; i++) free(g->e[i].row);
    st->count.held -= g->n;
    free(g->e);
    *g = (tgroup){0};
    st->keys.dead++;
}

static int group_live(const void *v)
{
    return ((const tgroup *)v)->live;
}

/* Rebuilds the key table from the live groups, and the heap from their ends. */
static int compact(sp_op *op, tnstate *st)
{
    if (sp_jkeys_compact(&st->keys, group_live, NULL)) return nomem(op);
    st->due.n = 0;
    for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t); k++)
        if (sp_jheap_push(&st->due, group_at(st, k)->end, k)) return nomem(op);
    return 0;
}

/* Fires and drops the groups due at wm. */
static int advance(sp_op *op, tnstate *st, const tncfg *cfg, int64_t wm)
{
    int rc = 0;
    while (!rc && st->due.n && st->due.h[0].t <= wm) {
        uint32_t k = (uint32_t)sp_jheap_pop(&st->due).id;
        if (group_at(st, k)->flags != G_FIRED) rc = emit_group(op, st, cfg, k);
        group_drop(st, k);
    }
    if (!rc && sp_jkeys_should_compact(&st->keys)) rc = compact(op, st);
    return rc;
}

/* The end of input with checkpoints: every group with news fires, and stays. */
static int fire_resumable(sp_op *op, tnstate *st, const tncfg *cfg)
{
    int rc = 0;
    for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t) && !rc; k++) {
        tgroup *g = group_at(st, k);
        if (!g->live || g->flags == G_FIRED) continue;
        rc = emit_group(op, st, cfg, k);
        for (uint32_t i = 0; i < g->n / 2; i++) { /* best first -> worst first: a heap */
            tentry t = g->e[i];
            g->e[i] = g->e[g->n - 1 - i];
            g->e[g->n - 1 - i] = t;
        }
    }
    return rc;
}

/* ----------------------------------------------------------------- arrival */

static int arrive(sp_op *op, tnstate *st, const tncfg *cfg, const sp_batch *b, uint32_t r)
{
    const sp_vec *ev = &b->cols[cfg->ecol];
    if (sp_vec_is_null(ev, r) || SP_I64(ev)[r] <= st->wm) {
        st->nlate++;
        return 0;
    }
    int ins;
    tgroup *g = sp_keytable_find_or_insert(&st->keys.t, b->hashes[r], b, r, cfg->nkeys, &ins);
    if (!g) return nomem(op);
    uint32_t k = sp_keytable_index(&st->keys.t, g);
    sp_jcount_keys(&st->count, &st->keys);
    if (!g->live) {
        if (!ins) st->keys.dead--;
        *g = (tgroup){.end = SP_I64(ev)[r], .live = 1};
        if (sp_jheap_push(&st->due, g->end, k)) return nomem(op);
        g = group_at(st, k);
    }
    tentry x = {sp_jrow_new(b, r, cfg->nkeys, cfg->nv, 0), st->seq++};
    if (!x.row) return nomem(op);
    int kept = offer(st, cfg, g, x);
    if (kept < 0) {
        free(x.row);
        return nomem(op);
    }
    if (kept) g->flags |= G_CHANGED;
    return 0;
}

static int tn_push(sp_op *op, int port, sp_batch *b)
{
    tnstate *st = op->st;
    const tncfg *cfg = op->node->cfg;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) rc = arrive(op, st, cfg, b, sp_batch_phys(b, i));
    sp_op_release(op, b);
    return sp_jcall_done(op, &st->out, &st->nlate, rc);
}

static int tn_watermark(sp_op *op, int64_t wm_us)
{
    tnstate *st = op->st;
    const tncfg *cfg = op->node->cfg;
    if (wm_us == SPATE_WATERMARK_MAX && sp_ctx_checkpointing(op->node->ctx))
        return sp_jcall_done(op, &st->out, &st->nlate, fire_resumable(op, st, cfg));
    if (wm_us > st->wm) st->wm = wm_us;
    return sp_jcall_done(op, &st->out, &st->nlate, advance(op, st, cfg, st->wm));
}

static int tn_open(sp_op *op)
{
    const tncfg *cfg = op->node->cfg;
    tnstate *st = calloc(1, sizeof *st);
    if (!st) return nomem(op);
    op->st = st;
    st->wm = SPATE_WATERMARK_MIN;
    if (sp_jkeys_init(&st->keys, cfg->key_schema, sizeof(tgroup))) return nomem(op);
    return (st->scratch = sp_jrow_scratch(cfg->vals)) ? 0 : nomem(op);
}

static void tn_close(sp_op *op)
{
    tnstate *st = op->st;
    if (!st) return;
    for (uint32_t k = 0; st->keys.key && k < sp_keytable_count(&st->keys.t); k++) {
        tgroup *g = group_at(st, k);
        for (uint32_t i = 0; i < g->n; i++) free(g->e[i].row);
        free(g->e);
    }
    sp_jkeys_free(&st->keys);
    free(st->due.h);
    sp_batch_free(st->scratch);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

static void tncfg_free(void *p)
{
    tncfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->key_schema);
    spate_schema_free(cfg->vals);
    free(cfg);
}

/* ------------------------------------------------------------- checkpoints */

static int group_out(sp_wbuf *w, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    tnstate *st = op->st;
    const tncfg *cfg = op->node->cfg;
    const tgroup *g = group_at(st, k);
    sp_w_u8(w, (uint8_t)g->flags);
    sp_w_varint(w, g->n);
    for (uint32_t i = 0; i < g->n; i++) {
        sp_w_varint(w, g->e[i].seq);
        if (sp_jrow_write(w, g->e[i].row, cfg->nv, st->scratch)) return SPATE_ENOMEM;
    }
    return 0;
}

static int tn_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    tnstate *st = op->st;
    int rc = sp_jkeys_snapshot(&st->keys, s, sp_ctx_key_groups(op->node->ctx), TOPN_VERSION,
                               st->wm, group_live, group_out, op);
    return rc ? sp_jfail(op, rc) : 0;
}

/* Group k, as group_out wrote it. */
static int group_in(sp_rbuf *r, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    tnstate *st = op->st;
    const tncfg *cfg = op->node->cfg;
    tgroup *g = group_at(st, k);
    if (g->live) return SPATE_EPARSE; /* a group is written once */
    *g = (tgroup){.end = SP_I64(&st->keys.key->cols[cfg->ecol])[0], .live = 1};
    g->flags = sp_r_u8(r) & (G_FIRED | G_CHANGED);
    if (sp_jheap_push(&st->due, g->end, k)) return SPATE_ENOMEM;
    uint64_t n = sp_r_varint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        int rc;
        tentry x = {.seq = sp_r_varint(r)};
        if (x.seq >= st->seq) st->seq = x.seq + 1;
        x.row = sp_jrow_read(r, cfg->nv, st->scratch, 0, &rc);
        if (!x.row) return rc;
        if (offer(st, cfg, group_at(st, k), x) < 0) {
            free(x.row);
            return SPATE_ENOMEM;
        }
    }
    return r->err ? SPATE_EPARSE : 0;
}

static int tn_restore(sp_op *op, sp_state_in *s)
{
    tnstate *st = op->st;
    int rc = sp_jkeys_restore(&st->keys, s, TOPN_VERSION, &st->wm, group_in, op);
    return rc ? sp_jfail(op, rc) : 0;
}

static const sp_op_class top_n_class = {
    .name = "window_top_n", .open = tn_open, .push = tn_push, .watermark = tn_watermark,
    .snapshot = tn_snapshot, .restore = tn_restore, .close = tn_close, .cfg_free = tncfg_free,
};

/* ---------------------------------------------------------------- building */

int spate_window_top_n(spate_stream *keyed, const char *order_col, int desc, int64_t n,
                       spate_stream **out)
{
    const char *what = "window_top_n";
    if (out) *out = NULL;
    if (!keyed || !out || !order_col)
        return sp_err(SPATE_EINVAL, "%s: stream, order column and out must not be NULL", what);
    if (!keyed->schema) return sp_err(SPATE_EINVAL, "%s: the input is an output, not a stream",
                                      what);
    if (n <= 0 || n > UINT32_MAX) return sp_err(SPATE_EINVAL, "%s: n must be in 1..2^32-1", what);
    int ecol = spate_schema_find(keyed->schema, "window_end");
    if (ecol < 0 || ecol >= keyed->nkeys || keyed->schema->f[ecol].type != SPATE_TIMESTAMP)
        return sp_err(SPATE_EINVAL, "%s needs a TIMESTAMP window_end among its key columns: key "
                                    "the window results by window_start, window_end (and any "
                                    "partition columns)", what);
    int ocol = spate_schema_find(keyed->schema, order_col);
    if (ocol < 0) return sp_err(SPATE_ENOTFOUND, "%s: no column '%s'", what, order_col);
    if (ocol < keyed->nkeys)
        return sp_err(SPATE_EINVAL, "%s: order column '%s' is a key column", what, order_col);
    if (spate_schema_find(keyed->schema, "row_num") >= 0)
        return sp_err(SPATE_EINVAL, "%s: the input already has a column 'row_num'", what);
    spate_schema *schema = sp_jschema_slice(keyed, 0, keyed->schema->n);
    tncfg *cfg = calloc(1, sizeof *cfg);
    if (cfg) {
        cfg->nkeys = keyed->nkeys;
        cfg->nv = keyed->schema->n - keyed->nkeys;
        cfg->ocol = ocol - keyed->nkeys;
        cfg->otype = keyed->schema->f[ocol].type;
        cfg->desc = desc != 0;
        cfg->n = n;
        cfg->ecol = ecol;
        cfg->key_schema = sp_jschema_slice(keyed, 0, keyed->nkeys);
        cfg->vals = sp_jschema_slice(keyed, keyed->nkeys, keyed->schema->n);
    }
    if (!schema || !cfg || !cfg->key_schema || !cfg->vals ||
        spate_schema_add(schema, "row_num", SPATE_INT64)) {
        tncfg_free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    sp_exchange ex = keyed->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    int rc = sp_node_add(keyed->ctx, &top_n_class, cfg, schema, keyed->nkeys, 1, &keyed, &ex, 0,
                         out);
    if (!rc) {
        (*out)->partitioned = 1;
        (*out)->time_col = keyed->time_col;
    }
    return rc;
}
