/* Listing snapshots: one immutable block holding the header, the entries
 * sorted by directory name, and an index of entry numbers sorted by
 * sandbox ID, so a lookup either way is a binary search and a reader needs
 * no lock.  The sandboxes themselves are reference counted and shared
 * between listings.
 *
 * Directory names: metadata SBX_NAME_KEY when it is a valid name, else the
 * sandbox ID.  A name equal to any sandbox's ID is not honoured (that
 * sandbox shows under its ID), so a lookup by ID always works.  When
 * several sandboxes claim one name, the earliest started_at keeps it (tie:
 * the smaller ID) and the others show under their IDs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache_priv.h"

void listing_put(struct sbx_listing *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < l->n; i++)
		sbx_unref(l->ents[i].sbx);
	free(l);
}

struct sbx_listing *listing_get(struct sbx_listing *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

size_t listing_count(const struct sbx_listing *l)
{
	return l ? l->n : 0;
}

const struct sbx_dirent *listing_at(const struct sbx_listing *l, size_t i)
{
	return l && i < l->n ? &l->ents[i] : NULL;
}

static struct sbx_dirent *find_by_name(const struct sbx_listing *l, const char *name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->ents[mid].name);

		if (c == 0)
			return &l->ents[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static struct sbx_dirent *find_by_id(const struct sbx_listing *l, const char *id)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct sbx_dirent *e = &l->ents[l->by_id[mid]];
		int c = strcmp(id, e->sbx->id);

		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct sbx *listing_find(const struct sbx_listing *l, const char *name_or_id)
{
	struct sbx_dirent *e;

	if (!l || !name_or_id)
		return NULL;
	e = find_by_name(l, name_or_id);
	if (!e)
		e = find_by_id(l, name_or_id);
	return e ? e->sbx : NULL;
}

const char *listing_name_of(const struct sbx_listing *l, const struct sbx *s)
{
	struct sbx_dirent *e;

	if (!l || !s)
		return NULL;
	e = find_by_id(l, s->id);
	return e ? e->name : NULL;
}

/* Is id in v[0..n), sorted by ID? */
static bool sorted_has_id(struct sbx **v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, v[mid]->id);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* Claimants of a name sort by name, then earliest start, then ID; plain
 * entries (name == ID) sort among them by name only, IDs being unique. */
static int cmp_claim(const void *a, const void *b)
{
	const struct sbx_dirent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->sbx->started_at != y->sbx->started_at)
		return x->sbx->started_at < y->sbx->started_at ? -1 : 1;
	return strcmp(x->sbx->id, y->sbx->id);
}

static int cmp_index_id(const void *a, const void *b, void *ctx)
{
	const struct sbx_dirent *ents = ctx;

	return strcmp(ents[*(const size_t *)a].sbx->id, ents[*(const size_t *)b].sbx->id);
}

/* A listing of v[0..n), which must be sorted by ID without duplicates.
 * Takes its own references; NULL on allocation failure. */
static struct sbx_listing *listing_build(struct sbx **v, size_t n)
{
	struct sbx_listing *l;
	bool again;

	l = malloc(sizeof(*l) + n * (sizeof(struct sbx_dirent) + sizeof(size_t)));
	if (!l)
		return NULL;
	l->refs = 1;
	l->n = n;
	l->ents = (struct sbx_dirent *)(l + 1);
	l->by_id = (size_t *)(l->ents + n);
	for (size_t i = 0; i < n; i++) {
		const char *want = sbx_meta_get(v[i], SBX_NAME_KEY);

		if (!want || !sbx_name_valid(want) || sorted_has_id(v, n, want))
			want = v[i]->id;
		l->ents[i].name = want;
		l->ents[i].sbx = sbx_ref(v[i]);
	}
	/* Losers of a name fall back to their IDs; an ID never equals a
	 * name that survived the check above, so one pass settles it. */
	do {
		again = false;
		qsort(l->ents, n, sizeof(*l->ents), cmp_claim);
		for (size_t i = 1; i < n; i++) {
			if (strcmp(l->ents[i].name, l->ents[i - 1].name) == 0 &&
			    l->ents[i].name != l->ents[i].sbx->id) {
				l->ents[i].name = l->ents[i].sbx->id;
				again = true;
			}
		}
	} while (again);
	for (size_t i = 0; i < n; i++)
		l->by_id[i] = i;
	qsort_r(l->by_id, n, sizeof(*l->by_id), cmp_index_id, l->ents);
	return l;
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

struct sbx_listing *apply_and_build(struct sbx **items, size_t n,
				    const struct change *ch, size_t nch)
{
	struct sbx **v = malloc((n + nch + 1) * sizeof(*v));
	struct change *fin = malloc((nch + 1) * sizeof(*fin));
	struct sbx_listing *l = NULL;
	size_t m = 0, nf = 0, i = 0, k = 0;

	if (!v || !fin)
		goto out;
	/* the last change per ID, sorted by ID */
	if (nch)
		memcpy(fin, ch, nch * sizeof(*fin));
	qsort(fin, nch, sizeof(*fin), cmp_change);
	for (size_t j = 0; j < nch; j++) {
		if (nf > 0 && strcmp(fin[nf - 1].id, fin[j].id) == 0)
			fin[nf - 1] = fin[j];
		else
			fin[nf++] = fin[j];
	}
	/* merge two ID-sorted sequences */
	while (i < n || k < nf) {
		int c = i == n ? 1 : k == nf ? -1 : strcmp(items[i]->id, fin[k].id);

		if (c < 0) {
			v[m++] = items[i++];
		} else {
			if (fin[k].sbx)
				v[m++] = fin[k].sbx;
			k++;
			i += c == 0;
		}
	}
	l = listing_build(v, m);
out:
	free(fin);
	free(v);
	return l;
}

struct tagged {
	struct sbx *sbx;
	size_t pos;
};

static int cmp_tagged(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;
	int c = strcmp(x->sbx->id, y->sbx->id);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

long listing_dedupe(struct sbx **items, size_t n)
{
	struct tagged *t = malloc((n + 1) * sizeof(*t));
	size_t m = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t[i] = (struct tagged){ items[i], i };
	qsort(t, n, sizeof(*t), cmp_tagged);
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(items[m - 1]->id, t[i].sbx->id) == 0) {
			sbx_unref(items[m - 1]);
			items[m - 1] = t[i].sbx;
		} else {
			items[m++] = t[i].sbx;
		}
	}
	free(t);
	return (long)m;
}
