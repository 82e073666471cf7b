/*
 * ops_util.c - helpers shared by the operator files (contracts in ops.h):
 * micro-batch bookkeeping, the collecting operators (transform, foreach_batch),
 * values as text, and output rows and schemas of the keyed operators.
 */
#include "ops/ops.h"

#include "core/error.h"
#include "formats/format.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------- micro-batch bookkeeping */

void *sp_ops_track_open(sp_op *op, size_t size, sp_flush_fn flush)
{
    sp_epoch_track *t = calloc(1, size);
    if (!t) {
        sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory", op->cls->name);
        return NULL;
    }
    t->microbatch = sp_ctx_microbatch(op->node->ctx);
    t->last_ms = INT64_MIN;
    t->flush = flush;
    op->st = t;
    return t;
}

int sp_ops_track_arrived(sp_op *op, sp_epoch_track *t, int64_t time_ms)
{
    t->pending = 1;
    return t->microbatch ? 0 : t->flush(op, time_ms);
}

void sp_ops_track_done(sp_epoch_track *t, int64_t time_ms)
{
    t->pending = 0;
    t->last_ms = time_ms;
}

int sp_ops_track_epoch(sp_op *op, int64_t time_ms)
{
    sp_epoch_track *t = op->st;
    return t->microbatch ? t->flush(op, time_ms) : 0;
}

int sp_ops_track_finish(sp_op *op)
{
    sp_epoch_track *t = op->st;
    if (!t->microbatch || !(t->pending || t->last_ms == INT64_MIN)) return 0;
    return t->flush(op, sp_op_epoch_end_ms(op));
}

/* ---------------------------------------------------- collecting operators */

typedef struct collect_st {
    sp_epoch_track track;   /* first: see sp_epoch_track */
    spate_rows kept;        /* the batches of the current micro-batch, owned */
    sp_collect_fn run;
} collect_st;

/* Gives the kept batches back (to the pool while running, to free() after a failure,
 * when the pools may be gone) and empties the set. */
static void collect_drop_kept(sp_op *op, collect_st *st, int to_pool)
{
    for (int i = 0; i < st->kept.nb; i++) {
        if (to_pool) sp_op_release(op, st->kept.batches[i]);
        else sp_batch_free(st->kept.batches[i]);
    }
    sp_rows_clear(&st->kept);
}

static int collect_flush(sp_op *op, int64_t time_ms)
{
    collect_st *st = op->st;
    st->kept.time_ms = time_ms;
    int rc = st->run(op, &st->kept);
    collect_drop_kept(op, st, 1);
    sp_ops_track_done(&st->track, time_ms);
    return rc;
}

int sp_ops_collect_open(sp_op *op, sp_collect_fn run)
{
    collect_st *st = sp_ops_track_open(op, sizeof *st, collect_flush);
    if (!st) return SPATE_ENOMEM;
    sp_rows_init(&st->kept, op->node->in[0]->schema, 0);
    st->run = run;
    return 0;
}

/* Keeps b for the epoch, or runs over it alone in the continuous style. */
int sp_ops_collect_push(sp_op *op, int port, sp_batch *b)
{
    collect_st *st = op->st;
    if (st->track.microbatch) {
        st->track.pending = 1;
        if (sp_rows_add(&st->kept, b) == 0) return 0;
        sp_op_release(op, b);
        return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory", op->cls->name);
    }
    spate_rows one;
    sp_rows_init(&one, op->node->in[0]->schema, b->time_ms);
    int rc = sp_rows_add(&one, b);
    if (rc == 0) rc = st->run(op, &one);
    else rc = sp_op_fail(op, rc, "%s: out of memory", op->cls->name);
    sp_rows_clear(&one);
    sp_op_release(op, b);
    return rc;
}

void sp_ops_collect_close(sp_op *op)
{
    collect_st *st = op->st;
    if (!st) return;
    collect_drop_kept(op, st, 0);
    free(st);
    op->st = NULL;
}

/* ---------------------------------------------------------- values as text */

/* Appends p[0..len) as a JSON string, or raw. */
static int put_str(sp_buf *out, const char *p, size_t len, int json)
{
    if (!json) return sp_buf_put(out, p, len);
    int rc = sp_buf_putc(out, '"');
    if (!rc) rc = sp_buf_put_json_escaped(out, p, len);
    return rc ? rc : sp_buf_putc(out, '"');
}

/* Appends the value of v at physical row r (see sp_ops_put_values). */
static int put_value(sp_buf *out, const sp_vec *v, uint32_t r, int json)
{
    if (sp_vec_is_null(v, r)) return sp_buf_put(out, "null", 4);
    switch (v->type) {
    case SPATE_BOOL: return SP_BOOL(v)[r] ? sp_buf_put(out, "true", 4)
                                          : sp_buf_put(out, "false", 5);
    case SPATE_INT32:
    case SPATE_INT64: return sp_buf_printf(out, "%lld", (long long)sp_vec_get_int(v, r));
    case SPATE_FLOAT64:
        /* JSON has no NaN or infinity. */
        if (json && !isfinite(SP_F64(v)[r])) return sp_buf_put(out, "null", 4);
        return sp_buf_put_double(out, SP_F64(v)[r]);
    case SPATE_TIMESTAMP: {
        char ts[48];
        int len = sp_ts_format(SP_I64(v)[r], ts, sizeof ts);
        return put_str(out, ts, (size_t)(len > 0 ? len : 0), json);
    }
    case SPATE_STRING:
    case SPATE_BYTES: return put_str(out, SP_STR(v)[r].ptr, SP_STR(v)[r].len, json);
    }
    return 0;
}

int sp_ops_put_values(sp_buf *out, const sp_batch *b, uint32_t r, int json)
{
    int rc = 0;
    for (int c = 0; c < b->ncols && rc == 0; c++) {
        if (c) rc = sp_buf_putc(out, ',');
        if (!rc) rc = put_value(out, &b->cols[c], r, json);
    }
    return rc;
}

/* ------------------------------------------------------ output rows and schemas */

int sp_ops_out_room(sp_op *op, sp_batch **cur)
{
    if (*cur && (*cur)->n == (*cur)->cap) {
        sp_batch *full = *cur;
        *cur = NULL;
        int rc = sp_op_emit(op, full);
        if (rc) return rc;
    }
    if (!*cur && !(*cur = sp_op_batch(op, NULL)))
        return sp_op_fail(op, SPATE_ENOMEM, "%s: out of memory", op->node->cls->name);
    return 0;
}

int sp_ops_out_flush(sp_op *op, sp_batch **cur)
{
    sp_batch *b = *cur;
    *cur = NULL;
    return b ? sp_op_emit(op, b) : 0;
}

void sp_ops_set_null(sp_vec *v, uint32_t r)
{
    memset((char *)v->data + r * sp_type_size(v->type), 0, sp_type_size(v->type));
    sp_vec_set_null(v, r);
}

void sp_ops_release_to(void *op, sp_batch *b)
{
    sp_op_release(op, b);
}

spate_schema *sp_ops_key_value_schema(const spate_stream *in, const spate_schema *values,
                                      int *rc)
{
    spate_schema *s = spate_schema_new();
    *rc = s ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
    for (int c = 0; c < in->nkeys && !*rc; c++)
        *rc = spate_schema_add(s, in->schema->f[c].name, in->schema->f[c].type);
    for (int c = 0; c < values->n && !*rc; c++)
        *rc = spate_schema_add(s, values->f[c].name, values->f[c].type);
    if (*rc) {
        spate_schema_free(s);
        return NULL;
    }
    return s;
}

/* Checks the arguments every operator constructor shares and clears *out.
 * Returns 0 or SPATE_EINVAL with a message naming the operator. */
int sp_ops_check_input(const spate_stream *in, int has_fn, spate_stream **out, const char *what)
{
    if (out) *out = NULL;
    if (!in || !out) return sp_err(SPATE_EINVAL, "%s: input stream and out must not be NULL", what);
    if (!has_fn) return sp_err(SPATE_EINVAL, "%s: the callback must not be NULL", what);
    if (!in->schema)
        return sp_err(SPATE_EINVAL, "%s: the input is an output or a sink, not a stream", what);
    return 0;
}

/* Adds a one-input node. Takes over schema and cfg (NULL for either means an
 * allocation failed): both are freed when the node cannot be added (sp_node_add
 * frees them itself on its own failures). */
int sp_ops_add_node(spate_stream *in, const sp_op_class *cls, void *cfg, spate_schema *schema,
                    int nkeys, sp_exchange ex, int single, spate_stream **out)
{
    if (!schema || !cfg) {
        spate_schema_free(schema);
        if (cls->cfg_free) cls->cfg_free(cfg);
        return sp_err(SPATE_ENOMEM, "%s: out of memory", cls->name);
    }
    return sp_node_add(in->ctx, cls, cfg, schema, nkeys, 1, &in, &ex, single, out);
}
