/*
 * coordinator.c - checkpoints of a running job (asynchronous barrier snapshots).
 *
 * Barriers ride on the in-band markers the runtime already aligns: in the
 * micro-batch style every K-th EPOCH carries a checkpoint id (K = checkpoint
 * interval / batch interval), so per-batch operators have flushed when they
 * snapshot; in the continuous style the workers emit barrier-only markers at the
 * checkpoint interval. Ids continue from the restored checkpoint.
 *
 * A source snapshots its position just before it emits the barrier; every other
 * instance snapshots when the barrier is aligned on all its inputs (worker.c's
 * align), before passing it on. An instance's keyed state is one file of
 * sections, one per key group (nN-kI: varint group, varint length, bytes), so a
 * restore with another worker count still finds each group wherever it was
 * written while a checkpoint costs one fsynced file per instance rather than one
 * per key group; other state goes to nN-iI. Files go through the store
 * (store.c: CRC per file, manifest last, fsync, atomic rename). Terminal instances (no
 * downstream edge) ack; when all live ones have acked id, the last acker writes
 * the manifest and the checkpoint is complete; each worker then runs its
 * instances' commit hooks (two-phase-commit sinks publish).
 *
 * Finished instances see no more barriers: at finish their state is snapshotted
 * once and cached, and written into every later checkpoint; a finished terminal
 * instance no longer counts towards completion. When the job ends normally or by
 * a graceful stop, the main thread takes one last checkpoint of the quiescent job
 * and commits it, so the final output is published exactly once.
 *
 * Acks, the cache and completion share ctx->mu: they happen once per checkpoint
 * per instance, far from the per-record path.
 */
#include "checkpoint/coordinator.h"

#include "checkpoint/serde.h"
#include "checkpoint/store.h"
#include "core/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ACK_SLOTS = 64, META_VERSION = 1 };
#define META_MAGIC 0x4b435053u /* "SPCK" */

/* A finished instance's last state, written into every later checkpoint. */
typedef struct cached_file {
    char name[48];
    sp_wbuf data;
    struct cached_file *next;
} cached_file;

typedef struct sp_ckpt_rt {
    sp_ckpt_store *store;
    int64_t every;          /* marker intervals per checkpoint */
    int64_t base;           /* id of the restored checkpoint; new ids follow it */
    sp_ckpt_view *restored; /* until restore_all is done */
    uint64_t fingerprint;
    int live_terminal;      /* terminal instances not finished */
    int acks[ACK_SLOTS];    /* per id % ACK_SLOTS */
    int64_t begun;          /* highest id with a directory */
    int64_t completed;      /* highest complete id (ctx->mu) */
    _Atomic int64_t completed_pub; /* the same, read by the workers' loops */
    cached_file *cache;
} sp_ckpt_rt;

struct sp_state_out {
    sp_op *op;
    sp_wbuf **groups; /* [key_groups], created on first use */
    sp_wbuf inst;
};

struct sp_state_in {
    sp_op *op;
    const sp_ckpt_view *view;
    int file;       /* index of the keyed-state file being read */
    sp_rbuf cursor; /* its remaining sections */
};

/* ------------------------------------------------------------ job identity */

uint64_t sp_ckpt_fingerprint(const spate_ctx *ctx)
{
    uint64_t h = sp_hash_u64(0x5eed, (uint64_t)ctx->key_groups);
    for (int i = 0; i < ctx->nnodes; i++) {
        const spate_stream *s = ctx->nodes[i];
        h = sp_hash_bytes(h, s->cls->name, strlen(s->cls->name));
        h = sp_hash_u64(h, ((uint64_t)s->nkeys << 8) | ((uint64_t)s->ninputs << 4) |
                               (uint64_t)s->single);
        for (int p = 0; p < s->ninputs; p++)
            h = sp_hash_u64(h, ((uint64_t)s->in[p]->id << 8) | (uint64_t)s->ex[p]);
        for (int c = 0; s->schema && c < s->schema->n; c++) {
            h = sp_hash_bytes(h, s->schema->f[c].name, strlen(s->schema->f[c].name));
            h = sp_hash_u64(h, (uint64_t)s->schema->f[c].type);
        }
    }
    return h;
}

static int is_stateful(const spate_stream *s)
{
    return !s->cls->stateless;
}

/* Every node that holds state must be able to write and read it back. */
static int check_nodes(const spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++) {
        const spate_stream *s = ctx->nodes[i];
        if (is_stateful(s) && (!s->cls->snapshot || !s->cls->restore))
            return sp_err(SPATE_EUNSUPPORTED,
                          "operator '%s' (stream %d) cannot be checkpointed yet: run this job "
                          "without checkpoint.dir",
                          s->cls->name, s->id);
    }
    return 0;
}

static int count_terminal(const spate_ctx *ctx)
{
    int n = 0;
    for (int i = 0; i < ctx->nnodes; i++)
        for (int w = 0; ctx->nodes[i]->nout == 0 && w < ctx->workers; w++)
            n += ctx->nodes[i]->inst[w] != NULL;
    return n;
}

/* ------------------------------------------------------------------- setup */

static int load_latest(spate_ctx *ctx, sp_ckpt_rt *rt)
{
    int64_t n;
    int rc = sp_ckpt_latest(rt->store, &n);
    if (rc == SPATE_ENOTFOUND) return 0;
    if (rc) return rc;
    if ((rc = sp_ckpt_load(rt->store, n, &rt->restored)) != 0) return rc;
    size_t len;
    sp_rbuf r;
    const void *meta = sp_ckpt_meta(rt->restored, &len);
    sp_rbuf_init(&r, meta, len);
    uint32_t magic = sp_r_u32(&r), version = sp_r_u32(&r);
    uint64_t fp = sp_r_u64(&r);
    if (r.err || magic != META_MAGIC || version != META_VERSION)
        return sp_err(SPATE_EPARSE, "checkpoint %lld in %s has unreadable job metadata",
                      (long long)n, ctx->ckpt_dir);
    if (fp != rt->fingerprint && !ctx->ckpt_reset)
        return sp_err(SPATE_ESTATE,
                      "the job differs from the one that wrote checkpoint %lld in %s "
                      "(operators, schemas, keys or key_groups changed); set "
                      "checkpoint.reset=true to start over",
                      (long long)n, ctx->ckpt_dir);
    if (fp != rt->fingerprint) {
        sp_log(SP_LOG_WARN, "checkpoint.reset: ignoring checkpoint %lld of another job",
               (long long)n);
        sp_ckpt_view_free(rt->restored);
        rt->restored = NULL;
    }
    rt->base = n;
    rt->begun = rt->completed = n;
    atomic_store(&rt->completed_pub, n);
    /* Restore already publishes what the restored checkpoint recorded: commit hooks
     * run for the checkpoints taken from now on only. */
    for (int w = 0; w < ctx->workers; w++) ctx->w[w].committed = n;
    if (rt->restored) sp_log(SP_LOG_INFO, "restoring checkpoint %lld", (long long)n);
    return 0;
}

int sp_ckpt_setup(spate_ctx *ctx)
{
    if (!ctx->ckpt_dir) return 0;
    int rc = check_nodes(ctx);
    if (rc) return rc;
    sp_ckpt_rt *rt = calloc(1, sizeof *rt);
    if (!rt) return sp_err(SPATE_ENOMEM, "out of memory");
    ctx->ckpt = rt;
    int64_t marker_ms = ctx->interval_ms > 0 ? ctx->interval_ms : ctx->ckpt_interval_ms;
    rt->every = ctx->interval_ms > 0 ? (ctx->ckpt_interval_ms + marker_ms - 1) / marker_ms : 1;
    if (rt->every < 1) rt->every = 1;
    rt->fingerprint = ctx->fingerprint;
    rt->live_terminal = count_terminal(ctx);
    rc = sp_ckpt_store_open(ctx->ckpt_dir, ctx->ckpt_keep, &rt->store);
    if (!rc) rc = load_latest(ctx, rt);
    return rc;
}

int64_t sp_ckpt_id_for(const spate_ctx *ctx, int64_t k)
{
    const sp_ckpt_rt *rt = ctx->ckpt;
    return rt && k % rt->every == 0 ? rt->base + k / rt->every : 0;
}

/* ---------------------------------------------------------------- snapshot */

struct sp_wbuf *sp_state_group(sp_state_out *s, int key_group)
{
    int P = s->op->node->ctx->key_groups;
    if (key_group < 0 || key_group >= P) key_group = 0;
    if (!s->groups) s->groups = calloc((size_t)P, sizeof *s->groups);
    if (!s->groups) return &s->inst; /* inst.err reports it below */
    if (!s->groups[key_group]) s->groups[key_group] = calloc(1, sizeof(sp_wbuf));
    if (!s->groups[key_group]) {
        s->inst.err = SPATE_ENOMEM;
        return &s->inst;
    }
    return s->groups[key_group];
}

struct sp_wbuf *sp_state_instance(sp_state_out *s)
{
    return &s->inst;
}

static void state_out_free(sp_state_out *s, int P)
{
    for (int g = 0; s->groups && g < P; g++) {
        if (s->groups[g]) sp_wbuf_free(s->groups[g]);
        free(s->groups[g]);
    }
    free(s->groups);
    sp_wbuf_free(&s->inst);
}

/* Calls visit(name, buf) for the instance's keyed-state file (its key groups as
 * sections) and its instance-state file, when not empty. */
static int each_file(sp_state_out *s, int (*visit)(void *, const char *, sp_wbuf *), void *arg)
{
    const spate_stream *node = s->op->node;
    char name[48];
    int rc = s->inst.err;
    sp_wbuf keyed = {0};
    for (int g = 0; !rc && s->groups && g < node->ctx->key_groups; g++) {
        if (!s->groups[g] || !s->groups[g]->len) continue;
        if ((rc = s->groups[g]->err) != 0) break;
        sp_w_varint(&keyed, (uint64_t)g);
        sp_w_bytes(&keyed, s->groups[g]->p, s->groups[g]->len);
    }
    if (!rc) rc = keyed.err;
    if (!rc && keyed.len) {
        snprintf(name, sizeof name, "n%d-k%d", node->id, s->op->instance);
        rc = visit(arg, name, &keyed);
    }
    sp_wbuf_free(&keyed);
    if (!rc && s->inst.len) {
        snprintf(name, sizeof name, "n%d-i%d", node->id, s->op->instance);
        rc = visit(arg, name, &s->inst);
    }
    return rc;
}

typedef struct put_arg {
    sp_ckpt_rt *rt;
    int64_t id;
} put_arg;

static int put_file(void *arg, const char *name, sp_wbuf *b)
{
    put_arg *a = arg;
    return sp_ckpt_put(a->rt->store, a->id, name, b->p, b->len);
}

/* Moves the buffer into the cache of finished instances' state (ctx->mu held). */
static int cache_file(void *arg, const char *name, sp_wbuf *b)
{
    sp_ckpt_rt *rt = arg;
    cached_file *f = calloc(1, sizeof *f);
    if (!f) return sp_err(SPATE_ENOMEM, "out of memory");
    snprintf(f->name, sizeof f->name, "%s", name);
    f->data = *b;
    memset(b, 0, sizeof *b);
    f->next = rt->cache;
    rt->cache = f;
    return 0;
}

/* Creates checkpoint id's directory once, with the finished instances' state
 * (ctx->mu held). */
static int ensure_begun(spate_ctx *ctx, int64_t id)
{
    sp_ckpt_rt *rt = ctx->ckpt;
    if (id <= rt->begun) return 0;
    int rc = sp_ckpt_begin(rt->store, id);
    for (cached_file *f = rt->cache; !rc && f; f = f->next)
        rc = sp_ckpt_put(rt->store, id, f->name, f->data.p, f->data.len);
    if (!rc) rt->begun = id;
    return rc;
}

static int snapshot_into(sp_op *op, int64_t id, int (*visit)(void *, const char *, sp_wbuf *),
                         void *arg)
{
    sp_state_out s = {.op = op};
    int rc = op->cls->snapshot(op, id, &s);
    if (!rc) rc = each_file(&s, visit, arg);
    state_out_free(&s, op->node->ctx->key_groups);
    return rc;
}

static void meta_write(const sp_ckpt_rt *rt, int64_t id, sp_wbuf *m)
{
    sp_w_u32(m, META_MAGIC);
    sp_w_u32(m, META_VERSION);
    sp_w_u64(m, rt->fingerprint);
    sp_w_i64(m, id);
}

/* Completes, in order, the checkpoints every live terminal instance has acked
 * (ctx->mu held). */
static int try_complete(spate_ctx *ctx)
{
    sp_ckpt_rt *rt = ctx->ckpt;
    while (rt->completed < rt->begun &&
           rt->acks[(rt->completed + 1) % ACK_SLOTS] >= rt->live_terminal) {
        int64_t id = rt->completed + 1;
        sp_wbuf meta = {0};
        meta_write(rt, id, &meta);
        int rc = meta.err ? meta.err : sp_ckpt_commit(rt->store, id, meta.p, meta.len);
        sp_wbuf_free(&meta);
        if (rc) {
            sp_ckpt_abort(rt->store, id);
            return sp_err(rc, "checkpoint %lld failed: %s", (long long)id, spate_last_error());
        }
        rt->acks[id % ACK_SLOTS] = 0;
        rt->completed = id;
        atomic_store_explicit(&rt->completed_pub, id, memory_order_release);
        sp_log(SP_LOG_DEBUG, "checkpoint %lld complete", (long long)id);
    }
    return 0;
}

int sp_ckpt_at_barrier(sp_op *op, int64_t id)
{
    spate_ctx *ctx = op->node->ctx;
    sp_ckpt_rt *rt = ctx->ckpt;
    if (!rt || id <= 0) return 0;
    pthread_mutex_lock(&ctx->mu);
    int rc = ensure_begun(ctx, id);
    pthread_mutex_unlock(&ctx->mu);
    put_arg a = {rt, id};
    if (!rc && op->cls->snapshot) rc = snapshot_into(op, id, put_file, &a);
    pthread_mutex_lock(&ctx->mu);
    op->ckpt_last = id;
    if (!rc && op->node->nout == 0) {
        rt->acks[id % ACK_SLOTS]++;
        rc = try_complete(ctx);
    }
    pthread_mutex_unlock(&ctx->mu);
    return rc ? sp_op_fail(op, rc, "%s", spate_last_error()) : 0;
}

/* An instance finished: keep its last state for later checkpoints, and stop
 * waiting for its acks. Called by the runtime after finish() / at source end. */
int sp_ckpt_instance_done(sp_op *op)
{
    spate_ctx *ctx = op->node->ctx;
    sp_ckpt_rt *rt = ctx->ckpt;
    if (!rt) return 0;
    pthread_mutex_lock(&ctx->mu);
    cached_file *before = rt->cache;
    /* Tagged with the first checkpoint the cache goes into, so a two-phase-commit
     * sink publishes it only once that one is complete. */
    int rc = op->cls->snapshot ? snapshot_into(op, rt->begun + 1, cache_file, rt) : 0;
    /* Checkpoints begun since this instance's last barrier never see it again:
     * they get its final state now. */
    int64_t from = (op->ckpt_last > rt->completed ? op->ckpt_last : rt->completed) + 1;
    for (int64_t id = from; !rc && id <= rt->begun; id++)
        for (cached_file *f = rt->cache; !rc && f != before; f = f->next)
            rc = sp_ckpt_put(rt->store, id, f->name, f->data.p, f->data.len);
    if (!rc && op->node->nout == 0) {
        /* Acks it gave to incomplete checkpoints are withdrawn with it: completion
         * then waits for the remaining live terminal instances alone. */
        for (int64_t id = rt->completed + 1; id <= op->ckpt_last; id++) rt->acks[id % ACK_SLOTS]--;
        rt->live_terminal--;
        rc = try_complete(ctx);
    }
    pthread_mutex_unlock(&ctx->mu);
    return rc ? sp_op_fail(op, rc, "%s", spate_last_error()) : 0;
}

int sp_ckpt_commit_pending(sp_worker *w)
{
    sp_ckpt_rt *rt = w->ctx->ckpt;
    if (!rt) return 0;
    int64_t done = atomic_load_explicit(&rt->completed_pub, memory_order_acquire);
    if (done <= w->committed) return 0;
    for (int i = 0; i < w->nops; i++) {
        sp_op *op = w->ops[i];
        if (!op->cls->commit) continue;
        int rc = op->cls->commit(op, done);
        if (rc) return rc;
    }
    w->committed = done;
    return 0;
}

int sp_ckpt_final(spate_ctx *ctx)
{
    sp_ckpt_rt *rt = ctx->ckpt;
    if (!rt) return 0;
    pthread_mutex_lock(&ctx->mu);
    int64_t id = rt->begun + 1;
    /* Everything is quiescent: the cache already holds every finished instance's
     * last state, which is all of them. */
    rt->live_terminal = 0;
    int rc = ensure_begun(ctx, id);
    if (!rc) rc = try_complete(ctx);
    pthread_mutex_unlock(&ctx->mu);
    for (int w = 0; !rc && w < ctx->workers; w++) rc = sp_ckpt_commit_pending(&ctx->w[w]);
    return rc;
}

/* ----------------------------------------------------------------- restore */

/* Moves s->cursor to the next keyed-state file of the node; 0 when none is left. */
static int next_keyed_file(sp_state_in *s)
{
    char prefix[24];
    int plen = snprintf(prefix, sizeof prefix, "n%d-k", s->op->node->id);
    for (; s->file < sp_ckpt_nfiles(s->view); s->file++) {
        const char *name = sp_ckpt_file_name(s->view, s->file);
        if (strncmp(name, prefix, (size_t)plen) != 0) continue;
        size_t len;
        const void *p = sp_ckpt_file(s->view, name, &len);
        sp_rbuf_init(&s->cursor, p, len);
        s->file++;
        return 1;
    }
    return 0;
}

int sp_state_next_group(sp_state_in *s, int *g, struct sp_rbuf *r)
{
    const spate_stream *node = s->op->node;
    const spate_ctx *ctx = node->ctx;
    for (;;) {
        while (s->cursor.pos >= s->cursor.len || s->cursor.err)
            if (s->cursor.err || !next_keyed_file(s)) return 0;
        uint64_t k = sp_r_varint(&s->cursor);
        size_t len;
        const void *p = sp_r_bytes(&s->cursor, &len);
        if (s->cursor.err || k >= (uint64_t)ctx->key_groups) {
            /* A corrupt section: hand the caller a reader that reports it. */
            sp_rbuf_init(r, NULL, 0);
            r->err = SPATE_EPARSE;
            *g = 0;
            return 1;
        }
        if (!node->single && ctx->kg_owner[k] != s->op->instance) continue;
        sp_rbuf_init(r, p, len);
        *g = (int)k;
        return 1;
    }
}

int sp_state_instance_in(sp_state_in *s, struct sp_rbuf *r)
{
    char name[48];
    snprintf(name, sizeof name, "n%d-i%d", s->op->node->id, s->op->instance);
    size_t len;
    const void *p = sp_ckpt_file(s->view, name, &len);
    if (!p) return 0;
    sp_rbuf_init(r, p, len);
    return 1;
}

int sp_ckpt_restore_all(spate_ctx *ctx)
{
    sp_ckpt_rt *rt = ctx->ckpt;
    if (!rt || !rt->restored) return 0;
    int rc = 0;
    for (int i = 0; !rc && i < ctx->nnodes; i++)
        for (int w = 0; !rc && w < ctx->workers; w++) {
            sp_op *op = ctx->nodes[i]->inst[w];
            if (!op || !op->cls->restore) continue;
            sp_state_in s = {.op = op, .view = rt->restored};
            rc = op->cls->restore(op, &s);
            if (rc)
                rc = sp_err(rc, "restoring checkpoint %lld into '%s': %s", (long long)rt->base,
                            op->cls->name, spate_last_error());
        }
    sp_ckpt_view_free(rt->restored);
    rt->restored = NULL;
    return rc;
}

void sp_ckpt_teardown(spate_ctx *ctx)
{
    sp_ckpt_rt *rt = ctx->ckpt;
    if (!rt) return;
    while (rt->cache) {
        cached_file *f = rt->cache;
        rt->cache = f->next;
        sp_wbuf_free(&f->data);
        free(f);
    }
    if (rt->restored) sp_ckpt_view_free(rt->restored);
    if (rt->store) sp_ckpt_store_close(rt->store);
    free(rt);
    ctx->ckpt = NULL;
}
