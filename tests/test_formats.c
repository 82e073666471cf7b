/*
 * test_formats.c - csv, jsonl and text: record splitting, parsing into batches,
 * dead-letter reporting, writers (checked by writing then parsing back), ISO-8601
 * timestamps, and a deterministic fuzz run over every format.
 *
 * Each test builds a fixture (schema, format, parser, batch, dead-letter output)
 * through the same option path a connector uses, and feeds records copied into the
 * batch arena, since string fields may point into the record.
 */
#include "test.h"

#include "core/error.h"
#include "formats/format.h"

#include <math.h>
#include <unistd.h>

typedef struct fx {
    spate_schema *schema;
    sp_format f;
    sp_parser *p;
    sp_batch *b;
    sp_deadletter dl;
    int dl_open;
} fx;

static int fx_open_dl(fx *x, const char *decl, const char *const *kv, sp_bad_policy pol,
                      const char *dl_path)
{
    memset(x, 0, sizeof *x);
    int rc = sp_deadletter_open(&x->dl, pol, dl_path);
    if (rc) return rc;
    x->dl_open = 1;
    if ((rc = spate_schema_parse(decl, &x->schema))) return rc;
    sp_opts o;
    if ((rc = sp_opts_parse(&o, "test", sp_format_opt_defs, NULL, kv))) return rc;
    rc = sp_format_from_opts(&x->f, &o, x->schema);
    sp_opts_free(&o);
    if (rc || (rc = sp_parser_new(&x->f, &x->p))) return rc;
    x->b = sp_batch_new(64);
    if (!x->b) return SPATE_ENOMEM;
    return sp_batch_reset(x->b, x->schema);
}

static int fx_open(fx *x, const char *decl, const char *const *kv)
{
    return fx_open_dl(x, decl, kv, SP_BAD_SKIP, NULL);
}

static void fx_close(fx *x)
{
    sp_parser_free(x->p);
    sp_batch_free(x->b);
    spate_schema_free(x->schema);
    if (x->dl_open) sp_deadletter_close(&x->dl);
}

static int feed_n(fx *x, const char *rec, size_t len)
{
    if (x->b->n == x->b->cap) sp_batch_reset(x->b, x->schema);
    char *copy = sp_arena_dup(&x->b->arena, rec, len);
    return sp_parser_parse(x->p, x->b, copy, len, &x->dl, "test", "line 1");
}

static int feed(fx *x, const char *rec)
{
    return feed_n(x, rec, strlen(rec));
}

static uint64_t bad_count(fx *x)
{
    return atomic_load(&x->dl.count);
}

static int is_null(const sp_batch *b, uint32_t r, int c)
{
    return sp_vec_is_null(&b->cols[c], r);
}

static int64_t cell_int(const sp_batch *b, uint32_t r, int c)
{
    return sp_vec_get_int(&b->cols[c], r);
}

static int str_is(const sp_batch *b, uint32_t r, int c, const char *want)
{
    spate_str s = SP_STR(&b->cols[c])[r];
    return !is_null(b, r, c) && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* The reason of the last bad record, as policy fail puts it in spate_last_error(). */
static int fail_reason_has(const char *want)
{
    return strstr(spate_last_error(), want) != NULL;
}

static const char *const CSV[] = {"format", "csv", NULL};
static const char *const CSV_HDR[] = {"format", "csv", "header", "true", NULL};
static const char *const JSONL[] = {"format", "jsonl", NULL};
static const char *const TEXT[] = {"format", "text", NULL};

/* ------------------------------------------------------------------ csv */

static void test_csv_basic_types(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "b BOOL, i INT, l BIGINT, d DOUBLE, s STRING, t TIMESTAMP", CSV));
    CHECK_EQ_INT(feed(&x, "true,-42,9223372036854775807,2.5,hello,2024-05-01T12:00:00Z"), 1);
    CHECK_EQ_INT(feed(&x, "0, 7 ,-9223372036854775808,-1e3,x y,1714564800000"), 1);
    sp_batch *b = x.b;
    CHECK_EQ_INT(b->n, 2);
    CHECK_EQ_INT(cell_int(b, 0, 0), 1);
    CHECK_EQ_INT(cell_int(b, 0, 1), -42);
    CHECK(cell_int(b, 0, 2) == INT64_MAX);
    CHECK(SP_F64(&b->cols[3])[0] == 2.5);
    CHECK(str_is(b, 0, 4, "hello"));
    CHECK_EQ_INT(cell_int(b, 0, 5), 1714564800000000LL);
    CHECK_EQ_INT(cell_int(b, 1, 0), 0);
    CHECK_EQ_INT(cell_int(b, 1, 1), 7);
    CHECK(cell_int(b, 1, 2) == INT64_MIN);
    CHECK(SP_F64(&b->cols[3])[1] == -1000.0);
    CHECK(str_is(b, 1, 4, "x y"));
    CHECK_EQ_INT(cell_int(b, 1, 5), 1714564800000000LL);
    CHECK_EQ_INT(bad_count(&x), 0);
    fx_close(&x);
}

static void test_csv_quoting(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "a STRING, b STRING, c INT", CSV));
    CHECK_EQ_INT(feed(&x, "\"x,y\",\"say \"\"hi\"\"\",\"5\""), 1);
    CHECK_EQ_INT(feed(&x, "\"line1\nline2\",a\"b,3"), 1);
    CHECK_EQ_INT(feed(&x, "plain,\"\",\"\""), 1);
    sp_batch *b = x.b;
    CHECK(str_is(b, 0, 0, "x,y"));
    CHECK(str_is(b, 0, 1, "say \"hi\""));
    CHECK_EQ_INT(cell_int(b, 0, 2), 5);
    CHECK(str_is(b, 1, 0, "line1\nline2"));
    CHECK(str_is(b, 1, 1, "a\"b"));
    CHECK(str_is(b, 2, 0, "plain"));
    CHECK(str_is(b, 2, 1, ""));
    CHECK(is_null(b, 2, 2));
    fx_close(&x);
}

static void test_csv_zero_copy(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "a STRING, b STRING", CSV));
    const char *rec = "abc,\"d\"\"e\"";
    char *copy = sp_arena_dup(&x.b->arena, rec, strlen(rec));
    CHECK_EQ_INT(sp_parser_parse(x.p, x.b, copy, strlen(rec), &x.dl, "t", "1"), 1);
    spate_str a = SP_STR(&x.b->cols[0])[0], bb = SP_STR(&x.b->cols[1])[0];
    CHECK(a.ptr == copy);
    CHECK(bb.ptr < copy || bb.ptr >= copy + strlen(rec));
    CHECK(bb.len == 3 && memcmp(bb.ptr, "d\"e", 3) == 0);
    fx_close(&x);
}

static void test_csv_split_records(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "a STRING, b STRING", CSV));
    const char *buf = "a,\"x\ny\"\r\nb,c\r\nlast";
    size_t len = strlen(buf), rl = 0;
    size_t used = sp_format_next_record(&x.f, buf, len, 0, &rl);
    CHECK_EQ_INT(used, 9);
    CHECK_EQ_INT(rl, 7);
    size_t used2 = sp_format_next_record(&x.f, buf + used, len - used, 0, &rl);
    CHECK_EQ_INT(used2, 5);
    CHECK_EQ_INT(rl, 3);
    const char *rest = buf + used + used2;
    CHECK_EQ_INT(sp_format_next_record(&x.f, rest, strlen(rest), 0, &rl), 0);
    CHECK_EQ_INT(sp_format_next_record(&x.f, rest, strlen(rest), 1, &rl), 4);
    CHECK_EQ_INT(rl, 4);
    /* An open quote holds the record until more input or the end. */
    CHECK_EQ_INT(sp_format_next_record(&x.f, "a,\"b\nc", 6, 0, &rl), 0);
    CHECK_EQ_INT(sp_format_next_record(&x.f, "a,\"b\"", 5, 0, &rl), 0);
    CHECK_EQ_INT(sp_format_next_record(&x.f, "a,\"b\"\"\n\"\nz", 10, 0, &rl), 9);
    CHECK_EQ_INT(rl, 8);
    /* A quote inside an unquoted field is literal and opens nothing. */
    CHECK_EQ_INT(sp_format_next_record(&x.f, "ab\"c\nd", 6, 0, &rl), 5);
    CHECK_EQ_INT(sp_format_next_record(&x.f, "", 0, 1, &rl), 0);
    fx_close(&x);
}

static void test_csv_crlf(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "a STRING, b INT", CSV));
    CHECK_EQ_INT(feed(&x, "x,1\r\n"), 1);
    CHECK_EQ_INT(feed(&x, "\"q\r\nr\",2\r\n"), 1);
    CHECK(str_is(x.b, 0, 0, "x"));
    CHECK_EQ_INT(cell_int(x.b, 0, 1), 1);
    CHECK(str_is(x.b, 1, 0, "q\r\nr"));
    CHECK_EQ_INT(cell_int(x.b, 1, 1), 2);
    fx_close(&x);
}

static void test_csv_header_mapping(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "id INT, name STRING", CSV_HDR));
    CHECK_EQ_INT(feed(&x, "extra,name,\"id\""), 0);
    CHECK_EQ_INT(feed(&x, "zzz,bob,7"), 1);
    CHECK_EQ_INT(feed(&x, "1,2"), 0);
    CHECK_EQ_INT(bad_count(&x), 1);
    sp_parser_reset(x.p);
    CHECK_EQ_INT(feed(&x, "\xEF\xBB\xBFid,name"), 0);
    CHECK_EQ_INT(feed(&x, "8,ann"), 1);
    CHECK_EQ_INT(x.b->n, 2);
    CHECK_EQ_INT(cell_int(x.b, 0, 0), 7);
    CHECK(str_is(x.b, 0, 1, "bob"));
    CHECK_EQ_INT(cell_int(x.b, 1, 0), 8);
    CHECK(str_is(x.b, 1, 1, "ann"));
    fx_close(&x);
}

static void test_csv_header_missing_column(void)
{
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "id INT, name STRING, age INT", CSV_HDR, SP_BAD_FAIL, NULL));
    CHECK_EQ_INT(feed(&x, "name,id"), SPATE_EPARSE);
    CHECK(fail_reason_has("field 'age': column missing from header"));
    fx_close(&x);

    REQUIRE_OK(fx_open(&x, "id INT, name STRING, age INT", CSV_HDR));
    CHECK_EQ_INT(feed(&x, "name,id"), 0);
    CHECK_EQ_INT(bad_count(&x), 1);
    CHECK_EQ_INT(feed(&x, "al,1"), 1);
    CHECK_EQ_INT(feed(&x, "bo,2"), 1);
    CHECK_EQ_INT(bad_count(&x), 1);
    CHECK(is_null(x.b, 0, 2) && is_null(x.b, 1, 2));
    CHECK_EQ_INT(cell_int(x.b, 1, 0), 2);
    fx_close(&x);
}

static void test_csv_field_count(void)
{
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a INT, b INT, c INT", CSV, SP_BAD_FAIL, NULL));
    CHECK_EQ_INT(feed(&x, "1,2"), SPATE_EPARSE);
    CHECK(fail_reason_has("expected 3 fields, got 2"));
    CHECK_EQ_INT(feed(&x, "1,2,3,4"), SPATE_EPARSE);
    CHECK(fail_reason_has("expected 3 fields, got 4"));
    CHECK_EQ_INT(feed(&x, "1,2,"), 1);
    CHECK(is_null(x.b, 0, 2));
    CHECK_EQ_INT(x.b->n, 1);
    fx_close(&x);
}

static void test_csv_bad_values(void)
{
    static const struct {
        const char *rec, *reason;
    } cases[] = {
        {"abc,1,1,true,1.5,2024-01-01", "field 'i': not an integer: 'abc'"},
        {"1,2147483648,1,true,1.5,2024-01-01", "field 'i2': out of range for INT: '2147483648'"},
        {"-2147483649,1,1,true,1.5,2024-01-01", "out of range for INT: '-2147483649'"},
        {"1,1,9223372036854775808,true,1.5,2024-01-01",
         "field 'l': out of range for BIGINT: '9223372036854775808'"},
        {"1,1,1,yes,1.5,2024-01-01", "field 'b': not a boolean: 'yes'"},
        {"1,1,1,true,1.5x,2024-01-01", "field 'd': not a number: '1.5x'"},
        {"1,1,1,true,1e999,2024-01-01", "not a number: '1e999'"},
        {"1,1,1,true,1,2024-02-30", "field 't': not a timestamp: '2024-02-30'"},
        {"1,1,1,true,1,12:00", "not a timestamp: '12:00'"},
        {"1.5,1,1,true,1,1", "not an integer: '1.5'"},
        {"--1,1,1,true,1,1", "not an integer: '--1'"},
    };
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "i INT, i2 INT, l BIGINT, b BOOL, d DOUBLE, t TIMESTAMP", CSV,
                          SP_BAD_FAIL, NULL));
    CHECK_EQ_INT(feed(&x, "2147483647,-2147483648,1,TRUE,1,-1"), 1);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_EQ_INT(feed(&x, cases[k].rec), SPATE_EPARSE);
        if (!fail_reason_has(cases[k].reason))
            fprintf(stderr, "  case %zu: got \"%s\"\n", k, spate_last_error());
        CHECK(fail_reason_has(cases[k].reason));
    }
    CHECK_EQ_INT(x.b->n, 1);
    fx_close(&x);
}

static void test_csv_no_half_rows(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "s STRING, i INT, t STRING", CSV));
    CHECK_EQ_INT(feed(&x, "keep,1,"), 1);
    CHECK_EQ_INT(feed(&x, "half,bad,zzz"), 0);
    CHECK_EQ_INT(feed(&x, ",2,set"), 1);
    CHECK_EQ_INT(x.b->n, 2);
    CHECK(is_null(x.b, 1, 0));
    CHECK_EQ_INT(cell_int(x.b, 1, 1), 2);
    CHECK(str_is(x.b, 1, 2, "set"));
    CHECK(is_null(x.b, 0, 2));
    CHECK_EQ_INT(bad_count(&x), 1);
    fx_close(&x);
}

static void test_csv_malformed_quotes(void)
{
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a STRING, b STRING", CSV, SP_BAD_FAIL, NULL));
    CHECK_EQ_INT(feed(&x, "\"abc,d"), SPATE_EPARSE);
    CHECK(fail_reason_has("unterminated quoted field at byte 0"));
    CHECK_EQ_INT(feed(&x, "\"ab\"c,d"), SPATE_EPARSE);
    CHECK(fail_reason_has("unexpected character after closing quote at byte 4"));
    CHECK_EQ_INT(x.b->n, 0);
    fx_close(&x);
}

static void test_csv_nulls_and_delimiter(void)
{
    static const char *const tsv[] = {"format", "csv", "delimiter", "\\t", NULL};
    fx x;
    REQUIRE_OK(fx_open(&x, "a INT, b STRING, c DOUBLE, d BOOL, e TIMESTAMP", tsv));
    CHECK_EQ_INT(feed(&x, "\t\t\t\t"), 1);
    CHECK_EQ_INT(feed(&x, "1\ta,b\t \t\"\"\t"), 1);
    for (int c = 0; c < 5; c++) CHECK(is_null(x.b, 0, c));
    CHECK_EQ_INT(cell_int(x.b, 1, 0), 1);
    CHECK(str_is(x.b, 1, 1, "a,b"));
    CHECK(is_null(x.b, 1, 2) && is_null(x.b, 1, 3) && is_null(x.b, 1, 4));
    fx_close(&x);
}

/* ---------------------------------------------------------------- jsonl */

static void test_jsonl_flat(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "id BIGINT, name STRING, ok BOOL, v DOUBLE, t TIMESTAMP", JSONL));
    CHECK_EQ_INT(feed(&x, " {\"v\": 1.5e2, \"name\":\"ann\", \"id\":-3, \"ok\":true, "
                          "\"t\":\"2024-05-01T12:00:00Z\", \"other\":[1,{\"x\":null}]} "),
                 1);
    CHECK_EQ_INT(feed(&x, "{\"t\":1714564800000,\"ok\":false,\"id\":\"42\"}"), 1);
    CHECK_EQ_INT(cell_int(x.b, 0, 0), -3);
    CHECK(str_is(x.b, 0, 1, "ann"));
    CHECK_EQ_INT(cell_int(x.b, 0, 2), 1);
    CHECK(SP_F64(&x.b->cols[3])[0] == 150.0);
    CHECK_EQ_INT(cell_int(x.b, 0, 4), 1714564800000000LL);
    CHECK_EQ_INT(cell_int(x.b, 1, 0), 42);
    CHECK(is_null(x.b, 1, 1) && is_null(x.b, 1, 3));
    CHECK_EQ_INT(cell_int(x.b, 1, 2), 0);
    CHECK_EQ_INT(cell_int(x.b, 1, 4), 1714564800000000LL);
    fx_close(&x);
}

static void test_jsonl_nested_paths(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "device.id INT, device.loc.city STRING, device STRING, n INT",
                       JSONL));
    CHECK_EQ_INT(feed(&x, "{\"device\":{\"id\":5,\"loc\":{\"city\":\"Oslo\",\"z\":1},"
                          "\"skip\":{\"deep\":[1,2]}},\"n\":1}"),
                 1);
    CHECK_EQ_INT(feed(&x, "{\"device\":\"plain\",\"n\":2}"), 1);
    CHECK_EQ_INT(feed(&x, "{\"device\":{\"loc\":null},\"n\":3}"), 1);
    CHECK_EQ_INT(cell_int(x.b, 0, 0), 5);
    CHECK(str_is(x.b, 0, 1, "Oslo"));
    CHECK(str_is(x.b, 0, 2, "{\"id\":5,\"loc\":{\"city\":\"Oslo\",\"z\":1},"
                            "\"skip\":{\"deep\":[1,2]}}"));
    CHECK(is_null(x.b, 1, 0) && is_null(x.b, 1, 1));
    CHECK(str_is(x.b, 1, 2, "plain"));
    CHECK(is_null(x.b, 2, 0) && is_null(x.b, 2, 1));
    CHECK(str_is(x.b, 2, 2, "{\"loc\":null}"));
    CHECK_EQ_INT(cell_int(x.b, 2, 3), 3);
    CHECK_EQ_INT(bad_count(&x), 0);
    fx_close(&x);
}

static void test_jsonl_escapes_unicode(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "s STRING, u STRING, e STRING", JSONL));
    CHECK_EQ_INT(feed(&x, "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\","
                          "\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\u20AC\","
                          "\"\\u0065\":\"lone \\ud800 x\"}"),
                 1);
    CHECK(str_is(x.b, 0, 0, "a\"b\\c/d\n\t\r\b\f"));
    CHECK(str_is(x.b, 0, 1, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC"));
    CHECK(str_is(x.b, 0, 2, "lone \xEF\xBF\xBD x"));
    fx_close(&x);
}

static void test_jsonl_type_leniency(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "s STRING, o STRING, i INT, b BOOL, d DOUBLE", JSONL));
    CHECK_EQ_INT(feed(&x, "{\"s\":12.5e1,\"o\":{\"a\": [1, \"}\"]},\"i\":\" 42 \",\"b\":1,"
                          "\"d\":\"-0.25\"}"),
                 1);
    CHECK(str_is(x.b, 0, 0, "12.5e1"));
    CHECK(str_is(x.b, 0, 1, "{\"a\": [1, \"}\"]}"));
    CHECK_EQ_INT(cell_int(x.b, 0, 2), 42);
    CHECK_EQ_INT(cell_int(x.b, 0, 3), 1);
    CHECK(SP_F64(&x.b->cols[4])[0] == -0.25);
    CHECK_EQ_INT(feed(&x, "{\"s\":true,\"i\":1,\"i\":null}"), 1);
    CHECK(str_is(x.b, 1, 0, "true"));
    CHECK(is_null(x.b, 1, 2));
    fx_close(&x);
}

static void test_jsonl_malformed(void)
{
    static const struct {
        const char *rec, *reason;
    } cases[] = {
        {"[1,2]", "not a JSON object at byte 0"},
        {"\"str\"", "not a JSON object"},
        {"{\"a\":1} x", "trailing characters after the object at byte 8"},
        {"{\"a\":1}{}", "trailing characters"},
        {"{\"a\":\"abc", "unterminated string starting at byte 5"},
        {"{\"a\":1", "expected ',' or '}' at byte 6"},
        {"{\"a\" 1}", "expected ':' at byte 5"},
        {"{a:1}", "expected a member name at byte 1"},
        {"{\"a\":01}", "expected ',' or '}'"},
        {"{\"a\":-}", "bad number"},
        {"{\"a\":1.}", "bad number"},
        {"{\"a\":tru}", "bad literal"},
        {"{\"a\":\"\\x\"}", "bad escape"},
        {"{\"a\":\"\\u12g4\"}", "bad \\u escape"},
        {"{\"a\":\"\\u12", "bad \\u escape"},
        {"{\"a\":\"x\ty\"}", "control character in string"},
        {"{\"a\":1,}", "expected a member name"},
        {"{\"z\":[1,]}", "unexpected character"},
        {"{\"z\":[1 2]}", "expected ',' or ']'"},
        {"{\"a\":", "unexpected end of record"},
        {"{\"a\":{\"b\":1}}", "field 'a': expected INT, got an object at byte 5"},
        {"{\"a\":\"x1\"}", "field 'a': not an integer: 'x1'"},
        {"{\"a\":1e2}", "not an integer: '1e2'"},
        {"{\"a\":\"\\", "unterminated escape"},
    };
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a INT", JSONL, SP_BAD_FAIL, NULL));
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_EQ_INT(feed(&x, cases[k].rec), SPATE_EPARSE);
        if (!fail_reason_has(cases[k].reason))
            fprintf(stderr, "  case %zu: got \"%s\"\n", k, spate_last_error());
        CHECK(fail_reason_has(cases[k].reason));
    }
    CHECK_EQ_INT(x.b->n, 0);
    fx_close(&x);
}

static void nest(char *buf, int levels, const char *open, const char *close)
{
    buf[0] = 0;
    strcat(buf, "{\"a\":1,\"z\":");
    for (int k = 1; k < levels; k++) strcat(buf, open);
    strcat(buf, "1");
    for (int k = 1; k < levels; k++) strcat(buf, close);
    strcat(buf, "}");
}

static void test_jsonl_depth_limit(void)
{
    char buf[1024];
    fx x;
    REQUIRE_OK(fx_open(&x, "a INT", JSONL));
    nest(buf, 64, "{\"k\":", "}");
    CHECK_EQ_INT(feed(&x, buf), 1);
    nest(buf, 64, "[", "]");
    CHECK_EQ_INT(feed(&x, buf), 1);
    nest(buf, 65, "[", "]");
    CHECK_EQ_INT(feed(&x, buf), 0);
    CHECK_EQ_INT(bad_count(&x), 1);
    size_t n = 1000000;
    char *deep = malloc(n);
    REQUIRE_OK(deep ? 0 : SPATE_ENOMEM);
    memset(deep, '[', n);
    memcpy(deep, "{\"z\":", 5);
    CHECK_EQ_INT(feed_n(&x, deep, n), 0);
    CHECK_EQ_INT(bad_count(&x), 2);
    free(deep);
    fx_close(&x);
}

/* ------------------------------------------------------------------ text */

static void test_text_lines(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "line STRING", TEXT));
    CHECK_EQ_INT(feed(&x, "hello, \"world\"\r\n"), 1);
    CHECK_EQ_INT(feed(&x, "\r\n"), 0);
    CHECK_EQ_INT(feed(&x, "\t{x"), 1);
    CHECK(str_is(x.b, 0, 0, "hello, \"world\""));
    CHECK(str_is(x.b, 1, 0, "\t{x"));
    size_t rl;
    CHECK_EQ_INT(sp_format_next_record(&x.f, "a\"b\nc", 5, 0, &rl), 4);
    CHECK_EQ_INT(rl, 3);
    fx_close(&x);
    CHECK_EQ_INT(fx_open(&x, "a INT", TEXT), SPATE_ETYPE);
    fx_close(&x);
}

static void test_blank_lines_skipped(void)
{
    const char *const *fmts[] = {CSV, JSONL, TEXT};
    const char *decls[] = {"a INT, b INT", "a INT", "l STRING"};
    for (int k = 0; k < 3; k++) {
        fx x;
        REQUIRE_OK(fx_open(&x, decls[k], fmts[k]));
        CHECK_EQ_INT(feed(&x, ""), 0);
        CHECK_EQ_INT(feed(&x, "\n"), 0);
        CHECK_EQ_INT(feed(&x, "\r\n"), 0);
        CHECK_EQ_INT(x.b->n, 0);
        CHECK_EQ_INT(bad_count(&x), 0);
        fx_close(&x);
    }
    fx x;
    REQUIRE_OK(fx_open(&x, "a INT", JSONL));
    CHECK_EQ_INT(feed(&x, " \t "), 0);
    CHECK_EQ_INT(bad_count(&x), 0);
    fx_close(&x);
}

/* --------------------------------------------------------------- writers */

static const char *const RT_DECL =
    "b BOOL, i INT, l BIGINT, d DOUBLE, s STRING, y BYTES, t TIMESTAMP";

/* Fills src with rows covering every type, NULLs and awkward strings. */
static void fill_roundtrip_rows(sp_batch *src)
{
    static const char *strs[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r\nlf",
                                 "", " padded ", "{\"json\":1}", "caf\xC3\xA9", "\\back"};
    static const double dbls[] = {0.1, -0.0, 3.0, 1e300, 5e-324, 123456789.123456789,
                                  -2.5, 1e20, 0.30000000000000004, 42};
    for (uint32_t r = 0; r < 12; r++) {
        sp_batch_add_null_row(src);
        if (r >= 10) continue;
        for (int c = 0; c < src->ncols; c++) {
            if ((r + (uint32_t)c) % 5 == 4) continue;
            sp_vec *v = &src->cols[c];
            sp_vec_clear_null(v, r);
            switch (v->type) {
            case SPATE_FLOAT64: SP_F64(v)[r] = dbls[r]; break;
            case SPATE_STRING:
            case SPATE_BYTES: SP_STR(v)[r] = (spate_str){strs[r], strlen(strs[r])}; break;
            case SPATE_TIMESTAMP: SP_I64(v)[r] = (int64_t)r * 987654321987LL - 3000000000000000LL;
                break;
            case SPATE_INT32: SP_I32(v)[r] = r % 2 ? INT32_MIN + (int32_t)r : INT32_MAX; break;
            case SPATE_INT64: SP_I64(v)[r] = r % 2 ? INT64_MIN : INT64_MAX - r; break;
            default: SP_BOOL(v)[r] = r % 2; break;
            }
        }
    }
}

static int cells_equal(const sp_batch *a, const sp_batch *b, uint32_t r, int c)
{
    const sp_vec *va = &a->cols[c], *vb = &b->cols[c];
    if (sp_vec_is_null(va, r) || sp_vec_is_null(vb, r))
        return sp_vec_is_null(va, r) == sp_vec_is_null(vb, r);
    if (va->type == SPATE_FLOAT64)
        return memcmp(&SP_F64(va)[r], &SP_F64(vb)[r], sizeof(double)) == 0;
    if (sp_type_is_str(va->type)) {
        spate_str x = SP_STR(va)[r], y = SP_STR(vb)[r];
        return x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
    }
    return sp_vec_get_int(va, r) == sp_vec_get_int(vb, r);
}

/* Writes src in the format of x, splits and parses the text back, compares. */
static void roundtrip(fx *x, const sp_batch *src)
{
    sp_buf out = {0};
    CHECK_EQ_INT(sp_format_write_header(&x->f, &out), 0);
    for (uint32_t r = 0; r < src->n; r++) CHECK_EQ_INT(sp_format_write_row(&x->f, src, r, &out), 0);
    char *text = sp_arena_dup(&x->b->arena, out.p, out.len);
    size_t off = 0, rl;
    for (size_t used; (used = sp_format_next_record(&x->f, text + off, out.len - off, 1, &rl));
         off += used)
        CHECK(sp_parser_parse(x->p, x->b, text + off, rl, &x->dl, "rt", "-") >= 0);
    CHECK_EQ_INT(off, out.len);
    CHECK_EQ_INT(x->b->n, src->n);
    CHECK_EQ_INT(bad_count(x), 0);
    for (uint32_t r = 0; r < src->n && r < x->b->n; r++)
        for (int c = 0; c < src->ncols; c++) {
            if (!cells_equal(src, x->b, r, c)) fprintf(stderr, "  row %u col %d differs\n", r, c);
            CHECK(cells_equal(src, x->b, r, c));
        }
    sp_buf_free(&out);
}

static void test_write_roundtrip(void)
{
    static const char *const csv_semi[] = {"format", "csv", "delimiter", ";", "header",
                                           "true", NULL};
    const char *const *fmts[] = {CSV, CSV_HDR, csv_semi, JSONL};
    for (int k = 0; k < 4; k++) {
        fx x;
        REQUIRE_OK(fx_open(&x, RT_DECL, fmts[k]));
        sp_batch *src = sp_batch_new(64);
        REQUIRE_OK(src ? sp_batch_reset(src, x.schema) : SPATE_ENOMEM);
        fill_roundtrip_rows(src);
        roundtrip(&x, src);
        sp_batch_free(src);
        fx_close(&x);
    }
    fx x;
    REQUIRE_OK(fx_open(&x, "line STRING", TEXT));
    sp_batch *src = sp_batch_new(8);
    REQUIRE_OK(src ? sp_batch_reset(src, x.schema) : SPATE_ENOMEM);
    const char *lines[] = {"a \"q\", b", "\\t{}", "x"};
    for (uint32_t r = 0; r < 3; r++) {
        sp_batch_add_null_row(src);
        sp_vec_clear_null(&src->cols[0], r);
        SP_STR(&src->cols[0])[r] = (spate_str){lines[r], strlen(lines[r])};
    }
    roundtrip(&x, src);
    sp_batch_free(src);
    fx_close(&x);
}

static void test_write_exact(void)
{
    fx x;
    REQUIRE_OK(fx_open(&x, "d.x DOUBLE, s STRING, t TIMESTAMP, b BOOL, n INT", JSONL));
    sp_batch *b = x.b;
    sp_batch_add_null_row(b);
    sp_vec_clear_null(&b->cols[0], 0);
    SP_F64(&b->cols[0])[0] = 3.0;
    sp_vec_clear_null(&b->cols[1], 0);
    SP_STR(&b->cols[1])[0] = (spate_str){"q\"\n\x01", 4};
    sp_vec_clear_null(&b->cols[2], 0);
    SP_I64(&b->cols[2])[0] = 1714564800123000LL;
    sp_vec_clear_null(&b->cols[3], 0);
    SP_BOOL(&b->cols[3])[0] = 1;
    sp_buf out = {0};
    CHECK_EQ_INT(sp_format_write_row(&x.f, b, 0, &out), 0);
    CHECK_EQ_STR(out.p, "{\"d.x\":3.0,\"s\":\"q\\\"\\n\\u0001\",\"t\":\"2024-05-01T12:00:00.123Z\","
                        "\"b\":true,\"n\":null}\n");
    static const struct {
        double d;
        const char *text;
    } dbl[] = {{0.1, "0.1"}, {-0.0, "-0.0"}, {1e20, "1e+20"}, {0.30000000000000004,
               "0.30000000000000004"}, {-2.5, "-2.5"}, {100, "100.0"}, {NAN, "null"},
               {INFINITY, "null"}};
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++) {
        out.len = 0;
        SP_F64(&b->cols[0])[0] = dbl[k].d;
        sp_format_write_row(&x.f, b, 0, &out);
        char want[64];
        snprintf(want, sizeof want, "{\"d.x\":%s,", dbl[k].text);
        CHECK(strncmp(out.p, want, strlen(want)) == 0);
    }
    sp_buf_free(&out);
    fx_close(&x);

    REQUIRE_OK(fx_open(&x, "a STRING, b DOUBLE, c STRING", CSV_HDR));
    sp_batch_add_null_row(x.b);
    sp_vec_clear_null(&x.b->cols[0], 0);
    SP_STR(&x.b->cols[0])[0] = (spate_str){"", 0};
    CHECK_EQ_INT(sp_format_write_header(&x.f, &out), 0);
    CHECK_EQ_INT(sp_format_write_row(&x.f, x.b, 0, &out), 0);
    CHECK_EQ_STR(out.p, "a,b,c\n\"\",,\n");
    sp_buf_free(&out);
    fx_close(&x);
}

/* ------------------------------------------------------------ timestamps */

static void test_ts_parse(void)
{
    static const struct {
        const char *s;
        int64_t us;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-05-01", 1714521600000000LL},
        {"2024-05-01T12:00:00Z", 1714564800000000LL},
        {"2024-05-01t12:00", 1714564800000000LL},
        {"2024-05-01 12:00:00.123", 1714564800123000LL},
        {"2024-05-01T12:00:00.123456789Z", 1714564800123456LL},
        {"2024-05-01T12:00:00,5z", 1714564800500000LL},
        {"2024-05-01T14:00:00+02:00", 1714564800000000LL},
        {"2024-05-01T07:30:00-0430", 1714564800000000LL},
        {"2024-05-01T13:00:00+01", 1714564800000000LL},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"1900-01-01T00:00:00Z", -2208988800000000LL},
        {"2000-02-29", 951782400000000LL},
        {"2024-02-29T00:00:00Z", 1709164800000000LL},
        {"9999-12-31T23:59:59.999999Z", 253402300799999999LL},
        {"0000-01-01", -62167219200000000LL},
        {"-0001-01-01", -62198755200000000LL},
        {"+10000-01-01", 253402300800000000LL},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        int64_t us = 12345;
        int rc = sp_ts_parse(ok[k].s, strlen(ok[k].s), &us);
        if (rc || us != ok[k].us)
            fprintf(stderr, "  '%s' -> %d %lld\n", ok[k].s, rc, (long long)us);
        CHECK(rc == 0 && us == ok[k].us);
    }
    static const char *const bad[] = {
        "", "2024", "2024-05", "2024-5-01", "2024-13-01", "2024-00-10", "2024-05-32",
        "2023-02-29", "1900-02-29", "2024-05-01T", "2024-05-01T25:00", "2024-05-01T12:60",
        "2024-05-01T12", "2024-05-01T12:00:00.", "2024-05-01T12:00:00.1234567890",
        "2024-05-01T12:00:00+", "2024-05-01T12:00:00+2", "2024-05-01T12:00:00+02:",
        "2024-05-01T12:00:00+24:00", "2024-05-01X12:00", "2024-05-01T12:00:00Z ",
        " 2024-05-01", "+999999-01-01", "abcd-ef-gh", "+123-01-01",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t us;
        if (sp_ts_parse(bad[k], strlen(bad[k]), &us) == 0)
            fprintf(stderr, "  accepted '%s'\n", bad[k]);
        CHECK(sp_ts_parse(bad[k], strlen(bad[k]), &us) != 0);
    }
}

static void test_ts_format(void)
{
    static const struct {
        int64_t us;
        const char *s;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {1000, "1970-01-01T00:00:00.001Z"},
        {1500, "1970-01-01T00:00:00.001500Z"},
        {-1, "1969-12-31T23:59:59.999999Z"},
        {-1000, "1969-12-31T23:59:59.999Z"},
        {-2208988800000000LL, "1900-01-01T00:00:00Z"},
        {951868800000000LL - 1, "2000-02-29T23:59:59.999999Z"},
        {253402300799999999LL, "9999-12-31T23:59:59.999999Z"},
        {253402300800000000LL, "+10000-01-01T00:00:00Z"},
        {-62198755200000000LL, "-0001-01-01T00:00:00Z"},
        {INT64_MAX, "+294247-01-10T04:00:54.775807Z"},
        {INT64_MIN, "-290308-12-21T19:59:05.224192Z"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char buf[32];
        int n = sp_ts_format(cases[k].us, buf, sizeof buf);
        CHECK_EQ_STR(buf, cases[k].s);
        CHECK_EQ_INT(n, strlen(cases[k].s));
        int64_t back;
        CHECK(sp_ts_parse(buf, (size_t)n, &back) == 0 && back == cases[k].us);
    }
    /* Every day across leap years and the eras around 1600, 1970 and 2400. */
    const int64_t day = 86400000000LL;
    int64_t starts[] = {-11676096000000000LL, -2 * 366 * day, 13569465600000000LL};
    for (int e = 0; e < 3; e++)
        for (int64_t d = 0; d < 3 * 366; d++) {
            int64_t us = starts[e] + d * day + d * 3600000001LL % day, back = 0;
            char buf[32];
            int n = sp_ts_format(us, buf, sizeof buf);
            CHECK(sp_ts_parse(buf, (size_t)n, &back) == 0 && back == us);
        }
}

static void test_ts_numeric_units(void)
{
    static const char *const secs[] = {"format", "jsonl", "timestamp.unit", "s", NULL};
    static const char *const micros[] = {"format", "csv", "timestamp.unit", "us", NULL};
    fx x;
    REQUIRE_OK(fx_open(&x, "t TIMESTAMP", secs));
    CHECK_EQ_INT(feed(&x, "{\"t\":1714564800}"), 1);
    CHECK_EQ_INT(feed(&x, "{\"t\":-1.5}"), 1);
    CHECK_EQ_INT(feed(&x, "{\"t\":\"1714564800.123456789\"}"), 1);
    CHECK_EQ_INT(feed(&x, "{\"t\":99999999999999999}"), 0);
    CHECK_EQ_INT(cell_int(x.b, 0, 0), 1714564800000000LL);
    CHECK_EQ_INT(cell_int(x.b, 1, 0), -1500000);
    CHECK_EQ_INT(cell_int(x.b, 2, 0), 1714564800123456LL);
    fx_close(&x);
    REQUIRE_OK(fx_open(&x, "t TIMESTAMP, u TIMESTAMP", micros));
    CHECK_EQ_INT(feed(&x, "-5,2024-05-01T12:00:00.000001+00:00"), 1);
    CHECK_EQ_INT(cell_int(x.b, 0, 0), -5);
    CHECK_EQ_INT(cell_int(x.b, 0, 1), 1714564800000001LL);
    fx_close(&x);
}

/* ---------------------------------------------------- options, dead letters */

static void test_format_options(void)
{
    spate_schema *s;
    REQUIRE_OK(spate_schema_parse("a INT", &s));
    sp_format f;
    sp_opts o;
    const char *const bad_fmt[] = {"format", "xml", NULL};
    REQUIRE_OK(sp_opts_parse(&o, "t", sp_format_opt_defs, NULL, bad_fmt));
    CHECK_EQ_INT(sp_format_from_opts(&f, &o, s), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "csv, jsonl or text") != NULL);
    sp_opts_free(&o);
    const char *const bad_delim[] = {"delimiter", "ab", NULL};
    REQUIRE_OK(sp_opts_parse(&o, "t", sp_format_opt_defs, NULL, bad_delim));
    CHECK_EQ_INT(sp_format_from_opts(&f, &o, s), SPATE_EINVAL);
    sp_opts_free(&o);
    const char *const bad_unit[] = {"timestamp.unit", "ns", NULL};
    REQUIRE_OK(sp_opts_parse(&o, "t", sp_format_opt_defs, NULL, bad_unit));
    CHECK_EQ_INT(sp_format_from_opts(&f, &o, s), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "s, ms or us") != NULL);
    sp_opts_free(&o);
    const char *const unknown[] = {"fromat", "csv", NULL};
    CHECK_EQ_INT(sp_opts_parse(&o, "t", sp_format_opt_defs, NULL, unknown), SPATE_EINVAL);
    CHECK(strstr(spate_last_error(), "format, header, delimiter, timestamp.unit") != NULL);
    REQUIRE_OK(sp_format_init(&f, "jsonl", s));
    CHECK(f.kind == SP_FMT_JSONL && f.delim == ',' && f.ts_unit_us == 1000 && !f.header);
    CHECK_EQ_INT(sp_format_init(&f, "text", s), SPATE_ETYPE);
    CHECK_EQ_INT(sp_format_init(&f, "nope", s), SPATE_EINVAL);
    CHECK_EQ_INT(sp_format_init(&f, "csv", NULL), SPATE_EINVAL);
    spate_schema_free(s);
}

static void test_deadletter_skip(void)
{
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a INT", CSV, SP_BAD_SKIP, NULL));
    CHECK_EQ_INT(feed(&x, "x"), 0);
    CHECK_EQ_INT(feed(&x, "1,2"), 0);
    CHECK_EQ_INT(feed(&x, "3"), 1);
    CHECK_EQ_INT(bad_count(&x), 2);
    CHECK(x.dl.out == NULL);
    fx_close(&x);
}

static void test_deadletter_file(void)
{
    char path[] = "/tmp/spate-dl-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE_OK(fd >= 0 ? 0 : SPATE_EIO);
    close(fd);
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a INT, b STRING", CSV, SP_BAD_DEADLETTER, path));
    CHECK_EQ_INT(feed(&x, "abc,\"q\"\"\""), 0);
    CHECK_EQ_INT(feed(&x, "1,2,3"), 0);
    CHECK_EQ_INT(feed(&x, "4,ok"), 1);
    fx_close(&x);
    FILE *fp = fopen(path, "r");
    char text[2048] = "";
    size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    text[n] = 0;
    if (fp) fclose(fp);
    unlink(path);
    int lines = 0;
    for (char *c = text; *c; c++) lines += *c == '\n';
    CHECK_EQ_INT(lines, 2);
    const char *first = "{\"source\":\"test\",\"position\":\"line 1\",\"field\":\"a\","
                        "\"reason\":\"not an integer: 'abc'\","
                        "\"record\":\"abc,\\\"q\\\"\\\"\\\"\"}\n";
    CHECK(strncmp(text, first, strlen(first)) == 0);
    CHECK(strstr(text, "\"field\":\"\",\"reason\":\"expected 2 fields, got 3\","
                       "\"record\":\"1,2,3\"") != NULL);
}

static void test_deadletter_fail(void)
{
    fx x;
    REQUIRE_OK(fx_open_dl(&x, "a INT", JSONL, SP_BAD_FAIL, NULL));
    CHECK_EQ_INT(feed(&x, "{\"a\":1}"), 1);
    CHECK_EQ_INT(feed(&x, "{\"a\":true}"), SPATE_EPARSE);
    CHECK_EQ_STR(spate_last_error(),
                 "malformed record in test at line 1, field 'a': not an integer: 'true'");
    CHECK_EQ_INT(x.b->n, 1);
    CHECK_EQ_INT(bad_count(&x), 1);
    fx_close(&x);
}

/* ------------------------------------------------------------------ fuzz */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A blank record as the parser defines it: nothing but a line terminator (and, for
 * jsonl, JSON whitespace). */
static int is_blank(sp_format_kind k, const char *s, size_t n)
{
    if (n && s[n - 1] == '\n' && --n && s[n - 1] == '\r') n--;
    if (k != SP_FMT_JSONL) return n == 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", s[i]) || !s[i]) return 0;
    return 1;
}

/* A random record: pure noise, or a seed record mutated a few times. */
static size_t make_record(char *out, size_t cap, const char *const *seeds, int nseeds)
{
    static const char alphabet[] = "\"{}[],:\\\n\r u0123456789aeflnrstxzTZ.-+";
    size_t n = 0;
    if (rnd() % 8 == 0) {
        n = rnd() % 48;
        for (size_t i = 0; i < n; i++)
            out[i] = rnd() % 2 ? (char)rnd() : alphabet[rnd() % (sizeof alphabet - 1)];
        return n;
    }
    const char *seed = seeds[rnd() % (uint64_t)nseeds];
    n = strlen(seed);
    memcpy(out, seed, n);
    for (int m = (int)(rnd() % 4); m > 0; m--) {
        size_t at = n ? rnd() % n : 0;
        char c = rnd() % 3 ? alphabet[rnd() % (sizeof alphabet - 1)] : (char)rnd();
        switch (rnd() % 4) {
        case 0: if (n) out[at] = c; break;
        case 1: if (n < cap) { memmove(out + at + 1, out + at, n - at); out[at] = c; n++; } break;
        case 2: if (n) { memmove(out + at, out + at + 1, n - at - 1); n--; } break;
        default: n = at; break;
        }
    }
    return n;
}

/* Touches every string of row r so ASan checks it points at live memory. */
static unsigned touch_row(const sp_batch *b, uint32_t r)
{
    unsigned sum = 0;
    for (int c = 0; c < b->ncols; c++) {
        if (!sp_type_is_str(b->cols[c].type) || sp_vec_is_null(&b->cols[c], r)) continue;
        spate_str s = SP_STR(&b->cols[c])[r];
        for (size_t i = 0; i < s.len; i++) sum += (unsigned char)s.ptr[i];
    }
    return sum;
}

static void fuzz_format(const char *decl, const char *const *kv, const char *const *seeds,
                        int nseeds)
{
    fx x;
    REQUIRE_OK(fx_open(&x, decl, kv));
    enum { RECORDS = 20000, CAP = 128 };
    long rows = 0, bad = 0, blank = 0;
    unsigned sink = 0;
    for (int k = 0; k < RECORDS; k++) {
        char tmp[CAP];
        size_t n = make_record(tmp, CAP, seeds, nseeds);
        char *rec = malloc(n ? n : 1); /* exact size: ASan sees any read past len */
        REQUIRE_OK(rec ? 0 : SPATE_ENOMEM);
        memcpy(rec, tmp, n);
        sp_batch_reset(x.b, x.schema); /* rows point into rec, which is freed below */
        uint64_t before = bad_count(&x);
        int rc = sp_parser_parse(x.p, x.b, rec, n, &x.dl, "fuzz", "-");
        CHECK(rc == 0 || rc == 1);
        if (rc == 1) sink += touch_row(x.b, x.b->n - 1);
        if (rc == 1) rows++;
        else if (bad_count(&x) > before) bad++;
        else if (is_blank(x.f.kind, rec, n)) blank++;
        size_t rl, used = sp_format_next_record(&x.f, rec, n, k % 2, &rl);
        CHECK(used <= n && (used == 0 || rl < used || (rl == used && used == n)));
        free(rec);
    }
    CHECK_EQ_INT(rows + bad + blank, RECORDS);
    /* Both paths must be well exercised (text has no malformed records). */
    if (rows < 1000 || (bad < 1000 && x.f.kind != SP_FMT_TEXT))
        fprintf(stderr, "  %s: %ld rows, %ld bad, %ld blank\n", kv[1], rows, bad, blank);
    CHECK(rows >= 1000 && (bad >= 1000 || x.f.kind == SP_FMT_TEXT));
    CHECK((long)bad_count(&x) == bad);
    (void)sink;
    fx_close(&x);
}

static void test_fuzz_all_formats(void)
{
    static const char *const csv_seeds[] = {
        "1,-5,2.5,hello,true,2024-05-01T12:00:00Z", "\"1\",\"2\",\"3.5e3\",\"a\"\"b\",0,0",
        ",,,,,", "2147483647,-9223372036854775808,-0,\"x\ny\",false,1714564800000",
        "\"\",\"\",\"\",\"\",\"\",\"\""};
    static const char *const json_seeds[] = {
        "{\"i\":1,\"d\":2.5,\"s\":\"x\",\"n\":{\"a\":{\"b\":true}},\"t\":\"2024-05-01\"}",
        "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\",\"arr\":[1,[2,{\"z\":null}]],\"i\":\"42\"}",
        "{\"n.a.b\":false,\"n\":{\"a\":null},\"d\":-1e-3}", "{}", " {\"t\":1714564800000} "};
    static const char *const text_seeds[] = {"hello world", "", "\"quoted\",text", "\xff\xfe"};
    rng_state = 0x9E3779B97F4A7C15ULL;
    fuzz_format("i INT, l BIGINT, d DOUBLE, s STRING, b BOOL, t TIMESTAMP", CSV, csv_seeds, 5);
    fuzz_format("i INT, d DOUBLE, s STRING, n.a.b BOOL, t TIMESTAMP", JSONL, json_seeds, 5);
    fuzz_format("line STRING", TEXT, text_seeds, 4);
}

const sp_test tests_formats[] = {
    {"formats/csv_basic_types", test_csv_basic_types},
    {"formats/csv_quoting", test_csv_quoting},
    {"formats/csv_zero_copy", test_csv_zero_copy},
    {"formats/csv_split_records", test_csv_split_records},
    {"formats/csv_crlf", test_csv_crlf},
    {"formats/csv_header_mapping", test_csv_header_mapping},
    {"formats/csv_header_missing_column", test_csv_header_missing_column},
    {"formats/csv_field_count", test_csv_field_count},
    {"formats/csv_bad_values", test_csv_bad_values},
    {"formats/csv_no_half_rows", test_csv_no_half_rows},
    {"formats/csv_malformed_quotes", test_csv_malformed_quotes},
    {"formats/csv_nulls_and_delimiter", test_csv_nulls_and_delimiter},
    {"formats/jsonl_flat", test_jsonl_flat},
    {"formats/jsonl_nested_paths", test_jsonl_nested_paths},
    {"formats/jsonl_escapes_unicode", test_jsonl_escapes_unicode},
    {"formats/jsonl_type_leniency", test_jsonl_type_leniency},
    {"formats/jsonl_malformed", test_jsonl_malformed},
    {"formats/jsonl_depth_limit", test_jsonl_depth_limit},
    {"formats/text_lines", test_text_lines},
    {"formats/blank_lines_skipped", test_blank_lines_skipped},
    {"formats/write_roundtrip", test_write_roundtrip},
    {"formats/write_exact", test_write_exact},
    {"formats/ts_parse", test_ts_parse},
    {"formats/ts_format", test_ts_format},
    {"formats/ts_numeric_units", test_ts_numeric_units},
    {"formats/format_options", test_format_options},
    {"formats/deadletter_skip", test_deadletter_skip},
    {"formats/deadletter_file", test_deadletter_file},
    {"formats/deadletter_fail", test_deadletter_fail},
    {"formats/fuzz_all_formats", test_fuzz_all_formats},
    {NULL, NULL},
};
