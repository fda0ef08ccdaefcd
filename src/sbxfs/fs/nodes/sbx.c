/* A sandbox as a directory (MOUNT/<sbx>, by name or ID): mkdir creates
 * one, rmdir kills it, and it lists its files (sbx_file.c), its
 * metadata directory (meta.c) and its own filesystem (files.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "fs/node.h"

void sbx_dir_stat(struct sbxfs *fs, const struct sbx *s, struct stat *st)
{
	node_fill_stat(fs, st, MODE_DIR, 0, s->started_at);
	st->st_nlink = 3;
}

static int fill_dir(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		    const char *path, struct stat *st)
{
	(void)n;
	(void)path;
	sbx_dir_stat(fs, s, st);
	return 0;
}

static int sbx_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
		       struct stat *st)
{
	return resolve_sbx_stat(fs, n, path, fill_dir, st);
}

static int sbx_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	struct sbx *s;
	int err;

	if ((err = resolve_sbx(fs, n, false, &h->l, &s)) < 0)
		return err;
	h->s = s;
	sbx_dir_stat(fs, s, &h->self);
	return 0;
}

/* Its files, then the metadata directory; each file's attributes carry
 * the size the kernel must hold of a page-cached file, so its path. */
static enum dir_slot sbx_entry(struct sbxfs *fs, const struct dir_handle *h,
			       const struct path_node *n, size_t i, const char **name,
			       struct stat *st)
{
	struct path_node fn = *n;
	char path[PATH_MAX];

	if ((i == SBX_FILE_COUNT + 1 || i == SBX_FILE_COUNT + 2) && fs->files) {
		*name = i == SBX_FILE_COUNT + 1 ? PATH_FS_NAME : PATH_PROCS_NAME;
		node_fill_stat(fs, st, MODE_DIR, 0, h->s->started_at);
		return SLOT_ENTRY;
	}
	if (i > SBX_FILE_COUNT)
		return SLOT_END;
	if (i == SBX_FILE_COUNT) {
		*name = PATH_META_NAME;
		node_fill_stat(fs, st, MODE_DIR, 0, h->s->started_at);
		return SLOT_ENTRY;
	}
	fn.kind = PATH_SBX_FILE;
	fn.file = (enum sbx_file)i;
	*name = sbx_file_def(fn.file)->name;
	if (path_format(&fn, path, sizeof(path)) < 0)
		return SLOT_SKIP;
	return sbx_file_stat(fs, h->s, fn.file, path, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

static int sbx_mkdir(struct sbxfs *fs, const struct path_node *n)
{
	char name[NAME_MAX + 1], tpl[NAME_MAX + 1];

	if (path_span_copy(n->sbx, name, sizeof(name)) < 0)
		return -EINVAL;
	if (n->tpl.len == 0)
		return store_create(&fs->store, name, fs->template_id, NULL);
	if (path_span_copy(n->tpl, tpl, sizeof(tpl)) < 0)
		return -EINVAL;
	return store_create(&fs->store, name, tpl, NULL);
}

static int sbx_rmdir(struct sbxfs *fs, const struct path_node *n)
{
	char id[NAME_MAX + 1];
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	snprintf(id, sizeof(id), "%s", s->id);
	listing_put(l);
	if ((err = store_kill(&fs->store, id)) == 0 && fs->procs)
		proctab_forget(fs->procs, id);   /* its processes ended with it */
	return err;
}

const struct node_ops sbx_node_ops = {
	.dir = true,
	.getattr = sbx_getattr,
	.list = sbx_list,
	.entry = sbx_entry,
	.mkdir = sbx_mkdir,
	.rmdir = sbx_rmdir,
};
