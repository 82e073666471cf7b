/*
 * window.c - event-time windows: spate_window_aggregate, spate_window_reduce and
 * spate_window_late_stream (docs/windows.md has the user-facing semantics).
 *
 * Placement. A keyed input arrives through a HASH exchange (FORWARD when already
 * partitioned), so an instance owns whole keys; a non-keyed input is one key and
 * GATHERs into a single instance on worker 0.
 *
 * State of an instance. Keys live in one sp_keytable (entry index = key id).
 * A window (struct win) holds a bucket: the keys it has seen, in first-seen
 * order, each with a slot - the accumulator in a slot store shared by all
 * windows (an array of aggregate cells, or chunked rows of the value schema for
 * a user reduce). Windows are pooled with their arrays, slots are recycled
 * through a free list: once warm, records allocate nothing. Tumbling and sliding
 * windows are found by start (an int64 hash map), cumulate windows, which share
 * their start, by end; sessions hang off their key's entry as a short list; a
 * count window is its key's current one; the global window is a single one.
 *
 * Sliding windows use panes of gcd(size, slide), cumulate windows panes of one
 * step (time/assigners.h): a record folds into ONE pane, kept until the last
 * window holding it is dropped; a window is the merge of its panes, computed
 * when it fires into the window's own bucket, which thereby holds what it last
 * emitted and tells which keys changed (UPDATE). Per-record work is then
 * independent of size/slide, except when element counts per window are needed
 * (an early count or period trigger, or late firings once the watermark is inside
 * a window): each covering window counts the element - a cost of size/slide per
 * record accepted for those triggers only.
 *
 * Firing. Triggers fire per window, across its keys (time/triggers.h). Windows
 * sit in a min-heap by deadline: their end until the on-time firing, then end +
 * allowed lateness, when they are dropped (state stays bounded). Each watermark
 * pops what is due. A firing emits, by mode: DISCARDING the keys that got
 * elements since the last firing, with those elements only (the slots are then
 * reset); ACCUMULATING every key's total; RETRACTING "-U" rows with what was
 * emitted before, in that order, then the totals; UPDATE the keys that changed,
 * with totals; COMPLETE, once per round of firings, every key of every kept
 * window; APPEND every key once, at the on-time firing. A firing with nothing
 * new since the previous one is skipped. The end of input sends watermark MAX
 * before finish(): every window is due, and windows that never fire on time
 * (no_on_time, global, partial count windows) fire once more if they hold
 * elements not yet emitted. With checkpoints, the end of input fires the same
 * but keeps the windows open (fire_resumable), and the snapshot/restore hooks
 * write and rebuild the state per key group (see "checkpoints" below).
 *
 * The built-in aggregates are aggs.c's, shared with spate_aggregate_by_key; here
 * they fold row by row (a row picks a (window, key) cell), merge panes in pane
 * order and merged sessions in time order (FIRST/LAST care), and cells that own
 * memory (strings, sets, sketches) are released when their slot is given back.
 * Reduce accumulators keep their bytes in arenas that are reset when the
 * instance holds no window; keys likewise (sp_keytable cannot delete one entry)
 * - a long job with many short-lived keys and never an empty moment grows, a
 * known cost shared with keyed.c.
 *
 * State TTL (state.ttl.ms). Windows that never close by the watermark - global
 * and count windows, and sessions waiting for a watermark that may not come -
 * would keep an idle key's state forever. With a TTL, every key records the
 * processing time of its last record; a key idle for longer than the TTL loses
 * its state in those windows without any output (its sessions and its current
 * count window are dropped, its position in the global window is removed). This
 * happens when the key's next record arrives (before it is assigned, so it starts
 * over) and in a sweep over all keys from tick() at most every SWEEP_MS.
 * Tumbling and sliding windows ignore the TTL: they are dropped at end + allowed
 * lateness.
 */
#include "checkpoint/serde.h"
#include "core/clock.h"
#include "core/row.h"
#include "ops/aggs.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "state/keytable.h"
#include "time/assigners.h"
#include "time/triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK_ROWS = 256, NONE = 0xffffffffu, SWEEP_MS = 1000 };
enum { POS_HAS = 1, POS_EMITTED = 2, POS_TMP = 4 };
typedef enum { M_DISCARD, M_ACC, M_RETRACT, M_APPEND, M_UPDATE, M_COMPLETE } wmode;

/* ------------------------------------------------------------ configuration */

typedef struct wcfg {
    sp_assigner a;
    spate_trigger trig;
    wmode mode;
    int64_t lateness;         /* µs */
    int late_side;
    int processing;
    int panes;                /* sliding with panes smaller than the window */
    int tcol;                 /* event-time column of the input, -1 = none */
    int nkeys, naggs, nvals;  /* nvals: reduce value columns (after the keys) */
    sp_ag_spec *aggs;
    int owns;                 /* some aggregate's cells own memory: release given-back slots */
    spate_reduce_fn fn;
    void *ud;
    spate_schema *vals;       /* reduce: the value columns */
    spate_schema *in_schema;  /* the input's, for late records */
    spate_stream *side;       /* spate_window_late_stream */
} wcfg;

/* ------------------------------------------------------------------- state */

typedef struct wpos {
    uint32_t key, slot, prev, tmp; /* prev: last emitted (RETRACTING); tmp: pane merge */
    uint32_t mark, flags;          /* mark: bucket round of the last touch */
} wpos;

typedef struct bucket {
    wpos *pos;                /* first-seen order */
    uint32_t n, cap;
    uint32_t *idx, mask;      /* key id -> position + 1, open addressing */
    uint32_t *dirty, ndirty, cap_dirty;
    uint32_t round;
} bucket;

typedef struct win {
    int64_t start, end, deadline;
    int64_t elements;         /* count windows: elements so far */
    uint32_t key;             /* sessions, count windows: the key id */
    uint32_t next;            /* next session of the key, or free window; + 1, 0 = none */
    uint32_t heap;            /* heap position; NONE for panes and windows leaving */
    int live, pane, fired;
    sp_trig_state trig;
    bucket b;
} win;

typedef struct i64map {
    int64_t *k;
    uint32_t *v;              /* value + 1; 0 = empty */
    uint32_t mask, n;
} i64map;

/* Value area of a key in wstate.keys. */
typedef struct wkey {
    uint32_t head;            /* sessions: first session + 1; count: current window + 1 */
    uint32_t pad;
    int64_t touched_ms;       /* processing time of the key's last record */
} wkey;

typedef struct wstate {
    sp_keytable keys;         /* value: wkey */
    win *wins;
    uint32_t nwins, capwins, free_win, live;
    i64map wmap, pmap;        /* tumbling/sliding windows and panes by start */
    uint32_t *heap, nheap, capheap;
    uint32_t *drop, ndrop, capdrop;
    uint32_t global;          /* the global window + 1 */
    sp_ag_cell *cells;        /* aggregates: naggs per slot */
    sp_batch **chunks;        /* reduce: slot s is row s % CHUNK_ROWS of chunk s / CHUNK_ROWS */
    uint32_t nslots, capslots, *freeslots, nfree, capfree;
    sp_batch *scratch, *out, *late;
    spate_out o;
    int64_t wm, now_ms, now_us, next_period;
    uint64_t nlate;
    int complete_due;
    int count_fired;          /* sliding: restored windows fired before their end */
    int64_t ttl_ms;           /* state.ttl.ms for global, count and session windows; 0 = off */
    int64_t swept_ms;         /* last TTL sweep */
    const wcfg *cfg;          /* the node's: slot_free releases cells with it */
} wstate;

static int nomem(sp_op *op)
{
    return sp_op_fail(op, SPATE_ENOMEM, "window: out of memory");
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

static uint32_t mix64(uint64_t k)
{
    return (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> 32);
}

/* ------------------------------------------------------------- int64 map */

static uint32_t map_get(const i64map *m, int64_t k)
{
    if (!m->n) return NONE;
    for (uint32_t i = mix64((uint64_t)k) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->v[i]) return NONE;
        if (m->k[i] == k) return m->v[i] - 1;
    }
}

static int map_put(i64map *m, int64_t k, uint32_t v);

static int map_grow(i64map *m)
{
    i64map old = *m;
    uint32_t cap = old.k ? (old.mask + 1) * 2 : 16;
    m->k = malloc(cap * sizeof *m->k);
    m->v = calloc(cap, sizeof *m->v);
    if (!m->k || !m->v) {
        free(m->k);
        free(m->v);
        *m = old;
        return -1;
    }
    m->mask = cap - 1;
    m->n = 0;
    for (uint32_t i = 0; old.k && i <= old.mask; i++)
        if (old.v[i]) map_put(m, old.k[i], old.v[i] - 1);
    free(old.k);
    free(old.v);
    return 0;
}

static int map_put(i64map *m, int64_t k, uint32_t v)
{
    if ((!m->k || (m->n + 1) * 2 > m->mask + 1) && map_grow(m)) return -1;
    uint32_t i = mix64((uint64_t)k) & m->mask;
    while (m->v[i] && m->k[i] != k) i = (i + 1) & m->mask;
    if (!m->v[i]) m->n++;
    m->k[i] = k;
    m->v[i] = v + 1;
    return 0;
}

/* Linear-probing delete by backward shift: no tombstones to pile up. */
static void map_del(i64map *m, int64_t k)
{
    if (!m->n) return;
    uint32_t i = mix64((uint64_t)k) & m->mask;
    while (m->v[i] && m->k[i] != k) i = (i + 1) & m->mask;
    if (!m->v[i]) return;
    m->v[i] = 0;
    m->n--;
    for (uint32_t j = (i + 1) & m->mask; m->v[j]; j = (j + 1) & m->mask) {
        uint32_t h = mix64((uint64_t)m->k[j]) & m->mask;
        if (((j - h) & m->mask) < ((j - i) & m->mask)) continue; /* still reachable */
        m->k[i] = m->k[j];
        m->v[i] = m->v[j];
        m->v[j] = 0;
        i = j;
    }
}

/* Tumbling and sliding windows are found in wmap by start; cumulate windows,
 * which share their start, by end. */
static int64_t wmap_key(const wcfg *cfg, int64_t start, int64_t end)
{
    return cfg->a.kind == SPATE_WINDOW_CUMULATE ? end : start;
}

/* --------------------------------------------------------------- the heap */

static int64_t dl(const wstate *st, uint32_t h)
{
    return st->wins[st->heap[h]].deadline;
}

static void heap_set(wstate *st, uint32_t h, uint32_t w)
{
    st->heap[h] = w;
    st->wins[w].heap = h;
}

static void heap_swap(wstate *st, uint32_t a, uint32_t b)
{
    uint32_t wa = st->heap[a];
    heap_set(st, a, st->heap[b]);
    heap_set(st, b, wa);
}

static void heap_fix(wstate *st, uint32_t h)
{
    while (h > 0 && dl(st, h) < dl(st, (h - 1) / 2)) {
        heap_swap(st, h, (h - 1) / 2);
        h = (h - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * h + 1, m = h;
        if (l < st->nheap && dl(st, l) < dl(st, m)) m = l;
        if (l + 1 < st->nheap && dl(st, l + 1) < dl(st, m)) m = l + 1;
        if (m == h) return;
        heap_swap(st, h, m);
        h = m;
    }
}

static int heap_push(wstate *st, uint32_t w)
{
    if (grow((void **)&st->heap, &st->capheap, st->nheap + 1, sizeof *st->heap)) return -1;
    heap_set(st, st->nheap++, w);
    heap_fix(st, st->nheap - 1);
    return 0;
}

static void heap_remove(wstate *st, uint32_t w)
{
    uint32_t h = st->wins[w].heap;
    st->wins[w].heap = NONE;
    if (--st->nheap == h) return;
    heap_set(st, h, st->heap[st->nheap]);
    heap_fix(st, h);
}

/* ------------------------------------------------------------- slot store */

/* A fresh slot, undefined until reset, copied or read, but owning nothing (new
 * aggregate cells are zeroed, given-back ones were released). The free list is
 * kept as large as the store, so giving a slot back never fails. */
static int slot_alloc(wstate *st, const wcfg *cfg, uint32_t *slot)
{
    if (st->nfree) {
        *slot = st->freeslots[--st->nfree];
        return 0;
    }
    uint32_t s = st->nslots;
    if (grow((void **)&st->freeslots, &st->capfree, s + 1, sizeof *st->freeslots)) return -1;
    if (cfg->fn && s % CHUNK_ROWS == 0) {
        uint32_t nch = s / CHUNK_ROWS, cap = st->capslots / CHUNK_ROWS;
        if (grow((void **)&st->chunks, &cap, nch + 1, sizeof *st->chunks)) return -1;
        st->capslots = cap * CHUNK_ROWS;
        sp_batch *b = sp_batch_new(CHUNK_ROWS);
        if (!b || sp_batch_reset(b, cfg->vals)) {
            sp_batch_free(b);
            return -1;
        }
        b->n = CHUNK_ROWS;
        st->chunks[nch] = b;
    } else if (!cfg->fn) {
        uint32_t cap = st->capslots;
        if (grow((void **)&st->cells, &cap, s + 1, (size_t)cfg->naggs * sizeof *st->cells))
            return -1;
        st->capslots = cap;
        memset(st->cells + (size_t)s * cfg->naggs, 0, (size_t)cfg->naggs * sizeof *st->cells);
    }
    st->nslots++;
    *slot = s;
    return 0;
}

/* Gives slot back; aggregate cells that own memory are released (every use of a
 * slot starts by resetting, copying or reading it). */
static void slot_free(wstate *st, uint32_t slot)
{
    if (slot == NONE) return;
    const wcfg *cfg = st->cfg;
    for (int a = 0; cfg->owns && a < cfg->naggs; a++)
        sp_ag_release(&cfg->aggs[a], &st->cells[(size_t)slot * cfg->naggs + a]);
    st->freeslots[st->nfree++] = slot;
}

static sp_ag_cell *cells_of(const wstate *st, const wcfg *cfg, uint32_t slot)
{
    return st->cells + (size_t)slot * cfg->naggs;
}

static sp_batch *chunk_of(const wstate *st, uint32_t slot)
{
    return st->chunks[slot / CHUNK_ROWS];
}

/* Empties an aggregate slot; a reduce slot is empty until its first value (the
 * position's POS_HAS / POS_TMP flag says which). */
static void slot_reset(wstate *st, const wcfg *cfg, uint32_t slot)
{
    for (int a = 0; !cfg->fn && a < cfg->naggs; a++)
        sp_ag_release(&cfg->aggs[a], &cells_of(st, cfg, slot)[a]);
}

/* ------------------------------------------------------------ user reduce */

static int scratch_full(spate_out *o, void *arg)
{
    return sp_err(SPATE_EINVAL, "a window reduce callback builds exactly one row: "
                                "do not call spate_out_emit there");
}

/* Runs fn(acc, val) and stores the row it built into slot. */
static int reduce_call(sp_op *op, wstate *st, const wcfg *cfg, uint32_t slot,
                       const spate_row *val)
{
    sp_batch *ch = chunk_of(st, slot);
    spate_row acc;
    sp_row_set(&acc, ch, slot % CHUNK_ROWS, 0, cfg->nvals);
    st->scratch->n = 0;
    sp_arena_reset(&st->scratch->arena);
    sp_out_init(&st->o, st->scratch, 0, cfg->nvals, scratch_full, NULL);
    sp_out_begin(&st->o);
    int urc = cfg->fn(&acc, val, &st->o, cfg->ud);
    if (urc < 0) return sp_op_fail(op, SPATE_EUSER, "window reduce callback returned %d", urc);
    if (st->o.err)
        return sp_op_fail(op, st->o.err, "window reduce callback: %s", spate_last_error());
    for (int c = 0; c < cfg->nvals; c++)
        if (sp_batch_copy_cell(ch, c, slot % CHUNK_ROWS, st->scratch, c, 0)) return nomem(op);
    return 0;
}

/* Copies columns [from, from + nvals) of row r of src into slot. */
static int reduce_copy(sp_op *op, wstate *st, const wcfg *cfg, uint32_t slot,
                       const sp_batch *src, int from, uint32_t r)
{
    sp_batch *ch = chunk_of(st, slot);
    for (int c = 0; c < cfg->nvals; c++)
        if (sp_batch_copy_cell(ch, c, slot % CHUNK_ROWS, src, from + c, r)) return nomem(op);
    return 0;
}

static int vec_cell_equal(const sp_vec *a, uint32_t ra, const sp_vec *b, uint32_t rb)
{
    int na = sp_vec_is_null(a, ra), nb = sp_vec_is_null(b, rb);
    if (na || nb) return na == nb;
    if (sp_type_is_str(a->type)) {
        spate_str x = SP_STR(a)[ra], y = SP_STR(b)[rb];
        return x.len == y.len && !memcmp(x.ptr, y.ptr, x.len);
    }
    if (a->type == SPATE_FLOAT64) return SP_F64(a)[ra] == SP_F64(b)[rb];
    return sp_vec_get_int(a, ra) == sp_vec_get_int(b, rb);
}

/* ------------------------------------------------------- slots, generically */

/* Folds physical row r of b into slot; has = the slot already holds a value. */
static int slot_fold(sp_op *op, wstate *st, const wcfg *cfg, uint32_t slot, int has,
                     const sp_batch *b, uint32_t r)
{
    if (cfg->fn) {
        if (!has) return reduce_copy(op, st, cfg, slot, b, cfg->nkeys, r);
        spate_row val;
        sp_row_set(&val, b, r, cfg->nkeys, cfg->nvals);
        return reduce_call(op, st, cfg, slot, &val);
    }
    sp_ag_cell *c = cells_of(st, cfg, slot);
    for (int a = 0; a < cfg->naggs; a++)
        if (sp_ag_fold_row(&cfg->aggs[a], &c[a], b, r)) return nomem(op);
    return 0;
}

/* Merges slot src into dst (has: dst already holds a value). src_first: src's
 * rows came before dst's (FIRST/LAST follow it; a reduce folds src after dst). */
static int slot_merge(sp_op *op, wstate *st, const wcfg *cfg, uint32_t dst, int has,
                      uint32_t src, int src_first)
{
    if (cfg->fn) {
        sp_batch *ch = chunk_of(st, src);
        if (!has) return reduce_copy(op, st, cfg, dst, ch, 0, src % CHUNK_ROWS);
        spate_row val;
        sp_row_set(&val, ch, src % CHUNK_ROWS, 0, cfg->nvals);
        return reduce_call(op, st, cfg, dst, &val);
    }
    sp_ag_cell *d = cells_of(st, cfg, dst), *s = cells_of(st, cfg, src);
    for (int a = 0; a < cfg->naggs; a++)
        if (sp_ag_merge(&cfg->aggs[a], &d[a], &s[a], src_first)) return nomem(op);
    return 0;
}

/* Makes dst a copy of src. */
static int slot_copy(sp_op *op, wstate *st, const wcfg *cfg, uint32_t dst, uint32_t src)
{
    if (cfg->fn) return reduce_copy(op, st, cfg, dst, chunk_of(st, src), 0, src % CHUNK_ROWS);
    sp_ag_cell *d = cells_of(st, cfg, dst), *s = cells_of(st, cfg, src);
    for (int a = 0; a < cfg->naggs; a++)
        if (sp_ag_copy(&cfg->aggs[a], &d[a], &s[a])) return nomem(op);
    return 0;
}

static int slot_equal(const wstate *st, const wcfg *cfg, uint32_t x, uint32_t y)
{
    if (cfg->fn) {
        const sp_batch *a = chunk_of(st, x), *b = chunk_of(st, y);
        for (int c = 0; c < cfg->nvals; c++)
            if (!vec_cell_equal(&a->cols[c], x % CHUNK_ROWS, &b->cols[c], y % CHUNK_ROWS))
                return 0;
        return 1;
    }
    for (int a = 0; a < cfg->naggs; a++)
        if (!sp_ag_equal(&cfg->aggs[a], &cells_of(st, cfg, x)[a], &cells_of(st, cfg, y)[a]))
            return 0;
    return 1;
}

/* Writes slot into columns from col on of row r of out. */
static int slot_write(const wstate *st, const wcfg *cfg, uint32_t slot, sp_batch *out, int col,
                      uint32_t r)
{
    if (cfg->fn) {
        for (int c = 0; c < cfg->nvals; c++)
            if (sp_batch_copy_cell(out, col + c, r, chunk_of(st, slot), c, slot % CHUNK_ROWS))
                return SPATE_ENOMEM;
        return 0;
    }
    for (int a = 0; a < cfg->naggs; a++)
        if (sp_ag_write(&cfg->aggs[a], &cells_of(st, cfg, slot)[a], out, col + a, r))
            return SPATE_ENOMEM;
    return 0;
}

/* ----------------------------------------------------------------- buckets */

/* Refills the (zeroed) index from the positions. */
static void bucket_index(bucket *bk)
{
    for (uint32_t p = 0; p < bk->n; p++) {
        uint32_t i = mix64(bk->pos[p].key) & bk->mask;
        while (bk->idx[i]) i = (i + 1) & bk->mask;
        bk->idx[i] = p + 1;
    }
}

static int bucket_grow_index(bucket *bk)
{
    uint32_t cap = bk->idx ? (bk->mask + 1) * 2 : 8;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return -1;
    free(bk->idx);
    bk->idx = idx;
    bk->mask = cap - 1;
    bucket_index(bk);
    return 0;
}

/* Position of key in bk, appended (flags 0, no slots) when new; NONE when out of
 * memory. */
static uint32_t bucket_get(bucket *bk, uint32_t key)
{
    if (bk->idx) {
        for (uint32_t i = mix64(key) & bk->mask; bk->idx[i]; i = (i + 1) & bk->mask)
            if (bk->pos[bk->idx[i] - 1].key == key) return bk->idx[i] - 1;
    }
    if (grow((void **)&bk->pos, &bk->cap, bk->n + 1, sizeof *bk->pos)) return NONE;
    if ((!bk->idx || (bk->n + 1) * 2 > bk->mask + 1) && bucket_grow_index(bk)) return NONE;
    uint32_t p = bk->n++;
    bk->pos[p] = (wpos){key, NONE, NONE, NONE, 0, 0};
    uint32_t i = mix64(key) & bk->mask;
    while (bk->idx[i]) i = (i + 1) & bk->mask;
    bk->idx[i] = p + 1;
    return p;
}

/* Notes that position p changed since the last firing. */
static int bucket_touch(bucket *bk, uint32_t p)
{
    if (bk->pos[p].mark == bk->round) return 0;
    if (grow((void **)&bk->dirty, &bk->cap_dirty, bk->ndirty + 1, sizeof *bk->dirty)) return -1;
    bk->pos[p].mark = bk->round;
    bk->dirty[bk->ndirty++] = p;
    return 0;
}

/* Gives every slot back and forgets every key; keeps the arrays. */
static void bucket_clear(wstate *st, bucket *bk)
{
    for (uint32_t p = 0; p < bk->n; p++) {
        slot_free(st, bk->pos[p].slot);
        slot_free(st, bk->pos[p].prev);
    }
    bk->n = bk->ndirty = 0;
    bk->round++;
    if (bk->idx) memset(bk->idx, 0, (bk->mask + 1) * sizeof *bk->idx);
}

static void bucket_free(bucket *bk)
{
    free(bk->pos);
    free(bk->idx);
    free(bk->dirty);
}

/* Folds row r of b under key into bk. */
static int bucket_fold(sp_op *op, wstate *st, const wcfg *cfg, bucket *bk, uint32_t key,
                       const sp_batch *b, uint32_t r)
{
    uint32_t p = bucket_get(bk, key);
    if (p == NONE) return nomem(op);
    wpos *ps = &bk->pos[p];
    if (ps->slot == NONE) {
        if (slot_alloc(st, cfg, &ps->slot)) return nomem(op);
        slot_reset(st, cfg, ps->slot);
    }
    int rc = slot_fold(op, st, cfg, ps->slot, ps->flags & POS_HAS, b, r);
    ps->flags |= POS_HAS;
    if (!rc && bucket_touch(bk, p)) rc = nomem(op);
    return rc;
}

/* ---------------------------------------------------------------- windows */

/* A new live window (or pane) over [start, end). NONE when out of
 * memory. Pointers into st->wins are invalid afterwards. */
static uint32_t win_new(wstate *st, int64_t start, int64_t end, uint32_t key)
{
    uint32_t w = st->free_win;
    if (w) {
        w--;
        st->free_win = st->wins[w].next;
    } else {
        if (grow((void **)&st->wins, &st->capwins, st->nwins + 1, sizeof *st->wins)) return NONE;
        w = st->nwins++;
        memset(&st->wins[w], 0, sizeof st->wins[w]);
        st->wins[w].b.round = 1;
    }
    win *x = &st->wins[w];
    x->start = start;
    x->end = x->deadline = end;
    x->elements = 0;
    x->key = key;
    x->next = 0;
    x->heap = NONE;
    x->live = 1;
    x->pane = 0;
    x->fired = 0;
    sp_trig_init(&x->trig);
    st->live++;
    return w;
}

/* A new window that waits in the heap for its end. */
static uint32_t win_new_timed(wstate *st, int64_t start, int64_t end, uint32_t key)
{
    uint32_t w = win_new(st, start, end, key);
    if (w != NONE && heap_push(st, w)) return NONE;
    return w;
}

/* Everything is gone: the keys and the reduce value arenas can start over. */
static void state_reset_if_empty(wstate *st, const wcfg *cfg)
{
    if (st->live) return;
    sp_keytable_clear(&st->keys);
    for (uint32_t c = 0; cfg->fn && c * CHUNK_ROWS < st->nslots; c++)
        sp_arena_reset(&st->chunks[c]->arena);
}

/* Returns window (or pane) w to the pool with its slots. */
static void win_release(wstate *st, uint32_t w)
{
    win *x = &st->wins[w];
    bucket_clear(st, &x->b);
    x->live = 0;
    x->next = st->free_win;
    st->free_win = w + 1;
    st->live--;
}

static uint32_t *key_head(wstate *st, uint32_t key)
{
    return &((wkey *)sp_keytable_value(&st->keys, key))->head;
}

/* Unlinks session w from its key's list. */
static void session_unlink(wstate *st, uint32_t w)
{
    uint32_t *link = key_head(st, st->wins[w].key);
    while (*link != w + 1) link = &st->wins[*link - 1].next;
    *link = st->wins[w].next;
}

/* Drops the panes whose last window is x: sliding, those in [start, start +
 * slide); cumulate, every pane of the period with the period's last window. */
static void drop_panes(wstate *st, const wcfg *cfg, const win *x)
{
    int64_t n = sp_assign_panes(&cfg->a, x->start, x->end), s, e;
    for (int64_t k = 0; k < n; k++) {
        int64_t ps = sp_sat_add(x->start, k * cfg->a.pane);
        if (sp_assign_holding(&cfg->a, ps, 0, &s, &e) || e != x->end) continue;
        uint32_t p = map_get(&st->pmap, ps);
        if (p == NONE) continue;
        map_del(&st->pmap, ps);
        win_release(st, p);
    }
}

/* Forgets window w: out of the heap, its maps and lists, its panes. */
static void win_drop(wstate *st, const wcfg *cfg, uint32_t w)
{
    win *x = &st->wins[w];
    if (x->heap != NONE) heap_remove(st, w);
    switch (cfg->a.kind) {
    case SPATE_WINDOW_TUMBLING:
    case SPATE_WINDOW_SLIDING:
    case SPATE_WINDOW_CUMULATE:
        map_del(&st->wmap, wmap_key(cfg, x->start, x->end));
        if (cfg->panes) drop_panes(st, cfg, x);
        break;
    case SPATE_WINDOW_SESSION: session_unlink(st, w); break;
    case SPATE_WINDOW_COUNT:
        if (*key_head(st, x->key) == w + 1) *key_head(st, x->key) = 0;
        break;
    case SPATE_WINDOW_GLOBAL: st->global = 0; break;
    }
    win_release(st, w);
    state_reset_if_empty(st, cfg);
}

/* --------------------------------------------------------------- emission */

/* One output row: key, window bounds, the value in slot, the changelog kind. */
static int emit_row(sp_op *op, wstate *st, const wcfg *cfg, const win *x, uint32_t key,
                    uint32_t slot, const char *kind)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t r = out->n;
    int k = cfg->nkeys, nv = cfg->fn ? cfg->nvals : cfg->naggs;
    if (k > 0 && sp_keytable_write_key(&st->keys, key, out, r)) return nomem(op);
    for (int c = k; c < out->ncols; c++)
        if (out->cols[c].has_nulls) sp_vec_clear_null(&out->cols[c], r);
    SP_I64(&out->cols[k])[r] = x->start;
    SP_I64(&out->cols[k + 1])[r] = x->end;
    if (slot_write(st, cfg, slot, out, k + 2, r)) return nomem(op);
    char *p = sp_arena_dup(&out->arena, kind, 2);
    if (!p) return nomem(op);
    SP_STR(&out->cols[k + 2 + nv])[r] = (spate_str){p, 2};
    out->n++;
    return 0;
}

/* Emits position p's current value as "+I" or "+U" and marks it emitted. */
static int emit_current(sp_op *op, wstate *st, const wcfg *cfg, win *x, wpos *p)
{
    const char *kind = p->flags & POS_EMITTED ? "+U" : "+I";
    p->flags |= POS_EMITTED;
    return emit_row(op, st, cfg, x, p->key, p->slot, kind);
}

/* RETRACTING: "-U" of every previous emission, then every total, remembered. */
static int fire_retracting(sp_op *op, wstate *st, const wcfg *cfg, win *x)
{
    bucket *bk = &x->b;
    int rc = 0;
    for (uint32_t i = 0; i < bk->n && !rc; i++)
        if (bk->pos[i].flags & POS_EMITTED)
            rc = emit_row(op, st, cfg, x, bk->pos[i].key, bk->pos[i].prev, "-U");
    for (uint32_t i = 0; i < bk->n && !rc; i++) {
        wpos *p = &bk->pos[i];
        if (!(p->flags & POS_HAS)) continue;
        if (p->prev == NONE && slot_alloc(st, cfg, &p->prev)) return nomem(op);
        rc = emit_current(op, st, cfg, x, p);
        if (!rc) rc = slot_copy(op, st, cfg, p->prev, p->slot);
    }
    return rc;
}

/* DISCARDING: the keys touched since the last firing, then their slots reset. */
static int fire_discarding(sp_op *op, wstate *st, const wcfg *cfg, win *x)
{
    bucket *bk = &x->b;
    int rc = 0;
    for (uint32_t i = 0; i < bk->ndirty && !rc; i++) {
        wpos *p = &bk->pos[bk->dirty[i]];
        rc = emit_current(op, st, cfg, x, p);
        slot_reset(st, cfg, p->slot);
        p->flags &= ~POS_HAS;
    }
    return rc;
}

/* Every key with a value (dirty_only: touched since the last firing). */
static int fire_all(sp_op *op, wstate *st, const wcfg *cfg, win *x, int dirty_only)
{
    bucket *bk = &x->b;
    uint32_t n = dirty_only ? bk->ndirty : bk->n;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        wpos *p = &bk->pos[dirty_only ? bk->dirty[i] : i];
        if (p->flags & POS_HAS) rc = emit_current(op, st, cfg, x, p);
    }
    return rc;
}

/* Keeps the fresh merge (tmp) of each key whose total changed, marking it dirty. */
static int sliding_settle(sp_op *op, wstate *st, const wcfg *cfg, bucket *bk)
{
    for (uint32_t i = 0; i < bk->n; i++) {
        wpos *q = &bk->pos[i];
        if (!(q->flags & POS_TMP)) continue;
        q->flags &= ~POS_TMP;
        if ((q->flags & POS_HAS) && slot_equal(st, cfg, q->slot, q->tmp)) {
            slot_free(st, q->tmp);
        } else {
            slot_free(st, q->slot);
            q->slot = q->tmp;
            q->flags |= POS_HAS;
            if (bucket_touch(bk, i)) return nomem(op);
        }
        q->tmp = NONE;
    }
    return 0;
}

/* Merges the panes of sliding (or cumulate) window w into its bucket, marking the
 * keys whose total changed (or appeared) dirty. */
static int sliding_refresh(sp_op *op, wstate *st, const wcfg *cfg, uint32_t w)
{
    int64_t npanes = sp_assign_panes(&cfg->a, st->wins[w].start, st->wins[w].end);
    for (int64_t k = 0; k < npanes; k++) {
        uint32_t pw = map_get(&st->pmap, sp_sat_add(st->wins[w].start, k * cfg->a.pane));
        if (pw == NONE) continue;
        const bucket *pb = &st->wins[pw].b;
        bucket *wb = &st->wins[w].b;
        for (uint32_t i = 0; i < pb->n; i++) {
            if (!(pb->pos[i].flags & POS_HAS)) continue;
            uint32_t p = bucket_get(wb, pb->pos[i].key);
            if (p == NONE) return nomem(op);
            wpos *q = &wb->pos[p];
            if (!(q->flags & POS_TMP)) {
                if (slot_alloc(st, cfg, &q->tmp)) return nomem(op);
                slot_reset(st, cfg, q->tmp);
            }
            int rc = slot_merge(op, st, cfg, q->tmp, q->flags & POS_TMP, pb->pos[i].slot, 0);
            if (rc) return rc;
            q->flags |= POS_TMP;
        }
    }
    return sliding_settle(op, st, cfg, &st->wins[w].b);
}

/* Every key of every kept window (COMPLETE), after a round of firings. */
static int emit_complete(sp_op *op, wstate *st, const wcfg *cfg)
{
    st->complete_due = 0;
    int rc = 0;
    for (uint32_t w = 0; w < st->nwins && !rc; w++) {
        if (!st->wins[w].live || st->wins[w].pane) continue;
        if (cfg->panes) rc = sliding_refresh(op, st, cfg, w);
        if (!rc) rc = fire_all(op, st, cfg, &st->wins[w], 0);
        st->wins[w].b.ndirty = 0;
        st->wins[w].b.round++;
    }
    return rc;
}

/* Fires window w once, as the mode says. */
static int fire(sp_op *op, wstate *st, const wcfg *cfg, uint32_t w)
{
    int rc = cfg->panes ? sliding_refresh(op, st, cfg, w) : 0;
    win *x = &st->wins[w];
    if (!rc) switch (cfg->mode) {
        case M_DISCARD: rc = fire_discarding(op, st, cfg, x); break;
        case M_RETRACT: rc = fire_retracting(op, st, cfg, x); break;
        case M_UPDATE: rc = fire_all(op, st, cfg, x, 1); break;
        case M_COMPLETE: st->complete_due = 1; break;
        case M_ACC:
        case M_APPEND: rc = fire_all(op, st, cfg, x, 0); break;
        }
    x->b.ndirty = 0;
    x->b.round++;
    x->fired++;
    sp_trig_fired(&x->trig);
    if (cfg->trig.purge) bucket_clear(st, &x->b);
    return rc;
}

/* Window w is done: dropped once the current round's output is out. */
static int drop_later(sp_op *op, wstate *st, uint32_t w)
{
    if (grow((void **)&st->drop, &st->capdrop, st->ndrop + 1, sizeof *st->drop)) return nomem(op);
    st->drop[st->ndrop++] = w;
    return 0;
}

/* Ends a round of firings: COMPLETE's output, then the deferred drops. */
static int round_done(sp_op *op, wstate *st, const wcfg *cfg)
{
    int rc = st->complete_due ? emit_complete(op, st, cfg) : 0;
    for (uint32_t i = 0; i < st->ndrop; i++) win_drop(st, cfg, st->drop[i]);
    st->ndrop = 0;
    return rc;
}

/* The heap's first window is due at watermark wm: fire it on time (or finally,
 * at the end of input), then move it to its cleanup time or drop it. */
static int due(sp_op *op, wstate *st, const wcfg *cfg, int64_t wm)
{
    uint32_t w = st->heap[0];
    win *x = &st->wins[w];
    int fresh = x->trig.pending > 0 || x->fired == 0;
    int rc = 0;
    if (!x->trig.on_time_done) {
        int now = sp_trig_on_time(&cfg->trig, &x->trig, fresh);
        if (now || (wm == SPATE_WATERMARK_MAX && fresh)) rc = fire(op, st, cfg, w);
        x = &st->wins[w];
        int64_t cleanup = sp_sat_add(x->end, cfg->lateness);
        if (cleanup > x->deadline && cleanup > wm) {
            x->deadline = cleanup;
            heap_fix(st, 0);
            return rc;
        }
    } else if (x->trig.pending > 0) {
        rc = fire(op, st, cfg, w); /* late elements short of late_count */
    }
    heap_remove(st, w);
    return rc ? rc : drop_later(op, st, w);
}

/* Fires and drops what the watermark wm makes due. */
static int advance(sp_op *op, wstate *st, const wcfg *cfg, int64_t wm)
{
    if (wm > st->wm) st->wm = wm;
    int rc = 0;
    while (!rc && st->nheap && st->wins[st->heap[0]].deadline <= wm) rc = due(op, st, cfg, wm);
    if (!rc) rc = round_done(op, st, cfg);
    return rc;
}

/* ------------------------------------------------------------- assignment */

/* Counts an element for window w's trigger and fires it when due. */
static int count_element(sp_op *op, wstate *st, const wcfg *cfg, uint32_t w)
{
    win *x = &st->wins[w];
    int now = sp_trig_element(&cfg->trig, &x->trig, st->now_ms);
    if (x->trig.early_due_ms < st->next_period) st->next_period = x->trig.early_due_ms;
    return now ? fire(op, st, cfg, w) : 0;
}

/* A record behind the watermark by more than the allowed lateness. */
static int late_row(sp_op *op, wstate *st, const wcfg *cfg, const sp_batch *b, uint32_t r)
{
    if (!cfg->late_side) {
        st->nlate++;
        return 0;
    }
    if (st->late && st->late->n == st->late->cap) {
        sp_batch *full = st->late;
        st->late = NULL;
        int rc = sp_op_emit_side(op, full);
        if (rc) return rc;
    }
    if (!st->late && !(st->late = sp_op_batch(op, cfg->in_schema))) return nomem(op);
    return sp_batch_append_row(st->late, b, r) ? nomem(op) : 0;
}

static int is_late(const wstate *st, const wcfg *cfg, int64_t end)
{
    return sp_sat_add(end, cfg->lateness) <= st->wm;
}

static int add_tumbling(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                        const sp_batch *b, uint32_t r)
{
    int64_t start, end;
    sp_assign_tumbling(&cfg->a, ts, &start, &end);
    if (is_late(st, cfg, end)) return late_row(op, st, cfg, b, r);
    uint32_t w = map_get(&st->wmap, wmap_key(cfg, start, end));
    if (w == NONE) {
        w = win_new_timed(st, start, end, NONE);
        if (w == NONE || map_put(&st->wmap, wmap_key(cfg, start, end), w)) return nomem(op);
    }
    int rc = bucket_fold(op, st, cfg, &st->wins[w].b, key, b, r);
    return rc ? rc : count_element(op, st, cfg, w);
}

/* The windows holding the pane at ps that are not expired yet and do not exist:
 * created. 0, or -1 when out of memory. */
static int sliding_cover(wstate *st, const wcfg *cfg, int64_t ps)
{
    int64_t s, end;
    for (int64_t j = 0; !sp_assign_holding(&cfg->a, ps, j, &s, &end); j++) {
        if (is_late(st, cfg, end)) break; /* earlier windows end earlier */
        if (map_get(&st->wmap, wmap_key(cfg, s, end)) != NONE) continue;
        uint32_t w = win_new_timed(st, s, end, NONE);
        if (w == NONE || map_put(&st->wmap, wmap_key(cfg, s, end), w)) return -1;
    }
    return 0;
}

/* A new pane at ps, and the windows holding it that are not expired yet. */
static uint32_t sliding_new_pane(wstate *st, const wcfg *cfg, int64_t ps)
{
    uint32_t p = win_new(st, ps, sp_assign_end(ps, cfg->a.pane), NONE);
    if (p == NONE || map_put(&st->pmap, ps, p)) return NONE;
    st->wins[p].pane = 1;
    return sliding_cover(st, cfg, ps) ? NONE : p;
}

static int add_sliding(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                       const sp_batch *b, uint32_t r)
{
    int64_t ps = sp_assign_pane(&cfg->a, ts), s, e;
    sp_assign_holding(&cfg->a, ps, 0, &s, &e); /* the last window holding the pane */
    if (is_late(st, cfg, e)) return late_row(op, st, cfg, b, r);
    uint32_t p = map_get(&st->pmap, ps);
    if (p == NONE && (p = sliding_new_pane(st, cfg, ps)) == NONE) return nomem(op);
    int rc = bucket_fold(op, st, cfg, &st->wins[p].b, key, b, r);
    /* Per-window counts only when a trigger needs them (see the top comment), or
     * after a restore that needs them (restore_done). */
    int counted = cfg->trig.early_count > 0 || cfg->trig.early_period_ms > 0 || st->count_fired ||
                  (cfg->lateness > 0 && st->wm >= sp_assign_end(ps, cfg->a.pane));
    for (int64_t j = 0; !rc && counted && !sp_assign_holding(&cfg->a, ps, j, &s, &e); j++) {
        uint32_t w = map_get(&st->wmap, wmap_key(cfg, s, e));
        if (w != NONE) rc = count_element(op, st, cfg, w);
    }
    return rc;
}

/* Moves the contents and trigger counts of session from into session into. */
static int session_absorb(sp_op *op, wstate *st, const wcfg *cfg, uint32_t into, uint32_t from)
{
    const bucket *fb = &st->wins[from].b;
    for (uint32_t i = 0; i < fb->n; i++) {
        const wpos *fp = &st->wins[from].b.pos[i];
        if (!(fp->flags & POS_HAS)) continue;
        bucket *ib = &st->wins[into].b;
        uint32_t p = bucket_get(ib, fp->key);
        if (p == NONE) return nomem(op);
        wpos *q = &ib->pos[p];
        if (q->slot == NONE) {
            if (slot_alloc(st, cfg, &q->slot)) return nomem(op);
            slot_reset(st, cfg, q->slot);
        }
        int rc = slot_merge(op, st, cfg, q->slot, q->flags & POS_HAS, fp->slot,
                            st->wins[from].start < st->wins[into].start);
        if (rc) return rc;
        q->flags |= POS_HAS | (fp->flags & POS_EMITTED);
        if (bucket_touch(ib, p)) return nomem(op);
    }
    sp_trig_merge(&st->wins[into].trig, &st->wins[from].trig);
    st->wins[into].fired += st->wins[from].fired;
    win_drop(st, cfg, from);
    return 0;
}

/* Sets session w to [start, end); a stretched end past the watermark brings the
 * on-time firing back. */
static void session_set(wstate *st, const wcfg *cfg, uint32_t w, int64_t start, int64_t end)
{
    win *x = &st->wins[w];
    x->start = start;
    if (end <= x->end) return;
    x->end = end;
    if (x->trig.on_time_done && end > st->wm) x->trig.on_time_done = 0;
    x->deadline = x->trig.on_time_done ? sp_sat_add(end, cfg->lateness) : end;
    heap_fix(st, x->heap);
}

/* (Sessions of a key are kept disjoint, so one pass finds all that the new one
 * touches: a session touching a merged one but not the new one would have been
 * merged with it before.)
 * The session of key that [ts, ts + gap) joins, merging the sessions it bridges;
 * a new one when it touches none. *late when the result is already expired. */
static int session_for(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                       uint32_t *out, int *late)
{
    int64_t start = ts, end = sp_sat_add(ts, cfg->a.gap);
    uint32_t target = NONE;
    for (uint32_t l = *key_head(st, key); l; l = st->wins[l - 1].next) {
        const win *x = &st->wins[l - 1];
        if (x->start <= sp_sat_add(ts, cfg->a.gap) && x->end >= ts) {
            if (x->start < start) start = x->start;
            if (x->end > end) end = x->end;
            if (target == NONE) target = l - 1;
        }
    }
    *late = is_late(st, cfg, end);
    if (*late) return 0;
    if (target == NONE) {
        target = win_new_timed(st, start, end, key);
        if (target == NONE) return nomem(op);
        uint32_t *head = key_head(st, key);
        st->wins[target].next = *head;
        *head = target + 1;
    }
    for (uint32_t l = *key_head(st, key); l;) {
        uint32_t w = l - 1;
        const win *x = &st->wins[w];
        l = x->next;
        if (w == target || x->start > end || x->end < start) continue;
        int rc = session_absorb(op, st, cfg, target, w);
        if (rc) return rc;
    }
    session_set(st, cfg, target, start, end);
    *out = target;
    return 0;
}

static int add_session(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                       const sp_batch *b, uint32_t r)
{
    uint32_t w = NONE; /* set by session_for unless it fails or the record is late */
    int late;
    int rc = session_for(op, st, cfg, key, ts, &w, &late);
    if (rc || late) return rc ? rc : late_row(op, st, cfg, b, r);
    rc = bucket_fold(op, st, cfg, &st->wins[w].b, key, b, r);
    return rc ? rc : count_element(op, st, cfg, w);
}

static int add_global(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                      const sp_batch *b, uint32_t r)
{
    if (!st->global) {
        uint32_t w = win_new_timed(st, INT64_MIN, INT64_MAX, NONE);
        if (w == NONE) return nomem(op);
        st->global = w + 1;
    }
    int rc = bucket_fold(op, st, cfg, &st->wins[st->global - 1].b, key, b, r);
    return rc ? rc : count_element(op, st, cfg, st->global - 1);
}

/* Count windows: start/end are the least and greatest event time seen; the
 * count-th element fires the window and closes it. */
static int add_count(sp_op *op, wstate *st, const wcfg *cfg, uint32_t key, int64_t ts,
                     const sp_batch *b, uint32_t r)
{
    uint32_t *head = key_head(st, key);
    if (!*head) {
        uint32_t w = win_new(st, ts, ts, key);
        if (w == NONE) return nomem(op);
        st->wins[w].deadline = INT64_MAX;
        if (heap_push(st, w)) return nomem(op);
        *key_head(st, key) = w + 1;
    }
    uint32_t w = *key_head(st, key) - 1;
    win *x = &st->wins[w];
    if (ts < x->start) x->start = ts;
    if (ts > x->end) x->end = ts;
    int rc = bucket_fold(op, st, cfg, &x->b, key, b, r);
    if (!rc) rc = count_element(op, st, cfg, w);
    if (rc || ++st->wins[w].elements < cfg->a.count) return rc;
    *key_head(st, key) = 0;
    rc = st->wins[w].trig.pending > 0 ? fire(op, st, cfg, w) : 0;
    heap_remove(st, w);
    return rc ? rc : drop_later(op, st, w);
}

/* ------------------------------------------------------------ state TTL */

static int key_expired(const wstate *st, uint32_t key, int64_t now_ms)
{
    const wkey *k = sp_keytable_value(&st->keys, key);
    return st->ttl_ms && now_ms - k->touched_ms > st->ttl_ms;
}

/* Removes from bk the keys expired at now_ms, with their slots; the others keep
 * their order, and the dirty list its order. tmp (used by panes only, and global
 * windows have none) carries each position's new index meanwhile. */
static void bucket_expire(wstate *st, bucket *bk, int64_t now_ms)
{
    uint32_t n = 0, nd = 0;
    for (uint32_t p = 0; p < bk->n; p++) n += (uint32_t)!key_expired(st, bk->pos[p].key, now_ms);
    if (n == bk->n) return;
    n = 0;
    for (uint32_t p = 0; p < bk->n; p++)
        bk->pos[p].tmp = key_expired(st, bk->pos[p].key, now_ms) ? NONE : n++;
    for (uint32_t d = 0; d < bk->ndirty; d++)
        if (bk->pos[bk->dirty[d]].tmp != NONE) bk->dirty[nd++] = bk->pos[bk->dirty[d]].tmp;
    bk->ndirty = nd;
    for (uint32_t p = 0; p < bk->n; p++) {
        wpos ps = bk->pos[p];
        if (ps.tmp == NONE) {
            slot_free(st, ps.slot);
            slot_free(st, ps.prev);
            continue;
        }
        bk->pos[ps.tmp] = ps;
        bk->pos[ps.tmp].tmp = NONE;
    }
    bk->n = n;
    memset(bk->idx, 0, (bk->mask + 1) * sizeof *bk->idx);
    bucket_index(bk);
}

/* The global window without the keys expired at now_ms; dropped once empty. */
static void global_expire(wstate *st, const wcfg *cfg, int64_t now_ms)
{
    uint32_t w = st->global - 1;
    bucket *bk = &st->wins[w].b;
    if (bk->n) bucket_expire(st, bk, now_ms);
    if (!bk->n) win_drop(st, cfg, w);
}

/* Drops the state of one expired key: its sessions or its count window (the
 * global window drops every expired key at once). May clear the key table. */
static void key_expire(wstate *st, const wcfg *cfg, uint32_t key, int64_t now_ms)
{
    if (cfg->a.kind == SPATE_WINDOW_GLOBAL) {
        if (st->global) global_expire(st, cfg, now_ms);
        return;
    }
    while (*key_head(st, key))
        win_drop(st, cfg, *key_head(st, key) - 1);
}

/* Drops the state of every key expired at now_ms, at most every SWEEP_MS.
 * Runs between calls, when no window waits in the drop list. */
static void ttl_sweep(wstate *st, const wcfg *cfg, int64_t now_ms)
{
    if (!st->ttl_ms || now_ms - st->swept_ms < SWEEP_MS) return;
    st->swept_ms = now_ms;
    if (cfg->a.kind == SPATE_WINDOW_GLOBAL) {
        if (st->global) global_expire(st, cfg, now_ms);
        return;
    }
    for (uint32_t key = 0; key < sp_keytable_count(&st->keys); key++)
        if (key_expired(st, key, now_ms)) key_expire(st, cfg, key, now_ms);
}

/* The key id of row r (hash h), stamped with the batch's processing time. A key
 * idle past the TTL first loses its state and is then looked up again (dropping
 * the last window clears the key table). NONE when out of memory. */
static uint32_t key_of(wstate *st, const wcfg *cfg, const sp_batch *b, uint32_t r, uint64_t h)
{
    int ins;
    wkey *k = sp_keytable_find_or_insert(&st->keys, h, b, r, cfg->nkeys, &ins);
    if (k && !ins && key_expired(st, sp_keytable_index(&st->keys, k), st->now_ms)) {
        key_expire(st, cfg, sp_keytable_index(&st->keys, k), st->now_ms);
        k = sp_keytable_find_or_insert(&st->keys, h, b, r, cfg->nkeys, &ins);
    }
    if (!k) return NONE;
    k->touched_ms = st->now_ms;
    return sp_keytable_index(&st->keys, k);
}

/* --------------------------------------------------------- operator class */

typedef int (*add_fn)(sp_op *, wstate *, const wcfg *, uint32_t, int64_t, const sp_batch *,
                      uint32_t);

/* A sliding window whose slide equals its size is a tumbling one (no panes). */
static add_fn adder(const wcfg *cfg)
{
    switch (cfg->a.kind) {
    case SPATE_WINDOW_SLIDING:
    case SPATE_WINDOW_CUMULATE: return cfg->panes ? add_sliding : add_tumbling;
    case SPATE_WINDOW_SESSION: return add_session;
    case SPATE_WINDOW_GLOBAL: return add_global;
    case SPATE_WINDOW_COUNT: return add_count;
    default: return add_tumbling;
    }
}

/* Ends a call that may have produced output: drops, COMPLETE, late rows, counts. */
static int call_done(sp_op *op, wstate *st, const wcfg *cfg, int rc)
{
    if (!rc) rc = round_done(op, st, cfg);
    if (st->nlate) sp_op_count_late(op, st->nlate);
    st->nlate = 0;
    sp_batch *late = st->late;
    st->late = NULL;
    if (!rc && late) rc = sp_op_emit_side(op, late);
    else if (late) sp_op_release(op, late);
    int frc = sp_ops_out_flush(op, &st->out);
    return rc ? rc : frc;
}

static int win_push(sp_op *op, int port, sp_batch *b)
{
    wstate *st = op->st;
    const wcfg *cfg = op->node->cfg;
    if (cfg->nkeys > 0 && !b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    st->now_ms = sp_now_ms();
    st->now_us = st->now_ms * 1000;
    add_fn add = adder(cfg);
    const sp_vec *tv = cfg->tcol >= 0 ? &b->cols[cfg->tcol] : NULL;
    int rc = 0;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n && !rc; i++) {
        uint32_t r = sp_batch_phys(b, i);
        if (tv && sp_vec_is_null(tv, r)) {
            rc = late_row(op, st, cfg, b, r); /* no time: no window can take it */
            continue;
        }
        uint32_t key = key_of(st, cfg, b, r, cfg->nkeys > 0 ? b->hashes[r] : 0);
        int64_t ts = tv ? SP_I64(tv)[r] : st->now_us;
        rc = key == NONE ? nomem(op) : add(op, st, cfg, key, ts, b, r);
    }
    sp_op_release(op, b);
    return call_done(op, st, cfg, rc);
}

/* The end of input with checkpoints: every window fires what due() would fire at
 * watermark MAX, but stays, unexpired, under the watermark its data gave. The
 * job's last checkpoint then holds the windows as emitted, and a run resuming
 * from it (a bounded source continuing, or more files) completes them: a window
 * that gets more elements fires again (an update), one that does not stays
 * silent. Dropping them instead would cut every window open at the end in two. */
static int fire_resumable(sp_op *op, wstate *st, const wcfg *cfg)
{
    int rc = 0;
    for (uint32_t w = 0; w < st->nwins && !rc; w++) {
        const win *x = &st->wins[w];
        if (!x->live || x->pane || x->heap == NONE) continue;
        int fresh = x->trig.pending > 0 || (!x->trig.on_time_done && x->fired == 0);
        if (fresh) rc = fire(op, st, cfg, w);
    }
    return rc ? rc : round_done(op, st, cfg);
}

static int win_watermark(sp_op *op, int64_t wm_us)
{
    wstate *st = op->st;
    const wcfg *cfg = op->node->cfg;
    if (cfg->processing && wm_us != SPATE_WATERMARK_MAX) return 0;
    if (wm_us == SPATE_WATERMARK_MAX && sp_ctx_checkpointing(op->node->ctx))
        return call_done(op, st, cfg, fire_resumable(op, st, cfg));
    return call_done(op, st, cfg, advance(op, st, cfg, wm_us));
}

/* Period firings of the windows whose period is due. */
static int fire_periods(sp_op *op, wstate *st, const wcfg *cfg, int64_t now_ms)
{
    st->next_period = INT64_MAX;
    int rc = 0;
    for (uint32_t w = 0; w < st->nwins && !rc; w++) {
        win *x = &st->wins[w];
        if (!x->live || x->pane || x->heap == NONE) continue;
        if (sp_trig_period_due(&cfg->trig, &x->trig, now_ms)) rc = fire(op, st, cfg, w);
        else if (st->wins[w].trig.early_due_ms < st->next_period)
            st->next_period = st->wins[w].trig.early_due_ms;
    }
    return rc;
}

static int win_tick(sp_op *op, int64_t now_ms)
{
    wstate *st = op->st;
    const wcfg *cfg = op->node->cfg;
    ttl_sweep(st, cfg, now_ms);
    int pt = cfg->processing && st->nheap && st->wins[st->heap[0]].deadline <= now_ms * 1000;
    if (!pt && now_ms < st->next_period) return 0;
    st->now_ms = now_ms;
    int rc = pt ? advance(op, st, cfg, now_ms * 1000) : 0;
    if (!rc && now_ms >= st->next_period) rc = fire_periods(op, st, cfg, now_ms);
    return call_done(op, st, cfg, rc);
}

static int win_finish(sp_op *op)
{
    wstate *st = op->st;
    return call_done(op, st, op->node->cfg, 0);
}

static int win_open(sp_op *op)
{
    const wcfg *cfg = op->node->cfg;
    wstate *st = calloc(1, sizeof *st);
    if (!st) return nomem(op);
    op->st = st;
    st->cfg = cfg;
    st->wm = SPATE_WATERMARK_MIN;
    st->next_period = INT64_MAX;
    if (cfg->a.kind == SPATE_WINDOW_GLOBAL || cfg->a.kind == SPATE_WINDOW_COUNT ||
        cfg->a.kind == SPATE_WINDOW_SESSION)
        st->ttl_ms = sp_ctx_state_ttl_ms(op->node->ctx);
    if (sp_keytable_init(&st->keys, sizeof(wkey))) return nomem(op);
    if (cfg->fn && (!(st->scratch = sp_batch_new(1)) || sp_batch_reset(st->scratch, cfg->vals)))
        return nomem(op);
    return 0;
}

static void win_close(sp_op *op)
{
    wstate *st = op->st;
    if (!st) return;
    const wcfg *cfg = op->node->cfg;
    sp_keytable_free(&st->keys);
    for (uint32_t w = 0; w < st->nwins; w++) bucket_free(&st->wins[w].b);
    free(st->wins);
    free(st->wmap.k);
    free(st->wmap.v);
    free(st->pmap.k);
    free(st->pmap.v);
    free(st->heap);
    free(st->drop);
    for (size_t c = 0; cfg->owns && c < (size_t)st->nslots * cfg->naggs; c++)
        sp_ag_release(&cfg->aggs[c % cfg->naggs], &st->cells[c]);
    free(st->cells);
    for (uint32_t c = 0; st->chunks && c * CHUNK_ROWS < st->nslots; c++)
        sp_batch_free(st->chunks[c]);
    free(st->chunks);
    free(st->freeslots);
    sp_batch_free(st->scratch);
    if (st->out) sp_op_release(op, st->out);
    if (st->late) sp_op_release(op, st->late);
    free(st);
    op->st = NULL;
}

static void wcfg_free(void *p)
{
    wcfg *cfg = p;
    if (!cfg) return;
    free(cfg->aggs);
    spate_schema_free(cfg->vals);
    spate_schema_free(cfg->in_schema);
    free(cfg);
}

/* ------------------------------------------------------------ checkpoints
 *
 * Windows are shared by the keys that fall into them, but a checkpoint's keyed
 * state is cut by key group, so the unit written is one (window, key) pair: the
 * key group's buffer gets the key (a row of the key columns, as keyed.c writes
 * it), the window's header (pane or window, bounds, deadline, counts, trigger
 * state) and the key's position (flags, dirty, its accumulator and what it last
 * emitted). Repeating the header per key costs bytes but lets a restore with
 * another worker count rebuild every window from the key groups it owns alone.
 * Each buffer begins with a version byte and the instance's watermark; the
 * instance buffer holds the same two (an instance owning no key group still
 * learns what is already late).
 *
 * Restore creates a window on its first record and joins later headers of the
 * same window (tumbling/sliding by start, panes by start, the global window):
 * with an unchanged worker count they are all equal; merged from several former
 * instances, each carries its own count of the window's elements, and the join
 * keeps the larger one - trigger counts are per window, not per key, so a split
 * window's early/late counting is approximate, never its values. Sessions and
 * count windows belong to one key and are always new. Sliding windows that have
 * not fired yet hold nothing (their panes do) and are not written: they are
 * re-created from the restored panes, unless already expired. A window emptied by
 * a purging trigger has no key and is not written either; its next late element
 * starts it over. Snapshots run between calls, so no firing round, drop or output
 * is pending, and tmp slots are free. A key's last-touched time (state.ttl.ms)
 * is not written: it is processing time of the run that wrote it, so restored
 * keys count as touched at the restore.
 */

enum { CKPT_VERSION = 1 };
enum { CK_DIRTY = 8, CK_SLOT = 16, CK_PREV = 32 }; /* with POS_HAS, POS_EMITTED */

/* A one-row batch shaped like the key: the first nkeys columns of the output. */
typedef struct key_row {
    spate_schema *schema;
    sp_batch *b;
} key_row;

static int key_row_open(key_row *kr, const spate_stream *node, int nkeys)
{
    kr->b = NULL;
    kr->schema = spate_schema_new();
    for (int c = 0; kr->schema && c < nkeys; c++)
        if (spate_schema_add(kr->schema, node->schema->f[c].name, node->schema->f[c].type))
            return SPATE_ENOMEM;
    if (!kr->schema) return SPATE_ENOMEM;
    kr->b = sp_batch_new(1);
    return kr->b && !sp_batch_reset(kr->b, kr->schema) ? 0 : SPATE_ENOMEM;
}

static void key_row_free(key_row *kr)
{
    sp_batch_free(kr->b);
    spate_schema_free(kr->schema);
}

static void slot_out(sp_wbuf *w, const wstate *st, const wcfg *cfg, uint32_t slot)
{
    if (cfg->fn) {
        sp_w_row(w, chunk_of(st, slot), slot % CHUNK_ROWS);
        return;
    }
    for (int a = 0; a < cfg->naggs; a++) sp_ag_out(w, &cfg->aggs[a], &cells_of(st, cfg, slot)[a]);
}

/* Reads into slot what slot_out wrote. A read error is sticky (the caller checks). */
static int slot_in(sp_op *op, sp_rbuf *r, wstate *st, const wcfg *cfg, uint32_t slot)
{
    if (cfg->fn) {
        st->scratch->n = 0;
        sp_arena_reset(&st->scratch->arena);
        int rc = sp_r_row(r, st->scratch);
        if (rc) return rc == SPATE_EPARSE ? 0 : nomem(op);
        return reduce_copy(op, st, cfg, slot, st->scratch, 0, 0);
    }
    for (int a = 0; a < cfg->naggs && !r->err; a++)
        if (sp_ag_in(r, &cfg->aggs[a], &cells_of(st, cfg, slot)[a])) return nomem(op);
    return 0;
}

static void header_out(sp_wbuf *w, const wstate *st)
{
    sp_w_u8(w, CKPT_VERSION);
    sp_w_i64(w, st->wm);
}

static void win_out(sp_wbuf *w, const win *x)
{
    sp_w_u8(w, (uint8_t)x->pane);
    sp_w_i64(w, x->start);
    sp_w_i64(w, x->end);
    sp_w_i64(w, x->deadline);
    sp_w_varint(w, (uint64_t)x->elements);
    sp_w_varint(w, (uint64_t)x->fired);
    sp_w_varint(w, (uint64_t)x->trig.pending);
    sp_w_i64(w, x->trig.early_due_ms);
    sp_w_u8(w, (uint8_t)x->trig.on_time_done);
}

/* Position p of window x: flags, then the slots it has. A reduce slot without
 * POS_HAS holds nothing defined (DISCARDING after a firing): only its existence
 * is written. */
static void pos_out(sp_wbuf *w, const wstate *st, const wcfg *cfg, const win *x, const wpos *p)
{
    int slot_val = p->slot != NONE && (!cfg->fn || (p->flags & POS_HAS));
    uint8_t f = (uint8_t)(p->flags & (POS_HAS | POS_EMITTED));
    f |= (p->mark == x->b.round ? CK_DIRTY : 0) | (p->slot != NONE ? CK_SLOT : 0) |
         (p->prev != NONE ? CK_PREV : 0);
    sp_w_u8(w, f);
    if (slot_val) slot_out(w, st, cfg, p->slot);
    if (p->prev != NONE) slot_out(w, st, cfg, p->prev);
}

/* Every key of window x into its key group's buffer. */
static int snap_window(sp_op *op, wstate *st, const wcfg *cfg, sp_state_out *s, key_row *kr,
                       const win *x)
{
    int kgs = sp_ctx_key_groups(op->node->ctx);
    for (uint32_t i = 0; i < x->b.n; i++) {
        const wpos *p = &x->b.pos[i];
        sp_wbuf *w = sp_state_group(s, sp_keytable_key_group(&st->keys, p->key, kgs));
        if (!w) return nomem(op);
        if (!w->len) header_out(w, st);
        sp_arena_reset(&kr->b->arena);
        if (cfg->nkeys > 0 && sp_keytable_write_key(&st->keys, p->key, kr->b, 0)) return nomem(op);
        sp_w_row(w, kr->b, 0);
        win_out(w, x);
        pos_out(w, st, cfg, x, p);
        if (w->err) return nomem(op);
    }
    return 0;
}

static int win_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    wstate *st = op->st;
    const wcfg *cfg = op->node->cfg;
    sp_wbuf *iw = sp_state_instance(s);
    if (!iw) return nomem(op);
    header_out(iw, st);
    key_row kr;
    int rc = key_row_open(&kr, op->node, cfg->nkeys) ? nomem(op) : 0;
    for (uint32_t w = 0; w < st->nwins && !rc; w++)
        if (st->wins[w].live) rc = snap_window(op, st, cfg, s, &kr, &st->wins[w]);
    key_row_free(&kr);
    return rc ? rc : iw->err ? nomem(op) : 0;
}

static int corrupt(sp_op *op)
{
    return sp_op_fail(op, SPATE_EPARSE, "window: corrupt or unknown state in the checkpoint");
}

/* Version and watermark; the instance keeps the latest watermark it reads. */
static int header_in(sp_op *op, wstate *st, sp_rbuf *r)
{
    if (sp_r_u8(r) != CKPT_VERSION) return corrupt(op);
    int64_t wm = sp_r_i64(r);
    if (r->err) return corrupt(op);
    if (wm > st->wm) st->wm = wm;
    return 0;
}

static void win_in(sp_rbuf *r, win *x)
{
    x->pane = sp_r_u8(r);
    x->start = sp_r_i64(r);
    x->end = sp_r_i64(r);
    x->deadline = sp_r_i64(r);
    x->elements = (int64_t)sp_r_varint(r);
    x->fired = (int)sp_r_varint(r);
    x->trig.pending = (int64_t)sp_r_varint(r);
    x->trig.early_due_ms = sp_r_i64(r);
    x->trig.on_time_done = sp_r_u8(r);
}

/* Joins the header h of a window restored before (see the section comment). */
static void win_join(wstate *st, uint32_t w, const win *h)
{
    win *x = &st->wins[w];
    if (h->fired > x->fired) x->fired = h->fired;
    if (h->elements > x->elements) x->elements = h->elements;
    if (h->trig.pending > x->trig.pending) x->trig.pending = h->trig.pending;
    if (h->trig.early_due_ms < x->trig.early_due_ms) x->trig.early_due_ms = h->trig.early_due_ms;
    x->trig.on_time_done |= h->trig.on_time_done;
    if (h->deadline > x->deadline && x->heap != NONE) {
        x->deadline = h->deadline;
        heap_fix(st, x->heap);
    }
}

/* The existing window of header h, or NONE when it must be created. */
static uint32_t win_find(wstate *st, const wcfg *cfg, const win *h)
{
    if (h->pane) return map_get(&st->pmap, h->start);
    switch (cfg->a.kind) {
    case SPATE_WINDOW_TUMBLING:
    case SPATE_WINDOW_SLIDING:
    case SPATE_WINDOW_CUMULATE: return map_get(&st->wmap, wmap_key(cfg, h->start, h->end));
    case SPATE_WINDOW_GLOBAL: return st->global ? st->global - 1 : NONE;
    default: return NONE; /* sessions and count windows have one key each */
    }
}

/* A new window from header h for key, registered where win_drop looks for it. */
static uint32_t win_create(wstate *st, const wcfg *cfg, const win *h, uint32_t key)
{
    uint32_t w = win_new(st, h->start, h->end, key);
    if (w == NONE) return NONE;
    win *x = &st->wins[w];
    x->deadline = h->deadline;
    x->elements = h->elements;
    x->fired = h->fired;
    x->trig = h->trig;
    x->pane = h->pane;
    if (h->pane) return map_put(&st->pmap, h->start, w) ? NONE : w;
    if (heap_push(st, w)) return NONE;
    switch (cfg->a.kind) {
    case SPATE_WINDOW_TUMBLING:
    case SPATE_WINDOW_SLIDING:
    case SPATE_WINDOW_CUMULATE:
        return map_put(&st->wmap, wmap_key(cfg, h->start, h->end), w) ? NONE : w;
    case SPATE_WINDOW_GLOBAL: st->global = w + 1; break;
    case SPATE_WINDOW_SESSION:
        st->wins[w].next = *key_head(st, key);
        *key_head(st, key) = w + 1;
        break;
    case SPATE_WINDOW_COUNT: *key_head(st, key) = w + 1; break;
    }
    return w;
}

/* Key's position in window w, as pos_out wrote it. */
static int pos_in(sp_op *op, sp_rbuf *r, wstate *st, const wcfg *cfg, uint32_t w, uint32_t key)
{
    uint8_t f = sp_r_u8(r);
    bucket *bk = &st->wins[w].b;
    uint32_t p = bucket_get(bk, key);
    if (p == NONE) return nomem(op);
    wpos *ps = &bk->pos[p];
    ps->flags = f & (POS_HAS | POS_EMITTED);
    if ((f & CK_SLOT) && slot_alloc(st, cfg, &ps->slot)) return nomem(op);
    if ((f & CK_PREV) && slot_alloc(st, cfg, &ps->prev)) return nomem(op);
    int rc = 0;
    if ((f & CK_SLOT) && (!cfg->fn || (f & POS_HAS))) rc = slot_in(op, r, st, cfg, ps->slot);
    if (!rc && (f & CK_PREV)) rc = slot_in(op, r, st, cfg, ps->prev);
    if (!rc && (f & CK_DIRTY) && bucket_touch(bk, p)) rc = nomem(op);
    return rc;
}

/* One (window, key) record of a key group's buffer. */
static int record_in(sp_op *op, sp_rbuf *r, wstate *st, const wcfg *cfg, key_row *kr)
{
    kr->b->n = 0;
    sp_arena_reset(&kr->b->arena);
    int rc = sp_r_row(r, kr->b), ins;
    if (rc) return rc == SPATE_EPARSE ? corrupt(op) : nomem(op);
    uint64_t hash = cfg->nkeys > 0 ? sp_row_key_hash(kr->b, 0, cfg->nkeys) : 0;
    wkey *kv = sp_keytable_find_or_insert(&st->keys, hash, kr->b, 0, cfg->nkeys, &ins);
    if (!kv) return nomem(op);
    kv->touched_ms = st->now_ms; /* the restore's time: see "checkpoints" */
    uint32_t key = sp_keytable_index(&st->keys, kv);
    win h = {0};
    win_in(r, &h);
    if (r->err) return corrupt(op);
    uint32_t w = win_find(st, cfg, &h);
    if (w != NONE) win_join(st, w, &h);
    else if ((w = win_create(st, cfg, &h, key)) == NONE) return nomem(op);
    return pos_in(op, r, st, cfg, w, key);
}

static int group_in(sp_op *op, sp_rbuf *r, wstate *st, const wcfg *cfg, key_row *kr)
{
    int rc = header_in(op, st, r);
    while (!rc && r->pos < r->len && !r->err) rc = record_in(op, r, st, cfg, kr);
    return rc ? rc : sp_r_done(r) ? 0 : corrupt(op);
}

/* After every record: the sliding windows not written (not fired yet) come back
 * from their panes, and the period clock from the windows' trigger states. A
 * sliding window fires on time when it never fired or counted elements since;
 * elements are counted per window only for some triggers, so once a restored
 * window has fired early (at the end of the previous run: fire_resumable), every
 * element is counted from now on, or that window would miss its update. */
static int restore_done(sp_op *op, wstate *st, const wcfg *cfg)
{
    for (uint32_t w = 0; w < st->nwins; w++) {
        const win *x = &st->wins[w];
        if (x->live && x->pane && sliding_cover(st, cfg, x->start)) return nomem(op);
    }
    for (uint32_t w = 0; w < st->nwins; w++) {
        const win *x = &st->wins[w];
        if (!x->live || x->pane) continue;
        if (x->trig.early_due_ms < st->next_period) st->next_period = x->trig.early_due_ms;
        if (cfg->panes && x->fired && !x->trig.on_time_done) st->count_fired = 1;
    }
    return 0;
}

static int win_restore(sp_op *op, sp_state_in *s)
{
    wstate *st = op->st;
    const wcfg *cfg = op->node->cfg;
    sp_rbuf r;
    st->now_ms = sp_now_ms();
    int rc = sp_state_instance_in(s, &r) ? header_in(op, st, &r) : 0, g;
    key_row kr = {0};
    if (!rc && key_row_open(&kr, op->node, cfg->nkeys)) rc = nomem(op);
    while (!rc && sp_state_next_group(s, &g, &r)) rc = group_in(op, &r, st, cfg, &kr);
    key_row_free(&kr);
    return rc ? rc : restore_done(op, st, cfg);
}

static const sp_op_class window_class = {
    .name = "window", .open = win_open, .push = win_push, .watermark = win_watermark,
    .tick = win_tick, .finish = win_finish, .snapshot = win_snapshot, .restore = win_restore,
    .close = win_close, .cfg_free = wcfg_free,
};

/* ------------------------------------------------------------ building */

static int resolve_mode(const spate_window_spec *w, wmode *mode, const char *what)
{
    if (w->output != SPATE_OUTPUT_DEFAULT && w->accumulation != SPATE_ACC_DEFAULT)
        return sp_err(SPATE_EINVAL, "%s: set either output or accumulation, not both", what);
    switch (w->output) {
    case SPATE_OUTPUT_APPEND: *mode = M_APPEND; return 0;
    case SPATE_OUTPUT_UPDATE: *mode = M_UPDATE; return 0;
    case SPATE_OUTPUT_COMPLETE: *mode = M_COMPLETE; return 0;
    case SPATE_OUTPUT_DEFAULT: break;
    default: return sp_err(SPATE_EINVAL, "%s: unknown output mode %d", what, (int)w->output);
    }
    switch (w->accumulation) {
    case SPATE_ACC_DISCARDING: *mode = M_DISCARD; return 0;
    case SPATE_ACC_RETRACTING: *mode = M_RETRACT; return 0;
    case SPATE_ACC_DEFAULT:
    case SPATE_ACC_ACCUMULATING: *mode = M_ACC; return 0;
    }
    return sp_err(SPATE_EINVAL, "%s: unknown accumulation %d", what, (int)w->accumulation);
}

/* Trigger, lateness and mode combinations that cannot work. */
static int check_trigger(const wcfg *cfg, const spate_window_spec *w, const char *what)
{
    const spate_trigger *t = &w->trigger;
    if (t->early_count < 0 || t->early_period_ms < 0 || t->late_count < 0 ||
        w->allowed_lateness_ms < 0 || w->allowed_lateness_ms > INT64_MAX / 1000)
        return sp_err(SPATE_EINVAL, "%s: trigger counts, periods and lateness must be >= 0 "
                                    "(and lateness fit in microseconds)", what);
    if (w->late != SPATE_LATE_DROP && w->late != SPATE_LATE_SIDE_OUTPUT)
        return sp_err(SPATE_EINVAL, "%s: unknown late policy %d", what, (int)w->late);
    int early = t->early_count > 0 || t->early_period_ms > 0;
    if (cfg->mode == M_APPEND && (early || w->allowed_lateness_ms > 0))
        return sp_err(SPATE_EINVAL, "%s: APPEND emits each result once: it allows neither "
                                    "early triggers nor allowed lateness", what);
    if (cfg->panes && cfg->mode == M_DISCARD && (early || w->allowed_lateness_ms > 0))
        return sp_err(SPATE_EUNSUPPORTED, "%s: discarding sliding windows with repeated "
                                          "firings are not supported", what);
    return 0;
}

/* The event-time column: spec's, else the stream's; none is fine only for
 * processing time, global and count windows. */
static int resolve_time(const spate_stream *in, const spate_window_spec *w, int *tcol,
                        const char *what)
{
    *tcol = -1;
    if (w->processing_time) return 0;
    if (w->time_column) {
        int c = spate_schema_find(in->schema, w->time_column);
        if (c < 0) return sp_err(SPATE_EINVAL, "%s: no time column '%s'", what, w->time_column);
        if (in->schema->f[c].type != SPATE_TIMESTAMP)
            return sp_err(SPATE_EINVAL, "%s: time column '%s' must be a TIMESTAMP, not %s", what,
                          w->time_column, spate_type_name(in->schema->f[c].type));
        *tcol = c;
        return 0;
    }
    *tcol = in->time_col;
    if (*tcol >= 0 || w->kind == SPATE_WINDOW_GLOBAL || w->kind == SPATE_WINDOW_COUNT) return 0;
    return sp_err(SPATE_EINVAL, "%s: the stream has no event time: use spate_with_event_time, "
                                "set time_column, or processing_time", what);
}

static int build_cfg(const spate_stream *in, const spate_window_spec *w, const char *what,
                     wcfg **out)
{
    *out = NULL;
    if (!in || !in->schema || !w)
        return sp_err(SPATE_EINVAL, "%s: needs an input stream and a window spec", what);
    wcfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = sp_assigner_init(&cfg->a, w, what);
    if (!rc) rc = resolve_mode(w, &cfg->mode, what);
    cfg->panes = cfg->a.pane && cfg->a.pane != cfg->a.size;
    if (!rc) rc = check_trigger(cfg, w, what);
    if (!rc) rc = resolve_time(in, w, &cfg->tcol, what);
    if (!rc && !(cfg->in_schema = sp_schema_copy(in->schema)))
        rc = sp_err(SPATE_ENOMEM, "out of memory");
    if (rc) {
        wcfg_free(cfg);
        return rc;
    }
    cfg->trig = w->trigger;
    cfg->lateness = w->allowed_lateness_ms * 1000; /* bounds checked by check_trigger */
    cfg->late_side = w->late == SPATE_LATE_SIDE_OUTPUT;
    cfg->processing = w->processing_time != 0;
    cfg->nkeys = in->nkeys;
    *out = cfg;
    return 0;
}

/* keys, window_start, window_end: the head of the output schema. */
static spate_schema *schema_head(const spate_stream *in, int *rc)
{
    spate_schema *s = spate_schema_new();
    *rc = s ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < in->nkeys && !*rc; c++)
        *rc = spate_schema_add(s, in->schema->f[c].name, in->schema->f[c].type);
    if (!*rc) *rc = spate_schema_add(s, "window_start", SPATE_TIMESTAMP);
    if (!*rc) *rc = spate_schema_add(s, "window_end", SPATE_TIMESTAMP);
    return s;
}

/* Appends "op", adds the node and marks it keyed by the input's keys. */
static int add_window_node(spate_stream *in, wcfg *cfg, spate_schema *schema, int rc,
                           spate_stream **out)
{
    if (!rc) rc = spate_schema_add(schema, "op", SPATE_STRING);
    if (rc) {
        wcfg_free(cfg);
        spate_schema_free(schema);
        return rc;
    }
    sp_exchange ex = in->nkeys == 0 ? SP_EX_GATHER : in->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    rc = sp_node_add(in->ctx, &window_class, cfg, schema, in->nkeys, 1, &in, &ex,
                     in->nkeys == 0, out);
    if (!rc && in->nkeys > 0) (*out)->partitioned = 1;
    return rc;
}

int spate_window_aggregate(spate_stream *in, const spate_window_spec *w, int naggs,
                           const spate_agg *aggs, spate_stream **out)
{
    if (!out) return sp_err(SPATE_EINVAL, "window_aggregate: out must not be NULL");
    *out = NULL;
    if (naggs <= 0 || !aggs)
        return sp_err(SPATE_EINVAL, "window_aggregate needs at least one aggregate");
    wcfg *cfg;
    int rc = build_cfg(in, w, "window_aggregate", &cfg);
    if (rc) return rc;
    spate_schema *schema = schema_head(in, &rc);
    if (!rc && !(cfg->aggs = calloc((size_t)naggs, sizeof *cfg->aggs)))
        rc = sp_err(SPATE_ENOMEM, "out of memory");
    cfg->naggs = naggs;
    for (int a = 0; a < naggs && !rc; a++) {
        rc = sp_ag_resolve(in->schema, &aggs[a], &cfg->aggs[a], schema, "window_aggregate");
        if (!rc && cfg->aggs[a].owns) cfg->owns = 1;
    }
    return add_window_node(in, cfg, schema, rc, out);
}

int spate_window_reduce(spate_stream *in, const spate_window_spec *w, spate_reduce_fn fn,
                        void *ud, spate_stream **out)
{
    if (!out) return sp_err(SPATE_EINVAL, "window_reduce: out must not be NULL");
    *out = NULL;
    if (!fn) return sp_err(SPATE_EINVAL, "window_reduce needs a function");
    if (in && in->schema && in->schema->n == in->nkeys)
        return sp_err(SPATE_EINVAL, "window_reduce needs value columns besides the key");
    wcfg *cfg;
    int rc = build_cfg(in, w, "window_reduce", &cfg);
    if (rc) return rc;
    cfg->fn = fn;
    cfg->ud = ud;
    cfg->nvals = in->schema->n - in->nkeys;
    spate_schema *schema = schema_head(in, &rc);
    if (!rc && !(cfg->vals = spate_schema_new())) rc = sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = in->nkeys; c < in->schema->n && !rc; c++) {
        rc = spate_schema_add(cfg->vals, in->schema->f[c].name, in->schema->f[c].type);
        if (!rc) rc = spate_schema_add(schema, in->schema->f[c].name, in->schema->f[c].type);
    }
    return add_window_node(in, cfg, schema, rc, out);
}

int spate_window_late_stream(spate_stream *windowed, spate_stream **late)
{
    if (!late) return sp_err(SPATE_EINVAL, "window_late_stream: late must not be NULL");
    *late = NULL;
    if (!windowed || windowed->cls != &window_class)
        return sp_err(SPATE_EINVAL, "window_late_stream: not a windowed stream");
    wcfg *cfg = windowed->cfg;
    if (!cfg->late_side)
        return sp_err(SPATE_EINVAL, "window_late_stream: the window's late policy is not "
                                    "SPATE_LATE_SIDE_OUTPUT");
    if (cfg->side) {
        *late = cfg->side;
        return 0;
    }
    spate_schema *s = sp_schema_copy(cfg->in_schema);
    if (!s) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = sp_node_add_side(windowed, s, late);
    if (!rc) cfg->side = *late;
    return rc;
}
