/*
 * session.c - statements: the catalog (CREATE/DROP/SHOW/DESCRIBE), job options
 * (SET/RESET), and assembling INSERT and SELECT statements into one job.
 *
 * Design choices:
 *  - Every statement is checked when it executes, not when the job starts: a
 *    CREATE validates its connector options against the connector's option
 *    table (the one `spate help connectors` prints), an INSERT or SELECT is
 *    planned once on a scratch context that is thrown away. So a script fails
 *    at the first wrong statement with its line and column, and the shell
 *    answers each statement at once. The job itself is planned again, for
 *    real, by sq_session_build_job (through spate_ctx_get_or_create, so that a
 *    checkpointed job restores).
 *  - Scripts are kept for the session's life: catalog entries and pending
 *    statements point into their syntax trees.
 *  - SET takes engine configuration keys (spate_conf: workers, batch.interval.ms,
 *    checkpoint.interval.ms, delivery, ...), the SQL session's own keys
 *    (table.local-time-zone, emit.early.interval, emit.allowed-lateness), and
 *    the Flink names users bring (parallelism.default, execution.checkpointing.*,
 *    table.exec.state.ttl, table.exec.emit.*), mapped onto those.
 */
#include "sql/plan.h"

#include "connectors/connector.h"
#include "core/arena.h"
#include "core/error.h"
#include "sql/tz.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct sq_session {
    sq_session_opts o;
    sq_obj *objs;
    sq_script **scripts;
    int nscripts;
    char **conf_keys, **conf_vals; /* engine configuration set so far */
    int nconf;
    sq_sql_opts sql;
    const sq_stmt **pending; /* INSERT and SELECT of the job being assembled */
    int npending, cappending;
    sq_res *res; /* resources of the built job */
    sq_printer **printers;
    int nprinters, capprinters;
};

int sq_name_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

int sq_res_push(sq_res **list, void *p, void (*free_fn)(void *))
{
    sq_res *r = malloc(sizeof *r);
    if (!r) {
        free_fn(p);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    *r = (sq_res){p, free_fn, *list};
    *list = r;
    return 0;
}

static void res_free_all(sq_res **list)
{
    while (*list) {
        sq_res *r = *list;
        *list = r->next;
        r->free(r->p);
        free(r);
    }
}

sq_obj *sq_catalog_find(sq_obj *objs, const char *name)
{
    for (sq_obj *o = objs; o; o = o->next)
        if (sq_name_eq(o->name, name)) return o;
    return NULL;
}

const char *sq_catalog_suggest(sq_obj *objs, const char *name)
{
    const char *best = NULL;
    int bestd = 3;
    for (sq_obj *o = objs; o; o = o->next) {
        int d = sq_edit_distance(o->name, name);
        if (d < bestd) best = o->name, bestd = d;
    }
    return best;
}

/* ------------------------------------------------------------- durations */

int sq_parse_duration_ms(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},           {"milli", 1},       {"millis", 1},      {"millisecond", 1},
                 {"milliseconds", 1}, {"s", 1000},        {"sec", 1000},      {"secs", 1000},
                 {"second", 1000},    {"seconds", 1000},  {"m", 60000},       {"min", 60000},
                 {"mins", 60000},     {"minute", 60000},  {"minutes", 60000}, {"h", 3600000},
                 {"hour", 3600000},   {"hours", 3600000}, {"d", 86400000},    {"day", 86400000},
                 {"days", 86400000}};
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p)) return SPATE_EINVAL;
    char *end;
    long long n = strtoll(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    char unit[16];
    size_t len = 0;
    while (isalpha((unsigned char)end[len]) && len + 1 < sizeof unit) {
        unit[len] = (char)tolower((unsigned char)end[len]);
        len++;
    }
    unit[len] = 0;
    const char *rest = end + len;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest || isalpha((unsigned char)end[len])) return SPATE_EINVAL;
    int64_t mult = len ? 0 : 1;
    for (size_t i = 0; len && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0) mult = units[i].ms;
    if (!mult || n < 0 || n > INT64_MAX / mult) return SPATE_EINVAL;
    *ms = n * mult;
    return 0;
}

/* ------------------------------------------------------------------ SET */

/* Flink's option names mapped onto spate's. */
static const struct {
    const char *flink, *spate;
} key_aliases[] = {
    {"parallelism.default", "workers"},
    {"execution.checkpointing.interval", "checkpoint.interval.ms"},
    {"execution.checkpointing.mode", "delivery"},
    {"table.exec.state.ttl", "state.ttl.ms"},
    {"table.exec.emit.early-fire.delay", "emit.early.interval"},
    {"table.exec.emit.allow-lateness", "emit.allowed-lateness"},
    {"sql.local-time-zone", "table.local-time-zone"},
};

/* Engine keys whose value is a duration in milliseconds: SET accepts units. */
static const char *const ms_keys[] = {"batch.interval.ms", "checkpoint.interval.ms", "state.ttl.ms",
                                      NULL};
static const char *const sql_keys[] = {"table.local-time-zone", "emit.early.interval",
                                       "emit.allowed-lateness", NULL};
static const char *const engine_keys[] = {"workers",
                                          "key_groups",
                                          "batch.interval.ms",
                                          "batch.rows",
                                          "state.ttl.ms",
                                          "queue.capacity",
                                          "bad_records.policy",
                                          "dead_letter.path",
                                          "log.level",
                                          "checkpoint.interval.ms",
                                          "checkpoint.keep",
                                          "checkpoint.reset",
                                          "delivery",
                                          NULL};

static const char *canonical_key(const char *key)
{
    for (size_t i = 0; i < sizeof key_aliases / sizeof key_aliases[0]; i++)
        if (sq_name_eq(key, key_aliases[i].flink)) return key_aliases[i].spate;
    return key;
}

static int in_list(const char *const *list, const char *key)
{
    for (int i = 0; list[i]; i++)
        if (sq_name_eq(list[i], key)) return 1;
    return 0;
}

static const char *suggest_key(const char *key)
{
    const char *best = NULL;
    int bestd = 4;
    const char *const *lists[] = {engine_keys, sql_keys};
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l][i]; i++) {
            int d = sq_edit_distance(lists[l][i], key);
            if (d < bestd) best = lists[l][i], bestd = d;
        }
    return best;
}

static int set_conf(sq_session *s, const char *key, const char *value)
{
    for (int i = 0; i < s->nconf; i++)
        if (strcmp(s->conf_keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return sp_err(SPATE_ENOMEM, "out of memory");
            free(s->conf_vals[i]);
            s->conf_vals[i] = v;
            return 0;
        }
    char **k = realloc(s->conf_keys, (size_t)(s->nconf + 1) * sizeof *k);
    if (k) s->conf_keys = k;
    char **v = realloc(s->conf_vals, (size_t)(s->nconf + 1) * sizeof *v);
    if (v) s->conf_vals = v;
    if (!k || !v) return sp_err(SPATE_ENOMEM, "out of memory");
    s->conf_keys[s->nconf] = strdup(key);
    s->conf_vals[s->nconf] = strdup(value);
    s->nconf++;
    if (!s->conf_keys[s->nconf - 1] || !s->conf_vals[s->nconf - 1])
        return sp_err(SPATE_ENOMEM, "out of memory");
    return 0;
}

static int exec_set(sq_session *s, const sq_stmt *st, sq_error *err)
{
    const char *key = canonical_key(st->key);
    const char *value = st->value;
    char buf[32];
    if (sq_name_eq(key, "table.local-time-zone")) {
        const sq_tz *tz;
        if (strlen(value) >= sizeof s->sql.time_zone || sq_tz_get(value, &tz))
            return sq_fail(err, st->pos, SPATE_EINVAL,
                           "unknown time zone '%s': use an IANA name such as 'Europe/Paris', "
                           "'UTC' or an offset such as '+02:00'",
                           value);
        snprintf(s->sql.time_zone, sizeof s->sql.time_zone, "%s", value);
        return 0;
    }
    if (sq_name_eq(key, "emit.early.interval") || sq_name_eq(key, "emit.allowed-lateness")) {
        int64_t ms;
        if (sq_parse_duration_ms(value, &ms))
            return sq_fail(err, st->pos, SPATE_EINVAL,
                           "'%s' needs a duration such as '1 s' or '500 ms', not '%s'", key, value);
        *(sq_name_eq(key, "emit.early.interval") ? &s->sql.early_ms : &s->sql.lateness_ms) = ms;
        return 0;
    }
    if (!in_list(engine_keys, key)) {
        sq_fail(err, st->pos, SPATE_ENOTFOUND, "unknown option '%s'", st->key);
        const char *hint = suggest_key(key);
        if (hint)
            snprintf(err->hint, sizeof err->hint, "did you mean '%s'?", hint);
        else
            snprintf(err->hint, sizeof err->hint, "SET with no key lists the options");
        return SPATE_ENOTFOUND;
    }
    if (sq_name_eq(key, "delivery")) {
        /* Flink spells the modes EXACTLY_ONCE / AT_LEAST_ONCE. */
        size_t i = 0;
        for (; value[i] && i + 1 < sizeof buf; i++)
            buf[i] = value[i] == '_' ? '-' : (char)tolower((unsigned char)value[i]);
        buf[i] = 0;
        value = buf;
    } else if (in_list(ms_keys, key)) {
        int64_t ms;
        if (sq_parse_duration_ms(value, &ms))
            return sq_fail(err, st->pos, SPATE_EINVAL,
                           "'%s' needs a duration such as '10 s' or '500 ms', not '%s'", key,
                           value);
        snprintf(buf, sizeof buf, "%lld", (long long)ms);
        value = buf;
    }
    spate_conf *probe = spate_conf_new();
    if (!probe) return sp_err(SPATE_ENOMEM, "out of memory");
    int rc = spate_conf_set(probe, key, value);
    spate_conf_free(probe);
    if (rc) return sq_fail(err, st->pos, rc, "%s", spate_last_error());
    return set_conf(s, key, value);
}

static int exec_reset(sq_session *s, const sq_stmt *st)
{
    if (!st->key || sq_name_eq(canonical_key(st->key), "table.local-time-zone"))
        snprintf(s->sql.time_zone, sizeof s->sql.time_zone, "UTC");
    if (!st->key || sq_name_eq(canonical_key(st->key), "emit.early.interval")) s->sql.early_ms = 0;
    if (!st->key || sq_name_eq(canonical_key(st->key), "emit.allowed-lateness"))
        s->sql.lateness_ms = 0;
    for (int i = 0; i < s->nconf; i++)
        if (!st->key || sq_name_eq(s->conf_keys[i], canonical_key(st->key))) {
            free(s->conf_keys[i]);
            free(s->conf_vals[i]);
            s->conf_keys[i] = s->conf_keys[s->nconf - 1];
            s->conf_vals[i] = s->conf_vals[s->nconf - 1];
            s->nconf--;
            i--;
        }
    return 0;
}

void sq_session_print_options(const sq_session *s, FILE *out)
{
    fprintf(out, "table.local-time-zone = %s\n", s->sql.time_zone);
    fprintf(out, "emit.early.interval = %lld ms\n", (long long)s->sql.early_ms);
    fprintf(out, "emit.allowed-lateness = %lld ms\n", (long long)s->sql.lateness_ms);
    for (int i = 0; i < s->nconf; i++)
        fprintf(out, "%s = %s\n", s->conf_keys[i], s->conf_vals[i]);
}

static int make_conf(const sq_session *s, spate_conf **out)
{
    spate_conf *c = spate_conf_new();
    if (!c) return sp_err(SPATE_ENOMEM, "out of memory");
    /* With a checkpoint directory the engine's default delivery is exactly-once. */
    if (s->o.checkpoint_dir && spate_conf_set(c, "checkpoint.dir", s->o.checkpoint_dir)) {
        spate_conf_free(c);
        return SPATE_EINVAL;
    }
    for (int i = 0; i < s->nconf; i++) {
        int rc = spate_conf_set(c, s->conf_keys[i], s->conf_vals[i]);
        if (rc) {
            spate_conf_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------- catalog */

static const char *kind_name(sq_obj_kind k)
{
    switch (k) {
    case SQ_OBJ_SOURCE:
        return "source";
    case SQ_OBJ_TABLE:
        return "table";
    case SQ_OBJ_SINK:
        return "sink";
    case SQ_OBJ_VIEW:
        return "view";
    }
    return "?";
}

static void obj_free(sq_obj *o)
{
    if (!o) return;
    free(o->name);
    spate_schema_free(o->schema);
    free(o->connector);
    for (int i = 0; i < 2 * o->nkv; i++)
        free(o->kv[i]);
    free(o->kv);
    free(o);
}

static const sp_opt_def *find_def(const sp_opt_def *defs, const char *key)
{
    for (int i = 0; defs && defs[i].name; i++)
        if (strcmp(defs[i].name, key) == 0) return &defs[i];
    return NULL;
}

static const char *suggest_def(const sp_opt_def *a, const sp_opt_def *b, const char *key)
{
    const char *best = NULL;
    int bestd = 3;
    const sp_opt_def *lists[] = {a, b};
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l] && lists[l][i].name; i++) {
            int d = sq_edit_distance(lists[l][i].name, key);
            if (d < bestd) best = lists[l][i].name, bestd = d;
        }
    return best;
}

static void list_connectors(char *dst, size_t cap, int sinks)
{
    dst[0] = 0;
    for (int i = 0;; i++) {
        const char *n = sinks ? (sp_sink_classes[i] ? sp_sink_classes[i]->name : NULL)
                              : (sp_source_classes[i] ? sp_source_classes[i]->name : NULL);
        if (!n) break;
        size_t len = strlen(dst);
        snprintf(dst + len, cap - len, "%s%s", i ? ", " : "", n);
    }
}

/* Columns declared for a fixed-schema connector (generator) must be its own, in
 * its order: then they document the source and the schema stays the connector's. */
static int check_fixed_schema(sq_obj *o, const sq_stmt *st, const sp_source_class *c, sq_error *err)
{
    spate_schema *fixed = c->fixed_schema();
    if (!fixed) return sp_err(SPATE_ENOMEM, "out of memory");
    int n = spate_schema_count(fixed), same = n == spate_schema_count(o->schema);
    for (int i = 0; same && i < n; i++)
        same = strcasecmp(spate_schema_name(fixed, i), spate_schema_name(o->schema, i)) == 0 &&
               spate_schema_type(fixed, i) == spate_schema_type(o->schema, i);
    char cols[256];
    size_t len = 0;
    cols[0] = 0;
    for (int i = 0; i < n && len < sizeof cols; i++)
        len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s %s", i ? ", " : "",
                                spate_schema_name(fixed, i),
                                spate_type_name(spate_schema_type(fixed, i)));
    spate_schema_free(fixed);
    if (!same) {
        sq_fail(err, st->name_pos, SPATE_ETYPE, "connector '%s' has a fixed schema: (%s)", c->name,
                cols);
        snprintf(err->hint, sizeof err->hint,
                 "declare exactly those columns, or none (computed columns may follow)");
        return SPATE_ETYPE;
    }
    spate_schema_free(o->schema);
    o->schema = NULL;
    return 0;
}

/* Validates the WITH options of a source, table or sink and stores them in o. */
static int take_options(sq_obj *o, const sq_stmt *st, sq_error *err)
{
    const sq_option *conn = NULL;
    for (int i = 0; i < st->noptions; i++)
        if (sq_name_eq(st->options[i].key, "connector")) conn = &st->options[i];
    int sink = o->kind == SQ_OBJ_SINK;
    char names[256];
    list_connectors(names, sizeof names, sink);
    if (!conn) {
        sq_fail(err, st->name_pos, SPATE_EINVAL, "%s '%s' has no connector option",
                kind_name(o->kind), o->name);
        snprintf(err->hint, sizeof err->hint, "add WITH (connector = '...'): one of %.120s", names);
        return SPATE_EINVAL;
    }
    const sp_opt_def *defs, *fmt_defs;
    if (sink) {
        const sp_sink_class *c = sp_sink_find(conn->value);
        if (!c || strcmp(c->name, "callback") == 0) goto unknown;
        defs = c->opts;
        fmt_defs = c->uses_format ? sp_format_opt_defs : NULL;
    } else {
        const sp_source_class *c = sp_source_find(conn->value);
        if (!c) goto unknown;
        if (o->kind == SQ_OBJ_TABLE && strcmp(c->name, "files") != 0)
            return sq_fail(err, conn->value_pos, SPATE_EINVAL,
                           "table '%s': reference data is read from files (connector = 'files'), "
                           "not '%s'",
                           o->name, conn->value);
        defs = c->opts;
        fmt_defs = c->uses_format ? sp_format_opt_defs : NULL;
        if (!c->fixed_schema && !o->schema)
            return sq_fail(err, st->name_pos, SPATE_EINVAL,
                           "%s '%s' needs a column list: connector '%s' has no fixed schema",
                           kind_name(o->kind), o->name, c->name);
        if (c->fixed_schema && o->schema) {
            int rc = check_fixed_schema(o, st, c, err);
            if (rc) return rc;
        }
    }
    o->connector = strdup(conn->value);
    o->kv = calloc((size_t)(2 * st->noptions + 1), sizeof *o->kv);
    if (!o->connector || !o->kv) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int i = 0; i < st->noptions; i++) {
        const sq_option *op = &st->options[i];
        if (op == conn) continue;
        if (!find_def(defs, op->key) && !find_def(fmt_defs, op->key)) {
            sq_fail(err, op->pos, SPATE_EINVAL, "unknown option '%s' for connector '%s'", op->key,
                    conn->value);
            const char *h = suggest_def(defs, fmt_defs, op->key);
            if (h)
                snprintf(err->hint, sizeof err->hint, "did you mean '%s'?", h);
            else
                snprintf(err->hint, sizeof err->hint,
                         "'spate help connectors' lists every connector's options");
            return SPATE_EINVAL;
        }
        o->kv[2 * o->nkv] = strdup(op->key);
        o->kv[2 * o->nkv + 1] = strdup(op->value);
        o->nkv++;
        if (!o->kv[2 * o->nkv - 2] || !o->kv[2 * o->nkv - 1])
            return sp_err(SPATE_ENOMEM, "out of memory");
    }
    for (int i = 0; defs && defs[i].name; i++) {
        int given = 0;
        for (int k = 0; k < o->nkv; k++)
            given |= strcmp(o->kv[2 * k], defs[i].name) == 0;
        if (!defs[i].def && !given)
            return sq_fail(err, st->name_pos, SPATE_EINVAL,
                           "%s '%s': connector '%s' needs the option '%s' (%s)", kind_name(o->kind),
                           o->name, conn->value, defs[i].name, defs[i].help);
    }
    /* Types and values of the options, by the connector's own parser. */
    sp_opts parsed;
    int rc = sp_opts_parse(&parsed, o->name, defs, fmt_defs, (const char *const *)o->kv);
    if (rc) return sq_fail(err, st->name_pos, rc, "%s", spate_last_error());
    sp_opts_free(&parsed);
    return 0;
unknown:
    sq_fail(err, conn->value_pos, SPATE_ENOTFOUND, "unknown %s connector '%s'",
            sink ? "sink" : "source", conn->value);
    snprintf(err->hint, sizeof err->hint, "connectors: %.140s", names);
    return SPATE_ENOTFOUND;
}

static int take_columns(sq_obj *o, const sq_stmt *st, sq_error *err)
{
    int physical = 0;
    for (int i = 0; i < st->ncolumns; i++)
        physical += !st->columns[i].computed;
    if (!physical) return 0; /* a fixed-schema connector (generator), maybe computed columns */
    o->schema = spate_schema_new();
    if (!o->schema) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int i = 0; i < st->ncolumns; i++) {
        const sq_column_def *c = &st->columns[i];
        if (c->computed) {
            if (o->kind == SQ_OBJ_SINK)
                return sq_fail(err, c->pos, SPATE_EINVAL, "a sink has no computed columns");
            continue;
        }
        spate_type t;
        if (sq_type_from_name(c->type_name, &t)) {
            sq_fail(err, c->pos, SPATE_ETYPE, "unknown type '%s' for column '%s'", c->type_name,
                    c->name);
            snprintf(err->hint, sizeof err->hint,
                     "types: STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DATE, BYTES");
            return SPATE_ETYPE;
        }
        if (spate_schema_find(o->schema, c->name) >= 0)
            return sq_fail(err, c->pos, SPATE_EINVAL, "column '%s' is declared twice", c->name);
        int rc = spate_schema_add(o->schema, c->name, t);
        if (rc) return sq_fail(err, c->pos, rc, "%s", spate_last_error());
    }
    return 0;
}

static int exec_create(sq_session *s, const sq_stmt *st, sq_error *err)
{
    sq_obj_kind kind = st->kind == SQ_CREATE_SOURCE  ? SQ_OBJ_SOURCE
                       : st->kind == SQ_CREATE_TABLE ? SQ_OBJ_TABLE
                       : st->kind == SQ_CREATE_SINK  ? SQ_OBJ_SINK
                                                     : SQ_OBJ_VIEW;
    sq_obj *old = sq_catalog_find(s->objs, st->name);
    if (old) {
        if (st->if_not_exists) return 0;
        return sq_fail(err, st->name_pos, SPATE_EINVAL, "'%s' already exists (a %s)", st->name,
                       kind_name(old->kind));
    }
    sq_obj *o = calloc(1, sizeof *o);
    if (!o || !(o->name = strdup(st->name))) {
        free(o);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    o->kind = kind;
    o->stmt = st;
    int rc = kind == SQ_OBJ_VIEW ? 0 : take_columns(o, st, err);
    if (!rc && kind != SQ_OBJ_VIEW) rc = take_options(o, st, err);
    if (rc) {
        obj_free(o);
        return rc;
    }
    o->next = s->objs;
    s->objs = o;
    return 0;
}

static int exec_drop(sq_session *s, const sq_stmt *st, sq_error *err)
{
    for (sq_obj **p = &s->objs; *p; p = &(*p)->next)
        if (sq_name_eq((*p)->name, st->name)) {
            sq_obj *o = *p;
            *p = o->next;
            obj_free(o);
            return 0;
        }
    if (st->if_exists) return 0;
    return sq_fail(err, st->name_pos, SPATE_ENOTFOUND, "no %s named '%s'", st->what, st->name);
}

static void print_func(const char *name, const char *signature, const char *help, void *arg)
{
    fprintf(arg, "%-24s %s\n", name, signature);
}

static int exec_show(sq_session *s, const sq_stmt *st)
{
    FILE *out = s->o.out;
    if (sq_name_eq(st->what, "FUNCTIONS")) {
        sq_functions_each(print_func, out);
        fputs("COUNT SUM AVG MIN MAX FIRST_VALUE LAST_VALUE APPROX_COUNT_DISTINCT "
              "APPROX_PERCENTILE (aggregates)\nROW_NUMBER (window function)\n",
              out);
        return 0;
    }
    sq_obj_kind kind = sq_name_eq(st->what, "SOURCES")  ? SQ_OBJ_SOURCE
                       : sq_name_eq(st->what, "TABLES") ? SQ_OBJ_TABLE
                       : sq_name_eq(st->what, "SINKS")  ? SQ_OBJ_SINK
                                                        : SQ_OBJ_VIEW;
    /* The catalog is a stack; print in creation order. */
    int n = 0;
    for (sq_obj *o = s->objs; o; o = o->next)
        n += o->kind == kind;
    for (int i = n - 1; i >= 0; i--) {
        int k = 0;
        for (sq_obj *o = s->objs; o; o = o->next)
            if (o->kind == kind && k++ == i) fprintf(out, "%s\n", o->name);
    }
    return 0;
}

static const sq_script *script_of(const sq_session *s, const sq_stmt *st)
{
    for (int i = 0; i < s->nscripts; i++)
        for (int k = 0; k < s->scripts[i]->nstmts; k++)
            if (s->scripts[i]->stmts[k] == st) return s->scripts[i];
    return NULL;
}

static int exec_describe(sq_session *s, const sq_stmt *st, sq_error *err)
{
    sq_obj *o = sq_catalog_find(s->objs, st->name);
    if (!o) {
        sq_fail(err, st->name_pos, SPATE_ENOTFOUND, "no source, table, sink or view named '%s'",
                st->name);
        const char *h = sq_catalog_suggest(s->objs, st->name);
        if (h) snprintf(err->hint, sizeof err->hint, "did you mean '%s'?", h);
        return SPATE_ENOTFOUND;
    }
    FILE *out = s->o.out;
    fprintf(out, "%s %s\n", kind_name(o->kind), o->name);
    for (int i = 0; i < o->stmt->ncolumns; i++) {
        const sq_column_def *c = &o->stmt->columns[i];
        if (c->computed) {
            char *t = sq_expr_text(c->computed);
            fprintf(out, "  %-20s AS %s\n", c->name, t ? t : "?");
            free(t);
        } else {
            spate_type ty = SPATE_STRING;
            sq_type_from_name(c->type_name, &ty);
            fprintf(out, "  %-20s %s%s\n", c->name, c->type_name,
                    strcmp(c->type_name, "DATE") == 0 ? " (stored as STRING)" : "");
        }
    }
    if (o->kind == SQ_OBJ_SOURCE && o->schema == NULL) {
        const sp_source_class *c = sp_source_find(o->connector);
        spate_schema *fs = c && c->fixed_schema ? c->fixed_schema() : NULL;
        for (int i = 0; fs && i < spate_schema_count(fs); i++)
            fprintf(out, "  %-20s %s\n", spate_schema_name(fs, i),
                    spate_type_name(spate_schema_type(fs, i)));
        spate_schema_free(fs);
    }
    if (o->stmt->wm_column) {
        char *t = sq_expr_text(o->stmt->wm_expr);
        fprintf(out, "  WATERMARK FOR %s AS %s\n", o->stmt->wm_column, t ? t : "?");
        free(t);
    }
    const sq_script *sc = o->kind == SQ_OBJ_VIEW ? script_of(s, o->stmt) : NULL;
    if (sc && o->stmt->end.off <= sc->len && o->stmt->pos.off < o->stmt->end.off)
        fprintf(out, "  %.*s\n", (int)(o->stmt->end.off - o->stmt->pos.off),
                sc->text + o->stmt->pos.off);
    if (o->connector) {
        fprintf(out, "  connector = '%s'", o->connector);
        for (int i = 0; i < o->nkv; i++)
            fprintf(out, ", %s = '%s'", o->kv[2 * i], o->kv[2 * i + 1]);
        fputc('\n', out);
    }
    (void)err;
    return 0;
}

/* ---------------------------------------------------------- INSERT/SELECT */

static void plan_env(sq_session *s, sq_plan_env *pe, FILE *explain)
{
    *pe = (sq_plan_env){
        .opts = &s->o, .sql = &s->sql, .objs = s->objs, .res = &s->res, .explain = explain};
    pe->env.time_zone = s->sql.time_zone;
}

/* Plans st on a context that is never started (validation, EXPLAIN). */
static int plan_scratch(sq_session *s, const sq_stmt *st, FILE *explain, sq_error *err)
{
    spate_conf *conf = NULL;
    int rc = make_conf(s, &conf);
    if (rc) return sq_fail(err, st->pos, rc, "%s", spate_last_error());
    spate_ctx *ctx;
    rc = spate_ctx_new(conf, &ctx);
    spate_conf_free(conf);
    if (rc) return sq_fail(err, st->pos, rc, "%s", spate_last_error());
    sq_res *res = NULL;
    sq_plan_env pe;
    plan_env(s, &pe, explain);
    pe.res = &res;
    sq_session_opts quiet = s->o;
    pe.opts = &quiet;
    rc = sq_plan_statement(&pe, ctx, st, err);
    spate_ctx_free(ctx);
    res_free_all(&res);
    for (int i = 0; i < pe.nprinters; i++)
        sq_printer_free(pe.printers[i]);
    free(pe.printers);
    free(pe.srcs);
    return rc;
}

static int add_pending(sq_session *s, const sq_stmt *st)
{
    if (s->npending == s->cappending) {
        int cap = s->cappending ? 2 * s->cappending : 8;
        const sq_stmt **p = realloc(s->pending, (size_t)cap * sizeof *p);
        if (!p) return sp_err(SPATE_ENOMEM, "out of memory");
        s->pending = p;
        s->cappending = cap;
    }
    s->pending[s->npending++] = st;
    return 0;
}

static int exec_stmt(sq_session *s, const sq_stmt *st, sq_error *err)
{
    switch (st->kind) {
    case SQ_CREATE_SOURCE:
    case SQ_CREATE_TABLE:
    case SQ_CREATE_SINK:
        return exec_create(s, st, err);
    case SQ_CREATE_VIEW: {
        int rc = exec_create(s, st, err);
        if (rc || !sq_catalog_find(s->objs, st->name)) return rc;
        /* A view is checked by planning its query; a wrong one is not kept. */
        sq_stmt probe = {.kind = SQ_SELECT, .pos = st->pos, .query = st->query};
        rc = plan_scratch(s, &probe, NULL, err);
        if (rc) {
            sq_stmt drop = {.kind = SQ_DROP, .name = st->name, .what = "VIEW"};
            exec_drop(s, &drop, NULL);
        }
        return rc;
    }
    case SQ_INSERT:
    case SQ_SELECT: {
        int rc = plan_scratch(s, st, NULL, err);
        return rc ? rc : add_pending(s, st);
    }
    case SQ_EXPLAIN: {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) return sp_err(SPATE_ENOMEM, "out of memory");
        int rc = plan_scratch(s, st->inner, mem, err);
        fclose(mem);
        if (!rc) fputs(text, s->o.out);
        free(text);
        return rc;
    }
    case SQ_SET:
        if (!st->key) {
            sq_session_print_options(s, s->o.out);
            return 0;
        }
        return exec_set(s, st, err);
    case SQ_RESET:
        return exec_reset(s, st);
    case SQ_SHOW:
        return exec_show(s, st);
    case SQ_DESCRIBE:
        return exec_describe(s, st, err);
    case SQ_DROP:
        return exec_drop(s, st, err);
    }
    return sq_fail(err, st->pos, SPATE_EUNSUPPORTED, "unsupported statement");
}

int sq_session_exec(sq_session *s, const char *text, size_t len)
{
    sq_error err;
    memset(&err, 0, sizeof err);
    sq_script *script = NULL;
    int rc = sq_parse(text, len, &script, &err);
    if (rc) {
        sq_error_print(&err, s->o.source_name, text, len, s->o.err);
        return rc;
    }
    sq_script **sc = realloc(s->scripts, (size_t)(s->nscripts + 1) * sizeof *sc);
    if (!sc) {
        sq_script_free(script);
        return sp_err(SPATE_ENOMEM, "out of memory");
    }
    s->scripts = sc;
    s->scripts[s->nscripts++] = script;
    for (int i = 0; i < script->nstmts; i++) {
        memset(&err, 0, sizeof err);
        rc = exec_stmt(s, script->stmts[i], &err);
        if (rc) {
            if (!err.msg[0]) snprintf(err.msg, sizeof err.msg, "%s", spate_last_error());
            sq_error_print(&err, s->o.source_name, script->text, script->len, s->o.err);
            return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ jobs */

int sq_session_has_job(const sq_session *s)
{
    return s->npending > 0;
}

typedef struct build_arg {
    sq_session *s;
    sq_error err;
    const sq_stmt *failed;
} build_arg;

static int build_create(spate_ctx *ctx, void *ud)
{
    build_arg *b = ud;
    sq_session *s = b->s;
    sq_plan_env pe;
    plan_env(s, &pe, NULL);
    int rc = 0;
    for (int i = 0; i < s->npending && !rc; i++) {
        rc = sq_plan_statement(&pe, ctx, s->pending[i], &b->err);
        if (rc) b->failed = s->pending[i];
    }
    free(pe.srcs);
    s->printers = pe.printers;
    s->nprinters = pe.nprinters;
    s->capprinters = pe.capprinters;
    return rc;
}

int sq_session_build_job(sq_session *s, spate_ctx **out)
{
    *out = NULL;
    spate_conf *conf = NULL;
    int rc = make_conf(s, &conf);
    if (rc) return rc;
    build_arg b = {.s = s};
    if (s->o.checkpoint_dir)
        rc = spate_ctx_get_or_create(s->o.checkpoint_dir, conf, build_create, &b, out);
    else {
        rc = spate_ctx_new(conf, out);
        if (!rc) {
            rc = build_create(*out, &b);
            if (rc) {
                spate_ctx_free(*out);
                *out = NULL;
            }
        }
    }
    spate_conf_free(conf);
    s->npending = 0;
    for (int i = 0; !rc && i < s->nprinters; i++)
        sq_printer_set_ctx(s->printers[i], *out);
    if (rc) {
        const sq_script *sc = b.failed ? script_of(s, b.failed) : NULL;
        if (b.err.msg[0] && sc)
            sq_error_print(&b.err, s->o.source_name, sc->text, sc->len, s->o.err);
        else
            fprintf(s->o.err, "spate: %s\n", spate_last_error());
        sq_session_job_done(s);
    }
    return rc;
}

void sq_session_job_done(sq_session *s)
{
    for (int i = 0; i < s->nprinters; i++) {
        sq_printer_finish(s->printers[i]);
        sq_printer_free(s->printers[i]);
    }
    free(s->printers);
    s->printers = NULL;
    s->nprinters = s->capprinters = 0;
    res_free_all(&s->res);
}

void sq_session_set_format(sq_session *s, sq_result_format format, int live)
{
    s->o.format = format;
    s->o.live = live;
}

int sq_session_new(const sq_session_opts *o, sq_session **out)
{
    sq_session *s = calloc(1, sizeof *s);
    if (!s) return sp_err(SPATE_ENOMEM, "out of memory");
    s->o = *o;
    if (!s->o.out) s->o.out = stdout;
    if (!s->o.err) s->o.err = stderr;
    snprintf(s->sql.time_zone, sizeof s->sql.time_zone, "UTC");
    *out = s;
    return 0;
}

void sq_session_free(sq_session *s)
{
    if (!s) return;
    sq_session_job_done(s);
    while (s->objs) {
        sq_obj *o = s->objs;
        s->objs = o->next;
        obj_free(o);
    }
    for (int i = 0; i < s->nscripts; i++)
        sq_script_free(s->scripts[i]);
    free(s->scripts);
    for (int i = 0; i < s->nconf; i++) {
        free(s->conf_keys[i]);
        free(s->conf_vals[i]);
    }
    free(s->conf_keys);
    free(s->conf_vals);
    free(s->pending);
    free(s);
}
