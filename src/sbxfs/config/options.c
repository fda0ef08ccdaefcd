/* Command line options and backend resolution; see options.h. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "model/values.h"

enum { KEY_ALLOW_OTHER, KEY_API_KEY, KEY_FSNAME, KEY_SUBTYPE };

#define SBXFS_OPT(t, field) { t, offsetof(struct sbxfs_opts, field), 0 }

static const struct fuse_opt sbxfs_spec[] = {
	SBXFS_OPT("api_url=%s", api_url),
	SBXFS_OPT("api_key_file=%s", api_key_file),
	SBXFS_OPT("provider=%s", provider),
	SBXFS_OPT("template=%s", template_name),
	SBXFS_OPT("timeout=%s", timeout_str),
	SBXFS_OPT("cache_ttl=%s", cache_ttl_str),
	SBXFS_OPT("connect_timeout=%s", connect_timeout_str),
	SBXFS_OPT("request_timeout=%s", request_timeout_str),
	SBXFS_OPT("retry_deadline=%s", retry_deadline_str),
	SBXFS_OPT("stale_ttl=%s", stale_ttl_str),
	SBXFS_OPT("list_deadline=%s", list_deadline_str),
	SBXFS_OPT("max_sandboxes=%s", max_sandboxes_str),
	SBXFS_OPT("cafile=%s", cafile),
	SBXFS_OPT("runtime=%s", runtime),
	SBXFS_OPT("log=%s", log_target),
	SBXFS_OPT("log_level=%s", log_level_str),
	SBXFS_OPT("sandbox_url=%s", sandbox_url),
	SBXFS_OPT("fs_user=%s", fs_user),
	SBXFS_OPT("fs_cache_ttl=%s", fs_cache_ttl_str),
	SBXFS_OPT("fs_max_file=%s", fs_max_file_str),
	SBXFS_OPT("proc_output_max=%s", proc_output_max_str),
	SBXFS_OPT("max_procs=%s", max_procs_str),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("api_key=", KEY_API_KEY),
	FUSE_OPT_KEY("api_key", KEY_API_KEY),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	FUSE_OPT_END
};

/* The -o options libfuse 3.14 accepts (mount, library and session level).
 * A trailing '=' means the option takes a value. */
static const char *const fuse_options[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions",
	"blkdev", "fsname=", "subtype=", "max_read=", "context=", "fscontext=",
	"defcontext=", "rootcontext=", "user=", "ro", "rw", "suid", "nosuid",
	"dev", "nodev", "exec", "noexec", "async", "sync", "dirsync", "atime",
	"noatime", "diratime", "nodiratime", "relatime", "norelatime",
	"strictatime", "nostrictatime", "lazytime", "nolazytime", "symfollow",
	"nosymfollow", "debug", "kernel_cache", "auto_cache", "noauto_cache",
	"no_rofd_flush", "umask=", "uid=", "gid=", "fmask=", "dmask=",
	"entry_timeout=", "negative_timeout=", "attr_timeout=",
	"ac_attr_timeout=", "noforget", "remember=", "modules=", "hard_remove",
	"use_ino", "readdir_ino", "direct_io", "intr", "intr_signal=",
	"parallel_direct_writes", "clone_fd", "max_idle_threads=",
	"max_threads=", "max_write=", "large_read", "nonempty", "subdir=",
	"rellinks", "norellinks", "from_code=", "to_code=",
};

bool opts_is_fuse_option(const char *opt)
{
	const char *eq = strchr(opt, '=');
	size_t namelen = eq ? (size_t)(eq - opt) : strlen(opt);

	for (size_t i = 0; i < sizeof(fuse_options) / sizeof(fuse_options[0]); i++) {
		const char *f = fuse_options[i];
		size_t flen = strlen(f);
		bool takes_value = f[flen - 1] == '=';

		if (takes_value != (eq != NULL))
			continue;
		if (takes_value)
			flen--;
		if (flen == namelen && strncmp(f, opt, namelen) == 0)
			return true;
	}
	return false;
}

static int sbxfs_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct sbxfs_opts *o = data;

	(void)outargs;
	switch (key) {
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		return 1;
	case KEY_API_KEY:
		fprintf(o->err, "sbxfs: there is no api_key option (it would show in ps): "
			"use -o api_key_file=PATH, NOVITA_API_KEY or E2B_API_KEY\n");
		return -1;
	case KEY_FSNAME:
		o->fsname_set = true;
		return 1;
	case KEY_SUBTYPE:
		o->subtype_set = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		/* [SOURCE] MOUNTPOINT: kept aside, the mountpoint goes back
		 * into args once it is known which one it is. */
		if (o->nonopts == 2) {
			fprintf(o->err, "sbxfs: unexpected argument '%s' "
				"(usage: sbxfs [SOURCE] MOUNTPOINT [-o opt,...])\n", arg);
			return -1;
		}
		if ((o->nonopt[o->nonopts] = strdup(arg)) == NULL) {
			fprintf(o->err, "sbxfs: out of memory\n");
			return -1;
		}
		o->nonopts++;
		return 0;
	default:
		if (arg[0] == '-' || opts_is_fuse_option(arg))
			return 1;
		fprintf(o->err, "sbxfs: unknown option '%s'\n", arg);
		return -1;
	}
}

/* Whole seconds in [min, max]. */
static int parse_seconds(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Makes *p absolute against the current directory (the daemon runs in /). */
static int make_absolute(char **p)
{
	char cwd[PATH_MAX];
	char *abs;

	if (*p == NULL || (*p)[0] == '/')
		return 0;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	if (asprintf(&abs, "%s/%s", cwd, *p) < 0)
		return -ENOMEM;
	free(*p);
	*p = abs;
	return 0;
}

static bool is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

struct seconds_opt {
	const char *name;
	const char *value;
	unsigned min, max;
	unsigned *out;
};

static int check_max_sandboxes(struct sbxfs_opts *o, FILE *err)
{
	unsigned n;

	if (!o->max_sandboxes_str)
		return 0;
	if (parse_seconds(o->max_sandboxes_str, 1, 10000000, &n) < 0) {
		fprintf(err, "sbxfs: bad max_sandboxes '%s': expected a whole number "
			"from 1 to 10000000\n", o->max_sandboxes_str);
		return -1;
	}
	o->max_sandboxes = n;
	return 0;
}

/* A size: digits with an optional K, M, G or T (powers of 1024). */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long n;
	unsigned shift = 0;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: break;
	}
	if (*end || n == 0 || n > (1ULL << 50) >> shift)
		return -1;
	*out = n << shift;
	return 0;
}

static int check_fs(struct sbxfs_opts *o, FILE *err)
{
	o->fs_user_name = o->fs_user ? o->fs_user : SBXFS_DEFAULT_FS_USER;
	if (!sbx_component_valid(o->fs_user_name)) {
		fprintf(err, "sbxfs: bad fs_user '%s'\n", o->fs_user_name);
		return -1;
	}
	if (o->fs_max_file_str && parse_size(o->fs_max_file_str, &o->fs_max_file) < 0) {
		fprintf(err, "sbxfs: bad fs_max_file '%s': expected a size such as 4G or "
			"512M (up to 1P)\n", o->fs_max_file_str);
		return -1;
	}
	if (o->proc_output_max_str &&
	    (parse_size(o->proc_output_max_str, &o->proc_output_max) < 0 ||
	     o->proc_output_max < 4096 || o->proc_output_max > (1ULL << 40))) {
		fprintf(err, "sbxfs: bad proc_output_max '%s': expected a size from 4K to 1T "
			"such as 64M\n", o->proc_output_max_str);
		return -1;
	}
	if (o->max_procs_str && parse_seconds(o->max_procs_str, 1, 4096, &o->max_procs) < 0) {
		fprintf(err, "sbxfs: bad max_procs '%s': expected a number from 1 to 4096\n",
			o->max_procs_str);
		return -1;
	}
	if (o->sandbox_url && !is_url(o->sandbox_url)) {
		fprintf(err, "sbxfs: bad sandbox_url '%s': expected http://... or https://...\n",
			o->sandbox_url);
		return -1;
	}
	return 0;
}

static int check_values(struct sbxfs_opts *o, FILE *err)
{
	unsigned deadline = 0, list_deadline = 0;
	const struct seconds_opt secs[] = {
		{ "cache_ttl", o->cache_ttl_str, 0, 86400, &o->cache_ttl },
		{ "connect_timeout", o->connect_timeout_str, 1, 3600, &o->connect_timeout },
		{ "request_timeout", o->request_timeout_str, 1, 3600, &o->request_timeout },
		{ "retry_deadline", o->retry_deadline_str, 1, 7200, &deadline },
		{ "stale_ttl", o->stale_ttl_str, 0, 86400, &o->stale_ttl },
		{ "list_deadline", o->list_deadline_str, 1, 86400, &list_deadline },
		{ "fs_cache_ttl", o->fs_cache_ttl_str, 0, 86400, &o->fs_cache_ttl },
	};

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		if (secs[i].value && parse_seconds(secs[i].value, secs[i].min, secs[i].max,
						   secs[i].out) < 0) {
			fprintf(err, "sbxfs: bad %s '%s': expected whole seconds from %u to %u\n",
				secs[i].name, secs[i].value, secs[i].min, secs[i].max);
			return -1;
		}
	}
	o->retry_deadline = deadline ? deadline : 2 * o->request_timeout;
	o->list_deadline = list_deadline ? list_deadline : 4 * o->retry_deadline;
	if (check_max_sandboxes(o, err) < 0 || check_fs(o, err) < 0)
		return -1;
	if (o->timeout_str &&
	    sbx_parse_timeout(o->timeout_str, strlen(o->timeout_str), &o->timeout) < 0) {
		fprintf(err, "sbxfs: bad timeout '%s': expected seconds (or 10m, 2h)\n",
			o->timeout_str);
		return -1;
	}
	if (o->template_name && !sbx_component_valid(o->template_name)) {
		fprintf(err, "sbxfs: bad template '%s'\n", o->template_name);
		return -1;
	}
	o->template_id = o->template_name ? o->template_name : SBXFS_DEFAULT_TEMPLATE;
	if (o->log_level_str) {
		if (log_parse_level(o->log_level_str, &o->log_level) < 0) {
			fprintf(err, "sbxfs: bad log_level '%s': expected error, warn, info or debug\n",
				o->log_level_str);
			return -1;
		}
		o->log_level_set = true;
	}
	if (o->provider && strcmp(o->provider, "novita") != 0 && strcmp(o->provider, "e2b") != 0) {
		fprintf(err, "sbxfs: bad provider '%s': expected novita or e2b "
			"(an -o api_url of another service needs no provider)\n", o->provider);
		return -1;
	}
	if (o->api_url && !is_url(o->api_url)) {
		fprintf(err, "sbxfs: bad api_url '%s': expected http://... or https://...\n",
			o->api_url);
		return -1;
	}
	return 0;
}

/* Names the mount after SOURCE: -o fsname=SOURCE, commas escaped.  An
 * explicit fsname makes libfuse drop its default subtype, so the type
 * stays fuse.sbxfs (what fstab and mount units name) through subtype=. */
static int add_fsname(struct fuse_args *args, const char *source, bool subtype)
{
	char *opt = NULL, *escaped = NULL;
	int rc = -1;

	if (asprintf(&opt, "fsname=%s", source) < 0)
		return -1;
	if (fuse_opt_add_opt_escaped(&escaped, opt) == 0 &&
	    (!subtype || fuse_opt_add_opt(&escaped, "subtype=sbxfs") == 0) &&
	    fuse_opt_add_arg(args, "-o") == 0 && fuse_opt_add_arg(args, escaped) == 0)
		rc = 0;
	free(opt);
	free(escaped);
	return rc;
}

/* Sorts the non-option arguments into SOURCE and MOUNTPOINT and hands the
 * mountpoint back to args for fuse_parse_cmdline(). */
static int take_source(struct fuse_args *args, struct sbxfs_opts *o, FILE *err)
{
	char *mountpoint = o->nonopt[o->nonopts - 1];

	if (o->nonopts == 2) {
		o->source = o->nonopt[0];
		o->nonopt[0] = NULL;
	}
	if (fuse_opt_add_arg(args, mountpoint) == -1)
		goto nomem;
	if (o->source == NULL)
		return 0;
	if (o->source[0] == '\0') {
		fprintf(err, "sbxfs: empty source before the mountpoint\n");
		return -1;
	}
	if (is_url(o->source)) {
		if (o->api_url && strcmp(o->api_url, o->source) != 0) {
			fprintf(err, "sbxfs: the source %s and -o api_url=%s disagree\n",
				o->source, o->api_url);
			return -1;
		}
		if (o->api_url == NULL && (o->api_url = strdup(o->source)) == NULL)
			goto nomem;
	}
	if (!o->fsname_set && add_fsname(args, o->source, !o->subtype_set) < 0)
		goto nomem;
	return 0;
nomem:
	fprintf(err, "sbxfs: out of memory\n");
	return -1;
}

int opts_parse(struct fuse_args *args, struct sbxfs_opts *o, FILE *err)
{
	memset(o, 0, sizeof(*o));
	o->err = err;
	o->timeout = SBXFS_DEFAULT_TIMEOUT;
	o->cache_ttl = SBXFS_DEFAULT_CACHE_TTL;
	o->stale_ttl = SBXFS_DEFAULT_STALE_TTL;
	o->max_sandboxes = SBXFS_DEFAULT_MAX_SANDBOXES;
	o->fs_cache_ttl = SBXFS_DEFAULT_FS_CACHE_TTL;
	o->fs_max_file = SBXFS_DEFAULT_FS_MAX_FILE;
	o->proc_output_max = SBXFS_DEFAULT_PROC_OUTPUT_MAX;
	o->max_procs = SBXFS_DEFAULT_MAX_PROCS;
	o->fs_user_name = SBXFS_DEFAULT_FS_USER;
	o->connect_timeout = SBXFS_DEFAULT_CONNECT_TIMEOUT;
	o->request_timeout = SBXFS_DEFAULT_REQUEST_TIMEOUT;
	o->log_level = LOG_LVL_INFO;
	o->template_id = SBXFS_DEFAULT_TEMPLATE;

	if (fuse_opt_parse(args, o, sbxfs_spec, sbxfs_opt_proc) == -1)
		return -1;
	if (o->nonopts > 0 && take_source(args, o, err) < 0)
		return -1;
	if (check_values(o, err) < 0)
		return -1;
	if (make_absolute(&o->api_key_file) < 0 || make_absolute(&o->cafile) < 0) {
		fprintf(err, "sbxfs: cannot find the current directory\n");
		return -1;
	}
	if (o->log_target && strcmp(o->log_target, "stderr") != 0 &&
	    strcmp(o->log_target, "syslog") != 0 && make_absolute(&o->log_target) < 0) {
		fprintf(err, "sbxfs: cannot find the current directory\n");
		return -1;
	}
	if (o->allow_other && fuse_opt_add_arg(args, "-odefault_permissions") == -1) {
		fprintf(err, "sbxfs: out of memory\n");
		return -1;
	}
	return 0;
}

void opts_free(struct sbxfs_opts *o)
{
	char **strs[] = {
		&o->api_url, &o->api_key_file, &o->provider, &o->template_name, &o->timeout_str,
		&o->cache_ttl_str, &o->connect_timeout_str, &o->request_timeout_str,
		&o->retry_deadline_str, &o->stale_ttl_str, &o->list_deadline_str,
		&o->max_sandboxes_str, &o->cafile, &o->runtime, &o->log_target, &o->log_level_str,
		&o->sandbox_url, &o->fs_user, &o->fs_cache_ttl_str, &o->fs_max_file_str,
		&o->proc_output_max_str, &o->max_procs_str, &o->source, &o->nonopt[0], &o->nonopt[1],
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}
