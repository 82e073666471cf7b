/*
 * test_ckpt_dstream.c - checkpoints of the DStream windows (dstream_window.c) and of
 * the timers of spate_process (process.c, time/timers.c).
 *
 * Windows: a job runs to its end with checkpoint.dir set (its final checkpoint
 * holds the panes), then the same job runs on the same directory with a larger
 * generator count, so the generator resumes where the first run stopped. What a
 * micro-batch holds depends on timing (the generator's rate against the batch
 * clock), so only a window spanning the whole input has a value independent of
 * timing: the windows here are 60 s long, sliding by one batch, and the runs take
 * well under a second. The last value emitted per key is then the window over
 * every event, and the resumed job must end with the values of an uninterrupted
 * run over all events. Restored panes that were dropped, or events counted twice,
 * change those values.
 *
 * Pane ages are checked where batch contents are deterministic: a queue source
 * feeding one item per micro-batch into 3-batch windows, split after item 5; the
 * second run's windows must continue the uninterrupted run's (reduce_by_window and
 * window()). A window section cut short (manifest rewritten to match, so the
 * checkpoint verifies) must fail the restore with a message naming the operator.
 *
 * Timers: a first run registers event-time timers far in the future, waits for
 * checkpoints taken after that, and then fails on purpose (a failed job takes no
 * final checkpoint and never brings the watermark to its maximum, so no timer has
 * fired). The second run restores the timers from the last periodic checkpoint and
 * ends its input, which fires every event-time timer: each must fire once.
 */
#define _GNU_SOURCE /* nftw */
#include "test.h"

#include "checkpoint/serde.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KMAX = 64 };

/* ------------------------------------------------------------------ helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A context with 10 ms batches; dir NULL = no checkpoints, else every 100 ms. */
static spate_ctx *ctx_of(int workers, const char *dir)
{
    spate_conf *conf = spate_conf_new();
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    int rc = !conf || spate_conf_set(conf, "workers", w) ||
             spate_conf_set(conf, "batch.interval.ms", "10");
    if (!rc && dir)
        rc = spate_conf_set(conf, "checkpoint.dir", dir) ||
             spate_conf_set(conf, "checkpoint.interval.ms", "100");
    spate_ctx *ctx = NULL;
    if (rc || spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

static spate_stream *key_by1(spate_stream *in, const char *col)
{
    spate_stream *out = NULL;
    const char *cols[] = {col};
    return in && spate_key_by(in, 1, cols, &out) == 0 ? out : NULL;
}

static int start_and_wait(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    return rc ? rc : spate_ctx_await_termination(ctx, 60000);
}

/* The newest complete checkpoint's number in dir, 0 when none. */
static long newest_checkpoint(const char *dir)
{
    long best = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        long n;
        char rest[8];
        if (sscanf(e->d_name, "chk-%ld%7s", &n, rest) == 1 && n > best) best = n;
    }
    if (d) closedir(d);
    return best;
}

/* ------------------------------------------- reduceByKeyAndWindow, resumed */

/* The last window values per key: sum of seq and count. */
typedef struct last_vals {
    pthread_mutex_t mu;
    int64_t sum[KMAX], n[KMAX];
    int seen[KMAX];
} last_vals;

static int keep_last(const spate_rows *rs, int64_t time_ms, void *ud)
{
    last_vals *l = ud;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        int64_t k = spate_row_int(&r, 0);
        if (k < 0 || k >= KMAX) continue;
        l->sum[k] = spate_row_int(&r, 1);
        l->n[k] = spate_row_int(&r, 2);
        l->seen[k] = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* generator row -> (key, seq, 1) */
static int to_kv(const spate_row *in, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(in, 1));
    spate_out_set_int(out, 1, spate_row_int(in, 0));
    spate_out_set_int(out, 2, 1);
    return 0;
}

static int add_kv(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    spate_out_set_int(out, 1, spate_row_int(a, 1) + spate_row_int(b, 1));
    return 0;
}

static int sub_kv(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(a, 0) - spate_row_int(b, 0));
    spate_out_set_int(out, 1, spate_row_int(a, 1) - spate_row_int(b, 1));
    return 0;
}

/* generator(count) -> (key, seq, n) -> key_by(key) -> reduceByKeyAndWindow(60 s,
 * slide 10 ms) into l. *red gets the window node (for its id). */
static int window_job(spate_ctx *ctx, int64_t count, int inverse, last_vals *l, spate_stream **red)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)count);
    spate_schema *kv = NULL;
    spate_stream *g = NULL, *m = NULL;
    int rc = ctx ? spate_schema_parse("key BIGINT, seq BIGINT, n BIGINT", &kv) : SPATE_ENOMEM;
    if (!rc)
        rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", n, "keys", "64", "rate", "1000000", NULL},
                               &g);
    if (!rc) rc = spate_map(g, kv, to_kv, NULL, &m);
    spate_schema_free(kv);
    if (!rc)
        rc = spate_reduce_by_key_and_window(key_by1(m, "key"), add_kv, inverse ? sub_kv : NULL,
                                            NULL, 60000, 10, red);
    if (!rc) rc = spate_sink_callback(*red, keep_last, l);
    return rc;
}

static int window_run(spate_ctx *ctx, int64_t count, int inverse, last_vals *l)
{
    spate_stream *red;
    int rc = window_job(ctx, count, inverse, l, &red);
    if (!rc) rc = start_and_wait(ctx);
    spate_ctx_free(ctx);
    return rc;
}

static last_vals *vals_new(void)
{
    last_vals *l = calloc(1, sizeof *l);
    if (l) pthread_mutex_init(&l->mu, NULL);
    return l;
}

static void reduce_resume(int inverse)
{
    const int64_t N = 100000, N2 = 250000;
    char dir[] = "/tmp/spate-ckd-XXXXXX";
    last_vals *ref = vals_new(), *first = vals_new(), *second = vals_new();
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    REQUIRE_OK(window_run(ctx_of(2, NULL), N2, inverse, ref));
    REQUIRE_OK(window_run(ctx_of(2, dir), N, inverse, first));
    REQUIRE_OK(window_run(ctx_of(2, dir), N2, inverse, second));
    int64_t total = 0, first_total = 0;
    for (int k = 0; k < KMAX; k++) {
        CHECK_EQ_INT(ref->seen[k], 1);
        CHECK_EQ_INT(second->seen[k], 1);
        CHECK_EQ_INT(second->sum[k], ref->sum[k]);
        CHECK_EQ_INT(second->n[k], ref->n[k]);
        total += second->n[k];
        first_total += first->n[k];
    }
    CHECK_EQ_INT(first_total, N);
    CHECK_EQ_INT(total, N2);
    rm_tree(dir);
    free(ref);
    free(first);
    free(second);
}

static void test_reduce_by_key_and_window(void)
{
    reduce_resume(0);
}

static void test_reduce_by_key_and_window_inverse(void)
{
    reduce_resume(1);
}

/* ------------------------------------ reduceByWindow: pane ages across runs */

/* Window values in emission order (one instance: reduce_by_window gathers; with
 * window() one worker), window() rows summed per emitted batch. */
typedef struct seq_vals {
    int64_t v[64];
    int n;
} seq_vals;

static int keep_seq(const spate_rows *rs, int64_t time_ms, void *ud)
{
    seq_vals *l = ud;
    for (size_t i = 0; i < spate_rows_count(rs) && l->n < 64; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        l->v[l->n++] = spate_row_int(&r, 0);
    }
    return 0;
}

static int keep_seq_sum(const spate_rows *rs, int64_t time_ms, void *ud)
{
    seq_vals *l = ud;
    int64_t sum = 0;
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        sum += spate_row_int(&r, 0);
    }
    if (spate_rows_count(rs) && l->n < 64) l->v[l->n++] = sum;
    return 0;
}

static int add_v(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    spate_out_set_int(out, 0, spate_row_int(a, 0) + spate_row_int(b, 0));
    return 0;
}

/* queue of items from..to (one per micro-batch, value i) -> reduceByWindow(sum), or
 * window() when rows, over 3 batches sliding by 1, into l. */
static int seq_run(const char *dir, int rows, int from, int to, seq_vals *l)
{
    spate_ctx *ctx = ctx_of(1, dir);
    spate_schema *s = NULL;
    spate_queue *q;
    spate_stream *in = NULL, *w;
    int rc = ctx ? spate_schema_parse("v BIGINT", &s) : SPATE_ENOMEM;
    if (!rc) rc = spate_source_queue(ctx, s, 1, &q, &in);
    spate_schema_free(s);
    for (int i = from; !rc && i <= to; i++) {
        char row[32];
        int len = snprintf(row, sizeof row, "%d\n", i);
        rc = spate_queue_push(q, row, (size_t)len);
    }
    if (in) spate_queue_close(q);
    if (!rc && rows)
        rc = spate_window(in, 30, 10, &w);
    else if (!rc)
        rc = spate_reduce_by_window(in, add_v, NULL, NULL, 30, 10, &w);
    if (!rc) rc = spate_sink_callback(w, rows ? keep_seq_sum : keep_seq, l);
    if (!rc) rc = start_and_wait(ctx);
    spate_ctx_free(ctx);
    return rc;
}

/* The second run's windows continue the first's: the restored panes keep their
 * ages (a window over items 4, 5, 6 needs the panes of 4 and 5 one and two
 * batches old), whatever batch index the new run starts from. Each micro-batch
 * takes one queued item, so here the batches' contents do not depend on timing. */
static void window_ages(int rows)
{
    char dir[] = "/tmp/spate-ckd-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    seq_vals ref = {0}, first = {0}, second = {0};
    REQUIRE_OK(seq_run(NULL, rows, 1, 7, &ref));
    REQUIRE_OK(seq_run(dir, rows, 1, 5, &first));
    REQUIRE_OK(seq_run(dir, rows, 6, 7, &second));
    CHECK_EQ_INT(ref.n, 7);
    CHECK_EQ_INT(first.n, 5);
    CHECK_EQ_INT(second.n, 2);
    for (int i = 0; i < 5 && i < first.n; i++)
        CHECK_EQ_INT(first.v[i], ref.v[i]);
    for (int i = 0; i < 2 && i < second.n; i++)
        CHECK_EQ_INT(second.v[i], ref.v[5 + i]);
    rm_tree(dir);
}

static void test_reduce_by_window_ages(void)
{
    window_ages(0);
}

static void test_window_rows_ages(void)
{
    window_ages(1);
}

/* ------------------------------------------------ a corrupt window section */

/* Rewrites dir/chk-N/MANIFEST after file `name` was truncated to len bytes. */
static int fix_manifest(const char *chk, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/MANIFEST", chk);
    FILE *f = fopen(path, "rb");
    uint8_t buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    sp_rbuf r;
    sp_wbuf w = {0};
    sp_rbuf_init(&r, buf, n);
    uint8_t magic[8];
    sp_r_raw(&r, magic, 8);
    sp_w_raw(&w, magic, 8);
    sp_w_u32(&w, sp_r_u32(&r));
    sp_w_i64(&w, sp_r_i64(&r));
    size_t ml, nl;
    const void *meta = sp_r_bytes(&r, &ml);
    sp_w_bytes(&w, meta, ml);
    uint64_t count = sp_r_varint(&r);
    sp_w_varint(&w, count);
    for (uint64_t i = 0; i < count; i++) {
        const char *fname = sp_r_bytes(&r, &nl);
        uint64_t size = sp_r_u64(&r);
        uint32_t crc = sp_r_u32(&r);
        if (fname && strcmp(fname, name) == 0) {
            size = len;
            crc = sp_crc32c(0, data, len);
        }
        sp_w_bytes(&w, fname, nl);
        sp_w_u64(&w, size);
        sp_w_u32(&w, crc);
    }
    sp_w_u32(&w, sp_crc32c(0, w.p, w.len));
    f = r.err ? NULL : fopen(path, "wb");
    int rc = f && fwrite(w.p, 1, w.len, f) == w.len ? 0 : -1;
    if (f) fclose(f);
    sp_wbuf_free(&w);
    return rc;
}

/* Cuts the window's instance section (its header) short in the newest checkpoint:
 * the manifest is rewritten to match, so the checkpoint still verifies and the
 * operator's own restore must notice. */
static void test_corrupt_section(void)
{
    char dir[] = "/tmp/spate-ckd-XXXXXX", chk[600], path[700];
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    last_vals *l = vals_new();
    spate_ctx *ctx = ctx_of(1, dir);
    spate_stream *red;
    REQUIRE_OK(window_job(ctx, 1000, 0, l, &red));
    int id = red->id;
    REQUIRE_OK(start_and_wait(ctx));
    spate_ctx_free(ctx);
    snprintf(chk, sizeof chk, "%s/chk-%ld", dir, newest_checkpoint(dir));
    char name[48];
    snprintf(name, sizeof name, "n%d-i0", id);
    snprintf(path, sizeof path, "%s/%s", chk, name);
    uint8_t head[4];
    FILE *f = fopen(path, "rb");
    REQUIRE_OK(f && fread(head, 1, sizeof head, f) == sizeof head ? 0 : -1);
    fclose(f);
    REQUIRE_OK(truncate(path, 2));
    REQUIRE_OK(fix_manifest(chk, name, head, 2));

    ctx = ctx_of(1, dir);
    REQUIRE_OK(window_job(ctx, 2000, 0, l, &red));
    int rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    CHECK_EQ_INT(rc, SPATE_EPARSE);
    CHECK(strstr(spate_last_error(), "reduce_by_key_and_window") != NULL);
    CHECK(strstr(spate_last_error(), "truncated or corrupt") != NULL);
    spate_ctx_free(ctx);
    rm_tree(dir);
    free(l);
}

/* ------------------------------------------------------------------ timers */

/* Timers far in the future: the ingestion-time watermark (the wall clock) never
 * reaches them, only the end of input does. */
#define FAR_US INT64_C(100000000000000000)

typedef struct timer_job {
    atomic_int rows;           /* rows processed (the poison row excluded) */
    atomic_int fired[KMAX][2]; /* per key: its two timers */
    atomic_int bad;            /* a timer of an unknown time or key */
} timer_job;

/* Registers FAR_US + 10k (twice: deduplicated) and FAR_US + 10k + 1 for key k; a
 * key of -1 fails the job. */
static int register_two(const spate_row *in, spate_timer_ctx *t, spate_out *out, void *ud)
{
    timer_job *j = ud;
    int64_t k = spate_row_int(in, 0);
    if (k < 0) return -1;
    int rc = spate_timer_at_event_time(t, FAR_US + 10 * k) ||
             spate_timer_at_event_time(t, FAR_US + 10 * k) ||
             spate_timer_at_event_time(t, FAR_US + 10 * k + 1);
    atomic_fetch_add(&j->rows, 1);
    return rc ? -1 : 0;
}

static int count_fire(int64_t when, int event_time, spate_timer_ctx *t, spate_out *out, void *ud)
{
    timer_job *j = ud;
    spate_row key;
    spate_timer_key(t, &key);
    int64_t k = spate_row_int(&key, 0), off = when - FAR_US - 10 * k;
    if (!event_time || k < 0 || k >= KMAX || off < 0 || off > 1)
        atomic_fetch_add(&j->bad, 1);
    else
        atomic_fetch_add(&j->fired[k][off], 1);
    return 0;
}

static int drop_rows(const spate_rows *rs, int64_t time_ms, void *ud)
{
    return 0;
}

/* queue(k) -> ingestion time -> key_by(k) -> process(register_two, count_fire). */
static spate_ctx *timer_ctx_new(int workers, const char *dir, timer_job *j, spate_queue **q)
{
    spate_ctx *ctx = ctx_of(workers, dir);
    spate_schema *s = NULL, *os = NULL;
    spate_stream *in = NULL, *timed = NULL, *p = NULL;
    int rc = ctx ? spate_schema_parse("k BIGINT", &s) : SPATE_ENOMEM;
    if (!rc) rc = spate_schema_parse("x BIGINT", &os);
    if (!rc) rc = spate_source_queue(ctx, s, 0, q, &in);
    if (!rc) rc = spate_with_ingestion_time(in, &timed);
    if (!rc) rc = spate_process(key_by1(timed, "k"), os, register_two, count_fire, j, &p);
    if (!rc) rc = spate_sink_callback(p, drop_rows, NULL);
    spate_schema_free(s);
    spate_schema_free(os);
    if (rc && ctx) {
        if (in) spate_queue_close(*q);
        spate_ctx_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* First run: KMAX keys register their timers, checkpoints cover them, a poison row
 * fails the job. */
static void timers_first_run(int workers, const char *dir, timer_job *j)
{
    spate_queue *q;
    spate_ctx *ctx = timer_ctx_new(workers, dir, j, &q);
    REQUIRE_OK(ctx ? 0 : -1);
    REQUIRE_OK(spate_ctx_start(ctx));
    for (int k = 0; k < KMAX; k++) {
        char row[32];
        int len = snprintf(row, sizeof row, "%d\n", k);
        REQUIRE_OK(spate_queue_push(q, row, (size_t)len));
    }
    for (int i = 0; i < 2000 && atomic_load(&j->rows) < KMAX; i++)
        usleep(5000);
    CHECK_EQ_INT(atomic_load(&j->rows), KMAX);
    /* Checkpoints may overlap: two more complete ones after the rows were seen
     * make sure one had its barrier behind them. */
    long seen = newest_checkpoint(dir);
    for (int i = 0; i < 2000 && newest_checkpoint(dir) < seen + 3; i++)
        usleep(5000);
    CHECK(newest_checkpoint(dir) >= seen + 3);
    REQUIRE_OK(spate_queue_push(q, "-1\n", 3));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 60000), SPATE_EUSER);
    spate_queue_close(q);
    spate_ctx_free(ctx);
}

/* Second run: no input; the end of input fires the restored timers. */
static void timers_second_run(int workers, const char *dir, timer_job *j)
{
    spate_queue *q;
    spate_ctx *ctx = timer_ctx_new(workers, dir, j, &q);
    REQUIRE_OK(ctx ? 0 : -1);
    REQUIRE_OK(spate_queue_close(q));
    REQUIRE_OK(start_and_wait(ctx));
    spate_ctx_free(ctx);
}

static void timers_split(int workers1, int workers2)
{
    char dir[] = "/tmp/spate-ckd-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    timer_job *j = calloc(1, sizeof *j);
    timers_first_run(workers1, dir, j);
    int early = 0;
    for (int k = 0; k < KMAX; k++)
        early += j->fired[k][0] + j->fired[k][1];
    CHECK_EQ_INT(early, 0);
    timers_second_run(workers2, dir, j);
    for (int k = 0; k < KMAX; k++) {
        CHECK_EQ_INT(atomic_load(&j->fired[k][0]), 1);
        CHECK_EQ_INT(atomic_load(&j->fired[k][1]), 1);
    }
    CHECK_EQ_INT(atomic_load(&j->bad), 0);
    rm_tree(dir);
    free(j);
}

static void test_timers_split(void)
{
    timers_split(2, 2);
}

static void test_timers_rescale(void)
{
    timers_split(2, 1);
}

const sp_test tests_ckpt_dstream[] = {
    {"ckpt_dsw_reduce_by_key_and_window", test_reduce_by_key_and_window},
    {"ckpt_dsw_reduce_by_key_and_window_inverse", test_reduce_by_key_and_window_inverse},
    {"ckpt_dsw_reduce_by_window_ages", test_reduce_by_window_ages},
    {"ckpt_dsw_window_rows_ages", test_window_rows_ages},
    {"ckpt_dsw_corrupt_section", test_corrupt_section},
    {"ckpt_dsw_timers_split", test_timers_split},
    {"ckpt_dsw_timers_rescale", test_timers_rescale},
    {NULL, NULL},
};
