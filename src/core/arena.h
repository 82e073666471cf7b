/*
 * arena.h - bump allocator for the strings of a batch or a state table.
 *
 * Memory comes in chunks that grow geometrically; sp_arena_reset keeps the first
 * (largest kept) chunk so a pooled batch reuses its string memory without malloc.
 */
#ifndef SP_ARENA_H
#define SP_ARENA_H

#include <stddef.h>

typedef struct sp_chunk sp_chunk;

typedef struct sp_arena {
    sp_chunk *head;   /* current chunk, linked to older ones */
    size_t used;      /* bytes used in head */
} sp_arena;

/* Returns size bytes aligned to 8, or NULL when out of memory. */
void *sp_arena_alloc(sp_arena *a, size_t size);
/* Copies p[0..len) into the arena (no terminator); NULL when out of memory. */
char *sp_arena_dup(sp_arena *a, const char *p, size_t len);
/* Forgets every allocation; keeps the newest chunk for reuse. */
void sp_arena_reset(sp_arena *a);
void sp_arena_free(sp_arena *a);
/* Bytes held (capacity of all chunks). */
size_t sp_arena_size(const sp_arena *a);

#endif
