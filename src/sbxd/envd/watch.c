/* inotify watches; see watch.h. */
#include "envd/watch.h"

#include "envd/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define MASK (IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
	      IN_ONLYDIR | IN_EXCL_UNLINK)

struct wdir {
	int wd;
	char *rel;                      /* "" for the watched directory itself */
};

struct iwatch {
	int fd;
	int root;                       /* our own O_PATH copy */
	char base[PATH_MAX];
	bool recursive;
	struct wdir *dirs;
	size_t n, cap;
};

/* Watches base/rel.  0 or -errno. */
static int add_dir(struct iwatch *w, const char *rel)
{
	char path[PATH_MAX], proc[64];
	int fd, wd;

	if (w->n >= IW_MAX_DIRS)
		return -EMFILE;
	if (snprintf(path, sizeof(path), "%s%s%s", w->base, *rel ? "/" : "", rel) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = ep_open(w->root, path, O_PATH | O_DIRECTORY | (*rel ? O_NOFOLLOW : 0), 0);
	if (fd < 0)
		return fd;
	/* The descriptor is already resolved inside the root; inotify takes
	 * a path, and this one names exactly it. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(w->fd, proc, MASK);
	close(fd);
	if (wd < 0)
		return errno == ENOSPC ? -EMFILE : -errno;
	if (w->n == w->cap) {
		struct wdir *d = realloc(w->dirs, (w->cap = w->cap ? w->cap * 2 : 16) * sizeof(*d));

		if (!d)
			return -ENOMEM;
		w->dirs = d;
	}
	if (!(w->dirs[w->n].rel = strdup(rel)))
		return -ENOMEM;
	w->dirs[w->n++].wd = wd;
	return 0;
}

/* Adds the directories below base/rel, depth first, up to the limits. */
static void add_tree(struct iwatch *w, const char *rel, int depth)
{
	char path[PATH_MAX], child[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd;

	if (snprintf(path, sizeof(path), "%s%s%s", w->base, *rel ? "/" : "", rel) >=
	    (int)sizeof(path) || depth > EP_MAX_DEPTH ||
	    (fd = ep_open(w->root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)) < 0)
		return;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) && w->n < IW_MAX_DIRS) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >=
		    (int)sizeof(child))
			continue;
		if (add_dir(w, child) == 0)
			add_tree(w, child, depth + 1);
	}
	closedir(d);
}

int iwatch_new(int root, const char *path, bool recursive, struct iwatch **out)
{
	struct iwatch *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->root = fcntl(root, F_DUPFD_CLOEXEC, 3);
	snprintf(w->base, sizeof(w->base), "%s", strcmp(path, "/") ? path : "");
	w->recursive = recursive;
	if (w->fd < 0 || w->root < 0)
		rc = errno == EMFILE || errno == ENFILE ? -EMFILE : -errno;
	else
		rc = add_dir(w, "");
	if (rc < 0) {
		iwatch_free(w);
		return rc;
	}
	if (recursive)
		add_tree(w, "", 0);
	*out = w;
	return 0;
}

void iwatch_free(struct iwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->root >= 0)
		close(w->root);
	for (size_t i = 0; i < w->n; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	free(w);
}

int iwatch_fd(const struct iwatch *w)
{
	return w->fd;
}

static const char *dir_of(const struct iwatch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->dirs[i].wd == wd)
			return w->dirs[i].rel;
	return NULL;
}

/* One inotify event as envd's events, in envd's order of operations. */
static void add_events(struct iwatch *w, const struct inotify_event *ev, json_t *out,
		       size_t max)
{
	static const struct { uint32_t mask; const char *type; } ops[] = {
		{ IN_CREATE | IN_MOVED_TO, "EVENT_TYPE_CREATE" },
		{ IN_MOVED_FROM, "EVENT_TYPE_RENAME" },
		{ IN_ATTRIB, "EVENT_TYPE_CHMOD" },
		{ IN_MODIFY, "EVENT_TYPE_WRITE" },
		{ IN_DELETE, "EVENT_TYPE_REMOVE" },
	};
	const char *dir = dir_of(w, ev->wd);
	char name[PATH_MAX];

	if (!dir || !ev->len)
		return;
	snprintf(name, sizeof(name), "%s%s%s", dir, *dir ? "/" : "", ev->name);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if ((ev->mask & ops[i].mask) && json_array_size(out) < max)
			json_array_append_new(out, json_pack("{s:s, s:s}", "name", name,
							     "type", ops[i].type));
	if (w->recursive && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
	    add_dir(w, name) == 0)
		add_tree(w, name, 1);
}

void iwatch_drain(struct iwatch *w, json_t *events, size_t max)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			add_events(w, ev, events, max);
			p += sizeof(*ev) + ev->len;
		}
	}
}
