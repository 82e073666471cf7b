/* buf.c - growable byte buffer. */
#include "core/buf.h"

#include "spate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(sp_buf *b, size_t need)
{
    if (b->len + need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return SPATE_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int sp_buf_put(sp_buf *b, const void *data, size_t n)
{
    if (grow(b, n + 1)) return SPATE_ENOMEM;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int sp_buf_putc(sp_buf *b, char c)
{
    return sp_buf_put(b, &c, 1);
}

int sp_buf_printf(sp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n + 1)) return SPATE_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int sp_buf_put_json_escaped(sp_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = sp_buf_put(b, e, 2);
        } else if (c == '\n') rc = sp_buf_put(b, "\\n", 2);
        else if (c == '\r') rc = sp_buf_put(b, "\\r", 2);
        else if (c == '\t') rc = sp_buf_put(b, "\\t", 2);
        else if (c < 0x20) rc = sp_buf_printf(b, "\\u%04x", c);
        else rc = sp_buf_putc(b, (char)c);
        if (rc) return rc;
    }
    return 0;
}

int sp_buf_put_double(sp_buf *b, double x)
{
    char num[40];
    snprintf(num, sizeof num, "%.15g", x);
    if (strtod(num, NULL) != x) snprintf(num, sizeof num, "%.17g", x);
    return sp_buf_put(b, num, strlen(num));
}

void sp_buf_free(sp_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
