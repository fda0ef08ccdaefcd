/* EntryInfo, the filesystem service's description of one path, as the
 * SDKs read it: lstat's view, a symlink reported with its target's type
 * and mode and its target path, int64 as a JSON string, enums by name. */
#ifndef SBXD_ENVD_ENTRY_H
#define SBXD_ENVD_ENTRY_H

#include <jansson.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Host ids of the sandbox's two users, to name owners. */
struct envd_users {
	uid_t root_uid, user_uid;
	gid_t root_gid, user_gid;
};

/* EntryInfo of the clean absolute `path` below root (caller owns), or
 * NULL with *err = -errno. */
json_t *entry_json(int root, const char *path, const struct envd_users *u, int *err);

/* The same from an lstat already made, for listings: `fd` is the O_PATH
 * descriptor of the entry (not followed). */
json_t *entry_json_at(int root, int fd, const char *path, const struct stat *lst,
		      const struct envd_users *u);

#endif
