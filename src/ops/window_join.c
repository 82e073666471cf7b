/*
 * window_join.c - spate_window_join: Flink's window join of two keyed streams
 * in event time (docs/joins.md has the user-facing semantics).
 *
 * Placement as spate_join (join.c): each input is hashed by its keys (FORWARD
 * when already partitioned). The instance's watermark wm is the minimum over both
 * inputs; windows fire when it reaches their end, in both styles alike.
 *
 * Windows: tumbling, sliding or cumulate, assigned by time/assigners.h from each
 * side's time column, half-open [start, end). Every window is a union of panes
 * (the size, gcd(size, slide), or the cumulate step), so a row is kept once
 * whatever the number of windows it is in:
 *  - rows: per key and side, a list ordered by time (sp_jrow copies of the
 *    value columns); a window's rows of a key are a range of it, found by two
 *    binary searches;
 *  - panes: ordered by start, each listing the keys that have rows in it (a key
 *    is listed once: before a row is filed, the key's lists tell whether it has a
 *    row in that pane already);
 *  - windows: a min-heap of (start, end) by end. A window is created with its
 *    first pane (a row's pane that did not exist creates the windows holding it
 *    that have no other pane yet and have not fired: end > wm).
 * A window fires when wm >= end: its keys are those of its panes (deduplicated
 * with a per-key mark), and per key the window's left and right rows are joined -
 * the cross product, or with no row on one side, the other side NULL-padded for
 * the outer kinds. Then the panes whose last window (sp_assign_holding's window
 * 0) it was are dropped with their rows: the rows of a listed key before the
 * pane's end. State is bounded by the rows of the panes not yet done: the window
 * size plus the watermark delay of event time.
 *
 * Late rows: a row whose windows have all fired (the last one holding its pane
 * ends at or before wm) is dropped and counted in late_records; a row whose time
 * is NULL too. A row for which only some windows fired (sliding, cumulate) is
 * kept for the others, like window.c's sliding windows.
 *
 * Keys whose lists are empty are dead; the key table is rebuilt from the live
 * ones when the dead ones outnumber them (sp_jkeys), the pane lists renumbered.
 *
 * End of input: watermark MAX fires every window. With checkpoints the job's last
 * checkpoint must let a later run continue (as window.c's fire_resumable): every
 * window fires but stays, the rows too, under the watermark the data gave, and
 * every kept row is flagged OLD. A window firing again later emits only what
 * involves a row that is not OLD: pairs with a new row, new rows NULL-padded (a
 * row padded before that now finds a partner has then been emitted both ways).
 *
 * Output: the key columns (named as on the left), window_start, window_end, the
 * left values, the right values (a name taken gets "_right", join.c's rule).
 *
 * Checkpoints: the rows, per key group as interval_join.c writes them (version
 * and watermark, then per live key the key columns and per side the rows as
 * time, flags and value columns: sp_jkeys_snapshot, sp_jsides_write); the
 * instance file holds version and watermark. Restore files each row into its key
 * and pane, then creates the windows holding the panes that have not fired under
 * the restored watermark (each from its first pane). Panes and windows are
 * derived state: not written.
 */
#include "checkpoint/serde.h"
#include "core/row.h"
#include "ops/jrows.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "time/assigners.h"

#include <stdlib.h>
#include <string.h>

enum { WJ_VERSION = 1 };

typedef struct wjcfg {
    sp_jcfg j;                  /* first: sp_jcfg_free frees it */
    sp_assigner a;
} wjcfg;

typedef struct wjkey {
    sp_jlist side[2];           /* first: sp_jstate_close frees them */
    uint64_t mark;              /* firing that listed the key last */
    int live;
} wjkey;

typedef struct pane {
    int64_t start;
    uint32_t *keys;             /* key ids with rows in the pane, first-seen order */
    uint32_t n, cap;
} pane;

typedef struct wwin {
    int64_t start, end;
} wwin;

typedef struct wjstate {
    sp_jcount count;            /* first: sp_jrows_held reads it (tests) */
    sp_jkeys keys;              /* value: wjkey */
    pane *panes;                /* by start */
    uint32_t npanes, cappanes;
    sp_jheap wins;              /* windows as (end, start) */
    uint32_t *fk;               /* keys of the window firing */
    uint32_t nfk, capfk;
    uint64_t firing;
    sp_batch *out, *scratch[2];
    int64_t wm;
    uint64_t nlate;
} wjstate;

static int nomem(sp_op *op)
{
    return sp_jfail(op, SPATE_ENOMEM);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return 0;
    uint32_t c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static wjkey *key_at(const wjstate *st, uint32_t k)
{
    return sp_keytable_value(&st->keys.t, k);
}

static int64_t pane_end(const wjcfg *cfg, int64_t ps)
{
    return sp_sat_add(ps, cfg->a.pane);
}

/* End of the last window holding the pane at ps: the pane is done when it fired. */
static int64_t pane_done(const wjcfg *cfg, int64_t ps)
{
    int64_t s, e;
    sp_assign_holding(&cfg->a, ps, 0, &s, &e);
    return e;
}

/* Index of the first pane starting at or after ps. */
static uint32_t pane_find(const wjstate *st, int64_t ps)
{
    uint32_t lo = 0, hi = st->npanes;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st->panes[mid].start < ps) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ---------------------------------------------------------------- windows */

/* Creates the windows holding pane p (index i) that have not fired and whose
 * first pane it is (restoring: the panes in order) or whose only pane it is
 * (a pane just added). */
static int windows_of(wjstate *st, const wjcfg *cfg, uint32_t i, int only)
{
    int64_t ps = st->panes[i].start, s, e;
    for (int64_t j = 0; !sp_assign_holding(&cfg->a, ps, j, &s, &e); j++) {
        if (e <= st->wm) break; /* earlier windows end earlier */
        int other_before = i > 0 && st->panes[i - 1].start >= s;
        int other_after = i + 1 < st->npanes && st->panes[i + 1].start < e;
        if (other_before || (only && other_after)) continue;
        if (sp_jheap_push(&st->wins, e, s)) return -1;
    }
    return 0;
}

/* The pane starting at ps (index *i), added when missing. */
static int pane_get(wjstate *st, int64_t ps, uint32_t *i, int *added)
{
    *i = pane_find(st, ps);
    *added = *i == st->npanes || st->panes[*i].start != ps;
    if (!*added) return 0;
    if (grow((void **)&st->panes, &st->cappanes, st->npanes + 1, sizeof *st->panes)) return -1;
    memmove(st->panes + *i + 1, st->panes + *i, (st->npanes - *i) * sizeof *st->panes);
    st->panes[*i] = (pane){.start = ps};
    st->npanes++;
    return 0;
}

/* Files row x (side s) of key k under its pane. *added: the pane is new. */
static int file_row(wjstate *st, const wjcfg *cfg, uint32_t k, int s, sp_jrow *x, uint32_t *pi,
                    int *added)
{
    int64_t ps = sp_assign_pane(&cfg->a, x->t), pe = pane_end(cfg, ps);
    if (pane_get(st, ps, pi, added)) return -1;
    wjkey *v = key_at(st, k);
    int listed = 0;
    for (int d = 0; d < 2 && !listed; d++) {
        uint32_t at = sp_jlist_lower(&v->side[d], ps);
        listed = at < sp_jlist_count(&v->side[d]) && sp_jlist_at(&v->side[d], at)->t < pe;
    }
    pane *p = &st->panes[*pi];
    if (!listed) {
        if (grow((void **)&p->keys, &p->cap, p->n + 1, sizeof *p->keys)) return -1;
        p->keys[p->n++] = k;
    }
    if (sp_jlist_insert(&v->side[s], x)) return -1;
    sp_jcount_add(&st->count);
    return 0;
}

/* ----------------------------------------------------------------- firing */

/* One output row: key k, window w, a left and a right row (either may be NULL). */
static int emit_row(sp_op *op, wjstate *st, const wjcfg *cfg, uint32_t k, wwin w,
                    const sp_jrow *l, const sp_jrow *r)
{
    const int64_t win[2] = {w.start, w.end};
    return sp_jemit(op, &st->out, &st->keys, k, win, 2, cfg->j.nv, l, r);
}

/* Key k's rows in window w joined; pairs of two OLD rows and OLD rows alone were
 * emitted by an earlier firing of w. */
static int join_key(sp_op *op, wjstate *st, const wjcfg *cfg, uint32_t k, wwin w)
{
    const wjkey *v = key_at(st, k);
    uint32_t from[2], to[2];
    for (int s = 0; s < 2; s++) {
        from[s] = sp_jlist_lower(&v->side[s], w.start);
        to[s] = sp_jlist_lower(&v->side[s], w.end);
    }
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        if (from[1 - s] < to[1 - s] || !sp_jkind_keeps(cfg->j.kind, s)) continue;
        for (uint32_t i = from[s]; i < to[s] && !rc; i++) {
            const sp_jrow *x = sp_jlist_at(&v->side[s], i);
            if (!(x->flags & SP_JROW_OLD))
                rc = emit_row(op, st, cfg, k, w, s == 0 ? x : NULL, s == 0 ? NULL : x);
        }
    }
    for (uint32_t i = from[0]; i < to[0] && !rc; i++) {
        const sp_jrow *l = sp_jlist_at(&v->side[0], i);
        for (uint32_t j = from[1]; j < to[1] && !rc; j++) {
            const sp_jrow *r = sp_jlist_at(&v->side[1], j);
            if (!(l->flags & r->flags & SP_JROW_OLD)) rc = emit_row(op, st, cfg, k, w, l, r);
        }
    }
    return rc;
}

/* Fires window w: the keys of its panes, each joined once. */
static int fire(sp_op *op, wjstate *st, const wjcfg *cfg, wwin w)
{
    st->firing++;
    st->nfk = 0;
    for (uint32_t i = pane_find(st, w.start); i < st->npanes && st->panes[i].start < w.end; i++) {
        const pane *p = &st->panes[i];
        for (uint32_t j = 0; j < p->n; j++) {
            wjkey *v = key_at(st, p->keys[j]);
            if (v->mark == st->firing) continue;
            v->mark = st->firing;
            if (grow((void **)&st->fk, &st->capfk, st->nfk + 1, sizeof *st->fk)) return nomem(op);
            st->fk[st->nfk++] = p->keys[j];
        }
    }
    int rc = 0;
    for (uint32_t i = 0; i < st->nfk && !rc; i++) rc = join_key(op, st, cfg, st->fk[i], w);
    return rc;
}

/* Drops pane p with its rows. */
static void pane_drop(wjstate *st, const wjcfg *cfg, pane *p)
{
    int64_t pe = pane_end(cfg, p->start);
    for (uint32_t j = 0; j < p->n; j++) {
        wjkey *v = key_at(st, p->keys[j]);
        for (int s = 0; s < 2; s++)
            while (sp_jlist_count(&v->side[s]) && sp_jlist_at(&v->side[s], 0)->t < pe) {
                free(sp_jlist_pop(&v->side[s]));
                st->count.held--;
            }
        if (v->live && !sp_jlist_count(&v->side[0]) && !sp_jlist_count(&v->side[1])) {
            sp_jlist_free(&v->side[0]);
            sp_jlist_free(&v->side[1]);
            v->live = 0;
            st->keys.dead++;
        }
    }
    free(p->keys);
}

/* Drops the panes that are done once the watermark is at wm. */
static void panes_done(wjstate *st, const wjcfg *cfg, int64_t wm)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->npanes; i++) {
        if (pane_done(cfg, st->panes[i].start) <= wm) pane_drop(st, cfg, &st->panes[i]);
        else st->panes[n++] = st->panes[i];
    }
    st->npanes = n;
}

static int key_live(const void *v)
{
    return ((const wjkey *)v)->live;
}

/* Rebuilds the key table from the live keys and renumbers the pane lists. */
static int compact(sp_op *op, wjstate *st)
{
    uint32_t *map;
    if (sp_jkeys_compact(&st->keys, key_live, &map)) return nomem(op);
    for (uint32_t i = 0; i < st->npanes; i++) {
        pane *p = &st->panes[i];
        uint32_t n = 0;
        for (uint32_t j = 0; j < p->n; j++)
            if (map[p->keys[j]] != UINT32_MAX) p->keys[n++] = map[p->keys[j]];
        p->n = n;
    }
    free(map);
    return 0;
}

/* Fires the windows due at wm, in order of their ends, and drops what is done. */
static int advance(sp_op *op, wjstate *st, const wjcfg *cfg, int64_t wm)
{
    int rc = 0;
    while (!rc && st->wins.n && st->wins.h[0].t <= wm) {
        sp_jdue d = sp_jheap_pop(&st->wins);
        wwin w = {d.id, d.t};
        rc = fire(op, st, cfg, w);
        if (!rc) panes_done(st, cfg, w.end);
    }
    if (!rc && sp_jkeys_should_compact(&st->keys)) rc = compact(op, st);
    return rc;
}

static int by_end(const void *a, const void *b)
{
    const sp_jdue *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* The end of input with checkpoints: every window fires and stays, and every row
 * becomes OLD. */
static int fire_resumable(sp_op *op, wjstate *st, const wjcfg *cfg)
{
    qsort(st->wins.h, st->wins.n, sizeof *st->wins.h, by_end); /* sorted is a heap too */
    int rc = 0;
    for (uint32_t i = 0; i < st->wins.n && !rc; i++)
        rc = fire(op, st, cfg, (wwin){st->wins.h[i].id, st->wins.h[i].t});
    for (uint32_t k = 0; k < sp_keytable_count(&st->keys.t); k++)
        for (int s = 0; s < 2; s++) {
            const sp_jlist *l = &key_at(st, k)->side[s];
            for (uint32_t i = 0; i < sp_jlist_count(l); i++)
                sp_jlist_at(l, i)->flags |= SP_JROW_OLD;
        }
    return rc;
}

/* ----------------------------------------------------------------- arrival */

static int arrive(sp_op *op, wjstate *st, const wjcfg *cfg, int s, const sp_batch *b, uint32_t r)
{
    const sp_vec *tv = &b->cols[cfg->j.tcol[s]];
    if (sp_vec_is_null(tv, r) || pane_done(cfg, sp_assign_pane(&cfg->a, SP_I64(tv)[r])) <= st->wm) {
        st->nlate++;
        return 0;
    }
    int ins;
    wjkey *v = sp_keytable_find_or_insert(&st->keys.t, b->hashes[r], b, r, cfg->j.nkeys, &ins);
    if (!v) return nomem(op);
    if (!v->live) {
        v->live = 1;
        if (!ins) st->keys.dead--;
    }
    sp_jcount_keys(&st->count, &st->keys);
    uint32_t k = sp_keytable_index(&st->keys.t, v), pi;
    int added;
    sp_jrow *x = sp_jrow_new(b, r, cfg->j.nkeys, cfg->j.nv[s], SP_I64(tv)[r]);
    if (!x) return nomem(op);
    if (file_row(st, cfg, k, s, x, &pi, &added)) {
        free(x);
        return nomem(op);
    }
    return added && windows_of(st, cfg, pi, 1) ? nomem(op) : 0;
}

static int wj_push(sp_op *op, int port, sp_batch *b)
{
    wjstate *st = op->st;
    const wjcfg *cfg = op->node->cfg;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->j.nkeys);
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) rc = arrive(op, st, cfg, port, b, sp_batch_phys(b, i));
    sp_op_release(op, b);
    return sp_jcall_done(op, &st->out, &st->nlate, rc);
}

static int wj_watermark(sp_op *op, int64_t wm_us)
{
    wjstate *st = op->st;
    const wjcfg *cfg = op->node->cfg;
    if (wm_us == SPATE_WATERMARK_MAX && sp_ctx_checkpointing(op->node->ctx))
        return sp_jcall_done(op, &st->out, &st->nlate, fire_resumable(op, st, cfg));
    if (wm_us > st->wm) st->wm = wm_us;
    return sp_jcall_done(op, &st->out, &st->nlate, advance(op, st, cfg, st->wm));
}

static int wj_open(sp_op *op)
{
    const wjcfg *cfg = op->node->cfg;
    wjstate *st = calloc(1, sizeof *st);
    if (!st) return nomem(op);
    op->st = st;
    st->wm = SPATE_WATERMARK_MIN;
    return sp_jstate_open(&cfg->j, &st->keys, sizeof(wjkey), st->scratch) ? nomem(op) : 0;
}

static void wj_close(sp_op *op)
{
    wjstate *st = op->st;
    if (!st) return;
    sp_jstate_close(&st->keys, st->scratch);
    for (uint32_t i = 0; i < st->npanes; i++) free(st->panes[i].keys);
    free(st->panes);
    free(st->wins.h);
    free(st->fk);
    if (st->out) sp_op_release(op, st->out);
    free(st);
    op->st = NULL;
}

/* ------------------------------------------------------------- checkpoints */

static int key_out(sp_wbuf *w, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    wjstate *st = op->st;
    const wjcfg *cfg = op->node->cfg;
    return sp_jsides_write(w, key_at(st, k)->side, cfg->j.nv, st->scratch);
}

static int wj_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    wjstate *st = op->st;
    int rc = sp_jkeys_snapshot(&st->keys, s, sp_ctx_key_groups(op->node->ctx), WJ_VERSION, st->wm,
                               key_live, key_out, op);
    return rc ? sp_jfail(op, rc) : 0;
}

/* Row x of side s of key k, restored: filed under its pane. */
static int keep(void *arg, uint32_t k, int s, sp_jrow *x)
{
    const sp_op *op = arg;
    uint32_t pi;
    int added;
    return file_row(op->st, op->node->cfg, k, s, x, &pi, &added) ? SPATE_ENOMEM : 0;
}

/* The rows of key k, as key_out wrote them. */
static int key_in(sp_rbuf *r, uint32_t k, void *arg)
{
    const sp_op *op = arg;
    wjstate *st = op->st;
    const wjcfg *cfg = op->node->cfg;
    key_at(st, k)->live = 1;
    return sp_jsides_read(r, k, cfg->j.nv, st->scratch, SP_JROW_OLD, keep, arg);
}

/* After every key: the windows of the restored panes, from their first panes. Panes
 * already done under the restored watermark (which is the largest of the instances
 * merged into this one) are dropped. */
static int restore_done(sp_op *op, wjstate *st, const wjcfg *cfg)
{
    panes_done(st, cfg, st->wm);
    for (uint32_t i = 0; i < st->npanes; i++)
        if (windows_of(st, cfg, i, 0)) return nomem(op);
    return 0;
}

static int wj_restore(sp_op *op, sp_state_in *s)
{
    wjstate *st = op->st;
    int rc = sp_jkeys_restore(&st->keys, s, WJ_VERSION, &st->wm, key_in, op);
    return rc ? sp_jfail(op, rc) : restore_done(op, st, op->node->cfg);
}

static const sp_op_class window_join_class = {
    .name = "window_join", .open = wj_open, .push = wj_push, .watermark = wj_watermark,
    .snapshot = wj_snapshot, .restore = wj_restore, .close = wj_close, .cfg_free = sp_jcfg_free,
};

/* ---------------------------------------------------------------- building */

/* Window kinds and options the join supports: on-time firing only. */
static int check_spec(const spate_window_spec *w, const char *what)
{
    if (!w) return sp_err(SPATE_EINVAL, "%s needs a window spec", what);
    if (w->kind != SPATE_WINDOW_TUMBLING && w->kind != SPATE_WINDOW_SLIDING &&
        w->kind != SPATE_WINDOW_CUMULATE)
        return sp_err(SPATE_EUNSUPPORTED, "%s: windows must be tumbling, sliding or cumulate",
                      what);
    const spate_trigger *t = &w->trigger;
    if (t->early_count || t->early_period_ms || t->no_on_time || t->late_count || t->purge ||
        w->accumulation || w->output || w->allowed_lateness_ms || w->late || w->processing_time)
        return sp_err(SPATE_EUNSUPPORTED, "%s: only the default firing is supported (once, on "
                                          "time): no trigger, accumulation, output mode, allowed "
                                          "lateness, late side output or processing time", what);
    if (w->time_column)
        return sp_err(SPATE_EINVAL, "%s: name the time columns with left_time and right_time, "
                                    "not the spec's time_column", what);
    return 0;
}

int spate_window_join(spate_stream *left, spate_stream *right, spate_join_kind kind,
                      const struct spate_window_spec *w, const char *left_time,
                      const char *right_time, spate_stream **out)
{
    const char *what = "window_join";
    int rc = sp_jcheck_inputs(left, right, out, what);
    if (!rc && (kind < SPATE_JOIN_INNER || kind > SPATE_JOIN_FULL))
        rc = sp_err(SPATE_EINVAL, "%s: unknown join kind %d", what, (int)kind);
    if (!rc) rc = check_spec(w, what);
    sp_assigner a;
    if (!rc) rc = sp_assigner_init(&a, w, what);
    int tl = rc ? rc : sp_jtime_column(left, left_time, what, "left");
    if (tl < 0) return tl;
    int tr = sp_jtime_column(right, right_time, what, "right");
    if (tr < 0) return tr;
    static const char *const wcols[] = {"window_start", "window_end"};
    spate_schema *schema = sp_jschema_out(left, right, wcols, 2, &rc);
    if (!schema) return rc;
    wjcfg *cfg = sp_jcfg_new(sizeof *cfg, left, right, kind, tl, tr);
    if (!cfg) {
        spate_schema_free(schema);
        return SPATE_ENOMEM;
    }
    cfg->a = a;
    return sp_jnode_add(left, right, &window_join_class, cfg, schema, out);
}
