/* Effectful FUSE operations (writes, mkdir, rmdir, and what the tree
 * refuses); ops.c has the read side and the operations table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "fs_priv.h"
#include "util/log.h"
#include "path.h"
#include "model/values.h"

/* Parses a write to state or timeout of sandbox s and has the store apply
 * it.  0 or -errno. */
static int apply_write(struct sbxfs *fs, struct sbx *s, enum sbx_file file,
		       const char *buf, size_t size)
{
	enum sbx_state want;
	unsigned long secs;

	if (file == SBX_FILE_TIMEOUT) {
		if (sbx_parse_timeout(buf, size, &secs) < 0)
			return -EINVAL;
		return store_set_timeout(&fs->store, s, secs, NULL);
	}
	if (sbx_parse_state(buf, size, &want) < 0)
		return -EINVAL;
	return store_set_state(&fs->store, s, want, NULL);
}

/* Listings hand the kernel every sandbox directory's attributes
 * (READDIRPLUS), which it keeps for cache_ttl, and entries, which it keeps
 * longer.  A refresh promises that the next operation asks the backend, so
 * those go too: the attributes at once, the entries (under the name and
 * the ID) through the invalidation thread, as this write may wait behind a
 * mkdir holding the root's lock otherwise.  Takes l. */
static void drop_kernel_attrs(struct sbxfs *fs, struct sbx_listing *l)
{
	struct fuse *f = fuse_get_context()->fuse;
	char path[PATH_MAX];

	for (size_t i = 0; i < listing_count(l); i++) {
		const struct sbx_dirent *d = listing_at(l, i);
		const char *tpl[] = { d->sbx->template_id, d->sbx->alias };

		struct path_node n = { .kind = PATH_SBX, .sbx = path_span_of(d->name) };

		kinval_root_entry(fs->kinval, d->name);
		if (strcmp(d->name, d->sbx->id) != 0)
			kinval_root_entry(fs->kinval, d->sbx->id);
		/* -ENOENT: the kernel holds nothing of it, nothing to drop. */
		if (path_format(&n, path, sizeof(path)) > 0)
			fuse_invalidate_path(f, path);
		/* The same sandbox as listed under .sbxfs/templates. */
		for (size_t t = 0; t < 2; t++) {
			if (!*tpl[t] || (t == 1 && strcmp(tpl[0], tpl[1]) == 0))
				continue;
			n.tpl = path_span_of(tpl[t]);
			if (path_format(&n, path, sizeof(path)) > 0)
				fuse_invalidate_path(f, path);
		}
	}
	listing_put(l);
}

/* The sandbox with this ID, as lookup_sbx finds one by name: -ENOENT when
 * it is not listed.  A name equal to the ID would find another sandbox, so
 * only the ID itself counts. */
static int lookup_sbx_id(struct sbxfs *fs, const char *id, struct sbx_listing **lp,
			 struct sbx **sp)
{
	int err = cache_get(fs->store.cache, lp, NULL);

	if (err < 0)
		return err;
	*sp = listing_find(*lp, id);
	if (*sp == NULL || strcmp((*sp)->id, id) != 0) {
		listing_put(*lp);
		*lp = NULL;
		return -ENOENT;
	}
	return 0;
}

int sbxfs_write(const char *path, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct sbxfs *fs = get_fs();
	const struct snap *sn = fi ? (const struct snap *)(uintptr_t)fi->fh : NULL;
	const char *id = sn ? sn->sbx_id : NULL;
	struct sbx_listing *l;
	struct path_node n;
	struct sbx *s;
	int err;

	(void)off;
	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (!node_writable(&n))
		return -EACCES;
	if (size > INT_MAX)
		return -EINVAL;
	if (n.kind == PATH_CTL_REFRESH) {
		log_debug("refresh: dropping the caches");
		drop_kernel_attrs(fs, cache_take(fs->store.cache));
		return (int)size;
	}
	/* To the sandbox that was opened, never to one that took its name
	 * since. */
	err = id ? lookup_sbx_id(fs, id, &l, &s) : lookup_sbx(fs, &n, &l, &s);
	if (err < 0)
		return err;
	s = sbx_ref(s);
	listing_put(l);
	err = apply_write(fs, s, n.file, buf, size);
	sbx_unref(s);
	return err < 0 ? err : (int)size;
}

/* Truncation is how `echo 600 > timeout` starts: a no-op on the writable
 * files, refused on the others. */
int sbxfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct path_node n;
	struct stat st;
	int err;

	(void)size;
	(void)fi;
	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (path_is_dir(n.kind))
		return -EISDIR;
	if (!node_writable(&n))
		return -EACCES;
	if (n.kind == PATH_CTL_REFRESH)
		return 0;
	return stat_node(get_fs(), &n, NULL, &st);
}

/* ---- sandboxes as directories ---- */

/* A path that failed to parse but whose parent holds sandboxes: a bad
 * name for one ("/.x"), or one under an impossible template. */
static bool bad_name_in_dir(const char *path)
{
	const struct path_node tpls = { .kind = PATH_TPL_ROOT };
	const char *slash = strrchr(path, '/');
	char pre[64];
	int len = path_format(&tpls, pre, sizeof(pre));

	if (slash == path)
		return true;
	return len > 0 && strncmp(path, pre, (size_t)len) == 0 && path[len] == '/' &&
	       strchr(path + len + 1, '/') == slash;
}

int sbxfs_mkdir(const char *path, mode_t mode)
{
	char name[NAME_MAX + 1], tpl[NAME_MAX + 1];
	struct sbxfs *fs = get_fs();
	struct path_node n;
	struct stat st;
	int err;

	(void)mode;
	err = path_parse(path, &n);
	if (err < 0)
		return bad_name_in_dir(path) ? -EINVAL : -EPERM;
	if (n.kind == PATH_SBX) {
		if (path_span_copy(n.sbx, name, sizeof(name)) < 0)
			return -EINVAL;
		if (n.tpl.len == 0)
			return store_create(&fs->store, name, fs->template_id, NULL);
		if (path_span_copy(n.tpl, tpl, sizeof(tpl)) < 0)
			return -EINVAL;
		return store_create(&fs->store, name, tpl, NULL);
	}
	if (path_is_dir(n.kind) && (!path_in_sbx(n.kind) || stat_node(fs, &n, NULL, &st) == 0))
		return -EEXIST;
	return -EPERM;
}

int sbxfs_rmdir(const char *path)
{
	struct sbxfs *fs = get_fs();
	char id[NAME_MAX + 1];
	struct sbx_listing *l;
	struct path_node n;
	struct sbx *s;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (n.kind != PATH_SBX)
		return path_is_dir(n.kind) ? -EPERM : -ENOTDIR;
	if ((err = lookup_sbx(fs, &n, &l, &s)) < 0)
		return err;
	snprintf(id, sizeof(id), "%s", s->id);
	listing_put(l);
	return store_kill(&fs->store, id);
}

/* ---- what the tree refuses (nothing is sent) ---- */

static int refuse_path(const char *path)
{
	struct path_node n;
	int err = path_parse(path, &n);

	return err == -ENOENT ? -ENOENT : -EPERM;
}

int sbxfs_unlink(const char *path)
{
	return refuse_path(path);
}

int sbxfs_rename(const char *from, const char *to, unsigned int flags)
{
	(void)to;
	(void)flags;
	return refuse_path(from);
}

int sbxfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	return refuse_path(path);
}

int sbxfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return refuse_path(path);
}

int sbxfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return refuse_path(path);
}

int sbxfs_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EPERM;
}

int sbxfs_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;
}

int sbxfs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path;
	(void)mode;
	(void)dev;
	return -EPERM;
}

int sbxfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path;
	(void)mode;
	(void)fi;
	return -EPERM;
}

