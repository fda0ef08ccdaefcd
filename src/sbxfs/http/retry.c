/* The retry policy shared by the services; see retry.h. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "retry.h"
#include "common/clock.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 2000

bool http_retry_transport(enum http_retry_class rc, int code)
{
	if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
	    code == CURLE_COULDNT_RESOLVE_PROXY)
		return true;   /* nothing reached the server */
	if (rc != HTTP_RETRY_IDEMPOTENT)
		return false;
	return code == CURLE_OPERATION_TIMEDOUT || code == CURLE_GOT_NOTHING ||
	       code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR ||
	       code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
}

bool http_retry_status(enum http_retry_class rc, long status, long retry_after)
{
	switch (rc) {
	case HTTP_RETRY_IDEMPOTENT:
		return status == 429 || status == 502 || status == 503 || status == 504;
	case HTTP_RETRY_UNPROCESSED:
		return status == 429 || status == 503;
	default:
		return status == 503 || (status == 429 && retry_after >= 0);
	}
}

bool http_retry_fresh_connection(enum http_retry_class rc)
{
	return rc != HTTP_RETRY_IDEMPOTENT;
}

static long backoff_ms(unsigned attempt)
{
	static __thread unsigned seed;
	long base = BACKOFF_BASE_MS;

	if (!seed)
		seed = (unsigned)clock_mono_ms() ^ (unsigned)(uintptr_t)&seed;
	for (unsigned i = 0; i < attempt && base < BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	return base / 2 + rand_r(&seed) % (base / 2 + 1);
}

long http_retry_delay_ms(const struct http_response *rs, unsigned attempt)
{
	return rs->retry_after >= 0 ? rs->retry_after * 1000 : backoff_ms(attempt);
}
