/* api_list(): GET /v2/sandboxes across pages, fetching one page ahead of
 * the parsing.
 *
 * Parsing a page (the JSON, then every sandbox's fields) takes about as
 * long as fetching it, and page k+1's token is in page k's headers, known before
 * page k's body is parsed.  So once the first page says there is a second,
 * a short-lived fetcher thread requests the pages in order while the
 * calling thread parses them.  The fetcher starts a request only when the
 * caller has taken the page before it, so at most two bodies are held at
 * once (the one being parsed and the one being fetched or waiting), and at
 * most one page past a failing one is ever requested.  Each page is one
 * api_call_attempts(), with its own retries and deadline.
 *
 * Failures are taken in page order, as if the pages had been fetched one
 * after the other: the fetcher records nothing, and the caller records a
 * page's failure (its request, an over-long or repeating X-Next-Token, too
 * many pages) only once every page before it has parsed.  The errno, *err,
 * the stats' last error and the log are those of the first page that went
 * wrong; a page fetched past it leaves no trace but its request.  Should
 * pthread_create fail, the caller fetches the pages itself.
 *
 * Bounds: the whole listing has one deadline (each page's attempts end by
 * it too) and a cap on its entries.  A backend that keeps sending
 * X-Next-Token ends at one of them; as a sandbox listed twice replaces its
 * first entry at once (an index by ID), one that repeats its pages holds
 * no more memory than its distinct sandboxes. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_priv.h"
#include "http/http.h"
#include "util/log.h"

#define LIST_PATH "/v2/sandboxes?state=running,paused&limit=100"
#define LIST_MAX_PAGES 10000

/* Only the part before '?' is logged, so this names every page. */
static const struct call list_call = { API_OP_LIST, "GET", LIST_PATH, NULL, NULL, 0 };

/* One page as fetched: its reply, or why it cannot be used. */
struct page {
	struct http_response rs;  /* the 2xx reply when r is 0 */
	int r;                    /* 0 or -errno before parsing */
	int status;               /* the HTTP status going with r, 0 without one */
	bool record;              /* r is a failed call (not a local ENOMEM) */
	bool repeats;             /* its X-Next-Token is the one that fetched it */
	char msg[sizeof(((struct api_error *)0)->message)];
};

struct lister {
	struct api *a;
	long deadline_at;         /* monotonic ms the listing must end by */
	/* The fetching side: the caller's, except while the fetcher thread
	 * runs (pthread_create and pthread_join hand it over). */
	char *token;              /* for the next page; NULL for the first */
	unsigned index;           /* of the next page */
	bool more;                /* the next page is to be fetched */

	bool threaded;            /* a fetcher thread was started */
	pthread_t thread;
	pthread_mutex_t lock;     /* guards what follows; never held over HTTP */
	pthread_cond_t cond;      /* each side waits for the other on it */
	struct page slot;
	bool full;                /* slot holds a page the caller has not taken */
	bool finished;            /* the fetcher will put no more pages */
	bool stop;                /* the caller wants no more pages */
	int cancel;               /* atomic: also ends the request in flight */
};

/* The sandboxes so far, with an open-addressing index by ID (slot values
 * are positions + 1; 0 is free) kept at most half full. */
struct vec {
	struct sbx **v;
	size_t n, cap;
	size_t *slots;
	size_t nslots;            /* a power of two */
	size_t max;               /* entries allowed */
};

static void page_fail(struct page *pg, int r, int status, bool record, const char *msg)
{
	pg->r = r;
	pg->status = status;
	pg->record = record;
	snprintf(pg->msg, sizeof(pg->msg), "%s", msg);
}

static void past_deadline(struct lister *l, struct page *pg, int status)
{
	char msg[sizeof(pg->msg)];

	snprintf(msg, sizeof(msg), "listing not complete within list_deadline (%ld s) at page %u",
		 api_list_deadline_ms(l->a) / 1000, l->index + 1);
	page_fail(pg, -EIO, status, true, msg);
}

/* Fetches page l->index with l->token into *pg and moves l on to the next
 * one, if any.  Records nothing. */
static void fetch_next(struct lister *l, struct page *pg)
{
	const char *tok = l->token;
	char *etok = NULL, *path = NULL;
	struct call c = list_call;

	c.cancel = &l->cancel;
	c.deadline_at = l->deadline_at;
	memset(pg, 0, sizeof(*pg));
	if ((tok && !(etok = api_url_escape(tok))) ||
	    asprintf(&path, "%s%s%s", LIST_PATH, etok ? "&nextToken=" : "", etok ? etok : "") < 0) {
		path = NULL;
		page_fail(pg, -ENOMEM, 0, false, "out of memory");
	} else if (l->index >= LIST_MAX_PAGES) {
		page_fail(pg, -EIO, 0, true, "too many pages in the listing");
	} else if (api_now_ms() >= l->deadline_at) {
		past_deadline(l, pg, 0);
	} else {
		c.path = path;
		pg->r = api_call_attempts(l->a, &c, &pg->rs, &pg->status, pg->msg, sizeof(pg->msg));
		pg->record = pg->r != 0;
		if (pg->r == -ETIMEDOUT && api_now_ms() >= l->deadline_at)
			past_deadline(l, pg, pg->status);
		if (!pg->r && pg->rs.bad_header) {
			page_fail(pg, -EIO, (int)pg->rs.status, true, "bad reply: X-Next-Token too long");
			http_response_clear(&pg->rs);
		}
	}
	free(etok);
	free(path);
	l->index++;
	pg->repeats = !pg->r && pg->rs.next_token && tok && strcmp(pg->rs.next_token, tok) == 0;
	if (pg->r || pg->repeats || !pg->rs.next_token) {
		l->more = false;
	} else {
		free(l->token);
		l->token = pg->rs.next_token;
		pg->rs.next_token = NULL;
	}
}

static void *fetcher_main(void *arg)
{
	struct lister *l = arg;
	struct page pg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (l->full && !l->stop)
			pthread_cond_wait(&l->cond, &l->lock);
		if (l->stop || !l->more)
			break;
		pthread_mutex_unlock(&l->lock);
		fetch_next(l, &pg);
		pthread_mutex_lock(&l->lock);
		if (l->stop) {
			http_response_clear(&pg.rs);
			break;
		}
		l->slot = pg;
		l->full = true;
		pthread_cond_signal(&l->cond);
	}
	l->finished = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Starts the fetcher on l's next page; without it the caller fetches. */
static void lister_start(struct lister *l)
{
	int rc;

	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	rc = pthread_create(&l->thread, NULL, fetcher_main, l);
	if (rc == 0) {
		l->threaded = true;
		return;
	}
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	log_debug("listing without a fetcher thread: %s", strerror(rc));
}

/* The next page in order into *pg; false when there is none. */
static bool lister_next(struct lister *l, struct page *pg)
{
	bool got;

	if (!l->threaded) {
		if (!l->more)
			return false;
		fetch_next(l, pg);
		return true;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->full && !l->finished)
		pthread_cond_wait(&l->cond, &l->lock);
	got = l->full;
	if (got) {
		*pg = l->slot;
		l->full = false;
		pthread_cond_signal(&l->cond);
	}
	pthread_mutex_unlock(&l->lock);
	return got;
}

/* Stops and joins the fetcher and drops a page it fetched that was not
 * taken.  A request in flight is cancelled rather than waited for: the
 * listing has already failed, and that page may be stalling until its
 * deadline. */
static void lister_finish(struct lister *l)
{
	if (l->threaded) {
		__atomic_store_n(&l->cancel, 1, __ATOMIC_RELEASE);
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
		if (l->full)
			http_response_clear(&l->slot.rs);
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->lock);
	}
	free(l->token);
}

static size_t id_hash(const char *id)
{
	size_t h = 1469598103934665603ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h;
}

/* The slot of id in the index: its entry's, or the free one to take. */
static size_t *id_slot(struct vec *all, const char *id)
{
	size_t mask = all->nslots - 1, i = id_hash(id) & mask;

	while (all->slots[i] && strcmp(all->v[all->slots[i] - 1]->id, id) != 0)
		i = (i + 1) & mask;
	return &all->slots[i];
}

/* Makes room for n more entries in v and the index. */
static int vec_reserve(struct vec *all, size_t n)
{
	if (all->n + n > all->cap) {
		size_t ncap = all->cap ? all->cap : 128;
		struct sbx **grown;

		while (ncap < all->n + n)
			ncap *= 2;
		grown = realloc(all->v, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		all->v = grown;
		all->cap = ncap;
	}
	if (2 * (all->n + n) > all->nslots) {
		size_t ns = all->nslots ? all->nslots : 256;
		size_t *old = all->slots, oldn = all->nslots;

		while (2 * (all->n + n) > ns)
			ns *= 2;
		if (!(all->slots = calloc(ns, sizeof(*all->slots)))) {
			all->slots = old;
			return -ENOMEM;
		}
		all->nslots = ns;
		for (size_t i = 0; i < oldn; i++)
			if (old[i])
				*id_slot(all, all->v[old[i] - 1]->id) = old[i];
		free(old);
	}
	return 0;
}

/* Appends page[0..np), taking its references; a sandbox already listed
 * replaces its entry (the later listing wins, as in the cache). */
static int append_items(struct vec *all, struct sbx **page, size_t np)
{
	if (np == 0)
		return 0;
	if (vec_reserve(all, np) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < np; i++) {
		size_t *slot = id_slot(all, page[i]->id);

		if (*slot) {
			sbx_unref(all->v[*slot - 1]);
			all->v[*slot - 1] = page[i];
		} else {
			all->v[all->n++] = page[i];
			*slot = all->n;
		}
	}
	return 0;
}

/* A 2xx page that cannot be used. */
static int bad_page(struct api *a, const struct page *pg, struct api_error *err, int r,
		    const char *why)
{
	char msg[sizeof(pg->msg)];

	snprintf(msg, sizeof(msg), "bad reply: %.200s", why);
	return api_call_failed(a, &list_call, err, (int)pg->rs.status, r, msg);
}

/* Appends pg's sandboxes to all, or records why the listing fails here. */
static int take_page(struct api *a, const struct page *pg, struct vec *all,
		     struct api_error *err)
{
	struct sbx **items;
	size_t n;
	char why[200];
	int r;

	if (pg->r)
		return pg->record ? api_call_failed(a, &list_call, err, pg->status, pg->r, pg->msg)
				  : pg->r;
	r = sbx_list_from_json(pg->rs.body, pg->rs.len, &items, &n, why, sizeof(why));
	if (r)
		return bad_page(a, pg, err, r, why);
	if (append_items(all, items, n) < 0) {
		/* the index was not grown, or everything was taken: either
		 * way nothing of items is in all */
		sbx_array_free(items, n);
		return -ENOMEM;
	}
	free(items);
	if (all->n > all->max) {
		snprintf(why, sizeof(why), "more than max_sandboxes (%zu) sandboxes", all->max);
		return bad_page(a, pg, err, -EIO, why);
	}
	if (pg->repeats)
		return bad_page(a, pg, err, -EIO, "X-Next-Token repeats");
	return 0;
}

int api_list(struct api *a, struct sbx ***items, size_t *n, struct api_error *err)
{
	struct lister l = { .a = a, .more = true,
			    .deadline_at = api_now_ms() + api_list_deadline_ms(a) };
	struct vec all = { .max = api_max_sandboxes(a) };
	struct page pg;
	int r;

	*items = NULL;
	*n = 0;
	if (err)
		memset(err, 0, sizeof(*err));
	fetch_next(&l, &pg);
	if (l.more)
		lister_start(&l);   /* page 2 comes in while page 1 is parsed */
	for (;;) {
		r = take_page(a, &pg, &all, err);
		http_response_clear(&pg.rs);
		if (r || !lister_next(&l, &pg))
			break;
	}
	lister_finish(&l);
	free(all.slots);
	if (r) {
		if (r == -ENOMEM && err) {
			memset(err, 0, sizeof(*err));
			err->err = r;
			snprintf(err->message, sizeof(err->message), "out of memory");
		}
		sbx_array_free(all.v, all.n);
		return r;
	}
	*items = all.v;
	*n = all.n;
	return 0;
}
