/*
 * console.c - sink "console": rows on standard output in a text format.
 *
 * Design choices:
 *  - Rows are formatted into a memory buffer and handed to stdio in one fwrite,
 *    then fflush'd at each epoch and at close (and whenever the buffer passes
 *    CONSOLE_FLUSH_BYTES). Going through the stdout FILE rather than write(1)
 *    keeps the output ordered with whatever the application itself prints.
 *  - Format options only (default csv without header); a header, if asked for,
 *    is printed once at open.
 */
#include "connectors/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONSOLE_FLUSH_BYTES = 64 * 1024 };

static const sp_opt_def console_opts[] = {{NULL, 0, NULL, NULL}};

static int console_flush(sp_sink *k, sp_buf *buf)
{
    if (buf->len && fwrite(buf->p, 1, buf->len, stdout) != buf->len)
        return sp_op_fail(k->op, SPATE_EIO, "sink 'console': cannot write to stdout: %s",
                          strerror(errno));
    buf->len = 0;
    if (fflush(stdout) != 0)
        return sp_op_fail(k->op, SPATE_EIO, "sink 'console': cannot flush stdout: %s",
                          strerror(errno));
    return 0;
}

static int console_open(sp_sink *k)
{
    sp_buf *buf = calloc(1, sizeof *buf);
    if (!buf) return sp_err(SPATE_ENOMEM, "out of memory");
    if (sp_format_write_header(&k->fmt, buf)) {
        sp_buf_free(buf);
        free(buf);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    k->st = buf;
    return 0;
}

static int console_write(sp_sink *k, const sp_batch *b)
{
    sp_buf *buf = k->st;
    uint32_t n = sp_batch_count(b);
    for (uint32_t i = 0; i < n; i++)
        if (sp_format_write_row(&k->fmt, b, sp_batch_phys(b, i), buf))
            return sp_err(SPATE_ENOMEM, "out of memory");
    return buf->len >= CONSOLE_FLUSH_BYTES ? console_flush(k, buf) : 0;
}

static int console_epoch(sp_sink *k, int64_t time_ms)
{
    return console_flush(k, k->st);
}

static int console_close(sp_sink *k)
{
    sp_buf *buf = k->st;
    int rc = console_flush(k, buf);
    sp_buf_free(buf);
    free(buf);
    k->st = NULL;
    return rc;
}

const sp_sink_class sp_console_sink = {
    .name = "console",
    .help = "rows printed on standard output in a text format (default csv, no header)",
    .opts = console_opts,
    .uses_format = 1,
    .open = console_open,
    .write = console_write,
    .epoch = console_epoch,
    .close = console_close,
};
