/* clock.h - wall and monotonic time in the units the engine uses. */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall clock, milliseconds since the Unix epoch. */
static inline int64_t sp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic clock, nanoseconds: for intervals, rates and timeouts. */
static inline int64_t sp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sp_sleep_ns(int64_t ns);

#endif
