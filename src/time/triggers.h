/*
 * triggers.h - when one window fires (spate_trigger of spate.h).
 *
 * A window's trigger state counts the elements it received since its last
 * firing, split into early ones (before its on-time firing) and late ones (after
 * it, within the allowed lateness), and remembers when a processing-time early
 * firing is due. The window operator asks three questions: after an element
 * (sp_trig_element), on a processing-time tick (sp_trig_period_due) and when the
 * watermark passes the window's end (sp_trig_on_time); it tells the state when
 * the window fired (sp_trig_fired).
 *
 * Counts are per window and not per key: a firing emits every key of the window
 * (which ones, and with which values, is the accumulation mode's business).
 */
#ifndef SP_TRIGGERS_H
#define SP_TRIGGERS_H

#include "spate.h"

#include <stdint.h>

typedef struct sp_trig_state {
    int64_t pending;      /* elements since the last firing (early or late) */
    int64_t early_due_ms; /* processing time of the next period firing; INT64_MAX = none */
    int on_time_done;     /* the watermark passed the end (the window is in its late phase) */
} sp_trig_state;

/* A fresh state: nothing pending, no period firing due. */
void sp_trig_init(sp_trig_state *s);
/* An element arrived at processing time now_ms. Returns 1 when the window must
 * fire now: every early_count elements before the on-time firing, every
 * late_count (0 = every) element after it. */
int sp_trig_element(const spate_trigger *t, sp_trig_state *s, int64_t now_ms);
/* 1 when a period firing is due at now_ms (there are pending elements). */
int sp_trig_period_due(const spate_trigger *t, const sp_trig_state *s, int64_t now_ms);
/* The watermark reached the end: 1 when the window fires on time (has_new: it got
 * elements since its last firing, and on-time firing is not switched off). Marks
 * the late phase either way. */
int sp_trig_on_time(const spate_trigger *t, sp_trig_state *s, int has_new);
/* The window fired: nothing pending any more. */
void sp_trig_fired(sp_trig_state *s);
/* Merges the state of a session absorbed into another (counts add up). */
void sp_trig_merge(sp_trig_state *into, const sp_trig_state *from);

#endif
