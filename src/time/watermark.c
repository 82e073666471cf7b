/*
 * watermark.c - event time and watermarks: spate_with_event_time and
 * spate_with_ingestion_time.
 *
 * The assigner runs fused behind its input (FORWARD), one instance per input
 * partition, so a partition's watermark is computed where its records are read,
 * in order with them. After each batch it sends `largest event time seen -
 * max_delay`: watermarks advance with the data, not on a wall-clock timer, so
 * for one ordered input the results - including which records are late - do not
 * depend on how fast the job runs or on the number of workers, and a replay
 * gives the same output. Only idleness is judged by the clock (tick()).
 *
 * The event-time column becomes a TIMESTAMP in place: integers are scaled by
 * the unit, strings parsed (ISO-8601 or a strptime format, UTC) into the same
 * vector, which is wide enough for either (16 bytes per row), walking rows in an
 * order that never overwrites a value not yet read. A NULL or unreadable time is
 * a bad record: dead-lettered with the row as CSV and deselected, so the batch
 * is not copied.
 *
 * Checkpoints: the instance's state is the last watermark its data gave. Restore keeps
 * it pending rather than setting op->wm, because restore runs on the main thread
 * before the workers, where nothing may be sent; the instance's first push or tick
 * sends it, before any replayed record, so downstream classifies the replayed
 * records against the watermark they met before the crash, and later watermarks
 * below it stay ignored (sp_op_emit_watermark only moves forward).
 */
#define _GNU_SOURCE /* strptime, timegm */
#include "checkpoint/serde.h"
#include "formats/format.h"
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct wm_cfg {
    int col;              /* event-time column; for ingestion time, the appended one */
    spate_type src_type;  /* the column's type before conversion */
    int64_t unit_us;      /* integer columns: microseconds per unit */
    char *format;         /* string columns: strptime format, NULL = ISO-8601 */
    int64_t delay_us;
    int64_t idle_ms;      /* 0 = never idle */
    int ingestion;
    sp_format csv;        /* renders a bad row for its dead letter */
} wm_cfg;

typedef struct wm_st {
    int64_t last_input_ms; /* wall clock of the last input, for idleness */
    int64_t data_wm;       /* last watermark the data gave (restored or sent); MIN = none */
    int resend;            /* data_wm was restored and is not sent yet */
    sp_buf rec;
} wm_st;

static void cfg_free(void *p)
{
    wm_cfg *c = p;
    free(c->format);
    free(c);
}

static int wm_open(sp_op *op)
{
    wm_st *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->last_input_ms = sp_op_epoch_end_ms(op);
    st->data_wm = SPATE_WATERMARK_MIN;
    op->st = st;
    return 0;
}

static void wm_close(sp_op *op)
{
    wm_st *st = op->st;
    if (st) sp_buf_free(&st->rec);
    free(st);
}

/* Parses a string time: strptime format (UTC) or ISO-8601. */
static int parse_time(const wm_cfg *c, spate_str s, int64_t *us)
{
    if (!c->format) return sp_ts_parse(s.ptr, s.len, us);
    char buf[128];
    if (s.len >= sizeof buf) return -1;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, c->format, &tm);
    if (!end || *end) return -1;
    *us = (int64_t)timegm(&tm) * 1000000;
    return 0;
}

/* Reports row r as a bad record and deselects it (the caller compacts sel). */
static int reject(sp_op *op, const wm_cfg *c, sp_batch *b, uint32_t r, const char *reason)
{
    wm_st *st = op->st;
    st->rec.len = 0;
    sp_format_write_row(&c->csv, b, r, &st->rec);
    size_t n = st->rec.len && st->rec.p[st->rec.len - 1] == '\n' ? st->rec.len - 1 : st->rec.len;
    const char *field = op->node->schema->f[c->col].name;
    int rc = sp_deadletter_report(sp_op_deadletter(op), "event time", "record", field, reason,
                                  st->rec.p ? st->rec.p : "", n);
    return rc ? sp_op_fail(op, rc, "%s", spate_last_error()) : 0;
}

/* Converts the event-time column of the live rows to microseconds in place,
 * deselecting rows whose time is NULL or unreadable. */
static int convert(sp_op *op, const wm_cfg *c, sp_batch *b)
{
    sp_vec *v = &b->cols[c->col];
    uint32_t n = sp_batch_count(b), kept = 0;
    if (!b->has_sel) {
        for (uint32_t i = 0; i < n; i++) b->sel[i] = i;
        b->has_sel = 1;
    }
    /* INT32 widens to 8 bytes: walk backwards. Strings shrink: walk forwards. */
    int backwards = c->src_type == SPATE_INT32;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = backwards ? n - 1 - k : k;
        uint32_t r = b->sel[i];
        int64_t us = 0;
        int ok = !sp_vec_is_null(v, r);
        if (ok && sp_type_is_str(c->src_type)) ok = parse_time(c, SP_STR(v)[r], &us) == 0;
        else if (ok && c->src_type == SPATE_INT32) us = (int64_t)SP_I32(v)[r] * c->unit_us;
        else if (ok) us = SP_I64(v)[r] * (c->src_type == SPATE_TIMESTAMP ? 1 : c->unit_us);
        if (!ok) {
            v->type = c->src_type; /* render the row as it came */
            int rc = reject(op, c, b, r, sp_vec_is_null(v, r) ? "event time is NULL"
                                                               : "not a readable time");
            if (rc) return rc;
            b->sel[i] = UINT32_MAX;
            continue;
        }
        SP_I64(v)[r] = us;
    }
    v->type = SPATE_TIMESTAMP;
    for (uint32_t i = 0; i < n; i++)
        if (b->sel[i] != UINT32_MAX) b->sel[kept++] = b->sel[i];
    b->nsel = kept;
    return 0;
}

/* Sends the restored watermark once, on the instance's worker. */
static int resend_restored(sp_op *op, wm_st *st)
{
    if (!st->resend) return 0;
    st->resend = 0;
    return sp_op_emit_watermark(op, st->data_wm);
}

static int wm_push(sp_op *op, int port, sp_batch *b)
{
    const wm_cfg *c = op->node->cfg;
    wm_st *st = op->st;
    st->last_input_ms = b->time_ms;
    int rc = resend_restored(op, st);
    if (rc) {
        sp_op_release(op, b);
        return rc;
    }
    if (c->ingestion) {
        rc = sp_batch_widen(b, op->node->schema);
        int64_t *t = SP_I64(&b->cols[c->col]);
        for (uint32_t r = 0; !rc && r < b->n; r++) t[r] = b->time_ms * 1000;
    } else {
        rc = convert(op, c, b);
    }
    if (rc) {
        sp_op_release(op, b);
        return rc == SPATE_ENOMEM ? sp_op_fail(op, rc, "event time: out of memory") : rc;
    }
    b->schema = op->node->schema;
    int64_t max = SPATE_WATERMARK_MIN;
    const int64_t *t = SP_I64(&b->cols[c->col]);
    for (uint32_t i = 0, n = sp_batch_count(b); i < n; i++) {
        int64_t x = t[sp_batch_phys(b, i)];
        if (x > max) max = x;
    }
    rc = sp_op_emit(op, b);
    if (rc || max == SPATE_WATERMARK_MIN) return rc;
    int64_t wm = max < SPATE_WATERMARK_MIN + c->delay_us ? SPATE_WATERMARK_MIN + 1
                                                         : max - c->delay_us;
    if (wm > st->data_wm) st->data_wm = wm;
    return sp_op_emit_watermark(op, wm);
}

static int wm_tick(sp_op *op, int64_t now_ms)
{
    const wm_cfg *c = op->node->cfg;
    wm_st *st = op->st;
    int rc = resend_restored(op, st);
    if (rc) return rc;
    if (c->idle_ms > 0 && now_ms - st->last_input_ms >= c->idle_ms) return sp_op_emit_idle(op);
    return 0;
}

/* Instance state: the last watermark the data gave. Not op->wm: after the input
 * ended that is MAX, and a restarted job whose source has more input (a directory
 * that got new files, a longer generator) would find all of it late. */
static int wm_snapshot(sp_op *op, int64_t id, sp_state_out *s)
{
    const wm_st *st = op->st;
    sp_wbuf *w = sp_state_instance(s);
    sp_w_i64(w, st->data_wm);
    return w->err ? sp_op_fail(op, w->err, "event time: out of memory") : 0;
}

static int wm_restore(sp_op *op, sp_state_in *s)
{
    wm_st *st = op->st;
    sp_rbuf r;
    if (!sp_state_instance_in(s, &r)) return 0; /* a new instance: no watermark yet */
    int64_t wm = sp_r_i64(&r);
    if (!sp_r_done(&r))
        return sp_op_fail(op, SPATE_EPARSE, "event time: corrupt watermark in the checkpoint");
    st->data_wm = wm;
    st->resend = wm != SPATE_WATERMARK_MIN;
    return 0;
}

static const sp_op_class event_time_class = {.name = "event time",
                                             .open = wm_open,
                                             .push = wm_push,
                                             .tick = wm_tick,
                                             .snapshot = wm_snapshot,
                                             .restore = wm_restore,
                                             .close = wm_close,
                                             .cfg_free = cfg_free};

static int unit_us(const char *unit, int64_t *out)
{
    if (!unit || strcmp(unit, "ms") == 0) *out = 1000;
    else if (strcmp(unit, "s") == 0) *out = 1000000;
    else if (strcmp(unit, "us") == 0) *out = 1;
    else return sp_err(SPATE_EINVAL, "event time: unit must be s, ms or us, not '%s'", unit);
    return 0;
}

/* Fills c from et and the input schema; 0 or an error naming the problem. */
static int configure(wm_cfg *c, const spate_stream *in, const spate_event_time *et)
{
    if (!et->column) return sp_err(SPATE_EINVAL, "event time: no column given");
    c->col = spate_schema_find(in->schema, et->column);
    if (c->col < 0)
        return sp_err(SPATE_ENOTFOUND, "event time: no column '%s' in the stream", et->column);
    c->src_type = in->schema->f[c->col].type;
    if (c->src_type == SPATE_FLOAT64 || c->src_type == SPATE_BOOL || c->src_type == SPATE_BYTES)
        return sp_err(SPATE_ETYPE, "event time: column '%s' is %s; use a TIMESTAMP, an integer "
                                   "with a unit, or a STRING",
                      et->column, spate_type_name(c->src_type));
    if (et->max_delay_ms < 0 || et->idle_timeout_ms < 0)
        return sp_err(SPATE_EINVAL, "event time: max_delay_ms and idle_timeout_ms must be >= 0");
    int rc = unit_us(et->unit, &c->unit_us);
    if (rc) return rc;
    if (et->format && !(c->format = strdup(et->format)))
        return sp_err(SPATE_ENOMEM, "out of memory");
    c->delay_us = et->max_delay_ms * 1000;
    c->idle_ms = et->idle_timeout_ms;
    return 0;
}

/* The input schema with column col made a TIMESTAMP (or one appended when col < 0). */
static spate_schema *time_schema(const spate_schema *in, int col)
{
    spate_schema *s = spate_schema_new();
    for (int i = 0; s && i < in->n; i++)
        if (spate_schema_add(s, in->f[i].name, i == col ? SPATE_TIMESTAMP : in->f[i].type)) {
            spate_schema_free(s);
            return NULL;
        }
    if (s && col < 0 && spate_schema_add(s, "ingest_time", SPATE_TIMESTAMP)) {
        spate_schema_free(s);
        return NULL;
    }
    return s;
}

static int add_assigner(spate_stream *in, wm_cfg *c, spate_stream **out)
{
    spate_schema *schema = time_schema(in->schema, c->ingestion ? -1 : c->col);
    if (!schema) {
        cfg_free(c);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    sp_exchange ex = SP_EX_FORWARD;
    int rc = sp_node_add(in->ctx, &event_time_class, c, schema, in->nkeys, 1, &in, &ex, 0, out);
    if (rc) return rc;
    (*out)->time_col = c->col;
    (*out)->partitioned = in->partitioned;
    /* The dead-letter rendering shows the row as it came in. */
    return sp_format_init(&c->csv, "csv", in->schema);
}

int spate_with_event_time(spate_stream *in, const spate_event_time *et, spate_stream **out)
{
    if (out) *out = NULL;
    if (!in || !et || !out || !in->schema)
        return sp_err(SPATE_EINVAL, "event time: stream, spec and out are required");
    wm_cfg *c = calloc(1, sizeof *c);
    if (!c) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = configure(c, in, et);
    if (rc) {
        cfg_free(c);
        return rc;
    }
    return add_assigner(in, c, out);
}

int spate_with_ingestion_time(spate_stream *in, spate_stream **out)
{
    if (out) *out = NULL;
    if (!in || !out || !in->schema)
        return sp_err(SPATE_EINVAL, "ingestion time: stream and out are required");
    if (spate_schema_find(in->schema, "ingest_time") >= 0)
        return sp_err(SPATE_EINVAL, "ingestion time: the stream already has 'ingest_time'");
    wm_cfg *c = calloc(1, sizeof *c);
    if (!c) return sp_err(SPATE_ENOMEM, "out of memory");
    c->ingestion = 1;
    c->col = in->schema->n;
    c->src_type = SPATE_TIMESTAMP;
    return add_assigner(in, c, out);
}
