/*
 * lexer.c - cuts SQL text into tokens (see lexer.h).
 *
 * One pass with at most two bytes of lookahead, every read checked against len.
 * The line and the start of the line are tracked as the lexer moves (newlines
 * inside strings and comments included), so a token's sq_pos costs nothing.
 * Character classes are plain ASCII tests, not <ctype.h>, so the result does not
 * depend on the locale; bytes >= 0x80 may appear in names, so UTF-8 names work.
 */
#include "sql/lexer.h"

#include <string.h>

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || is_digit(c) || c == '$';
}

static unsigned char peek(const sq_lexer *lx, size_t k)
{
    return lx->off + k < lx->len ? (unsigned char)lx->text[lx->off + k] : 0;
}

/* Consumes one byte, following newlines. */
static void bump(sq_lexer *lx)
{
    if (lx->text[lx->off] == '\n') {
        lx->line++;
        lx->line_start = lx->off + 1;
    }
    lx->off++;
}

static sq_pos here(const sq_lexer *lx)
{
    sq_pos p = {(uint32_t)lx->off, lx->line, (uint32_t)(lx->off - lx->line_start + 1)};
    return p;
}

void sq_lexer_init(sq_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->off = 0;
    lx->line = 1;
    lx->line_start = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) lx->off = 3;
}

static int skip_blanks(sq_lexer *lx, sq_error *err)
{
    while (lx->off < lx->len) {
        unsigned char c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            bump(lx);
        } else if (c == '-' && peek(lx, 1) == '-') {
            while (lx->off < lx->len && lx->text[lx->off] != '\n')
                lx->off++;
        } else if (c == '/' && peek(lx, 1) == '*') {
            sq_pos start = here(lx);
            bump(lx);
            bump(lx);
            for (;;) {
                if (lx->off >= lx->len)
                    return sq_fail(err, start, SPATE_EPARSE, "unterminated block comment");
                if (peek(lx, 0) == '*' && peek(lx, 1) == '/') {
                    bump(lx);
                    bump(lx);
                    break;
                }
                bump(lx);
            }
        } else {
            break;
        }
    }
    return 0;
}

/* At an opening quote q: consumes through the closing quote (a doubled quote
 * stands for itself). -1 when the text ends first. */
static int scan_quoted(sq_lexer *lx, char q)
{
    bump(lx);
    while (lx->off < lx->len) {
        char c = lx->text[lx->off];
        bump(lx);
        if (c != q) continue;
        if (peek(lx, 0) != (unsigned char)q) return 0;
        bump(lx);
    }
    return -1;
}

/* At a digit, or a '.' followed by one. (peek gives 0 past the end, which is
 * neither a digit nor a name character, so the loops stop there.) */
static sq_tok_kind scan_number(sq_lexer *lx)
{
    sq_tok_kind kind = SQ_TOK_INT;
    while (is_digit(peek(lx, 0)))
        lx->off++;
    if (peek(lx, 0) == '.') {
        kind = SQ_TOK_NUMBER;
        lx->off++;
        while (is_digit(peek(lx, 0)))
            lx->off++;
    }
    unsigned char e = peek(lx, 0);
    if (e == 'e' || e == 'E') {
        size_t k = (peek(lx, 1) == '+' || peek(lx, 1) == '-') ? 2 : 1;
        if (is_digit(peek(lx, k))) {
            kind = SQ_TOK_NUMBER;
            lx->off += k;
            while (is_digit(peek(lx, 0)))
                lx->off++;
        }
    }
    if (is_ident_char(peek(lx, 0))) {
        kind = SQ_TOK_WORDNUM;
        while (is_ident_char(peek(lx, 0)))
            lx->off++;
    }
    return kind;
}

/* Reads the token that starts at lx->off (no blanks skipped). */
static int lex_token(sq_lexer *lx, sq_token *tok, sq_error *err)
{
    sq_pos start = here(lx);
    tok->pos = start;
    tok->len = 0;
    if (lx->off >= lx->len) {
        tok->kind = SQ_TOK_EOF;
        return 0;
    }
    unsigned char c = peek(lx, 0), c1 = peek(lx, 1);
    int rc = 0;
    if (is_ident_start(c)) {
        tok->kind = SQ_TOK_IDENT;
        while (is_ident_char(peek(lx, 0)))
            lx->off++;
    } else if (is_digit(c) || (c == '.' && is_digit(c1))) {
        tok->kind = scan_number(lx);
    } else if (c == '\'') {
        tok->kind = SQ_TOK_STRING;
        if (scan_quoted(lx, '\''))
            rc = sq_fail(err, start, SPATE_EPARSE, "unterminated string literal");
    } else if (c == '"' || c == '`') {
        tok->kind = SQ_TOK_QIDENT;
        if (scan_quoted(lx, (char)c))
            rc = sq_fail(err, start, SPATE_EPARSE, "unterminated quoted identifier");
        else if (lx->off - start.off == 2)
            rc = sq_fail(err, start, SPATE_EPARSE, "empty quoted identifier");
    } else {
        static const char singles[] = "(),;.*+-/%";
        static const sq_tok_kind single_kinds[] = {
            SQ_TOK_LPAREN, SQ_TOK_RPAREN, SQ_TOK_COMMA, SQ_TOK_SEMI,  SQ_TOK_DOT,
            SQ_TOK_STAR,   SQ_TOK_PLUS,   SQ_TOK_MINUS, SQ_TOK_SLASH, SQ_TOK_PERCENT,
        };
        const char *single = memchr(singles, c, sizeof singles - 1);
        size_t n = 1;
        if (single) {
            tok->kind = single_kinds[single - singles];
        } else if (c == '=') {
            tok->kind = c1 == '>' ? SQ_TOK_ARROW : SQ_TOK_EQ;
            n += c1 == '>';
        } else if (c == '<') {
            tok->kind = c1 == '=' ? SQ_TOK_LE : c1 == '>' ? SQ_TOK_NE : SQ_TOK_LT;
            n += c1 == '=' || c1 == '>';
        } else if (c == '>') {
            tok->kind = c1 == '=' ? SQ_TOK_GE : SQ_TOK_GT;
            n += c1 == '=';
        } else if ((c == '!' && c1 == '=') || (c == '|' && c1 == '|')) {
            tok->kind = c == '!' ? SQ_TOK_NE : SQ_TOK_CONCAT;
            n = 2;
        } else {
            tok->kind = SQ_TOK_ERROR;
            if (c >= 0x20 && c < 0x7f)
                rc = sq_fail(err, start, SPATE_EPARSE, "unexpected character '%c'", c);
            else
                rc = sq_fail(err, start, SPATE_EPARSE, "unexpected byte 0x%02X", c);
        }
        lx->off += n;
    }
    tok->len = (uint32_t)(lx->off - start.off);
    return rc;
}

int sq_lex_next(sq_lexer *lx, sq_token *tok, sq_error *err)
{
    int rc = skip_blanks(lx, err);
    if (rc) {
        tok->pos = err->pos;
        tok->len = (uint32_t)(lx->off - err->pos.off);
    } else {
        rc = lex_token(lx, tok, err);
    }
    if (rc) tok->kind = SQ_TOK_ERROR;
    return rc;
}

size_t sq_lex_extent(const char *text, size_t len, size_t off)
{
    if (!text || off >= len) return 0;
    unsigned char c = (unsigned char)text[off];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return 1;
    sq_lexer lx = {text, len, off, 1, off};
    sq_token tok;
    sq_error scratch;
    lex_token(&lx, &tok, &scratch);
    return lx.off > off ? lx.off - off : 1;
}

size_t sq_token_unquote(const char *text, const sq_token *tok, char *dst)
{
    const char *s = text + tok->pos.off;
    size_t n = tok->len;
    if ((tok->kind != SQ_TOK_STRING && tok->kind != SQ_TOK_QIDENT) || n < 2) {
        memcpy(dst, s, n);
        return n;
    }
    char q = s[0];
    size_t out = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        dst[out++] = s[i];
        if (s[i] == q) i++; /* the second quote of a doubled pair */
    }
    return out;
}

int sq_token_is(const char *text, const sq_token *tok, const char *kw)
{
    if (tok->kind != SQ_TOK_IDENT) return 0;
    size_t n = strlen(kw);
    if (tok->len != n) return 0;
    const char *s = text + tok->pos.off;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (c != kw[i]) return 0;
    }
    return 1;
}
