/*
 * join.c - per-micro-batch joins and cogroup of two keyed streams.
 *
 * Both inputs are hashed by their keys (or forwarded when already partitioned),
 * so equal keys of the two sides meet in one instance. The key columns must have
 * equal types on both sides: keys compare by their type-tagged encoding (an INT 7
 * is not a BIGINT 7), and the output has one column per key part, of one type.
 *
 * Each instance keeps both sides' batches whole during the micro-batch
 * (sp_grouping of ops.h, as groupByKey: side 0 = left, side 1 = right) and at the
 * epoch walks the keys in first-seen order: a join emits the cross product of the
 * key's left and right rows, padding the missing side with NULLs for the outer
 * kinds; cogroup calls the user function once per key with both value lists,
 * either possibly empty (sp_ops_group_each). Then the batches go back to the pool
 * and the table is cleared.
 *
 * Only the micro-batch style is supported: a join of two unbounded streams
 * without batches or windows would have to keep every row forever. Windowed
 * joins arrive with event time.
 *
 * Output: the key columns (named as on the left), the left values, then the right
 * values; a right column whose name is taken gets "_right" appended (again until
 * it is free). cogroup's output is the key columns followed by out_schema, the
 * key filled in, rows emitted by the callback with spate_out_emit.
 */
#include "core/row.h"
#include "ops/jrows.h"
#include "ops/ops.h"
#include "runtime/runtime.h"
#include "state/keytable.h"

#include <stdlib.h>

typedef struct join_cfg {
    spate_join_kind kind; /* 0 for cogroup */
    int nkeys;
    int nleft, nright; /* value columns of each side */
    spate_group_fn fn; /* cogroup */
    void *ud;
    int nuser; /* columns of cogroup's out_schema */
} join_cfg;

static int fail_nomem(sp_op *op)
{
    return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory", op->node->cls->name);
}

/* Copies n value columns of a kept row (or NULLs when ref is NULL) to out from
 * column dc on. */
static int put_values(sp_batch *out, uint32_t r, int dc, const sp_keyrows *kr, const sp_rowref *ref,
                      int n)
{
    for (int c = 0; c < n; c++) {
        sp_vec *v = &out->cols[dc + c];
        if (!ref) {
            sp_ops_set_null(v, r);
        } else if (sp_batch_copy_cell(out, dc + c, r, kr->batches[ref->batch], kr->nkeys + c,
                                      ref->row)) {
            return SPATE_ENOMEM;
        }
    }
    return 0;
}

/* One joined row from a left and a right row, either of which may be NULL. */
static int join_row(sp_op *op, sp_grouping *st, const join_cfg *cfg, const sp_rowref *l,
                    const sp_rowref *r)
{
    int rc = sp_ops_out_room(op, &st->out);
    if (rc) return rc;
    sp_batch *out = st->out;
    uint32_t row = out->n;
    const sp_rowref *k = l ? l : r;
    const sp_batch *kb = st->kr.batches[k->batch];
    for (int c = 0; c < cfg->nkeys; c++)
        if (sp_batch_copy_cell(out, c, row, kb, c, k->row)) return fail_nomem(op);
    if (put_values(out, row, cfg->nkeys, &st->kr, l, cfg->nleft) ||
        put_values(out, row, cfg->nkeys + cfg->nleft, &st->kr, r, cfg->nright))
        return fail_nomem(op);
    out->n++;
    return 0;
}

/* The rows of entry e: the cross product, or one side NULL-padded. */
static int join_key(sp_op *op, sp_grouping *st, const join_cfg *cfg, uint32_t e)
{
    const sp_keyrows *kr = &st->kr;
    const sp_keyrows_slot *s = sp_keyrows_slot_of(kr, e);
    uint32_t nl = s->count[0], nr = s->count[1];
    int rc = 0;
    if (nl && nr) {
        for (uint32_t i = 0; i < nl && !rc; i++)
            for (uint32_t j = 0; j < nr && !rc; j++)
                rc =
                    join_row(op, st, cfg, sp_keyrows_row(kr, e, 0, i), sp_keyrows_row(kr, e, 1, j));
    } else if (nl && sp_jkind_keeps(cfg->kind, 0)) {
        for (uint32_t i = 0; i < nl && !rc; i++)
            rc = join_row(op, st, cfg, sp_keyrows_row(kr, e, 0, i), NULL);
    } else if (nr && sp_jkind_keeps(cfg->kind, 1)) {
        for (uint32_t j = 0; j < nr && !rc; j++)
            rc = join_row(op, st, cfg, NULL, sp_keyrows_row(kr, e, 1, j));
    }
    return rc;
}

static int join_all(sp_op *op, sp_grouping *st, const join_cfg *cfg)
{
    int rc = 0;
    for (uint32_t e = 0; e < sp_keytable_count(&st->kr.keys) && !rc; e++)
        rc = join_key(op, st, cfg, e);
    return rc ? rc : sp_ops_out_flush(op, &st->out);
}

static int join_emit(sp_op *op)
{
    sp_grouping *st = op->st;
    const join_cfg *cfg = op->node->cfg;
    if (st->kr.nbatches == 0) return 0;
    int rc = sp_keyrows_seal(&st->kr) ? fail_nomem(op) : 0;
    if (!rc)
        rc = cfg->fn ? sp_ops_group_each(op, &st->kr, 2, cfg->fn, cfg->ud, cfg->nuser)
                     : join_all(op, st, cfg);
    sp_keyrows_clear(&st->kr, sp_ops_release_to, op);
    return rc;
}

static int join_open(sp_op *op)
{
    const join_cfg *cfg = op->node->cfg;
    return sp_ops_grouping_open(op, cfg->nkeys) ? fail_nomem(op) : 0;
}

static int join_push(sp_op *op, int port, sp_batch *b)
{
    return sp_ops_grouping_add(op, port, b) ? fail_nomem(op) : 0;
}

static int join_epoch(sp_op *op, int64_t time_ms)
{
    return join_emit(op);
}

static const sp_op_class join_class = {
    .stateless = 1,
    .name = "join",
    .open = join_open,
    .push = join_push,
    .epoch = join_epoch,
    .finish = join_emit,
    .close = sp_ops_grouping_close,
    .cfg_free = free,
};
static const sp_op_class cogroup_class = {
    .stateless = 1,
    .name = "cogroup",
    .open = join_open,
    .push = join_push,
    .epoch = join_epoch,
    .finish = join_emit,
    .close = sp_ops_grouping_close,
    .cfg_free = free,
};

/* Checks that left and right can meet: keyed, same context, equal key types
 * (sp_jcheck_inputs), and the micro-batch style. */
static int check_inputs(const spate_stream *l, const spate_stream *r, spate_stream **out,
                        const char *what)
{
    int rc = sp_jcheck_inputs(l, r, out, what);
    if (rc) return rc;
    if (!sp_ctx_microbatch(l->ctx))
        return sp_err(SPATE_EUNSUPPORTED,
                      "%s of two streams needs the micro-batch style (set "
                      "batch.interval.ms); windowed joins arrive with event time",
                      what);
    return 0;
}

/* Adds the two-input node: each side hashed by key unless already partitioned.
 * Its configuration is params with the column counts filled in; schema is taken
 * over. */
static int add_join_node(spate_stream *l, spate_stream *r, const sp_op_class *cls, join_cfg params,
                         spate_schema *schema, spate_stream **out)
{
    join_cfg *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        spate_schema_free(schema);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    *cfg = params;
    cfg->nkeys = l->nkeys;
    cfg->nleft = l->schema->n - l->nkeys;
    cfg->nright = r->schema->n - r->nkeys;
    return sp_jnode_add(l, r, cls, cfg, schema, out);
}

/* Per-micro-batch join; output: key, left values, right values (renamed on a
 * clash). EINVAL unless both are keyed, ETYPE for differing key types,
 * EUNSUPPORTED in the continuous style. */
int spate_join(spate_stream *left, spate_stream *right, spate_join_kind kind, spate_stream **out)
{
    int rc = check_inputs(left, right, out, "join");
    if (rc) return rc;
    if (kind < SPATE_JOIN_INNER || kind > SPATE_JOIN_FULL)
        return sp_err(SPATE_EINVAL, "join: unknown join kind %d", (int)kind);
    spate_schema *schema = sp_jschema_out(left, right, NULL, 0, &rc);
    if (!schema) return rc;
    return add_join_node(left, right, &join_class, (join_cfg){.kind = kind}, schema, out);
}

/* Per-micro-batch cogroup; output: key columns + out_schema; errors as spate_join. */
int spate_cogroup(spate_stream *left, spate_stream *right, const spate_schema *out_schema,
                  spate_group_fn fn, void *ud, spate_stream **out)
{
    int rc = check_inputs(left, right, out, "cogroup");
    if (rc) return rc;
    if (!fn || !out_schema)
        return sp_err(SPATE_EINVAL, "cogroup needs a function and its out_schema");
    spate_schema *schema = sp_ops_key_value_schema(left, out_schema, &rc);
    if (!schema) return rc;
    return add_join_node(left, right, &cogroup_class,
                         (join_cfg){.fn = fn, .ud = ud, .nuser = out_schema->n}, schema, out);
}
