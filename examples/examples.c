/*
 * examples.c - the table of built-in examples and the helpers they share.
 *
 * The table is data, not code: the CLI parses options, lists examples and prints
 * help from it, so adding an example means one builder file plus one entry here.
 * Option defaults live in the table (not in the builders) so that --help shows
 * exactly what a run would use. Builders report their own failures (a directory
 * they cannot create) through ex_error, a single message buffer: the CLI is
 * single-threaded while it builds a job, so no locking is needed.
 */
#include "examples.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const ex_opt telemetry_opts[] = {
    {"input", "DIR", "examples/data/telemetry", "directory of CSV files to read"},
    {"output", "DIR", "out/telemetry", "directory for the summary files, created if missing"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt wordcount_socket_opts[] = {
    {"host", "HOST", "127.0.0.1", "text server to connect to (try `nc -lk 9999`)"},
    {"port", "PORT", "9999", "its TCP port"},
    {"output", "DIR", NULL, "also save each batch's counts as CSV files here"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt wordcount_dir_opts[] = {
    {"input", "DIR", "examples/data/words", "directory of text files to read"},
    {"output", "DIR", NULL, "also save each batch's counts as CSV files here"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt device_counts_opts[] = {
    {"input", "DIR", "examples/data/devices", "directory of CSV files to read"},
    {"output", "DIR", "out/device-counts", "directory for the window counts, created if missing"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt ecommerce_opts[] = {
    {"input", "DIR", "examples/data/orders", "directory of CSV files to read"},
    {"output", "DIR", "out/ecommerce", "directory for the window sums, created if missing"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt fraud_opts[] = {
    {"input", "DIR", "examples/data/fraud/transactions", "directory of CSV files to read"},
    {"historic", "FILE", "examples/data/fraud/historic.csv",
     "historic averages, CSV: account,avg_amount"},
    {"output", "DIR", "out/fraud", "directory for the alert files, created if missing"},
    {"slide", "MS", "1000", "window slide; it and the 10 s window must be multiples of --interval"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

static const ex_opt fraud_state_opts[] = {
    {"input", "DIR", "examples/data/fraud/transactions", "directory of CSV files to read"},
    {"output", "DIR", "out/fraud-state",
     "directory for the marked transactions, created if missing"},
    {"once", NULL, NULL, "read the files present, then exit"},
    {NULL, NULL, NULL, NULL},
};

const ex_def ex_table[] = {
    {"telemetry", "running min/max/mean heart rate per patient and visit",
     "Reads medical telemetry CSV files (patient_id, visit, timestamp, heart_rate) as they\n"
     "appear in a directory and keeps, per patient and visit, the running minimum,\n"
     "maximum and mean heart rate and the number of readings. Every batch prints the\n"
     "updated summaries and saves them as OUTPUT/summary-TIME.csv. Malformed rows go to\n"
     "the dead-letter output (stderr by default) and the job goes on.",
     ex_telemetry, 1000, telemetry_opts},
    {"wordcount-socket", "per-batch word counts of lines from a TCP server",
     "Connects to a TCP server sending lines of text and prints, every batch, how many\n"
     "times each word occurred in that batch (Spark's NetworkWordCount).",
     ex_wordcount_socket, 1000, wordcount_socket_opts},
    {"wordcount-dir", "running word counts of text files in a directory",
     "Reads text files as they appear in a directory and prints, every batch, the\n"
     "running count of each word the batch touched.",
     ex_wordcount_dir, 1000, wordcount_dir_opts},
    {"device-counts", "readings per device in 10-min event-time windows sliding by 5 min",
     "Reads device readings CSV files (device_id, ts, reading) as they appear in a\n"
     "directory and counts the readings of each device in 10-minute windows sliding by\n"
     "5 minutes of event time, with a watermark 10 minutes behind the latest reading.\n"
     "Each window is printed and saved as OUTPUT/counts-TIME.csv once, when final.\n"
     "Readings behind the watermark are dropped and reported as \"late records: N\".",
     ex_device_counts, 1000, device_counts_opts},
    {"ecommerce", "products bought per type: last 5 minutes, and 4-hour packing batches",
     "Reads order CSV files (order_id, product_type, qty, ts) as they appear in a\n"
     "directory and sums qty per product type over event time, with a 2-minute\n"
     "watermark: in 5-minute windows sliding by 1 minute (the last 5 minutes, every\n"
     "minute; saved as OUTPUT/last5min-TIME.csv) and in tumbling 4-hour windows (the\n"
     "warehouse's packing batches; saved as OUTPUT/packing-TIME.csv).",
     ex_ecommerce, 1000, ecommerce_opts},
    {"fraud", "accounts spending over 2000 above their historic average (running, last 10 s)",
     "Reads transaction CSV files (account, amount, ts) as they appear in a directory and\n"
     "keeps per account the running average of all its transactions and the average of\n"
     "the last 10 seconds (a window sliding by --slide). Every batch, the accounts where\n"
     "either exceeds the historic average (--historic, loaded as mapWithState initial\n"
     "state) by more than 2000 are printed and saved as OUTPUT/alerts-TIME.csv.",
     ex_fraud, 1000, fraud_opts},
    {"fraud-state", "every transaction marked flagged when above 4000 (mapWithState)",
     "Reads transaction CSV files (account, amount, ts) as they appear in a directory and\n"
     "passes each transaction through mapWithState, which keeps per account the count\n"
     "and sum of its transactions: every row comes out with flagged = amount > 4000 and\n"
     "the account's running count and average, printed and saved as\n"
     "OUTPUT/marked-TIME.csv.",
     ex_fraud_state, 1000, fraud_state_opts},
    {NULL, NULL, NULL, NULL, 0, NULL},
};

static char ex_msg[512];

const ex_def *ex_find(const char *name)
{
    for (const ex_def *d = ex_table; d->name; d++)
        if (strcmp(d->name, name) == 0) return d;
    return NULL;
}

int ex_opt_index(const ex_def *def, const char *name)
{
    for (int i = 0; def->opts[i].name; i++)
        if (strcmp(def->opts[i].name, name) == 0) return i;
    return -1;
}

const char *ex_arg(const ex_args *args, const char *name)
{
    int i = ex_opt_index(args->def, name);
    if (i < 0) return NULL;
    return args->given[i] ? args->given[i] : args->def->opts[i].def;
}

int ex_flag(const ex_args *args, const char *name)
{
    int i = ex_opt_index(args->def, name);
    return i >= 0 && args->given[i] != NULL;
}

int ex_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ex_msg, sizeof ex_msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *ex_last_error(void)
{
    return ex_msg;
}

void ex_clear_error(void)
{
    ex_msg[0] = '\0';
}

/* Creates one directory; an existing directory is fine, an existing file is not. */
static int make_dir(const char *path)
{
    struct stat st;
    if (mkdir(path, 0777) == 0) return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return ex_error(SPATE_EIO, "cannot create directory '%s': %s", path, strerror(errno));
}

int ex_make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ex_error(SPATE_EINVAL, "bad directory name '%s'", path);
    memcpy(buf, path, n + 1);
    /* Create each ancestor in turn by cutting the path at its slashes. */
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/') continue;
        buf[i] = '\0';
        int rc = make_dir(buf);
        buf[i] = '/';
        if (rc) return rc;
    }
    return make_dir(buf);
}

typedef struct late_report {
    spate_ctx *ctx;
    int reported;
    uint64_t last;
} late_report;

static int report_late(const spate_rows *rows, int64_t time_ms, void *ud)
{
    late_report *r = ud;
    spate_metrics m;
    int rc = spate_ctx_metrics(r->ctx, &m);
    if (rc) return rc;
    if (r->reported && m.late_records == r->last) return 0;
    fprintf(stderr, "late records: %llu\n", (unsigned long long)m.late_records);
    r->reported = 1;
    r->last = m.late_records;
    return 0;
}

int ex_report_late(spate_ctx *ctx, spate_stream *s)
{
    static late_report report;
    report = (late_report){ctx, 0, 0};
    return spate_stream_foreach_batch(s, report_late, &report);
}

int ex_join_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) return ex_error(SPATE_EINVAL, "path too long: '%s'", dir);
    return 0;
}

int ex_open_csv_dir(spate_ctx *ctx, const char *schema_decl, const char *input, int once,
                    spate_stream **out)
{
    spate_schema *schema = NULL;
    int rc = spate_schema_parse(schema_decl, &schema);
    if (rc) return rc;
    const char *const options[] = {
        "path", input, "format", "csv", "header", "true", "once", once ? "true" : "false", NULL};
    rc = spate_source_open(ctx, "files", schema, options, out);
    spate_schema_free(schema);
    return rc;
}
