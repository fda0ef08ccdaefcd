/* Typed open handles: what fi->fh holds between open and release.
 *
 * An open file or directory is resolved once, when it is opened, and the
 * handle pins what it resolved to: a later read or write goes to that
 * target (the sandbox ID, and for a kind served by the sandbox itself the
 * remote path) however names move meanwhile, or fails with ENOENT when the
 * target is gone; it never reaches whatever took the name since.
 *
 * A handle records its type, checked on every use (a directory handle
 * handed to read is -EBADF, not a crash), and the node kind that opened
 * it, whose node_ops serve its read, write and release. */
#ifndef SBXFS_FS_HANDLE_H
#define SBXFS_FS_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <fuse.h>

#include "path.h"

struct node_ops;
struct sbx;
struct sbx_listing;
struct file_io;
struct logs_reader;
struct dirlist;

enum handle_type {
	HANDLE_FILE = 0x66696c65,  /* "file": struct open_file (not glibc's struct file_handle) */
	HANDLE_DIR = 0x64697220,   /* "dir ": struct dir_handle */
};

/* What an open handle is pinned to; each member malloc'd or NULL. */
struct handle_pin {
	char *sbx_id;              /* the sandbox's ID at open */
	char *remote_path;         /* inside the sandbox (its own files) */
};

/* A content rendered at open, with the attributes getattr gave it then. */
struct snap {
	struct stat st;
	bool page_cached;          /* read through the kernel's page cache */
	uint64_t key;              /* its kcache entry, when page_cached */
	size_t len;
	char data[];
};

struct open_file {
	enum handle_type type;     /* HANDLE_FILE */
	const struct node_ops *ops;/* of the kind that opened it */
	struct path_node node;     /* its kind and file; spans cleared (they
	                            * pointed into the open's path) */
	struct handle_pin pin;
	struct snap *snap;         /* NULL for kinds that do not read a snapshot */
	struct file_io *io;        /* a sandbox's own file (nodes/files.c): its
	                            * spool and read-ahead; freed by its release */
	struct logs_reader *logs;  /* MOUNT/<sbx>/logs (nodes/sbx_data.c): the
	                            * copy read and this reader's place in it;
	                            * freed by its release */
	char *watched;             /* procs/NAME/stdout, stderr: the path whose
	                            * size the kernel is told of (kinval.h);
	                            * freed by its release */
};

struct dir_handle {
	enum handle_type type;     /* HANDLE_DIR */
	bool listed;               /* list() filled what follows */
	struct stat self;          /* for "." and ".." */
	struct sbx_listing *l;     /* the snapshot; NULL until the first readdir */
	const struct sbx *s;       /* in a sandbox directory: borrowed from l */
	const char **tpl;          /* .sbxfs/templates: sorted, unique, from l */
	size_t n_tpl;
	struct dirlist *files;     /* a directory of a sandbox's own: its listing */
	char *files_id;            /* and the sandbox's ID it was taken from */
	char *files_dir;           /* and the remote directory's path */
	char **names;              /* procs/: the names listed, malloc'd */
	size_t n_names;
};

/* A new file handle for node n opened by ops, pinned to sbx_id (copied;
 * NULL pins none), owning snap (freed here on failure).  NULL on ENOMEM. */
struct open_file *open_file_new(const struct node_ops *ops, const struct path_node *n,
				    const char *sbx_id, struct snap *snap);
/* Frees h, its pin and its snapshot; NULL is a no-op. */
void open_file_free(struct open_file *h);
/* The file handle in fi, or NULL when fi holds none (or another type). */
struct open_file *open_file_of(const struct fuse_file_info *fi);
/* The directory handle in fi, or NULL likewise. */
struct dir_handle *dir_handle_of(const struct fuse_file_info *fi);

/* A snapshot of len bytes of text; takes text (freed in any case).  NULL
 * on ENOMEM. */
struct snap *snap_new(char *text, size_t len);

#endif
