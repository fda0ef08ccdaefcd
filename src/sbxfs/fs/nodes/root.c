/* The mount's root: the control directory, then every sandbox of the
 * listing under its name (or its ID when it has none).  mkdir of a new
 * name there is the sandbox kind's (sbx.c). */
#include <errno.h>

#include "fs/node.h"

static int root_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct stat *st)
{
	(void)n;
	(void)path;
	node_fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
	return 0;
}

int node_list_sandboxes(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	(void)n;
	node_fill_stat(fs, &h->self, MODE_DIR, 0, fs->mount_time);
	return cache_get(fs->store.cache, &h->l, NULL);
}

enum dir_slot node_sandbox_entry(struct sbxfs *fs, const struct dir_handle *h,
				 const struct path_node *n, size_t j, const char **name,
				 struct stat *st)
{
	const struct sbx_dirent *d = listing_at(h->l, j);

	if (d == NULL)
		return SLOT_END;
	if (n->kind == PATH_TPL && !path_span_eq(n->tpl, d->sbx->template_id) &&
	    !path_span_eq(n->tpl, d->sbx->alias))
		return SLOT_SKIP;
	*name = d->name;
	sbx_dir_stat(fs, d->sbx, st);
	return SLOT_ENTRY;
}

static enum dir_slot root_entry(struct sbxfs *fs, const struct dir_handle *h,
				const struct path_node *n, size_t i, const char **name,
				struct stat *st)
{
	if (i == 0) {
		*name = PATH_CTL_NAME;
		node_fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
		return SLOT_ENTRY;
	}
	return node_sandbox_entry(fs, h, n, i - 1, name, st);
}

const struct node_ops root_node_ops = {
	.dir = true,
	.getattr = root_getattr,
	.list = node_list_sandboxes,
	.entry = root_entry,
	.mkdir = node_mkdir_exists,
};

/* The directories at fixed places (root, .sbxfs, its templates): made at
 * mount time. */
int node_fixed_dir_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			   struct stat *st)
{
	return root_getattr(fs, n, path, st);
}
