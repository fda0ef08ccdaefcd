/* Durable registry state on SQLite; see persist.h.
 *
 * Schema version 1 (PRAGMA user_version; later versions add tables):
 *   meta(key, value)             next_seq: sequences are never reused,
 *                                imported: sandboxes.json was taken in
 *   sandboxes(seq, id, record)   one row per sandbox, `record` its stored
 *                                JSON form (model.c's SBX_VIEW_STORED)
 *
 * The database is opened in exclusive locking mode: a second sbxd on the
 * same state directory fails at start instead of sharing it.
 */
#include "registry/persist.h"

#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

static const char SCHEMA[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE sandboxes(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	" record TEXT NOT NULL);"
	"INSERT INTO meta VALUES('next_seq', 1);"
	"PRAGMA user_version = 1;";

/* A queued commit: lives on the stack of the thread waiting for it. */
struct pending {
	const struct reg_change *c;
	size_t n;
	int rc;
	int done;
	struct pending *next;
};

struct persist {
	struct reg *reg;
	sqlite3 *db;
	sqlite3_stmt *put, *del, *seq;
	char *path;
	const struct slog *log;
	pthread_t thread;
	int started;
	/* Guards the queue, `stop` and every pending's rc/done.  Never taken
	 * with the registry lock held: the registry commits with it dropped. */
	pthread_mutex_t lock;
	pthread_cond_t wake;        /* the writer: work queued, or stop */
	pthread_cond_t done;        /* the waiters: a batch finished */
	struct pending *head, **tail;
	int stop;
};

/* SQLite's result as -errno: what the disk said when it said something. */
static int sql_errno(sqlite3 *db, int rc)
{
	int sys = sqlite3_system_errno(db);

	switch (rc & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -ETIMEDOUT;
	case SQLITE_IOERR: case SQLITE_CANTOPEN: return sys > 0 ? -sys : -EIO;
	default: return -EIO;
	}
}

static int fail(char **err, const char *path, const char *what, const char *msg)
{
	if (err && asprintf(err, "%s: %s%s%s", path, what, *what ? ": " : "", msg) < 0)
		*err = NULL;
	return -EIO;
}

/* SQLite's message, with the system's when it has one ("disk I/O error"
 * alone does not say the disk is read-only). */
static const char *db_msg(sqlite3 *db, char *buf, size_t len)
{
	int sys = sqlite3_system_errno(db);

	if (sys > 0)
		snprintf(buf, len, "%s (%s)", sqlite3_errmsg(db), strerror(sys));
	else
		snprintf(buf, len, "%s", sqlite3_errmsg(db));
	return buf;
}

static int db_fail(struct persist *p, char **err, const char *what)
{
	char buf[256];

	return fail(err, p->path, what, db_msg(p->db, buf, sizeof(buf)));
}

static void log_fail(struct persist *p)
{
	char buf[256];

	slog_error(p->log, "saving state in %s: %s", p->path, db_msg(p->db, buf, sizeof(buf)));
}

/* ---- one batch of changes ---------------------------------------------- */

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int apply_change(struct persist *p, const struct reg_change *c)
{
	sqlite3_stmt *st = c->record ? p->put : p->del;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)c->seq);
	if (c->record) {
		sqlite3_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, c->record, -1, SQLITE_STATIC);
	}
	rc = step_reset(st);
	if (rc == SQLITE_OK && c->record) {
		sqlite3_bind_int64(p->seq, 1, (sqlite3_int64)c->seq + 1);
		rc = step_reset(p->seq);
	}
	return rc;
}

/* Commits the changes of `list` (its first `max` entries) in one
 * transaction.  Returns 0 or -errno, logged (before the rollback resets
 * SQLite's message). */
static int commit_list(struct persist *p, const struct pending *list, size_t max)
{
	int rc = sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	for (size_t k = 0; rc == SQLITE_OK && list && k < max; list = list->next, k++)
		for (size_t i = 0; rc == SQLITE_OK && i < list->n; i++)
			rc = apply_change(p, &list->c[i]);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	int e = sql_errno(p->db, rc);
	log_fail(p);
	if (!sqlite3_get_autocommit(p->db))
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

/* Commits a batch together; if that fails, each change alone, so one bad
 * change does not fail the others.  Sets every rc; no lock held. */
static void commit_batch(struct persist *p, struct pending *batch)
{
	int rc = commit_list(p, batch, SIZE_MAX);

	if (rc == 0 || !batch->next) {
		for (struct pending *q = batch; q; q = q->next)
			q->rc = rc;
		return;
	}
	for (struct pending *q = batch; q; q = q->next)
		q->rc = commit_list(p, q, 1);
}

/* The writer: every change queued during one commit goes into the next. */
static void *run(void *arg)
{
	struct persist *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		struct pending *batch = p->head;
		if (!batch)
			break;
		p->head = NULL;
		p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		commit_batch(p, batch);
		pthread_mutex_lock(&p->lock);
		/* A waiter may return (and its pending vanish) once done is set. */
		for (struct pending *q = batch, *next; q; q = next) {
			next = q->next;
			q->done = 1;
		}
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The registry's journal: queues the changes and waits for their commit. */
static int journal_commit(void *ctx, const struct reg_change *c, size_t n)
{
	struct persist *p = ctx;
	struct pending me = { c, n, 0, 0, NULL };

	pthread_mutex_lock(&p->lock);
	*p->tail = &me;
	p->tail = &me.next;
	pthread_cond_signal(&p->wake);
	while (!me.done)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return me.rc;
}

/* ---- open, load, import ------------------------------------------------ */

static int open_db(struct persist *p, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(p->path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK)
		return p->db ? db_fail(p, err, "cannot open") : fail(err, p->path, "", "cannot open");
	/* SQLite falls back to read-only by itself; a journal cannot. */
	if (sqlite3_db_readonly(p->db, "main") == 1)
		return fail(err, p->path, "", "read-only: the file or its file system refuses writes");
	sqlite3_busy_timeout(p->db, 2000);
	/* Sandboxes hold envd tokens: owner only, as the WAL will be. */
	struct stat sb;
	if (stat(p->path, &sb) == 0 && (sb.st_mode & 0777) != 0600 && chmod(p->path, 0600) < 0)
		return fail(err, p->path, "cannot chmod", strerror(errno));
	/* The first statements read the header: a corrupt file fails here. */
	if (sqlite3_exec(p->db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous=FULL",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(p, err, "");
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	rc = mode && strcmp(mode, "wal") == 0 ? 0 : fail(err, p->path, "", "cannot use WAL mode");
	sqlite3_finalize(st);
	return rc;
}

static int schema_version(struct persist *p, int *version, char **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(p->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(p, err, "");
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (*version > SCHEMA_VERSION) {
		char msg[96];

		snprintf(msg, sizeof(msg), "schema version %d is newer than this sbxd's (%d)",
			 *version, SCHEMA_VERSION);
		return fail(err, p->path, "", msg);
	}
	return 0;
}

/* The rows as a reg_dump()-shaped document (caller owns). */
static int read_rows(struct persist *p, json_t **doc, char **err)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	json_int_t next = 1;
	int rc;

	if (sqlite3_prepare_v2(p->db, "SELECT value FROM meta WHERE key='next_seq'", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		next = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(p->db, "SELECT seq, record FROM sandboxes ORDER BY seq", -1, &st,
			       NULL) != SQLITE_OK) {
		json_decref(arr);
		return db_fail(p, err, "");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 1);
		json_t *o = text ? json_loads(text, 0, NULL) : NULL;

		if (!o) {
			char what[64];

			snprintf(what, sizeof(what), "sandbox row %lld",
				 (long long)sqlite3_column_int64(st, 0));
			sqlite3_finalize(st);
			json_decref(arr);
			return fail(err, p->path, what, "malformed record");
		}
		json_array_append_new(arr, o);
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(p, err, "");
		sqlite3_finalize(st);
		json_decref(arr);
		return rc;
	}
	sqlite3_finalize(st);
	*doc = json_pack("{s:i, s:I, s:o}", "version", 1, "nextSeq", next, "sandboxes", arr);
	return *doc ? 0 : -ENOMEM;
}

/* The old state file as a document, or an empty one when there is none. */
static int read_old(const char *dir, json_t **doc, int *found, char **err)
{
	char path[4096];
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_OLD_FILE);
	*found = access(path, F_OK) == 0;
	if (!*found) {
		*doc = json_pack("{s:i, s:i, s:[]}", "version", 1, "nextSeq", 1, "sandboxes");
		return *doc ? 0 : -ENOMEM;
	}
	*doc = json_load_file(path, 0, &jerr);
	if (!*doc) {
		if (err && asprintf(err, "%s:%d: %s", path, jerr.line, jerr.text) < 0)
			*err = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Makes the rows exactly the registry's (which restore just expired) in one
 * transaction, with the schema first on a new database. */
static int write_all(struct persist *p, int fresh, int imported, char **err)
{
	json_t *doc = reg_dump(p->reg), *o;
	size_t i;
	int rc = sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc == SQLITE_OK && fresh)
		rc = sqlite3_exec(p->db, SCHEMA, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(p->db, "DELETE FROM sandboxes", NULL, NULL, NULL);
	if (rc == SQLITE_OK && imported)
		rc = sqlite3_exec(p->db, "INSERT OR REPLACE INTO meta VALUES('imported', 1)",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_prepare_v2(p->db, "INSERT OR REPLACE INTO sandboxes VALUES(?,?,?)",
						       -1, &p->put, NULL)) == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->db, "UPDATE meta SET value = max(value, ?) "
					"WHERE key = 'next_seq'", -1, &p->seq, NULL);
	json_array_foreach(json_object_get(doc, "sandboxes"), i, o) {
		char *text = json_dumps(o, JSON_COMPACT);
		struct reg_change c = {
			(uint64_t)json_integer_value(json_object_get(o, "seq")),
			json_string_value(json_object_get(o, "sandboxID")), text,
		};

		if (rc == SQLITE_OK)
			rc = text ? apply_change(p, &c) : SQLITE_NOMEM;
		free(text);
	}
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(p->seq, 1, json_integer_value(json_object_get(doc, "nextSeq")));
		rc = step_reset(p->seq);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	json_decref(doc);
	if (rc == SQLITE_OK)
		return 0;
	rc = db_fail(p, err, "cannot write");
	if (!sqlite3_get_autocommit(p->db))
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Renames sandboxes.json aside, durably, once its content is committed. */
static int rename_old(const char *dir, char **err)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/%s", dir, PERSIST_OLD_FILE);
	snprintf(to, sizeof(to), "%s/%s", dir, PERSIST_IMPORTED_FILE);
	if (access(from, F_OK) < 0)
		return 0;
	if (rename(from, to) < 0)
		return fail(err, from, "cannot rename", strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Loads the database (or imports the old file into a new one). */
static int load(struct persist *p, const char *dir, int64_t now_ms, int *kept, char **err)
{
	json_t *doc = NULL;
	char *msg = NULL;
	int version = 0, found = 0, rc;

	rc = open_db(p, err);
	if (rc == 0)
		rc = schema_version(p, &version, err);
	if (rc == 0)
		rc = version == 0 ? read_old(dir, &doc, &found, err) : read_rows(p, &doc, err);
	if (rc < 0)
		return rc;
	rc = reg_restore(p->reg, doc, now_ms, &msg);
	json_decref(doc);
	if (rc < 0) {
		char old[4096];

		snprintf(old, sizeof(old), "%s/%s", dir, PERSIST_OLD_FILE);
		fail(err, found ? old : p->path, "", msg ? msg : strerror(-rc));
		free(msg);
		return rc;
	}
	*kept = rc;
	rc = write_all(p, version == 0, found, err);
	if (rc == 0 && found)
		slog_info(p->log, "imported %s/%s into %s", dir, PERSIST_OLD_FILE, p->path);
	/* Also after a crash between the import's commit and the rename. */
	if (rc == 0)
		rc = rename_old(dir, err);
	if (rc == 0 && sqlite3_prepare_v2(p->db, "DELETE FROM sandboxes WHERE seq = ?", -1,
					  &p->del, NULL) != SQLITE_OK)
		rc = db_fail(p, err, "");
	return rc;
}

struct persist *persist_open(struct reg *r, const char *dir, int64_t now_ms,
			     const struct slog *log, int *kept, char **err)
{
	struct persist *p = calloc(1, sizeof(*p));

	if (err)
		*err = NULL;
	if (!p)
		return NULL;
	p->reg = r;
	p->log = log;
	p->tail = &p->head;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	if (asprintf(&p->path, "%s/%s", dir, PERSIST_DB_FILE) < 0) {
		p->path = NULL;
		persist_close(p);
		return NULL;
	}
	if (load(p, dir, now_ms, kept, err) < 0) {
		persist_close(p);
		return NULL;
	}
	return p;
}

int persist_start(struct persist *p)
{
	if (pthread_create(&p->thread, NULL, run, p) != 0)
		return -EAGAIN;
	p->started = 1;
	reg_set_journal(p->reg, journal_commit, p);
	return 0;
}

void persist_close(struct persist *p)
{
	if (!p)
		return;
	if (p->started) {
		reg_set_journal(p->reg, NULL, NULL);
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	sqlite3_finalize(p->put);
	sqlite3_finalize(p->del);
	sqlite3_finalize(p->seq);
	sqlite3_close(p->db);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p);
}
