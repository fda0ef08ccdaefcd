/* The calls of envd.h: the filesystem RPCs as Connect JSON, and /files. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* POST /files of path with c's body, of type ct (the rest of c filled
 * here). */
static int post_file(struct envdc *e, const struct envdc_target *t, const char *path,
		     const char *ct, struct ecall *c, struct envdc_error *err)
{
	char q[3 * PATH_MAX + 64];
	struct http_response rs;
	int r;

	if ((r = files_path(e, path, q, sizeof(q))) < 0)
		return r;
	c->op = "POST /files";
	c->subject = path;
	c->method = "POST";
	c->path = q;
	c->content_type = ct;
	r = envdc_call(e, t, c, &rs, err);
	http_response_clear(&rs);
	return r;
}

int envdc_upload(struct envdc *e, const struct envdc_target *t, const char *path, int fd,
		uint64_t len, struct envdc_error *err)
{
	struct ecall c = {
		.upload_fd = fd, .upload_len = len, .transfer_len = len,
		.rc = HTTP_RETRY_UNPROCESSED,
	};

	return post_file(e, t, path, "application/octet-stream", &c, err);
}

/* The multipart framing of a streamed upload around the caller's source:
 * the part's header, the source's bytes, then the closing boundary only
 * when the source ended (not when it withdrew). */
struct framing {
	const struct http_source *src;
	char head[256], tail[64];
	size_t head_len, tail_len, at;     /* at: sent of head, or of tail */
	enum { FR_HEAD, FR_BODY, FR_TAIL, FR_END } state;
};

static size_t piece(char *buf, size_t size, const char *p, size_t len, size_t *at)
{
	size_t k = len - *at < size ? len - *at : size;

	memcpy(buf, p + *at, k);
	*at += k;
	return k;
}

static size_t framing_read(char *buf, size_t size, void *ctx)
{
	struct framing *fr = ctx;
	size_t n;

	for (;;) {
		switch (fr->state) {
		case FR_HEAD:
			if (fr->at < fr->head_len)
				return piece(buf, size, fr->head, fr->head_len, &fr->at);
			fr->state = FR_BODY;
			fr->at = 0;
			break;
		case FR_BODY:
			n = fr->src->read(buf, size, fr->src->ctx);
			if (n == ENVDC_WITHDRAW)
				fr->state = FR_END;
			else if (n == 0)
				fr->state = FR_TAIL;
			else
				return n;
			break;
		case FR_TAIL:
			if (fr->at < fr->tail_len)
				return piece(buf, size, fr->tail, fr->tail_len, &fr->at);
			fr->state = FR_END;
			break;
		case FR_END:
			return 0;
		}
	}
}

int envdc_upload_stream(struct envdc *e, const struct envdc_target *t, const char *path,
		       const struct http_source *src, const int *cancel, struct envdc_error *err)
{
	struct framing fr = { .src = src };
	struct http_source body = { framing_read, &fr, -1 };
	struct ecall c = {
		.upload_fd = -1, .source = &body,
		/* Its size is not known: large, for the buffers. */
		.transfer_len = 1u << 30, .rc = HTTP_RETRY_UNPROCESSED,
		.stream = true, .cancel = cancel, .idle_s = -1, .debug_only = true,
	};
	unsigned char raw[16];
	char boundary[2 * sizeof(raw) + 8], ct[96];

	/* Random, so the file's bytes cannot contain it. */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err->message, sizeof(err->message), "no random bytes: %s",
			 strerror(errno));
		return -EIO;
	}
	memcpy(boundary, "sbxfs-", 7);
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(boundary + 6 + 2 * i, 3, "%02x", raw[i]);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", boundary);
	fr.head_len = (size_t)snprintf(fr.head, sizeof(fr.head),
				       "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
				       "filename=\"file\"\r\nContent-Type: "
				       "application/octet-stream\r\n\r\n", boundary);
	fr.tail_len = (size_t)snprintf(fr.tail, sizeof(fr.tail), "\r\n--%s--\r\n", boundary);
	return post_file(e, t, path, ct, &c, err);
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
