/* Registry persistence; see persist.h. */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_FILE "sandboxes.json"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int persist_save(struct reg *r, const char *dir)
{
	char path[4096], tmp[4096];
	json_t *doc = reg_dump(r);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int fd = -1, dfd = -1, rc = 0;

	json_decref(doc);
	if (!text)
		return -ENOMEM;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, STATE_FILE) >= sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	/* The rename is only durable once the directory entry is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(text);
	return rc;
}

int persist_load(struct reg *r, const char *dir, int64_t now_ms, char **err)
{
	char path[4096];
	json_error_t jerr;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : -errno;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		if (err && asprintf(err, "%s:%d: %s", path, jerr.line, jerr.text) < 0)
			*err = NULL;
		return -EINVAL;
	}
	int rc = reg_restore(r, doc, now_ms, err);
	json_decref(doc);
	return rc;
}

struct persist {
	struct reg *reg;
	char *dir;
	const struct slog *log;
	pthread_t thread;
	/* Guards `dirty` and `stop`; taken inside the registry lock by the
	 * change listener, so the writer drops it before dumping. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int dirty;
	int stop;
};

static void on_change(void *ctx)
{
	struct persist *p = ctx;

	pthread_mutex_lock(&p->lock);
	p->dirty = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *run(void *arg)
{
	struct persist *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->dirty && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->dirty)
			break;
		p->dirty = 0;
		pthread_mutex_unlock(&p->lock);
		int rc = persist_save(p->reg, p->dir);
		if (rc < 0)
			slog_error(p->log, "saving state in %s: %s", p->dir, strerror(-rc));
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct persist *persist_start(struct reg *r, const char *dir, const struct slog *log)
{
	struct persist *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->reg = r;
	p->log = log;
	p->dir = strdup(dir);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (!p->dir || reg_add_listener(r, on_change, p) < 0 ||
	    pthread_create(&p->thread, NULL, run, p) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p->dir);
		free(p);
		return NULL;
	}
	return p;
}

void persist_stop(struct persist *p)
{
	if (!p)
		return;
	/* The writer drains `dirty` before it honours `stop`. */
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->dir);
	free(p);
}
