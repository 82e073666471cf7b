/*
 * assigners.c - window assignment arithmetic (see assigners.h).
 *
 * Floor division instead of C's truncating '/': the window of -1 µs with a size
 * of 10 s starts at -10 s, not at 0. Offsets are reduced modulo the slide, which
 * leaves every alignment unchanged (window starts are offset + k * slide, pane
 * starts offset + k * pane, and the pane divides the slide). Cumulate windows
 * reduce theirs modulo the size: their periods start at offset + k * size, and
 * their panes (one step each) at offset + k * step, the step dividing the size.
 */
#include "time/assigners.h"

#include "core/error.h"

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int64_t sp_floor_div(int64_t x, int64_t d)
{
    int64_t q = x / d;
    return (x % d != 0 && x < 0) ? q - 1 : q;
}

int64_t sp_sat_add(int64_t start, int64_t len)
{
    __int128 e = (__int128)start + len;
    if (e > INT64_MAX) return INT64_MAX;
    if (e < INT64_MIN) return INT64_MIN;
    return (int64_t)e;
}

int64_t sp_assign_end(int64_t start, int64_t len)
{
    return sp_sat_add(start, len);
}

/* Exact start of the slot of length step (aligned to a->offset) holding ts. */
static __int128 align_exact(const sp_assigner *a, int64_t ts, int64_t step)
{
    __int128 rel = (__int128)ts - a->offset;
    __int128 q = rel / step;
    if (rel % step != 0 && rel < 0) q--;
    return q * step + a->offset;
}

static int64_t clamp(__int128 x)
{
    return x < INT64_MIN ? INT64_MIN : x > INT64_MAX ? INT64_MAX : (int64_t)x;
}

/* The same, clamped to INT64_MIN when it would lie below it. */
static int64_t align(const sp_assigner *a, int64_t ts, int64_t step)
{
    return clamp(align_exact(a, ts, step));
}

void sp_assign_tumbling(const sp_assigner *a, int64_t ts, int64_t *start, int64_t *end)
{
    __int128 s = align_exact(a, ts, a->size);
    *start = clamp(s);
    *end = clamp(s + a->size);
}

int64_t sp_assign_pane(const sp_assigner *a, int64_t ts)
{
    return align(a, ts, a->pane);
}

/* ms -> µs, refusing what does not fit. */
static int to_us(int64_t ms, int64_t *us)
{
    if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000) return -1;
    *us = ms * 1000;
    return 0;
}

static int check_kind(sp_assigner *a, const spate_window_spec *w, const char *what)
{
    switch (w->kind) {
    case SPATE_WINDOW_TUMBLING:
        if (w->size_ms <= 0) return sp_err(SPATE_EINVAL, "%s: tumbling size_ms must be > 0", what);
        a->slide = a->size;
        return 0;
    case SPATE_WINDOW_SLIDING:
        if (w->size_ms <= 0 || w->slide_ms <= 0)
            return sp_err(SPATE_EINVAL, "%s: sliding size_ms and slide_ms must be > 0", what);
        if (w->slide_ms > w->size_ms)
            return sp_err(SPATE_EINVAL, "%s: slide_ms (%lld) must not exceed size_ms (%lld)", what,
                          (long long)w->slide_ms, (long long)w->size_ms);
        return 0;
    case SPATE_WINDOW_SESSION:
        if (w->gap_ms <= 0) return sp_err(SPATE_EINVAL, "%s: session gap_ms must be > 0", what);
        return 0;
    case SPATE_WINDOW_GLOBAL:
        if (w->trigger.early_count <= 0 && w->trigger.early_period_ms <= 0)
            return sp_err(SPATE_EINVAL, "%s: a global window needs an early_count or "
                                        "early_period_ms trigger", what);
        return 0;
    case SPATE_WINDOW_COUNT:
        if (w->count <= 0) return sp_err(SPATE_EINVAL, "%s: count windows need count > 0", what);
        a->count = w->count;
        return 0;
    case SPATE_WINDOW_CUMULATE:
        if (w->size_ms <= 0 || w->slide_ms <= 0)
            return sp_err(SPATE_EINVAL, "%s: cumulate size_ms and slide_ms (the step) must be > 0",
                          what);
        if (w->size_ms % w->slide_ms != 0)
            return sp_err(SPATE_EINVAL, "%s: cumulate size_ms (%lld) must be a multiple of "
                                        "slide_ms (%lld)", what, (long long)w->size_ms,
                          (long long)w->slide_ms);
        return 0;
    }
    return sp_err(SPATE_EINVAL, "%s: unknown window kind %d", what, (int)w->kind);
}

int sp_assigner_init(sp_assigner *a, const spate_window_spec *w, const char *what)
{
    *a = (sp_assigner){.kind = w->kind};
    int64_t off = 0;
    if (to_us(w->size_ms, &a->size) || to_us(w->slide_ms, &a->slide) ||
        to_us(w->gap_ms, &a->gap) || to_us(w->offset_ms, &off))
        return sp_err(SPATE_EINVAL, "%s: a window size, slide, gap or offset is too large", what);
    int rc = check_kind(a, w, what);
    if (rc) return rc;
    if (w->kind == SPATE_WINDOW_TUMBLING || w->kind == SPATE_WINDOW_SLIDING) {
        a->pane = gcd64(a->size, a->slide);
        a->offset = off % a->slide;
        if (a->offset < 0) a->offset += a->slide;
    } else if (w->kind == SPATE_WINDOW_CUMULATE) {
        a->pane = a->slide;
        a->offset = off % a->size;
        if (a->offset < 0) a->offset += a->size;
    }
    return 0;
}

int sp_assign_holding(const sp_assigner *a, int64_t ps, int64_t j, int64_t *start, int64_t *end)
{
    if (a->kind == SPATE_WINDOW_CUMULATE) {
        __int128 s = align_exact(a, ps, a->size), top = s + a->size;
        /* Ends past INT64_MAX saturate to one window: keep only the first of them. */
        if (top > INT64_MAX) top = s + ((INT64_MAX - s + a->slide - 1) / a->slide) * a->slide;
        __int128 e = top - (__int128)j * a->slide;
        if (e <= ps) return -1;
        *start = clamp(s);
        *end = clamp(e);
        return 0;
    }
    __int128 s = align_exact(a, ps, a->slide) - (__int128)j * a->slide;
    if (s <= (__int128)ps - a->size || (j > 0 && s < INT64_MIN)) return -1;
    *start = clamp(s);
    *end = clamp(s + a->size);
    return 0;
}

int64_t sp_assign_panes(const sp_assigner *a, int64_t start, int64_t end)
{
    return (int64_t)(((__int128)end - start + a->pane - 1) / a->pane);
}
