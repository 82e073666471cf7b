/*
 * deadletter.h - where malformed records go.
 *
 * Every bad record is counted. Under policy dead-letter it is also written as one
 * JSON line {"source","position","field","reason","record"} to the dead-letter
 * file (stderr by default); under skip it is only counted; under fail the job
 * stops with an error naming the same position, field and reason.
 * Thread-safe: sources on several workers report into one sp_deadletter.
 */
#ifndef SP_DEADLETTER_H
#define SP_DEADLETTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { SP_BAD_SKIP, SP_BAD_DEADLETTER, SP_BAD_FAIL } sp_bad_policy;

typedef struct sp_deadletter {
    sp_bad_policy policy;
    FILE *out;      /* NULL unless policy is dead-letter */
    int own_out;    /* out was opened here (not stderr) */
    pthread_mutex_t mu;
    atomic_uint_fast64_t count;
} sp_deadletter;

int sp_bad_policy_parse(const char *s, sp_bad_policy *out);
/* path "-" or NULL = stderr. 0 or SPATE_EIO. */
int sp_deadletter_open(sp_deadletter *d, sp_bad_policy policy, const char *path);
void sp_deadletter_close(sp_deadletter *d);
/* Reports one bad record. Returns 0 (dropped, go on) or SPATE_EPARSE under policy
 * fail, with spate_last_error() describing the record. */
int sp_deadletter_report(sp_deadletter *d, const char *source, const char *position,
                         const char *field, const char *reason, const char *rec, size_t len);

#endif
