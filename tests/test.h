/*
 * test.h - the unit test harness: plain functions listed in per-area tables
 * (test_list.h), run by runner.c, each in its own child process so a crash or
 * a hang is reported as that test's failure and the rest still run.
 */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sp_test {
    const char *name;
    void (*fn)(void);
} sp_test;

extern int sp_test_failures;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            sp_test_failures++;                                                        \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                \
    do {                                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);                               \
        if (a_ != b_) {                                                                   \
            fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, a_, b_);                                                      \
            sp_test_failures++;                                                           \
        }                                                                                 \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                 \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
            fprintf(stderr, "  %s:%d: %s == %s failed:\n    got:      \"%s\"\n    expected: \"%s\"\n", \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
            sp_test_failures++;                                                            \
        }                                                                                  \
    } while (0)

/* Stops the test when an API call fails (later checks would only cascade). */
#define REQUIRE_OK(call)                                                                    \
    do {                                                                                    \
        int rc_ = (call);                                                                   \
        if (rc_ != 0) {                                                                     \
            fprintf(stderr, "  %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, rc_, \
                    spate_last_error());                                                    \
            sp_test_failures++;                                                             \
            return;                                                                         \
        }                                                                                   \
    } while (0)

/* qsort comparator for an array of C strings (results compared as sorted multisets). */
static inline int sp_test_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins rows[0..n) with ';' into dst (truncated to cap bytes). */
static inline void sp_test_join(char *dst, size_t cap, char **rows, size_t n)
{
    size_t len = 0;
    dst[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(dst + len, cap - len, "%s%s", i ? ";" : "", rows[i]);
}

#endif
