/*
 * connector_nodes.c - sources and sinks as operator nodes.
 *
 * Options are validated and the format set up once, when the job is built, so
 * a typo in an option fails spate_source_open rather than the running job;
 * each instance then opens its own connector state at start.
 */
#include "connectors/connector.h"
#include "runtime/worker.h"

#include "checkpoint/serde.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct conn_cfg {
    const sp_source_class *src;
    const sp_sink_class *sink;
    sp_opts opts;
    sp_format fmt;
    const spate_schema *schema; /* the records the connector reads or writes */
    void *arg;
} conn_cfg;

static void cfg_free(void *p)
{
    conn_cfg *c = p;
    void (*arg_free)(void *) = c->src ? c->src->arg_free : c->sink->arg_free;
    if (c->arg && arg_free) arg_free(c->arg);
    sp_opts_free(&c->opts);
    free(c);
}

static int src_open(sp_op *op)
{
    conn_cfg *c = op->node->cfg;
    sp_source *s = calloc(1, sizeof *s);
    if (!s) return sp_err(SPATE_ENOMEM, "out of memory");
    s->cls = c->src;
    s->opts = c->opts;
    s->schema = op->node->schema;
    s->fmt = c->fmt;
    s->op = op;
    s->instance = op->instance;
    s->ninstances = op->node->single ? 1 : sp_ctx_workers(op->node->ctx);
    s->dl = sp_op_deadletter(op);
    s->arg = c->arg;
    int rc = s->cls->open ? s->cls->open(s) : 0;
    if (rc) free(s); /* close() is called only for opened instances */
    else op->st = s;
    return rc;
}

static int src_poll(sp_op *op, int *eof)
{
    sp_source *s = op->st;
    sp_batch *b = sp_op_batch(op, NULL);
    if (!b) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = s->cls->poll(s, b, eof);
    if (rc) {
        sp_op_release(op, b);
        return rc;
    }
    sp_op_count_in(op, sp_batch_count(b));
    return sp_op_emit(op, b);
}

static void src_close(sp_op *op)
{
    sp_source *s = op->st;
    if (s && s->cls->close) s->cls->close(s);
    free(s);
}

static int src_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    sp_source *src = op->st;
    return src->cls->snapshot(src, sp_state_instance(s));
}

static int src_restore(sp_op *op, sp_state_in *s)
{
    sp_source *src = op->st;
    sp_rbuf r;
    if (!sp_state_instance_in(s, &r)) return 0; /* nothing read before: start over */
    int rc = src->cls->restore(src, &r);
    return rc ? rc : (r.err ? sp_err(r.err, "source '%s': bad saved position", src->cls->name) : 0);
}

/* A replayable source checkpoints its position; any other is at-most-once. */
static const sp_op_class replayable_source_op = {.name = "source",
                                                 .open = src_open,
                                                 .poll = src_poll,
                                                 .close = src_close,
                                                 .snapshot = src_snapshot,
                                                 .restore = src_restore,
                                                 .cfg_free = cfg_free};

static const sp_op_class source_op = {.name = "source",
                                      .open = src_open,
                                      .poll = src_poll,
                                      .close = src_close,
                                      .stateless = 1,
                                      .cfg_free = cfg_free};

/* The text format without a schema reads one STRING column "line". */
static int source_schema(const sp_source_class *cls, const spate_schema *given,
                         const sp_opts *opts, spate_schema **out)
{
    *out = NULL;
    if (cls->fixed_schema) {
        if (given)
            return sp_err(SPATE_EINVAL, "source '%s' has a fixed schema: pass NULL", cls->name);
        *out = cls->fixed_schema();
    } else if (given) {
        *out = sp_schema_copy(given);
    } else if (cls->uses_format && strcmp(sp_opts_str(opts, "format"), "text") == 0) {
        if (spate_schema_parse("line STRING", out)) return SPATE_ENOMEM;
    } else {
        return sp_err(SPATE_EINVAL, "source '%s' needs a schema (or format 'text')", cls->name);
    }
    return *out ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
}

int sp_source_add(spate_ctx *ctx, const sp_source_class *cls, const spate_schema *schema,
                  const char *const *options, void *arg, spate_stream **out)
{
    *out = NULL;
    if (!ctx) return sp_err(SPATE_EINVAL, "context is NULL");
    conn_cfg *c = calloc(1, sizeof *c);
    if (!c) return sp_err(SPATE_ENOMEM, "out of memory");
    char what[96];
    snprintf(what, sizeof what, "source '%s'", cls->name);
    int rc = sp_opts_parse(&c->opts, what, cls->opts, cls->uses_format ? sp_format_opt_defs : NULL,
                           options);
    if (rc) {
        free(c);
        return rc;
    }
    c->src = cls;
    spate_schema *s = NULL;
    rc = source_schema(cls, schema, &c->opts, &s);
    if (rc) {
        cfg_free(c);
        return rc;
    }
    int replayable = cls->snapshot && cls->restore;
    if (!replayable && sp_ctx_checkpointing(ctx))
        sp_log(SP_LOG_WARN, "source '%s' cannot replay its input: at-most-once for that input",
               cls->name);
    rc = sp_node_add(ctx, replayable ? &replayable_source_op : &source_op, c, s, 0, 0, NULL,
                     NULL, !cls->parallel, out);
    if (rc) return rc;
    c->schema = (*out)->schema;
    if (cls->uses_format && (rc = sp_format_from_opts(&c->fmt, &c->opts, c->schema)) != 0) {
        ctx->nnodes--;
        sp_node_free(*out);
        *out = NULL;
        return rc;
    }
    c->arg = arg;
    return 0;
}

int spate_source_open(spate_ctx *ctx, const char *connector, const spate_schema *schema,
                      const char *const *options, spate_stream **out)
{
    if (out) *out = NULL;
    if (!connector || !out) return sp_err(SPATE_EINVAL, "connector name and out are required");
    const sp_source_class *cls = sp_source_find(connector);
    if (!cls) return SPATE_ENOTFOUND; /* sp_source_find named the valid ones */
    return sp_source_add(ctx, cls, schema, options, NULL, out);
}

/* ---- sinks */

typedef struct sink_state {
    sp_sink k;
    int closed; /* the connector's close ran (at finish) */
} sink_state;

static int sink_open(sp_op *op)
{
    conn_cfg *c = op->node->cfg;
    sink_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->k.cls = c->sink;
    st->k.opts = c->opts;
    st->k.schema = c->schema;
    st->k.fmt = c->fmt;
    st->k.op = op;
    st->k.arg = c->arg;
    int rc = st->k.cls->open ? st->k.cls->open(&st->k) : 0;
    if (rc) free(st); /* close() is called only for opened instances */
    else op->st = st;
    return rc;
}

static int sink_push(sp_op *op, int port, sp_batch *b)
{
    sink_state *st = op->st;
    int rc = st->k.cls->write(&st->k, b);
    if (!rc) sp_op_count_out(op, sp_batch_count(b));
    sp_op_release(op, b);
    return rc;
}

static int sink_epoch(sp_op *op, int64_t time_ms)
{
    sink_state *st = op->st;
    return st->k.cls->epoch ? st->k.cls->epoch(&st->k, time_ms) : 0;
}

static int sink_finish(sp_op *op)
{
    sink_state *st = op->st;
    st->closed = 1;
    return st->k.cls->close ? st->k.cls->close(&st->k) : 0;
}

static void sink_close(sp_op *op)
{
    sink_state *st = op->st;
    if (st && !st->closed && st->k.cls->close) st->k.cls->close(&st->k);
    free(st);
}

static int sink_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    sink_state *st = op->st;
    return st->k.cls->snapshot(&st->k, id, sp_state_instance(s));
}

static int sink_restore(sp_op *op, sp_state_in *s)
{
    sink_state *st = op->st;
    sp_rbuf r;
    if (!sp_state_instance_in(s, &r)) return 0;
    int rc = st->k.cls->restore(&st->k, &r);
    return rc ? rc : (r.err ? sp_err(r.err, "sink '%s': bad saved state", st->k.cls->name) : 0);
}

static int sink_commit(sp_op *op, int64_t id)
{
    sink_state *st = op->st;
    return st->k.cls->commit(&st->k, id);
}

static const sp_op_class sink_op = {.name = "sink",
                                    .open = sink_open,
                                    .push = sink_push,
                                    .epoch = sink_epoch,
                                    .finish = sink_finish,
                                    .close = sink_close,
                                    .stateless = 1,
                                    .cfg_free = cfg_free};

/* A two-phase-commit sink: pre-commits at each barrier, publishes on completion. */
static const sp_op_class transactional_sink_op = {.name = "sink",
                                                  .open = sink_open,
                                                  .push = sink_push,
                                                  .epoch = sink_epoch,
                                                  .finish = sink_finish,
                                                  .close = sink_close,
                                                  .snapshot = sink_snapshot,
                                                  .restore = sink_restore,
                                                  .commit = sink_commit,
                                                  .cfg_free = cfg_free};

int sp_sink_add(spate_stream *in, const sp_sink_class *cls, const char *const *options, void *arg)
{
    if (!in) return sp_err(SPATE_EINVAL, "stream is NULL");
    if (!in->schema) return sp_err(SPATE_EINVAL, "an output has no stream to write");
    conn_cfg *c = calloc(1, sizeof *c);
    if (!c) return sp_err(SPATE_ENOMEM, "out of memory");
    char what[96];
    snprintf(what, sizeof what, "sink '%s'", cls->name);
    int rc = sp_opts_parse(&c->opts, what, cls->opts, cls->uses_format ? sp_format_opt_defs : NULL,
                           options);
    if (rc) {
        free(c);
        return rc;
    }
    c->sink = cls;
    c->schema = in->schema;
    if (cls->uses_format && (rc = sp_format_from_opts(&c->fmt, &c->opts, c->schema)) != 0) {
        cfg_free(c);
        return rc;
    }
    spate_stream *node;
    sp_exchange ex = SP_EX_FORWARD;
    const sp_op_class *op_cls = cls->snapshot && cls->commit ? &transactional_sink_op : &sink_op;
    rc = sp_node_add(in->ctx, op_cls, c, NULL, 0, 1, &in, &ex, !cls->parallel, &node);
    if (!rc) c->arg = arg;
    return rc;
}

int spate_sink_open(spate_stream *s, const char *connector, const char *const *options)
{
    if (!connector) return sp_err(SPATE_EINVAL, "connector name is required");
    const sp_sink_class *cls = sp_sink_find(connector);
    if (!cls) return SPATE_ENOTFOUND; /* sp_sink_find named the valid ones */
    return sp_sink_add(s, cls, options, NULL);
}
