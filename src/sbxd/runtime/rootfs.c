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
#include <sched.h>
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

/* Moves sandbox uid/gid u (< RT_UID_RANGE) of a copied file to its host
 * uid base + u, as an overlay's idmapped lower layer shows it: the image's
 * root owns nothing on the host, the sandbox's root owns it inside. */
static const struct rt *shift_rt;       /* nftw has no context: under shift_lock */
static pthread_mutex_t shift_lock = PTHREAD_MUTEX_INITIALIZER;

static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag, (void)ftw;
	if (st->st_uid < RT_UID_RANGE && st->st_gid < RT_UID_RANGE)
		lchown(path, rootfs_host_uid(shift_rt, st->st_uid),
		       rootfs_host_gid(shift_rt, st->st_gid));
	return 0;
}

/* cp -a SRC/. DST, owners shifted into the sandbox range (sbxd is root):
 * the copy-on-create fallback for a rootfs. */
static int copy_tree(const struct rt *rt, const char *src, const char *dst)
{
	char from[PATH_MAX];
	const char *argv[] = { "cp", "-a", "--reflink=auto", from, dst, NULL };
	pid_t pid;
	int st, rc = 0;

	if ((size_t)snprintf(from, sizeof(from), "%s/.", src) >= sizeof(from))
		return -ENAMETOOLONG;
	if (posix_spawnp(&pid, "cp", NULL, NULL, (char *const *)argv, environ) != 0)
		return -EIO;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EIO;
	if (rt->mapped) {
		pthread_mutex_lock(&shift_lock);
		shift_rt = rt;
		rc = nftw(dst, shift_one, 32, FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
		pthread_mutex_unlock(&shift_lock);
	}
	return rc;
}

/* rootfs, read-only and idmapped (host uid u shown as base + u) at lower,
 * so that the image's files belong to the sandbox's users inside.
 * -errno where the file system cannot be idmapped. */
static int mount_idmapped(const struct rt *rt, const char *rootfs, const char *lower)
{
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
				.userns_fd = (uint64_t)rt->idmap_ns };
	int rc = 0, tree;

	if (rt->idmap_ns < 0)
		return -EOPNOTSUPP;
	tree = open_tree(AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return -errno;
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0 ||
	    move_mount(tree, "", AT_FDCWD, lower, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		rc = -errno;
	close(tree);
	return rc;
}

/* The overlay of rootfs (idmapped where it can be) with DIR/upper at
 * b->root.  The lower mount is only a way in: overlayfs keeps a private
 * clone of its layers, so it is detached at once. */
static int mount_overlay(struct rt *rt, struct rt_box *b, const char *rootfs)
{
	char upper[PATH_MAX], work[PATH_MAX], lower[PATH_MAX], opts[3 * PATH_MAX + 64];
	int rc;

	if ((size_t)snprintf(upper, sizeof(upper), "%s/upper", b->dir) >= sizeof(upper) ||
	    (size_t)snprintf(work, sizeof(work), "%s/work", b->dir) >= sizeof(work) ||
	    (size_t)snprintf(lower, sizeof(lower), "%s/lower", b->dir) >= sizeof(lower))
		return -ENAMETOOLONG;
	if ((mkdir(upper, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(work, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(lower, 0700) < 0 && errno != EEXIST) ||
	    chown(upper, rootfs_host_uid(rt, 0), rootfs_host_gid(rt, 0)) < 0)
		return -errno;
	/* One left by an sbxd that died: the layers are in use until it goes. */
	umount2(b->root, MNT_DETACH);
	bool idmapped = mount_idmapped(rt, rootfs, lower) == 0;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s",
		 idmapped ? lower : rootfs, upper, work);
	rc = mount("overlay", b->root, "overlay", MS_NOSUID, opts) < 0 ? -errno : 0;
	if (idmapped)
		umount2(lower, MNT_DETACH);
	rmdir(lower);
	if (rc == 0)
		b->overlay = true;
	return rc;
}

/* The root of a rootfs template: an overlay where sbxd may mount one, else
 * a copy.  A restore finds what the create made: DIR/upper (mount it
 * again) or DIR/copied (the copy is the sandbox's disk: keep it). */
static int build_rootfs(struct rt *rt, struct rt_box *b, const char *rootfs, char *err,
			size_t errlen)
{
	char upper[PATH_MAX], copied[PATH_MAX];
	int rc;

	if ((size_t)snprintf(upper, sizeof(upper), "%s/upper", b->dir) >= sizeof(upper) ||
	    (size_t)snprintf(copied, sizeof(copied), "%s/copied", b->dir) >= sizeof(copied))
		return -ENAMETOOLONG;
	if (access(copied, F_OK) == 0)
		return 0;
	bool again = access(upper, F_OK) == 0;
	if (rt->overlay_ok || again) {
		rc = mount_overlay(rt, b, rootfs);
		if (rc == 0)
			return 0;
		if (again) {
			snprintf(err, errlen, "cannot mount the overlay of rootfs %s: %s", rootfs,
				 strerror(-rc));
			return rc;
		}
		rmdir(upper);       /* not an overlay after all: a copy, below */
	}
	int fd = -1;
	if ((rc = copy_tree(rt, rootfs, b->root)) < 0 ||
	    (fd = open(copied, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "cannot copy rootfs %s", rootfs);
		return rc < 0 ? rc : -errno;
	}
	close(fd);
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
	rc = mkdir(b->dir, 0711) < 0 && errno != EEXIST ? -errno : 0;
	if (rc == 0)
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

/* ---- what this machine allows ------------------------------------------ */

int rootfs_write_map(pid_t pid, const char *file, unsigned base)
{
	char path[64], map[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	snprintf(map, sizeof(map), "0 %u %u\n", base, RT_UID_RANGE);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, map, strlen(map)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* A user namespace with the sandboxes' map (0..65535 -> base...), for
 * idmapped mounts: a child unshares, we write its maps and keep a
 * descriptor of the namespace; the child then exits.  fd or -errno. */
static int open_idmap_ns(const struct rt *rt)
{
	int up[2], down[2], fd = -EIO;
	char c = 'x', path[64];

	if (pipe2(up, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(down, O_CLOEXEC) < 0) {
		close(up[0]), close(up[1]);
		return -errno;
	}
	pid_t pid = fork();
	if (pid == 0) {     /* async-signal-safe calls only */
		close(up[0]), close(down[1]);
		c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'x';
		if (write(up[1], &c, 1) == 1)
			c = read(down[0], &c, 1) < 0 ? 1 : 0;   /* until we close */
		_exit(0);
	}
	close(up[1]), close(down[0]);
	if (pid > 0 && read(up[0], &c, 1) == 1 && c == 'u' &&
	    rootfs_write_map(pid, "uid_map", rt->base_uid) == 0 &&
	    rootfs_write_map(pid, "gid_map", rt->base_gid) == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
	}
	close(down[1]), close(up[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid < 0 ? -errno : fd;
}

/* Whether an overlay can be mounted with its upper layer under ROOTS (not
 * where ROOTS is itself on an overlay, for one). */
static bool probe_overlay(const struct rt *rt)
{
	static const char *const sub[] = { "lower", "upper", "work", "merged" };
	char dir[PATH_MAX], p[4][PATH_MAX + 8], opts[3 * PATH_MAX + 64];
	bool ok = false;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/.overlay-probe-XXXXXX", rt->roots) >=
	    sizeof(dir) || !mkdtemp(dir))
		return false;
	for (int i = 0; i < 4; i++) {
		snprintf(p[i], sizeof(p[i]), "%s/%s", dir, sub[i]);
		mkdir(p[i], 0700);
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", p[0], p[1], p[2]);
	if (mount("overlay", p[3], "overlay", MS_NOSUID, opts) == 0) {
		ok = true;
		umount2(p[3], MNT_DETACH);
	}
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return ok;
}

void rootfs_setup(struct rt *rt)
{
	rt->idmap_ns = -1;
	rt->overlay_ok = rt->mapped && probe_overlay(rt);
	if (rt->overlay_ok)
		rt->idmap_ns = open_idmap_ns(rt);
	if (rt->idmap_ns < 0)
		rt->idmap_ns = -1;
}

void rootfs_teardown(struct rt *rt)
{
	if (rt->idmap_ns >= 0)
		close(rt->idmap_ns);
	rt->idmap_ns = -1;
}
