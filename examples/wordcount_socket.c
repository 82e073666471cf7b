/*
 * wordcount_socket.c - Spark's NetworkWordCount: per-batch word counts of the
 * lines a TCP server sends.
 *
 * The counts are per micro-batch (running = 0), so each printed batch answers
 * "which words arrived in the last interval". Try it with `nc -lk 9999` in another
 * terminal. The socket source reconnects with backoff, so the job may be started
 * before the server; it runs until SIGINT/SIGTERM.
 */
#include "examples.h"

int ex_wordcount_socket(spate_ctx *ctx, const ex_args *args)
{
    const char *const options[] = {
        "host", ex_arg(args, "host"), "port", ex_arg(args, "port"), "format", "text", NULL};
    spate_stream *lines;
    int rc = spate_source_open(ctx, "socket", NULL, options, &lines);
    if (rc) return rc;
    return ex_wordcount_pipeline(lines, 0, ex_arg(args, "output"));
}
