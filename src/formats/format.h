/*
 * format.h - text formats: bytes <-> batches.
 *
 *   csv    RFC 4180: delimiter (default ','), double-quoted fields with "" escapes,
 *          quoted newlines; an optional header line maps columns by name.
 *   jsonl  one flat JSON object per line; a schema field named "a.b" reads the
 *          member b of the object member a (dotted path).
 *   text   each line is one row of a single STRING column.
 *
 * Reading is zero-copy where possible: the source copies a block of input into the
 * batch's arena once, records are split in place, and unquoted/unescaped string
 * fields point straight into that block. Malformed records never crash the parser:
 * they are reported to the dead-letter output (core/deadletter.h) with source,
 * position, field and reason, and the parse goes on with the next record.
 *
 * Values: BOOL true/false/1/0; integers in range for their type; DOUBLE strtod;
 * TIMESTAMP ISO-8601 "2024-05-01T12:00:00[.ffffff][Z|+hh:mm]" (a space may replace
 * the T) or a number in timestamp.unit (default ms) since the epoch; empty
 * CSV fields and JSON null are NULL. Written timestamps are ISO-8601 UTC with 'Z'.
 */
#ifndef SP_FORMAT_H
#define SP_FORMAT_H

#include "core/batch.h"
#include "core/buf.h"
#include "core/deadletter.h"
#include "core/opts.h"

typedef enum { SP_FMT_CSV = 1, SP_FMT_JSONL, SP_FMT_TEXT } sp_format_kind;

typedef struct sp_format {
    sp_format_kind kind;
    char delim;          /* csv delimiter */
    int header;          /* csv: inputs start with / outputs write a header line */
    int64_t ts_unit_us;  /* numeric timestamps: microseconds per unit */
    const spate_schema *schema;
} sp_format;

/* Options every text-based connector accepts: format, header, delimiter, timestamp.unit. */
extern const sp_opt_def sp_format_opt_defs[];

/* Fills f from options; checks the schema fits the format (text: one STRING column).
 * schema must outlive f. */
int sp_format_from_opts(sp_format *f, const sp_opts *o, const spate_schema *schema);
/* Same from a format name with defaults for the rest ("csv", "jsonl", "text"). */
int sp_format_init(sp_format *f, const char *name, const spate_schema *schema);

/* Splits records: returns the bytes the first complete record uses in buf[0..len),
 * terminator included, and sets *rec_len to its length without the terminator
 * ("\n" or "\r\n"). Returns 0 when buf holds no complete record; with at_eof the
 * rest counts as a record. CSV honours quoted newlines. */
size_t sp_format_next_record(const sp_format *f, const char *buf, size_t len, int at_eof,
                             size_t *rec_len);

/* Parser state for one input stream (a file, a connection): the CSV header map. */
typedef struct sp_parser sp_parser;

int sp_parser_new(const sp_format *f, sp_parser **out);
void sp_parser_free(sp_parser *p);
/* A new input begins: with header=true its first record is read as the header. */
void sp_parser_reset(sp_parser *p);
/* Parses one record into a new row of b (b->n < b->cap required). rec must stay
 * valid as long as b (e.g. live in b's arena): string fields may point into it.
 * Returns 1 when a row was added, 0 when the record was a header, blank, or
 * rejected (reported to dl as source/pos), or a negative code (SPATE_EPARSE
 * under policy fail, SPATE_ENOMEM). */
int sp_parser_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len, sp_deadletter *dl,
                    const char *source, const char *pos);

/* Writers: a header line (csv with header=true; nothing otherwise), and one row
 * with its newline. Return 0 or SPATE_ENOMEM. */
int sp_format_write_header(const sp_format *f, sp_buf *out);
int sp_format_write_row(const sp_format *f, const sp_batch *b, uint32_t phys, sp_buf *out);

/* Timestamps: ISO-8601 UTC text <-> microseconds since the epoch. */
int sp_ts_parse(const char *s, size_t n, int64_t *us);
/* Writes "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z" into buf (n >= 32); returns its length. */
int sp_ts_format(int64_t us, char *buf, size_t n);

#endif
