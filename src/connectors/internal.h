/*
 * internal.h - what the connector files share and nothing else sees: the built-in
 * connector classes (for registry.c) and the record reader used by every text source.
 *
 * The reader exists because stdin, socket, files and queue all do the same thing
 * with bytes once they have them: keep the unfinished tail, split complete
 * records, copy a run of records into the batch arena once and parse them there
 * (zero-copy strings), and name each record's position for the dead letters.
 * Keeping that in one place means one copy of the subtle parts (partial records,
 * end-of-input records, position strings).
 */
#ifndef SP_CONNECTORS_INTERNAL_H
#define SP_CONNECTORS_INTERNAL_H

#include "connectors/connector.h"

extern const sp_source_class sp_generator_source;
extern const sp_source_class sp_stdin_source;
extern const sp_source_class sp_socket_source;
extern const sp_source_class sp_files_source;
extern const sp_sink_class sp_console_sink;
extern const sp_sink_class sp_files_sink;
extern const sp_sink_class sp_blackhole_sink;

/* Bytes a source asks the reader for before each read(): large enough that a read
 * rarely returns a partial buffer, small enough to stay in cache. */
enum { SP_READ_CHUNK = 64 * 1024 };

typedef struct sp_reader {
    const sp_format *fmt;
    sp_parser *parser;
    const char *source; /* dead-letter "source" field */
    char *buf;          /* input not yet parsed: buf[off..len) */
    size_t off, len, cap;
    size_t *recs; /* scratch: (start, length) of the records of one chunk */
    uint32_t cap_recs;
    int64_t line;       /* line number of the next record, from 1 per input */
    int64_t consumed;   /* bytes of this input in parsed records: where the next starts */
    int64_t header_end; /* csv with header: offset just after the header record once it
                           was parsed, else 0 (the bytes a resumed input replays) */
    char *pos;          /* prefix followed by the line number */
    size_t prefix_len;
} sp_reader;

/* Prepares r for inputs in format f (which must outlive r). source names the
 * connector in dead letters. 0 or SPATE_ENOMEM. */
int sp_reader_init(sp_reader *r, const sp_format *f, const char *source);
void sp_reader_free(sp_reader *r);
/* A new input starts (file, connection, queue item): pending bytes are dropped, the
 * parser is reset (a CSV header is expected again) and lines count from 1.
 * Positions read "PREFIXLINE". 0 or SPATE_ENOMEM. */
int sp_reader_begin(sp_reader *r, const char *prefix);
/* Resumes the current input (after sp_reader_begin) at a saved position, for a
 * checkpoint restore: head is the input's bytes [0, header_end) as saved - parsed
 * again into scratch, which they add no rows to, so the CSV header map is rebuilt -
 * and consumed / line are the offset and line number of the next record. The
 * caller reads on from that offset. 0, SPATE_EPARSE (head holds rows: the input
 * changed) or SPATE_ENOMEM. */
int sp_reader_resume(sp_reader *r, const char *head, size_t head_len, int64_t consumed,
                     int64_t line, sp_batch *scratch, sp_deadletter *dl);
/* Appends a copy of p[0..n). 0 or SPATE_ENOMEM. */
int sp_reader_append(sp_reader *r, const char *p, size_t n);
/* Parses complete records into b while it has room; with at_eof the unterminated
 * rest is the final record. Bad records go to dl (the parser reports them).
 * Returns 0 or a negative code (SPATE_EPARSE under policy fail, SPATE_ENOMEM). */
int sp_reader_parse(sp_reader *r, sp_batch *b, sp_deadletter *dl, int at_eof);
/* Bytes waiting to be parsed (a partial record, or records that did not fit). */
static inline size_t sp_reader_pending(const sp_reader *r)
{
    return r->len - r->off;
}

/* One read() into r from fd, once poll() says it is readable within timeout_ms.
 * Returns the bytes read (0 when nothing came in time, or at end of input, which
 * sets *eof), or -1 with errno set (ENOMEM when the buffer cannot grow). */
long sp_reader_fill(sp_reader *r, int fd, int timeout_ms, int *eof);

#endif
