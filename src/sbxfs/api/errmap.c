/* The one mapping from an HTTP outcome to an errno.
 *
 * Choices beyond the obvious:
 *  - 409 is EEXIST on create (the name or sandbox exists) and EBUSY for
 *    every other operation (already paused, being changed).
 *  - 413 is EFBIG: the request (metadata, say) was too large.
 *  - 429 is EAGAIN, or EDQUOT on create when it is a quota rather than a
 *    rate limit (see api.c for how that is decided).
 *  - Every 5xx and every unknown status is EIO.
 *  - A TLS failure (certificate not trusted, wrong host name, handshake
 *    refused) is ECONNREFUSED: sbxfs refused the connection.  The message
 *    in api_error says which TLS check failed, so it is not mistaken for a
 *    closed port.
 *  - A dropped connection or an empty reply is EIO. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "api.h"
#include "errmap.h"

int api_errno_for_status(enum api_op op, int status, bool quota_exceeded)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 400: return -EINVAL;
	case 401:
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return op == API_OP_CREATE ? -EEXIST : -EBUSY;
	case 413: return -EFBIG;
	case 429: return op == API_OP_CREATE && quota_exceeded ? -EDQUOT : -EAGAIN;
	default: return -EIO;
	}
}

bool errmap_is_tls(int curl_code)
{
	switch (curl_code) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

int api_errno_for_curl(int curl_code)
{
	switch (curl_code) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return errmap_is_tls(curl_code) ? -ECONNREFUSED : -EIO;
	}
}

int errmap_transfer(int curl_code, int os_errno)
{
	if (curl_code == CURLE_COULDNT_CONNECT &&
	    (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH || os_errno == EHOSTDOWN ||
	     os_errno == ENETDOWN))
		return -EHOSTUNREACH;
	if (curl_code == CURLE_COULDNT_CONNECT && os_errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return api_errno_for_curl(curl_code);
}

bool errmap_is_quota_message(const char *msg)
{
	static const char *const words[] = { "concurrent", "quota", "limit" };

	if (msg && (strcasestr(msg, "rate limit") || strcasestr(msg, "rate-limit") ||
		    strcasestr(msg, "ratelimit")))
		return false;
	for (size_t i = 0; msg && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(msg, words[i]))
			return true;
	return false;
}
