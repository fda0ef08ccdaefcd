/* The calls of envd.h: the filesystem RPCs as Connect JSON, and /files. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "envd_priv.h"

/* A listing reply of this many bytes at most (some 300 bytes an entry). */
#define LIST_BODY_MAX (64u * 1024 * 1024)

/* A unary RPC of filesystem.Filesystem with body b (taken). */
static int rpc(struct envdc *e, const struct envdc_target *t, const char *method,
	       const char *subject, json_t *b, enum http_retry_class rc, int quiet,
	       size_t max_body, struct http_response *rs, struct envdc_error *err)
{
	char path[96];
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	struct ecall c = {
		.op = method, .subject = subject, .method = "POST", .path = path,
		.body = body, .content_type = "application/json", .upload_fd = -1,
		.max_body = max_body, .rc = rc, .rpc = true, .quiet = quiet,
	};
	int r;

	json_decref(b);
	if (body == NULL) {
		memset(rs, 0, sizeof(*rs));
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/filesystem.Filesystem/%s", method);
	r = envdc_call(e, t, &c, rs, err);
	free(body);
	return r;
}

static int bad_reply(struct envdc_error *err, const char *op, int r)
{
	if (r == -EPROTO)
		snprintf(err->message, sizeof(err->message), "bad %s reply", op);
	return r;
}

int envdc_stat(struct envdc *e, const struct envdc_target *t, const char *path,
	      struct fentry *out, struct envdc_error *err)
{
	struct http_response rs;
	int r = rpc(e, t, "Stat", path, json_pack("{ss}", "path", path), HTTP_RETRY_IDEMPOTENT,
		    -ENOENT, 0, &rs, err);

	memset(out, 0, sizeof(*out));
	if (r == 0)
		r = bad_reply(err, "Stat", fentry_parse_reply(rs.body, rs.len, out));
	http_response_clear(&rs);
	return r;
}

int envdc_list(struct envdc *e, const struct envdc_target *t, const char *path,
	      struct fentry **out, size_t *n, struct envdc_error *err)
{
	struct http_response rs;
	int r = rpc(e, t, "ListDir", path, json_pack("{sssi}", "path", path, "depth", 1),
		    HTTP_RETRY_IDEMPOTENT, -ENOENT, LIST_BODY_MAX, &rs, err);

	*out = NULL;
	*n = 0;
	if (r == 0)
		r = bad_reply(err, "ListDir", fentry_parse_list(rs.body, rs.len, out, n));
	http_response_clear(&rs);
	return r;
}

int envdc_mkdir(struct envdc *e, const struct envdc_target *t, const char *path,
	       struct envdc_error *err)
{
	struct http_response rs;
	int r = rpc(e, t, "MakeDir", path, json_pack("{ss}", "path", path),
		    HTTP_RETRY_UNPROCESSED, -EEXIST, 0, &rs, err);

	http_response_clear(&rs);
	return r;
}

int envdc_move(struct envdc *e, const struct envdc_target *t, const char *from, const char *to,
	      struct envdc_error *err)
{
	struct http_response rs;
	int r = rpc(e, t, "Move", from, json_pack("{ssss}", "source", from, "destination", to),
		    HTTP_RETRY_UNPROCESSED, -ENOENT, 0, &rs, err);

	http_response_clear(&rs);
	return r;
}

int envdc_remove(struct envdc *e, const struct envdc_target *t, const char *path,
		struct envdc_error *err)
{
	struct http_response rs;
	int r = rpc(e, t, "Remove", path, json_pack("{ss}", "path", path),
		    HTTP_RETRY_IDEMPOTENT, -ENOENT, 0, &rs, err);

	http_response_clear(&rs);
	return r;
}

/* "/files?path=<p>&username=<u>" into buf. */
static int files_path(const struct envdc *e, const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "/files?path=");
	if (envdc_escape(buf, size, path) < 0)
		return -ENAMETOOLONG;
	if (strlen(buf) + 11 >= size)
		return -ENAMETOOLONG;
	strcat(buf, "&username=");
	return envdc_escape(buf, size, envdc_user(e));
}

int envdc_read(struct envdc *e, const struct envdc_target *t, const char *path, uint64_t off,
	      uint64_t len, const struct http_sink *sink, uint64_t *got, const int *cancel,
	      struct envdc_error *err)
{
	char q[3 * PATH_MAX + 64], range[64];
	struct http_response rs;
	struct ecall c = {
		.op = "GET /files", .subject = path, .method = "GET", .path = q,
		.range = range, .upload_fd = -1, .sink = sink, .transfer_len = len,
		/* The transport caps what reaches a sink too: at what was asked. */
		.max_body = len ? (size_t)len : SIZE_MAX,
		.rc = HTTP_RETRY_IDEMPOTENT, .quiet = -ENOENT,
		/* A read that can be cancelled is a read-ahead, whose reader may
		 * wait on it: a server gone quiet must end it. */
		.cancel = cancel, .idle_s = cancel ? -1 : 0,
	};
	int r;

	*got = 0;
	if ((r = files_path(e, path, q, sizeof(q))) < 0)
		return r;
	if (len)
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	else
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", off);
	r = envdc_call(e, t, &c, &rs, err);
	if (r == 0 && rs.status == 200 && off > 0) {
		/* A server that ignores Range sent the whole file from 0: the
		 * sink has the wrong bytes. */
		snprintf(err->message, sizeof(err->message), "Range not honoured");
		r = -EIO;
	}
	*got = rs.streamed;
	http_response_clear(&rs);
	return r;
}

int envdc_upload(struct envdc *e, const struct envdc_target *t, const char *path, int fd,
		uint64_t len, struct envdc_error *err)
{
	char q[3 * PATH_MAX + 64];
	struct http_response rs;
	struct ecall c = {
		.op = "POST /files", .subject = path, .method = "POST", .path = q,
		.content_type = "application/octet-stream", .upload_fd = fd,
		.upload_len = len, .transfer_len = len, .rc = HTTP_RETRY_UNPROCESSED,
	};
	int r;

	if ((r = files_path(e, path, q, sizeof(q))) < 0)
		return r;
	r = envdc_call(e, t, &c, &rs, err);
	http_response_clear(&rs);
	return r;
}

int envdc_disk(struct envdc *e, const struct envdc_target *t, uint64_t *used, uint64_t *total,
	       struct envdc_error *err)
{
	struct http_response rs;
	struct ecall c = {
		.op = "GET /metrics", .subject = "/", .method = "GET", .path = "/metrics",
		.upload_fd = -1, .max_body = 64 * 1024, .rc = HTTP_RETRY_IDEMPOTENT,
	};
	int r = envdc_call(e, t, &c, &rs, err);

	*used = *total = 0;
	if (r == 0)
		r = bad_reply(err, "GET /metrics", fentry_parse_disk(rs.body, rs.len, used, total));
	http_response_clear(&rs);
	return r;
}
