/*
 * fraud_state.c - every transaction checked and marked, with mapWithState.
 *
 * The mapWithState variant of the fraud example: each transaction comes out
 * again with flagged = amount > 4000, and each account keeps (n, total) as its
 * state so the row also carries the account's running count and average after
 * that transaction.
 *
 * Design choices:
 * - mapWithState rather than updateStateByKey: the output is one row per
 *   transaction (a map), and only accounts with transactions in the batch are
 *   visited, not every account with state.
 * - The Spark walkthrough first gathers each account's transactions of a
 *   10-second window into a list so that its function sees them together; spate's
 *   mapping function is called per record in arrival order, which is all a
 *   per-transaction flag and a running average need, so no window is used here
 *   (the windowed average is the fraud example's job).
 * - n is emitted with each row: a transaction's running average depends on the
 *   order of its account's transactions, n says where in that order it was.
 *
 * Each batch prints its rows and saves them as OUTPUT/marked-TIME.csv:
 * account, amount, ts, flagged, n, running_avg.
 */
#include "examples.h"

#include <limits.h>

#define FRAUD_STATE_SCHEMA "account STRING, amount DOUBLE, ts TIMESTAMP"
#define FRAUD_STATE_LIMIT 4000.0

static const char *const account_key[] = {"account"};

/* value: (amount, ts); state: (n, total). Emits the transaction, marked. */
static int mark_transaction(const spate_row *key, const spate_row *value, spate_state *state,
                            spate_out *out, void *ud)
{
    (void)ud;
    spate_row cur;
    spate_out *next;
    if (!value) return 0; /* no timeout is set: never called without a value */
    int has = spate_state_get(state, &cur) == 0;
    int64_t n = (has ? spate_row_int(&cur, 0) : 0) + 1;
    double amount = spate_row_double(value, 0);
    double total = (has ? spate_row_double(&cur, 1) : 0.0) + amount;
    int rc = spate_state_update(state, &next);
    if (rc) return rc;
    spate_out_set_int(next, 0, n);
    spate_out_set_double(next, 1, total);

    spate_out_set_from(out, 0, key, 0);
    spate_out_set_double(out, 1, amount);
    spate_out_set_from(out, 2, value, 1);
    spate_out_set_int(out, 3, amount > FRAUD_STATE_LIMIT);
    spate_out_set_int(out, 4, n);
    spate_out_set_double(out, 5, total / (double)n);
    return spate_out_emit(out);
}

static int mark_all(spate_stream *keyed, spate_stream **out)
{
    spate_schema *state = NULL, *marked = NULL;
    int rc = spate_schema_parse("n BIGINT, total DOUBLE", &state);
    if (rc == 0)
        rc = spate_schema_parse("account STRING, amount DOUBLE, ts TIMESTAMP, flagged BOOL, "
                                "n BIGINT, running_avg DOUBLE",
                                &marked);
    if (rc == 0) {
        spate_state_spec spec = {
            .state_schema = state, .out_schema = marked, .fn = mark_transaction};
        rc = spate_map_with_state(keyed, &spec, out);
    }
    spate_schema_free(state);
    spate_schema_free(marked);
    return rc;
}

int ex_fraud_state(spate_ctx *ctx, const ex_args *args)
{
    const char *output = ex_arg(args, "output");
    char prefix[PATH_MAX];
    int rc = ex_make_dirs(output);
    if (rc == 0) rc = ex_join_path(prefix, sizeof prefix, output, "marked");
    if (rc) return rc;

    spate_stream *tx, *keyed, *marked;
    rc =
        ex_open_csv_dir(ctx, FRAUD_STATE_SCHEMA, ex_arg(args, "input"), ex_flag(args, "once"), &tx);
    if (rc == 0) rc = spate_key_by(tx, 1, account_key, &keyed);
    if (rc == 0) rc = mark_all(keyed, &marked);
    if (rc == 0) rc = spate_stream_print(marked, 20);
    if (rc == 0) rc = spate_stream_save_as_text_files(marked, prefix, "csv", "csv");
    return rc;
}
