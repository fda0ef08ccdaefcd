/* Shared between ops.c (read side) and change.c (effectful operations);
 * private to the filesystem layer. */
#ifndef SBXFS_FS_PRIV_H
#define SBXFS_FS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs.h"
#include "path.h"

/* The modes of the tree: what the mounting user may do with each node. */
#define MODE_DIR (S_IFDIR | 0755)
#define MODE_RO (S_IFREG | 0444)
#define MODE_RW (S_IFREG | 0644)
#define MODE_WO (S_IFREG | 0200)

/* An open file (fi->fh): its content, rendered at open, and its attributes
 * then. */
struct snap {
	struct stat st;
	bool page_cached;     /* read through the kernel's page cache */
	uint64_t key;         /* its kcache entry, when page_cached */
	char *sbx_id;         /* a sandbox's file: its ID at open, which a
	                       * write goes to however names move (malloc'd) */
	size_t len;
	char data[];
};

/* The mount's state, from the FUSE context of the calling thread. */
struct sbxfs *get_fs(void);
/* Finds the sandbox node n lives in.  On success *lp holds a listing
 * reference (caller listing_put()s it) and *sp is borrowed from it. */
int lookup_sbx(struct sbxfs *fs, const struct path_node *n, struct sbx_listing **lp,
	       struct sbx **sp);
/* Attributes of node n as getattr reports them.  path (may be NULL when
 * the size goes nowhere near the kernel) is n's, for the size the kernel
 * must hold of a page-cached file (kcache_size). */
int stat_node(struct sbxfs *fs, const struct path_node *n, const char *path, struct stat *st);
/* Fills *st as getattr reports a node of this mode, size and time. */
void fill_stat(struct sbxfs *fs, struct stat *st, mode_t mode, off_t size, time_t t);
/* Attributes of node n inside sandbox s; path as for stat_node. */
int stat_sbx_node(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
		  const char *path, struct stat *st);
/* True for state, timeout and .sbxfs/refresh. */
bool node_writable(const struct path_node *n);

/* dir.c: listings served at stable offsets from one snapshot. */
int sbxfs_opendir(const char *path, struct fuse_file_info *fi);
int sbxfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int sbxfs_releasedir(const char *path, struct fuse_file_info *fi);

int sbxfs_write(const char *path, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi);
int sbxfs_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int sbxfs_mkdir(const char *path, mode_t mode);
int sbxfs_rmdir(const char *path);
int sbxfs_unlink(const char *path);
int sbxfs_rename(const char *from, const char *to, unsigned int flags);
int sbxfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int sbxfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int sbxfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int sbxfs_symlink(const char *target, const char *path);
int sbxfs_link(const char *from, const char *to);
int sbxfs_mknod(const char *path, mode_t mode, dev_t dev);
int sbxfs_create(const char *path, mode_t mode, struct fuse_file_info *fi);

#endif
