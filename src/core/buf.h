/* buf.h - growable byte buffer for writers (formats, sinks, dead letters). */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stddef.h>

typedef struct sp_buf {
    char *p;
    size_t len, cap;
} sp_buf;

/* 0 or SPATE_ENOMEM. */
int sp_buf_put(sp_buf *b, const void *data, size_t n);
int sp_buf_putc(sp_buf *b, char c);
int sp_buf_printf(sp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (no quotes), escaping as RFC 8259 requires. */
int sp_buf_put_json_escaped(sp_buf *b, const char *s, size_t n);
/* Appends x as %.15g, or as %.17g when that does not read back as x: the shortest
 * exact form of the two. Non-finite values come out as printf writes them (nan, inf). */
int sp_buf_put_double(sp_buf *b, double x);
void sp_buf_free(sp_buf *b);

#endif
