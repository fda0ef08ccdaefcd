/* Which sandbox a request is for, who it runs as, and whether it may:
 * the sandbox-id headers or Host, the X-Access-Token check and the
 * user from Basic auth. */
#include "common/b64.h"
#include "envd/route.h"

#include "envd/connect.h"
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ENVD_PORT_PREFIX "49983-"

static bool copy_id(const char *s, size_t n, char id[65])
{
	if (n == 0 || n > 64)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return util_valid_id(id);
}

bool envd_route(const char *e2b_hdr, const char *novita_hdr, const char *host, char id[65])
{
	const char *h = e2b_hdr && *e2b_hdr ? e2b_hdr : novita_hdr;
	size_t plen = strlen(ENVD_PORT_PREFIX);

	if (h && *h) {
		/* An envd request even when the ID is bad: it gets the 502. */
		if (!copy_id(h, strlen(h), id))
			id[0] = '\0';
		return true;
	}
	if (!host || strncmp(host, ENVD_PORT_PREFIX, plen) != 0)
		return false;
	host += plen;
	const char *dot = strchr(host, '.');

	if (!dot || !copy_id(host, (size_t)(dot - host), id))
		id[0] = '\0';
	return true;
}

int envd_user_from(const char *authorization, const char *q_username, char *user,
		   size_t userlen)
{
	char dec[256];
	size_t n;

	user[0] = '\0';
	if (q_username && *q_username) {
		snprintf(user, userlen, "%s", q_username);
		return 0;
	}
	if (!authorization || !*authorization)
		return 0;
	if (strncasecmp(authorization, "Basic ", 6) != 0)
		return -1;
	if (b64_decode(authorization + 6, strlen(authorization + 6), dec, sizeof(dec) - 1,
			  &n) < 0 || memchr(dec, '\0', n))
		return -1;
	dec[n] = '\0';
	dec[strcspn(dec, ":")] = '\0';
	snprintf(user, userlen, "%s", dec);
	return 0;
}
