/* sbxfs's command line: the -o options of its own and which FUSE options
 * pass through.  backend.h turns them into a provider, URL and key. */
#ifndef SBXFS_OPTIONS_H
#define SBXFS_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <fuse_opt.h>

#include "util/log.h"

#define SBXFS_DEFAULT_TEMPLATE "base"
#define SBXFS_DEFAULT_TIMEOUT 300UL
#define SBXFS_DEFAULT_CACHE_TTL 2U
#define SBXFS_DEFAULT_CONNECT_TIMEOUT 5U
#define SBXFS_DEFAULT_REQUEST_TIMEOUT 15U
#define SBXFS_DEFAULT_STALE_TTL 30U
#define SBXFS_DEFAULT_MAX_SANDBOXES 100000UL
#define SBXFS_DEFAULT_FS_CACHE_TTL 1U
#define SBXFS_DEFAULT_FS_MAX_FILE (4ULL << 30)
#define SBXFS_DEFAULT_FS_USER "user"
#define SBXFS_DEFAULT_PROC_OUTPUT_MAX (64ULL << 20)
#define SBXFS_DEFAULT_MAX_PROCS 64U

struct sbxfs_opts {
	/* As given with -o (malloc'd by fuse_opt_parse, NULL when absent). */
	char *api_url;
	char *api_key_file;
	char *provider;             /* "novita" or "e2b" (checked) */
	char *template_name;
	char *timeout_str;
	char *cache_ttl_str;
	char *connect_timeout_str;
	char *request_timeout_str;
	char *retry_deadline_str;
	char *stale_ttl_str;
	char *list_deadline_str;
	char *max_sandboxes_str;
	char *cafile;
	char *runtime;          /* the embedded sbxd's runtime; NULL: record */
	char *log_target;
	char *log_level_str;
	char *sandbox_url;          /* envd's base for every sandbox */
	char *fs_user;
	char *fs_cache_ttl_str;
	char *fs_max_file_str;
	char *proc_output_max_str;
	char *max_procs_str;
	int allow_other;
	bool fsname_set;            /* -o fsname= was given */
	bool subtype_set;           /* -o subtype= was given */

	/* The arguments that are not options: [SOURCE] MOUNTPOINT.  mount(8)
	 * (through mount.fuse3) passes fstab's first field as SOURCE; a
	 * SOURCE that is an http:// or https:// URL is the api_url, anything
	 * else only names the mount (its fsname).  malloc'd or NULL. */
	char *source;
	char *nonopt[2];
	int nonopts;

	/* Filled by opts_parse() from the strings above, defaults applied. */
	const char *template_id;    /* borrowed: template_name or the default */
	unsigned long timeout;      /* seconds, for new and resumed sandboxes */
	unsigned cache_ttl;         /* seconds; 0 fetches on every operation */
	unsigned connect_timeout;   /* seconds */
	unsigned request_timeout;   /* seconds per attempt */
	unsigned retry_deadline;    /* seconds for all attempts */
	unsigned stale_ttl;         /* seconds a listing is served behind a refresh */
	unsigned list_deadline;     /* seconds for a whole listing, all pages */
	unsigned long max_sandboxes;   /* entries a listing may hold */
	enum log_level log_level;
	bool log_level_set;
	const char *fs_user_name;   /* borrowed: fs_user or the default */
	unsigned fs_cache_ttl;      /* seconds listings of fs/ are kept */
	unsigned long long fs_max_file;   /* bytes */
	unsigned long long proc_output_max;   /* bytes kept per process stream */
	unsigned max_procs;         /* process streams attached at once */

	FILE *err;                  /* where opts_parse() reports */
};

/* Parses sbxfs's own options out of args, leaving FUSE's (and the
 * mountpoint, -f, -d, ...) in place; takes an optional SOURCE before the
 * mountpoint out (into o->source) and makes it the fsname unless -o
 * fsname= is given; adds default_permissions when allow_other is given.  Relative file paths become absolute (the daemon
 * changes to /).  Prints "sbxfs: ..." to err and returns -1 on an unknown
 * option or a bad value; 0 on success.  Free with opts_free(). */
int opts_parse(struct fuse_args *args, struct sbxfs_opts *o, FILE *err);
void opts_free(struct sbxfs_opts *o);

/* True for -o names FUSE itself understands ("allow_other", "uid=1000"). */
bool opts_is_fuse_option(const char *opt);

#endif
