/*
 * output.c - the per-batch outputs of the DStream API: print (pprint),
 * saveAsTextFiles, foreachBatch, and remember + slice.
 *
 * Design choices and trade-offs:
 *  - Each output is a sink-like node (no output schema) with a GATHER input and a
 *    single instance on worker 0, so a micro-batch is seen whole, in one place,
 *    on one thread, as Spark runs output operations on the driver. The price is
 *    that the output step does not scale with workers; the outputs here are for
 *    inspection and small results, connectors (spate_sink_open) are the fast path.
 *  - Micro-batch style: rows are collected as they arrive and the output acts at
 *    the micro-batch end (epoch) with the batch time. Continuous style: it acts
 *    per arriving batch with that batch's time (b->time_ms).
 *  - Empty micro-batches are output too (a print header, an empty file, a
 *    foreachBatch call with no rows), as Spark does, so consumers see time pass.
 *    The micro-batch bookkeeping (sp_epoch_track, ops.h) makes sure the final
 *    micro-batch is always output, and never twice; foreach_batch is a collecting
 *    operator (sp_ops_collect_*, ops.h), like transform. remember alone acts at
 *    finish only for rows that arrived after the last epoch: with none, it has
 *    nothing to keep.
 *  - Memory: print keeps only the first n + 1 rows of a batch (the extra one tells
 *    whether to print "..."); save_as_text_files keeps the formatted text of the
 *    micro-batch, not the batches, and writes it in one go at the boundary;
 *    foreach_batch must keep every batch of the micro-batch (the callback sees all
 *    rows at once). save writes "<name>.tmp" and renames it into place, so a
 *    reader never sees a partial file; in the continuous style two batches in the
 *    same millisecond would map to the same name, so a file time is always kept
 *    after the previous one (time + 1 ms at worst) instead of overwriting it.
 *  - remember/slice: slice runs on the caller's thread while workers run, so the
 *    remembered batches (deep copies) sit behind a mutex in struct sp_remember,
 *    owned by the remember node's cfg and reachable from the remembered stream.
 */
#include "core/buf.h"
#include "core/error.h"
#include "core/row.h"
#include "formats/format.h"
#include "ops/ops.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ shared helpers */

/* Checks the stream an output is attached to. */
static int check_stream(const spate_stream *s, const char *what)
{
    if (!s) return sp_err(SPATE_EINVAL, "%s: stream must not be NULL", what);
    if (!s->schema)
        return sp_err(SPATE_EINVAL, "%s: the input is an output or a sink, not a stream", what);
    return 0;
}

/* Adds the single gathering node of an output. cfg (NULL = allocation failed) is
 * taken over: sp_node_add frees it on failure. */
static int add_output(spate_stream *s, const sp_op_class *cls, void *cfg, spate_stream **node)
{
    if (!cfg) return sp_err(SPATE_ENOMEM, "%s: out of memory", cls->name);
    sp_exchange ex = SP_EX_GATHER;
    spate_stream *n = NULL;
    int rc = sp_node_add(s->ctx, cls, cfg, NULL, 0, 1, &s, &ex, 1, &n);
    if (node) *node = n;
    return rc;
}

/* ---------------------------------------------------------------------- print */

typedef struct print_cfg {
    int n;
} print_cfg;

typedef struct print_st {
    sp_epoch_track track; /* first: see sp_epoch_track */
    sp_batch *kept;       /* the first n + 1 rows of the current batch, copied */
    uint64_t total;       /* rows of the current batch */
    sp_buf text;          /* reused between batches */
} print_st;

/* A row as one line, values as Spark prints them (strings raw, NULL as null): the
 * value alone, or (v1,v2,...) as a tuple. */
static int put_row(sp_buf *out, const sp_batch *b, uint32_t r)
{
    int tuple = b->ncols != 1, rc = tuple ? sp_buf_putc(out, '(') : 0;
    if (!rc) rc = sp_ops_put_values(out, b, r, 0);
    if (!rc && tuple) rc = sp_buf_putc(out, ')');
    return rc ? rc : sp_buf_putc(out, '\n');
}

static const char print_rule[] = "-------------------------------------------\n";

/* Formats the kept rows of the batch into st->text. */
static int print_format(print_st *st, int n, int64_t time_ms)
{
    st->text.len = 0;
    int rc =
        sp_buf_printf(&st->text, "%sTime: %lld ms\n%s", print_rule, (long long)time_ms, print_rule);
    uint32_t shown = st->kept->n < (uint32_t)n ? st->kept->n : (uint32_t)n;
    for (uint32_t r = 0; r < shown && rc == 0; r++)
        rc = put_row(&st->text, st->kept, r);
    if (!rc && st->total > (uint64_t)n) rc = sp_buf_put(&st->text, "...\n", 4);
    return rc ? rc : sp_buf_putc(&st->text, '\n');
}

/* Prints the current batch and starts the next one. */
static int print_flush(sp_op *op, int64_t time_ms)
{
    print_st *st = op->st;
    const print_cfg *cfg = op->node->cfg;
    if (print_format(st, cfg->n, time_ms))
        return sp_op_fail(op, SPATE_ENOMEM, "print: out of memory");
    fwrite(st->text.p, 1, st->text.len, stdout);
    fflush(stdout);
    sp_op_count_out(op, st->kept->n < (uint32_t)cfg->n ? st->kept->n : (uint32_t)cfg->n);
    st->total = 0;
    sp_ops_track_done(&st->track, time_ms);
    if (sp_batch_reset(st->kept, op->node->in[0]->schema))
        return sp_op_fail(op, SPATE_ENOMEM, "print: out of memory");
    return 0;
}

static int print_open(sp_op *op)
{
    const print_cfg *cfg = op->node->cfg;
    print_st *st = sp_ops_track_open(op, sizeof *st, print_flush);
    if (!st) return SPATE_ENOMEM;
    st->kept = sp_batch_new((uint32_t)cfg->n + 1);
    if (!st->kept || sp_batch_reset(st->kept, op->node->in[0]->schema))
        return sp_op_fail(op, SPATE_ENOMEM, "print: out of memory");
    return 0;
}

static int print_push(sp_op *op, int port, sp_batch *b)
{
    print_st *st = op->st;
    uint32_t n = sp_batch_count(b);
    int64_t time_ms = b->time_ms;
    int rc = 0;
    for (uint32_t i = 0; i < n && st->kept->n < st->kept->cap && rc == 0; i++)
        rc = sp_batch_append_row(st->kept, b, sp_batch_phys(b, i));
    st->total += n;
    sp_op_release(op, b);
    if (rc) return sp_op_fail(op, rc, "print: out of memory");
    return sp_ops_track_arrived(op, &st->track, time_ms);
}

static void print_close(sp_op *op)
{
    print_st *st = op->st;
    if (!st) return;
    sp_batch_free(st->kept);
    sp_buf_free(&st->text);
    free(st);
    op->st = NULL;
}

static const sp_op_class print_class = {.stateless = 1,
                                        .name = "print",
                                        .open = print_open,
                                        .push = print_push,
                                        .epoch = sp_ops_track_epoch,
                                        .finish = sp_ops_track_finish,
                                        .close = print_close,
                                        .cfg_free = free};

/* Upper bound on n: print is for looking at a few rows, and it keeps n + 1 of them. */
enum { SP_PRINT_MAX_ROWS = 1000000 };

int spate_stream_print(spate_stream *s, int n)
{
    int rc = check_stream(s, "print");
    if (rc) return rc;
    if (n < 0 || n > SP_PRINT_MAX_ROWS)
        return sp_err(SPATE_EINVAL, "print: n must be between 0 and %d, not %d", SP_PRINT_MAX_ROWS,
                      n);
    print_cfg *cfg = malloc(sizeof *cfg);
    if (cfg) cfg->n = n;
    return add_output(s, &print_class, cfg, NULL);
}

/* --------------------------------------------------------- save_as_text_files */

typedef struct save_cfg {
    char *prefix;
    char *suffix; /* "" for none */
    sp_format fmt;
} save_cfg;

typedef struct save_st {
    sp_epoch_track track; /* first: see sp_epoch_track */
    sp_buf text;          /* the current batch, formatted (header first) */
    uint64_t rows;
    char *path, *tmp; /* name buffers, sized once in open */
    size_t path_cap;
    int64_t last_file_ms;
} save_st;

static void save_cfg_free(void *p)
{
    save_cfg *cfg = p;
    if (!cfg) return;
    free(cfg->prefix);
    free(cfg->suffix);
    free(cfg);
}

/* Empties the text for a new file: it starts with the header, if the format has one. */
static int save_reset(const save_cfg *cfg, save_st *st)
{
    st->text.len = 0;
    st->rows = 0;
    return sp_format_write_header(&cfg->fmt, &st->text);
}

/* Writes len bytes of p to tmp, then renames tmp to path. 0 or errno. */
static int write_file_atomically(const char *tmp, const char *path, const char *p, size_t len)
{
    FILE *f = fopen(tmp, "wb");
    if (!f) return errno;
    int err = len && fwrite(p, 1, len, f) != len ? errno : 0;
    if (fclose(f) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) unlink(tmp);
    return err;
}

/* Writes the current batch as prefix-TIME[.suffix] and starts the next one. */
static int save_flush(sp_op *op, int64_t time_ms)
{
    const save_cfg *cfg = op->node->cfg;
    save_st *st = op->st;
    int64_t t = time_ms > st->last_file_ms ? time_ms : st->last_file_ms + 1;
    snprintf(st->path, st->path_cap, "%s-%lld%s%s", cfg->prefix, (long long)t,
             *cfg->suffix ? "." : "", cfg->suffix);
    snprintf(st->tmp, st->path_cap, "%s.tmp", st->path);
    int err = write_file_atomically(st->tmp, st->path, st->text.p, st->text.len);
    if (err)
        return sp_op_fail(op, SPATE_EIO, "save_as_text_files: cannot write '%s': %s", st->path,
                          strerror(err));
    sp_op_count_out(op, st->rows);
    st->last_file_ms = t;
    sp_ops_track_done(&st->track, time_ms);
    if (save_reset(cfg, st))
        return sp_op_fail(op, SPATE_ENOMEM, "save_as_text_files: out of memory");
    return 0;
}

static int save_open(sp_op *op)
{
    const save_cfg *cfg = op->node->cfg;
    save_st *st = sp_ops_track_open(op, sizeof *st, save_flush);
    if (!st) return SPATE_ENOMEM;
    st->last_file_ms = INT64_MIN;
    st->path_cap = strlen(cfg->prefix) + strlen(cfg->suffix) + 48;
    st->path = malloc(st->path_cap);
    st->tmp = malloc(st->path_cap);
    if (!st->path || !st->tmp || save_reset(cfg, st))
        return sp_op_fail(op, SPATE_ENOMEM, "save_as_text_files: out of memory");
    return 0;
}

static int save_push(sp_op *op, int port, sp_batch *b)
{
    const save_cfg *cfg = op->node->cfg;
    save_st *st = op->st;
    uint32_t n = sp_batch_count(b);
    int64_t time_ms = b->time_ms;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = sp_format_write_row(&cfg->fmt, b, sp_batch_phys(b, i), &st->text);
    st->rows += n;
    sp_op_release(op, b);
    if (rc) return sp_op_fail(op, rc, "save_as_text_files: cannot format a row");
    return sp_ops_track_arrived(op, &st->track, time_ms);
}

static void save_close(sp_op *op)
{
    save_st *st = op->st;
    if (!st) return;
    sp_buf_free(&st->text);
    free(st->path);
    free(st->tmp);
    free(st);
    op->st = NULL;
}

static const sp_op_class save_class = {.stateless = 1,
                                       .name = "save_as_text_files",
                                       .open = save_open,
                                       .push = save_push,
                                       .epoch = sp_ops_track_epoch,
                                       .finish = sp_ops_track_finish,
                                       .close = save_close,
                                       .cfg_free = save_cfg_free};

int spate_stream_save_as_text_files(spate_stream *s, const char *prefix, const char *suffix,
                                    const char *format)
{
    int rc = check_stream(s, "save_as_text_files");
    if (rc) return rc;
    if (!prefix || !*prefix)
        return sp_err(SPATE_EINVAL, "save_as_text_files: prefix must not be empty");
    save_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return sp_err(SPATE_ENOMEM, "save_as_text_files: out of memory");
    rc = sp_format_init(&cfg->fmt, format ? format : "csv", s->schema);
    if (rc) {
        free(cfg);
        return rc;
    }
    cfg->prefix = strdup(prefix);
    cfg->suffix = strdup(suffix ? suffix : "");
    if (!cfg->prefix || !cfg->suffix) {
        save_cfg_free(cfg);
        return sp_err(SPATE_ENOMEM, "save_as_text_files: out of memory");
    }
    return add_output(s, &save_class, cfg, NULL);
}

/* -------------------------------------------------------------- foreach_batch */

typedef struct foreach_cfg {
    spate_batch_fn fn;
    void *ud;
} foreach_cfg;

/* Calls the user function over rows; a nonzero return fails the job. */
static int foreach_call(sp_op *op, const spate_rows *rows)
{
    const foreach_cfg *cfg = op->node->cfg;
    int rc = cfg->fn(rows, rows->time_ms, cfg->ud);
    if (rc != 0)
        return sp_op_fail(op, SPATE_EUSER,
                          "foreach_batch: callback returned %d for the batch "
                          "at %lld ms",
                          rc, (long long)rows->time_ms);
    sp_op_count_out(op, rows->count);
    return 0;
}

static int foreach_open(sp_op *op)
{
    return sp_ops_collect_open(op, foreach_call);
}

static const sp_op_class foreach_class = {.stateless = 1,
                                          .name = "foreach_batch",
                                          .open = foreach_open,
                                          .push = sp_ops_collect_push,
                                          .epoch = sp_ops_track_epoch,
                                          .finish = sp_ops_track_finish,
                                          .close = sp_ops_collect_close,
                                          .cfg_free = free};

int spate_stream_foreach_batch(spate_stream *s, spate_batch_fn fn, void *ud)
{
    int rc = check_stream(s, "foreach_batch");
    if (rc) return rc;
    if (!fn) return sp_err(SPATE_EINVAL, "foreach_batch: the callback must not be NULL");
    foreach_cfg *cfg = malloc(sizeof *cfg);
    if (cfg) *cfg = (foreach_cfg){fn, ud};
    return add_output(s, &foreach_class, cfg, NULL);
}

/* ------------------------------------------------------------ remember, slice */

typedef struct remembered {
    sp_batch *b;     /* deep copy, owned */
    int64_t time_ms; /* batch time */
} remembered;

/* Shared between the remember node (worker 0) and slice (the caller's thread). */
struct sp_remember {
    pthread_mutex_t mu;
    int64_t duration_ms;
    remembered *items; /* in time order */
    int n, cap;
};

typedef struct remember_st {
    sp_epoch_track track; /* first: see sp_epoch_track */
    sp_batch **pending;   /* copies of the current micro-batch */
    int npending, cappending;
} remember_st;

static void remember_free(void *p)
{
    struct sp_remember *r = p;
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        sp_batch_free(r->items[i].b);
    free(r->items);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Inserts b at its place in time order (batches come nearly in order: the shift
 * is short). Called with r->mu held. 0 or SPATE_ENOMEM (b not taken). */
static int remember_insert(struct sp_remember *r, sp_batch *b, int64_t time_ms)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        remembered *items = realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) return SPATE_ENOMEM;
        r->items = items;
        r->cap = cap;
    }
    int i = r->n++;
    for (; i > 0 && r->items[i - 1].time_ms > time_ms; i--)
        r->items[i] = r->items[i - 1];
    r->items[i] = (remembered){b, time_ms};
    return 0;
}

/* Drops what is older than the newest time minus the duration. Called with r->mu held. */
static void remember_evict(struct sp_remember *r)
{
    if (r->n == 0) return;
    int64_t newest = r->items[r->n - 1].time_ms;
    int64_t oldest_kept = newest - r->duration_ms;
    int k = 0;
    while (k < r->n && r->items[k].time_ms < oldest_kept)
        sp_batch_free(r->items[k++].b);
    if (k == 0) return;
    memmove(r->items, r->items + k, (size_t)(r->n - k) * sizeof *r->items);
    r->n -= k;
}

/* Moves the pending copies into the shared store with time time_ms. */
static int remember_store(sp_op *op, int64_t time_ms)
{
    struct sp_remember *r = op->node->cfg;
    remember_st *st = op->st;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < st->npending; i++) {
        if (rc == 0) rc = remember_insert(r, st->pending[i], time_ms);
        if (rc) sp_batch_free(st->pending[i]);
    }
    remember_evict(r);
    pthread_mutex_unlock(&r->mu);
    st->npending = 0;
    sp_ops_track_done(&st->track, time_ms);
    return rc ? sp_op_fail(op, rc, "remember: out of memory") : 0;
}

static int remember_open(sp_op *op)
{
    return sp_ops_track_open(op, sizeof(remember_st), remember_store) ? 0 : SPATE_ENOMEM;
}

static int remember_keep(remember_st *st, sp_batch *copy)
{
    if (st->npending == st->cappending) {
        int cap = st->cappending ? st->cappending * 2 : 8;
        sp_batch **p = realloc(st->pending, (size_t)cap * sizeof *p);
        if (!p) return SPATE_ENOMEM;
        st->pending = p;
        st->cappending = cap;
    }
    st->pending[st->npending++] = copy;
    return 0;
}

/* Keeps a deep copy of b's live rows: the original goes back to the pool at once. */
static int remember_push(sp_op *op, int port, sp_batch *b)
{
    remember_st *st = op->st;
    int64_t time_ms = b->time_ms;
    sp_batch *copy = sp_batch_clone(b);
    sp_op_release(op, b);
    if (!copy || remember_keep(st, copy)) {
        sp_batch_free(copy);
        return sp_op_fail(op, SPATE_ENOMEM, "remember: out of memory");
    }
    return sp_ops_track_arrived(op, &st->track, time_ms);
}

/* Unlike sp_ops_track_finish: with no rows since the last epoch (or none at all)
 * there is nothing to remember. */
static int remember_finish(sp_op *op)
{
    remember_st *st = op->st;
    if (!st->track.microbatch || !st->track.pending) return 0;
    return remember_store(op, sp_op_epoch_end_ms(op));
}

static void remember_close(sp_op *op)
{
    remember_st *st = op->st;
    if (!st) return;
    for (int i = 0; i < st->npending; i++)
        sp_batch_free(st->pending[i]);
    free(st->pending);
    free(st);
    op->st = NULL;
}

static const sp_op_class remember_class = {.stateless = 1,
                                           .name = "remember",
                                           .open = remember_open,
                                           .push = remember_push,
                                           .epoch = sp_ops_track_epoch,
                                           .finish = remember_finish,
                                           .close = remember_close,
                                           .cfg_free = remember_free};

int spate_stream_remember(spate_stream *s, int64_t duration_ms)
{
    int rc = check_stream(s, "remember");
    if (rc) return rc;
    if (duration_ms < 0)
        return sp_err(SPATE_EINVAL, "remember: duration must be >= 0, not %lld",
                      (long long)duration_ms);
    if (s->remembered) {
        /* Remembered already: only the duration changes, no second copy is kept. */
        pthread_mutex_lock(&s->remembered->mu);
        s->remembered->duration_ms = duration_ms;
        pthread_mutex_unlock(&s->remembered->mu);
        s->remember_ms = duration_ms;
        return 0;
    }
    struct sp_remember *r = calloc(1, sizeof *r);
    if (!r) return sp_err(SPATE_ENOMEM, "remember: out of memory");
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return sp_err(SPATE_ENOMEM, "remember: cannot create a mutex");
    }
    r->duration_ms = duration_ms;
    rc = add_output(s, &remember_class, r, NULL);
    if (rc) return rc;
    s->remembered = r;
    s->remember_ms = duration_ms;
    return 0;
}

/* Appends deep copies of the remembered batches with from <= time <= to to rs.
 * Called with r->mu held. */
static int slice_collect(struct sp_remember *r, int64_t from_ms, int64_t to_ms, spate_rows *rs)
{
    for (int i = 0; i < r->n; i++) {
        if (r->items[i].time_ms < from_ms || r->items[i].time_ms > to_ms) continue;
        sp_batch *copy = sp_batch_clone(r->items[i].b);
        if (!copy || sp_rows_add(rs, copy)) {
            sp_batch_free(copy);
            return sp_err(SPATE_ENOMEM, "slice: out of memory");
        }
    }
    return 0;
}

/* The row set's time (spate_rows_time) is to_ms; it holds deep copies, so it stays
 * valid while workers go on, until spate_rows_free (and must be freed before the
 * context, which owns its schema). */
int spate_stream_slice(spate_stream *s, int64_t from_ms, int64_t to_ms, spate_rows **out)
{
    if (out) *out = NULL;
    if (!s || !out) return sp_err(SPATE_EINVAL, "slice: stream and out must not be NULL");
    if (!s->remembered)
        return sp_err(SPATE_ESTATE, "slice: the stream is not remembered; call "
                                    "spate_stream_remember on it before spate_ctx_start");
    if (from_ms > to_ms)
        return sp_err(SPATE_EINVAL, "slice: from (%lld) is after to (%lld)", (long long)from_ms,
                      (long long)to_ms);
    spate_rows *rs = malloc(sizeof *rs);
    if (!rs) return sp_err(SPATE_ENOMEM, "slice: out of memory");
    sp_rows_init(rs, s->schema, to_ms);
    rs->owns_batches = 1;
    pthread_mutex_lock(&s->remembered->mu);
    int rc = slice_collect(s->remembered, from_ms, to_ms, rs);
    pthread_mutex_unlock(&s->remembered->mu);
    if (rc) {
        spate_rows_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}
