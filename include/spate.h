/*
 * spate.h - the public C API of spate, a stream-processing engine.
 *
 * Conventions (after libuv):
 *  - public names are spate_<noun>_<verb>; everything else is internal;
 *  - every function that can fail returns 0 or a negative SPATE_E* code;
 *    spate_strerror() names the code and spate_last_error() gives the detailed
 *    message of the last failing call on this thread;
 *  - the library never prints on the caller's behalf (except the console and
 *    print sinks, whose job that is), never exits and never aborts on bad input;
 *  - each resource has one release call: spate_schema_free, spate_conf_free,
 *    spate_ctx_free (which also frees every stream of that context).
 *
 * The shape follows Spark Streaming: a context (StreamingContext) holds the
 * configuration and the dataflow; sources create streams (DStreams); operator
 * functions derive new streams; outputs (print, save, foreach) end them; then
 * start / await termination / stop.
 */
#ifndef SPATE_H
#define SPATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPATE_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
    SPATE_OK = 0,
    SPATE_EINVAL = -1,       /* invalid argument or option */
    SPATE_ENOMEM = -2,       /* out of memory */
    SPATE_EIO = -3,          /* read/write/network failure */
    SPATE_ESTATE = -4,       /* call not allowed in the context's current state */
    SPATE_ETYPE = -5,        /* type or schema mismatch */
    SPATE_EPARSE = -6,       /* malformed input (bad_records.policy = fail) */
    SPATE_ENOTFOUND = -7,    /* unknown name (connector, column, option) */
    SPATE_ETIMEDOUT = -8,    /* await returned before the job ended */
    SPATE_EUSER = -9,        /* a user callback returned an error */
    SPATE_EUNSUPPORTED = -10 /* valid request this build or mode cannot do */
};

/* Short, static description of an error code. */
const char *spate_strerror(int err);
/* Detailed message of the last failing spate call on the calling thread. */
const char *spate_last_error(void);
/* Library version string, equal to SPATE_VERSION of the headers it was built with. */
const char *spate_version(void);

/* ----------------------------------------------------------------- types */

typedef enum spate_type {
    SPATE_BOOL = 1,
    SPATE_INT32,
    SPATE_INT64,
    SPATE_FLOAT64,
    SPATE_STRING,
    SPATE_BYTES,
    SPATE_TIMESTAMP /* int64 microseconds since the Unix epoch, UTC */
} spate_type;

const char *spate_type_name(spate_type t);

/* A string or byte value: pointer and length, not NUL-terminated. */
typedef struct spate_str {
    const char *ptr;
    size_t len;
} spate_str;

/* ---------------------------------------------------------------- schema */

typedef struct spate_schema spate_schema;

spate_schema *spate_schema_new(void); /* NULL only when out of memory */
int spate_schema_add(spate_schema *s, const char *name, spate_type type);
/* Parses "name TYPE, name TYPE, ..." (types: BOOL BOOLEAN INT INT32 BIGINT INT64
 * DOUBLE FLOAT64 STRING VARCHAR BYTES TIMESTAMP). */
int spate_schema_parse(const char *decl, spate_schema **out);
void spate_schema_free(spate_schema *s);
int spate_schema_count(const spate_schema *s);
const char *spate_schema_name(const spate_schema *s, int col);
spate_type spate_schema_type(const spate_schema *s, int col);
/* Column index of name, or SPATE_ENOTFOUND. */
int spate_schema_find(const spate_schema *s, const char *name);

/* ------------------------------------------------------------------ rows */

/* A read-only view of one row. Valid only during the callback that received it. */
typedef struct spate_row {
    const struct sp_batch *batch;
    uint32_t index;     /* physical row in batch */
    int first_col;      /* value views of keyed rows start after the key columns */
    int ncols;
} spate_row;

int spate_row_ncols(const spate_row *r);
int spate_row_is_null(const spate_row *r, int col);
/* INT32, INT64 and TIMESTAMP read as int64; BOOL as 0/1. NULL reads as 0. */
int64_t spate_row_int(const spate_row *r, int col);
/* FLOAT64, and the integer types converted. NULL reads as 0. */
double spate_row_double(const spate_row *r, int col);
/* STRING or BYTES; NULL reads as {"" , 0}. */
spate_str spate_row_str(const spate_row *r, int col);

/* The row being built by a map/flatMap/reduce callback. Columns not set are NULL. */
typedef struct spate_out spate_out;

int spate_out_set_null(spate_out *o, int col);
int spate_out_set_int(spate_out *o, int col, int64_t v);  /* BOOL, INT32, INT64, TIMESTAMP */
int spate_out_set_double(spate_out *o, int col, double v);
int spate_out_set_str(spate_out *o, int col, const char *p, size_t len); /* copied */
/* Copies column src_col of r into column col (types must match). */
int spate_out_set_from(spate_out *o, int col, const spate_row *r, int src_col);
/* flatMap-style callbacks: append the row built so far and start a new one. */
int spate_out_emit(spate_out *o);

/* --------------------------------------------------- row sets (per batch) */

/* All rows of one micro-batch of one stream, as seen by foreachBatch and slice. */
typedef struct spate_rows spate_rows;

size_t spate_rows_count(const spate_rows *rs);
/* Fills *row with row i (0 <= i < count). */
int spate_rows_get(const spate_rows *rs, size_t i, spate_row *row);
const spate_schema *spate_rows_schema(const spate_rows *rs);
/* Batch time in milliseconds since the epoch (the end of the batch interval). */
int64_t spate_rows_time(const spate_rows *rs);
/* Only for row sets returned by spate_stream_slice. */
void spate_rows_free(spate_rows *rs);

/* ----------------------------------------------------------- configuration */

typedef struct spate_conf spate_conf;

spate_conf *spate_conf_new(void);
/* Keys (defaults):
 *   workers              number of worker threads (number of cores)
 *   key_groups           key groups P, fixed per job (128)
 *   batch.interval.ms    micro-batch interval; 0 = continuous style (0)
 *   batch.rows           rows per columnar batch (1024)
 *   state.ttl.ms         drop keyed and never-closing window state idle this long (0 = never)
 *   queue.capacity       batches per exchange queue (64)
 *   bad_records.policy   skip | dead-letter | fail (dead-letter)
 *   dead_letter.path     file for dead letters, '-' = stderr (-)
 *   log.level            error | warn | info | debug (warn)
 */
int spate_conf_set(spate_conf *c, const char *key, const char *value);
const char *spate_conf_get(const spate_conf *c, const char *key); /* NULL if unset */
void spate_conf_free(spate_conf *c);

/* --------------------------------------------------------------- context */

typedef struct spate_ctx spate_ctx;
typedef struct spate_stream spate_stream;

/* Creates a context; conf is copied and may be freed after the call (NULL = defaults). */
int spate_ctx_new(const spate_conf *conf, spate_ctx **out);

/* Builds the job on a fresh context: called by spate_ctx_get_or_create. */
typedef int (*spate_create_fn)(spate_ctx *ctx, void *ud);
/* StreamingContext.getOrCreate: if checkpoint_dir holds a complete checkpoint,
 * the job is restored from it, otherwise create() builds it. Checkpoint restore
 * arrives with the checkpoint work; until then create() is always called and a
 * checkpoint_dir that already holds checkpoints is refused with SPATE_EUNSUPPORTED
 * rather than silently ignored. */
int spate_ctx_get_or_create(const char *checkpoint_dir, const spate_conf *conf,
                            spate_create_fn create, void *ud, spate_ctx **out);

int spate_ctx_start(spate_ctx *ctx);
/* Waits until the job ends (all inputs exhausted, stopped, or failed).
 * timeout_ms < 0 waits forever. Returns 0 when it ended normally, SPATE_ETIMEDOUT,
 * or the job's error code (see spate_ctx_error). */
int spate_ctx_await_termination(spate_ctx *ctx, int64_t timeout_ms);
/* graceful != 0: sources stop, everything in flight is processed, windows and
 * batches flush, sinks close. graceful == 0: stop as soon as possible, dropping
 * what is in flight. Returns after the workers have exited. Async-signal-unsafe;
 * from a signal handler use spate_ctx_request_stop. */
int spate_ctx_stop(spate_ctx *ctx, int graceful);
/* Async-signal-safe: asks for a graceful stop and returns at once. */
void spate_ctx_request_stop(spate_ctx *ctx);
/* Message of the error that ended the job, or "" . */
const char *spate_ctx_error(const spate_ctx *ctx);
void spate_ctx_free(spate_ctx *ctx);

typedef struct spate_metrics {
    uint64_t records_in;     /* records read by sources */
    uint64_t records_out;    /* records written by sinks and outputs */
    uint64_t bad_records;    /* malformed records (skipped, dead-lettered or failed) */
    uint64_t late_records;   /* records dropped behind the watermark (windows) */
    uint64_t batches;        /* micro-batch intervals elapsed (micro-batch style); a last
                                partial batch flushed by the end of input is not counted */
} spate_metrics;
int spate_ctx_metrics(const spate_ctx *ctx, spate_metrics *m);

/* --------------------------------------------------------------- sources */

/* Opens a source by connector name with options as a NULL-terminated list of
 * key, value pairs: {"path", "in/", "format", "csv", NULL}. The schema is copied;
 * it may be NULL for connectors with a fixed schema (generator) or the text
 * format (one STRING column "line"). `spate help connectors` lists every option.
 *   generator  fixed schema (seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP)
 *   stdin      lines of stdin in a format
 *   socket     lines from a TCP server (host, port), reconnecting with backoff
 *   files      a directory: each new file is read once (textFileStream)
 */
int spate_source_open(spate_ctx *ctx, const char *connector, const spate_schema *schema,
                      const char *const *options, spate_stream **out);

/* queueStream: a source fed by the caller. Each micro-batch takes one pushed
 * item (one_at_a_time) or all pushed so far; in continuous style items flow as
 * pushed. */
typedef struct spate_queue spate_queue;
int spate_source_queue(spate_ctx *ctx, const spate_schema *schema, int one_at_a_time,
                       spate_queue **q, spate_stream **out);
/* Pushes one item: text in the queue's format (CSV lines of the schema, no header). */
int spate_queue_push(spate_queue *q, const char *text, size_t len);
/* No more items: the source ends when the queue is drained. The handle stays valid
 * until this call, even after the job ended, and must not be used after it. */
int spate_queue_close(spate_queue *q);

/* ------------------------------------------------------------- operators */

typedef int (*spate_map_fn)(const spate_row *in, spate_out *out, void *ud);
typedef int (*spate_filter_fn)(const spate_row *in, void *ud); /* 1 keep, 0 drop, <0 error */
/* Combines two value rows into out (the same value schema). */
typedef int (*spate_reduce_fn)(const spate_row *a, const spate_row *b, spate_out *out,
                               void *ud);
/* transform: any per-batch function from the rows of one batch to output rows. */
typedef int (*spate_transform_fn)(const spate_rows *in, spate_out *out, void *ud);
/* groupByKey / cogroup callbacks see one key and all its values of the batch. */
typedef struct spate_group spate_group;
size_t spate_group_count(const spate_group *g, int side);       /* side 0, or 1 for cogroup */
int spate_group_get(const spate_group *g, int side, size_t i, spate_row *value);
int spate_group_key(const spate_group *g, spate_row *key);
typedef int (*spate_group_fn)(const spate_group *g, spate_out *out, void *ud);

/* map: exactly one output row (of out_schema) per input row. */
int spate_map(spate_stream *in, const spate_schema *out_schema, spate_map_fn fn, void *ud,
              spate_stream **out);
/* flatMap: zero or more rows per input row, each ended by spate_out_emit. */
int spate_flat_map(spate_stream *in, const spate_schema *out_schema, spate_map_fn fn, void *ud,
                   spate_stream **out);
int spate_filter(spate_stream *in, spate_filter_fn fn, void *ud, spate_stream **out);
/* union of streams with equal schemas */
int spate_union(spate_stream *a, spate_stream *b, spate_stream **out);
/* Redistributes rows round-robin over n partitions (n <= 0: one per worker). */
int spate_repartition(spate_stream *in, int n, spate_stream **out);
int spate_transform(spate_stream *in, const spate_schema *out_schema, spate_transform_fn fn,
                    void *ud, spate_stream **out);
/* glom: per batch and partition one row (partition INT32, n BIGINT, elements STRING),
 * elements being the partition's rows as a JSON array of arrays. */
int spate_glom(spate_stream *in, spate_stream **out);

/* Batch-at-a-time callbacks: the live rows of one batch as column arrays, row i of
 * every column being the same record. The engine calls these once per batch (up to
 * batch.rows rows) instead of once per row, which is what lets a C callback run at
 * the speed of a hand-written loop. Accessors return NULL for a column of another
 * type. The arrays are valid only during the callback. */
typedef struct spate_cols spate_cols;
size_t spate_cols_count(const spate_cols *c);
const int64_t *spate_cols_int64(const spate_cols *c, int col); /* BIGINT, TIMESTAMP */
const int32_t *spate_cols_int32(const spate_cols *c, int col);
const double *spate_cols_double(const spate_cols *c, int col);
const uint8_t *spate_cols_bool(const spate_cols *c, int col);
const spate_str *spate_cols_str(const spate_cols *c, int col); /* STRING, BYTES */
int spate_cols_is_null(const spate_cols *c, int col, size_t row);
/* Output columns of spate_map_batch: count rows to fill, every one of them (a value
 * left unset is undefined, not NULL). */
int64_t *spate_cols_out_int64(spate_cols *c, int col);
int32_t *spate_cols_out_int32(spate_cols *c, int col);
double *spate_cols_out_double(spate_cols *c, int col);
uint8_t *spate_cols_out_bool(spate_cols *c, int col);
int spate_cols_set_null(spate_cols *c, int col, size_t row);
int spate_cols_set_str(spate_cols *c, int col, size_t row, const char *p, size_t len);

/* keep[i] != 0 keeps row i; return 0, or a negative value to fail the job. */
typedef int (*spate_filter_batch_fn)(const spate_cols *in, uint8_t *keep, void *ud);
int spate_filter_batch(spate_stream *in, spate_filter_batch_fn fn, void *ud, spate_stream **out);
/* Fills every row of out (count rows of out_schema) from in. */
typedef int (*spate_map_batch_fn)(const spate_cols *in, spate_cols *out, void *ud);
int spate_map_batch(spate_stream *in, const spate_schema *out_schema, spate_map_batch_fn fn,
                    void *ud, spate_stream **out);

/* key_by: a keyed (pair) stream whose key is the named columns. Its schema puts the
 * key columns first, in the order given, then the other columns (the value). */
int spate_key_by(spate_stream *in, int nkeys, const char *const *key_cols, spate_stream **out);

/* Stream-wide aggregations: one result row per micro-batch (continuous: running). */
int spate_reduce(spate_stream *in, spate_reduce_fn fn, void *ud, spate_stream **out);
int spate_count(spate_stream *in, spate_stream **out);          /* (count BIGINT) */
int spate_count_by_value(spate_stream *in, spate_stream **out); /* (row..., count BIGINT) */

/* Keyed operators (input from spate_key_by). Per micro-batch, as in Spark; in the
 * continuous style they keep running results and emit the keys each input batch
 * touched. */
int spate_reduce_by_key(spate_stream *in, spate_reduce_fn fn, void *ud, spate_stream **out);
/* combineByKey: create makes a combiner (of comb_schema) from a value row,
 * merge_value folds a value row (a=combiner, b=value) and merge_combiners two
 * combiners. Output: key + combiner columns. */
int spate_combine_by_key(spate_stream *in, const spate_schema *comb_schema,
                         spate_map_fn create, spate_reduce_fn merge_value,
                         spate_reduce_fn merge_combiners, void *ud, spate_stream **out);
/* groupByKey: fn sees each key with all its values of the batch and emits zero or
 * more rows of out_schema with spate_out_emit; the output is the key columns
 * followed by out_schema's. fn == NULL emits every (key, value) row with each
 * key's rows adjacent. In the continuous style each input batch is grouped on its
 * own (values are not kept across batches). cogroup's fn works the same way. */
int spate_group_by_key(spate_stream *in, const spate_schema *out_schema, spate_group_fn fn,
                       void *ud, spate_stream **out);
int spate_map_values(spate_stream *in, const spate_schema *value_schema, spate_map_fn fn,
                     void *ud, spate_stream **out);
int spate_flat_map_values(spate_stream *in, const spate_schema *value_schema, spate_map_fn fn,
                          void *ud, spate_stream **out);

/* Built-in keyed aggregates (vectorized; no callback per row), for
 * spate_aggregate_by_key, spate_aggregate_changelog and spate_window_aggregate.
 * SQL rules: every kind but COUNT skips NULLs; with no non-NULL value the counts
 * give 0 and the others NULL. docs/semantics.md gives each kind's state and error. */
typedef enum spate_agg_kind {
    SPATE_AGG_COUNT = 1, /* BIGINT; col ignored */
    SPATE_AGG_SUM,       /* BIGINT for integer columns, DOUBLE for DOUBLE */
    SPATE_AGG_MIN,       /* type of the column */
    SPATE_AGG_MAX,
    SPATE_AGG_AVG,       /* DOUBLE */
    SPATE_AGG_COUNT_COLUMN,          /* BIGINT: non-NULL values of col (SQL COUNT(col)) */
    SPATE_AGG_COUNT_DISTINCT,        /* BIGINT: distinct non-NULL values (exact; state
                                        grows with the distinct values of each key:
                                        16-32 bytes each, strings plus their bytes) */
    SPATE_AGG_APPROX_COUNT_DISTINCT, /* BIGINT: HyperLogLog estimate, 4 KiB per key,
                                        relative standard error 1.6% */
    SPATE_AGG_APPROX_PERCENTILE,     /* DOUBLE: the param-quantile (0..1, nearest rank)
                                        of a numeric col: exact up to 1000 values per
                                        key, then a sketch of ~24 KiB per key with a
                                        rank error below 1% */
    SPATE_AGG_FIRST_VALUE,           /* type of col: first non-NULL value in arrival order */
    SPATE_AGG_LAST_VALUE             /* type of col: last non-NULL value in arrival order
                                        (windows: within a pane, then in pane order) */
} spate_agg_kind;
typedef struct spate_agg {
    spate_agg_kind kind;
    const char *column; /* input column name (ignored for COUNT) */
    const char *as;     /* output column name */
    double param;       /* APPROX_PERCENTILE: the quantile, 0 <= param <= 1 */
} spate_agg;
/* running == 0: per micro-batch (reduceByKey); running != 0: over the whole stream
 * so far, emitting each micro-batch the keys it updated (Flink's rolling aggregate).
 * Output: keys, then one column per aggregate named `as` (default "count" or
 * "<kind>_<column>", kinds in lower case). SPATE_EINVAL for an unkeyed input, no
 * aggregates, an unknown kind or a quantile outside [0, 1]; SPATE_ENOTFOUND for
 * an unknown column; SPATE_ETYPE for SUM, AVG or APPROX_PERCENTILE of a
 * non-numeric column. */
int spate_aggregate_by_key(spate_stream *in, int naggs, const spate_agg *aggs, int running,
                           spate_stream **out);
/* Unbounded GROUP BY as a changelog (Flink SQL's group aggregate): a running
 * aggregate that after each micro-batch (continuous style: each input batch)
 * emits, for every key whose result changed, "+I" with the result the first time
 * and afterwards "-U" with the previous result followed by "+U" with the new one;
 * a key whose result did not change emits nothing. Output: keys, aggregates, op
 * STRING. Checkpointed like the running aggregate, and expired by state.ttl.ms
 * like it (a key coming back after expiring emits "+I" again). A non-keyed stream
 * aggregates as one group. Errors as spate_aggregate_by_key's; no aggregate may
 * be named "op". */
int spate_aggregate_changelog(spate_stream *in, int naggs, const spate_agg *aggs,
                              spate_stream **out);
/* The same over an updating input (Flink SQL's group aggregate with retraction):
 * the STRING column op_column holds each row's kind - "+I" and "+U" add the row,
 * "-U" and "-D" retract one row added before with the same values (the op column
 * itself is no aggregate input). Output as spate_aggregate_changelog's; besides,
 * when a key's live rows drop to 0 it emits "-D" with the results it emitted
 * last and drops the key (a later row starts it over with "+I"). COUNT,
 * COUNT_COLUMN, SUM and AVG retract by subtraction; MIN, MAX, FIRST_VALUE,
 * LAST_VALUE and COUNT_DISTINCT keep each key's live values with their
 * multiplicities (FIRST/LAST: in arrival order; a retraction removes the oldest
 * instance of its value). A row whose kind is NULL or another text, or that
 * retracts what its key does not hold (no live row, or a value an aggregate does
 * not hold), is a malformed record: counted in bad_records, handled by
 * bad_records.policy, skipped. Checkpointed and expired like the changelog.
 * Errors as spate_aggregate_changelog's; besides SPATE_EINVAL for a NULL
 * op_column, a key op column or an aggregate of it, SPATE_ENOTFOUND for an
 * unknown one, SPATE_ETYPE for one not STRING, and SPATE_EUNSUPPORTED for
 * APPROX_COUNT_DISTINCT and APPROX_PERCENTILE, whose sketches cannot retract.
 * docs/semantics.md. */
int spate_aggregate_retract(spate_stream *in, const char *op_column, int naggs,
                            const spate_agg *aggs, spate_stream **out);

/* Joins of two keyed streams with equal key types, per micro-batch. Output: key,
 * left values, right values; the missing side of an outer join is NULL. */
typedef enum spate_join_kind {
    SPATE_JOIN_INNER = 1,
    SPATE_JOIN_LEFT,
    SPATE_JOIN_RIGHT,
    SPATE_JOIN_FULL
} spate_join_kind;
int spate_join(spate_stream *left, spate_stream *right, spate_join_kind kind,
               spate_stream **out);
/* Interval join (event time): keyed streams with equal key types, each with an
 * event-time column (left_time / right_time, TIMESTAMPs; NULL = the stream's
 * event time from spate_with_event_time). Rows l and r with equal keys join when
 *   l.time + lower_ms <= r.time <= l.time + upper_ms
 * (both inclusive; the bounds may be negative; lower_ms > upper_ms is EINVAL).
 * A pair is emitted as soon as its second row arrives. Each side's rows are kept
 * until the watermark (the minimum of both inputs') passes the last time a row
 * of the other side could still join them; then the outer kinds emit the rows
 * that never joined, NULL-padded. Rows behind the watermark are late: dropped
 * and counted in late_records (Flink's rule). Output: key, left values, right
 * values (a right name already taken gets "_right"). Works in both styles;
 * checkpointed. docs/joins.md. */
int spate_interval_join(spate_stream *left, spate_stream *right, spate_join_kind kind,
                        const char *left_time, const char *right_time, int64_t lower_ms,
                        int64_t upper_ms, spate_stream **out);
struct spate_window_spec;
/* Window join: each side's rows go to the windows of w (TUMBLING, SLIDING or
 * CUMULATE, by each side's time column as for spate_interval_join; w's triggers,
 * lateness, modes and time_column must be left 0: EUNSUPPORTED / EINVAL); when
 * the watermark passes a window's end, the rows of that window with equal keys
 * are joined (kind: inner, or outer with the missing side NULL) and the window's
 * state is dropped. Late rows (every window of theirs already fired) are dropped
 * and counted as late. Output: key, window_start, window_end, left values, right
 * values. Checkpointed. docs/joins.md. */
int spate_window_join(spate_stream *left, spate_stream *right, spate_join_kind kind,
                      const struct spate_window_spec *w, const char *left_time,
                      const char *right_time, spate_stream **out);
/* Window Top-N: a keyed stream of window results whose key columns include a
 * window_end TIMESTAMP (normally window_start, window_end and partition
 * columns); rows are grouped by the key columns, only the n best of a group are
 * kept, and when the watermark reaches a group's window_end its rows ordered by
 * order_col (a value column; desc != 0: largest first; NULLs last; ties by
 * arrival) are emitted with "row_num BIGINT" (1..n) appended, and the group is
 * dropped. Rows of a group already fired are late (dropped, counted).
 * Checkpointed. docs/windows.md. */
int spate_window_top_n(spate_stream *keyed, const char *order_col, int desc, int64_t n,
                       spate_stream **out);
/* cogroup: fn sees each key with its left (side 0) and right (side 1) values. */
int spate_cogroup(spate_stream *left, spate_stream *right, const spate_schema *out_schema,
                  spate_group_fn fn, void *ud, spate_stream **out);

const spate_schema *spate_stream_schema(const spate_stream *s);

/* ------------------------------------------------------------ event time */

/* Watermarks and event times are TIMESTAMPs: microseconds since the epoch, UTC. */
#define SPATE_WATERMARK_MIN INT64_MIN /* no watermark yet */
#define SPATE_WATERMARK_MAX INT64_MAX /* end of input: every window is due */

/* Event time and watermarks for a stream (Flink's WatermarkStrategy.
 * forBoundedOutOfOrderness). Per instance of the assigner (a source partition):
 * watermark = largest event time seen - max_delay, advanced after every batch,
 * never backwards; an instance that saw no input for idle_timeout_ms (processing
 * time) is marked idle and stops holding downstream watermarks back until it
 * sees input again. The end of input sends SPATE_WATERMARK_MAX. */
typedef struct spate_event_time {
    const char *column;      /* the event-time column */
    const char *unit;        /* BIGINT/INT columns: "s", "ms" (default) or "us" */
    const char *format;      /* STRING columns: strptime(3) format (UTC); NULL = ISO-8601 */
    int64_t max_delay_ms;    /* bounded out-of-orderness */
    int64_t idle_timeout_ms; /* 0 = an input is never idle */
} spate_event_time;

/* The output has the input's schema with `column` as a TIMESTAMP; it is the
 * stream's event time for windows downstream. A value that cannot be read as a
 * time (or NULL) is a bad record: dead-lettered and dropped. */
int spate_with_event_time(spate_stream *in, const spate_event_time *et, spate_stream **out);
/* Ingestion time: appends "ingest_time TIMESTAMP", the time the batch was read,
 * which is also the watermark (no delay). */
int spate_with_ingestion_time(spate_stream *in, spate_stream **out);
/* Current watermark of the operator producing s: the minimum over its instances,
 * SPATE_WATERMARK_MIN before the first. Callable while the job runs. */
int spate_stream_watermark(const spate_stream *s, int64_t *wm_us);

/* -------------------------------------------------------------- windows */

typedef enum spate_window_kind {
    SPATE_WINDOW_TUMBLING = 1, /* size */
    SPATE_WINDOW_SLIDING,      /* size, slide (hopping) */
    SPATE_WINDOW_SESSION,      /* gap, per key; merges when a record bridges two */
    SPATE_WINDOW_GLOBAL,       /* one window for all time: needs a count or period trigger */
    SPATE_WINDOW_COUNT,        /* every `count` elements of a key */
    SPATE_WINDOW_CUMULATE      /* size (max, a multiple of the step), slide (step):
                                  windows [s, s+step), [s, s+2*step) ... [s, s+size)
                                  with s aligned to size (+ offset) */
} spate_window_kind;

/* When a window fires. All zero = on time only: when the watermark passes the
 * window's end, then once per late element within allowed lateness. */
typedef struct spate_trigger {
    int64_t early_count;     /* also fire every N elements a window receives (0 = no) */
    int64_t early_period_ms; /* also fire every period of processing time while a window
                                has new elements (0 = no) */
    int no_on_time;          /* do not fire when the watermark passes the end */
    int64_t late_count;      /* within allowed lateness, fire every N late elements
                                (0 = each one) */
    int purge;               /* fire-and-purge: a window's state is dropped after firing */
} spate_trigger;

/* What repeated firings of one window emit (the default is accumulating). */
typedef enum spate_accumulation {
    SPATE_ACC_DEFAULT = 0,
    SPATE_ACC_DISCARDING,   /* only what arrived since the last firing */
    SPATE_ACC_ACCUMULATING, /* every key's total so far */
    SPATE_ACC_RETRACTING    /* retract all the window emitted before, then the totals */
} spate_accumulation;

typedef enum spate_output_mode {
    SPATE_OUTPUT_DEFAULT = 0, /* as the accumulation says */
    SPATE_OUTPUT_APPEND,      /* each (key, window) once, when final; no early firings */
    SPATE_OUTPUT_UPDATE,      /* each firing emits the keys that changed, with totals */
    SPATE_OUTPUT_COMPLETE     /* each firing emits every key of every window kept */
} spate_output_mode;

/* Records behind the watermark by more than the allowed lateness. */
typedef enum spate_late_policy {
    SPATE_LATE_DROP = 0,       /* dropped and counted (spate_metrics.late_records) */
    SPATE_LATE_SIDE_OUTPUT     /* routed to spate_window_late_stream */
} spate_late_policy;

typedef struct spate_window_spec {
    spate_window_kind kind;
    int64_t size_ms, slide_ms, offset_ms; /* tumbling, sliding: aligned to the epoch + offset */
    int64_t gap_ms;                       /* session */
    int64_t count;                        /* count windows */
    const char *time_column; /* NULL = the stream's event time (spate_with_event_time) */
    int processing_time;     /* windows by the worker's clock instead of event time */
    spate_trigger trigger;
    spate_accumulation accumulation;
    spate_output_mode output;
    int64_t allowed_lateness_ms;
    spate_late_policy late;
} spate_window_spec;

/* Windowed keyed aggregation. Output columns: the keys, window_start TIMESTAMP,
 * window_end TIMESTAMP, one per aggregate, and op STRING - the changelog kind of
 * the row: "+I" first result of a (key, window), "+U" a later result, "-U" the
 * retraction of an earlier one. Windows are half-open [start, end). A window
 * fires when the watermark reaches its end (see spate_trigger). Works in both
 * styles: watermarks flow independently of micro-batches. A non-keyed stream
 * aggregates as one key (spate_key_by with no columns is not needed). */
int spate_window_aggregate(spate_stream *in, const spate_window_spec *w, int naggs,
                           const spate_agg *aggs, spate_stream **out);
/* The same with a reduce function over the value columns (output: keys, window
 * columns, value columns, op). */
int spate_window_reduce(spate_stream *in, const spate_window_spec *w, spate_reduce_fn fn,
                        void *ud, spate_stream **out);
/* The late records of a windowed stream made with late = SPATE_LATE_SIDE_OUTPUT
 * (the window's input schema). */
int spate_window_late_stream(spate_stream *windowed, spate_stream **late);

/* ---------------------------------------- DStream windows (micro-batch style) */

/* Spark's windowed DStream operations over processing-time micro-batches: a
 * window covers the last length_ms of batches and is computed every slide_ms;
 * both must be multiples of the batch interval (SPATE_EINVAL otherwise). */
int spate_window(spate_stream *in, int64_t length_ms, int64_t slide_ms, spate_stream **out);
int spate_count_by_window(spate_stream *in, int64_t length_ms, int64_t slide_ms,
                          spate_stream **out);
/* inv_fn (may be NULL) removes a value from a reduced value: with it the window is
 * updated incrementally (add the entering batch, remove the leaving one); without
 * it each window is recomputed from its batches. */
int spate_reduce_by_window(spate_stream *in, spate_reduce_fn fn, spate_reduce_fn inv_fn,
                           void *ud, int64_t length_ms, int64_t slide_ms, spate_stream **out);
int spate_reduce_by_key_and_window(spate_stream *in, spate_reduce_fn fn, spate_reduce_fn inv_fn,
                                   void *ud, int64_t length_ms, int64_t slide_ms,
                                   spate_stream **out);
int spate_count_by_value_and_window(spate_stream *in, int64_t length_ms, int64_t slide_ms,
                                    spate_stream **out);

/* ---------------------------------------------------------------- timers */

/* KeyedProcessFunction: fn sees each record of a keyed stream with its key's
 * timer context; timers fire per key, event-time ones when the watermark passes
 * them, processing-time ones by the worker's clock. A (key, time) pair registered
 * twice fires once. Output: the key columns then out_schema's columns. */
typedef struct spate_timer_ctx spate_timer_ctx;
int spate_timer_key(const spate_timer_ctx *t, spate_row *key);
int64_t spate_timer_watermark(const spate_timer_ctx *t);      /* µs */
int64_t spate_timer_now(const spate_timer_ctx *t);            /* processing time, ms */
int spate_timer_at_event_time(spate_timer_ctx *t, int64_t ts_us);
int spate_timer_at_processing_time(spate_timer_ctx *t, int64_t ms);
typedef int (*spate_process_fn)(const spate_row *in, spate_timer_ctx *t, spate_out *out,
                                void *ud);
typedef int (*spate_on_timer_fn)(int64_t when, int event_time, spate_timer_ctx *t,
                                 spate_out *out, void *ud);
int spate_process(spate_stream *in, const spate_schema *out_schema, spate_process_fn fn,
                  spate_on_timer_fn on_timer, void *ud, spate_stream **out);

/* ------------------------- stateful operators (updateStateByKey, mapWithState) */

/* Spark's stateful DStream operators over a keyed stream (spate_key_by): each key
 * carries a state row (of state_schema) from micro-batch to micro-batch. State
 * lives on the worker owning the key's key group and goes into the job's
 * checkpoints per key group (restored with the job).
 *
 * Time: "processing time" below is the batch time (spate_rows_time) in the
 * micro-batch style - so timeouts and TTLs count whole batches, reproducibly - and
 * the wall clock in the continuous style. A key's last-touched time is the time of
 * the last batch that brought it values (or loaded it from the initial state).
 *
 * TTL (Flink's state TTL): a key untouched for more than ttl_ms loses its state
 * silently at a batch end, with no callback; 0 = never. Compare the timeout of
 * mapWithState, which calls the function once more before removing the key. */

/* updateStateByKey's function, called at the end of each micro-batch for EVERY
 * key that has state or new values, also keys without new values (as in Spark).
 * key: the key columns. values: the key's new values of the batch (side 0 of the
 * group, possibly none; spate_group_key is not available on an empty group: use
 * key). state: the previous state, NULL when the key has none. new_state: the
 * state to keep, every column starting NULL (write them all; no spate_out_emit).
 * Returns 1 to keep new_state, 0 to remove the key's state, < 0 to fail the job. */
typedef int (*spate_update_fn)(const spate_row *key, const spate_group *values,
                               const spate_row *state, spate_out *new_state, void *ud);

/* Output, each micro-batch: key columns + state columns for every key that has
 * state after the batch (keyed, partitioned), in the order keys were first seen on
 * their worker. The function runs on the worker owning the key. Micro-batch style
 * only (SPATE_EUNSUPPORTED in the continuous style, where there is no batch end to
 * call idle keys at). SPATE_EINVAL for an unkeyed input, a missing state schema or
 * function, or a state column named like a key column. */
int spate_update_state_by_key(spate_stream *keyed, const spate_schema *state_schema,
                              spate_update_fn fn, void *ud, spate_stream **out);
/* The same with a state TTL: keys that received no value for more than ttl_ms are
 * dropped before the call (fn is not called for them). ttl_ms = 0 is no TTL. */
int spate_update_state_by_key_ttl(spate_stream *keyed, const spate_schema *state_schema,
                                  spate_update_fn fn, void *ud, int64_t ttl_ms, spate_stream **out);

/* mapWithState's view of one key's state (Spark's State), valid during the call.
 * A new state is built with spate_state_update and takes effect when the function
 * returns; until then spate_state_get shows it. Misuse - updating or removing the
 * state of a key that is timing out, updating after removing - returns
 * SPATE_ESTATE and fails the job with that message even when the return code is
 * ignored (Spark throws). Removing twice is harmless. */
typedef struct spate_state spate_state;
int spate_state_exists(const spate_state *s);        /* 1 or 0 */
int spate_state_is_timing_out(const spate_state *s); /* 1 during the timeout call */
/* A view of the state (updated or not); SPATE_ENOTFOUND when there is none. */
int spate_state_get(const spate_state *s, spate_row *state);
/* *new_state: the builder of the key's new state (state_schema columns, all NULL
 * at the first call of this invocation; later calls return the same builder). */
int spate_state_update(spate_state *s, spate_out **new_state);
int spate_state_remove(spate_state *s);
/* The key's C object when the spec has c_size > 0 (see spate_state_spec): created
 * zeroed when the key has none, which makes the state exist (as an update does);
 * changes to it are the new state. On a timing-out key it returns the existing
 * object to read: the key is removed after the call, so changes are discarded (not
 * an error). NULL, with SPATE_ESTATE failing the job, after spate_state_remove, on
 * a spec without c_size, or out of memory. With c_size, spate_state_get returns
 * SPATE_ESTATE and spate_state_update is a misuse. */
void *spate_state_object(spate_state *s);
/* For c_serialize: appends n bytes to the serialized form. 0 or SPATE_ENOMEM. */
int spate_state_write(void *out_ctx, const void *p, size_t n);

/* mapWithState's function: called once per record of the stream (value: its value
 * columns) and once for each key that times out (value NULL, state timing out).
 * It emits zero or more rows of out_schema with spate_out_emit (a row not emitted
 * is dropped); returns 0, or < 0 to fail the job. */
typedef int (*spate_mapping_fn)(const spate_row *key, const spate_row *value, spate_state *state,
                                spate_out *out, void *ud);

/* StateSpec. Every option but the schemas and fn may be left 0/NULL. */
typedef struct spate_state_spec {
    const spate_schema *state_schema;
    const spate_schema *out_schema; /* the output: these columns only, no key added */
    spate_mapping_fn fn;
    void *ud;
    /* Spark's initialState: a CSV file with a header line naming the key columns and
     * the state columns (any order), read by each worker at start for the keys it
     * owns; its keys count as touched at start. Bad lines are bad records
     * (bad_records.policy). Not read when the job restores from a checkpoint. */
    const char *initial_state_csv;
    /* Idle timeout: a key with state that received no record for more than
     * timeout_ms (processing time, checked at each batch end; every second in the
     * continuous style) is called once with spate_state_is_timing_out() = 1 and a
     * NULL value, may emit rows, and is then removed. 0 = no timeout. */
    int64_t timeout_ms;
    /* Accepted for parity with Spark: the partitioning is the job's key groups, so
     * it must be 0 or equal to key_groups (SPATE_EINVAL otherwise). */
    int num_partitions;
    int64_t ttl_ms; /* state TTL (see above); a key past both ttl and timeout gets no call */
    /* C state: c_size > 0 makes each key's state a C object of c_size bytes
     * (spate_state_object) instead of a state_schema row; state_schema must be NULL
     * and initial_state_csv unset. Checkpoints and the snapshots stream - columns
     * (key columns, state BYTES) - hold its serialized form: c_serialize writes it
     * with spate_state_write(out_ctx, ...) and returns 0 (< 0 fails the job);
     * c_deserialize rebuilds the zeroed obj from it and returns 0 (< 0 fails the
     * restore). Without them the c_size bytes are copied as they are (plain data;
     * a checkpointed state of another length fails the restore). c_free, when set,
     * releases what an object owns (not the object itself) when its key's state is
     * removed, times out, expires or is restored over, and when the context is
     * freed; it must also accept an object c_deserialize failed on. */
    size_t c_size;
    int (*c_serialize)(const void *obj, void *out_ctx, void *ud);
    int (*c_deserialize)(const void *data, size_t len, void *obj, void *ud);
    void (*c_free)(void *obj, void *ud);
} spate_state_spec;

/* Works in both styles (it is per record). Output: out_schema rows, not keyed.
 * SPATE_EINVAL for an unkeyed input, missing schemas or fn, negative times, a bad
 * num_partitions or a state column named like a key column; SPATE_EIO when the
 * initial state file cannot be opened. */
int spate_map_with_state(spate_stream *keyed, const spate_state_spec *spec, spate_stream **out);
/* stateSnapshots: each micro-batch, (key columns, state columns) of every key with
 * state after the batch - after its records and timeouts - keyed and partitioned.
 * Micro-batch style only: SPATE_EUNSUPPORTED in the continuous style. Asking twice
 * returns the same stream. SPATE_EINVAL unless mapped is a spate_map_with_state
 * output. */
int spate_state_snapshots(spate_stream *mapped, spate_stream **out);

/* --------------------------------------------------------------- outputs */

/* pprint: each micro-batch prints a header with its time and its first n rows. */
int spate_stream_print(spate_stream *s, int n);
/* saveAsTextFiles: each micro-batch writes prefix-TIME_IN_MS.suffix (suffix may be
 * NULL or "") in format (csv | jsonl | text). */
int spate_stream_save_as_text_files(spate_stream *s, const char *prefix, const char *suffix,
                                    const char *format);
/* foreachBatch: called once per micro-batch with all its rows (on one thread). */
typedef int (*spate_batch_fn)(const spate_rows *rows, int64_t time_ms, void *ud);
int spate_stream_foreach_batch(spate_stream *s, spate_batch_fn fn, void *ud);
/* A sink by connector name (console, files, blackhole) with key, value options. */
int spate_sink_open(spate_stream *s, const char *connector, const char *const *options);
/* A sink calling fn for every batch of rows as they arrive (time_ms = arrival). */
int spate_sink_callback(spate_stream *s, spate_batch_fn fn, void *ud);

/* remember: keep this stream's micro-batches for duration_ms so slice can return them. */
int spate_stream_remember(spate_stream *s, int64_t duration_ms);
/* slice: the remembered batches with from_ms <= time <= to_ms, merged into one row set
 * (free with spate_rows_free). */
int spate_stream_slice(spate_stream *s, int64_t from_ms, int64_t to_ms, spate_rows **out);

#ifdef __cplusplus
}
#endif
#endif
