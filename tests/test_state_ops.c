/*
 * test_state_ops.c - updateStateByKey, mapWithState, stateSnapshots, timeouts,
 * state TTL and the checkpoint hooks of both operators.
 *
 * Jobs use the public API only: a queue source whose pushed items become one
 * micro-batch each (batch.interval.ms = 20, one_at_a_time), results collected per
 * micro-batch with spate_stream_foreach_batch as text rows "v1,v2,...". A batch is
 * compared as a sorted multiset (two workers emit in no fixed order) and, with one
 * worker, in emission order too. Timeouts and TTLs are counted in batch time, so
 * with 20 ms batches a 50 ms limit expires a key at its third idle batch end.
 */
#include "test.h"

#include "spate.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* ------------------------------------------------------------- harness */

enum { MAX_BATCHES = 64, MAX_ROWS = 64, ROW_TEXT = 64 };

typedef struct collected {
    pthread_mutex_t mu;
    int nb;
    char sorted[MAX_BATCHES][MAX_ROWS * ROW_TEXT];
    char ordered[MAX_BATCHES][MAX_ROWS * ROW_TEXT];
} collected;

static void row_to_text(const spate_row *r, const spate_schema *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < spate_row_ncols(r) && len < cap; c++) {
        const char *sep = c ? "," : "";
        if (spate_row_is_null(r, c)) {
            len += snprintf(buf + len, cap - len, "%sNULL", sep);
        } else if (spate_schema_type(s, c) == SPATE_STRING) {
            spate_str v = spate_row_str(r, c);
            len += snprintf(buf + len, cap - len, "%s%.*s", sep, (int)v.len, v.ptr);
        } else {
            len += snprintf(buf + len, cap - len, "%s%lld", sep, (long long)spate_row_int(r, c));
        }
    }
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void join_text(char *dst, size_t cap, char **rows, size_t n)
{
    size_t len = 0;
    dst[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++)
        len += snprintf(dst + len, cap - len, "%s%s", i ? ";" : "", rows[i]);
}

/* foreach_batch: keeps every non-empty batch as text; one of more than MAX_ROWS
 * rows as "#<count>". */
static int collect(const spate_rows *rs, int64_t time_ms, void *ud)
{
    collected *c = ud;
    size_t n = spate_rows_count(rs);
    if (n == 0) return 0;
    if (c->nb == MAX_BATCHES) return -1;
    if (n > MAX_ROWS) {
        pthread_mutex_lock(&c->mu);
        snprintf(c->sorted[c->nb], sizeof c->sorted[0], "#%zu", n);
        snprintf(c->ordered[c->nb++], sizeof c->ordered[0], "#%zu", n);
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    static char text[MAX_ROWS][ROW_TEXT];
    char *rows[MAX_ROWS];
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        row_to_text(&r, spate_rows_schema(rs), text[i], ROW_TEXT);
        rows[i] = text[i];
    }
    pthread_mutex_lock(&c->mu);
    join_text(c->ordered[c->nb], sizeof c->ordered[0], rows, n);
    qsort(rows, n, sizeof rows[0], by_text);
    join_text(c->sorted[c->nb], sizeof c->sorted[0], rows, n);
    c->nb++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static collected *collected_new(void)
{
    collected *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

/* Checks the batches: as sorted multisets always, in order with one worker. */
static void check_batches(const collected *c, int workers, const char *const *want)
{
    int n = 0;
    while (want[n])
        n++;
    CHECK_EQ_INT(c->nb, n);
    for (int i = 0; i < n && i < c->nb; i++) {
        char copy[MAX_ROWS * ROW_TEXT], sorted[MAX_ROWS * ROW_TEXT], *rows[MAX_ROWS];
        size_t nr = 0;
        snprintf(copy, sizeof copy, "%s", want[i]);
        for (char *p = strtok(copy, ";"); p && nr < MAX_ROWS; p = strtok(NULL, ";"))
            rows[nr++] = p;
        qsort(rows, nr, sizeof rows[0], by_text);
        join_text(sorted, sizeof sorted, rows, nr);
        CHECK_EQ_STR(c->sorted[i], sorted);
        if (workers == 1) CHECK_EQ_STR(c->ordered[i], want[i]);
    }
}

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    return spate_schema_parse(decl, &s) ? NULL : s;
}

static spate_ctx *ctx_with(int workers, int interval_ms, const char *ckpt_dir)
{
    spate_conf *conf = spate_conf_new();
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", workers);
    snprintf(iv, sizeof iv, "%d", interval_ms);
    spate_conf_set(conf, "workers", w);
    spate_conf_set(conf, "batch.interval.ms", iv);
    if (ckpt_dir) {
        spate_conf_set(conf, "checkpoint.dir", ckpt_dir);
        spate_conf_set(conf, "checkpoint.interval.ms", iv);
    }
    spate_ctx *ctx = NULL;
    if (spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

static spate_ctx *ctx_new(int workers, int interval_ms)
{
    return ctx_with(workers, interval_ms, NULL);
}

/* A queue of "k STRING, v BIGINT" holding items (NULL-terminated), closed, keyed by k. */
static spate_stream *keyed_queue(spate_ctx *ctx, const char *const *items)
{
    spate_schema *s = schema_of("k STRING, v BIGINT");
    spate_queue *q;
    spate_stream *st = NULL, *keyed = NULL;
    if (!s || spate_source_queue(ctx, s, 1, &q, &st)) st = NULL;
    spate_schema_free(s);
    for (int i = 0; st && items[i]; i++)
        spate_queue_push(q, items[i], strlen(items[i]));
    if (st) spate_queue_close(q);
    const char *cols[] = {"k"};
    return st && spate_key_by(st, 1, cols, &keyed) == 0 ? keyed : NULL;
}

static int run_job(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    return rc ? rc : spate_ctx_await_termination(ctx, 60000);
}

static const char *const kv_items[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", "a,10\n", NULL};

/* One key "a" in the first batch, then only "b" for five more batches. */
static const char *const idle_items[] = {"a,1\nb,1\n", "b,1\n", "b,1\n", "b,1\n",
                                         "b,1\n",      "b,1\n", NULL};

/* --------------------------------------------------------- updateStateByKey */

/* State (total BIGINT, calls BIGINT, nvalues BIGINT): the running sum, the calls
 * the key got and its values in the last one. *ud (when set) caps the total: a
 * key going above it is removed. */
static int sum_update(const spate_row *key, const spate_group *values, const spate_row *state,
                      spate_out *new_state, void *ud)
{
    int64_t total = state ? spate_row_int(state, 0) : 0;
    int64_t calls = state ? spate_row_int(state, 1) : 0;
    size_t n = spate_group_count(values, 0);
    for (size_t i = 0; i < n; i++) {
        spate_row v;
        if (spate_group_get(values, 0, i, &v)) return -1;
        total += spate_row_int(&v, 0);
    }
    if (ud && total > *(const int64_t *)ud) return 0;
    spate_out_set_int(new_state, 0, total);
    spate_out_set_int(new_state, 1, calls + 1);
    spate_out_set_int(new_state, 2, (int64_t)n);
    return 1;
}

/* Runs updateStateByKey(sum_update) over items; cap NULL = no removal. */
static void run_update(int workers, const char *const *items, const int64_t *cap, int64_t ttl_ms,
                       const char *const *want)
{
    spate_ctx *ctx = ctx_new(workers, 20);
    spate_schema *st = schema_of("total BIGINT, calls BIGINT, nvalues BIGINT");
    spate_stream *out;
    collected *c = collected_new();
    REQUIRE_OK(spate_update_state_by_key_ttl(keyed_queue(ctx, items), st, sum_update, (void *)cap,
                                             ttl_ms, &out));
    CHECK_EQ_STR(spate_schema_name(spate_stream_schema(out), 0), "k");
    CHECK_EQ_STR(spate_schema_name(spate_stream_schema(out), 1), "total");
    REQUIRE_OK(spate_stream_foreach_batch(out, collect, c));
    REQUIRE_OK(run_job(ctx));
    check_batches(c, workers, want);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    free(c);
}

/* The running sum per key over three micro-batches; keys without new values are
 * called too (their calls go up, with zero values). */
static void test_update_running_sum_idle_keys(void)
{
    for (int w = 1; w <= 2; w++)
        run_update(w, kv_items, NULL, 0,
                   (const char *const[]){"a,4,1,2;b,2,1,1", "a,4,2,0;b,7,2,1;c,1,1,1",
                                         "a,14,3,1;b,7,3,0;c,1,2,0", NULL});
}

/* fn returning 0 removes the key from the output; a removed key that comes back
 * starts from no state. */
static void test_update_remove(void)
{
    static const int64_t cap = 5;
    static const char *const items[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", "a,10\n", "b,1\n", NULL};
    for (int w = 1; w <= 2; w++)
        run_update(w, items, &cap, 0,
                   (const char *const[]){"a,4,1,2;b,2,1,1", "a,4,2,0;c,1,1,1", "c,1,2,0",
                                         "b,1,1,1;c,1,3,0", NULL});
}

/* TTL 50 ms: "a" gets no value after the first batch, is called at the next two
 * batch ends (idle 20, 40 ms) and dropped without a call at the third (60 ms). */
static void test_update_ttl(void)
{
    for (int w = 1; w <= 2; w++)
        run_update(w, idle_items, NULL, 50,
                   (const char *const[]){"a,1,1,1;b,1,1,1", "a,1,2,0;b,2,2,1", "a,1,3,0;b,3,3,1",
                                         "b,4,4,1", "b,5,5,1", "b,6,6,1", NULL});
}

/* 2000 keys, each removed by its second value: the store compacts, and keys
 * coming back afterwards start afresh. Items stay within one input batch
 * (batch.rows 1024), so that each is one micro-batch. */
static void test_update_compaction(void)
{
    static const int64_t cap = 1;
    static char low[1000 * 8], high[1000 * 8];
    size_t nl = 0, nh = 0;
    for (int i = 0; i < 1000; i++) {
        nl += snprintf(low + nl, sizeof low - nl, "k%d,1\n", i);
        nh += snprintf(high + nh, sizeof high - nh, "k%d,1\n", 1000 + i);
    }
    const char *const items[] = {low, low, high, high, "k7,1\nz,1\n", NULL};
    for (int w = 1; w <= 2; w++)
        run_update(w, items, &cap, 0,
                   (const char *const[]){"#1000", "#1000", "k7,1,1,1;z,1,1,1", NULL});
}

static void test_update_errors(void)
{
    spate_schema *st = schema_of("total BIGINT"), *clash = schema_of("k BIGINT");
    spate_stream *out = (spate_stream *)1;
    spate_ctx *ctx = ctx_new(1, 20);
    spate_stream *keyed = keyed_queue(ctx, kv_items);
    CHECK_EQ_INT(spate_update_state_by_key(keyed, NULL, sum_update, NULL, &out), SPATE_EINVAL);
    CHECK(out == NULL);
    CHECK_EQ_INT(spate_update_state_by_key(keyed, st, NULL, NULL, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_update_state_by_key(keyed, clash, sum_update, NULL, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_update_state_by_key_ttl(keyed, st, sum_update, NULL, -1, &out),
                 SPATE_EINVAL);
    spate_schema *in_s = schema_of("k STRING, v BIGINT");
    spate_queue *q;
    spate_stream *unkeyed;
    REQUIRE_OK(spate_source_queue(ctx, in_s, 1, &q, &unkeyed));
    spate_queue_close(q);
    CHECK_EQ_INT(spate_update_state_by_key(unkeyed, st, sum_update, NULL, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "key_by") != NULL);
    spate_ctx_free(ctx);
    /* Continuous style: no batch end to call idle keys at. */
    ctx = ctx_new(1, 0);
    CHECK_EQ_INT(spate_update_state_by_key(keyed_queue(ctx, kv_items), st, sum_update, NULL, &out),
                 SPATE_EUNSUPPORTED);
    CHECK(strstr(spate_last_error(), "batch.interval.ms") != NULL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(clash);
    spate_schema_free(in_s);
}

/* ------------------------------------------------------------ mapWithState */

/* Test switches for map_fn, through ud. */
typedef struct map_opts {
    int64_t remove_above;  /* remove the state once the total exceeds it (0 = never) */
    int update_timing_out; /* misuse: update a timing-out state */
    int skip_value;        /* records with this value emit nothing */
    pthread_mutex_t mu;
    int timeout_calls[26]; /* per key letter */
    int calls[26];
} map_opts;

/* State (total BIGINT); output (k STRING, total BIGINT, timed_out BIGINT): one row
 * per record with the key's running total, and one for a timing-out key. */
static int map_fn(const spate_row *key, const spate_row *value, spate_state *state, spate_out *out,
                  void *ud)
{
    map_opts *o = ud;
    spate_str k = spate_row_str(key, 0);
    int letter = k.len ? (k.ptr[0] - 'a') % 26 : 0;
    spate_row cur;
    int64_t total = spate_state_get(state, &cur) == 0 ? spate_row_int(&cur, 0) : 0;
    pthread_mutex_lock(&o->mu);
    o->calls[letter]++;
    o->timeout_calls[letter] += spate_state_is_timing_out(state);
    pthread_mutex_unlock(&o->mu);
    if (spate_state_is_timing_out(state)) {
        CHECK(value == NULL);
        spate_out *ns;
        if (o->update_timing_out && spate_state_update(state, &ns) != SPATE_ESTATE) return -1;
    } else {
        int64_t v = spate_row_int(value, 0);
        total += v;
        spate_out *ns;
        if (spate_state_update(state, &ns)) return -1;
        spate_out_set_int(ns, 0, total);
        CHECK(spate_state_get(state, &cur) == 0 && spate_row_int(&cur, 0) == total);
        if (o->remove_above && total > o->remove_above && spate_state_remove(state)) return -1;
        CHECK_EQ_INT(spate_state_exists(state), !(o->remove_above && total > o->remove_above));
        if (o->skip_value && v == o->skip_value) return 0;
    }
    spate_out_set_str(out, 0, k.ptr, k.len);
    spate_out_set_int(out, 1, total);
    spate_out_set_int(out, 2, spate_state_is_timing_out(state));
    return spate_out_emit(out);
}

static map_opts *opts_new(void)
{
    map_opts *o = calloc(1, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    return o;
}

/* A job: mapWithState over items with spec fields from *base, collecting the
 * mapped rows into m and the snapshots into s (when s is set). Returns the job's
 * code. */
static int run_map(int workers, int interval_ms, const char *const *items,
                   const spate_state_spec *base, map_opts *o, collected *m, collected *s)
{
    spate_ctx *ctx = ctx_new(workers, interval_ms);
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("k STRING, total BIGINT, t INT");
    spate_state_spec spec = *base;
    spec.state_schema = st;
    spec.out_schema = os;
    spec.fn = map_fn;
    spec.ud = o;
    spate_stream *mapped, *snaps;
    int rc = spate_map_with_state(keyed_queue(ctx, items), &spec, &mapped);
    if (!rc) rc = spate_stream_foreach_batch(mapped, collect, m);
    if (!rc && s) rc = spate_state_snapshots(mapped, &snaps);
    if (!rc && s) rc = spate_stream_foreach_batch(snaps, collect, s);
    if (!rc) rc = run_job(ctx);
    if (rc && rc != SPATE_ESTATE) fprintf(stderr, "  map job: %s\n", spate_last_error());
    if (rc == SPATE_ESTATE)
        snprintf(m->ordered[MAX_BATCHES - 1], sizeof m->ordered[0], "%s", spate_ctx_error(ctx));
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(os);
    return rc;
}

/* One output row per record (none for value 5), with the key's running total. */
static void test_map_per_record(void)
{
    for (int w = 1; w <= 2; w++) {
        map_opts *o = opts_new();
        o->skip_value = 5;
        collected *m = collected_new();
        REQUIRE_OK(run_map(w, 20, kv_items, &(spate_state_spec){0}, o, m, NULL));
        check_batches(m, w, (const char *const[]){"a,1,0;b,2,0;a,4,0", "c,1,0", "a,14,0", NULL});
        free(o);
        free(m);
    }
}

/* stateSnapshots: every key with state after each batch; removal drops a key and
 * a removed key that returns starts from nothing. */
static void test_map_snapshots_remove(void)
{
    static const char *const items[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", "a,10\n", "b,1\n", NULL};
    for (int w = 1; w <= 2; w++) {
        map_opts *o = opts_new();
        o->remove_above = 5;
        collected *m = collected_new(), *s = collected_new();
        REQUIRE_OK(run_map(w, 20, items, &(spate_state_spec){0}, o, m, s));
        check_batches(
            m, w,
            (const char *const[]){"a,1,0;b,2,0;a,4,0", "b,7,0;c,1,0", "a,14,0", "b,1,0", NULL});
        check_batches(s, w, (const char *const[]){"a,4;b,2", "a,4;c,1", "c,1", "b,1;c,1", NULL});
        free(o);
        free(m);
        free(s);
    }
}

/* The snapshots stream is keyed like the input and asked twice is the same. */
static void test_map_snapshots_stream(void)
{
    spate_ctx *ctx = ctx_new(1, 20);
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("k STRING, total BIGINT, t INT");
    map_opts *o = opts_new();
    spate_state_spec spec = {.state_schema = st, .out_schema = os, .fn = map_fn, .ud = o};
    spate_stream *mapped, *s1, *s2, *keyed = keyed_queue(ctx, kv_items);
    REQUIRE_OK(spate_map_with_state(keyed, &spec, &mapped));
    REQUIRE_OK(spate_state_snapshots(mapped, &s1));
    REQUIRE_OK(spate_state_snapshots(mapped, &s2));
    CHECK(s1 == s2);
    CHECK_EQ_INT(spate_schema_count(spate_stream_schema(s1)), 2);
    CHECK_EQ_STR(spate_schema_name(spate_stream_schema(s1), 1), "total");
    CHECK_EQ_INT(spate_state_snapshots(keyed, &s2), SPATE_EINVAL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(os);
    free(o);
}

/* Spark's initialState from a CSV file (columns in any order): "a" starts at 10,
 * "z" has state without records. With two workers each key is loaded once. */
static void test_map_initial_state(void)
{
    char path[] = "/tmp/spate-initial-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE_OK(fd < 0);
    const char text[] = "total,k\n10,a\n20,z\n";
    CHECK_EQ_INT(write(fd, text, sizeof text - 1), (long long)(sizeof text - 1));
    close(fd);
    for (int w = 1; w <= 2; w++) {
        map_opts *o = opts_new();
        collected *m = collected_new(), *s = collected_new();
        REQUIRE_OK(
            run_map(w, 20, kv_items, &(spate_state_spec){.initial_state_csv = path}, o, m, s));
        check_batches(m, w,
                      (const char *const[]){"a,11,0;b,2,0;a,14,0", "b,7,0;c,1,0", "a,24,0", NULL});
        check_batches(
            s, w,
            (const char *const[]){"a,14;z,20;b,2", "a,14;z,20;b,7;c,1", "a,24;z,20;b,7;c,1", NULL});
        free(o);
        free(m);
        free(s);
    }
    unlink(path);
    spate_ctx *ctx = ctx_new(1, 20);
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("x INT");
    spate_state_spec spec = {
        .state_schema = st, .out_schema = os, .fn = map_fn, .initial_state_csv = path};
    spate_stream *out;
    CHECK_EQ_INT(spate_map_with_state(keyed_queue(ctx, kv_items), &spec, &out), SPATE_EIO);
    CHECK(strstr(spate_last_error(), path) != NULL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(os);
}

/* Timeout 50 ms: "a" is called once timing out (value NULL) at its third idle
 * batch end, emits, and is gone; "b", fed every batch, never times out. */
static void test_map_timeout(void)
{
    for (int w = 1; w <= 2; w++) {
        map_opts *o = opts_new();
        collected *m = collected_new(), *s = collected_new();
        REQUIRE_OK(run_map(w, 20, idle_items, &(spate_state_spec){.timeout_ms = 50}, o, m, s));
        CHECK_EQ_INT(o->timeout_calls[0], 1);
        CHECK_EQ_INT(o->timeout_calls[1], 0);
        CHECK_EQ_INT(o->calls[0], 2);
        check_batches(m, w,
                      (const char *const[]){"a,1,0;b,1,0", "b,2,0", "b,3,0", "b,4,0;a,1,1", "b,5,0",
                                            "b,6,0", NULL});
        check_batches(
            s, w,
            (const char *const[]){"a,1;b,1", "a,1;b,2", "a,1;b,3", "b,4", "b,5", "b,6", NULL});
        free(o);
        free(m);
        free(s);
    }
}

/* Updating the state of a timing-out key fails the job with SPATE_ESTATE. */
static void test_map_timeout_update_fails(void)
{
    map_opts *o = opts_new();
    o->update_timing_out = 1;
    collected *m = collected_new();
    CHECK_EQ_INT(run_map(1, 20, idle_items, &(spate_state_spec){.timeout_ms = 50}, o, m, NULL),
                 SPATE_ESTATE);
    CHECK(strstr(m->ordered[MAX_BATCHES - 1], "timing out") != NULL);
    free(o);
    free(m);
}

/* TTL 50 ms: "a" is dropped silently (no timing-out call, no output row). */
static void test_map_ttl(void)
{
    for (int w = 1; w <= 2; w++) {
        map_opts *o = opts_new();
        collected *m = collected_new(), *s = collected_new();
        REQUIRE_OK(run_map(w, 20, idle_items, &(spate_state_spec){.ttl_ms = 50}, o, m, s));
        CHECK_EQ_INT(o->timeout_calls[0], 0);
        CHECK_EQ_INT(o->calls[0], 1);
        check_batches(m, w,
                      (const char *const[]){"a,1,0;b,1,0", "b,2,0", "b,3,0", "b,4,0", "b,5,0",
                                            "b,6,0", NULL});
        check_batches(
            s, w,
            (const char *const[]){"a,1;b,1", "a,1;b,2", "a,1;b,3", "b,4", "b,5", "b,6", NULL});
        free(o);
        free(m);
        free(s);
    }
}

static void test_map_spec_validation(void)
{
    spate_ctx *ctx = ctx_new(1, 20);
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("x INT");
    spate_stream *keyed = keyed_queue(ctx, kv_items), *out;
    map_opts o = {0};
    spate_state_spec spec = {.state_schema = st, .out_schema = os, .fn = map_fn, .ud = &o};
    spec.num_partitions = 7;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "num_partitions") != NULL);
    spec.num_partitions = 128; /* the default key_groups */
    REQUIRE_OK(spate_map_with_state(keyed, &spec, &out));
    spec.num_partitions = 0;
    REQUIRE_OK(spate_map_with_state(keyed, &spec, &out));
    spec.timeout_ms = -1;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    spec.timeout_ms = 0;
    spec.out_schema = NULL;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    spec.out_schema = os;
    spec.state_schema = NULL;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    CHECK_EQ_INT(spate_map_with_state(keyed, NULL, &out), SPATE_EINVAL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(os);
}

/* Continuous style: per record as in batches; snapshots are refused; a key idle
 * past the timeout is called from the once-a-second check. */
typedef struct sink_rows {
    pthread_mutex_t mu;
    char text[MAX_ROWS][ROW_TEXT];
    int n;
} sink_rows;

static int sink_keep(const spate_rows *rs, int64_t time_ms, void *ud)
{
    sink_rows *k = ud;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < spate_rows_count(rs) && k->n < MAX_ROWS; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        row_to_text(&r, spate_rows_schema(rs), k->text[k->n++], ROW_TEXT);
    }
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static int sink_has(sink_rows *k, const char *row)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->text[i], row) == 0) return 1;
    return 0;
}

static void test_map_continuous(void)
{
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_new(w, 0);
        spate_schema *st = schema_of("total BIGINT"),
                     *os = schema_of("k STRING, total BIGINT, t INT");
        spate_schema *in = schema_of("k STRING, v BIGINT");
        map_opts *o = opts_new();
        sink_rows *k = calloc(1, sizeof *k);
        pthread_mutex_init(&k->mu, NULL);
        spate_state_spec spec = {
            .state_schema = st, .out_schema = os, .fn = map_fn, .ud = o, .timeout_ms = 100};
        spate_queue *q;
        spate_stream *src, *keyed, *mapped, *snaps;
        const char *cols[] = {"k"};
        REQUIRE_OK(spate_source_queue(ctx, in, 1, &q, &src));
        REQUIRE_OK(spate_key_by(src, 1, cols, &keyed));
        REQUIRE_OK(spate_map_with_state(keyed, &spec, &mapped));
        CHECK_EQ_INT(spate_state_snapshots(mapped, &snaps), SPATE_EUNSUPPORTED);
        REQUIRE_OK(spate_sink_callback(mapped, sink_keep, k));
        spate_queue_push(q, "a,1\nb,2\na,3\n", 12);
        REQUIRE_OK(spate_ctx_start(ctx));
        usleep(2500 * 1000); /* past the timeout and at least one check */
        spate_queue_push(q, "b,5\n", 4);
        spate_queue_close(q);
        REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
        CHECK(sink_has(k, "a,4,0"));
        CHECK(sink_has(k, "a,4,1"));
        CHECK(sink_has(k, "b,2,1"));
        CHECK(sink_has(k, "b,5,0")); /* timed out, then new */
        CHECK_EQ_INT(o->timeout_calls[0], 1);
        spate_ctx_free(ctx);
        spate_schema_free(st);
        spate_schema_free(os);
        spate_schema_free(in);
        free(o);
        free(k);
    }
}

/* ------------------------------------------------------------- checkpoints */

/* Runs updateStateByKey and mapWithState (with snapshots) over items with
 * checkpoints in dir; the last batch's rows of each end up in u and s. */
static int run_checkpointed(const char *dir, int workers, const char *const *items, collected *u,
                            collected *s)
{
    spate_ctx *ctx = ctx_with(workers, 20, dir);
    spate_schema *ust = schema_of("total BIGINT, calls BIGINT, nvalues BIGINT");
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("k STRING, total BIGINT, t INT");
    map_opts *o = opts_new();
    spate_state_spec spec = {.state_schema = st, .out_schema = os, .fn = map_fn, .ud = o};
    spate_stream *keyed = keyed_queue(ctx, items), *up, *mapped, *snaps;
    int rc = spate_update_state_by_key(keyed, ust, sum_update, NULL, &up);
    if (!rc) rc = spate_stream_foreach_batch(up, collect, u);
    if (!rc) rc = spate_map_with_state(keyed, &spec, &mapped);
    if (!rc) rc = spate_state_snapshots(mapped, &snaps);
    if (!rc) rc = spate_stream_foreach_batch(snaps, collect, s);
    if (!rc) rc = run_job(ctx);
    if (rc) fprintf(stderr, "  checkpointed job: %s\n", spate_last_error());
    spate_ctx_free(ctx);
    spate_schema_free(ust);
    spate_schema_free(st);
    spate_schema_free(os);
    free(o);
    return rc;
}

/* A second run of the same job restores both operators' keyed state: sums go on
 * from where the first run ended (one worker, then two). The runs keep the worker
 * count: the checkpoint's job fingerprint covers the placement, which a worker
 * count change alters. */
static void test_checkpoint_roundtrip(void)
{
    static const char *const first[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", NULL};
    static const char *const second[] = {"a,10\n", NULL};
    for (int w = 1; w <= 2; w++) {
        char dir[] = "/tmp/spate-state-ckpt-XXXXXX";
        REQUIRE_OK(mkdtemp(dir) == NULL);
        collected *u = collected_new(), *s = collected_new();
        REQUIRE_OK(run_checkpointed(dir, w, first, u, s));
        check_batches(u, w,
                      (const char *const[]){"a,4,1,2;b,2,1,1", "a,4,2,0;b,7,2,1;c,1,1,1", NULL});
        free(u);
        free(s);
        u = collected_new();
        s = collected_new();
        REQUIRE_OK(run_checkpointed(dir, w, second, u, s));
        check_batches(u, 2, (const char *const[]){"a,14,3,1;b,7,3,0;c,1,2,0", NULL});
        check_batches(s, 2, (const char *const[]){"a,14;b,7;c,1", NULL});
        free(u);
        free(s);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK_EQ_INT(system(cmd), 0);
    }
}

const sp_test tests_state_ops[] = {
    {"state_update_running_sum_idle_keys", test_update_running_sum_idle_keys},
    {"state_update_remove", test_update_remove},
    {"state_update_ttl", test_update_ttl},
    {"state_update_compaction", test_update_compaction},
    {"state_update_errors", test_update_errors},
    {"state_map_per_record", test_map_per_record},
    {"state_map_snapshots_remove", test_map_snapshots_remove},
    {"state_map_snapshots_stream", test_map_snapshots_stream},
    {"state_map_initial_state", test_map_initial_state},
    {"state_map_timeout", test_map_timeout},
    {"state_map_timeout_update_fails", test_map_timeout_update_fails},
    {"state_map_ttl", test_map_ttl},
    {"state_map_spec_validation", test_map_spec_validation},
    {"state_map_continuous", test_map_continuous},
    {"state_checkpoint_roundtrip", test_checkpoint_roundtrip},
    {NULL, NULL},
};
