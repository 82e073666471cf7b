/*
 * hash.h - 64-bit hashing for keys and key groups.
 *
 * A multiply-xorshift mix (wyhash/murmur3-finalizer family): fast on 8-byte
 * integers, which is what most keys are, and good enough in its low bits that
 * key group = hash % P spreads evenly. Computed once per row at the exchange and
 * carried in the batch (sp_batch.hashes) so keyed operators never rehash.
 */
#ifndef SP_HASH_H
#define SP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sp_hash_mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

static inline uint64_t sp_hash_u64(uint64_t seed, uint64_t v)
{
    return sp_hash_mix(seed ^ (v + 0x9e3779b97f4a7c15ULL));
}

static inline uint64_t sp_hash_bytes(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = sp_hash_mix(h ^ w) + 0x632be59bd9b4e019ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return sp_hash_mix(h ^ w ^ ((uint64_t)n << 56));
}

#endif
