/*
 * test_state_ttl.c - state.ttl.ms: idle keyed state and never-closing window
 * state is dropped (docs/semantics.md, "State TTL").
 *
 * Jobs read a queue source (k STRING, v BIGINT, ts BIGINT) keyed by k. A sink
 * callback records, per output row, the key and one value column, so a test
 * reads each key's sequence of results ("a" -> "1 2 1"). Timing is never exact:
 * an idle key stays idle many times the TTL, a live key is touched many times
 * per TTL.
 */
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "spate.h"

/* ------------------------------------------------------------- collection */

typedef struct seqs {
    pthread_mutex_t mu;
    int col;        /* the value column recorded */
    char buf[8192]; /* "key value\n" per row, in arrival order */
    size_t len;
} seqs;

static void seqs_init(seqs *s, int col)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->col = col;
}

static int collect(const spate_rows *rs, int64_t t, void *ud)
{
    seqs *s = ud;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        if (spate_rows_get(rs, i, &r)) continue;
        spate_str k = spate_row_str(&r, 0);
        size_t room = sizeof s->buf - s->len;
        int n = snprintf(s->buf + s->len, room, "%.*s %lld\n", (int)k.len, k.ptr,
                         (long long)spate_row_int(&r, s->col));
        if (n > 0 && (size_t)n < room) s->len += (size_t)n;
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The values recorded for key, space-separated, in arrival order. */
static const char *seq_of(const seqs *s, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key), n = 0;
    out[0] = 0;
    for (const char *l = s->buf; *l;) {
        const char *end = strchr(l, '\n');
        if ((size_t)(end - l) > klen && !strncmp(l, key, klen) && l[klen] == ' ')
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " " : "",
                                  (int)(end - l - (long)klen - 1), l + klen + 1);
        l = end + 1;
    }
    return out;
}

/* "1 2 ... n" */
static const char *count_to(int n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 1; i <= n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%d", i > 1 ? " " : "", i);
    return out;
}

/* ------------------------------------------------------------------- jobs */

typedef struct job {
    spate_ctx *ctx;
    spate_queue *q;
    spate_stream *src, *keyed;
} job;

/* A job of `workers` with the given batch interval and state.ttl.ms. */
static int job_new(job *j, const char *workers, const char *interval, const char *ttl)
{
    spate_conf *conf = spate_conf_new();
    int rc = spate_conf_set(conf, "workers", workers);
    if (!rc) rc = spate_conf_set(conf, "batch.interval.ms", interval);
    if (!rc) rc = spate_conf_set(conf, "state.ttl.ms", ttl);
    if (!rc) rc = spate_ctx_new(conf, &j->ctx);
    spate_conf_free(conf);
    if (rc) return rc;
    spate_schema *s = NULL;
    rc = spate_schema_parse("k STRING, v BIGINT, ts BIGINT", &s);
    if (!rc) rc = spate_source_queue(j->ctx, s, 1, &j->q, &j->src);
    spate_schema_free(s);
    const char *k = "k";
    return rc ? rc : spate_key_by(j->src, 1, &k, &j->keyed);
}

static int push(job *j, const char *item)
{
    return spate_queue_push(j->q, item, strlen(item));
}

static int finish(job *j)
{
    spate_queue_close(j->q);
    return spate_ctx_await_termination(j->ctx, 60000);
}

static const spate_agg count_agg = {SPATE_AGG_COUNT, NULL, "n", 0};

/* Over the value columns (v, ts): sums v, ts 0. */
static int sum_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    int rc = spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    return rc ? rc : spate_out_set_int(out, 1, 0);
}

/* ------------------------------------------------------------- the tests */

enum { LIVE_BATCHES = 15 };

/* Micro-batches of 20 ms, one item each: a and b, then b alone LIVE_BATCHES
 * times (a idle for about 300 ms), then a and b again. */
static void run_running(const char *workers, const char *ttl, seqs *out)
{
    job j;
    seqs_init(out, 1);
    REQUIRE_OK(job_new(&j, workers, "20", ttl));
    spate_stream *agg;
    REQUIRE_OK(spate_aggregate_by_key(j.keyed, 1, &count_agg, 1, &agg));
    REQUIRE_OK(spate_sink_callback(agg, collect, out));
    REQUIRE_OK(push(&j, "a,1,0\nb,1,0\n"));
    for (int i = 0; i < LIVE_BATCHES; i++)
        REQUIRE_OK(push(&j, "b,1,0\n"));
    REQUIRE_OK(push(&j, "a,1,0\nb,1,0\n"));
    REQUIRE_OK(spate_ctx_start(j.ctx));
    REQUIRE_OK(finish(&j));
    spate_ctx_free(j.ctx);
}

/* TTL 100 ms: a (idle ~300 ms) starts over, b (touched every 20 ms) counts on. */
static void test_ttl_running_microbatch(void)
{
    for (int w = 1; w <= 2; w++) {
        static seqs out;
        char got[512], want[512];
        run_running(w == 1 ? "1" : "2", "100", &out);
        CHECK_EQ_STR(seq_of(&out, "a", got, sizeof got), "1 1");
        CHECK_EQ_STR(seq_of(&out, "b", got, sizeof got),
                     count_to(LIVE_BATCHES + 2, want, sizeof want));
    }
}

/* TTL 0 (the default): nothing expires. */
static void test_ttl_off_keeps_state(void)
{
    static seqs out;
    char got[512];
    run_running("1", "0", &out);
    CHECK_EQ_STR(seq_of(&out, "a", got, sizeof got), "1 2");
}

enum { CONT_TOUCHES = 60 };

/* Continuous style, TTL 200 ms, a running count and a running reduce_by_key sum:
 * a and c go idle for over a second (a tick sweep rebuilds the tables meanwhile),
 * b is touched every 20 ms; then a comes back and starts over. */
static void test_ttl_running_continuous(void)
{
    job j;
    static seqs counts, sums;
    seqs_init(&counts, 1);
    seqs_init(&sums, 1);
    REQUIRE_OK(job_new(&j, "2", "0", "200"));
    spate_stream *agg, *red;
    REQUIRE_OK(spate_aggregate_by_key(j.keyed, 1, &count_agg, 1, &agg));
    REQUIRE_OK(spate_reduce_by_key(j.keyed, sum_v, NULL, &red));
    REQUIRE_OK(spate_sink_callback(agg, collect, &counts));
    REQUIRE_OK(spate_sink_callback(red, collect, &sums));
    REQUIRE_OK(spate_ctx_start(j.ctx));
    REQUIRE_OK(push(&j, "a,1,0\nb,1,0\nc,1,0\n"));
    for (int i = 0; i < CONT_TOUCHES; i++) {
        usleep(20 * 1000);
        REQUIRE_OK(push(&j, "b,1,0\n"));
    }
    REQUIRE_OK(push(&j, "a,1,0\n"));
    REQUIRE_OK(finish(&j));
    spate_ctx_free(j.ctx);
    char got[1024], want[1024];
    count_to(CONT_TOUCHES + 1, want, sizeof want);
    CHECK_EQ_STR(seq_of(&counts, "a", got, sizeof got), "1 1");
    CHECK_EQ_STR(seq_of(&counts, "b", got, sizeof got), want);
    CHECK_EQ_STR(seq_of(&sums, "a", got, sizeof got), "1 1");
    CHECK_EQ_STR(seq_of(&sums, "b", got, sizeof got), want);
}

/* A windowed SUM(v) per k in the continuous style, TTL ttl, into out. */
static int window_job(job *j, const spate_window_spec *w, const char *ttl, seqs *out)
{
    seqs_init(out, 3); /* k, window_start, window_end, s, op */
    int rc = job_new(j, "1", "0", ttl);
    spate_event_time et = {"ts", "ms", NULL, 0, 0};
    spate_stream *timed, *keyed, *win;
    const char *k = "k";
    static const spate_agg sum = {SPATE_AGG_SUM, "v", "s", 0};
    if (!rc) rc = spate_with_event_time(j->src, &et, &timed);
    if (!rc) rc = spate_key_by(timed, 1, &k, &keyed);
    if (!rc) rc = spate_window_aggregate(keyed, w, 1, &sum, &win);
    if (!rc) rc = spate_sink_callback(win, collect, out);
    return rc ? rc : spate_ctx_start(j->ctx);
}

/* A gets 2 elements and goes idle 800 ms, then gets 3, 4 and 5. */
static void run_idle_key(const spate_window_spec *w, const char *ttl, seqs *out)
{
    job j;
    REQUIRE_OK(window_job(&j, w, ttl, out));
    REQUIRE_OK(push(&j, "A,1,1000\nA,2,2000\n"));
    usleep(800 * 1000);
    REQUIRE_OK(push(&j, "A,3,3000\nA,4,4000\nA,5,5000\n"));
    REQUIRE_OK(finish(&j));
    spate_ctx_free(j.ctx);
}

/* Count window of 3: with TTL 200 ms A's first 2 elements are dropped and 3, 4, 5
 * form the window; without a TTL the window is 1 + 2 + 3, and 4 + 5 fire at the
 * end of input. */
static void test_ttl_count_window(void)
{
    static seqs out;
    char got[256];
    spate_window_spec w = {.kind = SPATE_WINDOW_COUNT, .count = 3};
    run_idle_key(&w, "200", &out);
    CHECK_EQ_STR(seq_of(&out, "A", got, sizeof got), "12");
    run_idle_key(&w, "0", &out);
    CHECK_EQ_STR(seq_of(&out, "A", got, sizeof got), "6 9");
}

/* An hour-long session gap: the watermark never closes A's session before the end
 * of input; with TTL 200 ms the idle key's session is dropped. */
static void test_ttl_session_window(void)
{
    static seqs out;
    char got[256];
    spate_window_spec w = {.kind = SPATE_WINDOW_SESSION, .gap_ms = 3600000};
    run_idle_key(&w, "200", &out);
    CHECK_EQ_STR(seq_of(&out, "A", got, sizeof got), "12");
    run_idle_key(&w, "0", &out);
    CHECK_EQ_STR(seq_of(&out, "A", got, sizeof got), "15");
}

/* The global window firing every element (UPDATE): A goes idle for over a second
 * (a tick sweep removes it from the window meanwhile) while C is touched every
 * 20 ms and keeps its total; then A comes back and starts over. */
static void test_ttl_global_window(void)
{
    job j;
    static seqs out;
    spate_window_spec w = {.kind = SPATE_WINDOW_GLOBAL, .output = SPATE_OUTPUT_UPDATE};
    w.trigger.early_count = 1;
    w.trigger.no_on_time = 1;
    REQUIRE_OK(window_job(&j, &w, "200", &out));
    REQUIRE_OK(push(&j, "A,1,1000\nA,2,1000\nC,1,1000\n"));
    for (int i = 0; i < CONT_TOUCHES; i++) {
        usleep(20 * 1000);
        REQUIRE_OK(push(&j, "C,1,1000\n"));
    }
    REQUIRE_OK(push(&j, "A,5,1000\n"));
    REQUIRE_OK(finish(&j));
    spate_ctx_free(j.ctx);
    char got[1024], want[1024];
    CHECK_EQ_STR(seq_of(&out, "A", got, sizeof got), "1 3 5");
    CHECK_EQ_STR(seq_of(&out, "C", got, sizeof got), count_to(CONT_TOUCHES + 1, want, sizeof want));
}

static void test_ttl_conf_values(void)
{
    spate_conf *c = spate_conf_new();
    static const char *const bad[] = {"-1", "abc", "", "1.5", "10ms", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(spate_conf_set(c, "state.ttl.ms", bad[i]) != 0);
    REQUIRE_OK(spate_conf_set(c, "state.ttl.ms", "0"));
    REQUIRE_OK(spate_conf_set(c, "state.ttl.ms", "3600000"));
    CHECK_EQ_STR(spate_conf_get(c, "state.ttl.ms"), "3600000");
    spate_conf_free(c);
}

const sp_test tests_state_ttl[] = {
    {"ttl_running_microbatch", test_ttl_running_microbatch},
    {"ttl_off_keeps_state", test_ttl_off_keeps_state},
    {"ttl_running_continuous", test_ttl_running_continuous},
    {"ttl_count_window", test_ttl_count_window},
    {"ttl_session_window", test_ttl_session_window},
    {"ttl_global_window", test_ttl_global_window},
    {"ttl_conf_values", test_ttl_conf_values},
    {NULL, NULL},
};
