/*
 * bench.h - what every benchmark program shares: failing loudly on a setup error
 * (a benchmark that silently measures a broken job is worse than none) and a
 * monotonic clock. BENCH_NAME, defined by the including file, prefixes messages.
 * Then what the hand-written loops of bench_core and bench_sql share: the
 * generator's columns computed with the generator's own arithmetic, the clobber
 * that makes the compiler store them, the checksum of output rows, and the
 * branch-free filter and projection of filter-map.
 */
#ifndef SP_BENCH_H
#define SP_BENCH_H

#include "spate.h"

#include "core/hash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL

static inline void die(const char *what, const char *msg)
{
    fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, what, msg);
    exit(1);
}

/* Dies with the library's message when a spate call failed. */
static inline void ok(int rc, const char *what)
{
    if (rc < 0) die(what, spate_last_error());
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) die("calloc", "out of memory");
    return p;
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------- the generator by hand
 *
 * src/connectors/generator.c fills its four columns with one loop per column and
 * these formulas: key = hash(seed, seq) % keys, value = the top 53 bits of
 * hash(seed ^ salt, seq) scaled to [0, 100), ts = start + seq * interval. The
 * salt is private to generator.c, hence copied here; the benches pass seed and
 * start to the generator explicitly. keys and the interval are arguments, so
 * the compiler knows them no better than the generator does.
 */
enum { BENCH_BLOCK = 1024 }; /* rows per column array: the engine's batch.rows */
enum { COL_SEQ, COL_KEY, COL_VALUE, COL_TS }; /* generator schema */
#define BENCH_GEN_SEED 42
#define BENCH_GEN_START_MS 1700000000000LL
#define BENCH_GEN_VALUE_SALT 0x5bd1e9955bd1e995ULL

typedef struct bench_gen_cols {
    int64_t seq[BENCH_BLOCK], key[BENCH_BLOCK], ts[BENCH_BLOCK];
    double value[BENCH_BLOCK];
} bench_gen_cols;

/* The generator's rows next, next + step, ... (m of them, m <= BENCH_BLOCK). */
static inline void bench_gen_fill(bench_gen_cols *g, int64_t next, int64_t step, uint32_t m,
                                  uint64_t keys, int64_t interval_us)
{
    const uint64_t seed = BENCH_GEN_SEED, vseed = BENCH_GEN_SEED ^ BENCH_GEN_VALUE_SALT;
    const int64_t start_us = BENCH_GEN_START_MS * 1000;
    for (uint32_t j = 0; j < m; j++) g->seq[j] = next + (int64_t)j * step;
    for (uint32_t j = 0; j < m; j++)
        g->key[j] = (int64_t)(sp_hash_u64(seed, (uint64_t)g->seq[j]) % keys);
    for (uint32_t j = 0; j < m; j++)
        g->value[j] = (double)(sp_hash_u64(vseed, (uint64_t)g->seq[j]) >> 11) *
                      (100.0 / 9007199254740992.0); /* top 53 bits / 2^53, scaled */
    for (uint32_t j = 0; j < m; j++) g->ts[j] = start_us + g->seq[j] * interval_us;
}

/* Makes the compiler store everything reachable from p, as the engine stores its
 * batches; emits no instruction. */
static inline void bench_clobber(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline uint64_t bench_double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Checksum of one output row (cells as 64-bit patterns: integers, double bits);
 * a run adds the rows' checksums, so the total does not depend on row order. */
static inline uint64_t bench_row_hash(const uint64_t *cells, int n)
{
    uint64_t h = 0;
    for (int c = 0; c < n; c++) h = sp_hash_u64(h, cells[c]);
    return h;
}

/* filter-map by hand: keeps value < 50 and projects (key, value * 2) without a
 * branch per row; returns the rows kept. */
typedef struct bench_proj_cols {
    int64_t key[BENCH_BLOCK];
    double v2[BENCH_BLOCK];
} bench_proj_cols;

static inline uint32_t bench_filter_project(const bench_gen_cols *g, bench_proj_cols *p,
                                            uint32_t m)
{
    uint32_t n = 0;
    for (uint32_t j = 0; j < m; j++) {
        p->key[n] = g->key[j];
        p->v2[n] = g->value[j] * 2.0;
        n += g->value[j] < 50.0;
    }
    return n;
}

/* filter-map with batch callbacks over column arrays: value < 50, then (key,
 * v2 = value * 2) - the C API job bench_core and bench_sql both time. */
static inline int bench_keep_low_cols(const spate_cols *in, uint8_t *keep, void *ud)
{
    (void)ud;
    const double *v = spate_cols_double(in, COL_VALUE);
    for (size_t i = 0, n = spate_cols_count(in); i < n; i++) keep[i] = v[i] < 50.0;
    return 0;
}

static inline int bench_project_cols(const spate_cols *in, spate_cols *out, void *ud)
{
    (void)ud;
    const int64_t *key = spate_cols_int64(in, COL_KEY);
    const double *v = spate_cols_double(in, COL_VALUE);
    int64_t *okey = spate_cols_out_int64(out, 0);
    double *v2 = spate_cols_out_double(out, 1);
    for (size_t i = 0, n = spate_cols_count(in); i < n; i++) {
        okey[i] = key[i];
        v2[i] = v[i] * 2.0;
    }
    return 0;
}

static inline spate_stream *bench_build_filter_project(spate_stream *src)
{
    spate_stream *f, *m;
    spate_schema *schema;
    ok(spate_filter_batch(src, bench_keep_low_cols, NULL, &f), "filter_batch");
    ok(spate_schema_parse("key BIGINT, v2 DOUBLE", &schema), "schema");
    ok(spate_map_batch(f, schema, bench_project_cols, NULL, &m), "map_batch");
    spate_schema_free(schema);
    return m;
}

#endif
