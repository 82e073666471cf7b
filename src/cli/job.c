/*
 * job.c - running a built job under the command: start, wait, stop on signals.
 *
 * Signals are blocked in every thread but the main one (the mask is set before
 * the engine creates its threads and they inherit it), so the handler always
 * runs on the thread that waits in spate_ctx_await_termination and the context
 * it touches is alive. The handler only calls spate_ctx_request_stop, which is
 * async-signal-safe; the graceful stop itself happens in the engine. A second
 * signal restores the default action and re-raises, so an operator can always
 * kill a job whose stop hangs, and the shell sees the usual killed-by-signal status.
 */
#include "cli.h"

#include <signal.h>
#include <stddef.h>

static spate_ctx *volatile stop_ctx;
static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig)
{
    if (stop_signals++ == 0 && stop_ctx) {
        spate_ctx_request_stop(stop_ctx);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void stop_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void cli_block_stop_signals(void)
{
    sigset_t set;
    stop_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Sets the action of both stop signals. */
static void set_stop_action(void (*handler)(int))
{
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    stop_signal_set(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Handler first, then unblock: a signal pending since the engine started is
 * delivered to the handler, never to the default action. */
static void catch_stop_signals(void)
{
    sigset_t set;
    stop_signal_set(&set);
    set_stop_action(on_stop_signal);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Block first, then restore the default: a late signal stays pending instead of
 * killing a job that already ended well. */
static void release_stop_signals(void)
{
    cli_block_stop_signals();
    set_stop_action(SIG_DFL);
}

/* The most specific message there is for a failure with code rc. */
static const char *job_message(const spate_ctx *ctx, int rc)
{
    const char *msg = spate_ctx_error(ctx);
    if (msg && msg[0]) return msg;
    msg = spate_last_error();
    if (msg && msg[0]) return msg;
    return spate_strerror(rc);
}

int cli_run_job(spate_ctx *ctx)
{
    int rc = spate_ctx_start(ctx);
    if (rc) return cli_fail("cannot start the job: %s", job_message(ctx, rc));
    stop_signals = 0;
    stop_ctx = ctx;
    catch_stop_signals();
    rc = spate_ctx_await_termination(ctx, -1);
    release_stop_signals();
    stop_ctx = NULL;
    if (rc) return cli_fail("%s", job_message(ctx, rc));
    return CLI_OK;
}
