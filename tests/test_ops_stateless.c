/*
 * test_ops_stateless.c - the stateless operators and the per-batch outputs,
 * through the public API only.
 *
 * Jobs read from a queue source fed with CSV text before the start (one item per
 * micro-batch with one_at_a_time) or from the generator, and end in
 * spate_stream_foreach_batch collecting rows as "v1|v2|..." text lines. Runs with
 * several workers do not keep row order, so results are compared as sorted
 * multisets. Each test runs in its own forked process (runner.c), so the
 * collection is a plain global and stdout may be redirected freely.
 */
#include "spate.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

enum { MAX_ROWS = 20000, MAX_BATCHES = 4096 };

/* Rows and batches collected by collect_fn (one collection per test process). */
typedef struct collected {
    char *rows[MAX_ROWS];
    int nrows;
    int64_t batch_time[MAX_BATCHES];
    size_t batch_rows[MAX_BATCHES];
    int nbatches;
} collected;

static collected got;

/* Formats row r as "v1|v2|..." (NULL as "null", doubles with %g). */
static void format_row(const spate_rows *rs, const spate_row *r, char *buf, size_t n)
{
    const spate_schema *s = spate_rows_schema(rs);
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < spate_row_ncols(r) && len < n; c++) {
        const char *sep = c ? "|" : "";
        int w;
        if (spate_row_is_null(r, c)) w = snprintf(buf + len, n - len, "%snull", sep);
        else if (spate_schema_type(s, c) == SPATE_FLOAT64)
            w = snprintf(buf + len, n - len, "%s%g", sep, spate_row_double(r, c));
        else if (spate_schema_type(s, c) == SPATE_STRING) {
            spate_str v = spate_row_str(r, c);
            w = snprintf(buf + len, n - len, "%s%.*s", sep, (int)v.len, v.ptr);
        } else
            w = snprintf(buf + len, n - len, "%s%lld", sep, (long long)spate_row_int(r, c));
        len += (size_t)w;
    }
}

static int collect_fn(const spate_rows *rs, int64_t time_ms, void *ud)
{
    collected *c = ud;
    if (c->nbatches < MAX_BATCHES) {
        c->batch_time[c->nbatches] = time_ms;
        c->batch_rows[c->nbatches++] = spate_rows_count(rs);
    }
    for (size_t i = 0; i < spate_rows_count(rs) && c->nrows < MAX_ROWS; i++) {
        spate_row r;
        char buf[512];
        if (spate_rows_get(rs, i, &r)) return -1;
        format_row(rs, &r, buf, sizeof buf);
        c->rows[c->nrows++] = strdup(buf);
    }
    return 0;
}

static void collect_reset(collected *c)
{
    for (int i = 0; i < c->nrows; i++) free(c->rows[i]);
    memset(c, 0, sizeof *c);
}

/* Checks that the collected rows equal want[0..n) as multisets. */
static void check_rows(collected *c, const char *const *want, int n)
{
    const char *sorted[64];
    CHECK(n <= 64);
    memcpy(sorted, want, (size_t)n * sizeof *want);
    qsort(sorted, (size_t)n, sizeof *sorted, sp_test_cmp_str);
    qsort(c->rows, (size_t)c->nrows, sizeof *c->rows, sp_test_cmp_str);
    CHECK_EQ_INT(c->nrows, n);
    for (int i = 0; i < n && i < c->nrows; i++) CHECK_EQ_STR(c->rows[i], sorted[i]);
}

static spate_ctx *new_ctx(const char *workers, const char *interval)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_conf_set(conf, "batch.interval.ms", interval);
    spate_ctx *ctx = NULL;
    int rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    CHECK_EQ_INT(rc, 0);
    return ctx;
}

/* A queue stream of decl, fed with the NULL-terminated items and closed. */
static spate_stream *queue_of(spate_ctx *ctx, const char *decl, const char *const *items)
{
    spate_schema *schema = NULL;
    spate_queue *q = NULL;
    spate_stream *s = NULL;
    CHECK_EQ_INT(spate_schema_parse(decl, &schema), 0);
    CHECK_EQ_INT(spate_source_queue(ctx, schema, 1, &q, &s), 0);
    spate_schema_free(schema);
    for (int i = 0; q && items[i]; i++)
        CHECK_EQ_INT(spate_queue_push(q, items[i], strlen(items[i])), 0);
    if (q) spate_queue_close(q);
    return s;
}

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    CHECK_EQ_INT(spate_schema_parse(decl, &s), 0);
    return s;
}

/* Starts the job and waits for it; returns what await returned. */
static int run_job(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    if (rc) return rc;
    return spate_ctx_await_termination(ctx, 30000);
}

static void check_error_mentions(spate_ctx *ctx, const char *what)
{
    const char *msg = spate_ctx_error(ctx);
    if (!msg || !strstr(msg, what)) {
        fprintf(stderr, "  job error \"%s\" does not mention \"%s\"\n", msg ? msg : "(null)",
                what);
        sp_test_failures++;
    }
}

static void check_last_error_mentions(const char *what)
{
    if (!strstr(spate_last_error(), what)) {
        fprintf(stderr, "  last error \"%s\" does not mention \"%s\"\n", spate_last_error(),
                what);
        sp_test_failures++;
    }
}

/* The (workers, interval) combinations most tests run under. */
static const char *const configs[][2] = {{"1", "0"}, {"2", "0"}, {"1", "20"}, {"2", "20"}};
enum { NCONFIGS = 4 };

/* ---------------------------------------------------------------------- map */

static int times_ten(const spate_row *in, spate_out *out, void *ud)
{
    char buf[64];
    spate_str s = spate_row_str(in, 1);
    int n = snprintf(buf, sizeof buf, "%.*s!", (int)s.len, s.ptr);
    spate_out_set_int(out, 0, spate_row_int(in, 0) * 10);
    if (!spate_row_is_null(in, 1)) spate_out_set_str(out, 1, buf, (size_t)n);
    return 0;
}

static void ops_map_rows(void)
{
    static const char *const items[] = {"1,a\n2,b\n", "3,\n", NULL};
    static const char *const want[] = {"10|a!", "20|b!", "30|null"};
    for (int k = 0; k < NCONFIGS; k++) {
        collect_reset(&got);
        spate_ctx *ctx = new_ctx(configs[k][0], configs[k][1]);
        spate_stream *s = queue_of(ctx, "x BIGINT, s STRING", items), *r, *m;
        spate_schema *out = schema_of("y BIGINT, t STRING");
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_map(r, out, times_ten, NULL, &m));
        spate_schema_free(out);
        CHECK_EQ_STR(spate_schema_name(spate_stream_schema(m), 1), "t");
        REQUIRE_OK(spate_stream_foreach_batch(m, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        check_rows(&got, want, 3);
        spate_ctx_free(ctx);
    }
}

static atomic_long seen_rows;

static int count_and_keep(const spate_row *in, void *ud)
{
    atomic_fetch_add(&seen_rows, 1);
    return 1;
}

static int double_value(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(in, 0));
    spate_out_set_int(out, 1, spate_row_int(in, 0) * 2);
    return 0;
}

static void ops_map_generator_two_workers(void)
{
    collect_reset(&got);
    atomic_store(&seen_rows, 0);
    spate_ctx *ctx = new_ctx("2", "0");
    spate_stream *g, *f, *m;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "5000", NULL},
                                 &g));
    REQUIRE_OK(spate_filter(g, count_and_keep, NULL, &f));
    spate_schema *out = schema_of("seq BIGINT, twice BIGINT");
    REQUIRE_OK(spate_map(f, out, double_value, NULL, &m));
    spate_schema_free(out);
    REQUIRE_OK(spate_stream_foreach_batch(m, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    CHECK_EQ_INT(atomic_load(&seen_rows), 5000);
    CHECK_EQ_INT(got.nrows, 5000);
    long long sum = 0;
    for (int i = 0; i < got.nrows; i++) {
        long long seq, twice;
        CHECK(sscanf(got.rows[i], "%lld|%lld", &seq, &twice) == 2);
        CHECK_EQ_INT(twice, 2 * seq);
        sum += seq;
    }
    CHECK_EQ_INT(sum, 4999LL * 5000 / 2);
    spate_ctx_free(ctx);
}

static void ops_map_bad_arguments(void)
{
    spate_ctx *ctx = new_ctx("1", "0"), *other = new_ctx("1", "0");
    static const char *const items[] = {NULL};
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *t = queue_of(other, "x BIGINT", items);
    spate_stream *o = (spate_stream *)1;
    spate_schema *out = schema_of("y BIGINT"), *empty = spate_schema_new();
    CHECK_EQ_INT(spate_map(NULL, out, times_ten, NULL, &o), SPATE_EINVAL);
    CHECK(o == NULL);
    CHECK_EQ_INT(spate_map(s, out, NULL, NULL, &o), SPATE_EINVAL);
    check_last_error_mentions("map");
    CHECK_EQ_INT(spate_map(s, NULL, times_ten, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_map(s, empty, times_ten, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_map(s, out, times_ten, NULL, NULL), SPATE_EINVAL);
    CHECK_EQ_INT(spate_flat_map(s, out, NULL, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_filter(s, NULL, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_transform(s, out, NULL, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_glom(NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_repartition(NULL, 2, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_union(s, t, &o), SPATE_EINVAL);
    check_last_error_mentions("context");
    CHECK_EQ_INT(spate_union(s, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_stream_print(NULL, 3), SPATE_EINVAL);
    CHECK_EQ_INT(spate_stream_print(s, -1), SPATE_EINVAL);
    CHECK_EQ_INT(spate_stream_foreach_batch(s, NULL, NULL), SPATE_EINVAL);
    CHECK(spate_stream_schema(NULL) == NULL);
    REQUIRE_OK(spate_stream_foreach_batch(s, collect_fn, &got));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_map(s, out, times_ten, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_schema_free(out);
    spate_schema_free(empty);
    spate_ctx_free(ctx);
    spate_ctx_free(other);
}

static int fail_on_two(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(in, 0));
    return spate_row_int(in, 0) == 2 ? -1 : 0;
}

static int wrong_type(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_str(out, 0, "oops", 4);
    return 0;
}

static void ops_map_callback_failure(void)
{
    static const char *const items[] = {"1\n2\n3\n", NULL};
    spate_map_fn fns[2] = {fail_on_two, wrong_type};
    int want[2] = {SPATE_EUSER, SPATE_ETYPE};
    for (int k = 0; k < 2; k++) {
        spate_ctx *ctx = new_ctx("2", k ? "20" : "0");
        spate_stream *s = queue_of(ctx, "x BIGINT", items), *m;
        spate_schema *out = schema_of("y BIGINT");
        REQUIRE_OK(spate_map(s, out, fns[k], NULL, &m));
        spate_schema_free(out);
        REQUIRE_OK(spate_stream_foreach_batch(m, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), want[k]);
        check_error_mentions(ctx, "map");
        if (k == 1) check_error_mentions(ctx, "'y'");
        spate_ctx_free(ctx);
    }
}

/* ----------------------------------------------------------------- flat_map */

/* x copies of (x, i); a last row is started but never emitted: it must vanish. */
static int repeat_x(const spate_row *in, spate_out *out, void *ud)
{
    int64_t x = spate_row_int(in, 0);
    for (int64_t i = 0; i < x; i++) {
        spate_out_set_int(out, 0, x);
        spate_out_set_int(out, 1, i);
        if (spate_out_emit(out)) return -1;
    }
    spate_out_set_int(out, 0, -1);
    return 0;
}

static void ops_flat_map_rows(void)
{
    static const char *const items[] = {"0\n1\n2\n", "3\n", NULL};
    static const char *const want[] = {"1|0", "2|0", "2|1", "3|0", "3|1", "3|2"};
    for (int k = 0; k < NCONFIGS; k++) {
        collect_reset(&got);
        spate_ctx *ctx = new_ctx(configs[k][0], configs[k][1]);
        spate_stream *s = queue_of(ctx, "x BIGINT", items), *r, *m;
        spate_schema *out = schema_of("x BIGINT, i BIGINT");
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_flat_map(r, out, repeat_x, NULL, &m));
        spate_schema_free(out);
        REQUIRE_OK(spate_stream_foreach_batch(m, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        check_rows(&got, want, 6);
        spate_ctx_free(ctx);
    }
}

/* One input row fanning out over several output batches. */
static void ops_flat_map_many_batches(void)
{
    static const char *const items[] = {"5000\n", "1\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("1", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *m;
    spate_schema *out = schema_of("x BIGINT, i BIGINT");
    REQUIRE_OK(spate_flat_map(s, out, repeat_x, NULL, &m));
    spate_schema_free(out);
    REQUIRE_OK(spate_stream_foreach_batch(m, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    CHECK_EQ_INT(got.nrows, 5001);
    long long sum = 0;
    for (int i = 0; i < got.nrows; i++) {
        long long x, j;
        CHECK(sscanf(got.rows[i], "%lld|%lld", &x, &j) == 2);
        sum += j;
    }
    CHECK_EQ_INT(sum, 4999LL * 5000 / 2);
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------------------- filter */

static atomic_long filter_calls[2];

static int keep_even(const spate_row *in, void *ud)
{
    atomic_fetch_add(&filter_calls[0], 1);
    return spate_row_int(in, 0) % 2 == 0;
}

static int keep_multiple_of_three(const spate_row *in, void *ud)
{
    atomic_fetch_add(&filter_calls[1], 1);
    return spate_row_int(in, 0) % 3 == 0;
}

static void ops_filter_selection(void)
{
    static const char *const items[] = {"1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n7,g\n8,h\n9,i\n10,j\n",
                                        "11,k\n12,l\n", NULL};
    static const char *const want[] = {"6|f", "12|l"};
    for (int k = 0; k < NCONFIGS; k++) {
        collect_reset(&got);
        atomic_store(&filter_calls[0], 0);
        atomic_store(&filter_calls[1], 0);
        spate_ctx *ctx = new_ctx(configs[k][0], configs[k][1]);
        spate_stream *s = queue_of(ctx, "x BIGINT, s STRING", items), *r, *f1, *f2;
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_filter(r, keep_even, NULL, &f1));
        REQUIRE_OK(spate_filter(f1, keep_multiple_of_three, NULL, &f2));
        CHECK_EQ_STR(spate_schema_name(spate_stream_schema(f2), 1), "s");
        REQUIRE_OK(spate_stream_foreach_batch(f2, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        check_rows(&got, want, 2);
        /* The second filter sees only the rows the first selected. */
        CHECK_EQ_INT(atomic_load(&filter_calls[0]), 12);
        CHECK_EQ_INT(atomic_load(&filter_calls[1]), 6);
        spate_ctx_free(ctx);
    }
}

static int filter_fails(const spate_row *in, void *ud)
{
    return spate_row_int(in, 0) == 3 ? -5 : 1;
}

static void ops_filter_callback_failure(void)
{
    static const char *const items[] = {"1\n2\n3\n4\n", NULL};
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *f;
    REQUIRE_OK(spate_filter(s, filter_fails, NULL, &f));
    REQUIRE_OK(spate_stream_foreach_batch(f, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), SPATE_EUSER);
    check_error_mentions(ctx, "filter");
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------------------- key_by */

static void ops_key_by_column_order(void)
{
    static const char *const items[] = {"1,x,1.5\n2,y,2.5\n", "3,z,-1\n", NULL};
    static const char *const want[] = {"1.5|1|x", "2.5|2|y", "-1|3|z"};
    for (int k = 0; k < NCONFIGS; k++) {
        collect_reset(&got);
        spate_ctx *ctx = new_ctx(configs[k][0], configs[k][1]);
        spate_stream *s = queue_of(ctx, "a BIGINT, b STRING, c DOUBLE", items), *r, *kb;
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_key_by(r, 2, (const char *[]){"c", "a"}, &kb));
        const spate_schema *sc = spate_stream_schema(kb);
        CHECK_EQ_INT(spate_schema_count(sc), 3);
        CHECK_EQ_STR(spate_schema_name(sc, 0), "c");
        CHECK_EQ_STR(spate_schema_name(sc, 1), "a");
        CHECK_EQ_STR(spate_schema_name(sc, 2), "b");
        CHECK_EQ_INT(spate_schema_type(sc, 0), SPATE_FLOAT64);
        REQUIRE_OK(spate_stream_foreach_batch(kb, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        check_rows(&got, want, 3);
        spate_ctx_free(ctx);
    }
}

static void ops_key_by_errors(void)
{
    static const char *const items[] = {NULL};
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *s = queue_of(ctx, "a BIGINT, b STRING, c DOUBLE", items), *o;
    CHECK_EQ_INT(spate_key_by(s, 1, (const char *[]){"zz"}, &o), SPATE_ENOTFOUND);
    check_last_error_mentions("'zz'");
    check_last_error_mentions("a, b, c");
    CHECK_EQ_INT(spate_key_by(s, 2, (const char *[]){"a", "a"}, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_key_by(s, 0, (const char *[]){"a"}, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_key_by(s, 4, (const char *[]){"a", "b", "c", "a"}, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_key_by(s, 1, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_key_by(s, 1, (const char *[]){NULL}, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_key_by(NULL, 1, (const char *[]){"a"}, &o), SPATE_EINVAL);
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------ map_values and co. */

static atomic_int value_view_ok = 1;

/* Value view of (k | v, w): v * 100 + w, and checks the view hides the key. */
static int combine_values(const spate_row *in, spate_out *out, void *ud)
{
    if (spate_row_ncols(in) != 2) atomic_store(&value_view_ok, 0);
    spate_out_set_int(out, 0, spate_row_int(in, 0) * 100 + spate_row_int(in, 1));
    return 0;
}

static int split_values(const spate_row *in, spate_out *out, void *ud)
{
    for (int c = 0; c < 2; c++) {
        spate_out_set_int(out, 0, spate_row_int(in, c));
        if (spate_out_emit(out)) return -1;
    }
    return 0;
}

static void ops_map_values_keeps_keys(void)
{
    static const char *const items[] = {"1,a,2\n3,b,4\n", "5,a,6\n", NULL};
    static const char *const want_map[] = {"a|102", "b|304", "a|506"};
    static const char *const want_flat[] = {"a|1", "a|2", "b|3", "b|4", "a|5", "a|6"};
    for (int k = 0; k < NCONFIGS * 2; k++) {
        collect_reset(&got);
        atomic_store(&value_view_ok, 1);
        int flat = k >= NCONFIGS;
        spate_ctx *ctx = new_ctx(configs[k % NCONFIGS][0], configs[k % NCONFIGS][1]);
        spate_stream *s = queue_of(ctx, "v BIGINT, k STRING, w BIGINT", items), *r, *kb, *mv;
        spate_schema *vs = schema_of("out BIGINT");
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_key_by(r, 1, (const char *[]){"k"}, &kb));
        if (flat) REQUIRE_OK(spate_flat_map_values(kb, vs, split_values, NULL, &mv));
        else REQUIRE_OK(spate_map_values(kb, vs, combine_values, NULL, &mv));
        spate_schema_free(vs);
        const spate_schema *sc = spate_stream_schema(mv);
        CHECK_EQ_INT(spate_schema_count(sc), 2);
        CHECK_EQ_STR(spate_schema_name(sc, 0), "k");
        CHECK_EQ_STR(spate_schema_name(sc, 1), "out");
        REQUIRE_OK(spate_stream_foreach_batch(mv, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        if (flat) check_rows(&got, want_flat, 6);
        else check_rows(&got, want_map, 3);
        CHECK(atomic_load(&value_view_ok));
        spate_ctx_free(ctx);
    }
}

/* Filters see the whole keyed row (k, v). */
static int keep_even_value(const spate_row *in, void *ud)
{
    return spate_row_int(in, 1) % 2 == 0;
}

static int copy_value(const spate_row *in, spate_out *out, void *ud)
{
    return spate_out_set_from(out, 0, in, 0);
}

/* Keys survive a filter between key_by and map_values. */
static void ops_map_values_after_filter(void)
{
    static const char *const items[] = {"1,a\n2,b\n3,c\n4,d\n", NULL};
    static const char *const want[] = {"b|2", "d|4"};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "v BIGINT, k STRING", items), *kb, *f, *mv;
    spate_schema *vs = schema_of("v2 BIGINT");
    REQUIRE_OK(spate_key_by(s, 1, (const char *[]){"k"}, &kb));
    REQUIRE_OK(spate_filter(kb, keep_even_value, NULL, &f));
    REQUIRE_OK(spate_map_values(f, vs, copy_value, NULL, &mv));
    spate_schema_free(vs);
    REQUIRE_OK(spate_stream_foreach_batch(mv, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    check_rows(&got, want, 2);
    spate_ctx_free(ctx);
}

static void ops_map_values_errors(void)
{
    static const char *const items[] = {NULL};
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *s = queue_of(ctx, "v BIGINT, k STRING", items), *kb, *o;
    spate_schema *vs = schema_of("v2 BIGINT"), *clash = schema_of("k BIGINT");
    CHECK_EQ_INT(spate_map_values(s, vs, combine_values, NULL, &o), SPATE_EINVAL);
    check_last_error_mentions("key_by");
    REQUIRE_OK(spate_key_by(s, 1, (const char *[]){"k"}, &kb));
    CHECK_EQ_INT(spate_map_values(kb, clash, combine_values, NULL, &o), SPATE_EINVAL);
    check_last_error_mentions("'k'");
    CHECK_EQ_INT(spate_map_values(kb, NULL, combine_values, NULL, &o), SPATE_EINVAL);
    CHECK_EQ_INT(spate_flat_map_values(kb, vs, NULL, NULL, &o), SPATE_EINVAL);
    spate_schema_free(vs);
    spate_schema_free(clash);
    spate_ctx_free(ctx);
}

/* -------------------------------------------------------- union, repartition */

/* union of a and b; with mixed, a stays on worker 0 (queue) while b is spread. */
static void run_union(int mixed)
{
    static const char *const a_items[] = {"1,a\n2,b\n", NULL};
    static const char *const b_items[] = {"3,c\n", "4,d\n", NULL};
    static const char *const want[] = {"1|a", "2|b", "3|c", "4|d"};
    for (int k = 0; k < NCONFIGS; k++) {
        collect_reset(&got);
        spate_ctx *ctx = new_ctx(configs[k][0], configs[k][1]);
        spate_stream *a = queue_of(ctx, "x BIGINT, s STRING", a_items), *ra;
        spate_stream *b = queue_of(ctx, "y BIGINT, t STRING", b_items), *rb, *u;
        REQUIRE_OK(spate_repartition(b, 0, &rb));
        if (mixed) ra = a;
        else REQUIRE_OK(spate_repartition(a, 0, &ra));
        REQUIRE_OK(spate_union(ra, rb, &u));
        CHECK_EQ_STR(spate_schema_name(spate_stream_schema(u), 0), "x");
        REQUIRE_OK(spate_stream_foreach_batch(u, collect_fn, &got));
        CHECK_EQ_INT(run_job(ctx), 0);
        check_rows(&got, want, 4);
        spate_ctx_free(ctx);
    }
}

static void ops_union_streams(void)
{
    run_union(0);
}

static void ops_union_single_and_parallel(void)
{
    run_union(1);
}

static void ops_union_schema_mismatch(void)
{
    static const char *const items[] = {NULL};
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *a = queue_of(ctx, "x BIGINT", items), *b = queue_of(ctx, "s STRING", items);
    spate_stream *c = queue_of(ctx, "x BIGINT, y BIGINT", items), *o = NULL;
    CHECK_EQ_INT(spate_union(a, b, &o), SPATE_ETYPE);
    check_last_error_mentions("s STRING");
    CHECK_EQ_INT(spate_union(a, c, &o), SPATE_ETYPE);
    CHECK(o == NULL);
    spate_ctx_free(ctx);
}

/* ---------------------------------------------------------------------- glom */

static void ops_glom_json(void)
{
    static const char *const items[] = {
        "1,a,true,1.5,2024-05-01T12:00:00Z\n"
        "2,,false,,\n"
        "3,\"say \"\"hi\"\"\",true,0.1,\n",
        NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("1", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT, s STRING, b BOOL, d DOUBLE, ts TIMESTAMP", items);
    spate_stream *g;
    REQUIRE_OK(spate_glom(s, &g));
    const spate_schema *sc = spate_stream_schema(g);
    CHECK_EQ_STR(spate_schema_name(sc, 0), "partition");
    CHECK_EQ_INT(spate_schema_type(sc, 0), SPATE_INT32);
    CHECK_EQ_INT(spate_schema_type(sc, 1), SPATE_INT64);
    CHECK_EQ_INT(spate_schema_type(sc, 2), SPATE_STRING);
    REQUIRE_OK(spate_stream_foreach_batch(g, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    int found = 0;
    for (int i = 0; i < got.nrows; i++) {
        if (strncmp(got.rows[i], "0|0|", 4) == 0) {
            CHECK_EQ_STR(got.rows[i], "0|0|[]");
            continue;
        }
        found++;
        CHECK_EQ_STR(got.rows[i], "0|3|[[1,\"a\",true,1.5,\"2024-05-01T12:00:00Z\"],"
                                  "[2,null,false,null,null],[3,\"say \\\"hi\\\"\",true,0.1,null]]");
    }
    CHECK_EQ_INT(found, 1);
    spate_ctx_free(ctx);
}

/* Every partition gives one row per micro-batch, empty ones included. */
static void ops_glom_partitions(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", "4\n5\n6\n", "7\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *r, *g;
    REQUIRE_OK(spate_repartition(s, 0, &r));
    REQUIRE_OK(spate_glom(r, &g));
    REQUIRE_OK(spate_stream_foreach_batch(g, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    long long total = 0;
    int rows_of[2] = {0, 0}, nonempty[2] = {0, 0};
    for (int b = 0; b < got.nbatches; b++) CHECK_EQ_INT(got.batch_rows[b], 2);
    for (int i = 0; i < got.nrows; i++) {
        int part = -1;
        long long n = -1;
        CHECK(sscanf(got.rows[i], "%d|%lld|", &part, &n) == 2);
        CHECK(part == 0 || part == 1);
        if (part < 0 || part > 1) continue;
        rows_of[part]++;
        nonempty[part] += n > 0;
        total += n;
    }
    CHECK_EQ_INT(total, 7);
    CHECK_EQ_INT(rows_of[0], rows_of[1]);
    CHECK(nonempty[0] > 0 && nonempty[1] > 0);
    spate_ctx_free(ctx);
}

static void ops_glom_continuous(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *g;
    REQUIRE_OK(spate_glom(s, &g));
    REQUIRE_OK(spate_stream_foreach_batch(g, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    long long total = 0;
    for (int i = 0; i < got.nrows; i++) {
        long long n = 0;
        CHECK(sscanf(got.rows[i], "0|%lld|", &n) == 1);
        CHECK(n > 0);
        total += n;
    }
    CHECK_EQ_INT(total, 3);
    spate_ctx_free(ctx);
}

/* ----------------------------------------------------------------- transform */

/* One row per call: (rows, sum of x, batch time). */
static int count_and_sum(const spate_rows *in, spate_out *out, void *ud)
{
    int64_t sum = 0;
    for (size_t i = 0; i < spate_rows_count(in); i++) {
        spate_row r;
        if (spate_rows_get(in, i, &r)) return -1;
        sum += spate_row_int(&r, 0);
    }
    spate_out_set_int(out, 0, (int64_t)spate_rows_count(in));
    spate_out_set_int(out, 1, sum);
    spate_out_set_int(out, 2, spate_rows_time(in));
    return spate_out_emit(out);
}

static void ops_transform_whole_batch(void)
{
    static const char *const items[] = {"1\n2\n3\n4\n5\n", "10\n20\n30\n40\n50\n",
                                        "100\n200\n300\n400\n500\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *r, *t;
    spate_schema *out = schema_of("n BIGINT, sum BIGINT, time BIGINT");
    REQUIRE_OK(spate_repartition(s, 0, &r));
    REQUIRE_OK(spate_transform(r, out, count_and_sum, NULL, &t));
    spate_schema_free(out);
    REQUIRE_OK(spate_stream_foreach_batch(t, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    /* One transform row per micro-batch, carrying that micro-batch's time. */
    CHECK_EQ_INT(got.nrows, got.nbatches);
    int nonempty = 0;
    for (int i = 0; i < got.nrows && i < got.nbatches; i++) {
        long long n, sum, time;
        CHECK(sscanf(got.rows[i], "%lld|%lld|%lld", &n, &sum, &time) == 3);
        CHECK_EQ_INT(time, got.batch_time[i]);
        if (n == 0) continue;
        CHECK_EQ_INT(n, 5);
        CHECK(sum == 15 || sum == 150 || sum == 1500);
        nonempty++;
    }
    CHECK_EQ_INT(nonempty, 3);
    spate_ctx_free(ctx);
}

static void ops_transform_continuous(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "0");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *r, *t;
    spate_schema *out = schema_of("n BIGINT, sum BIGINT, time BIGINT");
    REQUIRE_OK(spate_repartition(s, 0, &r));
    REQUIRE_OK(spate_transform(r, out, count_and_sum, NULL, &t));
    spate_schema_free(out);
    REQUIRE_OK(spate_stream_foreach_batch(t, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    long long n_total = 0, sum_total = 0;
    for (int i = 0; i < got.nrows; i++) {
        long long n, sum, time;
        CHECK(sscanf(got.rows[i], "%lld|%lld|%lld", &n, &sum, &time) == 3);
        CHECK(n > 0 && time > 0);
        n_total += n;
        sum_total += sum;
    }
    CHECK_EQ_INT(n_total, 3);
    CHECK_EQ_INT(sum_total, 6);
    spate_ctx_free(ctx);
}

static int transform_fails(const spate_rows *in, spate_out *out, void *ud)
{
    return spate_rows_count(in) ? -1 : 0;
}

static void ops_transform_callback_failure(void)
{
    static const char *const items[] = {"1\n", NULL};
    spate_ctx *ctx = new_ctx("1", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *t;
    spate_schema *out = schema_of("n BIGINT");
    REQUIRE_OK(spate_transform(s, out, transform_fails, NULL, &t));
    spate_schema_free(out);
    REQUIRE_OK(spate_stream_foreach_batch(t, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), SPATE_EUSER);
    check_error_mentions(ctx, "transform");
    spate_ctx_free(ctx);
}

/* --------------------------------------------------------------------- print */

/* Runs ctx with stdout redirected into a file; returns the text printed (malloc'ed). */
static char *run_capturing_stdout(spate_ctx *ctx, int *rc)
{
    char path[] = "/tmp/spate-print-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    *rc = run_job(ctx);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    CHECK(pread(fd, text, (size_t)len, 0) == len);
    close(fd);
    unlink(path);
    return text;
}

static const char print_rule[] = "-------------------------------------------\n";

/* Splits printed text into batch bodies (rows, "...", blank line); checks every
 * header. Returns the bodies of the batches that printed rows, joined by '#'. */
static void printed_bodies(const char *text, char *out, size_t n, int *nblocks)
{
    size_t rl = strlen(print_rule), len = 0;
    out[0] = 0;
    *nblocks = 0;
    const char *p = text;
    while (*p) {
        CHECK(strncmp(p, print_rule, rl) == 0);
        p += rl;
        long long t = 0;
        int used = 0;
        CHECK(sscanf(p, "Time: %lld ms\n%n", &t, &used) == 1 && used > 0);
        CHECK(t > 0);
        p += used;
        CHECK(strncmp(p, print_rule, rl) == 0);
        if (strncmp(p, print_rule, rl) != 0) return;
        p += rl;
        const char *end = strstr(p, "\n\n");
        CHECK(end != NULL);
        if (!end) return;
        end += 2;
        (*nblocks)++;
        if (end - p > 1)
            len += (size_t)snprintf(out + len, n - len, "%s%.*s", len ? "#" : "",
                                    (int)(end - p), p);
        p = end;
    }
}

static void ops_print_tuples(void)
{
    static const char *const items[] = {"1,a,0.1,true\n2,,2.5,false\n3,c,,true\n",
                                        "4,d,1e300,false\n", NULL};
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT, s STRING, d DOUBLE, b BOOL", items);
    REQUIRE_OK(spate_stream_print(s, 2));
    int rc;
    char *text = run_capturing_stdout(ctx, &rc);
    CHECK_EQ_INT(rc, 0);
    char bodies[1024];
    int nblocks;
    printed_bodies(text, bodies, sizeof bodies, &nblocks);
    CHECK_EQ_STR(bodies, "(1,a,0.1,true)\n(2,null,2.5,false)\n...\n\n#(4,d,1e+300,false)\n\n");
    CHECK(nblocks >= 2);
    spate_metrics m;
    REQUIRE_OK(spate_ctx_metrics(ctx, &m));
    CHECK_EQ_INT(m.records_out, 3);
    free(text);
    spate_ctx_free(ctx);
}

static int to_line(const spate_row *in, spate_out *out, void *ud)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "v=%lld", (long long)spate_row_int(in, 0));
    return spate_out_set_str(out, 0, buf, (size_t)n);
}

static void ops_print_single_column(void)
{
    static const char *const items[] = {"1\n2\n", NULL};
    for (int k = 0; k < 2; k++) {
        spate_ctx *ctx = new_ctx("1", k ? "20" : "0");
        spate_stream *s = queue_of(ctx, "x BIGINT", items), *m;
        spate_schema *out = schema_of("line STRING");
        REQUIRE_OK(spate_map(s, out, to_line, NULL, &m));
        spate_schema_free(out);
        REQUIRE_OK(spate_stream_print(m, 10));
        int rc;
        char *text = run_capturing_stdout(ctx, &rc);
        CHECK_EQ_INT(rc, 0);
        char bodies[1024];
        int nblocks;
        printed_bodies(text, bodies, sizeof bodies, &nblocks);
        CHECK_EQ_STR(bodies, "v=1\nv=2\n\n");
        free(text);
        spate_ctx_free(ctx);
    }
}

/* The header and a timestamp, exactly. */
static void ops_print_exact_text(void)
{
    static const char *const items[] = {"2024-05-01T12:00:00Z\n", NULL};
    spate_ctx *ctx = new_ctx("1", "0");
    spate_stream *s = queue_of(ctx, "ts TIMESTAMP", items);
    REQUIRE_OK(spate_stream_print(s, 10));
    int rc;
    char *text = run_capturing_stdout(ctx, &rc);
    CHECK_EQ_INT(rc, 0);
    long long t = 0;
    CHECK(sscanf(text + strlen(print_rule), "Time: %lld ms", &t) == 1);
    char want[256];
    snprintf(want, sizeof want, "%sTime: %lld ms\n%s2024-05-01T12:00:00Z\n\n", print_rule, t,
             print_rule);
    CHECK_EQ_STR(text, want);
    free(text);
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------------- save as text */

/* Reads every file of dir; checks names are prefix-DIGITS<suffix>; returns the
 * sorted lines of all files in lines (malloc'ed strings). */
static int read_saved(const char *dir, const char *suffix, char **lines, int max, int *nfiles)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    *nfiles = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        long long t = 0;
        int used = 0;
        CHECK(sscanf(e->d_name, "out-%lld%n", &t, &used) == 1);
        CHECK_EQ_STR(e->d_name + used, suffix);
        (*nfiles)++;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        char line[256];
        while (f && fgets(line, sizeof line, f) && n < max) {
            line[strcspn(line, "\n")] = 0;
            lines[n++] = strdup(line);
        }
        if (f) fclose(f);
        unlink(path);
    }
    closedir(d);
    qsort(lines, (size_t)n, sizeof *lines, sp_test_cmp_str);
    return n;
}

static void ops_save_as_text_files(void)
{
    static const char *const items[] = {"1,a\n2,b\n", "3,c\n", NULL};
    static const char *const want[] = {"1,a", "2,b", "3,c"};
    const char *suffixes[2] = {"csv", NULL};
    for (int k = 0; k < 2; k++) {
        char dir[] = "/tmp/spate-save-XXXXXX", prefix[256];
        CHECK(mkdtemp(dir) != NULL);
        snprintf(prefix, sizeof prefix, "%s/out", dir);
        spate_ctx *ctx = new_ctx(k ? "1" : "2", "20");
        spate_stream *s = queue_of(ctx, "x BIGINT, s STRING", items), *r;
        REQUIRE_OK(spate_repartition(s, 0, &r));
        REQUIRE_OK(spate_stream_save_as_text_files(r, prefix, suffixes[k], "csv"));
        CHECK_EQ_INT(run_job(ctx), 0);
        char *lines[16];
        int nfiles = 0;
        int n = read_saved(dir, k ? "" : ".csv", lines, 16, &nfiles);
        CHECK_EQ_INT(n, 3);
        for (int i = 0; i < n && i < 3; i++) CHECK_EQ_STR(lines[i], want[i]);
        for (int i = 0; i < n; i++) free(lines[i]);
        CHECK(nfiles >= 2);
        rmdir(dir);
        spate_ctx_free(ctx);
    }
}

static void ops_save_as_text_files_errors(void)
{
    static const char *const items[] = {"1,a\n", NULL};
    spate_ctx *ctx = new_ctx("1", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT, s STRING", items);
    CHECK(spate_stream_save_as_text_files(s, "/tmp/x", NULL, "bogus") < 0);
    CHECK(spate_stream_save_as_text_files(s, "/tmp/x", NULL, "text") < 0);
    CHECK_EQ_INT(spate_stream_save_as_text_files(s, "", NULL, "csv"), SPATE_EINVAL);
    CHECK_EQ_INT(spate_stream_save_as_text_files(NULL, "/tmp/x", NULL, "csv"), SPATE_EINVAL);
    REQUIRE_OK(spate_stream_save_as_text_files(s, "/nonexistent-spate-dir/out", "txt", "jsonl"));
    CHECK_EQ_INT(run_job(ctx), SPATE_EIO);
    check_error_mentions(ctx, "/nonexistent-spate-dir/out-");
    check_error_mentions(ctx, "No such file");
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------------- foreach_batch */

static void ops_foreach_batch_times(void)
{
    static const char *const items[] = {"1\n", "2\n", "3\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items);
    REQUIRE_OK(spate_stream_foreach_batch(s, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    CHECK(got.nbatches >= 3);
    int nonempty = 0;
    for (int b = 0; b < got.nbatches; b++) {
        nonempty += got.batch_rows[b] > 0;
        if (b == 0) continue;
        CHECK(got.batch_time[b] > got.batch_time[b - 1]);
        CHECK_EQ_INT((got.batch_time[b] - got.batch_time[b - 1]) % 20, 0);
    }
    /* one_at_a_time: each item is its own micro-batch */
    CHECK_EQ_INT(nonempty, 3);
    spate_ctx_free(ctx);
}

static int fail_batch(const spate_rows *rows, int64_t time_ms, void *ud)
{
    return spate_rows_count(rows) ? 7 : 0;
}

static void ops_foreach_batch_failure(void)
{
    static const char *const items[] = {"1\n", NULL};
    for (int k = 0; k < 2; k++) {
        spate_ctx *ctx = new_ctx("1", k ? "20" : "0");
        spate_stream *s = queue_of(ctx, "x BIGINT", items);
        REQUIRE_OK(spate_stream_foreach_batch(s, fail_batch, NULL));
        CHECK_EQ_INT(run_job(ctx), SPATE_EUSER);
        check_error_mentions(ctx, "foreach_batch");
        spate_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------- remember, slice */

static void ops_remember_slice(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", "4\n5\n6\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("2", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items), *r;
    REQUIRE_OK(spate_repartition(s, 0, &r));
    spate_rows *rows = NULL;
    CHECK_EQ_INT(spate_stream_slice(r, 0, INT64_MAX, &rows), SPATE_ESTATE);
    check_last_error_mentions("remember");
    CHECK_EQ_INT(spate_stream_remember(r, -1), SPATE_EINVAL);
    REQUIRE_OK(spate_stream_remember(r, 600000));
    REQUIRE_OK(spate_stream_foreach_batch(r, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    CHECK_EQ_INT(spate_stream_slice(r, 10, 5, &rows), SPATE_EINVAL);
    REQUIRE_OK(spate_stream_slice(r, INT64_MIN, INT64_MAX, &rows));
    CHECK_EQ_INT(spate_rows_count(rows), 6);
    int64_t sum = 0;
    for (size_t i = 0; i < spate_rows_count(rows); i++) {
        spate_row row;
        REQUIRE_OK(spate_rows_get(rows, i, &row));
        sum += spate_row_int(&row, 0);
    }
    CHECK_EQ_INT(sum, 21);
    spate_rows_free(rows);
    /* Each micro-batch alone, by its time. */
    for (int b = 0; b < got.nbatches; b++) {
        REQUIRE_OK(spate_stream_slice(r, got.batch_time[b], got.batch_time[b], &rows));
        CHECK_EQ_INT(spate_rows_count(rows), got.batch_rows[b]);
        spate_rows_free(rows);
    }
    spate_ctx_free(ctx);
}

/* Duration 0 keeps only the newest micro-batch. */
static void ops_remember_evicts(void)
{
    static const char *const items[] = {"1\n2\n", "3\n", "4\n5\n6\n", NULL};
    collect_reset(&got);
    spate_ctx *ctx = new_ctx("1", "20");
    spate_stream *s = queue_of(ctx, "x BIGINT", items);
    REQUIRE_OK(spate_stream_remember(s, 0));
    REQUIRE_OK(spate_stream_foreach_batch(s, collect_fn, &got));
    CHECK_EQ_INT(run_job(ctx), 0);
    spate_rows *rows = NULL;
    REQUIRE_OK(spate_stream_slice(s, INT64_MIN, INT64_MAX, &rows));
    CHECK_EQ_INT(spate_rows_count(rows), 3);
    spate_rows_free(rows);
    spate_ctx_free(ctx);
}

/* slice on the caller's thread while the workers keep remembering. */
static void ops_remember_slice_while_running(void)
{
    spate_ctx *ctx = new_ctx("2", "5");
    spate_stream *g;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                 (const char *[]){"count", "200000", "rate", "1000000", NULL},
                                 &g));
    REQUIRE_OK(spate_stream_remember(g, 3600000));
    REQUIRE_OK(spate_ctx_start(ctx));
    size_t last = 0;
    int rc, rounds = 0;
    while ((rc = spate_ctx_await_termination(ctx, 2)) == SPATE_ETIMEDOUT && rounds < 20000) {
        spate_rows *rows = NULL;
        REQUIRE_OK(spate_stream_slice(g, INT64_MIN, INT64_MAX, &rows));
        CHECK(spate_rows_count(rows) >= last);
        last = spate_rows_count(rows);
        spate_rows_free(rows);
        rounds++;
    }
    CHECK_EQ_INT(rc, 0);
    spate_rows *rows = NULL;
    REQUIRE_OK(spate_stream_slice(g, INT64_MIN, INT64_MAX, &rows));
    CHECK_EQ_INT(spate_rows_count(rows), 200000);
    spate_rows_free(rows);
    spate_ctx_free(ctx);
}

const sp_test tests_ops[] = {
    {"ops_map_rows", ops_map_rows},
    {"ops_map_generator_two_workers", ops_map_generator_two_workers},
    {"ops_map_bad_arguments", ops_map_bad_arguments},
    {"ops_map_callback_failure", ops_map_callback_failure},
    {"ops_flat_map_rows", ops_flat_map_rows},
    {"ops_flat_map_many_batches", ops_flat_map_many_batches},
    {"ops_filter_selection", ops_filter_selection},
    {"ops_filter_callback_failure", ops_filter_callback_failure},
    {"ops_key_by_column_order", ops_key_by_column_order},
    {"ops_key_by_errors", ops_key_by_errors},
    {"ops_map_values_keeps_keys", ops_map_values_keeps_keys},
    {"ops_map_values_after_filter", ops_map_values_after_filter},
    {"ops_map_values_errors", ops_map_values_errors},
    {"ops_union_streams", ops_union_streams},
    {"ops_union_single_and_parallel", ops_union_single_and_parallel},
    {"ops_union_schema_mismatch", ops_union_schema_mismatch},
    {"ops_glom_json", ops_glom_json},
    {"ops_glom_partitions", ops_glom_partitions},
    {"ops_glom_continuous", ops_glom_continuous},
    {"ops_transform_whole_batch", ops_transform_whole_batch},
    {"ops_transform_continuous", ops_transform_continuous},
    {"ops_transform_callback_failure", ops_transform_callback_failure},
    {"ops_print_tuples", ops_print_tuples},
    {"ops_print_single_column", ops_print_single_column},
    {"ops_print_exact_text", ops_print_exact_text},
    {"ops_save_as_text_files", ops_save_as_text_files},
    {"ops_save_as_text_files_errors", ops_save_as_text_files_errors},
    {"ops_foreach_batch_times", ops_foreach_batch_times},
    {"ops_foreach_batch_failure", ops_foreach_batch_failure},
    {"ops_remember_slice", ops_remember_slice},
    {"ops_remember_evicts", ops_remember_evicts},
    {"ops_remember_slice_while_running", ops_remember_slice_while_running},
    {NULL, NULL}};
