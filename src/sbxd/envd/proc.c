/* Processes and their pumps; see proc.h. */
#include "common/b64.h"
#include "envd/proc.h"

#include "envd/connect.h"
#include "envd/fdio.h"
#include "envd/priv.h"
#include "envd/stream.h"
#include "common/clock.h"
#include "registry/sbxlog.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct sub {
	struct estream *s;
	int keepalive_ms;
	int64_t deadline_ns;            /* 0: none */
	int64_t last_ns;                /* when it was last sent something */
	bool is_start;                  /* Start's stream: ends with the kill deadline */
};

struct eproc {
	struct procs *ps;
	int refs;                       /* guarded by ps->lock */
	char sandbox[65];
	unsigned pid;
	char *tag;
	json_t *config;
	struct rt_proc *p;
	const struct envd_proc_ops *ops;
	bool pty;
	int64_t kill_at_ns;
	pthread_mutex_t lock;           /* subs, nsubs, ended */
	struct sub subs[PROC_MAX_STREAMS];
	int nsubs;
	bool ended;
	pthread_mutex_t in_lock;        /* keeps input chunks in order (see eproc_input) */
};

struct procs {
	struct envd *e;
	pthread_mutex_t lock;           /* the table, refs, npumps, stopping */
	pthread_cond_t idle;
	struct eproc *t[PROC_MAX];
	unsigned npumps;
	bool stopping;
};

struct procs *procs_new(struct envd *e)
{
	struct procs *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->e = e;
	pthread_mutex_init(&ps->lock, NULL);
	pthread_cond_init(&ps->idle, NULL);
	return ps;
}

void procs_free(struct procs *ps)
{
	struct timespec dl;
	int rc = 0;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	ps->stopping = true;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	/* Pumps poll at least every second and leave when stopping. */
	while (ps->npumps && rc == 0)
		rc = pthread_cond_timedwait(&ps->idle, &ps->lock, &dl);
	pthread_mutex_unlock(&ps->lock);
	if (rc)
		return;         /* a pump is stuck: leak rather than free under it */
	pthread_cond_destroy(&ps->idle);
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}

static void eproc_free(struct eproc *p)
{
	for (int i = 0; i < p->nsubs; i++)
		envd_stream_done(p->ps->e, p->subs[i].s);
	p->ops->free(p->p);
	json_decref(p->config);
	free(p->tag);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->in_lock);
	free(p);
}

void eproc_unref(struct eproc *p)
{
	int left;

	if (!p)
		return;
	pthread_mutex_lock(&p->ps->lock);
	left = --p->refs;
	pthread_mutex_unlock(&p->ps->lock);
	if (!left)
		eproc_free(p);
}

/* ---- sending to the attached streams ---- */

static int push_event(struct estream *s, const char *kind, json_t *v)
{
	json_t *m = json_pack("{s:{s:o}}", "event", kind, v);
	int rc = m ? estream_push(s, m) : -ENOMEM;

	json_decref(m);
	return rc;
}

/* Detaches sub i, ending its stream (lock held). */
static void detach_locked(struct eproc *p, int i, const char *code, const char *msg)
{
	estream_end(p->subs[i].s, code, msg);
	envd_stream_done(p->ps->e, p->subs[i].s);
	p->subs[i] = p->subs[--p->nsubs];
}

/* Sends one event to every attached stream: the streams are referenced
 * under the lock and written to without it. */
static void broadcast(struct eproc *p, const char *kind, const json_t *v)
{
	struct estream *ss[PROC_MAX_STREAMS];
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->nsubs;
	for (int i = 0; i < n; i++) {
		ss[i] = p->subs[i].s;
		estream_ref(ss[i]);
		p->subs[i].last_ns = clock_mono_ns();
	}
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < n; i++) {
		push_event(ss[i], kind, json_deep_copy(v));
		estream_unref(ss[i]);
	}
}

static void send_output(struct eproc *p, const char *key, const char *buf, size_t n)
{
	char *b64 = b64_encode((const unsigned char *)buf, n);
	json_t *v = b64 ? json_pack("{s:s}", key, b64) : NULL;

	free(b64);
	if (v)
		broadcast(p, "data", v);
	json_decref(v);
}

/* Keepalives, per-stream deadlines and gone clients; the earliest time
 * something is due again, at most a second away. */
static int tend_streams(struct eproc *p, int64_t now)
{
	int64_t next = now + 1000000000LL;
	struct estream *ka[PROC_MAX_STREAMS];
	int nka = 0;

	pthread_mutex_lock(&p->lock);
	for (int i = p->nsubs - 1; i >= 0; i--) {
		struct sub *u = &p->subs[i];

		if (estream_gone(u->s)) {
			detach_locked(p, i, NULL, NULL);
			continue;
		}
		if (u->deadline_ns && now >= u->deadline_ns) {
			detach_locked(p, i, "deadline_exceeded", "the stream reached its deadline");
			continue;
		}
		if (now - u->last_ns >= (int64_t)u->keepalive_ms * 1000000) {
			estream_ref(u->s);
			ka[nka++] = u->s;
			u->last_ns = now;
		}
		int64_t due = u->last_ns + (int64_t)u->keepalive_ms * 1000000;

		next = due < next ? due : next;
		if (u->deadline_ns && u->deadline_ns < next)
			next = u->deadline_ns;
	}
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < nka; i++) {
		push_event(ka[i], "keepalive", json_object());
		estream_unref(ka[i]);
	}
	if (p->kill_at_ns && p->kill_at_ns < next)
		next = p->kill_at_ns;
	return next <= now ? 0 : (int)((next - now) / 1000000) + 1;
}

/* Start's deadline: the process is killed and Start's stream ends with
 * deadline_exceeded; Connect streams see the end as usual. */
static void kill_at_deadline(struct eproc *p)
{
	p->kill_at_ns = 0;
	p->ops->signal(p->p, SIGKILL);
	pthread_mutex_lock(&p->lock);
	for (int i = p->nsubs - 1; i >= 0; i--)
		if (p->subs[i].is_start)
			detach_locked(p, i, "deadline_exceeded", "the process reached its deadline");
	pthread_mutex_unlock(&p->lock);
}

/* Go's names for the signals a process is usually ended by, as envd
 * reports them ("signal: killed"). */
static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGKILL: return "killed";
	case SIGTERM: return "terminated";
	case SIGINT: return "interrupt";
	case SIGHUP: return "hangup";
	case SIGPIPE: return "broken pipe";
	case SIGABRT: return "aborted";
	case SIGSEGV: return "segmentation fault";
	default: return "signal";
	}
}

static json_t *end_event(int ws)
{
	char status[64];
	json_t *v;

	if (WIFEXITED(ws)) {
		snprintf(status, sizeof(status), "exit status %d", WEXITSTATUS(ws));
		v = json_pack("{s:b, s:s}", "exited", 1, "status", status);
		if (v && WEXITSTATUS(ws)) {
			json_object_set_new(v, "exitCode", json_integer(WEXITSTATUS(ws)));
			json_object_set_new(v, "error", json_string(status));
		}
		return v;
	}
	snprintf(status, sizeof(status), "signal: %s", signal_name(WTERMSIG(ws)));
	return json_pack("{s:i, s:s, s:s}", "exitCode", -1, "status", status, "error", status);
}

struct pump_fds {
	int out, err, exit;
	const char *out_key;
	size_t chunk;
};

/* One output descriptor was readable: forward a chunk, or stop polling
 * it at EOF. */
static void forward(struct eproc *p, int *fd, const char *key, size_t chunk)
{
	char buf[32 * 1024];
	ssize_t n = fd_read_chunk(*fd, buf, chunk < sizeof(buf) ? chunk : sizeof(buf));

	if (n > 0)
		send_output(p, key, buf, (size_t)n);
	else if (n == 0)
		*fd = -1;
}

/* After the exit: what is already buffered, then the end for everyone. */
static void finish(struct eproc *p, struct pump_fds *f)
{
	int ws = 0;

	for (int i = 0; i < 64 && (f->out >= 0 || f->err >= 0); i++) {
		int out = f->out, err = f->err;

		if (f->out >= 0)
			forward(p, &f->out, f->out_key, f->chunk);
		if (f->err >= 0)
			forward(p, &f->err, "stderr", f->chunk);
		struct pollfd pf[2] = { { f->out, POLLIN, 0 }, { f->err, POLLIN, 0 } };

		if (out == f->out && err == f->err && poll(pf, 2, 0) <= 0)
			break;
	}
	p->ops->status(p->p, &ws);
	json_t *v = end_event(ws);

	sbxlog_add(envd_events(p->ps->e), p->sandbox, "info", "processSvc", NULL,
		   "Process with pid %u ended: %s", p->pid,
		   json_string_value(json_object_get(v, "status")) ?: "?");
	if (v)
		broadcast(p, "end", v);
	json_decref(v);
	pthread_mutex_lock(&p->lock);
	p->ended = true;
	while (p->nsubs)
		detach_locked(p, p->nsubs - 1, NULL, NULL);
	pthread_mutex_unlock(&p->lock);
}

static bool stopping(struct procs *ps)
{
	bool s;

	pthread_mutex_lock(&ps->lock);
	s = ps->stopping;
	pthread_mutex_unlock(&ps->lock);
	return s;
}

static void pump_loop(struct eproc *p, struct pump_fds *f)
{
	while (!stopping(p->ps)) {
		int64_t now = clock_mono_ns();

		if (p->kill_at_ns && now >= p->kill_at_ns)
			kill_at_deadline(p);
		int timeout = tend_streams(p, now);
		struct pollfd pf[3] = { { f->out, POLLIN, 0 }, { f->err, POLLIN, 0 },
					{ f->exit, POLLIN, 0 } };

		if (poll(pf, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			forward(p, &f->out, f->out_key, f->chunk);
		if (pf[1].revents)
			forward(p, &f->err, "stderr", f->chunk);
		if (pf[2].revents) {
			finish(p, f);
			return;
		}
	}
}

static void *pump_main(void *arg)
{
	struct eproc *p = arg;
	struct pump_fds f = {
		.out = p->pty ? p->ops->pty_fd(p->p) : p->ops->stdout_fd(p->p),
		.err = p->pty ? -1 : p->ops->stderr_fd(p->p),
		.exit = p->ops->exit_fd(p->p),
		.out_key = p->pty ? "pty" : "stdout",
		.chunk = p->pty ? 16 * 1024 : 32 * 1024,
	};
	struct procs *ps = p->ps;

	pump_loop(p, &f);
	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < PROC_MAX; i++)
		if (ps->t[i] == p) {
			ps->t[i] = NULL;
			p->refs--;
		}
	pthread_mutex_unlock(&ps->lock);
	eproc_unref(p);         /* the pump's own */
	pthread_mutex_lock(&ps->lock);
	if (--ps->npumps == 0)
		pthread_cond_broadcast(&ps->idle);
	pthread_mutex_unlock(&ps->lock);
	return NULL;
}

/* ---- the table ---- */

static struct eproc *eproc_new(struct procs *ps, struct proc_start *st)
{
	struct eproc *p = calloc(1, sizeof(*p));

	if (!p || (st->tag && !(p->tag = strdup(st->tag)))) {
		free(p);
		return NULL;
	}
	p->ps = ps;
	snprintf(p->sandbox, sizeof(p->sandbox), "%s", st->sandbox);
	p->p = st->p;
	p->ops = st->ops;
	p->pid = (unsigned)st->ops->pid(st->p);
	p->config = st->config;
	p->pty = st->pty;
	p->kill_at_ns = st->kill_at_ns;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->in_lock, NULL);
	st->p = NULL;
	st->config = NULL;
	return p;
}

/* A slot and the pump's and table's references.  -EAGAIN when full. */
static int insert(struct procs *ps, struct eproc *p)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < PROC_MAX && rc < 0 && !ps->stopping; i++)
		if (!ps->t[i]) {
			ps->t[i] = p;
			p->refs = 2;
			ps->npumps++;
			rc = 0;
		}
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

/* Undoes procs_add after its insert: the caller keeps `s`. */
static void unadd(struct procs *ps, struct eproc *p, struct estream *s)
{
	p->ops->signal(p->p, SIGKILL);
	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < PROC_MAX; i++)
		if (ps->t[i] == p)
			ps->t[i] = NULL;
	ps->npumps--;
	pthread_mutex_unlock(&ps->lock);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->nsubs; i++)
		if (p->subs[i].s == s)
			p->subs[i--] = p->subs[--p->nsubs];
	pthread_mutex_unlock(&p->lock);
	eproc_free(p);
}

int procs_add(struct procs *ps, struct proc_start *st, struct estream *s, int keepalive_ms,
	      int64_t stream_deadline_ns)
{
	struct eproc *p = eproc_new(ps, st);
	pthread_t th;
	int rc;

	if (!p) {
		st->ops->signal(st->p, SIGKILL);
		st->ops->free(st->p);
		json_decref(st->config);
		st->p = NULL;
		st->config = NULL;
		return -ENOMEM;
	}
	if (!st->stdin && !p->pty)
		p->ops->close_stdin(p->p);
	/* Into the table before any event: a refused start sends none. */
	if ((rc = insert(ps, p)) < 0) {
		p->ops->signal(p->p, SIGKILL);
		eproc_free(p);
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	push_event(s, "start", json_pack("{s:i}", "pid", (int)p->pid));
	p->subs[p->nsubs++] = (struct sub){ s, keepalive_ms, stream_deadline_ns, clock_mono_ns(),
					    true };
	pthread_mutex_unlock(&p->lock);
	/* Logged first: once the pump runs, p may end and be freed. */
	sbxlog_add(envd_events(ps->e), p->sandbox, "info", "processSvc",
		   json_pack("{s:s}", "cmd", json_string_value(json_object_get(p->config, "cmd"))),
		   "Process with pid %u started", p->pid);
	if (pthread_create(&th, NULL, pump_main, p) != 0) {
		unadd(ps, p, s);
		return -EAGAIN;
	}
	pthread_detach(th);
	return 0;
}

static bool selects(const struct eproc *p, const json_t *sel)
{
	const json_t *pid = json_object_get(sel, "pid");
	const char *tag = json_string_value(json_object_get(sel, "tag"));

	if (json_is_integer(pid))
		return json_integer_value(pid) == (json_int_t)p->pid;
	return tag && p->tag && !strcmp(tag, p->tag);
}

struct eproc *procs_find(struct procs *ps, const char *sbx, const json_t *selector)
{
	struct eproc *found = NULL;

	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < PROC_MAX && !found; i++)
		if (ps->t[i] && !strcmp(ps->t[i]->sandbox, sbx) && selects(ps->t[i], selector)) {
			found = ps->t[i];
			found->refs++;
		}
	pthread_mutex_unlock(&ps->lock);
	return found;
}

int eproc_attach(struct eproc *p, struct estream *s, int keepalive_ms, int64_t deadline_ns)
{
	int rc = 0;

	/* The start event first, before the pump can send it anything. */
	pthread_mutex_lock(&p->lock);
	if (p->ended)
		rc = -ESRCH;
	else if (p->nsubs >= PROC_MAX_STREAMS)
		rc = -EAGAIN;
	else {
		push_event(s, "start", json_pack("{s:i}", "pid", (int)p->pid));
		p->subs[p->nsubs++] = (struct sub){ s, keepalive_ms, deadline_ns, clock_mono_ns(),
						    false };
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

json_t *procs_list(struct procs *ps, const char *sbx)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < PROC_MAX && arr; i++) {
		struct eproc *p = ps->t[i];

		if (!p || strcmp(p->sandbox, sbx) != 0)
			continue;
		/* A copy: the reply is written after the pump may free it. */
		json_t *o = json_pack("{s:o, s:i}", "config", json_deep_copy(p->config), "pid",
				      (int)p->pid);

		if (o && p->tag)
			json_object_set_new(o, "tag", json_string(p->tag));
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&ps->lock);
	return arr;
}

int eproc_input(struct eproc *p, bool pty, const char *data, size_t len)
{
	int rc;

	if (pty != p->pty)
		return -EINVAL;
	/* One writer at a time, so chunks sent in order arrive in order; the
	 * wait is bounded by write_fd's 5 s and blocks only this process's
	 * other writers. */
	pthread_mutex_lock(&p->in_lock);
	int fd = pty ? p->ops->pty_fd(p->p) : p->ops->stdin_fd(p->p);

	rc = fd < 0 ? -EPIPE : fd_write_all(fd, data, len);
	pthread_mutex_unlock(&p->in_lock);
	return rc;
}

int eproc_close_stdin(struct eproc *p)
{
	int rc;

	if (p->pty)
		return -EINVAL;
	pthread_mutex_lock(&p->in_lock);
	rc = p->ops->stdin_fd(p->p) < 0 ? 0 : p->ops->close_stdin(p->p);
	pthread_mutex_unlock(&p->in_lock);
	return rc;
}

int eproc_signal(struct eproc *p, int sig)
{
	return p->ops->signal(p->p, sig);
}

int eproc_resize(struct eproc *p, unsigned cols, unsigned rows)
{
	if (!p->pty)
		return -EINVAL;
	return p->ops->resize(p->p, (unsigned short)cols, (unsigned short)rows);
}
