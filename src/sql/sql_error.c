/*
 * sql_error.c - SQL error reports: filling an sq_error, printing it with the
 * source line and a caret, and the edit distance behind "did you mean" hints.
 *
 * The printed form follows the compilers':
 *
 *   job.sql:3:14: error: unknown column 'hart_rate'
 *     SELECT patient_id, hart_rate FROM vitals
 *                        ^~~~~~~~~
 *   hint: did you mean 'heart_rate'?
 *
 * The caret line copies every tab of the source line before the error and puts
 * one space for every other character (a UTF-8 sequence counts once), so the
 * caret stands under the token whatever the terminal's tab width. The underline
 * covers the token at the error's place, which the lexer measures again: an
 * sq_error only records where the token starts.
 */
#include "sql/ast.h"

#include "sql/lexer.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int sq_fail(sq_error *err, sq_pos pos, int code, const char *fmt, ...)
{
    if (!err) return code;
    memset(err, 0, sizeof *err);
    err->pos = pos;
    err->has_pos = pos.line > 0; /* line 0: no place (out of memory ...) */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

static int is_utf8_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

void sq_error_print(const sq_error *err, const char *source_name, const char *text, size_t len,
                    FILE *out)
{
    const char *name = source_name ? source_name : "<input>";
    if (!err->has_pos) {
        fprintf(out, "%s: error: %s\n", name, err->msg);
    } else {
        fprintf(out, "%s:%u:%u: error: %s\n", name, (unsigned)err->pos.line, (unsigned)err->pos.col,
                err->msg);
    }
    if (err->has_pos && text && err->pos.off <= len) {
        size_t off = err->pos.off, start = off, end = off;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        while (end < len && text[end] != '\n')
            end++;
        size_t shown = end;
        if (shown > start && text[shown - 1] == '\r') shown--;
        fputs("  ", out);
        fwrite(text + start, 1, shown - start, out);
        fputs("\n  ", out);
        for (size_t i = start; i < off; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c == '\t')
                fputc('\t', out);
            else if (!is_utf8_continuation(c))
                fputc(' ', out);
        }
        size_t stop = off + sq_lex_extent(text, len, off);
        if (stop > shown) stop = shown;
        fputc('^', out);
        int first = 1;
        for (size_t i = off; i < stop; i++) {
            if (is_utf8_continuation((unsigned char)text[i])) continue;
            if (!first) fputc('~', out);
            first = 0;
        }
        fputc('\n', out);
    }
    if (err->hint[0]) fprintf(out, "hint: %s\n", err->hint);
}

static unsigned char fold(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

int sq_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > INT_MAX / 2 || lb > INT_MAX / 2) return INT_MAX;
    int stack_row[64];
    int *row = lb < 64 ? stack_row : malloc((lb + 1) * sizeof *row);
    if (!row) return INT_MAX;
    /* row[j]: distance between the first i bytes of a and the first j of b. */
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (fold((unsigned char)a[i - 1]) != fold((unsigned char)b[j - 1]));
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[lb];
    if (row != stack_row) free(row);
    return d;
}
