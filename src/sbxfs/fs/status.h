/* The text of MOUNT/.sbxfs/status: key=value lines about the backend, the
 * API client and the cache.  Every value passes scrub_text(): no secret of
 * scrub.h's set shows. */
#ifndef SBXFS_STATUS_H
#define SBXFS_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "cache/cache.h"

struct status_info {
	const char *version;
	const char *backend;      /* base URL */
	const char *provider;     /* backend.h's name; NULL reads "custom" */
	bool embedded;
	unsigned cache_ttl;       /* seconds */
	unsigned stale_ttl;       /* seconds */
	struct api_stats api;
	struct cache_stats cache;
	const char *fs_last_error;  /* files_format_down()'s; NULL reads "none" */
	bool files;                 /* fs/ served: the walk-ahead counts shown */
	unsigned long long fs_fetched_ahead, fs_ahead_used;
	bool procs;                 /* procs/ served: the two counts below shown */
	unsigned procs_attached;    /* process streams followed now */
	unsigned max_procs;
};

/* Returns malloc'd text ending in a newline (caller frees), length in
 * *len, or NULL when out of memory. */
char *status_render(const struct status_info *si, size_t *len);

/* Formats an api_error for logs and the status file into buf:
 * "404 sandbox not found (2026-11-28T14:14:27Z)", "ECONNREFUSED Connection
 * refused (...)", or "none", through scrub_text() (secrets "***", control
 * characters '?'). */
void status_format_error(const struct api_error *e, char *buf, size_t size);

#endif
