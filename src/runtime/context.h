/*
 * context.h - the context (StreamingContext) as the runtime sees it.
 */
#ifndef SP_CONTEXT_H
#define SP_CONTEXT_H

#include "core/deadletter.h"
#include "core/log.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>

typedef enum { SP_CTX_BUILDING, SP_CTX_RUNNING, SP_CTX_DONE } sp_ctx_state;

typedef enum { SP_DELIVERY_AT_MOST_ONCE, SP_DELIVERY_AT_LEAST_ONCE, SP_DELIVERY_EXACTLY_ONCE } sp_delivery;

struct spate_ctx {
    /* configuration (spate_conf keys) */
    int workers;
    int key_groups;
    uint64_t kg_mask;        /* key_groups - 1 when a power of two, else 0 */
    uint16_t *kg_owner;      /* [key_groups] worker owning each key group */
    int64_t interval_ms;
    char *ckpt_dir;          /* checkpoint.dir; NULL = no checkpoints */
    int64_t ckpt_interval_ms;
    int ckpt_keep;
    int ckpt_reset;
    int delivery;            /* SP_DELIVERY_* */
    int64_t marker_ms;       /* interval of EPOCH markers: batches, or barriers alone */
    struct sp_ckpt_rt *ckpt; /* checkpoint coordinator state, while running */
    uint64_t fingerprint;    /* of the job as declared (before placement rewrites it) */
    uint32_t batch_rows;
    int64_t state_ttl_ms;    /* state.ttl.ms: idle keyed state is dropped; 0 = never */
    int queue_cap;
    sp_bad_policy bad_policy;
    char *dl_path;

    /* the graph, in creation (= topological) order */
    int nnodes, capnodes;
    spate_stream **nodes;

    /* running */
    sp_ctx_state state;
    sp_deadletter dl;
    sp_worker *w;            /* [workers] */
    pthread_t *threads;
    int64_t start_ms;        /* wall clock at start: micro-batch k ends at start + k*interval */
    atomic_int stop_requested;
    atomic_int aborting;
    pthread_mutex_t mu;      /* guards the fields below and remembered batches */
    pthread_cond_t cv;
    int workers_done;
    int joined;
    int job_error;
    char job_msg[512];

    atomic_uint_fast64_t records_in, records_out, batches, late_records;
};

/* Records the job error (first wins) and asks every worker to abort. */
void sp_ctx_fail(spate_ctx *ctx, int code, const char *msg);

#endif
