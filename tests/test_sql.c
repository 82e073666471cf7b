#define _GNU_SOURCE /* nftw */
/*
 * test_sql.c - SQL statements end to end: script -> session -> job -> rows.
 *
 * Each test writes its input as CSV files into a scratch directory, runs a script
 * through a session exactly as `spate run --once --format csv` does (bare SELECT
 * results printed as CSV into a memory stream), and compares the rows.
 *
 * Oracle tests: for grouped and windowed queries the same random input goes into an
 * in-memory SQLite database and the batch equivalent of the query runs there; on
 * on-time data (event times rising, so nothing is behind the watermark) the
 * streaming answer must equal the batch one. Updating results are changelogs: the
 * test applies +I/-U/+U rows to a multiset and compares the final table. Numbers are
 * compared after formatting both sides with %.6f (AVG of integers, SUM of integers:
 * exact to that precision), text as is.
 */
#include "test.h"

#include "sql/sql.h"

#include <spate.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ROWS = 4096, ROW_LEN = 256 };

typedef struct result {
    int rc;          /* of exec or the job */
    char *out, *err; /* what the session printed */
} result;

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs script like `spate run --once --format csv`: exec, then the job if any. */
static result run_sql(const char *script)
{
    result r = {0};
    size_t olen = 0, elen = 0;
    FILE *out = open_memstream(&r.out, &olen), *err = open_memstream(&r.err, &elen);
    sq_session_opts o = {.once = 1, .format = SQ_FMT_CSV, .out = out, .err = err,
                         .source_name = "test.sql"};
    sq_session *s;
    r.rc = sq_session_new(&o, &s);
    if (!r.rc) r.rc = sq_session_exec(s, script, strlen(script));
    if (!r.rc && sq_session_has_job(s)) {
        spate_ctx *ctx;
        r.rc = sq_session_build_job(s, &ctx);
        if (!r.rc) {
            r.rc = spate_ctx_start(ctx);
            if (!r.rc) r.rc = spate_ctx_await_termination(ctx, 60000);
            if (r.rc) fprintf(err, "job: %s\n", spate_ctx_error(ctx));
            spate_ctx_free(ctx);
            sq_session_job_done(s);
        }
    }
    sq_session_free(s);
    fclose(out);
    fclose(err);
    return r;
}

static char scratch[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void scratch_make(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/spate-sql-XXXXXX");
    if (!mkdtemp(scratch)) abort();
}

static void scratch_remove(void)
{
    nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    mkdir(dir, 0700);
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

/* Script text with every "$DIR" replaced by the scratch directory. */
static char *with_dir(const char *script)
{
    size_t n = strlen(script) + 1;
    for (const char *p = strstr(script, "$DIR"); p; p = strstr(p + 4, "$DIR")) n += strlen(scratch);
    char *s = malloc(n), *d = s;
    for (const char *p = script; *p;)
        if (strncmp(p, "$DIR", 4) == 0) {
            d += sprintf(d, "%s", scratch);
            p += 4;
        } else *d++ = *p++;
    *d = 0;
    return s;
}

/* ------------------------------------------------------ canonical rows */

/* One CSV line -> fields (no quotes in these tests' data), numbers as %.6f. */
static void canon(const char *line, char *dst, size_t cap)
{
    size_t len = 0;
    dst[0] = 0;
    const char *p = line;
    for (int first = 1;; first = 0) {
        size_t n = strcspn(p, ",\n");
        char field[128];
        snprintf(field, sizeof field, "%.*s", (int)(n < 127 ? n : 127), p);
        char *end;
        double d = strtod(field, &end);
        char val[160];
        if (field[0] && *end == 0) snprintf(val, sizeof val, "%.6f", d);
        else snprintf(val, sizeof val, "%s", field);
        len += (size_t)snprintf(dst + len, cap - len, "%s%s", first ? "" : "|", val);
        p += n;
        if (*p != ',') break;
        p++;
    }
}

typedef struct rowset {
    char (*rows)[ROW_LEN];
    int n;
} rowset;

static void rowset_add(rowset *s, const char *row)
{
    if (!s->rows) s->rows = calloc(MAX_ROWS, ROW_LEN);
    if (s->n < MAX_ROWS) snprintf(s->rows[s->n++], ROW_LEN, "%s", row);
}

static void rowset_remove(rowset *s, const char *row)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->rows[i], row) == 0) {
            memmove(s->rows[i], s->rows[s->n - 1], ROW_LEN);
            s->n--;
            return;
        }
    fprintf(stderr, "  retraction of a row not in the result: %s\n", row);
    sp_test_failures++;
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The rows printed as CSV (header skipped); with changelog, applied. */
static rowset parse_output(const char *out, int changelog)
{
    rowset s = {0};
    const char *line = strchr(out, '\n'); /* skip the header */
    while (line && line[1]) {
        line++;
        char row[ROW_LEN];
        const char *body = line;
        int add = 1;
        if (changelog) {
            add = line[0] == '+';
            body = strchr(line, ',');
            body = body ? body + 1 : line;
        }
        canon(body, row, sizeof row);
        if (add) rowset_add(&s, row);
        else rowset_remove(&s, row);
        line = strchr(line, '\n');
    }
    if (s.rows) qsort(s.rows, (size_t)s.n, ROW_LEN, cmp_row);
    return s;
}

static void check_same(rowset *got, rowset *want, const char *what)
{
    int same = got->n == want->n;
    for (int i = 0; same && i < got->n; i++) same = strcmp(got->rows[i], want->rows[i]) == 0;
    if (!same) {
        fprintf(stderr, "  %s: %d rows, expected %d\n", what, got->n, want->n);
        for (int i = 0; i < got->n || i < want->n; i++) {
            if (i >= 12) break;
            fprintf(stderr, "    got %-40s want %s\n", i < got->n ? got->rows[i] : "-",
                    i < want->n ? want->rows[i] : "-");
        }
        sp_test_failures++;
    }
    free(got->rows);
    free(want->rows);
}

/* ------------------------------------------------------ the oracle */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random on-time events (k, v, ts) into CSV files under scratch/in and a SQLite table t with
 * ts in microseconds. */
static sqlite3 *make_events(uint64_t seed, int n, int files)
{
    rng_state = seed;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    sqlite3_exec(db, "CREATE TABLE t (k TEXT, v INTEGER, ts INTEGER)", NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?)", -1, &ins, NULL);
    int64_t ms = 1700000000000LL + (int64_t)(rnd() % 100000);
    char *text = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int per_file = (n + files - 1) / files, file = 0;
    for (int i = 0; i < n; i++) {
        if (i % per_file == 0) {
            if (f) {
                fclose(f);
                char name[64];
                snprintf(name, sizeof name, "in/part-%03d.csv", file++);
                write_file(name, text);
                free(text);
            }
            f = open_memstream(&text, &len);
            fputs("k,v,ts\n", f);
        }
        ms += 1 + (int64_t)(rnd() % 900); /* distinct times: first/last are defined */
        char k[8];
        snprintf(k, sizeof k, "k%d", (int)(rnd() % 7));
        int null = rnd() % 13 == 0;
        int64_t v = (int64_t)(rnd() % 200) - 50;
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char ts[40];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        if (null) fprintf(f, "%s,,%s.%03dZ\n", k, ts, (int)(ms % 1000));
        else fprintf(f, "%s,%lld,%s.%03dZ\n", k, (long long)v, ts, (int)(ms % 1000));
        sqlite3_bind_text(ins, 1, k, -1, SQLITE_TRANSIENT);
        if (null) sqlite3_bind_null(ins, 2);
        else sqlite3_bind_int64(ins, 2, v);
        sqlite3_bind_int64(ins, 3, ms * 1000);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    fclose(f);
    char name[64];
    snprintf(name, sizeof name, "in/part-%03d.csv", file);
    write_file(name, text);
    free(text);
    sqlite3_finalize(ins);
    /* timestamps as the engine prints them */
    sqlite3_exec(db, "CREATE TEMP VIEW nothing AS SELECT 1", NULL, NULL, NULL);
    return db;
}

static rowset sqlite_rows(sqlite3 *db, const char *sql)
{
    rowset s = {0};
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "  sqlite: %s\n", sqlite3_errmsg(db));
        sp_test_failures++;
        return s;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        char line[ROW_LEN] = "";
        size_t len = 0;
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", c ? "," : "",
                                    t ? (const char *)t : "");
        }
        char row[ROW_LEN];
        canon(line, row, sizeof row);
        rowset_add(&s, row);
    }
    sqlite3_finalize(st);
    if (s.rows) qsort(s.rows, (size_t)s.n, ROW_LEN, cmp_row);
    return s;
}

static const char *const source_ddl =
    "CREATE SOURCE t (k STRING, v INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)"
    " WITH (connector = 'files', path = '$DIR/in', format = 'csv', header = 'true');\n";

/* The engine's ISO form of microseconds x in SQLite. */
#define ISO(x) "strftime('%Y-%m-%dT%H:%M:%SZ', (" x ") / 1000000, 'unixepoch')"

static void oracle_case(uint64_t seed, const char *workers, const char *query, int changelog,
                        const char *sqlite_query)
{
    scratch_make();
    sqlite3 *db = make_events(seed, 1500, 5);
    char *script = malloc(strlen(source_ddl) + strlen(query) + 64);
    sprintf(script, "SET workers = %s;\n%s%s;", workers, source_ddl, query);
    char *text = with_dir(script);
    result r = run_sql(text);
    if (r.rc) {
        fprintf(stderr, "  query failed (%d): %s\n  %s\n", r.rc, r.err, query);
        sp_test_failures++;
    } else {
        rowset got = parse_output(r.out, changelog), want = sqlite_rows(db, sqlite_query);
        char what[128];
        snprintf(what, sizeof what, "seed %llu, %s workers: %.60s", (unsigned long long)seed,
                 workers, query);
        check_same(&got, &want, what);
    }
    result_free(&r);
    free(text);
    free(script);
    sqlite3_close(db);
    scratch_remove();
}

static void test_sql_oracle_filter_project(void)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        oracle_case(seed, seed == 1 ? "1" : "2",
                    "SELECT k, v * 2 + 1 AS w, v / 7 AS q, -v % 5 AS m FROM t "
                    "WHERE v % 3 = 0 AND k <> 'k1' OR v IS NULL AND k = 'k2'",
                    0,
                    "SELECT k, v * 2 + 1, v / 7, -v % 5 FROM t "
                    "WHERE v % 3 = 0 AND k <> 'k1' OR v IS NULL AND k = 'k2'");
}

static void test_sql_oracle_group_by(void)
{
    for (uint64_t seed = 10; seed <= 12; seed++)
        oracle_case(seed, seed == 10 ? "1" : "2",
                    "SELECT k, COUNT(*) AS n, COUNT(v) AS nv, SUM(v) AS s, MIN(v) AS lo, "
                    "MAX(v) AS hi, AVG(v) AS mean FROM t GROUP BY k",
                    1,
                    "SELECT k, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), AVG(v) FROM t "
                    "GROUP BY k");
}

static void test_sql_oracle_group_expr_having(void)
{
    oracle_case(20, "2",
                "SELECT v % 4 AS m, COUNT(*) AS n, SUM(v) AS s FROM t WHERE v IS NOT NULL "
                "GROUP BY v % 4 HAVING COUNT(*) > 100",
                1,
                "SELECT v % 4, COUNT(*), SUM(v) FROM t WHERE v IS NOT NULL GROUP BY v % 4 "
                "HAVING COUNT(*) > 100");
}

static void test_sql_oracle_count_distinct(void)
{
    oracle_case(30, "2", "SELECT k, COUNT(DISTINCT v) AS d FROM t GROUP BY k", 1,
                "SELECT k, COUNT(DISTINCT v) FROM t GROUP BY k");
}

static void test_sql_oracle_distinct(void)
{
    oracle_case(31, "2", "SELECT DISTINCT k, v % 2 AS parity FROM t WHERE v IS NOT NULL", 0,
                "SELECT DISTINCT k, v % 2 FROM t WHERE v IS NOT NULL");
}

static void test_sql_oracle_tumble(void)
{
    for (uint64_t seed = 40; seed <= 42; seed++)
        oracle_case(seed, seed == 40 ? "1" : "2",
                    "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s, MAX(v) AS hi "
                    "FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
                    "GROUP BY k, window_start, window_end",
                    0,
                    "SELECT k, " ISO("ws") ", " ISO("ws + 10000000") ", COUNT(*), SUM(v), MAX(v) "
                    "FROM (SELECT *, ts / 10000000 * 10000000 AS ws FROM t) GROUP BY k, ws");
}

/* With early (and late) firings a window's result is a changelog whose final
 * table must still equal the batch answer. */
static void test_sql_oracle_tumble_early_firing(void)
{
    oracle_case(43, "2",
                "SET emit.early.interval = '2 ms'; SET 'table.exec.emit.allow-lateness' = '1 s';"
                "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s "
                "FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) "
                "GROUP BY k, window_start, window_end",
                1,
                "SELECT k, " ISO("ws") ", " ISO("ws + 10000000") ", COUNT(*), SUM(v) "
                "FROM (SELECT *, ts / 10000000 * 10000000 AS ws FROM t) GROUP BY k, ws");
}

static void test_sql_oracle_hop(void)
{
    oracle_case(50, "2",
                "SELECT k, window_start, window_end, COUNT(*) AS n, MIN(v) AS lo "
                "FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, "
                "INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end",
                0,
                "SELECT k, " ISO("ws") ", " ISO("ws + 10000000") ", COUNT(*), MIN(v) FROM ("
                "SELECT k, v, ts / 5000000 * 5000000 AS ws FROM t UNION ALL "
                "SELECT k, v, ts / 5000000 * 5000000 - 5000000 AS ws FROM t) GROUP BY k, ws");
}

static void test_sql_oracle_tumble_shorthand(void)
{
    oracle_case(60, "2",
                "SELECT k, TUMBLE_START(ts, INTERVAL '1' MINUTE) AS ws, COUNT(*) AS n "
                "FROM t GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE)",
                0,
                "SELECT k, " ISO("ws") ", COUNT(*) FROM "
                "(SELECT *, ts / 60000000 * 60000000 AS ws FROM t) GROUP BY k, ws");
}

static void test_sql_oracle_cumulate(void)
{
    char want[1024];
    strcpy(want, "SELECT k, " ISO("ws") ", " ISO("we") ", COUNT(*), SUM(v) FROM (");
    size_t len = strlen(want);
    for (int step = 1; step <= 4; step++)
        len += (size_t)snprintf(want + len, sizeof want - len,
                                "%sSELECT k, v, ts / 20000000 * 20000000 AS ws, "
                                "ts / 20000000 * 20000000 + %d AS we FROM t "
                                "WHERE ts < ts / 20000000 * 20000000 + %d",
                                step > 1 ? " UNION ALL " : "", step * 5000000, step * 5000000);
    snprintf(want + len, sizeof want - len, ") GROUP BY k, ws, we");
    oracle_case(70, "2",
                "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s "
                "FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, "
                "INTERVAL '20' SECOND)) GROUP BY k, window_start, window_end",
                0, want);
}

/* Ties in n do not change the multiset of (window_start, n, rank). */
static void test_sql_oracle_window_top_n(void)
{
    oracle_case(80, "2",
                "SELECT window_start, n, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
                "window_start, window_end ORDER BY n DESC) AS rn FROM (SELECT k, window_start, "
                "window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), "
                "INTERVAL '30' SECOND)) GROUP BY k, window_start, window_end)) WHERE rn <= 3",
                0,
                "SELECT " ISO("ws") ", n, rn FROM (SELECT ws, n, ROW_NUMBER() OVER (PARTITION BY "
                "ws ORDER BY n DESC) AS rn FROM (SELECT ts / 30000000 * 30000000 AS ws, k, "
                "COUNT(*) AS n FROM t GROUP BY ws, k)) WHERE rn <= 3");
}

static void test_sql_oracle_dedup(void)
{
    oracle_case(90, "2",
                "SELECT k, v, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) "
                "AS rn FROM t) WHERE rn = 1",
                0,
                "SELECT k, v, strftime('%Y-%m-%dT%H:%M:%fZ', ts / 1000000.0, 'unixepoch') "
                "FROM t WHERE ts IN (SELECT MIN(ts) FROM t GROUP BY k)");
    oracle_case(91, "2",
                "SELECT k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) "
                "AS rn FROM t) WHERE rn = 1",
                1, "SELECT k, v FROM t WHERE ts IN (SELECT MAX(ts) FROM t GROUP BY k)");
}

static const char *const pos_neg =
    "CREATE VIEW pos AS SELECT * FROM t WHERE v > 0;\n"
    "CREATE VIEW neg AS SELECT * FROM t WHERE v <= 0;\n";

static void test_sql_oracle_interval_join(void)
{
    char q[1024];
    snprintf(q, sizeof q, "%sSELECT a.k, a.v, b.v AS w FROM pos a JOIN neg b ON a.k = b.k AND "
                          "b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts + INTERVAL '2' SECOND",
             pos_neg);
    oracle_case(100, "2", q, 0,
                "SELECT a.k, a.v, b.v FROM t a JOIN t b ON a.k = b.k AND a.v > 0 AND b.v <= 0 "
                "AND b.ts BETWEEN a.ts - 1000000 AND a.ts + 2000000");
}

static void test_sql_oracle_window_join(void)
{
    char q[1024];
    snprintf(q, sizeof q,
             "%sSELECT l.k, l.window_start, l.v, r.v AS w FROM "
             "TABLE(TUMBLE(TABLE pos, DESCRIPTOR(ts), INTERVAL '5' SECOND)) l JOIN "
             "TABLE(TUMBLE(TABLE neg, DESCRIPTOR(ts), INTERVAL '5' SECOND)) r ON l.k = r.k AND "
             "l.window_start = r.window_start AND l.window_end = r.window_end",
             pos_neg);
    oracle_case(110, "2", q, 0,
                "SELECT a.k, " ISO("a.ts / 5000000 * 5000000") ", a.v, b.v FROM t a JOIN t b ON "
                "a.k = b.k AND a.v > 0 AND b.v <= 0 AND a.ts / 5000000 = b.ts / 5000000");
}

/* Aggregating updating results: retractions move rows between groups, and a
 * group whose last row is retracted leaves the final table (-D). */
static void test_sql_oracle_retract(void)
{
    oracle_case(120, "2",
                "SELECT n, COUNT(*) AS keys, MIN(k) AS first_key FROM (SELECT k, COUNT(*) AS n "
                "FROM t WHERE v > 100 GROUP BY k) GROUP BY n",
                1,
                "SELECT n, COUNT(*), MIN(k) FROM (SELECT k, COUNT(*) AS n FROM t WHERE v > 100 "
                "GROUP BY k) GROUP BY n");
    oracle_case(121, "2",
                "SELECT v % 3 AS m, COUNT(*) AS n, SUM(v) AS s, MAX(k) AS hi FROM (SELECT * FROM "
                "(SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM t) "
                "WHERE rn = 1) WHERE v IS NOT NULL GROUP BY v % 3",
                1,
                "SELECT v % 3, COUNT(*), SUM(v), MAX(k) FROM t WHERE ts IN (SELECT MAX(ts) FROM t "
                "GROUP BY k) AND v IS NOT NULL GROUP BY v % 3");
}

/* ------------------------------------------------------ exact cases */

static void check_out(const char *script, const char *expected_out)
{
    char *text = with_dir(script);
    result r = run_sql(text);
    if (r.rc) {
        fprintf(stderr, "  failed (%d): %s\n", r.rc, r.err);
        sp_test_failures++;
    } else CHECK_EQ_STR(r.out, expected_out);
    result_free(&r);
    free(text);
}

/* The changelog of an unbounded GROUP BY. With batch.rows = 1 every row is its
 * own batch, and the continuous style emits after each: the sequence is exact. */
static void test_sql_changelog_ops(void)
{
    scratch_make();
    write_file("in/1.csv", "k,v\na,1\nb,5\n");
    write_file("in/2.csv", "k,v\na,2\n");
    write_file("in/3.csv", "k,v\nb,0\n");
    check_out("SET workers = 1; SET batch.rows = 1;"
              "CREATE SOURCE s (k STRING, v INT) WITH (connector = 'files', path = '$DIR/in', "
              "format = 'csv', header = 'true');"
              "SELECT k, SUM(v) AS total, MAX(v) AS top FROM s GROUP BY k;",
              "op,k,total,top\n"
              "+I,a,1,1\n+I,b,5,5\n"
              "-U,a,1,1\n+U,a,3,2\n");
    /* b's SUM and MAX did not change with v = 0: nothing is emitted for it */
    scratch_remove();
}

static void test_sql_having_retracts(void)
{
    scratch_make();
    write_file("in/1.csv", "k,v\na,10\n");
    write_file("in/2.csv", "k,v\na,-8\n");
    check_out("SET workers = 1; SET batch.rows = 1;"
              "CREATE SOURCE s (k STRING, v INT) WITH (connector = 'files', path = '$DIR/in', "
              "format = 'csv', header = 'true');"
              "SELECT k, SUM(v) AS total FROM s GROUP BY k HAVING SUM(v) > 5;",
              "op,k,total\n+I,a,10\n-U,a,10\n");
    scratch_remove();
}

static void test_sql_lookup_join(void)
{
    scratch_make();
    write_file("in/1.csv", "id,amount\n1,10.5\n2,3\n9,4\n1,1\n");
    write_file("ref/names.csv", "id,name\n1,one\n2,two\n3,three\n");
    const char *ddl = "SET workers = 2;"
                      "CREATE SOURCE s (id INT, amount DOUBLE) WITH (connector = 'files', "
                      "path = '$DIR/in', format = 'csv', header = 'true');"
                      "CREATE TABLE names (id BIGINT, name STRING) WITH (connector = 'files', "
                      "path = '$DIR/ref/names.csv', format = 'csv', header = 'true');";
    char script[1024];
    snprintf(script, sizeof script, "%s SELECT s.id, n.name, s.amount * 2 AS twice FROM s "
                                    "JOIN names AS n ON s.id = n.id;", ddl);
    char *text = with_dir(script);
    result r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    rowset got = parse_output(r.out ? r.out : "", 0), want = {0};
    rowset_add(&want, "1.000000|one|21.000000");
    rowset_add(&want, "1.000000|one|2.000000");
    rowset_add(&want, "2.000000|two|6.000000");
    qsort(want.rows, (size_t)want.n, ROW_LEN, cmp_row);
    check_same(&got, &want, "inner lookup join");
    result_free(&r);
    free(text);
    snprintf(script, sizeof script, "%s SELECT s.id, n.name FROM s LEFT JOIN names n "
                                    "ON s.id = n.id WHERE s.id > 1;", ddl);
    text = with_dir(script);
    r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    got = parse_output(r.out ? r.out : "", 0);
    want = (rowset){0};
    rowset_add(&want, "2.000000|two");
    rowset_add(&want, "9.000000|");
    qsort(want.rows, (size_t)want.n, ROW_LEN, cmp_row);
    check_same(&got, &want, "left lookup join");
    result_free(&r);
    free(text);
    /* two joins with one table in one job: each loads it with a job of its own */
    snprintf(script, sizeof script, "%s SELECT n.name FROM s JOIN names n ON s.id = n.id "
                                    "WHERE s.id = 2; SELECT n.name FROM s JOIN names n "
                                    "ON s.id = n.id WHERE s.id = 2;", ddl);
    text = with_dir(script);
    r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_STR(r.out, "name\ntwo\nname\ntwo\n");
    result_free(&r);
    free(text);
    scratch_remove();
}

static void test_sql_computed_and_view(void)
{
    scratch_make();
    write_file("in/1.csv", "a,b\n3,4\n5,12\n");
    check_out("CREATE SOURCE s (a INT, b INT, c AS a * a + b * b) WITH (connector = 'files', "
              "path = '$DIR/in', format = 'csv', header = 'true');"
              "CREATE VIEW big AS SELECT a, c FROM s WHERE c > 30;"
              "SELECT a, c, c - 1 AS d FROM big;",
              "a,c,d\n5,169,168\n");
    scratch_remove();
}

/* Aggregates beyond SQL's five, session windows, UNION ALL, GROUP BY alias and the
 * session time zone, on a small input whose answers are worked out by hand. */
static void test_sql_more_aggregates(void)
{
    scratch_make();
    write_file("in/1.csv", "k,v,ts\n"
                           "a,3,2024-03-10T06:00:00Z\n"
                           "a,1,2024-03-10T06:00:20Z\n"
                           "b,7,2024-03-10T06:00:30Z\n"
                           "a,3,2024-03-10T06:00:40Z\n"
                           "a,9,2024-03-10T06:05:00Z\n"
                           "b,,2024-03-10T06:05:10Z\n");
    const char *src = "SET workers = 2;"
                      "CREATE SOURCE s (k STRING, v INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - "
                      "INTERVAL '1' SECOND) WITH (connector = 'files', path = '$DIR/in', "
                      "format = 'csv', header = 'true');";
    char script[2048];
    /* sessions with a 1-minute gap: a [06:00:00, 06:01:40) {3,1,3}, a [06:05:00, 06:06:00) {9},
     * b [06:00:30, 06:01:30) {7}, b [06:05:10, 06:06:10) {NULL} */
    snprintf(script, sizeof script,
             "%sSELECT k, window_start, window_end, COUNT(*) AS n, FIRST_VALUE(v) AS f, "
             "LAST_VALUE(v) AS l, APPROX_COUNT_DISTINCT(v) AS d, APPROX_PERCENTILE(v, 0.5) AS med "
             "FROM TABLE(SESSION(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
             "GROUP BY k, window_start, window_end;", src);
    char *text = with_dir(script);
    result r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    if (r.rc) fprintf(stderr, "%s\n", r.err);
    rowset got = parse_output(r.out ? r.out : "", 0), want = {0};
    rowset_add(&want, "a|2024-03-10T06:00:00Z|2024-03-10T06:01:40Z|3.000000|3.000000|3.000000|"
                      "2.000000|3.000000");
    rowset_add(&want, "a|2024-03-10T06:05:00Z|2024-03-10T06:06:00Z|1.000000|9.000000|9.000000|"
                      "1.000000|9.000000");
    rowset_add(&want, "b|2024-03-10T06:00:30Z|2024-03-10T06:01:30Z|1.000000|7.000000|7.000000|"
                      "1.000000|7.000000");
    rowset_add(&want, "b|2024-03-10T06:05:10Z|2024-03-10T06:06:10Z|1.000000|||0.000000|");
    qsort(want.rows, (size_t)want.n, ROW_LEN, cmp_row);
    check_same(&got, &want, "session windows with FIRST/LAST/APPROX aggregates");
    result_free(&r);
    free(text);

    /* UNION ALL of two projections, GROUP BY an alias, and HOUR() in New York time
     * (2024-03-10 is the day DST starts there: 06:00Z is 01:00 EST, 07:00Z 03:00 EDT). */
    write_file("in/2.csv", "k,v,ts\nc,1,2024-03-10T07:00:00Z\n");
    snprintf(script, sizeof script,
             "%sSET TIME ZONE 'America/New_York';"
             "SELECT hr, COUNT(*) AS n FROM (SELECT HOUR(ts) AS hr FROM s WHERE k = 'a' "
             "UNION ALL SELECT HOUR(ts) AS hr FROM s WHERE k <> 'a') GROUP BY hr;", src);
    text = with_dir(script);
    r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    got = parse_output(r.out ? r.out : "", 1);
    want = (rowset){0};
    rowset_add(&want, "1.000000|6.000000"); /* the six rows of 06:00-06:05Z: 01:xx EST */
    rowset_add(&want, "3.000000|1.000000"); /* 07:00Z: 03:00 EDT */
    qsort(want.rows, (size_t)want.n, ROW_LEN, cmp_row);
    check_same(&got, &want, "UNION ALL, GROUP BY alias, session time zone");
    result_free(&r);
    free(text);
    scratch_remove();
}

/* A fixed-schema source without a column list, a computed column on it, and LIMIT
 * stopping an unbounded job after its rows. */
static void test_sql_generator_limit(void)
{
    result r = run_sql("SET workers = 1;"
                       "CREATE SOURCE g (seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP, "
                       "twice AS seq * 2) WITH (connector = 'generator', count = '10');"
                       "SELECT seq, twice FROM g WHERE seq >= 7;");
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_STR(r.out, "seq,twice\n7,14\n8,16\n9,18\n");
    result_free(&r);
    /* unbounded (no count) and not --once: only LIMIT ends it */
    size_t olen = 0, elen = 0;
    char *out = NULL, *err = NULL;
    FILE *fo = open_memstream(&out, &olen), *fe = open_memstream(&err, &elen);
    sq_session_opts o = {.format = SQ_FMT_CSV, .out = fo, .err = fe};
    sq_session *s;
    REQUIRE_OK(sq_session_new(&o, &s));
    const char *q = "SET workers = 1; CREATE SOURCE g WITH (connector = 'generator');"
                    "SELECT seq FROM g LIMIT 4;";
    CHECK_EQ_INT(sq_session_exec(s, q, strlen(q)), 0);
    spate_ctx *ctx;
    CHECK_EQ_INT(sq_session_build_job(s, &ctx), 0);
    CHECK_EQ_INT(spate_ctx_start(ctx), 0);
    CHECK_EQ_INT(spate_ctx_await_termination(ctx, 20000), 0);
    spate_ctx_free(ctx);
    sq_session_job_done(s);
    sq_session_free(s);
    fclose(fo);
    fclose(fe);
    CHECK_EQ_STR(out, "seq\n0\n1\n2\n3\n");
    free(out);
    free(err);
}

/* Errors: the message, the line:column and the caret of sq_error_print. */
static void check_error(const char *script, const char *expected_err)
{
    char *text = with_dir(script);
    result r = run_sql(text);
    CHECK(r.rc != 0);
    if (!r.err || !strstr(r.err, expected_err)) {
        fprintf(stderr, "  expected an error containing:\n%s\n  got:\n%s\n", expected_err,
                r.err ? r.err : "");
        sp_test_failures++;
    }
    result_free(&r);
    free(text);
}

static const char *const vitals =
    "CREATE SOURCE vitals (patient_id STRING, heart_rate INT, ts TIMESTAMP)\n"
    "  WITH (connector = 'files', path = '/nonexistent', format = 'csv');\n";

static void test_sql_error_unknown_column(void)
{
    char s[1024];
    snprintf(s, sizeof s, "%sSELECT patient_id, hart_rate FROM vitals;", vitals);
    check_error(s, "test.sql:3:20: error: unknown column 'hart_rate'\n"
                   "  SELECT patient_id, hart_rate FROM vitals;\n"
                   "                     ^~~~~~~~~\n"
                   "hint: did you mean 'heart_rate'?");
}

static void test_sql_error_window_without_watermark(void)
{
    char s[1024];
    snprintf(s, sizeof s,
             "%sSELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE vitals, DESCRIPTOR(ts), "
             "INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;", vitals);
    check_error(s, "window on 'ts' without a watermark");
    check_error(s, "hint: declare WATERMARK FOR ts AS ts - INTERVAL '5' SECOND");
}

static void test_sql_error_ungrouped_column(void)
{
    char s[1024];
    snprintf(s, sizeof s, "%sSELECT patient_id, heart_rate, COUNT(*) FROM vitals GROUP BY "
                          "patient_id;", vitals);
    check_error(s, "column 'heart_rate' is neither grouped nor aggregated");
}

static void test_sql_error_options(void)
{
    check_error("CREATE SOURCE s (a INT) WITH (connector = 'files', pathh = 'x');",
                "test.sql:1:52: error: unknown option 'pathh' for connector 'files'");
    check_error("CREATE SOURCE s (a INT) WITH (connector = 'files', pathh = 'x');",
                "hint: did you mean 'path'?");
    check_error("CREATE SOURCE s (a INT) WITH (connector = 'file');",
                "unknown source connector 'file'");
    check_error("CREATE SOURCE s (a INT) WITH (connector = 'files');",
                "needs the option 'path'");
    check_error("CREATE SINK k WITH (format = 'csv');", "has no connector option");
    check_error("CREATE SOURCE g (seq INT) WITH (connector = 'generator');",
                "connector 'generator' has a fixed schema: (seq BIGINT, key BIGINT, "
                "value DOUBLE, ts TIMESTAMP)");
    check_error("SET worker = 2;", "unknown option 'worker'");
    check_error("SET workers = 'many';", "error:");
    check_error("SET TIME ZONE 'Mars/Olympus';", "unknown time zone 'Mars/Olympus'");
}

static void test_sql_error_unknown_table_and_function(void)
{
    char s[1024];
    snprintf(s, sizeof s, "%sSELECT * FROM vital;", vitals);
    check_error(s, "hint: did you mean 'vitals'?");
    snprintf(s, sizeof s, "%sSELECT UPPR(patient_id) FROM vitals;", vitals);
    check_error(s, "UPPR");
    snprintf(s, sizeof s, "%sINSERT INTO vitals SELECT * FROM vitals;", vitals);
    check_error(s, "no sink named 'vitals'");
    snprintf(s, sizeof s, "%sSELECT a.patient_id FROM vitals a JOIN vitals b "
                          "ON a.patient_id = b.patient_id;", vitals);
    check_error(s, "needs a time bound");
}

static void test_sql_show_describe_explain(void)
{
    scratch_make();
    char *text = with_dir("CREATE SOURCE s (k STRING, ts TIMESTAMP, WATERMARK FOR ts AS ts - "
                          "INTERVAL '5' SECOND) WITH (connector = 'files', path = '$DIR', "
                          "format = 'csv');"
                          "CREATE SINK out WITH (connector = 'console');"
                          "SHOW SOURCES; SHOW SINKS; DESCRIBE s;"
                          "EXPLAIN INSERT INTO out SELECT k, window_end, COUNT(*) AS n FROM "
                          "TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
                          "GROUP BY k, window_start, window_end;");
    result r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    const char *want[] = {"s\nout\n", "source s\n", "  k ", "WATERMARK FOR ts AS",
                          "Source s: files(", "WithEventTime ts", "KeyBy",
                          "WindowAggregate TUMBLE size=60000 ms", "Sink out: console"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!r.out || !strstr(r.out, want[i])) {
            fprintf(stderr, "  output lacks '%s':\n%s\n", want[i], r.out ? r.out : "");
            sp_test_failures++;
        }
    result_free(&r);
    free(text);
    scratch_remove();
}

/* Two references to one source in a job read one source node (fan-out). */
static void test_sql_source_shared(void)
{
    result r = run_sql("CREATE SOURCE s (k STRING, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH "
                       "(connector = 'files', path = '/nonexistent', format = 'csv');"
                       "CREATE VIEW a AS SELECT k, ts FROM s WHERE k = 'a';"
                       "EXPLAIN SELECT a.k, b.ts FROM a JOIN s AS b ON a.k = b.k AND "
                       "b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' MINUTE;");
    CHECK_EQ_INT(r.rc, 0);
    int sources = 0;
    for (const char *p = r.out; p && (p = strstr(p, "Source s:")); p++) sources++;
    CHECK_EQ_INT(sources, 1);
    CHECK(r.out && strstr(r.out, "IntervalJoin"));
    result_free(&r);
}

static void test_sql_insert_casts_to_sink_columns(void)
{
    scratch_make();
    char *text = with_dir("CREATE SOURCE s (a INT, b STRING) WITH (connector = 'files', "
                          "path = '$DIR/in', format = 'csv', header = 'true');"
                          "CREATE SINK o (x DOUBLE, y STRING) WITH (connector = 'files', "
                          "path = '$DIR/out', format = 'csv', header = 'true');"
                          "INSERT INTO o SELECT a + 1, UPPER(b) FROM s;");
    write_file("in/1.csv", "a,b\n1,x\n2,y\n");
    result r = run_sql(text);
    CHECK_EQ_INT(r.rc, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/out/part-00000.csv", scratch);
    FILE *f = fopen(path, "r");
    char buf[256] = "";
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    CHECK_EQ_STR(buf, "x,y\n2.0,X\n3.0,Y\n");
    result_free(&r);
    free(text);
    scratch_remove();
}

const sp_test tests_sql[] = {
    {"sql_oracle_filter_project", test_sql_oracle_filter_project},
    {"sql_oracle_group_by", test_sql_oracle_group_by},
    {"sql_oracle_group_expr_having", test_sql_oracle_group_expr_having},
    {"sql_oracle_count_distinct", test_sql_oracle_count_distinct},
    {"sql_oracle_distinct", test_sql_oracle_distinct},
    {"sql_oracle_tumble", test_sql_oracle_tumble},
    {"sql_oracle_tumble_early_firing", test_sql_oracle_tumble_early_firing},
    {"sql_oracle_hop", test_sql_oracle_hop},
    {"sql_oracle_tumble_shorthand", test_sql_oracle_tumble_shorthand},
    {"sql_oracle_cumulate", test_sql_oracle_cumulate},
    {"sql_oracle_window_top_n", test_sql_oracle_window_top_n},
    {"sql_oracle_dedup", test_sql_oracle_dedup},
    {"sql_oracle_interval_join", test_sql_oracle_interval_join},
    {"sql_oracle_window_join", test_sql_oracle_window_join},
    {"sql_oracle_retract", test_sql_oracle_retract},
    {"sql_changelog_ops", test_sql_changelog_ops},
    {"sql_having_retracts", test_sql_having_retracts},
    {"sql_lookup_join", test_sql_lookup_join},
    {"sql_more_aggregates", test_sql_more_aggregates},
    {"sql_generator_limit", test_sql_generator_limit},
    {"sql_computed_and_view", test_sql_computed_and_view},
    {"sql_error_unknown_column", test_sql_error_unknown_column},
    {"sql_error_window_without_watermark", test_sql_error_window_without_watermark},
    {"sql_error_ungrouped_column", test_sql_error_ungrouped_column},
    {"sql_error_options", test_sql_error_options},
    {"sql_error_unknown_table_and_function", test_sql_error_unknown_table_and_function},
    {"sql_show_describe_explain", test_sql_show_describe_explain},
    {"sql_source_shared", test_sql_source_shared},
    {"sql_insert_casts_to_sink_columns", test_sql_insert_casts_to_sink_columns},
    {NULL, NULL},
};
