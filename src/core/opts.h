/*
 * opts.h - connector and format options: one table per plugin declares every
 * option with its type, default and description (as Fluent Bit's config maps do);
 * validation, `spate help connectors` and docs all read that same table.
 */
#ifndef SP_OPTS_H
#define SP_OPTS_H

#include <stdint.h>

typedef enum { SP_OPT_STRING, SP_OPT_INT, SP_OPT_BOOL, SP_OPT_DURATION } sp_opt_type;

typedef struct sp_opt_def {
    const char *name;
    sp_opt_type type;
    const char *def;  /* default as text; NULL = required */
    const char *help;
} sp_opt_def;

/* Options given by the user, validated against up to two tables (plugin + format). */
typedef struct sp_opts {
    int n;
    char **keys, **vals;
    const sp_opt_def *defs[2];
} sp_opts;

/* Copies kv (NULL-terminated key, value pairs), rejecting unknown keys, missing
 * required ones and values of the wrong type, with a message naming the option
 * and `what` (e.g. "source 'files'"). defs2 may be NULL. */
int sp_opts_parse(sp_opts *o, const char *what, const sp_opt_def *defs,
                  const sp_opt_def *defs2, const char *const *kv);
void sp_opts_free(sp_opts *o);
/* The value given, else the default (NULL only for an absent option with no default). */
const char *sp_opts_str(const sp_opts *o, const char *name);
int64_t sp_opts_int(const sp_opts *o, const char *name);
int sp_opts_bool(const sp_opts *o, const char *name);
/* Durations: "50us", "250ms", "10s", "5m", "1h", or a bare number of milliseconds. */
int64_t sp_opts_duration_ms(const sp_opts *o, const char *name);
int64_t sp_opts_duration_us(const sp_opts *o, const char *name);
/* Parses a duration text into milliseconds; 0 or SPATE_EINVAL. */
int sp_parse_duration_ms(const char *s, int64_t *ms);
/* The same in microseconds. */
int sp_parse_duration_us(const char *s, int64_t *us);

#endif
