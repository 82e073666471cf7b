/*
 * test_sql_funcs.c - the scalar function library (fn_string.c, fn_time.c,
 * fn_hash.c, fn_math.c) and the time zones (tz.c), called through the table
 * entries the binder uses: resolve() with argument types, then eval() over
 * hand-built vectors, the casts resolve asks for done here as the binder would.
 *
 * Expected values come from outside the code under test: digests of "abc" from
 * RFC 1321 and FIPS 180-2, base64 vectors from RFC 4648, MurmurHash3 vectors
 * published with the reference implementation's ports, XXH64 of "" and "abc",
 * epoch seconds and zone offsets computed with Python's datetime and zoneinfo.
 */
#include "test_list.h"

#include "core/arena.h"
#include "sql/expr.h"
#include "sql/tz.h"

#include <math.h>
#include <pthread.h>
#include <spate.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ harness */

/* An argument value. */
typedef struct val {
    spate_type type;
    int null;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} val;

#define VS(x) ((val){.type = SPATE_STRING, .s = (x), .len = strlen(x)})
#define VB(x, n) ((val){.type = SPATE_BYTES, .s = (x), .len = (n)})
#define VI(x) ((val){.type = SPATE_INT32, .i = (x)})
#define VL(x) ((val){.type = SPATE_INT64, .i = (x)})
#define VD(x) ((val){.type = SPATE_FLOAT64, .d = (x)})
#define VT(x) ((val){.type = SPATE_TIMESTAMP, .i = (x)})
#define VNULL(t) ((val){.type = (t), .null = 1})
#define SEC(x) ((int64_t)(x) * 1000000)

/* The clock of every evaluation: 2024-01-01 23:30:00 UTC. */
#define NOW_US SEC(1704151800)

typedef struct res {
    int rc; /* resolve's, then eval's */
    spate_type type;
    int null;
    int64_t i;
    double d;
    char s[1024];
    size_t len;
    char why[256];
} res;

static const sq_func *const tables[] = {sq_funcs_string, sq_funcs_time, sq_funcs_hash,
                                        sq_funcs_math};
enum { NTABLES = sizeof(tables) / sizeof(tables[0]), MAX_ARGS = 6 };

static const sq_func *find_fn(const char *name)
{
    for (int t = 0; t < NTABLES; t++)
        for (const sq_func *f = tables[t]; f->name; f++)
            if (!strcmp(f->name, name)) return f;
    fprintf(stderr, "  no function %s\n", name);
    sp_test_failures++;
    return NULL;
}

static size_t type_size(spate_type t)
{
    switch (t) {
    case SPATE_BOOL: return 1;
    case SPATE_INT32: return 4;
    case SPATE_STRING:
    case SPATE_BYTES: return sizeof(spate_str);
    default: return 8;
    }
}

/* A vector of n values of type t (typed arrays, as the evaluator builds them). */
static void vec_init(sq_vec *v, spate_type t, size_t n, int is_const)
{
    *v = (sq_vec){.type = t, .n = n, .is_const = is_const};
    v->nulls = calloc(n, 1);
    v->v.b = calloc(n, type_size(t));
}

static void vec_free(sq_vec *v)
{
    free(v->nulls);
    free(v->v.b);
}

/* Stores x converted to type v->type (the implicit casts of the binder) in row r. */
static void vec_put(sq_vec *v, size_t r, const val *x)
{
    spate_type want = v->type;
    v->nulls[r] = (uint8_t)x->null;
    if (v->nulls[r]) return;
    if (want == SPATE_FLOAT64) v->v.f64[r] = x->type == SPATE_FLOAT64 ? x->d : (double)x->i;
    else if (want == SPATE_STRING || want == SPATE_BYTES) v->v.s[r] = (spate_str){x->s, x->len};
    else if (want == SPATE_INT32) v->v.i32[r] = (int32_t)x->i;
    else if (want == SPATE_BOOL) v->v.b[r] = (uint8_t)x->i;
    else v->v.i64[r] = x->i;
    int ok = x->type == want || (x->type == SPATE_INT32 && want == SPATE_INT64) ||
             ((x->type == SPATE_INT32 || x->type == SPATE_INT64) && want == SPATE_FLOAT64);
    if (!ok) {
        fprintf(stderr, "  unexpected cast %s -> %s\n", spate_type_name(x->type),
                spate_type_name(want));
        sp_test_failures++;
    }
}

/* Row r of out into res. */
static void read_cell(const sq_vec *out, size_t r, res *x)
{
    x->null = out->nulls[r];
    switch (out->type) {
    case SPATE_INT32: x->i = out->v.i32[r]; break;
    case SPATE_BOOL: x->i = out->v.b[r]; break;
    case SPATE_FLOAT64: x->d = out->v.f64[r]; break;
    case SPATE_STRING:
    case SPATE_BYTES:
        x->len = out->v.s[r].len;
        if (x->len < sizeof(x->s)) {
            if (x->len) memcpy(x->s, out->v.s[r].ptr, x->len);
            x->s[x->len] = 0;
        }
        break;
    default: x->i = out->v.i64[r]; break;
    }
}

/*
 * Resolves name for the types of the first row of cols, then evaluates it over n
 * rows: cols[k] has n values, or one when is_const[k] (NULL: none constant).
 * Results go to rows[0..n).
 */
static int run(const char *tz, const char *name, int nargs, const val *const *cols,
               const int *is_const, size_t n, res *rows)
{
    const sq_func *f = find_fn(name);
    spate_type types[MAX_ARGS] = {0}, want[MAX_ARGS] = {0}, type = 0;
    char why[256] = "";
    if (!f) return -100;
    for (int k = 0; k < nargs; k++) want[k] = types[k] = cols[k][0].type;
    int rc = f->resolve(types, nargs, want, &type, why, sizeof(why));
    for (size_t r = 0; r < n; r++) {
        rows[r] = (res){.rc = rc, .type = type};
        snprintf(rows[r].why, sizeof(rows[r].why), "%s", why);
    }
    if (rc) return rc;
    sp_arena arena = {0};
    sq_env env = {tz};
    sq_eval_ctx cx = {&arena, &env, NOW_US};
    sq_vec vecs[MAX_ARGS], out;
    for (int k = 0; k < nargs; k++) {
        int c = is_const && is_const[k];
        vec_init(&vecs[k], want[k], n, c);
        for (size_t r = 0; r < (c ? 1 : n); r++) vec_put(&vecs[k], r, &cols[k][r]);
    }
    vec_init(&out, type, n, 0);
    memset(out.nulls, 0xAA, n); /* every row must be written */
    rc = f->eval(&cx, vecs, nargs, &out);
    for (size_t r = 0; r < n; r++) {
        rows[r].rc = rc;
        if (rc) continue;
        if (out.nulls[r] > 1) {
            fprintf(stderr, "  %s left the null flag of row %zu unset\n", name, r);
            sp_test_failures++;
        }
        read_cell(&out, r, &rows[r]);
    }
    for (int k = 0; k < nargs; k++) vec_free(&vecs[k]);
    vec_free(&out);
    sp_arena_free(&arena);
    return rc;
}

/* One row, no constant. */
static res call(const char *tz, const char *name, int nargs, const val *args)
{
    const val *cols[MAX_ARGS];
    res r;
    for (int k = 0; k < nargs; k++) cols[k] = &args[k];
    run(tz, name, nargs, cols, NULL, 1, &r);
    return r;
}

#define NARGS(...) ((int)(sizeof((val[]){__VA_ARGS__}) / sizeof(val)))
#define TZ_CALL(tz, name, ...) call(tz, name, NARGS(__VA_ARGS__), (val[]){__VA_ARGS__})
#define FN(name, ...) TZ_CALL("UTC", name, __VA_ARGS__)
#define FN0(tz, name) call(tz, name, 0, NULL)

static const char *show(const res *r)
{
    static char buf[1200];
    if (r->rc) snprintf(buf, sizeof(buf), "error %d (%s)", r->rc, r->why);
    else if (r->null) snprintf(buf, sizeof(buf), "NULL");
    else if (r->type == SPATE_STRING || r->type == SPATE_BYTES)
        snprintf(buf, sizeof(buf), "'%s'", r->s);
    else if (r->type == SPATE_FLOAT64) snprintf(buf, sizeof(buf), "%.17g", r->d);
    else snprintf(buf, sizeof(buf), "%lld", (long long)r->i);
    return buf;
}

static void fail_at(int line, const char *what, const res *r, const char *expected)
{
    fprintf(stderr, "  %s:%d: %s\n    got:      %s\n    expected: %s\n", __FILE__, line, what,
            show(r), expected);
    sp_test_failures++;
}

static void expect_str(int line, const char *what, res r, const char *want)
{
    char e[1100];
    snprintf(e, sizeof(e), "'%s'", want);
    if (r.rc || r.null || r.len != strlen(want) || memcmp(r.s, want, r.len) != 0)
        fail_at(line, what, &r, e);
}

static void expect_bytes(int line, const char *what, res r, const char *want, size_t len)
{
    if (r.rc || r.null || r.len != len || memcmp(r.s, want, len) != 0)
        fail_at(line, what, &r, "the bytes given");
}

static void expect_int(int line, const char *what, res r, int64_t want)
{
    char e[32];
    snprintf(e, sizeof(e), "%lld", (long long)want);
    if (r.rc || r.null || r.i != want) fail_at(line, what, &r, e);
}

static void expect_dbl(int line, const char *what, res r, double want)
{
    char e[32];
    snprintf(e, sizeof(e), "%.17g", want);
    if (r.rc || r.null || r.type != SPATE_FLOAT64 || !(fabs(r.d - want) <= 1e-12 * fabs(want)))
        fail_at(line, what, &r, e);
}

static void expect_null(int line, const char *what, res r)
{
    if (r.rc || !r.null) fail_at(line, what, &r, "NULL");
}

#define EXPECT_STR(c, want) expect_str(__LINE__, #c, c, want)
#define EXPECT_BYTES(c, want, len) expect_bytes(__LINE__, #c, c, want, len)
#define EXPECT_INT(c, want) expect_int(__LINE__, #c, c, want)
#define EXPECT_DBL(c, want) expect_dbl(__LINE__, #c, c, want)
#define EXPECT_NULL(c) expect_null(__LINE__, #c, c)

/* ------------------------------------------------------------ table-driven */

static void sql_fn_table_entries(void)
{
    int count = 0;
    for (int t = 0; t < NTABLES; t++) {
        for (const sq_func *f = tables[t]; f->name; f++, count++) {
            size_t n = strlen(f->name);
            for (const char *p = f->name; *p; p++) CHECK(!(*p >= 'a' && *p <= 'z'));
            CHECK(f->signature && !strncmp(f->signature, f->name, n) && f->signature[n] == '(');
            CHECK(f->signature && strstr(f->signature, ") -> "));
            CHECK(f->help && strlen(f->help) > 5);
            CHECK(f->resolve && f->eval);
            CHECK(f->min_args >= 0 && (f->max_args == -1 || f->max_args >= f->min_args));
            CHECK(f->max_args <= 3);
            /* Names are unique across the tables. */
            for (int u = 0; u < NTABLES; u++)
                for (const sq_func *g = tables[u]; g->name; g++)
                    if (g != f && !strcmp(g->name, f->name)) {
                        fprintf(stderr, "  %s twice\n", f->name);
                        sp_test_failures++;
                    }
        }
    }
    CHECK(count > 80);
}

static const spate_type candidates[] = {SPATE_STRING,  SPATE_INT32,     SPATE_INT64,
                                        SPATE_FLOAT64, SPATE_TIMESTAMP, SPATE_BYTES};
enum { NCAND = sizeof(candidates) / sizeof(candidates[0]) };

/* The first combination of argument types f accepts with nargs arguments. */
static int accepted_types(const sq_func *f, int nargs, spate_type *types)
{
    int combos = 1;
    for (int k = 0; k < nargs; k++) combos *= NCAND;
    for (int c = 0; c < combos; c++) {
        spate_type want[MAX_ARGS], result;
        char why[256];
        for (int k = 0, x = c; k < nargs; k++, x /= NCAND) types[k] = candidates[x % NCAND];
        memcpy(want, types, sizeof(want));
        if (f->resolve(types, nargs, want, &result, why, sizeof(why)) == 0) return 1;
    }
    return 0;
}

static val sample(spate_type t)
{
    switch (t) {
    case SPATE_STRING: return VS("2024-01-01");
    case SPATE_BYTES: return VB("ab", 2);
    case SPATE_INT32: return VI(1);
    case SPATE_INT64: return VL(1);
    case SPATE_FLOAT64: return VD(1);
    default: return VT(0);
    }
}

/* NULL in, NULL out for every function and argument, except CONCAT_WS, which skips
 * NULL values after the separator. Every function also runs on empty strings
 * without a pointer. */
static void sql_fn_null_propagation(void)
{
    for (int t = 0; t < NTABLES; t++) {
        for (const sq_func *f = tables[t]; f->name; f++) {
            int max = f->max_args < 0 || f->max_args > f->min_args + 2 ? f->min_args + 2
                                                                        : f->max_args;
            for (int nargs = f->min_args > 0 ? f->min_args : 1; nargs <= max; nargs++) {
                spate_type types[MAX_ARGS];
                val args[MAX_ARGS];
                if (!accepted_types(f, nargs, types)) {
                    fprintf(stderr, "  %s: no types accepted for %d args\n", f->name, nargs);
                    sp_test_failures++;
                    continue;
                }
                for (int k = 0; k < nargs; k++) args[k] = VNULL(types[k]);
                res r = call("Europe/Paris", f->name, nargs, args);
                if (r.rc || !r.null) fail_at(__LINE__, f->name, &r, "NULL for all-NULL args");
                /* Empty strings may come as {NULL, 0}: no function may touch *NULL. */
                for (int k = 0; k < nargs; k++) {
                    args[k] = sample(types[k]);
                    if (types[k] == SPATE_STRING || types[k] == SPATE_BYTES)
                        args[k] = (val){.type = types[k]};
                }
                r = call("Europe/Paris", f->name, nargs, args);
                if (r.rc) fail_at(__LINE__, f->name, &r, "no error for empty strings");
                for (int nul = 0; nul < nargs; nul++) {
                    for (int k = 0; k < nargs; k++)
                        args[k] = k == nul ? VNULL(types[k]) : sample(types[k]);
                    r = call("Europe/Paris", f->name, nargs, args);
                    int skips = !strcmp(f->name, "CONCAT_WS") && nul > 0;
                    if (r.rc || (!r.null && !skips)) {
                        char what[64];
                        snprintf(what, sizeof(what), "%s, argument %d NULL", f->name, nul + 1);
                        fail_at(__LINE__, what, &r, "NULL");
                    }
                }
            }
        }
    }
    EXPECT_STR(FN("CONCAT_WS", VS(","), VNULL(SPATE_STRING), VS("b")), "b");
}

static res resolve(const char *name, int nargs, const spate_type *types, spate_type *want)
{
    res r = {0};
    const sq_func *f = find_fn(name);
    for (int k = 0; k < nargs; k++) want[k] = types[k];
    if (f) r.rc = f->resolve(types, nargs, want, &r.type, r.why, sizeof(r.why));
    return r;
}

static void sql_fn_resolve(void)
{
    spate_type want[MAX_ARGS];
    res r = resolve("SUBSTRING", 1, (spate_type[]){SPATE_INT32}, want);
    CHECK(r.rc == SPATE_EINVAL || r.rc == SPATE_ETYPE);
    CHECK_EQ_STR(r.why, "SUBSTRING expects (STRING, INT[, INT]), got (INT)");
    r = resolve("SUBSTRING", 2, (spate_type[]){SPATE_INT32, SPATE_INT32}, want);
    CHECK_EQ_INT(r.rc, SPATE_ETYPE);
    CHECK_EQ_STR(r.why, "SUBSTRING expects (STRING, INT[, INT]), got (INT, INT)");
    r = resolve("SUBSTRING", 2, (spate_type[]){SPATE_STRING, SPATE_INT32}, want);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.type, SPATE_STRING);
    CHECK_EQ_INT(want[0], SPATE_STRING);
    CHECK_EQ_INT(want[1], SPATE_INT64);
    r = resolve("SUBSTRING", 2, (spate_type[]){SPATE_STRING, SPATE_FLOAT64}, want);
    CHECK_EQ_INT(r.rc, SPATE_ETYPE);
    r = resolve("CONCAT", 2, (spate_type[]){SPATE_STRING, SPATE_INT64}, want);
    CHECK(r.rc == 0 && r.type == SPATE_STRING && want[1] == SPATE_STRING);
    r = resolve("CONCAT", 0, NULL, want);
    CHECK_EQ_INT(r.rc, SPATE_EINVAL);
    CHECK_EQ_STR(r.why, "CONCAT expects (ANY, ...), got ()");
    r = resolve("CONCAT_WS", 2, (spate_type[]){SPATE_BOOL, SPATE_STRING}, want);
    CHECK_EQ_STR(r.why, "CONCAT_WS expects (STRING[, ANY, ...]), got (BOOL, STRING)");
    r = resolve("UNIX_TIMESTAMP", 1, (spate_type[]){SPATE_INT64}, want);
    CHECK_EQ_STR(r.why, "UNIX_TIMESTAMP expects ([TIMESTAMP[, STRING]]), got (BIGINT)");
    r = resolve("PI", 1, (spate_type[]){SPATE_INT64}, want);
    CHECK_EQ_INT(r.rc, SPATE_EINVAL);
    CHECK_EQ_STR(r.why, "PI expects (), got (BIGINT)");
    r = resolve("MD5", 1, (spate_type[]){SPATE_INT32}, want);
    CHECK_EQ_STR(r.why, "MD5 expects (STRING|BYTES), got (INT)");
    r = resolve("HEX", 1, (spate_type[]){SPATE_FLOAT64}, want);
    CHECK_EQ_STR(r.why, "HEX expects (STRING|BYTES|INT|BIGINT), got (DOUBLE)");
    r = resolve("HEX", 1, (spate_type[]){SPATE_INT32}, want);
    CHECK(r.rc == 0 && r.type == SPATE_STRING && want[0] == SPATE_INT64);
    r = resolve("ABS", 1, (spate_type[]){SPATE_STRING}, want);
    CHECK_EQ_STR(r.why, "ABS expects (NUMBER), got (STRING)");
    r = resolve("DATE_FORMAT", 2, (spate_type[]){SPATE_INT64, SPATE_STRING}, want);
    CHECK_EQ_STR(r.why, "DATE_FORMAT expects (TIMESTAMP, STRING), got (BIGINT, STRING)");
    r = resolve("HOUR", 1, (spate_type[]){SPATE_STRING}, want);
    CHECK(r.rc == 0 && r.type == SPATE_INT64 && want[0] == SPATE_STRING);
    /* Result types and casts. */
    r = resolve("ABS", 1, (spate_type[]){SPATE_INT32}, want);
    CHECK(r.rc == 0 && r.type == SPATE_INT32 && want[0] == SPATE_INT32);
    r = resolve("ROUND", 2, (spate_type[]){SPATE_FLOAT64, SPATE_INT32}, want);
    CHECK(r.rc == 0 && r.type == SPATE_FLOAT64 && want[1] == SPATE_INT64);
    r = resolve("POWER", 2, (spate_type[]){SPATE_INT32, SPATE_INT64}, want);
    CHECK(r.rc == 0 && r.type == SPATE_FLOAT64);
    CHECK(want[0] == SPATE_FLOAT64 && want[1] == SPATE_FLOAT64);
    r = resolve("MOD", 2, (spate_type[]){SPATE_INT32, SPATE_INT32}, want);
    CHECK(r.rc == 0 && r.type == SPATE_INT32);
    r = resolve("MOD", 2, (spate_type[]){SPATE_INT32, SPATE_INT64}, want);
    CHECK(r.rc == 0 && r.type == SPATE_INT64 && want[0] == SPATE_INT64);
    r = resolve("MOD", 2, (spate_type[]){SPATE_INT32, SPATE_FLOAT64}, want);
    CHECK(r.rc == 0 && r.type == SPATE_FLOAT64 && want[0] == SPATE_FLOAT64);
    r = resolve("TO_TIMESTAMP_LTZ", 2, (spate_type[]){SPATE_INT32, SPATE_INT32}, want);
    CHECK(r.rc == 0 && r.type == SPATE_TIMESTAMP && want[0] == SPATE_INT64);
    r = resolve("MURMUR3", 1, (spate_type[]){SPATE_BYTES}, want);
    CHECK(r.rc == 0 && r.type == SPATE_INT32);
}

/* ------------------------------------------------------------------ strings */

static void sql_fn_string_basics(void)
{
    EXPECT_STR(FN("CONCAT", VS("a"), VS("bc"), VS(""), VS("d")), "abcd");
    EXPECT_STR(FN("CONCAT", VS("solo")), "solo");
    EXPECT_NULL(FN("CONCAT", VS("a"), VNULL(SPATE_STRING)));
    EXPECT_STR(FN("CONCAT_WS", VS(", "), VS("a"), VNULL(SPATE_STRING), VS("b")), "a, b");
    EXPECT_STR(FN("CONCAT_WS", VS("-"), VNULL(SPATE_STRING)), "");
    EXPECT_STR(FN("CONCAT_WS", VS("-")), "");
    EXPECT_NULL(FN("CONCAT_WS", VNULL(SPATE_STRING), VS("a")));
    EXPECT_STR(FN("LOWER", VS("HeLLo 1")), "hello 1");
    EXPECT_STR(FN("UPPER", VS("HeLLo é")), "HELLO é");
    EXPECT_STR(FN("INITCAP", VS("hello wORLD-foo bar_baz 3rd élan")),
               "Hello World-Foo Bar_Baz 3rd élan");
    EXPECT_STR(FN("TRIM", VS("  a b  ")), "a b");
    EXPECT_STR(FN("LTRIM", VS("  a b  ")), "a b  ");
    EXPECT_STR(FN("RTRIM", VS("  a b  ")), "  a b");
    EXPECT_STR(FN("TRIM", VS("xxaxyx"), VS("xy")), "a");
    EXPECT_STR(FN("TRIM", VS("\t a \n")), "\t a \n");
    EXPECT_STR(FN("TRIM", VS("    ")), "");
    EXPECT_STR(FN("REPLACE", VS("a.b.c"), VS("."), VS("::")), "a::b::c");
    EXPECT_STR(FN("REPLACE", VS("aaaa"), VS("aa"), VS("b")), "bb");
    EXPECT_STR(FN("REPLACE", VS("abc"), VS(""), VS("x")), "abc");
    EXPECT_STR(FN("REPLACE", VS("abcabc"), VS("bc"), VS("")), "aa");
    EXPECT_STR(FN("REPLACE", VS("abc"), VS("abc"), VS("xyz")), "xyz");
    EXPECT_INT(FN("POSITION", VS("lo"), VS("hello")), 4);
    EXPECT_INT(FN("POSITION", VS("z"), VS("hello")), 0);
    EXPECT_INT(FN("POSITION", VS(""), VS("hello")), 1);
    EXPECT_INT(FN("POSITION", VS("longer"), VS("lo")), 0);
    EXPECT_STR(FN("REVERSE", VS("abc")), "cba");
    EXPECT_STR(FN("LPAD", VS("hi"), VI(5), VS("xy")), "xyxhi");
    EXPECT_STR(FN("RPAD", VS("hi"), VI(5), VS("xy")), "hixyx");
    EXPECT_STR(FN("LPAD", VS("hello"), VI(3), VS("x")), "hel");
    EXPECT_STR(FN("RPAD", VS("hello"), VI(3), VS("x")), "hel");
    EXPECT_STR(FN("LPAD", VS("hi"), VI(0), VS("x")), "");
    EXPECT_STR(FN("LPAD", VS("hi"), VI(2), VS("")), "hi");
    EXPECT_NULL(FN("LPAD", VS("hi"), VI(3), VS("")));
    EXPECT_NULL(FN("RPAD", VS("hi"), VI(-1), VS("x")));
    /* Results beyond the size limit are NULL, not a failed batch. */
    EXPECT_NULL(FN("LPAD", VS("x"), VI(2000000000), VS("ab")));
    EXPECT_NULL(FN("RPAD", VS("x"), VL(INT64_MAX), VS("a")));
    EXPECT_INT(FN("STARTS_WITH", VS("hello"), VS("he")), 1);
    EXPECT_INT(FN("STARTS_WITH", VS("hello"), VS("lo")), 0);
    EXPECT_INT(FN("STARTS_WITH", VS("he"), VS("hello")), 0);
    EXPECT_INT(FN("STARTS_WITH", VS(""), VS("")), 1);
    EXPECT_INT(FN("ENDS_WITH", VS("hello"), VS("lo")), 1);
    EXPECT_INT(FN("ENDS_WITH", VS("hello"), VS("he")), 0);
    EXPECT_STR(FN("LEFT", VS("hello"), VI(2)), "he");
    EXPECT_STR(FN("LEFT", VS("hello"), VI(9)), "hello");
    EXPECT_STR(FN("LEFT", VS("hello"), VI(-1)), "");
    EXPECT_STR(FN("RIGHT", VS("hello"), VI(2)), "lo");
    EXPECT_STR(FN("RIGHT", VS("hello"), VL(INT64_MAX)), "hello");
    EXPECT_STR(FN("RIGHT", VS("hello"), VI(0)), "");
    EXPECT_INT(FN("LENGTH", VS("")), 0);
    EXPECT_INT(FN("CHAR_LENGTH", VS("hello")), 5);
}

static void sql_fn_string_utf8(void)
{
    /* é is 2 bytes, 世 3, 😀 4. */
    EXPECT_INT(FN("LENGTH", VS("héllo wörld")), 11);
    EXPECT_INT(FN("CHAR_LENGTH", VS("世界😀")), 3);
    EXPECT_INT(FN("CHARACTER_LENGTH", VS("a\xff\xfe" "b")), 4); /* stray bytes count one each */
    EXPECT_STR(FN("SUBSTRING", VS("héllo"), VI(2), VI(3)), "éll");
    EXPECT_STR(FN("SUBSTRING", VS("世界😀!"), VI(3)), "😀!");
    EXPECT_STR(FN("SUBSTR", VS("世界😀!"), VI(2), VI(2)), "界😀");
    EXPECT_STR(FN("REVERSE", VS("aé世😀")), "😀世éa");
    EXPECT_STR(FN("LPAD", VS("é"), VI(4), VS("世界")), "世界世é");
    EXPECT_STR(FN("RPAD", VS("世界😀"), VI(2), VS("x")), "世界");
    EXPECT_STR(FN("LEFT", VS("世界😀"), VI(2)), "世界");
    EXPECT_STR(FN("RIGHT", VS("世界😀"), VI(2)), "界😀");
    EXPECT_INT(FN("POSITION", VS("😀"), VS("世界😀")), 3);
    EXPECT_STR(FN("TRIM", VS("éaé世"), VS("世é")), "a");
    EXPECT_STR(FN("RTRIM", VS("ab\xc3\xa9"), VS("\xa9")), "ab\xc3\xa9"); /* not half a char */
    EXPECT_STR(FN("UPPER", VS("straße")), "STRAßE");
}

static void sql_fn_substring_rules(void)
{
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(1), VI(2)), "he");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(2)), "ello");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(0), VI(3)), "he");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(-1), VI(3)), "h");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(-5), VI(3)), "");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(0)), "hello");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(-3)), "hello");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(4), VI(100)), "lo");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(6)), "");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VI(3), VI(0)), "");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VL(2), VL(INT64_MAX)), "ello");
    EXPECT_STR(FN("SUBSTRING", VS("hello"), VL(INT64_MIN), VL(INT64_MAX)), "");
    EXPECT_NULL(FN("SUBSTRING", VS("hello"), VI(1), VI(-1)));
}

static void sql_fn_split_index(void)
{
    EXPECT_STR(FN("SPLIT_INDEX", VS("a,b,c"), VS(","), VI(0)), "a");
    EXPECT_STR(FN("SPLIT_INDEX", VS("a,b,c"), VS(","), VI(2)), "c");
    EXPECT_NULL(FN("SPLIT_INDEX", VS("a,b,c"), VS(","), VI(3)));
    EXPECT_NULL(FN("SPLIT_INDEX", VS("a,b,c"), VS(","), VI(-1)));
    EXPECT_STR(FN("SPLIT_INDEX", VS("a,,c,"), VS(","), VI(1)), "");
    EXPECT_STR(FN("SPLIT_INDEX", VS("a,,c,"), VS(","), VI(3)), "");
    EXPECT_NULL(FN("SPLIT_INDEX", VS("a,,c,"), VS(","), VI(4)));
    EXPECT_STR(FN("SPLIT_INDEX", VS("k1=>v1=>k2"), VS("=>"), VI(1)), "v1");
    EXPECT_STR(FN("SPLIT_INDEX", VS("abc"), VS(""), VI(0)), "abc");
    EXPECT_NULL(FN("SPLIT_INDEX", VS("abc"), VS(""), VI(1)));
    EXPECT_STR(FN("SPLIT_INDEX", VS("abc"), VS("x"), VI(0)), "abc");
    EXPECT_STR(FN("SPLIT_INDEX", VS("世|界"), VS("|"), VL(1)), "界");
}

static void sql_fn_regexp(void)
{
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("foo123bar45"), VS("[0-9]+")), "123");
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("key=val; k2=v2"), VS("([a-z0-9]+)=([a-z0-9]+)"), VI(2)),
               "val");
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("key=val"), VS("([a-z]+)=([a-z]+)"), VI(0)), "key=val");
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("2024-05-06"), VS("^([0-9]{4})-([0-9]{2})"), VI(1)),
               "2024");
    EXPECT_NULL(FN("REGEXP_EXTRACT", VS("abc"), VS("[0-9]+")));
    EXPECT_NULL(FN("REGEXP_EXTRACT", VS("abc"), VS("(a)(b)"), VI(3)));
    EXPECT_NULL(FN("REGEXP_EXTRACT", VS("abc"), VS("(a)"), VI(-1)));
    EXPECT_NULL(FN("REGEXP_EXTRACT", VS("ac"), VS("a(b)?c"), VI(1))); /* group not taking part */
    EXPECT_NULL(FN("REGEXP_EXTRACT", VS("abc"), VS("(unclosed")));
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("a b\tc"), VS("[[:space:]]+[[:alpha:]]$")), "\tc");
    EXPECT_STR(FN("REGEXP_EXTRACT", VS("café 42"), VS("é [0-9]")), "é 4");
    EXPECT_INT(FN("REGEXP", VS("abc123"), VS("[0-9]")), 1);
    EXPECT_INT(FN("REGEXP", VS("abc"), VS("^b")), 0);
    EXPECT_INT(FN("REGEXP", VS(""), VS("x*")), 1);
    EXPECT_NULL(FN("REGEXP", VS("abc"), VS("[")));
    EXPECT_STR(FN("REGEXP_REPLACE", VS("a1b22c333"), VS("[0-9]+"), VS("#")), "a#b#c#");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("John Smith"), VS("([A-Za-z]+) ([A-Za-z]+)"),
                  VS("$2, $1")),
               "Smith, John");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("abc"), VS("b*"), VS("-")), "-a--c-");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("aaa"), VS("^a"), VS("b")), "baa");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("abc"), VS("x"), VS("y")), "abc");
    EXPECT_STR(FN("REGEXP_REPLACE", VS(""), VS("x*"), VS("y")), "y");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("a.b"), VS("[.]"), VS("\\$1 \\\\")), "a$1 \\b");
    EXPECT_STR(FN("REGEXP_REPLACE", VS("é"), VS("x*"), VS("-")), "-é-");
    EXPECT_NULL(FN("REGEXP_REPLACE", VS("abc"), VS("b"), VS("$")));
    EXPECT_NULL(FN("REGEXP_REPLACE", VS("abc"), VS("b"), VS("$1")));
    EXPECT_NULL(FN("REGEXP_REPLACE", VS("abc"), VS("b"), VS("x\\")));
    EXPECT_NULL(FN("REGEXP_REPLACE", VS("abc"), VS("a{2,1}"), VS("x")));
    EXPECT_STR(FN("REGEXP_REPLACE", VS("ab"), VS("(a)(b)"), VS("$12")), "a2");
}

/* Many patterns in one thread: the per-thread cache evicts and recompiles. */
static void sql_fn_regexp_cache(void)
{
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 40; k++) {
            char pat[32], subj[32], want[16];
            snprintf(pat, sizeof(pat), "x%d(y+)", k);
            snprintf(subj, sizeof(subj), "ax%dyyyb", k);
            snprintf(want, sizeof(want), "yyy");
            EXPECT_STR(FN("REGEXP_EXTRACT", VS(subj), VS(pat), VI(1)), want);
            EXPECT_NULL(FN("REGEXP_EXTRACT", VS(subj), VS("(bad"), VI(1)));
        }
    }
}

/* Evaluation over several rows: constant and column arguments, NULL rows. */
static void sql_fn_vectors(void)
{
    const val s[4] = {VS("alpha"), VNULL(SPATE_STRING), VS("gamma"), VS("delta")};
    const val start[1] = {VI(2)};
    const val len[4] = {VI(1), VI(2), VNULL(SPATE_INT32), VI(3)};
    res r[4];
    run("UTC", "SUBSTRING", 3, (const val *[]){s, start, len}, (int[]){0, 1, 0}, 4, r);
    EXPECT_STR(r[0], "l");
    EXPECT_NULL(r[1]);
    EXPECT_NULL(r[2]);
    EXPECT_STR(r[3], "elt");

    const val subj[3] = {VS("a1"), VS("b22"), VS("c")};
    const val pat[1] = {VS("[0-9]+")};
    const val pats[3] = {VS("[a-z]"), VS("("), VS("c$")};
    run("UTC", "REGEXP_EXTRACT", 2, (const val *[]){subj, pat}, (int[]){0, 1}, 3, r);
    EXPECT_STR(r[0], "1");
    EXPECT_STR(r[1], "22");
    EXPECT_NULL(r[2]);
    run("UTC", "REGEXP_EXTRACT", 2, (const val *[]){subj, pats}, NULL, 3, r);
    EXPECT_STR(r[0], "a");
    EXPECT_NULL(r[1]);
    EXPECT_STR(r[2], "c");

    const val ts[3] = {VT(SEC(1711846799)), VT(SEC(1711846800)), VNULL(SPATE_TIMESTAMP)};
    run("Europe/Paris", "HOUR", 1, (const val *[]){ts}, NULL, 3, r);
    EXPECT_INT(r[0], 1);
    EXPECT_INT(r[1], 3);
    EXPECT_NULL(r[2]);

    const val fmt[1] = {VS("HH:mm")};
    run("Europe/Paris", "DATE_FORMAT", 2, (const val *[]){ts, fmt}, (int[]){0, 1}, 3, r);
    EXPECT_STR(r[0], "01:59");
    EXPECT_STR(r[1], "03:00");
    EXPECT_NULL(r[2]);

    const val nums[3] = {VD(2.5), VD(-2.5), VNULL(SPATE_FLOAT64)};
    run("UTC", "ROUND", 1, (const val *[]){nums}, NULL, 3, r);
    EXPECT_DBL(r[0], 3);
    EXPECT_DBL(r[1], -3);
    EXPECT_NULL(r[2]);

    res c[3];
    run("UTC", "PI", 0, NULL, NULL, 3, c);
    for (int k = 0; k < 3; k++) EXPECT_DBL(c[k], M_PI);
    run("Europe/Paris", "CURRENT_DATE", 0, NULL, NULL, 3, c);
    for (int k = 0; k < 3; k++) EXPECT_STR(c[k], "2024-01-02");
}

/* ------------------------------------------------------------------- hashes */

static void sql_fn_digests(void)
{
    /* RFC 1321 appendix A.5; FIPS 180-2 appendices (one-block message "abc"). */
    EXPECT_STR(FN("MD5", VS("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_STR(FN("MD5", VS("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_STR(FN("MD5", VS("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_STR(FN("MD5", VB("abc", 3)), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_STR(FN("SHA1", VS("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_STR(FN("SHA224", VS("abc")),
               "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    EXPECT_STR(FN("SHA256", VS("abc")),
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_STR(FN("SHA256", VS("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_STR(FN("SHA384", VS("abc")),
               "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358"
               "baeca134c825a7");
    EXPECT_STR(FN("SHA512", VS("abc")),
               "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836"
               "ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    EXPECT_STR(FN("SHA2", VS("abc"), VI(256)),
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_STR(FN("SHA2", VS("abc"), VI(0)),
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_STR(FN("SHA2", VS("abc"), VI(224)),
               "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    EXPECT_NULL(FN("SHA2", VS("abc"), VI(100)));
}

static void sql_fn_murmur3(void)
{
    /* MurmurHash3_x86_32 vectors published with ports of the reference code. */
    static const struct {
        const char *s;
        size_t len;
        uint32_t seed, hash;
    } v[] = {
        {"", 0, 0, 0},
        {"", 0, 1, 0x514E28B7},
        {"", 0, 0xffffffff, 0x81F16F39},
        {"\0\0\0\0", 4, 0, 0x2362F9DE},
        {"aaaa", 4, 0x9747b28c, 0x5A97808A},
        {"aaa", 3, 0x9747b28c, 0x283E0130},
        {"aa", 2, 0x9747b28c, 0x5D211726},
        {"a", 1, 0x9747b28c, 0x7FA09EA6},
        {"abcd", 4, 0x9747b28c, 0xF0478627},
        {"abc", 3, 0x9747b28c, 0xC84A62DD},
        {"ab", 2, 0x9747b28c, 0x74875592},
        {"Hello, world!", 13, 0x9747b28c, 0x24884CBA},
        {"\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80", 16, 0x9747b28c,
         0xD58063C1},
        {"The quick brown fox jumps over the lazy dog", 43, 0x9747b28c, 0x2FA826CD},
        {"abc", 3, 0, 0xB3DD93FA},
    };
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        res r = FN("MURMUR3", VB(v[k].s, v[k].len), VL(v[k].seed));
        CHECK_EQ_INT(r.type, SPATE_INT32);
        if (r.rc || r.null || (uint32_t)r.i != v[k].hash) {
            fprintf(stderr, "  MURMUR3 vector %zu: got %08x, expected %08x\n", k, (uint32_t)r.i,
                    v[k].hash);
            sp_test_failures++;
        }
    }
    /* The default seed is 42; the seed also works as an INT. */
    res a = FN("MURMUR3", VS("spate")), b = FN("MURMUR3", VS("spate"), VI(42));
    CHECK(!a.null && a.i == b.i);
    EXPECT_INT(FN("MURMUR3", VS("abc"), VI((int32_t)0x9747b28c)), (int32_t)0xC84A62DD);
}

static void sql_fn_xxhash64(void)
{
    EXPECT_INT(FN("XXHASH64", VS(""), VL(0)), (int64_t)UINT64_C(0xEF46DB3751D8E999));
    EXPECT_INT(FN("XXHASH64", VS("abc"), VL(0)), (int64_t)UINT64_C(0x44BC2CF5AD770999));
    res a = FN("XXHASH64", VS("spate")), b = FN("XXHASH64", VS("spate"), VL(42));
    CHECK(!a.null && a.type == SPATE_INT64 && a.i == b.i);
    CHECK(a.i != FN("XXHASH64", VS("spate"), VL(0)).i);
}

static void sql_fn_base64(void)
{
    /* RFC 4648 section 10. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (int k = 0; k < 7; k++) {
        EXPECT_STR(FN("TO_BASE64", VS(plain[k])), enc[k]);
        EXPECT_STR(FN("BASE64", VB(plain[k], strlen(plain[k]))), enc[k]);
        EXPECT_STR(FN("FROM_BASE64", VS(enc[k])), plain[k]);
        EXPECT_STR(FN("UNBASE64", VS(enc[k])), plain[k]);
    }
    EXPECT_BYTES(FN("FROM_BASE64", VS("AP8A")), "\0\xff\0", 3);
    EXPECT_STR(FN("TO_BASE64", VB("\0\xff\0", 3)), "AP8A");
    EXPECT_STR(FN("TO_BASE64", VS("\xfb\xff")), "+/8=");
    EXPECT_NULL(FN("FROM_BASE64", VS("Zg=")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Zg")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Z===")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Zg=a")));
    EXPECT_NULL(FN("FROM_BASE64", VS("=Zm8")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Zm9v\n")));
    EXPECT_NULL(FN("FROM_BASE64", VS(" Zm9v")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Zm-v")));
    EXPECT_NULL(FN("FROM_BASE64", VS("Zm9vYg==Zm8=")));
}

static void sql_fn_hex(void)
{
    EXPECT_STR(FN("HEX", VI(17)), "11");
    EXPECT_STR(FN("HEX", VL(0)), "0");
    EXPECT_STR(FN("HEX", VL(-1)), "FFFFFFFFFFFFFFFF");
    EXPECT_STR(FN("HEX", VI(-1)), "FFFFFFFFFFFFFFFF");
    EXPECT_STR(FN("HEX", VL(INT64_MAX)), "7FFFFFFFFFFFFFFF");
    EXPECT_STR(FN("HEX", VS("Spark SQL")), "537061726B2053514C");
    EXPECT_STR(FN("HEX", VB("\0\xff", 2)), "00FF");
    EXPECT_STR(FN("HEX", VS("")), "");
    EXPECT_BYTES(FN("UNHEX", VS("537061726B2053514C")), "Spark SQL", 9);
    EXPECT_BYTES(FN("UNHEX", VS("00ff")), "\0\xff", 2);
    EXPECT_BYTES(FN("UNHEX", VS("F")), "\x0f", 1);
    EXPECT_BYTES(FN("UNHEX", VS("abc")), "\x0a\xbc", 2);
    EXPECT_BYTES(FN("UNHEX", VS("")), "", 0);
    EXPECT_NULL(FN("UNHEX", VS("zz")));
    EXPECT_NULL(FN("UNHEX", VS("0g")));
    CHECK_EQ_INT(FN("UNHEX", VS("41")).type, SPATE_BYTES);
}

/* --------------------------------------------------------------------- math */

static void sql_fn_math(void)
{
    EXPECT_INT(FN("ABS", VI(-5)), 5);
    CHECK_EQ_INT(FN("ABS", VI(-5)).type, SPATE_INT32);
    EXPECT_INT(FN("ABS", VL(-5000000000)), 5000000000);
    EXPECT_DBL(FN("ABS", VD(-1.5)), 1.5);
    EXPECT_NULL(FN("ABS", VI(INT32_MIN)));
    EXPECT_NULL(FN("ABS", VL(INT64_MIN)));
    EXPECT_DBL(FN("CEIL", VD(1.2)), 2);
    EXPECT_DBL(FN("CEILING", VD(-1.2)), -1);
    EXPECT_DBL(FN("FLOOR", VD(-1.2)), -2);
    EXPECT_INT(FN("FLOOR", VL(7)), 7);
    EXPECT_DBL(FN("ROUND", VD(2.5)), 3);
    EXPECT_DBL(FN("ROUND", VD(-2.5)), -3);
    EXPECT_DBL(FN("ROUND", VD(0.5)), 1);
    EXPECT_DBL(FN("ROUND", VD(0.49)), 0);
    EXPECT_DBL(FN("ROUND", VD(2.675), VI(2)), 2.68);
    EXPECT_DBL(FN("ROUND", VD(1.005), VI(2)), 1.01);
    EXPECT_DBL(FN("ROUND", VD(-1.005), VI(2)), -1.01);
    EXPECT_DBL(FN("ROUND", VD(123.456), VI(-1)), 120);
    EXPECT_DBL(FN("ROUND", VD(9.99), VI(1)), 10);
    EXPECT_DBL(FN("ROUND", VD(0.0004), VI(3)), 0);
    EXPECT_DBL(FN("ROUND", VD(0.0005), VI(3)), 0.001);
    EXPECT_DBL(FN("ROUND", VD(1e300), VI(2)), 1e300);
    EXPECT_DBL(FN("ROUND", VD(55), VI(-2)), 100);
    EXPECT_DBL(FN("ROUND", VD(45), VI(-2)), 0);
    EXPECT_INT(FN("ROUND", VI(1234), VI(-2)), 1200);
    EXPECT_INT(FN("ROUND", VI(1250), VI(-2)), 1300);
    EXPECT_INT(FN("ROUND", VI(-1250), VI(-2)), -1300);
    EXPECT_INT(FN("ROUND", VI(1250), VI(2)), 1250);
    CHECK_EQ_INT(FN("ROUND", VI(1250), VI(-2)).type, SPATE_INT32);
    EXPECT_NULL(FN("ROUND", VI(2147483647), VI(-1)));
    EXPECT_NULL(FN("ROUND", VL(INT64_MAX), VI(-19)));
    EXPECT_INT(FN("ROUND", VL(12), VI(-30)), 0);
    EXPECT_DBL(FN("TRUNCATE", VD(2.679), VI(2)), 2.67);
    EXPECT_DBL(FN("TRUNCATE", VD(-2.679), VI(2)), -2.67);
    EXPECT_DBL(FN("TRUNCATE", VD(-2.9)), -2);
    EXPECT_INT(FN("TRUNCATE", VL(1999), VI(-3)), 1000);
    EXPECT_INT(FN("TRUNCATE", VL(-1999), VI(-3)), -1000);
    EXPECT_DBL(FN("POWER", VI(2), VI(10)), 1024);
    EXPECT_DBL(FN("POWER", VD(4), VD(0.5)), 2);
    EXPECT_NULL(FN("POWER", VD(-8), VD(1.0 / 3)));
    EXPECT_NULL(FN("POWER", VI(0), VI(-1)));
    EXPECT_DBL(FN("SQRT", VI(16)), 4);
    EXPECT_NULL(FN("SQRT", VI(-1)));
    EXPECT_DBL(FN("CBRT", VI(-27)), -3);
    EXPECT_DBL(FN("EXP", VI(0)), 1);
    EXPECT_NULL(FN("EXP", VI(1000)));
    EXPECT_DBL(FN("LN", VD(M_E)), 1);
    EXPECT_NULL(FN("LN", VI(0)));
    EXPECT_NULL(FN("LN", VI(-1)));
    EXPECT_DBL(FN("LOG10", VI(1000)), 3);
    EXPECT_DBL(FN("LOG2", VI(8)), 3);
    EXPECT_DBL(FN("LOG", VD(M_E)), 1);
    EXPECT_DBL(FN("LOG", VI(2), VI(1024)), 10);
    EXPECT_NULL(FN("LOG", VI(1), VI(5)));
    EXPECT_INT(FN("MOD", VI(7), VI(3)), 1);
    EXPECT_INT(FN("MOD", VI(-7), VI(3)), -1);
    EXPECT_INT(FN("MOD", VI(7), VI(-3)), 1);
    EXPECT_NULL(FN("MOD", VI(7), VI(0)));
    EXPECT_INT(FN("MOD", VL(INT64_MIN), VL(-1)), 0);
    EXPECT_INT(FN("MOD", VI(7), VL(4)), 3);
    EXPECT_DBL(FN("MOD", VD(7.5), VI(2)), 1.5);
    EXPECT_NULL(FN("MOD", VD(7.5), VD(0)));
    EXPECT_INT(FN("SIGN", VI(-3)), -1);
    EXPECT_INT(FN("SIGN", VL(0)), 0);
    EXPECT_DBL(FN("SIGN", VD(2.5)), 1);
    EXPECT_DBL(FN0("UTC", "PI"), M_PI);
    EXPECT_DBL(FN0("UTC", "E"), M_E);
    EXPECT_DBL(FN("DEGREES", VD(M_PI)), 180);
    EXPECT_DBL(FN("RADIANS", VI(180)), M_PI);
    EXPECT_DBL(FN("SIN", VI(0)), 0);
    EXPECT_DBL(FN("COS", VI(0)), 1);
    EXPECT_DBL(FN("TAN", VD(M_PI / 4)), 1);
    EXPECT_DBL(FN("ATAN2", VI(1), VI(1)), M_PI / 4);
    EXPECT_DBL(FN("ASIN", VI(1)), M_PI / 2);
    EXPECT_NULL(FN("ACOS", VI(2)));
    EXPECT_DBL(FN("ATAN", VI(1)), M_PI / 4);
}

/* ----------------------------------------------------------------- time zones */

static void sql_fn_tz_names(void)
{
    const sq_tz *a, *b;
    CHECK_EQ_INT(sq_tz_get("Mars/Base", &a), SPATE_ENOTFOUND);
    CHECK(strstr(spate_last_error(), "Mars/Base") != NULL);
    CHECK_EQ_INT(sq_tz_get("", &a), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sq_tz_get("../../../etc/passwd", &a), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sq_tz_get("/usr/share/zoneinfo/UTC", &a), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sq_tz_get("Europe", &a), SPATE_ENOTFOUND); /* a directory */
    CHECK_EQ_INT(sq_tz_get("+19:00", &a), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sq_tz_get("+05:3", &a), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sq_tz_get("+530", &a), SPATE_ENOTFOUND);
    static const struct {
        const char *name;
        int32_t off;
    } fixed[] = {{"UTC", 0},         {"utc", 0},         {"Z", 0},       {"GMT", 0},
                 {"+02:00", 7200},   {"-0530", -19800},  {"+2", 7200},   {"-05", -18000},
                 {"UTC+01:00", 3600}, {"GMT-3", -10800}, {"+18:00", 64800}};
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
        REQUIRE_OK(sq_tz_get(fixed[k].name, &a));
        CHECK_EQ_INT(sq_tz_offset_at(a, 1711846800), fixed[k].off);
        CHECK_EQ_INT(sq_tz_offset_of_local(a, 1711846800), fixed[k].off);
    }
    REQUIRE_OK(sq_tz_get(NULL, &a));
    CHECK_EQ_STR(sq_tz_name(a), "UTC");
    REQUIRE_OK(sq_tz_get("Europe/Paris", &a));
    REQUIRE_OK(sq_tz_get("Europe/Paris", &b));
    CHECK(a == b);
    CHECK_EQ_STR(sq_tz_name(a), "Europe/Paris");
    REQUIRE_OK(sq_tz_get("+02:00", &b));
    CHECK(a != b);
}

static void sql_fn_tz_rules(void)
{
    const sq_tz *paris, *ny, *syd;
    REQUIRE_OK(sq_tz_get("Europe/Paris", &paris));
    REQUIRE_OK(sq_tz_get("America/New_York", &ny));
    REQUIRE_OK(sq_tz_get("Australia/Sydney", &syd));
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1705320000), 3600); /* 2024-01-15 */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1721044800), 7200); /* 2024-07-15 */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1711846799), 3600); /* 2024-03-31 00:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1711846800), 7200); /* 01:00:00Z: 03:00 CEST */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1729990799), 7200); /* 2024-10-27 00:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 1729990800), 3600);
    /* 2100 is past any file's transition table: the POSIX rule of the footer. */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4102444800), 3600); /* 2100-01-01 */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4118083200), 7200); /* 2100-07-01 */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4109878799), 3600); /* 2100-03-28 00:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4109878800), 7200);
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4128627599), 7200); /* 2100-10-31 00:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(paris, 4128627600), 3600);
    CHECK_EQ_INT(sq_tz_offset_at(syd, 4102444800 + 14 * 86400), 39600); /* southern summer */
    CHECK_EQ_INT(sq_tz_offset_at(syd, 4118083200 + 14 * 86400), 36000);
    CHECK_EQ_INT(sq_tz_offset_at(ny, 1710053999), -18000); /* 2024-03-10 06:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(ny, 1710054000), -14400);
    CHECK_EQ_INT(sq_tz_offset_at(ny, 1730613599), -14400); /* 2024-11-03 05:59:59Z */
    CHECK_EQ_INT(sq_tz_offset_at(ny, 1730613600), -18000);
    CHECK_EQ_INT(sq_tz_offset_at(paris, -5000000000), 561); /* LMT before 1891 */
    /* Local -> UTC. Local seconds are epoch seconds of the wall time read as UTC. */
    int64_t l = 1711848600; /* 2024-03-31 01:30 local: before the gap */
    CHECK_EQ_INT(sq_tz_offset_of_local(paris, l), 3600);
    l = 1711852200; /* 02:30 local does not exist: moves forward to 01:30Z = 03:30 */
    CHECK_EQ_INT(sq_tz_offset_of_local(paris, l), 3600);
    l = 1711855800; /* 03:30 local */
    CHECK_EQ_INT(sq_tz_offset_of_local(paris, l), 7200);
    l = 1729996200; /* 2024-10-27 02:30 local happens twice: the first (00:30Z) */
    CHECK_EQ_INT(sq_tz_offset_of_local(paris, l), 7200);
    l = 1729999800; /* 03:30 local: once */
    CHECK_EQ_INT(sq_tz_offset_of_local(paris, l), 3600);
    l = 1710037800; /* 2024-03-10 02:30 in New York: a gap, 07:30Z */
    CHECK_EQ_INT(sq_tz_offset_of_local(ny, l), -18000);
    l = 1730597400; /* 2024-11-03 01:30 in New York: twice, the first is 05:30Z */
    CHECK_EQ_INT(sq_tz_offset_of_local(ny, l), -14400);
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(p, 1, n, f) == n);
    fclose(f);
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* A TZif header: version, then isut isstd leap time type char counts. */
static size_t put_header(unsigned char *p, char version, uint32_t leap, uint32_t time,
                         uint32_t type, uint32_t chars)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put_be32(p + 28, leap);
    put_be32(p + 32, time);
    put_be32(p + 36, type);
    put_be32(p + 40, chars);
    return 44;
}

static size_t put_type(unsigned char *p, int32_t off, int dst)
{
    put_be32(p, (uint32_t)off);
    p[4] = (unsigned char)dst;
    p[5] = 0;
    return 6;
}

/* Hand-made TZif files: version 1 (32-bit times), version 2 with a footer rule in
 * the J and n forms, a leap-second file and a truncated one. */
static void sql_fn_tz_files(void)
{
    char dir[] = "/tmp/spate-tz-XXXXXX", path[128];
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    CHECK_EQ_INT(setenv("TZDIR", dir, 1), 0);
    unsigned char b[512];
    size_t n = put_header(b, 0, 0, 2, 2, 4);
    n += put_be32(b + n, 1000);
    n += put_be32(b + n, 2000);
    b[n++] = 1;
    b[n++] = 0;
    n += put_type(b + n, 3600, 0);
    n += put_type(b + n, 7200, 1);
    memcpy(b + n, "A\0B\0", 4);
    n += 4;
    snprintf(path, sizeof(path), "%s/V1", dir);
    write_file(path, b, n);
    const sq_tz *z;
    REQUIRE_OK(sq_tz_get("V1", &z));
    CHECK_EQ_INT(sq_tz_offset_at(z, 999), 3600);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1000), 7200);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1999), 7200);
    CHECK_EQ_INT(sq_tz_offset_at(z, 2000), 3600);
    CHECK_EQ_INT(sq_tz_offset_at(z, 4000000000), 3600);

    snprintf(path, sizeof(path), "%s/Trunc", dir);
    write_file(path, b, n - 5);
    CHECK_EQ_INT(sq_tz_get("Trunc", &z), SPATE_ENOTFOUND);
    b[4] = '2'; /* claims a 64-bit section it does not have */
    snprintf(path, sizeof(path), "%s/NoV2", dir);
    write_file(path, b, n);
    CHECK_EQ_INT(sq_tz_get("NoV2", &z), SPATE_ENOTFOUND);

    /* v2: an empty v1 section, then one transition at 0 from +01:00 to the rule
     * AAA-3BBB-4,J60/0,300/4: +03 standard, +04 from March 1st 00:00 to day 300
     * (0-based, counting Feb 29) at 04:00. */
    n = put_header(b, '2', 0, 0, 1, 1);
    n += put_type(b + n, 0, 0);
    b[n++] = 0;
    n += put_header(b + n, '2', 0, 1, 2, 4);
    n += put_be32(b + n, 0);
    n += put_be32(b + n, 0);
    b[n++] = 1;
    n += put_type(b + n, 3600, 0);
    n += put_type(b + n, 10800, 0);
    memcpy(b + n, "A\0B\0", 4);
    n += 4;
    const char *footer = "\nAAA-3BBB-4,J60/0,300/4\n";
    memcpy(b + n, footer, strlen(footer));
    n += strlen(footer);
    snprintf(path, sizeof(path), "%s/Rule", dir);
    write_file(path, b, n);
    REQUIRE_OK(sq_tz_get("Rule", &z));
    CHECK_EQ_INT(sq_tz_offset_at(z, -1), 3600);
    CHECK_EQ_INT(sq_tz_offset_at(z, 0), 10800);
    /* 2030-02-28 21:00Z = March 1st 00:00 local; 2030-10-28 00:00Z = 04:00 local DST;
     * 2032 is leap: day 300 is October 27th. */
    CHECK_EQ_INT(sq_tz_offset_at(z, 1898542799), 10800);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1898542800), 14400);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1919375999), 14400);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1919376000), 10800);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1982447999), 14400);
    CHECK_EQ_INT(sq_tz_offset_at(z, 1982448000), 10800);

    n = put_header(b, 0, 1, 0, 1, 1);
    n += put_type(b + n, 0, 0);
    b[n++] = 0;
    n += put_be32(b + n, 78796800);
    n += put_be32(b + n, 1);
    snprintf(path, sizeof(path), "%s/Leap", dir);
    write_file(path, b, n);
    CHECK_EQ_INT(sq_tz_get("Leap", &z), SPATE_ENOTFOUND);
    CHECK(strstr(spate_last_error(), "leap") != NULL);

    static const char *const names[] = {"V1", "Trunc", "NoV2", "Rule", "Leap"};
    for (int k = 0; k < 5; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        unlink(path);
    }
    rmdir(dir);
}

static void *load_zones(void *arg)
{
    const sq_tz **out = arg;
    static const char *const names[] = {"Europe/Paris", "America/New_York", "Asia/Kolkata",
                                        "+03:00"};
    for (int k = 0; k < 4; k++)
        if (sq_tz_get(names[k], &out[k]) != 0) out[k] = NULL;
    return NULL;
}

static void sql_fn_tz_threads(void)
{
    enum { T = 8 };
    pthread_t th[T];
    const sq_tz *got[T][4];
    for (int t = 0; t < T; t++) CHECK_EQ_INT(pthread_create(&th[t], NULL, load_zones, got[t]), 0);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < 4; k++) CHECK(got[t][k] != NULL && got[t][k] == got[0][k]);
    CHECK_EQ_INT(sq_tz_offset_at(got[0][2], 1705320000), 19800);
}

/* -------------------------------------------------------------------- time */

static void sql_fn_time_fields(void)
{
    static const struct {
        const char *date;
        int dow, week, doy, quarter;
    } d[] = {
        {"2024-01-01", 2, 1, 1, 1},   {"2000-01-01", 7, 52, 1, 1},  {"1970-01-01", 5, 1, 1, 1},
        {"2023-12-31", 1, 52, 365, 4}, {"2021-01-03", 1, 53, 3, 1}, {"2020-12-31", 5, 53, 366, 4},
        {"2019-12-30", 2, 1, 364, 4}, {"2024-12-31", 3, 1, 366, 4}, {"1900-03-01", 5, 9, 60, 1},
    };
    for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++) {
        EXPECT_INT(FN("DAYOFWEEK", VS(d[k].date)), d[k].dow);
        EXPECT_INT(FN("WEEK", VS(d[k].date)), d[k].week);
        EXPECT_INT(FN("DAYOFYEAR", VS(d[k].date)), d[k].doy);
        EXPECT_INT(FN("QUARTER", VS(d[k].date)), d[k].quarter);
    }
    EXPECT_INT(FN("DAYOFWEEK", VT(0)), 5);
    EXPECT_INT(FN("YEAR", VS("2024-05-06")), 2024);
    EXPECT_INT(FN("MONTH", VS("2024-05-06")), 5);
    EXPECT_INT(FN("DAYOFMONTH", VS("2024-05-06")), 6);
    EXPECT_INT(FN("YEAR", VT(SEC(-1))), 1969);
    EXPECT_INT(FN("SECOND", VT(-1)), 59); /* 1969-12-31 23:59:59.999999 */
    /* 2024-03-31 01:30 UTC is 03:30 in Paris, 21:30 the day before in New York. */
    val ts = VT(SEC(1711848600));
    EXPECT_INT(TZ_CALL("UTC", "HOUR", ts), 1);
    EXPECT_INT(TZ_CALL("Europe/Paris", "HOUR", ts), 3);
    EXPECT_INT(TZ_CALL("Europe/Paris", "MINUTE", ts), 30);
    EXPECT_INT(TZ_CALL("America/New_York", "HOUR", ts), 21);
    EXPECT_INT(TZ_CALL("America/New_York", "DAYOFMONTH", ts), 30);
    EXPECT_INT(TZ_CALL("+05:30", "HOUR", ts), 7);
    EXPECT_INT(TZ_CALL("+05:30", "MINUTE", ts), 0);
    EXPECT_INT(TZ_CALL("-0530", "HOUR", ts), 20);
    /* Text is a wall time, read as written. */
    EXPECT_INT(TZ_CALL("Europe/Paris", "HOUR", VS("2024-03-31 02:30:00")), 2);
    EXPECT_INT(TZ_CALL("Europe/Paris", "HOUR", VS("2024-03-31T01:30:00Z")), 3);
    EXPECT_INT(TZ_CALL("UTC", "HOUR", VS("2024-03-31T03:30:00+02:00")), 1);
    EXPECT_INT(FN("SECOND", VS(" 2024-03-31 1:2:3.5 ")), 3);
    EXPECT_INT(FN("MINUTE", VS("2024-3-31 10:20")), 20);
    EXPECT_NULL(FN("HOUR", VS("2024-03-31 24:00:00")));
    EXPECT_NULL(FN("HOUR", VS("2024-02-30")));
    EXPECT_NULL(FN("HOUR", VS("yesterday")));
    EXPECT_NULL(FN("HOUR", VS("2024-03-31 10:00:00 UTC")));
    EXPECT_NULL(FN("YEAR", VT(INT64_MAX)));
}

static void sql_fn_extract(void)
{
    val ts = VS("2024-05-06 07:08:09.123456");
    EXPECT_INT(FN("EXTRACT", VS("YEAR"), ts), 2024);
    EXPECT_INT(FN("EXTRACT", VS("quarter"), ts), 2);
    EXPECT_INT(FN("EXTRACT", VS("MONTH"), ts), 5);
    EXPECT_INT(FN("EXTRACT", VS("WEEK"), ts), 19);
    EXPECT_INT(FN("EXTRACT", VS("DAY"), ts), 6);
    EXPECT_INT(FN("EXTRACT", VS("DOW"), ts), 2);
    EXPECT_INT(FN("EXTRACT", VS("DAYOFWEEK"), ts), 2);
    EXPECT_INT(FN("EXTRACT", VS("DOY"), ts), 127);
    EXPECT_INT(FN("EXTRACT", VS("Hour"), ts), 7);
    EXPECT_INT(FN("EXTRACT", VS("MINUTES"), ts), 8);
    EXPECT_INT(FN("EXTRACT", VS("SECOND"), ts), 9);
    EXPECT_INT(FN("EXTRACT", VS("MILLISECOND"), ts), 9123);
    EXPECT_INT(FN("EXTRACT", VS("MICROSECOND"), ts), 9123456);
    EXPECT_INT(FN("EXTRACT", VS("EPOCH"), VT(SEC(1700000000) + 999999)), 1700000000);
    EXPECT_INT(TZ_CALL("Europe/Paris", "EXTRACT", VS("EPOCH"), VS("1970-01-01 01:00:00")), 0);
    EXPECT_NULL(FN("EXTRACT", VS("FORTNIGHT"), ts));
    EXPECT_NULL(FN("EXTRACT", VS(""), ts));
}

static void sql_fn_to_timestamp(void)
{
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023-11-14 22:13:20")), SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023-11-14T22:13:20.5")), SEC(1700000000) + 500000);
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023-11-14 22:13:20.1234567")), SEC(1700000000) + 123456);
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023-11-14")), SEC(1700000000 - 80000));
    EXPECT_INT(TZ_CALL("+01:00", "TO_TIMESTAMP", VS("2023-11-14 23:13:20")), SEC(1700000000));
    EXPECT_INT(TZ_CALL("Europe/Paris", "TO_TIMESTAMP", VS("2023-11-14 22:13:20Z")),
               SEC(1700000000));
    EXPECT_INT(TZ_CALL("Europe/Paris", "TO_TIMESTAMP", VS("2023-11-15 00:13:20+0200")),
               SEC(1700000000));
    /* Paris, spring forward: 02:30 does not exist and becomes 03:30 (01:30Z);
     * autumn: 02:30 happens twice, the first time is 00:30Z. */
    EXPECT_INT(TZ_CALL("Europe/Paris", "TO_TIMESTAMP", VS("2024-03-31 02:30:00")),
               SEC(1711848600));
    EXPECT_INT(TZ_CALL("Europe/Paris", "TO_TIMESTAMP", VS("2024-10-27 02:30:00")),
               SEC(1729989000));
    EXPECT_INT(TZ_CALL("America/New_York", "TO_TIMESTAMP", VS("2024-03-10 02:30:00")),
               SEC(1710055800));
    EXPECT_INT(TZ_CALL("America/New_York", "TO_TIMESTAMP", VS("2024-11-03 01:30:00")),
               SEC(1730611800));
    /* Patterns. */
    EXPECT_INT(FN("TO_TIMESTAMP", VS("14/11/2023 22:13:20.250"), VS("dd/MM/yyyy HH:mm:ss.SSS")),
               SEC(1700000000) + 250000);
    EXPECT_INT(FN("TO_TIMESTAMP", VS("Nov 14, 2023 10:13:20 PM"), VS("MMM d, yyyy hh:mm:ss a")),
               SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("Tuesday 14 November 23 12:13:20 am"),
                  VS("EEEE d MMMM yy h:mm:ss a")),
               SEC(1699920000 + 800));
    EXPECT_INT(TZ_CALL("Asia/Tokyo", "TO_TIMESTAMP", VS("2023-11-14T23:13:20+01:00"),
                       VS("yyyy-MM-dd'T'HH:mm:ssXXX")),
               SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023-11-14T22:13:20Z"), VS("yyyy-MM-dd'T'HH:mm:ssX")),
               SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("20231114 221320 +0000"), VS("yyyyMMdd HHmmss Z")),
               SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("2023.318"), VS("yyyy.DDD")), SEC(1699920000));
    EXPECT_INT(FN("TO_TIMESTAMP", VS("at 2023-11-14 o'clock"), VS("'at' yyyy-MM-dd 'o''clock'")),
               SEC(1699920000));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-11-14 22:13:20"), VS("yyyy-MM-dd")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-13-14"), VS("yyyy-MM-dd")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-02-29"), VS("yyyy-MM-dd")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-1-14"), VS("yyyy-MM-dd")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-11-14"), VS("yyyy-MM-dd QQ")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("2023-11-14"), VS("yyyy-MM-dd 'open")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("13:00 PM"), VS("hh:mm a")));
    EXPECT_NULL(FN("TO_TIMESTAMP", VS("not a time")));
    EXPECT_STR(FN("TO_DATE", VS("2023-11-14 22:13:20")), "2023-11-14");
    EXPECT_STR(FN("TO_DATE", VS("14.11.2023"), VS("dd.MM.yyyy")), "2023-11-14");
    EXPECT_STR(TZ_CALL("Asia/Tokyo", "TO_DATE", VS("2023-11-14T23:30:00-05:00")), "2023-11-14");
    EXPECT_NULL(FN("TO_DATE", VS("2023-11-31")));
}

static void sql_fn_date_format(void)
{
    val ts = VT(SEC(1700000000) + 123456); /* 2023-11-14 22:13:20.123456 UTC, a Tuesday */
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("yyyy-MM-dd HH:mm:ss")), "2023-11-14 22:13:20");
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("yy/M/d H:m:s.SSS")), "23/11/14 22:13:20.123");
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("S SS SSSSSS SSSSSSSSS")), "1 12 123456 123456000");
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("EEE EEEE MMM MMMM D hh a")),
               "Tue Tuesday Nov November 318 10 PM");
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("yyyy-MM-dd'T'HH:mm:ssXXX")), "2023-11-14T22:13:20Z");
    EXPECT_STR(FN("DATE_FORMAT", ts, VS("'week' 'of' yyyy, ''yy")), "week of 2023, '23");
    EXPECT_STR(TZ_CALL("Europe/Paris", "DATE_FORMAT", ts, VS("yyyy-MM-dd HH:mm XXX Z X xx")),
               "2023-11-14 23:13 +01:00 +0100 +01 +0100");
    EXPECT_STR(TZ_CALL("Asia/Kolkata", "DATE_FORMAT", ts, VS("HH:mm X")), "03:43 +0530");
    EXPECT_STR(TZ_CALL("America/New_York", "DATE_FORMAT", ts, VS("h:mm a, XXX")),
               "5:13 PM, -05:00");
    EXPECT_STR(FN("DATE_FORMAT", VT(0), VS("hh:mm a")), "12:00 AM");
    EXPECT_STR(FN("DATE_FORMAT", VS("2024-02-29"), VS("dd MMM yyyy")), "29 Feb 2024");
    EXPECT_NULL(FN("DATE_FORMAT", ts, VS("yyyy-MM-dd q")));
    EXPECT_NULL(FN("DATE_FORMAT", ts, VS("yyyyy")));
}

static void sql_fn_date_arith(void)
{
    EXPECT_STR(FN("DATE_ADD", VS("2024-02-28"), VI(1)), "2024-02-29");
    EXPECT_STR(FN("DATE_ADD", VS("2024-02-28"), VI(2)), "2024-03-01");
    EXPECT_STR(FN("DATE_ADD", VS("2024-12-31 23:59:59"), VL(1)), "2025-01-01");
    EXPECT_STR(FN("DATE_SUB", VS("2024-03-01"), VI(1)), "2024-02-29");
    EXPECT_STR(FN("DATE_SUB", VS("2024-03-01"), VI(-366)), "2025-03-02");
    /* 2024-01-01 23:30 UTC is already January 2nd in Paris. */
    EXPECT_STR(TZ_CALL("Europe/Paris", "DATE_ADD", VT(NOW_US), VI(0)), "2024-01-02");
    EXPECT_STR(TZ_CALL("UTC", "DATE_ADD", VT(NOW_US), VI(0)), "2024-01-01");
    EXPECT_NULL(FN("DATE_ADD", VS("2024-03-01"), VL(INT64_MAX)));

    val a = VS("2024-01-31 10:00:00");
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("DAY"), a, VS("2024-02-01 09:59:59")), 0);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("DAY"), a, VS("2024-02-01 10:00:00")), 1);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("HOUR"), a, VS("2024-01-31 08:30:00")), -1);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MINUTE"), a, VS("2024-01-31 10:59:59")), 59);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("SECOND"), a, VS("2024-01-31 10:00:01.9")), 1);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MILLISECOND"), a, VS("2024-01-31 10:00:01.9")), 1900);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("WEEK"), a, VS("2024-02-14 10:00:00")), 2);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MONTH"), a, VS("2024-02-29 23:00:00")), 0);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MONTH"), a, VS("2024-03-31 10:00:00")), 2);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MONTH"), a, VS("2024-03-31 09:59:59")), 1);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MONTH"), VS("2024-03-31"), VS("2024-02-29")), -1);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("MONTH"), VS("2024-03-31"), VS("2024-03-01")), 0);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("QUARTER"), VS("2024-01-15"), VS("2024-10-14")), 2);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("YEAR"), VS("2000-02-29"), VS("2024-02-28")), 23);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("YEARS"), VS("2000-02-29"), VS("2024-02-29")), 24);
    EXPECT_INT(FN("TIMESTAMPDIFF", VS("SQL_TSI_DAY"), VT(0), VT(SEC(86400 * 3))), 3);
    EXPECT_NULL(FN("TIMESTAMPDIFF", VS("DOW"), VT(0), VT(0)));
    /* Across the Paris spring change: a calendar day, but 23 hours. */
    val before = VS("2024-03-30 12:00:00"), after = VS("2024-03-31 12:00:00");
    EXPECT_INT(TZ_CALL("Europe/Paris", "TIMESTAMPDIFF", VS("DAY"), before, after), 1);
    EXPECT_INT(TZ_CALL("Europe/Paris", "TIMESTAMPDIFF", VS("HOUR"), before, after), 23);

    EXPECT_INT(TZ_CALL("Europe/Paris", "TIMESTAMPADD", VS("DAY"), VI(1), VT(SEC(1711796400))),
               SEC(1711879200)); /* 12:00 Paris -> 12:00 Paris the next day */
    EXPECT_INT(TZ_CALL("Europe/Paris", "TIMESTAMPADD", VS("HOUR"), VI(24), VT(SEC(1711796400))),
               SEC(1711796400 + 86400));
    EXPECT_INT(FN("TIMESTAMPADD", VS("MONTH"), VI(1), VS("2024-01-31 10:00:00")),
               SEC(1709200800)); /* 2024-02-29 10:00 */
    EXPECT_INT(FN("TIMESTAMPADD", VS("YEAR"), VI(-1), VS("2024-02-29")), SEC(1677542400));
    EXPECT_INT(FN("TIMESTAMPADD", VS("QUARTER"), VI(2), VS("2024-01-01")), SEC(1719792000));
    EXPECT_INT(FN("TIMESTAMPADD", VS("WEEK"), VI(1), VT(0)), SEC(7 * 86400));
    EXPECT_INT(FN("TIMESTAMPADD", VS("MINUTES"), VL(-1), VT(0)), SEC(-60));
    EXPECT_INT(FN("TIMESTAMPADD", VS("MICROSECOND"), VI(5), VT(0)), 5);
    EXPECT_NULL(FN("TIMESTAMPADD", VS("EPOCH"), VI(5), VT(0)));
    EXPECT_NULL(FN("TIMESTAMPADD", VS("SECOND"), VL(INT64_MAX), VT(0)));
    EXPECT_NULL(FN("TIMESTAMPADD", VS("YEAR"), VL(INT64_MAX), VT(0)));
    EXPECT_NULL(FN("TIMESTAMPADD", VS("DAY"), VL(INT64_MAX / 2), VT(0)));
}

static void sql_fn_unix_time(void)
{
    EXPECT_INT(FN0("UTC", "UNIX_TIMESTAMP"), 1704151800);
    EXPECT_INT(FN("UNIX_TIMESTAMP", VT(SEC(1700000000) + 999999)), 1700000000);
    EXPECT_INT(FN("UNIX_TIMESTAMP", VT(-1)), -1);
    EXPECT_INT(FN("UNIX_TIMESTAMP", VS("1970-01-01 00:00:00")), 0);
    EXPECT_INT(TZ_CALL("+01:00", "UNIX_TIMESTAMP", VS("1970-01-01 00:00:00")), -3600);
    EXPECT_INT(FN("UNIX_TIMESTAMP", VS("14/11/2023 22:13:20"), VS("dd/MM/yyyy HH:mm:ss")),
               1700000000);
    EXPECT_NULL(FN("UNIX_TIMESTAMP", VS("2023-11-14"), VS("dd/MM/yyyy")));
    EXPECT_STR(FN("FROM_UNIXTIME", VL(0)), "1970-01-01 00:00:00");
    EXPECT_STR(TZ_CALL("Europe/Paris", "FROM_UNIXTIME", VI(0)), "1970-01-01 01:00:00");
    EXPECT_STR(TZ_CALL("Europe/Paris", "FROM_UNIXTIME", VL(1711846800), VS("HH:mm XXX")),
               "03:00 +02:00");
    EXPECT_STR(FN("FROM_UNIXTIME", VL(-1)), "1969-12-31 23:59:59");
    EXPECT_NULL(FN("FROM_UNIXTIME", VL(INT64_MAX)));
    EXPECT_INT(FN("TO_TIMESTAMP_LTZ", VL(1700000000), VI(0)), SEC(1700000000));
    EXPECT_INT(FN("TO_TIMESTAMP_LTZ", VL(1700000000123), VI(3)), SEC(1700000000) + 123000);
    EXPECT_INT(FN("TO_TIMESTAMP_LTZ", VL(1700000000123)), SEC(1700000000) + 123000);
    EXPECT_INT(FN("TO_TIMESTAMP_LTZ", VL(5), VI(6)), 5);
    EXPECT_INT(FN("TO_TIMESTAMP_LTZ", VD(1.5), VI(0)), 1500000);
    EXPECT_NULL(FN("TO_TIMESTAMP_LTZ", VL(1), VI(5)));
    EXPECT_NULL(FN("TO_TIMESTAMP_LTZ", VL(INT64_MAX), VI(0)));
    EXPECT_NULL(FN("TO_TIMESTAMP_LTZ", VD(NAN), VI(0)));
}

static void sql_fn_clock(void)
{
    EXPECT_INT(FN0("Europe/Paris", "CURRENT_TIMESTAMP"), NOW_US);
    EXPECT_INT(FN0("UTC", "NOW"), NOW_US);
    EXPECT_INT(FN0("UTC", "LOCALTIMESTAMP"), NOW_US);
    EXPECT_STR(FN0("UTC", "CURRENT_DATE"), "2024-01-01");
    EXPECT_STR(FN0("Europe/Paris", "CURRENT_DATE"), "2024-01-02");
    EXPECT_STR(FN0("-05:00", "CURRENT_DATE"), "2024-01-01");
    EXPECT_STR(FN0(NULL, "CURRENT_DATE"), "2024-01-01");
    EXPECT_STR(FN0("UTC", "CURRENT_TIME"), "23:30:00");
    EXPECT_STR(FN0("Asia/Kolkata", "LOCALTIME"), "05:00:00");
    /* A zone the binder should have refused fails the evaluation. */
    res r = FN0("Mars/Base", "CURRENT_DATE");
    CHECK_EQ_INT(r.rc, SPATE_ENOTFOUND);
    r = TZ_CALL("Mars/Base", "HOUR", VT(0));
    CHECK_EQ_INT(r.rc, SPATE_ENOTFOUND);
}

const sp_test tests_sql_funcs[] = {
    {"sql_fn_table_entries", sql_fn_table_entries},
    {"sql_fn_null_propagation", sql_fn_null_propagation},
    {"sql_fn_resolve", sql_fn_resolve},
    {"sql_fn_string_basics", sql_fn_string_basics},
    {"sql_fn_string_utf8", sql_fn_string_utf8},
    {"sql_fn_substring_rules", sql_fn_substring_rules},
    {"sql_fn_split_index", sql_fn_split_index},
    {"sql_fn_regexp", sql_fn_regexp},
    {"sql_fn_regexp_cache", sql_fn_regexp_cache},
    {"sql_fn_vectors", sql_fn_vectors},
    {"sql_fn_digests", sql_fn_digests},
    {"sql_fn_murmur3", sql_fn_murmur3},
    {"sql_fn_xxhash64", sql_fn_xxhash64},
    {"sql_fn_base64", sql_fn_base64},
    {"sql_fn_hex", sql_fn_hex},
    {"sql_fn_math", sql_fn_math},
    {"sql_fn_tz_names", sql_fn_tz_names},
    {"sql_fn_tz_rules", sql_fn_tz_rules},
    {"sql_fn_tz_files", sql_fn_tz_files},
    {"sql_fn_tz_threads", sql_fn_tz_threads},
    {"sql_fn_time_fields", sql_fn_time_fields},
    {"sql_fn_extract", sql_fn_extract},
    {"sql_fn_to_timestamp", sql_fn_to_timestamp},
    {"sql_fn_date_format", sql_fn_date_format},
    {"sql_fn_date_arith", sql_fn_date_arith},
    {"sql_fn_unix_time", sql_fn_unix_time},
    {"sql_fn_clock", sql_fn_clock},
    {NULL, NULL},
};
