/*
 * expr_impl.h - what the binder (expr.c), the evaluator (eval.c) and the function
 * registry (funcs.c) share: the bound expression tree and the evaluation entry
 * points. Nothing outside src/sql/expr.c, eval.c and funcs.c includes it.
 *
 * A bound expression is a tree of typed nodes. The binder reduces the syntax to
 * few node kinds: IF becomes a CASE, NOT LIKE and NOT IN a NOT over the positive
 * form, and implicit conversions (INT -> BIGINT -> DOUBLE, the casts a function's
 * resolve asks for) explicit CAST nodes, so the evaluator only meets operands of
 * matching types. Constructs that compare one operand with several others
 * (BETWEEN, simple CASE, NULLIF, IN) keep a node of their own rather than being
 * rewritten into comparisons: the operand is evaluated once, and the tree stays
 * linear in the size of the text.
 */
#ifndef SP_SQL_EXPR_IMPL_H
#define SP_SQL_EXPR_IMPL_H

#include "core/batch.h"
#include "sql/expr.h"

typedef enum sq_bkind {
    SQ_B_CONST = 1, /* c (type 0 while an untyped NULL literal waits for a context) */
    SQ_B_COLUMN,    /* col */
    SQ_B_NEG,       /* -args[0] */
    SQ_B_ARITH,     /* args[0] op args[1]: + - * / % of one numeric type, or a TIMESTAMP
                       and an interval (BIGINT microseconds) */
    SQ_B_CONCAT,    /* args[0] || args[1] */
    SQ_B_CMP,       /* args[0] op args[1], both of one type */
    SQ_B_AND,
    SQ_B_OR,
    SQ_B_NOT,
    SQ_B_IS_NULL, /* args[0] IS [NOT] NULL (negated) */
    SQ_B_IS_BOOL, /* args[0] IS [NOT] TRUE/FALSE (truth, negated) */
    SQ_B_IN,      /* args[0] IN (args[1..]) */
    SQ_B_BETWEEN, /* args[0] [NOT] BETWEEN args[1] AND args[2] (negated) */
    SQ_B_LIKE,    /* args[0] LIKE args[1] [ESCAPE args[2]]; like: the compiled constant
                     pattern, or NULL to compile per row */
    SQ_B_CASE,    /* args: [operand,] when0, then0, when1, then1, ... [, else]
                     (has_operand: a simple CASE, whens compared with operand) */
    SQ_B_CAST,    /* args[0] converted to type (date: to 'YYYY-MM-DD' text) */
    SQ_B_COALESCE,
    SQ_B_NULLIF,   /* NULLIF(args[0], args[1]) */
    SQ_B_GREATEST, /* GREATEST, or LEAST when negated */
    SQ_B_FUNC      /* fn(args) */
} sq_bkind;

/* A LIKE pattern compiled once: the common shapes ('abc', 'abc%', '%abc', '%abc%')
 * become one memcmp or memmem on lit; the rest runs the token matcher. */
typedef enum sq_like_kind {
    SQ_LIKE_EXACT = 1,
    SQ_LIKE_PREFIX,
    SQ_LIKE_SUFFIX,
    SQ_LIKE_CONTAINS,
    SQ_LIKE_GENERAL
} sq_like_kind;

enum { SQ_LIKE_ONE = 256, SQ_LIKE_ANY = 257 }; /* tokens: a byte 0..255, '_', '%' */

typedef struct sq_like {
    sq_like_kind kind;
    char *lit; /* the literal bytes of the simple shapes */
    size_t len;
    int16_t *tok; /* SQ_LIKE_GENERAL */
    size_t ntok;
} sq_like;

/* Compiles pattern p[0..n) with escape character esc (-1: none) into out, its
 * buffers (tok, lit: set in out even when compiling fails) taken from
 * alloc(arg, bytes): malloc for a constant, the batch scratch arena per row.
 * 0, -1 for a malformed escape sequence, SPATE_ENOMEM. */
int sq_like_compile(const char *p, size_t n, int esc, void *(*alloc)(void *arg, size_t bytes),
                    void *arg, sq_like *out);
int sq_like_match(const sq_like *pat, const char *s, size_t n);

struct sq_bexpr {
    sq_bkind kind;
    spate_type type;
    int interval;              /* an INTERVAL value (BIGINT microseconds): only meets TIMESTAMPs */
    int volatile_;             /* depends on the clock or is random: never folded */
    sq_pos pos;                /* where the expression starts in the script, for errors */
    sq_op op;                  /* ARITH, CMP */
    int negated;               /* IS_NULL, IS_BOOL, BETWEEN; LEAST for GREATEST */
    int truth;                 /* IS_BOOL: 1 for TRUE, 0 for FALSE */
    int col;                   /* COLUMN: input column index */
    int has_operand, has_else; /* CASE */
    int date;                  /* CAST to DATE */
    sq_bexpr **args;
    int nargs;
    const sq_func *fn;
    sq_like *like;
    /* CONST: the value; a string points into text (owned) */
    int is_null;
    char *text;
    uint8_t null_flag; /* always 1: the nulls array of a NULL constant's vector */
    union {
        int64_t i64;
        int32_t i32;
        double f64;
        uint8_t b;
        spate_str s;
    } c;
};

/* One evaluation over n rows: input columns come from in (NULL when evaluating
 * constants), scratch vectors and strings from cx.arena. cols caches the vector of
 * each input column once it has been read. */
typedef struct sq_run {
    sq_eval_ctx cx;
    size_t n;
    const sp_batch *in;
    sq_vec *cols;
    uint8_t *cols_ready;
} sq_run;

/* Evaluates b over r's rows into out: an aliased column, a constant (is_const), or
 * arrays in the scratch arena. 0 or SPATE_ENOMEM. */
int sq_eval(sq_run *r, const sq_bexpr *b, sq_vec *out);

/* Evaluates b once (no input columns) at clock now_us into v (strings malloc'd). */
int sq_eval_value(const sq_bexpr *b, const sq_env *env, int64_t now_us, sq_value *v);

/* Text to a TIMESTAMP: ISO-8601 'YYYY-MM-DD[( |T)HH:MM[:SS[.f]]]' with an offset
 * ('Z', '+02:00'), or without one a wall-clock time in zone tz. 0, or -1 when the
 * text is not a timestamp. */
struct sq_tz;
int sq_text_to_ts(const char *s, size_t n, const struct sq_tz *tz, int64_t *us);

/* 1 when CAST converts type from to type to (see eval.c for the rules). */
int sq_cast_allowed(spate_type from, spate_type to);

/* The clock, microseconds since the epoch (CLOCK_REALTIME). */
int64_t sq_now_us(void);

/* Functions the binder implements itself (COALESCE, NULLIF, IF, GREATEST, LEAST):
 * a NULL-terminated table with the signatures SHOW FUNCTIONS prints. */
typedef struct sq_builtin {
    const char *name;
    const char *signature;
    const char *help;
} sq_builtin;
extern const sq_builtin sq_builtins[];

#endif
