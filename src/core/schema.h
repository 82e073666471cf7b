/*
 * schema.h - internal view of spate_schema: an array of named, typed fields.
 * Schemas attached to streams are immutable copies owned by the context.
 */
#ifndef SP_SCHEMA_H
#define SP_SCHEMA_H

#include "spate.h"

typedef struct sp_field {
    char *name;
    spate_type type;
} sp_field;

struct spate_schema {
    int n, cap;
    sp_field *f;
};

spate_schema *sp_schema_copy(const spate_schema *s);
/* Same number of fields with the same types (names may differ). */
int sp_schema_types_equal(const spate_schema *a, const spate_schema *b);
/* Parses a type name (case-insensitive); returns 0 when unknown. */
spate_type sp_type_parse(const char *name, size_t len);
/* Bytes per element in a column vector of type t. */
size_t sp_type_size(spate_type t);
static inline int sp_type_is_int(spate_type t)
{
    return t == SPATE_INT32 || t == SPATE_INT64 || t == SPATE_TIMESTAMP || t == SPATE_BOOL;
}
static inline int sp_type_is_str(spate_type t)
{
    return t == SPATE_STRING || t == SPATE_BYTES;
}

#endif
