/* The thread that reads one process's stream, and the spools its output
 * goes to (procs.h).  A thread holds a reference to its slot; it starts
 * the process (Start) or attaches to it (Connect by pid), and after a
 * dropped connection attaches again, a bounded number of times, until
 * the process ends or the slot is forgotten. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "procs_priv.h"
#include "util/log.h"

/* Attaching again after a dropped connection: this many tries, waiting
 * 250 ms doubling up to 4 s between them (some 40 s in all); then the
 * slot is detached, and the next open of its output tries anew. */
#define REATTACH_TRIES 12
#define REATTACH_MAX_MS 4000

/* ---- spools ---- */

static int spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	snprintf(tmpl, sizeof(tmpl), "%s/sbxfs-out.XXXXXX", dir);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) >= 0)
		unlink(tmpl);
	return fd;
}

static void put_at(int fd, const char *data, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, (off_t)off);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

void spool_append(struct proctab *p, struct spool *sp, const char *data, size_t len)
{
	uint64_t max = p->c.output_max, at;
	size_t first;

	if (sp->fd < 0 && (sp->fd = spool_open()) < 0) {
		log_warn("procs: cannot make an output spool: %s", strerror(errno));
		sp->total += len;       /* counted as dropped */
		return;
	}
	if (len > max) {            /* only its last max bytes can be kept */
		sp->total += len - max;
		data += len - max;
		len = (size_t)max;
	}
	at = sp->total % max;
	first = len < max - at ? len : (size_t)(max - at);
	put_at(sp->fd, data, first, at);
	if (len > first)
		put_at(sp->fd, data + first, len - first, 0);
	sp->total += len;
}

int spool_read(struct proctab *p, const struct spool *sp, char *buf, size_t size, uint64_t off)
{
	uint64_t max = p->c.output_max;
	uint64_t dropped = sp->total > max ? sp->total - max : 0;
	size_t n, z, k, first;

	if (off >= sp->total)
		return 0;
	n = sp->total - off < size ? (size_t)(sp->total - off) : size;
	z = off < dropped ? (dropped - off < n ? (size_t)(dropped - off) : n) : 0;
	memset(buf, 0, z);
	if (sp->fd < 0)
		return (int)n;          /* nothing was kept: all NULs */
	k = n - z;
	off += z;
	first = k < max - off % max ? k : (size_t)(max - off % max);
	if (first && pread(sp->fd, buf + z, first, (off_t)(off % max)) != (ssize_t)first)
		return -EIO;
	if (k > first && pread(sp->fd, buf + z + first, k - first, 0) != (ssize_t)(k - first))
		return -EIO;
	return (int)n;
}

void spool_clear(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->total = 0;
}

/* ---- the thread ---- */

struct run {
	struct proctab *p;
	struct pslot *s;
};

static int signal_of(const char *status)
{
	if (strstr(status, "killed"))
		return 9;
	if (strstr(status, "terminated"))
		return 15;
	if (strstr(status, "interrupt"))
		return 2;
	if (strstr(status, "hangup"))
		return 1;
	return 0;
}

static int on_event(const struct envdc_event *ev, void *ctx)
{
	struct run *r = ctx;
	struct pslot *s = r->s;
	bool grew = ev->kind != ENVDC_EV_START && ev->kind != ENVDC_EV_KEEPALIVE;

	pthread_mutex_lock(&r->p->lock);
	switch (ev->kind) {
	case ENVDC_EV_START:
		s->pid = ev->pid;
		if (s->st == PS_NEW)
			s->st = PS_RUNNING;
		break;
	case ENVDC_EV_STDOUT:
	case ENVDC_EV_PTY:
		spool_append(r->p, &s->out[PROCS_STDOUT], ev->data, ev->len);
		break;
	case ENVDC_EV_STDERR:
		spool_append(r->p, &s->out[PROCS_STDERR], ev->data, ev->len);
		break;
	case ENVDC_EV_END:
		s->st = PS_ENDED;
		s->exited = ev->exited || ev->exit_code >= 0;
		s->exit_code = ev->exit_code;
		s->sig = s->exited ? 0 : signal_of(ev->status);
		break;
	default:
		break;
	}
	pthread_cond_broadcast(&r->p->changed);
	pthread_mutex_unlock(&r->p->lock);
	/* id and name are fixed for the slot's life, which outlasts its run */
	if (grew && r->p->c.grew)
		r->p->c.grew(r->p->c.grew_ctx, s->id, s->name);
	return 0;
}

static bool cancelled(const struct pslot *s)
{
	return __atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE) != 0;
}

/* Sleeps ms, or less when the slot is forgotten meanwhile. */
static void nap(const struct pslot *s, int64_t ms)
{
	for (int64_t end = clock_mono_ms() + ms; !cancelled(s) && clock_mono_ms() < end;)
		clock_sleep_ms(50);
}

/* One stream, Start or Connect: its outcome. */
static int one_stream(struct run *r, bool refetch, struct envdc_error *err)
{
	struct pslot *s = r->s;
	struct files_target t;
	unsigned pid;
	int e;

	if ((e = files_target_get(r->p->c.files, s->id, refetch, &t)) < 0) {
		snprintf(err->message, sizeof(err->message), "no endpoint: %s", strerror(-e));
		return e;
	}
	pthread_mutex_lock(&r->p->lock);
	pid = s->pid;
	pthread_mutex_unlock(&r->p->lock);
	if (pid == 0) {
		/* cmd, env, cwd and user no longer change once cmd is set. */
		struct envdc_start st = { s->cmd, (const char *const *)s->env, s->n_env, s->cwd,
					  s->name, s->user };

		e = envdc_proc_start(r->p->c.envd, &t.t, &st, &s->cancel, on_event, r, err);
	} else {
		e = envdc_proc_connect(r->p->c.envd, &t.t, pid, &s->cancel, on_event, r, err);
	}
	files_target_clear(&t);
	if (e == -EHOSTDOWN)
		e = files_why_down(r->p->c.files, s->id);
	return e;
}

/* What an attempt's outcome leaves the slot in: true when the thread is
 * done with it.  Called with the lock. */
static bool settle(struct pslot *s, int e, const struct envdc_error *err, int tries)
{
	if (s->st == PS_ENDED || cancelled(s))
		return true;
	if (s->pid == 0 || e == -ENOENT) {
		s->st = PS_FAILED;
		s->fail_err = e < 0 ? e : -EIO;
		snprintf(s->msg, sizeof(s->msg), "%s", s->pid == 0 ?
			 (err->message[0] ? err->message : strerror(-e)) :
			 "the process ended while its stream was down");
		return true;
	}
	if (tries >= REATTACH_TRIES) {
		snprintf(s->note, sizeof(s->note), "detached: %.120s",
			 err->message[0] ? err->message : strerror(-e));
		return true;
	}
	return false;
}

static void *run_main(void *arg)
{
	struct run *r = arg;
	struct pslot *s = r->s;
	int64_t delay = 250;
	bool refetch = false;

	for (int tries = 1;; tries++) {
		struct envdc_error err = { 0 };
		int e = one_stream(r, refetch, &err);
		bool done;

		refetch = e == -EACCES && err.http_status == 401 && !refetch;
		pthread_mutex_lock(&r->p->lock);
		done = !refetch && settle(s, e, &err, tries);
		pthread_cond_broadcast(&r->p->changed);
		pthread_mutex_unlock(&r->p->lock);
		if (done)
			break;
		if (!refetch) {
			log_info("procs: %s/%s: stream ended (%s), attaching again", s->id, s->name,
				 strerror(-e));
			nap(s, delay);
			delay = delay * 2 > REATTACH_MAX_MS ? REATTACH_MAX_MS : delay * 2;
		}
	}
	pthread_mutex_lock(&r->p->lock);
	s->attached = false;
	r->p->nthreads--;
	pthread_cond_broadcast(&r->p->changed);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&r->p->lock);
	free(r);
	return NULL;
}

int pslot_attach_locked(struct proctab *p, struct pslot *s)
{
	struct run *r;
	pthread_attr_t attr;
	pthread_t th;
	int e;

	if (s->attached)
		return 0;
	if (p->nthreads >= p->c.max_procs) {
		snprintf(s->note, sizeof(s->note), "not attached: %u processes attached "
			 "(max_procs)", p->c.max_procs);
		return -EAGAIN;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return -ENOMEM;
	*r = (struct run){ p, s };
	s->refs++;
	s->attached = true;
	s->note[0] = '\0';
	__atomic_store_n(&s->cancel, 0, __ATOMIC_RELEASE);
	p->nthreads++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&th, &attr, run_main, r);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		s->attached = false;
		p->nthreads--;
		s->refs--;
		free(r);
		snprintf(s->note, sizeof(s->note), "not attached: no thread");
		return -EAGAIN;
	}
	return 0;
}
