/*
 * jsonl.c - one JSON object per record, read straight into the row.
 *
 * Design choices:
 *  - One pass, no DOM: members are matched to columns as they are met. The member's
 *    dotted path ("device.id") is built in a buffer the parser owns, sized once for
 *    the longest column name, so matching allocates nothing; a nested object is
 *    descended into only when some column name starts with its path.
 *  - Everything is validated, including the parts no column asks for, so a record is
 *    either well-formed JSON or reported (with the byte offset of the problem).
 *  - Recursion depth is bounded by SP_JSON_MAX_DEPTH nesting levels; deeper input is a
 *    bad record. Every read is bounds-checked against the record length.
 *  - Strings without escapes point into the record; escaped ones are decoded into the
 *    batch arena (decoding never lengthens a string, so the raw length is enough).
 *    \uXXXX pairs become UTF-8; a lone surrogate becomes U+FFFD rather than failing
 *    the record. Raw control characters inside strings are rejected, as RFC 8259
 *    requires; other bytes pass through unvalidated.
 *  - Values convert leniently between JSON and column types: "42" fills an INT,
 *    a number or true/false fills a STRING with its text, and an object or array
 *    addressed by a STRING column is kept as its raw JSON text. A member that is
 *    absent or null leaves the column NULL; when a member repeats, the last wins.
 */
#include "formats/format_impl.h"

#include "core/error.h"

#include <string.h>

typedef struct jx {
    sp_parser *p;
    sp_batch *b;
    const char *s;
    size_t n, i;
} jx;

static int parse_value(jx *x, int depth, int col);

static int jbad(jx *x, const char *what)
{
    return sp_parser_bad(x->p, NULL, "%s at byte %zu", what, x->i);
}

static void skip_ws(jx *x)
{
    while (x->i < x->n && (x->s[x->i] == ' ' || x->s[x->i] == '\t' || x->s[x->i] == '\n' ||
                           x->s[x->i] == '\r'))
        x->i++;
}

static int peek(const jx *x, char c)
{
    return x->i < x->n && x->s[x->i] == c;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        unsigned d = is_digit(c) ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16) return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Checks the escape at s[i] == '\\' and moves past it. */
static int check_escape(jx *x)
{
    if (x->i + 1 >= x->n) return jbad(x, "unterminated escape");
    switch (x->s[x->i + 1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        x->i += 2;
        return 0;
    case 'u': {
        unsigned cp;
        if (x->i + 6 > x->n || hex4(x->s + x->i + 2, &cp)) return jbad(x, "bad \\u escape");
        x->i += 6;
        return 0;
    }
    default: return jbad(x, "bad escape");
    }
}

/* Validates the string at s[i] == '"' and moves past it; its body is s[*start..+*len). */
static int scan_string(jx *x, size_t *start, size_t *len, int *escaped)
{
    size_t open = x->i++;
    *start = x->i;
    *escaped = 0;
    for (;;) {
        if (x->i >= x->n) {
            x->i = open;
            return jbad(x, "unterminated string starting");
        }
        unsigned char c = (unsigned char)x->s[x->i];
        if (c == '"') break;
        if (c < 0x20) return jbad(x, "control character in string");
        if (c != '\\') {
            x->i++;
            continue;
        }
        *escaped = 1;
        int rc = check_escape(x);
        if (rc) return rc;
    }
    *len = x->i - *start;
    x->i++;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The code point of the \u escape at raw[*k] (just past "\u"), joining a surrogate
 * pair when the low half follows. */
static unsigned decode_u(const char *raw, size_t n, size_t *k)
{
    unsigned cp = 0xFFFD, lo = 0; /* set by hex4: scan_string checked the digits */
    hex4(raw + *k, &cp);
    *k += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && *k + 6 <= n && raw[*k] == '\\' && raw[*k + 1] == 'u' &&
        hex4(raw + *k + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
        *k += 6;
        return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp;
}

/* Decodes a string body checked by scan_string into out (room for n bytes). */
static size_t decode_string(const char *raw, size_t n, char *out)
{
    size_t o = 0;
    for (size_t k = 0; k < n;) {
        if (raw[k] != '\\') {
            out[o++] = raw[k++];
            continue;
        }
        char e = raw[k + 1];
        k += 2;
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': o += put_utf8(out + o, decode_u(raw, n, &k)); break;
        default: out[o++] = e; break;
        }
    }
    return o;
}

static int scan_digits(jx *x)
{
    if (x->i >= x->n || !is_digit(x->s[x->i])) return jbad(x, "bad number");
    while (x->i < x->n && is_digit(x->s[x->i])) x->i++;
    return 0;
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(jx *x)
{
    if (peek(x, '-')) x->i++;
    int rc = 0;
    if (peek(x, '0')) x->i++;
    else rc = scan_digits(x);
    if (!rc && peek(x, '.')) {
        x->i++;
        rc = scan_digits(x);
    }
    if (!rc && (peek(x, 'e') || peek(x, 'E'))) {
        x->i++;
        if (peek(x, '+') || peek(x, '-')) x->i++;
        rc = scan_digits(x);
    }
    return rc;
}

static int scan_literal(jx *x, const char *lit)
{
    size_t n = strlen(lit);
    if (x->n - x->i < n || memcmp(x->s + x->i, lit, n) != 0) return jbad(x, "bad literal");
    x->i += n;
    return 0;
}

/* Writes prefix.key into p->path; returns its length, or 0 when it is too long to
 * name any column. */
static size_t build_path(jx *x, size_t prefix, size_t start, size_t len, int escaped)
{
    sp_parser *p = x->p;
    size_t off = prefix ? prefix + 1 : 0;
    if (off + len > p->path_cap) return 0;
    if (prefix) p->path[prefix] = '.';
    if (escaped) return off + decode_string(x->s + start, len, p->path + off);
    memcpy(p->path + off, x->s + start, len);
    return off + len;
}

static int find_column(sp_parser *p, size_t n)
{
    for (int k = 0; k < p->ncols; k++) {
        int c = (p->hint + k) % p->ncols;
        if (p->name_len[c] == n && memcmp(p->f->schema->f[c].name, p->path, n) == 0) {
            p->hint = c + 1;
            return c;
        }
    }
    return -1;
}

/* Some column reads a member of the object at path p->path[0..n). */
static int is_path_prefix(const sp_parser *p, size_t n)
{
    for (int c = 0; c < p->ncols; c++) {
        const char *name = p->f->schema->f[c].name;
        if (p->name_len[c] > n && name[n] == '.' && memcmp(name, p->path, n) == 0) return 1;
    }
    return 0;
}

static int parse_object(jx *x, int depth, size_t prefix, int match);
static int container_value(jx *x, int depth, int col, size_t path_len, int nested);

/* One "key": value member of an object whose path is p->path[0..prefix). */
static int parse_member(jx *x, int depth, size_t prefix, int match)
{
    skip_ws(x);
    if (!peek(x, '"')) return jbad(x, "expected a member name");
    size_t start, len, plen = 0;
    int escaped, col = -1, nested = 0;
    int rc = scan_string(x, &start, &len, &escaped);
    if (rc) return rc;
    if (match && (plen = build_path(x, prefix, start, len, escaped)) > 0) {
        col = find_column(x->p, plen);
        nested = x->p->has_dotted && is_path_prefix(x->p, plen);
    }
    skip_ws(x);
    if (!peek(x, ':')) return jbad(x, "expected ':'");
    x->i++;
    skip_ws(x);
    if (nested && peek(x, '{')) return container_value(x, depth, col, plen, 1);
    return parse_value(x, depth, col);
}

/* The object at s[i] == '{'; match = its members may name columns. */
static int parse_object(jx *x, int depth, size_t prefix, int match)
{
    if (depth > SP_JSON_MAX_DEPTH) return jbad(x, "nesting deeper than 64 levels");
    x->i++;
    skip_ws(x);
    if (peek(x, '}')) {
        x->i++;
        return 0;
    }
    for (;;) {
        int rc = parse_member(x, depth, prefix, match);
        if (rc) return rc;
        skip_ws(x);
        if (!peek(x, ',') && !peek(x, '}')) return jbad(x, "expected ',' or '}'");
        if (x->s[x->i++] == '}') return 0;
    }
}

static int parse_array(jx *x, int depth)
{
    if (depth > SP_JSON_MAX_DEPTH) return jbad(x, "nesting deeper than 64 levels");
    x->i++;
    skip_ws(x);
    if (peek(x, ']')) {
        x->i++;
        return 0;
    }
    for (;;) {
        skip_ws(x);
        int rc = parse_value(x, depth, -1);
        if (rc) return rc;
        skip_ws(x);
        if (!peek(x, ',') && !peek(x, ']')) return jbad(x, "expected ',' or ']'");
        if (x->s[x->i++] == ']') return 0;
    }
}

static int string_value(jx *x, int col)
{
    size_t start, len;
    int escaped;
    int rc = scan_string(x, &start, &len, &escaped);
    if (rc || col < 0) return rc;
    const char *s = x->s + start;
    if (escaped) {
        char *d = sp_arena_alloc(&x->b->arena, len ? len : 1);
        if (!d) return sp_err(SPATE_ENOMEM, "out of memory");
        len = decode_string(s, len, d);
        s = d;
    }
    return sp_put_value(x->p, x->b, col, s, len);
}

/* An object or array: validated, its raw text stored when col is a STRING/BYTES
 * column, and with nested set its members matched to columns below p->path. */
static int container_value(jx *x, int depth, int col, size_t path_len, int nested)
{
    size_t start = x->i;
    int is_obj = x->s[start] == '{';
    if (col >= 0 && !sp_type_is_str(x->b->cols[col].type))
        return sp_parser_bad(x->p, x->p->f->schema->f[col].name, "expected %s, got %s at byte %zu",
                             spate_type_name(x->b->cols[col].type),
                             is_obj ? "an object" : "an array", start);
    int rc = is_obj ? parse_object(x, depth + 1, path_len, nested) : parse_array(x, depth + 1);
    if (rc || col < 0) return rc;
    return sp_put_value(x->p, x->b, col, x->s + start, x->i - start);
}

/* Any value at s[i]; col >= 0 stores it into that column, -1 only validates it. */
static int parse_value(jx *x, int depth, int col)
{
    if (x->i >= x->n) return jbad(x, "unexpected end of record");
    size_t start = x->i;
    char c = x->s[start];
    int rc;
    if (c == '{' || c == '[') return container_value(x, depth, col, 0, 0);
    if (c == '"') return string_value(x, col);
    if (c == 'n') {
        rc = scan_literal(x, "null");
        if (!rc && col >= 0) x->p->seen[col] = 0;
        return rc;
    }
    if (c == 't' || c == 'f') rc = scan_literal(x, c == 't' ? "true" : "false");
    else if (c == '-' || is_digit(c)) rc = scan_number(x);
    else return jbad(x, "unexpected character");
    if (rc || col < 0) return rc;
    return sp_put_value(x->p, x->b, col, x->s + start, x->i - start);
}

int sp_jsonl_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len)
{
    jx x = {p, b, rec, len, 0};
    skip_ws(&x);
    if (x.i == len) return SP_PARSE_NONE;
    if (rec[x.i] != '{') return jbad(&x, "not a JSON object");
    p->hint = 0;
    int rc = parse_object(&x, 1, 0, 1);
    if (rc) return rc;
    skip_ws(&x);
    if (x.i != len) return jbad(&x, "trailing characters after the object");
    return sp_row_commit(p, b);
}
