/*
 * ring.h - bounded single-producer/single-consumer queue of messages.
 *
 * One ring per (upstream worker, downstream worker) pair of an exchange edge, so
 * each end is touched by exactly one thread and a pair of acquire/release
 * atomics is all the synchronisation needed: no locks on the data path. Head and
 * tail sit on separate cache lines so producer and consumer do not false-share.
 * A full ring makes the producer wait (and do other useful work meanwhile, see
 * worker.c): that is the backpressure that reaches the sources.
 */
#ifndef SP_RING_H
#define SP_RING_H

#include "core/batch.h"

#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    SP_MSG_DATA,
    SP_MSG_EPOCH,     /* end of a micro-batch: value = batch time, ms */
    SP_MSG_END,       /* the input is exhausted */
    SP_MSG_WATERMARK, /* value = watermark, µs */
    SP_MSG_IDLE       /* the input is idle: it holds no watermark back */
} sp_msg_kind;

typedef struct sp_msg {
    sp_msg_kind kind;
    int64_t value;    /* EPOCH, WATERMARK */
    int64_t ckpt;     /* EPOCH: the checkpoint whose barrier it is, or 0 */
    sp_batch *b;      /* DATA */
} sp_msg;

typedef struct sp_ring {
    _Alignas(64) atomic_uint_fast32_t head; /* next slot to read (consumer) */
    _Alignas(64) atomic_uint_fast32_t tail; /* next slot to write (producer) */
    _Alignas(64) uint32_t mask;
    sp_msg *slots;
} sp_ring;

/* cap is rounded up to a power of two. 0 or SPATE_ENOMEM. */
int sp_ring_init(sp_ring *r, uint32_t cap);
void sp_ring_destroy(sp_ring *r);

static inline int sp_ring_push(sp_ring *r, const sp_msg *m)
{
    uint32_t t = (uint32_t)atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t h = (uint32_t)atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - h > r->mask) return 0;
    r->slots[t & r->mask] = *m;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return 1;
}

static inline int sp_ring_pop(sp_ring *r, sp_msg *m)
{
    uint32_t h = (uint32_t)atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t t = (uint32_t)atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == t) return 0;
    *m = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return 1;
}

#endif
