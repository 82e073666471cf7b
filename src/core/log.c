/* log.c - "spate: level: message" lines on stderr, one fprintf each (atomic per line). */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int log_level = SP_LOG_WARN;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sp_log_set_level(sp_log_level l)
{
    atomic_store(&log_level, (int)l);
}

int sp_log_parse_level(const char *s, sp_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (sp_log_level)i;
            return 0;
        }
    return sp_err(SPATE_EINVAL, "log.level must be error, warn, info or debug, not '%s'", s);
}

void sp_log(sp_log_level l, const char *fmt, ...)
{
    if ((int)l > atomic_load(&log_level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "spate: %s: %s\n", level_names[l], msg);
}
