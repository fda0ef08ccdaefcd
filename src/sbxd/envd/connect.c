/* Connect framing and codes; see connect.h. */
#include "envd/connect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *code; int status; } codes[] = {
	{ "canceled", 499 },          { "unknown", 500 },
	{ "invalid_argument", 400 },  { "deadline_exceeded", 504 },
	{ "not_found", 404 },         { "already_exists", 409 },
	{ "permission_denied", 403 }, { "resource_exhausted", 429 },
	{ "failed_precondition", 400 }, { "aborted", 409 },
	{ "out_of_range", 400 },      { "unimplemented", 501 },
	{ "internal", 500 },          { "unavailable", 503 },
	{ "data_loss", 500 },         { "unauthenticated", 401 },
};

int cx_code_status(const char *code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].code, code) == 0)
			return codes[i].status;
	return 500;
}

const char *cx_errno_code(int err)
{
	switch (err) {
	case -ENOENT:
		return "not_found";
	case -EEXIST:
		return "already_exists";
	case -EACCES:
	case -EPERM:
	case -EROFS:
		return "permission_denied";
	case -ENOTDIR:
	case -EISDIR:
	case -EINVAL:
	case -ENAMETOOLONG:
	case -EXDEV:
	case -ENOTEMPTY:
		return "invalid_argument";
	case -ELOOP:
		return "failed_precondition";
	case -ENOSPC:
	case -EDQUOT:
	case -EMFILE:
	case -EAGAIN:
		return "resource_exhausted";
	default:
		return "internal";
	}
}

json_t *cx_error_json(const char *code, const char *msg)
{
	return json_pack("{s:s, s:s}", "code", code, "message", msg ? msg : "");
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int cx_envelope_parse(const unsigned char *buf, size_t len, size_t max, uint8_t *flags,
		      const unsigned char **msg, size_t *msglen, size_t *used)
{
	uint32_t n;

	if (len < CX_HEADER)
		return -EAGAIN;
	n = get_be32(buf + 1);
	if (n > max)
		return -EMSGSIZE;
	if (len - CX_HEADER < n)
		return -EAGAIN;
	*flags = buf[0];
	*msg = buf + CX_HEADER;
	*msglen = n;
	*used = CX_HEADER + (size_t)n;
	return 0;
}

int cx_request_message(const unsigned char *body, size_t len, json_t **out, char *err,
		       size_t errlen)
{
	const unsigned char *msg;
	size_t mlen, used;
	uint8_t flags;
	json_error_t je;
	int rc = cx_envelope_parse(body, len, CX_MAX_MESSAGE, &flags, &msg, &mlen, &used);

	*out = NULL;
	if (rc == -EMSGSIZE) {
		snprintf(err, errlen, "message larger than %u bytes", CX_MAX_MESSAGE);
		return rc;
	}
	if (rc < 0 || used != len) {
		snprintf(err, errlen, "malformed envelope: %s",
			 rc < 0 ? "truncated" : "more than one message");
		return -EINVAL;
	}
	if (flags & CX_FLAG_COMPRESSED || flags & CX_FLAG_END) {
		snprintf(err, errlen, "unexpected envelope flags 0x%02x", flags);
		return -EINVAL;
	}
	/* An empty message is the empty object. */
	*out = mlen ? json_loadb((const char *)msg, mlen, JSON_REJECT_DUPLICATES, &je)
		    : json_object();
	if (!*out || !json_is_object(*out)) {
		snprintf(err, errlen, "invalid JSON message%s%s", *out ? "" : ": ",
			 *out ? "" : je.text);
		json_decref(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static unsigned char *frame_text(uint8_t flags, const char *text, size_t n, size_t *len)
{
	unsigned char *b = malloc(CX_HEADER + n);

	if (!b)
		return NULL;
	b[0] = flags;
	b[1] = (unsigned char)(n >> 24);
	b[2] = (unsigned char)(n >> 16);
	b[3] = (unsigned char)(n >> 8);
	b[4] = (unsigned char)n;
	memcpy(b + CX_HEADER, text, n);
	*len = CX_HEADER + n;
	return b;
}

unsigned char *cx_frame(uint8_t flags, const json_t *json, size_t *len)
{
	char *text = json_dumps(json, JSON_COMPACT);
	unsigned char *b;

	if (!text)
		return NULL;
	b = frame_text(flags, text, strlen(text), len);
	free(text);
	return b;
}

unsigned char *cx_frame_end(const char *code, const char *msg, size_t *len)
{
	json_t *o;
	unsigned char *b;

	if (!code)
		return frame_text(CX_FLAG_END, "{}", 2, len);
	o = json_pack("{s:o}", "error", cx_error_json(code, msg));
	if (!o)
		return NULL;
	b = cx_frame(CX_FLAG_END, o, len);
	json_decref(o);
	return b;
}

