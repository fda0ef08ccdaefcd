/* The mount's tree as pure path parsing: a path becomes a node kind plus
 * borrowed spans of the path string (sandbox, template, metadata key).
 * No allocation, no I/O, no cache: it only says what a path could name;
 * whether the sandbox exists is the cache's business.
 *
 *   /                                    PATH_ROOT
 *   /<sbx>                               PATH_SBX
 *   /<sbx>/<file>                        PATH_SBX_FILE (file says which)
 *   /<sbx>/metadata                      PATH_META_DIR
 *   /<sbx>/metadata/<key>                PATH_META_FILE
 *   /.sbxfs                              PATH_CTL
 *   /.sbxfs/status, /.sbxfs/refresh      PATH_CTL_STATUS, PATH_CTL_REFRESH
 *   /.sbxfs/templates                    PATH_TPL_ROOT
 *   /.sbxfs/templates/<tpl>              PATH_TPL
 *   /.sbxfs/templates/<tpl>/<sbx>/...    as /<sbx>/... with tpl set
 *   /<sbx>/fs, /<sbx>/fs/<rest...>       PATH_SBX_FS: the sandbox's own "/"
 *                                        and below (rest "", or "/a/b")
 *   /<sbx>/procs                         PATH_PROCS
 *   /<sbx>/procs/<proc>                  PATH_PROC
 *   /<sbx>/procs/<proc>/<file>           PATH_PROC_FILE (pfile says which)
 *
 * Names not listed here are -ENOENT.  Whether a PATH_SBX_FS node is a
 * directory only the sandbox knows. */
#ifndef SBXFS_PATH_H
#define SBXFS_PATH_H

#include <stdbool.h>
#include <stddef.h>

enum path_kind {
	PATH_ROOT = 1,
	PATH_SBX,
	PATH_SBX_FILE,
	PATH_META_DIR,
	PATH_META_FILE,
	PATH_CTL,
	PATH_CTL_STATUS,
	PATH_CTL_REFRESH,
	PATH_TPL_ROOT,
	PATH_TPL,
	PATH_SBX_FS,
	PATH_PROCS,
	PATH_PROC,
	PATH_PROC_FILE,
};

/* The files of a process directory, in the order readdir lists them. */
enum proc_file {
	PROC_FILE_CMD,
	PROC_FILE_CWD,
	PROC_FILE_ENV,
	PROC_FILE_USER,
	PROC_FILE_PID,
	PROC_FILE_STATUS,
	PROC_FILE_EXIT,
	PROC_FILE_STDOUT,
	PROC_FILE_STDERR,
	PROC_FILE_STDIN,
	PROC_FILE_STDIN_CLOSE,
	PROC_FILE_SIGNAL,
	PROC_FILE_COUNT
};

/* The single-value and rendered files of a sandbox directory, in the order
 * readdir lists them: indexes of the table in fs/nodes/sbx_file.c, which
 * holds their names and what they do. */
enum sbx_file {
	SBX_FILE_INFO,
	SBX_FILE_INFO_JSON,
	SBX_FILE_STATE,
	SBX_FILE_TIMEOUT,
	SBX_FILE_SANDBOX_ID,
	SBX_FILE_TEMPLATE_ID,
	SBX_FILE_STARTED_AT,
	SBX_FILE_END_AT,
	SBX_FILE_LOGS,
	SBX_FILE_METRICS,
	SBX_FILE_COUNT
};

/* A piece of the parsed path: not NUL-terminated, borrowed from it. */
struct path_span {
	const char *p;
	size_t len;
};

struct path_node {
	enum path_kind kind;
	struct path_span sbx;   /* PATH_SBX and below */
	struct path_span tpl;   /* PATH_TPL, and sandboxes reached through it */
	struct path_span key;   /* PATH_META_FILE */
	enum sbx_file file;     /* PATH_SBX_FILE */
	struct path_span proc;  /* PATH_PROC, PATH_PROC_FILE */
	enum proc_file pfile;   /* PATH_PROC_FILE */
	struct path_span rest;  /* PATH_SBX_FS: "" or "/a/b", each component
	                         * valid (not empty, ".", "..", over NAME_MAX) */
};

/* The control directory's name in the mount root. */
#define PATH_CTL_NAME ".sbxfs"
/* The sandbox subdirectory holding metadata. */
#define PATH_META_NAME "metadata"
/* The sandbox subdirectory holding its own filesystem. */
#define PATH_FS_NAME "fs"
/* The sandbox subdirectory holding its processes. */
#define PATH_PROCS_NAME "procs"

/* Parses an absolute path as FUSE passes it ("/", "/a/b", no trailing
 * slash).  0 and *out filled (spans point into path), or -ENOENT for a path
 * that cannot name a node (unknown name, bad component, too deep), or
 * -EINVAL for a path that is not absolute. */
int path_parse(const char *path, struct path_node *out);

/* The path of node n, the inverse of path_parse: the single place paths
 * of the tree are built.  Writes it to buf (size bytes) and returns its
 * length; -ENAMETOOLONG when it does not fit, -EINVAL for a node no path
 * names (an unknown kind, an empty or '/'-holding span).  A node reached
 * through a template (tpl set) is formatted under .sbxfs/templates. */
int path_format(const struct path_node *n, char *buf, size_t size);
/* The span of the whole C string s. */
struct path_span path_span_of(const char *s);

/* True for kinds that are directories. */
bool path_is_dir(enum path_kind kind);
/* True for nodes reached through a sandbox (need a cache lookup). */
bool path_in_sbx(enum path_kind kind);

/* The file name of a sandbox file ("info", "state", ...); static storage,
 * "" past the table. */
const char *path_sbx_file_name(enum sbx_file f);
/* The name of a process file ("cmd", "stdout", ...); "" past the table. */
const char *path_proc_file_name(enum proc_file f);
/* True if the sandbox file accepts writes (state, timeout). */
bool path_sbx_file_writable(enum sbx_file f);

/* A template name the tree accepts under .sbxfs/templates:
 * [A-Za-z0-9][A-Za-z0-9._:-]{0,127}.  The server decides if it exists. */
bool path_tpl_name_valid(const char *s, size_t len);

/* Copies a span into buf (size bytes) as a C string.  -ENAMETOOLONG when it
 * does not fit. */
int path_span_copy(struct path_span s, char *buf, size_t size);
/* True if the span equals the C string s. */
bool path_span_eq(struct path_span a, const char *s);

#endif
