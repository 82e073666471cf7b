/*
 * wordcount.c - the word-count dataflow shared by the wordcount examples.
 *
 * lines -> flatMap(split on whitespace) -> key_by(word) -> COUNT. The split is the
 * only user code: the count is a built-in aggregate, computed per batch without a
 * callback per word. Words are ASCII-whitespace separated and case-sensitive, as in
 * Spark's examples; a word is copied out of its line by spate_out_set_str, so the
 * callback never holds on to the input row.
 */
#include "examples.h"

#include <limits.h>

static const char *const word_key[] = {"word"};

static const spate_agg word_count[] = {{SPATE_AGG_COUNT, NULL, "count", 0}};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* flatMap callback: one (word) row per whitespace-separated word of the line. */
static int split_words(const spate_row *in, spate_out *out, void *ud)
{
    spate_str line = spate_row_str(in, 0);
    size_t i = 0;
    while (i < line.len) {
        while (i < line.len && is_space(line.ptr[i]))
            i++;
        size_t start = i;
        while (i < line.len && !is_space(line.ptr[i]))
            i++;
        if (i == start) break;
        int rc = spate_out_set_str(out, 0, line.ptr + start, i - start);
        if (rc == 0) rc = spate_out_emit(out);
        if (rc) return rc;
    }
    return 0;
}

static int save_counts(spate_stream *counts, const char *output_dir)
{
    char prefix[PATH_MAX];
    int rc = ex_make_dirs(output_dir);
    if (rc == 0) rc = ex_join_path(prefix, sizeof prefix, output_dir, "counts");
    if (rc == 0) rc = spate_stream_save_as_text_files(counts, prefix, "csv", "csv");
    return rc;
}

int ex_wordcount_pipeline(spate_stream *lines, int running, const char *output_dir)
{
    spate_schema *word_schema = NULL;
    int rc = spate_schema_parse("word STRING", &word_schema);
    if (rc) return rc;
    spate_stream *words, *keyed, *counts;
    rc = spate_flat_map(lines, word_schema, split_words, NULL, &words);
    spate_schema_free(word_schema);
    if (rc == 0) rc = spate_key_by(words, 1, word_key, &keyed);
    if (rc == 0) rc = spate_aggregate_by_key(keyed, 1, word_count, running, &counts);
    if (rc == 0) rc = spate_stream_print(counts, 20);
    if (rc == 0 && output_dir) rc = save_counts(counts, output_dir);
    return rc;
}
