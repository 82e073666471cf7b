/*
 * triggers.c - trigger decisions for one window (see triggers.h).
 *
 * Early count firings count only the elements since the last firing, so an
 * early_count of 3 fires on the 3rd, 6th, 9th ... element whatever fired in
 * between (a period firing restarts the count, as Beam's repeated
 * AfterCount does). The processing-time period starts with the first element
 * after a firing: a window that gets no new elements never fires by period,
 * which keeps a quiet window from repeating itself.
 */
#include "time/triggers.h"

void sp_trig_init(sp_trig_state *s)
{
    s->pending = 0;
    s->early_due_ms = INT64_MAX;
    s->on_time_done = 0;
}

int sp_trig_element(const spate_trigger *t, sp_trig_state *s, int64_t now_ms)
{
    s->pending++;
    if (s->on_time_done) return t->late_count <= 0 || s->pending >= t->late_count;
    if (t->early_period_ms > 0 && s->early_due_ms == INT64_MAX)
        s->early_due_ms = now_ms + t->early_period_ms;
    return t->early_count > 0 && s->pending >= t->early_count;
}

int sp_trig_period_due(const spate_trigger *t, const sp_trig_state *s, int64_t now_ms)
{
    return t->early_period_ms > 0 && s->pending > 0 && now_ms >= s->early_due_ms;
}

int sp_trig_on_time(const spate_trigger *t, sp_trig_state *s, int has_new)
{
    int fire = !t->no_on_time && has_new;
    s->on_time_done = 1;
    s->early_due_ms = INT64_MAX;
    return fire;
}

void sp_trig_fired(sp_trig_state *s)
{
    s->pending = 0;
    s->early_due_ms = INT64_MAX;
}

void sp_trig_merge(sp_trig_state *into, const sp_trig_state *from)
{
    into->pending += from->pending;
    if (from->early_due_ms < into->early_due_ms) into->early_due_ms = from->early_due_ms;
}
