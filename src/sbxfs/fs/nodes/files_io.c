/* Open files of a sandbox's own filesystem (MOUNT/<sbx>/fs/...).
 *
 * Read-only opens read a small file whole in one request, and a large
 * one sequentially through a read-ahead stream (store/fstream.h: one
 * request from where reading started, whatever order the kernel's
 * read-ahead asks in); reads elsewhere (a seek, or more streams than the
 * budget) use Range requests into a window that grows while they follow
 * each other.  Opens for writing work on a local spool file (an unlinked
 * temporary file: the whole file, fetched at open unless truncated), and
 * the spool replaces the remote file at flush, fsync or release, in one
 * streamed upload: so close(2) or fsync(2) fails with the upload's errno,
 * and a file never shows half written.  A file written from its start in
 * order is sent while it is written (store/fupload.h) once it has
 * FUPLOAD_MIN bytes, so the flush waits only for the rest; any other
 * write ends that, and the flush sends the spool whole.  Files over
 * fs_max_file are refused with EFBIG before any transfer.
 *
 * A handle's lock guards its window and spool state, never a request: a
 * fetch fills a buffer of its own which is swapped in afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "store/fstream.h"
#include "store/fupload.h"
#include "store/prefetch.h"
#include "util/log.h"

/* Read-ahead: the first window, and the largest it grows to. */
#define RA_MIN (256u * 1024)
#define RA_MAX (8u * 1024 * 1024)

struct file_io {
	pthread_mutex_t lock;
	char id[65];
	char *path;
	int spool;               /* -1: read-only, reads go to the sandbox */
	bool dirty;              /* the spool holds what the sandbox does not */
	bool append;
	bool own;                /* in the store's own-change overlay */
	struct fentry attr;      /* at open */
	char *ra;                /* the read-ahead window: ra_len bytes at ra_off */
	size_t ra_len, ra_want;
	uint64_t ra_off;
	struct fstream *st;      /* the read-ahead stream, or NULL */
	uint64_t next_off;       /* where the last read ended */
	bool seq;                /* written from 0 in order so far: seq_end bytes */
	uint64_t seq_end;
	struct fupload *up;      /* sending them meanwhile, or NULL */
};

static void io_free(struct file_io *io)
{
	if (io == NULL)
		return;
	if (io->spool >= 0)
		close(io->spool);
	pthread_mutex_destroy(&io->lock);
	fentry_clear(&io->attr);
	fstream_stop(io->st);
	fupload_abort(io->up);
	free(io->ra);
	free(io->path);
	free(io);
}

/* An unlinked file in $TMPDIR (or /tmp): 0600, gone with its last fd. */
static int spool_new(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (dir == NULL || dir[0] != '/')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EOPNOTSUPP)
		return fd >= 0 ? fd : -errno;
	snprintf(tmpl, sizeof(tmpl), "%s/sbxfs-spool-XXXXXX", dir);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

static struct file_io *io_new(const char *id, const char *path)
{
	struct file_io *io = calloc(1, sizeof(*io));

	if (io == NULL || (io->path = strdup(path)) == NULL) {
		free(io);
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	snprintf(io->id, sizeof(io->id), "%s", id);
	io->spool = -1;
	io->ra_want = RA_MIN;
	return io;
}

/* ---- the spool's sink ---- */

static int fd_write(const char *data, size_t len, void *ctx)
{
	int fd = *(int *)ctx;

	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fetches the remote file whole into the spool (for a write that keeps
 * what is there). */
static int spool_fill(struct sbxfs *fs, struct file_io *io)
{
	struct http_sink sink = { fd_write, &io->spool };
	uint64_t got = 0;
	int err;

	if (io->attr.size == 0)
		return 0;
	err = files_read(fs->files, io->id, io->path, 0, io->attr.size, &sink, &got, NULL);
	if (err == 0 && got != io->attr.size)
		log_debug("fs: %s changed size while fetched", io->path);
	return err;
}

/* ---- open, create ---- */

/* Shows the file being written by path until it is released. */
static int own_add(struct sbxfs *fs, struct file_io *io)
{
	int err = files_own_add(fs->files, io->id, io->path, io->attr.mode ? io->attr.mode : 0644);

	if (err == 0) {
		io->own = true;
		files_own_set(fs->files, io->id, io->path, io->attr.size);
	}
	return err;
}

/* The overlay's size after a change to the spool. */
static void own_size(struct sbxfs *fs, struct file_io *io)
{
	struct stat st;

	if (io->own && fstat(io->spool, &st) == 0)
		files_own_set(fs->files, io->id, io->path, (uint64_t)st.st_size);
}

/* A handle for io (taken) of node n; -ENOMEM frees io. */
static int handle_new(const struct path_node *n, struct file_io *io, struct open_file **out)
{
	struct open_file *h = open_file_new(&files_node_ops, n, io->id, NULL);

	if (h == NULL || (h->pin.remote_path = strdup(io->path)) == NULL) {
		open_file_free(h);
		io_free(io);
		return -ENOMEM;
	}
	h->io = io;
	*out = h;
	return 0;
}

/* A spool for io: empty (dirty, so even an empty file is sent) or filled
 * with the remote file. */
static int spool_open(struct sbxfs *fs, struct file_io *io, bool truncate)
{
	int err;

	if ((io->spool = spool_new()) < 0)
		return io->spool;
	if (truncate) {
		io->attr.size = 0;
		io->dirty = true;
		io->seq = true;
		return 0;
	}
	if ((err = spool_fill(fs, io)) < 0)
		return err;
	return 0;
}

int files_open(struct sbxfs *fs, const struct path_node *n, const char *path,
	       struct fuse_file_info *fi, struct open_file **out)
{
	char id[65], rpath[PATH_MAX];
	struct file_io *io;
	int err;

	(void)path;
	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	if ((io = io_new(id, rpath)) == NULL)
		return -ENOMEM;
	if ((err = files_lookup(fs->files, id, rpath, &io->attr)) < 0)
		goto fail;
	err = io->attr.type == FENTRY_DIR ? -EISDIR
	      : io->attr.size > fs->files->max_file ? -EFBIG : 0;
	if (err < 0)
		goto fail;
	io->append = fi->flags & O_APPEND;
	if ((fi->flags & O_ACCMODE) != O_RDONLY &&
	    ((err = spool_open(fs, io, fi->flags & O_TRUNC)) < 0 || (err = own_add(fs, io)) < 0))
		goto fail;
	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		prefetch_opened(fs->files->pf, id, rpath);
		/* Nothing to upload at close: spare the kernel's FLUSH round
		 * trip (one of three per file in a grep -r). */
		fi->noflush = 1;
	}
	fi->direct_io = 0;
	/* The kernel's pages of this file stay while it is unchanged since
	 * the last open: a reread costs no request. */
	fi->keep_cache = files_pages_same(fs->files, id, rpath, io->attr.size, io->attr.mtime_ms);
	return handle_new(n, io, out);
fail:
	io_free(io);
	return err;
}

int files_create(struct sbxfs *fs, const struct path_node *n, mode_t mode,
		 struct fuse_file_info *fi)
{
	char id[65], rpath[PATH_MAX];
	struct open_file *h;
	struct file_io *io;
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	if (strcmp(rpath, "/") == 0)
		return -EISDIR;
	if ((io = io_new(id, rpath)) == NULL)
		return -ENOMEM;
	io->attr.type = FENTRY_FILE;
	io->attr.mode = mode & 0777;
	io->append = fi->flags & O_APPEND;
	io->attr.name = strdup("");
	err = io->attr.name ? spool_open(fs, io, true) : -ENOMEM;
	if (err == 0)
		err = own_add(fs, io);
	if (err < 0) {
		io_free(io);
		return err;
	}
	if ((err = handle_new(n, io, &h)) < 0)
		return err;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* ---- reads ---- */

/* Copies what the window holds of [off, off+size) to buf: the count, or
 * -1 when the window does not start the range.  Called locked. */
static ssize_t from_window(struct file_io *io, char *buf, size_t size, uint64_t off)
{
	size_t k;

	if (io->ra == NULL || off < io->ra_off || off >= io->ra_off + io->ra_len)
		return -1;
	k = (size_t)(io->ra_off + io->ra_len - off);
	k = k < size ? k : size;
	memcpy(buf, io->ra + (off - io->ra_off), k);
	return (ssize_t)k;
}

/* The window to fetch at off: doubled while reads follow each other, a
 * small file whole, never past the size seen at open.  Called locked. */
static size_t window_size(struct file_io *io, size_t size, uint64_t off)
{
	uint64_t left = io->attr.size - off;
	size_t want;

	if (io->ra && off == io->ra_off + io->ra_len)
		io->ra_want = io->ra_want * 2 > RA_MAX ? RA_MAX : io->ra_want * 2;
	else if (io->ra)
		io->ra_want = RA_MIN;
	want = io->ra_want > size ? io->ra_want : size;
	if (off == 0 && io->attr.size <= RA_MAX)
		want = (size_t)io->attr.size;
	return left < want ? (size_t)left : want;
}

/* Part of a read from the window, fetching the window first: the bytes
 * copied, 0 at the end, or -errno. */
static int read_window(struct open_file *h, char *buf, size_t size, uint64_t off)
{
	struct file_io *io = h->io;
	struct http_membuf m = { 0 };
	struct http_sink sink = { http_membuf_write, &m };
	uint64_t got = 0;
	ssize_t k;
	int err;

	pthread_mutex_lock(&io->lock);
	if ((k = from_window(io, buf, size, off)) >= 0 || off >= io->attr.size) {
		pthread_mutex_unlock(&io->lock);
		return k > 0 ? (int)k : 0;
	}
	m.cap = window_size(io, size, off);
	pthread_mutex_unlock(&io->lock);
	/* A whole file a walker's open made us fetch ahead. */
	if (off == 0 && m.cap == io->attr.size &&
	    prefetch_take(get_fs()->files->pf, io->id, io->path, io->attr.size, io->attr.mtime_ms,
			  &m.p, &m.len) == 0)
		goto got;
	if ((m.p = malloc(m.cap)) == NULL)
		return -ENOMEM;
	err = files_read(get_fs()->files, io->id, io->path, off, m.cap, &sink, &got, NULL);
	if (err < 0) {
		free(m.p);
		return err;
	}
got:
	pthread_mutex_lock(&io->lock);
	free(io->ra);
	io->ra = m.p;
	io->ra_off = off;
	io->ra_len = m.len;
	k = from_window(io, buf, size, off);
	pthread_mutex_unlock(&io->lock);
	return k > 0 ? (int)k : 0;
}

/* The stream to read off from, held (caller fstream_put()s it), or NULL:
 * the current one, or, when seen (the one that could not serve off) is
 * still current, a new one at off if reading goes on where it ended.
 * Starting or stopping a stream sends nothing itself, so this runs
 * locked. */
static struct fstream *stream_for(struct file_io *io, uint64_t off, const struct fstream *seen)
{
	struct fstream *st;

	pthread_mutex_lock(&io->lock);
	if (io->st == seen && io->attr.size > RA_MAX && io->attr.size - off > RA_MIN &&
	    (off == 0 || off == io->next_off)) {
		fstream_stop(io->st);
		io->st = fstream_start(get_fs()->files, io->id, io->path, off, io->attr.size);
		if (io->st)
			log_debug("fs: %s: read-ahead from %" PRIu64, io->path, off);
	} else if (io->st == seen) {
		pthread_mutex_unlock(&io->lock);
		return NULL;
	}
	st = io->st ? fstream_hold(io->st) : NULL;
	pthread_mutex_unlock(&io->lock);
	return st;
}

/* Part of a read: from the stream when it has off (or a new one, when
 * reading goes on sequentially), else from the window. */
static int read_part(struct open_file *h, char *buf, size_t size, uint64_t off)
{
	struct file_io *io = h->io;
	struct fstream *st, *seen = NULL;
	ssize_t r = -EAGAIN;

	pthread_mutex_lock(&io->lock);
	if (io->st)
		seen = fstream_hold(io->st);
	pthread_mutex_unlock(&io->lock);
	if (seen)
		r = fstream_read(seen, buf, size, off);
	/* Behind the stream (a late piece of the kernel's read-ahead): a
	 * Range request, and the stream goes on. */
	if (r == -EAGAIN && (st = stream_for(io, off, seen)) != NULL) {
		if (st != seen)
			r = fstream_read(st, buf, size, off);
		fstream_put(st);
	}
	fstream_put(seen);
	if (r == -EAGAIN || r == -ERANGE)
		r = read_window(h, buf, size, off);
	if (r > 0) {
		pthread_mutex_lock(&io->lock);
		io->next_off = off + (uint64_t)r;
		pthread_mutex_unlock(&io->lock);
	}
	return (int)r;
}

/* The kernel takes a short read for the end of the file: fill it. */
static int read_remote(struct open_file *h, char *buf, size_t size, uint64_t off)
{
	size_t done = 0;
	int n = 1;

	while (done < size && n > 0) {
		n = read_part(h, buf + done, size - done, off + done);
		if (n > 0)
			done += (size_t)n;
	}
	return n < 0 && done == 0 ? n : (int)done;
}

int files_read_h(struct open_file *h, char *buf, size_t size, off_t off)
{
	ssize_t n;

	if (h->io == NULL || off < 0)
		return -EBADF;
	if (h->io->spool < 0)
		return read_remote(h, buf, size, (uint64_t)off);
	n = pread(h->io->spool, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/* ---- writes: to the spool, sent at flush ---- */

/* Keeps the streamed upload up with a write of n bytes at off: started
 * once FUPLOAD_MIN bytes came in order, ended by a write out of order.
 * Starting or ending one sends nothing itself.  Called locked. */
static void follow_write(struct sbxfs *fs, struct file_io *io, uint64_t off, uint64_t n)
{
	if (io->seq && off == io->seq_end) {
		io->seq_end += n;
	} else {
		io->seq = false;
		fupload_abort(io->up);
		io->up = NULL;
		return;
	}
	if (io->up == NULL && io->seq_end >= FUPLOAD_MIN &&
	    (io->up = fupload_start(fs->files, io->id, io->path, io->spool)) == NULL)
		io->seq = false;   /* no room now: sent whole at the flush */
	if (io->up)
		fupload_wrote(io->up, io->seq_end);
}

int files_pwrite(struct sbxfs *fs, struct open_file *h, const char *buf, size_t size,
		 off_t off)
{
	struct file_io *io = h->io;
	struct stat st;
	ssize_t n;

	if (io == NULL || io->spool < 0)
		return -EBADF;
	if (io->append && fstat(io->spool, &st) == 0)
		off = st.st_size;
	if ((uint64_t)off + size > fs->files->max_file)
		return -EFBIG;
	n = pwrite(io->spool, buf, size, off);
	if (n < 0)
		return -errno;
	pthread_mutex_lock(&io->lock);
	io->dirty = true;
	follow_write(fs, io, (uint64_t)off, (uint64_t)n);
	pthread_mutex_unlock(&io->lock);
	own_size(fs, io);
	return (int)n;
}

int files_flush(struct sbxfs *fs, struct open_file *h)
{
	struct file_io *io = h->io;
	struct fupload *up;
	struct stat st;
	bool dirty;
	int err;

	if (io == NULL)
		return 0;
	pthread_mutex_lock(&io->lock);
	dirty = io->dirty;
	io->dirty = false;   /* one upload reports one failure, at one close */
	up = io->up;         /* one streamed upload per open */
	io->up = NULL;
	io->seq = false;
	pthread_mutex_unlock(&io->lock);
	if (!dirty) {
		fupload_abort(up);
		return 0;
	}
	if (fstat(io->spool, &st) < 0) {
		fupload_abort(up);
		return -errno;
	}
	/* What was sent while written, else (it did not end well) whole. */
	err = up && fupload_finish(up, (uint64_t)st.st_size) == 0 ? 0
	      : files_upload(fs->files, io->id, io->path, io->spool, (uint64_t)st.st_size);
	pthread_mutex_lock(&io->lock);
	if (err == 0)
		io->attr.size = (uint64_t)st.st_size;
	pthread_mutex_unlock(&io->lock);
	return err;
}

int files_ftruncate(struct sbxfs *fs, struct open_file *h, off_t size)
{
	struct file_io *io = h->io;

	if (io == NULL || io->spool < 0)
		return -EBADF;
	if ((uint64_t)size > fs->files->max_file)
		return -EFBIG;
	if (ftruncate(io->spool, size) < 0)
		return -errno;
	pthread_mutex_lock(&io->lock);
	io->dirty = true;
	if ((uint64_t)size != io->seq_end) {
		io->seq = false;
		fupload_abort(io->up);
		io->up = NULL;
	}
	pthread_mutex_unlock(&io->lock);
	own_size(fs, io);
	return 0;
}

int files_fgetattr(const struct open_file *h, struct stat *st)
{
	struct file_io *io = h->io;
	struct stat sp;

	if (io == NULL)
		return -EBADF;
	pthread_mutex_lock(&io->lock);
	files_stat(get_fs(), &io->attr, NULL, st);
	pthread_mutex_unlock(&io->lock);
	if (io->spool >= 0 && fstat(io->spool, &sp) == 0) {
		st->st_size = sp.st_size;
		st->st_blocks = sp.st_blocks;
		st->st_mtim = sp.st_mtim;
	}
	return 0;
}

void files_release(struct sbxfs *fs, struct open_file *h)
{
	int err = files_flush(fs, h);

	if (err < 0)
		log_warn("fs: %s: changes not sent at release: %s",
			 h->io ? h->io->path : "?", strerror(-err));
	if (h->io && h->io->own)
		files_own_del(fs->files, h->io->id, h->io->path);
	io_free(h->io);
	h->io = NULL;
}

int files_truncate(struct sbxfs *fs, const struct path_node *n, off_t size)
{
	char id[65], rpath[PATH_MAX];
	struct file_io *io;
	int err;

	if ((err = files_where(fs, n, id, rpath)) < 0)
		return err;
	if ((uint64_t)size > fs->files->max_file)
		return -EFBIG;
	if ((io = io_new(id, rpath)) == NULL)
		return -ENOMEM;
	if ((err = files_lookup(fs->files, id, rpath, &io->attr)) < 0)
		goto out;
	err = io->attr.type == FENTRY_DIR ? -EISDIR : 0;
	if (err == 0)
		err = spool_open(fs, io, size == 0);
	if (err == 0 && ftruncate(io->spool, size) < 0)
		err = -errno;
	if (err == 0)
		err = files_upload(fs->files, id, rpath, io->spool, (uint64_t)size);
out:
	io_free(io);
	return err;
}
