/* Persistence of the registry as one JSON file in the state directory
 * (STATE_DIR/sandboxes.json), rewritten atomically after changes. */
#ifndef SBXD_PERSIST_H
#define SBXD_PERSIST_H

#include "log.h"
#include "registry.h"

struct persist;

/* Writes the registry now: temp file, fsync, rename, fsync dir.
 * Returns 0 or -errno. */
int persist_save(struct reg *r, const char *dir);

/* Loads STATE_DIR/sandboxes.json into `r` if it exists (expiring sandboxes
 * that ended while down).  Returns the number kept, or -errno with *err set
 * (caller frees). */
int persist_load(struct reg *r, const char *dir, int64_t now_ms, char **err);

/* Starts a writer thread that saves after every registry change; bursts of
 * changes coalesce into one write.  `dir` is copied, `log` borrowed. */
struct persist *persist_start(struct reg *r, const char *dir, const struct slog *log);

/* Writes any pending change, stops the thread; NULL is a no-op. */
void persist_stop(struct persist *p);

#endif
