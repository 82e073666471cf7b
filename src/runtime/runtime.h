/*
 * runtime.h - the dataflow graph and the operator interface.
 *
 * A job is a DAG of nodes (struct spate_stream). Each node runs as one instance
 * (struct sp_op) per worker it is placed on: every worker, or only worker 0 for
 * single-instance nodes (non-parallel sources, gathering outputs and sinks).
 *
 * An input edge of a node is either FORWARD - the upstream instance on the same
 * worker calls the node's push() directly (operators fuse into pipelines) - or an
 * exchange: HASH (rows go to the worker owning their key group), ROUND_ROBIN, or
 * GATHER (everything to the single instance on worker 0). Exchanges go through
 * bounded single-producer/single-consumer queues, one per (from, to) worker pair.
 *
 * Control messages travel in-band, in order with the data: EPOCH (end of a
 * micro-batch, with its time) and END (input exhausted). The runtime aligns
 * them: an instance's epoch() runs once EPOCH has arrived on every live input
 * channel, its finish() once END has; it then forwards the marker. Operators
 * never see markers directly.
 *
 * Ownership: push() receives a batch it owns; it must pass it on (sp_op_emit),
 * or give it back (sp_op_release). A filter sets the selection vector of the
 * batch it got and passes the same batch on.
 */
#ifndef SP_RUNTIME_H
#define SP_RUNTIME_H

#include "core/batch.h"
#include "core/error.h"
#include "core/row.h"

typedef struct sp_op sp_op;
typedef struct sp_worker sp_worker;
typedef struct sp_state_out sp_state_out; /* checkpoint state being written */
typedef struct sp_state_in sp_state_in;   /* checkpoint state being restored */

typedef enum {
    SP_EX_FORWARD = 0,
    SP_EX_HASH,        /* by the input stream's key columns (nkeys) */
    SP_EX_ROUND_ROBIN,
    SP_EX_GATHER
} sp_exchange;

typedef struct sp_op_class {
    const char *name;
    /* Per-instance setup: allocate op->st. Optional. */
    int (*open)(sp_op *op);
    /* Source nodes only: produce up to one batch (emit it), set *eof when
     * exhausted. Must not block for more than a few milliseconds. */
    int (*poll)(sp_op *op, int *eof);
    /* A data batch arrived on input port `port` (0 or 1). */
    int (*push)(sp_op *op, int port, sp_batch *b);
    /* End of a micro-batch, aligned over all inputs. time_ms = batch time. Optional. */
    int (*epoch)(sp_op *op, int64_t time_ms);
    /* Every input has ended: flush what is left. Runs after watermark(MAX). Optional. */
    int (*finish)(sp_op *op);
    /* The instance's watermark advanced (min over its live, active inputs), in µs.
     * The runtime forwards the watermark downstream after this returns. Optional. */
    int (*watermark)(sp_op *op, int64_t wm_us);
    /* Called on every round of the worker loop (processing-time timers, idleness).
     * now_ms is the wall clock. Optional. */
    int (*tick)(sp_op *op, int64_t now_ms);
    /* Checkpoints (see docs/checkpoints.md). A node whose class has state must have
     * snapshot and restore, or a job with checkpoints refuses to start.
     * snapshot: the barrier of checkpoint `id` has arrived on every input: write
     * the instance's state - keyed state into sp_state_group(s, key group), the
     * rest into sp_state_instance(s). It runs on the instance's worker; the
     * barrier moves on when it returns. */
    int (*snapshot)(sp_op *op, int64_t id, sp_state_out *s);
    /* Before the job runs, after open: read back what snapshot wrote - the key
     * groups this instance now owns and its instance state. */
    int (*restore)(sp_op *op, sp_state_in *s);
    /* Checkpoint `id` is complete and durable: publish what was pre-committed at
     * its barrier (two-phase-commit sinks). Runs on the instance's worker. */
    int (*commit)(sp_op *op, int64_t id);
    int stateless;           /* no state to checkpoint: snapshot/restore not needed */
    /* Frees op->st; called once per opened instance, also after failures. Optional. */
    void (*close)(sp_op *op);
    /* Frees node->cfg when the context is freed. Optional. */
    void (*cfg_free)(void *cfg);
} sp_op_class;

struct spate_stream {
    spate_ctx *ctx;
    int id;                  /* index in ctx->nodes, a topological order */
    const sp_op_class *cls;
    void *cfg;               /* build-time configuration, owned (cls->cfg_free) */
    spate_schema *schema;    /* output schema, owned; NULL for sinks and outputs */
    int nkeys;               /* leading key columns of the output (keyed streams) */
    int partitioned;         /* output rows already sit on the worker owning their key */
    int single;              /* one instance, on worker 0 */
    int ninputs;
    spate_stream *in[2];
    sp_exchange ex[2];
    int in_side[2];          /* input p reads the side output of in[p] (late records) */
    int time_col;            /* event-time column of the output, -1 if none */
    int nout;                /* downstream edges */
    struct sp_edge *out;
    int64_t remember_ms;     /* spate_stream_remember */
    struct sp_remember *remembered;
    sp_op **inst;            /* [workers] instance per worker, NULL where not placed */
};

struct sp_op {
    const sp_op_class *cls;
    spate_stream *node;
    sp_worker *worker;
    int instance;            /* worker index */
    void *st;                /* operator state */
    struct sp_chan *chans;   /* input channels (runtime private) */
    int nchans, nlive, nmarked;
    int64_t mark_time;       /* time of the EPOCH being aligned */
    int64_t mark_ckpt;       /* its checkpoint id, or 0 */
    int64_t ckpt_last;       /* last checkpoint this instance snapshotted */
    int64_t wm;              /* watermark, µs (owning worker only) */
    _Atomic int64_t wm_pub;  /* the same, for spate_stream_watermark */
    int idle_out;            /* IDLE was sent downstream and nothing since */
    int opened, finished;
};

/* ---- building the graph (ops/ and connectors call these while the job is built) */

/* Adds a node. schema and cfg are taken over: on failure too they are freed (cfg
 * with cls->cfg_free, so a class whose cfg is allocated must have one). Inputs'
 * exchanges in ex.
 * Fails with SPATE_ESTATE once the context has started. */
int sp_node_add(spate_ctx *ctx, const sp_op_class *cls, void *cfg, spate_schema *schema,
                int nkeys, int ninputs, spate_stream *const *in, const sp_exchange *ex,
                int single, spate_stream **out);
/* Adds a pass-through node fed by the side output of parent (sp_op_emit_side),
 * with the given schema (taken over). */
int sp_node_add_side(spate_stream *parent, spate_schema *schema, spate_stream **out);
/* Micro-batch style? (batch.interval.ms > 0) */
int sp_ctx_microbatch(const spate_ctx *ctx);
int sp_ctx_workers(const spate_ctx *ctx);
int sp_ctx_key_groups(const spate_ctx *ctx);
uint32_t sp_ctx_batch_rows(const spate_ctx *ctx);
/* state.ttl.ms: processing time after which a key's untouched state is dropped;
 * 0 = never. */
int64_t sp_ctx_state_ttl_ms(const spate_ctx *ctx);
/* Checkpoints configured (checkpoint.dir)? */
int sp_ctx_checkpointing(const spate_ctx *ctx);
/* The job's delivery guarantee: 0 at-most-once, 1 at-least-once, 2 exactly-once. */
int sp_ctx_delivery(const spate_ctx *ctx);

/* ---- services for operator instances */

/* A fresh empty batch shaped for schema (the node's output schema when NULL). */
sp_batch *sp_op_batch(sp_op *op, const spate_schema *schema);
void sp_op_release(sp_op *op, sp_batch *b);
/* Hands b downstream (ownership passes; an empty batch is just released). */
int sp_op_emit(sp_op *op, sp_batch *b);
/* Hands b to the side output (nodes made by sp_node_add_side); released if none. */
int sp_op_emit_side(sp_op *op, sp_batch *b);
/* Watermark assigners: advances this instance's watermark to wm_us (ignored unless
 * it moves forward) and sends it downstream. */
int sp_op_emit_watermark(sp_op *op, int64_t wm_us);
/* Watermark assigners: this instance's input is idle; downstream stops waiting on it
 * until it sends data or a watermark again. */
int sp_op_emit_idle(sp_op *op);
/* Records the job's error (the first one wins) and returns code. */
int sp_op_fail(sp_op *op, int code, const char *fmt, ...) SP_PRINTF(3, 4);
/* Job-wide services. */
struct sp_deadletter *sp_op_deadletter(sp_op *op);
void sp_op_count_in(sp_op *op, uint64_t n);
void sp_op_count_out(sp_op *op, uint64_t n);
void sp_op_count_late(sp_op *op, uint64_t n);
/* Micro-batches begun so far on this worker (0 before the first boundary). */
int64_t sp_op_epoch_index(const sp_op *op);
/* Milliseconds since the epoch at which the current micro-batch ends. */
int64_t sp_op_epoch_end_ms(const sp_op *op);
/* True once a graceful stop was requested: sources should end. */
int sp_op_stopping(const sp_op *op);

/* Row builder bound to an operator: rows go into batches of `schema` (the node's
 * output schema when NULL) and each full batch is emitted downstream. Columns
 * [first_col, first_col + ncols) are the user-visible ones (spate_out). */
int sp_op_out_open(sp_op *op, spate_out *o, const spate_schema *schema, int first_col,
                   int ncols);
/* Emits the partly filled batch and detaches o. The row being built, if any, is
 * dropped: commit it first (sp_out_commit). */
int sp_op_out_close(sp_op *op, spate_out *o);

/* ---- checkpoint state (the buffers are src/checkpoint/serde.h's) */

struct sp_wbuf;
struct sp_rbuf;
/* The buffer for key group g's state of this instance (created on first use). */
struct sp_wbuf *sp_state_group(sp_state_out *s, int key_group);
/* The buffer for the instance's non-keyed state (source positions, sink files). */
struct sp_wbuf *sp_state_instance(sp_state_out *s);
/* Restore: the key groups this instance owns that have state, one at a time:
 * returns 1 and fills *g and *r, or 0 when there are no more. */
int sp_state_next_group(sp_state_in *s, int *g, struct sp_rbuf *r);
/* Restore: the instance state written by the same instance index, or 0 when none
 * (a fresh instance). */
int sp_state_instance_in(sp_state_in *s, struct sp_rbuf *r);

/* Key group of a key hash, and the worker that owns a key group. */
static inline int sp_key_group(uint64_t hash, int key_groups)
{
    return (int)(hash % (uint64_t)key_groups);
}
static inline int sp_key_group_owner(int kg, int key_groups, int workers)
{
    return (int)((int64_t)kg * workers / key_groups);
}
/* Hash of the first nkeys columns of physical row r (the exchange and keyed
 * operators use the same function). */
uint64_t sp_row_key_hash(const sp_batch *b, uint32_t r, int nkeys);
/* Fills b->hashes for every live row from the first nkeys columns. */
void sp_batch_hash_keys(sp_batch *b, int nkeys);

#endif
