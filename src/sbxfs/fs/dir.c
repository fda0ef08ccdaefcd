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
#include "node.h"

/* The bytes one READDIRPLUS entry takes in the reply: struct fuse_entry_out
 * (128) and struct fuse_dirent up to its name (24), then the name padded to
 * 8 bytes.  libfuse looks an entry up (takes a node reference) before it
 * finds out whether the entry fits the kernel's buffer, and an entry that
 * does not fit keeps that reference for good.  So each reply is kept within
 * the smallest buffer the kernel ever asks with (one page). */
#define DIRENTPLUS_SIZE(namelen) ((152 + (namelen) + 7) & ~(size_t)7)
#define READDIRPLUS_BUDGET 4096

static void handle_clear(struct dir_handle *h)
{
	listing_put(h->l);
	free(h->tpl);
	dirlist_put(h->files);
	free(h->files_id);
	free(h->files_dir);
	for (size_t i = 0; i < h->n_names; i++)
		free(h->names[i]);
	free(h->names);
	memset(h, 0, sizeof(*h));
	h->type = HANDLE_DIR;
}

/* Takes the snapshot the listing of node n is served from. */
static int snapshot(struct sbxfs *fs, struct dir_handle *h, const struct node_ops *ops,
		    const struct path_node *n)
{
	int err;

	handle_clear(h);
	if ((err = ops->list(fs, h, n)) < 0) {
		handle_clear(h);
		return err;
	}
	h->listed = true;
	return 0;
}

/* Entry i of directory n (0 ".", 1 "..", then the directory's own). */
static enum dir_slot dir_entry(struct sbxfs *fs, const struct dir_handle *h,
			       const struct node_ops *ops, const struct path_node *n,
			       size_t i, const char **name, struct stat *st)
{
	if (i < 2) {
		*name = i == 0 ? "." : "..";
		*st = h->self;
		return SLOT_ENTRY;
	}
	return ops->entry(fs, h, n, i - 2, name, st);
}

int sbxfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *h;
	struct path_node n;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	if ((err = node_is_dir(get_fs(), node_ops_of(&n), &n)) <= 0)
		return err < 0 ? err : -ENOTDIR;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->type = HANDLE_DIR;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

int sbxfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dir_handle *h = dir_handle_of(fi);
	struct sbxfs *fs = get_fs();
	bool plus = flags & FUSE_READDIR_PLUS;
	const struct node_ops *ops;
	size_t used = 0;
	struct path_node n;
	int err;

	if (h == NULL || off < 0)
		return -EBADF;
	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (!(ops = node_ops_of(&n))->dir && !ops->dir_of)
		return -ENOTDIR;
	/* A seek into a listing this handle never took (seekdir after a
	 * failed first read) starts from a fresh snapshot too. */
	if ((off == 0 || !h->listed) && (err = snapshot(fs, h, ops, &n)) < 0)
		return err;
	for (size_t i = (size_t)off;; i++) {
		const char *name = NULL;
		struct stat st;
		enum dir_slot slot = dir_entry(fs, h, ops, &n, i, &name, &st);

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
	struct dir_handle *h = dir_handle_of(fi);

	(void)path;
	if (h) {
		handle_clear(h);
		free(h);
	}
	fi->fh = 0;
	return 0;
}
