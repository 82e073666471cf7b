/*
 * worker.h - runtime-private structures: workers, input channels, edges.
 */
#ifndef SP_WORKER_H
#define SP_WORKER_H

#include "runtime/context.h"
#include "runtime/ring.h"

/* An input channel of an instance: a forward link from the upstream instance on
 * the same worker (ring == NULL) or an exchange ring from one upstream worker. */
typedef struct sp_chan {
    int port;
    sp_ring *ring;
    int marked;     /* delivered the EPOCH being aligned */
    int ended;      /* delivered END */
    int idle;       /* delivered IDLE and nothing since */
    int64_t wm;     /* last watermark delivered, µs */
    /* Forward channels cannot be paused, so what arrives on them while they are
     * marked waits here until the epoch is aligned (exchange rings just wait). */
    sp_msg *held;
    int nheld, capheld;
} sp_chan;

/* A downstream edge of a node, with the per-worker exchange state. */
typedef struct sp_edge {
    spate_stream *to;
    int port;
    int side;            /* carries the side output of its node */
    sp_exchange ex;
    int chan;            /* forward: channel index in the child instance */
    sp_ring ***rings;    /* exchange: rings[from][to], NULL where not placed */
    /* HASH: per from-worker scratch, rows per destination then counts. An edge is
     * never re-entered while it scatters (see worker.c), so one buffer suffices. */
    uint32_t **scratch;
    int *rr;             /* ROUND_ROBIN: next destination per from-worker */
} sp_edge;

struct sp_worker {
    spate_ctx *ctx;
    int id;
    sp_pool pool;
    sp_op **ops;         /* instances on this worker, topological order */
    int nops, nfinished;
    uint64_t emitted;    /* batches emitted: tells the loop whether a poll produced */
    int nticking;        /* instances with a tick() */
    int64_t committed;   /* last checkpoint whose commit hooks ran here */
    int64_t epoch;       /* current micro-batch, 1-based: ends at start + epoch*interval */
    int idle_spins;
};

/* worker.c */
void *sp_worker_main(void *arg);
/* Delivers m to channel c of op (data, EPOCH or END), aligning markers. */
int sp_deliver(sp_op *op, int c, sp_msg *m);
/* Sends a marker (EPOCH, END, WATERMARK, IDLE) from op to every downstream instance. */
int sp_emit_marker(sp_op *op, sp_msg_kind kind, int64_t value);
/* Sets op's watermark, runs its watermark() and forwards the watermark. */
int sp_set_watermark(sp_op *op, int64_t wm);
/* Ends a source instance: a last EPOCH (micro-batch style), then END. */
int sp_source_end(sp_op *op);
/* Releases every batch still held in rings, channels and exchange buffers. */
void sp_runtime_drop_inflight(spate_ctx *ctx);

/* graph.c */
/* Places nodes on workers, creates instances, channels and rings. */
int sp_graph_compile(spate_ctx *ctx);
void sp_graph_teardown(spate_ctx *ctx);
void sp_node_free(spate_stream *s);

#endif
