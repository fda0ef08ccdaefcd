/* Shared between api.c (one call with retries), calls.c (the single-request
 * calls) and api_list.c (the paged listing); private to the API client. */
#ifndef SBXFS_API_PRIV_H
#define SBXFS_API_PRIV_H

#include <stddef.h>

#include "api.h"
#include "http/http.h"

struct call {
	enum api_op op;
	const char *method;
	const char *path;         /* escaped, may have a query */
	const char *body;         /* NULL: none */
	const int *cancel;        /* NULL, or: set, it ends the call soon with
	                           * -ECANCELED (see http_request) */
	long deadline_at;         /* monotonic ms the call must end by, when
	                           * sooner than its own deadline; 0: none */
};

/* Performs c with the retry policy and records nothing of a failure, so
 * the caller decides whether it counts.  0: *rs holds the 2xx reply
 * (caller clears it).  -errno: *rs cleared, the last HTTP status (0
 * without a reply) in *status and the reason in msg.  Thread-safe. */
int api_call_attempts(struct api *a, const struct call *c, struct http_response *rs,
		      int *status, char *msg, size_t msglen);
/* api_call_attempts(), recording a failure.  0: *rs holds the 2xx reply
 * (caller clears it).  -errno: *err filled in, *rs cleared. */
int api_call(struct api *a, const struct call *c, struct http_response *rs,
	     struct api_error *err);
/* Records a failed call: *err (when not NULL), the stats' failure count
 * and last error, a log line.  Returns r. */
int api_call_failed(struct api *a, const struct call *c, struct api_error *err,
		    int status, int r, const char *msg);
/* s with everything but RFC 3986 unreserved characters %-escaped;
 * malloc'd (caller frees), NULL on allocation failure. */
char *api_url_escape(const char *s);
/* The listing's bounds (api_config's, defaults applied). */
long api_list_deadline_ms(const struct api *a);
size_t api_max_sandboxes(const struct api *a);
long api_now_ms(void);

#endif
