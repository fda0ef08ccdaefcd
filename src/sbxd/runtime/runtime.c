/* The runtime's front: the backend table, the sandboxes it runs and the
 * entry points of runtime.h that do not depend on the backend. */
#include "runtime/rt_priv.h"

#include "base/util.h"
#include "common/clock.h"
#include "runtime/launcher.h"
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SANDBOX_UID 1000000     /* see sbxd(8), --sandbox-uid */

const char *rt_kind_name(enum rt_kind kind)
{
	static const char *const names[] = { "record", "dir", "bwrap" };

	return (unsigned)kind < 3 ? names[kind] : "?";
}

enum rt_kind rt_kind(const struct rt *rt)
{
	return rt->kind;
}

/* The first executable `name` on $PATH into out; false if none. */
bool rt_find_program(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *save;
	bool found = false;

	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
	     d = strtok_r(NULL, ":", &save))
		found = (size_t)snprintf(out, outlen, "%s/%s", d, name) < outlen &&
			access(out, X_OK) == 0;
	free(copy);
	return found;
}

/* sbxd-init: $SBXD_INIT, next to the program (installed side by side or in
 * the build tree), else where meson installs it. */
static bool find_init(char *out, size_t outlen)
{
	/* sbxd's folder (build tree and side by side), sbxfs's in the build
	 * tree (src/sbxfs), and bin/ or sbin/ next to libexec/. */
	static const char *const rel[] = { "sbxd-init", "../sbxd/sbxd-init",
					   "../libexec/sbxd-init" };
	const char *env = getenv("SBXD_INIT");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* bwrap binds it from an absolute path. */
	if (env && *env)
		return outlen >= PATH_MAX && realpath(env, out) && access(out, X_OK) == 0;
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(*rel); i++)
			if ((size_t)snprintf(out, outlen, "%s/%s", self, rel[i]) < outlen &&
			    access(out, X_OK) == 0)
				return true;
	}
	snprintf(out, outlen, "%s", SBXD_INIT_PATH);
	return access(out, X_OK) == 0;
}

/* The anchors bwrap.c binds a sandbox's root and init at (in a mount
 * namespace of the launcher's own): an empty directory and file. */
static int make_anchors(void)
{
	int fd;

	if ((mkdir(RT_ANCHOR_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(RT_ANCHOR_ROOT, 0755) < 0 && errno != EEXIST))
		return -errno;
	fd = open(RT_ANCHOR_INIT, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0755);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* ROOTS: STATE/sandboxes, else a private temp dir. */
static int make_roots(struct rt *rt, const struct rt_config *cfg, char **err)
{
	if (cfg->kind == RT_BWRAP && rt->mapped && make_anchors() < 0) {
		snprintf(rt->roots, sizeof(rt->roots), "%s", RT_ANCHOR_DIR);
		goto fail;
	}
	if (cfg->state_dir) {
		snprintf(rt->roots, sizeof(rt->roots), "%s/sandboxes", cfg->state_dir);
		if (mkdir(rt->roots, 0711) < 0 && errno != EEXIST)
			goto fail;
		return 0;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(rt->roots, sizeof(rt->roots), "%s/sbxd-roots-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(rt->roots) || chmod(rt->roots, 0711) < 0)
		goto fail;
	rt->private_roots = true;
	return 0;
fail:
	if (asprintf(err, "runtime: %s: %s", rt->roots, strerror(errno)) < 0)
		*err = NULL;
	return -errno;
}

static int setup_bwrap(struct rt *rt, char **err)
{
	const char *why = NULL;

	if (!rt_find_program("bwrap", rt->bwrap, sizeof(rt->bwrap)))
		why = "bwrap not found on PATH (install the bubblewrap package)";
	else if (!find_init(rt->init, sizeof(rt->init)))
		why = "sbxd-init not found (set SBXD_INIT or install it next to sbxd)";
	if (why) {
		*err = strdup(why);
		return -ENOENT;
	}
	net_pick(rt);
	cg_detect(&rt->cgs);
	rt->launcher = launcher_new();
	if (!rt->launcher) {
		*err = strdup("cannot start the launcher thread");
		return -EAGAIN;
	}
	return 0;
}

struct rt *rt_new(const struct rt_config *cfg, char **err)
{
	struct rt *rt = calloc(1, sizeof(*rt));

	*err = NULL;
	if (!rt) {
		*err = strdup("out of memory");
		return NULL;
	}
	pthread_mutex_init(&rt->lock, NULL);
	rt->kind = cfg->kind;
	rt->ops = cfg->kind == RT_BWRAP ? &rt_bwrap_ops
		: cfg->kind == RT_DIR ? &rt_dir_ops : &rt_record_ops;
	rt->mapped = geteuid() == 0;
	rt->base_uid = cfg->sandbox_uid ? cfg->sandbox_uid : DEFAULT_SANDBOX_UID;
	rt->base_gid = rt->base_uid;
	rt->idmap_ns = -1;
	if ((cfg->kind == RT_BWRAP && setup_bwrap(rt, err) < 0) ||
	    (cfg->kind != RT_RECORD && make_roots(rt, cfg, err) < 0)) {
		launcher_free(rt->launcher);
		pthread_mutex_destroy(&rt->lock);
		free(rt);
		return NULL;
	}
	if (cfg->kind != RT_RECORD)
		rootfs_setup(rt);
	return rt;
}

static void box_free(struct rt_box *b)
{
	json_decref(b->env);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void rt_free(struct rt *rt)
{
	if (!rt)
		return;
	for (struct rt_box *b = rt->boxes, *next; b; b = next) {
		next = b->next;
		pthread_mutex_lock(&b->lock);
		rt->ops->stop(rt, b);
		if (rt->private_roots)
			rootfs_remove(rt, b);
		else if (b->overlay)
			umount2(b->root, MNT_DETACH);   /* mounted again at restore */
		pthread_mutex_unlock(&b->lock);
		box_free(b);
	}
	if (rt->private_roots)
		rmdir(rt->roots);
	rootfs_teardown(rt);
	launcher_free(rt->launcher);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

/* ---- the box list ------------------------------------------------------ */

static struct rt_box *find(struct rt *rt, const char *id)
{
	for (struct rt_box *b = rt->boxes; b; b = b->next)
		if (strcmp(b->id, id) == 0)
			return b;
	return NULL;
}

/* A reference to box id (release with box_put), or NULL. */
struct rt_box *box_get(struct rt *rt, const char *id)
{
	pthread_mutex_lock(&rt->lock);
	struct rt_box *b = find(rt, id);
	if (b)
		b->refs++;
	pthread_mutex_unlock(&rt->lock);
	return b;
}

void box_put(struct rt *rt, struct rt_box *b)
{
	pthread_mutex_lock(&rt->lock);
	bool last = --b->refs == 0;
	pthread_mutex_unlock(&rt->lock);
	if (last)
		box_free(b);
}

/* Unlinks b; the list's reference goes with it.  rt->lock held. */
static void unlink_box(struct rt *rt, struct rt_box *b)
{
	for (struct rt_box **pp = &rt->boxes; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			b->gone = true;
			return;
		}
}

/* ROOTS/ID and ROOTS/ID/root into b; false when too long. */
static bool box_paths(const struct rt *rt, struct rt_box *b, const char *id)
{
	return (size_t)snprintf(b->dir, sizeof(b->dir), "%s/%s", rt->roots, id) <
		       sizeof(b->dir) &&
	       (size_t)snprintf(b->root, sizeof(b->root), "%s/root", b->dir) < sizeof(b->root);
}

/* A new box, linked and locked, with the list's reference and the
 * caller's; NULL with *rc (-EEXIST, -ENOMEM, -EINVAL). */
static struct rt_box *add_box(struct rt *rt, const struct rt_box_spec *spec, int *rc)
{
	struct rt_box *b;

	*rc = util_valid_id(spec->id) ? 0 : -EINVAL;
	if (*rc < 0)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (b)
		pthread_mutex_init(&b->lock, NULL);
	if (!b || (spec->env_vars && !(b->env = json_deep_copy(spec->env_vars)))) {
		if (b)
			box_free(b);
		*rc = -ENOMEM;
		return NULL;
	}
	snprintf(b->id, sizeof(b->id), "%s", spec->id);
	b->cpus = spec->cpu_count > 0 ? spec->cpu_count : 1;
	b->last_ms = clock_mono_ms();
	if (!box_paths(rt, b, spec->id)) {
		box_free(b);
		*rc = -ENAMETOOLONG;
		return NULL;
	}
	b->ctl = b->bwrap_pidfd = b->init_pidfd = b->net_exit = b->net_ready = -1;
	b->refs = 2;
	pthread_mutex_lock(&rt->lock);
	if (find(rt, spec->id)) {
		*rc = -EEXIST;
	} else {
		pthread_mutex_lock(&b->lock);
		b->next = rt->boxes;
		rt->boxes = b;
	}
	pthread_mutex_unlock(&rt->lock);
	if (*rc < 0) {
		box_free(b);
		return NULL;
	}
	return b;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int start_box(struct rt *rt, const struct rt_box_spec *spec, bool restore,
		     bool paused, char *err, size_t errlen)
{
	int rc;

	if (errlen)
		err[0] = '\0';
	if (rt->kind == RT_RECORD)
		return 0;
	struct rt_box *b = add_box(rt, spec, &rc);
	if (!b)
		return rc;
	rc = rt->ops->start(rt, b, spec, err, errlen);
	if (rc == 0 && paused && (rc = rt->ops->freeze(rt, b)) < 0)
		rt->ops->stop(rt, b);
	if (rc < 0) {
		if (!restore)
			rootfs_remove(rt, b);
		pthread_mutex_lock(&rt->lock);
		unlink_box(rt, b);
		b->refs--;
		pthread_mutex_unlock(&rt->lock);
	}
	pthread_mutex_unlock(&b->lock);
	box_put(rt, b);
	return rc;
}

int rt_create(struct rt *rt, const struct rt_box_spec *spec, char *err, size_t errlen)
{
	return start_box(rt, spec, false, false, err, errlen);
}

int rt_restore(struct rt *rt, const struct rt_box_spec *spec, bool paused, char *err,
	       size_t errlen)
{
	return start_box(rt, spec, true, paused, err, errlen);
}

/* Runs op on box id under its lock. */
static int with_box(struct rt *rt, const char *id, int (*op)(struct rt *, struct rt_box *))
{
	if (rt->kind == RT_RECORD)
		return 0;
	struct rt_box *b = box_get(rt, id);
	if (!b)
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	int rc = b->gone ? -ENOENT : op(rt, b);
	pthread_mutex_unlock(&b->lock);
	box_put(rt, b);
	return rc;
}

int rt_freeze(struct rt *rt, const char *id)
{
	return with_box(rt, id, rt->ops->freeze);
}

int rt_thaw(struct rt *rt, const char *id)
{
	return with_box(rt, id, rt->ops->thaw);
}

int rt_destroy(struct rt *rt, const char *id)
{
	if (rt->kind == RT_RECORD)
		return 0;
	pthread_mutex_lock(&rt->lock);
	struct rt_box *b = find(rt, id);
	if (b) {
		unlink_box(rt, b);  /* the list's reference is now ours */
	}
	pthread_mutex_unlock(&rt->lock);
	if (!b)
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	rt->ops->stop(rt, b);
	int rc = rootfs_remove(rt, b);
	pthread_mutex_unlock(&b->lock);
	box_put(rt, b);
	return rc;
}

int rt_sweep(struct rt *rt, bool (*keep)(void *ctx, const char *id), void *ctx)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (rt->kind == RT_RECORD || !(d = opendir(rt->roots)))
		return 0;
	while ((e = readdir(d))) {
		struct rt_box gone = { .ctl = -1, .bwrap_pidfd = -1, .init_pidfd = -1,
				       .net_exit = -1, .net_ready = -1 };

		if (e->d_name[0] == '.' || !util_valid_id(e->d_name))
			continue;
		pthread_mutex_lock(&rt->lock);
		bool known = find(rt, e->d_name) != NULL;
		pthread_mutex_unlock(&rt->lock);
		if (known || keep(ctx, e->d_name))
			continue;
		if (!box_paths(rt, &gone, e->d_name))
			continue;
		/* A create cut short by sbxd's death can leave bwrap's child
		 * waiting for its dead parent; cg_new ends what is left in the
		 * sandbox's cgroups, cg_free removes them. */
		if (rt->kind == RT_BWRAP) {
			int rc;

			cg_free(cg_new(&rt->cgs, e->d_name, 0, 0, 0, &rc));
		}
		/* An overlay left mounted by a crash goes first. */
		gone.overlay = true;
		if (rootfs_remove(rt, &gone) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* ---- for envd ---------------------------------------------------------- */

static int open_root(struct rt *rt, struct rt_box *b)
{
	char path[64];
	int fd;

	if (rt->kind == RT_BWRAP) {
		if (b->init_pid <= 0)
			return -ESRCH;
		snprintf(path, sizeof(path), "/proc/%d/root", (int)b->init_pid);
		fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		fd = open(b->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

/* The CPU share is a difference of two samples: a box keeps the last. */
static int sample_usage(struct rt_box *b, struct rt_usage *u)
{
	int64_t now = clock_mono_ms();
	int rc;

	if (!b->cg)
		return -EOPNOTSUPP;
	if ((rc = cg_usage(b->cg, &u->cpu_us, &u->mem, &u->cache)) < 0)
		return rc;
	if (now > b->last_ms && u->cpu_us >= b->last_cpu_us)
		u->cpu_pct = (double)(u->cpu_us - b->last_cpu_us) / 10.0 /
			     (double)(now - b->last_ms) / b->cpus;
	if (u->cpu_pct > 100.0)
		u->cpu_pct = 100.0;
	b->last_cpu_us = u->cpu_us;
	b->last_ms = now;
	return 0;
}

int rt_usage(struct rt *rt, const char *id, struct rt_usage *out)
{
	memset(out, 0, sizeof(*out));
	if (rt->kind != RT_BWRAP)
		return -EOPNOTSUPP;
	struct rt_box *b = box_get(rt, id);
	if (!b)
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	int rc = b->gone ? -ENOENT : sample_usage(b, out);
	pthread_mutex_unlock(&b->lock);
	box_put(rt, b);
	return rc;
}

int rt_root_open(struct rt *rt, const char *id)
{
	if (rt->kind == RT_RECORD)
		return -EOPNOTSUPP;
	return with_box(rt, id, open_root);
}

int rt_user(struct rt *rt, const char *id, const char *user, uid_t *uid, gid_t *gid,
	    const char **home)
{
	unsigned u;

	if (!user || strcmp(user, "user") == 0) {
		u = RT_USER_UID;
		*home = "/home/user";
	} else if (strcmp(user, "root") == 0) {
		u = 0;
		*home = "/root";
	} else {
		return -ENOENT;
	}
	if (rt->kind == RT_RECORD)
		return -EOPNOTSUPP;
	struct rt_box *b = box_get(rt, id);
	if (!b)
		return -ENOENT;
	box_put(rt, b);
	*uid = rootfs_host_uid(rt, u);
	*gid = rootfs_host_gid(rt, u);
	return 0;
}

json_t *rt_info(struct rt *rt)
{
	json_t *o = json_pack("{s:s}", "kind", rt_kind_name(rt->kind));

	if (o && rt->kind != RT_RECORD)
		json_object_set_new(o, "rootfs", json_string(rt->overlay_ok ? "overlay" : "copy"));
	if (!o || rt->kind != RT_BWRAP)
		return o;
	json_t *cg = cg_sys_json(&rt->cgs);
	json_object_update(o, cg);
	json_decref(cg);
	json_object_set_new(o, "disk", json_false());
	json_object_set_new(o, "network", json_string(rt->net_tool[0] ?
		strrchr(rt->net_tool, '/') + 1 : "none"));
	json_object_set_new(o, "sandbox_uid", json_integer(rt->mapped ? (json_int_t)rt->base_uid
								       : (json_int_t)getuid()));
	return o;
}
