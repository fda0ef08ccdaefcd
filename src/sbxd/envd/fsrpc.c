/* The unary methods of filesystem.Filesystem: Stat, ListDir, MakeDir,
 * Move, Remove, each in the sandbox's root (path.h) with the replies and
 * error codes the SDKs map to their exceptions. */
#include "envd/connect.h"
#include "envd/path.h"
#include "envd/priv.h"
#include "envd/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A listing never returns more entries than this. */
#define MAX_ENTRIES 100000

/* Request field `key` as a clean absolute path; false with the error
 * reply set. */
static bool get_path(const struct envd_box *b, const json_t *req, const char *key,
		     char *out, size_t outlen, struct envd_out *o)
{
	const json_t *v = json_object_get(req, key);
	int rc;

	if (v && !json_is_string(v)) {
		out_cx_error(o, "invalid_argument", "%s must be a string", key);
		return false;
	}
	rc = ep_expand(v ? json_string_value(v) : "", v ? json_string_length(v) : 0, b->home,
		       out, outlen);
	if (rc < 0)
		out_cx_error(o, "invalid_argument", "invalid %s: %s", key,
			     rc == -ENAMETOOLONG ? "too long" : "bad path");
	return rc == 0;
}

static void reply_entry(const struct envd_box *b, const char *path, struct envd_out *o)
{
	int err = 0;
	json_t *e = entry_json(b->root, path, &b->users, &err);

	if (!e)
		out_cx_error(o, cx_errno_code(err), "cannot stat '%s': %s", path, strerror(-err));
	else
		out_json(o, 200, json_pack("{s:o}", "entry", e));
}

static void do_stat(const struct envd_box *b, const json_t *req, struct envd_out *o)
{
	char path[PATH_MAX];
	int err = 0;
	json_t *e;

	if (!get_path(b, req, "path", path, sizeof(path), o))
		return;
	e = entry_json(b->root, path, &b->users, &err);
	if (!e && err == -ENOENT)
		out_cx_error(o, "not_found", "file not found: %s", path);
	else if (!e)
		out_cx_error(o, cx_errno_code(err), "cannot stat '%s': %s", path, strerror(-err));
	else
		out_json(o, 200, json_pack("{s:o}", "entry", e));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory `fd` (closed here), sorted; *n of them. */
static char **read_names(int fd, size_t *n)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d) {
		close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Appends the entries of directory `fd` (closed here), path `dir`, and
 * below it down to `depth` levels, depth first in lexical order. */
static int walk(const struct envd_box *b, int fd, const char *dir, unsigned depth,
		json_t *arr)
{
	size_t n;
	char **names = read_names(fd, &n);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX];
		struct stat st;
		int efd = -1;

		if (json_array_size(arr) >= MAX_ENTRIES)
			rc = -E2BIG;
		else if (snprintf(path, sizeof(path), "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
				  names[i]) >= (int)sizeof(path))
			continue;
		else if ((efd = ep_open(b->root, path, O_PATH | O_NOFOLLOW, 0)) < 0 ||
			 fstat(efd, &st) < 0)
			; /* vanished meanwhile: skipped */
		else {
			json_t *e = entry_json_at(b->root, efd, path, &st, &b->users);

			rc = e ? json_array_append_new(arr, e) : -ENOMEM;
			if (rc == 0 && S_ISDIR(st.st_mode) && depth > 1) {
				int dfd = ep_open(b->root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);

				if (dfd >= 0)
					rc = walk(b, dfd, path, depth - 1, arr);
			}
		}
		if (efd >= 0)
			close(efd);
	}
	free_names(names, n);
	return rc;
}

static void do_list(const struct envd_box *b, const json_t *req, struct envd_out *o)
{
	char path[PATH_MAX];
	const json_t *d = json_object_get(req, "depth");
	json_int_t depth = d ? json_integer_value(d) : 0;
	json_t *arr;
	int fd, rc;

	if (!get_path(b, req, "path", path, sizeof(path), o))
		return;
	if ((d && !json_is_integer(d)) || depth < 0 || depth > EP_MAX_DEPTH) {
		out_cx_error(o, "invalid_argument", "depth must be 0..%d", EP_MAX_DEPTH);
		return;
	}
	fd = ep_open(b->root, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT)
		return out_cx_error(o, "not_found", "path not found: %s", path);
	if (fd == -ENOTDIR)
		return out_cx_error(o, "invalid_argument", "path is not a directory: %s", path);
	if (fd < 0)
		return out_cx_error(o, cx_errno_code(fd), "cannot list '%s': %s", path,
				    strerror(-fd));
	if (!(arr = json_array()))
		return (void)close(fd), out_cx_error(o, "internal", "out of memory");
	rc = walk(b, fd, path, depth ? (unsigned)depth : 1, arr);
	if (rc < 0) {
		json_decref(arr);
		return out_cx_error(o, rc == -E2BIG ? "resource_exhausted" : "internal",
				    "listing '%s': %s", path,
				    rc == -E2BIG ? "too many entries" : strerror(-rc));
	}
	out_json(o, 200, json_pack("{s:o}", "entries", arr));
}

static void do_mkdir(const struct envd_box *b, const json_t *req, struct envd_out *o)
{
	char path[PATH_MAX];
	int created = 0, rc;

	if (!get_path(b, req, "path", path, sizeof(path), o))
		return;
	rc = ep_mkdirs(b->root, path, b->uid, b->gid, &created);
	if (rc == -ENOTDIR)
		return out_cx_error(o, "invalid_argument", "path is not a directory: %s", path);
	if (rc < 0)
		return out_cx_error(o, cx_errno_code(rc), "cannot make '%s': %s", path,
				    strerror(-rc));
	if (!created)
		return out_cx_error(o, "already_exists", "directory already exists: %s", path);
	reply_entry(b, path, o);
}

/* Creates the parents of `path` (not `path`). */
static int make_parents(const struct envd_box *b, const char *path)
{
	char dir[PATH_MAX];
	size_t dlen = (size_t)(ep_base(path) - path);
	int created;

	if (dlen <= 1)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)dlen - 1, path);
	return ep_mkdirs(b->root, dir, b->uid, b->gid, &created);
}

static void do_move(const struct envd_box *b, const json_t *req, struct envd_out *o)
{
	char src[PATH_MAX], dst[PATH_MAX], sname[NAME_MAX + 1], dname[NAME_MAX + 1];
	int sfd = -1, dfd = -1, rc;

	if (!get_path(b, req, "source", src, sizeof(src), o) ||
	    !get_path(b, req, "destination", dst, sizeof(dst), o))
		return;
	rc = sfd = ep_parent(b->root, src, sname);
	if (rc >= 0 && faccessat(sfd, sname, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc >= 0)
		rc = make_parents(b, dst);
	if (rc >= 0)
		rc = dfd = ep_parent(b->root, dst, dname);
	if (rc >= 0 && renameat(sfd, sname, dfd, dname) < 0)
		rc = -errno;
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return out_cx_error(o, "not_found", "source not found: %s", src);
	if (rc < 0)
		return out_cx_error(o, cx_errno_code(rc), "cannot move '%s' to '%s': %s", src, dst,
				    strerror(-rc));
	reply_entry(b, dst, o);
}

static void do_remove(const struct envd_box *b, const json_t *req, struct envd_out *o)
{
	char path[PATH_MAX];
	int rc;

	if (!get_path(b, req, "path", path, sizeof(path), o))
		return;
	if (strcmp(path, "/") == 0)
		return out_cx_error(o, "invalid_argument", "cannot remove /");
	rc = ep_remove(b->root, path);
	usage_forget(b->usage, b->id);   /* even a partial remove freed some */
	if (rc < 0)
		return out_cx_error(o, cx_errno_code(rc), "cannot remove '%s': %s", path,
				    strerror(-rc));
	out_json(o, 200, json_object());
}

bool fsrpc_unary(const struct envd_box *b, const char *name, const json_t *req,
		 struct envd_out *out)
{
	static const struct {
		const char *name;
		void (*fn)(const struct envd_box *, const json_t *, struct envd_out *);
	} methods[] = {
		{ "Stat", do_stat }, { "ListDir", do_list }, { "MakeDir", do_mkdir },
		{ "Move", do_move }, { "Remove", do_remove },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0) {
			methods[i].fn(b, req, out);
			return true;
		}
	return false;
}
