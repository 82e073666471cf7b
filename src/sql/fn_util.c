/*
 * fn_util.c - helpers shared by the scalar function library (see fn_util.h).
 */
#include "sql/fn_util.h"

#include <stdio.h>
#include <string.h>

void sq_fn_set_null(sq_vec *out, size_t i)
{
    out->nulls[i] = 1;
    switch (out->type) {
    case SPATE_BOOL: out->v.b[i] = 0; break;
    case SPATE_INT32: out->v.i32[i] = 0; break;
    case SPATE_FLOAT64: out->v.f64[i] = 0; break;
    case SPATE_STRING:
    case SPATE_BYTES: out->v.s[i] = (spate_str){"", 0}; break;
    default: out->v.i64[i] = 0; break;
    }
}

char *sq_fn_alloc_str(sq_eval_ctx *cx, sq_vec *out, size_t i, size_t len)
{
    /* Empty results point at a static "" so that they cost no arena memory. */
    char *p = len ? sq_ctx_alloc(cx, len) : (char *)"";
    if (!p) return NULL;
    out->nulls[i] = 0;
    out->v.s[i] = (spate_str){p, len};
    return p;
}

int sq_fn_set_str(sq_eval_ctx *cx, sq_vec *out, size_t i, const char *p, size_t len)
{
    char *dst = sq_fn_alloc_str(cx, out, i, len);
    if (!dst) return SPATE_ENOMEM;
    if (len) memcpy(dst, p, len);
    return 0;
}

static const char *kind_name(char k)
{
    switch (k) {
    case 's': return "STRING";
    case 'b': return "STRING|BYTES";
    case 'i': return "INT";
    case 'n': return "NUMBER";
    case 'x': return "ANY";
    default: return "TIMESTAMP";
    }
}

/* 1 when t fits kind k; sets *want to the type the argument should be cast to. */
static int kind_accepts(char k, spate_type t, spate_type *want)
{
    *want = t;
    switch (k) {
    case 's': return t == SPATE_STRING;
    case 'b': return t == SPATE_STRING || t == SPATE_BYTES;
    case 'i':
        *want = SPATE_INT64;
        return t == SPATE_INT32 || t == SPATE_INT64;
    case 'n':
        *want = SPATE_FLOAT64;
        return t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_FLOAT64;
    case 'x':
        *want = SPATE_STRING;
        return 1;
    default: return t == SPATE_TIMESTAMP || t == SPATE_STRING;
    }
}

static void describe(const char *name, const char *spec, const spate_type *args, int nargs,
                     char *why, size_t why_len)
{
    char exp[160], got[160];
    size_t e = 0, g = 0;
    int first = 1, opt = 0;
    exp[0] = got[0] = 0;
    /* '[' is written before the separator of the parameter it opens: "INT[, INT]". */
    for (const char *p = spec; *p && e < sizeof(exp); p++) {
        if (*p == '[') {
            opt++;
            e += (size_t)snprintf(exp + e, sizeof(exp) - e, "[");
        } else if (*p == '*') {
            e += (size_t)snprintf(exp + e, sizeof(exp) - e, ", ...");
        } else {
            e += (size_t)snprintf(exp + e, sizeof(exp) - e, "%s%s", first ? "" : ", ",
                                  kind_name(*p));
            first = 0;
        }
    }
    for (int k = 0; k < nargs && g < sizeof(got); k++)
        g += (size_t)snprintf(got + g, sizeof(got) - g, "%s%s", k ? ", " : "",
                              spate_type_name(args[k]));
    snprintf(why, why_len, "%s expects (%s%.*s), got (%s)", name, exp, opt, "]]]]]]]]", got);
}

int sq_fn_check(const char *name, const char *spec, const spate_type *args, int nargs,
                spate_type *want, char *why, size_t why_len)
{
    int min = 0, max = 0, optional = 0, variadic = 0;
    for (const char *p = spec; *p; p++) {
        if (*p == '[') optional = 1;
        else if (*p == '*') variadic = 1;
        else {
            max++;
            if (!optional) min++;
        }
    }
    int bad = nargs < min || (!variadic && nargs > max);
    for (int k = 0; k < nargs; k++) {
        /* Letter of parameter k: the k-th letter, or the last one for variadic tails. */
        char kind = 0;
        int seen = 0;
        for (const char *p = spec; *p; p++) {
            if (*p == '[' || *p == '*') continue;
            kind = *p;
            if (seen++ == k) break;
        }
        if (!kind_accepts(kind ? kind : 's', args[k], &want[k])) bad = bad ? bad : 2;
    }
    if (!bad) return 0;
    describe(name, spec, args, nargs, why, why_len);
    return bad == 2 ? SPATE_ETYPE : SPATE_EINVAL;
}
