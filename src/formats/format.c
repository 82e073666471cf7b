/*
 * format.c - format options, the parser front end, value and timestamp parsing, and
 * the writers of all three text formats.
 *
 * Design choices:
 *  - Records are never NUL-terminated (they are slices of an input block), so every
 *    value parser takes (pointer, length) and none calls strtoll on the record; only
 *    doubles go through strtod, on a bounded stack copy.
 *  - Timestamps use days-from-civil arithmetic on the proleptic Gregorian calendar
 *    instead of timegm/gmtime: no dependency on the C library's time zone or locale,
 *    and every year an int64 of microseconds can hold (about +-290000) works. Years
 *    outside 0000..9999 are written with a sign ("+10000-01-01T00:00:00Z"), as
 *    ISO-8601's expanded form does, and read back.
 *  - Writers: CSV leaves NULL as an empty field and always quotes an empty string,
 *    so the two stay distinct on reading (the one exception: a single-column NULL
 *    row is a blank line, which readers skip). JSONL writes NULL as null, dotted
 *    column names flat as keys ("device.id": ...) rather than rebuilding nested
 *    objects, timestamps as ISO strings, and non-finite doubles as null since JSON
 *    has no NaN. Doubles use the shortest of %.15g / %.17g that reads back to the
 *    same bits, with ".0" added to integral values so they still look like doubles.
 *  - Numbers are written with the C locale's '.'; a program that switches LC_NUMERIC
 *    would change that (documented limitation: the engine never calls setlocale).
 */
#include "formats/format_impl.h"

#include "core/error.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const sp_opt_def sp_format_opt_defs[] = {
    {"format", SP_OPT_STRING, "csv", "record format: csv | jsonl | text"},
    {"header", SP_OPT_BOOL, "false", "csv: each input starts with a header line naming the "
                                     "columns (writers emit one)"},
    {"delimiter", SP_OPT_STRING, ",", "csv field delimiter: one character, or \\t / tab"},
    {"timestamp.unit", SP_OPT_STRING, "ms", "unit of numeric timestamps: s | ms | us"},
    {NULL, SP_OPT_STRING, NULL, NULL},
};

/* ------------------------------------------------------------- options */

static int parse_kind(const char *name, sp_format_kind *kind)
{
    if (strcmp(name, "csv") == 0) *kind = SP_FMT_CSV;
    else if (strcmp(name, "jsonl") == 0) *kind = SP_FMT_JSONL;
    else if (strcmp(name, "text") == 0) *kind = SP_FMT_TEXT;
    else return sp_err(SPATE_EINVAL, "format must be csv, jsonl or text, not '%s'", name);
    return 0;
}

static int parse_delim(const char *s, char *delim)
{
    if (strcmp(s, "\\t") == 0 || strcmp(s, "tab") == 0) {
        *delim = '\t';
        return 0;
    }
    if (strlen(s) != 1 || *s == '"' || *s == '\n' || *s == '\r')
        return sp_err(SPATE_EINVAL,
                      "delimiter must be one character other than '\"', CR and LF "
                      "(or \\t), not '%s'", s);
    *delim = *s;
    return 0;
}

static int parse_unit(const char *s, int64_t *unit_us)
{
    if (strcmp(s, "s") == 0) *unit_us = 1000000;
    else if (strcmp(s, "ms") == 0) *unit_us = 1000;
    else if (strcmp(s, "us") == 0) *unit_us = 1;
    else return sp_err(SPATE_EINVAL, "timestamp.unit must be s, ms or us, not '%s'", s);
    return 0;
}

static const char *kind_name(sp_format_kind k)
{
    return k == SP_FMT_CSV ? "csv" : k == SP_FMT_JSONL ? "jsonl" : "text";
}

static int check_schema(const sp_format *f)
{
    const spate_schema *s = f->schema;
    if (!s || s->n == 0)
        return sp_err(SPATE_EINVAL, "format %s needs a schema with at least one column",
                      kind_name(f->kind));
    if (f->kind == SP_FMT_TEXT && (s->n != 1 || s->f[0].type != SPATE_STRING))
        return sp_err(SPATE_ETYPE, "format text needs a schema of one STRING column");
    return 0;
}

int sp_format_from_opts(sp_format *f, const sp_opts *o, const spate_schema *schema)
{
    const char *v;
    memset(f, 0, sizeof *f);
    f->schema = schema;
    int rc = parse_kind((v = sp_opts_str(o, "format")) ? v : "csv", &f->kind);
    if (!rc) rc = parse_delim((v = sp_opts_str(o, "delimiter")) ? v : ",", &f->delim);
    if (!rc) rc = parse_unit((v = sp_opts_str(o, "timestamp.unit")) ? v : "ms", &f->ts_unit_us);
    if (rc) return rc;
    f->header = sp_opts_bool(o, "header");
    return check_schema(f);
}

int sp_format_init(sp_format *f, const char *name, const spate_schema *schema)
{
    memset(f, 0, sizeof *f);
    f->schema = schema;
    f->delim = ',';
    f->ts_unit_us = 1000;
    int rc = parse_kind(name ? name : "", &f->kind);
    return rc ? rc : check_schema(f);
}

/* ------------------------------------------------------ record splitting */

static size_t strip_cr(const char *buf, size_t n)
{
    return n && buf[n - 1] == '\r' ? n - 1 : n;
}

size_t sp_format_next_record(const sp_format *f, const char *buf, size_t len, int at_eof,
                             size_t *rec_len)
{
    if (f->kind == SP_FMT_CSV) return sp_csv_next_record(f, buf, len, at_eof, rec_len);
    const char *nl = len ? memchr(buf, '\n', len) : NULL;
    if (nl) {
        *rec_len = strip_cr(buf, (size_t)(nl - buf));
        return (size_t)(nl - buf) + 1;
    }
    if (!at_eof || len == 0) return 0;
    *rec_len = len;
    return len;
}

/* ---------------------------------------------------------------- parser */

int sp_parser_new(const sp_format *f, sp_parser **out)
{
    *out = NULL;
    sp_parser *p = calloc(1, sizeof *p);
    if (!p) return sp_err(SPATE_ENOMEM, "out of memory");
    p->f = f;
    p->ncols = f->schema->n;
    p->seen = calloc((size_t)p->ncols, 1);
    p->name_len = calloc((size_t)p->ncols, sizeof *p->name_len);
    p->fields_cap = p->ncols + 1;
    p->fields = calloc((size_t)p->fields_cap, sizeof *p->fields);
    size_t longest = 0;
    for (int c = 0; p->name_len && c < p->ncols; c++) {
        p->name_len[c] = strlen(f->schema->f[c].name);
        if (p->name_len[c] > longest) longest = p->name_len[c];
        if (strchr(f->schema->f[c].name, '.')) p->has_dotted = 1;
    }
    /* A JSON key naming a column can be up to 6 times longer escaped (\uXXXX). */
    p->path_cap = 8 * longest + 16;
    p->path = malloc(p->path_cap);
    if (!p->seen || !p->name_len || !p->fields || !p->path) {
        sp_parser_free(p);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    sp_parser_reset(p);
    *out = p;
    return 0;
}

void sp_parser_free(sp_parser *p)
{
    if (!p) return;
    free(p->seen);
    free(p->name_len);
    free(p->fields);
    free(p->map);
    free(p->path);
    free(p);
}

void sp_parser_reset(sp_parser *p)
{
    p->first = 1;
    p->need_header = p->f->kind == SP_FMT_CSV && p->f->header;
    p->nfile = p->ncols;
    p->hint = 0;
}

int sp_parser_bad(sp_parser *p, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
    if (!p->dl) return SP_PARSE_BAD;
    int rc = sp_deadletter_report(p->dl, p->source, p->pos, field, p->reason, p->rec, p->len);
    return rc < 0 ? rc : SP_PARSE_BAD;
}

int sp_row_commit(sp_parser *p, sp_batch *b)
{
    uint32_t r = b->n;
    for (int c = 0; c < p->ncols; c++) {
        sp_vec *v = &b->cols[c];
        if (!p->seen[c]) sp_vec_set_null(v, r);
        else if (v->has_nulls) sp_vec_clear_null(v, r);
    }
    b->n++;
    return SP_PARSE_ROW;
}

int sp_parser_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len, sp_deadletter *dl,
                    const char *source, const char *pos)
{
    if (b->n >= b->cap || b->ncols != p->ncols)
        return sp_err(SPATE_EINVAL, "parser given a full batch or one of another schema");
    /* Only a terminator is stripped: a lone trailing CR is data (text keeps it). */
    if (len && rec[len - 1] == '\n') len = strip_cr(rec, len - 1);
    if (p->first && len >= 3 && memcmp(rec, "\xEF\xBB\xBF", 3) == 0) {
        rec += 3;
        len -= 3;
    }
    p->first = 0;
    p->dl = dl;
    p->source = source ? source : "";
    p->pos = pos ? pos : "";
    p->rec = rec;
    p->len = len;
    memset(p->seen, 0, (size_t)p->ncols);
    int rc;
    switch (p->f->kind) {
    case SP_FMT_CSV: rc = sp_csv_parse(p, b, rec, len); break;
    case SP_FMT_JSONL: rc = sp_jsonl_parse(p, b, rec, len); break;
    default: rc = sp_text_parse(p, b, rec, len); break;
    }
    return rc == SP_PARSE_BAD ? 0 : rc;
}

/* --------------------------------------------------------- value parsing */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int sp_parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return -1;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    /* Negating through uint64 keeps INT64_MIN defined. */
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int sp_parse_f64(const char *s, size_t n, double *out)
{
    char buf[128];
    if (n == 0 || n >= sizeof buf || s[0] == ' ' || s[0] == '\t') return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || (errno == ERANGE && isinf(d))) return -1;
    *out = d;
    return 0;
}

int sp_parse_bool(const char *s, size_t n, uint8_t *out)
{
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1')) *out = 1;
    else if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0')) *out = 0;
    else return -1;
    return 0;
}

/* "[+-]digits[.digits]" in unit_us units; fraction digits past the 9th are ignored. */
static int parse_ts_number(const char *s, size_t n, int64_t unit_us, int64_t *us)
{
    const char *dot = memchr(s, '.', n);
    size_t ilen = dot ? (size_t)(dot - s) : n;
    int64_t whole, frac = 0, scale = 1;
    if (sp_parse_i64(s, ilen, &whole)) return -1;
    if (dot) {
        size_t k = ilen + 1;
        if (k == n) return -1;
        for (; k < n; k++) {
            if (!is_digit(s[k])) return -1;
            if (scale < 1000000000) {
                frac = frac * 10 + (s[k] - '0');
                scale *= 10;
            }
        }
    }
    int64_t v;
    if (__builtin_mul_overflow(whole, unit_us, &v)) return -1;
    int64_t f = frac * unit_us / scale;
    if (s[0] == '-') f = -f;
    if (__builtin_add_overflow(v, f, &v)) return -1;
    *us = v;
    return 0;
}

int sp_parse_ts_value(const char *s, size_t n, int64_t unit_us, int64_t *us)
{
    size_t i = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    while (i < n && is_digit(s[i])) i++;
    /* A date has '-' after its digits; a number never does. */
    if (i < n && s[i] != '.') return sp_ts_parse(s, n, us) ? -1 : 0;
    return parse_ts_number(s, n, unit_us, us);
}

static int bad_value(sp_parser *p, int col, const char *what, const char *s, size_t n)
{
    int shown = n > 64 ? 64 : (int)n;
    return sp_parser_bad(p, p->f->schema->f[col].name, "%s: '%.*s'%s", what, shown, s,
                         n > 64 ? "..." : "");
}

static const char *out_of_range(spate_type t)
{
    return t == SPATE_INT32 ? "out of range for INT" : "out of range for BIGINT";
}

static int put_int(sp_parser *p, sp_vec *v, uint32_t r, int col, const char *s, size_t n)
{
    int64_t x;
    if (sp_parse_i64(s, n, &x)) {
        /* Tell overflow from garbage: digits only means the value was too large. */
        size_t i = n && (s[0] == '-' || s[0] == '+');
        while (i < n && is_digit(s[i])) i++;
        int overflow = i == n && is_digit(s[n - 1]);
        return bad_value(p, col, overflow ? out_of_range(v->type) : "not an integer", s, n);
    }
    if (v->type == SPATE_INT32 && (x < INT32_MIN || x > INT32_MAX))
        return bad_value(p, col, out_of_range(v->type), s, n);
    sp_vec_put_int(v, r, x);
    return SP_PARSE_NONE;
}

static int put_scalar(sp_parser *p, sp_vec *v, uint32_t r, int col, const char *s, size_t n)
{
    uint8_t bv;
    int64_t ts;
    switch (v->type) {
    case SPATE_BOOL:
        if (sp_parse_bool(s, n, &bv)) return bad_value(p, col, "not a boolean", s, n);
        SP_BOOL(v)[r] = bv;
        return SP_PARSE_NONE;
    case SPATE_FLOAT64:
        if (sp_parse_f64(s, n, &SP_F64(v)[r])) return bad_value(p, col, "not a number", s, n);
        return SP_PARSE_NONE;
    case SPATE_TIMESTAMP:
        if (sp_parse_ts_value(s, n, p->f->ts_unit_us, &ts))
            return bad_value(p, col, "not a timestamp", s, n);
        SP_I64(v)[r] = ts;
        return SP_PARSE_NONE;
    default: return put_int(p, v, r, col, s, n);
    }
}

int sp_put_value(sp_parser *p, sp_batch *b, int col, const char *s, size_t n)
{
    sp_vec *v = &b->cols[col];
    uint32_t r = b->n;
    if (sp_type_is_str(v->type)) {
        SP_STR(v)[r] = (spate_str){s, n};
        p->seen[col] = 1;
        return SP_PARSE_NONE;
    }
    while (n && (s[0] == ' ' || s[0] == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0) {
        p->seen[col] = 0;
        return SP_PARSE_NONE;
    }
    int rc = put_scalar(p, v, r, col, s, n);
    if (rc == SP_PARSE_NONE) p->seen[col] = 1;
    return rc;
}

/* ------------------------------------------------------------ timestamps */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. Years are counted from March
 * so the leap day ends the year, and in 400-year eras of 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2) y--;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int mp = m > 2 ? m - 3 : m + 9;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* Reads exactly k digits at s[*i]. */
static int fixed_digits(const char *s, size_t n, size_t *i, int k, int *out)
{
    int v = 0;
    for (int j = 0; j < k; j++, (*i)++) {
        if (*i >= n || !is_digit(s[*i])) return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
    if (*i >= n || s[*i] != c) return -1;
    (*i)++;
    return 0;
}

/* [+-]YYYY[YY] or YYYY, then -MM-DD. */
static int parse_date(const char *s, size_t n, size_t *i, int64_t *y, int *mo, int *d)
{
    int neg = 0, digits = 4;
    if (*i < n && (s[*i] == '-' || s[*i] == '+')) {
        neg = s[(*i)++] == '-';
        size_t e = *i;
        while (e < n && is_digit(s[e])) e++;
        digits = (int)(e - *i);
        if (digits < 4 || digits > 6) return -1;
    }
    int yy;
    if (fixed_digits(s, n, i, digits, &yy) || expect(s, n, i, '-') ||
        fixed_digits(s, n, i, 2, mo) || expect(s, n, i, '-') || fixed_digits(s, n, i, 2, d))
        return -1;
    *y = neg ? -yy : yy;
    if (*mo < 1 || *mo > 12 || *d < 1 || *d > days_in_month(*y, *mo)) return -1;
    return 0;
}

/* HH:MM[:SS][.f{1,9}] into seconds of day and microseconds. */
static int parse_time(const char *s, size_t n, size_t *i, int64_t *sod, int64_t *frac)
{
    int h, mi, sec = 0;
    if (fixed_digits(s, n, i, 2, &h) || expect(s, n, i, ':') || fixed_digits(s, n, i, 2, &mi))
        return -1;
    if (*i < n && s[*i] == ':') {
        ++*i;
        if (fixed_digits(s, n, i, 2, &sec)) return -1;
    }
    if (h > 23 || mi > 59 || sec > 60) return -1;
    *sod = h * 3600 + mi * 60 + sec;
    *frac = 0;
    if (*i < n && (s[*i] == '.' || s[*i] == ',')) {
        int k = 0;
        for (++*i; *i < n && is_digit(s[*i]); ++*i, k++)
            if (k < 6) *frac = *frac * 10 + (s[*i] - '0');
        if (k == 0 || k > 9) return -1;
        for (; k < 6; k++) *frac *= 10;
    }
    return 0;
}

/* Z, or +-hh[:mm] / +-hhmm, as seconds east of UTC. */
static int parse_offset(const char *s, size_t n, size_t *i, int64_t *off)
{
    *off = 0;
    if (*i == n) return 0;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        ++*i;
        return 0;
    }
    if (s[*i] != '+' && s[*i] != '-') return -1;
    int sign = s[(*i)++] == '-' ? -1 : 1, h, mi = 0;
    if (fixed_digits(s, n, i, 2, &h)) return -1;
    int colon = *i < n && s[*i] == ':';
    *i += (size_t)colon;
    if ((colon || *i < n) && fixed_digits(s, n, i, 2, &mi)) return -1;
    if (h > 23 || mi > 59) return -1;
    *off = sign * (h * 3600 + mi * 60);
    return 0;
}

int sp_ts_parse(const char *s, size_t n, int64_t *us)
{
    size_t i = 0;
    int64_t y, sod = 0, frac = 0, off = 0;
    int mo, d;
    if (parse_date(s, n, &i, &y, &mo, &d)) return SPATE_EINVAL;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return SPATE_EINVAL;
        i++;
        if (parse_time(s, n, &i, &sod, &frac) || parse_offset(s, n, &i, &off) || i != n)
            return SPATE_EINVAL;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + sod - off, v;
    /* Borrow a second so the product stays in range down to INT64_MIN. */
    if (secs < 0 && frac > 0) {
        secs++;
        frac -= 1000000;
    }
    if (__builtin_mul_overflow(secs, (int64_t)1000000, &v) ||
        __builtin_add_overflow(v, frac, &v))
        return SPATE_EINVAL;
    *us = v;
    return 0;
}

int sp_ts_format(int64_t us, char *buf, size_t n)
{
    int64_t secs = floor_div(us, 1000000), micros = us % 1000000;
    if (micros < 0) micros += 1000000;
    int64_t days = floor_div(secs, 86400), sod = secs - days * 86400, y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    char frac[16] = "";
    if (micros && micros % 1000 == 0) snprintf(frac, sizeof frac, ".%03d", (int)(micros / 1000));
    else if (micros) snprintf(frac, sizeof frac, ".%06d", (int)micros);
    int len = snprintf(buf, n, y >= 0 && y <= 9999 ? "%04" PRId64 : "%+05" PRId64, y);
    len += snprintf(buf + len, n - (size_t)len, "-%02d-%02dT%02d:%02d:%02d%sZ", mo, d,
                    (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
    return len;
}

/* --------------------------------------------------------------- writers */

/* Shortest of %.15g and %.17g that reads back exactly, ".0" added to integers. */
static int format_double(double x, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%.15g", x);
    if (strtod(buf, NULL) != x) len = snprintf(buf, n, "%.17g", x);
    if (isfinite(x) && !strpbrk(buf, ".eE")) len += snprintf(buf + len, n - (size_t)len, ".0");
    return len;
}

/* A non-string value as text: what CSV and text write, and JSON for numbers. */
static int format_scalar(const sp_vec *v, uint32_t r, char *buf, size_t n)
{
    switch (v->type) {
    case SPATE_BOOL: return snprintf(buf, n, "%s", SP_BOOL(v)[r] ? "true" : "false");
    case SPATE_FLOAT64: return format_double(SP_F64(v)[r], buf, n);
    case SPATE_TIMESTAMP: return sp_ts_format(SP_I64(v)[r], buf, n);
    default: return snprintf(buf, n, "%" PRId64, sp_vec_get_int(v, r));
    }
}

int sp_format_write_header(const sp_format *f, sp_buf *out)
{
    if (f->kind != SP_FMT_CSV || !f->header) return 0;
    for (int c = 0; c < f->schema->n; c++) {
        const char *name = f->schema->f[c].name;
        if ((c && sp_buf_putc(out, f->delim)) || sp_csv_put_field(f, name, strlen(name), out))
            return SPATE_ENOMEM;
    }
    return sp_buf_putc(out, '\n');
}

static int write_csv_cell(const sp_format *f, const sp_vec *v, uint32_t r, sp_buf *out)
{
    if (sp_vec_is_null(v, r)) return 0;
    if (sp_type_is_str(v->type)) {
        spate_str s = SP_STR(v)[r];
        return sp_csv_put_field(f, s.ptr, s.len, out);
    }
    char buf[64];
    int len = format_scalar(v, r, buf, sizeof buf);
    return sp_buf_put(out, buf, (size_t)len);
}

static int write_json_cell(const sp_vec *v, uint32_t r, sp_buf *out)
{
    if (sp_vec_is_null(v, r)) return sp_buf_put(out, "null", 4);
    if (sp_type_is_str(v->type)) {
        spate_str s = SP_STR(v)[r];
        if (sp_buf_putc(out, '"') || sp_buf_put_json_escaped(out, s.ptr, s.len))
            return SPATE_ENOMEM;
        return sp_buf_putc(out, '"');
    }
    if (v->type == SPATE_FLOAT64 && !isfinite(SP_F64(v)[r])) return sp_buf_put(out, "null", 4);
    char buf[64];
    int len = format_scalar(v, r, buf, sizeof buf);
    if (v->type != SPATE_TIMESTAMP) return sp_buf_put(out, buf, (size_t)len);
    return sp_buf_printf(out, "\"%s\"", buf);
}

static int write_json_row(const sp_format *f, const sp_batch *b, uint32_t r, sp_buf *out)
{
    for (int c = 0; c < b->ncols; c++) {
        const char *name = f->schema->f[c].name;
        if (sp_buf_put(out, c ? ",\"" : "{\"", 2) ||
            sp_buf_put_json_escaped(out, name, strlen(name)) || sp_buf_put(out, "\":", 2) ||
            write_json_cell(&b->cols[c], r, out))
            return SPATE_ENOMEM;
    }
    return sp_buf_put(out, "}\n", 2);
}

int sp_format_write_row(const sp_format *f, const sp_batch *b, uint32_t phys, sp_buf *out)
{
    if (f->kind == SP_FMT_JSONL) return write_json_row(f, b, phys, out);
    if (f->kind == SP_FMT_TEXT) {
        const sp_vec *v = &b->cols[0];
        spate_str s = sp_vec_is_null(v, phys) ? (spate_str){"", 0} : SP_STR(v)[phys];
        return sp_buf_put(out, s.ptr, s.len) ? SPATE_ENOMEM : sp_buf_putc(out, '\n');
    }
    for (int c = 0; c < b->ncols; c++)
        if ((c && sp_buf_putc(out, f->delim)) || write_csv_cell(f, &b->cols[c], phys, out))
            return SPATE_ENOMEM;
    return sp_buf_putc(out, '\n');
}
