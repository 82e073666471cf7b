/*
 * services.c - what the runtime offers operator instances: batches from the
 * worker's pool, output row builders, failure reporting, metrics and key hashes.
 */
#include "runtime/worker.h"

#include "core/clock.h"
#include "core/hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sp_ring_init(sp_ring *r, uint32_t cap)
{
    uint32_t c = 2;
    while (c < cap) c *= 2;
    r->slots = calloc(c, sizeof *r->slots);
    if (!r->slots) return SPATE_ENOMEM;
    r->mask = c - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void sp_ring_destroy(sp_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

void sp_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

sp_batch *sp_op_batch(sp_op *op, const spate_schema *schema)
{
    sp_batch *b = sp_pool_get(&op->worker->pool, schema ? schema : op->node->schema);
    if (b) b->time_ms = sp_now_ms();
    return b;
}

void sp_op_release(sp_op *op, sp_batch *b)
{
    sp_pool_put(&op->worker->pool, b);
}

static int out_flush(spate_out *o, void *arg)
{
    sp_op *op = arg;
    const spate_schema *schema = o->b->schema;
    int rc = sp_op_emit(op, o->b);
    o->b = rc ? NULL : sp_op_batch(op, schema);
    if (rc) return rc;
    return o->b ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
}

int sp_op_out_open(sp_op *op, spate_out *o, const spate_schema *schema, int first_col,
                   int ncols)
{
    sp_batch *b = sp_op_batch(op, schema);
    if (!b) return sp_err(SPATE_ENOMEM, "out of memory");
    sp_out_init(o, b, first_col, ncols, out_flush, op);
    return 0;
}

int sp_op_out_close(sp_op *op, spate_out *o)
{
    sp_batch *b = o->b;
    o->b = NULL;
    return b ? sp_op_emit(op, b) : 0;
}

int sp_op_fail(sp_op *op, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sp_err(code, "%s", msg);
    sp_ctx_fail(op->node->ctx, code, msg);
    return code;
}

struct sp_deadletter *sp_op_deadletter(sp_op *op)
{
    return &op->node->ctx->dl;
}

void sp_op_count_in(sp_op *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->node->ctx->records_in, n, memory_order_relaxed);
}

void sp_op_count_late(sp_op *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->node->ctx->late_records, n, memory_order_relaxed);
}

int sp_op_emit_watermark(sp_op *op, int64_t wm_us)
{
    return sp_set_watermark(op, wm_us);
}

int sp_op_emit_idle(sp_op *op)
{
    if (op->idle_out) return 0;
    op->idle_out = 1;
    return sp_emit_marker(op, SP_MSG_IDLE, 0);
}

int spate_stream_watermark(const spate_stream *s, int64_t *wm_us)
{
    if (!s || !wm_us) return sp_err(SPATE_EINVAL, "stream and wm_us are required");
    int64_t min = SPATE_WATERMARK_MIN;
    int seen = 0;
    for (int w = 0; s->inst && w < s->ctx->workers; w++) {
        if (!s->inst[w]) continue;
        int64_t v = atomic_load_explicit(&s->inst[w]->wm_pub, memory_order_relaxed);
        if (!seen || v < min) min = v;
        seen = 1;
    }
    *wm_us = min;
    return 0;
}

void sp_op_count_out(sp_op *op, uint64_t n)
{
    atomic_fetch_add_explicit(&op->node->ctx->records_out, n, memory_order_relaxed);
}

int64_t sp_op_epoch_index(const sp_op *op)
{
    return op->worker->epoch - 1;
}

int64_t sp_op_epoch_end_ms(const sp_op *op)
{
    const spate_ctx *ctx = op->node->ctx;
    return ctx->interval_ms > 0 ? ctx->start_ms + op->worker->epoch * ctx->interval_ms
                                : sp_now_ms();
}

int sp_op_stopping(const sp_op *op)
{
    return atomic_load_explicit(&op->node->ctx->stop_requested, memory_order_relaxed);
}

int sp_ctx_microbatch(const spate_ctx *ctx)
{
    return ctx->interval_ms > 0;
}

int sp_ctx_workers(const spate_ctx *ctx)
{
    return ctx->workers;
}

int sp_ctx_key_groups(const spate_ctx *ctx)
{
    return ctx->key_groups;
}

uint32_t sp_ctx_batch_rows(const spate_ctx *ctx)
{
    return ctx->batch_rows;
}

int64_t sp_ctx_state_ttl_ms(const spate_ctx *ctx)
{
    return ctx->state_ttl_ms;
}

int sp_ctx_checkpointing(const spate_ctx *ctx)
{
    return ctx->ckpt_dir != NULL;
}

int sp_ctx_delivery(const spate_ctx *ctx)
{
    return ctx->delivery;
}

enum { SP_KEY_SEED = 0x5eed5a7e };

static uint64_t hash_cell(uint64_t h, const sp_vec *v, uint32_t r)
{
    if (sp_vec_is_null(v, r)) return sp_hash_u64(h, 0x6e756c6cULL);
    if (sp_type_is_str(v->type)) {
        spate_str s = SP_STR(v)[r];
        return sp_hash_bytes(h, s.ptr, s.len);
    }
    if (v->type == SPATE_FLOAT64) {
        double d = SP_F64(v)[r];
        uint64_t bits;
        if (d == 0) d = 0; /* -0.0 and 0.0 are one key */
        memcpy(&bits, &d, 8);
        return sp_hash_u64(h, bits);
    }
    return sp_hash_u64(h, (uint64_t)sp_vec_get_int(v, r));
}

uint64_t sp_row_key_hash(const sp_batch *b, uint32_t r, int nkeys)
{
    uint64_t h = SP_KEY_SEED;
    for (int c = 0; c < nkeys; c++) h = hash_cell(h, &b->cols[c], r);
    return h;
}

void sp_batch_hash_keys(sp_batch *b, int nkeys)
{
    uint32_t n = sp_batch_count(b);
    if (nkeys == 1 && !b->has_sel && sp_type_is_int(b->cols[0].type) && b->cols[0].type != SPATE_BOOL
        && !b->cols[0].has_nulls && sp_type_size(b->cols[0].type) == 8) {
        /* The common case - one 64-bit integer key - as a tight loop. */
        const int64_t *k = SP_I64(&b->cols[0]);
        for (uint32_t i = 0; i < n; i++) b->hashes[i] = sp_hash_u64(SP_KEY_SEED, (uint64_t)k[i]);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t r = sp_batch_phys(b, i);
            b->hashes[r] = sp_row_key_hash(b, r, nkeys);
        }
    }
    b->has_hashes = 1;
}
