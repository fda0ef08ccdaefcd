/* The directories of a sandbox: ROOTS/ID/root is what the sandbox sees as
 * "/" (dir runtime) or the writable parts bound into it (bwrap, base
 * template): home/user, root, tmp, var/tmp and a minimal etc.  A template
 * with a rootfs gets an overlay of it (lower, read-only) with ROOTS/ID/upper
 * where the kernel lets us mount one (sbxd is root), else a copy made at
 * create. */
#include "runtime/rt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

uid_t rootfs_host_uid(const struct rt *rt, unsigned u)
{
	return rt->mapped ? rt->base_uid + u : getuid();
}

gid_t rootfs_host_gid(const struct rt *rt, unsigned g)
{
	return rt->mapped ? rt->base_gid + g : getgid();
}

/* Makes root/rel owned by sandbox uid/gid `owner` with `mode`. */
static int mkdir_owned(struct rt *rt, const char *root, const char *rel, mode_t mode,
		       unsigned owner)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (chmod(path, mode) < 0 ||
	    chown(path, rootfs_host_uid(rt, owner), rootfs_host_gid(rt, owner)) < 0)
		return -errno;
	return 0;
}

static int write_owned(struct rt *rt, const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0 ||
	    fchown(fd, rootfs_host_uid(rt, 0), rootfs_host_gid(rt, 0)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The minimal /etc: users `root` and `user`, the hostname, a resolver. */
static int build_etc(struct rt *rt, const char *root, const char *id)
{
	char hosts[256], resolv[4096] = "";
	int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC), rc;

	if (fd >= 0) {
		ssize_t n = read(fd, resolv, sizeof(resolv) - 1);

		resolv[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n"
		 "::1\tlocalhost ip6-localhost ip6-loopback\n", id);
	rc = mkdir_owned(rt, root, "etc", 0755, 0);
	if (rc == 0)
		rc = write_owned(rt, root, "etc/passwd",
				 "root:x:0:0:root:/root:/bin/bash\n"
				 "user:x:1000:1000:user:/home/user:/bin/bash\n"
				 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
	if (rc == 0)
		rc = write_owned(rt, root, "etc/group",
				 "root:x:0:\nsudo:x:27:user\nuser:x:1000:\nnogroup:x:65534:\n");
	if (rc == 0)
		rc = write_owned(rt, root, "etc/hosts", hosts);
	if (rc == 0)
		rc = write_owned(rt, root, "etc/resolv.conf", resolv);
	if (rc == 0) {
		snprintf(hosts, sizeof(hosts), "%s\n", id);
		rc = write_owned(rt, root, "etc/hostname", hosts);
	}
	return rc;
}

/* The writable directories every sandbox has. */
static int build_dirs(struct rt *rt, const char *root)
{
	static const struct { const char *rel; mode_t mode; unsigned owner; } d[] = {
		{ "home", 0755, 0 }, { "home/user", 0750, RT_USER_UID }, { "root", 0700, 0 },
		{ "tmp", 01777, 0 }, { "var", 0755, 0 }, { "var/tmp", 01777, 0 },
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(d) / sizeof(*d); i++)
		rc = mkdir_owned(rt, root, d[i].rel, d[i].mode, d[i].owner);
	return rc;
}

/* cp -a SRC/. DST: the copy-on-create fallback for a rootfs. */
static int copy_tree(const char *src, const char *dst)
{
	char from[PATH_MAX];
	const char *argv[] = { "cp", "-a", "--reflink=auto", from, dst, NULL };
	pid_t pid;
	int st;

	if ((size_t)snprintf(from, sizeof(from), "%s/.", src) >= sizeof(from))
		return -ENAMETOOLONG;
	if (posix_spawnp(&pid, "cp", NULL, NULL, (char *const *)argv, environ) != 0)
		return -EIO;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EIO;
	return 0;
}

static int build_rootfs(struct rt *rt, struct rt_box *b, const char *rootfs, char *err,
			size_t errlen)
{
	char upper[PATH_MAX], work[PATH_MAX], opts[3 * PATH_MAX + 64];

	bool named = (size_t)snprintf(upper, sizeof(upper), "%s/upper", b->dir) < sizeof(upper) &&
		     (size_t)snprintf(work, sizeof(work), "%s/work", b->dir) < sizeof(work);

	if (named && rt->mapped && (mkdir(upper, 0755) == 0 || errno == EEXIST) &&
	    (mkdir(work, 0700) == 0 || errno == EEXIST) &&
	    chown(upper, rootfs_host_uid(rt, 0), rootfs_host_gid(rt, 0)) == 0) {
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", rootfs,
			 upper, work);
		if (mount("overlay", b->root, "overlay", MS_NOSUID, opts) == 0) {
			b->overlay = true;
			return 0;
		}
	}
	if (copy_tree(rootfs, b->root) < 0) {
		snprintf(err, errlen, "cannot copy rootfs %s", rootfs);
		return -EIO;
	}
	return 0;
}

int rootfs_build(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		 char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (spec->rootfs && (stat(spec->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))) {
		snprintf(err, errlen, "rootfs %s of template %s is missing", spec->rootfs,
			 spec->template_id ? spec->template_id : "?");
		return -ENOENT;
	}
	if (mkdir(b->dir, 0711) < 0 && errno != EEXIST)
		return -errno;
	rc = mkdir_owned(rt, b->dir, "root", 0755, 0);
	if (rc == 0 && spec->rootfs && !b->overlay)
		rc = build_rootfs(rt, b, spec->rootfs, err, errlen);
	if (rc == 0)
		rc = build_dirs(rt, b->root);
	if (rc == 0 && !spec->rootfs)
		rc = build_etc(rt, b->root, spec->id);
	if (rc < 0 && err[0] == '\0')
		snprintf(err, errlen, "cannot make the root of %s: %s", spec->id, strerror(-rc));
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int rootfs_remove(struct rt *rt, struct rt_box *b)
{
	(void)rt;
	if (b->overlay && umount2(b->root, MNT_DETACH) < 0 && errno != EINVAL)
		return -errno;
	b->overlay = false;
	/* FTW_PHYS: never follow a link a sandbox left; FTW_MOUNT: never
	 * descend into a mount. */
	if (nftw(b->dir, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 &&
	    errno != ENOENT)
		return -errno;
	return access(b->dir, F_OK) == 0 ? -ENOTEMPTY : 0;
}
