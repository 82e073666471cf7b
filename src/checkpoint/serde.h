/*
 * serde.h - the byte format of operator state in checkpoints.
 *
 * Writers append little-endian fixed-width values, LEB128 varints and
 * length-prefixed byte strings to a growable buffer; an allocation failure is
 * sticky (err) so a snapshot function can write everything and check once.
 * Readers are bounds-checked: reading past the end sets a sticky err
 * (SPATE_EPARSE) and returns zeros, so a truncated or corrupt state file is
 * reported, never read out of bounds.
 */
#ifndef SP_SERDE_H
#define SP_SERDE_H

#include "core/batch.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sp_wbuf {
    uint8_t *p;
    size_t len, cap;
    int err; /* 0 or SPATE_ENOMEM, sticky */
} sp_wbuf;

void sp_w_u8(sp_wbuf *w, uint8_t v);
void sp_w_u32(sp_wbuf *w, uint32_t v);
void sp_w_u64(sp_wbuf *w, uint64_t v);
void sp_w_i64(sp_wbuf *w, int64_t v);
void sp_w_f64(sp_wbuf *w, double v);
void sp_w_varint(sp_wbuf *w, uint64_t v);
void sp_w_raw(sp_wbuf *w, const void *p, size_t n);   /* n bytes, no length */
void sp_w_bytes(sp_wbuf *w, const void *p, size_t n); /* varint length + bytes */
void sp_w_str(sp_wbuf *w, const char *s);             /* sp_w_bytes of strlen(s) */
/* One row of b (physical row r): a null bit and the value per column, strings as
 * bytes. Read back with sp_r_row into a batch of the same column types. */
void sp_w_row(sp_wbuf *w, const sp_batch *b, uint32_t r);
void sp_wbuf_free(sp_wbuf *w);

typedef struct sp_rbuf {
    const uint8_t *p;
    size_t len, pos;
    int err; /* 0 or SPATE_EPARSE, sticky */
} sp_rbuf;

void sp_rbuf_init(sp_rbuf *r, const void *p, size_t len);
uint8_t sp_r_u8(sp_rbuf *r);
uint32_t sp_r_u32(sp_rbuf *r);
uint64_t sp_r_u64(sp_rbuf *r);
int64_t sp_r_i64(sp_rbuf *r);
double sp_r_f64(sp_rbuf *r);
uint64_t sp_r_varint(sp_rbuf *r);
int sp_r_raw(sp_rbuf *r, void *out, size_t n);             /* 0 or SPATE_EPARSE */
const void *sp_r_bytes(sp_rbuf *r, size_t *n);             /* into the buffer; NULL on err */
/* Appends one row written by sp_w_row to b (b->n < b->cap); strings are copied
 * into b's arena. 0, SPATE_EPARSE or SPATE_ENOMEM. */
int sp_r_row(sp_rbuf *r, sp_batch *b);
/* True when everything was read without error. */
static inline int sp_r_done(const sp_rbuf *r)
{
    return !r->err && r->pos == r->len;
}

/* CRC-32C (Castagnoli) of n bytes, continuing from crc (0 to start). */
uint32_t sp_crc32c(uint32_t crc, const void *p, size_t n);

#endif
