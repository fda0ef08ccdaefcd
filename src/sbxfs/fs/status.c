/* Rendering of .sbxfs/status; see status.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fuse.h>
#include <jansson.h>

#include "config.h"
#include "common/scrub.h"
#include "status.h"
#include "model/values.h"

void status_format_error(const struct api_error *e, char *buf, size_t size)
{
	char msg[sizeof(e->message)];
	char when[SBX_TIME_LEN];
	char code[32];

	if (e->err == 0 && e->http_status == 0) {
		snprintf(buf, size, "none");
		return;
	}
	scrub_text(msg, sizeof(msg), e->message, strnlen(e->message, sizeof(e->message)));
	if (e->http_status)
		snprintf(code, sizeof(code), "%d", e->http_status);
	else
		snprintf(code, sizeof(code), "%s",
			 strerrorname_np(-e->err) ? strerrorname_np(-e->err) : "error");
	snprintf(buf, size, "%s %s (%s)", code, msg[0] ? msg : "-",
		 sbx_format_time(e->when, when));
}

/* How this sbxfs was built and the libraries it runs with, one line. */
static void build_line(char *buf, size_t size)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	snprintf(buf, size, "%s fuse=%s libcurl=%s jansson=%s", SBXFS_BUILD_OPTIONS,
		 fuse_pkgversion(), cv && cv->version ? cv->version : "?", JANSSON_VERSION);
}

/* The listing's lines: its age, the refresh running behind it and the
 * failure of the last ones, with since when. */
static void listing_lines(const struct status_info *si, char *buf, size_t size)
{
	const struct cache_stats *c = &si->cache;
	char age[32], refresh[48] = "idle", failing[600] = "none", since[SBX_TIME_LEN];

	if (c->age_ms >= 0)
		snprintf(age, sizeof(age), "%ld", c->age_ms);
	else
		snprintf(age, sizeof(age), "none");
	if (c->refreshing)
		snprintf(refresh, sizeof(refresh), "running for %ld ms", c->refresh_ms);
	if (c->failing_since) {
		char detail[512];

		status_format_error(&c->last_refresh_error, detail, sizeof(detail));
		snprintf(failing, sizeof(failing), "since %s: %s",
			 sbx_format_time(c->failing_since, since), detail);
	}
	snprintf(buf, size,
		 "stale_ttl=%u\n"
		 "cache_stale_hits=%llu\n"
		 "listing_age_ms=%s\n"
		 "listing_refresh=%s\n"
		 "listing_refresh_failing=%s\n",
		 si->stale_ttl, (unsigned long long)c->stale_hits, age, refresh, failing);
}

char *status_render(const struct status_info *si, size_t *len)
{
	char listing[1024];
	char build[256];
	char backend[1024];
	char last[512];
	char fs_last[256];
	char procs[64] = "";
	char ahead[96] = "";
	char *text;
	int n;

	scrub_text(backend, sizeof(backend), si->backend, si->backend ? strlen(si->backend) : 0);
	status_format_error(&si->api.last_error, last, sizeof(last));
	scrub_text(fs_last, sizeof(fs_last), si->fs_last_error ? si->fs_last_error : "none",
		   si->fs_last_error ? strlen(si->fs_last_error) : 4);
	if (si->files)
		snprintf(ahead, sizeof(ahead), "fs_fetched_ahead=%llu\nfs_ahead_used=%llu\n",
			 si->fs_fetched_ahead, si->fs_ahead_used);
	if (si->procs)
		snprintf(procs, sizeof(procs), "procs_attached=%u\nmax_procs=%u\n",
			 si->procs_attached, si->max_procs);
	build_line(build, sizeof(build));
	listing_lines(si, listing, sizeof(listing));
	n = asprintf(&text,
		     "version=%s\n"
		     "build=%s\n"
		     "provider=%s\n"
		     "backend=%s\n"
		     "reachable=%s\n"
		     "embedded=%s\n"
		     "last_error=%s\n"
		     "fs_last_error=%s\n"
		     "%s"
		     "%s"
		     "requests=%llu\n"
		     "retries=%llu\n"
		     "failures=%llu\n"
		     "cache_hits=%llu\n"
		     "cache_misses=%llu\n"
		     "cache_refreshes=%llu\n"
		     "sandboxes=%zu\n"
		     "cache_ttl=%u\n"
		     "%s",
		     si->version, build, si->provider ? si->provider : "custom", backend,
		     si->api.reachable ? "yes" : "no",
		     si->embedded ? "yes" : "no", last, fs_last, ahead, procs,
		     (unsigned long long)si->api.requests,
		     (unsigned long long)si->api.retries,
		     (unsigned long long)si->api.failures,
		     (unsigned long long)si->cache.hits,
		     (unsigned long long)si->cache.misses,
		     (unsigned long long)si->cache.refreshes,
		     si->cache.entries, si->cache_ttl, listing);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return text;
}
