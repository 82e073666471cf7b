/*
 * sql_parser_fuzz.c - libFuzzer harness for the SQL lexer, parser and error
 * printer.
 *
 * Each input is parsed as a script and as a lone expression. A parse must end
 * in 0 or SPATE_EPARSE (SPATE_ENOMEM only if memory runs out); a tree is walked
 * end to end and every node's place must lie inside the text; an error must have
 * a message and a place inside the text, and is printed with its caret line.
 * The input buffer is libFuzzer's, exactly `size` bytes with no terminator, so
 * ASan reports any read past the end. Build with clang (tests/fuzz/CMakeLists.txt)
 * and run, for example:
 *
 *   build-fuzz/tests/fuzz/sql-parser-fuzz -max_total_time=120 corpus/
 */
#include "sql/ast.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t text_size;

static void check_pos(sq_pos pos)
{
    if (pos.off > text_size || pos.line < 1 || pos.col < 1) abort();
}

static void walk_select(const sq_select *q);

static void walk_expr(const sq_expr *e)
{
    if (!e) return;
    check_pos(e->pos);
    for (int i = 0; i < e->nargs; i++) {
        if (!e->args[i]) abort();
        walk_expr(e->args[i]);
    }
    for (int i = 0; i < e->nwhens; i++) {
        walk_expr(e->whens[i]);
        walk_expr(e->thens[i]);
    }
    walk_expr(e->operand);
    walk_expr(e->else_);
    if (e->over) {
        for (int i = 0; i < e->over->npartition; i++)
            walk_expr(e->over->partition[i]);
        for (int i = 0; i < e->over->norder; i++)
            walk_expr(e->over->order[i].expr);
    }
    const char *strs[] = {e->name, e->str, e->qual, e->type_name};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i]) (void)strlen(strs[i]);
    if ((e->kind == SQ_COLUMN || e->kind == SQ_FUNC) && !e->name) abort();
}

static void walk_from(const sq_from *f)
{
    if (!f) return;
    check_pos(f->pos);
    if (f->kind == SQ_FROM_JOIN && (!f->left || !f->right)) abort();
    if (f->kind == SQ_FROM_TABLE && !f->name) abort();
    if (f->kind == SQ_FROM_SUBQUERY && !f->subquery) abort();
    if (f->kind == SQ_FROM_TVF && (!f->tvf || f->tvf->nargs < 3)) abort();
    walk_from(f->left);
    walk_from(f->right);
    walk_expr(f->on);
    walk_expr(f->tvf);
    walk_expr(f->system_time);
    walk_select(f->subquery);
}

static void walk_select(const sq_select *q)
{
    for (; q; q = q->union_all) {
        check_pos(q->pos);
        if (q->nitems < 1) abort();
        for (int i = 0; i < q->nitems; i++)
            walk_expr(q->items[i].expr);
        for (int i = 0; i < q->ngroup; i++)
            walk_expr(q->group_by[i]);
        for (int i = 0; i < q->norder; i++)
            walk_expr(q->order[i].expr);
        walk_from(q->from);
        walk_expr(q->where);
        walk_expr(q->having);
    }
}

static void walk_stmt(const sq_stmt *st)
{
    check_pos(st->pos);
    check_pos(st->end);
    if (st->end.off < st->pos.off) abort();
    for (int i = 0; i < st->ncolumns; i++) {
        if (!st->columns[i].name) abort();
        walk_expr(st->columns[i].computed);
    }
    for (int i = 0; i < st->noptions; i++)
        if (!st->options[i].key || !st->options[i].value) abort();
    for (int i = 0; i < st->nprimary_key; i++)
        (void)strlen(st->primary_key[i]);
    walk_expr(st->wm_expr);
    walk_select(st->query);
    if (st->inner) walk_stmt(st->inner);
}

static void check_error(int rc, const sq_error *err, const uint8_t *data, size_t size)
{
    if (rc == SPATE_ENOMEM) return;
    if (rc != SPATE_EPARSE || !err->msg[0] || !err->has_pos) abort();
    check_pos(err->pos);
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (sink) sq_error_print(err, "fuzz.sql", (const char *)data, size, sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    text_size = size;
    sq_script *s = NULL;
    sq_error err;
    int rc = sq_parse((const char *)data, size, &s, &err);
    if (rc == 0) {
        if (!s || s->len != size || s->text[size] != 0) abort();
        for (int i = 0; i < s->nstmts; i++)
            walk_stmt(s->stmts[i]);
    } else {
        if (s) abort();
        check_error(rc, &err, data, size);
    }
    sq_script_free(s);

    sq_expr *e = NULL;
    rc = sq_parse_expr((const char *)data, size, &s, &e, &err);
    if (rc == 0)
        walk_expr(e);
    else
        check_error(rc, &err, data, size);
    sq_script_free(s);
    return 0;
}
