/* The FUSE operations: each parses its path (path.c), picks the node
 * kind's entry of the node table (node.h) and calls it, or refuses with
 * the errno the table's defaults give.  Nothing here knows a kind.
 *
 * Reads never send a request of their own: attributes and contents come
 * from the cached listing (one paginated list per TTL).  open() renders a
 * file once into a typed handle (handle.h) that pins what it opened, so a
 * reader sees one consistent value and a writer reaches the sandbox it
 * opened.  Writes apply in write() so the writer sees the error. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs.h"
#include "node.h"
#include "path.h"
#include "util/log.h"

/* The node table: one entry per kind path_parse gives. */
static const struct node_ops *const node_table[] = {
	[PATH_ROOT] = &root_node_ops,
	[PATH_SBX] = &sbx_node_ops,
	[PATH_SBX_FILE] = &sbx_file_node_ops,
	[PATH_META_DIR] = &meta_dir_node_ops,
	[PATH_META_FILE] = &meta_file_node_ops,
	[PATH_CTL] = &ctl_node_ops,
	[PATH_CTL_STATUS] = &status_node_ops,
	[PATH_CTL_REFRESH] = &refresh_node_ops,
	[PATH_TPL_ROOT] = &tpl_root_node_ops,
	[PATH_TPL] = &tpl_node_ops,
	[PATH_SBX_FS] = &files_node_ops,
	[PATH_PROCS] = &procs_node_ops,
	[PATH_PROC] = &proc_node_ops,
	[PATH_PROC_FILE] = &proc_file_node_ops,
};

/* A sandbox file served by a kind of its own (logs, metrics) names it in
 * its entry of the sandbox files' table. */
const struct node_ops *node_ops_of(const struct path_node *n)
{
	const struct sbx_file_def *d;

	if (n->kind == PATH_SBX_FILE && (d = sbx_file_def(n->file)) != NULL && d->ops)
		return d->ops;
	return node_table[n->kind];
}

struct sbxfs *get_fs(void)
{
	return fuse_get_context()->private_data;
}

bool fs_interrupted(void)
{
	return fuse_interrupted() != 0;
}

/* Parses path into *n and gives its kind's entry, or NULL with *err. */
static const struct node_ops *resolve(const char *path, struct path_node *n, int *err)
{
	if ((*err = path_parse(path, n)) < 0)
		return NULL;
	return node_ops_of(n);
}

static int sbxfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const struct open_file *h = open_file_of(fi);
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	/* The kernel reads an open page-cached file only up to the size it
	 * holds, and asks for that size through the open file: answer with
	 * the snapshot being read, even when the sandbox is gone meanwhile. */
	if (h && h->snap && !ops->dir && h->snap->page_cached) {
		*st = h->snap->st;
		return 0;
	}
	/* An open file of a kind that keeps what is written: its own size. */
	if (h && h->ops == ops && ops->fgetattr)
		return ops->fgetattr(h, st);
	return ops->getattr(get_fs(), &n, path, st);
}

static int sbxfs_access(const char *path, int mask)
{
	const struct node_ops *ops;
	struct path_node n;
	struct stat st;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	if ((err = ops->getattr(get_fs(), &n, NULL, &st)) < 0)
		return err;
	if (((mask & R_OK) && !(st.st_mode & S_IRUSR)) ||
	    ((mask & W_OK) && !(st.st_mode & S_IWUSR)) ||
	    ((mask & X_OK) && !(st.st_mode & S_IXUSR)))
		return -EACCES;
	return 0;
}

static int sbxfs_open(const char *path, struct fuse_file_info *fi)
{
	const struct node_ops *ops;
	struct open_file *h = NULL;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	if (ops->dir)
		return -EISDIR;
	if (ops->open == NULL)
		return -EACCES;
	if ((err = ops->open(get_fs(), &n, path, fi, &h)) < 0)
		return err;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int sbxfs_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct open_file *h = open_file_of(fi);

	(void)path;
	if (h == NULL || h->ops->read == NULL)
		return -EBADF;
	return h->ops->read(h, buf, size, off);
}

/* Goes to the kind that opened the file, with what its handle pinned. */
static int sbxfs_write(const char *path, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct open_file *h = open_file_of(fi);
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if (h && h->ops->pwrite)
		return h->ops->pwrite(get_fs(), h, buf, size, off);
	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	if (h)
		ops = h->ops;
	if (ops->write == NULL)
		return -EACCES;
	return ops->write(get_fs(), &n, h, buf, size);
}

/* close(2) of one descriptor: what a kind keeps is sent now, so the
 * caller of close sees a failure. */
static int sbxfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct open_file *h = open_file_of(fi);

	(void)path;
	return h && h->ops->flush ? h->ops->flush(get_fs(), h) : 0;
}

static int sbxfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	return sbxfs_flush(path, fi);
}

static int sbxfs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *h = open_file_of(fi);

	(void)path;
	if (h && h->ops->release)
		h->ops->release(get_fs(), h);
	open_file_free(h);
	fi->fh = 0;
	return 0;
}

static int sbxfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	struct open_file *h = open_file_of(fi);

	if (h && h->ops->ftruncate)
		return h->ops->ftruncate(get_fs(), h, size);
	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	if (ops->dir)
		return -EISDIR;
	if (ops->truncate == NULL)
		return -EACCES;
	return ops->truncate(get_fs(), &n, size);
}

/* A path that failed to parse but whose parent holds sandboxes: a bad
 * name for one ("/.x"), or one under an impossible template. */
static bool bad_name_in_dir(const char *path)
{
	const struct path_node tpls = { .kind = PATH_TPL_ROOT };
	const char *slash = strrchr(path, '/');
	char pre[64];
	int len = path_format(&tpls, pre, sizeof(pre));

	char parent[PATH_MAX];
	struct path_node pn;

	if (slash == path)
		return true;
	/* A process name no slot can have (procs/.x). */
	if ((size_t)(slash - path) < sizeof(parent)) {
		memcpy(parent, path, (size_t)(slash - path));
		parent[slash - path] = '\0';
		if (path_parse(parent, &pn) == 0 && pn.kind == PATH_PROCS)
			return true;
	}
	return len > 0 && strncmp(path, pre, (size_t)len) == 0 && path[len] == '/' &&
	       strchr(path + len + 1, '/') == slash;
}

static int sbxfs_mkdir(const char *path, mode_t mode)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	(void)mode;
	if ((ops = resolve(path, &n, &err)) == NULL)
		return bad_name_in_dir(path) ? -EINVAL : -EPERM;
	return ops->mkdir ? ops->mkdir(get_fs(), &n) : -EPERM;
}

static int sbxfs_rmdir(const char *path)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	if (ops->rmdir == NULL)
		return ops->dir ? -EPERM : -ENOTDIR;
	return ops->rmdir(get_fs(), &n);
}

static int sbxfs_unlink(const char *path)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err == -ENOENT ? -ENOENT : -EPERM;
	return ops->unlink ? ops->unlink(get_fs(), &n) : -EPERM;
}

static int sbxfs_rename(const char *from, const char *to, unsigned int flags)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	/* No remote call swaps two names atomically. */
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if ((ops = resolve(from, &n, &err)) == NULL)
		return err == -ENOENT ? -ENOENT : -EPERM;
	return ops->rename ? ops->rename(get_fs(), &n, to, flags) : -EPERM;
}

static int sbxfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL || ops->create == NULL)
		return -EPERM;
	return ops->create(get_fs(), &n, mode, fi);
}

/* ---- what the tree refuses (nothing is sent) ---- */

static int refuse_path(const char *path)
{
	struct path_node n;
	int err = path_parse(path, &n);

	return err == -ENOENT ? -ENOENT : -EPERM;
}

static int sbxfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL || ops->chmod == NULL)
		return refuse_path(path);
	return ops->chmod(get_fs(), &n, open_file_of(fi), mode);
}

static int sbxfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return refuse_path(path);
}

static int sbxfs_utimens(const char *path, const struct timespec tv[2],
			 struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return refuse_path(path);
}

static int sbxfs_readlink(const char *path, char *buf, size_t size)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	return ops->readlink ? ops->readlink(get_fs(), &n, buf, size) : -EINVAL;
}

static int sbxfs_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EPERM;
}

static int sbxfs_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;
}

static int sbxfs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path;
	(void)mode;
	(void)dev;
	return -EPERM;
}

/* ---- the mount ---- */

/* The mount has no size of its own; a sandbox's fs/ has its disk's. */
static int sbxfs_statfs(const char *path, struct statvfs *sv)
{
	const struct node_ops *ops;
	struct path_node n;
	int err;

	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = NAME_MAX;
	if ((ops = resolve(path, &n, &err)) == NULL)
		return err;
	return ops->statfs ? ops->statfs(get_fs(), &n, sv) : 0;
}
static void *sbxfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct sbxfs *fs = get_fs();

	/* The kernel keeps entries long and is told when a refresh finds one
	 * gone (kinval.h): a lookup of a known sandbox then never waits for
	 * the root's lock, which a mkdir or rmdir holds for its request.
	 * Attributes last cache_ttl; negative entries are not cached, so a
	 * sandbox created by another client shows up as soon as the listing
	 * does.  The high-level API resolves every request by path, so an
	 * entry kept for a name whose sandbox changed still reaches the
	 * right one (or ENOENT). */
	cfg->entry_timeout = fs->cache_ttl ? SBXFS_ENTRY_TIMEOUT : 0;
	cfg->attr_timeout = fs->cache_ttl;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->readdir_ino = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* READDIRPLUS in the kernel's auto mode: the first request of a
	 * listing, and each one after the caller stat()ed an entry the last
	 * one brought, carry attributes, so `ls -l` needs no LOOKUP while a
	 * plain `ls` gets its names in few, large READDIR replies.  dir.c
	 * gives each entry its real offset, without which libfuse 3.14 would
	 * keep a node reference per listed name for good. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	if (fs->kinval && kinval_start(fs->kinval, fuse_get_context()->fuse) < 0)
		log_warn("no invalidation thread: the kernel keeps entries of sandboxes "
			 "gone elsewhere until they are looked up");
	return fs;
}

static void sbxfs_destroy(void *private_data)
{
	struct sbxfs *fs = private_data;

	kinval_stop(fs->kinval);
}

const struct fuse_operations sbxfs_ops = {
	.init = sbxfs_init,
	.destroy = sbxfs_destroy,
	.getattr = sbxfs_getattr,
	.access = sbxfs_access,
	.opendir = sbxfs_opendir,
	.readdir = sbxfs_readdir,
	.releasedir = sbxfs_releasedir,
	.open = sbxfs_open,
	.read = sbxfs_read,
	.write = sbxfs_write,
	.flush = sbxfs_flush,
	.fsync = sbxfs_fsync,
	.release = sbxfs_release,
	.truncate = sbxfs_truncate,
	.mkdir = sbxfs_mkdir,
	.rmdir = sbxfs_rmdir,
	.unlink = sbxfs_unlink,
	.rename = sbxfs_rename,
	.chmod = sbxfs_chmod,
	.chown = sbxfs_chown,
	.utimens = sbxfs_utimens,
	.readlink = sbxfs_readlink,
	.symlink = sbxfs_symlink,
	.link = sbxfs_link,
	.mknod = sbxfs_mknod,
	.create = sbxfs_create,
	.statfs = sbxfs_statfs,
};
