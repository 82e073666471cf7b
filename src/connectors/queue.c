/*
 * queue.c - queueStream: spate_source_queue, spate_queue_push, spate_queue_close.
 *
 * Design choices:
 *  - push copies the text into one item (one allocation per push, never per
 *    record) and parsing happens later in poll, on the worker thread, through the
 *    shared reader: bad records then reach the job's dead-letter output (s->dl)
 *    like any other source's, and the caller's thread never touches a batch.
 *  - The item list is guarded by a mutex; it is taken once per poll and per push,
 *    not per row, so contention is irrelevant.
 *  - one_at_a_time in the micro-batch style: at most one item is taken per
 *    micro-batch, told apart by sp_op_epoch_index. An item larger than a batch is
 *    still finished across polls. In the continuous style every pushed item flows.
 *  - Lifetime: the handle has two owners, the caller and the source instance.
 *    spate_queue_close releases the caller's share and the node the other
 *    (arg_free, when the context is freed, whether or not the job ran); the last
 *    one frees it. So the caller may push and close at any time before its own
 *    spate_queue_close, even after the job stopped, and the handle must not be
 *    used after spate_queue_close.
 *  - Items are CSV lines of the schema without header; each item is one input for
 *    positions: "queue:ITEM:LINE".
 */
#include "connectors/internal.h"

#include "core/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QUEUE_IDLE_MS = 2 };

typedef struct queue_item {
    struct queue_item *next;
    size_t len;
    char text[];
} queue_item;

struct spate_queue {
    pthread_mutex_t mu;
    queue_item *head, *tail;
    int closed;  /* no more pushes */
    int refs;    /* the caller's share and the source's */
    int one_at_a_time;
};

typedef struct queue_state {
    spate_queue *q;
    sp_format fmt;
    sp_reader rd;
    int one_at_a_time;  /* in effect: the flag and the micro-batch style */
    int64_t last_epoch; /* micro-batch that took the last item */
    uint64_t items;     /* items taken, for positions */
} queue_state;

static void queue_release(void *arg)
{
    spate_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    int last = --q->refs == 0;
    pthread_mutex_unlock(&q->mu);
    if (!last) return;
    while (q->head) {
        queue_item *it = q->head;
        q->head = it->next;
        free(it);
    }
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Takes the next item if one is due; *drained is set when none will ever come. */
static queue_item *queue_take(queue_state *st, int64_t epoch, int *drained)
{
    spate_queue *q = st->q;
    int allowed = !st->one_at_a_time || epoch != st->last_epoch;
    pthread_mutex_lock(&q->mu);
    queue_item *it = allowed ? q->head : NULL;
    if (it) {
        q->head = it->next;
        if (!q->head) q->tail = NULL;
    }
    *drained = q->closed && !q->head;
    pthread_mutex_unlock(&q->mu);
    if (it) st->last_epoch = epoch;
    return it;
}

static int queue_open(sp_source *s)
{
    if (!s->schema) return sp_err(SPATE_EINVAL, "queue source: a schema is required");
    queue_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->q = s->arg;
    st->last_epoch = -1;
    st->one_at_a_time = st->q->one_at_a_time && sp_ctx_microbatch(s->op->node->ctx);
    int rc = sp_format_init(&st->fmt, "csv", s->schema);
    if (!rc) rc = sp_reader_init(&st->rd, &st->fmt, "queue");
    if (rc) {
        sp_reader_free(&st->rd);
        free(st);
        return rc;
    }
    s->st = st;
    return 0;
}

/* Starts parsing item it (freed here). */
static int queue_begin_item(queue_state *st, queue_item *it)
{
    char prefix[48];
    snprintf(prefix, sizeof prefix, "queue:%llu:", (unsigned long long)++st->items);
    int rc = sp_reader_begin(&st->rd, prefix);
    if (!rc) rc = sp_reader_append(&st->rd, it->text, it->len);
    free(it);
    return rc;
}

static int queue_poll(sp_source *s, sp_batch *b, int *eof)
{
    queue_state *st = s->st;
    int rc = sp_reader_parse(&st->rd, b, s->dl, 1);
    if (rc) return rc;
    if (sp_op_stopping(s->op)) {
        *eof = 1;
        return 0;
    }
    int drained = 0, took = 0;
    int64_t epoch = sp_op_epoch_index(s->op);
    while (b->n < b->cap && !sp_reader_pending(&st->rd)) {
        queue_item *it = queue_take(st, epoch, &drained);
        if (!it) break;
        took = 1;
        rc = queue_begin_item(st, it);
        if (!rc) rc = sp_reader_parse(&st->rd, b, s->dl, 1);
        if (rc) return rc;
    }
    if (drained && !sp_reader_pending(&st->rd)) *eof = 1;
    else if (!took && !b->n) sp_sleep_ns(QUEUE_IDLE_MS * 1000000LL);
    return 0;
}

static void queue_close(sp_source *s)
{
    queue_state *st = s->st;
    if (!st) return;
    sp_reader_free(&st->rd);
    free(st);
    s->st = NULL;
}

static const sp_opt_def queue_opts[] = {{NULL, 0, NULL, NULL}};

static const sp_source_class queue_class = {
    .name = "queue",
    .help = "items pushed by the application (queueStream)",
    .opts = queue_opts,
    .uses_format = 0,
    .parallel = 0,
    .fixed_schema = NULL,
    .open = queue_open,
    .poll = queue_poll,
    .close = queue_close,
    .arg_free = queue_release,
};

/* Creates a queue and its source stream. The queue belongs to the caller until
 * spate_queue_close (see the lifetime note above). */
int spate_source_queue(spate_ctx *ctx, const spate_schema *schema, int one_at_a_time,
                       spate_queue **q, spate_stream **out)
{
    if (!ctx || !schema || !q || !out)
        return sp_err(SPATE_EINVAL, "spate_source_queue: ctx, schema, q and out are required");
    spate_queue *nq = calloc(1, sizeof *nq);
    if (!nq) return sp_err(SPATE_ENOMEM, "out of memory");
    pthread_mutex_init(&nq->mu, NULL);
    nq->refs = 2;
    nq->one_at_a_time = one_at_a_time != 0;
    int rc = sp_source_add(ctx, &queue_class, schema, NULL, nq, out);
    if (rc) {
        pthread_mutex_destroy(&nq->mu);
        free(nq);
        return rc;
    }
    *q = nq;
    return 0;
}

/* Appends one item (a copy of text). Not to be called after spate_queue_close; while
 * the source still holds the queue such a call fails with SPATE_ESTATE. */
int spate_queue_push(spate_queue *q, const char *text, size_t len)
{
    if (!q || (!text && len)) return sp_err(SPATE_EINVAL, "spate_queue_push: no queue or text");
    queue_item *it = malloc(sizeof *it + len);
    if (!it) return sp_err(SPATE_ENOMEM, "out of memory");
    it->next = NULL;
    it->len = len;
    if (len) memcpy(it->text, text, len);
    pthread_mutex_lock(&q->mu);
    int closed = q->closed;
    if (!closed) {
        if (q->tail) q->tail->next = it;
        else q->head = it;
        q->tail = it;
    }
    pthread_mutex_unlock(&q->mu);
    if (!closed) return 0;
    free(it);
    return sp_err(SPATE_ESTATE, "spate_queue_push: the queue is closed");
}

/* Ends the input (the source ends once drained) and gives up the caller's handle. */
int spate_queue_close(spate_queue *q)
{
    if (!q) return sp_err(SPATE_EINVAL, "spate_queue_close: no queue");
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_mutex_unlock(&q->mu);
    queue_release(q);
    return 0;
}
