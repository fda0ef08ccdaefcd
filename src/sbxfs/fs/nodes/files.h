/* What the two files of a sandbox's own filesystem (MOUNT/<sbx>/fs/)
 * share: files.c (attributes, listings, changes by path) and files_io.c
 * (open files: ranged reads, writes to a local spool sent at close). */
#ifndef SBXFS_FS_NODES_FILES_H
#define SBXFS_FS_NODES_FILES_H

#include <limits.h>

#include "fs/node.h"

/* Where node n lives: the sandbox's ID (id, 65 bytes) and the remote path
 * (path, PATH_MAX bytes).  -ENOENT for a sandbox not listed, -EHOSTDOWN
 * for a paused one (reads never resume it), -ENOENT when fs/ is off. */
int files_where(struct sbxfs *fs, const struct path_node *n, char *id, char *path);
/* Attributes of entry e (in remote directory dir, NULL when unknown) as
 * the mount shows them. */
void files_stat(struct sbxfs *fs, const struct fentry *e, const char *dir, struct stat *st);
/* The text of a link in remote directory dir to absolute target, as a
 * path relative to dir ("a.txt", "../../tmp/x", "."): 0 or -ENAMETOOLONG. */
int files_link_text(const char *dir, const char *target, char *out, size_t size);

/* files_io.c: the open-file members of files_node_ops. */
int files_open(struct sbxfs *fs, const struct path_node *n, const char *path,
	       struct fuse_file_info *fi, struct open_file **out);
int files_create(struct sbxfs *fs, const struct path_node *n, mode_t mode,
		 struct fuse_file_info *fi);
int files_read_h(struct open_file *h, char *buf, size_t size, off_t off);
int files_pwrite(struct sbxfs *fs, struct open_file *h, const char *buf, size_t size,
		 off_t off);
int files_flush(struct sbxfs *fs, struct open_file *h);
int files_ftruncate(struct sbxfs *fs, struct open_file *h, off_t size);
int files_fgetattr(const struct open_file *h, struct stat *st);
void files_release(struct sbxfs *fs, struct open_file *h);
/* truncate(2) by path: the file fetched, cut and sent back. */
int files_truncate(struct sbxfs *fs, const struct path_node *n, off_t size);

#endif
