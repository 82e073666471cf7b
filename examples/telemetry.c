/*
 * telemetry.c - running heart-rate summaries per patient and visit.
 *
 * The use case of a cardiac telemetry company: wearables drop CSV files of vitals
 * on a file server, and every (patient, visit) needs its minimum, maximum and
 * mean heart rate kept current. In Spark this takes mapWithState and a hand-made
 * summary record; here the key is the two columns (no string concatenation) and
 * the summary is four built-in running aggregates, so no state code is written.
 * The mean is kept as sum and count by the engine, which is why it is exact and
 * cheap however long the stream runs.
 *
 * Each batch prints the summaries it updated and saves them as
 * OUTPUT/summary-TIME.csv; the newest line of a key across those files is its
 * current summary.
 *
 * With --checkpoint-dir the running aggregates and the source's position survive
 * a restart, and the summaries go to the files sink instead (OUTPUT/summary/
 * part-*.csv, each with a header): it publishes a part only once the checkpoint
 * covering its rows is complete, so after a crash and restart every update is in
 * the published parts exactly once. save_as_text_files stays the output without
 * checkpoints: it writes each batch's file at once, which after a crash would
 * hold updates the restored state then repeats (at-least-once at best). Printing
 * is for watching and makes no such promise.
 */
#include "examples.h"
#include "runtime/runtime.h" /* sp_ctx_checkpointing: the setting the CLI applied */

#include <limits.h>

#define TELEMETRY_SCHEMA "patient_id STRING, visit STRING, timestamp TIMESTAMP, heart_rate INT"

static const char *const key_cols[] = {"patient_id", "visit"};

static const spate_agg summary_aggs[] = {
    {SPATE_AGG_MIN, "heart_rate", "min_hr", 0},
    {SPATE_AGG_MAX, "heart_rate", "max_hr", 0},
    {SPATE_AGG_AVG, "heart_rate", "mean_hr", 0},
    {SPATE_AGG_COUNT, NULL, "n", 0},
};

/* Exactly-once files when checkpointing, else one file per batch (see above). */
static int save_summary(spate_stream *summary, const char *prefix, int checkpointing)
{
    if (!checkpointing) return spate_stream_save_as_text_files(summary, prefix, "csv", "csv");
    const char *const options[] = {"path", prefix, "format", "csv", "header", "true", NULL};
    return spate_sink_open(summary, "files", options);
}

int ex_telemetry(spate_ctx *ctx, const ex_args *args)
{
    const char *output = ex_arg(args, "output");
    char prefix[PATH_MAX];
    int rc = ex_make_dirs(output);
    if (rc == 0) rc = ex_join_path(prefix, sizeof prefix, output, "summary");
    if (rc) return rc;

    spate_stream *readings, *keyed, *summary;
    rc = ex_open_csv_dir(ctx, TELEMETRY_SCHEMA, ex_arg(args, "input"), ex_flag(args, "once"),
                         &readings);
    if (rc == 0) rc = spate_key_by(readings, 2, key_cols, &keyed);
    if (rc == 0) {
        int naggs = (int)(sizeof summary_aggs / sizeof summary_aggs[0]);
        rc = spate_aggregate_by_key(keyed, naggs, summary_aggs, 1, &summary);
    }
    if (rc == 0) rc = spate_stream_print(summary, 20);
    if (rc == 0) rc = save_summary(summary, prefix, sp_ctx_checkpointing(ctx));
    return rc;
}
