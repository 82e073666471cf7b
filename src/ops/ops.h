/*
 * ops.h - helpers shared by the operator files, internal to src/ops.
 *
 *   micro-batch bookkeeping   operators that act once per micro-batch (at the epoch)
 *                             in the micro-batch style and per arriving batch in the
 *                             continuous one: transform, glom, print, save, foreach,
 *                             remember (ops_util.c)
 *   collecting operators      transform and foreach_batch: the micro-batch handed
 *                             whole to a function as spate_rows (ops_util.c)
 *   values as text            print (Spark's style) and glom (JSON) (ops_util.c)
 *   output rows and schemas   keyed aggregates, groupByKey, join, cogroup
 *                             (ops_util.c)
 *   rows kept per key         groupByKey, join, cogroup (keyed.c)
 */
#ifndef SP_OPS_H
#define SP_OPS_H

#include "core/buf.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

/* ------------------------------------------------- micro-batch bookkeeping */

/* Acts on the current micro-batch (or, continuous style, batch) with its time:
 * 0, or the code already reported with sp_op_fail. */
typedef int (*sp_flush_fn)(sp_op *op, int64_t time_ms);

/* The operator state (op->st) starts with this struct, so that sp_ops_track_epoch
 * and sp_ops_track_finish can serve as the class's epoch and finish. */
typedef struct sp_epoch_track {
    int microbatch;     /* micro-batch style: flush at epochs, else per batch */
    int pending;        /* a batch arrived since the last flush */
    int64_t last_ms;    /* time of the last flush, INT64_MIN before the first */
    sp_flush_fn flush;
} sp_epoch_track;

/* Allocates op->st, size bytes zeroed that start with the track, and sets the
 * track up to call flush. NULL after failing the job with "<class name>: out of
 * memory" (op->st stays NULL). */
void *sp_ops_track_open(sp_op *op, size_t size, sp_flush_fn flush);
/* A batch with time time_ms arrived (and was taken in): marks the micro-batch
 * pending and, in the continuous style, flushes it at once. */
int sp_ops_track_arrived(sp_op *op, sp_epoch_track *t, int64_t time_ms);
/* The flush function calls this once it acted on the micro-batch of time_ms. */
void sp_ops_track_done(sp_epoch_track *t, int64_t time_ms);
/* Class epoch: flushes the micro-batch (micro-batch style only). */
int sp_ops_track_epoch(sp_op *op, int64_t time_ms);
/* Class finish. A source that ends sends a last EPOCH before END, so the final
 * partial micro-batch normally closes through epoch(); finish() flushes again (at
 * sp_op_epoch_end_ms) only what arrived after that last EPOCH - rows an upstream
 * operator flushed in its own finish - or when no epoch ran at all. No micro-batch
 * is lost and none is flushed twice. */
int sp_ops_track_finish(sp_op *op);

/* ---------------------------------------------------- collecting operators */

/* Runs over the rows of a micro-batch (the batches stay the caller's): 0, or the
 * code already reported with sp_op_fail. */
typedef int (*sp_collect_fn)(sp_op *op, const spate_rows *rows);

/* Class open, push and close of an operator that collects the batches of each
 * micro-batch and runs `run` once over them at its end (per batch in the
 * continuous style); epoch and finish are sp_ops_track_epoch/finish. Out of
 * memory fails the job as "<class name>: out of memory". */
int sp_ops_collect_open(sp_op *op, sp_collect_fn run);
int sp_ops_collect_push(sp_op *op, int port, sp_batch *b);
void sp_ops_collect_close(sp_op *op);

/* ---------------------------------------------------------- values as text */

/* Appends the values of physical row r of b, comma separated: NULL as null, BOOL
 * as true/false, integers in decimal, doubles by sp_buf_put_double, timestamps
 * ISO-8601. With json, strings and timestamps are quoted JSON strings and a
 * non-finite double is null; without, they are written raw (Spark's print).
 * 0 or SPATE_ENOMEM. */
int sp_ops_put_values(sp_buf *out, const sp_batch *b, uint32_t r, int json);

/* ------------------------------------------------------ output rows and schemas */

/* Makes room for one more row in *cur, a batch of the node's output schema:
 * emits it when full, takes a fresh one when there is none. 0, or the code
 * reported with sp_op_fail ("<class name>: out of memory" when no batch). */
int sp_ops_out_room(sp_op *op, sp_batch **cur);
/* Emits *cur, if any, and leaves no batch. 0 or the code of sp_op_emit. */
int sp_ops_out_flush(sp_op *op, sp_batch **cur);
/* Sets row r of v to NULL; the cell gets a defined value too (zero bytes), as
 * copies of the batch may read it. */
void sp_ops_set_null(sp_vec *v, uint32_t r);
/* sp_op_release(op, b): the release callback of sp_keyrows_clear and _free. */
void sp_ops_release_to(void *op, sp_batch *b);
/* A new schema: the key columns of in, then the columns of values. NULL with the
 * code in *rc: SPATE_ENOMEM, or spate_schema_add's for a repeated name. */
spate_schema *sp_ops_key_value_schema(const spate_stream *in, const spate_schema *values,
                                      int *rc);

/* ------------------------------------------------------ rows kept per key */

/* op->st of groupByKey, join and cogroup: their input batches kept whole, filed
 * by key on side 0 (or 1, a join's right input), until the epoch. */
typedef struct sp_grouping {
    sp_keyrows kr;
    int continuous;     /* continuous style: each batch is grouped on its own */
    sp_batch *out;      /* output batch being filled (sp_ops_out_room) */
} sp_grouping;

/* Allocates op->st with keys of nkeys columns. 0 or SPATE_ENOMEM (not reported:
 * the caller names the operator). */
int sp_ops_grouping_open(sp_op *op, int nkeys);
/* Keeps b on side, hashing its keys when the exchange did not; an empty b is
 * just released. 0 or SPATE_ENOMEM (b released, not reported). */
int sp_ops_grouping_add(sp_op *op, int side, sp_batch *b);
/* Class close: gives every kept batch and the output batch back, frees op->st. */
void sp_ops_grouping_close(sp_op *op);
/* Calls fn once per key of the sealed kr (keys of nsides sides), in first-seen
 * order, with a spate_out whose rows get the key columns filled in and nuser
 * user columns. A negative return or a setter error fails the job, named
 * "<class name> callback". 0 or the code reported. */
int sp_ops_group_each(sp_op *op, const sp_keyrows *kr, int nsides, spate_group_fn fn, void *ud,
                      int nuser);

/* Checks the arguments every operator constructor shares and clears *out: 0 or
 * SPATE_EINVAL with a message naming the operator `what`. */
int sp_ops_check_input(const spate_stream *in, int has_fn, spate_stream **out, const char *what);
/* Adds a one-input node, taking over schema and cfg (NULL for either means an
 * allocation failed): both are freed when the node cannot be added. */
int sp_ops_add_node(spate_stream *in, const sp_op_class *cls, void *cfg, spate_schema *schema,
                    int nkeys, sp_exchange ex, int single, spate_stream **out);

#endif
