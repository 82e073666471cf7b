/*
 * test_checkpoint_rt.c - the checkpoint coordinator with private operators: a
 * replayable counting source, a keyed summing operator whose state lives in
 * key groups, and a collector. A child process is killed (SIGKILL) mid-run,
 * then the job restarts from the newest complete checkpoint: the totals must be
 * exactly those of a run that was never killed.
 */
#include "checkpoint/serde.h"
#include "runtime/worker.h"
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NKEYS = 64, PER_POLL = 100 };

typedef struct src_cfg {
    int64_t count;
    int slow; /* sleep 1 ms per poll, so a kill lands mid-run */
} src_cfg;

typedef struct src_st {
    int64_t next;
} src_st;

static int src_open(sp_op *op)
{
    op->st = calloc(1, sizeof(src_st));
    return op->st ? 0 : SPATE_ENOMEM;
}

static int src_poll(sp_op *op, int *eof)
{
    const src_cfg *c = op->node->cfg;
    src_st *st = op->st;
    if (c->slow) usleep(1000);
    sp_batch *b = sp_op_batch(op, NULL);
    for (int i = 0; i < PER_POLL && st->next < c->count; i++, st->next++) {
        SP_I64(&b->cols[0])[b->n] = st->next % NKEYS;
        SP_I64(&b->cols[1])[b->n] = st->next;
        b->n++;
    }
    if (st->next >= c->count) *eof = 1;
    return sp_op_emit(op, b);
}

static int src_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    sp_w_i64(sp_state_instance(s), ((src_st *)op->st)->next);
    return 0;
}

static int src_restore(sp_op *op, sp_state_in *s)
{
    sp_rbuf r;
    if (sp_state_instance_in(s, &r)) ((src_st *)op->st)->next = sp_r_i64(&r);
    return r.err;
}

static void free_cfg(void *p)
{
    free(p);
}

static void free_st(sp_op *op)
{
    free(op->st);
}

static const sp_op_class src_class = {.name = "counting source",
                                      .open = src_open,
                                      .poll = src_poll,
                                      .snapshot = src_snapshot,
                                      .restore = src_restore,
                                      .close = free_st,
                                      .cfg_free = free_cfg};

/* ---- keyed sums, state per key group */

typedef struct sum_st {
    int64_t sum[NKEYS], n[NKEYS];
} sum_st;

static int sum_open(sp_op *op)
{
    op->st = calloc(1, sizeof(sum_st));
    return op->st ? 0 : SPATE_ENOMEM;
}

static int sum_push(sp_op *op, int port, sp_batch *b)
{
    sum_st *st = op->st;
    for (uint32_t i = 0; i < sp_batch_count(b); i++) {
        uint32_t r = sp_batch_phys(b, i);
        int64_t k = SP_I64(&b->cols[0])[r];
        st->sum[k] += SP_I64(&b->cols[1])[r];
        st->n[k]++;
    }
    sp_op_release(op, b);
    return 0;
}

static int key_group_of(const sp_op *op, int64_t k)
{
    sp_batch one = {0};
    sp_vec v = {.type = SPATE_INT64, .data = &k};
    one.cols = &v;
    one.ncols = 1;
    return sp_key_group(sp_row_key_hash(&one, 0, 1), sp_ctx_key_groups(op->node->ctx));
}

static int sum_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    sum_st *st = op->st;
    for (int64_t k = 0; k < NKEYS; k++) {
        if (!st->n[k]) continue;
        sp_wbuf *w = sp_state_group(s, key_group_of(op, k));
        sp_w_i64(w, k);
        sp_w_i64(w, st->sum[k]);
        sp_w_i64(w, st->n[k]);
    }
    return 0;
}

static int sum_restore(sp_op *op, sp_state_in *s)
{
    sum_st *st = op->st;
    int g;
    sp_rbuf r;
    while (sp_state_next_group(s, &g, &r)) {
        while (!r.err && r.pos < r.len) {
            int64_t k = sp_r_i64(&r), sum = sp_r_i64(&r), n = sp_r_i64(&r);
            if (k < 0 || k >= NKEYS || key_group_of(op, k) != g) return SPATE_EPARSE;
            st->sum[k] = sum;
            st->n[k] = n;
        }
        if (r.err) return r.err;
    }
    return 0;
}

/* At the end: one row per key with its totals. */
static int sum_finish(sp_op *op)
{
    sum_st *st = op->st;
    sp_batch *b = sp_op_batch(op, NULL);
    for (int64_t k = 0; k < NKEYS; k++) {
        if (!st->n[k]) continue;
        SP_I64(&b->cols[0])[b->n] = k;
        SP_I64(&b->cols[1])[b->n] = st->sum[k];
        SP_I64(&b->cols[2])[b->n] = st->n[k];
        b->n++;
    }
    return sp_op_emit(op, b);
}

static const sp_op_class sum_class = {.name = "keyed sums",
                                      .open = sum_open,
                                      .push = sum_push,
                                      .finish = sum_finish,
                                      .snapshot = sum_snapshot,
                                      .restore = sum_restore,
                                      .close = free_st};

/* ---- collector: writes the totals to a file (the crash child's only output) */

static int out_push(sp_op *op, int port, sp_batch *b)
{
    FILE *f = fopen((const char *)op->node->cfg, "a");
    for (uint32_t i = 0; f && i < sp_batch_count(b); i++) {
        uint32_t r = sp_batch_phys(b, i);
        fprintf(f, "%lld %lld %lld\n", (long long)SP_I64(&b->cols[0])[r],
                (long long)SP_I64(&b->cols[1])[r], (long long)SP_I64(&b->cols[2])[r]);
    }
    if (f) fclose(f);
    sp_op_release(op, b);
    return 0;
}

static const sp_op_class out_class = {
    .name = "totals file", .push = out_push, .stateless = 1, .cfg_free = free_cfg};

static spate_ctx *build(const char *workers, const char *dir, int64_t count, int slow,
                        const char *out_path)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", workers);
    spate_conf_set(conf, "batch.interval.ms", "5");
    spate_conf_set(conf, "checkpoint.interval.ms", "20");
    spate_conf_set(conf, "checkpoint.dir", dir);
    spate_ctx *ctx = NULL;
    spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    src_cfg *c = calloc(1, sizeof *c);
    c->count = count;
    c->slow = slow;
    spate_schema *s;
    spate_schema_parse("k BIGINT, v BIGINT", &s);
    spate_stream *src, *sums, *out;
    CHECK(sp_node_add(ctx, &src_class, c, s, 1, 0, NULL, NULL, 1, &src) == 0);
    spate_schema_parse("k BIGINT, sum BIGINT, n BIGINT", &s);
    sp_exchange ex = SP_EX_HASH;
    CHECK(sp_node_add(ctx, &sum_class, NULL, s, 1, 1, &src, &ex, 0, &sums) == 0);
    ex = SP_EX_GATHER;
    CHECK(sp_node_add(ctx, &out_class, strdup(out_path), NULL, 0, 1, &sums, &ex, 1, &out) == 0);
    return ctx;
}

/* The totals file holds, per key, sum of v and count for v < count, v % NKEYS = k. */
static void check_totals(const char *path, int64_t count)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    int64_t seen = 0, bad = 0;
    long long k, sum, n;
    while (fscanf(f, "%lld %lld %lld", &k, &sum, &n) == 3) {
        int64_t want_sum = 0, want_n = 0;
        for (int64_t v = k; v < count; v += NKEYS) {
            want_sum += v;
            want_n++;
        }
        bad += sum != want_sum || n != want_n;
        seen++;
    }
    fclose(f);
    CHECK_EQ_INT(seen, NKEYS);
    CHECK_EQ_INT(bad, 0);
}

static int count_checkpoints(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "chk-", 4) == 0 && !strstr(e->d_name, ".tmp");
    if (d) closedir(d);
    return n;
}

static void make_paths(char *dir, char *out)
{
    strcpy(dir, "/tmp/spate-ckrt-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(out, 300, "%s.totals", dir);
    unlink(out);
}

/* Runs to the end: checkpoints are written, the final one completes. */
static void ckpt_rt_runs_and_keeps(void)
{
    char dir[64], out[300];
    make_paths(dir, out);
    spate_ctx *ctx = build("2", dir, 200000, 1, out);
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);
    check_totals(out, 200000);
    int n = count_checkpoints(dir);
    CHECK(n >= 1 && n <= 3); /* checkpoint.keep defaults to 3 */
}

/* A run killed mid-way and restarted (also with another worker count) gives
 * exactly the totals of an uninterrupted run. */
static void ckpt_rt_kill_and_restore(void)
{
    char dir[64], out[300];
    make_paths(dir, out);
    const int64_t count = 300000;
    int kills = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        pid_t pid = fork();
        if (pid == 0) {
            unlink(out);
            spate_ctx *ctx = build(attempt % 2 ? "1" : "2", dir, count, 1, out);
            if (spate_ctx_start(ctx) || spate_ctx_await_termination(ctx, 60000)) {
                fprintf(stderr, "  child %d: %s\n", attempt, spate_last_error());
                _exit(3);
            }
            spate_ctx_free(ctx);
            _exit(0);
        }
        usleep(150000 + 60000 * attempt);
        kills += kill(pid, SIGKILL) == 0;
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) CHECK_EQ_INT(WEXITSTATUS(status), 0);
        if (WIFEXITED(status)) break; /* it finished before the kill */
    }
    CHECK(kills > 0);
    CHECK(count_checkpoints(dir) >= 1);
    unlink(out);
    spate_ctx *ctx = build("2", dir, count, 0, out);
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);
    check_totals(out, count);
}

/* Another job on the same directory is refused, unless reset is asked for. */
static void ckpt_rt_fingerprint(void)
{
    char dir[64], out[300];
    make_paths(dir, out);
    spate_ctx *ctx = build("1", dir, 1000, 0, out);
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "checkpoint.dir", dir);
    spate_ctx_new(conf, &ctx);
    spate_stream *g;
    REQUIRE_OK(
        spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "10", NULL}, &g));
    REQUIRE_OK(spate_sink_open(g, "blackhole", NULL));
    CHECK_EQ_INT(spate_ctx_start(ctx), SPATE_ESTATE);
    CHECK(strstr(spate_last_error(), "checkpoint.reset") != NULL);
    spate_ctx_free(ctx);
    spate_conf_set(conf, "checkpoint.reset", "true");
    spate_ctx_new(conf, &ctx);
    REQUIRE_OK(
        spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "10", NULL}, &g));
    REQUIRE_OK(spate_sink_open(g, "blackhole", NULL));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);
    spate_conf_free(conf);
}

static void ckpt_rt_delivery_needs_dir(void)
{
    spate_conf *conf = spate_conf_new();
    REQUIRE_OK(spate_conf_set(conf, "delivery", "exactly-once"));
    CHECK_EQ_INT(spate_conf_set(conf, "delivery", "twice"), SPATE_EINVAL);
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(conf, &ctx));
    spate_stream *g;
    REQUIRE_OK(
        spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "10", NULL}, &g));
    REQUIRE_OK(spate_sink_open(g, "blackhole", NULL));
    CHECK_EQ_INT(spate_ctx_start(ctx), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "checkpoint.dir") != NULL);
    spate_ctx_free(ctx);
    spate_conf_free(conf);
}

/* An operator class with state but no snapshot hooks (every public operator has
 * them now): a job with checkpoints refuses to start rather than restore wrongly. */
static int forgetful_push(sp_op *op, int port, sp_batch *b)
{
    sp_op_release(op, b);
    return 0;
}

static const sp_op_class forgetful_class = {.name = "forgetful", .push = forgetful_push};

static void ckpt_rt_refuses_unsnapshottable(void)
{
    char dir[64], out[300];
    make_paths(dir, out);
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "checkpoint.dir", dir);
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(conf, &ctx));
    spate_conf_free(conf);
    spate_stream *g, *f;
    REQUIRE_OK(
        spate_source_open(ctx, "generator", NULL, (const char *[]){"count", "10", NULL}, &g));
    spate_schema *s = sp_schema_copy(spate_stream_schema(g));
    sp_exchange ex = SP_EX_FORWARD;
    REQUIRE_OK(sp_node_add(ctx, &forgetful_class, NULL, s, 0, 1, &g, &ex, 0, &f));
    REQUIRE_OK(spate_sink_open(f, "blackhole", NULL));
    CHECK_EQ_INT(spate_ctx_start(ctx), SPATE_EUNSUPPORTED);
    CHECK(strstr(spate_last_error(), "'forgetful'") != NULL);
    spate_ctx_free(ctx);
}

const sp_test tests_ckpt_rt[] = {
    {"ckpt_rt_refuses_unsnapshottable", ckpt_rt_refuses_unsnapshottable},
    {"ckpt_rt_runs_and_keeps", ckpt_rt_runs_and_keeps},
    {"ckpt_rt_kill_and_restore", ckpt_rt_kill_and_restore},
    {"ckpt_rt_fingerprint", ckpt_rt_fingerprint},
    {"ckpt_rt_delivery_needs_dir", ckpt_rt_delivery_needs_dir},
    {NULL, NULL}};
