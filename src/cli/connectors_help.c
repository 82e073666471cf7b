/*
 * connectors_help.c - `spate help connectors`, generated from the same option
 * tables the engine validates options with (connectors/registry.c and the
 * format options), so help and validation cannot drift apart.
 */
#include "cli.h"

#include "connectors/connector.h"

static const char *const opt_type_names[] = {"string", "int", "bool", "duration"};

static void print_opts(FILE *out, const sp_opt_def *defs, const char *indent)
{
    for (const sp_opt_def *d = defs; d && d->name; d++) {
        fprintf(out, "%s%-16s %-8s %s", indent, d->name, opt_type_names[d->type], d->help);
        if (!d->def) fputs(" (required)\n", out);
        else if (*d->def) fprintf(out, " (default %s)\n", d->def);
        else fputs(" (default: none)\n", out);
    }
}

void cli_print_connectors(FILE *out)
{
    fputs("Connectors take options as key/value pairs: in C as {\"key\", \"value\", ..., NULL}\n"
          "for spate_source_open / spate_sink_open.\n\n"
          "Format options, accepted by the connectors marked [format]:\n",
          out);
    print_opts(out, sp_format_opt_defs, "  ");
    fputs("\nSources:\n", out);
    for (int i = 0; sp_source_classes[i]; i++) {
        const sp_source_class *c = sp_source_classes[i];
        fprintf(out, "  %s%s - %s%s\n", c->name, c->uses_format ? " [format]" : "", c->help,
                c->parallel ? " (one instance per worker)" : "");
        print_opts(out, c->opts, "    ");
    }
    fputs("\nSinks:\n", out);
    for (int i = 0; sp_sink_classes[i]; i++) {
        const sp_sink_class *c = sp_sink_classes[i];
        fprintf(out, "  %s%s - %s\n", c->name, c->uses_format ? " [format]" : "", c->help);
        print_opts(out, c->opts, "    ");
    }
    fputs("\nThe C API also has a queue source (spate_source_queue) and a callback sink\n"
          "(spate_sink_callback).\n",
          out);
}
