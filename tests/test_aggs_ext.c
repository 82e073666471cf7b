/*
 * test_aggs_ext.c - the aggregates beyond COUNT/SUM/MIN/MAX/AVG: COUNT_COLUMN,
 * COUNT_DISTINCT, APPROX_COUNT_DISTINCT, APPROX_PERCENTILE, FIRST_VALUE and
 * LAST_VALUE, in spate_aggregate_by_key (per batch and running),
 * spate_aggregate_changelog and spate_window_aggregate, and their checkpoints;
 * and spate_aggregate_retract, the changelog aggregate of an updating input.
 *
 * Expected values never come from the engine. A model keeps the input events in
 * arrival order, groups them (per key, per key and window) and computes each
 * aggregate directly: distinct counts by sorting and counting runs, percentiles
 * by sorting (nearest rank: the value at rank ceil(q n), at least 1), first and
 * last values by walking the group in arrival order. SQLite is a second oracle
 * for the kinds it has (COUNT(col), COUNT(DISTINCT col), MIN, MAX, and first
 * and last values as subqueries ordered by arrival) over random, out-of-order
 * but on-time streams in tumbling windows.
 *
 * Exact kinds are compared exactly; so are percentiles of groups of at most 1000
 * values, which the sketch keeps exactly. Larger inputs check the documented
 * bounds: HyperLogLog within 5% (three standard errors of 1.6%) from 10^4
 * distinct values on, within 3% + 1 below (linear counting); percentiles within
 * 1% normalized rank error over 3 * 10^5 values. The bound tests print what they
 * measured.
 *
 * Arrival order is the queue source's push order: the queue is one instance, and
 * a key's rows keep their order through the hash exchange, so FIRST/LAST are
 * deterministic with 1 or 2 workers. Jobs whose order does not matter (the bound
 * tests) use the generator, whose instances interleave.
 */
#define _GNU_SOURCE /* nftw */
#include "test.h"

#include "spate.h"

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

enum { MAXCOL = 16, SLEN = 32, MAX_REPORTS = 8 };

/* ------------------------------------------------------------------ cells */

/* One value, typed: 'i' integer, 'd' double, 's' string. */
typedef struct xcell {
    char t;
    int null;
    int64_t i;
    double d;
    char s[SLEN];
} xcell;

static xcell cell_i(int64_t i)
{
    return (xcell){.t = 'i', .i = i};
}

static xcell cell_d(double d)
{
    return (xcell){.t = 'd', .d = d};
}

static xcell cell_null(char t)
{
    return (xcell){.t = t, .null = 1};
}

static int cell_eq(const xcell *a, const xcell *b)
{
    if (a->null || b->null) return a->null == b->null;
    if (a->t == 's') return strcmp(a->s, b->s) == 0;
    if (a->t == 'd') return a->d == b->d;
    return a->i == b->i;
}

static const char *cell_text(const xcell *x, char *buf, size_t cap)
{
    if (x->null)
        snprintf(buf, cap, "NULL");
    else if (x->t == 's')
        snprintf(buf, cap, "'%s'", x->s);
    else if (x->t == 'd')
        snprintf(buf, cap, "%.17g", x->d);
    else
        snprintf(buf, cap, "%lld", (long long)x->i);
    return buf;
}

static void read_cell(const spate_row *r, spate_type t, int c, xcell *x)
{
    memset(x, 0, sizeof *x);
    x->t = t == SPATE_STRING || t == SPATE_BYTES ? 's' : t == SPATE_FLOAT64 ? 'd' : 'i';
    x->null = spate_row_is_null(r, c);
    if (x->null) return;
    if (x->t == 's') {
        spate_str s = spate_row_str(r, c);
        snprintf(x->s, sizeof x->s, "%.*s", (int)s.len, s.ptr);
    } else if (x->t == 'd') {
        x->d = spate_row_double(r, c);
    } else {
        x->i = spate_row_int(r, c);
    }
}

/* ---------------------------------------------------- collected output rows */

/* An output row: its group (the first ngroup columns as text), every column, the
 * changelog kind when the last column is op, its arrival order. */
typedef struct xrow {
    char group[48];
    xcell c[MAXCOL];
    int ncols;
    char op[4];
    size_t ord;
} xrow;

typedef struct coll {
    pthread_mutex_t mu;
    int ngroup;
    xrow *r;
    size_t n, cap;
} coll;

static coll *coll_new(int ngroup)
{
    coll *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->ngroup = ngroup;
    return c;
}

static void coll_free(coll *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->r);
    free(c);
}

static int collect(const spate_rows *rs, int64_t time_ms, void *ud)
{
    coll *c = ud;
    const spate_schema *s = spate_rows_schema(rs);
    int ncols = spate_schema_count(s), rc = 0;
    int has_op = !strcmp(spate_schema_name(s, ncols - 1), "op");
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < spate_rows_count(rs) && !rc; i++) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 256;
            xrow *p = realloc(c->r, cap * sizeof *p);
            if (!p) {
                rc = -1;
                break;
            }
            c->r = p;
            c->cap = cap;
        }
        spate_row r;
        spate_rows_get(rs, i, &r);
        xrow *x = &c->r[c->n];
        memset(x, 0, sizeof *x);
        x->ncols = ncols - has_op < MAXCOL ? ncols - has_op : MAXCOL;
        for (int col = 0; col < x->ncols; col++)
            read_cell(&r, spate_schema_type(s, col), col, &x->c[col]);
        if (has_op) {
            spate_str op = spate_row_str(&r, ncols - 1);
            snprintf(x->op, sizeof x->op, "%.*s", (int)op.len, op.ptr);
        }
        size_t len = 0;
        for (int g = 0; g < c->ngroup; g++) {
            char buf[SLEN + 8];
            const xcell *k = &x->c[g];
            len += (size_t)snprintf(x->group + len, sizeof x->group - len, "%s%s", g ? "," : "",
                                    k->t == 's' ? k->s : cell_text(k, buf, sizeof buf));
        }
        x->ord = c->n++;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int by_group(const void *pa, const void *pb)
{
    const xrow *a = pa, *b = pb;
    int c = strcmp(a->group, b->group);
    if (c) return c;
    return (a->ord > b->ord) - (a->ord < b->ord);
}

/* Keeps the last row of each group that is not a retraction, sorted by group. */
static void coll_last(coll *c)
{
    qsort(c->r, c->n, sizeof *c->r, by_group);
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->r[i].op, "-U")) continue;
        if (m && !strcmp(c->r[m - 1].group, c->r[i].group)) m--;
        c->r[m++] = c->r[i];
    }
    c->n = m;
}

static const xrow *coll_find(const coll *c, const char *group)
{
    xrow key;
    snprintf(key.group, sizeof key.group, "%s", group);
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(c->r[mid].group, key.group);
        if (!cmp) return &c->r[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Checks a changelog (rows in arrival order): per group, "+I" first, "-U" equal
 * to the group's current row, "+U" right after the group's "-U" (other groups
 * may come between) and, when strict, different from it. Leaves the last row
 * per group in c (coll_last). Returns the failures. */
static int check_replay(coll *c, int strict)
{
    int bad = 0;
    qsort(c->r, c->n, sizeof *c->r, by_group); /* per group, arrival order kept */
    for (size_t i = 0; i < c->n; i++) {
        const xrow *x = &c->r[i];
        int first = i == 0 || strcmp(c->r[i - 1].group, x->group) != 0;
        const xrow *prev = first ? NULL : &c->r[i - 1];
        const char *why = NULL;
        if (!strcmp(x->op, "+I")) {
            if (prev) why = "+I for a group already emitted";
        } else if (!strcmp(x->op, "-U")) {
            if (!prev || !strcmp(prev->op, "-U")) why = "-U without a current row";
            for (int k = 0; !why && k < x->ncols; k++)
                if (!cell_eq(&x->c[k], &prev->c[k])) why = "-U differs from the current row";
        } else if (!strcmp(x->op, "+U")) {
            if (!prev || strcmp(prev->op, "-U") != 0) why = "+U not after -U";
            int same = 1;
            for (int k = 0; !why && k < x->ncols; k++)
                same &= cell_eq(&x->c[k], &prev->c[k]);
            if (!why && strict && same) why = "-U/+U of an unchanged result";
        } else {
            why = "unknown op";
        }
        if (why && bad++ < MAX_REPORTS)
            fprintf(stderr, "  changelog of %s, row %zu (%s): %s\n", x->group, x->ord, x->op, why);
    }
    for (size_t i = 0; i < c->n; i++) {
        int last = i + 1 == c->n || strcmp(c->r[i + 1].group, c->r[i].group) != 0;
        if (last && !strcmp(c->r[i].op, "-U") && bad++ < MAX_REPORTS)
            fprintf(stderr, "  changelog of %s ends with -U\n", c->r[i].group);
    }
    coll_last(c);
    return bad;
}

/* ------------------------------------------------------------------ events */

/* One input event (k, i, d, s, ts): key "kNN", nullable values, time in ms. */
typedef struct ev {
    int k, s; /* s: a string id (str_of) */
    int64_t i, ts;
    double d;
    int ni, nd, ns;
} ev;

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t rand_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(next_rand(s) % (uint64_t)(hi - lo + 1));
}

/* Strings of varying length: "s<id>" and 0 to 9 more letters. */
static void str_of(int id, char *buf, size_t cap)
{
    snprintf(buf, cap, "s%d%.*s", id, (id % 4) * 3, "xyzxyzxyz");
}

typedef struct evspec {
    int n, nkeys, i_range, d_range, s_range;
    int64_t ts_step; /* ts rises by 0..ts_step per event */
} evspec;

static ev *gen_events(const evspec *p, uint64_t seed)
{
    ev *e = calloc((size_t)p->n, sizeof *e);
    uint64_t s = seed;
    int64_t ts = 0;
    for (int n = 0; n < p->n; n++) {
        ts += rand_in(&s, 0, p->ts_step);
        e[n] = (ev){.k = (int)rand_in(&s, 0, p->nkeys - 1),
                    .s = (int)rand_in(&s, 0, p->s_range - 1),
                    .i = rand_in(&s, -p->i_range / 2, p->i_range - 1 - p->i_range / 2),
                    .ts = ts,
                    .d = (double)rand_in(&s, 0, p->d_range - 1) / 4.0,
                    .ni = rand_in(&s, 0, 9) == 0,
                    .nd = rand_in(&s, 0, 9) == 0,
                    .ns = rand_in(&s, 0, 9) == 0};
    }
    return e;
}

/* Events [from, to) as CSV lines of (k, i, d, s, ts) into a malloc'd string. */
static char *events_csv(const ev *e, int from, int to)
{
    size_t cap = (size_t)(to - from) * 96 + 1, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (int n = from; n < to; n++) {
        char i[24] = "", d[32] = "", s[SLEN] = "";
        if (!e[n].ni) snprintf(i, sizeof i, "%lld", (long long)e[n].i);
        if (!e[n].nd) snprintf(d, sizeof d, "%.17g", e[n].d);
        if (!e[n].ns) str_of(e[n].s, s, sizeof s);
        len += (size_t)snprintf(out + len, cap - len, "k%02d,%s,%s,%s,%lld\n", e[n].k, i, d, s,
                                (long long)e[n].ts);
    }
    return out;
}

static const char *const ev_decl = "k STRING, i BIGINT, d DOUBLE, s STRING, ts BIGINT";

/* --------------------------------------------------------------- the model */

/* The kinds every model test runs, in this order. */
enum {
    A_CNT_I,
    A_DIST_I,
    A_DIST_D,
    A_DIST_S,
    A_APPROX_S,
    A_P50_D,
    A_P90_I,
    A_FIRST_S,
    A_LAST_S,
    A_FIRST_I,
    A_LAST_D,
    NKINDS
};

static const spate_agg kinds[NKINDS] = {
    {SPATE_AGG_COUNT_COLUMN, "i", "cnt_i", 0},
    {SPATE_AGG_COUNT_DISTINCT, "i", "dist_i", 0},
    {SPATE_AGG_COUNT_DISTINCT, "d", "dist_d", 0},
    {SPATE_AGG_COUNT_DISTINCT, "s", "dist_s", 0},
    {SPATE_AGG_APPROX_COUNT_DISTINCT, "s", "approx_s", 0},
    {SPATE_AGG_APPROX_PERCENTILE, "d", "p50_d", 0.5},
    {SPATE_AGG_APPROX_PERCENTILE, "i", "p90_i", 0.9},
    {SPATE_AGG_FIRST_VALUE, "s", "first_s", 0},
    {SPATE_AGG_LAST_VALUE, "s", "last_s", 0},
    {SPATE_AGG_FIRST_VALUE, "i", "first_i", 0},
    {SPATE_AGG_LAST_VALUE, "d", "last_d", 0},
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Distinct values of a sorted array of n elements of size sz. */
static int64_t runs(const void *sorted, size_t n, size_t sz)
{
    int64_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += i == 0 ||
             memcmp((const char *)sorted + i * sz, (const char *)sorted + (i - 1) * sz, sz) != 0;
    return r;
}

/* The nearest-rank q-quantile of sorted[0..n): rank ceil(q n), at least 1. */
static double nearest_rank(const double *sorted, size_t n, double q)
{
    double x = q * (double)n;
    size_t t = (size_t)x;
    if ((double)t < x) t++;
    if (t < 1) t = 1;
    return sorted[t - 1];
}

/* The kinds over the events idx[0..n) of e (arrival order) into want. */
static void model_kinds(const ev *e, const int *idx, int n, xcell *want)
{
    int64_t *is = malloc(((size_t)n + 1) * sizeof *is);
    double *ds = malloc(((size_t)n + 1) * sizeof *ds), *ids = malloc(((size_t)n + 1) * sizeof *ids);
    int *ss = malloc(((size_t)n + 1) * sizeof *ss);
    size_t ni = 0, nd = 0, ns = 0;
    const ev *first_s = NULL, *last_s = NULL, *first_i = NULL, *last_d = NULL;
    for (int j = 0; j < n; j++) {
        const ev *x = &e[idx[j]];
        if (!x->ni) {
            ids[ni] = (double)x->i;
            is[ni++] = x->i;
            if (!first_i) first_i = x;
        }
        if (!x->nd) {
            ds[nd++] = x->d;
            last_d = x;
        }
        if (!x->ns) {
            ss[ns++] = x->s;
            if (!first_s) first_s = x;
            last_s = x;
        }
    }
    qsort(is, ni, sizeof *is, cmp_i64);
    qsort(ids, ni, sizeof *ids, cmp_dbl);
    qsort(ds, nd, sizeof *ds, cmp_dbl);
    qsort(ss, ns, sizeof *ss, cmp_int);
    want[A_CNT_I] = cell_i((int64_t)ni);
    want[A_DIST_I] = cell_i(runs(is, ni, sizeof *is));
    want[A_DIST_D] = cell_i(runs(ds, nd, sizeof *ds));
    want[A_DIST_S] = want[A_APPROX_S] = cell_i(runs(ss, ns, sizeof *ss));
    want[A_P50_D] = nd ? cell_d(nearest_rank(ds, nd, 0.5)) : cell_null('d');
    want[A_P90_I] = ni ? cell_d(nearest_rank(ids, ni, 0.9)) : cell_null('d');
    want[A_FIRST_S] = want[A_LAST_S] = cell_null('s');
    if (first_s) {
        want[A_FIRST_S].null = want[A_LAST_S].null = 0;
        str_of(first_s->s, want[A_FIRST_S].s, SLEN);
        str_of(last_s->s, want[A_LAST_S].s, SLEN);
    }
    want[A_FIRST_I] = first_i ? cell_i(first_i->i) : cell_null('i');
    want[A_LAST_D] = last_d ? cell_d(last_d->d) : cell_null('d');
    free(is);
    free(ds);
    free(ids);
    free(ss);
}

/* HyperLogLog's relative standard error is 1.1% in its linear-counting range (the
 * group sizes here), 1.6% above: 5% + 2 is over 4 standard errors. */
static int approx_ok(int64_t got, int64_t exact)
{
    return fabs((double)(got - exact)) <= 0.05 * (double)exact + 2;
}

/* Compares the kinds of got (from column `from`) with want; reports and counts
 * mismatches (*bad, at most MAX_REPORTS reported). */
static void check_kinds(const char *what, const char *group, const xrow *got, int from,
                        const xcell *want, int *bad)
{
    char a[64], b[64];
    if (!got) {
        if ((*bad)++ < MAX_REPORTS) fprintf(stderr, "  %s: %s: no row\n", what, group);
        return;
    }
    for (int k = 0; k < NKINDS; k++) {
        const xcell *g = &got->c[from + k];
        int ok = k == A_APPROX_S ? !g->null && approx_ok(g->i, want[k].i) : cell_eq(g, &want[k]);
        if (ok) continue;
        if ((*bad)++ < MAX_REPORTS)
            fprintf(stderr, "  %s: %s %s: expected %s, got %s\n", what, group, kinds[k].as,
                    cell_text(&want[k], a, sizeof a), cell_text(g, b, sizeof b));
    }
}

/* Per key: the events of e[0..n) of key k in arrival order, and the kinds. */
static void model_key(const ev *e, int n, int k, xcell *want)
{
    int *idx = malloc(((size_t)n + 1) * sizeof *idx), m = 0;
    for (int j = 0; j < n; j++)
        if (e[j].k == k) idx[m++] = j;
    model_kinds(e, idx, m, want);
    free(idx);
}

/* ------------------------------------------------------------------- jobs */

static spate_ctx *ctx_of(int workers, int interval_ms, const char *ttl, const char *ckpt_dir)
{
    spate_conf *conf = spate_conf_new();
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", workers);
    snprintf(iv, sizeof iv, "%d", interval_ms);
    int rc = spate_conf_set(conf, "workers", w) || spate_conf_set(conf, "batch.interval.ms", iv);
    if (!rc && ttl) rc = spate_conf_set(conf, "state.ttl.ms", ttl);
    if (!rc && ckpt_dir)
        rc = spate_conf_set(conf, "checkpoint.dir", ckpt_dir) ||
             spate_conf_set(conf, "checkpoint.interval.ms", "50");
    spate_ctx *ctx = NULL;
    if (rc || spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

/* A queue source of decl (one micro-batch per item when one_at_a_time). */
static spate_stream *queue_of(spate_ctx *ctx, const char *decl, int one_at_a_time, spate_queue **q)
{
    spate_schema *s = NULL;
    spate_stream *st = NULL;
    if (ctx && !spate_schema_parse(decl, &s) && spate_source_queue(ctx, s, one_at_a_time, q, &st))
        st = NULL;
    spate_schema_free(s);
    return st;
}

static spate_stream *key_by1(spate_stream *in, const char *col)
{
    spate_stream *out = NULL;
    const char *cols[] = {col};
    return in && spate_key_by(in, 1, cols, &out) == 0 ? out : NULL;
}

/* Starts the job, pushes the items (NULL-terminated), closes the queue, waits. */
static int run_items(spate_ctx *ctx, spate_queue *q, const char *const *items)
{
    int rc = spate_ctx_start(ctx);
    for (int i = 0; !rc && items[i]; i++)
        rc = spate_queue_push(q, items[i], strlen(items[i]));
    spate_queue_close(q);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    if (rc) fprintf(stderr, "  job: %d %s %s\n", rc, spate_last_error(), spate_ctx_error(ctx));
    return rc;
}

/* The events e[0..n) as nitems queue items (malloc'd, NULL-terminated). */
static char **event_items(const ev *e, int n, int nitems)
{
    char **items = calloc((size_t)nitems + 1, sizeof *items);
    int per = (n + nitems - 1) / nitems, k = 0;
    for (int from = 0; from < n; from += per)
        items[k++] = events_csv(e, from, from + per < n ? from + per : n);
    return items;
}

static void items_free(char **items)
{
    for (int i = 0; items && items[i]; i++)
        free(items[i]);
    free(items);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------- per-batch text results */

/* Each non-empty foreach_batch call as one line: its rows (cells joined by ',',
 * doubles %g, NULL) joined by ';', in order and sorted. */
enum { MAX_BATCHES = 64, BATCH_TEXT = 2048 };

typedef struct text_batches {
    pthread_mutex_t mu;
    int nb;
    char ordered[MAX_BATCHES][BATCH_TEXT], sorted[MAX_BATCHES][BATCH_TEXT];
} text_batches;

static void row_text(const spate_rows *rs, const spate_row *r, char *out, size_t cap)
{
    const spate_schema *s = spate_rows_schema(rs);
    size_t len = 0;
    out[0] = 0;
    for (int c = 0; c < spate_schema_count(s); c++) {
        xcell x;
        char buf[64];
        read_cell(r, spate_schema_type(s, c), c, &x);
        if (x.null)
            snprintf(buf, sizeof buf, "NULL");
        else if (x.t == 's')
            snprintf(buf, sizeof buf, "%s", x.s);
        else if (x.t == 'd')
            snprintf(buf, sizeof buf, "%g", x.d);
        else
            snprintf(buf, sizeof buf, "%lld", (long long)x.i);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", c ? "," : "", buf);
    }
}

static int collect_text(const spate_rows *rs, int64_t time_ms, void *ud)
{
    text_batches *c = ud;
    size_t n = spate_rows_count(rs);
    if (n == 0) return 0;
    char(*text)[128] = calloc(n, sizeof *text);
    char **rows = calloc(n, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        row_text(rs, &r, text[i], sizeof text[i]);
        rows[i] = text[i];
    }
    pthread_mutex_lock(&c->mu);
    if (c->nb < MAX_BATCHES) {
        sp_test_join(c->ordered[c->nb], BATCH_TEXT, rows, n);
        qsort(rows, n, sizeof rows[0], sp_test_cmp_str);
        sp_test_join(c->sorted[c->nb], BATCH_TEXT, rows, n);
        c->nb++;
    }
    pthread_mutex_unlock(&c->mu);
    free(text);
    free(rows);
    return 0;
}

static text_batches *text_new(void)
{
    text_batches *t = calloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

/* Checks the batches: sorted rows always, emission order with one worker. */
static void check_text(const text_batches *c, int workers, const char *const *want)
{
    int n = 0;
    while (want[n])
        n++;
    CHECK_EQ_INT(c->nb, n);
    for (int i = 0; i < n && i < c->nb; i++) {
        char *rows[64], copy[BATCH_TEXT], sorted[BATCH_TEXT];
        size_t nr = 0;
        snprintf(copy, sizeof copy, "%s", want[i]);
        for (char *p = strtok(copy, ";"); p && nr < 64; p = strtok(NULL, ";"))
            rows[nr++] = p;
        qsort(rows, nr, sizeof rows[0], sp_test_cmp_str);
        sp_test_join(sorted, sizeof sorted, rows, nr);
        CHECK_EQ_STR(c->sorted[i], sorted);
        if (workers == 1) CHECK_EQ_STR(c->ordered[i], want[i]);
    }
}

/* ------------------------------------------------- keyed: scripted batches */

static const spate_agg script_aggs[] = {
    {SPATE_AGG_COUNT_COLUMN, "i", NULL, 0},
    {SPATE_AGG_COUNT_DISTINCT, "i", NULL, 0},
    {SPATE_AGG_COUNT_DISTINCT, "s", NULL, 0},
    {SPATE_AGG_APPROX_COUNT_DISTINCT, "s", NULL, 0},
    {SPATE_AGG_APPROX_PERCENTILE, "i", "p50_i", 0.5},
    {SPATE_AGG_APPROX_PERCENTILE, "d", "p100_d", 1},
    {SPATE_AGG_FIRST_VALUE, "s", NULL, 0},
    {SPATE_AGG_LAST_VALUE, "s", NULL, 0},
    {SPATE_AGG_FIRST_VALUE, "d", NULL, 0},
    {SPATE_AGG_LAST_VALUE, "i", NULL, 0},
};
enum { NSCRIPT = sizeof script_aggs / sizeof script_aggs[0] };

/* Key b has only NULLs in the first batch: counts 0, the others NULL. */
static const char *const script_items[] = {"a,3,1.5,pear\na,,,\nb,,,\na,3,2.5,apple\na,1,,fig\n",
                                           "b,,,\nb,7,0.5,kiwi\na,2,1.5,pear\n", NULL};

static void run_script(int workers, int running, const char *const *want)
{
    spate_ctx *ctx = ctx_of(workers, 20, NULL, NULL);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, "k STRING, i INT, d DOUBLE, s STRING", 1, &q), *r;
    text_batches *t = text_new();
    REQUIRE_OK(spate_aggregate_by_key(key_by1(in, "k"), NSCRIPT, script_aggs, running, &r));
    const spate_schema *s = spate_stream_schema(r);
    CHECK_EQ_STR(spate_schema_name(s, 1), "count_column_i");
    CHECK_EQ_STR(spate_schema_name(s, 4), "approx_count_distinct_s");
    CHECK_EQ_STR(spate_schema_name(s, 7), "first_value_s");
    CHECK_EQ_INT(spate_schema_type(s, 1), SPATE_INT64);
    CHECK_EQ_INT(spate_schema_type(s, 5), SPATE_FLOAT64); /* percentile of INT */
    CHECK_EQ_INT(spate_schema_type(s, 9), SPATE_FLOAT64); /* FIRST of DOUBLE */
    CHECK_EQ_INT(spate_schema_type(s, 10), SPATE_INT32);  /* LAST of INT */
    REQUIRE_OK(spate_stream_foreach_batch(r, collect_text, t));
    REQUIRE_OK(run_items(ctx, q, script_items));
    check_text(t, workers, want);
    spate_ctx_free(ctx);
    free(t);
}

static void test_per_batch_script(void)
{
    static const char *const want[] = {
        "a,3,2,3,3,3,2.5,pear,fig,1.5,1;b,0,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL",
        "b,1,1,1,1,7,0.5,kiwi,kiwi,0.5,7;a,1,1,1,1,2,1.5,pear,pear,1.5,2", NULL};
    for (int w = 1; w <= 2; w++)
        run_script(w, 0, want);
}

static void test_running_script(void)
{
    static const char *const want[] = {
        "a,3,2,3,3,3,2.5,pear,fig,1.5,1;b,0,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL",
        "b,1,1,1,1,7,0.5,kiwi,kiwi,0.5,7;a,4,3,3,3,2,2.5,pear,pear,1.5,2", NULL};
    for (int w = 1; w <= 2; w++)
        run_script(w, 1, want);
}

/* ---------------------------------------------- keyed: random, against the model */

enum { RAND_KEYS = 40 };

static const evspec keyed_spec = {20000, RAND_KEYS, 200, 400, 300, 1};

/* Running aggregate (or, changelog != 0, the changelog) of the kinds over the
 * events, keyed by k; rows into c. */
static int run_keyed(int workers, int interval, int changelog, const ev *e, int n, coll *c)
{
    spate_ctx *ctx = ctx_of(workers, interval, NULL, NULL);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, ev_decl, 1, &q), *r = NULL;
    spate_stream *k = key_by1(in, "k");
    int rc = k ? 0 : SPATE_EINVAL;
    if (!rc && changelog)
        rc = spate_aggregate_changelog(k, NKINDS, kinds, &r);
    else if (!rc)
        rc = spate_aggregate_by_key(k, NKINDS, kinds, 1, &r);
    if (!rc) rc = spate_sink_callback(r, collect, c);
    char **items = event_items(e, n, 12);
    if (!rc)
        rc = run_items(ctx, q, (const char *const *)items);
    else if (q)
        spate_queue_close(q);
    items_free(items);
    spate_ctx_free(ctx);
    return rc;
}

/* The last row per key against the model. */
static void check_keyed(const char *what, coll *c, const ev *e, int n)
{
    int bad = 0;
    coll_last(c);
    for (int k = 0; k < RAND_KEYS; k++) {
        char group[16];
        xcell want[NKINDS];
        snprintf(group, sizeof group, "k%02d", k);
        model_key(e, n, k, want);
        check_kinds(what, group, coll_find(c, group), 1, want, &bad);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_running_random(void)
{
    ev *e = gen_events(&keyed_spec, 42);
    for (int w = 1; w <= 2; w++)
        for (int interval = 0; interval <= 20; interval += 20) {
            coll *c = coll_new(1);
            REQUIRE_OK(run_keyed(w, interval, 0, e, keyed_spec.n, c));
            check_keyed(interval ? "running micro-batch" : "running continuous", c, e,
                        keyed_spec.n);
            coll_free(c);
        }
    free(e);
}

/* ------------------------------------------------- bounds of the sketches */

static uint64_t scramble(uint64_t x)
{
    return next_rand(&x);
}

/* The last value of every column per key 0..1 (BIGINT key first). */
typedef struct last_vals {
    pthread_mutex_t mu;
    double v[5][40];
    int seen[5];
} last_vals;

static int collect_vals(const spate_rows *rs, int64_t time_ms, void *ud)
{
    last_vals *l = ud;
    const spate_schema *s = spate_rows_schema(rs);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < spate_rows_count(rs); i++) {
        spate_row r;
        spate_rows_get(rs, i, &r);
        int64_t k = spate_row_int(&r, 0);
        if (k < 0 || k >= 5) continue;
        for (int c = 1; c < spate_schema_count(s) && c <= 40; c++)
            l->v[k][c - 1] = spate_row_is_null(&r, c) ? NAN : spate_row_double(&r, c);
        l->seen[k] = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* generator(count) -> map_batch fn -> key_by(k) -> running aggregates (micro-batches
 * of 100 ms) -> l. */
static int run_generated(int workers, int64_t count, const char *decl, spate_map_batch_fn fn,
                         int naggs, const spate_agg *aggs, last_vals *l)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)count);
    spate_ctx *ctx = ctx_of(workers, 100, NULL, NULL);
    spate_schema *s = NULL;
    spate_stream *g = NULL, *m = NULL, *r = NULL;
    int rc = ctx ? spate_schema_parse(decl, &s) : SPATE_ENOMEM;
    if (!rc)
        rc = spate_source_open(ctx, "generator", NULL,
                               (const char *[]){"count", n, "keys", "4", "rate", "0", NULL}, &g);
    if (!rc) rc = spate_map_batch(g, s, fn, NULL, &m);
    spate_schema_free(s);
    if (!rc) rc = spate_aggregate_by_key(key_by1(m, "k"), naggs, aggs, 1, &r);
    if (!rc) rc = spate_sink_callback(r, collect_vals, l);
    if (!rc) rc = spate_ctx_start(ctx);
    if (!rc) rc = spate_ctx_await_termination(ctx, 60000);
    spate_ctx_free(ctx);
    return rc;
}

enum { PCT_N = 300000, PCT_EXACT = 1000, NQ = 11 };
static const double quantiles[NQ] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1};

/* Key 0: the first PCT_EXACT seqs (exact), key 1 the others. x: a scrambled value
 * (with duplicates), y: seq itself (sorted input). */
static double x_of(int64_t seq)
{
    return (double)(scramble((uint64_t)seq) % 1000000) / 8.0;
}

static int pct_map(const spate_cols *in, spate_cols *out, void *ud)
{
    const int64_t *seq = spate_cols_int64(in, 0);
    int64_t *k = spate_cols_out_int64(out, 0), *y = spate_cols_out_int64(out, 2);
    double *x = spate_cols_out_double(out, 1);
    for (size_t i = 0; i < spate_cols_count(in); i++) {
        k[i] = seq[i] < PCT_EXACT ? 0 : 1;
        x[i] = x_of(seq[i]);
        y[i] = seq[i];
    }
    return 0;
}

static size_t lower_bound(const double *a, size_t n, double v, int upper)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] < v || (upper && a[mid] == v))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* How far (in ranks / n) v is from the nearest-rank q-quantile of sorted[0..n):
 * the distance from the target rank to the ranks v holds; infinite when v is
 * not an input value. */
static double rank_error(const double *sorted, size_t n, double q, double v)
{
    size_t lo = lower_bound(sorted, n, v, 0), hi = lower_bound(sorted, n, v, 1);
    if (lo == hi) return INFINITY;
    double x = q * (double)n;
    size_t t = (size_t)x;
    if ((double)t < x) t++;
    if (t < 1) t = 1;
    if (t < lo + 1) return (double)(lo + 1 - t) / (double)n;
    if (t > hi) return (double)(t - hi) / (double)n;
    return 0;
}

static void test_percentile_bound(void)
{
    spate_agg aggs[2 * NQ];
    char names[2 * NQ][16];
    for (int j = 0; j < 2 * NQ; j++) {
        snprintf(names[j], sizeof names[j], "%c%d", j < NQ ? 'x' : 'y', j % NQ);
        aggs[j] = (spate_agg){SPATE_AGG_APPROX_PERCENTILE, j < NQ ? "x" : "y", names[j],
                              quantiles[j % NQ]};
    }
    last_vals *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    REQUIRE_OK(run_generated(2, PCT_N, "k BIGINT, x DOUBLE, y BIGINT", pct_map, 2 * NQ, aggs, l));
    CHECK(l->seen[0] && l->seen[1]);
    double *xs = malloc(PCT_N * sizeof *xs), *ys = malloc(PCT_N * sizeof *ys), worst = 0;
    for (int k = 0; k <= 1; k++) {
        size_t n = 0;
        for (int64_t seq = 0; seq < PCT_N; seq++)
            if ((seq < PCT_EXACT) == (k == 0)) {
                xs[n] = x_of(seq);
                ys[n++] = (double)seq;
            }
        qsort(xs, n, sizeof *xs, cmp_dbl);
        for (int j = 0; j < 2 * NQ; j++) {
            const double *sorted = j < NQ ? xs : ys, q = quantiles[j % NQ], got = l->v[k][j];
            if (k == 0) {
                if (got != nearest_rank(sorted, n, q))
                    fprintf(stderr, "  key 0 (exact) %s: expected %.17g, got %.17g\n", names[j],
                            nearest_rank(sorted, n, q), got);
                CHECK(got == nearest_rank(sorted, n, q));
                continue;
            }
            double err = rank_error(sorted, n, q, got);
            if (err > 0.01)
                fprintf(stderr, "  %s (q %g): %.17g is %g off in rank\n", names[j], q, got, err);
            CHECK(err <= 0.01);
            if (err > worst) worst = err;
        }
    }
    printf("  percentile over %d values: worst normalized rank error %.3f%%\n", PCT_N - PCT_EXACT,
           100 * worst);
    free(xs);
    free(ys);
    free(l);
}

/* Key j holds hll_sizes[j] distinct seqs. */
static const int64_t hll_sizes[] = {10, 100, 1000, 10000, 100000};
enum { NHLL = sizeof hll_sizes / sizeof hll_sizes[0] };

static int hll_map(const spate_cols *in, spate_cols *out, void *ud)
{
    const int64_t *seq = spate_cols_int64(in, 0);
    int64_t *k = spate_cols_out_int64(out, 0), *b = spate_cols_out_int64(out, 1);
    double *d = spate_cols_out_double(out, 3);
    for (size_t i = 0; i < spate_cols_count(in); i++) {
        int64_t rest = seq[i];
        k[i] = 0;
        while (k[i] < NHLL - 1 && rest >= hll_sizes[k[i]])
            rest -= hll_sizes[k[i]++];
        b[i] = seq[i];
        d[i] = (double)seq[i] * 0.25;
        char s[24];
        int len = snprintf(s, sizeof s, "u%lld", (long long)seq[i]);
        spate_cols_set_str(out, 2, i, s, (size_t)len);
    }
    return 0;
}

static void test_hll_error(void)
{
    static const spate_agg aggs[] = {
        {SPATE_AGG_APPROX_COUNT_DISTINCT, "b", "hb", 0},
        {SPATE_AGG_APPROX_COUNT_DISTINCT, "s", "hs", 0},
        {SPATE_AGG_APPROX_COUNT_DISTINCT, "d", "hd", 0},
        {SPATE_AGG_COUNT_DISTINCT, "b", "eb", 0},
        {SPATE_AGG_COUNT_DISTINCT, "s", "es", 0},
    };
    int64_t total = 0;
    for (int j = 0; j < NHLL; j++)
        total += hll_sizes[j];
    last_vals *l[2];
    for (int w = 1; w <= 2; w++) {
        l[w - 1] = calloc(1, sizeof *l[0]);
        pthread_mutex_init(&l[w - 1]->mu, NULL);
        REQUIRE_OK(run_generated(w, total, "k BIGINT, b BIGINT, s STRING, d DOUBLE", hll_map, 5,
                                 aggs, l[w - 1]));
    }
    for (int k = 0; k < NHLL; k++) {
        double n = (double)hll_sizes[k], bound = n >= 10000 ? 0.05 * n : 0.03 * n + 1;
        printf("  %6.0f distinct:", n);
        for (int j = 0; j < 3; j++) {
            double got = l[0]->v[k][j];
            printf(" %s %+.2f%%", aggs[j].as, 100 * (got - n) / n);
            CHECK(fabs(got - n) <= bound);
            CHECK(l[1]->v[k][j] == got); /* registers do not depend on the order */
        }
        printf("\n");
        CHECK(l[0]->v[k][3] == n && l[0]->v[k][4] == n);
        CHECK(l[1]->v[k][3] == n && l[1]->v[k][4] == n);
    }
    free(l[0]);
    free(l[1]);
}

/* ----------------------------------------------------------- the changelog */

/* Micro-batches: unchanged results (a's in batch 2, b's in 4, c's in 6) emit
 * nothing; NULL results count as results. */
static void test_changelog_script(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT_DISTINCT, "v", "nd", 0},
                                     {SPATE_AGG_MAX, "s", "mx", 0}};
    static const char *const items[] = {"a,1,x\na,2,y\nb,5,m\n",
                                        "a,1,x\nb,6,m\n",
                                        "a,3,\n",
                                        "b,5,a\nb,,\n",
                                        "c,,\n",
                                        "c,,\n",
                                        NULL};
    static const char *const want[] = {"a,2,y,+I;b,1,m,+I", "b,1,m,-U;b,2,m,+U",
                                       "a,2,y,-U;a,3,y,+U", "c,0,NULL,+I", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_of(w, 20, NULL, NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "k STRING, v BIGINT, s STRING", 1, &q), *r;
        text_batches *t = text_new();
        REQUIRE_OK(spate_aggregate_changelog(key_by1(in, "k"), 2, aggs, &r));
        const spate_schema *s = spate_stream_schema(r);
        CHECK_EQ_INT(spate_schema_count(s), 4);
        CHECK_EQ_STR(spate_schema_name(s, 3), "op");
        REQUIRE_OK(spate_stream_foreach_batch(r, collect_text, t));
        REQUIRE_OK(run_items(ctx, q, items));
        check_text(t, w, want);
        spate_ctx_free(ctx);
        free(t);
    }
}

/* A non-keyed stream is one group. */
static void test_changelog_unkeyed(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT_DISTINCT, "v", "nd", 0},
                                     {SPATE_AGG_FIRST_VALUE, "v", "f", 0}};
    static const char *const items[] = {"1\n2\n", "2\n", "3\n1\n", NULL};
    static const char *const want[] = {"2,1,+I", "2,1,-U;3,1,+U", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_of(w, 20, NULL, NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "v BIGINT", 1, &q), *r;
        text_batches *t = text_new();
        REQUIRE_OK(spate_aggregate_changelog(in, 2, aggs, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect_text, t));
        REQUIRE_OK(run_items(ctx, q, items));
        check_text(t, 1, want);
        spate_ctx_free(ctx);
        free(t);
    }
}

/* Random input: the changelog replays consistently into the model's results, in
 * both styles. */
static void test_changelog_random(void)
{
    ev *e = gen_events(&keyed_spec, 7);
    for (int w = 1; w <= 2; w++)
        for (int interval = 0; interval <= 20; interval += 20) {
            coll *c = coll_new(1);
            REQUIRE_OK(run_keyed(w, interval, 1, e, keyed_spec.n, c));
            CHECK(c->n > RAND_KEYS);
            CHECK_EQ_INT(check_replay(c, 1), 0);
            check_keyed(interval ? "changelog micro-batch" : "changelog continuous", c, e,
                        keyed_spec.n);
            coll_free(c);
        }
    free(e);
}

/* state.ttl.ms = 100, micro-batches of 20 ms: a idles ~300 ms and starts over
 * with "+I"; b, touched every batch with the same value, emits once. */
static void test_changelog_ttl(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT_DISTINCT, "v", "nd", 0},
                                     {SPATE_AGG_LAST_VALUE, "s", "last", 0}};
    const char *items[20];
    int n = 0;
    items[n++] = "a,1,x\nb,1,y\n";
    while (n < 16)
        items[n++] = "b,1,y\n";
    items[n++] = "a,2,z\n";
    items[n] = NULL;
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = ctx_of(w, 20, "100", NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "k STRING, v BIGINT, s STRING", 1, &q), *r;
        coll *c = coll_new(1);
        REQUIRE_OK(spate_aggregate_changelog(key_by1(in, "k"), 2, aggs, &r));
        REQUIRE_OK(spate_sink_callback(r, collect, c));
        REQUIRE_OK(run_items(ctx, q, items));
        char seq[2][256] = {"", ""};
        for (size_t i = 0; i < c->n; i++) {
            char v[64];
            snprintf(v, sizeof v, "%lld:%s:%s ", (long long)c->r[i].c[1].i, c->r[i].c[2].s,
                     c->r[i].op);
            strcat(seq[c->r[i].group[0] == 'b'], v);
        }
        CHECK_EQ_STR(seq[0], "1:x:+I 1:z:+I ");
        CHECK_EQ_STR(seq[1], "1:y:+I ");
        spate_ctx_free(ctx);
        coll_free(c);
    }
}

/* ------------------------------------------------------------------ windows */

enum { WIN_KEYS = 12 };

static const evspec win_spec = {6000, WIN_KEYS, 60, 80, 50, 3};

/* queue (one item per micro-batch) -> event time ts (ms, no delay: the events are
 * in order) -> key_by(k) -> window aggregate of the kinds -> c. */
static int run_window(int workers, int interval, const char *ckpt_dir, const spate_window_spec *w,
                      const ev *e, int from, int to, coll *c)
{
    static const spate_event_time et = {.column = "ts", .unit = "ms"};
    spate_ctx *ctx = ctx_of(workers, interval, NULL, ckpt_dir);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, ev_decl, 1, &q), *timed = NULL, *win = NULL;
    int rc = in ? spate_with_event_time(in, &et, &timed) : SPATE_EINVAL;
    if (!rc) rc = spate_window_aggregate(key_by1(timed, "k"), w, NKINDS, kinds, &win);
    if (!rc) rc = spate_sink_callback(win, collect, c);
    char **items = event_items(e + from, to - from, 8);
    if (!rc)
        rc = run_items(ctx, q, (const char *const *)items);
    else if (q)
        spate_queue_close(q);
    items_free(items);
    spate_ctx_free(ctx);
    return rc;
}

/* (key, window start, event) for every window of every event, in arrival order
 * per window once sorted. */
typedef struct member {
    int k;
    int64_t start, end;
    int ev;
} member;

static int by_member(const void *pa, const void *pb)
{
    const member *a = pa, *b = pb;
    if (a->k != b->k) return a->k - b->k;
    if (a->start != b->start) return (a->start > b->start) - (a->start < b->start);
    if (a->end != b->end) return (a->end > b->end) - (a->end < b->end);
    return a->ev - b->ev;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The windows of time ts under w (tumbling, sliding or cumulate, no offset) for
 * event j into m. */
static size_t windows_of(const spate_window_spec *w, int64_t ts, int k, int j, member *m)
{
    int64_t size = w->size_ms, slide = w->kind == SPATE_WINDOW_TUMBLING ? size : w->slide_ms;
    size_t n = 0;
    if (w->kind == SPATE_WINDOW_CUMULATE) {
        int64_t s = floor_div(ts, size) * size;
        for (int64_t end = s + slide; end <= s + size; end += slide)
            if (ts < end) m[n++] = (member){k, s, end, j};
        return n;
    }
    for (int64_t s = floor_div(ts, slide) * slide; s > ts - size; s -= slide)
        m[n++] = (member){k, s, s + size, j};
    return n;
}

/* The model of every (key, window) of e[0..n) under w, against c's last rows
 * (grouped by key, start and end): the kinds (sum: just cnt_i, summed over the
 * group's rows) and no window more or less. */
static void check_windows(const char *what, coll *c, const spate_window_spec *w, const ev *e, int n,
                          int sum)
{
    int64_t slide = w->kind == SPATE_WINDOW_TUMBLING ? w->size_ms : w->slide_ms;
    member *m = malloc((size_t)n * (size_t)(w->size_ms / slide + 1) * sizeof *m);
    size_t nm = 0;
    for (int j = 0; j < n; j++)
        nm += windows_of(w, e[j].ts, e[j].k, j, m + nm);
    qsort(m, nm, sizeof *m, by_member);
    int *idx = malloc(nm * sizeof *idx), bad = 0, groups = 0;
    if (sum) { /* per group: the sum of cnt_i over the rows emitted */
        qsort(c->r, c->n, sizeof *c->r, by_group);
        size_t out = 0;
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->r[i].op, "-U") == 0) continue;
            if (out && !strcmp(c->r[out - 1].group, c->r[i].group))
                c->r[out - 1].c[3 + A_CNT_I].i += c->r[i].c[3 + A_CNT_I].i;
            else
                c->r[out++] = c->r[i];
        }
        c->n = out;
    } else {
        coll_last(c);
    }
    for (size_t a = 0, b; a < nm; a = b) {
        int cnt = 0;
        for (b = a; b < nm && m[b].k == m[a].k && m[b].start == m[a].start && m[b].end == m[a].end;
             b++)
            idx[cnt++] = m[b].ev;
        char group[48];
        xcell want[NKINDS];
        snprintf(group, sizeof group, "k%02d,%lld,%lld", m[a].k, (long long)m[a].start * 1000,
                 (long long)m[a].end * 1000);
        model_kinds(e, idx, cnt, want);
        const xrow *got = coll_find(c, group);
        groups++;
        if (!sum) {
            check_kinds(what, group, got, 3, want, &bad);
        } else if (!got || got->c[3 + A_CNT_I].i != want[A_CNT_I].i) {
            if (bad++ < MAX_REPORTS)
                fprintf(stderr, "  %s: %s: cnt_i summed %lld, expected %lld\n", what, group,
                        got ? (long long)got->c[3 + A_CNT_I].i : -1LL, (long long)want[A_CNT_I].i);
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT((int64_t)c->n, groups);
    free(m);
    free(idx);
}

static const spate_window_spec tumbling = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = 500};
static const spate_window_spec sliding = {
    .kind = SPATE_WINDOW_SLIDING, .size_ms = 1000, .slide_ms = 250};

static void window_case(const spate_window_spec *w, const char *what)
{
    ev *e = gen_events(&win_spec, 99);
    for (int workers = 1; workers <= 2; workers++)
        for (int interval = 0; interval <= 5; interval += 5) {
            coll *c = coll_new(3);
            REQUIRE_OK(run_window(workers, interval, NULL, w, e, 0, win_spec.n, c));
            for (size_t i = 0; i < c->n; i++)
                CHECK_EQ_STR(c->r[i].op, "+I");
            check_windows(what, c, w, e, win_spec.n, 0);
            coll_free(c);
        }
    free(e);
}

static void test_window_tumbling(void)
{
    window_case(&tumbling, "tumbling");
}

static void test_window_sliding(void)
{
    window_case(&sliding, "sliding");
}

/* Cumulate windows [s, s + 250), [s, s + 500) ... [s, s + 1000): panes of 250 ms
 * merged in order, like sliding ones. */
static void test_window_cumulate(void)
{
    static const spate_window_spec cumulate = {
        .kind = SPATE_WINDOW_CUMULATE, .size_ms = 1000, .slide_ms = 250};
    window_case(&cumulate, "cumulate");
}

/* Repeated firings (an early count): accumulating and UPDATE end on the model's
 * totals, retracting replays into them (its copies of sets and sketches), and
 * discarding or purging windows emit parts that add up. */
static void test_window_modes(void)
{
    ev *e = gen_events(&win_spec, 5);
    struct {
        spate_window_spec w;
        int replay, sum;
        const char *what;
    } cases[] = {
        {{.kind = SPATE_WINDOW_TUMBLING,
          .size_ms = 500,
          .accumulation = SPATE_ACC_ACCUMULATING,
          .trigger.early_count = 40},
         0,
         0,
         "accumulating"},
        {{.kind = SPATE_WINDOW_TUMBLING,
          .size_ms = 500,
          .accumulation = SPATE_ACC_RETRACTING,
          .trigger.early_count = 40},
         1,
         0,
         "retracting"},
        {{.kind = SPATE_WINDOW_SLIDING,
          .size_ms = 1000,
          .slide_ms = 250,
          .accumulation = SPATE_ACC_RETRACTING,
          .trigger.early_count = 40},
         1,
         0,
         "sliding retracting"},
        {{.kind = SPATE_WINDOW_SLIDING,
          .size_ms = 1000,
          .slide_ms = 250,
          .output = SPATE_OUTPUT_UPDATE,
          .trigger.early_count = 40},
         0,
         0,
         "sliding update"},
        {{.kind = SPATE_WINDOW_TUMBLING,
          .size_ms = 500,
          .accumulation = SPATE_ACC_DISCARDING,
          .trigger.early_count = 40},
         0,
         1,
         "discarding"},
        {{.kind = SPATE_WINDOW_TUMBLING,
          .size_ms = 500,
          .trigger.early_count = 40,
          .trigger.purge = 1},
         0,
         1,
         "purging"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coll *c = coll_new(3);
        REQUIRE_OK(run_window(2, 0, NULL, &cases[i].w, e, 0, win_spec.n, c));
        if (cases[i].replay) CHECK_EQ_INT(check_replay(c, 0), 0);
        check_windows(cases[i].what, c, &cases[i].w, e, win_spec.n, cases[i].sum);
        coll_free(c);
    }
    free(e);
}

/* A record bridging two sessions merges them: FIRST/LAST take the merged
 * sessions in time order, then the bridging record (the last to arrive). For a,
 * the session created last starts later; for b, earlier. */
static void test_session_first_last(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_FIRST_VALUE, "s", "f", 0},
                                     {SPATE_AGG_LAST_VALUE, "s", "l", 0},
                                     {SPATE_AGG_COUNT_COLUMN, "s", "n", 0}};
    static const spate_event_time et = {.column = "ts", .unit = "ms", .max_delay_ms = 100};
    static const spate_window_spec w = {.kind = SPATE_WINDOW_SESSION, .gap_ms = 10};
    static const char *const items[] = {"a,x,0\na,y,15\na,z,7\nb,p,15\nb,q,0\nb,r,7\n", NULL};
    for (int workers = 1; workers <= 2; workers++) {
        spate_ctx *ctx = ctx_of(workers, 0, NULL, NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "k STRING, s STRING, ts BIGINT", 1, &q), *timed, *win;
        text_batches *t = text_new();
        REQUIRE_OK(spate_with_event_time(in, &et, &timed));
        REQUIRE_OK(spate_window_aggregate(key_by1(timed, "k"), &w, 3, aggs, &win));
        REQUIRE_OK(spate_sink_callback(win, collect_text, t));
        REQUIRE_OK(run_items(ctx, q, items));
        char all[BATCH_TEXT] = "";
        for (int b = 0; b < t->nb; b++)
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", b ? ";" : "",
                     t->ordered[b]);
        char *rows[8], *save = NULL;
        size_t nr = 0;
        for (char *p = strtok_r(all, ";", &save); p && nr < 8; p = strtok_r(NULL, ";", &save))
            rows[nr++] = p;
        qsort(rows, nr, sizeof rows[0], sp_test_cmp_str);
        char got[BATCH_TEXT];
        sp_test_join(got, sizeof got, rows, nr);
        CHECK_EQ_STR(got, "a,0,25000,x,z,3,+I;b,0,25000,q,r,3,+I");
        spate_ctx_free(ctx);
        free(t);
    }
}

/* ------------------------------------------------------ SQLite as an oracle */

/* COUNT(col), COUNT(DISTINCT col) of three types, string MIN/MAX and first/last
 * values per key and tumbling window; APPROX_COUNT_DISTINCT against COUNT
 * DISTINCT within approx_ok. Streams are out of order within the watermark's
 * delay, never late (as in test_oracle.c), so the windows equal SQL's GROUP BY;
 * first and last follow the arrival order, seq in SQL. */
static const spate_agg oracle_aggs[] = {
    {SPATE_AGG_COUNT_COLUMN, "i", NULL, 0},
    {SPATE_AGG_COUNT_COLUMN, "s", NULL, 0},
    {SPATE_AGG_COUNT_DISTINCT, "i", NULL, 0},
    {SPATE_AGG_COUNT_DISTINCT, "d", NULL, 0},
    {SPATE_AGG_COUNT_DISTINCT, "s", NULL, 0},
    {SPATE_AGG_MIN, "s", NULL, 0},
    {SPATE_AGG_MAX, "s", NULL, 0},
    {SPATE_AGG_FIRST_VALUE, "i", NULL, 0},
    {SPATE_AGG_LAST_VALUE, "s", NULL, 0},
    {SPATE_AGG_FIRST_VALUE, "d", NULL, 0},
    {SPATE_AGG_LAST_VALUE, "i", NULL, 0},
    {SPATE_AGG_APPROX_COUNT_DISTINCT, "i", NULL, 0},
};
enum {
    NORACLE = sizeof oracle_aggs / sizeof oracle_aggs[0],
    ORACLE_STREAMS = 40,
    ORACLE_EVENTS = 400
};

static const char oracle_sql[] =
    "WITH w AS (SELECT *, t - ((t % :size) + :size) % :size AS ws FROM ev)"
    " SELECT k, ws, count(i), count(s), count(DISTINCT i), count(DISTINCT d), count(DISTINCT s),"
    "  min(s), max(s),"
    "  (SELECT i FROM w x WHERE x.k = w.k AND x.ws = w.ws AND i IS NOT NULL ORDER BY seq LIMIT 1),"
    "  (SELECT s FROM w x WHERE x.k = w.k AND x.ws = w.ws AND s IS NOT NULL"
    "   ORDER BY seq DESC LIMIT 1),"
    "  (SELECT d FROM w x WHERE x.k = w.k AND x.ws = w.ws AND d IS NOT NULL ORDER BY seq LIMIT 1),"
    "  (SELECT i FROM w x WHERE x.k = w.k AND x.ws = w.ws AND i IS NOT NULL"
    "   ORDER BY seq DESC LIMIT 1),"
    "  count(DISTINCT i)"
    " FROM w GROUP BY k, ws ORDER BY k, ws";

/* Out-of-order events: a clock rising by 0..step, each event lagging it by up to
 * delay. Times may be negative (floor alignment). */
static int oracle_events(uint64_t seed, ev *e, int64_t *size, int64_t *delay)
{
    uint64_t s = seed;
    *size = rand_in(&s, 1, 100);
    *delay = rand_in(&s, 0, 60);
    int n = (int)rand_in(&s, 1, ORACLE_EVENTS), nkeys = (int)rand_in(&s, 1, 8);
    int64_t clock = rand_in(&s, -3000, 3000), step = rand_in(&s, 0, 10);
    int s_range = (int)rand_in(&s, 1, 40), i_range = (int)rand_in(&s, 1, 50);
    for (int j = 0; j < n; j++) {
        clock += rand_in(&s, 0, step);
        e[j] = (ev){.k = (int)rand_in(&s, 0, nkeys - 1),
                    .s = (int)rand_in(&s, 0, s_range - 1),
                    .i = rand_in(&s, -i_range, i_range),
                    .ts = clock - rand_in(&s, 0, *delay),
                    .d = (double)rand_in(&s, 0, 20) / 4.0,
                    .ni = rand_in(&s, 0, 5) == 0,
                    .nd = rand_in(&s, 0, 5) == 0,
                    .ns = rand_in(&s, 0, 5) == 0};
    }
    return n;
}

static int oracle_sqlite(const ev *e, int n, int64_t size, coll *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(":memory:", &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "CREATE TABLE ev (seq INTEGER, k TEXT, t INTEGER, i INTEGER, "
                          "d REAL, s TEXT)",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO ev VALUES (?,?,?,?,?,?)", -1, &st, NULL);
    for (int j = 0; rc == SQLITE_OK && j < n; j++) {
        char k[8], s[SLEN];
        snprintf(k, sizeof k, "k%02d", e[j].k);
        str_of(e[j].s, s, sizeof s);
        sqlite3_bind_int64(st, 1, j);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, e[j].ts);
        if (e[j].ni)
            sqlite3_bind_null(st, 4);
        else
            sqlite3_bind_int64(st, 4, e[j].i);
        if (e[j].nd)
            sqlite3_bind_null(st, 5);
        else
            sqlite3_bind_double(st, 5, e[j].d);
        if (e[j].ns)
            sqlite3_bind_null(st, 6);
        else
            sqlite3_bind_text(st, 6, s, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, oracle_sql, -1, &st, NULL);
    if (rc == SQLITE_OK) sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":size"), size);
    static const char types[NORACLE] = {'i', 'i', 'i', 'i', 'i', 's', 's', 'i', 's', 'd', 'i', 'i'};
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        xrow x = {.ncols = 3 + NORACLE, .ord = out->n};
        snprintf(x.group, sizeof x.group, "%s,%lld", (const char *)sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1) * 1000);
        for (int a = 0; a < NORACLE; a++) {
            xcell *c = &x.c[3 + a];
            c->t = types[a];
            c->null = sqlite3_column_type(st, 2 + a) == SQLITE_NULL;
            if (c->t == 's' && !c->null)
                snprintf(c->s, sizeof c->s, "%s", (const char *)sqlite3_column_text(st, 2 + a));
            else if (c->t == 'd')
                c->d = sqlite3_column_double(st, 2 + a);
            else
                c->i = sqlite3_column_int64(st, 2 + a);
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->r = realloc(out->r, out->cap * sizeof *out->r);
        }
        out->r[out->n++] = x;
    }
    if (rc != SQLITE_OK) fprintf(stderr, "  sqlite: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int oracle_engine(const ev *e, int n, int64_t size, int64_t delay, int workers, int interval,
                         coll *out)
{
    const spate_event_time et = {.column = "ts", .unit = "ms", .max_delay_ms = delay};
    const spate_window_spec w = {.kind = SPATE_WINDOW_TUMBLING, .size_ms = size};
    spate_ctx *ctx = ctx_of(workers, interval, NULL, NULL);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, ev_decl, 0, &q), *timed = NULL, *win = NULL;
    int rc = in ? spate_with_event_time(in, &et, &timed) : SPATE_EINVAL;
    if (!rc) rc = spate_window_aggregate(key_by1(timed, "k"), &w, NORACLE, oracle_aggs, &win);
    if (!rc) rc = spate_sink_callback(win, collect, out);
    char **items = event_items(e, n, 4);
    if (!rc)
        rc = run_items(ctx, q, (const char *const *)items);
    else if (q)
        spate_queue_close(q);
    items_free(items);
    spate_ctx_free(ctx);
    return rc;
}

/* Both sides' rows, sorted by group; 0 when equal (first difference reported). */
static int oracle_compare(uint64_t seed, coll *want, coll *got)
{
    char a[64], b[64];
    qsort(got->r, got->n, sizeof *got->r, by_group);
    qsort(want->r, want->n, sizeof *want->r, by_group);
    if (got->n != want->n) {
        fprintf(stderr, "  seed %llu: %zu rows, SQLite %zu\n", (unsigned long long)seed, got->n,
                want->n);
        return 1;
    }
    for (size_t i = 0; i < got->n; i++) {
        const xrow *g = &got->r[i], *w = &want->r[i];
        if (strcmp(g->group, w->group) || strcmp(g->op, "+I")) {
            fprintf(stderr, "  seed %llu: row %s (%s), SQLite %s\n", (unsigned long long)seed,
                    g->group, g->op, w->group);
            return 1;
        }
        for (int k = 0; k < NORACLE; k++) {
            const xcell *x = &g->c[3 + k], *y = &w->c[3 + k];
            int ok = k == NORACLE - 1 ? !x->null && approx_ok(x->i, y->i) : cell_eq(x, y);
            if (ok) continue;
            fprintf(stderr, "  seed %llu: %s column %d: SQLite %s, got %s\n",
                    (unsigned long long)seed, g->group, 3 + k, cell_text(y, a, sizeof a),
                    cell_text(x, b, sizeof b));
            return 1;
        }
    }
    return 0;
}

static void oracle_run(int workers, uint64_t seed0)
{
    ev *e = calloc(ORACLE_EVENTS, sizeof *e);
    int bad = 0;
    for (int s = 0; s < ORACLE_STREAMS && bad < MAX_REPORTS; s++) {
        uint64_t seed = seed0 + (uint64_t)s;
        int64_t size, delay;
        int n = oracle_events(seed, e, &size, &delay);
        coll *want = coll_new(2), *got = coll_new(2);
        int failed = oracle_sqlite(e, n, size, want) ||
                     oracle_engine(e, n, size, delay, workers, s % 2 ? 5 : 0, got) ||
                     oracle_compare(seed, want, got);
        bad += failed;
        coll_free(want);
        coll_free(got);
    }
    CHECK_EQ_INT(bad, 0);
    free(e);
}

static void test_oracle_w1(void)
{
    oracle_run(1, 7000);
}

static void test_oracle_w2(void)
{
    oracle_run(2, 8000);
}

/* -------------------------------------------------------------- checkpoints */

/* Three runs on one checkpoint directory with 2, 3, then 2 workers, each pushing
 * its part of the events: the running aggregate's rows of each run hold the
 * totals over every part so far (the state reached the new owners of the key
 * groups), and the changelog of all runs replays into them - its first rows
 * after a restore are "-U" with the previous run's results, not "+I". */
static void test_ckpt_keyed(void)
{
    static const int workers[3] = {2, 3, 2};
    static const int cut[4] = {0, 2000, 4100, 6000};
    static const evspec spec = {6000, RAND_KEYS, 200, 400, 300, 1};
    char dir[] = "/tmp/spate-aggx-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    ev *e = gen_events(&spec, 11);
    coll *log = coll_new(1);
    for (int run = 0; run < 3; run++) {
        spate_ctx *ctx = ctx_of(workers[run], 0, NULL, dir);
        spate_queue *q = NULL;
        spate_stream *k = key_by1(queue_of(ctx, ev_decl, 1, &q), "k"), *a, *cl;
        coll *agg = coll_new(1);
        REQUIRE_OK(spate_aggregate_by_key(k, NKINDS, kinds, 1, &a));
        REQUIRE_OK(spate_sink_callback(a, collect, agg));
        REQUIRE_OK(spate_aggregate_changelog(k, NKINDS, kinds, &cl));
        REQUIRE_OK(spate_sink_callback(cl, collect, log));
        char **items = event_items(e + cut[run], cut[run + 1] - cut[run], 4);
        REQUIRE_OK(run_items(ctx, q, (const char *const *)items));
        items_free(items);
        spate_ctx_free(ctx);
        coll_last(agg);
        int bad = 0, touched = 0;
        for (int key = 0; key < RAND_KEYS; key++) {
            int in_run = 0;
            for (int j = cut[run]; j < cut[run + 1]; j++)
                in_run |= e[j].k == key;
            if (!in_run) continue;
            char group[16];
            xcell want[NKINDS];
            snprintf(group, sizeof group, "k%02d", key);
            model_key(e, cut[run + 1], key, want);
            check_kinds("restored running aggregate", group, coll_find(agg, group), 1, want, &bad);
            touched++;
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT((int64_t)agg->n, touched);
        coll_free(agg);
    }
    CHECK_EQ_INT(check_replay(log, 1), 0);
    check_keyed("restored changelog", log, e, spec.n);
    coll_free(log);
    free(e);
    rm_tree(dir);
}

/* Windows in three parts with 2, 3, 2 workers: windows open at a cut fire at the
 * end of the part and again, complete, in the next; the last row of every window
 * is the model's. */
static void ckpt_windows(const spate_window_spec *w, const char *what)
{
    static const int workers[3] = {2, 3, 2};
    static const int cut[4] = {0, 2000, 4100, 6000};
    char dir[] = "/tmp/spate-aggx-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    ev *e = gen_events(&win_spec, 23);
    coll *c = coll_new(3);
    for (int run = 0; run < 3; run++)
        REQUIRE_OK(run_window(workers[run], 0, dir, w, e, cut[run], cut[run + 1], c));
    check_windows(what, c, w, e, win_spec.n, 0);
    coll_free(c);
    free(e);
    rm_tree(dir);
}

static void test_ckpt_tumbling(void)
{
    ckpt_windows(&tumbling, "restored tumbling");
}

static void test_ckpt_sliding(void)
{
    ckpt_windows(&sliding, "restored sliding");
}

/* ------------------------------------------------------------------- errors */

static void test_errors(void)
{
    static const struct {
        spate_agg agg;
        int rc;
        const char *needle[3];
    } bad[] = {
        {{SPATE_AGG_APPROX_PERCENTILE, "s", NULL, 0.5},
         SPATE_ETYPE,
         {"approx_percentile", "'s'", "STRING"}},
        {{SPATE_AGG_APPROX_PERCENTILE, "d", NULL, 1.5},
         SPATE_EINVAL,
         {"approx_percentile", "'d'", "[0, 1]"}},
        {{SPATE_AGG_APPROX_PERCENTILE, "i", NULL, -0.25},
         SPATE_EINVAL,
         {"approx_percentile", "'i'", "[0, 1]"}},
        {{SPATE_AGG_APPROX_PERCENTILE, "i", NULL, NAN}, SPATE_EINVAL, {"approx_percentile", "'i'"}},
        {{SPATE_AGG_COUNT_DISTINCT, "nope", NULL, 0},
         SPATE_ENOTFOUND,
         {"count_distinct", "'nope'"}},
        {{SPATE_AGG_FIRST_VALUE, NULL, NULL, 0}, SPATE_ENOTFOUND, {"first_value"}},
        {{99, "i", NULL, 0}, SPATE_EINVAL, {"unknown aggregate kind 99"}},
    };
    static const char *const apis[] = {"aggregate_by_key", "aggregate_changelog",
                                       "window_aggregate"};
    static const spate_window_spec w = {
        .kind = SPATE_WINDOW_TUMBLING, .size_ms = 100, .time_column = "t"};
    spate_ctx *ctx = ctx_of(1, 20, NULL, NULL);
    spate_queue *q = NULL;
    spate_stream *in =
        queue_of(ctx, "k STRING, i INT, d DOUBLE, s STRING, b BOOL, t TIMESTAMP", 1, &q);
    spate_stream *k = key_by1(in, "k"), *r;
    REQUIRE_OK(k ? 0 : -1);
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++)
        for (int api = 0; api < 3; api++) {
            int rc = api == 0   ? spate_aggregate_by_key(k, 1, &bad[c].agg, 1, &r)
                     : api == 1 ? spate_aggregate_changelog(k, 1, &bad[c].agg, &r)
                                : spate_window_aggregate(k, &w, 1, &bad[c].agg, &r);
            CHECK_EQ_INT(rc, bad[c].rc);
            const char *msg = spate_last_error();
            int ok = strstr(msg, apis[api]) != NULL;
            for (int n = 0; n < 3 && bad[c].needle[n]; n++)
                ok &= strstr(msg, bad[c].needle[n]) != NULL;
            if (!ok) fprintf(stderr, "  case %zu, %s: message \"%s\"\n", c, apis[api], msg);
            CHECK(ok);
        }
    /* Any column type for FIRST/LAST and the counts; both ends of the quantiles. */
    static const spate_agg good[] = {{SPATE_AGG_FIRST_VALUE, "b", NULL, 0},
                                     {SPATE_AGG_LAST_VALUE, "t", NULL, 0},
                                     {SPATE_AGG_COUNT_DISTINCT, "b", NULL, 0},
                                     {SPATE_AGG_APPROX_COUNT_DISTINCT, "t", NULL, 0},
                                     {SPATE_AGG_APPROX_PERCENTILE, "i", "p0", 0},
                                     {SPATE_AGG_APPROX_PERCENTILE, "d", "p1", 1}};
    REQUIRE_OK(spate_aggregate_by_key(k, 6, good, 0, &r));
    const spate_schema *s = spate_stream_schema(r);
    CHECK_EQ_INT(spate_schema_type(s, 1), SPATE_BOOL);
    CHECK_EQ_INT(spate_schema_type(s, 2), SPATE_TIMESTAMP);
    CHECK_EQ_INT(spate_schema_type(s, 3), SPATE_INT64);
    CHECK_EQ_INT(spate_schema_type(s, 6), SPATE_FLOAT64);
    REQUIRE_OK(spate_window_aggregate(k, &w, 6, good, &r));
    /* The changelog's last column is op. */
    static const spate_agg op = {SPATE_AGG_COUNT, NULL, "op", 0};
    CHECK(spate_aggregate_changelog(k, 1, &op, &r) != 0);
    CHECK_EQ_INT(spate_aggregate_changelog(k, 0, good, &r), SPATE_EINVAL);
    spate_queue_close(q);
    spate_ctx_free(ctx);
}

/* ------------------------------------------------------- aggregate_retract
 *
 * The inputs are changelogs the tests write themselves. The random ones come
 * from a model that keeps each key's live rows (to retract only rows it added)
 * and, per column, the live non-NULL values in arrival order, from which a
 * retraction removes the value's oldest instance (the documented rule); every
 * result is computed from those lists directly. Malformed rows are injected
 * where the model knows the engine must refuse them: a NULL or unknown kind, a
 * retraction on a key with no live row, or one whose BIGINT or DOUBLE value the
 * key never held (MIN/MAX/FIRST/LAST of that column hold their live values, so
 * both operators below see it). Doubles are multiples of 1/4, so sums are exact
 * whatever the order of additions and subtractions.
 */

/* A growable string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
        b->p[b->len] = 0;
    }
}

static const char *sb_str(const sbuf *b)
{
    return b->p ? b->p : "";
}

/* Aggregates of the two operators every random job runs, over (i, d, s). */
enum {
    RA_N,
    RA_CNT_I,
    RA_SUM_I,
    RA_SUM_D,
    RA_AVG_I,
    RA_AVG_D,
    RA_MIN_I,
    RA_MAX_I,
    RA_MIN_D,
    RA_MAX_D,
    NRA
};
enum {
    RB_MIN_S,
    RB_MAX_S,
    RB_FIRST_I,
    RB_LAST_I,
    RB_FIRST_D,
    RB_LAST_D,
    RB_FIRST_S,
    RB_LAST_S,
    RB_DIST_I,
    RB_DIST_D,
    RB_DIST_S,
    RB_CNT_S,
    NRB
};
static const spate_agg ret_a[NRA] = {
    {SPATE_AGG_COUNT, NULL, "n", 0},  {SPATE_AGG_COUNT_COLUMN, "i", "cnt_i", 0},
    {SPATE_AGG_SUM, "i", "sum_i", 0}, {SPATE_AGG_SUM, "d", "sum_d", 0},
    {SPATE_AGG_AVG, "i", "avg_i", 0}, {SPATE_AGG_AVG, "d", "avg_d", 0},
    {SPATE_AGG_MIN, "i", "min_i", 0}, {SPATE_AGG_MAX, "i", "max_i", 0},
    {SPATE_AGG_MIN, "d", "min_d", 0}, {SPATE_AGG_MAX, "d", "max_d", 0},
};
static const spate_agg ret_b[NRB] = {
    {SPATE_AGG_MIN, "s", "min_s", 0},
    {SPATE_AGG_MAX, "s", "max_s", 0},
    {SPATE_AGG_FIRST_VALUE, "i", "first_i", 0},
    {SPATE_AGG_LAST_VALUE, "i", "last_i", 0},
    {SPATE_AGG_FIRST_VALUE, "d", "first_d", 0},
    {SPATE_AGG_LAST_VALUE, "d", "last_d", 0},
    {SPATE_AGG_FIRST_VALUE, "s", "first_s", 0},
    {SPATE_AGG_LAST_VALUE, "s", "last_s", 0},
    {SPATE_AGG_COUNT_DISTINCT, "i", "dist_i", 0},
    {SPATE_AGG_COUNT_DISTINCT, "d", "dist_d", 0},
    {SPATE_AGG_COUNT_DISTINCT, "s", "dist_s", 0},
    {SPATE_AGG_COUNT_COLUMN, "s", "cnt_s", 0},
};
static const int ret_naggs[2] = {NRA, NRB};
static const char *const ret_decl = "k STRING, i BIGINT, d DOUBLE, s STRING, op STRING";

typedef struct rrow {
    int64_t i;
    double d;
    int s; /* string id (str_of) */
    int ni, nd, ns;
} rrow;

/* One key of the model: live rows, and per column its live non-NULL values in
 * arrival order; then per operator what the engine emitted last. */
typedef struct rkey {
    rrow *rows;
    int nrows;
    int64_t *is;
    double *ds;
    int *ss;
    int ni, nd, ns;
    int emitted[2];
    xcell last[2][MAXCOL];
} rkey;

typedef struct rspec {
    int items, ops, nkeys, i_range, d_range, s_range;
    int bad_pct;       /* malformed rows, per cent of the operations */
    int volatile_keys; /* keys [0, volatile_keys) mostly retract: they drop to 0 rows often */
    int grow_until;    /* items before this one only add */
    int decay_from;    /* items from this one on (if > 0) nearly only retract, and keys
                          with no row get one only a tenth of the time */
} rspec;

typedef struct rgen {
    char **items;      /* NULL-terminated */
    int *bad;          /* per item: the malformed rows injected */
    sbuf want[2][600]; /* per operator and key: the changelog, one micro-batch per item */
    rkey *keys;
    int nkeys;
} rgen;

static void rkey_add(rkey *k, rrow r)
{
    k->rows[k->nrows++] = r;
    if (!r.ni) k->is[k->ni++] = r.i;
    if (!r.nd) k->ds[k->nd++] = r.d;
    if (!r.ns) k->ss[k->ns++] = r.s;
}

/* Removes the first element equal to the one at x (size sz) from a[0..*n). */
static void remove_first(void *a, int *n, const void *x, size_t sz)
{
    char *p = a;
    for (int j = 0; j < *n; j++)
        if (!memcmp(p + (size_t)j * sz, x, sz)) {
            memmove(p + (size_t)j * sz, p + (size_t)(j + 1) * sz, (size_t)(*n - j - 1) * sz);
            (*n)--;
            return;
        }
}

static void rkey_retract(rkey *k, int j)
{
    rrow r = k->rows[j];
    k->rows[j] = k->rows[--k->nrows];
    if (!r.ni) remove_first(k->is, &k->ni, &r.i, sizeof r.i);
    if (!r.nd) remove_first(k->ds, &k->nd, &r.d, sizeof r.d);
    if (!r.ns) remove_first(k->ss, &k->ns, &r.s, sizeof r.s);
}

static xcell cell_s(int id)
{
    xcell x = {.t = 's'};
    str_of(id, x.s, SLEN);
    return x;
}

static int str_id_cmp(const void *a, const void *b)
{
    char x[SLEN], y[SLEN];
    str_of(*(const int *)a, x, sizeof x);
    str_of(*(const int *)b, y, sizeof y);
    return strcmp(x, y);
}

/* The results of operator `which` over key k (live rows). */
static void rkey_results(const rkey *k, int which, xcell *out)
{
    int64_t *is = malloc(((size_t)k->ni + 1) * sizeof *is);
    double *ds = malloc(((size_t)k->nd + 1) * sizeof *ds);
    int *ss = malloc(((size_t)k->ns + 1) * sizeof *ss);
    memcpy(is, k->is, (size_t)k->ni * sizeof *is);
    memcpy(ds, k->ds, (size_t)k->nd * sizeof *ds);
    memcpy(ss, k->ss, (size_t)k->ns * sizeof *ss);
    qsort(is, (size_t)k->ni, sizeof *is, cmp_i64);
    qsort(ds, (size_t)k->nd, sizeof *ds, cmp_dbl);
    qsort(ss, (size_t)k->ns, sizeof *ss, str_id_cmp);
    int64_t si = 0;
    double sd = 0;
    for (int j = 0; j < k->ni; j++)
        si += k->is[j];
    for (int j = 0; j < k->nd; j++)
        sd += k->ds[j];
    if (which == 0) {
        out[RA_N] = cell_i(k->nrows);
        out[RA_CNT_I] = cell_i(k->ni);
        out[RA_SUM_I] = k->ni ? cell_i(si) : cell_null('i');
        out[RA_SUM_D] = k->nd ? cell_d(sd) : cell_null('d');
        out[RA_AVG_I] = k->ni ? cell_d((double)si / (double)k->ni) : cell_null('d');
        out[RA_AVG_D] = k->nd ? cell_d(sd / (double)k->nd) : cell_null('d');
        out[RA_MIN_I] = k->ni ? cell_i(is[0]) : cell_null('i');
        out[RA_MAX_I] = k->ni ? cell_i(is[k->ni - 1]) : cell_null('i');
        out[RA_MIN_D] = k->nd ? cell_d(ds[0]) : cell_null('d');
        out[RA_MAX_D] = k->nd ? cell_d(ds[k->nd - 1]) : cell_null('d');
    } else {
        out[RB_MIN_S] = k->ns ? cell_s(ss[0]) : cell_null('s');
        out[RB_MAX_S] = k->ns ? cell_s(ss[k->ns - 1]) : cell_null('s');
        out[RB_FIRST_I] = k->ni ? cell_i(k->is[0]) : cell_null('i');
        out[RB_LAST_I] = k->ni ? cell_i(k->is[k->ni - 1]) : cell_null('i');
        out[RB_FIRST_D] = k->nd ? cell_d(k->ds[0]) : cell_null('d');
        out[RB_LAST_D] = k->nd ? cell_d(k->ds[k->nd - 1]) : cell_null('d');
        out[RB_FIRST_S] = k->ns ? cell_s(k->ss[0]) : cell_null('s');
        out[RB_LAST_S] = k->ns ? cell_s(k->ss[k->ns - 1]) : cell_null('s');
        out[RB_DIST_I] = cell_i(runs(is, (size_t)k->ni, sizeof *is));
        out[RB_DIST_D] = cell_i(runs(ds, (size_t)k->nd, sizeof *ds));
        out[RB_DIST_S] = cell_i(runs(ss, (size_t)k->ns, sizeof *ss));
        out[RB_CNT_S] = cell_i(k->ns);
    }
    free(is);
    free(ds);
    free(ss);
}

/* One changelog row as text: the cells, then the kind. */
static void row_line(sbuf *b, const xcell *c, int n, const char *op)
{
    for (int j = 0; j < n; j++) {
        char buf[64];
        sb_printf(b, "%s,", cell_text(&c[j], buf, sizeof buf));
    }
    sb_printf(b, "%s\n", op);
}

/* What the engine must emit at the end of an item (a micro-batch): per key and
 * operator, "+I", "-U"/"+U" or "-D" as its results changed. */
static void rgen_emit(rgen *g)
{
    for (int kk = 0; kk < g->nkeys; kk++) {
        rkey *k = &g->keys[kk];
        for (int w = 0; w < 2; w++) {
            xcell cur[MAXCOL];
            sbuf *b = &g->want[w][kk];
            if (k->nrows == 0) {
                if (k->emitted[w]) row_line(b, k->last[w], ret_naggs[w], "-D");
                k->emitted[w] = 0;
                continue;
            }
            rkey_results(k, w, cur);
            int same = k->emitted[w];
            for (int j = 0; same && j < ret_naggs[w]; j++)
                same = cell_eq(&cur[j], &k->last[w][j]);
            if (same) continue;
            if (k->emitted[w]) row_line(b, k->last[w], ret_naggs[w], "-U");
            row_line(b, cur, ret_naggs[w], k->emitted[w] ? "+U" : "+I");
            memcpy(k->last[w], cur, sizeof cur);
            k->emitted[w] = 1;
        }
    }
}

static rrow rand_row(const rspec *p, uint64_t *s)
{
    return (rrow){.i = rand_in(s, -p->i_range / 2, p->i_range - 1 - p->i_range / 2),
                  .d = (double)rand_in(s, 0, p->d_range - 1) / 4.0,
                  .s = (int)rand_in(s, 0, p->s_range - 1),
                  .ni = rand_in(s, 0, 9) == 0,
                  .nd = rand_in(s, 0, 9) == 0,
                  .ns = rand_in(s, 0, 9) == 0};
}

static void csv_row(sbuf *b, const char *key, const rrow *r, const char *op)
{
    char s[SLEN] = "";
    if (!r->ns) str_of(r->s, s, sizeof s);
    sb_printf(b, "%s,", key);
    if (!r->ni) sb_printf(b, "%lld", (long long)r->i);
    sb_printf(b, ",");
    if (!r->nd) sb_printf(b, "%.17g", r->d);
    sb_printf(b, ",%s,%s\n", s, op);
}

/* Generates the items and the model's expectations. */
static rgen *rgen_new(const rspec *p, uint64_t seed)
{
    rgen *g = calloc(1, sizeof *g);
    int maxrows = p->items * p->ops + 1;
    g->nkeys = p->nkeys;
    g->keys = calloc((size_t)p->nkeys, sizeof *g->keys);
    for (int kk = 0; kk < p->nkeys; kk++) {
        g->keys[kk].rows = calloc((size_t)maxrows, sizeof(rrow));
        g->keys[kk].is = calloc((size_t)maxrows, sizeof(int64_t));
        g->keys[kk].ds = calloc((size_t)maxrows, sizeof(double));
        g->keys[kk].ss = calloc((size_t)maxrows, sizeof(int));
    }
    g->items = calloc((size_t)p->items + 1, sizeof *g->items);
    g->bad = calloc((size_t)p->items, sizeof *g->bad);
    uint64_t s = seed;
    for (int it = 0; it < p->items; it++) {
        sbuf b = {0};
        for (int o = 0; o < p->ops; o++) {
            int kk = (int)rand_in(&s, 0, p->nkeys - 1);
            rkey *k = &g->keys[kk];
            char key[16];
            snprintf(key, sizeof key, "k%02d", kk);
            if (rand_in(&s, 0, 99) < p->bad_pct) {
                int how = (int)rand_in(&s, 0, 4);
                rrow r = k->nrows ? k->rows[rand_in(&s, 0, k->nrows - 1)] : rand_row(p, &s);
                if (how == 0 || (how <= 2 && !k->nrows)) /* a key with no live row */
                    csv_row(&b, k->nrows ? "zz" : key, &r, "-D");
                else if (how == 1) /* a BIGINT value the key does not hold */
                    csv_row(&b, key, &(rrow){1000000000, r.d, r.s, 0, r.nd, r.ns}, "-U");
                else if (how == 2) /* a DOUBLE value the key does not hold */
                    csv_row(&b, key, &(rrow){r.i, 12345.5, r.s, r.ni, 0, r.ns}, "-D");
                else
                    csv_row(&b, key, &r, how == 3 ? "-X" : "");
                g->bad[it]++;
                continue;
            }
            int decay = p->decay_from && it >= p->decay_from;
            if (decay && !k->nrows && rand_in(&s, 0, 9)) continue; /* gone keys mostly stay */
            int retract_pct = 45, delete_pct = 30;
            if (kk < p->volatile_keys) retract_pct = delete_pct = 70;
            if (it < p->grow_until) retract_pct = 0;
            if (decay) retract_pct = 95, delete_pct = 90;
            if (k->nrows && rand_in(&s, 0, 99) < retract_pct) {
                int j = (int)rand_in(&s, 0, k->nrows - 1);
                int del = rand_in(&s, 0, 99) < delete_pct;
                csv_row(&b, key, &k->rows[j], del ? "-D" : "-U");
                rkey_retract(k, j);
                if (del) continue;
                rrow r = rand_row(p, &s);
                csv_row(&b, key, &r, "+U");
                rkey_add(k, r);
            } else {
                rrow r = rand_row(p, &s);
                csv_row(&b, key, &r, "+I");
                rkey_add(k, r);
            }
        }
        g->items[it] = b.p ? b.p : strdup("");
        rgen_emit(g);
    }
    return g;
}

static void rgen_free(rgen *g)
{
    for (int kk = 0; kk < g->nkeys; kk++) {
        free(g->keys[kk].rows);
        free(g->keys[kk].is);
        free(g->keys[kk].ds);
        free(g->keys[kk].ss);
        free(g->want[0][kk].p);
        free(g->want[1][kk].p);
    }
    free(g->keys);
    items_free(g->items);
    free(g->bad);
    free(g);
}

static int rgen_bad(const rgen *g, int from, int to)
{
    int n = 0;
    for (int it = from; it < to; it++)
        n += g->bad[it];
    return n;
}

static spate_ctx *rctx_of(int workers, int interval_ms, const char *ttl, const char *ckpt_dir,
                          const char *policy, const char *dl_path)
{
    spate_conf *conf = spate_conf_new();
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", workers);
    snprintf(iv, sizeof iv, "%d", interval_ms);
    int rc = spate_conf_set(conf, "workers", w) || spate_conf_set(conf, "batch.interval.ms", iv) ||
             spate_conf_set(conf, "bad_records.policy", policy);
    if (!rc && dl_path) rc = spate_conf_set(conf, "dead_letter.path", dl_path);
    if (!rc && ttl) rc = spate_conf_set(conf, "state.ttl.ms", ttl);
    if (!rc && ckpt_dir)
        rc = spate_conf_set(conf, "checkpoint.dir", ckpt_dir) ||
             spate_conf_set(conf, "checkpoint.interval.ms", "50");
    spate_ctx *ctx = NULL;
    if (rc || spate_ctx_new(conf, &ctx)) ctx = NULL;
    spate_conf_free(conf);
    return ctx;
}

/* Runs both operators over items [from, to) of g; rows into c[0], c[1]; the
 * bad records counted into *bad. */
static int run_retract(int workers, int interval, const char *ckpt_dir, rgen *g, int from, int to,
                       coll **c, uint64_t *bad)
{
    spate_ctx *ctx = rctx_of(workers, interval, NULL, ckpt_dir, "skip", NULL);
    spate_queue *q = NULL;
    spate_stream *k = key_by1(queue_of(ctx, ret_decl, 1, &q), "k"), *r[2] = {NULL, NULL};
    int rc = k ? 0 : SPATE_EINVAL;
    if (!rc) rc = spate_aggregate_retract(k, "op", NRA, ret_a, &r[0]);
    if (!rc) rc = spate_aggregate_retract(k, "op", NRB, ret_b, &r[1]);
    for (int w = 0; w < 2 && !rc; w++)
        rc = spate_sink_callback(r[w], collect, c[w]);
    const char *items[64];
    int n = 0;
    for (int it = from; it < to && n < 63; it++)
        items[n++] = g->items[it];
    items[n] = NULL;
    if (!rc)
        rc = run_items(ctx, q, items);
    else if (q)
        spate_queue_close(q);
    spate_metrics m = {0};
    if (!rc) rc = spate_ctx_metrics(ctx, &m);
    *bad = m.bad_records;
    spate_ctx_free(ctx);
    return rc;
}

/* Rows of c (arrival order kept) grouped: the changelog text of group `key`. */
static void coll_key_text(const coll *c, const char *key, sbuf *out)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->r[i].group, key))
            row_line(out, c->r[i].c + 1, c->r[i].ncols - 1, c->r[i].op);
}

/* Micro-batches of one item each: every key's changelog is the model's. */
static void check_exact(const char *what, coll **c, rgen *g)
{
    int bad = 0;
    for (int w = 0; w < 2; w++) {
        qsort(c[w]->r, c[w]->n, sizeof *c[w]->r, by_group);
        for (int kk = 0; kk < g->nkeys; kk++) {
            char key[16];
            sbuf got = {0};
            snprintf(key, sizeof key, "k%02d", kk);
            coll_key_text(c[w], key, &got);
            if (strcmp(sb_str(&got), sb_str(&g->want[w][kk])) && bad++ < 3)
                fprintf(stderr, "  %s, operator %d, key %s:\n   got:\n%s   expected:\n%s", what, w,
                        key, sb_str(&got), sb_str(&g->want[w][kk]));
            free(got.p);
        }
        size_t other = 0; /* rows of keys the model does not have ("zz") */
        for (size_t i = 0; i < c[w]->n; i++)
            other += c[w]->r[i].group[0] != 'k';
        CHECK_EQ_INT(other, 0);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Any emission points: each key's changelog replays consistently ("+I" only
 * when it has no current row, "-U" and "-D" of the current row, "+U" right after
 * "-U") into the model's final results, or no row for a key with none. */
static void check_replay_final(const char *what, coll **c, rgen *g)
{
    int bad = 0;
    for (int w = 0; w < 2; w++) {
        coll *cl = c[w];
        int n = ret_naggs[w];
        qsort(cl->r, cl->n, sizeof *cl->r, by_group);
        for (size_t i = 0; i < cl->n;) {
            size_t j = i;
            const xrow *cur = NULL;
            int after_u = 0;
            const char *why = NULL;
            for (; j < cl->n && !strcmp(cl->r[j].group, cl->r[i].group); j++) {
                const xrow *x = &cl->r[j];
                int eq = cur != NULL;
                for (int a = 0; eq && a < n; a++)
                    eq = cell_eq(&x->c[1 + a], &cur->c[1 + a]);
                if (why) continue;
                if (!strcmp(x->op, "+I")) {
                    if (cur || after_u) why = "+I with a current row";
                    cur = x;
                } else if (!strcmp(x->op, "+U")) {
                    if (!after_u) why = "+U not after -U";
                    cur = x;
                    after_u = 0;
                } else if (!strcmp(x->op, "-U") || !strcmp(x->op, "-D")) {
                    if (!eq || after_u) why = "retraction of another row than the current one";
                    after_u = x->op[1] == 'U';
                    cur = NULL;
                } else {
                    why = "unknown kind";
                }
                if (why && bad++ < 5)
                    fprintf(stderr, "  %s, operator %d: key %s, row %zu (%s): %s\n", what, w,
                            x->group, x->ord, x->op, why);
            }
            if (after_u && bad++ < 5)
                fprintf(stderr, "  %s: key %s ends with -U\n", what, cl->r[i].group);
            int kk = cl->r[i].group[0] == 'k' ? atoi(cl->r[i].group + 1) : -1;
            if (kk < 0 || kk >= g->nkeys) {
                if (bad++ < 5) fprintf(stderr, "  %s: rows of key %s\n", what, cl->r[i].group);
            } else if (!why) {
                rkey *k = &g->keys[kk];
                xcell want[MAXCOL];
                if (k->nrows) rkey_results(k, w, want);
                int ok = (k->nrows != 0) == (cur != NULL);
                for (int a = 0; ok && cur && a < n; a++)
                    ok = cell_eq(&cur->c[1 + a], &want[a]);
                if (!ok && bad++ < 5)
                    fprintf(stderr, "  %s, operator %d: key %s ends %s the model's\n", what, w,
                            cl->r[i].group, cur ? "unlike" : "without a row, unlike");
            }
            i = j;
        }
        /* keys with rows that emitted nothing */
        for (int kk = 0; kk < g->nkeys; kk++) {
            char key[16];
            snprintf(key, sizeof key, "k%02d", kk);
            if (g->keys[kk].nrows && !coll_find(cl, key) && bad++ < 5)
                fprintf(stderr, "  %s: key %s has rows but no changelog\n", what, key);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* Micro-batches of a scripted changelog, with every kind of row and of refusal:
 * an update whose results do not change emits nothing, a key at 0 rows emits
 * "-D" and comes back with "+I", one going to 0 and back within a micro-batch
 * emits "-U"/"+U"; NULL values add and retract nothing. With one worker the
 * dead letters go to a file, each naming the operator, the reason and the row. */
static void test_retract_script(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "v", "sv", 0},
                                     {SPATE_AGG_MAX, "v", "mx", 0},
                                     {SPATE_AGG_FIRST_VALUE, "s", "fs", 0},
                                     {SPATE_AGG_COUNT_DISTINCT, "s", "ds", 0}};
    static const char *const items[] = {"a,1,x,+I\na,5,y,+I\nb,2,z,+I\n",
                                        "a,5,y,-U\na,3,y,+U\n",
                                        "a,1,x,-D\nb,2,z,-D\n",
                                        "b,7,w,+I\na,3,y,-U\na,3,y,+U\n",
                                        "a,9,y,-D\nc,1,x,-U\na,3,q,-D\na,3,y,XX\na,3,y,\n",
                                        "a,3,y,-D\nb,7,w,-U\nb,8,w,+U\na,4,,+I\n",
                                        "a,4,,-D\nd,,,+I\n",
                                        "d,,,-D\nd,,,-D\n",
                                        NULL};
    static const char *const want[] = {
        "a,2,6,5,x,2,+I;b,1,2,2,z,1,+I",
        "a,2,6,5,x,2,-U;a,2,4,3,x,2,+U",
        "a,2,4,3,x,2,-U;a,1,3,3,y,1,+U;b,1,2,2,z,1,-D",
        "b,1,7,7,w,1,+I",
        "a,1,3,3,y,1,-U;a,1,4,4,NULL,0,+U;b,1,7,7,w,1,-U;b,1,8,8,w,1,+U",
        "a,1,4,4,NULL,0,-D;d,1,NULL,NULL,NULL,0,+I",
        "d,1,NULL,NULL,NULL,0,-D",
        NULL};
    for (int w = 1; w <= 2; w++) {
        char dl[] = "/tmp/spate-aggx-dl-XXXXXX";
        int fd = mkstemp(dl);
        REQUIRE_OK(fd >= 0 ? 0 : -1);
        close(fd);
        spate_ctx *ctx = rctx_of(w, 20, NULL, NULL, w == 1 ? "dead-letter" : "skip", dl);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "k STRING, v BIGINT, s STRING, op STRING", 1, &q), *r;
        text_batches *t = text_new();
        REQUIRE_OK(spate_aggregate_retract(key_by1(in, "k"), "op", 5, aggs, &r));
        const spate_schema *s = spate_stream_schema(r);
        CHECK_EQ_INT(spate_schema_count(s), 7);
        CHECK_EQ_STR(spate_schema_name(s, 0), "k");
        CHECK_EQ_STR(spate_schema_name(s, 4), "fs");
        CHECK_EQ_STR(spate_schema_name(s, 6), "op");
        CHECK_EQ_INT(spate_schema_type(s, 2), SPATE_INT64);
        CHECK_EQ_INT(spate_schema_type(s, 4), SPATE_STRING);
        CHECK_EQ_INT(spate_schema_type(s, 6), SPATE_STRING);
        REQUIRE_OK(spate_stream_foreach_batch(r, collect_text, t));
        REQUIRE_OK(run_items(ctx, q, items));
        check_text(t, w, want);
        spate_metrics m;
        REQUIRE_OK(spate_ctx_metrics(ctx, &m));
        CHECK_EQ_INT(m.bad_records, 6);
        spate_ctx_free(ctx);
        free(t);
        FILE *f = fopen(dl, "r");
        char line[6][512];
        int nl = 0;
        while (f && nl < 6 && fgets(line[nl], sizeof line[nl], f))
            nl++;
        if (f) fclose(f);
        unlink(dl);
        if (w == 2) {
            CHECK_EQ_INT(nl, 0);
            continue;
        }
        static const char *const expect[6][3] = {
            {"\"a,9,y,-D\"", "\"v\"", "-D retracts a value its group does not hold (mx has none)"},
            {"\"c,1,x,-U\"", "\"op\"", "-U retracts a row its group does not hold (it has none)"},
            {"\"a,3,q,-D\"", "\"s\"", "-D retracts a value its group does not hold (fs has none)"},
            {"\"a,3,y,XX\"", "\"op\"", "the row kind is not +I, +U, -U or -D"},
            {"\"a,3,y,\"", "\"op\"", "the row kind is NULL"},
            {"\"d,,,-D\"", "\"op\"", "-D retracts a row its group does not hold (it has none)"}};
        CHECK_EQ_INT(nl, 6);
        for (int i = 0; i < nl; i++) {
            int ok = strstr(line[i], "\"source\":\"aggregate_retract\"") != NULL;
            for (int j = 0; j < 3; j++)
                ok &= strstr(line[i], expect[i][j]) != NULL;
            if (!ok) fprintf(stderr, "  dead letter %d: %s", i, line[i]);
            CHECK(ok);
        }
    }
}

/* A non-keyed input is one group: it goes to 0 rows and starts over. */
static void test_retract_unkeyed(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_MIN, "v", "mn", 0}};
    static const char *const items[] = {"1,+I\n2,+I\n", "1,-D\n", "2,-D\n", "5,+I\n", NULL};
    static const char *const want[] = {"2,1,+I", "2,1,-U;1,2,+U", "1,2,-D", "1,5,+I", NULL};
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = rctx_of(w, 20, NULL, NULL, "fail", NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "v BIGINT, op STRING", 1, &q), *r;
        text_batches *t = text_new();
        REQUIRE_OK(spate_aggregate_retract(in, "op", 2, aggs, &r));
        REQUIRE_OK(spate_stream_foreach_batch(r, collect_text, t));
        REQUIRE_OK(run_items(ctx, q, items));
        check_text(t, 1, want);
        spate_ctx_free(ctx);
        free(t);
    }
}

/* Keys [0, 10) mostly retract (they drop to 0 rows and come back), the others
 * grow; 4% malformed rows. */
static const rspec ret_random = {40, 120, 30, 20, 24, 12, 4, 10, 0, 0};

/* Micro-batches (the exact changelog) and the continuous style (replay). */
static void retract_random(int workers, uint64_t seed)
{
    rgen *g = rgen_new(&ret_random, seed);
    for (int interval = 20; interval >= 0; interval -= 20) {
        coll *c[2] = {coll_new(1), coll_new(1)};
        uint64_t bad = 0;
        const char *what = interval ? "retract micro-batch" : "retract continuous";
        REQUIRE_OK(run_retract(workers, interval, NULL, g, 0, ret_random.items, c, &bad));
        CHECK(c[0]->n > (size_t)ret_random.nkeys && c[1]->n > (size_t)ret_random.nkeys);
        CHECK_EQ_INT(bad, 2 * rgen_bad(g, 0, ret_random.items));
        if (interval)
            check_exact(what, c, g);
        else
            check_replay_final(what, c, g);
        coll_free(c[0]);
        coll_free(c[1]);
    }
    rgen_free(g);
}

static void test_retract_random_w1(void)
{
    retract_random(1, 5);
}

static void test_retract_random_w2(void)
{
    retract_random(2, 6);
}

/* Two keys grow to ~1500 rows of mostly distinct values, then shrink to a few:
 * the multisets compact their logs and rebuild themselves on the way down. */
static void test_retract_big_key(void)
{
    static const rspec p = {30, 200, 2, 4000, 4000, 3000, 2, 0, 15, 15};
    rgen *g = rgen_new(&p, 77);
    for (int w = 1; w <= 2; w++) {
        coll *c[2] = {coll_new(1), coll_new(1)};
        uint64_t bad = 0;
        REQUIRE_OK(run_retract(w, 20, NULL, g, 0, p.items, c, &bad));
        CHECK_EQ_INT(bad, 2 * rgen_bad(g, 0, p.items));
        check_exact("retract big keys", c, g);
        coll_free(c[0]);
        coll_free(c[1]);
    }
    rgen_free(g);
}

/* 500 keys get a few rows, then mostly lose them (some come back): most
 * entries are empty after an emission, so the table is rebuilt without them. */
static void test_retract_churn(void)
{
    static const rspec p = {30, 300, 500, 10, 8, 6, 2, 0, 5, 5};
    rgen *g = rgen_new(&p, 31);
    for (int w = 1; w <= 2; w++) {
        coll *c[2] = {coll_new(1), coll_new(1)};
        uint64_t bad = 0;
        REQUIRE_OK(run_retract(w, 20, NULL, g, 0, p.items, c, &bad));
        CHECK_EQ_INT(bad, 2 * rgen_bad(g, 0, p.items));
        check_exact("retract churn", c, g);
        coll_free(c[0]);
        coll_free(c[1]);
    }
    rgen_free(g);
}

/* Three runs on one checkpoint directory with 2, 3, then 2 workers: each run
 * retracts rows the runs before added (none refused: the multisets and the
 * arrival order came back, on the new owners of the key groups), and the
 * changelog of all runs is the model's, micro-batch by micro-batch. */
static void test_retract_ckpt(void)
{
    static const int workers[3] = {2, 3, 2};
    static const int cut[4] = {0, 12, 26, 40};
    char dir[] = "/tmp/spate-aggx-XXXXXX";
    REQUIRE_OK(mkdtemp(dir) ? 0 : -1);
    rgen *g = rgen_new(&ret_random, 123);
    coll *c[2] = {coll_new(1), coll_new(1)};
    for (int run = 0; run < 3; run++) {
        uint64_t bad = 0;
        REQUIRE_OK(run_retract(workers[run], 20, dir, g, cut[run], cut[run + 1], c, &bad));
        CHECK_EQ_INT(bad, 2 * rgen_bad(g, cut[run], cut[run + 1]));
    }
    check_exact("restored retract", c, g);
    coll_free(c[0]);
    coll_free(c[1]);
    rgen_free(g);
    rm_tree(dir);
}

/* state.ttl.ms = 100, micro-batches of 20 ms: a idles ~300 ms and its state goes
 * silently, so its old row's "-D" finds nothing (a bad record) and its next row
 * starts over with "+I"; b, updated to the same values every batch, emits once. */
static void test_retract_ttl(void)
{
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_LAST_VALUE, "s", "last", 0}};
    const char *items[20];
    int n = 0;
    items[n++] = "a,x,+I\nb,y,+I\n";
    while (n < 16)
        items[n++] = "b,y,-U\nb,y,+U\n";
    items[n++] = "a,x,-D\na,z,+I\n";
    items[n] = NULL;
    for (int w = 1; w <= 2; w++) {
        spate_ctx *ctx = rctx_of(w, 20, "100", NULL, "skip", NULL);
        spate_queue *q = NULL;
        spate_stream *in = queue_of(ctx, "k STRING, s STRING, op STRING", 1, &q), *r;
        coll *c = coll_new(1);
        REQUIRE_OK(spate_aggregate_retract(key_by1(in, "k"), "op", 2, aggs, &r));
        REQUIRE_OK(spate_sink_callback(r, collect, c));
        REQUIRE_OK(run_items(ctx, q, items));
        spate_metrics m;
        REQUIRE_OK(spate_ctx_metrics(ctx, &m));
        CHECK_EQ_INT(m.bad_records, 1);
        char seq[2][256] = {"", ""};
        for (size_t i = 0; i < c->n; i++) {
            char v[64];
            snprintf(v, sizeof v, "%lld:%s:%s ", (long long)c->r[i].c[1].i, c->r[i].c[2].s,
                     c->r[i].op);
            strcat(seq[c->r[i].group[0] == 'b'], v);
        }
        CHECK_EQ_STR(seq[0], "1:x:+I 1:z:+I ");
        CHECK_EQ_STR(seq[1], "1:y:+I ");
        spate_ctx_free(ctx);
        coll_free(c);
    }
}

/* bad_records.policy = fail: a refused retraction ends the job with its reason. */
static void test_retract_policy_fail(void)
{
    static const spate_agg mn = {SPATE_AGG_MIN, "v", "mn", 0};
    static const char *const items[] = {"a,1,+I\n", "a,2,-D\n", NULL};
    spate_ctx *ctx = rctx_of(1, 20, NULL, NULL, "fail", NULL);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, "k STRING, v BIGINT, op STRING", 1, &q), *r;
    coll *c = coll_new(1);
    REQUIRE_OK(spate_aggregate_retract(key_by1(in, "k"), "op", 1, &mn, &r));
    REQUIRE_OK(spate_sink_callback(r, collect, c));
    REQUIRE_OK(spate_ctx_start(ctx));
    for (int i = 0; items[i]; i++)
        REQUIRE_OK(spate_queue_push(q, items[i], strlen(items[i])));
    spate_queue_close(q);
    int rc = spate_ctx_await_termination(ctx, 60000);
    CHECK_EQ_INT(rc, SPATE_EPARSE);
    const char *msg = spate_ctx_error(ctx);
    int ok = strstr(msg, "aggregate_retract") && strstr(msg, "mn has none") && strstr(msg, "'v'");
    if (!ok) fprintf(stderr, "  message: %s\n", msg);
    CHECK(ok);
    CHECK_EQ_INT(c->n, 1); /* the "+I" before */
    spate_ctx_free(ctx);
    coll_free(c);
}

/* The sketches cannot retract; the op column is checked. */
static void test_retract_errors(void)
{
    spate_ctx *ctx = ctx_of(1, 20, NULL, NULL);
    spate_queue *q = NULL;
    spate_stream *in = queue_of(ctx, "k STRING, i INT, d DOUBLE, s STRING, op STRING", 1, &q);
    spate_stream *k = key_by1(in, "k"), *r;
    REQUIRE_OK(k ? 0 : -1);
    static const struct {
        spate_agg agg;
        const char *needle;
    } sketches[] = {
        {{SPATE_AGG_APPROX_COUNT_DISTINCT, "s", NULL, 0}, "approx_count_distinct of column 's'"},
        {{SPATE_AGG_APPROX_PERCENTILE, "d", NULL, 0.5}, "approx_percentile of column 'd'"},
    };
    for (int c = 0; c < 2; c++) {
        spate_agg two[2] = {{SPATE_AGG_COUNT, NULL, "n", 0}, sketches[c].agg};
        CHECK_EQ_INT(spate_aggregate_retract(k, "op", 2, two, &r), SPATE_EUNSUPPORTED);
        const char *msg = spate_last_error();
        int ok = strstr(msg, "aggregate_retract") && strstr(msg, sketches[c].needle) &&
                 strstr(msg, "cannot take retractions");
        if (!ok) fprintf(stderr, "  sketch %d: message \"%s\"\n", c, msg);
        CHECK(ok);
        CHECK(r == NULL);
    }
    static const spate_agg cnt = {SPATE_AGG_COUNT, NULL, "n", 0};
    static const spate_agg of_op = {SPATE_AGG_COUNT_DISTINCT, "op", NULL, 0};
    static const spate_agg named_op = {SPATE_AGG_SUM, "i", "op", 0};
    static const spate_agg nope = {SPATE_AGG_MAX, "nope", NULL, 0};
    static const struct {
        const char *op;
        const spate_agg *agg;
        int naggs, rc;
        const char *needle;
    } cases[] = {
        {"op", &cnt, 1, SPATE_EINVAL, "NULL"}, /* no stream */
        {NULL, &cnt, 1, SPATE_EINVAL, "op_column"},
        {"nope", &cnt, 1, SPATE_ENOTFOUND, "no column 'nope'"},
        {"i", &cnt, 1, SPATE_ETYPE, "'i' is INT"},
        {"k", &cnt, 1, SPATE_EINVAL, "cannot be a group key"},
        {"op", &of_op, 1, SPATE_EINVAL, "not an aggregate input"},
        {"op", &cnt, 0, SPATE_EINVAL, "at least one aggregate"},
        {"op", &nope, 1, SPATE_ENOTFOUND, "'nope'"},
        {"op", &named_op, 1, SPATE_EINVAL, "op"}, /* the output's op column */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int rc = spate_aggregate_retract(c == 0 ? NULL : k, cases[c].op, cases[c].naggs,
                                         cases[c].agg, &r);
        if (c == sizeof cases / sizeof cases[0] - 1) { /* a duplicate name: whatever schema says */
            CHECK(rc != 0);
            continue;
        }
        CHECK_EQ_INT(rc, cases[c].rc);
        const char *msg = spate_last_error();
        int ok = strstr(msg, cases[c].needle) != NULL;
        if (!ok) fprintf(stderr, "  case %zu: message \"%s\"\n", c, msg);
        CHECK(ok);
    }
    /* COUNT may name the op column (it takes no column); keyed or not. */
    static const spate_agg count_op = {SPATE_AGG_COUNT, "op", NULL, 0};
    REQUIRE_OK(spate_aggregate_retract(k, "op", 1, &count_op, &r));
    REQUIRE_OK(spate_aggregate_retract(in, "op", 1, &count_op, &r));
    CHECK_EQ_INT(spate_schema_count(spate_stream_schema(r)), 2);
    spate_queue_close(q);
    spate_ctx_free(ctx);
}

const sp_test tests_aggs_ext[] = {
    {"aggx_per_batch_script", test_per_batch_script},
    {"aggx_running_script", test_running_script},
    {"aggx_running_random", test_running_random},
    {"aggx_percentile_bound", test_percentile_bound},
    {"aggx_hll_error", test_hll_error},
    {"aggx_changelog_script", test_changelog_script},
    {"aggx_changelog_unkeyed", test_changelog_unkeyed},
    {"aggx_changelog_random", test_changelog_random},
    {"aggx_changelog_ttl", test_changelog_ttl},
    {"aggx_window_tumbling", test_window_tumbling},
    {"aggx_window_sliding", test_window_sliding},
    {"aggx_window_cumulate", test_window_cumulate},
    {"aggx_window_modes", test_window_modes},
    {"aggx_session_first_last", test_session_first_last},
    {"aggx_oracle_tumbling_w1", test_oracle_w1},
    {"aggx_oracle_tumbling_w2", test_oracle_w2},
    {"aggx_ckpt_keyed", test_ckpt_keyed},
    {"aggx_ckpt_window_tumbling", test_ckpt_tumbling},
    {"aggx_ckpt_window_sliding", test_ckpt_sliding},
    {"aggx_errors", test_errors},
    {"aggx_retract_script", test_retract_script},
    {"aggx_retract_unkeyed", test_retract_unkeyed},
    {"aggx_retract_random_w1", test_retract_random_w1},
    {"aggx_retract_random_w2", test_retract_random_w2},
    {"aggx_retract_big_key", test_retract_big_key},
    {"aggx_retract_churn", test_retract_churn},
    {"aggx_retract_ckpt", test_retract_ckpt},
    {"aggx_retract_ttl", test_retract_ttl},
    {"aggx_retract_policy_fail", test_retract_policy_fail},
    {"aggx_retract_errors", test_retract_errors},
    {NULL, NULL},
};
