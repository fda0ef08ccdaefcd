/* The files of a sandbox directory (MOUNT/<sbx>/info, state, ...): one
 * entry each in the table below, rendered from the sandbox's cached record
 * at open; state and timeout take writes, which go to the sandbox that was
 * opened. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"
#include "model/values.h"

static char *time_line(time_t t, size_t *len)
{
	char buf[SBX_TIME_LEN];

	return node_line(t ? sbx_format_time(t, buf) : "", len);
}

static char *render_info(const struct sbx *s, size_t *len)
{
	return sbx_render_info(s, len);
}

/* Rendered once per record: copied, not rendered again. */
static char *render_info_json(const struct sbx *s, size_t *len)
{
	size_t n;
	const char *json = sbx_info_json(s, &n);
	char *out;

	if (json == NULL || (out = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(out, json, n + 1);
	*len = n;
	return out;
}

static char *render_state(const struct sbx *s, size_t *len)
{
	return node_line(sbx_state_name(s->state), len);
}

/* Seconds left before the sandbox's end time, never negative. */
static char *render_timeout(const struct sbx *s, size_t *len)
{
	time_t now = time(NULL);
	char num[32];

	snprintf(num, sizeof(num), "%lld",
		 s->end_at > now ? (long long)(s->end_at - now) : 0);
	return node_line(num, len);
}

static char *render_id(const struct sbx *s, size_t *len)
{
	return node_line(s->id, len);
}

static char *render_template(const struct sbx *s, size_t *len)
{
	return node_line(s->template_id, len);
}

static char *render_started(const struct sbx *s, size_t *len)
{
	return time_line(s->started_at, len);
}

static char *render_end(const struct sbx *s, size_t *len)
{
	return time_line(s->end_at, len);
}

static int write_state(struct sbxfs *fs, const struct sbx *s, const char *buf, size_t size)
{
	enum sbx_state want;

	if (sbx_parse_state(buf, size, &want) < 0)
		return -EINVAL;
	return store_set_state(&fs->store, s, want, NULL);
}

static int write_timeout(struct sbxfs *fs, const struct sbx *s, const char *buf,
			 size_t size)
{
	unsigned long secs;

	if (sbx_parse_timeout(buf, size, &secs) < 0)
		return -EINVAL;
	return store_set_timeout(&fs->store, s, secs, NULL);
}

/* In the order readdir lists them. */
static const struct sbx_file_def files[SBX_FILE_COUNT] = {
	[SBX_FILE_INFO] = { "info", render_info, NULL, false, true },
	[SBX_FILE_INFO_JSON] = { "info.json", render_info_json, NULL, false, true },
	[SBX_FILE_STATE] = { "state", render_state, write_state, false, false },
	[SBX_FILE_TIMEOUT] = { "timeout", render_timeout, write_timeout, true, false },
	[SBX_FILE_SANDBOX_ID] = { "sandbox_id", render_id, NULL, false, false },
	[SBX_FILE_TEMPLATE_ID] = { "template_id", render_template, NULL, false, false },
	[SBX_FILE_STARTED_AT] = { "started_at", render_started, NULL, false, false },
	[SBX_FILE_END_AT] = { "end_at", render_end, NULL, false, false },
	[SBX_FILE_LOGS] = { "logs", NULL, NULL, true, false, &logs_node_ops, sbx_logs_known },
	[SBX_FILE_METRICS] = { "metrics", NULL, NULL, true, false, &metrics_node_ops,
			       sbx_metrics_known },
};

const struct sbx_file_def *sbx_file_def(enum sbx_file f)
{
	return (unsigned)f < SBX_FILE_COUNT ? &files[f] : NULL;
}

/* Read through the kernel's page cache: content that depends only on the
 * record (see node_open_snap). */
static bool page_cached(const struct sbx_file_def *d)
{
	return d->write == NULL && !d->live;
}

static mode_t file_mode(const struct sbx_file_def *d)
{
	return d->write ? MODE_RW : MODE_RO;
}

int sbx_file_stat(struct sbxfs *fs, const struct sbx *s, enum sbx_file f, const char *path,
		  struct stat *st)
{
	const struct sbx_file_def *d = sbx_file_def(f);
	size_t len = 0;
	const char *json;
	char *text;

	if (d == NULL)
		return -ENOENT;
	if (d->known) {
		d->known(fs, s, st);
		return 0;
	}
	/* info.json's size is known without a copy (rendered once per sbx) */
	if (f == SBX_FILE_INFO_JSON) {
		if ((json = sbx_info_json(s, &len)) == NULL)
			return -ENOMEM;
		if (path)
			len = kcache_size(fs->kcache, path, json, len);
	} else {
		if ((text = d->render(s, &len)) == NULL)
			return -ENOMEM;
		if (path && page_cached(d))
			len = kcache_size(fs->kcache, path, text, len);
		free(text);
	}
	node_fill_stat(fs, st, file_mode(d), (off_t)len, s->started_at);
	return 0;
}

static int file_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			struct stat *st)
{
	const struct sbx_file_def *d = sbx_file_def(n->file);
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	if (d == NULL)
		return -ENOENT;
	if ((err = resolve_sbx(fs, n, d->complete, &l, &s)) < 0)
		return err;
	err = sbx_file_stat(fs, s, n->file, path, st);
	listing_put(l);
	return err;
}

/* Renders the file once and pins the sandbox's ID: a write goes to it
 * however names move. */
static int file_open(struct sbxfs *fs, const struct path_node *n, const char *path,
		     struct fuse_file_info *fi, struct open_file **out)
{
	const struct sbx_file_def *d = sbx_file_def(n->file);
	struct sbx_listing *l;
	struct stat st;
	size_t len = 0;
	struct sbx *s;
	char *text;
	int err;

	if (d == NULL)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY && d->write == NULL)
		return -EACCES;
	if ((err = resolve_sbx(fs, n, d->complete, &l, &s)) < 0)
		return err;
	text = d->render(s, &len);
	node_fill_stat(fs, &st, file_mode(d), (off_t)len, s->started_at);
	err = node_open_snap(fs, n, path, fi, text, len, &st, page_cached(d), s->id, out);
	listing_put(l);
	return err;
}

static int file_write(struct sbxfs *fs, const struct path_node *n, struct open_file *h,
		      const char *buf, size_t size)
{
	const struct sbx_file_def *d = sbx_file_def(n->file);
	struct sbx *s;
	int err;

	if (d == NULL || d->write == NULL)
		return -EACCES;
	if (size > INT_MAX)
		return -EINVAL;
	if ((err = resolve_target(fs, n, h, &s)) < 0)
		return err;
	err = d->write(fs, s, buf, size);
	sbx_unref(s);
	return err < 0 ? err : (int)size;
}

/* Truncation is how `echo 600 > timeout` starts: a no-op on the writable
 * files (when the sandbox is there), refused on the others. */
static int file_truncate(struct sbxfs *fs, const struct path_node *n, off_t size)
{
	const struct sbx_file_def *d = sbx_file_def(n->file);
	struct stat st;

	(void)size;
	if (d == NULL || d->write == NULL)
		return -EACCES;
	return file_getattr(fs, n, NULL, &st);
}

const struct node_ops sbx_file_node_ops = {
	.getattr = file_getattr,
	.open = file_open,
	.read = node_read_snap,
	.write = file_write,
	.release = node_release_snap,
	.truncate = file_truncate,
};
