/*
 * files.c - source "files" (Spark's textFileStream) and sink "files".
 *
 * Source design choices:
 *  - The directory is listed every poll.interval, but only when nothing is left to
 *    read from the previous listing: the new names are sorted and read in that
 *    order, each exactly once. Names starting with '.' or ending in .tmp / .part
 *    are ignored because writers create files under such names and rename them
 *    into place atomically; anything else that is not a regular file is skipped.
 *  - Files are streamed in SP_READ_CHUNK reads through the shared reader, never
 *    loaded whole; the parser is reset per file (a CSV header per file) and the
 *    unterminated tail of a file is its final record. Position: "PATH/NAME:LINE".
 *  - The processed set is an open-addressing hash set of names, so the check per
 *    listed name is O(1) however long the job has run. With processed.log, a name
 *    is appended and fsync'd once its last record is in a batch, and the log is
 *    loaded at open so another run does not read the file again. The name is
 *    recorded before its last rows reach the sinks, so a crash in that window loses
 *    those rows (at-most-once for the file in flight); tying the log to completed
 *    epochs is the checkpoint work's job.
 *  - A file that vanishes between listing and open is skipped with a warning and
 *    not recorded, so it is read if it comes back.
 *  - once=true: the first listing is the whole input; the source ends after it.
 *  - Single instance: one reader keeps the name order and the set consistent.
 *
 * Sink design choices:
 *  - One file PATH/part-00000.EXT (truncated at open; the directory is created),
 *    since the sink runs as a single instance. Rows are formatted into a memory
 *    buffer that is written out when it passes SINK_FLUSH_BYTES, at every epoch and
 *    at close, so a micro-batch is on disk when its epoch ends.
 */
#include "connectors/internal.h"

#include "checkpoint/serde.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { FILES_IDLE_MS = 10, FILES_STEPS_PER_POLL = 16, SINK_FLUSH_BYTES = 256 * 1024 };
enum { FILES_STATE_VERSION = 1 };

/* ------------------------------------------------------------ name set */

typedef struct name_set {
    char **slots;  /* open addressing, linear probing; NULL = empty */
    size_t cap, n; /* cap is a power of two, kept at most half full */
} name_set;

static size_t name_slot(const name_set *ns, const char *name)
{
    size_t i = (size_t)sp_hash_bytes(0, name, strlen(name)) & (ns->cap - 1);
    while (ns->slots[i] && strcmp(ns->slots[i], name) != 0)
        i = (i + 1) & (ns->cap - 1);
    return i;
}

static int name_set_has(const name_set *ns, const char *name)
{
    return ns->cap && ns->slots[name_slot(ns, name)];
}

static int name_set_grow(name_set *ns)
{
    name_set bigger = {calloc(ns->cap ? ns->cap * 2 : 64, sizeof(char *)),
                       ns->cap ? ns->cap * 2 : 64, ns->n};
    if (!bigger.slots) return sp_err(SPATE_ENOMEM, "out of memory");
    for (size_t i = 0; i < ns->cap; i++)
        if (ns->slots[i]) bigger.slots[name_slot(&bigger, ns->slots[i])] = ns->slots[i];
    free(ns->slots);
    *ns = bigger;
    return 0;
}

static int name_set_add(name_set *ns, const char *name)
{
    if (2 * (ns->n + 1) > ns->cap && name_set_grow(ns)) return SPATE_ENOMEM;
    size_t i = name_slot(ns, name);
    if (ns->slots[i]) return 0;
    ns->slots[i] = strdup(name);
    if (!ns->slots[i]) return sp_err(SPATE_ENOMEM, "out of memory");
    ns->n++;
    return 0;
}

static void name_set_free(name_set *ns)
{
    for (size_t i = 0; i < ns->cap; i++)
        free(ns->slots[i]);
    free(ns->slots);
    memset(ns, 0, sizeof *ns);
}

/* ------------------------------------------------------------- source */

typedef struct files_state {
    sp_reader rd;
    const char *dir, *pattern;
    int once, listed_once;
    int64_t interval_ns, next_scan_ns;
    name_set done; /* processed names */
    int log_fd;    /* processed.log, -1 if none */
    char **todo;   /* names of the last listing still to read, sorted */
    size_t ntodo, itodo, captodo;
    int fd;     /* file being read, -1 if none */
    int at_eof; /* fd reached its end; the reader drains its tail */
    char *cur;  /* name of that file */
} files_state;

static const sp_opt_def files_source_opts[] = {
    {"path", SP_OPT_STRING, NULL, "directory to watch"},
    {"pattern", SP_OPT_STRING, "*", "glob the file names must match"},
    {"once", SP_OPT_BOOL, "false", "read the files present at start, then end"},
    {"poll.interval", SP_OPT_DURATION, "200ms", "how often the directory is listed"},
    {"processed.log", SP_OPT_STRING, "",
     "file recording processed names, so later runs skip them (empty = none)"},
    {NULL, 0, NULL, NULL}};

static int ignored_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n >= 4 && strcmp(name + n - 4, ".tmp") == 0) ||
           (n >= 5 && strcmp(name + n - 5, ".part") == 0);
}

static int load_log(files_state *st, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        return sp_err(SPATE_EIO, "source 'files': cannot read processed.log '%s': %s", path,
                      strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        if (n) rc = name_set_add(&st->done, line);
    }
    free(line);
    fclose(f);
    return rc;
}

static int open_log(files_state *st, const char *path)
{
    if (!*path) return 0;
    int rc = load_log(st, path);
    if (rc) return rc;
    st->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->log_fd < 0)
        return sp_err(SPATE_EIO, "source 'files': cannot open processed.log '%s': %s", path,
                      strerror(errno));
    return 0;
}

static int files_setup(sp_source *s, files_state *st)
{
    st->dir = sp_opts_str(&s->opts, "path");
    st->pattern = sp_opts_str(&s->opts, "pattern");
    st->once = sp_opts_bool(&s->opts, "once");
    st->interval_ns = sp_opts_duration_ms(&s->opts, "poll.interval") * 1000000;
    struct stat sb;
    if (stat(st->dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return sp_err(SPATE_EINVAL, "source 'files': path '%s' is not a directory", st->dir);
    int rc = open_log(st, sp_opts_str(&s->opts, "processed.log"));
    return rc ? rc : sp_reader_init(&st->rd, &s->fmt, "files");
}

static void files_free(files_state *st)
{
    if (st->fd >= 0) close(st->fd);
    if (st->log_fd >= 0) close(st->log_fd);
    for (size_t i = st->itodo; i < st->ntodo; i++)
        free(st->todo[i]);
    free(st->todo);
    free(st->cur);
    name_set_free(&st->done);
    sp_reader_free(&st->rd);
    free(st);
}

static int files_open(sp_source *s)
{
    files_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->fd = st->log_fd = -1;
    int rc = files_setup(s, st);
    if (rc) {
        files_free(st);
        return rc;
    }
    s->st = st;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int todo_push(files_state *st, const char *name)
{
    if (st->ntodo == st->captodo) {
        size_t cap = st->captodo ? st->captodo * 2 : 16;
        char **p = realloc(st->todo, cap * sizeof *p);
        if (!p) return sp_err(SPATE_ENOMEM, "out of memory");
        st->todo = p;
        st->captodo = cap;
    }
    st->todo[st->ntodo] = strdup(name);
    if (!st->todo[st->ntodo]) return sp_err(SPATE_ENOMEM, "out of memory");
    st->ntodo++;
    return 0;
}

static int wanted(files_state *st, DIR *d, const char *name)
{
    if (ignored_name(name) || fnmatch(st->pattern, name, 0) != 0) return 0;
    if (name_set_has(&st->done, name)) return 0;
    struct stat sb;
    return fstatat(dirfd(d), name, &sb, 0) == 0 && S_ISREG(sb.st_mode);
}

/* Lists the directory into todo (sorted), keeping only new regular files. */
static int list_dir(sp_source *s, files_state *st)
{
    DIR *d = opendir(st->dir);
    if (!d)
        return sp_op_fail(s->op, SPATE_EIO, "source 'files': cannot list '%s': %s", st->dir,
                          strerror(errno));
    st->ntodo = st->itodo = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)))
        if (wanted(st, d, e->d_name)) rc = todo_push(st, e->d_name);
    closedir(d);
    if (st->ntodo) qsort(st->todo, st->ntodo, sizeof *st->todo, cmp_names);
    st->listed_once = 1;
    st->next_scan_ns = sp_mono_ns() + st->interval_ns;
    return rc;
}

/* "DIR/NAME" with room for one more character; NULL when out of memory. */
static char *file_path(const files_state *st, const char *name)
{
    size_t n = strlen(st->dir) + strlen(name) + 3;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", st->dir, name);
    else
        sp_err(SPATE_ENOMEM, "out of memory");
    return path;
}

/* Opens the next listed file; a file that vanished meanwhile is skipped. */
static int open_next(sp_source *s, files_state *st)
{
    free(st->cur);
    st->cur = st->todo[st->itodo++];
    char *path = file_path(st, st->cur);
    if (!path) return SPATE_ENOMEM;
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (st->fd < 0) {
        sp_log(SP_LOG_WARN, "source 'files': skipping '%s': %s", path, strerror(errno));
    } else {
        st->at_eof = 0;
        strcat(path, ":");
        rc = sp_reader_begin(&st->rd, path);
    }
    free(path);
    return rc;
}

/* The current file is fully parsed: close it and record it as processed. */
static int finish_file(sp_source *s, files_state *st)
{
    close(st->fd);
    st->fd = -1;
    int rc = name_set_add(&st->done, st->cur);
    if (rc || st->log_fd < 0) return rc;
    struct iovec iov[2] = {{st->cur, strlen(st->cur)}, {(void *)"\n", 1}};
    ssize_t w = writev(st->log_fd, iov, 2);
    if (w != (ssize_t)(iov[0].iov_len + 1) || fsync(st->log_fd) < 0)
        return sp_op_fail(s->op, SPATE_EIO, "source 'files': cannot record '%s' in processed.log",
                          st->cur);
    return 0;
}

static int read_file(sp_source *s, files_state *st, sp_batch *b)
{
    if (!st->at_eof && sp_reader_fill(&st->rd, st->fd, 0, &st->at_eof) < 0)
        return sp_op_fail(s->op, SPATE_EIO, "source 'files': cannot read '%s/%s': %s", st->dir,
                          st->cur, strerror(errno));
    int rc = sp_reader_parse(&st->rd, b, s->dl, st->at_eof);
    if (rc) return rc;
    return st->at_eof && !sp_reader_pending(&st->rd) ? finish_file(s, st) : 0;
}

/* One unit of work. *idle is set when there was nothing to do. */
static int files_step(sp_source *s, files_state *st, sp_batch *b, int *idle, int *eof)
{
    if (st->fd >= 0) return read_file(s, st, b);
    if (st->itodo < st->ntodo) return open_next(s, st);
    if (st->once && st->listed_once) {
        *eof = 1;
        return 0;
    }
    if (st->listed_once && sp_mono_ns() < st->next_scan_ns) {
        *idle = 1;
        return 0;
    }
    int rc = list_dir(s, st);
    if (!rc && !st->ntodo && !st->once) *idle = 1;
    return rc;
}

static int files_poll(sp_source *s, sp_batch *b, int *eof)
{
    files_state *st = s->st;
    if (sp_op_stopping(s->op)) {
        *eof = 1;
        return 0;
    }
    int idle = 0;
    for (int i = 0; i < FILES_STEPS_PER_POLL && b->n < b->cap && !idle && !*eof; i++) {
        int rc = files_step(s, st, b, &idle, eof);
        if (rc) return rc;
    }
    if (idle && !b->n) sp_sleep_ns(FILES_IDLE_MS * 1000000LL);
    return 0;
}

/* ------------------------------------------------- source checkpoints */

/* The position: a version; the processed names; whether a file is being read and
 * if so its name, the offset and line number of its next record, and where its
 * CSV header ends (0 if none was read). The names are all of them, so the size
 * grows with the files the job has read, like the processed set itself. */
static int files_snapshot(sp_source *s, sp_wbuf *w)
{
    const files_state *st = s->st;
    sp_w_u8(w, FILES_STATE_VERSION);
    sp_w_varint(w, st->done.n);
    for (size_t i = 0; i < st->done.cap; i++)
        if (st->done.slots[i]) sp_w_str(w, st->done.slots[i]);
    sp_w_u8(w, st->fd >= 0);
    if (st->fd >= 0) {
        sp_w_str(w, st->cur);
        sp_w_i64(w, st->rd.consumed);
        sp_w_i64(w, st->rd.line);
        sp_w_i64(w, st->rd.header_end);
    }
    return w->err;
}

static int bad_position(void)
{
    return sp_err(SPATE_EPARSE, "source 'files': the saved position is truncated or corrupt");
}

/* A saved file name into *out (a new string); a malformed one is SPATE_EPARSE. */
static int read_name(sp_rbuf *r, char **out)
{
    size_t n = 0;
    const char *p = sp_r_bytes(r, &n);
    *out = NULL;
    if (!p || !n || memchr(p, 0, n) || memchr(p, '/', n)) return bad_position();
    *out = strndup(p, n);
    return *out ? 0 : sp_err(SPATE_ENOMEM, "out of memory");
}

static int read_done(files_state *st, sp_rbuf *r)
{
    uint64_t n = sp_r_varint(r);
    int rc = r->err ? bad_position() : 0;
    for (uint64_t i = 0; !rc && i < n; i++) {
        char *name;
        if ((rc = read_name(r, &name)) == 0) rc = name_set_add(&st->done, name);
        free(name);
    }
    return rc;
}

static int pread_full(int fd, char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = pread(fd, p + off, n - off, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        off += (size_t)k;
    }
    return 0;
}

/* Parses the file's bytes up to the end of its header again (they hold no rows),
 * so the reader has the header map, then places it at the saved record. */
static int replay_header(sp_source *s, files_state *st, int64_t consumed, int64_t line,
                         int64_t header_end)
{
    char *head = malloc((size_t)header_end + 1);
    sp_batch *scratch = sp_batch_new(1);
    int rc = !head || !scratch || sp_batch_reset(scratch, s->schema)
                 ? sp_err(SPATE_ENOMEM, "out of memory")
                 : 0;
    if (!rc && pread_full(st->fd, head, (size_t)header_end) < 0)
        rc = sp_err(SPATE_EPARSE, "source 'files': '%s/%s' is shorter than at the checkpoint",
                    st->dir, st->cur);
    if (!rc)
        rc = sp_reader_resume(&st->rd, head, (size_t)header_end, consumed, line, scratch, s->dl);
    free(head);
    if (scratch) sp_batch_free(scratch);
    return rc;
}

/* Reopens the file the checkpoint was reading at its next record; a file that
 * vanished meanwhile is skipped with a warning (and read again if it comes back). */
static int resume_file(sp_source *s, files_state *st, int64_t consumed, int64_t line,
                       int64_t header_end)
{
    char *path = file_path(st, st->cur);
    if (!path) return SPATE_ENOMEM;
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (st->fd < 0) {
        sp_log(SP_LOG_WARN, "source 'files': '%s' was being read at the checkpoint: %s; skipped",
               path, strerror(errno));
        free(path);
        return 0;
    }
    st->at_eof = 0;
    strcat(path, ":");
    int rc = sp_reader_begin(&st->rd, path);
    free(path);
    if (!rc) rc = replay_header(s, st, consumed, line, header_end);
    if (!rc && lseek(st->fd, (off_t)consumed, SEEK_SET) < 0)
        rc = sp_err(SPATE_EIO, "source 'files': cannot seek in '%s/%s': %s", st->dir, st->cur,
                    strerror(errno));
    return rc;
}

/* Processed names join the set (with those of processed.log, if any); the file
 * being read is reopened; the directory is listed again at the first poll. */
static int files_restore(sp_source *s, sp_rbuf *r)
{
    files_state *st = s->st;
    if (sp_r_u8(r) != FILES_STATE_VERSION) return bad_position();
    int rc = read_done(st, r);
    if (rc || !sp_r_u8(r)) return rc ? rc : sp_r_done(r) ? 0 : bad_position();
    char *name;
    if ((rc = read_name(r, &name)) != 0) return rc;
    int64_t consumed = sp_r_i64(r), line = sp_r_i64(r), header_end = sp_r_i64(r);
    if (!sp_r_done(r) || line < 1 || header_end < 0 || header_end > consumed) {
        free(name);
        return bad_position();
    }
    free(st->cur);
    st->cur = name;
    return resume_file(s, st, consumed, line, header_end);
}

static void files_close(sp_source *s)
{
    if (s->st) files_free(s->st);
    s->st = NULL;
}

const sp_source_class sp_files_source = {
    .name = "files",
    .help = "a directory: each new file is read once, in name order (textFileStream)",
    .opts = files_source_opts,
    .uses_format = 1,
    .parallel = 0,
    .fixed_schema = NULL,
    .open = files_open,
    .poll = files_poll,
    .close = files_close,
    .snapshot = files_snapshot,
    .restore = files_restore,
};

/* --------------------------------------------------------------- sink */

enum { SINK_PATH_BYTES = 4096, SINK_PLAIN = 1, SINK_TWO_PHASE = 2 }; /* state tags */

typedef struct files_sink_state {
    int fd;                     /* the file being written, -1 if none */
    char path[SINK_PATH_BYTES]; /* its path */
    sp_buf buf;                 /* formatted rows not written yet */
    int two_phase;              /* delivery exactly-once */
    int restored;               /* a checkpoint was restored into this instance */
    int settled;                /* restored, or known that no restore comes */
    int64_t seq;                /* two-phase: the in-progress part's number, or the next */
} files_sink_state;

static const sp_opt_def files_sink_opts[] = {
    {"path", SP_OPT_STRING, NULL, "output directory (created if missing)"}, {NULL, 0, NULL, NULL}};

/* mkdir -p: creates each missing component of dir. */
static int make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
        *c = '/';
    }
    return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static const char *format_ext(sp_format_kind k)
{
    return k == SP_FMT_JSONL ? "jsonl" : k == SP_FMT_TEXT ? "txt" : "csv";
}

static int sink_io_error(sp_sink *k, const char *what, const char *path)
{
    return sp_op_fail(k->op, SPATE_EIO, "sink 'files': cannot %s '%s': %s", what, path,
                      strerror(errno));
}

static int sink_flush(sp_sink *k, files_sink_state *st)
{
    size_t off = 0;
    while (st->fd >= 0 && off < st->buf.len) {
        ssize_t w = write(st->fd, st->buf.p + off, st->buf.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return sink_io_error(k, "write", st->path);
        off += (size_t)w;
    }
    st->buf.len = 0;
    return 0;
}

/* Writes out the buffer and makes the file durable. */
static int sink_sync(sp_sink *k, files_sink_state *st)
{
    int rc = sink_flush(k, st);
    if (!rc && st->fd >= 0 && fsync(st->fd) < 0 && errno != EINVAL)
        rc = sink_io_error(k, "sync", st->path);
    return rc;
}

/* Delivery exactly-once (sp_ctx_delivery 2) selects the two-phase mode. */
static int exactly_once(const sp_sink *k)
{
    return sp_ctx_delivery(k->op->node->ctx) == 2;
}

/* ---- part files of the two-phase mode (see the header comment) */

typedef enum { PART_NONE, PART_IN_PROGRESS, PART_PENDING, PART_PUBLISHED } part_kind;

typedef struct part_name {
    part_kind kind;
    int64_t seq, id; /* id: the checkpoint a pending part belongs to */
} part_name;

/* Where an instance's parts live. Computed from the sink, not its state, because
 * the runtime snapshots and commits a sink after its close (the final checkpoint). */
typedef struct part_dir {
    const char *dir, *ext;
    int instance;
} part_dir;

static part_dir part_dir_of(const sp_sink *k)
{
    return (part_dir){sp_opts_str(&k->opts, "path"), format_ext(k->fmt.kind), k->op->instance};
}

static void part_path(const part_dir *d, part_name p, char *out, size_t n)
{
    long long seq = (long long)p.seq, id = (long long)p.id;
    if (p.kind == PART_IN_PROGRESS)
        snprintf(out, n, "%s/.part-%05d-%06lld.inprogress", d->dir, d->instance, seq);
    else if (p.kind == PART_PENDING)
        snprintf(out, n, "%s/.part-%05d-%06lld-%lld.pending", d->dir, d->instance, seq, id);
    else
        snprintf(out, n, "%s/part-%05d-%06lld.%s", d->dir, d->instance, seq, d->ext);
}

/* Which part of instance d->instance name is, if any. */
static part_name parse_part(const part_dir *d, const char *name)
{
    part_name p = {PART_NONE, 0, 0};
    int inst = -1, end = 0;
    long long seq = 0, id = 0;
    if (sscanf(name, ".part-%d-%lld.inprogress%n", &inst, &seq, &end) == 2 && end && !name[end])
        p.kind = PART_IN_PROGRESS;
    else if (sscanf(name, ".part-%d-%lld-%lld.pending%n", &inst, &seq, &id, &end) == 3 && end &&
             !name[end])
        p.kind = PART_PENDING;
    else if (sscanf(name, "part-%d-%lld.%n", &inst, &seq, &end) == 2 && end &&
             strcmp(name + end, d->ext) == 0)
        p.kind = PART_PUBLISHED;
    if (inst != d->instance || seq < 0) p.kind = PART_NONE;
    p.seq = seq;
    p.id = id;
    return p;
}

typedef int (*part_visit)(const part_dir *d, part_name p, void *arg);

/* Calls visit for every part of this instance in the directory. */
static int scan_parts(const part_dir *d, part_visit visit, void *arg)
{
    DIR *dir = opendir(d->dir);
    if (!dir)
        return sp_err(SPATE_EIO, "sink 'files': cannot list '%s': %s", d->dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(dir))) {
        part_name p = parse_part(d, e->d_name);
        if (p.kind != PART_NONE) rc = visit(d, p, arg);
    }
    closedir(dir);
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 || (fsync(fd) < 0 && errno != EINVAL) ? -1 : 0;
    if (fd >= 0) close(fd);
    return rc ? sp_err(SPATE_EIO, "sink 'files': cannot sync '%s': %s", dir, strerror(errno)) : 0;
}

/* Renames a part; with missing_ok a source that is gone is not an error. */
static int move_part(const part_dir *d, part_name from, part_name to, int missing_ok)
{
    char a[SINK_PATH_BYTES], b[SINK_PATH_BYTES];
    part_path(d, from, a, sizeof a);
    part_path(d, to, b, sizeof b);
    if (rename(a, b) == 0 || (missing_ok && errno == ENOENT)) return 0;
    return sp_err(SPATE_EIO, "sink 'files': cannot rename '%s' to '%s': %s", a, b, strerror(errno));
}

static int max_seq(const part_dir *d, part_name p, void *arg)
{
    int64_t *next = arg;
    if (p.seq >= *next) *next = p.seq + 1;
    return 0;
}

/* Deletes in-progress and pending parts (each run calls it before writing any). */
static int drop_unpublished(const part_dir *d, part_name p, void *arg)
{
    char path[SINK_PATH_BYTES];
    if (p.kind == PART_PUBLISHED) return 0;
    part_path(d, p, path, sizeof path);
    if (unlink(path) == 0 || errno == ENOENT) return 0;
    return sp_err(SPATE_EIO, "sink 'files': cannot delete '%s': %s", path, strerror(errno));
}

/* The in-progress part (one at most: the run's current one) becomes pending under id. */
static int make_pending(const part_dir *d, part_name p, void *arg)
{
    if (p.kind != PART_IN_PROGRESS) return 0;
    return move_part(d, p, (part_name){PART_PENDING, p.seq, *(const int64_t *)arg}, 0);
}

static int record_pending(const part_dir *d, part_name p, void *arg)
{
    sp_wbuf *w = arg;
    if (p.kind != PART_PENDING) return 0;
    sp_w_u8(w, 1);
    sp_w_varint(w, (uint64_t)p.seq);
    sp_w_varint(w, (uint64_t)p.id);
    return 0;
}

typedef struct publish_arg {
    int64_t id;
    int moved;
} publish_arg;

static int publish_upto(const part_dir *d, part_name p, void *arg)
{
    publish_arg *a = arg;
    if (p.kind != PART_PENDING || p.id > a->id) return 0;
    a->moved++;
    return move_part(d, p, (part_name){PART_PUBLISHED, p.seq, 0}, 0);
}

/* Pre-commit: the pending parts after the in-progress one joined them, listed
 * (1, seq, id)... 0 after the tag. */
static int two_phase_snapshot(const part_dir *d, int64_t id, sp_wbuf *w)
{
    int rc = scan_parts(d, make_pending, &id);
    if (!rc) rc = sync_dir(d->dir);
    sp_w_u8(w, SINK_TWO_PHASE);
    if (!rc) rc = scan_parts(d, record_pending, w);
    sp_w_u8(w, 0);
    return rc ? rc : w->err;
}

static int two_phase_commit(const part_dir *d, int64_t id)
{
    publish_arg a = {id, 0};
    int rc = scan_parts(d, publish_upto, &a);
    return !rc && a.moved ? sync_dir(d->dir) : rc;
}

/* Publishes the parts a restored checkpoint recorded (a part already published
 * by its commit is skipped), then drops every other unpublished one. */
static int two_phase_restore(const part_dir *d, sp_rbuf *r)
{
    int rc = 0;
    while (!rc && !r->err && sp_r_u8(r)) {
        int64_t seq = (int64_t)sp_r_varint(r), id = (int64_t)sp_r_varint(r);
        if (!r->err)
            rc = move_part(d, (part_name){PART_PENDING, seq, id},
                           (part_name){PART_PUBLISHED, seq, 0}, 1);
    }
    if (!rc && !sp_r_done(r))
        return sp_err(SPATE_EPARSE, "sink 'files': the saved part list is truncated or corrupt");
    if (!rc) rc = scan_parts(d, drop_unpublished, NULL);
    return rc ? rc : sync_dir(d->dir);
}

/* Starts the next in-progress part (on the first rows after open or a barrier). */
static int begin_part(sp_sink *k, files_sink_state *st)
{
    part_dir d = part_dir_of(k);
    part_path(&d, (part_name){PART_IN_PROGRESS, st->seq, 0}, st->path, sizeof st->path);
    st->fd = open(st->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (st->fd < 0) return sink_io_error(k, "create", st->path);
    return sp_format_write_header(&k->fmt, &st->buf) ? sp_err(SPATE_ENOMEM, "out of memory") : 0;
}

/* Ends the in-progress part: durable, closed; the next rows start another. */
static int end_part(sp_sink *k, files_sink_state *st)
{
    if (st->fd < 0) return 0;
    int rc = sink_sync(k, st);
    close(st->fd);
    st->fd = -1;
    st->seq++;
    return rc;
}

/* ---- both modes */

/* Runs once, before the instance writes anything, when no restore came: a fresh
 * run. Plain mode starts the file over; two-phase mode drops the unpublished
 * parts earlier runs left (no checkpoint recorded them). */
static int settle(sp_sink *k, files_sink_state *st)
{
    if (st->settled) return 0;
    st->settled = 1;
    if (st->two_phase) {
        part_dir d = part_dir_of(k);
        return scan_parts(&d, drop_unpublished, NULL);
    }
    if (ftruncate(st->fd, 0) < 0) return sink_io_error(k, "truncate", st->path);
    return sp_format_write_header(&k->fmt, &st->buf) ? sp_err(SPATE_ENOMEM, "out of memory") : 0;
}

/* Plain mode: PATH/part-00000.EXT, opened for appending; settle or restore
 * decides whether it starts over. Two-phase mode: the next part number. */
static int files_sink_setup(sp_sink *k, files_sink_state *st)
{
    const char *dir = sp_opts_str(&k->opts, "path");
    if (strlen(dir) > SINK_PATH_BYTES - 64)
        return sp_err(SPATE_EINVAL, "sink 'files': path '%s' is too long", dir);
    if (make_dirs(dir) < 0)
        return sp_err(SPATE_EIO, "sink 'files': cannot create directory '%s': %s", dir,
                      strerror(errno));
    st->two_phase = exactly_once(k);
    if (st->two_phase) {
        part_dir d = part_dir_of(k);
        return scan_parts(&d, max_seq, &st->seq);
    }
    snprintf(st->path, sizeof st->path, "%s/part-00000.%s", dir, format_ext(k->fmt.kind));
    st->fd = open(st->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return st->fd < 0 ? sink_io_error(k, "create", st->path) : 0;
}

static void files_sink_free(files_sink_state *st)
{
    if (st->fd >= 0) close(st->fd);
    sp_buf_free(&st->buf);
    free(st);
}

static int files_sink_open(sp_sink *k)
{
    files_sink_state *st = calloc(1, sizeof *st);
    if (!st) return sp_err(SPATE_ENOMEM, "out of memory");
    st->fd = -1;
    int rc = files_sink_setup(k, st);
    if (rc) {
        files_sink_free(st);
        return rc;
    }
    k->st = st;
    return 0;
}

static int files_sink_write(sp_sink *k, const sp_batch *b)
{
    files_sink_state *st = k->st;
    uint32_t n = sp_batch_count(b);
    int rc = settle(k, st);
    if (!rc && n && st->two_phase && st->fd < 0) rc = begin_part(k, st);
    for (uint32_t i = 0; !rc && i < n; i++)
        if (sp_format_write_row(&k->fmt, b, sp_batch_phys(b, i), &st->buf))
            rc = sp_err(SPATE_ENOMEM, "out of memory");
    return !rc && st->buf.len >= SINK_FLUSH_BYTES ? sink_flush(k, st) : rc;
}

static int files_sink_epoch(sp_sink *k, int64_t time_ms)
{
    files_sink_state *st = k->st;
    int rc = settle(k, st);
    return rc ? rc : sink_flush(k, st);
}

/* At the end of a run the in-progress part stays unpublished: the runtime's final
 * checkpoint makes it pending and its commit publishes it. */
static int files_sink_close(sp_sink *k)
{
    files_sink_state *st = k->st;
    int rc = settle(k, st);
    if (!rc) rc = sink_sync(k, st);
    files_sink_free(st);
    k->st = NULL;
    return rc;
}

/* Plain mode: the file is made durable, so what came before the barrier survives a
 * crash (at-least-once); two-phase mode pre-commits. k->st is NULL after close. */
static int files_sink_snapshot(sp_sink *k, int64_t id, sp_wbuf *w)
{
    files_sink_state *st = k->st;
    int rc = st ? settle(k, st) : 0;
    if (!rc && st) rc = st->two_phase ? end_part(k, st) : sink_sync(k, st);
    if (rc) return rc;
    if (!exactly_once(k)) {
        sp_w_u8(w, SINK_PLAIN);
        return w->err;
    }
    part_dir d = part_dir_of(k);
    return two_phase_snapshot(&d, id, w);
}

static int files_sink_commit(sp_sink *k, int64_t id)
{
    files_sink_state *st = k->st;
    int rc = st ? settle(k, st) : 0;
    if (rc || !exactly_once(k)) return rc;
    part_dir d = part_dir_of(k);
    return two_phase_commit(&d, id);
}

/* Plain mode appends to what the restored run wrote (rows after the checkpoint
 * come again: at-least-once). Two-phase mode resolves the parts. */
static int files_sink_restore(sp_sink *k, sp_rbuf *r)
{
    files_sink_state *st = k->st;
    st->restored = st->settled = 1;
    uint8_t tag = sp_r_u8(r);
    if (tag != SINK_PLAIN && tag != SINK_TWO_PHASE)
        return sp_err(SPATE_EPARSE, "sink 'files': the saved state is truncated or corrupt");
    if (!st->two_phase) return 0;
    part_dir d = part_dir_of(k);
    return tag == SINK_TWO_PHASE ? two_phase_restore(&d, r)
                                 : scan_parts(&d, drop_unpublished, NULL);
}

const sp_sink_class sp_files_sink = {
    .name = "files",
    .help = "rows written to PATH/part-00000.EXT (exactly-once: PATH/part-I-N.EXT parts)",
    .opts = files_sink_opts,
    .uses_format = 1,
    .open = files_sink_open,
    .write = files_sink_write,
    .epoch = files_sink_epoch,
    .close = files_sink_close,
    .snapshot = files_sink_snapshot,
    .restore = files_sink_restore,
    .commit = files_sink_commit,
};
