/*
 * test_time.c - event time and watermarks: the assigner (spate_with_event_time,
 * spate_with_ingestion_time) and how the runtime combines watermarks (minimum
 * over inputs, idleness, +infinity at the end). A private recorder operator
 * logs what reaches it, data and watermarks, in order.
 */
#include "runtime/runtime.h"
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum { MAXLOG = 256 };

/* Written by a worker, read by the test while the job runs: hence the lock. */
typedef struct recorder {
    pthread_mutex_t mu;
    int n;
    char log[MAXLOG][48]; /* "D n=2 max=5000" or "W 3000" */
    int64_t rows_ts[MAXLOG];
    int nrows;
} recorder;

static int rec_push(sp_op *op, int port, sp_batch *b)
{
    recorder *r = op->node->cfg;
    pthread_mutex_lock(&r->mu);
    int col = op->node->in[0]->time_col;
    int64_t max = INT64_MIN;
    for (uint32_t i = 0; i < sp_batch_count(b); i++) {
        int64_t t = col >= 0 ? SP_I64(&b->cols[col])[sp_batch_phys(b, i)] : 0;
        if (t > max) max = t;
        if (r->nrows < MAXLOG) r->rows_ts[r->nrows++] = t;
    }
    if (r->n < MAXLOG)
        snprintf(r->log[r->n++], sizeof r->log[0], "D n=%u max=%lld", sp_batch_count(b),
                 (long long)max);
    pthread_mutex_unlock(&r->mu);
    sp_op_release(op, b);
    return 0;
}

static int rec_watermark(sp_op *op, int64_t wm)
{
    recorder *r = op->node->cfg;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAXLOG) {
        if (wm == SPATE_WATERMARK_MAX) snprintf(r->log[r->n++], sizeof r->log[0], "W max");
        else snprintf(r->log[r->n++], sizeof r->log[0], "W %lld", (long long)wm);
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static const sp_op_class rec_class = {.name = "recorder", .push = rec_push,
                                      .watermark = rec_watermark};

static recorder *add_recorder(spate_ctx *ctx, spate_stream *in)
{
    recorder *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    spate_stream *out;
    sp_exchange ex = SP_EX_GATHER;
    CHECK(sp_node_add(ctx, &rec_class, r, NULL, 0, 1, &in, &ex, 1, &out) == 0);
    return r;
}

static spate_ctx *new_ctx_interval(const char *workers, const char *interval)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_conf_set(conf, "batch.interval.ms", interval);
    spate_conf_set(conf, "bad_records.policy", "skip");
    spate_ctx *ctx = NULL;
    CHECK(spate_ctx_new(conf, &ctx) == 0);
    spate_conf_free(conf);
    return ctx;
}

static spate_ctx *new_ctx(const char *workers)
{
    return new_ctx_interval(workers, "0");
}

/* A queue source; with one_at_a_time each item is its own micro-batch. */
static spate_stream *queue_items(spate_ctx *ctx, const char *schema, int one_at_a_time,
                                 spate_queue **q)
{
    spate_schema *s;
    spate_schema_parse(schema, &s);
    spate_stream *out = NULL;
    CHECK(spate_source_queue(ctx, s, one_at_a_time, q, &out) == 0);
    spate_schema_free(s);
    return out;
}

static spate_stream *queue(spate_ctx *ctx, const char *schema, spate_queue **q)
{
    return queue_items(ctx, schema, 0, q);
}

static void push(spate_queue *q, const char *text)
{
    CHECK(spate_queue_push(q, text, strlen(text)) == 0);
}

static int has_line(recorder *r, const char *line)
{
    pthread_mutex_lock(&r->mu);
    int found = 0;
    for (int i = 0; i < r->n && !found; i++) found = strcmp(r->log[i], line) == 0;
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* Watermarks never go backwards, and the last one is +infinity. */
static void check_monotonic_ending_max(const recorder *r)
{
    int64_t prev = INT64_MIN;
    int last_w = -1;
    for (int i = 0; i < r->n; i++) {
        if (r->log[i][0] != 'W') continue;
        last_w = i;
        if (strcmp(r->log[i], "W max") == 0) continue;
        int64_t v = strtoll(r->log[i] + 2, NULL, 10);
        CHECK(v > prev);
        prev = v;
    }
    CHECK(last_w >= 0 && strcmp(r->log[last_w], "W max") == 0);
}

/* Per batch: watermark = largest event time so far - delay, right after its rows. */
static void time_watermark_follows_data(void)
{
    spate_ctx *ctx = new_ctx_interval("2", "10");
    spate_queue *q;
    spate_stream *s = queue_items(ctx, "k STRING, t BIGINT", 1, &q), *e;
    spate_event_time et = {.column = "t", .unit = "s", .max_delay_ms = 2000};
    REQUIRE_OK(spate_with_event_time(s, &et, &e));
    CHECK_EQ_INT(e->time_col, 1);
    CHECK_EQ_INT(spate_schema_type(spate_stream_schema(e), 1), SPATE_TIMESTAMP);
    recorder *r = add_recorder(ctx, e);
    push(q, "a,10\nb,12\n");
    push(q, "c,11\n"); /* out of order: no watermark move */
    push(q, "d,20\n");
    spate_queue_close(q);
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
    CHECK(has_line(r, "W 10000000"));
    CHECK(has_line(r, "W 18000000"));
    CHECK(!has_line(r, "W 9000000"));
    check_monotonic_ending_max(r);
    /* every row arrives before the watermark that covers it */
    int seen18 = 0;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->log[i], "W 18000000") == 0) seen18 = 1;
        if (strncmp(r->log[i], "D", 1) == 0 && strstr(r->log[i], "max=20000000")) CHECK(!seen18);
    }
    int64_t wm;
    REQUIRE_OK(spate_stream_watermark(e, &wm));
    CHECK(wm == SPATE_WATERMARK_MAX);
    spate_ctx_free(ctx);
    free(r);
}

/* Two inputs: the downstream watermark is the minimum of theirs. */
static void time_min_over_inputs(void)
{
    spate_ctx *ctx = new_ctx("1");
    spate_queue *qa, *qb;
    spate_stream *a = queue(ctx, "t BIGINT", &qa), *b = queue(ctx, "t BIGINT", &qb);
    spate_stream *ea, *eb, *u;
    spate_event_time et = {.column = "t", .unit = "ms"};
    REQUIRE_OK(spate_with_event_time(a, &et, &ea));
    REQUIRE_OK(spate_with_event_time(b, &et, &eb));
    REQUIRE_OK(spate_union(ea, eb, &u));
    recorder *r = add_recorder(ctx, u);
    push(qa, "100\n");
    push(qb, "50\n");
    spate_queue_close(qa);
    REQUIRE_OK(spate_ctx_start(ctx));
    /* a ended (no longer holds back), b is at 50 ms and open: wm = 50 ms */
    for (int i = 0; i < 500 && !has_line(r, "W 50000"); i++) usleep(10000);
    CHECK(has_line(r, "W 50000"));
    CHECK(!has_line(r, "W 100000"));
    spate_queue_close(qb);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
    check_monotonic_ending_max(r);
    spate_ctx_free(ctx);
    free(r);
}

/* An input idle past its timeout stops holding the watermark back. */
static void time_idle_input_releases(void)
{
    spate_ctx *ctx = new_ctx("1");
    spate_queue *qa, *qb;
    spate_stream *a = queue(ctx, "t BIGINT", &qa), *b = queue(ctx, "t BIGINT", &qb);
    spate_stream *ea, *eb, *u;
    spate_event_time et = {.column = "t", .idle_timeout_ms = 50};
    REQUIRE_OK(spate_with_event_time(a, &et, &ea));
    REQUIRE_OK(spate_with_event_time(b, &et, &eb));
    REQUIRE_OK(spate_union(ea, eb, &u));
    recorder *r = add_recorder(ctx, u);
    REQUIRE_OK(spate_ctx_start(ctx));
    push(qa, "1000\n");
    push(qb, "10\n");
    for (int i = 0; i < 500 && !has_line(r, "W 10000"); i++) usleep(10000);
    CHECK(has_line(r, "W 10000"));
    /* b goes quiet; a moves on: once b is idle, a alone drives the watermark */
    push(qa, "5000\n");
    for (int i = 0; i < 500 && !has_line(r, "W 5000000"); i++) usleep(10000);
    CHECK(has_line(r, "W 5000000"));
    spate_queue_close(qa);
    spate_queue_close(qb);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
    spate_ctx_free(ctx);
    free(r);
}

/* ISO strings, a strptime format and units all become microseconds; NULL and
 * unreadable times are bad records, dropped and counted. */
static void time_conversions_and_bad_times(void)
{
    static const struct {
        const char *type, *unit, *format, *item;
        int64_t want_us;
    } cases[] = {
        {"STRING", NULL, NULL, "2024-05-01T00:00:01.5Z,1\n", 1714521601500000},
        {"STRING", NULL, "%d/%m/%Y %H:%M", "01/05/2024 00:01,1\n", 1714521660000000},
        {"INT", "s", NULL, "-5,1\n", -5000000},
        {"BIGINT", "us", NULL, "123,1\n", 123},
        {"TIMESTAMP", NULL, NULL, "1970-01-01T00:00:00.000001Z,1\n", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spate_ctx *ctx = new_ctx("1");
        char decl[64];
        snprintf(decl, sizeof decl, "t %s, x INT", cases[i].type);
        spate_queue *q;
        spate_stream *s = queue(ctx, decl, &q), *e;
        spate_event_time et = {.column = "t", .unit = cases[i].unit, .format = cases[i].format};
        REQUIRE_OK(spate_with_event_time(s, &et, &e));
        recorder *r = add_recorder(ctx, e);
        push(q, cases[i].item);
        push(q, ",2\n"); /* a NULL time */
        if (strcmp(cases[i].type, "STRING") == 0) push(q, "not a time,3\n");
        spate_queue_close(q);
        REQUIRE_OK(spate_ctx_start(ctx));
        REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
        CHECK_EQ_INT(r->nrows, 1);
        CHECK_EQ_INT(r->rows_ts[0], cases[i].want_us);
        spate_metrics m;
        spate_ctx_metrics(ctx, &m);
        CHECK_EQ_INT(m.bad_records, strcmp(cases[i].type, "STRING") == 0 ? 2 : 1);
        spate_ctx_free(ctx);
        free(r);
    }
}

static void time_ingestion_time(void)
{
    spate_ctx *ctx = new_ctx("1");
    spate_queue *q;
    spate_stream *s = queue(ctx, "k STRING", &q), *e;
    REQUIRE_OK(spate_with_ingestion_time(s, &e));
    CHECK_EQ_INT(spate_schema_count(spate_stream_schema(e)), 2);
    CHECK_EQ_STR(spate_schema_name(spate_stream_schema(e), 1), "ingest_time");
    recorder *r = add_recorder(ctx, e);
    push(q, "a\nb\n");
    spate_queue_close(q);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000000 - 1000000;
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
    CHECK_EQ_INT(r->nrows, 2);
    CHECK(r->rows_ts[0] >= before && r->rows_ts[0] < before + 120000000);
    check_monotonic_ending_max(r);
    spate_ctx_free(ctx);
    free(r);
}

/* key_by, filter and repartition keep the event-time column, remapped. */
static int keep(const spate_row *r, void *ud)
{
    return 1;
}

static void time_column_follows_operators(void)
{
    spate_ctx *ctx = new_ctx("2");
    spate_queue *q;
    spate_stream *s = queue(ctx, "t BIGINT, k STRING", &q), *e, *k, *f, *p;
    spate_event_time et = {.column = "t"};
    REQUIRE_OK(spate_with_event_time(s, &et, &e));
    const char *key[] = {"k"};
    REQUIRE_OK(spate_key_by(e, 1, key, &k));
    CHECK_EQ_INT(k->time_col, 1);
    REQUIRE_OK(spate_filter(k, keep, NULL, &f));
    CHECK_EQ_INT(f->time_col, 1);
    REQUIRE_OK(spate_repartition(f, 0, &p));
    CHECK_EQ_INT(p->time_col, 1);
    spate_queue_close(q);
    spate_ctx_free(ctx);
}

static void time_errors(void)
{
    spate_ctx *ctx = new_ctx("1");
    spate_queue *q;
    spate_stream *s = queue(ctx, "t BIGINT, d DOUBLE, ingest_time TIMESTAMP", &q), *e;
    spate_event_time et = {.column = "nope"};
    CHECK_EQ_INT(spate_with_event_time(s, &et, &e), SPATE_ENOTFOUND);
    CHECK(strstr(spate_last_error(), "nope") != NULL);
    et.column = "d";
    CHECK_EQ_INT(spate_with_event_time(s, &et, &e), SPATE_ETYPE);
    et = (spate_event_time){.column = "t", .unit = "minutes"};
    CHECK_EQ_INT(spate_with_event_time(s, &et, &e), SPATE_EINVAL);
    et = (spate_event_time){.column = "t", .max_delay_ms = -1};
    CHECK_EQ_INT(spate_with_event_time(s, &et, &e), SPATE_EINVAL);
    CHECK_EQ_INT(spate_with_ingestion_time(s, &e), SPATE_EINVAL);
    CHECK_EQ_INT(spate_with_event_time(NULL, &et, &e), SPATE_EINVAL);
    int64_t wm = 0;
    REQUIRE_OK(spate_stream_watermark(s, &wm));
    CHECK(wm == SPATE_WATERMARK_MIN);
    spate_queue_close(q);
    spate_ctx_free(ctx);
}

const sp_test tests_time[] = {{"time_watermark_follows_data", time_watermark_follows_data},
                              {"time_min_over_inputs", time_min_over_inputs},
                              {"time_idle_input_releases", time_idle_input_releases},
                              {"time_conversions_and_bad_times", time_conversions_and_bad_times},
                              {"time_ingestion_time", time_ingestion_time},
                              {"time_column_follows_operators", time_column_follows_operators},
                              {"time_errors", time_errors},
                              {NULL, NULL}};
