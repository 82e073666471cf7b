/*
 * graph.c - building the logical graph and compiling it into instances.
 *
 * Nodes are appended as the job is built, so creation order is a topological
 * order; the worker relies on it (a node only emits to nodes after it).
 *
 * Placement: a node runs on every worker unless it is single (one instance on
 * worker 0: non-parallel sources, gathers, sinks) or all its inputs are
 * forward edges from single nodes - a map after a file source stays on worker 0
 * with it, fused. An exchange edge gets one ring per (upstream instance,
 * downstream instance) pair; a forward edge gets one channel on the same worker.
 * With a single worker every edge is forward.
 */
#include "runtime/worker.h"

#include <stdlib.h>
#include <string.h>

int sp_node_add(spate_ctx *ctx, const sp_op_class *cls, void *cfg, spate_schema *schema, int nkeys,
                int ninputs, spate_stream *const *in, const sp_exchange *ex, int single,
                spate_stream **out)
{
    *out = NULL;
    int rc = 0;
    if (!ctx)
        rc = sp_err(SPATE_EINVAL, "context is NULL");
    else if (ctx->state != SP_CTX_BUILDING)
        rc = sp_err(SPATE_ESTATE, "the job cannot change after spate_ctx_start");
    for (int i = 0; !rc && i < ninputs; i++) {
        if (!in[i])
            rc = sp_err(SPATE_EINVAL, "input stream is NULL");
        else if (in[i]->ctx != ctx)
            rc = sp_err(SPATE_EINVAL, "streams of different contexts cannot be combined");
        else if (!in[i]->schema)
            rc = sp_err(SPATE_EINVAL, "an output (print, sink) has no stream to continue");
    }
    spate_stream *s = rc ? NULL : calloc(1, sizeof *s);
    if (!rc && !s) rc = sp_err(SPATE_ENOMEM, "out of memory");
    if (!rc && ctx->nnodes == ctx->capnodes) {
        int cap = ctx->capnodes ? ctx->capnodes * 2 : 16;
        spate_stream **nodes = realloc(ctx->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes)
            rc = sp_err(SPATE_ENOMEM, "out of memory");
        else {
            ctx->nodes = nodes;
            ctx->capnodes = cap;
        }
    }
    if (rc) {
        free(s);
        spate_schema_free(schema);
        if (cls && cls->cfg_free && cfg) cls->cfg_free(cfg);
        return rc;
    }
    s->ctx = ctx;
    s->id = ctx->nnodes;
    s->cls = cls;
    s->cfg = cfg;
    s->schema = schema;
    s->nkeys = nkeys;
    s->single = single;
    s->time_col = -1;
    s->ninputs = ninputs;
    for (int i = 0; i < ninputs; i++) {
        s->in[i] = in[i];
        s->ex[i] = ex[i];
        if (ex[i] == SP_EX_GATHER) s->single = 1;
    }
    ctx->nodes[ctx->nnodes++] = s;
    *out = s;
    return 0;
}

static int add_edge(spate_stream *from, spate_stream *to, int port)
{
    sp_edge *e = realloc(from->out, (size_t)(from->nout + 1) * sizeof *e);
    if (!e) return SPATE_ENOMEM;
    from->out = e;
    e = &from->out[from->nout++];
    memset(e, 0, sizeof *e);
    e->to = to;
    e->port = port;
    e->side = to->in_side[port];
    e->ex = to->ex[port];
    return 0;
}

static int side_push(sp_op *op, int port, sp_batch *b)
{
    return sp_op_emit(op, b);
}

static const sp_op_class side_class = {.stateless = 1, .name = "side output", .push = side_push};

int sp_node_add_side(spate_stream *parent, spate_schema *schema, spate_stream **out)
{
    sp_exchange ex = SP_EX_FORWARD;
    int rc = sp_node_add(parent->ctx, &side_class, NULL, schema, 0, 1, &parent, &ex, 0, out);
    if (!rc) (*out)->in_side[0] = 1;
    return rc;
}

/* Single placement, decided in topological order. */
static void place(spate_stream *s)
{
    if (s->single) {
        /* A single instance cannot take forward input from every worker: gather. */
        for (int i = 0; i < s->ninputs; i++)
            if (s->ex[i] == SP_EX_FORWARD && !s->in[i]->single) s->ex[i] = SP_EX_GATHER;
        return;
    }
    if (s->ninputs == 0) return;
    for (int i = 0; i < s->ninputs; i++)
        if (s->ex[i] != SP_EX_FORWARD || !s->in[i]->single) return;
    s->single = 1;
}

static int nplaced(const spate_ctx *ctx, const spate_stream *s)
{
    return s->single ? 1 : ctx->workers;
}

/* Channels of input port p on each instance: one per upstream instance for an
 * exchange, one for a forward edge. */
static int chan_count(const spate_ctx *ctx, const spate_stream *s, int p)
{
    return s->ex[p] == SP_EX_FORWARD ? 1 : nplaced(ctx, s->in[p]);
}

static int make_instances(spate_ctx *ctx, spate_stream *s)
{
    s->inst = calloc((size_t)ctx->workers, sizeof *s->inst);
    if (!s->inst) return SPATE_ENOMEM;
    for (int w = 0; w < nplaced(ctx, s); w++) {
        sp_op *op = calloc(1, sizeof *op);
        if (!op) return SPATE_ENOMEM;
        op->cls = s->cls;
        op->node = s;
        op->worker = &ctx->w[w];
        op->instance = w;
        s->inst[w] = op;
        int nch = 0;
        for (int p = 0; p < s->ninputs; p++)
            nch += chan_count(ctx, s, p);
        op->chans = calloc((size_t)(nch ? nch : 1), sizeof *op->chans);
        if (!op->chans) return SPATE_ENOMEM;
        op->nchans = op->nlive = nch;
        op->wm = SPATE_WATERMARK_MIN;
        atomic_init(&op->wm_pub, SPATE_WATERMARK_MIN);
        for (int c = 0; c < nch; c++)
            op->chans[c].wm = SPATE_WATERMARK_MIN;
        if (s->cls->tick) ctx->w[w].nticking++;
        /* A forward input with no upstream instance on this worker never sends:
         * its channel exists (so channel numbers are the same on every worker)
         * but is ended from the start. */
        for (int p = 0, base = 0; p < s->ninputs; base += chan_count(ctx, s, p), p++)
            if (s->ex[p] == SP_EX_FORWARD && !s->in[p]->inst[w]) {
                op->chans[base].ended = 1;
                op->nlive--;
            }
    }
    return 0;
}

/* Wires edge e (from -> e->to) into channels and rings of the child's instances. */
static int wire_edge(spate_ctx *ctx, spate_stream *from, sp_edge *e)
{
    spate_stream *to = e->to;
    int base = 0;
    for (int p = 0; p < e->port; p++)
        base += chan_count(ctx, to, p);
    if (e->ex == SP_EX_FORWARD) {
        e->chan = base;
        for (int w = 0; w < ctx->workers; w++)
            if (to->inst[w] && from->inst[w]) to->inst[w]->chans[base].port = e->port;
        return 0;
    }
    int W = ctx->workers;
    e->rings = calloc((size_t)W, sizeof *e->rings);
    e->scratch = calloc((size_t)W, sizeof *e->scratch);
    e->rr = calloc((size_t)W, sizeof *e->rr);
    if (!e->rings || !e->scratch || !e->rr) return SPATE_ENOMEM;
    for (int u = 0; u < nplaced(ctx, from); u++) {
        e->rings[u] = calloc((size_t)W, sizeof **e->rings);
        if (!e->rings[u]) return SPATE_ENOMEM;
        if (e->ex == SP_EX_HASH) {
            e->scratch[u] = malloc(((size_t)W * ctx->batch_rows + (size_t)W) * sizeof(uint32_t));
            if (!e->scratch[u]) return SPATE_ENOMEM;
        }
        e->rr[u] = u;
        for (int w = 0; w < W; w++) {
            if (!to->inst[w]) continue;
            sp_ring *r = malloc(sizeof *r);
            if (!r || sp_ring_init(r, (uint32_t)ctx->queue_cap)) {
                free(r);
                return SPATE_ENOMEM;
            }
            e->rings[u][w] = r;
            sp_chan *c = &to->inst[w]->chans[base + u];
            c->ring = r;
            c->port = e->port;
        }
    }
    return 0;
}

int sp_graph_compile(spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++) {
        spate_stream *s = ctx->nodes[i];
        place(s);
        /* One worker: every instance is on it, so an exchange is just a call. Keyed
         * operators compute the hashes the exchange would have carried. */
        for (int p = 0; ctx->workers == 1 && p < s->ninputs; p++)
            s->ex[p] = SP_EX_FORWARD;
        for (int p = 0; p < s->ninputs; p++)
            if (add_edge(s->in[p], s, p)) return sp_err(SPATE_ENOMEM, "out of memory");
        if (make_instances(ctx, s)) return sp_err(SPATE_ENOMEM, "out of memory");
    }
    for (int i = 0; i < ctx->nnodes; i++) {
        spate_stream *s = ctx->nodes[i];
        for (int k = 0; k < s->nout; k++)
            if (wire_edge(ctx, s, &s->out[k])) return sp_err(SPATE_ENOMEM, "out of memory");
        for (int w = 0; w < ctx->workers; w++) {
            sp_op *op = s->inst[w];
            if (!op) continue;
            sp_worker *wk = &ctx->w[w];
            sp_op **ops = realloc(wk->ops, (size_t)(wk->nops + 1) * sizeof *ops);
            if (!ops) return sp_err(SPATE_ENOMEM, "out of memory");
            wk->ops = ops;
            wk->ops[wk->nops++] = op;
        }
    }
    return 0;
}

static void free_edge(spate_ctx *ctx, sp_edge *e)
{
    for (int u = 0; e->rings && u < ctx->workers; u++) {
        for (int w = 0; e->rings[u] && w < ctx->workers; w++) {
            if (e->rings[u][w]) sp_ring_destroy(e->rings[u][w]);
            free(e->rings[u][w]);
        }
        free(e->rings[u]);
        free(e->scratch ? e->scratch[u] : NULL);
    }
    free(e->rings);
    free(e->scratch);
    free(e->rr);
}

void sp_graph_teardown(spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++) {
        spate_stream *s = ctx->nodes[i];
        for (int w = 0; s->inst && w < ctx->workers; w++) {
            sp_op *op = s->inst[w];
            if (!op) continue;
            if (op->opened && op->cls->close) op->cls->close(op);
            for (int c = 0; c < op->nchans; c++)
                free(op->chans[c].held);
            free(op->chans);
            free(op);
        }
        free(s->inst);
        s->inst = NULL;
        for (int k = 0; k < s->nout; k++)
            free_edge(ctx, &s->out[k]);
        free(s->out);
        s->out = NULL;
        s->nout = 0;
    }
}

void sp_node_free(spate_stream *s)
{
    if (s->cls->cfg_free && s->cfg) s->cls->cfg_free(s->cfg);
    spate_schema_free(s->schema);
    free(s);
}
