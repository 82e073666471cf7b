/*
 * test_ckpt_windows.c - checkpoints of the event-time window operator (window.c).
 *
 * A job runs in parts on one checkpoint directory, and the window rows of all
 * parts are compared with one uninterrupted run of the whole input. Rows emitted
 * after a part's last checkpoint are emitted again by the next part (at least
 * once into a callback), and a window still open at the end of a part fires there
 * and again, updated, in the next; so the comparison keeps the LAST row per (key,
 * window start) in arrival order. Counts and sums must then be exact: a lost
 * window, a window counted twice or an element lost or replayed into a window
 * shows up as a missing row or a wrong COUNT/SUM.
 *
 * The generator replays from its checkpointed position (with the same worker
 * count only); the rescaling test uses a queue source, each run pushing its part
 * of the input. The crash test kills a forked child at a random moment and runs
 * it again; the child writes its rows to a file, one write per row.
 */
#define _GNU_SOURCE /* nftw */
#include "test.h"

#include "spate.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One window row: key, bounds, COUNT, SUM. */
typedef struct wrow {
    int64_t key, start, end, n, sum;
    size_t ord; /* arrival order */
} wrow;

typedef struct rows {
    pthread_mutex_t mu;
    wrow *r;
    size_t n, cap;
    int fd; /* >= 0: rows go to this file instead (the crash test's child) */
} rows;

static rows *rows_new(void)
{
    rows *l = calloc(1, sizeof *l);
    if (l) pthread_mutex_init(&l->mu, NULL);
    if (l) l->fd = -1;
    return l;
}

static void rows_free(rows *l)
{
    if (!l) return;
    free(l->r);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static int rows_add(rows *l, const wrow *w)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        wrow *r = realloc(l->r, cap * sizeof *r);
        if (!r) return -1;
        l->r = r;
        l->cap = cap;
    }
    l->r[l->n] = *w;
    l->r[l->n].ord = l->n;
    l->n++;
    return 0;
}

/* One row per line; a single write, so a killed writer leaves whole lines. */
static int rows_write(int fd, const wrow *w)
{
    char line[128];
    int len = snprintf(line, sizeof line, "%lld %lld %lld %lld %lld\n", (long long)w->key,
                       (long long)w->start, (long long)w->end, (long long)w->n, (long long)w->sum);
    return write(fd, line, (size_t)len) == len ? 0 : -1;
}

/* Callback sink: keeps "+I"/"+U" rows (keys, start, end, n, sum, op). */
static int collect(const spate_rows *rs, int64_t time_ms, void *ud)
{
    rows *l = ud;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs) && !rc; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        spate_str op = spate_row_str(&r, 5);
        if (op.len != 2 || op.ptr[0] != '+') continue;
        wrow w = {spate_row_int(&r, 0), spate_row_int(&r, 1), spate_row_int(&r, 2),
                  spate_row_int(&r, 3), spate_row_int(&r, 4), 0};
        rc = l->fd >= 0 ? rows_write(l->fd, &w) : rows_add(l, &w);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int by_window(const void *a, const void *b)
{
    const wrow *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Keeps the last row per (key, start), in arrival order, sorted by window. */
static void last_per_window(rows *l)
{
    qsort(l->r, l->n, sizeof *l->r, by_window);
    size_t m = 0;
    for (size_t i = 0; i < l->n; i++) {
        int last =
            i + 1 == l->n || l->r[i + 1].key != l->r[i].key || l->r[i + 1].start != l->r[i].start;
        if (last) l->r[m++] = l->r[i];
    }
    l->n = m;
}

static void check_same(rows *got, rows *want)
{
    last_per_window(got);
    last_per_window(want);
    CHECK(want->n > 0);
    CHECK_EQ_INT((int64_t)got->n, (int64_t)want->n);
    for (size_t i = 0; i < got->n && i < want->n; i++) {
        const wrow *g = &got->r[i], *w = &want->r[i];
        CHECK_EQ_INT(g->key, w->key);
        CHECK_EQ_INT(g->start, w->start);
        CHECK_EQ_INT(g->end, w->end);
        CHECK_EQ_INT(g->n, w->n);
        CHECK_EQ_INT(g->sum, w->sum);
        if (g->key != w->key || g->start != w->start || g->n != w->n) break;
    }
}

/* A continuous-style context; dir NULL = no checkpoints. */
static spate_ctx *ctx_of(int workers, const char *dir)
{
    spate_conf *conf = spate_conf_new();
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    int rc = !conf || spate_conf_set(conf, "workers", w) ||
             spate_conf_set(conf, "batch.interval.ms", "0");
    if (!rc && dir)
        rc = spate_conf_set(conf, "checkpoint.dir", dir) ||
             spate_conf_set(conf, "checkpoint.interval.ms", "50");
    spate_ctx *ctx = NULL;
    if (rc || spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0}, {SPATE_AGG_SUM, "seq", "sum_seq", 0}};

/* Reduce over (seq, ts): the sum of seq and the latest ts. */
static int sum_seq(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    int64_t ta = spate_row_int(a, 1), tb = spate_row_int(b, 1);
    spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    spate_out_set_int(out, 1, ta > tb ? ta : tb);
    return 0;
}

/* in (with columns key, seq, ts) -> event time ts -> key_by(key) -> window -> l.
 * The window aggregates COUNT and SUM(seq), or (when in has no other columns)
 * reduces with sum_seq: the rows then hold SUM(seq) as n and MAX(ts) as sum. */
static int window_job(spate_stream *in, const spate_window_spec *spec, int reduce, rows *l)
{
    spate_event_time et = {.column = "ts", .unit = "ms"};
    spate_stream *timed = NULL, *keyed = NULL, *w = NULL;
    const char *keys[] = {"key"};
    int rc = spate_with_event_time(in, &et, &timed);
    if (!rc) rc = spate_key_by(timed, 1, keys, &keyed);
    if (!rc && reduce) rc = spate_window_reduce(keyed, spec, sum_seq, NULL, &w);
    else if (!rc) rc = spate_window_aggregate(keyed, spec, 2, aggs, &w);
    if (!rc) rc = spate_sink_callback(w, collect, l);
    return rc;
}

static int run_ctx(spate_ctx *ctx, int rc)
{
    if (!rc) rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    spate_ctx_free(ctx);
    return rc;
}

/* ------------------------------------------------------- generator jobs */

/* generator(count, 50 keys; rate 0 = unlimited) into the window job. */
static int gen_run(spate_ctx *ctx, int64_t count, int64_t rate, const spate_window_spec *spec,
                   rows *l)
{
    char n[32], r[32];
    snprintf(n, sizeof n, "%lld", (long long)count);
    snprintf(r, sizeof r, "%lld", (long long)rate);
    spate_stream *g = NULL;
    int rc = ctx ? 0 : SPATE_ENOMEM;
    if (!rc)
        rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", n, "keys", "50", "rate", r, NULL}, &g);
    if (!rc) rc = window_job(g, spec, 0, l);
    return run_ctx(ctx, rc);
}

/* N1 events on a checkpoint directory, then N2 on the same: the rows of both
 * equal those of one run over N2. */
static void two_parts(int workers, const spate_window_spec *spec)
{
    const int64_t N1 = 7777, N2 = 20000;
    char dir[] = "/tmp/spate-ckw-XXXXXX";
    rows *got = rows_new(), *want = rows_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(gen_run(ctx_of(workers, NULL), N2, 0, spec, want));
    REQUIRE_OK(gen_run(ctx_of(workers, dir), N1, 0, spec, got));
    REQUIRE_OK(gen_run(ctx_of(workers, dir), N2, 0, spec, got));
    check_same(got, want);
    rm_tree(dir);
    rows_free(got);
    rows_free(want);
}

static const spate_window_spec tumbling = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 100};

static void test_tumbling(void)
{
    two_parts(2, &tumbling);
}

static void test_sliding(void)
{
    spate_window_spec spec = {.kind = SPATE_WINDOW_SLIDING, .size_ms = 200, .slide_ms = 50};
    two_parts(2, &spec);
}

/* Keys see an event every 50 ms on average: a gap of 120 ms gives sessions of
 * widely varying length, some spanning the end of the first part. */
static void test_session(void)
{
    spate_window_spec spec = {.kind = SPATE_WINDOW_SESSION, .gap_ms = 120};
    two_parts(1, &spec);
}

/* ----------------------------------------------- rescaling, with a queue */

/* One run: rows ts in [from, to) ms, key = 7 ts % 50, seq = ts, into a tumbling
 * window aggregate or (reduce) a retracting window reduce. */
static int queue_run(int workers, const char *dir, int64_t from, int64_t to, int reduce,
                     rows *l)
{
    static const spate_window_spec retracting = {.kind = SPATE_WINDOW_TUMBLING,
                                                 .size_ms = 100,
                                                 .accumulation = SPATE_ACC_RETRACTING};
    spate_ctx *ctx = ctx_of(workers, dir);
    spate_schema *s = NULL;
    spate_queue *q;
    spate_stream *in = NULL;
    int rc = ctx ? spate_schema_parse("key BIGINT, seq BIGINT, ts BIGINT", &s) : SPATE_ENOMEM;
    if (!rc) rc = spate_source_queue(ctx, s, 0, &q, &in);
    spate_schema_free(s);
    for (int64_t t = from; !rc && t < to; t++) {
        char row[96];
        int len = snprintf(row, sizeof row, "%lld,%lld,%lld\n", (long long)(t * 7 % 50),
                           (long long)t, (long long)t);
        rc = spate_queue_push(q, row, (size_t)len);
    }
    if (in) spate_queue_close(q);
    if (!rc) rc = window_job(in, reduce ? &retracting : &tumbling, reduce, l);
    return run_ctx(ctx, rc);
}

/* 2 -> 3 -> 2 workers: windows cut by key group reach the new owners of their
 * keys. (Not 2 -> 1: one worker compiles every exchange to FORWARD, which the
 * job fingerprint refuses, see test_ckpt_keyed.c.) */
static void test_rescale(void)
{
    static const int workers[3] = {2, 3, 2};
    static const int64_t cut[4] = {0, 1234, 2345, 4000};
    char dir[] = "/tmp/spate-ckw-XXXXXX";
    rows *got = rows_new(), *want = rows_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(queue_run(1, NULL, cut[0], cut[3], 0, want));
    for (int run = 0; run < 3; run++)
        REQUIRE_OK(queue_run(workers[run], dir, cut[run], cut[run + 1], 0, got));
    check_same(got, want);
    rm_tree(dir);
    rows_free(got);
    rows_free(want);
}

/* A user reduce (accumulator rows in the state) with RETRACTING (what was emitted
 * is in the state too), in two parts. */
static void test_reduce_retracting(void)
{
    char dir[] = "/tmp/spate-ckw-XXXXXX";
    rows *got = rows_new(), *want = rows_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(queue_run(2, NULL, 0, 3000, 1, want));
    REQUIRE_OK(queue_run(2, dir, 0, 1555, 1, got));
    REQUIRE_OK(queue_run(2, dir, 1555, 3000, 1, got));
    check_same(got, want);
    rm_tree(dir);
    rows_free(got);
    rows_free(want);
}

/* ------------------------------------------------------ a killed child */

/* Runs the job in a child writing to path; killed after kill_ms unless 0. Returns
 * the child's exit status, or -1 when it was killed. */
static int child_run(const char *dir, const char *path, int64_t count, int kill_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        rows l = {.fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600)};
        pthread_mutex_init(&l.mu, NULL);
        int rc = l.fd < 0 ? -1 : gen_run(ctx_of(2, dir), count, 20000, &tumbling, &l);
        _exit(rc ? 1 : 0);
    }
    if (pid < 0) return -2;
    if (kill_ms > 0) {
        struct timespec ts = {kill_ms / 1000, (long)(kill_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void read_rows(const char *path, rows *l)
{
    FILE *f = fopen(path, "r");
    REQUIRE_OK(f ? 0 : -1);
    long long k, s, e, n, sum;
    while (fscanf(f, "%lld %lld %lld %lld %lld", &k, &s, &e, &n, &sum) == 5)
        rows_add(l, &(wrow){k, s, e, n, sum, 0});
    fclose(f);
}

/* 20000 events at 20000/s: killed somewhere in its second, then run to the end. */
static void test_killed(void)
{
    const int64_t N = 20000;
    char dir[] = "/tmp/spate-ckw-XXXXXX", path[64];
    rows *got = rows_new(), *want = rows_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    snprintf(path, sizeof path, "%s.rows", dir);
    unlink(path);
    REQUIRE_OK(gen_run(ctx_of(2, NULL), N, 0, &tumbling, want));
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int kill_ms = 100 + rand() % 800;
    CHECK_EQ_INT(child_run(dir, path, N, kill_ms), -1);
    CHECK_EQ_INT(child_run(dir, path, N, 0), 0);
    read_rows(path, got);
    check_same(got, want);
    unlink(path);
    rm_tree(dir);
    rows_free(got);
    rows_free(want);
}

const sp_test tests_ckpt_windows[] = {
    {"ckpt_win_tumbling", test_tumbling},
    {"ckpt_win_rescale", test_rescale},
    {"ckpt_win_sliding", test_sliding},
    {"ckpt_win_session", test_session},
    {"ckpt_win_reduce_retracting", test_reduce_retracting},
    {"ckpt_win_killed", test_killed},
    {NULL, NULL},
};
