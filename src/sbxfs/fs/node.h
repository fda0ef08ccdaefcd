/* The node table: what each kind of node does with each operation.
 *
 * ops.c parses a path (path.h), picks the entry of its kind and calls it;
 * it knows no kind by name.  Each kind lives in one file of nodes/ and
 * fills only the operations it supports: a NULL member refuses, with the
 * errno a filesystem gives for it, applied by ops.c: open EISDIR on a
 * directory, else EACCES; read EBADF; write and truncate EACCES (truncate
 * of a directory EISDIR); readdir ENOTDIR; mkdir, unlink, rename and
 * create EPERM; rmdir EPERM on a directory, else ENOTDIR.  A new kind of node is a new path kind, one file in nodes/ and
 * one line in ops.c's table; a new file in a sandbox directory is one
 * entry in nodes/sbx_file.c's table (and its name in path.h's enum),
 * which names node_ops of its own when it is more than a rendering of
 * the record.
 *
 * A kind with a subtree of its own (a sandbox's files, served from inside
 * it) gets its paths from path_parse as one kind with a remote path, pins
 * that path in its handles (handle.h) and serves read and write itself
 * instead of from a snapshot.
 *
 * Every member returns 0 (or a byte count) or -errno, as FUSE wants it.
 * n's spans point into the path of the call and live as long as it. */
#ifndef SBXFS_FS_NODE_H
#define SBXFS_FS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "fs.h"
#include "handle.h"
#include "path.h"

/* The modes of the tree: what the mounting user may do with each node. */
#define MODE_DIR (S_IFDIR | 0755)
#define MODE_RO (S_IFREG | 0444)
#define MODE_RW (S_IFREG | 0644)
#define MODE_WO (S_IFREG | 0200)

/* What readdir found at an index of a directory. */
enum dir_slot { SLOT_END, SLOT_SKIP, SLOT_ENTRY };

struct node_ops {
	bool dir;
	/* For a kind whose nodes may be either (a sandbox's own files): 1 for
	 * a directory, 0 for not, or -errno; dir is then ignored. */
	int (*dir_of)(struct sbxfs *fs, const struct path_node *n);
	/* Attributes of an open file (fstat, and the kernel's getattr with a
	 * handle); NULL: getattr by path. */
	int (*fgetattr)(const struct open_file *h, struct stat *st);
	/* Attributes; path (may be NULL when the size goes nowhere near the
	 * kernel) is n's, for the size the kernel holds of a page-cached
	 * file.  Every kind has one. */
	int (*getattr)(struct sbxfs *fs, const struct path_node *n, const char *path,
		       struct stat *st);
	/* Resolves n and pins it in a new handle; acc is O_RDONLY, O_WRONLY
	 * or O_RDWR, refused here when the kind does not allow it.  fi gets
	 * direct_io, keep_cache. */
	int (*open)(struct sbxfs *fs, const struct path_node *n, const char *path,
		    struct fuse_file_info *fi, struct open_file **out);
	int (*read)(struct open_file *h, char *buf, size_t size, off_t off);
	/* h is NULL for a write without an open file (never from the
	 * kernel): it then goes to what n names now. */
	int (*write)(struct sbxfs *fs, const struct path_node *n, struct open_file *h,
		     const char *buf, size_t size);
	void (*release)(struct sbxfs *fs, struct open_file *h);
	/* A write at an offset, for kinds that keep what is written (write
	 * above is then unused); flush and fsync send it on (close(2) and
	 * fsync(2) report their error); ftruncate of an open file. */
	int (*pwrite)(struct sbxfs *fs, struct open_file *h, const char *buf, size_t size,
		      off_t off);
	int (*flush)(struct sbxfs *fs, struct open_file *h);
	int (*ftruncate)(struct sbxfs *fs, struct open_file *h, off_t size);
	/* readdir: list takes the snapshot a listing is served from (at
	 * offset 0), entry gives its i-th entry after "." and "..". */
	int (*list)(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n);
	enum dir_slot (*entry)(struct sbxfs *fs, const struct dir_handle *h,
			       const struct path_node *n, size_t i, const char **name,
			       struct stat *st);
	int (*mkdir)(struct sbxfs *fs, const struct path_node *n);
	int (*rmdir)(struct sbxfs *fs, const struct path_node *n);
	int (*unlink)(struct sbxfs *fs, const struct path_node *n);
	/* flags: renameat2's; RENAME_EXCHANGE never reaches a kind. */
	int (*rename)(struct sbxfs *fs, const struct path_node *n, const char *to,
		      unsigned flags);
	int (*truncate)(struct sbxfs *fs, const struct path_node *n, off_t size);
	/* chmod, for a kind that can tell a no-op from a change; h is the
	 * open file when the call came through one.  NULL: EPERM. */
	int (*chmod)(struct sbxfs *fs, const struct path_node *n, const struct open_file *h,
		     mode_t mode);
	int (*create)(struct sbxfs *fs, const struct path_node *n, mode_t mode,
		      struct fuse_file_info *fi);
	/* statfs of a kind with sizes of its own (*sv zeroed, f_bsize set);
	 * NULL: the mount's (no sizes). */
	int (*statfs)(struct sbxfs *fs, const struct path_node *n, struct statvfs *sv);
	/* readlink: the link's text into buf (size bytes, NUL-terminated).
	 * NULL: EINVAL (not a link). */
	int (*readlink)(struct sbxfs *fs, const struct path_node *n, char *buf, size_t size);
};

/* The entry of n's kind; never NULL for a node path_parse gave. */
const struct node_ops *node_ops_of(const struct path_node *n);

/* The kinds, one file each in nodes/. */
extern const struct node_ops root_node_ops;      /* nodes/root.c */
extern const struct node_ops tpl_root_node_ops;  /* nodes/templates.c */
extern const struct node_ops tpl_node_ops;       /* nodes/templates.c */
extern const struct node_ops ctl_node_ops;       /* nodes/ctl.c */
extern const struct node_ops status_node_ops;    /* nodes/ctl.c */
extern const struct node_ops refresh_node_ops;   /* nodes/refresh.c */
extern const struct node_ops sbx_node_ops;       /* nodes/sbx.c */
extern const struct node_ops sbx_file_node_ops;  /* nodes/sbx_file.c */
extern const struct node_ops meta_dir_node_ops;  /* nodes/meta.c */
extern const struct node_ops meta_file_node_ops; /* nodes/meta.c */
extern const struct node_ops files_node_ops;     /* nodes/files.c */
extern const struct node_ops logs_node_ops;      /* nodes/sbx_data.c */
extern const struct node_ops metrics_node_ops;   /* nodes/sbx_data.c */
extern const struct node_ops procs_node_ops;     /* nodes/procs.c */
extern const struct node_ops proc_node_ops;      /* nodes/procs.c */
extern const struct node_ops proc_file_node_ops; /* nodes/procs.c */

/* ---- what the kinds share (node.c) ---- */

/* 1 if n is a directory, 0 if not, or -errno (dir_of's). */
int node_is_dir(struct sbxfs *fs, const struct node_ops *ops, const struct path_node *n);

/* Fills *st as getattr reports a node of this mode, size and time. */
void node_fill_stat(struct sbxfs *fs, struct stat *st, mode_t mode, off_t size, time_t t);
/* s plus a newline, malloc'd (NULL is ""); NULL on ENOMEM. */
char *node_line(const char *s, size_t *len);
/* Opens a snapshot of text (taken, freed in any case) with attributes st:
 * page_cached says whether a read-only open may be served from the
 * kernel's page cache (content that depends only on the record; the
 * kernel is told when it changed).  Pins sbx_id when not NULL. */
int node_open_snap(struct sbxfs *fs, const struct path_node *n, const char *path,
		   struct fuse_file_info *fi, char *text, size_t len, const struct stat *st,
		   bool page_cached, const char *sbx_id, struct open_file **out);
/* read and release of a snapshot handle. */
int node_read_snap(struct open_file *h, char *buf, size_t size, off_t off);
void node_release_snap(struct sbxfs *fs, struct open_file *h);
/* mkdir of a directory that exists when getattr finds it: -EEXIST, else
 * -EPERM. */
int node_mkdir_exists(struct sbxfs *fs, const struct path_node *n);

/* The directories at fixed places (root, .sbxfs, its templates): made at
 * mount time. */
int node_fixed_dir_getattr(struct sbxfs *fs, const struct path_node *n, const char *path,
			   struct stat *st);
/* A listing of sandboxes (root, a template's): list and the j-th
 * sandbox, which under a template must be made from it (nodes/root.c). */
int node_list_sandboxes(struct sbxfs *fs, struct dir_handle *h, const struct path_node *n);
enum dir_slot node_sandbox_entry(struct sbxfs *fs, const struct dir_handle *h,
				 const struct path_node *n, size_t j, const char **name,
				 struct stat *st);

/* ---- resolving a node's sandbox (resolve.c) ---- */

/* Finds the sandbox node n lives in, by name or ID.  On success *lp holds
 * a listing reference (caller listing_put()s it) and *sp is borrowed from
 * it.  complete: fetch once what the listing lacks of a fresh sandbox. */
int resolve_sbx(struct sbxfs *fs, const struct path_node *n, bool complete,
		struct sbx_listing **lp, struct sbx **sp);
/* What getattr of a node in a sandbox fills from sandbox s. */
typedef int (*sbx_stat_fn)(struct sbxfs *fs, const struct sbx *s, const struct path_node *n,
			   const char *path, struct stat *st);
/* getattr of n by fill, with n's sandbox resolved (as resolve_sbx,
 * incomplete) and its listing held for the call. */
int resolve_sbx_stat(struct sbxfs *fs, const struct path_node *n, const char *path,
		     sbx_stat_fn fill, struct stat *st);
/* The sandbox with this ID only (a name equal to it finds another one):
 * -ENOENT when it is not listed.  As resolve_sbx otherwise. */
int resolve_sbx_id(struct sbxfs *fs, const char *id, struct sbx_listing **lp,
		   struct sbx **sp);
/* The sandbox a write goes to: the one h pinned, or when h is NULL the
 * one n names now.  A reference (caller sbx_unref()s it). */
int resolve_target(struct sbxfs *fs, const struct path_node *n,
		   const struct open_file *h, struct sbx **out);

/* ---- a sandbox's directory (nodes/sbx.c), shared with its listing ---- */

/* Attributes of sandbox s as a directory. */
void sbx_dir_stat(struct sbxfs *fs, const struct sbx *s, struct stat *st);

/* ---- the files of a sandbox directory (nodes/sbx_file.c) ---- */

struct sbx_file_def {
	const char *name;
	/* The content, malloc'd; NULL on ENOMEM. */
	char *(*render)(const struct sbx *s, size_t *len);
	/* Applies a write of the user's bytes to s (NULL: read-only). */
	int (*write)(struct sbxfs *fs, const struct sbx *s, const char *buf, size_t size);
	bool live;        /* changes by itself (a countdown): never page-cached */
	bool complete;    /* shows what only a full GET has (resolve_sbx) */
	/* A file that fetches content of its own (logs, metrics) instead of
	 * rendering the record: the node_ops serving it (render is NULL),
	 * and its attributes as known without a request, so a listing of
	 * the sandbox directory sends none. */
	const struct node_ops *ops;
	void (*known)(struct sbxfs *fs, const struct sbx *s, struct stat *st);
};

/* The entry of file f, or NULL past the table. */
const struct sbx_file_def *sbx_file_def(enum sbx_file f);
/* Attributes of file f of sandbox s; path as for getattr. */
int sbx_file_stat(struct sbxfs *fs, const struct sbx *s, enum sbx_file f, const char *path,
		  struct stat *st);

/* The attributes of logs and metrics known without a request
 * (nodes/sbx_data.c): logs the bytes held locally, metrics a nominal
 * size (it is read with direct I/O). */
void sbx_logs_known(struct sbxfs *fs, const struct sbx *s, struct stat *st);
void sbx_metrics_known(struct sbxfs *fs, const struct sbx *s, struct stat *st);

/* ---- a sandbox's metadata (nodes/meta.c) ---- */

/* Attributes of metadata value key of sandbox s; path as for getattr. */
int meta_file_stat(struct sbxfs *fs, const struct sbx *s, const char *key, const char *path,
		   struct stat *st);

/* ---- dir.c ---- */

int sbxfs_opendir(const char *path, struct fuse_file_info *fi);
int sbxfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		  struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int sbxfs_releasedir(const char *path, struct fuse_file_info *fi);

/* The mount's state, from the FUSE context of the calling thread. */
struct sbxfs *get_fs(void);

#endif
