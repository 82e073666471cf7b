/*
 * test_ckpt_connectors.c - replayable sources (files, generator) and the files
 * sink's two-phase commit under checkpoints. A crash cannot happen in process, so
 * the crash tests fork a child that runs the job and SIGKILL it at a random
 * moment (seeded), several times, then let a last run finish: the union of the
 * published part files must be the input exactly, as a sorted multiset.
 */
#include "checkpoint/serde.h"
#include "connectors/internal.h"
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NFILES = 20, ROWS_PER_FILE = 400, GEN_COUNT = 12000, KILLS = 6 };

typedef struct job {
    char in[256], out[256], ckpt[256];
    const char *delivery;
    int generator; /* else files */
    int slow_us;   /* per row in the filter, so kills land mid-run */
} job;

static int slow_keep(const spate_row *row, void *ud)
{
    const job *j = ud;
    if (j->slow_us) usleep((useconds_t)j->slow_us);
    return 1;
}

static void job_dirs(job *j, const char *tag)
{
    char base[] = "/tmp/spate-ckc-XXXXXX";
    if (!mkdtemp(base)) abort();
    snprintf(j->in, sizeof j->in, "%s/in", base);
    snprintf(j->out, sizeof j->out, "%s/out-%s", base, tag);
    snprintf(j->ckpt, sizeof j->ckpt, "%s/ckpt", base);
    mkdir(j->in, 0755);
}

/* NFILES CSV files with a header; row k of file f is "f*1000+k,rF-K". */
static void write_inputs(const job *j)
{
    for (int f = 0; f < NFILES; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/in-%02d.csv", j->in, f);
        FILE *fp = fopen(path, "w");
        fprintf(fp, "id,name\n");
        for (int k = 0; k < ROWS_PER_FILE; k++)
            fprintf(fp, "%d,r%d-%d\n", f * 1000 + k, f, k);
        fclose(fp);
    }
}

static spate_ctx *build(job *j, const char *interval_ms)
{
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", "2");
    spate_conf_set(conf, "batch.interval.ms", "10");
    spate_conf_set(conf, "batch.rows", "128"); /* many batches: barriers between them */
    spate_conf_set(conf, "log.level", getenv("CKC_LOG") ? getenv("CKC_LOG") : "warn");
    spate_conf_set(conf, "checkpoint.interval.ms", interval_ms);
    spate_conf_set(conf, "checkpoint.dir", j->ckpt);
    spate_conf_set(conf, "delivery", j->delivery);
    spate_ctx *ctx = NULL;
    if (spate_ctx_new(conf, &ctx)) abort();
    spate_conf_free(conf);
    spate_stream *s, *kept;
    int rc;
    if (j->generator) {
        const char *o[] = {"count", "12000", NULL};
        rc = spate_source_open(ctx, "generator", NULL, o, &s);
    } else {
        spate_schema *schema;
        spate_schema_parse("id BIGINT, name STRING", &schema);
        const char *o[] = {"path", j->in, "format", "csv", "header", "true", "once", "true", NULL};
        rc = spate_source_open(ctx, "files", schema, o, &s);
        spate_schema_free(schema);
    }
    const char *so[] = {"path", j->out, "format", "csv", NULL};
    if (!rc) rc = spate_filter(s, slow_keep, j, &kept);
    if (!rc) rc = spate_sink_open(kept, "files", so);
    if (rc) {
        fprintf(stderr, "  build: %s\n", spate_last_error());
        abort();
    }
    return ctx;
}

/* Runs the job to its end in this process; 0 when it ended normally. */
static int run_job(job *j, const char *interval_ms)
{
    spate_ctx *ctx = build(j, interval_ms);
    int rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    if (rc) fprintf(stderr, "  run: %s\n", spate_last_error());
    spate_ctx_free(ctx);
    return rc;
}

/* Runs the job in children killed after 20-300 ms, then once to the end. */
static void run_with_kills(job *j, unsigned seed)
{
    srand(seed);
    int kills = 0;
    for (int i = 0; i < KILLS; i++) {
        pid_t pid = fork();
        if (pid == 0) _exit(run_job(j, "30") ? 3 : 0);
        usleep((useconds_t)(20000 + rand() % 280000));
        kills += kill(pid, SIGKILL) == 0;
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) {
            CHECK_EQ_INT(WEXITSTATUS(status), 0);
            break; /* it finished before the kill */
        }
    }
    CHECK(kills > 0);
    pid_t pid = fork();
    if (pid == 0) _exit(run_job(j, "30") ? 3 : 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- reading the output */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = strdup(s);
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Every line of the published files (names not starting with '.'), sorted;
 * *hidden counts the unpublished parts left over, *files the published ones. */
static lines read_output(const char *dir, int *files, int *hidden)
{
    lines l = {0};
    *files = *hidden = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') {
            *hidden += strstr(e->d_name, ".inprogress") || strstr(e->d_name, ".pending");
            continue;
        }
        char path[512], buf[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "r");
        while (fp && fgets(buf, sizeof buf, fp)) {
            buf[strcspn(buf, "\n")] = 0;
            lines_add(&l, buf);
        }
        if (fp) fclose(fp);
        (*files)++;
    }
    if (d) closedir(d);
    if (l.n) qsort(l.v, l.n, sizeof *l.v, sp_test_cmp_str);
    return l;
}

static lines expected_inputs(void)
{
    lines l = {0};
    char buf[64];
    for (int f = 0; f < NFILES; f++)
        for (int k = 0; k < ROWS_PER_FILE; k++) {
            snprintf(buf, sizeof buf, "%d,r%d-%d", f * 1000 + k, f, k);
            lines_add(&l, buf);
        }
    qsort(l.v, l.n, sizeof *l.v, sp_test_cmp_str);
    return l;
}

/* Output and expected are the same sorted multiset. */
static void check_exact(const lines *got, const lines *want)
{
    CHECK_EQ_INT(got->n, want->n);
    size_t bad = 0;
    for (size_t i = 0; i < got->n && i < want->n; i++)
        bad += strcmp(got->v[i], want->v[i]) != 0;
    CHECK_EQ_INT(bad, 0);
}

/* Generator output: every seq below count exactly once. */
static void check_generator_exact(const lines *got)
{
    char *seen = calloc(GEN_COUNT, 1);
    size_t dup = 0, out_of_range = 0, missing = 0;
    for (size_t i = 0; i < got->n; i++) {
        long long seq = atoll(got->v[i]);
        if (seq < 0 || seq >= GEN_COUNT)
            out_of_range++;
        else
            dup += seen[seq]++ != 0;
    }
    for (int s = 0; s < GEN_COUNT; s++)
        missing += !seen[s];
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(out_of_range, 0);
    CHECK_EQ_INT(missing, 0);
    free(seen);
}

/* ---- tests */

/* (a) Checkpoints every ~50 ms, no crash: count rows exactly, in several parts. */
static void ckpt_conn_generator_to_files(void)
{
    job j = {.delivery = "exactly-once", .generator = 1, .slow_us = 20};
    job_dirs(&j, "a");
    REQUIRE_OK(run_job(&j, "50"));
    int files, hidden;
    lines got = read_output(j.out, &files, &hidden);
    check_generator_exact(&got);
    CHECK(files > 1);
    CHECK_EQ_INT(hidden, 0);
    lines_free(&got);
}

/* (b) files -> filter -> files, exactly-once, killed and restarted. */
static void ckpt_conn_files_kill_exactly_once(void)
{
    job j = {.delivery = "exactly-once", .slow_us = 40};
    job_dirs(&j, "b");
    write_inputs(&j);
    run_with_kills(&j, 12345);
    int files, hidden;
    lines got = read_output(j.out, &files, &hidden), want = expected_inputs();
    check_exact(&got, &want);
    CHECK_EQ_INT(hidden, 0);
    lines_free(&got);
    lines_free(&want);
}

/* (c) The same with the generator. */
static void ckpt_conn_generator_kill_exactly_once(void)
{
    job j = {.delivery = "exactly-once", .generator = 1, .slow_us = 25};
    job_dirs(&j, "c");
    run_with_kills(&j, 777);
    int files, hidden;
    lines got = read_output(j.out, &files, &hidden);
    check_generator_exact(&got);
    CHECK_EQ_INT(hidden, 0);
    lines_free(&got);
}

/* (d) At-least-once: one file, every input row at least once. */
static void ckpt_conn_files_kill_at_least_once(void)
{
    job j = {.delivery = "at-least-once", .slow_us = 40};
    job_dirs(&j, "d");
    write_inputs(&j);
    run_with_kills(&j, 4242);
    int files, hidden;
    lines got = read_output(j.out, &files, &hidden), want = expected_inputs();
    CHECK_EQ_INT(files, 1);
    size_t missing = 0;
    for (size_t i = 0; i < want.n; i++)
        missing += !bsearch(&want.v[i], got.v, got.n, sizeof *got.v, sp_test_cmp_str);
    CHECK_EQ_INT(missing, 0);
    CHECK(got.n >= want.n);
    lines_free(&got);
    lines_free(&want);
}

/* Restores pos[0..n) into a freshly opened source of cls; returns the code. */
static int restore_prefix(const sp_source_class *cls, const spate_schema *schema,
                          const char *const *opts, const sp_wbuf *w, size_t n)
{
    sp_source s = {.cls = cls, .schema = schema, .ninstances = 1};
    if (sp_opts_parse(&s.opts, "test", cls->opts, cls->uses_format ? sp_format_opt_defs : NULL,
                      opts))
        return -1000;
    if (cls->uses_format && sp_format_from_opts(&s.fmt, &s.opts, schema)) return -1001;
    if (cls->open(&s)) return -1002;
    sp_rbuf r;
    sp_rbuf_init(&r, w->p, n);
    int rc = cls->restore(&s, &r);
    cls->close(&s);
    sp_opts_free(&s.opts);
    return rc;
}

/* (e) A truncated or unreadable saved position fails the restore, saying so. */
static void ckpt_conn_bad_position(void)
{
    const char *gen_opts[] = {"count", "10", NULL};
    sp_wbuf w = {0};
    sp_w_u8(&w, 1);
    sp_w_i64(&w, 1);
    sp_w_i64(&w, 5);
    spate_schema *gs = sp_generator_source.fixed_schema();
    CHECK_EQ_INT(restore_prefix(&sp_generator_source, gs, gen_opts, &w, w.len), 0);
    CHECK_EQ_INT(restore_prefix(&sp_generator_source, gs, gen_opts, &w, w.len - 3), SPATE_EPARSE);
    CHECK(strstr(spate_last_error(), "generator") && strstr(spate_last_error(), "corrupt"));
    sp_wbuf_free(&w);

    job j = {0};
    job_dirs(&j, "e");
    write_inputs(&j);
    const char *files_opts[] = {"path", j.in, "format", "csv", "header", "true", NULL};
    spate_schema *fs;
    spate_schema_parse("id BIGINT, name STRING", &fs);
    sp_w_u8(&w, 1);
    sp_w_varint(&w, 1);
    sp_w_str(&w, "in-00.csv");
    sp_w_u8(&w, 1);
    sp_w_str(&w, "in-01.csv");
    sp_w_i64(&w, 20);
    sp_w_i64(&w, 3);
    sp_w_i64(&w, 8);
    CHECK_EQ_INT(restore_prefix(&sp_files_source, fs, files_opts, &w, w.len), 0);
    for (size_t n = 0; n < w.len; n += 5)
        CHECK_EQ_INT(restore_prefix(&sp_files_source, fs, files_opts, &w, n), SPATE_EPARSE);
    CHECK(strstr(spate_last_error(), "source 'files'") != NULL);
    sp_wbuf_free(&w);
    spate_schema_free(gs);
    spate_schema_free(fs);
}

const sp_test tests_ckpt_connectors[] = {
    {"ckpt_conn_generator_to_files", ckpt_conn_generator_to_files},
    {"ckpt_conn_files_kill_exactly_once", ckpt_conn_files_kill_exactly_once},
    {"ckpt_conn_generator_kill_exactly_once", ckpt_conn_generator_kill_exactly_once},
    {"ckpt_conn_files_kill_at_least_once", ckpt_conn_files_kill_at_least_once},
    {"ckpt_conn_bad_position", ckpt_conn_bad_position},
    {NULL, NULL}};
