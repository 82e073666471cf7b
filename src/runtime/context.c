/*
 * context.c - configuration and the context lifecycle: build, start, await,
 * stop, free.
 *
 * Configuration keys are validated when set, so a typo fails at once with the
 * list of valid keys. The context owns every stream (node) made on it; workers
 * are created at start and joined before await, stop or free return, so no
 * thread of the library outlives the call that ends the job.
 */
#include "runtime/worker.h"

#include "checkpoint/coordinator.h"

#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- configuration */

typedef struct conf_key {
    const char *name;
    const char *def;
    const char *help;
} conf_key;

static const conf_key conf_keys[] = {
    {"workers", NULL, "worker threads (default: number of cores)"},
    {"key_groups", "128", "key groups P, fixed per job"},
    {"batch.interval.ms", "0", "micro-batch interval in ms; 0 = continuous style"},
    {"batch.rows", "1024", "rows per columnar batch"},
    {"state.ttl.ms", "0", "drop keyed state idle this long (processing time); 0 = never"},
    {"queue.capacity", "64", "batches per exchange queue"},
    {"bad_records.policy", "dead-letter", "skip | dead-letter | fail"},
    {"dead_letter.path", "-", "file for dead letters, '-' = stderr"},
    {"log.level", "warn", "error | warn | info | debug"},
    {"checkpoint.dir", NULL, "directory of checkpoints; unset = no checkpoints"},
    {"checkpoint.interval.ms", "0", "checkpoint interval; 0 = 10 batch intervals, or 10 s"},
    {"checkpoint.keep", "3", "complete checkpoints kept"},
    {"checkpoint.reset", "false", "start over when the checkpoint is of another job"},
    {"delivery", NULL,
     "at-most-once | at-least-once | exactly-once (default: exactly-once with "
     "checkpoint.dir, else at-most-once)"},
    {NULL, NULL, NULL}};

struct spate_conf {
    char *vals[sizeof conf_keys / sizeof conf_keys[0]];
};

spate_conf *spate_conf_new(void)
{
    return calloc(1, sizeof(spate_conf));
}

void spate_conf_free(spate_conf *c)
{
    if (!c) return;
    for (int i = 0; conf_keys[i].name; i++) free(c->vals[i]);
    free(c);
}

static int conf_index(const char *key)
{
    for (int i = 0; key && conf_keys[i].name; i++)
        if (strcmp(conf_keys[i].name, key) == 0) return i;
    return -1;
}

static int parse_int(const char *key, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return sp_err(SPATE_EINVAL, "%s must be an integer from %ld to %ld, not '%s'", key, lo, hi,
                      v);
    *out = x;
    return 0;
}

static int set_string(char **field, const char *v)
{
    char *copy = strdup(v);
    if (!copy) return sp_err(SPATE_ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

/* Checks value for key; fills the matching context field when ctx is given. */
static int conf_apply(spate_ctx *ctx, const char *key, const char *v)
{
    long x = 0;
    int rc = 0;
    if (strcmp(key, "workers") == 0) {
        if (!(rc = parse_int(key, v, 1, 256, &x)) && ctx) ctx->workers = (int)x;
    } else if (strcmp(key, "key_groups") == 0) {
        if (!(rc = parse_int(key, v, 1, 32768, &x)) && ctx) ctx->key_groups = (int)x;
    } else if (strcmp(key, "batch.interval.ms") == 0) {
        if (!(rc = parse_int(key, v, 0, 86400000, &x)) && ctx) ctx->interval_ms = x;
    } else if (strcmp(key, "batch.rows") == 0) {
        if (!(rc = parse_int(key, v, 1, 1 << 20, &x)) && ctx) ctx->batch_rows = (uint32_t)x;
    } else if (strcmp(key, "state.ttl.ms") == 0) {
        if (!(rc = parse_int(key, v, 0, 365L * 86400000, &x)) && ctx) ctx->state_ttl_ms = x;
    } else if (strcmp(key, "queue.capacity") == 0) {
        if (!(rc = parse_int(key, v, 2, 1 << 16, &x)) && ctx) ctx->queue_cap = (int)x;
    } else if (strcmp(key, "bad_records.policy") == 0) {
        sp_bad_policy p;
        if (!(rc = sp_bad_policy_parse(v, &p)) && ctx) ctx->bad_policy = p;
    } else if (strcmp(key, "dead_letter.path") == 0) {
        if (ctx) rc = set_string(&ctx->dl_path, v);
    } else if (strcmp(key, "checkpoint.dir") == 0) {
        if (!*v) rc = sp_err(SPATE_EINVAL, "checkpoint.dir must not be empty");
        else if (ctx) rc = set_string(&ctx->ckpt_dir, v);
    } else if (strcmp(key, "checkpoint.interval.ms") == 0) {
        if (!(rc = parse_int(key, v, 0, 86400000, &x)) && ctx) ctx->ckpt_interval_ms = x;
    } else if (strcmp(key, "checkpoint.keep") == 0) {
        if (!(rc = parse_int(key, v, 1, 1000, &x)) && ctx) ctx->ckpt_keep = (int)x;
    } else if (strcmp(key, "checkpoint.reset") == 0) {
        if (strcmp(v, "true") && strcmp(v, "false"))
            rc = sp_err(SPATE_EINVAL, "checkpoint.reset must be true or false, not '%s'", v);
        else if (ctx) ctx->ckpt_reset = strcmp(v, "true") == 0;
    } else if (strcmp(key, "delivery") == 0) {
        static const char *const names[] = {"at-most-once", "at-least-once", "exactly-once"};
        int d = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(v, names[i]) == 0) d = i;
        if (d < 0)
            rc = sp_err(SPATE_EINVAL,
                        "delivery must be at-most-once, at-least-once or exactly-once, not '%s'", v);
        else if (ctx) ctx->delivery = d;
    } else if (strcmp(key, "log.level") == 0) {
        sp_log_level l;
        if (!(rc = sp_log_parse_level(v, &l)) && ctx) sp_log_set_level(l);
    }
    return rc;
}

int spate_conf_set(spate_conf *c, const char *key, const char *value)
{
    if (!c || !key || !value) return sp_err(SPATE_EINVAL, "conf, key and value are required");
    int i = conf_index(key);
    if (i < 0) {
        char names[512] = "";
        for (int k = 0; conf_keys[k].name; k++) {
            if (k) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, conf_keys[k].name, sizeof names - strlen(names) - 1);
        }
        return sp_err(SPATE_ENOTFOUND, "unknown configuration key '%s' (valid keys: %s)", key,
                      names);
    }
    int rc = conf_apply(NULL, key, value);
    if (rc) return rc;
    char *v = strdup(value);
    if (!v) return sp_err(SPATE_ENOMEM, "out of memory");
    free(c->vals[i]);
    c->vals[i] = v;
    return 0;
}

const char *spate_conf_get(const spate_conf *c, const char *key)
{
    int i = conf_index(key);
    return c && i >= 0 ? c->vals[i] : NULL;
}

/* ---- context */

int spate_ctx_new(const spate_conf *conf, spate_ctx **out)
{
    if (!out) return sp_err(SPATE_EINVAL, "out is NULL");
    *out = NULL;
    spate_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return sp_err(SPATE_ENOMEM, "out of memory");
    ctx->delivery = -1; /* unset: decided at start from checkpoint.dir */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ctx->workers = ncpu > 0 ? (int)(ncpu > 256 ? 256 : ncpu) : 1;
    for (int i = 0; conf_keys[i].name; i++) {
        const char *v = conf && conf->vals[i] ? conf->vals[i] : conf_keys[i].def;
        int rc = v ? conf_apply(ctx, conf_keys[i].name, v) : 0;
        if (rc) {
            free(ctx->dl_path);
            free(ctx);
            return rc;
        }
    }
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv, NULL);
    ctx->state = SP_CTX_BUILDING;
    *out = ctx;
    return 0;
}

int spate_ctx_get_or_create(const char *checkpoint_dir, const spate_conf *conf,
                            spate_create_fn create, void *ud, spate_ctx **out)
{
    if (!out || !create) return sp_err(SPATE_EINVAL, "create and out are required");
    *out = NULL;
    spate_ctx *ctx;
    int rc = spate_ctx_new(conf, &ctx);
    if (rc) return rc;
    /* C callbacks cannot be stored, so the job is always built by create(); its
     * state comes back from the newest complete checkpoint at spate_ctx_start,
     * after a check that the job built is the one that wrote it. */
    if (checkpoint_dir) rc = set_string(&ctx->ckpt_dir, checkpoint_dir);
    if (!rc) rc = create(ctx, ud);
    if (rc) {
        spate_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void sp_ctx_fail(spate_ctx *ctx, int code, const char *msg)
{
    pthread_mutex_lock(&ctx->mu);
    if (!ctx->job_error) {
        ctx->job_error = code;
        snprintf(ctx->job_msg, sizeof ctx->job_msg, "%s", msg && *msg ? msg : spate_strerror(code));
    }
    atomic_store(&ctx->aborting, 1);
    pthread_mutex_unlock(&ctx->mu);
}

static int has_output(const spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++)
        if (!ctx->nodes[i]->schema) return 1;
    return 0;
}

static int open_instances(spate_ctx *ctx)
{
    for (int i = 0; i < ctx->nnodes; i++)
        for (int w = 0; w < ctx->workers; w++) {
            sp_op *op = ctx->nodes[i]->inst[w];
            if (!op || !op->cls->open) {
                if (op) op->opened = 1;
                continue;
            }
            int rc = op->cls->open(op);
            if (rc) return rc;
            op->opened = 1;
        }
    return 0;
}

static int start_workers(spate_ctx *ctx)
{
    ctx->w = calloc((size_t)ctx->workers, sizeof *ctx->w);
    ctx->threads = calloc((size_t)ctx->workers, sizeof *ctx->threads);
    if (!ctx->w || !ctx->threads) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int w = 0; w < ctx->workers; w++) {
        ctx->w[w].ctx = ctx;
        ctx->w[w].id = w;
        ctx->w[w].epoch = 1;
        sp_pool_init(&ctx->w[w].pool, ctx->batch_rows, 2 * ctx->queue_cap + 64);
    }
    ctx->kg_owner = malloc((size_t)ctx->key_groups * sizeof *ctx->kg_owner);
    if (!ctx->kg_owner) return sp_err(SPATE_ENOMEM, "out of memory");
    for (int g = 0; g < ctx->key_groups; g++)
        ctx->kg_owner[g] = (uint16_t)sp_key_group_owner(g, ctx->key_groups, ctx->workers);
    if ((ctx->key_groups & (ctx->key_groups - 1)) == 0) ctx->kg_mask = (uint64_t)ctx->key_groups - 1;
    ctx->fingerprint = sp_ckpt_fingerprint(ctx);
    int rc = sp_deadletter_open(&ctx->dl, ctx->bad_policy, ctx->dl_path);
    if (!rc) rc = sp_graph_compile(ctx);
    if (!rc) rc = sp_ckpt_setup(ctx);
    ctx->start_ms = sp_now_ms();
    if (!rc) rc = open_instances(ctx);
    if (!rc) rc = sp_ckpt_restore_all(ctx);
    return rc;
}

/* Delivery defaults from checkpointing and is checked against it. */
static int settle_delivery(spate_ctx *ctx)
{
    if (ctx->delivery < 0)
        ctx->delivery = ctx->ckpt_dir ? SP_DELIVERY_EXACTLY_ONCE : SP_DELIVERY_AT_MOST_ONCE;
    if (ctx->delivery != SP_DELIVERY_AT_MOST_ONCE && !ctx->ckpt_dir)
        return sp_err(SPATE_EINVAL, "delivery %s needs checkpoint.dir",
                      ctx->delivery == SP_DELIVERY_EXACTLY_ONCE ? "exactly-once"
                                                                : "at-least-once");
    if (ctx->ckpt_interval_ms == 0)
        ctx->ckpt_interval_ms = ctx->interval_ms > 0 ? 10 * ctx->interval_ms : 10000;
    ctx->marker_ms = ctx->interval_ms > 0 ? ctx->interval_ms
                                          : (ctx->ckpt_dir ? ctx->ckpt_interval_ms : 0);
    return 0;
}

int spate_ctx_start(spate_ctx *ctx)
{
    if (!ctx) return sp_err(SPATE_EINVAL, "context is NULL");
    if (ctx->state != SP_CTX_BUILDING)
        return sp_err(SPATE_ESTATE, "the context was already started");
    if (!has_output(ctx))
        return sp_err(SPATE_ESTATE,
                      "no output: add print, foreach_batch, save_as_text_files or a sink");
    int rc = settle_delivery(ctx);
    if (rc) return rc;
    ctx->state = SP_CTX_RUNNING;
    rc = start_workers(ctx);
    int started = 0;
    for (; !rc && started < ctx->workers; started++)
        if (pthread_create(&ctx->threads[started], NULL, sp_worker_main, &ctx->w[started]))
            rc = sp_err(SPATE_ENOMEM, "cannot create worker thread");
    if (rc) {
        sp_ctx_fail(ctx, rc, spate_last_error());
        for (int w = 0; w < started; w++) pthread_join(ctx->threads[w], NULL);
        ctx->joined = 1;
        ctx->state = SP_CTX_DONE;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ctx->job_msg);
        return sp_err(rc, "%s", msg);
    }
    return 0;
}

static void join_workers(spate_ctx *ctx)
{
    if (ctx->joined) return;
    for (int w = 0; w < ctx->workers; w++) pthread_join(ctx->threads[w], NULL);
    ctx->joined = 1;
    ctx->state = SP_CTX_DONE;
    sp_runtime_drop_inflight(ctx);
}

int spate_ctx_await_termination(spate_ctx *ctx, int64_t timeout_ms)
{
    if (!ctx) return sp_err(SPATE_EINVAL, "context is NULL");
    if (ctx->state == SP_CTX_BUILDING) return sp_err(SPATE_ESTATE, "the context was not started");
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&ctx->mu);
    int timed_out = 0;
    while (!ctx->joined && ctx->workers_done < ctx->workers && !timed_out) {
        if (timeout_ms < 0) pthread_cond_wait(&ctx->cv, &ctx->mu);
        else timed_out = pthread_cond_timedwait(&ctx->cv, &ctx->mu, &deadline) == ETIMEDOUT;
    }
    int done = ctx->joined || ctx->workers_done == ctx->workers;
    pthread_mutex_unlock(&ctx->mu);
    if (!done) return sp_err(SPATE_ETIMEDOUT, "the job is still running after %lld ms",
                             (long long)timeout_ms);
    int was_joined = ctx->joined;
    join_workers(ctx);
    /* A normal end or a graceful stop: one last checkpoint, then the commits. */
    if (!was_joined && !ctx->job_error && !atomic_load(&ctx->aborting)) {
        int rc = sp_ckpt_final(ctx);
        if (rc) sp_ctx_fail(ctx, rc, spate_last_error());
    }
    if (ctx->job_error) return sp_err(ctx->job_error, "%s", ctx->job_msg);
    return 0;
}

int spate_ctx_stop(spate_ctx *ctx, int graceful)
{
    if (!ctx) return sp_err(SPATE_EINVAL, "context is NULL");
    if (ctx->state == SP_CTX_BUILDING) return sp_err(SPATE_ESTATE, "the context was not started");
    if (graceful) atomic_store(&ctx->stop_requested, 1);
    else atomic_store(&ctx->aborting, 1);
    return spate_ctx_await_termination(ctx, -1);
}

void spate_ctx_request_stop(spate_ctx *ctx)
{
    if (ctx) atomic_store(&ctx->stop_requested, 1);
}

const char *spate_ctx_error(const spate_ctx *ctx)
{
    return ctx && ctx->job_error ? ctx->job_msg : "";
}

int spate_ctx_metrics(const spate_ctx *ctx, spate_metrics *m)
{
    if (!ctx || !m) return sp_err(SPATE_EINVAL, "context and metrics are required");
    m->records_in = atomic_load(&ctx->records_in);
    m->records_out = atomic_load(&ctx->records_out);
    m->bad_records = ctx->state == SP_CTX_BUILDING ? 0 : atomic_load(&ctx->dl.count);
    m->batches = atomic_load(&ctx->batches);
    m->late_records = atomic_load(&ctx->late_records);
    return 0;
}

void spate_ctx_free(spate_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->state == SP_CTX_RUNNING) {
        atomic_store(&ctx->aborting, 1);
        join_workers(ctx);
    }
    if (ctx->w) sp_graph_teardown(ctx);
    sp_ckpt_teardown(ctx);
    for (int i = 0; i < ctx->nnodes; i++) sp_node_free(ctx->nodes[i]);
    free(ctx->nodes);
    for (int w = 0; ctx->w && w < ctx->workers; w++) {
        free(ctx->w[w].ops);
        sp_pool_destroy(&ctx->w[w].pool);
    }
    free(ctx->w);
    free(ctx->threads);
    free(ctx->kg_owner);
    if (ctx->state != SP_CTX_BUILDING) sp_deadletter_close(&ctx->dl);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv);
    free(ctx->dl_path);
    free(ctx->ckpt_dir);
    free(ctx);
}
