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

/* The runner's children leave by _exit, past LeakSanitizer's exit check: tests of
 * objects owning memory ask for a leak check themselves (sanitized builds). */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define CHECK_NO_LEAKS() CHECK_EQ_INT(__lsan_do_recoverable_leak_check(), 0)
#else
#define CHECK_NO_LEAKS() ((void)0)
#endif

/* ------------------------------------------------------------- harness */

enum { MAX_BATCHES = 64, MAX_ROWS = 64, ROW_TEXT = 64 };

/* Text of a BYTES cell (NULL: "<N bytes>"). */
typedef void (*bytes_text_fn)(spate_str v, char *buf, size_t cap);

typedef struct collected {
    pthread_mutex_t mu;
    bytes_text_fn bytes_text;
    int nb;
    char sorted[MAX_BATCHES][MAX_ROWS * ROW_TEXT];
    char ordered[MAX_BATCHES][MAX_ROWS * ROW_TEXT];
} collected;

static void row_to_text(const spate_row *r, const spate_schema *s, bytes_text_fn bytes_text,
                        char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int c = 0; c < spate_row_ncols(r) && len < cap; c++) {
        const char *sep = c ? "," : "";
        if (spate_row_is_null(r, c)) {
            len += snprintf(buf + len, cap - len, "%sNULL", sep);
        } else if (spate_schema_type(s, c) == SPATE_BYTES) {
            char text[ROW_TEXT];
            spate_str v = spate_row_str(r, c);
            if (bytes_text)
                bytes_text(v, text, sizeof text);
            else
                snprintf(text, sizeof text, "<%zu bytes>", v.len);
            len += snprintf(buf + len, cap - len, "%s%s", sep, text);
        } else if (spate_schema_type(s, c) == SPATE_STRING) {
            spate_str v = spate_row_str(r, c);
            len += snprintf(buf + len, cap - len, "%s%.*s", sep, (int)v.len, v.ptr);
        } else {
            len += snprintf(buf + len, cap - len, "%s%lld", sep, (long long)spate_row_int(r, c));
        }
    }
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
        row_to_text(&r, spate_rows_schema(rs), c->bytes_text, text[i], ROW_TEXT);
        rows[i] = text[i];
    }
    pthread_mutex_lock(&c->mu);
    sp_test_join(c->ordered[c->nb], sizeof c->ordered[0], rows, n);
    qsort(rows, n, sizeof rows[0], sp_test_cmp_str);
    sp_test_join(c->sorted[c->nb], sizeof c->sorted[0], rows, n);
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

static collected *collected_bytes(bytes_text_fn bytes_text)
{
    collected *c = collected_new();
    c->bytes_text = bytes_text;
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
        qsort(rows, nr, sizeof rows[0], sp_test_cmp_str);
        sp_test_join(sorted, sizeof sorted, rows, nr);
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
        row_to_text(&r, spate_rows_schema(rs), NULL, k->text[k->n++], ROW_TEXT);
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

/* ---------------------------------------------------------------- C state */

/* Plain data: a key's running sum, count and max, kept as raw bytes. */
typedef struct c_acc {
    int64_t sum, count, max;
} c_acc;

/* Counts the heap arrays of c_vec objects alive (c_vec_push allocates,
 * c_deserialize too; c_free releases) and switches the vec job's behaviours. */
typedef struct vec_opts {
    pthread_mutex_t mu;
    int owned, frees;
    int64_t remove_above; /* remove a key once its sum exceeds it (0 = never) */
    int deserialize_fails;
} vec_opts;

/* An object owning heap memory: a growable array of a key's values. */
typedef struct c_vec {
    int64_t *v;
    size_t n, cap;
} c_vec;

static void acc_text(spate_str b, char *buf, size_t cap)
{
    c_acc a;
    if (b.len != sizeof a) {
        snprintf(buf, cap, "bad:%zu", b.len);
        return;
    }
    memcpy(&a, b.ptr, sizeof a);
    snprintf(buf, cap, "%lld/%lld/%lld", (long long)a.sum, (long long)a.count, (long long)a.max);
}

/* Output (k, sum, count, max) per record; the state must not be read as a row. */
static int acc_fn(const spate_row *key, const spate_row *value, spate_state *state, spate_out *out,
                  void *ud)
{
    spate_row cur;
    spate_out *ns;
    CHECK_EQ_INT(spate_state_get(state, &cur), SPATE_ESTATE);
    c_acc *a = spate_state_object(state);
    if (!a || !value) return -1;
    int64_t v = spate_row_int(value, 0);
    a->max = a->count == 0 || v > a->max ? v : a->max;
    a->sum += v;
    a->count++;
    CHECK_EQ_INT(spate_state_exists(state), 1);
    spate_str k = spate_row_str(key, 0);
    spate_out_set_str(out, 0, k.ptr, k.len);
    spate_out_set_int(out, 1, a->sum);
    spate_out_set_int(out, 2, a->count);
    spate_out_set_int(out, 3, a->max);
    int rc = spate_out_emit(out);
    /* Updating as a row is a misuse that fails the job: only tried by ud's request. */
    return ud && spate_state_update(state, &ns) == SPATE_ESTATE ? 0 : rc;
}

static int vec_push(c_vec *c, int64_t x, vec_opts *o)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 2;
        int64_t *p = realloc(c->v, cap * sizeof *p);
        if (!p) return -1;
        pthread_mutex_lock(&o->mu);
        o->owned += c->v == NULL;
        pthread_mutex_unlock(&o->mu);
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = x;
    return 0;
}

static void vec_free(void *obj, void *ud)
{
    c_vec *c = obj;
    vec_opts *o = ud;
    pthread_mutex_lock(&o->mu);
    o->owned -= c->v != NULL;
    o->frees++;
    pthread_mutex_unlock(&o->mu);
    free(c->v);
}

/* Serialized form: the count (uint64) then the values. */
static int vec_serialize(const void *obj, void *out_ctx, void *ud)
{
    const c_vec *c = obj;
    uint64_t n = c->n;
    int rc = spate_state_write(out_ctx, &n, sizeof n);
    return rc ? rc : spate_state_write(out_ctx, c->v, c->n * sizeof *c->v);
}

static int vec_deserialize(const void *data, size_t len, void *obj, void *ud)
{
    c_vec *c = obj;
    vec_opts *o = ud;
    uint64_t n;
    if (o->deserialize_fails || len < sizeof n) return -1;
    memcpy(&n, data, sizeof n);
    if (len != sizeof n + n * sizeof *c->v) return -1;
    for (uint64_t i = 0; i < n; i++) {
        int64_t x;
        memcpy(&x, (const char *)data + sizeof n + i * sizeof x, sizeof x);
        if (vec_push(c, x, o)) return -1;
    }
    return 0;
}

static void vec_text(spate_str b, char *buf, size_t cap)
{
    uint64_t n = 0;
    size_t len = 0;
    if (b.len >= sizeof n) memcpy(&n, b.ptr, sizeof n);
    buf[0] = 0;
    for (uint64_t i = 0; i < n && len < cap && sizeof n + (i + 1) * 8 <= b.len; i++) {
        int64_t x;
        memcpy(&x, b.ptr + sizeof n + i * sizeof x, sizeof x);
        len += snprintf(buf + len, cap - len, "%s%lld", i ? "|" : "", (long long)x);
    }
}

/* Output (k, n, sum, timed_out) per record and for a timing-out key, which reads
 * its object one last time. */
static int vec_fn(const spate_row *key, const spate_row *value, spate_state *state, spate_out *out,
                  void *ud)
{
    vec_opts *o = ud;
    c_vec *c = spate_state_object(state);
    if (!c) return -1;
    int timing_out = spate_state_is_timing_out(state);
    if (!timing_out && vec_push(c, spate_row_int(value, 0), o)) return -1;
    int64_t sum = 0;
    for (size_t i = 0; i < c->n; i++)
        sum += c->v[i];
    spate_str k = spate_row_str(key, 0);
    spate_out_set_str(out, 0, k.ptr, k.len);
    spate_out_set_int(out, 1, (int64_t)c->n);
    spate_out_set_int(out, 2, sum);
    spate_out_set_int(out, 3, timing_out);
    if (o->remove_above && sum > o->remove_above && spate_state_remove(state)) return -1;
    return spate_out_emit(out);
}

static vec_opts *vec_opts_new(void)
{
    vec_opts *o = calloc(1, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    return o;
}

/* A job with a plain c_acc state (when acc_size > 0: its c_size) and/or a c_vec
 * state (when vec is set), collecting each operator's output and snapshots into the
 * collectors that are set. */
typedef struct c_job {
    size_t acc_size;
    vec_opts *vec;
    int64_t timeout_ms, ttl_ms;
    collected *acc_out, *acc_snaps, *vec_out, *vec_snaps;
    char err[512]; /* the job's error, if any */
} c_job;

static int discard(const spate_rows *rs, int64_t time_ms, void *ud)
{
    return 0;
}

/* mapWithState(spec) on keyed with its output into out (NULL: dropped) and its
 * snapshots into snaps (when set). */
static int add_c_state(spate_stream *keyed, const spate_state_spec *spec, const char *out_decl,
                       collected *out, collected *snaps)
{
    spate_schema *os = schema_of(out_decl);
    spate_state_spec sp = *spec;
    sp.out_schema = os;
    spate_stream *mapped, *ss;
    int rc = spate_map_with_state(keyed, &sp, &mapped);
    spate_schema_free(os);
    if (!rc) rc = spate_stream_foreach_batch(mapped, out ? collect : discard, out);
    if (!rc && snaps) rc = spate_state_snapshots(mapped, &ss);
    if (!rc && snaps) rc = spate_stream_foreach_batch(ss, collect, snaps);
    return rc;
}

static int run_c_job(const char *dir, int workers, const char *const *items, c_job *j)
{
    spate_ctx *ctx = ctx_with(workers, 20, dir);
    spate_stream *keyed = keyed_queue(ctx, items);
    spate_state_spec acc = {.fn = acc_fn, .c_size = j->acc_size};
    spate_state_spec vec = {.fn = vec_fn,
                            .ud = j->vec,
                            .c_size = sizeof(c_vec),
                            .c_serialize = vec_serialize,
                            .c_deserialize = vec_deserialize,
                            .c_free = vec_free,
                            .timeout_ms = j->timeout_ms,
                            .ttl_ms = j->ttl_ms};
    int rc = 0;
    if (j->acc_size)
        rc = add_c_state(keyed, &acc, "k STRING, sum BIGINT, n BIGINT, max BIGINT", j->acc_out,
                         j->acc_snaps);
    if (!rc && j->vec)
        rc = add_c_state(keyed, &vec, "k STRING, n BIGINT, sum BIGINT, t INT", j->vec_out,
                         j->vec_snaps);
    if (!rc) rc = run_job(ctx);
    if (rc) snprintf(j->err, sizeof j->err, "%s / %s", spate_last_error(), spate_ctx_error(ctx));
    spate_ctx_free(ctx);
    return rc;
}

/* A plain struct per key over three micro-batches: exact sums, counts and maxima,
 * and the snapshots carry its raw bytes. */
static void test_c_plain_struct(void)
{
    for (int w = 1; w <= 2; w++) {
        c_job j = {.acc_size = sizeof(c_acc)};
        j.acc_out = collected_new();
        j.acc_snaps = collected_bytes(acc_text);
        REQUIRE_OK(run_c_job(NULL, w, kv_items, &j));
        check_batches(
            j.acc_out, w,
            (const char *const[]){"a,1,1,1;b,2,1,2;a,4,2,3", "b,7,2,5;c,1,1,1", "a,14,3,10", NULL});
        check_batches(j.acc_snaps, w,
                      (const char *const[]){"a,4/2/3;b,2/1/2", "a,4/2/3;b,7/2/5;c,1/1/1",
                                            "a,14/3/10;b,7/2/5;c,1/1/1", NULL});
        free(j.acc_out);
        free(j.acc_snaps);
    }
}

/* Objects owning heap memory: removal frees them (a removed key starts afresh),
 * the rest are freed with the context; the snapshots use c_serialize. */
static void test_c_heap_object(void)
{
    for (int w = 1; w <= 2; w++) {
        c_job j = {.vec = vec_opts_new()};
        j.vec->remove_above = 5;
        j.vec_out = collected_new();
        j.vec_snaps = collected_bytes(vec_text);
        REQUIRE_OK(run_c_job(NULL, w, kv_items, &j));
        check_batches(
            j.vec_out, w,
            (const char *const[]){"a,1,1,0;b,1,2,0;a,2,4,0", "b,2,7,0;c,1,1,0", "a,3,14,0", NULL});
        check_batches(j.vec_snaps, w, (const char *const[]){"a,1|3;b,2", "a,1|3;c,1", "c,1", NULL});
        CHECK_EQ_INT(j.vec->owned, 0);
        CHECK_EQ_INT(j.vec->frees, 3); /* b and a removed, c at the end */
        free(j.vec);
        free(j.vec_out);
        free(j.vec_snaps);
    }
    CHECK_NO_LEAKS();
}

/* Timeout 50 ms: "a" reads its object in the timing-out call, then it is freed;
 * TTL 50 ms frees it without a call. */
static void test_c_timeout_ttl(void)
{
    for (int ttl = 0; ttl <= 1; ttl++) {
        c_job j = {.vec = vec_opts_new()};
        j.timeout_ms = ttl ? 0 : 50;
        j.ttl_ms = ttl ? 50 : 0;
        j.vec_out = collected_new();
        REQUIRE_OK(run_c_job(NULL, 1, idle_items, &j));
        check_batches(j.vec_out, 1,
                      (const char *const[]){"a,1,1,0;b,1,1,0", "b,2,2,0", "b,3,3,0",
                                            ttl ? "b,4,4,0" : "b,4,4,0;a,1,1,1", "b,5,5,0",
                                            "b,6,6,0", NULL});
        CHECK_EQ_INT(j.vec->owned, 0);
        CHECK_EQ_INT(j.vec->frees, 2);
        free(j.vec);
        free(j.vec_out);
    }
    CHECK_NO_LEAKS();
}

/* Two runs on one checkpoint directory: the second continues both C states, the
 * plain one restored from raw bytes, the heap one through c_deserialize. */
static void test_c_checkpoint_roundtrip(void)
{
    static const char *const first[] = {"a,1\nb,2\na,3\n", "b,5\nc,1\n", NULL};
    static const char *const second[] = {"a,10\n", NULL};
    for (int w = 1; w <= 2; w++) {
        char dir[] = "/tmp/spate-cstate-ckpt-XXXXXX";
        REQUIRE_OK(mkdtemp(dir) == NULL);
        c_job j = {.acc_size = sizeof(c_acc), .vec = vec_opts_new()};
        j.acc_out = collected_new();
        j.acc_snaps = collected_new(); /* the same job both times: with snapshots */
        j.vec_snaps = collected_new();
        REQUIRE_OK(run_c_job(dir, w, first, &j));
        check_batches(j.acc_out, w,
                      (const char *const[]){"a,1,1,1;b,2,1,2;a,4,2,3", "b,7,2,5;c,1,1,1", NULL});
        free(j.acc_out);
        free(j.acc_snaps);
        free(j.vec_snaps);
        j.acc_out = collected_new();
        j.acc_snaps = collected_bytes(acc_text);
        j.vec_snaps = collected_bytes(vec_text);
        REQUIRE_OK(run_c_job(dir, w, second, &j));
        check_batches(j.acc_out, 2, (const char *const[]){"a,14,3,10", NULL});
        check_batches(j.acc_snaps, 2, (const char *const[]){"a,14/3/10;b,7/2/5;c,1/1/1", NULL});
        check_batches(j.vec_snaps, 2, (const char *const[]){"a,1|3|10;b,2|5;c,1", NULL});
        CHECK_EQ_INT(j.vec->owned, 0);
        free(j.acc_out);
        free(j.acc_snaps);
        free(j.vec_snaps);
        free(j.vec);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK_EQ_INT(system(cmd), 0);
    }
    CHECK_NO_LEAKS();
}

static void test_c_spec_errors(void)
{
    spate_ctx *ctx = ctx_new(1, 20);
    spate_schema *st = schema_of("total BIGINT"), *os = schema_of("x INT");
    spate_stream *keyed = keyed_queue(ctx, kv_items), *out;
    spate_state_spec spec = {.out_schema = os, .fn = acc_fn, .c_size = sizeof(c_acc)};
    REQUIRE_OK(spate_map_with_state(keyed, &spec, &out));
    spec.state_schema = st;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "c_size") != NULL);
    spec.state_schema = NULL;
    spec.initial_state_csv = "/nonexistent";
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    spec = (spate_state_spec){.state_schema = st, .out_schema = os, .fn = acc_fn};
    spec.c_free = vec_free;
    CHECK_EQ_INT(spate_map_with_state(keyed, &spec, &out), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "need c_size") != NULL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
    spate_schema_free(os);
}

/* Asks for a C object of a row state (a misuse). */
static int row_object_fn(const spate_row *key, const spate_row *value, spate_state *state,
                         spate_out *out, void *ud)
{
    return spate_state_object(state) ? -1 : 0;
}

/* spate_state_update on a C state, and spate_state_object on a row state, fail the
 * job with SPATE_ESTATE. */
static void test_c_misuse(void)
{
    c_job j = {.acc_size = sizeof(c_acc)};
    spate_ctx *ctx = ctx_new(1, 20);
    spate_state_spec spec = {.fn = acc_fn, .ud = &j, .c_size = sizeof(c_acc)};
    REQUIRE_OK(add_c_state(keyed_queue(ctx, kv_items), &spec,
                           "k STRING, s BIGINT, n BIGINT, m BIGINT", NULL, NULL));
    CHECK_EQ_INT(run_job(ctx), SPATE_ESTATE);
    CHECK(strstr(spate_ctx_error(ctx), "spate_state_object") != NULL);
    spate_ctx_free(ctx);
    ctx = ctx_new(1, 20);
    spate_schema *st = schema_of("total BIGINT");
    spec = (spate_state_spec){.state_schema = st, .fn = row_object_fn};
    REQUIRE_OK(add_c_state(keyed_queue(ctx, kv_items), &spec,
                           "k STRING, s BIGINT, n BIGINT, m BIGINT", NULL, NULL));
    CHECK_EQ_INT(run_job(ctx), SPATE_ESTATE);
    CHECK(strstr(spate_ctx_error(ctx), "c_size") != NULL);
    spate_ctx_free(ctx);
    spate_schema_free(st);
}

/* Restore errors: c_deserialize failing, and raw bytes of another length than
 * c_size, fail the second run with a message saying so. */
static void test_c_restore_errors(void)
{
    static const char *const first[] = {"a,1\nb,2\n", NULL};
    static const char *const second[] = {"a,10\n", NULL};
    for (int raw = 0; raw <= 1; raw++) {
        char dir[] = "/tmp/spate-cstate-bad-XXXXXX";
        REQUIRE_OK(mkdtemp(dir) == NULL);
        c_job j = {.acc_size = raw ? sizeof(c_acc) : 0, .vec = raw ? NULL : vec_opts_new()};
        REQUIRE_OK(run_c_job(dir, 1, first, &j));
        if (raw)
            j.acc_size = sizeof(c_acc) + 8;
        else
            j.vec->deserialize_fails = 1;
        CHECK(run_c_job(dir, 1, second, &j) != 0);
        CHECK(strstr(j.err, raw ? "c_size is 32" : "c_deserialize returned -1") != NULL);
        if (!raw) CHECK_EQ_INT(j.vec->owned, 0);
        free(j.vec);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK_EQ_INT(system(cmd), 0);
    }
    CHECK_NO_LEAKS();
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
    {"state_c_plain_struct", test_c_plain_struct},
    {"state_c_heap_object", test_c_heap_object},
    {"state_c_timeout_ttl", test_c_timeout_ttl},
    {"state_c_checkpoint_roundtrip", test_c_checkpoint_roundtrip},
    {"state_c_spec_errors", test_c_spec_errors},
    {"state_c_misuse", test_c_misuse},
    {"state_c_restore_errors", test_c_restore_errors},
    {NULL, NULL},
};
