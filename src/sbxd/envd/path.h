/* Paths inside a sandbox's root.  Every lookup goes through openat2 with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from the root's descriptor, so
 * `..`, absolute symlinks and symlinks swapped in mid-way all stay inside
 * the root: no path a client sends can name a host file.  Operations on a
 * last component (mkdir, rename, unlink) are done on the resolved parent
 * with *at calls, which do not follow it. */
#ifndef SBXD_ENVD_PATH_H
#define SBXD_ENVD_PATH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deeper trees are refused (ListDir depth, recursive removal, watches). */
#define EP_MAX_DEPTH 64

/* The absolute, lexically clean path a client means: empty and "~" are
 * `home`, "~/x" and relative paths are below it, "." and ".." and repeated
 * slashes are folded ("/.." stays "/").  `len` is the input's length, so an
 * embedded NUL is seen.  0, or -EINVAL (NUL, "~user", no home for a
 * relative path), -ENAMETOOLONG. */
int ep_expand(const char *in, size_t len, const char *home, char *out, size_t outlen);

/* openat2 of the absolute `path` below `root`.  Returns a descriptor or
 * -errno. */
int ep_open(int root, const char *path, int flags, mode_t mode);

/* The parent directory of `path` (an O_PATH descriptor) and its last
 * component in name.  -EINVAL for "/" itself. */
int ep_parent(int root, const char *path, char name[NAME_MAX + 1]);

/* mkdir -p of `path` (not following a last symlink), new directories 0755
 * owned by uid:gid.  *created tells whether the last one was made here.
 * 0, -ENOTDIR when a component is not a directory, or -errno. */
int ep_mkdirs(int root, const char *path, uid_t uid, gid_t gid, int *created);

/* rm -rf of `path`; 0 when it does not exist.  Never leaves the subtree:
 * children are opened without following symlinks. */
int ep_remove(int root, const char *path);

/* Bytes the tree below root takes on disk (allocated blocks), counting
 * at most `max_entries` entries: a bounded estimate for the quota. */
int64_t ep_usage(int root, size_t max_entries);

/* Hands an entry made by envd to the sandbox user.  An unprivileged sbxd
 * cannot give files away and its runtime maps its own uid to the user, so
 * EPERM is not an error. */
void ep_chown(int dirfd, const char *name, uid_t uid, gid_t gid);

/* The last component of a clean absolute path ("" for "/"). */
const char *ep_base(const char *path);

#endif
