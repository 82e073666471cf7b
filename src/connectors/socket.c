/*
 * socket.c - source "socket": records from a TCP server (Spark's socketTextStream).
 *
 * Design choices:
 *  - A small state machine driven by poll: WAIT (backing off until the next
 *    attempt) -> CONNECTING (non-blocking connect in flight) -> OPEN (reading) ->
 *    DRAIN (the server closed; the tail is parsed as the final record) -> WAIT again,
 *    or the end of input when reconnect=false. Every wait is a poll() of at most
 *    10 ms, so the worker is never held longer than the connector contract allows.
 *  - Backoff doubles from backoff.initial up to backoff.max after each failed
 *    attempt and returns to backoff.initial once a connection succeeds; a closed
 *    connection is retried after backoff.initial. Each attempt, failure and close
 *    is logged (info when expected, warn when something failed).
 *  - The host is resolved once, at open: a DNS lookup may block, which is
 *    acceptable while the job starts and not inside poll.
 *  - Each connection is a new input: the parser is reset (a CSV header is expected
 *    again) and lines count from 1, so "socket:HOST:PORT:LINE" is the line within
 *    the connection. With reconnect=false a failed connect fails the job: there is
 *    nothing else it could read.
 */
#include "connectors/internal.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { SOCK_WAIT_MS = 10 };

typedef enum { SK_WAIT, SK_CONNECTING, SK_OPEN, SK_DRAIN, SK_DONE } sk_phase;

typedef struct sock_state {
    sp_reader rd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char name[300];          /* HOST:PORT, for logs and positions */
    int reconnect;
    int64_t initial_ms, max_ms, delay_ms;
    int64_t next_try_ns;     /* monotonic time of the next connect attempt */
    int fd;
    sk_phase phase;
} sock_state;

static const sp_opt_def socket_opts[] = {
    {"host", SP_OPT_STRING, "127.0.0.1", "server host name or address"},
    {"port", SP_OPT_INT, NULL, "server TCP port"},
    {"reconnect", SP_OPT_BOOL, "true",
     "reconnect when the server closes; false = end of input then"},
    {"backoff.initial", SP_OPT_DURATION, "100ms", "first wait before reconnecting"},
    {"backoff.max", SP_OPT_DURATION, "5s", "longest wait between connect attempts"},
    {NULL, 0, NULL, NULL}};

static int resolve(sock_state *st, const char *host, int64_t port)
{
    char service[16];
    snprintf(service, sizeof service, "%d", (int)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai || !res)
        return sp_err(SPATE_EIO, "source 'socket': cannot resolve host '%s': %s", host,
                      gai_strerror(gai));
    memcpy(&st->addr, res->ai_addr, res->ai_addrlen);
    st->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int socket_setup(sp_source *s, sock_state *st)
{
    const char *host = sp_opts_str(&s->opts, "host");
    int64_t port = sp_opts_int(&s->opts, "port");
    if (port <= 0 || port > 65535)
        return sp_err(SPATE_EINVAL, "source 'socket': option 'port' must be 1..65535");
    st->reconnect = sp_opts_bool(&s->opts, "reconnect");
    st->initial_ms = sp_opts_duration_ms(&s->opts, "backoff.initial");
    st->max_ms = sp_opts_duration_ms(&s->opts, "backoff.max");
    st->delay_ms = st->initial_ms;
    snprintf(st->name, sizeof st->name, "%s:%d", host, (int)port);
    int rc = resolve(st, host, port);
    return rc ? rc : sp_reader_init(&st->rd, &s->fmt, "socket");
}

static int socket_open(sp_source *s)
{
    sock_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->fd = -1;
    st->phase = SK_WAIT;
    int rc = socket_setup(s, st);
    if (rc) {
        sp_reader_free(&st->rd);
        free(st);
        return rc;
    }
    s->st = st;
    return 0;
}

static void drop_fd(sock_state *st)
{
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
}

static int connected(sp_source *s, sock_state *st)
{
    char prefix[320];
    snprintf(prefix, sizeof prefix, "socket:%s:", st->name);
    st->phase = SK_OPEN;
    st->delay_ms = st->initial_ms;
    sp_log(SP_LOG_INFO, "source 'socket': connected to %s", st->name);
    return sp_reader_begin(&st->rd, prefix);
}

static int connect_failed(sp_source *s, sock_state *st, int err)
{
    drop_fd(st);
    if (!st->reconnect)
        return sp_op_fail(s->op, SPATE_EIO, "source 'socket': cannot connect to %s: %s",
                          st->name, strerror(err));
    sp_log(SP_LOG_WARN, "source 'socket': cannot connect to %s: %s; retrying in %lld ms",
           st->name, strerror(err), (long long)st->delay_ms);
    st->phase = SK_WAIT;
    st->next_try_ns = sp_mono_ns() + st->delay_ms * 1000000;
    st->delay_ms = st->delay_ms * 2 < st->max_ms ? st->delay_ms * 2 : st->max_ms;
    return 0;
}

static int try_connect(sp_source *s, sock_state *st)
{
    int64_t wait_ns = st->next_try_ns - sp_mono_ns();
    if (wait_ns > 0) {
        sp_sleep_ns(wait_ns < SOCK_WAIT_MS * 1000000LL ? wait_ns : SOCK_WAIT_MS * 1000000LL);
        return 0;
    }
    st->fd = socket(st->addr.ss_family, SOCK_STREAM, 0);
    if (st->fd < 0) return connect_failed(s, st, errno);
    fcntl(st->fd, F_SETFD, FD_CLOEXEC);
    fcntl(st->fd, F_SETFL, fcntl(st->fd, F_GETFL) | O_NONBLOCK);
    if (connect(st->fd, (const struct sockaddr *)&st->addr, st->addrlen) == 0)
        return connected(s, st);
    if (errno != EINPROGRESS) return connect_failed(s, st, errno);
    st->phase = SK_CONNECTING;
    return 0;
}

static int finish_connect(sp_source *s, sock_state *st, int timeout_ms)
{
    struct pollfd pfd = {.fd = st->fd, .events = POLLOUT};
    if (poll(&pfd, 1, timeout_ms) <= 0) return 0;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    return err ? connect_failed(s, st, err) : connected(s, st);
}

static void read_conn(sock_state *st, int timeout_ms)
{
    int closed = 0;
    if (sp_reader_fill(&st->rd, st->fd, timeout_ms, &closed) < 0) {
        sp_log(SP_LOG_WARN, "source 'socket': connection to %s failed: %s", st->name,
               strerror(errno));
        closed = 1;
    } else if (closed) {
        sp_log(SP_LOG_INFO, "source 'socket': %s closed the connection", st->name);
    }
    if (closed) {
        drop_fd(st);
        st->phase = SK_DRAIN;
    }
}

/* The previous connection is fully parsed: end, or schedule the reconnect. */
static void connection_done(sock_state *st)
{
    if (!st->reconnect) {
        st->phase = SK_DONE;
        return;
    }
    sp_log(SP_LOG_INFO, "source 'socket': reconnecting to %s in %lld ms", st->name,
           (long long)st->initial_ms);
    st->phase = SK_WAIT;
    st->next_try_ns = sp_mono_ns() + st->initial_ms * 1000000;
}

/* One step of the state machine; returns 0 or a negative code. */
static int advance(sp_source *s, sock_state *st, int timeout_ms)
{
    switch (st->phase) {
    case SK_WAIT: return try_connect(s, st);
    case SK_CONNECTING: return finish_connect(s, st, timeout_ms);
    case SK_OPEN: read_conn(st, timeout_ms); return 0;
    case SK_DRAIN:
        if (!sp_reader_pending(&st->rd)) connection_done(st);
        return 0;
    case SK_DONE: return 0;
    }
    return 0;
}

static int socket_poll(sp_source *s, sp_batch *b, int *eof)
{
    sock_state *st = s->st;
    int rc = sp_reader_parse(&st->rd, b, s->dl, st->phase == SK_DRAIN);
    if (rc) return rc;
    if (sp_op_stopping(s->op)) {
        *eof = 1;
        return 0;
    }
    if (b->n < b->cap) {
        rc = advance(s, st, b->n ? 0 : SOCK_WAIT_MS);
        if (rc) return rc;
        rc = sp_reader_parse(&st->rd, b, s->dl, st->phase == SK_DRAIN);
        if (rc) return rc;
    }
    if (st->phase == SK_DONE) *eof = 1;
    return 0;
}

static void socket_close(sp_source *s)
{
    sock_state *st = s->st;
    if (!st) return;
    drop_fd(st);
    sp_reader_free(&st->rd);
    free(st);
    s->st = NULL;
}

const sp_source_class sp_socket_source = {
    .name = "socket",
    .help = "records from a TCP server (host, port), reconnecting with backoff",
    .opts = socket_opts,
    .uses_format = 1,
    .parallel = 0,
    .fixed_schema = NULL,
    .open = socket_open,
    .poll = socket_poll,
    .close = socket_close,
};
