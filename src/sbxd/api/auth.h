/* The API key: held for constant-time checks, swappable on SIGHUP, plus the
 * key-file helpers the program uses to load or generate one. */
#ifndef SBXD_AUTH_H
#define SBXD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;

/* Copies `key`.  NULL on allocation failure. */
struct auth *auth_new(const char *key);
void auth_free(struct auth *a);

/* Replaces the key (copied).  0 or -ENOMEM / -EINVAL for an empty key. */
int auth_set(struct auth *a, const char *key);

/* True when `presented` (may be NULL) equals the key; constant time. */
bool auth_check(struct auth *a, const char *presented);

/* Where a generated key lives: STATE_DIR/api-key, else
 * $XDG_RUNTIME_DIR/sbxd/api-key, else /tmp/sbxd-$UID/api-key. */
int auth_default_key_path(const char *state_dir, char *out, size_t outlen);

/* Returns the key stored at `path` when it is a private (0600, ours)
 * regular file, else generates one, writes it there with mode 0600 (its
 * directory 0700 if created) and returns it.  0 and *key (caller frees), or
 * -errno with *err (caller frees) set. */
int auth_load_or_generate(const char *path, char **key, char **err);

#endif
