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

/* ------------------------------------------------------------ name set */

typedef struct name_set {
    char **slots;      /* open addressing, linear probing; NULL = empty */
    size_t cap, n;     /* cap is a power of two, kept at most half full */
} name_set;

static size_t name_slot(const name_set *ns, const char *name)
{
    size_t i = (size_t)sp_hash_bytes(0, name, strlen(name)) & (ns->cap - 1);
    while (ns->slots[i] && strcmp(ns->slots[i], name) != 0) i = (i + 1) & (ns->cap - 1);
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
    for (size_t i = 0; i < ns->cap; i++) free(ns->slots[i]);
    free(ns->slots);
    memset(ns, 0, sizeof *ns);
}

/* ------------------------------------------------------------- source */

typedef struct files_state {
    sp_reader rd;
    const char *dir, *pattern;
    int once, listed_once;
    int64_t interval_ns, next_scan_ns;
    name_set done;             /* processed names */
    int log_fd;                /* processed.log, -1 if none */
    char **todo;               /* names of the last listing still to read, sorted */
    size_t ntodo, itodo, captodo;
    int fd;                    /* file being read, -1 if none */
    int at_eof;                /* fd reached its end; the reader drains its tail */
    char *cur;                 /* name of that file */
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
    for (size_t i = st->itodo; i < st->ntodo; i++) free(st->todo[i]);
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

/* Opens the next listed file; a file that vanished meanwhile is skipped. */
static int open_next(sp_source *s, files_state *st)
{
    free(st->cur);
    st->cur = st->todo[st->itodo++];
    size_t n = strlen(st->dir) + strlen(st->cur) + 3;
    char *path = malloc(n);
    if (!path) return sp_err(SPATE_ENOMEM, "out of memory");
    snprintf(path, n, "%s/%s", st->dir, st->cur);
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
    .replayable = 0,
    .fixed_schema = NULL,
    .open = files_open,
    .poll = files_poll,
    .close = files_close,
};

/* --------------------------------------------------------------- sink */

typedef struct files_sink_state {
    int fd;
    char *path;
    sp_buf buf;
} files_sink_state;

static const sp_opt_def files_sink_opts[] = {
    {"path", SP_OPT_STRING, NULL, "output directory (created if missing)"},
    {NULL, 0, NULL, NULL}};

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

static int sink_flush(sp_sink *k, files_sink_state *st)
{
    size_t off = 0;
    while (off < st->buf.len) {
        ssize_t w = write(st->fd, st->buf.p + off, st->buf.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return sp_op_fail(k->op, SPATE_EIO, "sink 'files': cannot write '%s': %s", st->path,
                              strerror(errno));
        off += (size_t)w;
    }
    st->buf.len = 0;
    return 0;
}

static int files_sink_setup(sp_sink *k, files_sink_state *st)
{
    const char *dir = sp_opts_str(&k->opts, "path");
    if (make_dirs(dir) < 0)
        return sp_err(SPATE_EIO, "sink 'files': cannot create directory '%s': %s", dir,
                      strerror(errno));
    size_t n = strlen(dir) + 32;
    st->path = malloc(n);
    if (!st->path) return sp_err(SPATE_ENOMEM, "out of memory");
    snprintf(st->path, n, "%s/part-00000.%s", dir, format_ext(k->fmt.kind));
    st->fd = open(st->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (st->fd < 0)
        return sp_err(SPATE_EIO, "sink 'files': cannot create '%s': %s", st->path,
                      strerror(errno));
    return sp_format_write_header(&k->fmt, &st->buf) ? sp_err(SPATE_ENOMEM, "out of memory") : 0;
}

static void files_sink_free(files_sink_state *st)
{
    if (st->fd >= 0) close(st->fd);
    sp_buf_free(&st->buf);
    free(st->path);
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
    for (uint32_t i = 0; i < n; i++)
        if (sp_format_write_row(&k->fmt, b, sp_batch_phys(b, i), &st->buf))
            return sp_err(SPATE_ENOMEM, "out of memory");
    return st->buf.len >= SINK_FLUSH_BYTES ? sink_flush(k, st) : 0;
}

static int files_sink_epoch(sp_sink *k, int64_t time_ms)
{
    return sink_flush(k, k->st);
}

static int files_sink_close(sp_sink *k)
{
    files_sink_state *st = k->st;
    int rc = sink_flush(k, st);
    if (!rc && fsync(st->fd) < 0 && errno != EINVAL)
        rc = sp_op_fail(k->op, SPATE_EIO, "sink 'files': cannot sync '%s': %s", st->path,
                        strerror(errno));
    files_sink_free(st);
    k->st = NULL;
    return rc;
}

const sp_sink_class sp_files_sink = {
    .name = "files",
    .help = "rows written to PATH/part-00000.EXT in a text format",
    .opts = files_sink_opts,
    .uses_format = 1,
    .open = files_sink_open,
    .write = files_sink_write,
    .epoch = files_sink_epoch,
    .close = files_sink_close,
};
