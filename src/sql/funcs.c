/*
 * funcs.c - the registry of SQL function names: the scalar library (the tables of
 * fn_string.c, fn_time.c, fn_hash.c and fn_math.c, searched in that order), the
 * functions the binder implements itself (COALESCE, NULLIF, IF, GREATEST, LEAST:
 * they take arguments of any one type, which a table entry's resolve cannot
 * express), and the names of aggregates and window functions, which the planner
 * handles and the binder only recognises to say they are misplaced. It also maps
 * the type names of column definitions and CAST.
 *
 * Lookups run at bind time only, so a linear scan of the ~100 names is fine.
 */
#include "sql/expr_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sq_func *const tables[] = {sq_funcs_string, sq_funcs_time, sq_funcs_hash,
                                        sq_funcs_math};
enum { NTABLES = sizeof tables / sizeof tables[0] };

const sq_builtin sq_builtins[] = {
    {"COALESCE", "COALESCE(a, b, ...) -> common type", "the first argument that is not NULL"},
    {"GREATEST", "GREATEST(a, b, ...) -> common type",
     "the largest argument; NULL when any argument is NULL"},
    {"IF", "IF(cond BOOLEAN, a, b) -> common type", "a when cond is TRUE, else b"},
    {"LEAST", "LEAST(a, b, ...) -> common type",
     "the smallest argument; NULL when any argument is NULL"},
    {"NULLIF", "NULLIF(a, b) -> type of a", "NULL when a = b, else a"},
    {NULL, NULL, NULL},
};

static const char *const aggregates[] = {
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "FIRST_VALUE",
    "LAST_VALUE",
    "APPROX_COUNT_DISTINCT",
    "APPROX_PERCENTILE",
    NULL,
};

static const char *const window_functions[] = {"ROW_NUMBER", NULL};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; name && list[i]; i++)
        if (strcasecmp(list[i], name) == 0) return 1;
    return 0;
}

const sq_func *sq_func_find(const char *upper_name)
{
    for (int t = 0; upper_name && t < NTABLES; t++)
        for (const sq_func *f = tables[t]; f->name; f++)
            if (strcasecmp(f->name, upper_name) == 0) return f;
    return NULL;
}

int sq_is_aggregate(const char *name)
{
    return in_list(aggregates, name);
}

int sq_is_window_function(const char *name)
{
    return in_list(window_functions, name);
}

static int is_builtin(const char *name)
{
    for (const sq_builtin *b = sq_builtins; name && b->name; b++)
        if (strcasecmp(b->name, name) == 0) return 1;
    return 0;
}

int sq_function_exists(const char *name)
{
    return sq_func_find(name) || is_builtin(name) || sq_is_aggregate(name) ||
           sq_is_window_function(name);
}

/* Keeps cand as the best suggestion for name when it is closer than the best so far. */
static void consider(const char *name, const char *cand, const char **best, int *best_d)
{
    int d = sq_edit_distance(name, cand);
    if (d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

const char *sq_function_suggest(const char *name)
{
    if (!name) return NULL;
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int t = 0; t < NTABLES; t++)
        for (const sq_func *f = tables[t]; f->name; f++)
            consider(name, f->name, &best, &best_d);
    for (const sq_builtin *b = sq_builtins; b->name; b++)
        consider(name, b->name, &best, &best_d);
    for (int i = 0; aggregates[i]; i++)
        consider(name, aggregates[i], &best, &best_d);
    for (int i = 0; window_functions[i]; i++)
        consider(name, window_functions[i], &best, &best_d);
    /* Close means a typo: one edit in a short name, two in a longer one. */
    size_t len = strlen(name);
    int limit = len <= 3 ? 1 : len < 12 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

typedef struct fn_entry {
    const char *name, *signature, *help;
} fn_entry;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const fn_entry *)a)->name, ((const fn_entry *)b)->name);
}

void sq_functions_each(void (*fn)(const char *name, const char *signature, const char *help,
                                  void *arg),
                       void *arg)
{
    size_t n = 0, k = 0;
    for (int t = 0; t < NTABLES; t++)
        for (const sq_func *f = tables[t]; f->name; f++)
            n++;
    for (const sq_builtin *b = sq_builtins; b->name; b++)
        n++;
    /* Sorted by name when memory allows, in table order otherwise. */
    fn_entry *all = malloc(n * sizeof *all);
    for (int t = 0; t < NTABLES; t++)
        for (const sq_func *f = tables[t]; f->name; f++) {
            if (all)
                all[k++] = (fn_entry){f->name, f->signature, f->help};
            else
                fn(f->name, f->signature, f->help, arg);
        }
    for (const sq_builtin *b = sq_builtins; b->name; b++) {
        if (all)
            all[k++] = (fn_entry){b->name, b->signature, b->help};
        else
            fn(b->name, b->signature, b->help, arg);
    }
    if (!all) return;
    qsort(all, n, sizeof *all, entry_cmp);
    for (size_t i = 0; i < n; i++)
        fn(all[i].name, all[i].signature, all[i].help, arg);
    free(all);
}

int sq_type_from_name(const char *upper_name, spate_type *out)
{
    static const struct {
        const char *name;
        spate_type type;
    } names[] = {
        {"STRING", SPATE_STRING},
        {"VARCHAR", SPATE_STRING},
        {"CHAR", SPATE_STRING},
        {"TEXT", SPATE_STRING},
        {"DATE", SPATE_STRING},
        {"INT", SPATE_INT32},
        {"INTEGER", SPATE_INT32},
        {"SMALLINT", SPATE_INT32},
        {"TINYINT", SPATE_INT32},
        {"BIGINT", SPATE_INT64},
        {"DOUBLE", SPATE_FLOAT64},
        {"FLOAT", SPATE_FLOAT64},
        {"REAL", SPATE_FLOAT64},
        {"DECIMAL", SPATE_FLOAT64},
        {"NUMERIC", SPATE_FLOAT64},
        {"BOOLEAN", SPATE_BOOL},
        {"BOOL", SPATE_BOOL},
        {"TIMESTAMP", SPATE_TIMESTAMP},
        {"TIMESTAMP_LTZ", SPATE_TIMESTAMP},
        {"BYTES", SPATE_BYTES},
        {"BINARY", SPATE_BYTES},
        {"VARBINARY", SPATE_BYTES},
    };
    for (size_t i = 0; upper_name && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(names[i].name, upper_name) == 0) {
            *out = names[i].type;
            return 0;
        }
    return SPATE_ENOTFOUND;
}
