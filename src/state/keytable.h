/*
 * keytable.h - keyed state of one operator instance.
 *
 * sp_keytable maps a key (the leading nkeys columns of a row) to a fixed-size
 * value area whose layout the operator chooses. Entries are numbered 0, 1, ... in
 * insertion order and never removed one by one (only all at once, by clear), so an
 * entry index is a stable handle and iteration in insertion order is a loop.
 *
 * sp_keyrows builds on it for the operators that keep whole rows until the end of
 * a micro-batch (groupByKey, join, cogroup): it keeps the arriving batches and
 * files their rows under their keys, on one or two sides.
 *
 * Checkpoints (not yet written) will snapshot state per key group: the key group
 * of an entry is sp_keytable_key_group(), the same number the runtime's
 * sp_key_group() gives for the hash, so a snapshot writer walks the entries once
 * and files each under its group.
 *
 * Neither structure is thread-safe: each belongs to one operator instance, which
 * runs on one worker.
 */
#ifndef SP_KEYTABLE_H
#define SP_KEYTABLE_H

#include "core/arena.h"
#include "core/batch.h"

#include <stddef.h>
#include <stdint.h>

/* Header of an entry; the value area follows it (8-byte aligned). */
typedef struct sp_kt_entry {
    uint64_t hash;
    const uint8_t *key;   /* encoded key, in the table's arena */
    uint32_t key_len;
    uint32_t pad;         /* keeps the value area 8-byte aligned */
} sp_kt_entry;

typedef struct sp_kt_slot {
    uint64_t hash;
    uint32_t entry;       /* entry index + 1; 0 = empty slot */
    uint32_t tag;         /* 9-byte keys (one 8-byte column): its type tag, else 0 */
    uint64_t inline_key;  /* 9-byte keys: the 8 value bytes, so a hit needs no entry */
} sp_kt_slot;

typedef struct sp_keytable {
    size_t value_size;
    size_t stride;        /* bytes per entry: header + value area, rounded to 8 */
    uint32_t count;       /* entries */
    uint32_t cap_entries;
    uint8_t *entries;     /* count entries of `stride` bytes, in insertion order */
    sp_kt_slot *slots;    /* mask + 1 slots, a power of two, at most half full */
    uint32_t mask;
    sp_arena keys;        /* encoded keys */
    uint8_t *scratch;     /* the key being looked up, encoded */
    size_t scratch_cap;
} sp_keytable;

/* Prepares an empty table whose entries carry value_size bytes of value.
 * 0 or SPATE_ENOMEM. */
int sp_keytable_init(sp_keytable *t, size_t value_size);

/* The value area of the key in columns 0..nkeys-1 of physical row `row` of b,
 * whose key hash is `hash` (b->hashes[row] when set by the exchange). A new key
 * gets a zeroed value area and *inserted = 1. NULL when out of memory.
 * The pointer is valid until the next insertion (the entry array may move): keep
 * entry indices (sp_keytable_index), not pointers, across insertions. */
void *sp_keytable_find_or_insert(sp_keytable *t, uint64_t hash, const sp_batch *b,
                                 uint32_t row, int nkeys, int *inserted);

/* Like find_or_insert without inserting: NULL when the key is absent (or out of
 * memory while encoding it). */
void *sp_keytable_find(sp_keytable *t, uint64_t hash, const sp_batch *b, uint32_t row,
                       int nkeys);

/* Hints that the key with this hash is looked up soon: its slot is fetched into
 * cache meanwhile (callers walking a batch prefetch a few rows ahead). */
static inline void sp_keytable_prefetch(const sp_keytable *t, uint64_t hash)
{
    __builtin_prefetch(&t->slots[(uint32_t)hash & t->mask]);
}

static inline uint32_t sp_keytable_count(const sp_keytable *t)
{
    return t->count;
}

static inline sp_kt_entry *sp_keytable_entry(const sp_keytable *t, uint32_t i)
{
    return (sp_kt_entry *)(t->entries + (size_t)i * t->stride);
}

/* Value area of entry i (0 <= i < count). Entries iterate in insertion order. */
static inline void *sp_keytable_value(const sp_keytable *t, uint32_t i)
{
    return t->entries + (size_t)i * t->stride + sizeof(sp_kt_entry);
}

/* Entry index of a value area returned by this table. */
static inline uint32_t sp_keytable_index(const sp_keytable *t, const void *value)
{
    return (uint32_t)(((const uint8_t *)value - sizeof(sp_kt_entry) - t->entries) / t->stride);
}

/* Key group of entry i: hash % key_groups, equal to sp_key_group() of runtime.h
 * (state sits below the runtime and does not include it). */
static inline int sp_keytable_key_group(const sp_keytable *t, uint32_t i, int key_groups)
{
    return (int)(sp_keytable_entry(t, i)->hash % (uint64_t)key_groups);
}

/* Writes the key of entry i into columns 0..nkeys-1 of physical row `row` of out
 * (whose key columns have the key's types); strings are copied into out's arena.
 * Does not change out->n. 0 or SPATE_ENOMEM. */
int sp_keytable_write_key(const sp_keytable *t, uint32_t i, sp_batch *out, uint32_t row);

/* Forgets every entry; keeps the slot and entry arrays and the arena's memory. */
void sp_keytable_clear(sp_keytable *t);
void sp_keytable_free(sp_keytable *t);

/* ---- rows kept per key, on one or two sides */

/* Where a kept row is: its key's entry, its batch among the kept ones, its physical
 * row in that batch. */
typedef struct sp_rowref {
    uint32_t entry;
    uint32_t batch;
    uint32_t row;
} sp_rowref;

/* Value area of a key in sp_keyrows: its row count and, once sealed, the start of
 * its rows in `grouped`, per side. */
typedef struct sp_keyrows_slot {
    uint32_t count[2];
    uint32_t start[2];
} sp_keyrows_slot;

typedef struct sp_keyrows {
    sp_keytable keys;
    int nkeys;
    sp_batch **batches;      /* kept until clear */
    uint32_t nbatches, cap_batches;
    sp_rowref *refs[2];      /* per side, in arrival order */
    uint32_t nrefs[2], cap_refs[2];
    sp_rowref *grouped[2];   /* per side, after seal: the rows of each key adjacent */
    uint32_t cap_grouped[2];
} sp_keyrows;

/* 0 or SPATE_ENOMEM. */
int sp_keyrows_init(sp_keyrows *kr, int nkeys);
/* Takes ownership of b (until clear) and files its live rows on `side` (0 or 1)
 * under their keys. b->hashes must hold the key hash of every live row (the caller
 * fills them when the exchange did not). 0 or SPATE_ENOMEM (b is then not kept). */
int sp_keyrows_add(sp_keyrows *kr, int side, sp_batch *b);
/* Groups the rows of each key together, keeping arrival order within a key.
 * Call once after the last add and before reading groups. 0 or SPATE_ENOMEM. */
int sp_keyrows_seal(sp_keyrows *kr);
static inline const sp_keyrows_slot *sp_keyrows_slot_of(const sp_keyrows *kr, uint32_t e)
{
    return (const sp_keyrows_slot *)sp_keytable_value(&kr->keys, e);
}
/* The i-th row of entry e on side (after seal). */
static inline const sp_rowref *sp_keyrows_row(const sp_keyrows *kr, uint32_t e, int side,
                                              uint32_t i)
{
    return &kr->grouped[side][sp_keyrows_slot_of(kr, e)->start[side] + i];
}
/* Hands every kept batch to release(arg, b) and forgets all keys and rows. */
void sp_keyrows_clear(sp_keyrows *kr, void (*release)(void *arg, sp_batch *b), void *arg);
/* Clears (releasing as above) and frees the memory. */
void sp_keyrows_free(sp_keyrows *kr, void (*release)(void *arg, sp_batch *b), void *arg);

/* The view a groupByKey or cogroup callback gets of one key (spate.h). */
struct spate_group {
    const sp_keyrows *kr;
    uint32_t entry;
    int nsides;
};

#endif
