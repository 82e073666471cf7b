/*
 * test_windows.c - event-time windows (spate_window_aggregate, _reduce,
 * _late_stream) through the public API only.
 *
 * A job is a queue source (k STRING, v BIGINT, ts BIGINT in ms) with
 * spate_with_event_time, keyed by k. Where watermark order matters the job runs
 * in the micro-batch style with one queue item per micro-batch, so the watermark
 * advances between items exactly as the items say, whatever the speed of the
 * machine. Results are collected by a sink callback as text lines
 * "key,window_start,window_end,values...,op" (timestamps in ms, or in µs with a
 * "us" suffix when not whole ms) and compared in order (one worker) or as sorted
 * multisets (two workers).
 */
#include "test.h"
#include "test_cells.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "spate.h"

/* ------------------------------------------------------------- collection */

typedef struct coll {
    pthread_mutex_t mu;
    char buf[1 << 16];
    size_t len;
    int rows;
} coll;

static coll out_rows = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};
static coll late_rows = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};

static int collect(const spate_rows *rs, int64_t t, void *ud)
{
    coll *c = ud;
    const spate_schema *s = spate_rows_schema(rs);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        char line[512] = "";
        for (int col = 0; col < spate_schema_count(s); col++) {
            if (col) strcat(line, ",");
            sp_test_put_cell(line, sizeof line, &r, spate_schema_type(s, col), col);
        }
        c->len += (size_t)snprintf(c->buf + c->len, sizeof c->buf - c->len, "%s\n", line);
        c->rows++;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* The lines of text sorted, as one string. */
static char *sorted(const char *text)
{
    char *copy = strdup(text), *lines[4096], *save = NULL;
    int n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && n < 4096; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, (size_t)n, sizeof *lines, sp_test_cmp_str);
    char *out = calloc(1, strlen(text) + 2);
    for (int i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

#define CHECK_SORTED(got, want)          \
    do {                                 \
        char *g_ = sorted(got);          \
        char *w_ = sorted(want);         \
        CHECK_EQ_STR(g_, w_);            \
        free(g_);                        \
        free(w_);                        \
    } while (0)

/* ------------------------------------------------------------------- jobs */

typedef struct job {
    spate_ctx *ctx;
    spate_queue *q;
    spate_stream *timed, *keyed;
} job;

/* workers; micro: one item per 5 ms micro-batch; delay: the watermark's bound. */
static int job_new(job *j, int workers, int micro, int64_t delay_ms, const char *unit)
{
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", w);
    spate_conf_set(conf, "batch.interval.ms", micro ? "5" : "0");
    int rc = spate_ctx_new(conf, &j->ctx);
    spate_conf_free(conf);
    if (rc) return rc;
    spate_schema *s = NULL;
    spate_schema_parse("k STRING, v BIGINT, ts BIGINT", &s);
    spate_stream *src;
    rc = spate_source_queue(j->ctx, s, 1, &j->q, &src);
    spate_schema_free(s);
    if (rc) return rc;
    spate_event_time et = {"ts", unit ? unit : "ms", NULL, delay_ms, 0};
    rc = spate_with_event_time(src, &et, &j->timed);
    const char *k = "k";
    return rc ? rc : spate_key_by(j->timed, 1, &k, &j->keyed);
}

/* Pushes each item (CSV lines), closes the queue, runs the job to its end. */
static int job_run(job *j, const char *const *items)
{
    int rc = spate_ctx_start(j->ctx);
    for (int i = 0; !rc && items[i]; i++) rc = spate_queue_push(j->q, items[i], strlen(items[i]));
    spate_queue_close(j->q);
    if (!rc) rc = spate_ctx_await_termination(j->ctx, 20000);
    return rc;
}

static const spate_agg sum_v = {SPATE_AGG_SUM, "v", "s", 0};

/* Builds tumbling/sliding/... SUM(v) per k over the items, runs it, and leaves the
 * output in out_rows. */
static int run_sum(const spate_window_spec *w, int workers, int micro, int64_t delay,
                   const char *const *items, uint64_t *late)
{
    job j;
    int rc = job_new(&j, workers, micro, delay, NULL);
    spate_stream *win = NULL;
    if (!rc) rc = spate_window_aggregate(j.keyed, w, 1, &sum_v, &win);
    if (!rc) rc = spate_sink_callback(win, collect, &out_rows);
    if (!rc && w->late == SPATE_LATE_SIDE_OUTPUT) {
        spate_stream *ls;
        rc = spate_window_late_stream(win, &ls);
        if (!rc) rc = spate_sink_callback(ls, collect, &late_rows);
    }
    if (!rc) rc = job_run(&j, items);
    spate_metrics m = {0};
    spate_ctx_metrics(j.ctx, &m);
    if (late) *late = m.late_records;
    spate_ctx_free(j.ctx);
    if (rc) fprintf(stderr, "  run_sum: %d %s\n", rc, spate_last_error());
    return rc;
}

static void reset_rows(void)
{
    out_rows.len = late_rows.len = 0;
    out_rows.buf[0] = late_rows.buf[0] = 0;
    out_rows.rows = late_rows.rows = 0;
}

/* ------------------------------------------------------------- the tests */

/* The accumulation example: one global window, an early count of 3, no
 * on-time firing; three firings see [A5 B8], [C15 B10], [A2] as new data. */
static void run_accumulation(spate_accumulation acc, const char *want)
{
    static const char *const items[] = {
        "A,5,1000\nB,3,1000\nB,5,1000\nC,15,1000\nB,4,1000\nB,6,1000\nA,1,1000\nA,1,1000\n"
        "A,0,1000\n",
        NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_GLOBAL, .accumulation = acc};
    w.trigger.early_count = 3;
    w.trigger.no_on_time = 1;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 0, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, want);
}

static void test_accumulation_modes(void)
{
    const char *g = "-9223372036854775808us,9223372036854775807us";
    char want[2048];
    snprintf(want, sizeof want,
             "A,%s,5,+I\nB,%s,8,+I\nC,%s,15,+I\nB,%s,10,+U\nA,%s,2,+U\n", g, g, g, g, g);
    run_accumulation(SPATE_ACC_DISCARDING, want);
    snprintf(want, sizeof want,
             "A,%s,5,+I\nB,%s,8,+I\nA,%s,5,+U\nB,%s,18,+U\nC,%s,15,+I\n"
             "A,%s,7,+U\nB,%s,18,+U\nC,%s,15,+U\n", g, g, g, g, g, g, g, g);
    run_accumulation(SPATE_ACC_ACCUMULATING, want);
    snprintf(want, sizeof want,
             "A,%s,5,+I\nB,%s,8,+I\n"
             "A,%s,5,-U\nB,%s,8,-U\nA,%s,5,+U\nB,%s,18,+U\nC,%s,15,+I\n"
             "A,%s,5,-U\nB,%s,18,-U\nC,%s,15,-U\nA,%s,7,+U\nB,%s,18,+U\nC,%s,15,+U\n",
             g, g, g, g, g, g, g, g, g, g, g, g, g);
    run_accumulation(SPATE_ACC_RETRACTING, want);
}

/* Out of order within the bound; a record exactly on a boundary opens the next
 * window; one and two workers agree. */
static void test_tumbling_out_of_order(void)
{
    static const char *const items[] = {"A,1,5000\nB,2,9999\nA,4,10000\n", "A,8,0\nB,16,12000\n",
                                        "C,32,25000\nA,64,19999\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    const char *want = "A,0,10000,9,+I\nB,0,10000,2,+I\nA,10000,20000,68,+I\n"
                       "B,10000,20000,16,+I\nC,20000,30000,32,+I\n";
    for (int workers = 1; workers <= 2; workers++) {
        reset_rows();
        REQUIRE_OK(run_sum(&w, workers, 1, 20000, items, NULL));
        CHECK_SORTED(out_rows.buf, want);
    }
}

/* Size 15 s, slide 10 s (panes of 5 s), offset 0: a record belongs to one or two
 * windows. */
static void test_sliding(void)
{
    static const char *const items[] = {"A,1,1000\nA,2,6000\n", "A,4,12000\nA,8,-3000\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_SLIDING, .size_ms = 15000, .slide_ms = 10000};
    /* windows [-10,5) [0,15) [10,25): -3000 and 1000 in [-10,5); 1000 6000 12000 in
     * [0,15); 12000 in [10,25). */
    const char *want = "A,-10000,5000,9,+I\nA,0,15000,7,+I\nA,10000,25000,4,+I\n";
    for (int workers = 1; workers <= 2; workers++) {
        reset_rows();
        REQUIRE_OK(run_sum(&w, workers, 1, 60000, items, NULL));
        CHECK_SORTED(out_rows.buf, want);
    }
}

/* Random data against a brute-force answer: sliding 10 s / 4 s (panes of 2 s)
 * with an offset, keys over two workers. */
static void test_sliding_oracle(void)
{
    enum { N = 400, K = 5 };
    static char text[N * 32];
    static int64_t ts[N], v[N];
    static int key[N];
    size_t len = 0;
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        ts[i] = (int64_t)(seed >> 8) % 60000 - 20000;
        key[i] = (int)((seed >> 4) % K);
        v[i] = (int64_t)(seed % 100);
        len += (size_t)snprintf(text + len, sizeof text - len, "K%d,%lld,%lld\n", key[i],
                                (long long)v[i], (long long)ts[i]);
    }
    const char *items[] = {text, NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_SLIDING, .size_ms = 10000, .slide_ms = 4000,
                           .offset_ms = 1000};
    static char want[1 << 16];
    size_t wl = 0;
    for (int64_t s = -35000; s < 45000; s += 4000)
        for (int k = 0; k < K; k++) {
            int64_t sum = 0;
            int any = 0;
            for (int i = 0; i < N; i++)
                if (key[i] == k && ts[i] >= s && ts[i] < s + 10000) {
                    sum += v[i];
                    any = 1;
                }
            if (any)
                wl += (size_t)snprintf(want + wl, sizeof want - wl, "K%d,%lld,%lld,%lld,+I\n", k,
                                       (long long)s, (long long)(s + 10000), (long long)sum);
        }
    reset_rows();
    REQUIRE_OK(run_sum(&w, 2, 0, 100000, items, NULL));
    CHECK_SORTED(out_rows.buf, want);
}

/* Negative times use floor division; times near the int64 limits neither
 * overflow nor wrap (the windows are cut at the limits). */
static void test_negative_and_huge_times(void)
{
    job j;
    REQUIRE_OK(job_new(&j, 1, 0, 0, "us"));
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    spate_stream *win;
    REQUIRE_OK(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &win));
    REQUIRE_OK(spate_sink_callback(win, collect, &out_rows));
    reset_rows();
    static const char *const items[] = {
        "A,1,-1\nA,2,-10000000\nA,4,-10000001\nB,8,9223372036854775800\n"
        "C,16,-9223372036854775800\n",
        NULL};
    REQUIRE_OK(job_run(&j, items));
    spate_ctx_free(j.ctx);
    CHECK_SORTED(out_rows.buf, "A,-10000,0,3,+I\nA,-20000,-10000,4,+I\n"
                               "B,9223372036850000,9223372036854775807us,8,+I\n"
                               "C,-9223372036854775808us,-9223372036850000,16,+I\n");
}

/* Windows without records produce nothing. */
static void test_empty_windows(void)
{
    static const char *const items[] = {"A,1,1000\n", "A,2,35000\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 1, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, "A,0,10000,1,+I\nA,30000,40000,2,+I\n");
}

/* Gap 5 s: A's sessions [0,5) and [9,14) are bridged by a record at 4.5 s. */
static void test_session_merge(void)
{
    static const char *const items[] = {"A,1,0\nB,100,1000\n", "A,2,9000\n", "A,4,4500\n",
                                        "B,200,20000\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_SESSION, .gap_ms = 5000};
    for (int workers = 1; workers <= 2; workers++) {
        reset_rows();
        REQUIRE_OK(run_sum(&w, workers, 1, 30000, items, NULL));
        CHECK_SORTED(out_rows.buf, "A,0,14000,7,+I\nB,1000,6000,100,+I\nB,20000,25000,200,+I\n");
    }
}

/* Every 2 elements of a key; the last, partial window fires at the end of input. */
static void test_count_windows(void)
{
    static const char *const items[] = {"A,1,3000\nA,2,1000\nB,5,7000\nA,4,2000\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_COUNT, .count = 2};
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 0, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, "A,1000,3000,3,+I\nB,7000,7000,5,+I\nA,2000,2000,4,+I\n");
}

/* APPEND: once per window; UPDATE: changed keys with totals at each firing;
 * COMPLETE: every key of every kept window at each round of firings. */
static void test_output_modes(void)
{
    static const char *const items[] = {"A,1,1000\n", "B,1,2000\n", "A,1,3000\n",
                                        "B,2,15000\n", NULL};
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000,
                           .output = SPATE_OUTPUT_APPEND};
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 1, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, "A,0,10000,2,+I\nB,0,10000,1,+I\nB,10000,20000,2,+I\n");

    w.output = SPATE_OUTPUT_UPDATE;
    w.trigger.early_count = 2;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 1, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, "A,0,10000,1,+I\nB,0,10000,1,+I\nA,0,10000,2,+U\n"
                               "B,10000,20000,2,+I\n");

    w.output = SPATE_OUTPUT_COMPLETE;
    w.trigger.early_count = 0;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 1, 0, items, NULL));
    CHECK_EQ_STR(out_rows.buf, "A,0,10000,2,+I\nB,0,10000,1,+I\nB,10000,20000,2,+I\n"
                               "B,10000,20000,2,+U\n");
}

static const char *const late_items[] = {"A,1,1000\n", "A,2,15000\n", "A,4,2000\n",
                                         "A,8,30000\n", "A,16,3000\n", NULL};

/* Lateness 0, drop: both records behind a fired window are dropped and counted. */
static void test_late_drop(void)
{
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    uint64_t late = 0;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 2, 1, 0, late_items, &late));
    CHECK_SORTED(out_rows.buf, "A,0,10000,1,+I\nA,10000,20000,2,+I\nA,30000,40000,8,+I\n");
    CHECK_EQ_INT(late, 2);
}

/* Allowed lateness 10 s: the record at 2 s re-fires [0,10); at watermark 30 s the
 * window is gone and the record at 3 s is late. */
static void test_allowed_lateness(void)
{
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000,
                           .allowed_lateness_ms = 10000};
    uint64_t late = 0;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 1, 1, 0, late_items, &late));
    CHECK_EQ_STR(out_rows.buf, "A,0,10000,1,+I\nA,0,10000,5,+U\nA,10000,20000,2,+I\n"
                               "A,30000,40000,8,+I\n");
    CHECK_EQ_INT(late, 1);
}

/* The side output gets the late records themselves (the input schema). */
static void test_late_side_output(void)
{
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000,
                           .late = SPATE_LATE_SIDE_OUTPUT};
    uint64_t late = 0;
    reset_rows();
    REQUIRE_OK(run_sum(&w, 2, 1, 0, late_items, &late));
    CHECK_SORTED(out_rows.buf, "A,0,10000,1,+I\nA,10000,20000,2,+I\nA,30000,40000,8,+I\n");
    CHECK_EQ_STR(late_rows.buf, "A,4,2000\nA,16,3000\n");
    CHECK_EQ_INT(late, 0);
}

/* A user reduce: value columns (v, ts) folded by the function. */
static int add_v_max_ts(const spate_row *a, const spate_row *b, spate_out *o, void *ud)
{
    spate_out_set_int(o, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    int64_t ta = spate_row_int(a, 1), tb = spate_row_int(b, 1);
    return spate_out_set_int(o, 1, ta > tb ? ta : tb);
}

static void test_reduce(void)
{
    job j;
    REQUIRE_OK(job_new(&j, 2, 0, 0, NULL));
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    spate_stream *win;
    REQUIRE_OK(spate_window_reduce(j.keyed, &w, add_v_max_ts, NULL, &win));
    REQUIRE_OK(spate_sink_callback(win, collect, &out_rows));
    reset_rows();
    static const char *const items[] = {"A,1,1000\nA,2,4000\nB,3,2000\nA,4,12000\n", NULL};
    REQUIRE_OK(job_run(&j, items));
    spate_ctx_free(j.ctx);
    CHECK_SORTED(out_rows.buf, "A,0,10000,3,4000,+I\nB,0,10000,3,2000,+I\n"
                               "A,10000,20000,4,12000,+I\n");
}

/* Two sources; the second goes quiet and, once idle, must not hold back the
 * window while the job still runs. */
static void test_idle_input(void)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", "2");
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(conf, &ctx));
    spate_conf_free(conf);
    spate_schema *s = NULL;
    spate_schema_parse("k STRING, v BIGINT, ts BIGINT", &s);
    spate_queue *qa, *qb;
    spate_stream *a, *b, *ta, *tb, *u, *keyed, *win;
    REQUIRE_OK(spate_source_queue(ctx, s, 0, &qa, &a));
    REQUIRE_OK(spate_source_queue(ctx, s, 0, &qb, &b));
    spate_schema_free(s);
    spate_event_time et = {"ts", "ms", NULL, 0, 100};
    REQUIRE_OK(spate_with_event_time(a, &et, &ta));
    REQUIRE_OK(spate_with_event_time(b, &et, &tb));
    REQUIRE_OK(spate_union(ta, tb, &u));
    const char *k = "k";
    REQUIRE_OK(spate_key_by(u, 1, &k, &keyed));
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10000};
    REQUIRE_OK(spate_window_aggregate(keyed, &w, 1, &sum_v, &win));
    reset_rows();
    REQUIRE_OK(spate_sink_callback(win, collect, &out_rows));
    REQUIRE_OK(spate_ctx_start(ctx));
    spate_queue_push(qb, "B,1,500\n", 8);
    spate_queue_push(qa, "A,2,1000\n", 9);
    usleep(300000); /* b idle by now */
    spate_queue_push(qa, "A,4,25000\n", 10);
    int rows = 0;
    for (int i = 0; i < 500 && rows < 2; i++) {
        usleep(10000);
        pthread_mutex_lock(&out_rows.mu);
        rows = out_rows.rows;
        pthread_mutex_unlock(&out_rows.mu);
    }
    CHECK_EQ_INT(rows, 2); /* [0,10) of A and B, before either queue closed */
    spate_queue_close(qa);
    spate_queue_close(qb);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 20000));
    spate_ctx_free(ctx);
    CHECK_SORTED(out_rows.buf, "A,0,10000,2,+I\nB,0,10000,1,+I\nA,20000,30000,4,+I\n");
}

/* Processing-time windows fire by the clock (no timing asserted beyond that). */
static void test_processing_time(void)
{
    job j;
    REQUIRE_OK(job_new(&j, 1, 0, 0, NULL));
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 50, .processing_time = 1};
    spate_stream *win;
    REQUIRE_OK(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &win));
    reset_rows();
    REQUIRE_OK(spate_sink_callback(win, collect, &out_rows));
    REQUIRE_OK(spate_ctx_start(j.ctx));
    spate_queue_push(j.q, "A,3,0\n", 6);
    int rows = 0;
    for (int i = 0; i < 500 && !rows; i++) {
        usleep(10000);
        pthread_mutex_lock(&out_rows.mu);
        rows = out_rows.rows;
        pthread_mutex_unlock(&out_rows.mu);
    }
    CHECK_EQ_INT(rows, 1); /* fired while the queue is still open */
    spate_queue_close(j.q);
    REQUIRE_OK(spate_ctx_await_termination(j.ctx, 20000));
    spate_ctx_free(j.ctx);
    long long st = 0, en = 0, sum = 0;
    CHECK_EQ_INT(sscanf(out_rows.buf, "A,%lld,%lld,%lld", &st, &en, &sum), 3);
    CHECK_EQ_INT(en - st, 50);
    CHECK_EQ_INT(sum, 3);
}

static void test_errors(void)
{
    job j;
    REQUIRE_OK(job_new(&j, 1, 0, 0, NULL));
    spate_stream *out = NULL, *plain, *late;
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 1000};
    /* no event time: the queue stream itself, keyed */
    spate_schema *s = NULL;
    spate_schema_parse("k STRING, v BIGINT, ts BIGINT", &s);
    spate_queue *q2;
    spate_stream *src2;
    REQUIRE_OK(spate_source_queue(j.ctx, s, 0, &q2, &src2));
    spate_schema_free(s);
    const char *k = "k";
    REQUIRE_OK(spate_key_by(src2, 1, &k, &plain));
    CHECK_EQ_INT(spate_window_aggregate(plain, &w, 1, &sum_v, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "event time") != NULL);
    w.time_column = "v"; /* not a TIMESTAMP */
    CHECK_EQ_INT(spate_window_aggregate(plain, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w.time_column = NULL;
    w.size_ms = 0;
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w = (spate_window_spec){.kind = SPATE_WINDOW_SLIDING, .size_ms = 1000, .slide_ms = 2000};
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w = (spate_window_spec){.kind = SPATE_WINDOW_TUMBLING, .size_ms = 1000,
                            .output = SPATE_OUTPUT_APPEND};
    w.trigger.early_count = 5;
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w.trigger.early_count = 0;
    w.allowed_lateness_ms = 10;
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w.allowed_lateness_ms = 0;
    w.accumulation = SPATE_ACC_DISCARDING;
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w = (spate_window_spec){.kind = SPATE_WINDOW_GLOBAL};
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w = (spate_window_spec){.kind = SPATE_WINDOW_SESSION, .gap_ms = -1};
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out), SPATE_EINVAL);
    w = (spate_window_spec){.kind = SPATE_WINDOW_TUMBLING, .size_ms = 1000};
    CHECK_EQ_INT(spate_window_aggregate(j.keyed, &w, 0, &sum_v, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_window_reduce(j.keyed, &w, NULL, NULL, &out), SPATE_EINVAL);
    REQUIRE_OK(spate_window_aggregate(j.keyed, &w, 1, &sum_v, &out));
    CHECK_EQ_INT(spate_window_late_stream(out, &late), SPATE_EINVAL); /* policy is DROP */
    CHECK_EQ_INT(spate_window_late_stream(j.keyed, &late), SPATE_EINVAL);
    spate_queue_close(q2);
    spate_queue_close(j.q);
    spate_ctx_free(j.ctx);
}

const sp_test tests_windows[] = {
    {"win_accumulation_modes", test_accumulation_modes},
    {"win_tumbling_out_of_order", test_tumbling_out_of_order},
    {"win_sliding", test_sliding},
    {"win_sliding_oracle", test_sliding_oracle},
    {"win_negative_and_huge_times", test_negative_and_huge_times},
    {"win_empty_windows", test_empty_windows},
    {"win_session_merge", test_session_merge},
    {"win_count_windows", test_count_windows},
    {"win_output_modes", test_output_modes},
    {"win_late_drop", test_late_drop},
    {"win_allowed_lateness", test_allowed_lateness},
    {"win_late_side_output", test_late_side_output},
    {"win_reduce", test_reduce},
    {"win_idle_input", test_idle_input},
    {"win_processing_time", test_processing_time},
    {"win_errors", test_errors},
    {NULL, NULL},
};
