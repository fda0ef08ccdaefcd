/* envd's EntryInfo (a file's name, type, size, mode, time) as the
 * filesystem RPCs send it in proto3 JSON: int64 sizes as strings (numbers
 * accepted), enums by name, times in RFC 3339, zero fields omitted.
 *
 * The server is untrusted: shapes are checked, a listing's entry whose
 * name could not be a single path component ("", ".", "..", a '/', longer
 * than NAME_MAX) is dropped, not trusted, and a reply is taken whole or
 * refused with -EPROTO.  Pure functions: no I/O, thread-safe. */
#ifndef SBXFS_MODEL_FENTRY_H
#define SBXFS_MODEL_FENTRY_H

#include <stddef.h>
#include <stdint.h>

enum fentry_type { FENTRY_UNKNOWN, FENTRY_FILE, FENTRY_DIR, FENTRY_SYMLINK };

struct fentry {
	char *name;              /* malloc'd, a valid component */
	enum fentry_type type;   /* a symlink shows as its target's type with
	                          * symlink_target set (lstat-based envd) */
	uint64_t size;
	unsigned mode;           /* permission bits only (07777) */
	int64_t mtime_ms;        /* 0 when absent */
	char *symlink_target;    /* malloc'd, or NULL */
};

/* Frees what e holds and zeroes it; NULL is a no-op. */
void fentry_clear(struct fentry *e);
/* Frees n entries and the array; NULL is a no-op. */
void fentry_list_free(struct fentry *v, size_t n);
/* Copies e into *out (deep).  0 or -ENOMEM. */
int fentry_copy(const struct fentry *e, struct fentry *out);

/* A Stat, MakeDir or Move reply, {"entry":{...}}: 0 and *out filled
 * (caller fentry_clear()s it), -EPROTO for any other shape, -ENOMEM. */
int fentry_parse_reply(const char *body, size_t len, struct fentry *out);
/* A ListDir reply, {"entries":[...]} ("{}" is an empty directory):
 * 0 with *out (caller fentry_list_free()s it, NULL when empty) and *n,
 * sorted by name with duplicates dropped; -EPROTO, -ENOMEM. */
int fentry_parse_list(const char *body, size_t len, struct fentry **out, size_t *n);

/* envd's GET /metrics reply ({"disk_used":N,"disk_total":N,...}, bytes):
 * 0 with *used and *total, -EPROTO when either is missing or not a
 * non-negative integer. */
int fentry_parse_disk(const char *body, size_t len, uint64_t *used, uint64_t *total);

/* True if name (len bytes) can be one path component of a remote path. */
int fentry_name_ok(const char *name, size_t len);

#endif
