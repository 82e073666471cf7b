/*
 * blackhole.c - sink "blackhole": counts rows and discards them.
 *
 * For benchmarks and tests that measure everything but the output. The count is
 * logged at debug level on close; the job's records_out metric is the runtime's.
 * It runs one instance per worker: gathering rows onto one worker only to drop
 * them would make the sink the bottleneck of every multi-worker benchmark.
 */
#include "connectors/internal.h"

#include "core/log.h"

#include <stdlib.h>

static const sp_opt_def blackhole_opts[] = {{NULL, 0, NULL, NULL}};

static int blackhole_open(sp_sink *k)
{
    k->st = calloc(1, sizeof(uint64_t));
    return k->st ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
}

static int blackhole_write(sp_sink *k, const sp_batch *b)
{
    *(uint64_t *)k->st += sp_batch_count(b);
    return 0;
}

static int blackhole_close(sp_sink *k)
{
    sp_log(SP_LOG_DEBUG, "sink 'blackhole': discarded %llu rows",
           (unsigned long long)*(uint64_t *)k->st);
    free(k->st);
    k->st = NULL;
    return 0;
}

const sp_sink_class sp_blackhole_sink = {
    .name = "blackhole",
    .help = "counts and discards rows (benchmarks)",
    .opts = blackhole_opts,
    .uses_format = 0,
    .parallel = 1,
    .open = blackhole_open,
    .write = blackhole_write,
    .epoch = NULL,
    .close = blackhole_close,
};
