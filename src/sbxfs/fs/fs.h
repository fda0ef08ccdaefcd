/* The FUSE operations of sbxfs (high-level path API).  Every attribute and
 * file content comes from the cached listing; only writes, mkdir and rmdir
 * send requests of their own. */
#ifndef SBXFS_FS_H
#define SBXFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include <fuse.h>

#include "api/api.h"
#include "cache/cache.h"
#include "kinval.h"
#include "pagecache.h"
#include "store/files.h"
#include "store/logs.h"
#include "store/procs.h"
#include "store/sandboxes.h"

/* The filesystem's state: fuse private_data.  Everything is set before
 * fuse_new() and read-only afterwards.  API failures are logged by the API
 * client, once each (api.h); this layer only returns their errno. */
struct sbxfs {
	struct store store;         /* the API, the cache and their policy */
	struct kcache *kcache;      /* what the kernel's page cache holds */
	struct kinval *kinval;      /* entries the kernel is told to forget */
	struct files *files;        /* MOUNT/<sbx>/fs/; NULL: no fs/ directories */
	struct logs *logs;          /* MOUNT/<sbx>/logs: the copies fetched */
	struct proctab *procs;        /* MOUNT/<sbx>/procs/; NULL with files */
	const char *template_id;    /* for mkdir MOUNT/NAME */
	unsigned cache_ttl;         /* seconds */
	unsigned stale_ttl;         /* seconds */
	const char *backend_url;
	const char *provider;       /* "novita", "e2b", "custom", "embedded" */
	bool embedded;
	uid_t uid;
	gid_t gid;
	time_t mount_time;
};

/* How long the kernel keeps entries when cache_ttl is not 0 (a refresh
 * that finds an entry gone or changed tells it at once; see kinval.h). */
#define SBXFS_ENTRY_TIMEOUT 3600.0

/* Has the kernel interrupted the FUSE request this thread serves (a signal
 * to the caller)?  False on a thread that serves none. */
bool fs_interrupted(void);

/* Renders .sbxfs/status now; malloc'd, caller frees.  NULL on ENOMEM. */
char *fs_render_status(struct sbxfs *fs, size_t *len);

/* proctab's grew (store/procs.h), ctx the mount: the open stdout and
 * stderr of process name of sandbox id get their new size to the kernel. */
void procs_output_grew(void *ctx, const char *id, const char *name);

extern const struct fuse_operations sbxfs_ops;

#endif
