/* deadletter.c - counting, writing or failing on malformed records. */
#include "core/deadletter.h"

#include "core/buf.h"
#include "core/error.h"

#include <string.h>

int sp_bad_policy_parse(const char *s, sp_bad_policy *out)
{
    if (strcmp(s, "skip") == 0) *out = SP_BAD_SKIP;
    else if (strcmp(s, "dead-letter") == 0) *out = SP_BAD_DEADLETTER;
    else if (strcmp(s, "fail") == 0) *out = SP_BAD_FAIL;
    else
        return sp_err(SPATE_EINVAL, "bad_records.policy must be skip, dead-letter or fail, not '%s'",
                      s);
    return 0;
}

int sp_deadletter_open(sp_deadletter *d, sp_bad_policy policy, const char *path)
{
    memset(d, 0, sizeof *d);
    d->policy = policy;
    pthread_mutex_init(&d->mu, NULL);
    atomic_init(&d->count, 0);
    if (policy != SP_BAD_DEADLETTER) return 0;
    if (!path || strcmp(path, "-") == 0) {
        d->out = stderr;
        return 0;
    }
    d->out = fopen(path, "a");
    if (!d->out) return sp_err(SPATE_EIO, "cannot open dead-letter file '%s'", path);
    d->own_out = 1;
    return 0;
}

void sp_deadletter_close(sp_deadletter *d)
{
    if (d->own_out && d->out) fclose(d->out);
    d->out = NULL;
    pthread_mutex_destroy(&d->mu);
}

static void put_field(sp_buf *b, const char *name, const char *v, size_t n, int first)
{
    sp_buf_printf(b, "%s\"%s\":\"", first ? "{" : ",", name);
    sp_buf_put_json_escaped(b, v ? v : "", v ? n : 0);
    sp_buf_putc(b, '"');
}

int sp_deadletter_report(sp_deadletter *d, const char *source, const char *position,
                         const char *field, const char *reason, const char *rec, size_t len)
{
    atomic_fetch_add(&d->count, 1);
    if (d->policy == SP_BAD_FAIL)
        return sp_err(SPATE_EPARSE, "malformed record in %s at %s, field '%s': %s", source,
                      position, field ? field : "", reason);
    if (d->policy != SP_BAD_DEADLETTER || !d->out) return 0;
    sp_buf b = {0};
    put_field(&b, "source", source, strlen(source), 1);
    put_field(&b, "position", position, strlen(position), 0);
    put_field(&b, "field", field, field ? strlen(field) : 0, 0);
    put_field(&b, "reason", reason, strlen(reason), 0);
    put_field(&b, "record", rec, len, 0);
    sp_buf_put(&b, "}\n", 2);
    pthread_mutex_lock(&d->mu);
    if (b.p) {
        fwrite(b.p, 1, b.len, d->out);
        fflush(d->out);
    }
    pthread_mutex_unlock(&d->mu);
    sp_buf_free(&b);
    return 0;
}
