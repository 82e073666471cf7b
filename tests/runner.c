/*
 * runner.c - runs the unit tests: `spate-tests [substring]`.
 * Each test runs in a forked child with a time limit; the closing line is
 * "N passed, N failed".
 */
#include "test_list.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int sp_test_failures;

/* An area whose test file is not built yet has no tests rather than a link error. */
#define SP_EMPTY_TABLE(t) __attribute__((weak)) const sp_test t[] = {{NULL, NULL}}
SP_EMPTY_TABLE(tests_core);
SP_EMPTY_TABLE(tests_formats);
SP_EMPTY_TABLE(tests_keyed);
SP_EMPTY_TABLE(tests_ops);
SP_EMPTY_TABLE(tests_connectors);
SP_EMPTY_TABLE(tests_engine);
SP_EMPTY_TABLE(tests_time);
SP_EMPTY_TABLE(tests_windows);
SP_EMPTY_TABLE(tests_dstream);
SP_EMPTY_TABLE(tests_timers);
SP_EMPTY_TABLE(tests_oracle);
SP_EMPTY_TABLE(tests_vectorized);
SP_EMPTY_TABLE(tests_ckpt_rt);
SP_EMPTY_TABLE(tests_ckpt_store);
SP_EMPTY_TABLE(tests_state_ops);
SP_EMPTY_TABLE(tests_ckpt_connectors);
SP_EMPTY_TABLE(tests_ckpt_keyed);
SP_EMPTY_TABLE(tests_ckpt_dstream);
SP_EMPTY_TABLE(tests_ckpt_windows);
SP_EMPTY_TABLE(tests_state_ttl);

static int run_one(const sp_test *t)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        alarm(120);
        sp_test_failures = 0;
        t->fn();
        fflush(stdout);
        /* exit, not _exit: the sanitizers' leak check runs at exit, so a test that
         * leaks fails in the sanitizer builds. */
        exit(sp_test_failures ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (time limit)" : "");
        return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (int i = 0; sp_test_tables[i]; i++)
        for (const sp_test *t = sp_test_tables[i]; t->name; t++) {
            if (filter && !strstr(t->name, filter)) continue;
            int ok = run_one(t);
            printf("%s %s\n", ok ? "ok  " : "FAIL", t->name);
            if (ok) passed++;
            else failed++;
        }
    printf("%d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}
