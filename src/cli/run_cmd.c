/*
 * run_cmd.c - `spate run [OPTIONS] job.sql`: runs a SQL script as one job.
 *
 * The script's statements run in order (sql/sql.h): DDL and SET first shape the
 * session, then every INSERT INTO and bare SELECT of the file start together as
 * one job - Flink's STATEMENT SET. Without --once the job runs until its sources
 * end or it is stopped (Ctrl-C, SIGTERM: graceful, with a final checkpoint when
 * checkpoints are on); with --once the sources read what exists now and end, the
 * end of input moves the watermark to +infinity so every window fires, the last
 * checkpoint commits, and the command exits 0 - Spark's availableNow trigger.
 */
#include "cli.h"
#include "sql/sql.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file ("-" = stdin) into a malloc'd buffer. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    if (f != stdin) fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

/* --format NAME for results; 0 or -1 for an unknown name. */
int cli_result_format(const char *name, int *fmt)
{
    static const char *const names[] = {"auto", "table", "jsonl", "csv"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *fmt = i;
            return 0;
        }
    return -1;
}

/* Records the job did not turn into results are never silent. */
static void report_dropped(const spate_ctx *ctx)
{
    spate_metrics m;
    if (spate_ctx_metrics(ctx, &m)) return;
    if (m.bad_records)
        fprintf(stderr, "spate: %llu malformed record%s (see bad_records.policy)\n",
                (unsigned long long)m.bad_records, m.bad_records == 1 ? "" : "s");
    if (m.late_records)
        fprintf(stderr, "spate: %llu late record%s dropped behind the watermark\n",
                (unsigned long long)m.late_records, m.late_records == 1 ? "" : "s");
}

int cli_cmd_run(int argc, char **argv)
{
    sq_session_opts o = {.out = stdout, .err = stderr};
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cli_print_command_help(cli_find("run"), stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--once") == 0)
            o.once = 1;
        else if (strcmp(a, "--checkpoint-dir") == 0 || strcmp(a, "--format") == 0) {
            if (i + 1 >= argc) return cli_usage_error("run", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c')
                o.checkpoint_dir = v;
            else {
                int f;
                if (cli_result_format(v, &f))
                    return cli_usage_error("run", "unknown format '%s' (table, jsonl, csv)", v);
                o.format = (sq_result_format)f;
            }
        } else if (a[0] == '-' && a[1])
            return cli_usage_error("run", "unknown option '%s'", a);
        else if (path)
            return cli_usage_error("run", "one script at a time ('%s' and '%s')", path, a);
        else
            path = a;
    }
    if (!path) return cli_usage_error("run", "which script? spate run job.sql");
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return cli_fail("cannot read '%s': %s", path, strerror(errno));
    o.source_name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    cli_block_stop_signals();
    sq_session *s;
    if (sq_session_new(&o, &s)) {
        free(text);
        return cli_fail("out of memory");
    }
    int status = CLI_OK;
    if (sq_session_exec(s, text, len))
        status = CLI_FAILED;
    else if (sq_session_has_job(s)) {
        spate_ctx *ctx;
        if (sq_session_build_job(s, &ctx))
            status = CLI_FAILED;
        else {
            status = cli_run_job(ctx);
            report_dropped(ctx);
            spate_ctx_free(ctx);
            sq_session_job_done(s);
        }
    }
    sq_session_free(s);
    free(text);
    return status;
}
