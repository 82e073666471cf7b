/*
 * csv.c - RFC 4180 records: splitting a stream into records, fields into columns,
 * and the quoting rule the writer uses.
 *
 * Design choices:
 *  - A quote opens a quoted field only at the start of a field; elsewhere it is an
 *    ordinary character (a"b stays a"b). The splitter and the field parser follow
 *    this same rule, so a stray quote can never make them disagree on where a record
 *    ends, nor swallow the rest of the input into one record.
 *  - Splitting takes a fast path: when the line holds no quote at all, the record is
 *    the line, found with two memchr calls.
 *  - Fields are first split into p->fields (sized once for the schema, or for the
 *    header when there is one), then the count is checked, then values are
 *    converted: a record with the wrong number of fields is reported as such rather
 *    than by whichever value happened to fail first.
 *  - An empty unquoted field is NULL; an empty quoted field ("") is the empty
 *    string for STRING/BYTES columns and NULL for the others.
 */
#include "formats/format_impl.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* Full scan honouring quotes: the end of the first record, or len when it does not
 * end in buf (a quote at the very end of buf is then still undecided: it may be half
 * of a "" pair, and only more input tells). */
static size_t scan_quoted(char delim, const char *buf, size_t len)
{
    int in_quotes = 0, field_start = 1;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_quotes) {
            if (c != '"') continue;
            if (i + 1 < len && buf[i + 1] == '"') i++;
            else in_quotes = 0;
            continue;
        }
        if (c == '\n') return i;
        if (c == '"' && field_start) in_quotes = 1;
        field_start = c == delim;
    }
    return len;
}

size_t sp_csv_next_record(const sp_format *f, const char *buf, size_t len, int at_eof,
                          size_t *rec_len)
{
    if (len == 0) return 0;
    const char *nl = memchr(buf, '\n', len);
    size_t end = nl ? (size_t)(nl - buf) : len;
    if (memchr(buf, '"', end)) end = scan_quoted(f->delim, buf, len);
    if (end == len) {
        if (!at_eof) return 0;
        *rec_len = len;
        return len;
    }
    *rec_len = end && buf[end - 1] == '\r' ? end - 1 : end;
    return end + 1;
}

/* Reads the quoted field starting at rec[*i] and moves *i past its closing quote. */
static int quoted_field(sp_parser *p, const char *rec, size_t len, size_t *i, sp_csv_field *fld)
{
    size_t start = *i, j = start + 1;
    const char *q;
    fld->escaped = 0;
    while ((q = memchr(rec + j, '"', len - j)) && (size_t)(q - rec) + 1 < len && q[1] == '"') {
        fld->escaped = 1;
        j = (size_t)(q - rec) + 2;
    }
    if (!q) return sp_parser_bad(p, NULL, "unterminated quoted field at byte %zu", start);
    fld->p = rec + start + 1;
    fld->n = (size_t)(q - rec) - start - 1;
    fld->quoted = 1;
    *i = (size_t)(q - rec) + 1;
    if (*i < len && rec[*i] != p->f->delim)
        return sp_parser_bad(p, NULL, "unexpected character after closing quote at byte %zu",
                             *i);
    return 0;
}

/* Splits rec into p->fields (the first fields_cap kept) and sets *count to the number
 * of fields. Returns 0, or the result of sp_parser_bad for a malformed quoted field. */
static int split_fields(sp_parser *p, const char *rec, size_t len, int *count)
{
    size_t i = 0;
    int k = 0;
    for (;;) {
        sp_csv_field fld = {rec + i, 0, 0, 0};
        if (i < len && rec[i] == '"') {
            int rc = quoted_field(p, rec, len, &i, &fld);
            if (rc) return rc;
        } else {
            const char *d = memchr(rec + i, p->f->delim, len - i);
            fld.n = (d ? (size_t)(d - rec) : len) - i;
            i += fld.n;
        }
        if (k < p->fields_cap) p->fields[k] = fld;
        k++;
        if (i >= len) break;
        i++;
    }
    *count = k;
    return 0;
}

const char *sp_csv_unescape(sp_batch *b, const char *s, size_t n, size_t *out_n)
{
    char *d = sp_arena_alloc(&b->arena, n ? n : 1);
    if (!d) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        d[o++] = s[i];
        if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') i++;
    }
    *out_n = o;
    return d;
}

static int put_field(sp_parser *p, sp_batch *b, int col, const sp_csv_field *fld)
{
    if (fld->n == 0 && !fld->quoted) return SP_PARSE_NONE;
    const char *s = fld->p;
    size_t n = fld->n;
    if (fld->escaped && !(s = sp_csv_unescape(b, fld->p, fld->n, &n)))
        return sp_err(SPATE_ENOMEM, "out of memory");
    return sp_put_value(p, b, col, s, n);
}

/* Grows p->fields and p->map to n entries (only ever for a header line). */
static int grow_for_header(sp_parser *p, int n)
{
    if (n > p->fields_cap) {
        sp_csv_field *f = realloc(p->fields, (size_t)n * sizeof *f);
        if (!f) return sp_err(SPATE_ENOMEM, "out of memory");
        p->fields = f;
        p->fields_cap = n;
    }
    if (n > p->map_cap) {
        int *m = realloc(p->map, (size_t)n * sizeof *m);
        if (!m) return sp_err(SPATE_ENOMEM, "out of memory");
        p->map = m;
        p->map_cap = n;
    }
    return 0;
}

static int header_names_column(const sp_csv_field *fld, const char *name, size_t name_len)
{
    if (!fld->escaped) return fld->n == name_len && memcmp(fld->p, name, name_len) == 0;
    size_t i = 0, j = 0;
    for (; i < fld->n && j < name_len; i++, j++) {
        if (fld->p[i] != name[j]) return 0;
        if (fld->p[i] == '"') i++;
    }
    return i == fld->n && j == name_len;
}

/* Maps the header's fields to schema columns and reports each column it lacks. */
static int read_header(sp_parser *p, const char *rec, size_t len)
{
    int n, rc = split_fields(p, rec, len, &n);
    if (rc) return rc;
    if (n > p->fields_cap || n > p->map_cap) {
        if ((rc = grow_for_header(p, n)) || (rc = split_fields(p, rec, len, &n))) return rc;
    }
    p->need_header = 0;
    p->nfile = n;
    for (int k = 0; k < n; k++) p->map[k] = -1;
    for (int c = 0; c < p->ncols; c++) {
        const char *name = p->f->schema->f[c].name;
        int k = 0;
        while (k < n && !header_names_column(&p->fields[k], name, p->name_len[c])) k++;
        if (k < n && p->map[k] < 0) p->map[k] = c;
        else if ((rc = sp_parser_bad(p, name, "column missing from header")) < 0) return rc;
    }
    return SP_PARSE_NONE;
}

int sp_csv_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len)
{
    if (len == 0) return SP_PARSE_NONE;
    if (p->need_header) return read_header(p, rec, len);
    int n, rc = split_fields(p, rec, len, &n);
    if (rc) return rc;
    if (n != p->nfile)
        return sp_parser_bad(p, NULL, "expected %d fields, got %d", p->nfile, n);
    for (int k = 0; k < n; k++) {
        int col = p->f->header ? p->map[k] : k;
        if (col >= 0 && (rc = put_field(p, b, col, &p->fields[k]))) return rc;
    }
    return sp_row_commit(p, b);
}

int sp_csv_put_field(const sp_format *f, const char *s, size_t n, sp_buf *out)
{
    int quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == f->delim || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) return sp_buf_put(out, s, n);
    if (sp_buf_putc(out, '"')) return SPATE_ENOMEM;
    const char *end = s + n;
    while (s < end) {
        const char *q = memchr(s, '"', (size_t)(end - s));
        size_t chunk = q ? (size_t)(q - s) + 1 : (size_t)(end - s);
        if (sp_buf_put(out, s, chunk) || (q && sp_buf_putc(out, '"'))) return SPATE_ENOMEM;
        s += chunk;
    }
    return sp_buf_putc(out, '"');
}
