/*
 * test_engine.c - the runtime itself, with small operator classes defined here:
 * a counting source, a keyed per-epoch counter and a collecting output. They
 * exercise placement, forward fusion, hash exchange across workers, marker
 * alignment, backpressure through tiny queues, graceful stop, abort and
 * failure propagation without depending on the real operators.
 */
#include "core/clock.h"
#include "runtime/worker.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- a source emitting rows (k, v) with k = i % nkeys, v = i, for i < count */

typedef struct gen_cfg {
    int64_t count;     /* -1 = unbounded */
    int nkeys;
    int fail_at;       /* poll returns an error once this many rows were made (0 = never) */
} gen_cfg;

typedef struct gen_st {
    int64_t next;
} gen_st;

static int gen_open(sp_op *op)
{
    op->st = calloc(1, sizeof(gen_st));
    ((gen_st *)op->st)->next = op->instance;
    return op->st ? 0 : SPATE_ENOMEM;
}

static int gen_poll(sp_op *op, int *eof)
{
    gen_cfg *c = op->node->cfg;
    gen_st *st = op->st;
    int W = op->node->single ? 1 : sp_ctx_workers(op->node->ctx);
    if (c->fail_at && st->next >= c->fail_at) return sp_op_fail(op, SPATE_EIO, "gen: injected");
    sp_batch *b = sp_op_batch(op, NULL);
    while (b->n < b->cap && (c->count < 0 || st->next < c->count)) {
        SP_I64(&b->cols[0])[b->n] = st->next % c->nkeys;
        SP_I64(&b->cols[1])[b->n] = st->next;
        b->n++;
        st->next += W;
    }
    if (c->count >= 0 && st->next >= c->count) *eof = 1;
    return sp_op_emit(op, b);
}

static void gen_close(sp_op *op)
{
    free(op->st);
}

static void free_cfg(void *p)
{
    free(p);
}

static const sp_op_class gen_class = {.name = "gen", .open = gen_open, .poll = gen_poll,
                                      .close = gen_close, .cfg_free = free_cfg};

static spate_stream *add_gen(spate_ctx *ctx, int64_t count, int nkeys, int single, int fail_at)
{
    gen_cfg *c = calloc(1, sizeof *c);
    c->count = count;
    c->nkeys = nkeys;
    c->fail_at = fail_at;
    spate_schema *s;
    spate_schema_parse("k BIGINT, v BIGINT", &s);
    spate_stream *out = NULL;
    CHECK(sp_node_add(ctx, &gen_class, c, s, 1, 0, NULL, NULL, single, &out) == 0);
    return out;
}

/* ---- keyed counter: per epoch (or at the end) emits (k, count, sum) per key.
 * Keys are small integers, so an array indexed by key is the state. */

enum { MAXK = 4096 };

typedef struct cnt_st {
    int64_t n[MAXK], sum[MAXK];
    int wrong_worker; /* rows whose key group another worker owns */
} cnt_st;

static int cnt_open(sp_op *op)
{
    op->st = calloc(1, sizeof(cnt_st));
    return op->st ? 0 : SPATE_ENOMEM;
}

static int cnt_push(sp_op *op, int port, sp_batch *b)
{
    cnt_st *st = op->st;
    spate_ctx *ctx = op->node->ctx;
    for (uint32_t i = 0; i < sp_batch_count(b); i++) {
        uint32_t r = sp_batch_phys(b, i);
        int64_t k = SP_I64(&b->cols[0])[r];
        int kg = sp_key_group(sp_row_key_hash(b, r, 1), sp_ctx_key_groups(ctx));
        if (sp_key_group_owner(kg, sp_ctx_key_groups(ctx), sp_ctx_workers(ctx)) != op->instance)
            st->wrong_worker++;
        st->n[k]++;
        st->sum[k] += SP_I64(&b->cols[1])[r];
    }
    sp_op_release(op, b);
    return 0;
}

static int cnt_flush(sp_op *op)
{
    cnt_st *st = op->st;
    sp_batch *b = sp_op_batch(op, NULL);
    for (int k = 0; k < MAXK; k++) {
        if (!st->n[k]) continue;
        if (b->n == b->cap) {
            int rc = sp_op_emit(op, b);
            if (rc) return rc;
            b = sp_op_batch(op, NULL);
        }
        SP_I64(&b->cols[0])[b->n] = k;
        SP_I64(&b->cols[1])[b->n] = st->n[k];
        SP_I64(&b->cols[2])[b->n] = st->sum[k] + (st->wrong_worker ? 1000000000 : 0);
        b->n++;
        st->n[k] = st->sum[k] = 0;
    }
    return sp_op_emit(op, b);
}

static int cnt_epoch(sp_op *op, int64_t t)
{
    return cnt_flush(op);
}

static const sp_op_class cnt_class = {.name = "cnt", .open = cnt_open, .push = cnt_push,
                                      .epoch = cnt_epoch, .finish = cnt_flush,
                                      .close = gen_close};

/* ---- collector: keeps (k, n, sum) totals and counts epochs, on one instance */

typedef struct coll {
    int64_t n[MAXK], sum[MAXK];
    int64_t rows, epochs, last_epoch_time;
    int epoch_order_ok;
    int finished;
} coll;

static int coll_push(sp_op *op, int port, sp_batch *b)
{
    coll *c = op->node->cfg;
    for (uint32_t i = 0; i < sp_batch_count(b); i++) {
        uint32_t r = sp_batch_phys(b, i);
        int64_t k = SP_I64(&b->cols[0])[r];
        c->n[k] += b->ncols > 2 ? SP_I64(&b->cols[1])[r] : 1;
        c->sum[k] += b->ncols > 2 ? SP_I64(&b->cols[2])[r] : SP_I64(&b->cols[1])[r];
        c->rows++;
    }
    sp_op_release(op, b);
    return 0;
}

static int coll_epoch(sp_op *op, int64_t t)
{
    coll *c = op->node->cfg;
    if (t <= c->last_epoch_time) c->epoch_order_ok = 0;
    c->last_epoch_time = t;
    c->epochs++;
    return 0;
}

static int coll_finish(sp_op *op)
{
    ((coll *)op->node->cfg)->finished = 1;
    return 0;
}

static const sp_op_class coll_class = {.name = "coll", .push = coll_push, .epoch = coll_epoch,
                                       .finish = coll_finish};

static coll *add_coll(spate_ctx *ctx, spate_stream *in)
{
    coll *c = calloc(1, sizeof *c);
    c->epoch_order_ok = 1;
    spate_stream *out;
    sp_exchange ex = SP_EX_GATHER;
    CHECK(sp_node_add(ctx, &coll_class, c, NULL, 0, 1, &in, &ex, 1, &out) == 0);
    return c;
}

static spate_stream *add_cnt(spate_ctx *ctx, spate_stream *in)
{
    spate_schema *s;
    spate_schema_parse("k BIGINT, n BIGINT, sum BIGINT", &s);
    spate_stream *out = NULL;
    sp_exchange ex = SP_EX_HASH;
    CHECK(sp_node_add(ctx, &cnt_class, NULL, s, 1, 1, &in, &ex, 0, &out) == 0);
    return out;
}

static spate_ctx *make_ctx(const char *workers, const char *interval, const char *queue)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_conf_set(conf, "batch.interval.ms", interval);
    spate_conf_set(conf, "queue.capacity", queue);
    spate_ctx *ctx = NULL;
    CHECK(spate_ctx_new(conf, &ctx) == 0);
    spate_conf_free(conf);
    return ctx;
}

/* Every key's count and sum equal the closed forms for rows i < count. */
static void check_totals(const coll *c, int64_t count, int nkeys)
{
    int bad = 0;
    for (int k = 0; k < nkeys; k++) {
        int64_t n = 0, sum = 0;
        for (int64_t i = k; i < count; i += nkeys) {
            n++;
            sum += i;
        }
        if (c->n[k] != n || c->sum[k] != sum) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void run_keyed(const char *workers, const char *interval, const char *queue, int single)
{
    spate_ctx *ctx = make_ctx(workers, interval, queue);
    spate_stream *g = add_gen(ctx, 200000, 1000, single, 0);
    coll *c = add_coll(ctx, add_cnt(ctx, g));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    CHECK(c->finished);
    check_totals(c, 200000, 1000);
    CHECK(c->epoch_order_ok);
    spate_metrics m;
    spate_ctx_metrics(ctx, &m);
    spate_ctx_free(ctx);
    free(c);
}

static void engine_keyed_one_worker(void)
{
    run_keyed("1", "0", "64", 0);
}

static void engine_keyed_four_workers_tiny_queues(void)
{
    run_keyed("4", "0", "2", 0);
}

static void engine_keyed_single_source_many_workers(void)
{
    run_keyed("3", "0", "4", 1);
}

static void engine_keyed_microbatch(void)
{
    run_keyed("2", "5", "4", 0);
}

/* Per-epoch flushes: with a micro-batch interval, the collector sees EPOCH
 * markers in increasing time order, once per batch, after all workers' data. */
static void engine_epochs_in_order(void)
{
    spate_ctx *ctx = make_ctx("2", "10", "8");
    spate_stream *g = add_gen(ctx, -1, 10, 0, 0);
    coll *c = add_coll(ctx, add_cnt(ctx, g));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 300), SPATE_ETIMEDOUT);
    REQUIRE_OK(spate_ctx_stop(ctx, 1));
    CHECK(c->finished);
    CHECK(c->epochs >= 5);
    CHECK(c->epoch_order_ok);
    CHECK(c->rows > 0);
    spate_ctx_free(ctx);
    free(c);
}

/* A graceful stop of an unbounded job drains what is in flight: every row the
 * sources produced reaches the collector. */
static void engine_graceful_stop_drains(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "2");
    spate_stream *g = add_gen(ctx, -1, 100, 0, 0);
    coll *c = add_coll(ctx, add_cnt(ctx, g));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 200), SPATE_ETIMEDOUT);
    REQUIRE_OK(spate_ctx_stop(ctx, 1));
    spate_metrics m;
    spate_ctx_metrics(ctx, &m);
    int64_t total = 0;
    for (int k = 0; k < 100; k++) total += c->n[k];
    int64_t made = ((gen_st *)g->inst[0]->st)->next / 2 + ((gen_st *)g->inst[1]->st)->next / 2;
    CHECK(total > 0);
    CHECK(total >= made - 2 && total <= made + 2);
    CHECK(c->finished);
    spate_ctx_free(ctx);
    free(c);
}

static void engine_abort_stops_fast(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "2");
    spate_stream *g = add_gen(ctx, -1, 100, 0, 0);
    coll *c = add_coll(ctx, add_cnt(ctx, g));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_stop(ctx, 0));
    CHECK(!c->finished);
    spate_ctx_free(ctx);
    free(c);
}

static void engine_failure_propagates(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "4");
    spate_stream *g = add_gen(ctx, -1, 100, 0, 5000);
    coll *c = add_coll(ctx, add_cnt(ctx, g));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), SPATE_EIO);
    CHECK(strstr(spate_ctx_error(ctx), "injected") != NULL);
    spate_ctx_free(ctx);
    free(c);
}

static void engine_free_while_running(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "4");
    coll *c = add_coll(ctx, add_cnt(ctx, add_gen(ctx, -1, 100, 0, 0)));
    REQUIRE_OK(spate_ctx_start(ctx));
    spate_ctx_free(ctx);
    free(c);
}

static void engine_build_errors(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "4");
    CHECK_EQ_INT(spate_ctx_start(ctx), SPATE_ESTATE); /* no output */
    CHECK(strstr(spate_last_error(), "no output") != NULL);
    coll *c = add_coll(ctx, add_gen(ctx, 10, 1, 0, 0));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_start(ctx), SPATE_ESTATE);
    spate_stream *late = NULL;
    CHECK_EQ_INT(sp_node_add(ctx, &cnt_class, NULL, NULL, 0, 0, NULL, NULL, 0, &late), SPATE_ESTATE);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 30000));
    CHECK_EQ_INT(c->rows, 10);
    spate_ctx_free(ctx);
    free(c);
    spate_conf *conf = spate_conf_new();
    CHECK_EQ_INT(spate_conf_set(conf, "worker", "2"), SPATE_ENOTFOUND);
    CHECK(strstr(spate_last_error(), "valid keys") != NULL);
    CHECK_EQ_INT(spate_conf_set(conf, "workers", "zero"), SPATE_EINVAL);
    CHECK_EQ_INT(spate_conf_set(conf, "bad_records.policy", "ignore"), SPATE_EINVAL);
    spate_conf_free(conf);
}

/* Two sources into one keyed counter: union at the exchange, END from both. */
static void engine_two_sources(void)
{
    spate_ctx *ctx = make_ctx("2", "3", "4");
    spate_stream *a = add_gen(ctx, 50000, 100, 0, 0);
    spate_stream *b = add_gen(ctx, 50000, 100, 1, 0);
    spate_schema *s;
    spate_schema_parse("k BIGINT, n BIGINT, sum BIGINT", &s);
    spate_stream *in[2] = {a, b}, *cnt;
    sp_exchange ex[2] = {SP_EX_HASH, SP_EX_HASH};
    REQUIRE_OK(sp_node_add(ctx, &cnt_class, NULL, s, 1, 2, in, ex, 0, &cnt));
    coll *c = add_coll(ctx, cnt);
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    coll twice = {0};
    for (int k = 0; k < 100; k++) {
        twice.n[k] = c->n[k] / 2;
        twice.sum[k] = c->sum[k] / 2;
    }
    check_totals(&twice, 50000, 100);
    CHECK(c->epoch_order_ok);
    spate_ctx_free(ctx);
    free(c);
}

/* ---- backpressure: a slow output must hold the sources back. */

static atomic_llong produced, consumed;

static int counting_poll(sp_op *op, int *eof)
{
    sp_batch *b = sp_op_batch(op, NULL);
    for (; b->n < b->cap; b->n++) {
        SP_I64(&b->cols[0])[b->n] = b->n;
        SP_I64(&b->cols[1])[b->n] = 1;
    }
    atomic_fetch_add(&produced, b->n);
    return sp_op_emit(op, b);
}

static int slow_push(sp_op *op, int port, sp_batch *b)
{
    atomic_fetch_add(&consumed, sp_batch_count(b));
    sp_sleep_ns(2000000);
    sp_op_release(op, b);
    return 0;
}

static const sp_op_class counting_class = {.name = "counting", .poll = counting_poll};
static const sp_op_class slow_class = {.name = "slow", .push = slow_push};

static void engine_backpressure_bounds_inflight(void)
{
    spate_ctx *ctx = make_ctx("2", "0", "2");
    spate_schema *s;
    spate_schema_parse("k BIGINT, v BIGINT", &s);
    spate_stream *src, *hashed, *out;
    REQUIRE_OK(sp_node_add(ctx, &counting_class, NULL, s, 1, 0, NULL, NULL, 0, &src));
    spate_schema_parse("k BIGINT, v BIGINT", &s);
    sp_exchange ex = SP_EX_HASH;
    REQUIRE_OK(sp_node_add(ctx, &slow_class, NULL, s, 1, 1, &src, &ex, 0, &hashed));
    ex = SP_EX_GATHER;
    REQUIRE_OK(sp_node_add(ctx, &coll_class, NULL, NULL, 0, 1, &hashed, &ex, 1, &out));
    REQUIRE_OK(spate_ctx_start(ctx));
    sp_sleep_ns(400000000);
    long long p = atomic_load(&produced), c = atomic_load(&consumed);
    /* In flight at most: 2x2 rings of 2 batches, plus the batch each producer holds
     * while it waits. Without backpressure the sources would be millions ahead. */
    CHECK(c > 0);
    CHECK(p - c <= 12 * 1024);
    REQUIRE_OK(spate_ctx_stop(ctx, 0));
    spate_ctx_free(ctx);
}

static int keep_all(const spate_row *r, void *ud)
{
    return 1;
}

static int copy_row(const spate_row *in, spate_out *o, void *ud)
{
    return spate_out_set_from(o, 0, in, 0);
}

static int sum_rows(const spate_row *a, const spate_row *b, spate_out *o, void *ud)
{
    return spate_out_set_int(o, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
}

/* Every builder refuses to change a started job, and frees what it allocated
 * (the sanitizer build checks the ownership paths). */
static void engine_builders_after_start(void)
{
    spate_ctx *ctx = make_ctx("2", "10", "8");
    spate_stream *g, *k, *k2;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL,
                                 (const char *[]){"count", "-1", NULL}, &g));
    const char *key[] = {"key"};
    REQUIRE_OK(spate_key_by(g, 1, key, &k));
    REQUIRE_OK(spate_key_by(g, 1, key, &k2));
    REQUIRE_OK(spate_sink_open(k, "blackhole", NULL));
    REQUIRE_OK(spate_ctx_start(ctx));
    spate_stream *o = NULL;
    spate_schema *one;
    spate_schema_parse("seq BIGINT", &one);
    spate_agg cnt = {SPATE_AGG_COUNT, NULL, "n", 0};
    CHECK_EQ_INT(spate_map(g, one, copy_row, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_filter(g, keep_all, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_key_by(g, 1, key, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_reduce_by_key(k, sum_rows, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_reduce(g, sum_rows, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_aggregate_by_key(k, 1, &cnt, 0, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_join(k, k2, SPATE_JOIN_INNER, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_group_by_key(k, NULL, NULL, NULL, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_union(g, g, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_glom(g, &o), SPATE_ESTATE);
    CHECK_EQ_INT(spate_stream_print(g, 3), SPATE_ESTATE);
    CHECK_EQ_INT(spate_sink_open(g, "console", NULL), SPATE_ESTATE);
    CHECK_EQ_INT(spate_source_open(ctx, "generator", NULL, NULL, &o), SPATE_ESTATE);
    CHECK(o == NULL);
    spate_schema_free(one);
    REQUIRE_OK(spate_ctx_stop(ctx, 1));
    spate_ctx_free(ctx);
}

const sp_test tests_engine[] = {{"engine_builders_after_start", engine_builders_after_start},
                                {"engine_backpressure_bounds_inflight",
                                 engine_backpressure_bounds_inflight},
                                {"engine_keyed_one_worker", engine_keyed_one_worker},
                                {"engine_keyed_four_workers_tiny_queues",
                                 engine_keyed_four_workers_tiny_queues},
                                {"engine_keyed_single_source_many_workers",
                                 engine_keyed_single_source_many_workers},
                                {"engine_keyed_microbatch", engine_keyed_microbatch},
                                {"engine_epochs_in_order", engine_epochs_in_order},
                                {"engine_graceful_stop_drains", engine_graceful_stop_drains},
                                {"engine_abort_stops_fast", engine_abort_stops_fast},
                                {"engine_failure_propagates", engine_failure_propagates},
                                {"engine_free_while_running", engine_free_while_running},
                                {"engine_build_errors", engine_build_errors},
                                {"engine_two_sources", engine_two_sources},
                                {NULL, NULL}};
