/* MOUNT/.sbxfs/refresh: a write drops every cache, the mount's and the
 * kernel's, so the next operation asks the backend. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"
#include "util/log.h"

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
		/* -ENOENT: the kernel holds nothing of it, nothing to drop. */
		if (path_format(&n, path, sizeof(path)) > 0)
			fuse_invalidate_path(f, path);
		/* A named sandbox is reachable by its ID too: the entry goes
		 * later, the attributes now, so the next stat asks. */
		if (strcmp(d->name, d->sbx->id) != 0) {
			struct path_node in = { .kind = PATH_SBX, .sbx = path_span_of(d->sbx->id) };

			kinval_root_entry(fs->kinval, d->sbx->id);
			if (path_format(&in, path, sizeof(path)) > 0)
				fuse_invalidate_path(f, path);
		}
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

static int refresh_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			   struct stat *st)
{
	(void)n;
	(void)path;
	node_fill_stat(fs, st, MODE_WO, 0, fs->mount_time);
	return 0;
}

static int refresh_open(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct fuse_file_info *fi, struct open_file **out)
{
	struct stat st;

	if ((fi->flags & O_ACCMODE) != O_WRONLY)
		return -EACCES;
	refresh_getattr(fs, n, path, &st);
	return node_open_snap(fs, n, path, fi, strdup(""), 0, &st, false, NULL, out);
}

static int refresh_write(struct sbxfs *fs, const struct path_node *n, struct open_file *h,
			 const char *buf, size_t size)
{
	(void)n;
	(void)h;
	(void)buf;
	if (size > INT_MAX)
		return -EINVAL;
	log_debug("refresh: dropping the caches");
	drop_kernel_attrs(fs, cache_take(fs->store.cache));
	/* And every listing of a sandbox's own directories: a change made
	 * inside shows at the next look. */
	if (fs->files)
		dircache_drop_all(fs->files->dirs, NULL);
	return (int)size;
}

/* `echo > refresh` truncates first: nothing to do. */
static int refresh_truncate(struct sbxfs *fs, const struct path_node *n, off_t size)
{
	(void)fs;
	(void)n;
	(void)size;
	return 0;
}

const struct node_ops refresh_node_ops = {
	.getattr = refresh_getattr,
	.open = refresh_open,
	.read = node_read_snap,
	.write = refresh_write,
	.release = node_release_snap,
	.truncate = refresh_truncate,
};
