/*
 * callback.c - spate_sink_callback: a sink calling a user function per batch.
 *
 * Design choices:
 *  - The class is private (not in the registry): it needs a C function pointer,
 *    which no option string can carry. Its arg is one allocation holding fn, ud
 *    and a reusable spate_rows, so open cannot fail and each write only resets
 *    the row set (its arrays are kept: no allocation per batch once warm).
 *  - The row set wraps the one batch as is, selection vector included: no copy.
 *  - A nonzero return from fn fails the job with SPATE_EUSER and a message giving
 *    the value, as a user callback error is not the engine's to hide.
 *  - arg belongs to the node and is freed with it (arg_free), whether or not the
 *    job ran; close only lets go of the row set's arrays.
 */
#include "connectors/internal.h"

#include <stdlib.h>

typedef struct callback_sink {
    spate_batch_fn fn;
    void *ud;
    spate_rows rows;
} callback_sink;

static int callback_open(sp_sink *k)
{
    callback_sink *cs = k->arg;
    sp_rows_init(&cs->rows, k->schema, 0);
    k->st = cs;
    return 0;
}

static int callback_write(sp_sink *k, const sp_batch *b)
{
    callback_sink *cs = k->st;
    if (!sp_batch_count(b)) return 0;
    cs->rows.nb = 0;
    cs->rows.count = 0;
    cs->rows.time_ms = b->time_ms;
    if (sp_rows_add(&cs->rows, (sp_batch *)b)) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = cs->fn(&cs->rows, b->time_ms, cs->ud);
    if (rc)
        return sp_op_fail(k->op, SPATE_EUSER, "callback sink: the user function returned %d",
                          rc);
    return 0;
}

static int callback_close(sp_sink *k)
{
    callback_sink *cs = k->st;
    sp_rows_clear(&cs->rows);
    k->st = NULL;
    return 0;
}

static const sp_opt_def callback_opts[] = {{NULL, 0, NULL, NULL}};

static const sp_sink_class callback_class = {
    .name = "callback",
    .help = "calls a C function for every batch of rows",
    .opts = callback_opts,
    .uses_format = 0,
    .open = callback_open,
    .write = callback_write,
    .epoch = NULL,
    .close = callback_close,
    .arg_free = free,
};

/* Adds a sink node after s calling fn(rows, time_ms, ud) for each batch that
 * arrives, on one worker thread. 0, SPATE_EINVAL, SPATE_ENOMEM or sp_sink_add's. */
int spate_sink_callback(spate_stream *s, spate_batch_fn fn, void *ud)
{
    if (!s || !fn) return sp_err(SPATE_EINVAL, "spate_sink_callback: stream and fn are required");
    callback_sink *cs = calloc(1, sizeof *cs);
    if (!cs) return sp_err(SPATE_ENOMEM, "out of memory");
    cs->fn = fn;
    cs->ud = ud;
    int rc = sp_sink_add(s, &callback_class, NULL, cs);
    if (rc) free(cs);
    return rc;
}
