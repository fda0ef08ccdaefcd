/* MOUNT/.sbxfs/templates: a directory per template the listing mentions
 * (by ID and by alias), each listing the sandboxes made from it; mkdir of
 * a new name there creates one from that template (sbx.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The templates the listing mentions (IDs and aliases), sorted and unique. */
static int collect_templates(struct dir_handle *h)
{
	size_t n = listing_count(h->l), k = 0, u = 0;
	const char **names = malloc((2 * n + 1) * sizeof(*names));

	if (names == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sbx *s = listing_at(h->l, i)->sbx;

		if (path_tpl_name_valid(s->template_id, strlen(s->template_id)))
			names[k++] = s->template_id;
		if (path_tpl_name_valid(s->alias, strlen(s->alias)))
			names[k++] = s->alias;
	}
	qsort(names, k, sizeof(*names), cmp_str);
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(names[i], names[u - 1]) != 0)
			names[u++] = names[i];
	h->tpl = names;
	h->n_tpl = u;
	return 0;
}

static int tpl_root_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	int err = node_list_sandboxes(fs, h, n);

	return err < 0 ? err : collect_templates(h);
}

static enum dir_slot tpl_root_entry(struct sbxfs *fs, const struct dir_handle *h,
				    const struct path_node *n, size_t i, const char **name,
				    struct stat *st)
{
	(void)n;
	if (i >= h->n_tpl)
		return SLOT_END;
	*name = h->tpl[i];
	node_fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
	return SLOT_ENTRY;
}

const struct node_ops tpl_root_node_ops = {
	.dir = true,
	.getattr = node_fixed_dir_getattr,
	.list = tpl_root_list,
	.entry = tpl_root_entry,
	.mkdir = node_mkdir_exists,
};

/* Any valid template name is a directory: the server decides whether it
 * exists when a sandbox is made from it. */
const struct node_ops tpl_node_ops = {
	.dir = true,
	.getattr = node_fixed_dir_getattr,
	.list = node_list_sandboxes,
	.entry = node_sandbox_entry,
	.mkdir = node_mkdir_exists,
};
