/* EntryInfo JSON; see entry.h. */
#include "envd/entry.h"

#include "envd/path.h"
#include "common/rfc3339.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "FILE_TYPE_DIRECTORY";
	if (S_ISREG(m))
		return "FILE_TYPE_FILE";
	return "FILE_TYPE_UNSPECIFIED";
}

/* The permissions string as the Go envd prints a file mode, which the
 * SDKs show: type letters first ("d", "L", "p", "S", "D", "Dc"; setuid
 * "u", setgid "g", sticky "t"), else "-", then rwxrwxrwx. */
static void perm_string(mode_t m, char out[16])
{
	static const char rwx[] = "rwxrwxrwx";
	size_t n = 0;

	if (S_ISDIR(m))
		out[n++] = 'd';
	if (S_ISLNK(m))
		out[n++] = 'L';
	if (S_ISBLK(m) || S_ISCHR(m))
		out[n++] = 'D';
	if (S_ISFIFO(m))
		out[n++] = 'p';
	if (S_ISSOCK(m))
		out[n++] = 'S';
	if (m & S_ISUID)
		out[n++] = 'u';
	if (m & S_ISGID)
		out[n++] = 'g';
	if (S_ISCHR(m))
		out[n++] = 'c';
	if (m & S_ISVTX)
		out[n++] = 't';
	if (n == 0)
		out[n++] = '-';
	for (int i = 0; i < 9; i++)
		out[n++] = (m & (1u << (8 - i))) ? rwx[i] : '-';
	out[n] = '\0';
}

static void owner_name(unsigned id, unsigned root, unsigned user, char out[16])
{
	if (id == user)
		snprintf(out, 16, "user");
	else if (id == root)
		snprintf(out, 16, "root");
	else
		snprintf(out, 16, "%u", id);
}

/* RFC 3339 with nanoseconds, as envd sends modification times. */
static void time_ns(const struct timespec *ts, char out[48])
{
	char s[RFC3339_LEN];

	rfc3339_format_s((int64_t)ts->tv_sec * 1000, s);
	s[strcspn(s, "Z")] = '\0';
	snprintf(out, 48, "%s.%09ldZ", s, ts->tv_nsec);
}

/* The absolute, clean path a symlink at `path` points to. */
static int link_target(int fd, const char *path, char *out, size_t outlen)
{
	char t[PATH_MAX], joined[PATH_MAX * 2];
	ssize_t n = readlinkat(fd, "", t, sizeof(t) - 1);

	if (n < 0)
		return -errno;
	t[n] = '\0';
	if (t[0] == '/')
		snprintf(joined, sizeof(joined), "%s", t);
	else
		snprintf(joined, sizeof(joined), "%.*s/%s",
			 (int)(ep_base(path) - path), path, t);
	return ep_expand(joined, strlen(joined), "/", out, outlen);
}

json_t *entry_json_at(int root, int fd, const char *path, const struct stat *lst,
		      const struct envd_users *u)
{
	struct stat st = *lst;
	char perms[16], owner[16], group[16], mtime[48], target[PATH_MAX];
	bool link = S_ISLNK(lst->st_mode);
	json_t *o;

	if (link) {
		int tfd = ep_open(root, path, O_PATH, 0);

		/* Dangling or looping: no type, the link's own mode. */
		if (tfd < 0 || fstat(tfd, &st) < 0)
			st.st_mode = 0;
		if (tfd >= 0)
			close(tfd);
		if (link_target(fd, path, target, sizeof(target)) < 0)
			target[0] = '\0';
	}
	perm_string(lst->st_mode, perms);
	owner_name(lst->st_uid, u->root_uid, u->user_uid, owner);
	owner_name(lst->st_gid, u->root_gid, u->user_gid, group);
	time_ns(&lst->st_mtim, mtime);
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}",
		      "name", ep_base(path), "type", type_name(st.st_mode), "path", path,
		      "size", "", "mode", (int)((link ? st.st_mode : lst->st_mode) & 0777),
		      "permissions", perms, "owner", owner, "group", group,
		      "modifiedTime", mtime);
	if (!o)
		return NULL;
	char size[24];

	snprintf(size, sizeof(size), "%lld", (long long)lst->st_size);
	json_object_set_new(o, "size", json_string(size));
	if (link)
		json_object_set_new(o, "symlinkTarget", json_string(target));
	return o;
}

json_t *entry_json(int root, const char *path, const struct envd_users *u, int *err)
{
	struct stat st;
	int fd = ep_open(root, path, O_PATH | O_NOFOLLOW, 0);
	json_t *o;

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	o = entry_json_at(root, fd, path, &st, u);
	close(fd);
	*err = o ? 0 : -ENOMEM;
	return o;
}
