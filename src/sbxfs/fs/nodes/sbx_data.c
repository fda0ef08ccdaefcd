/* MOUNT/<sbx>/logs and MOUNT/<sbx>/metrics: what the control plane says
 * of a sandbox besides its record, fetched when opened (never by a
 * listing or a stat by path, so `ls -l` sends nothing for them), read with
 * direct I/O.  Neither resumes, connects or extends the sandbox.
 *
 * logs grows like a log file (store/logs.h): open fetches the lines newer
 * than the copy held; a read at the end, and a stat while the file is
 * open somewhere (how `tail -f` polls: the kernel sends fstat as a stat
 * by path), fetch again at most once per cache_ttl; a stat of a log
 * nobody has open gives the size held, with no request.  metrics is one
 * GET per open, rendered once. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"
#include "model/sbxdata.h"

/* The size metrics shows before it is opened: a page, more than the text
 * needs (read with direct I/O, so reads end at the text's end). */
#define METRICS_NOMINAL_SIZE 4096

struct logs_reader {
	struct logs_sbx *e;
	uint64_t origin;           /* see store/logs.h */
	time_t started_at;         /* the sandbox's, for an empty log's mtime */
};

static long ttl_ms(const struct sbxfs *fs)
{
	return 1000L * (long)fs->cache_ttl;
}

void sbx_logs_known(struct sbxfs *fs, const struct sbx *s, struct stat *st)
{
	uint64_t size = 0;
	time_t mtime = 0;

	if (fs->logs)
		logs_known(fs->logs, s->id, ttl_ms(fs), &size, &mtime);
	node_fill_stat(fs, st, MODE_RO, (off_t)size, mtime ? mtime : s->started_at);
}

void sbx_metrics_known(struct sbxfs *fs, const struct sbx *s, struct stat *st)
{
	node_fill_stat(fs, st, MODE_RO, METRICS_NOMINAL_SIZE, s->started_at);
}

/* getattr by path: what is known, no request. */
static int fill_known(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		      const char *path, struct stat *st)
{
	(void)path;
	return sbx_file_stat(fs, s, n->file, NULL, st);
}

static int data_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct stat *st)
{
	return resolve_sbx_stat(fs, n, path, fill_known, st);
}

/* The ID and start time of n's sandbox: a paused one too, a killed one
 * -ENOENT. */
static int sandbox_of(struct sbxfs *fs, const struct path_node *n, char **id,
		      time_t *started_at)
{
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	*id = strdup(s->id);
	*started_at = s->started_at;
	listing_put(l);
	return *id ? 0 : -ENOMEM;
}

static void logs_reader_free(struct sbxfs *fs, struct logs_reader *r)
{
	if (r)
		logs_close(fs->logs, r->e);
	free(r);
}

static int logs_open_node(struct sbxfs *fs, const struct path_node *n, const char *path,
			  struct fuse_file_info *fi, struct open_file **out)
{
	struct logs_reader *r = NULL;
	uint64_t before, after;
	char *id = NULL;
	time_t t, mtime;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if (fs->logs == NULL)
		return -ENOENT;
	if ((err = sandbox_of(fs, n, &id, &t)) < 0)
		return err;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err = -ENOMEM;
		goto out;
	}
	r->started_at = t;
	if ((err = logs_open(fs->logs, id, &r->e, &r->origin)) < 0) {
		free(r);
		r = NULL;
		goto out;
	}
	logs_size(fs->logs, r->e, &r->origin, &before, &mtime);
	if ((err = logs_update(fs->logs, r->e, 0)) < 0)
		goto out;
	if ((*out = open_file_new(node_ops_of(n), n, id, NULL)) == NULL) {
		err = -ENOMEM;
		goto out;
	}
	(*out)->logs = r;
	r = NULL;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	/* The kernel holds the size a stat gave before this fetch; tail
	 * seeks from it, so it must ask again. */
	logs_size(fs->logs, (*out)->logs->e, &(*out)->logs->origin, &after, &mtime);
	if (after != before && path)
		fuse_invalidate_path(fuse_get_context()->fuse, path);
out:
	logs_reader_free(fs, r);
	free(id);
	return err;
}

/* At the end of what is held, fetch (at most once per cache_ttl) and
 * look again: a reader at the end gets 0 bytes, never waits for lines. */
static int logs_read_node(struct open_file *h, char *buf, size_t size, off_t off)
{
	struct sbxfs *fs = get_fs();
	struct logs_reader *r = h->logs;
	size_t n;

	if (r == NULL)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (size > INT32_MAX)
		size = INT32_MAX;
	n = logs_read(fs->logs, r->e, &r->origin, buf, size, (uint64_t)off);
	if (n == 0 && logs_update(fs->logs, r->e, ttl_ms(fs)) == 0)
		n = logs_read(fs->logs, r->e, &r->origin, buf, size, (uint64_t)off);
	return (int)n;
}

/* Attributes through an open logs file (lseek to the end asks so).  A
 * failed fetch leaves the size held (the API client logged it). */
static int logs_fgetattr(const struct open_file *h, struct stat *st)
{
	struct sbxfs *fs = get_fs();
	const struct logs_reader *r = h->logs;
	uint64_t size;
	time_t mtime;

	if (r == NULL)
		return -EBADF;
	(void)logs_update(fs->logs, r->e, ttl_ms(fs));
	logs_size(fs->logs, r->e, &r->origin, &size, &mtime);
	node_fill_stat(fs, st, MODE_RO, (off_t)size, mtime ? mtime : r->started_at);
	return 0;
}

static void logs_release(struct sbxfs *fs, struct open_file *h)
{
	logs_reader_free(fs, h->logs);
	h->logs = NULL;
}

const struct node_ops logs_node_ops = {
	.getattr = data_getattr,
	.fgetattr = logs_fgetattr,
	.open = logs_open_node,
	.read = logs_read_node,
	.release = logs_release,
};

/* One GET, rendered once for this open file. */
static int metrics_open(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct fuse_file_info *fi, struct open_file **out)
{
	struct sbx_metrics m;
	struct stat st;
	size_t len = 0;
	char *id = NULL, *text;
	time_t t;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if ((err = sandbox_of(fs, n, &id, &t)) < 0)
		return err;
	if ((err = api_metrics(fs->store.api, id, &m, NULL)) == 0) {
		text = sbx_metrics_render(&m, &len);
		node_fill_stat(fs, &st, MODE_RO, (off_t)len, t);
		err = node_open_snap(fs, n, path, fi, text, len, &st, false, id, out);
	}
	free(id);
	return err;
}

/* fstat of an open metrics file: the text it reads. */
static int metrics_fgetattr(const struct open_file *h, struct stat *st)
{
	if (h->snap == NULL)
		return -EBADF;
	*st = h->snap->st;
	return 0;
}

const struct node_ops metrics_node_ops = {
	.getattr = data_getattr,
	.fgetattr = metrics_fgetattr,
	.open = metrics_open,
	.read = node_read_snap,
	.release = node_release_snap,
};
