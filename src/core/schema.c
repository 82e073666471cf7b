/* schema.c - schemas: building, parsing "name TYPE, ..." declarations, copying. */
#include "core/schema.h"

#include "core/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

spate_schema *spate_schema_new(void)
{
    return calloc(1, sizeof(spate_schema));
}

void spate_schema_free(spate_schema *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->f[i].name);
    free(s->f);
    free(s);
}

const char *spate_type_name(spate_type t)
{
    switch (t) {
    case SPATE_BOOL: return "BOOL";
    case SPATE_INT32: return "INT";
    case SPATE_INT64: return "BIGINT";
    case SPATE_FLOAT64: return "DOUBLE";
    case SPATE_STRING: return "STRING";
    case SPATE_BYTES: return "BYTES";
    case SPATE_TIMESTAMP: return "TIMESTAMP";
    }
    return "?";
}

size_t sp_type_size(spate_type t)
{
    switch (t) {
    case SPATE_BOOL: return 1;
    case SPATE_INT32: return 4;
    case SPATE_STRING:
    case SPATE_BYTES: return sizeof(spate_str);
    default: return 8;
    }
}

spate_type sp_type_parse(const char *name, size_t len)
{
    static const struct {
        const char *name;
        spate_type t;
    } names[] = {{"BOOL", SPATE_BOOL},         {"BOOLEAN", SPATE_BOOL},
                 {"INT", SPATE_INT32},         {"INT32", SPATE_INT32},
                 {"INTEGER", SPATE_INT32},     {"BIGINT", SPATE_INT64},
                 {"INT64", SPATE_INT64},       {"DOUBLE", SPATE_FLOAT64},
                 {"FLOAT64", SPATE_FLOAT64},   {"STRING", SPATE_STRING},
                 {"VARCHAR", SPATE_STRING},    {"BYTES", SPATE_BYTES},
                 {"TIMESTAMP", SPATE_TIMESTAMP}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0)
            return names[i].t;
    return (spate_type)0;
}

int spate_schema_add(spate_schema *s, const char *name, spate_type type)
{
    if (!s || !name || !*name) return sp_err(SPATE_EINVAL, "schema field needs a name");
    if (type < SPATE_BOOL || type > SPATE_TIMESTAMP)
        return sp_err(SPATE_EINVAL, "field '%s' has an invalid type %d", name, (int)type);
    if (spate_schema_find(s, name) >= 0)
        return sp_err(SPATE_EINVAL, "duplicate field name '%s'", name);
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        sp_field *f = realloc(s->f, (size_t)cap * sizeof *f);
        if (!f) return sp_err(SPATE_ENOMEM, "out of memory");
        s->f = f;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return sp_err(SPATE_ENOMEM, "out of memory");
    s->f[s->n].name = copy;
    s->f[s->n].type = type;
    s->n++;
    return 0;
}

int spate_schema_parse(const char *decl, spate_schema **out)
{
    *out = NULL;
    if (!decl) return sp_err(SPATE_EINVAL, "schema declaration is NULL");
    spate_schema *s = spate_schema_new();
    if (!s) return sp_err(SPATE_ENOMEM, "out of memory");
    const char *p = decl;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        const char *name = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '.')) p++;
        size_t nlen = (size_t)(p - name);
        while (isspace((unsigned char)*p)) p++;
        const char *type = p;
        while (isalnum((unsigned char)*p)) p++;
        size_t tlen = (size_t)(p - type);
        while (isspace((unsigned char)*p)) p++;
        spate_type t = sp_type_parse(type, tlen);
        if (nlen == 0 || tlen == 0 || !t || (*p && *p != ',')) {
            spate_schema_free(s);
            return sp_err(SPATE_EINVAL,
                          "bad schema at column %d of \"%s\": expected 'name TYPE' "
                          "(types: BOOL INT BIGINT DOUBLE STRING BYTES TIMESTAMP)",
                          (int)(name - decl) + 1, decl);
        }
        char buf[256];
        if (nlen >= sizeof buf) nlen = sizeof buf - 1;
        memcpy(buf, name, nlen);
        buf[nlen] = 0;
        int rc = spate_schema_add(s, buf, t);
        if (rc) {
            spate_schema_free(s);
            return rc;
        }
        if (!*p) break;
        p++;
    }
    *out = s;
    return 0;
}

int spate_schema_count(const spate_schema *s)
{
    return s ? s->n : 0;
}

const char *spate_schema_name(const spate_schema *s, int col)
{
    return s && col >= 0 && col < s->n ? s->f[col].name : NULL;
}

spate_type spate_schema_type(const spate_schema *s, int col)
{
    return s && col >= 0 && col < s->n ? s->f[col].type : (spate_type)0;
}

int spate_schema_find(const spate_schema *s, const char *name)
{
    for (int i = 0; s && name && i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0) return i;
    return SPATE_ENOTFOUND;
}

spate_schema *sp_schema_copy(const spate_schema *s)
{
    spate_schema *c = spate_schema_new();
    if (!c) return NULL;
    for (int i = 0; s && i < s->n; i++)
        if (spate_schema_add(c, s->f[i].name, s->f[i].type)) {
            spate_schema_free(c);
            return NULL;
        }
    return c;
}

int sp_schema_types_equal(const spate_schema *a, const spate_schema *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->f[i].type != b->f[i].type) return 0;
    return 1;
}
