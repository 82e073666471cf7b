/*
 * log.h - leveled logging to stderr for the runtime and the CLI.
 * The level is process-wide (conf key log.level); messages below it cost one compare.
 */
#ifndef SP_LOG_H
#define SP_LOG_H

#include "core/error.h"

typedef enum { SP_LOG_ERROR, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG } sp_log_level;

void sp_log_set_level(sp_log_level l);
int sp_log_parse_level(const char *s, sp_log_level *out);
void sp_log(sp_log_level l, const char *fmt, ...) SP_PRINTF(2, 3);

#endif
