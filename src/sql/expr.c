/*
 * expr.c - binding: an expression's names resolved against the visible columns,
 * its types checked and unified, its functions resolved, and its constant parts
 * folded. The result is the typed tree of expr_impl.h that eval.c runs.
 *
 * Semantic choices (the CAST rules are in eval.c):
 *  - Integer literals are BIGINT, so 2147483647 + 1 is 2147483648 and INT + 1 is a
 *    BIGINT. Comparisons, IN lists and BETWEEN between an INT expression and
 *    integer constants that fit in an INT narrow the constants rather than widen
 *    the column. Literals with a point or an exponent are DOUBLE.
 *  - Numeric promotion INT -> BIGINT -> DOUBLE in arithmetic, comparisons and the
 *    branches of CASE, COALESCE, IF, NULLIF, GREATEST and LEAST. Integer + - * keep
 *    their type and give NULL on overflow; / truncates toward zero; division and
 *    modulo by zero give NULL (DOUBLEs too).
 *  - A NULL literal takes the type its context gives it (the other operand, the
 *    other branches, the CAST); with no context at all (SELECT NULL) it is STRING.
 *    A comparison, IN or BETWEEN with a NULL literal operand is NULL at once.
 *  - TIMESTAMP literals are 'YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]]' followed or not by
 *    an offset ('Z', '+02:00'). Without one the text is a wall-clock time in the
 *    session time zone (UTC by default), as the time functions of fn_time.c read
 *    text, so TIMESTAMP '2024-01-01 10:00:00' and TO_TIMESTAMP('2024-01-01
 *    10:00:00') are the same instant in any session. A STRING constant meeting a
 *    TIMESTAMP (comparison, IN, BETWEEN, branches) is parsed the same way, here,
 *    and a malformed one is an error, not a NULL.
 *  - DATE 'YYYY-MM-DD' is checked and becomes that STRING (DATE values are STRINGs);
 *    CAST(x AS DATE) of a TIMESTAMP or of date/timestamp text gives 'YYYY-MM-DD'.
 *  - INTERVAL literals are BIGINT microseconds marked as intervals: they add to and
 *    subtract from TIMESTAMPs (INTERVAL + ts too) and other intervals and compare
 *    with numbers; CAST(i AS BIGINT) makes a plain number of them. TIMESTAMP -
 *    TIMESTAMP is an error whose hint points at TIMESTAMPDIFF.
 *  - || joins STRINGs (or two BYTES); a non-string operand beside a STRING is CAST
 *    to STRING.
 *  - Folding: a node whose operands are all constants is evaluated here, once, by
 *    the evaluator itself, so folding cannot disagree with run time. A function
 *    called with no arguments (CURRENT_TIMESTAMP, NOW() ...) reads the clock and is
 *    never folded, nor is anything above it.
 *
 * Errors point at the node responsible: the unknown name, the operand whose type
 * clashes, the call with the wrong arguments. A bound expression keeps nothing of
 * the syntax tree (names and texts are copied), so the script may be freed once
 * its expressions are bound.
 */
#include "core/error.h"
#include "formats/format.h"
#include "sql/expr_impl.h"
#include "sql/tz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct binder {
    const sq_scope *scope;
    const sq_env *env;
    sq_error *err;
    int depth;
} binder;

/* The parser bounds parentheses, but a chain such as a OR b OR ... nests one level
 * per operator; binding and evaluation recurse over the tree, so its depth is
 * bounded here for both. */
enum { MAX_DEPTH = 1000 };

static const sq_env default_env = {"UTC"};

static int fail(binder *c, sq_pos pos, int code, const char *hint, const char *fmt, ...)
    SP_PRINTF(5, 6);

static int fail(binder *c, sq_pos pos, int code, const char *hint, const char *fmt, ...)
{
    if (!c->err) return code;
    char msg[sizeof c->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sq_fail(c->err, pos, code, "%s", msg);
    snprintf(c->err->hint, sizeof c->err->hint, "%s", hint ? hint : "");
    return code;
}

static int nomem(binder *c, sq_pos pos)
{
    return fail(c, pos, SPATE_ENOMEM, NULL, "out of memory");
}

/* ------------------------------------------------------------------ nodes */

void sq_bexpr_free(sq_bexpr *b)
{
    if (!b) return;
    for (int i = 0; i < b->nargs; i++)
        sq_bexpr_free(b->args[i]);
    free(b->args);
    if (b->like) {
        free(b->like->lit);
        free(b->like->tok);
        free(b->like);
    }
    free(b->text);
    free(b);
}

static sq_bexpr *node_new(sq_bkind kind, spate_type type, sq_pos pos, int nargs)
{
    sq_bexpr *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    *b = (sq_bexpr){.kind = kind, .type = type, .pos = pos, .null_flag = 1, .col = -1};
    if (nargs && !(b->args = calloc((size_t)nargs, sizeof *b->args))) {
        free(b);
        return NULL;
    }
    b->nargs = nargs;
    return b;
}

/* A node over args[0..nargs), which it takes (and frees when it cannot be made). */
static sq_bexpr *node_of(sq_bkind kind, spate_type type, sq_pos pos, sq_bexpr **args, int nargs)
{
    sq_bexpr *b = node_new(kind, type, pos, nargs);
    for (int i = 0; i < nargs; i++) {
        if (!b) {
            sq_bexpr_free(args[i]);
            continue;
        }
        b->args[i] = args[i];
        b->volatile_ |= args[i]->volatile_;
    }
    return b;
}

static void free_all(sq_bexpr **v, int n)
{
    for (int i = 0; i < n; i++)
        sq_bexpr_free(v[i]);
}

static sq_bexpr *const_null(spate_type type, sq_pos pos)
{
    sq_bexpr *b = node_new(SQ_B_CONST, type, pos, 0);
    if (b) b->is_null = 1;
    return b;
}

/* Sets the value of constant b (of an integer type: BOOL, INT, BIGINT, TIMESTAMP). */
static void set_int(sq_bexpr *b, int64_t v)
{
    switch (b->type) {
    case SPATE_BOOL:
        b->c.b = v != 0;
        break;
    case SPATE_INT32:
        b->c.i32 = (int32_t)v;
        break;
    default:
        b->c.i64 = v;
        break;
    }
}

static sq_bexpr *const_int(spate_type type, int64_t v, sq_pos pos)
{
    sq_bexpr *b = node_new(SQ_B_CONST, type, pos, 0);
    if (b) set_int(b, v);
    return b;
}

static sq_bexpr *const_str(const char *p, size_t len, sq_pos pos)
{
    sq_bexpr *b = node_new(SQ_B_CONST, SPATE_STRING, pos, 0);
    if (b && !(b->text = malloc(len + 1))) {
        free(b);
        return NULL;
    }
    if (!b) return NULL;
    if (len) memcpy(b->text, p, len);
    b->text[len] = 0;
    b->c.s = (spate_str){b->text, len};
    return b;
}

/* A constant holding v (of type t); takes v's string. */
static sq_bexpr *const_of_value(sq_value *v, spate_type t, sq_pos pos)
{
    sq_bexpr *b = node_new(SQ_B_CONST, t, pos, 0);
    if (!b) return NULL;
    b->is_null = v->is_null;
    if (v->is_null) return b;
    if (t == SPATE_FLOAT64) {
        b->c.f64 = v->d;
    } else if (sp_type_is_str(t)) {
        b->text = v->s;
        b->c.s = (spate_str){v->s, v->len};
        v->s = NULL;
    } else {
        set_int(b, v->i);
    }
    return b;
}

static int is_untyped_null(const sq_bexpr *b)
{
    return b->type == 0;
}

static int is_const_null(const sq_bexpr *b)
{
    return b->kind == SQ_B_CONST && b->is_null;
}

/* Replaces *bp by its value when all its operands are constants and it does not
 * read the clock. An evaluation error (other than memory) leaves it for run time. */
static int fold(binder *c, sq_bexpr **bp)
{
    sq_bexpr *b = *bp;
    if (b->kind == SQ_B_CONST || b->kind == SQ_B_COLUMN || b->volatile_ || !b->type) return 0;
    for (int i = 0; i < b->nargs; i++)
        if (b->args[i]->kind != SQ_B_CONST) return 0;
    sq_value v;
    int rc = sq_eval_value(b, c->env, 0, &v);
    sq_bexpr *k = rc ? NULL : const_of_value(&v, b->type, b->pos);
    sq_value_clear(&v);
    if (!k) return rc && rc != SPATE_ENOMEM ? 0 : nomem(c, b->pos);
    k->interval = b->interval;
    sq_bexpr_free(b);
    *bp = k;
    return 0;
}

/* Hands b (folded) to *out; a NULL b is a failed allocation. */
static int finish(binder *c, sq_bexpr *b, sq_pos pos, sq_bexpr **out)
{
    *out = NULL;
    if (!b) return nomem(c, pos);
    int rc = fold(c, &b);
    if (rc) {
        sq_bexpr_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ------------------------------------------------------------------ types */

static int is_num(spate_type t)
{
    return t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_FLOAT64;
}

/* INT < BIGINT < DOUBLE: the enum is in that order. */
static spate_type num_max(spate_type a, spate_type b)
{
    return a > b ? a : b;
}

static const char *tname(const sq_bexpr *b)
{
    if (b->interval) return "INTERVAL";
    return b->type ? spate_type_name(b->type) : "NULL";
}

static const char *op_text(sq_op op)
{
    static const char *const text[] = {"?", "+",  "-", "*",  "/",   "%",  "||",  "=", "<>",
                                       "<", "<=", ">", ">=", "AND", "OR", "NOT", "-", "+"};
    return (size_t)op < sizeof text / sizeof text[0] ? text[op] : "?";
}

/* Wraps *bp in a CAST to t, folded when constant. On failure *bp is NULL (freed). */
static int cast_to(binder *c, sq_bexpr **bp, spate_type t)
{
    sq_bexpr *x = *bp;
    if (x->type == t) return 0;
    if (is_const_null(x)) {
        x->type = t;
        return 0;
    }
    sq_pos pos = x->pos;
    *bp = NULL;
    return finish(c, node_of(SQ_B_CAST, t, pos, &x, 1), pos, bp);
}

/* Text of a TIMESTAMP in the session zone (see sq_text_to_ts). */
static int parse_ts(binder *c, sq_pos pos, const char *s, size_t n, int64_t *us)
{
    const sq_tz *tz;
    if (sq_tz_get(c->env->time_zone, &tz))
        return fail(c, pos, SPATE_ENOTFOUND, NULL, "unknown time zone '%s'", c->env->time_zone);
    if (!sq_text_to_ts(s, n, tz, us)) return 0;
    return fail(c, pos, SPATE_EINVAL, "write 'YYYY-MM-DD HH:MM:SS[.ffffff]'",
                "'%.*s' is not a valid TIMESTAMP", (int)(n > 64 ? 64 : n), s);
}

/* Converts *bp to t as the language does implicitly: a NULL is retyped, a text
 * constant parsed as a TIMESTAMP, a fitting BIGINT constant narrowed to INT,
 * anything else CAST. */
static int coerce(binder *c, sq_bexpr **bp, spate_type t)
{
    sq_bexpr *x = *bp;
    if (x->type == t || is_const_null(x)) {
        x->type = t;
        return 0;
    }
    if (t == SPATE_TIMESTAMP && x->type == SPATE_STRING && x->kind == SQ_B_CONST) {
        int64_t us;
        int rc = parse_ts(c, x->pos, x->c.s.ptr, x->c.s.len, &us);
        if (rc) return rc;
        free(x->text);
        x->text = NULL;
        x->type = SPATE_TIMESTAMP;
        x->c.i64 = us;
        return 0;
    }
    if (t == SPATE_INT32 && x->type == SPATE_INT64 && x->kind == SQ_B_CONST) {
        x->type = SPATE_INT32;
        x->c.i32 = (int32_t)x->c.i64;
        return 0;
    }
    return cast_to(c, bp, t);
}

static int fits_int32(const sq_bexpr *b)
{
    return b->kind == SQ_B_CONST && !b->interval &&
           (b->is_null || (b->c.i64 >= INT32_MIN && b->c.i64 <= INT32_MAX));
}

/* The common type of items (0 when all are untyped NULLs). Numbers promote; text
 * constants beside a TIMESTAMP count as TIMESTAMPs; with narrow, BIGINT constants
 * beside INT expressions become INT when they all fit. -1 on a clash, with the two
 * clashing items in *ia, *ib. */
static int common_type(sq_bexpr **items, int n, int narrow, spate_type *out, int *ia, int *ib)
{
    spate_type t = 0;
    int first = -1, has_ts = 0;
    for (int i = 0; i < n; i++)
        has_ts |= items[i]->type == SPATE_TIMESTAMP;
    for (int i = 0; i < n; i++) {
        spate_type u = items[i]->type;
        if (!u) continue;
        if (has_ts && u == SPATE_STRING && items[i]->kind == SQ_B_CONST) u = SPATE_TIMESTAMP;
        if (!t || u == t || (is_num(u) && is_num(t))) {
            t = t ? num_max(t, u) : u;
            first = first < 0 ? i : first;
            continue;
        }
        *ia = first;
        *ib = i;
        return -1;
    }
    if (narrow && t == SPATE_INT64) {
        int int32_expr = 0, all_fit = 1;
        for (int i = 0; i < n; i++) {
            if (items[i]->type == SPATE_INT32 && items[i]->kind != SQ_B_CONST) int32_expr = 1;
            if (items[i]->type == SPATE_INT64 && !fits_int32(items[i])) all_fit = 0;
        }
        if (int32_expr && all_fit) t = SPATE_INT32;
    }
    *out = t;
    return 0;
}

/* Brings items to their common type. what names the construct in the error
 * ("CASE"), NULL for comparisons. */
static int unify(binder *c, sq_bexpr **items, int n, int narrow, const char *what, spate_type *out)
{
    int a = 0, b = 0;
    if (common_type(items, n, narrow, out, &a, &b)) {
        if (!what)
            return fail(c, items[b]->pos, SPATE_ETYPE, "CAST one side to the type of the other",
                        "cannot compare %s with %s", tname(items[a]), tname(items[b]));
        return fail(c, items[b]->pos, SPATE_ETYPE, "CAST the values to one type",
                    "%s: incompatible types %s and %s", what, tname(items[a]), tname(items[b]));
    }
    for (int i = 0; *out && i < n; i++) {
        int rc = coerce(c, &items[i], *out);
        if (rc) return rc;
    }
    return 0;
}

static int want_bool(binder *c, sq_bexpr *x, const char *what)
{
    if (is_untyped_null(x)) x->type = SPATE_BOOL;
    if (x->type == SPATE_BOOL) return 0;
    return fail(c, x->pos, SPATE_ETYPE, NULL, "%s needs a BOOLEAN, got %s", what, tname(x));
}

/* ---------------------------------------------------------------- columns */

static int bind_column(binder *c, const sq_expr *e, sq_bexpr **out)
{
    const sq_scope *s = c->scope;
    int found = -1, qual_seen = 0;
    for (int i = 0; i < s->ncols; i++) {
        const sq_scope_col *col = &s->cols[i];
        int qual_ok = !e->qual || (col->qual && strcasecmp(col->qual, e->qual) == 0);
        qual_seen |= qual_ok;
        if (!qual_ok || strcasecmp(col->name, e->name) != 0) continue;
        if (found >= 0) {
            char hint[160];
            const sq_scope_col *f = &s->cols[found];
            if (f->qual && col->qual)
                snprintf(hint, sizeof hint, "qualify it: '%s.%s' or '%s.%s'", f->qual, f->name,
                         col->qual, col->name);
            else
                snprintf(hint, sizeof hint, "qualify it with its table's name or alias");
            return fail(c, e->pos, SPATE_EINVAL, hint, "column '%s' is ambiguous", e->name);
        }
        found = i;
    }
    if (found >= 0) {
        const sq_scope_col *col = &s->cols[found];
        sq_bexpr *b = node_new(SQ_B_COLUMN, col->type, e->pos, 0);
        if (b) b->col = col->index;
        return finish(c, b, e->pos, out);
    }
    /* Unknown: the closest name among those the reference could mean (the
     * qualifiers when no column has this one). Close: at most half the letters
     * differ. */
    int bad_qual = e->qual && !qual_seen;
    const char *looked = bad_qual ? e->qual : e->name, *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < s->ncols; i++) {
        const sq_scope_col *col = &s->cols[i];
        if (!bad_qual && e->qual && (!col->qual || strcasecmp(col->qual, e->qual) != 0)) continue;
        const char *cand = bad_qual ? col->qual : col->name;
        if (!cand) continue;
        int d = sq_edit_distance(looked, cand);
        if (d < best_d) best = cand, best_d = d;
    }
    size_t longest = best ? strlen(best) : 0;
    if (strlen(looked) > longest) longest = strlen(looked);
    char hint[160] = "";
    if (best && (size_t)best_d * 2 <= longest)
        snprintf(hint, sizeof hint, "did you mean '%s'?", best);
    if (bad_qual)
        return fail(c, e->pos, SPATE_ENOTFOUND, hint, "unknown table or alias '%s'", e->qual);
    if (e->qual)
        return fail(c, e->pos, SPATE_ENOTFOUND, hint, "unknown column '%s.%s'", e->qual, e->name);
    return fail(c, e->pos, SPATE_ENOTFOUND, hint, "unknown column '%s'", e->name);
}

/* --------------------------------------------------------------- literals */

static int bind_literal(binder *c, const sq_expr *e, sq_bexpr **out)
{
    sq_bexpr *b = NULL;
    int64_t us;
    switch (e->kind) {
    case SQ_LIT_NULL:
        b = const_null(0, e->pos);
        break;
    case SQ_LIT_BOOL:
        b = const_int(SPATE_BOOL, e->ival, e->pos);
        break;
    case SQ_LIT_INT:
        b = const_int(SPATE_INT64, e->ival, e->pos);
        break;
    case SQ_LIT_INTERVAL:
        if ((b = const_int(SPATE_INT64, e->ival, e->pos))) b->interval = 1;
        break;
    case SQ_LIT_DOUBLE:
        if ((b = node_new(SQ_B_CONST, SPATE_FLOAT64, e->pos, 0))) b->c.f64 = e->dval;
        break;
    case SQ_LIT_STRING:
        b = const_str(e->str, strlen(e->str), e->pos);
        break;
    case SQ_LIT_TIMESTAMP: {
        int rc = parse_ts(c, e->pos, e->str, strlen(e->str), &us);
        if (rc) return rc;
        b = const_int(SPATE_TIMESTAMP, us, e->pos);
        break;
    }
    default: /* SQ_LIT_DATE */
        if (strlen(e->str) != 10 || sp_ts_parse(e->str, 10, &us))
            return fail(c, e->pos, SPATE_EINVAL, "write DATE 'YYYY-MM-DD'",
                        "invalid DATE literal '%s'", e->str);
        b = const_str(e->str, 10, e->pos);
        break;
    }
    return finish(c, b, e->pos, out);
}

/* -------------------------------------------------------------- operators */

static int bind_expr(binder *c, const sq_expr *e, sq_bexpr **out);

/* Binds args[0..n) into out[0..n); on failure nothing is left to free. */
static int bind_list(binder *c, sq_expr *const *args, int n, sq_bexpr **out)
{
    for (int i = 0; i < n; i++) {
        int rc = bind_expr(c, args[i], &out[i]);
        if (rc) {
            free_all(out, i);
            return rc;
        }
    }
    return 0;
}

static int bind_not(binder *c, sq_bexpr *x, sq_pos pos, sq_bexpr **out)
{
    int rc = want_bool(c, x, "NOT");
    if (rc) {
        sq_bexpr_free(x);
        return rc;
    }
    return finish(c, node_of(SQ_B_NOT, SPATE_BOOL, pos, &x, 1), pos, out);
}

static int bind_unary(binder *c, const sq_expr *e, sq_bexpr **out)
{
    sq_bexpr *x;
    int rc = bind_expr(c, e->args[0], &x);
    if (rc) return rc;
    if (e->op == SQ_OP_NOT) return bind_not(c, x, e->pos, out);
    /* The parser writes SQ_OP_NEG and SQ_OP_PLUS; the characters are accepted too. */
    int plus = e->op == SQ_OP_PLUS || e->op == SQ_OP_ADD || e->op == '+';
    if (!is_untyped_null(x) && !is_num(x->type)) {
        rc = fail(c, x->pos, SPATE_ETYPE, NULL, "unary '%c' needs a number, got %s",
                  plus ? '+' : '-', tname(x));
        sq_bexpr_free(x);
        return rc;
    }
    if (plus || is_untyped_null(x)) {
        *out = x;
        return 0;
    }
    spate_type t = x->type;
    int interval = x->interval;
    sq_bexpr *b = node_of(SQ_B_NEG, t, e->pos, &x, 1);
    if (b) b->interval = interval;
    return finish(c, b, e->pos, out);
}

/* l op r for + - * / %; takes l and r. */
static int bind_arith(binder *c, sq_op op, sq_bexpr *l, sq_bexpr *r, sq_pos pos, sq_bexpr **out)
{
    sq_bexpr *lr[2] = {l, r};
    /* A NULL operand takes the type the other side calls for. */
    for (int k = 0; k < 2; k++) {
        sq_bexpr *x = lr[k], *y = lr[1 - k];
        if (!is_untyped_null(x)) continue;
        if (y->type == SPATE_TIMESTAMP || y->interval) x->interval = 1;
        x->type = is_num(y->type) ? y->type : SPATE_INT64;
        if (!is_untyped_null(y) && !is_num(y->type) && y->type != SPATE_TIMESTAMP) x->type = 0;
    }
    int add_sub = op == SQ_OP_ADD || op == SQ_OP_SUB, rc;
    spate_type lt = l->type, rt = r->type, t = 0;
    const char *hint = NULL;
    if (lt == SPATE_TIMESTAMP && rt == SPATE_TIMESTAMP && op == SQ_OP_SUB) {
        rc = fail(c, pos, SPATE_ETYPE,
                  "use TIMESTAMPDIFF(SECOND, start, finish) for the time between two TIMESTAMPs",
                  "cannot subtract a TIMESTAMP from a TIMESTAMP");
        free_all(lr, 2);
        return rc;
    }
    if (op == SQ_OP_ADD && l->interval && rt == SPATE_TIMESTAMP) {
        lr[0] = r;
        lr[1] = l;
        lt = SPATE_TIMESTAMP;
    }
    if (lt == SPATE_TIMESTAMP || rt == SPATE_TIMESTAMP) {
        if (lt == SPATE_TIMESTAMP && lr[1]->interval && add_sub)
            t = SPATE_TIMESTAMP;
        else
            hint = "add or subtract an INTERVAL: ts + INTERVAL '1' HOUR";
    } else if (l->interval || r->interval) {
        if (l->interval && r->interval && add_sub)
            t = SPATE_INT64;
        else
            hint = "an INTERVAL only adds to or subtracts from a TIMESTAMP or an INTERVAL";
    } else if (is_num(lt) && is_num(rt)) {
        t = num_max(lt, rt);
        if ((rc = coerce(c, &lr[0], t)) || (rc = coerce(c, &lr[1], t))) {
            free_all(lr, 2);
            return rc;
        }
    } else if (op == SQ_OP_ADD && (lt == SPATE_STRING || rt == SPATE_STRING)) {
        hint = "use || to join strings, or CAST the text to a number";
    }
    if (!t) {
        /* The caret goes under the operand that does not fit. */
        int left_ok = is_num(lt) || lt == SPATE_TIMESTAMP;
        rc = fail(c, lr[left_ok]->pos, SPATE_ETYPE, hint, "cannot apply '%s' to %s and %s",
                  op_text(op), tname(lr[0]), tname(lr[1]));
        free_all(lr, 2);
        return rc;
    }
    int interval = t == SPATE_INT64;
    sq_bexpr *b = node_of(SQ_B_ARITH, t, pos, lr, 2);
    if (b) {
        b->op = op;
        b->interval = interval && b->args[0]->interval;
    }
    return finish(c, b, pos, out);
}

static int bind_concat(binder *c, sq_bexpr *l, sq_bexpr *r, sq_pos pos, sq_bexpr **out)
{
    sq_bexpr *lr[2] = {l, r};
    int bytes = l->type == SPATE_BYTES || r->type == SPATE_BYTES, rc = 0;
    spate_type t = bytes ? SPATE_BYTES : SPATE_STRING;
    for (int k = 0; k < 2; k++)
        if (is_untyped_null(lr[k])) lr[k]->type = t;
    int ok = bytes ? l->type == SPATE_BYTES && r->type == SPATE_BYTES
                   : l->type == SPATE_STRING || r->type == SPATE_STRING;
    if (!ok)
        rc = fail(c, lr[l->type == t]->pos, SPATE_ETYPE,
                  "|| joins strings: CAST the operands to STRING", "cannot apply '||' to %s and %s",
                  tname(l), tname(r));
    for (int k = 0; k < 2 && !rc; k++) {
        lr[k]->interval = 0;
        rc = cast_to(c, &lr[k], t);
    }
    if (rc) {
        free_all(lr, 2);
        return rc;
    }
    return finish(c, node_of(SQ_B_CONCAT, t, pos, lr, 2), pos, out);
}

/* l op r for = <> < <= > >=; takes l and r. */
static int bind_cmp(binder *c, sq_op op, sq_bexpr *l, sq_bexpr *r, sq_pos pos, sq_bexpr **out)
{
    sq_bexpr *lr[2] = {l, r};
    spate_type t;
    int rc = unify(c, lr, 2, 1, NULL, &t);
    if (rc || !t || is_const_null(lr[0]) || is_const_null(lr[1])) {
        free_all(lr, 2);
        return rc ? rc : finish(c, const_null(SPATE_BOOL, pos), pos, out);
    }
    sq_bexpr *b = node_of(SQ_B_CMP, SPATE_BOOL, pos, lr, 2);
    if (b) b->op = op;
    return finish(c, b, pos, out);
}

static int bind_binary(binder *c, const sq_expr *e, sq_bexpr **out)
{
    sq_bexpr *lr[2];
    int rc = bind_list(c, e->args, 2, lr);
    if (rc) return rc;
    switch (e->op) {
    case SQ_OP_AND:
    case SQ_OP_OR:
        if ((rc = want_bool(c, lr[0], op_text(e->op))) ||
            (rc = want_bool(c, lr[1], op_text(e->op)))) {
            free_all(lr, 2);
            return rc;
        }
        return finish(c,
                      node_of(e->op == SQ_OP_AND ? SQ_B_AND : SQ_B_OR, SPATE_BOOL, e->pos, lr, 2),
                      e->pos, out);
    case SQ_OP_ADD:
    case SQ_OP_SUB:
    case SQ_OP_MUL:
    case SQ_OP_DIV:
    case SQ_OP_MOD:
        return bind_arith(c, e->op, lr[0], lr[1], e->pos, out);
    case SQ_OP_CONCAT:
        return bind_concat(c, lr[0], lr[1], e->pos, out);
    case SQ_OP_EQ:
    case SQ_OP_NE:
    case SQ_OP_LT:
    case SQ_OP_LE:
    case SQ_OP_GT:
    case SQ_OP_GE:
        return bind_cmp(c, e->op, lr[0], lr[1], e->pos, out);
    default:
        free_all(lr, 2);
        return fail(c, e->pos, SPATE_EINVAL, NULL, "unsupported operator");
    }
}

/* ---------------------------------------------------------------- predicates */

static int bind_is(binder *c, const sq_expr *e, sq_bexpr **out)
{
    sq_bexpr *x;
    int rc = bind_expr(c, e->args[0], &x);
    if (rc) return rc;
    if (e->kind == SQ_IS_BOOL && (rc = want_bool(c, x, e->ival ? "IS TRUE" : "IS FALSE"))) {
        sq_bexpr_free(x);
        return rc;
    }
    if (is_untyped_null(x)) x->type = SPATE_BOOL;
    sq_bexpr *b =
        node_of(e->kind == SQ_IS_BOOL ? SQ_B_IS_BOOL : SQ_B_IS_NULL, SPATE_BOOL, e->pos, &x, 1);
    if (b) {
        b->negated = e->negated != 0;
        b->truth = e->ival != 0;
    }
    return finish(c, b, e->pos, out);
}

/* IN and BETWEEN: all operands compared with args[0], so of one type. */
static int bind_in_between(binder *c, const sq_expr *e, sq_bexpr **out)
{
    int n = e->nargs;
    sq_bexpr **v = calloc((size_t)n, sizeof *v);
    if (!v) return nomem(c, e->pos);
    spate_type t = 0;
    int rc = bind_list(c, e->args, n, v);
    if (!rc && (rc = unify(c, v, n, 1, NULL, &t))) free_all(v, n);
    if (rc || !t || is_const_null(v[0])) {
        if (!rc) free_all(v, n);
        free(v);
        return rc ? rc : finish(c, const_null(SPATE_BOOL, e->pos), e->pos, out);
    }
    sq_bexpr *b = node_of(e->kind == SQ_IN ? SQ_B_IN : SQ_B_BETWEEN, SPATE_BOOL, e->pos, v, n);
    free(v);
    if (b && e->kind == SQ_BETWEEN) b->negated = e->negated != 0;
    if (e->kind == SQ_BETWEEN || !e->negated) return finish(c, b, e->pos, out);
    if ((rc = finish(c, b, e->pos, &b))) return rc;
    return bind_not(c, b, e->pos, out);
}

static void *heap_alloc(void *arg, size_t bytes)
{
    return malloc(bytes ? bytes : 1);
}

/* A constant pattern (and escape) compiles once, here; a malformed one is an error. */
static int compile_like(binder *c, sq_bexpr *b)
{
    sq_bexpr *p = b->args[1], *esc = b->nargs > 2 ? b->args[2] : NULL;
    int e = -1;
    if (esc && esc->c.s.len != 1)
        return fail(c, esc->pos, SPATE_EINVAL, NULL, "the ESCAPE of LIKE must be one character");
    if (esc) e = (unsigned char)esc->c.s.ptr[0];
    sq_like *lk = calloc(1, sizeof *lk);
    if (!lk) return nomem(c, b->pos);
    b->like = lk;
    int rc = sq_like_compile(p->c.s.ptr, p->c.s.len, e, heap_alloc, NULL, lk);
    if (rc == SPATE_ENOMEM) return nomem(c, b->pos);
    if (rc)
        return fail(c, p->pos, SPATE_EINVAL,
                    "the escape character must be followed by '%', '_' or itself",
                    "invalid LIKE pattern '%s'", p->text);
    return 0;
}

static int bind_like(binder *c, const sq_expr *e, sq_bexpr **out)
{
    int n = e->nargs > 3 ? 3 : e->nargs;
    sq_bexpr *v[3];
    int rc = bind_list(c, e->args, n, v);
    if (rc) return rc;
    int has_null = 0;
    for (int k = 0; k < n && !rc; k++) {
        if (is_untyped_null(v[k])) v[k]->type = SPATE_STRING;
        has_null |= is_const_null(v[k]);
        if (v[k]->type != SPATE_STRING)
            rc = fail(c, v[k]->pos, SPATE_ETYPE, NULL, "LIKE needs STRING operands, got %s",
                      tname(v[k]));
    }
    if (rc || has_null) {
        free_all(v, n);
        return rc ? rc : finish(c, const_null(SPATE_BOOL, e->pos), e->pos, out);
    }
    sq_bexpr *b = node_of(SQ_B_LIKE, SPATE_BOOL, e->pos, v, n);
    if (!b) return nomem(c, e->pos);
    if (v[1]->kind == SQ_B_CONST && (n < 3 || v[2]->kind == SQ_B_CONST) &&
        (rc = compile_like(c, b))) {
        sq_bexpr_free(b);
        return rc;
    }
    if (!e->negated) return finish(c, b, e->pos, out);
    if ((rc = finish(c, b, e->pos, &b))) return rc;
    return bind_not(c, b, e->pos, out);
}

/* --------------------------------------------------------- conditionals */

static int bind_case(binder *c, const sq_expr *e, sq_bexpr **out)
{
    int has_operand = e->operand != NULL, has_else = e->else_ != NULL;
    int n = has_operand + 2 * e->nwhens + has_else, k = 0, rc = 0;
    sq_bexpr **v = calloc((size_t)n, sizeof *v), **tmp = calloc((size_t)n, sizeof *tmp);
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return nomem(c, e->pos);
    }
    if (has_operand) rc = bind_expr(c, e->operand, &v[k++]);
    for (int i = 0; i < e->nwhens && !rc; i++) {
        if (!(rc = bind_expr(c, e->whens[i], &v[k++])) && !has_operand)
            rc = want_bool(c, v[k - 1], "WHEN");
        if (!rc) rc = bind_expr(c, e->thens[i], &v[k++]);
    }
    if (!rc && has_else) rc = bind_expr(c, e->else_, &v[k++]);
    spate_type t = 0;
    /* The operand and the WHEN values of a simple CASE are compared: one type. */
    if (!rc && has_operand) {
        tmp[0] = v[0];
        for (int i = 0; i < e->nwhens; i++)
            tmp[1 + i] = v[1 + 2 * i];
        rc = unify(c, tmp, 1 + e->nwhens, 1, NULL, &t);
        v[0] = tmp[0];
        for (int i = 0; i < e->nwhens; i++)
            v[1 + 2 * i] = tmp[1 + i];
        if (!rc && !t) { /* all NULL: nothing matches; any type will do to run */
            v[0]->type = SPATE_BOOL;
            for (int i = 0; i < e->nwhens; i++)
                v[1 + 2 * i]->type = SPATE_BOOL;
        }
    }
    int m = 0;
    if (!rc) {
        for (int i = 0; i < e->nwhens; i++)
            tmp[m++] = v[has_operand + 2 * i + 1];
        if (has_else) tmp[m++] = v[n - 1];
        rc = unify(c, tmp, m, 0, "CASE", &t);
        for (int i = 0; i < e->nwhens; i++)
            v[has_operand + 2 * i + 1] = tmp[i];
        if (has_else) v[n - 1] = tmp[m - 1];
    }
    free(tmp);
    if (rc || !t) {
        free_all(v, n);
        free(v);
        return rc ? rc : finish(c, const_null(0, e->pos), e->pos, out);
    }
    sq_bexpr *b = node_of(SQ_B_CASE, t, e->pos, v, n);
    free(v);
    if (b) {
        b->has_operand = has_operand;
        b->has_else = has_else;
    }
    return finish(c, b, e->pos, out);
}

static int bind_cast(binder *c, const sq_expr *e, sq_bexpr **out)
{
    spate_type t;
    if (sq_type_from_name(e->type_name, &t))
        return fail(c, e->pos, SPATE_ENOTFOUND,
                    "types: BOOLEAN, INT, BIGINT, DOUBLE, STRING, BYTES, TIMESTAMP, DATE",
                    "unknown type '%s'", e->type_name ? e->type_name : "");
    sq_bexpr *x;
    int rc = bind_expr(c, e->args[0], &x);
    if (rc) return rc;
    int date = strcasecmp(e->type_name, "DATE") == 0;
    if (is_const_null(x)) {
        x->type = t;
        x->interval = 0;
        *out = x;
        return 0;
    }
    if (date ? x->type != SPATE_STRING && x->type != SPATE_TIMESTAMP
             : !sq_cast_allowed(x->type, t)) {
        rc = fail(c, e->pos, SPATE_ETYPE, NULL, "cannot cast %s to %s", tname(x),
                  date ? "DATE" : spate_type_name(t));
        sq_bexpr_free(x);
        return rc;
    }
    x->interval = 0;
    if (x->type == t && !date) {
        *out = x;
        return 0;
    }
    sq_bexpr *b = node_of(SQ_B_CAST, t, e->pos, &x, 1);
    if (b) b->date = date;
    return finish(c, b, e->pos, out);
}

/* ----------------------------------------------------------------- functions */

static const sq_builtin *builtin_find(const char *name)
{
    for (const sq_builtin *b = sq_builtins; b->name; b++)
        if (strcasecmp(b->name, name) == 0) return b;
    return NULL;
}

static int arg_count_error(binder *c, const sq_expr *e, const char *signature, int min, int max)
{
    char want[48];
    if (max < 0)
        snprintf(want, sizeof want, "at least %d argument%s", min, min == 1 ? "" : "s");
    else if (min == max)
        snprintf(want, sizeof want, "%d argument%s", min, min == 1 ? "" : "s");
    else
        snprintf(want, sizeof want, "%d to %d arguments", min, max);
    return fail(c, e->pos, SPATE_EINVAL, signature, "%s expects %s, got %d", e->name, want,
                e->nargs);
}

/* COALESCE, NULLIF, IF, GREATEST, LEAST. */
static int bind_builtin(binder *c, const sq_expr *e, const sq_builtin *bi, sq_bexpr **out)
{
    const char *name = bi->name;
    int is_if = strcmp(name, "IF") == 0, is_nullif = strcmp(name, "NULLIF") == 0;
    int fixed = is_if ? 3 : is_nullif ? 2 : 0;
    if (fixed ? e->nargs != fixed : e->nargs < 1)
        return arg_count_error(c, e, bi->signature, fixed ? fixed : 1, fixed ? fixed : -1);
    int n = e->nargs;
    sq_bexpr **v = calloc((size_t)n, sizeof *v);
    if (!v) return nomem(c, e->pos);
    spate_type t = 0;
    int rc = bind_list(c, e->args, n, v);
    if (rc) {
        free(v);
        return rc;
    }
    if (is_if && !(rc = want_bool(c, v[0], "the condition of IF")))
        rc = unify(c, v + 1, 2, 0, name, &t);
    else if (!is_if)
        rc = unify(c, v, n, is_nullif, name, &t);
    /* COALESCE skips NULL constants and stops at the first constant that is not. */
    int m = n;
    if (!rc && strcmp(name, "COALESCE") == 0) {
        m = 0;
        for (int i = 0; i < n; i++) {
            if (m && v[m - 1]->kind == SQ_B_CONST)
                sq_bexpr_free(v[i]);
            else if (is_const_null(v[i]))
                sq_bexpr_free(v[i]);
            else
                v[m++] = v[i];
        }
        if (m == 1) {
            *out = v[0];
            free(v);
            return 0;
        }
    }
    /* GREATEST and LEAST are NULL as soon as one argument is. */
    int greatest = strcmp(name, "GREATEST") == 0 || strcmp(name, "LEAST") == 0, any_null = 0;
    for (int i = 0; i < m; i++)
        any_null |= is_const_null(v[i]);
    if (rc || !t || m == 0 || (greatest && any_null) || (is_nullif && is_const_null(v[0]))) {
        free_all(v, m);
        free(v);
        return rc ? rc : finish(c, const_null(t, e->pos), e->pos, out);
    }
    sq_bkind kind = is_if       ? SQ_B_CASE
                    : is_nullif ? SQ_B_NULLIF
                    : greatest  ? SQ_B_GREATEST
                                : SQ_B_COALESCE;
    sq_bexpr *b = node_of(kind, t, e->pos, v, m);
    free(v);
    if (b) {
        b->has_else = is_if;
        b->negated = strcmp(name, "LEAST") == 0;
    }
    return finish(c, b, e->pos, out);
}

/* The candidate types an untyped NULL argument is offered to a function as. */
static const spate_type null_candidates[] = {SPATE_STRING, SPATE_INT64, SPATE_FLOAT64, SPATE_BOOL,
                                             SPATE_TIMESTAMP};

static int bind_call(binder *c, const sq_expr *e, const sq_func *fn, sq_bexpr **out)
{
    if (e->nargs < fn->min_args || (fn->max_args >= 0 && e->nargs > fn->max_args))
        return arg_count_error(c, e, fn->signature, fn->min_args, fn->max_args);
    int n = e->nargs;
    size_t cnt = (size_t)(n ? n : 1);
    sq_bexpr **v = calloc(cnt, sizeof *v);
    spate_type *types = calloc(cnt, sizeof *types), *want = calloc(cnt, sizeof *want);
    int rc = v && types && want ? bind_list(c, e->args, n, v) : nomem(c, e->pos);
    if (rc) {
        free(v);
        free(types);
        free(want);
        return rc;
    }
    char why[256] = "";
    spate_type result = 0;
    int has_null = 0;
    for (int i = 0; i < n; i++)
        has_null |= is_untyped_null(v[i]);
    /* Untyped NULL arguments: the first candidate type the function accepts. */
    for (size_t k = 0; k < (has_null ? sizeof null_candidates / sizeof null_candidates[0] : 1);
         k++) {
        for (int i = 0; i < n; i++) {
            types[i] = is_untyped_null(v[i]) ? null_candidates[k] : v[i]->type;
            want[i] = types[i];
        }
        rc = fn->resolve(types, n, want, &result, why, sizeof why);
        if (!rc) break;
    }
    if (rc) {
        if (has_null) { /* report against the first candidate */
            for (int i = 0; i < n; i++)
                want[i] = types[i] = v[i]->type ? v[i]->type : SPATE_STRING;
            fn->resolve(types, n, want, &result, why, sizeof why);
        }
        rc = fail(c, e->pos, rc == SPATE_EINVAL ? SPATE_EINVAL : SPATE_ETYPE, fn->signature, "%s",
                  why[0] ? why : "wrong argument types");
    }
    for (int i = 0; i < n && !rc; i++) {
        if (is_untyped_null(v[i])) v[i]->type = types[i];
        if (want[i] == v[i]->type) continue;
        if (!sq_cast_allowed(v[i]->type, want[i]))
            rc =
                fail(c, v[i]->pos, SPATE_ETYPE, fn->signature, "argument %d of %s cannot become %s",
                     i + 1, fn->name, spate_type_name(want[i]));
        else
            rc = cast_to(c, &v[i], want[i]);
    }
    free(types);
    free(want);
    if (rc) {
        free_all(v, n);
        free(v);
        return rc;
    }
    sq_bexpr *b = node_of(SQ_B_FUNC, result, e->pos, v, n);
    free(v);
    if (b) {
        b->fn = fn;
        b->volatile_ |= n == 0;
    }
    return finish(c, b, e->pos, out);
}

static int bind_func(binder *c, const sq_expr *e, sq_bexpr **out)
{
    const char *name = e->name ? e->name : "";
    if (sq_is_aggregate(name))
        return fail(c, e->pos, SPATE_EINVAL, NULL,
                    "%s is an aggregate function: it is only allowed in the SELECT list or "
                    "HAVING of a grouped query",
                    name);
    if (sq_is_window_function(name))
        return fail(c, e->pos, SPATE_EINVAL, NULL,
                    "%s is a window function: it is only allowed in the SELECT list, with OVER "
                    "(PARTITION BY ... ORDER BY ...)",
                    name);
    if (e->over)
        return fail(c, e->pos, SPATE_EINVAL, NULL, "OVER is only allowed after ROW_NUMBER()");
    if (e->distinct || e->star_arg)
        return fail(c, e->pos, SPATE_EINVAL, NULL, "%s is only allowed in aggregate functions",
                    e->distinct ? "DISTINCT" : "'*'");
    const sq_builtin *bi = builtin_find(name);
    if (bi) return bind_builtin(c, e, bi, out);
    const sq_func *fn = sq_func_find(name);
    if (fn) return bind_call(c, e, fn, out);
    const char *close = sq_function_suggest(name);
    char hint[160] = "";
    if (close) snprintf(hint, sizeof hint, "did you mean '%s'?", close);
    return fail(c, e->pos, SPATE_ENOTFOUND, hint, "unknown function '%s'", name);
}

/* ------------------------------------------------------------------ binding */

static int bind_node(binder *c, const sq_expr *e, sq_bexpr **out)
{
    switch (e->kind) {
    case SQ_LIT_NULL:
    case SQ_LIT_BOOL:
    case SQ_LIT_INT:
    case SQ_LIT_DOUBLE:
    case SQ_LIT_STRING:
    case SQ_LIT_INTERVAL:
    case SQ_LIT_TIMESTAMP:
    case SQ_LIT_DATE:
        return bind_literal(c, e, out);
    case SQ_COLUMN:
        return bind_column(c, e, out);
    case SQ_UNARY:
        return bind_unary(c, e, out);
    case SQ_BINARY:
        return bind_binary(c, e, out);
    case SQ_FUNC:
        return bind_func(c, e, out);
    case SQ_CASE:
        return bind_case(c, e, out);
    case SQ_CAST:
        return bind_cast(c, e, out);
    case SQ_IN:
    case SQ_BETWEEN:
        return bind_in_between(c, e, out);
    case SQ_LIKE:
        return bind_like(c, e, out);
    case SQ_IS_NULL:
    case SQ_IS_BOOL:
        return bind_is(c, e, out);
    case SQ_STAR:
        return fail(c, e->pos, SPATE_EINVAL, NULL,
                    "'*' is only allowed in a SELECT list or in COUNT(*)");
    default:
        return fail(c, e->pos, SPATE_EINVAL, NULL,
                    "%s is only allowed as an argument of a window table function",
                    e->kind == SQ_TABLE_ARG ? "TABLE" : "DESCRIPTOR");
    }
}

static int bind_expr(binder *c, const sq_expr *e, sq_bexpr **out)
{
    *out = NULL;
    if (c->depth >= MAX_DEPTH)
        return fail(c, e->pos, SPATE_EINVAL, "write long lists of alternatives as x IN (a, b, ...)",
                    "expression nested too deeply (more than %d levels)", MAX_DEPTH);
    c->depth++;
    int rc = bind_node(c, e, out);
    c->depth--;
    return rc;
}

int sq_bind(const sq_expr *e, const sq_scope *scope, const sq_env *env, sq_bexpr **out,
            sq_error *err)
{
    static const sq_scope empty = {NULL, 0};
    binder c = {scope ? scope : &empty, env ? env : &default_env, err, 0};
    *out = NULL;
    if (!e) return sp_err(SPATE_EINVAL, "sq_bind: no expression");
    int rc = bind_expr(&c, e, out);
    if (!rc && !(*out)->type) (*out)->type = SPATE_STRING;
    return rc;
}

/* Not folded: converting text to a TIMESTAMP depends on the session zone, which
 * only the program knows (a constant still converts once per batch). */
int sq_bind_cast(sq_bexpr *in, spate_type type, sq_bexpr **out)
{
    *out = NULL;
    if (!in) return sp_err(SPATE_EINVAL, "sq_bind_cast: no expression");
    if (!sq_cast_allowed(in->type, type) && !is_const_null(in)) {
        int rc = sp_err(SPATE_ETYPE, "cannot convert %s to %s", tname(in), spate_type_name(type));
        sq_bexpr_free(in);
        return rc;
    }
    in->interval = 0;
    if (in->type == type || is_const_null(in)) {
        in->type = type;
        *out = in;
        return 0;
    }
    sq_pos pos = in->pos;
    if (!(*out = node_of(SQ_B_CAST, type, pos, &in, 1)))
        return sp_err(SPATE_ENOMEM, "out of memory");
    return 0;
}

spate_type sq_bexpr_type(const sq_bexpr *b)
{
    return b ? b->type : 0;
}

int sq_bexpr_column(const sq_bexpr *b)
{
    return b && b->kind == SQ_B_COLUMN ? b->col : -1;
}

int sq_bexpr_is_const(const sq_bexpr *b)
{
    if (!b || b->kind == SQ_B_COLUMN || b->volatile_) return 0;
    for (int i = 0; i < b->nargs; i++)
        if (!sq_bexpr_is_const(b->args[i])) return 0;
    return 1;
}

static int reads_column(const sq_bexpr *b)
{
    for (int i = 0; i < b->nargs; i++)
        if (reads_column(b->args[i])) return 1;
    return b->kind == SQ_B_COLUMN;
}

int sq_eval_const(const sq_bexpr *b, const sq_env *env, sq_value *out)
{
    *out = (sq_value){0};
    if (!b || reads_column(b)) return sp_err(SPATE_EINVAL, "not a constant expression");
    int rc = sq_eval_value(b, env ? env : &default_env, sq_now_us(), out);
    return rc ? sp_err(rc, "out of memory") : 0;
}
