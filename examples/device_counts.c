/*
 * device_counts.c - readings per device in 10-minute windows sliding by 5 minutes,
 * with a 10-minute watermark (Spark's withWatermark("eventTime", "10 minutes")
 * .groupBy("deviceId", window("eventTime", "10 min", "5 min")).count()).
 *
 * Devices drop CSV files of readings (device_id, ts, reading) into a directory.
 * Readings arrive out of order, and a device that was offline uploads its buffer
 * long after the fact. The watermark trails the largest event time read so far by
 * 10 minutes; a window is emitted once, when the watermark passes its end, so
 * each (device, window) line is final. A reading whose windows have all been
 * emitted already is late: the engine drops it and counts it in
 * spate_metrics.late_records, which this example reports on stderr as
 * "late records: N" whenever the count has grown (the last such line is the
 * total). The report rides on a foreachBatch output because the builder does
 * not see the end of the run; the final micro-batch comes after every record
 * went through the window, so its report is the final count.
 *
 * Each batch prints the windows it emitted and saves them as OUTPUT/counts-TIME.csv
 * (device_id, window_start, window_end, count, op).
 */
#include "examples.h"

#include <limits.h>

#define EVENTS_SCHEMA "device_id STRING, ts TIMESTAMP, reading DOUBLE"
#define MINUTE_MS (60 * 1000)

static const char *const key_cols[] = {"device_id"};
static const spate_agg count_agg = {SPATE_AGG_COUNT, NULL, "count", 0};

/* events -> event time (10 min delay) -> per device sliding COUNT. */
static int windowed_counts(spate_stream *events, spate_stream **out)
{
    const spate_event_time et = {.column = "ts", .max_delay_ms = 10 * MINUTE_MS};
    const spate_window_spec w = {
        .kind = SPATE_WINDOW_SLIDING, .size_ms = 10 * MINUTE_MS, .slide_ms = 5 * MINUTE_MS};
    spate_stream *timed, *keyed;
    int rc = spate_with_event_time(events, &et, &timed);
    if (rc == 0) rc = spate_key_by(timed, 1, key_cols, &keyed);
    if (rc == 0) rc = spate_window_aggregate(keyed, &w, 1, &count_agg, out);
    return rc;
}

int ex_device_counts(spate_ctx *ctx, const ex_args *args)
{
    const char *output = ex_arg(args, "output");
    char prefix[PATH_MAX];
    int rc = ex_make_dirs(output);
    if (rc == 0) rc = ex_join_path(prefix, sizeof prefix, output, "counts");
    if (rc) return rc;

    spate_stream *events, *counts;
    rc = ex_open_csv_dir(ctx, EVENTS_SCHEMA, ex_arg(args, "input"), ex_flag(args, "once"), &events);
    if (rc == 0) rc = windowed_counts(events, &counts);
    if (rc == 0) rc = spate_stream_print(counts, 20);
    if (rc == 0) rc = spate_stream_save_as_text_files(counts, prefix, "csv", "csv");
    if (rc == 0) rc = ex_report_late(ctx, counts);
    return rc;
}
