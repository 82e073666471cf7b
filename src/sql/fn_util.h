/*
 * fn_util.h - helpers shared by the scalar function library (fn_string.c,
 * fn_time.c, fn_hash.c, fn_math.c): reading a row of an argument vector, writing a
 * row of the result, and checking argument types against a compact signature spec
 * in resolve().
 *
 * Design choices:
 *  - Readers take any numeric width (fn_int, fn_dbl switch on the vector's type).
 *    resolve() still asks the binder for the canonical width (INT -> BIGINT, any
 *    number -> DOUBLE) through want[], but an eval never reads past an INT array
 *    if a caller hands it the uncast vector.
 *  - Result strings are always copies in the batch arena, never slices of an
 *    argument: argument strings may live in an input batch released before the
 *    output is written.
 *  - A result longer than SQ_FN_MAX_RESULT is NULL (a row error), so LPAD(s,
 *    2000000000, 'x') cannot take the worker's memory; a failing allocation below
 *    that is a real out-of-memory and fails the batch (SPATE_ENOMEM).
 */
#ifndef SP_SQL_FN_UTIL_H
#define SP_SQL_FN_UTIL_H

#include "sql/expr.h"

#include <stddef.h>
#include <stdint.h>

#define SQ_FN_MAX_RESULT ((size_t)16 << 20)

/* The index of row i in a (0 for a constant). */
static inline size_t fn_row(const sq_vec *a, size_t i)
{
    return a->is_const ? 0 : i;
}

static inline int fn_null(const sq_vec *a, size_t i)
{
    return a->nulls && a->nulls[fn_row(a, i)];
}

static inline int fn_any_null(const sq_vec *args, int nargs, size_t i)
{
    for (int k = 0; k < nargs; k++)
        if (fn_null(&args[k], i)) return 1;
    return 0;
}

static inline spate_str fn_str(const sq_vec *a, size_t i)
{
    return a->v.s[fn_row(a, i)];
}

/* Row i of an INT, BIGINT, TIMESTAMP or BOOL vector. */
static inline int64_t fn_int(const sq_vec *a, size_t i)
{
    size_t r = fn_row(a, i);
    switch (a->type) {
    case SPATE_INT32: return a->v.i32[r];
    case SPATE_BOOL: return a->v.b[r];
    default: return a->v.i64[r];
    }
}

/* Row i of a numeric vector as a double. */
static inline double fn_dbl(const sq_vec *a, size_t i)
{
    return a->type == SPATE_FLOAT64 ? a->v.f64[fn_row(a, i)] : (double)fn_int(a, i);
}

/* Marks row i of out NULL and zeroes its value. */
void sq_fn_set_null(sq_vec *out, size_t i);
/* Row i of a STRING/BYTES result: len bytes to fill, allocated in the batch arena.
 * NULL when out of memory. */
char *sq_fn_alloc_str(sq_eval_ctx *cx, sq_vec *out, size_t i, size_t len);
/* Row i of a STRING/BYTES result: a copy of p[0..len). 0 or SPATE_ENOMEM. */
int sq_fn_set_str(sq_eval_ctx *cx, sq_vec *out, size_t i, const char *p, size_t len);

/*
 * Checks the argument types of a call to name against spec, one letter per
 * parameter:
 *   s STRING                 b STRING or BYTES
 *   i INT or BIGINT (asks for BIGINT)
 *   n INT, BIGINT or DOUBLE (asks for DOUBLE)
 *   t TIMESTAMP, or a STRING holding a date or timestamp (no cast)
 *   x any type (asks for STRING, as || does)
 * '[' starts the optional parameters; a final '*' repeats the last letter. Sets
 * want[] for every argument; on a mismatch writes why ("SUBSTRING expects (STRING,
 * INT[, INT]), got (INT)") and returns SPATE_EINVAL (count) or SPATE_ETYPE.
 */
int sq_fn_check(const char *name, const char *spec, const spate_type *args, int nargs,
                spate_type *want, char *why, size_t why_len);

/* Defines a resolve function fn for functions whose result type is fixed. */
#define SQ_FN_RESOLVE(fn, name, spec, type)                                                 \
    static int fn(const spate_type *args, int nargs, spate_type *want, spate_type *result, \
                  char *why, size_t why_len)                                              \
    {                                                                                      \
        *result = (type);                                                                  \
        return sq_fn_check(name, spec, args, nargs, want, why, why_len);                   \
    }

#endif
