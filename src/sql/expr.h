/*
 * expr.h - SQL expressions: binding (names -> columns, type checking, function
 * resolution) and vectorized evaluation over batches.
 *
 * The planner turns every computed projection and predicate of a query into a
 * program run by the engine's batch callbacks (spate_map_batch with
 * sq_program_map, spate_filter_batch with sq_program_filter), so SQL runs on the
 * same dataflow the C API builds. A program evaluates each expression once per
 * batch, column at a time: an operator node loops over all rows of its input
 * vectors (sq_vec), never calling back per row.
 *
 * Types: the engine's types (spate_type). DATE values are STRINGs 'YYYY-MM-DD'
 * (docs/sql.md); INTERVAL literals are BIGINT microseconds that only combine with
 * TIMESTAMPs (ts + INTERVAL '1' HOUR). NULL semantics are SQL's: NULL in, NULL
 * out for operators and most functions; AND/OR three-valued; a filter keeps rows
 * whose predicate is TRUE. Errors inside a row - division by zero, a CAST of text
 * that is not a number - give NULL (TRY_CAST semantics everywhere, documented),
 * never a failed job.
 */
#ifndef SP_SQL_EXPR_H
#define SP_SQL_EXPR_H

#include "sql/ast.h"

#include <spate.h>

/* ------------------------------------------------------------------ binding */

/* A column visible to an expression: qualifier (table alias, may be NULL), name,
 * type, and its index in the input of the program. */
typedef struct sq_scope_col {
    const char *qual;
    const char *name;
    spate_type type;
    int index;
} sq_scope_col;

typedef struct sq_scope {
    const sq_scope_col *cols;
    int ncols;
} sq_scope;

/* Session settings expressions depend on. */
typedef struct sq_env {
    const char *time_zone; /* IANA name ("Europe/Paris"), "UTC", or an offset "+02:00" */
} sq_env;

typedef struct sq_bexpr sq_bexpr; /* a bound, typed expression */

/* Binds e against scope. Errors (SPATE_ENOTFOUND, SPATE_ETYPE, SPATE_EINVAL) fill
 * err at the offending node: unknown column with a "did you mean" hint naming the
 * closest visible column; ambiguous column (two qualifiers); unknown function
 * (hint: the closest function name); wrong argument count or types ("SUBSTRING
 * expects (STRING, INT[, INT]), got (INT)"); an aggregate or window function
 * where none is allowed ("COUNT is an aggregate: use it in a SELECT with GROUP
 * BY"). Implicit casts: INT -> BIGINT -> DOUBLE in arithmetic and comparisons; a
 * STRING literal compared with or assigned to a TIMESTAMP is parsed as one. */
int sq_bind(const sq_expr *e, const sq_scope *scope, const sq_env *env, sq_bexpr **out,
            sq_error *err);
/* Binds and converts to type (an explicit CAST), for INSERT column types. */
int sq_bind_cast(sq_bexpr *in, spate_type type, sq_bexpr **out);
spate_type sq_bexpr_type(const sq_bexpr *b);
/* The input column index when b is a plain column reference, else -1. */
int sq_bexpr_column(const sq_bexpr *b);
/* 1 when b depends on no column and no clock (it can be folded). */
int sq_bexpr_is_const(const sq_bexpr *b);
void sq_bexpr_free(sq_bexpr *b);

/* A constant value (plan-time evaluation of constant expressions). */
typedef struct sq_value {
    spate_type type;
    int is_null;
    int64_t i;   /* BOOL, INT32, INT64, TIMESTAMP */
    double d;    /* FLOAT64 */
    char *s;     /* STRING, BYTES: malloc'd, NUL-terminated (len below) */
    size_t len;
} sq_value;
int sq_eval_const(const sq_bexpr *b, const sq_env *env, sq_value *out);
void sq_value_clear(sq_value *v);

/* Names: 1 when name (upper-case) is an aggregate function the planner handles
 * (COUNT SUM AVG MIN MAX FIRST_VALUE LAST_VALUE APPROX_COUNT_DISTINCT
 * APPROX_PERCENTILE), resp. a window function (ROW_NUMBER), resp. any function
 * the binder knows (scalar, aggregate or window). */
int sq_is_aggregate(const char *name);
int sq_is_window_function(const char *name);
int sq_function_exists(const char *name);
/* The closest known function name to name, for hints (NULL when none is close). */
const char *sq_function_suggest(const char *name);
/* Calls fn for every scalar function (name, signature, one-line description), for
 * SHOW FUNCTIONS and docs. */
void sq_functions_each(void (*fn)(const char *name, const char *signature, const char *help,
                                  void *arg),
                       void *arg);

/* Type names of column definitions and CAST: STRING VARCHAR CHAR TEXT -> STRING,
 * INT INTEGER SMALLINT TINYINT -> INT32, BIGINT -> INT64, DOUBLE FLOAT REAL
 * DECIMAL NUMERIC -> FLOAT64, BOOLEAN BOOL -> BOOL, TIMESTAMP TIMESTAMP_LTZ ->
 * TIMESTAMP, DATE -> STRING (see above), BYTES BINARY VARBINARY -> BYTES.
 * SPATE_ENOTFOUND for another name. */
int sq_type_from_name(const char *upper_name, spate_type *out);

/* ---------------------------------------------------------------- programs */

/* n bound expressions evaluated together over every input batch; output column i
 * is named names[i] and has sq_bexpr_type(exprs[i]). The program takes the
 * expressions (freed with it, also on failure). Programs are immutable once
 * built and may be run by several workers at once (scratch memory is per
 * thread). */
typedef struct sq_program sq_program;
int sq_program_new(sq_bexpr **exprs, const char *const *names, int n, const sq_env *env,
                   sq_program **out);
const spate_schema *sq_program_schema(const sq_program *p);
void sq_program_free(sq_program *p);

/* spate_map_batch_fn: ud is the program. */
int sq_program_map(const spate_cols *in, spate_cols *out, void *ud);
/* spate_filter_batch_fn: the program has one BOOL expression; keeps TRUE rows. */
int sq_program_filter(const spate_cols *in, uint8_t *keep, void *ud);

/* ----------------------------------------------- the function library's side */

/* A vector of n values of one type, as functions see their arguments and fill
 * their result. nulls[i] != 0 marks row i NULL (nulls may be NULL: none are).
 * A constant argument has is_const = 1 and only index 0 is meaningful. */
typedef struct sq_vec {
    spate_type type;
    size_t n;
    uint8_t *nulls;
    int is_const;
    union {
        int64_t *i64; /* INT64, TIMESTAMP */
        int32_t *i32;
        double *f64;
        uint8_t *b;   /* BOOL, 0/1 */
        spate_str *s; /* STRING, BYTES */
    } v;
} sq_vec;

/* Evaluation context of one batch: where result strings are allocated (valid
 * until the batch is written out), the session, and the batch's clock. */
typedef struct sq_eval_ctx {
    struct sp_arena *arena;
    const sq_env *env;
    int64_t now_us; /* CURRENT_TIMESTAMP of this batch */
} sq_eval_ctx;
/* Allocation from the batch arena (NULL when out of memory). */
char *sq_ctx_alloc(sq_eval_ctx *cx, size_t n);

/* A scalar function: resolve picks the result type from the argument types (and
 * may ask for the arguments to be cast first by rewriting want[i]); eval fills
 * out (out->type set, arrays sized n, nulls allocated) from args. */
typedef struct sq_func {
    const char *name;      /* upper-case */
    const char *signature; /* e.g. "SUBSTRING(s STRING, start INT[, len INT]) -> STRING" */
    const char *help;
    int min_args, max_args; /* max -1 = variadic */
    int (*resolve)(const spate_type *args, int nargs, spate_type *want, spate_type *result,
                   char *why, size_t why_len);
    int (*eval)(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out);
} sq_func;

/* The library: NULL-terminated tables of each file of functions, concatenated by
 * sq_func_find. */
extern const sq_func sq_funcs_string[];
extern const sq_func sq_funcs_time[];
extern const sq_func sq_funcs_hash[];
extern const sq_func sq_funcs_math[];
const sq_func *sq_func_find(const char *upper_name);

#endif
