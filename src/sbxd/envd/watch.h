/* Directory watches with inotify, for the WatchDir stream and the polled
 * CreateWatcher / GetWatcherEvents / RemoveWatcher.  Events carry the path
 * relative to the watched directory and envd's event type names. */
#ifndef SBXD_ENVD_WATCH_H
#define SBXD_ENVD_WATCH_H

#include <jansson.h>
#include <stdbool.h>

/* A recursive watch adds at most this many directories. */
#define IW_MAX_DIRS 4096

struct iwatch;

/* Watches directory `path` (clean, absolute) below root.  0 and *out, or
 * -ENOENT, -ENOTDIR, -EMFILE (inotify limits), -ENOMEM. */
int iwatch_new(int root, const char *path, bool recursive, struct iwatch **out);
void iwatch_free(struct iwatch *w);
/* The inotify descriptor (non-blocking), for poll. */
int iwatch_fd(const struct iwatch *w);
/* Appends what is pending as FilesystemEvent objects ({"name","type"}),
 * at most `max` in all; never blocks. */
void iwatch_drain(struct iwatch *w, json_t *events, size_t max);

#endif
