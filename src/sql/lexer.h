/*
 * lexer.h - the tokens of spate's SQL dialect.
 *
 * The lexer only cuts the script into tokens; it knows no keywords. Every
 * unquoted word is an SQ_TOK_IDENT and the parser decides, from where the word
 * stands, whether it is a keyword or a name: that is what lets a column be called
 * `value`, `count` or `date` without quotes. A token is a place in the script
 * (sq_pos and a length in bytes) and carries no copy of its text, so lexing
 * allocates nothing; the parser copies the names and literals it keeps.
 *
 * Blanks and comments (`--` to the end of the line, and C-style block comments,
 * which do not nest) separate tokens. Quoted identifiers use backticks or double quotes,
 * string literals single quotes; inside each, the quote doubled stands for
 * itself. The lexer never reads past text + len: the script need not end with a
 * NUL, and a NUL byte inside it is an unexpected character.
 */
#ifndef SP_SQL_LEXER_H
#define SP_SQL_LEXER_H

#include "sql/ast.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sq_tok_kind {
    SQ_TOK_EOF = 0,
    SQ_TOK_IDENT,   /* unquoted word: a name or a keyword */
    SQ_TOK_QIDENT,  /* `quoted` or "quoted" identifier */
    SQ_TOK_STRING,  /* 'text' */
    SQ_TOK_INT,     /* 123 */
    SQ_TOK_NUMBER,  /* 1.5  .5  1e3  2.5E-3 */
    SQ_TOK_WORDNUM, /* a number glued to letters: 10s, 500ms (valid as an option value only) */
    SQ_TOK_LPAREN,
    SQ_TOK_RPAREN,
    SQ_TOK_COMMA,
    SQ_TOK_SEMI,
    SQ_TOK_DOT,
    SQ_TOK_STAR,
    SQ_TOK_PLUS,
    SQ_TOK_MINUS,
    SQ_TOK_SLASH,
    SQ_TOK_PERCENT,
    SQ_TOK_EQ,
    SQ_TOK_NE, /* <> or != */
    SQ_TOK_LT,
    SQ_TOK_LE,
    SQ_TOK_GT,
    SQ_TOK_GE,
    SQ_TOK_CONCAT, /* || */
    SQ_TOK_ARROW,  /* => (named arguments) */
    SQ_TOK_ERROR   /* what sq_lex_next returned SPATE_EPARSE for */
} sq_tok_kind;

typedef struct sq_token {
    sq_tok_kind kind;
    sq_pos pos;
    uint32_t len; /* bytes of script text, quotes included */
} sq_token;

typedef struct sq_lexer {
    const char *text;
    size_t len;
    size_t off;        /* next byte to read */
    uint32_t line;     /* line of text[off] */
    size_t line_start; /* offset of the first byte of that line */
} sq_lexer;

/* Starts reading text[0..len); a UTF-8 byte order mark at the start is skipped. */
void sq_lexer_init(sq_lexer *lx, const char *text, size_t len);

/* Skips blanks and comments and reads the next token into tok (SQ_TOK_EOF at the
 * end, repeatedly). 0, or SPATE_EPARSE with err filled at the offending spot:
 * "unterminated string literal", "unterminated block comment", "unexpected
 * character '#'" ...; tok is then an SQ_TOK_ERROR covering the bad input, and
 * the lexer is not to be used further. */
int sq_lex_next(sq_lexer *lx, sq_token *tok, sq_error *err);

/* The number of bytes of the token that starts exactly at text[off] (for error
 * underlines): 1 at a blank or a bad character, the consumed part of an
 * unterminated literal, 0 at the end of the text. */
size_t sq_lex_extent(const char *text, size_t len, size_t off);

/* The value of a STRING or QIDENT token without its quotes, doubled quotes
 * undone: writes at most tok->len bytes to dst (no terminator); returns the
 * length. For any other token, copies its text. */
size_t sq_token_unquote(const char *text, const sq_token *tok, char *dst);

/* 1 when tok is an unquoted word spelling kw (given in upper case), ignoring case. */
int sq_token_is(const char *text, const sq_token *tok, const char *kw);

#endif
