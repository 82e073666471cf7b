/*
 * ast.h - the syntax tree of spate's SQL dialect (Flink SQL style), as the parser
 * produces it and the planner reads it.
 *
 * Every node records where it starts in the script (sq_pos) so that errors found
 * later - unknown column, type mismatch - point at the spot with a caret. All nodes
 * and strings of a script live in one arena (sq_script.arena) and are freed
 * together by sq_script_free; nothing in the tree is freed on its own.
 *
 * Names: identifiers keep their spelling as written (quoted ones exactly,
 * unquoted ones too); the planner compares them case-insensitively. Keywords are
 * case-insensitive. Function names are stored upper-cased.
 */
#ifndef SP_SQL_AST_H
#define SP_SQL_AST_H

#include <spate.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sp_arena;

/* A place in the script: byte offset, 1-based line and column (in bytes). */
typedef struct sq_pos {
    uint32_t off, line, col;
} sq_pos;

/* An error with its place; msg and hint are owned by the struct (fixed buffers). */
typedef struct sq_error {
    sq_pos pos;
    int has_pos;
    char msg[256];
    char hint[160]; /* "" = none; e.g. "did you mean 'heart_rate'?" */
} sq_error;

/* ------------------------------------------------------------ expressions */

typedef enum sq_expr_kind {
    SQ_LIT_NULL = 1,
    SQ_LIT_BOOL,      /* ival 0/1 */
    SQ_LIT_INT,       /* ival */
    SQ_LIT_DOUBLE,    /* dval (decimal literals such as 1.5 or 1e3) */
    SQ_LIT_STRING,    /* str */
    SQ_LIT_INTERVAL,  /* ival: microseconds; INTERVAL '10' SECOND, INTERVAL '5' MINUTES,
                         INTERVAL '1' HOUR, '2' DAY, '500' MILLISECOND; also the
                         single-string form INTERVAL '10 seconds' */
    SQ_LIT_TIMESTAMP, /* str: TIMESTAMP '2024-01-01 10:00:00' (text kept; planner parses) */
    SQ_LIT_DATE,      /* str: DATE '2024-01-01' */
    SQ_COLUMN,        /* qual (may be NULL) . name */
    SQ_STAR,          /* * or qual.* (only in select lists and COUNT(*)) */
    SQ_UNARY,         /* op: '-' '+' or SQ_OP_NOT; args[0] */
    SQ_BINARY,        /* op; args[0], args[1] */
    SQ_FUNC,          /* name (upper-cased), args, distinct, star_arg, over */
    SQ_CASE,          /* operand (NULL for searched CASE), whens[i]/thens[i], else_ */
    SQ_CAST,          /* args[0] AS type_name (TRY_CAST: try_cast = 1) */
    SQ_IN,            /* args[0] [NOT] IN (args[1..n-1]) */
    SQ_BETWEEN,       /* args[0] [NOT] BETWEEN args[1] AND args[2] */
    SQ_LIKE,          /* args[0] [NOT] LIKE args[1] [ESCAPE args[2]] */
    SQ_IS_NULL,       /* args[0] IS [NOT] NULL */
    SQ_IS_BOOL,       /* args[0] IS [NOT] TRUE/FALSE: ival = 1 TRUE, 0 FALSE */
    SQ_TABLE_ARG,     /* TABLE name  (argument of a window table function): name */
    SQ_DESCRIPTOR     /* DESCRIPTOR(col): name */
} sq_expr_kind;

typedef enum sq_op {
    SQ_OP_ADD = 1, SQ_OP_SUB, SQ_OP_MUL, SQ_OP_DIV, SQ_OP_MOD,
    SQ_OP_CONCAT, /* || */
    SQ_OP_EQ, SQ_OP_NE, SQ_OP_LT, SQ_OP_LE, SQ_OP_GT, SQ_OP_GE,
    SQ_OP_AND, SQ_OP_OR, SQ_OP_NOT, SQ_OP_NEG, SQ_OP_PLUS
} sq_op;

typedef struct sq_expr sq_expr;
typedef struct sq_order_item {
    sq_expr *expr;
    int desc;        /* 1 for DESC */
    int nulls_first; /* -1 default, 0 NULLS LAST, 1 NULLS FIRST */
} sq_order_item;

/* OVER (PARTITION BY ... ORDER BY ...) of a window function (ROW_NUMBER). */
typedef struct sq_over {
    sq_expr **partition;
    int npartition;
    sq_order_item *order;
    int norder;
} sq_over;

struct sq_expr {
    sq_expr_kind kind;
    sq_pos pos;
    sq_op op;
    int negated;        /* NOT IN / NOT BETWEEN / NOT LIKE / IS NOT NULL / IS NOT TRUE */
    int64_t ival;
    double dval;
    const char *str;    /* literals */
    const char *qual;   /* SQ_COLUMN, SQ_STAR: table or alias qualifier, or NULL */
    const char *name;   /* SQ_COLUMN, SQ_FUNC (upper-cased), SQ_TABLE_ARG, SQ_DESCRIPTOR */
    sq_expr **args;
    int nargs;
    int distinct;       /* COUNT(DISTINCT x) */
    int star_arg;       /* COUNT(*) */
    sq_over *over;      /* ROW_NUMBER() OVER (...) */
    /* CASE */
    sq_expr *operand;
    sq_expr **whens, **thens;
    int nwhens;
    sq_expr *else_;
    /* CAST */
    const char *type_name; /* upper-cased, parameters dropped: VARCHAR(10) -> "VARCHAR" */
    int try_cast;
};

/* ----------------------------------------------------------------- queries */

typedef struct sq_select sq_select;

typedef struct sq_select_item {
    sq_expr *expr;     /* SQ_STAR for * or t.* */
    const char *alias; /* AS name, or NULL */
    sq_pos pos;
} sq_select_item;

typedef enum sq_from_kind {
    SQ_FROM_TABLE = 1, /* name [AS alias] [FOR SYSTEM_TIME AS OF expr] */
    SQ_FROM_SUBQUERY,  /* ( select ) [AS] alias */
    SQ_FROM_TVF,       /* TABLE(fn(...)) [AS alias]: tvf is an SQ_FUNC (TUMBLE, HOP,
                          SESSION, CUMULATE) whose first arg is SQ_TABLE_ARG */
    SQ_FROM_JOIN       /* left kind JOIN right ON on; a comma is an inner join with no ON */
} sq_from_kind;

typedef enum sq_join_kind {
    SQ_JOIN_INNER = 1, SQ_JOIN_LEFT, SQ_JOIN_RIGHT, SQ_JOIN_FULL, SQ_JOIN_CROSS
} sq_join_kind;

typedef struct sq_from sq_from;
struct sq_from {
    sq_from_kind kind;
    sq_pos pos;
    const char *name;     /* SQ_FROM_TABLE */
    const char *alias;
    sq_expr *system_time; /* FOR SYSTEM_TIME AS OF expr, or NULL */
    sq_select *subquery;  /* SQ_FROM_SUBQUERY */
    sq_expr *tvf;         /* SQ_FROM_TVF */
    sq_join_kind join;    /* SQ_FROM_JOIN */
    sq_from *left, *right;
    sq_expr *on;          /* NULL for CROSS and comma joins */
};

struct sq_select {
    sq_pos pos;
    int distinct;              /* SELECT DISTINCT */
    sq_select_item *items;
    int nitems;
    sq_from *from;             /* NULL: SELECT without FROM (constant row) */
    sq_expr *where;
    sq_expr **group_by;
    int ngroup;
    sq_expr *having;
    sq_order_item *order;      /* ORDER BY (top level of a bare SELECT, or Top-N) */
    int norder;
    int64_t limit;             /* -1 = no LIMIT */
    sq_select *union_all;      /* SELECT ... UNION ALL <union_all> (chain), or NULL */
};

/* --------------------------------------------------------------- statements */

typedef struct sq_column_def {
    const char *name;
    const char *type_name; /* upper-cased, parameters dropped: TIMESTAMP(3) -> "TIMESTAMP" */
    sq_expr *computed;     /* name AS expr (computed column), else NULL; type_name NULL then */
    int not_null;          /* NOT NULL given (accepted; not enforced) */
    sq_pos pos;
} sq_column_def;

typedef struct sq_option {
    const char *key;   /* connector = 'files' -> "connector"; 'a.b' = 'x' -> "a.b" */
    const char *value; /* the value as text: 'x' -> "x", 10 -> "10", true -> "true" */
    sq_pos pos;        /* of the key */
    sq_pos value_pos;
} sq_option;

typedef enum sq_stmt_kind {
    SQ_CREATE_SOURCE = 1, /* name, columns, watermark, options */
    SQ_CREATE_TABLE,      /* bounded reference data: name, columns, options, primary key */
    SQ_CREATE_SINK,       /* name, optional columns, options */
    SQ_CREATE_VIEW,       /* name AS query */
    SQ_INSERT,            /* INSERT INTO name query */
    SQ_SELECT,            /* bare query: results to stdout */
    SQ_SET,               /* SET key = value; SET TIME ZONE 'x' is key "table.local-time-zone";
                             SET alone (key NULL) lists the options */
    SQ_RESET,             /* RESET key (key NULL: all) */
    SQ_EXPLAIN,           /* EXPLAIN inner (an SQ_SELECT or SQ_INSERT) */
    SQ_SHOW,              /* SHOW SOURCES | TABLES | SINKS | VIEWS | FUNCTIONS: what */
    SQ_DESCRIBE,          /* DESCRIBE name / DESC name */
    SQ_DROP               /* DROP SOURCE|TABLE|SINK|VIEW [IF EXISTS] name: what, name */
} sq_stmt_kind;

typedef struct sq_stmt sq_stmt;
struct sq_stmt {
    sq_stmt_kind kind;
    sq_pos pos;     /* first token */
    sq_pos end;     /* just after the last token (before the ';') */
    const char *name;
    sq_pos name_pos;
    int if_not_exists, if_exists;
    sq_column_def *columns;
    int ncolumns;
    /* WATERMARK FOR column AS expr: the expression is usually `col - INTERVAL ...` */
    const char *wm_column;
    sq_expr *wm_expr;
    sq_pos wm_pos;
    const char **primary_key; /* PRIMARY KEY (a, b) NOT ENFORCED */
    int nprimary_key;
    sq_option *options;
    int noptions;
    sq_select *query;         /* CREATE VIEW, INSERT, SELECT */
    const char *key;          /* SET / RESET */
    const char *value;        /* SET */
    const char *what;         /* SHOW / DROP: "SOURCES", "SINKS", "VIEWS", "TABLES",
                                 "FUNCTIONS" / "SOURCE", "TABLE", "SINK", "VIEW" */
    sq_stmt *inner;           /* EXPLAIN */
};

typedef struct sq_script {
    const char *text;  /* the script (owned copy, NUL-terminated) */
    size_t len;
    sq_stmt **stmts;
    int nstmts;
    struct sp_arena *arena;
} sq_script;

/* Parses text (len bytes, need not be NUL-terminated): zero or more statements
 * separated by ';' (the last ';' optional), with -- line and block comments.
 * 0 and *out, or SPATE_EPARSE with err filled (place of the offending token, a
 * message such as "expected ')' after the column list, found 'WITH'"), or
 * SPATE_ENOMEM. Never crashes, never reads outside text, bounded recursion (a
 * nesting deeper than 200 is an error). */
int sq_parse(const char *text, size_t len, sq_script **out, sq_error *err);
void sq_script_free(sq_script *s);

/* Parses a lone expression (for tests and the shell). */
int sq_parse_expr(const char *text, size_t len, sq_script **holder, sq_expr **out,
                  sq_error *err);

/* Fills err at pos with a printf-style message (and no hint). Returns SPATE_EPARSE
 * so a caller can `return sq_fail(...)`. */
int sq_fail(sq_error *err, sq_pos pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes an error the way the CLI shows it:
 *   file.sql:3:14: error: unknown column 'hart_rate'
 *     SELECT patient_id, hart_rate FROM vitals
 *                        ^~~~~~~~~
 *   hint: did you mean 'heart_rate'?
 * source_name may be NULL ("<input>"). The underline covers the token at pos. */
void sq_error_print(const sq_error *err, const char *source_name, const char *text, size_t len,
                    FILE *out);

/* Levenshtein distance, for "did you mean" hints (case-insensitive). */
int sq_edit_distance(const char *a, const char *b);

#endif
