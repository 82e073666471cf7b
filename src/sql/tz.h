/*
 * tz.h - time zones of SQL sessions and the civil calendar.
 *
 * A session zone (SET TIME ZONE, sq_env.time_zone) is an IANA name read from the
 * system's TZif database, UTC, or a fixed offset. TIMESTAMP values are instants
 * (microseconds since the epoch, UTC); the functions of fn_time.c convert them to
 * and from wall-clock time in the session zone with the two lookups below, never
 * through setenv("TZ")/localtime, which are process-global.
 */
#ifndef SP_SQL_TZ_H
#define SP_SQL_TZ_H

#include <stdint.h>

typedef struct sq_tz sq_tz;

/* The zone called name:
 *  - "UTC", "Z", "GMT" (any case): UTC;
 *  - a fixed offset "+02:00", "-0530", "+2", optionally after "UTC" or "GMT"
 *    ("UTC+01:00"), within +-18:00; "GMT+2" is +02:00 as in Java, whereas the
 *    IANA name "Etc/GMT+2" keeps its POSIX meaning, UTC-2;
 *  - an IANA name ("Europe/Paris"), read from $TZDIR or /usr/share/zoneinfo.
 * Zones are loaded once per process and never freed nor changed: *out may be kept
 * and used by any thread without locking. SPATE_ENOTFOUND (spate_last_error names
 * the zone) for an unknown name or a file that is not a valid TZif file,
 * SPATE_ENOMEM. */
int sq_tz_get(const char *name, const sq_tz **out);
const char *sq_tz_name(const sq_tz *tz);

/* UTC offset (seconds east of Greenwich) in effect at the instant utc (seconds
 * since the epoch): local wall time = utc + offset. */
int32_t sq_tz_offset_at(const sq_tz *tz, int64_t utc);

/* The offset of a wall-clock time local (seconds since 1970-01-01 00:00 on the
 * local clock): the instant is local - offset. A time that occurs twice (clocks
 * set back) takes the earlier offset, i.e. the first occurrence; a time that does
 * not exist (clocks set forward) also takes the earlier offset, which moves it
 * forward by the length of the gap (02:30 on a spring-forward night in Paris is
 * 01:30 UTC = 03:30 local), as java.time does. */
int32_t sq_tz_offset_of_local(const sq_tz *tz, int64_t local);

/* Proleptic Gregorian calendar: days since 1970-01-01 of y-m-d (m 1..12), and
 * back. Valid for any year an int64 count of microseconds can reach. */
int64_t sq_days_from_civil(int64_t y, int m, int d);
void sq_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int sq_days_in_month(int64_t y, int m);
/* Day of week of a day count: 0 = Sunday .. 6 = Saturday. */
int sq_weekday(int64_t days);

#endif
