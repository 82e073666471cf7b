/*
 * fn_string.c - SQL's string functions (sq_funcs_string).
 *
 * Design choices:
 *  - Positions and lengths count characters of UTF-8 text: a character is a byte
 *    with the continuation bytes (10xxxxxx) that follow it, 4 bytes at most.
 *    Invalid sequences are never rejected (a stray byte is a character), so no
 *    input makes a function fail.
 *  - LOWER, UPPER and INITCAP map ASCII letters only and leave other characters as
 *    they are (INITCAP counts them as letters, so 'élan' stays 'élan').
 *  - SUBSTRING follows the SQL standard for a start <= 0: the characters before
 *    position 1 count against the length (SUBSTRING('hello', 0, 3) = 'he',
 *    SUBSTRING('hello', -1, 3) = 'h'); a negative start does not count from the end
 *    as in Spark. A negative length is NULL.
 *  - CONCAT is NULL when any argument is (Flink); CONCAT_WS skips NULL values and is
 *    NULL only for a NULL separator. Their values may have any type and are cast to
 *    STRING, as operands of || are.
 *  - SPLIT_INDEX splits on the whole delimiter string, keeps empty fields, and is
 *    NULL for an index < 0 or past the last field (Flink); an empty delimiter does
 *    not split.
 *  - LPAD and RPAD cut a string longer than len to its first len characters, and
 *    are NULL for len < 0 or an empty pad that would be needed (Flink).
 *  - Regular expressions are POSIX extended regular expressions (regex.h, ERE), not
 *    Java's: no \d, lazy quantifiers, lookaround or inline flags; write [0-9],
 *    [[:alnum:]_], [[:space:]] (glibc also takes its \w \s \b extensions, which
 *    are not portable). Matching stops at a NUL byte (regexec reads C strings;
 *    REGEXP_REPLACE goes on after it). REGEXP_EXTRACT's group defaults to 0, the
 *    whole match (Flink), and is NULL when there is no match or the group did not
 *    take part. REGEXP_REPLACE replaces every match, left to right, with Java's
 *    replacement syntax ($n inserts group n, \ escapes the next character); an
 *    empty match inserts the replacement before the next character ('abc', 'b*',
 *    '-' -> '-a--c-' as in Java). An invalid pattern or replacement is NULL, not an
 *    error.
 *  - Compiled patterns are cached per thread: a small LRU table of the last
 *    RX_SLOTS patterns, freed when the thread exits. A constant pattern is
 *    compiled once per worker, not per row nor per batch, and workers never share
 *    a regex_t (glibc serialises regexec calls on one regex_t with a lock).
 */
#define _GNU_SOURCE /* memmem */
#include "sql/fn_util.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ UTF-8 */

/* Byte length of the character at p (left > 0 bytes remain). */
static size_t u8_next(const char *p, size_t left)
{
    size_t n = 1;
    while (n < left && n < 4 && ((unsigned char)p[n] & 0xC0) == 0x80) n++;
    return n;
}

static size_t u8_count(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i += u8_next(p + i, len - i)) n++;
    return n;
}

/* Byte offset of character number nchars (0-based), or len past the end. */
static size_t u8_skip(const char *p, size_t len, int64_t nchars)
{
    size_t i = 0;
    for (; i < len && nchars > 0; nchars--) i += u8_next(p + i, len - i);
    return i;
}

/* ---------------------------------------------------------------- buffers */

/* A growable buffer for results whose size is found while building them. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int err; /* 1: longer than SQ_FN_MAX_RESULT, 2: out of memory */
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->err) return;
    if (n > SQ_FN_MAX_RESULT - b->len) {
        b->err = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = 2;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Row i of out from b: the string, NULL when too long, SPATE_ENOMEM. */
static int sb_emit(sq_eval_ctx *cx, sbuf *b, sq_vec *out, size_t i)
{
    if (b->err == 2) return SPATE_ENOMEM;
    if (b->err) {
        sq_fn_set_null(out, i);
        return 0;
    }
    return sq_fn_set_str(cx, out, i, b->p, b->len);
}

/* ------------------------------------------------- concatenation, case */

static int eval_concat(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        size_t len = 0;
        int null = 0;
        for (int k = 0; k < nargs && !null; k++) {
            null = fn_null(&args[k], i);
            len += null ? 0 : fn_str(&args[k], i).len;
        }
        if (null || len > SQ_FN_MAX_RESULT) {
            sq_fn_set_null(out, i);
            continue;
        }
        char *p = sq_fn_alloc_str(cx, out, i, len);
        if (!p) return SPATE_ENOMEM;
        for (int k = 0; k < nargs; k++) {
            spate_str s = fn_str(&args[k], i);
            if (s.len) memcpy(p, s.ptr, s.len);
            p += s.len;
        }
    }
    return 0;
}

static int eval_concat_ws(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str sep = fn_str(&args[0], i);
        size_t len = 0, parts = 0;
        for (int k = 1; k < nargs; k++)
            if (!fn_null(&args[k], i)) len += (parts++ ? sep.len : 0) + fn_str(&args[k], i).len;
        if (len > SQ_FN_MAX_RESULT) {
            sq_fn_set_null(out, i);
            continue;
        }
        char *p = sq_fn_alloc_str(cx, out, i, len);
        if (!p) return SPATE_ENOMEM;
        parts = 0;
        for (int k = 1; k < nargs; k++) {
            if (fn_null(&args[k], i)) continue;
            spate_str s = fn_str(&args[k], i);
            if (parts++ && sep.len) {
                memcpy(p, sep.ptr, sep.len);
                p += sep.len;
            }
            if (s.len) memcpy(p, s.ptr, s.len);
            p += s.len;
        }
    }
    return 0;
}

/* mode: 'l' lower, 'u' upper, 'i' initcap. */
static int eval_case(sq_eval_ctx *cx, const sq_vec *args, sq_vec *out, char mode)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        char *p = sq_fn_alloc_str(cx, out, i, s.len);
        if (!p) return SPATE_ENOMEM;
        int in_word = 0;
        for (size_t k = 0; k < s.len; k++) {
            unsigned char c = (unsigned char)s.ptr[k];
            int upper = mode == 'u' || (mode == 'i' && !in_word);
            p[k] = (char)(c >= 0x80 ? c : upper ? toupper(c) : tolower(c));
            in_word = c >= 0x80 || isalnum(c);
        }
    }
    return 0;
}

static int eval_lower(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_case(cx, args, out, 'l');
}

static int eval_upper(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_case(cx, args, out, 'u');
}

static int eval_initcap(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_case(cx, args, out, 'i');
}

/* -------------------------------------------------------- measuring, slicing */

static int eval_length(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        size_t n = u8_count(s.ptr, s.len);
        if (n > INT32_MAX) sq_fn_set_null(out, i);
        else {
            out->nulls[i] = 0;
            out->v.i32[i] = (int32_t)n;
        }
    }
    return 0;
}

static int eval_substring(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, nargs, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        int64_t from = fn_int(&args[1], i), to = INT64_MAX; /* 1-based, to exclusive */
        if (nargs > 2) {
            int64_t n = fn_int(&args[2], i);
            if (n < 0) {
                sq_fn_set_null(out, i);
                continue;
            }
            if (__builtin_add_overflow(from, n, &to)) to = INT64_MAX;
        }
        if (from < 1) from = 1;
        size_t b = u8_skip(s.ptr, s.len, from - 1);
        size_t e = to <= from ? b : b + u8_skip(s.ptr + b, s.len - b, to - from);
        if (sq_fn_set_str(cx, out, i, s.ptr + b, e - b)) return SPATE_ENOMEM;
    }
    return 0;
}

/* 1 when the character c[0..n) occurs in set. */
static int in_set(const char *c, size_t n, spate_str set)
{
    for (size_t k = 0; k < set.len;) {
        size_t m = u8_next(set.ptr + k, set.len - k);
        if (m == n && memcmp(set.ptr + k, c, n) == 0) return 1;
        k += m;
    }
    return 0;
}

/* which: 1 leading, 2 trailing, 3 both. */
static int eval_trim(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out, int which)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, nargs, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        spate_str set = nargs > 1 ? fn_str(&args[1], i) : (spate_str){" ", 1};
        size_t b = 0, e = s.len;
        while ((which & 1) && b < e) {
            size_t n = u8_next(s.ptr + b, e - b);
            if (!in_set(s.ptr + b, n, set)) break;
            b += n;
        }
        if (which & 2) { /* forward, to split characters as everywhere else */
            e = b;
            for (size_t k = b, n; k < s.len; k += n) {
                n = u8_next(s.ptr + k, s.len - k);
                if (!in_set(s.ptr + k, n, set)) e = k + n;
            }
        }
        if (sq_fn_set_str(cx, out, i, s.ptr + b, e - b)) return SPATE_ENOMEM;
    }
    return 0;
}

static int eval_trim_both(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_trim(cx, args, nargs, out, 3);
}

static int eval_ltrim(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_trim(cx, args, nargs, out, 1);
}

static int eval_rtrim(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_trim(cx, args, nargs, out, 2);
}

static int eval_reverse(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_null(&args[0], i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        char *p = sq_fn_alloc_str(cx, out, i, s.len);
        if (!p) return SPATE_ENOMEM;
        for (size_t k = 0; k < s.len;) { /* each character keeps its byte order */
            size_t n = u8_next(s.ptr + k, s.len - k);
            memcpy(p + s.len - k - n, s.ptr + k, n);
            k += n;
        }
    }
    return 0;
}

/* LPAD (left = 1) and RPAD. */
static int eval_pad(sq_eval_ctx *cx, const sq_vec *args, sq_vec *out, int left)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 3, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i), pad = fn_str(&args[2], i);
        int64_t want = fn_int(&args[1], i);
        size_t have = u8_count(s.ptr, s.len);
        if (want < 0 || ((uint64_t)want > have && pad.len == 0)) {
            sq_fn_set_null(out, i);
            continue;
        }
        if ((uint64_t)want <= have) {
            size_t e = u8_skip(s.ptr, s.len, want);
            if (sq_fn_set_str(cx, out, i, s.ptr, e)) return SPATE_ENOMEM;
            continue;
        }
        /* need characters of pad, repeated: whole copies, then a prefix. */
        uint64_t need = (uint64_t)want - have, pchars = u8_count(pad.ptr, pad.len);
        uint64_t copies = need / pchars;
        if (copies > SQ_FN_MAX_RESULT / pad.len) {
            sq_fn_set_null(out, i);
            continue;
        }
        size_t part = u8_skip(pad.ptr, pad.len, (int64_t)(need % pchars));
        size_t plen = copies * pad.len + part, len = plen + s.len;
        if (len > SQ_FN_MAX_RESULT) {
            sq_fn_set_null(out, i);
            continue;
        }
        char *p = sq_fn_alloc_str(cx, out, i, len);
        if (!p) return SPATE_ENOMEM;
        char *q = left ? p : p + s.len;
        for (uint64_t k = 0; k < copies; k++) memcpy(q + k * pad.len, pad.ptr, pad.len);
        memcpy(q + copies * pad.len, pad.ptr, part);
        if (s.len) memcpy(left ? p + plen : p, s.ptr, s.len);
    }
    return 0;
}

static int eval_lpad(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_pad(cx, args, out, 1);
}

static int eval_rpad(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_pad(cx, args, out, 0);
}

/* LEFT (left = 1) and RIGHT: the first or last n characters, '' for n < 0 (Flink). */
static int eval_side(sq_eval_ctx *cx, const sq_vec *args, sq_vec *out, int left)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 2, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i);
        int64_t n = fn_int(&args[1], i);
        size_t b = 0, e = 0;
        if (n > 0 && left) e = u8_skip(s.ptr, s.len, n);
        if (n > 0 && !left) {
            size_t have = u8_count(s.ptr, s.len);
            b = u8_skip(s.ptr, s.len, (uint64_t)n < have ? (int64_t)(have - (uint64_t)n) : 0);
            e = s.len;
        }
        if (sq_fn_set_str(cx, out, i, s.ptr + b, e - b)) return SPATE_ENOMEM;
    }
    return 0;
}

static int eval_left(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_side(cx, args, out, 1);
}

static int eval_right(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_side(cx, args, out, 0);
}

/* -------------------------------------------------------------- searching */

/* The first needle (not empty) in hay at or after byte from; hay.ptr may be NULL
 * when hay is empty. */
static const char *find(spate_str hay, size_t from, spate_str needle)
{
    if (needle.len > hay.len - from) return NULL;
    return memmem(hay.ptr + from, hay.len - from, needle.ptr, needle.len);
}

static int eval_replace(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 3, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i), from = fn_str(&args[1], i), to = fn_str(&args[2], i);
        size_t count = 0;
        if (from.len)
            for (const char *q = s.ptr; (q = find(s, (size_t)(q - s.ptr), from)); q += from.len)
                count++;
        if (count == 0) {
            if (sq_fn_set_str(cx, out, i, s.ptr, s.len)) return SPATE_ENOMEM;
            continue;
        }
        /* Every match is replaced, so the result is at most s.len + count * to.len. */
        if (to.len && count > SQ_FN_MAX_RESULT / to.len) {
            sq_fn_set_null(out, i);
            continue;
        }
        size_t len = s.len - count * from.len + count * to.len;
        if (len > SQ_FN_MAX_RESULT) {
            sq_fn_set_null(out, i);
            continue;
        }
        char *p = sq_fn_alloc_str(cx, out, i, len);
        if (!p) return SPATE_ENOMEM;
        size_t at = 0;
        for (const char *q; (q = find(s, at, from));) {
            size_t k = (size_t)(q - s.ptr);
            memcpy(p, s.ptr + at, k - at);
            p += k - at;
            if (to.len) memcpy(p, to.ptr, to.len);
            p += to.len;
            at = k + from.len;
        }
        memcpy(p, s.ptr + at, s.len - at);
    }
    return 0;
}

/* POSITION(needle, haystack): 1-based character position, 0 when absent. */
static int eval_position(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 2, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str needle = fn_str(&args[0], i), hay = fn_str(&args[1], i);
        const char *q = needle.len ? find(hay, 0, needle) : NULL;
        size_t pos = !needle.len ? 1 : q ? u8_count(hay.ptr, (size_t)(q - hay.ptr)) + 1 : 0;
        if (pos > INT32_MAX) sq_fn_set_null(out, i);
        else {
            out->nulls[i] = 0;
            out->v.i32[i] = (int32_t)pos;
        }
    }
    return 0;
}

/* STARTS_WITH (start = 1) and ENDS_WITH. */
static int eval_affix(const sq_vec *args, sq_vec *out, int start)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 2, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i), a = fn_str(&args[1], i);
        out->nulls[i] = 0;
        out->v.b[i] = a.len <= s.len &&
                      (a.len == 0 || !memcmp(start ? s.ptr : s.ptr + s.len - a.len, a.ptr, a.len));
    }
    return 0;
}

static int eval_starts_with(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_affix(args, out, 1);
}

static int eval_ends_with(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_affix(args, out, 0);
}

static int eval_split_index(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        if (fn_any_null(args, 3, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        spate_str s = fn_str(&args[0], i), delim = fn_str(&args[1], i);
        int64_t index = fn_int(&args[2], i);
        size_t b = 0; /* start of field k */
        int found = index >= 0;
        for (int64_t k = 0; found && k < index; k++) {
            const char *q = delim.len ? find(s, b, delim) : NULL;
            if (!q) found = 0;
            else b = (size_t)(q - s.ptr) + delim.len;
        }
        const char *q = found && delim.len ? find(s, b, delim) : NULL;
        size_t e = q ? (size_t)(q - s.ptr) : s.len;
        if (!found) sq_fn_set_null(out, i);
        else if (sq_fn_set_str(cx, out, i, s.ptr + b, e - b)) return SPATE_ENOMEM;
    }
    return 0;
}

/* ------------------------------------------------------ regular expressions */

enum { RX_SLOTS = 16, RX_GROUPS = 32 };

typedef struct rx_entry {
    char *pat; /* NUL-terminated copy; NULL for a free slot */
    size_t len;
    int ok; /* re compiled */
    regex_t re;
    unsigned long used;
} rx_entry;

/* Per-thread state: compiled patterns, a NUL-terminated copy of the subject, and
 * the result being built. */
typedef struct rx_cache {
    rx_entry slots[RX_SLOTS];
    unsigned long tick;
    sbuf subject, result;
} rx_cache;

static pthread_key_t rx_key;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;
static int rx_key_err;

static void rx_cache_free(void *arg)
{
    rx_cache *c = arg;
    for (int k = 0; k < RX_SLOTS; k++) {
        if (c->slots[k].ok) regfree(&c->slots[k].re);
        free(c->slots[k].pat);
    }
    free(c->subject.p);
    free(c->result.p);
    free(c);
}

static void rx_key_init(void)
{
    rx_key_err = pthread_key_create(&rx_key, rx_cache_free);
}

static rx_cache *rx_thread_cache(void)
{
    pthread_once(&rx_once, rx_key_init);
    if (rx_key_err) return NULL;
    rx_cache *c = pthread_getspecific(rx_key);
    if (!c && (c = calloc(1, sizeof(*c))) && pthread_setspecific(rx_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

/* The compiled pattern, or NULL when it does not compile (*nomem = 0) or when
 * memory ran out (*nomem = 1). Failures are cached like successes. */
static const regex_t *rx_get(rx_cache *c, spate_str pat, int *nomem)
{
    rx_entry *e = &c->slots[0];
    for (int k = 0; k < RX_SLOTS; k++) {
        rx_entry *s = &c->slots[k];
        if (s->pat && s->len == pat.len && (!pat.len || !memcmp(s->pat, pat.ptr, pat.len))) {
            s->used = ++c->tick;
            return s->ok ? &s->re : NULL;
        }
        if (!s->pat || s->used < e->used) e = s; /* free, else least recently used */
        if (!s->pat) break;
    }
    if (e->ok) regfree(&e->re);
    free(e->pat);
    memset(e, 0, sizeof(*e));
    if (!(e->pat = malloc(pat.len + 1))) {
        *nomem = 1;
        return NULL;
    }
    if (pat.len) memcpy(e->pat, pat.ptr, pat.len);
    e->pat[pat.len] = 0;
    e->len = pat.len;
    e->used = ++c->tick;
    e->ok = !memchr(e->pat, 0, pat.len) && regcomp(&e->re, e->pat, REG_EXTENDED) == 0;
    return e->ok ? &e->re : NULL;
}

/* s as a NUL-terminated string in the cache's subject buffer (NULL: no memory). */
static const char *rx_subject(rx_cache *c, spate_str s)
{
    c->subject.len = 0;
    c->subject.err = 0;
    sb_put(&c->subject, s.ptr, s.len);
    sb_put(&c->subject, "", 1);
    return c->subject.err ? NULL : c->subject.p;
}

/* Appends the replacement repl for match m of subj to b; -1 when repl is invalid
 * (a lone '$' or '\', or a group the pattern does not have). */
static int rx_append(sbuf *b, spate_str repl, const char *subj, const regmatch_t *m,
                     size_t ngroups)
{
    for (size_t k = 0; k < repl.len; k++) {
        char c = repl.ptr[k];
        if (c == '\\') {
            if (++k == repl.len) return -1;
            sb_put(b, repl.ptr + k, 1);
        } else if (c == '$') {
            if (++k == repl.len || !isdigit((unsigned char)repl.ptr[k])) return -1;
            size_t g = (size_t)(repl.ptr[k] - '0');
            /* Further digits extend the group number while it stays a group (Java). */
            while (k + 1 < repl.len && isdigit((unsigned char)repl.ptr[k + 1]) &&
                   g * 10 + (size_t)(repl.ptr[k + 1] - '0') < ngroups)
                g = g * 10 + (size_t)(repl.ptr[++k] - '0');
            if (g >= ngroups) return -1;
            if (m[g].rm_so >= 0) sb_put(b, subj + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        } else {
            sb_put(b, &c, 1);
        }
    }
    return 0;
}

/* op: 'x' REGEXP_EXTRACT, 'r' REGEXP_REPLACE, 'm' REGEXP (does it match). */
static int eval_regexp(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out, char op)
{
    rx_cache *c = rx_thread_cache();
    if (!c) return SPATE_ENOMEM;
    for (size_t i = 0; i < out->n; i++) {
        int nomem = 0;
        const regex_t *re = NULL;
        const char *subj = NULL;
        if (!fn_any_null(args, nargs, i) && (re = rx_get(c, fn_str(&args[1], i), &nomem)))
            subj = rx_subject(c, fn_str(&args[0], i));
        if (nomem || (re && !subj)) return SPATE_ENOMEM;
        if (!subj) {
            sq_fn_set_null(out, i);
            continue;
        }
        regmatch_t m[RX_GROUPS];
        size_t ngroups = re->re_nsub + 1 < RX_GROUPS ? re->re_nsub + 1 : RX_GROUPS;
        if (op == 'm') {
            out->nulls[i] = 0;
            out->v.b[i] = regexec(re, subj, 0, NULL, 0) == 0;
        } else if (op == 'x') {
            int64_t g = nargs > 2 ? fn_int(&args[2], i) : 0;
            if (g < 0 || (size_t)g >= ngroups || regexec(re, subj, ngroups, m, 0) != 0 ||
                m[g].rm_so < 0)
                sq_fn_set_null(out, i);
            else if (sq_fn_set_str(cx, out, i, subj + m[g].rm_so,
                                   (size_t)(m[g].rm_eo - m[g].rm_so)))
                return SPATE_ENOMEM;
        } else {
            spate_str repl = fn_str(&args[2], i);
            size_t len = c->subject.len - 1, pos = 0;
            sbuf *b = &c->result;
            b->len = 0;
            b->err = 0;
            int bad = 0;
            while (pos <= len && !bad &&
                   regexec(re, subj + pos, ngroups, m, pos ? REG_NOTBOL : 0) == 0) {
                for (size_t g = 0; g < ngroups; g++) { /* offsets relative to subj */
                    if (m[g].rm_so >= 0) {
                        m[g].rm_so += (regoff_t)pos;
                        m[g].rm_eo += (regoff_t)pos;
                    }
                }
                size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;
                sb_put(b, subj + pos, so - pos);
                bad = rx_append(b, repl, subj, m, ngroups);
                if (eo > so) pos = eo;
                else if (so < len) { /* empty match: keep the next character, go on */
                    size_t n = u8_next(subj + so, len - so);
                    sb_put(b, subj + so, n);
                    pos = so + n;
                } else pos = len + 1;
            }
            if (pos < len) sb_put(b, subj + pos, len - pos);
            if (bad) sq_fn_set_null(out, i);
            else if (sb_emit(cx, b, out, i)) return SPATE_ENOMEM;
        }
    }
    return 0;
}

static int eval_regexp_extract(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_regexp(cx, args, nargs, out, 'x');
}

static int eval_regexp_replace(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_regexp(cx, args, nargs, out, 'r');
}

static int eval_regexp_match(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_regexp(cx, args, nargs, out, 'm');
}

/* ------------------------------------------------------------------ table */

SQ_FN_RESOLVE(resolve_concat, "CONCAT", "x*", SPATE_STRING)
SQ_FN_RESOLVE(resolve_concat_ws, "CONCAT_WS", "s[x*", SPATE_STRING)
SQ_FN_RESOLVE(resolve_substring, "SUBSTRING", "si[i", SPATE_STRING)
SQ_FN_RESOLVE(resolve_substr, "SUBSTR", "si[i", SPATE_STRING)
SQ_FN_RESOLVE(resolve_left, "LEFT", "si", SPATE_STRING)
SQ_FN_RESOLVE(resolve_right, "RIGHT", "si", SPATE_STRING)
SQ_FN_RESOLVE(resolve_lower, "LOWER", "s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_upper, "UPPER", "s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_initcap, "INITCAP", "s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_trim, "TRIM", "s[s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_ltrim, "LTRIM", "s[s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_rtrim, "RTRIM", "s[s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_length, "LENGTH", "s", SPATE_INT32)
SQ_FN_RESOLVE(resolve_char_length, "CHAR_LENGTH", "s", SPATE_INT32)
SQ_FN_RESOLVE(resolve_character_length, "CHARACTER_LENGTH", "s", SPATE_INT32)
SQ_FN_RESOLVE(resolve_replace, "REPLACE", "sss", SPATE_STRING)
SQ_FN_RESOLVE(resolve_position, "POSITION", "ss", SPATE_INT32)
SQ_FN_RESOLVE(resolve_starts_with, "STARTS_WITH", "ss", SPATE_BOOL)
SQ_FN_RESOLVE(resolve_ends_with, "ENDS_WITH", "ss", SPATE_BOOL)
SQ_FN_RESOLVE(resolve_split_index, "SPLIT_INDEX", "ssi", SPATE_STRING)
SQ_FN_RESOLVE(resolve_lpad, "LPAD", "sis", SPATE_STRING)
SQ_FN_RESOLVE(resolve_rpad, "RPAD", "sis", SPATE_STRING)
SQ_FN_RESOLVE(resolve_reverse, "REVERSE", "s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_regexp, "REGEXP", "ss", SPATE_BOOL)
SQ_FN_RESOLVE(resolve_regexp_extract, "REGEXP_EXTRACT", "ss[i", SPATE_STRING)
SQ_FN_RESOLVE(resolve_regexp_replace, "REGEXP_REPLACE", "sss", SPATE_STRING)

const sq_func sq_funcs_string[] = {
    {"CONCAT", "CONCAT(s ANY, ...) -> STRING",
     "concatenation of the arguments; NULL when any is NULL", 1, -1, resolve_concat,
     eval_concat},
    {"CONCAT_WS", "CONCAT_WS(sep STRING[, s ANY, ...]) -> STRING",
     "the non-NULL arguments after sep, joined with sep; NULL only when sep is", 1, -1,
     resolve_concat_ws, eval_concat_ws},
    {"SUBSTRING", "SUBSTRING(s STRING, start INT[, len INT]) -> STRING",
     "len characters of s from position start (1-based; SQL rules for start <= 0)", 2, 3,
     resolve_substring, eval_substring},
    {"SUBSTR", "SUBSTR(s STRING, start INT[, len INT]) -> STRING", "same as SUBSTRING", 2, 3,
     resolve_substr, eval_substring},
    {"LEFT", "LEFT(s STRING, n INT) -> STRING",
     "the first n characters of s ('' for a negative n)", 2, 2, resolve_left, eval_left},
    {"RIGHT", "RIGHT(s STRING, n INT) -> STRING",
     "the last n characters of s ('' for a negative n)", 2, 2, resolve_right, eval_right},
    {"LOWER", "LOWER(s STRING) -> STRING", "s with ASCII letters in lower case", 1, 1,
     resolve_lower, eval_lower},
    {"UPPER", "UPPER(s STRING) -> STRING", "s with ASCII letters in upper case", 1, 1,
     resolve_upper, eval_upper},
    {"INITCAP", "INITCAP(s STRING) -> STRING",
     "s with the first letter of each word in upper case, the others in lower case", 1, 1,
     resolve_initcap, eval_initcap},
    {"TRIM", "TRIM(s STRING[, chars STRING]) -> STRING",
     "s without the leading and trailing characters found in chars (default: spaces)", 1, 2,
     resolve_trim, eval_trim_both},
    {"LTRIM", "LTRIM(s STRING[, chars STRING]) -> STRING",
     "s without the leading characters found in chars (default: spaces)", 1, 2, resolve_ltrim,
     eval_ltrim},
    {"RTRIM", "RTRIM(s STRING[, chars STRING]) -> STRING",
     "s without the trailing characters found in chars (default: spaces)", 1, 2,
     resolve_rtrim, eval_rtrim},
    {"LENGTH", "LENGTH(s STRING) -> INT", "number of characters (UTF-8) of s", 1, 1,
     resolve_length, eval_length},
    {"CHAR_LENGTH", "CHAR_LENGTH(s STRING) -> INT", "same as LENGTH", 1, 1, resolve_char_length,
     eval_length},
    {"CHARACTER_LENGTH", "CHARACTER_LENGTH(s STRING) -> INT", "same as LENGTH", 1, 1,
     resolve_character_length, eval_length},
    {"REPLACE", "REPLACE(s STRING, search STRING, replacement STRING) -> STRING",
     "s with every occurrence of search replaced", 3, 3, resolve_replace, eval_replace},
    {"POSITION", "POSITION(needle STRING, haystack STRING) -> INT",
     "1-based character position of the first needle in haystack, 0 when absent", 2, 2,
     resolve_position, eval_position},
    {"STARTS_WITH", "STARTS_WITH(s STRING, prefix STRING) -> BOOLEAN",
     "TRUE when s begins with prefix", 2, 2, resolve_starts_with, eval_starts_with},
    {"ENDS_WITH", "ENDS_WITH(s STRING, suffix STRING) -> BOOLEAN", "TRUE when s ends with suffix",
     2, 2, resolve_ends_with, eval_ends_with},
    {"SPLIT_INDEX", "SPLIT_INDEX(s STRING, delim STRING, index INT) -> STRING",
     "field number index (0-based) of s split at delim; NULL when there is none", 3, 3,
     resolve_split_index, eval_split_index},
    {"LPAD", "LPAD(s STRING, len INT, pad STRING) -> STRING",
     "s left-padded with pad (or cut) to len characters", 3, 3, resolve_lpad, eval_lpad},
    {"RPAD", "RPAD(s STRING, len INT, pad STRING) -> STRING",
     "s right-padded with pad (or cut) to len characters", 3, 3, resolve_rpad, eval_rpad},
    {"REVERSE", "REVERSE(s STRING) -> STRING", "the characters of s in reverse order", 1, 1,
     resolve_reverse, eval_reverse},
    {"REGEXP", "REGEXP(s STRING, regex STRING) -> BOOLEAN",
     "TRUE when some substring of s matches regex (POSIX ERE)", 2, 2, resolve_regexp,
     eval_regexp_match},
    {"REGEXP_EXTRACT", "REGEXP_EXTRACT(s STRING, regex STRING[, group INT]) -> STRING",
     "group (default 0: the whole match) of the first match of regex (POSIX ERE) in s", 2, 3,
     resolve_regexp_extract, eval_regexp_extract},
    {"REGEXP_REPLACE", "REGEXP_REPLACE(s STRING, regex STRING, replacement STRING) -> STRING",
     "s with every match of regex (POSIX ERE) replaced; $n in replacement inserts group n", 3,
     3, resolve_regexp_replace, eval_regexp_replace},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};
