/*
 * test_dstream.c - Spark's windowed DStream operations (src/ops/dstream_window.c).
 *
 * Public API only. A queue source with one_at_a_time puts item i into micro-batch
 * i+1 (interval 50 ms), so windows over known inputs have known results. That
 * placement depends on the workers keeping up with the clock; every job therefore
 * also records the batches of its source, and a run whose items did not land in
 * consecutive batches from the first one is repeated (a few times at most) rather
 * than checked against the wrong expectation. Results are the non-empty output
 * batches, rows sorted (two workers emit in no fixed order) and, with one worker,
 * also in emission order (the order keys were first seen).
 */
#include "test.h"

#include "spate.h"

#include <pthread.h>
#include <stdint.h>

enum { IV = 50, MAX_B = 16, MAX_R = 32, ROW_CAP = 64, ATTEMPTS = 4 };

typedef struct outbatch {
    int64_t time;
    char sorted[MAX_R * ROW_CAP], ordered[MAX_R * ROW_CAP];
} outbatch;

/* What a job produced: its non-empty output batches and its source's placement. */
typedef struct result {
    pthread_mutex_t mu;
    int nb;
    outbatch b[MAX_B];
    int64_t first_in;            /* time of the source's first batch, -1 before */
    int nin;
    int64_t in_time[MAX_B];      /* times of the source's non-empty batches */
    int64_t big_rows, big_sum;   /* totals of the large-window test */
    int64_t z_val[MAX_B];        /* value of key "z" per output batch, -1 if absent */
} result;

static result *result_new(void)
{
    result *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->first_in = -1;
    return r;
}

static void row_text(const spate_row *row, const spate_schema *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < spate_row_ncols(row) && len < cap; c++) {
        const char *sep = c ? "," : "";
        if (spate_schema_type(s, c) == SPATE_STRING) {
            spate_str v = spate_row_str(row, c);
            len += snprintf(buf + len, cap - len, "%s%.*s", sep, (int)v.len, v.ptr);
        } else {
            len += snprintf(buf + len, cap - len, "%s%lld", sep, (long long)spate_row_int(row, c));
        }
    }
}

static int on_output(const spate_rows *rs, int64_t time_ms, void *ud)
{
    result *res = ud;
    size_t n = spate_rows_count(rs);
    static char text[MAX_R][ROW_CAP];
    char *rows[MAX_R];
    if (n == 0) return 0;
    if (n > MAX_R || res->nb == MAX_B) return -1;
    pthread_mutex_lock(&res->mu);
    outbatch *o = &res->b[res->nb++];
    o->time = time_ms;
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        row_text(&r, spate_rows_schema(rs), text[i], ROW_CAP);
        rows[i] = text[i];
    }
    sp_test_join(o->ordered, sizeof o->ordered, rows, n);
    qsort(rows, n, sizeof rows[0], sp_test_cmp_str);
    sp_test_join(o->sorted, sizeof o->sorted, rows, n);
    pthread_mutex_unlock(&res->mu);
    return 0;
}

static int on_input(const spate_rows *rs, int64_t time_ms, void *ud)
{
    result *res = ud;
    pthread_mutex_lock(&res->mu);
    if (res->first_in < 0) res->first_in = time_ms;
    if (spate_rows_count(rs) > 0 && res->nin < MAX_B) res->in_time[res->nin++] = time_ms;
    pthread_mutex_unlock(&res->mu);
    return 0;
}

/* Item i landed in batch i+1 for every item. */
static int placement_ok(const result *r, int nitems)
{
    if (r->nin != nitems) return 0;
    for (int i = 0; i < nitems; i++)
        if (r->in_time[i] != r->first_in + (int64_t)i * IV) return 0;
    return 1;
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

/* A queue source of decl holding items (NULL-terminated), closed, recorded in res. */
static spate_stream *queue_of(spate_ctx *ctx, const char *decl, const char *const *items,
                              result *res)
{
    spate_schema *s = NULL;
    spate_queue *q;
    spate_stream *st = NULL;
    if (spate_schema_parse(decl, &s) || spate_source_queue(ctx, s, 1, &q, &st)) st = NULL;
    spate_schema_free(s);
    for (int i = 0; st && items[i]; i++) spate_queue_push(q, items[i], strlen(items[i]));
    if (st) spate_queue_close(q);
    if (st && spate_stream_foreach_batch(st, on_input, res)) st = NULL;
    return st;
}

static spate_stream *key_by1(spate_stream *in, const char *col)
{
    spate_stream *out = NULL;
    const char *cols[] = {col};
    return in && spate_key_by(in, 1, cols, &out) == 0 ? out : NULL;
}

static int count_items(const char *const *items)
{
    int n = 0;
    while (items[n]) n++;
    return n;
}

/* Builds the job's windowed stream from the source. NULL on failure. */
typedef spate_stream *(*build_fn)(spate_stream *src, const void *arg);

/* Runs a job until its source placement was as intended; NULL when it never was
 * or the job failed (reported). The caller frees the result. */
static result *run_windowed(int workers, const char *decl, const char *const *items,
                            build_fn build, const void *arg, spate_batch_fn sink)
{
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        spate_ctx *ctx = ctx_new(workers, IV);
        result *res = result_new();
        spate_stream *w = build(queue_of(ctx, decl, items, res), arg);
        int rc = w ? spate_stream_foreach_batch(w, sink ? sink : on_output, res) : -1;
        if (!rc) rc = spate_ctx_start(ctx);
        if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
        if (rc) fprintf(stderr, "  job failed (%d): %s\n", rc, spate_last_error());
        spate_ctx_free(ctx);
        if (rc) {
            free(res);
            CHECK(rc == 0);
            return NULL;
        }
        if (placement_ok(res, count_items(items))) return res;
        fprintf(stderr, "  note: items did not land in consecutive batches; retrying\n");
        free(res);
    }
    CHECK(!"the source never placed one item per micro-batch");
    return NULL;
}

/* Checks the output batches against want (NULL-terminated, rows ';'-separated). */
static void check_out(const result *r, int workers, const char *const *want)
{
    int n = count_items(want);
    CHECK_EQ_INT(r->nb, n);
    for (int i = 0; i < n && i < r->nb; i++) {
        char copy[MAX_R * ROW_CAP], sorted[MAX_R * ROW_CAP], *rows[MAX_R];
        size_t nr = 0;
        snprintf(copy, sizeof copy, "%s", want[i]);
        for (char *p = strtok(copy, ";"); p && nr < MAX_R; p = strtok(NULL, ";")) rows[nr++] = p;
        qsort(rows, nr, sizeof rows[0], sp_test_cmp_str);
        sp_test_join(sorted, sizeof sorted, rows, nr);
        CHECK_EQ_STR(r->b[i].sorted, sorted);
        if (workers == 1) CHECK_EQ_STR(r->b[i].ordered, want[i]);
    }
}

/* Output batch i came at source batch k (1-based), as its time says. */
static void check_at(const result *r, int i, int64_t k)
{
    if (i < r->nb) CHECK_EQ_INT(r->b[i].time, r->first_in + (k - 1) * IV);
}

static int sum_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    return spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
}

static int sub_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    return spate_out_set_int(out, 0, spate_row_int(a, 0) - spate_row_int(b, 0));
}

static int failing_fn(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    return -7;
}

/* ---------------------------------------------------- reduceByKeyAndWindow */

/* Batches 1..6; key b is last seen in batch 3, so it leaves the window at 6. */
static const char *const kv6[] = {"a,1\nb,2\n", "a,3\n", "b,5\nc,1\n", "c,2\n", "a,10\n",
                                  "c,4\n", NULL};
static const char *const kv5[] = {"a,1\nb,2\n", "a,3\n", "b,5\nc,1\n", "c,2\n", "a,10\n",
                                  NULL};

typedef struct win_arg {
    int64_t length, slide;
    spate_reduce_fn inv;
} win_arg;

static spate_stream *build_rbkw(spate_stream *src, const void *arg)
{
    const win_arg *a = arg;
    spate_stream *out = NULL;
    spate_stream *k = key_by1(src, "k");
    if (!k || spate_reduce_by_key_and_window(k, sum_v, a->inv, NULL, a->length, a->slide, &out))
        return NULL;
    return out;
}

static void test_rbkw_slide1(void)
{
    for (int w = 1; w <= 2; w++)
        for (int inv = 0; inv <= 1; inv++) {
            win_arg a = {3 * IV, IV, inv ? sub_v : NULL};
            result *r = run_windowed(w, "k STRING, v BIGINT", kv6, build_rbkw, &a, NULL);
            if (!r) return;
            check_out(r, w, (const char *const[]){"a,1;b,2", "a,4;b,2", "a,4;b,7;c,1",
                                                  "a,3;b,5;c,3", "a,10;b,5;c,3", "a,10;c,6",
                                                  NULL});
            for (int i = 0; i < 6; i++) check_at(r, i, i + 1);
            free(r);
        }
}

/* Slide 2: windows at batches 2 and 4; the end of input (after batch 5) computes
 * the window of batch 6, whose rows come out with the last batch's time. */
static void test_rbkw_slide2_end_of_input(void)
{
    for (int w = 1; w <= 2; w++)
        for (int inv = 0; inv <= 1; inv++) {
            win_arg a = {3 * IV, 2 * IV, inv ? sub_v : NULL};
            result *r = run_windowed(w, "k STRING, v BIGINT", kv5, build_rbkw, &a, NULL);
            if (!r) return;
            check_out(r, w, (const char *const[]){"a,4;b,2", "a,3;b,5;c,3", "a,10;c,2", NULL});
            check_at(r, 0, 2);
            check_at(r, 1, 4);
            check_at(r, 2, 5);
            free(r);
        }
}

/* Slide longer than the window: windows at 3 and 6 see only their own batch. */
static void test_rbkw_slide_beyond_length(void)
{
    win_arg a = {IV, 3 * IV, sub_v};
    result *r = run_windowed(1, "k STRING, v BIGINT", kv6, build_rbkw, &a, NULL);
    if (!r) return;
    check_out(r, 1, (const char *const[]){"b,5;c,1", "c,4", NULL});
    free(r);
}

/* ------------------------------------------ many keys: the table is rebuilt */

/* Batch 1 has 3000 keys, batches 2 and 3 only z, batch 4 y: once batch 1 leaves,
 * its keys die and the key table is rebuilt; z's window value must survive. */
static int on_big(const spate_rows *rs, int64_t time_ms, void *ud)
{
    result *res = ud;
    size_t n = spate_rows_count(rs);
    if (n == 0) return 0;
    pthread_mutex_lock(&res->mu);
    int64_t z = -1;
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        spate_str k = spate_row_str(&r, 0);
        res->big_sum += spate_row_int(&r, 1);
        if (k.len == 1 && k.ptr[0] == 'z') z = spate_row_int(&r, 1);
    }
    res->big_rows += (int64_t)n;
    if (res->nb < MAX_B) res->z_val[res->nb++] = z;
    pthread_mutex_unlock(&res->mu);
    return 0;
}

static void test_rbkw_many_keys_rebuild(void)
{
    enum { NK = 3000 };
    char *big = malloc(NK * 16);
    size_t len = 0;
    for (int j = 0; j < NK; j++) len += (size_t)sprintf(big + len, "key%d,1\n", j);
    const char *items[] = {big, "z,1\n", "z,1\n", "y,1\n", NULL};
    for (int w = 1; w <= 2; w++)
        for (int inv = 0; inv <= 1; inv++) {
            win_arg a = {2 * IV, IV, inv ? sub_v : NULL};
            result *r = run_windowed(w, "k STRING, v BIGINT", items, build_rbkw, &a, on_big);
            if (!r) break;
            /* Windows: {1}: 3000 keys; {1,2}: 3000 + z; {2,3}: z=2; {3,4}: z=1, y=1. */
            CHECK_EQ_INT(r->nb, 4);
            CHECK_EQ_INT(r->big_rows, NK + NK + 1 + 1 + 2);
            CHECK_EQ_INT(r->big_sum, NK + NK + 1 + 2 + 2);
            CHECK_EQ_INT(r->z_val[1], 1);
            CHECK_EQ_INT(r->z_val[2], 2);
            CHECK_EQ_INT(r->z_val[3], 1);
            free(r);
        }
    free(big);
}

/* ----------------------------------------------------------- reduceByWindow */

static spate_stream *build_rbw(spate_stream *src, const void *arg)
{
    const win_arg *a = arg;
    spate_stream *out = NULL;
    return spate_reduce_by_window(src, sum_v, a->inv, NULL, a->length, a->slide, &out) ? NULL
                                                                                       : out;
}

static void test_reduce_by_window(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", "4\n", "5\n", NULL};
    for (int w = 1; w <= 2; w++)
        for (int inv = 0; inv <= 1; inv++) {
            win_arg a = {2 * IV, IV, inv ? sub_v : NULL};
            result *r = run_windowed(w, "v BIGINT", items, build_rbw, &a, NULL);
            if (!r) return;
            check_out(r, w, (const char *const[]){"3", "6", "7", "9", NULL});
            free(r);
        }
}

/* ------------------------------------------------------------------ window */

static spate_stream *build_window(spate_stream *src, const void *arg)
{
    const win_arg *a = arg;
    spate_stream *out = NULL;
    return spate_window(src, a->length, a->slide, &out) ? NULL : out;
}

static void test_window_rows(void)
{
    static const char *const items[] = {"1\n", "2\n3\n", "4\n", "5\n", NULL};
    for (int w = 1; w <= 2; w++) {
        win_arg a = {3 * IV, 2 * IV, NULL};
        result *r = run_windowed(w, "v BIGINT", items, build_window, &a, NULL);
        if (!r) return;
        /* Windows at 2 {1,2} and 4 {2,3,4}; batch 4 is the last one, so no more. */
        check_out(r, w, (const char *const[]){"1;2;3", "2;3;4;5", NULL});
        check_at(r, 0, 2);
        check_at(r, 1, 4);
        free(r);
    }
}

/* ------------------------------------------------------------ countByWindow */

static int not_drop(const spate_row *in, void *ud)
{
    spate_str s = spate_row_str(in, 0);
    return !(s.len == 4 && memcmp(s.ptr, "drop", 4) == 0);
}

static spate_stream *build_cbw(spate_stream *src, const void *arg)
{
    const win_arg *a = arg;
    spate_stream *f = NULL, *out = NULL;
    if (!src || spate_filter(src, not_drop, NULL, &f)) return NULL;
    return spate_count_by_window(f, a->length, a->slide, &out) ? NULL : out;
}

/* Empty windows count 0 (the filter empties batches 3 and 4). */
static void test_count_by_window(void)
{
    static const char *const items[] = {"x\ny\n", "z\n", "drop\n", "drop\n", "w\n", NULL};
    for (int w = 1; w <= 2; w++) {
        win_arg a = {IV, IV, NULL};
        result *r = run_windowed(w, "s STRING", items, build_cbw, &a, NULL);
        if (!r) return;
        check_out(r, w, (const char *const[]){"2", "1", "0", "0", "1", NULL});
        free(r);
        a = (win_arg){2 * IV, IV, NULL};
        r = run_windowed(w, "s STRING", items, build_cbw, &a, NULL);
        if (!r) return;
        check_out(r, w, (const char *const[]){"2", "3", "1", "0", "1", NULL});
        free(r);
    }
}

/* --------------------------------------------------- countByValueAndWindow */

static spate_stream *build_cbvw(spate_stream *src, const void *arg)
{
    const win_arg *a = arg;
    spate_stream *out = NULL;
    return spate_count_by_value_and_window(src, a->length, a->slide, &out) ? NULL : out;
}

static void test_count_by_value_and_window(void)
{
    static const char *const items[] = {"a,1\na,1\nb,1\n", "a,1\nb,2\n", "b,2\n", "c,1\n",
                                        NULL};
    for (int w = 1; w <= 2; w++) {
        win_arg a = {2 * IV, IV, NULL};
        result *r = run_windowed(w, "k STRING, v BIGINT", items, build_cbvw, &a, NULL);
        if (!r) return;
        check_out(r, w,
                  (const char *const[]){"a,1,2;b,1,1", "a,1,3;b,1,1;b,2,1", "a,1,1;b,2,2",
                                        "b,2,1;c,1,1", NULL});
        free(r);
    }
}

/* ------------------------------------------------------------------ errors */

static void test_errors(void)
{
    spate_ctx *ctx = ctx_new(1, 1000);
    result *res = result_new();
    static const char *const none[] = {NULL};
    spate_stream *src = queue_of(ctx, "k STRING, v BIGINT", none, res), *out = src;
    spate_stream *k = key_by1(src, "k");
    CHECK_EQ_INT(spate_window(src, 1500, 1000, &out), SPATE_EINVAL);
    CHECK(out == NULL);
    CHECK(strstr(spate_last_error(),
                 "window duration 1500 ms must be a multiple of the batch interval 1000 ms"));
    CHECK_EQ_INT(spate_count_by_window(src, 2000, 500, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(),
                 "slide duration 500 ms must be a multiple of the batch interval 1000 ms"));
    CHECK_EQ_INT(spate_window(src, 0, 1000, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_window(src, 1000, -1000, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_reduce_by_window(src, NULL, NULL, NULL, 1000, 1000, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_reduce_by_key_and_window(src, sum_v, NULL, NULL, 1000, 1000, &out),
                 SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "spate_key_by"));
    CHECK_EQ_INT(spate_reduce_by_key_and_window(k, NULL, sub_v, NULL, 1000, 1000, &out),
                 SPATE_EINVAL);
    CHECK_EQ_INT(spate_count_by_value_and_window(NULL, 1000, 1000, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_reduce_by_key_and_window(k, sum_v, sub_v, NULL, 3000, 1000, &out), 0);
    CHECK_EQ_INT(spate_stream_schema(out) != NULL, 1);
    spate_ctx_free(ctx);
    free(res);

    ctx = ctx_new(1, 0); /* continuous style */
    res = result_new();
    src = queue_of(ctx, "k STRING, v BIGINT", none, res);
    CHECK_EQ_INT(spate_window(src, 1000, 1000, &out), SPATE_EUNSUPPORTED);
    CHECK_EQ_INT(spate_count_by_value_and_window(src, 1000, 1000, &out), SPATE_EUNSUPPORTED);
    CHECK_EQ_INT(spate_reduce_by_key_and_window(key_by1(src, "k"), sum_v, NULL, NULL, 1000, 1000,
                                                &out),
                 SPATE_EUNSUPPORTED);
    spate_ctx_free(ctx);
    free(res);
}

/* A callback error ends the job with SPATE_EUSER. */
static void test_callback_error(void)
{
    spate_ctx *ctx = ctx_new(1, IV);
    result *res = result_new();
    spate_stream *k = key_by1(queue_of(ctx, "k STRING, v BIGINT", kv5, res), "k"), *out;
    REQUIRE_OK(spate_reduce_by_key_and_window(k, failing_fn, NULL, NULL, 2 * IV, IV, &out));
    REQUIRE_OK(spate_stream_foreach_batch(out, on_output, res));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 60000), SPATE_EUSER);
    CHECK(strstr(spate_ctx_error(ctx), "returned -7"));
    spate_ctx_free(ctx);
    free(res);
}

const sp_test tests_dstream[] = {
    {"dsw_reduce_by_key_and_window_slide1", test_rbkw_slide1},
    {"dsw_reduce_by_key_and_window_slide2_end_of_input", test_rbkw_slide2_end_of_input},
    {"dsw_reduce_by_key_and_window_slide_beyond_length", test_rbkw_slide_beyond_length},
    {"dsw_reduce_by_key_and_window_many_keys_rebuild", test_rbkw_many_keys_rebuild},
    {"dsw_reduce_by_window", test_reduce_by_window},
    {"dsw_window_rows", test_window_rows},
    {"dsw_count_by_window", test_count_by_window},
    {"dsw_count_by_value_and_window", test_count_by_value_and_window},
    {"dsw_errors", test_errors},
    {"dsw_callback_error", test_callback_error},
    {NULL, NULL},
};
