/*
 * tz.c - time zones: a reader of TZif files (RFC 8536), POSIX TZ rules, fixed
 * offsets, a process-wide cache, and the civil calendar.
 *
 * Design choices:
 *  - A zone is reduced to what offset lookups need: the transition instants and
 *    the UTC offset that starts at each, the offset before the first transition
 *    (time type 0, as RFC 8536 says), and the POSIX TZ rule of the file's footer
 *    for instants after the last transition. Abbreviations and isdst flags are not
 *    kept. Versions 2 and later are read from their 64-bit section; version 1 files
 *    from the 32-bit one. Files with leap-second records ("right/" zones) are
 *    refused: their transition times are not Unix times.
 *  - The footer rule supports std offset alone ("<+0530>-5:30", "UTC0") and
 *    std/dst with start and end rules in all three POSIX forms (Mm.w.d, Jn, n) and
 *    the RFC 8536 extensions (negative times, hours up to 167). A footer that does
 *    not parse is ignored: the last transition's offset then holds forever.
 *  - Cache: a singly linked list of loaded zones, pushed under a mutex and
 *    published with a release store; readers walk it without locking. Zones are
 *    immutable once published and never freed (there are a few hundred names at
 *    most), so a pointer handed out stays valid for the life of the process.
 *  - Local -> UTC assumes at most one transition within 26 hours of a wall time,
 *    which holds for every zone of the database in practice.
 */
#include "sql/tz.h"

#include "core/error.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One end of a daylight-saving period in a POSIX TZ rule. */
typedef struct tz_date {
    char kind;       /* 'M' Mm.w.d, 'J' Jn (1..365, no Feb 29), 'N' n (0..365) */
    int mon, week, wday, day;
    int32_t secs;    /* local time of day of the change, default 02:00 */
} tz_date;

typedef struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    tz_date start, end;
} tz_rule;

struct sq_tz {
    struct sq_tz *next; /* cache list */
    const char *name;
    int64_t *trans;     /* ntrans transition instants, ascending */
    int32_t *offs;      /* offs[k]: offset from trans[k] on */
    size_t ntrans;
    int32_t off0;       /* offset before trans[0], or always when there is none */
    int has_rule;       /* rule applies from the last transition on */
    tz_rule rule;
};

static const sq_tz tz_utc = {.name = "UTC"};

static sq_tz *_Atomic zones;
static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;

enum { TZ_MAX_FILE = 1 << 20, TZ_MAX_OFFSET = 18 * 3600, TZ_WINDOW = 26 * 3600 };

/* ---------------------------------------------------------------- calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days are counted in 400-year eras of 146097 days starting on March 1st, so that
 * the leap day ends the year and month lengths follow the 153/5 pattern. */
int64_t sq_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sq_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = floor_div(days, 146097);
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sq_days_in_month(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

int sq_weekday(int64_t days)
{
    return (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970-01-01 was a Thursday */
}

/* ------------------------------------------------------------ POSIX rules */

/* Up to maxd decimal digits into *v; NULL when there is none. */
static const char *parse_num(const char *p, int maxd, int *v)
{
    int n = 0;
    *v = 0;
    while (n < maxd && isdigit((unsigned char)p[n])) *v = *v * 10 + (p[n++] - '0');
    return n ? p + n : NULL;
}

/* A zone abbreviation: three or more letters, or <anything> quoted. */
static const char *parse_abbr(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q ? q + 1 : NULL;
    }
    const char *q = p;
    while (isalpha((unsigned char)*q)) q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]h[h][:mm[:ss]] with hours up to maxh, in seconds. */
static const char *parse_hms(const char *p, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!(p = parse_num(p, 3, &h)) || h > maxh) return NULL;
    if (*p == ':') {
        if (!(p = parse_num(p + 1, 2, &m)) || m > 59) return NULL;
        if (*p == ':' && (!(p = parse_num(p + 1, 2, &s)) || s > 59)) return NULL;
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_date(const char *p, tz_date *d)
{
    memset(d, 0, sizeof(*d));
    d->secs = 7200;
    if (*p == 'M') {
        d->kind = 'M';
        if (!(p = parse_num(p + 1, 2, &d->mon)) || d->mon < 1 || d->mon > 12 || *p != '.')
            return NULL;
        if (!(p = parse_num(p + 1, 1, &d->week)) || d->week < 1 || d->week > 5 || *p != '.')
            return NULL;
        if (!(p = parse_num(p + 1, 1, &d->wday)) || d->wday > 6) return NULL;
    } else {
        d->kind = *p == 'J' ? 'J' : 'N';
        if (!(p = parse_num(p + (*p == 'J'), 3, &d->day)) || d->day > 365 ||
            (d->kind == 'J' && d->day < 1))
            return NULL;
    }
    if (*p == '/' && !(p = parse_hms(p + 1, 167, &d->secs))) return NULL;
    return p;
}

/* A POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3"; -1 when unsupported. */
static int parse_posix(const char *s, tz_rule *r)
{
    int32_t off;
    const char *p = parse_abbr(s);
    if (!p || !(p = parse_hms(p, 24, &off))) return -1;
    memset(r, 0, sizeof(*r));
    r->std_off = -off; /* POSIX offsets count west of Greenwich */
    if (!*p) return 0;
    if (!(p = parse_abbr(p))) return -1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off))) return -1;
        r->dst_off = -off;
    }
    if (*p != ',' || !(p = parse_date(p + 1, &r->start)) || *p != ',' ||
        !(p = parse_date(p + 1, &r->end)) || *p)
        return -1;
    r->has_dst = 1;
    return 0;
}

/* Day number (since the epoch) on which d falls in year y. */
static int64_t rule_day(const tz_date *d, int64_t y)
{
    int64_t jan1 = sq_days_from_civil(y, 1, 1);
    if (d->kind == 'J') return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60);
    if (d->kind == 'N') return jan1 + d->day;
    int64_t first = sq_days_from_civil(y, d->mon, 1);
    int64_t day = first + (d->wday - sq_weekday(first) + 7) % 7 + 7 * (d->week - 1);
    if (day >= first + sq_days_in_month(y, d->mon)) day -= 7; /* week 5: the last one */
    return day;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_off;
    int64_t y;
    int m, d;
    sq_civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
    if (start < end) return t >= start && t < end ? r->dst_off : r->std_off;
    return t >= end && t < start ? r->std_off : r->dst_off; /* southern hemisphere */
}

/* ------------------------------------------------------------------- TZif */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

enum { TZIF_HEADER = 44 };

static void read_counts(const unsigned char *h, tzif_counts *c)
{
    c->isut = be32(h + 20);
    c->isstd = be32(h + 24);
    c->leap = be32(h + 28);
    c->time = be32(h + 32);
    c->type = be32(h + 36);
    c->chars = be32(h + 40);
}

static size_t block_size(const tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * (size_t)6 + c->chars +
           c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Fills z from the TZif image buf; -1 when malformed, -2 for leap-second files. */
static int parse_tzif(const unsigned char *buf, size_t len, sq_tz *z)
{
    if (len < TZIF_HEADER || memcmp(buf, "TZif", 4) != 0) return -1;
    const unsigned char *h = buf, *end = buf + len;
    size_t tsize = 4;
    tzif_counts c;
    read_counts(h, &c);
    if (buf[4] >= '2') { /* skip the 32-bit section */
        size_t skip = TZIF_HEADER + block_size(&c, 4);
        if (skip + TZIF_HEADER > len || memcmp(buf + skip, "TZif", 4) != 0) return -1;
        h = buf + skip;
        read_counts(h, &c);
        tsize = 8;
    }
    const unsigned char *data = h + TZIF_HEADER;
    if (c.time > TZ_MAX_FILE || c.type > 256 || c.chars > TZ_MAX_FILE || c.leap > TZ_MAX_FILE ||
        c.isstd > 256 || c.isut > 256 || c.type == 0 ||
        block_size(&c, tsize) > (size_t)(end - data))
        return -1;
    if (c.leap) return -2;
    const unsigned char *idx = data + c.time * tsize, *types = idx + c.time;
    for (uint32_t k = 0; k < c.time; k++)
        if (idx[k] >= c.type) return -1;
    z->ntrans = c.time;
    z->trans = malloc((c.time ? c.time : 1) * sizeof(*z->trans));
    z->offs = malloc((c.time ? c.time : 1) * sizeof(*z->offs));
    if (!z->trans || !z->offs) return -1;
    for (uint32_t k = 0; k < c.time; k++) {
        const unsigned char *t = data + k * tsize;
        z->trans[k] = tsize == 8 ? (int64_t)((uint64_t)be32(t) << 32 | be32(t + 4))
                                 : (int64_t)(int32_t)be32(t);
        z->offs[k] = (int32_t)be32(types + 6 * idx[k]);
        if (k && z->trans[k] <= z->trans[k - 1]) return -1;
    }
    z->off0 = (int32_t)be32(types);
    const unsigned char *foot = data + block_size(&c, tsize);
    if (tsize == 8 && foot < end && *foot == '\n') {
        const unsigned char *nl = memchr(foot + 1, '\n', (size_t)(end - foot - 1));
        char tz[128];
        size_t n = nl ? (size_t)(nl - foot - 1) : 0;
        if (n && n < sizeof(tz)) {
            memcpy(tz, foot + 1, n);
            tz[n] = 0;
            z->has_rule = parse_posix(tz, &z->rule) == 0;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- loading */

static int is_utc_name(const char *s)
{
    return !strcasecmp(s, "UTC") || !strcasecmp(s, "Z") || !strcasecmp(s, "GMT");
}

/* "+02:00", "-0530", "+2", "UTC+01:00": 0 and *off, or -1. */
static int parse_fixed(const char *s, int32_t *off)
{
    if (!strncasecmp(s, "UTC", 3) || !strncasecmp(s, "GMT", 3)) s += 3;
    if (*s != '+' && *s != '-') return -1;
    int sign = *s++ == '-' ? -1 : 1, h, m = 0;
    const char *p = parse_num(s, 2, &h), *mm;
    if (!p) return -1;
    mm = p + (*p == ':');
    if (*p && (!(p = parse_num(mm, 2, &m)) || p - mm != 2 || m > 59)) return -1;
    if (*p || h * 3600 + m * 60 > TZ_MAX_OFFSET) return -1;
    *off = sign * (h * 3600 + m * 60);
    return 0;
}

/* Relative path made of [A-Za-z0-9._+-] components, none starting with a dot. */
static int valid_zone_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int start = i == 0 || s[i - 1] == '/';
        if (start && (c == '/' || c == '.')) return 0;
        if (!isalnum(c) && !strchr("._+-/", c)) return 0;
    }
    return s[n - 1] != '/';
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(TZ_MAX_FILE);
    size_t n = buf ? fread(buf, 1, TZ_MAX_FILE, f) : 0;
    int bad = ferror(f) || n == 0 || n == TZ_MAX_FILE;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void zone_free(sq_tz *z)
{
    if (!z) return;
    free((char *)z->name);
    free(z->trans);
    free(z->offs);
    free(z);
}

static int load_zone(const char *name, sq_tz **out)
{
    sq_tz *z = calloc(1, sizeof(*z));
    if (!z || !(z->name = strdup(name))) {
        free(z);
        return sp_err(SPATE_ENOMEM, "out of memory loading time zone '%s'", name);
    }
    if (parse_fixed(name, &z->off0) == 0) {
        *out = z;
        return 0;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    size_t len = 0;
    unsigned char *buf = NULL;
    if (valid_zone_path(name)) {
        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        buf = read_file(path, &len);
    }
    if (!buf) {
        zone_free(z);
        return sp_err(SPATE_ENOTFOUND,
                      "unknown time zone '%s': expected an IANA name such as 'Europe/Paris', "
                      "'UTC', or an offset such as '+02:00'",
                      name);
    }
    int rc = parse_tzif(buf, len, z);
    free(buf);
    if (rc != 0) {
        zone_free(z);
        return sp_err(SPATE_ENOTFOUND, "time zone '%s': %s", name,
                      rc == -2 ? "zones counting leap seconds are not supported"
                               : "not a valid TZif file");
    }
    *out = z;
    return 0;
}

static const sq_tz *find_loaded(const char *name)
{
    for (const sq_tz *z = atomic_load_explicit(&zones, memory_order_acquire); z; z = z->next)
        if (!strcmp(z->name, name)) return z;
    return NULL;
}

int sq_tz_get(const char *name, const sq_tz **out)
{
    if (!name || is_utc_name(name)) {
        *out = &tz_utc;
        return 0;
    }
    const sq_tz *z = find_loaded(name);
    int rc = 0;
    if (!z) {
        pthread_mutex_lock(&zones_lock);
        if (!(z = find_loaded(name))) {
            sq_tz *nz;
            rc = load_zone(name, &nz);
            if (rc == 0) {
                nz->next = atomic_load_explicit(&zones, memory_order_relaxed);
                atomic_store_explicit(&zones, nz, memory_order_release);
                z = nz;
            }
        }
        pthread_mutex_unlock(&zones_lock);
    }
    if (rc == 0) *out = z;
    return rc;
}

const char *sq_tz_name(const sq_tz *tz)
{
    return tz->name;
}

/* --------------------------------------------------------------- lookups */

int32_t sq_tz_offset_at(const sq_tz *tz, int64_t utc)
{
    size_t n = tz->ntrans;
    if (n == 0 || utc >= tz->trans[n - 1]) {
        if (tz->has_rule) return rule_offset(&tz->rule, utc);
        return n ? tz->offs[n - 1] : tz->off0;
    }
    if (utc < tz->trans[0]) return tz->off0;
    size_t lo = 0, hi = n - 1; /* trans[lo] <= utc < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= utc) lo = mid;
        else hi = mid;
    }
    return tz->offs[lo];
}

int32_t sq_tz_offset_of_local(const sq_tz *tz, int64_t local)
{
    /* The offsets a day before and after bracket the only transition that can
     * matter. The earlier one wins when it is valid (it is before the transition,
     * or both are: an overlap) and when neither is (a gap). */
    int32_t before = sq_tz_offset_at(tz, local - TZ_WINDOW);
    int32_t after = sq_tz_offset_at(tz, local + TZ_WINDOW);
    if (before == after || sq_tz_offset_at(tz, local - before) == before ||
        sq_tz_offset_at(tz, local - after) != after)
        return before;
    return after;
}
