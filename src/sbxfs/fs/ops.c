/* FUSE operations: path -> node (path.c) -> sandbox (cache.c) -> content.
 *
 * Reads never send a request of their own: attributes and contents come
 * from the cached listing (one paginated list per TTL).  open() renders a
 * file once into a snapshot kept in fi->fh, so a reader sees one consistent
 * value even if the sandbox changes or disappears meanwhile.  Writes apply
 * in write() so the writer sees the error. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "config.h"
#include "fs.h"
#include "util/log.h"
#include "path.h"
#include "status.h"
#include "model/values.h"
#include "fs_priv.h"



struct sbxfs *get_fs(void)
{
	return fuse_get_context()->private_data;
}

bool fs_interrupted(void)
{
	return fuse_interrupted() != 0;
}

char *fs_render_status(struct sbxfs *fs, size_t *len)
{
	struct status_info si = {
		.version = SBXFS_VERSION,
		.backend = fs->backend_url,
		.provider = fs->provider,
		.embedded = fs->embedded,
		.cache_ttl = fs->cache_ttl,
		.stale_ttl = fs->stale_ttl,
	};

	api_get_stats(fs->store.api, &si.api);
	cache_get_stats(fs->store.cache, &si.cache);
	return status_render(&si, len);
}

/* ---- rendering ---- */

static char *dup_line(const char *s, size_t *len)
{
	char *out;
	int n = asprintf(&out, "%s\n", s ? s : "");

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

static char *time_line(time_t t, size_t *len)
{
	char buf[SBX_TIME_LEN];

	return dup_line(t ? sbx_format_time(t, buf) : "", len);
}

/* Seconds left before the sandbox's end time, never negative. */
static long long seconds_left(const struct sbx *s)
{
	time_t now = time(NULL);

	return s->end_at > now ? (long long)(s->end_at - now) : 0;
}

/* The content of a sandbox file or metadata value: malloc'd, or NULL with
 * errno-style result in *err. */
static char *render_sbx_node(const struct sbx *s, const struct path_node *n,
			     const char *key, size_t *len, int *err)
{
	char num[32];
	char *out = NULL;

	*err = -ENOMEM;
	if (n->kind == PATH_META_FILE) {
		const char *v = sbx_meta_get(s, key);

		if (v == NULL || !sbx_component_valid(key)) {
			*err = -ENOENT;
			return NULL;
		}
		return dup_line(v, len);
	}
	switch (n->file) {
	case SBX_FILE_INFO:
		out = sbx_render_info(s, len);
		break;
	case SBX_FILE_INFO_JSON: {
		size_t n;
		const char *json = sbx_info_json(s, &n);

		if (json && (out = malloc(n + 1)) != NULL) {
			memcpy(out, json, n + 1);
			*len = n;
		}
		break;
	}
	case SBX_FILE_STATE:
		out = dup_line(sbx_state_name(s->state), len);
		break;
	case SBX_FILE_TIMEOUT:
		snprintf(num, sizeof(num), "%lld", seconds_left(s));
		out = dup_line(num, len);
		break;
	case SBX_FILE_SANDBOX_ID:
		out = dup_line(s->id, len);
		break;
	case SBX_FILE_TEMPLATE_ID:
		out = dup_line(s->template_id, len);
		break;
	case SBX_FILE_STARTED_AT:
		out = time_line(s->started_at, len);
		break;
	case SBX_FILE_END_AT:
		out = time_line(s->end_at, len);
		break;
	default:
		*err = -ENOENT;
		break;
	}
	return out;
}

/* ---- lookup ---- */

/* A sandbox fresh from mkdir lacks what only the server knows (cpuCount,
 * memoryMB, diskSizeMB are not in a create reply).  Only info and info.json
 * show those, so they complete it with one GET on first use, and mkdir stays
 * a single request.  A read must not fail just because the backend is down:
 * on any error but "gone" the partial entry is shown. */
static int complete_sbx(struct sbxfs *fs, struct sbx_listing **lp, struct sbx **sp)
{
	struct sbx *full = NULL;
	char *id = strdup((*sp)->id);
	int err;

	if (id == NULL)
		return 0;
	err = store_complete(&fs->store, id, &full);
	if (err == -ENOENT) {
		listing_put(*lp);
		*lp = NULL;
		free(id);
		return -ENOENT;
	}
	if (err < 0) {
		free(id);
		return 0;
	}
	/* Serve the completed entry even if the listing meanwhile moved on. */
	listing_put(*lp);
	*lp = NULL;
	err = cache_get(fs->store.cache, lp, NULL);
	if (err == 0 && (*sp = listing_find(*lp, id)) == NULL) {
		listing_put(*lp);
		*lp = NULL;
		err = -ENOENT;
	}
	sbx_unref(full);
	free(id);
	return err;
}

/* Finds the sandbox a node lives in.  On success *lp holds a listing
 * reference (listing_put it) and *sp is borrowed from it. */
int lookup_sbx(struct sbxfs *fs, const struct path_node *n, struct sbx_listing **lp,
	       struct sbx **sp)
{
	char name[NAME_MAX + 1];
	int err;

	if (path_span_copy(n->sbx, name, sizeof(name)) < 0)
		return -ENOENT;
	err = cache_get(fs->store.cache, lp, NULL);
	if (err < 0)
		return err;
	*sp = listing_find(*lp, name);
	if (*sp == NULL) {
		listing_put(*lp);
		*lp = NULL;
		return -ENOENT;
	}
	if ((*sp)->partial && n->kind == PATH_SBX_FILE &&
	    (n->file == SBX_FILE_INFO || n->file == SBX_FILE_INFO_JSON))
		return complete_sbx(fs, lp, sp);
	return 0;
}

/* ---- attributes ---- */

void fill_stat(struct sbxfs *fs, struct stat *st, mode_t mode, off_t size, time_t t)
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

static mode_t sbx_node_mode(const struct path_node *n)
{
	if (n->kind == PATH_SBX || n->kind == PATH_META_DIR)
		return MODE_DIR;
	if (n->kind == PATH_SBX_FILE && path_sbx_file_writable(n->file))
		return MODE_RW;
	return MODE_RO;
}

/* Files whose content depends only on the sandbox's record, read through
 * the kernel's page cache: a repeated open+read is then one FUSE round trip
 * (OPEN) instead of four (OPEN, READ, the READ that finds the end, RELEASE).
 * timeout counts down and .sbxfs/status changes by itself, so those, and
 * the writable files, stay direct I/O: every read asks sbxfs. */
static bool node_page_cached(const struct path_node *n)
{
	if (n->kind == PATH_META_FILE)
		return true;
	return n->kind == PATH_SBX_FILE && !path_sbx_file_writable(n->file);
}

int stat_sbx_node(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		  const char *path, struct stat *st)
{
	char key[NAME_MAX + 1];
	const char *json;
	size_t len = 0;
	char *text;
	int err;

	if (n->kind == PATH_SBX || n->kind == PATH_META_DIR) {
		fill_stat(fs, st, MODE_DIR, 0, s->started_at);
		if (n->kind == PATH_SBX)
			st->st_nlink = 3;
		return 0;
	}
	/* info.json's size is known without a copy (rendered once per sbx) */
	if (n->kind == PATH_SBX_FILE && n->file == SBX_FILE_INFO_JSON) {
		if ((json = sbx_info_json(s, &len)) == NULL)
			return -ENOMEM;
		if (path)
			len = kcache_size(fs->kcache, path, json, len);
		fill_stat(fs, st, sbx_node_mode(n), (off_t)len, s->started_at);
		return 0;
	}
	if (n->kind == PATH_META_FILE && path_span_copy(n->key, key, sizeof(key)) < 0)
		return -ENOENT;
	text = render_sbx_node(s, n, key, &len, &err);
	if (text == NULL)
		return err;
	if (path && node_page_cached(n))
		len = kcache_size(fs->kcache, path, text, len);
	free(text);
	fill_stat(fs, st, sbx_node_mode(n), (off_t)len, s->started_at);
	return 0;
}

int stat_node(struct sbxfs *fs, const struct path_node *n, const char *path, struct stat *st)
{
	struct sbx_listing *l;
	struct sbx *s;
	size_t len;
	char *text;
	int err;

	switch (n->kind) {
	case PATH_ROOT:
	case PATH_CTL:
	case PATH_TPL_ROOT:
	case PATH_TPL:
		fill_stat(fs, st, MODE_DIR, 0, fs->mount_time);
		return 0;
	case PATH_CTL_STATUS:
		if ((text = fs_render_status(fs, &len)) == NULL)
			return -ENOMEM;
		free(text);
		fill_stat(fs, st, MODE_RO, (off_t)len, time(NULL));
		return 0;
	case PATH_CTL_REFRESH:
		fill_stat(fs, st, MODE_WO, 0, fs->mount_time);
		return 0;
	default:
		break;
	}
	err = lookup_sbx(fs, n, &l, &s);
	if (err < 0)
		return err;
	err = stat_sbx_node(fs, s, n, path, st);
	listing_put(l);
	return err;
}

static int sbxfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const struct snap *sn = fi ? (const struct snap *)(uintptr_t)fi->fh : NULL;
	struct path_node n;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	/* The kernel reads an open page-cached file only up to the size it
	 * holds, and asks for that size through the open file: answer with
	 * the snapshot being read, even when the sandbox is gone meanwhile. */
	if (sn && !path_is_dir(n.kind) && sn->page_cached) {
		*st = sn->st;
		return 0;
	}
	return stat_node(get_fs(), &n, path, st);
}

static int sbxfs_access(const char *path, int mask)
{
	struct stat st;
	struct path_node n;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	if ((err = stat_node(get_fs(), &n, NULL, &st)) < 0)
		return err;
	if (((mask & R_OK) && !(st.st_mode & S_IRUSR)) ||
	    ((mask & W_OK) && !(st.st_mode & S_IWUSR)) ||
	    ((mask & X_OK) && !(st.st_mode & S_IXUSR)))
		return -EACCES;
	return 0;
}

/* ---- files ---- */

bool node_writable(const struct path_node *n)
{
	return n->kind == PATH_CTL_REFRESH ||
	       (n->kind == PATH_SBX_FILE && path_sbx_file_writable(n->file));
}


static struct snap *snap_new(char *text, size_t len)
{
	struct snap *sn = malloc(sizeof(*sn) + len);

	if (sn) {
		memset(sn, 0, sizeof(*sn));
		sn->len = len;
		memcpy(sn->data, text, len);
	}
	free(text);
	return sn;
}

/* Renders what a read of node n shows now, with the attributes getattr
 * would give it. */
static int render_node(struct sbxfs *fs, const struct path_node *n, struct snap **out)
{
	char key[NAME_MAX + 1];
	struct sbx_listing *l = NULL;
	struct sbx *s;
	size_t len = 0;
	char *text;
	int err;

	if (n->kind == PATH_CTL_STATUS) {
		text = fs_render_status(fs, &len);
		err = -ENOMEM;
	} else if (n->kind == PATH_CTL_REFRESH) {
		text = strdup("");
		err = -ENOMEM;
	} else {
		if (n->kind == PATH_META_FILE && path_span_copy(n->key, key, sizeof(key)) < 0)
			return -ENOENT;
		if ((err = lookup_sbx(fs, n, &l, &s)) < 0)
			return err;
		text = render_sbx_node(s, n, key, &len, &err);
	}
	if (text && (*out = snap_new(text, len)) != NULL) {
		if (l && n->kind == PATH_SBX_FILE && ((*out)->sbx_id = strdup(s->id)) == NULL) {
			free(*out);
			*out = NULL;
			text = NULL;
			err = -ENOMEM;
		} else if (l)
			fill_stat(fs, &(*out)->st, sbx_node_mode(n), (off_t)len, s->started_at);
		else if (n->kind == PATH_CTL_STATUS)
			fill_stat(fs, &(*out)->st, MODE_RO, (off_t)len, time(NULL));
		else
			fill_stat(fs, &(*out)->st, MODE_WO, 0, fs->mount_time);
	} else if (text) {
		err = -ENOMEM;
	}
	listing_put(l);
	return text ? (*out ? 0 : err) : err;
}

static int sbxfs_open(const char *path, struct fuse_file_info *fi)
{
	struct sbxfs *fs = get_fs();
	int acc = fi->flags & O_ACCMODE;
	struct path_node n;
	struct snap *sn = NULL;
	int err;

	if ((err = path_parse(path, &n)) < 0)
		return err;
	if (path_is_dir(n.kind))
		return -EISDIR;
	if (acc != O_RDONLY && !node_writable(&n))
		return -EACCES;
	if (n.kind == PATH_CTL_REFRESH && acc != O_WRONLY)
		return -EACCES;
	if ((err = render_node(fs, &n, &sn)) < 0)
		return err;
	fi->fh = (uint64_t)(uintptr_t)sn;
	fi->nonseekable = 0;
	if (acc != O_RDONLY || !node_page_cached(&n)) {
		fi->direct_io = 1;
		return 0;
	}
	switch (kcache_open(fs->kcache, path, sn->data, sn->len, &sn->key)) {
	case KCACHE_DIRECT:   /* another version is read through the cache */
		fi->direct_io = 1;
		return 0;
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
	return 0;
}

static int sbxfs_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	const struct snap *sn = (const struct snap *)(uintptr_t)fi->fh;

	(void)path;
	if (sn == NULL)
		return -EBADF;
	if (off < 0 || (size_t)off >= sn->len)
		return 0;
	if (size > sn->len - (size_t)off)
		size = sn->len - (size_t)off;
	memcpy(buf, sn->data + off, size);
	return (int)size;
}

static int sbxfs_release(const char *path, struct fuse_file_info *fi)
{
	struct snap *sn = (struct snap *)(uintptr_t)fi->fh;

	(void)path;
	if (sn && sn->page_cached)
		kcache_release(get_fs()->kcache, sn->key);
	if (sn)
		free(sn->sbx_id);
	free(sn);
	fi->fh = 0;
	return 0;
}

static int sbxfs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static void *sbxfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct sbxfs *fs = get_fs();

	/* The kernel keeps entries long and is told when a refresh finds one
	 * gone (kinval.h): a lookup of a known sandbox then never waits for
	 * the root's lock, which a mkdir or rmdir holds for its request.
	 * Attributes last cache_ttl; negative entries are not cached, so a
	 * sandbox created by another client shows up as soon as the listing
	 * does.  The high-level API resolves every request by path, so an
	 * entry kept for a name whose sandbox changed still reaches the
	 * right one (or ENOENT). */
	cfg->entry_timeout = fs->cache_ttl ? SBXFS_ENTRY_TIMEOUT : 0;
	cfg->attr_timeout = fs->cache_ttl;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->readdir_ino = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* READDIRPLUS in the kernel's auto mode: the first request of a
	 * listing, and each one after the caller stat()ed an entry the last
	 * one brought, carry attributes, so `ls -l` needs no LOOKUP while a
	 * plain `ls` gets its names in few, large READDIR replies.  dir.c
	 * gives each entry its real offset, without which libfuse 3.14 would
	 * keep a node reference per listed name for good. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	if (fs->kinval && kinval_start(fs->kinval, fuse_get_context()->fuse) < 0)
		log_warn("no invalidation thread: the kernel keeps entries of sandboxes "
			 "gone elsewhere until they are looked up");
	return fs;
}

static void sbxfs_destroy(void *private_data)
{
	struct sbxfs *fs = private_data;

	kinval_stop(fs->kinval);
}

const struct fuse_operations sbxfs_ops = {
	.init = sbxfs_init,
	.destroy = sbxfs_destroy,
	.getattr = sbxfs_getattr,
	.access = sbxfs_access,
	.opendir = sbxfs_opendir,
	.readdir = sbxfs_readdir,
	.releasedir = sbxfs_releasedir,
	.open = sbxfs_open,
	.read = sbxfs_read,
	.write = sbxfs_write,
	.release = sbxfs_release,
	.truncate = sbxfs_truncate,
	.mkdir = sbxfs_mkdir,
	.rmdir = sbxfs_rmdir,
	.unlink = sbxfs_unlink,
	.rename = sbxfs_rename,
	.chmod = sbxfs_chmod,
	.chown = sbxfs_chown,
	.utimens = sbxfs_utimens,
	.symlink = sbxfs_symlink,
	.link = sbxfs_link,
	.mknod = sbxfs_mknod,
	.create = sbxfs_create,
	.statfs = sbxfs_statfs,
};
