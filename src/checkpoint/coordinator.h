/*
 * coordinator.h - checkpoints inside the running job: barriers, snapshots,
 * completion, commits and restore. See docs/checkpoints.md.
 */
#ifndef SP_COORDINATOR_H
#define SP_COORDINATOR_H

#include "runtime/worker.h"

/* A hash of what makes restored state meaningful: operators, schemas, keys,
 * declared edges and the key group count - not the worker count, so a job can
 * restart with more or fewer workers. Callbacks cannot be compared; names and
 * shapes can. Taken before the graph is compiled (placement rewrites edges). */
uint64_t sp_ckpt_fingerprint(const spate_ctx *ctx);
/* Opens the store and, when it holds a complete checkpoint that matches this job,
 * loads it for restore. Checks that every node with state can be checkpointed.
 * Called by spate_ctx_start after the graph is compiled, before instances open. */
int sp_ckpt_setup(spate_ctx *ctx);
/* Restores every opened instance from the loaded checkpoint (if any). */
int sp_ckpt_restore_all(spate_ctx *ctx);
/* Checkpoint id carried by the marker that ends marker interval k (1-based) on
 * every worker, or 0 for none. */
int64_t sp_ckpt_id_for(const spate_ctx *ctx, int64_t k);
/* The barrier of checkpoint id has been aligned at op: snapshot it, and ack when
 * op is terminal (no downstream edges); the last ack completes the checkpoint. */
int sp_ckpt_at_barrier(sp_op *op, int64_t id);
/* An instance finished (finish() ran or its source ended): its state is cached for
 * every later checkpoint and, when terminal, it stops counting towards completion. */
int sp_ckpt_instance_done(sp_op *op);
/* Runs the commit hooks of w's instances for checkpoints completed since the last
 * call. Cheap when nothing completed (one relaxed load). */
int sp_ckpt_commit_pending(sp_worker *w);
/* After the workers have exited from a normal end or graceful stop: one last
 * checkpoint of the quiescent job, then every commit hook. Main thread. */
int sp_ckpt_final(spate_ctx *ctx);
void sp_ckpt_teardown(spate_ctx *ctx);

#endif
