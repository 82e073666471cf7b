/*
 * timers.c - the per-instance timer service and the spate_timer_* API (contracts
 * in timers.h and spate.h).
 *
 * Design choices:
 *  - Two binary heaps rather than one ordered structure per key: firing needs only
 *    "earliest overall", and a heap does push and pop in O(log n) with one array
 *    and no per-timer allocation.
 *  - Deduplication needs a lookup the heap cannot give, hence the hash set beside
 *    it. A fired timer is deleted from the set (a tombstone), so registering the
 *    same (key, time) after it fired creates a new timer, as in Flink. The set is
 *    rehashed when used plus deleted slots pass three quarters of it.
 *  - Keys are interned on registration (one encoding per call), not per record:
 *    records that register no timer cost nothing here.
 *  - Deleting a timer is not offered (spate.h has no call for it).
 */
#include "time/timers.h"

#include "checkpoint/serde.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

enum { SET_MIN = 64, COMPACT_MIN_DEAD = 1024 };

int sp_timers_init(sp_timers *ts, const spate_schema *key_schema)
{
    memset(ts, 0, sizeof *ts);
    ts->nkeys = key_schema->n;
    ts->keybuf = sp_batch_new(1);
    if (!ts->keybuf || sp_batch_reset(ts->keybuf, key_schema)) return SPATE_ENOMEM;
    return sp_keytable_init(&ts->keys, sizeof(uint32_t));
}

void sp_timers_free(sp_timers *ts)
{
    sp_keytable_free(&ts->keys);
    free(ts->heap[0].a);
    free(ts->heap[1].a);
    free(ts->set);
    sp_batch_free(ts->keybuf);
    memset(ts, 0, sizeof *ts);
}

/* ------------------------------------------------------------------ heaps */

static int timer_less(sp_timer a, sp_timer b)
{
    return a.time < b.time || (a.time == b.time && a.entry < b.entry);
}

static void heap_up(sp_timer_heap *h, uint32_t i)
{
    sp_timer x = h->a[i];
    while (i > 0 && timer_less(x, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
}

static void heap_down(sp_timer_heap *h, uint32_t i)
{
    sp_timer x = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && timer_less(h->a[c + 1], h->a[c])) c++;
        if (!timer_less(h->a[c], x)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = x;
}

static int heap_push(sp_timer_heap *h, sp_timer x)
{
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        sp_timer *a = realloc(h->a, (size_t)cap * sizeof *a);
        if (!a) return SPATE_ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    h->a[h->n++] = x;
    heap_up(h, h->n - 1);
    return 0;
}

static sp_timer heap_pop(sp_timer_heap *h)
{
    sp_timer top = h->a[0];
    h->a[0] = h->a[--h->n];
    if (h->n) heap_down(h, 0);
    return top;
}

/* ----------------------------------------------------------- the timer set */

static uint32_t set_hash(sp_timer_domain d, int64_t time, uint32_t entry)
{
    uint64_t h = sp_hash_u64((uint64_t)entry * 2 + (uint64_t)d, (uint64_t)time);
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot of the timer, or the first free one on its probe path (*found 0). */
static sp_timer_slot *set_find(const sp_timers *ts, sp_timer_domain d, int64_t time,
                               uint32_t entry, int *found)
{
    uint32_t mask = ts->set_cap - 1, i = set_hash(d, time, entry) & mask;
    sp_timer_slot *free_slot = NULL;
    for (;; i = (i + 1) & mask) {
        sp_timer_slot *s = &ts->set[i];
        if (s->state == 0) {
            *found = 0;
            return free_slot ? free_slot : s;
        }
        if (s->state == 2) {
            if (!free_slot) free_slot = s;
            continue;
        }
        if (s->domain == d && s->time == time && s->entry == entry) {
            *found = 1;
            return s;
        }
    }
}

/* Rebuilds the set with room for twice the timers, from the heaps. */
static int set_rebuild(sp_timers *ts)
{
    uint32_t n = ts->heap[0].n + ts->heap[1].n, cap = SET_MIN;
    while (cap < 4 * (n + 1)) cap *= 2;
    sp_timer_slot *set = calloc(cap, sizeof *set);
    if (!set) return SPATE_ENOMEM;
    free(ts->set);
    ts->set = set;
    ts->set_cap = cap;
    ts->set_used = n;
    ts->set_deleted = 0;
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < ts->heap[d].n; i++) {
            int found;
            const sp_timer *x = &ts->heap[d].a[i];
            sp_timer_slot *s = set_find(ts, (sp_timer_domain)d, x->time, x->entry, &found);
            *s = (sp_timer_slot){x->time, x->entry, (uint8_t)d, 1};
        }
    return 0;
}

static void set_remove(sp_timers *ts, sp_timer_domain d, sp_timer x)
{
    int found;
    sp_timer_slot *s = set_find(ts, d, x.time, x.entry, &found);
    if (!found) return;
    s->state = 2;
    ts->set_used--;
    ts->set_deleted++;
}

/* ------------------------------------------------------------- the service */

static uint32_t *pending_of(const sp_timers *ts, uint32_t e)
{
    return sp_keytable_value(&ts->keys, e);
}

int sp_timers_add(sp_timers *ts, const spate_timer_ctx *t, sp_timer_domain d, int64_t time)
{
    int ins, found;
    uint32_t *pending = sp_keytable_find_or_insert(&ts->keys, t->hash, t->kb, t->krow,
                                                   ts->nkeys, &ins);
    if (!pending) return SPATE_ENOMEM;
    uint32_t e = sp_keytable_index(&ts->keys, pending);
    if (4 * (ts->set_used + ts->set_deleted + 1) > 3 * ts->set_cap && set_rebuild(ts))
        return SPATE_ENOMEM;
    sp_timer_slot *s = set_find(ts, d, time, e, &found);
    if (found) return 0;
    if (heap_push(&ts->heap[d], (sp_timer){time, e})) return SPATE_ENOMEM;
    if (s->state == 2) ts->set_deleted--;
    *s = (sp_timer_slot){time, e, (uint8_t)d, 1};
    ts->set_used++;
    if ((*pending)++ == 0) ts->nlive++;
    return 0;
}

int sp_timers_peek(const sp_timers *ts, sp_timer_domain d, sp_timer *out)
{
    if (ts->heap[d].n == 0) return 0;
    *out = ts->heap[d].a[0];
    return 1;
}

int sp_timers_pop(sp_timers *ts, sp_timer_domain d, spate_timer_ctx *t)
{
    sp_timer x = heap_pop(&ts->heap[d]);
    set_remove(ts, d, x);
    if (--*pending_of(ts, x.entry) == 0) ts->nlive--;
    sp_arena_reset(&ts->keybuf->arena);
    if (sp_keytable_write_key(&ts->keys, x.entry, ts->keybuf, 0)) return SPATE_ENOMEM;
    t->kb = ts->keybuf;
    t->krow = 0;
    t->hash = sp_keytable_entry(&ts->keys, x.entry)->hash;
    return 0;
}

void sp_timers_drop_proc(sp_timers *ts)
{
    sp_timer_heap *h = &ts->heap[SP_TIMER_PROC];
    while (h->n) {
        sp_timer x = heap_pop(h);
        set_remove(ts, SP_TIMER_PROC, x);
        if (--*pending_of(ts, x.entry) == 0) ts->nlive--;
    }
}

/* Builds into nt the keys with pending timers, filling remap (old entry -> new). */
static int rebuild_keys(sp_timers *ts, sp_keytable *nt, uint32_t *remap)
{
    for (uint32_t e = 0; e < sp_keytable_count(&ts->keys); e++) {
        uint32_t pending = *pending_of(ts, e);
        remap[e] = UINT32_MAX;
        if (pending == 0) continue;
        sp_arena_reset(&ts->keybuf->arena);
        if (sp_keytable_write_key(&ts->keys, e, ts->keybuf, 0)) return SPATE_ENOMEM;
        int ins;
        uint64_t h = sp_keytable_entry(&ts->keys, e)->hash;
        uint32_t *np = sp_keytable_find_or_insert(nt, h, ts->keybuf, 0, ts->nkeys, &ins);
        if (!np) return SPATE_ENOMEM;
        *np = pending;
        remap[e] = sp_keytable_index(nt, np);
    }
    return 0;
}

int sp_timers_compact(sp_timers *ts)
{
    uint32_t count = sp_keytable_count(&ts->keys), dead = count - ts->nlive;
    if (dead < COMPACT_MIN_DEAD || dead <= ts->nlive) return 0;
    uint32_t *remap = malloc((size_t)count * sizeof *remap);
    sp_keytable nt;
    if (!remap || sp_keytable_init(&nt, sizeof(uint32_t))) {
        free(remap);
        return SPATE_ENOMEM;
    }
    if (rebuild_keys(ts, &nt, remap)) {
        sp_keytable_free(&nt);
        free(remap);
        return SPATE_ENOMEM;
    }
    /* Renumbering keeps the heap order: entries of live keys keep their relative
     * order, and ties are the only place entries are compared. */
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < ts->heap[d].n; i++)
            ts->heap[d].a[i].entry = remap[ts->heap[d].a[i].entry];
    sp_keytable_free(&ts->keys);
    ts->keys = nt;
    free(remap);
    return set_rebuild(ts);
}

/* ------------------------------------------------------------ checkpoints
 *
 * A section: a format version byte, then per key with timers the key columns as
 * a row (decoded, so the state does not depend on the table's encoding), the
 * number of its timers and each as (domain byte, time). Restore recomputes the
 * key's hash with sp_row_key_hash, the exchange's function, so a key lands on the
 * worker that now owns its group. Processing-time timers keep their wall-clock
 * time: one that came due during the outage fires at the first tick.
 */

enum { TIMERS_FORMAT = 1 };

typedef struct timer_ref {
    uint32_t entry;
    uint8_t domain;
    int64_t time;
} timer_ref;

static int ref_cmp(const void *a, const void *b)
{
    const timer_ref *x = a, *y = b;
    if (x->entry != y->entry) return x->entry < y->entry ? -1 : 1;
    if (x->domain != y->domain) return x->domain < y->domain ? -1 : 1;
    return (x->time > y->time) - (x->time < y->time);
}

/* Every pending timer, sorted by key entry; NULL when out of memory (or none). */
static timer_ref *collect_timers(const sp_timers *ts, uint32_t *n)
{
    *n = ts->heap[0].n + ts->heap[1].n;
    timer_ref *refs = malloc((size_t)(*n ? *n : 1) * sizeof *refs);
    if (!refs) return NULL;
    uint32_t k = 0;
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < ts->heap[d].n; i++)
            refs[k++] = (timer_ref){ts->heap[d].a[i].entry, (uint8_t)d, ts->heap[d].a[i].time};
    qsort(refs, *n, sizeof *refs, ref_cmp);
    return refs;
}

/* Writes the key of refs[0] and its timers (the run of equal entries); returns
 * the run's length. */
static uint32_t write_key_timers(sp_timers *ts, sp_wbuf *w, const timer_ref *refs, uint32_t n)
{
    uint32_t run = 1;
    while (run < n && refs[run].entry == refs[0].entry) run++;
    sp_arena_reset(&ts->keybuf->arena);
    if (sp_keytable_write_key(&ts->keys, refs[0].entry, ts->keybuf, 0)) w->err = SPATE_ENOMEM;
    sp_w_row(w, ts->keybuf, 0);
    sp_w_varint(w, run);
    for (uint32_t i = 0; i < run; i++) {
        sp_w_u8(w, refs[i].domain);
        sp_w_i64(w, refs[i].time);
    }
    return run;
}

int sp_timers_snapshot(sp_timers *ts, sp_state_out *s, int key_groups)
{
    uint32_t n;
    timer_ref *refs = collect_timers(ts, &n);
    if (!refs) return SPATE_ENOMEM;
    int err = 0;
    for (uint32_t i = 0; i < n;) {
        sp_wbuf *w = sp_state_group(s, sp_keytable_key_group(&ts->keys, refs[i].entry, key_groups));
        if (w->len == 0) sp_w_u8(w, TIMERS_FORMAT);
        i += write_key_timers(ts, w, refs + i, n - i);
        err |= w->err;
    }
    free(refs);
    return err ? SPATE_ENOMEM : 0;
}

/* Reads one key and registers its timers. */
static int restore_key(sp_timers *ts, sp_rbuf *r)
{
    ts->keybuf->n = 0;
    sp_arena_reset(&ts->keybuf->arena);
    int rc = sp_r_row(r, ts->keybuf);
    if (rc) return rc;
    spate_timer_ctx t = {.ts = ts, .kb = ts->keybuf, .krow = 0};
    t.hash = sp_row_key_hash(ts->keybuf, 0, ts->nkeys);
    uint64_t count = sp_r_varint(r);
    for (uint64_t i = 0; i < count && !r->err; i++) {
        uint8_t d = sp_r_u8(r);
        int64_t time = sp_r_i64(r);
        if (r->err || d > SP_TIMER_PROC) return SPATE_EPARSE;
        if (sp_timers_add(ts, &t, (sp_timer_domain)d, time)) return SPATE_ENOMEM;
    }
    return r->err || count == 0 ? SPATE_EPARSE : 0;
}

int sp_timers_restore(sp_timers *ts, sp_rbuf *r)
{
    uint8_t version = sp_r_u8(r);
    if (r->err) return SPATE_EPARSE;
    if (version != TIMERS_FORMAT) return SPATE_EUNSUPPORTED;
    int rc = 0;
    while (!rc && r->pos < r->len) rc = restore_key(ts, r);
    return rc;
}

/* ------------------------------------------------------ spate_timer_* (API) */

int spate_timer_key(const spate_timer_ctx *t, spate_row *key)
{
    if (!t || !key) return sp_err(SPATE_EINVAL, "spate_timer_key: NULL argument");
    sp_row_set(key, t->kb, t->krow, 0, t->ts->nkeys);
    return 0;
}

int64_t spate_timer_watermark(const spate_timer_ctx *t)
{
    return t ? t->op->wm : SPATE_WATERMARK_MIN;
}

int64_t spate_timer_now(const spate_timer_ctx *t)
{
    return t ? t->now_ms : 0;
}

int spate_timer_at_event_time(spate_timer_ctx *t, int64_t ts_us)
{
    if (!t) return sp_err(SPATE_EINVAL, "spate_timer_at_event_time: NULL context");
    if (ts_us == SPATE_WATERMARK_MIN || ts_us == SPATE_WATERMARK_MAX)
        return sp_err(SPATE_EINVAL, "spate_timer_at_event_time: %lld is not a time",
                      (long long)ts_us);
    if (sp_timers_add(t->ts, t, SP_TIMER_EVENT, ts_us))
        return sp_err(SPATE_ENOMEM, "spate_timer_at_event_time: out of memory");
    return 0;
}

int spate_timer_at_processing_time(spate_timer_ctx *t, int64_t ms)
{
    if (!t) return sp_err(SPATE_EINVAL, "spate_timer_at_processing_time: NULL context");
    if (!t->accept_proc) return 0; /* end of input: processing time has stopped */
    if (sp_timers_add(t->ts, t, SP_TIMER_PROC, ms))
        return sp_err(SPATE_ENOMEM, "spate_timer_at_processing_time: out of memory");
    return 0;
}
