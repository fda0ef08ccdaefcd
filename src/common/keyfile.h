/* Reading a secret (an API key) from a file.  Shared by sbxfs and sbxd;
 * libc only.
 *
 * The key is the file's first line with surrounding blanks (spaces, tabs)
 * removed; the rest of the file is ignored, so a trailing newline or a
 * comment line after the key is harmless.  A first line longer than
 * KEYFILE_LINE_MAX - 1 bytes is cut there.  Every buffer that held the key
 * is zeroed before it is released. */
#ifndef COMMON_KEYFILE_H
#define COMMON_KEYFILE_H

#include <stdbool.h>

#define KEYFILE_LINE_MAX 4096

/* Reads the key at path.  Returns 0 and *key (caller frees, ideally after
 * explicit_bzero), or -errno from opening/reading, -EINVAL when the first
 * line holds no key, -ENOMEM.  *key is NULL on failure. */
int keyfile_read(const char *path, char **key);

/* True when path is a regular file (not a symlink), owned by the calling
 * user, that nobody else may read or write (mode & 077 == 0): a key kept
 * where others could have planted or read it is not trusted. */
bool keyfile_is_private(const char *path);

#endif
