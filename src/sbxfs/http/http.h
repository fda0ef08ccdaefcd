/* Private to the core library: one HTTP attempt over a pooled libcurl easy
 * handle.  No retries, no JSON, no errno policy: api.c decides those. */
#ifndef SBXFS_HTTP_H
#define SBXFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

/* Largest response body accepted; past it the transfer is aborted. */
#define HTTP_BODY_MAX (4u * 1024 * 1024)
/* Largest X-Next-Token kept; a longer one marks the reply bad_header. */
#define HTTP_TOKEN_MAX 4096

struct http_pool;

struct http_request {
	const char *method;        /* "GET", "POST" or "DELETE" */
	const char *url;           /* complete, already escaped */
	const char *body;          /* NULL: no body */
	const struct curl_slist *headers;  /* borrowed */
	const char *cafile;        /* NULL: system CAs */
	long connect_timeout_ms;
	long timeout_ms;           /* the whole attempt */
	bool fresh_connection;     /* no reused connection (so no silent resend) */
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
	size_t cap;                /* bytes allocated for body */
	bool too_large;            /* aborted past HTTP_BODY_MAX */
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
 * Returns NULL on allocation failure. */
struct http_pool *http_pool_new(unsigned max_idle);
void http_pool_free(struct http_pool *p);

/* Performs one request.  Returns 0 with *rs filled in (check curl_code and
 * status), or -ENOMEM when no handle could be had.  The caller releases *rs
 * with http_response_clear().  Thread-safe; no lock is held during the
 * transfer. */
int http_perform(struct http_pool *p, const struct http_request *rq, struct http_response *rs);
void http_response_clear(struct http_response *rs);

#endif
