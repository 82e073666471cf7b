/*
 * fraud.c - accounts whose spending runs far above their historic average.
 *
 * The transaction-analysis job of the Spark Streaming walkthrough: per account,
 * the running average of all its transactions and the average of the last 10
 * seconds, each compared with the account's historic average; an account is
 * flagged when either exceeds the historic one by more than 2000.
 *
 * Composition, one micro-batch at a time (all operators are per batch):
 *
 *   transactions --key_by(account)--+--updateStateByKey (total, n)------------+
 *                                   |                                        join LEFT
 *                                   +--map_values (amount, 1)                 |
 *                                      --reduceByKeyAndWindow(+, -, 10 s, SLIDE)
 *   join --mapWithState (state: avg_amount from historic.csv) --> alerts
 *
 * - The running (sum, count) is updateStateByKey, not a running aggregate_by_key
 *   AVG: it emits EVERY account with state each batch, so every batch re-checks
 *   every account and prints all that are flagged, not only those just touched.
 * - The window keeps (sum, count) with an inverse function: each slide adds the
 *   entering batch and subtracts the leaving one instead of re-adding 10 seconds
 *   of batches; the average is divided out only when compared. An account with
 *   no transaction in the last 10 seconds drops out of the window, so the left
 *   join gives it a NULL window average (and it can only be flagged by its
 *   running average).
 * - spate has no stream-table join yet, so the historic table is loaded as the
 *   initial state of a mapWithState (StateSpec.initialState, a CSV file): each
 *   worker reads the accounts it owns at start. The function only reads that
 *   state, never updates it, so it acts as a keyed lookup table. An account
 *   missing from historic.csv has nothing to compare with and is never flagged.
 * - The window slides by --slide (default 1000 ms, the default interval): the
 *   builder cannot see the batch interval through the public API, and both the
 *   10-second length and the slide must be multiples of it (the window operator
 *   refuses the job otherwise, naming the interval).
 *
 * Each batch prints the flagged accounts and saves them as OUTPUT/alerts-TIME.csv:
 * account, n (transactions so far), running_avg, window_avg, historic_avg and
 * reason ("running", "window" or "running+window").
 */
#include "examples.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define FRAUD_SCHEMA "account STRING, amount DOUBLE, ts TIMESTAMP"
#define FRAUD_WINDOW_MS 10000
#define FRAUD_MARGIN 2000.0

static const char *const account_key[] = {"account"};

/* updateStateByKey: adds the batch's amounts (value column 0) to (total, n). */
static int running_update(const spate_row *key, const spate_group *values, const spate_row *state,
                          spate_out *new_state, void *ud)
{
    (void)key, (void)ud;
    double total = state ? spate_row_double(state, 0) : 0.0;
    int64_t n = state ? spate_row_int(state, 1) : 0;
    size_t count = spate_group_count(values, 0);
    for (size_t i = 0; i < count; i++) {
        spate_row v;
        int rc = spate_group_get(values, 0, i, &v);
        if (rc) return rc;
        total += spate_row_double(&v, 0);
    }
    spate_out_set_double(new_state, 0, total);
    spate_out_set_int(new_state, 1, n + (int64_t)count);
    return 1;
}

static int running_totals(spate_stream *keyed, spate_stream **out)
{
    spate_schema *schema = NULL;
    int rc = spate_schema_parse("total DOUBLE, n BIGINT", &schema);
    if (rc) return rc;
    rc = spate_update_state_by_key(keyed, schema, running_update, NULL, out);
    spate_schema_free(schema);
    return rc;
}

/* One transaction as a window value: (its amount, a count of 1). */
static int to_sum_count(const spate_row *in, spate_out *out, void *ud)
{
    (void)ud;
    spate_out_set_double(out, 0, spate_row_double(in, 0));
    return spate_out_set_int(out, 1, 1);
}

static int add_sum_count(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    (void)ud;
    spate_out_set_double(out, 0, spate_row_double(a, 0) + spate_row_double(b, 0));
    return spate_out_set_int(out, 1, spate_row_int(a, 1) + spate_row_int(b, 1));
}

/* The inverse of add_sum_count: removes the leaving batch's (sum, count). */
static int sub_sum_count(const spate_row *a, const spate_row *b, spate_out *out, void *ud)
{
    (void)ud;
    spate_out_set_double(out, 0, spate_row_double(a, 0) - spate_row_double(b, 0));
    return spate_out_set_int(out, 1, spate_row_int(a, 1) - spate_row_int(b, 1));
}

static int window_totals(spate_stream *keyed, int64_t slide_ms, spate_stream **out)
{
    spate_schema *schema = NULL;
    spate_stream *pairs;
    int rc = spate_schema_parse("win_sum DOUBLE, win_n BIGINT", &schema);
    if (rc) return rc;
    rc = spate_map_values(keyed, schema, to_sum_count, NULL, &pairs);
    spate_schema_free(schema);
    if (rc) return rc;
    return spate_reduce_by_key_and_window(pairs, add_sum_count, sub_sum_count, NULL,
                                          FRAUD_WINDOW_MS, slide_ms, out);
}

/* Why an account is flagged ("" = it is not); window_avg < 0 means no window. */
static const char *flag_reason(double running_avg, double window_avg, double historic)
{
    int by_running = running_avg > historic + FRAUD_MARGIN;
    int by_window = window_avg >= 0 && window_avg > historic + FRAUD_MARGIN;
    if (by_running && by_window) return "running+window";
    if (by_running) return "running";
    return by_window ? "window" : "";
}

/* mapWithState over the joined (total, n, win_sum, win_n): the state is the
 * historic average, only read. Emits the row of a flagged account. */
static int check_account(const spate_row *key, const spate_row *value, spate_state *state,
                         spate_out *out, void *ud)
{
    (void)ud;
    spate_row historic;
    if (!value || spate_state_get(state, &historic) != 0) return 0;
    int64_t n = spate_row_int(value, 1);
    double running_avg = spate_row_double(value, 0) / (double)n;
    int has_window = !spate_row_is_null(value, 3) && spate_row_int(value, 3) > 0;
    double window_avg = has_window ? spate_row_double(value, 2) / spate_row_double(value, 3) : -1;
    double hist = spate_row_double(&historic, 0);
    const char *reason = flag_reason(running_avg, window_avg, hist);
    if (!reason[0]) return 0;
    spate_out_set_from(out, 0, key, 0);
    spate_out_set_int(out, 1, n);
    spate_out_set_double(out, 2, running_avg);
    if (has_window) spate_out_set_double(out, 3, window_avg);
    spate_out_set_double(out, 4, hist);
    spate_out_set_str(out, 5, reason, strlen(reason));
    return spate_out_emit(out);
}

static int flag_accounts(spate_stream *joined, const char *historic_csv, spate_stream **out)
{
    spate_schema *state = NULL, *alerts = NULL;
    int rc = spate_schema_parse("avg_amount DOUBLE", &state);
    if (rc == 0)
        rc = spate_schema_parse("account STRING, n BIGINT, running_avg DOUBLE, window_avg DOUBLE, "
                                "historic_avg DOUBLE, reason STRING",
                                &alerts);
    if (rc == 0) {
        spate_state_spec spec = {.state_schema = state,
                                 .out_schema = alerts,
                                 .fn = check_account,
                                 .initial_state_csv = historic_csv};
        rc = spate_map_with_state(joined, &spec, out);
    }
    spate_schema_free(state);
    spate_schema_free(alerts);
    return rc;
}

/* --slide as a positive number of milliseconds. */
static int parse_slide(const char *text, int64_t *slide_ms)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || v <= 0) return ex_error(SPATE_EINVAL, "bad --slide '%s'", text);
    *slide_ms = v;
    return 0;
}

/* Transactions -> joined (total, n, win_sum, win_n) per account, every batch. */
static int account_totals(spate_ctx *ctx, const ex_args *args, spate_stream **out)
{
    int64_t slide_ms = 0; /* set by parse_slide unless it fails */
    spate_stream *tx, *keyed, *running, *window;
    int rc = parse_slide(ex_arg(args, "slide"), &slide_ms);
    if (rc == 0)
        rc = ex_open_csv_dir(ctx, FRAUD_SCHEMA, ex_arg(args, "input"), ex_flag(args, "once"), &tx);
    if (rc == 0) rc = spate_key_by(tx, 1, account_key, &keyed);
    if (rc == 0) rc = running_totals(keyed, &running);
    if (rc == 0) rc = window_totals(keyed, slide_ms, &window);
    if (rc == 0) rc = spate_join(running, window, SPATE_JOIN_LEFT, out);
    return rc;
}

int ex_fraud(spate_ctx *ctx, const ex_args *args)
{
    const char *output = ex_arg(args, "output");
    char prefix[PATH_MAX];
    int rc = ex_make_dirs(output);
    if (rc == 0) rc = ex_join_path(prefix, sizeof prefix, output, "alerts");
    if (rc) return rc;

    spate_stream *joined, *alerts;
    rc = account_totals(ctx, args, &joined);
    if (rc == 0) rc = flag_accounts(joined, ex_arg(args, "historic"), &alerts);
    if (rc == 0) rc = spate_stream_print(alerts, 20);
    if (rc == 0) rc = spate_stream_save_as_text_files(alerts, prefix, "csv", "csv");
    return rc;
}
