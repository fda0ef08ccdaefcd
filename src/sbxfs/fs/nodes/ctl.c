/* MOUNT/.sbxfs: the mount's own files.  status tells what the mount sees
 * of its backend and cache; refresh is refresh.c, templates templates.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "config.h"
#include "fs/node.h"
#include "fs/status.h"
#include "store/prefetch.h"

char *fs_render_status(struct sbxfs *fs, size_t *len)
{
	struct status_info si = {
		.version = SBXFS_VERSION,
		.backend = fs->backend_url,
		.provider = fs->provider,
		.embedded = fs->embedded,
		.cache_ttl = fs->cache_ttl,
		.stale_ttl = fs->stale_ttl,
	};
	char down[256];

	api_get_stats(fs->store.api, &si.api);
	cache_get_stats(fs->store.cache, &si.cache);
	if (fs->files) {
		files_format_down(fs->files, down, sizeof(down));
		si.fs_last_error = down;
		si.files = true;
		prefetch_counts(fs->files->pf, &si.fs_fetched_ahead, &si.fs_ahead_used);
	}
	if (fs->procs) {
		si.procs = true;
		proctab_counts(fs->procs, &si.procs_attached, &si.max_procs);
	}
	return status_render(&si, len);
}

static int ctl_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	(void)n;
	node_fill_stat(fs, &h->self, MODE_DIR, 0, fs->mount_time);
	return 0;
}

static enum dir_slot ctl_entry(struct sbxfs *fs, const struct dir_handle *h,
			       const struct path_node *n, size_t i, const char **name,
			       struct stat *st)
{
	static const char *const names[] = { "status", "refresh", "templates" };
	static const enum path_kind kinds[] = { PATH_CTL_STATUS, PATH_CTL_REFRESH,
						PATH_TPL_ROOT };
	struct path_node cn = { .kind = PATH_CTL_STATUS };

	(void)h;
	(void)n;
	if (i >= sizeof(names) / sizeof(names[0]))
		return SLOT_END;
	*name = names[i];
	cn.kind = kinds[i];
	return node_ops_of(&cn)->getattr(fs, &cn, NULL, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

const struct node_ops ctl_node_ops = {
	.dir = true,
	.getattr = node_fixed_dir_getattr,
	.list = ctl_list,
	.entry = ctl_entry,
	.mkdir = node_mkdir_exists,
};

/* ---- status: rendered at each getattr and open; changes by itself ---- */

static int status_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			  struct stat *st)
{
	size_t len;
	char *text;

	(void)n;
	(void)path;
	if ((text = fs_render_status(fs, &len)) == NULL)
		return -ENOMEM;
	free(text);
	node_fill_stat(fs, st, MODE_RO, (off_t)len, time(NULL));
	return 0;
}

static int status_open(struct sbxfs *fs, const struct path_node *n, const char *path,
		       struct fuse_file_info *fi, struct open_file **out)
{
	struct stat st;
	size_t len = 0;
	char *text;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if ((text = fs_render_status(fs, &len)) == NULL)
		return -ENOMEM;
	node_fill_stat(fs, &st, MODE_RO, (off_t)len, time(NULL));
	return node_open_snap(fs, n, path, fi, text, len, &st, false, NULL, out);
}

const struct node_ops status_node_ops = {
	.getattr = status_getattr,
	.open = status_open,
	.read = node_read_snap,
	.release = node_release_snap,
};
