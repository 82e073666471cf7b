/*
 * serde.c - the byte format of operator state in checkpoints (see serde.h).
 *
 * Design choices:
 * - Fixed-width values are little-endian and assembled byte by byte, so the format
 *   is the same on every host and no read is ever unaligned.
 * - Counts and lengths are LEB128 varints: most are small, and a state file holds
 *   millions of them. A varint longer than 10 bytes, or whose 10th byte carries more
 *   than the top bit of a uint64, is malformed rather than silently wrapped.
 * - Errors are sticky on both sides. A writer that ran out of memory ignores every
 *   later call; a reader that hit the end returns zeros from then on. A snapshot or
 *   restore function therefore checks once, at the end, and a corrupt state file can
 *   never make a reader step outside its buffer.
 * - A row is a null bitmap (bit c of byte c/8 set = column c is NULL) followed by the
 *   non-NULL values in column order: BOOL 1 byte, INT32 4, INT64/TIMESTAMP/FLOAT64 8,
 *   STRING/BYTES a varint length and the bytes. NULLs cost one bit, not a value.
 * - CRC-32C (Castagnoli) rather than CRC-32: better error detection on the burst
 *   errors storage produces, and the polynomial iSCSI, ext4 and most storage formats
 *   use. Software slicing-by-8 (8 tables of 256 entries, built once) processes
 *   8 bytes per step, fast enough that checksumming never dominates a checkpoint.
 */
#include "checkpoint/serde.h"

#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ writing */

/* Makes room for n more bytes; 0, or -1 with w->err set (now or earlier). */
static int w_reserve(sp_wbuf *w, size_t n)
{
    if (w->err) return -1;
    if (n <= w->cap - w->len) return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) goto oom;
        cap *= 2;
    }
    uint8_t *p = realloc(w->p, cap);
    if (!p) goto oom;
    w->p = p;
    w->cap = cap;
    return 0;
oom:
    w->err = SPATE_ENOMEM;
    return -1;
}

/* Appends the low `width` bytes of v, least significant first. */
static void w_le(sp_wbuf *w, uint64_t v, int width)
{
    if (w_reserve(w, (size_t)width)) return;
    for (int i = 0; i < width; i++)
        w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

void sp_w_u8(sp_wbuf *w, uint8_t v)
{
    w_le(w, v, 1);
}

void sp_w_u32(sp_wbuf *w, uint32_t v)
{
    w_le(w, v, 4);
}

void sp_w_u64(sp_wbuf *w, uint64_t v)
{
    w_le(w, v, 8);
}

void sp_w_i64(sp_wbuf *w, int64_t v)
{
    w_le(w, (uint64_t)v, 8);
}

void sp_w_f64(sp_wbuf *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    w_le(w, bits, 8);
}

void sp_w_varint(sp_wbuf *w, uint64_t v)
{
    if (w_reserve(w, 10)) return;
    while (v >= 0x80) {
        w->p[w->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->p[w->len++] = (uint8_t)v;
}

void sp_w_raw(sp_wbuf *w, const void *p, size_t n)
{
    if (w_reserve(w, n) || n == 0) return;
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

void sp_w_bytes(sp_wbuf *w, const void *p, size_t n)
{
    sp_w_varint(w, n);
    sp_w_raw(w, p, n);
}

void sp_w_str(sp_wbuf *w, const char *s)
{
    sp_w_bytes(w, s, strlen(s));
}

static void w_null_bitmap(sp_wbuf *w, const sp_batch *b, uint32_t r)
{
    for (int base = 0; base < b->ncols; base += 8) {
        uint8_t bits = 0;
        for (int c = base; c < b->ncols && c < base + 8; c++)
            if (sp_vec_is_null(&b->cols[c], r)) bits |= (uint8_t)(1u << (c - base));
        sp_w_u8(w, bits);
    }
}

static void w_value(sp_wbuf *w, const sp_vec *v, uint32_t r)
{
    switch (v->type) {
    case SPATE_BOOL:
        sp_w_u8(w, SP_BOOL(v)[r]);
        break;
    case SPATE_INT32:
        sp_w_u32(w, (uint32_t)SP_I32(v)[r]);
        break;
    case SPATE_FLOAT64:
        sp_w_f64(w, SP_F64(v)[r]);
        break;
    case SPATE_STRING:
    case SPATE_BYTES:
        sp_w_bytes(w, SP_STR(v)[r].ptr, SP_STR(v)[r].len);
        break;
    default:
        sp_w_i64(w, SP_I64(v)[r]);
        break;
    }
}

void sp_w_row(sp_wbuf *w, const sp_batch *b, uint32_t r)
{
    w_null_bitmap(w, b, r);
    for (int c = 0; c < b->ncols; c++)
        if (!sp_vec_is_null(&b->cols[c], r)) w_value(w, &b->cols[c], r);
}

void sp_wbuf_free(sp_wbuf *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------ reading */

void sp_rbuf_init(sp_rbuf *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

/* The next n bytes, consumed; NULL (err set, nothing consumed) when fewer remain. */
static const uint8_t *r_take(sp_rbuf *r, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        r->err = SPATE_EPARSE;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t r_le(sp_rbuf *r, int width)
{
    const uint8_t *p = r_take(r, (size_t)width);
    uint64_t v = 0;
    if (!p) return 0;
    for (int i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t sp_r_u8(sp_rbuf *r)
{
    return (uint8_t)r_le(r, 1);
}

uint32_t sp_r_u32(sp_rbuf *r)
{
    return (uint32_t)r_le(r, 4);
}

uint64_t sp_r_u64(sp_rbuf *r)
{
    return r_le(r, 8);
}

int64_t sp_r_i64(sp_rbuf *r)
{
    return (int64_t)r_le(r, 8);
}

double sp_r_f64(sp_rbuf *r)
{
    uint64_t bits = r_le(r, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

uint64_t sp_r_varint(sp_rbuf *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = r_take(r, 1);
        if (!p) return 0;
        if (shift == 63 && *p > 1) break; /* bits beyond 64 */
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    r->err = SPATE_EPARSE;
    return 0;
}

int sp_r_raw(sp_rbuf *r, void *out, size_t n)
{
    const uint8_t *p = r_take(r, n);
    if (!p) return SPATE_EPARSE;
    if (n) memcpy(out, p, n);
    return 0;
}

const void *sp_r_bytes(sp_rbuf *r, size_t *n)
{
    uint64_t len = sp_r_varint(r);
    *n = 0;
    if (r->err || len > r->len - r->pos) {
        r->err = SPATE_EPARSE;
        return NULL;
    }
    *n = (size_t)len;
    return r_take(r, (size_t)len);
}

/* Reads one non-NULL value of v's type into row i; 0, SPATE_EPARSE or SPATE_ENOMEM. */
static int r_value(sp_rbuf *r, sp_batch *b, sp_vec *v, uint32_t i)
{
    switch (v->type) {
    case SPATE_BOOL:
        SP_BOOL(v)[i] = sp_r_u8(r) != 0;
        break;
    case SPATE_INT32:
        SP_I32(v)[i] = (int32_t)sp_r_u32(r);
        break;
    case SPATE_FLOAT64:
        SP_F64(v)[i] = sp_r_f64(r);
        break;
    case SPATE_STRING:
    case SPATE_BYTES: {
        size_t n;
        const char *p = sp_r_bytes(r, &n);
        if (!p) return SPATE_EPARSE;
        char *copy = sp_arena_dup(&b->arena, p, n);
        if (!copy) return SPATE_ENOMEM;
        SP_STR(v)[i] = (spate_str){copy, n};
        break;
    }
    default:
        SP_I64(v)[i] = sp_r_i64(r);
        break;
    }
    return r->err;
}

int sp_r_row(sp_rbuf *r, sp_batch *b)
{
    uint32_t i = b->n;
    uint8_t bits = 0;
    for (int c = 0; c < b->ncols; c++) {
        if (c % 8 == 0) bits = sp_r_u8(r);
        sp_vec *v = &b->cols[c];
        if ((bits >> (c % 8)) & 1)
            sp_vec_set_null(v, i);
        else if (v->has_nulls)
            sp_vec_clear_null(v, i);
    }
    if (r->err) return SPATE_EPARSE;
    for (int c = 0; c < b->ncols; c++) {
        sp_vec *v = &b->cols[c];
        if (sp_vec_is_null(v, i)) continue;
        int rc = r_value(r, b, v, i);
        if (rc) return rc;
    }
    b->n++;
    return 0;
}

/* ------------------------------------------------------------------ CRC-32C */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Table k maps a byte to its CRC contribution k bytes further from the end. */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

uint32_t sp_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *s = p;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    for (; n >= 8; n -= 8, s += 8) {
        uint32_t lo = crc ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                             (uint32_t)s[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][s[4]] ^
              crc_table[2][s[5]] ^ crc_table[1][s[6]] ^ crc_table[0][s[7]];
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *s++) & 0xff];
    return ~crc;
}
