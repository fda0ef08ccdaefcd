/* Paths inside a sandbox root; see path.h. */
#include "envd/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Folds "." and ".." and duplicate slashes of an absolute path in place. */
static void clean(char *p)
{
	char *w = p;            /* after the last written component */
	const char *r = p;

	while (*r) {
		while (*r == '/')
			r++;
		const char *e = r + strcspn(r, "/");
		size_t n = (size_t)(e - r);

		if (n == 0 || (n == 1 && r[0] == '.')) {
			r = e;
			continue;
		}
		if (n == 2 && r[0] == '.' && r[1] == '.') {
			while (w > p && *--w != '/')
				;
			r = e;
			continue;
		}
		*w++ = '/';
		memmove(w, r, n);
		w += n;
		r = e;
	}
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

int ep_expand(const char *in, size_t len, const char *home, char *out, size_t outlen)
{
	const char *h = home ? home : "";
	int n, l = len > PATH_MAX ? PATH_MAX : (int)len;

	if (memchr(in, '\0', len))
		return -EINVAL;
	if (len > PATH_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || (len == 1 && in[0] == '~'))
		n = snprintf(out, outlen, "%s", h);
	else if (in[0] == '~' && in[1] != '/')
		return -EINVAL;
	else if (in[0] == '~')
		n = snprintf(out, outlen, "%s/%.*s", h, l - 2, in + 2);
	else if (in[0] == '/')
		n = snprintf(out, outlen, "%.*s", l, in);
	else
		n = snprintf(out, outlen, "%s/%.*s", h, l, in);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	if (out[0] != '/')
		return -EINVAL;
	clean(out);
	return 0;
}

int ep_open(int root, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	return fd < 0 ? -errno : (int)fd;
}

const char *ep_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int ep_parent(int root, const char *path, char name[NAME_MAX + 1])
{
	char dir[PATH_MAX];
	const char *base = ep_base(path);
	size_t dlen = (size_t)(base - path);

	if (!*base)
		return -EINVAL;
	if (strlen(base) > NAME_MAX)
		return -ENAMETOOLONG;
	if (dlen >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, dlen);
	dir[dlen ? dlen : 1] = '\0';
	if (!dlen)
		dir[0] = '/';
	strcpy(name, base);
	return ep_open(root, dir, O_PATH | O_DIRECTORY, 0);
}

void ep_chown(int dirfd, const char *name, uid_t uid, gid_t gid)
{
	/* See path.h: an EPERM here means the runtime maps the ids. */
	(void)!fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH));
}

int ep_mkdirs(int root, const char *path, uid_t uid, gid_t gid, int *created)
{
	char part[PATH_MAX], name[NAME_MAX + 1];
	size_t len = strlen(path), depth = 0;

	*created = 0;
	if (len >= sizeof(part))
		return -ENAMETOOLONG;
	for (size_t i = 1; i <= len; i++) {
		if ((path[i] != '/' && path[i] != '\0') || path[i - 1] == '/')
			continue;
		if (++depth > EP_MAX_DEPTH * 4)
			return -ENAMETOOLONG;
		memcpy(part, path, i);
		part[i] = '\0';
		int dfd = ep_parent(root, part, name);

		if (dfd < 0)
			return dfd;
		int rc = mkdirat(dfd, name, 0755) < 0 ? -errno : 0;

		if (rc == 0)
			ep_chown(dfd, name, uid, gid);
		*created = rc == 0;
		close(dfd);
		if (rc == -EEXIST) {
			struct stat st;
			int fd = ep_open(root, part, O_PATH, 0);

			if (fd < 0)
				return fd;
			rc = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
			close(fd);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int remove_at(int dirfd, const char *name, int depth);

/* Removes what the directory `fd` holds; closes fd. */
static int remove_children(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = remove_at(dirfd(d), de->d_name, depth + 1);
	}
	closedir(d);
	return rc;
}

/* Removes `name` in dirfd and, for a directory, what it holds. */
static int remove_at(int dirfd, const char *name, int depth)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
	};

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > EP_MAX_DEPTH * 4)
		return -ELOOP;
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd < 0)
		return -errno;
	int rc = remove_children(fd, depth);

	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

int ep_remove(int root, const char *path)
{
	char name[NAME_MAX + 1];
	int dfd = ep_parent(root, path, name);
	int rc;

	if (dfd == -ENOENT || dfd == -ENOTDIR)
		return 0;
	if (dfd < 0)
		return dfd;
	rc = remove_at(dfd, name, 0);
	close(dfd);
	return rc;
}

/* Adds up the blocks of what directory `fd` holds (closes fd). */
static void usage_at(int fd, dev_t dev, int depth, size_t *left, int64_t *sum);

/* A mount at the top of the root, counted when it is a writable disk. */
static void usage_mount(int dfd, const char *name, size_t *left, int64_t *sum)
{
	int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct statfs sf;
	struct stat st;

	if (cfd < 0)
		return;
	if (fstatfs(cfd, &sf) < 0 || (sf.f_flags & ST_RDONLY) || sf.f_type == TMPFS_MAGIC ||
	    sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC || fstat(cfd, &st) < 0) {
		close(cfd);
		return;
	}
	*sum += (int64_t)st.st_blocks * 512;
	usage_at(cfd, st.st_dev, 1, left, sum);
}

static void usage_at(int fd, dev_t dev, int depth, size_t *left, int64_t *sum)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	struct stat st;

	if (!d) {
		close(fd);
		return;
	}
	while (*left && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		(*left)--;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_dev != dev) {
			/* Mounts in the root: a read-only /usr, /proc and the
			 * tmpfs ones are not its disk; the writable directories
			 * a bwrap sandbox has bound from its own tree are. */
			if (depth == 0 && S_ISDIR(st.st_mode))
				usage_mount(dirfd(d), de->d_name, left, sum);
			continue;
		}
		*sum += (int64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode) && depth < EP_MAX_DEPTH) {
			int cfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (cfd >= 0)
				usage_at(cfd, dev, depth + 1, left, sum);
		}
	}
	closedir(d);
}

int64_t ep_usage(int root, size_t max_entries)
{
	int64_t sum = 0;
	int fd = ep_open(root, "/", O_RDONLY | O_DIRECTORY, 0);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0)
		usage_at(fd, st.st_dev, 0, &max_entries, &sum);
	else if (fd >= 0)
		close(fd);
	return sum;
}
