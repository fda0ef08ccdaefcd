/* Private to store/files.c and store/files_own.c: the own-change overlay's
 * records and the path helper both use. */
#ifndef SBXFS_STORE_FILES_PRIV_H
#define SBXFS_STORE_FILES_PRIV_H

#include <stddef.h>

#include "files.h"

struct files_own {
	struct files_own *next;
	char *id, *path;
	unsigned mode;
	int refs;
	uint64_t size;
	int64_t mtime_ms;
};

/* Splits path into its parent (into parent) and its last name (borrowed). */
const char *files_split(const char *path, char *parent, size_t size);
/* The overlay's link for (id, path): *result NULL when absent.  Called
 * with f->lock held. */
struct files_own **files_own_find(struct files *f, const char *id, const char *path);
/* The overlay's entry for path into *out: 1, 0 when it has none. */
int files_own_lookup(struct files *f, const char *id, const char *path, struct fentry *out);
/* The files open for writing here directly in directory dir, as entries
 * (*v malloc'd, caller fentry_list_free()s it; NULL when none). */
int files_own_in(struct files *f, const char *id, const char *dir, struct fentry **v,
		 size_t *n);
/* Frees the page-cache records (files_fini). */
void files_seen_free_all(struct files *f);

#endif
