/*
 * parser.c - recursive-descent parser of spate's SQL dialect: script text -> the
 * tree of ast.h.
 *
 * The whole script is lexed first into an array of tokens, so the parser can
 * look as far ahead as it needs (`t . *`, `name =>`, `IS NOT NULL`) by index.
 * A lexing error stops the lexer but not the parser: the array then ends with
 * an SQ_TOK_ERROR token, which matches nothing, and the lexer's message is
 * reported when the parser fails at or after that token. Errors therefore come
 * out in text order: a syntax error early in the script is not hidden by an
 * unterminated string further down.
 *
 * Keywords are not reserved by the lexer. A word is a keyword where the grammar
 * expects one and a name elsewhere; only the words of the `reserved` table
 * below, which would make the grammar ambiguous (`SELECT a FROM t`: is FROM an
 * alias?), cannot be unquoted names.
 *
 * Expressions use precedence climbing (parse_binary): one function for all the
 * binary levels, so the C stack grows with the nesting of the text (parentheses,
 * function calls, CASE, unary operators), not with the number of precedence
 * levels. That nesting is counted and bounded (SQ_MAX_DEPTH).
 *
 * Every node, string and list lives in the script's arena. Lists grow by
 * doubling inside the arena (the old array is abandoned there), so an error at
 * any point unwinds by returning NULL / -1 and the caller frees the arena: no
 * error path can leak. Parse functions return NULL or -1 after recording the
 * first error in p->err; later errors are ignored.
 */
#include "sql/ast.h"

#include "core/arena.h"
#include "sql/lexer.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
    SQ_MAX_DEPTH = 200,    /* nesting of expressions and queries */
    SQ_MAX_TEXT = 1 << 30, /* positions are 32-bit */
};

typedef struct sq_parser {
    const char *text;
    size_t len;
    sq_token *toks; /* ends with SQ_TOK_EOF, or SQ_TOK_ERROR after a lexing error */
    int ntoks;
    int i;            /* current token */
    sq_error lex_err; /* the lexer's message for a final SQ_TOK_ERROR */
    sq_pos last_end;  /* just after the last consumed token */
    sp_arena *arena;
    sq_error *err;
    int rc;       /* first error: SPATE_EPARSE or SPATE_ENOMEM */
    int hintable; /* the recorded error is the last one raised: a hint may follow */
    int depth;
} sq_parser;

/* A script and its arena in one allocation: sq_script_free frees both. */
typedef struct sq_script_box {
    sq_script script;
    sp_arena arena;
} sq_script_box;

/* Words that are never unquoted names (see the header comment). */
static const char *const reserved[] = {
    "ALL",    "AND",     "AS",     "BETWEEN", "BY",     "CASE",      "CROSS", "DISTINCT",
    "ELSE",   "END",     "ESCAPE", "EXCEPT",  "FALSE",  "FETCH",     "FOR",   "FROM",
    "FULL",   "GROUP",   "HAVING", "IN",      "INNER",  "INTERSECT", "INTO",  "IS",
    "JOIN",   "LATERAL", "LEFT",   "LIKE",    "LIMIT",  "NATURAL",   "NOT",   "NULL",
    "OFFSET", "ON",      "OR",     "ORDER",   "OUTER",  "OVER",      "RIGHT", "SELECT",
    "THEN",   "TRUE",    "UNION",  "USING",   "VALUES", "WHEN",      "WHERE", "WITH",
};

/* ------------------------------------------------------------------ tokens */

static const sq_token *cur(const sq_parser *p)
{
    return &p->toks[p->i];
}

static const sq_token *ahead(const sq_parser *p, int k)
{
    int j = p->i + k;
    return &p->toks[j < p->ntoks ? j : p->ntoks - 1];
}

static int at_end(const sq_token *t)
{
    return t->kind == SQ_TOK_EOF || t->kind == SQ_TOK_ERROR;
}

/* The place just after token t (a string may span lines). */
static sq_pos pos_after(const sq_parser *p, const sq_token *t)
{
    sq_pos e = t->pos;
    for (uint32_t k = 0; k < t->len; k++) {
        if (p->text[t->pos.off + k] == '\n') {
            e.line++;
            e.col = 1;
        } else {
            e.col++;
        }
    }
    e.off = t->pos.off + t->len;
    return e;
}

static const sq_token *advance(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (!at_end(t)) {
        p->i++;
        p->last_end = pos_after(p, t);
    }
    return t;
}

static int is_kw(const sq_parser *p, int k, const char *kw)
{
    return sq_token_is(p->text, ahead(p, k), kw);
}

static int accept_kw(sq_parser *p, const char *kw)
{
    if (!is_kw(p, 0, kw)) return 0;
    advance(p);
    return 1;
}

static int accept(sq_parser *p, sq_tok_kind kind)
{
    if (cur(p)->kind != kind) return 0;
    advance(p);
    return 1;
}

static int is_reserved(const sq_parser *p, const sq_token *t)
{
    if (t->kind != SQ_TOK_IDENT) return 0;
    for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
        if (sq_token_is(p->text, t, reserved[k])) return 1;
    return 0;
}

/* A token that can be an unquoted or quoted name. */
static int is_name(const sq_parser *p, const sq_token *t)
{
    return t->kind == SQ_TOK_QIDENT || (t->kind == SQ_TOK_IDENT && !is_reserved(p, t));
}

/* Where an error about the current token points: at the end of input, just
 * after the last token rather than on the empty place after a final newline. */
static sq_pos cur_pos(const sq_parser *p)
{
    const sq_token *t = cur(p);
    if (t->kind == SQ_TOK_EOF && p->i > 0) return p->last_end;
    return t->pos;
}

/* "'WITH'", "string 'abc'", "end of input", for messages. */
static const char *describe(const sq_parser *p, const sq_token *t, char *buf, size_t cap)
{
    if (t->kind == SQ_TOK_EOF) return "end of input";
    size_t n = t->len, max = 40;
    int cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)p->text[t->pos.off + n] & 0xC0) == 0x80)
            n--;
    }
    char text[48];
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)p->text[t->pos.off + k];
        text[k] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    text[n] = 0;
    if (t->kind == SQ_TOK_STRING)
        snprintf(buf, cap, "string %s%s", text, cut ? "..." : "");
    else
        snprintf(buf, cap, "'%s%s'", text, cut ? "..." : "");
    return buf;
}

/* ------------------------------------------------------------------ errors */

static void errv(sq_parser *p, sq_pos pos, const char *fmt, va_list ap)
{
    if (p->rc) {
        p->hintable = 0;
        return;
    }
    p->rc = SPATE_EPARSE;
    const sq_token *last = &p->toks[p->ntoks - 1];
    if (last->kind == SQ_TOK_ERROR && pos.off >= last->pos.off) {
        /* The parser stumbled on the bad token: the lexer's message says why. */
        *p->err = p->lex_err;
        p->hintable = 0;
        return;
    }
    memset(p->err, 0, sizeof *p->err);
    p->err->pos = pos;
    p->err->has_pos = 1;
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    p->hintable = 1;
}

__attribute__((format(printf, 3, 4))) static int err_at(sq_parser *p, sq_pos pos, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    errv(p, pos, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 3, 4))) static void *null_at(sq_parser *p, sq_pos pos,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errv(p, pos, fmt, ap);
    va_end(ap);
    return NULL;
}

/* "expected <what>, found <current token>". */
static int expected(sq_parser *p, const char *what)
{
    char buf[96];
    return err_at(p, cur_pos(p), "expected %s, found %s", what,
                  describe(p, cur(p), buf, sizeof buf));
}

static void *expected_null(sq_parser *p, const char *what)
{
    expected(p, what);
    return NULL;
}

static int expect(sq_parser *p, sq_tok_kind kind, const char *what)
{
    return accept(p, kind) ? 0 : expected(p, what);
}

static int expect_kw(sq_parser *p, const char *kw, const char *what)
{
    return accept_kw(p, kw) ? 0 : expected(p, what);
}

static void oom(sq_parser *p)
{
    if (p->rc) return;
    p->rc = SPATE_ENOMEM;
    memset(p->err, 0, sizeof *p->err);
    snprintf(p->err->msg, sizeof p->err->msg, "out of memory");
    p->hintable = 0;
}

/* Adds "did you mean X?" to the error just raised when word t is close to one
 * of the n candidates. */
static void hint_closest(sq_parser *p, const sq_token *t, const char *const *cands, int n)
{
    if (!p->hintable || (t->kind != SQ_TOK_IDENT && t->kind != SQ_TOK_WORDNUM) || t->len > 64)
        return;
    char word[65];
    memcpy(word, p->text + t->pos.off, t->len);
    word[t->len] = 0;
    int best = -1, best_d = 0;
    for (int k = 0; k < n; k++) {
        int d = sq_edit_distance(word, cands[k]);
        if (best < 0 || d < best_d) {
            best = k;
            best_d = d;
        }
    }
    int limit = t->len <= 4 ? 1 : 2;
    if (best >= 0 && best_d <= limit && best_d < (int)t->len)
        snprintf(p->err->hint, sizeof p->err->hint, "did you mean %s?", cands[best]);
}

static int enter(sq_parser *p, sq_pos pos)
{
    if (++p->depth <= SQ_MAX_DEPTH) return 0;
    return err_at(p, pos, "nesting deeper than %d levels", SQ_MAX_DEPTH);
}

static void leave(sq_parser *p)
{
    p->depth--;
}

/* ----------------------------------------------------------------- memory */

static void *alloc(sq_parser *p, size_t n)
{
    void *m = sp_arena_alloc(p->arena, n);
    if (!m) {
        oom(p);
        return NULL;
    }
    memset(m, 0, n);
    return m;
}

/* Returns arr, or a copy twice as large when it is full (NULL when out of memory). */
static void *grow(sq_parser *p, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap) return arr;
    int ncap = *cap ? *cap * 2 : 4;
    void *bigger = alloc(p, (size_t)ncap * elem);
    if (!bigger) return NULL;
    if (n) memcpy(bigger, arr, (size_t)n * elem);
    *cap = ncap;
    return bigger;
}

static char *dup_text(sq_parser *p, const char *s, size_t n)
{
    char *d = alloc(p, n + 1);
    if (d) memcpy(d, s, n);
    return d;
}

/* The value of a token: a name or string without quotes, anything else as written. */
static char *tok_value(sq_parser *p, const sq_token *t)
{
    char *d = alloc(p, (size_t)t->len + 1);
    if (d) d[sq_token_unquote(p->text, t, d)] = 0;
    return d;
}

static char *upper(char *s)
{
    for (char *c = s; c && *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    return s;
}

static char *lower(char *s)
{
    for (char *c = s; c && *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return s;
}

/* A name (plain or quoted identifier that is not a reserved word). */
static const char *parse_name(sq_parser *p, const char *what, sq_pos *pos)
{
    if (!is_name(p, cur(p))) return expected_null(p, what);
    if (pos) *pos = cur(p)->pos;
    return tok_value(p, advance(p));
}

/* Option keys and values, SET keys: a word with the words glued to it by '.'
 * or '-' with no blank between (a.b.c, sink.buffer-flush.max-rows, 10s), as
 * written from text[start] (before the word when there is a sign). */
static char *parse_glued(sq_parser *p, size_t start)
{
    const sq_token *first = advance(p);
    size_t end = first->pos.off + first->len;
    for (;;) {
        const sq_token *sep = cur(p), *next = ahead(p, 1);
        int word =
            next->kind == SQ_TOK_IDENT || next->kind == SQ_TOK_INT || next->kind == SQ_TOK_WORDNUM;
        if ((sep->kind != SQ_TOK_DOT && sep->kind != SQ_TOK_MINUS) || sep->pos.off != end ||
            !word || next->pos.off != end + 1)
            break;
        advance(p);
        advance(p);
        end = next->pos.off + next->len;
    }
    return dup_text(p, p->text + start, end - start);
}

/* ----------------------------------------------------------------- literals */

static sq_expr *new_expr(sq_parser *p, sq_expr_kind kind, sq_pos pos)
{
    sq_expr *e = alloc(p, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->pos = pos;
    return e;
}

/* Integer token t (negated when neg) -> *out; -1 on overflow. */
static int parse_int(sq_parser *p, const sq_token *t, int neg, sq_pos pos, int64_t *out)
{
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (uint32_t k = 0; k < t->len; k++) {
        unsigned d = (unsigned)(p->text[t->pos.off + k] - '0');
        if (v > (limit - d) / 10) {
            char buf[96];
            return err_at(p, pos, "integer literal %s%s is out of range (BIGINT)", neg ? "-" : "",
                          describe(p, t, buf, sizeof buf));
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static sq_expr *parse_number(sq_parser *p, int neg, sq_pos pos)
{
    const sq_token *t = advance(p);
    if (t->kind == SQ_TOK_WORDNUM) {
        char buf[96];
        return null_at(p, t->pos, "malformed number %s", describe(p, t, buf, sizeof buf));
    }
    sq_expr *e = new_expr(p, t->kind == SQ_TOK_INT ? SQ_LIT_INT : SQ_LIT_DOUBLE, pos);
    if (!e) return NULL;
    if (t->kind == SQ_TOK_INT) return parse_int(p, t, neg, pos, &e->ival) ? NULL : e;
    char *s = tok_value(p, t);
    if (!s) return NULL;
    e->dval = strtod(s, NULL);
    if (!isfinite(e->dval)) {
        char buf[96];
        return null_at(p, t->pos, "numeric literal %s is out of range",
                       describe(p, t, buf, sizeof buf));
    }
    if (neg) e->dval = -e->dval;
    return e;
}

/* Units of INTERVAL 'n' UNIT, singular or plural; 0 marks the units spate
 * cannot hold. The short forms are for the single-string INTERVAL '10 s'. */
static const struct {
    const char *word;
    int64_t us;
    int short_form;
} interval_units[] = {
    {"MICROSECOND", 1, 0},
    {"MILLISECOND", 1000, 0},
    {"SECOND", 1000000, 0},
    {"MINUTE", 60000000, 0},
    {"HOUR", 3600000000LL, 0},
    {"DAY", 86400000000LL, 0},
    {"WEEK", 604800000000LL, 0},
    {"MONTH", 0, 0},
    {"QUARTER", 0, 0},
    {"YEAR", 0, 0},
    {"US", 1, 1},
    {"MICRO", 1, 1},
    {"MS", 1000, 1},
    {"MILLI", 1000, 1},
    {"S", 1000000, 1},
    {"SEC", 1000000, 1},
    {"M", 60000000, 1},
    {"MIN", 60000000, 1},
    {"H", 3600000000LL, 1},
    {"D", 86400000000LL, 1},
};

/* 1 when s[0..n) spells upper_word or its plural (upper_word + S), ignoring case. */
static int word_eq(const char *s, size_t n, const char *upper_word)
{
    size_t w = strlen(upper_word);
    if (n == w + 1 && w > 2 && (s[w] == 's' || s[w] == 'S')) n = w;
    if (n != w) return 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (c != upper_word[k]) return 0;
    }
    return 1;
}

/* The microseconds of a unit word (-1: not a unit); short forms only when allowed. */
static int64_t unit_micros(const char *s, size_t n, int short_forms)
{
    for (size_t u = 0; u < sizeof interval_units / sizeof interval_units[0]; u++)
        if ((short_forms || !interval_units[u].short_form) && word_eq(s, n, interval_units[u].word))
            return interval_units[u].us;
    return -1;
}

/* The microseconds of an INTERVAL's text s: "[-]digits[.digits]", followed by a
 * unit word when unit_us is 0 ("10 seconds"). Errors point at the literal t. */
static int interval_value(sq_parser *p, const sq_token *t, const char *s, int64_t unit_us,
                          int64_t *out)
{
    size_t k = 0, n = strlen(s);
    while (k < n && s[k] == ' ')
        k++;
    int neg = k < n && (s[k] == '-' || s[k] == '+') ? s[k++] == '-' : 0;
    size_t digits = k;
    uint64_t whole = 0;
    int overflow = 0;
    for (; k < n && s[k] >= '0' && s[k] <= '9'; k++) {
        if (whole > (UINT64_MAX - 9) / 10)
            overflow = 1;
        else
            whole = whole * 10 + (uint64_t)(s[k] - '0');
    }
    if (k == digits)
        return err_at(p, t->pos, "invalid interval '%s': expected a number%s", s,
                      unit_us ? "" : " and a unit, such as '10 seconds'");
    size_t frac_at = k, frac_len = 0;
    if (k < n && s[k] == '.') {
        frac_at = ++k;
        while (k < n && s[k] >= '0' && s[k] <= '9')
            k++;
        frac_len = k - frac_at;
        while (frac_len > 0 && s[frac_at + frac_len - 1] == '0')
            frac_len--;
    }
    while (k < n && s[k] == ' ')
        k++;
    if (!unit_us) {
        size_t w = k;
        while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
            k++;
        unit_us = unit_micros(s + w, k - w, 1);
        if (unit_us <= 0)
            return err_at(p, t->pos,
                          "invalid interval '%s': expected a unit (us, ms, s, min, h, d or "
                          "their long names) after the number",
                          s);
        while (k < n && s[k] == ' ')
            k++;
    }
    if (k != n) return err_at(p, t->pos, "invalid interval '%s': unexpected '%s'", s, s + k);
    uint64_t frac = 0, scale = 1;
    if (frac_len > 6)
        return err_at(p, t->pos, "interval '%s' is not a whole number of microseconds", s);
    for (size_t f = 0; f < frac_len; f++) {
        frac = frac * 10 + (uint64_t)(s[frac_at + f] - '0');
        scale *= 10;
    }
    if (frac * (uint64_t)unit_us % scale)
        return err_at(p, t->pos, "interval '%s' is not a whole number of microseconds", s);
    uint64_t total;
    if (overflow || __builtin_mul_overflow(whole, (uint64_t)unit_us, &total) ||
        __builtin_add_overflow(total, frac * (uint64_t)unit_us / scale, &total) ||
        total > (uint64_t)INT64_MAX)
        return err_at(p, t->pos, "interval '%s' is out of range", s);
    *out = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* INTERVAL 'n' UNIT, INTERVAL n UNIT, or INTERVAL '<n> <unit>'. */
static sq_expr *parse_interval(sq_parser *p)
{
    const sq_token *kw = advance(p), *lit = advance(p);
    sq_expr *e = new_expr(p, SQ_LIT_INTERVAL, kw->pos);
    char *s = tok_value(p, lit);
    if (!e || !s) return NULL;
    const sq_token *u = cur(p);
    int64_t unit_us = u->kind == SQ_TOK_IDENT ? unit_micros(p->text + u->pos.off, u->len, 0) : -1;
    if (unit_us == 0)
        return null_at(p, u->pos,
                       "INTERVAL ... %s is not supported: months and years have no fixed "
                       "length (use DAY or a smaller unit)",
                       upper(tok_value(p, u)));
    if (unit_us < 0) {
        int has_unit = 0;
        for (const char *c = s; *c; c++)
            has_unit |= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
        if (lit->kind == SQ_TOK_STRING && has_unit)
            return interval_value(p, lit, s, 0, &e->ival) ? NULL : e;
        expected(p, "a unit (SECOND, MINUTE, HOUR, DAY ...) after the INTERVAL value");
        static const char *const units[] = {"MICROSECOND", "MILLISECOND", "SECOND",
                                            "MINUTE",      "HOUR",        "DAY"};
        hint_closest(p, u, units, 6);
        return NULL;
    }
    advance(p);
    if (cur(p)->kind == SQ_TOK_LPAREN && ahead(p, 1)->kind == SQ_TOK_INT &&
        ahead(p, 2)->kind == SQ_TOK_RPAREN) {
        advance(p);
        advance(p);
        advance(p);
    }
    if (is_kw(p, 0, "TO"))
        return null_at(p, cur(p)->pos,
                       "interval ranges (DAY TO SECOND ...) are not supported: write "
                       "INTERVAL '90' MINUTE");
    return interval_value(p, lit, s, unit_us, &e->ival) ? NULL : e;
}

/* ------------------------------------------------------------- expressions */

enum { PREC_OR = 1, PREC_AND, PREC_NOT, PREC_CMP, PREC_CONCAT, PREC_ADD, PREC_MUL };

static sq_expr *parse_binary(sq_parser *p, int min);
static sq_select *parse_query(sq_parser *p);
static const char *parse_type(sq_parser *p);

static sq_expr *parse_expr(sq_parser *p)
{
    return parse_binary(p, PREC_OR);
}

static sq_expr *unary(sq_parser *p, sq_op op, sq_pos pos, sq_expr *arg)
{
    sq_expr *e = new_expr(p, SQ_UNARY, pos);
    sq_expr **args = alloc(p, sizeof *args);
    if (!e || !args) return NULL;
    e->op = op;
    args[0] = arg;
    e->args = args;
    e->nargs = 1;
    return e;
}

/* A node of kind over args[0..n). */
static sq_expr *node(sq_parser *p, sq_expr_kind kind, sq_pos pos, sq_expr *const *args, int n)
{
    sq_expr *e = new_expr(p, kind, pos);
    sq_expr **a = alloc(p, sizeof *a * (size_t)(n ? n : 1));
    if (!e || !a) return NULL;
    if (n) memcpy(a, args, sizeof *a * (size_t)n);
    e->args = a;
    e->nargs = n;
    return e;
}

/* Comma-separated expressions up to and including ')', appended to *args. */
static int parse_expr_list(sq_parser *p, sq_expr ***args, int *n, int *cap, const char *what)
{
    do {
        sq_expr *e = parse_expr(p);
        sq_expr **a = e ? grow(p, *args, *n, cap, sizeof *a) : NULL;
        if (!a) return -1;
        a[(*n)++] = e;
        *args = a;
    } while (accept(p, SQ_TOK_COMMA));
    return expect(p, SQ_TOK_RPAREN, what);
}

/* expr [ASC|DESC] [NULLS FIRST|LAST], ... */
static int parse_order_items(sq_parser *p, sq_order_item **items, int *n)
{
    int cap = 0;
    do {
        sq_expr *e = parse_expr(p);
        sq_order_item *a = e ? grow(p, *items, *n, &cap, sizeof *a) : NULL;
        if (!a) return -1;
        *items = a;
        sq_order_item *it = &a[(*n)++];
        it->expr = e;
        it->nulls_first = -1;
        if (accept_kw(p, "DESC"))
            it->desc = 1;
        else
            accept_kw(p, "ASC");
        if (accept_kw(p, "NULLS")) {
            if (accept_kw(p, "FIRST"))
                it->nulls_first = 1;
            else if (accept_kw(p, "LAST"))
                it->nulls_first = 0;
            else
                return expected(p, "FIRST or LAST after NULLS");
        }
    } while (accept(p, SQ_TOK_COMMA));
    return 0;
}

/* OVER (PARTITION BY ... ORDER BY ...) after a function call. */
static sq_over *parse_over(sq_parser *p)
{
    const sq_token *t = advance(p);
    sq_over *o = alloc(p, sizeof *o);
    if (!o || enter(p, t->pos) || expect(p, SQ_TOK_LPAREN, "'(' after OVER")) return NULL;
    if (accept_kw(p, "PARTITION")) {
        if (expect_kw(p, "BY", "BY after PARTITION")) return NULL;
        int cap = 0;
        do {
            sq_expr *e = parse_expr(p);
            sq_expr **a = e ? grow(p, o->partition, o->npartition, &cap, sizeof *a) : NULL;
            if (!a) return NULL;
            o->partition = a;
            a[o->npartition++] = e;
        } while (accept(p, SQ_TOK_COMMA));
    }
    if (accept_kw(p, "ORDER")) {
        if (expect_kw(p, "BY", "BY after ORDER") || parse_order_items(p, &o->order, &o->norder))
            return NULL;
    }
    if (expect(p, SQ_TOK_RPAREN, "')' after the OVER clause")) return NULL;
    leave(p);
    return o;
}

static sq_expr *func(sq_parser *p, const char *name, sq_pos pos, sq_expr *const *args, int n)
{
    sq_expr *e = node(p, SQ_FUNC, pos, args, n);
    if (e) e->name = name;
    return e;
}

/* A bare unit keyword (DAY, HOUR ...) or a string, as an upper-cased string literal. */
static sq_expr *parse_unit(sq_parser *p, const char *fn)
{
    const sq_token *t = cur(p);
    if (t->kind != SQ_TOK_IDENT && t->kind != SQ_TOK_STRING) {
        char what[64];
        snprintf(what, sizeof what, "a time unit (SECOND, HOUR, DAY ...) in %s", fn);
        return expected_null(p, what);
    }
    sq_expr *e = new_expr(p, SQ_LIT_STRING, t->pos);
    if (e) e->str = upper(tok_value(p, advance(p)));
    return e && e->str ? e : NULL;
}

/* NAME(first, ...) once first and its ',' are read: the other arguments up to ')'. */
static sq_expr *call_rest(sq_parser *p, const char *name, sq_pos pos, sq_expr *first)
{
    char what[96];
    snprintf(what, sizeof what, "')' after the arguments of %s", name);
    int n = 0, cap = 0;
    sq_expr **list = grow(p, NULL, 0, &cap, sizeof *list);
    if (!list) return NULL;
    list[n++] = first;
    if (parse_expr_list(p, &list, &n, &cap, what)) return NULL;
    return func(p, name, pos, list, n);
}

/* TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) or TRIM(s) -> TRIM/LTRIM/RTRIM(s[, chars]). */
static sq_expr *parse_trim(sq_parser *p, sq_pos pos)
{
    const char *name = "TRIM";
    sq_expr *chars = NULL, *s = NULL;
    const sq_token *next = ahead(p, 1);
    int mode = next->kind != SQ_TOK_RPAREN && next->kind != SQ_TOK_COMMA &&
               (is_kw(p, 0, "BOTH") || is_kw(p, 0, "LEADING") || is_kw(p, 0, "TRAILING"));
    if (mode) {
        if (is_kw(p, 0, "LEADING"))
            name = "LTRIM";
        else if (is_kw(p, 0, "TRAILING"))
            name = "RTRIM";
        advance(p);
        if (!accept_kw(p, "FROM")) {
            if (!(chars = parse_expr(p)) || expect_kw(p, "FROM", "FROM in TRIM")) return NULL;
        }
        s = parse_expr(p);
    } else {
        s = parse_expr(p);
        if (s && accept_kw(p, "FROM")) {
            chars = s;
            s = parse_expr(p);
        } else if (s && accept(p, SQ_TOK_COMMA)) {
            return call_rest(p, name, pos, s);
        }
    }
    if (!s || expect(p, SQ_TOK_RPAREN, "')' after the arguments of TRIM")) return NULL;
    sq_expr *args[2] = {s, chars};
    return func(p, name, pos, args, chars ? 2 : 1);
}

/* Generic call arguments after '(' (consumed): [DISTINCT|ALL] (* | expr, ...) ')' [OVER]. */
static sq_expr *parse_call_args(sq_parser *p, const char *name, sq_pos pos)
{
    char what[96];
    snprintf(what, sizeof what, "')' after the arguments of %s", name);
    sq_expr *e = func(p, name, pos, NULL, 0);
    if (!e) return NULL;
    if (!accept(p, SQ_TOK_RPAREN)) {
        if (accept_kw(p, "DISTINCT"))
            e->distinct = 1;
        else
            accept_kw(p, "ALL");
        if (!e->distinct && cur(p)->kind == SQ_TOK_STAR && ahead(p, 1)->kind == SQ_TOK_RPAREN) {
            advance(p);
            advance(p);
            e->star_arg = 1;
        } else {
            int cap = 0;
            if (parse_expr_list(p, &e->args, &e->nargs, &cap, what)) return NULL;
        }
    }
    if (is_kw(p, 0, "OVER") && !(e->over = parse_over(p))) return NULL;
    return e;
}

/* CAST(x AS type) / TRY_CAST(...) after '(' (consumed). */
static sq_expr *parse_cast(sq_parser *p, sq_pos pos, int try_cast)
{
    sq_expr *x = parse_expr(p);
    if (!x || expect_kw(p, "AS", "AS and a type in CAST")) return NULL;
    const char *type = parse_type(p);
    if (!type || expect(p, SQ_TOK_RPAREN, "')' after the type in CAST")) return NULL;
    sq_expr *e = node(p, SQ_CAST, pos, &x, 1);
    if (!e) return NULL;
    e->type_name = type;
    e->try_cast = try_cast;
    return e;
}

/* NAME ( ... ): the special forms by name, else a generic call. The name token
 * is consumed, the current token is '('. */
static sq_expr *parse_call(sq_parser *p, const sq_token *name_tok)
{
    sq_pos pos = name_tok->pos;
    char *name = upper(tok_value(p, name_tok));
    if (!name || enter(p, pos)) return NULL;
    advance(p);
    char what[96];
    snprintf(what, sizeof what, "')' after the arguments of %s", name);
    int plain = name_tok->kind == SQ_TOK_IDENT;
    sq_expr *e, *args[3] = {NULL, NULL, NULL};
    int n = 0;
    if (plain && (!strcmp(name, "CAST") || !strcmp(name, "TRY_CAST"))) {
        e = parse_cast(p, pos, name[0] == 'T');
    } else if (plain && !strcmp(name, "TRIM")) {
        e = parse_trim(p, pos);
    } else if (plain && !strcmp(name, "EXTRACT")) {
        /* EXTRACT(unit FROM x) -> EXTRACT('UNIT', x) */
        if (!(args[0] = parse_unit(p, name)) || expect_kw(p, "FROM", "FROM in EXTRACT") ||
            !(args[1] = parse_expr(p)) || expect(p, SQ_TOK_RPAREN, what))
            return NULL;
        e = func(p, name, pos, args, 2);
    } else if (plain && (!strcmp(name, "TIMESTAMPDIFF") || !strcmp(name, "TIMESTAMPADD"))) {
        /* TIMESTAMPDIFF(unit, a, b) -> TIMESTAMPDIFF('UNIT', a, b) */
        if (!(args[0] = parse_unit(p, name)) || expect(p, SQ_TOK_COMMA, "',' after the unit"))
            return NULL;
        e = call_rest(p, name, pos, args[0]);
    } else if (plain && (!strcmp(name, "SUBSTRING") || !strcmp(name, "POSITION"))) {
        /* SUBSTRING(s FROM a [FOR b]), POSITION(a IN b); or the plain comma forms. */
        int sub = name[0] == 'S';
        if (!(args[n++] = sub ? parse_expr(p) : parse_binary(p, PREC_CMP + 1))) return NULL;
        if (accept_kw(p, sub ? "FROM" : "IN")) {
            if (!(args[n++] = parse_expr(p))) return NULL;
            if (sub && accept_kw(p, "FOR") && !(args[n++] = parse_expr(p))) return NULL;
            if (expect(p, SQ_TOK_RPAREN, what)) return NULL;
            e = func(p, name, pos, args, n);
        } else if (accept(p, SQ_TOK_COMMA)) {
            e = call_rest(p, name, pos, args[0]);
        } else {
            return expected_null(p, sub ? "FROM or ',' in SUBSTRING" : "IN in POSITION");
        }
    } else {
        e = parse_call_args(p, name, pos);
    }
    if (!e) return NULL;
    leave(p);
    return e;
}

/* CASE [operand] WHEN a THEN b ... [ELSE c] END */
static sq_expr *parse_case(sq_parser *p)
{
    const sq_token *t = advance(p);
    sq_expr *e = new_expr(p, SQ_CASE, t->pos);
    if (!e || enter(p, t->pos)) return NULL;
    if (!is_kw(p, 0, "WHEN") && !(e->operand = parse_expr(p))) return NULL;
    int cap = 0;
    while (accept_kw(p, "WHEN")) {
        sq_expr *w = parse_expr(p), *th = NULL;
        if (!w || expect_kw(p, "THEN", "THEN after the WHEN condition") || !(th = parse_expr(p)))
            return NULL;
        int wcap = cap;
        sq_expr **ws = grow(p, e->whens, e->nwhens, &wcap, sizeof *ws);
        sq_expr **ts = ws ? grow(p, e->thens, e->nwhens, &cap, sizeof *ts) : NULL;
        if (!ts) return NULL;
        ws[e->nwhens] = w;
        ts[e->nwhens++] = th;
        e->whens = ws;
        e->thens = ts;
    }
    if (!e->nwhens) return expected_null(p, "WHEN in CASE");
    if (accept_kw(p, "ELSE") && !(e->else_ = parse_expr(p))) return NULL;
    if (expect_kw(p, "END", "END to close the CASE")) return NULL;
    leave(p);
    return e;
}

/* Names for the current time, which take no parentheses. */
static const char *const clock_functions[] = {
    "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIMESTAMP", "LOCALTIME",
};

/* name, t.name, or the keyword forms that start with a word. */
static sq_expr *parse_word(sq_parser *p)
{
    const sq_token *t = cur(p), *next = ahead(p, 1);
    if (t->kind == SQ_TOK_IDENT) {
        if (is_kw(p, 0, "NULL") || is_kw(p, 0, "TRUE") || is_kw(p, 0, "FALSE")) {
            sq_expr *e = new_expr(p, is_kw(p, 0, "NULL") ? SQ_LIT_NULL : SQ_LIT_BOOL, t->pos);
            if (e) e->ival = is_kw(p, 0, "TRUE");
            advance(p);
            return e;
        }
        if (is_kw(p, 0, "CASE")) return parse_case(p);
        if (is_kw(p, 0, "INTERVAL") && (next->kind == SQ_TOK_STRING || next->kind == SQ_TOK_INT))
            return parse_interval(p);
        if ((is_kw(p, 0, "TIMESTAMP") || is_kw(p, 0, "DATE")) && next->kind == SQ_TOK_STRING) {
            sq_expr *e = new_expr(p, is_kw(p, 0, "DATE") ? SQ_LIT_DATE : SQ_LIT_TIMESTAMP, t->pos);
            advance(p);
            if (e && !(e->str = tok_value(p, advance(p)))) return NULL;
            return e;
        }
        if (next->kind != SQ_TOK_LPAREN)
            for (size_t k = 0; k < sizeof clock_functions / sizeof clock_functions[0]; k++)
                if (sq_token_is(p->text, t, clock_functions[k])) {
                    advance(p);
                    return func(p, clock_functions[k], t->pos, NULL, 0);
                }
        if (is_kw(p, 0, "SELECT"))
            return null_at(p, t->pos, "subqueries are not supported in expressions");
        int callable = next->kind == SQ_TOK_LPAREN && (is_kw(p, 0, "LEFT") || is_kw(p, 0, "RIGHT"));
        if (is_reserved(p, t) && !callable) return expected_null(p, "an expression");
    }
    advance(p);
    if (next->kind == SQ_TOK_LPAREN) return parse_call(p, t);
    sq_expr *e = new_expr(p, SQ_COLUMN, t->pos);
    if (!e) return NULL;
    if (cur(p)->kind == SQ_TOK_DOT) {
        const sq_token *col = ahead(p, 1);
        if (col->kind == SQ_TOK_STAR)
            return null_at(p, t->pos, "%s.* is only allowed in the select list", tok_value(p, t));
        if (col->kind != SQ_TOK_IDENT && col->kind != SQ_TOK_QIDENT) {
            advance(p);
            return expected_null(p, "a column name after '.'");
        }
        advance(p);
        advance(p);
        e->qual = tok_value(p, t);
        e->name = tok_value(p, col);
    } else {
        e->name = tok_value(p, t);
    }
    return e->name ? e : NULL;
}

static sq_expr *parse_primary(sq_parser *p)
{
    const sq_token *t = cur(p);
    switch (t->kind) {
    case SQ_TOK_INT:
    case SQ_TOK_NUMBER:
    case SQ_TOK_WORDNUM:
        return parse_number(p, 0, t->pos);
    case SQ_TOK_STRING: {
        sq_expr *e = new_expr(p, SQ_LIT_STRING, t->pos);
        if (e && !(e->str = tok_value(p, advance(p)))) return NULL;
        return e;
    }
    case SQ_TOK_LPAREN: {
        advance(p);
        if (is_kw(p, 0, "SELECT"))
            return null_at(p, cur(p)->pos, "subqueries are not supported in expressions");
        sq_expr *e;
        if (enter(p, t->pos) || !(e = parse_expr(p)) ||
            expect(p, SQ_TOK_RPAREN, "')' to close the parenthesis"))
            return NULL;
        leave(p);
        return e;
    }
    case SQ_TOK_IDENT:
    case SQ_TOK_QIDENT:
        return parse_word(p);
    default:
        return expected_null(p, "an expression");
    }
}

/* [- | +]... primary; a '-' right before a number makes a negative literal (so
 * -9223372036854775808 is a BIGINT). */
static sq_expr *parse_unary(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (t->kind != SQ_TOK_MINUS && t->kind != SQ_TOK_PLUS) return parse_primary(p);
    advance(p);
    sq_tok_kind k = cur(p)->kind;
    if (t->kind == SQ_TOK_MINUS && (k == SQ_TOK_INT || k == SQ_TOK_NUMBER))
        return parse_number(p, 1, t->pos);
    if (enter(p, t->pos)) return NULL;
    sq_expr *arg = parse_unary(p);
    if (!arg) return NULL;
    leave(p);
    return unary(p, t->kind == SQ_TOK_MINUS ? SQ_OP_NEG : SQ_OP_PLUS, t->pos, arg);
}

/* left IS [NOT] NULL|TRUE|FALSE|UNKNOWN, [NOT] IN (...), [NOT] BETWEEN a AND b,
 * [NOT] LIKE p [ESCAPE e]; the current token is IS, NOT, IN, BETWEEN or LIKE. */
static sq_expr *parse_predicate(sq_parser *p, sq_expr *left)
{
    sq_expr *e, *args[3] = {left, NULL, NULL};
    if (accept_kw(p, "IS")) {
        int neg = accept_kw(p, "NOT");
        if (is_kw(p, 0, "NULL") || is_kw(p, 0, "UNKNOWN")) {
            e = node(p, SQ_IS_NULL, left->pos, args, 1);
        } else if (is_kw(p, 0, "TRUE") || is_kw(p, 0, "FALSE")) {
            e = node(p, SQ_IS_BOOL, left->pos, args, 1);
            if (e) e->ival = is_kw(p, 0, "TRUE");
        } else if (is_kw(p, 0, "DISTINCT")) {
            return null_at(p, cur(p)->pos, "IS [NOT] DISTINCT FROM is not supported");
        } else {
            return expected_null(p, neg ? "NULL, TRUE or FALSE after IS NOT"
                                        : "NULL, TRUE or FALSE after IS");
        }
        advance(p);
        if (e) e->negated = neg;
        return e;
    }
    int neg = accept_kw(p, "NOT");
    if (accept_kw(p, "BETWEEN")) {
        if (!(args[1] = parse_binary(p, PREC_CMP + 1)) ||
            expect_kw(p, "AND", "AND between the bounds of BETWEEN") ||
            !(args[2] = parse_binary(p, PREC_CMP + 1)))
            return NULL;
        e = node(p, SQ_BETWEEN, left->pos, args, 3);
    } else if (accept_kw(p, "LIKE")) {
        int n = 2;
        if (!(args[1] = parse_binary(p, PREC_CMP + 1))) return NULL;
        if (accept_kw(p, "ESCAPE") && !(args[n++] = parse_binary(p, PREC_CMP + 1))) return NULL;
        e = node(p, SQ_LIKE, left->pos, args, n);
    } else {
        const sq_token *in = advance(p); /* IN */
        if (cur(p)->kind != SQ_TOK_LPAREN) return expected_null(p, "'(' and a list after IN");
        advance(p);
        if (is_kw(p, 0, "SELECT"))
            return null_at(p, cur(p)->pos, "IN (SELECT ...) subqueries are not supported");
        int n = 0, cap = 0;
        sq_expr **list = grow(p, NULL, 0, &cap, sizeof *list);
        if (!list || enter(p, in->pos)) return NULL;
        list[n++] = left;
        if (parse_expr_list(p, &list, &n, &cap, "')' after the IN list")) return NULL;
        leave(p);
        e = node(p, SQ_IN, left->pos, list, n);
    }
    if (e) e->negated = neg;
    return e;
}

/* The binary operator at the current token: its precedence (0: none) and op. */
static int binary_op(const sq_parser *p, sq_op *op)
{
    switch (cur(p)->kind) {
    case SQ_TOK_EQ:
        *op = SQ_OP_EQ;
        return PREC_CMP;
    case SQ_TOK_NE:
        *op = SQ_OP_NE;
        return PREC_CMP;
    case SQ_TOK_LT:
        *op = SQ_OP_LT;
        return PREC_CMP;
    case SQ_TOK_LE:
        *op = SQ_OP_LE;
        return PREC_CMP;
    case SQ_TOK_GT:
        *op = SQ_OP_GT;
        return PREC_CMP;
    case SQ_TOK_GE:
        *op = SQ_OP_GE;
        return PREC_CMP;
    case SQ_TOK_CONCAT:
        *op = SQ_OP_CONCAT;
        return PREC_CONCAT;
    case SQ_TOK_PLUS:
        *op = SQ_OP_ADD;
        return PREC_ADD;
    case SQ_TOK_MINUS:
        *op = SQ_OP_SUB;
        return PREC_ADD;
    case SQ_TOK_STAR:
        *op = SQ_OP_MUL;
        return PREC_MUL;
    case SQ_TOK_SLASH:
        *op = SQ_OP_DIV;
        return PREC_MUL;
    case SQ_TOK_PERCENT:
        *op = SQ_OP_MOD;
        return PREC_MUL;
    case SQ_TOK_IDENT:
        break;
    default:
        return 0;
    }
    *op = 0;
    if (is_kw(p, 0, "OR")) *op = SQ_OP_OR;
    if (is_kw(p, 0, "AND")) *op = SQ_OP_AND;
    if (*op) return *op == SQ_OP_OR ? PREC_OR : PREC_AND;
    int k = is_kw(p, 0, "NOT");
    if (is_kw(p, k, "IN") || is_kw(p, k, "BETWEEN") || is_kw(p, k, "LIKE") ||
        (!k && is_kw(p, 0, "IS")))
        return PREC_CMP; /* a predicate: *op stays 0 */
    return 0;
}

/* Precedence climbing over OR < AND < NOT < comparisons < || < + - < * / %:
 * parses operators binding at least as tightly as min. */
static sq_expr *parse_binary(sq_parser *p, int min)
{
    sq_expr *left;
    if (min <= PREC_NOT && is_kw(p, 0, "NOT")) {
        const sq_token *t = advance(p);
        if (enter(p, t->pos)) return NULL;
        sq_expr *arg = parse_binary(p, PREC_NOT);
        if (!arg) return NULL;
        leave(p);
        left = unary(p, SQ_OP_NOT, t->pos, arg);
    } else {
        left = parse_unary(p);
    }
    while (left) {
        sq_op op;
        int prec = binary_op(p, &op);
        if (!prec || prec < min) break;
        if (!op) {
            left = parse_predicate(p, left);
            continue;
        }
        advance(p);
        sq_expr *right = parse_binary(p, prec + 1);
        if (!right) return NULL;
        sq_expr *args[2] = {left, right};
        left = node(p, SQ_BINARY, left->pos, args, 2);
        if (left) left->op = op;
    }
    return left;
}

/* ----------------------------------------------------------------- queries */

/* [AS] alias of a select item, table, subquery or window function into *alias
 * (left alone when there is none). */
static int parse_alias(sq_parser *p, const char **alias)
{
    if (accept_kw(p, "AS")) return (*alias = parse_name(p, "an alias after AS", NULL)) ? 0 : -1;
    if (is_name(p, cur(p))) return (*alias = tok_value(p, advance(p))) ? 0 : -1;
    return 0;
}

/* The window table functions and their parameters in Flink's order; only the
 * last parameter may be left out, and only when it is OFFSET. */
static const struct {
    const char *name;
    const char *params[5];
    int nparams;
} window_tvfs[] = {
    {"TUMBLE", {"DATA", "TIMECOL", "SIZE", "OFFSET"}, 4},
    {"HOP", {"DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"}, 5},
    {"CUMULATE", {"DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"}, 5},
    {"SESSION", {"DATA", "TIMECOL", "GAP"}, 3},
};

/* One argument of a window function: TABLE name, DESCRIPTOR(col) or an expression. */
static sq_expr *parse_tvf_arg(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (is_kw(p, 0, "TABLE") && is_name(p, ahead(p, 1))) {
        sq_expr *e = new_expr(p, SQ_TABLE_ARG, t->pos);
        advance(p);
        if (e && !(e->name = tok_value(p, advance(p)))) return NULL;
        return e;
    }
    if (is_kw(p, 0, "DESCRIPTOR") && ahead(p, 1)->kind == SQ_TOK_LPAREN) {
        sq_expr *e = new_expr(p, SQ_DESCRIPTOR, t->pos);
        advance(p);
        advance(p);
        if (!e || !(e->name = parse_name(p, "a column name in DESCRIPTOR", NULL))) return NULL;
        if (cur(p)->kind == SQ_TOK_COMMA)
            return null_at(p, cur(p)->pos, "DESCRIPTOR takes exactly one column");
        return expect(p, SQ_TOK_RPAREN, "')' after the DESCRIPTOR column") ? NULL : e;
    }
    return parse_expr(p);
}

/* TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...)) with positional or named
 * (SIZE => ...) arguments, stored positionally. The current token is TABLE. */
static sq_expr *parse_tvf(sq_parser *p)
{
    const sq_token *table = advance(p);
    advance(p); /* ( */
    if (enter(p, table->pos)) return NULL;
    const sq_token *fn = cur(p);
    int def = -1, ndefs = (int)(sizeof window_tvfs / sizeof window_tvfs[0]);
    for (int k = 0; k < ndefs; k++)
        if (sq_token_is(p->text, fn, window_tvfs[k].name)) def = k;
    if (def < 0 || ahead(p, 1)->kind != SQ_TOK_LPAREN) {
        if (def >= 0) {
            advance(p);
            return expected_null(p, "'(' after the window function");
        }
        if (!is_name(p, fn)) return expected_null(p, "a window function in TABLE(...)");
        char buf[96];
        null_at(p, fn->pos, "unknown window function %s: expected TUMBLE, HOP, CUMULATE or SESSION",
                describe(p, fn, buf, sizeof buf));
        const char *names[] = {"TUMBLE", "HOP", "CUMULATE", "SESSION"};
        hint_closest(p, fn, names, 4);
        return NULL;
    }
    const char *name = window_tvfs[def].name;
    const char *const *params = window_tvfs[def].params;
    int nparams = window_tvfs[def].nparams;
    advance(p);
    advance(p);
    sq_expr *slots[5] = {NULL};
    int npos = 0, named = 0;
    if (cur(p)->kind != SQ_TOK_RPAREN) do {
            const sq_token *at = cur(p);
            int slot = -1;
            if ((at->kind == SQ_TOK_IDENT || at->kind == SQ_TOK_QIDENT) &&
                ahead(p, 1)->kind == SQ_TOK_ARROW) {
                for (int k = 0; k < nparams; k++)
                    if (word_eq(p->text + at->pos.off, at->len, params[k])) slot = k;
                if (slot < 0) {
                    char buf[96];
                    null_at(p, at->pos, "unknown argument %s of %s",
                            describe(p, at, buf, sizeof buf), name);
                    hint_closest(p, at, params, nparams);
                    return NULL;
                }
                advance(p);
                advance(p);
                named = 1;
            } else if (named) {
                return null_at(p, at->pos, "positional argument after named arguments in %s", name);
            } else if (npos >= nparams) {
                return null_at(p, at->pos, "too many arguments for %s (it takes %d)", name,
                               nparams);
            } else {
                slot = npos++;
            }
            sq_expr *arg = parse_tvf_arg(p);
            if (!arg) return NULL;
            if (slots[slot])
                return null_at(p, at->pos, "argument %s of %s is given twice", params[slot], name);
            slots[slot] = arg;
        } while (accept(p, SQ_TOK_COMMA));
    char what[96];
    snprintf(what, sizeof what, "')' after the arguments of %s", name);
    if (cur(p)->kind != SQ_TOK_RPAREN) return expected_null(p, what);
    int nargs = nparams;
    if (!slots[nparams - 1] && !strcmp(params[nparams - 1], "OFFSET")) nargs--;
    for (int k = 0; k < nargs; k++) {
        if (!slots[k]) return null_at(p, cur(p)->pos, "missing argument %s of %s", params[k], name);
        sq_expr_kind want = k == 0 ? SQ_TABLE_ARG : k == 1 ? SQ_DESCRIPTOR : 0;
        if (slots[k]->kind == want ||
            (!want && slots[k]->kind != SQ_TABLE_ARG && slots[k]->kind != SQ_DESCRIPTOR))
            continue;
        return null_at(p, slots[k]->pos, "the %s argument of %s must be %s", params[k], name,
                       k == 0   ? "TABLE name"
                       : k == 1 ? "DESCRIPTOR(time column)"
                                : "an expression");
    }
    advance(p);
    if (expect(p, SQ_TOK_RPAREN, "')' to close TABLE(...)")) return NULL;
    leave(p);
    return func(p, name, fn->pos, slots, nargs);
}

static sq_from *new_from(sq_parser *p, sq_from_kind kind, sq_pos pos)
{
    sq_from *f = alloc(p, sizeof *f);
    if (f) {
        f->kind = kind;
        f->pos = pos;
    }
    return f;
}

static sq_from *parse_from(sq_parser *p);

/* FOR SYSTEM_TIME AS OF expr (a temporal join's version time). */
static int parse_system_time(sq_parser *p, sq_from *f)
{
    if (!is_kw(p, 0, "FOR")) return 0;
    advance(p);
    if (expect_kw(p, "SYSTEM_TIME", "SYSTEM_TIME after FOR") ||
        expect_kw(p, "AS", "AS OF after FOR SYSTEM_TIME") ||
        expect_kw(p, "OF", "OF after FOR SYSTEM_TIME AS"))
        return -1;
    return (f->system_time = parse_expr(p)) ? 0 : -1;
}

/* 1 when the first token after the '(' at the current token (and any more
 * '(') is SELECT: a parenthesized query, not a parenthesized join or a column
 * list. Looks no deeper than the nesting limit. */
static int parens_then_select(const sq_parser *p)
{
    int j = 0;
    while (j <= SQ_MAX_DEPTH && ahead(p, j)->kind == SQ_TOK_LPAREN)
        j++;
    return is_kw(p, j, "SELECT");
}

/* A table, a (subquery), a window function TABLE(...), or a parenthesized join. */
static sq_from *parse_from_item(sq_parser *p)
{
    const sq_token *t = cur(p);
    sq_from *f;
    if (is_kw(p, 0, "TABLE") && ahead(p, 1)->kind == SQ_TOK_LPAREN) {
        if (!(f = new_from(p, SQ_FROM_TVF, t->pos)) || !(f->tvf = parse_tvf(p)) ||
            parse_alias(p, &f->alias))
            return NULL;
        return f;
    }
    if (t->kind == SQ_TOK_LPAREN) {
        int query = parens_then_select(p);
        advance(p);
        if (enter(p, t->pos)) return NULL;
        if (query) {
            if (!(f = new_from(p, SQ_FROM_SUBQUERY, t->pos)) || !(f->subquery = parse_query(p)) ||
                expect(p, SQ_TOK_RPAREN, "')' after the subquery") || parse_alias(p, &f->alias))
                return NULL;
        } else if (!(f = parse_from(p)) || expect(p, SQ_TOK_RPAREN, "')' after the joins")) {
            return NULL;
        }
        leave(p);
        return f;
    }
    if (!is_name(p, t)) return expected_null(p, "a table name");
    if (!(f = new_from(p, SQ_FROM_TABLE, t->pos)) || !(f->name = tok_value(p, advance(p))) ||
        parse_system_time(p, f) || parse_alias(p, &f->alias) ||
        (!f->system_time && parse_system_time(p, f)))
        return NULL;
    return f;
}

/* The join at the current token: its kind, with the tokens before the joined
 * table consumed; 0 (nothing consumed) when there is none. */
static int parse_join_kind(sq_parser *p)
{
    static const struct {
        const char *kw;
        sq_join_kind kind;
    } joins[] = {{"INNER", SQ_JOIN_INNER}, {"LEFT", SQ_JOIN_LEFT},   {"RIGHT", SQ_JOIN_RIGHT},
                 {"FULL", SQ_JOIN_FULL},   {"CROSS", SQ_JOIN_CROSS}, {"JOIN", SQ_JOIN_INNER}};
    for (size_t k = 0; k < sizeof joins / sizeof joins[0]; k++) {
        if (!is_kw(p, 0, joins[k].kw)) continue;
        advance(p);
        if (joins[k].kind != SQ_JOIN_INNER && joins[k].kind != SQ_JOIN_CROSS) accept_kw(p, "OUTER");
        if (strcmp(joins[k].kw, "JOIN") && expect_kw(p, "JOIN", "JOIN")) return -1;
        return joins[k].kind;
    }
    return 0;
}

/* from_item { , from_item | [kind] JOIN from_item [ON expr] }, left-deep. */
static sq_from *parse_from(sq_parser *p)
{
    sq_from *left = parse_from_item(p);
    while (left) {
        sq_join_kind kind = SQ_JOIN_INNER;
        int comma = accept(p, SQ_TOK_COMMA);
        if (!comma) {
            int k = parse_join_kind(p);
            if (k < 0) return NULL;
            if (!k) break;
            kind = (sq_join_kind)k;
        }
        sq_from *j = new_from(p, SQ_FROM_JOIN, left->pos);
        if (!j || !(j->right = parse_from_item(p))) return NULL;
        j->join = kind;
        j->left = left;
        if (!comma && kind != SQ_JOIN_CROSS) {
            if (is_kw(p, 0, "USING"))
                return null_at(p, cur(p)->pos,
                               "JOIN ... USING is not supported: write ON a.x = b.x");
            if (expect_kw(p, "ON", "ON and a join condition after the joined table") ||
                !(j->on = parse_expr(p)))
                return NULL;
        }
        left = j;
    }
    return left;
}

static sq_select *parse_select(sq_parser *p)
{
    const sq_token *t = advance(p);
    sq_select *s = alloc(p, sizeof *s);
    if (!s) return NULL;
    s->pos = t->pos;
    s->limit = -1;
    if (accept_kw(p, "DISTINCT"))
        s->distinct = 1;
    else
        accept_kw(p, "ALL");
    int cap = 0;
    do {
        sq_select_item *items = grow(p, s->items, s->nitems, &cap, sizeof *items);
        if (!items) return NULL;
        s->items = items;
        sq_select_item *it = &items[s->nitems++];
        const sq_token *at = cur(p);
        it->pos = at->pos;
        if (at->kind == SQ_TOK_STAR ||
            ((at->kind == SQ_TOK_IDENT || at->kind == SQ_TOK_QIDENT) &&
             ahead(p, 1)->kind == SQ_TOK_DOT && ahead(p, 2)->kind == SQ_TOK_STAR)) {
            if (!(it->expr = new_expr(p, SQ_STAR, at->pos))) return NULL;
            if (at->kind != SQ_TOK_STAR) {
                if (!(it->expr->qual = tok_value(p, advance(p)))) return NULL;
                advance(p);
            }
            advance(p);
        } else if (!(it->expr = parse_expr(p)) || parse_alias(p, &it->alias)) {
            return NULL;
        }
    } while (accept(p, SQ_TOK_COMMA));
    if (accept_kw(p, "FROM") && !(s->from = parse_from(p))) return NULL;
    if (accept_kw(p, "WHERE") && !(s->where = parse_expr(p))) return NULL;
    if (accept_kw(p, "GROUP")) {
        if (expect_kw(p, "BY", "BY after GROUP")) return NULL;
        cap = 0;
        do {
            sq_expr *e = parse_expr(p);
            sq_expr **g = e ? grow(p, s->group_by, s->ngroup, &cap, sizeof *g) : NULL;
            if (!g) return NULL;
            s->group_by = g;
            g[s->ngroup++] = e;
        } while (accept(p, SQ_TOK_COMMA));
    }
    if (accept_kw(p, "HAVING") && !(s->having = parse_expr(p))) return NULL;
    return s;
}

/* SELECT ... or ( query ). */
static sq_select *parse_query_term(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (t->kind == SQ_TOK_LPAREN) {
        advance(p);
        sq_select *q;
        if (enter(p, t->pos) || !(q = parse_query(p)) ||
            expect(p, SQ_TOK_RPAREN, "')' to close the query"))
            return NULL;
        leave(p);
        return q;
    }
    if (is_kw(p, 0, "SELECT")) return parse_select(p);
    expected(p, "SELECT");
    static const char *const select[] = {"SELECT"};
    hint_closest(p, t, select, 1);
    return NULL;
}

/* SELECT * FROM (inner): gives a UNION ALL chain, or a query that already has
 * its own ORDER BY / LIMIT, an ORDER BY / LIMIT of its own. */
static sq_select *wrap_query(sq_parser *p, sq_select *inner)
{
    sq_select *s = alloc(p, sizeof *s);
    sq_select_item *item = alloc(p, sizeof *item);
    sq_from *f = new_from(p, SQ_FROM_SUBQUERY, inner->pos);
    sq_expr *star = new_expr(p, SQ_STAR, inner->pos);
    if (!s || !item || !f || !star) return NULL;
    item->expr = star;
    item->pos = inner->pos;
    f->subquery = inner;
    s->pos = inner->pos;
    s->items = item;
    s->nitems = 1;
    s->from = f;
    s->limit = -1;
    return s;
}

/* term { UNION ALL term } [ORDER BY ...] [LIMIT n]. An ORDER BY or LIMIT after a
 * UNION ALL chain applies to the whole chain, which is then wrapped as
 * SELECT * FROM (chain) ORDER BY ... (sq_select has no other place for it). */
static sq_select *parse_query(sq_parser *p)
{
    sq_select *head = parse_query_term(p), *tail = head;
    while (tail && tail->union_all)
        tail = tail->union_all;
    while (head && is_kw(p, 0, "UNION")) {
        const sq_token *u = advance(p);
        if (!accept_kw(p, "ALL"))
            return null_at(p, u->pos,
                           "only UNION ALL is supported (UNION would remove duplicates)");
        if (!(tail->union_all = parse_query_term(p))) return NULL;
        while (tail->union_all)
            tail = tail->union_all;
    }
    if (!head) return NULL;
    if (is_kw(p, 0, "INTERSECT") || is_kw(p, 0, "EXCEPT") || is_kw(p, 0, "MINUS"))
        return null_at(p, cur(p)->pos, "%s is not supported: only UNION ALL combines queries",
                       upper(tok_value(p, cur(p))));
    int order = is_kw(p, 0, "ORDER");
    if (!order && !is_kw(p, 0, "LIMIT")) return head;
    if (head->union_all || (order && head->norder) || head->limit >= 0) head = wrap_query(p, head);
    if (!head) return NULL;
    if (order) {
        advance(p);
        if (expect_kw(p, "BY", "BY after ORDER") ||
            parse_order_items(p, &head->order, &head->norder))
            return NULL;
    }
    if (accept_kw(p, "LIMIT")) {
        const sq_token *n = cur(p);
        if (n->kind != SQ_TOK_INT) return expected_null(p, "a row count after LIMIT");
        advance(p);
        if (parse_int(p, n, 0, n->pos, &head->limit)) return NULL;
    }
    return head;
}

/* -------------------------------------------------------------- statements */

/* A type name, upper-cased, parameters dropped: VARCHAR(10) -> VARCHAR,
 * TIMESTAMP(3) WITH LOCAL TIME ZONE -> TIMESTAMP_LTZ, DOUBLE PRECISION -> DOUBLE. */
static const char *parse_type(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (!is_name(p, t)) return expected_null(p, "a type name");
    char *name = upper(tok_value(p, advance(p)));
    if (!name) return NULL;
    if (!strcmp(name, "DOUBLE")) accept_kw(p, "PRECISION");
    if (accept(p, SQ_TOK_LPAREN)) {
        do {
            if (!accept(p, SQ_TOK_INT)) return expected_null(p, "a number in the type parameters");
        } while (accept(p, SQ_TOK_COMMA));
        if (expect(p, SQ_TOK_RPAREN, "')' after the type parameters")) return NULL;
    }
    int timestamp = !strcmp(name, "TIMESTAMP");
    if (!timestamp && strcmp(name, "TIME")) return name;
    if (is_kw(p, 0, "WITHOUT") && is_kw(p, 1, "TIME") && is_kw(p, 2, "ZONE")) {
        advance(p);
        advance(p);
        advance(p);
    } else if (is_kw(p, 0, "WITH") && (is_kw(p, 1, "LOCAL") || is_kw(p, 1, "TIME"))) {
        const sq_token *w = advance(p);
        int local = accept_kw(p, "LOCAL");
        if (expect_kw(p, "TIME", "TIME ZONE") || expect_kw(p, "ZONE", "ZONE after TIME"))
            return NULL;
        if (!timestamp) return null_at(p, w->pos, "TIME WITH TIME ZONE is not supported");
        if (!local)
            return null_at(p, w->pos,
                           "TIMESTAMP WITH TIME ZONE is not supported: use TIMESTAMP WITH "
                           "LOCAL TIME ZONE (TIMESTAMP_LTZ)");
        return "TIMESTAMP_LTZ";
    }
    return name;
}

/* [NOT ENFORCED] after PRIMARY KEY: spate, like Flink, does not check keys. */
static int parse_not_enforced(sq_parser *p)
{
    if (is_kw(p, 0, "NOT") && is_kw(p, 1, "ENFORCED")) {
        advance(p);
        advance(p);
    } else if (is_kw(p, 0, "ENFORCED")) {
        return err_at(p, cur(p)->pos,
                      "ENFORCED primary keys are not supported: write PRIMARY KEY (...) NOT "
                      "ENFORCED");
    }
    return 0;
}

/* [CONSTRAINT name] PRIMARY KEY (a, b) [NOT ENFORCED] in a column list. */
static int parse_primary_key(sq_parser *p, sq_stmt *st)
{
    const sq_token *t = cur(p);
    if (accept_kw(p, "CONSTRAINT") && !parse_name(p, "a constraint name", NULL)) return -1;
    if (expect_kw(p, "PRIMARY", "PRIMARY KEY after CONSTRAINT name") ||
        expect_kw(p, "KEY", "KEY after PRIMARY"))
        return -1;
    if (st->nprimary_key) return err_at(p, t->pos, "a second PRIMARY KEY");
    if (expect(p, SQ_TOK_LPAREN, "'(' and the key columns after PRIMARY KEY")) return -1;
    int cap = 0;
    do {
        const char *name = parse_name(p, "a column name in PRIMARY KEY", NULL);
        const char **a = name ? grow(p, st->primary_key, st->nprimary_key, &cap, sizeof *a) : NULL;
        if (!a) return -1;
        st->primary_key = a;
        a[st->nprimary_key++] = name;
    } while (accept(p, SQ_TOK_COMMA));
    if (expect(p, SQ_TOK_RPAREN, "')' after the key columns")) return -1;
    return parse_not_enforced(p);
}

/* name TYPE [NOT NULL | NULL | PRIMARY KEY [NOT ENFORCED] | COMMENT 'x']..., or
 * name AS expr (a computed column). */
static int parse_column_def(sq_parser *p, sq_stmt *st, int *cap)
{
    sq_column_def *cols = grow(p, st->columns, st->ncolumns, cap, sizeof *cols);
    if (!cols) return -1;
    st->columns = cols;
    sq_column_def *c = &cols[st->ncolumns++];
    if (!(c->name = parse_name(p, "a column name", &c->pos))) return -1;
    if (accept_kw(p, "AS")) return (c->computed = parse_expr(p)) ? 0 : -1;
    if (!(c->type_name = parse_type(p))) return -1;
    for (;;) {
        if (is_kw(p, 0, "NOT") && is_kw(p, 1, "NULL")) {
            advance(p);
            advance(p);
            c->not_null = 1;
        } else if (is_kw(p, 0, "PRIMARY") && is_kw(p, 1, "KEY")) {
            const sq_token *t = advance(p);
            advance(p);
            if (st->nprimary_key) return err_at(p, t->pos, "a second PRIMARY KEY");
            const char **key = alloc(p, sizeof *key);
            if (!key) return -1;
            key[0] = c->name;
            st->primary_key = key;
            st->nprimary_key = 1;
            if (parse_not_enforced(p)) return -1;
        } else if (accept_kw(p, "COMMENT")) {
            if (!accept(p, SQ_TOK_STRING)) return expected(p, "a string after COMMENT");
        } else if (!accept_kw(p, "NULL")) {
            return 0;
        }
    }
}

/* ( column definitions, WATERMARK FOR col AS expr, PRIMARY KEY (...) ) */
static int parse_columns(sq_parser *p, sq_stmt *st)
{
    advance(p);
    int cap = 0;
    do {
        const sq_token *t = cur(p);
        if (is_kw(p, 0, "WATERMARK") && is_kw(p, 1, "FOR")) {
            if (st->wm_column) return err_at(p, t->pos, "a second WATERMARK");
            advance(p);
            advance(p);
            if (!(st->wm_column =
                      parse_name(p, "a column name after WATERMARK FOR", &st->wm_pos)) ||
                expect_kw(p, "AS", "AS and the watermark expression") ||
                !(st->wm_expr = parse_expr(p)))
                return -1;
        } else if (is_kw(p, 0, "CONSTRAINT") || (is_kw(p, 0, "PRIMARY") && is_kw(p, 1, "KEY"))) {
            if (parse_primary_key(p, st)) return -1;
        } else if (parse_column_def(p, st, &cap)) {
            return -1;
        }
    } while (accept(p, SQ_TOK_COMMA));
    return expect(p, SQ_TOK_RPAREN, "')' after the column list");
}

/* An option or SET key: a.b.c, 'a.b-c', `a`. */
static char *parse_key(sq_parser *p, const char *what)
{
    const sq_token *t = cur(p);
    if (t->kind == SQ_TOK_STRING || t->kind == SQ_TOK_QIDENT) return tok_value(p, advance(p));
    if (t->kind == SQ_TOK_IDENT) return parse_glued(p, t->pos.off);
    return expected_null(p, what);
}

/* An option value: 'text', a number, TRUE/FALSE, a name; kept as text. */
static char *parse_option_value(sq_parser *p)
{
    const sq_token *t = cur(p), *next = ahead(p, 1);
    if (t->kind == SQ_TOK_STRING || t->kind == SQ_TOK_QIDENT) return tok_value(p, advance(p));
    if (is_kw(p, 0, "TRUE") || is_kw(p, 0, "FALSE")) return lower(tok_value(p, advance(p)));
    if (t->kind == SQ_TOK_IDENT || t->kind == SQ_TOK_INT || t->kind == SQ_TOK_NUMBER ||
        t->kind == SQ_TOK_WORDNUM)
        return parse_glued(p, t->pos.off);
    if ((t->kind == SQ_TOK_MINUS || t->kind == SQ_TOK_PLUS) &&
        (next->kind == SQ_TOK_INT || next->kind == SQ_TOK_NUMBER) &&
        next->pos.off == t->pos.off + 1) {
        advance(p);
        return parse_glued(p, t->pos.off);
    }
    return expected_null(p, "an option value (a string, number, TRUE/FALSE or a name)");
}

/* WITH ( key = value, ... ) */
static int parse_options(sq_parser *p, sq_stmt *st)
{
    advance(p);
    if (expect(p, SQ_TOK_LPAREN, "'(' after WITH")) return -1;
    if (accept(p, SQ_TOK_RPAREN)) return 0;
    int cap = 0;
    do {
        sq_option *o = grow(p, st->options, st->noptions, &cap, sizeof *o);
        if (!o) return -1;
        st->options = o;
        o = &o[st->noptions++];
        o->pos = cur(p)->pos;
        if (!(o->key = parse_key(p, "an option key")) ||
            expect(p, SQ_TOK_EQ, "'=' after the option key"))
            return -1;
        o->value_pos = cur(p)->pos;
        if (!(o->value = parse_option_value(p))) return -1;
    } while (accept(p, SQ_TOK_COMMA));
    return expect(p, SQ_TOK_RPAREN, "')' after the options");
}

static int at_statement_end(const sq_parser *p)
{
    return cur(p)->kind == SQ_TOK_SEMI || at_end(cur(p));
}

/* The value of SET key = value: a string's text, or the tokens up to the end
 * of the statement as written, separated by one blank where there were blanks
 * (SET a = 10 s -> "10 s"). */
static char *parse_set_value(sq_parser *p)
{
    const sq_token *t = cur(p);
    if (at_statement_end(p)) return expected_null(p, "a value after '='");
    if (t->kind == SQ_TOK_STRING || t->kind == SQ_TOK_QIDENT) return tok_value(p, advance(p));
    size_t n = 0;
    for (int j = p->i; j < p->ntoks && p->toks[j].kind != SQ_TOK_SEMI && !at_end(&p->toks[j]); j++)
        n += p->toks[j].len +
             (j > p->i && p->toks[j].pos.off != p->toks[j - 1].pos.off + p->toks[j - 1].len);
    char *v = alloc(p, n + 1), *w = v;
    if (!v) return NULL;
    const sq_token *prev = NULL;
    while (!at_statement_end(p)) {
        const sq_token *k = advance(p);
        if (prev && k->pos.off != prev->pos.off + prev->len) *w++ = ' ';
        memcpy(w, p->text + k->pos.off, k->len);
        w += k->len;
        prev = k;
    }
    int boolean = sq_token_is(p->text, t, "TRUE") || sq_token_is(p->text, t, "FALSE");
    return prev == t && boolean ? lower(v) : v;
}

static int parse_set(sq_parser *p, sq_stmt *st)
{
    advance(p);
    if (at_statement_end(p)) return 0;
    if (is_kw(p, 0, "TIME") && is_kw(p, 1, "ZONE")) {
        advance(p);
        advance(p);
        const sq_token *t = cur(p);
        if (t->kind != SQ_TOK_STRING && t->kind != SQ_TOK_IDENT)
            return expected(p, "a time zone name after SET TIME ZONE");
        st->key = "table.local-time-zone";
        return (st->value = tok_value(p, advance(p))) ? 0 : -1;
    }
    if (!(st->key = parse_key(p, "an option key after SET")) ||
        expect(p, SQ_TOK_EQ, "'=' after the key"))
        return -1;
    return (st->value = parse_set_value(p)) ? 0 : -1;
}

static const char *const object_kinds[] = {"SOURCE", "TABLE", "SINK", "VIEW"};

/* SOURCE | TABLE | SINK | VIEW after CREATE or DROP: its index. */
static int parse_object_kind(sq_parser *p, const char *what)
{
    for (int k = 0; k < 4; k++)
        if (accept_kw(p, object_kinds[k])) return k;
    const sq_token *t = cur(p);
    expected(p, what);
    hint_closest(p, t, object_kinds, 4);
    return -1;
}

static int parse_create(sq_parser *p, sq_stmt *st)
{
    static const sq_stmt_kind kinds[] = {SQ_CREATE_SOURCE, SQ_CREATE_TABLE, SQ_CREATE_SINK,
                                         SQ_CREATE_VIEW};
    static const char *const objects[] = {"source", "table", "sink", "view"};
    advance(p);
    if (!accept_kw(p, "TEMPORARY")) accept_kw(p, "TEMP");
    int k = parse_object_kind(p, "SOURCE, TABLE, SINK or VIEW after CREATE");
    if (k < 0) return -1;
    st->kind = kinds[k];
    if (is_kw(p, 0, "IF") && is_kw(p, 1, "NOT") && is_kw(p, 2, "EXISTS")) {
        advance(p);
        advance(p);
        advance(p);
        st->if_not_exists = 1;
    }
    char what[96];
    snprintf(what, sizeof what, "a %s name", objects[k]);
    if (!(st->name = parse_name(p, what, &st->name_pos))) return -1;
    if (st->kind == SQ_CREATE_VIEW) {
        if (expect_kw(p, "AS", "AS and a query after the view name")) return -1;
        return (st->query = parse_query(p)) ? 0 : -1;
    }
    if (cur(p)->kind == SQ_TOK_LPAREN) {
        if (parse_columns(p, st)) return -1;
    } else if (st->kind == SQ_CREATE_TABLE) {
        /* sinks, and sources of connectors with a fixed schema (generator), may
         * leave the columns out; the session checks which connectors allow it */
        snprintf(what, sizeof what, "'(' and the columns of %s '%.40s'", objects[k], st->name);
        return expected(p, what);
    }
    if (!is_kw(p, 0, "WITH"))
        return err_at(p, cur_pos(p), "missing WITH (...) options for %s '%.40s'", objects[k],
                      st->name);
    return parse_options(p, st);
}

static int parse_insert(sq_parser *p, sq_stmt *st)
{
    advance(p);
    if (expect_kw(p, "INTO", "INTO after INSERT") ||
        !(st->name = parse_name(p, "a sink name after INSERT INTO", &st->name_pos)))
        return -1;
    if (cur(p)->kind == SQ_TOK_LPAREN && !parens_then_select(p))
        return err_at(p, cur(p)->pos,
                      "INSERT INTO %.40s (columns) is not supported: the "
                      "query's columns fill the sink's in order",
                      st->name);
    return (st->query = parse_query(p)) ? 0 : -1;
}

static int parse_drop(sq_parser *p, sq_stmt *st)
{
    advance(p);
    if (!accept_kw(p, "TEMPORARY")) accept_kw(p, "TEMP");
    int k = parse_object_kind(p, "SOURCE, TABLE, SINK or VIEW after DROP");
    if (k < 0) return -1;
    st->what = object_kinds[k];
    if (is_kw(p, 0, "IF") && is_kw(p, 1, "EXISTS")) {
        advance(p);
        advance(p);
        st->if_exists = 1;
    }
    char what[64];
    snprintf(what, sizeof what, "a name after DROP %s", object_kinds[k]);
    return (st->name = parse_name(p, what, &st->name_pos)) ? 0 : -1;
}

static int parse_show(sq_parser *p, sq_stmt *st)
{
    static const char *const lists[] = {"SOURCES", "TABLES", "SINKS", "VIEWS", "FUNCTIONS"};
    advance(p);
    for (int k = 0; k < 5; k++)
        if (accept_kw(p, lists[k])) {
            st->what = lists[k];
            return 0;
        }
    const sq_token *t = cur(p);
    expected(p, "SOURCES, TABLES, SINKS, VIEWS or FUNCTIONS after SHOW");
    hint_closest(p, t, lists, 5);
    return -1;
}

static sq_stmt *parse_statement(sq_parser *p);

static int parse_explain(sq_parser *p, sq_stmt *st)
{
    advance(p);
    if (is_kw(p, 0, "PLAN") && is_kw(p, 1, "FOR")) {
        advance(p);
        advance(p);
    }
    if (!is_kw(p, 0, "SELECT") && !is_kw(p, 0, "INSERT") && cur(p)->kind != SQ_TOK_LPAREN)
        return expected(p, "a query or an INSERT after EXPLAIN");
    return (st->inner = parse_statement(p)) ? 0 : -1;
}

static const char *const statement_words[] = {
    "CREATE", "INSERT", "SELECT", "SET", "RESET", "EXPLAIN", "SHOW", "DESCRIBE", "DESC", "DROP",
};

static sq_stmt *parse_statement(sq_parser *p)
{
    const sq_token *t = cur(p);
    sq_stmt *st = alloc(p, sizeof *st);
    if (!st) return NULL;
    st->pos = t->pos;
    int rc = 0;
    if (is_kw(p, 0, "SELECT") || t->kind == SQ_TOK_LPAREN) {
        st->kind = SQ_SELECT;
        rc = (st->query = parse_query(p)) ? 0 : -1;
    } else if (is_kw(p, 0, "CREATE")) {
        rc = parse_create(p, st);
    } else if (is_kw(p, 0, "INSERT")) {
        st->kind = SQ_INSERT;
        rc = parse_insert(p, st);
    } else if (is_kw(p, 0, "SET")) {
        st->kind = SQ_SET;
        rc = parse_set(p, st);
    } else if (is_kw(p, 0, "RESET")) {
        st->kind = SQ_RESET;
        advance(p);
        if (is_kw(p, 0, "ALL") && (ahead(p, 1)->kind == SQ_TOK_SEMI || at_end(ahead(p, 1))))
            advance(p); /* RESET ALL: every option, like RESET */
        else if (!at_statement_end(p))
            rc = (st->key = parse_key(p, "an option key after RESET")) ? 0 : -1;
    } else if (is_kw(p, 0, "EXPLAIN")) {
        st->kind = SQ_EXPLAIN;
        rc = parse_explain(p, st);
    } else if (is_kw(p, 0, "SHOW")) {
        st->kind = SQ_SHOW;
        rc = parse_show(p, st);
    } else if (is_kw(p, 0, "DESCRIBE") || is_kw(p, 0, "DESC")) {
        st->kind = SQ_DESCRIBE;
        advance(p);
        rc = (st->name = parse_name(p, "a name after DESCRIBE", &st->name_pos)) ? 0 : -1;
    } else if (is_kw(p, 0, "DROP")) {
        st->kind = SQ_DROP;
        rc = parse_drop(p, st);
    } else if (is_kw(p, 0, "WITH")) {
        rc = err_at(p, t->pos, "WITH queries (common table expressions) are not supported");
    } else if (t->kind == SQ_TOK_IDENT) {
        char buf[96];
        rc = err_at(p, t->pos,
                    "unknown statement %s: expected CREATE, INSERT, SELECT, SET, RESET, EXPLAIN, "
                    "SHOW, DESCRIBE, DROP",
                    describe(p, t, buf, sizeof buf));
        hint_closest(p, t, statement_words,
                     (int)(sizeof statement_words / sizeof statement_words[0]));
    } else {
        rc = expected(p, "a statement (CREATE, INSERT, SELECT, SET ...)");
    }
    if (rc) return NULL;
    st->end = p->last_end;
    return st;
}

/* ------------------------------------------------------------ entry points */

static int parse_script(sq_parser *p, sq_script *s)
{
    int cap = 0;
    for (;;) {
        while (accept(p, SQ_TOK_SEMI))
            continue;
        if (cur(p)->kind == SQ_TOK_EOF) return 0;
        sq_stmt *st = parse_statement(p);
        sq_stmt **a = st ? grow(p, s->stmts, s->nstmts, &cap, sizeof *a) : NULL;
        if (!a) return -1;
        s->stmts = a;
        a[s->nstmts++] = st;
        if (!accept(p, SQ_TOK_SEMI) && cur(p)->kind != SQ_TOK_EOF)
            return expected(p, "';' or end of input after the statement");
    }
}

/* Sets up p and *out for text; lexes it. 0, or an error code with err filled. */
static int begin(sq_parser *p, const char *text, size_t len, sq_script **out, sq_error *err)
{
    memset(p, 0, sizeof *p);
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (!text && len) {
        snprintf(err->msg, sizeof err->msg, "no script text");
        return SPATE_EINVAL;
    }
    if (len > SQ_MAX_TEXT) {
        snprintf(err->msg, sizeof err->msg, "script too large (more than %d bytes)", SQ_MAX_TEXT);
        return SPATE_EPARSE;
    }
    sq_script_box *box = calloc(1, sizeof *box);
    if (!box) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return SPATE_ENOMEM;
    }
    sq_script *s = &box->script;
    s->arena = &box->arena;
    *out = s;
    p->arena = s->arena;
    p->err = err;
    char *copy = alloc(p, len + 1);
    if (!copy) return p->rc;
    if (len) memcpy(copy, text, len);
    s->text = p->text = copy;
    s->len = p->len = len;
    sq_lexer lx;
    sq_lexer_init(&lx, copy, len);
    int cap = 0;
    for (;;) {
        if (p->ntoks == cap) {
            int ncap = cap ? cap * 2 : 64;
            sq_token *t = realloc(p->toks, (size_t)ncap * sizeof *t);
            if (!t) {
                oom(p);
                return p->rc;
            }
            p->toks = t;
            cap = ncap;
        }
        sq_token *t = &p->toks[p->ntoks++];
        if (sq_lex_next(&lx, t, &p->lex_err) || t->kind == SQ_TOK_EOF) break;
    }
    return 0;
}

/* Frees what begin() made when parsing failed; returns the error code. */
static int finish(sq_parser *p, sq_script **out, int rc)
{
    free(p->toks);
    if (rc) {
        sq_script_free(*out);
        *out = NULL;
    }
    return rc;
}

int sq_parse(const char *text, size_t len, sq_script **out, sq_error *err)
{
    sq_parser p;
    sq_error scratch;
    if (!err) err = &scratch;
    int rc = begin(&p, text, len, out, err);
    if (!rc && parse_script(&p, *out)) rc = p.rc;
    return finish(&p, out, rc);
}

int sq_parse_expr(const char *text, size_t len, sq_script **holder, sq_expr **out, sq_error *err)
{
    sq_parser p;
    sq_error scratch;
    if (!err) err = &scratch;
    *out = NULL;
    int rc = begin(&p, text, len, holder, err);
    if (!rc) {
        sq_expr *e = parse_expr(&p);
        if (e) accept(&p, SQ_TOK_SEMI);
        if (!e || (cur(&p)->kind != SQ_TOK_EOF && expected(&p, "end of the expression") < 0))
            rc = p.rc;
        else
            *out = e;
    }
    return finish(&p, holder, rc);
}

void sq_script_free(sq_script *s)
{
    if (!s) return;
    sq_script_box *box = (sq_script_box *)s;
    sp_arena_free(&box->arena);
    free(box);
}
