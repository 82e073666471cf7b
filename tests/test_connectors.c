/*
 * test_connectors.c - the connectors driven through the public API only.
 *
 * Every job here is small and ends on its own (count, once, reconnect=false, a
 * closed queue) or is stopped once the rows it must deliver have arrived, so no
 * test depends on timing beyond generous upper bounds. Rows are collected by a
 * callback sink as text lines "col|col|..." and compared as sorted sets where the
 * order is not part of the contract.
 */
#include "test.h"

#include "spate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

typedef struct collector {
    pthread_mutex_t mu;
    char **lines;
    size_t n, cap;
    size_t sizes[64];     /* rows per callback call (first 64 calls) */
    atomic_int calls;
    atomic_size_t count;
    int fail_with;        /* returned by the callback when nonzero */
} collector;

static void collector_init(collector *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->lines[i]);
    free(c->lines);
    pthread_mutex_destroy(&c->mu);
}

static void format_cell(const spate_row *r, const spate_schema *s, int col, char *out, size_t n)
{
    if (spate_row_is_null(r, col)) {
        snprintf(out, n, "NULL");
        return;
    }
    spate_type t = spate_schema_type(s, col);
    if (t == SPATE_FLOAT64) {
        snprintf(out, n, "%.17g", spate_row_double(r, col));
    } else if (t == SPATE_STRING || t == SPATE_BYTES) {
        spate_str v = spate_row_str(r, col);
        snprintf(out, n, "%.*s", (int)v.len, v.ptr);
    } else {
        snprintf(out, n, "%lld", (long long)spate_row_int(r, col));
    }
}

static char *row_line(const spate_row *r, const spate_schema *s)
{
    char line[1024] = "";
    for (int c = 0; c < spate_row_ncols(r); c++) {
        char cell[256];
        format_cell(r, s, c, cell, sizeof cell);
        if (c) strncat(line, "|", sizeof line - strlen(line) - 1);
        strncat(line, cell, sizeof line - strlen(line) - 1);
    }
    return strdup(line);
}

static int collect(const spate_rows *rs, int64_t time_ms, void *ud)
{
    collector *c = ud;
    pthread_mutex_lock(&c->mu);
    int call = atomic_fetch_add(&c->calls, 1);
    if (call < 64) c->sizes[call] = spate_rows_count(rs);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 256;
            c->lines = realloc(c->lines, c->cap * sizeof *c->lines);
        }
        c->lines[c->n++] = row_line(&r, spate_rows_schema(rs));
    }
    atomic_store(&c->count, c->n);
    pthread_mutex_unlock(&c->mu);
    return c->fail_with;
}

/* The collected lines sorted and joined with ',' (for exact comparisons). */
static char *sorted_joined(collector *c)
{
    if (c->n) qsort(c->lines, c->n, sizeof *c->lines, sp_test_cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < c->n; i++) len += strlen(c->lines[i]) + 1;
    char *out = calloc(1, len);
    for (size_t i = 0; i < c->n; i++) {
        if (i) strcat(out, ",");
        strcat(out, c->lines[i]);
    }
    return out;
}

static void check_sorted(collector *c, const char *expected)
{
    char *got = sorted_joined(c);
    CHECK_EQ_STR(got, expected);
    free(got);
}

/* A context with workers, micro-batch interval and batch size; more conf as pairs. */
static spate_ctx *new_ctx(int workers, const char *interval_ms, const char *rows,
                          const char *const *extra)
{
    spate_conf *conf = spate_conf_new();
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    spate_conf_set(conf, "workers", w);
    spate_conf_set(conf, "batch.interval.ms", interval_ms);
    spate_conf_set(conf, "batch.rows", rows);
    for (int i = 0; extra && extra[i]; i += 2) spate_conf_set(conf, extra[i], extra[i + 1]);
    spate_ctx *ctx = NULL;
    int rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    if (rc) fprintf(stderr, "  spate_ctx_new: %s\n", spate_last_error());
    return ctx;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits until the collector holds at least n rows (at most 10 s). */
static int wait_rows(collector *c, size_t n)
{
    for (int i = 0; i < 2000 && atomic_load(&c->count) < n; i++) sleep_ms(5);
    return atomic_load(&c->count) >= n;
}

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    spate_schema_parse(decl, &s);
    return s;
}

static void make_tmpdir(char *out, size_t n)
{
    snprintf(out, n, "/tmp/spate-conn-XXXXXX");
    if (!mkdtemp(out)) out[0] = 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Writes name.tmp then renames it into place, as a well-behaved producer does. */
static void move_in(const char *dir, const char *name, const char *text)
{
    char tmp[1024], path[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    write_file(dir, tmp, text);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rename(tmp, path);
}

/* Whole file as a string (caller frees); "" when missing. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int count_char(const char *s, char ch)
{
    int n = 0;
    for (; *s; s++) n += *s == ch;
    return n;
}

/* ----------------------------------------------------------- generator */

static void run_generator(int workers, const char *rows, collector *c)
{
    spate_ctx *ctx = new_ctx(workers, "0", rows, NULL);
    const char *opts[] = {"count", "3000", "keys", "97", "seed", "7", "interval", "2ms", NULL};
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, opts, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, c));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_ctx_free(ctx);
}

static int cmp_seq(const void *a, const void *b)
{
    long long x = atoll(*(char *const *)a), y = atoll(*(char *const *)b);
    return (x > y) - (x < y);
}

static void conn_generator_deterministic(void)
{
    collector one, two;
    collector_init(&one);
    collector_init(&two);
    run_generator(1, "1024", &one);
    run_generator(2, "64", &two);
    CHECK_EQ_INT(one.n, 3000);
    CHECK_EQ_INT(two.n, 3000);
    qsort(one.lines, one.n, sizeof(char *), cmp_seq);
    qsort(two.lines, two.n, sizeof(char *), cmp_seq);
    for (size_t i = 0; i < one.n && i < two.n; i++) {
        long long seq, key, ts;
        double v;
        CHECK_EQ_STR(one.lines[i], two.lines[i]);
        CHECK(sscanf(one.lines[i], "%lld|%lld|%lf|%lld", &seq, &key, &v, &ts) == 4);
        CHECK_EQ_INT(seq, i);
        CHECK(key >= 0 && key < 97);
        CHECK(v >= 0 && v < 100);
        CHECK_EQ_INT(ts, 1700000000000LL * 1000 + seq * 2000);
        if (sp_test_failures) break;
    }
    collector_free(&one);
    collector_free(&two);
}

static void conn_generator_rate(void)
{
    collector c;
    collector_init(&c);
    spate_ctx *ctx = new_ctx(2, "0", "64", NULL);
    const char *opts[] = {"count", "300", "rate", "2000", NULL};
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, opts, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, &c));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    CHECK_EQ_INT(c.n, 300);
    spate_ctx_free(ctx);
    collector_free(&c);
}

/* ------------------------------------------------------------ blackhole */

static void conn_blackhole(void)
{
    spate_ctx *ctx = new_ctx(2, "0", "1024", NULL);
    const char *opts[] = {"count", "20000", NULL};
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, opts, &s));
    REQUIRE_OK(spate_sink_open(s, "blackhole", NULL));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_metrics m;
    REQUIRE_OK(spate_ctx_metrics(ctx, &m));
    CHECK_EQ_INT(m.records_in, 20000);
    CHECK_EQ_INT(m.records_out, 20000);
    spate_ctx_free(ctx);
}

/* An unbounded generator ends on a graceful stop. */
static void conn_generator_unbounded_stop(void)
{
    spate_ctx *ctx = new_ctx(2, "0", "1024", NULL);
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, NULL, &s));
    REQUIRE_OK(spate_sink_open(s, "blackhole", NULL));
    REQUIRE_OK(spate_ctx_start(ctx));
    sleep_ms(50);
    CHECK_EQ_INT(spate_ctx_stop(ctx, 1), 0);
    spate_metrics m;
    REQUIRE_OK(spate_ctx_metrics(ctx, &m));
    CHECK(m.records_in > 0);
    CHECK_EQ_INT(m.records_out, m.records_in);
    spate_ctx_free(ctx);
}

/* ---------------------------------------------------------------- stdin */

static void *stdin_writer(void *arg)
{
    int fd = *(int *)arg;
    static const char *const parts[] = {"id,name\n1,a\n2,", "b\nx,bad\n3,\"c\nd\"\n", "4,e"};
    for (int i = 0; i < 3; i++) {
        if (write(fd, parts[i], strlen(parts[i])) < 0) break;
        sleep_ms(20);
    }
    close(fd);
    return NULL;
}

static void conn_stdin_pipe(void)
{
    char dir[64], dl[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(dl, sizeof dl, "%s/dead.jsonl", dir);
    int p[2];
    REQUIRE_OK(pipe(p));
    dup2(p[0], 0);
    close(p[0]);
    const char *conf[] = {"dead_letter.path", dl, NULL};
    spate_ctx *ctx = new_ctx(1, "0", "2", conf);
    spate_schema *schema = schema_of("id INT, name STRING");
    const char *opts[] = {"format", "csv", "header", "true", NULL};
    collector c;
    collector_init(&c);
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "stdin", schema, opts, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, &c));
    REQUIRE_OK(spate_ctx_start(ctx));
    pthread_t t;
    pthread_create(&t, NULL, stdin_writer, &p[1]);
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    pthread_join(t, NULL);
    check_sorted(&c, "1|a,2|b,3|c\nd,4|e");
    spate_metrics m;
    spate_ctx_metrics(ctx, &m);
    CHECK_EQ_INT(m.bad_records, 1);
    spate_ctx_free(ctx);
    char *dead = slurp(dl);
    CHECK(strstr(dead, "stdin:4") != NULL);
    free(dead);
    spate_schema_free(schema);
    collector_free(&c);
}

/* --------------------------------------------------------------- socket */

typedef struct server {
    int lfd, port;
    const char *msgs[4]; /* one per connection accepted, in order */
} server;

static int server_listen(server *sv)
{
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(sv->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(sv->lfd, 4) < 0 ||
        getsockname(sv->lfd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    sv->port = ntohs(a.sin_port);
    return 0;
}

static void *server_main(void *arg)
{
    server *sv = arg;
    for (int i = 0; i < 4 && sv->msgs[i]; i++) {
        int fd = accept(sv->lfd, NULL, NULL);
        if (fd < 0) break;
        if (write(fd, sv->msgs[i], strlen(sv->msgs[i])) < 0) perror("write");
        close(fd);
    }
    close(sv->lfd);
    return NULL;
}

static spate_ctx *socket_job(server *sv, const char *reconnect, collector *c)
{
    spate_ctx *ctx = new_ctx(1, "0", "64", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", sv->port);
    const char *opts[] = {"port", port, "format", "text", "reconnect", reconnect,
                          "backoff.initial", "10ms", "backoff.max", "50ms", NULL};
    spate_stream *s;
    if (spate_source_open(ctx, "socket", NULL, opts, &s) || spate_sink_callback(s, collect, c) ||
        spate_ctx_start(ctx)) {
        fprintf(stderr, "  socket job: %s\n", spate_last_error());
        spate_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static void conn_socket_reconnect(void)
{
    server sv = {.msgs = {"a\nb\n", "c\nd"}};
    REQUIRE_OK(server_listen(&sv));
    pthread_t t;
    pthread_create(&t, NULL, server_main, &sv);
    collector c;
    collector_init(&c);
    spate_ctx *ctx = socket_job(&sv, "true", &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK(wait_rows(&c, 4));
    pthread_join(t, NULL);
    CHECK_EQ_INT(spate_ctx_stop(ctx, 1), 0);
    check_sorted(&c, "a,b,c,d");
    spate_ctx_free(ctx);
    collector_free(&c);
}

static void conn_socket_no_reconnect(void)
{
    server sv = {.msgs = {"x\ny\nz"}};
    REQUIRE_OK(server_listen(&sv));
    pthread_t t;
    pthread_create(&t, NULL, server_main, &sv);
    collector c;
    collector_init(&c);
    spate_ctx *ctx = socket_job(&sv, "false", &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    pthread_join(t, NULL);
    check_sorted(&c, "x,y,z");
    spate_ctx_free(ctx);
    collector_free(&c);
}

/* No server and reconnect=false: the job fails, naming the address. */
static void conn_socket_refused(void)
{
    server sv = {0};
    REQUIRE_OK(server_listen(&sv));
    close(sv.lfd);
    collector c;
    collector_init(&c);
    spate_ctx *ctx = socket_job(&sv, "false", &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), SPATE_EIO);
    CHECK(strstr(spate_ctx_error(ctx), "cannot connect") != NULL);
    spate_ctx_free(ctx);
    collector_free(&c);
}

/* ---------------------------------------------------------------- files */

static spate_ctx *files_job(const char *const *opts, const char *const *conf, collector *c)
{
    spate_ctx *ctx = new_ctx(1, "0", "64", conf);
    spate_schema *schema = schema_of("id INT, name STRING");
    spate_stream *s;
    int rc = spate_source_open(ctx, "files", schema, opts, &s);
    if (!rc) rc = spate_sink_callback(s, collect, c);
    if (!rc) rc = spate_ctx_start(ctx);
    spate_schema_free(schema);
    if (rc) {
        fprintf(stderr, "  files job: %s\n", spate_last_error());
        spate_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static void conn_files_stream(void)
{
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    const char *opts[] = {"path", dir, "poll.interval", "10ms", NULL};
    collector c;
    collector_init(&c);
    spate_ctx *ctx = files_job(opts, NULL, &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    write_file(dir, ".hidden", "9,h\n");
    write_file(dir, "c.tmp", "8,t\n");
    write_file(dir, "d.part", "7,p\n");
    move_in(dir, "b.csv", "1,x\n2,y\n");
    CHECK(wait_rows(&c, 2));
    move_in(dir, "a.csv", "3,z");
    CHECK(wait_rows(&c, 3));
    sleep_ms(100);
    CHECK_EQ_INT(spate_ctx_stop(ctx, 1), 0);
    check_sorted(&c, "1|x,2|y,3|z");
    spate_ctx_free(ctx);
    collector_free(&c);
}

/* Runs a once=true job over dir and returns the sorted rows it read. */
static char *files_once(const char *dir, const char *log)
{
    const char *opts[] = {"path", dir, "once", "true", "pattern", "*.csv", "header", "true",
                          "processed.log", log, NULL};
    collector c;
    collector_init(&c);
    spate_ctx *ctx = files_job(opts, NULL, &c);
    char *rows = NULL;
    if (ctx) {
        CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
        rows = sorted_joined(&c);
        spate_ctx_free(ctx);
    }
    collector_free(&c);
    return rows ? rows : strdup("(job failed)");
}

static void conn_files_once_processed_log(void)
{
    char dir[64], log[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/processed.log", dir);
    write_file(dir, "a.csv", "id,name\n1,a\n");
    write_file(dir, "b.csv", "name,id\nb,2\nc,3");
    write_file(dir, ".dot.csv", "id,name\n9,x\n");
    write_file(dir, "c.csv.tmp", "id,name\n8,y\n");
    char *rows = files_once(dir, log);
    CHECK_EQ_STR(rows, "1|a,2|b,3|c");
    free(rows);
    char *logged = slurp(log);
    CHECK_EQ_STR(logged, "a.csv\nb.csv\n");
    free(logged);
    rows = files_once(dir, log);
    CHECK_EQ_STR(rows, "");
    free(rows);
    write_file(dir, "d.csv", "id,name\n4,d\n");
    rows = files_once(dir, log);
    CHECK_EQ_STR(rows, "4|d");
    free(rows);
}

static void conn_files_bad_records(void)
{
    char dir[64], dl[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(dl, sizeof dl, "%s/dead.jsonl", dir);
    char in[128];
    snprintf(in, sizeof in, "%s/in", dir);
    mkdir(in, 0755);
    write_file(in, "f.csv", "1,a\nzz,b\n2,c\nyy,d\n");
    const char *opts[] = {"path", in, "once", "true", NULL};
    const char *conf[] = {"dead_letter.path", dl, NULL};
    collector c;
    collector_init(&c);
    spate_ctx *ctx = files_job(opts, conf, &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    check_sorted(&c, "1|a,2|c");
    spate_metrics m;
    spate_ctx_metrics(ctx, &m);
    CHECK_EQ_INT(m.bad_records, 2);
    spate_ctx_free(ctx);
    char *dead = slurp(dl);
    CHECK_EQ_INT(count_char(dead, '\n'), 2);
    CHECK(strstr(dead, "f.csv:2") != NULL);
    CHECK(strstr(dead, "f.csv:4") != NULL);
    free(dead);
    collector_free(&c);
}

/* Policy fail: the first bad record ends the job with its position. */
static void conn_files_bad_fail(void)
{
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    write_file(dir, "f.csv", "1,a\nzz,b\n2,c\n");
    const char *opts[] = {"path", dir, "once", "true", NULL};
    const char *conf[] = {"bad_records.policy", "fail", NULL};
    collector c;
    collector_init(&c);
    spate_ctx *ctx = files_job(opts, conf, &c);
    CHECK(ctx != NULL);
    if (!ctx) return;
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), SPATE_EPARSE);
    CHECK(strstr(spate_ctx_error(ctx), "f.csv:2") != NULL);
    spate_ctx_free(ctx);
    collector_free(&c);
}

static void conn_files_sink(void)
{
    char dir[64], out[128], part[192];
    make_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out/nested", dir);
    snprintf(part, sizeof part, "%s/part-00000.csv", out);
    spate_ctx *ctx = new_ctx(2, "0", "16", NULL);
    const char *gen[] = {"count", "50", NULL};
    const char *opts[] = {"path", out, "header", "true", NULL};
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, gen, &s));
    REQUIRE_OK(spate_sink_open(s, "files", opts));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_ctx_free(ctx);
    char *text = slurp(part);
    CHECK(strncmp(text, "seq,key,value,ts\n", 17) == 0);
    CHECK_EQ_INT(count_char(text, '\n'), 51);
    free(text);
}

static void conn_console_sink(void)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    fflush(stdout);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    spate_ctx *ctx = new_ctx(1, "0", "64", NULL);
    spate_schema *schema = schema_of("id INT, name STRING");
    spate_queue *q;
    spate_stream *s;
    REQUIRE_OK(spate_source_queue(ctx, schema, 0, &q, &s));
    REQUIRE_OK(spate_sink_open(s, "console", NULL));
    REQUIRE_OK(spate_queue_push(q, "1,a\n2,b\n", 8));
    REQUIRE_OK(spate_queue_push(q, "3,c", 3));
    REQUIRE_OK(spate_queue_close(q));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_ctx_free(ctx);
    spate_schema_free(schema);
    char *text = slurp(path);
    CHECK_EQ_STR(text, "1,a\n2,b\n3,c\n");
    free(text);
}

/* ---------------------------------------------------------------- queue */

static void run_queue(int one_at_a_time, collector *c, spate_metrics *m)
{
    spate_ctx *ctx = new_ctx(1, "20", "64", NULL);
    spate_schema *schema = schema_of("id INT, name STRING");
    spate_queue *q;
    spate_stream *s;
    REQUIRE_OK(spate_source_queue(ctx, schema, one_at_a_time, &q, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, c));
    REQUIRE_OK(spate_queue_push(q, "1,a\n2,b\n", 8));
    REQUIRE_OK(spate_queue_push(q, "3,c\n", 4));
    REQUIRE_OK(spate_queue_push(q, "4,d\n5,e\n6,f", 11));
    REQUIRE_OK(spate_queue_close(q));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    spate_ctx_metrics(ctx, m);
    spate_ctx_free(ctx);
    spate_schema_free(schema);
}

static void conn_queue_one_at_a_time(void)
{
    collector c;
    collector_init(&c);
    spate_metrics m;
    run_queue(1, &c, &m);
    CHECK_EQ_INT(atomic_load(&c.calls), 3);
    CHECK_EQ_INT(c.sizes[0], 2);
    CHECK_EQ_INT(c.sizes[1], 1);
    CHECK_EQ_INT(c.sizes[2], 3);
    /* Items went to micro-batches 0, 1 and 2; the last one ends with the input and
     * the metric counts only the boundaries passed before that. */
    CHECK(m.batches >= 2);
    check_sorted(&c, "1|a,2|b,3|c,4|d,5|e,6|f");
    collector_free(&c);
}

static void conn_queue_all_available(void)
{
    collector c;
    collector_init(&c);
    spate_metrics m;
    run_queue(0, &c, &m);
    CHECK_EQ_INT(atomic_load(&c.calls), 1);
    check_sorted(&c, "1|a,2|b,3|c,4|d,5|e,6|f");
    collector_free(&c);
}

/* Pushes while the job runs (continuous style); a bad record is counted. */
static void conn_queue_live(void)
{
    const char *conf[] = {"bad_records.policy", "skip", NULL};
    spate_ctx *ctx = new_ctx(2, "0", "64", conf);
    spate_schema *schema = schema_of("id INT, name STRING");
    spate_queue *q;
    spate_stream *s;
    collector c;
    collector_init(&c);
    REQUIRE_OK(spate_source_queue(ctx, schema, 1, &q, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, &c));
    REQUIRE_OK(spate_ctx_start(ctx));
    REQUIRE_OK(spate_queue_push(q, "1,a\n", 4));
    CHECK(wait_rows(&c, 1));
    REQUIRE_OK(spate_queue_push(q, "oops,b\n2,c\n", 11));
    REQUIRE_OK(spate_queue_close(q));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), 0);
    check_sorted(&c, "1|a,2|c");
    spate_metrics m;
    spate_ctx_metrics(ctx, &m);
    CHECK_EQ_INT(m.bad_records, 1);
    spate_ctx_free(ctx);
    spate_schema_free(schema);
    collector_free(&c);
}

/* ------------------------------------------------------------- callback */

static void conn_callback_error(void)
{
    collector c;
    collector_init(&c);
    c.fail_with = 7;
    spate_ctx *ctx = new_ctx(1, "0", "64", NULL);
    const char *opts[] = {"count", "10", NULL};
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, opts, &s));
    REQUIRE_OK(spate_sink_callback(s, collect, &c));
    REQUIRE_OK(spate_ctx_start(ctx));
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 30000), SPATE_EUSER);
    CHECK(strstr(spate_ctx_error(ctx), "returned 7") != NULL);
    spate_ctx_free(ctx);
    collector_free(&c);
}

/* --------------------------------------------------------------- errors */

static void expect_source_error(spate_ctx *ctx, const char *name, const char *const *opts,
                                int code, const char *needle)
{
    spate_stream *s = NULL;
    spate_schema *schema = schema_of("line STRING");
    int rc = spate_source_open(ctx, name, name && strcmp(name, "generator") ? schema : NULL,
                               opts, &s);
    CHECK_EQ_INT(rc, code);
    if (!strstr(spate_last_error(), needle))
        fprintf(stderr, "  '%s' not in: %s\n", needle, spate_last_error());
    CHECK(strstr(spate_last_error(), needle) != NULL);
    spate_schema_free(schema);
}

static void conn_errors(void)
{
    spate_ctx *ctx = new_ctx(1, "0", "64", NULL);
    const char *bogus[] = {"bogus", "1", NULL};
    const char *bad_count[] = {"count", "many", NULL};
    const char *no_port[] = {"host", "127.0.0.1", NULL};
    expect_source_error(ctx, "nope", NULL, SPATE_ENOTFOUND, "nope");
    expect_source_error(ctx, "generator", bogus, SPATE_EINVAL, "bogus");
    expect_source_error(ctx, "generator", bad_count, SPATE_EINVAL, "count");
    expect_source_error(ctx, "socket", no_port, SPATE_EINVAL, "port");
    expect_source_error(ctx, "files", NULL, SPATE_EINVAL, "path");
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, NULL, &s));
    CHECK_EQ_INT(spate_sink_open(s, "nope2", NULL), SPATE_ENOTFOUND);
    CHECK(strstr(spate_last_error(), "nope2") != NULL);
    CHECK_EQ_INT(spate_sink_open(s, "files", NULL), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "path") != NULL);
    spate_ctx_free(ctx);
}

/* Values checked when the job starts: the message names the option. */
static void conn_open_errors(void)
{
    spate_ctx *ctx = new_ctx(1, "0", "64", NULL);
    const char *opts[] = {"path", "/nonexistent/spate-dir", NULL};
    spate_schema *schema = schema_of("line STRING");
    spate_stream *s;
    REQUIRE_OK(spate_source_open(ctx, "files", schema, opts, &s));
    REQUIRE_OK(spate_sink_open(s, "blackhole", NULL));
    CHECK(spate_ctx_start(ctx) == SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "not a directory") != NULL);
    spate_ctx_free(ctx);
    ctx = new_ctx(1, "0", "64", NULL);
    const char *keys[] = {"keys", "0", NULL};
    REQUIRE_OK(spate_source_open(ctx, "generator", NULL, keys, &s));
    REQUIRE_OK(spate_sink_open(s, "blackhole", NULL));
    CHECK(spate_ctx_start(ctx) == SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "keys") != NULL);
    spate_ctx_free(ctx);
    spate_schema_free(schema);
}

const sp_test tests_connectors[] = {
    {"conn_generator_deterministic", conn_generator_deterministic},
    {"conn_generator_rate", conn_generator_rate},
    {"conn_generator_unbounded_stop", conn_generator_unbounded_stop},
    {"conn_blackhole", conn_blackhole},
    {"conn_stdin_pipe", conn_stdin_pipe},
    {"conn_socket_reconnect", conn_socket_reconnect},
    {"conn_socket_no_reconnect", conn_socket_no_reconnect},
    {"conn_socket_refused", conn_socket_refused},
    {"conn_files_stream", conn_files_stream},
    {"conn_files_once_processed_log", conn_files_once_processed_log},
    {"conn_files_bad_records", conn_files_bad_records},
    {"conn_files_bad_fail", conn_files_bad_fail},
    {"conn_files_sink", conn_files_sink},
    {"conn_console_sink", conn_console_sink},
    {"conn_queue_one_at_a_time", conn_queue_one_at_a_time},
    {"conn_queue_all_available", conn_queue_all_available},
    {"conn_queue_live", conn_queue_live},
    {"conn_callback_error", conn_callback_error},
    {"conn_errors", conn_errors},
    {"conn_open_errors", conn_open_errors},
    {NULL, NULL}};
