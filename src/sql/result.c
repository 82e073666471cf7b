/*
 * result.c - printing the rows of a bare SELECT.
 *
 *   table  an aligned table with a header. A bounded run (--once) keeps the rows
 *          and prints them at the end with each column as wide as its widest
 *          value; a continuous run prints rows as they arrive, columns as wide
 *          as their header or 12 characters, wider values pushing the line.
 *   jsonl  one JSON object per row, as the jsonl format writes them.
 *   csv    a header line, then RFC 4180 rows.
 * An updating result (changelog) has its `op` column first: +I, -U, +U, -D, the
 * way Flink's SQL client shows changelogs. Rows go out as each batch arrives,
 * flushed, so a pipe downstream sees them live. The printer runs in the job's
 * callback sink: one instance, one thread.
 */
#include "core/error.h"
#include "formats/format.h"
#include "sql/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sq_printer {
    FILE *out;
    sq_result_format fmt;
    int ncols;
    char **names;
    spate_type *types;
    int changelog;
    int bounded;
    int header_done;
    size_t *width;
    char **cells; /* kept rows (table format of a bounded run): nrows * ncols */
    size_t nrows, caprows;
    int failed;
    sq_live *live;  /* the shell's live view: everything goes there */
    int64_t limit;  /* rows still to print (LIMIT), -1 = all */
    spate_ctx *ctx; /* stopped once the limit is reached */
};

spate_str sq_value_text(const spate_row *r, int col, spate_type t, char *buf, size_t cap)
{
    switch (t) {
    case SPATE_BOOL: snprintf(buf, cap, "%s", spate_row_int(r, col) ? "true" : "false"); break;
    case SPATE_INT32:
    case SPATE_INT64: snprintf(buf, cap, "%lld", (long long)spate_row_int(r, col)); break;
    case SPATE_FLOAT64: {
        double d = spate_row_double(r, col);
        snprintf(buf, cap, "%.15g", d);
        if (strtod(buf, NULL) != d) snprintf(buf, cap, "%.17g", d);
        break;
    }
    case SPATE_TIMESTAMP: sp_ts_format(spate_row_int(r, col), buf, cap); break;
    case SPATE_STRING:
    case SPATE_BYTES: return spate_row_str(r, col);
    }
    return (spate_str){buf, strlen(buf)};
}

static void json_string(FILE *f, spate_str s)
{
    fputc('"', f);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void csv_field(FILE *f, spate_str s)
{
    int quote = 0;
    for (size_t i = 0; i < s.len && !quote; i++)
        quote = s.ptr[i] == ',' || s.ptr[i] == '"' || s.ptr[i] == '\n' || s.ptr[i] == '\r';
    if (!quote) {
        fwrite(s.ptr, 1, s.len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '"') fputc('"', f);
        fputc(s.ptr[i], f);
    }
    fputc('"', f);
}

static void table_rule(sq_printer *p)
{
    for (int c = 0; c < p->ncols; c++) {
        fputc('+', p->out);
        for (size_t i = 0; i < p->width[c] + 2; i++)
            fputc('-', p->out);
    }
    fputs("+\n", p->out);
}

static void table_line(sq_printer *p, char *const *cells)
{
    for (int c = 0; c < p->ncols; c++) {
        int num = p->types[c] != SPATE_STRING && p->types[c] != SPATE_BYTES &&
                  p->types[c] != SPATE_TIMESTAMP && p->types[c] != SPATE_BOOL;
        fprintf(p->out, num ? "| %*s " : "| %-*s ", (int)p->width[c], cells[c]);
    }
    fputs("|\n", p->out);
}

static void print_header(sq_printer *p)
{
    if (p->header_done) return;
    p->header_done = 1;
    if (p->fmt == SQ_FMT_CSV) {
        for (int c = 0; c < p->ncols; c++) {
            if (c) fputc(',', p->out);
            csv_field(p->out, (spate_str){p->names[c], strlen(p->names[c])});
        }
        fputc('\n', p->out);
    } else if (p->fmt == SQ_FMT_TABLE) {
        table_rule(p);
        table_line(p, p->names);
        table_rule(p);
    }
}

static int keep_row(sq_printer *p, const spate_row *r)
{
    if (p->nrows == p->caprows) {
        size_t cap = p->caprows ? 2 * p->caprows : 64;
        char **cells = realloc(p->cells, cap * (size_t)p->ncols * sizeof *cells);
        if (!cells) return SPATE_ENOMEM;
        p->cells = cells;
        p->caprows = cap;
    }
    char **row = &p->cells[p->nrows * (size_t)p->ncols];
    for (int c = 0; c < p->ncols; c++) {
        char buf[64];
        spate_str s;
        if (spate_row_is_null(r, c))
            s = (spate_str){"NULL", 4};
        else
            s = sq_value_text(r, c, p->types[c], buf, sizeof buf);
        row[c] = strndup(s.ptr, s.len);
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            return SPATE_ENOMEM;
        }
        if (s.len > p->width[c]) p->width[c] = s.len;
    }
    p->nrows++;
    return 0;
}

static void print_row(sq_printer *p, const spate_row *r)
{
    FILE *f = p->out;
    if (p->fmt == SQ_FMT_JSONL) {
        fputc('{', f);
        for (int c = 0; c < p->ncols; c++) {
            if (c) fputc(',', f);
            json_string(f, (spate_str){p->names[c], strlen(p->names[c])});
            fputc(':', f);
            char buf[64];
            spate_str s;
            if (spate_row_is_null(r, c)) {
                fputs("null", f);
                continue;
            }
            s = sq_value_text(r, c, p->types[c], buf, sizeof buf);
            spate_type t = p->types[c];
            int bare = t == SPATE_BOOL || t == SPATE_INT32 || t == SPATE_INT64 ||
                       (t == SPATE_FLOAT64 && isfinite(spate_row_double(r, c)));
            if (bare)
                fwrite(s.ptr, 1, s.len, f);
            else
                json_string(f, s);
        }
        fputs("}\n", f);
        return;
    }
    if (p->fmt == SQ_FMT_CSV) {
        for (int c = 0; c < p->ncols; c++) {
            if (c) fputc(',', f);
            if (spate_row_is_null(r, c)) continue;
            char buf[64];
            spate_str s;
            s = sq_value_text(r, c, p->types[c], buf, sizeof buf);
            csv_field(f, s);
        }
        fputc('\n', f);
        return;
    }
    /* streaming table: fixed widths */
    char *cells[64];
    char bufs[64][64];
    int n = p->ncols < 64 ? p->ncols : 64;
    for (int c = 0; c < n; c++) {
        spate_str s;
        if (spate_row_is_null(r, c))
            s = (spate_str){"NULL", 4};
        else
            s = sq_value_text(r, c, p->types[c], bufs[c], sizeof bufs[c]);
        size_t len = s.len < sizeof bufs[c] - 1 ? s.len : sizeof bufs[c] - 1;
        memmove(bufs[c], s.ptr, len);
        bufs[c][len] = 0;
        cells[c] = bufs[c];
    }
    table_line(p, cells);
}

static int printer_write(const spate_rows *rows, int64_t time_ms, void *ud)
{
    sq_printer *p = ud;
    size_t n = spate_rows_count(rows);
    if (p->limit >= 0) {
        if ((int64_t)n >= p->limit) {
            n = (size_t)p->limit;
            if (p->ctx) spate_ctx_request_stop(p->ctx);
        }
        p->limit -= (int64_t)n;
        if (!n) return 0;
    }
    if (p->live) return n == spate_rows_count(rows) ? sq_live_write(rows, time_ms, p->live) : 0;
    if (p->fmt == SQ_FMT_TABLE && p->bounded) {
        for (size_t i = 0; i < n; i++) {
            spate_row r;
            spate_rows_get(rows, i, &r);
            if (keep_row(p, &r)) return sp_err(SPATE_ENOMEM, "out of memory keeping results");
        }
        return 0;
    }
    print_header(p);
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rows, i, &r);
        print_row(p, &r);
    }
    if (fflush(p->out) != 0 && !p->failed) {
        p->failed = 1;
        return sp_err(SPATE_EIO, "cannot write the results");
    }
    (void)time_ms;
    return 0;
}

void sq_printer_set_limit(sq_printer *p, int64_t limit)
{
    p->limit = limit;
}

void sq_printer_set_ctx(sq_printer *p, spate_ctx *ctx)
{
    p->ctx = ctx;
}

spate_batch_fn sq_printer_fn(void)
{
    return printer_write;
}

int sq_printer_new(sq_session_opts *o, const spate_schema *schema, int changelog, sq_printer **out)
{
    sq_printer *p = calloc(1, sizeof *p);
    if (!p) return sp_err(SPATE_ENOMEM, "out of memory");
    p->out = o->out ? o->out : stdout;
    p->fmt = o->format;
    if (p->fmt == SQ_FMT_AUTO) p->fmt = isatty(fileno(p->out)) ? SQ_FMT_TABLE : SQ_FMT_JSONL;
    p->bounded = o->once;
    p->limit = -1;
    p->changelog = changelog;
    p->ncols = spate_schema_count(schema);
    p->names = calloc((size_t)p->ncols, sizeof *p->names);
    p->types = calloc((size_t)p->ncols, sizeof *p->types);
    p->width = calloc((size_t)p->ncols, sizeof *p->width);
    if (!p->names || !p->types || !p->width) {
        sq_printer_free(p);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    if (o->live && p->fmt == SQ_FMT_TABLE && sq_live_new(p->out, schema, changelog, &p->live)) {
        sq_printer_free(p);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    for (int c = 0; c < p->ncols; c++) {
        p->names[c] = strdup(spate_schema_name(schema, c));
        if (!p->names[c]) {
            sq_printer_free(p);
            return sp_err(SPATE_ENOMEM, "out of memory");
        }
        p->types[c] = spate_schema_type(schema, c);
        size_t w = strlen(p->names[c]);
        p->width[c] = p->bounded || w > 12 ? w : 12;
        if (changelog && c == 0 && !p->bounded) p->width[c] = w > 2 ? w : 2;
    }
    *out = p;
    return 0;
}

void sq_printer_finish(sq_printer *p)
{
    if (p && p->live) {
        sq_live_finish(p->live);
        return;
    }
    if (!p || p->fmt != SQ_FMT_TABLE || !p->bounded) return;
    print_header(p);
    for (size_t r = 0; r < p->nrows; r++)
        table_line(p, &p->cells[r * (size_t)p->ncols]);
    table_rule(p);
    fprintf(p->out, "%zu row%s\n", p->nrows, p->nrows == 1 ? "" : "s");
    fflush(p->out);
}

void sq_printer_free(void *arg)
{
    sq_printer *p = arg;
    if (!p) return;
    sq_live_free(p->live);
    for (size_t i = 0; i < p->nrows * (size_t)p->ncols; i++)
        free(p->cells[i]);
    free(p->cells);
    for (int c = 0; p->names && c < p->ncols; c++)
        free(p->names[c]);
    free(p->names);
    free(p->types);
    free(p->width);
    free(p);
}
