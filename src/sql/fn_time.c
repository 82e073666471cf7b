/*
 * fn_time.c - SQL's date and time functions (sq_funcs_time).
 *
 * A TIMESTAMP is an instant (microseconds since the epoch, UTC); a DATE is a
 * STRING 'YYYY-MM-DD'. Fields (HOUR, DAYOFWEEK...), dates and formatted text are
 * wall-clock values in the session zone (sq_env.time_zone, see tz.h), so
 * HOUR(ts) in 'Europe/Paris' is the hour a clock in Paris showed.
 *
 * Design choices:
 *  - Where a TIMESTAMP is expected, a STRING holding a date or a timestamp is
 *    accepted too: 'YYYY-MM-DD', optionally followed by ' ' or 'T' and
 *    HH:MM[:SS[.fraction]], optionally followed by 'Z' or an offset (+02:00,
 *    -0530). Without an offset the text is a wall-clock time in the session zone
 *    and its fields are used as written: HOUR('2024-03-31 02:30:00') is 2 even in
 *    Paris, where that time does not exist. Converted to an instant (UNIX_TIMESTAMP,
 *    TO_TIMESTAMP...), a time in a DST gap moves forward by the gap and a repeated
 *    time takes its first occurrence (tz.h).
 *  - Format patterns are Java's DateTimeFormatter letters (Flink, Spark):
 *    yyyy yy y (year), MM M (month), MMM MMMM (Jan, January), dd d, D (day of
 *    year), HH H (0-23), hh h (1-12) with a (AM/PM), mm m, ss s, S..SSSSSSSSS
 *    (fraction of second, one letter per digit), EEE EEEE (Mon, Monday), Z
 *    (+0200), X XX XXX (Z or +02, +0200, +02:00), x xx xxx (same without Z);
 *    'quoted text' and '' for a quote; other non-letters are literals. Names are
 *    English. Another letter makes the pattern invalid: the result is NULL, like a
 *    value the pattern does not parse. Parsing is strict: a doubled letter takes
 *    exactly two digits, a single letter one or two (years: one to four), fields
 *    must be in range, and the whole text must be consumed. A parsed offset wins
 *    over the session zone. Patterns are compiled once per batch when constant.
 *  - TO_TIMESTAMP and UNIX_TIMESTAMP without a pattern, and TO_DATE without one,
 *    take the lenient text above (Flink's default 'yyyy-MM-dd HH:mm:ss' is one of
 *    its forms).
 *  - DAYOFWEEK and EXTRACT(DOW) count 1 = Sunday .. 7 = Saturday (Flink, Spark);
 *    WEEK is the ISO-8601 week number; EXTRACT(MILLISECOND|MICROSECOND) include the
 *    seconds (30.5 s -> 30500, as in Calcite and PostgreSQL); EXTRACT(EPOCH) is the
 *    instant in seconds.
 *  - TIMESTAMPDIFF and TIMESTAMPADD follow java.time: MICROSECOND, MILLISECOND,
 *    SECOND, MINUTE and HOUR are exact durations on the instant line; DAY, WEEK,
 *    MONTH, QUARTER and YEAR are calendar units on the wall clock of the session
 *    zone (adding a DAY across a DST change keeps the time of day). TIMESTAMPDIFF
 *    counts whole units of b - a, truncated toward zero; adding months clamps the
 *    day to the end of the month (Jan 31 + 1 MONTH = Feb 29 in 2024). Unit names are
 *    case-insensitive, may be plural and may carry JDBC's SQL_TSI_ prefix. An
 *    unknown unit is NULL (the binder sees only the argument's type).
 *  - Instants beyond +-2^62 us (about 146,000 years) and results that overflow are
 *    NULL. CURRENT_TIMESTAMP, NOW, LOCALTIMESTAMP, CURRENT_DATE, CURRENT_TIME,
 *    LOCALTIME and UNIX_TIMESTAMP() read the batch's clock (sq_eval_ctx.now_us): one
 *    value per batch. spate has no TIME type: CURRENT_TIME is a STRING 'HH:MM:SS',
 *    as DATE values are STRINGs.
 *  - An unknown session zone is an error of the whole evaluation (SPATE_ENOTFOUND):
 *    the binder checks SET TIME ZONE with sq_tz_get, so it only happens when that
 *    check was skipped.
 */
#include "sql/fn_util.h"
#include "sql/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (86400 * US_PER_SEC)
#define TS_LIMIT (INT64_C(1) << 62)

/* --------------------------------------------------------------- helpers */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* A wall-clock time. */
typedef struct dt {
    int64_t year;
    int month, day, hour, minute, second, usec;
} dt;

static void dt_from_local(int64_t local, dt *t)
{
    int64_t days = floor_div(local, US_PER_DAY), rem = local - days * US_PER_DAY;
    sq_civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (int)(rem / (3600 * US_PER_SEC));
    t->minute = (int)(rem / (60 * US_PER_SEC) % 60);
    t->second = (int)(rem / US_PER_SEC % 60);
    t->usec = (int)(rem % US_PER_SEC);
}

/* -1 when a field is out of range, or the year beyond +-140000 (about TS_LIMIT). */
static int dt_to_local(const dt *t, int64_t *local)
{
    if (t->month < 1 || t->month > 12 || t->day < 1 ||
        t->day > sq_days_in_month(t->year, t->month) || t->hour < 0 || t->hour > 23 ||
        t->minute < 0 || t->minute > 59 || t->second < 0 || t->second > 59 ||
        t->year < -140000 || t->year > 140000)
        return -1;
    *local = sq_days_from_civil(t->year, t->month, t->day) * US_PER_DAY +
             ((t->hour * INT64_C(60) + t->minute) * 60 + t->second) * US_PER_SEC + t->usec;
    return 0;
}

static int utc_to_local(const sq_tz *tz, int64_t utc, int64_t *local)
{
    if (utc < -TS_LIMIT || utc > TS_LIMIT) return -1;
    *local = utc + sq_tz_offset_at(tz, floor_div(utc, US_PER_SEC)) * US_PER_SEC;
    return 0;
}

static int local_to_utc(const sq_tz *tz, int64_t local, int64_t *utc)
{
    if (local < -TS_LIMIT || local > TS_LIMIT) return -1;
    *utc = local - sq_tz_offset_of_local(tz, floor_div(local, US_PER_SEC)) * US_PER_SEC;
    return 0;
}

static int session_tz(sq_eval_ctx *cx, const sq_tz **tz)
{
    return sq_tz_get(cx->env ? cx->env->time_zone : NULL, tz);
}

static int is_leap(int64_t y)
{
    return sq_days_in_month(y, 2) == 29;
}

/* ISO-8601 week number of day days (in year y). */
static int iso_week(int64_t y, int64_t days)
{
    int wd = (sq_weekday(days) + 6) % 7 + 1; /* Monday 1 .. Sunday 7 */
    int64_t doy = days - sq_days_from_civil(y, 1, 1) + 1, w = (doy - wd + 10) / 7;
    /* A year has 53 weeks when it starts on a Thursday, or on a Wednesday if leap. */
    int64_t yy = w < 1 ? y - 1 : y;
    int jan1 = sq_weekday(sq_days_from_civil(yy, 1, 1));
    int weeks = jan1 == 4 || (jan1 == 3 && is_leap(yy)) ? 53 : 52;
    if (w < 1) return weeks;
    return w > weeks ? 1 : (int)w;
}

/* ------------------------------------------------------- lenient parsing */

/* min..max decimal digits at *p into *v. */
static int read_int(const char **p, const char *end, int min, int max, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (n < max && *p + n < end && isdigit((unsigned char)(*p)[n]))
        *v = *v * 10 + ((*p)[n++] - '0');
    *p += n;
    return n >= min ? 0 : -1;
}

static int read_char(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c) return -1;
    (*p)++;
    return 0;
}

/* [+-]HH[[:]MM], or Z when allow_z. */
static int read_offset(const char **p, const char *end, int allow_z, int32_t *off)
{
    int64_t h, m = 0;
    if (allow_z && *p < end && (**p == 'Z' || **p == 'z')) {
        (*p)++;
        *off = 0;
        return 0;
    }
    if (*p >= end || (**p != '+' && **p != '-')) return -1;
    int sign = *(*p)++ == '-' ? -1 : 1;
    if (read_int(p, end, 2, 2, &h)) return -1;
    const char *q = *p;
    if (q < end && *q == ':') q++;
    if (q < end && isdigit((unsigned char)*q)) {
        if (read_int(&q, end, 2, 2, &m) || m > 59) return -1;
        *p = q;
    }
    if (h > 18) return -1;
    *off = (int32_t)(sign * (h * 3600 + m * 60));
    return 0;
}

/* Fraction digits after the point, as microseconds (digits past 6 are cut). */
static int read_fraction(const char **p, const char *end, int min, int max, int *usec)
{
    int n = 0, us = 0;
    for (; n < max && *p + n < end && isdigit((unsigned char)(*p)[n]); n++)
        if (n < 6) us = us * 10 + ((*p)[n] - '0');
    if (n < min) return -1;
    for (int k = n; k < 6; k++) us *= 10;
    *p += n;
    *usec = us;
    return 0;
}

/* 'YYYY-MM-DD[( |T)HH:MM[:SS[.f]][Z|+HH:MM]]' with optional spaces around: the
 * wall time *local and, when the text has one, the offset *off (*has_off = 1). */
static int parse_text(spate_str s, int64_t *local, int *has_off, int32_t *off)
{
    const char *p = s.ptr, *end = s.ptr + s.len;
    while (p < end && *p == ' ') p++;
    while (end > p && end[-1] == ' ') end--;
    dt t = {0};
    int64_t v, mo, d;
    if (read_int(&p, end, 4, 4, &t.year) || read_char(&p, end, '-') ||
        read_int(&p, end, 1, 2, &mo) || read_char(&p, end, '-') || read_int(&p, end, 1, 2, &d))
        return -1;
    t.month = (int)mo;
    t.day = (int)d;
    *has_off = 0;
    if (p < end && (*p == ' ' || *p == 'T')) {
        p++;
        if (read_int(&p, end, 1, 2, &v) || read_char(&p, end, ':')) return -1;
        t.hour = (int)v;
        if (read_int(&p, end, 1, 2, &v)) return -1;
        t.minute = (int)v;
        if (read_char(&p, end, ':') == 0) {
            if (read_int(&p, end, 1, 2, &v)) return -1;
            t.second = (int)v;
            if (read_char(&p, end, '.') == 0 && read_fraction(&p, end, 1, 9, &t.usec)) return -1;
        }
        if (p < end) {
            if (read_offset(&p, end, 1, off)) return -1;
            *has_off = 1;
        }
    }
    return p == end ? dt_to_local(&t, local) : -1;
}

/* ------------------------------------------------------------- patterns */

enum { FMT_MAX_TOKENS = 64, FMT_MAX_PATTERN = 256, FMT_MAX_OUT = FMT_MAX_PATTERN + 24 * 64 };

typedef struct ftok {
    char letter; /* 0 for literal text */
    uint8_t count;
    uint16_t len;    /* literal */
    const char *lit; /* literal, in the pattern's memory */
} ftok;

typedef struct fmt {
    ftok tok[FMT_MAX_TOKENS];
    int n;
} fmt;

static const char *const month_names[12] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};
static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

/* Longest run of each supported letter. */
static int letter_max(char c)
{
    switch (c) {
    case 'y':
    case 'M':
    case 'E': return 4;
    case 'd':
    case 'H':
    case 'h':
    case 'm':
    case 's': return 2;
    case 'D':
    case 'Z':
    case 'X':
    case 'x': return 3;
    case 'S': return 9;
    case 'a': return 1;
    default: return 0;
    }
}

static int add_literal(fmt *f, const char *p, size_t len)
{
    if (f->n == FMT_MAX_TOKENS) return -1;
    f->tok[f->n++] = (ftok){.lit = p, .len = (uint16_t)len};
    return 0;
}

static int fmt_compile(spate_str pat, fmt *f)
{
    const char *p = pat.ptr, *end = p + pat.len;
    int quoted = 0;
    f->n = 0;
    if (pat.len > FMT_MAX_PATTERN) return -1;
    while (p < end) {
        if (*p == '\'') { /* '' is a quote, inside or outside quoted text */
            if (p + 1 < end && p[1] == '\'') {
                if (add_literal(f, p, 1)) return -1;
                p += 2;
            } else {
                quoted = !quoted;
                p++;
            }
            continue;
        }
        const char *q = p + 1;
        if (!quoted && isalpha((unsigned char)*p)) {
            while (q < end && *q == *p) q++;
            if (q - p > letter_max(*p) || f->n == FMT_MAX_TOKENS) return -1;
            f->tok[f->n++] = (ftok){.letter = *p, .count = (uint8_t)(q - p)};
        } else {
            while (q < end && *q != '\'' && (quoted || !isalpha((unsigned char)*q))) q++;
            if (add_literal(f, p, (size_t)(q - p))) return -1;
        }
        p = q;
    }
    return quoted ? -1 : 0;
}

/* A pattern argument, compiled once when it is constant. */
typedef struct fmt_arg {
    fmt f;
    int state; /* 0 not compiled yet, 1 valid, -1 invalid */
} fmt_arg;

static const fmt *row_fmt(const sq_vec *a, size_t i, fmt_arg *c)
{
    if (!a->is_const || !c->state) c->state = fmt_compile(fn_str(a, i), &c->f) ? -1 : 1;
    return c->state > 0 ? &c->f : NULL;
}

static const spate_str default_fmt = {"yyyy-MM-dd HH:mm:ss", 19};

static size_t put_num(char *o, int64_t v, int width)
{
    return (size_t)sprintf(o, "%0*lld", width, (long long)v);
}

static size_t put_offset(char *o, int32_t off, char letter, int count)
{
    if (off == 0 && letter == 'X') return (size_t)sprintf(o, "Z");
    int a = off < 0 ? -off : off, h = a / 3600, m = a / 60 % 60;
    char sign = off < 0 ? '-' : '+';
    if (letter != 'Z' && count == 1 && m == 0) return (size_t)sprintf(o, "%c%02d", sign, h);
    if (letter != 'Z' && count == 3) return (size_t)sprintf(o, "%c%02d:%02d", sign, h, m);
    return (size_t)sprintf(o, "%c%02d%02d", sign, h, m);
}

/* Formats wall time local (at UTC offset off) with f into o (FMT_MAX_OUT bytes). */
static size_t fmt_format(const fmt *f, int64_t local, int32_t off, char *o)
{
    dt t;
    dt_from_local(local, &t);
    int64_t days = floor_div(local, US_PER_DAY);
    size_t n = 0;
    for (int k = 0; k < f->n; k++) {
        const ftok *tk = &f->tok[k];
        int c = tk->count;
        switch (tk->letter) {
        case 0:
            memcpy(o + n, tk->lit, tk->len);
            n += tk->len;
            break;
        case 'y':
            n += c == 2 ? put_num(o + n, t.year - floor_div(t.year, 100) * 100, 2)
                        : put_num(o + n, t.year, c);
            break;
        case 'M':
            if (c >= 3) n += (size_t)sprintf(o + n, "%.*s", c == 3 ? 3 : 9,
                                             month_names[t.month - 1]);
            else n += put_num(o + n, t.month, c);
            break;
        case 'd': n += put_num(o + n, t.day, c); break;
        case 'D': n += put_num(o + n, days - sq_days_from_civil(t.year, 1, 1) + 1, c); break;
        case 'H': n += put_num(o + n, t.hour, c); break;
        case 'h': n += put_num(o + n, t.hour % 12 ? t.hour % 12 : 12, c); break;
        case 'm': n += put_num(o + n, t.minute, c); break;
        case 's': n += put_num(o + n, t.second, c); break;
        case 'S': {
            int64_t v = t.usec;
            for (int d = c; d < 6; d++) v /= 10;
            for (int d = 6; d < c; d++) v *= 10;
            n += put_num(o + n, v, c);
            break;
        }
        case 'a': n += (size_t)sprintf(o + n, "%s", t.hour < 12 ? "AM" : "PM"); break;
        case 'E':
            n += (size_t)sprintf(o + n, "%.*s", c == 4 ? 9 : 3, day_names[sq_weekday(days)]);
            break;
        default: n += put_offset(o + n, off, tk->letter, c); break;
        }
    }
    return n;
}

/* The index of the name of names[0..n) at *p (its first 3 letters when !full). */
static int read_name(const char **p, const char *end, const char *const *names, int n, int full)
{
    for (int k = 0; k < n; k++) {
        size_t len = full ? strlen(names[k]) : 3;
        if ((size_t)(end - *p) >= len && strncasecmp(*p, names[k], len) == 0) {
            *p += len;
            return k;
        }
    }
    return -1;
}

/* Parses s with f: the wall time *local and, when f has an offset, *off. */
static int fmt_parse(const fmt *f, spate_str s, int64_t *local, int *has_off, int32_t *off)
{
    const char *p = s.ptr, *end = s.ptr + s.len;
    dt t = {.year = 1970, .month = 1, .day = 1};
    int64_t v, doy = -1;
    int h12 = -1, pm = 0;
    *has_off = 0;
    for (int k = 0; k < f->n; k++) {
        const ftok *tk = &f->tok[k];
        int c = tk->count, min = c == 1 ? 1 : c, max = c == 1 ? 2 : c, rc = 0;
        switch (tk->letter) {
        case 0:
            rc = (size_t)(end - p) < tk->len || memcmp(p, tk->lit, tk->len) ? -1 : 0;
            p += rc ? 0 : tk->len;
            break;
        case 'y':
            rc = read_int(&p, end, min, c == 2 ? 2 : 4, &t.year);
            if (c == 2) t.year += 2000;
            break;
        case 'M':
            if (c >= 3) t.month = read_name(&p, end, month_names, 12, c == 4) + 1;
            else t.month = read_int(&p, end, min, max, &v) ? 0 : (int)v;
            rc = t.month ? 0 : -1;
            break;
        case 'd':
            if (!(rc = read_int(&p, end, min, max, &v))) t.day = (int)v;
            break;
        case 'D': rc = read_int(&p, end, min, 3, &doy); break;
        case 'H':
            if (!(rc = read_int(&p, end, min, max, &v))) t.hour = (int)v;
            break;
        case 'h':
            rc = read_int(&p, end, min, max, &v) || v < 1 || v > 12 ? -1 : 0;
            h12 = (int)v;
            break;
        case 'm':
            if (!(rc = read_int(&p, end, min, max, &v))) t.minute = (int)v;
            break;
        case 's':
            if (!(rc = read_int(&p, end, min, max, &v))) t.second = (int)v;
            break;
        case 'S': rc = read_fraction(&p, end, c, c, &t.usec); break;
        case 'a': {
            static const char *const ampm[2] = {"AM", "PM"};
            rc = (pm = read_name(&p, end, ampm, 2, 1)) < 0 ? -1 : 0;
            break;
        }
        case 'E': rc = read_name(&p, end, day_names, 7, c == 4) < 0 ? -1 : 0; break;
        default:
            rc = read_offset(&p, end, tk->letter == 'X', off);
            *has_off = 1;
            break;
        }
        if (rc) return -1;
    }
    if (p != end) return -1;
    if (h12 >= 0) t.hour = h12 % 12 + (pm ? 12 : 0);
    if (doy >= 0) {
        if (doy < 1 || doy > 365 + is_leap(t.year)) return -1;
        sq_civil_from_days(sq_days_from_civil(t.year, 1, 1) + doy - 1, &t.year, &t.month, &t.day);
    }
    return dt_to_local(&t, local);
}

/* ------------------------------------------------------------- arguments */

/* Row i of a TIMESTAMP or date/time STRING: its instant *utc and wall time *local
 * in tz; -1 when the text does not parse or the value is out of range. */
static int arg_time(const sq_tz *tz, const sq_vec *a, size_t i, int64_t *utc, int64_t *local)
{
    if (a->type != SPATE_STRING) {
        *utc = fn_int(a, i);
        return utc_to_local(tz, *utc, local);
    }
    int has_off;
    int32_t off;
    if (parse_text(fn_str(a, i), local, &has_off, &off)) return -1;
    if (!has_off) return local_to_utc(tz, *local, utc);
    *utc = *local - off * US_PER_SEC;
    return utc_to_local(tz, *utc, local);
}

/* Text s parsed with pattern f (NULL: the lenient default) into an instant. */
static int parse_instant(const sq_tz *tz, spate_str s, const fmt *f, int64_t *utc)
{
    int64_t local;
    int has_off;
    int32_t off;
    if (f ? fmt_parse(f, s, &local, &has_off, &off) : parse_text(s, &local, &has_off, &off))
        return -1;
    if (!has_off) return local_to_utc(tz, local, utc);
    *utc = local - off * US_PER_SEC;
    return *utc < -TS_LIMIT || *utc > TS_LIMIT ? -1 : 0;
}

static void set_i64(sq_vec *out, size_t i, int64_t v)
{
    out->nulls[i] = 0;
    out->v.i64[i] = v;
}

/* Row i of out: the date 'YYYY-MM-DD' of wall time local. */
static int set_date(sq_eval_ctx *cx, sq_vec *out, size_t i, int64_t local)
{
    dt t;
    char buf[32];
    dt_from_local(local, &t);
    int n = snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", (long long)t.year, t.month, t.day);
    return sq_fn_set_str(cx, out, i, buf, (size_t)n);
}

/* ----------------------------------------------------------------- units */

typedef enum unit {
    U_MICROSECOND,
    U_MILLISECOND,
    U_SECOND,
    U_MINUTE,
    U_HOUR,
    U_DAY,
    U_WEEK,
    U_MONTH,
    U_QUARTER,
    U_YEAR,
    U_DOW, /* EXTRACT only, from here on */
    U_DOY,
    U_EPOCH
} unit;

static const struct {
    const char *name;
    unit u;
} unit_names[] = {
    {"MICROSECOND", U_MICROSECOND}, {"MILLISECOND", U_MILLISECOND}, {"SECOND", U_SECOND},
    {"MINUTE", U_MINUTE},           {"HOUR", U_HOUR},               {"DAY", U_DAY},
    {"DAYOFMONTH", U_DAY},          {"WEEK", U_WEEK},               {"MONTH", U_MONTH},
    {"QUARTER", U_QUARTER},         {"YEAR", U_YEAR},               {"DOW", U_DOW},
    {"DAYOFWEEK", U_DOW},           {"DOY", U_DOY},                 {"DAYOFYEAR", U_DOY},
    {"EPOCH", U_EPOCH},
};

static const int64_t unit_us[] = {1, 1000, US_PER_SEC, 60 * US_PER_SEC, 3600 * US_PER_SEC,
                                  US_PER_DAY, 7 * US_PER_DAY};

/* The unit named s (any case, plural, SQL_TSI_ prefix), -1 when unknown or when
 * beyond last. */
static int parse_unit(spate_str s, unit last)
{
    const char *p = s.ptr;
    size_t n = s.len;
    if (n > 8 && strncasecmp(p, "SQL_TSI_", 8) == 0) p += 8, n -= 8;
    if (n > 1 && (p[n - 1] == 'S' || p[n - 1] == 's')) n--;
    for (size_t k = 0; k < sizeof(unit_names) / sizeof(unit_names[0]); k++)
        if (strlen(unit_names[k].name) == n && strncasecmp(p, unit_names[k].name, n) == 0)
            return unit_names[k].u <= last ? (int)unit_names[k].u : -1;
    return -1;
}

/* Field u of an instant: wall time local, instant utc. */
static int64_t field(unit u, int64_t local, int64_t utc)
{
    dt t;
    dt_from_local(local, &t);
    int64_t days = floor_div(local, US_PER_DAY);
    switch (u) {
    case U_MICROSECOND: return t.second * US_PER_SEC + t.usec;
    case U_MILLISECOND: return t.second * 1000 + t.usec / 1000;
    case U_SECOND: return t.second;
    case U_MINUTE: return t.minute;
    case U_HOUR: return t.hour;
    case U_DAY: return t.day;
    case U_WEEK: return iso_week(t.year, days);
    case U_MONTH: return t.month;
    case U_QUARTER: return (t.month - 1) / 3 + 1;
    case U_YEAR: return t.year;
    case U_DOW: return sq_weekday(days) + 1;
    case U_DOY: return days - sq_days_from_civil(t.year, 1, 1) + 1;
    default: return floor_div(utc, US_PER_SEC);
    }
}

/* ------------------------------------------------------------ the clock */

static int eval_now(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) set_i64(out, i, cx->now_us);
    return 0;
}

/* CURRENT_DATE (date = 1) and CURRENT_TIME: the clock's wall time as text. */
static int eval_clock_text(sq_eval_ctx *cx, sq_vec *out, int date)
{
    const sq_tz *tz;
    int64_t local;
    int rc = session_tz(cx, &tz);
    if (rc) return rc;
    if (utc_to_local(tz, cx->now_us, &local)) {
        for (size_t i = 0; i < out->n; i++) sq_fn_set_null(out, i);
        return 0;
    }
    if (out->n && date && set_date(cx, out, 0, local)) return SPATE_ENOMEM;
    if (out->n && !date) {
        dt t;
        char buf[16];
        dt_from_local(local, &t);
        int n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d", t.hour, t.minute, t.second);
        if (sq_fn_set_str(cx, out, 0, buf, (size_t)n)) return SPATE_ENOMEM;
    }
    for (size_t i = 1; i < out->n; i++) { /* one string shared by the rows */
        out->nulls[i] = 0;
        out->v.s[i] = out->v.s[0];
    }
    return 0;
}

static int eval_current_date(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_clock_text(cx, out, 1);
}

static int eval_current_time(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_clock_text(cx, out, 0);
}

/* -------------------------------------------------------------- parsing */

/* TO_TIMESTAMP (date = 0) and TO_DATE. */
static int eval_parse(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out, int date)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    fmt_arg fa = {.state = 0};
    for (size_t i = 0; i < out->n && !rc; i++) {
        const fmt *f = NULL;
        int64_t utc, local;
        int has_off;
        int32_t off;
        if (fn_any_null(args, nargs, i) || (nargs > 1 && !(f = row_fmt(&args[1], i, &fa)))) {
            sq_fn_set_null(out, i);
        } else if (date) { /* the date as written, whatever offset the text has */
            spate_str s = fn_str(&args[0], i);
            if (f ? fmt_parse(f, s, &local, &has_off, &off)
                  : parse_text(s, &local, &has_off, &off))
                sq_fn_set_null(out, i);
            else rc = set_date(cx, out, i, local);
        } else if (parse_instant(tz, fn_str(&args[0], i), f, &utc)) {
            sq_fn_set_null(out, i);
        } else {
            set_i64(out, i, utc);
        }
    }
    return rc;
}

static int eval_to_timestamp(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_parse(cx, args, nargs, out, 0);
}

static int eval_to_date(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_parse(cx, args, nargs, out, 1);
}

static int eval_unix_timestamp(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    fmt_arg fa = {.state = 0};
    for (size_t i = 0; i < out->n && !rc; i++) {
        int64_t utc = cx->now_us, local;
        const fmt *f = NULL;
        int bad = fn_any_null(args, nargs, i);
        if (!bad && nargs == 2 && args[0].type == SPATE_STRING)
            bad = !(f = row_fmt(&args[1], i, &fa)) ||
                  parse_instant(tz, fn_str(&args[0], i), f, &utc);
        else if (!bad && nargs > 0)
            bad = arg_time(tz, &args[0], i, &utc, &local);
        if (bad) sq_fn_set_null(out, i);
        else set_i64(out, i, floor_div(utc, US_PER_SEC));
    }
    return rc;
}

static int eval_to_timestamp_ltz(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    for (size_t i = 0; i < out->n; i++) {
        int64_t p = nargs > 1 && !fn_null(&args[1], i) ? fn_int(&args[1], i) : 3, v = 0;
        int64_t scale = p == 0 ? US_PER_SEC : p == 3 ? 1000 : p == 6 ? 1 : 0;
        int bad = fn_any_null(args, nargs, i) || !scale;
        if (!bad && args[0].type == SPATE_FLOAT64) {
            double d = fn_dbl(&args[0], i) * (double)scale;
            bad = !(d > -(double)TS_LIMIT && d < (double)TS_LIMIT);
            v = bad ? 0 : (int64_t)(d < 0 ? d - 0.5 : d + 0.5);
        } else if (!bad) {
            bad = __builtin_mul_overflow(fn_int(&args[0], i), scale, &v) || v < -TS_LIMIT ||
                  v > TS_LIMIT;
        }
        if (bad) sq_fn_set_null(out, i);
        else set_i64(out, i, v);
    }
    return 0;
}

/* ----------------------------------------------------------- formatting */

/* DATE_FORMAT(t, fmt) and FROM_UNIXTIME(seconds[, fmt]) (from_unix = 1). */
static int eval_format(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out,
                       int from_unix)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    fmt_arg fa = {.state = 0};
    fmt def;
    if (nargs == 1) fmt_compile(default_fmt, &def);
    for (size_t i = 0; i < out->n && !rc; i++) {
        const fmt *f = &def;
        int64_t utc, local;
        int bad = fn_any_null(args, nargs, i) || (nargs > 1 && !(f = row_fmt(&args[1], i, &fa)));
        if (!bad && from_unix)
            bad = __builtin_mul_overflow(fn_int(&args[0], i), US_PER_SEC, &utc) ||
                  utc_to_local(tz, utc, &local);
        else if (!bad)
            bad = arg_time(tz, &args[0], i, &utc, &local);
        if (bad) {
            sq_fn_set_null(out, i);
            continue;
        }
        char buf[FMT_MAX_OUT];
        int32_t off = (int32_t)((local - utc) / US_PER_SEC);
        rc = sq_fn_set_str(cx, out, i, buf, fmt_format(f, local, off, buf));
    }
    return rc;
}

static int eval_date_format(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_format(cx, args, nargs, out, 0);
}

static int eval_from_unixtime(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_format(cx, args, nargs, out, 1);
}

/* ---------------------------------------------------------------- fields */

/* u < 0: the unit is args[0] (EXTRACT), the time args[1]. */
static int eval_field(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out, int u)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    const sq_vec *t = &args[nargs - 1];
    for (size_t i = 0; i < out->n && !rc; i++) {
        int64_t utc, local;
        int ru = u >= 0 || fn_null(&args[0], i) ? u : parse_unit(fn_str(&args[0], i), U_EPOCH);
        if (fn_any_null(args, nargs, i) || ru < 0 || arg_time(tz, t, i, &utc, &local))
            sq_fn_set_null(out, i);
        else set_i64(out, i, field((unit)ru, local, utc));
    }
    return rc;
}

#define FIELD(fn, u)                                                         \
    static int fn(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out) \
    {                                                                        \
        return eval_field(cx, args, nargs, out, u);                          \
    }

FIELD(eval_year, U_YEAR)
FIELD(eval_quarter, U_QUARTER)
FIELD(eval_month, U_MONTH)
FIELD(eval_week, U_WEEK)
FIELD(eval_dayofmonth, U_DAY)
FIELD(eval_dayofweek, U_DOW)
FIELD(eval_dayofyear, U_DOY)
FIELD(eval_hour, U_HOUR)
FIELD(eval_minute, U_MINUTE)
FIELD(eval_second, U_SECOND)
FIELD(eval_extract, -1)

/* ------------------------------------------------------------ arithmetic */

/* DATE_ADD (sign 1) and DATE_SUB (-1): the date days after (before) t's. */
static int eval_date_shift(sq_eval_ctx *cx, const sq_vec *args, sq_vec *out, int sign)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    for (size_t i = 0; i < out->n && !rc; i++) {
        int64_t utc, local, n = fn_any_null(args, 2, i) ? 0 : fn_int(&args[1], i);
        /* |n| days <= TS_LIMIT / 2 us keeps local + n days within int64. */
        if (fn_any_null(args, 2, i) || arg_time(tz, &args[0], i, &utc, &local) ||
            n < -TS_LIMIT / 2 / US_PER_DAY || n > TS_LIMIT / 2 / US_PER_DAY)
            sq_fn_set_null(out, i);
        else rc = set_date(cx, out, i, local + sign * n * US_PER_DAY);
    }
    return rc;
}

static int eval_date_add(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_date_shift(cx, args, out, 1);
}

static int eval_date_sub(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    return eval_date_shift(cx, args, out, -1);
}

/* Wall time local plus n months, the day clamped to the month's length. */
static int add_months(int64_t local, int64_t n, int64_t *res)
{
    dt t;
    dt_from_local(local, &t);
    if (n < -2000000 || n > 2000000) return -1;
    int64_t m = t.year * 12 + (t.month - 1) + n;
    t.year = floor_div(m, 12);
    t.month = (int)(m - t.year * 12) + 1;
    int dim = t.year < -140000 || t.year > 140000 ? 31 : sq_days_in_month(t.year, t.month);
    if (t.day > dim) t.day = dim;
    return dt_to_local(&t, res);
}

static int64_t month_count(unit u)
{
    return u == U_YEAR ? 12 : u == U_QUARTER ? 3 : 1;
}

static int eval_timestampadd(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    for (size_t i = 0; i < out->n && !rc; i++) {
        if (fn_any_null(args, 3, i)) {
            sq_fn_set_null(out, i);
            continue;
        }
        int u = parse_unit(fn_str(&args[0], i), U_YEAR);
        int64_t utc, local, d, res = 0, n = fn_int(&args[1], i);
        int bad = u < 0 || arg_time(tz, &args[2], i, &utc, &local);
        if (!bad && u <= U_HOUR) /* a duration */
            bad = __builtin_mul_overflow(n, unit_us[u], &d) ||
                  __builtin_add_overflow(utc, d, &res) || res < -TS_LIMIT || res > TS_LIMIT;
        else if (!bad && u <= U_WEEK) /* days on the wall clock */
            bad = __builtin_mul_overflow(n, unit_us[u], &d) ||
                  __builtin_add_overflow(local, d, &res) || local_to_utc(tz, res, &res);
        else if (!bad)
            bad = __builtin_mul_overflow(n, month_count((unit)u), &d) ||
                  add_months(local, d, &res) || local_to_utc(tz, res, &res);
        if (bad) sq_fn_set_null(out, i);
        else set_i64(out, i, res);
    }
    return rc;
}

static int eval_timestampdiff(sq_eval_ctx *cx, const sq_vec *args, int nargs, sq_vec *out)
{
    const sq_tz *tz;
    int rc = session_tz(cx, &tz);
    for (size_t i = 0; i < out->n && !rc; i++) {
        int u = fn_null(&args[0], i) ? -1 : parse_unit(fn_str(&args[0], i), U_YEAR);
        int64_t ua, la, ub, lb, res;
        if (fn_any_null(args, 3, i) || u < 0 || arg_time(tz, &args[1], i, &ua, &la) ||
            arg_time(tz, &args[2], i, &ub, &lb)) {
            sq_fn_set_null(out, i);
            continue;
        }
        if (u <= U_HOUR) res = (ub - ua) / unit_us[u];
        else if (u <= U_WEEK) res = (lb - la) / unit_us[u];
        else {
            /* Whole months: the month difference, less one when b's day and time
             * of month fall short of a's. */
            dt ta, tb;
            dt_from_local(la, &ta);
            dt_from_local(lb, &tb);
            int64_t months = (tb.year - ta.year) * 12 + (tb.month - ta.month);
            int64_t ra = la - sq_days_from_civil(ta.year, ta.month, 1) * US_PER_DAY;
            int64_t rb = lb - sq_days_from_civil(tb.year, tb.month, 1) * US_PER_DAY;
            if (months > 0 && rb < ra) months--;
            else if (months < 0 && rb > ra) months++;
            res = months / month_count((unit)u);
        }
        set_i64(out, i, res);
    }
    return rc;
}

/* ---------------------------------------------------------------- table */

static int resolve_ltz(const spate_type *args, int nargs, spate_type *want, spate_type *result,
                       char *why, size_t why_len)
{
    *result = SPATE_TIMESTAMP;
    int rc = sq_fn_check("TO_TIMESTAMP_LTZ", "n[i", args, nargs, want, why, why_len);
    if (rc == 0 && args[0] != SPATE_FLOAT64) want[0] = SPATE_INT64; /* exact integers */
    return rc;
}

SQ_FN_RESOLVE(resolve_current_timestamp, "CURRENT_TIMESTAMP", "", SPATE_TIMESTAMP)
SQ_FN_RESOLVE(resolve_now, "NOW", "", SPATE_TIMESTAMP)
SQ_FN_RESOLVE(resolve_localtimestamp, "LOCALTIMESTAMP", "", SPATE_TIMESTAMP)
SQ_FN_RESOLVE(resolve_current_date, "CURRENT_DATE", "", SPATE_STRING)
SQ_FN_RESOLVE(resolve_current_time, "CURRENT_TIME", "", SPATE_STRING)
SQ_FN_RESOLVE(resolve_localtime, "LOCALTIME", "", SPATE_STRING)
SQ_FN_RESOLVE(resolve_to_date, "TO_DATE", "s[s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_to_timestamp, "TO_TIMESTAMP", "s[s", SPATE_TIMESTAMP)
SQ_FN_RESOLVE(resolve_date_add, "DATE_ADD", "ti", SPATE_STRING)
SQ_FN_RESOLVE(resolve_date_sub, "DATE_SUB", "ti", SPATE_STRING)
SQ_FN_RESOLVE(resolve_year, "YEAR", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_quarter, "QUARTER", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_month, "MONTH", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_week, "WEEK", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_dayofmonth, "DAYOFMONTH", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_dayofweek, "DAYOFWEEK", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_dayofyear, "DAYOFYEAR", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_hour, "HOUR", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_minute, "MINUTE", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_second, "SECOND", "t", SPATE_INT64)
SQ_FN_RESOLVE(resolve_extract, "EXTRACT", "st", SPATE_INT64)
SQ_FN_RESOLVE(resolve_date_format, "DATE_FORMAT", "ts", SPATE_STRING)
SQ_FN_RESOLVE(resolve_unix_timestamp, "UNIX_TIMESTAMP", "[t[s", SPATE_INT64)
SQ_FN_RESOLVE(resolve_from_unixtime, "FROM_UNIXTIME", "i[s", SPATE_STRING)
SQ_FN_RESOLVE(resolve_timestampdiff, "TIMESTAMPDIFF", "stt", SPATE_INT64)
SQ_FN_RESOLVE(resolve_timestampadd, "TIMESTAMPADD", "sit", SPATE_TIMESTAMP)

const sq_func sq_funcs_time[] = {
    {"CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP() -> TIMESTAMP",
     "the current time (one value per batch)", 0, 0, resolve_current_timestamp, eval_now},
    {"NOW", "NOW() -> TIMESTAMP", "same as CURRENT_TIMESTAMP", 0, 0, resolve_now, eval_now},
    {"LOCALTIMESTAMP", "LOCALTIMESTAMP() -> TIMESTAMP", "same as CURRENT_TIMESTAMP", 0, 0,
     resolve_localtimestamp, eval_now},
    {"CURRENT_DATE", "CURRENT_DATE() -> DATE", "today's date in the session time zone", 0, 0,
     resolve_current_date, eval_current_date},
    {"CURRENT_TIME", "CURRENT_TIME() -> STRING",
     "the time of day 'HH:MM:SS' in the session time zone", 0, 0, resolve_current_time,
     eval_current_time},
    {"LOCALTIME", "LOCALTIME() -> STRING", "same as CURRENT_TIME", 0, 0, resolve_localtime,
     eval_current_time},
    {"TO_DATE", "TO_DATE(s STRING[, fmt STRING]) -> DATE",
     "the date of text s, read with Java pattern fmt (default yyyy-MM-dd); NULL if it does "
     "not parse",
     1, 2, resolve_to_date, eval_to_date},
    {"TO_TIMESTAMP", "TO_TIMESTAMP(s STRING[, fmt STRING]) -> TIMESTAMP",
     "text s read with Java pattern fmt (default yyyy-MM-dd HH:mm:ss) in the session time zone",
     1, 2, resolve_to_timestamp, eval_to_timestamp},
    {"TO_TIMESTAMP_LTZ", "TO_TIMESTAMP_LTZ(epoch NUMBER[, precision INT]) -> TIMESTAMP",
     "the instant epoch seconds (precision 0), milliseconds (3, the default) or microseconds "
     "(6) after 1970-01-01 UTC",
     1, 2, resolve_ltz, eval_to_timestamp_ltz},
    {"DATE_ADD", "DATE_ADD(t TIMESTAMP|DATE, days INT) -> DATE",
     "the date days after the date of t", 2, 2, resolve_date_add, eval_date_add},
    {"DATE_SUB", "DATE_SUB(t TIMESTAMP|DATE, days INT) -> DATE",
     "the date days before the date of t", 2, 2, resolve_date_sub, eval_date_sub},
    {"YEAR", "YEAR(t TIMESTAMP|DATE) -> BIGINT", "the year of t", 1, 1, resolve_year,
     eval_year},
    {"QUARTER", "QUARTER(t TIMESTAMP|DATE) -> BIGINT", "the quarter (1-4) of t", 1, 1,
     resolve_quarter, eval_quarter},
    {"MONTH", "MONTH(t TIMESTAMP|DATE) -> BIGINT", "the month (1-12) of t", 1, 1,
     resolve_month, eval_month},
    {"WEEK", "WEEK(t TIMESTAMP|DATE) -> BIGINT", "the ISO-8601 week number (1-53) of t", 1, 1,
     resolve_week, eval_week},
    {"DAYOFMONTH", "DAYOFMONTH(t TIMESTAMP|DATE) -> BIGINT", "the day of month (1-31) of t", 1,
     1, resolve_dayofmonth, eval_dayofmonth},
    {"DAYOFWEEK", "DAYOFWEEK(t TIMESTAMP|DATE) -> BIGINT",
     "the day of week of t: 1 = Sunday .. 7 = Saturday", 1, 1, resolve_dayofweek,
     eval_dayofweek},
    {"DAYOFYEAR", "DAYOFYEAR(t TIMESTAMP|DATE) -> BIGINT", "the day of year (1-366) of t", 1,
     1, resolve_dayofyear, eval_dayofyear},
    {"HOUR", "HOUR(t TIMESTAMP) -> BIGINT", "the hour (0-23) of t", 1, 1, resolve_hour,
     eval_hour},
    {"MINUTE", "MINUTE(t TIMESTAMP) -> BIGINT", "the minute (0-59) of t", 1, 1, resolve_minute,
     eval_minute},
    {"SECOND", "SECOND(t TIMESTAMP) -> BIGINT", "the second (0-59) of t", 1, 1, resolve_second,
     eval_second},
    {"EXTRACT", "EXTRACT(unit STRING, t TIMESTAMP) -> BIGINT",
     "field unit of t: YEAR QUARTER MONTH WEEK DAY HOUR MINUTE SECOND MILLISECOND MICROSECOND "
     "DOW DOY EPOCH",
     2, 2, resolve_extract, eval_extract},
    {"DATE_FORMAT", "DATE_FORMAT(t TIMESTAMP, fmt STRING) -> STRING",
     "t as text in the session time zone, with Java pattern fmt (yyyy-MM-dd HH:mm:ss...)", 2,
     2, resolve_date_format, eval_date_format},
    {"UNIX_TIMESTAMP", "UNIX_TIMESTAMP([t TIMESTAMP|STRING[, fmt STRING]]) -> BIGINT",
     "seconds since 1970-01-01 UTC of t (text read with fmt), or of now", 0, 2,
     resolve_unix_timestamp, eval_unix_timestamp},
    {"FROM_UNIXTIME", "FROM_UNIXTIME(seconds BIGINT[, fmt STRING]) -> STRING",
     "the instant seconds after the epoch as text in the session time zone (default "
     "yyyy-MM-dd HH:mm:ss)",
     1, 2, resolve_from_unixtime, eval_from_unixtime},
    {"TIMESTAMPDIFF", "TIMESTAMPDIFF(unit STRING, a TIMESTAMP, b TIMESTAMP) -> BIGINT",
     "whole units (SECOND MINUTE HOUR DAY WEEK MONTH QUARTER YEAR...) from a to b", 3, 3,
     resolve_timestampdiff, eval_timestampdiff},
    {"TIMESTAMPADD", "TIMESTAMPADD(unit STRING, n INT, t TIMESTAMP) -> TIMESTAMP",
     "t plus n units (SECOND MINUTE HOUR DAY WEEK MONTH QUARTER YEAR...)", 3, 3,
     resolve_timestampadd, eval_timestampadd},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};
