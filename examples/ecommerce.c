/*
 * ecommerce.c - two windows over one stream of orders
 * (order_id, product_type, qty, ts):
 *
 *  (a) "at any time, how many products of each type were bought in the last 5
 *      minutes" - for the advertising dashboards. An event-time window has fixed
 *      ends, so "at any time" is approximated by a window of 5 minutes sliding by
 *      1 minute: a fresh figure every minute, each covering exactly the 5 minutes
 *      before its end. A finer slide is closer to "any time" and costs more
 *      windows per order (size / slide); panes of gcd(size, slide) = 1 minute
 *      keep the per-order work to one pane update whatever the slide.
 *  (b) "every 4 hours, pack everything bought" - tumbling 4-hour windows
 *      (aligned to the epoch: 00:00, 04:00, 08:00 ... UTC), the quantity per type
 *      to send from the warehouse.
 *
 * Both sum qty per product type over one keyed stream with a 2-minute watermark:
 * orders confirmed out of order by up to two minutes are still counted; a
 * window is emitted once, when the watermark passes its end. Orders later than
 * that are dropped for the windows already emitted (spate_metrics.late_records).
 *
 * Each batch prints both outputs and saves them as OUTPUT/last5min-TIME.csv and
 * OUTPUT/packing-TIME.csv (product_type, window_start, window_end, qty, op).
 */
#include "examples.h"

#include <limits.h>

#define ORDERS_SCHEMA "order_id STRING, product_type STRING, qty INT, ts TIMESTAMP"
#define MINUTE_MS (60 * 1000)
#define HOUR_MS (60 * MINUTE_MS)

static const char *const key_cols[] = {"product_type"};
static const spate_agg qty_sum = {SPATE_AGG_SUM, "qty", "qty", 0};

/* The window's SUM(qty) per type, printed and saved as OUTPUT/NAME-TIME.csv. */
static int qty_per_window(spate_stream *keyed, const spate_window_spec *w, const char *output,
                          const char *name)
{
    char prefix[PATH_MAX];
    spate_stream *sums;
    int rc = ex_join_path(prefix, sizeof prefix, output, name);
    if (rc == 0) rc = spate_window_aggregate(keyed, w, 1, &qty_sum, &sums);
    if (rc == 0) rc = spate_stream_print(sums, 20);
    if (rc == 0) rc = spate_stream_save_as_text_files(sums, prefix, "csv", "csv");
    return rc;
}

int ex_ecommerce(spate_ctx *ctx, const ex_args *args)
{
    const char *output = ex_arg(args, "output");
    const spate_event_time et = {.column = "ts", .max_delay_ms = 2 * MINUTE_MS};
    const spate_window_spec last5 = {
        .kind = SPATE_WINDOW_SLIDING, .size_ms = 5 * MINUTE_MS, .slide_ms = MINUTE_MS};
    const spate_window_spec packing = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 4 * HOUR_MS};
    spate_stream *orders, *timed, *keyed;
    int rc = ex_make_dirs(output);
    if (rc == 0)
        rc = ex_open_csv_dir(ctx, ORDERS_SCHEMA, ex_arg(args, "input"), ex_flag(args, "once"),
                             &orders);
    if (rc == 0) rc = spate_with_event_time(orders, &et, &timed);
    if (rc == 0) rc = spate_key_by(timed, 1, key_cols, &keyed);
    if (rc == 0) rc = qty_per_window(keyed, &last5, output, "last5min");
    if (rc == 0) rc = qty_per_window(keyed, &packing, output, "packing");
    return rc;
}
