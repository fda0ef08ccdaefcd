/* A sandbox's own files: envd calls with their endpoint and the listing
 * cache kept coherent; see files.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/scrub.h"
#include "files_priv.h"
#include "workers.h"
#include "prefetch.h"
#include "model/model.h"
#include "util/log.h"

struct files_ep {
	struct files_ep *next;
	char *id, *token, *domain;
};

/* The strings of an endpoint, copied out for one call. */
struct target {
	struct envdc_target t;
	char *token, *domain;
};

typedef int (*envd_op_fn)(struct files *f, const struct envdc_target *t, void *arg,
			  struct envdc_error *err);

void files_init(struct files *f)
{
	pthread_mutex_init(&f->lock, NULL);
	f->eps = NULL;
	f->own = NULL;
	f->seen = f->seen_last = NULL;
	f->seen_by_path = NULL;
	f->n_seen = 0;
	f->down_id[0] = f->down_state[0] = '\0';
	f->down_ms = 0;
	pthread_mutex_init(&f->slock, NULL);
	pthread_cond_init(&f->scond, NULL);
	f->workers = NULL;
	memset(f->n_workers, 0, sizeof(f->n_workers));
	f->workers_stopped = false;
	f->pf = NULL;
}

static void ep_free(struct files_ep *e)
{
	scrub_remove(e->token);
	explicit_bzero(e->token, strlen(e->token));
	free(e->id);
	free(e->token);
	free(e->domain);
	free(e);
}

void files_fini(struct files *f)
{
	prefetch_free(f->pf);
	f->pf = NULL;
	files_workers_stop(f);
	pthread_cond_destroy(&f->scond);
	pthread_mutex_destroy(&f->slock);
	while (f->own) {
		struct files_own *o = f->own;

		f->own = o->next;
		free(o->id);
		free(o->path);
		free(o);
	}
	while (f->eps) {
		struct files_ep *e = f->eps;

		f->eps = e->next;
		ep_free(e);
	}
	files_seen_free_all(f);
	pthread_mutex_destroy(&f->lock);
}

void files_forget(struct files *f, const char *id)
{
	struct files_ep **pp, *e;

	pthread_mutex_lock(&f->lock);
	for (pp = &f->eps; (e = *pp); pp = &e->next)
		if (strcmp(e->id, id) == 0) {
			*pp = e->next;
			ep_free(e);
			break;
		}
	pthread_mutex_unlock(&f->lock);
	dircache_drop_all(f->dirs, id);
	prefetch_drop(f->pf, id, NULL);
}

/* Copies sandbox id's endpoint out of the table into *t; false when the
 * table has none. */
static bool ep_copy(struct files *f, const char *id, struct files_target *t)
{
	bool found = false;

	pthread_mutex_lock(&f->lock);
	for (struct files_ep *e = f->eps; e && !found; e = e->next)
		if (strcmp(e->id, id) == 0) {
			t->token = strdup(e->token);
			t->domain = strdup(e->domain);
			found = true;
		}
	pthread_mutex_unlock(&f->lock);
	return found;
}

/* Puts a fetched endpoint in the table, replacing the old one. */
static int ep_store(struct files *f, const char *id, const struct sbx_creds *c)
{
	struct files_ep *e = calloc(1, sizeof(*e));

	if (!e || !(e->id = strdup(id)) || !(e->token = strdup(c->envd_access_token)) ||
	    !(e->domain = strdup(c->domain))) {
		if (e) {
			free(e->id);
			free(e->token);
			free(e);
		}
		return -ENOMEM;
	}
	if (e->token[0] && scrub_add(e->token) < 0) {
		free(e->id);
		free(e->token);
		free(e->domain);
		free(e);
		return -ENOMEM;
	}
	files_forget(f, id);   /* the old endpoint, if any */
	pthread_mutex_lock(&f->lock);
	e->next = f->eps;
	f->eps = e;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void files_target_clear(struct files_target *t)
{
	if (t->token)
		explicit_bzero(t->token, strlen(t->token));
	free(t->token);
	free(t->domain);
	memset(t, 0, sizeof(*t));
}

/* Sandbox id's endpoint for one call: from the table unless refetch, else
 * with one GET /sandboxes/{id}. */
int files_target_get(struct files *f, const char *id, bool refetch, struct files_target *t)
{
	struct api_error aerr;
	struct sbx *s = NULL;
	int err;

	memset(t, 0, sizeof(*t));
	t->t.id = id;
	if (refetch || !ep_copy(f, id, t)) {
		if ((err = api_get(f->api, id, &s, &aerr)) < 0)
			return err;
		err = ep_store(f, id, &s->creds);
		sbx_unref(s);
		if (err < 0 || !ep_copy(f, id, t))
			return err < 0 ? err : -ENOENT;
	}
	if (t->token == NULL || t->domain == NULL) {
		files_target_clear(t);
		return -ENOMEM;
	}
	t->t.token = t->token;
	t->t.domain = t->domain;
	return 0;
}

/* envd did not answer for sandbox id (502): ENOENT when the sandbox is
 * gone (its endpoint and listings forgotten), else EHOSTDOWN (paused, or
 * not running yet), noted for the status file.  Either way its listings
 * go: a lookup must not find a name absent from a listing kept from
 * before (and create it locally) while the sandbox is down. */
int files_why_down(struct files *f, const char *id)
{
	struct api_error aerr;
	struct sbx *s = NULL;
	int err = api_get(f->api, id, &s, &aerr);

	if (err == -ENOENT) {
		files_forget(f, id);
		return -ENOENT;
	}
	files_note_down(f, id, err < 0 ? "unreachable"
			: s->state == SBX_STATE_PAUSED ? "paused" : "not answering");
	sbx_unref(s);
	dircache_drop_all(f->dirs, id);
	prefetch_drop(f->pf, id, NULL);
	return -EHOSTDOWN;
}

/* Runs op against sandbox id's envd; a token it rejects (401) is fetched
 * once more, for a sandbox whose token changed (resumed, or reissued). */
static int with_endpoint(struct files *f, const char *id, envd_op_fn op, void *arg)
{
	struct envdc_error eerr;
	struct files_target t;
	int err = 0;

	for (int pass = 0; pass < 2; pass++) {
		if ((err = files_target_get(f, id, pass > 0, &t)) < 0)
			return err;
		err = op(f, &t.t, arg, &eerr);
		files_target_clear(&t);
		if (!(err == -EACCES && eerr.http_status == 401))
			break;
	}
	return err == -EHOSTDOWN ? files_why_down(f, id) : err;
}

/* ---- the operations, each one envd call with its arguments ---- */

struct op_args {
	const char *path, *to;
	uint64_t off, len;
	const struct http_sink *sink;
	uint64_t *got;
	const int *cancel;
	int fd;
	struct fentry **v;
	size_t *n;
};

static int op_list(struct files *f, const struct envdc_target *t, void *arg,
		   struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_list(f->envd, t, a->path, a->v, a->n, err);
}

static int op_stat(struct files *f, const struct envdc_target *t, void *arg,
		   struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_stat(f->envd, t, a->path, *a->v, err);
}

static int op_read(struct files *f, const struct envdc_target *t, void *arg,
		   struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_read(f->envd, t, a->path, a->off, a->len, a->sink, a->got, a->cancel, err);
}

static int op_upload(struct files *f, const struct envdc_target *t, void *arg,
		     struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_upload(f->envd, t, a->path, a->fd, a->len, err);
}

static int op_disk(struct files *f, const struct envdc_target *t, void *arg,
		   struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_disk(f->envd, t, &a->off, &a->len, err);
}

static int op_mkdir(struct files *f, const struct envdc_target *t, void *arg,
		    struct envdc_error *err)
{
	return envdc_mkdir(f->envd, t, ((struct op_args *)arg)->path, err);
}

static int op_remove(struct files *f, const struct envdc_target *t, void *arg,
		     struct envdc_error *err)
{
	return envdc_remove(f->envd, t, ((struct op_args *)arg)->path, err);
}

static int op_move(struct files *f, const struct envdc_target *t, void *arg,
		   struct envdc_error *err)
{
	struct op_args *a = arg;

	return envdc_move(f->envd, t, a->path, a->to, err);
}

/* ---- paths ---- */

const char *files_split(const char *path, char *parent, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	if (n >= size)
		n = size - 1;
	memcpy(parent, path, n);
	parent[n] = '\0';
	return slash ? slash + 1 : path;
}

/* path changed here: its parent's listing keeps the other entries, and a
 * lookup of path asks envd (dircache_forget_name). */
static void parent_changed(struct files *f, const char *id, const char *path)
{
	char parent[PATH_MAX];
	const char *name = files_split(path, parent, sizeof(parent));

	dircache_forget_name(f->dirs, id, parent, name);
	prefetch_drop(f->pf, id, parent);
}

/* ---- reads ---- */

struct list_ctx {
	struct files *f;
	const char *id, *path;
};

/* An entry as lstat(2) sees it: envd gives a symlink its target's type
 * (with symlinkTarget), the mount shows it as a link, so that unlink and
 * rename treat it as one and the kernel follows it. */
static void as_lstat(struct fentry *e)
{
	if (e->symlink_target)
		e->type = FENTRY_SYMLINK;
}

static int fetch_list(void *ctx, struct fentry **v, size_t *n)
{
	struct list_ctx *c = ctx;
	struct op_args a = { .path = c->path, .v = v, .n = n };
	int err = with_endpoint(c->f, c->id, op_list, &a);

	for (size_t i = 0; err == 0 && i < *n; i++)
		as_lstat(&(*v)[i]);
	return err;
}

/* The cached listing, with the files being written here laid over it:
 * they show at once, with the size written so far. */
int files_list(struct files *f, const char *id, const char *path, struct dirlist **out)
{
	struct list_ctx c = { f, id, path };
	struct dirlist *l, *mine;
	struct fentry *v;
	size_t n;
	int err;

	if ((err = dircache_get(f->dirs, id, path, fetch_list, &c, &l)) < 0)
		return err;
	if ((err = files_own_in(f, id, path, &v, &n)) < 0 || n == 0) {
		if (err < 0)
			dirlist_put(l);
		else
			*out = l;
		return err;
	}
	err = dirlist_overlay(l, v, n, &mine);
	fentry_list_free(v, n);
	dirlist_put(l);
	if (err == 0)
		*out = mine;
	return err;
}

int files_lookup(struct files *f, const char *id, const char *path, struct fentry *out)
{
	char parent[PATH_MAX];
	const char *name;
	const struct fentry *e;
	struct dirlist *l;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = files_own_lookup(f, id, path, out)) != 0)
		return err < 0 ? err : 0;
	if (strcmp(path, "/") == 0) {
		out->type = FENTRY_DIR;
		out->mode = 0755;
		out->name = strdup("/");
		return out->name ? 0 : -ENOMEM;
	}
	name = files_split(path, parent, sizeof(parent));
	if ((err = files_list(f, id, parent, &l)) < 0)
		return err;
	if ((e = dirlist_find(l, name)) != NULL || !dirlist_stale(l, name)) {
		err = e ? fentry_copy(e, out) : -ENOENT;
		dirlist_put(l);
		return err;
	}
	/* Changed here since the listing: asked alone, not with the whole
	 * directory again. */
	uint64_t version = l->version;
	struct op_args a = { .path = path, .v = &out };

	dirlist_put(l);
	if ((err = with_endpoint(f, id, op_stat, &a)) == 0)
		as_lstat(out);
	if (err == 0 || err == -ENOENT)
		dircache_settle(f->dirs, id, parent, version, name, err == 0 ? out : NULL);
	return err;
}

int files_list_whole(struct files *f, const char *id, const char *path, struct dirlist **out)
{
	struct dirlist *l;
	int err = files_list(f, id, path, &l);

	if (err == 0 && l->n_stale) {
		dirlist_put(l);
		dircache_drop(f->dirs, id, path, 0);
		err = files_list(f, id, path, &l);
	}
	if (err < 0)
		return err;
	err = dirlist_flatten(l, out);
	dirlist_put(l);
	return err;
}

int files_read(struct files *f, const char *id, const char *path, uint64_t off, uint64_t len,
	       const struct http_sink *sink, uint64_t *got, const int *cancel)
{
	struct op_args a = { .path = path, .off = off, .len = len, .sink = sink, .got = got,
			     .cancel = cancel };

	return with_endpoint(f, id, op_read, &a);
}

int files_disk(struct files *f, const char *id, uint64_t *used, uint64_t *total)
{
	struct op_args a = { 0 };
	int err = with_endpoint(f, id, op_disk, &a);

	*used = a.off;
	*total = a.len;
	return err;
}

/* ---- changes ---- */

int files_upload(struct files *f, const char *id, const char *path, int fd, uint64_t len)
{
	struct op_args a = { .path = path, .fd = fd, .len = len };
	int err;

	if (len > f->max_file)
		return -EFBIG;
	err = with_endpoint(f, id, op_upload, &a);
	parent_changed(f, id, path);   /* even a failure may have changed it */
	files_pages_forget(f, id, path);
	return err;
}

int files_upload_stream(struct files *f, const char *id, const char *path,
			const struct http_source *src, const int *cancel)
{
	struct envdc_error eerr;
	struct files_target t;
	int err;

	/* One pass: a body already given cannot be given again, so a token
	 * refused here fails it (the caller's whole upload fetches anew). */
	if ((err = files_target_get(f, id, false, &t)) < 0)
		return err;
	err = envdc_upload_stream(f->envd, &t.t, path, src, cancel, &eerr);
	files_target_clear(&t);
	parent_changed(f, id, path);
	files_pages_forget(f, id, path);
	return err;
}

int files_mkdir(struct files *f, const char *id, const char *path)
{
	struct op_args a = { .path = path };
	int err = with_endpoint(f, id, op_mkdir, &a);

	parent_changed(f, id, path);
	return err;
}

/* Is directory path empty?  Asked of envd now, not of the cache: a file
 * made inside the sandbox within the TTL must not be removed with it. */
static int dir_empty(struct files *f, const char *id, const char *path)
{
	struct dirlist *l;
	int err;

	dircache_drop(f->dirs, id, path, 0);
	if ((err = files_list_whole(f, id, path, &l)) < 0)
		return err;
	err = l->n ? -ENOTEMPTY : 0;
	dirlist_put(l);
	return err;
}

int files_rmdir(struct files *f, const char *id, const char *path)
{
	struct op_args a = { .path = path };
	struct fentry e;
	int err;

	if (strcmp(path, "/") == 0)
		return -EBUSY;
	if ((err = files_lookup(f, id, path, &e)) < 0)
		return err;
	err = e.type == FENTRY_DIR ? 0 : -ENOTDIR;
	fentry_clear(&e);
	if (err < 0 || (err = dir_empty(f, id, path)) < 0)
		return err;
	err = with_endpoint(f, id, op_remove, &a);
	parent_changed(f, id, path);
	dircache_drop(f->dirs, id, path, 1);
	prefetch_drop(f->pf, id, path);
	return err;
}

int files_unlink(struct files *f, const char *id, const char *path)
{
	struct op_args a = { .path = path };
	struct fentry e;
	int err;

	if ((err = files_lookup(f, id, path, &e)) < 0)
		return err;
	err = e.type == FENTRY_DIR ? -EISDIR : 0;
	fentry_clear(&e);
	if (err < 0)
		return err;
	err = with_endpoint(f, id, op_remove, &a);
	parent_changed(f, id, path);
	files_pages_forget(f, id, path);
	return err;
}

/* What rename(2) says of moving a node of type from over to's entry. */
static int replace_rules(struct files *f, const char *id, enum fentry_type from,
			 const char *to, int noreplace)
{
	struct fentry e;
	int err = files_lookup(f, id, to, &e);

	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return err;
	if (noreplace)
		err = -EEXIST;
	else if (from == FENTRY_DIR && e.type != FENTRY_DIR)
		err = -ENOTDIR;
	else if (from != FENTRY_DIR && e.type == FENTRY_DIR)
		err = -EISDIR;
	else if (e.type == FENTRY_DIR)
		err = dir_empty(f, id, to);
	fentry_clear(&e);
	return err;
}

int files_rename(struct files *f, const char *id, const char *from, const char *to,
		 int noreplace)
{
	struct op_args a = { .path = from, .to = to };
	struct fentry e;
	size_t n = strlen(from);
	int err;

	if ((err = files_lookup(f, id, from, &e)) < 0)
		return err;
	if (strcmp(from, to) == 0) {
		fentry_clear(&e);
		return 0;
	}
	/* A directory into its own subtree. */
	if (e.type == FENTRY_DIR && strncmp(to, from, n) == 0 && to[n] == '/')
		err = -EINVAL;
	else
		err = replace_rules(f, id, e.type, to, noreplace);
	fentry_clear(&e);
	if (err < 0)
		return err;
	err = with_endpoint(f, id, op_move, &a);
	files_pages_forget(f, id, from);
	files_pages_forget(f, id, to);
	parent_changed(f, id, from);
	parent_changed(f, id, to);
	dircache_drop(f->dirs, id, from, 1);
	dircache_drop(f->dirs, id, to, 1);
	return err;
}
