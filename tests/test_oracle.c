/*
 * test_oracle.c - spate_window_aggregate against SQLite as an oracle.
 *
 * For random event streams (splitmix64 from a seed: deterministic, and a failure
 * names the seed to replay) the engine runs queue source -> spate_with_event_time
 * -> key_by(k) -> spate_window_aggregate with COUNT and SUM/MIN/MAX/AVG of an
 * integer and a double column, and SQLite runs the batch GROUP BY over the same
 * events in an in-memory database. The two must give the same rows.
 *
 * Design choices:
 *  - Nothing is late, so the streaming answer must equal the batch one: event
 *    times follow a rising clock c and lag it by up to the max delay
 *    (t = c - lag, lag <= delay), so every t is >= the largest earlier t minus the
 *    delay, i.e. >= any watermark it can meet, and every window of t ends after it.
 *    Streams are in order (lag 0) or out of order within that bound.
 *  - The events go in as several queue items so that watermarks advance during the
 *    run and windows fire while later events still arrive, not only at the end.
 *    Workers 1 and 2 (a hash exchange before the window), continuous and micro-batch
 *    styles, negative times (floor alignment below the epoch) and NULL values (the
 *    aggregates skip them, SQL's rule) are all drawn from the seed.
 *  - SQLite computes the windows independently: their starts come from a recursive
 *    CTE (multiples of the slide from the first window holding the smallest time),
 *    joined to the events with start <= t < start + size, GROUP BY key and start.
 *  - With the default trigger each (key, window) is emitted once, as "+I": the test
 *    checks that too, so a duplicate firing is a failure, not a silent overwrite.
 *  - Doubles are compared with a relative tolerance of 1e-9: SUM and AVG of doubles
 *    depend on the order of additions (panes merged per window, rows split over
 *    workers, SQLite's own order and its compensated summation), so the two sides
 *    agree only up to rounding. The values are positive and in [1, 1000), so for the
 *    few hundred terms of a window the rounding error stays below 1e-13 relative,
 *    while one row too many or too few changes a sum by more than 1e-6 relative.
 *    Integers are compared exactly.
 */
#include "test.h"

#include <spate.h>

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>

enum { STREAMS = 100, MAX_EVENTS = 300, NAGGS = 9, KEY_LEN = 8, MAX_REPORTS = 5 };

/* Output columns: k, window_start, window_end, the aggregates, op. */
enum { COL_K, COL_START, COL_END, COL_AGG0, COL_OP = COL_AGG0 + NAGGS };

static const spate_agg aggs[NAGGS] = {
    {SPATE_AGG_COUNT, NULL, "n", 0},    {SPATE_AGG_SUM, "i", "sum_i", 0}, {SPATE_AGG_MIN, "i", "min_i", 0},
    {SPATE_AGG_MAX, "i", "max_i", 0},   {SPATE_AGG_AVG, "i", "avg_i", 0}, {SPATE_AGG_SUM, "d", "sum_d", 0},
    {SPATE_AGG_MIN, "d", "min_d", 0},   {SPATE_AGG_MAX, "d", "max_d", 0}, {SPATE_AGG_AVG, "d", "avg_d", 0},
};

/* Which aggregates are DOUBLE (AVG, and every aggregate of d). */
static int agg_is_double(int a)
{
    return a >= 4;
}

typedef struct event {
    char k[KEY_LEN];
    int64_t t; /* ms */
    int64_t i;
    double d;
    int i_null, d_null;
} event;

/* One random stream and the job that runs it. */
typedef struct stream_case {
    uint64_t seed;
    spate_window_kind kind;
    int64_t size, slide, delay; /* ms */
    int workers;
    const char *interval; /* batch.interval.ms */
    int nev, nitems;
    event ev[MAX_EVENTS];
} stream_case;

typedef struct cell {
    int null;
    int64_t i;
    double d;
} cell;

/* One (key, window) result, from either side. */
typedef struct wrow {
    char k[KEY_LEN];
    int64_t start, end; /* µs */
    cell v[NAGGS];
    int insert; /* op was "+I" (SQLite rows: always) */
} wrow;

typedef struct result_set {
    wrow *r;
    size_t n, cap;
} result_set;

/* ------------------------------------------------------------ random streams */

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t rand_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(next_rand(s) % (uint64_t)(hi - lo + 1));
}

static void gen_window(stream_case *c, uint64_t *s)
{
    if (c->kind == SPATE_WINDOW_TUMBLING) {
        c->size = c->slide = rand_in(s, 1, 100);
        return;
    }
    c->slide = rand_in(s, 1, 40);
    c->size = rand_in(s, c->slide, 5 * c->slide); /* often not a multiple: panes < slide */
}

/* Events on a clock rising by 0..step ms, each lagging it by at most the delay. */
static void gen_events(stream_case *c, uint64_t *s)
{
    int nkeys = (int)rand_in(s, 1, 20);
    int ordered = rand_in(s, 0, 3) == 0;
    int64_t clock = rand_in(s, -5000, 5000), step = rand_in(s, 0, 20);
    c->nev = (int)rand_in(s, 1, MAX_EVENTS);
    for (int n = 0; n < c->nev; n++) {
        event *e = &c->ev[n];
        clock += rand_in(s, 0, step);
        snprintf(e->k, sizeof e->k, "k%02d", (int)rand_in(s, 0, nkeys - 1));
        e->t = clock - (ordered ? 0 : rand_in(s, 0, c->delay));
        e->i = rand_in(s, -1000, 1000);
        e->d = 1.0 + (double)rand_in(s, 0, 999999999) / 1e6;
        e->i_null = rand_in(s, 0, 9) == 0;
        e->d_null = rand_in(s, 0, 9) == 0;
    }
}

static void gen_case(stream_case *c, uint64_t seed, spate_window_kind kind, int workers)
{
    uint64_t s = seed;
    c->seed = seed;
    c->kind = kind;
    c->workers = workers;
    gen_window(c, &s);
    c->delay = rand_in(&s, 0, 100);
    c->interval = rand_in(&s, 0, 1) ? "0" : "5";
    gen_events(c, &s);
    c->nitems = (int)rand_in(&s, 1, 8);
}

/* ---------------------------------------------------------------- engine */

static int push_back(result_set *rs, const wrow *w)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 64;
        wrow *r = realloc(rs->r, cap * sizeof *r);
        if (!r) return SPATE_ENOMEM;
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *w;
    return 0;
}

/* Sink callback: one wrow per output row. */
static int collect(const spate_rows *rows, int64_t time_ms, void *ud)
{
    for (size_t n = 0; n < spate_rows_count(rows); n++) {
        spate_row r;
        wrow w;
        memset(&w, 0, sizeof w);
        if (spate_rows_get(rows, n, &r)) return -1;
        spate_str k = spate_row_str(&r, COL_K), op = spate_row_str(&r, COL_OP);
        snprintf(w.k, sizeof w.k, "%.*s", (int)k.len, k.ptr);
        w.start = spate_row_int(&r, COL_START);
        w.end = spate_row_int(&r, COL_END);
        for (int a = 0; a < NAGGS; a++) {
            w.v[a].null = spate_row_is_null(&r, COL_AGG0 + a);
            if (agg_is_double(a)) w.v[a].d = spate_row_double(&r, COL_AGG0 + a);
            else w.v[a].i = spate_row_int(&r, COL_AGG0 + a);
        }
        w.insert = op.len == 2 && memcmp(op.ptr, "+I", 2) == 0;
        if (push_back(ud, &w)) return -1;
    }
    return 0;
}

static void format_event(const event *e, char *buf, size_t size)
{
    char i[24] = "", d[32] = "";
    if (!e->i_null) snprintf(i, sizeof i, "%lld", (long long)e->i);
    if (!e->d_null) snprintf(d, sizeof d, "%.17g", e->d);
    snprintf(buf, size, "%s,%lld,%s,%s\n", e->k, (long long)e->t, i, d);
}

/* Pushes the events as nitems queue items of consecutive events. */
static int push_events(spate_queue *q, const stream_case *c)
{
    char line[96];
    int per_item = (c->nev + c->nitems - 1) / c->nitems;
    for (int first = 0; first < c->nev; first += per_item) {
        char text[MAX_EVENTS * 96];
        size_t len = 0;
        for (int n = first; n < c->nev && n < first + per_item; n++) {
            format_event(&c->ev[n], line, sizeof line);
            len += (size_t)snprintf(text + len, sizeof text - len, "%s", line);
        }
        int rc = spate_queue_push(q, text, len);
        if (rc) return rc;
    }
    return spate_queue_close(q);
}

static spate_ctx *new_ctx(const stream_case *c)
{
    char workers[8];
    snprintf(workers, sizeof workers, "%d", c->workers);
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_conf_set(conf, "batch.interval.ms", c->interval);
    spate_ctx *ctx = NULL;
    CHECK(spate_ctx_new(conf, &ctx) == 0);
    spate_conf_free(conf);
    return ctx;
}

/* queue -> event time -> key_by(k) -> window_aggregate -> collect. */
static int build_job(spate_ctx *ctx, const stream_case *c, result_set *out, spate_queue **q)
{
    static const char *const key[] = {"k"};
    const spate_event_time et = {.column = "t", .unit = "ms", .max_delay_ms = c->delay};
    const spate_window_spec w = {.kind = c->kind, .size_ms = c->size, .slide_ms = c->slide};
    spate_schema *schema = NULL;
    spate_stream *src, *timed, *keyed, *win;
    int rc = spate_schema_parse("k STRING, t BIGINT, i BIGINT, d DOUBLE", &schema);
    if (rc == 0) rc = spate_source_queue(ctx, schema, 0, q, &src);
    spate_schema_free(schema);
    if (rc == 0) rc = spate_with_event_time(src, &et, &timed);
    if (rc == 0) rc = spate_key_by(timed, 1, key, &keyed);
    if (rc == 0) rc = spate_window_aggregate(keyed, &w, NAGGS, aggs, &win);
    if (rc == 0) rc = spate_sink_callback(win, collect, out);
    return rc;
}

static int run_engine(const stream_case *c, result_set *out)
{
    spate_ctx *ctx = new_ctx(c);
    spate_queue *q = NULL;
    int rc = ctx ? build_job(ctx, c, out, &q) : SPATE_ENOMEM;
    if (rc == 0) rc = spate_ctx_start(ctx);
    if (rc == 0) rc = push_events(q, c);
    else if (q) spate_queue_close(q);
    if (rc == 0) rc = spate_ctx_await_termination(ctx, 60000);
    if (rc) fprintf(stderr, "  seed %llu: engine: %s %s\n", (unsigned long long)c->seed,
                    spate_last_error(), ctx ? spate_ctx_error(ctx) : "");
    spate_ctx_free(ctx);
    return rc;
}

/* ---------------------------------------------------------------- SQLite */

/* The first start is the smallest multiple of the slide above min(t) - size (SQLite's
 * % truncates like C's, hence the double modulo for a floor below zero). */
static const char oracle_sql[] =
    "WITH RECURSIVE bounds(lo, hi) AS (SELECT min(t) - :size, max(t) FROM ev),"
    " starts(s) AS ("
    "  SELECT lo - ((lo % :slide) + :slide) % :slide + :slide FROM bounds"
    "  UNION ALL SELECT s + :slide FROM starts, bounds WHERE s + :slide <= hi)"
    " SELECT k, s, s + :size, count(*), sum(i), min(i), max(i), avg(i),"
    "  sum(d), min(d), max(d), avg(d)"
    " FROM ev JOIN starts ON ev.t >= s AND ev.t < s + :size"
    " GROUP BY k, s ORDER BY k, s";

static int sql_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "  sqlite: %s\n", err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return rc;
}

static int sql_insert(sqlite3 *db, const stream_case *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO ev VALUES (?, ?, ?, ?)", -1, &st, NULL);
    for (int n = 0; rc == SQLITE_OK && n < c->nev; n++) {
        const event *e = &c->ev[n];
        sqlite3_bind_text(st, 1, e->k, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, e->t);
        if (e->i_null) sqlite3_bind_null(st, 3);
        else sqlite3_bind_int64(st, 3, e->i);
        if (e->d_null) sqlite3_bind_null(st, 4);
        else sqlite3_bind_double(st, 4, e->d);
        rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc;
}

static void sql_row(sqlite3_stmt *st, wrow *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->k, sizeof w->k, "%s", (const char *)sqlite3_column_text(st, 0));
    w->start = sqlite3_column_int64(st, 1) * 1000;
    w->end = sqlite3_column_int64(st, 2) * 1000;
    for (int a = 0; a < NAGGS; a++) {
        w->v[a].null = sqlite3_column_type(st, 3 + a) == SQLITE_NULL;
        if (agg_is_double(a)) w->v[a].d = sqlite3_column_double(st, 3 + a);
        else w->v[a].i = sqlite3_column_int64(st, 3 + a);
    }
    w->insert = 1;
}

static int sql_query(sqlite3 *db, const stream_case *c, result_set *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, oracle_sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":size"), c->size);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":slide"), c->slide);
    }
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        wrow w;
        sql_row(st, &w);
        rc = push_back(out, &w) ? SQLITE_NOMEM : SQLITE_OK;
    }
    if (rc != SQLITE_DONE) fprintf(stderr, "  sqlite: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int run_sqlite(const stream_case *c, result_set *out)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(":memory:", &db);
    if (rc == SQLITE_OK)
        rc = sql_exec(db, "CREATE TABLE ev (k TEXT, t INTEGER, i INTEGER, d REAL)");
    if (rc == SQLITE_OK) rc = sql_insert(db, c);
    if (rc == SQLITE_OK) rc = sql_query(db, c, out);
    sqlite3_close(db);
    return rc;
}

/* ------------------------------------------------------------- comparison */

static int cmp_wrow(const void *pa, const void *pb)
{
    const wrow *a = pa, *b = pb;
    int c = strcmp(a->k, b->k);
    if (c) return c;
    return (a->start > b->start) - (a->start < b->start);
}

static int same_double(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

static int same_cell(const cell *a, const cell *b, int is_double)
{
    if (a->null || b->null) return a->null == b->null;
    return is_double ? same_double(a->d, b->d) : a->i == b->i;
}

static void describe(const cell *v, int is_double, char *buf, size_t size)
{
    if (v->null) snprintf(buf, size, "NULL");
    else if (is_double) snprintf(buf, size, "%.17g", v->d);
    else snprintf(buf, size, "%lld", (long long)v->i);
}

static void report_case(const stream_case *c, const char *what)
{
    fprintf(stderr, "  seed %llu (%s size %lld slide %lld ms, delay %lld ms, workers %d, "
            "interval %s, %d events): %s\n", (unsigned long long)c->seed,
            c->kind == SPATE_WINDOW_TUMBLING ? "tumbling" : "sliding", (long long)c->size,
            (long long)c->slide, (long long)c->delay, c->workers, c->interval, c->nev, what);
}

/* The first difference of two rows with the same key and window, or 0. */
static int diff_row(const stream_case *c, const wrow *want, const wrow *got)
{
    char msg[256], a[40], b[40];
    if (!got->insert || want->end != got->end) {
        snprintf(msg, sizeof msg, "key %s window %lld: end %lld, got end %lld op %s", want->k,
                 (long long)want->start, (long long)want->end, (long long)got->end,
                 got->insert ? "+I" : "not +I");
        report_case(c, msg);
        return 1;
    }
    for (int x = 0; x < NAGGS; x++) {
        if (same_cell(&want->v[x], &got->v[x], agg_is_double(x))) continue;
        describe(&want->v[x], agg_is_double(x), a, sizeof a);
        describe(&got->v[x], agg_is_double(x), b, sizeof b);
        snprintf(msg, sizeof msg, "key %s window [%lld, %lld) us %s: expected %s, got %s",
                 want->k, (long long)want->start, (long long)want->end, aggs[x].as, a, b);
        report_case(c, msg);
        return 1;
    }
    return 0;
}

/* Compares sorted results; reports the first difference. 0 when equal. */
static int compare(const stream_case *c, result_set *want, result_set *got)
{
    char msg[160];
    if (got->n) qsort(got->r, got->n, sizeof *got->r, cmp_wrow);
    size_t a = 0, b = 0;
    while (a < want->n || b < got->n) {
        int order = a == want->n ? 1 : b == got->n ? -1 : cmp_wrow(&want->r[a], &got->r[b]);
        const wrow *w = order <= 0 ? &want->r[a] : &got->r[b];
        if (order != 0) {
            snprintf(msg, sizeof msg, "key %s window start %lld us: %s", w->k,
                     (long long)w->start, order < 0 ? "missing" : "unexpected (or emitted twice)");
            report_case(c, msg);
            return 1;
        }
        if (diff_row(c, &want->r[a], &got->r[b])) return 1;
        a++;
        b++;
    }
    return 0;
}

/* Runs STREAMS random streams of one window kind; counts mismatching streams. */
static void oracle_run(spate_window_kind kind, int workers, uint64_t seed0)
{
    stream_case *c = malloc(sizeof *c);
    int bad = 0;
    for (int n = 0; n < STREAMS && c; n++) {
        result_set want = {0}, got = {0};
        gen_case(c, seed0 + (uint64_t)n, kind, workers);
        int failed = run_sqlite(c, &want) || run_engine(c, &got) || compare(c, &want, &got);
        bad += failed;
        free(want.r);
        free(got.r);
        if (bad >= MAX_REPORTS) break;
    }
    CHECK(c != NULL);
    CHECK_EQ_INT(bad, 0);
    free(c);
}

static void oracle_tumbling_w1(void)
{
    oracle_run(SPATE_WINDOW_TUMBLING, 1, 1000);
}

static void oracle_tumbling_w2(void)
{
    oracle_run(SPATE_WINDOW_TUMBLING, 2, 2000);
}

static void oracle_sliding_w1(void)
{
    oracle_run(SPATE_WINDOW_SLIDING, 1, 3000);
}

static void oracle_sliding_w2(void)
{
    oracle_run(SPATE_WINDOW_SLIDING, 2, 4000);
}

const sp_test tests_oracle[] = {
    {"oracle_tumbling_w1", oracle_tumbling_w1},
    {"oracle_tumbling_w2", oracle_tumbling_w2},
    {"oracle_sliding_w1", oracle_sliding_w1},
    {"oracle_sliding_w2", oracle_sliding_w2},
    {NULL, NULL},
};
