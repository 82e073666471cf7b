/*
 * test_ckpt_keyed.c - checkpoints of the keyed aggregates and folds (keyed.c).
 *
 * Every test runs one job to its end with checkpoint.dir set, which leaves the
 * final checkpoint of the quiescent job, then builds the same job in a new context
 * on the same directory and checks that the second run continues from the state
 * of the first. Expected totals come from reference runs without checkpoints, so
 * the tests do not re-implement the generator's key function.
 *
 * The generator resumes from its checkpointed position once it is replayable; until
 * then it starts over and every event of the second run is counted on top of the
 * restored totals. The resume test expects whichever of the two the connector
 * declares (sp_source_class.snapshot), so it tightens by itself when the
 * replayable generator lands. The rescaling tests use a queue source, whose input
 * each run pushes explicitly, so their expectations do not depend on replay.
 */
#define _GNU_SOURCE /* nftw */
#include "test.h"

#include "connectors/internal.h"
#include "runtime/runtime.h"

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

enum { KMAX = 64, NCOL = 4 };

/* ------------------------------------------------------------------ helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The last row seen per key (BIGINT key 0..KMAX-1): its columns 1..NCOL. */
typedef struct last_rows {
    pthread_mutex_t mu;
    int64_t i[NCOL][KMAX];
    double d[NCOL][KMAX];
    char s[NCOL][KMAX][16];
    int seen[KMAX];
} last_rows;

static void keep_cell(last_rows *l, const spate_rows *rs, const spate_row *r, int c, int64_t k)
{
    switch (spate_schema_type(spate_rows_schema(rs), c)) {
    case SPATE_FLOAT64:
        l->d[c - 1][k] = spate_row_double(r, c);
        break;
    case SPATE_STRING: {
        spate_str v = spate_row_str(r, c);
        snprintf(l->s[c - 1][k], sizeof l->s[0][0], "%.*s", (int)v.len, v.ptr);
        break;
    }
    default:
        l->i[c - 1][k] = spate_row_int(r, c);
        break;
    }
}

static int keep_last(const spate_rows *rs, int64_t time_ms, void *ud)
{
    last_rows *l = ud;
    int ncols = spate_schema_count(spate_rows_schema(rs));
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        int64_t k = spate_row_int(&r, 0);
        if (k < 0 || k >= KMAX) continue;
        for (int c = 1; c < ncols && c <= NCOL; c++) keep_cell(l, rs, &r, c, k);
        l->seen[k] = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static last_rows *last_new(void)
{
    last_rows *l = calloc(1, sizeof *l);
    if (l) pthread_mutex_init(&l->mu, NULL);
    return l;
}

/* A context; dir NULL = no checkpoints. Checkpoints every 100 ms, so a run of a
 * few hundred milliseconds takes some besides the final one. (Not much less: a
 * checkpoint of a table over many key groups takes tens of milliseconds of fsync
 * here, and one slower than the interval leaves the worker one batch per
 * checkpoint.) */
static spate_ctx *ctx_of(int workers, int interval_ms, const char *dir, int reset)
{
    spate_conf *conf = spate_conf_new();
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", workers);
    snprintf(iv, sizeof iv, "%d", interval_ms);
    int rc = !conf || spate_conf_set(conf, "workers", w) ||
             spate_conf_set(conf, "batch.interval.ms", iv);
    if (!rc && dir)
        rc = spate_conf_set(conf, "checkpoint.dir", dir) ||
             spate_conf_set(conf, "checkpoint.interval.ms", "100") ||
             spate_conf_set(conf, "checkpoint.reset", reset ? "true" : "false");
    spate_ctx *ctx = NULL;
    if (rc || spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

static spate_stream *key_by1(spate_stream *in, const char *col)
{
    spate_stream *out = NULL;
    const char *cols[] = {col};
    return in && spate_key_by(in, 1, cols, &out) == 0 ? out : NULL;
}

static int start_and_wait(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    return rc ? rc : spate_ctx_await_termination(ctx, 60000);
}

/* ----------------------------------------------------- the generator job */

static const spate_agg gen_aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "seq", "sum_seq", 0},
                                     {SPATE_AGG_SUM, "value", "sum_value", 0}};

/* generator(count, KMAX keys) -> key_by(key) -> running COUNT, SUM(seq), SUM(value)
 * -> callback into l. Returns the job's result (start, then the run). */
static int gen_run(spate_ctx *ctx, int64_t count, last_rows *l)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)count);
    spate_stream *g = NULL, *r;
    int rc = ctx ? 0 : SPATE_ENOMEM;
    if (!rc)
        rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", n, "keys", "64", "rate", "1000000", NULL},
                               &g);
    if (!rc) rc = spate_aggregate_by_key(key_by1(g, "key"), 3, gen_aggs, 1, &r);
    if (!rc) rc = spate_sink_callback(r, keep_last, l);
    if (!rc) rc = start_and_wait(ctx);
    spate_ctx_free(ctx);
    return rc;
}

/* Checks got's per-key totals against the sum of the reference runs a and b
 * (b NULL: a alone). */
static void check_totals(const last_rows *got, const last_rows *a, const last_rows *b)
{
    for (int k = 0; k < KMAX; k++) {
        int64_t n = a->i[0][k] + (b ? b->i[0][k] : 0), s = a->i[1][k] + (b ? b->i[1][k] : 0);
        double v = a->d[2][k] + (b ? b->d[2][k] : 0);
        CHECK_EQ_INT(got->seen[k], a->seen[k]);
        CHECK_EQ_INT(got->i[0][k], n);
        CHECK_EQ_INT(got->i[1][k], s);
        CHECK(fabs(got->d[2][k] - v) <= 1e-9 * fabs(v) + 1e-9);
    }
}

/* Runs N events with checkpoints, then the same job over N2 > N events on the
 * same directory: the final totals are those of all N2 events (the generator
 * resumed), or of N + N2 while the generator cannot replay. */
static void resume(int workers, int interval_ms)
{
    const int64_t N = 200000, N2 = 300000;
    char dir[] = "/tmp/spate-ckk-XXXXXX";
    last_rows *first = last_new(), *second = last_new(), *ref_n = last_new(), *ref_n2 = last_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(gen_run(ctx_of(workers, interval_ms, NULL, 0), N, ref_n));
    REQUIRE_OK(gen_run(ctx_of(workers, interval_ms, NULL, 0), N2, ref_n2));
    REQUIRE_OK(gen_run(ctx_of(workers, interval_ms, dir, 0), N, first));
    check_totals(first, ref_n, NULL);
    REQUIRE_OK(gen_run(ctx_of(workers, interval_ms, dir, 0), N2, second));
    if (sp_generator_source.snapshot)
        check_totals(second, ref_n2, NULL);
    else
        check_totals(second, ref_n2, ref_n);
    rm_tree(dir);
    free(first);
    free(second);
    free(ref_n);
    free(ref_n2);
}

static void test_resume_1_worker(void)
{
    resume(1, 10);
}

static void test_resume_2_workers(void)
{
    resume(2, 10);
}

/* The continuous style keeps its table too; barriers come at the interval. */
static void test_resume_continuous(void)
{
    resume(2, 0);
}

/* A different job on the directory is refused, naming checkpoint.reset; with
 * checkpoint.reset=true it starts from nothing. */
static void test_fingerprint_mismatch(void)
{
    char dir[] = "/tmp/spate-ckk-XXXXXX";
    last_rows *l = last_new(), *ref = last_new(), *fresh = last_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(gen_run(ctx_of(1, 10, dir, 0), 5000, l));
    /* Another job: COUNT alone, so the aggregate's schema differs. */
    for (int reset = 0; reset <= 1; reset++) {
        spate_ctx *ctx = ctx_of(1, 10, dir, reset);
        spate_stream *g = NULL, *r;
        REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                     (const char *[]){"count", "5000", "keys", "64", NULL}, &g));
        REQUIRE_OK(spate_aggregate_by_key(key_by1(g, "key"), 1, gen_aggs, 1, &r));
        REQUIRE_OK(spate_sink_callback(r, keep_last, reset ? fresh : l));
        int rc = start_and_wait(ctx);
        if (!reset) {
            CHECK_EQ_INT(rc, SPATE_ESTATE);
            CHECK(strstr(spate_last_error(), "checkpoint.reset") != NULL);
        } else {
            CHECK_EQ_INT(rc, 0);
        }
        spate_ctx_free(ctx);
    }
    REQUIRE_OK(gen_run(ctx_of(1, 10, NULL, 0), 5000, ref));
    for (int k = 0; k < KMAX; k++) CHECK_EQ_INT(fresh->i[0][k], ref->i[0][k]);
    rm_tree(dir);
    free(l);
    free(ref);
    free(fresh);
}

/* ------------------------------------------- rescaling, with a queue source */

/* In the continuous style, where the folds keep their state too (per micro-batch
 * they start over each batch):
 * queue(k, v, name) -> key_by(k) -> two keyed operators fed by the same input:
 *  - running aggregate: COUNT, SUM(v), MAX(name) (a string cell in the state),
 *  - reduce_by_key summing v (a fold: accumulator rows in the state),
 * each into its own collector. Every run pushes one row per key, v = base + k. */
static int sum_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    spate_out_set_str(out, 1, "x", 1);
    return 0;
}

static int queue_run(int workers, const char *dir, int64_t base, last_rows *agg, last_rows *fold)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "v", "sum_v", 0},
                                     {SPATE_AGG_MAX, "name", "max_name", 0}};
    spate_ctx *ctx = ctx_of(workers, 0, dir, 0);
    spate_schema *s = NULL;
    spate_queue *q;
    spate_stream *in = NULL, *keyed, *a, *f;
    int rc = ctx ? spate_schema_parse("k BIGINT, v BIGINT, name STRING", &s) : SPATE_ENOMEM;
    if (!rc) rc = spate_source_queue(ctx, s, 0, &q, &in);
    spate_schema_free(s);
    for (int k = 0; !rc && k < KMAX; k++) {
        char row[64];
        int len = snprintf(row, sizeof row, "%d,%lld,run%lld\n", k, (long long)(base + k),
                           (long long)base);
        rc = spate_queue_push(q, row, (size_t)len);
    }
    if (in) spate_queue_close(q);
    keyed = rc ? NULL : key_by1(in, "k");
    if (!rc) rc = spate_aggregate_by_key(keyed, 3, aggs, 1, &a);
    if (!rc) rc = spate_sink_callback(a, keep_last, agg);
    if (!rc) rc = spate_reduce_by_key(keyed, sum_v, NULL, &f);
    if (!rc) rc = spate_sink_callback(f, keep_last, fold);
    if (!rc) rc = start_and_wait(ctx);
    spate_ctx_free(ctx);
    return rc;
}

/* 2 -> 3 -> 2 workers: each key's state must reach the worker that now owns its
 * key group, or its next row would start it over. (2 -> 1 -> 2 is refused by the
 * fingerprint today: one worker compiles every exchange to FORWARD, and the
 * fingerprint hashes the compiled exchanges.) */
static void test_rescale(void)
{
    static const int workers[3] = {2, 3, 2};
    char dir[] = "/tmp/spate-ckk-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    for (int run = 0; run < 3; run++) {
        last_rows *agg = last_new(), *fold = last_new();
        REQUIRE_OK(queue_run(workers[run], dir, 1000 * (run + 1), agg, fold));
        char want_name[16];
        snprintf(want_name, sizeof want_name, "run%d", 1000 * (run + 1));
        for (int k = 0; k < KMAX; k++) {
            int64_t sum = 0;
            for (int r = 0; r <= run; r++) sum += 1000 * (r + 1) + k;
            CHECK_EQ_INT(agg->seen[k], 1);
            CHECK_EQ_INT(agg->i[0][k], run + 1);
            CHECK_EQ_INT(agg->i[1][k], sum);
            CHECK_EQ_STR(agg->s[2][k], want_name);
            CHECK_EQ_INT(fold->i[0][k], sum);
        }
        free(agg);
        free(fold);
    }
    rm_tree(dir);
}

/* Per batch, the table is empty at every barrier: a second run's batches count
 * only their own rows. The ingestion-time assigner gives every checkpoint one
 * file (its watermark): the store cannot yet commit a checkpoint without any. */
static void test_per_batch_state_empty(void)
{
    static const spate_agg count = {SPATE_AGG_COUNT, NULL, "n", 0};
    char dir[] = "/tmp/spate-ckk-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    for (int run = 0; run < 2; run++) {
        spate_ctx *ctx = ctx_of(2, 10, dir, 0);
        spate_schema *s = NULL;
        spate_queue *q;
        spate_stream *in, *timed, *r;
        last_rows *l = last_new();
        REQUIRE_OK(spate_schema_parse("k BIGINT", &s));
        REQUIRE_OK(spate_source_queue(ctx, s, 1, &q, &in));
        spate_schema_free(s);
        REQUIRE_OK(spate_queue_push(q, "1\n2\n1\n", 6));
        REQUIRE_OK(spate_queue_close(q));
        REQUIRE_OK(spate_with_ingestion_time(in, &timed));
        REQUIRE_OK(spate_aggregate_by_key(key_by1(timed, "k"), 1, &count, 0, &r));
        REQUIRE_OK(spate_sink_callback(r, keep_last, l));
        REQUIRE_OK(start_and_wait(ctx));
        CHECK_EQ_INT(l->i[0][1], 2);
        CHECK_EQ_INT(l->i[0][2], 1);
        spate_ctx_free(ctx);
        free(l);
    }
    rm_tree(dir);
}

const sp_test tests_ckpt_keyed[] = {
    {"ckpt_keyed_resume_1_worker", test_resume_1_worker},
    {"ckpt_keyed_resume_2_workers", test_resume_2_workers},
    {"ckpt_keyed_resume_continuous", test_resume_continuous},
    {"ckpt_keyed_fingerprint_mismatch", test_fingerprint_mismatch},
    {"ckpt_keyed_rescale", test_rescale},
    {"ckpt_keyed_per_batch_state_empty", test_per_batch_state_empty},
    {NULL, NULL},
};
