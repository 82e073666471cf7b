/*
 * test_checkpoint_store.c - the state byte format (serde) and checkpoint storage.
 *
 * Besides round trips, these tests do what SQLite's I/O error and crash tests do, at
 * the scale of one store: they damage a committed checkpoint the ways a crash or a
 * disk does (flipped byte, truncated or deleted file, missing or corrupt MANIFEST) and
 * check that recovery falls back to the previous checkpoint and says why; and they
 * make write() fail with EFBIG through RLIMIT_FSIZE, as a full disk would. Every test
 * runs in its own forked child, so the rlimit and stderr redirections stay local.
 */
#define _GNU_SOURCE /* nftw */
#include "checkpoint/serde.h"
#include "checkpoint/store.h"
#include "core/log.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static char *make_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/spate-ckst-XXXXXX");
    return mkdtemp(buf);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int exists(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &st) == 0;
}

/* Writes checkpoint n with files "op1-kg0" and "op1-kg1" whose contents depend on n. */
static int write_ckpt(sp_ckpt_store *s, int64_t n)
{
    char a[64], b[200];
    int la = snprintf(a, sizeof a, "state of kg0 at %lld", (long long)n);
    memset(b, 'a' + (int)(n % 26), sizeof b);
    int rc = sp_ckpt_begin(s, n);
    if (!rc) rc = sp_ckpt_put(s, n, "op1-kg0", a, (size_t)la);
    if (!rc) rc = sp_ckpt_put(s, n, "op1-kg1", b, sizeof b);
    if (!rc) rc = sp_ckpt_commit(s, n, &n, sizeof n);
    return rc;
}

/* Runs sp_ckpt_latest with stderr captured into log (size bytes, NUL-terminated). */
static int latest_logged(sp_ckpt_store *s, int64_t *n, char *log, size_t size)
{
    char path[] = "/tmp/spate-ckst-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    int rc = sp_ckpt_latest(s, n);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t got = pread(fd, log, size - 1, 0);
    log[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void flip_byte(const char *dir, const char *rel, long off)
{
    char path[PATH_MAX];
    unsigned char c;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pread(fd, &c, 1, off) == 1);
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, off) == 1);
    close(fd);
}

/* ------------------------------------------------------------------ serde */

static void test_serde_scalars(void)
{
    static const uint64_t varints[] = {0, 1, 127, 128, 16383, 16384, (uint64_t)1 << 63, UINT64_MAX};
    static const size_t varint_len[] = {1, 1, 1, 2, 2, 3, 10, 10};
    sp_wbuf w = {0};
    sp_w_u8(&w, 0xab);
    sp_w_u32(&w, 0xdeadbeef);
    sp_w_u64(&w, 0x0102030405060708ULL);
    sp_w_i64(&w, INT64_MIN);
    sp_w_f64(&w, -2.5e300);
    CHECK_EQ_INT(w.len, 1 + 4 + 8 + 8 + 8);
    CHECK(w.p[1] == 0xef && w.p[4] == 0xde && w.p[5] == 0x08); /* little-endian */
    for (int i = 0; i < 8; i++) {
        size_t before = w.len;
        sp_w_varint(&w, varints[i]);
        CHECK_EQ_INT(w.len - before, varint_len[i]);
    }
    sp_w_bytes(&w, "\0x\0", 3);
    sp_w_str(&w, "");
    sp_w_str(&w, "hello");
    sp_w_raw(&w, "RAW", 3);
    REQUIRE_OK(w.err);

    sp_rbuf r;
    sp_rbuf_init(&r, w.p, w.len);
    CHECK_EQ_INT(sp_r_u8(&r), 0xab);
    CHECK_EQ_INT(sp_r_u32(&r), 0xdeadbeef);
    CHECK(sp_r_u64(&r) == 0x0102030405060708ULL);
    CHECK(sp_r_i64(&r) == INT64_MIN);
    CHECK(sp_r_f64(&r) == -2.5e300);
    for (int i = 0; i < 8; i++)
        CHECK(sp_r_varint(&r) == varints[i]);
    size_t n;
    const char *p = sp_r_bytes(&r, &n);
    CHECK(p && n == 3 && memcmp(p, "\0x\0", 3) == 0);
    p = sp_r_bytes(&r, &n);
    CHECK(p && n == 0);
    p = sp_r_bytes(&r, &n);
    CHECK(p && n == 5 && memcmp(p, "hello", 5) == 0);
    char raw[3];
    CHECK_EQ_INT(sp_r_raw(&r, raw, 3), 0);
    CHECK(memcmp(raw, "RAW", 3) == 0);
    CHECK(sp_r_done(&r));
    sp_wbuf_free(&w);
}

static void test_serde_bad_varints(void)
{
    /* 11 bytes, and 10 bytes whose last one carries bits beyond 64. */
    static const uint8_t too_long[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                         0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t too_big[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    sp_rbuf r;
    sp_rbuf_init(&r, too_long, sizeof too_long);
    CHECK(sp_r_varint(&r) == 0 && r.err == SPATE_EPARSE);
    sp_rbuf_init(&r, too_big, sizeof too_big);
    CHECK(sp_r_varint(&r) == 0 && r.err == SPATE_EPARSE);
    /* A length beyond the buffer. */
    static const uint8_t long_bytes[] = {0x05, 'a', 'b'};
    size_t n = 99;
    sp_rbuf_init(&r, long_bytes, sizeof long_bytes);
    CHECK(sp_r_bytes(&r, &n) == NULL && n == 0 && r.err == SPATE_EPARSE);
    /* Sticky: later reads fail too, even ones that would fit. */
    CHECK(sp_r_u8(&r) == 0 && !sp_r_done(&r));
}

static spate_schema *all_types_schema(void)
{
    spate_schema *s = NULL;
    spate_schema_parse("b BOOL, i INT32, l INT64, d DOUBLE, s STRING, y BYTES, t TIMESTAMP, "
                       "x INT, z STRING",
                       &s);
    return s;
}

/* Row r of b: NULLs in a pattern that depends on r, strings of varying length. */
static void fill_row(sp_batch *b, uint32_t r)
{
    static const char *const strs[] = {"", "a", "hello, world", "\xff\x00zz"};
    for (int c = 0; c < b->ncols; c++) {
        sp_vec *v = &b->cols[c];
        if ((r + (uint32_t)c) % 4 == 0) {
            sp_vec_set_null(v, r);
            continue;
        }
        if (v->type == SPATE_FLOAT64)
            SP_F64(v)[r] = r * 1.5 - 7;
        else if (sp_type_is_str(v->type))
            SP_STR(v)[r] = (spate_str){strs[r % 4], r % 4 == 3 ? 4 : strlen(strs[r % 4])};
        else
            sp_vec_put_int(v, r, r == 5 ? INT64_MIN : (int64_t)r * -1000003 + c);
    }
    b->n = r + 1;
}

/* Row ra of a equals row rb of b. */
static int rows_equal(const sp_batch *a, uint32_t ra, const sp_batch *b, uint32_t rb)
{
    for (int c = 0; c < a->ncols; c++) {
        const sp_vec *x = &a->cols[c], *y = &b->cols[c];
        if (sp_vec_is_null(x, ra) != sp_vec_is_null(y, rb)) return 0;
        if (sp_vec_is_null(x, ra)) continue;
        if (x->type == SPATE_FLOAT64 && SP_F64(x)[ra] != SP_F64(y)[rb]) return 0;
        if (sp_type_is_str(x->type) &&
            (SP_STR(x)[ra].len != SP_STR(y)[rb].len ||
             memcmp(SP_STR(x)[ra].ptr, SP_STR(y)[rb].ptr, SP_STR(x)[ra].len) != 0))
            return 0;
        if (sp_type_is_int(x->type) && sp_vec_get_int(x, ra) != sp_vec_get_int(y, rb)) return 0;
    }
    return 1;
}

static void test_serde_rows(void)
{
    spate_schema *s = all_types_schema();
    sp_batch *in = sp_batch_new(16), *out = sp_batch_new(16);
    REQUIRE_OK(s && in && out ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(in, s));
    REQUIRE_OK(sp_batch_reset(out, s));
    sp_wbuf w = {0};
    for (uint32_t r = 0; r < 12; r++) {
        fill_row(in, r);
        sp_w_row(&w, in, r);
    }
    REQUIRE_OK(w.err);
    sp_rbuf rb;
    sp_rbuf_init(&rb, w.p, w.len);
    for (uint32_t r = 0; r < 12; r++)
        REQUIRE_OK(sp_r_row(&rb, out));
    CHECK(sp_r_done(&rb));
    CHECK_EQ_INT(out->n, 12);
    for (uint32_t r = 0; r < 12; r++)
        CHECK(rows_equal(in, r, out, r));
    /* Strings were copied into out's arena, not pointed into the buffer. */
    CHECK(SP_STR(&out->cols[4])[1].ptr < (const char *)w.p ||
          SP_STR(&out->cols[4])[1].ptr >= (const char *)w.p + w.len);
    sp_wbuf_free(&w);
    sp_batch_free(in);
    sp_batch_free(out);
    spate_schema_free(s);
}

/* Writes a mix of every kind of value and two rows; returns the row batch. */
static void write_mix(sp_wbuf *w, sp_batch *rows)
{
    sp_w_u8(w, 7);
    sp_w_varint(w, 300);
    sp_w_str(w, "key");
    sp_w_u32(w, 42);
    sp_w_f64(w, 0.25);
    sp_w_row(w, rows, 1);
    sp_w_varint(w, (uint64_t)1 << 63);
    sp_w_row(w, rows, 2);
    sp_w_i64(w, -1);
    sp_w_u64(w, 9);
}

/* Reads what write_mix wrote; returns 0 or the first error. */
static int read_mix(sp_rbuf *r, sp_batch *out)
{
    size_t n;
    char raw[1];
    sp_r_u8(r);
    sp_r_varint(r);
    sp_r_bytes(r, &n);
    sp_r_u32(r);
    sp_r_f64(r);
    int rc = sp_r_row(r, out);
    sp_r_varint(r);
    if (!rc) rc = sp_r_row(r, out);
    sp_r_i64(r);
    sp_r_u64(r);
    if (r->pos == r->len) sp_r_raw(r, raw, 1); /* one past the end must fail too */
    return rc ? rc : r->err;
}

static void test_serde_truncated(void)
{
    spate_schema *s = all_types_schema();
    sp_batch *in = sp_batch_new(4), *out = sp_batch_new(4);
    REQUIRE_OK(s && in && out ? 0 : SPATE_ENOMEM);
    REQUIRE_OK(sp_batch_reset(in, s));
    for (uint32_t r = 0; r < 3; r++)
        fill_row(in, r);
    sp_wbuf w = {0};
    write_mix(&w, in);
    REQUIRE_OK(w.err);
    for (size_t len = 0; len <= w.len; len++) {
        /* An exact-size copy, so ASan reports any read past the end. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.p, len);
        REQUIRE_OK(sp_batch_reset(out, s));
        sp_rbuf r;
        sp_rbuf_init(&r, copy, len);
        int rc = read_mix(&r, out);
        CHECK(rc == SPATE_EPARSE);
        CHECK(r.err == SPATE_EPARSE && r.pos <= len);
        free(copy);
    }
    /* The whole buffer reads back (the one-past-the-end read aside). */
    REQUIRE_OK(sp_batch_reset(out, s));
    sp_rbuf r;
    sp_rbuf_init(&r, w.p, w.len);
    read_mix(&r, out);
    CHECK(r.pos == w.len && out->n == 2);
    CHECK(rows_equal(in, 1, out, 0) && rows_equal(in, 2, out, 1));
    sp_wbuf_free(&w);
    sp_batch_free(in);
    sp_batch_free(out);
    spate_schema_free(s);
}

/* Bit-at-a-time CRC-32C, the definition, to check the table-driven one against. */
static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c(void)
{
    CHECK_EQ_INT(sp_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_INT(sp_crc32c(0, "", 0), 0);
    CHECK_EQ_INT(sp_crc32c(sp_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    /* Every alignment and length around the 8-byte steps, and split points. */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= 80; n++)
            CHECK_EQ_INT(sp_crc32c(0, buf + off, n), crc32c_ref(buf + off, n));
    for (size_t cut = 0; cut <= sizeof buf; cut += 13)
        CHECK_EQ_INT(sp_crc32c(sp_crc32c(0, buf, cut), buf + cut, sizeof buf - cut),
                     crc32c_ref(buf, sizeof buf));
}

/* ------------------------------------------------------------------ store */

static void test_roundtrip(void)
{
    char dir[64], sub[128];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    snprintf(sub, sizeof sub, "%s/a/b/ckpts", dir); /* mkdir -p */
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(sub, 3, &s));
    static const char big_name[] = "op2_window.kg-0127";
    uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    REQUIRE_OK(sp_ckpt_begin(s, 5));
    REQUIRE_OK(sp_ckpt_put(s, 5, "zeta", "last", 4));
    REQUIRE_OK(sp_ckpt_put(s, 5, big_name, big, sizeof big));
    REQUIRE_OK(sp_ckpt_put(s, 5, "empty", NULL, 0));
    CHECK(exists(sub, "chk-5.tmp/zeta") && !exists(sub, "chk-5"));
    REQUIRE_OK(sp_ckpt_commit(s, 5, "sources at 17", 13));
    CHECK(exists(sub, "chk-5/MANIFEST") && !exists(sub, "chk-5.tmp"));
    CHECK_EQ_INT(sp_ckpt_size(s, 5), sizeof big + 4);
    sp_ckpt_store_close(s);

    REQUIRE_OK(sp_ckpt_store_open(sub, 3, &s));
    int64_t n = 0;
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 5);
    sp_ckpt_view *v;
    REQUIRE_OK(sp_ckpt_load(s, 5, &v));
    size_t len;
    const char *meta = sp_ckpt_meta(v, &len);
    CHECK(len == 13 && memcmp(meta, "sources at 17", 13) == 0);
    CHECK_EQ_INT(sp_ckpt_nfiles(v), 3);
    CHECK_EQ_STR(sp_ckpt_file_name(v, 0), "empty");
    CHECK_EQ_STR(sp_ckpt_file_name(v, 1), big_name);
    CHECK_EQ_STR(sp_ckpt_file_name(v, 2), "zeta");
    const uint8_t *p = sp_ckpt_file(v, big_name, &len);
    CHECK(p && len == sizeof big && memcmp(p, big, len) == 0);
    p = sp_ckpt_file(v, "zeta", &len);
    CHECK(p && len == 4 && memcmp(p, "last", 4) == 0);
    CHECK(sp_ckpt_file(v, "empty", &len) != NULL && len == 0);
    CHECK(sp_ckpt_file(v, "nope", &len) == NULL);
    sp_ckpt_view_free(v);
    CHECK_EQ_INT(sp_ckpt_load(s, 4, &v), SPATE_ENOTFOUND);
    CHECK_EQ_INT(sp_ckpt_size(s, 4), SPATE_ENOTFOUND);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

typedef struct put_job {
    sp_ckpt_store *s;
    int worker;
    int rc;
} put_job;

enum { PUT_THREADS = 4, PUT_FILES = 16 };

static void put_content(int worker, int i, char *buf, size_t size, size_t *len)
{
    *len = (size_t)snprintf(buf, size, "worker %d file %d ", worker, i);
    while (*len < (size_t)(100 + i * 37) && *len < size)
        buf[(*len)++] = (char)('A' + i);
}

static void *put_worker(void *arg)
{
    put_job *j = arg;
    for (int i = 0; i < PUT_FILES && !j->rc; i++) {
        char name[32], buf[1024];
        size_t len;
        snprintf(name, sizeof name, "op%d-kg%d", j->worker, i);
        put_content(j->worker, i, buf, sizeof buf, &len);
        j->rc = sp_ckpt_put(j->s, 1, name, buf, len);
    }
    return NULL;
}

static void test_concurrent_puts(void)
{
    char dir[64];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 1, &s));
    REQUIRE_OK(sp_ckpt_begin(s, 1));
    pthread_t th[PUT_THREADS];
    put_job jobs[PUT_THREADS];
    for (int t = 0; t < PUT_THREADS; t++) {
        jobs[t] = (put_job){s, t, 0};
        pthread_create(&th[t], NULL, put_worker, &jobs[t]);
    }
    for (int t = 0; t < PUT_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(jobs[t].rc, 0);
    }
    REQUIRE_OK(sp_ckpt_commit(s, 1, NULL, 0));
    sp_ckpt_view *v;
    REQUIRE_OK(sp_ckpt_load(s, 1, &v));
    CHECK_EQ_INT(sp_ckpt_nfiles(v), PUT_THREADS * PUT_FILES);
    for (int t = 0; t < PUT_THREADS; t++)
        for (int i = 0; i < PUT_FILES; i++) {
            char name[32], want[1024];
            size_t len, want_len;
            snprintf(name, sizeof name, "op%d-kg%d", t, i);
            put_content(t, i, want, sizeof want, &want_len);
            const void *p = sp_ckpt_file(v, name, &len);
            CHECK(p && len == want_len && memcmp(p, want, len) == 0);
        }
    sp_ckpt_view_free(v);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void test_keep_prunes(void)
{
    char dir[64];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 2, &s));
    for (int64_t n = 1; n <= 4; n++)
        REQUIRE_OK(write_ckpt(s, n));
    CHECK(!exists(dir, "chk-1") && !exists(dir, "chk-2"));
    CHECK(exists(dir, "chk-3/MANIFEST") && exists(dir, "chk-4/MANIFEST"));
    int64_t n = 0;
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 4);
    sp_ckpt_view *v;
    REQUIRE_OK(sp_ckpt_load(s, 3, &v));
    size_t len;
    const void *meta = sp_ckpt_meta(v, &len);
    int64_t meta_n = 0;
    CHECK(len == sizeof meta_n);
    memcpy(&meta_n, meta, sizeof meta_n); /* views give no alignment */
    CHECK_EQ_INT(meta_n, 3);
    sp_ckpt_view_free(v);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void test_leftover_tmp_removed(void)
{
    char dir[64], path[PATH_MAX];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    REQUIRE_OK(write_ckpt(s, 1));
    /* A writer that crashed mid-checkpoint 2: files but no commit. */
    REQUIRE_OK(sp_ckpt_begin(s, 2));
    REQUIRE_OK(sp_ckpt_put(s, 2, "op1-kg0", "partial", 7));
    sp_ckpt_store_close(s);
    snprintf(path, sizeof path, "%s/unrelated.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && fclose(f) == 0);
    CHECK(exists(dir, "chk-2.tmp/op1-kg0"));

    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    CHECK(!exists(dir, "chk-2.tmp"));
    CHECK(exists(dir, "chk-1/MANIFEST") && exists(dir, "unrelated.txt"));
    int64_t n = 0;
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 1);
    /* Number 2 may be used again after the restart. */
    REQUIRE_OK(write_ckpt(s, 2));
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 2);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

/* Writes checkpoints 1 and 2, damages 2, and checks that latest falls back to 1 with a
 * warning that names chk-2 and contains `expect`. */
static void check_corrupt(void (*damage)(const char *dir), const char *expect)
{
    char dir[64], log[4096];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_log_set_level(SP_LOG_WARN);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    REQUIRE_OK(write_ckpt(s, 1));
    REQUIRE_OK(write_ckpt(s, 2));
    damage(dir);
    int64_t n = 0;
    REQUIRE_OK(latest_logged(s, &n, log, sizeof log));
    CHECK_EQ_INT(n, 1);
    if (!strstr(log, "chk-2") || !strstr(log, expect)) fprintf(stderr, "  log was: %s", log);
    CHECK(strstr(log, "chk-2") != NULL);
    CHECK(strstr(log, expect) != NULL);
    CHECK(strstr(log, "chk-1") == NULL);
    sp_ckpt_view *v;
    CHECK_EQ_INT(sp_ckpt_load(s, 2, &v), SPATE_EPARSE);
    REQUIRE_OK(sp_ckpt_load(s, 1, &v));
    sp_ckpt_view_free(v);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void flip_state_byte(const char *dir)
{
    flip_byte(dir, "chk-2/op1-kg1", 150);
}

static void flip_manifest_byte(const char *dir)
{
    flip_byte(dir, "chk-2/MANIFEST", 30);
}

static void truncate_file(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/chk-2/op1-kg1", dir);
    CHECK(truncate(path, 199) == 0);
}

static void delete_file(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/chk-2/op1-kg0", dir);
    CHECK(unlink(path) == 0);
}

static void delete_manifest(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/chk-2/MANIFEST", dir);
    CHECK(unlink(path) == 0);
}

static void test_corrupt_state_byte(void)
{
    check_corrupt(flip_state_byte, "CRC mismatch in 'op1-kg1'");
}

static void test_corrupt_manifest(void)
{
    check_corrupt(flip_manifest_byte, "bad MANIFEST CRC");
}

static void test_truncated_file(void)
{
    check_corrupt(truncate_file, "size mismatch in 'op1-kg1'");
}

static void test_deleted_file(void)
{
    check_corrupt(delete_file, "missing file 'op1-kg0'");
}

static void test_torn_no_manifest(void)
{
    check_corrupt(delete_manifest, "missing MANIFEST");
}

static void test_all_corrupt(void)
{
    char dir[64], log[4096];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    int64_t n = 0;
    CHECK_EQ_INT(sp_ckpt_latest(s, &n), SPATE_ENOTFOUND); /* empty */
    REQUIRE_OK(write_ckpt(s, 1));
    REQUIRE_OK(write_ckpt(s, 2));
    flip_byte(dir, "chk-1/op1-kg0", 3);
    delete_manifest(dir);
    CHECK_EQ_INT(latest_logged(s, &n, log, sizeof log), SPATE_ENOTFOUND);
    CHECK(strstr(log, "chk-1") && strstr(log, "chk-2"));
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void test_disk_full(void)
{
    char dir[64];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    REQUIRE_OK(write_ckpt(s, 1));
    static uint8_t big[65536];
    struct rlimit old, small;
    REQUIRE_OK(getrlimit(RLIMIT_FSIZE, &old));
    small = (struct rlimit){4096, old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    REQUIRE_OK(sp_ckpt_begin(s, 2));
    REQUIRE_OK(sp_ckpt_put(s, 2, "small", "ok", 2));
    REQUIRE_OK(setrlimit(RLIMIT_FSIZE, &small));
    int rc = sp_ckpt_put(s, 2, "op1-kg0", big, sizeof big);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ_INT(rc, SPATE_EIO);
    CHECK(strstr(spate_last_error(), "chk-2.tmp/op1-kg0") != NULL);
    CHECK(strstr(spate_last_error(), strerror(EFBIG)) != NULL);
    sp_ckpt_abort(s, 2);
    CHECK(!exists(dir, "chk-2") && !exists(dir, "chk-2.tmp"));
    CHECK_EQ_INT(sp_ckpt_commit(s, 2, NULL, 0), SPATE_ESTATE);
    int64_t n = 0;
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 1);
    REQUIRE_OK(write_ckpt(s, 3)); /* the store goes on after the failure */
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 3);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void test_manifest_write_fails(void)
{
    char dir[64];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    REQUIRE_OK(sp_ckpt_store_open(dir, 3, &s));
    REQUIRE_OK(write_ckpt(s, 1));
    static uint8_t meta[8192];
    struct rlimit old, small;
    REQUIRE_OK(getrlimit(RLIMIT_FSIZE, &old));
    small = (struct rlimit){4096, old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    REQUIRE_OK(sp_ckpt_begin(s, 2));
    REQUIRE_OK(sp_ckpt_put(s, 2, "op1-kg0", "x", 1));
    REQUIRE_OK(setrlimit(RLIMIT_FSIZE, &small));
    int rc = sp_ckpt_commit(s, 2, meta, sizeof meta);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ_INT(rc, SPATE_EIO);
    CHECK(strstr(spate_last_error(), "MANIFEST") != NULL);
    CHECK(!exists(dir, "chk-2"));
    sp_ckpt_abort(s, 2);
    CHECK(!exists(dir, "chk-2.tmp"));
    int64_t n = 0;
    REQUIRE_OK(sp_ckpt_latest(s, &n));
    CHECK_EQ_INT(n, 1);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

static void test_bad_names_and_states(void)
{
    char dir[64], long_name[SP_CKPT_NAME_MAX + 2];
    REQUIRE_OK(make_tmpdir(dir, sizeof dir) ? 0 : SPATE_EIO);
    sp_ckpt_store *s;
    CHECK_EQ_INT(sp_ckpt_store_open(dir, 0, &s), SPATE_EINVAL);
    REQUIRE_OK(sp_ckpt_store_open(dir, 1, &s));
    CHECK_EQ_INT(sp_ckpt_put(s, 1, "a", "x", 1), SPATE_ESTATE); /* not begun */
    CHECK_EQ_INT(sp_ckpt_begin(s, 0), SPATE_EINVAL);
    REQUIRE_OK(sp_ckpt_begin(s, 3));
    CHECK_EQ_INT(sp_ckpt_begin(s, 3), SPATE_EINVAL);
    CHECK_EQ_INT(sp_ckpt_begin(s, 2), SPATE_EINVAL);
    static const char *const bad[] = {"", ".", "..", "a/b", "../x", "x y", "MANIFEST", "é", "a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(sp_ckpt_put(s, 3, bad[i], "x", 1), SPATE_EINVAL);
    memset(long_name, 'k', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(sp_ckpt_put(s, 3, long_name, "x", 1), SPATE_EINVAL);
    long_name[SP_CKPT_NAME_MAX] = '\0';
    REQUIRE_OK(sp_ckpt_put(s, 3, long_name, "x", 1));
    REQUIRE_OK(sp_ckpt_put(s, 3, "Op_1.kg-2", "x", 1));
    CHECK_EQ_INT(sp_ckpt_put(s, 3, "Op_1.kg-2", "y", 1), SPATE_EINVAL); /* duplicate */
    REQUIRE_OK(sp_ckpt_commit(s, 3, NULL, 0));
    sp_ckpt_view *v;
    REQUIRE_OK(sp_ckpt_load(s, 3, &v));
    CHECK_EQ_INT(sp_ckpt_nfiles(v), 2);
    size_t len;
    const char *p = sp_ckpt_file(v, "Op_1.kg-2", &len);
    CHECK(p && len == 1 && *p == 'x');
    sp_ckpt_view_free(v);
    sp_ckpt_store_close(s);
    rm_tree(dir);
}

const sp_test tests_ckpt_store[] = {
    {"ckpt_store_serde_scalars", test_serde_scalars},
    {"ckpt_store_serde_bad_varints", test_serde_bad_varints},
    {"ckpt_store_serde_rows", test_serde_rows},
    {"ckpt_store_serde_truncated", test_serde_truncated},
    {"ckpt_store_crc32c", test_crc32c},
    {"ckpt_store_roundtrip", test_roundtrip},
    {"ckpt_store_concurrent_puts", test_concurrent_puts},
    {"ckpt_store_keep_prunes", test_keep_prunes},
    {"ckpt_store_leftover_tmp_removed", test_leftover_tmp_removed},
    {"ckpt_store_corrupt_state_byte", test_corrupt_state_byte},
    {"ckpt_store_corrupt_manifest", test_corrupt_manifest},
    {"ckpt_store_truncated_file", test_truncated_file},
    {"ckpt_store_deleted_file", test_deleted_file},
    {"ckpt_store_torn_no_manifest", test_torn_no_manifest},
    {"ckpt_store_all_corrupt", test_all_corrupt},
    {"ckpt_store_disk_full", test_disk_full},
    {"ckpt_store_manifest_write_fails", test_manifest_write_fails},
    {"ckpt_store_bad_names_and_states", test_bad_names_and_states},
    {NULL, NULL},
};
