/* A sandbox's own filesystem, MOUNT/<sbx>/fs/: the sandbox's "/" as its
 * agent (envd) shows it to the user fs_user.  Attributes and listings come
 * from store/files.c (one ListDir a directory, cached for fs_cache_ttl);
 * every change is one or two envd calls.  Open files are files_io.c's.
 *
 * What envd has no call for is refused with nothing sent: chmod (but to
 * the same mode), chown, utimens, hard links, symlink creation and mknod
 * (ops.c, EPERM).
 * Symlinks show as links (envd reports the target's type and its resolved
 * path; the store makes them FENTRY_SYMLINK), read as relative paths. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "files.h"
#include "store/prefetch.h"

int files_where(struct sbxfs *fs, const struct path_node *n, char *id, char *path)
{
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	if (fs->files == NULL)
		return -ENOENT;   /* no way to the agents: no fs/ */
	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	err = s->state == SBX_STATE_PAUSED ? -EHOSTDOWN : 0;
	snprintf(id, 65, "%s", s->id);
	if (err < 0)
		files_note_down(fs->files, id, "paused");
	listing_put(l);
	if (err < 0)
		return err;
	if (n->rest.len == 0)
		return snprintf(path, PATH_MAX, "/") < 0 ? -EIO : 0;
	return path_span_copy(n->rest, path, PATH_MAX);
}

int files_link_text(const char *dir, const char *target, char *out, size_t size)
{
	const char *d = dir, *t = target;
	size_t len = 0;
	int n;

	/* The common leading components of dir and target. */
	for (;;) {
		while (*d == '/')
			d++;
		while (*t == '/')
			t++;
		size_t dl = strcspn(d, "/"), tl = strcspn(t, "/");

		if (dl == 0 || dl != tl || strncmp(d, t, dl) != 0)
			break;
		d += dl;
		t += tl;
	}
	out[0] = '\0';
	/* One ".." for each component of dir left. */
	while (*d) {
		while (*d == '/')
			d++;
		if (*d == '\0')
			break;
		d += strcspn(d, "/");
		if ((n = snprintf(out + len, size - len, "../")) < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	while (*t == '/')
		t++;
	n = snprintf(out + len, size - len, "%s", *t ? t : len ? "" : ".");
	if (n < 0 || (size_t)n >= size - len)
		return -ENAMETOOLONG;
	len += (size_t)n;
	if (len > 1 && out[len - 1] == '/')
		out[len - 1] = '\0';   /* "../" alone: the parent */
	return 0;
}

void files_stat(struct sbxfs *fs, const struct fentry *e, const char *dir, struct stat *st)
{
	bool isdir = e->type == FENTRY_DIR;
	bool link = e->type == FENTRY_SYMLINK && e->symlink_target;
	mode_t perm = e->mode ? (mode_t)e->mode : isdir ? 0755 : 0644;
	char text[PATH_MAX];
	off_t size = (off_t)e->size;

	if (link)
		size = dir && files_link_text(dir, e->symlink_target, text, sizeof(text)) == 0
		       ? (off_t)strlen(text) : (off_t)strlen(e->symlink_target);
	node_fill_stat(fs, st, link ? S_IFLNK | 0777 : (isdir ? S_IFDIR : S_IFREG) | (perm & 07777),
		       size, (time_t)(e->mtime_ms / 1000));
	st->st_mtim.tv_nsec = (long)(e->mtime_ms % 1000) * 1000000;
	st->st_ctim = st->st_mtim;
	st->st_nlink = isdir ? 2 : 1;
	st->st_blocks = link ? 0 : (blkcnt_t)((e->size + 511) / 512);
}

/* The directory part of rpath, into dir (PATH_MAX). */
static void parent_of(const char *rpath, char *dir)
{
	const char *slash = strrchr(rpath, '/');
	size_t n = slash && slash != rpath ? (size_t)(slash - rpath) : 1;

	memcpy(dir, rpath, n);
	dir[n] = '\0';
}

static int fs_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
		      struct stat *st)
{
	char id[65], rpath[PATH_MAX];
	struct fentry e;
	int err;

	char dir[PATH_MAX];

	(void)path;
	if ((err = files_where(fs, n, id, rpath)) < 0 ||
	    (err = files_lookup(fs->files, id, rpath, &e)) < 0)
		return err;
	parent_of(rpath, dir);
	files_stat(fs, &e, dir, st);
	fentry_clear(&e);
	return 0;
}

static int fs_dir_of(struct sbxfs *fs, const struct path_node *n)
{
	struct stat st;
	int err = fs_getattr(fs, n, NULL, &st);

	return err < 0 ? err : S_ISDIR(st.st_mode);
}

/* One ListDir serves the whole listing, attributes included. */
static int fs_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	char id[65], rpath[PATH_MAX];
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0 ||
	    (err = files_list_whole(fs->files, id, rpath, &h->files)) < 0)
		return err;
	prefetch_listed(fs->files->pf, id, rpath);
	if ((h->files_id = strdup(id)) == NULL || (h->files_dir = strdup(rpath)) == NULL)
		return -ENOMEM;
	node_fill_stat(fs, &h->self, MODE_DIR, 0, fs->mount_time);
	return 0;
}

static enum dir_slot fs_entry(struct sbxfs *fs, const struct dir_handle *h,
			      const struct path_node *n, size_t i, const char **name,
			      struct stat *st)
{
	(void)n;
	if (i >= h->files->n)
		return SLOT_END;
	*name = h->files->v[i].name;
	files_stat(fs, &h->files->v[i], h->files_dir, st);
	return SLOT_ENTRY;
}

static int fs_mkdir(struct sbxfs *fs, const struct path_node *n)
{
	char id[65], rpath[PATH_MAX];
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	if (strcmp(rpath, "/") == 0)
		return -EEXIST;
	return files_mkdir(fs->files, id, rpath);
}

static int fs_rmdir(struct sbxfs *fs, const struct path_node *n)
{
	char id[65], rpath[PATH_MAX];
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	return files_rmdir(fs->files, id, rpath);
}

static int fs_unlink(struct sbxfs *fs, const struct path_node *n)
{
	char id[65], rpath[PATH_MAX];
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	return files_unlink(fs->files, id, rpath);
}

/* Within one sandbox's fs/ only: anything else is another filesystem. */
static int fs_rename(struct sbxfs *fs, const struct path_node *n, const char *to,
		     unsigned flags)
{
	char id[65], rpath[PATH_MAX], to_id[65], to_path[PATH_MAX];
	struct path_node tn;
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	if (path_parse(to, &tn) < 0 || tn.kind != PATH_SBX_FS)
		return -EXDEV;
	if ((err = files_where(fs, &tn, to_id, to_path)) < 0)
		return err == -ENOENT ? -EXDEV : err;
	if (strcmp(id, to_id) != 0)
		return -EXDEV;
	if (strcmp(rpath, "/") == 0 || strcmp(to_path, "/") == 0)
		return -EBUSY;
	return files_rename(fs->files, id, rpath, to_path, (flags & RENAME_NOREPLACE) != 0);
}

/* envd has no call to change a mode: a chmod to the mode a file already
 * shows succeeds with nothing sent (git and sqlite copy a file's mode to
 * its replacement), any other is EPERM. */
static int fs_chmod(struct sbxfs *fs, const struct path_node *n, const struct open_file *h,
		    mode_t mode)
{
	struct stat st;
	int err = h && h->ops == &files_node_ops ? files_fgetattr(h, &st)
						 : fs_getattr(fs, n, NULL, &st);

	if (err < 0)
		return err;
	return (st.st_mode & 07777) == (mode & 07777) ? 0 : -EPERM;
}

/* The sandbox's disk as envd's GET /metrics reports it: its size (the
 * template's diskSizeMB on sbxd) and what its files take, in 4 KiB
 * blocks; no inode counts (envd has none). */
static int fs_statfs(struct sbxfs *fs, const struct path_node *n, struct statvfs *sv)
{
	char id[65], rpath[PATH_MAX];
	uint64_t used, total;
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0 ||
	    (err = files_disk(fs->files, id, &used, &total)) < 0)
		return err;
	sv->f_blocks = (fsblkcnt_t)(total / sv->f_frsize);
	sv->f_bfree = (fsblkcnt_t)(used < total ? (total - used) / sv->f_frsize : 0);
	sv->f_bavail = sv->f_bfree;
	return 0;
}

/* envd reports a link's target resolved to an absolute path in the
 * sandbox; it is given relative to the link's directory, so following it
 * in the mount stays inside fs/. */
static int fs_readlink(struct sbxfs *fs, const struct path_node *n, char *buf, size_t size)
{
	char id[65], rpath[PATH_MAX], dir[PATH_MAX];
	struct fentry e;
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0 ||
	    (err = files_lookup(fs->files, id, rpath, &e)) < 0)
		return err;
	parent_of(rpath, dir);
	if (e.type != FENTRY_SYMLINK || e.symlink_target == NULL)
		err = -EINVAL;
	else
		err = files_link_text(dir, e.symlink_target, buf, size);
	fentry_clear(&e);
	return err;
}

const struct node_ops files_node_ops = {
	.dir_of = fs_dir_of,
	.getattr = fs_getattr,
	.fgetattr = files_fgetattr,
	.open = files_open,
	.read = files_read_h,
	.pwrite = files_pwrite,
	.flush = files_flush,
	.ftruncate = files_ftruncate,
	.release = files_release,
	.list = fs_list,
	.entry = fs_entry,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.truncate = files_truncate,
	.create = files_create,
	.chmod = fs_chmod,
	.statfs = fs_statfs,
	.readlink = fs_readlink,
};
