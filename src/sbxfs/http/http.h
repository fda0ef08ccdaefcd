/* The transport: one HTTP attempt over a pooled libcurl easy handle, for
 * any service (the control-plane API, and a sandbox's own agent at another
 * base URL with headers of its own).  No JSON, no errno policy and no
 * retry loop: the services decide those (retry.h has the policy they
 * share).  A request carries its header list, its body as a string or a
 * source, its reply to a buffer or a sink, and its own cap. */
#ifndef SBXFS_HTTP_H
#define SBXFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

/* Largest response body accepted when a request sets no cap of its own;
 * past it the transfer is aborted. */
#define HTTP_BODY_MAX (4u * 1024 * 1024)
/* Largest X-Next-Token kept; a longer one marks the reply bad_header. */
#define HTTP_TOKEN_MAX 4096

struct http_pool;

/* A request body produced as it is sent (instead of http_request.body). */
struct http_source {
	/* Fills up to size bytes of buf: the count, 0 at the end, or
	 * HTTP_SOURCE_ABORT to fail the transfer (CURLE_ABORTED_BY_CALLBACK). */
	size_t (*read)(char *buf, size_t size, void *ctx);
	void *ctx;
	long long len;             /* its length; -1 when unknown (chunked) */
};
#define HTTP_SOURCE_ABORT CURL_READFUNC_ABORT

/* The buffers of a large transfer (http_request.large). */
#define HTTP_LARGE_BUFFER (1024L * 1024)
#define HTTP_LARGE_UPLOAD_BUFFER (2L * 1024 * 1024)   /* libcurl's largest */

/* Where a 2xx reply's body goes as it arrives (instead of
 * http_response.body); other replies' bodies, the server's explanation,
 * are still collected in http_response.body. */
struct http_sink {
	/* Takes len bytes: 0, or -errno to end the transfer (the errno goes to
	 * http_response.sink_err, the code is CURLE_WRITE_ERROR). */
	int (*write)(const char *data, size_t len, void *ctx);
	void *ctx;
};

/* A sink into the caller's buffer: p holds cap bytes, len of them so
 * far; more than cap ends the transfer with -EIO (more than was asked
 * for).  Use as { http_membuf_write, &membuf }. */
struct http_membuf {
	char *p;
	size_t len, cap;
};
int http_membuf_write(const char *data, size_t len, void *ctx);

struct http_request {
	const char *method;        /* "GET", "POST", "PUT" or "DELETE" */
	const char *url;           /* complete, already escaped; any base */
	const char *body;          /* NULL: no body (see source) */
	size_t body_len;           /* 0: strlen(body); else its length (binary) */
	const struct http_source *source;  /* NULL, or the body, streamed */
	const struct http_sink *sink;      /* NULL: the body goes to rs->body */
	size_t max_body;           /* cap on the reply body, 0: HTTP_BODY_MAX */
	const struct curl_slist *headers;  /* borrowed, per request */
	const char *cafile;        /* NULL: system CAs */
	long connect_timeout_ms;
	long timeout_ms;           /* the whole attempt; 0: none (a stream) */
	long idle_timeout_s;       /* 0: none; else ends a transfer that
	                            * received nothing for this long */
	bool fresh_connection;     /* no reused connection (so no silent resend) */
	bool large;                /* a large body (MiBs) either way: receive and
	                            * send in HTTP_LARGE_*BUFFER pieces, a
	                            * fraction of the system calls and wakeups
	                            * of libcurl's 16 KiB (64 KiB to send) */
	const int *cancel;         /* NULL, or: the transfer ends (CURLE_ABORTED_BY_
	                            * CALLBACK) within 50 ms of *cancel turning
	                            * non-zero; read atomically */
	bool (*interrupted)(void); /* NULL, or: polled on the calling thread every
	                            * 50 ms; true ends the transfer the same way */
};

struct http_response {
	int curl_code;             /* CURLE_OK when an HTTP reply arrived */
	int os_errno;              /* CURLINFO_OS_ERRNO on failure */
	long status;               /* 0 without a reply */
	char *body;                /* malloc'd, NUL-terminated; may be NULL */
	size_t len;
	unsigned long long streamed;  /* bytes handed to the sink */
	int sink_err;              /* the sink's -errno that ended it, or 0 */
	bool too_large;            /* aborted past the request's cap */
	bool bad_header;           /* an over-long X-Next-Token */
	long retry_after;          /* seconds from Retry-After, -1 when absent */
	char *next_token;          /* X-Next-Token, malloc'd; NULL when absent */
	long elapsed_ms;
	char errbuf[CURL_ERROR_SIZE];
};

/* Sends every request whose URL starts with `url_prefix` over the Unix
 * domain socket at `path` instead of TCP (the embedded sbxd's); NULL
 * arguments undo it.  Both are copied.  Returns 0 or -ENOMEM. */
int http_set_unix_socket(const char *url_prefix, const char *path);

/* Keeps at most max_idle handles (and their connections) between calls.
 * Every handle of a pool shares one DNS cache and one TLS session cache
 * (CURLSH), so a handle new to a host neither resolves it again nor does
 * a full handshake.  Connections themselves stay with the pooled handles,
 * each reused by the next caller: libcurl does not support one shared
 * connection cache used from concurrent threads.  Returns NULL on
 * allocation failure. */
struct http_pool *http_pool_new(unsigned max_idle);
void http_pool_free(struct http_pool *p);

/* Performs one request.  Returns 0 with *rs filled in (check curl_code and
 * status), or -ENOMEM when no handle could be had.  The caller releases *rs
 * with http_response_clear().  Thread-safe; no lock is held during the
 * transfer. */
int http_perform(struct http_pool *p, const struct http_request *rq, struct http_response *rs);
void http_response_clear(struct http_response *rs);

#endif
