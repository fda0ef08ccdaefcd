/* Private to the core library: the errno policy's helpers beside the public
 * api_errno_for_status()/api_errno_for_curl() of api.h. */
#ifndef SBXFS_ERRMAP_H
#define SBXFS_ERRMAP_H

#include <stdbool.h>
#include <stddef.h>

/* api_errno_for_curl() refined by the socket errno of the failed connect
 * (an unreachable network is EHOSTUNREACH, not ECONNREFUSED). */
int errmap_transfer(int curl_code, int os_errno);

/* True for the libcurl failures that are about TLS trust or handshake. */
bool errmap_is_tls(int curl_code);

/* True when a 429 reply reads as a quota ("maximum number of concurrent
 * sandboxes") rather than a rate limit. */
bool errmap_is_quota_message(const char *msg);

#endif
