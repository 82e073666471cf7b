/*
 * format_impl.h - what the per-format parsers (csv.c, jsonl.c, text.c) share with
 * format.c: the parser state, the record-rejection path and the value parsers.
 *
 * A per-format parse function fills row b->n column by column and marks the columns
 * it set in p->seen; sp_row_commit then NULLs the rest and publishes the row by
 * incrementing b->n. A rejected record therefore never leaves a half-added row:
 * b->n is simply not incremented.
 */
#ifndef SP_FORMAT_IMPL_H
#define SP_FORMAT_IMPL_H

#include "formats/format.h"

#include <stdint.h>

/* Internal results of the per-format parse functions (negative = SPATE_E* code). */
enum {
    SP_PARSE_NONE = 0, /* blank line or header: nothing added */
    SP_PARSE_ROW = 1,  /* one row added */
    SP_PARSE_BAD = 2   /* record rejected and reported to the dead-letter output */
};

/* JSON nesting limit: deeper input is a bad record, never a deep recursion. */
enum { SP_JSON_MAX_DEPTH = 64 };

/* One CSV field as split out of a record. */
typedef struct sp_csv_field {
    const char *p;
    size_t n;
    int quoted;  /* was in quotes: an empty quoted field is "", not NULL */
    int escaped; /* holds "" pairs that need unescaping */
} sp_csv_field;

struct sp_parser {
    const sp_format *f;
    int ncols;
    uint8_t *seen;    /* [ncols] column set by the current record */
    size_t *name_len; /* [ncols] strlen of each column name */
    int first;        /* the next record is the first of its input (BOM check) */

    /* the current call, for sp_parser_bad */
    sp_deadletter *dl;
    const char *source, *pos, *rec;
    size_t len;
    char reason[256];

    /* csv */
    int need_header;      /* header=true and the header of this input not read yet */
    int nfile;            /* fields per record: header field count, else ncols */
    int *map;             /* [nfile] file field -> schema column or -1 (header only) */
    int map_cap;
    sp_csv_field *fields; /* [fields_cap] scratch for splitting one record */
    int fields_cap;

    /* jsonl */
    char *path;           /* dotted path of the member being read */
    size_t path_cap;
    int has_dotted;       /* some column name holds a '.': nested objects matter */
    int hint;             /* column expected next: members usually come in schema order */
};

/* Formats a reason, reports the current record to the dead-letter output and returns
 * SP_PARSE_BAD, or the dead-letter's error (SPATE_EPARSE under policy fail). */
int sp_parser_bad(sp_parser *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Converts the text s[0..n) into column col of row b->n and marks it seen. String
 * columns keep the pointer (s must live as long as b); other types ignore surrounding
 * blanks and read empty text as NULL. SP_PARSE_NONE when stored, otherwise as
 * sp_parser_bad (the reason quotes the value). */
int sp_put_value(sp_parser *p, sp_batch *b, int col, const char *s, size_t n);

/* NULLs the columns not seen and publishes row b->n. Returns SP_PARSE_ROW. */
int sp_row_commit(sp_parser *p, sp_batch *b);

/* Strict value parsers on unterminated text; 0 on success, -1 otherwise. */
int sp_parse_i64(const char *s, size_t n, int64_t *out);
int sp_parse_f64(const char *s, size_t n, double *out);
int sp_parse_bool(const char *s, size_t n, uint8_t *out);
/* ISO-8601 text or a number of unit_us-microsecond units since the epoch. */
int sp_parse_ts_value(const char *s, size_t n, int64_t unit_us, int64_t *us);

/* Per-format record parsers, called by sp_parser_parse with a record stripped of
 * its terminator and BOM, p->seen cleared and the call fields set. */
int sp_csv_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len);
int sp_jsonl_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len);
int sp_text_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len);

/* Record splitting for CSV (quoted newlines); same contract as sp_format_next_record. */
size_t sp_csv_next_record(const sp_format *f, const char *buf, size_t len, int at_eof,
                          size_t *rec_len);

/* Unescapes a quoted CSV field's "" pairs into b's arena; NULL when out of memory. */
const char *sp_csv_unescape(sp_batch *b, const char *s, size_t n, size_t *out_n);
/* Writes s as one CSV field, quoted when it is empty or holds the delimiter, a
 * quote, CR or LF. 0 or SPATE_ENOMEM. */
int sp_csv_put_field(const sp_format *f, const char *s, size_t n, sp_buf *out);

#endif
