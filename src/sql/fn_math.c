/*
 * fn_math.c - SQL's numeric functions (sq_funcs_math).
 *
 * Design choices:
 *  - ABS, CEIL, FLOOR, SIGN, ROUND and TRUNCATE keep their argument's type (an INT
 *    stays an INT); MOD is INT for two INTs, BIGINT for two integers, else DOUBLE;
 *    the other functions compute in DOUBLE.
 *  - Errors inside a row give NULL, like the rest of spate's SQL: MOD by zero, an
 *    integer overflow (ABS of the smallest BIGINT, ROUND(9e18, -19)), and any DOUBLE
 *    result that is not a finite number - a domain error such as SQRT(-1), LN(0) or
 *    ASIN(2), or an overflow such as EXP(1000).
 *  - ROUND rounds half away from zero; on DOUBLEs it rounds the shortest decimal
 *    representation of the value (the digits SQL prints and the user wrote), not its
 *    binary expansion: ROUND(2.675, 2) is 2.68 although the double nearest 2.675 is
 *    2.67499999... This is what Flink's BigDecimal-based ROUND does. TRUNCATE cuts
 *    the same digits toward zero. A negative d rounds left of the point (ROUND(1250,
 *    -2) = 1300).
 *  - No RAND: a non-deterministic function would make replays after a restore
 *    disagree with the first run. GREATEST and LEAST belong to the binder (they
 *    unify types of any kind).
 */
#include "sql/fn_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- resolve */

/* Numeric functions whose result has the type of the first argument. */
#define RESOLVE_SAME(fn, name, spec)                                                       \
    static int fn(const spate_type *args, int nargs, spate_type *want, spate_type *result, \
                  char *why, size_t why_len)                                              \
    {                                                                                      \
        int rc = sq_fn_check(name, spec, args, nargs, want, why, why_len);                 \
        if (rc) return rc;                                                                 \
        want[0] = *result = args[0];                                                       \
        return 0;                                                                          \
    }

RESOLVE_SAME(resolve_abs, "ABS", "n")
RESOLVE_SAME(resolve_ceil, "CEIL", "n")
RESOLVE_SAME(resolve_ceiling, "CEILING", "n")
RESOLVE_SAME(resolve_floor, "FLOOR", "n")
RESOLVE_SAME(resolve_sign, "SIGN", "n")
RESOLVE_SAME(resolve_round, "ROUND", "n[i")
RESOLVE_SAME(resolve_truncate, "TRUNCATE", "n[i")

static int resolve_mod(const spate_type *args, int nargs, spate_type *want, spate_type *result,
                       char *why, size_t why_len)
{
    int rc = sq_fn_check("MOD", "nn", args, nargs, want, why, why_len);
    if (rc) return rc;
    if (args[0] == SPATE_FLOAT64 || args[1] == SPATE_FLOAT64) *result = SPATE_FLOAT64;
    else if (args[0] == SPATE_INT32 && args[1] == SPATE_INT32) *result = SPATE_INT32;
    else *result = SPATE_INT64;
    want[0] = want[1] = *result;
    return 0;
}

SQ_FN_RESOLVE(resolve_power, "POWER", "nn", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_sqrt, "SQRT", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_cbrt, "CBRT", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_exp, "EXP", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_ln, "LN", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_log, "LOG", "n[n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_log10, "LOG10", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_log2, "LOG2", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_sin, "SIN", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_cos, "COS", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_tan, "TAN", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_asin, "ASIN", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_acos, "ACOS", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_atan, "ATAN", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_atan2, "ATAN2", "nn", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_degrees, "DEGREES", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_radians, "RADIANS", "n", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_pi, "PI", "", SPATE_FLOAT64)
SQ_FN_RESOLVE(resolve_e, "E", "", SPATE_FLOAT64)

/* ------------------------------------------------------------ DOUBLE maths */

static void set_double(sq_vec *out, size_t i, double v)
{
    if (!isfinite(v)) {
        sq_fn_set_null(out, i);
        return;
    }
    out->nulls[i] = 0;
    out->v.f64[i] = v;
}

static int eval_double1(const sq_vec *args, sq_vec *out, double (*f)(double))
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) sq_fn_set_null(out, i);
        else set_double(out, i, f(fn_dbl(&args[0], i)));
    }
    return 0;
}

static int eval_double2(const sq_vec *args, sq_vec *out, double (*f)(double, double))
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 2, i)) sq_fn_set_null(out, i);
        else set_double(out, i, f(fn_dbl(&args[0], i), fn_dbl(&args[1], i)));
    }
    return 0;
}

static double degrees(double x)
{
    return x * (180.0 / M_PI);
}

static double radians(double x)
{
    return x * (M_PI / 180.0);
}

static double log_base(double b, double x)
{
    return log(x) / log(b);
}

#define EVAL_DOUBLE1(fn, f)                                                  \
    static int fn(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out) \
    {                                                                        \
        return eval_double1(args, out, f);                                   \
    }
#define EVAL_DOUBLE2(fn, f)                                                  \
    static int fn(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out) \
    {                                                                        \
        return eval_double2(args, out, f);                                   \
    }

EVAL_DOUBLE2(eval_power, pow)
EVAL_DOUBLE1(eval_sqrt, sqrt)
EVAL_DOUBLE1(eval_cbrt, cbrt)
EVAL_DOUBLE1(eval_exp, exp)
EVAL_DOUBLE1(eval_ln, log)
EVAL_DOUBLE1(eval_log10, log10)
EVAL_DOUBLE1(eval_log2, log2)
EVAL_DOUBLE1(eval_sin, sin)
EVAL_DOUBLE1(eval_cos, cos)
EVAL_DOUBLE1(eval_tan, tan)
EVAL_DOUBLE1(eval_asin, asin)
EVAL_DOUBLE1(eval_acos, acos)
EVAL_DOUBLE1(eval_atan, atan)
EVAL_DOUBLE2(eval_atan2, atan2)
EVAL_DOUBLE1(eval_degrees, degrees)
EVAL_DOUBLE1(eval_radians, radians)

/* LOG(x) is the natural logarithm, LOG(b, x) the logarithm of x in base b. */
static int eval_log(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return nargs == 1 ? eval_double1(args, out, log) : eval_double2(args, out, log_base);
}

static int eval_const(sq_vec *out, double v)
{
    for (size_t i = 0; i < out->n; i++) set_double(out, i, v);
    return 0;
}

static int eval_pi(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_const(out, M_PI);
}

static int eval_e(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_const(out, M_E);
}

/* ------------------------------------------------------ type-keeping maths */

/* Writes v to row i of an INT, BIGINT or DOUBLE result; NULL when it does not fit
 * an INT result. */
static void set_int(sq_vec *out, size_t i, int64_t v)
{
    if (out->type == SPATE_INT32 && (v < INT32_MIN || v > INT32_MAX)) {
        sq_fn_set_null(out, i);
        return;
    }
    out->nulls[i] = 0;
    if (out->type == SPATE_INT32) out->v.i32[i] = (int32_t)v;
    else out->v.i64[i] = v;
}

static int eval_abs(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) sq_fn_set_null(out, i);
        else if (out->type == SPATE_FLOAT64) set_double(out, i, fabs(fn_dbl(&args[0], i)));
        else {
            int64_t v = fn_int(&args[0], i);
            if (v == INT64_MIN) sq_fn_set_null(out, i);
            else set_int(out, i, v < 0 ? -v : v);
        }
    }
    return 0;
}

static int eval_rounding(const sq_vec *args, sq_vec *out, double (*f)(double))
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) sq_fn_set_null(out, i);
        else if (out->type == SPATE_FLOAT64) set_double(out, i, f(fn_dbl(&args[0], i)));
        else set_int(out, i, fn_int(&args[0], i));
    }
    return 0;
}

static int eval_ceil(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_rounding(args, out, ceil);
}

static int eval_floor(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_rounding(args, out, floor);
}

static int eval_sign(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) sq_fn_set_null(out, i);
        else if (out->type == SPATE_FLOAT64) {
            double x = fn_dbl(&args[0], i);
            if (isnan(x)) sq_fn_set_null(out, i);
            else set_double(out, i, (x > 0) - (x < 0));
        } else {
            int64_t x = fn_int(&args[0], i);
            set_int(out, i, (x > 0) - (x < 0));
        }
    }
    return 0;
}

/* x rounded (half away from zero) or truncated to d decimal places, on the
 * shortest decimal representation of x. */
static double round_decimal(double x, int64_t d, int trunc)
{
    if (!isfinite(x) || x == 0 || d > 400) return x;
    if (d < -400) return 0;
    /* The shortest "%.*e" that reads back as x: at most 17 significant digits. */
    char buf[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    char digits[24];
    int nd = 0, neg = buf[0] == '-';
    const char *p = buf + neg;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    long exp10 = strtol(p + 1, NULL, 10); /* x = d0.d1d2... * 10^exp10 */
    int64_t keep = exp10 + 1 + d;         /* digits left of the cut */
    if (keep >= nd) return x;
    if (keep < 0) return 0;
    int up = !trunc && digits[keep] >= '5';
    int k = (int)keep;
    if (up) { /* add one unit in the last kept place */
        int j = k - 1;
        while (j >= 0 && digits[j] == '9') digits[j--] = '0';
        if (j >= 0) digits[j]++;
        else {
            memmove(digits + 1, digits, (size_t)k);
            digits[0] = '1';
            k++;
            exp10++;
        }
    }
    if (k == 0) return 0;
    snprintf(buf, sizeof(buf), "%s0.%.*se%ld", neg ? "-" : "", k, digits, exp10 + 1);
    return strtod(buf, NULL);
}

/* x rounded or truncated to a multiple of 10^-d (d < 0); -1 on overflow. */
static int round_int(int64_t x, int64_t d, int trunc, int64_t *res)
{
    if (d >= 0) {
        *res = x;
        return 0;
    }
    if (d < -18) { /* 10^19 is beyond BIGINT: only 0 is a multiple of it */
        if (!trunc && (x >= 5000000000000000000 || x <= -5000000000000000000)) return -1;
        *res = 0;
        return 0;
    }
    int64_t p = 1;
    for (int64_t k = d; k < 0; k++) p *= 10;
    int64_t q = x / p, r = x % p;
    if (r < 0) r = -r;
    if (!trunc && r >= p - r) q += x < 0 ? -1 : 1;
    return __builtin_mul_overflow(q, p, res) ? -1 : 0;
}

static int eval_round_trunc(const sq_vec *args, int nargs, sq_vec *out, int trunc)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, nargs, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        int64_t d = nargs > 1 ? fn_int(&args[1], i) : 0, v;
        if (out->type == SPATE_FLOAT64)
            set_double(out, i, round_decimal(fn_dbl(&args[0], i), d, trunc));
        else if (round_int(fn_int(&args[0], i), d, trunc, &v) == 0) set_int(out, i, v);
        else sq_fn_set_null(out, i);
    }
    return 0;
}

static int eval_round(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_round_trunc(args, nargs, out, 0);
}

static int eval_truncate(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_round_trunc(args, nargs, out, 1);
}

/* The remainder has the sign of the dividend (SQL, Java, C). */
static int eval_mod(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 2, i)) sq_fn_set_null(out, i);
        else if (out->type == SPATE_FLOAT64) {
            double b = fn_dbl(&args[1], i);
            if (b == 0) sq_fn_set_null(out, i);
            else set_double(out, i, fmod(fn_dbl(&args[0], i), b));
        } else {
            int64_t a = fn_int(&args[0], i), b = fn_int(&args[1], i);
            if (b == 0) sq_fn_set_null(out, i);
            else set_int(out, i, b == -1 ? 0 : a % b); /* INT64_MIN % -1 traps */
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ table */

const sq_func sq_funcs_math[] = {
    {"ABS", "ABS(x NUMBER) -> type of x", "absolute value", 1, 1, resolve_abs, eval_abs},
    {"CEIL", "CEIL(x NUMBER) -> type of x", "smallest integer not less than x", 1, 1,
     resolve_ceil, eval_ceil},
    {"CEILING", "CEILING(x NUMBER) -> type of x", "same as CEIL", 1, 1, resolve_ceiling,
     eval_ceil},
    {"FLOOR", "FLOOR(x NUMBER) -> type of x", "largest integer not greater than x", 1, 1,
     resolve_floor, eval_floor},
    {"ROUND", "ROUND(x NUMBER[, d INT]) -> type of x",
     "x rounded half away from zero to d decimal places (default 0; negative d rounds tens, "
     "hundreds...)",
     1, 2, resolve_round, eval_round},
    {"TRUNCATE", "TRUNCATE(x NUMBER[, d INT]) -> type of x",
     "x truncated toward zero to d decimal places (default 0)", 1, 2, resolve_truncate,
     eval_truncate},
    {"SIGN", "SIGN(x NUMBER) -> type of x", "-1, 0 or 1 as x is negative, zero or positive", 1,
     1, resolve_sign, eval_sign},
    {"MOD", "MOD(a NUMBER, b NUMBER) -> INT|BIGINT|DOUBLE",
     "remainder of a / b with the sign of a; NULL when b is 0", 2, 2, resolve_mod, eval_mod},
    {"POWER", "POWER(x NUMBER, y NUMBER) -> DOUBLE", "x raised to the power y", 2, 2,
     resolve_power, eval_power},
    {"SQRT", "SQRT(x NUMBER) -> DOUBLE", "square root; NULL for a negative x", 1, 1,
     resolve_sqrt, eval_sqrt},
    {"CBRT", "CBRT(x NUMBER) -> DOUBLE", "cube root", 1, 1, resolve_cbrt, eval_cbrt},
    {"EXP", "EXP(x NUMBER) -> DOUBLE", "e raised to the power x", 1, 1, resolve_exp, eval_exp},
    {"LN", "LN(x NUMBER) -> DOUBLE", "natural logarithm; NULL unless x > 0", 1, 1, resolve_ln,
     eval_ln},
    {"LOG", "LOG([base NUMBER,] x NUMBER) -> DOUBLE",
     "natural logarithm of x, or its logarithm in base", 1, 2, resolve_log, eval_log},
    {"LOG10", "LOG10(x NUMBER) -> DOUBLE", "base-10 logarithm", 1, 1, resolve_log10,
     eval_log10},
    {"LOG2", "LOG2(x NUMBER) -> DOUBLE", "base-2 logarithm", 1, 1, resolve_log2, eval_log2},
    {"SIN", "SIN(x NUMBER) -> DOUBLE", "sine of x radians", 1, 1, resolve_sin, eval_sin},
    {"COS", "COS(x NUMBER) -> DOUBLE", "cosine of x radians", 1, 1, resolve_cos, eval_cos},
    {"TAN", "TAN(x NUMBER) -> DOUBLE", "tangent of x radians", 1, 1, resolve_tan, eval_tan},
    {"ASIN", "ASIN(x NUMBER) -> DOUBLE", "arc sine in radians; NULL outside [-1, 1]", 1, 1,
     resolve_asin, eval_asin},
    {"ACOS", "ACOS(x NUMBER) -> DOUBLE", "arc cosine in radians; NULL outside [-1, 1]", 1, 1,
     resolve_acos, eval_acos},
    {"ATAN", "ATAN(x NUMBER) -> DOUBLE", "arc tangent in radians", 1, 1, resolve_atan,
     eval_atan},
    {"ATAN2", "ATAN2(y NUMBER, x NUMBER) -> DOUBLE", "angle of the point (x, y) in radians", 2,
     2, resolve_atan2, eval_atan2},
    {"DEGREES", "DEGREES(x NUMBER) -> DOUBLE", "radians to degrees", 1, 1, resolve_degrees,
     eval_degrees},
    {"RADIANS", "RADIANS(x NUMBER) -> DOUBLE", "degrees to radians", 1, 1, resolve_radians,
     eval_radians},
    {"PI", "PI() -> DOUBLE", "the constant pi", 0, 0, resolve_pi, eval_pi},
    {"E", "E() -> DOUBLE", "the constant e", 0, 0, resolve_e, eval_e},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};
