/*
 * assigners.h - which windows an event time belongs to.
 *
 * Tumbling and sliding windows are aligned to the Unix epoch plus an offset and
 * are half-open [start, end). A sliding window of size S and slide L is cut into
 * panes of P = gcd(S, L): an event lands in exactly one pane, and the window
 * [s, s + S) is the union of the S / P panes starting at s, s + P, ... Window
 * starts are multiples of L (plus the offset), pane starts multiples of P, and P
 * divides L, so every window boundary is a pane boundary. Tumbling windows are
 * the case S = L = P.
 *
 * All arithmetic is in microseconds on int64 and never overflows: starts are
 * computed with floor division (correct for negative times), and a window that
 * would reach past INT64_MAX is cut at INT64_MAX (its end saturates) and a start
 * below INT64_MIN is clamped to it. Intermediate products go through
 * 128-bit integers.
 *
 * Cumulate windows (Flink's CUMULATE) of step T and size S (a multiple of T) are
 * [s, s + T), [s, s + 2T) ... [s, s + S) for every period start s = offset +
 * k * S: the windows of a period share their start and differ by their end, and
 * an event at t is in each window of its period that ends after t. Their panes
 * are the steps, so a window is again a union of panes, [s, e) those from s up to
 * e. Tumbling windows are the case T = S.
 *
 * Sessions, global and count windows have no alignment: window.c keeps them per
 * key; this file only checks their parameters.
 */
#ifndef SP_ASSIGNERS_H
#define SP_ASSIGNERS_H

#include "spate.h"

#include <stdint.h>

typedef struct sp_assigner {
    spate_window_kind kind;
    int64_t size, slide, pane; /* µs; pane = gcd(size, slide) (tumbling: all = size;
                                  cumulate: slide is the step, and the pane) */
    int64_t offset;            /* µs, normalized into [0, slide) (cumulate: [0, size)) */
    int64_t gap;               /* sessions, µs */
    int64_t count;             /* count windows */
} sp_assigner;

/* Validates the window part of spec and fills a (sizes in µs). 0, or SPATE_EINVAL
 * with the reason in spate_last_error() (prefixed by what). */
int sp_assigner_init(sp_assigner *a, const spate_window_spec *spec, const char *what);

/* floor(x / d) for d > 0, also for negative x. */
int64_t sp_floor_div(int64_t x, int64_t d);

/* Start of the pane holding event time ts. */
int64_t sp_assign_pane(const sp_assigner *a, int64_t ts);
/* Tumbling window of ts: *start and its exclusive *end, each saturated at the
 * int64 limits (computed from the exact start, so a clamped start keeps its true
 * end). */
void sp_assign_tumbling(const sp_assigner *a, int64_t ts, int64_t *start, int64_t *end);
/* Window j of those holding the pane starting at ps (tumbling, sliding and
 * cumulate), the latest-ending first (j = 0, which always exists): 0 with its
 * bounds (end saturated at INT64_MAX), or -1 when there are fewer than j + 1. A
 * pane's state is needed until window 0 has fired. */
int sp_assign_holding(const sp_assigner *a, int64_t ps, int64_t j, int64_t *start, int64_t *end);
/* Number of panes in [start, end), the last one possibly cut at INT64_MAX. */
int64_t sp_assign_panes(const sp_assigner *a, int64_t start, int64_t end);
/* Exclusive end of the window (or pane, with len = a->pane) starting at start,
 * saturated at INT64_MAX. */
int64_t sp_assign_end(int64_t start, int64_t len);
/* start + len saturated at INT64_MAX, and at INT64_MIN for negative len. */
int64_t sp_sat_add(int64_t start, int64_t len);

#endif
