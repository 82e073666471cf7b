/*
 * stdin.c - source "stdin": records of standard input in a text format.
 *
 * Design choices:
 *  - fd 0 is waited on with poll() (at most 10 ms, 0 when the batch already has
 *    rows) and read once per poll. O_NONBLOCK is deliberately not set: it belongs
 *    to the open file description shared with the parent shell or terminal and
 *    would outlive the process; after poll() reports readiness a single read()
 *    does not block.
 *  - Splitting, the copy into the batch arena and parsing are the shared reader's
 *    (internal.h). At end of input the unterminated tail is parsed as the final
 *    record; eof is reported once everything pending fit into batches.
 *  - Single instance: one process has one stdin.
 */
#include "connectors/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { STDIN_WAIT_MS = 10 };

typedef struct stdin_state {
    sp_reader rd;
    int at_eof;
} stdin_state;

static const sp_opt_def stdin_opts[] = {{NULL, 0, NULL, NULL}};

static int stdin_open(sp_source *s)
{
    stdin_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = sp_reader_init(&st->rd, &s->fmt, "stdin");
    if (!rc) rc = sp_reader_begin(&st->rd, "stdin:");
    if (rc) {
        sp_reader_free(&st->rd);
        free(st);
        return rc;
    }
    s->st = st;
    return 0;
}

static int stdin_poll(sp_source *s, sp_batch *b, int *eof)
{
    stdin_state *st = s->st;
    int rc = sp_reader_parse(&st->rd, b, s->dl, st->at_eof);
    if (rc) return rc;
    if (!st->at_eof && b->n < b->cap && !sp_op_stopping(s->op)) {
        if (sp_reader_fill(&st->rd, 0, b->n ? 0 : STDIN_WAIT_MS, &st->at_eof) < 0)
            return sp_op_fail(s->op, SPATE_EIO, "source 'stdin': read failed: %s",
                              strerror(errno));
        rc = sp_reader_parse(&st->rd, b, s->dl, st->at_eof);
        if (rc) return rc;
    }
    if ((st->at_eof && !sp_reader_pending(&st->rd)) || sp_op_stopping(s->op)) *eof = 1;
    return 0;
}

static void stdin_close(sp_source *s)
{
    stdin_state *st = s->st;
    if (!st) return;
    sp_reader_free(&st->rd);
    free(st);
    s->st = NULL;
}

const sp_source_class sp_stdin_source = {
    .name = "stdin",
    .help = "records read from standard input",
    .opts = stdin_opts,
    .uses_format = 1,
    .parallel = 0,
    .fixed_schema = NULL,
    .open = stdin_open,
    .poll = stdin_poll,
    .close = stdin_close,
};
