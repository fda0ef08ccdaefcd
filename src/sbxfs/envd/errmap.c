/* envd's outcomes to errno: one map for the Connect codes of the RPCs and
 * the HTTP statuses of /files (envd.h).
 *
 * Choices beyond the obvious:
 *  - invalid_argument and 400 say EINVAL, unless the message says which
 *    kind of node was wrong ("not a directory", "is a directory"): the
 *    caller's errno is then the one a local filesystem gives.
 *  - 502 is the sandbox not running (paused or gone: the proxy cannot
 *    reach it): EHOSTDOWN, which the filesystem refines with the state.
 *  - unauthenticated and 401 are EACCES; the store fetches the token once
 *    more before it gives that to the user.
 *  - resource_exhausted and 429 are EAGAIN (a rate), 507 ENOSPC (a disk). */
#include <errno.h>
#include <string.h>
#include <curl/curl.h>

#include "client.h"

static int by_message(const char *message, int dflt)
{
	if (message && strstr(message, "not a directory"))
		return -ENOTDIR;
	if (message && strstr(message, "is a directory"))
		return -EISDIR;
	return dflt;
}

static const struct {
	const char *code;
	int err;
} codes[] = {
	{ "not_found", -ENOENT },
	{ "already_exists", -EEXIST },
	{ "permission_denied", -EACCES },
	{ "unauthenticated", -EACCES },
	{ "deadline_exceeded", -ETIMEDOUT },
	{ "canceled", -EINTR },
	{ "unavailable", -EAGAIN },
	{ "resource_exhausted", -EAGAIN },
	{ "failed_precondition", -ELOOP },   /* envd's symlink loop */
	{ "unimplemented", -ENOSYS },
	{ "out_of_range", -EINVAL },
};

static int from_status(long status, const char *message)
{
	switch (status) {
	case 400: return by_message(message, -EINVAL);
	case 401: case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EEXIST;
	case 413: return -EFBIG;
	case 416: return 0;         /* a Range past the end: nothing left */
	case 429: case 503: return -EAGAIN;
	case 502: return -EHOSTDOWN;
	case 504: return -ETIMEDOUT;
	case 507: return -ENOSPC;
	default: return status >= 200 && status < 300 ? 0 : -EIO;
	}
}

int envdc_errno_status(long status, const char *code, const char *message)
{
	/* A proxy's 502 may carry a JSON code of its own: the status wins. */
	if (status == 502 || status == 507 || !code || !code[0])
		return from_status(status, message);
	if (strcmp(code, "invalid_argument") == 0)
		return by_message(message, -EINVAL);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i].code) == 0)
			return codes[i].err;
	return -EIO;
}

int envdc_errno_transport(int curl_code, int os_errno)
{
	switch (curl_code) {
	case CURLE_OK: return 0;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT: return os_errno ? -os_errno : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_ABORTED_BY_CALLBACK: return -EINTR;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return -EIO;
	}
}
