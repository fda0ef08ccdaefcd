/* The calls on one process slot (procs.h): settings, start, input,
 * signals, its values and output, the wait for its end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "model/values.h"
#include "procs_priv.h"
#include "util/log.h"

/* How long a cmd write waits for the start to be confirmed (the start
 * event, or the start's error): a busy sandbox still answers within it. */
#define START_WAIT_MS 15000
#define ENV_LINES_MAX 1024
#define SETTING_MAX 4096

typedef int (*unary_fn)(struct envdc *e, const struct envdc_target *t, unsigned pid,
			const void *arg, struct envdc_error *err);

/* One unary call for slot s's process (by pid). */
static int call(struct proctab *p, const struct pslot *s, unsigned pid, unary_fn fn,
		const void *arg)
{
	struct envdc_error err;
	struct files_target t;
	int e;

	for (int pass = 0; pass < 2; pass++) {
		if ((e = files_target_get(p->c.files, s->id, pass > 0, &t)) < 0)
			return e;
		e = fn(p->c.envd, &t.t, pid, arg, &err);
		files_target_clear(&t);
		if (!(e == -EACCES && err.http_status == 401))
			break;
	}
	return e == -EHOSTDOWN ? files_why_down(p->c.files, s->id) : e;
}

struct bytes {
	const char *buf;
	size_t len;
};

static int do_signal(struct envdc *e, const struct envdc_target *t, unsigned pid,
		     const void *arg, struct envdc_error *err)
{
	return envdc_proc_signal(e, t, pid, *(const int *)arg, err);
}

static int do_input(struct envdc *e, const struct envdc_target *t, unsigned pid,
		    const void *arg, struct envdc_error *err)
{
	const struct bytes *b = arg;

	return envdc_proc_input(e, t, pid, b->buf, b->len, err);
}

static int do_close(struct envdc *e, const struct envdc_target *t, unsigned pid,
		    const void *arg, struct envdc_error *err)
{
	(void)arg;
	return envdc_proc_close_stdin(e, t, pid, err);
}

/* The pid of a running process of the slot, or 0. */
static unsigned running_pid(struct proctab *p, const struct pslot *s)
{
	unsigned pid;

	pthread_mutex_lock(&p->lock);
	pid = s->st == PS_RUNNING ? s->pid : 0;
	pthread_mutex_unlock(&p->lock);
	return pid;
}

int proctab_rmdir(struct proctab *p, const char *id, const char *name)
{
	struct pslot *s;
	unsigned pid;
	int e = pslot_get(p, id, name, &s), sig = 9;

	if (e < 0)
		return e;
	if ((pid = running_pid(p, s)) &&
	    (e = call(p, s, pid, do_signal, &sig)) < 0 && e != -ENOENT) {
		pslot_put(p, s);
		return e;
	}
	pthread_mutex_lock(&p->lock);
	if (!s->gone)
		pslot_unlink_locked(p, s);
	plist_drop_locked(p, id);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void proctab_forget(struct proctab *p, const char *id)
{
	pthread_mutex_lock(&p->lock);
	for (struct pslot *s = p->slots, *next; s; s = next) {
		next = s->next;
		if (strcmp(s->id, id) == 0)
			pslot_unlink_locked(p, s);
	}
	plist_drop_locked(p, id);
	pthread_mutex_unlock(&p->lock);
}

/* buf without one trailing newline, as a C string (malloc'd): -EINVAL
 * for an empty one or one holding a NUL or another newline. */
static int one_line(const char *buf, size_t len, char **out)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > SETTING_MAX || memchr(buf, '\0', len) || memchr(buf, '\n', len))
		return -EINVAL;
	return (*out = strndup(buf, len)) ? 0 : -ENOMEM;
}

/* Adds buf's KEY=VALUE lines to s's env: all of them or none. */
static int add_env(struct pslot *s, const char *buf, size_t len)
{
	size_t lines = 0;
	char **v;

	for (const char *q = buf, *end = buf + len; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q)), *stop = nl ? nl : end;
		const char *eq = memchr(q, '=', (size_t)(stop - q));

		if (stop > q && (eq == NULL || eq == q || memchr(q, '\0', (size_t)(stop - q))))
			return -EINVAL;
		lines += stop > q;
		q = stop + 1;
	}
	if (s->n_env + lines > ENV_LINES_MAX)
		return -E2BIG;
	if ((v = realloc(s->env, (s->n_env + lines + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	s->env = v;
	for (const char *q = buf, *end = buf + len; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q)), *stop = nl ? nl : end;

		if (stop > q && (v[s->n_env] = strndup(q, (size_t)(stop - q))) == NULL)
			return -ENOMEM;
		s->n_env += stop > q;
		q = stop + 1;
	}
	return 0;
}

int proctab_set(struct proctab *p, const char *id, const char *name, enum proctab_setting which,
	      const char *buf, size_t len)
{
	struct pslot *s;
	char *line = NULL;
	int e = pslot_get(p, id, name, &s);

	if (e < 0)
		return e;
	if (which != PROCS_ENV && (e = one_line(buf, len, &line)) == 0 && which == PROCS_USER &&
	    !sbx_component_valid(line))
		e = -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (e == 0 && (s->cmd || s->st != PS_NEW))
		e = -EBUSY;
	if (e == 0 && which == PROCS_ENV)
		e = add_env(s, buf, len);
	else if (e == 0) {
		char **slot = which == PROCS_CWD ? &s->cwd : &s->user;

		free(*slot);
		*slot = line;
		line = NULL;
	}
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	free(line);
	return e;
}

/* Waits (bounded) for the start to be confirmed: 0 or its error. */
static int start_outcome_locked(struct proctab *p, struct pslot *s)
{
	struct timespec dl = clock_wall_after(START_WAIT_MS);

	while (s->st == PS_NEW && s->attached &&
	       pthread_cond_timedwait(&p->changed, &p->lock, &dl) == 0)
		;
	return s->st == PS_FAILED ? s->fail_err : 0;
}

int proctab_start(struct proctab *p, const char *id, const char *name, const char *buf,
		size_t len)
{
	struct pslot *s;
	char *line = NULL;
	int e = pslot_get(p, id, name, &s);

	if (e < 0)
		return e;
	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0 || memchr(buf, '\0', len))
		e = -EINVAL;
	else if ((line = strndup(buf, len)) == NULL)
		e = -ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (e == 0 && (s->cmd || s->st != PS_NEW))
		e = -EBUSY;
	if (e == 0 && !s->user && !(s->user = strdup(p->c.user)))
		e = -ENOMEM;
	if (e == 0) {
		s->cmd = line;
		line = NULL;
		if ((e = pslot_attach_locked(p, s)) < 0) {
			free(s->cmd);       /* not started: it may be written again */
			s->cmd = NULL;
		} else {
			e = start_outcome_locked(p, s);
		}
	}
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	free(line);
	return e;
}

/* A unary call for a running process of (id, name): -ESRCH when none. */
static int for_running(struct proctab *p, const char *id, const char *name, unary_fn fn,
		       const void *arg)
{
	struct pslot *s;
	unsigned pid;
	int e = pslot_get(p, id, name, &s);

	if (e < 0)
		return e;
	e = (pid = running_pid(p, s)) ? call(p, s, pid, fn, arg) : -ESRCH;
	pslot_put(p, s);
	return e == -ENOENT ? -ESRCH : e;   /* it ended meanwhile */
}

int proctab_input(struct proctab *p, const char *id, const char *name, const char *buf,
		size_t len)
{
	struct bytes b = { buf, len };

	return len == 0 ? 0 : for_running(p, id, name, do_input, &b);
}

int proctab_close_stdin(struct proctab *p, const char *id, const char *name)
{
	return for_running(p, id, name, do_close, NULL);
}

int proctab_signal(struct proctab *p, const char *id, const char *name, const char *buf,
		 size_t len)
{
	int sig;

	if (len && buf[len - 1] == '\n')
		len--;
	if ((len == 4 && !memcmp(buf, "TERM", 4)) || (len == 7 && !memcmp(buf, "SIGTERM", 7)))
		sig = 15;
	else if ((len == 4 && !memcmp(buf, "KILL", 4)) || (len == 7 && !memcmp(buf, "SIGKILL", 7)))
		sig = 9;
	else
		return -EINVAL;
	return for_running(p, id, name, do_signal, &sig);
}

/* ---- what the slot shows ---- */

static const char *sig_name(int sig)
{
	return sig == 9 ? "KILL" : sig == 15 ? "TERM" : sig == 2 ? "INT" : sig == 1 ? "HUP" : "?";
}

static int status_text_locked(const struct proctab *p, const struct pslot *s, char **out)
{
	uint64_t max = p->c.output_max, dropped = 0;
	char extra[200] = "";
	int n = 0;

	for (int i = 0; i < 2; i++)
		dropped += s->out[i].total > max ? s->out[i].total - max : 0;
	if (dropped)
		n = snprintf(extra, sizeof(extra), " (dropped %llu bytes)",
			     (unsigned long long)dropped);
	if (s->note[0])
		snprintf(extra + n, sizeof(extra) - (size_t)n, " (%s)", s->note);
	switch (s->st) {
	case PS_NEW:
		return asprintf(out, "not started%s\n", extra) < 0 ? -ENOMEM : 0;
	case PS_RUNNING:
		return asprintf(out, "running%s\n", extra) < 0 ? -ENOMEM : 0;
	case PS_ENDED:
		if (s->exited)
			return asprintf(out, "exited %d%s\n", s->exit_code, extra) < 0 ? -ENOMEM : 0;
		return asprintf(out, "killed %s%s\n", sig_name(s->sig), extra) < 0 ? -ENOMEM : 0;
	default:
		return asprintf(out, "failed %s%s\n", s->msg, extra) < 0 ? -ENOMEM : 0;
	}
}

static int value_text_locked(const struct proctab *p, const struct pslot *s, enum proctab_value v,
			     char **out)
{
	const char *one = v == PROCS_V_CMD ? s->cmd : v == PROCS_V_CWD ? s->cwd
			: v == PROCS_V_USER ? (s->user ? s->user : s->local ? p->c.user : NULL)
			: NULL;
	size_t len = 0;
	char *t;

	if (v == PROCS_V_STATUS)
		return status_text_locked(p, s, out);
	if (v == PROCS_V_PID)
		return (s->pid ? asprintf(out, "%u\n", s->pid) : asprintf(out, "%s", "")) < 0
			? -ENOMEM : 0;
	if (v != PROCS_V_ENV)
		return (one ? asprintf(out, "%s\n", one) : asprintf(out, "%s", "")) < 0 ? -ENOMEM
			: 0;
	for (size_t i = 0; i < s->n_env; i++)
		len += strlen(s->env[i]) + 1;
	if ((t = malloc(len + 1)) == NULL)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < s->n_env; i++)
		len += (size_t)sprintf(t + len, "%s\n", s->env[i]);
	t[len] = '\0';
	*out = t;
	return 0;
}

/* A process started elsewhere that no stream follows: still running
 * while envd lists it (List, cached), else ended unseen. */
static void check_unattached(struct proctab *p, struct pslot *s)
{
	bool watch, listed = true;
	unsigned pid;

	pthread_mutex_lock(&p->lock);
	watch = !s->local && !s->attached && s->st == PS_RUNNING;
	pid = s->pid;
	pthread_mutex_unlock(&p->lock);
	if (!watch || plist_lists(p, s->id, pid, &listed) < 0 || listed)
		return;
	pthread_mutex_lock(&p->lock);
	if (!s->attached && s->st == PS_RUNNING) {
		s->st = PS_FAILED;
		s->fail_err = -EIO;
		snprintf(s->msg, sizeof(s->msg), "ended unattached (exit status unknown)");
	}
	pthread_mutex_unlock(&p->lock);
}

int proctab_render(struct proctab *p, const char *id, const char *name, enum proctab_value v,
		   bool ask, char **text, size_t *len)
{
	struct pslot *s;
	int e = pslot_get(p, id, name, &s);

	*text = NULL;
	*len = 0;
	if (e < 0)
		return e;
	if (v == PROCS_V_STATUS && ask)
		check_unattached(p, s);
	pthread_mutex_lock(&p->lock);
	e = value_text_locked(p, s, v, text);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	if (e == 0)
		*len = strlen(*text);
	return e;
}

int proctab_attach(struct proctab *p, const char *id, const char *name)
{
	struct pslot *s;
	int e = pslot_get(p, id, name, &s);

	if (e < 0)
		return e;
	pthread_mutex_lock(&p->lock);
	if (s->st == PS_RUNNING && s->pid && !s->attached)
		e = pslot_attach_locked(p, s);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	return e;
}

int proctab_out_size(struct proctab *p, const char *id, const char *name, enum proctab_stream st,
		   uint64_t *size)
{
	struct pslot *s;
	int e = pslot_get(p, id, name, &s);

	*size = 0;
	if (e < 0)
		return e;
	pthread_mutex_lock(&p->lock);
	*size = s->out[st].total;
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int proctab_out_read(struct proctab *p, const char *id, const char *name, enum proctab_stream st,
		   char *buf, size_t size, uint64_t off)
{
	struct pslot *s;
	int e = pslot_get(p, id, name, &s);

	if (e < 0)
		return e;
	pthread_mutex_lock(&p->lock);
	e = spool_read(p, &s->out[st], buf, size, off);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	return e;
}

static int wait_locked(struct proctab *p, struct pslot *s, bool (*interrupted)(void), int *code)
{
	for (;;) {
		struct timespec dl = clock_wall_after(100);
		int e;

		if (s->st == PS_ENDED) {
			*code = s->exited ? s->exit_code : 128 + s->sig;
			return 0;
		}
		if (s->st == PS_FAILED)
			return -EIO;
		if (s->st == PS_NEW && !s->attached)
			return -ECHILD;
		if (s->gone)
			return -ENOENT;
		if (!s->attached && (e = pslot_attach_locked(p, s)) < 0)
			return e;
		if (interrupted && interrupted())
			return -EINTR;
		pthread_cond_timedwait(&p->changed, &p->lock, &dl);
	}
}

int proctab_wait(struct proctab *p, const char *id, const char *name, bool (*interrupted)(void),
	       int *code)
{
	struct pslot *s;
	int e = pslot_get(p, id, name, &s);

	*code = 0;
	if (e < 0)
		return e;
	pthread_mutex_lock(&p->lock);
	e = wait_locked(p, s, interrupted, code);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
	return e;
}
