/*
 * store.h - durable checkpoint storage: DIR/chk-N/ holds one file per operator and
 * key group plus a MANIFEST listing them with sizes and CRC-32Cs.
 *
 * A checkpoint is written into DIR/chk-N.tmp/ and becomes visible only when
 * sp_ckpt_commit renames it to DIR/chk-N/ after everything is on disk, so a crash
 * leaves either a complete checkpoint or a .tmp directory that the next open
 * removes. Readers verify every byte and fall back to an older checkpoint when the
 * newest is torn or corrupt. The byte format is described in docs/checkpoints.md.
 */
#ifndef SP_CKPT_STORE_H
#define SP_CKPT_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Longest file name sp_ckpt_put accepts. */
#define SP_CKPT_NAME_MAX 128

typedef struct sp_ckpt_store sp_ckpt_store;

/* Opens (mkdir -p) the checkpoint directory; keeps the newest `keep` complete checkpoints
 * (>= 1, else SPATE_EINVAL). Removes leftover chk-N.tmp directories of crashed writers.
 * 0, SPATE_EINVAL, SPATE_ENOMEM or SPATE_EIO (with the path and strerror). */
int sp_ckpt_store_open(const char *dir, int keep, sp_ckpt_store **out);
/* Frees s; checkpoints begun and not committed stay as .tmp directories on disk (the next
 * open removes them). NULL is allowed. */
void sp_ckpt_store_close(sp_ckpt_store *s);

/* Writing checkpoint n: begin, put from any threads, then commit or abort. */

/* Creates DIR/chk-N.tmp/. n must be > 0 and greater than every checkpoint number the
 * directory holds or that was begun before (complete, corrupt or in progress), else
 * SPATE_EINVAL: a checkpoint number is never reused. Several checkpoints may be in
 * progress at once. 0, SPATE_EINVAL, SPATE_ENOMEM or SPATE_EIO. */
int sp_ckpt_begin(sp_ckpt_store *s, int64_t n);
/* Thread-safe (several workers call it concurrently for one n): writes DIR/chk-N.tmp/NAME,
 * fsyncs it and records (name, size, crc32c) for the manifest. Names are
 * [A-Za-z0-9._-]+, at most SP_CKPT_NAME_MAX bytes, not ".", ".." or "MANIFEST", and unique
 * within a checkpoint (else SPATE_EINVAL). SPATE_ESTATE when n is not in progress. Any
 * write error -> SPATE_EIO with the path and strerror; the caller then aborts n. Must not
 * run concurrently with sp_ckpt_commit or sp_ckpt_abort of the same n. */
int sp_ckpt_put(sp_ckpt_store *s, int64_t n, const char *name, const void *data, size_t len);
/* Completes n: writes MANIFEST last (magic, format version, n, the meta blob, the file
 * list with sizes and CRCs, and a CRC of the manifest itself), fsyncs it and the
 * directory, renames chk-N.tmp to chk-N atomically, fsyncs DIR, then deletes complete
 * checkpoints beyond the newest `keep` (a failure there is only logged). 0, SPATE_ESTATE
 * (n not in progress), SPATE_ENOMEM or SPATE_EIO; after an error the caller aborts n. */
int sp_ckpt_commit(sp_ckpt_store *s, int64_t n, const void *meta, size_t meta_len);
/* Forgets checkpoint n in progress and removes chk-N.tmp (a failure is only logged). */
void sp_ckpt_abort(sp_ckpt_store *s, int64_t n);

/* Reading. */

/* The newest checkpoint whose MANIFEST verifies and whose every file has the recorded
 * size and CRC. A torn or corrupt newer one is skipped with an sp_log(SP_LOG_WARN, ...)
 * line naming the checkpoint and what is wrong (missing manifest, bad manifest CRC,
 * missing file, size or CRC mismatch). 0, or SPATE_ENOTFOUND when none verifies. */
int sp_ckpt_latest(sp_ckpt_store *s, int64_t *n);

typedef struct sp_ckpt_view sp_ckpt_view;

/* Loads and verifies checkpoint n entirely into memory. 0; SPATE_ENOTFOUND when there is
 * no chk-N; SPATE_EPARSE when it is torn or corrupt (the message says how); SPATE_EIO or
 * SPATE_ENOMEM. */
int sp_ckpt_load(sp_ckpt_store *s, int64_t n, sp_ckpt_view **out);
/* The meta blob given to sp_ckpt_commit. Like file contents it stays valid until the view
 * is freed and has no alignment guarantee: decode it with serde.h. */
const void *sp_ckpt_meta(const sp_ckpt_view *v, size_t *len);
/* The content of file NAME, or NULL when the checkpoint has none of that name. */
const void *sp_ckpt_file(const sp_ckpt_view *v, const char *name, size_t *len);
/* Number of files; they are numbered 0..nfiles-1 in name order. */
int sp_ckpt_nfiles(const sp_ckpt_view *v);
/* Name of file i (0 <= i < sp_ckpt_nfiles). */
const char *sp_ckpt_file_name(const sp_ckpt_view *v, int i);
/* NULL is allowed. */
void sp_ckpt_view_free(sp_ckpt_view *v);

/* Total bytes of checkpoint n's files as its manifest records them (for metrics and
 * benchmarks), or a negative error as sp_ckpt_load returns. */
int64_t sp_ckpt_size(sp_ckpt_store *s, int64_t n);

#endif
