/*
 * bench_checkpoint.c - what checkpoints of a large keyed state cost (issue 4).
 *
 * Job: generator(keys = 1M) -> key_by(key) -> aggregate_by_key(running, COUNT, SUM(value))
 * -> blackhole, continuous style, workers = 1 unless --workers N. With checkpoint.dir set
 * (a fresh directory under --dir) and checkpoint.interval.ms = 1000, every checkpoint
 * writes the whole table of up to 1M keys.
 *
 * What is measured, from outside the engine (nothing in it is instrumented):
 *   throughput  wall time (CLOCK_MONOTONIC) from spate_ctx_start to the return of
 *               spate_ctx_await_termination, with and without checkpoint.dir; the two
 *               alternate run by run and the best of --runs counts. The difference is
 *               the whole cost of checkpointing, the final checkpoint at the end of the
 *               job included; the target is at most 10 % more time.
 *   duration    a bench thread watches the checkpoint directory with inotify and stamps
 *               each event when read() returns: the write of checkpoint N lasts from
 *               IN_CREATE of chk-N.tmp (the first barrier reached the coordinator) to
 *               IN_MOVED_TO of chk-N (manifest written, renamed, directory fsynced).
 *               The store then prunes old checkpoints on the same thread, so the pause
 *               runs until the last IN_DELETE of a chk-M directory before the next
 *               checkpoint begins. Snapshots are synchronous on the worker, so with one
 *               worker the pause stops the whole job. Resolution: the watcher's wake-up
 *               latency, tens of microseconds on an idle core, more when both cores
 *               are busy.
 *   size        the sum of st_size over the files of the newest complete chk-N of the
 *               fastest checkpointed run (the final checkpoint: every key seen).
 *   recovery    a new context with the same job, the same directory and the same
 *               generator count: spate_ctx_start loads, verifies and restores the
 *               checkpoint (1M keys), the generator resumes at its end and the job
 *               ends at once after its own final checkpoint. Reported: the duration of
 *               spate_ctx_start, and from its call to the end of await.
 */
#define _GNU_SOURCE
#define BENCH_NAME "bench_checkpoint"
#include "bench.h"

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000.0
#define MAX_CKPTS 4096

/* ------------------------------------------------------------------ helpers */




static double ms(int64_t ns)
{
    return (double)ns / NS_PER_MS;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int unlink_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, unlink_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------- the directory watcher */

/* Event times of one checkpoint; 0 = not seen. */
typedef struct ckpt_times {
    int64_t created, renamed, last; /* last: rename or the prune that followed it */
} ckpt_times;

typedef struct watcher {
    int fd;
    _Atomic int stop;
    pthread_t tid;
    int n; /* checkpoints seen, in order */
    int64_t ids[MAX_CKPTS];
    ckpt_times t[MAX_CKPTS];
} watcher;

static ckpt_times *times_of(watcher *w, int64_t id)
{
    for (int i = w->n - 1; i >= 0; i--)
        if (w->ids[i] == id) return &w->t[i];
    if (w->n == MAX_CKPTS) die("watcher", "too many checkpoints");
    w->ids[w->n] = id;
    w->t[w->n] = (ckpt_times){0, 0, 0};
    return &w->t[w->n++];
}

/* Records one event of the checkpoint directory, stamped at. */
static void on_event(watcher *w, const struct inotify_event *ev, int64_t at)
{
    long long id;
    char rest[8] = "";
    if (!ev->len || sscanf(ev->name, "chk-%lld%7s", &id, rest) < 1) return;
    if ((ev->mask & IN_CREATE) && !strcmp(rest, ".tmp")) times_of(w, id)->created = at;
    if ((ev->mask & IN_MOVED_TO) && !rest[0]) times_of(w, id)->renamed = times_of(w, id)->last = at;
    if ((ev->mask & IN_DELETE) && !rest[0] && w->n && w->t[w->n - 1].renamed)
        w->t[w->n - 1].last = at; /* a prune by the newest complete checkpoint */
}

static void *watch_loop(void *arg)
{
    watcher *w = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd p = {w->fd, POLLIN, 0};
    while (!atomic_load(&w->stop)) {
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t len = read(w->fd, buf, sizeof buf);
        int64_t at = now_ns();
        for (ssize_t off = 0; off < len;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            on_event(w, ev, at);
            off += (ssize_t)(sizeof *ev + ev->len);
        }
    }
    return NULL;
}

static void watch_start(watcher *w, const char *dir)
{
    memset(w, 0, sizeof *w);
    w->fd = inotify_init1(IN_CLOEXEC);
    if (w->fd < 0 || inotify_add_watch(w->fd, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0)
        die("inotify", dir);
    if (pthread_create(&w->tid, NULL, watch_loop, w)) die("thread", "spawn");
}

static void watch_stop(watcher *w)
{
    atomic_store(&w->stop, 1);
    pthread_join(w->tid, NULL);
    close(w->fd);
}

/* ------------------------------------------------------------------ the job */

typedef struct options {
    int64_t events, keys;
    int workers, runs, interval_ms;
    const char *parent; /* where checkpoint directories are made */
} options;

static spate_ctx *new_ctx(const options *o, const char *ckpt_dir)
{
    char w[16], iv[16];
    snprintf(w, sizeof w, "%d", o->workers);
    snprintf(iv, sizeof iv, "%d", o->interval_ms);
    spate_conf *conf = spate_conf_new();
    if (!conf) die("conf", "out of memory");
    ok(spate_conf_set(conf, "workers", w), "conf workers");
    ok(spate_conf_set(conf, "batch.interval.ms", "0"), "conf batch.interval.ms");
    if (ckpt_dir) {
        ok(spate_conf_set(conf, "checkpoint.dir", ckpt_dir), "conf checkpoint.dir");
        ok(spate_conf_set(conf, "checkpoint.interval.ms", iv), "conf checkpoint.interval.ms");
    }
    spate_ctx *ctx;
    ok(spate_ctx_new(conf, &ctx), "context");
    spate_conf_free(conf);
    return ctx;
}

/* generator -> key_by(key) -> aggregate_by_key(running, COUNT, SUM(value)) -> blackhole */
static void build_job(spate_ctx *ctx, const options *o)
{
    static const char *const key[] = {"key"};
    static const spate_agg aggs[] = {{SPATE_AGG_COUNT, NULL, "n", 0},
                                     {SPATE_AGG_SUM, "value", "total", 0}};
    char count[24], keys[24];
    snprintf(count, sizeof count, "%" PRId64, o->events);
    snprintf(keys, sizeof keys, "%" PRId64, o->keys);
    const char *opts[] = {"count", count, "keys", keys, NULL};
    spate_stream *src, *keyed, *agg;
    ok(spate_source_open(ctx, "generator", NULL, opts, &src), "generator");
    ok(spate_key_by(src, 1, key, &keyed), "key_by");
    ok(spate_aggregate_by_key(keyed, 2, aggs, 1, &agg), "aggregate_by_key");
    ok(spate_sink_open(agg, "blackhole", NULL), "blackhole");
}

/* Times of one run: start = spate_ctx_start's duration, total = start to end of await. */
typedef struct run_times {
    int64_t start, total;
} run_times;

static run_times run_job(const options *o, const char *ckpt_dir)
{
    spate_ctx *ctx = new_ctx(o, ckpt_dir);
    build_job(ctx, o);
    int64_t t0 = now_ns();
    ok(spate_ctx_start(ctx), "start");
    int64_t t1 = now_ns();
    if (spate_ctx_await_termination(ctx, -1)) die("job failed", spate_ctx_error(ctx));
    run_times r = {t1 - t0, now_ns() - t0};
    spate_ctx_free(ctx);
    return r;
}

/* ------------------------------------------------------------- measurements */

/* One run with checkpoints in a fresh directory, watched; the directory is kept. */
static run_times run_checkpointed(const options *o, char *dir, size_t cap, watcher *w)
{
    snprintf(dir, cap, "%s/bench-ckpt-XXXXXX", o->parent);
    if (!mkdtemp(dir)) die("mkdtemp", dir);
    watch_start(w, dir);
    run_times r = run_job(o, dir);
    watch_stop(w);
    return r;
}

/* Bytes in the newest complete chk-N of dir. */
static int64_t newest_size(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) die("opendir", dir);
    long long best = -1, id;
    char tail[2];
    for (struct dirent *e; (e = readdir(d));)
        if (sscanf(e->d_name, "chk-%lld%1s", &id, tail) == 1 && id > best) best = id;
    closedir(d);
    if (best < 0) die("no complete checkpoint in", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/chk-%lld", dir, best);
    if (!(d = opendir(path))) die("opendir", path);
    int64_t sum = 0;
    struct stat st;
    for (struct dirent *e; (e = readdir(d));)
        if (!fstatat(dirfd(d), e->d_name, &st, 0) && S_ISREG(st.st_mode)) sum += st.st_size;
    closedir(d);
    return sum;
}

/* Sorted durations of the complete checkpoints: to the rename, or to the last prune. */
static int durations(const watcher *w, int to_last, int64_t *out)
{
    int n = 0;
    for (int i = 0; i < w->n; i++)
        if (w->t[i].created && w->t[i].renamed)
            out[n++] = (to_last ? w->t[i].last : w->t[i].renamed) - w->t[i].created;
    qsort(out, (size_t)n, sizeof *out, cmp_i64);
    return n;
}

static void print_spread(const char *what, const watcher *w, int to_last)
{
    int64_t d[MAX_CKPTS];
    int n = durations(w, to_last, d);
    if (!n) die(what, "no checkpoint was seen");
    int64_t sum = 0;
    for (int i = 0; i < n; i++) sum += d[i];
    printf("%-34s %8.1f %8.1f %8.1f %8.1f  (n = %d)\n", what, ms(d[0]), ms(d[n / 2]),
           ms(d[n - 1]), ms(sum), n);
}

static void print_load(void)
{
    double l[3];
    if (getloadavg(l, 3) == 3) printf("load average %.2f %.2f %.2f\n", l[0], l[1], l[2]);
}

static double mev_per_s(const options *o, int64_t ns)
{
    return (double)o->events / ((double)ns / NS_PER_S) / 1e6;
}

static void report_throughput(const options *o, int64_t plain, int64_t ckpt)
{
    double cost = 100.0 * (double)(ckpt - plain) / (double)plain;
    printf("%-34s %8s %8s\n", "run (best of runs)", "seconds", "Mev/s");
    printf("%-34s %8.2f %8.2f\n", "no checkpoints", (double)plain / NS_PER_S,
           mev_per_s(o, plain));
    printf("%-34s %8.2f %8.2f  (%+.1f %% time, target <= +10 %%)\n", "checkpoint every interval",
           (double)ckpt / NS_PER_S, mev_per_s(o, ckpt), cost);
}

static void report_checkpoints(const options *o, const watcher *w, int64_t bytes)
{
    double keys = (double)o->keys * -expm1(-(double)o->events / (double)o->keys);
    printf("%-34s %8s %8s %8s %8s\n", "checkpoint (fastest run), ms", "min", "median", "max",
           "sum");
    print_spread("write: chk-N.tmp made -> renamed", w, 0);
    print_spread("pause: made -> old ones pruned", w, 1);
    printf("size of the last checkpoint: %.1f MB for %.0f keys (expected distinct) = "
           "%.1f bytes/key\n", (double)bytes / 1e6, keys, (double)bytes / keys);
}

/* Restores from dir, --runs times (each ends with a final checkpoint to restore next). */
static void report_recovery(const options *o, const char *dir)
{
    run_times best = {0, 0};
    for (int r = 0; r < o->runs; r++) {
        run_times t = run_job(o, dir);
        if (r == 0 || t.total < best.total) best = t;
    }
    printf("recovery (best of %d): spate_ctx_start %.1f ms (load, verify, restore); "
           "start to end of job %.1f ms (with its final checkpoint)\n",
           o->runs, ms(best.start), ms(best.total));
}

/* Alternates runs without and with checkpoints; reports the best of each. */
static void measure(const options *o)
{
    static watcher w, best_w;
    char dir[4096], best_dir[4096] = "";
    int64_t plain = 0, ckpt = 0;
    for (int r = 0; r < o->runs; r++) {
        run_times p = run_job(o, NULL), c = run_checkpointed(o, dir, sizeof dir, &w);
        if (r == 0 || p.total < plain) plain = p.total;
        if (r > 0 && c.total >= ckpt) {
            remove_tree(dir);
            continue;
        }
        if (best_dir[0]) remove_tree(best_dir);
        ckpt = c.total;
        best_w = w;
        snprintf(best_dir, sizeof best_dir, "%s", dir);
    }
    report_throughput(o, plain, ckpt);
    report_checkpoints(o, &best_w, newest_size(best_dir));
    report_recovery(o, best_dir);
    remove_tree(best_dir);
}

/* ------------------------------------------------------------------- driver */

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--events N] [--keys N] [--workers N] [--runs K] [--interval-ms MS]"
            " [--dir PATH]\n"
            "  --events N       generator events per run (default 50000000)\n"
            "  --keys N         distinct keys (default 1000000)\n"
            "  --workers N      worker threads (default 1)\n"
            "  --runs K         runs per side, the best counts (default 3)\n"
            "  --interval-ms MS checkpoint.interval.ms (default 1000)\n"
            "  --dir PATH       where checkpoint directories are made (default /tmp)\n",
            argv0);
    exit(2);
}

static int64_t arg_int(const char *argv0, const char *s, int64_t min)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || v < min) usage(argv0);
    return v;
}

static options parse_options(int argc, char **argv)
{
    options o = {50000000, 1000000, 1, 3, 1000, "/tmp"};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--events")) o.events = arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--keys")) o.keys = arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--workers")) o.workers = (int)arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--runs")) o.runs = (int)arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--interval-ms")) o.interval_ms = (int)arg_int(argv[0], v, 1);
        else if (!strcmp(a, "--dir") && v) o.parent = v;
        else usage(argv[0]);
    }
    return o;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    printf("workers = %d, keys = %" PRId64 ", events = %" PRId64
           ", checkpoint.interval.ms = %d, runs = %d\n",
           o.workers, o.keys, o.events, o.interval_ms, o.runs);
    print_load();
    measure(&o);
    print_load();
    return 0;
}
