/*
 * reader.c - the record reader shared by the text sources (see internal.h).
 *
 * Design choices:
 *  - Pending input lives in one growable buffer with a read offset; it is compacted
 *    (memmove of the unparsed tail) only when a read needs room, so consuming
 *    records never moves memory.
 *  - Records are split once, in place, into a scratch array of (start, length)
 *    pairs; the whole run of records is then copied into the batch arena with one
 *    memcpy and parsed there, so string fields point into the arena and the source
 *    buffer can be reused at once. A run never holds more records than the batch
 *    has free rows, because each record adds at most one row.
 *  - Positions are "PREFIXLINE" in a buffer whose prefix is written once per input;
 *    only the digits change per record, with no printf on the hot path.
 *  - Line numbers count physical lines: a CSV record with quoted newlines advances
 *    the count by its embedded newlines too, so positions match what an editor shows.
 *  - For checkpoints the reader counts the bytes of parsed records (consumed), not
 *    the bytes read: records still in the buffer were not emitted, so a restored
 *    source must read them again. It also notes where a CSV header ends, because a
 *    file resumed mid-way needs its header map: the restore parses those bytes
 *    again rather than the checkpoint storing the parser's internals.
 */
#include "connectors/internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SP_POS_DIGITS = 24 };

int sp_reader_init(sp_reader *r, const sp_format *f, const char *source)
{
    memset(r, 0, sizeof *r);
    r->fmt = f;
    r->source = source;
    r->line = 1;
    int rc = sp_parser_new(f, &r->parser);
    if (rc) return rc;
    return sp_reader_begin(r, "");
}

void sp_reader_free(sp_reader *r)
{
    if (r->parser) sp_parser_free(r->parser);
    free(r->buf);
    free(r->recs);
    free(r->pos);
    memset(r, 0, sizeof *r);
}

int sp_reader_begin(sp_reader *r, const char *prefix)
{
    size_t n = strlen(prefix);
    char *pos = realloc(r->pos, n + SP_POS_DIGITS);
    if (!pos) return sp_err(SPATE_ENOMEM, "out of memory");
    memcpy(pos, prefix, n);
    r->pos = pos;
    r->prefix_len = n;
    r->off = r->len = 0;
    r->line = 1;
    r->consumed = r->header_end = 0;
    sp_parser_reset(r->parser);
    return 0;
}

/* At least min free bytes after the pending input (compacting, then growing the
 * buffer); NULL when out of memory. *avail is the free space. */
static char *reader_space(sp_reader *r, size_t min, size_t *avail)
{
    if (r->cap - r->len < min && r->off) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->cap - r->len < min) {
        size_t cap = r->cap ? r->cap * 2 : SP_READ_CHUNK;
        while (cap - r->len < min)
            cap *= 2;
        char *p = realloc(r->buf, cap);
        if (!p) return NULL;
        r->buf = p;
        r->cap = cap;
    }
    *avail = r->cap - r->len;
    return r->buf + r->len;
}

int sp_reader_append(sp_reader *r, const char *p, size_t n)
{
    size_t avail;
    char *dst = reader_space(r, n, &avail);
    if (!dst) return sp_err(SPATE_ENOMEM, "out of memory");
    memcpy(dst, p, n);
    r->len += n;
    return 0;
}

/* Writes the current line number after the prefix (NUL-terminated). */
static void set_pos(sp_reader *r)
{
    char tmp[SP_POS_DIGITS];
    int n = 0;
    uint64_t v = (uint64_t)r->line;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *p = r->pos + r->prefix_len;
    while (n)
        *p++ = tmp[--n];
    *p = 0;
}

static int64_t embedded_newlines(const char *p, size_t n)
{
    int64_t k = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        k++;
        p++;
    }
    return k;
}

/* Splits up to max complete records starting at r->off into r->recs (offsets
 * relative to r->off). Returns the count; *used = bytes they span. */
static uint32_t split_run(sp_reader *r, uint32_t max, int at_eof, size_t *used)
{
    size_t p = r->off;
    uint32_t k = 0;
    while (k < max && p < r->len) {
        size_t rec_len;
        size_t n = sp_format_next_record(r->fmt, r->buf + p, r->len - p, at_eof, &rec_len);
        if (!n) break;
        r->recs[2 * k] = p - r->off;
        r->recs[2 * k + 1] = rec_len;
        k++;
        p += n;
    }
    *used = p - r->off;
    return k;
}

static int ensure_recs(sp_reader *r, uint32_t n)
{
    if (n <= r->cap_recs) return 0;
    size_t *p = realloc(r->recs, 2 * (size_t)n * sizeof *p);
    if (!p) return sp_err(SPATE_ENOMEM, "out of memory");
    r->recs = p;
    r->cap_recs = n;
    return 0;
}

/* The parser's rule for the record it takes as the CSV header: the first one that
 * is not blank once a byte order mark at the very start of the input is dropped. */
static int is_header(const sp_reader *r, const char *rec, size_t len, int64_t at)
{
    if (r->header_end || r->fmt->kind != SP_FMT_CSV || !r->fmt->header) return 0;
    if (at == 0 && len >= 3 && memcmp(rec, "\xEF\xBB\xBF", 3) == 0) len -= 3;
    return len > 0;
}

/* Parses the k records of one run (used bytes), already copied to chunk. */
static int parse_run(sp_reader *r, sp_batch *b, sp_deadletter *dl, const char *chunk, uint32_t k,
                     size_t used)
{
    int csv = r->fmt->kind == SP_FMT_CSV;
    for (uint32_t i = 0; i < k; i++) {
        const char *rec = chunk + r->recs[2 * i];
        size_t len = r->recs[2 * i + 1];
        size_t end = i + 1 < k ? r->recs[2 * i + 2] : used;
        int header = is_header(r, rec, len, r->consumed + (int64_t)r->recs[2 * i]);
        set_pos(r);
        int rc = sp_parser_parse(r->parser, b, rec, len, dl, r->source, r->pos);
        if (rc < 0) return rc;
        r->line += 1 + (csv ? embedded_newlines(rec, len) : 0);
        if (header) r->header_end = r->consumed + (int64_t)end;
    }
    r->consumed += (int64_t)used;
    return 0;
}

int sp_reader_parse(sp_reader *r, sp_batch *b, sp_deadletter *dl, int at_eof)
{
    while (b->n < b->cap && sp_reader_pending(r)) {
        uint32_t room = b->cap - b->n;
        int rc = ensure_recs(r, room);
        if (rc) return rc;
        size_t used;
        uint32_t k = split_run(r, room, at_eof, &used);
        if (!k) break;
        char *chunk = sp_arena_alloc(&b->arena, used);
        if (!chunk) return sp_err(SPATE_ENOMEM, "out of memory");
        memcpy(chunk, r->buf + r->off, used);
        r->off += used;
        rc = parse_run(r, b, dl, chunk, k, used);
        if (rc) return rc;
    }
    if (r->off == r->len) r->off = r->len = 0;
    return 0;
}

int sp_reader_resume(sp_reader *r, const char *head, size_t head_len, int64_t consumed,
                     int64_t line, sp_batch *scratch, sp_deadletter *dl)
{
    int rc = sp_reader_append(r, head, head_len);
    if (!rc) rc = sp_reader_parse(r, scratch, dl, 0);
    if (rc) return rc;
    if (scratch->n || sp_reader_pending(r) || (int64_t)head_len > consumed)
        return sp_err(SPATE_EPARSE, "the header of %.*s changed since the checkpoint",
                      (int)r->prefix_len, r->pos);
    r->consumed = consumed;
    r->line = line;
    return 0;
}

long sp_reader_fill(sp_reader *r, int fd, int timeout_ms, int *eof)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) return errno == EINTR ? 0 : -1;
    if (ready == 0) return 0;
    size_t avail;
    char *dst = reader_space(r, SP_READ_CHUNK, &avail);
    if (!dst) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t n = read(fd, dst, avail);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) *eof = 1;
    r->len += (size_t)n;
    return (long)n;
}
