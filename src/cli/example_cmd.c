/*
 * example_cmd.c - `spate example`: list, describe and run the built-in examples.
 *
 * Options come in two kinds. The common ones (workers, interval, bad-record
 * policy, dead-letter path) are engine settings: they are validated here and go
 * into spate_conf, so every example honours them the same way. The others are
 * declared by the example in its table entry (examples.c) and handed to its
 * builder as ex_args. Both accept `--name value` and `--name=value`.
 *
 * Values are checked before the engine sees them so that a typo is a usage
 * error (status 2) with a hint, not a failed job (status 1).
 */
#include "cli.h"
#include "examples.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct common_opt {
    const char *name;
    const char *metavar;
    const char *conf_key;
    const char *help;
    int (*valid)(const char *value); /* NULL: any value */
} common_opt;

static int valid_positive(const char *v)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno == 0 && end != v && *end == '\0' && n > 0 && n <= 1000000;
}

static int valid_delivery(const char *v)
{
    return strcmp(v, "at-most-once") == 0 || strcmp(v, "at-least-once") == 0 ||
           strcmp(v, "exactly-once") == 0;
}

static int valid_policy(const char *v)
{
    return strcmp(v, "skip") == 0 || strcmp(v, "dead-letter") == 0 || strcmp(v, "fail") == 0;
}

enum { OPT_INTERVAL = 1, NCOMMON = 7 };

static const common_opt common_opts[NCOMMON] = {
    {"workers", "N", "workers", "worker threads (default: the number of cores)", valid_positive},
    {"interval", "MS", "batch.interval.ms", "micro-batch interval in milliseconds", valid_positive},
    {"bad-records", "POLICY", "bad_records.policy",
     "malformed records: skip | dead-letter | fail (default: dead-letter)", valid_policy},
    {"dead-letter", "PATH", "dead_letter.path", "file for dead letters, - = stderr (default: -)",
     NULL},
    {"checkpoint-dir", "DIR", "checkpoint.dir",
     "checkpoint here and resume from the newest checkpoint (default: none)", NULL},
    {"checkpoint-interval", "MS", "checkpoint.interval.ms",
     "milliseconds between checkpoints (default: 10 intervals)", valid_positive},
    {"delivery", "MODE", "delivery",
     "at-most-once | at-least-once | exactly-once (default: exactly-once with "
     "--checkpoint-dir)",
     valid_delivery},
};

/* A parsed command line: common option values (NULL = not given) and the
 * example's own. */
typedef struct example_run {
    const char *common[NCOMMON];
    ex_args args;
} example_run;

static int find_common(const char *name)
{
    for (int i = 0; i < NCOMMON; i++)
        if (strcmp(common_opts[i].name, name) == 0) return i;
    return -1;
}

static void print_common_options(FILE *out)
{
    fputs("\nOptions of every example:\n", out);
    for (int i = 0; i < NCOMMON; i++)
        fprintf(out, "  --%-19s %-7s %s\n", common_opts[i].name, common_opts[i].metavar,
                common_opts[i].help);
}

void cli_example_more_help(FILE *out)
{
    fputs("\nExamples:\n", out);
    for (const ex_def *d = ex_table; d->name; d++)
        fprintf(out, "  %-18s %s\n", d->name, d->summary);
    print_common_options(out);
}

static void print_example_help(const ex_def *d, FILE *out)
{
    fprintf(out, "Usage: spate example %s [OPTIONS]\n\n%s\n\nOptions of %s:\n", d->name,
            d->description, d->name);
    for (const ex_opt *o = d->opts; o->name; o++) {
        fprintf(out, "  --%-19s %-7s %s", o->name, o->metavar ? o->metavar : "", o->help);
        if (o->def) fprintf(out, " (default: %s)", o->def);
        fputc('\n', out);
    }
    print_common_options(out);
    fprintf(out, "  (--interval defaults to %" PRId64 " for this example)\n", d->interval_ms);
}

/* Stores one option. name is the text after "--" up to an '=' (name_len long);
 * inline_value is what follows the '=', or NULL; *i is advanced past a separate
 * value. Returns 0 or CLI_USAGE (after printing the error). */
static int set_option(example_run *run, const char *name, size_t name_len, const char *inline_value,
                      int argc, char **argv, int *i)
{
    char key[64];
    if (name_len == 0 || name_len >= sizeof key)
        return cli_usage_error("example", "bad option '%s'", argv[*i]);
    memcpy(key, name, name_len);
    key[name_len] = '\0';
    const ex_def *d = run->args.def;
    int ci = find_common(key), ei = ci < 0 ? ex_opt_index(d, key) : -1;
    if (ci < 0 && ei < 0)
        return cli_usage_error("example", "unknown option '--%s' for example '%s'", key, d->name);
    if (ei >= 0 && !d->opts[ei].metavar) {
        if (inline_value) return cli_usage_error("example", "option '--%s' takes no value", key);
        run->args.given[ei] = "true";
        return 0;
    }
    const char *value = inline_value;
    if (!value) {
        if (*i + 1 >= argc) return cli_usage_error("example", "option '--%s' needs a value", key);
        value = argv[++*i];
    }
    if (ci >= 0 && common_opts[ci].valid && !common_opts[ci].valid(value))
        return cli_usage_error("example", "bad value '%s' for '--%s' (%s)", value, key,
                               common_opts[ci].help);
    if (ci >= 0)
        run->common[ci] = value;
    else
        run->args.given[ei] = value;
    return 0;
}

/* Parses argv (the arguments after the example's name) into run. */
static int parse_example_args(example_run *run, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0)
            return cli_usage_error("example", "unexpected argument '%s'", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int rc = set_option(run, name, len, eq ? eq + 1 : NULL, argc, argv, &i);
        if (rc) return rc;
    }
    return 0;
}

/* The configuration of a run: the given common options, and the example's
 * default interval when none is given. */
static int make_conf(const example_run *run, spate_conf **out)
{
    spate_conf *conf = spate_conf_new();
    if (!conf) return cli_fail("out of memory");
    char interval[32];
    snprintf(interval, sizeof interval, "%" PRId64, run->args.def->interval_ms);
    for (int i = 0; i < NCOMMON; i++) {
        const char *v = run->common[i] ? run->common[i] : (i == OPT_INTERVAL ? interval : NULL);
        if (v && spate_conf_set(conf, common_opts[i].conf_key, v) != 0) {
            int rc = cli_usage_error("example", "--%s %s: %s", common_opts[i].name, v,
                                     spate_last_error());
            spate_conf_free(conf);
            return rc;
        }
    }
    *out = conf;
    return 0;
}

/* Builds the example on a fresh context and runs it to its end. */
static int run_example(const example_run *run)
{
    spate_conf *conf = NULL;
    int status = make_conf(run, &conf);
    if (status) return status;
    cli_block_stop_signals();
    spate_ctx *ctx = NULL;
    int rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    if (rc) return cli_fail("cannot create the context: %s", spate_last_error());
    ex_clear_error();
    rc = run->args.def->build(ctx, &run->args);
    if (rc) {
        const char *msg = ex_last_error()[0] ? ex_last_error() : spate_last_error();
        status = cli_fail("example '%s': %s", run->args.def->name, msg);
    } else {
        status = cli_run_job(ctx);
    }
    spate_ctx_free(ctx);
    return status;
}

static void list_examples(void)
{
    for (const ex_def *d = ex_table; d->name; d++)
        printf("%-18s %s\n", d->name, d->summary);
}

int cli_cmd_example(int argc, char **argv)
{
    if (argc == 0) return cli_usage_error("example", "which example? (spate example --list)");
    if (cli_is_help(argv[0])) {
        cli_print_command_help(cli_find("example"), stdout);
        return CLI_OK;
    }
    if (strcmp(argv[0], "--list") == 0) {
        if (argc > 1) return cli_usage_error("example", "--list takes no arguments");
        list_examples();
        return CLI_OK;
    }
    const ex_def *d = ex_find(argv[0]);
    if (!d) return cli_usage_error("example", "unknown example '%s'", argv[0]);
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            print_example_help(d, stdout);
            return CLI_OK;
        }
    example_run run = {.args = {.def = d}};
    int status = parse_example_args(&run, argc - 1, argv + 1);
    return status ? status : run_example(&run);
}
