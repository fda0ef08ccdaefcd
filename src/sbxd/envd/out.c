/* envd's replies; see priv.h. */
#include "envd/connect.h"
#include "envd/priv.h"
#include "envd/stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void out_json(struct envd_out *out, int status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	out->status = text ? status : 500;
	out->content_type = "application/json";
	out->body = text;
	out->len = text ? strlen(text) : 0;
}

void out_http_error(struct envd_out *out, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_json(out, status, json_pack("{s:i, s:s}", "code", status, "message", msg));
}

void out_cx_error(struct envd_out *out, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_json(out, cx_code_status(code), cx_error_json(code, msg));
}

bool out_add_header(struct envd_out *out, const char *name, const char *value)
{
	if (out->nhdr >= ENVD_MAX_HEADERS)
		return false;
	out->hdr[out->nhdr].name = name;
	snprintf(out->hdr[out->nhdr].value, sizeof(out->hdr[0].value), "%s", value);
	out->nhdr++;
	return true;
}

void envd_out_release(struct envd_out *out)
{
	free(out->body);
	out->body = NULL;
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	estream_unref(out->stream);
	out->stream = NULL;
}

void out_stream(struct envd_out *out, struct estream *s)
{
	estream_ref(s);
	out->stream = s;
	out->status = 200;
	out->content_type = "application/connect+json";
}

void out_stream_error(struct envd_out *out, const char *code, const char *fmt, ...)
{
	char msg[1024];
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->body = (char *)cx_frame_end(code, msg, &len);
	out->len = out->body ? len : 0;
	out->status = out->body ? 200 : 500;
	out->content_type = "application/connect+json";
}
