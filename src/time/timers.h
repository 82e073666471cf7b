/*
 * timers.h - the timer service of one keyed operator instance (Flink's
 * InternalTimerService), and the spate_timer_ctx that callbacks see.
 *
 * A timer is (domain, time, key): event-time timers are due when the watermark
 * reaches their time, processing-time ones when the wall clock does. Each domain
 * has a binary min-heap of (time, key entry), ties broken by entry (the order keys
 * first registered a timer), so timers fire in a deterministic order. A hash set
 * of (domain, time, entry) makes a second registration of the same timer a no-op.
 * Keys are encoded once, in a key table whose entries count their pending timers;
 * when keys without timers outnumber those with some (and there are enough of
 * them to matter), the table is rebuilt and the heaps renumbered, so a stream of
 * ever-new keys does not grow the state without bound.
 *
 * Not thread-safe: a service belongs to one operator instance.
 */
#ifndef SP_TIMERS_H
#define SP_TIMERS_H

#include "runtime/runtime.h"
#include "state/keytable.h"

typedef enum { SP_TIMER_EVENT = 0, SP_TIMER_PROC = 1 } sp_timer_domain;

typedef struct sp_timer {
    int64_t time;         /* µs (event time) or ms (processing time) */
    uint32_t entry;       /* key entry */
} sp_timer;

typedef struct sp_timer_heap {
    sp_timer *a;
    uint32_t n, cap;
} sp_timer_heap;

/* A set slot: state 0 empty, 1 used, 2 deleted. */
typedef struct sp_timer_slot {
    int64_t time;
    uint32_t entry;
    uint8_t domain, state;
} sp_timer_slot;

typedef struct sp_timers {
    sp_keytable keys;     /* value: uint32_t pending timers of the key */
    int nkeys;
    uint32_t nlive;       /* keys with pending timers */
    sp_timer_heap heap[2];
    sp_timer_slot *set;   /* open addressing, linear probing; cap a power of two */
    uint32_t set_cap, set_used, set_deleted;
    sp_batch *keybuf;     /* one row of key columns: a fired timer's key */
} sp_timers;

/* The context a process or on_timer callback gets (spate.h): the key it runs for,
 * as a row of a batch, and the service to register timers with. */
struct spate_timer_ctx {
    sp_op *op;
    sp_timers *ts;
    const sp_batch *kb;   /* the key: columns 0..nkeys-1 of row krow */
    uint32_t krow;
    uint64_t hash;        /* the key's hash */
    int64_t now_ms;       /* processing time of the call */
    int accept_proc;      /* 0 once processing-time timers are dropped (finish) */
};

/* Prepares an empty service for keys of the given schema (the nkeys leading
 * columns of a keyed stream). 0 or SPATE_ENOMEM. */
int sp_timers_init(sp_timers *ts, const spate_schema *key_schema);
void sp_timers_free(sp_timers *ts);

/* Registers (domain, time) for the key of t; a registered timer is not added
 * again. 0 or SPATE_ENOMEM. */
int sp_timers_add(sp_timers *ts, const spate_timer_ctx *t, sp_timer_domain d, int64_t time);

/* Earliest timer of d into *out without removing it; 0 when there is none. */
int sp_timers_peek(const sp_timers *ts, sp_timer_domain d, sp_timer *out);

/* Removes the earliest timer of d (after a peek said there is one) and makes
 * t's key that timer's key (copied into the service's key row), ready for the
 * on_timer callback. 0 or SPATE_ENOMEM. */
int sp_timers_pop(sp_timers *ts, sp_timer_domain d, spate_timer_ctx *t);

/* Drops every processing-time timer (end of input). */
void sp_timers_drop_proc(sp_timers *ts);

/* Rebuilds the key table when keys without timers dominate; call when no
 * spate_timer_ctx refers to a key entry (between callbacks). 0 or SPATE_ENOMEM. */
int sp_timers_compact(sp_timers *ts);

/* Checkpoints: writes every pending timer into the section of its key's group
 * (sp_state_group); 0 or SPATE_ENOMEM. */
int sp_timers_snapshot(sp_timers *ts, sp_state_out *s, int key_groups);
/* Re-registers the timers of one section written by sp_timers_snapshot (through
 * sp_timers_add, so deduplication holds). 0, SPATE_EPARSE (truncated or corrupt),
 * SPATE_EUNSUPPORTED (unknown format version) or SPATE_ENOMEM. */
struct sp_rbuf;
int sp_timers_restore(sp_timers *ts, struct sp_rbuf *r);

#endif
