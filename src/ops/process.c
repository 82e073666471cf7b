/*
 * process.c - spate_process: Flink's KeyedProcessFunction over a keyed stream.
 *
 * Placement as the keyed operators (keyed.c): HASH by the key, or FORWARD when
 * the input is already partitioned, so each instance owns whole keys and its
 * timer service (src/time/timers.h) needs no locks. Output: the key columns then
 * out_schema's; the key is filled in for every row, and callbacks emit zero or
 * more rows each with spate_out_emit (flatMap style; a row built but not emitted
 * is dropped).
 *
 * The process callback sees the whole record (key columns included; its key also
 * through spate_timer_key) with a timer context for that record's key.
 *
 * When timers fire, in time order (ties: the order keys first registered):
 *  - event time: when the instance's watermark reaches the timer (the watermark
 *    callback). A timer registered at or behind the current watermark fires right
 *    after the input batch that registered it rather than waiting for the next
 *    watermark. Timers registered by on_timer that are already due fire in the
 *    same round (as in Flink). The end of input brings the watermark to SPATE_WATERMARK_MAX, so
 *    every event-time timer fires before finish.
 *  - processing time: by the worker's clock, checked on every round of the
 *    worker loop (tick); one that on_timer registers for a time already passed
 *    fires at the next tick. The end of input drops pending processing-time timers
 *    and ignores new ones (Flink does the same on a bounded input): processing
 *    time has no meaning once the input is over, and waiting for it would hold
 *    the job open.
 * Fired rows go out before the watermark that fired them is forwarded.
 */
#include "checkpoint/serde.h"
#include "core/clock.h"
#include "core/row.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "time/timers.h"

#include <stdlib.h>
#include <string.h>

typedef struct process_cfg {
    int nkeys;
    int nuser;                /* out_schema columns */
    spate_schema *key_schema;
    spate_process_fn fn;
    spate_on_timer_fn on_timer; /* NULL: timers fire without effect */
    void *ud;
} process_cfg;

typedef struct process_state {
    sp_timers ts;
    int ended;                /* finish ran: no processing time any more */
} process_state;

static int fail_nomem(sp_op *op)
{
    return sp_op_fail(op, SPATE_ENOMEM, "process: out of memory");
}

/* Checks a callback's outcome: a negative return or a setter error fails the job. */
static int check_callback(sp_op *op, int urc, const spate_out *o, const char *which)
{
    if (urc < 0) return sp_op_fail(op, SPATE_EUSER, "process %s callback returned %d", which, urc);
    if (o->err) return sp_op_fail(op, o->err, "process %s callback: %s", which, spate_last_error());
    return 0;
}

static spate_timer_ctx timer_ctx(sp_op *op, process_state *st, int64_t now_ms)
{
    return (spate_timer_ctx){.op = op, .ts = &st->ts, .now_ms = now_ms, .accept_proc = !st->ended};
}

/* Fires the timers of domain d due at `upto`, building rows into o. Processing-time
 * rounds fire at most the timers pending when they began: one that on_timer
 * registers for "now" waits for the next tick instead of looping here. */
static int fire_due(sp_op *op, process_state *st, sp_timer_domain d, int64_t upto, spate_out *o,
                    int64_t now_ms)
{
    const process_cfg *cfg = op->node->cfg;
    uint32_t budget = d == SP_TIMER_PROC ? st->ts.heap[d].n : UINT32_MAX;
    sp_timer next;
    while (budget-- > 0 && sp_timers_peek(&st->ts, d, &next) && next.time <= upto) {
        spate_timer_ctx t = timer_ctx(op, st, now_ms);
        if (sp_timers_pop(&st->ts, d, &t)) return fail_nomem(op);
        if (!cfg->on_timer) continue;
        o->key_src = t.kb;
        o->key_row = t.krow;
        int rc = sp_out_begin(o);
        if (rc) return check_callback(op, 0, o, "on_timer");
        rc = check_callback(op, cfg->on_timer(next.time, d == SP_TIMER_EVENT, &t, o, cfg->ud), o,
                            "on_timer");
        if (rc) return rc;
    }
    return sp_timers_compact(&st->ts) ? fail_nomem(op) : 0;
}

/* Opens an output, fires the due timers of d into it and emits it. */
static int fire_round(sp_op *op, sp_timer_domain d, int64_t upto, int64_t now_ms)
{
    process_state *st = op->st;
    const process_cfg *cfg = op->node->cfg;
    sp_timer next;
    if (!sp_timers_peek(&st->ts, d, &next) || next.time > upto) return 0;
    spate_out o;
    if (sp_op_out_open(op, &o, NULL, cfg->nkeys, cfg->nuser)) return fail_nomem(op);
    o.nkeys = cfg->nkeys;
    int rc = fire_due(op, st, d, upto, &o, now_ms);
    int crc = sp_op_out_close(op, &o);
    return rc ? rc : crc;
}

/* Runs fn over the live rows of b, building rows into o. */
static int process_rows(sp_op *op, process_state *st, const sp_batch *b, spate_out *o)
{
    const process_cfg *cfg = op->node->cfg;
    uint32_t n = sp_batch_count(b);
    spate_timer_ctx t = timer_ctx(op, st, sp_now_ms());
    t.kb = b;
    spate_row row;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = sp_batch_phys(b, i);
        t.krow = r;
        t.hash = b->hashes[r];
        o->key_row = r;
        sp_row_set(&row, b, r, 0, b->ncols);
        int rc = sp_out_begin(o);
        if (rc) return check_callback(op, 0, o, "process");
        rc = check_callback(op, cfg->fn(&row, &t, o, cfg->ud), o, "process");
        if (rc) return rc;
    }
    return 0;
}

static int process_push(sp_op *op, int port, sp_batch *b)
{
    process_state *st = op->st;
    const process_cfg *cfg = op->node->cfg;
    if (!b->has_hashes) sp_batch_hash_keys(b, cfg->nkeys);
    spate_out o;
    if (sp_op_out_open(op, &o, NULL, cfg->nkeys, cfg->nuser)) {
        sp_op_release(op, b);
        return fail_nomem(op);
    }
    o.key_src = b;
    o.nkeys = cfg->nkeys;
    int rc = process_rows(op, st, b, &o);
    int crc = sp_op_out_close(op, &o);
    sp_op_release(op, b);
    if (!rc) rc = crc;
    /* Timers registered at or behind the watermark are due now. */
    if (!rc) rc = fire_round(op, SP_TIMER_EVENT, op->wm, sp_now_ms());
    return rc;
}

static int process_watermark(sp_op *op, int64_t wm_us)
{
    return fire_round(op, SP_TIMER_EVENT, wm_us, sp_now_ms());
}

static int process_tick(sp_op *op, int64_t now_ms)
{
    process_state *st = op->st;
    if (st->ended) return 0;
    return fire_round(op, SP_TIMER_PROC, now_ms, now_ms);
}

/* The watermark is already MAX: fires what on_timer registered since, drops the
 * processing-time timers. */
static int process_finish(sp_op *op)
{
    process_state *st = op->st;
    st->ended = 1;
    sp_timers_drop_proc(&st->ts);
    return fire_round(op, SP_TIMER_EVENT, SPATE_WATERMARK_MAX, sp_now_ms());
}

static int process_open(sp_op *op)
{
    const process_cfg *cfg = op->node->cfg;
    process_state *st = calloc(1, sizeof *st);
    if (!st) return fail_nomem(op);
    op->st = st;
    return sp_timers_init(&st->ts, cfg->key_schema) ? fail_nomem(op) : 0;
}

static void process_close(sp_op *op)
{
    process_state *st = op->st;
    if (!st) return;
    sp_timers_free(&st->ts);
    free(st);
    op->st = NULL;
}

static void process_cfg_free(void *p)
{
    process_cfg *cfg = p;
    if (!cfg) return;
    spate_schema_free(cfg->key_schema);
    free(cfg);
}

/* The state is the timers (the callbacks keep theirs in their own ud, outside
 * checkpoints); each key's go into its key group section (timers.c). */
static int process_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    process_state *st = op->st;
    int kgs = sp_ctx_key_groups(op->node->ctx);
    return sp_timers_snapshot(&st->ts, s, kgs) ? fail_nomem(op) : 0;
}

static int process_restore(sp_op *op, sp_state_in *s)
{
    process_state *st = op->st;
    sp_rbuf r;
    int g;
    while (sp_state_next_group(s, &g, &r)) {
        int rc = sp_timers_restore(&st->ts, &r);
        if (rc == SPATE_ENOMEM) return fail_nomem(op);
        if (rc == SPATE_EUNSUPPORTED)
            return sp_op_fail(op, SPATE_EPARSE, "process: the timers of key group %d in the "
                              "checkpoint have an unsupported format version", g);
        if (rc)
            return sp_op_fail(op, SPATE_EPARSE, "process: the timers of key group %d in the "
                              "checkpoint are truncated or corrupt", g);
    }
    return 0;
}

static const sp_op_class process_class = {
    .name = "process", .open = process_open, .push = process_push,
    .watermark = process_watermark, .tick = process_tick, .finish = process_finish,
    .snapshot = process_snapshot, .restore = process_restore,
    .close = process_close, .cfg_free = process_cfg_free,
};

/* The key columns of in as a schema; NULL when out of memory. */
static spate_schema *key_schema_of(const spate_stream *in)
{
    spate_schema *s = spate_schema_new();
    for (int c = 0; s && c < in->nkeys; c++)
        if (spate_schema_add(s, in->schema->f[c].name, in->schema->f[c].type)) {
            spate_schema_free(s);
            return NULL;
        }
    return s;
}

/* Keyed process function; output: the key columns then out_schema's, keyed and
 * partitioned. EINVAL for an unkeyed input, a missing fn or out_schema, or an
 * out_schema column named like a key column. on_timer may be NULL. */
int spate_process(spate_stream *in, const spate_schema *out_schema, spate_process_fn fn,
                  spate_on_timer_fn on_timer, void *ud, spate_stream **out)
{
    if (out) *out = NULL;
    if (!in || !out) return sp_err(SPATE_EINVAL, "process: stream and out must not be NULL");
    if (!in->schema) return sp_err(SPATE_EINVAL, "process: the input is an output, not a stream");
    if (in->nkeys <= 0)
        return sp_err(SPATE_EINVAL, "process needs a keyed stream: use spate_key_by first");
    if (!fn || !out_schema)
        return sp_err(SPATE_EINVAL, "process needs a function and an output schema");
    int rc;
    spate_schema *schema = sp_ops_key_value_schema(in, out_schema, &rc);
    if (!schema) return rc;
    process_cfg *cfg = calloc(1, sizeof *cfg);
    if (cfg) cfg->key_schema = key_schema_of(in);
    if (!cfg || !cfg->key_schema) {
        process_cfg_free(cfg);
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    *cfg = (process_cfg){in->nkeys, out_schema->n, cfg->key_schema, fn, on_timer, ud};
    sp_exchange ex = in->partitioned ? SP_EX_FORWARD : SP_EX_HASH;
    rc = sp_node_add(in->ctx, &process_class, cfg, schema, in->nkeys, 1, &in, &ex, 0, out);
    if (!rc) (*out)->partitioned = 1;
    return rc;
}
