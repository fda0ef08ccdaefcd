/* A sandbox's processes: the slots, the List cache and the calls
 * (procs.h).  The threads and spools are proc_run.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "model/values.h"
#include "procs_priv.h"
#include "util/log.h"

#define DEFAULT_OUTPUT_MAX (64ULL << 20)
#define DEFAULT_MAX_PROCS 64

/* A List reply of one sandbox, kept list_ttl_ms. */
struct plist {
	struct plist *next;
	char id[65];
	int64_t at_ms;
	struct envdc_pinfo *v;
	size_t n;
};

struct proctab *proctab_new(const struct proctab_config *c)
{
	struct proctab *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->c.user = strdup(c->user ? c->user : "user")) == NULL) {
		free(p);
		return NULL;
	}
	p->c.envd = c->envd;
	p->c.files = c->files;
	p->c.grew = c->grew;
	p->c.grew_ctx = c->grew_ctx;
	p->c.output_max = c->output_max ? c->output_max : DEFAULT_OUTPUT_MAX;
	p->c.max_procs = c->max_procs ? c->max_procs : DEFAULT_MAX_PROCS;
	p->c.list_ttl_ms = c->list_ttl_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	return p;
}

void pslot_unref_locked(struct pslot *s)
{
	if (--s->refs > 0)
		return;
	spool_clear(&s->out[0]);
	spool_clear(&s->out[1]);
	free(s->cwd);
	free(s->user);
	free(s->cmd);
	for (size_t i = 0; i < s->n_env; i++)
		free(s->env[i]);
	free(s->env);
	free(s);
}

/* Takes s out of the table and ends its stream.  With the lock. */
void pslot_unlink_locked(struct proctab *p, struct pslot *s)
{
	for (struct pslot **pp = &p->slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->gone = true;
	__atomic_store_n(&s->cancel, 1, __ATOMIC_RELEASE);
	pslot_unref_locked(s);
}

void plist_drop_locked(struct proctab *p, const char *id)
{
	for (struct plist **pp = &p->lists, *l; (l = *pp);)
		if (id == NULL || strcmp(l->id, id) == 0) {
			*pp = l->next;
			envdc_pinfo_free(l->v, l->n);
			free(l);
		} else {
			pp = &l->next;
		}
}

void proctab_free(struct proctab *p)
{
	struct timespec dl = clock_wall_after(15000);

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	while (p->slots)
		pslot_unlink_locked(p, p->slots);
	/* Streams notice a cancel within 50 ms. */
	while (p->nthreads > 0 &&
	       pthread_cond_timedwait(&p->changed, &p->lock, &dl) == 0)
		;
	plist_drop_locked(p, NULL);
	pthread_mutex_unlock(&p->lock);
	if (p->nthreads > 0)
		log_warn("procs: %u streams did not end in time", p->nthreads);
	else {
		pthread_cond_destroy(&p->changed);
		pthread_mutex_destroy(&p->lock);
		free((char *)p->c.user);
		free(p);
	}
}

static struct pslot *find_locked(struct proctab *p, const char *id, const char *name)
{
	for (struct pslot *s = p->slots; s; s = s->next)
		if (strcmp(s->id, id) == 0 && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static struct pslot *slot_new_locked(struct proctab *p, const char *id, const char *name)
{
	struct pslot *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->out[0].fd = s->out[1].fd = -1;
	s->refs = 1;
	s->next = p->slots;
	p->slots = s;
	return s;
}

/* ---- the List cache ---- */

static int list_fetch(struct proctab *p, const char *id)
{
	struct envdc_pinfo *v = NULL;
	struct files_target t;
	struct envdc_error err;
	struct plist *l;
	size_t n = 0;
	int e;

	pthread_mutex_lock(&p->lock);
	for (l = p->lists; l; l = l->next)
		if (strcmp(l->id, id) == 0 && clock_mono_ms() - l->at_ms < p->c.list_ttl_ms)
			break;
	pthread_mutex_unlock(&p->lock);
	if (l)
		return 0;
	if ((e = files_target_get(p->c.files, id, false, &t)) < 0)
		return e;
	e = envdc_proc_list(p->c.envd, &t.t, &v, &n, &err);
	files_target_clear(&t);
	if (e == -EHOSTDOWN)
		e = files_why_down(p->c.files, id);
	if (e < 0)
		return e;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		envdc_pinfo_free(v, n);
		return -ENOMEM;
	}
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->at_ms = clock_mono_ms();
	l->v = v;
	l->n = n;
	pthread_mutex_lock(&p->lock);
	plist_drop_locked(p, id);
	l->next = p->lists;
	p->lists = l;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int plist_lists(struct proctab *p, const char *id, unsigned pid, bool *listed)
{
	int e = list_fetch(p, id);

	*listed = false;
	if (e < 0)
		return e;
	pthread_mutex_lock(&p->lock);
	for (struct plist *l = p->lists; l && !*listed; l = l->next)
		for (size_t i = 0; strcmp(l->id, id) == 0 && i < l->n; i++)
			*listed = *listed || l->v[i].pid == pid;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* The name a listed process shows as. */
static void listed_name(const struct envdc_pinfo *i, char *buf, size_t size)
{
	if (i->tag && sbx_component_valid(i->tag))
		snprintf(buf, size, "%s", i->tag);
	else
		snprintf(buf, size, "%u", i->pid);
}

static struct plist *list_of_locked(struct proctab *p, const char *id)
{
	for (struct plist *l = p->lists; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_name(char ***v, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, c * sizeof(**v));

		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	if (((*v)[*n] = strdup(name)) == NULL)
		return -ENOMEM;
	(*n)++;
	return 0;
}

int proctab_names(struct proctab *p, const char *id, bool ask, char ***names, size_t *n)
{
	int e = ask ? list_fetch(p, id) : 0;
	size_t cap = 0;
	struct plist *l;
	char buf[NAME_MAX + 1];

	*names = NULL;
	*n = 0;
	if (e < 0 && e != -EHOSTDOWN)
		return e;           /* a paused sandbox still shows its slots */
	e = 0;
	pthread_mutex_lock(&p->lock);
	for (struct pslot *s = p->slots; s && e == 0; s = s->next)
		if (strcmp(s->id, id) == 0)
			e = add_name(names, n, &cap, s->name);
	for (size_t i = 0; (l = list_of_locked(p, id)) && i < l->n && e == 0; i++) {
		listed_name(&l->v[i], buf, sizeof(buf));
		e = add_name(names, n, &cap, buf);
	}
	pthread_mutex_unlock(&p->lock);
	if (e < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*n = 0;
		return e;
	}
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

/* A listed process named name becomes a slot (not attached).  With the
 * lock; NULL when none is listed. */
static struct pslot *adopt_locked(struct proctab *p, const char *id, const char *name)
{
	struct plist *l = list_of_locked(p, id);
	char buf[NAME_MAX + 1];
	struct pslot *s;

	for (size_t i = 0; l && i < l->n; i++) {
		listed_name(&l->v[i], buf, sizeof(buf));
		if (strcmp(buf, name) != 0)
			continue;
		if ((s = slot_new_locked(p, id, name)) == NULL)
			return NULL;
		s->pid = l->v[i].pid;
		s->st = PS_RUNNING;
		s->cmd = strdup(l->v[i].cmd);
		return s;
	}
	return NULL;
}

/* The slot (id, name) with a reference for the caller; with ask, a
 * process envd lists (asked at most once a list_ttl_ms) gets its slot. */
static int slot_get(struct proctab *p, const char *id, const char *name, bool ask,
		    struct pslot **out)
{
	struct pslot *s;

	pthread_mutex_lock(&p->lock);
	s = find_locked(p, id, name);
	pthread_mutex_unlock(&p->lock);
	if (s == NULL && ask)
		(void)list_fetch(p, id);
	pthread_mutex_lock(&p->lock);
	if (s == NULL && (s = find_locked(p, id, name)) == NULL && ask)
		s = adopt_locked(p, id, name);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&p->lock);
	*out = s;
	return s ? 0 : -ENOENT;
}

int pslot_get(struct proctab *p, const char *id, const char *name, struct pslot **out)
{
	return slot_get(p, id, name, false, out);
}

void pslot_put(struct proctab *p, struct pslot *s)
{
	pthread_mutex_lock(&p->lock);
	pslot_unref_locked(s);
	pthread_mutex_unlock(&p->lock);
}

int proctab_lookup(struct proctab *p, const char *id, const char *name, bool ask)
{
	struct pslot *s;
	int e = slot_get(p, id, name, ask, &s);

	if (e == 0)
		pslot_put(p, s);
	return e;
}

int proctab_mkdir(struct proctab *p, const char *id, const char *name)
{
	struct pslot *s;
	int e = 0;

	if (!sbx_component_valid(name) || strlen(name) > NAME_MAX)
		return -EINVAL;
	if (proctab_lookup(p, id, name, true) == 0)
		return -EEXIST;
	pthread_mutex_lock(&p->lock);
	if (find_locked(p, id, name))
		e = -EEXIST;
	else if (p->nthreads >= p->c.max_procs)
		e = -EAGAIN;
	else if ((s = slot_new_locked(p, id, name)) == NULL)
		e = -ENOMEM;
	else
		s->local = true;
	pthread_mutex_unlock(&p->lock);
	if (e == -EAGAIN)
		log_warn("procs: mkdir %s/%s refused: %u processes attached (max_procs)", id, name,
			 p->c.max_procs);
	return e;
}

void proctab_counts(struct proctab *p, unsigned *attached, unsigned *max)
{
	pthread_mutex_lock(&p->lock);
	*attached = p->nthreads;
	pthread_mutex_unlock(&p->lock);
	*max = p->c.max_procs;
}
