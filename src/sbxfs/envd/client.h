/* The client of a sandbox's own agent (envd): its filesystem RPCs
 * (Connect JSON: Stat, ListDir, MakeDir, Move, Remove) and its files
 * (GET /files with Range into a sink, POST /files streamed from a file).
 *
 * Reaching a sandbox: with a sandbox_url every request goes to that one
 * base and names its sandbox by header; otherwise to
 * https://49983-<id>.<domain>, the domain being the sandbox's own or the
 * configured default.  The access token goes only to its own sandbox's
 * agent (X-Access-Token); the caller keeps it in the scrubber's set.
 *
 * Every call returns 0 or -errno through one map (envd_errno_*), with the
 * server's code and message in *err for the log and the status file, and
 * logs a failure once, scrubbed, at warn (ENOENT and EEXIST, which callers
 * probe with, at debug).  Attempts run within deadline_ms under the retry
 * policy of http/retry.h: reads and Stat may be repeated, changes only
 * when they certainly did not arrive.  Thread-safe: no lock is held over a
 * transfer; the HTTP pool is shared. */
#ifndef SBXFS_ENVD_CLIENT_H
#define SBXFS_ENVD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "model/fentry.h"

struct envdc;

/* Seconds between the keepalives a stream asks its server for. */
#define ENVDC_KEEPALIVE_S "10"

struct envdc_config {
	const char *sandbox_url;   /* NULL: https://49983-<id>.<domain> */
	const char *domain;        /* when a sandbox has none */
	const char *provider;      /* "novita": Novita-Sandbox-Id; else E2b- */
	const char *user;          /* the Unix user; NULL: "user" */
	const char *cafile;        /* NULL: system CAs */
	long connect_timeout_ms;   /* 0: 5000 */
	long request_timeout_ms;   /* per attempt; 0: 15000 (transfers: idle) */
	long deadline_ms;          /* all attempts; 0: 30000 */
};

/* Which sandbox a call is for; borrowed for the call. */
struct envdc_target {
	const char *id;
	const char *token;         /* "" or NULL: none sent */
	const char *domain;        /* "" or NULL: the configured one */
};

/* What went wrong, beside the errno. */
struct envdc_error {
	long http_status;          /* 0 without a reply */
	char code[32];             /* the Connect code, "" when none */
	char message[256];         /* scrubbed */
};

/* Copies cfg's strings.  NULL with *errmsg (malloc'd) on failure. */
struct envdc *envdc_new(const struct envdc_config *cfg, char **errmsg);
void envdc_free(struct envdc *e);
/* A poll for "the caller gave up" (a FUSE interrupt); set before use. */
void envdc_set_interrupt(struct envdc *e, bool (*interrupted)(void));
/* The user the calls act as (static for e's life). */
const char *envdc_user(const struct envdc *e);

/* Stat of path (absolute, in the sandbox): *out filled (caller
 * fentry_clear()s it). */
int envdc_stat(struct envdc *e, const struct envdc_target *t, const char *path,
	      struct fentry *out, struct envdc_error *err);
/* The entries of directory path, depth 1, sorted by name (caller
 * fentry_list_free()s them).  *n bounded by max_entries: -EFBIG past it. */
int envdc_list(struct envdc *e, const struct envdc_target *t, const char *path,
	      struct fentry **out, size_t *n, struct envdc_error *err);
/* Makes directory path (and its parents): -EEXIST when it exists. */
int envdc_mkdir(struct envdc *e, const struct envdc_target *t, const char *path,
	       struct envdc_error *err);
/* Renames from to to (rename(2): replaces a file at to). */
int envdc_move(struct envdc *e, const struct envdc_target *t, const char *from, const char *to,
	      struct envdc_error *err);
/* Removes path, recursively; a missing path is no error. */
int envdc_remove(struct envdc *e, const struct envdc_target *t, const char *path,
		struct envdc_error *err);
/* Reads bytes [off, off+len) of file path into sink (len 0: to the end),
 * in one request; *got gets the bytes delivered.  A reply shorter than
 * asked is the end of the file.  cancel: NULL, or the read ends with
 * -ECANCELED (logged at debug only) soon after *cancel turns non-zero,
 * and with -ETIMEDOUT after the request timeout without a byte. */
int envdc_read(struct envdc *e, const struct envdc_target *t, const char *path, uint64_t off,
	      uint64_t len, const struct http_sink *sink, uint64_t *got, const int *cancel,
	      struct envdc_error *err);
/* Replaces file path with len bytes of fd from offset 0 (read with
 * pread, so a retry starts over), in one streamed request. */
int envdc_upload(struct envdc *e, const struct envdc_target *t, const char *path, int fd,
		uint64_t len, struct envdc_error *err);

/* Replaces file path with the body src gives, as it comes, in one
 * attempt without a time limit: ended by src, by *cancel (-EINTR, the
 * connection dropped) or by the request timeout without progress.  The
 * body is sent as one multipart part, so src can also withdraw it:
 * src->read returning ENVDC_WITHDRAW ends the body without its closing
 * boundary, which the server refuses with a 400 while the connection
 * stays usable: sbxd's envd then replaces nothing (E2B's writes in
 * place, so there the file holds what arrived until the next upload).
 * A failure is logged at debug only: the caller's fallback reports. */
#define ENVDC_WITHDRAW ((size_t)-2)
int envdc_upload_stream(struct envdc *e, const struct envdc_target *t, const char *path,
		       const struct http_source *src, const int *cancel, struct envdc_error *err);

/* The sandbox's disk from envd's GET /metrics: bytes used and in all. */
int envdc_disk(struct envdc *e, const struct envdc_target *t, uint64_t *used, uint64_t *total,
	       struct envdc_error *err);

/* The one map from an envd outcome to -errno (errmap.c). */
int envdc_errno_status(long status, const char *code, const char *message);
int envdc_errno_transport(int curl_code, int os_errno);

#endif
