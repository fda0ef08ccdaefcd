/* Which sandbox a request is for, who it runs as, and whether it may:
 * the sandbox-id headers or Host, the X-Access-Token check and the
 * user from Basic auth. */
#include "envd/route.h"

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

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional) into out as
 * a string.  -1 when malformed or too long. */
static int b64_decode(const char *in, char *out, size_t outlen)
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		int v = b64_value((unsigned char)*in);

		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	out[n] = '\0';
	return memchr(out, '\0', n) ? -1 : 0;
}

int envd_user_from(const char *authorization, const char *q_username, char *user,
		   size_t userlen)
{
	char dec[256];

	user[0] = '\0';
	if (q_username && *q_username) {
		snprintf(user, userlen, "%s", q_username);
		return 0;
	}
	if (!authorization || !*authorization)
		return 0;
	if (strncasecmp(authorization, "Basic ", 6) != 0)
		return -1;
	if (b64_decode(authorization + 6, dec, sizeof(dec)) < 0)
		return -1;
	dec[strcspn(dec, ":")] = '\0';
	snprintf(user, userlen, "%s", dec);
	return 0;
}
