/* POST /files: the body streamed to disk.  Pipeline:
 *   body -> gunzip (Content-Encoding: gzip) -> multipart parser or raw
 *   -> the open file (parents made, O_TRUNC, owned by the user).
 * A quota from the sandbox's disk size stops it with 507: what the
 * sandbox's files take (envd/usage.h) plus this upload stays within it,
 * and the bytes written go to that count at once, so the next upload
 * sees them without walking the tree again. */
#include "envd/files.h"
#include "envd/multipart.h"
#include "envd/path.h"
#include "envd/usage.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

struct upload {
	const struct envd_box *b;
	bool gzip;
	z_stream z;
	bool z_ready;
	bool z_end;                     /* the gzip stream ended */
	struct mp *mp;                  /* NULL: a raw body for `raw_path` */
	char *raw_path;
	int fd;                         /* the file being written, or -1 */
	int dfd;                        /* its directory (O_PATH), or -1 */
	char cur[PATH_MAX];             /* its path in the sandbox */
	char name[NAME_MAX + 1];        /* its last component */
	char tmp[NAME_MAX + 1];         /* the temporary name it has until done */
	bool skip;                      /* a part that is not form field "file" */
	int64_t written;                /* all files so far */
	int64_t file_written;           /* the one being written */
	int64_t room;                   /* bytes the quota leaves; <0: none */
	json_t *done;                   /* [{path,name,type}] */
	int status;                     /* 0, or the error reply's */
	char msg[PATH_MAX + 128];
};

static int fail(struct upload *u, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void drop_target(struct upload *u);

/* The first failure is the reply; the file being written goes at once
 * (the rest of the body is still read, and the next upload must not find
 * these bytes in the sandbox or in its disk usage meanwhile). */
static int fail(struct upload *u, int status, const char *fmt, ...)
{
	va_list ap;

	if (!u->status) {
		u->status = status;
		va_start(ap, fmt);
		vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
		va_end(ap);
	}
	drop_target(u);
	return -EIO;
}

static int fail_errno(struct upload *u, int err, const char *path)
{
	if (err == -ENOSPC || err == -EDQUOT)
		return fail(u, 507, "not enough disk space for %s", path);
	if (err == -EISDIR)
		return fail(u, 400, "path is a directory: %s", path);
	if (err == -ENOTDIR)
		return fail(u, 400, "a parent of %s is not a directory", path);
	if (err == -EACCES || err == -EPERM || err == -EROFS)
		return fail(u, 403, "permission denied: %s", path);
	return fail(u, 500, "cannot write %s: %s", path, strerror(-err));
}

/* Creates the temporary file beside `name` in dirfd that becomes it once
 * complete: a failed upload leaves the old file (or none) behind. */
static int open_temp(struct upload *u, const char *name)
{
	struct stat st;

	if (fstatat(u->dfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	for (int tries = 0; tries < 8; tries++) {
		unsigned r;

		if (util_random(&r, sizeof(r)) < 0)
			return -EIO;
		snprintf(u->tmp, sizeof(u->tmp), ".%.200s.upload-%08x", name, r);
		u->fd = openat(u->dfd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			       O_NOCTTY | O_CLOEXEC, 0644);
		if (u->fd >= 0 || errno != EEXIST)
			break;
	}
	if (u->fd < 0)
		return -errno;
	u->file_written = 0;
	ep_chown(u->fd, "", u->b->uid, u->b->gid);
	return 0;
}

/* Opens the target of one file, making its parents. */
static int open_target(struct upload *u, const char *raw, size_t rawlen)
{
	const struct envd_box *b = u->b;
	char dir[PATH_MAX];
	int created, rc;

	if (ep_expand(raw, rawlen, b->home, u->cur, sizeof(u->cur)) < 0 || !strcmp(u->cur, "/"))
		return fail(u, 400, "invalid path");
	for (size_t i = 0; i < json_array_size(u->done); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(u->done, i), "path")),
			    u->cur))
			return fail(u, 400, "path %s given more than once", u->cur);
	snprintf(dir, sizeof(dir), "%.*s", (int)(ep_base(u->cur) - u->cur), u->cur);
	if (strlen(dir) > 1 && (rc = ep_mkdirs(b->root, dir, b->uid, b->gid, &created)) < 0)
		return fail_errno(u, rc, u->cur);
	if ((u->dfd = ep_parent(b->root, u->cur, u->name)) < 0) {
		rc = u->dfd;
		return fail_errno(u, rc, u->cur);
	}
	if ((rc = open_temp(u, u->name)) < 0)
		return fail_errno(u, rc, u->cur);
	return 0;
}

/* Drops the file being written, if any. */
static void drop_target(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		unlinkat(u->dfd, u->tmp, 0);
		usage_add(u->b->usage, u->b->id, -u->file_written);
	}
	if (u->dfd >= 0)
		close(u->dfd);
	u->fd = u->dfd = -1;
}

static int close_target(struct upload *u)
{
	struct stat old;
	bool replaced;
	int rc;

	if (u->fd < 0)
		return 0;
	replaced = fstatat(u->dfd, u->name, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(old.st_mode);
	rc = close(u->fd) < 0 ? -errno : 0;
	u->fd = -1;
	if (rc == 0 && renameat(u->dfd, u->tmp, u->dfd, u->name) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(u->dfd, u->tmp, 0);
		usage_add(u->b->usage, u->b->id, -u->file_written);
	} else if (replaced && old.st_nlink == 1) {
		usage_add(u->b->usage, u->b->id, -(int64_t)old.st_blocks * 512);
	}
	close(u->dfd);
	u->dfd = -1;
	if (rc < 0)
		return fail_errno(u, rc, u->cur);
	if (json_array_append_new(u->done, json_pack("{s:s, s:s, s:s}", "path", u->cur, "name",
						     ep_base(u->cur), "type", "file")) < 0)
		return fail(u, 500, "out of memory");
	return 0;
}

static int write_all(struct upload *u, const char *p, size_t n)
{
	if (u->room >= 0 && u->written + (int64_t)n > u->room)
		return fail(u, 507, "upload exceeds the sandbox's disk size");
	u->written += (int64_t)n;
	u->file_written += (int64_t)n;
	usage_add(u->b->usage, u->b->id, (int64_t)n);
	while (n) {
		ssize_t w = write(u->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail_errno(u, -errno, u->cur);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- multipart callbacks ---- */

static int part_begin(void *ctx, const char *name, const char *filename, int has_fn)
{
	struct upload *u = ctx;

	u->skip = strcmp(name, "file") != 0;
	if (u->skip)
		return 0;
	if (u->raw_path)
		return open_target(u, u->raw_path, strlen(u->raw_path));
	if (!has_fn || !*filename)
		return fail(u, 400, "part \"file\" has no filename and there is no path");
	return open_target(u, filename, strlen(filename));
}

static int part_data(void *ctx, const char *p, size_t n)
{
	struct upload *u = ctx;

	return u->skip ? 0 : write_all(u, p, n);
}

static int part_end(void *ctx)
{
	struct upload *u = ctx;

	return u->skip ? 0 : close_target(u);
}

/* ---- the request ---- */

static bool set_encoding(struct upload *u, const char *enc, struct envd_out *out)
{
	if (!enc || !*enc || !strcasecmp(enc, "identity"))
		return true;
	if (strcasecmp(enc, "gzip") != 0) {
		out_http_error(out, 400, "unsupported Content-Encoding: %s", enc);
		return false;
	}
	u->gzip = true;
	if (inflateInit2(&u->z, 16 + MAX_WBITS) != Z_OK) {
		out_http_error(out, 500, "out of memory");
		return false;
	}
	u->z_ready = true;
	return true;
}

static bool set_kind(struct upload *u, const struct envd_in *in, struct envd_out *out)
{
	const char *ct = in->content_type ? in->content_type : "";
	char boundary[80];
	struct mp_callbacks cb = { part_begin, part_data, part_end, u };

	if (in->q_path && !(u->raw_path = strdup(in->q_path))) {
		out_http_error(out, 500, "out of memory");
		return false;
	}
	if (!strncasecmp(ct, "multipart/form-data", 19)) {
		if (mp_boundary(ct, boundary, sizeof(boundary)) < 0) {
			out_http_error(out, 400, "multipart body without a valid boundary");
			return false;
		}
		if (!(u->mp = mp_new(boundary, &cb)))
			out_http_error(out, 500, "out of memory");
		return u->mp != NULL;
	}
	if (strncasecmp(ct, "application/octet-stream", 24) != 0) {
		out_http_error(out, 400, "unsupported content type: %s, expected "
			       "multipart/form-data or application/octet-stream", ct);
		return false;
	}
	if (!in->q_path) {
		out_http_error(out, 400, "path query parameter is required for raw body upload");
		return false;
	}
	return open_target(u, in->q_path, strlen(in->q_path)) == 0 ||
	       (out_http_error(out, u->status, "%s", u->msg), false);
}

struct upload *upload_new(const struct envd_box *b, const struct envd_in *in,
			  struct envd_out *out)
{
	struct upload *u = calloc(1, sizeof(*u));

	if (!u || !(u->done = json_array())) {
		free(u);
		out_http_error(out, 500, "out of memory");
		return NULL;
	}
	u->b = b;
	u->fd = u->dfd = -1;
	u->room = b->disk_bytes ? b->disk_bytes - usage_get(b->usage, b->id, b->root) : -1;
	if (u->room < 0 && b->disk_bytes)
		u->room = 0;
	if (!set_encoding(u, in->content_encoding, out) || !set_kind(u, in, out)) {
		upload_free(u);
		return NULL;
	}
	return u;
}

/* Decoded bytes to the parser or the raw file. */
static int consume(struct upload *u, const char *p, size_t n)
{
	int rc = u->mp ? mp_feed(u->mp, p, n) : write_all(u, p, n);

	if (rc == -EBADMSG)
		return fail(u, 400, "malformed multipart body");
	return rc < 0 ? fail(u, 500, "upload failed") : 0;
}

static int inflate_feed(struct upload *u, const char *p, size_t n)
{
	char out[64 * 1024];
	int zr, rc = 0;

	if (u->z_end)           /* bytes after the gzip stream are ignored */
		return 0;
	u->z.next_in = (Bytef *)(uintptr_t)p;
	u->z.avail_in = (uInt)n;
	do {
		u->z.next_out = (Bytef *)out;
		u->z.avail_out = sizeof(out);
		zr = inflate(&u->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return fail(u, 400, "invalid gzip body");
		if (sizeof(out) > u->z.avail_out)
			rc = consume(u, out, sizeof(out) - u->z.avail_out);
		u->z_end = zr == Z_STREAM_END;
	} while (rc == 0 && !u->z_end && u->z.avail_out == 0);
	return rc;
}

int upload_feed(struct upload *u, const char *p, size_t n)
{
	if (u->status)
		return -EIO;
	while (n > UINT32_MAX / 2) {    /* zlib counts in uInt */
		if (upload_feed(u, p, UINT32_MAX / 2) < 0)
			return -EIO;
		p += UINT32_MAX / 2;
		n -= UINT32_MAX / 2;
	}
	return u->gzip ? inflate_feed(u, p, n) : consume(u, p, n);
}

void upload_finish(struct upload *u, struct envd_out *out)
{
	if (!u->status && u->gzip && !u->z_end)
		fail(u, 400, "truncated gzip body");
	if (!u->status && u->mp && mp_finish(u->mp) < 0)
		fail(u, 400, "multipart body without its closing boundary");
	if (!u->status && !u->mp)
		close_target(u);
	if (!u->status && json_array_size(u->done) == 0)
		fail(u, 400, "no part named \"file\" in the body");
	if (u->status) {
		out_http_error(out, u->status, "%s", u->msg);
		return;
	}
	out_json(out, 200, json_incref(u->done));
}

void upload_free(struct upload *u)
{
	if (!u)
		return;
	drop_target(u);
	if (u->z_ready)
		inflateEnd(&u->z);
	mp_free(u->mp);
	free(u->raw_path);
	json_decref(u->done);
	free(u);
}
