/*
 * test_sql_expr.c - SQL expressions (src/sql/expr.c, eval.c, funcs.c): binding
 * errors with their places and hints, the semantics of each operator (three-valued
 * logic, NULLs, promotion, overflow, CAST), programs run by the engine on two
 * workers and by several threads at once, and a differential test against a
 * row-at-a-time reference evaluator written here.
 *
 * Expected values are worked out by hand. The reference evaluator of the
 * differential test shares no code with the engine: it computes integer arithmetic
 * in 128 bits and checks the range afterwards, matches LIKE recursively and parses
 * numbers with its own loop.
 *
 * Most tests evaluate through the text "TYPE v1;v2;..." (NULL for NULL, TIMESTAMPs in
 * ISO-8601 UTC) of a program run over a batch whose rows are written
 * "i|b|d|s|t|f|g|p|heart_rate" with ~ for NULL; missing trailing fields are NULL.
 */
#include "test.h"

#include "core/batch.h"
#include "formats/format.h"
#include "sql/expr.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <spate.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#define SCHEMA                                                                                     \
    "i INT, b BIGINT, d DOUBLE, s STRING, t TIMESTAMP, f BOOL, g BOOL, p STRING, heart_rate INT"
enum { C_I, C_B, C_D, C_S, C_T, C_F, C_G, C_P, C_HR, NCOLS };

static const sq_scope_col scope_cols[NCOLS] = {
    {"vitals", "i", SPATE_INT32, C_I},
    {"vitals", "b", SPATE_INT64, C_B},
    {"vitals", "d", SPATE_FLOAT64, C_D},
    {"vitals", "s", SPATE_STRING, C_S},
    {"vitals", "t", SPATE_TIMESTAMP, C_T},
    {"vitals", "f", SPATE_BOOL, C_F},
    {"vitals", "g", SPATE_BOOL, C_G},
    {"vitals", "p", SPATE_STRING, C_P},
    {"vitals", "heart_rate", SPATE_INT32, C_HR},
};
static const sq_scope scope = {scope_cols, NCOLS};
static const sq_env utc = {"UTC"};

/* The row most single-value checks run on. */
static const char *const default_row[] = {"7|-3|2.5|abc|2024-01-01T10:00:00Z|true|~|a%|70"};

/* ------------------------------------------------------------------ helpers */

static sp_batch *make_batch(const char *const *rows, int n)
{
    spate_schema *sc;
    if (spate_schema_parse(SCHEMA, &sc)) return NULL;
    sp_batch *b = sp_batch_new((uint32_t)(n > 0 ? n : 1));
    sp_batch_reset(b, sc);
    for (int r = 0; r < n; r++) {
        const char *q = rows[r];
        for (int c = 0; c < NCOLS; c++) {
            const char *end = q ? strchr(q, '|') : NULL;
            size_t len = q ? (end ? (size_t)(end - q) : strlen(q)) : 0;
            char field[128];
            snprintf(field, sizeof field, "%.*s", (int)len, q ? q : "");
            sp_vec *v = &b->cols[c];
            memset((char *)v->data + (size_t)r * sp_type_size(v->type), 0, sp_type_size(v->type));
            if (!q || strcmp(field, "~") == 0) {
                sp_vec_set_null(v, (uint32_t)r);
            } else {
                switch (v->type) {
                case SPATE_INT32:
                    SP_I32(v)[r] = (int32_t)strtol(field, NULL, 10);
                    break;
                case SPATE_INT64:
                    SP_I64(v)[r] = strtoll(field, NULL, 10);
                    break;
                case SPATE_FLOAT64:
                    SP_F64(v)[r] = strtod(field, NULL);
                    break;
                case SPATE_BOOL:
                    SP_BOOL(v)[r] = strcmp(field, "true") == 0;
                    break;
                case SPATE_TIMESTAMP:
                    sp_ts_parse(field, len, &SP_I64(v)[r]);
                    break;
                default:
                    SP_STR(v)[r] = (spate_str){sp_arena_dup(&b->arena, field, len), len};
                    break;
                }
            }
            q = end ? end + 1 : NULL;
        }
    }
    b->n = (uint32_t)n;
    return b;
}

static void free_batch(sp_batch *b)
{
    spate_schema *sc = (spate_schema *)b->schema;
    sp_batch_free(b);
    spate_schema_free(sc);
}

static void cell_text(const sp_vec *v, uint32_t r, char *buf, size_t n)
{
    if (sp_vec_is_null(v, r)) {
        snprintf(buf, n, "NULL");
        return;
    }
    switch (v->type) {
    case SPATE_BOOL:
        snprintf(buf, n, "%s", SP_BOOL(v)[r] ? "true" : "false");
        break;
    case SPATE_INT32:
        snprintf(buf, n, "%" PRId32, SP_I32(v)[r]);
        break;
    case SPATE_INT64:
        snprintf(buf, n, "%" PRId64, SP_I64(v)[r]);
        break;
    case SPATE_FLOAT64:
        snprintf(buf, n, "%.15g", SP_F64(v)[r]);
        break;
    case SPATE_TIMESTAMP:
        sp_ts_format(SP_I64(v)[r], buf, n);
        break;
    default:
        snprintf(buf, n, "%.*s", (int)SP_STR(v)[r].len, SP_STR(v)[r].ptr);
        break;
    }
}

/* Parses and binds sql; the script is freed at once (a bound expression keeps
 * nothing of it). */
static int bind_text(const char *sql, const sq_scope *sc, const sq_env *env, sq_bexpr **out,
                     sq_error *err)
{
    sq_script *holder = NULL;
    sq_expr *e;
    memset(err, 0, sizeof *err);
    *out = NULL;
    int rc = sq_parse_expr(sql, strlen(sql), &holder, &e, err);
    if (!rc) rc = sq_bind(e, sc, env, out, err);
    sq_script_free(holder);
    return rc;
}

static char result[16384];

/* Runs bound expression b (taken) over rows: "TYPE v1;v2;...". */
static const char *run_bound(sq_bexpr *b, const char *const *rows, int n, const sq_env *env)
{
    const char *names[] = {"x"};
    sq_program *p;
    if (sq_program_new(&b, names, 1, env, &p)) return "program failed";
    sp_batch *in = make_batch(rows, n), *out = sp_batch_new((uint32_t)(n > 0 ? n : 1));
    sp_batch_reset(out, sq_program_schema(p));
    out->n = in->n;
    int rc = sq_program_map((const spate_cols *)in, (spate_cols *)out, p);
    size_t len = (size_t)snprintf(result, sizeof result, "%s",
                                  spate_type_name(spate_schema_type(sq_program_schema(p), 0)));
    for (int r = 0; !rc && r < n && len < sizeof result; r++) {
        char cell[512];
        cell_text(&out->cols[0], (uint32_t)r, cell, sizeof cell);
        len += (size_t)snprintf(result + len, sizeof result - len, "%s%s", r ? ";" : " ", cell);
    }
    if (rc) snprintf(result, sizeof result, "map failed: %d", rc);
    sp_batch_free(out);
    free_batch(in);
    sq_program_free(p);
    return result;
}

/* sql over rows with the session zone of env: "TYPE v1;v2;..." or "error CODE
 * LINE:COL message | hint". */
static const char *run_env(const char *sql, const char *const *rows, int n, const sq_env *env)
{
    sq_bexpr *b;
    sq_error err;
    int rc = bind_text(sql, &scope, env, &b, &err);
    if (rc) {
        snprintf(result, sizeof result, "error %d %u:%u %s | %s", rc, (unsigned)err.pos.line,
                 (unsigned)err.pos.col, err.msg, err.hint);
        return result;
    }
    return run_bound(b, rows, n, env);
}

static const char *run(const char *sql, const char *const *rows, int n)
{
    return run_env(sql, rows, n, &utc);
}

/* sql over the default row. */
static const char *ev(const char *sql)
{
    return run(sql, default_row, 1);
}

#define EV(sql, expected) CHECK_EQ_STR(ev(sql), expected)
#define RUN(sql, rows, expected)                                                                   \
    CHECK_EQ_STR(run(sql, rows, (int)(sizeof rows / sizeof rows[0])), expected)

/* -------------------------------------------------------------- binding */

static void sql_expr_bind_errors(void)
{
    EV("hart_rate + 1", "error -7 1:1 unknown column 'hart_rate' | did you mean 'heart_rate'?");
    EV("i + zzzzz", "error -7 1:5 unknown column 'zzzzz' | ");
    EV("vitals.hart_rate", "error -7 1:1 unknown column 'vitals.hart_rate' | did you mean "
                           "'heart_rate'?");
    EV("vital.i", "error -7 1:1 unknown table or alias 'vital' | did you mean 'vitals'?");
    EV("UPPR(s)", "error -7 1:1 unknown function 'UPPR' | did you mean 'UPPER'?");
    EV("1 + COUNT(i)", "error -1 1:5 COUNT is an aggregate function: it is only allowed in the "
                       "SELECT list or HAVING of a grouped query | ");
    EV("s + 1", "error -5 1:1 cannot apply '+' to STRING and BIGINT | use || to join strings, or "
                "CAST the text to a number");
    EV("1 + s", "error -5 1:5 cannot apply '+' to BIGINT and STRING | use || to join strings, or "
                "CAST the text to a number");
    EV("i = 'x'", "error -5 1:5 cannot compare INT with STRING | CAST one side to the type of the "
                  "other");
    EV("i IN (1, 'a')", "error -5 1:10 cannot compare INT with STRING | CAST one side to the type "
                        "of the other");
    EV("t - t", "error -5 1:1 cannot subtract a TIMESTAMP from a TIMESTAMP | use "
                "TIMESTAMPDIFF(SECOND, start, finish) for the time between two TIMESTAMPs");
    EV("t + 1", "error -5 1:5 cannot apply '+' to TIMESTAMP and BIGINT | add or subtract an "
                "INTERVAL: ts + INTERVAL '1' HOUR");
    EV("INTERVAL '1' HOUR * 2", "error -5 1:21 cannot apply '*' to INTERVAL and BIGINT | an "
                                "INTERVAL only adds to or subtracts from a TIMESTAMP or an "
                                "INTERVAL");
    EV("CAST(f AS TIMESTAMP)", "error -5 1:1 cannot cast BOOL to TIMESTAMP | ");
    EV("CAST(i AS DATE)", "error -5 1:1 cannot cast INT to DATE | ");
    EV("CAST(CAST(s AS BYTES) AS INT)", "error -5 1:1 cannot cast BYTES to INT | ");
    EV("CASE WHEN f THEN 1 ELSE 'x' END",
       "error -5 1:25 CASE: incompatible types BIGINT and STRING | CAST the values to one type");
    EV("s LIKE 'a!b' ESCAPE '!'", "error -1 1:8 invalid LIKE pattern 'a!b' | the escape "
                                  "character must be followed by '%', '_' or itself");
    EV("s LIKE 'a' ESCAPE '!!'", "error -1 1:19 the ESCAPE of LIKE must be one character | ");
    EV("i LIKE 'a'", "error -5 1:1 LIKE needs STRING operands, got INT | ");
    EV("t > 'yesterday'",
       "error -1 1:5 'yesterday' is not a valid TIMESTAMP | write 'YYYY-MM-DD HH:MM:SS[.ffffff]'");
    EV("TIMESTAMP '2024-13-01 00:00:00'", "error -1 1:1 '2024-13-01 00:00:00' is not a valid "
                                          "TIMESTAMP | write 'YYYY-MM-DD HH:MM:SS[.ffffff]'");
    EV("DATE '2023-02-29'", "error -1 1:1 invalid DATE literal '2023-02-29' | write DATE "
                            "'YYYY-MM-DD'");
    EV("NOT i", "error -5 1:5 NOT needs a BOOLEAN, got INT | ");
    EV("f AND 1", "error -5 1:7 AND needs a BOOLEAN, got BIGINT | ");
    EV("-s", "error -5 1:2 unary '-' needs a number, got STRING | ");
    EV("f || g", "error -5 1:1 cannot apply '||' to BOOL and BOOL | || joins strings: CAST the "
                 "operands to STRING");
    EV("NULLIF(i)", "error -1 1:1 NULLIF expects 2 arguments, got 1 | NULLIF(a, b) -> type of a");
    EV("IF(i, 1, 2)", "error -5 1:4 the condition of IF needs a BOOLEAN, got INT | ");
    EV("UPPER(s, s)", "error -1 1:1 UPPER expects 1 argument, got 2 | UPPER(s STRING) -> STRING");
    EV("SUBSTRING(i, 1)", "error -5 1:1 SUBSTRING expects (STRING, INT[, INT]), got (INT, "
                          "BIGINT) | SUBSTRING(s STRING, start INT[, len INT]) -> STRING");
    EV("1 +\n  nope", "error -7 2:3 unknown column 'nope' | ");
    /* A chain of operators nests one level per operator: bounded. */
    static char chain[8192];
    size_t len = (size_t)snprintf(chain, sizeof chain, "i");
    for (int k = 1; k < 500; k++)
        len += (size_t)snprintf(chain + len, sizeof chain - len, " + i");
    EV(chain, "INT 3500");
    for (int k = 500; k < 1500; k++)
        len += (size_t)snprintf(chain + len, sizeof chain - len, "+i");
    CHECK(strncmp(ev(chain), "error -1 1:1 expression nested too deeply", 41) == 0);
    CHECK(strncmp(ev("ROW_NUMBER()"), "error -1 1:1 ROW_NUMBER is a window function", 44) == 0);
    CHECK(strncmp(ev("CAST(i AS WIBBLE)"), "error -7 1:1 unknown type 'WIBBLE'", 34) == 0);

    /* Two tables with an id each. */
    static const sq_scope_col two[] = {
        {"a", "id", SPATE_INT64, 0}, {"b", "id", SPATE_INT64, 1}, {"a", "x", SPATE_INT64, 2}};
    static const sq_scope joined = {two, 3};
    sq_bexpr *bx;
    sq_error err;
    CHECK_EQ_INT(bind_text("id + 1", &joined, &utc, &bx, &err), SPATE_EINVAL);
    CHECK_EQ_STR(err.msg, "column 'id' is ambiguous");
    CHECK_EQ_STR(err.hint, "qualify it: 'a.id' or 'b.id'");
    REQUIRE_OK(bind_text("A.ID + b.id + X", &joined, &utc, &bx, &err));
    sq_bexpr_free(bx);
    REQUIRE_OK(bind_text("b.id", &joined, &utc, &bx, &err));
    CHECK_EQ_INT(sq_bexpr_column(bx), 1);
    sq_bexpr_free(bx);
}

static spate_type type_of(const char *sql)
{
    sq_bexpr *b;
    sq_error err;
    if (bind_text(sql, &scope, &utc, &b, &err)) return 0;
    spate_type t = sq_bexpr_type(b);
    sq_bexpr_free(b);
    return t;
}

static int is_const(const char *sql)
{
    sq_bexpr *b;
    sq_error err;
    if (bind_text(sql, &scope, &utc, &b, &err)) return -1;
    int c = sq_bexpr_is_const(b);
    sq_bexpr_free(b);
    return c;
}

static int column_of(const char *sql)
{
    sq_bexpr *b;
    sq_error err;
    if (bind_text(sql, &scope, &utc, &b, &err)) return -2;
    int c = sq_bexpr_column(b);
    sq_bexpr_free(b);
    return c;
}

static void sql_expr_types(void)
{
    CHECK_EQ_INT(type_of("1"), SPATE_INT64);
    CHECK_EQ_INT(type_of("1.5"), SPATE_FLOAT64);
    CHECK_EQ_INT(type_of("'x'"), SPATE_STRING);
    CHECK_EQ_INT(type_of("TRUE"), SPATE_BOOL);
    CHECK_EQ_INT(type_of("NULL"), SPATE_STRING);
    CHECK_EQ_INT(type_of("i"), SPATE_INT32);
    CHECK_EQ_INT(type_of("i + i"), SPATE_INT32);
    CHECK_EQ_INT(type_of("i + 1"), SPATE_INT64);
    CHECK_EQ_INT(type_of("i * 1.0"), SPATE_FLOAT64);
    CHECK_EQ_INT(type_of("i = 5"), SPATE_BOOL);
    CHECK_EQ_INT(type_of("DATE '2024-02-29'"), SPATE_STRING);
    CHECK_EQ_INT(type_of("INTERVAL '1' HOUR"), SPATE_INT64);
    CHECK_EQ_INT(type_of("t + INTERVAL '1' HOUR"), SPATE_TIMESTAMP);
    CHECK_EQ_INT(type_of("CAST(i AS VARCHAR)"), SPATE_STRING);
    CHECK_EQ_INT(type_of("CAST(t AS DATE)"), SPATE_STRING);
    CHECK_EQ_INT(type_of("CASE WHEN f THEN i ELSE b END"), SPATE_INT64);
    CHECK_EQ_INT(type_of("COALESCE(i, 1.5)"), SPATE_FLOAT64);
    CHECK_EQ_INT(type_of("NULLIF(i, 5)"), SPATE_INT32);
    CHECK_EQ_INT(type_of("ABS(i)"), SPATE_INT32);
    CHECK_EQ_INT(type_of("UPPER(NULL)"), SPATE_STRING);

    CHECK_EQ_INT(column_of("b"), C_B);
    CHECK_EQ_INT(column_of("Heart_Rate"), C_HR);
    CHECK_EQ_INT(column_of("vitals.d"), C_D);
    CHECK_EQ_INT(column_of("b + 0"), -1);
    CHECK_EQ_INT(column_of("+b"), C_B);

    CHECK_EQ_INT(is_const("1 + 2 * 3"), 1);
    CHECK_EQ_INT(is_const("UPPER('a') || 'b'"), 1);
    CHECK_EQ_INT(is_const("i + 1"), 0);
    CHECK_EQ_INT(is_const("CURRENT_TIMESTAMP"), 0);
    CHECK_EQ_INT(is_const("CURRENT_TIMESTAMP + INTERVAL '1' HOUR"), 0);
}

/* ------------------------------------------------------------ semantics */

/* f, g over all nine pairs of TRUE, FALSE and NULL. */
static const char *const pairs[] = {
    "|||||true|true", "|||||true|false", "|||||true|~",  "|||||false|true", "|||||false|false",
    "|||||false|~",   "|||||~|true",     "|||||~|false", "|||||~|~",
};

static void sql_expr_three_valued(void)
{
    RUN("f AND g", pairs, "BOOL true;false;NULL;false;false;false;NULL;false;NULL");
    RUN("f OR g", pairs, "BOOL true;true;true;true;false;NULL;true;NULL;NULL");
    RUN("NOT f", pairs, "BOOL false;false;false;true;true;true;NULL;NULL;NULL");
    RUN("f AND NULL", pairs, "BOOL NULL;NULL;NULL;false;false;false;NULL;NULL;NULL");
    RUN("f OR NULL", pairs, "BOOL true;true;true;NULL;NULL;NULL;NULL;NULL;NULL");
    RUN("f IS TRUE", pairs, "BOOL true;true;true;false;false;false;false;false;false");
    RUN("f IS NOT TRUE", pairs, "BOOL false;false;false;true;true;true;true;true;true");
    RUN("f IS FALSE", pairs, "BOOL false;false;false;true;true;true;false;false;false");
    RUN("f IS NOT FALSE", pairs, "BOOL true;true;true;false;false;false;true;true;true");
    RUN("f IS NULL", pairs, "BOOL false;false;false;false;false;false;true;true;true");
    RUN("g IS NOT NULL", pairs, "BOOL true;true;false;true;true;false;true;true;false");
    /* De Morgan holds in three-valued logic. */
    RUN("NOT (f AND g)", pairs, "BOOL false;true;NULL;true;true;true;NULL;true;NULL");
    RUN("NOT f OR NOT g", pairs, "BOOL false;true;NULL;true;true;true;NULL;true;NULL");
    RUN("(f AND g) IS NULL", pairs, "BOOL false;false;true;false;false;false;true;false;true");
    RUN("f = g", pairs, "BOOL true;false;NULL;false;true;NULL;NULL;NULL;NULL");
    EV("NULL AND FALSE", "BOOL false");
    EV("NULL OR TRUE", "BOOL true");
    EV("NOT NULL", "BOOL NULL");
}

static void sql_expr_nulls(void)
{
    static const char *const rows[] = {"1|||a", "~|||~", "3|||c"};
    EV("i + NULL", "INT NULL");
    EV("NULL + 1", "BIGINT NULL");
    EV("NULL = NULL", "BOOL NULL");
    EV("NULL < i", "BOOL NULL");
    EV("s || NULL", "STRING NULL");
    EV("-CAST(NULL AS INT)", "INT NULL");
    EV("NULL IS NULL", "BOOL true");
    EV("CAST(NULL AS TIMESTAMP) IS NULL", "BOOL true");
    EV("UPPER(NULL)", "STRING NULL");
    EV("ABS(NULL)", "BIGINT NULL");
    EV("NULL", "STRING NULL");
    EV("g", "BOOL NULL");
    RUN("i * 2", rows, "BIGINT 2;NULL;6");
    RUN("s || 'x'", rows, "STRING ax;NULL;cx");
    RUN("i > 1", rows, "BOOL false;NULL;true");
    RUN("UPPER(s)", rows, "STRING A;NULL;C");
}

static void sql_expr_arithmetic(void)
{
    EV("7 / 2", "BIGINT 3");
    EV("-7 / 2", "BIGINT -3");
    EV("-7 % 3", "BIGINT -1");
    EV("7 % -3", "BIGINT 1");
    EV("7 / 0", "BIGINT NULL");
    EV("7 % 0", "BIGINT NULL");
    EV("7.0 / 0", "DOUBLE NULL");
    EV("d / 0", "DOUBLE NULL");
    EV("d % 0.0", "DOUBLE NULL");
    EV("7.5 % 2", "DOUBLE 1.5");
    EV("i / 2", "BIGINT 3");
    EV("i / 0", "BIGINT NULL");
    EV("i + i", "INT 14");
    EV("i * d", "DOUBLE 17.5");
    EV("1 + 2.5", "DOUBLE 3.5");
    EV("b - i", "BIGINT -10");
    EV("0.1 + 0.2", "DOUBLE 0.3");
    EV("+i", "INT 7");
    EV("-(i - 10)", "BIGINT 3");
    EV("2147483647 + 1", "BIGINT 2147483648");
    EV("9223372036854775807 + 1", "BIGINT NULL");
    EV("CAST(-7 AS INT) / CAST(2 AS INT)", "INT -3");
    EV("1 - 2 - 3", "BIGINT -4");
    EV("2 + 3 * 4", "BIGINT 14");

    static const char *const big[] = {"2147483647|9223372036854775807"};
    RUN("i + i", big, "INT NULL");
    RUN("i + 1", big, "BIGINT 2147483648");
    RUN("i * 2", big, "BIGINT 4294967294");
    RUN("b + 1", big, "BIGINT NULL");
    RUN("b * 2", big, "BIGINT NULL");
    RUN("-b", big, "BIGINT -9223372036854775807");
    RUN("b - 1", big, "BIGINT 9223372036854775806");
    static const char *const small[] = {"-2147483648|-9223372036854775808"};
    RUN("-i", small, "INT NULL");
    RUN("i - CAST(1 AS INT)", small, "INT NULL");
    RUN("i / -1", small, "BIGINT 2147483648");
    RUN("i * CAST(-1 AS INT)", small, "INT NULL");
    RUN("i / CAST(-1 AS INT)", small, "INT NULL");
    RUN("i % CAST(-1 AS INT)", small, "INT 0");
    RUN("-b", small, "BIGINT NULL");
    RUN("b / -1", small, "BIGINT NULL");
    RUN("b % -1", small, "BIGINT 0");
    RUN("b - 1", small, "BIGINT NULL");
    static const char *const wide[] = {"65536|4611686018427387904"};
    RUN("i * i", wide, "INT NULL");
    RUN("i * 65536", wide, "BIGINT 4294967296");
    RUN("b + b", wide, "BIGINT NULL");
    RUN("b + (b - 1)", wide, "BIGINT 9223372036854775807");
}

static void sql_expr_comparisons(void)
{
    EV("i = 7.0", "BOOL true");
    EV("i < b", "BOOL false");
    EV("b < i", "BOOL true");
    EV("i <> 7", "BOOL false");
    EV("d >= 2.5", "BOOL true");
    EV("d > i", "BOOL false");
    EV("i = 3000000000", "BOOL false");
    EV("i < 3000000000", "BOOL true");
    EV("s < 'abd'", "BOOL true");
    EV("'ab' < 'abc'", "BOOL true");
    EV("'b' > 'abc'", "BOOL true");
    EV("'Z' < 'a'", "BOOL true");
    EV("s = 'abc'", "BOOL true");
    EV("'abc' = 'ABC'", "BOOL false");
    EV("'' < 'a'", "BOOL true");
    EV("t = '2024-01-01 10:00:00'", "BOOL true");
    EV("'2024-01-01 10:00:00' = t", "BOOL true");
    EV("t = '2024-01-01T12:00:00+02:00'", "BOOL true");
    EV("t > TIMESTAMP '2024-01-01 09:59:59.999999'", "BOOL true");
    EV("t < DATE '2024-01-02'", "BOOL true");
    EV("f = TRUE", "BOOL true");
    EV("TRUE > FALSE", "BOOL true");
    EV("f <> g", "BOOL NULL");
    static const char *const rows[] = {"1|||||||", "2", "3"};
    RUN("i < 2.0", rows, "BOOL true;false;false");
    RUN("i >= 2", rows, "BOOL false;true;true");
    RUN("i <> 2", rows, "BOOL true;false;true");
    RUN("2 <= i", rows, "BOOL false;true;true");
}

static void sql_expr_in_between(void)
{
    EV("i IN (1, 7, 9)", "BOOL true");
    EV("i IN (1, 2)", "BOOL false");
    EV("i IN (1, NULL)", "BOOL NULL");
    EV("i IN (7, NULL)", "BOOL true");
    EV("NULL IN (1)", "BOOL NULL");
    EV("i NOT IN (1, NULL)", "BOOL NULL");
    EV("i NOT IN (1, 2)", "BOOL true");
    EV("s IN ('x', 'abc')", "BOOL true");
    EV("i IN (3000000000, 7)", "BOOL true");
    EV("d IN (2, 2.5)", "BOOL true");
    EV("t IN ('2024-01-01 10:00:00')", "BOOL true");
    EV("g IN (TRUE)", "BOOL NULL");
    static const char *const rows[] = {"1|7", "7|~", "~|1"};
    RUN("i IN (7, b)", rows, "BOOL false;true;NULL");
    RUN("i NOT IN (7, b)", rows, "BOOL true;false;NULL");

    EV("i BETWEEN 1 AND 7", "BOOL true");
    EV("i BETWEEN 8 AND 10", "BOOL false");
    EV("i BETWEEN 10 AND 1", "BOOL false");
    EV("i NOT BETWEEN 1 AND 5", "BOOL true");
    EV("i BETWEEN NULL AND 5", "BOOL false");
    EV("i BETWEEN NULL AND 10", "BOOL NULL");
    EV("i BETWEEN 1 AND NULL", "BOOL NULL");
    EV("i NOT BETWEEN NULL AND 5", "BOOL true");
    EV("d BETWEEN 2 AND 3", "BOOL true");
    EV("s BETWEEN 'abb' AND 'abd'", "BOOL true");
    EV("t BETWEEN '2024-01-01' AND '2024-01-02'", "BOOL true");
    RUN("i BETWEEN 2 AND b", rows, "BOOL false;NULL;NULL");
}

static void sql_expr_like(void)
{
    static const struct {
        const char *s, *pat, *expected;
    } cases[] = {
        {"abc", "abc", "true"},
        {"abc", "ab", "false"},
        {"abc", "a%", "true"},
        {"abc", "%c", "true"},
        {"abc", "%b%", "true"},
        {"abc", "%%", "true"},
        {"", "%", "true"},
        {"", "", "true"},
        {"", "_", "false"},
        {"abc", "_b_", "true"},
        {"abc", "a_", "false"},
        {"abc", "a%c", "true"},
        {"abcbc", "a%bc", "true"},
        {"ab", "a%b%", "true"},
        {"abc", "%a%b%c%", "true"},
        {"acb", "%b%c%", "false"},
        {"abc", "ABC", "false"},
        {"aXbXc", "a_b%c", "true"},
        {"ab", "a__", "false"},
        {"abcd", "%bc", "false"},
        {"abcd", "%bc_", "true"},
        {"mississippi", "%iss%ppi", "true"},
        {"mississippi", "m%issi%pi", "true"},
        {"mississippi", "%issip%i_i", "false"},
        {"\xc3\xa9", "_", "true"},
        {"\303\251a", "_a", "true"},
        {"\xc3\xa9", "__", "false"},
        {"a\\b", "a\\b", "true"},
        {"a\\_b", "a\\_b", "true"},
        {"a_b", "a\\_b", "false"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char sql[128], want[32];
        snprintf(sql, sizeof sql, "'%s' LIKE '%s'", cases[k].s, cases[k].pat);
        snprintf(want, sizeof want, "BOOL %s", cases[k].expected);
        if (strcmp(ev(sql), want) != 0) fprintf(stderr, "  %s\n", sql);
        EV(sql, want);
    }
    EV("'a%c' LIKE 'a!%c' ESCAPE '!'", "BOOL true");
    EV("'abc' LIKE 'a!%c' ESCAPE '!'", "BOOL false");
    EV("'a_c' LIKE 'a\\_c' ESCAPE '\\'", "BOOL true");
    EV("'abc' LIKE 'a\\_c' ESCAPE '\\'", "BOOL false");
    EV("'100%' LIKE '%!%' ESCAPE '!'", "BOOL true");
    EV("'100' LIKE '%!%' ESCAPE '!'", "BOOL false");
    EV("'a!b' LIKE 'a!!b' ESCAPE '!'", "BOOL true");
    EV("'%x' LIKE '!%%' ESCAPE '!'", "BOOL true");
    EV("'x%' LIKE '!%%' ESCAPE '!'", "BOOL false");
    EV("'abc' NOT LIKE 'a%'", "BOOL false");
    EV("s NOT LIKE 'x%'", "BOOL true");
    EV("CAST(NULL AS STRING) LIKE 'a'", "BOOL NULL");
    EV("'a' LIKE NULL", "BOOL NULL");
    EV("s LIKE p", "BOOL true");
    /* Patterns that vary by row; a malformed one is NULL for its row. */
    static const char *const rows[] = {"|||abc||||a%",    "|||abc||||%d", "|||a%||||a!%",
                                       "|||ab||||a!",     "|||~||||a",    "|||a||||~",
                                       "|||\xc3\xa9||||_"};
    RUN("s LIKE p ESCAPE '!'", rows, "BOOL true;false;true;NULL;NULL;NULL;true");
    RUN("s LIKE p", rows, "BOOL true;false;false;false;NULL;NULL;true");
    RUN("s NOT LIKE p ESCAPE '!'", rows, "BOOL false;true;false;NULL;NULL;NULL;false");
}

static void sql_expr_case(void)
{
    static const char *const rows[] = {"7", "3", "-1", "~"};
    RUN("CASE WHEN i > 5 THEN 'big' WHEN i > 0 THEN 'small' ELSE 'neg' END", rows,
        "STRING big;small;neg;neg");
    RUN("CASE WHEN i > 5 THEN 'big' END", rows, "STRING big;NULL;NULL;NULL");
    RUN("CASE i WHEN 7 THEN 'seven' WHEN 3 THEN 'three' ELSE 'other' END", rows,
        "STRING seven;three;other;other");
    RUN("CASE i WHEN NULL THEN 'null' ELSE 'x' END", rows, "STRING x;x;x;x");
    RUN("CASE WHEN i > 0 THEN i * 10 ELSE 0.5 END", rows, "DOUBLE 70;30;0.5;0.5");
    RUN("CASE WHEN i > 0 THEN CASE WHEN i > 5 THEN 2 ELSE 1 END ELSE -1 END", rows,
        "BIGINT 2;1;-1;-1");
    RUN("CASE WHEN i IS NULL THEN 'none' WHEN i > 0 THEN NULL ELSE 'neg' END", rows,
        "STRING NULL;NULL;neg;none");
    EV("CASE WHEN f THEN i ELSE 2.5 END", "DOUBLE 7");
    EV("CASE WHEN g THEN 1 ELSE 2 END", "BIGINT 2");
    EV("CASE WHEN i > 0 THEN 'a' WHEN i > 5 THEN 'b' END", "STRING a");
    EV("CASE WHEN f THEN NULL END", "STRING NULL");
    EV("CASE 1 WHEN 1 THEN 'one' END", "STRING one");
    EV("CASE WHEN f THEN s ELSE p END", "STRING abc");
    EV("CASE WHEN f THEN t END", "TIMESTAMP 2024-01-01T10:00:00Z");
}

static void sql_expr_cast(void)
{
    EV("CAST('42' AS INT)", "INT 42");
    EV("CAST(' 42 ' AS INTEGER)", "INT 42");
    EV("CAST('4x' AS INT)", "INT NULL");
    EV("CAST('' AS INT)", "INT NULL");
    EV("CAST('1.5' AS INT)", "INT NULL");
    EV("CAST('3000000000' AS INT)", "INT NULL");
    EV("CAST('3000000000' AS BIGINT)", "BIGINT 3000000000");
    EV("CAST('-9223372036854775808' AS BIGINT)", "BIGINT -9223372036854775808");
    EV("CAST('9223372036854775808' AS BIGINT)", "BIGINT NULL");
    EV("CAST('1.5' AS DOUBLE)", "DOUBLE 1.5");
    EV("CAST('1e3' AS FLOAT)", "DOUBLE 1000");
    EV("CAST('abc' AS DOUBLE)", "DOUBLE NULL");
    EV("CAST(2.9 AS INT)", "INT 2");
    EV("CAST(-2.9 AS INT)", "INT -2");
    EV("CAST(1e10 AS INT)", "INT NULL");
    EV("CAST(1e300 AS BIGINT)", "BIGINT NULL");
    EV("CAST(-9223372036854775808.0 AS BIGINT)", "BIGINT -9223372036854775808");
    EV("CAST(CAST(9223372036854775807 AS DOUBLE) AS BIGINT)", "BIGINT NULL");
    EV("CAST(b AS INT)", "INT -3");
    EV("CAST(3000000000 AS INT)", "INT NULL");
    EV("CAST(i AS DOUBLE)", "DOUBLE 7");
    EV("CAST(7 AS STRING)", "STRING 7");
    EV("CAST(b AS VARCHAR)", "STRING -3");
    EV("CAST(2.5 AS STRING)", "STRING 2.5");
    EV("CAST(2.0 AS STRING)", "STRING 2.0");
    EV("CAST(0.1 AS STRING)", "STRING 0.1");
    EV("CAST(1e20 AS STRING)", "STRING 1e+20");
    EV("CAST(TRUE AS STRING)", "STRING true");
    EV("CAST('TRUE' AS BOOLEAN)", "BOOL true");
    EV("CAST('no' AS BOOLEAN)", "BOOL false");
    EV("CAST(' Y ' AS BOOLEAN)", "BOOL true");
    EV("CAST('maybe' AS BOOLEAN)", "BOOL NULL");
    EV("CAST(0 AS BOOLEAN)", "BOOL false");
    EV("CAST(5 AS BOOLEAN)", "BOOL true");
    EV("CAST(0.0 AS BOOLEAN)", "BOOL false");
    EV("CAST(TRUE AS INT)", "INT 1");
    EV("CAST(FALSE AS DOUBLE)", "DOUBLE 0");
    EV("CAST('2024-01-01 10:00:00' AS TIMESTAMP)", "TIMESTAMP 2024-01-01T10:00:00Z");
    EV("CAST('2024-01-01T10:00:00+02:00' AS TIMESTAMP)", "TIMESTAMP 2024-01-01T08:00:00Z");
    EV("CAST('2024-01-01' AS TIMESTAMP)", "TIMESTAMP 2024-01-01T00:00:00Z");
    EV("CAST('garbage' AS TIMESTAMP)", "TIMESTAMP NULL");
    EV("CAST(t AS STRING)", "STRING 2024-01-01T10:00:00Z");
    EV("CAST(CAST(t AS STRING) AS TIMESTAMP) = t", "BOOL true");
    EV("CAST(t AS BIGINT)", "BIGINT 1704103200");
    EV("CAST(t AS INT)", "INT 1704103200");
    EV("CAST(1704103200 AS TIMESTAMP)", "TIMESTAMP 2024-01-01T10:00:00Z");
    EV("CAST(9223372036855 AS TIMESTAMP)", "TIMESTAMP NULL");
    EV("CAST(t AS DOUBLE)", "DOUBLE 1704103200");
    EV("CAST(1.5 AS TIMESTAMP)", "TIMESTAMP 1970-01-01T00:00:01.500Z");
    EV("CAST(TIMESTAMP '1969-12-31 23:59:59.5' AS BIGINT)", "BIGINT -1");
    EV("CAST(t AS DATE)", "STRING 2024-01-01");
    EV("CAST('2024-03-05 23:00:00' AS DATE)", "STRING 2024-03-05");
    EV("CAST('2024-03-05T23:00:00-02:00' AS DATE)", "STRING 2024-03-06");
    EV("CAST('x' AS DATE)", "STRING NULL");
    EV("TRY_CAST('x' AS INT)", "INT NULL");
    EV("TRY_CAST('12' AS BIGINT)", "BIGINT 12");
    EV("CAST(s AS BYTES)", "BYTES abc");
    EV("CAST(CAST(s AS BYTES) AS STRING)", "STRING abc");
    EV("CAST(INTERVAL '1' SECOND AS BIGINT)", "BIGINT 1000000");
    EV("CAST(NULL AS INT)", "INT NULL");
    static const char *const rows[] = {"|||12", "|||x", "|||~", "|||-7 "};
    RUN("CAST(s AS INT)", rows, "INT 12;NULL;NULL;-7");
    RUN("CAST(s AS INT) + 1", rows, "BIGINT 13;NULL;NULL;-6");
}

/* The session time zone applies to text read as a TIMESTAMP (without an offset)
 * and to CAST AS DATE. */
static void sql_expr_time_zone(void)
{
    const sq_env plus2 = {"+02:00"};
    CHECK_EQ_STR(run_env("TIMESTAMP '2024-01-01 10:00:00'", default_row, 1, &plus2),
                 "TIMESTAMP 2024-01-01T08:00:00Z");
    CHECK_EQ_STR(run_env("TIMESTAMP '2024-01-01 10:00:00Z'", default_row, 1, &plus2),
                 "TIMESTAMP 2024-01-01T10:00:00Z");
    CHECK_EQ_STR(run_env("CAST('2024-01-01 10:00:00' AS TIMESTAMP)", default_row, 1, &plus2),
                 "TIMESTAMP 2024-01-01T08:00:00Z");
    CHECK_EQ_STR(run_env("CAST(TIMESTAMP '2024-01-01 23:30:00Z' AS DATE)", default_row, 1, &plus2),
                 "STRING 2024-01-02");
    CHECK_EQ_STR(run_env("t = '2024-01-01 12:00:00'", default_row, 1, &plus2), "BOOL true");
    CHECK_EQ_STR(
        run_env("CAST(s AS TIMESTAMP)", (const char *const[]){"|||2024-06-01 00:00"}, 1, &plus2),
        "TIMESTAMP 2024-05-31T22:00:00Z");
    const sq_env bad = {"Mars/Olympus_Mons"};
    CHECK(strncmp(run_env("TIMESTAMP '2024-01-01 10:00:00'", default_row, 1, &bad),
                  "error -7 1:1 unknown time zone", 30) == 0);
}

static void sql_expr_conditional_functions(void)
{
    EV("COALESCE(g, f)", "BOOL true");
    EV("COALESCE(NULL, i, 3)", "BIGINT 7");
    EV("COALESCE(NULL, NULL)", "STRING NULL");
    EV("COALESCE(CAST(NULL AS INT), 5)", "BIGINT 5");
    EV("COALESCE(s, 'x')", "STRING abc");
    EV("COALESCE(i)", "INT 7");
    EV("NULLIF(i, 7)", "INT NULL");
    EV("NULLIF(i, 8)", "INT 7");
    EV("NULLIF(NULL, 1)", "BIGINT NULL");
    EV("NULLIF(s, 'abc')", "STRING NULL");
    EV("NULLIF(g, TRUE)", "BOOL NULL");
    EV("IF(f, 'y', 'n')", "STRING y");
    EV("IF(g, 'y', 'n')", "STRING n");
    EV("IF(i > 5, i, 2.5)", "DOUBLE 7");
    EV("GREATEST(1, i, 3)", "BIGINT 7");
    EV("LEAST(1, i, 3)", "BIGINT 1");
    EV("GREATEST(i, NULL)", "INT NULL");
    EV("GREATEST('a', 'b', s)", "STRING b");
    EV("LEAST('a', 'b', s)", "STRING a");
    EV("LEAST(2.5, i)", "DOUBLE 2.5");
    EV("GREATEST(t, TIMESTAMP '2025-01-01 00:00:00')", "TIMESTAMP 2025-01-01T00:00:00Z");
    EV("LEAST(t, '2023-06-01')", "TIMESTAMP 2023-06-01T00:00:00Z");
    EV("GREATEST(f, g)", "BOOL NULL");
    static const char *const two[] = {"1|2", "~|2", "~|~", "5|-1"};
    RUN("COALESCE(i, b, 0)", two, "BIGINT 1;2;0;5");
    RUN("NULLIF(i, 5)", two, "INT 1;NULL;NULL;NULL");
    RUN("GREATEST(i, 3)", two, "BIGINT 3;NULL;NULL;5");
    RUN("LEAST(i, b)", two, "BIGINT 1;NULL;NULL;-1");
    RUN("IF(i > b, 'i', 'b')", two, "STRING b;b;b;i");
}

static void sql_expr_timestamps(void)
{
    EV("t + INTERVAL '1' HOUR", "TIMESTAMP 2024-01-01T11:00:00Z");
    EV("t - INTERVAL '90' MINUTE", "TIMESTAMP 2024-01-01T08:30:00Z");
    EV("INTERVAL '1' DAY + t", "TIMESTAMP 2024-01-02T10:00:00Z");
    EV("t + INTERVAL '500' MILLISECOND", "TIMESTAMP 2024-01-01T10:00:00.500Z");
    EV("t + INTERVAL '10 seconds'", "TIMESTAMP 2024-01-01T10:00:10Z");
    EV("-INTERVAL '1' HOUR + t", "TIMESTAMP 2024-01-01T09:00:00Z");
    EV("t + (INTERVAL '1' HOUR + INTERVAL '30' MINUTE)", "TIMESTAMP 2024-01-01T11:30:00Z");
    EV("t + INTERVAL '1' HOUR > t", "BOOL true");
    EV("t - INTERVAL '10' SECOND < TIMESTAMP '2024-01-01 10:00:00'", "BOOL true");
    EV("INTERVAL '1' HOUR + INTERVAL '30' MINUTE", "BIGINT 5400000000");
    EV("INTERVAL '2' SECOND > INTERVAL '1' SECOND", "BOOL true");
    EV("t + NULL", "TIMESTAMP NULL");
    EV("TIMESTAMP '2024-02-28 23:00:00' + INTERVAL '2' HOUR", "TIMESTAMP 2024-02-29T01:00:00Z");
    EV("CURRENT_TIMESTAMP > TIMESTAMP '2020-01-01 00:00:00'", "BOOL true");
    static const char *const rows[] = {"", "", ""};
    RUN("CURRENT_TIMESTAMP = CURRENT_TIMESTAMP", rows, "BOOL true;true;true");
    static const char *const times[] = {"||||2024-01-01T00:00:00Z", "||||~",
                                        "||||1969-12-31T23:59:59.999999Z"};
    RUN("t + INTERVAL '1' SECOND", times,
        "TIMESTAMP 2024-01-01T00:00:01Z;NULL;1970-01-01T00:00:00.999999Z");
}

static void sql_expr_concat(void)
{
    EV("s || 'x'", "STRING abcx");
    EV("s || i", "STRING abc7");
    EV("i || s", "STRING 7abc");
    EV("NULL || s", "STRING NULL");
    EV("s || d", "STRING abc2.5");
    EV("f || s", "STRING trueabc");
    EV("'' || ''", "STRING ");
    EV("'a' || 'b' || 'c'", "STRING abc");
    static const char *const rows[] = {"|||a||||b", "|||~||||b", "|||a||||~", "|||||||"};
    RUN("s || p", rows, "STRING ab;NULL;NULL;");
}

/* ---------------------------------------------------------------- APIs */

static void sql_expr_eval_const(void)
{
    sq_bexpr *b;
    sq_error err;
    sq_value v;
    REQUIRE_OK(bind_text("1 + 2", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_eval_const(b, &utc, &v));
    CHECK_EQ_INT(v.type, SPATE_INT64);
    CHECK_EQ_INT(v.is_null, 0);
    CHECK_EQ_INT(v.i, 3);
    sq_value_clear(&v);
    sq_bexpr_free(b);

    REQUIRE_OK(bind_text("'a' || 'b'", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_eval_const(b, &utc, &v));
    CHECK_EQ_INT(v.type, SPATE_STRING);
    CHECK_EQ_STR(v.s, "ab");
    CHECK_EQ_INT(v.len, 2);
    sq_value_clear(&v);
    sq_bexpr_free(b);

    REQUIRE_OK(bind_text("CAST(NULL AS INT)", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_eval_const(b, &utc, &v));
    CHECK_EQ_INT(v.type, SPATE_INT32);
    CHECK_EQ_INT(v.is_null, 1);
    sq_value_clear(&v);
    sq_bexpr_free(b);

    REQUIRE_OK(bind_text("2.5 * 2", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_eval_const(b, &utc, &v));
    CHECK(v.d == 5.0);
    sq_value_clear(&v);
    sq_bexpr_free(b);

    REQUIRE_OK(bind_text("CURRENT_TIMESTAMP", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_eval_const(b, &utc, &v));
    int64_t now = (int64_t)time(NULL) * 1000000;
    CHECK(v.type == SPATE_TIMESTAMP && llabs(v.i - now) < 60 * 1000000LL);
    sq_value_clear(&v);
    sq_bexpr_free(b);

    REQUIRE_OK(bind_text("i + 1", &scope, &utc, &b, &err));
    CHECK_EQ_INT(sq_eval_const(b, &utc, &v), SPATE_EINVAL);
    sq_value_clear(&v);
    sq_bexpr_free(b);
}

static void sql_expr_bind_cast(void)
{
    sq_bexpr *b, *c;
    sq_error err;
    REQUIRE_OK(bind_text("i", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_bind_cast(b, SPATE_STRING, &c));
    CHECK_EQ_STR(run_bound(c, default_row, 1, &utc), "STRING 7");

    const sq_env plus2 = {"+02:00"};
    REQUIRE_OK(bind_text("'2024-01-01 00:00:00'", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_bind_cast(b, SPATE_TIMESTAMP, &c));
    CHECK_EQ_STR(run_bound(c, default_row, 1, &plus2), "TIMESTAMP 2023-12-31T22:00:00Z");

    REQUIRE_OK(bind_text("NULL", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_bind_cast(b, SPATE_INT32, &c));
    CHECK_EQ_INT(sq_bexpr_type(c), SPATE_INT32);
    CHECK_EQ_STR(run_bound(c, default_row, 1, &utc), "INT NULL");

    REQUIRE_OK(bind_text("d", &scope, &utc, &b, &err));
    REQUIRE_OK(sq_bind_cast(b, SPATE_FLOAT64, &c));
    CHECK_EQ_INT(sq_bexpr_column(c), C_D);
    sq_bexpr_free(c);

    /* A refused conversion frees its input (the leak checker watches). */
    REQUIRE_OK(bind_text("f", &scope, &utc, &b, &err));
    CHECK_EQ_INT(sq_bind_cast(b, SPATE_TIMESTAMP, &c), SPATE_ETYPE);
    CHECK(c == NULL);
}

static void sql_expr_type_names(void)
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
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        spate_type t = 0;
        CHECK_EQ_INT(sq_type_from_name(names[k].name, &t), 0);
        CHECK_EQ_INT(t, names[k].type);
    }
    spate_type t;
    CHECK_EQ_INT(sq_type_from_name("UUID", &t), SPATE_ENOTFOUND);
}

typedef struct listing {
    int n, sorted, coalesce, upper, count;
    const char *last;
} listing;

static void list_fn(const char *name, const char *signature, const char *help, void *arg)
{
    listing *l = arg;
    if (l->last && strcmp(l->last, name) > 0) l->sorted = 0;
    l->last = name;
    l->n++;
    l->coalesce += strcmp(name, "COALESCE") == 0 && strncmp(signature, "COALESCE(", 9) == 0;
    l->upper += strcmp(name, "UPPER") == 0 && help && help[0];
    l->count += strcmp(name, "COUNT") == 0;
}

static void sql_expr_function_registry(void)
{
    static const char *const aggs[] = {"COUNT",
                                       "SUM",
                                       "AVG",
                                       "MIN",
                                       "MAX",
                                       "FIRST_VALUE",
                                       "LAST_VALUE",
                                       "APPROX_COUNT_DISTINCT",
                                       "APPROX_PERCENTILE"};
    for (size_t k = 0; k < sizeof aggs / sizeof aggs[0]; k++) {
        CHECK(sq_is_aggregate(aggs[k]));
        CHECK(sq_function_exists(aggs[k]));
        CHECK(!sq_func_find(aggs[k]));
    }
    CHECK(!sq_is_aggregate("UPPER"));
    CHECK(sq_is_window_function("ROW_NUMBER"));
    CHECK(!sq_is_window_function("COUNT"));
    CHECK(sq_function_exists("COALESCE") && sq_function_exists("NULLIF") &&
          sq_function_exists("IF") && sq_function_exists("GREATEST") &&
          sq_function_exists("LEAST") && sq_function_exists("ROW_NUMBER"));
    CHECK(sq_function_exists("UPPER") && sq_function_exists("TIMESTAMPDIFF"));
    CHECK(!sq_function_exists("NOPE"));
    const sq_func *f = sq_func_find("UPPER");
    CHECK(f && strcmp(f->name, "UPPER") == 0 && f->resolve && f->eval);
    CHECK(sq_func_find("COALESCE") == NULL);
    CHECK_EQ_STR(sq_function_suggest("COALESC"), "COALESCE");
    CHECK_EQ_STR(sq_function_suggest("UPPR"), "UPPER");
    CHECK_EQ_STR(sq_function_suggest("ROW_NUMBR"), "ROW_NUMBER");
    CHECK(sq_function_suggest("XYZZY") == NULL);
    listing l = {.sorted = 1};
    sq_functions_each(list_fn, &l);
    CHECK(l.n > 50);
    CHECK(l.sorted);
    CHECK_EQ_INT(l.coalesce, 1);
    CHECK_EQ_INT(l.upper, 1);
    CHECK_EQ_INT(l.count, 0);
}

/* -------------------------------------------------------------- programs */

static sq_program *program_of(const char *const *sqls, int n, const sq_scope *sc)
{
    sq_bexpr *ex[8];
    sq_error err;
    for (int k = 0; k < n; k++)
        if (bind_text(sqls[k], sc, &utc, &ex[k], &err)) {
            fprintf(stderr, "  %s: %s\n", sqls[k], err.msg);
            for (int j = 0; j < k; j++)
                sq_bexpr_free(ex[j]);
            return NULL;
        }
    sq_program *p;
    return sq_program_new(ex, NULL, n, &utc, &p) ? NULL : p;
}

static void sql_expr_filter_program(void)
{
    static const char *const rows[] = {"1|||||true", "3|||||~", "~|||||false", "5|||||true"};
    sp_batch *in = make_batch(rows, 4);
    uint8_t keep[4];
    static const char *const pred[] = {"i > 2"};
    sq_program *p = program_of(pred, 1, &scope);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(sq_program_filter((const spate_cols *)in, keep, p), 0);
        CHECK(!keep[0] && keep[1] && !keep[2] && keep[3]);
        CHECK_EQ_STR(spate_schema_name(sq_program_schema(p), 0), "EXPR$0");
        sq_program_free(p);
    }
    static const char *const flag[] = {"f"};
    if ((p = program_of(flag, 1, &scope))) {
        CHECK_EQ_INT(sq_program_filter((const spate_cols *)in, keep, p), 0);
        CHECK(keep[0] && !keep[1] && !keep[2] && keep[3]);
        sq_program_free(p);
    }
    static const char *const notbool[] = {"i"};
    if ((p = program_of(notbool, 1, &scope))) {
        CHECK(sq_program_filter((const spate_cols *)in, keep, p) < 0);
        sq_program_free(p);
    }
    free_batch(in);
}

/* queue -> repartition -> filter program -> map program -> callback, two workers. */
enum { JOB_ROWS = 6000, JOB_ITEMS = 12 };

typedef struct job_out {
    pthread_mutex_t mu;
    char **rows;
    int n, cap;
} job_out;

static int job_collect(const spate_rows *rows, int64_t t, void *ud)
{
    job_out *o = ud;
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < spate_rows_count(rows); i++) {
        spate_row r;
        spate_rows_get(rows, i, &r);
        char v2[32] = "NULL", ts[40];
        if (!spate_row_is_null(&r, 1)) snprintf(v2, sizeof v2, "%" PRId64, spate_row_int(&r, 1));
        sp_ts_format(spate_row_int(&r, 4), ts, sizeof ts);
        spate_str name = spate_row_str(&r, 2), sign = spate_row_str(&r, 3);
        char line[160];
        snprintf(line, sizeof line, "%" PRId64 "|%s|%.*s|%.*s|%s", spate_row_int(&r, 0), v2,
                 (int)name.len, name.ptr, (int)sign.len, sign.ptr, ts);
        if (o->n < o->cap) o->rows[o->n++] = strdup(line);
    }
    pthread_mutex_unlock(&o->mu);
    return 0;
}

static const int64_t job_t0 = INT64_C(1704067200); /* 2024-01-01T00:00:00Z */

/* Row k of the input: v NULL every 7th row, name NULL every 11th. */
static int job_v(int k, int *v)
{
    *v = k % 100 - 50;
    return k % 7 != 0;
}

static void sql_expr_program_engine(void)
{
    static const sq_scope_col cols[] = {{NULL, "id", SPATE_INT64, 0},
                                        {NULL, "v", SPATE_INT32, 1},
                                        {NULL, "name", SPATE_STRING, 2},
                                        {NULL, "ts", SPATE_TIMESTAMP, 3}};
    static const sq_scope sc = {cols, 4};
    static const char *const pred[] = {"v IS NULL OR v % 3 <> 0"};
    static const char *const proj[] = {
        "id", "v * 2 + 1", "COALESCE(name, 'none') || '!'",
        "CASE WHEN v > 0 THEN 'pos' WHEN v < 0 THEN 'neg' ELSE 'zero' END",
        "ts + INTERVAL '1' MINUTE"};
    sq_program *filter = program_of(pred, 1, &sc), *map = program_of(proj, 5, &sc);
    CHECK(filter && map);
    if (!filter || !map) {
        sq_program_free(filter);
        sq_program_free(map);
        return;
    }
    spate_conf *conf = spate_conf_new();
    spate_conf_set(conf, "workers", "2");
    spate_ctx *ctx;
    REQUIRE_OK(spate_ctx_new(conf, &ctx));
    spate_conf_free(conf);
    spate_schema *in_schema;
    REQUIRE_OK(spate_schema_parse("id BIGINT, v INT, name STRING, ts TIMESTAMP", &in_schema));
    spate_queue *q;
    spate_stream *src, *rep, *f, *m;
    REQUIRE_OK(spate_source_queue(ctx, in_schema, 0, &q, &src));
    spate_schema_free(in_schema);
    REQUIRE_OK(spate_repartition(src, 0, &rep));
    REQUIRE_OK(spate_filter_batch(rep, sq_program_filter, filter, &f));
    REQUIRE_OK(spate_map_batch(f, sq_program_schema(map), sq_program_map, map, &m));
    job_out out = {.cap = JOB_ROWS};
    pthread_mutex_init(&out.mu, NULL);
    out.rows = calloc(JOB_ROWS, sizeof *out.rows);
    REQUIRE_OK(spate_sink_callback(m, job_collect, &out));
    REQUIRE_OK(spate_ctx_start(ctx));
    char *text = malloc(64 * JOB_ROWS / JOB_ITEMS);
    for (int item = 0; item < JOB_ITEMS; item++) {
        size_t len = 0;
        for (int k = item * (JOB_ROWS / JOB_ITEMS); k < (item + 1) * (JOB_ROWS / JOB_ITEMS); k++) {
            int v;
            char vs[16] = "", name[16] = "";
            if (job_v(k, &v)) snprintf(vs, sizeof vs, "%d", v);
            if (k % 11) snprintf(name, sizeof name, "n%d", k % 13);
            len += (size_t)sprintf(text + len, "%d,%s,%s,%" PRId64 "\n", k, vs, name,
                                   (job_t0 + k) * 1000);
        }
        REQUIRE_OK(spate_queue_push(q, text, len));
    }
    free(text);
    spate_queue_close(q);
    REQUIRE_OK(spate_ctx_await_termination(ctx, 60000));
    spate_ctx_free(ctx);

    /* The same rows computed here. */
    char **want = calloc(JOB_ROWS, sizeof *want);
    int nwant = 0;
    for (int k = 0; k < JOB_ROWS; k++) {
        int v, has_v = job_v(k, &v);
        if (has_v && v % 3 == 0) continue;
        char v2[32] = "NULL", name[16] = "none", ts[40], line[160];
        if (has_v) snprintf(v2, sizeof v2, "%d", v * 2 + 1);
        if (k % 11) snprintf(name, sizeof name, "n%d", k % 13);
        sp_ts_format((job_t0 + k + 60) * 1000000, ts, sizeof ts);
        const char *sign = !has_v ? "zero" : v > 0 ? "pos" : v < 0 ? "neg" : "zero";
        snprintf(line, sizeof line, "%d|%s|%s!|%s|%s", k, v2, name, sign, ts);
        want[nwant++] = strdup(line);
    }
    CHECK_EQ_INT(out.n, nwant);
    qsort(out.rows, (size_t)out.n, sizeof *out.rows, sp_test_cmp_str);
    qsort(want, (size_t)nwant, sizeof *want, sp_test_cmp_str);
    int bad = 0;
    for (int k = 0; k < nwant && k < out.n; k++)
        if (strcmp(want[k], out.rows[k]) != 0 && bad++ < 3)
            fprintf(stderr, "  row %d: got %s, want %s\n", k, out.rows[k], want[k]);
    CHECK_EQ_INT(bad, 0);
    for (int k = 0; k < nwant; k++)
        free(want[k]);
    for (int k = 0; k < out.n; k++)
        free(out.rows[k]);
    free(want);
    free(out.rows);
    pthread_mutex_destroy(&out.mu);
    sq_program_free(filter);
    sq_program_free(map);
}

/* Several threads run one program at once, each over its own batches: scratch
 * memory is per thread (TSan and the results would see sharing). */
enum { THREADS = 4, THREAD_ROUNDS = 300 };

typedef struct thread_arg {
    sq_program *p;
    int id, failures;
} thread_arg;

static void *thread_main(void *ud)
{
    thread_arg *a = ud;
    char rows[64][64];
    const char *rp[64];
    for (int round = 0; round < THREAD_ROUNDS; round++) {
        int n = 1 + (round * 7 + a->id) % 64;
        for (int r = 0; r < n; r++) {
            snprintf(rows[r], sizeof rows[r], "%d|||||||x%d", a->id * 1000 + r, round);
            rp[r] = rows[r];
        }
        sp_batch *in = make_batch(rp, n), *out = sp_batch_new(64);
        sp_batch_reset(out, sq_program_schema(a->p));
        out->n = in->n;
        if (sq_program_map((const spate_cols *)in, (spate_cols *)out, a->p)) a->failures++;
        for (int r = 0; r < n; r++) {
            char want[64];
            int len = snprintf(want, sizeof want, "x%d-%d", round, a->id * 1000 + r);
            spate_str got = SP_STR(&out->cols[0])[r];
            if (got.len != (size_t)len || memcmp(got.ptr, want, got.len) != 0) a->failures++;
            if (SP_I64(&out->cols[1])[r] != (int64_t)(a->id * 1000 + r) * 3) a->failures++;
        }
        sp_batch_free(out);
        free_batch(in);
    }
    return NULL;
}

static void sql_expr_program_threads(void)
{
    static const char *const exprs[] = {"p || '-' || i", "i * 3"};
    sq_program *p = program_of(exprs, 2, &scope);
    CHECK(p != NULL);
    if (!p) return;
    pthread_t th[THREADS];
    thread_arg args[THREADS];
    for (int k = 0; k < THREADS; k++) {
        args[k] = (thread_arg){p, k, 0};
        pthread_create(&th[k], NULL, thread_main, &args[k]);
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(th[k], NULL);
        CHECK_EQ_INT(args[k].failures, 0);
    }
    sq_program_free(p);
}

/* ------------------------------------------------ differential (random) */

/* A random expression of a known type, its SQL text, and its value by a
 * row-at-a-time evaluator of its own. */
enum { SMAX = 1024, DIFF_ROWS = 48, DIFF_EXPRS = 3000, MAX_DEPTH = 4 };

typedef enum gk {
    G_COL = 1,
    G_LIT,
    G_NULL,
    G_BARE_NULL,
    G_ARITH,
    G_NEG,
    G_CMP,
    G_AND,
    G_OR,
    G_NOT,
    G_ISNULL,
    G_ISTRUE,
    G_IN,
    G_BETWEEN,
    G_LIKE,
    G_CASE,
    G_SCASE,
    G_COALESCE,
    G_NULLIF,
    G_GREATEST,
    G_IF,
    G_CAST,
    G_CONCAT
} gk;

typedef struct rv {
    int null;
    int64_t i; /* BOOL, INT, BIGINT */
    double d;
    char s[SMAX];
    size_t len;
} rv;

typedef struct gnode {
    gk k;
    spate_type t;
    int op, neg, col, n;
    rv lit;
    char text[48]; /* literal text */
    struct gnode *a[6];
} gnode;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int pick(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static gnode *gnew(gk k, spate_type t)
{
    gnode *g = calloc(1, sizeof *g);
    g->k = k;
    g->t = t;
    return g;
}

static void gfree(gnode *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++)
        gfree(g->a[i]);
    free(g);
}

static spate_type rand_num(void)
{
    static const spate_type t[] = {SPATE_INT32, SPATE_INT64, SPATE_FLOAT64};
    return t[pick(3)];
}

static gnode *gen(spate_type t, int depth);

static gnode *leaf(spate_type t)
{
    static const char *const strs[] = {"", "a", "ab", "abc", "b", "ba", "12", " -3 ", "A", "x%y"};
    static const int64_t ints[] = {0, 1, -1, 2, 3, 7, -7, 100, 2147483647, -2147483647 - 1};
    static const int64_t bigs[] = {0,         1,         -1,        3, -50, INT64_C(1) << 40,
                                   INT64_MAX, INT64_MIN, 2147483648};
    static const struct {
        const char *text;
        double v;
    } dbls[] = {{"0.0", 0.0}, {"1.5", 1.5}, {"(-2.25)", -2.25}, {"1e10", 1e10},
                {"0.1", 0.1}, {"3.0", 3.0}, {"1e300", 1e300}};
    int r = pick(10);
    if (r < 5) {
        static const int col_of[] = {[SPATE_INT32] = C_I,
                                     [SPATE_INT64] = C_B,
                                     [SPATE_FLOAT64] = C_D,
                                     [SPATE_STRING] = C_S,
                                     [SPATE_BOOL] = C_F};
        gnode *g = gnew(G_COL, t);
        g->col = t == SPATE_BOOL && pick(2) ? C_G : col_of[t];
        return g;
    }
    if (r == 5) return gnew(G_NULL, t);
    gnode *g = gnew(G_LIT, t);
    switch (t) {
    case SPATE_INT32:
        g->lit.i = ints[pick(10)];
        snprintf(g->text, sizeof g->text, "CAST(%" PRId64 " AS INT)", g->lit.i);
        break;
    case SPATE_INT64:
        g->lit.i = bigs[pick(9)];
        if (g->lit.i == INT64_MIN)
            snprintf(g->text, sizeof g->text, "(-9223372036854775807 - 1)");
        else
            snprintf(g->text, sizeof g->text, "(%" PRId64 ")", g->lit.i);
        break;
    case SPATE_FLOAT64: {
        int k = pick(7);
        g->lit.d = dbls[k].v;
        snprintf(g->text, sizeof g->text, "%s", dbls[k].text);
        break;
    }
    case SPATE_BOOL:
        g->lit.i = pick(2);
        snprintf(g->text, sizeof g->text, "%s", g->lit.i ? "TRUE" : "FALSE");
        break;
    default: {
        const char *s = strs[pick(10)];
        g->lit.len = strlen(s);
        memcpy(g->lit.s, s, g->lit.len);
        snprintf(g->text, sizeof g->text, "'%s'", s);
        break;
    }
    }
    return g;
}

/* An operand where the context gives a bare NULL its type. */
static gnode *gen_or_null(spate_type t, int depth)
{
    return pick(12) == 0 ? gnew(G_BARE_NULL, t) : gen(t, depth);
}

static gnode *with(gnode *g, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        g->a[g->n++] = va_arg(ap, gnode *);
    va_end(ap);
    return g;
}

static gnode *gen_bool(int depth)
{
    spate_type u;
    gnode *g;
    switch (pick(11)) {
    case 0:
        u = pick(4) ? rand_num() : SPATE_STRING;
        g = with(gnew(G_CMP, SPATE_BOOL), 2, gen_or_null(u, depth),
                 gen_or_null(u == SPATE_STRING ? u : rand_num(), depth));
        g->op = pick(6);
        return g;
    case 1:
        return with(gnew(G_AND, SPATE_BOOL), 2, gen(SPATE_BOOL, depth), gen(SPATE_BOOL, depth));
    case 2:
        return with(gnew(G_OR, SPATE_BOOL), 2, gen(SPATE_BOOL, depth), gen(SPATE_BOOL, depth));
    case 3:
        return with(gnew(G_NOT, SPATE_BOOL), 1, gen(SPATE_BOOL, depth));
    case 4:
        g = with(gnew(G_ISNULL, SPATE_BOOL), 1, gen(pick(2) ? rand_num() : SPATE_STRING, depth));
        g->neg = pick(2);
        return g;
    case 5:
        g = with(gnew(G_ISTRUE, SPATE_BOOL), 1, gen(SPATE_BOOL, depth));
        g->neg = pick(2);
        g->op = pick(2);
        return g;
    case 6: {
        u = pick(4) ? rand_num() : SPATE_STRING;
        g = with(gnew(G_IN, SPATE_BOOL), 1, gen(u, depth));
        int n = 1 + pick(3);
        for (int i = 0; i < n; i++)
            g->a[g->n++] = pick(3) ? leaf(u == SPATE_STRING ? u : rand_num())
                                   : gen_or_null(u == SPATE_STRING ? u : rand_num(), depth);
        g->neg = pick(3) == 0;
        return g;
    }
    case 7:
        u = pick(4) ? rand_num() : SPATE_STRING;
        g = with(gnew(G_BETWEEN, SPATE_BOOL), 3, gen(u, depth),
                 gen(u == SPATE_STRING ? u : rand_num(), depth),
                 gen(u == SPATE_STRING ? u : rand_num(), depth));
        g->neg = pick(3) == 0;
        return g;
    case 8: {
        static const char alphabet[] = "ab%_";
        g = with(gnew(G_LIKE, SPATE_BOOL), 1, gen(SPATE_STRING, depth));
        int n = pick(6);
        for (int i = 0; i < n; i++)
            g->lit.s[i] = alphabet[pick(4)];
        g->lit.len = (size_t)n;
        g->neg = pick(4) == 0;
        return g;
    }
    default:
        return NULL;
    }
}

static gnode *gen(spate_type t, int depth)
{
    if (depth >= MAX_DEPTH || pick(4) == 0) return leaf(t);
    depth++;
    gnode *g = NULL;
    if (t == SPATE_BOOL && (g = gen_bool(depth))) return g;
    int r = pick(10);
    if (r == 0 || (t == SPATE_BOOL && r < 6)) {
        g = gnew(G_CASE, t);
        int n = 1 + pick(2);
        for (int i = 0; i < n; i++) {
            g->a[g->n++] = gen(SPATE_BOOL, depth);
            g->a[g->n++] = i && pick(5) == 0 ? gnew(G_BARE_NULL, t) : gen(t, depth);
        }
        g->neg = pick(3) == 0; /* no ELSE */
        if (!g->neg) g->a[g->n++] = gen(t, depth);
        return g;
    }
    if (r == 1) {
        spate_type u = pick(3) ? rand_num() : SPATE_STRING;
        g = with(gnew(G_SCASE, t), 1, gen(u, depth));
        int n = 1 + pick(2);
        for (int i = 0; i < n; i++) {
            g->a[g->n++] = leaf(u == SPATE_STRING ? u : rand_num());
            g->a[g->n++] = gen(t, depth);
        }
        g->a[g->n++] = gen(t, depth);
        return g;
    }
    if (r == 2) return with(gnew(G_COALESCE, t), 2, gen_or_null(t, depth), gen(t, depth));
    if (r == 3) return with(gnew(G_NULLIF, t), 2, gen(t, depth), gen(t, depth));
    if (r == 4 && t != SPATE_BOOL) {
        g = with(gnew(G_GREATEST, t), 2, gen(t, depth), gen(t, depth));
        g->neg = pick(2);
        return g;
    }
    if (r == 5) return with(gnew(G_IF, t), 3, gen(SPATE_BOOL, depth), gen(t, depth), gen(t, depth));
    switch (t) {
    case SPATE_STRING:
        if (pick(3)) {
            spate_type u = pick(2) ? SPATE_STRING : pick(2) ? SPATE_INT32 : SPATE_INT64;
            return pick(2) ? with(gnew(G_CONCAT, t), 2, gen(SPATE_STRING, depth), gen(u, depth))
                           : with(gnew(G_CONCAT, t), 2, gen(u, depth), gen(SPATE_STRING, depth));
        }
        return with(gnew(G_CAST, t), 1, gen(pick(2) ? SPATE_INT64 : SPATE_INT32, depth));
    case SPATE_INT32:
    case SPATE_INT64:
    case SPATE_FLOAT64: {
        int c = pick(8);
        if (c == 0) {
            static const spate_type from[] = {SPATE_INT32, SPATE_INT64, SPATE_FLOAT64, SPATE_STRING,
                                              SPATE_BOOL};
            return with(gnew(G_CAST, t), 1, gen(from[pick(5)], depth));
        }
        if (c == 1) return with(gnew(G_NEG, t), 1, gen(t, depth));
        /* Operands whose wider type is t. */
        spate_type x = t, y = t;
        if (t != SPATE_INT32 && pick(2)) {
            spate_type narrow = t == SPATE_INT64 ? SPATE_INT32
                                : pick(2)        ? SPATE_INT32
                                                 : SPATE_INT64;
            if (pick(2))
                x = narrow;
            else
                y = narrow;
        }
        g = with(gnew(G_ARITH, t), 2, gen(x, depth), gen(y, depth));
        g->op = pick(5);
        return g;
    }
    default:
        return leaf(t);
    }
}

static const char *tsql(spate_type t)
{
    switch (t) {
    case SPATE_INT32:
        return "INT";
    case SPATE_INT64:
        return "BIGINT";
    case SPATE_FLOAT64:
        return "DOUBLE";
    case SPATE_BOOL:
        return "BOOLEAN";
    default:
        return "STRING";
    }
}

static void emit(const gnode *g, char *buf, size_t cap, size_t *len)
{
#define OUT(...) (*len += (size_t)snprintf(buf + *len, *len < cap ? cap - *len : 0, __VA_ARGS__))
    static const char *const cmp_ops[] = {"=", "<>", "<", "<=", ">", ">="};
    static const char *const arith_ops[] = {"+", "-", "*", "/", "%"};
    static const char *const col_names[] = {"i", "b", "d", "s", "t", "f", "g", "p", "heart_rate"};
    switch (g->k) {
    case G_COL:
        OUT("%s", col_names[g->col]);
        break;
    case G_LIT:
        OUT("%s", g->text);
        break;
    case G_NULL:
        OUT("CAST(NULL AS %s)", tsql(g->t));
        break;
    case G_BARE_NULL:
        OUT("NULL");
        break;
    case G_ARITH:
    case G_CMP:
    case G_AND:
    case G_OR:
    case G_CONCAT:
        OUT("(");
        emit(g->a[0], buf, cap, len);
        OUT(" %s ", g->k == G_ARITH ? arith_ops[g->op]
                    : g->k == G_CMP ? cmp_ops[g->op]
                    : g->k == G_AND ? "AND"
                    : g->k == G_OR  ? "OR"
                                    : "||");
        emit(g->a[1], buf, cap, len);
        OUT(")");
        break;
    case G_NEG:
    case G_NOT:
        OUT("(%s ", g->k == G_NEG ? "-" : "NOT");
        emit(g->a[0], buf, cap, len);
        OUT(")");
        break;
    case G_ISNULL:
    case G_ISTRUE:
        OUT("(");
        emit(g->a[0], buf, cap, len);
        OUT(" IS %s%s)", g->neg ? "NOT " : "",
            g->k == G_ISNULL ? "NULL"
            : g->op          ? "TRUE"
                             : "FALSE");
        break;
    case G_IN:
        OUT("(");
        emit(g->a[0], buf, cap, len);
        OUT(" %sIN (", g->neg ? "NOT " : "");
        for (int i = 1; i < g->n; i++) {
            if (i > 1) OUT(", ");
            emit(g->a[i], buf, cap, len);
        }
        OUT("))");
        break;
    case G_BETWEEN:
        OUT("(");
        emit(g->a[0], buf, cap, len);
        OUT(" %sBETWEEN ", g->neg ? "NOT " : "");
        emit(g->a[1], buf, cap, len);
        OUT(" AND ");
        emit(g->a[2], buf, cap, len);
        OUT(")");
        break;
    case G_LIKE:
        OUT("(");
        emit(g->a[0], buf, cap, len);
        OUT(" %sLIKE '%.*s')", g->neg ? "NOT " : "", (int)g->lit.len, g->lit.s);
        break;
    case G_CASE:
    case G_SCASE: {
        int k = 0;
        OUT("(CASE ");
        if (g->k == G_SCASE) {
            emit(g->a[k++], buf, cap, len);
            OUT(" ");
        }
        int pairs_end = g->k == G_SCASE || !g->neg ? g->n - 1 : g->n;
        for (; k < pairs_end; k += 2) {
            OUT("WHEN ");
            emit(g->a[k], buf, cap, len);
            OUT(" THEN ");
            emit(g->a[k + 1], buf, cap, len);
            OUT(" ");
        }
        if (k < g->n) {
            OUT("ELSE ");
            emit(g->a[k], buf, cap, len);
            OUT(" ");
        }
        OUT("END)");
        break;
    }
    case G_COALESCE:
    case G_NULLIF:
    case G_GREATEST:
    case G_IF:
        OUT("%s(", g->k == G_COALESCE ? "COALESCE"
                   : g->k == G_NULLIF ? "NULLIF"
                   : g->k == G_IF     ? "IF"
                   : g->neg           ? "LEAST"
                                      : "GREATEST");
        for (int i = 0; i < g->n; i++) {
            if (i) OUT(", ");
            emit(g->a[i], buf, cap, len);
        }
        OUT(")");
        break;
    case G_CAST:
        OUT("CAST(");
        emit(g->a[0], buf, cap, len);
        OUT(" AS %s)", tsql(g->t));
        break;
    }
#undef OUT
}

/* ----- the reference evaluator ----- */

typedef struct ref_row {
    int null[NCOLS];
    int64_t i[NCOLS];
    double d[NCOLS];
    const char *s[NCOLS];
} ref_row;

static int ref_like(const char *s, size_t n, const char *p, size_t m)
{
    if (m == 0) return n == 0;
    if (p[0] == '%') {
        for (size_t k = 0; k <= n; k++)
            if (ref_like(s + k, n - k, p + 1, m - 1)) return 1;
        return 0;
    }
    if (n == 0) return 0;
    return (p[0] == '_' || p[0] == s[0]) && ref_like(s + 1, n - 1, p + 1, m - 1);
}

/* Integer result of type t from an exact 128-bit value: NULL out of range. */
static void ref_int_result(__int128 x, spate_type t, rv *out)
{
    __int128 lo = t == SPATE_INT32 ? INT32_MIN : INT64_MIN,
             hi = t == SPATE_INT32 ? INT32_MAX : INT64_MAX;
    out->null = x < lo || x > hi;
    out->i = out->null ? 0 : (int64_t)x;
}

static double as_double(const rv *v, spate_type t)
{
    return t == SPATE_FLOAT64 ? v->d : (double)v->i;
}

/* The type operands[0..n) are compared in: DOUBLE when one is, else their own (a
 * bare NULL takes no part, as in SQL). */
static spate_type ref_common(gnode *const *operands, int n)
{
    spate_type t = 0;
    for (int k = 0; k < n; k++)
        if (operands[k]->k != G_BARE_NULL && (!t || operands[k]->t == SPATE_FLOAT64))
            t = operands[k]->t;
    return t;
}

/* Three-way comparison of a (type ta) and b (type tb) in their common type, or in
 * DOUBLE when ct, the type of a longer list they belong to, is DOUBLE. */
static int ref_cmp_in(const rv *a, spate_type ta, const rv *b, spate_type tb, spate_type ct)
{
    if (ta == SPATE_STRING) {
        size_t m = a->len < b->len ? a->len : b->len;
        int c = m ? memcmp(a->s, b->s, m) : 0;
        if (c) return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    if (ct == SPATE_FLOAT64 || ta == SPATE_FLOAT64 || tb == SPATE_FLOAT64) {
        double x = as_double(a, ta), y = as_double(b, tb);
        return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2; /* 2: unordered (NaN) */
    }
    return (a->i > b->i) - (a->i < b->i);
}

static int ref_cmp(const rv *a, spate_type ta, const rv *b, spate_type tb)
{
    return ref_cmp_in(a, ta, b, tb, 0);
}

static int cmp_true(int op, int c)
{
    if (c == 2) return op == 1; /* NaN: only <> holds */
    switch (op) {
    case 0:
        return c == 0;
    case 1:
        return c != 0;
    case 2:
        return c < 0;
    case 3:
        return c <= 0;
    case 4:
        return c > 0;
    default:
        return c >= 0;
    }
}

static int ref_text_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    while (n && (s[n - 1] == ' '))
        n--;
    while (i < n && s[i] == ' ')
        i++;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return -1;
    __int128 v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
        if (v > (__int128)INT64_MAX + 1) return -1;
    }
    if (neg) v = -v;
    if (v > INT64_MAX) return -1;
    *out = (int64_t)v;
    return 0;
}

static void ref_eval(const gnode *g, const ref_row *row, rv *out);

static void ref_bool(int null, int v, rv *out)
{
    out->null = null;
    out->i = !null && v;
}

static void ref_eval(const gnode *g, const ref_row *row, rv *out)
{
    rv a, b, c;
    memset(out, 0, offsetof(rv, s));
    out->len = 0;
    switch (g->k) {
    case G_COL:
        out->null = row->null[g->col];
        out->i = row->i[g->col];
        out->d = row->d[g->col];
        if (!out->null && row->s[g->col]) {
            out->len = strlen(row->s[g->col]);
            memcpy(out->s, row->s[g->col], out->len);
        }
        return;
    case G_LIT:
        *out = g->lit;
        return;
    case G_NULL:
    case G_BARE_NULL:
        out->null = 1;
        return;
    case G_ARITH: {
        ref_eval(g->a[0], row, &a);
        ref_eval(g->a[1], row, &b);
        if (a.null || b.null) {
            out->null = 1;
            return;
        }
        if (g->t == SPATE_FLOAT64) {
            double x = as_double(&a, g->a[0]->t), y = as_double(&b, g->a[1]->t);
            switch (g->op) {
            case 0:
                out->d = x + y;
                break;
            case 1:
                out->d = x - y;
                break;
            case 2:
                out->d = x * y;
                break;
            case 3:
                out->null = y == 0;
                out->d = y == 0 ? 0 : x / y;
                break;
            default:
                out->null = y == 0;
                out->d = y == 0 ? 0 : fmod(x, y);
                break;
            }
            return;
        }
        __int128 x = a.i, y = b.i;
        switch (g->op) {
        case 0:
            ref_int_result(x + y, g->t, out);
            return;
        case 1:
            ref_int_result(x - y, g->t, out);
            return;
        case 2:
            ref_int_result(x * y, g->t, out);
            return;
        case 3:
            if (y == 0)
                out->null = 1;
            else
                ref_int_result(x / y, g->t, out);
            return;
        default:
            if (y == 0)
                out->null = 1;
            else
                ref_int_result(x % y, g->t, out);
            return;
        }
    }
    case G_NEG:
        ref_eval(g->a[0], row, &a);
        if (a.null)
            out->null = 1;
        else if (g->t == SPATE_FLOAT64)
            out->d = -a.d;
        else
            ref_int_result(-(__int128)a.i, g->t, out);
        return;
    case G_CMP:
        ref_eval(g->a[0], row, &a);
        ref_eval(g->a[1], row, &b);
        ref_bool(a.null || b.null,
                 !a.null && !b.null && cmp_true(g->op, ref_cmp(&a, g->a[0]->t, &b, g->a[1]->t)),
                 out);
        return;
    case G_AND:
    case G_OR: {
        ref_eval(g->a[0], row, &a);
        ref_eval(g->a[1], row, &b);
        int decide = g->k == G_OR; /* the value that decides alone */
        if ((!a.null && a.i == decide) || (!b.null && b.i == decide))
            ref_bool(0, decide, out);
        else if (a.null || b.null)
            ref_bool(1, 0, out);
        else
            ref_bool(0, !decide, out);
        return;
    }
    case G_NOT:
        ref_eval(g->a[0], row, &a);
        ref_bool(a.null, !a.i, out);
        return;
    case G_ISNULL:
        ref_eval(g->a[0], row, &a);
        ref_bool(0, a.null != g->neg, out);
        return;
    case G_ISTRUE:
        ref_eval(g->a[0], row, &a);
        ref_bool(0, (!a.null && a.i == g->op) != g->neg, out);
        return;
    case G_IN: {
        ref_eval(g->a[0], row, &a);
        int found = 0, unknown = a.null;
        spate_type ct = ref_common(g->a, g->n);
        for (int k = 1; k < g->n; k++) {
            ref_eval(g->a[k], row, &b);
            if (b.null)
                unknown = 1;
            else if (!a.null && ref_cmp_in(&a, g->a[0]->t, &b, g->a[k]->t, ct) == 0)
                found = 1;
        }
        int null = !found && unknown;
        ref_bool(null, null ? 0 : found != g->neg, out);
        return;
    }
    case G_BETWEEN: {
        ref_eval(g->a[0], row, &a);
        ref_eval(g->a[1], row, &b);
        ref_eval(g->a[2], row, &c);
        /* x >= lo AND x <= hi, three-valued */
        spate_type ct = ref_common(g->a, 3);
        int ge_null = a.null || b.null, le_null = a.null || c.null;
        int ge = !ge_null && cmp_true(5, ref_cmp_in(&a, g->a[0]->t, &b, g->a[1]->t, ct));
        int le = !le_null && cmp_true(3, ref_cmp_in(&a, g->a[0]->t, &c, g->a[2]->t, ct));
        int is_false = (!ge_null && !ge) || (!le_null && !le);
        int null = !is_false && (ge_null || le_null);
        ref_bool(null, null ? 0 : (!is_false) != g->neg, out);
        return;
    }
    case G_LIKE:
        ref_eval(g->a[0], row, &a);
        ref_bool(a.null, !a.null && ref_like(a.s, a.len, g->lit.s, g->lit.len) != g->neg, out);
        return;
    case G_CASE:
    case G_IF: {
        int k = 0, n = g->k == G_IF ? 2 : g->neg ? g->n : g->n - 1;
        for (; k < n; k += 2) {
            ref_eval(g->a[k], row, &a);
            if (!a.null && a.i) {
                ref_eval(g->a[k + 1], row, out);
                return;
            }
        }
        if (k < g->n)
            ref_eval(g->a[k], row, out);
        else
            out->null = 1;
        return;
    }
    case G_SCASE: {
        ref_eval(g->a[0], row, &a);
        gnode *compared[6];
        int m = 0, k = 1;
        compared[m++] = g->a[0];
        for (int w = 1; w + 1 < g->n; w += 2)
            compared[m++] = g->a[w];
        spate_type ct = ref_common(compared, m);
        for (; k + 1 < g->n; k += 2) {
            ref_eval(g->a[k], row, &b);
            if (!a.null && !b.null && ref_cmp_in(&a, g->a[0]->t, &b, g->a[k]->t, ct) == 0) {
                ref_eval(g->a[k + 1], row, out);
                return;
            }
        }
        ref_eval(g->a[k], row, out);
        return;
    }
    case G_COALESCE:
        ref_eval(g->a[0], row, out);
        if (out->null) ref_eval(g->a[1], row, out);
        return;
    case G_NULLIF:
        ref_eval(g->a[0], row, out);
        ref_eval(g->a[1], row, &b);
        if (!out->null && !b.null && ref_cmp(out, g->t, &b, g->t) == 0) out->null = 1;
        return;
    case G_GREATEST:
        ref_eval(g->a[0], row, out);
        ref_eval(g->a[1], row, &b);
        if (out->null || b.null) {
            out->null = 1;
            return;
        }
        if (ref_cmp(&b, g->t, out, g->t) == (g->neg ? -1 : 1)) *out = b;
        return;
    case G_CAST: {
        spate_type from = g->a[0]->t;
        ref_eval(g->a[0], row, &a);
        if (a.null) {
            out->null = 1;
            return;
        }
        if (g->t == SPATE_STRING) {
            out->len = (size_t)snprintf(out->s, SMAX, "%" PRId64, a.i);
            return;
        }
        if (g->t == SPATE_FLOAT64) {
            if (from == SPATE_STRING) {
                size_t lo = 0, hi = a.len;
                while (lo < hi && a.s[lo] == ' ')
                    lo++;
                while (hi > lo && a.s[hi - 1] == ' ')
                    hi--;
                char tmp[SMAX + 1], *end;
                snprintf(tmp, sizeof tmp, "%.*s", (int)(hi - lo), a.s + lo);
                out->d = strtod(tmp, &end);
                out->null = lo == hi || end != tmp + (hi - lo);
            } else {
                out->d = as_double(&a, from);
            }
            return;
        }
        __int128 x = a.i;
        if (from == SPATE_FLOAT64) {
            if (!(a.d >= -9223372036854775808.0 && a.d < 9223372036854775808.0)) {
                out->null = 1;
                return;
            }
            x = (int64_t)a.d;
        } else if (from == SPATE_STRING) {
            int64_t v;
            if (ref_text_int(a.s, a.len, &v)) {
                out->null = 1;
                return;
            }
            x = v;
        }
        ref_int_result(x, g->t, out);
        return;
    }
    case G_CONCAT: {
        rv parts[2];
        for (int k = 0; k < 2; k++) {
            ref_eval(g->a[k], row, &parts[k]);
            if (g->a[k]->t != SPATE_STRING && !parts[k].null)
                parts[k].len = (size_t)snprintf(parts[k].s, SMAX, "%" PRId64, parts[k].i);
        }
        if (parts[0].null || parts[1].null) {
            out->null = 1;
            return;
        }
        out->len = parts[0].len + parts[1].len;
        if (out->len > SMAX) out->len = SMAX;
        memcpy(out->s, parts[0].s, parts[0].len);
        memcpy(out->s + parts[0].len, parts[1].s, out->len - parts[0].len);
        return;
    }
    }
}

static int same_value(const sp_vec *v, uint32_t r, const rv *want, spate_type t)
{
    if (sp_vec_is_null(v, r) != (want->null != 0)) return 0;
    if (want->null) return 1;
    switch (t) {
    case SPATE_BOOL:
        return SP_BOOL(v)[r] == (want->i != 0);
    case SPATE_INT32:
        return SP_I32(v)[r] == want->i;
    case SPATE_INT64:
        return SP_I64(v)[r] == want->i;
    case SPATE_FLOAT64: {
        double x = SP_F64(v)[r];
        return (isnan(x) && isnan(want->d)) || x == want->d;
    }
    default: {
        spate_str s = SP_STR(v)[r];
        return s.len == want->len && (!s.len || memcmp(s.ptr, want->s, s.len) == 0);
    }
    }
}

static void sql_expr_differential(void)
{
    /* Random rows: every column NULL a fifth of the time. */
    static const char *const strs[] = {"",   "a",    "ab", "abc", "b",   "ba",
                                       "12", " -3 ", "A",  "x%y", "aab", "bab"};
    static const int32_t ints[] = {0, 1, -1, 2, 7, -7, 100, INT32_MAX, INT32_MIN, 3, 65536};
    static const int64_t bigs[] = {0,         1, -1,           3, -50, INT64_C(1) << 40, INT64_MAX,
                                   INT64_MIN, 7, -2147483648LL};
    static const double dbls[] = {0.0, 1.5, -2.5, 1e300, -1e300, 0.1, 3.0, 7.0, -0.5};
    rng_state = 20240101;
    char rows_text[DIFF_ROWS][400];
    const char *rp[DIFF_ROWS];
    ref_row ref[DIFF_ROWS];
    for (int r = 0; r < DIFF_ROWS; r++) {
        ref_row *x = &ref[r];
        memset(x, 0, sizeof *x);
        for (int c = 0; c < NCOLS; c++)
            x->null[c] = pick(5) == 0 || c == C_T || c == C_P || c == C_HR;
        x->i[C_I] = ints[pick(11)];
        x->i[C_B] = bigs[pick(10)];
        x->d[C_D] = dbls[pick(9)];
        x->s[C_S] = strs[pick(12)];
        x->i[C_F] = pick(2);
        x->i[C_G] = pick(2);
        char f[NCOLS][40];
        snprintf(f[C_I], 40, "%" PRId64, x->i[C_I]);
        snprintf(f[C_B], 40, "%" PRId64, x->i[C_B]);
        snprintf(f[C_D], 40, "%.17g", x->d[C_D]);
        snprintf(f[C_S], 40, "%s", x->s[C_S]);
        snprintf(f[C_F], 40, "%s", x->i[C_F] ? "true" : "false");
        snprintf(f[C_G], 40, "%s", x->i[C_G] ? "true" : "false");
        for (int c = 0; c < NCOLS; c++)
            if (x->null[c]) snprintf(f[c], 40, "~");
        snprintf(rows_text[r], sizeof rows_text[r], "%s|%s|%s|%s|%s|%s|%s|%s|%s", f[C_I], f[C_B],
                 f[C_D], f[C_S], f[C_T], f[C_F], f[C_G], f[C_P], f[C_HR]);
        rp[r] = rows_text[r];
    }
    sp_batch *in = make_batch(rp, DIFF_ROWS);
    static const spate_type types[] = {SPATE_BOOL, SPATE_INT32, SPATE_INT64, SPATE_FLOAT64,
                                       SPATE_STRING};
    int failures = 0, checked = 0;
    static char sql[65536];
    for (int e = 0; e < DIFF_EXPRS && failures < 5; e++) {
        spate_type t = types[e % 5];
        gnode *g = gen(t, 0);
        size_t len = 0;
        emit(g, sql, sizeof sql, &len);
        if (len >= sizeof sql) {
            gfree(g);
            continue;
        }
        sq_bexpr *b;
        sq_error err;
        if (bind_text(sql, &scope, &utc, &b, &err)) {
            fprintf(stderr, "  expression %d: %s\n    does not bind: %s\n", e, sql, err.msg);
            failures++;
            gfree(g);
            continue;
        }
        if (sq_bexpr_type(b) != t) {
            fprintf(stderr, "  expression %d: %s\n    type %s, want %s\n", e, sql,
                    spate_type_name(sq_bexpr_type(b)), spate_type_name(t));
            failures++;
        }
        sq_program *p;
        if (sq_program_new(&b, NULL, 1, &utc, &p)) {
            failures++;
            gfree(g);
            continue;
        }
        sp_batch *out = sp_batch_new(DIFF_ROWS);
        sp_batch_reset(out, sq_program_schema(p));
        out->n = in->n;
        uint8_t keep[DIFF_ROWS];
        CHECK_EQ_INT(sq_program_map((const spate_cols *)in, (spate_cols *)out, p), 0);
        if (t == SPATE_BOOL) CHECK_EQ_INT(sq_program_filter((const spate_cols *)in, keep, p), 0);
        for (int r = 0; r < DIFF_ROWS && failures < 5; r++) {
            rv want;
            ref_eval(g, &ref[r], &want);
            checked++;
            int keep_ok = t != SPATE_BOOL || (keep[r] != 0) == (!want.null && want.i);
            if (same_value(&out->cols[0], (uint32_t)r, &want, t) && keep_ok) continue;
            char got[600];
            cell_text(&out->cols[0], (uint32_t)r, got, sizeof got);
            fprintf(stderr, "  expression %d: %s\n    row %s: got %s, want ", e, sql, rp[r], got);
            if (want.null)
                fprintf(stderr, "NULL\n");
            else if (t == SPATE_FLOAT64)
                fprintf(stderr, "%.17g\n", want.d);
            else if (t == SPATE_STRING)
                fprintf(stderr, "'%.*s'\n", (int)want.len, want.s);
            else
                fprintf(stderr, "%" PRId64 "\n", want.i);
            failures++;
        }
        sp_batch_free(out);
        sq_program_free(p);
        gfree(g);
    }
    free_batch(in);
    CHECK_EQ_INT(failures, 0);
    CHECK(checked > DIFF_EXPRS * DIFF_ROWS / 2);
}

const sp_test tests_sql_expr[] = {
    {"sql_expr_bind_errors", sql_expr_bind_errors},
    {"sql_expr_types", sql_expr_types},
    {"sql_expr_three_valued", sql_expr_three_valued},
    {"sql_expr_nulls", sql_expr_nulls},
    {"sql_expr_arithmetic", sql_expr_arithmetic},
    {"sql_expr_comparisons", sql_expr_comparisons},
    {"sql_expr_in_between", sql_expr_in_between},
    {"sql_expr_like", sql_expr_like},
    {"sql_expr_case", sql_expr_case},
    {"sql_expr_cast", sql_expr_cast},
    {"sql_expr_time_zone", sql_expr_time_zone},
    {"sql_expr_conditional_functions", sql_expr_conditional_functions},
    {"sql_expr_timestamps", sql_expr_timestamps},
    {"sql_expr_concat", sql_expr_concat},
    {"sql_expr_eval_const", sql_expr_eval_const},
    {"sql_expr_bind_cast", sql_expr_bind_cast},
    {"sql_expr_type_names", sql_expr_type_names},
    {"sql_expr_function_registry", sql_expr_function_registry},
    {"sql_expr_filter_program", sql_expr_filter_program},
    {"sql_expr_program_engine", sql_expr_program_engine},
    {"sql_expr_program_threads", sql_expr_program_threads},
    {"sql_expr_differential", sql_expr_differential},
    {NULL, NULL},
};
