/* A sandbox's metadata: MOUNT/<sbx>/metadata lists its keys, one
 * read-only file each holding the value. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"
#include "model/values.h"

static char *render_value(const struct sbx *s, const char *key, size_t *len, int *err)
{
	const char *v = sbx_meta_get(s, key);
	char *text;

	*err = -ENOENT;
	if (v == NULL || !sbx_component_valid(key))
		return NULL;
	*err = -ENOMEM;
	text = node_line(v, len);
	return text;
}

int meta_file_stat(struct sbxfs *fs, const struct sbx *s, const char *key, const char *path,
		   struct stat *st)
{
	size_t len = 0;
	char *text;
	int err;

	if ((text = render_value(s, key, &len, &err)) == NULL)
		return err;
	/* depends only on the record: read through the page cache */
	if (path)
		len = kcache_size(fs->kcache, path, text, len);
	free(text);
	node_fill_stat(fs, st, MODE_RO, (off_t)len, s->started_at);
	return 0;
}

/* ---- the directory ---- */

static int fill_dir(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		    const char *path, struct stat *st)
{
	(void)n;
	(void)path;
	node_fill_stat(fs, st, MODE_DIR, 0, s->started_at);
	return 0;
}

static int meta_dir_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			    struct stat *st)
{
	return resolve_sbx_stat(fs, n, path, fill_dir, st);
}

static int meta_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	struct sbx *s;
	int err;

	if ((err = resolve_sbx(fs, n, false, &h->l, &s)) < 0)
		return err;
	h->s = s;
	node_fill_stat(fs, &h->self, MODE_DIR, 0, s->started_at);
	return 0;
}

static enum dir_slot meta_entry(struct sbxfs *fs, const struct dir_handle *h,
				const struct path_node *n, size_t i, const char **name,
				struct stat *st)
{
	struct path_node fn = *n;
	const struct sbx_meta *m;
	char path[PATH_MAX];

	if (i >= h->s->n_meta)
		return SLOT_END;
	m = &h->s->meta[i];
	if (!sbx_component_valid(m->key))
		return SLOT_SKIP;
	*name = m->key;
	fn.kind = PATH_META_FILE;
	fn.key = path_span_of(m->key);
	if (path_format(&fn, path, sizeof(path)) < 0)
		return SLOT_SKIP;
	return meta_file_stat(fs, h->s, m->key, path, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

const struct node_ops meta_dir_node_ops = {
	.dir = true,
	.getattr = meta_dir_getattr,
	.list = meta_list,
	.entry = meta_entry,
	.mkdir = node_mkdir_exists,
};

/* ---- a value ---- */

static int fill_value(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		      const char *path, struct stat *st)
{
	char key[NAME_MAX + 1];

	if (path_span_copy(n->key, key, sizeof(key)) < 0)
		return -ENOENT;
	return meta_file_stat(fs, s, key, path, st);
}

static int meta_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct stat *st)
{
	return resolve_sbx_stat(fs, n, path, fill_value, st);
}

static int meta_open(struct sbxfs *fs, const struct path_node *n, const char *path,
		     struct fuse_file_info *fi, struct open_file **out)
{
	char key[NAME_MAX + 1];
	struct sbx_listing *l;
	struct stat st;
	size_t len = 0;
	struct sbx *s;
	char *text;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if (path_span_copy(n->key, key, sizeof(key)) < 0)
		return -ENOENT;
	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	if ((text = render_value(s, key, &len, &err)) != NULL) {
		node_fill_stat(fs, &st, MODE_RO, (off_t)len, s->started_at);
		err = node_open_snap(fs, n, path, fi, text, len, &st, true, NULL, out);
	}
	listing_put(l);
	return err;
}

const struct node_ops meta_file_node_ops = {
	.getattr = meta_getattr,
	.open = meta_open,
	.read = node_read_snap,
	.release = node_release_snap,
};
