/*
 * registry.c - the table of built-in connectors, looked up by name.
 *
 * A static NULL-terminated array per kind: there are a handful of connectors, so
 * a linear search is as fast as anything and keeps `spate help connectors` in
 * registration order. Private classes (queue, callback) are deliberately absent:
 * they take a C handle and cannot be opened by name.
 */
#include "connectors/internal.h"

#include <string.h>

const sp_source_class *const sp_source_classes[] = {
    &sp_generator_source, &sp_stdin_source, &sp_socket_source, &sp_files_source, NULL};

const sp_sink_class *const sp_sink_classes[] = {&sp_console_sink, &sp_files_sink,
                                                &sp_blackhole_sink, NULL};

static void append_name(char *out, size_t n, const char *name)
{
    if (out[0]) strncat(out, ", ", n - strlen(out) - 1);
    strncat(out, name, n - strlen(out) - 1);
}

/* Returns the source class called name, or NULL with spate_last_error() naming it
 * and listing the valid names (the caller returns SPATE_ENOTFOUND). */
const sp_source_class *sp_source_find(const char *name)
{
    char names[256] = "";
    for (int i = 0; sp_source_classes[i]; i++) {
        if (name && strcmp(sp_source_classes[i]->name, name) == 0) return sp_source_classes[i];
        append_name(names, sizeof names, sp_source_classes[i]->name);
    }
    sp_err(SPATE_ENOTFOUND, "unknown source connector '%s' (available: %s)",
           name ? name : "(null)", names);
    return NULL;
}

/* Same for sinks. */
const sp_sink_class *sp_sink_find(const char *name)
{
    char names[256] = "";
    for (int i = 0; sp_sink_classes[i]; i++) {
        if (name && strcmp(sp_sink_classes[i]->name, name) == 0) return sp_sink_classes[i];
        append_name(names, sizeof names, sp_sink_classes[i]->name);
    }
    sp_err(SPATE_ENOTFOUND, "unknown sink connector '%s' (available: %s)",
           name ? name : "(null)", names);
    return NULL;
}
