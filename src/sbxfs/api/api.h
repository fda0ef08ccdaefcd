/* The HTTP/JSON client for the sandbox REST API (E2B/Novita wire format).
 *
 * A failed call is logged once, at warn, by this client (a 404 at debug):
 * operation, method, path, message, errno and status, with every secret
 * scrubbed (scrub.h).  The key is added to scrub.h's set by api_new() and
 * api_set_key(), and stays there after a rotation.
 *
 * Thread-safe: each call borrows a libcurl easy handle from a small pool
 * (keep-alive is reused, a handle is never used by two threads at once) and
 * no lock is held during a transfer.  Every function returns 0 or -errno;
 * the human detail (HTTP status, server message) goes into *err when err is
 * not NULL, and into the client's "last error" for .sbxfs/status.
 *
 * The caller (main) must call curl_global_init() before the first api_new()
 * and before any thread starts, and curl_global_cleanup() after the last
 * api_free().
 *
 * Retries (backoff with jitter, or Retry-After; all within deadline_ms and
 * max_retries; a wait that would pass the deadline ends the call at once):
 * list/get/probe/kill/timeout on 429, 502, 503, 504 and transport failures;
 * pause/resume only on 429/503 and failures to connect; create only on
 * failures to connect, 503, and a 429 with Retry-After that is no quota.
 * A 404 on a retried kill is success.  The list deadline is per page.
 *
 * api_list starts a short-lived thread of its own (see there), so call it
 * only once threads may run, i.e. after daemonizing. */
#ifndef SBXFS_API_H
#define SBXFS_API_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "model/model.h"
#include "model/sbxdata.h"

struct api;

struct api_config {
	const char *url;          /* base URL, e.g. http://127.0.0.1:49982 */
	const char *api_key;      /* copied; never logged */
	const char *cafile;       /* NULL: system CAs */
	long connect_timeout_ms;  /* 0: 5000 */
	long request_timeout_ms;  /* per attempt; 0: 15000 */
	long deadline_ms;         /* all attempts incl. backoff; 0: 30000 */
	unsigned max_retries;     /* 0: 4 */
	long list_deadline_ms;    /* a whole listing, all pages; 0: 4 x deadline_ms */
	size_t max_sandboxes;     /* entries a listing may hold; 0: 100000 */
};

/* What went wrong, for logs and the status file; never changes the errno. */
struct api_error {
	int http_status;        /* 0 when no HTTP reply */
	int err;                /* the -errno returned */
	char message[256];      /* server message or transport reason */
	time_t when;
};

/* The operations, for the per-operation errno overrides. */
enum api_op {
	API_OP_LIST, API_OP_GET, API_OP_CREATE, API_OP_KILL, API_OP_TIMEOUT,
	API_OP_PAUSE, API_OP_RESUME, API_OP_PROBE, API_OP_METRICS, API_OP_LOGS,
};

/* Maps an HTTP status to -errno for an operation: 2xx→0, 400→EINVAL,
 * 401/403→EACCES, 404→ENOENT, 409→EEXIST on create / EBUSY otherwise,
 * 413→EFBIG, 429→EAGAIN (EDQUOT on create when quota_exceeded),
 * 5xx→EIO, other→EIO.  A 429 on create is taken as a quota when it has no
 * Retry-After or its message speaks of a concurrency limit or quota. */
int api_errno_for_status(enum api_op op, int status, bool quota_exceeded);
/* Maps a libcurl result to -errno: timeouts→ETIMEDOUT, refused→ECONNREFUSED,
 * DNS failure→EHOSTUNREACH (an unreachable network, seen from the socket
 * errno, too), TLS failures (untrusted certificate, handshake)→ECONNREFUSED
 * with "TLS failure: ..." in the message, out of memory→ENOMEM, a bad URL→
 * EINVAL, anything else (dropped connection, empty reply, a body over the
 * 4 MiB cap)→EIO. */
int api_errno_for_curl(int curl_code);

/* Returns NULL with *errmsg (malloc'd, caller frees) on failure. */
struct api *api_new(const struct api_config *cfg, char **errmsg);
void api_free(struct api *a);

/* interrupted (may be NULL) is polled on the calling thread every 50 ms
 * during a call's transfers and backoffs; when it says true the call ends
 * with -EINTR (a create may have reached the server by then).  Set it
 * before threads start. */
void api_set_interrupt(struct api *a, bool (*interrupted)(void));

/* Replaces the key (SIGHUP rotation).  0 or -ENOMEM. */
int api_set_key(struct api *a, const char *key);

/* Checks URL and key with one authenticated request (GET /v2/sandboxes
 * ?limit=1).  Used before mounting; its failure is not logged (the caller
 * reports it where the user looks). */
int api_probe(struct api *a, struct api_error *err);

/* Every sandbox, running and paused, following X-Next-Token across pages of
 * 100, in the server's order.  From the second page on, a fetcher thread
 * requests page k+1 while the calling thread parses page k; the fetcher
 * stays one page ahead at most, so at most two page bodies are held, and
 * it is joined before the call returns.  Any page's failure fails the
 * listing exactly as if the pages had been fetched one by one (the first
 * failing page's errno and *err; at most one page past it requested, and
 * that request cancelled within about a second rather than waited for).
 * The whole listing ends within list_deadline_ms and holds at most
 * max_sandboxes entries; past either it fails with -EIO and the reason.
 * A sandbox listed again on a later page replaces its earlier entry at
 * once, so a backend that repeats its pages costs no memory.
 * When no thread can be started the pages are fetched in turn.  Caller
 * owns *items (sbx_array_free). */
int api_list(struct api *a, struct sbx ***items, size_t *n, struct api_error *err);
int api_get(struct api *a, const char *id, struct sbx **out, struct api_error *err);
/* Creates from template with timeout seconds; name (may be NULL) is stored
 * as metadata SBX_NAME_KEY.  Never retried once the request may have reached
 * the server.  *out describes the new sandbox (state running, end time
 * now+timeout). */
int api_create(struct api *a, const char *template_id, unsigned long timeout,
	       const char *name, struct sbx **out, struct api_error *err);
int api_kill(struct api *a, const char *id, struct api_error *err);
int api_set_timeout(struct api *a, const char *id, unsigned long secs, struct api_error *err);
int api_pause(struct api *a, const char *id, struct api_error *err);
/* Resumes a paused sandbox via POST /sandboxes/{id}/connect. */
int api_resume(struct api *a, const char *id, unsigned long timeout, struct api_error *err);

/* The newest sample of GET /sandboxes/{id}/metrics?start=<now - 300 s>
 * into *out (present false when the server has none).  Retried as a
 * GET. */
int api_metrics(struct api *a, const char *id, struct sbx_metrics *out,
		struct api_error *err);
/* One page of GET /v2/sandboxes/{id}/logs?direction=forward&limit=limit,
 * from cursor_ms on (the server's cursor is inclusive: entries at that
 * millisecond come again), or from the oldest when cursor_ms < 0.  limit
 * 1..1000.  0 with the lines in the server's (ascending) order in *out
 * (caller sbx_log_lines_free()s it), or -errno.  Retried as a GET. */
int api_logs(struct api *a, const char *id, int64_t cursor_ms, unsigned limit,
	     struct sbx_log_line **out, size_t *n, struct api_error *err);

struct api_stats {
	uint64_t requests;      /* HTTP attempts sent */
	uint64_t retries;
	uint64_t failures;      /* calls that returned an error */
	bool reachable;         /* last attempt got an HTTP reply */
	struct api_error last_error;
};
void api_get_stats(struct api *a, struct api_stats *out);
/* The base URL (borrowed, lives as long as a). */
const char *api_url(const struct api *a);

#endif
