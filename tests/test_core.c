/*
 * test_core.c - the core data model: arena, schema, batch (nulls, selection, copies),
 * pool, options, buffers, errors, and the row accessor API user callbacks see.
 *
 * Batches are filled by hand through the vector macros, the way operators fill them,
 * so each test states exactly which physical rows and null bits it expects.
 */
#include "test.h"

#include "core/buf.h"
#include "core/deadletter.h"
#include "core/error.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/row.h"

#include <stdint.h>

/* --------------------------------------------------------------- arena */

static void test_arena(void)
{
    sp_arena a = {0};
    CHECK_EQ_INT(sp_arena_size(&a), 0);
    char *prev = NULL;
    for (int i = 0; i < 2000; i++) {
        char *p = sp_arena_alloc(&a, (size_t)(i % 13) + 1);
        CHECK(p != NULL && (uintptr_t)p % 8 == 0);
        if (p) memset(p, 0xAB, (size_t)(i % 13) + 1);
        CHECK(p != prev);
        prev = p;
    }
    char *d = sp_arena_dup(&a, "hello", 5);
    CHECK(d && memcmp(d, "hello", 5) == 0);
    CHECK(sp_arena_dup(&a, NULL, 0) != NULL);
    char *big = sp_arena_alloc(&a, 1 << 20);
    CHECK(big != NULL);
    if (big) memset(big, 1, 1 << 20);
    CHECK(sp_arena_size(&a) >= (1 << 20) + 4096);
    sp_arena_reset(&a);
    size_t kept = sp_arena_size(&a);
    CHECK(kept >= (1 << 20));
    /* The kept chunk serves the next allocations without growing. */
    for (int i = 0; i < 100; i++) CHECK(sp_arena_alloc(&a, 1000) != NULL);
    CHECK_EQ_INT(sp_arena_size(&a), kept);
    sp_arena_free(&a);
    CHECK_EQ_INT(sp_arena_size(&a), 0);
}

/* -------------------------------------------------------------- schema */

static void test_schema_parse_good(void)
{
    spate_schema *s;
    REQUIRE_OK(spate_schema_parse(" id BIGINT,name varchar ,ok Boolean, ts TIMESTAMP,"
                                  "dev.id INTEGER, v FLOAT64, raw BYTES, n INT32",
                                  &s));
    CHECK_EQ_INT(spate_schema_count(s), 8);
    static const spate_type want[] = {SPATE_INT64, SPATE_STRING, SPATE_BOOL, SPATE_TIMESTAMP,
                                      SPATE_INT32, SPATE_FLOAT64, SPATE_BYTES, SPATE_INT32};
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(spate_schema_type(s, i), want[i]);
    CHECK_EQ_STR(spate_schema_name(s, 1), "name");
    CHECK_EQ_STR(spate_schema_name(s, 4), "dev.id");
    CHECK_EQ_INT(spate_schema_find(s, "ts"), 3);
    CHECK_EQ_INT(spate_schema_find(s, "nope"), SPATE_ENOTFOUND);
    CHECK(spate_schema_name(s, 8) == NULL && spate_schema_name(s, -1) == NULL);
    CHECK_EQ_INT(spate_schema_type(s, 99), 0);
    CHECK_EQ_STR(spate_type_name(SPATE_INT32), "INT");
    CHECK_EQ_STR(spate_type_name(SPATE_TIMESTAMP), "TIMESTAMP");
    spate_schema *c = sp_schema_copy(s);
    REQUIRE_OK(c ? 0 : SPATE_ENOMEM);
    CHECK(sp_schema_types_equal(s, c));
    CHECK(spate_schema_name(c, 0) != spate_schema_name(s, 0));
    CHECK_EQ_STR(spate_schema_name(c, 7), "n");
    spate_schema_free(c);
    spate_schema_free(s);
}

static void test_schema_parse_bad(void)
{
    static const struct {
        const char *decl, *msg;
    } cases[] = {
        {"", "bad schema at column 1 of \"\""},
        {"a", "expected 'name TYPE'"},
        {"a FOO", "bad schema at column 1"},
        {"a INT,", "bad schema at column 7"},
        {"a INT, b", "bad schema at column 8"},
        {"a INT b STRING", "bad schema at column 1"},
        {"a INT, -b INT", "bad schema at column 8"},
        {"a INT, a STRING", "duplicate field name 'a'"},
        {"a INT(4)", "types: BOOL INT BIGINT DOUBLE STRING BYTES TIMESTAMP"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        spate_schema *s = (spate_schema *)1;
        CHECK_EQ_INT(spate_schema_parse(cases[k].decl, &s), SPATE_EINVAL);
        CHECK(s == NULL);
        if (!strstr(spate_last_error(), cases[k].msg))
            fprintf(stderr, "  '%s': %s\n", cases[k].decl, spate_last_error());
        CHECK(strstr(spate_last_error(), cases[k].msg) != NULL);
    }
    spate_schema *s;
    CHECK_EQ_INT(spate_schema_parse(NULL, &s), SPATE_EINVAL);
}

static void test_schema_add(void)
{
    spate_schema *s = spate_schema_new();
    REQUIRE_OK(s ? 0 : SPATE_ENOMEM);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        REQUIRE_OK(spate_schema_add(s, name, SPATE_INT64));
    }
    CHECK_EQ_INT(spate_schema_add(s, "c3", SPATE_INT64), SPATE_EINVAL);
    CHECK_EQ_INT(spate_schema_add(s, "", SPATE_INT64), SPATE_EINVAL);
    CHECK_EQ_INT(spate_schema_add(s, "x", (spate_type)0), SPATE_EINVAL);
    CHECK_EQ_INT(spate_schema_add(s, "x", (spate_type)99), SPATE_EINVAL);
    CHECK_EQ_INT(spate_schema_count(s), 20);
    CHECK_EQ_INT(spate_schema_find(s, "c19"), 19);
    spate_schema *t;
    REQUIRE_OK(spate_schema_parse("a BIGINT", &t));
    CHECK(!sp_schema_types_equal(s, t));
    spate_schema_free(t);
    spate_schema_free(s);
    spate_schema_free(NULL);
}

/* --------------------------------------------------------------- batch */

static spate_schema *schema_of(const char *decl)
{
    spate_schema *s = NULL;
    spate_schema_parse(decl, &s);
    return s;
}

static void put_row(sp_batch *b, int64_t i, const char *str)
{
    uint32_t r = sp_batch_add_null_row(b);
    sp_vec_clear_null(&b->cols[0], r);
    sp_vec_put_int(&b->cols[0], r, i);
    if (!str) return;
    sp_vec_clear_null(&b->cols[1], r);
    SP_STR(&b->cols[1])[r] = (spate_str){sp_arena_dup(&b->arena, str, strlen(str)), strlen(str)};
}

static int row_str_is(const sp_batch *b, uint32_t r, int c, const char *want)
{
    spate_str s = SP_STR(&b->cols[c])[r];
    return !sp_vec_is_null(&b->cols[c], r) && s.len == strlen(want) &&
           memcmp(s.ptr, want, s.len) == 0;
}

static void test_batch_reset_reuse(void)
{
    spate_schema *a = schema_of("i INT, s STRING"), *b3 = schema_of("x BOOL, y DOUBLE, z BIGINT");
    sp_batch *b = sp_batch_new(100);
    REQUIRE_OK(a && b3 && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(b, a));
    CHECK(b->ncols == 2 && b->n == 0 && b->cols[0].type == SPATE_INT32);
    for (int i = 0; i < 100; i++) put_row(b, i, i % 3 ? "v" : NULL);
    CHECK(b->cols[1].has_nulls && sp_vec_is_null(&b->cols[1], 99));
    b->has_sel = 1;
    b->has_hashes = 1;
    REQUIRE_OK(sp_batch_reset(b, b3));
    CHECK(b->ncols == 3 && b->n == 0 && !b->has_sel && !b->has_hashes);
    CHECK(b->cols[1].type == SPATE_FLOAT64 && b->cols[2].type == SPATE_INT64);
    for (int c = 0; c < 3; c++) CHECK(!b->cols[c].has_nulls);
    REQUIRE_OK(sp_batch_reset(b, a));
    /* The null bitmap of the earlier use is gone. */
    for (uint32_t r = 0; r < 100; r++) CHECK(!sp_vec_is_null(&b->cols[1], r));
    CHECK_EQ_INT(sp_batch_count(b), 0);
    REQUIRE_OK(sp_batch_reset(b, NULL));
    CHECK_EQ_INT(b->ncols, 0);
    sp_batch_free(b);
    sp_batch_free(NULL);
    spate_schema_free(a);
    spate_schema_free(b3);
}

static void test_batch_selection_compact(void)
{
    spate_schema *s = schema_of("i BIGINT, s STRING");
    sp_batch *b = sp_batch_new(16);
    REQUIRE_OK(s && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(b, s));
    const char *names[] = {"zero", "one", "two", "three", "four", "five", "six", "seven"};
    for (int i = 0; i < 8; i++) put_row(b, i * 10, i % 4 == 2 ? NULL : names[i]);
    b->has_hashes = 1;
    for (uint32_t r = 0; r < 8; r++) b->hashes[r] = 1000 + r;
    b->has_sel = 1;
    b->nsel = 0;
    for (uint32_t r = 1; r < 8; r += 2) b->sel[b->nsel++] = r;
    b->sel[1] = 2; /* live rows 1, 2, 5, 7 */
    CHECK_EQ_INT(sp_batch_count(b), 4);
    CHECK_EQ_INT(sp_batch_phys(b, 1), 2);
    sp_batch_compact(b);
    CHECK(!b->has_sel && b->n == 4);
    static const int64_t want[] = {10, 20, 50, 70};
    for (uint32_t r = 0; r < 4; r++) {
        CHECK_EQ_INT(sp_vec_get_int(&b->cols[0], r), want[r]);
        CHECK_EQ_INT(b->hashes[r], 1000 + want[r] / 10);
    }
    CHECK(row_str_is(b, 0, 1, "one"));
    CHECK(sp_vec_is_null(&b->cols[1], 1));
    CHECK(row_str_is(b, 2, 1, "five"));
    CHECK(row_str_is(b, 3, 1, "seven"));
    sp_batch_compact(b);
    CHECK_EQ_INT(b->n, 4);
    sp_batch_free(b);
    spate_schema_free(s);
}

static void test_batch_append_clone(void)
{
    spate_schema *s = schema_of("i INT, s STRING");
    sp_batch *src = sp_batch_new(8), *dst = sp_batch_new(8);
    REQUIRE_OK(s && src && dst ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(src, s));
    REQUIRE_OK(sp_batch_reset(dst, s));
    put_row(src, 1, "a");
    put_row(src, 2, NULL);
    put_row(src, 3, "ccc");
    src->has_hashes = 1;
    src->hashes[2] = 77;
    put_row(dst, 9, NULL);
    REQUIRE_OK(sp_batch_append_row(dst, src, 2));
    REQUIRE_OK(sp_batch_append_row(dst, src, 1));
    CHECK_EQ_INT(dst->n, 3);
    CHECK(row_str_is(dst, 1, 1, "ccc"));
    CHECK(SP_STR(&dst->cols[1])[1].ptr != SP_STR(&src->cols[1])[2].ptr);
    CHECK_EQ_INT(dst->hashes[1], 77);
    CHECK(sp_vec_is_null(&dst->cols[1], 2));
    CHECK_EQ_INT(sp_vec_get_int(&dst->cols[0], 2), 2);

    src->has_sel = 1;
    src->nsel = 2;
    src->sel[0] = 0;
    src->sel[1] = 2;
    src->time_ms = 1234;
    sp_batch *c = sp_batch_clone(src);
    REQUIRE_OK(c ? 0 : SPATE_ENOMEM);
    sp_batch_free(src);
    CHECK(c->n == 2 && !c->has_sel && c->time_ms == 1234 && c->has_hashes);
    CHECK(row_str_is(c, 0, 1, "a"));
    CHECK(row_str_is(c, 1, 1, "ccc"));
    CHECK_EQ_INT(c->hashes[1], 77);
    sp_batch_free(c);
    sp_batch_free(dst);
    spate_schema_free(s);
}

static void test_pool(void)
{
    spate_schema *s = schema_of("a BIGINT"), *t = schema_of("a STRING, b DOUBLE");
    REQUIRE_OK(s && t ? 0 : SPATE_ENOMEM);
    sp_pool p;
    sp_pool_init(&p, 32, 2);
    sp_batch *b1 = sp_pool_get(&p, s), *b2 = sp_pool_get(&p, s), *b3 = sp_pool_get(&p, s);
    REQUIRE_OK(b1 && b2 && b3 ? 0 : SPATE_ENOMEM);
    CHECK(b1->cap == 32 && b1->schema == s);
    b1->n = 5;
    sp_pool_put(&p, b1);
    sp_pool_put(&p, b2);
    sp_pool_put(&p, b3); /* over max: freed */
    CHECK_EQ_INT(p.count, 2);
    sp_batch *again = sp_pool_get(&p, t);
    CHECK(again == b2 || again == b1);
    CHECK(again->n == 0 && again->ncols == 2 && again->schema == t);
    sp_batch *other = sp_batch_new(8);
    sp_pool_put(&p, other); /* wrong capacity: freed */
    CHECK_EQ_INT(p.count, 1);
    sp_pool_put(&p, again);
    sp_pool_put(&p, NULL);
    sp_pool_destroy(&p);
    CHECK(p.count == 0 && p.free == NULL);
    spate_schema_free(s);
    spate_schema_free(t);
}

/* ---------------------------------------------------------------- opts */

static const sp_opt_def test_defs[] = {
    {"path", SP_OPT_STRING, NULL, "directory to read"},
    {"rate", SP_OPT_INT, "10", "rows per second"},
    {"loop", SP_OPT_BOOL, "false", "start over at the end"},
    {"poll", SP_OPT_DURATION, "1s", "poll interval"},
    {NULL, SP_OPT_STRING, NULL, NULL},
};
static const sp_opt_def extra_defs[] = {
    {"format", SP_OPT_STRING, "csv", "format"},
    {NULL, SP_OPT_STRING, NULL, NULL},
};

static void test_opts(void)
{
    sp_opts o;
    const char *const kv[] = {"path", "/in", "rate", "-5", "loop", "true", "poll", "250ms", NULL};
    REQUIRE_OK(sp_opts_parse(&o, "source 'files'", test_defs, extra_defs, kv));
    CHECK_EQ_STR(sp_opts_str(&o, "path"), "/in");
    CHECK_EQ_INT(sp_opts_int(&o, "rate"), -5);
    CHECK_EQ_INT(sp_opts_bool(&o, "loop"), 1);
    CHECK_EQ_INT(sp_opts_duration_ms(&o, "poll"), 250);
    CHECK_EQ_STR(sp_opts_str(&o, "format"), "csv");
    CHECK(sp_opts_str(&o, "nothing") == NULL);
    sp_opts_free(&o);
    const char *const only_path[] = {"path", "x", NULL};
    REQUIRE_OK(sp_opts_parse(&o, "w", test_defs, NULL, only_path));
    CHECK_EQ_INT(sp_opts_int(&o, "rate"), 10);
    CHECK_EQ_INT(sp_opts_bool(&o, "loop"), 0);
    CHECK_EQ_INT(sp_opts_duration_ms(&o, "poll"), 1000);
    sp_opts_free(&o);
}

static void test_opts_errors(void)
{
    static const struct {
        const char *const kv[5];
        const char *msg;
    } cases[] = {
        {{"path", "x", "colour", "red", NULL},
         "source 'files': unknown option 'colour' (valid options: path, rate, loop, poll, "
         "format)"},
        {{"rate", "1", NULL}, "source 'files': missing required option 'path' (directory to read)"},
        {{"path", "x", "rate", "ten", NULL}, "option 'rate' must be an integer, not 'ten'"},
        {{"path", "x", "rate", "", NULL}, "must be an integer, not ''"},
        {{"path", "x", "rate", "99999999999999999999", NULL}, "must be an integer"},
        {{"path", "x", "loop", "yes", NULL}, "option 'loop' must be true or false, not 'yes'"},
        {{"path", "x", "poll", "soon", NULL}, "option 'poll' must be a duration"},
        {{"path", "x", "poll", "5d", NULL}, "not '5d'"},
        {{"path", NULL}, "option 'path' has no value"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sp_opts o;
        CHECK_EQ_INT(sp_opts_parse(&o, "source 'files'", test_defs, extra_defs, cases[k].kv),
                     SPATE_EINVAL);
        if (!strstr(spate_last_error(), cases[k].msg))
            fprintf(stderr, "  case %zu: %s\n", k, spate_last_error());
        CHECK(strstr(spate_last_error(), cases[k].msg) != NULL);
    }
}

static void test_parse_duration(void)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"0", 0}, {"250", 250}, {"250ms", 250}, {"10s", 10000}, {"1.5s", 1500},
              {"5m", 300000}, {"2min", 120000}, {"1h", 3600000}};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        int64_t ms = -1;
        CHECK(sp_parse_duration_ms(ok[k].s, &ms) == 0 && ms == ok[k].ms);
    }
    static const char *const bad[] = {"", "-5s", "s", "10 s", "1x", "nan", "inf", "1e30h",
                                      "-nan"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t ms;
        if (sp_parse_duration_ms(bad[k], &ms) == 0) fprintf(stderr, "  accepted '%s'\n", bad[k]);
        CHECK_EQ_INT(sp_parse_duration_ms(bad[k], &ms), SPATE_EINVAL);
    }
    int64_t us = -1;
    CHECK(sp_parse_duration_us("10us", &us) == 0 && us == 10);
    CHECK(sp_parse_duration_us("1.5ms", &us) == 0 && us == 1500);
    CHECK(sp_parse_duration_us("2s", &us) == 0 && us == 2000000);
    CHECK(sp_parse_duration_us("7", &us) == 0 && us == 7000); /* bare numbers are ms */
    int64_t ms = -1;
    CHECK(sp_parse_duration_ms("1500us", &ms) == 0 && ms == 1);
}

/* ------------------------------------------------------- buf and errors */

static void test_buf(void)
{
    sp_buf b = {0};
    REQUIRE_OK(sp_buf_put(&b, "", 0));
    CHECK(b.p && b.len == 0 && b.p[0] == 0);
    REQUIRE_OK(sp_buf_put_json_escaped(&b, "a\"b\\c\nd\re\tf\x01g\x1f/\xC3\xA9", 17));
    CHECK_EQ_STR(b.p, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f/\xC3\xA9");
    b.len = 0;
    for (int i = 0; i < 1000; i++) REQUIRE_OK(sp_buf_printf(&b, "%d,", i));
    CHECK(b.len > 2000 && strncmp(b.p, "0,1,2,", 6) == 0 && b.p[b.len] == 0);
    REQUIRE_OK(sp_buf_putc(&b, 'Z'));
    CHECK_EQ_INT(b.p[b.len - 1], 'Z');
    sp_buf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
}

static void test_errors(void)
{
    CHECK_EQ_INT(sp_err(SPATE_ENOTFOUND, "no column '%s'", "x"), SPATE_ENOTFOUND);
    CHECK_EQ_STR(spate_last_error(), "no column 'x'");
    CHECK_EQ_STR(spate_strerror(SPATE_EPARSE), "malformed input");
    CHECK_EQ_STR(spate_strerror(SPATE_OK), "ok");
    CHECK_EQ_STR(spate_strerror(-99), "unknown error");
    CHECK_EQ_STR(spate_version(), SPATE_VERSION);
    sp_bad_policy pol;
    CHECK(sp_bad_policy_parse("fail", &pol) == 0 && pol == SP_BAD_FAIL);
    CHECK(sp_bad_policy_parse("dead-letter", &pol) == 0 && pol == SP_BAD_DEADLETTER);
    CHECK_EQ_INT(sp_bad_policy_parse("drop", &pol), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "skip, dead-letter or fail, not 'drop'") != NULL);
    sp_log_level l;
    CHECK(sp_log_parse_level("debug", &l) == 0 && l == SP_LOG_DEBUG);
    CHECK_EQ_INT(sp_log_parse_level("loud", &l), SPATE_EINVAL);
    sp_deadletter d;
    CHECK_EQ_INT(sp_deadletter_open(&d, SP_BAD_DEADLETTER, "/nonexistent-dir/x/dl.jsonl"),
                 SPATE_EIO);
    CHECK(strstr(spate_last_error(), "/nonexistent-dir/x/dl.jsonl") != NULL);
    sp_deadletter_close(&d);
}

/* ---------------------------------------------------------- rows, out */

static spate_schema *all_types(void)
{
    return schema_of("b BOOL, i INT, l BIGINT, d DOUBLE, s STRING, y BYTES, t TIMESTAMP");
}

static void test_row_getters(void)
{
    spate_schema *s = all_types();
    sp_batch *b = sp_batch_new(4);
    REQUIRE_OK(s && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(b, s));
    sp_batch_add_null_row(b);
    uint32_t r = sp_batch_add_null_row(b);
    for (int c = 0; c < 7; c++) sp_vec_clear_null(&b->cols[c], r);
    SP_BOOL(&b->cols[0])[r] = 1;
    SP_I32(&b->cols[1])[r] = -7;
    SP_I64(&b->cols[2])[r] = INT64_MAX;
    SP_F64(&b->cols[3])[r] = 2.75;
    SP_STR(&b->cols[4])[r] = (spate_str){"str", 3};
    SP_STR(&b->cols[5])[r] = (spate_str){"\0b", 2};
    SP_I64(&b->cols[6])[r] = -5;
    spate_row row;
    sp_row_set(&row, b, r, 0, 7);
    CHECK_EQ_INT(spate_row_ncols(&row), 7);
    CHECK_EQ_INT(spate_row_int(&row, 0), 1);
    CHECK_EQ_INT(spate_row_int(&row, 1), -7);
    CHECK(spate_row_int(&row, 2) == INT64_MAX);
    CHECK_EQ_INT(spate_row_int(&row, 3), 2);
    CHECK(spate_row_double(&row, 3) == 2.75 && spate_row_double(&row, 1) == -7.0);
    CHECK(spate_row_str(&row, 4).len == 3 && memcmp(spate_row_str(&row, 4).ptr, "str", 3) == 0);
    CHECK(spate_row_str(&row, 5).len == 2);
    CHECK_EQ_INT(spate_row_int(&row, 6), -5);
    CHECK_EQ_INT(spate_row_int(&row, 4), 0);
    CHECK_EQ_INT(spate_row_str(&row, 1).len, 0);
    CHECK(spate_row_is_null(&row, 7) && spate_row_int(&row, -1) == 0);
    sp_row_set(&row, b, 0, 0, 7);
    for (int c = 0; c < 7; c++) {
        CHECK(spate_row_is_null(&row, c));
        CHECK_EQ_INT(spate_row_int(&row, c), 0);
        CHECK(spate_row_double(&row, c) == 0);
        CHECK(spate_row_str(&row, c).len == 0 && spate_row_str(&row, c).ptr != NULL);
    }
    /* Keyed rows: the value view starts after the key columns. */
    sp_row_set(&row, b, r, 2, 2);
    CHECK(spate_row_int(&row, 0) == INT64_MAX && spate_row_double(&row, 1) == 2.75);
    CHECK(spate_row_is_null(&row, 2));
    CHECK_EQ_INT(spate_row_ncols(NULL), 0);
    sp_batch_free(b);
    spate_schema_free(s);
}

typedef struct flushed {
    sp_batch *full[8];
    int n;
    spate_schema *schema;
} flushed;

static int flush_to_list(spate_out *o, void *arg)
{
    flushed *f = arg;
    if (f->n == 8) return SPATE_ENOMEM;
    f->full[f->n++] = o->b;
    sp_batch *nb = sp_batch_new(o->b->cap);
    if (!nb || sp_batch_reset(nb, f->schema)) return SPATE_ENOMEM;
    o->b = nb;
    return 0;
}

static void test_out_setters(void)
{
    flushed fl = {.schema = all_types()};
    sp_batch *b = sp_batch_new(4);
    REQUIRE_OK(fl.schema && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(b, fl.schema));
    spate_out o;
    sp_out_init(&o, b, 0, 7, flush_to_list, &fl);
    REQUIRE_OK(sp_out_begin(&o));
    REQUIRE_OK(spate_out_set_int(&o, 0, 5));
    REQUIRE_OK(spate_out_set_int(&o, 1, -3));
    REQUIRE_OK(spate_out_set_int(&o, 2, 1LL << 40));
    REQUIRE_OK(spate_out_set_int(&o, 3, 7)); /* ints convert into DOUBLE */
    char tmp[] = "copied";
    REQUIRE_OK(spate_out_set_str(&o, 4, tmp, 6));
    tmp[0] = 'X';
    REQUIRE_OK(spate_out_set_str(&o, 5, NULL, 0));
    REQUIRE_OK(spate_out_set_int(&o, 6, 99));
    REQUIRE_OK(spate_out_set_null(&o, 6));
    REQUIRE_OK(spate_out_emit(&o));
    REQUIRE_OK(spate_out_set_double(&o, 3, 0.5));
    REQUIRE_OK(sp_out_commit(&o));
    CHECK_EQ_INT(b->n, 2);
    spate_row row;
    sp_row_set(&row, b, 0, 0, 7);
    CHECK_EQ_INT(spate_row_int(&row, 0), 1);
    CHECK_EQ_INT(spate_row_int(&row, 1), -3);
    CHECK_EQ_INT(spate_row_int(&row, 2), 1LL << 40);
    CHECK(spate_row_double(&row, 3) == 7.0);
    CHECK(spate_row_str(&row, 4).len == 6 && memcmp(spate_row_str(&row, 4).ptr, "copied", 6) == 0);
    CHECK(!spate_row_is_null(&row, 5) && spate_row_str(&row, 5).len == 0);
    CHECK(spate_row_is_null(&row, 6));
    sp_row_set(&row, b, 1, 0, 7);
    CHECK(spate_row_double(&row, 3) == 0.5 && spate_row_is_null(&row, 0));
    CHECK_EQ_INT(fl.n, 0);
    sp_batch_free(b);
    spate_schema_free(fl.schema);
}

static void test_out_type_mismatch(void)
{
    spate_schema *s = all_types();
    sp_batch *b = sp_batch_new(4);
    REQUIRE_OK(s && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(b, s));
    spate_out o;
    sp_out_init(&o, b, 0, 7, NULL, NULL);
    REQUIRE_OK(sp_out_begin(&o));
    CHECK_EQ_INT(spate_out_set_str(&o, 1, "x", 1), SPATE_ETYPE);
    CHECK_EQ_INT(o.err, SPATE_ETYPE);
    CHECK_EQ_STR(spate_last_error(), "output column 'i' is INT");
    /* The first error sticks: later calls fail with it, even valid ones. */
    CHECK_EQ_INT(spate_out_set_int(&o, 1, 1), SPATE_ETYPE);
    CHECK_EQ_INT(sp_out_commit(&o), SPATE_ETYPE);
    CHECK_EQ_INT(b->n, 0);
    sp_out_init(&o, b, 0, 7, NULL, NULL);
    sp_out_begin(&o);
    CHECK_EQ_INT(spate_out_set_double(&o, 2, 1.5), SPATE_ETYPE);
    CHECK_EQ_STR(spate_last_error(), "output column 'l' is BIGINT");
    sp_out_init(&o, b, 0, 7, NULL, NULL);
    sp_out_begin(&o);
    CHECK_EQ_INT(spate_out_set_int(&o, 4, 1), SPATE_ETYPE);
    sp_out_init(&o, b, 0, 7, NULL, NULL);
    sp_out_begin(&o);
    CHECK_EQ_INT(spate_out_set_int(&o, 7, 1), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "out of range (7 columns)") != NULL);
    CHECK_EQ_INT(spate_out_set_null(&o, -1), SPATE_EINVAL);
    sp_batch_free(b);
    spate_schema_free(s);
}

static void test_out_emit_flush_keys(void)
{
    flushed fl = {.schema = schema_of("k BIGINT, v STRING")};
    sp_batch *keys = sp_batch_new(2), *b = sp_batch_new(3);
    REQUIRE_OK(fl.schema && keys && b ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(keys, fl.schema));
    REQUIRE_OK(sp_batch_reset(b, fl.schema));
    put_row(keys, 42, "unused");
    spate_out o;
    sp_out_init(&o, b, 1, 1, flush_to_list, &fl);
    o.key_src = keys;
    o.key_row = 0;
    o.nkeys = 1;
    REQUIRE_OK(sp_out_begin(&o));
    for (int i = 0; i < 7; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        REQUIRE_OK(spate_out_set_str(&o, 0, v, strlen(v)));
        REQUIRE_OK(spate_out_emit(&o));
    }
    CHECK_EQ_INT(fl.n, 2);
    CHECK_EQ_INT(o.b->n, 1);
    int seen = 0;
    for (int f = 0; f <= fl.n; f++) {
        sp_batch *x = f < fl.n ? fl.full[f] : o.b;
        for (uint32_t r = 0; r < x->n; r++, seen++) {
            char v[16];
            snprintf(v, sizeof v, "v%d", seen);
            CHECK_EQ_INT(sp_vec_get_int(&x->cols[0], r), 42);
            CHECK(row_str_is(x, r, 1, v));
        }
    }
    CHECK_EQ_INT(seen, 7);
    for (int f = 0; f < fl.n; f++) sp_batch_free(fl.full[f]);
    sp_batch_free(o.b);
    sp_batch_free(keys);
    spate_schema_free(fl.schema);
}

static void test_out_set_from(void)
{
    spate_schema *s = schema_of("i INT, s STRING");
    sp_batch *src = sp_batch_new(4), *dst = sp_batch_new(4);
    REQUIRE_OK(s && src && dst ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(src, s));
    REQUIRE_OK(sp_batch_reset(dst, s));
    put_row(src, 7, NULL);
    put_row(src, 8, "from");
    spate_row r0, r1;
    sp_row_set(&r0, src, 0, 0, 2);
    sp_row_set(&r1, src, 1, 0, 2);
    spate_out o;
    sp_out_init(&o, dst, 0, 2, NULL, NULL);
    REQUIRE_OK(sp_out_begin(&o));
    REQUIRE_OK(spate_out_set_from(&o, 0, &r1, 0));
    REQUIRE_OK(spate_out_set_from(&o, 1, &r1, 1));
    REQUIRE_OK(sp_out_commit(&o));
    REQUIRE_OK(sp_out_begin(&o));
    REQUIRE_OK(spate_out_set_str(&o, 1, "tmp", 3));
    REQUIRE_OK(spate_out_set_from(&o, 1, &r0, 1)); /* copying a NULL makes the column NULL */
    REQUIRE_OK(sp_out_commit(&o));
    CHECK(row_str_is(dst, 0, 1, "from") && sp_vec_get_int(&dst->cols[0], 0) == 8);
    CHECK(SP_STR(&dst->cols[1])[0].ptr != SP_STR(&src->cols[1])[1].ptr);
    CHECK(sp_vec_is_null(&dst->cols[1], 1));
    sp_out_init(&o, dst, 0, 2, NULL, NULL);
    REQUIRE_OK(sp_out_begin(&o));
    CHECK_EQ_INT(spate_out_set_from(&o, 0, &r1, 1), SPATE_ETYPE);
    CHECK(strstr(spate_last_error(), "column 'i' is INT, source is STRING") != NULL);
    CHECK_EQ_INT(spate_out_set_from(&o, 0, &r1, 5), SPATE_EINVAL);
    sp_batch_free(src);
    sp_batch_free(dst);
    spate_schema_free(s);
}

static void test_rows_get(void)
{
    spate_schema *s = schema_of("i INT, s STRING");
    sp_batch *b[3] = {sp_batch_new(8), sp_batch_new(8), sp_batch_new(8)};
    REQUIRE_OK(s && b[0] && b[1] && b[2] ? 0 : SPATE_ENOMEM);
    for (int k = 0; k < 3; k++) REQUIRE_OK(sp_batch_reset(b[k], s));
    for (int i = 0; i < 3; i++) put_row(b[0], i, NULL);
    for (int i = 3; i < 8; i++) put_row(b[2], i, NULL);
    b[2]->has_sel = 1;
    b[2]->nsel = 2;
    b[2]->sel[0] = 1; /* value 4 */
    b[2]->sel[1] = 4; /* value 7 */
    spate_rows rs;
    sp_rows_init(&rs, s, 5000);
    for (int round = 0; round < 4; round++)
        for (int k = 0; k < 3; k++) REQUIRE_OK(sp_rows_add(&rs, b[k]));
    CHECK_EQ_INT(spate_rows_count(&rs), 20);
    CHECK(spate_rows_schema(&rs) == s && spate_rows_time(&rs) == 5000);
    static const int64_t want[] = {0, 1, 2, 4, 7};
    for (size_t i = 0; i < 20; i++) {
        spate_row row;
        REQUIRE_OK(spate_rows_get(&rs, i, &row));
        CHECK_EQ_INT(spate_row_int(&row, 0), want[i % 5]);
        CHECK_EQ_INT(spate_row_ncols(&row), 2);
    }
    spate_row row;
    CHECK_EQ_INT(spate_rows_get(&rs, 20, &row), SPATE_EINVAL);
    CHECK_EQ_INT(spate_rows_count(NULL), 0);
    sp_rows_clear(&rs);
    CHECK_EQ_INT(spate_rows_count(&rs), 0);
    for (int k = 0; k < 3; k++) sp_batch_free(b[k]);
    spate_schema_free(s);
}

const sp_test tests_core[] = {
    {"core/arena", test_arena},
    {"core/schema_parse_good", test_schema_parse_good},
    {"core/schema_parse_bad", test_schema_parse_bad},
    {"core/schema_add", test_schema_add},
    {"core/batch_reset_reuse", test_batch_reset_reuse},
    {"core/batch_selection_compact", test_batch_selection_compact},
    {"core/batch_append_clone", test_batch_append_clone},
    {"core/pool", test_pool},
    {"core/opts", test_opts},
    {"core/opts_errors", test_opts_errors},
    {"core/parse_duration", test_parse_duration},
    {"core/buf", test_buf},
    {"core/errors", test_errors},
    {"core/row_getters", test_row_getters},
    {"core/out_setters", test_out_setters},
    {"core/out_type_mismatch", test_out_type_mismatch},
    {"core/out_emit_flush_keys", test_out_emit_flush_keys},
    {"core/out_set_from", test_out_set_from},
    {"core/rows_get", test_rows_get},
    {NULL, NULL},
};
