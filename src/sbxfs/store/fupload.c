/* Streamed uploads (see fupload.h).
 *
 * The body is read from the spool with pread, up to avail (what the
 * writer has finished), and ends at size once fupload_finish() gives it;
 * the reading callback waits for the writer meanwhile, on u->cond.  An
 * upload given up is withdrawn (envdc_upload_stream): the server refuses
 * the body it sees end early, so nothing depends on it noticing a
 * connection dropped mid-body.  u->lock guards the fields below it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fupload.h"
#include "workers.h"
#include "common/clock.h"
#include "envd/client.h"
#include "http/http.h"
#include "util/log.h"

struct fupload {
	struct files *f;
	struct files_worker w;        /* its thread, registered in f */
	char id[65];
	char *path;
	int fd;

	pthread_mutex_t lock;
	pthread_cond_t cond;          /* avail, final, withdrawn or cancel moved; done */
	uint64_t avail, sent, size;
	bool final;                   /* the body ends at size */
	bool withdrawn;               /* given up: the body ends unfinished */
	bool done;
	int err;
};

static void destroy(struct fupload *u)
{
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	close(u->fd);
	free(u->path);
	free(u);
}

static void put(struct fupload *u)
{
	if (files_worker_put(&u->w))
		destroy(u);
}

static bool cancelled(struct fupload *u)
{
	return files_worker_cancelled(&u->w);
}

static void withdraw(struct fupload *u)
{
	pthread_mutex_lock(&u->lock);
	u->withdrawn = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

/* The body: what the writer has finished, waiting for more. */
static size_t body_read(char *buf, size_t size, void *ctx)
{
	struct fupload *u = ctx;
	struct timespec until = clock_wall_after(FUPLOAD_STALL_MS);
	uint64_t off, end;
	ssize_t n;
	bool gone;

	pthread_mutex_lock(&u->lock);
	while (!cancelled(u) && !u->withdrawn && !u->final && u->sent >= u->avail)
		if (pthread_cond_timedwait(&u->cond, &u->lock, &until) == ETIMEDOUT) {
			/* An open file nobody writes: not worth a connection. */
			log_debug("fs: %s: streamed upload stopped, no write for %d ms", u->path,
				  FUPLOAD_STALL_MS);
			u->withdrawn = true;
		}
	off = u->sent;
	end = u->final ? u->size : u->avail;
	gone = u->withdrawn;
	pthread_mutex_unlock(&u->lock);
	if (cancelled(u))
		return HTTP_SOURCE_ABORT;   /* unmount: the connection goes */
	if (gone)
		return ENVDC_WITHDRAW;
	if (off >= end)
		return 0;
	n = pread(u->fd, buf, end - off < size ? (size_t)(end - off) : size, (off_t)off);
	if (n <= 0)
		return HTTP_SOURCE_ABORT;
	pthread_mutex_lock(&u->lock);
	u->sent += (uint64_t)n;
	pthread_mutex_unlock(&u->lock);
	return (size_t)n;
}

static void *run(void *arg)
{
	struct fupload *u = arg;
	struct http_source src = { body_read, u, -1 };
	int err = files_upload_stream(u->f, u->id, u->path, &src, &u->w.cancel);

	pthread_mutex_lock(&u->lock);
	u->done = true;
	u->err = err;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	files_worker_end(u->f, &u->w);
	put(u);
	return NULL;
}

struct fupload *fupload_start(struct files *f, const char *id, const char *path, int fd)
{
	struct fupload *u = calloc(1, sizeof(*u));

	if (u == NULL || (u->path = strdup(path)) == NULL) {
		free(u);
		return NULL;
	}
	/* Its own descriptor: the caller may close the spool while the
	 * thread, given up, is still reading it. */
	if ((u->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(u->path);
		free(u);
		return NULL;
	}
	u->f = f;
	snprintf(u->id, sizeof(u->id), "%s", id);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->w = FILES_WORKER_INIT(FILES_WORKER_UPLOAD, &u->lock, &u->cond);
	if (files_worker_start(f, &u->w, FUPLOAD_MAX, run, u) < 0) {
		destroy(u);
		return NULL;
	}
	log_debug("fs: %s: streamed upload started", path);
	return u;
}

void fupload_wrote(struct fupload *u, uint64_t end)
{
	pthread_mutex_lock(&u->lock);
	if (end > u->avail) {
		u->avail = end;
		pthread_cond_broadcast(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
}

int fupload_finish(struct fupload *u, uint64_t size)
{
	int err = -EAGAIN;

	pthread_mutex_lock(&u->lock);
	if (size == u->avail && !cancelled(u) && !u->withdrawn) {
		u->final = true;
		u->size = size;
		pthread_cond_broadcast(&u->cond);
		/* Bounded by the request: its connect timeout, and the request
		 * timeout without progress. */
		while (!u->done)
			pthread_cond_wait(&u->cond, &u->lock);
		err = u->err;
	}
	pthread_mutex_unlock(&u->lock);
	if (err)
		withdraw(u);
	put(u);
	return err;
}

void fupload_abort(struct fupload *u)
{
	if (u == NULL)
		return;
	withdraw(u);
	put(u);
}
