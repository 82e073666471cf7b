/*
 * test_cells.h - rendering a window operator's output cell as the window and join
 * tests expect it: NULL as "null", timestamps in milliseconds ("12us" when not a
 * whole millisecond), doubles with %g. Shared so both suites read rows one way.
 */
#ifndef SP_TEST_CELLS_H
#define SP_TEST_CELLS_H

#include <spate.h>

#include <stdio.h>
#include <string.h>

/* Appends cell c of r (of type t) to the text in line (cap bytes). */
static inline void sp_test_put_cell(char *line, size_t cap, const spate_row *r, spate_type t, int c)
{
    size_t n = strlen(line);
    if (spate_row_is_null(r, c)) {
        snprintf(line + n, cap - n, "null");
        return;
    }
    int64_t x = spate_row_int(r, c);
    spate_str s;
    switch (t) {
    case SPATE_STRING:
        s = spate_row_str(r, c);
        snprintf(line + n, cap - n, "%.*s", (int)s.len, s.ptr);
        break;
    case SPATE_FLOAT64:
        snprintf(line + n, cap - n, "%g", spate_row_double(r, c));
        break;
    case SPATE_TIMESTAMP:
        if (x % 1000 == 0)
            snprintf(line + n, cap - n, "%lld", (long long)(x / 1000));
        else
            snprintf(line + n, cap - n, "%lldus", (long long)x);
        break;
    default:
        snprintf(line + n, cap - n, "%lld", (long long)x);
        break;
    }
}

#endif
