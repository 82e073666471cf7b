/*
 * test_vectorized.c - batch-at-a-time callbacks (spate_filter_batch,
 * spate_map_batch) give the same rows as the row callbacks they stand in for,
 * also after a row filter left a selection vector, and report failures.
 */
#include "test.h"

#include "spate.h"

#include <pthread.h>

enum { KEY = 1, VALUE = 2 }; /* generator columns: seq, key, value, ts */

typedef struct totals {
    pthread_mutex_t mu;
    int64_t rows, key_sum;
    double value_sum;
    int64_t nulls, strs;
} totals;

static int collect(const spate_rows *rows, int64_t t, void *ud)
{
    totals *tt = ud;
    pthread_mutex_lock(&tt->mu);
    for (size_t i = 0; i < spate_rows_count(rows); i++) {
        spate_row r;
        spate_rows_get(rows, i, &r);
        tt->rows++;
        tt->key_sum += spate_row_int(&r, 0);
        tt->value_sum += spate_row_double(&r, 1);
        if (spate_row_ncols(&r) > 2) {
            tt->nulls += spate_row_is_null(&r, 2);
            tt->strs += spate_row_str(&r, 2).len == 3;
        }
    }
    pthread_mutex_unlock(&tt->mu);
    return 0;
}

static int low_row(const spate_row *r, void *ud)
{
    return spate_row_double(r, VALUE) < 50.0;
}

static int even_row(const spate_row *r, void *ud)
{
    return spate_row_int(r, 0) % 2 == 0;
}

static int low_batch(const spate_cols *in, uint8_t *keep, void *ud)
{
    const double *v = spate_cols_double(in, VALUE);
    if (!v || spate_cols_int64(in, VALUE) != NULL) return -1; /* wrong type must be NULL */
    for (size_t i = 0; i < spate_cols_count(in); i++) keep[i] = v[i] < 50.0;
    return 0;
}

static int project_row(const spate_row *in, spate_out *o, void *ud)
{
    spate_out_set_int(o, 0, spate_row_int(in, KEY));
    spate_out_set_double(o, 1, spate_row_double(in, VALUE) * 2.0);
    if (spate_row_int(in, 0) % 3 == 0) spate_out_set_null(o, 2);
    else spate_out_set_str(o, 2, "abc", 3);
    return 0;
}

static int project_batch(const spate_cols *in, spate_cols *out, void *ud)
{
    const int64_t *seq = spate_cols_int64(in, 0), *key = spate_cols_int64(in, KEY);
    const double *v = spate_cols_double(in, VALUE);
    int64_t *ok = spate_cols_out_int64(out, 0);
    double *ov = spate_cols_out_double(out, 1);
    for (size_t i = 0; i < spate_cols_count(in); i++) {
        ok[i] = key[i];
        ov[i] = v[i] * 2.0;
        int rc = seq[i] % 3 == 0 ? spate_cols_set_null(out, 2, i)
                                 : spate_cols_set_str(out, 2, i, "abc", 3);
        if (rc) return -1;
    }
    return 0;
}

/* generator [-> even rows] -> filter -> map -> totals, with row or batch callbacks. */
static void run(const char *workers, int batch, int prefilter, totals *t)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(conf, &ctx));
    spate_conf_free(conf);
    spate_stream *s, *f, *m;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                 (const char *[]){"count", "50000", NULL}, &s));
    if (prefilter) REQUIRE_OK(spate_filter(s, even_row, NULL, &s));
    spate_schema *out;
    REQUIRE_OK(spate_schema_parse("key BIGINT, v2 DOUBLE, tag STRING", &out));
    if (batch) {
        REQUIRE_OK(spate_filter_batch(s, low_batch, NULL, &f));
        REQUIRE_OK(spate_map_batch(f, out, project_batch, NULL, &m));
    } else {
        REQUIRE_OK(spate_filter(s, low_row, NULL, &f));
        REQUIRE_OK(spate_map(f, out, project_row, NULL, &m));
    }
    spate_schema_free(out);
    pthread_mutex_init(&t->mu, NULL);
    REQUIRE_OK(spate_sink_callback(m, collect, t));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);
}

static void same(const totals *a, const totals *b)
{
    CHECK_EQ_INT(a->rows, b->rows);
    CHECK_EQ_INT(a->key_sum, b->key_sum);
    CHECK(a->value_sum == b->value_sum || (a->value_sum - b->value_sum) / a->value_sum < 1e-12);
    CHECK_EQ_INT(a->nulls, b->nulls);
    CHECK_EQ_INT(a->strs, b->strs);
}

static void vec_batch_equals_rows(void)
{
    for (int pre = 0; pre < 2; pre++) {
        totals rows = {0}, batch = {0};
        run("1", 0, pre, &rows);
        run("2", 1, pre, &batch);
        CHECK(rows.rows > 1000 && rows.rows < 50000);
        CHECK(rows.nulls > 0 && rows.strs > 0);
        same(&rows, &batch);
    }
}

static int failing_filter(const spate_cols *in, uint8_t *keep, void *ud)
{
    return -7;
}

static void vec_callback_failure(void)
{
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(NULL, &ctx));
    spate_stream *s, *f;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                 (const char *[]){"count", "100", NULL}, &s));
    REQUIRE_OK(spate_filter_batch(s, failing_filter, NULL, &f));
    REQUIRE_OK(spate_sink_open(f, "blackhole", NULL));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), SPATE_EUSER);
    CHECK(strstr(spate_ctx_error(ctx), "-7") != NULL);
    CHECK_EQ_INT(spate_filter_batch(NULL, failing_filter, NULL, &f), SPATE_EINVAL);
    spate_ctx_free(ctx);
}

const sp_test tests_vectorized[] = {{"vec_batch_equals_rows", vec_batch_equals_rows},
                                    {"vec_callback_failure", vec_callback_failure},
                                    {NULL, NULL}};
