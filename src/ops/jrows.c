/*
 * jrows.c - rows kept by the event-time joins and Window Top-N, and what these
 * operators share (see jrows.h).
 */
#include "ops/jrows.h"

#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- row copies */

static size_t bitmap_bytes(int n)
{
    return ((size_t)n + 7) / 8;
}

static unsigned char *cell_at(const sp_jrow *x, int n, int c)
{
    return (unsigned char *)x->data + bitmap_bytes(n) + (size_t)c * 8;
}

sp_jrow *sp_jrow_new(const sp_batch *b, uint32_t r, int first, int n, int64_t t)
{
    size_t size = bitmap_bytes(n) + (size_t)n * 8;
    for (int c = 0; c < n; c++) {
        const sp_vec *v = &b->cols[first + c];
        if (sp_type_is_str(v->type) && !sp_vec_is_null(v, r)) size += SP_STR(v)[r].len;
    }
    if (size > UINT32_MAX) return NULL;
    sp_jrow *x = malloc(sizeof *x + size);
    if (!x) return NULL;
    x->t = t;
    x->flags = 0;
    x->size = (uint32_t)size;
    memset(x->data, 0, bitmap_bytes(n));
    uint32_t str = (uint32_t)(bitmap_bytes(n) + (size_t)n * 8);
    for (int c = 0; c < n; c++) {
        const sp_vec *v = &b->cols[first + c];
        unsigned char *cell = cell_at(x, n, c);
        int64_t bits = 0;
        if (sp_vec_is_null(v, r)) {
            x->data[c / 8] |= (unsigned char)(1u << (c % 8));
        } else if (sp_type_is_str(v->type)) {
            spate_str s = SP_STR(v)[r];
            uint32_t pos[2] = {str, (uint32_t)s.len};
            if (s.len) memcpy(x->data + str, s.ptr, s.len);
            str += (uint32_t)s.len;
            memcpy(&bits, pos, 8);
        } else if (v->type == SPATE_FLOAT64) {
            memcpy(&bits, &SP_F64(v)[r], 8);
        } else {
            bits = sp_vec_get_int(v, r);
        }
        memcpy(cell, &bits, 8);
    }
    return x;
}

int sp_jrow_get(const sp_jrow *x, int n, int c, spate_type type, int64_t *bits, spate_str *s)
{
    if (x->data[c / 8] & (1u << (c % 8))) return 1;
    memcpy(bits, cell_at(x, n, c), 8);
    if (sp_type_is_str(type)) {
        uint32_t pos[2];
        memcpy(pos, bits, 8);
        *s = (spate_str){(const char *)x->data + pos[0], pos[1]};
    }
    return 0;
}

int sp_jrow_put(const sp_jrow *x, int n, sp_batch *out, uint32_t r, int dc)
{
    for (int c = 0; c < n; c++) {
        sp_vec *v = &out->cols[dc + c];
        int64_t bits;
        spate_str s;
        if (sp_jrow_get(x, n, c, v->type, &bits, &s)) {
            sp_ops_set_null(v, r);
            continue;
        }
        if (v->has_nulls) sp_vec_clear_null(v, r);
        if (sp_type_is_str(v->type)) {
            char *p = sp_arena_dup(&out->arena, s.ptr, s.len);
            if (!p && s.len) return SPATE_ENOMEM;
            SP_STR(v)[r] = (spate_str){p ? p : "", s.len};
        } else if (v->type == SPATE_FLOAT64) {
            memcpy(&SP_F64(v)[r], &bits, 8);
        } else {
            sp_vec_put_int(v, r, bits);
        }
    }
    return 0;
}

/* --------------------------------------------------- rows of a key, by time */

int sp_jlist_insert(sp_jlist *l, sp_jrow *x)
{
    if (l->head > 0 && l->n == l->cap) {
        memmove(l->r, l->r + l->head, (size_t)(l->n - l->head) * sizeof *l->r);
        l->n -= l->head;
        l->head = 0;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        sp_jrow **p = realloc(l->r, (size_t)cap * sizeof *p);
        if (!p) return SPATE_ENOMEM;
        l->r = p;
        l->cap = cap;
    }
    uint32_t i = l->n;
    while (i > l->head && l->r[i - 1]->t > x->t) i--; /* mostly in order: short walk */
    memmove(l->r + i + 1, l->r + i, (size_t)(l->n - i) * sizeof *l->r);
    l->r[i] = x;
    l->n++;
    return 0;
}

uint32_t sp_jlist_lower(const sp_jlist *l, int64_t t)
{
    uint32_t lo = l->head, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->r[mid]->t < t) lo = mid + 1;
        else hi = mid;
    }
    return lo - l->head;
}

sp_jrow *sp_jlist_pop(sp_jlist *l)
{
    sp_jrow *x = l->r[l->head++];
    if (l->head == l->n) {
        l->head = l->n = 0;
        if (l->cap > 64) { /* a burst has passed: give its memory back */
            free(l->r);
            l->r = NULL;
            l->cap = 0;
        }
    }
    return x;
}

void sp_jlist_free(sp_jlist *l)
{
    for (uint32_t i = l->head; i < l->n; i++) free(l->r[i]);
    free(l->r);
    *l = (sp_jlist){0};
}

/* ------------------------------------------------------------ a time heap */

int sp_jheap_push(sp_jheap *q, int64_t t, int64_t id)
{
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 64;
        sp_jdue *h = realloc(q->h, (size_t)cap * sizeof *h);
        if (!h) return SPATE_ENOMEM;
        q->h = h;
        q->cap = cap;
    }
    uint32_t i = q->n++;
    while (i > 0 && q->h[(i - 1) / 2].t > t) {
        q->h[i] = q->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->h[i] = (sp_jdue){t, id};
    return 0;
}

sp_jdue sp_jheap_pop(sp_jheap *q)
{
    sp_jdue top = q->h[0], last = q->h[--q->n];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && q->h[c + 1].t < q->h[c].t) c++;
        if (q->h[c].t >= last.t) break;
        q->h[i] = q->h[c];
        i = c;
    }
    if (q->n) q->h[i] = last;
    return top;
}

/* ------------------------------------------------------ keys that can die */

int sp_jkeys_init(sp_jkeys *k, const spate_schema *key_schema, size_t value_size)
{
    memset(k, 0, sizeof *k);
    k->nkeys = key_schema->n;
    if (sp_keytable_init(&k->t, value_size)) return SPATE_ENOMEM;
    k->key_schema = sp_schema_copy(key_schema);
    k->key = k->key_schema ? sp_jrow_scratch(k->key_schema) : NULL;
    return k->key ? 0 : SPATE_ENOMEM;
}

void sp_jkeys_free(sp_jkeys *k)
{
    sp_keytable_free(&k->t);
    sp_batch_free(k->key);
    spate_schema_free(k->key_schema);
    k->key = NULL;
    k->key_schema = NULL;
}

int sp_jkeys_should_compact(const sp_jkeys *k)
{
    return k->dead > 1024 && k->dead > sp_keytable_count(&k->t) - k->dead;
}

int sp_jkeys_compact(sp_jkeys *k, int (*live)(const void *value), uint32_t **remap)
{
    uint32_t n = sp_keytable_count(&k->t);
    uint32_t *map = remap ? malloc(((size_t)n + 1) * sizeof *map) : NULL;
    sp_keytable nt;
    if ((remap && !map) || sp_keytable_init(&nt, k->t.value_size)) {
        free(map);
        return SPATE_ENOMEM;
    }
    for (uint32_t e = 0; e < n; e++) {
        const void *old = sp_keytable_value(&k->t, e);
        if (map) map[e] = UINT32_MAX;
        if (!live(old)) continue;
        int ins;
        sp_arena_reset(&k->key->arena);
        void *v = sp_keytable_write_key(&k->t, e, k->key, 0)
                      ? NULL
                      : sp_keytable_find_or_insert(&nt, sp_keytable_entry(&k->t, e)->hash, k->key,
                                                   0, k->nkeys, &ins);
        if (!v) {
            sp_keytable_free(&nt);
            free(map);
            return SPATE_ENOMEM;
        }
        memcpy(v, old, k->t.value_size);
        if (map) map[e] = sp_keytable_index(&nt, v);
    }
    sp_keytable_free(&k->t);
    k->t = nt;
    k->dead = 0;
    if (remap) *remap = map;
    return 0;
}

/* ------------------------------------------------------------ rows in state */

sp_batch *sp_jrow_scratch(const spate_schema *schema)
{
    sp_batch *b = sp_batch_new(1);
    if (b && sp_batch_reset(b, schema)) {
        sp_batch_free(b);
        return NULL;
    }
    return b;
}

int sp_jrow_write(sp_wbuf *w, const sp_jrow *x, int n, sp_batch *scratch)
{
    sp_arena_reset(&scratch->arena);
    if (sp_jrow_put(x, n, scratch, 0, 0)) return SPATE_ENOMEM;
    sp_w_row(w, scratch, 0);
    return w->err;
}

sp_jrow *sp_jrow_read(sp_rbuf *r, int n, sp_batch *scratch, int64_t t, int *rc)
{
    scratch->n = 0;
    sp_arena_reset(&scratch->arena);
    *rc = sp_r_row(r, scratch);
    if (*rc) return NULL;
    sp_jrow *x = sp_jrow_new(scratch, 0, 0, n, t);
    if (!x) *rc = SPATE_ENOMEM;
    return x;
}

static void header_out(sp_wbuf *w, uint8_t version, int64_t wm)
{
    sp_w_u8(w, version);
    sp_w_i64(w, wm);
}

static int header_in(sp_rbuf *r, uint8_t version, int64_t *wm)
{
    if (sp_r_u8(r) != version) return SPATE_EPARSE;
    int64_t t = sp_r_i64(r);
    if (r->err) return SPATE_EPARSE;
    if (t > *wm) *wm = t;
    return 0;
}

int sp_jkeys_snapshot(sp_jkeys *k, sp_state_out *s, int key_groups, uint8_t version, int64_t wm,
                      int (*live)(const void *value),
                      int (*body)(sp_wbuf *w, uint32_t e, void *arg), void *arg)
{
    sp_wbuf *iw = sp_state_instance(s);
    if (!iw) return SPATE_ENOMEM;
    header_out(iw, version, wm);
    for (uint32_t e = 0; e < sp_keytable_count(&k->t); e++) {
        if (!live(sp_keytable_value(&k->t, e))) continue;
        sp_wbuf *w = sp_state_group(s, sp_keytable_key_group(&k->t, e, key_groups));
        if (!w) return SPATE_ENOMEM;
        if (!w->len) header_out(w, version, wm);
        sp_arena_reset(&k->key->arena);
        if (sp_keytable_write_key(&k->t, e, k->key, 0)) return SPATE_ENOMEM;
        sp_w_row(w, k->key, 0);
        if (w->err || body(w, e, arg) || w->err) return SPATE_ENOMEM;
    }
    return iw->err ? SPATE_ENOMEM : 0;
}

/* Reads a key and finds or inserts it: its entry, or *rc. */
static uint32_t restore_key(sp_jkeys *k, sp_rbuf *r, int *rc)
{
    k->key->n = 0;
    sp_arena_reset(&k->key->arena);
    *rc = sp_r_row(r, k->key);
    if (*rc) return 0;
    int ins;
    uint64_t hash = sp_row_key_hash(k->key, 0, k->nkeys);
    void *v = sp_keytable_find_or_insert(&k->t, hash, k->key, 0, k->nkeys, &ins);
    if (!v) *rc = SPATE_ENOMEM;
    return v ? sp_keytable_index(&k->t, v) : 0;
}

int sp_jkeys_restore(sp_jkeys *k, sp_state_in *s, uint8_t version, int64_t *wm,
                     int (*key_in)(sp_rbuf *r, uint32_t e, void *arg), void *arg)
{
    sp_rbuf r;
    int g, rc = sp_state_instance_in(s, &r) ? header_in(&r, version, wm) : 0;
    while (!rc && sp_state_next_group(s, &g, &r)) {
        rc = header_in(&r, version, wm);
        while (!rc && r.pos < r.len) {
            uint32_t e = restore_key(k, &r, &rc);
            if (!rc) rc = key_in(&r, e, arg);
        }
    }
    return rc;
}

int sp_jsides_write(sp_wbuf *w, const sp_jlist side[2], const int nv[2],
                    sp_batch *const scratch[2])
{
    for (int s = 0; s < 2; s++) {
        const sp_jlist *l = &side[s];
        sp_w_varint(w, sp_jlist_count(l));
        for (uint32_t i = 0; i < sp_jlist_count(l); i++) {
            const sp_jrow *x = sp_jlist_at(l, i);
            sp_w_i64(w, x->t);
            sp_w_u8(w, (uint8_t)x->flags);
            if (sp_jrow_write(w, x, nv[s], scratch[s])) return SPATE_ENOMEM;
        }
    }
    return 0;
}

int sp_jsides_read(sp_rbuf *r, uint32_t e, const int nv[2], sp_batch *const scratch[2],
                   uint32_t mask, int (*keep)(void *arg, uint32_t e, int s, sp_jrow *x),
                   void *arg)
{
    for (int s = 0; s < 2; s++) {
        uint64_t n = sp_r_varint(r);
        for (uint64_t i = 0; i < n && !r->err; i++) {
            int64_t t = sp_r_i64(r);
            uint8_t flags = sp_r_u8(r);
            int rc;
            sp_jrow *x = sp_jrow_read(r, nv[s], scratch[s], t, &rc);
            if (!x) return rc;
            x->flags = flags & mask;
            if ((rc = keep(arg, e, s, x))) {
                free(x);
                return rc;
            }
        }
    }
    return r->err ? SPATE_EPARSE : 0;
}

/* ------------------------------------------------------------------ checks */

int sp_jcheck_inputs(const spate_stream *l, const spate_stream *r, spate_stream **out,
                     const char *what)
{
    if (out) *out = NULL;
    if (!l || !r || !out) return sp_err(SPATE_EINVAL, "%s: streams and out must not be NULL", what);
    if (!l->schema || !r->schema)
        return sp_err(SPATE_EINVAL, "%s: an input is an output, not a stream", what);
    if (l->ctx != r->ctx) return sp_err(SPATE_EINVAL, "%s of streams of different contexts", what);
    if (l->nkeys <= 0 || r->nkeys <= 0)
        return sp_err(SPATE_EINVAL, "%s needs keyed streams on both sides: use spate_key_by first",
                      what);
    if (l->nkeys != r->nkeys)
        return sp_err(SPATE_ETYPE, "%s: left stream has %d key columns, right stream %d", what,
                      l->nkeys, r->nkeys);
    for (int c = 0; c < l->nkeys; c++) {
        const sp_field *lf = &l->schema->f[c], *rf = &r->schema->f[c];
        if (lf->type != rf->type)
            return sp_err(SPATE_ETYPE, "%s: left key '%s' is %s but right key '%s' is %s", what,
                          lf->name, spate_type_name(lf->type), rf->name, spate_type_name(rf->type));
    }
    return 0;
}

int sp_jtime_column(const spate_stream *s, const char *name, const char *what, const char *side)
{
    int c = name ? spate_schema_find(s->schema, name) : s->time_col;
    if (name && c < 0) return sp_err(SPATE_EINVAL, "%s: no time column '%s' on the %s", what, name,
                                     side);
    if (c < 0)
        return sp_err(SPATE_EINVAL, "%s: the %s stream has no event time: use "
                                    "spate_with_event_time or name its time column", what, side);
    if (s->schema->f[c].type != SPATE_TIMESTAMP)
        return sp_err(SPATE_EINVAL, "%s: time column '%s' must be a TIMESTAMP, not %s", what,
                      s->schema->f[c].name, spate_type_name(s->schema->f[c].type));
    return c;
}

spate_schema *sp_jschema_slice(const spate_stream *s, int from, int n)
{
    spate_schema *out = spate_schema_new();
    for (int c = from; out && c < n; c++)
        if (spate_schema_add(out, s->schema->f[c].name, s->schema->f[c].type)) {
            spate_schema_free(out);
            return NULL;
        }
    return out;
}

int sp_jschema_add_unique(spate_schema *s, const char *name, spate_type t)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name);
    while (spate_schema_find(s, buf) >= 0) {
        size_t len = strlen(buf);
        if (len + sizeof "_right" > sizeof buf)
            return sp_err(SPATE_EINVAL, "join: cannot rename right column '%s'", name);
        memcpy(buf + len, "_right", sizeof "_right");
    }
    return spate_schema_add(s, buf, t);
}

spate_schema *sp_jschema_out(const spate_stream *l, const spate_stream *r,
                             const char *const *extra, int nextra, int *rc)
{
    spate_schema *s = spate_schema_new();
    *rc = s ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < l->nkeys && !*rc; c++)
        *rc = spate_schema_add(s, l->schema->f[c].name, l->schema->f[c].type);
    for (int i = 0; i < nextra && !*rc; i++)
        *rc = sp_jschema_add_unique(s, extra[i], SPATE_TIMESTAMP);
    for (int c = l->nkeys; c < l->schema->n && !*rc; c++)
        *rc = sp_jschema_add_unique(s, l->schema->f[c].name, l->schema->f[c].type);
    for (int c = r->nkeys; c < r->schema->n && !*rc; c++)
        *rc = sp_jschema_add_unique(s, r->schema->f[c].name, r->schema->f[c].type);
    if (*rc) {
        spate_schema_free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- building */

void *sp_jcfg_new(size_t size, const spate_stream *l, const spate_stream *r,
                  spate_join_kind kind, int tl, int tr)
{
    sp_jcfg *j = calloc(1, size);
    if (j) {
        j->kind = kind;
        j->nkeys = l->nkeys;
        j->nv[0] = l->schema->n - l->nkeys;
        j->nv[1] = r->schema->n - r->nkeys;
        j->tcol[0] = tl;
        j->tcol[1] = tr;
        j->key_schema = sp_jschema_slice(l, 0, l->nkeys);
        j->vals[0] = sp_jschema_slice(l, l->nkeys, l->schema->n);
        j->vals[1] = sp_jschema_slice(r, r->nkeys, r->schema->n);
    }
    if (!j || !j->key_schema || !j->vals[0] || !j->vals[1]) {
        sp_jcfg_free(j);
        sp_err(SPATE_ENOMEM, "out of memory");
        return NULL;
    }
    return j;
}

void sp_jcfg_free(void *cfg)
{
    sp_jcfg *j = cfg;
    if (!j) return;
    spate_schema_free(j->key_schema);
    spate_schema_free(j->vals[0]);
    spate_schema_free(j->vals[1]);
    free(j);
}

int sp_jstate_open(const sp_jcfg *j, sp_jkeys *keys, size_t value_size, sp_batch *scratch[2])
{
    if (sp_jkeys_init(keys, j->key_schema, value_size)) return SPATE_ENOMEM;
    for (int s = 0; s < 2; s++)
        if (!(scratch[s] = sp_jrow_scratch(j->vals[s]))) return SPATE_ENOMEM;
    return 0;
}

void sp_jstate_close(sp_jkeys *keys, sp_batch *scratch[2])
{
    for (uint32_t e = 0; keys->key && e < sp_keytable_count(&keys->t); e++) {
        sp_jlist *side = sp_keytable_value(&keys->t, e);
        sp_jlist_free(&side[0]);
        sp_jlist_free(&side[1]);
    }
    sp_jkeys_free(keys);
    for (int s = 0; s < 2; s++) sp_batch_free(scratch[s]);
}

int sp_jnode_add(spate_stream *l, spate_stream *r, const sp_op_class *cls, void *cfg,
                 spate_schema *schema, spate_stream **out)
{
    spate_stream *in[2] = {l, r};
    sp_exchange ex[2] = {l->partitioned ? SP_EX_FORWARD : SP_EX_HASH,
                         r->partitioned ? SP_EX_FORWARD : SP_EX_HASH};
    int rc = sp_node_add(l->ctx, cls, cfg, schema, l->nkeys, 2, in, ex, 0, out);
    if (!rc) (*out)->partitioned = 1;
    return rc;
}

/* ------------------------------------------------------------------ output */

int sp_jcall_done(sp_op *op, sp_batch **out, uint64_t *nlate, int rc)
{
    if (*nlate) sp_op_count_late(op, *nlate);
    *nlate = 0;
    int frc = sp_ops_out_flush(op, out);
    return rc ? rc : frc;
}

int sp_jfail(sp_op *op, int rc)
{
    const char *name = op->node->cls->name;
    if (rc == SPATE_ENOMEM) return sp_op_fail(op, rc, "%s: out of memory", name);
    return sp_op_fail(op, SPATE_EPARSE, "%s: the state in the checkpoint is truncated or corrupt",
                      name);
}

/* ------------------------------------------------------------------ counts */

int sp_jrows_held(const spate_stream *s, sp_jcount *sum)
{
    static const char *const names[] = {"interval_join", "window_join", "window_top_n"};
    int ours = 0;
    for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
        ours |= strcmp(s->cls->name, names[i]) == 0;
    if (!ours || !s->inst)
        return sp_err(SPATE_EINVAL, "not a started interval join, window join or top-n stream");
    *sum = (sp_jcount){0};
    for (int w = 0; w < sp_ctx_workers(s->ctx); w++) {
        const sp_op *op = s->inst[w];
        const sp_jcount *c = op ? op->st : NULL;
        if (!c) continue;
        sum->held += c->held;
        sum->peak += c->peak;
        sum->peak_keys += c->peak_keys;
    }
    return 0;
}
