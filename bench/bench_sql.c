/*
 * bench_sql.c - events/s of SQL queries beside the same job written with the C API
 * and a hand-written C loop doing the same work.
 *
 * Cases, on the generator source (seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP)
 * and the blackhole sink, continuous style:
 *   filter-project  SELECT key, value * 2 AS v2 FROM gen WHERE value < 50
 *                   C API: spate_filter_batch -> spate_map_batch (what the planner
 *                   builds, with callbacks over column arrays instead of compiled
 *                   expressions); loop: bench_core's filter-map loop (bench.h).
 *   group-by        SELECT key, COUNT(*) AS n, SUM(value) AS s FROM gen GROUP BY key
 *                   (keys = 10000): a changelog, +I the first time a key is seen,
 *                   then -U old row, +U new row for each key an input batch touched.
 *                   C API: spate_key_by(key) -> spate_aggregate_changelog(COUNT, SUM).
 *                   Loop: count and sum per key in an open-addressing table; per
 *                   block of 1024 rows it records each key's old (count, sum) when the
 *                   block first touches it, then writes the block's changelog rows
 *                   (op code, key, n, s) into arrays.
 *   tumble          SELECT key, window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE gen,
 *                   DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY key, window_start,
 *                   window_end, on a source with WATERMARK FOR ts AS ts - INTERVAL '1'
 *                   SECOND (keys = 10000, events 10 us apart: ~10 per key and window).
 *                   C API: spate_with_event_time(ts, 1 s) -> spate_key_by(key) ->
 *                   spate_window_aggregate(TUMBLING 1 s, COUNT, append). Loop: one count
 *                   table per open window; after each block the watermark (largest ts
 *                   - 1 s) fires the windows that end at or before it, writing
 *                   (key, start, count) rows into arrays.
 *
 * What is measured: wall time (CLOCK_MONOTONIC) from spate_ctx_start to the return of
 * spate_ctx_await_termination for both engine sides; parsing, planning
 * (sq_session_exec, sq_session_build_job) and building the C API job are outside.
 * The loop: from spawning its threads to joining them. The three sides alternate run
 * by run and the best of --runs counts. workers = 1 gives per-core figures.
 *
 * Why the loop is the floor (see also bench_core.c): it produces the generator's
 * columns with the generator's arithmetic (bench.h) in blocks of 1024 rows and then
 * does only the query's work: no batches, no operators, no output rows of the
 * engine's format (the changelog's op is a byte, not a string), no sink. With N
 * workers it runs N threads, thread i taking seq i, i+N, ... as generator instance
 * i does; they never exchange rows, so in group-by and tumble each thread aggregates
 * its own share (partial counts per thread) where the engine shuffles every row to
 * the worker owning its key.
 *
 * Before timing, each case runs all three sides on a small input with one worker and
 * compares the output row counts and an order-independent checksum of the output
 * rows (every column, doubles by their bits). The SQL side runs the same query as a
 * bare SELECT printed as CSV into a memory stream (sq_session_opts.out), which is
 * parsed back (the printer writes doubles that read back exactly); the C API side
 * folds its rows in a callback sink. A side that drifts from the others' semantics
 * stops the bench. The timed runs also require SQL and C API to write as many rows
 * where that count does not depend on batch boundaries.
 */
#define BENCH_NAME "bench_sql"
#include "bench.h"

#include "formats/format.h"
#include "sql/sql.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_INSERT = 1, OP_UPDATE_BEFORE, OP_UPDATE_AFTER, OP_DELETE }; /* changelog ops */
enum { MAX_COLS = 4 };

#define WINDOW_US 1000000LL   /* tumble: INTERVAL '1' SECOND */
#define WM_DELAY_US 1000000LL /* tumble: ts - INTERVAL '1' SECOND */

/* --------------------------------------------------------------- the cases */

typedef struct share share;

typedef struct bench_case {
    const char *name;
    int64_t events;      /* default input size */
    int64_t keys;        /* generator key cardinality */
    int64_t interval_us; /* generator ts spacing */
    int64_t check_events;
    int watermark;       /* the source declares WATERMARK FOR ts AS ts - INTERVAL '1' SECOND */
    const char *query;
    spate_stream *(*build)(spate_stream *src); /* the C API job between source and sink */
    void (*loop)(share *s);                    /* the hand-written equivalent */
    const char *out_cols[MAX_COLS + 1];        /* columns checksummed, in this order */
    int per_batch_rows; /* the output row count depends on batch boundaries */
} bench_case;

/* ------------------------------------------------------- hand-written side */

/* One thread's share of the input: seq first, first + step, ... below count. */
struct share {
    const bench_case *c;
    int64_t first, step, count;
    int check;         /* fold every output row into sum */
    uint64_t rows_out; /* output rows */
    uint64_t sum;      /* order-independent checksum of the output rows */
};

/* Rows of the block starting at seq next. */
static uint32_t block_rows(const share *s, int64_t next)
{
    int64_t left = (s->count - next + s->step - 1) / s->step;
    return left < BENCH_BLOCK ? (uint32_t)left : BENCH_BLOCK;
}

static void fill(const share *s, bench_gen_cols *g, int64_t next, uint32_t m)
{
    bench_gen_fill(g, next, s->step, m, (uint64_t)s->c->keys, s->c->interval_us);
    bench_clobber(g);
}

static void fold(share *s, const uint64_t *cells, int n)
{
    s->sum += bench_row_hash(cells, n);
}

/* filter-project */

static void loop_filter_project(share *s)
{
    bench_gen_cols *g = xcalloc(1, sizeof *g);
    bench_proj_cols *p = xcalloc(1, sizeof *p);
    for (int64_t next = s->first; next < s->count; next += (int64_t)BENCH_BLOCK * s->step) {
        uint32_t m = block_rows(s, next);
        fill(s, g, next, m);
        uint32_t n = bench_filter_project(g, p, m);
        bench_clobber(p);
        s->rows_out += n;
        for (uint32_t j = 0; s->check && j < n; j++) {
            uint64_t row[] = {(uint64_t)p->key[j], bench_double_bits(p->v2[j])};
            fold(s, row, 2);
        }
    }
    free(p);
    free(g);
}

/* A table of at least twice `keys` slots, a power of two; returns the mask. */
static uint64_t table_mask(uint64_t keys)
{
    uint64_t cap = 2;
    while (cap < 2 * keys) cap <<= 1;
    return cap - 1;
}

/* group-by: the running (count, sum) of a key and the block that last touched it. */
typedef struct cl_slot {
    int64_t key, count; /* count 0 = empty */
    double sum;
    int64_t block; /* index + 1 of the block that last touched the slot */
} cl_slot;

/* A key the current block touched, with its result before the block. */
typedef struct cl_touched {
    uint32_t slot;
    int64_t count;
    double sum;
} cl_touched;

/* The changelog rows of one block: at most two per touched key. */
typedef struct cl_rows {
    uint8_t op[2 * BENCH_BLOCK];
    int64_t key[2 * BENCH_BLOCK], n[2 * BENCH_BLOCK];
    double s[2 * BENCH_BLOCK];
} cl_rows;

static inline uint32_t cl_put(cl_rows *o, uint32_t r, uint8_t op, int64_t key, int64_t n,
                              double sum)
{
    o->op[r] = op;
    o->key[r] = key;
    o->n[r] = n;
    o->s[r] = sum;
    return r + 1;
}

static void loop_group_by(share *s)
{
    bench_gen_cols *g = xcalloc(1, sizeof *g);
    cl_touched *touched = xcalloc(BENCH_BLOCK, sizeof *touched);
    cl_rows *o = xcalloc(1, sizeof *o);
    uint64_t mask = table_mask((uint64_t)s->c->keys);
    cl_slot *t = xcalloc(mask + 1, sizeof *t);
    int64_t block = 0;
    for (int64_t next = s->first; next < s->count; next += (int64_t)BENCH_BLOCK * s->step) {
        uint32_t m = block_rows(s, next), nt = 0, r = 0;
        fill(s, g, next, m);
        block++;
        for (uint32_t j = 0; j < m; j++) {
            int64_t key = g->key[j];
            uint64_t i = sp_hash_u64(0, (uint64_t)key) & mask;
            while (t[i].count && t[i].key != key) i = (i + 1) & mask;
            cl_slot *e = &t[i];
            if (e->block != block) {
                touched[nt++] = (cl_touched){(uint32_t)i, e->count, e->sum};
                e->block = block;
                e->key = key;
            }
            e->count++;
            e->sum += g->value[j];
        }
        for (uint32_t k = 0; k < nt; k++) {
            const cl_touched *old = &touched[k];
            const cl_slot *e = &t[old->slot];
            if (!old->count) r = cl_put(o, r, OP_INSERT, e->key, e->count, e->sum);
            else {
                r = cl_put(o, r, OP_UPDATE_BEFORE, e->key, old->count, old->sum);
                r = cl_put(o, r, OP_UPDATE_AFTER, e->key, e->count, e->sum);
            }
        }
        bench_clobber(o);
        s->rows_out += r;
        for (uint32_t k = 0; s->check && k < r; k++) {
            uint64_t row[] = {o->op[k], (uint64_t)o->key[k], (uint64_t)o->n[k],
                              bench_double_bits(o->s[k])};
            fold(s, row, 4);
        }
    }
    free(t);
    free(o);
    free(touched);
    free(g);
}

/* tumble: a count per key of one window, with the list of its used slots so that
 * firing and clearing cost what the window used, not the table's capacity. */
typedef struct w_slot {
    int64_t key, count; /* count 0 = empty */
} w_slot;

typedef struct w_table {
    w_slot *slots;
    uint32_t *used;
    uint32_t nused;
} w_table;

typedef struct w_rows {
    int64_t key[BENCH_BLOCK], start[BENCH_BLOCK], n[BENCH_BLOCK];
    uint32_t r;
} w_rows;

static void w_flush(share *s, w_rows *o)
{
    bench_clobber(o);
    s->rows_out += o->r;
    for (uint32_t k = 0; s->check && k < o->r; k++) {
        uint64_t row[] = {(uint64_t)o->key[k], (uint64_t)o->start[k], (uint64_t)o->n[k]};
        fold(s, row, 3);
    }
    o->r = 0;
}

/* Window w is complete: one row per key, then the table is empty again. */
static void w_fire(share *s, w_table *t, int64_t w, w_rows *o)
{
    for (uint32_t u = 0; u < t->nused; u++) {
        w_slot *e = &t->slots[t->used[u]];
        o->key[o->r] = e->key;
        o->start[o->r] = w * WINDOW_US;
        o->n[o->r] = e->count;
        if (++o->r == BENCH_BLOCK) w_flush(s, o);
        *e = (w_slot){0, 0};
    }
    t->nused = 0;
}

static int64_t floor_div(int64_t x, int64_t d)
{
    return x / d - (x % d != 0 && x < 0);
}

static void loop_tumble(share *s)
{
    /* Open windows: from the oldest not fired to the newest seen; the watermark lags
     * the newest ts by the delay, and a block spans BENCH_BLOCK * step events. */
    const int64_t span = WM_DELAY_US + (int64_t)BENCH_BLOCK * s->step * s->c->interval_us;
    const int64_t nring = span / WINDOW_US + 3;
    bench_gen_cols *g = xcalloc(1, sizeof *g);
    w_rows *o = xcalloc(1, sizeof *o);
    uint64_t mask = table_mask((uint64_t)s->c->keys);
    w_table *ring = xcalloc((size_t)nring, sizeof *ring);
    for (int64_t i = 0; i < nring; i++) {
        ring[i].slots = xcalloc(mask + 1, sizeof *ring[i].slots);
        ring[i].used = xcalloc(mask + 1, sizeof *ring[i].used);
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN; /* windows holding events, not fired */
    for (int64_t next = s->first; next < s->count; next += (int64_t)BENCH_BLOCK * s->step) {
        uint32_t m = block_rows(s, next);
        fill(s, g, next, m);
        for (uint32_t j = 0; j < m; j++) {
            int64_t w = floor_div(g->ts[j], WINDOW_US), key = g->key[j];
            if (w < lo) lo = w;
            if (w > hi) hi = w;
            w_table *t = &ring[w % nring];
            uint64_t i = sp_hash_u64(0, (uint64_t)key) & mask;
            while (t->slots[i].count && t->slots[i].key != key) i = (i + 1) & mask;
            w_slot *e = &t->slots[i];
            if (!e->count) {
                e->key = key;
                t->used[t->nused++] = (uint32_t)i;
            }
            e->count++;
        }
        if (hi - lo >= nring) die(s->c->name, "the loop's ring of windows is too small");
        int64_t wm = g->ts[m - 1] - WM_DELAY_US; /* input in ts order */
        for (; lo <= hi && (lo + 1) * WINDOW_US <= wm; lo++) w_fire(s, &ring[lo % nring], lo, o);
    }
    for (; lo <= hi; lo++) w_fire(s, &ring[lo % nring], lo, o); /* end of input */
    w_flush(s, o);
    for (int64_t i = 0; i < nring; i++) {
        free(ring[i].slots);
        free(ring[i].used);
    }
    free(ring);
    free(o);
    free(g);
}

static void *loop_thread(void *arg)
{
    share *s = arg;
    s->c->loop(s);
    return NULL;
}

/* ------------------------------------------------------ what a run yields */

typedef struct run {
    const bench_case *c;
    int64_t events;
    int workers;
    int check;          /* fold every output row */
    uint64_t rows, sum; /* output rows, checksum */
    double secs;
} run;

static int op_code(const char *p, size_t n)
{
    static const char *const ops[] = {"+I", "-U", "+U", "-D"};
    for (int i = 0; i < 4; i++)
        if (n == 2 && !memcmp(p, ops[i], 2)) return OP_INSERT + i;
    die("output", "unknown changelog op");
    return 0;
}

/* ------------------------------------------------------------- C API side */

static spate_stream *build_group_by(spate_stream *src)
{
    static const char *const key[] = {"key"};
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "value", "s", 0}};
    spate_stream *k, *a;
    ok(spate_key_by(src, 1, key, &k), "key_by");
    ok(spate_aggregate_changelog(k, 2, aggs, &a), "aggregate_changelog");
    return a;
}

static spate_stream *build_tumble(spate_stream *src)
{
    static const char *const key[] = {"key"};
    static const spate_agg count = {SPATE_AGG_COUNT, NULL, "n", 0};
    const spate_event_time et = {.column = "ts", .max_delay_ms = WM_DELAY_US / 1000};
    const spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING,
                                 .size_ms = WINDOW_US / 1000,
                                 .output = SPATE_OUTPUT_APPEND};
    spate_stream *timed, *k, *win;
    ok(spate_with_event_time(src, &et, &timed), "event time");
    ok(spate_key_by(timed, 1, key, &k), "key_by");
    ok(spate_window_aggregate(k, &w, 1, &count, &win), "window_aggregate");
    return win;
}

/* Sink callback of check runs: folds the case's output columns of every row. */
static int fold_rows(const spate_rows *rs, int64_t time_ms, void *ud)
{
    (void)time_ms;
    run *j = ud;
    const spate_schema *schema = spate_rows_schema(rs);
    int idx[MAX_COLS], n = 0;
    for (; j->c->out_cols[n]; n++)
        if ((idx[n] = spate_schema_find(schema, j->c->out_cols[n])) < 0)
            die(j->c->name, "a column of the C API job's output is missing");
    for (size_t i = 0, rows = spate_rows_count(rs); i < rows; i++) {
        spate_row r;
        uint64_t cells[MAX_COLS];
        ok(spate_rows_get(rs, i, &r), "rows_get");
        for (int c = 0; c < n; c++) {
            spate_type t = spate_schema_type(schema, idx[c]);
            if (t == SPATE_FLOAT64) cells[c] = bench_double_bits(spate_row_double(&r, idx[c]));
            else if (t == SPATE_STRING) {
                spate_str op = spate_row_str(&r, idx[c]);
                cells[c] = (uint64_t)op_code(op.ptr, op.len);
            } else cells[c] = (uint64_t)spate_row_int(&r, idx[c]);
        }
        j->sum += bench_row_hash(cells, n);
    }
    j->rows += spate_rows_count(rs);
    return 0;
}

static spate_ctx *new_ctx(int workers)
{
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    spate_conf *conf = spate_conf_new();
    if (!conf) die("conf", "out of memory");
    ok(spate_conf_set(conf, "workers", w), "conf workers");
    ok(spate_conf_set(conf, "batch.interval.ms", "0"), "conf batch.interval.ms");
    spate_ctx *ctx;
    ok(spate_ctx_new(conf, &ctx), "context");
    spate_conf_free(conf);
    return ctx;
}

static spate_stream *open_generator(spate_ctx *ctx, const run *j)
{
    char count[24], keys[24], seed[24], start[24], interval[24];
    snprintf(count, sizeof count, "%" PRId64, j->events);
    snprintf(keys, sizeof keys, "%" PRId64, j->c->keys);
    snprintf(seed, sizeof seed, "%d", BENCH_GEN_SEED);
    snprintf(start, sizeof start, "%lld", BENCH_GEN_START_MS);
    snprintf(interval, sizeof interval, "%" PRId64 "us", j->c->interval_us);
    const char *opts[] = {"count", count, "keys", keys, "seed", seed, "start", start,
                          "interval", interval, NULL};
    spate_stream *s;
    ok(spate_source_open(ctx, "generator", NULL, opts, &s), "generator");
    return s;
}

/* Starts ctx, waits for its end; j->secs from start to the end of await. */
static void run_ctx(run *j, spate_ctx *ctx)
{
    int64_t t0 = now_ns();
    ok(spate_ctx_start(ctx), "start");
    if (spate_ctx_await_termination(ctx, -1)) die("job failed", spate_ctx_error(ctx));
    int64_t t1 = now_ns();
    spate_metrics m;
    ok(spate_ctx_metrics(ctx, &m), "metrics");
    if (m.records_in != (uint64_t)j->events) die(j->c->name, "the engine read a wrong event count");
    if (!j->check) j->rows = m.records_out;
    j->secs = (double)(t1 - t0) / NS_PER_S;
}

static void run_c_api(run *j)
{
    spate_ctx *ctx = new_ctx(j->workers);
    spate_stream *out = j->c->build(open_generator(ctx, j));
    if (j->check) ok(spate_sink_callback(out, fold_rows, j), "callback sink");
    else ok(spate_sink_open(out, "blackhole", NULL), "blackhole sink");
    run_ctx(j, ctx);
    spate_ctx_free(ctx);
}

/* ----------------------------------------------------------------- SQL side */

/* The script of a run: the session's options, source, sink and the query, INSERTed
 * into the blackhole, or (check runs) a bare SELECT printed as CSV. */
static char *sql_script(const run *j)
{
    /* The generator's schema is fixed: its four columns, declared as they are. */
    const char *decl = j->c->watermark ? "seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP, "
                                         "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND"
                                       : "seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) die("open_memstream", "out of memory");
    fprintf(f,
            "SET workers = %d;\n"
            "CREATE SOURCE gen (%s) WITH (connector = 'generator', count = '%" PRId64 "',\n"
            "    keys = '%" PRId64 "', seed = '%d', start = '%lld', interval = '%" PRId64 "us');\n"
            "CREATE SINK bh WITH (connector = 'blackhole');\n"
            "%s%s;\n",
            j->workers, decl, j->events, j->c->keys, BENCH_GEN_SEED, BENCH_GEN_START_MS,
            j->c->interval_us, j->check ? "" : "INSERT INTO bh ", j->c->query);
    if (fclose(f)) die("open_memstream", "out of memory");
    return text;
}

/* Folds the CSV rows a check run printed: header, then one line per row; types
 * from the C API job's output schema (the same columns by name). */
static void fold_csv(run *j, char *csv, const spate_schema *types)
{
    char *save, *line = strtok_r(csv, "\n", &save);
    if (!line) die(j->c->name, "the SQL query printed nothing");
    int idx[MAX_COLS], n = 0, ncols = 0;
    char *fields[16];
    for (char *p = line, *q; p && ncols < 16; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = 0;
        fields[ncols++] = p;
    }
    for (; j->c->out_cols[n]; n++) {
        idx[n] = -1;
        for (int c = 0; c < ncols; c++)
            if (!strcmp(fields[c], j->c->out_cols[n])) idx[n] = c;
        if (idx[n] < 0) die(j->c->name, "a column of the SQL query's output is missing");
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        int nf = 0;
        for (char *p = line, *q; p && nf < 16; p = q) {
            q = strchr(p, ',');
            if (q) *q++ = 0;
            fields[nf++] = p;
        }
        if (nf != ncols) die(j->c->name, "a CSV row of the SQL query has a wrong field count");
        uint64_t cells[MAX_COLS];
        for (int c = 0; c < n; c++) {
            const char *v = fields[idx[c]];
            spate_type t = spate_schema_type(types, spate_schema_find(types, j->c->out_cols[c]));
            if (!*v) die(j->c->name, "a NULL in the SQL query's output");
            int64_t us;
            if (t == SPATE_STRING) cells[c] = (uint64_t)op_code(v, strlen(v));
            else if (t == SPATE_TIMESTAMP) {
                ok(sp_ts_parse(v, strlen(v), &us), "timestamp in the SQL output");
                cells[c] = (uint64_t)us;
            } else {
                char *end;
                cells[c] = t == SPATE_FLOAT64 ? bench_double_bits(strtod(v, &end))
                                              : (uint64_t)strtoll(v, &end, 10);
                if (*end) die(j->c->name, "an unreadable number in the SQL query's output");
            }
        }
        j->sum += bench_row_hash(cells, n);
        j->rows++;
    }
}

/* Runs j's query through a SQL session as `spate run --once` would; check runs
 * fold the printed rows (types: the C API job's output schema). */
static void run_sql(run *j, const spate_schema *types)
{
    char *csv = NULL;
    size_t csv_len = 0;
    sq_session_opts o = {.once = 1, .format = SQ_FMT_CSV, .err = stderr, .source_name = BENCH_NAME};
    o.out = j->check ? open_memstream(&csv, &csv_len) : stdout;
    if (!o.out) die("open_memstream", "out of memory");
    sq_session *s;
    if (sq_session_new(&o, &s)) die("sql", "out of memory");
    char *text = sql_script(j);
    if (sq_session_exec(s, text, strlen(text))) die(j->c->name, "the SQL script failed");
    spate_ctx *ctx;
    if (sq_session_build_job(s, &ctx)) die(j->c->name, "building the SQL job failed");
    run_ctx(j, ctx);
    spate_ctx_free(ctx);
    sq_session_job_done(s);
    sq_session_free(s);
    free(text);
    if (j->check) {
        if (fclose(o.out)) die("open_memstream", "out of memory");
        fold_csv(j, csv, types);
        free(csv);
    }
}

/* ---------------------------------------------------------------- the loop */

static void run_loop(run *j)
{
    share *shares = xcalloc((size_t)j->workers, sizeof *shares);
    pthread_t *tids = xcalloc((size_t)j->workers, sizeof *tids);
    int64_t t0 = now_ns();
    for (int i = 0; i < j->workers; i++) {
        shares[i] = (share){j->c, i, j->workers, j->events, j->check, 0, 0};
        if (pthread_create(&tids[i], NULL, loop_thread, &shares[i])) die("thread", "spawn");
    }
    j->rows = j->sum = 0;
    for (int i = 0; i < j->workers; i++) {
        pthread_join(tids[i], NULL);
        j->rows += shares[i].rows_out;
        j->sum += shares[i].sum;
    }
    int64_t t1 = now_ns();
    free(tids);
    free(shares);
    j->secs = (double)(t1 - t0) / NS_PER_S;
}

/* ------------------------------------------------------------------ driver */

static const bench_case cases[] = {
    {"filter-project", 50000000, 1000, 1000, 100000, 0,
     "SELECT key, value * 2 AS v2 FROM gen WHERE value < 50", bench_build_filter_project,
     loop_filter_project, {"key", "v2", NULL}, 0},
    {"group-by", 20000000, 10000, 1000, 100000, 0,
     "SELECT key, COUNT(*) AS n, SUM(value) AS s FROM gen GROUP BY key", build_group_by,
     loop_group_by, {"op", "key", "n", "s", NULL}, 1},
    {"tumble", 20000000, 10000, 10, 500000, 1,
     "SELECT key, window_start, COUNT(*) AS n "
     "FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
     "GROUP BY key, window_start, window_end",
     build_tumble, loop_tumble, {"key", "window_start", "n", NULL}, 0},
};

/* Stops the bench unless SQL, C API and loop write the same rows on a small input. */
static void check_case(const bench_case *c)
{
    run a = {c, c->check_events, 1, 1, 0, 0, 0}, q = a, l = a;
    run_c_api(&a);
    /* The C API job's output types say how to read the SQL query's CSV. */
    spate_ctx *ctx = new_ctx(1);
    const spate_schema *types = spate_stream_schema(c->build(open_generator(ctx, &a)));
    run_sql(&q, types);
    spate_ctx_free(ctx);
    run_loop(&l);
    if (a.rows != l.rows || a.sum != l.sum || q.rows != l.rows || q.sum != l.sum) {
        fprintf(stderr,
                "bench_sql: %s: the sides disagree on %" PRId64 " events: rows SQL %" PRIu64
                ", C API %" PRIu64 ", loop %" PRIu64 "; checksum SQL %016" PRIx64
                ", C API %016" PRIx64 ", loop %016" PRIx64 "\n",
                c->name, c->check_events, q.rows, a.rows, l.rows, q.sum, a.sum, l.sum);
        exit(1);
    }
    fprintf(stderr,
            "bench_sql: %s: checked on %" PRId64 " events: SQL, C API and loop agree on %" PRIu64
            " rows (checksum %016" PRIx64 ")\n",
            c->name, c->check_events, l.rows, l.sum);
}

static double mev_per_s(int64_t events, double secs)
{
    return (double)events / secs / 1e6;
}

/* Best of runs for the three sides, alternating them so load changes hit all alike. */
static void measure(const bench_case *c, int64_t events, int workers, int runs)
{
    double best[3] = {0, 0, 0};
    uint64_t rows = 0;
    for (int r = 0; r < runs; r++) {
        run q = {c, events, workers, 0, 0, 0, 0}, a = q, l = q;
        run_sql(&q, NULL);
        run_c_api(&a);
        run_loop(&l);
        if (q.rows != a.rows && (workers == 1 || !c->per_batch_rows))
            die(c->name, "SQL and C API jobs wrote different row counts");
        const run *sides[] = {&q, &a, &l};
        for (int s = 0; s < 3; s++)
            if (r == 0 || sides[s]->secs < best[s]) best[s] = sides[s]->secs;
        rows = q.rows;
    }
    double sql = mev_per_s(events, best[0]), api = mev_per_s(events, best[1]),
           loop = mev_per_s(events, best[2]);
    printf("%-14s %7d %10" PRId64 " %6.2f %9.2f %9.2f %9.2f %8.2f %9.2f\n", c->name, workers,
           events, (double)rows / (double)events, sql, api, loop, loop / sql, api / sql);
    fflush(stdout);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--events N] [--workers N] [--case NAME] [--runs K]\n"
            "  --events N   input events per run (default: per case, see docs/bench.md)\n"
            "  --workers N  also measure with N workers (workers = 1 is always measured)\n"
            "  --case NAME  filter-project | group-by | tumble (default: all)\n"
            "  --runs K     runs per side, the best counts (default 3)\n",
            argv0);
    exit(2);
}

static int64_t arg_int(const char *argv0, const char *s, int64_t min)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || v < min) usage(argv0);
    return v;
}

int main(int argc, char **argv)
{
    int64_t events = 0;
    int workers = 1, runs = 3;
    const char *only = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--events")) events = arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--workers")) workers = (int)arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--runs")) runs = (int)arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--case") && v) only = v;
        else usage(argv[0]);
    }
    int known = !only;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        known |= only && !strcmp(only, cases[i].name);
    if (!known) usage(argv[0]);
    printf("best of %d runs; Mev/s = millions of input events per second; out/ev = rows the\n"
           "SQL job wrote per input event; x loop, x C API = SQL time / that side's time\n",
           runs);
    printf("%-14s %7s %10s %6s %9s %9s %9s %8s %9s\n", "case", "workers", "events", "out/ev",
           "SQL", "C API", "loop", "x loop", "x C API");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bench_case *c = &cases[i];
        if (only && strcmp(only, c->name)) continue;
        check_case(c);
        int64_t n = events ? events : c->events;
        measure(c, n, 1, runs);
        if (workers > 1) measure(c, n, workers, runs);
    }
    return 0;
}
