/*
 * keytable.c - keyed state tables: open addressing over encoded keys.
 *
 * Design choices and their trade-offs:
 *
 *  - Open addressing with linear probing over a power-of-two slot array kept at
 *    most half full. Each slot stores the full 64-bit hash next to the entry
 *    index, so a probe compares hashes without touching the entry, and growing
 *    re-files slots by their stored hash: keys are never rehashed (the exchange
 *    computed the hash once, upstream).
 *
 *  - Entries live in one flat array in insertion order (header + the operator's
 *    fixed-size value area). There is no per-key malloc, iteration is a loop, and
 *    output order is deterministic: first seen, first emitted. The price is that
 *    single keys cannot be deleted; operators only ever clear a whole table (end
 *    of a micro-batch), which keeps every array's capacity.
 *
 *  - A key is stored encoded, so equality is memcmp and the encoding is the same
 *    whatever column vectors the row came from: per key column a type tag (0 for
 *    NULL, else the spate_type), then the value - 1 byte BOOL, 4 bytes INT32,
 *    8 bytes INT64/TIMESTAMP/FLOAT64, or a 4-byte length and the bytes of a
 *    STRING/BYTES. Doubles compare by bit pattern, except that -0.0 is stored as
 *    0.0 (the runtime's key hash makes them one key too); a NaN equals a NaN of
 *    the same bits. The encoded bytes sit in an arena owned by the table.
 *
 *  - The lookup key is encoded into a scratch buffer that only grows, so a warm
 *    table allocates nothing for keys it already holds.
 *
 *  - A key of one 8-byte column (the common case: an id, a timestamp) is also
 *    kept in its slot, so a lookup that hits reads one slot and stops, instead
 *    of chasing slot -> entry -> key bytes through three cache lines.
 *
 * sp_keyrows (groupByKey, joins) keeps whole rows: it takes over the arriving
 * batches and records one 12-byte reference per row; sealing groups the
 * references per key with a stable counting sort (two passes, no per-key lists).
 */
#include "state/keytable.h"

#include "spate.h"

#include <stdlib.h>
#include <string.h>

enum { KT_MIN_SLOTS = 16, KT_MIN_ENTRIES = 8 };

int sp_keytable_init(sp_keytable *t, size_t value_size)
{
    memset(t, 0, sizeof *t);
    t->value_size = value_size;
    t->stride = (sizeof(sp_kt_entry) + value_size + 7) & ~(size_t)7;
    t->slots = calloc(KT_MIN_SLOTS, sizeof *t->slots);
    t->entries = malloc(KT_MIN_ENTRIES * t->stride);
    if (!t->slots || !t->entries) {
        sp_keytable_free(t);
        return SPATE_ENOMEM;
    }
    t->mask = KT_MIN_SLOTS - 1;
    t->cap_entries = KT_MIN_ENTRIES;
    return 0;
}

static uint8_t *scratch_reserve(sp_keytable *t, size_t need)
{
    if (need <= t->scratch_cap) return t->scratch;
    size_t cap = t->scratch_cap ? t->scratch_cap : 64;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(t->scratch, cap);
    if (!p) return NULL;
    t->scratch = p;
    t->scratch_cap = cap;
    return p;
}

static size_t encoded_width(const sp_vec *v, uint32_t row)
{
    if (sp_vec_is_null(v, row)) return 1;
    switch (v->type) {
    case SPATE_BOOL: return 2;
    case SPATE_INT32: return 5;
    case SPATE_STRING:
    case SPATE_BYTES: return 5 + SP_STR(v)[row].len;
    default: return 9;
    }
}

/* Encodes the key of row into t->scratch; returns its length or (size_t)-1. */
static size_t encode_key(sp_keytable *t, const sp_batch *b, uint32_t row, int nkeys)
{
    const sp_vec *k0 = nkeys == 1 ? &b->cols[0] : NULL;
    if (k0 && (k0->type == SPATE_INT64 || k0->type == SPATE_TIMESTAMP) && t->scratch_cap >= 9 &&
        !sp_vec_is_null(k0, row)) {
        /* The common key - one 64-bit integer - without the generic loop. */
        t->scratch[0] = (uint8_t)k0->type;
        memcpy(t->scratch + 1, &SP_I64(k0)[row], 8);
        return 9;
    }
    size_t need = 0;
    for (int c = 0; c < nkeys; c++) need += encoded_width(&b->cols[c], row);
    uint8_t *p = scratch_reserve(t, need ? need : 1);
    if (!p) return (size_t)-1;
    for (int c = 0; c < nkeys; c++) {
        const sp_vec *v = &b->cols[c];
        if (sp_vec_is_null(v, row)) {
            *p++ = 0;
            continue;
        }
        *p++ = (uint8_t)v->type;
        switch (v->type) {
        case SPATE_BOOL: *p++ = SP_BOOL(v)[row] != 0; break;
        case SPATE_INT32: memcpy(p, &SP_I32(v)[row], 4); p += 4; break;
        case SPATE_STRING:
        case SPATE_BYTES: {
            spate_str s = SP_STR(v)[row];
            uint32_t len = (uint32_t)s.len;
            memcpy(p, &len, 4);
            if (s.len) memcpy(p + 4, s.ptr, s.len);
            p += 4 + s.len;
            break;
        }
        case SPATE_FLOAT64: {
            double d = SP_F64(v)[row];
            if (d == 0) d = 0; /* -0.0 is 0.0, as in the runtime's key hash */
            memcpy(p, &d, 8);
            p += 8;
            break;
        }
        default: memcpy(p, &SP_I64(v)[row], 8); p += 8; break;
        }
    }
    return need;
}

/* Slot of the key in scratch[0..len), or of the empty slot where it belongs. */
static sp_kt_slot *probe(const sp_keytable *t, uint64_t hash, size_t len)
{
    uint64_t k8 = 0;
    uint32_t tag = 0;
    if (len == 9) {
        tag = t->scratch[0];
        memcpy(&k8, t->scratch + 1, 8);
    }
    for (uint32_t i = (uint32_t)hash & t->mask;; i = (i + 1) & t->mask) {
        sp_kt_slot *s = &t->slots[i];
        if (!s->entry) return s;
        if (s->hash != hash) continue;
        if (tag) {
            if (s->tag == tag && s->inline_key == k8) return s;
            continue;
        }
        const sp_kt_entry *e = sp_keytable_entry(t, s->entry - 1);
        if (e->key_len == len && (len == 0 || memcmp(e->key, t->scratch, len) == 0)) return s;
    }
}

/* Doubles the slot array, re-filing every slot by its stored hash. */
static int grow_slots(sp_keytable *t)
{
    uint32_t ncap = (t->mask + 1) * 2;
    if (ncap == 0) return SPATE_ENOMEM;
    sp_kt_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return SPATE_ENOMEM;
    for (uint32_t i = 0; i <= t->mask; i++) {
        const sp_kt_slot *s = &t->slots[i];
        if (!s->entry) continue;
        uint32_t j = (uint32_t)s->hash & (ncap - 1);
        while (ns[j].entry) j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return 0;
}

static int grow_entries(sp_keytable *t)
{
    uint32_t ncap = t->cap_entries * 2;
    if (ncap < t->cap_entries) return SPATE_ENOMEM;
    uint8_t *ne = realloc(t->entries, (size_t)ncap * t->stride);
    if (!ne) return SPATE_ENOMEM;
    t->entries = ne;
    t->cap_entries = ncap;
    return 0;
}

static void *insert(sp_keytable *t, sp_kt_slot *slot, uint64_t hash, size_t len)
{
    if (t->count == t->cap_entries && grow_entries(t)) return NULL;
    const uint8_t *key = NULL;
    if (len) {
        key = (const uint8_t *)sp_arena_dup(&t->keys, (const char *)t->scratch, len);
        if (!key) return NULL;
    }
    sp_kt_entry *e = sp_keytable_entry(t, t->count);
    e->hash = hash;
    e->key = key;
    e->key_len = (uint32_t)len;
    e->pad = 0;
    memset(e + 1, 0, t->value_size);
    slot->hash = hash;
    slot->entry = ++t->count;
    slot->tag = len == 9 ? t->scratch[0] : 0;
    slot->inline_key = 0;
    if (len == 9) memcpy(&slot->inline_key, t->scratch + 1, 8);
    return e + 1;
}

void *sp_keytable_find_or_insert(sp_keytable *t, uint64_t hash, const sp_batch *b,
                                 uint32_t row, int nkeys, int *inserted)
{
    *inserted = 0;
    /* Growing before the lookup keeps the load <= 1/2 after any insertion. */
    if ((uint64_t)(t->count + 1) * 2 > (uint64_t)t->mask + 1 && grow_slots(t)) return NULL;
    size_t len = encode_key(t, b, row, nkeys);
    if (len == (size_t)-1) return NULL;
    sp_kt_slot *s = probe(t, hash, len);
    if (s->entry) return sp_keytable_value(t, s->entry - 1);
    void *v = insert(t, s, hash, len);
    if (v) *inserted = 1;
    return v;
}

void *sp_keytable_find(sp_keytable *t, uint64_t hash, const sp_batch *b, uint32_t row,
                       int nkeys)
{
    size_t len = encode_key(t, b, row, nkeys);
    if (len == (size_t)-1) return NULL;
    sp_kt_slot *s = probe(t, hash, len);
    return s->entry ? sp_keytable_value(t, s->entry - 1) : NULL;
}

/* Decodes one key column at p into column c of row; returns the bytes consumed. */
static size_t decode_cell(const uint8_t *p, sp_batch *out, int c, uint32_t row, int *rc)
{
    sp_vec *v = &out->cols[c];
    if (p[0] == 0) {
        /* The cell gets a defined value too: copies of the batch may read it. */
        memset((char *)v->data + row * sp_type_size(v->type), 0, sp_type_size(v->type));
        sp_vec_set_null(v, row);
        return 1;
    }
    if (v->has_nulls) sp_vec_clear_null(v, row);
    switch ((spate_type)p[0]) {
    case SPATE_BOOL: sp_vec_put_int(v, row, p[1]); return 2;
    case SPATE_INT32: memcpy(&SP_I32(v)[row], p + 1, 4); return 5;
    case SPATE_STRING:
    case SPATE_BYTES: {
        uint32_t len;
        memcpy(&len, p + 1, 4);
        char *d = sp_arena_dup(&out->arena, (const char *)p + 5, len);
        if (!d) *rc = SPATE_ENOMEM;
        SP_STR(v)[row] = (spate_str){d ? d : "", d ? len : 0};
        return 5 + (size_t)len;
    }
    default: memcpy((uint8_t *)v->data + (size_t)row * 8, p + 1, 8); return 9;
    }
}

int sp_keytable_write_key(const sp_keytable *t, uint32_t i, sp_batch *out, uint32_t row)
{
    const sp_kt_entry *e = sp_keytable_entry(t, i);
    const uint8_t *p = e->key, *end = e->key + e->key_len;
    int rc = 0;
    for (int c = 0; p && p < end; c++) p += decode_cell(p, out, c, row, &rc);
    return rc;
}

void sp_keytable_clear(sp_keytable *t)
{
    if (t->count) memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
    t->count = 0;
    sp_arena_reset(&t->keys);
}

void sp_keytable_free(sp_keytable *t)
{
    free(t->slots);
    free(t->entries);
    free(t->scratch);
    sp_arena_free(&t->keys);
    memset(t, 0, sizeof *t);
}

/* ---- sp_keyrows */

int sp_keyrows_init(sp_keyrows *kr, int nkeys)
{
    memset(kr, 0, sizeof *kr);
    kr->nkeys = nkeys;
    return sp_keytable_init(&kr->keys, sizeof(sp_keyrows_slot));
}

static int reserve_refs(sp_rowref **a, uint32_t *cap, uint32_t need)
{
    if (need <= *cap) return 0;
    uint32_t ncap = *cap ? *cap : 1024;
    while (ncap < need) ncap *= 2;
    sp_rowref *p = realloc(*a, (size_t)ncap * sizeof *p);
    if (!p) return SPATE_ENOMEM;
    *a = p;
    *cap = ncap;
    return 0;
}

static int reserve_batches(sp_keyrows *kr)
{
    if (kr->nbatches < kr->cap_batches) return 0;
    uint32_t ncap = kr->cap_batches ? kr->cap_batches * 2 : 16;
    sp_batch **p = realloc(kr->batches, (size_t)ncap * sizeof *p);
    if (!p) return SPATE_ENOMEM;
    kr->batches = p;
    kr->cap_batches = ncap;
    return 0;
}

/* Takes back the last n refs of side after a failed add. */
static void unfile(sp_keyrows *kr, int side, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const sp_rowref *r = &kr->refs[side][--kr->nrefs[side]];
        ((sp_keyrows_slot *)sp_keytable_value(&kr->keys, r->entry))->count[side]--;
    }
}

int sp_keyrows_add(sp_keyrows *kr, int side, sp_batch *b)
{
    uint32_t n = sp_batch_count(b);
    if (reserve_batches(kr) ||
        reserve_refs(&kr->refs[side], &kr->cap_refs[side], kr->nrefs[side] + n))
        return SPATE_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i);
        int ins;
        sp_keyrows_slot *s = sp_keytable_find_or_insert(&kr->keys, b->hashes[r], b, r, kr->nkeys,
                                                        &ins);
        if (!s) {
            unfile(kr, side, i);
            return SPATE_ENOMEM;
        }
        s->count[side]++;
        kr->refs[side][kr->nrefs[side]++] =
            (sp_rowref){sp_keytable_index(&kr->keys, s), kr->nbatches, r};
    }
    kr->batches[kr->nbatches++] = b;
    return 0;
}

int sp_keyrows_seal(sp_keyrows *kr)
{
    uint32_t nk = sp_keytable_count(&kr->keys);
    for (int side = 0; side < 2; side++) {
        uint32_t pos = 0;
        for (uint32_t e = 0; e < nk; e++) {
            sp_keyrows_slot *s = sp_keytable_value(&kr->keys, e);
            s->start[side] = pos;
            pos += s->count[side];
        }
        if (reserve_refs(&kr->grouped[side], &kr->cap_grouped[side], pos)) return SPATE_ENOMEM;
        /* Scatter in arrival order; `start` advances as a cursor, then is rewound. */
        for (uint32_t i = 0; i < kr->nrefs[side]; i++) {
            const sp_rowref *r = &kr->refs[side][i];
            sp_keyrows_slot *s = sp_keytable_value(&kr->keys, r->entry);
            kr->grouped[side][s->start[side]++] = *r;
        }
        for (uint32_t e = 0; e < nk; e++) {
            sp_keyrows_slot *s = sp_keytable_value(&kr->keys, e);
            s->start[side] -= s->count[side];
        }
    }
    return 0;
}

void sp_keyrows_clear(sp_keyrows *kr, void (*release)(void *arg, sp_batch *b), void *arg)
{
    for (uint32_t i = 0; i < kr->nbatches; i++) release(arg, kr->batches[i]);
    kr->nbatches = 0;
    kr->nrefs[0] = kr->nrefs[1] = 0;
    sp_keytable_clear(&kr->keys);
}

void sp_keyrows_free(sp_keyrows *kr, void (*release)(void *arg, sp_batch *b), void *arg)
{
    sp_keyrows_clear(kr, release, arg);
    sp_keytable_free(&kr->keys);
    free(kr->batches);
    for (int side = 0; side < 2; side++) {
        free(kr->refs[side]);
        free(kr->grouped[side]);
    }
    memset(kr, 0, sizeof *kr);
}
