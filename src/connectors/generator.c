/*
 * generator.c - source "generator": synthetic events for tests and benchmarks.
 *
 * Design choices:
 *  - Every field is a pure function of (seed, seq): key = hash(seed, seq) % keys,
 *    value = another hash of (seed, seq) scaled to [0, 100), ts = start +
 *    seq * interval. Instance i of n produces seq i, i+n, i+2n, ..., so the union
 *    over instances is the same set for any worker count, and a run can be checked
 *    row by row without storing what was produced.
 *  - This is the benchmark source, so poll fills the four column vectors directly
 *    in one loop per column with no per-row calls or branches; the hash functions
 *    are static inline.
 *  - Rate limiting follows one global timeline: event seq is due at seq / rate
 *    seconds after the instance started, whichever instance owns it. Each instance
 *    therefore produces about rate / n per second, and no instance starves when
 *    rate < n (which a split of rate / n per instance would cause). Time comes from
 *    the monotonic clock; a poll with nothing due waits at most 5 ms.
 *  - Checkpoints: since rows are a pure function of seq, the position is the next
 *    seq of the instance and nothing else; a restored instance continues from it
 *    and emits exactly the rows not emitted before the checkpoint. The saved
 *    position also holds the instance count, because seq i, i+n, ... only lines up
 *    with the same n. The rate clock is not saved: after a restore the timeline
 *    restarts with the restored seq due at once (origin), so a restarted job does
 *    not burst to catch up with the time it was down, nor wait for a timeline
 *    started at seq 0.
 */
#include "connectors/internal.h"

#include "core/clock.h"
#include "core/hash.h"

#include "checkpoint/serde.h"

#include <stdlib.h>

/* Seed perturbation so the value hash is independent of the key hash. */
#define GEN_VALUE_SALT 0x5bd1e9955bd1e995ULL
#define GEN_MAX_WAIT_NS 5000000LL
#define GEN_STATE_VERSION 1

static const sp_opt_def generator_opts[] = {
    {"count", SP_OPT_INT, "-1", "events to produce in total; -1 = unbounded"},
    {"rate", SP_OPT_INT, "0", "events per second over all instances; 0 = as fast as possible"},
    {"keys", SP_OPT_INT, "1000", "key cardinality: key = hash(seed, seq) % keys"},
    {"seed", SP_OPT_INT, "42", "seed of the key and value hashes"},
    {"start", SP_OPT_INT, "1700000000000", "ts of event 0, ms since the epoch"},
    {"interval", SP_OPT_DURATION, "1ms", "ts difference between consecutive events"},
    {NULL, 0, NULL, NULL}};

typedef struct gen_state {
    int64_t count; /* -1 = unbounded */
    int64_t rate;
    uint64_t keys;
    uint64_t seed;
    int64_t start_us, interval_us;
    int64_t next;   /* next seq this instance produces */
    int64_t step;   /* number of instances */
    int64_t origin; /* seq due at t0_ns: 0, or the restored next */
    int64_t t0_ns;  /* monotonic time of the first poll; 0 before */
} gen_state;

static spate_schema *generator_schema(void)
{
    spate_schema *s = NULL;
    if (spate_schema_parse("seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP", &s)) return NULL;
    return s;
}

static int generator_open(sp_source *s)
{
    int64_t keys = sp_opts_int(&s->opts, "keys");
    int64_t count = sp_opts_int(&s->opts, "count");
    int64_t rate = sp_opts_int(&s->opts, "rate");
    if (keys <= 0) return sp_err(SPATE_EINVAL, "source 'generator': option 'keys' must be > 0");
    if (count < -1) return sp_err(SPATE_EINVAL, "source 'generator': option 'count' must be >= -1");
    if (rate < 0) return sp_err(SPATE_EINVAL, "source 'generator': option 'rate' must be >= 0");
    gen_state *g = calloc(1, sizeof *g);
    if (!g) return sp_err(SPATE_ENOMEM, "out of memory");
    g->count = count;
    g->rate = rate;
    g->keys = (uint64_t)keys;
    g->seed = (uint64_t)sp_opts_int(&s->opts, "seed");
    g->start_us = sp_opts_int(&s->opts, "start") * 1000;
    g->interval_us = sp_opts_duration_us(&s->opts, "interval");
    g->next = s->instance;
    g->step = s->ninstances > 0 ? s->ninstances : 1;
    s->st = g;
    return 0;
}

/* Highest seq (exclusive) due now under the rate limit; waits briefly when none is. */
static int64_t due_limit(gen_state *g)
{
    int64_t now = sp_mono_ns();
    if (!g->t0_ns) g->t0_ns = now;
    int64_t limit = g->origin + (int64_t)((double)(now - g->t0_ns) * (double)g->rate / 1e9) + 1;
    if (limit > g->next) return limit;
    int64_t due_ns = g->t0_ns + (int64_t)((double)(g->next - g->origin) * 1e9 / (double)g->rate);
    int64_t wait_ns = due_ns - now + 1;
    sp_sleep_ns(wait_ns < GEN_MAX_WAIT_NS ? wait_ns : GEN_MAX_WAIT_NS);
    return g->next;
}

/* Rows this poll produces: bounded by the batch room, count and the rate. */
static uint32_t rows_now(gen_state *g, uint32_t room)
{
    int64_t end = g->count < 0 ? INT64_MAX : g->count;
    if (g->rate) {
        int64_t limit = due_limit(g);
        if (limit < end) end = limit;
    }
    if (g->next >= end) return 0;
    int64_t avail = (end - g->next - 1) / g->step + 1; /* seqs next, next+step, ... < end */
    return avail < (int64_t)room ? (uint32_t)avail : room;
}

static void fill(const gen_state *g, sp_batch *b, uint32_t first, uint32_t m)
{
    int64_t *seq = SP_I64(&b->cols[0]) + first;
    int64_t *key = SP_I64(&b->cols[1]) + first;
    double *val = SP_F64(&b->cols[2]) + first;
    int64_t *ts = SP_I64(&b->cols[3]) + first;
    for (uint32_t j = 0; j < m; j++)
        seq[j] = g->next + (int64_t)j * g->step;
    for (uint32_t j = 0; j < m; j++)
        key[j] = (int64_t)(sp_hash_u64(g->seed, (uint64_t)seq[j]) % g->keys);
    for (uint32_t j = 0; j < m; j++)
        val[j] = (double)(sp_hash_u64(g->seed ^ GEN_VALUE_SALT, (uint64_t)seq[j]) >> 11) *
                 (100.0 / 9007199254740992.0); /* top 53 bits / 2^53, scaled */
    for (uint32_t j = 0; j < m; j++)
        ts[j] = g->start_us + seq[j] * g->interval_us;
}

static int generator_poll(sp_source *s, sp_batch *b, int *eof)
{
    gen_state *g = s->st;
    if ((g->count >= 0 && g->next >= g->count) || sp_op_stopping(s->op)) {
        *eof = 1;
        return 0;
    }
    uint32_t m = rows_now(g, b->cap - b->n);
    fill(g, b, b->n, m);
    b->n += m;
    g->next += (int64_t)m * g->step;
    if (g->count >= 0 && g->next >= g->count) *eof = 1;
    return 0;
}

/* The position: a version, the instance count, the next seq. */
static int generator_snapshot(sp_source *s, sp_wbuf *w)
{
    const gen_state *g = s->st;
    sp_w_u8(w, GEN_STATE_VERSION);
    sp_w_i64(w, g->step);
    sp_w_i64(w, g->next);
    return w->err;
}

static int generator_restore(sp_source *s, sp_rbuf *r)
{
    gen_state *g = s->st;
    uint8_t version = sp_r_u8(r);
    int64_t step = sp_r_i64(r), next = sp_r_i64(r);
    if (!sp_r_done(r) || version != GEN_STATE_VERSION || step <= 0 || next < 0)
        return sp_err(SPATE_EPARSE,
                      "source 'generator': the saved position of instance %d is truncated or "
                      "corrupt",
                      s->instance);
    if (step != g->step || next % step != s->instance)
        return sp_err(SPATE_ESTATE,
                      "source 'generator': the checkpoint was taken with %lld instances, this "
                      "job has %lld (the worker count must not change)",
                      (long long)step, (long long)g->step);
    g->next = g->origin = next;
    return 0;
}

static void generator_close(sp_source *s)
{
    free(s->st);
    s->st = NULL;
}

const sp_source_class sp_generator_source = {
    .name = "generator",
    .help = "synthetic events (seq BIGINT, key BIGINT, value DOUBLE, ts TIMESTAMP)",
    .opts = generator_opts,
    .uses_format = 0,
    .parallel = 1,
    .fixed_schema = generator_schema,
    .open = generator_open,
    .poll = generator_poll,
    .close = generator_close,
    .snapshot = generator_snapshot,
    .restore = generator_restore,
};
