/*
 * connector.h - sources and sinks as plugins.
 *
 * A connector is a struct of callbacks plus an option table (core/opts.h),
 * registered in connectors/registry.c. The runtime wraps each in an operator
 * node: a source node polls it for batches; a sink node hands it batches.
 */
#ifndef SP_CONNECTOR_H
#define SP_CONNECTOR_H

#include "core/deadletter.h"
#include "formats/format.h"
#include "runtime/runtime.h"

struct sp_wbuf;
struct sp_rbuf;

typedef struct sp_source sp_source;
typedef struct sp_sink sp_sink;

typedef struct sp_source_class {
    const char *name;
    const char *help;          /* one line for `spate help connectors` */
    const sp_opt_def *opts;    /* terminated by {NULL} */
    int uses_format;           /* sp_format_opt_defs apply too; s->fmt is set */
    int parallel;              /* one instance per worker, else one on worker 0 */
    /* Connectors with a fixed schema return a new copy; NULL = the user gives it. */
    spate_schema *(*fixed_schema)(void);
    int (*open)(sp_source *s);
    /* Appends up to b->cap - b->n rows to b (b is shaped for s->schema). Sets *eof
     * when the input is exhausted. Never blocks for more than ~10 ms: a source with
     * nothing to read returns with no rows. */
    int (*poll)(sp_source *s, sp_batch *b, int *eof);
    void (*close)(sp_source *s);
    /* Frees the arg given to sp_source_add, with the node. Optional. */
    void (*arg_free)(void *arg);
    /* Replayable sources: write the position after everything emitted so far, and
     * rewind to it before the job runs. A source without them cannot replay: with
     * checkpoints it is at-most-once, and the job says so at start. */
    int (*snapshot)(sp_source *s, struct sp_wbuf *w);
    int (*restore)(sp_source *s, struct sp_rbuf *r);
} sp_source_class;

struct sp_source {
    const sp_source_class *cls;
    sp_opts opts;
    const spate_schema *schema;
    sp_format fmt;
    sp_op *op;                 /* the runtime instance: sp_op_stopping, epoch index */
    int instance, ninstances;  /* this instance among the parallel ones */
    sp_deadletter *dl;
    void *arg;                 /* given to sp_source_add (queue source: its queue) */
    void *st;
};

typedef struct sp_sink_class {
    const char *name;
    const char *help;
    const sp_opt_def *opts;
    int uses_format;
    int parallel;              /* one instance per worker, else one on worker 0 */
    int (*open)(sp_sink *k);
    /* Writes the live rows of b (does not own b). */
    int (*write)(sp_sink *k, const sp_batch *b);
    /* End of a micro-batch: flush. Optional. */
    int (*epoch)(sp_sink *k, int64_t time_ms);
    /* Flushes and releases everything; called once after open succeeded. */
    int (*close)(sp_sink *k);
    /* Frees the arg given to sp_sink_add, with the node. Optional. */
    void (*arg_free)(void *arg);
    /* Two-phase-commit sinks. snapshot: pre-commit what was written since the last
     * barrier (make it durable, unpublished) and record it under checkpoint id;
     * commit: publish everything recorded under ids <= id; restore: after a crash,
     * publish what the restored checkpoint recorded (idempotently) and discard
     * what was written after it. Sinks without them are not transactional.
     * At the end of a job, snapshot and commit run after close (the final
     * checkpoint): they must work from what close left behind. restore is called
     * only when the checkpoint holds state for this instance, i.e. when snapshot
     * wrote at least one byte - write a version byte. The same holds for sources. */
    int (*snapshot)(sp_sink *k, int64_t id, struct sp_wbuf *w);
    int (*restore)(sp_sink *k, struct sp_rbuf *r);
    int (*commit)(sp_sink *k, int64_t id);
} sp_sink_class;

struct sp_sink {
    const sp_sink_class *cls;
    sp_opts opts;
    const spate_schema *schema;
    sp_format fmt;
    sp_op *op;
    void *arg;                 /* given to sp_sink_add (callback sink: fn and ud) */
    void *st;
};

/* Adds a source node running cls (spate_source_open, and special sources such as
 * the queue that pass their handle as arg). schema may be NULL for a fixed-schema
 * connector or the text format. On success the node owns arg (cls->arg_free frees
 * it when the context is freed, whether or not the job ran); on failure the
 * caller still does. The same holds for sp_sink_add. */
int sp_source_add(spate_ctx *ctx, const sp_source_class *cls, const spate_schema *schema,
                  const char *const *options, void *arg, spate_stream **out);
/* Adds a sink node running cls after stream in: one instance per worker for a
 * parallel class, else one on worker 0 that everything is gathered to. */
int sp_sink_add(spate_stream *in, const sp_sink_class *cls, const char *const *options,
                void *arg);

const sp_source_class *sp_source_find(const char *name);
const sp_sink_class *sp_sink_find(const char *name);
/* NULL-terminated lists, for help and docs. */
extern const sp_source_class *const sp_source_classes[];
extern const sp_sink_class *const sp_sink_classes[];

#endif
