/* GET /files and POST /files/compose; see files.h. */
#include "envd/files.h"
#include "envd/path.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One "bytes=a-b" range of a file of `size` bytes.  1 and [*off, *off+*len)
 * when it applies, 0 to send the whole file (absent, several ranges, not
 * bytes), -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {                /* the last n bytes */
		b = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end || b == 0)
			return -1;
		*len = b < size ? b : size;
		*off = size - *len;
		return size ? 1 : -1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	b = *h ? strtoull(h, &end, 10) : UINT64_MAX;
	if ((*h && *end) || b < a)
		return 0;
	if (a >= size)
		return -1;
	*off = a;
	*len = (b >= size ? size - 1 : b) - a + 1;
	return 1;
}

static void add_fmt_header(struct envd_out *out, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_fmt_header(struct envd_out *out, const char *name, const char *fmt, ...)
{
	char v[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	out_add_header(out, name, v);
}

static void reply_file(int fd, const struct stat *st, const char *path, const char *range,
		       struct envd_out *out)
{
	uint64_t size = (uint64_t)st->st_size, off = 0, len = size;
	int r = parse_range(range, size, &off, &len);

	if (r < 0) {
		close(fd);
		out_http_error(out, 416, "range not satisfiable for '%s' of %" PRIu64 " bytes",
			       path, size);
		add_fmt_header(out, "Content-Range", "bytes */%" PRIu64, size);
		return;
	}
	out->status = r ? 206 : 200;
	out->content_type = "application/octet-stream";
	out->fd = fd;
	out->off = off;
	out->len = len;
	out_add_header(out, "Accept-Ranges", "bytes");
	if (r)
		add_fmt_header(out, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
			       off, off + len - 1, size);
	add_fmt_header(out, "Content-Disposition", "inline; filename=\"%.100s\"",
		       ep_base(path));
}

void files_get(const struct envd_box *b, const struct envd_in *in, struct envd_out *out)
{
	char path[PATH_MAX];
	const char *q = in->q_path ? in->q_path : "";
	struct stat st;
	int fd;

	if (ep_expand(q, strlen(q), b->home, path, sizeof(path)) < 0)
		return out_http_error(out, 400, "invalid path");
	fd = ep_open(b->root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return out_http_error(out, 404, "path '%s' does not exist", path);
	if (fd == -EACCES || fd == -EPERM)
		return out_http_error(out, 403, "permission denied: '%s'", path);
	if (fd < 0)
		return out_http_error(out, 500, "cannot open '%s': %s", path, strerror(-fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		bool dir = S_ISDIR(st.st_mode);

		close(fd);
		return out_http_error(out, 400, "path '%s' is %s", path,
				      dir ? "a directory" : "not a regular file");
	}
	reply_file(fd, &st, path, in->range, out);
}

/* Appends all of `src` to `dst`. */
static int append_file(int dst, int src)
{
	for (;;) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
	}
}

static int compose(const struct envd_box *b, const json_t *srcs, const char *dst)
{
	char path[PATH_MAX];
	int out, rc = 0;
	size_t i;
	json_t *v;

	out = ep_open(b->root, dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0644);
	if (out < 0)
		return out;
	ep_chown(out, "", b->uid, b->gid);
	json_array_foreach(srcs, i, v) {
		int in = -1;

		rc = ep_expand(json_string_value(v), json_string_length(v), b->home, path,
			       sizeof(path));
		if (rc == 0)
			rc = in = ep_open(b->root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
		if (rc >= 0)
			rc = append_file(out, in);
		if (in >= 0)
			close(in);
		if (rc < 0)
			break;
	}
	close(out);
	json_array_foreach(srcs, i, v) {
		if (rc == 0 && ep_expand(json_string_value(v), json_string_length(v), b->home,
					 path, sizeof(path)) == 0 && strcmp(path, dst) != 0)
			ep_remove(b->root, path);
	}
	return rc;
}

void files_compose(const struct envd_box *b, const json_t *req, struct envd_out *out)
{
	const json_t *srcs = json_object_get(req, "source_paths");
	const json_t *d = json_object_get(req, "destination");
	char dst[PATH_MAX];
	size_t i;
	json_t *v;
	int rc;

	if (!json_is_array(srcs) || !json_array_size(srcs) || json_array_size(srcs) > 10000 ||
	    !json_is_string(d))
		return out_http_error(out, 400, "source_paths (non-empty array) and destination "
				      "are required");
	json_array_foreach(srcs, i, v)
		if (!json_is_string(v))
			return out_http_error(out, 400, "source_paths must hold strings");
	if (ep_expand(json_string_value(d), json_string_length(d), b->home, dst, sizeof(dst)) < 0)
		return out_http_error(out, 400, "invalid destination");
	rc = compose(b, srcs, dst);
	if (rc == -ENOENT)
		return out_http_error(out, 404, "a source or the destination's directory does "
				      "not exist");
	if (rc == -ENOSPC || rc == -EDQUOT)
		return out_http_error(out, 507, "not enough disk space");
	if (rc < 0)
		return out_http_error(out, rc == -EISDIR || rc == -EINVAL ? 400 : 500,
				      "compose failed: %s", strerror(-rc));
	out_json(out, 200, json_pack("{s:s, s:s, s:s}", "path", dst, "name", ep_base(dst),
				     "type", "file"));
}
