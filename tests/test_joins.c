/*
 * test_joins.c - the event-time joins (spate_interval_join, spate_window_join),
 * Window Top-N (spate_window_top_n) and cumulate windows, through the public API
 * and one internal accessor (sp_jrows_held: the rows an operator holds).
 *
 * Expected results are computed here, independently of the engine: the joins
 * as nested loops over the rows that are not late (a relational join), Top-N by
 * a stable sort of each group, cumulate windows by listing each record's windows
 * from the definition, and once more by SQLite's GROUP BY over windows made by a
 * recursive CTE. Lateness is computed from the watermark each queue item meets:
 * the largest event time of the items before it, minus the delay. Jobs with late
 * rows run in the micro-batch style, where a queue source takes one item per
 * micro-batch, so each item is one batch, and the event-time assigner sends its
 * watermark after every batch: the watermark does not depend on the speed of the
 * machine. (In the continuous style a poll may take several items into one
 * batch; the jobs run that way have no late rows.)
 *
 * Output rows are rendered as text lines (NULL as "null", timestamps in ms) and
 * compared as sorted multisets, so the worker count does not matter.
 */
#define _GNU_SOURCE /* nftw */
#include "test.h"
#include "test_cells.h"

#include "ops/jrows.h"
#include "spate.h"

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

/* ------------------------------------------------------------ collection */

typedef struct lines {
    pthread_mutex_t mu;
    char **v;
    size_t n, cap;
    uint64_t count; /* rows seen (counting sinks keep no lines) */
} lines;

static void lines_init(lines *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

static void lines_add(lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = strdup(s);
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    pthread_mutex_destroy(&l->mu);
}

/* Sink callback: every row as "v1,v2,...". */
static int collect(const spate_rows *rs, int64_t t, void *ud)
{
    lines *l = ud;
    const spate_schema *s = spate_rows_schema(rs);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        char line[512] = "";
        for (int c = 0; c < spate_schema_count(s); c++) {
            if (c) strcat(line, ",");
            sp_test_put_cell(line, sizeof line, &r, spate_schema_type(s, c), c);
        }
        lines_add(l, line);
    }
    l->count += spate_rows_count(rs);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* Sink callback: counts rows only. */
static int count_rows(const spate_rows *rs, int64_t t, void *ud)
{
    lines *l = ud;
    pthread_mutex_lock(&l->mu);
    l->count += spate_rows_count(rs);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compares as sorted multisets; reports the first few differences. */
static void check_lines(lines *got, lines *want)
{
    qsort(got->v, got->n, sizeof *got->v, cmp_line);
    qsort(want->v, want->n, sizeof *want->v, cmp_line);
    size_t a = 0, b = 0;
    int reported = 0;
    while ((a < want->n || b < got->n) && reported < 8) {
        int c = a == want->n ? 1 : b == got->n ? -1 : strcmp(want->v[a], got->v[b]);
        if (c == 0) {
            a++;
            b++;
            continue;
        }
        fprintf(stderr, "  %s: %s\n", c < 0 ? "missing" : "unexpected",
                c < 0 ? want->v[a] : got->v[b]);
        reported++;
        sp_test_failures++;
        if (c < 0) a++;
        else b++;
    }
    CHECK_EQ_INT(got->n, want->n);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

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

static int64_t floor_div(int64_t x, int64_t d)
{
    return x / d - (x % d != 0 && x < 0);
}

/* A context; micro: the micro-batch style (5 ms); dir: checkpoints, or NULL. */
static spate_ctx *new_ctx(int workers, int micro, const char *dir)
{
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", w);
    spate_conf_set(conf, "batch.interval.ms", micro ? "5" : "0");
    if (dir) {
        spate_conf_set(conf, "checkpoint.dir", dir);
        spate_conf_set(conf, "checkpoint.interval.ms", "50");
    }
    spate_ctx *ctx = NULL;
    if (spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

/* ------------------------------------------------------------- join input */

enum { MAX_EV = 4000 };

/* One input row of a join: its side, key, value, time (ms) and queue item. */
typedef struct jev {
    char side;
    char k[4];
    int64_t v, ts;
    int item;
} jev;

typedef struct jdata {
    jev e[MAX_EV];
    int n, nitems;
    int64_t delay;
} jdata;

static void add_ev(jdata *d, char side, const char *k, int64_t ts)
{
    jev *e = &d->e[d->n];
    e->side = side;
    snprintf(e->k, sizeof e->k, "%s", k);
    e->v = d->n + 1; /* unique: every output row is distinct */
    e->ts = ts;
    e->item = d->nitems;
    d->n++;
}

/* n events in nitems more items on a clock from c0 rising by 0..step ms, each
 * lagging it by up to lag ms, keys k0..k{nkeys-1}. */
static void gen_events(jdata *d, uint64_t seed, int n, int nitems, int64_t c0, int64_t step,
                       int64_t lag, int nkeys)
{
    uint64_t s = seed;
    int64_t clock = c0;
    int first = d->nitems, per = (n + nitems - 1) / nitems;
    for (int i = 0; i < n; i++) {
        char k[4];
        clock += rand_in(&s, 0, step);
        snprintf(k, sizeof k, "k%d", (int)rand_in(&s, 0, nkeys - 1));
        d->nitems = first + i / per;
        add_ev(d, rand_in(&s, 0, 1) ? 'L' : 'R', k, clock - rand_in(&s, 0, lag));
    }
    d->nitems = first + (n + per - 1) / per;
}

/* The watermark (ms) the rows of item it meet; INT64_MIN for none yet. */
static int64_t wm_before(const jdata *d, int it)
{
    int64_t max = INT64_MIN;
    for (int i = 0; i < d->n; i++)
        if (d->e[i].item < it && d->e[i].ts > max) max = d->e[i].ts;
    return max == INT64_MIN ? INT64_MIN : max - d->delay;
}

static int side_is(const spate_row *r, void *ud)
{
    spate_str s = spate_row_str(r, 0);
    return s.len == 1 && s.ptr[0] == *(const char *)ud;
}

typedef struct jjob {
    spate_ctx *ctx;
    spate_queue *q;
    spate_stream *left, *right;
} jjob;

/* queue (side, k, v, ts) -> event time ts -> one filter per side -> key_by(k). */
static int jjob_new(jjob *j, int workers, int micro, int64_t delay, const char *dir)
{
    static const char L = 'L', R = 'R';
    const char *k = "k";
    memset(j, 0, sizeof *j);
    j->ctx = new_ctx(workers, micro, dir);
    if (!j->ctx) return SPATE_ENOMEM;
    spate_schema *s = NULL;
    spate_stream *src, *timed, *l, *r;
    int rc = spate_schema_parse("side STRING, k STRING, v BIGINT, ts BIGINT", &s);
    if (!rc) rc = spate_source_queue(j->ctx, s, 1, &j->q, &src);
    spate_schema_free(s);
    spate_event_time et = {"ts", "ms", NULL, delay, 0};
    if (!rc) rc = spate_with_event_time(src, &et, &timed);
    if (!rc) rc = spate_filter(timed, side_is, (void *)&L, &l);
    if (!rc) rc = spate_filter(timed, side_is, (void *)&R, &r);
    if (!rc) rc = spate_key_by(l, 1, &k, &j->left);
    if (!rc) rc = spate_key_by(r, 1, &k, &j->right);
    return rc;
}

/* Pushes items [from, to) of d, closes the queue, runs the job to its end. */
static int jjob_run(jjob *j, const jdata *d, int from, int to, uint64_t *late)
{
    int rc = spate_ctx_start(j->ctx);
    for (int it = from; !rc && it < to; it++) {
        char text[MAX_EV * 40];
        size_t len = 0;
        for (int i = 0; i < d->n; i++) {
            const jev *e = &d->e[i];
            if (e->item != it) continue;
            len += (size_t)snprintf(text + len, sizeof text - len, "%c,%s,%lld,%lld\n", e->side,
                                    e->k, (long long)e->v, (long long)e->ts);
        }
        if (len) rc = spate_queue_push(j->q, text, len);
    }
    spate_queue_close(j->q);
    if (!rc) rc = spate_ctx_await_termination(j->ctx, 60000);
    if (rc) fprintf(stderr, "  job: %s %s\n", spate_last_error(), spate_ctx_error(j->ctx));
    spate_metrics m = {0};
    spate_ctx_metrics(j->ctx, &m);
    if (late) *late = m.late_records;
    return rc;
}

/* "L,v,ts", or NULLs for no row. */
static void side_text(char *buf, size_t cap, const jev *e)
{
    if (e) snprintf(buf, cap, "%c,%lld,%lld", e->side, (long long)e->v, (long long)e->ts);
    else snprintf(buf, cap, "null,null,null");
}

static int is_late_row(const jdata *d, const jev *e)
{
    int64_t wm = wm_before(d, e->item);
    return wm != INT64_MIN && e->ts < wm;
}

/* --------------------------------------------------------- interval join */

static int keeps(spate_join_kind kind, char side)
{
    return kind == SPATE_JOIN_FULL || kind == (side == 'L' ? SPATE_JOIN_LEFT : SPATE_JOIN_RIGHT);
}

static void ij_add(lines *want, const char *k, const jev *l, const jev *r)
{
    char a[64], b[64], line[160];
    side_text(a, sizeof a, l);
    side_text(b, sizeof b, r);
    snprintf(line, sizeof line, "%s,%s,%s", k, a, b);
    lines_add(want, line);
}

static int ij_match(const jev *l, const jev *r, int64_t lo, int64_t hi)
{
    return !strcmp(l->k, r->k) && l->ts + lo <= r->ts && r->ts <= l->ts + hi;
}

/* The relational interval join of the rows that are not late; their count in
 * *nlate. matched[i] is set for every row that has a partner. */
static void ij_oracle(const jdata *d, spate_join_kind kind, int64_t lo, int64_t hi, lines *want,
                      uint64_t *nlate, char *matched)
{
    char late[MAX_EV];
    *nlate = 0;
    for (int i = 0; i < d->n; i++) {
        late[i] = (char)is_late_row(d, &d->e[i]);
        *nlate += (uint64_t)late[i];
        matched[i] = 0;
    }
    for (int i = 0; i < d->n; i++) {
        if (late[i] || d->e[i].side != 'L') continue;
        for (int j = 0; j < d->n; j++) {
            if (late[j] || d->e[j].side != 'R' || !ij_match(&d->e[i], &d->e[j], lo, hi)) continue;
            ij_add(want, d->e[i].k, &d->e[i], &d->e[j]);
            matched[i] = matched[j] = 1;
        }
    }
    for (int i = 0; i < d->n; i++) {
        const jev *e = &d->e[i];
        if (late[i] || matched[i] || !keeps(kind, e->side)) continue;
        ij_add(want, e->k, e->side == 'L' ? e : NULL, e->side == 'R' ? e : NULL);
    }
}

/* Runs the interval join of d and compares with the oracle. */
static void ij_check(const jdata *d, spate_join_kind kind, int64_t lo, int64_t hi, int workers,
                     int micro)
{
    static char matched[MAX_EV];
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t want_late, late = 0;
    ij_oracle(d, kind, lo, hi, &want, &want_late, matched);
    jjob j;
    spate_stream *joined = NULL;
    int rc = jjob_new(&j, workers, micro, d->delay, NULL);
    if (!rc) rc = spate_interval_join(j.left, j.right, kind, NULL, NULL, lo, hi, &joined);
    if (!rc) rc = spate_sink_callback(joined, collect, &got);
    if (!rc) rc = jjob_run(&j, d, 0, d->nitems, &late);
    CHECK_EQ_INT(rc, 0);
    sp_jcount held = {1, 0, 0};
    if (!rc) CHECK_EQ_INT(sp_jrows_held(joined, &held), 0);
    CHECK_EQ_INT(held.held, 0); /* everything expired at the end */
    spate_ctx_free(j.ctx);
    if (!rc) {
        check_lines(&got, &want);
        CHECK_EQ_INT(late, want_late);
    }
    if (sp_test_failures)
        fprintf(stderr, "  (kind %d, bounds [%lld, %lld] ms, %d workers)\n", (int)kind,
                (long long)lo, (long long)hi, workers);
    lines_free(&got);
    lines_free(&want);
}

/* Boundary rows for bounds [-300, 200] around L a@1000, then random rows out of
 * order within the delay (none late). */
static void boundary_data(jdata *d)
{
    memset(d, 0, sizeof *d);
    d->delay = 500;
    add_ev(d, 'L', "a", 1000);
    add_ev(d, 'R', "a", 700);  /* 1000 - 300: joins (lower bound inclusive) */
    add_ev(d, 'R', "a", 699);  /* one ms too early */
    add_ev(d, 'R', "a", 1200); /* 1000 + 200: joins (upper bound inclusive) */
    add_ev(d, 'R', "a", 1201); /* one ms too late */
    add_ev(d, 'L', "b", 1000); /* no partner */
    add_ev(d, 'R', "c", 1000); /* no partner */
    d->nitems = 1;
    gen_events(d, 42, 600, 12, 2000, 15, 500, 5);
}

static void test_interval_kinds(void)
{
    static jdata d;
    boundary_data(&d);
    static char matched[MAX_EV];
    lines want;
    lines_init(&want);
    uint64_t nlate;
    ij_oracle(&d, SPATE_JOIN_INNER, -300, 200, &want, &nlate, matched);
    CHECK_EQ_INT(nlate, 0); /* out of order, but within the delay */
    CHECK(matched[1] && !matched[2] && matched[3] && !matched[4] && !matched[5]);
    lines_free(&want);
    for (int w = 1; w <= 2; w++)
        for (spate_join_kind k = SPATE_JOIN_INNER; k <= SPATE_JOIN_FULL; k++)
            ij_check(&d, k, -300, 200, w, 1);
}

/* Both bounds negative: the right row precedes the left one by 1 to 3 s. */
static void test_interval_negative(void)
{
    static jdata d;
    memset(&d, 0, sizeof d);
    d.delay = 400;
    gen_events(&d, 7, 500, 10, -20000, 20, 400, 3); /* times before 1970 too */
    ij_check(&d, SPATE_JOIN_INNER, -3000, -1000, 1, 1);
    ij_check(&d, SPATE_JOIN_FULL, -3000, -1000, 2, 1);
    ij_check(&d, SPATE_JOIN_LEFT, 0, 0, 2, 0); /* equal times only */
}

/* Rows behind the watermark are dropped and counted, even when a kept row would
 * have joined them (Flink's rule). */
static void test_interval_late(void)
{
    static jdata d;
    memset(&d, 0, sizeof d);
    d.delay = 100;
    add_ev(&d, 'L', "a", 1000);
    add_ev(&d, 'R', "a", 1050);
    d.nitems = 1;
    add_ev(&d, 'L', "a", 2000); /* watermark 950 */
    d.nitems = 2;
    add_ev(&d, 'R', "a", 1500); /* watermark 1900: late, though L a@2000 is kept */
    add_ev(&d, 'L', "a", 1899); /* late */
    add_ev(&d, 'R', "a", 1900); /* at the watermark: not late, joins L a@2000 */
    d.nitems = 3;
    gen_events(&d, 99, 400, 10, 2500, 10, 300, 4); /* lag beyond the delay: some late */
    static char matched[MAX_EV];
    lines want;
    lines_init(&want);
    uint64_t nlate;
    ij_oracle(&d, SPATE_JOIN_INNER, -600, 0, &want, &nlate, matched);
    CHECK(nlate > 2);
    CHECK(is_late_row(&d, &d.e[3]) && is_late_row(&d, &d.e[4]) && !is_late_row(&d, &d.e[5]));
    lines_free(&want);
    ij_check(&d, SPATE_JOIN_INNER, -600, 0, 1, 1);
    ij_check(&d, SPATE_JOIN_FULL, -600, 0, 2, 1);
}

/* ------------------------------------------------- a million rows, bounded */

enum { BIG = 1000000 };

/* Generator rows: even seq left, odd right; k = (seq / 2) % keys. */
typedef struct big_side {
    int64_t parity, keys;
} big_side;

static int big_filter(const spate_row *r, void *ud)
{
    return spate_row_int(r, 0) % 2 == ((const big_side *)ud)->parity;
}

static int big_map(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(in, 0) / 2 % ((const big_side *)ud)->keys);
    spate_out_set_int(out, 1, spate_row_int(in, 0));
    return spate_out_set_from(out, 2, in, 3);
}

static int big_branch(spate_stream *gen, const big_side *side, spate_stream **keyed)
{
    const char *k = "k";
    spate_schema *s = NULL;
    spate_stream *f, *m, *t;
    spate_event_time et = {.column = "ts"};
    int rc = spate_schema_parse("k BIGINT, seq BIGINT, ts TIMESTAMP", &s);
    if (!rc) rc = spate_filter(gen, big_filter, (void *)side, &f);
    if (!rc) rc = spate_map(f, s, big_map, (void *)side, &m);
    spate_schema_free(s);
    if (!rc) rc = spate_with_event_time(m, &et, &t);
    return rc ? rc : spate_key_by(t, 1, &k, keyed);
}

/* n generator rows, a pair every 2 ms, with keys keys, joined within [lo, hi]
 * ms (or, with w, by window): the number of output rows and the operator's
 * counts. */
static int big_run(int64_t n, int64_t keys, int64_t lo, int64_t hi, const spate_window_spec *w,
                   uint64_t *rows, sp_jcount *held)
{
    const big_side left = {0, keys}, right = {1, keys};
    char count[32];
    snprintf(count, sizeof count, "%lld", (long long)n);
    spate_ctx *ctx = new_ctx(1, 0, NULL);
    spate_stream *gen = NULL, *l = NULL, *r = NULL, *joined = NULL;
    lines got;
    lines_init(&got);
    int rc = ctx ? 0 : SPATE_ENOMEM;
    if (!rc)
        rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", count, "interval", "1ms", NULL}, &gen);
    if (!rc) rc = big_branch(gen, &left, &l);
    if (!rc) rc = big_branch(gen, &right, &r);
    if (!rc && w) rc = spate_window_join(l, r, SPATE_JOIN_INNER, w, NULL, NULL, &joined);
    else if (!rc) rc = spate_interval_join(l, r, SPATE_JOIN_INNER, NULL, NULL, lo, hi, &joined);
    if (!rc) rc = spate_sink_callback(joined, count_rows, &got);
    if (!rc) rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, 100000);
    if (!rc) rc = sp_jrows_held(joined, held);
    spate_ctx_free(ctx);
    *rows = got.count;
    lines_free(&got);
    return rc;
}

/* A million rows over 50 keys: the join holds only what the bounds and a batch
 * need, and releases all of it at the end. */
static void test_interval_bounded(void)
{
    uint64_t rows;
    sp_jcount held;
    REQUIRE_OK(big_run(BIG, 50, -100, 100, NULL, &rows, &held));
    /* Left m (seq 2m, 2m ms) and right m' (seq 2m'+1, 2m'+1 ms) join when
     * m = m' (mod 50) and |2m'+1 - 2m| <= 100 ms. */
    uint64_t want = 0;
    for (int64_t m = 0; m < BIG / 2; m++)
        for (int64_t d = -60; d <= 60; d++) {
            int64_t m2 = m + d, diff = 2 * m2 + 1 - 2 * m;
            if (m2 >= 0 && m2 < BIG / 2 && d % 50 == 0 && diff >= -100 && diff <= 100) want++;
        }
    CHECK_EQ_INT(rows, want);
    CHECK_EQ_INT(held.held, 0);
    CHECK(held.peak > 0 && held.peak < 4096); /* a batch (1024 rows) and 100 ms of rows */
    if (held.peak >= 4096) fprintf(stderr, "  peak %llu rows\n", (unsigned long long)held.peak);
}

/* Every pair its own key: dead keys leave the key table, which stays small.
 * Each left row joins the right row 1 ms later, in the interval join and in
 * tumbling windows of 10 ms (2m and 2m + 1 ms share theirs). */
static void test_bounded_keys(void)
{
    const spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10};
    for (int windowed = 0; windowed < 2; windowed++) {
        uint64_t rows;
        sp_jcount held;
        REQUIRE_OK(big_run(BIG / 5, INT64_MAX, 0, 1, windowed ? &w : NULL, &rows, &held));
        CHECK_EQ_INT(rows, BIG / 10);
        CHECK_EQ_INT(held.held, 0);
        CHECK(held.peak < 4096);
        CHECK(held.peak_keys < 8192); /* of 100000 keys */
        if (held.peak_keys >= 8192 || held.peak >= 4096)
            fprintf(stderr, "  %s: peak %llu keys, %llu rows\n", windowed ? "window" : "interval",
                    (unsigned long long)held.peak_keys, (unsigned long long)held.peak);
    }
}

/* ----------------------------------------- checkpoints, other worker counts */

/* Runs items [from, to) of d on dir with w workers into got. */
static int ij_part(const jdata *d, spate_join_kind kind, int64_t lo, int64_t hi, int workers,
                   const char *dir, int from, int to, lines *got)
{
    jjob j;
    spate_stream *joined = NULL;
    int rc = jjob_new(&j, workers, 0, d->delay, dir);
    if (!rc) rc = spate_interval_join(j.left, j.right, kind, NULL, NULL, lo, hi, &joined);
    if (!rc) rc = spate_sink_callback(joined, collect, got);
    if (!rc) rc = jjob_run(&j, d, from, to, NULL);
    spate_ctx_free(j.ctx);
    return rc;
}

/* The rows of d in three runs on one checkpoint directory, with 2, 3 and 2
 * workers. Inner: exactly the join of all rows. Left outer: the same, plus - as
 * documented - the NULL-padded row of each left row that had no partner yet at
 * the end of a run while it was still kept, and found one in a later run. */
static void ij_rescale(spate_join_kind kind)
{
    static const int workers[3] = {2, 3, 2};
    static jdata d;
    static char matched[MAX_EV], padded[MAX_EV];
    const int64_t lo = -200, hi = 300;
    memset(&d, 0, sizeof d);
    d.delay = 200;
    gen_events(&d, 1234, 3000, 30, 0, 3, 200, 60);
    const int cut[4] = {0, 11, 19, d.nitems};
    int npadded[2] = {0, 0}; /* padded at a cut: and never joined, and joined later */
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t nlate;
    ij_oracle(&d, kind, lo, hi, &want, &nlate, matched);
    CHECK_EQ_INT(nlate, 0);
    memset(padded, 0, sizeof padded);
    for (int part = 0; part < 2 && kind == SPATE_JOIN_LEFT; part++) {
        int64_t wm = wm_before(&d, cut[part + 1]);
        for (int i = 0; i < d.n; i++) {
            const jev *l = &d.e[i];
            if (l->side != 'L' || l->item >= cut[part + 1] || padded[i] || l->ts + hi < wm)
                continue;
            int early = 0;
            for (int j = 0; j < d.n && !early; j++)
                early = d.e[j].side == 'R' && d.e[j].item < cut[part + 1] &&
                        ij_match(l, &d.e[j], lo, hi);
            if (early) continue;
            padded[i] = 1;
            npadded[matched[i] != 0]++;
            if (matched[i]) ij_add(&want, l->k, l, NULL);
        }
    }
    CHECK(kind == SPATE_JOIN_INNER || (npadded[0] > 0 && npadded[1] > 0));
    char dir[] = "/tmp/spate-joins-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    for (int part = 0; part < 3; part++)
        REQUIRE_OK(ij_part(&d, kind, lo, hi, workers[part], dir, cut[part], cut[part + 1], &got));
    check_lines(&got, &want);
    rm_tree(dir);
    lines_free(&got);
    lines_free(&want);
}

static void test_interval_rescale_inner(void)
{
    ij_rescale(SPATE_JOIN_INNER);
}

static void test_interval_rescale_left(void)
{
    ij_rescale(SPATE_JOIN_LEFT);
}

static void test_interval_errors(void)
{
    jjob j;
    spate_stream *out = NULL, *unkeyed = NULL;
    REQUIRE_OK(jjob_new(&j, 1, 0, 0, NULL));
    CHECK_EQ_INT(spate_interval_join(j.left, j.right, SPATE_JOIN_INNER, NULL, NULL, 5, 4, &out),
                 SPATE_EINVAL);
    CHECK_EQ_INT(spate_interval_join(j.left, j.right, SPATE_JOIN_INNER, "v", NULL, 0, 4, &out),
                 SPATE_EINVAL); /* not a TIMESTAMP */
    CHECK_EQ_INT(spate_interval_join(j.left, j.right, SPATE_JOIN_INNER, "nope", NULL, 0, 4, &out),
                 SPATE_EINVAL);
    CHECK_EQ_INT(spate_interval_join(j.left, j.right, (spate_join_kind)9, NULL, NULL, 0, 4, &out),
                 SPATE_EINVAL);
    spate_source_open(j.ctx, "generator", NULL, (const char *[]){"count", "1", NULL}, &unkeyed);
    CHECK_EQ_INT(spate_interval_join(unkeyed, j.right, SPATE_JOIN_INNER, NULL, NULL, 0, 4, &out),
                 SPATE_EINVAL);
    CHECK(out == NULL);
    REQUIRE_OK(spate_interval_join(j.left, j.right, SPATE_JOIN_FULL, "ts", "ts", -1, 1, &out));
    const spate_schema *s = spate_stream_schema(out);
    static const char *const names[] = {"k",          "side",    "v",       "ts",
                                        "side_right", "v_right", "ts_right"};
    CHECK_EQ_INT(spate_schema_count(s), 7);
    for (int c = 0; c < 7 && c < spate_schema_count(s); c++)
        CHECK_EQ_STR(spate_schema_name(s, c), names[c]);
    spate_queue_close(j.q);
    spate_ctx_free(j.ctx);
}

/* ----------------------------------------------------------- window join */

/* The windows of a time (ms): tumbling, sliding (size, slide) or cumulate
 * (size, step), offset 0. Returns how many were written to s[], e[]. */
static int windows_of(spate_window_kind kind, int64_t size, int64_t slide, int64_t t,
                      int64_t *s, int64_t *e)
{
    int n = 0;
    if (kind == SPATE_WINDOW_CUMULATE) {
        int64_t p = floor_div(t, size) * size;
        for (int64_t end = p + slide; end <= p + size; end += slide)
            if (end > t) s[n] = p, e[n++] = end;
        return n;
    }
    int64_t step = kind == SPATE_WINDOW_TUMBLING ? size : slide;
    for (int64_t st = floor_div(t, step) * step; st > t - size; st -= step)
        s[n] = st, e[n++] = st + size;
    return n;
}

/* Per window holding some row and key: the cross product of its rows not late
 * for it (the window had not fired when the row came), else the rows of one side
 * NULL-padded for the outer kinds. */
static void wj_oracle(const jdata *d, spate_join_kind kind, const spate_window_spec *w,
                      lines *want, uint64_t *nlate)
{
    enum { MAXW = 64 };
    static int64_t ws[MAX_EV][MAXW], we[MAX_EV][MAXW];
    static int nw[MAX_EV];
    *nlate = 0;
    for (int i = 0; i < d->n; i++) {
        int64_t s[MAXW], e[MAXW], wm = wm_before(d, d->e[i].item);
        int n = windows_of(w->kind, w->size_ms, w->slide_ms, d->e[i].ts, s, e);
        nw[i] = 0;
        for (int x = 0; x < n; x++)
            if (wm == INT64_MIN || e[x] > wm) ws[i][nw[i]] = s[x], we[i][nw[i]++] = e[x];
        *nlate += nw[i] == 0;
    }
    /* Each (row, window) once: the row that lists a window first stands for it. */
    for (int i = 0; i < d->n; i++)
        for (int x = 0; x < nw[i]; x++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                for (int y = 0; y < nw[j] && !seen; y++)
                    seen = !strcmp(d->e[j].k, d->e[i].k) && ws[j][y] == ws[i][x] &&
                           we[j][y] == we[i][x];
            if (seen) continue;
            const jev *in[2][MAX_EV / 8];
            int cnt[2] = {0, 0};
            for (int j = 0; j < d->n; j++) {
                int has = 0;
                for (int y = 0; y < nw[j] && !has; y++)
                    has = ws[j][y] == ws[i][x] && we[j][y] == we[i][x];
                int side = d->e[j].side == 'R';
                if (has && !strcmp(d->e[j].k, d->e[i].k) && cnt[side] < MAX_EV / 8)
                    in[side][cnt[side]++] = &d->e[j];
            }
            char line[200], a[64], b[64];
            for (int l = 0; l < cnt[0]; l++)
                for (int r = 0; r < cnt[1]; r++) {
                    side_text(a, sizeof a, in[0][l]);
                    side_text(b, sizeof b, in[1][r]);
                    snprintf(line, sizeof line, "%s,%lld,%lld,%s,%s", d->e[i].k,
                             (long long)ws[i][x], (long long)we[i][x], a, b);
                    lines_add(want, line);
                }
            for (int side = 0; side < 2; side++) {
                if (cnt[1 - side] || !keeps(kind, side ? 'R' : 'L')) continue;
                for (int l = 0; l < cnt[side]; l++) {
                    side_text(a, sizeof a, side ? NULL : in[side][l]);
                    side_text(b, sizeof b, side ? in[side][l] : NULL);
                    snprintf(line, sizeof line, "%s,%lld,%lld,%s,%s", d->e[i].k,
                             (long long)ws[i][x], (long long)we[i][x], a, b);
                    lines_add(want, line);
                }
            }
        }
}

static int wj_run(const jdata *d, spate_join_kind kind, const spate_window_spec *w, int workers,
                  int micro, const char *dir, int from, int to, lines *got, uint64_t *late,
                  uint64_t *held)
{
    jjob j;
    spate_stream *joined = NULL;
    int rc = jjob_new(&j, workers, micro, d->delay, dir);
    if (!rc) rc = spate_window_join(j.left, j.right, kind, w, NULL, NULL, &joined);
    if (!rc) rc = spate_sink_callback(joined, collect, got);
    if (!rc) rc = jjob_run(&j, d, from, to, late);
    sp_jcount c;
    if (!rc && held) rc = sp_jrows_held(joined, &c);
    if (!rc && held) *held = c.held;
    spate_ctx_free(j.ctx);
    return rc;
}

static void wj_check(const jdata *d, spate_join_kind kind, const spate_window_spec *w, int workers)
{
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t want_late, late = 0, held = 1;
    wj_oracle(d, kind, w, &want, &want_late);
    int rc = wj_run(d, kind, w, workers, 1, NULL, 0, d->nitems, &got, &late, &held);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
        check_lines(&got, &want);
        CHECK_EQ_INT(late, want_late);
        CHECK_EQ_INT(held, 0);
    }
    if (sp_test_failures)
        fprintf(stderr, "  (kind %d, window %d size %lld slide %lld, %d workers)\n", (int)kind,
                (int)w->kind, (long long)w->size_ms, (long long)w->slide_ms, workers);
    lines_free(&got);
    lines_free(&want);
}

/* Random rows, some late; the window joins of every kind. */
static void wj_data(jdata *d, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->delay = 50;
    add_ev(d, 'L', "a", 0);
    add_ev(d, 'R', "a", 99); /* same tumbling window of 100 as L a@0 */
    add_ev(d, 'R', "a", 100); /* the next one */
    add_ev(d, 'L', "b", -1);  /* the window [-100, 0) */
    d->nitems = 1;
    gen_events(d, seed, 300, 15, 150, 8, 90, 3); /* lag beyond the delay: some late */
}

static void test_window_tumbling(void)
{
    static jdata d;
    wj_data(&d, 5);
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 100};
    for (int workers = 1; workers <= 2; workers++)
        for (spate_join_kind k = SPATE_JOIN_INNER; k <= SPATE_JOIN_FULL; k++)
            wj_check(&d, k, &w, workers);
}

static void test_window_sliding(void)
{
    static jdata d;
    wj_data(&d, 6);
    spate_window_spec w = {.kind = SPATE_WINDOW_SLIDING, .size_ms = 100, .slide_ms = 40};
    wj_check(&d, SPATE_JOIN_INNER, &w, 1);
    wj_check(&d, SPATE_JOIN_LEFT, &w, 2);
    wj_check(&d, SPATE_JOIN_FULL, &w, 1);
    wj_check(&d, SPATE_JOIN_RIGHT, &w, 2);
}

static void test_window_cumulate(void)
{
    static jdata d;
    wj_data(&d, 7);
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = 120, .slide_ms = 30};
    wj_check(&d, SPATE_JOIN_INNER, &w, 2);
    wj_check(&d, SPATE_JOIN_FULL, &w, 1);
}

/* Three runs on one checkpoint directory with 2, 3 and 2 workers: the union of
 * their rows is the join of all rows (inner, sliding windows open across the
 * cuts). */
static void test_window_rescale(void)
{
    static const int workers[3] = {2, 3, 2};
    static jdata d;
    memset(&d, 0, sizeof d);
    d.delay = 60;
    gen_events(&d, 77, 2000, 25, 0, 4, 60, 5);
    spate_window_spec w = {.kind = SPATE_WINDOW_SLIDING, .size_ms = 90, .slide_ms = 30};
    const int cut[4] = {0, 9, 17, d.nitems};
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t nlate;
    wj_oracle(&d, SPATE_JOIN_INNER, &w, &want, &nlate);
    CHECK_EQ_INT(nlate, 0);
    char dir[] = "/tmp/spate-joins-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    for (int p = 0; p < 3; p++)
        REQUIRE_OK(wj_run(&d, SPATE_JOIN_INNER, &w, workers[p], 0, dir, cut[p], cut[p + 1], &got,
                          NULL, NULL));
    check_lines(&got, &want);
    rm_tree(dir);
    lines_free(&got);
    lines_free(&want);
}

static void test_window_errors(void)
{
    jjob j;
    spate_stream *out = NULL;
    REQUIRE_OK(jjob_new(&j, 1, 0, 0, NULL));
    spate_window_spec w = {.kind = SPATE_WINDOW_SESSION, .gap_ms = 10};
    CHECK_EQ_INT(spate_window_join(j.left, j.right, SPATE_JOIN_INNER, &w, NULL, NULL, &out),
                 SPATE_EUNSUPPORTED);
    w = (spate_window_spec){.kind = SPATE_WINDOW_TUMBLING, .size_ms = 10,
                            .allowed_lateness_ms = 5};
    CHECK_EQ_INT(spate_window_join(j.left, j.right, SPATE_JOIN_INNER, &w, NULL, NULL, &out),
                 SPATE_EUNSUPPORTED);
    w = (spate_window_spec){.kind = SPATE_WINDOW_CUMULATE, .size_ms = 10, .slide_ms = 3};
    CHECK_EQ_INT(spate_window_join(j.left, j.right, SPATE_JOIN_INNER, &w, NULL, NULL, &out),
                 SPATE_EINVAL);
    w.slide_ms = 5;
    REQUIRE_OK(spate_window_join(j.left, j.right, SPATE_JOIN_INNER, &w, NULL, NULL, &out));
    const spate_schema *s = spate_stream_schema(out);
    static const char *const names[] = {"k",    "window_start", "window_end", "side", "v",
                                        "ts",   "side_right",   "v_right",    "ts_right"};
    CHECK_EQ_INT(spate_schema_count(s), 9);
    for (int c = 0; c < 9 && c < spate_schema_count(s); c++)
        CHECK_EQ_STR(spate_schema_name(s, c), names[c]);
    spate_queue_close(j.q);
    spate_ctx_free(j.ctx);
}

/* ----------------------------------------------------------------- Top-N */

enum { MAX_TOP = 600 };

/* One input row of a Top-N group: group g, its window_end (ms), score (or
 * NULL), name, queue item. */
typedef struct tev {
    char g[4];
    int64_t we;
    int64_t score;
    int null_score;
    char name[8];
    int item;
} tev;

typedef struct tdata {
    tev e[MAX_TOP];
    int n, nitems;
} tdata;

static void gen_top(tdata *d, uint64_t seed, int n, int nitems)
{
    uint64_t s = seed;
    int per = (n + nitems - 1) / nitems;
    int64_t base = 1000;
    memset(d, 0, sizeof *d);
    for (int i = 0; i < n; i++) {
        tev *e = &d->e[i];
        if (i % 40 == 39) base += 100; /* later windows as the input goes on */
        snprintf(e->g, sizeof e->g, "g%d", (int)rand_in(&s, 0, 2));
        e->we = base + 100 * rand_in(&s, -2, 2); /* some behind the watermark: late */
        e->score = rand_in(&s, 0, 6);            /* many ties */
        e->null_score = rand_in(&s, 0, 15) == 0;
        snprintf(e->name, sizeof e->name, "n%c%c", 'a' + (int)rand_in(&s, 0, 3),
                 'a' + (int)rand_in(&s, 0, 25));
        e->item = i / per;
    }
    d->n = n;
    d->nitems = (n + per - 1) / per;
}

static int64_t top_wm_before(const tdata *d, int it)
{
    int64_t max = INT64_MIN;
    for (int i = 0; i < d->n; i++)
        if (d->e[i].item < it && d->e[i].we > max) max = d->e[i].we;
    return max; /* delay 0 */
}

static int top_late(const tdata *d, const tev *e)
{
    return e->we <= top_wm_before(d, e->item);
}

/* Order of the oracle: by score or name, NULL scores last, then arrival. */
static int top_cmp(const tev *a, const tev *b, int by_name, int desc)
{
    int c;
    if (by_name) {
        c = strcmp(a->name, b->name);
    } else {
        if (a->null_score || b->null_score) return a->null_score - b->null_score;
        c = (a->score > b->score) - (a->score < b->score);
    }
    return desc ? -c : c;
}

static void top_oracle(const tdata *d, int by_name, int desc, int64_t n, lines *want,
                       uint64_t *nlate)
{
    char done[MAX_TOP] = {0};
    *nlate = 0;
    for (int i = 0; i < d->n; i++) *nlate += (uint64_t)top_late(d, &d->e[i]);
    for (int i = 0; i < d->n; i++) {
        if (done[i] || top_late(d, &d->e[i])) continue;
        const tev *grp[MAX_TOP];
        int m = 0;
        for (int j = i; j < d->n; j++) { /* arrival order */
            if (top_late(d, &d->e[j]) || strcmp(d->e[j].g, d->e[i].g) || d->e[j].we != d->e[i].we)
                continue;
            done[j] = 1;
            int at = m++;
            while (at > 0 && top_cmp(&d->e[j], grp[at - 1], by_name, desc) < 0) { /* stable */
                grp[at] = grp[at - 1];
                at--;
            }
            grp[at] = &d->e[j];
        }
        for (int r = 0; r < m && r < n; r++) {
            char line[128], score[24] = "null";
            if (!grp[r]->null_score)
                snprintf(score, sizeof score, "%lld", (long long)grp[r]->score);
            snprintf(line, sizeof line, "%s,%lld,%s,%s,%d", grp[r]->g, (long long)grp[r]->we,
                     score, grp[r]->name, r + 1);
            lines_add(want, line);
        }
    }
}

/* queue (g, window_end, score, name) -> event time window_end -> key_by(g,
 * window_end) -> top_n -> got. */
static int top_run(const tdata *d, const char *order, int desc, int64_t n, int workers,
                   const char *dir, int from, int to, lines *got, uint64_t *late, uint64_t *peak)
{
    spate_ctx *ctx = new_ctx(workers, 1, dir);
    spate_schema *s = NULL;
    spate_queue *q = NULL;
    spate_stream *src, *timed, *keyed, *top = NULL;
    const char *keys[] = {"g", "window_end"};
    spate_event_time et = {.column = "window_end"};
    int rc = ctx ? spate_schema_parse("g STRING, window_end BIGINT, score BIGINT, name STRING", &s)
                 : SPATE_ENOMEM;
    if (!rc) rc = spate_source_queue(ctx, s, 1, &q, &src);
    spate_schema_free(s);
    if (!rc) rc = spate_with_event_time(src, &et, &timed);
    if (!rc) rc = spate_key_by(timed, 2, keys, &keyed);
    if (!rc) rc = spate_window_top_n(keyed, order, desc, n, &top);
    if (!rc) rc = spate_sink_callback(top, collect, got);
    if (!rc) rc = spate_ctx_start(ctx);
    for (int it = from; !rc && it < to; it++) {
        char text[MAX_TOP * 48];
        size_t len = 0;
        for (int i = 0; i < d->n; i++) {
            const tev *e = &d->e[i];
            if (e->item != it) continue;
            char score[24] = "";
            if (!e->null_score) snprintf(score, sizeof score, "%lld", (long long)e->score);
            len += (size_t)snprintf(text + len, sizeof text - len, "%s,%lld,%s,%s\n", e->g,
                                    (long long)e->we, score, e->name);
        }
        if (len) rc = spate_queue_push(q, text, len);
    }
    if (q) spate_queue_close(q);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    if (rc) fprintf(stderr, "  top-n job: %s\n", spate_last_error());
    spate_metrics m = {0};
    spate_ctx_metrics(ctx, &m);
    if (late) *late = m.late_records;
    sp_jcount held = {0};
    if (!rc && peak) {
        rc = sp_jrows_held(top, &held);
        *peak = held.peak;
        CHECK_EQ_INT(held.held, 0);
    }
    spate_ctx_free(ctx);
    return rc;
}

static void top_check(const tdata *d, int by_name, int desc, int64_t n, int workers)
{
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t want_late, late = 0, peak = 0;
    top_oracle(d, by_name, desc, n, &want, &want_late);
    int rc = top_run(d, by_name ? "name" : "score", desc, n, workers, NULL, 0, d->nitems, &got,
                     &late, &peak);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
        check_lines(&got, &want);
        CHECK_EQ_INT(late, want_late);
        CHECK(peak <= (uint64_t)n * 3 * 7); /* n per group: 3 keys, about 7 windows open */
    }
    if (sp_test_failures)
        fprintf(stderr, "  (by %s, desc %d, n %lld, %d workers)\n", by_name ? "name" : "score",
                desc, (long long)n, workers);
    lines_free(&got);
    lines_free(&want);
}

/* Scores 0..6 over groups of about 13 rows: ties everywhere, broken by arrival. */
static void test_topn_ties(void)
{
    static tdata d;
    gen_top(&d, 11, 500, 25);
    top_check(&d, 0, 1, 3, 1);
    top_check(&d, 0, 1, 3, 2); /* one upstream instance: arrival order is defined */
}

static void test_topn_asc(void)
{
    static tdata d;
    gen_top(&d, 12, 500, 25);
    top_check(&d, 0, 0, 2, 1);
    top_check(&d, 1, 0, 4, 2); /* strings */
}

/* n larger than every group: each group whole, ranked. */
static void test_topn_large_n(void)
{
    static tdata d;
    gen_top(&d, 13, 300, 10);
    top_check(&d, 0, 1, 1000, 1);
}

/* A window aggregate's results ranked per window: the intended pipeline. */
static void test_topn_after_window(void)
{
    static const char *const items[] = {
        "a,3,100\nb,5,200\nc,5,300\nd,1,400\nb,1,500\n", /* [0,1000): b6 c5 a3 d1 */
        "e,2,1100\nf,2,1200\ng,2,1300\nh,1,1400\n",      /* [1000,2000): ties e f g */
        "a,1,2100\n", NULL};
    const char *want_text[] = {"0,1000,b,6,+I,1", "0,1000,c,5,+I,2", "0,1000,a,3,+I,3",
                               "1000,2000,e,2,+I,1", "1000,2000,f,2,+I,2", "1000,2000,g,2,+I,3",
                               "2000,3000,a,1,+I,1"};
    spate_ctx *ctx = new_ctx(1, 1, NULL);
    spate_schema *s = NULL;
    spate_queue *q;
    spate_stream *src, *timed, *keyed, *win, *byw, *top;
    const char *item = "item", *wkeys[] = {"window_start", "window_end"};
    spate_event_time et = {.column = "ts"};
    spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 1000};
    spate_agg sum = {SPATE_AGG_SUM, "amount", "s", 0};
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    REQUIRE_OK(spate_schema_parse("item STRING, amount BIGINT, ts BIGINT", &s));
    REQUIRE_OK(spate_source_queue(ctx, s, 1, &q, &src));
    spate_schema_free(s);
    REQUIRE_OK(spate_with_event_time(src, &et, &timed));
    REQUIRE_OK(spate_key_by(timed, 1, &item, &keyed));
    REQUIRE_OK(spate_window_aggregate(keyed, &w, 1, &sum, &win));
    REQUIRE_OK(spate_key_by(win, 2, wkeys, &byw));
    REQUIRE_OK(spate_window_top_n(byw, "s", 1, 3, &top));
    REQUIRE_OK(spate_sink_callback(top, collect, &got));
    REQUIRE_OK(spate_ctx_start(ctx));
    for (int i = 0; items[i]; i++) REQUIRE_OK(spate_queue_push(q, items[i], strlen(items[i])));
    spate_queue_close(q);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 20000));
    spate_ctx_free(ctx);
    for (size_t i = 0; i < sizeof want_text / sizeof *want_text; i++)
        lines_add(&want, want_text[i]);
    check_lines(&got, &want);
    lines_free(&got);
    lines_free(&want);
}

/* The last ranking of each (group, row_num), in arrival order. */
static void last_ranking(lines *l)
{
    lines keep;
    lines_init(&keep);
    for (size_t i = 0; i < l->n; i++) {
        /* the group is the first two fields, the row number the last */
        const char *c = strrchr(l->v[i], ',');
        size_t g = (size_t)(strchr(strchr(l->v[i], ',') + 1, ',') - l->v[i]);
        int later = 0;
        for (size_t j = i + 1; j < l->n && !later; j++)
            later = !strncmp(l->v[i], l->v[j], g + 1) && !strcmp(c, strrchr(l->v[j], ','));
        if (!later) lines_add(&keep, l->v[i]);
    }
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = keep.v;
    l->n = keep.n;
    l->cap = keep.cap;
    pthread_mutex_destroy(&keep.mu);
}

/* Three runs on one checkpoint directory (2, 3, 2 workers), groups open across
 * the cuts: the last ranking of each group is that of the whole input. */
static void test_topn_rescale(void)
{
    static const int workers[3] = {2, 3, 2};
    static tdata d;
    gen_top(&d, 14, 560, 28);
    const int cut[4] = {0, 9, 20, d.nitems};
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t nlate;
    top_oracle(&d, 0, 1, 3, &want, &nlate);
    char dir[] = "/tmp/spate-joins-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    for (int p = 0; p < 3; p++)
        REQUIRE_OK(top_run(&d, "score", 1, 3, workers[p], dir, cut[p], cut[p + 1], &got, NULL,
                           NULL));
    last_ranking(&got);
    check_lines(&got, &want);
    rm_tree(dir);
    lines_free(&got);
    lines_free(&want);
}

static int gen_window_end(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_from(out, 0, in, 3);
    return spate_out_set_int(out, 1, spate_row_int(in, 0));
}

/* 100000 groups of one row (the generator's rows, window_end = ts): fired
 * groups leave the key table, which stays small. */
static void test_topn_bounded_keys(void)
{
    spate_ctx *ctx = new_ctx(1, 0, NULL);
    spate_schema *s = NULL;
    spate_stream *gen, *m, *t, *keyed, *top;
    const char *k = "window_end";
    spate_event_time et = {.column = "window_end"};
    lines got;
    lines_init(&got);
    REQUIRE_OK(spate_schema_parse("window_end TIMESTAMP, seq BIGINT", &s));
    const char *opts[] = {"count", "100000", "interval", "1ms", NULL};
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, opts, &gen));
    REQUIRE_OK(spate_map(gen, s, gen_window_end, NULL, &m));
    spate_schema_free(s);
    REQUIRE_OK(spate_with_event_time(m, &et, &t));
    REQUIRE_OK(spate_key_by(t, 1, &k, &keyed));
    REQUIRE_OK(spate_window_top_n(keyed, "seq", 1, 2, &top));
    REQUIRE_OK(spate_sink_callback(top, count_rows, &got));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    sp_jcount held;
    REQUIRE_OK(sp_jrows_held(top, &held));
    spate_ctx_free(ctx);
    CHECK_EQ_INT(got.count, 100000);
    CHECK_EQ_INT(held.held, 0);
    CHECK(held.peak_keys < 8192);
    lines_free(&got);
}

static void test_topn_errors(void)
{
    spate_ctx *ctx = new_ctx(1, 0, NULL);
    spate_stream *gen, *keyed, *out = NULL;
    const char *k = "key";
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "1", NULL},
                                 &gen));
    REQUIRE_OK(spate_key_by(gen, 1, &k, &keyed));
    CHECK_EQ_INT(spate_window_top_n(keyed, "value", 1, 3, &out), SPATE_EINVAL); /* no window_end */
    CHECK_EQ_INT(spate_window_top_n(keyed, "value", 1, 0, &out), SPATE_EINVAL);
    CHECK(out == NULL);
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------ cumulate windows */

enum { MAX_CEV = 400 };

typedef struct cev {
    char k[4];
    int64_t t, i; /* ms */
    int null_i;
    int item;
} cev;

typedef struct cdata {
    cev e[MAX_CEV];
    int n, nitems;
    int64_t size, step, offset, delay;
    int workers;
    const char *interval;
} cdata;

/* Random streams: nothing is late (each time lags a rising clock by at most the
 * delay), keys k0..k{nkeys-1}, some NULL values, times around the epoch. */
static void gen_cumulate(cdata *c, uint64_t seed)
{
    uint64_t s = seed;
    memset(c, 0, sizeof *c);
    c->step = rand_in(&s, 1, 30);
    c->size = c->step * rand_in(&s, 1, 6);
    c->delay = rand_in(&s, 0, 100);
    c->workers = (int)rand_in(&s, 1, 2);
    c->interval = rand_in(&s, 0, 1) ? "0" : "5";
    int nkeys = (int)rand_in(&s, 1, 8);
    int ordered = rand_in(&s, 0, 3) == 0;
    int64_t clock = rand_in(&s, -3000, 3000), stepc = rand_in(&s, 0, 15);
    c->n = (int)rand_in(&s, 1, MAX_CEV);
    c->nitems = (int)rand_in(&s, 1, 8);
    int per = (c->n + c->nitems - 1) / c->nitems;
    for (int n = 0; n < c->n; n++) {
        cev *e = &c->e[n];
        clock += rand_in(&s, 0, stepc);
        snprintf(e->k, sizeof e->k, "k%d", (int)rand_in(&s, 0, nkeys - 1));
        e->t = clock - (ordered ? 0 : rand_in(&s, 0, c->delay));
        e->i = rand_in(&s, -1000, 1000);
        e->null_i = rand_in(&s, 0, 9) == 0;
        e->item = n / per;
    }
    c->nitems = (c->n + per - 1) / per;
}

/* queue (k, t, i) -> event time t -> key_by(k) -> cumulate COUNT, SUM(i). */
static int cumulate_run(const cdata *c, const spate_window_spec *w, const char *dir, int from,
                        int to, lines *got, uint64_t *late)
{
    spate_conf *conf = spate_conf_new();
    char wk[8];
    snprintf(wk, sizeof wk, "%d", c->workers);
    spate_conf_set(conf, "workers", wk);
    spate_conf_set(conf, "batch.interval.ms", c->interval);
    if (dir) {
        spate_conf_set(conf, "checkpoint.dir", dir);
        spate_conf_set(conf, "checkpoint.interval.ms", "50");
    }
    spate_ctx *ctx = NULL;
    int rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0}, {SPATE_AGG_SUM, "i", "s", 0}};
    const char *k = "k";
    spate_event_time et = {.column = "t", .max_delay_ms = c->delay};
    spate_schema *s = NULL;
    spate_queue *q = NULL;
    spate_stream *src, *timed, *keyed, *win;
    if (!rc) rc = spate_schema_parse("k STRING, t BIGINT, i BIGINT", &s);
    if (!rc) rc = spate_source_queue(ctx, s, 1, &q, &src);
    spate_schema_free(s);
    if (!rc) rc = spate_with_event_time(src, &et, &timed);
    if (!rc) rc = spate_key_by(timed, 1, &k, &keyed);
    if (!rc) rc = spate_window_aggregate(keyed, w, 2, aggs, &win);
    if (!rc) rc = spate_sink_callback(win, collect, got);
    if (!rc) rc = spate_ctx_start(ctx);
    for (int it = from; !rc && it < to; it++) {
        char text[MAX_CEV * 40];
        size_t len = 0;
        for (int n = 0; n < c->n; n++) {
            const cev *e = &c->e[n];
            if (e->item != it) continue;
            char i[24] = "";
            if (!e->null_i) snprintf(i, sizeof i, "%lld", (long long)e->i);
            len += (size_t)snprintf(text + len, sizeof text - len, "%s,%lld,%s\n", e->k,
                                    (long long)e->t, i);
        }
        if (len) rc = spate_queue_push(q, text, len);
    }
    if (q) spate_queue_close(q);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    if (rc) fprintf(stderr, "  cumulate job: %d %s\n", rc, spate_last_error());
    spate_metrics m = {0};
    if (ctx) spate_ctx_metrics(ctx, &m);
    if (late) *late = m.late_records;
    spate_ctx_free(ctx);
    return rc;
}

/* Every (key, window) of the records, from the definition: record t is in the
 * windows [p, p + j * step) of its period p = floor((t - offset) / size) * size
 * + offset that end after t. */
static void cumulate_brute(const cdata *c, lines *want)
{
    enum { MAXW = 64 };
    char (*keys)[4] = calloc(MAX_CEV * MAXW, sizeof *keys);
    int64_t *st = calloc(MAX_CEV * MAXW, sizeof *st), *en = calloc(MAX_CEV * MAXW, sizeof *en);
    int64_t *cnt = calloc(MAX_CEV * MAXW, sizeof *cnt), *sum = calloc(MAX_CEV * MAXW, sizeof *sum);
    int *has = calloc(MAX_CEV * MAXW, sizeof *has);
    int nw = 0;
    for (int n = 0; n < c->n; n++) {
        const cev *e = &c->e[n];
        int64_t p = floor_div(e->t - c->offset, c->size) * c->size + c->offset;
        for (int64_t end = p + c->step; end <= p + c->size; end += c->step) {
            if (end <= e->t) continue;
            int x = 0;
            while (x < nw && (strcmp(keys[x], e->k) || st[x] != p || en[x] != end)) x++;
            if (x == nw) {
                memcpy(keys[nw], e->k, 4);
                st[nw] = p;
                en[nw++] = end;
            }
            cnt[x]++;
            if (!e->null_i) sum[x] += e->i, has[x] = 1;
        }
    }
    for (int x = 0; x < nw; x++) {
        char line[128], s[24] = "null";
        if (has[x]) snprintf(s, sizeof s, "%lld", (long long)sum[x]);
        snprintf(line, sizeof line, "%s,%lld,%lld,%lld,%s,+I", keys[x], (long long)st[x],
                 (long long)en[x], (long long)cnt[x], s);
        lines_add(want, line);
    }
    free(keys);
    free(st);
    free(en);
    free(cnt);
    free(sum);
    free(has);
}

/* The definition on a small example, by hand: step 10, size 30. */
static void test_cumulate_example(void)
{
    static cdata c;
    memset(&c, 0, sizeof c);
    c.step = 10;
    c.size = 30;
    c.workers = 1;
    c.interval = "5";
    const struct { const char *k; int64_t t, i; } ev[] = {
        {"a", 5, 1}, {"a", 25, 2}, {"a", 31, 4}, {"b", -1, 8}, {"a", 29, 16}};
    for (int n = 0; n < 5; n++) {
        snprintf(c.e[n].k, sizeof c.e[n].k, "%s", ev[n].k);
        c.e[n].t = ev[n].t;
        c.e[n].i = ev[n].i;
    }
    c.n = 5;
    c.nitems = 1;
    c.delay = 100;
    const char *want_text[] = {
        "a,0,10,1,1,+I",   "a,0,20,1,1,+I",   "a,0,30,3,19,+I", "a,30,40,1,4,+I",
        "a,30,50,1,4,+I",  "a,30,60,1,4,+I",  "b,-30,0,1,8,+I"};
    lines got, want, brute;
    lines_init(&got);
    lines_init(&want);
    lines_init(&brute);
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = 30, .slide_ms = 10};
    REQUIRE_OK(cumulate_run(&c, &w, NULL, 0, 1, &got, NULL));
    for (size_t i = 0; i < sizeof want_text / sizeof *want_text; i++)
        lines_add(&want, want_text[i]);
    cumulate_brute(&c, &brute);
    check_lines(&brute, &want); /* the test's own computation agrees with the example */
    check_lines(&got, &want);
    lines_free(&got);
    lines_free(&want);
    lines_free(&brute);
}

/* Random streams against the definition, with an offset. */
static void test_cumulate_brute(void)
{
    static cdata c;
    int bad = 0;
    for (uint64_t seed = 500; seed < 540 && bad < 3; seed++) {
        gen_cumulate(&c, seed);
        c.offset = (int64_t)(seed % 3) * 7 - 7; /* -7, 0 or 7 ms */
        spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = c.size,
                               .slide_ms = c.step, .offset_ms = c.offset};
        lines got, want;
        lines_init(&got);
        lines_init(&want);
        int failures = sp_test_failures;
        uint64_t late = 0;
        cumulate_brute(&c, &want);
        if (cumulate_run(&c, &w, NULL, 0, c.nitems, &got, &late)) sp_test_failures++;
        else check_lines(&got, &want);
        CHECK_EQ_INT(late, 0);
        if (sp_test_failures != failures) {
            bad++;
            fprintf(stderr, "  seed %llu: size %lld step %lld offset %lld, %d workers\n",
                    (unsigned long long)seed, (long long)c.size, (long long)c.step,
                    (long long)c.offset, c.workers);
        }
        lines_free(&got);
        lines_free(&want);
    }
}

/* SQLite's GROUP BY over the windows of a recursive CTE: period starts are the
 * multiples of the size from below min(t) (a floor for negative times too), and
 * each has size / step ends. */
static const char cumulate_sql[] =
    "WITH RECURSIVE bounds(lo, hi) AS (SELECT min(t), max(t) FROM ev),"
    " starts(s) AS ("
    "  SELECT lo - ((lo % :size) + :size) % :size FROM bounds"
    "  UNION ALL SELECT s + :size FROM starts, bounds WHERE s + :size <= hi),"
    " steps(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM steps WHERE j < :size / :step)"
    " SELECT k, s, s + j * :step, count(*), sum(i) FROM ev, starts, steps"
    " WHERE ev.t >= s AND ev.t < s + j * :step GROUP BY k, s, j";

static int sqlite_cumulate(const cdata *c, lines *want)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(":memory:", &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "CREATE TABLE ev (k TEXT, t INTEGER, i INTEGER)", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO ev VALUES (?, ?, ?)", -1, &st, NULL);
    for (int n = 0; rc == SQLITE_OK && n < c->n; n++) {
        sqlite3_bind_text(st, 1, c->e[n].k, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, c->e[n].t);
        if (c->e[n].null_i) sqlite3_bind_null(st, 3);
        else sqlite3_bind_int64(st, 3, c->e[n].i);
        rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, cumulate_sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":size"), c->size);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":step"), c->step);
    }
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char line[128], s[24] = "null";
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            snprintf(s, sizeof s, "%lld", (long long)sqlite3_column_int64(st, 4));
        snprintf(line, sizeof line, "%s,%lld,%lld,%lld,%s,+I", sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
                 (long long)sqlite3_column_int64(st, 3), s);
        lines_add(want, line);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) fprintf(stderr, "  sqlite: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void test_cumulate_sqlite(void)
{
    static cdata c;
    int bad = 0;
    for (uint64_t seed = 9000; seed < 9060 && bad < 3; seed++) {
        gen_cumulate(&c, seed);
        spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = c.size,
                               .slide_ms = c.step};
        lines got, want;
        lines_init(&got);
        lines_init(&want);
        int failures = sp_test_failures;
        if (sqlite_cumulate(&c, &want) || cumulate_run(&c, &w, NULL, 0, c.nitems, &got, NULL))
            sp_test_failures++;
        else
            check_lines(&got, &want);
        if (sp_test_failures != failures) {
            bad++;
            fprintf(stderr, "  seed %llu: size %lld step %lld, %d workers, interval %s\n",
                    (unsigned long long)seed, (long long)c.size, (long long)c.step, c.workers,
                    c.interval);
        }
        lines_free(&got);
        lines_free(&want);
    }
}

/* Allowed lateness: a late record within it fires the windows that already
 * fired again, joins the ones that did not, and is dropped once every window of
 * it is gone. Expected rows worked out by hand (step 10, size 30, lateness 100). */
static void test_cumulate_lateness(void)
{
    static cdata c;
    memset(&c, 0, sizeof c);
    c.step = 10;
    c.size = 30;
    c.workers = 1;
    c.interval = "5";
    const struct { int64_t t, i; } ev[] = {{5, 1}, {25, 2}, {12, 4}, {200, 8}, {3, 16}, {150, 32}};
    for (int n = 0; n < 6; n++) {
        snprintf(c.e[n].k, sizeof c.e[n].k, "a");
        c.e[n].t = ev[n].t;
        c.e[n].i = ev[n].i;
        c.e[n].item = n;
    }
    c.n = c.nitems = 6;
    const char *want_text[] = {
        "a,0,10,1,1,+I",                   /* fires at watermark 25 */
        "a,0,20,1,1,+I", "a,0,20,2,5,+U",  /* a@12 is late for it: fires again */
        "a,0,30,3,7,+I",                   /* a@12 in time for it */
        "a,180,210,1,8,+I",
        "a,150,160,1,32,+I", "a,150,170,1,32,+I", "a,150,180,1,32,+I"}; /* a@3: dropped */
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = 30, .slide_ms = 10,
                           .allowed_lateness_ms = 100};
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    uint64_t late = 0;
    REQUIRE_OK(cumulate_run(&c, &w, NULL, 0, c.nitems, &got, &late));
    for (size_t i = 0; i < sizeof want_text / sizeof *want_text; i++)
        lines_add(&want, want_text[i]);
    check_lines(&got, &want);
    CHECK_EQ_INT(late, 1);
    lines_free(&got);
    lines_free(&want);
}

/* The part of a line before its last field (the window's op). */
static size_t head_len(const char *line)
{
    return (size_t)(strrchr(line, ',') - line);
}

/* The (key, window) part of a result line: the first three fields. */
static size_t window_len(const char *line)
{
    const char *p = strchr(line, ',');
    p = strchr(p + 1, ',');
    return (size_t)(strchr(p + 1, ',') - line);
}

/* Early firings every 2 records, retracting: every "-U" retracts the row emitted
 * before it for that window, and the last row per window is the total. */
static void test_cumulate_retracting(void)
{
    static cdata c;
    gen_cumulate(&c, 31337);
    c.interval = "0";
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = c.size, .slide_ms = c.step,
                           .accumulation = SPATE_ACC_RETRACTING};
    w.trigger.early_count = 2;
    lines got, want, last;
    lines_init(&got);
    lines_init(&want);
    lines_init(&last);
    REQUIRE_OK(cumulate_run(&c, &w, NULL, 0, c.nitems, &got, NULL));
    cumulate_brute(&c, &want);
    for (size_t i = 0; i < got.n; i++) {
        const char *g = got.v[i];
        size_t wl = window_len(g);
        const char *prev = NULL, *next = NULL;
        for (size_t j = 0; j < i; j++)
            if (!strncmp(got.v[j], g, wl + 1) && got.v[j][head_len(got.v[j]) + 1] == '+')
                prev = got.v[j];
        for (size_t j = i + 1; j < got.n && !next; j++)
            if (!strncmp(got.v[j], g, wl + 1)) next = got.v[j];
        if (!strcmp(g + head_len(g), ",-U")) {
            CHECK(prev && head_len(prev) == head_len(g) && !strncmp(prev, g, head_len(g)));
        } else if (!next) { /* the last row of its window: the total, as "+I" */
            char line[128];
            snprintf(line, sizeof line, "%.*s,+I", (int)head_len(g), g);
            lines_add(&last, line);
        }
    }
    check_lines(&last, &want);
    lines_free(&got);
    lines_free(&want);
    lines_free(&last);
}

/* Two runs on one checkpoint directory (2 then 3 workers): the last row of each
 * window is its total over both runs. */
static void test_cumulate_checkpoint(void)
{
    static cdata c;
    gen_cumulate(&c, 4242);
    while (c.nitems < 4) gen_cumulate(&c, 4242 + (uint64_t)c.n);
    c.interval = "0";
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = c.size, .slide_ms = c.step};
    lines got, want;
    lines_init(&got);
    lines_init(&want);
    char dir[] = "/tmp/spate-joins-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    c.workers = 2;
    REQUIRE_OK(cumulate_run(&c, &w, dir, 0, c.nitems / 2, &got, NULL));
    c.workers = 3;
    REQUIRE_OK(cumulate_run(&c, &w, dir, c.nitems / 2, c.nitems, &got, NULL));
    /* keep the last row per window, as "+I" */
    lines last;
    lines_init(&last);
    for (size_t i = 0; i < got.n; i++) {
        size_t wl = window_len(got.v[i]);
        int later = 0;
        for (size_t j = i + 1; j < got.n && !later; j++)
            later = !strncmp(got.v[j], got.v[i], wl + 1);
        if (later) continue;
        char line[128];
        snprintf(line, sizeof line, "%.*s,+I", (int)head_len(got.v[i]), got.v[i]);
        lines_add(&last, line);
    }
    cumulate_brute(&c, &want);
    check_lines(&last, &want);
    rm_tree(dir);
    lines_free(&got);
    lines_free(&want);
    lines_free(&last);
}

static void test_cumulate_invalid(void)
{
    spate_ctx *ctx = new_ctx(1, 0, NULL);
    spate_stream *gen, *out = NULL;
    spate_agg n = {SPATE_AGG_COUNT, NULL, "n", 0};
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "1", NULL},
                                 &gen));
    spate_window_spec w = {.kind = SPATE_WINDOW_CUMULATE, .size_ms = 25, .slide_ms = 10,
                           .time_column = "ts"};
    CHECK_EQ_INT(spate_window_aggregate(gen, &w, 1, &n, &out), SPATE_EINVAL); /* 25 % 10 */
    w.slide_ms = 0;
    CHECK_EQ_INT(spate_window_aggregate(gen, &w, 1, &n, &out), SPATE_EINVAL);
    w.slide_ms = 5;
    w.accumulation = SPATE_ACC_DISCARDING;
    w.trigger.early_count = 3;
    CHECK_EQ_INT(spate_window_aggregate(gen, &w, 1, &n, &out), SPATE_EUNSUPPORTED);
    w.trigger.early_count = 0;
    REQUIRE_OK(spate_window_aggregate(gen, &w, 1, &n, &out));
    spate_ctx_free(ctx);
}

const sp_test tests_joins[] = {
    {"join_interval_kinds", test_interval_kinds},
    {"join_interval_negative", test_interval_negative},
    {"join_interval_late", test_interval_late},
    {"join_interval_bounded", test_interval_bounded},
    {"join_bounded_keys", test_bounded_keys},
    {"join_interval_rescale_inner", test_interval_rescale_inner},
    {"join_interval_rescale_left", test_interval_rescale_left},
    {"join_interval_errors", test_interval_errors},
    {"join_window_tumbling", test_window_tumbling},
    {"join_window_sliding", test_window_sliding},
    {"join_window_cumulate", test_window_cumulate},
    {"join_window_rescale", test_window_rescale},
    {"join_window_errors", test_window_errors},
    {"topn_ties", test_topn_ties},
    {"topn_asc", test_topn_asc},
    {"topn_large_n", test_topn_large_n},
    {"topn_after_window", test_topn_after_window},
    {"topn_rescale", test_topn_rescale},
    {"topn_bounded_keys", test_topn_bounded_keys},
    {"topn_errors", test_topn_errors},
    {"cumulate_example", test_cumulate_example},
    {"cumulate_brute", test_cumulate_brute},
    {"cumulate_sqlite", test_cumulate_sqlite},
    {"cumulate_lateness", test_cumulate_lateness},
    {"cumulate_retracting", test_cumulate_retracting},
    {"cumulate_checkpoint", test_cumulate_checkpoint},
    {"cumulate_invalid", test_cumulate_invalid},
    {NULL, NULL},
};
