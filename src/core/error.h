/*
 * error.h - error codes and messages.
 *
 * sp_err() records a formatted message in the calling thread's last-error buffer
 * (read by spate_last_error) and returns the code, so failing paths read
 * `return sp_err(SPATE_EINVAL, "unknown option '%s'", key);`.
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include "spate.h"

#if defined(__GNUC__)
#define SP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SP_PRINTF(a, b)
#endif

int sp_err(int code, const char *fmt, ...) SP_PRINTF(2, 3);

#endif
