/* Directory listings: opendir, readdir (plain and READDIRPLUS), releasedir.
 *
 * Entry i of a directory is always served at offset i + 1 from one snapshot
 * taken when the listing starts (offset 0) and kept in the directory handle
 * until releasedir, so a listing spread over many READDIRPLUS requests is one
 * consistent view, and a rewind (offset 0 again) takes a fresh one, as SUS
 * asks of rewinddir().
 *
 * Real offsets matter for READDIRPLUS: libfuse 3.14's high-level API keeps
 * the attributes of an entry only when the filler is given its offset (with
 * offset 0 it takes a node reference but sends the kernel no node ID, so no
 * FORGET ever drops it).  With offsets, `ls -l` needs no LOOKUP per entry. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "fs_priv.h"

/* The bytes one READDIRPLUS entry takes in the reply: struct fuse_entry_out
 * (128) and struct fuse_dirent up to its name (24), then the name padded to
 * 8 bytes.  libfuse looks an entry up (takes a node reference) before it
 * finds out whether the entry fits the kernel's buffer, and an entry that
 * does not fit keeps that reference for good.  So each reply is kept within
 * the smallest buffer the kernel ever asks with (one page). */
#define DIRENTPLUS_SIZE(namelen) ((152 + (namelen) + 7) & ~(size_t)7)
#define READDIRPLUS_BUDGET 4096

/* What one open directory lists; fi->fh of the high-level API. */
struct dir_handle {
	struct sbx_listing *l;     /* the snapshot; NULL until the first readdir */
	const struct sbx *s;       /* in a sandbox directory: borrowed from l */
	const char **tpl;          /* .sbxfs/templates: sorted, unique, from l */
	size_t n_tpl;
};

/* What dir_entry() found at an index. */
enum dir_slot { SLOT_END, SLOT_SKIP, SLOT_ENTRY };

static void handle_clear(struct dir_handle *h)
{
	listing_put(h->l);
	free(h->tpl);
	memset(h, 0, sizeof(*h));
}

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

/* Takes the snapshot the listing of node n is served from. */
static int snapshot(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	struct sbx *s;
	int err;

	handle_clear(h);
	if (n->kind == PATH_CTL)
		return 0;
	if (path_in_sbx(n->kind)) {
		if ((err = lookup_sbx(fs, n, &h->l, &s)) < 0)
			return err;
		h->s = s;
		return 0;
	}
	if ((err = cache_get(fs->store.cache, &h->l, NULL)) < 0)
		return err;
	if (n->kind == PATH_TPL_ROOT && (err = collect_templates(h)) < 0)
		handle_clear(h);
	return err;
}

/* A sandbox of the listing, as entry of the root or of a template dir. */
static enum dir_slot sbx_slot(struct sbxfs *fs, const struct dir_handle *h,
			      const struct path_node *n, size_t j, const char **name,
			      struct stat *st)
{
	const struct sbx_dirent *d = listing_at(h->l, j);
	struct path_node sn = { .kind = PATH_SBX };

	if (d == NULL)
		return SLOT_END;
	if (n->kind == PATH_TPL && !path_span_eq(n->tpl, d->sbx->template_id) &&
	    !path_span_eq(n->tpl, d->sbx->alias))
		return SLOT_SKIP;
	*name = d->name;
	return stat_sbx_node(fs, d->sbx, &sn, NULL, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

/* Attributes of file entry fn, with the size the kernel must hold of a
 * page-cached file (so its path is needed). */
static int stat_entry(struct sbxfs *fs, const struct sbx *s, const struct path_node *fn,
		      struct stat *st)
{
	char path[PATH_MAX];
	int len = path_format(fn, path, sizeof(path));

	return len < 0 ? len : stat_sbx_node(fs, s, fn, path, st);
}

/* The entries after "." and ".." of a sandbox directory: its files, then
 * the metadata directory. */
static enum dir_slot sbx_dir_slot(struct sbxfs *fs, const struct dir_handle *h,
				  const struct path_node *n, size_t j,
				  const char **name, struct stat *st)
{
	struct path_node fn = *n;

	if (j > SBX_FILE_COUNT)
		return SLOT_END;
	if (j == SBX_FILE_COUNT) {
		fn.kind = PATH_META_DIR;
		*name = PATH_META_NAME;
	} else {
		fn.kind = PATH_SBX_FILE;
		fn.file = (enum sbx_file)j;
		*name = path_sbx_file_name(fn.file);
	}
	return stat_entry(fs, h->s, &fn, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

static enum dir_slot meta_slot(struct sbxfs *fs, const struct dir_handle *h,
			       const struct path_node *n, size_t j,
			       const char **name, struct stat *st)
{
	struct path_node fn = *n;
	const struct sbx_meta *m;

	if (j >= h->s->n_meta)
		return SLOT_END;
	m = &h->s->meta[j];
	if (!sbx_component_valid(m->key))
		return SLOT_SKIP;
	*name = m->key;
	fn.kind = PATH_META_FILE;
	fn.key = (struct path_span){ m->key, strlen(m->key) };
	return stat_entry(fs, h->s, &fn, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

static enum dir_slot ctl_slot(struct sbxfs *fs, size_t j, const char **name,
			      struct stat *st)
{
	static const char *const names[] = { "status", "refresh", "templates" };
	struct path_node cn = { .kind = PATH_CTL_STATUS };

	if (j >= sizeof(names) / sizeof(names[0]))
		return SLOT_END;
	*name = names[j];
	if (j == 1)
		cn.kind = PATH_CTL_REFRESH;
	else if (j == 2)
		cn.kind = PATH_TPL_ROOT;
	return stat_node(fs, &cn, NULL, st) == 0 ? SLOT_ENTRY : SLOT_SKIP;
}

/* Entry i of directory n (0 ".", 1 "..", then the directory's own). */
static enum dir_slot dir_entry(struct sbxfs *fs, const struct dir_handle *h,
			       const struct path_node *n, size_t i,
			       const char **name, struct stat *st)
{
	if (i < 2) {
		*name = i == 0 ? "." : "..";
		if (h->s)
			stat_sbx_node(fs, h->s, n, NULL, st);
		else
			fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
		return SLOT_ENTRY;
	}
	i -= 2;
	switch (n->kind) {
	case PATH_ROOT:
		if (i == 0) {
			*name = PATH_CTL_NAME;
			fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
			return SLOT_ENTRY;
		}
		return sbx_slot(fs, h, n, i - 1, name, st);
	case PATH_TPL:
		return sbx_slot(fs, h, n, i, name, st);
	case PATH_TPL_ROOT:
		if (i >= h->n_tpl)
			return SLOT_END;
		*name = h->tpl[i];
		fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
		return SLOT_ENTRY;
	case PATH_CTL:
		return ctl_slot(fs, i, name, st);
	case PATH_SBX:
		return sbx_dir_slot(fs, h, n, i, name, st);
	case PATH_META_DIR:
		return meta_slot(fs, h, n, i, name, st);
	default:
		return SLOT_END;
	}
}

int sbxfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *h;
	struct path_node n;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (!path_is_dir(n.kind))
		return -ENOTDIR;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

int sbxfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	struct sbxfs *fs = get_fs();
	bool plus = flags & FUSE_READDIR_PLUS;
	size_t used = 0;
	struct path_node n;
	int err;

	if (h == NULL || off < 0)
		return -EBADF;
	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (!path_is_dir(n.kind))
		return -ENOTDIR;
	/* A seek into a listing this handle never took (seekdir after a
	 * failed first read) starts from a fresh snapshot too. */
	if ((off == 0 || (h->l == NULL && n.kind != PATH_CTL)) &&
	    (err = snapshot(fs, h, &n)) < 0)
		return err;
	for (size_t i = (size_t)off;; i++) {
		const char *name = NULL;
		struct stat st;
		enum dir_slot slot = dir_entry(fs, h, &n, i, &name, &st);

		if (slot == SLOT_END)
			break;
		if (slot == SLOT_SKIP)
			continue;
		if (plus) {
			used += DIRENTPLUS_SIZE(strlen(name));
			if (used > READDIRPLUS_BUDGET)
				break;
		}
		/* "." and ".." carry no attributes: libfuse would not look
		 * them up, and the kernel knows both anyway. */
		if (fill(buf, name, &st, (off_t)(i + 1),
			 plus && i >= 2 ? FUSE_FILL_DIR_PLUS : 0))
			break;
	}
	return 0;
}

int sbxfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;

	(void)path;
	if (h) {
		handle_clear(h);
		free(h);
	}
	fi->fh = 0;
	return 0;
}
