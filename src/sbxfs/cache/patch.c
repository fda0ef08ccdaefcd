/* An own change applied to a listing without sorting it again: the entry
 * is replaced, removed or inserted in place in both orders (by name, by
 * ID) with one copy of the arrays.  Only when the change could move a
 * name between sandboxes (a claim contested, a name given up that another
 * sandbox wants, an ID some sandbox wants as a name) is the listing built
 * anew, with listing.c's rules deciding. */
#include <stdlib.h>
#include <string.h>

#include "cache_priv.h"

/* The name sandbox s asks for, or NULL. */
static const char *wanted(const struct sbx *s)
{
	const char *w = sbx_meta_get(s, SBX_NAME_KEY);

	return w && sbx_name_valid(w) ? w : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *name_at(const struct sbx_listing *l, size_t i)
{
	return l->ents[i].name;
}

static const char *id_at(const struct sbx_listing *l, size_t i)
{
	return l->ents[l->by_id[i]].sbx->id;
}

/* Position of key (or where it would go) in the order key_at gives l's
 * entries: the name order or the ID index. */
static size_t key_pos(const struct sbx_listing *l, const char *key,
		      const char *(*key_at)(const struct sbx_listing *, size_t), bool *found)
{
	size_t lo = 0, hi = l->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, key_at(l, mid));

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t name_pos(const struct sbx_listing *l, const char *name, bool *found)
{
	return key_pos(l, name, name_at, found);
}

static size_t id_pos(const struct sbx_listing *l, const char *id, bool *found)
{
	return key_pos(l, id, id_at, found);
}

static struct sbx_listing *listing_alloc(size_t n)
{
	struct sbx_listing *l =
		malloc(sizeof(*l) + n * (sizeof(struct sbx_dirent) + sizeof(size_t)));

	if (l) {
		l->refs = 1;
		l->n = n;
		l->ents = (struct sbx_dirent *)(l + 1);
		l->by_id = (size_t *)(l->ents + n);
	}
	return l;
}

/* The whole listing built again with the change (listing.c's rules). */
static struct sbx_listing *rebuild(const struct sbx_listing *l, const char *id, struct sbx *s)
{
	struct sbx **v = malloc((l->n + 1) * sizeof(*v));
	struct change ch = { .id = (char *)id, .sbx = s };
	struct sbx_listing *nl;

	if (!v)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		v[i] = l->ents[l->by_id[i]].sbx;
	nl = apply_and_build(v, l->n, &ch, 1);
	free(v);
	return nl;
}

/* s takes the place of the entry at pos, which asks for the same name
 * and started at the same time: every claim stays as it was. */
static struct sbx_listing *replace(const struct sbx_listing *l, size_t pos, struct sbx *s)
{
	struct sbx_listing *nl = listing_alloc(l->n);
	const struct sbx_dirent *old = &l->ents[pos];

	if (!nl)
		return NULL;
	memcpy(nl->ents, l->ents, l->n * sizeof(*nl->ents));
	memcpy(nl->by_id, l->by_id, l->n * sizeof(*nl->by_id));
	for (size_t i = 0; i < l->n; i++)
		if (i != pos)
			sbx_ref(nl->ents[i].sbx);
	nl->ents[pos].sbx = sbx_ref(s);
	/* names live in their sandbox: point into the new one */
	nl->ents[pos].name = old->name == old->sbx->id ? s->id : wanted(s);
	return nl;
}

/* Without the entry at pos, whose name no other sandbox wants. */
static struct sbx_listing *drop(const struct sbx_listing *l, size_t pos)
{
	struct sbx_listing *nl = listing_alloc(l->n - 1);
	size_t k = 0;

	if (!nl)
		return NULL;
	memcpy(nl->ents, l->ents, pos * sizeof(*nl->ents));
	memcpy(nl->ents + pos, l->ents + pos + 1, (l->n - pos - 1) * sizeof(*nl->ents));
	for (size_t i = 0; i < nl->n; i++)
		sbx_ref(nl->ents[i].sbx);
	for (size_t i = 0; i < l->n; i++)
		if (l->by_id[i] != pos)
			nl->by_id[k++] = l->by_id[i] - (l->by_id[i] > pos);
	return nl;
}

/* With s inserted under name, which no sandbox has or wants. */
static struct sbx_listing *insert(const struct sbx_listing *l, struct sbx *s, const char *name)
{
	struct sbx_listing *nl = listing_alloc(l->n + 1);
	bool found;
	size_t at = name_pos(l, name, &found), ix = id_pos(l, s->id, &found), k = 0;

	if (!nl)
		return NULL;
	memcpy(nl->ents, l->ents, at * sizeof(*nl->ents));
	memcpy(nl->ents + at + 1, l->ents + at, (l->n - at) * sizeof(*nl->ents));
	nl->ents[at] = (struct sbx_dirent){ .name = name, .sbx = s };
	for (size_t i = 0; i < nl->n; i++)
		sbx_ref(nl->ents[i].sbx);
	for (size_t i = 0; i <= l->n; i++) {
		if (i == ix)
			nl->by_id[k++] = at;
		if (i < l->n)
			nl->by_id[k++] = l->by_id[i] + (l->by_id[i] >= at);
	}
	return nl;
}

/* Does a sandbox other than the one at pos want name a or b? */
static bool wanted_by_other(const struct sbx_listing *l, size_t pos, const char *a,
			    const char *b)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *w = i == pos ? NULL : wanted(l->ents[i].sbx);

		if (w && (strcmp(w, a) == 0 || strcmp(w, b) == 0))
			return true;
	}
	return false;
}

struct sbx_listing *listing_patch(const struct sbx_listing *l, const char *id, struct sbx *s)
{
	bool found, taken;
	size_t ix = id_pos(l, id, &found), pos = found ? l->by_id[ix] : 0;
	const struct sbx *old = found ? l->ents[pos].sbx : NULL;
	const char *w;

	if (found && s && same_str(wanted(old), wanted(s)) && old->started_at == s->started_at)
		return replace(l, pos, s);
	if (found && !s && !wanted_by_other(l, pos, l->ents[pos].name, id))
		return drop(l, pos);
	if (!found && !s)
		return listing_get((struct sbx_listing *)l);
	if (!found) {
		if ((w = wanted(s)) != NULL) {
			id_pos(l, w, &taken);
			if (taken)
				w = NULL;   /* a name that is an ID is not honoured */
		}
		name_pos(l, s->id, &taken);
		if (!taken && w)
			name_pos(l, w, &taken);
		if (!taken)
			return insert(l, s, w ? w : s->id);
	}
	return rebuild(l, id, s);
}
