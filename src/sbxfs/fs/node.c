/* What the kinds of node share: attributes, and files read from a
 * snapshot rendered at open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

void node_fill_stat(struct sbxfs *fs, struct stat *st, mode_t mode, off_t size, time_t t)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_atime = st->st_mtime = st->st_ctime = t;
}

char *node_line(const char *s, size_t *len)
{
	char *out;
	int n = asprintf(&out, "%s\n", s ? s : "");

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

int node_mkdir_exists(struct sbxfs *fs, const struct path_node *n)
{
	struct stat st;

	return node_ops_of(n)->getattr(fs, n, NULL, &st) == 0 ? -EEXIST : -EPERM;
}

/* A read-only open of content that depends only on the record is read
 * through the kernel's page cache: a repeated open+read is then one FUSE
 * round trip (OPEN) instead of four (OPEN, READ, the READ that finds the
 * end, RELEASE).  Content that changes by itself, and anything opened for
 * writing, stays direct I/O: every read asks sbxfs. */
static void use_page_cache(struct sbxfs *fs, const char *path, struct fuse_file_info *fi,
			   struct snap *sn)
{
	switch (kcache_open(fs->kcache, path, sn->data, sn->len, &sn->key)) {
	case KCACHE_DIRECT:   /* another version is read through the cache */
		fi->direct_io = 1;
		return;
	case KCACHE_KEEP:
		fi->keep_cache = 1;
		break;
	case KCACHE_FRESH:
		/* Changed (or never served): besides the pages, the size the
		 * kernel holds may be stale, and it caps page-cache reads at
		 * it, so it must ask again.  -ENOENT: it holds nothing.  The
		 * kernel waits for pages of this file under read, which other
		 * workers serve at once; one open at a time gets here (the
		 * others read direct meanwhile), so such waits cannot pile up. */
		fuse_invalidate_path(fuse_get_context()->fuse, path);
		kcache_fresh_done(fs->kcache, sn->key);
		break;
	}
	sn->page_cached = true;
}

int node_open_snap(struct sbxfs *fs, const struct path_node *n, const char *path,
		   struct fuse_file_info *fi, char *text, size_t len, const struct stat *st,
		   bool page_cached, const char *sbx_id, struct open_file **out)
{
	struct snap *sn;

	if (text == NULL || (sn = snap_new(text, len)) == NULL)
		return -ENOMEM;
	sn->st = *st;
	if ((*out = open_file_new(node_ops_of(n), n, sbx_id, sn)) == NULL)
		return -ENOMEM;
	fi->nonseekable = 0;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || !page_cached)
		fi->direct_io = 1;
	else
		use_page_cache(fs, path, fi, sn);
	return 0;
}

int node_read_snap(struct open_file *h, char *buf, size_t size, off_t off)
{
	const struct snap *sn = h->snap;

	if (sn == NULL)
		return -EBADF;
	if (off < 0 || (size_t)off >= sn->len)
		return 0;
	if (size > sn->len - (size_t)off)
		size = sn->len - (size_t)off;
	memcpy(buf, sn->data + off, size);
	return (int)size;
}

void node_release_snap(struct sbxfs *fs, struct open_file *h)
{
	if (h->snap && h->snap->page_cached)
		kcache_release(fs->kcache, h->snap->key);
}

int node_is_dir(struct sbxfs *fs, const struct node_ops *ops, const struct path_node *n)
{
	return ops->dir_of ? ops->dir_of(fs, n) : ops->dir;
}
