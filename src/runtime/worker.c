/*
 * worker.c - the worker loop, in-band markers and exchanges.
 *
 * Each worker thread owns its instances and runs a loop: start micro-batches
 * whose time has come (EPOCH markers from its sources), poll its sources once,
 * drain its input rings, and back off briefly when nothing moved.
 *
 * Markers are aligned per instance: EPOCH must arrive on every live channel
 * before the instance's epoch() runs and the marker moves on. A channel that
 * has delivered EPOCH is paused until then (its ring is not read; what arrives
 * on a forward channel is held), so no record of batch k+1 reaches an operator
 * before batch k is closed - the barrier alignment of Flink's checkpoints.
 *
 * Watermarks are not aligned but combined: an instance's watermark is the minimum
 * of the last watermark of each live, active input channel, and it only moves
 * forward. A channel that sent IDLE (its assigner saw no input for a while) does
 * not count until it sends data or a watermark again; when every live channel is
 * idle the instance passes IDLE on. When all inputs have ended the watermark
 * becomes SPATE_WATERMARK_MAX before finish(), so every pending window fires.
 *
 * Backpressure without deadlock: a producer facing a full ring drains the
 * rings of its own worker's instances at or after the consumer in topological
 * order while it waits. Those only emit further downstream, so the waiting
 * never re-enters an operator on the stack, and every worker blocked on a ring
 * keeps consuming what other workers send it: the consumer side of any full
 * ring always makes progress, down to the sinks, which never block.
 */
#include "runtime/worker.h"

#include "checkpoint/coordinator.h"

#include "core/clock.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

static int drain(sp_worker *w, int min_topo);

static int aborting(const spate_ctx *ctx)
{
    return atomic_load_explicit(&ctx->aborting, memory_order_relaxed);
}

static void release_msg(sp_op *op, sp_msg *m)
{
    if (m->kind == SP_MSG_DATA && m->b) sp_op_release(op, m->b);
    m->b = NULL;
}

static void backoff(sp_worker *w)
{
    if (w->idle_spins < 64) {
        w->idle_spins++;
        sched_yield();
        return;
    }
    sp_sleep_ns(w->idle_spins < 256 ? 20000 : 200000);
    if (w->idle_spins < 256) w->idle_spins++;
}

/* Pushes m into r, draining this worker's downstream rings while r is full. */
static int ring_send(sp_op *op, sp_ring *r, sp_msg *m, int consumer_topo)
{
    sp_worker *w = op->worker;
    int spins = 0;
    while (!sp_ring_push(r, m)) {
        if (aborting(w->ctx)) {
            release_msg(op, m);
            return SPATE_ESTATE;
        }
        int p = drain(w, consumer_topo);
        if (p < 0) {
            release_msg(op, m);
            return p;
        }
        if (p == 0 && ++spins > 64) sp_sleep_ns(20000);
    }
    return 0;
}

static int hold(sp_chan *ch, const sp_msg *m)
{
    if (ch->nheld == ch->capheld) {
        int cap = ch->capheld ? ch->capheld * 2 : 8;
        sp_msg *h = realloc(ch->held, (size_t)cap * sizeof *h);
        if (!h) return sp_err(SPATE_ENOMEM, "out of memory");
        ch->held = h;
        ch->capheld = cap;
    }
    ch->held[ch->nheld++] = *m;
    return 0;
}

int sp_set_watermark(sp_op *op, int64_t wm)
{
    if (wm <= op->wm) return 0;
    op->wm = wm;
    op->idle_out = 0;
    atomic_store_explicit(&op->wm_pub, wm, memory_order_relaxed);
    int rc = op->cls->watermark ? op->cls->watermark(op, wm) : 0;
    return rc ? rc : sp_emit_marker(op, SP_MSG_WATERMARK, wm);
}

/* Recomputes the watermark from the channels after one of them changed. */
static int combine_watermarks(sp_op *op)
{
    int64_t min = SPATE_WATERMARK_MAX;
    int active = 0;
    for (int c = 0; c < op->nchans; c++) {
        const sp_chan *ch = &op->chans[c];
        if (ch->ended || ch->idle) continue;
        active++;
        if (ch->wm < min) min = ch->wm;
    }
    if (active) return sp_set_watermark(op, min);
    if (op->nlive == 0 || op->idle_out) return 0;
    op->idle_out = 1;
    return sp_emit_marker(op, SP_MSG_IDLE, 0);
}

static int emit_epoch(sp_op *op, int64_t t, int64_t ckpt);

static int finish(sp_op *op)
{
    int rc = sp_set_watermark(op, SPATE_WATERMARK_MAX);
    if (!rc && op->cls->finish) rc = op->cls->finish(op);
    if (!rc) rc = sp_emit_marker(op, SP_MSG_END, 0);
    op->finished = 1;
    op->worker->nfinished++;
    return rc ? rc : sp_ckpt_instance_done(op);
}

/* Every live channel delivered the EPOCH: close the batch (micro-batch style),
 * snapshot when it is a checkpoint barrier, pass it on, resume the channels. */
static int align(sp_op *op)
{
    int64_t t = op->mark_time, ckpt = op->mark_ckpt;
    int microbatch = op->node->ctx->interval_ms > 0;
    int rc = microbatch && op->cls->epoch ? op->cls->epoch(op, t) : 0;
    if (!rc && ckpt) rc = sp_ckpt_at_barrier(op, ckpt);
    if (!rc) rc = emit_epoch(op, t, ckpt);
    op->nmarked = 0;
    op->mark_ckpt = 0;
    for (int c = 0; c < op->nchans; c++) op->chans[c].marked = 0;
    for (int c = 0; c < op->nchans; c++) {
        sp_chan *ch = &op->chans[c];
        if (!ch->nheld) continue;
        sp_msg *held = ch->held;
        int n = ch->nheld;
        ch->held = NULL;
        ch->nheld = ch->capheld = 0;
        for (int i = 0; i < n; i++) {
            if (rc) release_msg(op, &held[i]);
            else rc = sp_deliver(op, c, &held[i]);
        }
        free(held);
    }
    return rc;
}

int sp_deliver(sp_op *op, int c, sp_msg *m)
{
    sp_chan *ch = &op->chans[c];
    if (ch->marked) {
        int rc = hold(ch, m);
        if (rc) release_msg(op, m);
        return rc;
    }
    switch (m->kind) {
    case SP_MSG_DATA:
        ch->idle = 0;
        return op->cls->push(op, ch->port, m->b);
    case SP_MSG_EPOCH:
        ch->marked = 1;
        op->nmarked++;
        op->mark_time = m->value;
        /* A source that ended early sends its last EPOCH without a checkpoint id;
         * the other channels' marker of that batch carries it. */
        if (m->ckpt > op->mark_ckpt) op->mark_ckpt = m->ckpt;
        return op->nmarked == op->nlive ? align(op) : 0;
    case SP_MSG_END: {
        ch->ended = 1;
        op->nlive--;
        if (op->nlive == 0) return finish(op);
        int rc = combine_watermarks(op);
        if (rc) return rc;
        return op->nmarked && op->nmarked == op->nlive ? align(op) : 0;
    }
    case SP_MSG_WATERMARK:
        if (m->value > ch->wm) ch->wm = m->value;
        ch->idle = 0;
        return combine_watermarks(op);
    case SP_MSG_IDLE:
        ch->idle = 1;
        return combine_watermarks(op);
    }
    return 0;
}

/* Copies the rows rows[0..n) of src into dst, column by column. */
static int gather_rows(sp_batch *dst, const sp_batch *src, const uint32_t *rows, uint32_t n)
{
    for (int c = 0; c < src->ncols; c++) {
        const sp_vec *s = &src->cols[c];
        sp_vec *d = &dst->cols[c];
        size_t w = sp_type_size(s->type);
        if (sp_type_is_str(s->type)) {
            for (uint32_t i = 0; i < n; i++) {
                if (sp_vec_is_null(s, rows[i])) continue; /* the cell holds no string */
                spate_str v = SP_STR(s)[rows[i]];
                char *p = sp_arena_dup(&dst->arena, v.ptr, v.len);
                if (!p) return SPATE_ENOMEM;
                SP_STR(d)[i] = (spate_str){p, v.len};
            }
        } else if (w == 8) {
            for (uint32_t i = 0; i < n; i++) SP_I64(d)[i] = SP_I64(s)[rows[i]];
        } else if (w == 4) {
            for (uint32_t i = 0; i < n; i++) SP_I32(d)[i] = SP_I32(s)[rows[i]];
        } else {
            for (uint32_t i = 0; i < n; i++) SP_BOOL(d)[i] = SP_BOOL(s)[rows[i]];
        }
        if (s->has_nulls)
            for (uint32_t i = 0; i < n; i++)
                if (sp_vec_is_null(s, rows[i])) sp_vec_set_null(d, i);
    }
    for (uint32_t i = 0; i < n; i++) dst->hashes[i] = src->hashes[rows[i]];
    dst->has_hashes = 1;
    dst->n = n;
    dst->time_ms = src->time_ms;
    return 0;
}

/* HASH exchange: rows go to the worker owning their key group. */
static int scatter(sp_op *op, sp_edge *e, sp_batch *b)
{
    spate_ctx *ctx = op->node->ctx;
    int W = ctx->workers, u = op->instance;
    sp_batch_hash_keys(b, op->node->nkeys);
    sp_msg m = {.kind = SP_MSG_DATA, .b = b};
    if (e->to->single || W == 1) return ring_send(op, e->rings[u][0], &m, e->to->id);
    uint32_t n = sp_batch_count(b);
    uint32_t *rows = e->scratch[u], *cnt = rows + (size_t)W * n;
    memset(cnt, 0, (size_t)W * sizeof *cnt);
    int rc = 0;
    /* The owner of each key group is a table lookup; the group a mask when P is a
     * power of two (the default): no division per row. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i);
        uint64_t h = b->hashes[r];
        int d = ctx->kg_owner[ctx->kg_mask ? h & ctx->kg_mask : h % (uint64_t)ctx->key_groups];
        rows[(size_t)d * n + cnt[d]++] = r;
    }
    for (int d = 0; !rc && d < W; d++) {
        if (!cnt[d]) continue;
        sp_batch *part = sp_op_batch(op, b->schema);
        if (!part) rc = sp_err(SPATE_ENOMEM, "out of memory");
        else if ((rc = gather_rows(part, b, rows + (size_t)d * n, cnt[d])) != 0)
            sp_op_release(op, part);
        else {
            sp_msg pm = {.kind = SP_MSG_DATA, .b = part};
            rc = ring_send(op, e->rings[u][d], &pm, e->to->id);
        }
    }
    sp_op_release(op, b);
    return rc;
}

static int send_edge(sp_op *op, sp_edge *e, sp_batch *b)
{
    int u = op->instance;
    sp_msg m = {.kind = SP_MSG_DATA, .b = b};
    switch (e->ex) {
    case SP_EX_FORWARD: return sp_deliver(e->to->inst[u], e->chan, &m);
    case SP_EX_GATHER: return ring_send(op, e->rings[u][0], &m, e->to->id);
    case SP_EX_ROUND_ROBIN: {
        int W = op->node->ctx->workers, d;
        do {
            d = e->rr[u];
            e->rr[u] = (d + 1) % W;
        } while (!e->rings[u][d]);
        return ring_send(op, e->rings[u][d], &m, e->to->id);
    }
    case SP_EX_HASH: return scatter(op, e, b);
    }
    return 0;
}

/* Sends b down every edge of the main (side = 0) or side output. */
static int emit_to(sp_op *op, sp_batch *b, int side)
{
    spate_stream *s = op->node;
    if (!b) return 0;
    int last = -1;
    for (int k = 0; k < s->nout; k++)
        if (s->out[k].side == side) last = k;
    if (sp_batch_count(b) == 0 || last < 0) {
        sp_op_release(op, b);
        return 0;
    }
    op->worker->emitted++;
    for (int k = 0; k <= last; k++) {
        if (s->out[k].side != side) continue;
        sp_batch *x = k == last ? b : sp_batch_clone(b);
        if (!x) {
            sp_op_release(op, b);
            return sp_err(SPATE_ENOMEM, "out of memory");
        }
        int rc = send_edge(op, &s->out[k], x);
        if (rc) {
            if (x != b) sp_op_release(op, b);
            return rc;
        }
    }
    return 0;
}

int sp_op_emit(sp_op *op, sp_batch *b)
{
    return emit_to(op, b, 0);
}

int sp_op_emit_side(sp_op *op, sp_batch *b)
{
    return emit_to(op, b, 1);
}

static int emit_marker_ck(sp_op *op, sp_msg_kind kind, int64_t value, int64_t ckpt)
{
    spate_stream *s = op->node;
    int u = op->instance;
    for (int k = 0; k < s->nout; k++) {
        sp_edge *e = &s->out[k];
        sp_msg m = {.kind = kind, .value = value, .ckpt = ckpt};
        int rc = 0;
        if (e->ex == SP_EX_FORWARD) {
            rc = sp_deliver(e->to->inst[u], e->chan, &m);
        } else {
            for (int d = 0; !rc && d < s->ctx->workers; d++)
                if (e->rings[u][d]) rc = ring_send(op, e->rings[u][d], &m, e->to->id);
        }
        if (rc) return rc;
    }
    return 0;
}

int sp_emit_marker(sp_op *op, sp_msg_kind kind, int64_t value)
{
    return emit_marker_ck(op, kind, value, 0);
}

static int emit_epoch(sp_op *op, int64_t t, int64_t ckpt)
{
    return emit_marker_ck(op, SP_MSG_EPOCH, t, ckpt);
}

static int64_t epoch_end(const sp_worker *w)
{
    return w->ctx->start_ms + w->epoch * w->ctx->marker_ms;
}

int sp_source_end(sp_op *op)
{
    if (op->finished) return 0;
    int rc = 0;
    if (op->node->ctx->interval_ms > 0) rc = emit_epoch(op, epoch_end(op->worker), 0);
    if (!rc) rc = sp_emit_marker(op, SP_MSG_END, 0);
    op->finished = 1;
    op->worker->nfinished++;
    return rc ? rc : sp_ckpt_instance_done(op);
}

/* Ends the marker intervals whose time has come: every live source snapshots its
 * position if the marker is a checkpoint barrier, then emits the EPOCH (a micro-
 * batch boundary, or in the continuous style a barrier alone). */
static int tick(sp_worker *w, int *progress)
{
    int64_t now = sp_now_ms();
    while (now >= epoch_end(w)) {
        int64_t t = epoch_end(w), ckpt = sp_ckpt_id_for(w->ctx, w->epoch);
        for (int i = 0; i < w->nops; i++) {
            sp_op *op = w->ops[i];
            if (!op->cls->poll || op->finished) continue;
            int rc = ckpt ? sp_ckpt_at_barrier(op, ckpt) : 0;
            if (!rc) rc = emit_epoch(op, t, ckpt);
            if (rc) return rc;
        }
        w->epoch++;
        if (w->id == 0 && w->ctx->interval_ms > 0) atomic_fetch_add(&w->ctx->batches, 1);
        (*progress)++;
    }
    return 0;
}

static int tick_ops(sp_worker *w)
{
    int64_t now = sp_now_ms();
    for (int i = 0; i < w->nops; i++) {
        sp_op *op = w->ops[i];
        if (!op->cls->tick || op->finished) continue;
        int rc = op->cls->tick(op, now);
        if (rc) return rc;
    }
    return 0;
}

static int poll_sources(sp_worker *w, int *progress)
{
    int stopping = atomic_load_explicit(&w->ctx->stop_requested, memory_order_relaxed);
    for (int i = 0; i < w->nops; i++) {
        sp_op *op = w->ops[i];
        if (!op->cls->poll || op->finished) continue;
        uint64_t before = w->emitted;
        int eof = 0, rc;
        if (stopping) rc = sp_source_end(op);
        else {
            rc = op->cls->poll(op, &eof);
            if (!rc && eof) rc = sp_source_end(op);
        }
        if (rc) return rc;
        if (w->emitted != before || eof || stopping) (*progress)++;
    }
    return 0;
}

/* Reads the unpaused input rings of this worker's instances from min_topo on.
 * Returns the number of messages delivered, or a negative error. */
static int drain(sp_worker *w, int min_topo)
{
    int progress = 0;
    for (int i = 0; i < w->nops; i++) {
        sp_op *op = w->ops[i];
        if (op->node->id < min_topo || op->finished) continue;
        for (int c = 0; c < op->nchans; c++) {
            sp_chan *ch = &op->chans[c];
            sp_msg m;
            for (int k = 0; k < 16 && ch->ring && !ch->marked && !ch->ended; k++) {
                if (!sp_ring_pop(ch->ring, &m)) break;
                progress++;
                int rc = sp_deliver(op, c, &m);
                if (rc) return rc;
            }
        }
    }
    return progress;
}

void *sp_worker_main(void *arg)
{
    sp_worker *w = arg;
    spate_ctx *ctx = w->ctx;
    int rc = 0;
    while (!rc && !aborting(ctx) && w->nfinished < w->nops) {
        int progress = 0;
        if (ctx->marker_ms > 0) rc = tick(w, &progress);
        if (!rc) rc = sp_ckpt_commit_pending(w);
        if (!rc) rc = poll_sources(w, &progress);
        if (!rc && w->nticking) rc = tick_ops(w);
        if (!rc) {
            int p = drain(w, 0);
            if (p < 0) rc = p;
            else progress += p;
        }
        if (progress) w->idle_spins = 0;
        else backoff(w);
    }
    if (rc && rc != SPATE_ESTATE) sp_ctx_fail(ctx, rc, spate_last_error());
    else if (rc && !aborting(ctx)) sp_ctx_fail(ctx, rc, spate_last_error());
    pthread_mutex_lock(&ctx->mu);
    ctx->workers_done++;
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
    return NULL;
}

void sp_runtime_drop_inflight(spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++) {
        spate_stream *s = ctx->nodes[i];
        for (int w = 0; s->inst && w < ctx->workers; w++) {
            sp_op *op = s->inst[w];
            for (int c = 0; op && c < op->nchans; c++) {
                sp_chan *ch = &op->chans[c];
                sp_msg m;
                while (ch->ring && sp_ring_pop(ch->ring, &m))
                    if (m.kind == SP_MSG_DATA) sp_batch_free(m.b);
                for (int k = 0; k < ch->nheld; k++)
                    if (ch->held[k].kind == SP_MSG_DATA) sp_batch_free(ch->held[k].b);
                ch->nheld = 0;
            }
        }
    }
}
