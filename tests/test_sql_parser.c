/*
 * test_sql_parser.c - the SQL lexer and parser: every statement kind, the
 * expression grammar (checked through a compact S-expression rendering of the
 * tree, so a test states the whole shape it expects), the special forms, window
 * table functions, joins, errors with their exact place and message, the caret
 * rendering, nesting limits, and a mutation fuzz run over valid scripts.
 */
#include "test_list.h"

#include "sql/ast.h"
#include "sql/lexer.h"

#include <stdint.h>

/* ------------------------------------------------------------------ helpers */

static void dump_expr(FILE *f, const sq_expr *e);

static void dump_args(FILE *f, const sq_expr *e, int from)
{
    for (int i = from; i < e->nargs; i++) {
        fputc(' ', f);
        dump_expr(f, e->args[i]);
    }
}

static const char *op_name(sq_op op)
{
    switch (op) {
    case SQ_OP_ADD:
        return "+";
    case SQ_OP_SUB:
        return "-";
    case SQ_OP_MUL:
        return "*";
    case SQ_OP_DIV:
        return "/";
    case SQ_OP_MOD:
        return "%";
    case SQ_OP_CONCAT:
        return "||";
    case SQ_OP_EQ:
        return "=";
    case SQ_OP_NE:
        return "<>";
    case SQ_OP_LT:
        return "<";
    case SQ_OP_LE:
        return "<=";
    case SQ_OP_GT:
        return ">";
    case SQ_OP_GE:
        return ">=";
    case SQ_OP_AND:
        return "AND";
    case SQ_OP_OR:
        return "OR";
    case SQ_OP_NOT:
        return "NOT";
    case SQ_OP_NEG:
        return "NEG";
    case SQ_OP_PLUS:
        return "PLUS";
    }
    return "?";
}

/* A Lisp-like rendering: (op args...), NAME(args), literals as in SQL. */
static void dump_expr(FILE *f, const sq_expr *e)
{
    if (!e) {
        fputs("<null>", f);
        return;
    }
    const char *no = e->negated ? "NOT " : "";
    switch (e->kind) {
    case SQ_LIT_NULL:
        fputs("NULL", f);
        break;
    case SQ_LIT_BOOL:
        fputs(e->ival ? "TRUE" : "FALSE", f);
        break;
    case SQ_LIT_INT:
        fprintf(f, "%lld", (long long)e->ival);
        break;
    case SQ_LIT_DOUBLE:
        fprintf(f, "%gd", e->dval);
        break;
    case SQ_LIT_STRING:
        fprintf(f, "'%s'", e->str);
        break;
    case SQ_LIT_INTERVAL:
        fprintf(f, "INTERVAL(%lld)", (long long)e->ival);
        break;
    case SQ_LIT_TIMESTAMP:
        fprintf(f, "TIMESTAMP'%s'", e->str);
        break;
    case SQ_LIT_DATE:
        fprintf(f, "DATE'%s'", e->str);
        break;
    case SQ_COLUMN:
        if (e->qual) fprintf(f, "%s.", e->qual);
        fputs(e->name, f);
        break;
    case SQ_STAR:
        fprintf(f, "%s%s*", e->qual ? e->qual : "", e->qual ? "." : "");
        break;
    case SQ_UNARY:
    case SQ_BINARY:
        fprintf(f, "(%s", op_name(e->op));
        dump_args(f, e, 0);
        fputc(')', f);
        break;
    case SQ_FUNC:
        fprintf(f, "%s(%s%s", e->name, e->distinct ? "DISTINCT" : "", e->star_arg ? "*" : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i || e->distinct) fputc(' ', f);
            dump_expr(f, e->args[i]);
        }
        fputc(')', f);
        if (e->over) {
            fputs(" OVER(", f);
            for (int i = 0; i < e->over->npartition; i++) {
                fputs(i ? " " : "PARTITION ", f);
                dump_expr(f, e->over->partition[i]);
            }
            for (int i = 0; i < e->over->norder; i++) {
                fputs(i ? " " : e->over->npartition ? " ORDER " : "ORDER ", f);
                dump_expr(f, e->over->order[i].expr);
                if (e->over->order[i].desc) fputs(" DESC", f);
            }
            fputc(')', f);
        }
        break;
    case SQ_CASE:
        fputs("(CASE", f);
        if (e->operand) {
            fputc(' ', f);
            dump_expr(f, e->operand);
        }
        for (int i = 0; i < e->nwhens; i++) {
            fputs(" WHEN ", f);
            dump_expr(f, e->whens[i]);
            fputs(" THEN ", f);
            dump_expr(f, e->thens[i]);
        }
        if (e->else_) {
            fputs(" ELSE ", f);
            dump_expr(f, e->else_);
        }
        fputc(')', f);
        break;
    case SQ_CAST:
        fprintf(f, "%s(", e->try_cast ? "TRY_CAST" : "CAST");
        dump_expr(f, e->args[0]);
        fprintf(f, " AS %s)", e->type_name);
        break;
    case SQ_IN:
    case SQ_BETWEEN:
    case SQ_LIKE:
        fprintf(f, "(%s%s", no,
                e->kind == SQ_IN        ? "IN"
                : e->kind == SQ_BETWEEN ? "BETWEEN"
                                        : "LIKE");
        dump_args(f, e, 0);
        fputc(')', f);
        break;
    case SQ_IS_NULL:
    case SQ_IS_BOOL:
        fprintf(f, "(IS %s%s ", no, e->kind == SQ_IS_NULL ? "NULL" : e->ival ? "TRUE" : "FALSE");
        dump_expr(f, e->args[0]);
        fputc(')', f);
        break;
    case SQ_TABLE_ARG:
        fprintf(f, "TABLE %s", e->name);
        break;
    case SQ_DESCRIPTOR:
        fprintf(f, "DESCRIPTOR(%s)", e->name);
        break;
    }
}

/* The rendering of e, in a static buffer. */
static const char *show(const sq_expr *e)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    dump_expr(f, e);
    fclose(f);
    return buf;
}

static sq_script *parse_ok(const char *sql)
{
    sq_script *s = NULL;
    sq_error err;
    int rc = sq_parse(sql, strlen(sql), &s, &err);
    if (rc) {
        fprintf(stderr, "  parse failed (%d) at %u:%u: %s\n    in: %s\n", rc, err.pos.line,
                err.pos.col, err.msg, sql);
        sp_test_failures++;
        return NULL;
    }
    return s;
}

/* Parses sql as one statement; checks there is exactly one. */
static sq_stmt *one_stmt(const char *sql, sq_script **holder)
{
    *holder = parse_ok(sql);
    if (!*holder) return NULL;
    CHECK_EQ_INT((*holder)->nstmts, 1);
    return (*holder)->nstmts == 1 ? (*holder)->stmts[0] : NULL;
}

/* Checks the rendering of a lone expression. */
#define CHECK_EXPR(text, want)                                                                     \
    do {                                                                                           \
        sq_script *h_ = NULL;                                                                      \
        sq_expr *e_ = NULL;                                                                        \
        sq_error err_;                                                                             \
        int rc_ = sq_parse_expr(text, strlen(text), &h_, &e_, &err_);                              \
        if (rc_) {                                                                                 \
            fprintf(stderr, "  %s:%d: '%s' failed: %u:%u: %s\n", __FILE__, __LINE__, text,         \
                    err_.pos.line, err_.pos.col, err_.msg);                                        \
            sp_test_failures++;                                                                    \
        } else {                                                                                   \
            CHECK_EQ_STR(show(e_), want);                                                          \
        }                                                                                          \
        sq_script_free(h_);                                                                        \
    } while (0)

/* Checks that sql fails with message want_msg at want_line:want_col. */
#define CHECK_ERR(sql, want_line, want_col, want_msg)                                              \
    do {                                                                                           \
        sq_script *s_ = NULL;                                                                      \
        sq_error err_;                                                                             \
        int rc_ = sq_parse(sql, strlen(sql), &s_, &err_);                                          \
        CHECK_EQ_INT(rc_, SPATE_EPARSE);                                                           \
        CHECK(s_ == NULL);                                                                         \
        if (rc_ == SPATE_EPARSE) {                                                                 \
            CHECK_EQ_STR(err_.msg, want_msg);                                                      \
            CHECK_EQ_INT(err_.has_pos, 1);                                                         \
            CHECK_EQ_INT(err_.pos.line, want_line);                                                \
            CHECK_EQ_INT(err_.pos.col, want_col);                                                  \
        }                                                                                          \
        sq_script_free(s_);                                                                        \
    } while (0)

/* Same for a lone expression (on one line). */
#define CHECK_EXPR_ERR(text, want_col, want_msg)                                                   \
    do {                                                                                           \
        sq_script *h_ = NULL;                                                                      \
        sq_expr *e_ = NULL;                                                                        \
        sq_error err_;                                                                             \
        int rc_ = sq_parse_expr(text, strlen(text), &h_, &e_, &err_);                              \
        CHECK_EQ_INT(rc_, SPATE_EPARSE);                                                           \
        CHECK(h_ == NULL && e_ == NULL);                                                           \
        if (rc_ == SPATE_EPARSE) {                                                                 \
            CHECK_EQ_STR(err_.msg, want_msg);                                                      \
            CHECK_EQ_INT(err_.pos.col, want_col);                                                  \
        }                                                                                          \
        sq_script_free(h_);                                                                        \
    } while (0)

/* ------------------------------------------------------------------- lexer */

static void test_lexer_tokens(void)
{
    const char *text = "sel_1 `q``x` \"d\" 'it''s' 42 1.5 .5 2e-3 10s ( ) , ; . * + - / % = <> != "
                       "< <= > >= || => -- comment\n/* block */ x$y \xC3\xA9";
    const sq_tok_kind kinds[] = {
        SQ_TOK_IDENT,   SQ_TOK_QIDENT, SQ_TOK_QIDENT,  SQ_TOK_STRING, SQ_TOK_INT,    SQ_TOK_NUMBER,
        SQ_TOK_NUMBER,  SQ_TOK_NUMBER, SQ_TOK_WORDNUM, SQ_TOK_LPAREN, SQ_TOK_RPAREN, SQ_TOK_COMMA,
        SQ_TOK_SEMI,    SQ_TOK_DOT,    SQ_TOK_STAR,    SQ_TOK_PLUS,   SQ_TOK_MINUS,  SQ_TOK_SLASH,
        SQ_TOK_PERCENT, SQ_TOK_EQ,     SQ_TOK_NE,      SQ_TOK_NE,     SQ_TOK_LT,     SQ_TOK_LE,
        SQ_TOK_GT,      SQ_TOK_GE,     SQ_TOK_CONCAT,  SQ_TOK_ARROW,  SQ_TOK_IDENT,  SQ_TOK_IDENT,
        SQ_TOK_EOF,
    };
    const char *values[] = {"sel_1", "q`x", "d", "it's", "42", "1.5", ".5", "2e-3", "10s"};
    sq_lexer lx;
    sq_lexer_init(&lx, text, strlen(text));
    sq_error err;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        sq_token t;
        CHECK_EQ_INT(sq_lex_next(&lx, &t, &err), 0);
        CHECK_EQ_INT(t.kind, kinds[i]);
        if (i < sizeof values / sizeof values[0]) {
            char buf[64];
            buf[sq_token_unquote(text, &t, buf)] = 0;
            CHECK_EQ_STR(buf, values[i]);
        }
        if (i == 28) { /* x$y, after the comments */
            CHECK_EQ_INT(t.pos.line, 2);
            CHECK_EQ_INT(t.pos.col, 13);
            CHECK_EQ_INT(t.len, 3);
        }
    }
    /* an error gives an SQ_TOK_ERROR over the bad input */
    const char *bad = "a\n  'open";
    sq_lexer_init(&lx, bad, strlen(bad));
    sq_token t;
    CHECK_EQ_INT(sq_lex_next(&lx, &t, &err), 0);
    CHECK_EQ_INT(sq_lex_next(&lx, &t, &err), SPATE_EPARSE);
    CHECK_EQ_INT(t.kind, SQ_TOK_ERROR);
    CHECK_EQ_INT(t.pos.off, 4);
    CHECK_EQ_INT(t.len, 5);
    CHECK_EQ_STR(err.msg, "unterminated string literal");
    CHECK_EQ_INT(err.pos.line, 2);
    CHECK_EQ_INT(err.pos.col, 3);
    t = (sq_token){SQ_TOK_IDENT, {0, 1, 1}, 5};
    CHECK(sq_token_is(text, &t, "SEL_1"));
    CHECK(!sq_token_is(text, &t, "SEL"));
    /* the extent of the token at a place, for underlines */
    CHECK_EQ_INT(sq_lex_extent(text, strlen(text), 6), 6); /* `q``x` */
    CHECK_EQ_INT(sq_lex_extent(text, strlen(text), 5), 1); /* a blank */
    CHECK_EQ_INT(sq_lex_extent("'abc", 4, 0), 4);          /* unterminated */
    CHECK_EQ_INT(sq_lex_extent("#", 1, 0), 1);             /* a bad character */
    CHECK_EQ_INT(sq_lex_extent("ab", 2, 2), 0);            /* the end */
}

/* -------------------------------------------------------------- statements */

static void test_create_source(void)
{
    sq_script *s;
    sq_stmt *st = one_stmt("CREATE SOURCE IF NOT EXISTS vitals (\n"
                           "  patient_id BIGINT NOT NULL,\n"
                           "  name VARCHAR(10),\n"
                           "  price DECIMAL(10, 2),\n"
                           "  ts TIMESTAMP(3),\n"
                           "  lts TIMESTAMP(3) WITH LOCAL TIME ZONE,\n"
                           "  d double precision,\n"
                           "  total AS price * 2,\n"
                           "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,\n"
                           "  PRIMARY KEY (patient_id, name) NOT ENFORCED\n"
                           ") WITH (\n"
                           "  connector = 'files', 'path' = '/tmp/in', format.csv.header = true,\n"
                           "  `quoted` = 'x''y', rows = 10, rate = 2.5, delay = -3, mode = fast,\n"
                           "  sink.buffer-flush.max-rows = 100, interval = 10s\n"
                           ")",
                           &s);
    if (!st) return;
    CHECK_EQ_INT(st->kind, SQ_CREATE_SOURCE);
    CHECK_EQ_STR(st->name, "vitals");
    CHECK_EQ_INT(st->name_pos.line, 1);
    CHECK_EQ_INT(st->name_pos.col, 29);
    CHECK_EQ_INT(st->if_not_exists, 1);
    CHECK_EQ_INT(st->ncolumns, 7);
    const char *names[] = {"patient_id", "name", "price", "ts", "lts", "d", "total"};
    const char *types[] = {"BIGINT",        "VARCHAR", "DECIMAL", "TIMESTAMP",
                           "TIMESTAMP_LTZ", "DOUBLE",  NULL};
    for (int i = 0; i < 7 && i < st->ncolumns; i++) {
        CHECK_EQ_STR(st->columns[i].name, names[i]);
        if (types[i])
            CHECK_EQ_STR(st->columns[i].type_name, types[i]);
        else
            CHECK(st->columns[i].type_name == NULL);
        CHECK_EQ_INT(st->columns[i].pos.line, i + 2);
        CHECK_EQ_INT(st->columns[i].pos.col, 3);
    }
    CHECK_EQ_INT(st->columns[0].not_null, 1);
    CHECK_EQ_INT(st->columns[1].not_null, 0);
    CHECK(st->columns[0].computed == NULL);
    CHECK_EQ_STR(show(st->columns[6].computed), "(* price 2)");
    CHECK_EQ_STR(st->wm_column, "ts");
    CHECK_EQ_INT(st->wm_pos.line, 9);
    CHECK_EQ_INT(st->wm_pos.col, 17);
    CHECK_EQ_STR(show(st->wm_expr), "(- ts INTERVAL(5000000))");
    CHECK_EQ_INT(st->nprimary_key, 2);
    CHECK_EQ_STR(st->primary_key[0], "patient_id");
    CHECK_EQ_STR(st->primary_key[1], "name");
    const char *kv[][2] = {
        {"connector", "files"}, {"path", "/tmp/in"}, {"format.csv.header", "true"},
        {"quoted", "x'y"},      {"rows", "10"},      {"rate", "2.5"},
        {"delay", "-3"},        {"mode", "fast"},    {"sink.buffer-flush.max-rows", "100"},
        {"interval", "10s"}};
    CHECK_EQ_INT(st->noptions, 10);
    for (int i = 0; i < 10 && i < st->noptions; i++) {
        CHECK_EQ_STR(st->options[i].key, kv[i][0]);
        CHECK_EQ_STR(st->options[i].value, kv[i][1]);
    }
    CHECK_EQ_INT(st->options[0].pos.line, 12);
    CHECK_EQ_INT(st->options[0].pos.col, 3);
    CHECK_EQ_INT(st->options[0].value_pos.col, 15);
    CHECK_EQ_INT(st->pos.line, 1);
    CHECK_EQ_INT(st->pos.col, 1);
    CHECK_EQ_INT(st->end.line, 15);
    CHECK_EQ_INT(st->end.col, 2);
    sq_script_free(s);
}

static void test_create_table_sink_view(void)
{
    sq_script *s =
        parse_ok("create temporary table rates (cur STRING PRIMARY KEY NOT ENFORCED, rate DOUBLE "
                 "COMMENT 'per unit' NULL) with ('connector' = 'files');\n"
                 "CREATE TABLE t2 (a INT, CONSTRAINT pk PRIMARY KEY (a)) WITH ();\n"
                 "CREATE SINK out WITH (connector = 'console');\n"
                 "CREATE SINK out2 (a INT, b STRING) WITH (connector = 'files', path = 'o');\n"
                 "CREATE VIEW v AS SELECT a FROM t2;\n"
                 "create view if not exists w as (select 1)");
    if (!s) return;
    CHECK_EQ_INT(s->nstmts, 6);
    sq_stmt *t = s->stmts[0];
    CHECK_EQ_INT(t->kind, SQ_CREATE_TABLE);
    CHECK_EQ_STR(t->name, "rates");
    CHECK_EQ_INT(t->ncolumns, 2);
    CHECK_EQ_STR(t->columns[1].type_name, "DOUBLE");
    CHECK_EQ_INT(t->nprimary_key, 1);
    CHECK_EQ_STR(t->primary_key[0], "cur");
    CHECK_EQ_STR(t->options[0].key, "connector");
    CHECK_EQ_INT(s->stmts[1]->nprimary_key, 1);
    CHECK_EQ_INT(s->stmts[1]->ncolumns, 1);
    CHECK_EQ_INT(s->stmts[1]->noptions, 0);
    sq_stmt *k = s->stmts[2];
    CHECK_EQ_INT(k->kind, SQ_CREATE_SINK);
    CHECK_EQ_INT(k->ncolumns, 0);
    CHECK_EQ_INT(k->noptions, 1);
    CHECK_EQ_STR(k->options[0].value, "console");
    CHECK_EQ_INT(s->stmts[3]->ncolumns, 2);
    CHECK_EQ_INT(s->stmts[3]->noptions, 2);
    sq_stmt *v = s->stmts[4];
    CHECK_EQ_INT(v->kind, SQ_CREATE_VIEW);
    CHECK_EQ_STR(v->name, "v");
    CHECK(v->query && v->query->from && v->query->from->kind == SQ_FROM_TABLE);
    CHECK_EQ_INT(s->stmts[5]->if_not_exists, 1);
    CHECK_EQ_INT(s->stmts[5]->query->nitems, 1);
    sq_script_free(s);
}

static void test_insert_and_query(void)
{
    sq_script *s = parse_ok("INSERT INTO out SELECT a, b AS bee, c cee FROM t WHERE a > 1;\n"
                            "insert into `my sink` ((select * from t));\n"
                            "SELECT DISTINCT t.*, *, COUNT(*) FROM t GROUP BY a, b HAVING "
                            "COUNT(*) > 2 ORDER BY a DESC NULLS FIRST, b NULLS LAST, c ASC "
                            "LIMIT 10;\n"
                            "(SELECT 1);\n"
                            "SELECT 1 + 1");
    if (!s) return;
    CHECK_EQ_INT(s->nstmts, 5);
    sq_stmt *ins = s->stmts[0];
    CHECK_EQ_INT(ins->kind, SQ_INSERT);
    CHECK_EQ_STR(ins->name, "out");
    CHECK_EQ_INT(ins->name_pos.col, 13);
    sq_select *q = ins->query;
    CHECK_EQ_INT(q->nitems, 3);
    CHECK(q->items[0].alias == NULL);
    CHECK_EQ_STR(q->items[1].alias, "bee");
    CHECK_EQ_STR(q->items[2].alias, "cee");
    CHECK_EQ_INT(q->items[2].pos.col, 37);
    CHECK_EQ_STR(q->from->name, "t");
    CHECK_EQ_STR(show(q->where), "(> a 1)");
    CHECK_EQ_INT(q->limit, -1);
    CHECK_EQ_STR(s->stmts[1]->name, "my sink");
    CHECK_EQ_STR(show(s->stmts[1]->query->items[0].expr), "*");

    sq_select *g = s->stmts[2]->query;
    CHECK_EQ_INT(s->stmts[2]->kind, SQ_SELECT);
    CHECK_EQ_INT(g->distinct, 1);
    CHECK_EQ_STR(show(g->items[0].expr), "t.*");
    CHECK_EQ_STR(show(g->items[1].expr), "*");
    CHECK_EQ_STR(show(g->items[2].expr), "COUNT(*)");
    CHECK_EQ_INT(g->ngroup, 2);
    CHECK_EQ_STR(show(g->group_by[1]), "b");
    CHECK_EQ_STR(show(g->having), "(> COUNT(*) 2)");
    CHECK_EQ_INT(g->norder, 3);
    CHECK_EQ_INT(g->order[0].desc, 1);
    CHECK_EQ_INT(g->order[0].nulls_first, 1);
    CHECK_EQ_INT(g->order[1].desc, 0);
    CHECK_EQ_INT(g->order[1].nulls_first, 0);
    CHECK_EQ_INT(g->order[2].nulls_first, -1);
    CHECK_EQ_INT(g->limit, 10);

    CHECK_EQ_INT(s->stmts[3]->kind, SQ_SELECT);
    CHECK(s->stmts[3]->query->from == NULL);
    CHECK_EQ_STR(show(s->stmts[4]->query->items[0].expr), "(+ 1 1)");
    sq_script_free(s);
}

static void test_set_reset(void)
{
    sq_script *s = parse_ok("SET parallelism.default = 4;\n"
                            "SET 'table.local-time-zone' = 'UTC';\n"
                            "set execution.checkpointing.interval = 1 s;\n"
                            "SET a.b = 10s;\n"
                            "SET x = TRUE;\n"
                            "SET y = some_name;\n"
                            "SET TIME ZONE 'Europe/Paris';\n"
                            "SET;\n"
                            "RESET;\n"
                            "RESET 'table.local-time-zone';\n"
                            "reset a.b-c;\n"
                            "RESET ALL");
    if (!s) return;
    CHECK_EQ_INT(s->nstmts, 12);
    const char *kv[][2] = {{"parallelism.default", "4"},
                           {"table.local-time-zone", "UTC"},
                           {"execution.checkpointing.interval", "1 s"},
                           {"a.b", "10s"},
                           {"x", "true"},
                           {"y", "some_name"},
                           {"table.local-time-zone", "Europe/Paris"}};
    for (int i = 0; i < 7; i++) {
        CHECK_EQ_INT(s->stmts[i]->kind, SQ_SET);
        CHECK_EQ_STR(s->stmts[i]->key, kv[i][0]);
        CHECK_EQ_STR(s->stmts[i]->value, kv[i][1]);
    }
    CHECK_EQ_INT(s->stmts[7]->kind, SQ_SET);
    CHECK(s->stmts[7]->key == NULL && s->stmts[7]->value == NULL);
    CHECK_EQ_INT(s->stmts[8]->kind, SQ_RESET);
    CHECK(s->stmts[8]->key == NULL);
    CHECK_EQ_STR(s->stmts[9]->key, "table.local-time-zone");
    CHECK_EQ_STR(s->stmts[10]->key, "a.b-c");
    CHECK_EQ_INT(s->stmts[11]->kind, SQ_RESET);
    CHECK(s->stmts[11]->key == NULL);
    sq_script_free(s);
}

static void test_explain_show_describe_drop(void)
{
    sq_script *s = parse_ok("EXPLAIN SELECT a FROM t;\n"
                            "EXPLAIN PLAN FOR INSERT INTO o SELECT * FROM t;\n"
                            "SHOW SOURCES; show tables; SHOW Sinks; SHOW VIEWS; SHOW FUNCTIONS;\n"
                            "DESCRIBE vitals; DESC `v 2`;\n"
                            "DROP SOURCE s; DROP TABLE IF EXISTS t; DROP SINK k; drop view v");
    if (!s) return;
    CHECK_EQ_INT(s->nstmts, 13);
    CHECK_EQ_INT(s->stmts[0]->kind, SQ_EXPLAIN);
    CHECK_EQ_INT(s->stmts[0]->inner->kind, SQ_SELECT);
    CHECK_EQ_INT(s->stmts[0]->inner->pos.col, 9);
    CHECK_EQ_INT(s->stmts[0]->end.col, 24);
    CHECK_EQ_INT(s->stmts[1]->inner->kind, SQ_INSERT);
    CHECK_EQ_STR(s->stmts[1]->inner->name, "o");
    const char *shows[] = {"SOURCES", "TABLES", "SINKS", "VIEWS", "FUNCTIONS"};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(s->stmts[2 + i]->kind, SQ_SHOW);
        CHECK_EQ_STR(s->stmts[2 + i]->what, shows[i]);
    }
    CHECK_EQ_INT(s->stmts[7]->kind, SQ_DESCRIBE);
    CHECK_EQ_STR(s->stmts[7]->name, "vitals");
    CHECK_EQ_STR(s->stmts[8]->name, "v 2");
    const char *drops[] = {"SOURCE", "TABLE", "SINK", "VIEW"};
    const char *dnames[] = {"s", "t", "k", "v"};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(s->stmts[9 + i]->kind, SQ_DROP);
        CHECK_EQ_STR(s->stmts[9 + i]->what, drops[i]);
        CHECK_EQ_STR(s->stmts[9 + i]->name, dnames[i]);
        CHECK_EQ_INT(s->stmts[9 + i]->if_exists, i == 1);
    }
    sq_script_free(s);
}

/* ------------------------------------------------------------- expressions */

static void test_precedence(void)
{
    CHECK_EXPR("a OR b AND NOT c = 1", "(OR a (AND b (NOT (= c 1))))");
    CHECK_EXPR("NOT a = 1 AND b", "(AND (NOT (= a 1)) b)");
    CHECK_EXPR("a AND b OR c AND d", "(OR (AND a b) (AND c d))");
    CHECK_EXPR("1 + 2 * 3 - 4 / 5 % 6", "(- (+ 1 (* 2 3)) (% (/ 4 5) 6))");
    CHECK_EXPR("a || b + c", "(|| a (+ b c))");
    CHECK_EXPR("a || b = c || d", "(= (|| a b) (|| c d))");
    CHECK_EXPR("-a * b", "(* (NEG a) b)");
    CHECK_EXPR("- -a", "(NEG (NEG a))");
    CHECK_EXPR("+a", "(PLUS a)");
    CHECK_EXPR("(a + b) * c", "(* (+ a b) c)");
    CHECK_EXPR("a - b - c", "(- (- a b) c)");
    CHECK_EXPR("a <> b AND c != d AND e <= f AND g >= h AND i < j AND k > l",
               "(AND (AND (AND (AND (AND (<> a b) (<> c d)) (<= e f)) (>= g h)) (< i j)) (> k l))");
    CHECK_EXPR("NOT NOT a", "(NOT (NOT a))");
    CHECK_EXPR("a + 1 BETWEEN 2 AND 3 AND b", "(AND (BETWEEN (+ a 1) 2 3) b)");
    CHECK_EXPR("x = 1 OR y IS NULL", "(OR (= x 1) (IS NULL y))");
}

static void test_predicates(void)
{
    CHECK_EXPR("a IS NULL", "(IS NULL a)");
    CHECK_EXPR("a IS NOT NULL", "(IS NOT NULL a)");
    CHECK_EXPR("a IS TRUE", "(IS TRUE a)");
    CHECK_EXPR("a IS NOT FALSE", "(IS NOT FALSE a)");
    CHECK_EXPR("a BETWEEN 1 AND 2", "(BETWEEN a 1 2)");
    CHECK_EXPR("a NOT BETWEEN 1 AND 2", "(NOT BETWEEN a 1 2)");
    CHECK_EXPR("a IN (1, 2, 3)", "(IN a 1 2 3)");
    CHECK_EXPR("a NOT IN ('x')", "(NOT IN a 'x')");
    CHECK_EXPR("a LIKE 'x%'", "(LIKE a 'x%')");
    CHECK_EXPR("a NOT LIKE 'x!%' ESCAPE '!'", "(NOT LIKE a 'x!%' '!')");
    CHECK_EXPR("NOT a IN (1)", "(NOT (IN a 1))");
}

static void test_literals(void)
{
    CHECK_EXPR("42", "42");
    CHECK_EXPR("9223372036854775807", "9223372036854775807");
    CHECK_EXPR("-9223372036854775808", "-9223372036854775808");
    CHECK_EXPR("-5", "-5");
    CHECK_EXPR("1.5", "1.5d");
    CHECK_EXPR(".5", "0.5d");
    CHECK_EXPR("1e3", "1000d");
    CHECK_EXPR("2.5E-1", "0.25d");
    CHECK_EXPR("-1.5", "-1.5d");
    CHECK_EXPR("'it''s'", "'it's'");
    CHECK_EXPR("''", "''");
    CHECK_EXPR("TRUE AND false", "(AND TRUE FALSE)");
    CHECK_EXPR("NULL", "NULL");
    CHECK_EXPR("TIMESTAMP '2024-01-01 10:00:00'", "TIMESTAMP'2024-01-01 10:00:00'");
    CHECK_EXPR("date '2024-01-01'", "DATE'2024-01-01'");
    CHECK_EXPR_ERR("9223372036854775808", 1,
                   "integer literal '9223372036854775808' is out of range (BIGINT)");
    CHECK_EXPR_ERR("1 + -9223372036854775809", 5,
                   "integer literal -'9223372036854775809' is out of range (BIGINT)");
    CHECK_EXPR_ERR("1e999", 1, "numeric literal '1e999' is out of range");
    CHECK_EXPR_ERR("10abc", 1, "malformed number '10abc'");
    /* the literal's node starts at the '-' of a negative number */
    sq_script *h = NULL;
    sq_expr *e = NULL;
    CHECK_EQ_INT(sq_parse_expr("1 - -2", 6, &h, &e, NULL), 0);
    if (e) CHECK_EQ_INT(e->args[1]->pos.col, 5);
    sq_script_free(h);
}

static void test_intervals(void)
{
    CHECK_EXPR("INTERVAL '10' SECOND", "INTERVAL(10000000)");
    CHECK_EXPR("INTERVAL '5' MINUTES", "INTERVAL(300000000)");
    CHECK_EXPR("INTERVAL '1' HOUR", "INTERVAL(3600000000)");
    CHECK_EXPR("INTERVAL '2' DAYS", "INTERVAL(172800000000)");
    CHECK_EXPR("INTERVAL '500' MILLISECOND", "INTERVAL(500000)");
    CHECK_EXPR("INTERVAL '7' MICROSECONDS", "INTERVAL(7)");
    CHECK_EXPR("INTERVAL '1.5' SECOND", "INTERVAL(1500000)");
    CHECK_EXPR("INTERVAL '-1' HOUR", "INTERVAL(-3600000000)");
    CHECK_EXPR("INTERVAL '10' SECOND(3)", "INTERVAL(10000000)");
    CHECK_EXPR("INTERVAL 3 SECONDS", "INTERVAL(3000000)");
    CHECK_EXPR("INTERVAL '10 seconds'", "INTERVAL(10000000)");
    CHECK_EXPR("INTERVAL '1 s'", "INTERVAL(1000000)");
    CHECK_EXPR("INTERVAL '5 min'", "INTERVAL(300000000)");
    CHECK_EXPR("INTERVAL '250ms'", "INTERVAL(250000)");
    CHECK_EXPR("INTERVAL '2 Hours'", "INTERVAL(7200000000)");
    CHECK_EXPR("INTERVAL '1 d'", "INTERVAL(86400000000)");
    CHECK_EXPR("ts - INTERVAL '5' SECOND", "(- ts INTERVAL(5000000))");
    CHECK_EXPR("interval", "interval"); /* a column */
    CHECK_EXPR_ERR(
        "INTERVAL '10'", 14,
        "expected a unit (SECOND, MINUTE, HOUR, DAY ...) after the INTERVAL value, found "
        "end of input");
    CHECK_EXPR_ERR(
        "INTERVAL 10 SECONDE", 13,
        "expected a unit (SECOND, MINUTE, HOUR, DAY ...) after the INTERVAL value, found "
        "'SECONDE'");
    CHECK_EXPR_ERR("INTERVAL '10 fortnights'", 10,
                   "invalid interval '10 fortnights': expected a unit (us, ms, s, min, h, d or "
                   "their long names) after the number");
    CHECK_EXPR_ERR("INTERVAL 'x' SECOND", 10, "invalid interval 'x': expected a number");
    CHECK_EXPR_ERR("INTERVAL '1' MONTH", 14,
                   "INTERVAL ... MONTH is not supported: months and years have no fixed length "
                   "(use DAY or a smaller unit)");
    CHECK_EXPR_ERR("INTERVAL '106751992' DAY", 10, "interval '106751992' is out of range");
    CHECK_EXPR_ERR("INTERVAL '99999999999999999999999' SECOND", 10,
                   "interval '99999999999999999999999' is out of range");
    CHECK_EXPR_ERR("INTERVAL '0.5' MICROSECOND", 10,
                   "interval '0.5' is not a whole number of microseconds");
    CHECK_EXPR_ERR("INTERVAL '1' DAY TO HOUR", 18,
                   "interval ranges (DAY TO SECOND ...) are not supported: write INTERVAL '90' "
                   "MINUTE");
    CHECK_EXPR("INTERVAL '106751991' DAY", "INTERVAL(9223372022400000000)");
}

static void test_functions(void)
{
    CHECK_EXPR("upper(name)", "UPPER(name)");
    CHECK_EXPR("f()", "F()");
    CHECK_EXPR("concat_ws('-', a, b)", "CONCAT_WS('-' a b)");
    CHECK_EXPR("COUNT(*)", "COUNT(*)");
    CHECK_EXPR("count(DISTINCT user_id)", "COUNT(DISTINCT user_id)");
    CHECK_EXPR("SUM(ALL x)", "SUM(x)");
    CHECK_EXPR("ROW_NUMBER() OVER (PARTITION BY a, b ORDER BY ts DESC, c)",
               "ROW_NUMBER() OVER(PARTITION a b ORDER ts DESC c)");
    CHECK_EXPR("row_number() over (order by x)", "ROW_NUMBER() OVER(ORDER x)");
    CHECK_EXPR("CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' ELSE 'none' END",
               "(CASE WHEN (> a 1) THEN 'big' WHEN (> a 0) THEN 'small' ELSE 'none')");
    CHECK_EXPR("CASE x WHEN 1 THEN 'one' END", "(CASE x WHEN 1 THEN 'one')");
    CHECK_EXPR("CAST(a AS BIGINT)", "CAST(a AS BIGINT)");
    CHECK_EXPR("cast(a as varchar(20))", "CAST(a AS VARCHAR)");
    CHECK_EXPR("CAST(ts AS TIMESTAMP(3) WITH LOCAL TIME ZONE)", "CAST(ts AS TIMESTAMP_LTZ)");
    CHECK_EXPR("TRY_CAST(s AS INT) + 1", "(+ TRY_CAST(s AS INT) 1)");
    CHECK_EXPR("LEFT(s, 2) || RIGHT(s, 1)", "(|| LEFT(s 2) RIGHT(s 1))");
    CHECK_EXPR("t.a + `weird col` + \"Other\"", "(+ (+ t.a weird col) Other)");
    CHECK_EXPR("PROCTIME()", "PROCTIME()");
}

static void test_special_forms(void)
{
    CHECK_EXPR("SUBSTRING(s FROM 2 FOR 3)", "SUBSTRING(s 2 3)");
    CHECK_EXPR("SUBSTRING(s FROM 2)", "SUBSTRING(s 2)");
    CHECK_EXPR("substring(s, 1, 4)", "SUBSTRING(s 1 4)");
    CHECK_EXPR("TRIM(s)", "TRIM(s)");
    CHECK_EXPR("TRIM(BOTH 'x' FROM s)", "TRIM(s 'x')");
    CHECK_EXPR("TRIM(LEADING FROM s)", "LTRIM(s)");
    CHECK_EXPR("trim(trailing '0' from s)", "RTRIM(s '0')");
    CHECK_EXPR("TRIM(' ' FROM s)", "TRIM(s ' ')");
    CHECK_EXPR("EXTRACT(hour FROM ts)", "EXTRACT('HOUR' ts)");
    CHECK_EXPR("POSITION('a' IN s)", "POSITION('a' s)");
    CHECK_EXPR("POSITION(x || 'b' IN s) > 0", "(> POSITION((|| x 'b') s) 0)");
    CHECK_EXPR("TIMESTAMPDIFF(minute, a, b)", "TIMESTAMPDIFF('MINUTE' a b)");
    CHECK_EXPR("TIMESTAMPADD(DAY, 1, ts)", "TIMESTAMPADD('DAY' 1 ts)");
    CHECK_EXPR("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP()");
    CHECK_EXPR("current_date", "CURRENT_DATE()");
    CHECK_EXPR("LOCALTIMESTAMP - INTERVAL '1' HOUR", "(- LOCALTIMESTAMP() INTERVAL(3600000000))");
    CHECK_EXPR("CURRENT_TIMESTAMP()", "CURRENT_TIMESTAMP()");
    CHECK_EXPR_ERR("EXTRACT(HOUR ts)", 14, "expected FROM in EXTRACT, found 'ts'");
    CHECK_EXPR_ERR("POSITION('a' s)", 14, "expected IN in POSITION, found 's'");
    CHECK_EXPR_ERR("TRIM(BOTH 'x' s)", 15, "expected FROM in TRIM, found 's'");
    CHECK_EXPR_ERR("TIMESTAMPDIFF(1, a, b)", 15,
                   "expected a time unit (SECOND, HOUR, DAY ...) in TIMESTAMPDIFF, found '1'");
}

static void test_keywords_as_names(void)
{
    sq_script *s = parse_ok("SELECT value, ts, window_start, count, date, hour, `timestamp`, key, "
                            "time, year, interval, current, data, size, source, sink, \"select\" "
                            "FROM events AS e");
    if (!s) return;
    sq_select *q = s->stmts[0]->query;
    const char *want[] = {"value",     "ts",   "window_start", "count", "date",     "hour",
                          "timestamp", "key",  "time",         "year",  "interval", "current",
                          "data",      "size", "source",       "sink",  "select"};
    CHECK_EQ_INT(q->nitems, 17);
    for (int i = 0; i < 17 && i < q->nitems; i++) {
        CHECK_EQ_INT(q->items[i].expr->kind, SQ_COLUMN);
        CHECK_EQ_STR(q->items[i].expr->name, want[i]);
        CHECK(q->items[i].alias == NULL);
    }
    CHECK_EQ_STR(q->from->alias, "e");
    sq_script_free(s);
    s = parse_ok("CREATE SOURCE source (value STRING, key INT, ts TIMESTAMP, date STRING, "
                 "watermark INT, primary INT) WITH (format = 'csv', key = 'k')");
    if (s) {
        CHECK_EQ_INT(s->stmts[0]->ncolumns, 6);
        CHECK_EQ_STR(s->stmts[0]->columns[4].name, "watermark");
        CHECK_EQ_STR(s->stmts[0]->options[1].key, "key");
    }
    sq_script_free(s);
}

/* ----------------------------------------------------------------- FROM */

static void check_tvf(const char *sql, const char *want)
{
    sq_script *s = parse_ok(sql);
    if (!s) return;
    sq_from *f = s->stmts[0]->query->from;
    CHECK(f && f->kind == SQ_FROM_TVF);
    if (f && f->kind == SQ_FROM_TVF) {
        CHECK_EQ_STR(show(f->tvf), want);
        CHECK_EQ_STR(f->alias, "w");
    }
    sq_script_free(s);
}

static void test_tvf_positional(void)
{
    check_tvf("SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) w",
              "TUMBLE(TABLE bids DESCRIPTOR(ts) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' MINUTES, "
              "INTERVAL '1' MINUTE)) AS w",
              "TUMBLE(TABLE bids DESCRIPTOR(ts) INTERVAL(600000000) INTERVAL(60000000))");
    check_tvf("SELECT * FROM TABLE(HOP(TABLE b, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL "
              "'10' MINUTES)) w",
              "HOP(TABLE b DESCRIPTOR(ts) INTERVAL(300000000) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(CUMULATE(TABLE b, DESCRIPTOR(ts), INTERVAL '2' MINUTES, "
              "INTERVAL '10' MINUTES)) w",
              "CUMULATE(TABLE b DESCRIPTOR(ts) INTERVAL(120000000) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(SESSION(TABLE b, DESCRIPTOR(ts), INTERVAL '30' SECONDS)) w",
              "SESSION(TABLE b DESCRIPTOR(ts) INTERVAL(30000000))");
    sq_script *s = parse_ok("SELECT window_start, COUNT(*) FROM TABLE(\n"
                            "  tumble(TABLE `bids`, DESCRIPTOR(`ts`), INTERVAL '1' HOUR))\n"
                            "GROUP BY window_start, window_end");
    if (s) {
        sq_from *f = s->stmts[0]->query->from;
        CHECK_EQ_INT(f->pos.line, 1);
        CHECK_EQ_INT(f->pos.col, 36);
        CHECK_EQ_INT(f->tvf->pos.line, 2);
        CHECK_EQ_INT(f->tvf->pos.col, 3);
        CHECK_EQ_STR(f->tvf->args[0]->name, "bids");
        CHECK(f->alias == NULL);
        CHECK_EQ_INT(s->stmts[0]->query->ngroup, 2);
    }
    sq_script_free(s);
}

static void test_tvf_named(void)
{
    check_tvf("SELECT * FROM TABLE(TUMBLE(DATA => TABLE bids, TIMECOL => DESCRIPTOR(ts), "
              "SIZE => INTERVAL '10' MINUTES)) w",
              "TUMBLE(TABLE bids DESCRIPTOR(ts) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(TUMBLE(SIZE => INTERVAL '10' MINUTES, OFFSET => INTERVAL '1' "
              "MINUTE, TIMECOL => DESCRIPTOR(ts), DATA => TABLE bids)) w",
              "TUMBLE(TABLE bids DESCRIPTOR(ts) INTERVAL(600000000) INTERVAL(60000000))");
    check_tvf("SELECT * FROM TABLE(HOP(TABLE b, DESCRIPTOR(ts), size => INTERVAL '10' MINUTES, "
              "slide => INTERVAL '5' MINUTES)) w",
              "HOP(TABLE b DESCRIPTOR(ts) INTERVAL(300000000) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(CUMULATE(DATA => TABLE b, TIMECOL => DESCRIPTOR(ts), SIZE => "
              "INTERVAL '10' MINUTES, STEP => INTERVAL '2' MINUTES)) w",
              "CUMULATE(TABLE b DESCRIPTOR(ts) INTERVAL(120000000) INTERVAL(600000000))");
    check_tvf("SELECT * FROM TABLE(SESSION(TIMECOL => DESCRIPTOR(ts), GAP => INTERVAL '1' MINUTE, "
              "DATA => TABLE b)) w",
              "SESSION(TABLE b DESCRIPTOR(ts) INTERVAL(60000000))");
}

static void test_tvf_errors(void)
{
    CHECK_ERR("SELECT * FROM TABLE(TUMBEL(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))", 1, 21,
              "unknown window function 'TUMBEL': expected TUMBLE, HOP, CUMULATE or SESSION");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts)))", 1, 51,
              "missing argument SIZE of TUMBLE");
    CHECK_ERR("SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))", 1, 69,
              "missing argument SIZE of HOP");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))", 1, 28,
              "the DATA argument of TUMBLE must be TABLE name");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' MINUTE))", 1, 37,
              "the TIMECOL argument of TUMBLE must be DESCRIPTOR(time column)");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), SIZ => INTERVAL '1' MINUTE))", 1,
              53, "unknown argument 'SIZ' of TUMBLE");
    CHECK_ERR("SELECT * FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, 1))", 1,
              75, "too many arguments for SESSION (it takes 3)");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, DESCRIPTOR(ts)))", 1, 45,
              "positional argument after named arguments in TUMBLE");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DATA => TABLE u))", 1, 37,
              "argument DATA of TUMBLE is given twice");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(a, b), INTERVAL '1' SECOND))", 1, 49,
              "DESCRIPTOR takes exactly one column");
    CHECK_ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND,))", 1, 73,
              "expected an expression, found ')'");
    sq_error err;
    sq_script *s = NULL;
    const char *sql = "SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), SIZ => INTERVAL '1' "
                      "MINUTE))";
    CHECK_EQ_INT(sq_parse(sql, strlen(sql), &s, &err), SPATE_EPARSE);
    CHECK_EQ_STR(err.hint, "did you mean SIZE?");
    sql = "SELECT * FROM TABLE(cumulat(TABLE t))";
    CHECK_EQ_INT(sq_parse(sql, strlen(sql), &s, &err), SPATE_EPARSE);
    CHECK_EQ_STR(err.hint, "did you mean CUMULATE?");
}

static void test_joins(void)
{
    sq_script *s = parse_ok(
        "SELECT * FROM a JOIN b ON a.id = b.id INNER JOIN c ON TRUE LEFT JOIN d ON x "
        "LEFT OUTER JOIN e ON y RIGHT JOIN f ON z RIGHT OUTER JOIN g ON w FULL JOIN h ON v "
        "FULL OUTER JOIN i ON u CROSS JOIN j, k AS kk");
    if (!s) return;
    const sq_join_kind kinds[] = {SQ_JOIN_INNER, SQ_JOIN_INNER, SQ_JOIN_LEFT, SQ_JOIN_LEFT,
                                  SQ_JOIN_RIGHT, SQ_JOIN_RIGHT, SQ_JOIN_FULL, SQ_JOIN_FULL,
                                  SQ_JOIN_CROSS, SQ_JOIN_INNER};
    const char *rights[] = {"b", "c", "d", "e", "f", "g", "h", "i", "j", "k"};
    /* left-deep: the outermost join is the last one */
    sq_from *f = s->stmts[0]->query->from;
    for (int i = 9; i >= 0; i--) {
        CHECK(f && f->kind == SQ_FROM_JOIN);
        if (!f || f->kind != SQ_FROM_JOIN) break;
        CHECK_EQ_INT(f->join, kinds[i]);
        CHECK_EQ_STR(f->right->name, rights[i]);
        CHECK_EQ_INT(f->pos.col, 15);
        if (i >= 8)
            CHECK(f->on == NULL);
        else
            CHECK(f->on != NULL);
        f = f->left;
    }
    CHECK(f && f->kind == SQ_FROM_TABLE);
    if (f) CHECK_EQ_STR(f->name, "a");
    CHECK_EQ_STR(
        show(s->stmts[0]->query->from->left->left->left->left->left->left->left->left->left->on),
        "(= a.id b.id)");
    CHECK_EQ_STR(s->stmts[0]->query->from->right->alias, "kk");
    sq_script_free(s);

    /* temporal joins, with FOR SYSTEM_TIME before or after the alias; subqueries */
    s = parse_ok("SELECT * FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.c = "
                 "r.c JOIN rates r2 FOR SYSTEM_TIME AS OF o.proctime ON TRUE "
                 "JOIN (SELECT a FROM t) sub ON TRUE JOIN ((SELECT 1) UNION ALL (SELECT 2)) AS u "
                 "ON TRUE JOIN (x JOIN y ON p) ON q");
    if (s) {
        sq_from *j = s->stmts[0]->query->from;
        CHECK_EQ_INT(j->right->kind, SQ_FROM_JOIN);
        CHECK_EQ_STR(j->right->left->name, "x");
        CHECK_EQ_STR(show(j->on), "q");
        j = j->left;
        CHECK_EQ_INT(j->right->kind, SQ_FROM_SUBQUERY);
        CHECK_EQ_STR(j->right->alias, "u");
        CHECK(j->right->subquery->union_all != NULL);
        j = j->left;
        CHECK_EQ_INT(j->right->kind, SQ_FROM_SUBQUERY);
        CHECK_EQ_STR(j->right->alias, "sub");
        CHECK_EQ_STR(show(j->right->subquery->items[0].expr), "a");
        j = j->left;
        CHECK_EQ_STR(j->right->alias, "r2");
        CHECK_EQ_STR(show(j->right->system_time), "o.proctime");
        j = j->left;
        CHECK_EQ_STR(j->right->name, "rates");
        CHECK_EQ_STR(j->right->alias, "r");
        CHECK_EQ_STR(show(j->right->system_time), "o.ts");
        CHECK_EQ_STR(j->left->alias, "o");
        CHECK(j->left->system_time == NULL);
    }
    sq_script_free(s);
    CHECK_ERR("SELECT * FROM a JOIN b WHERE x", 1, 24,
              "expected ON and a join condition after the joined table, found 'WHERE'");
    CHECK_ERR("SELECT * FROM a JOIN b USING (id)", 1, 24,
              "JOIN ... USING is not supported: write ON a.x = b.x");
    CHECK_ERR("SELECT * FROM a LEFT b ON x", 1, 22, "expected JOIN, found 'b'");
}

static void test_union_order_limit(void)
{
    sq_script *s =
        parse_ok("SELECT a FROM t UNION ALL SELECT a FROM u UNION ALL (SELECT a FROM v);\n"
                 "SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY a LIMIT 5;\n"
                 "(SELECT a FROM t ORDER BY a LIMIT 2) UNION ALL (SELECT b FROM u "
                 "LIMIT 1);\n"
                 "(SELECT a FROM t ORDER BY a) LIMIT 3;\n"
                 "(SELECT a FROM t LIMIT 3) ORDER BY a");
    if (!s) return;
    sq_select *q = s->stmts[0]->query;
    CHECK_EQ_STR(q->from->name, "t");
    CHECK_EQ_STR(q->union_all->from->name, "u");
    CHECK_EQ_STR(q->union_all->union_all->from->name, "v");
    CHECK(q->union_all->union_all->union_all == NULL);

    /* ORDER BY / LIMIT after a chain: SELECT * FROM (chain) ORDER BY ... */
    q = s->stmts[1]->query;
    CHECK(q->union_all == NULL);
    CHECK_EQ_INT(q->nitems, 1);
    CHECK_EQ_INT(q->items[0].expr->kind, SQ_STAR);
    CHECK_EQ_INT(q->from->kind, SQ_FROM_SUBQUERY);
    CHECK(q->from->alias == NULL);
    CHECK_EQ_INT(q->norder, 1);
    CHECK_EQ_INT(q->limit, 5);
    sq_select *inner = q->from->subquery;
    CHECK_EQ_INT(inner->norder, 0);
    CHECK_EQ_INT(inner->limit, -1);
    CHECK_EQ_STR(inner->union_all->from->name, "u");

    q = s->stmts[2]->query;
    CHECK_EQ_INT(q->norder, 1);
    CHECK_EQ_INT(q->limit, 2);
    CHECK_EQ_INT(q->union_all->limit, 1);
    CHECK_EQ_INT(q->union_all->norder, 0);

    q = s->stmts[3]->query; /* merged: the ordered query gets the limit */
    CHECK_EQ_INT(q->from->kind, SQ_FROM_TABLE);
    CHECK_EQ_INT(q->norder, 1);
    CHECK_EQ_INT(q->limit, 3);

    q = s->stmts[4]->query; /* a limited query ordered: wrapped */
    CHECK_EQ_INT(q->from->kind, SQ_FROM_SUBQUERY);
    CHECK_EQ_INT(q->norder, 1);
    CHECK_EQ_INT(q->limit, -1);
    CHECK_EQ_INT(q->from->subquery->limit, 3);
    sq_script_free(s);

    CHECK_ERR("SELECT a FROM t UNION SELECT b FROM u", 1, 17,
              "only UNION ALL is supported (UNION would remove duplicates)");
    CHECK_ERR("SELECT a FROM t EXCEPT SELECT b FROM u", 1, 17,
              "EXCEPT is not supported: only UNION ALL combines queries");
    CHECK_ERR("SELECT a FROM t LIMIT -1", 1, 23, "expected a row count after LIMIT, found '-'");
    CHECK_ERR("SELECT a FROM t LIMIT 99999999999999999999", 1, 23,
              "integer literal '99999999999999999999' is out of range (BIGINT)");
}

static void test_comments_and_quoting(void)
{
    sq_script *s = parse_ok("-- a leading comment\n"
                            "SELECT /* inline */ `a b`, \"c\"\"d\", `e``f` -- trailing\n"
                            "FROM /* multi\n line */ `my table`;;\n"
                            ";-- only a comment\n"
                            "/* last */");
    if (!s) return;
    CHECK_EQ_INT(s->nstmts, 1);
    sq_select *q = s->stmts[0]->query;
    CHECK_EQ_STR(q->items[0].expr->name, "a b");
    CHECK_EQ_STR(q->items[1].expr->name, "c\"d");
    CHECK_EQ_STR(q->items[2].expr->name, "e`f");
    CHECK_EQ_STR(q->from->name, "my table");
    CHECK_EQ_INT(q->from->pos.line, 4);
    CHECK_EQ_INT(q->from->pos.col, 10);
    CHECK_EQ_INT(s->stmts[0]->pos.line, 2);
    CHECK_EQ_INT(s->stmts[0]->end.line, 4);
    CHECK_EQ_INT(s->stmts[0]->end.col, 20);
    CHECK_EQ_INT(s->len, strlen(s->text));
    sq_script_free(s);

    s = parse_ok("");
    if (s) CHECK_EQ_INT(s->nstmts, 0);
    sq_script_free(s);
    s = parse_ok(" ; -- nothing\n ;");
    if (s) CHECK_EQ_INT(s->nstmts, 0);
    sq_script_free(s);
    s = parse_ok("\xEF\xBB\xBFSHOW SOURCES");
    if (s) CHECK_EQ_INT(s->nstmts, 1);
    sq_script_free(s);
    /* keywords in any case, names keep their spelling */
    s = parse_ok("sElEcT MyCol FrOm MyTable wHeRe MyCol iS nOt NuLl");
    if (s) {
        CHECK_EQ_STR(s->stmts[0]->query->items[0].expr->name, "MyCol");
        CHECK_EQ_STR(s->stmts[0]->query->from->name, "MyTable");
        CHECK_EQ_STR(show(s->stmts[0]->query->where), "(IS NOT NULL MyCol)");
    }
    sq_script_free(s);
}

/* ------------------------------------------------------------------ errors */

static void test_error_messages(void)
{
    CHECK_ERR("SELEC a FROM t", 1, 1,
              "unknown statement 'SELEC': expected CREATE, INSERT, SELECT, SET, RESET, EXPLAIN, "
              "SHOW, DESCRIBE, DROP");
    CHECK_ERR("CREATE SOURCE s (a INT, b STRING WITH (connector = 'x')", 1, 34,
              "expected ')' after the column list, found 'WITH'");
    CHECK_ERR("CREATE SOURCE x (a INT)", 1, 24, "missing WITH (...) options for source 'x'");
    CHECK_ERR("CREATE SOURCE x (a INT);", 1, 24, "missing WITH (...) options for source 'x'");
    CHECK_ERR("CREATE TABLE x WITH (a = 'b')", 1, 16,
              "expected '(' and the columns of table 'x', found 'WITH'");
    CHECK_ERR("CREATE SINK k (a INT) WITH (a = )", 1, 33,
              "expected an option value (a string, number, TRUE/FALSE or a name), found ')'");
    CHECK_ERR("CREATE SINK k WITH (connector 'x')", 1, 31,
              "expected '=' after the option key, found string 'x'");
    CHECK_ERR("CREATE SOURCE s (a INT) WITH ('a' = 'b',)", 1, 41,
              "expected an option key, found ')'");
    CHECK_ERR("SELECT 'abc", 1, 8, "unterminated string literal");
    CHECK_ERR("SELECT `abc", 1, 8, "unterminated quoted identifier");
    CHECK_ERR("SELECT a /* never closed", 1, 10, "unterminated block comment");
    CHECK_ERR("SELECT a # b", 1, 10, "unexpected character '#'");
    CHECK_ERR("SELECT a FROM t WHERE", 1, 22, "expected an expression, found end of input");
    CHECK_ERR("SELECT a, FROM t", 1, 11, "expected an expression, found 'FROM'");
    CHECK_ERR("SELECT a b c FROM t", 1, 12,
              "expected ';' or end of input after the statement, found 'c'");
    CHECK_ERR("SELECT (a + b FROM t", 1, 15, "expected ')' to close the parenthesis, found 'FROM'");
    CHECK_ERR("SELECT * FROM (SELECT 1", 1, 24,
              "expected ')' after the subquery, found end of input");
    CHECK_ERR("SELECT f(a, FROM t", 1, 13, "expected an expression, found 'FROM'");
    CHECK_ERR("SELECT CASE a END", 1, 15, "expected WHEN in CASE, found 'END'");
    CHECK_ERR("SELECT CASE WHEN a THEN b", 1, 26,
              "expected END to close the CASE, found end of input");
    CHECK_ERR("SELECT a IS 3", 1, 13, "expected NULL, TRUE or FALSE after IS, found '3'");
    CHECK_ERR("SELECT a NOT IN 1", 1, 17, "expected '(' and a list after IN, found '1'");
    CHECK_ERR("SELECT a IN (SELECT 1)", 1, 14, "IN (SELECT ...) subqueries are not supported");
    CHECK_ERR("SELECT (SELECT 1)", 1, 9, "subqueries are not supported in expressions");
    CHECK_ERR("SELECT t.* + 1 FROM t", 1, 12,
              "expected ';' or end of input after the statement, found '+'");
    CHECK_ERR("SELECT a + t.* FROM t", 1, 12, "t.* is only allowed in the select list");
    CHECK_ERR("SELECT CAST(a AS) FROM t", 1, 17, "expected a type name, found ')'");
    CHECK_ERR("SELECT CAST(a AS TIMESTAMP WITH TIME ZONE)", 1, 28,
              "TIMESTAMP WITH TIME ZONE is not supported: use TIMESTAMP WITH LOCAL TIME ZONE "
              "(TIMESTAMP_LTZ)");
    CHECK_ERR("SHOW SOURCE", 1, 6,
              "expected SOURCES, TABLES, SINKS, VIEWS or FUNCTIONS after SHOW, found 'SOURCE'");
    CHECK_ERR("DROP SOURCES s", 1, 6,
              "expected SOURCE, TABLE, SINK or VIEW after DROP, found 'SOURCES'");
    CHECK_ERR("CREATE STREAM s", 1, 8,
              "expected SOURCE, TABLE, SINK or VIEW after CREATE, found 'STREAM'");
    CHECK_ERR("INSERT sink SELECT 1", 1, 8, "expected INTO after INSERT, found 'sink'");
    CHECK_ERR("INSERT INTO k VALUES (1)", 1, 15, "expected SELECT, found 'VALUES'");
    CHECK_ERR("INSERT INTO k (a, b) SELECT 1, 2", 1, 15,
              "INSERT INTO k (columns) is not supported: the query's columns fill the sink's in "
              "order");
    CHECK_ERR("EXPLAIN CREATE VIEW v AS SELECT 1", 1, 9,
              "expected a query or an INSERT after EXPLAIN, found 'CREATE'");
    CHECK_ERR("SET a", 1, 6, "expected '=' after the key, found end of input");
    CHECK_ERR("SET a =", 1, 8, "expected a value after '=', found end of input");
    CHECK_ERR("WITH x AS (SELECT 1) SELECT * FROM x", 1, 1,
              "WITH queries (common table expressions) are not supported");
    CHECK_ERR("CREATE SOURCE s (a INT, WATERMARK FOR a AS a, WATERMARK FOR a AS a) WITH ()", 1, 47,
              "a second WATERMARK");
    CHECK_ERR("CREATE SOURCE s (a INT PRIMARY KEY, PRIMARY KEY (a)) WITH ()", 1, 37,
              "a second PRIMARY KEY");
    CHECK_ERR("CREATE TABLE s (a INT, PRIMARY KEY (a) ENFORCED) WITH ()", 1, 40,
              "ENFORCED primary keys are not supported: write PRIMARY KEY (...) NOT ENFORCED");
    CHECK_ERR("SELECT a FROM", 1, 14, "expected a table name, found end of input");
    CHECK_ERR("SELECT 1 2", 1, 10, "expected ';' or end of input after the statement, found '2'");
    CHECK_ERR("SELECT a ORDER a", 1, 16, "expected BY after ORDER, found 'a'");
    CHECK_ERR("SELECT a AS FROM t", 1, 13, "expected an alias after AS, found 'FROM'");
    CHECK_ERR("SELECT a IS DISTINCT FROM b", 1, 13, "IS [NOT] DISTINCT FROM is not supported");
    /* the lexer's error comes in text order: an earlier syntax error wins */
    CHECK_ERR("SELECT a b c; SELECT 'open", 1, 12,
              "expected ';' or end of input after the statement, found 'c'");
    CHECK_ERR("SELECT a, 'open", 1, 11, "unterminated string literal");
}

static void test_error_hints(void)
{
    struct {
        const char *sql, *hint;
    } cases[] = {
        {"SELEC 1", "did you mean SELECT?"},
        {"selct 1", "did you mean SELECT?"},
        {"CRATE SOURCE s", "did you mean CREATE?"},
        {"EXPLIAN SELECT 1", "did you mean EXPLAIN?"},
        {"DESCRBE t", "did you mean DESCRIBE?"},
        {"SHOW SOURCE", "did you mean SOURCES?"},
        {"SHOW FUNCS", ""},
        {"CREATE SORUCE s", "did you mean SOURCE?"},
        {"DROP SNK s", "did you mean SINK?"},
        {"SELECT 1 FROM t UNION ALL SLECT 2", "did you mean SELECT?"},
        {"FOO", ""},
        {"X", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sq_script *s = NULL;
        sq_error err;
        CHECK_EQ_INT(sq_parse(cases[i].sql, strlen(cases[i].sql), &s, &err), SPATE_EPARSE);
        if (strcmp(err.hint, cases[i].hint)) fprintf(stderr, "  case %zu: %s\n", i, cases[i].sql);
        CHECK_EQ_STR(err.hint, cases[i].hint);
    }
}

static void test_error_positions(void)
{
    const char *sql = "CREATE SOURCE s (a INT) WITH (connector = 'files');\n"
                      "\n"
                      "SELECT a,\n"
                      "       b\n"
                      "FROM s\n"
                      "WHERE a = = 1;";
    CHECK_ERR(sql, 6, 11, "expected an expression, found '='");
    CHECK_ERR("SELECT 1;\nSELECT 'a\nb\nc", 2, 8, "unterminated string literal");
    CHECK_ERR("SELECT 'a\nb' 'c' FROM t", 2, 4,
              "expected ';' or end of input after the statement, found string 'c'");
    CHECK_ERR("SELECT a\n  FROM t\n  WHERE", 3, 8, "expected an expression, found end of input");
    CHECK_ERR("SELECT a\n  FROM t\n  WHERE\n\n", 3, 8,
              "expected an expression, found end of input");
    CHECK_ERR("\tSELECT\t'x' +\t# 1", 1, 15, "unexpected character '#'");
    CHECK_ERR("SELECT 1; @", 1, 11, "unexpected character '@'");
    CHECK_ERR("SELECT \x01", 1, 8, "unexpected byte 0x01");
    CHECK_ERR("SELECT a FROM t WHERE x = 'very long string literal that goes on and on' ?", 1, 74,
              "unexpected character '?'");
    CHECK_ERR("SELECT a FROM t 'a very long string literal that goes on and on and on'", 1, 17,
              "expected ';' or end of input after the statement, found string 'a very long "
              "string literal that goes on...");
}

/* Renders err for text into a string (caller frees). */
static char *render(const sq_error *err, const char *name, const char *text)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    sq_error_print(err, name, text, text ? strlen(text) : 0, f);
    fclose(f);
    return buf;
}

static char *render_parse(const char *sql, const char *name)
{
    sq_script *s = NULL;
    sq_error err;
    if (sq_parse(sql, strlen(sql), &s, &err) != SPATE_EPARSE) {
        sq_script_free(s);
        return strdup("(parsed)");
    }
    return render(&err, name, sql);
}

static void test_error_print(void)
{
    char *out = render_parse("SHOW SOURCES;\nSELEC a\n  FROM t", "job.sql");
    CHECK_EQ_STR(out, "job.sql:2:1: error: unknown statement 'SELEC': expected CREATE, INSERT, "
                      "SELECT, SET, RESET, EXPLAIN, SHOW, DESCRIBE, DROP\n"
                      "  SELEC a\n"
                      "  ^~~~~\n"
                      "hint: did you mean SELECT?\n");
    free(out);
    /* tabs are copied so the caret stands under the token */
    out = render_parse("SELECT a,\n\tb\t+ FROM t", NULL);
    CHECK_EQ_STR(out, "<input>:2:6: error: expected an expression, found 'FROM'\n"
                      "  \tb\t+ FROM t\n"
                      "  \t \t  ^~~~\n");
    free(out);
    /* an unterminated string is underlined to the end of its line; CRLF ends are cut */
    out = render_parse("SELECT 1;\r\nSELECT 'abc\r\nmore", "f");
    CHECK_EQ_STR(out, "f:2:8: error: unterminated string literal\n"
                      "  SELECT 'abc\n"
                      "         ^~~~\n");
    free(out);
    /* at the end of input the caret stands just after the last token */
    out = render_parse("SELECT a FROM t WHERE\n", "f");
    CHECK_EQ_STR(out, "f:1:22: error: expected an expression, found end of input\n"
                      "  SELECT a FROM t WHERE\n"
                      "                       ^\n");
    free(out);
    /* a UTF-8 name counts as one column per character in the caret line */
    out = render_parse("SELECT \xC3\xA9t\xC3\xA9, # FROM t", "f");
    CHECK_EQ_STR(out, "f:1:15: error: unexpected character '#'\n"
                      "  SELECT \xC3\xA9t\xC3\xA9, # FROM t\n"
                      "              ^\n");
    free(out);
    out = render_parse("SELECT \xC3\xA9t\xC3\xA9 FROM", "f");
    CHECK_EQ_STR(out, "f:1:18: error: expected a table name, found end of input\n"
                      "  SELECT \xC3\xA9t\xC3\xA9 FROM\n"
                      "                 ^\n");
    free(out);
    /* an error without a place, and one the planner makes with a hint */
    sq_error err;
    sq_fail(&err, (sq_pos){0, 0, 0}, SPATE_ENOMEM, "out of memory");
    out = render(&err, "x.sql", "SELECT 1");
    CHECK_EQ_STR(out, "x.sql: error: out of memory\n");
    free(out);
    const char *sql = "SELECT patient_id, hart_rate FROM vitals";
    CHECK_EQ_INT(
        sq_fail(&err, (sq_pos){19, 1, 20}, SPATE_ENOTFOUND, "unknown column '%s'", "hart_rate"),
        SPATE_ENOTFOUND);
    snprintf(err.hint, sizeof err.hint, "did you mean 'heart_rate'?");
    out = render(&err, "file.sql", sql);
    CHECK_EQ_STR(out, "file.sql:1:20: error: unknown column 'hart_rate'\n"
                      "  SELECT patient_id, hart_rate FROM vitals\n"
                      "                     ^~~~~~~~~\n"
                      "hint: did you mean 'heart_rate'?\n");
    free(out);
    /* no text: only the message */
    out = render(&err, NULL, NULL);
    CHECK_EQ_STR(out, "<input>:1:20: error: unknown column 'hart_rate'\n"
                      "hint: did you mean 'heart_rate'?\n");
    free(out);
}

static void test_edit_distance(void)
{
    CHECK_EQ_INT(sq_edit_distance("SELECT", "select"), 0);
    CHECK_EQ_INT(sq_edit_distance("SELEC", "SELECT"), 1);
    CHECK_EQ_INT(sq_edit_distance("hart_rate", "heart_rate"), 1);
    CHECK_EQ_INT(sq_edit_distance("kitten", "sitting"), 3);
    CHECK_EQ_INT(sq_edit_distance("", "abc"), 3);
    CHECK_EQ_INT(sq_edit_distance("abc", ""), 3);
    CHECK_EQ_INT(sq_edit_distance("EXPLIAN", "EXPLAIN"), 2);
    char a[200], b[200];
    memset(a, 'a', 150);
    a[150] = 0;
    memset(b, 'a', 150);
    b[149] = 'b';
    b[150] = 0;
    CHECK_EQ_INT(sq_edit_distance(a, b), 1);
}

static void test_deep_nesting(void)
{
    static char buf[8192];
    for (int depth = 199; depth <= 201; depth++) {
        size_t n = 0;
        n += (size_t)snprintf(buf, sizeof buf, "SELECT ");
        for (int i = 0; i < depth; i++)
            buf[n++] = '(';
        buf[n++] = '1';
        for (int i = 0; i < depth; i++)
            buf[n++] = ')';
        buf[n] = 0;
        sq_script *s = NULL;
        sq_error err;
        int rc = sq_parse(buf, n, &s, &err);
        if (depth <= 200) {
            CHECK_EQ_INT(rc, 0);
            if (s) CHECK_EQ_STR(show(s->stmts[0]->query->items[0].expr), "1");
        } else {
            CHECK_EQ_INT(rc, SPATE_EPARSE);
            CHECK_EQ_STR(err.msg, "nesting deeper than 200 levels");
            CHECK_EQ_INT(err.pos.col, 8 + 200);
        }
        sq_script_free(s);
    }
    /* every kind of nesting counts: unary minus, NOT, calls, CASE, IN lists, OVER,
     * parenthesized and FROM subqueries, parenthesized joins */
    const char *units[][2] = {
        {"SELECT ", "- "}, /* "--" would start a comment */
        {"SELECT ", "NOT "},
        {"SELECT ", "f("},
        {"SELECT ", "CASE WHEN "},
        {"SELECT ", "x IN ("},
        {"SELECT ", "f() OVER (ORDER BY "},
        {"", "("},
        {"SELECT * FROM ", "(SELECT * FROM "},
        {"SELECT * FROM ", "("},
    };
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "%s", units[u][0]);
        for (int i = 0; i < 201; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", units[u][1]);
        sq_script *s = NULL;
        sq_error err;
        CHECK_EQ_INT(sq_parse(buf, n, &s, &err), SPATE_EPARSE);
        if (strcmp(err.msg, "nesting deeper than 200 levels"))
            fprintf(stderr, "  unit '%s'\n", units[u][1]);
        CHECK_EQ_STR(err.msg, "nesting deeper than 200 levels");
        sq_script_free(s);
    }
    /* long flat chains are not nesting */
    static char flat[200000];
    size_t n = (size_t)snprintf(flat, sizeof flat, "SELECT 1");
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(flat + n, sizeof flat - n, " + %d", i);
    sq_script *s = parse_ok(flat);
    sq_script_free(s);
}

/* The text need not end with a NUL: parse exactly-sized heap copies (ASan
 * catches a read past the end), and a NUL byte inside is an error. */
static void test_not_nul_terminated(void)
{
    const char *samples[] = {"SELECT a FROM t", "SELECT 'abc", "SELECT 12",     "SELECT 1.5e",
                             "SELECT `x",       "SELECT a -",  "SELECT a /* c", "SELECT a --",
                             "SELECT a <",      "SELECT a !",  "SELECT a |",    "SET a = 1 s"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = strlen(samples[i]);
        char *copy = malloc(n);
        memcpy(copy, samples[i], n);
        sq_script *s = NULL;
        sq_error err;
        int rc = sq_parse(copy, n, &s, &err);
        CHECK(rc == 0 || rc == SPATE_EPARSE);
        if (!rc) CHECK_EQ_INT(s->text[n], 0);
        sq_script_free(s);
        free(copy);
    }
    sq_script *s = NULL;
    sq_error err;
    CHECK_EQ_INT(sq_parse("SELECT 1\0 + 2", 13, &s, &err), SPATE_EPARSE);
    CHECK_EQ_STR(err.msg, "unexpected byte 0x00");
    CHECK_EQ_INT(err.pos.col, 9);
    /* only the first len bytes count */
    CHECK_EQ_INT(sq_parse("SELECT 1 garbage", 8, &s, &err), 0);
    sq_script_free(s);
    CHECK_EQ_INT(sq_parse(NULL, 0, &s, NULL), 0);
    if (s) CHECK_EQ_INT(s->nstmts, 0);
    sq_script_free(s);
}

static void test_parse_expr_api(void)
{
    sq_script *h = NULL;
    sq_expr *e = NULL;
    sq_error err;
    CHECK_EQ_INT(sq_parse_expr("a + 1;", 6, &h, &e, &err), 0);
    CHECK_EQ_STR(show(e), "(+ a 1)");
    CHECK_EQ_INT(e->pos.col, 1);
    CHECK_EQ_INT(e->args[1]->pos.col, 5);
    CHECK(h && h->nstmts == 0);
    sq_script_free(h);
    CHECK_EQ_INT(sq_parse_expr("a + 1 b", 7, &h, &e, &err), SPATE_EPARSE);
    CHECK(h == NULL && e == NULL);
    CHECK_EQ_STR(err.msg, "expected end of the expression, found 'b'");
    CHECK_EQ_INT(sq_parse_expr("", 0, &h, &e, &err), SPATE_EPARSE);
    CHECK_EQ_STR(err.msg, "expected an expression, found end of input");
    CHECK_EQ_INT(err.pos.col, 1);
}

/* ------------------------------------------------------------ mutation fuzz */

static const char *const fuzz_samples[] = {
    "CREATE SOURCE IF NOT EXISTS vitals (id BIGINT NOT NULL, name VARCHAR(10), ts TIMESTAMP(3),"
    " WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, PRIMARY KEY (id) NOT ENFORCED) WITH "
    "(connector = 'files', 'path' = '/tmp/x', format.csv.header = true);",
    "CREATE TABLE rates (cur STRING, rate DECIMAL(10, 2), lts TIMESTAMP(3) WITH LOCAL TIME "
    "ZONE, total AS rate * 2) WITH (connector = 'files');",
    "CREATE SINK out (a INT, b STRING) WITH (connector = 'console', rows = 10); CREATE SINK o2 "
    "WITH (connector='blackhole')",
    "CREATE VIEW v AS SELECT a, COUNT(*) AS n FROM t GROUP BY a HAVING COUNT(*) > 1",
    "INSERT INTO out SELECT a, b FROM t WHERE a BETWEEN 1 AND 10 AND b NOT LIKE 'x%' ESCAPE '!'",
    "SET 'table.local-time-zone' = 'UTC'; SET a.b = 1 s; SET TIME ZONE 'Europe/Paris'; SET; "
    "RESET; RESET a.b",
    "EXPLAIN SELECT * FROM t; SHOW SOURCES; SHOW FUNCTIONS; DESCRIBE t; DESC t; DROP VIEW IF "
    "EXISTS v",
    "SELECT window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), "
    "INTERVAL '10' MINUTES)) GROUP BY window_start, window_end",
    "SELECT * FROM TABLE(HOP(DATA => TABLE b, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '5' "
    "MINUTES, SIZE => INTERVAL '10' MINUTES)) AS w",
    "SELECT * FROM TABLE(CUMULATE(TABLE b, DESCRIPTOR(ts), INTERVAL '2' MINUTES, INTERVAL '10' "
    "MINUTES)) w, TABLE(SESSION(TABLE c, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) s",
    "SELECT o.id, r.rate FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON "
    "o.cur = r.cur RIGHT OUTER JOIN x ON TRUE FULL JOIN y ON 1 = 1 CROSS JOIN z, w",
    "SELECT a FROM t UNION ALL (SELECT b FROM u ORDER BY b LIMIT 2) UNION ALL SELECT c FROM v "
    "ORDER BY a DESC NULLS LAST LIMIT 10",
    "SELECT CASE WHEN a > 1 THEN 'x' WHEN a IS NULL THEN 'n' ELSE 'y' END, CASE b WHEN 1 THEN 2 "
    "END, CAST(a AS BIGINT), TRY_CAST(b AS DOUBLE) FROM t",
    "SELECT SUBSTRING(s FROM 2 FOR 3), TRIM(BOTH 'x' FROM s), TRIM(LEADING FROM s), "
    "EXTRACT(HOUR FROM ts), POSITION('a' IN s), TIMESTAMPDIFF(MINUTE, a, b), "
    "TIMESTAMPADD(DAY, 1, ts) FROM t",
    "SELECT CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP, ROW_NUMBER() OVER (PARTITION BY a "
    "ORDER BY ts DESC) AS rn, COUNT(DISTINCT x) FROM t",
    "-- comment\nSELECT /* block */ `quoted col`, \"dq\", 'it''s', -9223372036854775808, 1.5e3, "
    ".5, TIMESTAMP '2024-01-01 00:00:00', DATE '2024-01-01', INTERVAL '10 seconds' FROM t;",
    "SELECT a OR b AND NOT c = 1, a || b, -a * b + c / d % e, x IN (1, 2), y NOT BETWEEN 1 AND "
    "2, z IS NOT TRUE FROM t WHERE value <> 1 AND ts != 2 AND count >= 3",
    "SELECT * FROM (SELECT a FROM t) AS sub JOIN (x JOIN y ON p) ON q WHERE ((a + (b * (c)))) "
    "> 0",
    "SELECT DISTINCT t.*, * FROM t LIMIT 5; (SELECT 1) UNION ALL (SELECT 2)",
    "SELECT a\n\tFROM t\n\tWHERE b = 'line\nbreak' AND c = \"col\"\"x\"",
};

/* Deterministic xorshift so a failure reproduces. */
static uint64_t fuzz_state = 0x9E3779B97F4A7C15ULL;
static uint64_t fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return fuzz_state;
}

/* Visits the whole tree (ASan checks every pointer on the way). */
static int walk_select(const sq_select *q);

static int walk_expr(const sq_expr *e)
{
    if (!e) return 0;
    int n = 1;
    for (int i = 0; i < e->nargs; i++)
        n += walk_expr(e->args[i]);
    for (int i = 0; i < e->nwhens; i++)
        n += walk_expr(e->whens[i]) + walk_expr(e->thens[i]);
    n += walk_expr(e->operand) + walk_expr(e->else_);
    if (e->over) {
        for (int i = 0; i < e->over->npartition; i++)
            n += walk_expr(e->over->partition[i]);
        for (int i = 0; i < e->over->norder; i++)
            n += walk_expr(e->over->order[i].expr);
    }
    if (e->name) n += (int)(strlen(e->name) > 0);
    if (e->str) n += (int)(strlen(e->str) > 0);
    return n;
}

static int walk_from(const sq_from *f)
{
    if (!f) return 0;
    return 1 + walk_from(f->left) + walk_from(f->right) + walk_expr(f->on) + walk_expr(f->tvf) +
           walk_expr(f->system_time) + walk_select(f->subquery);
}

static int walk_select(const sq_select *q)
{
    if (!q) return 0;
    int n = 1;
    for (int i = 0; i < q->nitems; i++)
        n += walk_expr(q->items[i].expr);
    for (int i = 0; i < q->ngroup; i++)
        n += walk_expr(q->group_by[i]);
    for (int i = 0; i < q->norder; i++)
        n += walk_expr(q->order[i].expr);
    return n + walk_from(q->from) + walk_expr(q->where) + walk_expr(q->having) +
           walk_select(q->union_all);
}

static int walk_stmt(const sq_stmt *st)
{
    int n = 1;
    for (int i = 0; i < st->ncolumns; i++)
        n += walk_expr(st->columns[i].computed);
    for (int i = 0; i < st->noptions; i++)
        n += (int)strlen(st->options[i].key) + (int)strlen(st->options[i].value);
    n += walk_expr(st->wm_expr) + walk_select(st->query);
    if (st->inner) n += walk_stmt(st->inner);
    return n;
}

static const char *const fuzz_tokens[] = {
    "(",
    ")",
    ",",
    ";",
    "'",
    "\"",
    "`",
    "--",
    "/*",
    "*/",
    "*",
    ".",
    "=>",
    "||",
    "-",
    "\n",
    "\t",
    "SELECT",
    "FROM",
    "WHERE",
    "TABLE",
    "DESCRIPTOR",
    "INTERVAL",
    "CASE",
    "WHEN",
    "END",
    "NOT",
    "IN",
    "BETWEEN",
    "AND",
    "OR",
    "IS",
    "NULL",
    "JOIN",
    "ON",
    "UNION ALL",
    "WITH",
    "AS",
    "9223372036854775808",
    "1e999",
    "'10 fortnights'",
    "TUMBLE(",
    "CAST(",
    "(((",
    ")))",
    "\0",
    "\xC3\xA9",
    "\xFF",
};

static void test_mutation_fuzz(void)
{
    size_t nsamples = sizeof fuzz_samples / sizeof fuzz_samples[0];
    for (size_t i = 0; i < nsamples; i++) {
        sq_script *s = parse_ok(fuzz_samples[i]);
        if (s)
            for (int k = 0; k < s->nstmts; k++)
                walk_stmt(s->stmts[k]);
        sq_script_free(s);
    }
    int ok = 0, failed = 0;
    char *buf = malloc(8192);
    for (int iter = 0; iter < 20000; iter++) {
        const char *base = fuzz_samples[fuzz_next() % nsamples];
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int edits = 1 + (int)(fuzz_next() % 4);
        for (int k = 0; k < edits; k++) {
            size_t at = n ? fuzz_next() % n : 0;
            switch (fuzz_next() % 6) {
            case 0: /* replace a byte */
                if (n) buf[at] = (char)(fuzz_next() & 0xFF);
                break;
            case 1: /* truncate */
                n = at;
                break;
            case 2: /* delete a range */
            {
                size_t len = fuzz_next() % 16;
                if (at + len > n) len = n - at;
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
                break;
            }
            case 3: /* insert a token */
            case 4: {
                const char *t =
                    fuzz_tokens[fuzz_next() % (sizeof fuzz_tokens / sizeof *fuzz_tokens)];
                size_t len = t[0] ? strlen(t) : 1;
                if (n + len > 4096) break;
                memmove(buf + at + len, buf + at, n - at);
                memcpy(buf + at, t, len);
                n += len;
                break;
            }
            default: /* splice in a piece of another sample */
            {
                const char *o = fuzz_samples[fuzz_next() % nsamples];
                size_t on = strlen(o), from = fuzz_next() % on, len = fuzz_next() % 40;
                if (from + len > on) len = on - from;
                if (n + len > 4096) break;
                memmove(buf + at + len, buf + at, n - at);
                memcpy(buf + at, o + from, len);
                n += len;
            }
            }
        }
        /* an exactly-sized copy: any read past the end is caught */
        char *text = malloc(n ? n : 1);
        memcpy(text, buf, n);
        sq_script *s = NULL;
        sq_error err;
        int rc = sq_parse(text, n, &s, &err);
        if (rc == 0) {
            ok++;
            for (int k = 0; k < s->nstmts; k++)
                walk_stmt(s->stmts[k]);
        } else {
            failed++;
            CHECK_EQ_INT(rc, SPATE_EPARSE);
            CHECK(err.msg[0] != 0);
            CHECK(err.has_pos && err.pos.off <= n && err.pos.line >= 1 && err.pos.col >= 1);
            CHECK(s == NULL);
            char *out = NULL;
            size_t outn = 0;
            FILE *f = open_memstream(&out, &outn);
            sq_error_print(&err, "fuzz.sql", text, n, f);
            fclose(f);
            CHECK(outn > 0);
            free(out);
        }
        sq_script_free(s);
        sq_expr *e = NULL;
        if (sq_parse_expr(text, n, &s, &e, &err) == 0) walk_expr(e);
        sq_script_free(s);
        free(text);
    }
    free(buf);
    /* the edits must exercise both outcomes */
    CHECK(ok > 100);
    CHECK(failed > 5000);
}

const sp_test tests_sql_parser[] = {
    {"sql_parse_lexer_tokens", test_lexer_tokens},
    {"sql_parse_create_source", test_create_source},
    {"sql_parse_create_table_sink_view", test_create_table_sink_view},
    {"sql_parse_insert_and_query", test_insert_and_query},
    {"sql_parse_set_reset", test_set_reset},
    {"sql_parse_explain_show_describe_drop", test_explain_show_describe_drop},
    {"sql_parse_precedence", test_precedence},
    {"sql_parse_predicates", test_predicates},
    {"sql_parse_literals", test_literals},
    {"sql_parse_intervals", test_intervals},
    {"sql_parse_functions", test_functions},
    {"sql_parse_special_forms", test_special_forms},
    {"sql_parse_keywords_as_names", test_keywords_as_names},
    {"sql_parse_tvf_positional", test_tvf_positional},
    {"sql_parse_tvf_named", test_tvf_named},
    {"sql_parse_tvf_errors", test_tvf_errors},
    {"sql_parse_joins", test_joins},
    {"sql_parse_union_order_limit", test_union_order_limit},
    {"sql_parse_comments_and_quoting", test_comments_and_quoting},
    {"sql_parse_error_messages", test_error_messages},
    {"sql_parse_error_hints", test_error_hints},
    {"sql_parse_error_positions", test_error_positions},
    {"sql_parse_error_print", test_error_print},
    {"sql_parse_edit_distance", test_edit_distance},
    {"sql_parse_deep_nesting", test_deep_nesting},
    {"sql_parse_not_nul_terminated", test_not_nul_terminated},
    {"sql_parse_expr_api", test_parse_expr_api},
    {"sql_parse_mutation_fuzz", test_mutation_fuzz},
    {NULL, NULL},
};
