/* Durable registry state: STATE_DIR/sbxd.db, an SQLite database in WAL mode
 * with synchronous=FULL.  One row per sandbox; every registry change is one
 * transaction, committed (and synced) before the registry applies it in
 * memory, so before any reply.  Concurrent changes share a commit: one
 * writer thread takes every change queued while the previous commit was
 * being synced and commits them together. */
#ifndef SBXD_PERSIST_H
#define SBXD_PERSIST_H

#include "base/log.h"
#include "registry/registry.h"

#define PERSIST_DB_FILE "sbxd.db"
#define PERSIST_OLD_FILE "sandboxes.json"        /* older sbxd: a JSON snapshot */
#define PERSIST_IMPORTED_FILE "sandboxes.json.imported"

struct persist;

/* Opens (creating) DIR/sbxd.db and loads it into `r`, expiring sandboxes
 * that ended while sbxd was down (and saving that).  A new database first
 * imports DIR/sandboxes.json, in the same transaction, and renames the file
 * to sandboxes.json.imported.  Starts no thread.  `dir` is copied, `log`
 * borrowed.  Returns the handle and *kept (sandboxes loaded), or NULL with
 * *err set (caller frees): a corrupt or unreadable database, naming the
 * path and SQLite's message. */
struct persist *persist_open(struct reg *r, const char *dir, int64_t now_ms,
			     const struct slog *log, int *kept, char **err);

/* Starts the writer thread and makes it the registry's journal: from here
 * on every change commits before it applies.  0 or -errno. */
int persist_start(struct persist *p);

/* Stops the writer (after the queued changes), closes the database.  Call
 * once nothing changes the registry any more.  NULL is a no-op. */
void persist_close(struct persist *p);

#endif
