/* A sandbox's own filesystem, MOUNT/<sbx>/fs/: the sandbox's "/" as its
 * agent (envd) shows it to the user fs_user.  Attributes and listings come
 * from store/files.c (one ListDir a directory, cached for fs_cache_ttl);
 * every change is one or two envd calls.  Open files are files_io.c's.
 *
 * What envd has no call for is refused with nothing sent: chmod (but to
 * the same mode), chown, utimens, hard links, symlink creation and mknod
 * (ops.c, EPERM).
 * Symlinks show as what they point to (envd reports the target's type). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "files.h"

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

void files_stat(struct sbxfs *fs, const struct fentry *e, struct stat *st)
{
	bool dir = e->type == FENTRY_DIR;
	mode_t perm = e->mode ? (mode_t)e->mode : dir ? 0755 : 0644;

	node_fill_stat(fs, st, (dir ? S_IFDIR : S_IFREG) | (perm & 07777), (off_t)e->size,
		       (time_t)(e->mtime_ms / 1000));
	st->st_mtim.tv_nsec = (long)(e->mtime_ms % 1000) * 1000000;
	st->st_ctim = st->st_mtim;
	st->st_nlink = dir ? 2 : 1;
	st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
}

static int fs_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
		      struct stat *st)
{
	char id[65], rpath[PATH_MAX];
	struct fentry e;
	int err;

	(void)path;
	if ((err = files_where(fs, n, id, rpath)) < 0 ||
	    (err = files_lookup(fs->files, id, rpath, &e)) < 0)
		return err;
	files_stat(fs, &e, st);
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
	    (err = files_list(fs->files, id, rpath, &h->files)) < 0)
		return err;
	if ((h->files_id = strdup(id)) == NULL)
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
	files_stat(fs, &h->files->v[i], st);
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
};
