/* A sandbox's processes, MOUNT/<sbx>/procs/: a directory per process
 * (mkdir makes a slot, rmdir kills and forgets), the control and output
 * files in each.  What a process is and does is store/procs.h's; this
 * file maps the files onto it.  Every file is direct I/O: the kernel
 * caches nothing of it, so `tail -f stdout` sees the size grow.
 *
 * A paused sandbox: nothing is sent to its agent (that could resume
 * it): the slots made here and their output are still shown, starting
 * (cmd) is EHOSTDOWN.  A sandbox gone: ENOENT. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_lowlevel.h>

#include "fs/node.h"

/* Where node n lives: the sandbox's ID (65 bytes), the process name
 * (NAME_MAX + 1 bytes, for PATH_PROC and below) and whether it is paused. */
static int sbx_where(struct sbxfs *fs, const struct path_node *n, char *id, bool *paused)
{
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	*paused = false;
	if (fs->procs == NULL)
		return -ENOENT;   /* no way to the agents: no procs/ */
	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	*paused = s->state == SBX_STATE_PAUSED;
	snprintf(id, 65, "%s", s->id);
	listing_put(l);
	return 0;
}

static int proc_where(struct sbxfs *fs, const struct path_node *n, char *id, char *name,
		      bool *paused)
{
	int err = sbx_where(fs, n, id, paused);

	if (err < 0 || n->kind == PATH_PROCS)
		return err;
	if (path_span_copy(n->proc, name, NAME_MAX + 1) < 0)
		return -ENOENT;
	return proctab_lookup(fs->procs, id, name, !*paused);
}

static mode_t file_mode(enum proc_file f)
{
	switch (f) {
	case PROC_FILE_CMD: case PROC_FILE_CWD: case PROC_FILE_ENV: case PROC_FILE_USER:
		return MODE_RW;
	case PROC_FILE_STDIN: case PROC_FILE_STDIN_CLOSE: case PROC_FILE_SIGNAL:
		return MODE_WO;
	default:
		return MODE_RO;
	}
}

static int out_stream(enum proc_file f)
{
	return f == PROC_FILE_STDOUT ? PROCS_STDOUT : f == PROC_FILE_STDERR ? PROCS_STDERR : -1;
}

static void file_stat(struct sbxfs *fs, const char *id, const char *name, enum proc_file f,
		      struct stat *st)
{
	uint64_t size = 0;

	if (out_stream(f) >= 0)
		(void)proctab_out_size(fs->procs, id, name, (enum proctab_stream)out_stream(f), &size);
	node_fill_stat(fs, st, file_mode(f), (off_t)size, fs->mount_time);
}

/* ---- procs/ ---- */

static int procs_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			 struct stat *st)
{
	char id[65], name[NAME_MAX + 1];
	bool paused;
	int err;

	(void)path;
	if ((err = proc_where(fs, n, id, name, &paused)) < 0)
		return err;
	node_fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
	return 0;
}

static int procs_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	char id[65], name[NAME_MAX + 1];
	bool paused;
	int err;

	if ((err = proc_where(fs, n, id, name, &paused)) < 0 ||
	    (err = proctab_names(fs->procs, id, !paused, &h->names, &h->n_names)) < 0)
		return err;
	node_fill_stat(fs, &h->self, MODE_DIR, 0, fs->mount_time);
	return 0;
}

static enum dir_slot procs_entry(struct sbxfs *fs, const struct dir_handle *h,
				 const struct path_node *n, size_t i, const char **name,
				 struct stat *st)
{
	(void)n;
	if (i >= h->n_names)
		return SLOT_END;
	*name = h->names[i];
	node_fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
	return SLOT_ENTRY;
}

const struct node_ops procs_node_ops = {
	.dir = true,
	.getattr = procs_getattr,
	.list = procs_list,
	.entry = procs_entry,
	.mkdir = node_mkdir_exists,
};

/* ---- procs/NAME/ ---- */

static int proc_list(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n)
{
	int err = procs_getattr(fs, n, NULL, &h->self);

	if (err == 0 && (h->files_id = malloc(65 + NAME_MAX + 1)) != NULL) {
		bool paused;

		(void)proc_where(fs, n, h->files_id, h->files_id + 65, &paused);
	}
	return err < 0 ? err : h->files_id ? 0 : -ENOMEM;
}

static enum dir_slot proc_entry(struct sbxfs *fs, const struct dir_handle *h,
				const struct path_node *n, size_t i, const char **name,
				struct stat *st)
{
	(void)n;
	if (i >= PROC_FILE_COUNT)
		return SLOT_END;
	*name = path_proc_file_name((enum proc_file)i);
	file_stat(fs, h->files_id, h->files_id + 65, (enum proc_file)i, st);
	return SLOT_ENTRY;
}

static int proc_mkdir(struct sbxfs *fs, const struct path_node *n)
{
	char id[65], name[NAME_MAX + 1];
	bool paused;
	int err = sbx_where(fs, n, id, &paused);

	if (err < 0)
		return err;
	if (path_span_copy(n->proc, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	if (paused)
		return proctab_lookup(fs->procs, id, name, false) == 0 ? -EEXIST : -EHOSTDOWN;
	return proctab_mkdir(fs->procs, id, name);
}

static int proc_rmdir(struct sbxfs *fs, const struct path_node *n)
{
	char id[65], name[NAME_MAX + 1];
	bool paused;
	int err = proc_where(fs, n, id, name, &paused);

	if (err < 0)
		return err;
	return paused ? -EHOSTDOWN : proctab_rmdir(fs->procs, id, name);
}

const struct node_ops proc_node_ops = {
	.dir = true,
	.getattr = procs_getattr,
	.list = proc_list,
	.entry = proc_entry,
	.mkdir = proc_mkdir,
	.rmdir = proc_rmdir,
};

/* ---- procs/NAME/<file> ---- */

static int pfile_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			 struct stat *st)
{
	char id[65], name[NAME_MAX + 1];
	bool paused;
	int err;

	(void)path;
	if ((err = proc_where(fs, n, id, name, &paused)) < 0)
		return err;
	file_stat(fs, id, name, n->pfile, st);
	return 0;
}

/* An open output file shows its size now, for `tail -f`. */
static int pfile_fgetattr(const struct open_file *h, struct stat *st)
{
	struct sbxfs *fs = get_fs();

	file_stat(fs, h->pin.sbx_id, h->pin.remote_path, h->node.pfile, st);
	return 0;
}

static const enum proctab_value values[PROC_FILE_COUNT] = {
	[PROC_FILE_CMD] = PROCS_V_CMD, [PROC_FILE_CWD] = PROCS_V_CWD,
	[PROC_FILE_ENV] = PROCS_V_ENV, [PROC_FILE_USER] = PROCS_V_USER,
	[PROC_FILE_PID] = PROCS_V_PID, [PROC_FILE_STATUS] = PROCS_V_STATUS,
};

/* What an open of file f for acc needs before the handle. */
static int open_check(struct sbxfs *fs, enum proc_file f, int acc, bool paused,
		      const char *id, const char *name)
{
	mode_t m = file_mode(f);

	if ((acc != O_RDONLY && !(m & S_IWUSR)) || (acc != O_WRONLY && !(m & S_IRUSR)))
		return -EACCES;
	if (paused && acc != O_RDONLY && f != PROC_FILE_CWD && f != PROC_FILE_ENV &&
	    f != PROC_FILE_USER)
		return -EHOSTDOWN;
	/* A process started elsewhere: its stream from now on.  For its
	 * output a refusal (max_procs) still shows what was kept. */
	if (f == PROC_FILE_EXIT || (out_stream(f) >= 0 && !paused)) {
		int err = proctab_attach(fs->procs, id, name);

		if (f == PROC_FILE_EXIT && err < 0)
			return err;
	}
	return 0;
}

/* An open stdout or stderr of the process h pins: its path watched (on)
 * or no longer (off), so output that grows drops the size the kernel
 * holds (kinval.h). */
static void watch(struct sbxfs *fs, struct open_file *h, const char *path, bool on)
{
	char key[65 + NAME_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", h->pin.sbx_id, h->pin.remote_path);
	if (!on) {
		kinval_unwatch(fs->kinval, key, path);
		return;
	}
	if ((h->watched = strdup(path)) != NULL)
		kinval_watch(fs->kinval, key, path);
}

static int pfile_open(struct sbxfs *fs, const struct path_node *n, const char *path,
		      struct fuse_file_info *fi, struct open_file **out)
{
	char id[65], name[NAME_MAX + 1], *text = NULL;
	struct snap *sn = NULL;
	size_t len = 0;
	bool paused;
	int err, acc = fi->flags & O_ACCMODE;

	if ((err = proc_where(fs, n, id, name, &paused)) < 0 ||
	    (err = open_check(fs, n->pfile, acc, paused, id, name)) < 0)
		return err;
	/* The values read as they were at open; output and exit as they come. */
	if (acc != O_WRONLY && n->pfile <= PROC_FILE_STATUS) {
		if ((err = proctab_render(fs->procs, id, name, values[n->pfile], !paused, &text,
					  &len)) < 0)
			return err;
		if ((sn = snap_new(text, len)) == NULL)
			return -ENOMEM;
	}
	if ((*out = open_file_new(node_ops_of(n), n, id, sn)) == NULL)
		return -ENOMEM;
	if (((*out)->pin.remote_path = strdup(name)) == NULL) {
		open_file_free(*out);
		return -ENOMEM;
	}
	(*out)->node.pfile = n->pfile;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	if (out_stream(n->pfile) >= 0 && path)
		watch(fs, *out, path, true);
	return 0;
}

static void pfile_release(struct sbxfs *fs, struct open_file *h)
{
	if (h->watched)
		watch(fs, h, h->watched, false);
	free(h->watched);
	h->watched = NULL;
}

void procs_output_grew(void *ctx, const char *id, const char *name)
{
	struct sbxfs *fs = ctx;
	char key[65 + NAME_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", id, name);
	kinval_touch(fs->kinval, key);
}

/* A wait for exit ends when its reader is interrupted, or when the mount
 * is stopping (SIGTERM): libfuse joins its workers before it returns. */
static bool exit_interrupted(void)
{
	struct fuse_context *c = fuse_get_context();

	return fs_interrupted() ||
	       (c && c->fuse && fuse_session_exited(fuse_get_session(c->fuse)));
}

static int exit_read(struct open_file *h, char *buf, size_t size, off_t off)
{
	char line[32];
	int code, err, n;

	if (h->snap == NULL) {
		err = proctab_wait(get_fs()->procs, h->pin.sbx_id, h->pin.remote_path,
				   exit_interrupted, &code);
		if (err < 0)
			return err;
		n = snprintf(line, sizeof(line), "%d\n", code);
		if ((h->snap = snap_new(strndup(line, (size_t)n), (size_t)n)) == NULL)
			return -ENOMEM;
	}
	return node_read_snap(h, buf, size, off);
}

static int pfile_read(struct open_file *h, char *buf, size_t size, off_t off)
{
	int s = out_stream(h->node.pfile);

	if (off < 0)
		return -EINVAL;
	if (s >= 0)
		return proctab_out_read(get_fs()->procs, h->pin.sbx_id, h->pin.remote_path,
					(enum proctab_stream)s, buf, size, (uint64_t)off);
	if (h->node.pfile == PROC_FILE_EXIT)
		return exit_read(h, buf, size, off);
	return node_read_snap(h, buf, size, off);
}

static int pfile_write(struct sbxfs *fs, const struct path_node *n, struct open_file *h,
		       const char *buf, size_t size)
{
	const char *id, *name;
	int err;

	(void)n;
	if (h == NULL)
		return -EBADF;
	id = h->pin.sbx_id;
	name = h->pin.remote_path;
	switch (h->node.pfile) {
	case PROC_FILE_CMD: err = proctab_start(fs->procs, id, name, buf, size); break;
	case PROC_FILE_CWD: err = proctab_set(fs->procs, id, name, PROCS_CWD, buf, size); break;
	case PROC_FILE_ENV: err = proctab_set(fs->procs, id, name, PROCS_ENV, buf, size); break;
	case PROC_FILE_USER: err = proctab_set(fs->procs, id, name, PROCS_USER, buf, size); break;
	case PROC_FILE_STDIN: err = proctab_input(fs->procs, id, name, buf, size); break;
	case PROC_FILE_STDIN_CLOSE: err = proctab_close_stdin(fs->procs, id, name); break;
	case PROC_FILE_SIGNAL: err = proctab_signal(fs->procs, id, name, buf, size); break;
	default: err = -EACCES; break;
	}
	return err < 0 ? err : (int)size;
}

/* `echo x > cmd` opens with O_TRUNC: nothing to cut in a control file. */
static int pfile_truncate(struct sbxfs *fs, const struct path_node *n, off_t size)
{
	(void)fs;
	(void)size;
	return file_mode(n->pfile) & S_IWUSR ? 0 : -EACCES;
}

static int pfile_ftruncate(struct sbxfs *fs, struct open_file *h, off_t size)
{
	(void)fs;
	(void)size;
	return file_mode(h->node.pfile) & S_IWUSR ? 0 : -EACCES;
}

const struct node_ops proc_file_node_ops = {
	.getattr = pfile_getattr,
	.fgetattr = pfile_fgetattr,
	.open = pfile_open,
	.read = pfile_read,
	.release = pfile_release,
	.write = pfile_write,
	.truncate = pfile_truncate,
	.ftruncate = pfile_ftruncate,
};
