/*
 * wordcount_dir.c - running word counts over the text files of a directory
 * (Spark's HdfsWordCount, but counting over the whole stream).
 *
 * Files are read once each as they appear; running = 1 keeps each word's count
 * over everything read so far and each batch prints the words it updated. With
 * --once the files present at start are read and the job ends by itself.
 */
#include "examples.h"

int ex_wordcount_dir(spate_ctx *ctx, const ex_args *args)
{
    const char *const options[] = {"path",   ex_arg(args, "input"),
                                   "format", "text",
                                   "once",   ex_flag(args, "once") ? "true" : "false",
                                   NULL};
    spate_stream *lines;
    int rc = spate_source_open(ctx, "files", NULL, options, &lines);
    if (rc) return rc;
    return ex_wordcount_pipeline(lines, 1, ex_arg(args, "output"));
}
