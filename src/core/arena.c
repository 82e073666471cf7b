/*
 * arena.c - chunked bump allocator.
 *
 * Chunks double in size from 4 KiB; an allocation larger than half a chunk gets
 * a chunk of its own size. Reset frees all but the head chunk: after a few
 * batches the head is as large as a batch ever needs and resets cost nothing.
 */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

struct sp_chunk {
    sp_chunk *prev;
    size_t cap;
    char data[];
};

enum { SP_ARENA_MIN_CHUNK = 4096 };

static sp_chunk *chunk_new(size_t cap, sp_chunk *prev)
{
    sp_chunk *c = malloc(sizeof(*c) + cap);
    if (!c) return NULL;
    c->prev = prev;
    c->cap = cap;
    return c;
}

void *sp_arena_alloc(sp_arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (!a->head || a->used + size > a->head->cap) {
        size_t cap = a->head ? a->head->cap * 2 : SP_ARENA_MIN_CHUNK;
        while (cap < size * 2) cap *= 2;
        sp_chunk *c = chunk_new(cap, a->head);
        if (!c) return NULL;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    return p;
}

char *sp_arena_dup(sp_arena *a, const char *p, size_t len)
{
    char *d = sp_arena_alloc(a, len ? len : 1);
    if (d && len) memcpy(d, p, len);
    return d;
}

void sp_arena_reset(sp_arena *a)
{
    if (!a->head) return;
    sp_chunk *c = a->head->prev;
    while (c) {
        sp_chunk *prev = c->prev;
        free(c);
        c = prev;
    }
    a->head->prev = NULL;
    a->used = 0;
}

void sp_arena_free(sp_arena *a)
{
    sp_arena_reset(a);
    free(a->head);
    a->head = NULL;
    a->used = 0;
}

size_t sp_arena_size(const sp_arena *a)
{
    size_t n = 0;
    for (const sp_chunk *c = a->head; c; c = c->prev) n += c->cap;
    return n;
}
