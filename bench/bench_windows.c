/*
 * bench_windows.c - events/s of event-time windows beside a hand-written C loop.
 *
 * Cases (generator seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP; ts = start +
 * seq * interval, key = hash(seq) % 10000; --interval-us, default 10 us, so a key
 * sees ~10 events per 1 s window - with 1 ms spacing most windows hold one event
 * and both sides measure writing window rows rather than aggregating events):
 *   tumbling  spate_with_event_time(ts, max delay 0) -> key_by(key) ->
 *             spate_window_aggregate(TUMBLING 1 s, COUNT, SUM(value)) -> blackhole
 *   sliding   the same with SLIDING size 10 s, slide 2 s
 * Continuous style, workers = 1: the figures are per core.
 *
 * What is measured: wall time (CLOCK_MONOTONIC) from spate_ctx_start to the return
 * of spate_ctx_await_termination; building and freeing the job are outside. The two
 * sides alternate run by run and the best of --runs counts.
 *
 * Why the loop is fair: it computes the generator's columns with the generator's
 * arithmetic (the engine's sp_hash_u64, seed, salt, scaling), then counts and sums
 * per key in open-addressing hash tables (linear probing, load <= 0.5, the engine's
 * hash), one table per pane - for sliding windows too, as the engine does: a record
 * updates one pane of gcd(size, slide), and a window is the merge of its panes into
 * a table that is then emitted. Each table keeps the list of its used slots, so
 * emitting and clearing cost what was used, not the table's capacity. The loop
 * emits a window when the next pane starts, the earliest moment an in-order input
 * allows; the engine emits when the watermark (advanced after each batch of the
 * source) passes the end. It does not pay for batches, watermarks, output rows or
 * the sink, so it is the floor, not a rival engine.
 *
 * Before timing, each case runs both sides on a small input and compares the number
 * of window rows, an order-independent checksum of (key, start, end, count) and the
 * total of the sums (to 1e-9 relative: merging panes and adding rows in another
 * order changes the last bits of a double sum), so a loop that drifted from the
 * engine's window semantics stops the bench.
 */
#define BENCH_NAME "bench_windows"
#include "bench.h"

#include "core/hash.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BLOCK = 1024, NKEYS = 10000 };
enum { OUT_KEY, OUT_START, OUT_END, OUT_COUNT, OUT_SUM }; /* window output columns */

#define GEN_SEED 42
#define GEN_START_MS 1700000000000LL
#define GEN_VALUE_SALT 0x5bd1e9955bd1e995ULL /* the generator's (private to generator.c) */
#define US_PER_MS 1000LL
#define CHECK_EVENTS 100000
#define DEFAULT_EVENTS 20000000

static int64_t interval_us = 10; /* event-time spacing of consecutive events */

typedef struct bench_case {
    const char *name;
    spate_window_kind kind;
    int64_t size_ms, slide_ms;
} bench_case;

static const bench_case cases[] = {
    {"tumbling", SPATE_WINDOW_TUMBLING, 1000, 1000},
    {"sliding", SPATE_WINDOW_SLIDING, 10000, 2000},
};

/* Output of one run: window rows, checksum of (key, start, end, count), sum of SUMs. */
typedef struct tally {
    int check; /* fold every row (otherwise only rows counts) */
    uint64_t rows, hash;
    double total;
} tally;

/* ------------------------------------------------------------------ helpers */





static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void tally_row(tally *t, int64_t key, int64_t start, int64_t end, int64_t count,
                      double sum)
{
    t->rows++;
    if (!t->check) return;
    uint64_t h = sp_hash_u64(sp_hash_u64(sp_hash_u64(0, (uint64_t)key), (uint64_t)start),
                             (uint64_t)end);
    t->hash += sp_hash_u64(h, (uint64_t)count);
    t->total += sum;
}

/* -------------------------------------------------------- hand-written side */

typedef struct slot {
    int64_t key, count; /* count 0 = empty */
    double sum;
} slot;

/* Open addressing with the list of used slots, for emitting and clearing. */
typedef struct table {
    slot *slots;
    uint32_t *used;
    uint32_t nused;
    uint64_t mask;
} table;

static void table_init(table *t)
{
    uint64_t cap = 1;
    while (cap < 2 * NKEYS) cap <<= 1;
    t->slots = xcalloc(cap, sizeof *t->slots);
    t->used = xcalloc(cap, sizeof *t->used);
    t->nused = 0;
    t->mask = cap - 1;
}

static void table_free(table *t)
{
    free(t->slots);
    free(t->used);
}

static inline void table_add(table *t, int64_t key, int64_t count, double sum)
{
    uint64_t i = sp_hash_u64(0, (uint64_t)key) & t->mask;
    while (t->slots[i].count && t->slots[i].key != key) i = (i + 1) & t->mask;
    slot *s = &t->slots[i];
    if (!s->count) {
        s->key = key;
        t->used[t->nused++] = (uint32_t)i;
    }
    s->count += count;
    s->sum += sum;
}

static void table_clear(table *t)
{
    for (uint32_t u = 0; u < t->nused; u++) t->slots[t->used[u]] = (slot){0, 0, 0};
    t->nused = 0;
}

/* The panes of the windows still open: pane p lives in ring[p % npanes]. */
typedef struct pane_loop {
    int64_t size, slide, pane; /* µs */
    int64_t npanes;            /* size / pane */
    table *ring, merged;
    int64_t cur; /* index of the newest pane; INT64_MIN before the first event */
    tally *out;
} pane_loop;

static int64_t floor_div(int64_t x, int64_t d)
{
    return x / d - (x % d != 0 && x < 0);
}

/* Emits the window ending at end: the merge of its panes, one row per key. */
static void emit_window(pane_loop *l, int64_t end)
{
    table *m = &l->merged;
    int64_t first = floor_div(end - l->size, l->pane), last = end / l->pane - 1;
    for (int64_t p = first; p <= last; p++) {
        const table *t = &l->ring[((p % l->npanes) + l->npanes) % l->npanes];
        for (uint32_t u = 0; u < t->nused; u++) {
            const slot *s = &t->slots[t->used[u]];
            table_add(m, s->key, s->count, s->sum);
        }
    }
    for (uint32_t u = 0; u < m->nused; u++) {
        const slot *s = &m->slots[m->used[u]];
        tally_row(l->out, s->key, end - l->size, end, s->count, s->sum);
    }
    table_clear(m);
}

/* Pane cur is complete: emit the window ending with it (if one does), then reuse
 * the slot of the pane that no window still open holds. */
static void close_pane(pane_loop *l)
{
    int64_t end = (l->cur + 1) * l->pane;
    if (end % l->slide == 0) emit_window(l, end);
    l->cur++;
    table_clear(&l->ring[((l->cur % l->npanes) + l->npanes) % l->npanes]);
}

static void pane_loop_init(pane_loop *l, const bench_case *c, tally *out)
{
    l->size = c->size_ms * US_PER_MS;
    l->slide = c->slide_ms * US_PER_MS;
    l->pane = gcd64(l->size, l->slide);
    l->npanes = l->size / l->pane;
    l->ring = xcalloc((size_t)l->npanes, sizeof *l->ring);
    for (int64_t p = 0; p < l->npanes; p++) table_init(&l->ring[p]);
    table_init(&l->merged);
    l->cur = INT64_MIN;
    l->out = out;
}

static inline void pane_loop_add(pane_loop *l, int64_t ts, int64_t key, double value)
{
    int64_t p = floor_div(ts, l->pane);
    if (l->cur == INT64_MIN) l->cur = p;
    while (l->cur < p) close_pane(l);
    table_add(&l->ring[((p % l->npanes) + l->npanes) % l->npanes], key, 1, value);
}

/* End of input: every window holding a pane seen so far is emitted. */
static void pane_loop_finish(pane_loop *l)
{
    if (l->cur == INT64_MIN) return;
    for (int64_t last = l->cur + l->npanes - 1; l->cur < last;) close_pane(l);
    close_pane(l);
    for (int64_t p = 0; p < l->npanes; p++) table_free(&l->ring[p]);
    table_free(&l->merged);
    free(l->ring);
}

typedef struct gen_cols {
    int64_t key[BLOCK], ts[BLOCK];
    double value[BLOCK];
} gen_cols;

/* The generator's rows first .. first + m - 1, one loop per column as generator.c. */
static void gen_fill(gen_cols *g, int64_t first, uint32_t m)
{
    for (uint32_t j = 0; j < m; j++)
        g->key[j] = (int64_t)(sp_hash_u64(GEN_SEED, (uint64_t)(first + j)) % (uint64_t)NKEYS);
    for (uint32_t j = 0; j < m; j++)
        g->value[j] = (double)(sp_hash_u64(GEN_SEED ^ GEN_VALUE_SALT, (uint64_t)(first + j)) >>
                               11) * (100.0 / 9007199254740992.0);
    for (uint32_t j = 0; j < m; j++) g->ts[j] = GEN_START_MS * US_PER_MS + (first + j) * interval_us;
}

static double run_loop(const bench_case *c, int64_t events, tally *out)
{
    gen_cols *g = xcalloc(1, sizeof *g);
    pane_loop l;
    int64_t t0 = now_ns();
    pane_loop_init(&l, c, out);
    for (int64_t first = 0; first < events; first += BLOCK) {
        uint32_t m = events - first < BLOCK ? (uint32_t)(events - first) : BLOCK;
        gen_fill(g, first, m);
        for (uint32_t j = 0; j < m; j++) pane_loop_add(&l, g->ts[j], g->key[j], g->value[j]);
    }
    pane_loop_finish(&l);
    int64_t t1 = now_ns();
    free(g);
    return (double)(t1 - t0) / NS_PER_S;
}

/* ------------------------------------------------------------- engine side */

/* Sink callback of check runs: folds each row as tally_row does. */
static int fold_rows(const spate_rows *rs, int64_t time_ms, void *ud)
{
    for (size_t i = 0, n = spate_rows_count(rs); i < n; i++) {
        spate_row r;
        ok(spate_rows_get(rs, i, &r), "rows_get");
        tally_row(ud, spate_row_int(&r, OUT_KEY), spate_row_int(&r, OUT_START),
                  spate_row_int(&r, OUT_END), spate_row_int(&r, OUT_COUNT),
                  spate_row_double(&r, OUT_SUM));
    }
    return 0;
}

static spate_ctx *new_ctx(void)
{
    spate_conf *conf = spate_conf_new();
    if (!conf) die("conf", "out of memory");
    ok(spate_conf_set(conf, "workers", "1"), "conf workers");
    ok(spate_conf_set(conf, "batch.interval.ms", "0"), "conf batch.interval.ms");
    spate_ctx *ctx;
    ok(spate_ctx_new(conf, &ctx), "context");
    spate_conf_free(conf);
    return ctx;
}

static spate_stream *open_generator(spate_ctx *ctx, int64_t events)
{
    char count[24], nkeys[24], seed[24], start[24];
    snprintf(count, sizeof count, "%" PRId64, events);
    snprintf(nkeys, sizeof nkeys, "%d", NKEYS);
    snprintf(seed, sizeof seed, "%d", GEN_SEED);
    snprintf(start, sizeof start, "%lld", GEN_START_MS);
    char interval[24];
    snprintf(interval, sizeof interval, "%" PRId64 "us", interval_us);
    const char *opts[] = {"count", count, "keys", nkeys, "seed", seed, "start", start,
                          "interval", interval, NULL};
    spate_stream *s;
    ok(spate_source_open(ctx, "generator", NULL, opts, &s), "generator");
    return s;
}

/* generator -> event time -> key_by(key) -> window COUNT, SUM(value). */
static spate_stream *build_windows(spate_ctx *ctx, const bench_case *c, int64_t events)
{
    static const char *const key[] = {"key"};
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "count", 0},
                                     {SPATE_AGG_SUM, "value", "sum", 0}};
    const spate_event_time et = {.column = "ts"};
    const spate_window_spec w = {.kind = c->kind, .size_ms = c->size_ms, .slide_ms = c->slide_ms};
    spate_stream *timed, *keyed, *win;
    ok(spate_with_event_time(open_generator(ctx, events), &et, &timed), "event time");
    ok(spate_key_by(timed, 1, key, &keyed), "key_by");
    ok(spate_window_aggregate(keyed, &w, 2, aggs, &win), "window_aggregate");
    return win;
}

static double run_engine(const bench_case *c, int64_t events, tally *out)
{
    spate_ctx *ctx = new_ctx();
    spate_stream *win = build_windows(ctx, c, events);
    if (out->check) ok(spate_sink_callback(win, fold_rows, out), "callback sink");
    else ok(spate_sink_open(win, "blackhole", NULL), "blackhole sink");
    int64_t t0 = now_ns();
    ok(spate_ctx_start(ctx), "start");
    if (spate_ctx_await_termination(ctx, -1)) die("job failed", spate_ctx_error(ctx));
    int64_t t1 = now_ns();
    spate_metrics m;
    ok(spate_ctx_metrics(ctx, &m), "metrics");
    if (m.records_in != (uint64_t)events) die(c->name, "the engine read a wrong event count");
    if (!out->check) out->rows = m.records_out;
    spate_ctx_free(ctx);
    return (double)(t1 - t0) / NS_PER_S;
}

/* ------------------------------------------------------------------ driver */

/* Stops the bench unless both sides produce the same windows on a small input. */
static void check_case(const bench_case *c)
{
    tally e = {1, 0, 0, 0}, l = e;
    run_engine(c, CHECK_EVENTS, &e);
    run_loop(c, CHECK_EVENTS, &l);
    double scale = fmax(fabs(e.total), fabs(l.total));
    if (e.rows != l.rows || e.hash != l.hash || fabs(e.total - l.total) > 1e-9 * scale) {
        fprintf(stderr,
                "bench_windows: %s: the loop does not match the engine: rows %" PRIu64
                " (engine %" PRIu64 "), checksum %016" PRIx64 " (engine %016" PRIx64
                "), total %.17g (engine %.17g)\n",
                c->name, l.rows, e.rows, l.hash, e.hash, l.total, e.total);
        exit(1);
    }
}

/* Best of runs for both sides, alternating; returns the engine's best Mev/s. */
static double measure(const bench_case *c, int64_t events, int runs)
{
    double best_e = 0, best_l = 0;
    uint64_t rows = 0;
    for (int r = 0; r < runs; r++) {
        tally e = {0, 0, 0, 0}, l = e;
        double te = run_engine(c, events, &e), tl = run_loop(c, events, &l);
        if (r == 0 || te < best_e) best_e = te;
        if (r == 0 || tl < best_l) best_l = tl;
        rows = l.rows;
    }
    double me = (double)events / best_e / 1e6, ml = (double)events / best_l / 1e6;
    printf("%-9s %11" PRId64 " %11" PRIu64 " %13.2f %11.2f %6.2f\n", c->name, events, rows, me,
           ml, ml / me);
    fflush(stdout);
    return me;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--events N] [--runs K] [--interval-us U]\n"
            "  --events N   input events per run (default %d)\n"
            "  --interval-us U  event-time spacing of events (default 10)\n"
            "  --runs K     runs per side, the best counts (default 3)\n",
            argv0, DEFAULT_EVENTS);
    exit(2);
}

static int64_t arg_int(const char *argv0, const char *s)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || v < 1) usage(argv0);
    return v;
}

int main(int argc, char **argv)
{
    int64_t events = DEFAULT_EVENTS, runs = 3;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--events")) events = arg_int(argv[0], argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = arg_int(argv[0], argv[i + 1]);
        else if (!strcmp(argv[i], "--interval-us")) interval_us = arg_int(argv[0], argv[i + 1]);
        else usage(argv[0]);
    }
    printf("workers = 1, best of %d runs; ratio = loop Mev/s / engine Mev/s\n", (int)runs);
    printf("%-9s %11s %11s %13s %11s %6s\n", "case", "events", "window rows", "engine Mev/s",
           "loop Mev/s", "ratio");
    double mev[2];
    for (int c = 0; c < 2; c++) {
        check_case(&cases[c]);
        mev[c] = measure(&cases[c], events, (int)runs);
    }
    printf("sliding/tumbling (engine time per event): %.2f (target <= 1.5)\n", mev[0] / mev[1]);
    return 0;
}
