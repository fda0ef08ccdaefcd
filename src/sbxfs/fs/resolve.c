/* From a node to the sandbox it lives in, through the cached listing:
 * reads never send a request of their own (but see complete_sbx). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

/* A sandbox fresh from mkdir lacks what only the server knows (cpuCount,
 * memoryMB, diskSizeMB are not in a create reply).  Only info and info.json
 * show those, so they complete it with one GET on first use, and mkdir stays
 * a single request.  A read must not fail just because the backend is down:
 * on any error but "gone" the partial entry is shown. */
static int complete_sbx(struct sbxfs *fs, struct sbx_listing **lp, struct sbx **sp)
{
	struct sbx *full = NULL;
	char *id = strdup((*sp)->id);
	int err;

	if (id == NULL)
		return 0;
	err = store_complete(&fs->store, id, &full);
	if (err == -ENOENT) {
		listing_put(*lp);
		*lp = NULL;
		free(id);
		return -ENOENT;
	}
	if (err < 0) {
		free(id);
		return 0;
	}
	/* Serve the completed entry even if the listing meanwhile moved on. */
	listing_put(*lp);
	*lp = NULL;
	err = cache_get(fs->store.cache, lp, NULL);
	if (err == 0 && (*sp = listing_find(*lp, id)) == NULL) {
		listing_put(*lp);
		*lp = NULL;
		err = -ENOENT;
	}
	sbx_unref(full);
	free(id);
	return err;
}

int resolve_sbx(struct sbxfs *fs, const struct path_node *n, bool complete,
		struct sbx_listing **lp, struct sbx **sp)
{
	char name[NAME_MAX + 1];
	int err;

	if (path_span_copy(n->sbx, name, sizeof(name)) < 0)
		return -ENOENT;
	err = cache_get(fs->store.cache, lp, NULL);
	if (err < 0)
		return err;
	*sp = listing_find(*lp, name);
	if (*sp == NULL) {
		listing_put(*lp);
		*lp = NULL;
		return -ENOENT;
	}
	if ((*sp)->partial && complete)
		return complete_sbx(fs, lp, sp);
	return 0;
}

int resolve_sbx_id(struct sbxfs *fs, const char *id, struct sbx_listing **lp,
		   struct sbx **sp)
{
	int err = cache_get(fs->store.cache, lp, NULL);

	if (err < 0)
		return err;
	*sp = listing_find(*lp, id);
	if (*sp == NULL || strcmp((*sp)->id, id) != 0) {
		listing_put(*lp);
		*lp = NULL;
		return -ENOENT;
	}
	return 0;
}

int resolve_target(struct sbxfs *fs, const struct path_node *n,
		   const struct open_file *h, struct sbx **out)
{
	const char *id = h ? h->pin.sbx_id : NULL;
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	/* To the sandbox that was opened, never to one that took its name
	 * since. */
	err = id ? resolve_sbx_id(fs, id, &l, &s) : resolve_sbx(fs, n, false, &l, &s);
	if (err < 0)
		return err;
	*out = sbx_ref(s);
	listing_put(l);
	return 0;
}

int resolve_sbx_stat(struct sbxfs *fs, const struct path_node *n, const char *path,
		     sbx_stat_fn fill, struct stat *st)
{
	struct sbx_listing *l;
	struct sbx *s;
	int err;

	if ((err = resolve_sbx(fs, n, false, &l, &s)) < 0)
		return err;
	err = fill(fs, s, n, path, st);
	listing_put(l);
	return err;
}
