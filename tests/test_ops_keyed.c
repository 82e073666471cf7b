/*
 * test_ops_keyed.c - keyed state tables, keyed aggregations and joins.
 *
 * The keytable tests drive src/state directly. The operator tests use the public
 * API only: a queue source whose pushed items become one micro-batch each
 * (batch.interval.ms = 20, one_at_a_time), or the generator for volume, results
 * collected per micro-batch with spate_stream_foreach_batch. A batch's rows are
 * compared as a sorted multiset (two workers emit in no fixed order); with one
 * worker the first-seen order is checked too.
 */
#include "test.h"

#include "core/hash.h"
#include "core/schema.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <pthread.h>
#include <stdint.h>

/* ------------------------------------------------------------- keytable */

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    if (spate_schema_parse(decl, &s)) return NULL;
    return s;
}

/* A batch of one BIGINT column holding 0..n-1 plus base. */
static sp_batch *int_batch(const spate_schema *s, uint32_t n, int64_t base)
{
    sp_batch *b = sp_batch_new(n);
    if (!b || sp_batch_reset(b, s)) return NULL;
    for (uint32_t i = 0; i < n; i++) SP_I64(&b->cols[0])[i] = base + i;
    b->n = n;
    return b;
}

static void test_keytable_insert_find_order(void)
{
    spate_schema *s = schema_of("k BIGINT");
    sp_batch *b = int_batch(s, 100, 0);
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, sizeof(int64_t)));
    /* Insert in reverse order, twice each: the second time finds the first. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 99; i >= 0; i--) {
            int ins;
            int64_t *v = sp_keytable_find_or_insert(&t, sp_hash_u64(1, (uint64_t)i), b,
                                                    (uint32_t)i, 1, &ins);
            CHECK(v != NULL);
            CHECK_EQ_INT(ins, pass == 0);
            if (pass == 0) CHECK_EQ_INT(*v, 0);
            *v += i;
        }
    CHECK_EQ_INT(sp_keytable_count(&t), 100);
    sp_batch *out = int_batch(s, 100, 1000);
    for (uint32_t e = 0; e < 100; e++) {
        CHECK_EQ_INT(*(int64_t *)sp_keytable_value(&t, e), 2 * (99 - (int64_t)e));
        CHECK_EQ_INT(sp_keytable_write_key(&t, e, out, e), 0);
        CHECK_EQ_INT(SP_I64(&out->cols[0])[e], 99 - (int64_t)e);
        CHECK_EQ_INT(sp_keytable_key_group(&t, e, 128),
                     sp_key_group(sp_hash_u64(1, 99 - e), 128));
    }
    CHECK(sp_keytable_find(&t, sp_hash_u64(1, 5), b, 5, 1) == sp_keytable_value(&t, 94));
    sp_batch *other = int_batch(s, 1, 100);
    CHECK(sp_keytable_find(&t, sp_hash_u64(1, 100), other, 0, 1) == NULL);
    sp_keytable_free(&t);
    sp_batch_free(b);
    sp_batch_free(out);
    sp_batch_free(other);
    spate_schema_free(s);
}

/* A weak hash forces long probe chains: keys must still be told apart by bytes. */
static void test_keytable_collisions(void)
{
    spate_schema *s = schema_of("k BIGINT");
    sp_batch *b = int_batch(s, 1000, 0);
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, 8));
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < 1000; i++) {
            int ins;
            int64_t *v = sp_keytable_find_or_insert(&t, i % 3, b, i, 1, &ins);
            CHECK_EQ_INT(ins, pass == 0);
            if (pass == 0) *v = i;
            else CHECK_EQ_INT(*v, i);
        }
    CHECK_EQ_INT(sp_keytable_count(&t), 1000);
    sp_keytable_free(&t);
    sp_batch_free(b);
    spate_schema_free(s);
}

static void test_keytable_grow_1e6(void)
{
    enum { N = 1000000, STEP = 1000 };
    spate_schema *s = schema_of("k BIGINT");
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, sizeof(int64_t)));
    for (int64_t base = 0; base < N; base += STEP) {
        sp_batch *b = int_batch(s, STEP, base);
        for (uint32_t i = 0; i < STEP; i++) {
            int ins;
            int64_t *v = sp_keytable_find_or_insert(&t, sp_hash_u64(7, (uint64_t)(base + i)), b, i,
                                                    1, &ins);
            if (!v || !ins) {
                CHECK(v && ins);
                return;
            }
            *v = (base + i) * 3;
        }
        sp_batch_free(b);
    }
    CHECK_EQ_INT(sp_keytable_count(&t), N);
    CHECK(((uint64_t)t.mask + 1) >= 2 * (uint64_t)N);
    CHECK_EQ_INT(((uint64_t)t.mask + 1) & t.mask, 0);
    sp_batch *b = int_batch(s, STEP, N - STEP);
    int bad = 0;
    for (uint32_t i = 0; i < STEP; i++) {
        int64_t *v = sp_keytable_find(&t, sp_hash_u64(7, (uint64_t)(N - STEP + i)), b, i, 1);
        bad += !v || *v != (int64_t)(N - STEP + i) * 3;
    }
    CHECK_EQ_INT(bad, 0);
    for (uint32_t e = 0; e < N; e += 99991)
        CHECK_EQ_INT(*(int64_t *)sp_keytable_value(&t, e), (int64_t)e * 3);
    sp_batch_free(b);
    sp_keytable_free(&t);
    spate_schema_free(s);
}

static void test_keytable_clear(void)
{
    spate_schema *s = schema_of("k BIGINT");
    sp_batch *b = int_batch(s, 100, 0);
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, 8));
    int ins;
    for (uint32_t i = 0; i < 100; i++) sp_keytable_find_or_insert(&t, i, b, i, 1, &ins);
    uint32_t slots = t.mask + 1;
    sp_keytable_clear(&t);
    CHECK_EQ_INT(sp_keytable_count(&t), 0);
    CHECK_EQ_INT(t.mask + 1, slots);
    CHECK(sp_keytable_find(&t, 5, b, 5, 1) == NULL);
    int64_t *v = sp_keytable_find_or_insert(&t, 42, b, 42, 1, &ins);
    CHECK_EQ_INT(ins, 1);
    CHECK_EQ_INT(*v, 0);
    CHECK_EQ_INT(sp_keytable_index(&t, v), 0);
    sp_keytable_free(&t);
    sp_batch_free(b);
    spate_schema_free(s);
}

/* Strings, NULLs and two-column keys: "" and NULL differ, (a, NULL) and (NULL, a)
 * differ, and write_key restores each, NULLs included. */
static void test_keytable_strings_nulls(void)
{
    spate_schema *s = schema_of("k STRING, j INT");
    sp_batch *b = sp_batch_new(8);
    REQUIRE_OK(sp_batch_reset(b, s));
    const char *ks[] = {"a", "", NULL, "a", NULL, "longer string key", "a", ""};
    int js[] = {1, 1, 1, 0, -1, 7, 1, 1}; /* -1 = NULL */
    for (uint32_t r = 0; r < 8; r++) {
        if (ks[r]) SP_STR(&b->cols[0])[r] = (spate_str){ks[r], strlen(ks[r])};
        else sp_vec_set_null(&b->cols[0], r);
        if (js[r] >= 0) SP_I32(&b->cols[1])[r] = js[r];
        else sp_vec_set_null(&b->cols[1], r);
    }
    b->n = 8;
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, 0));
    int expect_ins[] = {1, 1, 1, 1, 1, 1, 0, 0};
    for (uint32_t r = 0; r < 8; r++) {
        int ins;
        /* One hash for all: only the encoded bytes tell keys apart. */
        CHECK(sp_keytable_find_or_insert(&t, 99, b, r, 2, &ins) != NULL);
        CHECK_EQ_INT(ins, expect_ins[r]);
    }
    CHECK_EQ_INT(sp_keytable_count(&t), 6);
    sp_batch *out = sp_batch_new(8);
    REQUIRE_OK(sp_batch_reset(out, s));
    for (uint32_t e = 0; e < 6; e++) {
        REQUIRE_OK(sp_keytable_write_key(&t, e, out, e));
        CHECK_EQ_INT(sp_vec_is_null(&out->cols[0], e), ks[e] == NULL);
        CHECK_EQ_INT(sp_vec_is_null(&out->cols[1], e), js[e] < 0);
        if (ks[e]) {
            spate_str v = SP_STR(&out->cols[0])[e];
            CHECK(v.len == strlen(ks[e]) && memcmp(v.ptr, ks[e], v.len) == 0);
            CHECK(v.len == 0 || v.ptr != ks[e]); /* copied into out's arena */
        }
        if (js[e] >= 0) CHECK_EQ_INT(SP_I32(&out->cols[1])[e], js[e]);
    }
    sp_keytable_free(&t);
    sp_batch_free(b);
    sp_batch_free(out);
    spate_schema_free(s);
}

/* -0.0 and 0.0 are one key, as the runtime's hash has it. */
static void test_keytable_double_zero(void)
{
    spate_schema *s = schema_of("d DOUBLE");
    sp_batch *b = sp_batch_new(3);
    REQUIRE_OK(sp_batch_reset(b, s));
    SP_F64(&b->cols[0])[0] = 0.0;
    SP_F64(&b->cols[0])[1] = -0.0;
    SP_F64(&b->cols[0])[2] = 1.0;
    b->n = 3;
    sp_keytable t;
    REQUIRE_OK(sp_keytable_init(&t, 0));
    for (uint32_t r = 0; r < 3; r++) {
        int ins;
        CHECK(sp_keytable_find_or_insert(&t, 5, b, r, 1, &ins) != NULL);
        CHECK_EQ_INT(ins, r != 1);
    }
    CHECK_EQ_INT(sp_keytable_count(&t), 2);
    sp_keytable_free(&t);
    sp_batch_free(b);
    spate_schema_free(s);
}

static void free_batch(void *arg, sp_batch *b)
{
    (*(int *)arg)++;
    sp_batch_free(b);
}

static void test_keyrows_group(void)
{
    spate_schema *s = schema_of("k BIGINT, v BIGINT");
    sp_keyrows kr;
    REQUIRE_OK(sp_keyrows_init(&kr, 1));
    /* Side 0 gets keys 1 2 1, then 2 1; side 1 gets key 3. */
    int64_t keys[2][3] = {{1, 2, 1}, {2, 1, 0}};
    for (int i = 0; i < 2; i++) {
        sp_batch *b = sp_batch_new(4);
        REQUIRE_OK(sp_batch_reset(b, s));
        uint32_t n = i == 0 ? 3 : 2;
        for (uint32_t r = 0; r < n; r++) {
            SP_I64(&b->cols[0])[r] = keys[i][r];
            SP_I64(&b->cols[1])[r] = i * 10 + r;
            b->hashes[r] = (uint64_t)keys[i][r];
        }
        b->n = n;
        REQUIRE_OK(sp_keyrows_add(&kr, 0, b));
    }
    sp_batch *rb = sp_batch_new(1);
    REQUIRE_OK(sp_batch_reset(rb, s));
    SP_I64(&rb->cols[0])[0] = 3;
    rb->hashes[0] = 3;
    rb->n = 1;
    REQUIRE_OK(sp_keyrows_add(&kr, 1, rb));
    REQUIRE_OK(sp_keyrows_seal(&kr));
    CHECK_EQ_INT(sp_keytable_count(&kr.keys), 3);
    int64_t want[2][3] = {{0, 2, 11}, {1, 10, -1}};
    for (uint32_t e = 0; e < 2; e++) {
        CHECK_EQ_INT(sp_keyrows_slot_of(&kr, e)->count[0], e == 0 ? 3 : 2);
        for (uint32_t i = 0; i < sp_keyrows_slot_of(&kr, e)->count[0]; i++) {
            const sp_rowref *ref = sp_keyrows_row(&kr, e, 0, i);
            CHECK_EQ_INT(SP_I64(&kr.batches[ref->batch]->cols[1])[ref->row], want[e][i]);
        }
    }
    CHECK_EQ_INT(sp_keyrows_slot_of(&kr, 2)->count[0], 0);
    CHECK_EQ_INT(sp_keyrows_slot_of(&kr, 2)->count[1], 1);
    int released = 0;
    sp_keyrows_free(&kr, free_batch, &released);
    CHECK_EQ_INT(released, 3);
    spate_schema_free(s);
}

/* ------------------------------------------------- job helpers (public API) */

enum { MAX_BATCHES = 32, MAX_ROWS = 64, ROW_TEXT = 128 };

/* Every non-empty micro-batch a stream produced, as text. */
typedef struct collected {
    pthread_mutex_t mu;
    int nb;
    char sorted[MAX_BATCHES][MAX_ROWS * ROW_TEXT];   /* rows sorted, ';'-separated */
    char ordered[MAX_BATCHES][MAX_ROWS * ROW_TEXT];  /* rows as emitted */
} collected;

static void row_text(const spate_rows *rs, const spate_row *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < spate_row_ncols(r) && len < cap; c++) {
        const char *sep = c ? "," : "";
        spate_type t = spate_schema_type(spate_rows_schema(rs), c);
        if (spate_row_is_null(r, c)) len += snprintf(buf + len, cap - len, "%sNULL", sep);
        else if (t == SPATE_FLOAT64)
            len += snprintf(buf + len, cap - len, "%s%g", sep, spate_row_double(r, c));
        else if (t == SPATE_STRING || t == SPATE_BYTES) {
            spate_str s = spate_row_str(r, c);
            len += snprintf(buf + len, cap - len, "%s%.*s", sep, (int)s.len, s.ptr);
        } else
            len += snprintf(buf + len, cap - len, "%s%lld", sep, (long long)spate_row_int(r, c));
    }
}

static int collect(const spate_rows *rs, int64_t time_ms, void *ud)
{
    collected *c = ud;
    size_t n = spate_rows_count(rs);
    if (n == 0) return 0;
    static char text[MAX_ROWS][ROW_TEXT];
    char *rows[MAX_ROWS];
    pthread_mutex_lock(&c->mu);
    if (n > MAX_ROWS || c->nb == MAX_BATCHES) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        row_text(rs, &r, text[i], ROW_TEXT);
        rows[i] = text[i];
    }
    sp_test_join(c->ordered[c->nb], sizeof c->ordered[0], rows, n);
    qsort(rows, n, sizeof rows[0], sp_test_cmp_str);
    sp_test_join(c->sorted[c->nb], sizeof c->sorted[0], rows, n);
    c->nb++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static collected *collected_new(void)
{
    collected *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static spate_ctx *ctx_new(int workers, int interval_ms)
{
    spate_conf *conf = spate_conf_new();
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", workers);
    snprintf(iv, sizeof iv, "%d", interval_ms);
    spate_conf_set(conf, "workers", w);
    spate_conf_set(conf, "batch.interval.ms", iv);
    spate_ctx *ctx = NULL;
    if (spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

/* A queue source of decl, already holding items (NULL-terminated), closed. */
static spate_stream *queue_of(spate_ctx *ctx, const char *decl, const char *const *items)
{
    spate_schema *s = schema_of(decl);
    spate_queue *q;
    spate_stream *st = NULL;
    if (!s || spate_source_queue(ctx, s, 1, &q, &st)) st = NULL;
    spate_schema_free(s);
    for (int i = 0; st && items[i]; i++) spate_queue_push(q, items[i], strlen(items[i]));
    if (st) spate_queue_close(q);
    return st;
}

static spate_stream *key_by1(spate_stream *in, const char *col)
{
    spate_stream *out = NULL;
    const char *cols[] = {col};
    return in && spate_key_by(in, 1, cols, &out) == 0 ? out : NULL;
}

static int run_job(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    if (rc) return rc;
    return spate_ctx_await_termination(ctx, 60000);
}

/* Checks the collected batches: sorted rows always, emission order with one worker. */
static void check_batches(const collected *c, int workers, const char *const *want)
{
    int n = 0;
    while (want[n]) n++;
    CHECK_EQ_INT(c->nb, n);
    for (int i = 0; i < n && i < c->nb; i++) {
        char *rows[MAX_ROWS], copy[MAX_ROWS * ROW_TEXT], sorted[MAX_ROWS * ROW_TEXT];
        size_t nr = 0;
        snprintf(copy, sizeof copy, "%s", want[i]);
        for (char *p = strtok(copy, ";"); p && nr < MAX_ROWS; p = strtok(NULL, ";"))
            rows[nr++] = p;
        qsort(rows, nr, sizeof rows[0], sp_test_cmp_str);
        sp_test_join(sorted, sizeof sorted, rows, nr);
        CHECK_EQ_STR(c->sorted[i], sorted);
        if (workers == 1) CHECK_EQ_STR(c->ordered[i], want[i]);
    }
}

static const char *const kv_items[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", "a,10\n", NULL};

static int sum_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    return spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
}

/* --------------------------------------------------------- keyed op tests */

static void test_reduce_by_key_per_batch(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv_items), "k"), *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_reduce_by_key(k, sum_v, NULL, &r));
        CHECK_EQ_INT(r->nkeys, 1);
        CHECK_EQ_INT(r->partitioned, 1);
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,4;b,2", "b,5;c,1", "a,10", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

static void test_aggregate_running(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_SUM, "v", "s", 0}, {SPATE_AGG_COUNT, NULL, "n", 0}};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv_items), "k"), *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_aggregate_by_key(k, 2, aggs, 1, &r));
        CHECK_EQ_STR(spate_schema_name(spate_stream_schema(r), 1), "s");
        CHECK_EQ_INT(spate_schema_type(spate_stream_schema(r), 2), SPATE_INT64);
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,4,2;b,2,1", "b,7,2;c,1,1", "a,14,3", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

/* Every aggregate kind over INT, DOUBLE and STRING columns with NULLs; key b has
 * only NULL values, so everything but COUNT is NULL for it. */
static void test_aggregate_kinds_nulls(void)
{
    static const spate_agg aggs[] = {
        {SPATE_AGG_COUNT, NULL, "n", 0},   {SPATE_AGG_SUM, "i", "si", 0},  {SPATE_AGG_SUM, "d", "sd", 0},
        {SPATE_AGG_MIN, "i", "mini", 0},   {SPATE_AGG_MAX, "d", "maxd", 0}, {SPATE_AGG_MIN, "s", "mins", 0},
        {SPATE_AGG_MAX, "s", "maxs", 0},   {SPATE_AGG_AVG, "i", "avgi", 0}, {SPATE_AGG_AVG, "d", "avgd", 0}};
    static const char *const items[] = {
        "a,1,1.5,pear\na,,,\nb,,,\na,4,-2.5,apple\na,-2,,zebra\n", "b,,,\nb,7,,\n", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *in = queue_of(ctx, "k STRING, i INT, d DOUBLE, s STRING", items);
        spate_stream *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_aggregate_by_key(key_by1(in, "k"), 9, aggs, 0, &r));
        const spate_schema *s = spate_stream_schema(r);
        CHECK_EQ_INT(spate_schema_type(s, 2), SPATE_INT64);   /* SUM of INT */
        CHECK_EQ_INT(spate_schema_type(s, 3), SPATE_FLOAT64); /* SUM of DOUBLE */
        CHECK_EQ_INT(spate_schema_type(s, 4), SPATE_INT32);   /* MIN of INT */
        CHECK_EQ_INT(spate_schema_type(s, 6), SPATE_STRING);
        CHECK_EQ_INT(spate_schema_type(s, 8), SPATE_FLOAT64); /* AVG */
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w,
                      (const char *const[]){
                          "a,4,3,-1,-2,1.5,apple,zebra,1,-0.5;b,1,NULL,NULL,NULL,NULL,NULL,NULL,"
                          "NULL,NULL",
                          "b,2,7,NULL,7,NULL,NULL,NULL,7,NULL", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

static void test_aggregate_bad_args(void)
{
    spate_ctx *ctx = ctx_new(1, 20);
    spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT, s STRING", kv_items), "k"), *r;
    spate_agg sum_str = {SPATE_AGG_SUM, "s", "x", 0}, missing = {SPATE_AGG_MAX, "nope", "x", 0};
    CHECK_EQ_INT(spate_aggregate_by_key(k, 1, &sum_str, 0, &r), SPATE_ETYPE);
    CHECK_EQ_INT(spate_aggregate_by_key(k, 1, &missing, 0, &r), SPATE_ENOTFOUND);
    CHECK_EQ_INT(spate_aggregate_by_key(k, 0, &missing, 0, &r), SPATE_EINVAL);
    spate_ctx_free(ctx);
}

static void test_not_keyed_einval(void)
{
    spate_ctx *ctx = ctx_new(1, 20);
    spate_stream *in = queue_of(ctx, "k STRING, v BIGINT", kv_items), *r = in;
    spate_agg count = {SPATE_AGG_COUNT, NULL, "n", 0};
    CHECK_EQ_INT(spate_reduce_by_key(in, sum_v, NULL, &r), SPATE_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(spate_last_error(), "spate_key_by") != NULL);
    CHECK_EQ_INT(spate_aggregate_by_key(in, 1, &count, 0, &r), SPATE_EINVAL);
    CHECK_EQ_INT(spate_group_by_key(in, NULL, NULL, NULL, &r), SPATE_EINVAL);
    spate_ctx_free(ctx);
}

static void test_count(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *in = queue_of(ctx, "k STRING, v BIGINT", kv_items), *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_count(in, &r));
        CHECK_EQ_STR(spate_schema_name(spate_stream_schema(r), 0), "count");
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        /* Empty micro-batches count 0 (as in Spark): keep only the others. */
        char got[256] = "";
        for (int i = 0; i < c->nb; i++)
            if (strcmp(c->sorted[i], "0") != 0)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s ", c->sorted[i]);
        CHECK_EQ_STR(got, "3 2 1 ");
        spate_ctx_free(ctx);
        free(c);
    }
}

static void test_count_by_value(void)
{
    static const char *const items[] = {"a,1\na,1\nb,2\na,2\n", "a,1\n,\n,\n", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_count_by_value(queue_of(ctx, "k STRING, v BIGINT", items), &r));
        CHECK_EQ_INT(spate_schema_count(spate_stream_schema(r)), 3);
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,1,2;b,2,1;a,2,1", "a,1,1;NULL,NULL,2", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

/* combineByKey computing (sum, count) per key: the average's two halves. */
static int avg_create(const spate_row *v, spate_out *out, void *ud)
{
    spate_out_set_double(out, 0, spate_row_double(v, 0));
    return spate_out_set_int(out, 1, 1);
}

static int avg_merge_value(const spate_row *acc, const spate_row *v, spate_out *out, void *ud)
{
    spate_out_set_double(out, 0, spate_row_double(acc, 0) + spate_row_double(v, 0));
    return spate_out_set_int(out, 1, spate_row_int(acc, 1) + 1);
}

static int avg_merge_comb(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    spate_out_set_double(out, 0, spate_row_double(a, 0) + spate_row_double(b, 0));
    return spate_out_set_int(out, 1, spate_row_int(a, 1) + spate_row_int(b, 1));
}

static void test_combine_by_key(void)
{
    spate_schema *comb = schema_of("sum DOUBLE, cnt BIGINT");
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv_items), "k"), *r;
        collected *c = collected_new();
        CHECK_EQ_INT(spate_combine_by_key(k, comb, avg_create, avg_merge_value, NULL, NULL, &r),
                     SPATE_EINVAL);
        REQUIRE_OK(spate_combine_by_key(k, comb, avg_create, avg_merge_value, avg_merge_comb,
                                        NULL, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,4,2;b,2,1", "b,5,1;c,1,1", "a,10,1", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
    spate_schema_free(comb);
}

/* groupByKey callback: (n, values joined by '|', in arrival order). */
static int group_summary(const spate_group *g, spate_out *out, void *ud)
{
    char buf[128];
    size_t len = 0, n = spate_group_count(g, 0);
    spate_row key, v;
    if (spate_group_key(g, &key) || spate_row_ncols(&key) != 1) return -1;
    for (size_t i = 0; i < n; i++) {
        spate_group_get(g, 0, i, &v);
        len += snprintf(buf + len, sizeof buf - len, "%s%lld", i ? "|" : "",
                        (long long)spate_row_int(&v, 0));
    }
    spate_out_set_int(out, 0, (int64_t)n);
    spate_out_set_str(out, 1, buf, len);
    return spate_out_emit(out);
}

static void test_group_by_key_fn(void)
{
    spate_schema *os = schema_of("n BIGINT, vals STRING");
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv_items), "k"), *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_group_by_key(k, os, group_summary, NULL, &r));
        CHECK_EQ_INT(spate_schema_count(spate_stream_schema(r)), 3);
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,2,1|3;b,1,2", "b,1,5;c,1,1", "a,1,10", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
    spate_schema_free(os);
}

static void test_group_by_key_rows(void)
{
    static const char *const items[] = {"a,1\nb,2\na,3\nc,4\nb,5\n", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", items), "k"), *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_group_by_key(k, NULL, NULL, NULL, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,1;a,3;b,2;b,5;c,4", NULL});
        /* With two workers a key's rows are still adjacent. */
        CHECK(c->nb == 1 && strstr(c->ordered[0], "a,1;a,3") && strstr(c->ordered[0], "b,2;b,5"));
        spate_ctx_free(ctx);
        free(c);
    }
}

/* Two-column keys, with NULL parts, and a string key with an empty string. */
static void test_multi_column_keys(void)
{
    static const char *const items[] = {"a,1,5\na,1,6\na,,7\n,1,8\n,1,9\n\"\",1,1\n", NULL};
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0}, {SPATE_AGG_MAX, "v", "mx", 0}};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *in = queue_of(ctx, "k STRING, j INT, v BIGINT", items), *k, *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_key_by(in, 2, (const char *[]){"k", "j"}, &k));
        REQUIRE_OK(spate_aggregate_by_key(k, 2, aggs, 0, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,1,2,6;a,NULL,1,7;NULL,1,2,9;,1,1,1", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

static void test_join_kinds(void)
{
    static const char *const left[] = {"a,1\nb,2\nb,3\n", NULL};
    static const char *const right[] = {"b,20\nc,30\n", NULL};
    static const char *const want[4] = {
        "b,2,20;b,3,20", "a,1,NULL;b,2,20;b,3,20", "b,2,20;b,3,20;c,NULL,30",
        "a,1,NULL;b,2,20;b,3,20;c,NULL,30"};
    for (int w = 1; w <= 2; w++)
        for (int kind = SPATE_JOIN_INNER; kind <= SPATE_JOIN_FULL; kind++) {
            spate_ctx *ctx = ctx_new(w, 100);
            spate_stream *l = key_by1(queue_of(ctx, "k STRING, v BIGINT", left), "k");
            spate_stream *r = key_by1(queue_of(ctx, "k STRING, v BIGINT", right), "k"), *j;
            collected *c = collected_new();
            REQUIRE_OK(spate_join(l, r, (spate_join_kind)kind, &j));
            const spate_schema *s = spate_stream_schema(j);
            CHECK_EQ_INT(spate_schema_count(s), 3);
            CHECK_EQ_STR(spate_schema_name(s, 2), "v_right");
            CHECK_EQ_INT(j->nkeys, 1);
            REQUIRE_OK(spate_stream_foreach_batch(j, collect, c));
            REQUIRE_OK(run_job(ctx));
            check_batches(c, 2, (const char *const[]){want[kind - 1], NULL});
            spate_ctx_free(ctx);
            free(c);
        }
}

/* cogroup callback: (left count, right count, left values + right values). */
static int cogroup_summary(const spate_group *g, spate_out *out, void *ud)
{
    char buf[128];
    size_t len = 0;
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < spate_group_count(g, side); i++) {
            spate_row v;
            spate_group_get(g, side, i, &v);
            len += snprintf(buf + len, sizeof buf - len, "%s%lld", len ? "|" : "",
                            (long long)spate_row_int(&v, 0));
        }
    spate_out_set_int(out, 0, (int64_t)spate_group_count(g, 0));
    spate_out_set_int(out, 1, (int64_t)spate_group_count(g, 1));
    spate_out_set_str(out, 2, buf, len);
    return spate_out_emit(out);
}

static void test_cogroup(void)
{
    static const char *const left[] = {"a,1\nb,2\nb,3\n", NULL};
    static const char *const right[] = {"b,20\nc,30\n", NULL};
    spate_schema *os = schema_of("nl BIGINT, nr BIGINT, vals STRING");
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 100);
        spate_stream *l = key_by1(queue_of(ctx, "k STRING, v BIGINT", left), "k");
        spate_stream *r = key_by1(queue_of(ctx, "id STRING, x BIGINT", right), "id"), *j;
        collected *c = collected_new();
        REQUIRE_OK(spate_cogroup(l, r, os, cogroup_summary, NULL, &j));
        REQUIRE_OK(spate_stream_foreach_batch(j, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, 2, (const char *const[]){"a,1,0,1;b,2,1,2|3|20;c,0,1,30", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
    spate_schema_free(os);
}

static void test_join_errors(void)
{
    static const char *const none[] = {NULL};
    spate_ctx *ctx = ctx_new(1, 20);
    spate_stream *l = key_by1(queue_of(ctx, "k STRING, v BIGINT", none), "k");
    spate_stream *r = key_by1(queue_of(ctx, "id BIGINT, w BIGINT", none), "id"), *j = l;
    CHECK_EQ_INT(spate_join(l, r, SPATE_JOIN_INNER, &j), SPATE_ETYPE);
    CHECK(j == NULL);
    CHECK(strstr(spate_last_error(), "'k'") && strstr(spate_last_error(), "'id'"));
    spate_stream *plain = queue_of(ctx, "k STRING, v BIGINT", none);
    CHECK_EQ_INT(spate_join(l, plain, SPATE_JOIN_LEFT, &j), SPATE_EINVAL);
    spate_ctx_free(ctx);

    ctx = ctx_new(1, 0);
    l = key_by1(queue_of(ctx, "k STRING, v BIGINT", none), "k");
    r = key_by1(queue_of(ctx, "k STRING, w BIGINT", none), "k");
    CHECK_EQ_INT(spate_join(l, r, SPATE_JOIN_INNER, &j), SPATE_EUNSUPPORTED);
    CHECK(strstr(spate_last_error(), "batch.interval.ms") != NULL);
    spate_ctx_free(ctx);
}

/* Continuous style: keyed aggregations are running, in update mode. The last
 * update of each key is its total. */
typedef struct latest {
    pthread_mutex_t mu;
    int64_t val[3][200];   /* per key: last value of up to three BIGINT columns */
    int seen[200];
    int64_t updates;
} latest;

static int keep_latest(const spate_rows *rs, int64_t time_ms, void *ud)
{
    latest *l = ud;
    int ncols = spate_schema_count(spate_rows_schema(rs));
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        int64_t k = spate_schema_type(spate_rows_schema(rs), 0) == SPATE_STRING
                        ? spate_row_str(&r, 0).ptr[0] - 'a'
                        : spate_row_int(&r, 0);
        if (k < 0 || k >= 200) continue;
        for (int c = 1; c < ncols && c <= 3; c++) l->val[c - 1][k] = spate_row_int(&r, c);
        l->seen[k] = 1;
        l->updates++;
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static latest *latest_new(void)
{
    latest *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

static void test_continuous_running(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 0);
        spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv_items), "k"), *r;
        latest *l = latest_new();
        REQUIRE_OK(spate_reduce_by_key(k, sum_v, NULL, &r));
        REQUIRE_OK(spate_sink_callback(r, keep_latest, l));
        REQUIRE_OK(run_job(ctx));
        CHECK_EQ_INT(l->val[0][0], 14);
        CHECK_EQ_INT(l->val[0][1], 7);
        CHECK_EQ_INT(l->val[0][2], 1);
        CHECK(l->updates >= 3);
        spate_ctx_free(ctx);
        free(l);
    }
}

/* The generator at volume: per-key COUNT, SUM(seq) and MAX(seq), running, with one
 * and two workers, in both styles. Totals must add up, and every run must give
 * the same per-key results. */
static int gen_run(int workers, int interval_ms, latest *l)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "seq", "s", 0},
                                     {SPATE_AGG_MAX, "seq", "mx", 0}};
    spate_ctx *ctx = ctx_new(workers, interval_ms);
    spate_stream *g, *r;
    int rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", "100000", "keys", "100", NULL}, &g);
    if (!rc) rc = spate_aggregate_by_key(key_by1(g, "key"), 3, aggs, 1, &r);
    if (!rc) rc = spate_sink_callback(r, keep_latest, l);
    if (!rc) rc = run_job(ctx);
    if (rc) fprintf(stderr, "  generator job: %s\n", spate_last_error());
    spate_ctx_free(ctx);
    return rc;
}

static void test_generator_counts(void)
{
    latest *runs[4];
    const int conf[4][2] = {{1, 20}, {2, 20}, {1, 0}, {2, 0}};
    for (int i = 0; i < 4; i++) {
        runs[i] = latest_new();
        REQUIRE_OK(gen_run(conf[i][0], conf[i][1], runs[i]));
        int64_t total = 0, seqsum = 0, keys = 0;
        for (int k = 0; k < 200; k++) {
            total += runs[i]->val[0][k];
            seqsum += runs[i]->val[1][k];
            keys += runs[i]->seen[k];
        }
        CHECK_EQ_INT(total, 100000);
        CHECK_EQ_INT(seqsum, (int64_t)100000 * 99999 / 2);
        CHECK_EQ_INT(keys, 100);
        if (i > 0) {
            CHECK(memcmp(runs[i]->val, runs[0]->val, sizeof runs[0]->val) == 0);
            CHECK(memcmp(runs[i]->seen, runs[0]->seen, sizeof runs[0]->seen) == 0);
        }
    }
    for (int i = 0; i < 4; i++) free(runs[i]);
}

/* Largest value of column 0 over every row seen. */
static int keep_max(const spate_rows *rs, int64_t time_ms, void *ud)
{
    int64_t *max = ud;
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        if (spate_row_int(&r, 0) > *max) *max = spate_row_int(&r, 0);
    }
    return 0;
}

/* Stream-wide count of the generator, continuous: a running count, whose last
 * (largest) value is the total whatever the number of workers. */
static void test_generator_count_total(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 0);
        spate_stream *g, *r;
        int64_t max = 0;
        REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                     (const char *[]){"count", "100000", "keys", "100", NULL},
                                     &g));
        REQUIRE_OK(spate_count(g, &r));
        REQUIRE_OK(spate_sink_callback(r, keep_max, &max));
        REQUIRE_OK(run_job(ctx));
        CHECK_EQ_INT(max, 100000);
        spate_ctx_free(ctx);
    }
}

static int stream_reduce_max(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    for (int c = 0; c < spate_row_ncols(a); c++)
        spate_out_set_from(out, c, spate_row_int(a, 1) >= spate_row_int(b, 1) ? a : b, c);
    return 0;
}

static void test_stream_reduce(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 20);
        spate_stream *r;
        collected *c = collected_new();
        REQUIRE_OK(spate_reduce(queue_of(ctx, "k STRING, v BIGINT", kv_items), stream_reduce_max,
                                NULL, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect, c));
        REQUIRE_OK(run_job(ctx));
        check_batches(c, w, (const char *const[]){"a,3", "b,5", "a,10", NULL});
        spate_ctx_free(ctx);
        free(c);
    }
}

const sp_test tests_keyed[] = {
    {"keyed_table_insert_find_order", test_keytable_insert_find_order},
    {"keyed_table_collisions", test_keytable_collisions},
    {"keyed_table_grow_1e6", test_keytable_grow_1e6},
    {"keyed_table_clear", test_keytable_clear},
    {"keyed_table_strings_nulls", test_keytable_strings_nulls},
    {"keyed_table_double_zero", test_keytable_double_zero},
    {"keyed_rows_group", test_keyrows_group},
    {"keyed_reduce_by_key_per_batch", test_reduce_by_key_per_batch},
    {"keyed_aggregate_running", test_aggregate_running},
    {"keyed_aggregate_kinds_nulls", test_aggregate_kinds_nulls},
    {"keyed_aggregate_bad_args", test_aggregate_bad_args},
    {"keyed_not_keyed_einval", test_not_keyed_einval},
    {"keyed_count", test_count},
    {"keyed_count_by_value", test_count_by_value},
    {"keyed_combine_by_key", test_combine_by_key},
    {"keyed_group_by_key_fn", test_group_by_key_fn},
    {"keyed_group_by_key_rows", test_group_by_key_rows},
    {"keyed_multi_column_keys", test_multi_column_keys},
    {"keyed_join_kinds", test_join_kinds},
    {"keyed_cogroup", test_cogroup},
    {"keyed_join_errors", test_join_errors},
    {"keyed_continuous_running", test_continuous_running},
    {"keyed_generator_counts", test_generator_counts},
    {"keyed_generator_count_total", test_generator_count_total},
    {"keyed_stream_reduce", test_stream_reduce},
    {NULL, NULL},
};
