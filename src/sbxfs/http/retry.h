/* The retry policy every service shares: whether an attempt that failed
 * may be sent again, and how long to wait first.  It knows requests only
 * by how safe they are to repeat, never by what they do; each service
 * (api/, and later envd/) says which class each of its requests is, runs
 * its attempts within its own deadline and maps outcomes to errno itself. */
#ifndef SBXFS_HTTP_RETRY_H
#define SBXFS_HTTP_RETRY_H

#include <stdbool.h>

#include "http.h"

enum http_retry_class {
	/* Repeating it does no harm (GET, DELETE, setting a value): any
	 * transport failure, 429, 502, 503, 504. */
	HTTP_RETRY_IDEMPOTENT,
	/* Repeat only what certainly did not reach the handler: failures to
	 * connect or resolve, 429 and 503. */
	HTTP_RETRY_UNPROCESSED,
	/* Makes something new, and a repeat would make it twice: failures to
	 * connect or resolve, 503, and a 429 that says when to come back
	 * (Retry-After).  Never after a timeout, a dropped connection, 500,
	 * 502 or 504: it may have happened by then. */
	HTTP_RETRY_ONCE,
};

/* May an attempt that ended with this libcurl code be sent again? */
bool http_retry_transport(enum http_retry_class rc, int curl_code);
/* May an attempt answered with this HTTP status (and Retry-After in
 * seconds, -1 when absent) be sent again? */
bool http_retry_status(enum http_retry_class rc, long status, long retry_after);
/* Whether a request of this class needs a connection of its own: libcurl
 * silently resends a request once when a reused connection turns out dead
 * with nothing received, which only an idempotent request may risk. */
bool http_retry_fresh_connection(enum http_retry_class rc);
/* How long to wait before the attempt after attempt (0-based): the
 * reply's Retry-After when it has one, else exponential backoff with
 * jitter (100 ms doubling up to 2 s, half of it random).  Thread-safe. */
long http_retry_delay_ms(const struct http_response *rs, unsigned attempt);

#endif
