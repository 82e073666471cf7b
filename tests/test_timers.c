/*
 * test_timers.c - keyed timers: spate_process and spate_timer_* (src/time/timers.c,
 * src/ops/process.c).
 *
 * Public API only. Event time comes from spate_with_event_time over a queue
 * source whose items are one micro-batch each; the assigner advances the watermark
 * after every batch (largest time seen, no delay), so which timers are due after
 * each item is known. Output rows are gathered across batches in arrival order:
 * with one worker that order is checked, with two the rows as a sorted multiset.
 * Processing-time tests assert only "eventually, within 10 s".
 */
#include "test.h"

#include "spate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum { MAX_ROWS = 64, ROW_CAP = 48, IV = 20 };

typedef struct rows_seen {
    pthread_mutex_t mu;
    int n;
    int64_t total;                /* rows, when more than MAX_ROWS arrive */
    char row[MAX_ROWS][ROW_CAP];
} rows_seen;

/* Shared with the callbacks (worker threads). */
typedef struct cb_state {
    atomic_int fired;             /* on_timer calls */
    atomic_int bad;               /* violated expectations seen inside callbacks */
    int64_t delay_ms;             /* processing-time timers: now + delay */
} cb_state;

static int on_rows(const spate_rows *rs, int64_t time_ms, void *ud)
{
    rows_seen *s = ud;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        s->total++;
        if (s->n == MAX_ROWS) continue;
        size_t len = 0;
        char *buf = s->row[s->n++];
        for (int c = 0; c < spate_row_ncols(&r); c++) {
            const char *sep = c ? "," : "";
            if (spate_schema_type(spate_rows_schema(rs), c) == SPATE_STRING) {
                spate_str v = spate_row_str(&r, c);
                len += snprintf(buf + len, ROW_CAP - len, "%s%.*s", sep, (int)v.len, v.ptr);
            } else {
                len += snprintf(buf + len, ROW_CAP - len, "%s%lld", sep,
                                (long long)spate_row_int(&r, c));
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Compares the rows seen with want (NULL-terminated): in order with one worker,
 * as multisets otherwise. */
static void check_rows(rows_seen *s, int workers, const char *const *want)
{
    int n = 0;
    while (want[n]) n++;
    CHECK_EQ_INT(s->n, n);
    if (s->n != n) return;
    const char *got[MAX_ROWS], *exp[MAX_ROWS];
    for (int i = 0; i < n; i++) {
        got[i] = s->row[i];
        exp[i] = want[i];
    }
    if (workers > 1) {
        qsort(got, (size_t)n, sizeof got[0], sp_test_cmp_str);
        qsort(exp, (size_t)n, sizeof exp[0], sp_test_cmp_str);
    }
    for (int i = 0; i < n; i++) CHECK_EQ_STR(got[i], exp[i]);
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

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    return spate_schema_parse(decl, &s) ? NULL : s;
}

/* (k STRING, ts BIGINT ms) from a queue: event time on ts, keyed by k. The queue
 * stays open when q is not NULL; items (NULL-terminated) are pushed first. */
static spate_stream *keyed_events(spate_ctx *ctx, const char *const *items, spate_queue **q)
{
    spate_schema *s = schema_of("k STRING, ts BIGINT");
    spate_queue *queue;
    spate_stream *src = NULL, *et = NULL, *k = NULL;
    if (!s || spate_source_queue(ctx, s, 1, &queue, &src)) src = NULL;
    spate_schema_free(s);
    if (!src) return NULL;
    for (int i = 0; items[i]; i++) spate_queue_push(queue, items[i], strlen(items[i]));
    if (q) *q = queue;
    else spate_queue_close(queue);
    spate_event_time e = {.column = "ts", .unit = "ms"};
    const char *cols[] = {"k"};
    if (spate_with_event_time(src, &e, &et) || spate_key_by(et, 1, cols, &k)) return NULL;
    return k;
}

static rows_seen *seen_new(void)
{
    rows_seen *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* Registers an event-time timer one second after the record. */
static int alarm_after_1s(const spate_row *in, spate_timer_ctx *t, spate_out *out, void *ud)
{
    spate_row key;
    cb_state *cb = ud;
    if (spate_timer_key(t, &key) || spate_row_str(&key, 0).len != spate_row_str(in, 0).len)
        atomic_fetch_add(&cb->bad, 1);
    return spate_timer_at_event_time(t, spate_row_int(in, 1) + 1000000); /* ts is µs now */
}

/* Emits (when in ms); checks the watermark passed it. */
static int emit_when(int64_t when, int event_time, spate_timer_ctx *t, spate_out *out, void *ud)
{
    cb_state *cb = ud;
    atomic_fetch_add(&cb->fired, 1);
    if (!event_time || spate_timer_watermark(t) < when) atomic_fetch_add(&cb->bad, 1);
    int rc = spate_out_set_int(out, 0, when / 1000);
    return rc ? rc : spate_out_emit(out);
}

static int run(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    return rc ? rc : spate_ctx_await_termination(ctx, 60000);
}

/* Per-key "session end" alarms fire in time order once the watermark passes; a
 * timer registered twice fires once; the end of input fires the rest. */
static void test_event_time_order_dedup(void)
{
    static const char *const items[] = {"a,1000\nb,1500\n", "a,1000\n", "c,3000\n", "a,5000\n",
                                        NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, IV);
        cb_state cb = {0};
        rows_seen *seen = seen_new();
        spate_schema *os = schema_of("alarm_ms BIGINT");
        spate_stream *p;
        REQUIRE_OK(spate_process(keyed_events(ctx, items, NULL), os, alarm_after_1s, emit_when,
                                 &cb, &p));
        CHECK_EQ_INT(spate_schema_count(spate_stream_schema(p)), 2);
        REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
        REQUIRE_OK(run(ctx));
        check_rows(seen, w, (const char *const[]){"a,2000", "b,2500", "c,4000", "a,6000", NULL});
        CHECK_EQ_INT(atomic_load(&cb.bad), 0);
        spate_schema_free(os);
        spate_ctx_free(ctx);
        free(seen);
    }
}

static int timer_at_ts(const spate_row *in, spate_timer_ctx *t, spate_out *out, void *ud)
{
    return spate_timer_at_event_time(t, spate_row_int(in, 1));
}

/* Emits two rows per firing and chains a timer 500 ms later until 2000 ms. */
static int emit_twice_and_chain(int64_t when, int event_time, spate_timer_ctx *t, spate_out *out,
                                void *ud)
{
    for (int i = 1; i <= 2; i++) {
        spate_out_set_int(out, 0, when / 1000);
        spate_out_set_int(out, 1, i);
        int rc = spate_out_emit(out);
        if (rc) return rc;
    }
    return when < 2000000 ? spate_timer_at_event_time(t, when + 500000) : 0;
}

static void test_on_timer_emits_and_registers(void)
{
    static const char *const items[] = {"a,1000\n", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, IV);
        rows_seen *seen = seen_new();
        spate_schema *os = schema_of("when_ms BIGINT, n INT");
        spate_stream *p;
        REQUIRE_OK(spate_process(keyed_events(ctx, items, NULL), os, timer_at_ts,
                                 emit_twice_and_chain, NULL, &p));
        REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
        REQUIRE_OK(run(ctx));
        check_rows(seen, w,
                   (const char *const[]){"a,1000,1", "a,1000,2", "a,1500,1", "a,1500,2",
                                         "a,2000,1", "a,2000,2", NULL});
        spate_schema_free(os);
        spate_ctx_free(ctx);
        free(seen);
    }
}

/* Many keys, two workers: every key's timer fires once; firing them all leaves
 * thousands of keys without timers, so the key table is rebuilt between rounds. */
static void test_many_keys(void)
{
    enum { NK = 3000 };
    char *first = malloc(NK * 24), *second = malloc(NK * 24);
    size_t l1 = 0, l2 = 0;
    for (int j = 0; j < NK; j++) {
        l1 += (size_t)sprintf(first + l1, "k%d,%d\nk%d,%d\n", j, 1000, j, 1000);
        l2 += (size_t)sprintf(second + l2, "n%d,%d\n", j, 100000);
    }
    const char *items[] = {first, "x,50000\n", second, NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, IV);
        cb_state cb = {0};
        rows_seen *seen = seen_new();
        spate_schema *os = schema_of("alarm_ms BIGINT");
        spate_stream *p;
        REQUIRE_OK(spate_process(keyed_events(ctx, items, NULL), os, alarm_after_1s, emit_when,
                                 &cb, &p));
        REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
        REQUIRE_OK(run(ctx));
        CHECK_EQ_INT(seen->total, 2 * NK + 1);
        CHECK_EQ_INT(atomic_load(&cb.fired), 2 * NK + 1);
        CHECK_EQ_INT(atomic_load(&cb.bad), 0);
        spate_schema_free(os);
        spate_ctx_free(ctx);
        free(seen);
    }
    free(first);
    free(second);
}

/* ------------------------------------------------------ processing time */

static int proc_timer(const spate_row *in, spate_timer_ctx *t, spate_out *out, void *ud)
{
    cb_state *cb = ud;
    return spate_timer_at_processing_time(t, spate_timer_now(t) + cb->delay_ms);
}

static int proc_fired(int64_t when, int event_time, spate_timer_ctx *t, spate_out *out, void *ud)
{
    cb_state *cb = ud;
    if (event_time || spate_timer_now(t) < when) atomic_fetch_add(&cb->bad, 1);
    atomic_fetch_add(&cb->fired, 1);
    spate_out_set_int(out, 0, 1);
    return spate_out_emit(out);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Processing-time timers fire by the clock while the input is still open. */
static void test_processing_time_fires(void)
{
    static const char *const items[] = {"a,1\nb,2\n", "a,3\n", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, IV);
        cb_state cb = {.delay_ms = 30};
        rows_seen *seen = seen_new();
        spate_schema *os = schema_of("one INT");
        spate_queue *q;
        spate_stream *p;
        REQUIRE_OK(spate_process(keyed_events(ctx, items, &q), os, proc_timer, proc_fired, &cb,
                                 &p));
        REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
        REQUIRE_OK(spate_ctx_start(ctx));
        /* a registers twice (different times, so both fire), b once. */
        for (int i = 0; i < 1000 && atomic_load(&cb.fired) < 3; i++) sleep_ms(10);
        CHECK_EQ_INT(atomic_load(&cb.fired), 3);
        spate_queue_close(q);
        REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
        CHECK_EQ_INT(seen->total, 3);
        CHECK_EQ_INT(atomic_load(&cb.bad), 0);
        spate_schema_free(os);
        spate_ctx_free(ctx);
        free(seen);
    }
}

/* The end of input drops processing-time timers still pending. */
static void test_processing_time_dropped_at_end(void)
{
    static const char *const items[] = {"a,1\n", NULL};
    spate_ctx *ctx = ctx_new(1, IV);
    cb_state cb = {.delay_ms = 3600 * 1000};
    rows_seen *seen = seen_new();
    spate_schema *os = schema_of("one INT");
    spate_stream *p;
    REQUIRE_OK(spate_process(keyed_events(ctx, items, NULL), os, proc_timer, proc_fired, &cb,
                             &p));
    REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
    REQUIRE_OK(run(ctx));
    CHECK_EQ_INT(atomic_load(&cb.fired), 0);
    CHECK_EQ_INT(seen->total, 0);
    spate_schema_free(os);
    spate_ctx_free(ctx);
    free(seen);
}

/* ---------------------------------------------------------------- errors */

static int fail_process(const spate_row *in, spate_timer_ctx *t, spate_out *out, void *ud)
{
    return -3;
}

static void test_errors(void)
{
    static const char *const items[] = {"a,1\n", NULL};
    spate_ctx *ctx = ctx_new(1, IV);
    spate_stream *k = keyed_events(ctx, items, NULL), *p = k;
    spate_schema *os = schema_of("x BIGINT"), *clash = schema_of("k BIGINT");
    spate_stream *unkeyed;
    spate_schema *s = schema_of("k STRING, ts BIGINT");
    spate_queue *q;
    REQUIRE_OK(spate_source_queue(ctx, s, 1, &q, &unkeyed));
    spate_queue_close(q);
    CHECK_EQ_INT(spate_process(unkeyed, os, timer_at_ts, NULL, NULL, &p), SPATE_EINVAL);
    CHECK(p == NULL);
    CHECK(strstr(spate_last_error(), "spate_key_by") != NULL);
    CHECK_EQ_INT(spate_process(k, os, NULL, emit_when, NULL, &p), SPATE_EINVAL);
    CHECK_EQ_INT(spate_process(k, NULL, timer_at_ts, emit_when, NULL, &p), SPATE_EINVAL);
    CHECK(spate_process(k, clash, timer_at_ts, emit_when, NULL, &p) < 0);
    CHECK_EQ_INT(spate_timer_at_event_time(NULL, 5), SPATE_EINVAL);
    REQUIRE_OK(spate_process(k, os, fail_process, NULL, NULL, &p));
    void *seen = seen_new();
    REQUIRE_OK(spate_stream_foreach_batch(p, on_rows, seen));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 60000), SPATE_EUSER);
    CHECK(strstr(spate_ctx_error(ctx), "returned -3") != NULL);
    spate_schema_free(os);
    spate_schema_free(clash);
    spate_schema_free(s);
    spate_ctx_free(ctx);
    free(seen);
}

const sp_test tests_timers[] = {
    {"tmr_event_time_order_dedup", test_event_time_order_dedup},
    {"tmr_on_timer_emits_and_registers", test_on_timer_emits_and_registers},
    {"tmr_many_keys", test_many_keys},
    {"tmr_processing_time_fires", test_processing_time_fires},
    {"tmr_processing_time_dropped_at_end", test_processing_time_dropped_at_end},
    {"tmr_errors", test_errors},
    {NULL, NULL},
};
