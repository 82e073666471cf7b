/*
 * store.c - checkpoint directories on a POSIX file system.
 *
 * Design choices:
 * - Every state file is fsynced by the worker that wrote it, in parallel, before the
 *   coordinator writes the MANIFEST. The MANIFEST is written last because its presence
 *   is the claim "everything listed here is on disk": it lists each file with its size
 *   and CRC and ends with a CRC of itself, so a manifest torn by a crash, or a state file
 *   damaged later, is detected instead of restored.
 * - Visibility is one rename(2) of chk-N.tmp to chk-N, which POSIX makes atomic. The
 *   checkpoint directory is fsynced before the rename (so the entries of the files exist)
 *   and DIR after it (so the rename itself survives a power loss). A crash at any point
 *   leaves either a complete chk-N or a chk-N.tmp, which the next open removes.
 * - CRC-32C (see serde.c) on every file: cheap next to the write, and it catches the
 *   bit rot and torn writes that file sizes alone would not.
 * - Readers trust nothing: sp_ckpt_latest re-reads every byte of a candidate, and skips
 *   (with a warning) to the next older checkpoint when anything is missing or wrong.
 *   Files are read through a fixed chunk when only verified, and into one buffer per
 *   checkpoint when loaded.
 * - Pruning runs after the new checkpoint is durable and considers only checkpoints
 *   numbered up to it, so a commit never deletes the checkpoint it just wrote nor
 *   depends on an older one still being there.
 *
 * MANIFEST layout (serde.h encodings): 8 bytes magic "SPCKPT\r\n", u32 format version
 * (1), i64 n, bytes meta, varint file count, then per file in strictly increasing name
 * order: bytes name (including a terminating NUL), u64 size, u32 CRC-32C; and last a
 * u32 CRC-32C of all the bytes before it.
 */
#include "checkpoint/store.h"

#include "checkpoint/serde.h"
#include "core/error.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_VERSION 1u
static const char manifest_magic[8] = {'S', 'P', 'C', 'K', 'P', 'T', '\r', '\n'};

typedef struct ckpt_file {
    const char *name; /* owned by a pending checkpoint, or inside a manifest buffer */
    uint64_t size;
    uint32_t crc;
    const uint8_t *data; /* content, in a loaded view */
} ckpt_file;

/* A checkpoint between begin and commit/abort. */
typedef struct pending {
    int64_t n;
    int nfiles, cap;
    ckpt_file *files;
    struct pending *next;
} pending;

struct sp_ckpt_store {
    char *dir;
    int keep;
    int64_t last_begun;
    pthread_mutex_t mu; /* guards pending and last_begun */
    pending *pending;
};

/* A parsed, CRC-checked MANIFEST. */
typedef struct manifest {
    uint8_t *buf;
    const void *meta;
    size_t meta_len;
    int nfiles;
    ckpt_file *files;
} manifest;

struct sp_ckpt_view {
    manifest m;
    uint8_t *data; /* every file's content, back to back */
};

/* Checkpoint numbers found in DIR. */
typedef struct nlist {
    int64_t *v;
    int count, cap;
} nlist;

/* ------------------------------------------------------------ paths and I/O */

static int io_err(const char *what, const char *path)
{
    return sp_err(SPATE_EIO, "checkpoint: cannot %s %s: %s", what, path, strerror(errno));
}

/* DIR/chk-N<suffix>[/name] into buf (PATH_MAX bytes). */
static int ckpt_path(char *buf, const sp_ckpt_store *s, int64_t n, const char *suffix,
                     const char *name)
{
    int len = snprintf(buf, PATH_MAX, "%s/chk-%lld%s%s%s", s->dir, (long long)n, suffix,
                       name ? "/" : "", name ? name : "");
    if (len < 0 || len >= PATH_MAX)
        return sp_err(SPATE_EINVAL, "checkpoint path too long under %s", s->dir);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Creates path (which must not exist), writes data and fsyncs it. SPATE_EIO with the
 * path and strerror; errno is kept for the caller. */
static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_err("create", path);
    if (write_all(fd, data, len) || fsync(fd)) {
        int rc = io_err("write", path), saved = errno;
        close(fd);
        errno = saved;
        return rc;
    }
    if (close(fd)) return io_err("close", path);
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_err("open directory", path);
    int rc = fsync(fd) ? io_err("fsync directory", path) : 0;
    close(fd);
    return rc;
}

/* Removes a checkpoint directory and the files in it (checkpoints hold no subdirectories).
 * A directory that does not exist is already removed. */
static int remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 0 : io_err("open directory", path);
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && unlinkat(dirfd(d), e->d_name, 0))
            rc = io_err("remove a file in", path);
    closedir(d);
    if (!rc && rmdir(path)) rc = io_err("remove", path);
    return rc;
}

static int mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return sp_err(SPATE_EINVAL, "checkpoint directory path too long: %s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) && errno != EEXIST) return io_err("create directory", path);
        *p = '/';
    }
    if (mkdir(path, 0755) && errno != EEXIST) return io_err("create directory", path);
    return 0;
}

/* Reads exactly size bytes of fd into dst, or through a chunk when dst is NULL, and
 * returns their CRC in *crc. */
static int read_exact(int fd, const char *path, uint8_t *dst, uint64_t size, uint32_t *crc)
{
    uint8_t chunk[16384];
    *crc = 0;
    for (uint64_t off = 0; off < size;) {
        uint8_t *p = dst ? dst + off : chunk;
        size_t want = dst || size - off < sizeof chunk ? (size_t)(size - off) : sizeof chunk;
        ssize_t r = read(fd, p, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_err("read", path);
        if (r == 0) return sp_err(SPATE_EPARSE, "%s: file shrank while being read", path);
        *crc = sp_crc32c(*crc, p, (size_t)r);
        off += (uint64_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------ directory scan */

static int nlist_add(nlist *l, int64_t n)
{
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        int64_t *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return sp_err(SPATE_ENOMEM, "out of memory listing checkpoints");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->count++] = n;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Parses "chk-N" or "chk-N.tmp" (N > 0, decimal); 1 when name is either. */
static int parse_ckpt_name(const char *name, int64_t *n, int *tmp)
{
    if (strncmp(name, "chk-", 4) || name[4] < '1' || name[4] > '9') return 0;
    int64_t v = 0;
    const char *p = name + 4;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    *tmp = strcmp(p, ".tmp") == 0;
    *n = v;
    return *tmp || *p == '\0';
}

/* Lists DIR's complete checkpoints (newest first) and, when tmp is not NULL, the
 * numbers of its chk-N.tmp directories. */
static int scan_dir(const sp_ckpt_store *s, nlist *complete, nlist *tmp)
{
    DIR *d = opendir(s->dir);
    if (!d) return io_err("open directory", s->dir);
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        int64_t n;
        int is_tmp;
        if (!parse_ckpt_name(e->d_name, &n, &is_tmp)) continue;
        if (!is_tmp)
            rc = nlist_add(complete, n);
        else if (tmp)
            rc = nlist_add(tmp, n);
    }
    closedir(d);
    if (complete->count) qsort(complete->v, (size_t)complete->count, sizeof(int64_t), cmp_desc);
    return rc;
}

/* ------------------------------------------------------------ store */

static int remove_leftovers(sp_ckpt_store *s)
{
    nlist complete = {0}, tmp = {0};
    int rc = scan_dir(s, &complete, &tmp);
    for (int i = 0; !rc && i < tmp.count; i++) {
        char path[PATH_MAX];
        rc = ckpt_path(path, s, tmp.v[i], ".tmp", NULL);
        if (!rc) rc = remove_dir(path);
        if (!rc) sp_log(SP_LOG_INFO, "removed unfinished checkpoint %s", path);
    }
    free(complete.v);
    free(tmp.v);
    return rc;
}

int sp_ckpt_store_open(const char *dir, int keep, sp_ckpt_store **out)
{
    *out = NULL;
    if (!dir || !*dir) return sp_err(SPATE_EINVAL, "checkpoint directory is empty");
    if (keep < 1) return sp_err(SPATE_EINVAL, "checkpoints to keep must be >= 1, not %d", keep);
    int rc = mkdir_p(dir);
    if (rc) return rc;
    sp_ckpt_store *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return sp_err(SPATE_ENOMEM, "out of memory opening checkpoint store");
    }
    s->keep = keep;
    pthread_mutex_init(&s->mu, NULL);
    rc = remove_leftovers(s);
    if (rc) {
        sp_ckpt_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void pending_free(pending *p)
{
    for (int i = 0; i < p->nfiles; i++)
        free((char *)p->files[i].name);
    free(p->files);
    free(p);
}

void sp_ckpt_store_close(sp_ckpt_store *s)
{
    if (!s) return;
    while (s->pending) {
        pending *p = s->pending;
        s->pending = p->next;
        pending_free(p);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->dir);
    free(s);
}

/* The pending checkpoint n, or NULL; under s->mu. */
static pending *pending_find(sp_ckpt_store *s, int64_t n)
{
    pending *p = s->pending;
    while (p && p->n != n)
        p = p->next;
    return p;
}

/* Unlinks and returns the pending checkpoint n, or NULL. */
static pending *pending_take(sp_ckpt_store *s, int64_t n)
{
    pthread_mutex_lock(&s->mu);
    pending **pp = &s->pending;
    while (*pp && (*pp)->n != n)
        pp = &(*pp)->next;
    pending *p = *pp;
    if (p) *pp = p->next;
    pthread_mutex_unlock(&s->mu);
    return p;
}

static int not_in_progress(int64_t n)
{
    return sp_err(SPATE_ESTATE, "checkpoint %lld is not in progress", (long long)n);
}

int sp_ckpt_begin(sp_ckpt_store *s, int64_t n)
{
    char path[PATH_MAX];
    int rc = ckpt_path(path, s, n, ".tmp", NULL);
    if (rc) return rc;
    pending *p = calloc(1, sizeof *p);
    if (!p) return sp_err(SPATE_ENOMEM, "out of memory beginning checkpoint %lld", (long long)n);
    p->n = n;
    pthread_mutex_lock(&s->mu);
    if (n <= 0 || n <= s->last_begun)
        rc = sp_err(SPATE_EINVAL, "checkpoint %lld must be > 0 and > %lld, the last begun",
                    (long long)n, (long long)s->last_begun);
    else if (mkdir(path, 0755))
        rc = io_err("create directory", path);
    if (!rc) {
        s->last_begun = n;
        p->next = s->pending;
        s->pending = p;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) free(p);
    return rc;
}

static int valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > SP_CKPT_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, MANIFEST_NAME) == 0)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Appends (name, len, crc) to pending checkpoint n; name is taken over. */
static int record_file(sp_ckpt_store *s, int64_t n, char *name, size_t len, uint32_t crc)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    pending *p = pending_find(s, n);
    if (!p) {
        rc = not_in_progress(n);
    } else if (p->nfiles == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        ckpt_file *f = realloc(p->files, (size_t)cap * sizeof *f);
        if (f) {
            p->files = f;
            p->cap = cap;
        } else {
            rc = sp_err(SPATE_ENOMEM, "out of memory recording checkpoint file %s", name);
        }
    }
    if (!rc) p->files[p->nfiles++] = (ckpt_file){name, len, crc, NULL};
    pthread_mutex_unlock(&s->mu);
    if (rc) free(name);
    return rc;
}

int sp_ckpt_put(sp_ckpt_store *s, int64_t n, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    if (!valid_name(name))
        return sp_err(SPATE_EINVAL, "bad checkpoint file name '%s' (want [A-Za-z0-9._-]+)", name);
    int rc = ckpt_path(path, s, n, ".tmp", name);
    if (rc) return rc;
    pthread_mutex_lock(&s->mu);
    int known = pending_find(s, n) != NULL;
    pthread_mutex_unlock(&s->mu);
    if (!known) return not_in_progress(n);
    rc = write_file(path, data, len);
    if (rc && errno == EEXIST)
        return sp_err(SPATE_EINVAL, "checkpoint %lld already has a file '%s'", (long long)n, name);
    if (rc) return rc;
    char *copy = strdup(name);
    if (!copy) return sp_err(SPATE_ENOMEM, "out of memory recording checkpoint file %s", name);
    return record_file(s, n, copy, len, sp_crc32c(0, data, len));
}

static int cmp_file_name(const void *a, const void *b)
{
    return strcmp(((const ckpt_file *)a)->name, ((const ckpt_file *)b)->name);
}

static void build_manifest(sp_wbuf *w, const pending *p, const void *meta, size_t meta_len)
{
    sp_w_raw(w, manifest_magic, sizeof manifest_magic);
    sp_w_u32(w, MANIFEST_VERSION);
    sp_w_i64(w, p->n);
    sp_w_bytes(w, meta, meta_len);
    sp_w_varint(w, (uint64_t)p->nfiles);
    for (int i = 0; i < p->nfiles; i++) {
        sp_w_bytes(w, p->files[i].name, strlen(p->files[i].name) + 1);
        sp_w_u64(w, p->files[i].size);
        sp_w_u32(w, p->files[i].crc);
    }
    if (!w->err) sp_w_u32(w, sp_crc32c(0, w->p, w->len));
}

/* Deletes complete checkpoints numbered up to n beyond the newest `keep`; only logs
 * failures, since checkpoint n is already durable. */
static void prune(sp_ckpt_store *s, int64_t n)
{
    nlist complete = {0};
    int kept = 0;
    if (scan_dir(s, &complete, NULL))
        sp_log(SP_LOG_WARN, "not pruning old checkpoints: %s", spate_last_error());
    for (int i = 0; i < complete.count; i++) {
        char path[PATH_MAX];
        if (complete.v[i] > n || ++kept <= s->keep) continue;
        if (ckpt_path(path, s, complete.v[i], "", NULL) || remove_dir(path))
            sp_log(SP_LOG_WARN, "cannot prune old checkpoint: %s", spate_last_error());
    }
    free(complete.v);
}

/* Writes p's MANIFEST into chk-N.tmp and renames the directory into place; an existing
 * chk-N (a corrupt one, from before a recovery to an older checkpoint) is replaced. */
static int publish(sp_ckpt_store *s, const pending *p, const void *meta, size_t meta_len)
{
    char tmp[PATH_MAX], final[PATH_MAX], man[PATH_MAX];
    int rc = ckpt_path(tmp, s, p->n, ".tmp", NULL);
    if (!rc) rc = ckpt_path(final, s, p->n, "", NULL);
    if (!rc) rc = ckpt_path(man, s, p->n, ".tmp", MANIFEST_NAME);
    if (rc) return rc;
    sp_wbuf w = {0};
    build_manifest(&w, p, meta, meta_len);
    rc =
        w.err ? sp_err(SPATE_ENOMEM, "out of memory writing %s", man) : write_file(man, w.p, w.len);
    sp_wbuf_free(&w);
    if (!rc) rc = fsync_dir(tmp);
    if (!rc) rc = remove_dir(final);
    if (!rc && rename(tmp, final)) rc = io_err("rename into place", tmp);
    if (!rc) rc = fsync_dir(s->dir);
    return rc;
}

int sp_ckpt_commit(sp_ckpt_store *s, int64_t n, const void *meta, size_t meta_len)
{
    pthread_mutex_lock(&s->mu);
    pending *p = pending_find(s, n);
    if (p && p->nfiles) qsort(p->files, (size_t)p->nfiles, sizeof *p->files, cmp_file_name);
    pthread_mutex_unlock(&s->mu);
    if (!p) return not_in_progress(n);
    int rc = publish(s, p, meta, meta_len);
    if (rc) return rc;
    pending_free(pending_take(s, n));
    prune(s, n);
    return 0;
}

void sp_ckpt_abort(sp_ckpt_store *s, int64_t n)
{
    char path[PATH_MAX];
    pending *p = pending_take(s, n);
    if (p) pending_free(p);
    if (ckpt_path(path, s, n, ".tmp", NULL) || remove_dir(path))
        sp_log(SP_LOG_WARN, "aborting checkpoint %lld: %s", (long long)n, spate_last_error());
}

/* ------------------------------------------------------------ reading */

static void manifest_free(manifest *m)
{
    free(m->buf);
    free(m->files);
    memset(m, 0, sizeof *m);
}

/* Reads the whole MANIFEST at path into a new buffer. */
static int read_manifest_bytes(const char *path, uint8_t **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return sp_err(SPATE_EPARSE, "missing MANIFEST (torn checkpoint)");
    if (fd < 0) return io_err("open", path);
    struct stat st;
    uint32_t crc;
    int rc = fstat(fd, &st) ? io_err("stat", path) : 0;
    *buf = rc ? NULL : malloc((size_t)st.st_size + 1);
    if (!rc && !*buf) rc = sp_err(SPATE_ENOMEM, "out of memory reading %s", path);
    if (!rc) rc = read_exact(fd, path, *buf, (uint64_t)st.st_size, &crc);
    close(fd);
    *len = rc ? 0 : (size_t)st.st_size;
    if (rc) free(*buf);
    return rc;
}

static int parse_file_entry(sp_rbuf *r, ckpt_file *f, const ckpt_file *prev)
{
    size_t len;
    const char *name = sp_r_bytes(r, &len);
    f->size = sp_r_u64(r);
    f->crc = sp_r_u32(r);
    if (r->err || len < 2 || name[len - 1] != '\0' || strlen(name) != len - 1 || !valid_name(name))
        return sp_err(SPATE_EPARSE, "malformed MANIFEST file entry");
    if (prev && strcmp(prev->name, name) >= 0)
        return sp_err(SPATE_EPARSE, "malformed MANIFEST: files out of name order");
    f->name = name;
    return 0;
}

/* Parses the CRC-checked body of m->buf (len bytes without the trailing CRC). */
static int parse_manifest(manifest *m, size_t len, int64_t n)
{
    sp_rbuf r;
    char magic[sizeof manifest_magic];
    sp_rbuf_init(&r, m->buf, len);
    sp_r_raw(&r, magic, sizeof magic);
    uint32_t version = sp_r_u32(&r);
    int64_t mn = sp_r_i64(&r);
    m->meta = sp_r_bytes(&r, &m->meta_len);
    uint64_t count = sp_r_varint(&r);
    if (r.err || memcmp(magic, manifest_magic, sizeof magic))
        return sp_err(SPATE_EPARSE, "malformed MANIFEST header");
    if (version != MANIFEST_VERSION)
        return sp_err(SPATE_EPARSE, "MANIFEST format version %u is not supported", version);
    if (mn != n) return sp_err(SPATE_EPARSE, "MANIFEST names checkpoint %lld", (long long)mn);
    if (count > len) return sp_err(SPATE_EPARSE, "malformed MANIFEST file count");
    m->files = calloc(count ? count : 1, sizeof *m->files);
    if (!m->files) return sp_err(SPATE_ENOMEM, "out of memory reading MANIFEST");
    for (m->nfiles = 0; (uint64_t)m->nfiles < count; m->nfiles++) {
        ckpt_file *f = &m->files[m->nfiles];
        int rc = parse_file_entry(&r, f, m->nfiles ? f - 1 : NULL);
        if (rc) return rc;
    }
    if (!sp_r_done(&r)) return sp_err(SPATE_EPARSE, "malformed MANIFEST: trailing bytes");
    return 0;
}

/* Reads, CRC-checks and parses chk-N/MANIFEST. */
static int read_manifest(sp_ckpt_store *s, int64_t n, manifest *m)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    size_t len = 0; /* set by read_manifest_bytes unless it fails */
    memset(m, 0, sizeof *m);
    int rc = ckpt_path(dir, s, n, "", NULL);
    if (!rc) rc = ckpt_path(path, s, n, "", MANIFEST_NAME);
    if (rc) return rc;
    if (stat(dir, &st) && errno == ENOENT) return sp_err(SPATE_ENOTFOUND, "no checkpoint %s", dir);
    rc = read_manifest_bytes(path, &m->buf, &len);
    if (rc) return rc;
    sp_rbuf tail;
    sp_rbuf_init(&tail, m->buf + (len < 4 ? 0 : len - 4), len < 4 ? 0 : 4);
    uint32_t crc = sp_r_u32(&tail);
    if (tail.err || sp_crc32c(0, m->buf, len - 4) != crc)
        rc = sp_err(SPATE_EPARSE, "bad MANIFEST CRC");
    if (!rc) rc = parse_manifest(m, len - 4, n);
    if (rc) manifest_free(m);
    return rc;
}

/* Checks that file f of checkpoint n has its recorded size and CRC, reading it into dst
 * (f->size bytes) or, when dst is NULL, only through a chunk. */
static int verify_file(sp_ckpt_store *s, int64_t n, const ckpt_file *f, uint8_t *dst)
{
    char path[PATH_MAX];
    struct stat st;
    uint32_t crc;
    int rc = ckpt_path(path, s, n, "", f->name);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return sp_err(SPATE_EPARSE, "missing file '%s'", f->name);
    if (fd < 0) return io_err("open", path);
    rc = fstat(fd, &st) ? io_err("stat", path) : 0;
    if (!rc && (uint64_t)st.st_size != f->size)
        rc = sp_err(SPATE_EPARSE, "size mismatch in '%s': MANIFEST says %llu bytes, file has %lld",
                    f->name, (unsigned long long)f->size, (long long)st.st_size);
    if (!rc) rc = read_exact(fd, path, dst, f->size, &crc);
    if (!rc && crc != f->crc) rc = sp_err(SPATE_EPARSE, "CRC mismatch in '%s'", f->name);
    close(fd);
    return rc;
}

static int verify_checkpoint(sp_ckpt_store *s, int64_t n)
{
    manifest m;
    int rc = read_manifest(s, n, &m);
    for (int i = 0; !rc && i < m.nfiles; i++)
        rc = verify_file(s, n, &m.files[i], NULL);
    manifest_free(&m);
    return rc;
}

int sp_ckpt_latest(sp_ckpt_store *s, int64_t *n)
{
    nlist complete = {0};
    int rc = scan_dir(s, &complete, NULL);
    for (int i = 0; !rc && i < complete.count; i++) {
        if (verify_checkpoint(s, complete.v[i]) == 0) {
            *n = complete.v[i];
            free(complete.v);
            return 0;
        }
        sp_log(SP_LOG_WARN, "checkpoint %s/chk-%lld is torn or corrupt, skipped: %s", s->dir,
               (long long)complete.v[i], spate_last_error());
    }
    free(complete.v);
    return rc ? rc : sp_err(SPATE_ENOTFOUND, "no complete checkpoint in %s", s->dir);
}

/* Sum of the recorded sizes of m's files; SPATE_EPARSE when it cannot be held in memory. */
static int manifest_total(const manifest *m, size_t *total)
{
    *total = 0;
    for (int i = 0; i < m->nfiles; i++) {
        if (m->files[i].size > SIZE_MAX - 1 - *total)
            return sp_err(SPATE_EPARSE, "MANIFEST records more bytes than fit in memory");
        *total += (size_t)m->files[i].size;
    }
    return 0;
}

int sp_ckpt_load(sp_ckpt_store *s, int64_t n, sp_ckpt_view **out)
{
    size_t total, off = 0;
    *out = NULL;
    sp_ckpt_view *v = calloc(1, sizeof *v);
    if (!v) return sp_err(SPATE_ENOMEM, "out of memory loading checkpoint %lld", (long long)n);
    int rc = read_manifest(s, n, &v->m);
    if (!rc) rc = manifest_total(&v->m, &total);
    if (!rc && !(v->data = malloc(total + 1)))
        rc = sp_err(SPATE_ENOMEM, "out of memory loading checkpoint %lld", (long long)n);
    for (int i = 0; !rc && i < v->m.nfiles; i++) {
        ckpt_file *f = &v->m.files[i];
        f->data = v->data + off;
        rc = verify_file(s, n, f, v->data + off);
        off += (size_t)f->size;
    }
    if (rc) {
        sp_ckpt_view_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

const void *sp_ckpt_meta(const sp_ckpt_view *v, size_t *len)
{
    *len = v->m.meta_len;
    return v->m.meta;
}

static int cmp_key_file(const void *key, const void *f)
{
    return strcmp(key, ((const ckpt_file *)f)->name);
}

const void *sp_ckpt_file(const sp_ckpt_view *v, const char *name, size_t *len)
{
    const ckpt_file *f =
        bsearch(name, v->m.files, (size_t)v->m.nfiles, sizeof *v->m.files, cmp_key_file);
    *len = f ? (size_t)f->size : 0;
    return f ? f->data : NULL;
}

int sp_ckpt_nfiles(const sp_ckpt_view *v)
{
    return v->m.nfiles;
}

const char *sp_ckpt_file_name(const sp_ckpt_view *v, int i)
{
    return v->m.files[i].name;
}

void sp_ckpt_view_free(sp_ckpt_view *v)
{
    if (!v) return;
    manifest_free(&v->m);
    free(v->data);
    free(v);
}

int64_t sp_ckpt_size(sp_ckpt_store *s, int64_t n)
{
    manifest m;
    size_t total;
    int rc = read_manifest(s, n, &m);
    if (!rc) rc = manifest_total(&m, &total);
    manifest_free(&m);
    return rc ? rc : (int64_t)total;
}
