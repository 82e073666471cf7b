/* error.c - error code names and the per-thread last-error message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

int sp_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *spate_last_error(void)
{
    return last_error;
}

const char *spate_strerror(int err)
{
    switch (err) {
    case SPATE_OK: return "ok";
    case SPATE_EINVAL: return "invalid argument";
    case SPATE_ENOMEM: return "out of memory";
    case SPATE_EIO: return "input/output error";
    case SPATE_ESTATE: return "not allowed in the current state";
    case SPATE_ETYPE: return "type mismatch";
    case SPATE_EPARSE: return "malformed input";
    case SPATE_ENOTFOUND: return "not found";
    case SPATE_ETIMEDOUT: return "timed out";
    case SPATE_EUSER: return "user callback failed";
    case SPATE_EUNSUPPORTED: return "not supported";
    default: return "unknown error";
    }
}

const char *spate_version(void)
{
    return SPATE_VERSION;
}
