/* What happened in each sandbox, for the logs routes: its lifecycle
 * (created, paused, resumed, killed) and its processes (started, exited),
 * a bounded ring of entries per sandbox.  Thread-safe; nothing blocks. */
#ifndef SBXD_SBXLOG_H
#define SBXD_SBXLOG_H

#include <jansson.h>
#include <stdint.h>

/* Entries kept per sandbox, and sandboxes kept (the oldest go first). */
#define SBXLOG_PER_SANDBOX 1000
#define SBXLOG_SANDBOXES 4096

struct sbxlog;

struct sbxlog *sbxlog_new(void);
void sbxlog_free(struct sbxlog *l);

/* Adds an entry now.  level: "debug", "info", "warn", "error"; logger
 * ("lifecycleSvc", "processSvc"); fields: NULL or an object of strings
 * (stolen).  l NULL: nothing. */
void sbxlog_add(struct sbxlog *l, const char *id, const char *level, const char *logger,
		json_t *fields, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

struct sbxlog_query {
	int64_t cursor_ms;              /* INT64_MIN: from the start (or end) */
	unsigned limit;                 /* 1..1000 */
	int forward;                    /* 0: newest first, from cursor down */
	int min_level;                  /* 0 debug .. 3 error */
	const char *search;             /* NULL or a substring of the message */
};

/* The level's rank (0..3), or -1 for an unknown name. */
int sbxlog_level(const char *name);

/* Matching entries as [{"timestampMs", "level", "logger", "message",
 * "fields"}] (caller owns); [] for a sandbox without entries. */
json_t *sbxlog_query(struct sbxlog *l, const char *id, const struct sbxlog_query *q);

#endif
