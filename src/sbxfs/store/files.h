/* A sandbox's own files as the filesystem asks for them (MOUNT/<sbx>/fs/):
 * each operation is envd calls plus the listing-cache updates it implies,
 * and every envd call carries the sandbox's endpoint (its access token and
 * domain), fetched once with GET /sandboxes/{id} (never connect, which
 * moves the sandbox's timer) and kept per sandbox.  A token envd rejects
 * is fetched once more and the call repeated.  Tokens enter the
 * scrubber's set when fetched and leave it when forgotten.
 *
 * Attributes come from the listing of the parent directory (one ListDir
 * serves a whole `ls -l`, and a lookup of a sibling), cached per
 * (sandbox, directory) for the TTL; every change drops the listings it
 * touched, or for a change to one name marks that name stale in its
 * parent's listing, so the writer sees it at once.  No FUSE here; every function
 * returns 0 or -errno (envd.h's map), thread-safe, no lock held over a
 * request.  Remote paths are absolute, normalized ("/", "/a/b"). */
#ifndef SBXFS_STORE_FILES_H
#define SBXFS_STORE_FILES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "cache/dircache.h"
#include "envd/client.h"

struct files_ep;
struct files_worker;

enum files_worker_kind { FILES_WORKER_STREAM, FILES_WORKER_UPLOAD, FILES_WORKER_KINDS };
struct files_own;
struct files_seen;

struct files {
	struct envdc *envd;          /* borrowed */
	struct api *api;            /* borrowed: the endpoints' GET */
	struct dircache *dirs;      /* borrowed */
	uint64_t max_file;          /* larger files: EFBIG before any transfer */
	pthread_mutex_t lock;       /* guards eps, own, seen*, n_seen, down_* */
	struct files_ep *eps;       /* endpoints known, per sandbox */
	struct files_own *own;      /* files open for writing here */
	struct files_seen *seen;    /* (size, mtime) at each file's last open,
	                             * most recent first; n_seen of them */
	struct files_seen *seen_last;
	struct files_seen **seen_by_path;  /* FILES_SEEN_BUCKETS chains, made
	                                    * at the first open */
	size_t n_seen;
	/* The last sandbox fs/ found not running (guarded by lock): for
	 * .sbxfs/status, which says which one and why. */
	char down_id[65];
	char down_state[16];
	int64_t down_ms;            /* 0: none yet */
	/* The store's threads that end on their own (workers.h): slock
	 * guards the list, the counts and workers_stopped; scond signals an
	 * end. */
	pthread_mutex_t slock;
	pthread_cond_t scond;
	struct files_worker *workers;
	unsigned n_workers[FILES_WORKER_KINDS];
	bool workers_stopped;
	/* The walk-ahead (prefetch.h), or NULL: set after files_init by the
	 * caller, freed by files_fini. */
	struct prefetch *pf;
};

/* The strings of sandbox id's endpoint, copied out for one call. */
struct files_target {
	struct envdc_target t;      /* points at the strings below */
	char *token, *domain;
};

/* Sandbox id's endpoint (for store modules other than this one): from
 * the table unless refetch, else with one GET /sandboxes/{id}.  Caller
 * files_target_clear()s *t. */
int files_target_get(struct files *f, const char *id, bool refetch, struct files_target *t);
void files_target_clear(struct files_target *t);
/* After envd did not answer (502): ENOENT when sandbox id is gone (its
 * endpoint forgotten), else EHOSTDOWN. */
int files_why_down(struct files *f, const char *id);

/* Sets up f's lock and endpoint table (the pointers set by the caller). */
void files_init(struct files *f);
/* Forgets every endpoint (their tokens leave the scrubber). */
void files_fini(struct files *f);
/* Notes that sandbox id's fs/ was refused because it is not running
 * (state: "paused", or what the API said). */
void files_note_down(struct files *f, const char *id, const char *state);
/* "EHOSTDOWN sandbox <id> is paused (<time>)" or "none", into buf. */
void files_format_down(struct files *f, char *buf, size_t size);
/* Forgets sandbox id's endpoint and listings (it is gone, or a refresh). */
void files_forget(struct files *f, const char *id);

/* The own-change overlay: a file open for writing here exists, with the
 * size written so far, before the sandbox has it (a lookup by path finds
 * it: git chmods a lock file it holds open).  Counted per (id, path):
 * add at open, set after each write, del at release.  0 or -ENOMEM. */
int files_own_add(struct files *f, const char *id, const char *path, unsigned mode);
void files_own_set(struct files *f, const char *id, const char *path, uint64_t size);
void files_own_del(struct files *f, const char *id, const char *path);

/* The kernel's page cache of a file: true when path's (size, mtime_ms)
 * are those seen at its previous open (its pages may be kept), false
 * otherwise (drop them) or when mtime_ms is 0 (unknown); either way
 * records them for the next open.  At most FILES_SEEN_MAX files are
 * remembered, the least recently opened forgotten first. */
#define FILES_SEEN_MAX 4096
#define FILES_SEEN_BUCKETS 1024
bool files_pages_same(struct files *f, const char *id, const char *path, uint64_t size,
		      int64_t mtime_ms);
/* Forgets what was seen of path (its content changed here). */
void files_pages_forget(struct files *f, const char *id, const char *path);

/* The attributes of path: a file open for writing here as written so far;
 * "/" a directory of its own; else its entry in its parent's listing.
 * *out filled (caller fentry_clear()s it). */
int files_lookup(struct files *f, const char *id, const char *path, struct fentry *out);
/* The listing of directory path (caller dirlist_put()s it); names changed
 * here since it was fetched may be stale in it (dirlist_stale): not in
 * it, files_lookup asks envd for each. */
int files_list(struct files *f, const char *id, const char *path, struct dirlist **out);
/* The same with no stale name (fetched again if it had any), and flat
 * (dirlist_flatten): for readdir, which walks its entries. */
int files_list_whole(struct files *f, const char *id, const char *path, struct dirlist **out);
/* Reads [off, off+len) of path into sink; *got the bytes given.  cancel:
 * NULL, or ends the read (-ECANCELED) soon after it turns non-zero. */
int files_read(struct files *f, const char *id, const char *path, uint64_t off, uint64_t len,
	       const struct http_sink *sink, uint64_t *got, const int *cancel);
/* The sandbox's disk, bytes used and in all (envd's GET /metrics). */
int files_disk(struct files *f, const char *id, uint64_t *used, uint64_t *total);
/* Replaces path by len bytes of fd (EFBIG past max_file, nothing sent). */
int files_upload(struct files *f, const char *id, const char *path, int fd, uint64_t len);
/* Replaces path by the body src gives as it comes (chunked), in one
 * request; cancel ends it (-EINTR), and src may withdraw it
 * (envdc_upload_stream's ENVDC_WITHDRAW).  A failure leaves the file as
 * it was on sbxd's envd. */
int files_upload_stream(struct files *f, const char *id, const char *path,
			const struct http_source *src, const int *cancel);
int files_mkdir(struct files *f, const char *id, const char *path);
/* ENOTEMPTY for a directory with entries (envd's Remove is recursive,
 * so this asks first), ENOTDIR for a file. */
int files_rmdir(struct files *f, const char *id, const char *path);
/* EISDIR for a directory. */
int files_unlink(struct files *f, const char *id, const char *path);
/* rename(2) rules checked on the listings first: noreplace gives EEXIST
 * when to exists; a directory over a file ENOTDIR, a file over a
 * directory EISDIR, over a non-empty directory ENOTEMPTY. */
int files_rename(struct files *f, const char *id, const char *from, const char *to,
		 int noreplace);

#endif
