/*
 * aggs.c - the built-in aggregates of spate_aggregate_by_key,
 * spate_aggregate_changelog, spate_aggregate_retract and spate_window_aggregate
 * (aggs.h has the interface).
 *
 * SQL semantics: COUNT counts rows; every other kind skips NULLs; SUM, AVG, MIN,
 * MAX, FIRST_VALUE, LAST_VALUE and APPROX_PERCENTILE give NULL for a key with no
 * non-NULL value, the counting kinds give 0. Integer SUM wraps around on overflow.
 *
 * State per key (and window or pane), beyond the 24-byte cell itself:
 *  - COUNT, COUNT_COLUMN, SUM, AVG, MIN/MAX of numbers, FIRST/LAST of numbers:
 *    nothing.
 *  - MIN/MAX and FIRST/LAST of strings: a copy of the current value in a heap
 *    block of 16 bytes or the next power of two of its length; a new value of a
 *    similar length reuses the block, so memory follows the current value, not
 *    the history (LAST_VALUE of a busy key allocates nothing per row).
 *  - COUNT_DISTINCT: a hash set of the distinct values: a 56-byte header, 8 bytes
 *    per value (numbers: their bits; strings: an offset) and an index of 4-byte
 *    slots at most half full, all grown by doubling - 16 to 32 bytes per distinct
 *    value, plus for strings a copy of the bytes with a 4-byte length (again up to
 *    twice that with growth). It grows with the distinct values of the key,
 *    without bound: for unbounded cardinalities use APPROX_COUNT_DISTINCT.
 *  - APPROX_COUNT_DISTINCT: HyperLogLog with 2^12 one-byte registers (4 KiB per
 *    key, allocated at its first value). Relative standard error 1.04/sqrt(4096)
 *    = 1.6%, about 1.1% in the linear-counting range (below 2.5 * 4096); no bias
 *    (see hll_estimate), so 99.7% of estimates are within 5%, and small counts
 *    (tens) are exact or off by one.
 *  - APPROX_PERCENTILE: a KLL sketch (Karnin, Lang, Liberty 2016) with k = 1000:
 *    exact while a key has at most 1000 values, then about 3000 values kept (24
 *    KiB, up to twice that with the levels' growth slack, plus 16 bytes per level)
 *    whatever the count. Rank error: a compaction of level h moves a query's rank
 *    by at most 2^h, and random compactions cancel out; with k = 1000 the
 *    normalized rank error stays below 1% (tests/test_aggs_ext.c measures about
 *    0.1% over 3 * 10^5 values). The coin is the sketch's own xorshift, so a
 *    key's result depends only on its values and their order.
 * aggregate_retract's cells, which also take retractions, are described under
 * "retractions" below.
 * Values are hashed with the engine's hash (core/hash.h) under a seed of their
 * own, so the bits HyperLogLog uses are independent of the key-group hash.
 * Doubles count as values by their bits, with -0.0 taken as 0.0 and every NaN as
 * one value; APPROX_PERCENTILE skips NaNs as it skips NULLs.
 *
 * Merging (panes of sliding windows, merged sessions): counts and sums add,
 * extremes compare, sets unite, registers take the maximum, sketches concatenate
 * their levels and compact. FIRST/LAST keep the earlier part's first value and
 * the later part's last one, so windows see arrival order within a pane and pane
 * order across panes.
 *
 * The percentile is the nearest-rank one: the smallest value v such that
 * ceil(q * n) values are <= v (q = 0: the minimum), returned as a DOUBLE.
 */
#include "ops/aggs.h"

#include "core/error.h"
#include "core/hash.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { AG_SEED = 0x6a09e667 };

/* How a kind keeps its value: not at all, as v.i, v.d, an owned v.s, or v.p. */
static char val_kind(const sp_ag_spec *s)
{
    switch (s->op) {
    case SP_AG_COUNT:
    case SP_AG_COUNT_COL:
        return 0;
    case SP_AG_SUM_I:
    case SP_AG_MIN_I:
    case SP_AG_MAX_I:
        return 'i';
    case SP_AG_SUM_D:
    case SP_AG_AVG:
    case SP_AG_MIN_D:
    case SP_AG_MAX_D:
        return 'd';
    case SP_AG_MIN_S:
    case SP_AG_MAX_S:
        return 's';
    case SP_AG_FIRST:
    case SP_AG_LAST:
        return sp_type_is_str(s->type) ? 's' : s->type == SPATE_FLOAT64 ? 'd' : 'i';
    default:
        return 'p';
    }
}

/* ---------------------------------------------------------- owned strings */

static size_t str_block(size_t len)
{
    size_t c = 16;
    while (c < len)
        c *= 2;
    return c;
}

/* Sets the owned string *s (NULL or a block of str_block(s->len)) to p[0..len). */
static int str_set(spate_str *s, const char *p, size_t len)
{
    if (!s->ptr || str_block(s->len) != str_block(len)) {
        char *q = realloc((char *)s->ptr, str_block(len));
        if (!q) return SPATE_ENOMEM;
        s->ptr = q;
    }
    if (len) memcpy((char *)s->ptr, p, len);
    s->len = len;
    return 0;
}

static void str_free(spate_str *s)
{
    free((char *)s->ptr);
    *s = (spate_str){NULL, 0};
}

static int str_less(spate_str a, spate_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c < 0 || (c == 0 && a.len < b.len);
}

static int str_eq(spate_str a, spate_str b)
{
    return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

/* -------------------------------------------------------- values as bits */

/* A number as the 8 bytes that identify it: integers as themselves, doubles by
 * their bits with -0.0 as 0.0 and one NaN. */
static uint64_t num_bits(const sp_vec *v, uint32_t r)
{
    if (v->type != SPATE_FLOAT64) return (uint64_t)sp_vec_get_int(v, r);
    double d = SP_F64(v)[r];
    if (d == 0) d = 0;
    if (isnan(d)) return 0x7ff8000000000000ull;
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static uint64_t hash_num(uint64_t bits)
{
    return sp_hash_u64(AG_SEED, bits);
}

static uint64_t hash_str(const char *p, size_t len)
{
    return sp_hash_bytes(AG_SEED, len ? p : "", len); /* an empty string may have no bytes */
}

/* ------------------------------------------------------- COUNT_DISTINCT */

typedef struct ag_set {
    uint32_t n, cap; /* values, room in vals */
    uint32_t mask;   /* index slots - 1 */
    int strs;        /* values are strings */
    uint32_t *idx;   /* per slot: position + 1, 0 = empty */
    uint64_t *vals;  /* numbers: their bits; strings: offset of (u32 length, bytes) */
    char *str;
    size_t slen, scap;
} ag_set;

static spate_str set_str(const ag_set *s, uint32_t pos)
{
    uint32_t len;
    memcpy(&len, s->str + s->vals[pos], sizeof len);
    return (spate_str){s->str + s->vals[pos] + sizeof len, len};
}

static uint64_t set_hash(const ag_set *s, uint32_t pos)
{
    if (!s->strs) return hash_num(s->vals[pos]);
    spate_str x = set_str(s, pos);
    return hash_str(x.ptr, x.len);
}

static void set_free(ag_set *s)
{
    if (!s) return;
    free(s->idx);
    free(s->vals);
    free(s->str);
    free(s);
}

/* Doubles the index (at least 8 slots) and refills it. */
static int set_grow_index(ag_set *s)
{
    uint32_t slots = s->idx ? (s->mask + 1) * 2 : 8;
    if (slots == 0 || slots > (1u << 31)) return SPATE_ENOMEM;
    uint32_t *idx = calloc(slots, sizeof *idx);
    if (!idx) return SPATE_ENOMEM;
    free(s->idx);
    s->idx = idx;
    s->mask = slots - 1;
    for (uint32_t p = 0; p < s->n; p++) {
        uint32_t i = (uint32_t)set_hash(s, p) & s->mask;
        while (s->idx[i])
            i = (i + 1) & s->mask;
        s->idx[i] = p + 1;
    }
    return 0;
}

/* Adds a number (bits) or a string (p, len) with hash h unless present. */
static int set_add(ag_set *s, uint64_t bits, const char *p, size_t len, uint64_t h)
{
    if ((!s->idx || (s->n + 1) * 2 > s->mask + 1) && set_grow_index(s)) return SPATE_ENOMEM;
    uint32_t i = (uint32_t)h & s->mask;
    for (; s->idx[i]; i = (i + 1) & s->mask) {
        uint32_t pos = s->idx[i] - 1;
        if (s->strs ? str_eq(set_str(s, pos), (spate_str){p, len}) : s->vals[pos] == bits) return 0;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        uint64_t *v = realloc(s->vals, (size_t)cap * sizeof *v);
        if (!v) return SPATE_ENOMEM;
        s->vals = v;
        s->cap = cap;
    }
    if (s->strs) {
        uint32_t l32 = (uint32_t)len;
        if (len > UINT32_MAX) return SPATE_ENOMEM;
        if (s->slen + sizeof l32 + len > s->scap) {
            size_t cap = s->scap ? s->scap : 64;
            while (cap < s->slen + sizeof l32 + len)
                cap *= 2;
            char *q = realloc(s->str, cap);
            if (!q) return SPATE_ENOMEM;
            s->str = q;
            s->scap = cap;
        }
        memcpy(s->str + s->slen, &l32, sizeof l32);
        if (len) memcpy(s->str + s->slen + sizeof l32, p, len);
        bits = s->slen;
        s->slen += sizeof l32 + len;
    }
    s->vals[s->n] = bits;
    s->idx[i] = ++s->n;
    return 0;
}

static ag_set *set_of(sp_ag_cell *c, const sp_ag_spec *spec)
{
    if (!c->v.p) {
        ag_set *s = calloc(1, sizeof *s);
        if (s) s->strs = sp_type_is_str(spec->type);
        c->v.p = s;
    }
    return c->v.p;
}

static int set_add_row(sp_ag_cell *c, const sp_ag_spec *spec, const sp_vec *v, uint32_t r)
{
    ag_set *s = set_of(c, spec);
    if (!s) return SPATE_ENOMEM;
    if (!s->strs) {
        uint64_t bits = num_bits(v, r);
        return set_add(s, bits, NULL, 0, hash_num(bits));
    }
    spate_str x = SP_STR(v)[r];
    return set_add(s, 0, x.ptr, x.len, hash_str(x.ptr, x.len));
}

static int set_merge(sp_ag_cell *dst, const sp_ag_spec *spec, const ag_set *src)
{
    ag_set *s = set_of(dst, spec);
    if (!s) return SPATE_ENOMEM;
    for (uint32_t p = 0; p < src->n; p++) {
        spate_str x = src->strs ? set_str(src, p) : (spate_str){NULL, 0};
        int rc = set_add(s, src->vals[p], x.ptr, x.len, set_hash(src, p));
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------- APPROX_COUNT_DISTINCT */

enum { HLL_P = 12, HLL_M = 1 << HLL_P };

static void hll_add(uint8_t *reg, uint64_t h)
{
    uint64_t w = h << HLL_P;
    uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - HLL_P + 1);
    uint32_t j = (uint32_t)(h >> (64 - HLL_P));
    if (rank > reg[j]) reg[j] = rank;
}

static int hll_add_row(sp_ag_cell *c, const sp_vec *v, uint32_t r)
{
    if (!c->v.p && !(c->v.p = calloc(HLL_M, 1))) return SPATE_ENOMEM;
    uint64_t h;
    if (sp_type_is_str(v->type))
        h = hash_str(SP_STR(v)[r].ptr, SP_STR(v)[r].len);
    else
        h = hash_num(num_bits(v, r));
    hll_add(c->v.p, h);
    return 0;
}

/* Ertl's sigma(x) = x + sum over k >= 1 of x^(2^k) 2^(k-1), for x < 1. */
static double hll_sigma(double x)
{
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

/* Ertl's tau(x) = (1 - x - sum over k >= 1 of (1 - x^(2^-k))^2 2^-k) / 3. */
static double hll_tau(double x)
{
    if (x == 0 || x == 1) return 0;
    double y = 1, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

/* Linear counting m ln(m / empty registers) while its regime holds (an estimate
 * up to 2.5 m with empty registers), else Ertl's improved raw estimate (O. Ertl,
 * "New cardinality estimation algorithms for HyperLogLog sketches", 2017): the
 * classic alpha m^2 / sum(2^-register) overestimates by about 2% just above
 * 2.5 m, the improved one has no such bias and needs no empirical tables. */
static int64_t hll_estimate(const uint8_t *reg)
{
    enum { Q = 64 - HLL_P };
    uint32_t c[Q + 2] = {0};
    for (uint32_t j = 0; j < HLL_M; j++)
        c[reg[j] <= Q + 1 ? reg[j] : Q + 1]++;
    if (c[0] == HLL_M) return 0;
    double m = HLL_M, z = m * hll_tau(1 - c[Q + 1] / m);
    for (int k = Q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * hll_sigma(c[0] / m);
    double e = m * m / (2 * log(2)) / z;
    if (e <= 2.5 * m && c[0]) e = m * log(m / c[0]);
    return llround(e);
}

/* ----------------------------------------------------- APPROX_PERCENTILE
 *
 * KLL: level h holds values standing for 2^h values each. Values arrive at level
 * 0; a level over its capacity is sorted and halved - every other value, from a
 * random first one, moves up a level with twice the weight (one odd value stays).
 * The top level's capacity is K, each lower one 2/3 of the next (at least
 * KLL_MIN), so the whole sketch stays around 3K values while the levels grow
 * with log(n). A query merges the sorted levels and walks their weights.
 */

enum { KLL_K = 1000, KLL_MIN = 8, KLL_MAX_LEVELS = 62 };

typedef struct kll_level {
    double *v;
    uint32_t n, cap;
} kll_level;

typedef struct kll {
    uint64_t rng;      /* xorshift state of the compaction coin */
    uint64_t unsorted; /* bit h: level h may be out of order */
    uint32_t nlev;
    kll_level *lv;
} kll;

static uint32_t kll_capacity(const kll *k, uint32_t h)
{
    uint32_t c = KLL_K;
    for (uint32_t d = h + 1; d < k->nlev && c > KLL_MIN; d++)
        c = c * 2 / 3;
    return c < KLL_MIN ? KLL_MIN : c;
}

static void kll_free(kll *k)
{
    if (!k) return;
    for (uint32_t h = 0; h < k->nlev; h++)
        free(k->lv[h].v);
    free(k->lv);
    free(k);
}

static int kll_reserve(kll_level *l, uint32_t more)
{
    if (l->n + more <= l->cap) return 0;
    uint32_t cap = l->cap ? l->cap : 16;
    while (cap < l->n + more)
        cap *= 2;
    double *v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return SPATE_ENOMEM;
    l->v = v;
    l->cap = cap;
    return 0;
}

static int kll_add_level(kll *k)
{
    if (k->nlev == KLL_MAX_LEVELS) return SPATE_ENOMEM;
    kll_level *lv = realloc(k->lv, (size_t)(k->nlev + 1) * sizeof *lv);
    if (!lv) return SPATE_ENOMEM;
    k->lv = lv;
    k->lv[k->nlev++] = (kll_level){NULL, 0, 0};
    return 0;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void kll_sort(kll *k, uint32_t h)
{
    if (!((k->unsorted >> h) & 1)) return;
    qsort(k->lv[h].v, k->lv[h].n, sizeof(double), dbl_cmp);
    k->unsorted &= ~(1ull << h);
}

/* Appends n values to level h. */
static int kll_append(kll *k, uint32_t h, const double *v, uint32_t n, int sorted)
{
    if (!n) return 0;
    if (kll_reserve(&k->lv[h], n)) return SPATE_ENOMEM;
    if (k->lv[h].n || !sorted) k->unsorted |= 1ull << h;
    memcpy(k->lv[h].v + k->lv[h].n, v, (size_t)n * sizeof *v);
    k->lv[h].n += n;
    return 0;
}

/* Halves level h into level h + 1. */
static int kll_compact(kll *k, uint32_t h)
{
    if (h + 1 == k->nlev && kll_add_level(k)) return SPATE_ENOMEM;
    kll_sort(k, h);
    kll_level *l = &k->lv[h];
    uint32_t m = l->n & ~1u;
    k->rng ^= k->rng << 13;
    k->rng ^= k->rng >> 7;
    k->rng ^= k->rng << 17;
    for (uint32_t i = 0, j = (uint32_t)(k->rng & 1); j < m; i++, j += 2)
        l->v[i] = l->v[j];
    if (kll_append(k, h + 1, l->v, m / 2, 1)) return SPATE_ENOMEM;
    l = &k->lv[h];
    if (l->n & 1) l->v[0] = l->v[l->n - 1];
    l->n &= 1;
    return 0;
}

/* Compacts until every level is within its capacity. */
static int kll_compress(kll *k)
{
    for (uint32_t h = 0; h < k->nlev; h++) {
        if (k->lv[h].n <= kll_capacity(k, h)) continue;
        if (kll_compact(k, h)) return SPATE_ENOMEM;
        h = (uint32_t)-1; /* a new top level shrinks the lower ones: from the bottom again */
    }
    return 0;
}

static kll *kll_of(sp_ag_cell *c)
{
    if (!c->v.p) {
        kll *k = calloc(1, sizeof *k);
        if (k && kll_add_level(k)) {
            free(k);
            k = NULL;
        }
        if (k) k->rng = 0x9e3779b97f4a7c15ull;
        c->v.p = k;
    }
    return c->v.p;
}

static int kll_add(sp_ag_cell *c, double x)
{
    kll *k = kll_of(c);
    if (!k || kll_append(k, 0, &x, 1, 0)) return SPATE_ENOMEM;
    return k->lv[0].n > kll_capacity(k, 0) ? kll_compress(k) : 0;
}

static int kll_merge(sp_ag_cell *dst, const kll *src)
{
    int fresh = !dst->v.p;
    kll *k = kll_of(dst);
    if (!k) return SPATE_ENOMEM;
    if (fresh) k->rng = src->rng;
    while (k->nlev < src->nlev)
        if (kll_add_level(k)) return SPATE_ENOMEM;
    for (uint32_t h = 0; h < src->nlev; h++)
        if (kll_append(k, h, src->lv[h].v, src->lv[h].n, !((src->unsorted >> h) & 1)))
            return SPATE_ENOMEM;
    return kll_compress(k);
}

/* The value of rank ceil(q * n) (at least 1) in the weighted, sorted levels. */
static double kll_quantile(kll *k, int64_t n, double q)
{
    double x = q * (double)n;
    uint64_t target = (uint64_t)x, cum = 0;
    if ((double)target < x) target++;
    if (target < 1) target = 1;
    uint32_t pos[KLL_MAX_LEVELS] = {0};
    for (uint32_t h = 0; h < k->nlev; h++)
        kll_sort(k, h);
    double last = 0;
    for (;;) {
        uint32_t best = KLL_MAX_LEVELS;
        for (uint32_t h = 0; h < k->nlev; h++)
            if (pos[h] < k->lv[h].n &&
                (best == KLL_MAX_LEVELS || k->lv[h].v[pos[h]] < k->lv[best].v[pos[best]]))
                best = h;
        if (best == KLL_MAX_LEVELS) return last;
        last = k->lv[best].v[pos[best]++];
        cum += 1ull << best;
        if (cum >= target) return last;
    }
}

/* ------------------------------------------------------------- folding */

/* Sets c's value (kind k) to row r of v. */
static int take_row(sp_ag_cell *c, char k, const sp_vec *v, uint32_t r)
{
    if (k == 's') return str_set(&c->v.s, SP_STR(v)[r].ptr, SP_STR(v)[r].len);
    if (k == 'd')
        c->v.d = SP_F64(v)[r];
    else
        c->v.i = sp_vec_get_int(v, r);
    return 0;
}

/* Sets c's value (kind k) to x's. */
static int take_cell(sp_ag_cell *c, char k, const sp_ag_cell *x)
{
    if (k == 's') return str_set(&c->v.s, x->v.s.ptr, x->v.s.len);
    c->v = x->v;
    return 0;
}

/* The kinds sp_ag_fold_row does not inline: strings, FIRST/LAST, sets, sketches. */
int sp_ag_fold_value(const sp_ag_spec *s, sp_ag_cell *c, const sp_vec *v, uint32_t r)
{
    int rc = 0;
    spate_str x = sp_type_is_str(v->type) ? SP_STR(v)[r] : (spate_str){NULL, 0};
    switch (s->op) {
    case SP_AG_MIN_S:
        if (c->n == 0 || str_less(x, c->v.s)) rc = str_set(&c->v.s, x.ptr, x.len);
        break;
    case SP_AG_MAX_S:
        if (c->n == 0 || str_less(c->v.s, x)) rc = str_set(&c->v.s, x.ptr, x.len);
        break;
    case SP_AG_FIRST:
        if (c->n == 0) rc = take_row(c, val_kind(s), v, r);
        break;
    case SP_AG_LAST:
        rc = take_row(c, val_kind(s), v, r);
        break;
    case SP_AG_DISTINCT:
        rc = set_add_row(c, s, v, r);
        break;
    case SP_AG_HLL:
        rc = hll_add_row(c, v, r);
        break;
    case SP_AG_PCTL: {
        double d = v->type == SPATE_FLOAT64 ? SP_F64(v)[r] : (double)sp_vec_get_int(v, r);
        if (isnan(d)) return 0;
        rc = kll_add(c, d);
        break;
    }
    default:
        break; /* inlined by sp_ag_fold_row */
    }
    if (!rc) c->n++;
    return rc;
}

static inline sp_ag_cell *cell_at(const sp_ag_rows *m, uint32_t i, int a)
{
    return (sp_ag_cell *)(m->base + (size_t)m->ent[i] * m->stride) + a;
}

static void fold_count(int a, const sp_ag_rows *m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cell_at(m, i, a)->n++;
}

static void fold_count_col(int a, const sp_ag_rows *m, const sp_batch *b, const sp_vec *v)
{
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++)
        cell_at(m, i, a)->n += !sp_vec_is_null(v, sp_batch_phys(b, i));
}

static void fold_int(sp_ag_op op, int a, const sp_ag_rows *m, const sp_batch *b, const sp_vec *v)
{
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i);
        if (sp_vec_is_null(v, r)) continue;
        sp_ag_cell *c = cell_at(m, i, a);
        int64_t x = sp_vec_get_int(v, r);
        if (op == SP_AG_SUM_I)
            c->v.i = (int64_t)((uint64_t)c->v.i + (uint64_t)x);
        else if (op == SP_AG_AVG)
            c->v.d += (double)x;
        else if (c->n == 0 || (op == SP_AG_MIN_I ? x < c->v.i : x > c->v.i))
            c->v.i = x;
        c->n++;
    }
}

static void fold_double(sp_ag_op op, int a, const sp_ag_rows *m, const sp_batch *b, const sp_vec *v)
{
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i);
        if (sp_vec_is_null(v, r)) continue;
        sp_ag_cell *c = cell_at(m, i, a);
        double x = SP_F64(v)[r];
        if (op == SP_AG_SUM_D || op == SP_AG_AVG)
            c->v.d += x;
        else if (c->n == 0 || (op == SP_AG_MIN_D ? x < c->v.d : x > c->v.d))
            c->v.d = x;
        c->n++;
    }
}

int sp_ag_fold_batch(const sp_ag_spec *s, int a, const sp_ag_rows *m, const sp_batch *b)
{
    const sp_vec *v = s->op == SP_AG_COUNT ? NULL : &b->cols[s->col];
    switch (s->op) {
    case SP_AG_COUNT:
        fold_count(a, m, sp_batch_count(b));
        return 0;
    case SP_AG_COUNT_COL:
        fold_count_col(a, m, b, v);
        return 0;
    case SP_AG_SUM_I:
    case SP_AG_MIN_I:
    case SP_AG_MAX_I:
        fold_int(s->op, a, m, b, v);
        return 0;
    case SP_AG_AVG:
        if (v->type == SPATE_FLOAT64)
            fold_double(s->op, a, m, b, v);
        else
            fold_int(s->op, a, m, b, v);
        return 0;
    case SP_AG_SUM_D:
    case SP_AG_MIN_D:
    case SP_AG_MAX_D:
        fold_double(s->op, a, m, b, v);
        return 0;
    default:
        break;
    }
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++) {
        int rc = sp_ag_fold_row(s, cell_at(m, i, a), b, sp_batch_phys(b, i));
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------- retractions
 *
 * aggregate_retract's cells. COUNT, COUNT_COLUMN, SUM and AVG are the usual
 * cells and retract by subtraction (a cell whose count drops to 0 is zeroed, so
 * no rounding residue of a double sum survives it). MIN, MAX, FIRST_VALUE,
 * LAST_VALUE and COUNT_DISTINCT keep the multiset of their live values (ag_ms):
 *  - a hash index of the distinct live values, each with its multiplicity
 *    (values stored as in COUNT_DISTINCT: numbers by their bits, -0.0 as 0.0 and
 *    one NaN; strings in an arena);
 *  - MIN/MAX: a binary heap of the distinct values (positions kept per value, so
 *    a value whose multiplicity drops to 0 leaves in O(log n)); doubles order
 *    with NaN above every number;
 *  - FIRST/LAST: the log of live instances in arrival order, each linked to the
 *    next instance of the same value. A retraction removes the value's oldest
 *    live instance (as Flink does: instances of one value are interchangeable),
 *    FIRST is the log's first live instance, LAST its last one; dead instances
 *    at either end are trimmed at once, those in the middle compacted away once
 *    they outnumber the live ones.
 * State: 32 bytes per distinct value, 8-16 bytes of index (4-byte slots, at
 * most half full) and, for MIN/MAX, 4-8 of heap; strings with their bytes (and a
 * 4-byte length); FIRST/LAST 8 more bytes per live row (up to twice that before
 * compaction). It follows the live rows:
 * a multiset whose slots, string bytes or log are mostly dead is rebuilt.
 * Adding and retracting cost O(1) amortized (MIN/MAX: O(log n)).
 */

enum { MS_NONE = UINT32_MAX, MS_SMALL = 64 };

typedef struct ms_val {
    uint64_t bits; /* number: num_bits; string: offset of (u32 length, bytes) in str */
    int64_t cnt;   /* live instances; 0: a free slot (next free one in head) */
    uint32_t hash; /* low bits of the value's hash */
    uint32_t hpos; /* MIN/MAX: position in the heap; checkpoints: scratch */
    uint32_t head; /* FIRST/LAST: log positions of the oldest live instance ... */
    uint32_t tail; /* ... and of the newest */
} ms_val;

typedef struct ms_inst {
    uint32_t val;  /* MS_NONE: retracted */
    uint32_t next; /* next live instance of the same value, MS_NONE: none */
} ms_inst;

typedef struct ag_ms {
    char how;           /* 'd' COUNT_DISTINCT, '<' MIN, '>' MAX, 'l' FIRST/LAST */
    char vk;            /* 'i', 'd' or 's': how values compare and come out */
    uint32_t nval, cap; /* slots used (live and free), room */
    uint32_t live;      /* distinct live values */
    uint32_t free;      /* first free slot, MS_NONE: none */
    ms_val *vals;
    uint32_t *idx, mask; /* per index slot: value slot + 1, 0 = empty */
    uint32_t *heap, nheap, cap_heap;
    ms_inst *log;
    uint32_t lhead, llen, lcap, ldead; /* live instances in [lhead, llen), ldead dead there */
    char *str;
    size_t slen, scap, sdead; /* arena bytes used, room, dead */
} ag_ms;

static int ms_kind(const sp_ag_spec *s)
{
    if (!s->retract) return 0;
    switch (s->op) {
    case SP_AG_MIN_I:
    case SP_AG_MAX_I:
    case SP_AG_MIN_D:
    case SP_AG_MAX_D:
    case SP_AG_MIN_S:
    case SP_AG_MAX_S:
    case SP_AG_FIRST:
    case SP_AG_LAST:
    case SP_AG_DISTINCT:
        return 1;
    default:
        return 0;
    }
}

static ag_ms *ms_new(const sp_ag_spec *s)
{
    ag_ms *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    switch (s->op) {
    case SP_AG_MIN_I:
    case SP_AG_MIN_D:
    case SP_AG_MIN_S:
        m->how = '<';
        break;
    case SP_AG_MAX_I:
    case SP_AG_MAX_D:
    case SP_AG_MAX_S:
        m->how = '>';
        break;
    case SP_AG_DISTINCT:
        m->how = 'd';
        break;
    default:
        m->how = 'l';
        break;
    }
    m->vk = sp_type_is_str(s->type) ? 's' : s->type == SPATE_FLOAT64 ? 'd' : 'i';
    m->free = MS_NONE;
    return m;
}

static void ms_free(ag_ms *m)
{
    if (!m) return;
    free(m->vals);
    free(m->idx);
    free(m->heap);
    free(m->log);
    free(m->str);
    free(m);
}

static spate_str ms_str(const ag_ms *m, uint32_t v)
{
    uint32_t len;
    memcpy(&len, m->str + m->vals[v].bits, sizeof len);
    return (spate_str){m->str + m->vals[v].bits + sizeof len, len};
}

/* A value as the multiset identifies it: bits (numbers) or bytes (strings). */
typedef struct ms_key {
    uint64_t bits;
    const char *p;
    size_t len;
    uint64_t hash;
} ms_key;

static ms_key ms_key_of(const ag_ms *m, const sp_vec *v, uint32_t r)
{
    ms_key k = {0, NULL, 0, 0};
    if (m->vk == 's') {
        k.p = SP_STR(v)[r].ptr;
        k.len = SP_STR(v)[r].len;
        k.hash = hash_str(k.p, k.len);
    } else {
        k.bits = num_bits(v, r);
        k.hash = hash_num(k.bits);
    }
    return k;
}

/* The live value equal to k (MS_NONE: none) and its index slot, or the empty
 * slot where it would go. */
static uint32_t ms_find(const ag_ms *m, const ms_key *k, uint32_t *slot)
{
    *slot = MS_NONE;
    if (!m->idx) return MS_NONE;
    uint32_t i = (uint32_t)k->hash & m->mask;
    for (; m->idx[i]; i = (i + 1) & m->mask) {
        uint32_t v = m->idx[i] - 1;
        if (m->vals[v].hash != (uint32_t)k->hash) continue;
        if (m->vk == 's' ? str_eq(ms_str(m, v), (spate_str){k->p, k->len})
                         : m->vals[v].bits == k->bits) {
            *slot = i;
            return v;
        }
    }
    *slot = i;
    return MS_NONE;
}

/* Doubles the index (at least 8 slots) and refills it with the live values. */
static int ms_grow_index(ag_ms *m)
{
    uint32_t slots = m->idx ? (m->mask + 1) * 2 : 8;
    if (slots == 0 || slots > (1u << 31)) return SPATE_ENOMEM;
    uint32_t *idx = calloc(slots, sizeof *idx);
    if (!idx) return SPATE_ENOMEM;
    free(m->idx);
    m->idx = idx;
    m->mask = slots - 1;
    for (uint32_t v = 0; v < m->nval; v++) {
        if (m->vals[v].cnt == 0) continue;
        uint32_t i = m->vals[v].hash & m->mask;
        while (m->idx[i])
            i = (i + 1) & m->mask;
        m->idx[i] = v + 1;
    }
    return 0;
}

/* Empties index slot i, shifting back the values probed past it (linear probing
 * without tombstones). */
static void ms_unindex(ag_ms *m, uint32_t i)
{
    for (uint32_t j = (i + 1) & m->mask; m->idx[j]; j = (j + 1) & m->mask) {
        uint32_t home = m->vals[m->idx[j] - 1].hash & m->mask;
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) { /* i lies on j's probe path */
            m->idx[i] = m->idx[j];
            i = j;
        }
    }
    m->idx[i] = 0;
}

/* -1, 0, 1 as value a is below, equal to or above value b. */
static int ms_cmp(const ag_ms *m, uint32_t a, uint32_t b)
{
    const ms_val *x = &m->vals[a], *y = &m->vals[b];
    if (m->vk == 's') {
        spate_str p = ms_str(m, a), q = ms_str(m, b);
        return str_less(p, q) ? -1 : str_less(q, p);
    }
    if (m->vk == 'i')
        return ((int64_t)x->bits > (int64_t)y->bits) - ((int64_t)x->bits < (int64_t)y->bits);
    double d, e;
    memcpy(&d, &x->bits, sizeof d);
    memcpy(&e, &y->bits, sizeof e);
    if (isnan(d) || isnan(e)) return isnan(d) - isnan(e); /* NaN above every number */
    return (d > e) - (d < e);
}

/* Value a belongs above value b in the heap. */
static int ms_above(const ag_ms *m, uint32_t a, uint32_t b)
{
    int c = ms_cmp(m, a, b);
    return m->how == '<' ? c < 0 : c > 0;
}

static void heap_put(ag_ms *m, uint32_t pos, uint32_t v)
{
    m->heap[pos] = v;
    m->vals[v].hpos = pos;
}

static void heap_up(ag_ms *m, uint32_t pos)
{
    uint32_t v = m->heap[pos];
    while (pos > 0) {
        uint32_t p = (pos - 1) / 2;
        if (!ms_above(m, v, m->heap[p])) break;
        heap_put(m, pos, m->heap[p]);
        pos = p;
    }
    heap_put(m, pos, v);
}

static void heap_down(ag_ms *m, uint32_t pos)
{
    uint32_t v = m->heap[pos];
    for (;;) {
        uint32_t c = 2 * pos + 1;
        if (c >= m->nheap) break;
        if (c + 1 < m->nheap && ms_above(m, m->heap[c + 1], m->heap[c])) c++;
        if (!ms_above(m, m->heap[c], v)) break;
        heap_put(m, pos, m->heap[c]);
        pos = c;
    }
    heap_put(m, pos, v);
}

static void heap_remove(ag_ms *m, uint32_t v)
{
    uint32_t pos = m->vals[v].hpos, last = m->heap[--m->nheap];
    if (pos == m->nheap) return;
    heap_put(m, pos, last);
    heap_up(m, pos);
    heap_down(m, m->vals[last].hpos);
}

/* Room for `more` more elements of size sz in *p (capacity *cap, n used). */
static int ms_reserve(void **p, uint32_t *cap, uint32_t n, uint32_t more, size_t sz)
{
    if (n + more <= *cap) return 0;
    uint64_t c = *cap ? *cap : 4;
    while (c < (uint64_t)n + more)
        c *= 2;
    if (c > UINT32_MAX - 1) return SPATE_ENOMEM;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q) return SPATE_ENOMEM;
    *p = q;
    *cap = (uint32_t)c;
    return 0;
}

/* The live value equal to k, made (multiplicity 0, indexed, in the heap) when
 * absent; MS_NONE when out of memory, leaving m as it was. */
static uint32_t ms_intern(ag_ms *m, const ms_key *k)
{
    uint32_t slot, v = ms_find(m, k, &slot);
    if (v != MS_NONE) return v;
    if (!m->idx || (m->live + 1) * 2 > m->mask + 1) {
        if (ms_grow_index(m)) return MS_NONE;
        ms_find(m, k, &slot);
    }
    if (m->free == MS_NONE && ms_reserve((void **)&m->vals, &m->cap, m->nval, 1, sizeof *m->vals))
        return MS_NONE;
    if ((m->how == '<' || m->how == '>') &&
        ms_reserve((void **)&m->heap, &m->cap_heap, m->nheap, 1, sizeof *m->heap))
        return MS_NONE;
    uint64_t bits = k->bits;
    if (m->vk == 's') {
        uint32_t l32 = (uint32_t)k->len;
        if (k->len > UINT32_MAX) return MS_NONE;
        if (m->slen + sizeof l32 + k->len > m->scap) {
            size_t cap = m->scap ? m->scap : 64;
            while (cap < m->slen + sizeof l32 + k->len)
                cap *= 2;
            char *q = realloc(m->str, cap);
            if (!q) return MS_NONE;
            m->str = q;
            m->scap = cap;
        }
        memcpy(m->str + m->slen, &l32, sizeof l32);
        if (k->len) memcpy(m->str + m->slen + sizeof l32, k->p, k->len);
        bits = m->slen;
        m->slen += sizeof l32 + k->len;
    }
    if (m->free != MS_NONE) {
        v = m->free;
        m->free = m->vals[v].head;
    } else {
        v = m->nval++;
    }
    m->vals[v] = (ms_val){bits, 0, (uint32_t)k->hash, 0, MS_NONE, MS_NONE};
    m->idx[slot] = v + 1;
    m->live++;
    if (m->how == '<' || m->how == '>') {
        m->heap[m->nheap++] = v;
        heap_up(m, m->nheap - 1);
    }
    return v;
}

/* Adds n instances of value v (FIRST/LAST: n = 1, with log room reserved). */
static void ms_inc(ag_ms *m, uint32_t v, int64_t n)
{
    ms_val *x = &m->vals[v];
    x->cnt += n;
    if (m->how != 'l') return;
    uint32_t pos = m->llen++;
    m->log[pos] = (ms_inst){v, MS_NONE};
    if (x->tail != MS_NONE)
        m->log[x->tail].next = pos;
    else
        x->head = pos;
    x->tail = pos;
}

/* Adds n instances of k (FIRST/LAST: n = 1). 0 or SPATE_ENOMEM (m unchanged). */
static int ms_put(ag_ms *m, const ms_key *k, int64_t n)
{
    if (m->how == 'l' && ms_reserve((void **)&m->log, &m->lcap, m->llen, 1, sizeof *m->log))
        return SPATE_ENOMEM;
    uint32_t v = ms_intern(m, k);
    if (v == MS_NONE) return SPATE_ENOMEM;
    ms_inc(m, v, n);
    return 0;
}

/* Renumbers the live instances to the front of the log. */
static void ms_log_compact(ag_ms *m)
{
    uint32_t end = m->llen;
    for (uint32_t v = 0; v < m->nval; v++)
        if (m->vals[v].cnt) m->vals[v].head = m->vals[v].tail = MS_NONE; /* free: next free */
    m->llen = 0;
    for (uint32_t pos = m->lhead; pos < end; pos++)
        if (m->log[pos].val != MS_NONE) ms_inc(m, m->log[pos].val, 0); /* to llen <= pos */
    m->lhead = m->ldead = 0;
}

/* Drops the dead instances at both ends of the log; compacts it when the dead
 * ones outnumber the live ones. */
static void ms_log_trim(ag_ms *m)
{
    while (m->lhead < m->llen && m->log[m->lhead].val == MS_NONE) {
        m->lhead++;
        m->ldead--;
    }
    while (m->llen > m->lhead && m->log[m->llen - 1].val == MS_NONE) {
        m->llen--;
        m->ldead--;
    }
    if (m->lhead == m->llen) m->lhead = m->llen = 0;
    uint32_t waste = m->lhead + m->ldead;
    if (waste > MS_SMALL && waste > m->llen - waste) ms_log_compact(m);
}

/* Removes the oldest live instance of value v at index slot `slot`. */
static void ms_dec(ag_ms *m, uint32_t v, uint32_t slot)
{
    ms_val *x = &m->vals[v];
    if (m->how == 'l') {
        uint32_t pos = x->head;
        x->head = m->log[pos].next;
        if (x->head == MS_NONE) x->tail = MS_NONE;
        m->log[pos].val = MS_NONE;
        m->ldead++;
        ms_log_trim(m);
    }
    if (--x->cnt > 0) return;
    ms_unindex(m, slot);
    if (m->how == '<' || m->how == '>') heap_remove(m, v);
    if (m->vk == 's') m->sdead += sizeof(uint32_t) + ms_str(m, v).len;
    x->head = m->free;
    m->free = v;
    m->live--;
}

static ms_key ms_key_at(const ag_ms *m, uint32_t v)
{
    if (m->vk != 's') return (ms_key){m->vals[v].bits, NULL, 0, hash_num(m->vals[v].bits)};
    spate_str x = ms_str(m, v);
    return (ms_key){0, x.ptr, x.len, hash_str(x.ptr, x.len)};
}

/* The live values of src, with their multiplicities and (FIRST/LAST) arrival
 * order, into the empty dst. 0 or SPATE_ENOMEM. */
static int ms_copy(ag_ms *dst, const ag_ms *src)
{
    if (src->how == 'l') {
        for (uint32_t i = src->lhead; i < src->llen; i++) {
            if (src->log[i].val == MS_NONE) continue;
            ms_key k = ms_key_at(src, src->log[i].val);
            if (ms_put(dst, &k, 1)) return SPATE_ENOMEM;
        }
        return 0;
    }
    for (uint32_t v = 0; v < src->nval; v++) {
        if (!src->vals[v].cnt) continue;
        ms_key k = ms_key_at(src, v);
        if (ms_put(dst, &k, src->vals[v].cnt)) return SPATE_ENOMEM;
    }
    return 0;
}

/* Rebuilds c's multiset when most of its slots, string bytes or log room are
 * dead, so that its memory follows the live values; kept as is when out of
 * memory. */
static void ms_shrink(const sp_ag_spec *s, sp_ag_cell *c)
{
    ag_ms *m = c->v.p;
    uint32_t insts = m->llen - m->lhead - m->ldead;
    int sparse = m->nval > MS_SMALL && m->live * 4 < m->nval;
    int strs = m->sdead > 16 * MS_SMALL && m->sdead * 2 > m->slen;
    int log = m->lcap > 4 * MS_SMALL && m->lcap / 8 > insts;
    if (!sparse && !strs && !log) return;
    ag_ms *n = ms_new(s);
    if (!n || ms_copy(n, m)) {
        ms_free(n);
        return;
    }
    ms_free(m);
    c->v.p = n;
}

static int ms_add_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_vec *v, uint32_t r)
{
    if (!c->v.p && !(c->v.p = ms_new(s))) return SPATE_ENOMEM;
    ms_key k = ms_key_of(c->v.p, v, r);
    int rc = ms_put(c->v.p, &k, 1);
    if (!rc) c->n++;
    return rc;
}

/* The result of a multiset cell, borrowing its strings. */
static void ms_result(const sp_ag_spec *s, const sp_ag_cell *c, sp_ag_cell *res)
{
    const ag_ms *m = c->v.p;
    *res = (sp_ag_cell){.n = 1};
    if (s->op == SP_AG_DISTINCT) {
        res->v.i = m ? m->live : 0;
        return;
    }
    if (!m || c->n == 0 || m->live == 0) {
        res->n = 0;
        return;
    }
    uint32_t v =
        m->how == 'l' ? m->log[s->op == SP_AG_FIRST ? m->lhead : m->llen - 1].val : m->heap[0];
    if (m->vk == 's')
        res->v.s = ms_str(m, v);
    else if (m->vk == 'd')
        memcpy(&res->v.d, &m->vals[v].bits, sizeof res->v.d);
    else
        res->v.i = (int64_t)m->vals[v].bits;
}

/* Checkpoint: the distinct live values, each with its multiplicity; FIRST/LAST
 * instead the live instances in arrival order, each the ordinal of an earlier
 * value + 1 or 0 followed by a new value. */
static void ms_value_out(sp_wbuf *w, const ag_ms *m, uint32_t v)
{
    if (m->vk != 's') {
        sp_w_u64(w, m->vals[v].bits);
        return;
    }
    spate_str x = ms_str(m, v);
    sp_w_bytes(w, x.ptr, x.len);
}

static void ms_out(sp_wbuf *w, ag_ms *m)
{
    if (m->how != 'l') {
        sp_w_varint(w, m->live);
        for (uint32_t v = 0; v < m->nval; v++) {
            if (!m->vals[v].cnt) continue;
            ms_value_out(w, m, v);
            sp_w_varint(w, (uint64_t)m->vals[v].cnt);
        }
        return;
    }
    uint32_t ord = 0;
    for (uint32_t v = 0; v < m->nval; v++)
        m->vals[v].hpos = MS_NONE; /* unused by FIRST/LAST: the ordinal written */
    sp_w_varint(w, m->llen - m->lhead - m->ldead);
    for (uint32_t i = m->lhead; i < m->llen; i++) {
        uint32_t v = m->log[i].val;
        if (v == MS_NONE) continue;
        if (m->vals[v].hpos != MS_NONE) {
            sp_w_varint(w, (uint64_t)m->vals[v].hpos + 1);
            continue;
        }
        m->vals[v].hpos = ord++;
        sp_w_varint(w, 0);
        ms_value_out(w, m, v);
    }
}

static ms_key ms_value_in(sp_rbuf *r, const ag_ms *m)
{
    ms_key k = {0, NULL, 0, 0};
    if (m->vk != 's') {
        k.bits = sp_r_u64(r);
        k.hash = hash_num(k.bits);
        return k;
    }
    k.p = sp_r_bytes(r, &k.len);
    if (!k.p) k.len = 0;
    k.hash = hash_str(k.p ? k.p : "", k.len);
    return k;
}

/* Reads c's multiset (c->n read); a corrupt one leaves r->err set. */
static int ms_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *c)
{
    ag_ms *m = c->v.p = ms_new(s);
    if (!m) return SPATE_ENOMEM;
    uint64_t n = sp_r_varint(r), total = 0;
    if (n > r->len - r->pos) r->err = SPATE_EPARSE; /* a byte at least each */
    uint32_t *ids = NULL, nids = 0, cap = 0;        /* FIRST/LAST: the values by ordinal */
    int rc = 0;
    for (uint64_t i = 0; i < n && !r->err && !rc; i++) {
        uint64_t tag = m->how == 'l' ? sp_r_varint(r) : 0;
        uint32_t v, slot;
        int64_t cnt = 1;
        if (tag > nids) {
            r->err = SPATE_EPARSE;
            break;
        }
        if (tag) {
            v = ids[tag - 1];
        } else {
            ms_key k = ms_value_in(r, m);
            if (m->how != 'l') cnt = (int64_t)sp_r_varint(r);
            if (r->err) break;
            if (cnt <= 0 || ms_find(m, &k, &slot) != MS_NONE) { /* each value once */
                r->err = SPATE_EPARSE;
                break;
            }
            if (m->how == 'l' && (rc = ms_reserve((void **)&ids, &cap, nids, 1, sizeof *ids)))
                break;
            if ((v = ms_intern(m, &k)) == MS_NONE) {
                rc = SPATE_ENOMEM;
                break;
            }
            if (m->how == 'l') ids[nids++] = v;
        }
        if (m->how == 'l' &&
            (rc = ms_reserve((void **)&m->log, &m->lcap, m->llen, 1, sizeof *m->log)))
            break;
        ms_inc(m, v, cnt);
        total += (uint64_t)cnt;
    }
    free(ids);
    if (!rc && !r->err && total != (uint64_t)c->n) r->err = SPATE_EPARSE;
    return rc;
}

int sp_ag_make_retract(const spate_agg *agg, sp_ag_spec *s, const char *what)
{
    if (s->op == SP_AG_HLL || s->op == SP_AG_PCTL)
        return sp_err(SPATE_EUNSUPPORTED,
                      "%s: %s of column '%s' cannot take retractions: its sketch cannot forget "
                      "a value%s",
                      what, s->op == SP_AG_HLL ? "approx_count_distinct" : "approx_percentile",
                      agg->column ? agg->column : "(null)",
                      s->op == SP_AG_HLL ? " (count_distinct can)" : "");
    s->retract = 1;
    if (ms_kind(s)) s->owns = 1;
    return 0;
}

int sp_ag_add_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_batch *b, uint32_t r)
{
    if (!ms_kind(s)) return sp_ag_fold_row(s, c, b, r); /* the counts and sums */
    const sp_vec *v = &b->cols[s->col];
    return sp_vec_is_null(v, r) ? 0 : ms_add_row(s, c, v, r);
}

int sp_ag_holds_row(const sp_ag_spec *s, const sp_ag_cell *c, const sp_batch *b, uint32_t r)
{
    if (s->op == SP_AG_COUNT) return c->n > 0;
    const sp_vec *v = &b->cols[s->col];
    if (sp_vec_is_null(v, r)) return 1;
    if (!ms_kind(s)) return c->n > 0;
    const ag_ms *m = c->v.p;
    if (!m) return 0;
    ms_key k = ms_key_of(m, v, r);
    uint32_t slot;
    return ms_find(m, &k, &slot) != MS_NONE;
}

void sp_ag_retract_row(const sp_ag_spec *s, sp_ag_cell *c, const sp_batch *b, uint32_t r)
{
    if (s->op == SP_AG_COUNT) {
        if (--c->n == 0) c->v.i = 0;
        return;
    }
    const sp_vec *v = &b->cols[s->col];
    if (sp_vec_is_null(v, r)) return;
    if (ms_kind(s)) {
        ag_ms *m = c->v.p;
        if (!m) return; /* contract: sp_ag_holds_row said yes */
        ms_key k = ms_key_of(m, v, r);
        uint32_t slot, val = ms_find(m, &k, &slot);
        if (val == MS_NONE) return; /* contract: sp_ag_holds_row said yes */
        ms_dec(m, val, slot);
        c->n--;
        ms_shrink(s, c);
        return;
    }
    switch (s->op) {
    case SP_AG_SUM_I:
        c->v.i = (int64_t)((uint64_t)c->v.i - (uint64_t)sp_vec_get_int(v, r));
        break;
    case SP_AG_SUM_D:
        c->v.d -= SP_F64(v)[r];
        break;
    case SP_AG_AVG:
        c->v.d -= v->type == SPATE_FLOAT64 ? SP_F64(v)[r] : (double)sp_vec_get_int(v, r);
        break;
    default: /* COUNT_COLUMN */
        break;
    }
    if (--c->n == 0) c->v.i = 0; /* no residue of a double sum */
}

/* -------------------------------------------------- merge, copy, release */

/* The kinds sp_ag_merge does not inline: extremes, FIRST/LAST, sets, sketches. */
int sp_ag_merge_value(const sp_ag_spec *s, sp_ag_cell *d, const sp_ag_cell *x, int src_first)
{
    int rc = 0;
    char k = val_kind(s);
    switch (s->op) {
    case SP_AG_MIN_I:
        if (d->n == 0 || x->v.i < d->v.i) d->v.i = x->v.i;
        break;
    case SP_AG_MAX_I:
        if (d->n == 0 || x->v.i > d->v.i) d->v.i = x->v.i;
        break;
    case SP_AG_MIN_D:
        if (d->n == 0 || x->v.d < d->v.d) d->v.d = x->v.d;
        break;
    case SP_AG_MAX_D:
        if (d->n == 0 || x->v.d > d->v.d) d->v.d = x->v.d;
        break;
    case SP_AG_MIN_S:
        if (d->n == 0 || str_less(x->v.s, d->v.s)) rc = take_cell(d, k, x);
        break;
    case SP_AG_MAX_S:
        if (d->n == 0 || str_less(d->v.s, x->v.s)) rc = take_cell(d, k, x);
        break;
    case SP_AG_FIRST:
        if (d->n == 0 || src_first) rc = take_cell(d, k, x);
        break;
    case SP_AG_LAST:
        if (d->n == 0 || !src_first) rc = take_cell(d, k, x);
        break;
    case SP_AG_DISTINCT:
        rc = set_merge(d, s, x->v.p);
        break;
    case SP_AG_HLL: {
        const uint8_t *xr = x->v.p;
        if (!d->v.p && !(d->v.p = calloc(HLL_M, 1))) return SPATE_ENOMEM;
        uint8_t *dr = d->v.p;
        for (uint32_t j = 0; j < HLL_M; j++)
            if (xr[j] > dr[j]) dr[j] = xr[j];
        break;
    }
    case SP_AG_PCTL:
        rc = kll_merge(d, x->v.p);
        break;
    default:
        break; /* inlined by sp_ag_merge */
    }
    if (!rc) d->n += x->n;
    return rc;
}

int sp_ag_copy(const sp_ag_spec *s, sp_ag_cell *dst, const sp_ag_cell *src)
{
    sp_ag_release(s, dst);
    return sp_ag_merge(s, dst, src, 0);
}

/* What c owns (sp_ag_release zeroes the cell after). */
void sp_ag_free(const sp_ag_spec *s, sp_ag_cell *c)
{
    if (ms_kind(s))
        ms_free(c->v.p);
    else if (val_kind(s) == 's')
        str_free(&c->v.s);
    else if (s->op == SP_AG_DISTINCT)
        set_free(c->v.p);
    else if (s->op == SP_AG_PCTL)
        kll_free(c->v.p);
    else
        free(c->v.p);
}

int sp_ag_equal(const sp_ag_spec *s, sp_ag_cell *a, sp_ag_cell *b)
{
    if (a->n != b->n) return 0;
    sp_ag_cell x, y;
    sp_ag_result(s, a, &x);
    sp_ag_result(s, b, &y);
    return sp_ag_value_equal(s, &x, &y);
}

/* ------------------------------------------------------------- results */

/* Static, so that sp_ag_write (the emission path) gets them inlined. */
static inline void result_of(const sp_ag_spec *s, sp_ag_cell *c, sp_ag_cell *res)
{
    *res = (sp_ag_cell){.n = 1};
    switch (s->op) {
    case SP_AG_COUNT:
    case SP_AG_COUNT_COL:
        res->v.i = c->n;
        return;
    case SP_AG_DISTINCT:
        res->v.i = c->v.p ? ((ag_set *)c->v.p)->n : 0;
        return;
    case SP_AG_HLL:
        res->v.i = c->v.p ? hll_estimate(c->v.p) : 0;
        return;
    default:
        break;
    }
    if (c->n == 0)
        res->n = 0;
    else if (s->op == SP_AG_AVG)
        res->v.d = c->v.d / (double)c->n;
    else if (s->op == SP_AG_PCTL)
        res->v.d = kll_quantile(c->v.p, c->n, s->param);
    else
        res->v = c->v;
}

static inline int value_write(const sp_ag_spec *s, const sp_ag_cell *res, sp_batch *out, int col,
                              uint32_t r)
{
    sp_vec *v = &out->cols[col];
    if (res->n == 0) {
        sp_ops_set_null(v, r);
        return 0;
    }
    if (s->out == SPATE_FLOAT64) {
        SP_F64(v)[r] = res->v.d;
    } else if (sp_type_is_str(s->out)) {
        char *p = sp_arena_dup(&out->arena, res->v.s.ptr, res->v.s.len);
        if (!p) return SPATE_ENOMEM;
        SP_STR(v)[r] = (spate_str){p, res->v.s.len};
    } else {
        sp_vec_put_int(v, r, res->v.i);
    }
    return 0;
}

void sp_ag_result(const sp_ag_spec *s, sp_ag_cell *c, sp_ag_cell *res)
{
    if (ms_kind(s))
        ms_result(s, c, res);
    else
        result_of(s, c, res);
}

int sp_ag_write(const sp_ag_spec *s, sp_ag_cell *c, sp_batch *out, int col, uint32_t r)
{
    sp_ag_cell res;
    result_of(s, c, &res);
    return value_write(s, &res, out, col, r);
}

int sp_ag_value_write(const sp_ag_spec *s, const sp_ag_cell *res, sp_batch *out, int col,
                      uint32_t r)
{
    return value_write(s, res, out, col, r);
}

/* Equal as emitted: doubles by their bits. */
int sp_ag_value_equal(const sp_ag_spec *s, const sp_ag_cell *a, const sp_ag_cell *b)
{
    if (a->n != b->n) return 0;
    if (a->n == 0) return 1;
    if (sp_type_is_str(s->out)) return str_eq(a->v.s, b->v.s);
    return memcmp(&a->v.i, &b->v.i, sizeof a->v.i) == 0;
}

int sp_ag_value_keep(const sp_ag_spec *s, sp_ag_cell *kept, const sp_ag_cell *res)
{
    kept->n = res->n;
    if (!sp_type_is_str(s->out)) {
        kept->v = res->v;
        return 0;
    }
    return res->n ? str_set(&kept->v.s, res->v.s.ptr, res->v.s.len) : 0;
}

void sp_ag_value_release(const sp_ag_spec *s, sp_ag_cell *kept)
{
    if (sp_type_is_str(s->out)) str_free(&kept->v.s);
    memset(kept, 0, sizeof *kept);
}

/* ---------------------------------------------------------- checkpoints
 *
 * A cell: its row count, then by kind - v.i or v.d (always), a string (when it
 * has a value), or the structure: a set's values (count, then bits or bytes),
 * the 4096 registers, a sketch's coin state and levels (count, then each
 * level's values).
 */

static void set_out(sp_wbuf *w, const ag_set *s)
{
    sp_w_varint(w, s->n);
    for (uint32_t p = 0; p < s->n; p++) {
        if (!s->strs) {
            sp_w_u64(w, s->vals[p]);
            continue;
        }
        spate_str x = set_str(s, p);
        sp_w_bytes(w, x.ptr, x.len);
    }
}

static int set_in(sp_rbuf *r, sp_ag_cell *c, const sp_ag_spec *spec)
{
    ag_set *s = set_of(c, spec);
    if (!s) return SPATE_ENOMEM;
    uint64_t n = sp_r_varint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        int rc;
        if (!s->strs) {
            uint64_t bits = sp_r_u64(r);
            rc = set_add(s, bits, NULL, 0, hash_num(bits));
        } else {
            size_t len = 0;
            const char *p = sp_r_bytes(r, &len);
            rc = p ? set_add(s, 0, p, len, hash_str(p, len)) : 0;
        }
        if (rc) return rc;
    }
    return 0;
}

static void kll_out(sp_wbuf *w, const kll *k)
{
    sp_w_u64(w, k->rng);
    sp_w_varint(w, k->nlev);
    for (uint32_t h = 0; h < k->nlev; h++) {
        sp_w_varint(w, k->lv[h].n);
        for (uint32_t i = 0; i < k->lv[h].n; i++)
            sp_w_f64(w, k->lv[h].v[i]);
    }
}

static int kll_in(sp_rbuf *r, sp_ag_cell *c)
{
    kll *k = kll_of(c);
    if (!k) return SPATE_ENOMEM;
    k->rng = sp_r_u64(r);
    uint64_t nlev = sp_r_varint(r);
    if (nlev < 1 || nlev > KLL_MAX_LEVELS || !k->rng) r->err = SPATE_EPARSE;
    for (uint32_t h = 0; h < nlev && !r->err; h++) {
        if (h == k->nlev && kll_add_level(k)) return SPATE_ENOMEM;
        uint64_t n = sp_r_varint(r);
        if (n > r->len - r->pos) r->err = SPATE_EPARSE; /* 8 bytes each: cannot be there */
        for (uint64_t i = 0; i < n && !r->err; i++) {
            double x = sp_r_f64(r);
            if (kll_append(k, h, &x, 1, 0)) return SPATE_ENOMEM;
        }
    }
    return 0;
}

void sp_ag_out(sp_wbuf *w, const sp_ag_spec *s, const sp_ag_cell *c)
{
    sp_w_varint(w, (uint64_t)c->n);
    if (ms_kind(s)) {
        if (c->n > 0) ms_out(w, c->v.p);
        return;
    }
    switch (val_kind(s)) {
    case 'i':
        sp_w_i64(w, c->v.i);
        break;
    case 'd':
        sp_w_f64(w, c->v.d);
        break;
    case 's':
        if (c->n > 0) sp_w_bytes(w, c->v.s.ptr, c->v.s.len);
        break;
    case 'p':
        if (c->n == 0) break;
        if (s->op == SP_AG_DISTINCT)
            set_out(w, c->v.p);
        else if (s->op == SP_AG_HLL)
            sp_w_raw(w, c->v.p, HLL_M);
        else
            kll_out(w, c->v.p);
        break;
    default:
        break;
    }
}

/* The value of a cell with rows; a read error leaves r->err set. */
static int cell_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *c)
{
    if (ms_kind(s)) return c->n > 0 && !r->err ? ms_in(r, s, c) : 0;
    switch (val_kind(s)) {
    case 'i':
        c->v.i = sp_r_i64(r);
        return 0;
    case 'd':
        c->v.d = sp_r_f64(r);
        return 0;
    case 's': {
        size_t len = 0;
        const char *p = c->n > 0 ? sp_r_bytes(r, &len) : NULL;
        return p ? str_set(&c->v.s, p, len) : 0;
    }
    case 'p':
        if (c->n <= 0 || r->err) return 0;
        if (s->op == SP_AG_DISTINCT) return set_in(r, c, s);
        if (s->op == SP_AG_PCTL) return kll_in(r, c);
        if (!(c->v.p = calloc(HLL_M, 1))) return SPATE_ENOMEM;
        sp_r_raw(r, c->v.p, HLL_M);
        return 0;
    default:
        return 0;
    }
}

int sp_ag_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *c)
{
    sp_ag_release(s, c);
    c->n = (int64_t)sp_r_varint(r);
    int rc = cell_in(r, s, c);
    if (rc || r->err) sp_ag_release(s, c); /* never a count without its structure */
    return rc;
}

void sp_ag_value_out(sp_wbuf *w, const sp_ag_spec *s, const sp_ag_cell *kept)
{
    sp_w_u8(w, kept->n != 0);
    if (!kept->n) return;
    if (sp_type_is_str(s->out))
        sp_w_bytes(w, kept->v.s.ptr, kept->v.s.len);
    else
        sp_w_i64(w, kept->v.i); /* a double by its bits */
}

int sp_ag_value_in(sp_rbuf *r, const sp_ag_spec *s, sp_ag_cell *kept)
{
    sp_ag_value_release(s, kept);
    kept->n = sp_r_u8(r);
    if (!kept->n) return 0;
    if (!sp_type_is_str(s->out)) {
        kept->v.i = sp_r_i64(r);
        return 0;
    }
    size_t len = 0;
    const char *p = sp_r_bytes(r, &len);
    return p ? str_set(&kept->v.s, p, len) : 0;
}

/* ------------------------------------------------------------- building */

static const char *kind_name(spate_agg_kind k)
{
    static const char *const names[] = {"?",
                                        "count",
                                        "sum",
                                        "min",
                                        "max",
                                        "avg",
                                        "count_column",
                                        "count_distinct",
                                        "approx_count_distinct",
                                        "approx_percentile",
                                        "first_value",
                                        "last_value"};
    return k >= SPATE_AGG_COUNT && k <= SPATE_AGG_LAST_VALUE ? names[k] : "?";
}

/* The cell kind and output type of agg over a column of type t; 0, or the reason
 * the column does not fit. */
static const char *pick(const spate_agg *agg, spate_type t, sp_ag_spec *s)
{
    int isint = sp_type_is_int(t), isdbl = t == SPATE_FLOAT64, isstr = sp_type_is_str(t);
    s->type = s->out = t;
    switch (agg->kind) {
    case SPATE_AGG_SUM:
        s->op = isdbl ? SP_AG_SUM_D : SP_AG_SUM_I;
        s->out = isdbl ? SPATE_FLOAT64 : SPATE_INT64;
        return isint || isdbl ? NULL : "a numeric column";
    case SPATE_AGG_AVG:
        s->op = SP_AG_AVG;
        s->out = SPATE_FLOAT64;
        return isint || isdbl ? NULL : "a numeric column";
    case SPATE_AGG_MIN:
        s->op = isdbl ? SP_AG_MIN_D : isstr ? SP_AG_MIN_S : SP_AG_MIN_I;
        break;
    case SPATE_AGG_MAX:
        s->op = isdbl ? SP_AG_MAX_D : isstr ? SP_AG_MAX_S : SP_AG_MAX_I;
        break;
    case SPATE_AGG_FIRST_VALUE:
        s->op = SP_AG_FIRST;
        break;
    case SPATE_AGG_LAST_VALUE:
        s->op = SP_AG_LAST;
        break;
    case SPATE_AGG_COUNT_COLUMN:
        s->op = SP_AG_COUNT_COL;
        s->out = SPATE_INT64;
        break;
    case SPATE_AGG_COUNT_DISTINCT:
        s->op = SP_AG_DISTINCT;
        s->out = SPATE_INT64;
        break;
    case SPATE_AGG_APPROX_COUNT_DISTINCT:
        s->op = SP_AG_HLL;
        s->out = SPATE_INT64;
        break;
    case SPATE_AGG_APPROX_PERCENTILE:
        s->op = SP_AG_PCTL;
        s->out = SPATE_FLOAT64;
        return isint || isdbl ? NULL : "a numeric column";
    default:
        break;
    }
    return NULL;
}

int sp_ag_resolve(const spate_schema *in, const spate_agg *agg, sp_ag_spec *s, spate_schema *out,
                  const char *what)
{
    if (agg->kind < SPATE_AGG_COUNT || agg->kind > SPATE_AGG_LAST_VALUE)
        return sp_err(SPATE_EINVAL, "%s: unknown aggregate kind %d", what, (int)agg->kind);
    const char *kind = kind_name(agg->kind);
    *s = (sp_ag_spec){SP_AG_COUNT, -1, SPATE_INT64, SPATE_INT64, 0, agg->param, 0};
    if (agg->kind != SPATE_AGG_COUNT) {
        s->col = agg->column ? spate_schema_find(in, agg->column) : SPATE_ENOTFOUND;
        if (s->col < 0)
            return sp_err(SPATE_ENOTFOUND, "%s: no column '%s' to %s", what,
                          agg->column ? agg->column : "(null)", kind);
        spate_type t = in->f[s->col].type;
        const char *needs = pick(agg, t, s);
        if (needs)
            return sp_err(SPATE_ETYPE, "%s: cannot %s column '%s' of type %s: it takes %s", what,
                          kind, agg->column, spate_type_name(t), needs);
        if (s->op == SP_AG_PCTL && !(agg->param >= 0 && agg->param <= 1))
            return sp_err(SPATE_EINVAL,
                          "%s: %s of column '%s' needs a quantile (param) in [0, 1], not %g", what,
                          kind, agg->column, agg->param);
        s->owns = val_kind(s) == 's' || val_kind(s) == 'p';
    }
    char name[256];
    if (agg->as)
        snprintf(name, sizeof name, "%s", agg->as);
    else if (agg->kind == SPATE_AGG_COUNT)
        snprintf(name, sizeof name, "count");
    else
        snprintf(name, sizeof name, "%s_%s", kind, agg->column);
    return spate_schema_add(out, name, s->out);
}
