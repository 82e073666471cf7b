/*
 * bench.h - what every benchmark program shares: failing loudly on a setup error
 * (a benchmark that silently measures a broken job is worse than none) and a
 * monotonic clock. BENCH_NAME, defined by the including file, prefixes messages.
 */
#ifndef SP_BENCH_H
#define SP_BENCH_H

#include "spate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif
