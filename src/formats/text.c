/*
 * text.c - each line is one row of the single STRING column, kept as is.
 *
 * No escaping exists in this format, so the value always points into the record
 * (zero-copy) and no line is ever malformed; blank lines are skipped, as in the
 * other formats, so a trailing newline never makes an empty row. Having no escapes
 * also means some values cannot make a round trip through a text file: the empty
 * string and NULL (both a blank line), and values holding LF or ending in CR.
 */
#include "formats/format_impl.h"

int sp_text_parse(sp_parser *p, sp_batch *b, const char *rec, size_t len)
{
    if (len == 0) return SP_PARSE_NONE;
    int rc = sp_put_value(p, b, 0, rec, len);
    return rc ? rc : sp_row_commit(p, b);
}
