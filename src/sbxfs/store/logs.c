/* Per-sandbox copies of the log lines fetched so far; see logs.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "logs.h"

struct logs_sbx {
	struct logs_sbx *next;     /* most recently used first */
	char *id;
	int refs;                  /* readers, plus an update in flight */
	char *buf;                 /* the window: lines [base, base + len) */
	size_t len, cap;
	uint64_t base;             /* stream offset of buf[0] */
	int64_t last_ms;           /* the newest line's time; -1: none yet */
	size_t n_last;             /* lines held at exactly last_ms */
	bool fetching;             /* an update is in flight */
	int64_t fetch_began_ms;    /* monotonic: when the last update began */
	int64_t fetch_ended_ms;    /* and ended; 0: never */
	time_t mtime;              /* wall time a line was last added */
};

struct logs {
	struct api *api;           /* borrowed */
	size_t max_bytes;
	pthread_mutex_t lock;      /* guards the list and every member of its
	                            * entries but id (immutable) */
	pthread_cond_t done;       /* an update ended */
	struct logs_sbx *list;
};

struct logs *logs_new(struct api *api, size_t max_bytes)
{
	struct logs *L = calloc(1, sizeof(*L));

	if (!L)
		return NULL;
	L->api = api;
	L->max_bytes = max_bytes ? max_bytes : LOGS_MAX_BYTES;
	pthread_mutex_init(&L->lock, NULL);
	pthread_cond_init(&L->done, NULL);
	return L;
}

static void entry_free(struct logs_sbx *e)
{
	free(e->id);
	free(e->buf);
	free(e);
}

void logs_free(struct logs *L)
{
	if (!L)
		return;
	while (L->list) {
		struct logs_sbx *e = L->list;

		L->list = e->next;
		entry_free(e);
	}
	pthread_cond_destroy(&L->done);
	pthread_mutex_destroy(&L->lock);
	free(L);
}

/* id's entry, moved to the front; NULL when none.  Lock held. */
static struct logs_sbx *find(struct logs *L, const char *id)
{
	struct logs_sbx **pp, *e;

	for (pp = &L->list; (e = *pp); pp = &e->next)
		if (strcmp(e->id, id) == 0) {
			*pp = e->next;
			e->next = L->list;
			L->list = e;
			return e;
		}
	return NULL;
}

/* Drops idle copies past the budget, least recently used first.  Lock
 * held. */
static void evict(struct logs *L)
{
	struct logs_sbx **pp = &L->list, *e;
	size_t n = 0, bytes = 0;

	while ((e = *pp)) {
		if (e->refs == 0 && (n >= LOGS_IDLE_MAX || bytes + e->cap > LOGS_IDLE_BYTES)) {
			*pp = e->next;
			entry_free(e);
			continue;
		}
		if (e->refs == 0) {
			n++;
			bytes += e->cap;
		}
		pp = &e->next;
	}
}

void logs_known(struct logs *L, const char *id, long min_age_ms, uint64_t *size,
		time_t *mtime)
{
	struct logs_sbx *e;

	pthread_mutex_lock(&L->lock);
	if ((e = find(L, id)) != NULL && e->refs > 0) {
		e->refs++;
		pthread_mutex_unlock(&L->lock);
		(void)logs_update(L, e, min_age_ms);   /* failed: what is held */
		pthread_mutex_lock(&L->lock);
		e->refs--;
	}
	*size = e ? e->len : 0;
	*mtime = e ? e->mtime : 0;
	pthread_mutex_unlock(&L->lock);
}

int logs_open(struct logs *L, const char *id, struct logs_sbx **out, uint64_t *origin)
{
	struct logs_sbx *e;
	int err = 0;

	pthread_mutex_lock(&L->lock);
	if ((e = find(L, id)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL || (e->id = strdup(id)) == NULL) {
			free(e);
			err = -ENOMEM;
			goto out;
		}
		e->last_ms = -1;
		e->next = L->list;
		L->list = e;
	}
	e->refs++;
	*out = e;
	*origin = e->base;
out:
	pthread_mutex_unlock(&L->lock);
	return err;
}

void logs_close(struct logs *L, struct logs_sbx *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&L->lock);
	e->refs--;
	evict(L);
	pthread_mutex_unlock(&L->lock);
}

/* Drops whole lines from the front until need more bytes fit, and at
 * least an eighth of the cap so drops stay rare.  Lock held. */
static void drop_front(struct logs *L, struct logs_sbx *e, size_t need)
{
	size_t want = e->len + need - L->max_bytes, cut;
	const char *nl;

	if (want < L->max_bytes / 8)
		want = L->max_bytes / 8;
	if (want >= e->len) {
		cut = e->len;
	} else {
		nl = memchr(e->buf + want - 1, '\n', e->len - (want - 1));
		cut = nl ? (size_t)(nl - e->buf) + 1 : e->len;
	}
	memmove(e->buf, e->buf + cut, e->len - cut);
	e->len -= cut;
	e->base += cut;
}

/* Appends one line, dropping the oldest past the cap.  Lock held. */
static int put_line(struct logs *L, struct logs_sbx *e, const char *text, size_t len)
{
	size_t cap;
	char *p;

	if (len > L->max_bytes)
		return 0;   /* cannot be held: sbxdata.h caps a line far below */
	if (e->len + len > L->max_bytes)
		drop_front(L, e, len);
	if (e->len + len > e->cap) {
		cap = e->cap ? e->cap : 4096;
		while (cap < e->len + len)
			cap *= 2;
		if (cap > L->max_bytes)
			cap = L->max_bytes;
		if ((p = realloc(e->buf, cap)) == NULL)
			return -ENOMEM;
		e->buf = p;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, text, len);
	e->len += len;
	return 0;
}

/* Adds the lines of a page asked for from cursor, skipping the first dups
 * lines at exactly cursor (held already: the cursor is inclusive) and any
 * older.  The number added.  Lock held. */
static size_t add_page(struct logs *L, struct logs_sbx *e, const struct sbx_log_line *v,
		       size_t n, int64_t cursor, size_t dups)
{
	size_t seen = 0, added = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t ts = v[i].ts_ms;

		if (cursor >= 0 && (ts < cursor || (ts == cursor && seen++ < dups)))
			continue;
		if (put_line(L, e, v[i].text, v[i].len) < 0)
			break;
		added++;
		if (ts == e->last_ms) {
			e->n_last++;
		} else if (ts > e->last_ms) {
			e->last_ms = ts;
			e->n_last = 1;
		}
	}
	if (added)
		e->mtime = time(NULL);
	return added;
}

/* Fetches pages forward from the copy's cursor.  Lock not held; e is
 * pinned and marked fetching, so its cursor is this thread's. */
static int fetch(struct logs *L, struct logs_sbx *e)
{
	struct sbx_log_line *v;
	size_t n, added, dups;
	int64_t cursor;
	int err = 0;

	for (int page = 0; page < LOGS_PAGES_MAX; page++) {
		pthread_mutex_lock(&L->lock);
		cursor = e->last_ms;
		dups = e->n_last;
		pthread_mutex_unlock(&L->lock);
		if ((err = api_logs(L->api, e->id, cursor, 1000, &v, &n, NULL)) < 0)
			break;
		pthread_mutex_lock(&L->lock);
		added = add_page(L, e, v, n, cursor, dups);
		pthread_mutex_unlock(&L->lock);
		sbx_log_lines_free(v, n);
		if (n < 1000 || added == 0)
			break;
	}
	return err;
}

int logs_update(struct logs *L, struct logs_sbx *e, long min_age_ms)
{
	int64_t called = clock_mono_ms();
	int err;

	pthread_mutex_lock(&L->lock);
	while (e->fetching)
		pthread_cond_wait(&L->done, &L->lock);
	/* began in a later millisecond: surely after this call */
	if (e->fetch_ended_ms && (e->fetch_began_ms > called ||
				  (min_age_ms > 0 && called - e->fetch_ended_ms < min_age_ms))) {
		pthread_mutex_unlock(&L->lock);
		return 0;
	}
	e->fetching = true;
	e->fetch_began_ms = called;
	e->refs++;
	pthread_mutex_unlock(&L->lock);

	err = fetch(L, e);

	pthread_mutex_lock(&L->lock);
	e->fetching = false;
	e->fetch_ended_ms = clock_mono_ms();
	e->refs--;
	pthread_cond_broadcast(&L->done);
	pthread_mutex_unlock(&L->lock);
	return err;
}

size_t logs_read(struct logs *L, struct logs_sbx *e, uint64_t *origin, char *buf, size_t size,
		 uint64_t off)
{
	uint64_t pos, end;
	size_t n = 0;

	pthread_mutex_lock(&L->lock);
	pos = *origin + off;
	if (pos < e->base) {
		*origin += e->base - pos;
		pos = e->base;
	}
	end = e->base + e->len;
	if (pos < end) {
		n = end - pos < size ? (size_t)(end - pos) : size;
		memcpy(buf, e->buf + (pos - e->base), n);
	}
	pthread_mutex_unlock(&L->lock);
	return n;
}

void logs_size(struct logs *L, struct logs_sbx *e, const uint64_t *origin, uint64_t *size,
	       time_t *mtime)
{
	pthread_mutex_lock(&L->lock);
	*size = e->base + e->len - *origin;
	*mtime = e->mtime;
	pthread_mutex_unlock(&L->lock);
}
