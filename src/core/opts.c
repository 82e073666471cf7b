/* opts.c - validation and typed reading of plugin options. */
#include "core/opts.h"

#include "core/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const sp_opt_def *find_def(const sp_opt_def *const defs[2], const char *name)
{
    for (int t = 0; t < 2; t++)
        for (const sp_opt_def *d = defs[t]; d && d->name; d++)
            if (strcmp(d->name, name) == 0) return d;
    return NULL;
}

int sp_parse_duration_us(const char *s, int64_t *us)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    /* !(v >= 0) also rejects NaN, which compares false with everything. */
    if (end == s || errno || !(v >= 0)) return SPATE_EINVAL;
    double mult = 1000;
    if (!*end || strcmp(end, "ms") == 0) mult = 1000;
    else if (strcmp(end, "us") == 0) mult = 1;
    else if (strcmp(end, "s") == 0) mult = 1e6;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) mult = 6e7;
    else if (strcmp(end, "h") == 0) mult = 3.6e9;
    else return SPATE_EINVAL;
    /* Converting inf or anything past INT64_MAX to int64_t is undefined behaviour. */
    if (!(v * mult < 9.2e18)) return SPATE_EINVAL;
    *us = (int64_t)(v * mult);
    return 0;
}

int sp_parse_duration_ms(const char *s, int64_t *ms)
{
    int64_t us;
    int rc = sp_parse_duration_us(s, &us);
    if (!rc) *ms = us / 1000;
    return rc;
}

static int check_value(const sp_opt_def *d, const char *v, const char *what)
{
    char *end;
    int64_t ms;
    switch (d->type) {
    case SP_OPT_INT:
        errno = 0;
        (void)strtoll(v, &end, 10);
        if (!*v || *end || errno)
            return sp_err(SPATE_EINVAL, "%s: option '%s' must be an integer, not '%s'", what,
                          d->name, v);
        return 0;
    case SP_OPT_BOOL:
        if (strcmp(v, "true") && strcmp(v, "false"))
            return sp_err(SPATE_EINVAL, "%s: option '%s' must be true or false, not '%s'", what,
                          d->name, v);
        return 0;
    case SP_OPT_DURATION:
        if (sp_parse_duration_ms(v, &ms))
            return sp_err(SPATE_EINVAL,
                          "%s: option '%s' must be a duration like 500ms, 10s or 5m, not '%s'",
                          what, d->name, v);
        return 0;
    case SP_OPT_STRING: return 0;
    }
    return 0;
}

int sp_opts_parse(sp_opts *o, const char *what, const sp_opt_def *defs,
                  const sp_opt_def *defs2, const char *const *kv)
{
    memset(o, 0, sizeof *o);
    o->defs[0] = defs;
    o->defs[1] = defs2;
    int n = 0;
    while (kv && kv[2 * n]) {
        if (!kv[2 * n + 1])
            return sp_err(SPATE_EINVAL, "%s: option '%s' has no value", what, kv[2 * n]);
        n++;
    }
    o->keys = calloc((size_t)n + 1, sizeof *o->keys);
    o->vals = calloc((size_t)n + 1, sizeof *o->vals);
    if (!o->keys || !o->vals) {
        sp_opts_free(o);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const sp_opt_def *d = find_def(o->defs, kv[2 * i]);
        if (!d) {
            char names[512] = "";
            for (int t = 0; t < 2; t++)
                for (const sp_opt_def *e = o->defs[t]; e && e->name; e++) {
                    if (*names) strncat(names, ", ", sizeof names - strlen(names) - 1);
                    strncat(names, e->name, sizeof names - strlen(names) - 1);
                }
            int rc = sp_err(SPATE_EINVAL, "%s: unknown option '%s' (valid options: %s)", what,
                            kv[2 * i], *names ? names : "none");
            sp_opts_free(o);
            return rc;
        }
        int rc = check_value(d, kv[2 * i + 1], what);
        if (rc) {
            sp_opts_free(o);
            return rc;
        }
        o->keys[o->n] = strdup(kv[2 * i]);
        o->vals[o->n] = strdup(kv[2 * i + 1]);
        o->n++;
        if (!o->keys[o->n - 1] || !o->vals[o->n - 1]) {
            sp_opts_free(o);
            return sp_err(SPATE_ENOMEM, "out of memory");
        }
    }
    for (int t = 0; t < 2; t++)
        for (const sp_opt_def *d = o->defs[t]; d && d->name; d++)
            if (!d->def && !sp_opts_str(o, d->name)) {
                int rc = sp_err(SPATE_EINVAL, "%s: missing required option '%s' (%s)", what,
                                d->name, d->help);
                sp_opts_free(o);
                return rc;
            }
    return 0;
}

void sp_opts_free(sp_opts *o)
{
    for (int i = 0; i < o->n; i++) {
        free(o->keys[i]);
        free(o->vals[i]);
    }
    free(o->keys);
    free(o->vals);
    memset(o, 0, sizeof *o);
}

const char *sp_opts_str(const sp_opts *o, const char *name)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], name) == 0) return o->vals[i];
    const sp_opt_def *d = find_def(o->defs, name);
    return d ? d->def : NULL;
}

int64_t sp_opts_int(const sp_opts *o, const char *name)
{
    const char *v = sp_opts_str(o, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

int sp_opts_bool(const sp_opts *o, const char *name)
{
    const char *v = sp_opts_str(o, name);
    return v && strcmp(v, "true") == 0;
}

int64_t sp_opts_duration_us(const sp_opts *o, const char *name)
{
    const char *v = sp_opts_str(o, name);
    int64_t us = 0;
    if (v) sp_parse_duration_us(v, &us);
    return us;
}

int64_t sp_opts_duration_ms(const sp_opts *o, const char *name)
{
    const char *v = sp_opts_str(o, name);
    int64_t ms = 0;
    if (v) sp_parse_duration_ms(v, &ms);
    return ms;
}
